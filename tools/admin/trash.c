/* trash.c — c3fs-admin rmtree --expire and c3fs-admin trash list|restore|purge.
 *
 * The trash is a directory tree on the file system itself (src/meta/trash.c keeps it and
 * removes what expired): a tree moved to the trash becomes
 *     <mount>/trash/<uid>/<expiry>.<deleted>.<unique>/<its name>
 * with the original path (from the mount's root) in the item directory's xattr
 * user.c3fs.trash.origin.  Everything here is plain POSIX on the mount, done with the
 * caller's rights: moving to the trash is a rename (so the caller needs what unlink would
 * need), <uid> is the caller's own directory (mode 0700, refused when someone else owns
 * it), restoring is a rename back (never over an existing name), purging goes through
 * 3fs-virt/rm-rf (one request, checked as rm -rf would be).
 */
#include "trash.h"

#include "admin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "c3fs/usrbio.h"

#define ORIGIN_XATTR "user.c3fs.trash.origin"
#define MAX_EXPIRE_S (3650ull * 86400) /* ten years */

bool admin_trash_is_cmd(const char *cmd)
{
	return strcmp(cmd, "rmtree") == 0 || strcmp(cmd, "trash") == 0;
}

void admin_trash_usage(FILE *f)
{
	fprintf(f,
		"  rmtree --expire DURATION PATH...\n"
		"                              move PATH (file or tree) on a c3fs mount to your\n"
		"                              trash; removed for good once DURATION (30m, 8h,\n"
		"                              1d, 7d, ...) has passed; works as the caller\n"
		"  trash list [PATH]           your trash items on the mount of PATH (default .)\n"
		"                              with origin, expiry and size\n"
		"  trash restore ITEM [DEST]   move an item back to where it was (or to DEST);\n"
		"                              never over an existing name\n"
		"  trash purge ITEM...|--expired [PATH]\n"
		"                              remove items now\n"
		"  (ITEM: an item's name, looked up on the mount of the current directory, or\n"
		"  its path)\n");
}

static int fail(const char *what, const char *path, int err)
{
	fprintf(stderr, "c3fs-admin: %s %s: %s\n", what, path, strerror(err));
	return 1;
}

/* a "/" b into out (PATH_MAX): 0, or 1 after a message when it does not fit. */
static int join(char *out, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + 1 + lb >= PATH_MAX)
		return fail("path too long:", a, ENAMETOOLONG);
	memcpy(out, a, la);
	out[la] = '/';
	memcpy(out + la + 1, b, lb + 1);
	return 0;
}

/* "30m", "8h", "1d", "2w", "90s": seconds, or 0 when not a duration. */
static uint64_t parse_duration(const char *s)
{
	char *end;
	unsigned long long n;
	uint64_t mul;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || end == s || n == 0 || s[0] == '-')
		return 0;
	switch (*end) {
	case 's': mul = 1; break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	case 'w': mul = 7 * 86400; break;
	default: return 0;
	}
	if (end[1] != '\0' || n > MAX_EXPIRE_S / mul)
		return 0;
	return n * mul;
}

/* The c3fs mount holding path (which must exist): 0, or an errno after a message. */
static int mount_of(const char *path, char *mp, size_t size)
{
	if (c3fs_extract_mount_point(mp, (int)size, path) < 0) {
		fprintf(stderr, "c3fs-admin: %s is not on a c3fs mount\n", path);
		return ENODEV;
	}
	return 0;
}

/* <mp>/trash/<uid>, made when missing (create), checked to be the caller's own (a
 * directory owned by the caller, no access for others).  0; 2 when it does not exist
 * and !create; 1 after a message. */
