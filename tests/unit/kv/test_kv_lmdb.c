/* test_kv_lmdb.c — what only the lmdb backend has: URI options, map growth and -ENOSPC,
 * snapshots that stay readable across a map resize, group commit under many threads, and
 * two processes sharing one directory.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errors.h"
#include "kv/kv.h"
#include "kv/kv_int.h"
#include "tests/lib/tap.h"

static char g_dir[64];

static void t_uri(void)
{
	struct kv_db *db = NULL;
	char uri[160];

	is_int(kv_db_open("lmdb:", &db), -C3FS_ECONFIG, "empty path refused");
	snprintf(uri, sizeof(uri), "lmdb:%s/u?bogus=1", g_dir);
	is_int(kv_db_open(uri, &db), -C3FS_ECONFIG, "unknown option refused");
	snprintf(uri, sizeof(uri), "lmdb:%s/u?map_size=12x", g_dir);
	is_int(kv_db_open(uri, &db), -C3FS_ECONFIG, "bad size refused");
	snprintf(uri, sizeof(uri), "lmdb:%s/u?map_size=8M&map_max=4M", g_dir);
	is_int(kv_db_open(uri, &db), -C3FS_ECONFIG, "map_max below map_size refused");
	snprintf(uri, sizeof(uri), "lmdb:%s/u?map_size=1M&map_max=64M", g_dir);
	is_int(kv_db_open(uri, &db), 0, "options accepted");
	ok(db && strcmp(kv_db_backend(db), "lmdb") == 0, "backend name");
	kv_db_close(db);
}

static void fill_val(uint8_t *v, size_t n, int seed)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (uint8_t)(seed * 31 + i);
}

static void t_grow(void)
{
	struct kv_db *db = NULL;
	struct kv_txn *t, *old;
	char uri[160];
	static uint8_t val[16384], got[16384];
	int i, rc = 0, written = 0;
	uint64_t b, c, g;

	snprintf(uri, sizeof(uri), "lmdb:%s/grow?map_size=256K&map_max=2M", g_dir);
	if (kv_db_open(uri, &db) < 0) {
		ok(0, "open small map");
		return;
	}
	/* a snapshot taken before any growth */
	kv_txn_begin(db, false, &t);
	fill_val(val, sizeof(val), 999);
	kv_set(t, "first", 5, val, sizeof(val));
	is_int(kv_txn_commit(t), 0, "first commit");
	kv_txn_begin(db, true, &old);

	for (i = 0; i < 400; i++) {
		char k[16];

		snprintf(k, sizeof(k), "big%03d", i);
		fill_val(val, sizeof(val), i);
		kv_txn_begin(db, false, &t);
		kv_set(t, k, strlen(k), val, sizeof(val));
		rc = kv_txn_commit(t);
		if (rc < 0)
			break;
		written++;
	}
	kv__lmdb_stats(db, &b, &c, &g);
	ok(written > 256 / 16, "wrote more than the initial map holds");
	ok(g >= 1, "the map grew");
	is_int(rc, -ENOSPC, "-ENOSPC once map_max is reached");
	diag("wrote %d x 16 KiB, %llu resizes", written, (unsigned long long)g);

	const uint8_t *v;
	size_t vl;

	fill_val(got, sizeof(got), 999);
	ok(kv_get(old, "first", 5, &v, &vl) == 0 && vl == sizeof(got) && !memcmp(v, got, vl),
	   "snapshot from before the resize still reads");
	kv_txn_abort(old);
	int bad = 0;

	kv_txn_begin(db, true, &t);
	for (i = 0; i < written; i++) {
		char k[16];

		snprintf(k, sizeof(k), "big%03d", i);
		fill_val(got, sizeof(got), i);
		if (kv_get(t, k, strlen(k), &v, &vl) != 0 || vl != sizeof(got) ||
		    memcmp(v, got, vl))
			bad++;
	}
	kv_txn_abort(t);
	is_int(bad, 0, "every committed value intact after growth and ENOSPC");
	kv_db_close(db);

	/* reopen with the default options: the grown file opens */
	snprintf(uri, sizeof(uri), "lmdb:%s/grow", g_dir);
	is_int(kv_db_open(uri, &db), 0, "reopen grown store");
	kv_txn_begin(db, false, &t);
	kv_clear_range(t, "big", 3, "bih", 3);
	is_int(kv_txn_commit(t), 0, "clear everything after reopen");
	kv_db_close(db);
}

