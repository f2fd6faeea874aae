/* routing.c — routing snapshots: allocation, reference counting, lookups, strict codec.
 *
 * Invariants of a published snapshot (checked by routing_validate, hence by every
 * decode):
 *   - every id is >= 1; each array is sorted by id, ids unique;
 *   - node type/state, target state and local state are in range;
 *   - a chain has 1..ROUTING_MAX_REPLICAS members, all distinct existing targets whose
 *     chain_id is that chain; a target with chain_id != 0 names an existing chain;
 *   - members are ordered by state rank: SERVING < LASTSRV < SYNCING < WAITING < OFFLINE
 *     (so the head is the first member and the serving part is a prefix);
 *   - a table lists distinct existing chains, at most ROUTING_MAX_CHAINS.
 * A snapshot is never modified after it has been shared (refs > 1).
 *
 * Wire layout (net/codec.h rules, fields in this order, new fields only appended at the
 * end of the message):
 *   u64 version
 *   u32 nnodes   { u32 id, u8 type, u8 state, str addr, u64 last_heartbeat_ms }
 *   u32 ntargets { u32 id, u32 node, u32 chain, u8 state, u8 local, u64 cap, u64 free,
 *                  u64 sync_done, u64 sync_total }
 *   u32 nchains  { u32 id, u32 version, u32 n, u32 target_ids[n] }
 *   u32 ntables  { u32 id, u32 version, str name, u32 n, u32 chain_ids[n] }
 */
#include "cluster/routing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/errors.h"
#include "net/codec.h"
#include "proto/mgmtd.h"

/* smallest encodings, used to bound hostile counts before allocating */
#define NODE_MIN_BYTES   (4 + 1 + 1 + 4 + 8)
#define TARGET_MIN_BYTES (4 + 4 + 4 + 1 + 1 + 8 * 4)
#define CHAIN_MIN_BYTES  (4 + 4 + 4)
#define TABLE_MIN_BYTES  (4 + 4 + 4 + 4)

struct routing_info *routing_new(void)
{
	struct routing_info *ri = calloc(1, sizeof(*ri));

	if (ri)
		ri->refs = 1;
	return ri;
}

void routing_ref(struct routing_info *ri)
{
	__atomic_fetch_add(&ri->refs, 1, __ATOMIC_RELAXED);
}

static void routing_free(struct routing_info *ri)
{
	for (uint32_t i = 0; i < ri->ntables; i++)
		free(ri->tables[i].chains);
	free(ri->nodes);
	free(ri->targets);
	free(ri->chains);
	free(ri->tables);
	free(ri);
}

void routing_unref(struct routing_info *ri)
{
	if (!ri)
		return;
	if (__atomic_sub_fetch(&ri->refs, 1, __ATOMIC_ACQ_REL) == 0)
		routing_free(ri);
}

/* ------------------------------------------------------------------ lookups */

#define ROUTING_BSEARCH(arr, n, idfield, key)                                    \
	do {                                                                     \
		uint32_t lo_ = 0, hi_ = (n);                                     \
		while (lo_ < hi_) {                                              \
			uint32_t mid_ = lo_ + (hi_ - lo_) / 2;                   \
			if ((arr)[mid_].idfield == (key))                        \
				return &(arr)[mid_];                             \
			if ((arr)[mid_].idfield < (key))                         \
				lo_ = mid_ + 1;                                  \
			else                                                     \
				hi_ = mid_;                                      \
		}                                                                \
		return NULL;                                                     \
	} while (0)

const struct routing_node *routing_node_find(const struct routing_info *ri, uint32_t node_id)
{
	ROUTING_BSEARCH(ri->nodes, ri->nnodes, node_id, node_id);
}

const struct routing_target *routing_target_find(const struct routing_info *ri,
						 uint32_t target_id)
{
	ROUTING_BSEARCH(ri->targets, ri->ntargets, target_id, target_id);
}

const struct routing_chain *routing_chain_find(const struct routing_info *ri, uint32_t chain_id)
{
	ROUTING_BSEARCH(ri->chains, ri->nchains, chain_id, chain_id);
}