static int user_trash(const char *mp, bool create, char *out, size_t size)
{
	char top[PATH_MAX];
	struct stat st;
	uid_t uid = geteuid();

	snprintf(top, sizeof(top), "%s/trash", mp);
	if (lstat(top, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr,
			"c3fs-admin: %s: no trash on this file system (an administrator turns it "
			"on with meta.trash_interval, e.g. 60s)\n", top);
		return 1;
	}
	if ((size_t)snprintf(out, size, "%s/%u", top, (unsigned)uid) >= size)
		return fail("trash path too long:", top, ENAMETOOLONG);
	if (lstat(out, &st) != 0) {
		if (errno == ENOENT && !create)
			return 2; /* nothing trashed by this user yet */
		if (errno != ENOENT)
			return fail("cannot use", out, errno);
		if (mkdir(out, 0700) != 0 && errno != EEXIST)
			return fail("cannot make", out, errno);
		if (lstat(out, &st) != 0)
			return fail("cannot use", out, errno);
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 077)) {
		fprintf(stderr,
			"c3fs-admin: %s is not your private trash directory (owner uid %u, mode "
			"%o): refusing to use it; ask an administrator to remove it\n", out,
			(unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return 1;
	}
	return 0;
}

static int cmd_rmtree(bool json, int argc, char **argv)
{
	uint64_t expire = 0;
	int npaths = 0, rc = 0;
	static unsigned counter;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--expire") == 0) {
			if (i + 1 >= argc || !(expire = parse_duration(argv[i + 1]))) {
				fprintf(stderr, "c3fs-admin: rmtree: --expire needs a duration "
						"such as 30m, 8h, 1d or 7d\n");
				return 2;
			}
			argv[i] = argv[i + 1] = NULL;
			i++;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "c3fs-admin: rmtree: unknown option %s\n", argv[i]);
			return 2;
		} else {
			npaths++;
		}
	}
	if (!expire || !npaths) {
		fprintf(stderr, "usage: c3fs-admin rmtree --expire DURATION PATH...\n");
		return 2;
	}
	if (json)
		printf("{\"items\":[");
	for (int i = 0, first = 1; i < argc; i++) {
		char full[PATH_MAX], dir[PATH_MAX], mp[PATH_MAX], tdir[PATH_MAX];
		char item[PATH_MAX], dst[PATH_MAX], name[NAME_MAX + 1];
		const char *base, *rel;
		char *slash;
		struct stat st;
		uint8_t rnd[4] = { 0 };
		time_t now = time(NULL);
		size_t mlen;

		if (!argv[i])
			continue;
		/* the parent resolved, the last name kept: a symlink goes itself */
		snprintf(full, sizeof(full), "%s", argv[i]);
		while (strlen(full) > 1 && full[strlen(full) - 1] == '/')
			full[strlen(full) - 1] = '\0';
		slash = strrchr(full, '/');
		base = slash ? slash + 1 : full;
		if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
			fprintf(stderr, "c3fs-admin: rmtree: %s: name a file or directory\n",
				argv[i]);
			rc = 1;
			continue;
		}
		if (strlen(base) > NAME_MAX) {
			rc = fail("rmtree:", argv[i], ENAMETOOLONG);
			continue;
		}
		memcpy(name, base, strlen(base) + 1);
		if (slash == full)
			snprintf(dir, sizeof(dir), "/");
		else if (slash)
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - full), full);
		else
			snprintf(dir, sizeof(dir), ".");
		if (!realpath(dir, tdir)) {
			rc = fail("rmtree: cannot resolve", dir, errno);
			continue;
		}
		if ((size_t)snprintf(full, sizeof(full), "%s/%s",
				     strcmp(tdir, "/") ? tdir : "", name) >= sizeof(full)) {
			rc = fail("rmtree:", argv[i], ENAMETOOLONG);
			continue;
		}
		if (lstat(full, &st) != 0) {
			rc = fail("rmtree:", argv[i], errno);
			continue;
		}
		if (mount_of(full, mp, sizeof(mp))) {
			rc = 1;
			continue;
		}
		mlen = strlen(mp);
		rel = full + mlen;
		if (strncmp(full, mp, mlen) != 0 || !*rel || strcmp(rel, "/") == 0 ||
		    (strncmp(rel, "/trash", 6) == 0 && (rel[6] == '/' || !rel[6])) ||
		    (strncmp(rel, "/3fs-virt", 9) == 0 && (rel[9] == '/' || !rel[9]))) {
			fprintf(stderr, "c3fs-admin: rmtree: %s: the mount's root, the trash and "
					"3fs-virt cannot go to the trash\n", argv[i]);
			rc = 1;
			continue;
		}
		if (user_trash(mp, true, tdir, sizeof(tdir))) {
			rc = 1;
			continue;
		}
		(void)!getrandom(rnd, sizeof(rnd), GRND_NONBLOCK);
		if ((size_t)snprintf(item, sizeof(item), "%s/%" PRIu64 ".%" PRIu64 ".%d-%u-%02x%02x%02x%02x",
				     tdir, (uint64_t)now + expire, (uint64_t)now, (int)getpid(),
				     counter++, rnd[0], rnd[1], rnd[2], rnd[3]) >= sizeof(item) ||
		    (size_t)snprintf(dst, sizeof(dst), "%s/%s", item, name) >= sizeof(dst)) {
			rc = fail("rmtree:", argv[i], ENAMETOOLONG);
			continue;
		}
		if (mkdir(item, 0700) != 0) {
			rc = fail("rmtree: cannot make", item, errno);
			continue;
		}
		if (setxattr(item, ORIGIN_XATTR, rel, strlen(rel), 0) != 0) {
			int e = errno;

			rmdir(item);
			rc = fail("rmtree: cannot record the origin on", item, e);
			continue;
		}
		if (rename(full, dst) != 0) {
			int e = errno;

			removexattr(item, ORIGIN_XATTR);
			rmdir(item);
			rc = fail("rmtree: cannot move to the trash:", argv[i], e);
			continue;
		}
		{
			time_t ex = now + (time_t)expire;
			struct tm tm;
			char when[32];

			gmtime_r(&ex, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			if (json) {
				printf("%s{\"path\":", first ? "" : ",");
				admin_json_str(rel);
				printf(",\"item\":\"%s\",\"expires\":\"%s\"}",
				       strrchr(item, '/') + 1, when);
				first = 0;
			} else {
				printf("%s -> trash item %s (until %s)\n", argv[i],
				       strrchr(item, '/') + 1, when);
			}
		}
	}
	if (json)
		printf("]}\n");
	return rc;
}

