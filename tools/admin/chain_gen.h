/* chain_gen.h — balanced chain tables for `c3fs-admin create-chain-table --nodes`.
 *
 * The placement of mgmtd (src/mgmtd/chain.h) fills chains from the nodes with the most
 * unused targets, which repeats the same node groups: with 6 nodes x 2 targets and 3
 * replicas it makes {1,2,3} {4,5,6} twice, and a failed node 1 is then recovered from
 * nodes 2 and 3 only.  This generator spreads chains so that every pair of nodes shares
 * about the same number of chains, so the recovery of a failed node reads from all others.
 */
#ifndef C3FS_ADMIN_CHAIN_GEN_H
#define C3FS_ADMIN_CHAIN_GEN_H

#include <stdint.h>

struct chain_gen_target {
	uint32_t target_id;
	uint32_t node_id;
};

#define CHAIN_GEN_MAX_NODES 1024

/* Input: ntargets targets (any order, target ids distinct), replicas R >= 1.  Output: as
 * many chains of R targets on R distinct nodes as the greedy rule forms, written to out as
 * nchains * R target ids (chain i = out[i*R .. i*R+R), head first); returns nchains, or
 * -EINVAL (R is 0 or above 16, more than CHAIN_GEN_MAX_NODES nodes, fewer distinct nodes
 * than R), -ENOSPC (out, of max_out entries, too small), -ENOMEM.
 * Rule, deterministic: each chain starts at the node with the most unused targets (ties:
 * lower node id) and adds, R-1 times, the node with unused targets sharing the fewest
 * chains with the nodes taken so far (ties: more unused targets, then lower node id);
 * each node gives its lowest unused target id; the head is the member heading the fewest
 * chains so far (ties: lower node id).  Targets that cannot complete a chain stay unused. */
int admin_chain_gen(const struct chain_gen_target *t, uint32_t ntargets, uint32_t replicas,
		    uint32_t *out, uint32_t max_out);

#endif
