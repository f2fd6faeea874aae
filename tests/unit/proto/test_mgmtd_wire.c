/* test_mgmtd_wire.c — the mgmtd messages' wire format, pinned byte for byte, with the
 * optional tails older senders stop at (appended fields and trailers: the prefixes that
 * still decode are listed per message), see wire_test.h. */
#include <stdlib.h>
#include <string.h>

#include "cluster/routing.h"
#include "net/codec.h"
#include "proto/mgmtd.h"
#define WIRE_PREFIX mgmtd
#include "tests/unit/proto/wire_test.h"

#define RT(T)                                                                           \
	static int rt_##T(const void *p, size_t n, struct c3_buf *out)                  \
	{                                                                               \
		struct mgmtd_##T m;                                                     \
		int rc;                                                                 \
		memset(&m, 0, sizeof(m));                                               \
		rc = mgmtd_##T##_decode(p, n, &m);                                      \
		if (rc == 0 && out)                                                     \
			mgmtd_##T##_encode(&m, out);                                    \
		return rc;                                                              \
	}
#define RT_REL(T)                                                                       \
	static int rt_##T(const void *p, size_t n, struct c3_buf *out)                  \
	{                                                                               \
		struct mgmtd_##T m;                                                     \
		int rc;                                                                 \
		memset(&m, 0, sizeof(m));                                               \
		rc = mgmtd_##T##_decode(p, n, &m);                                      \
		if (rc == 0 && out)                                                     \
			mgmtd_##T##_encode(&m, out);                                    \
		mgmtd_##T##_release(&m);                                                \
		return rc;                                                              \
	}
RT(redirect)
RT(register_req)
RT(register_resp)
RT_REL(heartbeat_req)
RT(heartbeat_resp)
RT(get_routing_req)
RT(leader_resp)
RT_REL(list_nodes_resp)
RT_REL(create_table_req)
RT(create_table_resp)
RT(set_node_state_req)
RT(set_target_state_req)
RT(rotate_lastsrv_req)
RT(remove_node_req)
RT(chain_member_req)
RT(admin_resp)
RT_REL(get_config_req)
RT_REL(get_config_resp)
RT_REL(set_config_req)
RT(get_users_req)
RT(user_add_req)
RT(user_remove_req)

static int rt_get_routing_resp(const void *p, size_t n, struct c3_buf *out)
{
	struct mgmtd_get_routing_resp m;
	struct c3_buf body = C3_BUF_INIT;
	int rc = mgmtd_get_routing_resp_decode(p, n, &m);

	if (rc == 0 && out) {
		if (m.ri)
			routing_encode(m.ri, &body);
		mgmtd_get_routing_resp_encode(m.version, m.ri ? &body : NULL, out);
	}
	if (rc == 0)
		routing_unref(m.ri);
	c3_buf_release(&body);
	return rc;
}

static int rt_users_resp(const void *p, size_t n, struct c3_buf *out)
{
	struct mgmtd_users_resp m;
	int rc = mgmtd_users_resp_decode(p, n, &m);

	if (rc == 0 && out)
		mgmtd_users_resp_encode(&m, true, out);
	mgmtd_users_resp_release(&m);
	return rc;
}

#define TOKEN "adm1n"

static void test_register(void)
{
	struct mgmtd_redirect rd = { "10.0.0.1:9000" };
	struct mgmtd_register_req q = { NODE_STORAGE, 0x01020304, "10.0.0.2:9010",
					0x1112131415161718ull, "host-a", 4321, "1.2.3" };
	struct mgmtd_register_resp r = { 0x01020304, 6000, 1000, 0x2122232425262728ull };

	GOLDEN(redirect, rd,
	       "0d00000031302e302e302e313a39303030");
	GOLDEN(register_req, q,
	       "03040302010d00000031302e302e302e323a3930313018171615141312110600"
	       "0000686f73742d61e110000005000000312e322e33",
	       44 /* without the version */);
	GOLDEN(register_resp, r,
	       "0403020170170000e80300002827262524232221");
	r.lease_ms = 0;
	REFUSED(register_resp, r, "lease 0");
	q.incarnation = 0;
	REFUSED(register_req, q, "incarnation 0");
}

