/* c3fs.h — libc3fs, the c3fs client library: the whole public contract.
 *
 * A struct c3fs_client is one process's connection to a c3fs cluster: it follows mgmtd
 * (routing information: meta nodes, storage nodes, chains), sends metadata operations to
 * the meta service with the caller's credentials, and moves file data to and from the
 * storage service, striped over chains by the file's layout, many chunk requests in
 * flight at once.
 *
 * The API is inode based (like the FUSE low-level API and like the meta service): most
 * calls name a parent directory inode and an entry name.  Paths are only accepted by
 * c3fs_path_lookup().
 *
 * Errors: every function returns 0 (or a byte count where stated) on success and a
 * negative code on failure: -errno (ENOENT, EACCES, ENOTEMPTY, ENOSPC, ...) or a c3fs code
 * -C3FS_E* (see src/common/errors.def; c3_errno_of() maps one to the errno an
 * application should see).  No function prints.
 *
 * Permissions are checked by the meta service with the credentials passed in each call
 * (uid, gid, supplementary groups); the library does not check anything itself.
 *
 * Retries (invisible to the caller, all bounded):
 *   - a meta node that cannot be reached is replaced by another one from routing;
 *   - a storage request refused with -C3FS_ECHAINVER (stale chain version), or sent to a
 *     target that is no longer the head, refreshes routing and is sent again;
 *   - a read that fails on one replica (including -C3FS_ECHECKSUM) is sent to another
 *     serving replica of the chain;
 *   - a write whose chain is being reconfigured waits (up to opts.write_wait_ms) for the
 *     chain to serve again and goes on; every write carries (client id, channel, seq) so
 *     the storage service applies a retried write exactly once.
 *
 * Threads: every function may be called from any number of threads at once, except that
 * c3fs_client_free() must be the last call.  A struct c3fs_file may be used by several
 * threads at once (reads and writes at different offsets run in parallel); c3fs_close()
 * must be its last use.
 */
#ifndef C3FS_C3FS_H
#define C3FS_C3FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "errors.h" /* the C3FS_E* codes */

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ client */

struct c3fs_client;

struct c3fs_client_opts {
	const char *mgmtd_addrs;   /* "ip:port[,ip:port...]", required */
	const char *token;         /* cluster token; NULL = "" */
	uint32_t timeout_ms;       /* one RPC's deadline; 0 = 10000 */
	uint32_t ready_timeout_ms; /* c3fs_client_new waits this long for routing; 0 = 10000 */
	uint32_t write_wait_ms;    /* how long a write waits for its chain; 0 = 60000 */
	uint32_t length_sync_ms;   /* long writers report the file length this often; 0 = 30000 */
	int io_threads;            /* RPC I/O threads; 0 = 2 */
	int conns_per_peer;        /* connections per server; 0 = 2 */
	int write_behind_threads;  /* workers for c3fs_pwrite_async; 0 = 8 */
	uint32_t write_behind_bytes; /* most bytes queued per inode; 0 = 16 MiB */
	/* Directories this client changes (create, unlink, mkdir, ... in them): the change's
	 * reply carries the directory's new attributes, and c3fs_getattr answers from them
	 * for this long without asking meta.  Another client's change to such a directory
	 * is seen up to this much later.  0 = off (every getattr asks meta). */
	uint32_t dir_attr_ttl_ms;
	uint32_t meta_wait_ms;     /* how long a metadata call retries while no meta node
				    * answers, then -C3FS_ETIMEDOUT; 0 = 60000 */
	/* A call that is waiting out a failure (a metadata call retrying while no meta node
	 * answers, a blocking read or write retrying a chain that does not serve, an fsync or
	 * close that has waited 2 s for queued writes) asks this
	 * between tries and at least every 100 ms of its back-off, on the calling thread:
	 * true = give up now with -EINTR (a write may then be partly applied).  A call that is not retrying never
	 * asks, so a call that works is never cut short.  For a FUSE daemon that honours
	 * INTERRUPT (c3fs-fuse).  NULL = never. */
	bool (*interrupted)(void);
	/* Live configuration pushed by mgmtd (`c3fs-admin set-config client KEY=VALUE`), for
	 * a program with a c3fs config table (c3fs-fuse): live_cfg_table is its
	 * `struct c3_cfg_table` (src/common/config.h), live_cfg_base its settings as read at
	 * start (read, never written; must outlive the client).  At each new configuration
	 * version the reloadable keys mgmtd holds for this client are applied over a copy of
	 * the base and on_live_config gets that copy (valid during the call only, on the
	 * library's background thread).  NULL table = off. */
	const void *live_cfg_table;
	const void *live_cfg_base;
	size_t live_cfg_size;
	void (*on_live_config)(void *arg, const void *cfg, uint64_t version);
	void *live_cfg_arg;
	/* The user token (c3fs-admin user-add; docs/OPERATIONS.md "Users and tokens") sent
	 * once per connection; meta nodes with auth.users = true refuse requests without a
	 * known one (-C3FS_EUSERTOKEN) and requests for another uid than the user's
	 * (-EPERM) unless it is a root user.  NULL = "" = none. */
	const char *user_token;
};

