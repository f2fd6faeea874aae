/* service.h — the storage service: local targets, routing view, RPC handlers, CRAQ.
 *
 * One struct storage_service per process.  It owns the chunk stores of its targets, an RPC
 * client for forwarding to successors, the exactly-once table, and the current routing
 * snapshot (installed from a static chain file or from cluster_client's on_routing).
 *
 * CRAQ write path (README.md has the diagram):
 *   head:   lock chunk -> v = max(committed, pending) + 1 -> stage v (pending) ->
 *           forward to successor (bounded retry) -> commit v -> unlock -> reply
 *   member: lock chunk -> version rules -> stage v -> forward -> commit -> unlock -> reply
 *   tail:   lock chunk -> version rules -> stage v -> commit -> unlock -> reply
 * Reads are served by any SERVING member from committed data only.
 * Recovery: a background thread syncs the SYNCING successor of each serving local target
 * (metadata dump, whole-chunk SYNC updates for what differs, SYNC_DONE); updates forwarded
 * to a SYNCING successor always carry the whole chunk.
 * Repair and scrub (scrub.c): a chunk found corrupt is repaired from a good member of its
 * chain (STORAGE_T_REPAIR); a background scrubber verifies every chunk's checksums at
 * storage.scrub_rate and compares it with the successor's copy.
 *
 * Threads: handlers run on the RPC server's worker threads and may block (disk I/O,
 * forwarding).  storage_service_set_routing / set_serving may be called from any thread.
 */
#ifndef C3_STORAGE_SERVICE_H
#define C3_STORAGE_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/client.h"
#include "cluster/routing.h"
#include "storage/chunk.h"

struct storage_service;

struct storage_target_cfg {
	uint32_t target_id;
	const char *path;
};

struct storage_service_opts {
	uint32_t node_id;
	const char *listen;            /* "ip:port" (port 0 = any) */
	const char *token;             /* cluster token */
	int workers;                   /* RPC handler threads (default 64) */
	int io_threads;                /* RPC I/O threads (default 2) */
	int max_conns;                 /* RPC admission, see rpc_server_opts (0 = default) */
	int max_unauth_conns;
	int max_unauth_per_addr;
	uint32_t auth_timeout_ms;
	int io_engine;                 /* enum chunk_io_engine */
	bool direct_io;                /* chunk_store_opts.direct_io for every target */
	bool direct_read;              /* chunk_store_opts.direct_read for every target */
	bool no_journal;               /* chunk_store_opts.no_journal for every target */
	int32_t journal_data_max;      /* chunk_store_opts.journal_data_max (0 = default) */
	uint32_t forward_retry_ms;     /* give up forwarding after this long (default 5000) */
	uint32_t forward_timeout_ms;   /* one forward attempt (default 10000) */
	uint32_t remove_batch;         /* chunks per REMOVE call (default 256) */
	uint32_t dedup_slots;          /* exactly-once table size (default 65536) */
	uint64_t scrub_rate_bps;       /* scrubber read rate (0 = unlimited) */
	uint64_t scrub_interval_ms;    /* between full scrub passes of a target (0 = off) */
	bool start_online;             /* mgmtd mode: targets start ONLINE (stale until synced or
					* SERVING) and nothing is served until set_serving(true)
					* (lease); false = static chain file: UPTODATE, serving */
	const struct storage_target_cfg *targets;
	int ntargets;
};

/* Open every target (a target that cannot be opened is kept as FAILED and logged; the
 * others serve) and start the RPC server.  Returns 0 or a negative code (bad options,
 * RPC server failure) with nothing to free. */
int storage_service_new(const struct storage_service_opts *opts, struct storage_service **out);
/* Stop the RPC server, close every target, free.  NULL allowed. */
void storage_service_free(struct storage_service *svc);

/* The bound RPC port. */
int storage_service_port(const struct storage_service *svc);

/* Install a routing snapshot (takes its own reference; the caller keeps theirs). */
void storage_service_set_routing(struct storage_service *svc, struct routing_info *ri);
/* Lease state: when false every request fails with -C3FS_ETARGETDOWN. */
void storage_service_set_serving(struct storage_service *svc, bool serving);
/* Optional: where a peer's newer routing version is reported (cluster_client). */
void storage_service_set_cluster(struct storage_service *svc, struct cluster_client *cc);

/* Change the scrubber's rate (bytes/s, 0 = unlimited) and interval between full passes
 * (ms, 0 = no scheduled passes; STORAGE_T_SCRUB still starts one).  Any thread. */
void storage_service_set_scrub(struct storage_service *svc, uint64_t rate_bps,
			       uint64_t interval_ms);

/* Fill heartbeat reports for the node's targets (cluster_client collect_targets). */
int storage_service_collect(struct storage_service *svc, struct cluster_target_report *out,
			    int max);

#endif
