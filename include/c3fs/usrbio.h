/* usrbio.h — USRBIO: zero-copy batched file I/O through shared-memory rings, with the call
 * shapes of 3FS's hf3fs_usrbio.h (rename hf3fs_ -> c3fs_, HF3FS_ -> C3FS_ to port).
 * Library: libc3fs-usrbio.so / libc3fs-usrbio.a (link with -lpthread).  Usable from C++.
 *
 * The application
 *   1. creates an iov: a buffer in POSIX shared memory (/dev/shm/c3fs-iov-<id>), registered
 *      with the c3fs-fuse daemon by a symlink <mount>/3fs-virt/iovs/<id hex>[.b<bs>];
 *      the daemon maps the same memory;
 *   2. creates an ior: a ring of submission and completion entries in shared memory,
 *      registered by a symlink <mount>/3fs-virt/iovs/<id hex>.r<depth> (reads) or
 *      .w<depth> (writes) [+ .t<timeout ms>][.f<flags>][.ph | .pl];
 *   3. registers the file descriptors it will use (files opened through the mount);
 *   4. prepares I/Os (file range <-> range of the iov), submits, waits for completions.
 * The daemon takes the entries, reads from / writes to the storage service with the data
 * received straight into (sent straight from) the iov, posts completion entries and wakes
 * the waiter.  No system call per I/O, no copy through the kernel.
 *
 * Errors: functions returning int return 0 (or a count / index) on success and -errno on
 * failure, except c3fs_reg_fd (see there).  No function prints (set C3FS_USRBIO_LOG=1 in
 * the environment to have failures explained on stderr).
 *
 * Threads: an iov may be used by any number of threads and processes.  Per ior, one
 * thread at a time may call c3fs_prep_io / c3fs_submit_ios, and one (possibly another)
 * c3fs_wait_for_ios.  The fd table (c3fs_reg_fd) is process-wide and thread-safe.
 */
#ifndef C3FS_USRBIO_H
#define C3FS_USRBIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void *c3fs_iov_handle;
typedef void *c3fs_ior_handle;

/* A shared-memory buffer.  All fields are filled by the library; read them, do not
 * change them. */
struct c3fs_iov {
	uint8_t *base;            /* the mapping, size bytes */
	c3fs_iov_handle iovh;     /* library state */
	char id[16];              /* random id (uuid bytes); names the shm and the symlink */
	char mount_point[256];    /* the c3fs mount it is registered with */
	size_t size;
	size_t block_size;        /* 0 = one block; else I/O into it is in whole blocks */
	int numa;                 /* NUMA node requested (-1 = any); recorded only */
};

/* A submission/completion ring.  ior.iov is the ring's own shared memory. */
struct c3fs_ior {
	struct c3fs_iov iov;
	c3fs_ior_handle iorh;     /* library state */
	char mount_point[256];
	bool for_read;            /* a ring either reads or writes */
	int io_depth;             /* see c3fs_iorcreate4 */
	int priority;             /* < 0 high, 0 normal, > 0 low */
	int timeout;              /* ms, for io_depth < 0 */
	uint64_t flags;           /* C3FS_IOR_* */
};

/* A completion. */
struct c3fs_cqe {
	int32_t index;            /* what c3fs_prep_io returned for this I/O */
	int32_t reserved;
	int64_t result;           /* bytes read or written (short read = end of file), or -errno */
	const void *userdata;     /* as given to c3fs_prep_io */
};

/* ior flags */
#define C3FS_IOR_ALLOW_READ_UNCOMMITTED 1 /* reads may return a replica's uncommitted data */
#define C3FS_IOR_FORBID_READ_HOLES      2 /* a read reaching into a hole fails (-EINVAL) */

/* True when fd is a file or directory of a c3fs mount (asks the daemon by ioctl). */
bool c3fs_is_c3fs(int fd);

/* Copy into mp (size bytes) the mount point of the c3fs mount holding path: the longest
 * fuse.c3fs mount in /proc/self/mountinfo that is a prefix of path's canonical form.
 * Returns strlen(mp) + 1, or -1 (not in a c3fs mount, or mp too small). */
int c3fs_extract_mount_point(char *mp, int size, const char *path);

/* Create an iov of size bytes (block_size: 0 or a divisor of size) in /dev/shm, map it
 * and register it with the mount at mount_point.  numa >= 0 is recorded, not enforced.
 * Returns 0, -EINVAL, -ENOMEM/-ENOSPC (shm), or the error of the registration (e.g.
 * -ENOENT: not a c3fs mount).  Release with c3fs_iovdestroy. */
