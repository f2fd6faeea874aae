/* service.h — the running mgmtd: RPC handlers, leader election loop, lease checker,
 * routing publication and metrics.
 *
 * Threads: the RPC server's workers run the handlers; one background thread runs the
 * election (every leader_lease/4 as leader, every leader_lease/8 as standby) and the
 * node-lease checker (every 100 ms).  svc->mu guards the model (struct mgmtd_state), the
 * published snapshot and the leadership fields; KV transactions that persist a change
 * run under it, so changes are committed in the order they were made.
 *
 * Leadership: leader only while the KV lease is held and was renewed within
 * 3/4 - 1/8 of leader_lease_ms (monotonic clock); any failed commit drops leadership at
 * once (state discarded, reloaded from the KV at the next takeover).  A leader whose
 * renewals failed with KV errors (the KV unreachable, not another holder) keeps its last
 * published snapshot *frozen* for kv_outage_grace_ms after its leadership ran out: it
 * acknowledges heartbeats of known nodes with a lease that ends by then and serves the
 * snapshot, and commits nothing.  The reasoning is in README.md ("KV outage").
 */
#ifndef C3_MGMTD_SERVICE_H
#define C3_MGMTD_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

struct mgmtd_config {
	char *listen;            /* "ip:port" */
	char *advertise;         /* address given to others ("" = listen with the bound port) */
	char *token;             /* cluster token ("" = none) */
	char *admin_token;       /* "" = every admin operation is refused */
	char *kv_uri;            /* "" = lmdb:<data_dir>/kv */
	char *data_dir;
	uint64_t node_lease_ms;  /* node considered down after this long without heartbeat */
	uint64_t leader_lease_ms;
	uint64_t kv_outage_grace_ms; /* see "KV outage" in README.md */
	int64_t workers;
	int64_t max_conns;       /* RPC admission, see rpc_server_opts */
	int64_t max_unauth_conns;
	int64_t max_unauth_per_addr;
	uint64_t auth_timeout_ms;
	char *metrics_listen;    /* "" = no metrics endpoint */
	bool status_page;        /* status page and /api on the metrics endpoint (web.h) */
	char *log_level;
	char *log_file;
};

struct mgmtd_service;

/* Open the KV, bind, start threads.  0 or a negative code (nothing to free). */
int mgmtd_service_start(const struct mgmtd_config *cfg, struct mgmtd_service **out);
/* Stop threads and server, give up the leader lease, free.  NULL allowed. */
void mgmtd_service_stop(struct mgmtd_service *svc);
int mgmtd_service_port(const struct mgmtd_service *svc);
int mgmtd_service_metrics_port(const struct mgmtd_service *svc);
bool mgmtd_service_is_leader(struct mgmtd_service *svc);

#endif
