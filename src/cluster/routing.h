/* routing.h — the cluster's routing information: nodes, targets, chains, chain tables.
 *
 * Produced by mgmtd, cached by every service and client.  One version number covers the
 * whole snapshot; each chain also has its own version, bumped whenever its membership or
 * member states change.  A snapshot is immutable once built: readers share it by
 * reference count (routing_ref/routing_unref), and a newer snapshot replaces it whole.
 *
 * Target public states (3FS's set):
 *   SERVING  up to date, takes reads and writes
 *   SYNCING  returning replica being filled by its predecessor; takes forwarded writes,
 *            no client reads
 *   WAITING  back online, waiting for its turn to sync
 *   LASTSRV  offline, but was the last serving replica of its chain (never dropped)
 *   OFFLINE  down
 * Chain order: serving targets first (head .. tail), then lastsrv, syncing, waiting,
 * offline (routing_validate enforces it).
 */
#ifndef C3_CLUSTER_ROUTING_H
#define C3_CLUSTER_ROUTING_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "proto/cluster_types.h" /* limits, node and target states */

struct routing_node {
	uint32_t node_id;
	uint8_t type;              /* enum node_type */
	uint8_t state;             /* enum node_state */
	char addr[ROUTING_ADDR_MAX];  /* RPC address */
	uint64_t last_heartbeat_ms;   /* mgmtd wall clock, for display */
};

struct routing_target {
	uint32_t target_id;
	uint32_t node_id;
	uint32_t chain_id;         /* 0 = not in a chain yet */
	uint8_t state;             /* enum target_state (public) */
	uint8_t local_state;       /* enum target_local_state (last reported) */
	uint64_t capacity_bytes;
	uint64_t free_bytes;
	uint64_t sync_done_bytes;  /* recovery progress while SYNCING */
	uint64_t sync_total_bytes;
	/* appended (a trailer of the encoding; decoded as zeros from an older mgmtd) */
	uint64_t sync_done_chunks, sync_total_chunks; /* while SYNCING, from the predecessor */
	uint64_t sync_rate_bps;    /* bytes/s of that sync so far */
	uint64_t corrupt_found;    /* since its storage process started */
	uint64_t corrupt_repaired;
	uint64_t scrub_last_ms;    /* wall clock of its last full scrub pass, 0 = none */
	/* I/O the target's process served since it started (for rates: the status page) */
	uint64_t read_bytes, read_ops, write_bytes, write_ops;
};

struct routing_chain {
	uint32_t chain_id;
	uint32_t version;          /* bumped on every membership/state change */
	uint32_t ntargets;
	uint32_t targets[ROUTING_MAX_REPLICAS]; /* ordered: serving head..tail, then others */
};

struct routing_chain_table {
	uint32_t table_id;
	uint32_t version;
	uint32_t nchains;
	uint32_t *chains;          /* chain ids */
	char name[64];
};

struct routing_info {
	uint64_t version;
	uint32_t nnodes, ntargets, nchains, ntables;
	struct routing_node *nodes;          /* sorted by node_id */
	struct routing_target *targets;      /* sorted by target_id */
	struct routing_chain *chains;        /* sorted by chain_id */
	struct routing_chain_table *tables;  /* sorted by table_id */
	int refs;                            /* atomic */
};

/* Allocate an empty snapshot with one reference. NULL on ENOMEM. */
struct routing_info *routing_new(void);
void routing_ref(struct routing_info *ri);
/* Drop a reference; frees at zero.  NULL allowed. */
void routing_unref(struct routing_info *ri);

/* Lookups by id (binary search); NULL when absent.  Pointers live as long as ri. */
const struct routing_node *routing_node_find(const struct routing_info *ri, uint32_t node_id);
const struct routing_target *routing_target_find(const struct routing_info *ri, uint32_t target_id);
const struct routing_chain *routing_chain_find(const struct routing_info *ri, uint32_t chain_id);
const struct routing_chain_table *routing_table_find(const struct routing_info *ri, uint32_t table_id);

/* Codec (net/codec.h rules).  routing_decode validates everything (counts bounded, states
 * in range, sorted unique ids, chain members exist) and returns a new snapshot (1 ref) or
 * NULL with *err = -C3FS_EBADMSG / -ENOMEM. */
void routing_encode(const struct routing_info *ri, struct c3_buf *out);
struct routing_info *routing_decode(const void *p, size_t n, int *err);

/* Reply of MGMTD_T_GET_ROUTING (proto/mgmtd.h) with its body decoded into a snapshot. */
struct mgmtd_get_routing_resp {
	uint64_t version;
	struct routing_info *ri;         /* NULL when not newer; owned (1 ref) after decode */
};
/* 0, -C3FS_EBADMSG (also when the snapshot's version is not the reply's) or -ENOMEM. */
int mgmtd_get_routing_resp_decode(const void *p, size_t n, struct mgmtd_get_routing_resp *m);

const char *target_state_name(int state);
int target_state_parse(const char *s); /* -EINVAL if unknown */
const char *node_state_name(int state);
const char *node_type_name(int type);

/* ---- additions (all pure functions on an immutable snapshot) ---- */

/* "uptodate", "online", "failed", "unknown"; "?" for out-of-range values. */
const char *target_local_state_name(int state);
/* Parse "meta", "storage", ... -> enum node_type, or -EINVAL. */
int node_type_parse(const char *s);

/* Deep copy with one reference (refs of the source untouched).  NULL on ENOMEM. */
struct routing_info *routing_dup(const struct routing_info *ri);

/* Sort every array by id (used by builders before publishing a snapshot). */
void routing_sort(struct routing_info *ri);

/* Check everything routing_decode checks (ids >= 1, sorted, unique, states in range,
 * chain members exist and point back to their chain, chain order serving < lastsrv <
 * syncing < waiting < offline, table chains exist).  0 or -C3FS_EBADMSG. */
int routing_validate(const struct routing_info *ri);

/* CRAQ helpers.  A target "takes writes" when SERVING or SYNCING.
 * head: first member when SERVING, else 0.  tail: last SERVING member, else 0.
 * successor: the next member after target_id that takes writes, 0 if none (or target_id
 * is not in the chain).  is_readable: the target is a SERVING member of the chain. */
uint32_t routing_chain_head(const struct routing_info *ri, const struct routing_chain *c);
uint32_t routing_chain_tail(const struct routing_info *ri, const struct routing_chain *c);
uint32_t routing_chain_successor(const struct routing_info *ri, const struct routing_chain *c,
				 uint32_t target_id);
bool routing_target_is_readable(const struct routing_info *ri, const struct routing_chain *c,
				uint32_t target_id);
/* Public state of member target_id in chain c (0 if not a member / unknown target). */
int routing_member_state(const struct routing_info *ri, uint32_t target_id);

#endif
