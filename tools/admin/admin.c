/* admin.c — c3fs-admin, the operator CLI for the cluster manager.
 *
 *   c3fs-admin [options] <command> [args] [options]
 * Options go anywhere (like git or ceph); unknown ones are refused (exit 2).  Tokens come
 * from --token-file / --admin-token-file, $C3FS_TOKEN / $C3FS_ADMIN_TOKEN, admin.ini or
 * (visible in ps) --token / --admin-token.
 * Finds the cluster from flags, else $C3FS_HOME/admin.ini, else ./.c3fs/admin.ini
 * (keys: tools/admin/README.md).  Talks only to the mgmtd leader (redirects followed by
 * cluster_mgmtd_call).  Output: human tables, or one JSON document with --json.
 * Exit codes: 0 ok, 1 the operation failed, 2 usage or configuration error,
 * 3 refused for lack of (or a wrong) admin token.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "chain_gen.h"
#include "trash.h"
#include "users.h"
#include "cluster/client.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/errors.h"
#include "common/log.h"
#include "net/rpc.h"
#include "proto/mgmtd.h"
#include "proto/storage.h"

struct admin_ini {
	char *mgmtd;
	char *token;
	char *admin_token;
};

static const struct c3_cfg_key admin_keys[] = {
	{ "cluster", "mgmtd", C3_CFG_STR, offsetof(struct admin_ini, mgmtd), "", 0, -1, "",
	  false, "mgmtd addresses, ip:port[,ip:port...]" },
	{ "cluster", "token", C3_CFG_STR, offsetof(struct admin_ini, token), "", 0, -1, "",
	  false, "cluster token" },
	{ "cluster", "admin_token", C3_CFG_STR, offsetof(struct admin_ini, admin_token), "", 0,
	  -1, "", false, "admin token for operations that change the cluster" },
};
static const struct c3_cfg_table admin_table = { "admin", admin_keys,
						 sizeof(admin_keys) / sizeof(admin_keys[0]) };

struct admin {
	const char *mgmtd;
	const char *token;
	const char *admin_token;
	bool json;
	struct rpc_client *rpc;
	char leader[ROUTING_ADDR_MAX];
};

/* ------------------------------------------------------------------ output helpers */

void admin_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *human_bytes(uint64_t v, char *buf, size_t n)
{
	static const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double d = (double)v;
	int i = 0;

	while (d >= 1024 && i < 5) {
		d /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, n, "%" PRIu64 " B", v);
	else
		snprintf(buf, n, "%.1f %s", d, u[i]);
	return buf;
}

int admin_fail(const char *what, int rc)
{
	if (rc == -C3FS_EADMIN) {
		fprintf(stderr, "c3fs-admin: %s: refused: this operation needs the admin token "
			"(--admin-token or admin_token in admin.ini; mgmtd must be configured "
			"with the same server.admin_token) or the token of a user with the admin "
			"flag\n", what);
		return 3;
	}
	fprintf(stderr, "c3fs-admin: %s: %s (%s)\n", what, c3_strerror(rc), c3_errname(rc));
	return 1;
}

/* ------------------------------------------------------------------ calls */

static int call(struct admin *ad, uint16_t type, const struct c3_buf *req, struct c3_buf *resp)
{
	return cluster_mgmtd_call(ad->rpc, ad->mgmtd, ad->leader, sizeof(ad->leader), type,
				  req ? req->data : NULL, req ? req->len : 0, resp, 5000);
}

static int fetch_routing(struct admin *ad, struct routing_info **out)
{
	struct mgmtd_get_routing_req q = { 0 };
	struct mgmtd_get_routing_resp r;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	int rc;

	mgmtd_get_routing_req_encode(&q, &req);
	rc = call(ad, MGMTD_T_GET_ROUTING, &req, &resp);
	if (rc == 0)
		rc = mgmtd_get_routing_resp_decode(resp.data, resp.len, &r);
	if (rc == 0 && !r.ri)
		rc = -C3FS_ENOROUTING;
	c3_buf_release(&req);
	c3_buf_release(&resp);
	if (rc == 0)
		*out = r.ri;
	return rc;
}

/* Chain health as mgmtd's metrics count it: every member serving = healthy (0), some
 * serving = degraded (1), none = unavailable (2). */
static int chain_health(const struct routing_info *ri, const struct routing_chain *c)
{
	uint32_t serving = 0;

	for (uint32_t k = 0; k < c->ntargets; k++)
		serving += routing_member_state(ri, c->targets[k]) == TARGET_SERVING;
	return serving == 0 ? 2 : serving == c->ntargets ? 0 : 1;
}

static const char *health_name(int h)
{
	return h == 0 ? "healthy" : h == 1 ? "degraded" : "unavailable";
}

/* Seconds left of a sync at its rate so far (-1 = unknown). */
static int64_t sync_eta_s(const struct routing_target *t)
{
	if (!t->sync_rate_bps || t->sync_done_bytes > t->sync_total_bytes)
		return -1;
	return (int64_t)((t->sync_total_bytes - t->sync_done_bytes + t->sync_rate_bps - 1) /
			 t->sync_rate_bps);
}

