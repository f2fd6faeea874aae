/* test_ioctl.c — the argument check of c3fs-fuse's ioctls (fusefs_ioc_check): 3FS's
 * numbers and layouts, every malformed argument refused with its errno, and random
 * garbage (sizes, bytes, command numbers) never accepted wrongly nor read out of bounds
 * (the test build runs under ASan/UBSan: a bool field holding 7 must not be loaded). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/tap.h"
#include "fuse/fuse_int.h"
#include "usrbio/ring.h"

static union fusefs_ioc_arg arg;

static int check(unsigned cmd, const void *in, size_t in_len, size_t out_len, uint64_t ino)
{
	return fusefs_ioc_check(cmd, in, in_len, out_len, ino, &arg);
}

static void test_numbers(void)
{
	/* the values 3FS's src/lib/api/fuse.h gives on x86-64/arm64 */
	is_int(C3FS_IOC_GET_MOUNT_NAME, 0x80206800u, "GET_MOUNT_NAME number");
	is_int(C3FS_IOC_GET_PATH_OFFSET, 0x80046801u, "GET_PATH_OFFSET number");
	is_int(C3FS_IOC_GET_MAGIC_NUM, 0x80046802u, "GET_MAGIC_NUM number");
	is_int(C3FS_IOC_GET_IOCTL_VERSION, 0x80046803u, "GET_IOCTL_VERSION number");
	is_int(C3FS_IOC_RECURSIVE_RM, 0x8004680au, "RECURSIVE_RM number");
	is_int(C3FS_IOC_FSYNC, 0x8004680bu, "FSYNC number");
	is_int(C3FS_IOC_HARDLINK, 0x4108680cu, "HARDLINK number (264-byte argument)");
	is_int(C3FS_IOC_PUNCH_HOLE, 0x7e90680du, "PUNCH_HOLE number (16016-byte argument)");
	is_int(C3FS_IOC_MOVE, 0x4218680eu, "MOVE number (536-byte argument)");
	is_int(C3FS_IOC_REMOVE, 0x4110680fu, "REMOVE number (272-byte argument)");
	is_int(C3FS_SUPER_MAGIC, 0x8f3f5fffu, "3FS's super magic");
}

static void test_reads(void)
{
	is_int(check(C3FS_IOC_GET_MAGIC_NUM, NULL, 0, 4, 1), 0, "GET_MAGIC_NUM with 4 bytes out");
	is_int(check(C3FS_IOC_GET_MAGIC_NUM, NULL, 0, 3, 1), -EINVAL, "3 bytes of room: EINVAL");
	is_int(check(C3FS_IOC_GET_MOUNT_NAME, NULL, 0, 32, 1), 0, "GET_MOUNT_NAME with 32 bytes");
	is_int(check(C3FS_IOC_GET_MOUNT_NAME, NULL, 0, 31, 1), -EINVAL, "31 bytes: EINVAL");
	is_int(check(C3FS_IOC_GET_MAGIC, NULL, 0, 4, 1), 0, "USRBIO's is_c3fs command");
	is_int(check(C3FS_IOC_FSYNC, NULL, 0, 0, 1), 0, "FSYNC needs no room");
	is_int(check(C3FS_IOC_RECURSIVE_RM, NULL, 0, 0, 1), 0, "RECURSIVE_RM needs no room");
	is_int(check(_IOR('h', 99, uint32_t), NULL, 0, 4, 1), -ENOTTY, "unknown number: ENOTTY");
	is_int(check(_IOR('h', 2, uint64_t), NULL, 0, 8, 1), -ENOTTY,
	       "a known number with another size: ENOTTY");
	is_int(check(0, NULL, 0, 0, 1), -ENOTTY, "command 0: ENOTTY");
}

