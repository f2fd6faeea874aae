/* kv_int.h — what a KV backend implements, and what the generic layer (kv.c) gives it.
 *
 * Split of work:
 *   kv.c      URI dispatch, argument checks (sizes, read-only), the per-transaction arena,
 *             the write buffer (every kv_set/kv_clear/kv_clear_range is buffered here) and
 *             read-your-writes: kv_get/kv_range merge the buffer over the backend's reads,
 *             and the kv_run retry loop.
 *   backend   snapshot reads of *committed* data (get, range) and an atomic commit of the
 *             buffered writes that fails with -C3FS_ECONFLICT when the transaction's reads
 *             are no longer valid (the backend decides how: read-set validation for mem and
 *             lmdb, the server's SERIALIZABLE isolation for pg).
 * A new engine (e.g. FoundationDB's fdb_c: fdb_transaction_get / get_range / set / clear /
 * clear_range / commit) is therefore one file with one struct kv_ops.
 *
 * Invariants of the write buffer (struct kv__wbuf):
 *   - points[0, nsorted) is sorted by key (memcmp order, shorter first) with unique keys;
 *     points[nsorted, npoints) is an unsorted tail of later writes (so that many writes
 *     in random order cost O(n log n), not O(n^2)); kv.c folds the tail into the sorted
 *     part (the later write of a key wins) before any read, clear_range or commit, so
 *     backends always see nsorted == npoints;
 *   - ranges[] is sorted, disjoint and non-adjacent ([b,e) with b < e);
 *   - a point entry always postdates every cleared range that covers it, so the final
 *     effect of the transaction is: clear every range, then apply every point entry.
 *   - key/value bytes live in the transaction arena and never move or get freed before
 *     the transaction ends (values handed to the caller stay valid).
 */
#ifndef C3_KV_INT_H
#define C3_KV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/metrics.h"
#include "kv/kv.h"

/* Bounds passed to kv_range/kv_clear_range may be a little longer than keys
 * (e.g. key || 0x00); anything longer than this is refused with -C3FS_EKVTOOLARGE. */
#define KV__BOUND_MAX (2 * KV_KEY_MAX + 2)

/* Attempts and backoff of kv_run(). */
#define KV__RUN_MAX_ATTEMPTS 200
#define KV__RUN_BACKOFF_MIN_US 100
#define KV__RUN_BACKOFF_MAX_US 100000

struct kv_ops;

/* Common head of every backend's database struct (the backend allocates a larger struct
 * whose first member is this).  Immutable after open. */
struct kv_db {
	const struct kv_ops *ops;
	/* process-wide metrics labelled backend="<name>" (never freed; NULL is harmless) */
	struct c3_counter *m_commits;	/* read-write commits that applied writes */
	struct c3_counter *m_conflicts; /* commits refused with -C3FS_ECONFLICT */
	struct c3_counter *m_errors;	/* other failed commits */
	struct c3_counter *m_retries;	/* kv_run attempts after the first */
	struct c3_hist *m_commit_lat;	/* kv_txn_commit latency of read-write txns */
};

/* One buffered point write: a set (cleared == false) or a point clear. */
struct kv__wpoint {
	const uint8_t *key;
	size_t klen;
	const uint8_t *val; /* NULL when cleared */
	size_t vlen;
	bool cleared;
};

/* One cleared range [b, e). */
struct kv__wrange {
	const uint8_t *b;
	size_t bl;
	const uint8_t *e;
	size_t el;
};

struct kv__wbuf {
	struct kv__wpoint *points; /* malloc'd array: sorted prefix, unsorted tail */
	size_t npoints, cappoints;
	size_t nsorted; /* length of the sorted prefix */
	struct kv__wrange *ranges; /* malloc'd array, sorted, disjoint */
	size_t nranges, capranges;
};

struct kv__ablk; /* arena block, kv.c */

/* A transaction.  Allocated and freed by kv.c; `be` belongs to the backend between
 * ops->begin and ops->commit/ops->abort.  Used by one thread at a time. */
struct kv_txn {
	struct kv_db *db;
	bool read_only;
	bool lazy; /* kv_txn_set_lazy */
	struct kv__wbuf w;
	struct kv__ablk *arena;
	void *be;
};

/* The backend operations.  All keys and bounds passed in have been checked for size by
 * kv.c; range bounds satisfy b < e.  Memory returned by get/range must stay valid until
 * the transaction ends (use kv__alloc or backend-owned snapshot memory). */
struct kv_ops {
	const char *name;
	/* arg = the URI after "<name>:".  Returns 0 and *out, or a negative code with nothing
	 * to release. */
	int (*open)(const char *arg, struct kv_db **out);
	void (*close)(struct kv_db *db);
	/* Start a snapshot for txn (txn->read_only is set); store state in txn->be. */
	int (*begin)(struct kv_txn *txn);
	/* Committed value of key at the snapshot: 0, -ENOENT or an error. */
	int (*get)(struct kv_txn *txn, const uint8_t *key, size_t klen, const uint8_t **val,
		   size_t *vlen);
	/* Committed pairs of [b, e) at the snapshot, ascending or descending, at most limit
	 * (limit <= 0: all).  *more may be set conservatively (true when limit pairs were
	 * returned and more might follow).  Returns the count or an error. */
	int (*range)(struct kv_txn *txn, const uint8_t *b, size_t bl, const uint8_t *e,
		     size_t el, int limit, bool reverse, struct kv_pair **pairs, bool *more);
	/* Atomically apply txn->w if the transaction's reads still hold; durable on 0.
	 * Called for read-only transactions too.  Releases txn->be in every case. */
	int (*commit)(struct kv_txn *txn);
	/* Release txn->be without applying anything. */
	void (*abort)(struct kv_txn *txn);
};

extern const struct kv_ops kv__mem_ops;
extern const struct kv_ops kv__lmdb_ops;
extern const struct kv_ops kv__pg_ops;

/* Group-commit counters of an lmdb database (for tests and benchmarks): LMDB write
 * transactions committed, kv transactions they carried, map resizes. */
void kv__lmdb_stats(struct kv_db *db, uint64_t *batches, uint64_t *commits, uint64_t *grows);
/* sync=wal counters (tests): checkpoints finished by the background thread since open,
 * whether open restored a checkpoint (1/0), and the log records it replayed. */
void kv__lmdb_wal_stats(struct kv_db *db, uint64_t *ckpts, uint64_t *restored,
			uint64_t *replayed);
/* sync=wal (tests): batches queued for the log and made durable since open. */
void kv__lmdb_log_state(struct kv_db *db, uint64_t *queued, uint64_t *durable);

#ifdef C3_TEST_BUILD
/* Test builds only: called by the pg backend right before it sends COMMIT, with the
 * server process id of the transaction's connection (fault injection).  Not thread-safe
 * to change while transactions run. */
extern void (*kv__pg_before_commit_hook)(int backend_pid);
#endif

/* Allocate n bytes that live until the transaction ends (8-byte aligned).  NULL when out
 * of memory. */
void *kv__alloc(struct kv_txn *txn, size_t n);
/* Copy n bytes into the arena (n == 0 gives a valid non-NULL pointer).  NULL on ENOMEM. */
void *kv__dup(struct kv_txn *txn, const void *p, size_t n);

/* memcmp order, shorter prefix first. */
int kv__cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl);

#endif
