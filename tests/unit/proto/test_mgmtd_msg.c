/* test_mgmtd_msg.c — mgmtd message codec: round trips and rejection of bad input. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/routing.h"
#include "common/errors.h"
#include "net/codec.h"
#include "proto/mgmtd.h"
#include "tests/lib/tap.h"

static void test_register(void)
{
	struct mgmtd_register_req q = { .node_type = NODE_STORAGE, .node_id = 10,
					.addr = "127.0.0.1:9010", .incarnation = 77,
					.hostname = "h1", .pid = 1234, .version = "9.8" }, q2;
	struct mgmtd_register_resp r = { 10, 6000, 1000, 5 }, r2;
	struct c3_buf b = C3_BUF_INIT;
	int bad = 0;

	mgmtd_register_req_encode(&q, &b);
	is_int(mgmtd_register_req_decode(b.data, b.len, &q2), 0, "register req decodes");
	ok(q2.node_type == NODE_STORAGE && q2.node_id == 10 && q2.incarnation == 77 &&
	   strcmp(q2.addr, q.addr) == 0 && strcmp(q2.hostname, "h1") == 0 && q2.pid == 1234 &&
	   strcmp(q2.version, "9.8") == 0, "register req round trip");
	/* every truncation is rejected but the one before the (appended) version */
	for (size_t n = 0; n < b.len; n++)
		if (n != b.len - (4 + 3))
			bad += mgmtd_register_req_decode(b.data, n, &q2) != -C3FS_EBADMSG;
	is_int(bad, 0, "every truncation of register req rejected");
	is_int(mgmtd_register_req_decode(b.data, b.len - (4 + 3), &q2), 0,
	       "a register req without a version (older sender) decodes");
	ok(q2.version[0] == '\0' && q2.pid == 1234, "  with an empty version");

	q.incarnation = 0;
	c3_buf_reset(&b);
	mgmtd_register_req_encode(&q, &b);
	is_int(mgmtd_register_req_decode(b.data, b.len, &q2), -C3FS_EBADMSG, "incarnation 0");
	q.incarnation = 1;
	q.node_type = NODE_MGMTD;
	c3_buf_reset(&b);
	mgmtd_register_req_encode(&q, &b);
	is_int(mgmtd_register_req_decode(b.data, b.len, &q2), -C3FS_EBADMSG,
	       "mgmtd may not register as a node");
	q.node_type = NODE_STORAGE;
	q.addr[0] = '\0';
	c3_buf_reset(&b);
	mgmtd_register_req_encode(&q, &b);
	is_int(mgmtd_register_req_decode(b.data, b.len, &q2), -C3FS_EBADMSG,
	       "storage without an address");
	q.node_type = NODE_CLIENT;
	c3_buf_reset(&b);
	mgmtd_register_req_encode(&q, &b);
	is_int(mgmtd_register_req_decode(b.data, b.len, &q2), 0, "client without an address");

	c3_buf_reset(&b);
	mgmtd_register_resp_encode(&r, &b);
	is_int(mgmtd_register_resp_decode(b.data, b.len, &r2), 0, "register resp decodes");
	ok(r2.node_id == 10 && r2.lease_ms == 6000 && r2.heartbeat_ms == 1000 &&
	   r2.routing_version == 5, "register resp round trip");
	r.lease_ms = 0;
	c3_buf_reset(&b);
	mgmtd_register_resp_encode(&r, &b);
	is_int(mgmtd_register_resp_decode(b.data, b.len, &r2), -C3FS_EBADMSG, "lease 0 rejected");
	c3_buf_release(&b);
}

