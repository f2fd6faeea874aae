/* test_powerloss.c — the chunk engine under simulated power loss.
 *
 * kill -9 keeps the page cache, so it cannot show a missing fsync.  The power-loss
 * interposer (tests/lib/powerloss.h) journals, in a writer child, every change the engine
 * makes to chunk files and their directories (creation, truncation, pwrite,
 * copy_file_range) and every fdatasync/fsync.  At a random interposed call the child stops
 * dead (_exit), before or after the call.  The parent then plays the power loss
 * (PL_UNDO_SOME): every change not yet made durable — data not followed by
 * fdatasync/fsync of that file, a file creation not followed by an fsync of its
 * directory — is undone or kept at random (newest first), as a disk that reorders and
 * drops unsynced writes would leave it.  LMDB is trusted for its own durability (its
 * commit returns after its syncs, and the crash never lands inside it).
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

#define NCH 3
#define CS (256u * 1024)
#define ROUNDS 40

/* The files the power loss acts on: chunk files and their bucket directories. */
static bool watched(const char *path)
{
	return strstr(path, "/chunks/") != NULL;
}

/* ------------------------------------------------------------------ the writer model */

struct model {
	uint8_t data[NCH][CS];
	uint32_t len[NCH];
	uint64_t ver[NCH];
};

struct op {
	int chunk, kind; /* 0 partial, 1 append, 2 full, 3 truncate */
	uint32_t off, len, seed;
};

static uint32_t mix(uint64_t k, uint32_t salt)
{
	uint64_t z = k * 0x9E3779B97F4A7C15ull + salt;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (uint32_t)(z ^ (z >> 31));
}

static struct op op_make(uint64_t k, const struct model *m)
{
	struct op o;

	o.chunk = (int)(mix(k, 1) % NCH);
	o.kind = (int)(mix(k, 2) % 4);
	o.seed = mix(k, 3);
	o.off = 0;
	if (o.kind == 0) {
		o.off = mix(k, 4) % CS;
		o.len = 1 + mix(k, 5) % (64 * 1024);
		if (o.off + o.len > CS)
			o.len = CS - o.off;
	} else if (o.kind == 1) {
		o.off = m->len[o.chunk];
		o.len = 1 + mix(k, 5) % (32 * 1024);
		if (o.off >= CS) {
			o.kind = 3;
			o.off = 0;
			o.len = mix(k, 6) % CS;
		} else if (o.off + o.len > CS) {
			o.len = CS - o.off;
		}
	} else if (o.kind == 2) {
		o.len = 1 + mix(k, 5) % CS;
	} else {
		o.len = mix(k, 6) % CS;
	}
	return o;
}

static void fill(uint8_t *p, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (uint8_t)(seed >> 24);
	}
}

static void model_apply(struct model *m, const struct op *o, uint8_t *scratch)
{
	int c = o->chunk;

	if (o->kind == 3) {
		if (o->len < m->len[c])
			memset(m->data[c] + o->len, 0, m->len[c] - o->len);
		m->len[c] = o->len;
	} else {
		fill(scratch, o->len, o->seed);
		if (o->kind == 2) {
			memset(m->data[c], 0, CS);
			m->len[c] = 0;
		}
		memcpy(m->data[c] + o->off, scratch, o->len);
		if (o->off + o->len > m->len[c])
			m->len[c] = o->off + o->len;
	}
	m->ver[c]++;
}

static int store_apply(struct chunk_store *cs, const struct op *o, uint8_t *scratch)
{
	struct chunk_id id = { 1, (uint32_t)o->chunk };
	struct chunk_update u;
	struct chunk_info info;
	int rc;

	memset(&u, 0, sizeof(u));
	u.type = o->kind == 3 ? CHUNK_UPD_TRUNCATE : CHUNK_UPD_WRITE;
	u.full = o->kind == 2;
	u.offset = o->off;
	u.length = o->len;
	u.chunk_size = CS;
	u.data = scratch;
	if (o->kind != 3)
		fill(scratch, o->len, o->seed);
	if ((rc = chunk_store_lock(cs, id)))
		return rc;
	u.version = chunk_store_stat(cs, id, &info) == 0 ? info.commit_ver + 1 : 1;
	rc = chunk_store_stage(cs, id, &u);
	if (!rc)
		rc = chunk_store_commit(cs, id, u.version, 1);
	else
		chunk_store_abort(cs, id);
	chunk_store_unlock(cs, id);
	return rc;
}

static void child(const char *dir, struct model *m, uint64_t start, int ackfd)
{
	struct chunk_store_opts o = { .target_id = 1, .io_engine = CHUNK_IO_PSYNC };
	struct chunk_store *cs;
	static uint8_t scratch[CS];

	if (chunk_store_open(dir, &o, &cs))
		_exit(3);
	for (uint64_t k = start;; k++) {
		struct op op = op_make(k, m);

		if (store_apply(cs, &op, scratch))
			_exit(4);
		model_apply(m, &op, scratch);
		if (pl_raw_write(ackfd, &k, sizeof(k)) != sizeof(k))
			_exit(5);
	}
}

static int chunk_equals(struct chunk_store *cs, int c, const uint8_t *want, uint32_t len,
			int *rc_out)
{
	struct chunk_id id = { 1, (uint32_t)c };
	struct chunk_read rd;
	int rc = chunk_store_read(cs, id, 0, CS, false, &rd), eq;

	*rc_out = rc;
	if (rc)
		return 0;
	eq = rd.length == len && (len == 0 || memcmp(rd.data, want, len) == 0);
	chunk_read_release(&rd);
	return eq;
}

int main(void)
{
	static struct model m, next;
	static uint8_t scratch[CS];
	char root[] = "/tmp/c3fs-pwrloss.XXXXXX", dir[4200], jpath[4200];
	uint64_t done = 0;
	int bad_rounds = 0, read_errors = 0, acked_total = 0, undone_total = 0, inflight = 0;
	unsigned seed = 777;

	if (!mkdtemp(root))
		tap_skip_all("no temp dir");
	snprintf(dir, sizeof(dir), "%s/t", root);
	snprintf(jpath, sizeof(jpath), "%s/journal", root);
	for (int round = 0; round < ROUNDS; round++) {
		int p[2], st, fl, ok_round = 1, c_rc;
		struct pl_stats pls;
		uint64_t k, last = UINT64_MAX;
		pid_t pid;
		struct chunk_store *cs;
		struct chunk_store_opts o = { .target_id = 1, .io_engine = CHUNK_IO_PSYNC };
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
		if (chunk_store_open(dir, &o, &cs)) {
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
	     "found committed", acked_total, ROUNDS, undone_total, inflight);
	ok(acked_total > ROUNDS, "the writer made progress");
	ok(undone_total > 0, "the simulated power losses dropped unsynced changes");
	is_int(read_errors, 0, "no checksum or read error after any power loss");
	is_int(bad_rounds, 0, "every chunk is old-or-new and holds every acknowledged write");
	if (tap__failed == 0) {
		char cmd[4300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
		if (system(cmd) != 0)
			diag("cleanup failed");
	} else {
		diag("kept %s", root);
	}
	return tap_done();
}