static const char *human_secs(int64_t s, char *buf, size_t n)
{
	if (s < 0)
		snprintf(buf, n, "?");
	else if (s < 60)
		snprintf(buf, n, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, n, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(buf, n, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	return buf;
}

/* "45% 120/300 chunks, 1.2 GiB of 2.4 GiB, 35.0 MiB/s, ETA 34s" (or "starting"). */
static const char *sync_text(const struct routing_target *t, char *buf, size_t n)
{
	char d[24], tot[24], r[24], e[24];

	if (!t->sync_total_chunks && !t->sync_total_bytes) {
		snprintf(buf, n, "starting");
		return buf;
	}
	snprintf(buf, n, "%.0f%% %" PRIu64 "/%" PRIu64 " chunks, %s of %s, %s/s, ETA %s",
		 t->sync_total_bytes ? 100.0 * (double)t->sync_done_bytes /
					       (double)t->sync_total_bytes
				     : t->sync_total_chunks ? 100.0 * (double)t->sync_done_chunks /
								      (double)t->sync_total_chunks
							    : 0.0,
		 t->sync_done_chunks, t->sync_total_chunks,
		 human_bytes(t->sync_done_bytes, d, sizeof(d)),
		 human_bytes(t->sync_total_bytes, tot, sizeof(tot)),
		 human_bytes(t->sync_rate_bps, r, sizeof(r)), human_secs(sync_eta_s(t), e, sizeof(e)));
	return buf;
}

/* JSON fields of a target's sync progress and data safety (no leading comma). */
static void json_target_extra(const struct routing_target *t)
{
	int64_t eta = sync_eta_s(t);

	printf("\"sync_done_chunks\":%" PRIu64 ",\"sync_total_chunks\":%" PRIu64
	       ",\"sync_rate_bps\":%" PRIu64 ",\"sync_eta_s\":", t->sync_done_chunks,
	       t->sync_total_chunks, t->sync_rate_bps);
	if (eta < 0)
		printf("null");
	else
		printf("%lld", (long long)eta);
	printf(",\"corrupt_found\":%" PRIu64 ",\"corrupt_repaired\":%" PRIu64
	       ",\"scrub_last_ms\":%" PRIu64, t->corrupt_found, t->corrupt_repaired,
	       t->scrub_last_ms);
}

/* ------------------------------------------------------------------ commands */

static int cmd_list_nodes(struct admin *ad)
{
	struct mgmtd_list_nodes_resp r;
	struct c3_buf resp = C3_BUF_INIT;
	int rc = call(ad, MGMTD_T_LIST_NODES, NULL, &resp);

	if (rc == 0)
		rc = mgmtd_list_nodes_resp_decode(resp.data, resp.len, &r);
	c3_buf_release(&resp);
	if (rc)
		return admin_fail("list-nodes", rc);
	if (ad->json) {
		printf("{\"nodes\":[");
		for (uint32_t i = 0; i < r.n; i++) {
			const struct mgmtd_node_entry *e = &r.nodes[i];

			printf("%s{\"id\":%u,\"type\":", i ? "," : "", e->node_id);
			admin_json_str(node_type_name(e->type));
			printf(",\"state\":");
			admin_json_str(node_state_name(e->state));
			printf(",\"addr\":");
			admin_json_str(e->addr);
			printf(",\"hostname\":");
			admin_json_str(e->hostname);
			printf(",\"version\":");
			admin_json_str(e->version);
			printf(",\"pid\":%u,\"heartbeat_age_ms\":", e->pid);
			if (e->heartbeat_age_ms == UINT64_MAX)
				printf("null}");
			else
				printf("%" PRIu64 "}", e->heartbeat_age_ms);
		}
		printf("]}\n");
	} else {
		printf("%-8s %-8s %-12s %-22s %-16s %-8s %-8s %s\n", "ID", "TYPE", "STATE",
		       "ADDRESS", "HOST", "PID", "VERSION", "LAST HEARTBEAT");
		for (uint32_t i = 0; i < r.n; i++) {
			const struct mgmtd_node_entry *e = &r.nodes[i];
			char age[32];

			if (e->heartbeat_age_ms == UINT64_MAX)
				snprintf(age, sizeof(age), "-");
			else
				snprintf(age, sizeof(age), "%.1fs ago",
					 (double)e->heartbeat_age_ms / 1000.0);
			printf("%-8u %-8s %-12s %-22s %-16s %-8u %-8s %s\n", e->node_id,
			       node_type_name(e->type), node_state_name(e->state),
			       e->addr[0] ? e->addr : "-", e->hostname, e->pid,
			       e->version[0] ? e->version : "-", age);
		}
	}
	mgmtd_list_nodes_resp_release(&r);
	return 0;
}

static int cmd_list_targets(struct admin *ad)
{
	struct routing_info *ri;
	int rc = fetch_routing(ad, &ri);

	if (rc)
		return admin_fail("list-targets", rc);
	if (ad->json) {
		printf("{\"routing_version\":%" PRIu64 ",\"targets\":[", ri->version);
		for (uint32_t i = 0; i < ri->ntargets; i++) {
			const struct routing_target *t = &ri->targets[i];

			printf("%s{\"id\":%u,\"node\":%u,\"chain\":%u,\"state\":", i ? "," : "",
			       t->target_id, t->node_id, t->chain_id);
			admin_json_str(target_state_name(t->state));
			printf(",\"local_state\":");
			admin_json_str(target_local_state_name(t->local_state));
			printf(",\"capacity_bytes\":%" PRIu64 ",\"free_bytes\":%" PRIu64
			       ",\"sync_done_bytes\":%" PRIu64 ",\"sync_total_bytes\":%" PRIu64 ",",
			       t->capacity_bytes, t->free_bytes, t->sync_done_bytes,
			       t->sync_total_bytes);
			json_target_extra(t);
			printf("}");
		}
		printf("]}\n");
	} else {
		uint64_t now_ms = (uint64_t)time(NULL) * 1000;

		printf("%-8s %-8s %-8s %-9s %-9s %-12s %-12s %-11s %-12s %s\n", "TARGET", "NODE",
		       "CHAIN", "STATE", "LOCAL", "CAPACITY", "FREE", "CORRUPT", "SCRUBBED", "SYNC");
		for (uint32_t i = 0; i < ri->ntargets; i++) {
			const struct routing_target *t = &ri->targets[i];
			char cap[24], fr[24], sync[128] = "-", chain[16] = "-", bad[48];
			char scrub[32] = "never", age[24];

			if (t->state == TARGET_SYNCING)
				sync_text(t, sync, sizeof(sync));
			if (t->chain_id)
				snprintf(chain, sizeof(chain), "%u", t->chain_id);
			snprintf(bad, sizeof(bad), "%" PRIu64 "/%" PRIu64, t->corrupt_found,
				 t->corrupt_repaired);
			if (t->scrub_last_ms)
				snprintf(scrub, sizeof(scrub), "%s ago",
					 human_secs(now_ms > t->scrub_last_ms
							    ? (int64_t)((now_ms - t->scrub_last_ms) /
									1000)
							    : 0,
						    age, sizeof(age)));
			printf("%-8u %-8u %-8s %-9s %-9s %-12s %-12s %-11s %-12s %s\n", t->target_id,
			       t->node_id, chain, target_state_name(t->state),
			       target_local_state_name(t->local_state),
			       human_bytes(t->capacity_bytes, cap, sizeof(cap)),
			       human_bytes(t->free_bytes, fr, sizeof(fr)), bad, scrub, sync);
		}
	}
	routing_unref(ri);
	return 0;
}

static int cmd_list_chains(struct admin *ad)
{
	struct routing_info *ri;
	int rc = fetch_routing(ad, &ri);

	if (rc)
		return admin_fail("list-chains", rc);
	if (ad->json)
		printf("{\"routing_version\":%" PRIu64 ",\"chains\":[", ri->version);
	else
		printf("%-8s %-8s %-12s %s\n", "CHAIN", "VERSION", "HEALTH",
		       "TARGETS (head first)");
	for (uint32_t i = 0; i < ri->nchains; i++) {
		const struct routing_chain *c = &ri->chains[i];
		const char *h = health_name(chain_health(ri, c));
		if (ad->json) {
			printf("%s{\"id\":%u,\"version\":%u,\"health\":\"%s\",\"targets\":[",
			       i ? "," : "", c->chain_id, c->version, h);
			for (uint32_t k = 0; k < c->ntargets; k++) {
				printf("%s{\"id\":%u,\"state\":\"%s\"}", k ? "," : "", c->targets[k],
				       target_state_name(routing_member_state(ri, c->targets[k])));
			}
			printf("]}");
		} else {
			printf("%-8u %-8u %-12s", c->chain_id, c->version, h);
			for (uint32_t k = 0; k < c->ntargets; k++)
				printf(" %u(%s)", c->targets[k],
				       target_state_name(routing_member_state(ri, c->targets[k])));
			printf("\n");
		}
	}
	if (ad->json)
		printf("]}\n");
	routing_unref(ri);
	return 0;
}

static int cmd_list_tables(struct admin *ad)
{
	struct routing_info *ri;
	int rc = fetch_routing(ad, &ri);

	if (rc)
		return admin_fail("list-chain-tables", rc);
	if (ad->json)
		printf("{\"routing_version\":%" PRIu64 ",\"chain_tables\":[", ri->version);
	else
		printf("%-8s %-8s %-16s %-8s %s\n", "TABLE", "VERSION", "NAME", "CHAINS", "IDS");
	for (uint32_t i = 0; i < ri->ntables; i++) {
		const struct routing_chain_table *t = &ri->tables[i];

		if (ad->json) {
			printf("%s{\"id\":%u,\"version\":%u,\"name\":", i ? "," : "", t->table_id,
			       t->version);
			admin_json_str(t->name);
			printf(",\"chains\":[");
			for (uint32_t k = 0; k < t->nchains; k++)
				printf("%s%u", k ? "," : "", t->chains[k]);
			printf("]}");
		} else {
			printf("%-8u %-8u %-16s %-8u", t->table_id, t->version, t->name, t->nchains);
			for (uint32_t k = 0; k < t->nchains && k < 16; k++)
				printf("%s%u", k ? "," : " ", t->chains[k]);
			printf("%s\n", t->nchains > 16 ? ",..." : "");
		}
	}
	if (ad->json)
		printf("]}\n");
	routing_unref(ri);
	return 0;
}

static int cmd_status(struct admin *ad)
{
	struct routing_info *ri;
	struct mgmtd_leader_resp lr;
	struct c3_buf resp = C3_BUF_INIT;
	uint32_t nup = 0, ndown = 0, nmaint = 0, health[3] = { 0 }, tstate[6] = { 0 };
	uint64_t cap = 0, fr = 0;
	char b1[24], b2[24];
	int rc = fetch_routing(ad, &ri);

	if (rc)
		return admin_fail("status", rc);
	memset(&lr, 0, sizeof(lr));
	if (call(ad, MGMTD_T_GET_LEADER, NULL, &resp) == 0)
		mgmtd_leader_resp_decode(resp.data, resp.len, &lr);
	c3_buf_release(&resp);
	for (uint32_t i = 0; i < ri->nnodes; i++) {
		switch (ri->nodes[i].state) {
		case NODE_UP: nup++; break;
		case NODE_DOWN: ndown++; break;
		default: nmaint++; break;
		}
	}
	for (uint32_t i = 0; i < ri->nchains; i++) {
		health[chain_health(ri, &ri->chains[i])]++;
	}
	for (uint32_t i = 0; i < ri->ntargets; i++) {
		if (ri->targets[i].state <= 5)
			tstate[ri->targets[i].state]++;
		cap += ri->targets[i].capacity_bytes;
		fr += ri->targets[i].free_bytes;
	}
	if (ad->json) {
		printf("{\"leader\":");
		admin_json_str(ad->leader);
		printf(",\"routing_version\":%" PRIu64 ",\"nodes\":{\"up\":%u,\"down\":%u,"
		       "\"maintenance\":%u},\"chains\":{\"healthy\":%u,\"degraded\":%u,"
		       "\"unavailable\":%u},\"targets\":{", ri->version, nup, ndown, nmaint,
		       health[0], health[1], health[2]);
		for (int s = TARGET_SERVING; s <= TARGET_OFFLINE; s++)
			printf("%s\"%s\":%u", s > 1 ? "," : "", target_state_name(s), tstate[s]);
		printf("},\"capacity_bytes\":%" PRIu64 ",\"free_bytes\":%" PRIu64 ",\"syncing\":[",
		       cap, fr);
		for (uint32_t i = 0, first = 1; i < ri->ntargets; i++) {
			const struct routing_target *t = &ri->targets[i];

			if (t->state != TARGET_SYNCING)
				continue;
			printf("%s{\"target\":%u,\"chain\":%u,\"done_bytes\":%" PRIu64
			       ",\"total_bytes\":%" PRIu64 ",\"done_chunks\":%" PRIu64
			       ",\"total_chunks\":%" PRIu64 ",\"rate_bps\":%" PRIu64 ",\"eta_s\":",
			       first ? "" : ",", t->target_id, t->chain_id, t->sync_done_bytes,
			       t->sync_total_bytes, t->sync_done_chunks, t->sync_total_chunks,
			       t->sync_rate_bps);
			if (sync_eta_s(t) < 0)
				printf("null}");
			else
				printf("%lld}", (long long)sync_eta_s(t));
			first = 0;
		}
		printf("],\"corrupt\":[");
		for (uint32_t i = 0, first = 1; i < ri->ntargets; i++) {
			const struct routing_target *t = &ri->targets[i];

			if (!t->corrupt_found && !t->corrupt_repaired)
				continue;
			printf("%s{\"target\":%u,\"found\":%" PRIu64 ",\"repaired\":%" PRIu64 "}",
			       first ? "" : ",", t->target_id, t->corrupt_found, t->corrupt_repaired);
			first = 0;
		}
		printf("]}\n");
		routing_unref(ri);
		return 0;
	}
	printf("mgmtd leader   %s%s\n", ad->leader, lr.lease_left_ms ? "" : " (lease unknown)");
	printf("routing        version %" PRIu64 "\n", ri->version);
	printf("nodes          %u up, %u down, %u in maintenance\n", nup, ndown, nmaint);
	for (uint32_t i = 0; i < ri->nnodes; i++)
		if (ri->nodes[i].state != NODE_UP)
			printf("               node %u (%s, %s) is %s\n", ri->nodes[i].node_id,
			       node_type_name(ri->nodes[i].type), ri->nodes[i].addr,
			       node_state_name(ri->nodes[i].state));
	printf("chains         %u healthy, %u degraded, %u unavailable\n", health[0], health[1],
	       health[2]);
	printf("targets        %u serving, %u syncing, %u waiting, %u lastsrv, %u offline\n",
	       tstate[TARGET_SERVING], tstate[TARGET_SYNCING], tstate[TARGET_WAITING],
	       tstate[TARGET_LASTSRV], tstate[TARGET_OFFLINE]);
	printf("space          %s free of %s\n", human_bytes(fr, b1, sizeof(b1)),
	       human_bytes(cap, b2, sizeof(b2)));
	for (uint32_t i = 0; i < ri->ntargets; i++) {
		const struct routing_target *t = &ri->targets[i];

		char sync[128];

		if (t->state != TARGET_SYNCING)
			continue;
		printf("sync           target %u (chain %u): %s\n", t->target_id, t->chain_id,
		       sync_text(t, sync, sizeof(sync)));
	}
	for (uint32_t i = 0; i < ri->ntargets; i++) {
		const struct routing_target *t = &ri->targets[i];

		if (t->corrupt_found || t->corrupt_repaired)
			printf("corrupt        target %u: %" PRIu64 " chunks found corrupt, %" PRIu64
			       " repaired%s\n", t->target_id, t->corrupt_found, t->corrupt_repaired,
			       t->corrupt_repaired < t->corrupt_found ? " (repair pending)" : "");
	}
	routing_unref(ri);
	return 0;
}

int admin_parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int table_rpc(struct admin *ad, const struct mgmtd_create_table_req *q,
		     struct mgmtd_create_table_resp *r)
{
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	int rc;

	mgmtd_create_table_req_encode(q, &req);
	rc = call(ad, MGMTD_T_CREATE_CHAIN_TABLE, &req, &resp);
	if (rc == 0)
		rc = mgmtd_create_table_resp_decode(resp.data, resp.len, r);
	c3_buf_release(&req);
	c3_buf_release(&resp);
	return rc;
}

/* --nodes: the unused targets of those nodes, placed by admin_chain_gen (every pair of
 * nodes shares about the same number of chains), created one chain per request into one
 * table (mgmtd keeps the members and orders each chain itself: its head is the member on
 * the lowest node id).  A failure midway leaves the chains made so far; they are
 * reported. */
static int create_balanced(struct admin *ad, struct mgmtd_create_table_req *q,
			   const uint32_t *nodes, uint32_t nnodes)
{
	struct routing_info *ri;
	struct chain_gen_target *cand;
	struct mgmtd_create_table_resp r;
	uint32_t *out, nc = 0, tids[16];
	uint64_t ver = 0;
	int n, rc = fetch_routing(ad, &ri);

	if (rc)
		return admin_fail("create-chain-table", rc);
	cand = calloc(ri->ntargets + 1, sizeof(*cand));
	out = calloc(ri->ntargets + 1, sizeof(*out));
	if (!cand || !out) {
		routing_unref(ri);
		free(cand);
		free(out);
		return admin_fail("create-chain-table", -ENOMEM);
	}
	for (uint32_t i = 0; i < ri->ntargets; i++) {
		const struct routing_target *t = &ri->targets[i];
		bool listed = nnodes == 0;

		for (uint32_t k = 0; k < nnodes && !listed; k++)
			listed = nodes[k] == t->node_id;
		if (listed && t->chain_id == 0) {
			cand[nc].target_id = t->target_id;
			cand[nc].node_id = t->node_id;
			nc++;
		}
	}
	routing_unref(ri);
	n = admin_chain_gen(cand, nc, q->replicas, out, nc);
	if (n < 0) {
		fprintf(stderr, "c3fs-admin: create-chain-table: %s\n", n == -EINVAL ?
			"fewer listed nodes with unused targets than replicas (or more than 1024 "
			"nodes)" : "out of memory");
		free(cand);
		free(out);
		return 1;
	}
	q->ntargets = q->replicas;
	q->targets = tids;
	for (int c = 0; c < n; c++) {
		memcpy(tids, out + (size_t)c * q->replicas, sizeof(uint32_t) * q->replicas);
		rc = table_rpc(ad, q, &r);
		if (rc) {
			fprintf(stderr, "c3fs-admin: create-chain-table: chain %d of %d (targets %u...) "
				"failed after %d were added to table %u: %s\n", c + 1, n, tids[0], c,
				q->table_id, c3_strerror(rc));
			free(cand);
			free(out);
			return 1;
		}
		q->table_id = r.table_id;
		ver = r.routing_version;
	}
	if (ad->json)
		printf("{\"table_id\":%u,\"chains_added\":%d,\"targets_unused\":%u,"
		       "\"routing_version\":%" PRIu64 "}\n", q->table_id, n,
		       nc - (uint32_t)n * q->replicas, ver);
	else
		printf("chain table %u: %d balanced chains added over %u targets, %u left unused "
		       "(routing version %" PRIu64 ")\n", q->table_id, n, nc,
		       nc - (uint32_t)n * q->replicas, ver);
	free(cand);
	free(out);
	return 0;
}

static int cmd_create_table(struct admin *ad, int argc, char **argv)
{
	struct mgmtd_create_table_req q;
	struct mgmtd_create_table_resp r;
	uint32_t tids[4096], nodes[CHAIN_GEN_MAX_NODES];
	uint32_t nnodes = 0;
	bool by_nodes = false;
	int rc;

	memset(&q, 0, sizeof(q));
	snprintf(q.admin_token, sizeof(q.admin_token), "%s", ad->admin_token);
	for (int i = 0; i < argc; i += 2) { /* --option value pairs */
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			goto usage;
		if (strcmp(argv[i], "--replicas") == 0) {
			if (admin_parse_u32(v, &q.replicas))
				goto usage;
		} else if (strcmp(argv[i], "--table-id") == 0) {
			if (admin_parse_u32(v, &q.table_id))
				goto usage;
		} else if (strcmp(argv[i], "--name") == 0) {
			snprintf(q.name, sizeof(q.name), "%s", v);
		} else if (strcmp(argv[i], "--nodes") == 0) {
			char *copy = strdup(v), *save = NULL;

			by_nodes = true;
			for (char *t = strtok_r(copy, ",", &save); t && strcmp(v, "all") != 0;
			     t = strtok_r(NULL, ",", &save)) {
				if (nnodes >= CHAIN_GEN_MAX_NODES || admin_parse_u32(t, &nodes[nnodes])) {
					free(copy);
					goto usage;
				}
				nnodes++;
			}
			free(copy);
		} else if (strcmp(argv[i], "--targets") == 0) {
			char *copy = strdup(v), *save = NULL;

			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				if (q.ntargets >= 4096 || admin_parse_u32(t, &tids[q.ntargets])) {
					free(copy);
					goto usage;
				}
				q.ntargets++;
			}
			free(copy);
			q.targets = tids;
		} else {
			goto usage;
		}
	}
	if (q.replicas == 0 || (by_nodes && q.ntargets))
		goto usage;
	if (by_nodes)
		return create_balanced(ad, &q, nodes, nnodes);
	rc = table_rpc(ad, &q, &r);
	if (rc == -EINVAL) {
		fprintf(stderr, "c3fs-admin: create-chain-table: not one chain of %u replicas "
			"on distinct nodes can be formed from these targets\n", q.replicas);
		return 1;
	}
	if (rc == -EBUSY) {
		fprintf(stderr, "c3fs-admin: create-chain-table: a listed target is already in "
			"a chain\n");
		return 1;
	}
	if (rc == -ENOENT) {
		fprintf(stderr, "c3fs-admin: create-chain-table: %s\n", q.ntargets ?
			"a listed target does not exist" : "no unused target (every target is "
			"in a chain already)");
		return 1;
	}
	if (rc)
		return admin_fail("create-chain-table", rc);
	if (ad->json)
		printf("{\"table_id\":%u,\"table_version\":%u,\"chains_added\":%u,"
		       "\"targets_unused\":%u,\"routing_version\":%" PRIu64 "}\n", r.table_id,
		       r.table_version, r.nchains_added, r.targets_unused, r.routing_version);
	else
		printf("chain table %u version %u: %u chains added, %u targets left unused "
		       "(routing version %" PRIu64 ")\n", r.table_id, r.table_version,
		       r.nchains_added, r.targets_unused, r.routing_version);
	return 0;
usage:
	fprintf(stderr, "usage: c3fs-admin create-chain-table --replicas N [--table-id ID] "
		"[--name NAME] [--targets ID,ID,... | --nodes ID,ID,...|all]\n");
	return 2;
}

static int cmd_node_state(struct admin *ad, const char *cmd, int argc, char **argv,
			  uint8_t state)
{
	struct mgmtd_set_node_state_req q;
	struct mgmtd_admin_resp r;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	int rc;

	memset(&q, 0, sizeof(q));
	if (argc != 1 || admin_parse_u32(argv[0], &q.node_id)) {
		fprintf(stderr, "usage: c3fs-admin %s NODE_ID\n", cmd);
		return 2;
	}
	snprintf(q.admin_token, sizeof(q.admin_token), "%s", ad->admin_token);
	q.state = state;
	mgmtd_set_node_state_req_encode(&q, &req);
	rc = call(ad, MGMTD_T_SET_NODE_STATE, &req, &resp);
	if (rc == 0)
		rc = mgmtd_admin_resp_decode(resp.data, resp.len, &r);
	c3_buf_release(&req);
	c3_buf_release(&resp);
	if (rc)
		return admin_fail(cmd, rc);
	if (ad->json)
		printf("{\"node\":%u,\"state\":\"%s\",\"routing_version\":%" PRIu64 "}\n",
		       q.node_id, node_state_name(state), r.routing_version);
	else
		printf("node %u: %s (routing version %" PRIu64 ")\n", q.node_id,
		       state == NODE_MAINTENANCE ? "offline for maintenance" : "online",
		       r.routing_version);
	return 0;
}

static int cmd_remove_node(struct admin *ad, int argc, char **argv)
{
	struct mgmtd_remove_node_req q;
	struct mgmtd_admin_resp r;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	int rc;

	memset(&q, 0, sizeof(q));
	if (argc != 1 || admin_parse_u32(argv[0], &q.node_id)) {
		fprintf(stderr, "usage: c3fs-admin remove-node NODE_ID\n");
		return 2;
	}
	snprintf(q.admin_token, sizeof(q.admin_token), "%s", ad->admin_token);
	mgmtd_remove_node_req_encode(&q, &req);
	rc = call(ad, MGMTD_T_REMOVE_NODE, &req, &resp);
	if (rc == 0)
		rc = mgmtd_admin_resp_decode(resp.data, resp.len, &r);
	c3_buf_release(&req);
	c3_buf_release(&resp);
	switch (rc) {
	case 0:
		break;
	case -ENOENT:
		fprintf(stderr, "c3fs-admin: remove-node: no node %u\n", q.node_id);
		return 1;
	case -EINVAL:
		fprintf(stderr, "c3fs-admin: remove-node: node %u is a client session (clients "
			"are forgotten by themselves)\n", q.node_id);
		return 1;
	case -EBUSY:
		fprintf(stderr, "c3fs-admin: remove-node: refused: node %u is alive (stop it and "
			"wait until list-nodes shows it down)\n", q.node_id);
		return 3;
	case -ENOTEMPTY:
		fprintf(stderr, "c3fs-admin: remove-node: refused: node %u owns targets in chains "
			"(see list-chains; the mgmtd log names the chain)\n", q.node_id);
		return 3;
	default:
		return admin_fail("remove-node", rc);
	}
	if (ad->json)
		printf("{\"node\":%u,\"removed\":true,\"routing_version\":%" PRIu64 "}\n",
		       q.node_id, r.routing_version);
	else
		printf("node %u removed (routing version %" PRIu64 ")\n", q.node_id,
		       r.routing_version);
	return 0;
}

/* ------------------------------------------------------------------ live configuration */

/* NODE_ID or a type name (meta, storage, client) into the request fields.  0 or 2. */
static int parse_config_target(const char *cmd, const char *s, uint8_t *type, uint32_t *node)
{
	int t;

	*type = 0;
	*node = 0;
	if (admin_parse_u32(s, node) == 0 && *node != 0)
		return 0;
	t = node_type_parse(s);
	if (t < 0 || t == NODE_MGMTD) {
		fprintf(stderr, "c3fs-admin: %s: '%s' is neither a node id nor a node type (meta, "
			"storage, client)\n", cmd, s);
		return 2;
	}
	*type = (uint8_t)t;
	return 0;
}

/* A refused live-configuration request: the reason mgmtd gave, exit 3 (or 1). */
static int config_refused(const char *cmd, int rc, const struct c3_buf *resp)
{
	char why[512];

	mgmtd_error_text_decode(resp->data, resp->len, why, sizeof(why));
	if (rc == -C3FS_EADMIN || !why[0])
		return admin_fail(cmd, rc);
	fprintf(stderr, "c3fs-admin: %s: refused: %s\n", cmd, why);
	return rc == -C3FS_ECONFIG ? 3 : 1;
}

static int cmd_get_config(struct admin *ad, int argc, char **argv)
{
	struct mgmtd_get_config_req q;
	struct mgmtd_get_config_resp r;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	int rc;

	memset(&q, 0, sizeof(q));
	if (argc != 1) {
		fprintf(stderr, "usage: c3fs-admin get-config NODE_ID|TYPE\n");
		return 2;
	}
	if (parse_config_target("get-config", argv[0], &q.node_type, &q.node_id))
		return 2;
	q.schema = (char *)"";
	mgmtd_get_config_req_encode(&q, &req);
	rc = call(ad, MGMTD_T_GET_CONFIG, &req, &resp);
	if (rc) {
		rc = config_refused("get-config", rc, &resp);
		c3_buf_release(&req);
		c3_buf_release(&resp);
		return rc;
	}
	rc = mgmtd_get_config_resp_decode(resp.data, resp.len, &r);
	c3_buf_release(&req);
	c3_buf_release(&resp);
	if (rc)
		return admin_fail("get-config", rc);
	if (ad->json) {
		printf("{\"type\":");
		admin_json_str(node_type_name(r.node_type));
		printf(",\"node\":%u,\"version\":%" PRIu64 ",\"settings\":", q.node_id,
		       r.version);
		admin_json_str(r.settings);
		printf("}\n");
	} else {
		printf("# live settings of %s%s%.0u (configuration version %" PRIu64 "; "
		       "other keys: the daemon's file)\n", node_type_name(r.node_type),
		       q.node_id ? " node " : "", q.node_id, r.version);
		fputs(r.settings, stdout);
	}
	mgmtd_get_config_resp_release(&r);
	return 0;
}

static int cmd_set_config(struct admin *ad, int argc, char **argv)
{
	struct mgmtd_set_config_req q;
	struct mgmtd_admin_resp r;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT, lines = C3_BUF_INIT;
	int rc;

	memset(&q, 0, sizeof(q));
	if (argc < 2) {
		fprintf(stderr, "usage: c3fs-admin set-config TYPE|NODE_ID SECTION.KEY=VALUE...\n");
		return 2;
	}
	if (parse_config_target("set-config", argv[0], &q.node_type, &q.node_id))
		return 2;
	for (int i = 1; i < argc; i++) {
		if (!strchr(argv[i], '=') || strchr(argv[i], '\n')) {
			fprintf(stderr, "c3fs-admin: set-config: '%s': expected SECTION.KEY=VALUE\n",
				argv[i]);
			c3_buf_release(&lines);
			return 2;
		}
		c3_buf_printf(&lines, "%s\n", argv[i]);
	}
	c3_buf_append(&lines, "", 1);
	if (lines.err) {
		c3_buf_release(&lines);
		return admin_fail("set-config", -ENOMEM);
	}
	snprintf(q.admin_token, sizeof(q.admin_token), "%s", ad->admin_token);
	q.assignments = (char *)lines.data;
	mgmtd_set_config_req_encode(&q, &req);
	rc = call(ad, MGMTD_T_SET_CONFIG, &req, &resp);
	if (rc == 0)
		rc = mgmtd_admin_resp_decode(resp.data, resp.len, &r);
	else
		rc = config_refused("set-config", rc, &resp);
	c3_buf_release(&req);
	c3_buf_release(&resp);
	c3_buf_release(&lines);
	if (rc)
		return rc < 0 ? admin_fail("set-config", rc) : rc;
	if (ad->json)
		printf("{\"version\":%" PRIu64 "}\n", r.routing_version);
	else
		printf("configuration version %" PRIu64 " stored; running daemons apply it "
		       "with their next heartbeat\n", r.routing_version);
	return 0;
}

static int cmd_target_state(struct admin *ad, int argc, char **argv)
{
	struct mgmtd_set_target_state_req q;
	struct mgmtd_admin_resp r;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	int rc, st;

	memset(&q, 0, sizeof(q));
	if (argc != 2 || admin_parse_u32(argv[0], &q.target_id) ||
	    (st = target_state_parse(argv[1])) < 0 ||
	    (st != TARGET_SERVING && st != TARGET_OFFLINE)) {
		fprintf(stderr, "usage: c3fs-admin set-target-state TARGET_ID serving|offline\n");
		return 2;
	}
	snprintf(q.admin_token, sizeof(q.admin_token), "%s", ad->admin_token);
	q.state = (uint8_t)st;
	mgmtd_set_target_state_req_encode(&q, &req);
	rc = call(ad, MGMTD_T_SET_TARGET_STATE, &req, &resp);
	if (rc == 0)
		rc = mgmtd_admin_resp_decode(resp.data, resp.len, &r);
	c3_buf_release(&req);
	c3_buf_release(&resp);
	if (rc == -EBUSY) {
		fprintf(stderr, "c3fs-admin: set-target-state: target %u is the last serving "
			"replica of its chain; refusing to take it offline\n", q.target_id);
		return 1;
	}
	if (rc)
		return admin_fail("set-target-state", rc);
	if (ad->json)
		printf("{\"target\":%u,\"state\":\"%s\",\"routing_version\":%" PRIu64 "}\n",
		       q.target_id, target_state_name(st), r.routing_version);
	else
		printf("target %u: %s requested (routing version %" PRIu64 ")\n", q.target_id,
		       target_state_name(st), r.routing_version);
	return 0;
}

static int cmd_rotate_lastsrv(struct admin *ad, int argc, char **argv)
{
	struct mgmtd_rotate_lastsrv_req q;
	struct mgmtd_admin_resp r;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	int rc;

	memset(&q, 0, sizeof(q));
	if (argc != 1 || admin_parse_u32(argv[0], &q.chain_id) || q.chain_id == 0) {
		fprintf(stderr, "usage: c3fs-admin rotate-lastsrv CHAIN_ID\n");
		return 2;
	}
	snprintf(q.admin_token, sizeof(q.admin_token), "%s", ad->admin_token);
	mgmtd_rotate_lastsrv_req_encode(&q, &req);
	rc = call(ad, MGMTD_T_ROTATE_LASTSRV, &req, &resp);
	if (rc == 0)
		rc = mgmtd_admin_resp_decode(resp.data, resp.len, &r);
	c3_buf_release(&req);
	c3_buf_release(&resp);
	if (rc == -EINVAL) {
		fprintf(stderr, "c3fs-admin: rotate-lastsrv: chain %u has no lastsrv member (or "
			"only one member)\n", q.chain_id);
		return 1;
	}
	if (rc)
		return admin_fail("rotate-lastsrv", rc);
	if (ad->json)
		printf("{\"chain\":%u,\"routing_version\":%" PRIu64 "}\n", q.chain_id,
		       r.routing_version);
	else
		printf("chain %u: lastsrv given up, next member promoted (routing version %" PRIu64
		       ")\n", q.chain_id, r.routing_version);
	return 0;
}

/* ------------------------------------------------------------------ chain membership */

static int chain_member_rpc(struct admin *ad, uint32_t chain, uint32_t target, uint8_t op,
			    uint64_t *version)
{
	struct mgmtd_chain_member_req q;
	struct mgmtd_admin_resp r;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	int rc;

	memset(&q, 0, sizeof(q));
	snprintf(q.admin_token, sizeof(q.admin_token), "%s", ad->admin_token);
	q.chain_id = chain;
	q.target_id = target;
	q.op = op;
	mgmtd_chain_member_req_encode(&q, &req);
	rc = call(ad, MGMTD_T_CHAIN_MEMBER, &req, &resp);
	if (rc == 0)
		rc = mgmtd_admin_resp_decode(resp.data, resp.len, &r);
	if (rc == 0 && version)
		*version = r.routing_version;
	c3_buf_release(&req);
	c3_buf_release(&resp);
	return rc;
}

static const char *chain_member_why(uint8_t op, int rc)
{
	switch (-rc) {
	case ENOENT: return "no such chain or target";
	case EBUSY: return op == MGMTD_CHAIN_ADD ? "the target is in a chain already"
					     : "not every other member serves (or it is the last)";
	case EEXIST: return "its node holds a member of that chain already";
	case ENOSPC: return "the chain is full";
	case EINVAL: return "the target is not a member of that chain";
	default: return NULL;
	}
}

static int cmd_chain_member(struct admin *ad, const char *cmd, int argc, char **argv, uint8_t op)
{
	uint32_t chain, target;
	uint64_t version = 0;
	const char *why;
	int rc;

	if (argc != 2 || admin_parse_u32(argv[0], &chain) || admin_parse_u32(argv[1], &target) || !chain ||
	    !target) {
		fprintf(stderr, "usage: c3fs-admin %s CHAIN_ID TARGET_ID\n", cmd);
		return 2;
	}
	rc = chain_member_rpc(ad, chain, target, op, &version);
	why = rc ? chain_member_why(op, rc) : NULL;
	if (why) {
		fprintf(stderr, "c3fs-admin: %s: refused: %s\n", cmd, why);
		return 3;
	}
	if (rc)
		return admin_fail(cmd, rc);
	if (ad->json)
		printf("{\"chain\":%u,\"target\":%u,\"routing_version\":%" PRIu64 "}\n", chain,
		       target, version);
	else
		printf("chain %u: target %u %s (routing version %" PRIu64 ")\n", chain, target,
		       op == MGMTD_CHAIN_ADD ? "added at the tail, syncing" : "removed", version);
	return 0;
}

/* rebalance: while the storage node holding the most chain memberships holds two more
 * than the one holding the fewest (which has an unused target), move one replica of a
 * chain from the first to the second: add the new target (it syncs), wait until it
 * serves, then remove the old one.  The chain never has fewer serving replicas than
 * before.  One move at a time; --dry-run prints the plan. */
struct rb_node { uint32_t id, load, spare; };

static struct rb_node *rb_find(struct rb_node *v, uint32_t n, uint32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (v[i].id == id)
			return &v[i];
	return NULL;
}

/* The next move on ri, or 0 when balanced. */
static int rb_plan(const struct routing_info *ri, uint32_t *chain, uint32_t *from,
		   uint32_t *to)
{
	struct rb_node v[ROUTING_MAX_NODES];
	uint32_t n = 0, hi = 0, lo = 0;

	for (uint32_t i = 0; i < ri->nnodes && n < ROUTING_MAX_NODES; i++)
		if (ri->nodes[i].type == NODE_STORAGE && ri->nodes[i].state == NODE_UP)
			v[n++] = (struct rb_node){ ri->nodes[i].node_id, 0, 0 };
	for (uint32_t i = 0; i < ri->ntargets; i++) {
		struct rb_node *x = rb_find(v, n, ri->targets[i].node_id);

		if (!x)
			continue;
		if (ri->targets[i].chain_id)
			x->load++;
		else
			x->spare++;
	}
	if (n < 2)
		return 0;
	for (uint32_t i = 1; i < n; i++) {
		if (v[i].load > v[hi].load)
			hi = i;
		if (v[i].spare && (!v[lo].spare || v[i].load < v[lo].load))
			lo = i;
	}
	if (!v[lo].spare || v[hi].load < v[lo].load + 2)
		return 0;
	/* a chain with a serving member on hi and none on lo, every member serving */
	for (uint32_t c = 0; c < ri->nchains; c++) {
		const struct routing_chain *ch = &ri->chains[c];
		uint32_t on_hi = 0;
		bool on_lo = false, healthy = true;

		for (uint32_t k = 0; k < ch->ntargets; k++) {
			const struct routing_target *t = routing_target_find(ri, ch->targets[k]);

			if (!t || t->state != TARGET_SERVING)
				healthy = false;
			else if (t->node_id == v[hi].id)
				on_hi = t->target_id;
			else if (t->node_id == v[lo].id)
				on_lo = true;
		}
		if (!healthy || !on_hi || on_lo)
			continue;
		for (uint32_t i = 0; i < ri->ntargets; i++)
			if (ri->targets[i].node_id == v[lo].id && !ri->targets[i].chain_id) {
				*chain = ch->chain_id;
				*from = on_hi;
				*to = ri->targets[i].target_id;
				return 1;
			}
	}
	return 0;
}

static int rb_target_state(struct admin *ad, uint32_t target)
{
	struct routing_info *ri = NULL;
	const struct routing_target *t;
	int st;

	if (fetch_routing(ad, &ri))
		return -1;
	t = routing_target_find(ri, target);
	st = t ? t->state : -1;
	routing_unref(ri);
	return st;
}

static int cmd_rebalance(struct admin *ad, int argc, char **argv)
{
	bool dry = false;
	uint32_t timeout_s = 3600, moves = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0) {
			dry = true;
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc &&
			   !admin_parse_u32(argv[i + 1], &timeout_s)) {
			i++;
		} else {
			fprintf(stderr, "usage: c3fs-admin rebalance [--dry-run] [--timeout SECS]\n");
			return 2;
		}
	}
	for (;;) {
		struct routing_info *ri = NULL;
		uint32_t chain, from, to;
		uint64_t until;
		int rc, more;

		rc = fetch_routing(ad, &ri);
		if (rc)
			return admin_fail("rebalance", rc);
		more = rb_plan(ri, &chain, &from, &to);
		routing_unref(ri);
		if (!more)
			break;
		printf("move: chain %u, target %u -> target %u%s\n", chain, from, to,
		       dry ? " (dry run)" : "");
		fflush(stdout);
		if (dry)
			return 0; /* the next move depends on this one's outcome */
		rc = chain_member_rpc(ad, chain, to, MGMTD_CHAIN_ADD, NULL);
		if (rc) {
			fprintf(stderr, "c3fs-admin: rebalance: adding target %u to chain %u: %s\n",
				to, chain, chain_member_why(MGMTD_CHAIN_ADD, rc) ?
				chain_member_why(MGMTD_CHAIN_ADD, rc) : c3_strerror(rc));
			return 1;
		}
		until = c3_now_ms() + (uint64_t)timeout_s * 1000;
		while (rb_target_state(ad, to) != TARGET_SERVING) {
			if (c3_now_ms() > until) {
				fprintf(stderr, "c3fs-admin: rebalance: target %u still not serving "
					"after %u s; chain %u keeps it and target %u\n", to,
					timeout_s, chain, from);
				return 1;
			}
			c3_sleep_ms(500);
		}
		rc = chain_member_rpc(ad, chain, from, MGMTD_CHAIN_REMOVE, NULL);
		if (rc) {
			fprintf(stderr, "c3fs-admin: rebalance: removing target %u from chain %u: "
				"%s\n", from, chain, chain_member_why(MGMTD_CHAIN_REMOVE, rc) ?
				chain_member_why(MGMTD_CHAIN_REMOVE, rc) : c3_strerror(rc));
			return 1;
		}
		printf("moved: chain %u now on target %u instead of %u\n", chain, to, from);
		fflush(stdout);
		moves++;
	}
	printf("balanced (%u move%s)\n", moves, moves == 1 ? "" : "s");
	return 0;
}

