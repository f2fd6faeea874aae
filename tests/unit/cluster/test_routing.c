/* test_routing.c — routing snapshots: lookups, refcount, copy, codec round trip and the
 * decoder's rejection of every kind of malformed input. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/routing.h"
#include "common/errors.h"
#include "net/codec.h"
#include "tests/lib/tap.h"

/* 3 storage nodes (10,20,30) + meta 5; targets 101,102 on 10, 201,202 on 20, 301,302 on
 * 30; chain 1 = 101,201,301 (301 offline at the tail), chain 2 = 202,302,102 (all
 * serving); table 7 "default" = {1,2}. */
static struct routing_info *sample(void)
{
	struct routing_info *ri = routing_new();
	static const uint32_t node_ids[] = { 5, 10, 20, 30 };
	static const uint32_t tids[] = { 101, 102, 201, 202, 301, 302 };

	ri->version = 42;
	ri->nnodes = 4;
	ri->nodes = calloc(4, sizeof(*ri->nodes));
	for (int i = 0; i < 4; i++) {
		ri->nodes[i].node_id = node_ids[i];
		ri->nodes[i].type = i == 0 ? NODE_META : NODE_STORAGE;
		ri->nodes[i].state = NODE_UP;
		snprintf(ri->nodes[i].addr, sizeof(ri->nodes[i].addr), "127.0.0.1:%u",
			 9000 + node_ids[i]);
		ri->nodes[i].last_heartbeat_ms = 1000 + i;
	}
	ri->nodes[3].state = NODE_DOWN;
	ri->ntargets = 6;
	ri->targets = calloc(6, sizeof(*ri->targets));
	for (int i = 0; i < 6; i++) {
		struct routing_target *t = &ri->targets[i];

		t->target_id = tids[i];
		t->node_id = tids[i] / 10;
		t->state = TARGET_SERVING;
		t->local_state = TARGET_LOCAL_UPTODATE;
		t->capacity_bytes = 1ull << 40;
		t->free_bytes = (1ull << 39) + (uint64_t)i;
	}
	ri->targets[0].chain_id = 1; /* 101 */
	ri->targets[2].chain_id = 1; /* 201 */
	ri->targets[4].chain_id = 1; /* 301 */
	ri->targets[4].state = TARGET_OFFLINE;
	ri->targets[4].local_state = TARGET_LOCAL_UNKNOWN;
	ri->targets[3].chain_id = 2; /* 202 */
	ri->targets[5].chain_id = 2; /* 302 */
	ri->targets[1].chain_id = 2; /* 102 */
	ri->nchains = 2;
	ri->chains = calloc(2, sizeof(*ri->chains));
	ri->chains[0] = (struct routing_chain){ .chain_id = 1, .version = 3, .ntargets = 3,
						.targets = { 101, 201, 301 } };
	ri->chains[1] = (struct routing_chain){ .chain_id = 2, .version = 1, .ntargets = 3,
						.targets = { 202, 302, 102 } };
	ri->ntables = 1;
	ri->tables = calloc(1, sizeof(*ri->tables));
	ri->tables[0].table_id = 7;
	ri->tables[0].version = 1;
	ri->tables[0].nchains = 2;
	ri->tables[0].chains = calloc(2, sizeof(uint32_t));
	ri->tables[0].chains[0] = 2;
	ri->tables[0].chains[1] = 1;
	strcpy(ri->tables[0].name, "default");
	return ri;
}

static struct routing_info *roundtrip(const struct routing_info *ri, int *err)
{
	struct c3_buf b = C3_BUF_INIT;
	struct routing_info *out;

	routing_encode(ri, &b);
	*err = 0;
	out = routing_decode(b.data, b.len, err);
	c3_buf_release(&b);
	return out;
}

static bool same(const struct routing_info *a, const struct routing_info *b)
{
	if (a->version != b->version || a->nnodes != b->nnodes || a->ntargets != b->ntargets ||
	    a->nchains != b->nchains || a->ntables != b->ntables)
		return false;
	if (memcmp(a->nodes, b->nodes, sizeof(*a->nodes) * a->nnodes) ||
	    memcmp(a->targets, b->targets, sizeof(*a->targets) * a->ntargets) ||
	    memcmp(a->chains, b->chains, sizeof(*a->chains) * a->nchains))
		return false;
	for (uint32_t i = 0; i < a->ntables; i++) {
		if (a->tables[i].table_id != b->tables[i].table_id ||
		    a->tables[i].version != b->tables[i].version ||
		    strcmp(a->tables[i].name, b->tables[i].name) ||
		    a->tables[i].nchains != b->tables[i].nchains ||
		    memcmp(a->tables[i].chains, b->tables[i].chains,
			   4 * a->tables[i].nchains))
			return false;
	}
	return true;
}

