/* ioctl.c — the ioctls of a c3fs mount: 3FS's type-'h' commands (numbers and argument
 * layouts in include/c3fs/usrbio.h, the same as 3FS's src/lib/api/fuse.h) and USRBIO's
 * own is_c3fs command (src/usrbio/ring.h).
 *
 * How an ioctl reaches us: FUSE ioctls are "restricted" (only CUSE may be unrestricted):
 * the kernel copies _IOC_SIZE(cmd) bytes in for _IOW commands and back out for _IOR ones,
 * so every argument is a fixed-size struct, the largest 3FS's punch-hole one (16016 bytes,
 * 1000 ranges; the kernel takes up to its max_pages).  A 32-bit caller's structs have
 * other sizes, hence other command numbers: they get ENOTTY like any unknown command.
 *
 * Every argument is checked before use (fusefs_ioc_check, ioctl_arg.c): sizes, names
 * NUL-terminated inside their field and plain, bools 0 or 1, counts and ranges in
 * bounds.  Then each command does what the equivalent POSIX call does, with the caller's
 * credentials, checked by meta: link(2), rename(2), unlink(2)/rmdir(2), rm -rf, fsync(2),
 * fallocate(2) PUNCH_HOLE.
 * Two checks are made here because an inode number replaces a path: a directory named by
 * number must be reachable by the caller (search permission on it and on every directory
 * above it, as a path walk would need), and a hard link obeys fs.protected_hardlinks as
 * the kernel's may_linkat does.  The kernel holds no lock of ours during an ioctl, so its
 * cached entries and pages are invalidated before the reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "c3fs/usrbio.h"
#include "common/log.h"
#include "fuse/fuse_int.h"
#include "usrbio/ring.h"

#define IOC_VERSION 1       /* C3FS_IOC_GET_IOCTL_VERSION: 3FS's command set, version 1 */
#define IOC_MAX_DEPTH 4096  /* directories walked up from one directory (a bound) */
#define IOC_DIR_PAGE 64     /* entries per readdir page when looking for a name */

static const struct c3fs_cred ioc_root; /* uid 0: the daemon's own lookups */

/* ------------------------------------------------------------------ checks by number */

/* Search permission for cr on dir and on every directory above it: what a path walk to
 * dir needs.  0, -EACCES, -ENOENT, -ENOTDIR (dir is not a directory). */
static int ioc_reachable(struct fusefs *fs, const struct c3fs_cred *cr, uint64_t dir)
{
	uint64_t root = c3fs_root_ino(fs->cl);
	struct c3fs_attr a;
	int rc;

	for (int depth = 0; depth < IOC_MAX_DEPTH; depth++) {
		rc = c3fs_lookup(fs->cl, cr, dir, "..", &a); /* needs search permission on dir */
		if (rc || dir == root)
			return rc;
		if (a.ino == dir)
			break;
		dir = a.ino;
	}
	return -ELOOP;
}

/* fs.protected_hardlinks (the kernel's may_linkat): a caller who neither is root nor owns
 * ino may link it only when it is a regular file, not setuid, not setgid-executable, and
 * the caller may read and write it.  0 or -EPERM (or an error reading the inode). */