int c3fs_iovcreate(struct c3fs_iov *iov, const char *mount_point, size_t size,
		   size_t block_size, int numa);
/* Attach to an iov created by another process (same mount, same /dev/shm), by id.
 * size and block_size must match the registration.  Release with c3fs_iovdestroy (the
 * owner's registration stays). */
int c3fs_iovopen(struct c3fs_iov *iov, const uint8_t id[16], const char *mount_point,
		 size_t size, size_t block_size, int numa);
/* Describe memory that is already mapped from a registered iov (e.g. by hand) so it can be
 * passed to c3fs_prep_io.  Nothing is mapped or registered; do not c3fs_iovdestroy it. */
int c3fs_iovwrap(struct c3fs_iov *iov, void *base, const uint8_t id[16],
		 const char *mount_point, size_t size, size_t block_size, int numa);
/* Remove the shm name (the mappings stay valid; nobody can iovopen it any more). */
void c3fs_iovunlink(struct c3fs_iov *iov);
/* Unregister (when this process created it), unmap and free.  NULL-safe fields. */
void c3fs_iovdestroy(struct c3fs_iov *iov);

/* Bytes of shared memory a ring of `entries` entries takes. */
size_t c3fs_ior_size(int entries);

/* Create a ring of `entries` entries (1..65536) for reads (for_read) or writes.
 *   io_depth == 0: the daemon takes whatever is queued, as soon as it is submitted;
 *   io_depth  > 0: it takes exactly io_depth entries per batch, waiting until that many
 *                  are queued (<= entries);
 *   io_depth  < 0: it takes up to -io_depth per batch, waiting up to timeout ms for the
 *                  batch to fill.
 * priority: < 0 high, 0 normal, > 0 low.  flags: C3FS_IOR_*.  Release with
 * c3fs_iordestroy.  Returns 0 or -errno (-EINVAL for bad arguments). */
int c3fs_iorcreate(struct c3fs_ior *ior, const char *mount_point, int entries, bool for_read,
		   int io_depth, int numa);
int c3fs_iorcreate2(struct c3fs_ior *ior, const char *mount_point, int entries, bool for_read,
		    int io_depth, int priority, int numa);
int c3fs_iorcreate3(struct c3fs_ior *ior, const char *mount_point, int entries, bool for_read,
		    int io_depth, int priority, int timeout, int numa);
int c3fs_iorcreate4(struct c3fs_ior *ior, const char *mount_point, int entries, bool for_read,
		    int io_depth, int timeout, int numa, uint64_t flags);
/* Unregister and free the ring.  I/Os in flight complete in the daemon; their results
 * are dropped. */
void c3fs_iordestroy(struct c3fs_ior *ior);

/* Register fd (a regular file opened through a c3fs mount) for c3fs_prep_io.  Returns a
 * value <= 0 that c3fs_prep_io accepts in place of fd (so does fd itself), or a POSITIVE
 * errno: EBADF (not open / not c3fs), EINVAL (already registered), ENOMEM. */
int c3fs_reg_fd(int fd, uint64_t flags);
/* Drop the registration of fd (fd or the value c3fs_reg_fd returned). */
void c3fs_dereg_fd(int fd);

/* Capacity of the ring: at most this many I/Os prepared and not yet reaped. */
int c3fs_io_entries(const struct c3fs_ior *ior);

/* Queue one I/O: read (must equal ior->for_read) len bytes of registered fd at off into
 * ptr, or write them from ptr.  [ptr, ptr + len) must lie in iov.  Returns the index the
 * completion will carry (>= 0), or -EINVAL (direction, range, len 0 or > 2 GiB - 1),
 * -EBADF (fd not registered), -EACCES (fd not opened for that direction), -EAGAIN (ring
 * full: reap completions first).  Nothing is sent until c3fs_submit_ios. */
int c3fs_prep_io(const struct c3fs_ior *ior, const struct c3fs_iov *iov, bool read, void *ptr,
		 int fd, size_t off, uint64_t len, const void *userdata);
/* Publish the queued I/Os and wake the daemon.  Returns 0 or -errno. */
int c3fs_submit_ios(const struct c3fs_ior *ior);
/* Reap up to cqec completions into cqes, waiting until at least min_results are there or
 * abs_timeout (CLOCK_REALTIME; NULL = forever) passes.  Returns the number reaped (may be
 * less than min_results on timeout) or -errno. */
int c3fs_wait_for_ios(const struct c3fs_ior *ior, struct c3fs_cqe *cqes, int cqec,
		      int min_results, const struct timespec *abs_timeout);

#ifdef __cplusplus
}
#endif

#endif