static void test_heartbeat(void)
{
	struct cluster_target_report rep[2] = {
		{ .target_id = 0x01020304, .local_state = TARGET_LOCAL_UPTODATE,
		  .capacity_bytes = 0x1112131415161718ull, .free_bytes = 0x2122232425262728ull,
		  .sync_done_bytes = 3, .sync_total_bytes = 4, .corrupt_found = 5,
		  .corrupt_repaired = 6, .scrub_last_ms = 7, .sync_target = 8,
		  .out_done_chunks = 9, .out_total_chunks = 10, .out_done_bytes = 11,
		  .out_total_bytes = 12, .out_rate_bps = 13, .read_bytes = 14, .read_ops = 15,
		  .write_bytes = 16, .write_ops = 17 },
		{ .target_id = 9, .local_state = TARGET_LOCAL_FAILED },
	};
	struct mgmtd_heartbeat_req q = { 0x31323334, 0x4142434445464748ull, 77, 0x51525354ull,
					 2, rep };
	struct mgmtd_heartbeat_resp r = { 0x0102030405060708ull, 6000, 0x1112131415161718ull,
					  0x2122232425262728ull };

	GOLDEN(heartbeat_req, q,
	       "3433323148474645444342414d00000000000000545352510000000002000000"
	       "0403020101181716151413121128272625242322210300000000000000040000"
	       "0000000000090000000300000000000000000000000000000000000000000000"
	       "0000000000000000000002000000050000000000000006000000000000000700"
	       "0000000000000800000009000000000000000a000000000000000b0000000000"
	       "00000c000000000000000d000000000000000000000000000000000000000000"
	       "0000000000000000000000000000000000000000000000000000000000000000"
	       "00000000000000000000000000000000000000000000020000000e0000000000"
	       "00000f0000000000000010000000000000001100000000000000000000000000"
	       "0000000000000000000000000000000000000000000000000000",
	       106 /* no trailer */, 246 /* first trailer only */);
	GOLDEN(heartbeat_resp, r,
	       "08070605040302017017000018171615141312112827262524232221",
	       12 /* no config_version */, 20 /* no users_version */);
	rep[1].target_id = rep[0].target_id;
	REFUSED(heartbeat_req, q, "duplicate target ids");
}

static void test_routing(void)
{
	struct mgmtd_get_routing_req q = { 0x0102030405060708ull };
	struct routing_info *ri = routing_new();
	struct c3_buf body = C3_BUF_INIT;

	GOLDEN(get_routing_req, q,
	       "0807060504030201");
	c3_buf_reset(&b);
	mgmtd_get_routing_resp_encode(0x1112131415161718ull, NULL, &b);
	wire_golden("get_routing_resp (not newer)", &b,
	       "181716151413121100");
	wire_check("get_routing_resp (not newer)", rt_get_routing_resp, &b, NULL, 0);
	ri->version = 0x1112131415161718ull;
	routing_encode(ri, &body);
	c3_buf_reset(&b);
	mgmtd_get_routing_resp_encode(ri->version, &body, &b);
	wire_golden("get_routing_resp (with a body)", &b,
	       "1817161514131211012000000018171615141312110000000000000000000000"
	       "00000000000000000000000000");
	wire_check("get_routing_resp (with a body)", rt_get_routing_resp, &b, NULL, 0);
	routing_unref(ri);
	c3_buf_release(&body);
}

static void test_nodes(void)
{
	struct mgmtd_leader_resp l = { "10.0.0.1:9000", "10.0.0.3:9000", true,
				       0x0102030405060708ull };
	struct mgmtd_node_entry e[2] = {
		{ 0x01020304, NODE_STORAGE, NODE_MAINTENANCE, "10.0.0.2:9010", "host-a", 4321,
		  0x1112131415161718ull, 0x2122232425262728ull, "1.2.3" },
		{ 1, NODE_MGMTD, NODE_UP, "", "", 0, 1, UINT64_MAX, "" },
	};
	struct mgmtd_list_nodes_resp r = { 2, e };

	GOLDEN(leader_resp, l,
	       "0d00000031302e302e302e313a393030300d00000031302e302e302e333a3930"
	       "3030010807060504030201");
	GOLDEN(list_nodes_resp, r,
	       "020000000403020103030d00000031302e302e302e323a393031300600000068"
	       "6f73742d61e11000001817161514131211282726252423222101000000010100"
	       "00000000000000000000000100000000000000ffffffffffffffff0200000005"
	       "000000312e322e3300000000",
	       91 /* without the versions */);
}

