/* Concurrent namespace changes through two meta servers on one KV, then a full check that
 * the namespace is still a tree with correct link counts.
 *
 * Without environment: two meta services (two rpc_servers) in this process on one "mem:"
 * KV.  With C3FS_META_ADDRS=ip:port,ip:port and C3FS_META_KV=<kv uri> (e.g. "pg:...") it
 * drives running c3fs-meta daemons and checks their KV directly afterwards
 * (tests/integration/meta_pg_concurrent.sh).  C3FS_META_TOKEN, C3FS_META_OPS (per thread)
 * tune it.  C3FS_META_TOLERATE=1: the server gets killed during the run, transport errors
 * are expected and no check is made; C3FS_META_CHECK_ONLY=1 with C3FS_META_KV: only the
 * check, on a KV no server has open (tests/integration/meta_crash.sh).
 *
 * Checks: every dentry points at an existing inode of the same type inside an existing
 * directory; every directory but the root has exactly one entry, in the directory its
 * parent field names, and is reachable from the root (so no cycles); directory nlink =
 * 2 + subdirectories; file nlink = number of its entries; nlink-0 inodes only in the GC
 * queue (removed directories: no name, no entries); no server error other than the POSIX ones the races explain. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/errors.h"
#include "kv/kv.h"
#include "meta/meta.h"
#include "meta/meta_int.h"
#include "meta/server.h"
#include "net/rpc.h"
#include "tests/lib/tap.h"

#define MRPC_REDIRECT
#include "tests/unit/meta/meta_rpc.h"

#define NTHREADS 8
#define NNAMES 6
#define MAXDIRS 4096

static char addrs[2][64];
static int ops_per_thread = 1000;
static pthread_mutex_t dirs_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t dirs[MAXDIRS];
static int ndirs;
static int bad_errors, n_ok[8];

static uint64_t pick_dir(uint64_t *rng)
{
	uint64_t d;

	pthread_mutex_lock(&dirs_mu);
	d = dirs[meta_splitmix64(rng) % (uint64_t)ndirs];
	pthread_mutex_unlock(&dirs_mu);
	return d;
}

static void add_dir(uint64_t ino)
{
	pthread_mutex_lock(&dirs_mu);
	if (ndirs < MAXDIRS)
		dirs[ndirs++] = ino;
	pthread_mutex_unlock(&dirs_mu);
}

static bool tolerate_transport; /* C3FS_META_TOLERATE: the server is killed on purpose */
static int transport_errors;

static bool expected(int rc)
{
	switch (-rc) {
	case 0: case ENOENT: case EEXIST: case ENOTEMPTY: case EINVAL: case ENOTDIR:
	case EISDIR: case EPERM: case EMLINK:
		return true;
	case C3FS_ECONNECT: case C3FS_EPEERCLOSED: case C3FS_ETIMEDOUT: case C3FS_ESHUTDOWN:
	case C3FS_EKVMAYBECOMMITTED:
		if (tolerate_transport)
			__atomic_add_fetch(&transport_errors, 1, __ATOMIC_RELAXED);
		return tolerate_transport;
	default:
		return false;
	}
}

