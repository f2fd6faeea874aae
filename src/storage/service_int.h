/* service_int.h — what service.c (RPC handlers, CRAQ, recovery sync) and scrub.c (repair of
 * corrupt replicas, the scrubber) share.  Not for use outside src/storage.
 *
 * Locking: fields are atomics or guarded as noted; a struct svc_target lives as long as the
 * service (targets are fixed at start).
 */
#ifndef C3_STORAGE_SERVICE_INT_H
#define C3_STORAGE_SERVICE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster/routing.h"
#include "common/metrics.h"
#include "common/pool.h"
#include "net/rpc.h"
#include "proto/storage.h"
#include "storage/chunk.h"
#include "storage/service.h"

struct svc_target {
	uint32_t target_id;
	char *path;
	struct chunk_store *cs;   /* NULL when it could not be opened */
	int open_err;
	atomic_int local_state;   /* enum target_local_state reported to mgmtd */
	atomic_uint synced_chain_ver; /* chain version of the last SYNC_DONE received */
	/* I/O served since the process started (heartbeats carry them: mgmtd's rates) */
	atomic_uint_fast64_t rd_bytes, rd_ops, wr_bytes, wr_ops;
	/* data safety, since the process started (heartbeat, metrics) */
	atomic_uint_fast64_t repaired;      /* chunks replaced whole after found corrupt/divergent */
	atomic_uint_fast64_t scrub_chunks, scrub_bytes; /* verified by the scrubber */
	atomic_uint_fast64_t scrub_errors;  /* bad here + divergent successor copies it found */
	atomic_uint_fast64_t scrub_fixed;   /* successor copies its scrub repaired */
	atomic_uint_fast64_t scrub_last_ms; /* wall clock of the last full pass's end (0 = none;
					     * read from <target dir>/SCRUB_LAST at start) */
	atomic_uint_fast64_t scrub_base_ms; /* wall clock the interval to the next pass counts
					     * from (the last pass's end, or the start) */
	atomic_bool scrub_now;              /* an operator asked for a pass (STORAGE_T_SCRUB) */
	atomic_bool scrub_running;
};

/* Progress of the running recovery sync (one at a time, run by the sync thread). */
struct svc_sync_progress {
	atomic_uint from, to;               /* local target -> syncing successor (0 = none) */
	atomic_uint_fast64_t done_chunks, total_chunks, done_bytes, total_bytes;
	atomic_uint_fast64_t start_ms;      /* monotonic */
};

/* One exactly-once record: the last successful request on (client, channel, chain). */
struct svc_dedup {
	uint64_t client_id;
	uint64_t seq;
	uint32_t channel;
	uint32_t chain_id;
	struct storage_io_result res;
	bool more;
};

struct svc_repair;  /* scrub.c: the queue of chunks to repair */

/* A chunk id against one of a DUMP_META reply: < 0, 0, > 0. */
static inline int svc__meta_cmp(struct chunk_id a, struct storage_chunk_id b)
{
	if (a.inode != b.inode)
		return a.inode < b.inode ? -1 : 1;
	if (a.index != b.index)
		return a.index < b.index ? -1 : 1;
	return 0;
}

/* Chunk metadata of a successor, in id order (svc__remote_dump); e is the holder's. */
struct svc_remote {
	struct storage_chunk_meta *e;
	uint32_t n;
	size_t cap;
};

/* The chunk metadata of target on addr after *after (NULL: from the start) up to and
 * including *last (NULL: to the end), fetched in pages of `page` entries (DUMP_META) and
 * appended to out.  0, or an error (out may hold some entries; free out->e anyway). */
int svc__remote_dump(struct storage_service *svc, const char *addr, uint32_t target,
		     const struct chunk_id *after, const struct chunk_id *last, uint32_t page,
		     struct svc_remote *out);

struct storage_service {
	uint32_t node_id;
	int io_engine;
	uint32_t forward_retry_ms, forward_timeout_ms, remove_batch;
	struct svc_target *targets;
	int ntargets;
	struct rpc_server *srv;
	struct rpc_client *cli;
	pthread_mutex_t ri_mu;            /* guards ri, cc */
	struct routing_info *ri;
	struct cluster_client *cc;
	atomic_bool serving;
	/* chunk-changing requests in flight, by epoch (svc_change_enter/_exit); a recovery
	 * sync flips the epoch and waits for the older one to drain before it lists chunks */
	atomic_uint change_epoch;
	atomic_uint changes_in_flight[2];
	pthread_mutex_t drain_mu;         /* one drain at a time */
	pthread_mutex_t dd_mu;            /* guards dd */
	struct svc_dedup *dd;
	uint32_t ndd;
	const uint8_t *zeros;             /* CHUNK_SIZE_MAX bytes of read-only zeros */
	struct c3_counter *m_write_bytes, *m_read_bytes, *m_checksum, *m_fwd_retry, *m_dedup_hits;
	struct c3_hist *m_write_lat, *m_read_lat, *m_update_lat;
	struct c3_counter *m_sync_chunks;
	struct c3_counter *m_read_inline, *m_read_deferred, *m_read_async;
	/* io_uring rings of the I/O threads for reads that wait for the disk (aread.c) */
	pthread_mutex_t aring_mu;         /* guards arings */
	struct svc_aring *arings;
	/* recovery: one thread syncs SYNCING successors of our serving targets */
	pthread_t sync_thread;
	bool sync_started;
	struct c3_pool *write_pool;       /* the parts of a write batch (svc_on_write) */
	pthread_mutex_t sync_mu;          /* guards sync_stop, sync_kick, sync_done_* */
	pthread_cond_t sync_cv;
	bool sync_stop, sync_kick;
	uint32_t sync_done_chain[64], sync_done_ver[64], sync_done_succ[64];
	int nsync_done;
	struct svc_sync_progress prog;
	/* repair and scrub (scrub.c) */
	struct svc_repair *rep;
	atomic_uint_fast64_t scrub_rate_bps;   /* storage.scrub_rate */
	atomic_uint_fast64_t scrub_interval_ms; /* storage.scrub_interval, 0 = off */
#ifdef C3_TEST_BUILD
	/* fault injection (test builds only): the head's next commit of an update to an
	 * existing chunk of this inode fails with -ENOSPC after the successors committed, once (environment variable
	 * C3FS_TEST_HEAD_COMMIT_ENOSPC_INODE, read at start) */
	atomic_uint_least64_t test_commit_enospc_inode;
	/* each chunk a recovery sync sends waits this long first (C3FS_TEST_SYNC_CHUNK_DELAY_MS),
	 * so that a test can watch a sync's progress */
	uint32_t test_sync_delay_ms;
#endif
};

