/* store.c — load and save mgmtd's configuration in the KV (layout in store.h). */
#include "mgmtd/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "kv/kv.h"
#include "mgmtd/lease.h"
#include "net/codec.h"

#define K_VERSION "mgmtd/version"
#define K_NEXT_CLIENT "mgmtd/next_client"
#define P_NODE "mgmtd/node/"
#define P_TARGET "mgmtd/target/"
#define P_CHAIN "mgmtd/chain/"
#define P_TABLE "mgmtd/table/"

size_t mgmtd_store_key(uint8_t *buf, const char *prefix, uint32_t id)
{
	size_t n = strlen(prefix);

	memcpy(buf, prefix, n);
	kv_put_be32(buf + n, id);
	return n + 4;
}

/* Range end of a prefix: the prefix with its last byte + 1 ('/' -> '0'). */
static size_t prefix_end(uint8_t *buf, const char *prefix)
{
	size_t n = strlen(prefix);

	memcpy(buf, prefix, n);
	buf[n - 1]++;
	return n;
}

/* ------------------------------------------------------------------ load */

struct load_arg {
	struct mgmtd_state *st;
	char *err;
	size_t errlen;
};

static int load_range(struct kv_txn *txn, const char *prefix, struct kv_pair **pairs)
{
	uint8_t end[32];
	size_t elen = prefix_end(end, prefix);
	bool more = false;

	return kv_range(txn, prefix, strlen(prefix), end, elen, 0, false, pairs, &more);
}

static int bad_record(struct load_arg *a, const char *what, uint32_t id)
{
	snprintf(a->err, a->errlen, "corrupt %s record %u in the KV", what, id);
	return -C3FS_EBADMSG;
}

/* id from a key, or 0 when the key is not prefix + 4 bytes */
static uint32_t id_of(const struct kv_pair *p, const char *prefix)
{
	size_t n = strlen(prefix);

	if (p->klen != n + 4)
		return 0;
	return kv_get_be32(p->key + n);
}

/* One record of a kind, id from its key, value in d: decoded and added to a->st.  0,
 * -C3FS_EBADMSG (bad_record) or -ENOMEM. */
typedef int (*load_one_fn)(struct load_arg *a, uint32_t id, struct c3_dec *d);

/* Every record under prefix, through one. */
static int load_kind(struct kv_txn *txn, struct load_arg *a, const char *prefix,
		     load_one_fn one)
{
	struct kv_pair *pairs;
	int n = load_range(txn, prefix, &pairs);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct c3_dec d;
		int rc;

		c3_dec_init(&d, pairs[i].val, pairs[i].vlen);
		rc = one(a, id_of(&pairs[i], prefix), &d);
		if (rc)
			return rc;
	}
	return 0;
}

static int load_node(struct load_arg *a, uint32_t id, struct c3_dec *d)
{
	struct mgmtd_node nd;

	memset(&nd, 0, sizeof(nd));
	nd.id = id;
	nd.type = c3_dec_u8(d);
	nd.maintenance = c3_dec_bool(d);
	c3_dec_str(d, nd.addr, sizeof(nd.addr));
	c3_dec_str(d, nd.hostname, sizeof(nd.hostname));
	nd.incarnation = c3_dec_u64(d);
	if (c3_dec_left(d) >= 4) /* records written before the pid was kept lack it */
		nd.pid = c3_dec_u32(d);
	if (d->err || nd.id == 0 || nd.type < NODE_META || nd.type > NODE_STORAGE)
		return bad_record(a, "node", nd.id);
	return mgmtd_state_add_node(a->st, &nd) ? 0 : -ENOMEM;
}

static int load_target(struct load_arg *a, uint32_t id, struct c3_dec *d)
{
	struct mgmtd_target t;

	memset(&t, 0, sizeof(t));
	t.id = id;
	t.node_id = c3_dec_u32(d);
	t.chain_id = c3_dec_u32(d);
	t.state = c3_dec_u8(d);
	t.admin_hold = c3_dec_bool(d);
	if (d->err || t.id == 0 || t.state < TARGET_SERVING || t.state > TARGET_OFFLINE)
		return bad_record(a, "target", t.id);
	return mgmtd_state_add_target(a->st, &t) ? 0 : -ENOMEM;
}

