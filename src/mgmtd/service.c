/* service.c — mgmtd as a service: handlers, election, lease checker, publication, metrics.
 * Threads and locking: service.h.  Message semantics: proto/mgmtd.h.
 *
 * Publication invariant: svc->ri (and its encoding svc->ri_enc) is always a snapshot of
 * a committed state; svc->ri->version only grows while this process leads, and after a
 * takeover starts above everything any earlier leader committed (version + 1, committed
 * before serving).
 */
#include "mgmtd/service.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/addr.h"
#include "common/check.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/metrics.h"
#include "kv/kv.h"
#include "mgmtd/chain.h"
#include "mgmtd/lease.h"
#include "mgmtd/settings.h"
#include "mgmtd/state.h"
#include "mgmtd/store.h"
#include "mgmtd/users.h"
#include "mgmtd/web.h"
#include "net/codec.h"
#include "net/rpc.h"
#include "proto/mgmtd.h"

struct mgmtd_service {
	uint64_t node_lease_ms, leader_lease_ms, kv_outage_grace_ms;
	char self[ROUTING_ADDR_MAX];
	char *admin_token;
	uint64_t instance;
	struct kv_db *db;
	struct rpc_server *srv;
	int metrics_port;
	struct mgmtd_web *web;            /* status page on the metrics port, or NULL */
	pthread_t bg;
	bool bg_started;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;                       /* (mu) */
	bool leader;                     /* (mu) */
	uint64_t leader_until_ms;        /* (mu) monotonic: leadership valid before this */
	struct mgmtd_lease lease;        /* (mu) last record seen */
	uint64_t lease_seen_mono_ms;     /* (mu) when it was read */
	struct mgmtd_state st;           /* (mu) valid while leader */
	struct routing_info *ri;         /* (mu) published snapshot (NULL when not leader) */
	struct c3_buf ri_enc;            /* (mu) its encoding */
	uint64_t ri_built_ms;            /* (mu) */
	int election_err;                /* (mu) last election round's error, for logging */
	uint64_t standby_epoch;          /* (mu) lease epoch last logged as standby, 0 = none */
	uint32_t refused_node;           /* (mu) last registration refused for its address */
	char refused_addr[ROUTING_ADDR_MAX]; /* (mu) */
	/* frozen: leadership ran out while the KV was unreachable; st and ri are kept and
	 * known nodes are acknowledged until frozen_until_ms (monotonic), never later */
	bool frozen;                     /* (mu) */
	uint64_t frozen_until_ms;        /* (mu) */
	uint64_t config_version;         /* (mu) live configuration version (settings.h) */
	uint64_t users_version;          /* (mu) user table version (users.h) */

	struct c3_counter *m_heartbeats, *m_registrations, *m_takeovers, *m_commit_fail;
	struct c3_gauge *m_leader, *m_version, *m_nodes_up, *m_nodes_down, *m_nodes_maint;
	struct c3_gauge *m_chains_healthy, *m_chains_degraded, *m_chains_unavail;
	struct c3_gauge *m_targets_offline, *m_free_bytes, *m_capacity_bytes;
};

static uint64_t wall_ms(void)
{
	return c3_wall_ns() / 1000000ull;
}

/* ------------------------------------------------------------------ leadership */

/* Forget a frozen snapshot (mu held). */
static void unfreeze_locked(struct mgmtd_service *svc, const char *why)
{
	C3_ASSERT_LOCKED(&svc->mu);
	if (!svc->frozen)
		return;
	LOG_WARN("frozen routing dropped: %s", why);
	svc->frozen = false;
	mgmtd_state_release(&svc->st);
	routing_unref(svc->ri);
	svc->ri = NULL;
	c3_buf_release(&svc->ri_enc);
}

/* Drop leadership and the model (mu held). */
static void step_down_locked(struct mgmtd_service *svc, const char *why)
{
	C3_ASSERT_LOCKED(&svc->mu);
	if (!svc->leader) {
		unfreeze_locked(svc, why);
		return;
	}
	LOG_WARN("stepping down as mgmtd leader: %s", why);
	svc->leader = false;
	mgmtd_state_release(&svc->st);
	routing_unref(svc->ri);
	svc->ri = NULL;
	c3_buf_release(&svc->ri_enc);
}

static bool is_leader_locked(struct mgmtd_service *svc)
{
	uint64_t now = c3_now_ms();

	C3_ASSERT_LOCKED(&svc->mu);
	if (svc->leader && now >= svc->leader_until_ms) {
		if (svc->election_err && svc->kv_outage_grace_ms && svc->ri) {
			/* the KV is unreachable: nobody can commit a routing change, ours
			 * included; keep acknowledging the nodes for the grace (README) */
			svc->leader = false;
			svc->frozen = true;
			svc->frozen_until_ms = svc->leader_until_ms + svc->kv_outage_grace_ms;
			LOG_WARN("leader lease not renewed (KV: %s): routing version %llu frozen, "
				 "nodes acknowledged for %llu ms more", c3_strerror(svc->election_err),
				 (unsigned long long)svc->ri->version,
				 (unsigned long long)svc->kv_outage_grace_ms);
		} else {
			step_down_locked(svc, "lease not renewed in time");
		}
	}
	if (svc->frozen && now >= svc->frozen_until_ms)
		unfreeze_locked(svc, "KV outage outlasted lease.kv_outage_grace");
	return svc->leader;
}

/* Frozen and still inside the grace (mu held; call after is_leader_locked). */
static bool is_frozen_locked(struct mgmtd_service *svc)
{
	C3_ASSERT_LOCKED(&svc->mu);
	return svc->frozen && c3_now_ms() < svc->frozen_until_ms;
}

/* Rebuild the published snapshot from the model (mu held). */
static int publish_locked(struct mgmtd_service *svc)
{
	struct routing_info *ri = mgmtd_state_snapshot(&svc->st, wall_ms());
	struct c3_buf enc = C3_BUF_INIT;

	C3_ASSERT_LOCKED(&svc->mu);
	C3_ASSERT(svc->leader);
	if (!ri)
		return -ENOMEM;
	if (routing_validate(ri) != 0) {
		/* a bug in the model: never publish an invalid snapshot */
		unsigned long long v = ri->version;

		routing_unref(ri);
		return C3_INTERNAL("routing snapshot v%llu fails validation", v);
	}
	routing_encode(ri, &enc);
	if (enc.err) {
		routing_unref(ri);
		c3_buf_release(&enc);
		return -ENOMEM;
	}
	routing_unref(svc->ri);
	c3_buf_release(&svc->ri_enc);
	svc->ri = ri;
	svc->ri_enc = enc;
	svc->ri_built_ms = c3_now_ms();
	svc->st.stats_dirty = false;
	return 0;
}