/* ---- list ------------------------------------------------------------------------- */

static uint64_t du_bytes;
static uint64_t du_entries;

static int du_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)p;
	(void)flag;
	(void)ftw;
	du_entries++;
	if (S_ISREG(st->st_mode))
		du_bytes += (uint64_t)st->st_size;
	return 0;
}

static void fmt_time(uint64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int item_times(const char *name, uint64_t *expiry, uint64_t *deleted)
{
	char *end;

	*expiry = strtoull(name, &end, 10);
	if (end == name || *end != '.')
		return -1;
	name = end + 1;
	*deleted = strtoull(name, &end, 10);
	if (end == name || *end != '.')
		return -1;
	return 0;
}

static int cmd_list(bool json, int argc, char **argv)
{
	char mp[PATH_MAX], tdir[PATH_MAX];
	const char *where = argc > 0 ? argv[0] : ".";
	struct dirent *de;
	uint64_t total = 0;
	int n = 0;
	DIR *d;

	if (argc > 1) {
		fprintf(stderr, "usage: c3fs-admin trash list [PATH]\n");
		return 2;
	}
	if (mount_of(where, mp, sizeof(mp)))
		return 1;
	switch (user_trash(mp, false, tdir, sizeof(tdir))) {
	case 0:
		break;
	case 2:
		printf(json ? "{\"items\":[],\"total_bytes\":0}\n" : "trash is empty\n");
		return 0;
	default:
		return 1;
	}
	d = opendir(tdir);
	if (!d)
		return fail("cannot list", tdir, errno);
	if (json)
		printf("{\"trash\":");
	if (json)
		admin_json_str(tdir);
	if (json)
		printf(",\"items\":[");
	else
		printf("%-40s %-20s %-20s %14s  %s\n", "ITEM", "EXPIRES", "DELETED", "BYTES",
		       "ORIGIN");
	while ((de = readdir(d))) {
		char ip[PATH_MAX], origin[PATH_MAX], ex[32], dl[32];
		uint64_t expiry, deleted;
		ssize_t ol;

		if (de->d_name[0] == '.' || item_times(de->d_name, &expiry, &deleted) < 0)
			continue;
		if (join(ip, tdir, de->d_name))
			continue;
		ol = getxattr(ip, ORIGIN_XATTR, origin, sizeof(origin) - 1);
		origin[ol > 0 ? ol : 0] = '\0';
		du_bytes = du_entries = 0;
		nftw(ip, du_cb, 16, FTW_PHYS);
		total += du_bytes;
		fmt_time(expiry, ex, sizeof(ex));
		fmt_time(deleted, dl, sizeof(dl));
		if (json) {
			printf("%s{\"item\":", n ? "," : "");
			admin_json_str(de->d_name);
			printf(",\"origin\":");
			admin_json_str(origin);
			printf(",\"expires\":\"%s\",\"deleted\":\"%s\",\"bytes\":%" PRIu64
			       ",\"entries\":%" PRIu64 "}", ex, dl, du_bytes,
			       du_entries ? du_entries - 1 : 0);
		} else {
			printf("%-40s %-20s %-20s %14" PRIu64 "  %s\n", de->d_name, ex, dl,
			       du_bytes, origin);
		}
		n++;
	}
	closedir(d);
	if (json)
		printf("],\"total_bytes\":%" PRIu64 "}\n", total);
	else
		printf("%d item%s, %" PRIu64 " bytes (each stored on every replica of its "
		       "chains)\n", n, n == 1 ? "" : "s", total);
	return 0;
}

/* ---- restore / purge ---------------------------------------------------------------- */

/* An ITEM argument: its path (an item of the caller's trash).  0, or 1 after a message. */
static int item_path(const char *arg, char *mp, size_t mpsz, char *out, size_t size)
{
	char tdir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(arg, '/');
	const char *name = slash ? slash + 1 : arg;
	uint64_t e, dl;

	if (mount_of(slash ? arg : ".", mp, mpsz))
		return 1;
	switch (user_trash(mp, false, tdir, sizeof(tdir))) {
	case 0:
		break;
	case 2:
		fprintf(stderr, "c3fs-admin: %s: no such trash item (your trash is empty)\n", arg);
		return 1;
	default:
		return 1;
	}
	if (item_times(name, &e, &dl) < 0 || strchr(name, '/')) {
		fprintf(stderr, "c3fs-admin: %s is not a trash item name\n", arg);
		return 1;
	}
	if ((size_t)snprintf(out, size, "%s/%s", tdir, name) >= size)
		return fail("trash:", arg, ENAMETOOLONG);
	if (slash && (!realpath(arg, real) || strcmp(real, out) != 0)) {
		fprintf(stderr, "c3fs-admin: %s is not an item of your trash (%s)\n", arg, tdir);
		return 1;
	}
	if (access(out, F_OK) != 0)
		return fail("trash:", out, errno);
	return 0;
}

/* The one entry of an item directory: its name into out.  0, or 1 after a message. */
static int item_entry(const char *ip, char *out, size_t size)
{
	DIR *d = opendir(ip);
	struct dirent *de;
	int n = 0;

	if (!d)
		return fail("cannot open", ip, errno);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n++ == 0)
			snprintf(out, size, "%.*s", (int)(size - 1), de->d_name);
	}
	closedir(d);
	if (n != 1) {
		fprintf(stderr, "c3fs-admin: %s holds %d entries, not one: not restored\n", ip, n);
		return 1;
	}
	return 0;
}