static int cmd_leader(struct admin *ad)
{
	struct mgmtd_leader_resp lr;
	struct c3_buf resp = C3_BUF_INIT;
	int rc = call(ad, MGMTD_T_GET_LEADER, NULL, &resp);

	if (rc == 0)
		rc = mgmtd_leader_resp_decode(resp.data, resp.len, &lr);
	c3_buf_release(&resp);
	if (rc)
		return admin_fail("leader", rc);
	if (ad->json) {
		printf("{\"leader\":");
		admin_json_str(lr.leader);
		printf(",\"answered_by\":");
		admin_json_str(lr.self);
		printf(",\"lease_left_ms\":%" PRIu64 "}\n", lr.lease_left_ms);
	} else {
		printf("leader %s (lease %.1fs left), answered by %s\n",
		       lr.leader[0] ? lr.leader : "unknown", (double)lr.lease_left_ms / 1000.0,
		       lr.self);
	}
	return 0;
}

static void usage_line(FILE *f);

/* scrub TARGET_ID: straight to the storage node holding the target (its address from the
 * routing), with the cluster token: a pass only reads (at storage.scrub_rate) and repairs
 * through the normal repair path, so it needs no admin token and no state in mgmtd. */
static int cmd_scrub(struct admin *ad, int argc, char **argv)
{
	struct routing_info *ri;
	const struct routing_target *t;
	const struct routing_node *n;
	struct storage_scrub_req q;
	struct c3_buf req = C3_BUF_INIT;
	char addr[ROUTING_ADDR_MAX];
	int rc;

	if (argc != 1 || admin_parse_u32(argv[0], &q.target_id) != 0 || q.target_id == 0) {
		fprintf(stderr, "c3fs-admin: scrub takes one target id\n");
		usage_line(stderr);
		return 2;
	}
	rc = fetch_routing(ad, &ri);
	if (rc)
		return admin_fail("scrub", rc);
	t = routing_target_find(ri, q.target_id);
	n = t ? routing_node_find(ri, t->node_id) : NULL;
	if (!n || !n->addr[0]) {
		fprintf(stderr, "c3fs-admin: scrub: %s %u\n",
			t ? "no address known for the node of target" : "no such target",
			q.target_id);
		routing_unref(ri);
		return 1;
	}
	snprintf(addr, sizeof(addr), "%s", n->addr);
	routing_unref(ri);
	storage_scrub_req_encode(&q, &req);
	rc = req.err ? req.err
		     : rpc_call_sync(ad->rpc, addr, STORAGE_T_SCRUB, req.data, req.len, NULL, 5000);
	c3_buf_release(&req);
	if (rc)
		return admin_fail("scrub", rc);
	if (ad->json)
		printf("{\"target\":%u,\"node_addr\":\"%s\",\"scrub\":\"started\"}\n",
		       q.target_id, addr);
	else
		printf("scrub of target %u started on %s (watch c3fs-admin list-targets: SCRUBBED, "
		       "CORRUPT)\n", q.target_id, addr);
	return 0;
}

