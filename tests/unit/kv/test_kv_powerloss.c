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
 * "last" record).  A third run makes two of three commits lazy (kv_txn_set_lazy).
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

enum { ROUNDS = 9 };
#define KW_THREADS 4
#define KW_VLEN 40
#include "tests/lib/kv_workload.h" /* needs the KW_ parameters above */

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

static char g_uri[256];

/* ROUNDS power cuts on one store opened with "lmdb:<dir><query>".  The parent checks a
 * copy of each crash image, so the next child must recover the original itself (and may
 * be cut while it does). */
static void run_mode(const char *dir, const char *query, unsigned *seed)
{
	char logpath[300], vdir[300], vuri[400], cmd[700];
	int64_t acked[KW_THREADS];
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
	for (int i = 0; i < KW_THREADS; i++)
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
			close(fds[0]);
			pl_start(logpath, is_store_file);
			kw_child(g_uri, fds[1]);
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
		int nrec = kw_read_acks(fds[0], acked);

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
		int bad = kw_check(vuri, acked); /* acked[] now: where the next child continues */

		if (bad < 0) {
			ok(0, "store opens after the power cut");
			break;
		}
		char name[200];

		snprintf(name, sizeof(name),
			 "%s round %d (cut after %d ms, %d acks, %d unsynced writes, %d kept): "
			 "acknowledged commits present, consistent",
			 *query ? query : "sync=lmdb", round, delay_ms, nrec, pls.unsynced, pls.kept);
		if (kw_lazy_mod)
			strncat(name, " (2 of 3 commits lazy)", sizeof(name) - strlen(name) - 1);
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
	/* two of three commits lazy: what survives is still a gap-free prefix that holds
	 * every durable commit acknowledged */
	kw_lazy_mod = 3;
	snprintf(sub, sizeof(sub), "%s/lazy", dir);
	run_mode(sub, "?sync=wal&checkpoint=6", &seed);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
