/* state.h — mgmtd's in-memory model of the cluster and every operation on it.
 *
 * The leader holds one struct mgmtd_state.  Handlers call the operations below with the
 * service lock held; time comes in as an argument (monotonic ms), so the whole model is
 * deterministic and unit-testable without a network, a KV or a clock.
 *
 * What is persisted (store.c) and what is not:
 *   persisted  routing version, node records of storage/meta nodes (type, address,
 *              hostname, incarnation, maintenance), targets (node, chain, public state,
 *              admin hold), chains (members in order, version), chain tables, the next
 *              client id.
 *   runtime    heartbeats and liveness, target local states and free space, client
 *              sessions.  After a takeover they are rebuilt from heartbeats: every node
 *              gets a full lease of grace and each target a *neutral* local state that
 *              keeps its public state where it is (SERVING -> UPTODATE, SYNCING/WAITING ->
 *              ONLINE, LASTSRV/OFFLINE -> UNKNOWN).
 *
 * Change tracking: an operation that changes something persisted sets the record's
 * `dirty` and st->dirty; one that changes what the routing shows sets st->routing_dirty.
 * The service then bumps the version (mgmtd_state_bump), commits the dirty records in one
 * KV transaction that re-checks the leader lease, and only then publishes the snapshot —
 * so no version is ever published that is not durable (a new leader never reuses one).
 *
 * Effective local state of a target (input of the chain state machine, chain.h):
 *   UNKNOWN when its node is unknown, DOWN (lease expired) or in MAINTENANCE, or the target
 *   is under an admin hold; else what the node last reported, except that an UPTODATE
 *   report for a SYNCING target counts only when the heartbeat carrying it was sent by a
 *   node that had already seen the routing version in which the target became SYNCING
 *   (so a stale "uptodate" never skips a sync).
 *
 * Targets not in any chain: public state SERVING while their node reports them alive,
 * OFFLINE otherwise.  A new chain starts with its alive members SERVING and the others
 * OFFLINE (the first member LASTSRV when none is alive).
 */
#ifndef C3_MGMTD_STATE_H
#define C3_MGMTD_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/routing.h"
#include "proto/mgmtd.h"

#define MGMTD_CLIENT_ID_BASE 1000000u   /* ids assigned to clients start here */

struct mgmtd_node {
	uint32_t id;
	uint8_t type;                        /* enum node_type */
	bool maintenance;                    /* persisted */
	char addr[ROUTING_ADDR_MAX];
	char hostname[MGMTD_HOSTNAME_MAX];
	uint64_t incarnation;                /* persisted for servers */
	uint32_t pid;
	char version[MGMTD_VERSION_MAX];     /* runtime: as registered */
	/* runtime */
	bool alive;                          /* lease not expired */
	uint64_t last_hb_ms;                 /* monotonic; 0 = none since takeover */
	uint64_t last_hb_wall_ms;
	uint64_t last_seq;
	uint64_t hb_routing_version;         /* routing version the node last said it holds */
	uint32_t rep_count;                  /* targets in the last report (UINT32_MAX: rescan) */
	uint64_t rep_hash;                   /* fingerprint of their ids */
	bool dirty;
};

struct mgmtd_target {
	uint32_t id;
	uint32_t node_id;
	uint32_t chain_id;                   /* 0 = none */
	uint8_t state;                       /* public, persisted */
	bool admin_hold;                     /* persisted: set-target-state offline */
	/* runtime */
	uint8_t local;                       /* last reported (UNKNOWN = none) */
	uint64_t capacity_bytes, free_bytes, sync_done_bytes, sync_total_bytes;
	uint64_t sync_done_chunks, sync_total_chunks, sync_rate_bps; /* from the predecessor */
	uint64_t corrupt_found, corrupt_repaired, scrub_last_ms;    /* from its own node */
	uint64_t read_bytes, read_ops, write_bytes, write_ops; /* reported counters */
	uint64_t syncing_since;              /* routing version in which it became SYNCING */
	bool dirty;
};

struct mgmtd_chain {
	uint32_t id;
	uint32_t version;
	uint32_t n;
	uint32_t targets[ROUTING_MAX_REPLICAS];
	bool dirty;
};

struct mgmtd_table {
	uint32_t id;
	uint32_t version;
	char name[64];
	uint32_t n;
	uint32_t *chains;                    /* malloc'd */
	bool dirty;
};

struct mgmtd_state {
	uint64_t version;                    /* last committed routing version */
	uint32_t next_client_id;
	uint32_t lease_ms;                   /* node lease */
	bool dirty, routing_dirty, stats_dirty;
	bool counter_dirty;
	uint32_t nnodes, ntargets, nchains, ntables;
	uint32_t cap_nodes, cap_targets, cap_chains, cap_tables;
	struct mgmtd_node *nodes;            /* sorted by id (clients included) */
	struct mgmtd_target *targets;        /* sorted by id */
	struct mgmtd_chain *chains;          /* sorted by id */
	struct mgmtd_table *tables;          /* sorted by id */
	/* records removed since the last commit, deleted from the KV by the next one */
	uint32_t gone_node;                  /* 0 = none */
	uint32_t ngone_targets;
	uint32_t *gone_targets;              /* malloc'd */
};

void mgmtd_state_init(struct mgmtd_state *st, uint32_t lease_ms);
/* Free everything; st is left empty (init again to reuse). */
void mgmtd_state_release(struct mgmtd_state *st);

