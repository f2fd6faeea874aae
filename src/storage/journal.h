/* journal.h — the record payload of a target's write-ahead journal (journal.c).
 *
 * A target with storage.journal on commits every group-commit batch as ONE record of the
 * log in <target>/meta/ (kv_wal.c's files: wal.0, wal.1, wal.ckpt; see src/storage/README.md
 * "Commit =").  The record payload is a format byte (SJ_FORMAT) and a sequence of ops,
 * little endian, each starting with its type byte and the chunk id (u64 inode, u32 index):
 *   'P' u32 vlen, val[vlen]        put the chunk's metadata record (chunk.c's LMDB value)
 *   'D'                            delete the chunk's metadata record
 *   'W' u64 gen, u32 keep, u32 flen, u32 off, u32 dlen, data[dlen]
 *                                  journaled bytes of file generation gen: keep the file's
 *                                  bytes [0, keep) (0 = a new file), write data at off,
 *                                  set the file's size to flen
 *   'F' u64 gen                    file generation gen was fdatasync'd before this record:
 *                                  its bytes are durable, earlier 'W' ops on it are moot
 * Decoding checks every bound (a record's CRC32C in the log is checked by kv_wal.c first;
 * this guards against a record that passed it and still does not make sense).
 */
#ifndef C3_STORAGE_JOURNAL_H
#define C3_STORAGE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define SJ_FORMAT 1
#define SJ_VAL_MAX 8192u /* a metadata record is at most ~4.1 KiB (1024 block CRCs) */

enum sj_op_type { SJ_PUT = 'P', SJ_DEL = 'D', SJ_DATA = 'W', SJ_SYNCED = 'F' };

struct sj_op {
	int type;             /* enum sj_op_type */
	uint64_t inode;
	uint32_t index;
	uint64_t gen;         /* W, F (never 0) */
	uint32_t keep, flen;  /* W: keep <= flen, off + dlen <= flen */
	uint32_t off, dlen;   /* W */
	const uint8_t *data;  /* W: dlen bytes; P: vlen bytes (points into the payload) */
	uint32_t vlen;        /* P: 1..SJ_VAL_MAX */
};

/* Start a payload (the format byte) / append one op to it.  Errors land in b->err. */
void sj_begin(struct c3_buf *b);
void sj_encode(struct c3_buf *b, const struct sj_op *op);

/* Decode a payload, calling fn(arg, op) for each op in order (op->data points into p and
 * is valid during the call).  Returns 0, -EUCLEAN for a malformed payload (after calling fn
 * for the ops before the bad one), or fn's negative value, which stops the decode.
 * max_flen bounds W's flen (the largest chunk size). */
int sj_decode(const uint8_t *p, size_t len, uint32_t max_flen,
	      int (*fn)(void *arg, const struct sj_op *op), void *arg);

#endif