/* wait-sync [--timeout SECONDS]: until every target in a chain is serving.  A progress
 * bar redrawn in place on a terminal, one plain line per poll otherwise. */
static int cmd_wait_sync(struct admin *ad, int argc, char **argv)
{
	uint32_t timeout_s = 0;
	uint64_t start = (uint64_t)time(NULL);
	bool tty = isatty(STDOUT_FILENO) && !ad->json, drawn = false;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc &&
		    admin_parse_u32(argv[i + 1], &timeout_s) == 0) {
			i++;
			continue;
		}
		fprintf(stderr, "c3fs-admin: wait-sync takes [--timeout SECONDS], not '%s'\n",
			argv[i]);
		usage_line(stderr);
		return 2;
	}
	for (;;) {
		struct routing_info *ri;
		struct routing_target sum;
		uint32_t notserving = 0, syncing = 0;
		char line[256], bar[41], txt[128];
		int rc = fetch_routing(ad, &ri), fill;

		if (rc)
			return admin_fail("wait-sync", rc);
		memset(&sum, 0, sizeof(sum));
		for (uint32_t i = 0; i < ri->ntargets; i++) {
			const struct routing_target *t = &ri->targets[i];

			if (!t->chain_id || t->state == TARGET_SERVING)
				continue;
			notserving++;
			if (t->state != TARGET_SYNCING)
				continue;
			syncing++;
			sum.sync_done_chunks += t->sync_done_chunks;
			sum.sync_total_chunks += t->sync_total_chunks;
			sum.sync_done_bytes += t->sync_done_bytes;
			sum.sync_total_bytes += t->sync_total_bytes;
			sum.sync_rate_bps += t->sync_rate_bps;
		}
		if (ad->json && notserving == 0)
			printf("{\"serving\":true,\"routing_version\":%" PRIu64 "}\n", ri->version);
		routing_unref(ri);
		fill = sum.sync_total_bytes ? (int)(40 * sum.sync_done_bytes / sum.sync_total_bytes)
					    : 0;
		if (fill > 40)
			fill = 40;
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(40 - fill));
		bar[40] = '\0';
		if (notserving == 0)
			snprintf(line, sizeof(line), "every target is serving");
		else
			snprintf(line, sizeof(line), "[%s] %s; %u syncing, %u not serving", bar,
				 syncing ? sync_text(&sum, txt, sizeof(txt)) : "waiting", syncing,
				 notserving);
		if (tty) {
			printf("\r\033[K%s", line);
			drawn = true;
		} else if (!ad->json) {
			printf("%s\n", line);
		}
		fflush(stdout);
		if (notserving == 0) {
			if (drawn)
				printf("\n");
			return 0;
		}
		if (timeout_s && (uint64_t)time(NULL) - start >= timeout_s) {
			if (drawn)
				printf("\n");
			if (ad->json)
				printf("{\"serving\":false,\"not_serving\":%u}\n", notserving);
			fprintf(stderr, "c3fs-admin: wait-sync: %u targets still not serving after "
				"%u s\n", notserving, timeout_s);
			return 1;
		}
		c3_sleep_ms(1000);
	}
}