static int ioc_may_link(struct fusefs *fs, const struct c3fs_cred *cr, uint64_t ino)
{
	struct c3fs_attr a;
	char v = '0';
	int fd, rc;

	fd = open("/proc/sys/fs/protected_hardlinks", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &v, 1) != 1)
			v = '1'; /* unknown: the safe answer */
		close(fd);
	}
	if (v == '0' || cr->uid == 0)
		return 0;
	rc = c3fs_getattr(fs->cl, &ioc_root, ino, &a);
	if (rc)
		return rc;
	if (a.uid == cr->uid)
		return 0;
	if (!S_ISREG(a.mode) || (a.mode & S_ISUID) ||
	    (a.mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		return -EPERM;
	return c3fs_access(fs->cl, cr, ino, R_OK | W_OK) ? -EPERM : 0;
}

/* The name of directory dir in its parent (*parent).  The daemon's own lookups: the
 * caller holds the directory open, and the name is not returned to it. */
static int ioc_dir_name(struct fusefs *fs, uint64_t dir, uint64_t *parent, char *name)
{
	struct c3fs_dirent *ents;
	struct c3fs_attr a;
	char after[C3FS_NAME_MAX + 1] = "";
	int n, rc;

	rc = c3fs_getattr(fs->cl, &ioc_root, dir, &a);
	if (rc)
		return rc;
	if (!S_ISDIR(a.mode))
		return -ENOTDIR; /* a file has no path of its own (hard links) */
	if (dir == c3fs_root_ino(fs->cl))
		return -EBUSY;
	rc = c3fs_lookup(fs->cl, &ioc_root, dir, "..", &a);
	if (rc)
		return rc;
	*parent = a.ino;
	ents = calloc(IOC_DIR_PAGE, sizeof(*ents));
	if (!ents)
		return -ENOMEM;
	rc = -ENOENT; /* removed or moved meanwhile */
	while ((n = c3fs_readdir(fs->cl, &ioc_root, *parent, after, ents, IOC_DIR_PAGE, 0)) > 0) {
		for (int i = 0; i < n; i++)
			if (ents[i].ino == dir) {
				snprintf(name, C3FS_NAME_MAX + 1, "%s", ents[i].name);
				rc = 0;
				goto out;
			}
		snprintf(after, sizeof(after), "%s", ents[n - 1].name);
	}
	if (n < 0)
		rc = n;
out:
	free(ents);
	return rc;
}

static void ioc_inval_entry(struct fusefs *fs, uint64_t parent, const char *name)
{
	if (fs->se)
		fuse_lowlevel_notify_inval_entry(fs->se, parent, name, strlen(name));
}

/* ------------------------------------------------------------------ commands */

static int ioc_hardlink(struct fusefs *fs, const struct c3fs_cred *cr, uint64_t ino,
			const struct c3fs_ioctl_hardlink_arg *a)
{
	uint64_t dir = (uint64_t)a->ino;
	int rc;

	if (fusefs_is_virt_name(dir, a->str))
		return -EEXIST;
	if (virt_is(dir))
		return -EPERM;
	rc = ioc_reachable(fs, cr, dir);
	if (rc == 0)
		rc = ioc_may_link(fs, cr, ino);
	if (rc == 0)
		rc = c3fs_link(fs->cl, cr, ino, dir, a->str, NULL);
	if (rc == 0) {
		ioc_inval_entry(fs, dir, a->str);
		if (fs->se) /* nlink and ctime changed */
			fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	}
	return rc;
}

static int ioc_punch(struct fusefs *fs, uint64_t ino, struct fuse_file_info *fi,
		     unsigned flags, const struct c3fs_ioctl_punch_hole_arg *a)
{
	struct fusefs_fh *fh = fi ? (struct fusefs_fh *)(uintptr_t)fi->fh : NULL;
	uint64_t lo = UINT64_MAX, hi = 0;
	int rc = 0, i;

	if (flags & FUSE_IOCTL_DIR)
		return -EISDIR;
	if (!fh)
		return -EBADF;
	for (i = 0; i < a->n && rc == 0; i++) {
		if (a->start[i] == a->end[i])
			continue;
		rc = c3fs_punch_hole(fh->f, a->start[i], a->end[i] - a->start[i]);
		if (a->start[i] < lo)
			lo = a->start[i];
		if (a->end[i] > hi)
			hi = a->end[i];
	}
	if (rc == 0 && lo < hi)
		__atomic_store_n(&fh->wrote, true, __ATOMIC_RELAXED); /* close(2) reports */
	/* the kernel's pages of what was punched (also when a later range failed) */
	if (fs->se && lo < hi)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, (off_t)lo,
						 hi - lo > (uint64_t)INT64_MAX ? 0 : (off_t)(hi - lo));
	return rc;
}

static int ioc_move(struct fusefs *fs, const struct c3fs_cred *cr, uint64_t ino,
		    const struct c3fs_ioctl_move *a)
{
	int rc = 0;

	if (fusefs_is_virt_name(ino, a->srcName) || fusefs_is_virt_name(a->dstParent, a->dstName))
		return -EBUSY;
	if (virt_is(a->dstParent))
		return -EPERM;
	if (a->dstParent != ino)
		rc = ioc_reachable(fs, cr, a->dstParent);
	if (rc == 0)
		rc = c3fs_rename(fs->cl, cr, ino, a->srcName, a->dstParent, a->dstName, 0);
	if (rc == 0) {
		ioc_inval_entry(fs, ino, a->srcName);
		ioc_inval_entry(fs, a->dstParent, a->dstName);
	}
	return rc;
}

static int ioc_remove(struct fusefs *fs, const struct c3fs_cred *cr, uint64_t ino,
		      const struct c3fs_ioctl_remove *a)
{
	struct c3fs_attr at;
	int rc;

	if (fusefs_is_virt_name(ino, a->name))
		return -EBUSY;
	if (a->recursive) {
		rc = c3fs_remove_recursive(fs->cl, cr, ino, a->name);
	} else {
		rc = c3fs_lookup(fs->cl, cr, ino, a->name, &at);
		if (rc == 0)
			rc = S_ISDIR(at.mode) ? c3fs_rmdir(fs->cl, cr, ino, a->name)
					      : c3fs_unlink(fs->cl, cr, ino, a->name);
	}
	if (rc == 0)
		ioc_inval_entry(fs, ino, a->name);
	return rc;
}