/* Apply a mutation to a fresh sample and check that decode rejects it. */
static void expect_reject(void (*mut)(struct routing_info *), const char *name)
{
	struct routing_info *ri = sample(), *out;
	int err;

	mut(ri);
	ok(routing_validate(ri) == -C3FS_EBADMSG, name);
	out = roundtrip(ri, &err);
	ok(out == NULL && err == -C3FS_EBADMSG, "decode rejects it too");
	routing_unref(out);
	routing_unref(ri);
}

static void m_unsorted_nodes(struct routing_info *ri) { ri->nodes[0].node_id = 99; }
static void m_dup_target(struct routing_info *ri) { ri->targets[1].target_id = 101; }
static void m_zero_chain_id(struct routing_info *ri) { ri->chains[0].chain_id = 0; }
static void m_bad_state(struct routing_info *ri) { ri->targets[0].state = 9; }
static void m_bad_local(struct routing_info *ri) { ri->targets[0].local_state = 7; }
static void m_bad_node_type(struct routing_info *ri) { ri->nodes[1].type = 0; }
static void m_bad_node_state(struct routing_info *ri) { ri->nodes[1].state = 4; }
static void m_unknown_node(struct routing_info *ri) { ri->targets[0].node_id = 11; }
static void m_missing_member(struct routing_info *ri) { ri->chains[0].targets[1] = 999; }
static void m_member_wrong_chain(struct routing_info *ri) { ri->targets[0].chain_id = 2; }
static void m_dup_member(struct routing_info *ri) { ri->chains[0].targets[2] = 101; }
static void m_order(struct routing_info *ri)
{
	ri->targets[0].state = TARGET_OFFLINE; /* 101 offline at the head */
}
static void m_empty_chain(struct routing_info *ri) { ri->chains[1].ntargets = 0; }
static void m_table_unknown_chain(struct routing_info *ri) { ri->tables[0].chains[0] = 3; }
static void m_table_dup_chain(struct routing_info *ri) { ri->tables[0].chains[0] = 1; }
static void m_addr_space(struct routing_info *ri) { strcpy(ri->nodes[0].addr, "a b"); }
static void m_orphan_target_chain(struct routing_info *ri)
{
	ri->chains[0].ntargets = 2; /* 301 says chain 1 but chain 1 no longer lists it */
}

static void test_lookups(void)
{
	struct routing_info *ri = sample();
	const struct routing_chain *c1, *c2;

	ok(routing_validate(ri) == 0, "sample is valid");
	ok(routing_node_find(ri, 20) && routing_node_find(ri, 20)->node_id == 20, "node found");
	ok(routing_node_find(ri, 21) == NULL, "absent node");
	ok(routing_node_find(ri, 0) == NULL, "node 0 absent");
	ok(routing_target_find(ri, 302) && routing_target_find(ri, 302)->node_id == 30,
	   "target found");
	ok(routing_target_find(ri, 303) == NULL, "absent target");
	c1 = routing_chain_find(ri, 1);
	c2 = routing_chain_find(ri, 2);
	ok(c1 && c2 && routing_chain_find(ri, 3) == NULL, "chains");
	ok(routing_table_find(ri, 7) && routing_table_find(ri, 8) == NULL, "tables");
	is_int(routing_chain_head(ri, c1), 101, "head of chain 1");
	is_int(routing_chain_tail(ri, c1), 201, "tail of chain 1 skips the offline member");
	is_int(routing_chain_successor(ri, c1, 101), 201, "successor of head");
	is_int(routing_chain_successor(ri, c1, 201), 0, "tail has no successor (301 offline)");
	is_int(routing_chain_successor(ri, c1, 555), 0, "non-member has no successor");
	ok(routing_target_is_readable(ri, c1, 201), "serving member readable");
	ok(!routing_target_is_readable(ri, c1, 301), "offline member not readable");
	ok(!routing_target_is_readable(ri, c1, 202), "member of another chain not readable");
	is_int(routing_chain_tail(ri, c2), 102, "tail of chain 2");
	/* a syncing tail receives writes but is not the CRAQ tail */
	ri->targets[4].state = TARGET_SYNCING;
	is_int(routing_chain_successor(ri, c1, 201), 301, "syncing member takes writes");
	is_int(routing_chain_tail(ri, c1), 201, "syncing member is not the tail");
	ri->targets[0].state = TARGET_LASTSRV;
	ri->targets[2].state = TARGET_OFFLINE;
	is_int(routing_chain_head(ri, c1), 0, "no head without a serving member");
	routing_unref(ri);
}