/* ------------------------------------------------------------------ main */

static void usage_line(FILE *f)
{
	fprintf(f,
		"usage: c3fs-admin [OPTIONS] COMMAND [ARGS] [OPTIONS]   (c3fs-admin --help lists "
		"commands and options)\n");
}

static void usage(FILE *f)
{
	usage_line(f);
	fprintf(f,
		"options (before or after the command):\n"
		"  --mgmtd ADDRS               mgmtd addresses, ip:port[,ip:port...]\n"
		"  --token-file FILE           cluster token from FILE's first line\n"
		"  --admin-token-file FILE     admin token from FILE's first line\n"
		"  --token T, --admin-token T  tokens on the command line (visible to every\n"
		"                              local user in ps; prefer the files or\n"
		"                              $C3FS_TOKEN / $C3FS_ADMIN_TOKEN)\n"
		"  --config FILE               admin.ini to read (default $C3FS_HOME/admin.ini,\n"
		"                              then ./.c3fs/admin.ini)\n"
		"  --json                      one JSON document instead of tables\n"
		"  --OPTION=VALUE works too; -- ends the options.\n"
		"commands:\n"
		"  status                      one-screen cluster health\n"
		"  list-nodes                  nodes and client sessions\n"
		"  list-targets                targets, states, space, corrupt chunks found/\n"
		"                              repaired, last scrub, sync progress\n"
		"  list-chains                 chains with members in order (head first)\n"
		"  list-chain-tables           chain tables\n"
		"  leader                      which mgmtd leads\n"
		"  create-chain-table --replicas N [--table-id ID] [--name NAME] [--targets IDS]\n"
		"                              (admin) chains over unused targets, replicas on\n"
		"                              distinct nodes; adds a version to an existing table\n"
		"    --nodes IDS|all           balanced: over the unused targets of these nodes,\n"
		"                              every pair of nodes shares about as many chains\n"
		"  offline-node NODE_ID        (admin) maintenance: its targets leave their chains\n"
		"  online-node NODE_ID         (admin) end maintenance\n"
		"  remove-node NODE_ID         (admin) forget a node that is down and whose\n"
		"                              targets are in no chain (its targets too)\n"
		"  set-target-state TARGET_ID serving|offline   (admin)\n"
		"  add-chain-target CHAIN TARGET     (admin) an unused target joins the chain at\n"
		"                              the tail; it syncs, then serves\n"
		"  remove-chain-target CHAIN TARGET  (admin) a member leaves (every other member\n"
		"                              must serve)\n"
		"  rebalance [--dry-run] [--timeout SECS]\n"
		"                              (admin) move replicas onto nodes with unused\n"
		"                              targets, one at a time (add, wait, remove)\n"
		"  rotate-lastsrv CHAIN_ID     (admin) give up a lastsrv whose disk is lost:\n"
		"                              the next member takes over (its data wins)\n"
		"  scrub TARGET_ID             start a scrub pass of the target now (verify every\n"
		"                              chunk's checksums, compare with the successor)\n"
		"  wait-sync [--timeout SECS]  wait until every chain member is serving, with a\n"
		"                              progress bar of the syncs (exit 1 on timeout)\n"
		"  get-config NODE_ID|TYPE     live settings mgmtd holds for a node or a type\n"
		"  set-config NODE_ID|TYPE SECTION.KEY=VALUE...\n"
		"                              (admin) change reloadable keys of running daemons\n"
		"                              (KEY= removes a setting); others are refused\n");
	admin_users_usage(f);
	admin_trash_usage(f);
	fprintf(f,
		"Settings come from the options, then $C3FS_TOKEN / $C3FS_ADMIN_TOKEN, then\n"
		"admin.ini.  Exit status: 0 ok, 1 failed, 2 usage or configuration, 3 refused.\n");
}

