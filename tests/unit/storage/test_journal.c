/* test_journal.c — replay of the chunk engine's write-ahead journal (storage.journal).
 *
 * A child opens a target with the journal on (no checkpoint comes: the threshold is
 * large), waits while the parent saves data.mdb as it was at the open's checkpoint, then
 * applies a fixed script of updates covering every kind of log op — new files written
 * from 0, in-place appends (journaled bytes), a large write and a copy-on-write
 * overwrite (fdatasync'd files), a logged write followed by an fdatasync'd append to the
 * same file, a shrink, a remove and a re-creation that reuses the same file generation — acknowledges each through a pipe and kills itself (SIGKILL: no
 * clean checkpoint).  The parent then throws away what was never made durable: data.mdb
 * goes back to the saved copy (LMDB ran unsynced), files that only journaled bytes made
 * are deleted, the journaled tails of fdatasync'd files are cut and overwritten with junk.
 * Reopening must replay the log and give back every acknowledged update, with no orphan
 * file (fails without the journal, or with a replay that skips data or metadata).
 * Then:
 *   - replay is idempotent: the same damaged state with the chunk files a first replay
 *     left (a crash after the replay's file writes, before its checkpoint) replays to the
 *     same result;
 *   - with storage.journal = false the same crashed target is replayed all the same, then
 *     runs without the log (a clean checkpoint: the next open replays nothing), and the
 *     journal can be switched on again;
 *   - a damaged record with valid ones after it refuses the open (-EUCLEAN), while a damaged
 *     last record is a torn tail: the open succeeds without it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errors.h"
#include "storage/chunk.h"
#include "tests/lib/tap.h"

#define CS (1u << 20)
#define NCH 8
#define BIG (200u * 1024) /* > journal_data_max (128 KiB): fdatasync'd, not logged */

static char root[] = "/tmp/c3fs-journal.XXXXXX";
static uint8_t model[NCH + 1][CS];
static uint32_t mlen[NCH + 1];
static int nacked;

static const struct chunk_store_opts opts = { .target_id = 3, .io_engine = CHUNK_IO_PSYNC,
					      .journal_ckpt_bytes = 1u << 30 };