const struct routing_chain_table *routing_table_find(const struct routing_info *ri,
						     uint32_t table_id)
{
	ROUTING_BSEARCH(ri->tables, ri->ntables, table_id, table_id);
}

int routing_member_state(const struct routing_info *ri, uint32_t target_id)
{
	const struct routing_target *t = routing_target_find(ri, target_id);

	return t ? t->state : 0;
}

uint32_t routing_chain_head(const struct routing_info *ri, const struct routing_chain *c)
{
	if (c->ntargets == 0 || routing_member_state(ri, c->targets[0]) != TARGET_SERVING)
		return 0;
	return c->targets[0];
}

uint32_t routing_chain_tail(const struct routing_info *ri, const struct routing_chain *c)
{
	uint32_t tail = 0;

	for (uint32_t i = 0; i < c->ntargets; i++) {
		if (routing_member_state(ri, c->targets[i]) != TARGET_SERVING)
			break;
		tail = c->targets[i];
	}
	return tail;
}

static bool state_takes_writes(int st)
{
	return st == TARGET_SERVING || st == TARGET_SYNCING;
}

uint32_t routing_chain_successor(const struct routing_info *ri, const struct routing_chain *c,
				 uint32_t target_id)
{
	uint32_t i;

	for (i = 0; i < c->ntargets && c->targets[i] != target_id; i++)
		;
	for (i++; i < c->ntargets; i++)
		if (state_takes_writes(routing_member_state(ri, c->targets[i])))
			return c->targets[i];
	return 0;
}

bool routing_target_is_readable(const struct routing_info *ri, const struct routing_chain *c,
				uint32_t target_id)
{
	for (uint32_t i = 0; i < c->ntargets; i++)
		if (c->targets[i] == target_id)
			return routing_member_state(ri, target_id) == TARGET_SERVING;
	return false;
}

/* ------------------------------------------------------------------ names */

const char *target_state_name(int state)
{
	switch (state) {
	case TARGET_SERVING: return "serving";
	case TARGET_SYNCING: return "syncing";
	case TARGET_WAITING: return "waiting";
	case TARGET_LASTSRV: return "lastsrv";
	case TARGET_OFFLINE: return "offline";
	}
	return "?";
}

int target_state_parse(const char *s)
{
	for (int st = TARGET_SERVING; st <= TARGET_OFFLINE; st++)
		if (strcasecmp(s, target_state_name(st)) == 0)
			return st;
	return -EINVAL;
}

const char *target_local_state_name(int state)
{
	switch (state) {
	case TARGET_LOCAL_UNKNOWN: return "unknown";
	case TARGET_LOCAL_UPTODATE: return "uptodate";
	case TARGET_LOCAL_ONLINE: return "online";
	case TARGET_LOCAL_FAILED: return "failed";
	}
	return "?";
}

const char *node_state_name(int state)
{
	switch (state) {
	case NODE_UP: return "up";
	case NODE_DOWN: return "down";
	case NODE_MAINTENANCE: return "maintenance";
	}
	return "?";
}

const char *node_type_name(int type)
{
	switch (type) {
	case NODE_MGMTD: return "mgmtd";
	case NODE_META: return "meta";
	case NODE_STORAGE: return "storage";
	case NODE_CLIENT: return "client";
	}
	return "?";
}

int node_type_parse(const char *s)
{
	for (int t = NODE_MGMTD; t <= NODE_CLIENT; t++)
		if (strcasecmp(s, node_type_name(t)) == 0)
			return t;
	return -EINVAL;
}

/* ------------------------------------------------------------------ copy / sort */

struct routing_info *routing_dup(const struct routing_info *src)
{
	struct routing_info *ri = routing_new();