/* Fill missing settings from an admin.ini.  0, or 2 on a bad file. */
static int load_ini(struct admin *ad, struct admin_ini *ini, const char *explicit_path)
{
	char path[4096], err[C3_CFG_ERRLEN];
	const char *home = getenv("C3FS_HOME");
	struct stat sb;
	int rc;

	if (explicit_path)
		snprintf(path, sizeof(path), "%s", explicit_path);
	else if (home && *home)
		snprintf(path, sizeof(path), "%s/admin.ini", home);
	else
		snprintf(path, sizeof(path), ".c3fs/admin.ini");
	if (!explicit_path && stat(path, &sb) != 0)
		return 0;
	rc = c3_cfg_load_file(&admin_table, ini, path, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "c3fs-admin: %s: %s\n", path,
			rc == -C3FS_ECONFIG ? err : c3_strerror(rc));
		return 2;
	}
	if (!ad->mgmtd && ini->mgmtd[0])
		ad->mgmtd = ini->mgmtd;
	if (!ad->token)
		ad->token = ini->token;
	if (!ad->admin_token)
		ad->admin_token = ini->admin_token;
	return 0;
}

/* The first line of path, without its newline, into a malloc'd string; NULL with a
 * message on stderr when it cannot be read. */
static char *read_token_file(const char *opt, const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "re");
	char *tok;

	if (!f) {
		fprintf(stderr, "c3fs-admin: %s %s: %s\n", opt, path, strerror(errno));
		return NULL;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	tok = strdup(line);
	if (!tok)
		fprintf(stderr, "c3fs-admin: out of memory\n");
	return tok;
}

