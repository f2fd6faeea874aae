/* meta/cluster.h — struct meta_hooks backed by the real cluster: the routing snapshot of a
 * cluster_client (chain tables, chains, targets, client liveness) and storage RPCs sent
 * with an rpc_client (STORAGE_T_REMOVE, STORAGE_T_TRUNCATE, STORAGE_T_QUERY_LAST).
 *
 * Chunk -> chain follows proto/meta.h (meta_layout_perm); only the first dyn_stripe
 * chains of a file are visited.  Requests go to the chain head (writes) or head (queries);
 * a chain without a serving head fails the call with -C3FS_ETARGETDOWN and the caller
 * retries later (GC keeps the inode queued).
 */
#ifndef C3_META_CLUSTER_H
#define C3_META_CLUSTER_H

#include "cluster/client.h"
#include "meta/meta.h"
#include "net/rpc.h"

struct meta_cluster {
	/* The current routing snapshot with a new reference (the caller unrefs), or NULL
	 * when none is known yet.  Normally cluster_client_routing (meta_cluster_init);
	 * tests give a static snapshot. */
	struct routing_info *(*routing)(void *arg);
	void *routing_arg;
	struct rpc_client *rpc;     /* borrowed */
	uint32_t timeout_ms;        /* per storage call */
	/* Truncation (a client waits for it) retries transient failures (chain being
	 * reconfigured, head down, connection lost) for up to wait_ms, asking for fresh
	 * routing through refresh (may be NULL) between attempts; 0 = one attempt.  When
	 * the wait runs out on a transient error the hook answers -C3FS_EBUSY, which
	 * clients retry (the retried setattr cuts again: see attr.c). */
	uint32_t wait_ms;
	int (*refresh)(void *arg, uint32_t timeout_ms);
};

/* Routing and refresh from a cluster_client (borrowed; must outlive mc); wait_ms 0
 * (the caller sets it). */
void meta_cluster_init(struct meta_cluster *mc, struct cluster_client *cc,
		       struct rpc_client *rpc, uint32_t timeout_ms);

/* Fill hooks with functions using mc (borrowed; must outlive their use). */
void meta_cluster_hooks(struct meta_cluster *mc, struct meta_hooks *hooks);

#endif
