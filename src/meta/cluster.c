/* meta/cluster.c — storage side effects of the meta service through the cluster (see
 * cluster.h).  Every function takes a routing reference for its duration, never holds a
 * lock while calling storage, and returns the first error it meets. */
#include "meta/cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "proto/storage.h"

struct chain_ref {
	struct storage_route route;
	char addr[ROUTING_ADDR_MAX];
};

/* Resolve the chain holding perm position k of layout l. */
static int chain_of(const struct routing_info *ri, const struct meta_layout *l,
		    const uint32_t *perm, uint32_t k, struct chain_ref *out)
{
	const struct routing_chain_table *tab = routing_table_find(ri, l->table_id);
	const struct routing_chain *ch;
	const struct routing_target *tg;
	const struct routing_node *nd;
	uint32_t head;

	if (!tab || tab->nchains == 0)
		return -C3FS_ENOCHAIN;
	ch = routing_chain_find(ri, tab->chains[((uint64_t)l->base + perm[k]) % tab->nchains]);
	if (!ch)
		return -C3FS_ENOCHAIN;
	head = routing_chain_head(ri, ch);
	tg = head ? routing_target_find(ri, head) : NULL;
	nd = tg ? routing_node_find(ri, tg->node_id) : NULL;
	if (!nd)
		return -C3FS_ETARGETDOWN;
	out->route.chain_id = ch->chain_id;
	out->route.chain_ver = ch->version;
	out->route.target_id = head;
	snprintf(out->addr, sizeof(out->addr), "%s", nd->addr);
	return 0;
}

/* Chains to visit: the first dyn_stripe (at most the table size). */
static uint32_t nvisit(const struct routing_info *ri, const struct meta_layout *l)
{
	const struct routing_chain_table *tab = routing_table_find(ri, l->table_id);
	uint32_t n = l->dyn_stripe ? l->dyn_stripe : l->stripe;

	if (!tab)
		return 0;
	if (n > l->stripe)
		n = l->stripe;
	return n > tab->nchains ? tab->nchains : n;
}

/* Calls fn(mc, chain, arg) for each chain file layout l may have chunks on (the first
 * nvisit positions of its permutation), in order, until one fails; with only >= 0 just
 * for the chain at that position.  None when l's table is unknown.  fn's error, or 0. */
static int each_chain(struct meta_cluster *mc, const struct meta_layout *l, int64_t only,
		      int (*fn)(struct meta_cluster *mc, const struct chain_ref *c, void *arg),
		      void *arg)
{
	struct routing_info *ri = mc->routing(mc->routing_arg);
	uint32_t *perm, n;
	int rc = 0;

	if (!ri)
		return -C3FS_ENOROUTING;
	n = nvisit(ri, l); /* 0: no such table, no chunk can exist */
	perm = calloc(l->stripe ? l->stripe : 1, sizeof(*perm));
	if (!perm) {
		routing_unref(ri);
		return -ENOMEM;
	}
	meta_layout_perm(l, perm);
	for (uint32_t k = 0; k < n && rc == 0; k++) {
		struct chain_ref c;

		rc = chain_of(ri, l, perm, only >= 0 ? (uint32_t)only : k, &c);
		if (rc == 0)
			rc = fn(mc, &c, arg);
		if (only >= 0)
			break;
	}
	free(perm);
	routing_unref(ri);
	return rc;
}

/* One storage request of the given type to chain c's head: the request already encoded
 * in b (its encoding error, if any, is returned), the reply's bytes into resp. */
static int chain_call(struct meta_cluster *mc, const struct chain_ref *c, uint16_t type,
		      const struct c3_buf *b, struct c3_buf *resp)
{
	if (b->err)
		return b->err;
	return rpc_call_sync(mc->rpc, c->addr, type, b->data, b->len, resp, mc->timeout_ms);
}

struct remove_arg {
	uint64_t ino;
	uint32_t begin;
};