struct wr {
	struct kv_db *db;
	int id, n, errors;
};

static void *writer(void *arg)
{
	struct wr *w = arg;

	for (int i = 0; i < w->n; i++) {
		struct kv_txn *t;
		char k[32];

		snprintf(k, sizeof(k), "gc/%d/%d", w->id, i);
		if (kv_txn_begin(w->db, false, &t) < 0) {
			w->errors++;
			continue;
		}
		kv_set(t, k, strlen(k), "x", 1);
		if (kv_txn_commit(t) != 0)
			w->errors++;
	}
	return NULL;
}

static void t_group(void)
{
	enum { N = 8, M = 50 };
	struct kv_db *db = NULL;
	char uri[160];
	pthread_t th[N];
	struct wr w[N];
	uint64_t b0, c0, g0, b1, c1, g1;
	int errs = 0;

	snprintf(uri, sizeof(uri), "lmdb:%s/group", g_dir);
	if (kv_db_open(uri, &db) < 0) {
		ok(0, "open");
		return;
	}
	kv__lmdb_stats(db, &b0, &c0, &g0);
	for (int i = 0; i < N; i++) {
		w[i] = (struct wr){ db, i, M, 0 };
		pthread_create(&th[i], NULL, writer, &w[i]);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		errs += w[i].errors;
	}
	kv__lmdb_stats(db, &b1, &c1, &g1);
	is_int(errs, 0, "concurrent commits all succeed");
	is_int(c1 - c0, N * M, "every commit went through the group committer");
	ok(b1 - b0 >= 1 && b1 - b0 <= c1 - c0, "batches <= commits");
	diag("%d commits in %llu LMDB transactions", N * M, (unsigned long long)(b1 - b0));
	kv_db_close(db);

	/* durable across close/reopen */
	kv_db_open(uri, &db);
	struct kv_txn *t;
	struct kv_pair *p;
	bool more;

	kv_txn_begin(db, true, &t);
	is_int(kv_range(t, "gc/", 3, "gc0", 3, 0, false, &p, &more), N * M,
	       "all group-committed keys present after reopen");
	kv_txn_abort(t);
	kv_db_close(db);
}

static int incr(struct kv_txn *t, void *arg)
{
	const uint8_t *v;
	size_t vl;
	uint64_t x = 0;
	uint8_t b[8];
	int rc = kv_get(t, "ctr", 3, &v, &vl);

	if (rc == 0 && vl == 8)
		x = kv_get_be64(v);
	else if (rc != -ENOENT)
		return rc < 0 ? rc : -EINVAL;
	kv_put_be64(b, x + 1);
	return kv_set(t, "ctr", 3, b, 8);
}

static void t_two_processes(void)
{
	enum { M = 100 };
	char uri[160];
	struct kv_db *db = NULL;
	int bad = 0, status = 0;

	snprintf(uri, sizeof(uri), "lmdb:%s/shared", g_dir);
	if (kv_db_open(uri, &db) < 0) { /* create it before forking */
		ok(0, "open");
		return;
	}
	kv_db_close(db);
	fflush(stdout);
	pid_t pid = fork();

	if (pid == 0) {
		struct kv_db *cdb;

		if (kv_db_open(uri, &cdb) < 0)
			_exit(2);
		for (int i = 0; i < M; i++)
			if (kv_run(cdb, false, incr, NULL) != 0)
				_exit(3);
		kv_db_close(cdb);
		_exit(0);
	}
	kv_db_open(uri, &db);
	for (int i = 0; i < M; i++)
		if (kv_run(db, false, incr, NULL) != 0)
			bad++;
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child process incremented");
	is_int(bad, 0, "parent increments committed");
	struct kv_txn *t;
	const uint8_t *v;
	size_t vl;

	kv_txn_begin(db, true, &t);
	ok(kv_get(t, "ctr", 3, &v, &vl) == 0 && vl == 8 && kv_get_be64(v) == 2 * M,
	   "two processes, one directory: counter == 2*M");
	kv_txn_abort(t);
	kv_db_close(db);
}

int main(void)
{
	char cmd[128];

	snprintf(g_dir, sizeof(g_dir), "/tmp/c3fs-kvlmdb.XXXXXX");
	if (!mkdtemp(g_dir)) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	t_uri();
	t_grow();
	t_group();
	t_two_processes();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	if (system(cmd) != 0)
		diag("could not remove %s", g_dir);
	return tap_done();
}
