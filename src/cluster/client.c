/* client.c — cluster_client: registration, heartbeats, lease, routing cache, leader
 * following (contract in client.h), and cluster_mgmtd_call (one request to the leader).
 *
 * Invariants:
 *   - cc->ri only ever moves to a snapshot with a higher version;
 *   - the lease is valid iff a heartbeat (or registration) acknowledged by mgmtd was sent
 *     less than lease_ms / 2 ago: valid_until_ns = send time of the newest acknowledged
 *     heartbeat + lease_ms / 2.  It is computed on demand, so cluster_client_lease_valid()
 *     is exact even while the background thread is blocked in a call;
 *   - on_lease is called only on transitions, from the background thread, starting from
 *     "invalid" (no callback before the first valid lease);
 *   - the incarnation is random, non-zero and fixed for the life of the cluster_client.
 * Locking: mu guards every field marked (mu); the background thread owns the rest.
 * Callbacks run without mu held.
 */
#include "cluster/client.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/version.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/metrics.h"
#include "net/rpc.h"
#include "proto/mgmtd.h"

#define CC_MAX_ADDRS 16
#define CC_MAX_REPORTS MGMTD_MAX_REPORTS

/* Something mgmtd versions and this client fetches: the live configuration, the user
 * table.  Background thread only. */
struct cluster_fetch {
	uint64_t seen;                     /* version in the last heartbeat reply */
	uint64_t done;                     /* version last fetched */
	bool fetched;                      /* fetched since the last registration */
};

struct cluster_client {
	struct cluster_client_opts opts;  /* strings below are our own copies */
	char *addrs_str, *token, *node_addr;
	struct rpc_client *rpc;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t mu;
	pthread_cond_t cond;               /* wakes the thread (hint, refresh, stop) */
	pthread_cond_t ready_cond;         /* signalled on routing/registration changes */
	bool stop;                         /* (mu) */
	bool refresh_now;                  /* (mu) */
	uint64_t hint_version;             /* (mu) */
	struct routing_info *ri;           /* (mu) newest snapshot, one ref held */
	uint32_t node_id;                  /* (mu) */
	bool registered;                   /* (mu) */
	char leader[ROUTING_ADDR_MAX];     /* (mu) */
	uint64_t valid_until_ns;           /* (mu) 0 = never valid */
	uint32_t lease_ms;                 /* (mu) from mgmtd */
	uint64_t refresh_gen, refresh_done_gen; /* (mu) sync refresh handshake */
	int refresh_rc;                    /* (mu) */

	/* background thread only */
	uint64_t incarnation;
	uint64_t seq;
	bool lease_reported;               /* last state given to on_lease */
	struct cluster_fetch cfg;          /* live configuration (done: applied or refused) */
	struct cluster_fetch users;        /* user table (done: handed to on_users) */
	struct cluster_target_report *reports;
};

/* ------------------------------------------------------------------ leader calls */

/* Split "a,b,c" into at most max entries (pointers into buf, which is modified). */
static int split_addrs(char *buf, char **out, int max)
{
	int n = 0;
	char *save = NULL;

	for (char *tok = strtok_r(buf, ", ", &save); tok && n < max;
	     tok = strtok_r(NULL, ", ", &save))
		out[n++] = tok;
	return n;
}

/* A failure of this mgmtd rather than of the request: try the next address.  A refused
 * cluster token counts too (one mgmtd may hold another token; the caller stops when every
 * one refuses). */
static bool is_transport_error(int rc)
{
	return c3_err_is_peer(rc) || rc == -C3FS_EAUTH;
}

int cluster_mgmtd_call(struct rpc_client *rpc, const char *mgmtd_addrs, char *leader,
		       size_t leadersz, uint16_t type, const void *req, size_t len,
		       struct c3_buf *resp, uint32_t timeout_ms)
{
	char *buf, *addrs[CC_MAX_ADDRS];
	char target[ROUTING_ADDR_MAX] = "";
	int n, next = 0, rc = -C3FS_ECONNECT, auth_fail = 0;
	uint64_t deadline;
	struct c3_buf tmp = C3_BUF_INIT;
	struct c3_buf *out = resp ? resp : &tmp;

