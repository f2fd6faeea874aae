/* The storage side of the meta service (src/meta/cluster.c) against a fake storage server
 * in this process: a real rpc_server answering STORAGE_T_REMOVE, STORAGE_T_TRUNCATE and
 * STORAGE_T_QUERY_LAST from an in-memory chunk table, and a static routing snapshot
 * (4 chains, one target each).  Checks that truncation removes exactly the chunks past the
 * new end and cuts the last one, that a close with another writer open takes the length
 * from storage, that GC removes every chunk of an unlinked file on its own chains and
 * only then the inode, and that a chain without a serving head keeps the file queued.
 * Truncation waits (wait_ms) for heads that come back (down, shutting down, or named by
 * stale routing), answers EBUSY when they do not, and the client's retry of the same size
 * still cuts (BUG-C7 / BUG-C6). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/client.h"
#include "cluster/routing.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/errors.h"
#include "kv/kv.h"
#include "meta/cluster.h"
#include "meta/meta.h"
#include "net/rpc.h"
#include "proto/storage.h"
#include "tests/lib/tap.h"

#define NCH 4
#define MAXCHUNKS 256

struct chunk {
	bool used;
	uint32_t chain;
	uint64_t ino;
	uint32_t index, len;
};
static struct chunk chunks[MAXCHUNKS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int wrong_route; /* requests whose chain does not hold the chunk they name */
static int trunc_fail_code, trunc_fail_n; /* the next n truncates answer this code */
static struct routing_info *ri;
static uint8_t target_state = TARGET_SERVING;

static void put_chunk(uint32_t chain, uint64_t ino, uint32_t index, uint32_t len)
{
	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAXCHUNKS; i++) {
		if (!chunks[i].used) {
			chunks[i] = (struct chunk){ true, chain, ino, index, len };
			break;
		}
	}
	pthread_mutex_unlock(&mu);
}

static int count_chunks(uint64_t ino, uint32_t *maxlen_idx)
{
	int n = 0;

	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAXCHUNKS; i++)
		if (chunks[i].used && chunks[i].ino == ino) {
			n++;
			if (maxlen_idx && chunks[i].index > *maxlen_idx)
				*maxlen_idx = chunks[i].index;
		}
	pthread_mutex_unlock(&mu);
	return n;
}

static struct chunk *find_chunk(uint64_t ino, uint32_t index)
{
	for (int i = 0; i < MAXCHUNKS; i++)
		if (chunks[i].used && chunks[i].ino == ino && chunks[i].index == index)
			return &chunks[i];
	return NULL;
}

static void h_remove(struct rpc_req *req, void *ctx)
{
	struct storage_remove_req r;
	struct storage_remove_rsp s;
	struct c3_buf out = C3_BUF_INIT;
	int rc = storage_remove_req_decode(req->payload, req->payload_len, &r);

	memset(&s, 0, sizeof(s));
	if (rc == 0) {
		pthread_mutex_lock(&mu);
		for (int i = 0; i < MAXCHUNKS; i++) {
			struct chunk *c = &chunks[i];

			if (c->used && c->ino == r.inode && c->chain == r.route.chain_id &&
			    c->index >= r.begin && c->index < r.end) {
				c->used = false;
				s.removed++;
			}
		}
		pthread_mutex_unlock(&mu);
		storage_remove_rsp_encode(&s, &out);
	}
	rpc_reply_buf(req, rc, rc == 0 ? &out : NULL);
	c3_buf_release(&out);
}

static void h_truncate(struct rpc_req *req, void *ctx)
{
	struct storage_truncate_req r;
	struct storage_batch_rsp s;
	struct storage_io_result res;
	struct c3_buf out = C3_BUF_INIT;
	int rc = storage_truncate_req_decode(req->payload, req->payload_len, &r);

	memset(&res, 0, sizeof(res));
	s.nresults = 1;
	s.results = &res;
	if (rc == 0 && r.nios == 1) {
		struct chunk *c;

		pthread_mutex_lock(&mu);
		c = find_chunk(r.ios[0].chunk.inode, r.ios[0].chunk.index);
		if (c && c->chain != r.ios[0].route.chain_id)
			wrong_route++;
		if (trunc_fail_n > 0) {
			trunc_fail_n--;
			res.status = trunc_fail_code;
		} else {
			if (c)
				c->len = r.ios[0].length;
			res.status = c ? 0 : -ENOENT;
		}
		pthread_mutex_unlock(&mu);
		storage_batch_rsp_encode(&s, &out);
	}
	if (rc == 0)
		storage_truncate_req_release(&r);
	rpc_reply_buf(req, rc, rc == 0 ? &out : NULL);
	c3_buf_release(&out);
}