static int load_chain(struct load_arg *a, uint32_t id, struct c3_dec *d)
{
	struct mgmtd_chain c;

	memset(&c, 0, sizeof(c));
	c.id = id;
	c.version = c3_dec_u32(d);
	c.n = c3_dec_count(d, ROUTING_MAX_REPLICAS, 4);
	for (uint32_t k = 0; k < c.n; k++)
		c.targets[k] = c3_dec_u32(d);
	if (d->err || c.id == 0 || c.n == 0)
		return bad_record(a, "chain", c.id);
	return mgmtd_state_add_chain(a->st, &c) ? 0 : -ENOMEM;
}

static int load_table(struct load_arg *a, uint32_t id, struct c3_dec *d)
{
	struct mgmtd_table tb;

	memset(&tb, 0, sizeof(tb));
	tb.id = id;
	tb.version = c3_dec_u32(d);
	c3_dec_str(d, tb.name, sizeof(tb.name));
	tb.n = c3_dec_count(d, ROUTING_MAX_CHAINS, 4);
	if (d->err || tb.id == 0)
		return bad_record(a, "table", tb.id);
	if (tb.n) {
		tb.chains = malloc(sizeof(uint32_t) * tb.n);
		if (!tb.chains)
			return -ENOMEM;
		for (uint32_t k = 0; k < tb.n; k++)
			tb.chains[k] = c3_dec_u32(d);
		if (d->err) {
			free(tb.chains);
			return bad_record(a, "table", tb.id);
		}
	}
	return mgmtd_state_add_table(a->st, &tb) ? 0 : -ENOMEM;
}

static int load_fn(struct kv_txn *txn, void *arg)
{
	struct load_arg *a = arg;
	struct mgmtd_state *st = a->st;
	const uint8_t *v;
	size_t vlen;
	int rc;

	rc = kv_get(txn, K_VERSION, strlen(K_VERSION), &v, &vlen);
	if (rc == 0) {
		if (vlen != 8) {
			snprintf(a->err, a->errlen, "corrupt %s", K_VERSION);
			return -C3FS_EBADMSG;
		}
		{
			struct c3_dec d;

			c3_dec_init(&d, v, vlen);
			st->version = c3_dec_u64(&d);
		}
	} else if (rc != -ENOENT) {
		return rc;
	}
	rc = kv_get(txn, K_NEXT_CLIENT, strlen(K_NEXT_CLIENT), &v, &vlen);
	if (rc == 0) {
		struct c3_dec d;

		c3_dec_init(&d, v, vlen);
		st->next_client_id = c3_dec_u32(&d);
		if (d.err || st->next_client_id < MGMTD_CLIENT_ID_BASE) {
			snprintf(a->err, a->errlen, "corrupt %s", K_NEXT_CLIENT);
			return -C3FS_EBADMSG;
		}
	} else if (rc != -ENOENT) {
		return rc;
	}

	rc = load_kind(txn, a, P_NODE, load_node);
	if (rc == 0)
		rc = load_kind(txn, a, P_TARGET, load_target);
	if (rc == 0)
		rc = load_kind(txn, a, P_CHAIN, load_chain);
	if (rc == 0)
		rc = load_kind(txn, a, P_TABLE, load_table);
	return rc;
}

