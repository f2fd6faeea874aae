/* posix_helper.c — c3fs-posix-helper: one system call per run, for tests/tools/posix_check.sh.
 *
 * Purpose: bash and coreutils cannot make some calls (renameat2 flags, utimensat with
 * UTIME_NOW/UTIME_OMIT, open with exact flags) and report errors only as translated
 * messages.  This program makes exactly one call (or a short fixed sequence) and prints
 * the result on one line, pjdfstest-style:
 *     "0"           the call succeeded (calls that return a value print the value instead)
 *     "ENOENT"      the call failed; the errno's symbolic name
 * The exit status is 0 when the call was made (whatever its result) and 2 on a usage error,
 * so the script compares the printed word with what POSIX/Linux says.
 *
 * Invariants: never retries, never changes the call's arguments, never interprets the
 * result; an argument it cannot parse is a usage error (exit 2), not a failed call.
 *
 * Calls (FLAGS are comma-separated names, MODE is octal):
 *   open PATH FLAGS [MODE]          open + close          (O_RDONLY,O_CREAT,O_EXCL,...)
 *   openwrite PATH DATA             open O_WRONLY, write DATA, close
 *   mkdir PATH MODE | rmdir PATH | unlink PATH | mkfifo PATH MODE
 *   mknod PATH TYPE MODE [MAJ MIN]  TYPE: fifo | reg | sock | char | block
 *   link OLD NEW | symlink TARGET NEW | rename OLD NEW
 *   renameat2 OLD NEW FLAGS         noreplace,exchange (0 for none)
 *   chmod PATH MODE | chown PATH UID GID | lchown PATH UID GID   (-1 keeps)
 *   truncate PATH SIZE | ftruncate PATH SIZE (open O_WRONLY first)
 *   utimens PATH A M [nofollow]     A/M: now | omit | SEC[.NSEC]
 *   readlink PATH                   prints the target
 *   stat PATH FIELD | lstat PATH FIELD
 *        FIELD: type mode nlink uid gid size blocks ino rdev (MAJ,MIN)
 *               atime mtime ctime (times as SEC.NSEC)
 *   statfs PATH                     bsize blocks bfree bavail files ffree namelen
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Prints the outcome of a call that returned rc (0/-1 with errno) and returns 0. */
static int ph_result(int rc)
{
	if (rc == 0) {
		printf("0\n");
	} else {
		const char *n = strerrorname_np(errno);
		if (n)
			printf("%s\n", n);
		else
			printf("E%d\n", errno);
	}
	return 0;
}

static int ph_parse_mode(const char *s, mode_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 8);
	if (errno || end == s || *end || v > 07777)
		return -1;
	*out = (mode_t)v;
	return 0;
}

static int ph_parse_long(const char *s, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

struct ph_flag {
	const char *name;
	int value;
};

static const struct ph_flag ph_open_flags[] = {
	{ "O_RDONLY", O_RDONLY }, { "O_WRONLY", O_WRONLY }, { "O_RDWR", O_RDWR },
	{ "O_CREAT", O_CREAT }, { "O_EXCL", O_EXCL }, { "O_TRUNC", O_TRUNC },
	{ "O_APPEND", O_APPEND }, { "O_DIRECTORY", O_DIRECTORY }, { "O_NOFOLLOW", O_NOFOLLOW },
	{ "O_NONBLOCK", O_NONBLOCK }, { "O_PATH", O_PATH }, { "O_NOATIME", O_NOATIME },
	{ "O_SYNC", O_SYNC }, { "O_TMPFILE", O_TMPFILE }, { NULL, 0 },
};

static const struct ph_flag ph_rename_flags[] = {
	{ "noreplace", RENAME_NOREPLACE }, { "exchange", RENAME_EXCHANGE },
	{ "whiteout", RENAME_WHITEOUT }, { "0", 0 }, { NULL, 0 },
};

/* Parses "A,B,C" against a table; -1 on an unknown name. */
static int ph_parse_flags(const char *s, const struct ph_flag *tab, int *out)
{
	char buf[256];
	int v = 0;
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	for (char *save = NULL, *tok = strtok_r(buf, ",|", &save); tok; tok = strtok_r(NULL, ",|", &save)) {
		const struct ph_flag *f;
		for (f = tab; f->name && strcmp(f->name, tok) != 0; f++)
			;
		if (!f->name)
			return -1;
		v |= f->value;
	}
	*out = v;
	return 0;
}

/* "now" | "omit" | SEC[.NSEC] */
static int ph_parse_time(const char *s, struct timespec *ts)
{
	char *end;
	if (strcmp(s, "now") == 0) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_NOW;
		return 0;
	}
	if (strcmp(s, "omit") == 0) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_OMIT;
		return 0;
	}
	errno = 0;
	ts->tv_sec = strtoll(s, &end, 10);
	ts->tv_nsec = 0;
	if (errno || end == s)
		return -1;
	if (*end == '.') {
		char *e2;
		ts->tv_nsec = strtol(end + 1, &e2, 10);
		if (e2 == end + 1 || *e2 || ts->tv_nsec < 0 || ts->tv_nsec > 999999999)
			return -1;
		return 0;
	}
	return *end ? -1 : 0;
}

