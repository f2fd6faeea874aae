/* main.c — c3fs-mgmtd: configuration, logging, signals; the service is in service.c. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/server_keys.h"
#include "common/errors.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "mgmtd/service.h"

#define SRVKEY(sec, name, type, field, def, lo, hi, unit, desc) \
	KEY(sec, name, type, field, def, lo, hi, unit, false, desc)
#define KEY(sec, name, type, field, def, lo, hi, unit, reload, desc) \
	{ sec, name, type, offsetof(struct mgmtd_config, field), def, lo, hi, unit, reload, desc }

static const struct c3_cfg_key mgmtd_keys[] = {
	KEY("server", "listen", C3_CFG_STR, listen, "127.0.0.1:9000", 0, -1, "", false,
	    "RPC address (ip:port; port 0 picks a free one)"),
	KEY("server", "advertise", C3_CFG_STR, advertise, "", 0, -1, "", false,
	    "address other processes use to reach this mgmtd (empty: listen address)"),
	KEY("server", "token", C3_CFG_STR, token, "", 0, -1, "", false,
	    "cluster token every client must present (empty: none)"),
	KEY("server", "admin_token", C3_CFG_STR, admin_token, "", 0, -1, "", false,
	    "token required by admin operations (empty: admin operations refused)"),
	KEY("server", "workers", C3_CFG_INT, workers, "4", 1, 256, "threads", false,
	    "RPC handler threads"),
	C3_SERVER_ADMISSION_KEYS(SRVKEY),
	KEY("kv", "uri", C3_CFG_STR, kv_uri, "", 0, -1, "", false,
	    "KV store shared by all mgmtd instances (empty: lmdb:<data_dir>/kv)"),
	KEY("kv", "data_dir", C3_CFG_STR, data_dir, "./mgmtd-data", 0, -1, "", false,
	    "directory for the default embedded KV"),
	KEY("lease", "node_lease", C3_CFG_MS, node_lease_ms, "10s", 100, 3600000, "ms", false,
	    "a node without heartbeat for this long is down and its targets offline; a node "
	    "stops serving after half of it without an acknowledged heartbeat (keep "
	    "7/8 leader_lease + 1s below that half)"),
	KEY("lease", "leader_lease", C3_CFG_MS, leader_lease_ms, "3s", 200, 600000, "ms", false,
	    "a standby takes over within 7/8 of this after the leader dies"),
	KEY("lease", "kv_outage_grace", C3_CFG_MS, kv_outage_grace_ms, "30s", 0, 3600000, "ms",
	    false,
	    "while the KV is unreachable the last leader keeps acknowledging known nodes for "
	    "this long after its leadership ran out (0: off); a new leader waits as long "
	    "minus half a node lease more before declaring a node down"),
	KEY("metrics", "listen", C3_CFG_STR, metrics_listen, "", 0, -1, "", false,
	    "Prometheus endpoint ip:port (empty: off)"),
	KEY("metrics", "status_page", C3_CFG_BOOL, status_page, "true", 0, -1, "", false,
	    "serve the status page (/) and its JSON API (/api/...) on the metrics port"),
	KEY("log", "level", C3_CFG_STR, log_level, "info", 0, -1, "", false,
	    "error, warn, info or debug"),
	KEY("log", "file", C3_CFG_STR, log_file, "", 0, -1, "", false,
	    "log file (empty: stderr)"),
};

static const struct c3_cfg_table mgmtd_cfg_table = {
	"mgmtd", mgmtd_keys, sizeof(mgmtd_keys) / sizeof(mgmtd_keys[0])
};

int main(int argc, char **argv)
{
	struct mgmtd_config cfg;
	struct mgmtd_service *svc = NULL;
	char err[C3_CFG_ERRLEN];
	sigset_t set;
	int argi = 0, rc, sig = 0, level;

	memset(&cfg, 0, sizeof(cfg));
	rc = c3_cfg_from_args(&mgmtd_cfg_table, &cfg, argc, argv, &argi, err, sizeof(err));
	if (rc == 1)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "c3fs-mgmtd: %s\n", err);
		return 2;
	}
	if (argi < argc) {
		fprintf(stderr, "c3fs-mgmtd: unexpected argument '%s' (see --help)\n", argv[argi]);
		c3_cfg_release(&mgmtd_cfg_table, &cfg);
		return 2;
	}
	level = c3_log_level_parse(cfg.log_level);
	if (level < 0) {
		fprintf(stderr, "c3fs-mgmtd: log.level: unknown level '%s'\n", cfg.log_level);
		c3_cfg_release(&mgmtd_cfg_table, &cfg);
		return 2;
	}
	c3_log_set_level(level);
	c3_log_set_identity("mgmtd", 0);
	if (cfg.log_file[0] && c3_log_open(cfg.log_file) != 0)
		fprintf(stderr, "c3fs-mgmtd: cannot open log file %s, using stderr\n",
			cfg.log_file);

	/* the state directory must be private (the default KV's directory is created so) */
	rc = cfg.kv_uri[0] ? c3_kv_uri_private_check(cfg.kv_uri, err, sizeof(err))
			   : c3_path_private_ensure(cfg.data_dir, err, sizeof(err));
	if (rc < 0) {
		LOG_ERROR("%s", err);
		if (cfg.log_file[0]) /* else LOG_ERROR went to stderr already */
			fprintf(stderr, "c3fs-mgmtd: %s\n", err);
		c3_cfg_release(&mgmtd_cfg_table, &cfg);
		return 1;
	}

	/* signals are taken synchronously by this thread; every other thread blocks them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = mgmtd_service_start(&cfg, &svc);
	if (rc) {
		LOG_ERROR("mgmtd failed to start: %s", c3_strerror(rc));
		c3_cfg_release(&mgmtd_cfg_table, &cfg);
		return 1;
	}
	sigwait(&set, &sig);
	LOG_INFO("signal %d: shutting down", sig);
	mgmtd_service_stop(svc);
	c3_cfg_release(&mgmtd_cfg_table, &cfg);
	return 0;
}