/* Connect: start following mgmtd and wait (opts.ready_timeout_ms) for the first routing
 * snapshot.  On success *out is a new client the caller frees with c3fs_client_free().
 * Returns 0, -EINVAL (bad options, a user token longer than 127 bytes), -C3FS_ETIMEDOUT
 * (mgmtd did not answer in time), -ENOMEM; on failure nothing is left to free. */
int c3fs_client_new(const struct c3fs_client_opts *opts, struct c3fs_client **out);

/* Change settings of a running client (live configuration): write_wait_ms, meta_wait_ms
 * and write_behind_bytes of opts, where not 0 (every other field is ignored); calls
 * started before keep the values they began with.  0 or -EINVAL (write_behind_bytes
 * below 1 MiB). */
int c3fs_client_reconfigure(struct c3fs_client *cl, const struct c3fs_client_opts *opts);

/* Close every connection and free the client.  Every struct c3fs_file must have been
 * closed before (c3fs_close).  NULL allowed. */
void c3fs_client_free(struct c3fs_client *cl);

/* The root directory's inode number. */
uint64_t c3fs_root_ino(const struct c3fs_client *cl);

/* Inode numbers at or above this value are never handed out by the meta service; a user
 * of the library (c3fs-fuse's 3fs-virt directory) may use them for its own objects. */
#define C3FS_INO_RESERVED_MIN 0xffffff0000000000ull

/* ------------------------------------------------------------------ types */

#define C3FS_CRED_MAX_GROUPS 64
#define C3FS_NAME_MAX 255
#define C3FS_PATH_MAX 4096
#define C3FS_XATTR_NAME_MAX 255
#define C3FS_XATTR_SIZE_MAX 65536

/* The identity a request runs as.  The caller fills it (c3fs-fuse from the FUSE request);
 * the library copies what it needs, so it may live on the caller's stack. */
struct c3fs_cred {
	uint32_t uid;
	uint32_t gid;
	uint32_t ngroups;                        /* <= C3FS_CRED_MAX_GROUPS */
	uint32_t groups[C3FS_CRED_MAX_GROUPS];   /* supplementary groups */
};

/* Attributes of one inode, as stat(2) would report them. */
struct c3fs_attr {
	uint64_t ino;
	uint32_t mode;        /* type bits (S_IFREG, S_IFDIR, ...) | permission bits */
	uint32_t uid, gid;
	uint32_t nlink;
	uint32_t rdev;        /* device number for device nodes */
	uint64_t size;        /* bytes (files: as last reported; symlinks: target length) */
	uint64_t blocks;      /* 512-byte blocks allocated (estimate) */
	uint32_t blksize;     /* preferred I/O size (the chunk size for files) */
	int64_t atime_ns, mtime_ns, ctime_ns; /* since the epoch */
};

/* ------------------------------------------------------------------ metadata */

/* Look up name in directory parent.  -ENOENT, -ENOTDIR, -EACCES (no search permission). */
int c3fs_lookup(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
		const char *name, struct c3fs_attr *out);

/* Resolve a path relative to the root (leading '/' optional; "." and ".." handled,
 * symlinks in the middle of the path followed up to 40 times, the last component is
 * not followed).  Returns 0 with *out filled, or an error of c3fs_lookup. */
int c3fs_path_lookup(struct c3fs_client *cl, const struct c3fs_cred *cr, const char *path,
		     struct c3fs_attr *out);

int c3fs_getattr(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
		 struct c3fs_attr *out);

/* Which fields of a struct c3fs_setattr apply. */
#define C3FS_SET_MODE      (1u << 0)
#define C3FS_SET_UID       (1u << 1)
#define C3FS_SET_GID       (1u << 2)
#define C3FS_SET_SIZE      (1u << 3)  /* truncate or extend (regular files) */
#define C3FS_SET_ATIME     (1u << 4)  /* to atime_ns */
#define C3FS_SET_MTIME     (1u << 5)  /* to mtime_ns */
#define C3FS_SET_ATIME_NOW (1u << 6)  /* to the server's time */
#define C3FS_SET_MTIME_NOW (1u << 7)
/* (1u << 8) is not used: ctime is always the server's time of the change, as POSIX has
 * it; no caller can set it. */