static int ioc_rmrf(struct fusefs *fs, const struct c3fs_cred *cr, uint64_t ino)
{
	char name[C3FS_NAME_MAX + 1];
	uint64_t parent = 0;
	int rc;

	rc = ioc_dir_name(fs, ino, &parent, name);
	if (rc == 0)
		rc = ioc_reachable(fs, cr, parent); /* rm -rf walks the path to it */
	if (rc == 0) { /* still this directory (the window to a rename is one RPC wide) */
		struct c3fs_attr a;

		rc = c3fs_lookup(fs->cl, cr, parent, name, &a);
		if (rc == 0 && a.ino != ino)
			rc = -ENOENT;
	}
	if (rc == 0)
		rc = c3fs_remove_recursive(fs->cl, cr, parent, name);
	LOG_INFO("ioctl recursive rm of inode %llu by uid %u: %s", (unsigned long long)ino,
		 cr->uid, rc ? c3fs_strerror(rc) : "done");
	if (rc == 0)
		ioc_inval_entry(fs, parent, name);
	return rc;
}

static int ioc_fsync(struct fusefs *fs, uint64_t ino, struct fuse_file_info *fi, unsigned flags)
{
	struct fusefs_fh *fh = fi ? (struct fusefs_fh *)(uintptr_t)fi->fh : NULL;
	int rc;

	if ((flags & FUSE_IOCTL_DIR) || !fh)
		return 0; /* directories: every change is in meta already */
	rc = c3fs_fsync(fh->f, false);
	if (rc == 0 && fs->se) /* the reported length and mtime */
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	return rc;
}

void fusefs_ioctl_serve(struct fusefs *fs, fuse_req_t req, uint64_t ino, unsigned int cmd,
			struct fuse_file_info *fi, unsigned flags, const void *in_buf,
			size_t in_bufsz, size_t out_bufsz)
{
	union fusefs_ioc_arg *arg;
	struct c3fs_cred cr;
	uint32_t v;
	int rc;

	arg = malloc(sizeof(*arg)); /* 16 KiB: not on a worker's stack */
	if (!arg) {
		fusefs_reply_errno(req, ENOMEM);
		return;
	}
	rc = fusefs_ioc_check(cmd, in_buf, in_bufsz, out_bufsz, ino, arg);
	if (rc)
		goto reply;
	switch (cmd) {
	case C3FS_IOC_GET_MAGIC:
		v = C3FS_MAGIC;
		fuse_reply_ioctl(req, 0, &v, sizeof(v));
		goto out;
	case C3FS_IOC_GET_MAGIC_NUM:
		v = C3FS_SUPER_MAGIC;
		fuse_reply_ioctl(req, 0, &v, sizeof(v));
		goto out;
	case C3FS_IOC_GET_IOCTL_VERSION:
		v = IOC_VERSION;
		fuse_reply_ioctl(req, 0, &v, sizeof(v));
		goto out;
	case C3FS_IOC_GET_PATH_OFFSET:
		v = (uint32_t)strlen(fs->mnt_real);
		fuse_reply_ioctl(req, 0, &v, sizeof(v));
		goto out;
	case C3FS_IOC_GET_MOUNT_NAME: {
		struct c3fs_ioctl_get_mount_name_arg m;

		memset(&m, 0, sizeof(m));
		snprintf(m.str, sizeof(m.str), "%s", FUSEFS_FSNAME);
		fuse_reply_ioctl(req, 0, &m, sizeof(m));
		goto out;
	}
	default:
		break;
	}
	if (virt_is(ino)) {
		rc = -EPERM; /* nothing in 3fs-virt is changed this way */
		goto reply;
	}
	if (cmd != C3FS_IOC_FSYNC && fusefs_refuse_ro(fs, req))
		goto out; /* every other command here changes something */
	fusefs_cred(req, &cr);
	switch (cmd) {
	case C3FS_IOC_RECURSIVE_RM:
		rc = ioc_rmrf(fs, &cr, ino);
		break;
	case C3FS_IOC_FSYNC:
		rc = ioc_fsync(fs, ino, fi, flags);
		break;
	case C3FS_IOC_HARDLINK:
		rc = ioc_hardlink(fs, &cr, ino, &arg->hardlink);
		break;
	case C3FS_IOC_PUNCH_HOLE:
		rc = ioc_punch(fs, ino, fi, flags, &arg->punch);
		break;
	case C3FS_IOC_MOVE:
		rc = ioc_move(fs, &cr, ino, &arg->move);
		break;
	case C3FS_IOC_REMOVE:
		rc = ioc_remove(fs, &cr, ino, &arg->remove);
		break;
	default:
		rc = -ENOTTY;
		break;
	}
reply:
	if (rc)
		fusefs_reply_err(req, rc);
	else
		fuse_reply_ioctl(req, 0, NULL, 0);
out:
	free(arg);
}
