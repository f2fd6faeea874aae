/* meta/store.c — key building, the stored inode codec, small transaction helpers,
 * permission rules and the id allocator of the meta service.
 *
 * Invariants: stored inode records are validated on every load (type known, lengths
 * bounded, layout sane for files) and a bad one is reported as -C3FS_EINTERNAL, never
 * used.  Ids come from META__ALLOC_SHARDS counter keys: one transaction bumps one
 * randomly chosen shard and yields META__ALLOC_BATCH ids, so concurrent services rarely
 * touch the same key (no hot key) and ids are unique across services.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/check.h"
#include "common/clock.h"
#include "common/errors.h"
#include "meta/meta_int.h"
#include "net/codec.h"

#define INODE_REC_VERSION 1

size_t meta__key_id1(uint8_t *k, uint8_t prefix, uint64_t a)
{
	k[0] = prefix;
	kv_put_be64(k + 1, a);
	return 9;
}

size_t meta__key_inode(uint8_t *k, uint64_t ino)
{
	return meta__key_id1(k, META__K_INODE, ino);
}

size_t meta__key_dent(uint8_t *k, uint64_t parent, const char *name, uint32_t len)
{
	k[0] = META__K_DENT;
	kv_put_be64(k + 1, parent);
	memcpy(k + 9, name, len);
	return 9 + len;
}

size_t meta__key_xattr(uint8_t *k, uint64_t ino, const char *name, uint32_t len)
{
	k[0] = META__K_XATTR;
	kv_put_be64(k + 1, ino);
	memcpy(k + 9, name, len);
	return 9 + len;
}

size_t meta__key_id2(uint8_t *k, uint8_t prefix, uint64_t a, uint64_t b)
{
	k[0] = prefix;
	kv_put_be64(k + 1, a);
	kv_put_be64(k + 9, b);
	return 17;
}

size_t meta__key_id3(uint8_t *k, uint8_t prefix, uint64_t a, uint64_t b, uint64_t c)
{
	k[0] = prefix;
	kv_put_be64(k + 1, a);
	kv_put_be64(k + 9, b);
	kv_put_be64(k + 17, c);
	return 25;
}

int meta__range(struct kv_txn *t, uint8_t prefix, uint64_t id, int limit, struct kv_pair **p,
		bool *more)
{
	uint8_t b[9], e[9];

	meta__key_id1(b, prefix, id);
	meta__key_id1(e, prefix, id + 1);
	return kv_range(t, b, 9, e, 9, limit, false, p, more);
}

int meta__range_from(struct kv_txn *t, uint8_t prefix, uint64_t from, int limit,
		     struct kv_pair **p, bool *more)
{
	uint8_t b[9], e[1] = { (uint8_t)(prefix + 1) };

	meta__key_id1(b, prefix, from);
	return kv_range(t, b, 9, e, 1, limit, false, p, more);
}

int meta__range_clear(struct kv_txn *t, uint8_t prefix, uint64_t id)
{
	uint8_t b[9], e[9];

	meta__key_id1(b, prefix, id);
	meta__key_id1(e, prefix, id + 1);
	return kv_clear_range(t, b, 9, e, 9);
}

int meta__range_any(struct kv_txn *t, uint8_t prefix, uint64_t id)
{
	struct kv_pair *p;
	bool more;
	int n = meta__range(t, prefix, id, 1, &p, &more);

	return n < 0 ? n : n > 0;
}

void meta__inode_encode(const struct meta__inode *in, struct c3_buf *out)
{
	const struct meta_attr *a = &in->a;

	c3_enc_u8(out, INODE_REC_VERSION);
	c3_enc_u32(out, a->mode);
	c3_enc_u32(out, a->uid);
	c3_enc_u32(out, a->gid);
	c3_enc_u32(out, a->nlink);
	c3_enc_u64(out, a->length);
	c3_enc_u64(out, a->atime_ns);
	c3_enc_u64(out, a->mtime_ns);
	c3_enc_u64(out, a->ctime_ns);
	c3_enc_u64(out, a->rdev);
	c3_enc_u64(out, a->parent);
	c3_enc_u64(out, a->truncate_ver);
	meta_layout_encode(&a->layout, out);
	c3_enc_bytes(out, in->target, in->target ? in->target_len : 0);
}

static bool mode_type_ok(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFIFO: case S_IFSOCK: case S_IFCHR:
	case S_IFBLK:
		return (mode & ~(uint32_t)(S_IFMT | 07777)) == 0;
	default:
		return false;
	}
}

int meta__inode_decode(const uint8_t *p, size_t n, uint64_t ino, struct meta__inode *in)
{
	struct c3_dec d;
	struct meta_attr *a = &in->a;
	size_t tl;

	memset(in, 0, sizeof(*in));
	c3_dec_init(&d, p, n);
	if (n < 1 || p[0] != INODE_REC_VERSION)
		return C3_CORRUPT("inode", "%llu: record version %d, want %d (%zu bytes)",
				  (unsigned long long)ino, n ? p[0] : -1, INODE_REC_VERSION, n);
	(void)c3_dec_u8(&d);
	a->ino = ino;
	a->mode = c3_dec_u32(&d);
	a->uid = c3_dec_u32(&d);
	a->gid = c3_dec_u32(&d);
	a->nlink = c3_dec_u32(&d);
	a->length = c3_dec_u64(&d);
	a->atime_ns = c3_dec_u64(&d);
	a->mtime_ns = c3_dec_u64(&d);
	a->ctime_ns = c3_dec_u64(&d);
	a->rdev = c3_dec_u64(&d);
	a->parent = c3_dec_u64(&d);
	a->truncate_ver = c3_dec_u64(&d);
	meta_layout_decode(&d, &a->layout);
	in->target = (const char *)c3_dec_bytes(&d, META_PATH_MAX - 1, &tl);
	in->target_len = (uint32_t)tl;
	if (d.err)
		return C3_CORRUPT("inode", "%llu: %zu bytes do not decode", (unsigned long long)ino,
				  n);
	if (!mode_type_ok(a->mode))
		return C3_CORRUPT("inode", "%llu: mode %o has no known file type",
				  (unsigned long long)ino, a->mode);
	if (S_ISREG(a->mode) && meta_layout_check(&a->layout, true) != 0)
		return C3_CORRUPT("inode", "%llu: file layout is not valid",
				  (unsigned long long)ino);
	if (S_ISLNK(a->mode) && tl == 0)
		return C3_CORRUPT("inode", "%llu: symlink with an empty target",
				  (unsigned long long)ino);
	return 0;
}

int meta__inode_get(struct kv_txn *t, uint64_t ino, struct meta__inode *in)
{
	uint8_t k[9];
	const uint8_t *v;
	size_t vl;
	int rc;

	rc = kv_get(t, k, meta__key_inode(k, ino), &v, &vl);
	if (rc < 0)
		return rc;
	return meta__inode_decode(v, vl, ino, in);
}

int meta__inode_put(struct kv_txn *t, const struct meta__inode *in)
{
	uint8_t k[9];
	uint8_t stack[512];
	struct c3_buf b = { stack, 0, sizeof(stack), 0 };
	int rc;

	/* encode into a stack buffer first; grow to the heap only for long symlinks */
	if (in->target_len + 256 > sizeof(stack))
		b = (struct c3_buf)C3_BUF_INIT;
	meta__inode_encode(in, &b);
	if (b.err) {
		rc = b.err;
		goto out;
	}
	rc = kv_set(t, k, meta__key_inode(k, in->a.ino), b.data, b.len);
