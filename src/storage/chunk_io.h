/* chunk_io.h — positional file I/O through psync or io_uring (io_engine setting).
 *
 * Both engines have the same contract: transfer all n bytes (looping over short
 * transfers), return 0 or -errno.  Reads stop at end of file: chunk_io_pread returns the
 * number of bytes read (>= 0), which is less than n only at EOF.
 * The uring engine keeps one small ring per thread (created at first use, freed when the
 * thread exits) and waits for each submission, so callers see plain blocking calls; when
 * a ring cannot be created it falls back to psync for that thread.  Thread-safe.
 */
#ifndef C3_STORAGE_CHUNK_IO_H
#define C3_STORAGE_CHUNK_IO_H

#include <stddef.h>
#include <sys/types.h>

/* engine: enum chunk_io_engine (chunk.h) */
ssize_t chunk_io_pread(int engine, int fd, void *buf, size_t n, off_t off);
/* One read call (retried on EINTR/EAGAIN only): bytes read (short at end of file), or
 * -errno.  For O_DIRECT descriptors, where a second call after a short one would start at
 * an unaligned offset. */
ssize_t chunk_io_pread_once(int engine, int fd, void *buf, size_t n, off_t off);
int chunk_io_pwrite(int engine, int fd, const void *buf, size_t n, off_t off);
int chunk_io_fdatasync(int engine, int fd);

#endif
