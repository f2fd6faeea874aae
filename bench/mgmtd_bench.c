/* mgmtd_bench.c — c3fs-bench-mgmtd: load on a running mgmtd.
 *
 *   c3fs-bench-mgmtd --mgmtd ADDR [--token T] [--admin-token T] [--nodes N]
 *                    [--targets-per-node K] [--threads T] [--seconds S] [--first-id ID]
 *
 * 1. registers N storage nodes (ids first-id..) with K targets each, heartbeats them for
 *    1 s (which creates the targets) and, with --admin-token, creates a 3-replica chain
 *    table over all targets;
 * 2. T threads send heartbeats for their share of the nodes back to back for S seconds
 *    (each heartbeat carries all K target reports, as a real storage node's would);
 * 3. with --admin-token: times full routing fetches and "not modified" fetches.
 * Prints Markdown table rows: | measurement | value |.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/client.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "net/rpc.h"
#include "proto/mgmtd.h"

struct bench {
	const char *mgmtd, *token, *admin_token;
	uint32_t nodes, k, threads, seconds, first_id;
	struct rpc_client *rpc;
	uint64_t *incarnation;      /* per node */
};

struct worker {
	struct bench *b;
	uint32_t from, to;          /* node indexes */
	uint64_t n, errors;
	uint64_t *lat_ns;           /* samples (capped) */
	uint64_t nlat, cap;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int call(struct bench *b, uint16_t type, const struct c3_buf *req, struct c3_buf *resp)
{
	return cluster_mgmtd_call(b->rpc, b->mgmtd, NULL, 0, type, req ? req->data : NULL,
				  req ? req->len : 0, resp, 10000);
}

static int register_all(struct bench *b)
{
	for (uint32_t i = 0; i < b->nodes; i++) {
		struct mgmtd_register_req q;
		struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
		int rc;

		memset(&q, 0, sizeof(q));
		q.node_type = NODE_STORAGE;
		q.node_id = b->first_id + i;
		snprintf(q.addr, sizeof(q.addr), "127.0.0.1:%u", 40000 + i);
		q.incarnation = b->incarnation[i] = c3_wall_ns() + i + 1;
		snprintf(q.hostname, sizeof(q.hostname), "bench");
		mgmtd_register_req_encode(&q, &req);
		rc = call(b, MGMTD_T_REGISTER, &req, &resp);
		c3_buf_release(&req);
		c3_buf_release(&resp);
		if (rc)
			return rc;
	}
	return 0;
}

static void *hb_thread(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	struct cluster_target_report *reps = calloc(b->k, sizeof(*reps));
	uint64_t end = c3_now_ms() + (uint64_t)b->seconds * 1000, seq = 1;
	uint32_t i = w->from;

	if (!reps)
		return NULL;
	while (c3_now_ms() < end) {
		struct mgmtd_heartbeat_req q;
		struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
		uint32_t id = b->first_id + i;
		uint64_t t0;
		int rc;

		for (uint32_t k = 0; k < b->k; k++) {
			reps[k].target_id = id * 100 + k + 1;
			reps[k].local_state = TARGET_LOCAL_UPTODATE;
			reps[k].capacity_bytes = 1ull << 40;
			reps[k].free_bytes = (1ull << 39) + seq; /* changes every time, as real ones do */
		}
		q.node_id = id;
		q.incarnation = b->incarnation[i];
		q.seq = seq++;
		q.routing_version = 0;
		q.nreports = b->k;
		q.reports = reps;
		mgmtd_heartbeat_req_encode(&q, &req);
		t0 = c3_now_ns();
		rc = rpc_call_sync(b->rpc, b->mgmtd, MGMTD_T_HEARTBEAT, req.data, req.len, &resp,
				   10000);
		if (rc)
			w->errors++;
		else
			w->n++;
		if (w->nlat < w->cap)
			w->lat_ns[w->nlat++] = c3_now_ns() - t0;
		c3_buf_release(&req);
		c3_buf_release(&resp);
		if (++i >= w->to)
			i = w->from;
	}
	free(reps);
	return NULL;
}

static void create_table(struct bench *b)
{
	struct mgmtd_create_table_req ct;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	uint64_t t0;
	int rc;

	memset(&ct, 0, sizeof(ct));
	snprintf(ct.admin_token, sizeof(ct.admin_token), "%s", b->admin_token);
	ct.replicas = 3;
	mgmtd_create_table_req_encode(&ct, &req);
	t0 = c3_now_ns();
	rc = call(b, MGMTD_T_CREATE_CHAIN_TABLE, &req, &resp);
	printf("| create-chain-table over %u targets (3 replicas) | %s, %.1f ms |\n",
	       b->nodes * b->k, rc ? c3_strerror(rc) : "ok", (double)(c3_now_ns() - t0) / 1e6);
	c3_buf_release(&req);
	c3_buf_release(&resp);
}

static void routing_bench(struct bench *b)
{
	struct mgmtd_get_routing_req q = { 0 };
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	uint64_t t0, full_ns, nm_ns, version = 0;
	size_t bytes = 0;
	int iters = 200;

	mgmtd_get_routing_req_encode(&q, &req);
	t0 = c3_now_ns();
	for (int i = 0; i < iters; i++) {
		struct mgmtd_get_routing_resp r;

		c3_buf_release(&resp);
		if (call(b, MGMTD_T_GET_ROUTING, &req, &resp) != 0)
			continue;
		bytes = resp.len;
		if (i == 0 && mgmtd_get_routing_resp_decode(resp.data, resp.len, &r) == 0) {
			version = r.version;
			routing_unref(r.ri);
		}
	}
	full_ns = (c3_now_ns() - t0) / (uint64_t)iters;
	c3_buf_release(&req);
	q.known_version = version;
	mgmtd_get_routing_req_encode(&q, &req);
	t0 = c3_now_ns();
	for (int i = 0; i < iters; i++) {
		c3_buf_release(&resp);
		call(b, MGMTD_T_GET_ROUTING, &req, &resp);
	}
	nm_ns = (c3_now_ns() - t0) / (uint64_t)iters;
	printf("| routing snapshot size (%u nodes, %u targets) | %zu bytes |\n", b->nodes,
	       b->nodes * b->k, bytes);
	printf("| full routing fetch (one client, sequential) | %.0f us |\n", (double)full_ns / 1e3);
	printf("| not-modified routing fetch | %.0f us |\n", (double)nm_ns / 1e3);
	c3_buf_release(&req);
	c3_buf_release(&resp);
}

int main(int argc, char **argv)
{
	struct bench b = { NULL, "", "", 100, 8, 4, 5, 1000, NULL, NULL };
	struct rpc_client_opts ro;
	struct worker *w;
	pthread_t *th;
	uint64_t total = 0, errors = 0, nlat = 0, *all;
	int rc;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];

