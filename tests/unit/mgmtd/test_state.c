/* test_state.c — mgmtd's cluster model without network or clock: registration,
 * heartbeats, node lease expiry, restart with a new incarnation, sync gating on the
 * routing version, admin operations, persistence round trip and takeover neutrality. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "kv/kv.h"
#include "mgmtd/state.h"
#include "mgmtd/store.h"
#include "tests/lib/tap.h"

#define LEASE 1000

static int reg(struct mgmtd_state *st, uint8_t type, uint32_t id, uint64_t inc, uint64_t now,
	       uint32_t *assigned)
{
	struct mgmtd_register_req q;
	struct mgmtd_register_resp r;
	int rc;

	memset(&q, 0, sizeof(q));
	q.node_type = type;
	q.node_id = id;
	q.incarnation = inc;
	q.pid = 4000 + id % 1000;
	snprintf(q.addr, sizeof(q.addr), "127.0.0.1:%u", 9000 + id % 1000);
	rc = mgmtd_state_register(st, &q, now, now, &r);
	if (assigned)
		*assigned = r.node_id;
	return rc;
}

/* storage node id with targets id*100+1, id*100+2 all reporting `local` */
static int hb(struct mgmtd_state *st, uint32_t id, uint64_t inc, uint64_t seq, uint64_t now,
	      uint8_t l1, uint8_t l2, uint64_t rv)
{
	struct cluster_target_report reps[2] = {
		{ .target_id = id * 100 + 1, .local_state = l1, .capacity_bytes = 1000,
		  .free_bytes = 500 },
		{ .target_id = id * 100 + 2, .local_state = l2, .capacity_bytes = 1000,
		  .free_bytes = 400 },
	};
	struct mgmtd_heartbeat_req q = { id, inc, seq, rv, 2, reps };

	return mgmtd_state_heartbeat(st, &q, now, now);
}

/* commit simulation: bump + clear flags */
static void commit(struct mgmtd_state *st)
{
	mgmtd_state_bump(st);
	mgmtd_state_committed(st);
}

static uint8_t tstate(struct mgmtd_state *st, uint32_t id)
{
	struct mgmtd_target *t = mgmtd_state_target(st, id);

	return t ? t->state : 0;
}

static void chain_str(struct mgmtd_state *st, uint32_t cid, char *buf, size_t n)
{
	struct mgmtd_chain *c = mgmtd_state_chain(st, cid);
	size_t off = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; c && i < c->n; i++)
		off += (size_t)snprintf(buf + off, n - off, "%s%u:%s", i ? " " : "",
					c->targets[i], target_state_name(tstate(st, c->targets[i])));
}

static void setup(struct mgmtd_state *st)
{
	struct mgmtd_create_table_req ct;
	struct mgmtd_create_table_resp ctr;

	mgmtd_state_init(st, LEASE);
	for (uint32_t n = 1; n <= 3; n++) {
		reg(st, NODE_STORAGE, n, 100 + n, 0, NULL);
		hb(st, n, 100 + n, 1, 0, TARGET_LOCAL_UPTODATE, TARGET_LOCAL_UPTODATE, 0);
	}
	commit(st);
	memset(&ct, 0, sizeof(ct));
	ct.replicas = 3;
	snprintf(ct.name, sizeof(ct.name), "default");
	mgmtd_state_create_table(st, &ct, &ctr);
	commit(st);
}