/* Options every command takes, anywhere on the line. */
enum admin_opt { OPT_JSON, OPT_HELP, OPT_MGMTD, OPT_TOKEN, OPT_TOKEN_FILE, OPT_ADMIN_TOKEN,
		 OPT_ADMIN_TOKEN_FILE, OPT_CONFIG };
static const struct {
	const char *name;
	enum admin_opt id;
	bool has_value;
} admin_opts[] = {
	{ "--json", OPT_JSON, false },
	{ "--help", OPT_HELP, false },
	{ "-h", OPT_HELP, false },
	{ "--mgmtd", OPT_MGMTD, true },
	{ "--token", OPT_TOKEN, true },
	{ "--token-file", OPT_TOKEN_FILE, true },
	{ "--admin-token", OPT_ADMIN_TOKEN, true },
	{ "--admin-token-file", OPT_ADMIN_TOKEN_FILE, true },
	{ "--config", OPT_CONFIG, true },
};
/* Options of a command (create-chain-table), handed to it with their value. */
static const char *const cmd_value_opts[] = { "--replicas", "--table-id", "--name",
					      "--targets", "--nodes", "--expire", "--timeout",
					      "--gid", "--groups", "--token-out" };
/* Options of a command that take no value (trash purge). */
static const char *const cmd_flag_opts[] = { "--expired", "--root", "--admin", "--dry-run" };

/* Parsed command line: the global options, and the command with its own arguments. */
struct admin_args {
	bool json, help;
	const char *mgmtd, *token, *token_file, *admin_token, *admin_token_file, *config;
	int nrest;
	char **rest; /* rest[0] = the command; the array is malloc'd, strings are argv's */
};