		if (!strcmp(a, "--mgmtd")) b.mgmtd = v;
		else if (!strcmp(a, "--token")) b.token = v;
		else if (!strcmp(a, "--admin-token")) b.admin_token = v;
		else if (!strcmp(a, "--nodes")) b.nodes = (uint32_t)atoi(v);
		else if (!strcmp(a, "--targets-per-node")) b.k = (uint32_t)atoi(v);
		else if (!strcmp(a, "--threads")) b.threads = (uint32_t)atoi(v);
		else if (!strcmp(a, "--seconds")) b.seconds = (uint32_t)atoi(v);
		else if (!strcmp(a, "--first-id")) b.first_id = (uint32_t)atoi(v);
		else {
			fprintf(stderr, "unknown option %s\n", a);
			return 2;
		}
	}
	if (!b.mgmtd || b.nodes == 0 || b.threads == 0 || b.threads > b.nodes || b.k == 0 ||
	    b.k > 99) {
		fprintf(stderr, "usage: c3fs-bench-mgmtd --mgmtd ADDR [--nodes N] "
			"[--targets-per-node K<100] [--threads T<=N] [--seconds S] [--token T] "
			"[--admin-token T]\n");
		return 2;
	}
	c3_log_set_level(C3_LOG_ERROR);
	memset(&ro, 0, sizeof(ro));
	ro.token = b.token;
	ro.conns_per_peer = (int)(b.threads < 8 ? b.threads : 8);
	ro.io_threads = 2;
	if ((rc = rpc_client_new(&ro, &b.rpc)) != 0) {
		fprintf(stderr, "rpc client: %s\n", c3_strerror(rc));
		return 1;
	}
	b.incarnation = calloc(b.nodes, sizeof(uint64_t));
	w = calloc(b.threads, sizeof(*w));
	th = calloc(b.threads, sizeof(*th));
	if (!b.incarnation || !w || !th)
		return 1;
	{
		uint64_t t0 = c3_now_ns();

		rc = register_all(&b);
		if (rc) {
			fprintf(stderr, "register: %s\n", c3_strerror(rc));
			return 1;
		}
		printf("| register %u storage nodes (sequential) | %.2f ms each |\n", b.nodes,
		       (double)(c3_now_ns() - t0) / 1e6 / b.nodes);
	}
	/* warm-up: first heartbeats create the targets; then the chain table, so the timed
	 * heartbeats run against a cluster with chains, as in production */
	{
		uint32_t secs = b.seconds;
		struct worker one;

		memset(&one, 0, sizeof(one));
		one.b = &b;
		one.from = 0;
		one.to = b.nodes;
		one.cap = 0;
		b.seconds = 1;
		hb_thread(&one);
		b.seconds = secs;
		if (b.admin_token[0])
			create_table(&b);
	}
	for (uint32_t t = 0; t < b.threads; t++) {
		w[t].b = &b;
		w[t].from = t * b.nodes / b.threads;
		w[t].to = (t + 1) * b.nodes / b.threads;
		w[t].cap = 1u << 20;
		w[t].lat_ns = malloc(sizeof(uint64_t) * w[t].cap);
		pthread_create(&th[t], NULL, hb_thread, &w[t]);
	}
	for (uint32_t t = 0; t < b.threads; t++) {
		pthread_join(th[t], NULL);
		total += w[t].n;
		errors += w[t].errors;
		nlat += w[t].nlat;
	}
	all = malloc(sizeof(uint64_t) * (nlat ? nlat : 1));
	nlat = 0;
	for (uint32_t t = 0; t < b.threads; t++) {
		memcpy(all + nlat, w[t].lat_ns, sizeof(uint64_t) * w[t].nlat);
		nlat += w[t].nlat;
		free(w[t].lat_ns);
	}
	qsort(all, nlat, sizeof(uint64_t), cmp_u64);
	printf("| heartbeats/s (%u threads, %u targets each, %u s) | %.0f (%" PRIu64
	       " errors) |\n", b.threads, b.k, b.seconds, (double)total / b.seconds, errors);
	if (nlat)
		printf("| heartbeat latency p50 / p99 / max | %.0f / %.0f / %.0f us |\n",
		       (double)all[nlat / 2] / 1e3, (double)all[nlat * 99 / 100] / 1e3,
		       (double)all[nlat - 1] / 1e3);
	printf("| equivalent cluster at 1 heartbeat/s per node | %.0f nodes |\n",
	       (double)total / b.seconds);
	if (b.admin_token[0])
		routing_bench(&b);
	free(all);
	free(w);
	free(th);
	free(b.incarnation);
	rpc_client_free(b.rpc);
	return errors ? 1 : 0;
}