static void h_query(struct rpc_req *req, void *ctx)
{
	struct storage_query_last_req r;
	struct storage_query_last_rsp s;
	struct c3_buf out = C3_BUF_INIT;
	int rc = storage_query_last_req_decode(req->payload, req->payload_len, &r);

	memset(&s, 0, sizeof(s));
	if (rc == 0) {
		pthread_mutex_lock(&mu);
		for (int i = 0; i < MAXCHUNKS; i++) {
			struct chunk *c = &chunks[i];

			if (c->used && c->ino == r.inode && c->chain == r.route.chain_id &&
			    (!s.found || c->index > s.last_index)) {
				s.found = true;
				s.last_index = c->index;
				s.last_len = c->len;
			}
		}
		pthread_mutex_unlock(&mu);
		storage_query_last_rsp_encode(&s, &out);
	}
	rpc_reply_buf(req, rc, rc == 0 ? &out : NULL);
	c3_buf_release(&out);
}

static int run_fake(void);

static uint64_t fake_now;
static uint64_t clk(void *arg) { (void)arg; return fake_now; }

static struct routing_info *get_routing(void *arg)
{
	(void)arg;
	for (uint32_t i = 0; i < ri->ntargets; i++)
		ri->targets[i].state = __atomic_load_n(&target_state, __ATOMIC_RELAXED);
	routing_ref(ri);
	return ri;
}

static void build_routing(int port)
{
	ri = routing_new();
	ri->version = 1;
	ri->nnodes = 1;
	ri->nodes = calloc(1, sizeof(*ri->nodes));
	ri->nodes[0].node_id = 1;
	ri->nodes[0].type = NODE_STORAGE;
	ri->nodes[0].state = NODE_UP;
	snprintf(ri->nodes[0].addr, sizeof(ri->nodes[0].addr), "127.0.0.1:%d", port);
	ri->ntargets = NCH;
	ri->targets = calloc(NCH, sizeof(*ri->targets));
	ri->nchains = NCH;
	ri->chains = calloc(NCH, sizeof(*ri->chains));
	ri->ntables = 1;
	ri->tables = calloc(1, sizeof(*ri->tables));
	ri->tables[0].table_id = 1;
	ri->tables[0].version = 3;
	ri->tables[0].nchains = NCH;
	ri->tables[0].chains = calloc(NCH, sizeof(uint32_t));
	for (uint32_t i = 0; i < NCH; i++) {
		ri->targets[i].target_id = 101 + i;
		ri->targets[i].node_id = 1;
		ri->targets[i].chain_id = 11 + i;
		ri->targets[i].state = TARGET_SERVING;
		ri->targets[i].capacity_bytes = 1000;
		ri->targets[i].free_bytes = 600;
		ri->chains[i].chain_id = 11 + i;
		ri->chains[i].version = 1;
		ri->chains[i].ntargets = 1;
		ri->chains[i].targets[0] = 101 + i;
		ri->tables[0].chains[i] = 11 + i;
	}
}

/* Put chunks 0..n-1 of a file where its layout says (full chunks, the last `last` bytes). */
static void write_file(const struct meta_attr *a, uint32_t n, uint32_t last)
{
	for (uint32_t i = 0; i < n; i++) {
		int64_t chain = meta_layout_chunk_chain(&a->layout, ri->tables[0].chains, NCH, i);

		put_chunk((uint32_t)chain, a->ino, i, i + 1 == n ? last : a->layout.chunk_size);
	}
}

/* ------------------------------------------------------------------ real cluster mode
 * With C3FS_MGMTD, C3FS_TOKEN and C3FS_META_ADDR set (tests/integration/meta_cluster.sh):
 * the same story against real c3fs-mgmtd, c3fs-storage and c3fs-meta daemons. */
#include "tests/unit/meta/meta_rpc.h"

struct route_addr {
	struct storage_route route;
	char addr[ROUTING_ADDR_MAX];
};

