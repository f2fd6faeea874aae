/* config.c: every value type and its errors, INI files (line numbers, unknown keys,
 * syntax, duplicates, continuation lines, long lines, NUL bytes, all-or-nothing), --set,
 * the command line (order of defaults < file < --set, --help, --print-config-doc) and the
 * Markdown/sample renderings (the sample must load back to the defaults). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/errors.h"
#include "tests/lib/tap.h"

struct tcfg {
	char *listen;
	int64_t workers;
	bool verbose;
	uint64_t cache_bytes;
	uint64_t flush_ms;
	char *label;
	int64_t offset;
	bool nodelay;
};

static const struct c3_cfg_key tkeys[] = {
	{ "server", "listen", C3_CFG_STR, offsetof(struct tcfg, listen), "127.0.0.1:9000", 0, -1,
	  "", false, "Address to listen on." },
	{ "server", "workers", C3_CFG_INT, offsetof(struct tcfg, workers), "4", 1, 64, "",
	  false, "Worker threads." },
	{ "server", "verbose", C3_CFG_BOOL, offsetof(struct tcfg, verbose), "false", 0, -1, "",
	  true, "Log more | less." },
	{ "cache", "size", C3_CFG_SIZE, offsetof(struct tcfg, cache_bytes), "64M", 4096,
	  1ll << 40, "bytes", false, "Cache size." },
	{ "cache", "flush", C3_CFG_MS, offsetof(struct tcfg, flush_ms), "5s", 1, 3600000, "ms",
	  true, "Flush interval." },
	{ "misc", "label", C3_CFG_STR, offsetof(struct tcfg, label), "", 0, -1, "", false,
	  "Free text." },
	{ "misc", "offset", C3_CFG_INT, offsetof(struct tcfg, offset), "-5", 1, 0, "", false,
	  "Unbounded signed value." },
	{ "net.tcp", "nodelay", C3_CFG_BOOL, offsetof(struct tcfg, nodelay), "yes", 0, -1, "",
	  false, "TCP_NODELAY." },
	/* a key of an already seen section after another section: the sample groups them */
	{ "server", "name", C3_CFG_STR, 0 /* unused below */, NULL, 0, -1, "", false,
	  "Shares offset 0 with listen: only in the rendering tests." },
};
static const struct c3_cfg_table ttab = { "test", tkeys, 8 };
static const struct c3_cfg_table ttab_all = { "test", tkeys, 9 };

static char err[C3_CFG_ERRLEN];

static int has(const char *hay, const char *needle)
{
	int r = hay && strstr(hay, needle) != NULL;

	if (!r)
		diag("\"%s\" not found in \"%s\"", needle, hay ? hay : "(null)");
	return r;
}

/* Apply one --set and return its code; err keeps the message. */
static int set1(struct tcfg *c, const char *a)
{
	err[0] = '\0';
	return c3_cfg_set(&ttab, c, a, err, sizeof(err));
}

static void test_defaults(void)
{
	struct tcfg c;
	struct c3_cfg_key bad[2];
	struct c3_cfg_table bt = { "bad", bad, 1 };

	memset(&c, 0x5a, sizeof(c)); /* garbage: defaults must not free it */
	is_int(c3_cfg_defaults(&ttab, &c, err, sizeof(err)), 0, "defaults load");
	is_str(c.listen, "127.0.0.1:9000", "default STR");
	is_int(c.workers, 4, "default INT");
	ok(!c.verbose, "default BOOL false");
	is_int(c.cache_bytes, 64ull << 20, "default SIZE 64M");
	is_int(c.flush_ms, 5000, "default MS 5s");
	is_str(c.label, "", "default empty STR");
	is_int(c.offset, -5, "default negative INT with no bounds");
	ok(c.nodelay, "default BOOL yes");
	c3_cfg_release(&ttab, &c);
	ok(c.listen == NULL && c.label == NULL, "release leaves NULL");
	c3_cfg_release(&ttab, &c);
	ok(1, "release twice is safe");

	memcpy(&bad[0], &tkeys[1], sizeof(bad[0]));
	bad[0].defval = "100"; /* above max 64 */
	is_int(c3_cfg_defaults(&bt, &c, err, sizeof(err)), -C3FS_ECONFIG, "bad default rejected");
	ok(has(err, "default: server.workers:") && has(err, "out of range [1..64]"),
	   "bad default message");
	bad[0].defval = NULL;
	is_int(c3_cfg_defaults(&bt, &c, err, sizeof(err)), -C3FS_ECONFIG, "NULL INT default");
	memcpy(&bad[0], &tkeys[0], sizeof(bad[0]));
	memcpy(&bad[1], &tkeys[0], sizeof(bad[1]));
	bt.nkeys = 2;
	is_int(c3_cfg_defaults(&bt, &c, err, sizeof(err)), -C3FS_ECONFIG, "duplicate key in table");
	ok(has(err, "duplicate"), "duplicate key message");
	ok(c.listen == NULL, "failed defaults leave nothing to release");
}