static void test_membership(void)
{
	struct mgmtd_state st;
	uint32_t id = 0, id2 = 0;
	char buf[256];

	setup(&st);
	is_int(st.ntargets, 6, "targets created from heartbeats");
	is_int(st.nchains, 2, "two chains of three");
	chain_str(&st, 1, buf, sizeof(buf));
	is_str(buf, "101:serving 201:serving 301:serving", "chain 1 all serving");
	ok(st.tables[0].version == 1 && strcmp(st.tables[0].name, "default") == 0, "table 1");

	is_int(reg(&st, NODE_META, 1, 5, 0, NULL), -EINVAL, "id of a storage node as meta");
	is_int(reg(&st, NODE_CLIENT, 0, 7, 0, &id), 0, "client gets an id");
	ok(id >= MGMTD_CLIENT_ID_BASE, "client id from the client range");
	reg(&st, NODE_CLIENT, 0, 8, 0, &id2);
	ok(id2 == id + 1, "next client id");
	st.routing_dirty = false;
	is_int(hb(&st, 9, 1, 1, 0, 1, 1, 0), -C3FS_ELEASE, "unknown node: register again");
	is_int(hb(&st, 1, 999, 2, 0, 1, 1, 0), -C3FS_ELEASE, "stale incarnation refused");

	/* node 2 silent: its lease expires at LEASE ms */
	for (uint32_t n = 1; n <= 3; n += 2)
		hb(&st, n, 100 + n, 2, 900, TARGET_LOCAL_UPTODATE, TARGET_LOCAL_UPTODATE, 0);
	commit(&st);
	mgmtd_state_expire(&st, 999);
	ok(!st.routing_dirty, "not expired before the lease");
	mgmtd_state_expire(&st, 1000);
	ok(st.routing_dirty, "expiry changes routing");
	ok(!mgmtd_state_node(&st, 2)->alive, "node 2 down");
	chain_str(&st, 1, buf, sizeof(buf));
	is_str(buf, "101:serving 301:serving 201:offline", "its target left the serving part");
	is_int(mgmtd_state_chain(&st, 1)->version, 2, "chain version bumped");
	commit(&st);

	/* node 2 restarts with a new incarnation; first heartbeat says online */
	is_int(reg(&st, NODE_STORAGE, 2, 202, 1100, NULL), 0, "restart registers");
	chain_str(&st, 1, buf, sizeof(buf));
	is_str(buf, "101:serving 301:serving 201:offline", "still offline until it reports");
	commit(&st);
	hb(&st, 2, 202, 1, 1100, TARGET_LOCAL_ONLINE, TARGET_LOCAL_ONLINE, st.version);
	chain_str(&st, 1, buf, sizeof(buf));
	is_str(buf, "101:serving 301:serving 201:syncing", "back as syncing");
	commit(&st);
	/* an uptodate report from a node that has not seen the SYNCING version is not enough */
	hb(&st, 2, 202, 2, 1200, TARGET_LOCAL_UPTODATE, TARGET_LOCAL_UPTODATE,
	   st.version - 1);
	is_int(tstate(&st, 201), TARGET_SYNCING, "stale uptodate does not finish the sync");
	hb(&st, 2, 202, 3, 1300, TARGET_LOCAL_UPTODATE, TARGET_LOCAL_UPTODATE, st.version);
	is_int(tstate(&st, 201), TARGET_SERVING, "uptodate after seeing syncing: serving");
	chain_str(&st, 1, buf, sizeof(buf));
	is_str(buf, "101:serving 301:serving 201:serving", "chain healthy again, 201 is tail");
	commit(&st);

	/* a restart while alive (lease not expired) is a failure of the old process first */
	reg(&st, NODE_STORAGE, 3, 303, 1400, NULL);
	chain_str(&st, 1, buf, sizeof(buf));
	is_str(buf, "101:serving 201:serving 301:offline",
	       "new incarnation: old targets offline at once");
	/* another process claiming live node 3's id from another address is refused */
	{
		struct mgmtd_register_req q;
		struct mgmtd_register_resp r;

		memset(&q, 0, sizeof(q));
		q.node_type = NODE_STORAGE;
		q.node_id = 3;
		q.incarnation = 999;
		snprintf(q.addr, sizeof(q.addr), "127.0.0.1:1");
		is_int(mgmtd_state_register(&st, &q, 1400, 1400, &r), -EEXIST,
		       "duplicate node id from another address refused while alive");
		is_int(mgmtd_state_node(&st, 3)->incarnation, 303, "the live one keeps the id");
	}
	/* a delayed duplicate heartbeat of the old incarnation is refused */
	is_int(hb(&st, 3, 103, 9, 1400, 1, 1, 0), -C3FS_ELEASE, "old incarnation refused");
	/* a target reported by the wrong node is ignored */
	{
		struct cluster_target_report rep[3] = {
			{ .target_id = 101, .local_state = TARGET_LOCAL_FAILED, .capacity_bytes = 1,
			  .free_bytes = 1 },
			{ .target_id = 201, .local_state = TARGET_LOCAL_UPTODATE,
			  .capacity_bytes = 1, .free_bytes = 1 },
			{ .target_id = 202, .local_state = TARGET_LOCAL_UPTODATE,
			  .capacity_bytes = 1, .free_bytes = 1 } };
		struct mgmtd_heartbeat_req q = { 2, 202, 10, st.version, 3, rep };

		mgmtd_state_heartbeat(&st, &q, 1400, 1400);
		is_int(tstate(&st, 101), TARGET_SERVING, "foreign target report ignored");
	}
	/* targets no longer reported count as gone */
	{
		struct cluster_target_report rep = { .target_id = 101,
						     .local_state = TARGET_LOCAL_UPTODATE,
						     .capacity_bytes = 1, .free_bytes = 1 };
		struct mgmtd_heartbeat_req q = { 1, 101, 10, st.version, 1, &rep };

		mgmtd_state_heartbeat(&st, &q, 1400, 1400);
		is_int(tstate(&st, 102), TARGET_OFFLINE, "unreported target offline");
	}
	/* clients expire and are forgotten after 10 leases */
	mgmtd_state_expire(&st, 1400 + 10 * LEASE);
	ok(mgmtd_state_node(&st, id) == NULL, "silent client forgotten");
	ok(mgmtd_state_node(&st, 1) != NULL, "servers are never forgotten");
	mgmtd_state_release(&st);
}

