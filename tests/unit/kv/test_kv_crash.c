/* test_kv_crash.c — acknowledged commits survive a crash of the writing process (lmdb).
 *
 * A child process commits from 4 threads (so group commit batches are in flight) and
 * reports each commit to the parent through a pipe only after kv_txn_commit() returned 0.
 * The parent kills it with SIGKILL at a random moment, reopens the store and checks:
 * every acknowledged commit is there, and each thread's keys form a gap-free sequence that
 * matches its "last" record written in the same transactions (atomicity).  Five rounds on
 * the same directory, in both durability modes (sync=lmdb, and sync=wal with a checkpoint
 * every few batches, so kills land inside checkpoints and recoveries too).  Note: SIGKILL
 * keeps the page cache, so this proves crash consistency of the process and the commit
 * protocol, not power-loss durability (test_kv_powerloss.c).
 */
#include <errno.h>
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
#include "tests/lib/tap.h"

enum { ROUNDS = 5 };
#define KW_THREADS 4
#define KW_VLEN 8
#include "tests/lib/kv_workload.h" /* needs the KW_ parameters above */

static char g_uri[256];

static void run_mode(const char *dir, const char *query, unsigned *seed)
{
	int64_t acked[KW_THREADS];

	snprintf(g_uri, sizeof(g_uri), "lmdb:%s%s", dir, query);
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
			kw_child(g_uri, fds[1]);
		}
		close(fds[1]);
		int delay_ms = round == 3 ? (int)(rand_r(seed) % 15)
					  : 150 + (int)(rand_r(seed) % 400);
		struct timespec ts = { 0, (long)delay_ms * 1000000L };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;

		waitpid(pid, &status, 0);
		/* everything the child acknowledged before dying is in the pipe */
		int nrec = kw_read_acks(fds[0], acked);

		close(fds[0]);
		ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		   "writer was killed, not failed on its own");

		int bad = kw_check(g_uri, acked); /* acked[] now: where the next round continues */

		if (bad < 0) {
			ok(0, "reopen after crash");
			break;
		}
		char name[160];

		snprintf(name, sizeof(name),
			 "%s round %d (killed after %d ms, %d acks): acknowledged commits "
			 "present, no gaps",
			 *query ? query : "sync=lmdb", round, delay_ms, nrec);
		is_int(bad, 0, name);
	}
}

int main(void)
{
	char dir[] = "/tmp/c3fs-kvcrash.XXXXXX", sub[64], cmd[96];
	unsigned seed = (unsigned)time(NULL);

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	diag("seed %u", seed);
	snprintf(sub, sizeof(sub), "%s/classic", dir);
	run_mode(sub, "", &seed);
	snprintf(sub, sizeof(sub), "%s/wal", dir);
	run_mode(sub, "?sync=wal&checkpoint=8", &seed);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
