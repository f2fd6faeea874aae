/* client.h — a process's link to mgmtd: registration, heartbeats, lease, routing cache.
 *
 * Every service (storage, meta) and every client (fuse, admin) runs one cluster_client.
 * It registers the node with the mgmtd leader, sends heartbeats every heartbeat_ms, keeps
 * the newest routing snapshot, and follows leader changes (a standby answers
 * -C3FS_ENOTLEADER with the leader's address; the client retries there, and tries every
 * configured mgmtd address in turn when the leader is unreachable).
 *
 * Lease (no split brain): a heartbeat acknowledged by mgmtd extends the lease to
 * lease_ms from the moment it was sent.  When no heartbeat has been acknowledged for
 * lease_ms / 2, cluster_client_lease_valid() turns false and on_lease_lost is called:
 * a storage node must stop serving its targets until the lease is valid again.
 *
 * Threads: one background thread per cluster_client runs heartbeats and refreshes; the
 * callbacks run on it and must not block for long.  All functions are thread-safe.
 */
#ifndef C3_CLUSTER_CLIENT_H
#define C3_CLUSTER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/routing.h"

struct cluster_client;
struct c3_cfg_table;
struct cluster_user;

/* struct cluster_target_report (one target's report in a heartbeat): proto/cluster_types.h */

struct cluster_client_opts {
	const char *mgmtd_addrs;    /* "ip:port,ip:port,..." */
	const char *token;          /* cluster token */
	uint8_t node_type;          /* enum node_type */
	uint32_t node_id;           /* 0 = let mgmtd assign one (clients) */
	const char *node_addr;      /* this node's RPC address, "" for pure clients */
	uint32_t heartbeat_ms;      /* default 1000 */
	/* Storage only: fill up to max reports for the next heartbeat; returns the count. */
	int (*collect_targets)(void *arg, struct cluster_target_report *out, int max);
	/* Called with each new routing snapshot (a borrowed reference: call routing_ref to
	 * keep it beyond the callback). */
	void (*on_routing)(void *arg, struct routing_info *ri);
	/* Called once each time the lease is lost (see above) and when it is regained. */
	void (*on_lease)(void *arg, bool valid);
	void *arg;
	/* Live configuration (optional; all four or none).  After registering and whenever a
	 * heartbeat reply names another configuration version, the client fetches the
	 * settings mgmtd holds for this node (MGMTD_T_GET_CONFIG, which also hands mgmtd
	 * cfg_table so it can validate set-config), applies them over a copy of cfg_base with
	 * c3_cfg_apply_lines(reloadable only) and, when all of them are valid, calls
	 * on_config with that copy (valid during the call only).  A setting removed in mgmtd
	 * thus falls back to cfg_base.  cfg_base is read, never written, and must outlive
	 * the client.  Refused settings are logged and not retried until the version changes.
	 * The applied version is the gauge c3fs_config_version. */
	const struct c3_cfg_table *cfg_table;
	const void *cfg_base;
	size_t cfg_size;            /* sizeof *cfg_base */
	void (*on_config)(void *arg, const void *cfg, uint64_t version);
	/* Users (optional; meta nodes).  After registering and whenever a heartbeat reply
	 * names another user table version, the client fetches the table with the token
	 * hashes (MGMTD_T_GET_USERS) and calls on_users with it (valid during the call only;
	 * n may be 0).  A failed fetch is retried every second. */
	void (*on_users)(void *arg, const struct cluster_user *users, uint32_t n,
			 uint64_t version);
};

/* Start the background thread.  Does not wait for mgmtd: use cluster_client_wait_ready.
 * Returns 0 or a negative code with nothing to free. */
int cluster_client_new(const struct cluster_client_opts *opts, struct cluster_client **out);
/* Stop the thread, free everything.  NULL allowed. */
void cluster_client_free(struct cluster_client *cc);

/* Wait until registered and holding a routing snapshot, up to timeout_ms.
 * Returns 0 or -C3FS_ETIMEDOUT. */
int cluster_client_wait_ready(struct cluster_client *cc, uint32_t timeout_ms);

/* The newest routing snapshot with a reference the caller must drop (routing_unref), or
 * NULL before the first one arrived. */
struct routing_info *cluster_client_routing(struct cluster_client *cc);

/* A peer told us routing version `seen` exists: refresh now if ours is older (returns
 * immediately; the refresh happens on the background thread). */
void cluster_client_routing_hint(struct cluster_client *cc, uint64_t seen);
/* Refresh synchronously (up to timeout_ms).  Returns 0 or a negative code. */
int cluster_client_refresh(struct cluster_client *cc, uint32_t timeout_ms);

bool cluster_client_lease_valid(struct cluster_client *cc);
/* The node id (assigned by mgmtd for clients once registered; 0 before). */
uint32_t cluster_client_node_id(struct cluster_client *cc);
/* Address of the current mgmtd leader as far as we know ("" if none). Copied into out. */
void cluster_client_leader(struct cluster_client *cc, char *out, size_t outsz);

/* ---- additions ---- */

struct rpc_client;
struct c3_buf;

/* One request to the mgmtd leader, from a process without a cluster_client (c3fs-admin,
 * tests).  mgmtd_addrs: "ip:port,ip:port,...".  leader (may be NULL): in = where to try
 * first ("" = the first address), out = who answered (cleared when unreachable).
 * Follows -C3FS_ENOTLEADER redirects and tries every address in turn on transport errors,
 * within timeout_ms in total.  Returns the leader's status (0 or its negative code) with
 * its reply payload in *resp (may be NULL), -C3FS_ETIMEDOUT / -C3FS_ECONNECT when no
 * leader answered, -C3FS_EAUTH when every mgmtd refused the token, -C3FS_ECONFIG for an
 * empty address list.  Thread-safe (rpc_client is). */
int cluster_mgmtd_call(struct rpc_client *rpc, const char *mgmtd_addrs, char *leader,
		       size_t leadersz, uint16_t type, const void *req, size_t len,
		       struct c3_buf *resp, uint32_t timeout_ms);

/* The same through cc's connection and leader knowledge (any thread). */
int cluster_client_call(struct cluster_client *cc, uint16_t type, const void *req, size_t len,
			struct c3_buf *resp, uint32_t timeout_ms);

#endif