/* 0, or 2 after a message on stderr. */
static int parse_args(int argc, char **argv, struct admin_args *a)
{
	bool opts_done = false;

	memset(a, 0, sizeof(*a));
	a->rest = calloc((size_t)argc * 2 + 1, sizeof(char *));
	if (!a->rest) {
		fprintf(stderr, "c3fs-admin: out of memory\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		char *arg = argv[i], *eq = NULL;
		size_t nlen;
		const char *v;
		size_t k;

		if (opts_done || arg[0] != '-' || arg[1] == '\0') {
			a->rest[a->nrest++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			opts_done = true;
			continue;
		}
		if (arg[1] == '-')
			eq = strchr(arg, '=');
		nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		for (k = 0; k < sizeof(admin_opts) / sizeof(admin_opts[0]); k++)
			if (strlen(admin_opts[k].name) == nlen &&
			    strncmp(admin_opts[k].name, arg, nlen) == 0)
				break;
		if (k < sizeof(admin_opts) / sizeof(admin_opts[0])) {
			if (!admin_opts[k].has_value) {
				if (eq) {
					fprintf(stderr, "c3fs-admin: option %.*s takes no value\n",
						(int)nlen, arg);
					goto usage;
				}
				if (admin_opts[k].id == OPT_JSON)
					a->json = true;
				else
					a->help = true;
				continue;
			}
			v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
			if (!v) {
				fprintf(stderr, "c3fs-admin: option %s needs a value\n", arg);
				goto usage;
			}
			switch (admin_opts[k].id) {
			case OPT_MGMTD: a->mgmtd = v; break;
			case OPT_TOKEN: a->token = v; a->token_file = NULL; break;
			case OPT_TOKEN_FILE: a->token_file = v; a->token = NULL; break;
			case OPT_ADMIN_TOKEN: a->admin_token = v; a->admin_token_file = NULL; break;
			case OPT_ADMIN_TOKEN_FILE:
				a->admin_token_file = v;
				a->admin_token = NULL;
				break;
			case OPT_CONFIG: a->config = v; break;
			default: break;
			}
			continue;
		}
		for (k = 0; k < sizeof(cmd_value_opts) / sizeof(cmd_value_opts[0]); k++)
			if (strlen(cmd_value_opts[k]) == nlen &&
			    strncmp(cmd_value_opts[k], arg, nlen) == 0)
				break;
		if (k < sizeof(cmd_value_opts) / sizeof(cmd_value_opts[0])) {
			/* the command checks it; its value is never taken for an option */
			a->rest[a->nrest++] = (char *)cmd_value_opts[k];
			if (eq)
				a->rest[a->nrest++] = eq + 1;
			else if (i + 1 < argc)
				a->rest[a->nrest++] = argv[++i];
			continue;
		}
		for (k = 0; k < sizeof(cmd_flag_opts) / sizeof(cmd_flag_opts[0]); k++)
			if (strcmp(cmd_flag_opts[k], arg) == 0)
				break;
		if (k < sizeof(cmd_flag_opts) / sizeof(cmd_flag_opts[0])) {
			a->rest[a->nrest++] = (char *)cmd_flag_opts[k];
			continue;
		}
		fprintf(stderr, "c3fs-admin: unknown option '%s'\n", arg);
		goto usage;
	}
	return 0;
usage:
	usage_line(stderr);
	return 2;
}

/* A command that takes no arguments: 0, or 2 after a message. */
static int no_args(const char *cmd, int argc, char **argv)
{
	if (argc == 0)
		return 0;
	fprintf(stderr, "c3fs-admin: %s takes no %s '%s'\n", cmd,
		argv[0][0] == '-' ? "option" : "argument", argv[0]);
	usage_line(stderr);
	return 2;
}

/* Commands without arguments. */
static const struct {
	const char *name;
	int (*fn)(struct admin *ad);
} simple_cmds[] = {
	{ "status", cmd_status },
	{ "list-nodes", cmd_list_nodes },
	{ "list-targets", cmd_list_targets },
	{ "list-chains", cmd_list_chains },
	{ "list-chain-tables", cmd_list_tables },
	{ "leader", cmd_leader },
};
/* Commands with arguments (each checks its own). */
static const char *const arg_cmds[] = { "create-chain-table", "offline-node", "online-node",
					"remove-node", "set-target-state", "rotate-lastsrv",
					"get-config", "set-config", "scrub", "wait-sync",
					"add-chain-target", "remove-chain-target", "rebalance" };

/* Before anything is read or connected: a known command, and no arguments for a command
 * that takes none.  0, or 2 after a message. */
static int check_command(const char *cmd, int argc, char **argv)
{
	size_t k;

	for (k = 0; k < sizeof(simple_cmds) / sizeof(simple_cmds[0]); k++)
		if (strcmp(cmd, simple_cmds[k].name) == 0)
			return no_args(cmd, argc, argv);
	for (k = 0; k < sizeof(arg_cmds) / sizeof(arg_cmds[0]); k++)
		if (strcmp(cmd, arg_cmds[k]) == 0)
			return 0;
	if (admin_trash_is_cmd(cmd))
		return 0;
	if (admin_users_is_cmd(cmd))
		return 0;
	fprintf(stderr, "c3fs-admin: unknown command '%s'\n", cmd);
	usage_line(stderr);
	return 2;
}

/* Run a command that check_command accepted. */
static int run_command(struct admin *ad, const char *cmd, int argc, char **argv)
{
	for (size_t k = 0; k < sizeof(simple_cmds) / sizeof(simple_cmds[0]); k++)
		if (strcmp(cmd, simple_cmds[k].name) == 0)
			return simple_cmds[k].fn(ad);
	if (strcmp(cmd, "create-chain-table") == 0)
		return cmd_create_table(ad, argc, argv);
	if (strcmp(cmd, "offline-node") == 0)
		return cmd_node_state(ad, cmd, argc, argv, NODE_MAINTENANCE);
	if (strcmp(cmd, "online-node") == 0)
		return cmd_node_state(ad, cmd, argc, argv, NODE_UP);
	if (strcmp(cmd, "remove-node") == 0)
		return cmd_remove_node(ad, argc, argv);
	if (strcmp(cmd, "set-target-state") == 0)
		return cmd_target_state(ad, argc, argv);
	if (strcmp(cmd, "get-config") == 0)
		return cmd_get_config(ad, argc, argv);
	if (strcmp(cmd, "set-config") == 0)
		return cmd_set_config(ad, argc, argv);
	if (strcmp(cmd, "scrub") == 0)
		return cmd_scrub(ad, argc, argv);
	if (strcmp(cmd, "add-chain-target") == 0)
		return cmd_chain_member(ad, cmd, argc, argv, MGMTD_CHAIN_ADD);
	if (strcmp(cmd, "remove-chain-target") == 0)
		return cmd_chain_member(ad, cmd, argc, argv, MGMTD_CHAIN_REMOVE);
	if (strcmp(cmd, "rebalance") == 0)
		return cmd_rebalance(ad, argc, argv);
	if (strcmp(cmd, "wait-sync") == 0)
		return cmd_wait_sync(ad, argc, argv);
	if (admin_users_is_cmd(cmd))
		return admin_users_run(&(struct admin_users_ctx){ ad->rpc, ad->mgmtd,
								  ad->admin_token, ad->json },
				       cmd, argc, argv);
	return cmd_rotate_lastsrv(ad, argc, argv);
}

int main(int argc, char **argv)
{
	struct admin ad;
	struct admin_ini ini;
	struct admin_args args;
	struct rpc_client_opts ro;
	char err[C3_CFG_ERRLEN];
	char *token_buf = NULL, *admin_token_buf = NULL;
	const char *env;
	int rc;

	memset(&ad, 0, sizeof(ad));
	memset(&ini, 0, sizeof(ini));
	/* the RPC layer logs each failed connection; failover is normal for a CLI: the
	 * command's own message says what failed */
	c3_log_set_level(C3_LOG_ERROR);
	c3_cfg_defaults(&admin_table, &ini, err, sizeof(err));
	rc = parse_args(argc, argv, &args);
	if (rc)
		goto out;
	if (args.help) {
		usage(stdout);
		goto out;
	}
	if (args.nrest == 0) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	/* a misspelt command fails before any file is read or connection made */
	rc = check_command(args.rest[0], args.nrest - 1, args.rest + 1);
	if (rc)
		goto out;
	if (admin_trash_is_cmd(args.rest[0])) { /* on a mount, as the caller: no mgmtd */
		rc = admin_trash_run(args.rest[0], args.json, args.nrest - 1, args.rest + 1);
		goto out;
	}
	ad.json = args.json;
	ad.mgmtd = args.mgmtd;
	ad.token = args.token;
	ad.admin_token = args.admin_token;
	if (args.token_file) {
		ad.token = token_buf = read_token_file("--token-file", args.token_file);
		if (!token_buf) {
			rc = 2;
			goto out;
		}
	}
	if (args.admin_token_file) {
		ad.admin_token = admin_token_buf =
			read_token_file("--admin-token-file", args.admin_token_file);
		if (!admin_token_buf) {
			rc = 2;
			goto out;
		}
	}
	if (!ad.token && (env = getenv("C3FS_TOKEN")) != NULL)
		ad.token = env;
	if (!ad.admin_token && (env = getenv("C3FS_ADMIN_TOKEN")) != NULL)
		ad.admin_token = env;
	if (args.config || !ad.mgmtd || !ad.token || !ad.admin_token) {
		rc = load_ini(&ad, &ini, args.config);
		if (rc)
			goto out;
	}
	if (!ad.mgmtd || !ad.mgmtd[0]) {
		fprintf(stderr, "c3fs-admin: no mgmtd address: pass --mgmtd or write "
			"$C3FS_HOME/admin.ini / ./.c3fs/admin.ini ([cluster] mgmtd = ...)\n");
		rc = 2;
		goto out;
	}
	if (!ad.token)
		ad.token = "";
	if (!ad.admin_token)
		ad.admin_token = "";
	memset(&ro, 0, sizeof(ro));
	ro.token = ad.token;
	ro.conns_per_peer = 1;
	ro.connect_timeout_ms = 1000;
	rc = rpc_client_new(&ro, &ad.rpc);
	if (rc) {
		fprintf(stderr, "c3fs-admin: %s\n", c3_strerror(rc));
		rc = 1;
		goto out;
	}
	rc = run_command(&ad, args.rest[0], args.nrest - 1, args.rest + 1);
	rpc_client_free(ad.rpc);
out:
	free(args.rest);
	free(token_buf);
	free(admin_token_buf);
	c3_cfg_release(&admin_table, &ini);
	return rc;
}