static int cmd_restore(bool json, int argc, char **argv)
{
	char mp[PATH_MAX], ip[PATH_MAX], entry[NAME_MAX + 1], src[PATH_MAX], dst[PATH_MAX];
	char origin[PATH_MAX];
	ssize_t ol;

	if (argc < 1 || argc > 2) {
		fprintf(stderr, "usage: c3fs-admin trash restore ITEM [DEST]\n");
		return 2;
	}
	if (item_path(argv[0], mp, sizeof(mp), ip, sizeof(ip)) || item_entry(ip, entry, sizeof(entry)))
		return 1;
	if (argc == 2) {
		if (strlen(argv[1]) >= sizeof(dst))
			return fail("restore:", argv[1], ENAMETOOLONG);
		memcpy(dst, argv[1], strlen(argv[1]) + 1);
	} else {
		ol = getxattr(ip, ORIGIN_XATTR, origin, sizeof(origin) - 1);
		if (ol <= 0 || origin[0] != '/') {
			fprintf(stderr, "c3fs-admin: %s has no origin recorded: give a DEST\n", ip);
			return 1;
		}
		origin[ol] = '\0';
		if ((size_t)snprintf(dst, sizeof(dst), "%s%s", mp, origin) >= sizeof(dst))
			return fail("restore:", origin, ENAMETOOLONG);
	}
	if (join(src, ip, entry))
		return 1;
	if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) != 0) {
		int e = errno;

		if (e == EEXIST)
			fprintf(stderr, "c3fs-admin: %s exists: not replaced (give another DEST)\n",
				dst);
		else
			fail("cannot restore to", dst, e);
		return 1;
	}
	removexattr(ip, ORIGIN_XATTR);
	if (rmdir(ip) != 0)
		fprintf(stderr, "c3fs-admin: restored, but %s stays: %s\n", ip, strerror(errno));
	if (json) {
		printf("{\"restored\":");
		admin_json_str(dst);
		printf("}\n");
	} else {
		printf("%s restored to %s\n", strrchr(ip, '/') + 1, dst);
	}
	return 0;
}