struct c3fs_setattr {
	uint32_t valid;       /* C3FS_SET_* bits */
	uint32_t mode;        /* permission bits only (07777) */
	uint32_t uid, gid;
	uint64_t size;
	int64_t atime_ns, mtime_ns;
	int64_t ctime_ns;     /* unused (ctime is set by meta); kept for the layout */
};

/* Change attributes in one meta transaction (POSIX rules: only the owner or root chmods,
 * chown to another user is root only, chgrp to a group the owner belongs to, chmod by a
 * non-member clears setgid, a write by a non-root clears setuid/setgid, ...).  A size
 * change also removes or zeroes the chunks past the new end on the storage service.
 * file may be NULL; when given (ftruncate) and open for writing, the size change goes
 * through its session (allowed whatever the mode is now, as POSIX ftruncate).  *out gets
 * the new attributes (may be NULL). */
struct c3fs_file;
int c3fs_setattr(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
		 struct c3fs_file *file, const struct c3fs_setattr *sa, struct c3fs_attr *out);

/* Create a node that is not a regular file opened for I/O: S_IFREG (empty file),
 * S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK (mode carries the type; rdev the device).
 * The caller applies its umask to mode before the call.  -EEXIST, -ENOENT, -EACCES... */
int c3fs_mknod(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
	       const char *name, uint32_t mode, uint32_t rdev, struct c3fs_attr *out);
int c3fs_mkdir(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
	       const char *name, uint32_t mode, struct c3fs_attr *out);
int c3fs_symlink(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
		 const char *name, const char *target, struct c3fs_attr *out);
/* Copy the target of symlink ino, NUL-terminated, into buf (size bufsz).  Returns the
 * target length (without NUL), -ENAMETOOLONG when it does not fit, -EINVAL if ino is not
 * a symlink. */
int c3fs_readlink(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino, char *buf,
		  size_t bufsz);
/* Hard link: a new entry newparent/newname for inode ino (not a directory). */
int c3fs_link(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
	      uint64_t newparent, const char *newname, struct c3fs_attr *out);
/* Remove a non-directory entry.  An open file's data stays until its last session ends. */
int c3fs_unlink(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
		const char *name);
/* Remove an empty directory (-ENOTEMPTY otherwise). */
int c3fs_rmdir(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
	       const char *name);
/* Remove parent/name and, if it is a directory, everything below it, in one request to
 * the meta service (each entry checked against cr as rm -rf would). */
int c3fs_remove_recursive(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
			  const char *name);

#define C3FS_RENAME_NOREPLACE (1u << 0) /* same values as renameat2's flags */
#define C3FS_RENAME_EXCHANGE  (1u << 1)
/* Atomic rename with renameat2 semantics (flags C3FS_RENAME_*; -EINVAL for others).
 * Moving a directory below itself is -EINVAL. */
int c3fs_rename(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
		const char *name, uint64_t newparent, const char *newname, unsigned flags);

/* access(2) check of mask (R_OK|W_OK|X_OK, or F_OK) by the meta service. */
int c3fs_access(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino, int mask);

struct c3fs_statfs {
	uint64_t capacity_bytes;
	uint64_t free_bytes;
	uint64_t used_bytes;
	uint64_t files;       /* inodes in use */
};
int c3fs_statfs(struct c3fs_client *cl, const struct c3fs_cred *cr, struct c3fs_statfs *out);

/* Extended attributes (user.*, trusted.* as root, security.*).  flags: XATTR_CREATE /
 * XATTR_REPLACE.  get/list: with size 0 return the size needed; otherwise copy and return
 * the length, or -ERANGE when buf is too small.  -ENODATA when absent. */
int c3fs_setxattr(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
		  const char *name, const void *value, size_t size, int flags);
int c3fs_getxattr(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
		  const char *name, void *buf, size_t size);
/* The names, each NUL-terminated, one after the other (listxattr(2) format). */
int c3fs_listxattr(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
		   char *buf, size_t size);
int c3fs_removexattr(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
		     const char *name);

/* ------------------------------------------------------------------ directories */

struct c3fs_dirent {
	uint64_t ino;
	uint32_t type;                 /* S_IF* type bits of the entry */
	char name[C3FS_NAME_MAX + 1];
	bool has_attr;                 /* attr valid (C3FS_READDIR_PLUS) */
	struct c3fs_attr attr;
};