static void test_admin(void)
{
	uint32_t targets[2] = { 0x01020304, 7 };
	struct mgmtd_create_table_req ct = { TOKEN, 0x11121314, "main", 3, 2, targets };
	struct mgmtd_create_table_resp cr = { 0x01020304, 0x11121314, 0x21222324,
					      0x3132333435363738ull, 0x41424344 };
	struct mgmtd_set_node_state_req ns = { TOKEN, 0x01020304, NODE_MAINTENANCE };
	struct mgmtd_set_target_state_req ts = { TOKEN, 0x01020304, TARGET_OFFLINE };
	struct mgmtd_rotate_lastsrv_req rl = { TOKEN, 0x01020304 };
	struct mgmtd_remove_node_req rn = { TOKEN, 0x01020304 };
	struct mgmtd_chain_member_req cm = { TOKEN, 0x01020304, 0x11121314, MGMTD_CHAIN_REMOVE };
	struct mgmtd_admin_resp ar = { 0x0102030405060708ull };

	GOLDEN(create_table_req, ct,
	       "0500000061646d316e14131211040000006d61696e0300000002000000040302"
	       "0107000000");
	GOLDEN(create_table_resp, cr,
	       "040302011413121124232221383736353433323144434241",
	       20 /* without targets_unused (a part of it is refused, as in every tail) */);
	GOLDEN(set_node_state_req, ns,
	       "0500000061646d316e0403020103");
	GOLDEN(set_target_state_req, ts,
	       "0500000061646d316e0403020105");
	GOLDEN(rotate_lastsrv_req, rl,
	       "0500000061646d316e04030201");
	GOLDEN(remove_node_req, rn,
	       "0500000061646d316e04030201");
	GOLDEN(chain_member_req, cm,
	       "0500000061646d316e040302011413121102");
	GOLDEN(admin_resp, ar,
	       "0807060504030201");
	targets[1] = targets[0];
	REFUSED(create_table_req, ct, "duplicate targets");
}

static void test_config(void)
{
	char schema[] = "[a]\nb=int\n", settings[] = "a.b=1\n", empty[] = "";
	struct mgmtd_get_config_req gq = { NODE_META, 0x01020304, schema };
	struct mgmtd_get_config_resp gr = { 0x0102030405060708ull, NODE_STORAGE, settings,
					    empty };
	struct mgmtd_set_config_req sq = { TOKEN, NODE_CLIENT, 0, settings };
	char why[32];

	GOLDEN(get_config_req, gq,
	       "02040302010a0000005b615d0a623d696e740a");
	GOLDEN(get_config_resp, gr,
	       "08070605040302010306000000612e623d310a00000000");
	GOLDEN(set_config_req, sq,
	       "0500000061646d316e040000000006000000612e623d310a");
	c3_buf_reset(&b);
	c3_enc_str(&b, "bad key");
	mgmtd_error_text_decode(b.data, b.len, why, sizeof(why));
	is_str(why, "bad key", "error text decodes");
	mgmtd_error_text_decode(b.data, b.len - 1, why, sizeof(why));
	is_str(why, "", "a truncated error text reads as none");
}

static void test_users(void)
{
	struct cluster_user u[2] = {
		{ 0x01020304, 0x11121314, "alice", 2, { 5, 6 }, true, false, { 0xaa, 0xbb } },
		{ 0, 0, "root", 0, { 0 }, false, true, { 0 } },
	};
	struct mgmtd_get_users_req gq = { 0x01020304, 0x1112131415161718ull };
	struct mgmtd_users_resp r = { 0x2122232425262728ull, 2, u };
	struct mgmtd_user_add_req ua = { TOKEN, u[0] };
	struct mgmtd_user_remove_req ur = { TOKEN, 0x01020304 };

	GOLDEN(get_users_req, gq,
	       "040302011817161514131211");
	c3_buf_reset(&b);
	mgmtd_users_resp_encode(&r, true, &b);
	wire_golden("users_resp (with hashes)", &b,
	       "282726252423222102000000040302011413121105000000616c696365020000"
	       "000500000006000000010020000000aabb000000000000000000000000000000"
	       "000000000000000000000000000000000000000000000004000000726f6f7400"
	       "0000000001200000000000000000000000000000000000000000000000000000"
	       "000000000000000000");
	wire_check("users_resp (with hashes)", rt_users_resp, &b, NULL, 0);
	c3_buf_reset(&b);
	mgmtd_users_resp_encode(&r, false, &b);
	wire_golden("users_resp (without hashes)", &b,
	       "282726252423222102000000040302011413121105000000616c696365020000"
	       "0005000000060000000100200000000000000000000000000000000000000000"
	       "000000000000000000000000000000000000000000000004000000726f6f7400"
	       "0000000001200000000000000000000000000000000000000000000000000000"
	       "000000000000000000");
	GOLDEN(user_add_req, ua,
	       "0500000061646d316e040302011413121105000000616c696365020000000500"
	       "000006000000010020000000aabb000000000000000000000000000000000000"
	       "000000000000000000000000");
	GOLDEN(user_remove_req, ur,
	       "0500000061646d316e04030201");
}

int main(void)
{
	test_register();
	test_heartbeat();
	test_routing();
	test_nodes();
	test_admin();
	test_config();
	test_users();
	c3_buf_release(&b);
	return tap_done();
}
