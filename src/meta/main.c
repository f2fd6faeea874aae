/* c3fs-meta — the metadata service daemon.
 *
 *   c3fs-meta [--config FILE] [--set section.key=value ...]
 *
 * Thin main: parse the key table, open the KV, create the service (root directory on
 * first start), optionally join the cluster through mgmtd (routing for layouts, storage
 * calls for GC/truncate, client liveness), serve RPC, run the GC thread, stop on
 * SIGTERM/SIGINT.  The common start-up (command line, log, signals, metrics) is
 * common/daemon.h.  Stateless: any number of c3fs-meta may share one "pg:" KV.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/client.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/daemon.h"
#include "common/server_keys.h"
#include "common/errors.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "proto/msg.h"
#include "common/metrics.h"
#include "cluster/addr.h"
#include "kv/kv.h"
#include "meta/cluster.h"
#include "meta/meta.h"
#include "meta/server.h"
#include "meta/users.h"
#include "net/rpc.h"

struct meta_config {
	int64_t node_id;
	char *listen;
	char *advertise;
	char *token;
	int64_t workers;
	int64_t max_conns;
	int64_t max_unauth_conns;
	int64_t max_unauth_per_addr;
	uint64_t auth_timeout_ms;
	char *kv_uri;
	char *mgmtd;
	uint64_t heartbeat_ms;
	char *root_mode;
	uint64_t chunk_size;
	int64_t stripe;
	int64_t table_id;
	uint64_t gc_interval_ms;
	int64_t gc_batch;
	uint64_t trash_interval_ms;
	uint64_t session_timeout_ms;
	uint64_t dir_grace_ms;
	uint64_t idem_ttl_ms;
	int64_t rmtree_batch;
	uint64_t storage_timeout_ms;
	uint64_t storage_wait_ms;
	char *log_level;
	char *log_file;
	char *metrics_listen;
	bool auth_users;
};

#define K(...) C3_DAEMON_KEY(struct meta_config, __VA_ARGS__)
static const struct c3_cfg_key meta_keys[] = {
	K("server", "node_id", C3_CFG_INT, node_id, "1", 1, 4294967295LL, "", false,
	  "node id of this meta server (unique among meta servers)"),
	K("server", "listen", C3_CFG_STR, listen, "127.0.0.1:9001", 1, 0, "", false,
	  "RPC address ip:port (port 0 picks a free port)"),
	K("server", "advertise", C3_CFG_STR, advertise, "", 1, 0, "", false,
	  "ip:port clients and mgmtd use to reach this server (empty: server.listen; "
	  "required when listening on 0.0.0.0 or ::)"),
	K("server", "token", C3_CFG_STR, token, "", 1, 0, "", false,
	  "cluster token clients must present (empty = none)"),
	K("server", "workers", C3_CFG_INT, workers, "16", 1, 1024, "threads", false,
	  "RPC handler threads (each runs one KV transaction at a time)"),
	C3_SERVER_ADMISSION_KEYS(K),
	K("kv", "uri", C3_CFG_STR, kv_uri, "lmdb:./meta-kv?sync=wal", 1, 0, "", false,
	  "metadata store: lmdb:<dir>, pg:<conninfo> (shared by several meta servers) or mem:"),
	K("mgmtd", "addrs", C3_CFG_STR, mgmtd, "", 1, 0, "", false,
	  "mgmtd addresses ip:port,...; empty = standalone (no storage calls)"),
	K("mgmtd", "heartbeat", C3_CFG_MS, heartbeat_ms, "1000", 100, 60000, "ms", false,
	  "heartbeat interval to mgmtd"),
	K("meta", "root_mode", C3_CFG_STR, root_mode, "0755", 1, 0, "octal", false,
	  "permission bits of the root directory when it is created (first start)"),
	K("meta", "chunk_size", C3_CFG_SIZE, chunk_size, "1M", 65536, 67108864, "bytes", false,
	  "default chunk size of new files (power of two)"),
	K("meta", "stripe", C3_CFG_INT, stripe, "16", 1, 1024, "chains", false,
	  "default number of chains a file is striped over (capped by the chain table size)"),
	K("meta", "table_id", C3_CFG_INT, table_id, "1", 0, 65535, "", false,
	  "default chain table of new files"),
	K("meta", "gc_interval", C3_CFG_MS, gc_interval_ms, "1000", 10, 3600000, "ms", true,
	  "pause between garbage-collection passes"),
	K("meta", "gc_batch", C3_CFG_INT, gc_batch, "256", 1, 100000, "items", true,
	  "items of each kind one GC pass looks at"),
	K("meta", "trash_interval", C3_CFG_MS, trash_interval_ms, "0", 0, 86400000, "ms", true,
	  "trash: pause between passes of the cleaner that removes expired items of "
	  "/trash/<uid>/ (made at the root when set; 0 = no trash)"),
	K("meta", "session_timeout", C3_CFG_MS, session_timeout_ms, "5m", 1000, 86400000, "ms",
	  false,
	  "open-file sessions of a client silent this long (and not alive in mgmtd) expire"),
	K("meta", "dir_grace", C3_CFG_MS, dir_grace_ms, "5m", 0, 86400000, "ms", false,
	  "a removed directory's inode (nlink 0) stays this long for handles still open on it"),
	K("meta", "idem_ttl", C3_CFG_MS, idem_ttl_ms, "30m", 1000, 86400000, "ms", false,
	  "how long retried requests get their first result back"),
	K("meta", "rmtree_batch", C3_CFG_INT, rmtree_batch, "1000", 1, 1000000, "entries",
	  false,
	  "entries removed per transaction by a recursive remove"),
	K("meta", "storage_timeout", C3_CFG_MS, storage_timeout_ms, "10000", 100, 600000,
	  "ms", false,
	  "deadline of each storage call (chunk removal, truncate, length query)"),
	K("meta", "storage_wait", C3_CFG_MS, storage_wait_ms, "8000", 0, 600000, "ms", false,
	  "how long a truncate retries a chain being reconfigured before the client is told "
	  "to retry (keep below the clients' request timeout)"),
	C3_DAEMON_KEYS(K, true),
	K("auth", "users", C3_CFG_BOOL, auth_users, "false", 1, 0, "", false,
	  "every request must come from a connection with a user token (c3fs-admin user-add) "
	  "and act within that user's uid/gid (a root user's for any); needs mgmtd.addrs"),
};
static const struct c3_cfg_table meta_cfg = C3_DAEMON_TABLE("meta", meta_keys);


/* Live configuration (cluster/client.h): called on the cluster client's thread with the
 * file config plus the settings pushed by mgmtd.  Reloadable here, and why it is safe:
 * log.level is one int read by each log call; gc_interval, gc_batch and trash_interval go
 * through the atomics below, which the GC thread reads at each pass (the next pass uses
 * them). */