	if (!mgmtd_addrs || !*mgmtd_addrs)
		return -C3FS_ECONFIG;
	buf = strdup(mgmtd_addrs);
	if (!buf)
		return -ENOMEM;
	n = split_addrs(buf, addrs, CC_MAX_ADDRS);
	if (n == 0) {
		free(buf);
		return -C3FS_ECONFIG;
	}
	if (timeout_ms == 0)
		timeout_ms = 5000;
	deadline = c3_now_ms() + timeout_ms;
	if (leader && leader[0])
		snprintf(target, sizeof(target), "%s", leader);
	else
		snprintf(target, sizeof(target), "%s", addrs[next++ % n]);

	for (int attempt = 0; attempt < 4 * n + 8; attempt++) {
		uint64_t now = c3_now_ms();
		uint32_t left;

		if (now >= deadline) {
			if (rc == 0 || !is_transport_error(rc))
				rc = -C3FS_ETIMEDOUT;
			break;
		}
		left = (uint32_t)(deadline - now);
		/* rpc_call_sync assigns *out (it does not append): free the last reply */
		c3_buf_release(out);
		rc = rpc_call_sync(rpc, target, type, req, len, out, left);
		if (rc == -C3FS_ENOTLEADER) {
			struct mgmtd_redirect r;

			if (mgmtd_redirect_decode(out->data, out->len, &r) == 0 && r.leader[0] &&
			    strcmp(r.leader, target) != 0) {
				snprintf(target, sizeof(target), "%s", r.leader);
				continue;
			}
			/* no leader known there (election in progress): next address */
			snprintf(target, sizeof(target), "%s", addrs[next++ % n]);
			c3_sleep_ms(50);
			continue;
		}
		if (is_transport_error(rc)) {
			if (rc == -C3FS_EAUTH && ++auth_fail >= n)
				break; /* every mgmtd refuses our token: no point retrying */
			if (leader && leadersz)
				leader[0] = '\0';
			snprintf(target, sizeof(target), "%s", addrs[next++ % n]);
			if (attempt >= n)
				c3_sleep_ms(50);
			continue;
		}
		/* an answer from the leader (success or a real error) */
		if (leader && leadersz)
			snprintf(leader, leadersz, "%s", target);
		break;
	}
	c3_buf_release(&tmp);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------ helpers */

static uint64_t new_incarnation(void)
{
	uint64_t v = 0;

	while (v == 0) {
		if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
			v = c3_wall_ns() ^ ((uint64_t)getpid() << 32);
	}
	return v;
}

static uint32_t call_timeout_ms(struct cluster_client *cc)
{
	uint32_t lease;

	pthread_mutex_lock(&cc->mu);
	lease = cc->lease_ms;
	pthread_mutex_unlock(&cc->mu);
	/* short enough that an unreachable mgmtd is noticed well inside the lease half */
	if (lease == 0)
		return 1000;
	return lease / 4 < 200 ? 200 : lease / 4;
}

/* Send the encoded request req to the mgmtd leader (following redirects; the leader found
 * is kept for the next call), the reply into resp.  A request whose encoding failed
 * (req->err) is not sent: that error is returned. */
static int leader_call(struct cluster_client *cc, uint16_t type, const struct c3_buf *req,
		       struct c3_buf *resp, uint32_t timeout_ms)
{
	if (req->err)
		return req->err;
	return cluster_client_call(cc, type, req->data, req->len, resp, timeout_ms);
}

/* Install a newer snapshot (takes the caller's reference) and tell on_routing. */
static void install_routing(struct cluster_client *cc, struct routing_info *ri)
{
	struct routing_info *old = NULL;
	bool newer;

	pthread_mutex_lock(&cc->mu);
	newer = !cc->ri || ri->version > cc->ri->version;
	if (newer) {
		old = cc->ri;
		cc->ri = ri;
		pthread_cond_broadcast(&cc->ready_cond);
	}
	pthread_mutex_unlock(&cc->mu);
	if (!newer) {
		routing_unref(ri);
		return;
	}
	routing_unref(old);
	if (cc->opts.on_routing)
		cc->opts.on_routing(cc->opts.arg, ri);
}

static int fetch_routing(struct cluster_client *cc)
{
	struct mgmtd_get_routing_req q;
	struct mgmtd_get_routing_resp r;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	int rc;

	pthread_mutex_lock(&cc->mu);
	q.known_version = cc->ri ? cc->ri->version : 0;
	pthread_mutex_unlock(&cc->mu);
	mgmtd_get_routing_req_encode(&q, &req);
	rc = leader_call(cc, MGMTD_T_GET_ROUTING, &req, &resp, call_timeout_ms(cc) * 2);
	if (rc == 0)
		rc = mgmtd_get_routing_resp_decode(resp.data, resp.len, &r);
	if (rc == 0 && r.ri)
		install_routing(cc, r.ri);
	c3_buf_release(&req);
	c3_buf_release(&resp);
	return rc;
}

static void lease_extend(struct cluster_client *cc, uint64_t sent_ns, uint32_t lease_ms)
{
	uint64_t until = sent_ns + (uint64_t)lease_ms * 1000000ull / 2;

	pthread_mutex_lock(&cc->mu);
	cc->lease_ms = lease_ms;
	if (until > cc->valid_until_ns)
		cc->valid_until_ns = until;
	pthread_mutex_unlock(&cc->mu);
}

static int do_register(struct cluster_client *cc)
{
	struct mgmtd_register_req q;
	struct mgmtd_register_resp r;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	uint64_t sent;
	int rc;

	memset(&q, 0, sizeof(q));
	q.node_type = cc->opts.node_type;
	pthread_mutex_lock(&cc->mu);
	q.node_id = cc->node_id;
	pthread_mutex_unlock(&cc->mu);
	snprintf(q.addr, sizeof(q.addr), "%s", cc->node_addr);
	q.incarnation = cc->incarnation;
	if (gethostname(q.hostname, sizeof(q.hostname)) != 0)
		q.hostname[0] = '\0';
	q.hostname[sizeof(q.hostname) - 1] = '\0';
	snprintf(q.version, sizeof(q.version), "%s", C3FS_VERSION);
	q.pid = (uint32_t)getpid();
	mgmtd_register_req_encode(&q, &req);
	sent = c3_now_ns();
	rc = leader_call(cc, MGMTD_T_REGISTER, &req, &resp, call_timeout_ms(cc));
	if (rc == 0)
		rc = mgmtd_register_resp_decode(resp.data, resp.len, &r);
	if (rc == 0) {
		pthread_mutex_lock(&cc->mu);
		cc->node_id = r.node_id;
		cc->registered = true;
		pthread_cond_broadcast(&cc->ready_cond);
		pthread_mutex_unlock(&cc->mu);
		lease_extend(cc, sent, r.lease_ms);
		if (cc->opts.heartbeat_ms > r.lease_ms / 4)
			LOG_WARN("heartbeat every %u ms with a %u ms lease: one lost heartbeat "
				 "can cost the lease (keep heartbeat <= lease/4)",
				 cc->opts.heartbeat_ms, r.lease_ms);
		cc->seq = 0;
		cc->cfg.fetched = false; /* a new mgmtd (or a restart) may hold other settings */
		cc->users.fetched = false;
		if (r.routing_version)
			cluster_client_routing_hint(cc, r.routing_version);
	}
	c3_buf_release(&req);
	c3_buf_release(&resp);
	return rc;
}

static int do_heartbeat(struct cluster_client *cc)
{
	struct mgmtd_heartbeat_req q;
	struct mgmtd_heartbeat_resp r;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	uint64_t sent;
	int rc;

	memset(&q, 0, sizeof(q));
	pthread_mutex_lock(&cc->mu);
	q.node_id = cc->node_id;
	q.routing_version = cc->ri ? cc->ri->version : 0;
	pthread_mutex_unlock(&cc->mu);
	q.incarnation = cc->incarnation;
	q.seq = ++cc->seq;
	if (cc->opts.collect_targets) {
		int n = cc->opts.collect_targets(cc->opts.arg, cc->reports, CC_MAX_REPORTS);

		if (n > 0) {
			q.nreports = (uint32_t)(n > CC_MAX_REPORTS ? CC_MAX_REPORTS : n);
			q.reports = cc->reports;
		}
	}
	mgmtd_heartbeat_req_encode(&q, &req);
	sent = c3_now_ns();
	rc = leader_call(cc, MGMTD_T_HEARTBEAT, &req, &resp, call_timeout_ms(cc));
	if (rc == 0)
		rc = mgmtd_heartbeat_resp_decode(resp.data, resp.len, &r);
	if (rc == 0) {
		lease_extend(cc, sent, r.lease_ms);
		cluster_client_routing_hint(cc, r.routing_version);
		cc->cfg.seen = r.config_version;
		cc->users.seen = r.users_version;
	} else if (rc == -C3FS_ELEASE) {
		/* mgmtd does not know this incarnation (any more): register again */
		pthread_mutex_lock(&cc->mu);
		cc->registered = false;
		pthread_mutex_unlock(&cc->mu);
	}
	c3_buf_release(&req);
	c3_buf_release(&resp);
	return rc;
}

/* ------------------------------------------------------------------ live configuration */

/* Whether f is to be fetched: never since the last registration, or a heartbeat named
 * another version than the one fetched. */
static bool fetch_wanted(const struct cluster_fetch *f)
{
	return !f->fetched || f->seen != f->done;
}

/* f was fetched at version. */
static void fetch_done(struct cluster_fetch *f, uint64_t version)
{
	f->fetched = true;
	f->done = version;
	if (f->seen < version)
		f->seen = version;
}

static bool config_wanted(const struct cluster_client *cc)
{
	return cc->opts.on_config && fetch_wanted(&cc->cfg);
}

/* Validate the settings over a copy of the base config and hand them to on_config. */
static void apply_config(struct cluster_client *cc, const char *settings, uint64_t version)
{
	char err[C3_CFG_ERRLEN], shown[512];
	void *cfg = calloc(1, cc->opts.cfg_size);
	size_t n = 0;
	int rc;

	if (!cfg || c3_cfg_copy(cc->opts.cfg_table, cfg, cc->opts.cfg_base) != 0) {
		free(cfg);
		LOG_ERROR("live configuration version %llu not applied: out of memory",
			  (unsigned long long)version);
		return;
	}
	rc = c3_cfg_apply_lines(cc->opts.cfg_table, cfg, settings, true, err, sizeof(err));
	if (rc < 0) {
		LOG_ERROR("live configuration version %llu refused, nothing changed: %s",
			  (unsigned long long)version, err);
	} else {
		for (const char *p = settings; *p && n + 1 < sizeof(shown); p++)
			shown[n++] = *p == '\n' ? (p[1] ? ' ' : '\0') : *p;
		shown[n] = '\0';
		cc->opts.on_config(cc->opts.arg, cfg, version);
		LOG_INFO("live configuration version %llu applied (%d settings%s%s)",
			 (unsigned long long)version, rc, rc ? ": " : "", shown);
		c3_gauge_set(c3_gauge_get("c3fs_config_version", NULL,
					  "live configuration version applied (set-config)"),
			     (int64_t)version);
	}
	c3_cfg_release(cc->opts.cfg_table, cfg);
	free(cfg);
}

static int fetch_config(struct cluster_client *cc)
{
	struct mgmtd_get_config_req q;
	struct mgmtd_get_config_resp r;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT, schema = C3_BUF_INIT;
	int rc;

	memset(&q, 0, sizeof(q));
	q.node_type = cc->opts.node_type;
	q.node_id = cluster_client_node_id(cc);
	c3_cfg_render_schema(cc->opts.cfg_table, &schema);
	c3_buf_append(&schema, "", 1);
	rc = schema.err;
	q.schema = rc ? NULL : (char *)schema.data;
	if (rc == 0) {
		mgmtd_get_config_req_encode(&q, &req);
		rc = leader_call(cc, MGMTD_T_GET_CONFIG, &req, &resp, call_timeout_ms(cc) * 2);
	}
	if (rc == 0)
		rc = mgmtd_get_config_resp_decode(resp.data, resp.len, &r);
	if (rc == 0) {
		fetch_done(&cc->cfg, r.version);
		apply_config(cc, r.settings, r.version);
		mgmtd_get_config_resp_release(&r);
	}
	c3_buf_release(&schema);
	c3_buf_release(&req);
	c3_buf_release(&resp);
	return rc;
}

/* ------------------------------------------------------------------ users */

static bool users_wanted(const struct cluster_client *cc)
{
	return cc->opts.on_users && fetch_wanted(&cc->users);
}

static int fetch_users(struct cluster_client *cc)
{
	struct mgmtd_get_users_req q;
	struct mgmtd_users_resp r;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	int rc;

	q.node_id = cluster_client_node_id(cc);
	q.known_version = cc->users.done;
	mgmtd_get_users_req_encode(&q, &req);
	rc = leader_call(cc, MGMTD_T_GET_USERS, &req, &resp, call_timeout_ms(cc) * 2);
	if (rc == 0)
		rc = mgmtd_users_resp_decode(resp.data, resp.len, &r);
	if (rc == 0) {
		fetch_done(&cc->users, r.version);
		cc->opts.on_users(cc->opts.arg, r.users, r.n, r.version);
		mgmtd_users_resp_release(&r);
	}
	c3_buf_release(&req);
	c3_buf_release(&resp);
	return rc;
}

static void report_lease(struct cluster_client *cc)
{
	bool valid = cluster_client_lease_valid(cc);

	if (valid == cc->lease_reported)
		return;
	cc->lease_reported = valid;
	if (valid)
		LOG_INFO("mgmtd lease acquired (node %u)", cluster_client_node_id(cc));
	else
		LOG_WARN("mgmtd lease lost: no acknowledged heartbeat for half a lease");
	if (cc->opts.on_lease)
		cc->opts.on_lease(cc->opts.arg, valid);
}

static void cond_wait_until_ms(struct cluster_client *cc, uint64_t wake_ms)
{
	uint64_t now = c3_now_ms(), ns;
	struct timespec ts;

	if (wake_ms <= now)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec +
	     (wake_ms - now) * 1000000ull;
	ts.tv_sec = (time_t)(ns / 1000000000ull);
	ts.tv_nsec = (long)(ns % 1000000000ull);
	pthread_cond_timedwait(&cc->cond, &cc->mu, &ts);
}

/* Is a routing fetch wanted? (mu held) */
static bool routing_wanted(const struct cluster_client *cc)
{
	return cc->refresh_gen > cc->refresh_done_gen || !cc->ri ||
	       cc->hint_version > cc->ri->version;
}

static void *cc_thread(void *arg)
{
	struct cluster_client *cc = arg;
	uint64_t next_hb = 0, next_register = 0, routing_retry_at = 0, lost_ms = 0;
	uint64_t config_retry_at = 0, users_retry_at = 0;
	int last_err = 0; /* result of the last registration or heartbeat */

	for (;;) {
		bool registered, want;
		const char *what;
		uint64_t gen, now, wake;
		int rc = 0;

		pthread_mutex_lock(&cc->mu);
		if (cc->stop) {
			pthread_mutex_unlock(&cc->mu);
			break;
		}
		registered = cc->registered;
		pthread_mutex_unlock(&cc->mu);

		now = c3_now_ms();
		what = NULL;
		if (!registered && now >= next_register) {
			what = "registration";
			rc = do_register(cc);
			next_hb = c3_now_ms() + cc->opts.heartbeat_ms;
			next_register = c3_now_ms() + (cc->opts.heartbeat_ms < 200 ?
						       cc->opts.heartbeat_ms : 200);
		} else if (registered && now >= next_hb) {
			what = "heartbeat";
			next_hb = now + cc->opts.heartbeat_ms;
			rc = do_heartbeat(cc);
		}
		/* log the state changes only: mgmtd lost (first failure), a different
		 * error while lost (debug), mgmtd regained (first success after) */
		if (what && rc && !last_err) {
			LOG_WARN("mgmtd %s failed: %s", what, c3_strerror(rc));
			lost_ms = now;
		} else if (what && rc && rc != last_err) {
			LOG_DEBUG("mgmtd %s failed: %s", what, c3_strerror(rc));
		} else if (what && !rc && last_err) {
			LOG_INFO("mgmtd %s acknowledged again after %llu ms", what,
				 (unsigned long long)(c3_now_ms() - lost_ms));
		}
		if (what)
			last_err = rc;

		pthread_mutex_lock(&cc->mu);
		registered = cc->registered; /* just registered: fetch the settings now */
		gen = cc->refresh_gen;
		want = routing_wanted(cc) && (cc->registered || gen > cc->refresh_done_gen);
		pthread_mutex_unlock(&cc->mu);
		if (want && c3_now_ms() >= routing_retry_at) {
			int rrc = fetch_routing(cc);

			routing_retry_at = rrc ? c3_now_ms() + 200 : 0;
			pthread_mutex_lock(&cc->mu);
			if (gen > cc->refresh_done_gen) {
				cc->refresh_done_gen = gen;
				cc->refresh_rc = rrc;
			}
			pthread_cond_broadcast(&cc->ready_cond);
			pthread_mutex_unlock(&cc->mu);
		}
		if (registered && config_wanted(cc) && c3_now_ms() >= config_retry_at) {
			int crc = fetch_config(cc);

			if (crc)
				LOG_DEBUG("live configuration fetch failed: %s", c3_strerror(crc));
			config_retry_at = crc ? c3_now_ms() + 1000 : 0;
		}
		if (registered && users_wanted(cc) && c3_now_ms() >= users_retry_at) {
			int urc = fetch_users(cc);

			if (urc)
				LOG_DEBUG("user table fetch failed: %s", c3_strerror(urc));
			users_retry_at = urc ? c3_now_ms() + 1000 : 0;
		}
		report_lease(cc);

		/* sleep until the next heartbeat, a retry, the lease half-point or a wake-up */
		pthread_mutex_lock(&cc->mu);
		wake = cc->registered ? next_hb : next_register;
		if (cc->lease_reported && cc->valid_until_ns / 1000000ull + 1 < wake)
			wake = cc->valid_until_ns / 1000000ull + 1;
		if (routing_wanted(cc) && (cc->registered || cc->refresh_gen > cc->refresh_done_gen)) {
			if (routing_retry_at < wake)
				wake = routing_retry_at;
		}
		if (!cc->stop)
			cond_wait_until_ms(cc, wake);
		pthread_mutex_unlock(&cc->mu);
	}
	return NULL;
}

/* ------------------------------------------------------------------ public */

int cluster_client_new(const struct cluster_client_opts *opts, struct cluster_client **out)
{
	struct cluster_client *cc;
	struct rpc_client_opts ro;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (!opts || !opts->mgmtd_addrs || !*opts->mgmtd_addrs || opts->node_type < NODE_META ||
	    opts->node_type > NODE_CLIENT)
		return -C3FS_ECONFIG;
	if (opts->node_type != NODE_CLIENT && (!opts->node_addr || !*opts->node_addr))
		return -C3FS_ECONFIG;
	cc = calloc(1, sizeof(*cc));
	if (!cc)
		return -ENOMEM;
	cc->opts = *opts;
	cc->addrs_str = strdup(opts->mgmtd_addrs);
	cc->token = strdup(opts->token ? opts->token : "");
	cc->node_addr = strdup(opts->node_addr ? opts->node_addr : "");
	cc->reports = calloc(CC_MAX_REPORTS, sizeof(*cc->reports));
	if (!cc->addrs_str || !cc->token || !cc->node_addr || !cc->reports) {
		rc = -ENOMEM;
		goto fail_alloc;
	}
	cc->opts.mgmtd_addrs = cc->addrs_str;
	cc->opts.token = cc->token;
	cc->opts.node_addr = cc->node_addr;
	if (cc->opts.heartbeat_ms == 0)
		cc->opts.heartbeat_ms = 1000;
	cc->node_id = opts->node_id;
	cc->incarnation = new_incarnation();

	memset(&ro, 0, sizeof(ro));
	ro.token = cc->token;
	ro.conns_per_peer = 1;
	ro.connect_timeout_ms = 1000;
	ro.io_threads = 1;
	rc = rpc_client_new(&ro, &cc->rpc);
	if (rc)
		goto fail_alloc;

	pthread_mutex_init(&cc->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cc->cond, &ca);
	pthread_cond_init(&cc->ready_cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = -pthread_create(&cc->thread, NULL, cc_thread, cc);
	if (rc) {
		pthread_cond_destroy(&cc->cond);
		pthread_cond_destroy(&cc->ready_cond);
		pthread_mutex_destroy(&cc->mu);
		rpc_client_free(cc->rpc);
		goto fail_alloc;
	}
	cc->thread_started = true;
	*out = cc;
	return 0;
fail_alloc:
	free(cc->reports);
	free(cc->addrs_str);
	free(cc->token);
	free(cc->node_addr);
	free(cc);
	return rc;
}

void cluster_client_free(struct cluster_client *cc)
{
	if (!cc)
		return;
	pthread_mutex_lock(&cc->mu);
	cc->stop = true;
	pthread_cond_broadcast(&cc->cond);
	pthread_mutex_unlock(&cc->mu);
	if (cc->thread_started)
		pthread_join(cc->thread, NULL);
	rpc_client_free(cc->rpc);
	routing_unref(cc->ri);
	pthread_cond_destroy(&cc->cond);
	pthread_cond_destroy(&cc->ready_cond);
	pthread_mutex_destroy(&cc->mu);
	free(cc->reports);
	free(cc->addrs_str);
	free(cc->token);
	free(cc->node_addr);
	free(cc);
}

static void deadline_ts(uint32_t timeout_ms, struct timespec *ts)
{
	uint64_t ns;

	clock_gettime(CLOCK_MONOTONIC, ts);
	ns = (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec +
	     (uint64_t)timeout_ms * 1000000ull;
	ts->tv_sec = (time_t)(ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
}

int cluster_client_wait_ready(struct cluster_client *cc, uint32_t timeout_ms)
{
	struct timespec ts;
	int rc = 0;

	deadline_ts(timeout_ms, &ts);
	pthread_mutex_lock(&cc->mu);
	while (!(cc->registered && cc->ri) && rc == 0)
		rc = pthread_cond_timedwait(&cc->ready_cond, &cc->mu, &ts);
	rc = (cc->registered && cc->ri) ? 0 : -C3FS_ETIMEDOUT;
	pthread_mutex_unlock(&cc->mu);
	return rc;
}

struct routing_info *cluster_client_routing(struct cluster_client *cc)
{
	struct routing_info *ri;

	pthread_mutex_lock(&cc->mu);
	ri = cc->ri;
	if (ri)
		routing_ref(ri);
	pthread_mutex_unlock(&cc->mu);
	return ri;
}

void cluster_client_routing_hint(struct cluster_client *cc, uint64_t seen)
{
	pthread_mutex_lock(&cc->mu);
	if (seen > cc->hint_version)
		cc->hint_version = seen;
	if (!cc->ri || seen > cc->ri->version)
		pthread_cond_broadcast(&cc->cond);
	pthread_mutex_unlock(&cc->mu);
}

int cluster_client_refresh(struct cluster_client *cc, uint32_t timeout_ms)
{
	struct timespec ts;
	uint64_t gen;
	int rc = 0;

	deadline_ts(timeout_ms, &ts);
	pthread_mutex_lock(&cc->mu);
	gen = ++cc->refresh_gen;
	cc->refresh_now = true;
	pthread_cond_broadcast(&cc->cond);
	while (cc->refresh_done_gen < gen && rc == 0)
		rc = pthread_cond_timedwait(&cc->ready_cond, &cc->mu, &ts);
	rc = cc->refresh_done_gen >= gen ? cc->refresh_rc : -C3FS_ETIMEDOUT;
	pthread_mutex_unlock(&cc->mu);
	return rc;
}

bool cluster_client_lease_valid(struct cluster_client *cc)
{
	bool valid;

	pthread_mutex_lock(&cc->mu);
	valid = cc->valid_until_ns != 0 && c3_now_ns() < cc->valid_until_ns;
	pthread_mutex_unlock(&cc->mu);
	return valid;
}

uint32_t cluster_client_node_id(struct cluster_client *cc)
{
	uint32_t id;

	pthread_mutex_lock(&cc->mu);
	id = cc->registered ? cc->node_id : 0;
	pthread_mutex_unlock(&cc->mu);
	return id;
}

void cluster_client_leader(struct cluster_client *cc, char *out, size_t outsz)
{
	pthread_mutex_lock(&cc->mu);
	snprintf(out, outsz, "%s", cc->leader);
	pthread_mutex_unlock(&cc->mu);
}

int cluster_client_call(struct cluster_client *cc, uint16_t type, const void *req, size_t len,
			struct c3_buf *resp, uint32_t timeout_ms)
{
	char leader[ROUTING_ADDR_MAX];
	int rc;

	pthread_mutex_lock(&cc->mu);
	memcpy(leader, cc->leader, sizeof(leader));
	pthread_mutex_unlock(&cc->mu);
	rc = cluster_mgmtd_call(cc->rpc, cc->addrs_str, leader, sizeof(leader), type, req, len,
				resp, timeout_ms);
	pthread_mutex_lock(&cc->mu);
	memcpy(cc->leader, leader, sizeof(leader));
	pthread_mutex_unlock(&cc->mu);
	return rc;
}