/* Persist and publish whatever the last operation changed (mu held).  On failure the
 * leader steps down and -C3FS_ENOTLEADER is returned. */
static int commit_locked(struct mgmtd_service *svc)
{
	int rc;

	C3_ASSERT_LOCKED(&svc->mu);
	C3_ASSERT(svc->leader);
	if (!svc->st.dirty && !svc->st.routing_dirty) {
		if (svc->st.stats_dirty && c3_now_ms() - svc->ri_built_ms >= 1000)
			publish_locked(svc);
		return 0;
	}
	mgmtd_state_bump(&svc->st);
	rc = mgmtd_store_save(svc->db, &svc->st, svc->instance, wall_ms());
	if (rc) {
		c3_counter_add(svc->m_commit_fail, 1);
		LOG_ERROR("commit of routing version %llu failed: %s",
			  (unsigned long long)svc->st.version, c3_strerror(rc));
		step_down_locked(svc, rc == -C3FS_ENOTLEADER ? "lease lost" : "KV write failed");
		return -C3FS_ENOTLEADER;
	}
	mgmtd_state_committed(&svc->st);
	rc = publish_locked(svc);
	if (rc)
		step_down_locked(svc, "cannot build a routing snapshot");
	return rc ? -C3FS_ENOTLEADER : 0;
}

/* Become leader: load, grace, commit version + 1, publish (mu held). */
static int take_over_locked(struct mgmtd_service *svc)
{
	char err[256];
	int rc;

	C3_ASSERT_LOCKED(&svc->mu);
	unfreeze_locked(svc, "the KV answers again: reloading it");
	mgmtd_state_init(&svc->st, (uint32_t)svc->node_lease_ms);
	rc = mgmtd_store_load(svc->db, &svc->st, err, sizeof(err));
	if (rc) {
		LOG_ERROR("cannot load cluster configuration: %s (%s)", c3_strerror(rc), err);
		mgmtd_state_release(&svc->st);
		return rc;
	}
	/* a node acknowledged by a frozen predecessor may serve until that leader's lease
	 * ran out + kv_outage_grace; no node of ours is declared down before half a node
	 * lease after that (README "KV outage") */
	mgmtd_state_takeover(&svc->st, c3_now_ms(),
			     svc->kv_outage_grace_ms + svc->node_lease_ms / 2 > svc->node_lease_ms ?
			     svc->kv_outage_grace_ms - svc->node_lease_ms / 2 : 0);
	svc->st.routing_dirty = true; /* the takeover itself is a new version */
	svc->leader = true;
	rc = commit_locked(svc);
	if (rc)
		return rc;
	c3_counter_add(svc->m_takeovers, 1);
	/* the settings version only grows; a failed read leaves the old value, and the next
	 * set-config re-reads it inside its transaction anyway */
	if (mgmtd_settings_version(svc->db, &svc->config_version) != 0)
		LOG_WARN("cannot read the live configuration version from the KV");
	if (mgmtd_users_version(svc->db, &svc->users_version) != 0)
		LOG_WARN("cannot read the user table version from the KV");
	LOG_INFO("now the mgmtd leader (epoch %llu): %u nodes, %u targets, %u chains, %u "
		 "tables, routing version %llu", (unsigned long long)svc->lease.epoch,
		 svc->st.nnodes, svc->st.ntargets, svc->st.nchains, svc->st.ntables,
		 (unsigned long long)svc->st.version);
	return 0;
}

static void election_round(struct mgmtd_service *svc)
{
	struct mgmtd_lease rec;
	bool leader = false;
	uint64_t start = c3_now_ms();
	int rc;

	rc = mgmtd_lease_try(svc->db, svc->self, svc->instance, wall_ms(),
			     (uint32_t)(svc->leader_lease_ms * 3 / 4), &leader, &rec);
	pthread_mutex_lock(&svc->mu);
	if (rc) {
		/* once per outage of the KV, not every round */
		if (!svc->election_err)
			LOG_WARN("leader election round failed: %s (retrying every %llu ms)",
				 c3_strerror(rc), (unsigned long long)svc->leader_lease_ms / 8);
		svc->election_err = rc;
		pthread_mutex_unlock(&svc->mu);
		return;
	}
	if (svc->election_err)
		LOG_INFO("leader election rounds work again");
	svc->election_err = 0;
	svc->lease = rec;
	svc->lease_seen_mono_ms = start;
	if (!leader) {
		step_down_locked(svc, "another mgmtd holds the lease");
		if (svc->standby_epoch != rec.epoch) {
			svc->standby_epoch = rec.epoch;
			LOG_INFO("standby mgmtd: the leader is %s (epoch %llu)",
				 rec.holder[0] ? rec.holder : "unknown",
				 (unsigned long long)rec.epoch);
		}
	} else {
		svc->standby_epoch = 0;
		svc->leader_until_ms = start + svc->leader_lease_ms * 3 / 4 -
				       svc->leader_lease_ms / 8;
		if (!svc->leader && take_over_locked(svc) != 0)
			step_down_locked(svc, "takeover failed");
	}
	pthread_mutex_unlock(&svc->mu);
}

static void *bg_thread(void *arg)
{
	struct mgmtd_service *svc = arg;
	uint64_t next_election = 0;

	for (;;) {
		uint64_t now = c3_now_ms();
		struct timespec ts;
		bool leader;

		pthread_mutex_lock(&svc->mu);
		if (svc->stop) {
			pthread_mutex_unlock(&svc->mu);
			break;
		}
		pthread_mutex_unlock(&svc->mu);
		if (now >= next_election) {
			election_round(svc);
			pthread_mutex_lock(&svc->mu);
			leader = svc->leader;
			pthread_mutex_unlock(&svc->mu);
			next_election = c3_now_ms() + svc->leader_lease_ms / (leader ? 4 : 8);
		}
		pthread_mutex_lock(&svc->mu);
		if (is_leader_locked(svc)) {
			mgmtd_state_expire(&svc->st, c3_now_ms());
			commit_locked(svc);
		}
		if (!svc->stop) {
			uint64_t ns;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec +
			     100ull * 1000000ull;
			ts.tv_sec = (time_t)(ns / 1000000000ull);
			ts.tv_nsec = (long)(ns % 1000000000ull);
			pthread_cond_timedwait(&svc->cond, &svc->mu, &ts);
		}
		pthread_mutex_unlock(&svc->mu);
	}
	return NULL;
}

