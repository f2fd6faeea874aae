/* test_powerloss.c — the chunk engine under simulated power loss.
 *
 * kill -9 keeps the page cache, so it cannot show a missing fsync.  The power-loss
 * interposer (tests/lib/powerloss.h) journals, in a writer child, every change the engine
 * makes to chunk files and their directories (creation, truncation, pwrite,
 * copy_file_range) and every fdatasync/fsync.  At a random interposed call the child stops
 * dead (_exit), before or after the call.  The parent then plays the power loss
 * (PL_UNDO_SOME): every change not yet made durable — data not followed by
 * fdatasync/fsync of that file (or a syncfs), a write not made through an O_DSYNC
 * descriptor, a file creation not followed by an fsync of its directory — is undone or
 * kept at random (newest first), as a disk that reorders and drops unsynced writes would
 * leave it.  The engine runs with its journal (storage.journal) and a small checkpoint
 * threshold, so the journal's log files (O_DSYNC appends, the checkpoint file) and LMDB's
 * data.mdb (written unsynced, synced by checkpoints) are interposed too: LMDB is not
 * trusted to be durable by itself.  The crash may land inside an LMDB commit, a log
 * append, a checkpoint (syncfs, LMDB sync, checkpoint write) or a replay at open: the
 * parent checks a copy of the target (its open replays the copy), so the next writer finds
 * the original as the power cut left it and replays it itself, under the interposer.
 * Then the target is reopened and, as in test_crash, every chunk must read back with valid
 * checksums and equal the model after all acknowledged ops (or one more for the chunk the
 * op in flight touched).  Unlinks are treated as durable at once: an unlinked file that
 * came back would be named by no record and removed at open.  40 rounds, psync engine
 * (io_uring submissions are not libc calls).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errors.h"
#include "storage/chunk.h"
#include "tests/lib/powerloss.h"
#include "tests/lib/tap.h"

#define CM_NCH 3
#define CM_CS (256u * 1024)
#define CM_PART_MAX (64u * 1024)
#define CM_APPEND_MAX (32u * 1024)
#define NCH CM_NCH
#define CS CM_CS
#define ROUNDS 40

#include "tests/lib/chunk_model.h" /* needs the CM_ parameters above */

/* The files the power loss acts on: chunk files and their bucket directories, LMDB's
 * data file, the journal's files and the meta directory that names them. */
static bool watched(const char *path)
{
	const char *m = strstr(path, "/meta");

	if (strstr(path, "/chunks/"))
		return true;
	return m && (!strcmp(m, "/meta") || !strcmp(m, "/meta/data.mdb") ||
		     !strncmp(m, "/meta/wal.", 10));
}

/* A checkpoint every few ops (the default, 32 MiB of log, never comes in a round). */
#define OPTS { .target_id = 1, .io_engine = CHUNK_IO_PSYNC, .journal_ckpt_bytes = 96 * 1024 }

/* ------------------------------------------------------------------ the writer */

static void child(const char *dir, struct model *m, uint64_t start, int ackfd)
{
	struct chunk_store_opts o = OPTS;
	struct chunk_store *cs;
	static uint8_t scratch[CS];

	if (chunk_store_open(dir, &o, &cs))
		_exit(3);
	for (uint64_t k = start;; k++) {
		struct op op = op_make(k, m);

		if (store_apply(cs, &op, 0, scratch))
			_exit(4);
		model_apply(m, &op, scratch);
		if (pl_raw_write(ackfd, &k, sizeof(k)) != sizeof(k))
			_exit(5);
	}
}