out:
	if (b.data != stack)
		c3_buf_release(&b);
	return rc;
}

int meta__dent_get(struct kv_txn *t, uint64_t parent, const char *name, uint32_t len,
		   uint64_t *ino, uint32_t *type)
{
	uint8_t k[META__KEY_MAX];
	const uint8_t *v;
	size_t vl;
	int rc;

	size_t kl = meta__key_dent(k, parent, name, len);
	uint64_t p;
	const char *n;
	uint32_t nl;

	rc = kv_get(t, k, kl, &v, &vl);
	if (rc < 0)
		return rc;
	return meta__dent_decode(k, kl, v, vl, &p, &n, &nl, ino, type);
}

int meta__dent_decode(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
		      uint64_t *parent, const char **name, uint32_t *len, uint64_t *ino,
		      uint32_t *type)
{
	if (kl <= 9 || kl > 9 + META_NAME_MAX || k[0] != META__K_DENT || vl != 12)
		return C3_CORRUPT("dentry", "key length %zu, prefix 0x%02x, value length %zu "
				  "(want 12)", kl, kl ? k[0] : 0, vl);
	*parent = kv_get_be64(k + 1);
	*name = (const char *)k + 9;
	*len = (uint32_t)(kl - 9);
	*ino = kv_get_be64(v);
	*type = kv_get_be32(v + 8);
	return 0;
}

int meta__dent_put(struct kv_txn *t, uint64_t parent, const char *name, uint32_t len,
		   uint64_t ino, uint32_t type)
{
	uint8_t k[META__KEY_MAX];
	uint8_t v[12];

	kv_put_be64(v, ino);
	kv_put_be32(v + 8, type);
	return kv_set(t, k, meta__key_dent(k, parent, name, len), v, sizeof(v));
}