	if (!ri)
		return NULL;
	ri->version = src->version;
#define DUP_ARRAY(field, cnt)                                                          \
	if (cnt) {                                                                     \
		ri->field = malloc(sizeof(*ri->field) * (cnt));                        \
		if (!ri->field)                                                        \
			goto fail;                                                     \
		memcpy(ri->field, src->field, sizeof(*ri->field) * (cnt));             \
	}                                                                              \
	ri->n##field = (cnt);
	DUP_ARRAY(nodes, src->nnodes)
	DUP_ARRAY(targets, src->ntargets)
	DUP_ARRAY(chains, src->nchains)
#undef DUP_ARRAY
	if (src->ntables) {
		ri->tables = calloc(src->ntables, sizeof(*ri->tables));
		if (!ri->tables)
			goto fail;
		ri->ntables = src->ntables;
		for (uint32_t i = 0; i < src->ntables; i++) {
			ri->tables[i] = src->tables[i];
			ri->tables[i].chains = NULL;
			if (src->tables[i].nchains) {
				size_t sz = sizeof(uint32_t) * src->tables[i].nchains;

				ri->tables[i].chains = malloc(sz);
				if (!ri->tables[i].chains) {
					ri->tables[i].nchains = 0;
					goto fail;
				}
				memcpy(ri->tables[i].chains, src->tables[i].chains, sz);
			}
		}
	}
	return ri;
fail:
	routing_free(ri);
	return NULL;
}

static int cmp_node(const void *a, const void *b)
{
	uint32_t x = ((const struct routing_node *)a)->node_id;
	uint32_t y = ((const struct routing_node *)b)->node_id;

	return (x > y) - (x < y);
}

static int cmp_target(const void *a, const void *b)
{
	uint32_t x = ((const struct routing_target *)a)->target_id;
	uint32_t y = ((const struct routing_target *)b)->target_id;

	return (x > y) - (x < y);
}

static int cmp_chain(const void *a, const void *b)
{
	uint32_t x = ((const struct routing_chain *)a)->chain_id;
	uint32_t y = ((const struct routing_chain *)b)->chain_id;

	return (x > y) - (x < y);
}

static int cmp_table(const void *a, const void *b)
{
	uint32_t x = ((const struct routing_chain_table *)a)->table_id;
	uint32_t y = ((const struct routing_chain_table *)b)->table_id;

	return (x > y) - (x < y);
}

void routing_sort(struct routing_info *ri)
{
	if (ri->nnodes)
		qsort(ri->nodes, ri->nnodes, sizeof(*ri->nodes), cmp_node);
	if (ri->ntargets)
		qsort(ri->targets, ri->ntargets, sizeof(*ri->targets), cmp_target);
	if (ri->nchains)
		qsort(ri->chains, ri->nchains, sizeof(*ri->chains), cmp_chain);
	if (ri->ntables)
		qsort(ri->tables, ri->ntables, sizeof(*ri->tables), cmp_table);
}

/* ------------------------------------------------------------------ validation */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int state_rank(int st)
{
	switch (st) {
	case TARGET_SERVING: return 0;
	case TARGET_LASTSRV: return 1;
	case TARGET_SYNCING: return 2;
	case TARGET_WAITING: return 3;
	case TARGET_OFFLINE: return 4;
	}
	return -1;
}

static bool addr_is_valid(const char *a)
{
	size_t n = strnlen(a, ROUTING_ADDR_MAX);

	if (n == ROUTING_ADDR_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a[i] <= ' ' || (unsigned char)a[i] >= 0x7f)
			return false;
	return true;
}

