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

#define NCH 3
#define CS (1u << 20)
#define ROUNDS 30

static char root[] = "/tmp/c3fs-crash.XXXXXX";

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

/* Op number k, given the model state before it (appends depend on the length). */
static struct op op_make(uint64_t k, const struct model *m)
{
	struct op o;

	o.chunk = (int)(mix(k, 1) % NCH);
	o.kind = (int)(mix(k, 2) % 4);
	o.seed = mix(k, 3);
	switch (o.kind) {
	case 0:
		o.off = mix(k, 4) % CS;
		o.len = 1 + mix(k, 5) % (256 * 1024);
		if (o.off + o.len > CS)
			o.len = CS - o.off;
		break;
	case 1:
		o.off = m->len[o.chunk];
		o.len = 1 + mix(k, 5) % (128 * 1024);
		if (o.off >= CS) {
			o.kind = 3;
			o.len = mix(k, 6) % CS;
			o.off = 0;
		} else if (o.off + o.len > CS) {
			o.len = CS - o.off;
		}
		break;
	case 2:
		o.off = 0;
		o.len = 1 + mix(k, 5) % CS;
		break;
	default:
		o.off = 0;
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

static int store_apply(struct chunk_store *cs, const struct op *o, uint64_t ver, uint8_t *scratch)
{
	struct chunk_id id = { 1, (uint32_t)o->chunk };
	struct chunk_update u;
	int rc;

	memset(&u, 0, sizeof(u));
	u.type = o->kind == 3 ? CHUNK_UPD_TRUNCATE : CHUNK_UPD_WRITE;
	u.full = o->kind == 2;
	u.offset = o->off;
	u.length = o->len;
	u.chunk_size = CS;
	u.data = scratch;
	u.version = ver;
	if (o->kind != 3)
		fill(scratch, o->len, o->seed);
	if ((rc = chunk_store_lock(cs, id)))
		return rc;
	rc = chunk_store_stage(cs, id, &u);
	if (!rc)
		rc = chunk_store_commit(cs, id, ver, 1);
	else
		chunk_store_abort(cs, id);
	chunk_store_unlock(cs, id);
	return rc;
}

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