static const char *ph_type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "regular";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	default: return "unknown";
	}
}

static int ph_stat(const char *path, const char *field, int follow)
{
	struct stat sb;
	if ((follow ? stat(path, &sb) : lstat(path, &sb)) != 0)
		return ph_result(-1);
	if (strcmp(field, "type") == 0)
		printf("%s\n", ph_type_name(sb.st_mode));
	else if (strcmp(field, "mode") == 0)
		printf("%04o\n", (unsigned)(sb.st_mode & 07777));
	else if (strcmp(field, "nlink") == 0)
		printf("%ju\n", (uintmax_t)sb.st_nlink);
	else if (strcmp(field, "uid") == 0)
		printf("%ju\n", (uintmax_t)sb.st_uid);
	else if (strcmp(field, "gid") == 0)
		printf("%ju\n", (uintmax_t)sb.st_gid);
	else if (strcmp(field, "size") == 0)
		printf("%jd\n", (intmax_t)sb.st_size);
	else if (strcmp(field, "blocks") == 0)
		printf("%jd\n", (intmax_t)sb.st_blocks);
	else if (strcmp(field, "atime") == 0)
		printf("%jd.%09ld\n", (intmax_t)sb.st_atim.tv_sec, sb.st_atim.tv_nsec);
	else if (strcmp(field, "mtime") == 0)
		printf("%jd.%09ld\n", (intmax_t)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
	else if (strcmp(field, "ctime") == 0)
		printf("%jd.%09ld\n", (intmax_t)sb.st_ctim.tv_sec, sb.st_ctim.tv_nsec);
	else if (strcmp(field, "ino") == 0)
		printf("%ju\n", (uintmax_t)sb.st_ino);
	else if (strcmp(field, "rdev") == 0)
		printf("%u,%u\n", major(sb.st_rdev), minor(sb.st_rdev));
	else
		return 2;
	return 0;
}

static int ph_usage(void)
{
	fprintf(stderr, "usage: c3fs-posix-helper CALL ARGS... (see the header of posix_helper.c)\n");
	return 2;
}

int main(int argc, char **argv)
{
	mode_t mode = 0644;
	long long a, b;
	int flags;
	if (argc < 3)
		return ph_usage();
	const char *call = argv[1], *p = argv[2];
	int nargs = argc - 2;

	if (strcmp(call, "open") == 0 && (nargs == 2 || nargs == 3)) {
		if (ph_parse_flags(argv[3], ph_open_flags, &flags) || (nargs == 3 && ph_parse_mode(argv[4], &mode)))
			return ph_usage();
		int fd = open(p, flags, mode);
		if (fd >= 0)
			close(fd);
		return ph_result(fd >= 0 ? 0 : -1);
	}
	if (strcmp(call, "openwrite") == 0 && nargs == 2) {
		int fd = open(p, O_WRONLY);
		if (fd < 0)
			return ph_result(-1);
		size_t n = strlen(argv[3]);
		ssize_t w = write(fd, argv[3], n);
		int err = errno;
		close(fd);
		errno = err;
		return ph_result(w == (ssize_t)n ? 0 : -1);
	}
	if (strcmp(call, "mkdir") == 0 && nargs == 2)
		return ph_parse_mode(argv[3], &mode) ? ph_usage() : ph_result(mkdir(p, mode));
	if (strcmp(call, "mkfifo") == 0 && nargs == 2)
		return ph_parse_mode(argv[3], &mode) ? ph_usage() : ph_result(mkfifo(p, mode));
	if (strcmp(call, "mknod") == 0 && (nargs == 3 || nargs == 5)) {
		mode_t type;
		dev_t dev = 0;
		if (strcmp(argv[3], "fifo") == 0)
			type = S_IFIFO;
		else if (strcmp(argv[3], "reg") == 0)
			type = S_IFREG;
		else if (strcmp(argv[3], "sock") == 0)
			type = S_IFSOCK;
		else if (strcmp(argv[3], "char") == 0)
			type = S_IFCHR;
		else if (strcmp(argv[3], "block") == 0)
			type = S_IFBLK;
		else
			return ph_usage();
		if (ph_parse_mode(argv[4], &mode))
			return ph_usage();
		if (nargs == 5) {
			if (ph_parse_long(argv[5], &a) || ph_parse_long(argv[6], &b) || a < 0 || b < 0 ||
			    a > 4095 || b > 1048575)
				return ph_usage();
			dev = makedev((unsigned)a, (unsigned)b);
		}
		return ph_result(mknod(p, type | mode, dev));
	}
	if (strcmp(call, "rmdir") == 0 && nargs == 1)
		return ph_result(rmdir(p));
	if (strcmp(call, "unlink") == 0 && nargs == 1)
		return ph_result(unlink(p));
	if (strcmp(call, "link") == 0 && nargs == 2)
		return ph_result(link(p, argv[3]));
	if (strcmp(call, "symlink") == 0 && nargs == 2)
		return ph_result(symlink(p, argv[3]));
	if (strcmp(call, "rename") == 0 && nargs == 2)
		return ph_result(rename(p, argv[3]));
	if (strcmp(call, "renameat2") == 0 && nargs == 3) {
		if (ph_parse_flags(argv[4], ph_rename_flags, &flags))
			return ph_usage();
		return ph_result(renameat2(AT_FDCWD, p, AT_FDCWD, argv[3], (unsigned)flags));
	}
	if (strcmp(call, "chmod") == 0 && nargs == 2)
		return ph_parse_mode(argv[3], &mode) ? ph_usage() : ph_result(chmod(p, mode));
	if ((strcmp(call, "chown") == 0 || strcmp(call, "lchown") == 0) && nargs == 3) {
		if (ph_parse_long(argv[3], &a) || ph_parse_long(argv[4], &b))
			return ph_usage();
		if (call[0] == 'c')
			return ph_result(chown(p, (uid_t)a, (gid_t)b));
		return ph_result(lchown(p, (uid_t)a, (gid_t)b));
	}
	if (strcmp(call, "truncate") == 0 && nargs == 2)
		return ph_parse_long(argv[3], &a) ? ph_usage() : ph_result(truncate(p, (off_t)a));
	if (strcmp(call, "ftruncate") == 0 && nargs == 2) {
		if (ph_parse_long(argv[3], &a))
			return ph_usage();
		int fd = open(p, O_WRONLY);
		if (fd < 0)
			return ph_result(-1);
		int rc = ftruncate(fd, (off_t)a), err = errno;
		close(fd);
		errno = err;
		return ph_result(rc);
	}
	if (strcmp(call, "utimens") == 0 && (nargs == 3 || nargs == 4)) {
		struct timespec ts[2];
		int fl = 0;
		if (ph_parse_time(argv[3], &ts[0]) || ph_parse_time(argv[4], &ts[1]))
			return ph_usage();
		if (nargs == 4) {
			if (strcmp(argv[5], "nofollow") != 0)
				return ph_usage();
			fl = AT_SYMLINK_NOFOLLOW;
		}
		return ph_result(utimensat(AT_FDCWD, p, ts, fl));
	}
	if (strcmp(call, "readlink") == 0 && nargs == 1) {
		char buf[8192];
		ssize_t n = readlink(p, buf, sizeof(buf) - 1);
		if (n < 0)
			return ph_result(-1);
		buf[n] = 0;
		printf("%s\n", buf);
		return 0;
	}
	if ((strcmp(call, "stat") == 0 || strcmp(call, "lstat") == 0) && nargs == 2) {
		int rc = ph_stat(p, argv[3], call[0] == 's');
		return rc == 2 ? ph_usage() : rc;
	}
	if (strcmp(call, "statfs") == 0 && nargs == 1) {
		struct statfs sf;
		if (statfs(p, &sf) != 0)
			return ph_result(-1);
		printf("%jd %ju %ju %ju %ju %ju %jd\n", (intmax_t)sf.f_bsize, (uintmax_t)sf.f_blocks,
		       (uintmax_t)sf.f_bfree, (uintmax_t)sf.f_bavail, (uintmax_t)sf.f_files,
		       (uintmax_t)sf.f_ffree, (intmax_t)sf.f_namelen);
		return 0;
	}
	return ph_usage();
}
