/* main.c — c3fs-storage: configuration, logging, targets, routing source, signals.
 *
 * Routing comes from mgmtd through cluster_client when [mgmtd] addrs is set (heartbeats
 * report every target's local state and free space; losing the lease stops serving), else
 * from the static chain file ([storage] chain_file), re-read on SIGHUP.
 * SIGTERM/SIGINT stop the service cleanly.  The common start-up (command line, log,
 * signals, metrics) is common/daemon.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/addr.h"
#include "cluster/client.h"
#include "common/config.h"
#include "common/daemon.h"
#include "common/server_keys.h"
#include "common/errors.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "net/rpc.h"
#include "proto/msg.h"
#include "storage/chainfile.h"
#include "storage/chunk.h"
#include "storage/service.h"

#define MAX_TARGETS 64

struct storage_cfg {
	int64_t node_id;
	char *listen;
	char *advertise;
	char *token;
	int64_t workers;
	int64_t max_conns;
	int64_t max_unauth_conns;
	int64_t max_unauth_per_addr;
	uint64_t auth_timeout_ms;
	char *targets;
	char *io_engine;
	bool direct_io;
	bool direct_read;
	bool journal;
	uint64_t journal_data_max;
	char *chain_file;
	uint64_t forward_retry_ms;
	int64_t scrub_rate;
	uint64_t scrub_interval_ms;
	char *mgmtd_addrs;
	uint64_t heartbeat_ms;
	char *log_level;
	char *log_file;
	char *metrics_listen;
};

#define K(...) C3_DAEMON_KEY(struct storage_cfg, __VA_ARGS__)

static const struct c3_cfg_key storage_keys[] = {
	K("server", "node_id", C3_CFG_INT, node_id, "1", 1, 4294967295LL, "", false,
	  "this storage node's id (as in the routing information)"),
	K("server", "listen", C3_CFG_STR, listen, "127.0.0.1:9100", 0, -1, "", false,
	  "RPC listen address ip:port"),
	K("server", "advertise", C3_CFG_STR, advertise, "", 0, -1, "", false,
	  "ip:port clients, peers and mgmtd use to reach this node (empty: server.listen; "
	  "required when listening on 0.0.0.0 or ::)"),
	K("server", "token", C3_CFG_STR, token, "", 0, -1, "", false,
	  "cluster token clients and peers must present (empty = none)"),
	K("server", "workers", C3_CFG_INT, workers, "64", 4, 1024, "threads", false,
	  "RPC handler threads (handlers block on disk and on forwarding)"),
	C3_SERVER_ADMISSION_KEYS(K),
	K("storage", "targets", C3_CFG_STR, targets, "", 0, -1, "", false,
	  "local targets as id:path,id:path (one directory per target)"),
	K("storage", "io_engine", C3_CFG_STR, io_engine, "uring", 0, -1, "", false,
	  "chunk file I/O: uring (io_uring) or psync (pread/pwrite, for valgrind/TSan)"),
	K("storage", "direct_io", C3_CFG_BOOL, direct_io, "true", 1, 0, "", false,
	  "write 4 KiB-aligned chunk data with O_DIRECT instead of copying it into the page "
	  "cache (falls back to buffered writes where the file system refuses it)"),
	K("storage", "direct_read", C3_CFG_BOOL, direct_read, "false", 1, 0, "", false,
	  "read chunk data with O_DIRECT, as 3FS does: no copy through the storage node's page "
	  "cache and no second cache of what clients cache (falls back to buffered reads where "
	  "the file system refuses it)"),
	K("storage", "journal", C3_CFG_BOOL, journal, "true", 1, 0, "", false,
	  "commit chunk updates through a per-target write-ahead log (meta/wal.*): one O_DSYNC "
	  "log write per group of commits instead of LMDB's two syncs, and small updates' "
	  "bytes in the log instead of an fdatasync of the chunk file; false = LMDB syncs "
	  "every commit (a log left by a crash is still replayed at open)"),
	K("storage", "journal_data_max", C3_CFG_SIZE, journal_data_max, "128K", 0, 64 << 20, "bytes",
	  false, "largest update whose bytes go into the journal instead of an fdatasync of "
	  "the chunk file (only appends, new files and whole-chunk writes; 0 = never)"),
	K("storage", "chain_file", C3_CFG_STR, chain_file, "", 0, -1, "", true,
	  "static routing file used when no mgmtd is configured (re-read on SIGHUP)"),
	K("storage", "forward_retry", C3_CFG_MS, forward_retry_ms, "5s", 100, 600000, "ms", false,
	  "how long a chain member keeps retrying its successor before failing the write"),
	K("storage", "scrub_rate", C3_CFG_INT, scrub_rate, "16", 0, 1048576, "MiB/s", true,
	  "how fast the scrubber reads chunks to verify their checksums, per process (0 = "
	  "unlimited); foreground I/O is never slowed by more than this much reading"),
	K("storage", "scrub_interval", C3_CFG_MS, scrub_interval_ms, "168h", 0, 8760LL * 3600000,
	  "ms", true, "time from the end of one full scrub pass of a target (recorded in the "
	  "target directory; the process start when none is) to the next; 0 = no scheduled "
	  "passes (c3fs-admin scrub still starts one)"),
	K("mgmtd", "addrs", C3_CFG_STR, mgmtd_addrs, "", 0, -1, "", false,
	  "mgmtd addresses ip:port,ip:port (empty = use chain_file)"),
	K("mgmtd", "heartbeat", C3_CFG_MS, heartbeat_ms, "1s", 100, 60000, "ms", false,
	  "heartbeat interval to mgmtd"),
	C3_DAEMON_KEYS(K, true),
};

static const struct c3_cfg_table storage_cfg_table = C3_DAEMON_TABLE("storage", storage_keys);

/* Live configuration (cluster/client.h): called on the cluster client's thread with the
 * file config plus the settings pushed by mgmtd.  Reloadable: log.level (one int read by
 * each log call, so setting it from another thread is safe) and the scrubber's rate and
 * interval (atomics read by the scrub thread before each chunk / each second). */