int routing_validate(const struct routing_info *ri)
{
	if (ri->nnodes > ROUTING_MAX_NODES || ri->ntargets > ROUTING_MAX_TARGETS ||
	    ri->nchains > ROUTING_MAX_CHAINS || ri->ntables > ROUTING_MAX_TABLES)
		return -C3FS_EBADMSG;
	for (uint32_t i = 0; i < ri->nnodes; i++) {
		const struct routing_node *n = &ri->nodes[i];

		if (n->node_id == 0 || (i && n->node_id <= ri->nodes[i - 1].node_id))
			return -C3FS_EBADMSG;
		if (n->type < NODE_MGMTD || n->type > NODE_CLIENT)
			return -C3FS_EBADMSG;
		if (n->state < NODE_UP || n->state > NODE_MAINTENANCE)
			return -C3FS_EBADMSG;
		if (!addr_is_valid(n->addr))
			return -C3FS_EBADMSG;
	}
	for (uint32_t i = 0; i < ri->ntargets; i++) {
		const struct routing_target *t = &ri->targets[i];

		if (t->target_id == 0 || (i && t->target_id <= ri->targets[i - 1].target_id))
			return -C3FS_EBADMSG;
		if (state_rank(t->state) < 0 || t->local_state > TARGET_LOCAL_FAILED)
			return -C3FS_EBADMSG;
		if (!routing_node_find(ri, t->node_id))
			return -C3FS_EBADMSG;
		if (t->chain_id) {
			const struct routing_chain *c = routing_chain_find(ri, t->chain_id);
			bool member = false;

			if (!c)
				return -C3FS_EBADMSG;
			for (uint32_t k = 0; k < c->ntargets && k < ROUTING_MAX_REPLICAS; k++)
				member |= c->targets[k] == t->target_id;
			if (!member)
				return -C3FS_EBADMSG;
		}
	}
	for (uint32_t i = 0; i < ri->nchains; i++) {
		const struct routing_chain *c = &ri->chains[i];
		int prev_rank = 0;

		if (c->chain_id == 0 || (i && c->chain_id <= ri->chains[i - 1].chain_id))
			return -C3FS_EBADMSG;
		if (c->ntargets == 0 || c->ntargets > ROUTING_MAX_REPLICAS)
			return -C3FS_EBADMSG;
		for (uint32_t k = 0; k < c->ntargets; k++) {
			const struct routing_target *t = routing_target_find(ri, c->targets[k]);
			int rank;

			if (!t || t->chain_id != c->chain_id)
				return -C3FS_EBADMSG;
			for (uint32_t j = 0; j < k; j++)
				if (c->targets[j] == c->targets[k])
					return -C3FS_EBADMSG;
			rank = state_rank(t->state);
			if (rank < prev_rank)
				return -C3FS_EBADMSG;
			prev_rank = rank;
		}
	}
	for (uint32_t i = 0; i < ri->ntables; i++) {
		const struct routing_chain_table *tb = &ri->tables[i];

		if (tb->table_id == 0 || (i && tb->table_id <= ri->tables[i - 1].table_id))
			return -C3FS_EBADMSG;
		if (tb->nchains > ROUTING_MAX_CHAINS || (tb->nchains && !tb->chains))
			return -C3FS_EBADMSG;
		if (strnlen(tb->name, sizeof(tb->name)) == sizeof(tb->name))
			return -C3FS_EBADMSG;
		for (uint32_t k = 0; k < tb->nchains; k++) {
			if (!routing_chain_find(ri, tb->chains[k]))
				return -C3FS_EBADMSG;
		}
		/* distinct chains: the table is small enough (<= 64Ki) for a sorted copy */
		if (tb->nchains > 1) {
			uint32_t *tmp = malloc(sizeof(uint32_t) * tb->nchains);
			int dup = 0;

			if (!tmp)
				return -ENOMEM;
			memcpy(tmp, tb->chains, sizeof(uint32_t) * tb->nchains);
			qsort(tmp, tb->nchains, sizeof(uint32_t), cmp_u32);
			for (uint32_t k = 1; k < tb->nchains; k++)
				dup |= tmp[k] == tmp[k - 1];
			free(tmp);
			if (dup)
				return -C3FS_EBADMSG;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ codec */

void routing_encode(const struct routing_info *ri, struct c3_buf *out)
{
	c3_enc_u64(out, ri->version);
	c3_enc_u32(out, ri->nnodes);
	for (uint32_t i = 0; i < ri->nnodes; i++) {
		const struct routing_node *n = &ri->nodes[i];

		c3_enc_u32(out, n->node_id);
		c3_enc_u8(out, n->type);
		c3_enc_u8(out, n->state);
		c3_enc_bytes(out, n->addr, strnlen(n->addr, ROUTING_ADDR_MAX - 1));
		c3_enc_u64(out, n->last_heartbeat_ms);
	}
	c3_enc_u32(out, ri->ntargets);
	for (uint32_t i = 0; i < ri->ntargets; i++) {
		const struct routing_target *t = &ri->targets[i];

		c3_enc_u32(out, t->target_id);
		c3_enc_u32(out, t->node_id);
		c3_enc_u32(out, t->chain_id);
		c3_enc_u8(out, t->state);
		c3_enc_u8(out, t->local_state);
		c3_enc_u64(out, t->capacity_bytes);
		c3_enc_u64(out, t->free_bytes);
		c3_enc_u64(out, t->sync_done_bytes);
		c3_enc_u64(out, t->sync_total_bytes);
	}
	c3_enc_u32(out, ri->nchains);
	for (uint32_t i = 0; i < ri->nchains; i++) {
		const struct routing_chain *c = &ri->chains[i];
		uint32_t n = c->ntargets > ROUTING_MAX_REPLICAS ? ROUTING_MAX_REPLICAS : c->ntargets;

		c3_enc_u32(out, c->chain_id);
		c3_enc_u32(out, c->version);
		c3_enc_u32(out, n);
		for (uint32_t k = 0; k < n; k++)
			c3_enc_u32(out, c->targets[k]);
	}
	c3_enc_u32(out, ri->ntables);
	for (uint32_t i = 0; i < ri->ntables; i++) {
		const struct routing_chain_table *tb = &ri->tables[i];

		c3_enc_u32(out, tb->table_id);
		c3_enc_u32(out, tb->version);
		c3_enc_bytes(out, tb->name, strnlen(tb->name, sizeof(tb->name) - 1));
		c3_enc_u32(out, tb->nchains);
		for (uint32_t k = 0; k < tb->nchains; k++)
			c3_enc_u32(out, tb->chains[k]);
	}
	/* trailer (appended later; older decoders ignore trailing bytes): per target, in the
	 * order above, sync progress in chunks and rate, corruption and scrub figures */
	c3_enc_u32(out, ri->ntargets);
	for (uint32_t i = 0; i < ri->ntargets; i++) {
		const struct routing_target *t = &ri->targets[i];

		c3_enc_u64(out, t->sync_done_chunks);
		c3_enc_u64(out, t->sync_total_chunks);
		c3_enc_u64(out, t->sync_rate_bps);
		c3_enc_u64(out, t->corrupt_found);
		c3_enc_u64(out, t->corrupt_repaired);
		c3_enc_u64(out, t->scrub_last_ms);
	}
	/* second trailer: the I/O counters its storage process reported */
	c3_enc_u32(out, ri->ntargets);
	for (uint32_t i = 0; i < ri->ntargets; i++) {
		const struct routing_target *t = &ri->targets[i];

		c3_enc_u64(out, t->read_bytes);
		c3_enc_u64(out, t->read_ops);
		c3_enc_u64(out, t->write_bytes);
		c3_enc_u64(out, t->write_ops);
	}
}

struct routing_info *routing_decode(const void *p, size_t n, int *err)
{
	struct routing_info *ri = routing_new();
	struct c3_dec d;
	uint32_t cnt;
	int rc = -C3FS_EBADMSG;

	if (!ri) {
		*err = -ENOMEM;
		return NULL;
	}
	c3_dec_init(&d, p, n);
	ri->version = c3_dec_u64(&d);

	cnt = c3_dec_count(&d, ROUTING_MAX_NODES, NODE_MIN_BYTES);
	if (cnt) {
		ri->nodes = calloc(cnt, sizeof(*ri->nodes));
		if (!ri->nodes)
			goto nomem;
	}
	for (uint32_t i = 0; i < cnt && !d.err; i++) {
		struct routing_node *nd = &ri->nodes[i];

		nd->node_id = c3_dec_u32(&d);
		nd->type = c3_dec_u8(&d);
		nd->state = c3_dec_u8(&d);
		c3_dec_str(&d, nd->addr, sizeof(nd->addr));
		nd->last_heartbeat_ms = c3_dec_u64(&d);
		ri->nnodes = i + 1;
	}

	cnt = c3_dec_count(&d, ROUTING_MAX_TARGETS, TARGET_MIN_BYTES);
	if (cnt) {
		ri->targets = calloc(cnt, sizeof(*ri->targets));
		if (!ri->targets)
			goto nomem;
	}
	for (uint32_t i = 0; i < cnt && !d.err; i++) {
		struct routing_target *t = &ri->targets[i];

		t->target_id = c3_dec_u32(&d);
		t->node_id = c3_dec_u32(&d);
		t->chain_id = c3_dec_u32(&d);
		t->state = c3_dec_u8(&d);
		t->local_state = c3_dec_u8(&d);
		t->capacity_bytes = c3_dec_u64(&d);
		t->free_bytes = c3_dec_u64(&d);
		t->sync_done_bytes = c3_dec_u64(&d);
		t->sync_total_bytes = c3_dec_u64(&d);
		ri->ntargets = i + 1;
	}

	cnt = c3_dec_count(&d, ROUTING_MAX_CHAINS, CHAIN_MIN_BYTES);
	if (cnt) {
		ri->chains = calloc(cnt, sizeof(*ri->chains));
		if (!ri->chains)
			goto nomem;
	}
	for (uint32_t i = 0; i < cnt && !d.err; i++) {
		struct routing_chain *c = &ri->chains[i];

		c->chain_id = c3_dec_u32(&d);
		c->version = c3_dec_u32(&d);
		c->ntargets = c3_dec_count(&d, ROUTING_MAX_REPLICAS, 4);
		for (uint32_t k = 0; k < c->ntargets; k++)
			c->targets[k] = c3_dec_u32(&d);
		ri->nchains = i + 1;
	}

	cnt = c3_dec_count(&d, ROUTING_MAX_TABLES, TABLE_MIN_BYTES);
	if (cnt) {
		ri->tables = calloc(cnt, sizeof(*ri->tables));
		if (!ri->tables)
			goto nomem;
	}
	for (uint32_t i = 0; i < cnt && !d.err; i++) {
		struct routing_chain_table *tb = &ri->tables[i];
		uint32_t nc;

		ri->ntables = i + 1;
		tb->table_id = c3_dec_u32(&d);
		tb->version = c3_dec_u32(&d);
		c3_dec_str(&d, tb->name, sizeof(tb->name));
		nc = c3_dec_count(&d, ROUTING_MAX_CHAINS, 4);
		if (nc) {
			tb->chains = malloc(sizeof(uint32_t) * nc);
			if (!tb->chains)
				goto nomem;
		}
		for (uint32_t k = 0; k < nc; k++)
			tb->chains[k] = c3_dec_u32(&d);
		tb->nchains = nc;
	}

	/* the trailer, when the encoder had it */
	if (!d.err && c3_dec_left(&d) > 0 && c3_dec_u32(&d) == ri->ntargets) {
		for (uint32_t i = 0; i < ri->ntargets; i++) {
			struct routing_target *t = &ri->targets[i];

			t->sync_done_chunks = c3_dec_u64(&d);
			t->sync_total_chunks = c3_dec_u64(&d);
			t->sync_rate_bps = c3_dec_u64(&d);
			t->corrupt_found = c3_dec_u64(&d);
			t->corrupt_repaired = c3_dec_u64(&d);
			t->scrub_last_ms = c3_dec_u64(&d);
		}
		if (!d.err && c3_dec_left(&d) > 0 && c3_dec_u32(&d) == ri->ntargets) {
			for (uint32_t i = 0; i < ri->ntargets; i++) {
				struct routing_target *t = &ri->targets[i];

				t->read_bytes = c3_dec_u64(&d);
				t->read_ops = c3_dec_u64(&d);
				t->write_bytes = c3_dec_u64(&d);
				t->write_ops = c3_dec_u64(&d);
			}
		}
	}

	if (c3_dec_finish(&d))
		goto fail;
	rc = routing_validate(ri);
	if (rc)
		goto fail;
	return ri;
nomem:
	rc = -ENOMEM;
fail:
	routing_free(ri);
	*err = rc;
	return NULL;
}

int mgmtd_get_routing_resp_decode(const void *p, size_t n, struct mgmtd_get_routing_resp *m)
{
	const uint8_t *body;
	size_t blen;
	int err = mgmtd_get_routing_resp_split(p, n, &m->version, &body, &blen);

	m->ri = NULL;
	if (err || !body)
		return err;
	m->ri = routing_decode(body, blen, &err);
	if (!m->ri)
		return err;
	if (m->ri->version != m->version) {
		routing_unref(m->ri);
		m->ri = NULL;
		return -C3FS_EBADMSG;
	}
	return 0;
}
