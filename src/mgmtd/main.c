/* main.c — c3fs-mgmtd: its key table and start-up; the common start-up (command line,
 * log, signals) is common/daemon.h, the service is in service.c. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/daemon.h"
#include "common/server_keys.h"
#include "common/errors.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "net/rpc.h"
#include "proto/msg.h"
#include "mgmtd/service.h"

#define K(...) C3_DAEMON_KEY(struct mgmtd_config, __VA_ARGS__)

static const struct c3_cfg_key mgmtd_keys[] = {
	K("server", "listen", C3_CFG_STR, listen, "127.0.0.1:9000", 0, -1, "", false,
	    "RPC address (ip:port; port 0 picks a free one)"),
	K("server", "advertise", C3_CFG_STR, advertise, "", 0, -1, "", false,
	    "address other processes use to reach this mgmtd (empty: listen address)"),
	K("server", "token", C3_CFG_STR, token, "", 0, -1, "", false,
	    "cluster token every client must present (empty: none)"),
	K("server", "admin_token", C3_CFG_STR, admin_token, "", 0, -1, "", false,
	    "token required by admin operations (empty: admin operations refused)"),
	K("server", "workers", C3_CFG_INT, workers, "4", 1, 256, "threads", false,
	    "RPC handler threads"),
	C3_SERVER_ADMISSION_KEYS(K),
	K("kv", "uri", C3_CFG_STR, kv_uri, "", 0, -1, "", false,
	    "KV store shared by all mgmtd instances (empty: lmdb:<data_dir>/kv)"),
	K("kv", "data_dir", C3_CFG_STR, data_dir, "./mgmtd-data", 0, -1, "", false,
	    "directory for the default embedded KV"),
	K("lease", "node_lease", C3_CFG_MS, node_lease_ms, "10s", 100, 3600000, "ms", false,
	    "a node without heartbeat for this long is down and its targets offline; a node "
	    "stops serving after half of it without an acknowledged heartbeat (keep "
	    "7/8 leader_lease + 1s below that half)"),
	K("lease", "leader_lease", C3_CFG_MS, leader_lease_ms, "3s", 200, 600000, "ms", false,
	    "a standby takes over within 7/8 of this after the leader dies"),
	K("lease", "kv_outage_grace", C3_CFG_MS, kv_outage_grace_ms, "30s", 0, 3600000, "ms",
	    false,
	    "while the KV is unreachable the last leader keeps acknowledging known nodes for "
	    "this long after its leadership ran out (0: off); a new leader waits as long "
	    "minus half a node lease more before declaring a node down"),
	C3_DAEMON_KEYS(K, false),
	K("metrics", "status_page", C3_CFG_BOOL, status_page, "true", 0, -1, "", false,
	    "serve the status page (/) and its JSON API (/api/...) on the metrics port"),
};

static const struct c3_cfg_table mgmtd_cfg_table = C3_DAEMON_TABLE("mgmtd", mgmtd_keys);

int main(int argc, char **argv)
{
	struct mgmtd_config cfg;
	struct mgmtd_service *svc = NULL;
	struct c3_daemon d = { .prog = "c3fs-mgmtd", .role = "mgmtd",
			       .table = &mgmtd_cfg_table, .cfg = &cfg };
	char err[C3_CFG_ERRLEN];
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	if (c3_daemon_init(&d, argc, argv))
		return d.status;
	rpc_set_type_namer(c3_msg_name); /* metric series by message name too */
	/* the state directory must be private (the default KV's directory is created so) */
	rc = cfg.kv_uri[0] ? c3_kv_uri_private_check(cfg.kv_uri, err, sizeof(err))
			   : c3_path_private_ensure(cfg.data_dir, err, sizeof(err));
	if (rc < 0) {
		c3_daemon_fail(&d, "%s", err);
		c3_daemon_fini(&d);
		return 1;
	}
	/* the service serves metrics itself (with the status page on the same port) */
	rc = mgmtd_service_start(&cfg, &svc);
	if (rc) {
		LOG_ERROR("mgmtd failed to start: %s", c3_strerror(rc));
		c3_daemon_fini(&d);
		return 1;
	}
	c3_daemon_wait(&d);
	mgmtd_service_stop(svc);
	c3_daemon_fini(&d);
	return 0;
}
