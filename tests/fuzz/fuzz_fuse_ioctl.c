/* fuzz_fuse_ioctl.c — libFuzzer target for the argument check of c3fs-fuse's ioctls
 * (fusefs_ioc_check, src/fuse/ioctl_arg.c): the input is what any process holding a
 * descriptor of the mount hands the daemon.
 *
 * Input: byte 0 picks the command (one of ours, or with bit 7 set the next 4 bytes are a
 * raw command number), byte 1 the room for the answer (0..255), byte 2 the descriptor's
 * inode (0..3), the rest is the argument, at exactly its length (copied into an exact-size
 * heap buffer so that ASan sees any read past it).  Checks beyond "no crash, no
 * out-of-bounds read, no bool loaded with a value other than 0/1" (UBSan):
 *   - the result is 0 or one of -ENOTTY, -EINVAL, -ENAMETOOLONG, -ENOENT, -EOPNOTSUPP;
 *   - an accepted argument is sane: punch counts in 0..1000 with start <= end and flags 0,
 *     names NUL-terminated in their field without '/', MOVE/REMOVE on the descriptor's
 *     inode, no moveToTrash.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuse/fuse_int.h"
#include "usrbio/ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(c) do { if (!(c)) abort(); } while (0)

static bool fz_name_ok(const char *s, size_t sz)
{
	size_t n = strnlen(s, sz);

	return n > 0 && n < sz && !memchr(s, '/', n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned cmds[] = { C3FS_IOC_GET_MOUNT_NAME, C3FS_IOC_GET_PATH_OFFSET,
					 C3FS_IOC_GET_MAGIC_NUM, C3FS_IOC_GET_IOCTL_VERSION,
					 C3FS_IOC_RECURSIVE_RM, C3FS_IOC_FSYNC, C3FS_IOC_HARDLINK,
					 C3FS_IOC_PUNCH_HOLE, C3FS_IOC_MOVE, C3FS_IOC_REMOVE,
					 C3FS_IOC_GET_MAGIC };
	static union fusefs_ioc_arg arg;
	unsigned cmd;
	size_t out_len;
	uint64_t ino;
	uint8_t *in = NULL;
	int rc;

	if (size < 3)
		return 0;
	if (data[0] & 0x80) {
		if (size < 7)
			return 0;
		memcpy(&cmd, data + 3, 4);
		data += 4;
		size -= 4;
	} else {
		cmd = cmds[data[0] % (sizeof(cmds) / sizeof(cmds[0]))];
	}
	out_len = data[1];
	ino = data[2] % 4;
	data += 3;
	size -= 3;
	if (size) {
		in = malloc(size);
		if (!in)
			return 0;
		memcpy(in, data, size);
	}
	rc = fusefs_ioc_check(cmd, in, size, out_len, ino, &arg);
	FZ_CHECK(rc == 0 || rc == -ENOTTY || rc == -EINVAL || rc == -ENAMETOOLONG ||
		 rc == -ENOENT || rc == -EOPNOTSUPP);
	if (rc == 0) {
		switch (cmd) {
		case C3FS_IOC_PUNCH_HOLE:
			FZ_CHECK(arg.punch.n >= 0 && arg.punch.n <= C3FS_IOCTL_PUNCH_HOLE_MAX);
			FZ_CHECK(arg.punch.flags == 0);
			for (int i = 0; i < arg.punch.n; i++)
				FZ_CHECK(arg.punch.start[i] <= arg.punch.end[i]);
			break;
		case C3FS_IOC_HARDLINK:
			FZ_CHECK(fz_name_ok(arg.hardlink.str, sizeof(arg.hardlink.str)));
			break;
		case C3FS_IOC_MOVE:
			FZ_CHECK(arg.move.srcParent == ino && !arg.move.moveToTrash);
			FZ_CHECK(fz_name_ok(arg.move.srcName, sizeof(arg.move.srcName)));
			FZ_CHECK(fz_name_ok(arg.move.dstName, sizeof(arg.move.dstName)));
			break;
		case C3FS_IOC_REMOVE:
			FZ_CHECK(arg.remove.parent == ino);
			FZ_CHECK(fz_name_ok(arg.remove.name, sizeof(arg.remove.name)));
			break;
		default:
			break;
		}
	}
	free(in);
	return 0;
}