static const struct routing_target *snap_target(struct routing_info *ri, uint32_t id)
{
	return ri ? routing_target_find(ri, id) : NULL;
}

/* Sync progress comes from the predecessor's report (sync_target) and is shown on the
 * syncing target; corruption and scrub figures come from the target's own report. */
static void test_sync_progress(void)
{
	struct mgmtd_state st;
	struct routing_info *ri;
	const struct routing_target *t;
	char buf[256];

	setup(&st);
	for (uint32_t n = 1; n <= 3; n += 2)
		hb(&st, n, 100 + n, 2, 900, TARGET_LOCAL_UPTODATE, TARGET_LOCAL_UPTODATE, 0);
	commit(&st);
	mgmtd_state_expire(&st, 1000);
	commit(&st);
	reg(&st, NODE_STORAGE, 2, 202, 1100, NULL);
	commit(&st);
	hb(&st, 2, 202, 1, 1100, TARGET_LOCAL_ONLINE, TARGET_LOCAL_ONLINE, st.version);
	commit(&st);
	chain_str(&st, 1, buf, sizeof(buf));
	is_str(buf, "101:serving 301:serving 201:syncing", "201 syncing from 301");
	{
		struct cluster_target_report rep[2] = {
			{ .target_id = 301, .local_state = TARGET_LOCAL_UPTODATE,
			  .corrupt_found = 4, .corrupt_repaired = 3, .scrub_last_ms = 5555,
			  .sync_target = 201, .out_done_chunks = 10, .out_total_chunks = 40,
			  .out_done_bytes = 10 << 20, .out_total_bytes = 40 << 20,
			  .out_rate_bps = 1 << 20 },
			{ .target_id = 302, .local_state = TARGET_LOCAL_UPTODATE,
			  .sync_target = 101 /* serving: not a sync, ignored */,
			  .out_done_chunks = 7, .out_total_chunks = 7 } };
		struct mgmtd_heartbeat_req q = { 3, 103, 3, st.version, 2, rep };

		mgmtd_state_heartbeat(&st, &q, 1200, 1200);
	}
	ok(st.stats_dirty, "progress figures mark the snapshot stale");
	/* the syncing node's own report (zeros) does not clear what its predecessor said */
	hb(&st, 2, 202, 2, 1200, TARGET_LOCAL_ONLINE, TARGET_LOCAL_ONLINE, st.version);
	ri = mgmtd_state_snapshot(&st, 1200);
	t = snap_target(ri, 201);
	ok(t && t->sync_done_chunks == 10 && t->sync_total_chunks == 40 &&
	   t->sync_done_bytes == 10 << 20 && t->sync_total_bytes == 40 << 20 &&
	   t->sync_rate_bps == 1 << 20, "the syncing target shows its predecessor's progress");
	t = snap_target(ri, 301);
	ok(t && t->corrupt_found == 4 && t->corrupt_repaired == 3 && t->scrub_last_ms == 5555 &&
	   t->sync_total_chunks == 0, "the predecessor shows its own corruption and scrub figures");
	t = snap_target(ri, 101);
	ok(t && t->sync_total_chunks == 0, "progress named for a serving target is ignored");
	routing_unref(ri);
	commit(&st);
	hb(&st, 2, 202, 3, 1300, TARGET_LOCAL_UPTODATE, TARGET_LOCAL_UPTODATE, st.version);
	is_int(tstate(&st, 201), TARGET_SERVING, "sync done: serving");
	ri = mgmtd_state_snapshot(&st, 1300);
	t = snap_target(ri, 201);
	ok(t && t->sync_total_chunks == 0 && t->sync_total_bytes == 0,
	   "a serving target shows no sync progress");
	routing_unref(ri);
	mgmtd_state_release(&st);
}