static void *worker(void *argp)
{
	long id = (long)argp;
	uint64_t rng = 0x1234567ull * (uint64_t)(id + 1);
	struct meta_hdr h;
	char n1[16], n2[16];

	memset(&h, 0, sizeof(h)); /* root */
	h.client_id = 100 + (uint64_t)id;
	snprintf(mrpc_addr, sizeof(mrpc_addr), "%s", addrs[id % 2]);
	for (int i = 0; i < ops_per_thread; i++) {
		uint64_t d1 = pick_dir(&rng), d2 = pick_dir(&rng);
		int op = (int)(meta_splitmix64(&rng) % 6), rc = 0;

		snprintf(n1, sizeof(n1), "n%d", (int)(meta_splitmix64(&rng) % NNAMES));
		snprintf(n2, sizeof(n2), "n%d", (int)(meta_splitmix64(&rng) % NNAMES));
		h.seq = (uint64_t)i + 1;
		switch (op) {
		case 0: {
			struct meta_create_req r = { h, d1, n1, (uint32_t)strlen(n1), 0644, 0,
						     META_O_EXCL | META_O_NOSESSION };
			struct meta_open_resp o;

			rc = meta_op_create(NULL, &r, &o);
			break;
		}
		case 1: {
			struct meta_mkdir_req r = { h, d1, n1, (uint32_t)strlen(n1), 0755, 0 };
			struct meta_attr_resp a;

			rc = meta_op_mkdir(NULL, &r, &a);
			if (rc == 0)
				add_dir(a.attr.ino);
			break;
		}
		case 2: case 3: {
			struct meta_rename_req r = { h, d1, n1, (uint32_t)strlen(n1), d2, n2,
						     (uint32_t)strlen(n2),
						     op == 3 && (i & 1) ? META_RENAME_EXCHANGE : 0 };

			rc = meta_op_rename(NULL, &r);
			break;
		}
		case 4: {
			struct meta_unlink_req r = { h, d1, n1, (uint32_t)strlen(n1) };

			rc = (i & 1) ? meta_op_unlink(NULL, &r, NULL) : meta_op_rmdir(NULL, &r, NULL);
			break;
		}
		case 5: {
			struct meta_lookup_req l = { h, d1, n1, (uint32_t)strlen(n1) };
			struct meta_attr_resp a;

			rc = meta_op_lookup(NULL, &l, &a);
			if (rc == 0 && !S_ISDIR(a.attr.mode)) {
				struct meta_link_req r = { h, a.attr.ino, d2, n2, (uint32_t)strlen(n2) };

				rc = meta_op_link(NULL, &r, &a);
			}
			break;
		}
		}
		if (!expected(rc)) {
			__atomic_add_fetch(&bad_errors, 1, __ATOMIC_RELAXED);
			diag("thread %ld op %d: unexpected %s", id, op, c3_errname(rc));
		} else if (rc == 0) {
			__atomic_add_fetch(&n_ok[op], 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------- the checker */
struct inode_rec {
	uint64_t ino;
	uint32_t mode, nlink;
	uint64_t parent;
	uint32_t refs, subdirs;
	bool reached, queued;
};
struct dent_rec {
	uint64_t parent, ino;
	uint32_t type;
};
struct check {
	struct inode_rec *in;
	size_t nin;
	struct dent_rec *de;
	size_t nde;
	int errors;
};

static int cmp_ino(const void *a, const void *b)
{
	uint64_t x = ((const struct inode_rec *)a)->ino, y = ((const struct inode_rec *)b)->ino;

	return x < y ? -1 : x > y;
}

static struct inode_rec *find(struct check *c, uint64_t ino)
{
	struct inode_rec key = { .ino = ino };

	return bsearch(&key, c->in, c->nin, sizeof(key), cmp_ino);
}

static bool dir_has_entries(const struct check *c, uint64_t ino)
{
	for (size_t i = 0; i < c->nde; i++)
		if (c->de[i].parent == ino)
			return true;
	return false;
}

#define BAD(c, ...) do { if ((c)->errors++ < 20) diag(__VA_ARGS__); } while (0)

static int check_txn(struct kv_txn *t, void *ap)
{
	struct check *c = ap;
	uint8_t b[1], e[1];
	struct kv_pair *p;
	bool more;
	int n;

	free(c->in);
	free(c->de);
	memset(c, 0, sizeof(*c));
	b[0] = META__K_INODE;
	e[0] = META__K_INODE + 1;
	n = kv_range(t, b, 1, e, 1, 0, false, &p, &more);
	if (n < 0)
		return n;
	c->in = calloc((size_t)n + 1, sizeof(*c->in));
	for (int i = 0; i < n; i++) {
		struct meta__inode in;
		uint64_t ino = kv_get_be64(p[i].key + 1);

		if (meta__inode_decode(p[i].val, p[i].vlen, ino, &in) != 0) {
			BAD(c, "inode %llx does not decode", (unsigned long long)ino);
			continue;
		}
		c->in[c->nin].ino = ino;
		c->in[c->nin].mode = in.a.mode;
		c->in[c->nin].nlink = in.a.nlink;
		c->in[c->nin].parent = in.a.parent;
		c->nin++;
	}
	b[0] = META__K_DENT;
	e[0] = META__K_DENT + 1;
	n = kv_range(t, b, 1, e, 1, 0, false, &p, &more);
	if (n < 0)
		return n;
	c->de = calloc((size_t)n + 1, sizeof(*c->de));
	for (int i = 0; i < n; i++) {
		c->de[i].parent = kv_get_be64(p[i].key + 1);
		c->de[i].ino = kv_get_be64(p[i].val);
		c->de[i].type = kv_get_be32(p[i].val + 8);
	}
	c->nde = (size_t)n;
	b[0] = META__K_GC;
	e[0] = META__K_GC + 1;
	n = kv_range(t, b, 1, e, 1, 0, false, &p, &more);
	if (n < 0)
		return n;
	qsort(c->in, c->nin, sizeof(*c->in), cmp_ino);
	for (int i = 0; i < n; i++) {
		struct inode_rec *r = find(c, kv_get_be64(p[i].key + 1));

		if (r)
			r->queued = true;
	}
	return 0;
}

static int check_tree(struct kv_db *db, int *ndirs_out, int *nfiles_out)
{
	struct check c;
	struct inode_rec *root;
	uint64_t *queue;
	size_t qh = 0, qt = 0;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = kv_run(db, true, check_txn, &c);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < c.nde; i++) {
		struct dent_rec *d = &c.de[i];
		struct inode_rec *p = find(&c, d->parent), *x = find(&c, d->ino);

		if (!p || !S_ISDIR(p->mode))
			BAD(&c, "dentry in %llx: parent missing or not a dir",
			    (unsigned long long)d->parent);
		if (!x) {
			BAD(&c, "dentry -> %llx: no inode", (unsigned long long)d->ino);
			continue;
		}
		if ((x->mode & S_IFMT) != d->type)
			BAD(&c, "dentry type differs from inode %llx", (unsigned long long)d->ino);
		x->refs++;
		if (S_ISDIR(x->mode)) {
			if (x->parent != d->parent)
				BAD(&c, "dir %llx found in %llx but parent says %llx",
				    (unsigned long long)d->ino, (unsigned long long)d->parent,
				    (unsigned long long)x->parent);
			if (p)
				p->subdirs++;
		}
	}
	/* reachability from the root */
	queue = calloc(c.nin + 1, sizeof(*queue));
	root = find(&c, META_ROOT_INO);
	if (!root) {
		BAD(&c, "no root");
	} else {
		root->reached = true;
		queue[qt++] = META_ROOT_INO;
	}
	while (qh < qt) {
		uint64_t dir = queue[qh++];

		/* dentries are sorted by parent (key order) */
		for (size_t i = 0; i < c.nde; i++) {
			struct inode_rec *x;

			if (c.de[i].parent != dir)
				continue;
			x = find(&c, c.de[i].ino);
			if (!x)
				continue;
			if (S_ISDIR(x->mode)) {
				if (x->reached)
					BAD(&c, "dir %llx reached twice", (unsigned long long)x->ino);
				else if (qt < c.nin)
					queue[qt++] = x->ino;
			}
			x->reached = true;
		}
	}
	*ndirs_out = 0;
	*nfiles_out = 0;
	for (size_t i = 0; i < c.nin; i++) {
		struct inode_rec *x = &c.in[i];

		if (S_ISDIR(x->mode) && x->nlink == 0) {
			/* removed, kept for open handles until GC: no name, no entries */
			if (!x->queued || x->refs != 0 || x->subdirs != 0 || dir_has_entries(&c, x->ino))
				BAD(&c, "removed dir %llx: queued %d, %u names, %u subdirs",
				    (unsigned long long)x->ino, x->queued, x->refs, x->subdirs);
		} else if (S_ISDIR(x->mode)) {
			(*ndirs_out)++;
			if (x->ino != META_ROOT_INO && x->refs != 1)
				BAD(&c, "dir %llx has %u entries", (unsigned long long)x->ino, x->refs);
			if (x->nlink != 2 + x->subdirs)
				BAD(&c, "dir %llx nlink %u, expected %u", (unsigned long long)x->ino,
				    x->nlink, 2 + x->subdirs);
		} else {
			(*nfiles_out)++;
			if (x->nlink != x->refs)
				BAD(&c, "inode %llx nlink %u but %u entries", (unsigned long long)x->ino,
				    x->nlink, x->refs);
			if (x->nlink == 0 && !x->queued)
				BAD(&c, "inode %llx nlink 0 and not queued for GC",
				    (unsigned long long)x->ino);
		}
		if (!x->reached && !(x->nlink == 0 && x->queued))
			BAD(&c, "inode %llx unreachable", (unsigned long long)x->ino);
	}
	free(queue);
	free(c.in);
	free(c.de);
	return c.errors;
}

int main(void)
{
	const char *env_addrs = getenv("C3FS_META_ADDRS"), *env_kv = getenv("C3FS_META_KV");
	const char *token = getenv("C3FS_META_TOKEN"), *env_ops = getenv("C3FS_META_OPS");
	struct rpc_client_opts co;
	struct kv_db *db = NULL;
	struct meta_svc *svc[2] = { NULL, NULL };
	struct rpc_server *srv[2] = { NULL, NULL };
	pthread_t th[NTHREADS];
	uint64_t top[4];
	int nd = 0, nf = 0;

	memset(&co, 0, sizeof(co));
	if (env_ops)
		ops_per_thread = atoi(env_ops);
	if (env_kv && getenv("C3FS_META_CHECK_ONLY")) {
		/* only the checker, on a KV no server has open */
		if (kv_db_open(env_kv, &db) != 0)
			tap_skip_all("cannot open the KV");
		is_int(check_tree(db, &nd, &nf), 0, "namespace is a tree with correct link counts");
		diag("%d directories, %d other inodes", nd, nf);
		kv_db_close(db);
		return tap_done();
	}
	tolerate_transport = getenv("C3FS_META_TOLERATE") != NULL;
	if (env_addrs && env_kv) {
		const char *comma = strchr(env_addrs, ',');

		if (!comma)
			tap_skip_all("C3FS_META_ADDRS needs two addresses");
		snprintf(addrs[0], sizeof(addrs[0]), "%.*s", (int)(comma - env_addrs), env_addrs);
		snprintf(addrs[1], sizeof(addrs[1]), "%s", comma + 1);
		co.token = token;
	} else {
		struct meta_svc_opts o;

		if (kv_db_open("mem:", &db) != 0)
			tap_skip_all("mem: KV not available");
		meta_svc_opts_default(&o);
		for (int i = 0; i < 2; i++) {
			struct rpc_server_opts so;

			is_int(meta_svc_new(db, &o, &svc[i]), 0, "meta service");
			memset(&so, 0, sizeof(so));
			so.listen = "127.0.0.1:0";
			so.workers = 4;
			is_int(rpc_server_new(&so, &srv[i]), 0, "rpc server");
			meta_server_register(srv[i], svc[i], NULL);
			is_int(rpc_server_start(srv[i]), 0, "start");
			snprintf(addrs[i], sizeof(addrs[i]), "127.0.0.1:%d", rpc_server_port(srv[i]));
		}
	}
	if (rpc_client_new(&co, &mrpc_cli) != 0)
		tap_skip_all("rpc client");
	/* a few top directories to start from */
	snprintf(mrpc_addr, sizeof(mrpc_addr), "%s", addrs[0]);
	for (int i = 0; i < 4; i++) {
		char name[16];
		struct meta_mkdir_req r;
		struct meta_attr_resp a;

		memset(&r, 0, sizeof(r));
		snprintf(name, sizeof(name), "top%d", i);
		r.parent = META_ROOT_INO;
		r.name = name;
		r.name_len = (uint32_t)strlen(name);
		r.mode = 0755;
		is_int(meta_op_mkdir(NULL, &r, &a), 0, "mkdir top dir");
		top[i] = a.attr.ino;
		add_dir(top[i]);
	}
	add_dir(META_ROOT_INO);
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	diag("ok ops: create %d mkdir %d rename %d rename/exchange %d remove %d link %d",
	     n_ok[0], n_ok[1], n_ok[2], n_ok[3], n_ok[4], n_ok[5]);
	is_int(bad_errors, 0, "no unexpected errors under concurrency");
	ok(tolerate_transport ||
	   (n_ok[0] > 0 && n_ok[1] > 0 && n_ok[2] + n_ok[3] > 0 && n_ok[4] > 0),
	   "every kind of op succeeded sometimes");
	if (tolerate_transport) {
		diag("%d transport errors (server killed on purpose)", transport_errors);
		rpc_client_free(mrpc_cli);
		return tap_done(); /* the caller checks the KV after the crash (CHECK_ONLY) */
	}
	/* open the daemons' KV only now: with lmdb the checker must not share the file with
	 * a running server's transactions any longer than needed */
	if (!db && kv_db_open(env_kv, &db) != 0) {
		ok(0, "open the daemons' KV for the check");
		rpc_client_free(mrpc_cli);
		return tap_done();
	}
	is_int(check_tree(db, &nd, &nf), 0, "namespace is a tree with correct link counts");
	diag("%d directories, %d other inodes", nd, nf);
	rpc_client_free(mrpc_cli);
	for (int i = 0; i < 2; i++) {
		if (srv[i])
			rpc_server_free(srv[i]);
		meta_svc_free(svc[i]);
	}
	kv_db_close(db);
	return tap_done();
}
