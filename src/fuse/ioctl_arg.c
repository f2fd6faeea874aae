/* ioctl_arg.c — the argument check of the mount's ioctls (fusefs_ioc_check, fuse_int.h):
 * pure, no FUSE or cluster calls, so that tests/unit/fuse/test_ioctl.c and
 * tests/fuzz/fuzz_fuse_ioctl.c can feed it garbage.  The commands themselves are served by ioctl.c.
 *
 * Rules: the command must be one of ours with exactly its size (a 32-bit caller's struct
 * has another size, hence another number: ENOTTY); an _IOW argument is exactly its
 * struct; an _IOR one has room for the answer; names are NUL-terminated inside their
 * field, not empty, without '/', not "." or ".."; bools are the byte 0 or 1 (a bool
 * holding another value is never loaded as a bool); punch counts and ranges in bounds,
 * flags 0; MOVE and REMOVE name the descriptor's own directory (as 3FS requires).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "fuse/fuse_int.h"
#include "usrbio/ring.h"

_Static_assert(sizeof(struct c3fs_ioctl_get_mount_name_arg) == 32, "3FS layout");
_Static_assert(sizeof(struct c3fs_ioctl_hardlink_arg) == 264, "3FS layout");
_Static_assert(sizeof(struct c3fs_ioctl_punch_hole_arg) == 16016, "3FS layout");
_Static_assert(sizeof(struct c3fs_ioctl_move) == 536, "3FS layout");
_Static_assert(sizeof(struct c3fs_ioctl_remove) == 272, "3FS layout");
_Static_assert(C3FS_IOC_HARDLINK == 0x4108680c, "3FS number");
_Static_assert(C3FS_IOC_PUNCH_HOLE == 0x7e90680d, "3FS number");

/* The argument is a plain entry name NUL-terminated inside its field of size sz. */
static int ioc_name(const char *field, size_t sz)
{
	size_t n = strnlen(field, sz);

	if (n == sz)
		return -ENAMETOOLONG;
	if (n == 0)
		return -ENOENT;
	if (memchr(field, '/', n) || strcmp(field, ".") == 0 || strcmp(field, "..") == 0)
		return -EINVAL;
	return 0;
}

/* A bool field read as its byte: 0 or 1 (any other value is garbage). */
static int ioc_bool(const void *in, size_t off, bool *out)
{
	unsigned char b;

	memcpy(&b, (const char *)in + off, 1);
	if (b > 1)
		return -EINVAL;
	*out = b == 1;
	return 0;
}

int fusefs_ioc_check(unsigned int cmd, const void *in, size_t in_len, size_t out_len,
		     uint64_t ino, union fusefs_ioc_arg *arg)
{
	size_t want_in = 0, want_out = 0;
	int rc = 0;

	switch (cmd) {
	case C3FS_IOC_GET_MAGIC:
	case C3FS_IOC_GET_PATH_OFFSET:
	case C3FS_IOC_GET_MAGIC_NUM:
	case C3FS_IOC_GET_IOCTL_VERSION:
		want_out = sizeof(uint32_t);
		break;
	case C3FS_IOC_GET_MOUNT_NAME:
		want_out = sizeof(struct c3fs_ioctl_get_mount_name_arg);
		break;
	case C3FS_IOC_RECURSIVE_RM:
	case C3FS_IOC_FSYNC:
		break; /* _IOR(uint32_t) in 3FS, but nothing is returned */
	case C3FS_IOC_HARDLINK:
		want_in = sizeof(arg->hardlink);
		break;
	case C3FS_IOC_PUNCH_HOLE:
		want_in = sizeof(arg->punch);
		break;
	case C3FS_IOC_MOVE:
		want_in = sizeof(arg->move);
		break;
	case C3FS_IOC_REMOVE:
		want_in = sizeof(arg->remove);
		break;
	default:
		return -ENOTTY;
	}
	if (out_len < want_out)
		return -EINVAL;
	if (want_in && (!in || in_len != want_in))
		return -EINVAL;
	if (want_in)
		memcpy(arg, in, want_in);
	switch (cmd) {
	case C3FS_IOC_HARDLINK:
		return ioc_name(arg->hardlink.str, sizeof(arg->hardlink.str));
	case C3FS_IOC_PUNCH_HOLE:
		if (arg->punch.n < 0 || arg->punch.n > C3FS_IOCTL_PUNCH_HOLE_MAX ||
		    arg->punch.flags != 0)
			return -EINVAL;
		for (int i = 0; i < arg->punch.n; i++)
			if (arg->punch.start[i] > arg->punch.end[i])
				return -EINVAL;
		return 0;
	case C3FS_IOC_MOVE: {
		bool trash = false;

		rc = ioc_bool(in, offsetof(struct c3fs_ioctl_move, moveToTrash), &trash);
		if (rc == 0 && arg->move.srcParent != ino)
			rc = -EINVAL; /* as 3FS: the descriptor is the source directory */
		if (rc == 0)
			rc = ioc_name(arg->move.srcName, sizeof(arg->move.srcName));
		if (rc == 0)
			rc = ioc_name(arg->move.dstName, sizeof(arg->move.dstName));
		if (rc == 0 && trash)
			rc = -EOPNOTSUPP; /* c3fs has no trash */
		arg->move.moveToTrash = trash;
		return rc;
	}
	case C3FS_IOC_REMOVE: {
		bool rec = false;

		rc = ioc_bool(in, offsetof(struct c3fs_ioctl_remove, recursive), &rec);
		if (rc == 0 && arg->remove.parent != ino)
			rc = -EINVAL; /* as 3FS: the descriptor is the directory */
		if (rc == 0)
			rc = ioc_name(arg->remove.name, sizeof(arg->remove.name));
		arg->remove.recursive = rc == 0 && rec;
		return rc;
	}
	default:
		return 0;
	}
}