static void test_lastsrv(void)
{
	struct mgmtd_state st;
	char buf[256];

	setup(&st);
	/* nodes die one after the other: 3, then 2, then 1 */
	hb(&st, 1, 101, 2, 500, 1, 1, 0);
	hb(&st, 2, 102, 2, 500, 1, 1, 0);
	mgmtd_state_expire(&st, 1000);
	hb(&st, 1, 101, 3, 1200, 1, 1, 0);
	mgmtd_state_expire(&st, 1500);
	mgmtd_state_expire(&st, 2200);
	chain_str(&st, 1, buf, sizeof(buf));
	is_str(buf, "101:lastsrv 201:offline 301:offline", "last one to die is lastsrv");
	/* 2 and 3 come back: they must wait for the last server */
	reg(&st, NODE_STORAGE, 2, 2002, 2300, NULL);
	reg(&st, NODE_STORAGE, 3, 2003, 2300, NULL);
	hb(&st, 2, 2002, 1, 2300, TARGET_LOCAL_UPTODATE, TARGET_LOCAL_UPTODATE, st.version);
	hb(&st, 3, 2003, 1, 2300, TARGET_LOCAL_ONLINE, TARGET_LOCAL_ONLINE, st.version);
	chain_str(&st, 1, buf, sizeof(buf));
	is_str(buf, "101:lastsrv 201:waiting 301:waiting", "others wait for the lastsrv");
	/* chain 2 had the same fate; its lastsrv's disk is declared lost by the operator */
	chain_str(&st, 2, buf, sizeof(buf));
	ok(strncmp(buf, "102:lastsrv", 11) == 0 || strncmp(buf, "202:lastsrv", 11) == 0 ||
	   strncmp(buf, "302:lastsrv", 11) == 0, "chain 2 waits on its lastsrv");
	is_int(mgmtd_state_rotate_lastsrv(&st, 1), 0, "rotate-lastsrv on chain 1");
	chain_str(&st, 1, buf, sizeof(buf));
	is_str(buf, "201:serving 301:syncing 101:offline",
	       "next member promoted and serving, old lastsrv offline at the tail");
	is_int(mgmtd_state_rotate_lastsrv(&st, 1), -EINVAL, "no lastsrv left to rotate");
	is_int(mgmtd_state_rotate_lastsrv(&st, 99), -ENOENT, "unknown chain");
	reg(&st, NODE_STORAGE, 1, 2001, 2400, NULL);
	hb(&st, 1, 2001, 1, 2400, TARGET_LOCAL_ONLINE, TARGET_LOCAL_ONLINE, st.version);
	chain_str(&st, 1, buf, sizeof(buf));
	is_str(buf, "201:serving 301:syncing 101:waiting",
	       "the old lastsrv returns as a stale replica: waits to sync");
	mgmtd_state_release(&st);
}