/* Remove ip now, through 3fs-virt/rm-rf (one request, checked as rm -rf). */
static int purge_one(const char *mp, const char *ip)
{
	char link[PATH_MAX];

	if (join(link, mp, "3fs-virt/rm-rf/purge"))
		return 1;
	if (symlink(ip, link) != 0)
		return fail("cannot purge", ip, errno);
	return 0;
}

static int cmd_purge(bool json, int argc, char **argv)
{
	int rc = 0, n = 0;

	if (argc >= 1 && strcmp(argv[0], "--expired") == 0) {
		char mp[PATH_MAX], tdir[PATH_MAX];
		struct dirent *de;
		uint64_t now = (uint64_t)time(NULL);
		DIR *d;

		if (argc > 2) {
			fprintf(stderr, "usage: c3fs-admin trash purge --expired [PATH]\n");
			return 2;
		}
		if (mount_of(argc == 2 ? argv[1] : ".", mp, sizeof(mp)))
			return 1;
		switch (user_trash(mp, false, tdir, sizeof(tdir))) {
		case 0:
			break;
		case 2:
			printf(json ? "{\"purged\":0}\n" : "0 items purged\n");
			return 0;
		default:
			return 1;
		}
		d = opendir(tdir);
		if (!d)
			return fail("cannot list", tdir, errno);
		while ((de = readdir(d))) {
			char ip[PATH_MAX];
			uint64_t e, dl;

			if (item_times(de->d_name, &e, &dl) < 0 || e > now)
				continue;
			if (join(ip, tdir, de->d_name)) {
				rc = 1;
				continue;
			}
			if (purge_one(mp, ip))
				rc = 1;
			else
				n++;
		}
		closedir(d);
	} else if (argc >= 1) {
		for (int i = 0; i < argc; i++) {
			char mp[PATH_MAX], ip[PATH_MAX];

			if (item_path(argv[i], mp, sizeof(mp), ip, sizeof(ip)) || purge_one(mp, ip))
				rc = 1;
			else
				n++;
		}
	} else {
		fprintf(stderr, "usage: c3fs-admin trash purge ITEM...|--expired [PATH]\n");
		return 2;
	}
	if (json)
		printf("{\"purged\":%d}\n", n);
	else
		printf("%d item%s purged\n", n, n == 1 ? "" : "s");
	return rc;
}

int admin_trash_run(const char *cmd, bool json, int argc, char **argv)
{
	if (strcmp(cmd, "rmtree") == 0)
		return cmd_rmtree(json, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "list") == 0)
		return cmd_list(json, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "restore") == 0)
		return cmd_restore(json, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "purge") == 0)
		return cmd_purge(json, argc - 1, argv + 1);
	fprintf(stderr, "usage: c3fs-admin trash list|restore|purge ...\n");
	return 2;
}