static void cb_config(void *arg, const void *cfg, uint64_t version)
{
	const struct storage_cfg *c = cfg;
	int lvl = c3_log_level_parse(c->log_level);

	(void)version;
	if (lvl >= 0)
		c3_log_set_level(lvl);
	storage_service_set_scrub(arg, (uint64_t)c->scrub_rate << 20, c->scrub_interval_ms);
}

/* Parse "id:path,id:path" into out (paths point into buf, which is modified). */
/* A target directory remembers its id in <dir>/TARGET (written by the chunk store at its
 * first open, which refuses a mismatch with a bare C3FS_ECONFIG).  Checked here first so
 * the error names the id found there.  0, or -1 after logging. */
static int check_target_identity(const struct storage_target_cfg *t, bool to_stderr)
{
	char path[4096], buf[32];
	unsigned long found;
	ssize_t n;
	char *end;
	int fd;

	snprintf(path, sizeof(path), "%s/TARGET", t->path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* a new directory, or the store reports the error itself */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	found = strtoul(buf, &end, 10);
	if (n <= 0 || end == buf) {
		LOG_ERROR("storage.targets: %s is unreadable or empty: the directory of target %u "
			  "is damaged (remove the file only if the directory holds no chunks)", path,
			  t->target_id);
	} else if (found != t->target_id) {
		LOG_ERROR("storage.targets: %s holds target %lu, configured here as target %u: "
			  "configure it as %lu, or give target %u an empty directory", t->path,
			  found, t->target_id, found, t->target_id);
	} else {
		return 0;
	}
	if (to_stderr)
		fprintf(stderr, "c3fs-storage: target directory %s: identity mismatch (see the "
			"log)\n", t->path);
	return -1;
}

static int parse_targets(char *buf, struct storage_target_cfg *out, int max)
{
	int n = 0;
	char *save = NULL;

	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':'), *end;
		unsigned long id;

		if (!colon || n == max)
			return -C3FS_ECONFIG;
		*colon = '\0';
		errno = 0;
		id = strtoul(tok, &end, 10);
		if (errno || *end || id == 0 || id > UINT32_MAX || !colon[1])
			return -C3FS_ECONFIG;
		out[n].target_id = (uint32_t)id;
		out[n].path = colon + 1;
		n++;
	}
	return n ? n : -C3FS_ECONFIG;
}

static int load_chain_file(struct storage_service *svc, const char *path)
{
	char msg[256];
	int rc;
	struct routing_info *ri = storage_chainfile_load(path, &rc, msg, sizeof(msg));

	if (!ri) {
		LOG_ERROR("chain file %s: %s (%s)", path, msg, c3_strerror(rc));
		return rc;
	}
	storage_service_set_routing(svc, ri);
	routing_unref(ri);
	return 0;
}

static int cb_collect(void *arg, struct cluster_target_report *out, int max)
{
	return storage_service_collect(arg, out, max);
}

static void cb_routing(void *arg, struct routing_info *ri)
{
	storage_service_set_routing(arg, ri);
}

static void cb_lease(void *arg, bool valid)
{
	storage_service_set_serving(arg, valid);
}