static _Atomic uint64_t live_gc_interval_ms; /* 0 = not set yet */
static _Atomic int64_t live_gc_batch;
static _Atomic uint64_t live_trash_interval_ms;

static void cb_config(void *arg, const void *cfg, uint64_t version)
{
	const struct meta_config *c = cfg;
	int lvl = c3_log_level_parse(c->log_level);

	(void)arg;
	(void)version;
	if (lvl >= 0)
		c3_log_set_level(lvl);
	atomic_store(&live_gc_interval_ms, c->gc_interval_ms);
	atomic_store(&live_gc_batch, c->gc_batch);
	atomic_store(&live_trash_interval_ms, c->trash_interval_ms);
}

/* The user table from mgmtd (cluster/client.h on_users; auth.users only). */
static void cb_users(void *arg, const struct cluster_user *users, uint32_t n,
		     uint64_t version)
{
	int rc = meta_users_set(arg, users, n, version);

	if (rc)
		LOG_ERROR("user table version %llu not applied: %s", (unsigned long long)version,
			  c3_strerror(rc));
	else
		LOG_INFO("user table version %llu: %u users", (unsigned long long)version, n);
}

struct gc_thread {
	struct meta_svc *svc;
	uint64_t interval_ms;
	int batch;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
};

static void *gc_main(void *arg)
{
	struct gc_thread *g = arg;
	struct c3_counter *removed = c3_counter_get("c3fs_meta_gc_files_removed_total", NULL,
						    "unlinked files whose data was removed");
	struct c3_counter *dirs_removed = c3_counter_get("c3fs_meta_gc_dirs_removed_total", NULL,
							 "removed directories' inodes deleted");
	struct c3_counter *expired = c3_counter_get("c3fs_meta_sessions_expired_total", NULL,
						    "sessions of silent clients dropped");
	struct c3_counter *errs = c3_counter_get("c3fs_meta_gc_errors_total", NULL,
						 "GC steps that failed (retried later)");
	struct c3_counter *trash_items = c3_counter_get(
		"c3fs_meta_trash_items_removed_total", NULL,
		"expired trash items removed by the cleaner");
	struct c3_counter *trash_entries = c3_counter_get(
		"c3fs_meta_trash_entries_removed_total", NULL,
		"entries (files, directories, ...) those items held");
	uint64_t last_trash = 0;
	struct c3_counter *cuts = c3_counter_get("c3fs_meta_gc_cuts_total", NULL,
						 "truncates whose pending storage cut GC did");
	struct c3_counter *cuts_dropped = c3_counter_get(
		"c3fs_meta_gc_cuts_dropped_total", NULL,
		"pending truncate cuts dropped (file removed or grown since)");
	uint64_t last_err_log = 0;

	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		struct meta_gc_stats st;
		struct timespec ts;
		int rc;

		if (atomic_load(&live_gc_interval_ms)) { /* set-config (cb_config) */
			g->interval_ms = atomic_load(&live_gc_interval_ms);
			g->batch = (int)atomic_load(&live_gc_batch);
		}
		pthread_mutex_unlock(&g->mu);
		memset(&st, 0, sizeof(st));
		rc = meta_gc_run(g->svc, g->batch, &st);
		c3_counter_add(removed, st.files_removed);
		c3_counter_add(dirs_removed, st.dirs_removed);
		c3_counter_add(expired, st.sessions_expired);
		c3_counter_add(cuts, st.cuts_done);
		c3_counter_add(cuts_dropped, st.cuts_dropped);
		c3_counter_add(errs, st.errors + (rc < 0));
		if ((rc < 0 || st.errors) && c3_now_ms() - last_err_log > 10000) {
			LOG_WARN("gc pass: %s, %llu step errors", c3_strerror(rc),
				 (unsigned long long)st.errors);
			last_err_log = c3_now_ms();
		}
		{
			uint64_t ti = atomic_load(&live_trash_interval_ms);
			uint64_t now = c3_now_ms();

			if (ti && now - last_trash >= ti) {
				struct meta_trash_stats tst;

				memset(&tst, 0, sizeof(tst));
				last_trash = now;
				rc = meta_trash_clean(g->svc, c3_wall_ns() / 1000000000ull, &tst);
				c3_counter_add(trash_items, tst.items_removed);
				c3_counter_add(trash_entries, tst.entries_removed);
				c3_counter_add(errs, tst.errors + (rc < 0));
				if (tst.items_removed)
					LOG_INFO("trash: %llu expired items removed (%llu entries)",
						 (unsigned long long)tst.items_removed,
						 (unsigned long long)tst.entries_removed);
			}
		}
		if (st.files_removed || st.sessions_expired)
			LOG_DEBUG("gc: %llu files removed, %llu sessions expired",
				  (unsigned long long)st.files_removed,
				  (unsigned long long)st.sessions_expired);
		ts = c3_deadline_after_ms(g->interval_ms);
		pthread_mutex_lock(&g->mu);
		if (!g->stop)
			pthread_cond_timedwait(&g->cv, &g->mu, &ts);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/* The service options from the configuration (root_mode already parsed). */
static void svc_opts_of(const struct meta_config *cfg, uint32_t root_mode,
			struct meta_svc_opts *so)
{
	meta_svc_opts_default(so);
	so->node_id = (uint32_t)cfg->node_id;
	so->root_mode = root_mode;
	so->default_layout.chunk_size = (uint32_t)cfg->chunk_size;
	so->default_layout.stripe = (uint32_t)cfg->stripe;
	so->default_layout.table_id = (uint32_t)cfg->table_id;
	so->session_timeout_ms = cfg->session_timeout_ms;
	so->dir_grace_ms = cfg->dir_grace_ms;
	so->idem_ttl_ms = cfg->idem_ttl_ms;
	so->rmtree_batch = (uint64_t)cfg->rmtree_batch;
}

static int server_open(const struct meta_config *cfg, struct rpc_server **srv)
{
	struct rpc_server_opts o;
	int rc;

	memset(&o, 0, sizeof(o));
	o.listen = cfg->listen;
	o.token = cfg->token;
	o.workers = (int)cfg->workers;
	o.max_conns = (int)cfg->max_conns;
	o.max_unauth_conns = (int)cfg->max_unauth_conns;
	o.max_unauth_per_addr = (int)cfg->max_unauth_per_addr;
	o.auth_timeout_ms = (uint32_t)cfg->auth_timeout_ms;
	rc = rpc_server_new(&o, srv);
	if (rc < 0)
		LOG_ERROR("cannot listen on %s: %s", cfg->listen, c3_strerror(rc));
	return rc;
}

/* Join mgmtd (mgmtd.addrs set): this node's address (node_addr, ROUTING_ADDR_MAX bytes),
 * an RPC client and the cluster client, the storage hooks into so, then a short wait for
 * routing and the user table.  0, or < 0 once reported; the caller frees *rpc and *cc. */
static int mgmtd_join(struct c3_daemon *d, struct meta_config *cfg, int port,
		      struct meta_users *users, char *node_addr, struct rpc_client **rpc,
		      struct cluster_client **cc, struct meta_cluster *mc, struct meta_svc_opts *so)
{
	struct rpc_client_opts co;
	struct cluster_client_opts cco;
	char err[C3_CFG_ERRLEN];
	int rc;

	rc = cluster_node_addr(cfg->listen, cfg->advertise, port, node_addr, ROUTING_ADDR_MAX,
			       err, sizeof(err));
	if (rc < 0) {
		c3_daemon_fail(d, "%s", err);
		return rc;
	}
	memset(&co, 0, sizeof(co));
	co.token = cfg->token;
	rc = rpc_client_new(&co, rpc);
	if (rc < 0) {
		LOG_ERROR("rpc client: %s", c3_strerror(rc));
		return rc;
	}
	memset(&cco, 0, sizeof(cco));
	cco.mgmtd_addrs = cfg->mgmtd;
	cco.token = cfg->token;
	cco.node_type = NODE_META;
	cco.node_id = (uint32_t)cfg->node_id;
	cco.node_addr = node_addr;
	cco.heartbeat_ms = (uint32_t)cfg->heartbeat_ms;
	cco.cfg_table = &meta_cfg;
	cco.cfg_base = cfg;
	cco.cfg_size = sizeof(*cfg);
	cco.on_config = cb_config;
	if (users)
		cco.on_users = cb_users;
	cco.arg = users;
	rc = cluster_client_new(&cco, cc);
	if (rc < 0) {
		LOG_ERROR("cluster client: %s", c3_strerror(rc));
		return rc;
	}
	meta_cluster_init(mc, *cc, *rpc, (uint32_t)cfg->storage_timeout_ms);
	mc->wait_ms = (uint32_t)cfg->storage_wait_ms;
	meta_cluster_hooks(mc, &so->hooks);
	if (cluster_client_wait_ready(*cc, 5000) < 0)
		LOG_WARN("mgmtd not reachable yet at %s; continuing, routing will follow",
			 cfg->mgmtd);
	for (int i = 0; users && !meta_users_ready(users) && i < 50; i++)
		c3_sleep_ms(100);
	if (users && !meta_users_ready(users))
		LOG_WARN("no user table from mgmtd yet: requests are refused until it arrives");
	return 0;
}

int main(int argc, char **argv)
{
	struct meta_config cfg;
	char err[C3_CFG_ERRLEN];
	struct meta_svc_opts so;
	struct kv_db *db = NULL;
	struct meta_svc *svc = NULL;
	struct rpc_server *srv = NULL;
	struct rpc_client *rpc = NULL;
	struct cluster_client *cc = NULL;
	struct meta_users *users = NULL;
	struct meta_cluster mc;
	struct gc_thread gc;
	pthread_t gc_tid;
	bool gc_started = false;
	struct c3_daemon d = { .prog = "c3fs-meta", .role = "meta", .table = &meta_cfg,
			       .cfg = &cfg };
	char addr[64], node_addr[ROUTING_ADDR_MAX] = "", kv_shown[1024];
	int rc, status = 1;
	long mode;
	char *end;

	memset(&cfg, 0, sizeof(cfg));
	if (c3_daemon_init(&d, argc, argv))
		return d.status;
	rpc_set_type_namer(c3_msg_name); /* metric series by message name too */
	errno = 0;
	mode = strtol(cfg.root_mode, &end, 8);
	if (errno || *end || mode < 0 || mode > 07777) {
		LOG_ERROR("meta.root_mode: %s is not an octal mode", cfg.root_mode);
		goto out;
	}
	if (cfg.auth_users && !cfg.mgmtd[0]) {
		LOG_ERROR("auth.users = true needs mgmtd.addrs: users come from mgmtd");
		goto out;
	}
	if (cfg.auth_users && meta_users_new(&users) < 0) {
		LOG_ERROR("out of memory");
		goto out;
	}
	if (c3_kv_uri_private_check(cfg.kv_uri, err, sizeof(err)) < 0) {
		c3_daemon_fail(&d, "kv.uri: %s", err);
		goto out;
	}
	rc = kv_db_open(cfg.kv_uri, &db);
	if (rc < 0) {
		LOG_ERROR("cannot open kv %s: %s",
			  kv_uri_redact(cfg.kv_uri, kv_shown, sizeof(kv_shown)), c3_strerror(rc));
		goto out;
	}
	svc_opts_of(&cfg, (uint32_t)mode, &so);
	if (server_open(&cfg, &srv) < 0)
		goto out;
	snprintf(addr, sizeof(addr), "%.*s:%d",
		 (int)(strrchr(cfg.listen, ':') ? strrchr(cfg.listen, ':') - cfg.listen : 0),
		 cfg.listen, rpc_server_port(srv));
	if (cfg.mgmtd[0] && mgmtd_join(&d, &cfg, rpc_server_port(srv), users, node_addr, &rpc,
				       &cc, &mc, &so) < 0)
		goto out;
	rc = meta_svc_new(db, &so, &svc);
	if (rc < 0) {
		LOG_ERROR("meta service on %s: %s",
			  kv_uri_redact(cfg.kv_uri, kv_shown, sizeof(kv_shown)), c3_strerror(rc));
		goto out;
	}
	rc = meta_server_register(srv, svc, users);
	if (rc == 0)
		rc = rpc_server_start(srv);
	if (rc < 0) {
		LOG_ERROR("rpc server: %s", c3_strerror(rc));
		goto out;
	}
	(void)c3_daemon_metrics_start(&d, false); /* without metrics the node still serves */
	memset(&gc, 0, sizeof(gc));
	gc.svc = svc;
	gc.interval_ms = cfg.gc_interval_ms;
	gc.batch = (int)cfg.gc_batch;
	atomic_store(&live_trash_interval_ms, cfg.trash_interval_ms);
	rc = cfg.trash_interval_ms ? meta_trash_ensure(svc) : 0;
	if (rc < 0)
		LOG_WARN("cannot make /trash: %s (the trash cleaner retries)", c3_strerror(rc));
	pthread_mutex_init(&gc.mu, NULL);
	pthread_cond_init(&gc.cv, NULL);
	if (pthread_create(&gc_tid, NULL, gc_main, &gc) != 0) {
		LOG_ERROR("cannot start the gc thread");
		goto out_gc;
	}
	gc_started = true;
	LOG_INFO("c3fs-meta node %lld listening on %s (advertised %s), kv %s (%s)%s",
		 (long long)cfg.node_id, addr, node_addr[0] ? node_addr : addr,
		 kv_uri_redact(cfg.kv_uri, kv_shown, sizeof(kv_shown)), kv_db_backend(db),
		 cc ? ", joined mgmtd" : ", standalone");
	/* make the port visible to scripts that asked for port 0 */
	fprintf(stdout, "listening %s\n", addr);
	fflush(stdout);
	c3_daemon_wait(&d);
	status = 0;
out_gc:
	if (gc_started) {
		pthread_mutex_lock(&gc.mu);
		gc.stop = true;
		pthread_cond_signal(&gc.cv);
		pthread_mutex_unlock(&gc.mu);
		pthread_join(gc_tid, NULL);
	}
	pthread_cond_destroy(&gc.cv);
	pthread_mutex_destroy(&gc.mu);
out:
	rpc_server_free(srv);
	cluster_client_free(cc);
	meta_users_free(users);
	if (rpc)
		rpc_client_free(rpc);
	meta_svc_free(svc);
	if (db)
		kv_db_close(db);
	c3_daemon_fini(&d);
	return status;
}
