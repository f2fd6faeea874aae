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

enum { THREADS = 4, ROUNDS = 5 };

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
	uint8_t lk[8], sk[16], v[8];
	uint64_t next = 0;
	struct kv_txn *t;
	const uint8_t *val;
	size_t vl;

	last_key(lk, a->t);
	if (kv_txn_begin(a->db, true, &t) == 0) {
		if (kv_get(t, lk, 8, &val, &vl) == 0 && vl == 8)
			next = kv_get_be64(val) + 1;
		kv_txn_abort(t);
	}
	for (;; next++) {
		if (kv_txn_begin(a->db, false, &t) < 0)
			_exit(3);
		seq_key(sk, a->t, next);
		kv_put_be64(v, next);
		kv_set(t, sk, 16, v, 8);
		kv_set(t, lk, 8, v, 8);
		if (kv_txn_commit(t) != 0)
			_exit(4);
		uint8_t rec[12];

		kv_put_be32(rec, a->t);
		kv_put_be64(rec + 4, next);
		if (write(g_pipe, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			_exit(5);
	}
	return NULL;
}

static void child_main(void)
{
	struct kv_db *db;
	pthread_t th[THREADS];
	struct child_arg a[THREADS];

	if (kv_db_open(g_uri, &db) < 0)
		_exit(2);
	for (uint32_t i = 0; i < THREADS; i++) {
		a[i] = (struct child_arg){ db, i };
		pthread_create(&th[i], NULL, child_thread, &a[i]);
	}
	for (;;)
		pause();
}

static void run_mode(const char *dir, const char *query, unsigned *seed)
{
	int64_t acked[THREADS];

	snprintf(g_uri, sizeof(g_uri), "lmdb:%s%s", dir, query);
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
			close(fds[0]);
			g_pipe = fds[1];
			child_main();
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
		uint8_t rec[12];
		int nrec = 0;

		while (read(fds[0], rec, sizeof(rec)) == (ssize_t)sizeof(rec)) {
			uint32_t t = kv_get_be32(rec);
			int64_t s = (int64_t)kv_get_be64(rec + 4);

			if (t < THREADS && s > acked[t])
				acked[t] = s;
			nrec++;
		}
		close(fds[0]);
		ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		   "writer was killed, not failed on its own");

		struct kv_db *db;
		struct kv_txn *t;
		int bad = 0;

		if (kv_db_open(g_uri, &db) < 0) {
			ok(0, "reopen after crash");
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
				if (kv_get_be64(p[j].key + 8) != (uint64_t)j)
					bad++;
			acked[i] = last; /* the next round continues from here */
		}
		kv_txn_abort(t);
		kv_db_close(db);
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