static int apply(struct chunk_store *cs, uint32_t c, int type, uint32_t off, uint32_t len,
		 const uint8_t *data)
{
	struct chunk_id id = { 42, c };
	struct chunk_update u = { .type = type, .offset = off, .length = len, .chunk_size = CS,
				  .data = data };
	struct chunk_info info;
	int rc = chunk_store_lock(cs, id);

	if (rc)
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

/* The script: op i on (cs, or the model when cs is NULL).  Returns 0 / 1 = no more ops. */
static int script(struct chunk_store *cs, int i)
{
	static uint8_t buf[CS];
	static const struct { uint32_t c; int type; uint32_t off, len; } ops[] = {
		{ 1, CHUNK_UPD_WRITE, 0, 4096 },       /* new file from 0: logged */
		{ 1, CHUNK_UPD_WRITE, 4096, 8192 },    /* in-place append: logged */
		{ 1, CHUNK_UPD_WRITE, 12288, 1000 },
		{ 2, CHUNK_UPD_WRITE, 0, 8192 },
		{ 2, CHUNK_UPD_REMOVE, 0, 0 },
		{ 2, CHUNK_UPD_WRITE, 0, 5000 },       /* the same generation again, new bytes */
		{ 3, CHUNK_UPD_WRITE, 0, BIG },        /* large: fdatasync'd */
		{ 3, CHUNK_UPD_WRITE, BIG, 4096 },     /* logged append on that file */
		{ 4, CHUNK_UPD_WRITE, 0, 4096 },
		{ 4, CHUNK_UPD_WRITE, 1024, 1024 },    /* overwrite: COW copy, fdatasync'd */
		{ 4, CHUNK_UPD_WRITE, 4096, 3000 },    /* logged append on the new generation */
		{ 5, CHUNK_UPD_WRITE, 0, 16384 },
		{ 5, CHUNK_UPD_TRUNCATE, 0, 10000 },   /* shrink: metadata only */
		{ 5, CHUNK_UPD_WRITE, 10000, 1000 },
		{ 6, CHUNK_UPD_WRITE, 0, 65536 },
		{ 6, CHUNK_UPD_REMOVE, 0, 0 },
		{ 8, CHUNK_UPD_WRITE, 0, 4096 },       /* logged ... */
		{ 8, CHUNK_UPD_WRITE, 4096, BIG },     /* ... then the file fdatasync'd: replaying
							* the first would cut the second */
		{ 7, CHUNK_UPD_TRUNCATE, 0, 9000 },    /* a chunk made by an extending truncate */
		{ 7, CHUNK_UPD_WRITE, 9000, 100 },
	};
	uint32_t c;

	if (i >= (int)(sizeof(ops) / sizeof(ops[0])))
		return 1;
	c = ops[i].c;
	for (uint32_t k = 0; k < ops[i].len; k++)
		buf[k] = (uint8_t)(i * 37 + k * 7 + (k >> 9));
	if (cs)
		return apply(cs, c, ops[i].type, ops[i].off, ops[i].len, buf) ? -1 : 0;
	if (ops[i].type == CHUNK_UPD_WRITE) {
		memcpy(model[c] + ops[i].off, buf, ops[i].len);
		if (ops[i].off + ops[i].len > mlen[c])
			mlen[c] = ops[i].off + ops[i].len;
	} else if (ops[i].type == CHUNK_UPD_TRUNCATE) {
		if (ops[i].len < mlen[c])
			memset(model[c] + ops[i].len, 0, mlen[c] - ops[i].len);
		mlen[c] = ops[i].len;
	} else {
		memset(model[c], 0, CS);
		mlen[c] = 0;
	}
	return 0;
}

/* ------------------------------------------------------------------ files of a target */

static int copy_file(const char *from, const char *to)
{
	char cmd[9000];

	snprintf(cmd, sizeof(cmd), "cp -f '%s' '%s'", from, to);
	return system(cmd) == 0 ? 0 : -1;
}

/* Call fn(path, index, gen) for each chunk file of inode 42 in target dir. */
static int each_file(const char *dir, void (*fn)(const char *path, uint32_t idx, uint64_t gen))
{
	int n = 0;

	for (int d = 0; d < 256; d++) {
		char bucket[4300], path[4600];
		DIR *dp;
		struct dirent *de;

		snprintf(bucket, sizeof(bucket), "%s/chunks/%02x", dir, d);
		dp = opendir(bucket);
		if (!dp)
			continue;
		while ((de = readdir(dp)) != NULL) {
			unsigned long long ino, gen;
			unsigned idx;

			if (sscanf(de->d_name, "%16llx-%8x.%llx", &ino, &idx, &gen) != 3 || ino != 42)
				continue;
			snprintf(path, sizeof(path), "%s/%s", bucket, de->d_name);
			if (fn)
				fn(path, idx, gen);
			n++;
		}
		closedir(dp);
	}
	return n;
}

/* What a power cut takes from chunk files (see the top comment). */
static void lose_unsynced(const char *path, uint32_t idx, uint64_t gen)
{
	static const uint8_t junk[8192] = { [0 ... 8191] = 0xee };
	int fd;

	if (idx == 3 || idx == 4 || idx == 8) { /* fdatasync'd (then a logged append) */
		uint32_t keep = idx == 3 ? BIG : idx == 4 ? 4096 : 4096 + BIG;

		if (idx == 4 && gen == 1) {
			unlink(path); /* the old generation: unlinked at the COW commit */
			return;
		}
		fd = open(path, O_WRONLY);
		if (fd >= 0) {
			if (ftruncate(fd, keep) != 0 || pwrite(fd, junk, sizeof(junk), keep) < 0)
				diag("could not damage %s", path);
			close(fd);
		}
		return;
	}
	unlink(path); /* only journaled bytes made it: its creation never reached the disk */
}

static int check_all(struct chunk_store *cs, const char *what)
{
	int bad = 0;

	for (uint32_t c = 1; c <= NCH; c++) {
		struct chunk_id id = { 42, c };
		struct chunk_read rd;
		int rc = chunk_store_read(cs, id, 0, CS, false, &rd);

		if (rc || rd.length != mlen[c] || (mlen[c] && memcmp(rd.data, model[c], mlen[c]))) {
			diag("%s: chunk %u: rc %d, length %u (want %u)", what, c, rc,
			     rc ? 0 : rd.length, mlen[c]);
			bad++;
		}
		if (!rc)
			chunk_read_release(&rd);
	}
	return bad;
}

/* One more update (chunk 9, not in the script's range): 0 or an error. */
static int wr_one(struct chunk_store *cs)
{
	static const uint8_t b[100] = { 1, 2, 3 };

	return apply(cs, NCH + 1, CHUNK_UPD_WRITE, 0, sizeof(b), b);
}

/* Files present vs. the committed versions: every file is named by a record. */
static int count_committed_files(struct chunk_store *cs)
{
	int n = 0;

	for (uint32_t c = 1; c <= NCH; c++) {
		struct chunk_id id = { 42, c };
		char p[4600];

		if (chunk_store_file_path(cs, id, p, sizeof(p)) == 0)
			n++;
	}
	return n;
}

/* ------------------------------------------------------------------ the writer */

static void child(const char *dir, int ackfd, int gofd)
{
	struct chunk_store *cs;
	char go;

	if (chunk_store_open(dir, &opts, &cs))
		_exit(3);
	if (write(ackfd, "o", 1) != 1 || read(gofd, &go, 1) != 1)
		_exit(4);
	for (int i = 0;; i++) {
		int rc = script(cs, i);

		if (rc == 1)
			break;
		if (rc)
			_exit(5);
		if (write(ackfd, "a", 1) != 1)
			_exit(6);
	}
	raise(SIGKILL);
	_exit(7);
}

/* Run the writer to its end; leaves data.mdb's state at the open in meta/data.mdb.ckpt. */
static int run_writer(const char *dir)
{
	char mdb[4300], snap[4300], c;
	int ack[2], go[2], st;
	pid_t pid;

	snprintf(mdb, sizeof(mdb), "%s/meta/data.mdb", dir);
	snprintf(snap, sizeof(snap), "%s/data.mdb.ckpt", root);
	if (pipe(ack) || pipe(go))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(ack[0]);
		close(go[1]);
		child(dir, ack[1], go[0]);
	}
	close(ack[1]);
	close(go[0]);
	if (read(ack[0], &c, 1) != 1 || c != 'o' || copy_file(mdb, snap) || write(go[1], "g", 1) != 1)
		return -1;
	while (read(ack[0], &c, 1) == 1)
		nacked++;
	close(ack[0]);
	close(go[1]);
	waitpid(pid, &st, 0);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
		diag("writer status 0x%x", st);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ log surgery */

struct recpos {
	char file[4400];
	long off, len;
};

/* The records of the log after the open's checkpoint: both files, runs of records with
 * consecutive seqs (header: magic "KVWL", crc, u64 seq, u32 len, u32 0); the longest run
 * is this session's.  Returns the count, positions in out. */
static int find_records(const char *dir, struct recpos *out, int max)
{
	int best = 0;

	for (int f = 0; f < 2; f++) {
		char path[4400];
		FILE *fp;
		static uint8_t data[8 << 20];
		size_t n;
		long off = 0;
		int cnt = 0;
		uint64_t prev = 0;

		snprintf(path, sizeof(path), "%s/meta/wal.%d", dir, f);
		fp = fopen(path, "rb");
		if (!fp)
			continue;
		n = fread(data, 1, sizeof(data), fp);
		fclose(fp);
		while ((size_t)off + 24 <= n) {
			uint32_t len;
			uint64_t seq;

			if (memcmp(data + off, "KVWL", 4) != 0)
				break;
			memcpy(&seq, data + off + 8, 8);
			memcpy(&len, data + off + 16, 4);
			if (cnt && seq != prev + 1)
				break;
			if (cnt < max && cnt >= best) {
				snprintf(out[cnt].file, sizeof(out[cnt].file), "%s", path);
				out[cnt].off = off;
				out[cnt].len = len;
			}
			prev = seq;
			cnt++;
			off += 24 + (long)len;
		}
		if (cnt > best)
			best = cnt;
	}
	return best;
}

static int flip_byte(const char *path, long off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	int rc = -1;

	if (fd < 0)
		return -1;
	if (pread(fd, &b, 1, off) == 1) {
		b ^= 0x5a;
		rc = pwrite(fd, &b, 1, off) == 1 ? 0 : -1;
	}
	close(fd);
	return rc;
}

int main(void)
{
	char dir[200], mdb[300], snap[300], cmd[1200], saved[300];
	struct chunk_store *cs = NULL;
	struct chunk_stats st;
	struct recpos recs[64];
	int nrec, rc;

	if (!mkdtemp(root))
		tap_skip_all("no temp dir");
	snprintf(dir, sizeof(dir), "%s/t", root);
	snprintf(mdb, sizeof(mdb), "%s/meta/data.mdb", dir);
	snprintf(snap, sizeof(snap), "%s/data.mdb.ckpt", root);
	snprintf(saved, sizeof(saved), "%s/saved", root);

	if (run_writer(dir) != 0) {
		ok(0, "the writer ran its script and was killed");
		return tap_done();
	}
	for (int i = 0; i < nacked; i++)
		script(NULL, i);
	ok(nacked == 20, "the writer acknowledged every update of its script");

	/* the power cut: LMDB back to the checkpoint, unsynced files gone or damaged */
	ok(copy_file(snap, mdb) == 0, "data.mdb back to its state at the checkpoint");
	each_file(dir, lose_unsynced);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", dir, saved);
	ok(system(cmd) == 0, "the damaged target saved for the next cases");

	rc = chunk_store_open(dir, &opts, &cs);
	is_int(rc, 0, "reopen replays the journal");
	if (rc)
		return tap_done();
	chunk_store_get_stats(cs, &st);
	ok(st.replayed > 0, "log records were replayed");
	is_int(check_all(cs, "after replay"), 0, "every acknowledged update is there");
	is_int(each_file(dir, NULL), count_committed_files(cs),
	       "no orphan file: one file per committed chunk");
	chunk_store_close(cs);

	/* a crash after the replay's file writes, before its checkpoint: LMDB and the log as
	 * before the first replay, the chunk files as the replay left them */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/meta' && cp -a '%s/meta' '%s/meta'", dir, saved,
		 dir);
	ok(system(cmd) == 0, "LMDB and log back to before the replay");
	rc = chunk_store_open(dir, &opts, &cs);
	is_int(rc, 0, "the second replay opens");
	if (rc == 0) {
		is_int(check_all(cs, "after a second replay"), 0,
		       "a repeated replay gives the same chunks");
		chunk_store_close(cs);
	}
	/* a clean close leaves nothing to replay */
	rc = chunk_store_open(dir, &opts, &cs);
	if (rc == 0) {
		chunk_store_get_stats(cs, &st);
		is_int((int)st.replayed, 0, "after a clean close nothing is replayed");
		is_int(check_all(cs, "after a clean reopen"), 0, "and the chunks are unchanged");
		chunk_store_close(cs);
	} else {
		ok(0, "clean reopen");
	}

	/* storage.journal = false on a log a crash left: replayed all the same, then clean */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", dir, saved, dir);
	ok(system(cmd) == 0, "the damaged target again");
	{
		struct chunk_store_opts off = opts;

		off.no_journal = true;
		rc = chunk_store_open(dir, &off, &cs);
		is_int(rc, 0, "journal off: the open replays the log first");
		if (rc == 0) {
			chunk_store_get_stats(cs, &st);
			ok(st.replayed > 0, "journal off: records replayed");
			is_int(check_all(cs, "journal off after a crash"), 0,
			       "journal off: every acknowledged update is there");
			ok(wr_one(cs) == 0, "journal off: a write commits (LMDB synced)");
			chunk_store_close(cs);
		}
		rc = chunk_store_open(dir, &off, &cs);
		if (rc == 0) {
			chunk_store_get_stats(cs, &st);
			is_int((int)st.replayed, 0, "journal off, reopened: nothing replayed");
			is_int(check_all(cs, "journal off, reopened"), 0, "and the chunks are there");
			chunk_store_close(cs);
		} else {
			ok(0, "journal off reopen");
		}
		rc = chunk_store_open(dir, &opts, &cs);
		is_int(rc, 0, "journal on again");
		if (rc == 0) {
			is_int(check_all(cs, "journal on again"), 0, "and the chunks are there");
			chunk_store_close(cs);
		}
	}

	/* damaged records: in the middle (refused), at the end (a torn tail) */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", dir, saved, dir);
	ok(system(cmd) == 0, "the damaged target again");
	nrec = find_records(dir, recs, 64);
	diag("%d log records after the checkpoint", nrec);
	ok(nrec >= 10, "the session's records are in the log");
	if (nrec >= 10) {
		ok(flip_byte(recs[nrec / 2].file, recs[nrec / 2].off + 24 + recs[nrec / 2].len / 2) == 0,
		   "a byte of a record in the middle flipped");
		rc = chunk_store_open(dir, &opts, &cs);
		is_int(rc, -EUCLEAN, "a damaged record with valid ones after it refuses the open");
		if (rc == 0)
			chunk_store_close(cs);
		/* undo, then damage the last record instead */
		flip_byte(recs[nrec / 2].file, recs[nrec / 2].off + 24 + recs[nrec / 2].len / 2);
		ok(flip_byte(recs[nrec - 1].file, recs[nrec - 1].off + 24 + recs[nrec - 1].len / 2) == 0,
		   "a byte of the last record flipped");
		rc = chunk_store_open(dir, &opts, &cs);
		is_int(rc, 0, "a damaged last record is a torn tail: the open succeeds");
		if (rc == 0) {
			/* the last op (chunk 7's append) is lost with its record */
			mlen[7] = 9000;
			memset(model[7] + 9000, 0, 100);
			is_int(check_all(cs, "after a torn tail"), 0,
			       "everything before the torn record is there");
			chunk_store_close(cs);
		}
	}
	if (tap__failed == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			diag("cleanup failed");
	} else {
		diag("kept %s", root);
	}
	return tap_done();
}