static void test_hardlink(void)
{
	struct c3fs_ioctl_hardlink_arg h;

	memset(&h, 0, sizeof(h));
	h.ino = 5;
	strcpy(h.str, "name");
	is_int(check(C3FS_IOC_HARDLINK, &h, sizeof(h), 0, 9), 0, "hardlink: good argument");
	is_int(arg.hardlink.ino, 5, "copied: ino");
	is_str(arg.hardlink.str, "name", "copied: name");
	is_int(check(C3FS_IOC_HARDLINK, &h, sizeof(h) - 1, 0, 9), -EINVAL, "short: EINVAL");
	is_int(check(C3FS_IOC_HARDLINK, NULL, sizeof(h), 0, 9), -EINVAL, "no buffer: EINVAL");
	memset(h.str, 'a', sizeof(h.str));
	is_int(check(C3FS_IOC_HARDLINK, &h, sizeof(h), 0, 9), -ENAMETOOLONG,
	       "name filling its field without NUL: ENAMETOOLONG");
	h.str[254] = '\0';
	is_int(check(C3FS_IOC_HARDLINK, &h, sizeof(h), 0, 9), 0, "254 bytes + NUL: accepted");
	strcpy(h.str, "a/b");
	is_int(check(C3FS_IOC_HARDLINK, &h, sizeof(h), 0, 9), -EINVAL, "a '/': EINVAL");
	strcpy(h.str, "..");
	is_int(check(C3FS_IOC_HARDLINK, &h, sizeof(h), 0, 9), -EINVAL, "\"..\": EINVAL");
	h.str[0] = '\0';
	is_int(check(C3FS_IOC_HARDLINK, &h, sizeof(h), 0, 9), -ENOENT, "empty name: ENOENT");
}

static void test_punch(void)
{
	struct c3fs_ioctl_punch_hole_arg *p = calloc(1, sizeof(*p));

	p->n = 2;
	p->start[0] = 0;
	p->end[0] = 100;
	p->start[1] = 50;
	p->end[1] = 50;
	is_int(check(C3FS_IOC_PUNCH_HOLE, p, sizeof(*p), 0, 9), 0, "punch: two ranges");
	is_int(arg.punch.end[0], 100, "copied: ranges");
	p->n = -1;
	is_int(check(C3FS_IOC_PUNCH_HOLE, p, sizeof(*p), 0, 9), -EINVAL, "n = -1: EINVAL");
	p->n = C3FS_IOCTL_PUNCH_HOLE_MAX + 1;
	is_int(check(C3FS_IOC_PUNCH_HOLE, p, sizeof(*p), 0, 9), -EINVAL, "n = 1001: EINVAL");
	p->n = C3FS_IOCTL_PUNCH_HOLE_MAX;
	is_int(check(C3FS_IOC_PUNCH_HOLE, p, sizeof(*p), 0, 9), 0, "n = 1000 (empty ranges)");
	p->n = 1;
	p->flags = 4;
	is_int(check(C3FS_IOC_PUNCH_HOLE, p, sizeof(*p), 0, 9), -EINVAL, "flags != 0: EINVAL");
	p->flags = 0;
	p->start[0] = 101;
	is_int(check(C3FS_IOC_PUNCH_HOLE, p, sizeof(*p), 0, 9), -EINVAL, "start > end: EINVAL");
	is_int(check(C3FS_IOC_PUNCH_HOLE, p, 8, 0, 9), -EINVAL, "8 bytes: EINVAL");
	free(p);
}

static void test_move_remove(void)
{
	struct c3fs_ioctl_move m;
	struct c3fs_ioctl_remove r;

	memset(&m, 0, sizeof(m));
	m.srcParent = 9;
	m.dstParent = 12;
	strcpy(m.srcName, "a");
	strcpy(m.dstName, "b");
	is_int(check(C3FS_IOC_MOVE, &m, sizeof(m), 0, 9), 0, "move: good argument");
	is_int(check(C3FS_IOC_MOVE, &m, sizeof(m), 0, 10), -EINVAL,
	       "move on another directory than srcParent: EINVAL");
	m.moveToTrash = true;
	is_int(check(C3FS_IOC_MOVE, &m, sizeof(m), 0, 9), -EOPNOTSUPP, "moveToTrash: EOPNOTSUPP");
	memset((char *)&m + offsetof(struct c3fs_ioctl_move, moveToTrash), 7, 1);
	is_int(check(C3FS_IOC_MOVE, &m, sizeof(m), 0, 9), -EINVAL, "moveToTrash byte 7: EINVAL");
	memset((char *)&m + offsetof(struct c3fs_ioctl_move, moveToTrash), 0, 1);
	memset(m.dstName, 'x', sizeof(m.dstName));
	is_int(check(C3FS_IOC_MOVE, &m, sizeof(m), 0, 9), -ENAMETOOLONG, "dstName without NUL");
	strcpy(m.dstName, ".");
	is_int(check(C3FS_IOC_MOVE, &m, sizeof(m), 0, 9), -EINVAL, "dstName \".\": EINVAL");
	is_int(check(C3FS_IOC_MOVE, &m, sizeof(m) + 8, 0, 9), -EINVAL, "too long: EINVAL");

	memset(&r, 0, sizeof(r));
	r.parent = 9;
	strcpy(r.name, "x");
	is_int(check(C3FS_IOC_REMOVE, &r, sizeof(r), 0, 9), 0, "remove: good argument");
	is_int(arg.remove.recursive, 0, "not recursive");
	memset((char *)&r + offsetof(struct c3fs_ioctl_remove, recursive), 1, 1);
	is_int(check(C3FS_IOC_REMOVE, &r, sizeof(r), 0, 9), 0, "recursive");
	is_int(arg.remove.recursive, 1, "recursive copied");
	memset((char *)&r + offsetof(struct c3fs_ioctl_remove, recursive), 0xff, 1);
	is_int(check(C3FS_IOC_REMOVE, &r, sizeof(r), 0, 9), -EINVAL, "recursive byte 0xff: EINVAL");
	memset((char *)&r + offsetof(struct c3fs_ioctl_remove, recursive), 0, 1);
	is_int(check(C3FS_IOC_REMOVE, &r, sizeof(r), 0, 1), -EINVAL, "parent != inode: EINVAL");
	strcpy(r.name, "a/b");
	is_int(check(C3FS_IOC_REMOVE, &r, sizeof(r), 0, 9), -EINVAL, "a '/': EINVAL");
}

