/* test_kv_powerloss.c — simulated power loss under the lmdb backend's group commit, in
 * both durability modes (sync=lmdb: LMDB's own two syncs; sync=wal: the log in front of
 * an MDB_NOSYNC LMDB, with frequent background checkpoints).
 *
 * SIGKILL keeps the page cache, so it cannot show what a power cut does.  The power-loss
 * interposer (tests/lib/powerloss.h) journals every write and sync made on the store's
 * files (data.mdb, and the log wal.0 / wal.1 / wal.ckpt); a write on an O_DSYNC descriptor
 * is durable when it returns, which is how LMDB writes its meta pages and kv_wal.c its
 * records.  A child process commits from 4 threads and acknowledges commits through a
 * pipe; the parent kills it at a random moment, then rebuilds "the disks after the power
 * cut" (PL_REDO_SOME): every non-durable write is undone (newest first) and then a random
 * subset of them is applied again, in order.  The store must open, hold every
 * acknowledged commit, and be consistent (each thread's keys gap-free and matching its
 * "last" record).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/errors.h"
#include "kv/kv.h"
#include "tests/lib/powerloss.h"
#include "tests/lib/tap.h"

enum { THREADS = 4, ROUNDS = 9 };

/* ---- the watched files ------------------------------------------------------------- */

enum { NFILES = 4 };
static const char *const g_fname[NFILES] = { "data.mdb", "wal.0", "wal.1", "wal.ckpt" };
static char g_path[NFILES][256];

static bool is_store_file(const char *path)
{
	for (int i = 0; i < NFILES; i++)
		if (strcmp(path, g_path[i]) == 0)
			return true;
	return false;
}

/* ---- the workload (as in test_kv_crash.c) ------------------------------------------- */

static char g_uri[256];
static int g_pipe;

struct child_arg {
	struct kv_db *db;
	uint32_t t;
};

static void last_key(uint8_t *k, uint32_t t)
{
	memcpy(k, "last", 4);
	kv_put_be32(k + 4, t);
}

static void seq_key(uint8_t *k, uint32_t t, uint64_t s)
{
	memcpy(k, "seq/", 4);
	kv_put_be32(k + 4, t);
	kv_put_be64(k + 8, s);
}