static int route_of(struct routing_info *r, const struct meta_layout *l, uint32_t k,
		    struct route_addr *out)
{
	const struct routing_chain_table *t = routing_table_find(r, l->table_id);
	uint32_t perm[META_STRIPE_MAX];
	const struct routing_chain *c;
	const struct routing_target *tg;
	const struct routing_node *n;

	if (!t || l->stripe > t->nchains)
		return -C3FS_ENOCHAIN;
	meta_layout_perm(l, perm);
	c = routing_chain_find(r, t->chains[meta_layout_pos_from_perm(l, perm, t->nchains, k)]);
	if (!c)
		return -C3FS_ENOCHAIN;
	out->route.chain_id = c->chain_id;
	out->route.chain_ver = c->version;
	out->route.target_id = routing_chain_head(r, c);
	tg = routing_target_find(r, out->route.target_id);
	n = tg ? routing_node_find(r, tg->node_id) : NULL;
	if (!n)
		return -C3FS_ETARGETDOWN;
	snprintf(out->addr, sizeof(out->addr), "%s", n->addr);
	return 0;
}

static int write_chunk(struct routing_info *r, const struct meta_attr *a, uint32_t idx,
		       const uint8_t *data, uint32_t len)
{
	struct route_addr ra;
	struct storage_write_io io;
	struct storage_write_req rq = { 1, &io };
	struct storage_batch_rsp rs;
	struct c3_buf b = C3_BUF_INIT;
	struct iovec iov = { (void *)data, len };
	struct rpc_call call;
	int rc = route_of(r, &a->layout, idx, &ra);

	if (rc < 0)
		return rc;
	memset(&io, 0, sizeof(io));
	io.route = ra.route;
	io.chunk.inode = a->ino;
	io.chunk.index = idx;
	io.length = len;
	io.chunk_size = a->layout.chunk_size;
	io.crc = c3_crc32c(0, data, len);
	storage_write_req_encode(&rq, &b);
	rpc_call_init(&call, STORAGE_T_WRITE, b.data, b.len);
	call.bulk = &iov;
	call.nbulk = 1;
	call.timeout_ms = 30000;
	rc = rpc_call_start(mrpc_cli, ra.addr, &call);
	if (rc == 0)
		rc = rpc_call_wait(&call);
	if (rc == 0)
		rc = storage_batch_rsp_decode(call.resp.data, call.resp.len, &rs);
	if (rc == 0) {
		rc = rs.nresults == 1 ? rs.results[0].status : -C3FS_EBADMSG;
		storage_batch_rsp_release(&rs);
	}
	c3_buf_release(&call.resp);
	c3_buf_release(&b);
	return rc;
}

/* Highest end offset stored for the file over its first nch chains (-1 = no chunk). */
static int64_t stored_end(struct routing_info *r, const struct meta_attr *a, uint32_t nch)
{
	int64_t best = -1;

	for (uint32_t k = 0; k < nch; k++) {
		struct route_addr ra;
		struct storage_query_last_req rq;
		struct storage_query_last_rsp rs;
		struct c3_buf b = C3_BUF_INIT, resp = C3_BUF_INIT;
		int rc = route_of(r, &a->layout, k, &ra);

		if (rc < 0)
			return rc;
		memset(&rq, 0, sizeof(rq));
		rq.route = ra.route;
		rq.inode = a->ino;
		storage_query_last_req_encode(&rq, &b);
		rc = rpc_call_sync(mrpc_cli, ra.addr, STORAGE_T_QUERY_LAST, b.data, b.len, &resp,
				   10000);
		if (rc == 0)
			rc = storage_query_last_rsp_decode(resp.data, resp.len, &rs);
		if (rc == 0)
			rc = rs.status;
		c3_buf_release(&b);
		c3_buf_release(&resp);
		if (rc < 0)
			return rc;
		if (rs.found && (int64_t)rs.last_index * a->layout.chunk_size + rs.last_len > best)
			best = (int64_t)rs.last_index * a->layout.chunk_size + rs.last_len;
	}
	return best;
}

static bool transient(int64_t rc)
{
	return rc < 0 && c3_err_retry((int)rc, C3_RETRY_WRITE) != C3_RETRY_NO;
}