int main(int argc, char **argv)
{
	struct storage_cfg cfg;
	struct storage_target_cfg targets[MAX_TARGETS];
	struct storage_service_opts so;
	struct storage_service *svc = NULL;
	struct cluster_client *cc = NULL;
	struct c3_daemon d = { .prog = "c3fs-storage", .role = "storage",
			       .table = &storage_cfg_table, .cfg = &cfg, .hup = true };
	char err[C3_CFG_ERRLEN], *tbuf = NULL, addr[ROUTING_ADDR_MAX] = "";
	int rc, ntargets, status = 1;

	memset(&cfg, 0, sizeof(cfg));
	if (c3_daemon_init(&d, argc, argv))
		return d.status;
	rpc_set_type_namer(c3_msg_name); /* metric series by message name too */
	tbuf = strdup(cfg.targets);
	ntargets = tbuf ? parse_targets(tbuf, targets, MAX_TARGETS) : -ENOMEM;
	if (ntargets < 0) {
		LOG_ERROR("storage.targets: expected id:path,id:path, got \"%s\"", cfg.targets);
		goto out;
	}
	for (int i = 0; i < ntargets; i++) {
		/* a missing target directory is created 0700 by the chunk store; one that
		 * cannot be used at all (not a directory, I/O error) is left to the chunk
		 * store too, which reports that target FAILED while the others serve */
		rc = c3_path_private_check(targets[i].path, err, sizeof(err));
		if (rc == -EPERM) {
			c3_daemon_fail(&d, "storage.targets: %s", err);
			goto out;
		}
		if (check_target_identity(&targets[i], d.log_file[0] != '\0') < 0)
			goto out;
	}
	memset(&so, 0, sizeof(so));
	so.node_id = (uint32_t)cfg.node_id;
	so.listen = cfg.listen;
	so.token = cfg.token;
	so.workers = (int)cfg.workers;
	so.max_conns = (int)cfg.max_conns;
	so.max_unauth_conns = (int)cfg.max_unauth_conns;
	so.max_unauth_per_addr = (int)cfg.max_unauth_per_addr;
	so.auth_timeout_ms = (uint32_t)cfg.auth_timeout_ms;
	so.forward_retry_ms = (uint32_t)cfg.forward_retry_ms;
	so.scrub_rate_bps = (uint64_t)cfg.scrub_rate << 20;
	so.scrub_interval_ms = cfg.scrub_interval_ms;
	so.direct_io = cfg.direct_io;
	so.direct_read = cfg.direct_read;
	so.no_journal = !cfg.journal;
	so.journal_data_max = cfg.journal_data_max ? (int32_t)cfg.journal_data_max : -1;
	so.targets = targets;
	so.ntargets = ntargets;
	so.start_online = cfg.mgmtd_addrs[0] != '\0';
	if (!strcmp(cfg.io_engine, "uring")) {
		so.io_engine = CHUNK_IO_URING;
	} else if (!strcmp(cfg.io_engine, "psync")) {
		so.io_engine = CHUNK_IO_PSYNC;
	} else {
		LOG_ERROR("storage.io_engine: expected uring or psync, got \"%s\"", cfg.io_engine);
		goto out;
	}
	if (!cfg.mgmtd_addrs[0] && !cfg.chain_file[0]) {
		LOG_ERROR("need mgmtd.addrs or storage.chain_file for routing");
		goto out;
	}
	rc = storage_service_new(&so, &svc);
	if (rc) {
		LOG_ERROR("cannot start the storage service on %s: %s", cfg.listen, c3_strerror(rc));
		goto out;
	}
	(void)c3_daemon_metrics_start(&d, false); /* without metrics the node still serves */
	if (cfg.mgmtd_addrs[0]) {
		struct cluster_client_opts co;

		rc = cluster_node_addr(cfg.listen, cfg.advertise, storage_service_port(svc), addr,
				       sizeof(addr), err, sizeof(err));
		if (rc < 0) {
			c3_daemon_fail(&d, "%s", err);
			goto out;
		}
		memset(&co, 0, sizeof(co));
		co.mgmtd_addrs = cfg.mgmtd_addrs;
		co.token = cfg.token;
		co.node_type = NODE_STORAGE;
		co.node_id = (uint32_t)cfg.node_id;
		co.node_addr = addr;
		co.heartbeat_ms = (uint32_t)cfg.heartbeat_ms;
		co.collect_targets = cb_collect;
		co.on_routing = cb_routing;
		co.on_lease = cb_lease;
		co.arg = svc; /* the service does not serve until the lease is valid */
		co.cfg_table = &storage_cfg_table;
		co.cfg_base = &cfg;
		co.cfg_size = sizeof(cfg);
		co.on_config = cb_config;
		rc = cluster_client_new(&co, &cc);
		if (rc) {
			LOG_ERROR("cannot start the mgmtd client: %s", c3_strerror(rc));
			goto out;
		}
		storage_service_set_cluster(svc, cc);
		while ((rc = cluster_client_wait_ready(cc, 2000)) != 0) {
			LOG_WARN("waiting for mgmtd at %s: %s", cfg.mgmtd_addrs, c3_strerror(rc));
			if (c3_daemon_stop_requested(&d)) {
				status = 0;
				goto out;
			}
		}
		if (cluster_client_lease_valid(cc))
			storage_service_set_serving(svc, true);
	} else if (load_chain_file(svc, cfg.chain_file) != 0) {
		goto out;
	}
	LOG_INFO("c3fs-storage node %lld serving %d target(s) on %s (port %d, advertised %s, "
		 "io_engine %s)", (long long)cfg.node_id, ntargets, cfg.listen,
		 storage_service_port(svc), addr[0] ? addr : "-", cfg.io_engine);
	while (c3_daemon_wait(&d) == SIGHUP)
		if (!cc && cfg.chain_file[0])
			(void)load_chain_file(svc, cfg.chain_file);
	status = 0;
out:
	if (cc) {
		storage_service_set_cluster(svc, NULL);
		cluster_client_free(cc);
	}
	storage_service_free(svc);
	free(tbuf);
	c3_daemon_fini(&d);
	return status;
}
