/* test_client.c — cluster_client against two scripted mgmtd servers on 127.0.0.1:
 * redirect from a standby to the leader, registration, heartbeats with target reports,
 * routing fetch on a newer version in a heartbeat reply and on a hint, re-registration
 * after -C3FS_ELEASE, lease loss when heartbeats stop being acknowledged and its return,
 * and cluster_mgmtd_call's redirect following and failure modes. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cluster/client.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "net/rpc.h"
#include "proto/mgmtd.h"
#include "tests/lib/tap.h"

#define LEASE_MS 1000

/* scripted leader state */
static atomic_int n_register, n_heartbeat, n_routing, hb_mode; /* 0 ok, 1 ELEASE, 2 EBUSY */
static atomic_uint_fast64_t version;
static atomic_uint last_reports, last_report_state;
static char leader_addr[40];

/* lease / routing callbacks */
static atomic_int lease_valid_calls, lease_lost_calls;
static atomic_uint_fast64_t seen_version;

static void reply_encoded(struct rpc_req *req, int status, struct c3_buf *b)
{
	rpc_reply_buf(req, status, b);
	c3_buf_release(b);
}

static void s_redirect(struct rpc_req *req, void *ctx)
{
	struct mgmtd_redirect r;
	struct c3_buf b = C3_BUF_INIT;

	(void)ctx;
	snprintf(r.leader, sizeof(r.leader), "%s", leader_addr);
	mgmtd_redirect_encode(&r, &b);
	reply_encoded(req, -C3FS_ENOTLEADER, &b);
}

