/* kv_wal.h — the write-ahead log of the lmdb backend's "sync=wal" mode (kv_wal.c).
 * (Design and crash argument: src/kv/README.md, "lmdb sync=wal".)  The storage chunk
 * engine's journal uses the same files with its own payload (src/storage/README.md).
 *
 * Files in the store directory, beside LMDB's data.mdb:
 *   wal.0, wal.1  two log files used alternately.  A record is
 *                 { magic, crc32c, seq, len } + len payload bytes; records follow each
 *                 other from offset 0, seq increasing by 1.  Files grow in zero-filled
 *                 steps (KV_WAL_GROW) so that an append overwrites allocated, written
 *                 blocks and one O_DSYNC pwrite is one device write + flush.
 *   wal.ckpt      two slots, written alternately (slot = gen & 1), each
 *                 { magic, crc32c, gen, next_seq, file, clean, psize } + the raw bytes of
 *                 LMDB's two meta pages at a snapshot S whose pages are all durable.
 * The newest valid slot is the checkpoint: the store = S + the records of wal.<file>
 * starting at offset 0 with seq next_seq, next_seq + 1, ... ; when a file ends (a record
 * that is torn, has a bad checksum, or another seq), the scan continues at offset 0 of
 * the other file if a record with the expected seq starts there, else the log ends.
 * A checkpoint switches appends to offset 0 of the other file; it may only do so when
 * the previous checkpoint is durable (the caller serializes checkpoints).
 * `clean` marks a checkpoint written at a clean close: data.mdb is current and durable,
 * nothing follows it.
 *
 * Byte order is the host's (the files never leave the machine).  Not thread-safe: the
 * append side (kv_wal_append, kv_wal_switch) belongs to one thread at a time, and
 * kv_wal_write_ckpt may run in another thread concurrently with appends.
 */
#ifndef C3_KV_WAL_H
#define C3_KV_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "kv/kv_int.h"

#define KV_WAL_REC_HDR 24u	   /* bytes of a record header */
#define KV_WAL_GROW (1u << 20)	   /* zero-filled growth step of a log file */
#define KV_WAL_PSIZE_MAX 16384u	   /* largest LMDB page size a checkpoint holds */
#define KV_WAL_REC_MAX (1u << 30)  /* larger records are refused (and never read back) */

struct kv_wal_ckpt {
	uint64_t gen;
	uint64_t next_seq; /* the first record not contained in the snapshot */
	uint32_t file;	   /* the log file holding it, from offset 0 */
	bool clean;
	uint32_t psize;
	uint8_t metas[2 * KV_WAL_PSIZE_MAX]; /* LMDB pages 0 and 1 (2 * psize bytes) */
};

struct kv_wal;

/* Open the log of directory dirfd (kept open by the caller; the caller also holds the
 * lock that makes the log exclusive).  When no checkpoint exists: with create, the log
 * files are truncated and *out is a log without checkpoint (write one before appending);
 * without create, *out = NULL and 0 is returned.  Returns 0 or -errno. */
int kv_wal_open(int dirfd, bool create, struct kv_wal **out);
void kv_wal_close(struct kv_wal *w);
/* The newest valid checkpoint, or NULL. */
const struct kv_wal_ckpt *kv_wal_ckpt(const struct kv_wal *w);

/* Read the records after the checkpoint in order, calling fn(arg, payload, len) for each
 * (fn < 0 stops the scan and is returned).  Afterwards appends continue after the last
 * valid record, with seqs above any the old log may hold (write a checkpoint before the
 * next append).  *nrec = records passed to fn.  Returns 0 or an error. */
int kv_wal_scan(struct kv_wal *w, int (*fn)(void *arg, const uint8_t *p, size_t len),
		void *arg, uint64_t *nrec);

/* After kv_wal_scan: 1 when a valid record with a seq above the first one the scan did
 * not find exists in either log file (the scan stopped at a damaged record in the middle
 * of the log, not at its torn tail: records are appended one at a time and each is durable
 * before the next starts), 0 when none does, < 0 on a read error.  Reads both files whole
 * (a byte-wise search for record headers): for recovery only. */
int kv_wal_damaged_before(struct kv_wal *w);

/* Append one record and return once it is durable.  0, or -errno (the record may or may
 * not be in the log: the caller must stop using it). */
int kv_wal_append(struct kv_wal *w, const void *payload, size_t len);
/* Make room (zero-filled, durable) for appending a record of len payload bytes next, so
 * that a caller can learn of -ENOSPC before it applies what the record describes.  0 or
 * -errno; nothing else changes. */
int kv_wal_reserve(struct kv_wal *w, size_t len);
/* Bytes appended to the current file. */
uint64_t kv_wal_used(const struct kv_wal *w);

/* Start appending at offset 0 of the other file; returns the position a checkpoint of
 * the current state must name (seq of the next record, file). */
void kv_wal_switch(struct kv_wal *w, uint64_t *next_seq, uint32_t *file);
/* Write a checkpoint durably (the newer slot).  metas = 2 * psize bytes. */
int kv_wal_write_ckpt(struct kv_wal *w, uint64_t next_seq, uint32_t file, bool clean,
		      const uint8_t *metas, uint32_t psize);

/* Record payload = the writes of one LMDB transaction, in apply order:
 *   'R' u16 bl, u16 el, b, e      clear [b, e)
 *   'S' u16 kl, u32 vl, key, val  set
 *   'C' u16 kl, key               clear
 * kv_wal_encode appends a transaction's buffer (clear its ranges, then its points) to
 * out; kv_wal_decode calls the matching callback for each op, in order, and returns
 * -C3FS_EKV on a malformed payload (after applying the ops before it). */
void kv_wal_encode(struct c3_buf *out, const struct kv__wbuf *wb);
struct kv_wal_ops {
	int (*clear_range)(void *arg, const uint8_t *b, size_t bl, const uint8_t *e, size_t el);
	int (*set)(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl);
	int (*clear)(void *arg, const uint8_t *k, size_t kl);
};
int kv_wal_decode(const uint8_t *p, size_t len, const struct kv_wal_ops *ops, void *arg);

#endif