/* ------------------------------------------------------------------ handlers */

/* Not the leader: -C3FS_ENOTLEADER with the leader's address when known (mu held). */
static void reply_redirect_locked(struct mgmtd_service *svc, struct rpc_req *req)
{
	struct mgmtd_redirect r;
	struct c3_buf b = C3_BUF_INIT;

	C3_ASSERT_LOCKED(&svc->mu);
	memset(&r, 0, sizeof(r));
	if (svc->lease.expires_ms > wall_ms() && strcmp(svc->lease.holder, svc->self) != 0)
		snprintf(r.leader, sizeof(r.leader), "%s", svc->lease.holder);
	mgmtd_redirect_encode(&r, &b);
	rpc_reply_buf(req, -C3FS_ENOTLEADER, &b);
	c3_buf_release(&b);
}

/* The admin token, or the token of a user with the admin flag (users.h).  With no admin
 * token configured only admin users' tokens work. */
static bool token_ok(const struct mgmtd_service *svc, const char *given)
{
	if (svc->admin_token[0] && cluster_ct_equal(svc->admin_token, strlen(svc->admin_token),
						    given, strlen(given)))
		return true;
	return mgmtd_users_is_admin_token(svc->db, given);
}

/* Take mu for a request only the leader serves.  Returns true with mu held; else the
 * request was answered with a redirect and mu is free again. */
static bool lock_leader(struct mgmtd_service *svc, struct rpc_req *req)
{
	pthread_mutex_lock(&svc->mu);
	if (is_leader_locked(svc))
		return true;
	reply_redirect_locked(svc, req);
	pthread_mutex_unlock(&svc->mu);
	return false;
}

/* The admin check of a request (mu held).  Returns true with mu still held; else mu is
 * released and the request refused with C3FS_EADMIN, logged as "WHAT from PEER refused". */
static bool admin_ok_locked(struct mgmtd_service *svc, struct rpc_req *req, const char *what,
			    const char *admin_token)
{
	C3_ASSERT_LOCKED(&svc->mu);
	if (token_ok(svc, admin_token))
		return true;
	pthread_mutex_unlock(&svc->mu);
	LOG_WARN("%s from %s refused: %s", what, req->peer,
		 svc->admin_token[0] ? "wrong admin token" : "no admin token configured");
	rpc_reply(req, -C3FS_EADMIN, NULL, 0, NULL, 0);
	return false;
}

/* Raise *version (a field of svc guarded by mu) to at least v (takes and drops mu). */
static void raise_version(struct mgmtd_service *svc, uint64_t *version, uint64_t v)
{
	pthread_mutex_lock(&svc->mu);
	if (v > *version)
		*version = v;
	pthread_mutex_unlock(&svc->mu);
}

static void h_get_leader(struct rpc_req *req, void *ctx)
{
	struct mgmtd_service *svc = ctx;
	struct mgmtd_leader_resp r;
	struct c3_buf b = C3_BUF_INIT;
	uint64_t now = wall_ms();

	memset(&r, 0, sizeof(r));
	pthread_mutex_lock(&svc->mu);
	r.self_is_leader = is_leader_locked(svc);
	snprintf(r.self, sizeof(r.self), "%s", svc->self);
	if (svc->lease.expires_ms > now) {
		snprintf(r.leader, sizeof(r.leader), "%s", svc->lease.holder);
		r.lease_left_ms = svc->lease.expires_ms - now;
	}
	pthread_mutex_unlock(&svc->mu);
	mgmtd_leader_resp_encode(&r, &b);
	rpc_reply_buf(req, 0, &b);
	c3_buf_release(&b);
}