static void test_refcount_and_dup(void)
{
	struct routing_info *ri = sample(), *cp;

	routing_ref(ri);
	is_int(ri->refs, 2, "ref");
	routing_unref(ri);
	is_int(ri->refs, 1, "unref");
	cp = routing_dup(ri);
	ok(cp && same(ri, cp), "dup is equal");
	ok(cp && cp->tables[0].chains != ri->tables[0].chains, "dup is deep");
	is_int(cp ? cp->refs : 0, 1, "dup has one ref");
	routing_unref(cp);
	routing_unref(ri);
	routing_unref(NULL);
	ok(1, "unref NULL is a no-op");
}

static void test_sort(void)
{
	struct routing_info *ri = sample();
	struct routing_node tmp = ri->nodes[0];

	ri->nodes[0] = ri->nodes[3];
	ri->nodes[3] = tmp;
	ok(routing_validate(ri) != 0, "unsorted is invalid");
	routing_sort(ri);
	ok(routing_validate(ri) == 0, "sorted again");
	routing_unref(ri);
}

static void test_codec(void)
{
	struct routing_info *ri = sample(), *out, *empty;
	struct c3_buf b = C3_BUF_INIT;
	int err, bad = 0;
	size_t legacy_len, io_len;

	out = roundtrip(ri, &err);
	ok(out && same(ri, out), "round trip");
	is_int(out ? out->refs : 0, 1, "decoded snapshot has one ref");
	routing_unref(out);

	empty = routing_new();
	out = roundtrip(empty, &err);
	ok(out && out->nnodes == 0 && out->ntables == 0, "empty snapshot round trip");
	routing_unref(out);
	routing_unref(empty);

	/* every truncation is rejected, but for the encoding before the per-target trailer
	 * (what an older mgmtd sends), which decodes with the trailer's fields zero */
	ri->targets[0].corrupt_found = 5;
	ri->targets[0].scrub_last_ms = 77;
	ri->targets[0].sync_total_chunks = 9;
	ri->targets[0].read_bytes = 1234;
	ri->targets[0].write_ops = 56;
	routing_encode(ri, &b);
	io_len = b.len - (4 + (size_t)ri->ntargets * 4 * 8);
	legacy_len = io_len - (4 + (size_t)ri->ntargets * 6 * 8);
	out = routing_decode(b.data, b.len, &err);
	ok(out && same(ri, out), "round trip with the trailer's fields");
	routing_unref(out);
	for (size_t n = 0; n < b.len; n++) {
		if (n == legacy_len || n == io_len)
			continue;
		out = routing_decode(b.data, n, &err);
		if (out || err != -C3FS_EBADMSG)
			bad++;
		routing_unref(out);
	}
	is_int(bad, 0, "every truncated encoding is rejected");
	out = routing_decode(b.data, legacy_len, &err);
	ok(out && out->ntargets == ri->ntargets && out->targets[0].corrupt_found == 0 &&
	   out->targets[0].scrub_last_ms == 0 && out->targets[0].sync_total_chunks == 0 &&
	   out->targets[0].free_bytes == ri->targets[0].free_bytes,
	   "an encoding without the trailer decodes, its fields zero");
	routing_unref(out);
	out = routing_decode(b.data, io_len, &err);
	ok(out && out->targets[0].corrupt_found == 5 && out->targets[0].read_bytes == 0 &&
	   out->targets[0].write_ops == 0,
	   "an encoding without the second trailer decodes, I/O counters zero");
	routing_unref(out);
	/* trailing bytes are ignored (forward compatibility) */
	c3_enc_u32(&b, 0xdeadbeef);
	out = routing_decode(b.data, b.len, &err);
	ok(out && same(ri, out), "trailing bytes ignored");
	routing_unref(out);
	/* a huge count is rejected before allocating */
	c3_buf_reset(&b);
	c3_enc_u64(&b, 1);
	c3_enc_u32(&b, ROUTING_MAX_NODES);
	out = routing_decode(b.data, b.len, &err);
	ok(!out && err == -C3FS_EBADMSG, "count larger than the message is rejected");
	c3_buf_reset(&b);
	c3_enc_u64(&b, 1);
	c3_enc_u32(&b, ROUTING_MAX_NODES + 1);
	out = routing_decode(b.data, b.len, &err);
	ok(!out && err == -C3FS_EBADMSG, "count over the limit is rejected");
	/* a chain with more than ROUTING_MAX_REPLICAS members */
	c3_buf_reset(&b);
	c3_enc_u64(&b, 1);
	c3_enc_u32(&b, 0);
	c3_enc_u32(&b, 0);
	c3_enc_u32(&b, 1);
	c3_enc_u32(&b, 1);
	c3_enc_u32(&b, 1);
	c3_enc_u32(&b, ROUTING_MAX_REPLICAS + 1);
	for (int i = 0; i < ROUTING_MAX_REPLICAS + 1; i++)
		c3_enc_u32(&b, (uint32_t)i + 1);
	c3_enc_u32(&b, 0);
	out = routing_decode(b.data, b.len, &err);
	ok(!out && err == -C3FS_EBADMSG, "too many replicas rejected");
	/* an address with an embedded NUL */
	c3_buf_reset(&b);
	c3_enc_u64(&b, 1);
	c3_enc_u32(&b, 1);
	c3_enc_u32(&b, 1);
	c3_enc_u8(&b, NODE_META);
	c3_enc_u8(&b, NODE_UP);
	c3_enc_bytes(&b, "a\0b", 3);
	c3_enc_u64(&b, 0);
	c3_enc_u32(&b, 0);
	c3_enc_u32(&b, 0);
	c3_enc_u32(&b, 0);
	out = routing_decode(b.data, b.len, &err);
	ok(!out && err == -C3FS_EBADMSG, "NUL inside an address rejected");
	c3_buf_release(&b);
	routing_unref(ri);

	expect_reject(m_unsorted_nodes, "unsorted node ids");
	expect_reject(m_dup_target, "duplicate target id");
	expect_reject(m_zero_chain_id, "chain id 0");
	expect_reject(m_bad_state, "target state out of range");
	expect_reject(m_bad_local, "local state out of range");
	expect_reject(m_bad_node_type, "node type out of range");
	expect_reject(m_bad_node_state, "node state out of range");
	expect_reject(m_unknown_node, "target on an unknown node");
	expect_reject(m_missing_member, "chain member does not exist");
	expect_reject(m_member_wrong_chain, "member points to another chain");
	expect_reject(m_dup_member, "duplicate chain member");
	expect_reject(m_order, "members out of state order");
	expect_reject(m_empty_chain, "empty chain");
	expect_reject(m_table_unknown_chain, "table lists an unknown chain");
	expect_reject(m_table_dup_chain, "table lists a chain twice");
	expect_reject(m_addr_space, "address with a space");
	expect_reject(m_orphan_target_chain, "target claims a chain that omits it");
}

static void test_names(void)
{
	for (int st = TARGET_SERVING; st <= TARGET_OFFLINE; st++)
		is_int(target_state_parse(target_state_name(st)), st, target_state_name(st));
	is_int(target_state_parse("bogus"), -EINVAL, "unknown state name");
	is_str(node_state_name(NODE_MAINTENANCE), "maintenance", "node state name");
	is_str(node_type_name(NODE_STORAGE), "storage", "node type name");
	is_int(node_type_parse("META"), NODE_META, "node type parse");
	is_str(target_local_state_name(TARGET_LOCAL_UNKNOWN), "unknown", "local state name");
	is_str(target_state_name(0), "?", "out of range name");
}

int main(void)
{
	test_lookups();
	test_refcount_and_dup();
	test_sort();
	test_codec();
	test_names();
	return tap_done();
}