static void test_types(void)
{
	struct tcfg c;

	c3_cfg_defaults(&ttab, &c, err, sizeof(err));
	/* INT */
	is_int(set1(&c, "server.workers=12"), 0, "INT 12");
	is_int(c.workers, 12, "INT stored");
	is_int(set1(&c, "server.workers=+7"), 0, "INT +7");
	is_int(c.workers, 7, "INT + sign");
	is_int(set1(&c, "server.workers=64"), 0, "INT at max");
	is_int(set1(&c, "server.workers=1"), 0, "INT at min");
	is_int(set1(&c, "server.workers=0"), -C3FS_ECONFIG, "INT below min");
	ok(has(err, "--set server.workers: 0 is out of range [1..64]"), "INT range message");
	is_int(set1(&c, "server.workers=65"), -C3FS_ECONFIG, "INT above max");
	is_int(set1(&c, "server.workers=abc"), -C3FS_ECONFIG, "INT not a number");
	ok(has(err, "not a decimal integer"), "INT syntax message");
	is_int(set1(&c, "server.workers=3x"), -C3FS_ECONFIG, "INT trailing junk");
	is_int(set1(&c, "server.workers="), -C3FS_ECONFIG, "INT empty");
	is_int(set1(&c, "server.workers=0x10"), -C3FS_ECONFIG, "INT hex refused");
	is_int(set1(&c, "misc.offset=99999999999999999999"), -C3FS_ECONFIG, "INT overflow");
	ok(has(err, "does not fit in 64 bits"), "INT overflow message");
	is_int(set1(&c, "misc.offset=-9223372036854775808"), 0, "INT64_MIN");
	ok(c.offset == INT64_MIN, "INT64_MIN stored");
	is_int(set1(&c, "misc.offset=9223372036854775807"), 0, "INT64_MAX");
	ok(c.offset == INT64_MAX, "INT64_MAX stored");
	is_int(set1(&c, "misc.offset=9223372036854775808"), -C3FS_ECONFIG, "INT64_MAX+1");
	is_int(set1(&c, "misc.offset=-"), -C3FS_ECONFIG, "INT sign only");
	is_int(c.workers, 1, "failed sets left the last good INT");

	/* BOOL */
	static const char *const yes[] = { "true", "yes", "on", "1", "TRUE", "On" };
	static const char *const no[] = { "false", "no", "off", "0", "False", "NO" };
	int good = 1;
	char a[64];

	for (int i = 0; i < 6; i++) {
		snprintf(a, sizeof(a), "server.verbose=%s", yes[i]);
		good &= set1(&c, a) == 0 && c.verbose;
		snprintf(a, sizeof(a), "server.verbose=%s", no[i]);
		good &= set1(&c, a) == 0 && !c.verbose;
	}
	ok(good, "BOOL spellings");
	is_int(set1(&c, "server.verbose=maybe"), -C3FS_ECONFIG, "BOOL bad word");
	ok(has(err, "is not a boolean"), "BOOL message");
	is_int(set1(&c, "server.verbose=2"), -C3FS_ECONFIG, "BOOL 2");
	is_int(set1(&c, "server.verbose="), -C3FS_ECONFIG, "BOOL empty");

	/* SIZE */
	is_int(set1(&c, "cache.size=4096"), 0, "SIZE bare bytes");
	is_int(c.cache_bytes, 4096, "SIZE 4096");
	is_int(set1(&c, "cache.size=8K"), 0, "SIZE K");
	is_int(c.cache_bytes, 8192, "SIZE 8K");
	is_int(set1(&c, "cache.size=3M"), 0, "SIZE M");
	is_int(c.cache_bytes, 3ull << 20, "SIZE 3M");
	is_int(set1(&c, "cache.size=2g"), 0, "SIZE lower-case g");
	is_int(c.cache_bytes, 2ull << 30, "SIZE 2G");
	is_int(set1(&c, "cache.size=1T"), 0, "SIZE T at max");
	is_int(c.cache_bytes, 1ull << 40, "SIZE 1T");
	is_int(set1(&c, "cache.size=2T"), -C3FS_ECONFIG, "SIZE above max");
	ok(has(err, "2T is out of range [4K..1T]"), "SIZE range message uses suffixes");
	is_int(set1(&c, "cache.size=1K"), -C3FS_ECONFIG, "SIZE below min");
	is_int(set1(&c, "cache.size=5X"), -C3FS_ECONFIG, "SIZE bad suffix");
	ok(has(err, "is not a size"), "SIZE message");
	is_int(set1(&c, "cache.size=4 K"), -C3FS_ECONFIG, "SIZE space before suffix");
	is_int(set1(&c, "cache.size=-4K"), -C3FS_ECONFIG, "SIZE negative");
	is_int(set1(&c, "cache.size=1.5M"), -C3FS_ECONFIG, "SIZE fraction");
	is_int(set1(&c, "cache.size=K"), -C3FS_ECONFIG, "SIZE suffix only");
	is_int(set1(&c, "cache.size=17179869184T"), -C3FS_ECONFIG, "SIZE overflow by suffix");
	ok(has(err, "does not fit in 64 bits"), "SIZE overflow message");
	is_int(c.cache_bytes, 1ull << 40, "failed SIZE sets kept the old value");

	/* MS */
	is_int(set1(&c, "cache.flush=250"), 0, "MS bare");
	is_int(c.flush_ms, 250, "MS bare = ms");
	is_int(set1(&c, "cache.flush=750ms"), 0, "MS ms");
	is_int(c.flush_ms, 750, "MS 750ms");
	is_int(set1(&c, "cache.flush=3s"), 0, "MS s");
	is_int(c.flush_ms, 3000, "MS 3s");
	is_int(set1(&c, "cache.flush=2m"), 0, "MS m");
	is_int(c.flush_ms, 120000, "MS 2m");
	is_int(set1(&c, "cache.flush=1h"), 0, "MS h");
	is_int(c.flush_ms, 3600000, "MS 1h");
	is_int(set1(&c, "cache.flush=2h"), -C3FS_ECONFIG, "MS above max");
	ok(has(err, "out of range [1ms..1h]"), "MS range message uses suffixes");
	is_int(set1(&c, "cache.flush=0"), -C3FS_ECONFIG, "MS below min");
	is_int(set1(&c, "cache.flush=5S"), -C3FS_ECONFIG, "MS upper-case suffix refused");
	ok(has(err, "is not a duration"), "MS message");
	is_int(set1(&c, "cache.flush=1d"), -C3FS_ECONFIG, "MS unknown suffix");
	is_int(set1(&c, "cache.flush=1.5s"), -C3FS_ECONFIG, "MS fraction");

	/* STR */
	is_int(set1(&c, "server.listen = 10.0.0.1:1 "), 0, "STR with spaces around");
	is_str(c.listen, "10.0.0.1:1", "STR trimmed");
	is_int(set1(&c, "misc.label=a b=c"), 0, "STR with inner space and =");
	is_str(c.label, "a b=c", "STR keeps everything after the first =");
	is_int(set1(&c, "misc.label="), 0, "STR empty");
	is_str(c.label, "", "STR empty stored");

	/* --set syntax */
	is_int(set1(&c, "net.tcp.nodelay=off"), 0, "section with a dot");
	ok(!c.nodelay, "dotted section stored");
	is_int(set1(&c, "server.workers"), -C3FS_ECONFIG, "--set without =");
	ok(has(err, "expected section.key=value"), "--set syntax message");
	is_int(set1(&c, "workers=3"), -C3FS_ECONFIG, "--set without section");
	is_int(set1(&c, ".workers=3"), -C3FS_ECONFIG, "--set empty section");
	is_int(set1(&c, "server.=3"), -C3FS_ECONFIG, "--set empty key");
	is_int(set1(&c, "server.nosuch=3"), -C3FS_ECONFIG, "--set unknown key");
	ok(has(err, "--set server.nosuch: unknown key"), "unknown key message");
	is_int(set1(&c, "nosuch.workers=3"), -C3FS_ECONFIG, "--set unknown section");
	ok(has(err, "unknown section"), "unknown section message");
	is_int(set1(&c, "Server.workers=3"), -C3FS_ECONFIG, "names are case-sensitive");
	c3_cfg_release(&ttab, &c);
}