static void h_register(struct rpc_req *req, void *ctx)
{
	struct mgmtd_service *svc = ctx;
	struct mgmtd_register_req q;
	struct mgmtd_register_resp r;
	struct c3_buf b = C3_BUF_INIT;
	int rc = mgmtd_register_req_decode(req->payload, req->payload_len, &q);

	if (rc) {
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	if (!lock_leader(svc, req))
		return;
	if (q.node_type != NODE_CLIENT) {
		char why[256];

		rc = cluster_addr_check(q.addr, req->peer, why, sizeof(why));
		if (rc) {
			/* the node retries; log when the refused node or its address changes */
			if (svc->refused_node != q.node_id ||
			    strcmp(svc->refused_addr, q.addr) != 0) {
				svc->refused_node = q.node_id;
				snprintf(svc->refused_addr, sizeof(svc->refused_addr), "%s",
					 q.addr);
				LOG_WARN("register: node %u refused: %s", q.node_id, why);
			}
			pthread_mutex_unlock(&svc->mu);
			rpc_reply(req, rc, NULL, 0, NULL, 0);
			return;
		}
	}
	rc = mgmtd_state_register(&svc->st, &q, c3_now_ms(), wall_ms(), &r);
	if (rc == 0)
		rc = commit_locked(svc);
	if (rc == 0) {
		r.routing_version = svc->st.version;
		mgmtd_register_resp_encode(&r, &b);
		c3_counter_add(svc->m_registrations, 1);
	}
	pthread_mutex_unlock(&svc->mu);
	rpc_reply_buf(req, rc, rc ? NULL : &b);
	c3_buf_release(&b);
}

/* A heartbeat while frozen (mu held): a known node with its current incarnation gets a
 * lease that ends at frozen_until_ms (lease_ms is twice the time left, as a node serves
 * for half the lease from the moment it sent the heartbeat, which was earlier); its
 * reports are not applied (nothing can be committed) and will be sent again. */
static void frozen_heartbeat_locked(struct mgmtd_service *svc, struct rpc_req *req,
				    const struct mgmtd_heartbeat_req *q)
{
	struct mgmtd_node *n = mgmtd_state_node(&svc->st, q->node_id);
	struct mgmtd_heartbeat_resp r;
	struct c3_buf b = C3_BUF_INIT;
	uint64_t left = svc->frozen_until_ms - c3_now_ms();

	C3_ASSERT_LOCKED(&svc->mu);
	C3_ASSERT(svc->frozen && !svc->leader);
	if (!n || n->incarnation != q->incarnation || n->type == NODE_CLIENT ||
	    !n->alive) {
		/* unknown to the frozen model: it cannot be registered without the KV */
		rpc_reply(req, -C3FS_EKV, NULL, 0, NULL, 0);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.routing_version = svc->ri->version;
	r.config_version = svc->config_version;
	r.users_version = svc->users_version;
	r.lease_ms = (uint32_t)(2 * left < svc->node_lease_ms ? 2 * left : svc->node_lease_ms);
	if (r.lease_ms == 0)
		r.lease_ms = 1;
	mgmtd_heartbeat_resp_encode(&r, &b);
	rpc_reply_buf(req, b.err, b.err ? NULL : &b);
	c3_buf_release(&b);
}

static void h_heartbeat(struct rpc_req *req, void *ctx)
{
	struct mgmtd_service *svc = ctx;
	struct mgmtd_heartbeat_req q;
	struct mgmtd_heartbeat_resp r;
	struct c3_buf b = C3_BUF_INIT;
	int rc = mgmtd_heartbeat_req_decode(req->payload, req->payload_len, &q);

	if (rc) {
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	pthread_mutex_lock(&svc->mu);
	if (!is_leader_locked(svc)) {
		if (is_frozen_locked(svc))
			frozen_heartbeat_locked(svc, req, &q);
		else
			reply_redirect_locked(svc, req);
		pthread_mutex_unlock(&svc->mu);
		mgmtd_heartbeat_req_release(&q);
		return;
	}
	rc = mgmtd_state_heartbeat(&svc->st, &q, c3_now_ms(), wall_ms());
	if (rc == 0)
		rc = commit_locked(svc);
	if (rc == 0) {
		r.routing_version = svc->st.version;
		r.lease_ms = (uint32_t)svc->node_lease_ms;
		r.config_version = svc->config_version;
		r.users_version = svc->users_version;
		mgmtd_heartbeat_resp_encode(&r, &b);
		c3_counter_add(svc->m_heartbeats, 1);
	}
	pthread_mutex_unlock(&svc->mu);
	mgmtd_heartbeat_req_release(&q);
	rpc_reply_buf(req, rc, rc ? NULL : &b);
	c3_buf_release(&b);
}

static void h_get_routing(struct rpc_req *req, void *ctx)
{
	struct mgmtd_service *svc = ctx;
	struct mgmtd_get_routing_req q;
	struct c3_buf b = C3_BUF_INIT;
	int rc = mgmtd_get_routing_req_decode(req->payload, req->payload_len, &q);

	if (rc) {
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	pthread_mutex_lock(&svc->mu);
	if ((!is_leader_locked(svc) && !is_frozen_locked(svc)) || !svc->ri) {
		reply_redirect_locked(svc, req);
		pthread_mutex_unlock(&svc->mu);
		return;
	}
	if (svc->leader && svc->st.stats_dirty && c3_now_ms() - svc->ri_built_ms >= 1000)
		publish_locked(svc);
	mgmtd_get_routing_resp_encode(svc->ri->version,
				      q.known_version < svc->ri->version || q.known_version == 0 ?
				      &svc->ri_enc : NULL, &b);
	pthread_mutex_unlock(&svc->mu);
	rpc_reply_buf(req, b.err, b.err ? NULL : &b);
	c3_buf_release(&b);
}

static void h_list_nodes(struct rpc_req *req, void *ctx)
{
	struct mgmtd_service *svc = ctx;
	struct mgmtd_list_nodes_resp r = { 0, NULL };
	struct c3_buf b = C3_BUF_INIT;
	int rc;

	if (!lock_leader(svc, req))
		return;
	rc = mgmtd_state_list_nodes(&svc->st, c3_now_ms(), &r);
	pthread_mutex_unlock(&svc->mu);
	if (rc == 0)
		mgmtd_list_nodes_resp_encode(&r, &b);
	mgmtd_list_nodes_resp_release(&r);
	rpc_reply_buf(req, rc ? rc : b.err, rc ? NULL : &b);
	c3_buf_release(&b);
}

/* Common tail of the admin handlers: leader check, token, op, commit, reply. */
enum admin_op { OP_CREATE_TABLE, OP_NODE_STATE, OP_TARGET_STATE, OP_ROTATE_LASTSRV,
		OP_REMOVE_NODE, OP_CHAIN_MEMBER };

static void h_admin(struct rpc_req *req, struct mgmtd_service *svc, enum admin_op op)
{
	struct mgmtd_create_table_req ct;
	struct mgmtd_create_table_resp ctr;
	struct mgmtd_set_node_state_req ns;
	struct mgmtd_set_target_state_req ts;
	struct mgmtd_rotate_lastsrv_req rl;
	struct mgmtd_remove_node_req rn;
	struct mgmtd_chain_member_req cm;
	struct mgmtd_admin_resp ar;
	uint32_t in_chain = 0;
	struct c3_buf b = C3_BUF_INIT;
	const char *token;
	char what[64];
	int rc;

	memset(&ct, 0, sizeof(ct));
	switch (op) {
	case OP_CREATE_TABLE:
		rc = mgmtd_create_table_req_decode(req->payload, req->payload_len, &ct);
		token = ct.admin_token;
		break;
	case OP_NODE_STATE:
		rc = mgmtd_set_node_state_req_decode(req->payload, req->payload_len, &ns);
		token = ns.admin_token;
		break;
	case OP_TARGET_STATE:
		rc = mgmtd_set_target_state_req_decode(req->payload, req->payload_len, &ts);
		token = ts.admin_token;
		break;
	case OP_REMOVE_NODE:
		rc = mgmtd_remove_node_req_decode(req->payload, req->payload_len, &rn);
		token = rn.admin_token;
		break;
	case OP_CHAIN_MEMBER:
		rc = mgmtd_chain_member_req_decode(req->payload, req->payload_len, &cm);
		token = cm.admin_token;
		break;
	default:
		rc = mgmtd_rotate_lastsrv_req_decode(req->payload, req->payload_len, &rl);
		token = rl.admin_token;
		break;
	}
	if (rc) {
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	snprintf(what, sizeof(what), "admin request %u", req->type);
	if (!lock_leader(svc, req) || !admin_ok_locked(svc, req, what, token)) {
		mgmtd_create_table_req_release(&ct);
		return;
	}
	switch (op) {
	case OP_CREATE_TABLE:
		rc = mgmtd_state_create_table(&svc->st, &ct, &ctr);
		break;
	case OP_NODE_STATE:
		rc = mgmtd_state_set_node_state(&svc->st, ns.node_id, ns.state);
		break;
	case OP_TARGET_STATE:
		rc = mgmtd_state_set_target_state(&svc->st, ts.target_id, ts.state);
		break;
	case OP_REMOVE_NODE:
		rc = mgmtd_state_remove_node(&svc->st, rn.node_id, &in_chain);
		if (rc == -ENOTEMPTY)
			LOG_WARN("remove-node %u refused: it has a target in chain %u", rn.node_id,
				 in_chain);
		break;
	case OP_CHAIN_MEMBER:
		rc = mgmtd_state_chain_member(&svc->st, cm.chain_id, cm.target_id, cm.op);
		if (rc < 0)
			LOG_WARN("chain %u: %s of target %u refused: %s", cm.chain_id,
				 cm.op == MGMTD_CHAIN_ADD ? "adding" : "removal", cm.target_id,
				 c3_strerror(rc));
		break;
	default:
		rc = mgmtd_state_rotate_lastsrv(&svc->st, rl.chain_id);
		break;
	}
	if (rc == 0)
		rc = commit_locked(svc);
	else if (svc->st.dirty || svc->st.routing_dirty)
		commit_locked(svc); /* a failed op may still have reconfigured something */
	if (rc == 0) {
		if (op == OP_CREATE_TABLE) {
			ctr.routing_version = svc->st.version;
			mgmtd_create_table_resp_encode(&ctr, &b);
		} else {
			ar.routing_version = svc->st.version;
			mgmtd_admin_resp_encode(&ar, &b);
		}
	}
	pthread_mutex_unlock(&svc->mu);
	mgmtd_create_table_req_release(&ct);
	rpc_reply_buf(req, rc ? rc : b.err, rc ? NULL : &b);
	c3_buf_release(&b);
}

static void h_create_table(struct rpc_req *req, void *ctx)
{
	h_admin(req, ctx, OP_CREATE_TABLE);
}

static void h_set_node_state(struct rpc_req *req, void *ctx)
{
	h_admin(req, ctx, OP_NODE_STATE);
}

static void h_set_target_state(struct rpc_req *req, void *ctx)
{
	h_admin(req, ctx, OP_TARGET_STATE);
}

static void h_rotate_lastsrv(struct rpc_req *req, void *ctx)
{
	h_admin(req, ctx, OP_ROTATE_LASTSRV);
}

static void h_chain_member(struct rpc_req *req, void *ctx)
{
	h_admin(req, ctx, OP_CHAIN_MEMBER);
}

static void h_remove_node(struct rpc_req *req, void *ctx)
{
	h_admin(req, ctx, OP_REMOVE_NODE);
}

/* ------------------------------------------------------------------ live configuration */

/* The type of a request that names a node (mu held): the node's own when node_type is 0.
 * Returns the type, or -ENOENT (unknown node) / -EINVAL (type and node disagree). */
static int config_type_locked(struct mgmtd_service *svc, uint8_t node_type, uint32_t node_id)
{
	struct mgmtd_node *n = node_id ? mgmtd_state_node(&svc->st, node_id) : NULL;

	C3_ASSERT_LOCKED(&svc->mu);
	if (node_id && !n)
		return node_type ? node_type : -ENOENT;
	if (n && node_type && n->type != node_type)
		return -EINVAL;
	return n ? n->type : node_type;
}

static void reply_reason(struct rpc_req *req, int rc, const char *why)
{
	struct c3_buf b = C3_BUF_INIT;

	c3_enc_str(&b, why);
	rpc_reply_buf(req, rc, b.err ? NULL : &b);
	c3_buf_release(&b);
}

static void h_get_config(struct rpc_req *req, void *ctx)
{
	struct mgmtd_service *svc = ctx;
	struct mgmtd_get_config_req q;
	struct mgmtd_get_config_resp r;
	struct c3_buf b = C3_BUF_INIT;
	uint64_t instance;
	bool registered;
	int rc = mgmtd_get_config_req_decode(req->payload, req->payload_len, &q);

	if (rc) {
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	memset(&r, 0, sizeof(r));
	if (!lock_leader(svc, req)) {
		mgmtd_get_config_req_release(&q);
		return;
	}
	rc = config_type_locked(svc, q.node_type, q.node_id);
	/* only a registered node of the type may tell the type's key table */
	registered = q.node_id && mgmtd_state_node(&svc->st, q.node_id);
	instance = svc->instance;
	pthread_mutex_unlock(&svc->mu);
	if (rc < 0) {
		reply_reason(req, rc, rc == -ENOENT ? "unknown node" :
			     "the node is not of the given type");
		mgmtd_get_config_req_release(&q);
		return;
	}
	r.node_type = (uint8_t)rc;
	rc = 0;
	if (q.schema[0] && registered && q.node_type && q.node_type != NODE_MGMTD) {
		/* a daemon tells its key table: keep it to validate set-config */
		rc = mgmtd_settings_put_schema(svc->db, instance, wall_ms(), q.node_type,
					       q.schema);
		if (rc == -C3FS_ECONFIG)
			LOG_WARN("node %u sent a malformed configuration schema", q.node_id);
		if (rc == -C3FS_ECONFIG)
			rc = 0; /* its settings are still served */
	}
	if (rc == 0)
		rc = mgmtd_settings_get(svc->db, r.node_type, q.node_id, &r.version, &r.settings,
					&r.schema);
	if (rc == 0) {
		/* heartbeats must name what the KV holds, or nodes would fetch at each one */
		raise_version(svc, &svc->config_version, r.version);
		mgmtd_get_config_resp_encode(&r, &b);
	}
	mgmtd_get_config_resp_release(&r);
	mgmtd_get_config_req_release(&q);
	rpc_reply_buf(req, rc ? rc : b.err, rc ? NULL : &b);
	c3_buf_release(&b);
}

static void h_set_config(struct rpc_req *req, void *ctx)
{
	struct mgmtd_service *svc = ctx;
	struct mgmtd_set_config_req q;
	struct mgmtd_admin_resp ar;
	struct c3_buf b = C3_BUF_INIT;
	char why[256] = "";
	uint64_t instance, version = 0;
	int type, rc = mgmtd_set_config_req_decode(req->payload, req->payload_len, &q);

	if (rc) {
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	if (!lock_leader(svc, req) || !admin_ok_locked(svc, req, "set-config", q.admin_token)) {
		mgmtd_set_config_req_release(&q);
		return;
	}
	rc = config_type_locked(svc, q.node_type, q.node_id);
	instance = svc->instance;
	pthread_mutex_unlock(&svc->mu);
	if (rc == -ENOENT)
		snprintf(why, sizeof(why), "unknown node %u (give its type too to set it before "
			 "it registers)", q.node_id);
	else if (rc == -EINVAL)
		snprintf(why, sizeof(why), "node %u is not a %s node", q.node_id,
			 node_type_name(q.node_type));
	else if (rc == NODE_MGMTD)
		snprintf(why, sizeof(why), "mgmtd's own settings are not live: restart it");
	if (why[0]) {
		reply_reason(req, rc < 0 ? rc : -C3FS_ECONFIG, why);
		mgmtd_set_config_req_release(&q);
		return;
	}
	type = rc;
	rc = mgmtd_settings_set(svc->db, instance, wall_ms(), (uint8_t)type, q.node_id,
				q.assignments, &version, why, sizeof(why));
	if (rc == 0) {
		raise_version(svc, &svc->config_version, version);
		LOG_INFO("set-config %s node %u (0 = all): configuration version %llu",
			 node_type_name(type), q.node_id, (unsigned long long)version);
		ar.routing_version = version;
		mgmtd_admin_resp_encode(&ar, &b);
		rpc_reply_buf(req, b.err, b.err ? NULL : &b);
	} else if (why[0]) {
		LOG_INFO("set-config refused: %s", why);
		reply_reason(req, rc, why);
	} else {
		rpc_reply(req, rc, NULL, 0, NULL, 0);
	}
	c3_buf_release(&b);
	mgmtd_set_config_req_release(&q);
}

/* ------------------------------------------------------------------ users (users.h) */

/* Leader check and admin check for a user request (takes and drops mu).  Returns true
 * when the request may go on; else it was answered. */
static bool users_admit(struct mgmtd_service *svc, struct rpc_req *req, const char *what,
			const char *admin_token, uint64_t *instance)
{
	if (!lock_leader(svc, req) || !admin_ok_locked(svc, req, what, admin_token))
		return false;
	*instance = svc->instance;
	pthread_mutex_unlock(&svc->mu);
	return true;
}

/* A change committed: heartbeats name the new version from now on. */
static void users_changed(struct mgmtd_service *svc, struct rpc_req *req, uint64_t version)
{
	struct mgmtd_admin_resp ar;
	struct c3_buf b = C3_BUF_INIT;

	raise_version(svc, &svc->users_version, version);
	memset(&ar, 0, sizeof(ar));
	ar.routing_version = version;
	mgmtd_admin_resp_encode(&ar, &b);
	rpc_reply_buf(req, b.err, b.err ? NULL : &b);
	c3_buf_release(&b);
}

/* USER_ADD and TOKEN_ROTATE. */
static void h_user_change(struct rpc_req *req, void *ctx)
{
	struct mgmtd_service *svc = ctx;
	struct mgmtd_user_add_req q;
	bool add = req->type == MGMTD_T_USER_ADD;
	uint64_t instance, version = 0;
	int rc = mgmtd_user_add_req_decode(req->payload, req->payload_len, &q);

	if (rc) {
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	if (!users_admit(svc, req, add ? "user-add" : "token-rotate", q.admin_token, &instance))
		return;
	if (add)
		rc = mgmtd_users_add(svc->db, instance, wall_ms(), &q.u, &version);
	else
		rc = mgmtd_users_rotate(svc->db, instance, wall_ms(), q.u.uid, q.u.hash, &version);
	if (rc) {
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	LOG_INFO("%s uid %u%s%s: user table version %llu", add ? "user-add" : "token-rotate",
		 q.u.uid, add ? " name " : "", add ? q.u.name : "", (unsigned long long)version);
	users_changed(svc, req, version);
}

/* Answer with the user table: for USER_LIST without hashes, for GET_USERS (meta nodes)
 * with them; then heartbeats name at least the version handed to meta. */
static void reply_users(struct mgmtd_service *svc, struct rpc_req *req, bool hashes)
{
	struct mgmtd_users_resp r;
	struct c3_buf b = C3_BUF_INIT;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = mgmtd_users_list(svc->db, &r.version, &r.users, &r.n);
	if (rc == 0) {
		if (hashes)
			raise_version(svc, &svc->users_version, r.version);
		mgmtd_users_resp_encode(&r, hashes, &b);
	}
	mgmtd_users_resp_release(&r);
	rpc_reply_buf(req, rc ? rc : b.err, rc ? NULL : &b);
	c3_buf_release(&b);
}

/* USER_REMOVE and USER_LIST (the list carries no hashes). */
static void h_user_remove(struct rpc_req *req, void *ctx)
{
	struct mgmtd_service *svc = ctx;
	struct mgmtd_user_remove_req q;
	bool list = req->type == MGMTD_T_USER_LIST;
	uint64_t instance, version = 0;
	int rc = mgmtd_user_remove_req_decode(req->payload, req->payload_len, &q);

	if (rc) {
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	if (!users_admit(svc, req, list ? "user-list" : "user-remove", q.admin_token, &instance))
		return;
	if (!list) {
		rc = mgmtd_users_remove(svc->db, instance, wall_ms(), q.uid, &version);
		if (rc) {
			rpc_reply(req, rc, NULL, 0, NULL, 0);
			return;
		}
		LOG_INFO("user-remove uid %u: user table version %llu", q.uid,
			 (unsigned long long)version);
		users_changed(svc, req, version);
		return;
	}
	reply_users(svc, req, false);
}

/* GET_USERS: the table with hashes, for registered meta nodes only. */
static void h_get_users(struct rpc_req *req, void *ctx)
{
	struct mgmtd_service *svc = ctx;
	struct mgmtd_get_users_req q;
	struct mgmtd_node *n;
	int rc = mgmtd_get_users_req_decode(req->payload, req->payload_len, &q);

	if (rc) {
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	if (!lock_leader(svc, req))
		return;
	n = mgmtd_state_node(&svc->st, q.node_id);
	rc = n && n->type == NODE_META && n->alive ? 0 : -EPERM;
	pthread_mutex_unlock(&svc->mu);
	if (rc) {
		LOG_WARN("get-users from %s refused: node %u is not a live meta node", req->peer,
			 q.node_id);
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	reply_users(svc, req, true);
}

/* ------------------------------------------------------------------ metrics */

/* Metric callbacks cannot be unregistered (metrics.h), so the callback is registered once
 * per process and finds the running service through this pointer, cleared at stop. */
static pthread_mutex_t collect_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mgmtd_service *collect_svc;   /* (collect_mu) */
static bool collect_registered;             /* (collect_mu) */

static void collect_locked(struct mgmtd_service *svc);

static void collect(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&collect_mu);
	if (collect_svc)
		collect_locked(collect_svc);
	pthread_mutex_unlock(&collect_mu);
}

static void collect_locked(struct mgmtd_service *svc)
{
	int64_t up = 0, down = 0, maint = 0, healthy = 0, degraded = 0, unavail = 0;
	int64_t offline = 0, free_b = 0, cap_b = 0, version = 0;
	bool leader;

	pthread_mutex_lock(&svc->mu);
	leader = is_leader_locked(svc);
	if (leader) {
		struct mgmtd_state *st = &svc->st;

		version = (int64_t)st->version;
		for (uint32_t i = 0; i < st->nnodes; i++) {
			if (st->nodes[i].type == NODE_CLIENT)
				continue;
			switch (mgmtd_node_public_state(&st->nodes[i])) {
			case NODE_UP: up++; break;
			case NODE_DOWN: down++; break;
			default: maint++; break;
			}
		}
		for (uint32_t i = 0; i < st->nchains; i++) {
			struct chain_member m[ROUTING_MAX_REPLICAS];
			const struct mgmtd_chain *c = &st->chains[i];

			for (uint32_t k = 0; k < c->n; k++) {
				struct mgmtd_target *t = mgmtd_state_target(st, c->targets[k]);

				m[k].target_id = c->targets[k];
				m[k].state = t ? t->state : TARGET_OFFLINE;
				m[k].local = 0;
			}
			switch (mgmtd_chain_health(m, c->n)) {
			case CHAIN_HEALTHY: healthy++; break;
			case CHAIN_DEGRADED: degraded++; break;
			default: unavail++; break;
			}
		}
		for (uint32_t i = 0; i < st->ntargets; i++) {
			offline += st->targets[i].state == TARGET_OFFLINE ||
				   st->targets[i].state == TARGET_LASTSRV;
			free_b += (int64_t)st->targets[i].free_bytes;
			cap_b += (int64_t)st->targets[i].capacity_bytes;
		}
	}
	pthread_mutex_unlock(&svc->mu);
	c3_gauge_set(svc->m_leader, leader);
	c3_gauge_set(svc->m_version, version);
	c3_gauge_set(svc->m_nodes_up, up);
	c3_gauge_set(svc->m_nodes_down, down);
	c3_gauge_set(svc->m_nodes_maint, maint);
	c3_gauge_set(svc->m_chains_healthy, healthy);
	c3_gauge_set(svc->m_chains_degraded, degraded);
	c3_gauge_set(svc->m_chains_unavail, unavail);
	c3_gauge_set(svc->m_targets_offline, offline);
	c3_gauge_set(svc->m_free_bytes, free_b);
	c3_gauge_set(svc->m_capacity_bytes, cap_b);
}

static void metrics_init(struct mgmtd_service *svc)
{
	svc->m_heartbeats = c3_counter_get("c3fs_mgmtd_heartbeats_total", NULL,
					   "Heartbeats accepted by this mgmtd as leader");
	svc->m_registrations = c3_counter_get("c3fs_mgmtd_registrations_total", NULL,
					      "Node registrations accepted");
	svc->m_takeovers = c3_counter_get("c3fs_mgmtd_takeovers_total", NULL,
					  "Times this mgmtd became leader");
	svc->m_commit_fail = c3_counter_get("c3fs_mgmtd_commit_failures_total", NULL,
					    "Failed KV commits (each one drops leadership)");
	svc->m_leader = c3_gauge_get("c3fs_mgmtd_is_leader", NULL, "1 when this mgmtd leads");
	svc->m_version = c3_gauge_get("c3fs_mgmtd_routing_version", NULL,
				      "Current routing version (leader only)");
	svc->m_nodes_up = c3_gauge_get("c3fs_mgmtd_nodes", "state=\"up\"",
				       "Storage and meta nodes by state (leader only)");
	svc->m_nodes_down = c3_gauge_get("c3fs_mgmtd_nodes", "state=\"down\"", NULL);
	svc->m_nodes_maint = c3_gauge_get("c3fs_mgmtd_nodes", "state=\"maintenance\"", NULL);
	svc->m_chains_healthy = c3_gauge_get("c3fs_mgmtd_chains", "health=\"healthy\"",
					     "Chains by health (leader only)");
	svc->m_chains_degraded = c3_gauge_get("c3fs_mgmtd_chains", "health=\"degraded\"", NULL);
	svc->m_chains_unavail = c3_gauge_get("c3fs_mgmtd_chains", "health=\"unavailable\"",
					     NULL);
	svc->m_targets_offline = c3_gauge_get("c3fs_mgmtd_targets_offline", NULL,
					      "Targets offline or lastsrv");
	svc->m_free_bytes = c3_gauge_get("c3fs_mgmtd_free_bytes", NULL,
					 "Free bytes reported by all targets");
	svc->m_capacity_bytes = c3_gauge_get("c3fs_mgmtd_capacity_bytes", NULL,
					     "Capacity reported by all targets");
	pthread_mutex_lock(&collect_mu);
	collect_svc = svc;
	if (!collect_registered)
		c3_metrics_on_collect(collect, NULL);
	collect_registered = true;
	pthread_mutex_unlock(&collect_mu);
}

/* ------------------------------------------------------------------ lifecycle */

/* The requests mgmtd serves. */
static const struct {
	uint16_t type;
	rpc_handler_fn fn;
} handlers[] = {
	{ MGMTD_T_REGISTER, h_register },
	{ MGMTD_T_HEARTBEAT, h_heartbeat },
	{ MGMTD_T_GET_ROUTING, h_get_routing },
	{ MGMTD_T_GET_LEADER, h_get_leader },
	{ MGMTD_T_LIST_NODES, h_list_nodes },
	{ MGMTD_T_CREATE_CHAIN_TABLE, h_create_table },
	{ MGMTD_T_SET_NODE_STATE, h_set_node_state },
	{ MGMTD_T_SET_TARGET_STATE, h_set_target_state },
	{ MGMTD_T_ROTATE_LASTSRV, h_rotate_lastsrv },
	{ MGMTD_T_REMOVE_NODE, h_remove_node },
	{ MGMTD_T_CHAIN_MEMBER, h_chain_member },
	{ MGMTD_T_GET_CONFIG, h_get_config },
	{ MGMTD_T_SET_CONFIG, h_set_config },
	{ MGMTD_T_GET_USERS, h_get_users },
	{ MGMTD_T_USER_ADD, h_user_change },
	{ MGMTD_T_TOKEN_ROTATE, h_user_change },
	{ MGMTD_T_USER_REMOVE, h_user_remove },
	{ MGMTD_T_USER_LIST, h_user_remove },
};

int mgmtd_service_start(const struct mgmtd_config *cfg, struct mgmtd_service **out)
{
	struct mgmtd_service *svc;
	struct rpc_server_opts so;
	char uri[1024], shown[1024];
	size_t i;
	int rc;

	*out = NULL;
	if (cfg->node_lease_ms < 100 || cfg->leader_lease_ms < 200)
		return -C3FS_ECONFIG;
	svc = calloc(1, sizeof(*svc));
	if (!svc)
		return -ENOMEM;
	svc->node_lease_ms = cfg->node_lease_ms;
	svc->leader_lease_ms = cfg->leader_lease_ms;
	svc->kv_outage_grace_ms = cfg->kv_outage_grace_ms;
	if (svc->leader_lease_ms * 7 / 8 + 1000 >= svc->node_lease_ms / 2)
		LOG_WARN("lease.leader_lease %llu ms: a takeover (up to 7/8 of it) plus a "
			 "heartbeat (1 s) is not shorter than half of lease.node_lease (%llu ms): "
			 "storage nodes may stop serving during a leader change",
			 (unsigned long long)svc->leader_lease_ms,
			 (unsigned long long)svc->node_lease_ms / 2);
	svc->admin_token = strdup(cfg->admin_token ? cfg->admin_token : "");
	if (!svc->admin_token) {
		free(svc);
		return -ENOMEM;
	}
	while (svc->instance == 0)
		if (getrandom(&svc->instance, sizeof(svc->instance), 0) != sizeof(svc->instance))
			svc->instance = c3_wall_ns() ^ (uint64_t)getpid();
	pthread_mutex_init(&svc->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&svc->cond, &ca);
		pthread_condattr_destroy(&ca);
	}

	if (cfg->kv_uri && cfg->kv_uri[0]) {
		snprintf(uri, sizeof(uri), "%s", cfg->kv_uri);
	} else {
		if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
			rc = -errno;
			LOG_ERROR("cannot create data dir %s: %s", cfg->data_dir, strerror(errno));
			goto fail;
		}
		snprintf(uri, sizeof(uri), "lmdb:%s/kv", cfg->data_dir);
	}
	rc = kv_db_open(uri, &svc->db);
	if (rc) {
		LOG_ERROR("cannot open KV %s: %s", kv_uri_redact(uri, shown, sizeof(shown)),
			  c3_strerror(rc));
		goto fail;
	}

	memset(&so, 0, sizeof(so));
	so.listen = cfg->listen;
	so.token = cfg->token;
	so.workers = (int)cfg->workers;
	so.io_threads = 1;
	so.max_conns = (int)cfg->max_conns;
	so.max_unauth_conns = (int)cfg->max_unauth_conns;
	so.max_unauth_per_addr = (int)cfg->max_unauth_per_addr;
	so.auth_timeout_ms = (uint32_t)cfg->auth_timeout_ms;
	rc = rpc_server_new(&so, &svc->srv);
	if (rc) {
		LOG_ERROR("cannot listen on %s: %s", cfg->listen, c3_strerror(rc));
		goto fail;
	}
	if (cfg->advertise && cfg->advertise[0]) {
		snprintf(svc->self, sizeof(svc->self), "%s", cfg->advertise);
	} else {
		char host[ROUTING_ADDR_MAX - 8];
		char *colon;

		snprintf(host, sizeof(host), "%s", cfg->listen);
		colon = strrchr(host, ':');
		if (colon)
			*colon = '\0';
		snprintf(svc->self, sizeof(svc->self), "%s:%u", host,
			 (unsigned)rpc_server_port(svc->srv) & 0xffffu);
	}
	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		rpc_server_register(svc->srv, handlers[i].type, handlers[i].fn, svc, 0);

	metrics_init(svc);
	if (cfg->metrics_listen && cfg->metrics_listen[0]) {
		rc = c3_metrics_serve(cfg->metrics_listen, &svc->metrics_port);
		if (rc) {
			LOG_ERROR("cannot serve metrics on %s: %s", cfg->metrics_listen,
				  c3_strerror(rc));
			goto fail;
		}
	}
	/* first election before serving, so a lone mgmtd answers its first request */
	election_round(svc);
	rc = rpc_server_start(svc->srv);
	if (rc)
		goto fail;
	rc = -pthread_create(&svc->bg, NULL, bg_thread, svc);
	if (rc)
		goto fail;
	svc->bg_started = true;
	if (svc->metrics_port && cfg->status_page) {
		struct mgmtd_web_opts wo = { .self = svc->self, .token = cfg->token,
					     .node_lease_ms = svc->node_lease_ms };

		rc = mgmtd_web_start(&wo, &svc->web);
		if (rc) {
			LOG_ERROR("cannot serve the status page: %s", c3_strerror(rc));
			goto fail;
		}
	}
	LOG_INFO("mgmtd listening on %s (advertised %s), KV %s, node lease %llu ms, leader "
		 "lease %llu ms, KV outage grace %llu ms", cfg->listen, svc->self,
		 kv_uri_redact(uri, shown, sizeof(shown)), (unsigned long long)svc->node_lease_ms,
		 (unsigned long long)svc->leader_lease_ms,
		 (unsigned long long)svc->kv_outage_grace_ms);
	*out = svc;
	return 0;
fail:
	mgmtd_service_stop(svc);
	return rc;
}

void mgmtd_service_stop(struct mgmtd_service *svc)
{
	if (!svc)
		return;
	pthread_mutex_lock(&svc->mu);
	svc->stop = true;
	pthread_cond_broadcast(&svc->cond);
	pthread_mutex_unlock(&svc->mu);
	if (svc->bg_started)
		pthread_join(svc->bg, NULL);
	mgmtd_web_stop(svc->web);
	if (svc->srv)
		rpc_server_free(svc->srv);
	if (svc->metrics_port)
		c3_metrics_stop();
	pthread_mutex_lock(&collect_mu);
	if (collect_svc == svc)
		collect_svc = NULL;
	pthread_mutex_unlock(&collect_mu);
	pthread_mutex_lock(&svc->mu);
	if (svc->leader && svc->db) {
		mgmtd_lease_release(svc->db, svc->instance);
		LOG_INFO("leader lease released");
	}
	step_down_locked(svc, "shutting down");
	pthread_mutex_unlock(&svc->mu);
	if (svc->db)
		kv_db_close(svc->db);
	pthread_cond_destroy(&svc->cond);
	pthread_mutex_destroy(&svc->mu);
	free(svc->admin_token);
	free(svc);
}

int mgmtd_service_port(const struct mgmtd_service *svc)
{
	return rpc_server_port(svc->srv);
}

int mgmtd_service_metrics_port(const struct mgmtd_service *svc)
{
	return svc->metrics_port;
}

bool mgmtd_service_is_leader(struct mgmtd_service *svc)
{
	bool l;

	pthread_mutex_lock(&svc->mu);
	l = is_leader_locked(svc);
	pthread_mutex_unlock(&svc->mu);
	return l;
}