/* Storage nodes learn new chains a little after mgmtd creates them: retry like a client. */
static int write_chunk_retry(struct cluster_client *cc, const struct meta_attr *a, uint32_t idx,
			     const uint8_t *data, uint32_t len)
{
	int rc = -C3FS_ENOROUTING;

	for (int i = 0; i < 100; i++) {
		struct routing_info *r = cluster_client_routing(cc);

		rc = r ? write_chunk(r, a, idx, data, len) : -C3FS_ENOROUTING;
		routing_unref(r);
		if (!transient(rc))
			break;
		cluster_client_refresh(cc, 1000);
		c3_sleep_ms(100);
	}
	return rc;
}

static int64_t stored_end_retry(struct cluster_client *cc, const struct meta_attr *a,
				uint32_t nch)
{
	int64_t rc = -C3FS_ENOROUTING;

	for (int i = 0; i < 100; i++) {
		struct routing_info *r = cluster_client_routing(cc);

		rc = r ? stored_end(r, a, nch) : -C3FS_ENOROUTING;
		routing_unref(r);
		if (!transient(rc))
			break;
		cluster_client_refresh(cc, 1000);
		c3_sleep_ms(100);
	}
	return rc;
}

static int run_cluster(const char *mgmtd, const char *token, const char *meta)
{
	struct cluster_client_opts cco;
	struct cluster_client *cc = NULL;
	struct rpc_client_opts co;
	struct meta_hdr h;
	struct meta_open_resp f;
	struct meta_attr_resp ar;
	uint8_t *data;
	uint32_t cs, nch;
	int64_t end = 0;

	memset(&cco, 0, sizeof(cco));
	cco.mgmtd_addrs = mgmtd;
	cco.token = token;
	cco.node_type = NODE_CLIENT;
	cco.node_addr = "";
	if (cluster_client_new(&cco, &cc) != 0 || cluster_client_wait_ready(cc, 20000) != 0)
		tap_skip_all("mgmtd not reachable");
	memset(&co, 0, sizeof(co));
	co.token = token;
	is_int(rpc_client_new(&co, &mrpc_cli), 0, "rpc client");
	snprintf(mrpc_addr, sizeof(mrpc_addr), "%s", meta);
	memset(&h, 0, sizeof(h));
	h.client_id = cluster_client_node_id(cc);
	{
		struct meta_create_req rq = { h, META_ROOT_INO, "hooked", 6, 0644, 0, META_O_WRITE };

		is_int(mrpc_create(NULL, &rq, &f), 0, "create through c3fs-meta");
	}
	cs = f.attr.layout.chunk_size;
	nch = f.attr.layout.stripe;
	diag("layout: chunk %u stripe %u table %u v%u", cs, nch, f.attr.layout.table_id,
	     f.attr.layout.table_version);
	{
		struct meta_setattr_req rq;

		memset(&rq, 0, sizeof(rq));
		rq.hdr = h;
		rq.ino = f.attr.ino;
		rq.mask = META_SET_DYN_STRIPE;
		rq.dyn_stripe = nch;
		is_int(mrpc_setattr(NULL, &rq, &ar), 0, "dyn_stripe to the full stripe");
	}
	data = malloc(cs);
	memset(data, 0x5a, cs);
	for (uint32_t i = 0; i < 4; i++)
		is_int(write_chunk_retry(cc, &f.attr, i, data, i == 3 ? 1000 : cs), 0, "chunk written");
	end = stored_end_retry(cc, &f.attr, nch);
	is_int(end, 3 * (int64_t)cs + 1000, "storage holds 3 chunks + 1000 bytes");
	{
		struct meta_close_req c = { h, f.attr.ino, f.session_id,
					    META_CLOSE_LENGTH | META_CLOSE_WROTE, (uint64_t)end, 0 };

		is_int(mrpc_close(NULL, &c, true, &ar), 0, "close with length");
	}
	{
		struct meta_setattr_req rq;

		memset(&rq, 0, sizeof(rq));
		rq.hdr = h;
		rq.ino = f.attr.ino;
		rq.mask = META_SET_SIZE;
		rq.size = cs + cs / 2;
		is_int(mrpc_setattr(NULL, &rq, &ar), 0, "truncate to 1.5 chunks");
		is_int(stored_end_retry(cc, &f.attr, nch), cs + cs / 2,
		       "storage cut at the new end (chunks past it removed)");
	}
	{
		struct meta_unlink_req rq = { h, META_ROOT_INO, "hooked", 6 };
		struct meta_getattr_req g = { h, f.attr.ino };

		is_int(mrpc_unlink(NULL, &rq, NULL), 0, "unlink");
		for (int i = 0; i < 300 && (end = stored_end_retry(cc, &f.attr, nch)) >= 0; i++)
			c3_sleep_ms(100);
		is_int(end, -1, "GC removed every chunk from storage");
		for (int i = 0; i < 50 && mrpc_getattr(NULL, &g, &ar) == 0; i++)
			c3_sleep_ms(100);
		is_int(mrpc_getattr(NULL, &g, &ar), -ENOENT, "and then the inode");
	}
	free(data);
	rpc_client_free(mrpc_cli);
	cluster_client_free(cc);
	return tap_done();
}

