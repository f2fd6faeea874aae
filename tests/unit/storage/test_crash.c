/* test_crash.c — crash consistency of the chunk engine under kill -9.
 *
 * 30 rounds: a child process opens the target and applies a deterministic sequence of
 * updates (partial overwrites (COW), appends (in place), full-chunk writes, truncates)
 * to three chunks, reporting each committed op index through a pipe.  The parent kills it
 * with SIGKILL after a random delay, reopens the target and checks that
 *   - every chunk reads without a checksum error and equals the model after all
 *     acknowledged ops, or (for the one chunk the op in flight touched) after that op too;
 *   - no file is left that no committed metadata refers to.
 * The parent's model then advances to what is on disk and the next child continues.
 * (kill -9 keeps the page cache, so this proves the ordering of our own steps, not power
 * loss; see README.md.)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errors.h"
#include "storage/chunk.h"
#include "tests/lib/tap.h"

#define CM_NCH 3
#define CM_CS (1u << 20)
#define CM_PART_MAX (256u * 1024)
#define CM_APPEND_MAX (128u * 1024)
#define NCH CM_NCH
#define CS CM_CS
#define ROUNDS 30

#include "tests/lib/chunk_model.h" /* needs the CM_ parameters above */

static char root[] = "/tmp/c3fs-crash.XXXXXX";

static void child(const char *dir, struct model *m, uint64_t start, int fd, int engine)
{
	struct chunk_store_opts o = { .target_id = 1, .io_engine = engine };
	struct chunk_store *cs;
	uint8_t *scratch = malloc(CS);

	if (chunk_store_open(dir, &o, &cs))
		_exit(3);
	for (uint64_t k = start;; k++) {
		struct op op = op_make(k, m);

		if (store_apply(cs, &op, m->ver[op.chunk] + 1, scratch))
			_exit(4);
		model_apply(m, &op, scratch);
		if (write(fd, &k, sizeof(k)) != sizeof(k))
			_exit(5);
	}
}

int main(void)
{
	static struct model m, next;
	uint8_t *scratch = malloc(CS);
	uint64_t done = 0; /* ops 0..done-1 are on disk */
	int bad_rounds = 0, inflight_seen = 0, acked_total = 0, read_errors = 0, orphans = 0;
	unsigned seed = 4242;
	char dir[4200];

	if (!mkdtemp(root))
		tap_skip_all("no temp dir");
	snprintf(dir, sizeof(dir), "%s/t", root);
	memset(&m, 0, sizeof(m));
	for (int round = 0; round < ROUNDS; round++) {
		int p[2], st, fl;
		pid_t pid;
		uint64_t k, last = UINT64_MAX;
		struct chunk_store *cs;
		struct chunk_store_opts o = { .target_id = 1 };
		struct op inflight;
		int c_rc, ok_round = 1;

		if (pipe(p) != 0)
			break;
		pid = fork();
		if (pid == 0) {
			close(p[0]);
			child(dir, &m, done, p[1], round % 2);
		}
		close(p[1]);
		c3_sleep_ms(20 + (uint64_t)(rand_r(&seed) % 250));
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fl = fcntl(p[0], F_GETFL);
		fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
		while (read(p[0], &k, sizeof(k)) == sizeof(k))
			last = k;
		close(p[0]);
		if (!WIFSIGNALED(st)) {
			diag("round %d: child exited with status %d before the kill", round,
			     WEXITSTATUS(st));
			bad_rounds++;
			continue;
		}
		/* the parent's model catches up with the acknowledged ops */
		if (last != UINT64_MAX) {
			for (k = done; k <= last; k++) {
				struct op op = op_make(k, &m);

				model_apply(&m, &op, scratch);
			}
			acked_total += (int)(last + 1 - done);
			done = last + 1;
		}
		/* the op that may have been in flight */
		inflight = op_make(done, &m);
		next = m;
		model_apply(&next, &inflight, scratch);

		if (chunk_store_open(dir, &o, &cs)) {
			ok(0, "reopen after kill");
			bad_rounds++;
			break;
		}
		for (int c = 0; c < NCH; c++) {
			int is_old = chunk_equals(cs, c, m.data[c], m.len[c], &c_rc);
			int is_new = c == inflight.chunk &&
				     chunk_equals(cs, c, next.data[c], next.len[c], &c_rc);

			if (c_rc) {
				read_errors++;
				ok_round = 0;
				diag("round %d chunk %d: read error %s", round, c, c3_strerror(c_rc));
			} else if (!is_old && !is_new) {
				ok_round = 0;
				diag("round %d chunk %d: neither the acknowledged nor the next state",
				     round, c);
			} else if (is_new && !is_old) {
				inflight_seen++;
				m = next; /* the in-flight op had committed */
				done++;
			}
		}
		{
			char cmd[8600];

			snprintf(cmd, sizeof(cmd),
				 "test $(find %s/chunks -type f | wc -l) -le %d", dir, NCH);
			if (system(cmd) != 0) {
				orphans++;
				ok_round = 0;
			}
		}
		chunk_store_close(cs);
		if (!ok_round)
			bad_rounds++;
	}
	diag("%d ops acknowledged over %d rounds; %d committed-but-unacknowledged ops found",
	     acked_total, ROUNDS, inflight_seen);
	ok(acked_total > ROUNDS, "the writer made progress");
	is_int(read_errors, 0, "no checksum or read error after any kill");
	is_int(orphans, 0, "no orphan chunk files after reopen");
	is_int(bad_rounds, 0, "every chunk is old-or-new and holds every acknowledged write");
	{
		char cmd[4300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
		if (tap__failed == 0 && system(cmd) != 0)
			diag("cleanup failed");
	}
	free(scratch);
	return tap_done();
}