static int remove_range(struct meta_cluster *mc, const struct chain_ref *c, void *ap)
{
	const struct remove_arg *a = ap;
	struct storage_remove_req rq;
	struct storage_remove_rsp rs;
	struct c3_buf b = C3_BUF_INIT, resp = C3_BUF_INIT;
	int rc;

	memset(&rq, 0, sizeof(rq));
	rq.route = c->route;
	rq.inode = a->ino;
	rq.begin = a->begin;
	rq.end = STORAGE_INDEX_END;
	for (int rounds = 0; rounds < 100000; rounds++) {
		c3_buf_reset(&b);
		storage_remove_req_encode(&rq, &b);
		rc = chain_call(mc, c, STORAGE_T_REMOVE, &b, &resp);
		if (rc == 0)
			rc = storage_remove_rsp_decode(resp.data, resp.len, &rs);
		if (rc == 0)
			rc = rs.status;
		c3_buf_release(&resp);
		if (rc < 0 || !rs.more)
			goto out;
	}
	rc = -C3FS_EBUSY;
out:
	c3_buf_release(&b);
	return rc;
}

static int hook_remove_from(struct meta_cluster *mc, uint64_t ino, const struct meta_layout *l,
			    uint32_t begin)
{
	struct remove_arg a = { ino, begin };
	int rc = each_chain(mc, l, -1, remove_range, &a);

	if (rc < 0)
		LOG_WARN("removing chunks of inode %llx from %u: %s", (unsigned long long)ino,
			 begin, c3_strerror(rc));
	return rc;
}

static int hook_remove_chunks(void *arg, uint64_t ino, const struct meta_layout *l)
{
	return hook_remove_from(arg, ino, l, 0);
}

struct cut_arg {
	uint64_t ino, len;
	uint32_t chunk_size;
};

/* Cut the chunk holding the new end a->len on its chain c. */
static int cut_last(struct meta_cluster *mc, const struct chain_ref *c, void *ap)
{
	const struct cut_arg *a = ap;
	struct storage_truncate_io io;
	struct storage_truncate_req rq = { 1, &io };
	struct storage_batch_rsp rs;
	struct c3_buf b = C3_BUF_INIT, resp = C3_BUF_INIT;
	int rc;

	memset(&io, 0, sizeof(io));
	io.route = c->route;
	io.chunk.inode = a->ino;
	io.chunk.index = (uint32_t)(a->len / a->chunk_size);
	io.length = (uint32_t)(a->len % a->chunk_size);
	io.chunk_size = a->chunk_size;
	storage_truncate_req_encode(&rq, &b);
	rc = chain_call(mc, c, STORAGE_T_TRUNCATE, &b, &resp);
	if (rc == 0) {
		rc = storage_batch_rsp_decode(resp.data, resp.len, &rs);
		if (rc == 0) {
			rc = rs.nresults == 1 ? rs.results[0].status : -C3FS_EBADMSG;
			storage_batch_rsp_release(&rs);
		}
	}
	c3_buf_release(&b);
	c3_buf_release(&resp);
	return rc == -ENOENT ? 0 : rc;
}

static int truncate_once(struct meta_cluster *mc, uint64_t ino, const struct meta_layout *l,
			 uint64_t len)
{
	uint64_t first_gone = len / l->chunk_size + (len % l->chunk_size ? 1 : 0);
	struct cut_arg a = { ino, len, l->chunk_size };
	int rc;

	if (first_gone > UINT32_MAX)
		return 0; /* beyond any chunk index: nothing to remove */
	rc = hook_remove_from(mc, ino, l, (uint32_t)first_gone);
	if (rc < 0 || len % l->chunk_size == 0)
		return rc;
	/* cut the last chunk at the new end */
	return each_chain(mc, l, (int64_t)((len / l->chunk_size) % l->stripe), cut_last, &a);
}

static int hook_truncate(void *arg, uint64_t ino, const struct meta_layout *l, uint64_t len)
{
	struct meta_cluster *mc = arg;
	uint64_t deadline = c3_now_ms() + mc->wait_ms;
	uint32_t pause = 100;
	int rc, tries = 0;

	for (;;) {
		rc = truncate_once(mc, ino, l, len);
		tries++;
		/* a chunk update from its origin, retried as a client's write is (routing is
		 * refreshed before every retry) */
		if (rc == 0 || c3_err_retry(rc, C3_RETRY_WRITE) == C3_RETRY_NO)
			break;
		if (c3_now_ms() + pause >= deadline) {
			LOG_WARN("truncating inode %llx to %llu: %s after %d tries; client retries",
				 (unsigned long long)ino, (unsigned long long)len, c3_strerror(rc),
				 tries);
			return -C3FS_EBUSY;
		}
		if (mc->refresh)
			mc->refresh(mc->routing_arg, pause);
		c3_sleep_ms(pause);
		if (pause < 1000)
			pause *= 2;
	}
	if (rc == 0 && tries > 1)
		LOG_INFO("truncating inode %llx to %llu: done after %d tries",
			 (unsigned long long)ino, (unsigned long long)len, tries);
	return rc;
}