int main(void)
{
	if (getenv("C3FS_MGMTD") && getenv("C3FS_META_ADDR"))
		return run_cluster(getenv("C3FS_MGMTD"), getenv("C3FS_TOKEN"),
				   getenv("C3FS_META_ADDR"));
	return run_fake();
}

/* Brings the targets back after a while (a chain reconfiguration that ends). */
static void *serve_later(void *arg)
{
	(void)arg;
	c3_sleep_ms(400);
	__atomic_store_n(&target_state, TARGET_SERVING, __ATOMIC_RELAXED);
	return NULL;
}

static int run_fake(void)
{
	struct kv_db *db;
	struct rpc_server *srv;
	struct rpc_server_opts so;
	struct rpc_client_opts co;
	struct rpc_client *cli;
	struct meta_cluster mc;
	struct meta_svc_opts o;
	struct meta_svc *svc;
	struct meta_hdr h;
	struct meta_open_resp f, g;
	struct meta_attr_resp ar;
	struct meta_gc_stats st;
	const uint32_t MiB = 1u << 20;

	memset(&so, 0, sizeof(so));
	so.listen = "127.0.0.1:0";
	if (rpc_server_new(&so, &srv) != 0)
		tap_skip_all("cannot listen on loopback");
	rpc_server_register(srv, STORAGE_T_REMOVE, h_remove, NULL, 0);
	rpc_server_register(srv, STORAGE_T_TRUNCATE, h_truncate, NULL, 0);
	rpc_server_register(srv, STORAGE_T_QUERY_LAST, h_query, NULL, 0);
	is_int(rpc_server_start(srv), 0, "fake storage server");
	build_routing(rpc_server_port(srv));
	memset(&co, 0, sizeof(co));
	is_int(rpc_client_new(&co, &cli), 0, "rpc client");
	memset(&mc, 0, sizeof(mc));
	mc.routing = get_routing;
	mc.rpc = cli;
	mc.timeout_ms = 5000;
	is_int(kv_db_open("mem:", &db), 0, "mem kv");
	meta_svc_opts_default(&o);
	o.default_layout.stripe = 8; /* capped to the table size (4) at create */
	fake_now = c3_wall_ns();
	o.clock_ns = clk;
	meta_cluster_hooks(&mc, &o.hooks);
	is_int(meta_svc_new(db, &o, &svc), 0, "service with cluster hooks");

	memset(&h, 0, sizeof(h));
	h.client_id = 5;
	{
		struct meta_create_req r = { h, META_ROOT_INO, "f", 1, 0644, 0, META_O_WRITE };

		is_int(meta_op_create(svc, &r, &f), 0, "create f");
	}
	is_int(f.attr.layout.stripe, NCH, "stripe capped by the chain table size");
	is_int(f.attr.layout.table_version, 3, "table version recorded");
	{
		struct meta_statfs_req r = { h };
		struct meta_statfs_resp s;

		is_int(meta_op_statfs(svc, &r, &s), 0, "statfs");
		ok(s.total_bytes == 4000 && s.avail_bytes == 2400, "statfs from routing capacity");
	}
	/* the client writes 10 chunks (widening dyn_stripe first) and closes */
	{
		struct meta_setattr_req r;

		memset(&r, 0, sizeof(r));
		r.hdr = h;
		r.ino = f.attr.ino;
		r.mask = META_SET_DYN_STRIPE;
		r.dyn_stripe = 3;
		is_int(meta_op_setattr(svc, &r, &ar), 0, "widen dyn_stripe");
		is_int(ar.attr.layout.dyn_stripe, 4, "doubles to 4 (covers 3)");
	}
	write_file(&f.attr, 10, 123);
	is_int(count_chunks(f.attr.ino, NULL), 10, "10 chunks on storage");
	{
		struct meta_close_req c = { h, f.attr.ino, f.session_id,
					    META_CLOSE_LENGTH | META_CLOSE_WROTE, 9 * (uint64_t)MiB + 123, 0 };

		is_int(meta_op_close(svc, &c, true, &ar), 0, "close with length");
		is_int(ar.attr.length, 9 * (uint64_t)MiB + 123, "length");
	}
	/* truncate to 2.5 MiB */
	{
		struct meta_setattr_req r;
		uint32_t maxidx = 0;
		struct chunk *c;

		memset(&r, 0, sizeof(r));
		r.hdr = h;
		r.ino = f.attr.ino;
		r.mask = META_SET_SIZE;
		r.size = 2 * (uint64_t)MiB + MiB / 2;
		is_int(meta_op_setattr(svc, &r, &ar), 0, "truncate to 2.5 MiB");
		is_int(count_chunks(f.attr.ino, &maxidx), 3, "chunks past the end removed");
		is_int(maxidx, 2, "chunks 0..2 kept");
		c = find_chunk(f.attr.ino, 2);
		ok(c && c->len == MiB / 2, "last chunk cut at the new end");
		is_int(wrong_route, 0, "truncate sent to the chunk's own chain");
	}
	/* BUG-C7: a truncate while the chain has no serving head waits for it (wait_ms) */
	{
		struct meta_setattr_req r;
		pthread_t th;

		memset(&r, 0, sizeof(r));
		r.hdr = h;
		r.ino = f.attr.ino;
		r.mask = META_SET_SIZE;
		r.size = 2 * (uint64_t)MiB;
		mc.wait_ms = 10000;
		__atomic_store_n(&target_state, TARGET_OFFLINE, __ATOMIC_RELAXED);
		is_int(pthread_create(&th, NULL, serve_later, NULL), 0, "heads come back in 0.4 s");
		is_int(meta_op_setattr(svc, &r, &ar), 0, "truncate to 2 MiB waits for the chain");
		pthread_join(th, NULL);
		is_int(count_chunks(f.attr.ino, NULL), 2, "chunk 2 removed after the wait");
	}
	/* BUG-C6: the cut failed after the length was committed: the client's retry (same
	 * size, nothing left to shrink in the KV) still cuts */
	{
		struct meta_setattr_req r;
		struct chunk *c;

		memset(&r, 0, sizeof(r));
		r.hdr = h;
		r.ino = f.attr.ino;
		r.mask = META_SET_SIZE;
		r.size = MiB + MiB / 2;
		mc.wait_ms = 300;
		__atomic_store_n(&target_state, TARGET_OFFLINE, __ATOMIC_RELAXED);
		is_int(meta_op_setattr(svc, &r, &ar), -C3FS_EBUSY,
		       "heads stay down: EBUSY after wait_ms (clients retry it)");
		c = find_chunk(f.attr.ino, 1);
		ok(c && c->len == MiB, "chunk 1 not cut yet");
		__atomic_store_n(&target_state, TARGET_SERVING, __ATOMIC_RELAXED);
		is_int(meta_op_setattr(svc, &r, &ar), 0, "the client's retry");
		is_int(ar.attr.length, MiB + MiB / 2, "length 1.5 MiB");
		c = find_chunk(f.attr.ino, 1);
		ok(c && c->len == MiB / 2, "the retry cut chunk 1 at the new end");
		is_int(count_chunks(f.attr.ino, NULL), 2, "chunks 0 and 1 left");
		mc.wait_ms = 0;
	}
	/* a head shutting down or named by stale routing is waited for like one that is down
	 * (ESHUTDOWN and ENOTARGET are transient for a chunk update: retry column), not
	 * answered to the client as they are */
	{
		static const int codes[] = { -C3FS_ESHUTDOWN, -C3FS_ENOTARGET };
		struct meta_setattr_req r;
		struct chunk *c;

		for (int i = 0; i < 2; i++) {
			memset(&r, 0, sizeof(r));
			r.hdr = h;
			r.ino = f.attr.ino;
			r.mask = META_SET_SIZE;
			r.size = MiB + MiB / (4u << i);
			mc.wait_ms = 10000;
			pthread_mutex_lock(&mu);
			trunc_fail_code = codes[i];
			trunc_fail_n = 2;
			pthread_mutex_unlock(&mu);
			is_int(meta_op_setattr(svc, &r, &ar), 0,
			       i == 0 ? "truncate waits out a head shutting down"
				      : "truncate waits out a stale head");
			c = find_chunk(f.attr.ino, 1);
			ok(c && c->len == MiB / (4u << i), "and cuts the last chunk");
			pthread_mutex_lock(&mu);
			is_int(trunc_fail_n, 0, "after the failed tries");
			pthread_mutex_unlock(&mu);
		}
		mc.wait_ms = 0;
	}
	/* two writers: the closing one reports less than the other wrote */
	{
		struct meta_open_req r = { h, f.attr.ino, META_O_WRITE };
		struct meta_close_req c;

		is_int(meta_op_open(svc, &r, &f), 0, "writer 1 opens");
		is_int(meta_op_open(svc, &r, &g), 0, "writer 2 opens");
		put_chunk((uint32_t)meta_layout_chunk_chain(&f.attr.layout, ri->tables[0].chains,
							      NCH, 3),
			  f.attr.ino, 3, 1000);
		c = (struct meta_close_req){ h, f.attr.ino, f.session_id,
					     META_CLOSE_LENGTH | META_CLOSE_WROTE, 100, 0 };
		is_int(meta_op_close(svc, &c, true, &ar), 0, "writer 1 closes reporting 100");
		is_int(ar.attr.length, 3 * (uint64_t)MiB + 1000, "length from storage's last chunk");
	}
	/* unlink while writer 2 still has it open: nothing removed until it closes */
	{
		struct meta_unlink_req r = { h, META_ROOT_INO, "f", 1 };
		struct meta_close_req c = { h, f.attr.ino, g.session_id, 0, 0, 0 };

		is_int(meta_op_unlink(svc, &r, NULL), 0, "unlink while open");
		memset(&st, 0, sizeof(st));
		meta_gc_run(svc, 100, &st);
		is_int(count_chunks(f.attr.ino, NULL), 3, "open file's chunks kept");
		is_int(meta_op_close(svc, &c, true, &ar), 0, "last close");
		target_state = TARGET_OFFLINE;
		memset(&st, 0, sizeof(st));
		meta_gc_run(svc, 100, &st);
		ok(st.errors > 0 && st.files_removed == 0, "no serving head: GC fails and retries");
		{
			struct meta_getattr_req gr = { h, f.attr.ino };

			is_int(meta_op_getattr(svc, &gr, &ar), 0, "inode kept while chunks remain");
		}
		target_state = TARGET_SERVING;
		memset(&st, 0, sizeof(st));
		meta_gc_run(svc, 100, &st);
		is_int(st.files_removed, 1, "GC removed the file");
		is_int(count_chunks(f.attr.ino, NULL), 0, "every chunk removed from storage");
		{
			struct meta_getattr_req gr = { h, f.attr.ino };

			is_int(meta_op_getattr(svc, &gr, &ar), -ENOENT, "then the inode");
		}
	}
	/* a writer crashes without reporting its length: session expiry takes it from storage */
	{
		struct meta_hdr hc = h;
		struct meta_create_req r = { hc, META_ROOT_INO, "crash", 5, 0644, 0, META_O_WRITE };
		struct meta_setattr_req sr;
		struct meta_getattr_req gr;

		hc.client_id = 77;
		r.hdr = hc;
		is_int(meta_op_create(svc, &r, &f), 0, "client 77 creates crash");
		memset(&sr, 0, sizeof(sr));
		sr.hdr = hc;
		sr.ino = f.attr.ino;
		sr.mask = META_SET_DYN_STRIPE;
		sr.dyn_stripe = 3;
		is_int(meta_op_setattr(svc, &sr, &ar), 0, "widens dyn_stripe before writing");
		write_file(&ar.attr, 3, 4321);
		fake_now += 10ull * 60 * 1000000000ull;
		memset(&st, 0, sizeof(st));
		is_int(meta_gc_run(svc, 100, &st), 0, "gc pass after the session timeout");
		ok(st.sessions_expired >= 1, "session expired");
		gr = (struct meta_getattr_req){ h, f.attr.ino };
		is_int(meta_op_getattr(svc, &gr, &ar), 0, "getattr crash");
		is_int(ar.attr.length, 2 * (uint64_t)MiB + 4321, "length recovered from storage");
	}
	meta_svc_free(svc);
	kv_db_close(db);
	rpc_client_free(cli);
	rpc_server_free(srv);
	routing_unref(ri);
	return tap_done();
}
