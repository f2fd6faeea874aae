/* storage/chunk_int.h — chunk.c internals exposed to tests only (not part of chunk.h). */
#ifndef C3_STORAGE_CHUNK_INT_H
#define C3_STORAGE_CHUNK_INT_H

#include <stddef.h>

#include "common/buf.h"

/* Decode one LMDB chunk-version record (n bytes at p, as stored under a chunk key) with
 * chunk.c's record decoder and append its re-encoding to out.  Returns 0, or the
 * decoder's error (-C3FS_ECHECKSUM for a damaged record, -ENOMEM); out is untouched then.
 * For tests/fuzz/fuzz_chunk_rec.c: the decoder itself is static. */
int chunk_rec_reencode(const void *p, size_t n, struct c3_buf *out);

/* Decode a journal record payload (storage/journal.h) and append the re-encoding of its
 * ops to out (with the format byte).  Returns 0, or -EUCLEAN for a malformed payload.
 * For tests/fuzz/fuzz_journal.c. */
int chunk_journal_reencode(const void *p, size_t n, struct c3_buf *out);

#endif