static void test_heartbeat(void)
{
	/* static: zeroed padding, so the round trip can memcmp (decoded reports are calloc'd) */
	static struct cluster_target_report reps[3] = {
		{ .target_id = 101, .local_state = TARGET_LOCAL_UPTODATE, .capacity_bytes = 100,
		  .free_bytes = 50, .corrupt_found = 3, .corrupt_repaired = 2,
		  .scrub_last_ms = 1234, .sync_target = 102, .out_done_chunks = 7,
		  .out_total_chunks = 9, .out_done_bytes = 70, .out_total_bytes = 90,
		  .out_rate_bps = 11, .read_bytes = 1ull << 40, .read_ops = 7,
		  .write_bytes = 1ull << 41, .write_ops = 9 },
		{ .target_id = 102, .local_state = TARGET_LOCAL_ONLINE, .capacity_bytes = 100,
		  .free_bytes = 60, .sync_done_bytes = 5, .sync_total_bytes = 10 },
		{ .target_id = 103, .local_state = TARGET_LOCAL_FAILED },
	};
	/* the heartbeat before the trailer: header + 3 reports of 37 bytes */
	const size_t legacy_len = 4 + 8 + 8 + 8 + 4 + 3 * (4 + 1 + 8 * 4);
	struct mgmtd_heartbeat_req q = { 10, 77, 3, 9, 3, reps }, q2;
	struct mgmtd_heartbeat_resp r = { 12, 6000, 7, 5 }, r2;
	struct c3_buf b = C3_BUF_INIT;
	int bad = 0;

	mgmtd_heartbeat_req_encode(&q, &b);
	is_int(mgmtd_heartbeat_req_decode(b.data, b.len, &q2), 0, "heartbeat decodes");
	ok(q2.node_id == 10 && q2.incarnation == 77 && q2.seq == 3 && q2.routing_version == 9 &&
	   q2.nreports == 3 && memcmp(q2.reports, reps, sizeof(reps)) == 0,
	   "heartbeat round trip");
	mgmtd_heartbeat_req_release(&q2);
	for (size_t n = 0; n < b.len; n++) {
		int rc;

		if (n == legacy_len || n == b.len - (4 + 3 * 4 * 8))
			continue; /* a sender without the trailer(s) */
		rc = mgmtd_heartbeat_req_decode(b.data, n, &q2);
		bad += rc != -C3FS_EBADMSG;
		if (rc == 0)
			mgmtd_heartbeat_req_release(&q2);
	}
	is_int(bad, 0, "every truncation of heartbeat rejected");
	/* backward: without the trailer the extras decode as zeros */
	is_int(mgmtd_heartbeat_req_decode(b.data, legacy_len, &q2), 0,
	       "heartbeat without the trailer decodes");
	ok(q2.nreports == 3 && q2.reports[0].free_bytes == 50 && q2.reports[0].corrupt_found == 0 &&
	   q2.reports[0].sync_target == 0 && q2.reports[1].sync_total_bytes == 10,
	   "old heartbeat: extras are zero, the rest intact");
	mgmtd_heartbeat_req_release(&q2);
	/* a sender with the first trailer only: I/O counters zero */
	is_int(mgmtd_heartbeat_req_decode(b.data, b.len - (4 + 3 * 4 * 8), &q2), 0,
	       "heartbeat without the second trailer decodes");
	ok(q2.reports[0].corrupt_found == 3 && q2.reports[0].read_bytes == 0 &&
	   q2.reports[0].write_ops == 0, "  its I/O counters zero, the rest intact");
	mgmtd_heartbeat_req_release(&q2);
	reps[2].target_id = 101;
	c3_buf_reset(&b);
	mgmtd_heartbeat_req_encode(&q, &b);
	is_int(mgmtd_heartbeat_req_decode(b.data, b.len, &q2), -C3FS_EBADMSG,
	       "duplicate target in a heartbeat");
	reps[2].target_id = 103;
	reps[1].local_state = TARGET_LOCAL_UNKNOWN;
	c3_buf_reset(&b);
	mgmtd_heartbeat_req_encode(&q, &b);
	is_int(mgmtd_heartbeat_req_decode(b.data, b.len, &q2), -C3FS_EBADMSG,
	       "local state unknown cannot be reported");
	reps[1].local_state = 9;
	c3_buf_reset(&b);
	mgmtd_heartbeat_req_encode(&q, &b);
	is_int(mgmtd_heartbeat_req_decode(b.data, b.len, &q2), -C3FS_EBADMSG,
	       "local state out of range");
	/* a count claiming more reports than the bytes can hold */
	c3_buf_reset(&b);
	c3_enc_u32(&b, 10);
	c3_enc_u64(&b, 1);
	c3_enc_u64(&b, 1);
	c3_enc_u64(&b, 1);
	c3_enc_u32(&b, 4000);
	is_int(mgmtd_heartbeat_req_decode(b.data, b.len, &q2), -C3FS_EBADMSG,
	       "hostile report count");
	c3_buf_reset(&b);
	mgmtd_heartbeat_resp_encode(&r, &b);
	is_int(mgmtd_heartbeat_resp_decode(b.data, b.len, &r2), 0, "heartbeat resp");
	ok(r2.routing_version == 12 && r2.lease_ms == 6000 && r2.config_version == 7 &&
	   r2.users_version == 5, "heartbeat resp round trip");
	/* a reply from a mgmtd without the appended users_version: 0 */
	is_int(mgmtd_heartbeat_resp_decode(b.data, b.len - 8, &r2), 0, "older heartbeat resp");
	ok(r2.config_version == 7 && r2.users_version == 0, "users_version absent = 0");
	c3_buf_release(&b);
}

