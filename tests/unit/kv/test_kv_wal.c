/* test_kv_wal.c — the lmdb backend's sync=wal mode: recovery edge cases and exclusivity.
 *
 * A "crash" is a child process that opens the store, commits from one thread (so each
 * commit is one batch = one log record), and _exits without closing (the page cache
 * keeps what it wrote: the log records after the checkpoint must be replayed, and
 * LMDB's unsynced state must be rolled back to the checkpoint first).  The log is then
 * damaged through kv_wal.h to model a torn last record and a corrupted one.
 * Power cuts proper are test_kv_powerloss.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errors.h"
#include "kv/kv.h"
#include "kv/kv_int.h"
#include "kv/kv_wal.h"
#include "tests/lib/tap.h"

static char g_dir[64];

static void key_of(char *k, int i)
{
	snprintf(k, 16, "k%05d", i);
}

/* Commit keys [from, to) one transaction each. */
static int put_range(struct kv_db *db, int from, int to)
{
	for (int i = from; i < to; i++) {
		struct kv_txn *t;
		char k[16];
		int rc = kv_txn_begin(db, false, &t);

		if (rc < 0)
			return rc;
		key_of(k, i);
		kv_set(t, k, strlen(k), k, strlen(k));
		rc = kv_txn_commit(t);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Number of keys of [0, n) present with the right value; -1 if any other key is there. */
static int count_keys(struct kv_db *db, int n)
{
	struct kv_txn *t;
	struct kv_pair *p;
	bool more;
	int found = 0, got;

	if (kv_txn_begin(db, true, &t) < 0)
		return -2;
	got = kv_range(t, "", 0, "\xff", 1, 0, false, &p, &more);
	for (int i = 0; i < got; i++) {
		char k[16];
		int idx = atoi((const char *)p[i].key + 1);

		key_of(k, idx);
		if (idx < 0 || idx >= n || p[i].klen != strlen(k) || memcmp(p[i].key, k, p[i].klen) ||
		    p[i].vlen != p[i].klen || memcmp(p[i].val, k, p[i].klen)) {
			found = -1;
			break;
		}
		found++;
	}
	kv_txn_abort(t);
	return got < 0 ? got : found;
}

/* A writer that dies without closing after committing keys [from, to). */
static int crash_after(const char *uri, int from, int to)
{
	fflush(stdout);
	pid_t pid = fork();

	if (pid == 0) {
		struct kv_db *db;

		if (kv_db_open(uri, &db) < 0)
			_exit(2);
		_exit(put_range(db, from, to) < 0 ? 3 : 0);
	}
	int st;

	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

/* Open, check stats and key count, close. */
static void check_open(const char *uri, uint64_t want_restored, int64_t want_replayed, int n,
		       int want_keys, const char *what)
{
	struct kv_db *db = NULL;
	uint64_t ck, restored, replayed;
	char name[200];
	int rc = kv_db_open(uri, &db);

	snprintf(name, sizeof(name), "%s: opens", what);
	if (!ok(rc == 0, name)) {
		diag("%s", c3_strerror(rc));
		return;
	}
	kv__lmdb_wal_stats(db, &ck, &restored, &replayed);
	snprintf(name, sizeof(name), "%s: restored %llu, replayed %llu", what,
		 (unsigned long long)restored, (unsigned long long)replayed);
	ok(restored == want_restored && (want_replayed < 0 || replayed == (uint64_t)want_replayed),
	   name);
	snprintf(name, sizeof(name), "%s: %d keys, nothing else", what, want_keys);
	is_int(count_keys(db, n), want_keys, name);
	kv_db_close(db);
}

/* Offsets of the records after the checkpoint (all in its file from 0, as long as no
 * checkpoint ran since the writer's open). */
struct recs {
	uint64_t off[256];
	uint32_t len[256];
	int n;
	uint64_t next;
};

static int note_rec(void *arg, const uint8_t *p, size_t len)
{
	struct recs *r = arg;

	if (r->n == 256)
		return -ENOSPC;
	r->off[r->n] = r->next;
	r->len[r->n++] = (uint32_t)len;
	r->next += KV_WAL_REC_HDR + len;
	return 0;
}

/* Find the log records of dir; returns the log file's fd (O_RDWR) or -1. */
static int find_recs(const char *dir, struct recs *r)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY), fd = -1;
	struct kv_wal *w = NULL;
	uint64_t n;
	char name[16];

	memset(r, 0, sizeof(*r));
	if (dfd < 0)
		return -1;
	if (kv_wal_open(dfd, false, &w) == 0 && w && kv_wal_ckpt(w) &&
	    kv_wal_scan(w, note_rec, r, &n) == 0) {
		snprintf(name, sizeof(name), "wal.%u", kv_wal_ckpt(w)->file);
		fd = openat(dfd, name, O_RDWR);
	}
	kv_wal_close(w);
	close(dfd);
	return fd;
}

static void t_clean_and_crash(void)
{
	char uri[160];
	struct kv_db *db;

	snprintf(uri, sizeof(uri), "lmdb:%s/a?sync=wal&checkpoint=1000", g_dir);
	if (!ok(kv_db_open(uri, &db) == 0, "create"))
		return;
	is_int(put_range(db, 0, 10), 0, "10 commits");
	kv_db_close(db);
	check_open(uri, 0, 0, 100, 10, "clean close");

	is_int(crash_after(uri, 10, 30), 0, "writer commits 20 and dies without closing");
	struct recs r;
	char dir[100];

	snprintf(dir, sizeof(dir), "%s/a", g_dir);
	int fd = find_recs(dir, &r);

	is_int(r.n, 20, "20 records after the checkpoint");
	if (fd >= 0)
		close(fd);
	check_open(uri, 1, 20, 100, 30, "after the crash");
	check_open(uri, 0, 0, 100, 30, "after recovery + clean close");

	/* recovery twice in a row: a writer that recovers, commits, dies; one that recovers
	 * and dies at once; then the check */
	is_int(crash_after(uri, 30, 40), 0, "writer 1 dies");
	is_int(crash_after(uri, 40, 45), 0, "writer 2 recovers, commits 5, dies");
	is_int(crash_after(uri, 45, 45), 0, "writer 3 recovers and dies at once");
	check_open(uri, 1, 0, 100, 45, "recovered three times");

	/* sync=lmdb on a store left dirty by sync=wal: it recovers the log first */
	is_int(crash_after(uri, 45, 50), 0, "wal writer dies");
	snprintf(uri, sizeof(uri), "lmdb:%s/a", g_dir);
	if (ok(kv_db_open(uri, &db) == 0, "sync=lmdb opens a dirty wal store")) {
		is_int(count_keys(db, 100), 50, "sync=lmdb sees the replayed commits");
		is_int(put_range(db, 50, 52), 0, "sync=lmdb commits");
		kv_db_close(db);
	}
	snprintf(uri, sizeof(uri), "lmdb:%s/a?sync=wal", g_dir);
	check_open(uri, 0, 0, 100, 52, "sync=wal after sync=lmdb: no replay, all there");
}

static void t_damaged(void)
{
	char uri[160], dir[100];
	struct recs r;
	int fd;

	snprintf(dir, sizeof(dir), "%s/b", g_dir);
	snprintf(uri, sizeof(uri), "lmdb:%s?sync=wal&checkpoint=1000", dir);
	is_int(crash_after(uri, 0, 10), 0, "writer commits 10 and dies");
	/* torn last record: its second half never reached the disk */
	fd = find_recs(dir, &r);
	if (!ok(fd >= 0 && r.n == 10, "10 records found")) {
		if (fd >= 0)
			close(fd);
		return;
	}
	{
		uint64_t end = r.off[9] + KV_WAL_REC_HDR + r.len[9], half = r.len[9] / 2 + 1;
		uint8_t z[64] = { 0 };

		ok(half <= sizeof(z) && pwrite(fd, z, half, (off_t)(end - half)) == (ssize_t)half,
		   "tear the last record");
	}
	close(fd);
	check_open(uri, 1, 9, 100, 9, "torn last record: the 9 before it");

	/* a bad checksum in the middle: stop there, apply nothing from it on */
	is_int(crash_after(uri, 9, 19), 0, "writer commits 10 more and dies");
	fd = find_recs(dir, &r);
	if (!ok(fd >= 0 && r.n == 10, "10 records found")) {
		if (fd >= 0)
			close(fd);
		return;
	}
	uint8_t b;
	off_t at = (off_t)(r.off[4] + KV_WAL_REC_HDR + 3);

	ok(pread(fd, &b, 1, at) == 1, "read a byte of record 5");
	b ^= 0x20;
	ok(pwrite(fd, &b, 1, at) == 1, "flip one bit of it");
	close(fd);
	check_open(uri, 1, 4, 100, 13, "corrupt record 5: records 1-4 applied, none after");
	/* the records after the corrupt one are still in the old file: new commits and
	 * another crash must not bring them back */
	is_int(crash_after(uri, 50, 56), 0, "writer commits 6 new keys and dies");
	check_open(uri, 1, 6, 100, 19, "then the 6 new keys, none of the lost ones");
}

static void t_exclusive(void)
{
	char uri[160], curi[160];
	struct kv_db *db, *db2 = NULL;

	snprintf(uri, sizeof(uri), "lmdb:%s/c?sync=wal", g_dir);
	snprintf(curi, sizeof(curi), "lmdb:%s/c", g_dir);
	if (!ok(kv_db_open(uri, &db) == 0, "sync=wal open"))
		return;
	is_int(kv_db_open(uri, &db2), -C3FS_EBUSY, "second sync=wal handle refused");
	is_int(kv_db_open(curi, &db2), -C3FS_EBUSY, "sync=lmdb handle refused too");
	fflush(stdout);
	pid_t pid = fork();

	if (pid == 0) {
		struct kv_db *x;

		_exit(kv_db_open(uri, &x) == -C3FS_EBUSY ? 0 : 1);
	}
	int st;

	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another process is refused with EBUSY");
	kv_db_close(db);
	is_int(kv_db_open(curi, &db), 0, "sync=lmdb open after close");
	is_int(kv_db_open(curi, &db2), 0, "two sync=lmdb handles share");
	struct kv_db *db3 = NULL;

	is_int(kv_db_open(uri, &db3), -C3FS_EBUSY, "sync=wal refused while sync=lmdb handles are open");
	kv_db_close(db2);
	kv_db_close(db);
}

/* Lazy commits: visible at once; made durable by the next durable commit, or by the
 * checkpoint thread when none follows; all there after a clean close. */
static void t_lazy(void)
{
	struct kv_db *db;
	char uri[160];
	uint64_t q, d;

	snprintf(uri, sizeof(uri), "lmdb:%s/z?sync=wal&checkpoint=1000", g_dir);
	if (!ok(kv_db_open(uri, &db) == 0, "sync=wal open"))
		return;
	int bad = 0;

	for (int i = 0; i < 20; i++) {
		struct kv_txn *t;
		char k[16];

		if (kv_txn_begin(db, false, &t) < 0) {
			bad++;
			continue;
		}
		key_of(k, i);
		kv_set(t, k, strlen(k), k, strlen(k));
		kv_txn_set_lazy(t);
		if (kv_txn_commit(t) != 0)
			bad++;
	}
	is_int(bad, 0, "20 lazy commits");
	is_int(count_keys(db, 20), 20, "lazy commits visible at once");
	/* nothing durable follows: the checkpoint thread must write them by itself */
	for (int w = 0; w < 200; w++) {
		kv__lmdb_log_state(db, &q, &d);
		if (q > 0 && d == q)
			break;
		usleep(10000);
	}
	kv__lmdb_log_state(db, &q, &d);
	ok(q > 0 && d == q, "lazy batches reach the log without a durable commit");
	diag("queued %llu durable %llu", (unsigned long long)q, (unsigned long long)d);
	is_int(put_range(db, 20, 21), 0, "a durable commit after them");
	kv__lmdb_log_state(db, &q, &d);
	is_int((int)(q - d), 0, "durable commit returns with everything before it logged");
	kv_db_close(db);
	if (!ok(kv_db_open(uri, &db) == 0, "reopen"))
		return;
	is_int(count_keys(db, 21), 21, "all there after reopen");
	kv_db_close(db);
}

static void t_uri(void)
{
	struct kv_db *db = NULL;
	char uri[160];

	snprintf(uri, sizeof(uri), "lmdb:%s/u?sync=fast", g_dir);
	is_int(kv_db_open(uri, &db), -C3FS_ECONFIG, "unknown sync mode refused");
	snprintf(uri, sizeof(uri), "lmdb:%s/u?sync=wal&checkpoint=0", g_dir);
	is_int(kv_db_open(uri, &db), -C3FS_ECONFIG, "checkpoint=0 refused");
	snprintf(uri, sizeof(uri), "lmdb:%s/u?sync=lmdb&checkpoint=5", g_dir);
	is_int(kv_db_open(uri, &db), 0, "sync=lmdb accepted");
	kv_db_close(db);
}

int main(void)
{
	char cmd[96];

	snprintf(g_dir, sizeof(g_dir), "/tmp/c3fs-kvwal.XXXXXX");
	if (!mkdtemp(g_dir)) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	t_uri();
	t_clean_and_crash();
	t_damaged();
	t_exclusive();
	t_lazy();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	if (system(cmd) != 0)
		diag("could not remove %s", g_dir);
	return tap_done();
}
