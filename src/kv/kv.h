/* kv.h — the transactional key-value interface (FoundationDB-like semantics).
 * (Design, backends and their trade-offs: src/kv/README.md.)
 *
 * Ordered byte keys (memcmp order, shorter prefix first).  Every read and write happens
 * inside a transaction that is serializable: a commit either applies all of its writes
 * atomically, as if the transaction ran alone at its commit point, or fails with
 * -C3FS_ECONFLICT and applies nothing.  Reads see the transaction's own earlier writes.
 * Commits are durable when kv_txn_commit() returns 0 (group commit may batch fsyncs).
 *
 * Backends (one file each, behind struct kv_ops in kv_int.h):
 *   "lmdb:/path/to/dir[?map_size=4G&map_max=1T&sync=lmdb|wal&checkpoint=256]"
 *                                                       embedded default
 *   "pg:[pool=32;][table=c3fs_kv;]<libpq conninfo>"    PostgreSQL, shared by processes
 *   "mem:"                                             in-memory, for tests
 *
 * Memory: values and range results returned by a transaction are owned by the
 * transaction and stay valid until it is committed or aborted (there is no reset).
 * Read-only transactions read one consistent snapshot and never conflict.  Read-write
 * transactions are optimistic: reads never block; a conflict shows at commit (pg may
 * also report it from a read).
 * Threads: a struct kv_db may be used from many threads; a struct kv_txn from one thread
 * at a time.
 *
 * Limits: key <= KV_KEY_MAX bytes, value <= KV_VALUE_MAX bytes (-C3FS_EKVTOOLARGE), on
 * every backend alike.  KV_KEY_MAX is 510 because LMDB (the embedded default, as packaged)
 * limits keys to 511 bytes and the lmdb backend prefixes one byte; that leaves room for
 * a directory-entry key (prefix + parent id + 255-byte name).  Range and clear-range
 * bounds may be up to 2 * KV_KEY_MAX + 2 bytes (e.g. key || 0x00 or key || 0xff...).
 * The empty key is a valid key.
 */
#ifndef C3_KV_H
#define C3_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_KEY_MAX   510
#define KV_VALUE_MAX (1u << 20)

struct kv_db;
struct kv_txn;

struct kv_pair {
	const uint8_t *key;
	size_t klen;
	const uint8_t *val;
	size_t vlen;
};

/* Open a store by URI (see above).  Returns 0 and *out, or -errno / -C3FS_EKV /
 * -C3FS_ECONFIG (bad URI) with nothing to release. */
int kv_db_open(const char *uri, struct kv_db **out);
/* Close a store (NULL is allowed).  Every transaction of db must have ended. */
void kv_db_close(struct kv_db *db);
/* Backend name: "lmdb", "pg", "mem". */
const char *kv_db_backend(const struct kv_db *db);

/* Start a transaction.  read_only transactions may not write (-EROFS) and never conflict.
 * Errors: -ENOMEM, -C3FS_ECONNECT (pg), -C3FS_EBUSY (lmdb reader table full), -C3FS_EKV. */
int kv_txn_begin(struct kv_db *db, bool read_only, struct kv_txn **out);

/* Point read.  Returns 0 with *val and *vlen (owned by txn), -ENOENT when absent, or error. */
int kv_get(struct kv_txn *txn, const void *key, size_t klen, const uint8_t **val,
	   size_t *vlen);

int kv_set(struct kv_txn *txn, const void *key, size_t klen, const void *val, size_t vlen);
/* Clearing an absent key is not an error. */
int kv_clear(struct kv_txn *txn, const void *key, size_t klen);
/* Clear every key k with begin <= k < end. */
int kv_clear_range(struct kv_txn *txn, const void *begin, size_t blen, const void *end,
		   size_t elen);

/* Range read of keys begin <= k < end, ascending (or descending when reverse), at most
 * limit pairs (limit <= 0: no limit).  Returns the count n >= 0 and *pairs (array of n,
 * owned by txn); *more is set when the limit cut the range short. */
int kv_range(struct kv_txn *txn, const void *begin, size_t blen, const void *end, size_t elen,
	     int limit, bool reverse, struct kv_pair **pairs, bool *more);

/* Commit.  0 = durable; -C3FS_ECONFLICT = nothing applied, run again; other errors =
 * nothing applied (-ENOSPC store full, -C3FS_ECONNECT, -C3FS_EKV, ...), or
 * -C3FS_EKVMAYBECOMMITTED when the outcome is unknown (pg: connection lost during COMMIT).
 * Committing a read-only transaction, or one without writes, returns 0 (pg may still
 * report -C3FS_ECONFLICT for a read-write one).  The transaction is freed in every case. */
int kv_txn_commit(struct kv_txn *txn);
/* Drop the transaction and its writes.  NULL is allowed. */
void kv_txn_abort(struct kv_txn *txn);
/* Let this transaction's commit return once it is applied and visible, before it is
 * durable: it becomes durable with the next durable commit of the store (or shortly after
 * by itself), and a crash before that may lose it — and only lazy commits: no durable
 * commit that followed it survives without it.  For records whose loss a crash may
 * excuse (meta's read-only open sessions).  lmdb sync=wal: no wait for the log write;
 * pg: synchronous_commit off for this transaction; mem and lmdb sync=lmdb: no effect. */
void kv_txn_set_lazy(struct kv_txn *txn);

/* The retry loop: begin, fn(txn, arg), commit; on -C3FS_ECONFLICT (from fn or commit)
 * start over with randomized exponential backoff (100 us doubling to 100 ms), at most 200
 * attempts, then -C3FS_ECONFLICT.  -C3FS_EKVMAYBECOMMITTED is returned, not retried.
 * fn may run several times: it must not have side effects outside the transaction.  fn returning < 0 aborts
 * and that code is returned; fn's result >= 0 is returned after a successful commit.
 * read_only runs fn in a read-only transaction (committed for symmetry). */
typedef int (*kv_txn_fn)(struct kv_txn *txn, void *arg);
int kv_run(struct kv_db *db, bool read_only, kv_txn_fn fn, void *arg);

/* Key building helpers: big-endian integers so numeric order is byte order. */
static inline void kv_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}
static inline uint64_t kv_get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}
static inline void kv_put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}
static inline uint32_t kv_get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* A copy of a KV URI fit for logs: the value of every key/value conninfo keyword ending
 * in "password" (password=, sslpassword=), the password of a postgresql:// userinfo and
 * every *password= query parameter are replaced by "***"; all other text is copied.
 * Writes at most n bytes including the NUL (truncating), always NUL-terminated when
 * n > 0; uri NULL counts as "".  Returns out.  Use it wherever a URI reaches a log. */
char *kv_uri_redact(const char *uri, char *out, size_t n);

#endif