int mgmtd_store_load(struct kv_db *db, struct mgmtd_state *st, char *err, size_t errlen)
{
	struct load_arg a = { st, err, errlen };
	struct routing_info *ri;
	int rc;

	err[0] = '\0';
	rc = kv_run(db, true, load_fn, &a);
	if (rc < 0)
		return rc;
	/* the whole must be consistent: chains name existing targets that point back, ... */
	ri = mgmtd_state_snapshot(st, 0);
	if (!ri)
		return -ENOMEM;
	/* nodes are not alive yet; only their states differ, which validate accepts */
	for (uint32_t i = 0; i < ri->nnodes; i++)
		ri->nodes[i].state = NODE_UP;
	rc = routing_validate(ri);
	routing_unref(ri);
	if (rc) {
		snprintf(err, errlen, "stored configuration is inconsistent (chains, targets and "
			 "tables do not match)");
		return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------ save */

struct save_arg {
	struct mgmtd_state *st;
	uint64_t instance, now_ms;
};

static int put(struct kv_txn *txn, const void *k, size_t klen, struct c3_buf *b)
{
	int rc = b->err ? b->err : kv_set(txn, k, klen, b->data, b->len);

	c3_buf_reset(b);
	return rc;
}

static int save_fn(struct kv_txn *txn, void *arg)
{
	struct save_arg *a = arg;
	struct mgmtd_state *st = a->st;
	struct c3_buf b = C3_BUF_INIT;
	uint8_t key[32];
	int rc = 0;

	if (a->instance) {
		rc = mgmtd_lease_check(txn, a->instance, a->now_ms);
		if (rc)
			return rc;
	}
	c3_enc_u64(&b, st->version);
	rc = put(txn, K_VERSION, strlen(K_VERSION), &b);
	if (rc == 0 && st->counter_dirty) {
		c3_enc_u32(&b, st->next_client_id);
		rc = put(txn, K_NEXT_CLIENT, strlen(K_NEXT_CLIENT), &b);
	}
	if (rc == 0 && st->gone_node)
		rc = kv_clear(txn, key, mgmtd_store_key(key, P_NODE, st->gone_node));
	for (uint32_t i = 0; i < st->ngone_targets && rc == 0; i++)
		rc = kv_clear(txn, key, mgmtd_store_key(key, P_TARGET, st->gone_targets[i]));
	for (uint32_t i = 0; i < st->nnodes && rc == 0; i++) {
		const struct mgmtd_node *n = &st->nodes[i];

		if (!n->dirty || n->type == NODE_CLIENT)
			continue;
		c3_enc_u8(&b, n->type);
		c3_enc_bool(&b, n->maintenance);
		c3_enc_str(&b, n->addr);
		c3_enc_str(&b, n->hostname);
		c3_enc_u64(&b, n->incarnation);
		c3_enc_u32(&b, n->pid);
		rc = put(txn, key, mgmtd_store_key(key, P_NODE, n->id), &b);
	}
	for (uint32_t i = 0; i < st->ntargets && rc == 0; i++) {
		const struct mgmtd_target *t = &st->targets[i];

		if (!t->dirty)
			continue;
		c3_enc_u32(&b, t->node_id);
		c3_enc_u32(&b, t->chain_id);
		c3_enc_u8(&b, t->state);
		c3_enc_bool(&b, t->admin_hold);
		rc = put(txn, key, mgmtd_store_key(key, P_TARGET, t->id), &b);
	}
	for (uint32_t i = 0; i < st->nchains && rc == 0; i++) {
		const struct mgmtd_chain *c = &st->chains[i];

		if (!c->dirty)
			continue;
		c3_enc_u32(&b, c->version);
		c3_enc_u32(&b, c->n);
		for (uint32_t k = 0; k < c->n; k++)
			c3_enc_u32(&b, c->targets[k]);
		rc = put(txn, key, mgmtd_store_key(key, P_CHAIN, c->id), &b);
	}
	for (uint32_t i = 0; i < st->ntables && rc == 0; i++) {
		const struct mgmtd_table *tb = &st->tables[i];

		if (!tb->dirty)
			continue;
		c3_enc_u32(&b, tb->version);
		c3_enc_str(&b, tb->name);
		c3_enc_u32(&b, tb->n);
		for (uint32_t k = 0; k < tb->n; k++)
			c3_enc_u32(&b, tb->chains[k]);
		rc = put(txn, key, mgmtd_store_key(key, P_TABLE, tb->id), &b);
	}
	c3_buf_release(&b);
	return rc;
}

int mgmtd_store_save(struct kv_db *db, struct mgmtd_state *st, uint64_t instance,
		     uint64_t now_wall_ms)
{
	struct save_arg a = { st, instance, now_wall_ms };
	int rc = kv_run(db, false, save_fn, &a);

	return rc < 0 ? rc : 0;
}

int mgmtd_store_version_get(struct kv_txn *txn, const char *key, uint64_t *version)
{
	const uint8_t *val;
	size_t vlen;
	struct c3_dec d;
	int rc = kv_get(txn, key, strlen(key), &val, &vlen);

	*version = 0;
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	c3_dec_init(&d, val, vlen);
	*version = c3_dec_u64(&d);
	return c3_dec_finish(&d) ? -C3FS_EBADMSG : 0;
}

int mgmtd_store_version_bump(struct kv_txn *txn, const char *key, uint64_t *version)
{
	struct c3_buf b = C3_BUF_INIT;
	int rc = mgmtd_store_version_get(txn, key, version);

	if (rc)
		return rc;
	(*version)++;
	c3_enc_u64(&b, *version);
	rc = b.err ? b.err : kv_set(txn, key, strlen(key), b.data, b.len);
	c3_buf_release(&b);
	return rc;
}