/* Load text with c3_cfg_load_string over defaults; returns the code. */
static int load(struct tcfg *c, const char *text)
{
	err[0] = '\0';
	return c3_cfg_load_string(&ttab, c, "t.ini", text, err, sizeof(err));
}

static void test_ini(void)
{
	struct tcfg c;
	char longline[400];

	c3_cfg_defaults(&ttab, &c, err, sizeof(err));
	is_int(load(&c, "\xef\xbb\xbf# comment\n; comment\n[server]\r\nlisten = h:1 ; inline\r\n"
			"workers=9\n\n[cache]\nsize = 1G\nflush= 2m\n[net.tcp]\nnodelay = no\n"
			"[server]\nverbose = on"),
	       0, "good file (BOM, CRLF, comments, repeated section, no final newline)");
	diag("%s", err);
	is_str(c.listen, "h:1", "inline comment stripped");
	is_int(c.workers, 9, "INT from file");
	ok(c.verbose, "BOOL from file");
	is_int(c.cache_bytes, 1ull << 30, "SIZE from file");
	is_int(c.flush_ms, 120000, "MS from file");
	ok(!c.nodelay, "dotted section from file");
	is_int(load(&c, ""), 0, "empty file");
	is_int(c.workers, 9, "empty file changes nothing");

	is_int(load(&c, "[server]\nworkers = 2\n\n[nosuch]\nkey = 1\n"), -C3FS_ECONFIG,
	       "unknown section");
	is_str(err, "t.ini:5: nosuch.key: unknown section [nosuch]", "unknown section message");
	is_int(c.workers, 9, "all or nothing: earlier good key not applied");
	is_int(load(&c, "[server]\nworkers = 2\nthreads = 3\n"), -C3FS_ECONFIG, "unknown key");
	is_str(err, "t.ini:3: server.threads: unknown key", "unknown key message");
	is_int(load(&c, "[cache]\n\n\nsize = 12Q\n"), -C3FS_ECONFIG, "bad value");
	ok(has(err, "t.ini:4: cache.size: \"12Q\" is not a size"), "bad value message");
	is_int(load(&c, "[server]\nworkers = 100\n"), -C3FS_ECONFIG, "out of range");
	is_str(err, "t.ini:2: server.workers: 100 is out of range [1..64]", "range message");
	is_int(load(&c, "[server]\nworkers\n"), -C3FS_ECONFIG, "line without =");
	ok(has(err, "t.ini:2: syntax error"), "syntax error message");
	is_int(load(&c, "[server\nworkers = 3\n"), -C3FS_ECONFIG, "unterminated section");
	ok(has(err, "t.ini:1: syntax error"), "section syntax message");
	is_int(load(&c, "[server]\nworkers = 100\nbroken\n"), -C3FS_ECONFIG, "two errors");
	ok(has(err, "t.ini:2:"), "the first error is reported");
	is_int(load(&c, "[server]\nbroken\nworkers = 100\n"), -C3FS_ECONFIG, "two errors reversed");
	ok(has(err, "t.ini:2: syntax"), "the first (syntax) error is reported");
	is_int(load(&c, "workers = 3\n"), -C3FS_ECONFIG, "key outside a section");
	ok(has(err, "t.ini:1: workers: key outside any [section]"), "outside message");
	is_int(load(&c, "[server]\nworkers = 3\nverbose = 1\nworkers = 4\n"), -C3FS_ECONFIG,
	       "key set twice");
	ok(has(err, "t.ini:4: server.workers: set twice (first at line 2)"), "twice message");
	is_int(load(&c, "[misc]\nlabel = one\n  two\n"), -C3FS_ECONFIG, "continuation line");
	ok(has(err, "t.ini:3: misc.label: indented line continues"), "continuation message");
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "[misc]\nlabel = ", 15);
	memcpy(longline + sizeof(longline) - 8, "\n[a\n", 5);
	is_int(load(&c, longline), -C3FS_ECONFIG, "line longer than libinih's buffer");
	ok(has(err, "t.ini:2: line too long"), "long line message");
	is_str(c.label, "", "nothing applied from the file with a long line");
	memset(longline, 'y', 150);
	strcpy(longline, "[misc]\nlabel = ");
	memset(longline + 15, 'y', 150);
	longline[165] = '\0';
	is_int(load(&c, longline), 0, "150-character value fits");
	is_int(strlen(c.label), 150, "long value intact");
	c3_cfg_release(&ttab, &c);
}