/* service.c */
/* The current routing snapshot, referenced (caller unrefs), or NULL. */
struct routing_info *svc__routing(struct storage_service *svc);
/* The local target with that id, or NULL. */
struct svc_target *svc__target_find(struct storage_service *svc, uint32_t target_id);
/* Our routing's version of chain_id (0 = unknown chain). */
uint32_t svc__chain_ver(struct storage_service *svc, uint32_t chain_id);

/* How svc__send_chunk treats the chunk lock of id on t. */
enum svc_send_lock {
	SVC_SEND_HOLD,     /* lock, send, unlock: no write of the chunk interleaves (the
			    * receiver is downstream of t, as in recovery sync) */
	SVC_SEND_RELEASE,  /* lock to read the committed copy, unlock, send: the receiver is
			    * upstream, and may hold its own lock waiting for ours */
	SVC_SEND_LOCKED,   /* the caller holds the lock */
};
/* Send t's committed copy of chunk id whole to dest_target (a member of chain_id) as an
 * UPDATE with FULL|SYNC|extra_flags and the committed version.  0 when the receiver
 * accepted it (applied or found nothing to do), -ENOENT when t has no committed copy,
 * -C3FS_ECHECKSUM when t's copy fails its checksums (it is marked corrupt and a repair of
 * it is scheduled), else the error.  *sent_bytes (may be NULL) gets the chunk length. */
int svc__send_chunk(struct storage_service *svc, struct svc_target *t, uint32_t chain_id,
		    uint32_t dest_target, struct chunk_id id, uint8_t extra_flags,
		    enum svc_send_lock lock, uint32_t *sent_bytes);

/* aread.c: one io_uring ring per network I/O thread for reads served there */
struct svc_aring;
/* The calling I/O thread's ring (created and watched at first use), or NULL (not on an
 * I/O thread of svc's server, or io_uring unavailable: use a worker then). */
struct svc_aring *svc__aring(struct storage_service *svc);
/* Reserve room for n reads; false when that many more would overfill the ring. */
bool svc__aring_reserve(struct svc_aring *r, unsigned n);
void svc__aring_unreserve(struct svc_aring *r, unsigned n);
/* Queue one reserved read of len bytes of fd at off into buf; cb(arg, bytes or -errno)
 * runs later on this I/O thread.  0, or -ENOMEM (the reservation is kept). */
int svc__aring_read(struct svc_aring *r, int fd, void *buf, uint32_t len, uint64_t off,
		    void (*cb)(void *arg, int res), void *arg);
/* Submit what was queued, then run the completions that are there already (reads whose
 * bytes were cached complete while they are submitted). */
void svc__aring_submit(struct svc_aring *r);
/* Free every ring (after rpc_server_free: their threads have ended). */
void svc__arings_free(struct storage_service *svc);

/* scrub.c */
/* Start the repair and scrub threads; 0 or a negative code (nothing to undo). */
int svc__scrub_start(struct storage_service *svc);
/* Stop them (waits; a scrub or repair in progress stops at its next chunk or when its
 * RPC ends).  Safe when svc__scrub_start failed or was not called.  Chunks queued later
 * (RPC handlers still running) stay queued until svc__scrub_free. */
void svc__scrub_stop(struct storage_service *svc);
/* Stop (if needed) and free the queue; no handler may run any more. */
void svc__scrub_free(struct storage_service *svc);
/* Queue a repair of chunk id of t (found corrupt here).  Never blocks on the network;
 * a chunk already queued is not queued twice; a full queue drops it (the scrubber or the
 * next read finds it again). */
void svc__repair_schedule(struct storage_service *svc, struct svc_target *t, struct chunk_id id);
/* Handlers of STORAGE_T_REPAIR and STORAGE_T_SCRUB. */
void svc__on_repair(struct rpc_req *req, void *arg);
void svc__on_scrub(struct rpc_req *req, void *arg);

#endif
