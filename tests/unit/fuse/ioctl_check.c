/* ioctl_check.c — c3fs-ioctl-check: the mount's ioctls and libc3fs-usrbio's hardlink /
 * punchhole calls, driven by tests/integration/fuse_ioctl.sh.
 *
 * One-call commands print the outcome ("OK" or the errno's name, e.g. "EACCES") so that
 * the script can run them as other users and compare:
 *   c3fs-ioctl-check info PATH                 name, path offset, magic, version, is_c3fs
 *   c3fs-ioctl-check hardlink TARGET LINK      c3fs_hardlink
 *   c3fs-ioctl-check punch [-r] FILE S E...    c3fs_punchhole on FILE opened O_RDWR (-r:
 *                                              O_RDONLY) with the ranges [S, E)
 *   c3fs-ioctl-check move DIR SRC DSTDIR DST [trash]   C3FS_IOC_MOVE on DIR
 *   c3fs-ioctl-check remove DIR NAME [r]       C3FS_IOC_REMOVE on DIR (r: recursive)
 *   c3fs-ioctl-check rmrf DIR                  C3FS_IOC_RECURSIVE_RM on DIR
 *   c3fs-ioctl-check fsync FILE                C3FS_IOC_FSYNC on FILE opened O_RDONLY
 *   c3fs-ioctl-check linkino TARGET INO NAME   C3FS_IOC_HARDLINK by inode number (a
 *                                              directory the caller cannot stat)
 * A DSTDIR of "@INO" is taken as an inode number.  The POSIX calls to compare with:
 *   c3fs-ioctl-check link OLD NEW | unlink PATH | rmdir PATH | rename OLD NEW
 * Checks (TAP-like "ok"/"not ok" lines, exit 1 if one failed):
 *   c3fs-ioctl-check garbage MNT FILE          malformed arguments: each its errno
 *   c3fs-ioctl-check race FILE ROUNDS          writes queued (write-behind) then punched
 *                                              at once, by fallocate and by the ioctl,
 *                                              compared with a model of the bytes
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "c3fs/usrbio.h"

static int n_fail, n_test;

static void check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int cond, const char *fmt, ...)
{
	va_list ap;

	n_test++;
	if (!cond)
		n_fail++;
	printf("%s %d - ", cond ? "ok" : "not ok", n_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static const char *ename(int e)
{
	const char *s = e ? strerrorname_np(e) : "OK";

	return s ? s : "E?";
}

/* ioctl's outcome as an errno (0 = success) */
static int ioc(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) == 0 ? 0 : errno;
}

static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		printf("%s\n", ename(errno));
		exit(0);
	}
	return fd;
}

static int cmd_info(const char *path)
{
	struct c3fs_ioctl_get_mount_name_arg m;
	uint32_t off = 0, magic = 0, ver = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), e1, e2, e3, e4;

	if (fd < 0) {
		printf("%s\n", ename(errno));
		return 0;
	}
	memset(&m, 0x55, sizeof(m));
	e1 = ioc(fd, C3FS_IOC_GET_MOUNT_NAME, &m);
	e2 = ioc(fd, C3FS_IOC_GET_PATH_OFFSET, &off);
	e3 = ioc(fd, C3FS_IOC_GET_MAGIC_NUM, &magic);
	e4 = ioc(fd, C3FS_IOC_GET_IOCTL_VERSION, &ver);
	printf("name=%s offset=%u magic=%#x version=%u is_c3fs=%d\n",
	       e1 ? ename(e1) : (memchr(m.str, 0, sizeof(m.str)) ? m.str : "(no NUL)"),
	       e2 ? 0 : off, e3 ? 0 : magic, e4 ? 0 : ver, c3fs_is_c3fs(fd));
	close(fd);
	return 0;
}