static void test_admin_ops(void)
{
	struct mgmtd_state st;
	struct mgmtd_create_table_req ct;
	struct mgmtd_create_table_resp ctr;
	uint32_t tids[2] = { 101, 999 };
	char buf[256];

	setup(&st);
	is_int(mgmtd_state_set_node_state(&st, 2, NODE_MAINTENANCE), 0, "offline-node");
	chain_str(&st, 1, buf, sizeof(buf));
	is_str(buf, "101:serving 301:serving 201:offline", "maintenance takes targets out");
	is_int(mgmtd_node_public_state(mgmtd_state_node(&st, 2)), NODE_MAINTENANCE,
	       "node shows maintenance");
	is_int(mgmtd_state_set_node_state(&st, 2, NODE_UP), 0, "online-node");
	is_int(tstate(&st, 201), TARGET_SYNCING, "back online: syncing");
	is_int(mgmtd_state_set_node_state(&st, 77, NODE_UP), -ENOENT, "unknown node");

	is_int(mgmtd_state_set_target_state(&st, 201, TARGET_SERVING), 0,
	       "admin declares a syncing target up to date");
	is_int(tstate(&st, 201), TARGET_SERVING, "serving");
	is_int(mgmtd_state_set_target_state(&st, 301, TARGET_OFFLINE), 0, "hold 301 offline");
	is_int(mgmtd_state_set_target_state(&st, 201, TARGET_OFFLINE), 0, "hold 201 offline");
	chain_str(&st, 1, buf, sizeof(buf));
	is_str(buf, "101:serving 201:offline 301:offline", "held targets offline");
	is_int(mgmtd_state_set_target_state(&st, 101, TARGET_OFFLINE), -EBUSY,
	       "the last serving replica cannot be taken offline");
	hb(&st, 3, 103, 5, 100, 1, 1, st.version);
	is_int(tstate(&st, 301), TARGET_OFFLINE, "a hold survives heartbeats");
	is_int(mgmtd_state_set_target_state(&st, 301, TARGET_SERVING), 0, "lift hold");
	is_int(tstate(&st, 301), TARGET_SYNCING, "lifted: syncs back");
	is_int(mgmtd_state_set_target_state(&st, 301, TARGET_WAITING), -EINVAL,
	       "other states cannot be set");
	is_int(mgmtd_state_set_target_state(&st, 999, TARGET_OFFLINE), -ENOENT, "unknown target");

	memset(&ct, 0, sizeof(ct));
	ct.replicas = 2;
	is_int(mgmtd_state_create_table(&st, &ct, &ctr), -ENOENT, "no unused targets left");
	ct.ntargets = 2;
	ct.targets = tids;
	tids[1] = 102;
	is_int(mgmtd_state_create_table(&st, &ct, &ctr), -EBUSY, "targets already in chains");
	tids[0] = 999;
	is_int(mgmtd_state_create_table(&st, &ct, &ctr), -ENOENT, "unknown target");

	/* a fourth node: its two targets + replicas 1 grow table 1 to version 2 */
	reg(&st, NODE_STORAGE, 4, 104, 100, NULL);
	hb(&st, 4, 104, 1, 100, TARGET_LOCAL_UPTODATE, TARGET_LOCAL_ONLINE, st.version);
	memset(&ct, 0, sizeof(ct));
	ct.replicas = 1;
	ct.table_id = 1;
	is_int(mgmtd_state_create_table(&st, &ct, &ctr), 0, "grow table 1");
	ok(ctr.table_id == 1 && ctr.table_version == 2 && ctr.nchains_added == 2,
	   "table 1 version 2 with 2 more chains");
	is_int(mgmtd_state_table(&st, 1)->n, 4, "table lists 4 chains");
	mgmtd_state_release(&st);
}