struct query_arg {
	uint64_t ino;
	uint32_t chunk_size;
	uint64_t best; /* the largest end found so far */
};

static int query_last(struct meta_cluster *mc, const struct chain_ref *c, void *ap)
{
	struct query_arg *a = ap;
	struct storage_query_last_req rq;
	struct storage_query_last_rsp rs;
	struct c3_buf b = C3_BUF_INIT, resp = C3_BUF_INIT;
	int rc;

	memset(&rq, 0, sizeof(rq));
	rq.route = c->route;
	rq.inode = a->ino;
	storage_query_last_req_encode(&rq, &b);
	rc = chain_call(mc, c, STORAGE_T_QUERY_LAST, &b, &resp);
	if (rc == 0)
		rc = storage_query_last_rsp_decode(resp.data, resp.len, &rs);
	if (rc == 0)
		rc = rs.status;
	if (rc == 0 && rs.found) {
		uint64_t end = (uint64_t)rs.last_index * a->chunk_size + rs.last_len;

		if (end > a->best)
			a->best = end;
	}
	c3_buf_release(&b);
	c3_buf_release(&resp);
	return rc;
}

static int hook_query_length(void *arg, uint64_t ino, const struct meta_layout *l,
			     uint64_t *length)
{
	struct query_arg a = { ino, l->chunk_size, 0 };
	int rc = each_chain(arg, l, -1, query_last, &a);

	if (rc == 0)
		*length = a.best;
	return rc;
}

static uint32_t hook_table_size(void *arg, uint32_t table_id, uint32_t *version)
{
	struct meta_cluster *mc = arg;
	struct routing_info *ri = mc->routing(mc->routing_arg);
	const struct routing_chain_table *t;
	uint32_t n = 0;

	if (!ri)
		return 0;
	t = routing_table_find(ri, table_id);
	if (t) {
		n = t->nchains;
		*version = t->version;
	}
	routing_unref(ri);
	return n;
}

static int hook_space(void *arg, uint64_t *total, uint64_t *avail)
{
	struct meta_cluster *mc = arg;
	struct routing_info *ri = mc->routing(mc->routing_arg);
	uint64_t cap = 0, fr = 0, rep = 1;

	if (!ri)
		return -ENOENT;
	for (uint32_t i = 0; i < ri->ntargets; i++) {
		cap += ri->targets[i].capacity_bytes;
		fr += ri->targets[i].free_bytes;
	}
	if (ri->nchains > 0 && ri->chains[0].ntargets > 0)
		rep = ri->chains[0].ntargets; /* replicas per chain */
	routing_unref(ri);
	*total = cap / rep;
	*avail = fr / rep;
	return cap ? 0 : -ENOENT;
}

static int hook_client_alive(void *arg, uint64_t client_id)
{
	struct meta_cluster *mc = arg;
	struct routing_info *ri;
	const struct routing_node *n;
	int alive = 0;

	if (client_id > UINT32_MAX)
		return 0;
	ri = mc->routing(mc->routing_arg);
	if (!ri)
		return 0;
	n = routing_node_find(ri, (uint32_t)client_id);
	alive = n && n->type == NODE_CLIENT && n->state == NODE_UP;
	routing_unref(ri);
	return alive;
}

static struct routing_info *routing_of_client(void *cc)
{
	return cluster_client_routing(cc);
}

static int refresh_of_client(void *cc, uint32_t timeout_ms)
{
	return cluster_client_refresh(cc, timeout_ms);
}

void meta_cluster_init(struct meta_cluster *mc, struct cluster_client *cc,
		       struct rpc_client *rpc, uint32_t timeout_ms)
{
	mc->routing = routing_of_client;
	mc->refresh = refresh_of_client;
	mc->wait_ms = 0;
	mc->routing_arg = cc;
	mc->rpc = rpc;
	mc->timeout_ms = timeout_ms;
}

void meta_cluster_hooks(struct meta_cluster *mc, struct meta_hooks *h)
{
	memset(h, 0, sizeof(*h));
	h->remove_chunks = hook_remove_chunks;
	h->truncate_chunks = hook_truncate;
	h->query_length = hook_query_length;
	h->table_size = hook_table_size;
	h->space = hook_space;
	h->client_alive = hook_client_alive;
	h->arg = mc;
}