static int cmd_punch(int argc, char **argv)
{
	bool ro = argc > 0 && strcmp(argv[0], "-r") == 0;
	size_t start[C3FS_IOCTL_PUNCH_HOLE_MAX], end[C3FS_IOCTL_PUNCH_HOLE_MAX];
	int fd, n = 0;

	argc -= ro;
	argv += ro;
	if (argc < 1 || (argc - 1) % 2)
		return 2;
	for (int i = 1; i + 1 < argc && n < C3FS_IOCTL_PUNCH_HOLE_MAX; i += 2, n++) {
		start[n] = strtoull(argv[i], NULL, 0);
		end[n] = strtoull(argv[i + 1], NULL, 0);
	}
	fd = open(argv[0], (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		printf("%s\n", ename(errno));
		return 0;
	}
	printf("%s\n", ename(c3fs_punchhole(fd, n, start, end, 0)));
	close(fd);
	return 0;
}

static int cmd_move(int argc, char **argv)
{
	struct c3fs_ioctl_move m;
	struct stat st, ds;
	int fd;

	if (argc < 4)
		return 2;
	fd = open_dir(argv[0]);
	if (argv[2][0] == '@')
		st.st_ino = strtoull(argv[2] + 1, NULL, 0);
	else if (stat(argv[2], &st) != 0) {
		printf("%s\n", ename(errno));
		return 0;
	}
	memset(&m, 0, sizeof(m));
	if (fstat(fd, &ds) == 0)
		m.srcParent = ds.st_ino;
	snprintf(m.srcName, sizeof(m.srcName), "%s", argv[1]);
	m.dstParent = st.st_ino;
	snprintf(m.dstName, sizeof(m.dstName), "%s", argv[3]);
	m.moveToTrash = argc > 4 && strcmp(argv[4], "trash") == 0;
	printf("%s\n", ename(ioc(fd, C3FS_IOC_MOVE, &m)));
	close(fd);
	return 0;
}

static int cmd_remove(int argc, char **argv)
{
	struct c3fs_ioctl_remove r;
	struct stat st;
	int fd;

	if (argc < 2)
		return 2;
	fd = open_dir(argv[0]);
	fstat(fd, &st);
	memset(&r, 0, sizeof(r));
	r.parent = st.st_ino;
	snprintf(r.name, sizeof(r.name), "%s", argv[1]);
	r.recursive = argc > 2 && strcmp(argv[2], "r") == 0;
	printf("%s\n", ename(ioc(fd, C3FS_IOC_REMOVE, &r)));
	close(fd);
	return 0;
}

static int cmd_simple(const char *path, unsigned long cmd)
{
	uint32_t v = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		printf("%s\n", ename(errno));
		return 0;
	}
	printf("%s\n", ename(ioc(fd, cmd, &v)));
	close(fd);
	return 0;
}

static int cmd_linkino(const char *target, const char *ino, const char *name)
{
	struct c3fs_ioctl_hardlink_arg h;
	int fd = open(target, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		printf("%s\n", ename(errno));
		return 0;
	}
	memset(&h, 0, sizeof(h));
	h.ino = strtoull(ino, NULL, 0);
	snprintf(h.str, sizeof(h.str), "%s", name);
	printf("%s\n", ename(ioc(fd, C3FS_IOC_HARDLINK, &h)));
	close(fd);
	return 0;
}

static int cmd_posix(const char *op, int argc, char **argv)
{
	int rc = -1;

	if (strcmp(op, "link") == 0 && argc == 2)
		rc = link(argv[0], argv[1]);
	else if (strcmp(op, "unlink") == 0 && argc == 1)
		rc = unlink(argv[0]);
	else if (strcmp(op, "rmdir") == 0 && argc == 1)
		rc = rmdir(argv[0]);
	else if (strcmp(op, "rename") == 0 && argc == 2)
		rc = rename(argv[0], argv[1]);
	else
		return 2;
	printf("%s\n", ename(rc == 0 ? 0 : errno));
	return 0;
}

/* ------------------------------------------------------------------ garbage */