static void test_store(void)
{
	struct mgmtd_state st, st2;
	struct kv_db *db;
	struct routing_info *a, *b;
	char err[256];
	struct c3_buf ea = C3_BUF_INIT, eb = C3_BUF_INIT;

	if (kv_db_open("mem:", &db) != 0) {
		ok(0, "open mem: KV");
		return;
	}
	setup(&st);
	mgmtd_state_set_node_state(&st, 3, NODE_MAINTENANCE);
	mgmtd_state_set_target_state(&st, 102, TARGET_OFFLINE);
	/* mark everything dirty as a fresh leader's first commit would have written it */
	for (uint32_t i = 0; i < st.nnodes; i++)
		st.nodes[i].dirty = true;
	for (uint32_t i = 0; i < st.ntargets; i++)
		st.targets[i].dirty = true;
	for (uint32_t i = 0; i < st.nchains; i++)
		st.chains[i].dirty = true;
	for (uint32_t i = 0; i < st.ntables; i++)
		st.tables[i].dirty = true;
	st.counter_dirty = true;
	st.routing_dirty = true;
	mgmtd_state_bump(&st);
	is_int(mgmtd_store_save(db, &st, 0, 0), 0, "save");
	is_int(mgmtd_store_save(db, &st, 42, 0), -C3FS_ENOTLEADER,
	       "save without the lease is refused");
	mgmtd_state_committed(&st);

	mgmtd_state_init(&st2, LEASE);
	is_int(mgmtd_store_load(db, &st2, err, sizeof(err)), 0, "load");
	ok(st2.version == st.version, "version persisted");
	ok(mgmtd_state_node(&st2, 3) && mgmtd_state_node(&st2, 3)->maintenance,
	   "maintenance persisted");
	ok(mgmtd_state_target(&st2, 102) && mgmtd_state_target(&st2, 102)->admin_hold,
	   "admin hold persisted");
	ok(mgmtd_state_node(&st2, 1)->incarnation == 101, "incarnation persisted");
	is_int(mgmtd_state_node(&st2, 1)->pid, 4001, "pid persisted (list-nodes after a failover)");
	/* after a takeover, nothing changes until heartbeats say so */
	mgmtd_state_takeover(&st2, 5000, 0);
	ok(!mgmtd_state_reconfigure(&st2), "takeover is neutral: no chain changes");
	a = mgmtd_state_snapshot(&st, 0);
	b = mgmtd_state_snapshot(&st2, 0);
	/* compare chains, targets' public states and tables through the encoding, with the
	 * runtime-only fields cleared */
	for (uint32_t i = 0; i < a->ntargets; i++) {
		a->targets[i].local_state = b->targets[i].local_state = 0;
		a->targets[i].free_bytes = a->targets[i].capacity_bytes = 0;
		b->targets[i].free_bytes = b->targets[i].capacity_bytes = 0;
	}
	for (uint32_t i = 0; i < a->nnodes; i++) {
		a->nodes[i].state = b->nodes[i].state = NODE_UP;
		a->nodes[i].last_heartbeat_ms = b->nodes[i].last_heartbeat_ms = 0;
	}
	routing_encode(a, &ea);
	routing_encode(b, &eb);
	ok(ea.len == eb.len && memcmp(ea.data, eb.data, ea.len) == 0,
	   "reloaded configuration equals the saved one");
	c3_buf_release(&ea);
	c3_buf_release(&eb);
	routing_unref(a);
	routing_unref(b);
	/* after a takeover, a node reporting no targets at all loses their neutral state */
	{
		struct mgmtd_heartbeat_req q = { 1, 101, 1, st2.version, 0, NULL };

		is_int(mgmtd_state_heartbeat(&st2, &q, 5100, 5100), 0, "empty report accepted");
		is_int(mgmtd_state_target(&st2, 101)->local, TARGET_LOCAL_UNKNOWN,
		       "unreported target after takeover is unknown");
		is_int(tstate(&st2, 101), TARGET_OFFLINE, "and leaves the serving part");
	}
	/* silence after takeover: nodes expire a lease later */
	mgmtd_state_expire(&st2, 5000 + LEASE);
	is_int(tstate(&st2, 201), TARGET_LASTSRV,
	       "no heartbeat within a lease of the takeover: chains lose their members");

	/* a corrupt record is reported, not trusted */
	{
		struct kv_txn *txn;
		uint8_t key[32] = "mgmtd/chain/";

		kv_put_be32(key + 12, 1);
		kv_txn_begin(db, false, &txn);
		kv_set(txn, key, 16, "\x01", 1);
		kv_txn_commit(txn);
		mgmtd_state_release(&st2);
		mgmtd_state_init(&st2, LEASE);
		is_int(mgmtd_store_load(db, &st2, err, sizeof(err)), -C3FS_EBADMSG,
		       "corrupt chain record rejected");
		ok(strstr(err, "chain") != NULL, "error names the record");
	}
	mgmtd_state_release(&st2);
	mgmtd_state_release(&st);
	kv_db_close(db);
}