static char tmpdir[64];

static char *write_tmp(const char *name, const void *data, size_t len)
{
	static char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		diag("cannot write %s", path);
	if (fd >= 0)
		close(fd);
	return path;
}

static void test_file(void)
{
	static const char nul[] = "[server]\nworkers = 3\nlisten = a\0b\n";
	struct tcfg c;
	char *p;
	int rc;

	c3_cfg_defaults(&ttab, &c, err, sizeof(err));
	p = write_tmp("good.ini", "[server]\nworkers = 33\n", 22);
	is_int(c3_cfg_load_file(&ttab, &c, p, err, sizeof(err)), 0, "load_file");
	is_int(c.workers, 33, "value from file");
	p = write_tmp("bad.ini", "[server]\nworkers = 33\nbogus = 1\n", 32);
	is_int(c3_cfg_load_file(&ttab, &c, p, err, sizeof(err)), -C3FS_ECONFIG, "bad file");
	ok(has(err, "/bad.ini:3: server.bogus: unknown key"), "file name and line in message");
	p = write_tmp("nul.ini", nul, sizeof(nul) - 1);
	is_int(c3_cfg_load_file(&ttab, &c, p, err, sizeof(err)), -C3FS_ECONFIG, "NUL byte");
	ok(has(err, "nul.ini:3: NUL byte"), "NUL byte message");
	is_int(c3_cfg_load_file(&ttab, &c, "/nonexistent/x.ini", err, sizeof(err)), -ENOENT,
	       "missing file is -ENOENT");
	ok(has(err, "/nonexistent/x.ini: "), "missing file message");
	rc = c3_cfg_load_file(&ttab, &c, tmpdir, err, sizeof(err));
	is_int(rc, -EINVAL, "a directory is refused");
	ok(has(err, "not a regular file"), "directory message");
	{
		size_t n = (1u << 20) + 1;
		char *big = malloc(n);

		memset(big, '\n', n);
		p = write_tmp("big.ini", big, n);
		free(big);
		is_int(c3_cfg_load_file(&ttab, &c, p, err, sizeof(err)), -EFBIG, "file over 1 MiB refused");
		p = write_tmp("big.ini", "[server]\nworkers = 44\n", 22);
		is_int(c3_cfg_load_file(&ttab, &c, p, err, sizeof(err)), 0, "rewritten small file loads");
		is_int(c.workers, 44, "value from the rewritten file");
		p = write_tmp("good.ini", "[server]\nworkers = 33\n", 22);
		c3_cfg_load_file(&ttab, &c, p, err, sizeof(err));
	}
	is_int(c.workers, 33, "failed loads kept values");
	c3_cfg_release(&ttab, &c);
}

