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
 * failure, except c3fs_reg_fd, c3fs_hardlink and c3fs_punchhole (positive errno, as 3FS's;
 * see there).  No function prints (set C3FS_USRBIO_LOG=1 in
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
#include <sys/ioctl.h>
#include <sys/types.h>
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

/* ------------------------------------------------------------------ hard links, holes
 *
 * 3FS's two extra calls, over the mount's ioctls (below).  Unlike the calls above they
 * return 0 or a POSITIVE errno, as 3FS's do. */

/* Hard link: a new entry link_name for the file target (both in the same c3fs mount).
 * link(2)'s rules with the caller's credentials: write and search permission on the new
 * directory, search permission on every directory above it, a directory target is EPERM,
 * an existing link_name EEXIST, and with fs.protected_hardlinks = 1 a non-owner needs
 * read and write access to a regular, non-setuid file.  EXDEV when link_name's directory
 * is not in target's mount, ENAMETOOLONG for a last component of 255 bytes or more (the
 * ioctl's name field holds 254 and a NUL), errors of open(target) and stat(dirname). */
int c3fs_hardlink(const char *target, const char *link_name);
/* Punch n holes [start[i], end[i]) in the file open for writing as fd (any byte offsets;
 * start == end is nothing): the bytes read as zeros afterwards, the file size does not
 * change, whole chunks in a range are removed from the storage service (their space
 * freed) and the pieces of partly covered chunks are overwritten with zeros.  Writes to
 * fd queued before the call land before the holes are made.  flags must be 0.  EINVAL (n
 * < 0 or > C3FS_IOCTL_PUNCH_HOLE_MAX, start > end, flags, NULL arrays with n > 0), EBADF
 * (fd not open for writing), EISDIR, EFBIG (a range beyond the largest file), ENOTTY (not
 * a c3fs file), or a storage error; ranges before a failing one are punched. */
int c3fs_punchhole(int fd, int n, const size_t *start, const size_t *end, size_t flags);

/* ------------------------------------------------------------------ ioctls of the mount
 *
 * c3fs-fuse answers 3FS's ioctls (3FS's src/lib/api/fuse.h: type 'h', same numbers, same
 * argument layouts, so code written against them works after renaming the prefix) on any
 * file or directory of the mount; the library calls above use them.  ioctl(2) returns 0
 * or -1 with errno: ENOTTY for an unknown command, EINVAL for a malformed argument, the
 * errno of the equivalent POSIX call otherwise.  Inode numbers are st_ino of the mount.
 *
 *   C3FS_IOC_GET_MOUNT_NAME   out: the mount's name ("c3fs", its fsname in /proc/mounts;
 *                             3FS: the cluster id), NUL-terminated
 *   C3FS_IOC_GET_PATH_OFFSET  out: strlen of the mountpoint's canonical path (a path below
 *                             the mount, from that offset on, is its path inside c3fs)
 *   C3FS_IOC_GET_MAGIC_NUM    out: C3FS_SUPER_MAGIC (3FS's HF3FS_SUPER_MAGIC)
 *   C3FS_IOC_GET_IOCTL_VERSION out: 1
 *   C3FS_IOC_RECURSIVE_RM     on a directory: remove it and everything below, as rm -rf
 *                             by the caller would (ENOTDIR on other files: a file has no
 *                             path of its own; EBUSY on the root)
 *   C3FS_IOC_FSYNC            fsync(2) of that descriptor (directories: nothing to do)
 *   C3FS_IOC_HARDLINK         on the link's target: link(2) to {ino = new directory,
 *                             str = new name}
 *   C3FS_IOC_PUNCH_HOLE       on a file open for writing: see c3fs_punchhole
 *   C3FS_IOC_MOVE             on directory srcParent: rename(2) srcName to dstParent/dstName
 *                             (srcParent must be the descriptor's inode: EINVAL);
 *                             moveToTrash: EOPNOTSUPP (c3fs has no trash)
 *   C3FS_IOC_REMOVE           on directory parent: unlink(2) or rmdir(2) of name,
 *                             recursive = as rm -rf (parent must be the descriptor's inode)
 * Names are plain entry names (no '/', not "." or ".."), NUL-terminated inside their field.
 * A directory named by inode number (HARDLINK ino, MOVE dstParent) must be reachable by
 * the caller: search permission on it and on every directory above it, as a path walk.
 */
#define C3FS_IOCTYPE_ID 'h'
#define C3FS_IOCTL_PUNCH_HOLE_MAX 1000
#define C3FS_SUPER_MAGIC 0x8f3f5fffu

struct c3fs_ioctl_get_mount_name_arg {
	char str[32];
};

struct c3fs_ioctl_hardlink_arg {
	ino_t ino;                /* the new entry's directory */
	char str[255];            /* the new entry's name */
};

struct c3fs_ioctl_punch_hole_arg {
	int n;
	size_t flags;
	size_t start[C3FS_IOCTL_PUNCH_HOLE_MAX];
	size_t end[C3FS_IOCTL_PUNCH_HOLE_MAX];
};

struct c3fs_ioctl_move {
	uint64_t srcParent;
	char srcName[256];
	uint64_t dstParent;
	char dstName[256];
	bool moveToTrash;
};

struct c3fs_ioctl_remove {
	uint64_t parent;
	char name[256];
	bool recursive;
};

#define C3FS_IOC_GET_MOUNT_NAME    _IOR(C3FS_IOCTYPE_ID, 0, struct c3fs_ioctl_get_mount_name_arg)
#define C3FS_IOC_GET_PATH_OFFSET   _IOR(C3FS_IOCTYPE_ID, 1, uint32_t)
#define C3FS_IOC_GET_MAGIC_NUM     _IOR(C3FS_IOCTYPE_ID, 2, uint32_t)
#define C3FS_IOC_GET_IOCTL_VERSION _IOR(C3FS_IOCTYPE_ID, 3, uint32_t)
#define C3FS_IOC_RECURSIVE_RM      _IOR(C3FS_IOCTYPE_ID, 10, uint32_t)
#define C3FS_IOC_FSYNC             _IOR(C3FS_IOCTYPE_ID, 11, uint32_t)
#define C3FS_IOC_HARDLINK          _IOW(C3FS_IOCTYPE_ID, 12, struct c3fs_ioctl_hardlink_arg)
#define C3FS_IOC_PUNCH_HOLE        _IOW(C3FS_IOCTYPE_ID, 13, struct c3fs_ioctl_punch_hole_arg)
#define C3FS_IOC_MOVE              _IOW(C3FS_IOCTYPE_ID, 14, struct c3fs_ioctl_move)
#define C3FS_IOC_REMOVE            _IOW(C3FS_IOCTYPE_ID, 15, struct c3fs_ioctl_remove)

#ifdef __cplusplus
}
#endif

#endif