/* Random commands, sizes and bytes: only the known commands with exactly their size may
 * pass, and a pass means every field is sane. */
static void test_garbage(void)
{
	static const unsigned cmds[] = { C3FS_IOC_GET_MOUNT_NAME, C3FS_IOC_GET_PATH_OFFSET,
					 C3FS_IOC_GET_MAGIC_NUM, C3FS_IOC_GET_IOCTL_VERSION,
					 C3FS_IOC_RECURSIVE_RM, C3FS_IOC_FSYNC, C3FS_IOC_HARDLINK,
					 C3FS_IOC_PUNCH_HOLE, C3FS_IOC_MOVE, C3FS_IOC_REMOVE,
					 C3FS_IOC_GET_MAGIC };
	unsigned char *buf = malloc(20000);
	int bad = 0, passed = 0;

	srand(11);
	for (int t = 0; t < 20000 && !bad; t++) {
		unsigned cmd = rand() % 4 ? cmds[rand() % 11] : (unsigned)rand() * 2654435761u;
		size_t in_len = rand() % 3 ? _IOC_SIZE(cmd) : (size_t)(rand() % 20000);
		size_t out_len = (size_t)(rand() % 64);
		uint64_t ino = rand() % 4;
		int rc;

		if (in_len > 20000)
			in_len = 20000;
		for (size_t i = 0; i < in_len; i++)
			buf[i] = rand() % 5 ? (unsigned char)rand() : 0;
		if (cmd == C3FS_IOC_PUNCH_HOLE && rand() % 2) { /* plausible counts */
			int n = rand() % 1100;

			memcpy(buf, &n, sizeof(n));
		}
		if (in_len >= 8 && rand() % 2)
			memcpy(buf, &ino, sizeof(ino)); /* parent == ino often */
		rc = check(cmd, buf, in_len, out_len, ino);
		if (rc == 0) {
			passed++;
			if (cmd == C3FS_IOC_PUNCH_HOLE &&
			    (arg.punch.n < 0 || arg.punch.n > C3FS_IOCTL_PUNCH_HOLE_MAX))
				bad = 1;
			if (cmd == C3FS_IOC_HARDLINK &&
			    (strnlen(arg.hardlink.str, sizeof(arg.hardlink.str)) == sizeof(arg.hardlink.str) ||
			     strchr(arg.hardlink.str, '/')))
				bad = 2;
			if (cmd == C3FS_IOC_REMOVE && arg.remove.parent != ino)
				bad = 3;
			if (cmd == C3FS_IOC_MOVE && (arg.move.srcParent != ino || arg.move.moveToTrash))
				bad = 4;
		} else if (rc != -ENOTTY && rc != -EINVAL && rc != -ENAMETOOLONG && rc != -ENOENT &&
			   rc != -EOPNOTSUPP) {
			bad = 5;
		}
	}
	ok(!bad, "20000 random commands and arguments: refused with a clear errno or sane");
	diag("%d of 20000 passed the check", passed);
	free(buf);
}

int main(void)
{
	test_numbers();
	test_reads();
	test_hardlink();
	test_punch();
	test_move_remove();
	test_garbage();
	return tap_done();
}