static void test_routing_resp(void)
{
	struct routing_info *ri = routing_new();
	struct c3_buf body = C3_BUF_INIT, b = C3_BUF_INIT;
	struct mgmtd_get_routing_resp r;

	ri->version = 8;
	routing_encode(ri, &body);
	mgmtd_get_routing_resp_encode(8, &body, &b);
	is_int(mgmtd_get_routing_resp_decode(b.data, b.len, &r), 0, "routing resp decodes");
	ok(r.version == 8 && r.ri && r.ri->version == 8, "routing resp carries the body");
	routing_unref(r.ri);
	c3_buf_reset(&b);
	mgmtd_get_routing_resp_encode(9, &body, &b);
	is_int(mgmtd_get_routing_resp_decode(b.data, b.len, &r), -C3FS_EBADMSG,
	       "version mismatch between header and body rejected");
	c3_buf_reset(&b);
	mgmtd_get_routing_resp_encode(8, NULL, &b);
	is_int(mgmtd_get_routing_resp_decode(b.data, b.len, &r), 0, "no body");
	ok(r.ri == NULL && r.version == 8, "not newer: version only");
	c3_buf_release(&b);
	c3_buf_release(&body);
	routing_unref(ri);
}

static void test_admin(void)
{
	uint32_t tids[] = { 5, 6, 7 };
	struct mgmtd_create_table_req q = { .admin_token = "secret", .table_id = 1,
					    .name = "default", .replicas = 3, .ntargets = 3,
					    .targets = tids }, q2;
	struct mgmtd_set_node_state_req ns = { .admin_token = "t", .node_id = 3,
					       .state = NODE_MAINTENANCE }, ns2;
	struct mgmtd_set_target_state_req ts = { .admin_token = "t", .target_id = 3,
						 .state = TARGET_OFFLINE }, ts2;
	struct mgmtd_node_entry ents[2] = {
		{ 1, NODE_STORAGE, NODE_UP, "127.0.0.1:1", "h", 5, 6, 7, "0.1" },
		{ 2, NODE_CLIENT, NODE_DOWN, "", "h2", 8, 9, UINT64_MAX, "" },
	};
	struct mgmtd_list_nodes_resp ln = { 2, ents }, ln2;
	struct mgmtd_leader_resp lr = { "127.0.0.1:5", "127.0.0.1:6", false, 10 }, lr2;
	struct mgmtd_redirect rd = { "127.0.0.1:7" }, rd2;
	struct c3_buf b = C3_BUF_INIT;

	mgmtd_create_table_req_encode(&q, &b);
	is_int(mgmtd_create_table_req_decode(b.data, b.len, &q2), 0, "create table decodes");
	ok(strcmp(q2.admin_token, "secret") == 0 && q2.replicas == 3 && q2.ntargets == 3 &&
	   q2.targets[2] == 7 && strcmp(q2.name, "default") == 0, "create table round trip");
	mgmtd_create_table_req_release(&q2);
	q.replicas = ROUTING_MAX_REPLICAS + 1;
	c3_buf_reset(&b);
	mgmtd_create_table_req_encode(&q, &b);
	is_int(mgmtd_create_table_req_decode(b.data, b.len, &q2), -C3FS_EBADMSG,
	       "too many replicas");
	q.replicas = 2;
	tids[1] = 5;
	c3_buf_reset(&b);
	mgmtd_create_table_req_encode(&q, &b);
	is_int(mgmtd_create_table_req_decode(b.data, b.len, &q2), -C3FS_EBADMSG,
	       "duplicate target ids");

	{
		struct mgmtd_create_table_resp r1 = { 1, 2, 3, 4, 5 }, r2;

		c3_buf_reset(&b);
		mgmtd_create_table_resp_encode(&r1, &b);
		ok(mgmtd_create_table_resp_decode(b.data, b.len, &r2) == 0 &&
		   r2.targets_unused == 5 && r2.routing_version == 4, "create table resp");
		ok(mgmtd_create_table_resp_decode(b.data, b.len - 4, &r2) == 0 &&
		   r2.targets_unused == 0 && r2.nchains_added == 3,
		   "create table resp from an older sender (no appended field)");
	}
	c3_buf_reset(&b);
	mgmtd_set_node_state_req_encode(&ns, &b);
	is_int(mgmtd_set_node_state_req_decode(b.data, b.len, &ns2), 0, "node state decodes");
	ok(ns2.node_id == 3 && ns2.state == NODE_MAINTENANCE, "node state round trip");
	ns.state = NODE_DOWN;
	c3_buf_reset(&b);
	mgmtd_set_node_state_req_encode(&ns, &b);
	is_int(mgmtd_set_node_state_req_decode(b.data, b.len, &ns2), -C3FS_EBADMSG,
	       "DOWN cannot be set by hand");

	c3_buf_reset(&b);
	mgmtd_set_target_state_req_encode(&ts, &b);
	is_int(mgmtd_set_target_state_req_decode(b.data, b.len, &ts2), 0, "target state");
	ts.state = 0;
	c3_buf_reset(&b);
	mgmtd_set_target_state_req_encode(&ts, &b);
	is_int(mgmtd_set_target_state_req_decode(b.data, b.len, &ts2), -C3FS_EBADMSG,
	       "target state 0 rejected");

	c3_buf_reset(&b);
	mgmtd_list_nodes_resp_encode(&ln, &b);
	is_int(mgmtd_list_nodes_resp_decode(b.data, b.len, &ln2), 0, "list nodes decodes");
	ok(ln2.n == 2 && ln2.nodes[1].heartbeat_age_ms == UINT64_MAX && strcmp(ln2.nodes[0].version, "0.1") == 0 &&
	   strcmp(ln2.nodes[1].hostname, "h2") == 0, "list nodes round trip");
	mgmtd_list_nodes_resp_release(&ln2);
	ents[0].type = 9;
	c3_buf_reset(&b);
	mgmtd_list_nodes_resp_encode(&ln, &b);
	is_int(mgmtd_list_nodes_resp_decode(b.data, b.len, &ln2), -C3FS_EBADMSG,
	       "bad node type in list");

	c3_buf_reset(&b);
	mgmtd_leader_resp_encode(&lr, &b);
	is_int(mgmtd_leader_resp_decode(b.data, b.len, &lr2), 0, "leader resp");
	ok(strcmp(lr2.leader, lr.leader) == 0 && !lr2.self_is_leader && lr2.lease_left_ms == 10,
	   "leader resp round trip");
	c3_buf_reset(&b);
	mgmtd_redirect_encode(&rd, &b);
	is_int(mgmtd_redirect_decode(b.data, b.len, &rd2), 0, "redirect");
	is_str(rd2.leader, "127.0.0.1:7", "redirect round trip");
	c3_buf_release(&b);
}

int main(void)
{
	test_register();
	test_heartbeat();
	test_routing_resp();
	test_admin();
	return tap_done();
}
