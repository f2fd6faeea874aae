/* chain.h — the chain reconfiguration state machine and replica placement (pure functions).
 *
 * Nothing here touches the network, the KV or a clock: mgmtd feeds each chain's members
 * with their *effective* local state and stores what comes out.  Effective local state:
 *   TARGET_LOCAL_UNKNOWN / TARGET_LOCAL_FAILED  the target is down (node lease expired,
 *                                               node in maintenance, admin hold, disk failed)
 *   TARGET_LOCAL_ONLINE                         running, contents possibly stale
 *   TARGET_LOCAL_UPTODATE                       running and up to date
 * The rules (3FS's generateNewChain, see src/mgmtd/README.md for the diagram):
 *   SERVING  alive -> SERVING; down -> LASTSRV for the first one when no LASTSRV exists
 *            yet, else OFFLINE
 *   LASTSRV  no SERVING left: alive -> SERVING, down -> LASTSRV; else -> OFFLINE
 *   SYNCING  UPTODATE -> SERVING; ONLINE -> SYNCING when a SERVING exists, else WAITING;
 *            down -> OFFLINE
 *   WAITING, OFFLINE  alive and a SERVING exists and no member is SYNCING -> SYNCING
 *            (at most one per chain, the first in chain order); alive -> WAITING;
 *            down -> OFFLINE
 *   finally, when a SERVING exists every LASTSRV -> OFFLINE.
 * New order: SERVING, LASTSRV, SYNCING, WAITING, OFFLINE, stable within each group (so a
 * failed member leaves the serving prefix and a member that finished syncing becomes the
 * new tail).  The last up-to-date replica is never dropped: it stays LASTSRV, and nothing
 * may start syncing until it (or another member) serves again.
 */
#ifndef C3_MGMTD_CHAIN_H
#define C3_MGMTD_CHAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/routing.h"

struct chain_member {
	uint32_t target_id;
	uint8_t state;       /* enum target_state (public) */
	uint8_t local;       /* effective enum target_local_state (see above) */
};

/* Compute the next configuration of a chain of n members (1..ROUTING_MAX_REPLICAS) into
 * out (n entries; out may not alias in).  Returns true when any state or the order
 * changed (the caller then bumps the chain version), false when out equals in.
 * -EINVAL-free: out-of-range states are treated as OFFLINE. */
bool mgmtd_chain_update(const struct chain_member *in, uint32_t n, struct chain_member *out);

/* Health of a chain from its public states: every member SERVING = healthy; at least one
 * SERVING = degraded; none = unavailable. */
enum chain_health { CHAIN_HEALTHY = 0, CHAIN_DEGRADED = 1, CHAIN_UNAVAILABLE = 2 };
enum chain_health mgmtd_chain_health(const struct chain_member *m, uint32_t n);

/* Placement for create-chain-table.  Input: candidate targets (any order).  Output: as
 * many chains of `replicas` targets as can be formed, every chain on distinct nodes, written
 * to out as nchains * replicas target ids (chain i = out[i*replicas .. i*replicas+replicas)).
 * Deterministic: candidates are sorted by (node id, target id); each chain takes one
 * target (lowest id first) from each of the `replicas` nodes with the most unused targets
 * (ties: lower node id); the head is the picked node heading the fewest chains so far.
 * Targets that cannot complete a chain on distinct nodes stay unused; *nleft (may be NULL)
 * receives their count.
 * Returns the number of chains (>= 1), -EINVAL when replicas is 0 or above
 * ROUTING_MAX_REPLICAS, or when not even one chain can be formed (fewer distinct nodes
 * than replicas); -ENOSPC when out is too small; -ENOMEM. */
struct placement_target {
	uint32_t target_id;
	uint32_t node_id;
};
int mgmtd_placement_build(const struct placement_target *cand, uint32_t ncand,
			  uint32_t replicas, uint32_t *out, uint32_t max_chains, uint32_t *nleft);

#endif