static void l_register(struct rpc_req *req, void *ctx)
{
	struct mgmtd_register_req q;
	struct mgmtd_register_resp r = { 0, LEASE_MS, 100, 0 };
	struct c3_buf b = C3_BUF_INIT;
	int rc = mgmtd_register_req_decode(req->payload, req->payload_len, &q);

	(void)ctx;
	if (rc) {
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	n_register++;
	r.node_id = q.node_id ? q.node_id : 1000001;
	r.routing_version = version;
	mgmtd_register_resp_encode(&r, &b);
	reply_encoded(req, 0, &b);
}

static void l_heartbeat(struct rpc_req *req, void *ctx)
{
	struct mgmtd_heartbeat_req q;
	struct mgmtd_heartbeat_resp r = { 0, LEASE_MS, 0, 0 };
	struct c3_buf b = C3_BUF_INIT;
	int rc = mgmtd_heartbeat_req_decode(req->payload, req->payload_len, &q);

	(void)ctx;
	if (rc) {
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	n_heartbeat++;
	last_reports = q.nreports;
	last_report_state = q.nreports ? q.reports[0].local_state : 0;
	mgmtd_heartbeat_req_release(&q);
	if (hb_mode == 1) {
		rpc_reply(req, -C3FS_ELEASE, NULL, 0, NULL, 0);
		return;
	}
	if (hb_mode == 2) {
		rpc_reply(req, -C3FS_EBUSY, NULL, 0, NULL, 0);
		return;
	}
	r.routing_version = version;
	mgmtd_heartbeat_resp_encode(&r, &b);
	reply_encoded(req, 0, &b);
}

static void l_routing(struct rpc_req *req, void *ctx)
{
	struct mgmtd_get_routing_req q;
	struct routing_info *ri = routing_new();
	struct c3_buf body = C3_BUF_INIT, b = C3_BUF_INIT;

	(void)ctx;
	mgmtd_get_routing_req_decode(req->payload, req->payload_len, &q);
	n_routing++;
	ri->version = version;
	routing_encode(ri, &body);
	mgmtd_get_routing_resp_encode(ri->version, q.known_version < ri->version ? &body : NULL,
				      &b);
	routing_unref(ri);
	c3_buf_release(&body);
	reply_encoded(req, 0, &b);
}

static int collect(void *arg, struct cluster_target_report *out, int max)
{
	(void)arg;
	if (max < 1)
		return 0;
	memset(out, 0, sizeof(*out));
	out[0].target_id = 11;
	out[0].local_state = TARGET_LOCAL_ONLINE;
	out[0].capacity_bytes = 100;
	out[0].free_bytes = 50;
	return 1;
}

static void on_routing(void *arg, struct routing_info *ri)
{
	(void)arg;
	seen_version = ri->version;
}

static void on_lease(void *arg, bool valid)
{
	(void)arg;
	if (valid)
		lease_valid_calls++;
	else
		lease_lost_calls++;
}

static bool wait_until(atomic_int *v, int want, uint32_t ms)
{
	for (uint32_t i = 0; i < ms / 10; i++) {
		if (*v >= want)
			return true;
		c3_sleep_ms(10);
	}
	return *v >= want;
}

static struct rpc_server *start_server(bool leader)
{
	struct rpc_server_opts so;
	struct rpc_server *srv = NULL;

	memset(&so, 0, sizeof(so));
	so.listen = "127.0.0.1:0";
	so.workers = 2;
	so.io_threads = 1;
	if (rpc_server_new(&so, &srv) != 0)
		return NULL;
	if (leader) {
		rpc_server_register(srv, MGMTD_T_REGISTER, l_register, NULL, 0);
		rpc_server_register(srv, MGMTD_T_HEARTBEAT, l_heartbeat, NULL, 0);
		rpc_server_register(srv, MGMTD_T_GET_ROUTING, l_routing, NULL, 0);
	} else {
		rpc_server_register(srv, MGMTD_T_REGISTER, s_redirect, NULL, 0);
		rpc_server_register(srv, MGMTD_T_HEARTBEAT, s_redirect, NULL, 0);
		rpc_server_register(srv, MGMTD_T_GET_ROUTING, s_redirect, NULL, 0);
	}
	if (rpc_server_start(srv) != 0) {
		rpc_server_free(srv);
		return NULL;
	}
	return srv;
}

static void test_mgmtd_call(const char *standby)
{
	struct rpc_client_opts ro;
	struct rpc_client *cli;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	struct mgmtd_get_routing_req q = { 0 };
	char leader[ROUTING_ADDR_MAX] = "";
	char addrs[256];
	int rc;

	memset(&ro, 0, sizeof(ro));
	if (rpc_client_new(&ro, &cli) != 0) {
		ok(0, "rpc client");
		return;
	}
	mgmtd_get_routing_req_encode(&q, &req);
	/* a dead address first, then the standby: both lead to the leader */
	snprintf(addrs, sizeof(addrs), "127.0.0.1:1,%s", standby);
	rc = cluster_mgmtd_call(cli, addrs, leader, sizeof(leader), MGMTD_T_GET_ROUTING,
				req.data, req.len, &resp, 3000);
	is_int(rc, 0, "cluster_mgmtd_call reaches the leader past a dead address and a standby");
	is_str(leader, leader_addr, "and reports who answered");
	is_int(cluster_mgmtd_call(cli, "", NULL, 0, MGMTD_T_GET_ROUTING, req.data, req.len,
				  NULL, 1000), -C3FS_ECONFIG, "empty address list");
	rc = cluster_mgmtd_call(cli, "127.0.0.1:1", NULL, 0, MGMTD_T_GET_ROUTING, req.data,
				req.len, NULL, 300);
	ok(rc == -C3FS_ECONNECT || rc == -C3FS_ETIMEDOUT, "nothing listening: connect error");
	c3_buf_release(&req);
	c3_buf_release(&resp);
	rpc_client_free(cli);
}

int main(void)
{
	struct rpc_server *standby, *leader;
	struct cluster_client_opts o;
	struct cluster_client *cc = NULL;
	struct routing_info *ri;
	char standby_addr[64], got[ROUTING_ADDR_MAX];
	int regs;
	uint64_t t0;

	c3_log_set_level(C3_LOG_ERROR);
	version = 1;
	leader = start_server(true);
	standby = start_server(false);
	if (!leader || !standby)
		tap_skip_all("cannot listen on 127.0.0.1");
	snprintf(leader_addr, sizeof(leader_addr), "127.0.0.1:%d", rpc_server_port(leader));
	snprintf(standby_addr, sizeof(standby_addr), "127.0.0.1:%d", rpc_server_port(standby));

	test_mgmtd_call(standby_addr);

	memset(&o, 0, sizeof(o));
	o.mgmtd_addrs = standby_addr;
	o.node_type = NODE_STORAGE;
	o.node_id = 7;
	o.node_addr = "127.0.0.1:7777";
	o.heartbeat_ms = 50;
	o.collect_targets = collect;
	o.on_routing = on_routing;
	o.on_lease = on_lease;
	is_int(cluster_client_new(&o, &cc), 0, "cluster_client_new");
	is_int(cluster_client_wait_ready(cc, 5000), 0, "ready through the standby's redirect");
	is_int(cluster_client_node_id(cc), 7, "node id confirmed");
	cluster_client_leader(cc, got, sizeof(got));
	is_str(got, leader_addr, "follows the redirect to the leader");
	ri = cluster_client_routing(cc);
	ok(ri && ri->version == 1, "routing v1 held");
	routing_unref(ri);
	ok(wait_until(&lease_valid_calls, 1, 3000), "on_lease(true) after registration");
	ok(cluster_client_lease_valid(cc), "lease valid");
	ok(wait_until(&n_heartbeat, 3, 3000), "heartbeats flow");
	ok(last_reports == 1 && last_report_state == TARGET_LOCAL_ONLINE,
	   "heartbeat carries the target report");

	/* a newer version in a heartbeat reply is fetched */
	version = 2;
	for (int i = 0; i < 300 && seen_version < 2; i++)
		c3_sleep_ms(10);
	is_int(seen_version, 2, "newer version announced by a heartbeat reply is fetched");
	/* a hint from a peer */
	version = 5;
	cluster_client_routing_hint(cc, 5);
	for (int i = 0; i < 300 && seen_version < 5; i++)
		c3_sleep_ms(10);
	is_int(seen_version, 5, "hinted version is fetched");
	version = 6;
	is_int(cluster_client_refresh(cc, 3000), 0, "synchronous refresh");
	ri = cluster_client_routing(cc);
	ok(ri && ri->version == 6, "refresh got v6");
	routing_unref(ri);

	/* steady acks keep the lease valid for longer than a lease */
	t0 = c3_now_ms();
	{
		bool always = true;

		while (c3_now_ms() - t0 < 2 * LEASE_MS) {
			always &= cluster_client_lease_valid(cc);
			c3_sleep_ms(20);
		}
		ok(always && lease_lost_calls == 0, "lease stays valid while heartbeats are acked");
	}

	/* -C3FS_ELEASE: register again */
	regs = n_register;
	hb_mode = 1;
	ok(wait_until(&n_register, regs + 1, 3000), "ELEASE makes the client register again");
	hb_mode = 0;

	/* no acknowledgement: the lease is lost (after half a lease), then regained */
	hb_mode = 2;
	t0 = c3_now_ms();
	ok(wait_until(&lease_lost_calls, 1, 10 * LEASE_MS), "on_lease(false) when acks stop");
	ok(c3_now_ms() - t0 >= LEASE_MS / 2 - 60,
	   "not declared lost before half a lease without acks");
	ok(!cluster_client_lease_valid(cc), "lease invalid");
	hb_mode = 0;
	ok(wait_until(&lease_valid_calls, 2, 10 * LEASE_MS), "on_lease(true) when acks resume");
	ok(cluster_client_lease_valid(cc), "lease valid again");

	/* the leader disappears entirely */
	rpc_server_free(leader);
	ok(wait_until(&lease_lost_calls, 2, 10 * LEASE_MS), "lease lost when mgmtd is gone");
	cluster_client_free(cc);
	rpc_server_free(standby);
	return tap_done();
}