struct mgmtd_node *mgmtd_state_node(struct mgmtd_state *st, uint32_t id);
struct mgmtd_target *mgmtd_state_target(struct mgmtd_state *st, uint32_t id);
struct mgmtd_chain *mgmtd_state_chain(struct mgmtd_state *st, uint32_t id);
struct mgmtd_table *mgmtd_state_table(struct mgmtd_state *st, uint32_t id);

/* Insert (sorted) a copy of the record; for the loader and the operations.  Returns the
 * stored record or NULL on ENOMEM / duplicate id.  A table's chains array is taken over
 * (the caller must not free it) even on failure. */
struct mgmtd_node *mgmtd_state_add_node(struct mgmtd_state *st, const struct mgmtd_node *n);
struct mgmtd_target *mgmtd_state_add_target(struct mgmtd_state *st,
					    const struct mgmtd_target *t);
struct mgmtd_chain *mgmtd_state_add_chain(struct mgmtd_state *st, const struct mgmtd_chain *c);
struct mgmtd_table *mgmtd_state_add_table(struct mgmtd_state *st, struct mgmtd_table *tb);

/* After loading persisted records at a takeover: grace for every server node (alive,
 * last heartbeat = now_ms + extra_grace_ms, so none is down before a node lease plus
 * extra_grace_ms), neutral local states, syncing_since = the next version. */
void mgmtd_state_takeover(struct mgmtd_state *st, uint64_t now_ms, uint64_t extra_grace_ms);

/* MGMTD_T_REGISTER.  Returns 0 with *resp filled, or -EINVAL (id used by another node
 * type), -EEXIST (a server node id whose current incarnation is alive at another
 * address: two processes configured with one id), -ENOSPC (too many nodes).
 * A new incarnation at the same address (a restart) is always accepted, after the old
 * one's targets were forgotten. */
int mgmtd_state_register(struct mgmtd_state *st, const struct mgmtd_register_req *req,
			 uint64_t now_ms, uint64_t wall_ms, struct mgmtd_register_resp *resp);
/* MGMTD_T_HEARTBEAT.  Returns 0, or -C3FS_ELEASE (unknown node or incarnation). */
int mgmtd_state_heartbeat(struct mgmtd_state *st, const struct mgmtd_heartbeat_req *req,
			  uint64_t now_ms, uint64_t wall_ms);
/* Mark nodes whose lease ran out as down; forget clients silent for 10 leases. */
void mgmtd_state_expire(struct mgmtd_state *st, uint64_t now_ms);
/* Run the chain state machine over every chain (and chainless targets).  Returns true
 * when something changed. */
bool mgmtd_state_reconfigure(struct mgmtd_state *st);
/* Effective local state of a target (see above). */
uint8_t mgmtd_state_effective_local(struct mgmtd_state *st, const struct mgmtd_target *t);

/* Admin operations (token already checked).  0 or -EINVAL / -ENOENT / -EBUSY / -ENOSPC. */
int mgmtd_state_create_table(struct mgmtd_state *st, const struct mgmtd_create_table_req *req,
			     struct mgmtd_create_table_resp *resp);
int mgmtd_state_set_node_state(struct mgmtd_state *st, uint32_t node_id, uint8_t state);
/* remove-node: forget a storage or meta node and its targets (KV records deleted at the
 * next commit).  -ENOENT unknown, -EINVAL a client, -EBUSY still alive (heartbeating, or
 * inside a takeover's grace), -ENOTEMPTY one of its targets is in a chain (*chain_out =
 * that chain's id), -EAGAIN a removal not yet committed. */
int mgmtd_state_remove_node(struct mgmtd_state *st, uint32_t node_id, uint32_t *chain_out);
int mgmtd_state_set_target_state(struct mgmtd_state *st, uint32_t target_id, uint8_t state);
/* MGMTD_T_ROTATE_LASTSRV (proto/mgmtd.h).  0, -ENOENT (no such chain), -EINVAL (no LASTSRV
 * member, or a single-member chain). */
int mgmtd_state_rotate_lastsrv(struct mgmtd_state *st, uint32_t chain_id);
/* MGMTD_T_CHAIN_MEMBER (proto/mgmtd.h): add target_id to chain_id or remove it; the codes
 * are the message's. */
int mgmtd_state_chain_member(struct mgmtd_state *st, uint32_t chain_id, uint32_t target_id,
			     uint8_t op);

/* When routing_dirty: version++ (the caller commits, then calls mgmtd_state_committed). */
void mgmtd_state_bump(struct mgmtd_state *st);
/* Clear every dirty flag after a successful commit. */
void mgmtd_state_committed(struct mgmtd_state *st);

/* A routing snapshot of the current state (1 ref), NULL on ENOMEM. */
struct routing_info *mgmtd_state_snapshot(struct mgmtd_state *st, uint64_t wall_ms);
/* All nodes for MGMTD_T_LIST_NODES (malloc'd array in resp). 0 or -ENOMEM. */
int mgmtd_state_list_nodes(struct mgmtd_state *st, uint64_t now_ms,
			   struct mgmtd_list_nodes_resp *resp);
/* Node state as shown in routing. */
uint8_t mgmtd_node_public_state(const struct mgmtd_node *n);

#endif