/* remove-node: refused while alive or in a chain; removal reaches the KV */
static void test_remove_node(void)
{
	struct mgmtd_state st, st2;
	struct kv_db *db = NULL;
	uint32_t chain = 0;
	char err[256];

	setup(&st);
	is_int(mgmtd_state_remove_node(&st, 2, &chain), -ENOTEMPTY,
	       "a node with targets in chains is refused");
	is_int((int)chain, 1, "the refusal names the chain");
	reg(&st, NODE_STORAGE, 9, 909, 0, NULL);
	hb(&st, 9, 909, 1, 0, TARGET_LOCAL_UPTODATE, TARGET_LOCAL_UPTODATE, st.version);
	commit(&st);
	ok(mgmtd_state_target(&st, 901) != NULL, "node 9 reported targets outside chains");
	is_int(mgmtd_state_remove_node(&st, 9, &chain), -EBUSY, "an alive node is refused");
	is_int(mgmtd_state_remove_node(&st, 77, &chain), -ENOENT, "unknown node");
	/* nodes 1-3 keep heartbeating, node 9 goes silent */
	for (uint64_t t = 200; t <= 2 * LEASE; t += 200)
		for (uint32_t n = 1; n <= 3; n++)
			hb(&st, n, 100 + n, t, t, TARGET_LOCAL_UPTODATE, TARGET_LOCAL_UPTODATE,
			   st.version);
	mgmtd_state_expire(&st, 2 * LEASE);
	commit(&st);
	if (kv_db_open("mem:", &db) != 0) {
		ok(0, "open mem: KV");
		mgmtd_state_release(&st);
		return;
	}
	/* persist everything, node 9 included, then remove it and commit */
	for (uint32_t i = 0; i < st.nnodes; i++)
		st.nodes[i].dirty = true;
	for (uint32_t i = 0; i < st.ntargets; i++)
		st.targets[i].dirty = true;
	for (uint32_t i = 0; i < st.nchains; i++)
		st.chains[i].dirty = true;
	for (uint32_t i = 0; i < st.ntables; i++)
		st.tables[i].dirty = true;
	st.dirty = true;
	is_int(mgmtd_store_save(db, &st, 0, 0), 0, "save with node 9");
	mgmtd_state_committed(&st);
	is_int(mgmtd_state_remove_node(&st, 9, &chain), 0, "a down node outside chains is removed");
	ok(!mgmtd_state_node(&st, 9) && !mgmtd_state_target(&st, 901) &&
	   !mgmtd_state_target(&st, 902), "the node and its targets are gone");
	ok(st.routing_dirty, "removal is a routing change");
	mgmtd_state_bump(&st);
	is_int(mgmtd_store_save(db, &st, 0, 0), 0, "save the removal");
	mgmtd_state_committed(&st);
	ok(st.gone_node == 0 && st.ngone_targets == 0, "committed removal is cleared");
	mgmtd_state_init(&st2, LEASE);
	is_int(mgmtd_store_load(db, &st2, err, sizeof(err)), 0, "reload");
	ok(!mgmtd_state_node(&st2, 9) && mgmtd_state_node(&st2, 2), "removed node not reloaded");
	ok(!mgmtd_state_target(&st2, 901) && mgmtd_state_target(&st2, 201),
	   "its targets not reloaded");
	mgmtd_state_release(&st2);
	mgmtd_state_release(&st);
	kv_db_close(db);
}

/* a takeover's extra grace (kv_outage_grace beyond half a node lease) delays expiry */
static void test_takeover_grace(void)
{
	struct mgmtd_state st;

	setup(&st);
	mgmtd_state_takeover(&st, 10000, 3 * LEASE);
	mgmtd_state_expire(&st, 10000 + LEASE + 3 * LEASE - 1);
	ok(mgmtd_state_node(&st, 2)->alive, "alive until a node lease plus the extra grace");
	mgmtd_state_expire(&st, 10000 + LEASE + 3 * LEASE + 1);
	ok(!mgmtd_state_node(&st, 2)->alive, "down after it");
	mgmtd_state_release(&st);
}

int main(void)
{
	test_membership();
	test_sync_progress();
	test_lastsrv();
	test_admin_ops();
	test_store();
	test_remove_node();
	test_takeover_grace();
	return tap_done();
}