int main(void)
{
	static struct model m, next;
	static uint8_t scratch[CS];
	char root[] = "/tmp/c3fs-pwrloss.XXXXXX", dir[200], jpath[200], copy[200], cmd[700];
	uint64_t done = 0;
	int bad_rounds = 0, read_errors = 0, acked_total = 0, undone_total = 0, inflight = 0;
	int silent = 0;
	unsigned seed = 777;

	if (!mkdtemp(root))
		tap_skip_all("no temp dir");
	snprintf(dir, sizeof(dir), "%s/t", root);
	snprintf(jpath, sizeof(jpath), "%s/journal", root);
	snprintf(copy, sizeof(copy), "%s/check", root);
	for (int round = 0; round < ROUNDS; round++) {
		int p[2], st, fl, ok_round = 1, c_rc;
		struct pl_stats pls;
		uint64_t k, last = UINT64_MAX;
		pid_t pid;
		struct chunk_store *cs;
		struct chunk_store_opts o = OPTS;
		struct op op;

		if (pipe(p) != 0)
			break;
		unlink(jpath);
		pid = fork();
		if (pid == 0) {
			long at;

			close(p[0]);
			pl_start(jpath, watched);
			at = 1 + rand_r(&seed) % 400;
			pl_crash_at(at, rand_r(&seed) % 2);
			child(dir, &m, done, p[1]);
		}
		(void)rand_r(&seed);
		(void)rand_r(&seed);
		close(p[1]);
		waitpid(pid, &st, 0);
		fl = fcntl(p[0], F_GETFL);
		fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
		while (read(p[0], &k, sizeof(k)) == sizeof(k))
			last = k;
		close(p[0]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			diag("round %d: writer failed (status 0x%x)", round, st);
			bad_rounds++;
			continue;
		}
		if (last == UINT64_MAX)
			silent++; /* died before its first commit: in its open (a replay) or op 1 */
		if (last != UINT64_MAX) {
			for (k = done; k <= last; k++) {
				op = op_make(k, &m);
				model_apply(&m, &op, scratch);
			}
			acked_total += (int)(last + 1 - done);
			done = last + 1;
		}
		if (pl_power_loss(jpath, PL_UNDO_SOME, &seed, &pls) != 0) {
			ok(0, "undo journal applied");
			break;
		}
		undone_total += pls.unsynced - pls.kept;
		op = op_make(done, &m);
		next = m;
		model_apply(&next, &op, scratch);
		snprintf(cmd, sizeof(cmd), "rm -rf %s && cp -a %s %s", copy, dir, copy);
		if (system(cmd) != 0) {
			ok(0, "copy of the target");
			break;
		}
		if (chunk_store_open(copy, &o, &cs)) {
			ok(0, "reopen after the power loss");
			bad_rounds++;
			break;
		}
		for (int c = 0; c < NCH; c++) {
			int is_old = chunk_equals(cs, c, m.data[c], m.len[c], &c_rc);
			int is_new = c == op.chunk && !c_rc &&
				     chunk_equals(cs, c, next.data[c], next.len[c], &c_rc);

			if (c_rc) {
				read_errors++;
				ok_round = 0;
				diag("round %d chunk %d: %s", round, c, c3_strerror(c_rc));
			} else if (!is_old && !is_new) {
				ok_round = 0;
				diag("round %d chunk %d: neither acknowledged nor next state", round, c);
			} else if (is_new && !is_old) {
				inflight++;
				m = next;
				done++;
			}
		}
		chunk_store_close(cs);
		if (!ok_round)
			bad_rounds++;
	}
	diag("%d ops acknowledged in %d rounds; %d unsynced changes undone; %d in-flight ops "
	     "found committed; %d writers died before their first commit", acked_total, ROUNDS,
	     undone_total, inflight, silent);
	ok(acked_total > ROUNDS, "the writer made progress");
	ok(undone_total > 0, "the simulated power losses dropped unsynced changes");
	is_int(read_errors, 0, "no checksum or read error after any power loss");
	is_int(bad_rounds, 0, "every chunk is old-or-new and holds every acknowledged write");
	if (tap__failed == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
		if (system(cmd) != 0)
			diag("cleanup failed");
	} else {
		diag("kept %s", root);
	}
	return tap_done();
}