#define C3FS_READDIR_PLUS 1u /* also fetch each entry's attributes */

/* One page of directory ino, entries whose names sort after `after` ("" = from the
 * start), at most max.  Returns the number stored (0 = end of directory).  "." and ".."
 * are not included.  Needs read permission on the directory. */
int c3fs_readdir(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
		 const char *after, struct c3fs_dirent *ents, int max, unsigned flags);

/* ------------------------------------------------------------------ files */

struct c3fs_file;

/* Open flags (the O_* of open(2)): O_RDONLY/O_WRONLY/O_RDWR, O_TRUNC, O_APPEND, O_EXCL
 * and O_CREAT for c3fs_create.  A write-open starts a session on the meta service (so an
 * unlinked open file stays readable and writable until closed). */

/* Open inode ino.  Permission is checked by meta.  *out is freed by c3fs_close. */
int c3fs_open(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino, int flags,
	      struct c3fs_file **out);
/* Create parent/name (O_EXCL honoured: -EEXIST) and open it, in one meta request.
 * attr (may be NULL) receives the new file's attributes. */
int c3fs_create(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
		const char *name, uint32_t mode, int flags, struct c3fs_attr *attr,
		struct c3fs_file **out);

uint64_t c3fs_file_ino(const struct c3fs_file *f);
/* The file's attributes as meta reported them at open (or at the last length report),
 * merged with this client's unreported writes.  No RPC. */
void c3fs_file_attr(const struct c3fs_file *f, struct c3fs_attr *out);

/* Read up to len bytes at off into buf.  Returns the bytes read: short only at the end of
 * the file; holes read as zeros.  The reply data is received straight into buf.  These
 * blocking calls are one asynchronous operation (below) run on the caller's thread. */
ssize_t c3fs_pread(struct c3fs_file *f, void *buf, size_t len, uint64_t off);
/* Write len bytes from buf at off (ignored with O_APPEND: the end of the file as known by
 * this client).  Returns len, or an error (no partial writes are reported: on error some
 * chunks may have been written).  -EBADF for a read-only open, -ENOSPC when a target is
 * full.  The data is sent straight from buf. */
ssize_t c3fs_pwrite(struct c3fs_file *f, const void *buf, size_t len, uint64_t off);
/* Write-behind: copy buf, queue the write, return len at once; worker threads write it
 * (jobs of one inode that overlap keep their order, others run in parallel).  Blocks
 * while opts.write_behind_bytes are queued for the inode.  An error of a queued write is
 * returned once, by the next c3fs_pwrite_async, c3fs_fsync or c3fs_close of a file of
 * that inode.  Reads, size changes, fsync and close of the inode wait for its queued
 * writes first, and attributes include their length: callers see their own writes. */
ssize_t c3fs_pwrite_async(struct c3fs_file *f, const void *buf, size_t len, uint64_t off);
/* Vectored forms (same rules).  iov is read only. */
struct iovec;
ssize_t c3fs_preadv(struct c3fs_file *f, const struct iovec *iov, int iovcnt, uint64_t off);
ssize_t c3fs_pwritev(struct c3fs_file *f, const struct iovec *iov, int iovcnt, uint64_t off);

/* Wait for the inode's write-behind jobs, then report the file's length to meta (writes
 * are durable on the storage service when they complete).  Returns the first error of a
 * queued write, else the report's.  datasync is accepted for symmetry. */
int c3fs_fsync(struct c3fs_file *f, bool datasync);
/* Punch a hole: bytes [off, off+len) of the file read as zeros afterwards and the file
 * size does not change (fallocate(2) PUNCH_HOLE|KEEP_SIZE).  Chunks wholly inside the
 * range are removed from the storage service (their space freed); the parts of partly
 * covered chunks below the end of the file are overwritten with zeros through the write
 * path.  The inode's queued write-behind jobs overlapping the range land first, so a
 * punch never races an earlier c3fs_pwrite_async.  Counts as a write for the length
 * report (mtime).  len 0 does nothing.  Returns 0, -EBADF (read-only open), -EFBIG (the
 * range ends beyond the largest file a layout can address, or overflows), -EINTR
 * (opts.interrupted while waiting out a failure), or a storage/meta error (some chunks
 * may then be punched already). */
int c3fs_punch_hole(struct c3fs_file *f, uint64_t off, uint64_t len);
/* The length this client knows (max of meta's length at open and what it wrote). */
uint64_t c3fs_file_size_hint(const struct c3fs_file *f);
/* Report the length, end the session, free f.  Returns the result of the final report
 * (f is freed anyway). */