/* Run c3_cfg_from_args with stdout captured into out (NUL-terminated). */
static int from_args(struct tcfg *c, int argc, char **argv, int *argi, char *out, size_t outlen)
{
	char path[128];
	int saved, fd, rc;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stdout", tmpdir);
	fflush(stdout);
	saved = dup(1);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	dup2(fd, 1);
	err[0] = '\0';
	rc = c3_cfg_from_args(&ttab, c, argc, argv, argi, err, sizeof(err));
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	n = pread(fd, out, outlen - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return rc;
}

static void test_args(void)
{
	static char out[16384];
	char *file = write_tmp("args.ini", "[server]\nworkers = 10\nlisten = f:1\n[cache]\n"
					   "flush = 9s\n", 54);
	char cfgeq[200];
	struct tcfg c;
	int argi = -1;

	snprintf(cfgeq, sizeof(cfgeq), "--config=%s", file);
	{
		/* --set before --config on the command line still wins over the file */
		char *argv[] = { "prog", "--set", "server.workers=20", "-c", file,
				 "--set=server.workers=30", "--set", "cache.size=8K", "rest",
				 "--set", "server.workers=1", NULL };

		is_int(from_args(&c, 11, argv, &argi, out, sizeof(out)), 0, "from_args");
		is_int(c.workers, 30, "last --set wins over earlier --set and the file");
		is_str(c.listen, "f:1", "file over default");
		is_int(c.flush_ms, 9000, "file value");
		is_int(c.cache_bytes, 8192, "--set value");
		is_int(argi, 8, "argi at the first argument not consumed");
		is_str(out, "", "nothing printed");
		c3_cfg_release(&ttab, &c);
	}
	{
		char *argv[] = { "prog", cfgeq, "--", "--set", "server.workers=2", NULL };

		is_int(from_args(&c, 5, argv, &argi, out, sizeof(out)), 0, "--config= and --");
		is_int(c.workers, 10, "arguments after -- not consumed");
		is_int(argi, 3, "argi after --");
		c3_cfg_release(&ttab, &c);
	}
	{
		char *argv[] = { "prog", NULL };

		is_int(from_args(&c, 1, argv, NULL, out, sizeof(out)), 0, "no arguments, argi NULL");
		is_int(c.workers, 4, "defaults only");
		c3_cfg_release(&ttab, &c);
	}
	{
		char *argv[] = { "prog", "extra", NULL };

		is_int(from_args(&c, 2, argv, NULL, out, sizeof(out)), -EINVAL,
		       "extra argument refused when argi is NULL");
		ok(has(err, "unexpected argument \"extra\""), "extra argument message");
		ok(c.listen == NULL, "failure leaves nothing to release");
	}
	{
		char *argv[] = { "prog", "--set", NULL };

		is_int(from_args(&c, 2, argv, &argi, out, sizeof(out)), -EINVAL, "--set without value");
		ok(has(err, "--set needs a value"), "missing value message");
	}
	{
		char *argv[] = { "prog", "-c", file, "--config", file, NULL };

		is_int(from_args(&c, 5, argv, &argi, out, sizeof(out)), -EINVAL, "--config twice");
	}
	{
		char *argv[] = { "prog", "-c", "/nonexistent.ini", NULL };

		is_int(from_args(&c, 3, argv, &argi, out, sizeof(out)), -ENOENT, "missing config file");
		ok(c.listen == NULL, "failed load released obj");
	}
	{
		char *argv[] = { "prog", "--set", "server.workers=0", NULL };

		is_int(from_args(&c, 3, argv, &argi, out, sizeof(out)), -C3FS_ECONFIG, "bad --set");
		ok(has(err, "--set server.workers:"), "bad --set message");
		ok(c.listen == NULL, "failed --set released obj");
	}
	{
		char *argv[] = { "prog", "--help", "--set", "server.workers=0", NULL };

		is_int(from_args(&c, 4, argv, &argi, out, sizeof(out)), 1, "--help returns 1");
		ok(has(out, "usage: prog [--config FILE]"), "usage printed");
		ok(has(out, "cache.size (size, bytes, 4K..1T) default \"64M\""), "key table printed");
		ok(c.listen == NULL, "--help released obj");
	}
	{
		char *argv[] = { "prog", "--print-config-doc=markdown", NULL };

		is_int(from_args(&c, 2, argv, &argi, out, sizeof(out)), 1, "markdown returns 1");
		ok(has(out, "## test\n"), "markdown printed");
	}
	{
		char *argv[] = { "prog", "--print-config-doc", "sample", NULL };

		is_int(from_args(&c, 3, argv, &argi, out, sizeof(out)), 1, "sample returns 1");
		ok(has(out, "[server]\n"), "sample printed");
	}
	{
		char *argv[] = { "prog", "--print-config-doc=html", NULL };

		is_int(from_args(&c, 2, argv, &argi, out, sizeof(out)), -EINVAL, "unknown doc format");
	}
}

static void test_render(void)
{
	struct c3_buf b = C3_BUF_INIT;
	struct tcfg c, d;
	char *s;

	c3_cfg_render_markdown(&ttab_all, &b);
	c3_buf_append(&b, "", 1);
	s = (char *)b.data;
	ok(has(s, "## test\n"), "markdown heading");
	ok(has(s, "| key | type | default | range | unit | change | description |\n|---|"),
	   "markdown table header");
	ok(has(s, "| `cache.size` | size | `64M` | 4K..1T | bytes | restart | Cache size. |\n"),
	   "markdown SIZE row");
	ok(has(s, "| `cache.flush` | duration | `5s` | 1ms..1h | ms | reloadable | Flush interval. |\n"),
	   "markdown MS row");
	ok(has(s, "| `server.verbose` | bool | `false` |  |  | reloadable | Log more \\| less. |\n"),
	   "markdown escapes |");
	ok(has(s, "| `misc.label` | string | (empty) |"), "markdown empty default");
	ok(has(s, "| `misc.offset` | int | `-5` |  |"), "markdown unbounded INT");
	c3_buf_release(&b);

	c3_cfg_render_sample(&ttab_all, &b);
	c3_buf_append(&b, "", 1);
	s = (char *)b.data;
	ok(has(s, "[server]\n# Address to listen on.\n# string, restart to change\n"
		  "listen = 127.0.0.1:9000\n"), "sample STR key");
	ok(has(s, "# Worker threads.\n# int, range 1..64, restart to change\nworkers = 4\n"),
	   "sample INT key with range");
	ok(has(s, "verbose = false\n# Shares offset 0"), "later key of [server] grouped");
	ok(strstr(s, "[server]") && !strstr(strstr(s, "[server]") + 1, "[server]"),
	   "[server] appears once");
	c3_buf_release(&b);

	/* the sample of the loadable table loads back to exactly the defaults */
	c3_cfg_render_sample(&ttab, &b);
	c3_buf_append(&b, "", 1);
	c3_cfg_defaults(&ttab, &d, err, sizeof(err));
	memset(&c, 0, sizeof(c));
	c3_cfg_defaults(&ttab, &c, err, sizeof(err));
	c.workers = 63;
	c.cache_bytes = 1;
	c.nodelay = false;
	is_int(c3_cfg_load_string(&ttab, &c, "sample", (char *)b.data, err, sizeof(err)), 0,
	       "sample loads");
	ok(c.workers == d.workers && c.cache_bytes == d.cache_bytes && c.flush_ms == d.flush_ms &&
		   c.verbose == d.verbose && c.offset == d.offset && c.nodelay == d.nodelay &&
		   strcmp(c.listen, d.listen) == 0 && strcmp(c.label, d.label) == 0,
	   "sample values equal the defaults");
	c3_cfg_release(&ttab, &c);
	c3_cfg_release(&ttab, &d);
	c3_buf_release(&b);
}

/* Live configuration: pushed lines are all or nothing and may be limited to reloadable keys;
 * a schema round-trips and validates like the table it came from. */
static void test_live(void)
{
	struct tcfg c, copy;
	struct c3_cfg_table *st;
	struct c3_buf b = C3_BUF_INIT;
	char val[64];
	size_t objsize;
	void *obj;

	is_int(c3_cfg_defaults(&ttab, &c, err, sizeof(err)), 0, "live: defaults");
	is_int(c3_cfg_apply_lines(&ttab, &c, "server.verbose=on\n cache.flush = 2s \n\n", true,
				  err, sizeof(err)), 2, "two reloadable lines applied");
	ok(c.verbose && c.flush_ms == 2000, "values stored");
	is_int(c3_cfg_apply_lines(&ttab, &c, "cache.flush=9s\nserver.workers=8", true, err,
				  sizeof(err)), -C3FS_ECONFIG, "a key needing a restart refuses all");
	is_str(err, "server.workers: not reloadable (set it in the daemon's config file and "
		    "restart it)", "the reason names the key");
	ok(c.flush_ms == 2000 && c.workers == 4, "nothing changed");
	is_int(c3_cfg_apply_lines(&ttab, &c, "server.workers=8", false, err, sizeof(err)), 1,
	       "without reloadable_only any key applies");
	is_int(c3_cfg_apply_lines(&ttab, &c, "x.y=1", false, err, sizeof(err)), -C3FS_ECONFIG,
	       "unknown key refused");
	is_str(err, "x.y: unknown key", "unknown key message");
	is_int(c3_cfg_apply_lines(&ttab, &c, "cache.flush=soon", true, err, sizeof(err)),
	       -C3FS_ECONFIG, "bad value refused");
	is_int(c3_cfg_apply_lines(&ttab, &c, "cache.flush=1s\ncache.flush=2s", true, err,
				  sizeof(err)), -C3FS_ECONFIG, "a key twice refused");
	is_int(c3_cfg_copy(&ttab, &copy, &c), 0, "copy");
	ok(copy.listen != c.listen && strcmp(copy.listen, c.listen) == 0 && copy.workers == 8,
	   "copy duplicates strings");
	is_int(c3_cfg_get(&ttab, &copy, "cache.size", val, sizeof(val)), 0, "get");
	is_str(val, "64M", "get renders sizes with a suffix");
	c3_cfg_release(&ttab, &copy);

	c3_cfg_render_schema(&ttab, &b);
	c3_buf_append(&b, "", 1);
	is_int(c3_cfg_schema_parse((const char *)b.data, &st, &objsize, err, sizeof(err)), 0,
	       "schema parses back");
	is_int((int)st->nkeys, 8, "schema: every key");
	obj = calloc(1, objsize);
	is_int(c3_cfg_apply_lines(st, obj, "cache.flush=1h", true, err, sizeof(err)), 1,
	       "schema: reloadable key in range");
	is_int(c3_cfg_apply_lines(st, obj, "cache.flush=2h", true, err, sizeof(err)),
	       -C3FS_ECONFIG, "schema: range kept");
	is_int(c3_cfg_apply_lines(st, obj, "cache.size=1M", true, err, sizeof(err)),
	       -C3FS_ECONFIG, "schema: reloadable flag kept");
	c3_cfg_release(st, obj);
	free(obj);
	c3_cfg_schema_free(st);
	is_int(c3_cfg_schema_parse("a.b str 1 0\n", &st, &objsize, err, sizeof(err)),
	       -C3FS_ECONFIG, "schema: a short line is refused");
	is_int(c3_cfg_schema_parse("a.b text 1 0 1\n", &st, &objsize, err, sizeof(err)),
	       -C3FS_ECONFIG, "schema: an unknown type is refused");
	c3_buf_release(&b);
	c3_cfg_release(&ttab, &c);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/c3fs-cfg.XXXXXX");
	if (!mkdtemp(tmpdir))
		tap_skip_all("cannot create a temporary directory");
	test_defaults();
	test_types();
	test_ini();
	test_file();
	test_args();
	test_render();
	test_live();
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			diag("could not remove %s", tmpdir);
	}
	return tap_done();
}