int meta__dent_clear(struct kv_txn *t, uint64_t parent, const char *name, uint32_t len)
{
	uint8_t k[META__KEY_MAX];

	return kv_clear(t, k, meta__key_dent(k, parent, name, len));
}

/* 'T' keys are spread over META__DTIME_SHARDS rows per directory (T|ino|shard): two
 * concurrent entry changes in one directory then rarely write the same row, which matters
 * to backends that serialize writers of one key (PostgreSQL).  Readers take the max. */
int meta__dir_touch(struct kv_txn *t, uint64_t ino, uint64_t now)
{
	uint64_t x = now ^ (now >> 21) ^ ((uint64_t)(uintptr_t)t >> 4);
	uint8_t k[10], v[16];

	k[0] = META__K_DTIME;
	kv_put_be64(k + 1, ino);
	k[9] = (uint8_t)(meta_splitmix64(&x) % META__DTIME_SHARDS);
	kv_put_be64(v, now);
	kv_put_be64(v + 8, now);
	return kv_set(t, k, 10, v, 16);
}

int meta__dir_times(struct kv_txn *t, struct meta__inode *in)
{
	struct kv_pair *p;
	bool more;
	int n;

	if (!S_ISDIR(in->a.mode))
		return 0;
	n = meta__range(t, META__K_DTIME, in->a.ino, 0, &p, &more);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (p[i].vlen != 16)
			return C3_CORRUPT("directory times", "of inode %llu: value length %zu, want 16",
					  (unsigned long long)in->a.ino, (size_t)p[i].vlen);
		if (kv_get_be64(p[i].val) > in->a.mtime_ns)
			in->a.mtime_ns = kv_get_be64(p[i].val);
		if (kv_get_be64(p[i].val + 8) > in->a.ctime_ns)
			in->a.ctime_ns = kv_get_be64(p[i].val + 8);
	}
	return 0;
}

int meta__dir_times_clear(struct kv_txn *t, uint64_t ino)
{
	return meta__range_clear(t, META__K_DTIME, ino);
}

int meta__dir_nonempty(struct kv_txn *t, uint64_t ino)
{
	return meta__range_any(t, META__K_DENT, ino);
}