static int cmd_garbage(const char *mnt, const char *file)
{
	struct c3fs_ioctl_punch_hole_arg *p = calloc(1, sizeof(*p));
	struct c3fs_ioctl_hardlink_arg h;
	struct c3fs_ioctl_move m;
	struct c3fs_ioctl_remove r;
	struct stat dst, fst;
	char virt[4096];
	long pg = sysconf(_SC_PAGESIZE);
	char *two;
	int dfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = open(file, O_RDWR | O_CLOEXEC), vfd, e;
	uint32_t v;

	if (dfd < 0 || fd < 0 || !p || fstat(dfd, &dst) || fstat(fd, &fst))
		return 2;
	check(ioc(fd, _IOR('h', 99, uint32_t), &v) == ENOTTY, "unknown command number: ENOTTY");
	check(ioc(fd, _IOR('h', 2, uint64_t), &v) == ENOTTY,
	      "GET_MAGIC_NUM's number with another size: ENOTTY");
	check(ioc(fd, _IOW('h', 12, uint32_t), &v) == ENOTTY,
	      "HARDLINK's number with a 4-byte argument: ENOTTY");
	check(ioc(fd, C3FS_IOC_GET_MAGIC_NUM, NULL) == EFAULT, "NULL out pointer: EFAULT");
	check(ioc(fd, C3FS_IOC_PUNCH_HOLE, NULL) == EFAULT, "NULL in pointer: EFAULT");
	/* an argument running into an unmapped page */
	two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (two != MAP_FAILED) {
		munmap(two + pg, pg);
		e = ioc(fd, C3FS_IOC_MOVE, two + pg - 100);
		check(e == EFAULT, "MOVE argument crossing into an unmapped page: EFAULT (got %s)",
		      ename(e));
		munmap(two, pg);
	}

	memset(&h, 0, sizeof(h));
	h.ino = dst.st_ino;
	memset(h.str, 'n', sizeof(h.str));
	e = ioc(fd, C3FS_IOC_HARDLINK, &h);
	check(e == ENAMETOOLONG, "HARDLINK name filling its field: ENAMETOOLONG (got %s)", ename(e));
	strcpy(h.str, "x/y");
	e = ioc(fd, C3FS_IOC_HARDLINK, &h);
	check(e == EINVAL, "HARDLINK name with '/': EINVAL (got %s)", ename(e));
	strcpy(h.str, "fresh");
	h.ino = 0x7fffffff12345ull;
	e = ioc(fd, C3FS_IOC_HARDLINK, &h);
	check(e == ENOENT, "HARDLINK into an inode number that does not exist: ENOENT (got %s)",
	      ename(e));
	h.ino = fst.st_ino;
	e = ioc(fd, C3FS_IOC_HARDLINK, &h);
	check(e == ENOTDIR, "HARDLINK into a file's inode number: ENOTDIR (got %s)", ename(e));

	p->n = -5;
	e = ioc(fd, C3FS_IOC_PUNCH_HOLE, p);
	check(e == EINVAL, "PUNCH_HOLE n = -5: EINVAL (got %s)", ename(e));
	p->n = 5000;
	e = ioc(fd, C3FS_IOC_PUNCH_HOLE, p);
	check(e == EINVAL, "PUNCH_HOLE n = 5000: EINVAL (got %s)", ename(e));
	p->n = 1;
	p->start[0] = 10;
	p->end[0] = 5;
	e = ioc(fd, C3FS_IOC_PUNCH_HOLE, p);
	check(e == EINVAL, "PUNCH_HOLE start > end: EINVAL (got %s)", ename(e));
	p->end[0] = 20;
	p->flags = 1;
	e = ioc(fd, C3FS_IOC_PUNCH_HOLE, p);
	check(e == EINVAL, "PUNCH_HOLE flags 1: EINVAL (got %s)", ename(e));
	p->flags = 0;
	p->start[0] = (size_t)-4096;
	p->end[0] = (size_t)-1;
	e = ioc(fd, C3FS_IOC_PUNCH_HOLE, p);
	check(e == EFBIG, "PUNCH_HOLE at 2^64 - 4096: EFBIG (got %s)", ename(e));
	p->start[0] = 0;
	p->end[0] = 10;
	e = ioc(dfd, C3FS_IOC_PUNCH_HOLE, p);
	check(e == EISDIR, "PUNCH_HOLE on a directory: EISDIR (got %s)", ename(e));
	check(c3fs_punchhole(fd, -1, NULL, NULL, 0) == EINVAL, "c3fs_punchhole n = -1: EINVAL");
	check(c3fs_punchhole(fd, 1001, p->start, p->end, 0) == EINVAL,
	      "c3fs_punchhole n = 1001: EINVAL");
	check(c3fs_punchhole(fd, 2, NULL, p->end, 0) == EINVAL, "c3fs_punchhole NULL start: EINVAL");
	check(c3fs_punchhole(-1, 1, p->start, p->end, 0) == EBADF, "c3fs_punchhole fd -1: EBADF");
	check(c3fs_hardlink(NULL, "x") == EINVAL, "c3fs_hardlink NULL: EINVAL");
	{
		char longname[600];

		snprintf(longname, sizeof(longname), "%s/%0300d", mnt, 0);
		check(c3fs_hardlink(file, longname) == ENAMETOOLONG,
		      "c3fs_hardlink 300-byte name: ENAMETOOLONG");
	}
	check(c3fs_hardlink(file, "/tmp/c3fs-ioctl-check-x") == EXDEV,
	      "c3fs_hardlink into another file system: EXDEV");

	memset(&m, 0, sizeof(m));
	m.srcParent = dst.st_ino + 1000;
	strcpy(m.srcName, "a");
	m.dstParent = dst.st_ino;
	strcpy(m.dstName, "b");
	e = ioc(dfd, C3FS_IOC_MOVE, &m);
	check(e == EINVAL, "MOVE with srcParent not the descriptor's: EINVAL (got %s)", ename(e));
	m.srcParent = dst.st_ino;
	memset((char *)&m + offsetof(struct c3fs_ioctl_move, moveToTrash), 7, 1);
	e = ioc(dfd, C3FS_IOC_MOVE, &m);
	check(e == EINVAL, "MOVE moveToTrash byte 7: EINVAL (got %s)", ename(e));
	memset(&r, 0, sizeof(r));
	r.parent = dst.st_ino;
	strcpy(r.name, "..");
	e = ioc(dfd, C3FS_IOC_REMOVE, &r);
	check(e == EINVAL, "REMOVE \"..\": EINVAL (got %s)", ename(e));
	strcpy(r.name, "3fs-virt");
	e = ioc(dfd, C3FS_IOC_REMOVE, &r);
	check(e == EBUSY, "REMOVE 3fs-virt: EBUSY (got %s)", ename(e));
	e = ioc(dfd, C3FS_IOC_RECURSIVE_RM, &v);
	check(e == EBUSY, "RECURSIVE_RM of the root: EBUSY (got %s)", ename(e));
	e = ioc(fd, C3FS_IOC_RECURSIVE_RM, &v);
	check(e == ENOTDIR, "RECURSIVE_RM on a file: ENOTDIR (got %s)", ename(e));
	snprintf(virt, sizeof(virt), "%s/3fs-virt", mnt);
	vfd = open(virt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (vfd >= 0) {
		struct stat vs;

		fstat(vfd, &vs);
		check(ioc(vfd, C3FS_IOC_GET_MAGIC_NUM, &v) == 0 && v == C3FS_SUPER_MAGIC,
		      "GET_MAGIC_NUM on 3fs-virt");
		r.parent = vs.st_ino;
		strcpy(r.name, "iovs");
		e = ioc(vfd, C3FS_IOC_REMOVE, &r);
		check(e == EPERM, "REMOVE inside 3fs-virt: EPERM (got %s)", ename(e));
		close(vfd);
	}
	/* the mount goes on */
	e = ioc(fd, C3FS_IOC_GET_MAGIC_NUM, &v);
	check(e == 0 && v == C3FS_SUPER_MAGIC, "afterwards: GET_MAGIC_NUM still answers");
	check(fstat(fd, &fst) == 0, "afterwards: fstat works");
	close(fd);
	close(dfd);
	free(p);
	return n_fail ? 1 : 0;
}

/* ------------------------------------------------------------------ race */

/* Rounds of: many small writes (queued by write-behind, answered at once), then at once
 * a punch over part of them (fallocate on even rounds, the ioctl on odd ones), then more
 * writes into the hole; the file must read back as the model says. */
static int cmd_race(const char *file, int rounds)
{
	enum { SZ = 3 << 20 };
	unsigned char *model = malloc(SZ), *back = malloc(SZ), blk[4096];
	int fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	unsigned seed = 12345;

	if (fd < 0 || !model || !back)
		return 2;
	memset(model, 0, SZ);
	if (ftruncate(fd, SZ) != 0)
		return 2;
	for (int r = 0; r < rounds; r++) {
		size_t s, e;
		int rc;

		for (int i = 0; i < 300; i++) {
			size_t off = (size_t)(rand_r(&seed) % (SZ - sizeof(blk)));

			for (size_t k = 0; k < sizeof(blk); k++)
				blk[k] = (unsigned char)rand_r(&seed) | 1;
			if (pwrite(fd, blk, sizeof(blk), (off_t)off) != (ssize_t)sizeof(blk))
				return 2;
			memcpy(model + off, blk, sizeof(blk));
		}
		s = (size_t)(rand_r(&seed) % (SZ - 1));
		e = s + 1 + (size_t)(rand_r(&seed) % (SZ - s - 1));
		if (r % 2 == 0)
			rc = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)s,
				       (off_t)(e - s)) == 0 ? 0 : errno;
		else
			rc = c3fs_punchhole(fd, 1, &s, &e, 0);
		check(rc == 0, "round %d: punch [%zu, %zu) by %s right after 300 queued writes: %s",
		      r, s, e, r % 2 ? "ioctl" : "fallocate", ename(rc));
		memset(model + s, 0, e - s);
		/* a write into the hole, at once */
		memset(blk, 0xab, sizeof(blk));
		if (e - s > sizeof(blk) &&
		    pwrite(fd, blk, sizeof(blk), (off_t)(s + (e - s) / 2 - sizeof(blk) / 2)) ==
			    (ssize_t)sizeof(blk))
			memcpy(model + s + (e - s) / 2 - sizeof(blk) / 2, blk, sizeof(blk));
		if (pread(fd, back, SZ, 0) != SZ) {
			check(0, "round %d: read back", r);
			continue;
		}
		{
			size_t k = 0;

			while (k < SZ && back[k] == model[k])
				k++;
			check(k == SZ, "round %d: %d MiB read back as the model says%s", r, SZ >> 20,
			      k == SZ ? "" : " (first difference below)");
			if (k < SZ)
				printf("#   byte %zu: got %#x, model %#x\n", k, back[k], model[k]);
		}
		{
			struct stat st;

			check(fstat(fd, &st) == 0 && st.st_size == SZ, "round %d: size kept", r);
		}
	}
	close(fd);
	free(model);
	free(back);
	return n_fail ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: c3fs-ioctl-check info|hardlink|punch|move|remove|rmrf|fsync|"
				"garbage|race ARGS...\n");
		return 2;
	}
	if (strcmp(argv[1], "info") == 0)
		return cmd_info(argv[2]);
	if (strcmp(argv[1], "hardlink") == 0 && argc == 4) {
		printf("%s\n", ename(c3fs_hardlink(argv[2], argv[3])));
		return 0;
	}
	if (strcmp(argv[1], "punch") == 0)
		return cmd_punch(argc - 2, argv + 2);
	if (strcmp(argv[1], "move") == 0)
		return cmd_move(argc - 2, argv + 2);
	if (strcmp(argv[1], "remove") == 0)
		return cmd_remove(argc - 2, argv + 2);
	if (strcmp(argv[1], "rmrf") == 0)
		return cmd_simple(argv[2], C3FS_IOC_RECURSIVE_RM);
	if (strcmp(argv[1], "fsync") == 0)
		return cmd_simple(argv[2], C3FS_IOC_FSYNC);
	if (strcmp(argv[1], "linkino") == 0 && argc == 5)
		return cmd_linkino(argv[2], argv[3], argv[4]);
	if (strcmp(argv[1], "link") == 0 || strcmp(argv[1], "unlink") == 0 ||
	    strcmp(argv[1], "rmdir") == 0 || strcmp(argv[1], "rename") == 0)
		return cmd_posix(argv[1], argc - 2, argv + 2);
	if (strcmp(argv[1], "garbage") == 0 && argc == 4)
		return cmd_garbage(argv[2], argv[3]);
	if (strcmp(argv[1], "race") == 0 && argc == 4)
		return cmd_race(argv[2], atoi(argv[3]));
	fprintf(stderr, "c3fs-ioctl-check: bad command or arguments\n");
	return 2;
}