static void *child_thread(void *arg)
{
	struct child_arg *a = arg;
	uint8_t lk[8], sk[16], v[40];
	uint64_t next = 0;
	struct kv_txn *t;
	const uint8_t *val;
	size_t vl;

	last_key(lk, a->t);
	if (kv_txn_begin(a->db, true, &t) == 0) {
		if (kv_get(t, lk, 8, &val, &vl) == 0 && vl >= 8)
			next = kv_get_be64(val) + 1;
		kv_txn_abort(t);
	}
	memset(v, 0x5a, sizeof(v));
	for (;; next++) {
		if (kv_txn_begin(a->db, false, &t) < 0)
			_exit(3);
		seq_key(sk, a->t, next);
		kv_put_be64(v, next);
		kv_set(t, sk, 16, v, sizeof(v));
		kv_set(t, lk, 8, v, 8);
		if (kv_txn_commit(t) != 0)
			_exit(4);
		uint8_t rec[12];

		kv_put_be32(rec, a->t);
		kv_put_be64(rec + 4, next);
		if (pl_raw_write(g_pipe, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			_exit(5);
	}
	return NULL;
}

/* ROUNDS power cuts on one store opened with "lmdb:<dir><query>".  The parent checks a
 * copy of each crash image, so the next child must recover the original itself (and may
 * be cut while it does). */
static void run_mode(const char *dir, const char *query, unsigned *seed)
{
	char logpath[300], vdir[300], vuri[400], cmd[700];
	int64_t acked[THREADS];
	struct kv_db *db;

	snprintf(g_uri, sizeof(g_uri), "lmdb:%s%s", dir, query);
	snprintf(vdir, sizeof(vdir), "%s.verify", dir);
	snprintf(vuri, sizeof(vuri), "lmdb:%s%s", vdir, query);
	for (int i = 0; i < NFILES; i++)
		snprintf(g_path[i], sizeof(g_path[i]), "%s/%s", dir, g_fname[i]);
	snprintf(logpath, sizeof(logpath), "%s.writes", dir);
	if (kv_db_open(g_uri, &db) < 0) { /* create before any crash */
		diag("cannot create %s", g_uri);
		ok(0, "create store");
		return;
	}
	kv_db_close(db);
	for (int i = 0; i < THREADS; i++)
		acked[i] = -1;
	for (int round = 0; round < ROUNDS; round++) {
		int fds[2];

		if (pipe(fds) < 0) {
			ok(0, "pipe");
			break;
		}
		fflush(stdout);
		pid_t pid = fork();

		if (pid == 0) {
			struct kv_db *cdb;
			pthread_t th[THREADS];
			struct child_arg a[THREADS];

			close(fds[0]);
			g_pipe = fds[1];
			pl_start(logpath, is_store_file);
			if (kv_db_open(g_uri, &cdb) < 0)
				_exit(2);
			for (uint32_t i = 0; i < THREADS; i++) {
				a[i] = (struct child_arg){ cdb, i };
				pthread_create(&th[i], NULL, child_thread, &a[i]);
			}
			for (;;)
				pause();
		}
		close(fds[1]);
		/* now and then very early: the cut may hit the recovery at open */
		int delay_ms = round % 3 == 2 ? (int)(rand_r(seed) % 20)
					      : 100 + (int)(rand_r(seed) % 300);
		struct timespec ts = { 0, (long)delay_ms * 1000000L };

		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;

		waitpid(pid, &status, 0);
		uint8_t rec[12];
		int nrec = 0;

		while (read(fds[0], rec, sizeof(rec)) == (ssize_t)sizeof(rec)) {
			uint32_t t = kv_get_be32(rec);
			int64_t sq = (int64_t)kv_get_be64(rec + 4);

			if (t < THREADS && sq > acked[t])
				acked[t] = sq;
			nrec++;
		}
		close(fds[0]);
		if (!ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "writer killed mid-flight"))
			diag("writer exited with %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

		struct pl_stats pls;

		ok(pl_power_loss(logpath, PL_REDO_SOME, seed, &pls) == 0,
		   "crash image built from the write log");
		snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", vdir, dir, vdir);
		if (system(cmd) != 0) {
			ok(0, "copy the crash image");
			break;
		}
		struct kv_txn *t;
		int bad = 0;

		if (kv_db_open(vuri, &db) < 0) {
			ok(0, "store opens after the power cut");
			break;
		}
		kv_txn_begin(db, true, &t);
		for (uint32_t i = 0; i < THREADS; i++) {
			uint8_t lk[8], b[16], e[16];
			const uint8_t *v;
			size_t vl;
			int64_t last = -1;
			struct kv_pair *p;
			bool more;

			last_key(lk, i);
			if (kv_get(t, lk, 8, &v, &vl) == 0 && vl == 8)
				last = (int64_t)kv_get_be64(v);
			seq_key(b, i, 0);
			seq_key(e, i, UINT64_MAX);
			int n = kv_range(t, b, 16, e, 16, 0, false, &p, &more);

			if (last < acked[i]) {
				diag("thread %u: last %lld < acknowledged %lld", i, (long long)last,
				     (long long)acked[i]);
				bad++;
			}
			if (n != last + 1) {
				diag("thread %u: %d keys but last = %lld", i, n, (long long)last);
				bad++;
			}
			for (int j = 0; j < n && !bad; j++)
				if (kv_get_be64(p[j].key + 8) != (uint64_t)j || p[j].vlen != 40 ||
				    kv_get_be64(p[j].val) != (uint64_t)j)
					bad++;
			acked[i] = last;
		}
		kv_txn_abort(t);
		kv_db_close(db);
		char name[200];

		snprintf(name, sizeof(name),
			 "%s round %d (cut after %d ms, %d acks, %d unsynced writes, %d kept): "
			 "acknowledged commits present, consistent",
			 *query ? query : "sync=lmdb", round, delay_ms, nrec, pls.unsynced, pls.kept);
		is_int(bad, 0, name);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", vdir);
	if (system(cmd) != 0)
		diag("could not remove %s", vdir);
}

int main(void)
{
	char dir[] = "/tmp/c3fs-kvpower.XXXXXX", sub[64], cmd[96];
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	diag("seed %u", seed);
	snprintf(sub, sizeof(sub), "%s/classic", dir);
	run_mode(sub, "", &seed);
	/* checkpoints every few batches: cuts land before, during and after them */
	snprintf(sub, sizeof(sub), "%s/wal", dir);
	run_mode(sub, "?sync=wal&checkpoint=6", &seed);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