bool meta__cred_in_group(const struct meta_cred *c, uint32_t gid)
{
	if (c->gid == gid)
		return true;
	for (uint32_t i = 0; i < c->ngroups && i < META_MAX_GROUPS; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

int meta__perm(const struct meta_cred *c, const struct meta_attr *a, uint32_t mask)
{
	uint32_t bits;

	mask &= 7;
	if (c->uid == 0) {
		if ((mask & META_ACC_X) && !S_ISDIR(a->mode) && !(a->mode & 0111))
			return -EACCES;
		return 0;
	}
	if (c->uid == a->uid)
		bits = (a->mode >> 6) & 7;
	else if (meta__cred_in_group(c, a->gid))
		bits = (a->mode >> 3) & 7;
	else
		bits = a->mode & 7;
	return (bits & mask) == mask ? 0 : -EACCES;
}

int meta__sticky_ok(const struct meta_cred *c, const struct meta_attr *dir,
		    const struct meta_attr *victim)
{
	if (!(dir->mode & S_ISVTX) || c->uid == 0 || c->uid == dir->uid || c->uid == victim->uid)
		return 0;
	return -EPERM;
}

/* Linux's rule for the setuid/setgid bits a write or truncate by a non-root caller
 * clears: S_ISUID always, S_ISGID only together with group-exec (without it the bit marks
 * mandatory locking, not privilege).  Returns mode with those bits cleared. */
uint32_t meta__killpriv_mode(uint32_t mode)
{
	mode &= ~(uint32_t)S_ISUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		mode &= ~(uint32_t)S_ISGID;
	return mode;
}

int meta__name_check(const char *name, uint32_t len)
{
	if (len == 0)
		return -ENOENT;
	if (len > META_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '/', len) || memchr(name, '\0', len))
		return -EINVAL;
	return 0;
}

bool meta__name_is_dot(const char *name, uint32_t len)
{
	return (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.');
}

uint64_t meta__now(struct meta_svc *svc)
{
	return svc->opts.clock_ns ? svc->opts.clock_ns(svc->opts.clock_arg) : c3_wall_ns();
}

uint64_t meta__rand(struct meta_svc *svc)
{
	uint64_t r;

	pthread_mutex_lock(&svc->id_lock);
	r = meta_splitmix64(&svc->rng);
	pthread_mutex_unlock(&svc->id_lock);
	return r;
}

struct alloc_arg {
	uint32_t shard;
	uint64_t batch;
};

static int alloc_txn(struct kv_txn *t, void *argp)
{
	struct alloc_arg *a = argp;
	uint8_t k[2] = { META__K_ALLOC, (uint8_t)a->shard };
	uint8_t v[8];
	const uint8_t *cur;
	size_t vl;
	int rc;

	rc = kv_get(t, k, 2, &cur, &vl);
	if (rc == -ENOENT) {
		a->batch = 1;
	} else if (rc < 0) {
		return rc;
	} else {
		if (vl != 8)
			return C3_CORRUPT("id allocator", "shard %u: value length %zu, want 8",
					  a->shard, vl);
		a->batch = kv_get_be64(cur);
	}
	/* batch * shards * 4096 must stay far below 2^63 */
	if (a->batch >= (1ull << 40))
		return -ENOSPC;
	kv_put_be64(v, a->batch + 1);
	return kv_set(t, k, 2, v, 8);
}

int meta__id_alloc(struct meta_svc *svc, uint64_t *id)
{
	struct alloc_arg a;
	int rc;

	pthread_mutex_lock(&svc->id_lock);
	if (svc->next_id < svc->end_id) {
		*id = svc->next_id++;
		pthread_mutex_unlock(&svc->id_lock);
		return 0;
	}
	a.shard = (uint32_t)(meta_splitmix64(&svc->rng) % META__ALLOC_SHARDS);
	pthread_mutex_unlock(&svc->id_lock);
	/* the transaction runs without the lock; two threads may both refill, which only
	 * wastes one batch */
	rc = kv_run(svc->db, false, alloc_txn, &a);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&svc->id_lock);
	if (svc->next_id >= svc->end_id) {
		svc->next_id = (a.batch * META__ALLOC_SHARDS + a.shard) * META__ALLOC_BATCH;
		svc->end_id = svc->next_id + META__ALLOC_BATCH;
	}
	*id = svc->next_id++;
	pthread_mutex_unlock(&svc->id_lock);
	return 0;
}

void meta_svc_opts_default(struct meta_svc_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->root_mode = 0755;
	o->default_layout.chunk_size = META_CHUNK_DEFAULT;
	o->default_layout.stripe = 1;
	o->default_layout.table_id = 1;
	o->idem_ttl_ms = 30 * 60 * 1000;
	o->session_timeout_ms = 5 * 60 * 1000;
	o->dir_grace_ms = 5 * 60 * 1000;
	o->rmtree_batch = 1000;
	o->link_max = META__LINK_MAX;
}

static int root_txn(struct kv_txn *t, void *argp)
{
	struct meta_svc *svc = argp;
	struct meta__inode root;
	uint64_t now = meta__now(svc);
	int rc;

	rc = meta__inode_get(t, META_ROOT_INO, &root);
	if (rc != -ENOENT)
		return rc;
	memset(&root, 0, sizeof(root));
	root.a.ino = META_ROOT_INO;
	root.a.mode = S_IFDIR | (svc->opts.root_mode & 07777);
	root.a.nlink = 2;
	root.a.atime_ns = root.a.mtime_ns = root.a.ctime_ns = now;
	root.a.parent = META_ROOT_INO;
	root.a.layout = svc->opts.default_layout;
	root.a.layout.base = 0;
	root.a.layout.seed = 0;
	root.a.layout.dyn_stripe = 0;
	return meta__inode_put(t, &root);
}

int meta_svc_new(struct kv_db *db, const struct meta_svc_opts *opts, struct meta_svc **out)
{
	struct meta_svc *svc;
	int rc;

	if (meta_layout_check(&opts->default_layout, false) != 0)
		return -C3FS_ECONFIG;
	svc = calloc(1, sizeof(*svc));
	if (!svc)
		return -ENOMEM;
	svc->db = db;
	svc->opts = *opts;
	if (!svc->opts.rmtree_batch)
		svc->opts.rmtree_batch = 1000;
	if (svc->opts.link_max < 3 || svc->opts.link_max > META__LINK_MAX)
		svc->opts.link_max = META__LINK_MAX;
	pthread_mutex_init(&svc->id_lock, NULL);
	pthread_mutex_init(&svc->gc_lock, NULL);
	if (getrandom(&svc->rng, sizeof(svc->rng), 0) != (ssize_t)sizeof(svc->rng))
		svc->rng = c3_now_ns() ^ ((uint64_t)opts->node_id << 32);
	rc = kv_run(db, false, root_txn, svc);
	if (rc < 0) {
		pthread_mutex_destroy(&svc->id_lock);
		pthread_mutex_destroy(&svc->gc_lock);
		free(svc);
		return rc;
	}
	*out = svc;
	return 0;
}

void meta_svc_free(struct meta_svc *svc)
{
	if (!svc)
		return;
	pthread_mutex_destroy(&svc->id_lock);
	pthread_mutex_destroy(&svc->gc_lock);
	free(svc);
}
