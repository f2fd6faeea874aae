/* The storage side of the meta service (src/meta/cluster.c) against a fake storage server
 * in this process: a real rpc_server answering STORAGE_T_REMOVE, STORAGE_T_TRUNCATE and
 * STORAGE_T_QUERY_LAST from an in-memory chunk table, and a static routing snapshot
 * (4 chains, one target each).  Checks that truncation removes exactly the chunks past the
 * new end and cuts the last one, that a close with another writer open takes the length
 * from storage, that GC removes every chunk of an unlinked file on its own chains and
 * only then the inode, and that a chain without a serving head keeps the file queued. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/routing.h"
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
		if (c)
			c->len = r.ios[0].length;
		res.status = c ? 0 : -ENOENT;
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

static struct routing_info *get_routing(void *arg)
{
	(void)arg;
	for (uint32_t i = 0; i < ri->ntargets; i++)
		ri->targets[i].state = target_state;
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

int main(void)
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
					    META_CLOSE_LENGTH | META_CLOSE_WROTE, 9 * (uint64_t)MiB + 123 };

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
					     META_CLOSE_LENGTH | META_CLOSE_WROTE, 100 };
		is_int(meta_op_close(svc, &c, true, &ar), 0, "writer 1 closes reporting 100");
		is_int(ar.attr.length, 3 * (uint64_t)MiB + 1000, "length from storage's last chunk");
	}
	/* unlink while writer 2 still has it open: nothing removed until it closes */
	{
		struct meta_unlink_req r = { h, META_ROOT_INO, "f", 1 };
		struct meta_close_req c = { h, f.attr.ino, g.session_id, 0, 0 };

		is_int(meta_op_unlink(svc, &r), 0, "unlink while open");
		memset(&st, 0, sizeof(st));
		meta_gc_run(svc, 100, &st);
		is_int(count_chunks(f.attr.ino, NULL), 4, "open file's chunks kept");
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
	meta_svc_free(svc);
	kv_db_close(db);
	rpc_client_free(cli);
	rpc_server_free(srv);
	routing_unref(ri);
	return tap_done();
}