int c3fs_close(struct c3fs_file *f);
/* Same, and *out (when the close reported a length: out->ino != 0) receives the
 * attributes meta replied with; out->ino = 0 when the close did not fetch them. */
int c3fs_close_attr(struct c3fs_file *f, struct c3fs_attr *out);

/* ------------------------------------------------------------------ asynchronous I/O
 *
 * Many reads and writes in flight from one thread, none of them holding a thread: submit
 * a batch, reap completions (poll/epoll the context's eventfd, or block in
 * c3fs_aio_reap).  Each operation has the semantics of c3fs_preadv / c3fs_pwritev (which
 * are the same operation run on the caller's thread): reads are short only at the end of
 * the file and read holes as zeros, writes extend the file's length, O_APPEND writes go to
 * the end as known by this client, every retry rule of the blocking calls applies, and
 * every operation completes (with bytes or an error) within about opts.write_wait_ms per
 * 64 chunks plus one RPC timeout, whatever the cluster does.
 *
 * Operations in flight at once are independent (like io_submit(2)): two overlapping
 * writes submitted together land in no defined order.  A read submitted after the
 * completion of a write sees it.
 */
struct c3fs_aio_ctx;

#define C3FS_AIO_READ  0
#define C3FS_AIO_WRITE 1

struct c3fs_aio_op {
	struct c3fs_file *f;          /* open file; not closed before the operation is reaped */
	int op;                       /* C3FS_AIO_READ or C3FS_AIO_WRITE */
	uint64_t off;                 /* file offset (ignored by O_APPEND writes) */
	const struct iovec *iov;      /* the buffers: the array is copied at submit, the memory
				       * it points to must stay valid until reaped; reads land
				       * in it straight from the network, writes go from it */
	int iovcnt;                   /* 0..IOV_MAX */
	void *userdata;               /* returned in the event */
	unsigned flags;               /* C3FS_AIO_F_* */
};
/* A read that would return bytes of a hole (a range inside the file that no write ever
 * reached: it reads as zeros) fails with -EINVAL instead (USRBIO's FORBID_READ_HOLES). */
#define C3FS_AIO_F_FORBID_HOLES 1u

struct c3fs_aio_event {
	void *userdata;
	int64_t result;               /* bytes read or written, or a negative code */
};

/* A completion queue for operations of client cl.  Any number of threads may submit to
 * and reap from one context at once.  Returns 0, -EINVAL, -ENOMEM, or -errno (eventfd). */
int c3fs_aio_ctx_new(struct c3fs_client *cl, struct c3fs_aio_ctx **out);
/* Wait for every submitted operation to complete, drop events not reaped, free.  Must
 * come before c3fs_client_free.  NULL allowed. */
void c3fs_aio_ctx_free(struct c3fs_aio_ctx *ctx);
/* An eventfd (non-blocking) that is readable while completions wait to be reaped; reap
 * resets it when it takes the last one.  Owned by the context. */
int c3fs_aio_ctx_fd(const struct c3fs_aio_ctx *ctx);

/* Submit n operations in order.  Returns how many were submitted: each of those completes
 * exactly once; the first one refused stops the submission, and when it is ops[0] its
 * code is returned instead (-EINVAL bad op/iov, -EBADF write to a read-only open or no
 * file, -EFBIG, -ENOMEM, or an error of the metadata call that widens a file's stripe).
 * May block: a read first waits for the inode's queued write-behind jobs it overlaps, a
 * write that reaches chains the file does not use yet asks meta first.  Operations of
 * length 0 complete at once with 0. */
int c3fs_aio_submit(struct c3fs_aio_ctx *ctx, const struct c3fs_aio_op *ops, int n);
/* Take up to max completions (in completion order) into ev.  Waits until min are there,
 * at most timeout_ms (-1 = no limit, 0 = do not wait), like io_getevents(2) also for
 * operations another thread has yet to submit.  Returns the number taken (fewer than min
 * on timeout), or -EINVAL. */
int c3fs_aio_reap(struct c3fs_aio_ctx *ctx, struct c3fs_aio_event *ev, int min, int max,
		  int timeout_ms);

/* ------------------------------------------------------------------ errors */

/* Message for a code returned by this library (static string). */
const char *c3fs_strerror(int code);
/* The errno an application should see for a code (positive). */
int c3fs_errno(int code);

#ifdef __cplusplus
}
#endif

#endif
