/* usrbio.h — the USRBIO server side of c3fs-fuse (usrbio.c): the registration entries of
 * <mount>/3fs-virt/iovs/ and the rings it serves (the is_c3fs ioctl is in ioctl.c).
 *
 * virt.c forwards what happens in 3fs-virt/iovs here (lookup, readdir, symlink, readlink,
 * stat of our inodes); ops.c forwards unlink in that directory; main.c calls
 * usrbio_start() once the client is up and usrbio_stop() before it is freed.
 * Protocol, ring layout and limits: src/usrbio/README.md and src/usrbio/ring.h.
 */
#ifndef C3_FUSE_USRBIO_H
#define C3_FUSE_USRBIO_H

#include "fuse/fuse_int.h"

/* Inode numbers of the registration entries: this range, inside the virtual one. */
#define USRBIO_INO_MIN (C3FS_INO_RESERVED_MIN + 0x100)

/* Create the submit semaphores, start the dispatcher, worker and reaper threads.  On
 * failure (logged) USRBIO is off: registrations are refused with EOPNOTSUPP. */
int usrbio_start(struct fusefs *fs);
/* Stop the threads, drop every registration (closing the files the rings opened: call it
 * before the client is freed), remove the semaphores.  Safe if usrbio_start failed. */
void usrbio_stop(void);

static inline bool usrbio_owns_ino(uint64_t ino) { return ino >= USRBIO_INO_MIN; }
bool usrbio_stat(uint64_t ino, struct stat *st);
void usrbio_lookup(fuse_req_t req, const char *name);
void usrbio_readdir(fuse_req_t req, size_t size, off_t off, bool plus);
void usrbio_readlink(fuse_req_t req, uint64_t ino);
/* ln -s TARGET 3fs-virt/iovs/NAME: register an iov or a ring. */
void usrbio_symlink(fuse_req_t req, const char *target, const char *name);
/* rm 3fs-virt/iovs/NAME: unregister (owner or root). */
void usrbio_unlink(fuse_req_t req, const char *name);

#endif
