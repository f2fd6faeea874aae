/* test_chunk.c — chunk engine: write/read/overwrite/extend/truncate/remove/holes, pending
 * invisibility, checksum mismatch on a flipped byte, reopen and orphan cleanup, listing,
 * ENOSPC on a tiny tmpfs (skipped when mounting is not allowed), and a random model check
 * against an in-memory copy, for both io engines; nowait reads (cached descriptor and
 * page cache only) and retired versions. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "common/crc32c.h"
#include "common/errors.h"
#include "storage/chunk.h"
#include "tests/lib/tap.h"

static char tmpl[] = "/tmp/c3fs-chunk.XXXXXX";

static int do_update(struct chunk_store *cs, struct chunk_id id, struct chunk_update *u)
{
	struct chunk_info info;
	int rc;

	if ((rc = chunk_store_lock(cs, id)))
		return rc;
	u->version = chunk_store_stat(cs, id, &info) == 0 ? info.commit_ver + 1 : 1;
	rc = chunk_store_stage(cs, id, u);
	if (!rc)
		rc = chunk_store_commit(cs, id, u->version, 7);
	else
		chunk_store_abort(cs, id);
	chunk_store_unlock(cs, id);
	return rc;
}

static void count_hook(void *arg)
{
	(*(int *)arg)++;
}

/* A write, with the before_data hook set (as the service does): it must run exactly once
 * for every write that succeeds. */
static int wr(struct chunk_store *cs, struct chunk_id id, uint32_t off, const void *p, uint32_t n,
	      uint32_t csize)
{
	int calls = 0;
	struct chunk_update u = { .type = CHUNK_UPD_WRITE, .offset = off, .length = n,
				  .chunk_size = csize, .data = p, .before_data = count_hook,
				  .before_data_arg = &calls };
	int rc = do_update(cs, id, &u);

	if (rc == 0 && calls != 1) {
		diag("before_data hook ran %d times for one write", calls);
		return -1;
	}
	return rc;
}

static int trunc_(struct chunk_store *cs, struct chunk_id id, uint32_t len, uint32_t csize)
{
	struct chunk_update u = { .type = CHUNK_UPD_TRUNCATE, .length = len, .chunk_size = csize };

	return do_update(cs, id, &u);
}

static int rm(struct chunk_store *cs, struct chunk_id id, uint32_t csize)
{
	struct chunk_update u = { .type = CHUNK_UPD_REMOVE, .chunk_size = csize };

	return do_update(cs, id, &u);
}

/* Read the whole chunk and compare with want[0..wlen). */
static int check(struct chunk_store *cs, struct chunk_id id, const uint8_t *want, uint32_t wlen)
{
	struct chunk_read rd;
	int rc = chunk_store_read(cs, id, 0, CHUNK_SIZE_MAX, false, &rd);

	if (rc)
		return rc;
	if (rd.length != wlen || (wlen && memcmp(rd.data, want, wlen) != 0))
		rc = -1000;
	chunk_read_release(&rd);
	return rc;
}

static int count_cb(void *arg, struct chunk_id id, const struct chunk_info *info)
{
	(void)id;
	(void)info;
	(*(int *)arg)++;
	return 0;
}

static void basic(const char *dir, int engine)
{
	struct chunk_store_opts o = { .target_id = 5, .io_engine = engine };
	struct chunk_store *cs;
	struct chunk_id a = { 42, 0 }, b = { 42, 1 }, c = { 43, 0 };
	const uint32_t CS = 1u << 20;
	uint8_t *model = calloc(1, CS), *buf = malloc(CS);
	struct chunk_read rd;
	struct chunk_info info;
	struct chunk_stats st;
	char path[4096];
	int rc, n;
	bool more;

	diag("engine %s in %s", engine ? "uring" : "psync", dir);
	is_int(chunk_store_open(dir, &o, &cs), 0, "open");
	for (uint32_t i = 0; i < CS; i++)
		buf[i] = (uint8_t)(i * 7 + 3);

	is_int(chunk_store_read(cs, a, 0, 4096, false, &rd), 0, "missing chunk reads fine");
	is_int(rd.length, 0, "missing chunk is a hole");
	chunk_read_release(&rd);

	is_int(wr(cs, a, 0, buf, 10000, CS), 0, "write 10000 at 0");
	memcpy(model, buf, 10000);
	is_int(check(cs, a, model, 10000), 0, "read back");
	is_int(chunk_store_read(cs, a, 9990, 100, false, &rd), 0, "short read at end");
	is_int(rd.length, 10, "10 bytes");
	ok(memcmp(rd.data, model + 9990, 10) == 0, "short read data");
	chunk_read_release(&rd);

	chunk_store_get_stats(cs, &st);
	n = (int)st.cow_writes;
	is_int(wr(cs, a, 5000, buf + 100, 100, CS), 0, "overwrite in the middle");
	memcpy(model + 5000, buf + 100, 100);
	is_int(check(cs, a, model, 10000), 0, "overwrite visible");
	chunk_store_get_stats(cs, &st);
	is_int((int)st.cow_writes, n + 1, "overwrite went copy-on-write");

	n = (int)st.inplace_writes;
	is_int(wr(cs, a, 20000, buf, 5000, CS), 0, "write past the end leaves a gap");
	memcpy(model + 20000, buf, 5000);
	is_int(check(cs, a, model, 25000), 0, "gap reads as zeros");
	chunk_store_get_stats(cs, &st);
	is_int((int)st.inplace_writes, n + 1, "append went in place");

	is_int(trunc_(cs, a, 12345, CS), 0, "truncate shrink");
	is_int(check(cs, a, model, 12345), 0, "shrunk");
	memset(model + 12345, 0, CS - 12345);
	is_int(trunc_(cs, a, 30000, CS), 0, "truncate extend");
	is_int(check(cs, a, model, 30000), 0, "extended with zeros");

	is_int(wr(cs, b, 0, buf, CS, CS), 0, "full chunk write");
	is_int(check(cs, b, buf, CS), 0, "full chunk read");
	is_int(wr(cs, b, 100, buf, 10, 2 * CS), -EINVAL, "chunk size mismatch refused");
	is_int(wr(cs, b, CS - 5, buf, 10, CS), -EINVAL, "write past chunk size refused");

	/* a pending version is invisible to readers; abort keeps the committed one */
	{
		struct chunk_update u = { .type = CHUNK_UPD_WRITE, .offset = 0, .length = 100,
					  .chunk_size = CS, .data = buf + 1 };

		chunk_store_lock(cs, a);
		chunk_store_stat(cs, a, &info);
		u.version = info.commit_ver + 1;
		is_int(chunk_store_stage(cs, a, &u), 0, "stage");
		is_int(check(cs, a, model, 30000), 0, "pending not visible");
		is_int(chunk_store_read(cs, a, 0, 100, true, &rd), 0, "pending readable by lock holder");
		ok(rd.length == 100 && memcmp(rd.data, buf + 1, 100) == 0, "pending bytes");
		chunk_read_release(&rd);
		is_int(chunk_store_stat(cs, a, &info), 0, "stat");
		ok(info.has_pending && info.pending_ver == u.version, "stat shows pending");
		is_int(chunk_store_commit(cs, a, u.version + 1, 1), -C3FS_ECHUNKVER, "commit of wrong version");
		chunk_store_abort(cs, a);
		chunk_store_unlock(cs, a);
		is_int(check(cs, a, model, 30000), 0, "abort kept committed data");
	}

	/* remove */
	is_int(wr(cs, c, 0, buf, 4096, CS), 0, "write c");
	is_int(rm(cs, c, CS), 0, "remove c");
	is_int(chunk_store_stat(cs, c, &info), -ENOENT, "c gone");
	is_int(check(cs, c, NULL, 0), 0, "removed chunk is a hole");

	/* listing */
	n = 0;
	is_int(chunk_store_list(cs, NULL, (struct chunk_id){ UINT64_MAX, UINT32_MAX }, 0, count_cb,
				&n, &more), 0, "list all");
	is_int(n, 2, "two chunks");
	n = 0;
	is_int(chunk_store_list(cs, &a, (struct chunk_id){ UINT64_MAX, UINT32_MAX }, 0, count_cb,
				&n, &more), 0, "list after a");
	is_int(n, 1, "one after a");
	n = 0;
	chunk_store_list(cs, NULL, (struct chunk_id){ UINT64_MAX, UINT32_MAX }, 1, count_cb, &n, &more);
	ok(n == 1 && more, "limit sets more");

	/* a flipped byte on disk is detected and never returned */
	is_int(chunk_store_file_path(cs, b, path, sizeof(path)), 0, "path of b");
	{
		int fd = open(path, O_RDWR);
		uint8_t x = 0;

		ok(fd >= 0 && pread(fd, &x, 1, 777777) == 1, "read byte");
		x ^= 0x10;
		ok(pwrite(fd, &x, 1, 777777) == 1, "flip byte");
		close(fd);
	}
	rc = chunk_store_read(cs, b, 777000, 2000, false, &rd);
	is_int(rc, -C3FS_ECHECKSUM, "flipped byte detected");
	ok(rd.length == 0 && rd.data == NULL, "no bytes returned");
	is_int(chunk_store_read(cs, b, 0, 4096, false, &rd), 0, "other blocks still readable");
	chunk_read_release(&rd);
	chunk_store_stat(cs, b, &info);
	ok(info.corrupt, "chunk marked corrupt");
	chunk_store_get_stats(cs, &st);
	ok(st.checksum_errors >= 1, "checksum error counted");
	is_int(wr(cs, b, 0, buf, CS, CS), 0, "full rewrite of the bad chunk");
	is_int(check(cs, b, buf, CS), 0, "rewritten chunk good again");
	chunk_store_stat(cs, b, &info);
	ok(!info.corrupt, "the rewrite's commit cleared the corrupt mark");
	is_int((int)st.corrupt_marked, 1, "the chunk was counted once as found corrupt");
	rc = chunk_store_read(cs, b, 777000, 2000, false, &rd);
	chunk_read_release(&rd);
	is_int(rc, 0, "and reads again");

	/* a chunk file cut short behind the engine's back (chunk_store_check_file) */
	is_int(chunk_store_check_file(cs, b), 0, "a whole chunk file passes the length check");
	is_int(chunk_store_file_path(cs, b, path, sizeof(path)), 0, "path of b again");
	ok(truncate(path, 4096) == 0, "cut b's file to 4 KiB");
	is_int(chunk_store_check_file(cs, b), -C3FS_ECHECKSUM, "the length check finds it");
	chunk_store_stat(cs, b, &info);
	ok(info.corrupt, "and marks it corrupt");
	is_int(chunk_store_check_file(cs, b), -C3FS_ECHECKSUM, "a marked chunk stays reported");
	chunk_store_get_stats(cs, &st);
	is_int((int)st.corrupt_marked, 2, "counted once more");
	is_int(chunk_store_check_file(cs, (struct chunk_id){ 999, 9 }), -ENOENT,
	       "no such chunk: -ENOENT");
	is_int(wr(cs, b, 0, buf, CS, CS), 0, "full rewrite repairs it");
	is_int(chunk_store_check_file(cs, b), 0, "whole again");
	is_int(check(cs, b, buf, CS), 0, "with its bytes");

	/* orphan: a staged COW version not committed before close disappears at reopen */
	{
		struct chunk_update u = { .type = CHUNK_UPD_WRITE, .offset = 0, .length = 10,
					  .chunk_size = CS, .data = buf + 9 };

		chunk_store_lock(cs, a);
		chunk_store_stat(cs, a, &info);
		u.version = info.commit_ver + 1;
		chunk_store_stage(cs, a, &u);
		chunk_store_unlock(cs, a);
	}
	chunk_store_close(cs);
	is_int(chunk_store_open(dir, &o, &cs), 0, "reopen");
	is_int(check(cs, a, model, 30000), 0, "committed data after reopen");
	is_int(chunk_store_stat(cs, a, &info), 0, "stat after reopen");
	ok(!info.has_pending, "pending gone after reopen");
	{
		char cmd[8400];
		snprintf(cmd, sizeof(cmd), "test $(find %s/chunks -type f | wc -l) -eq 2", dir);
		is_int(system(cmd), 0, "exactly one file per committed chunk (orphan removed)");
	}
	chunk_store_close(cs);
	/* a damaged metadata record is detected (record CRC), never trusted */
	{
		char mpath[4400];
		MDB_env *env;
		MDB_txn *txn;
		MDB_dbi dbi;
		MDB_val key, val;
		uint8_t k[12] = { 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 0 }, *copy;
		int mrc;

		snprintf(mpath, sizeof(mpath), "%s/meta", dir);
		mrc = mdb_env_create(&env);
		mdb_env_set_mapsize(env, 8ull << 30);
		if (!mrc)
			mrc = mdb_env_open(env, mpath, 0, 0644);
		if (!mrc)
			mrc = mdb_txn_begin(env, NULL, 0, &txn);
		if (!mrc)
			mrc = mdb_dbi_open(txn, NULL, 0, &dbi);
		key.mv_size = sizeof(k);
		key.mv_data = k;
		if (!mrc)
			mrc = mdb_get(txn, dbi, &key, &val);
		if (!mrc) {
			copy = malloc(val.mv_size);
			memcpy(copy, val.mv_data, val.mv_size);
			copy[20] ^= 0x40; /* inside the length/version fields */
			val.mv_data = copy;
			mrc = mdb_put(txn, dbi, &key, &val, 0);
			if (!mrc)
				mrc = mdb_txn_commit(txn);
			free(copy);
		}
		mdb_env_close(env);
		is_int(mrc, 0, "flip a bit in chunk a's metadata record");
		is_int(chunk_store_open(dir, &o, &cs), 0, "reopen with a damaged record");
		is_int(chunk_store_read(cs, a, 0, 100, false, &rd), -C3FS_ECHECKSUM,
		       "a damaged record reads as a checksum error");
		is_int(chunk_store_stat(cs, a, &info), -C3FS_ECHECKSUM, "and stats as one");
		n = 0;
		chunk_store_list(cs, NULL, (struct chunk_id){ UINT64_MAX, UINT32_MAX }, 0,
				 count_cb, &n, &more);
		is_int(n, 2, "the listing still shows it (as corrupt)");
		is_int(check(cs, b, buf, CS), 0, "other chunks unaffected");
		is_int(wr(cs, a, 0, buf, 10, CS), -C3FS_ECHECKSUM,
		       "a partial write on a damaged record is refused");
		{
			struct chunk_update u = { .type = CHUNK_UPD_WRITE, .full = true, .length = 100,
						  .chunk_size = CS, .data = buf, .version = 1000 };

			chunk_store_lock(cs, a);
			rc = chunk_store_stage(cs, a, &u);
			if (!rc)
				rc = chunk_store_commit(cs, a, 1000, 1);
			chunk_store_unlock(cs, a);
			is_int(rc, 0, "a full rewrite replaces the damaged record");
			is_int(check(cs, a, buf, 100), 0, "and reads back");
		}
		chunk_store_close(cs);
	}
	o.target_id = 6;
	ok(chunk_store_open(dir, &o, &cs) < 0, "wrong target id refused");
	free(model);
	free(buf);
}

/* Does the file system of dir take O_DIRECT writes? */
static bool dio_supported(const char *dir)
{
	char p[4300];
	int fd;

	snprintf(p, sizeof(p), "%s.dioprobe", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_DIRECT, 0600);
	if (fd >= 0)
		close(fd);
	unlink(p);
	return fd >= 0;
}

/* Random updates against an in-memory model, with reopens.  With direct, half of the
 * writes are 4 KiB-aligned (buffer, offset, length) so that they take the O_DIRECT path,
 * mixed with unaligned ones over the same chunks (page cache and direct writes of one file
 * must stay coherent).  jmode: 0 = journal off, 1 = on (a checkpoint every 64 KiB of log),
 * 2 = switched on and off at every reopen. */
static void model_check(const char *dir, int engine, bool direct, int jmode)
{
	struct chunk_store_opts o = { .target_id = 9, .io_engine = engine, .direct_io = direct,
				      .direct_read = direct, .no_journal = jmode == 0,
				      .journal_ckpt_bytes = 64 * 1024 };
	uint64_t jdata = 0, ckpts = 0;
	struct chunk_store *cs;
	struct chunk_stats st;
	enum { NCH = 4, CS = 256 * 1024 };
	static uint8_t model[NCH][CS];
	static _Alignas(4096) uint8_t buf[CS];
	uint32_t len[NCH] = { 0 };
	bool exists[NCH] = { false };
	unsigned seed = 12345;
	uint64_t direct_bytes = 0, direct_reads = 0;
	int bad = 0;

	memset(model, 0, sizeof(model));
	if (chunk_store_open(dir, &o, &cs)) {
		ok(0, "open for model check");
		return;
	}
	for (int op = 0; op < 400 && !bad; op++) {
		int c = rand_r(&seed) % NCH, kind = rand_r(&seed) % 10;
		struct chunk_id id = { 77, (uint32_t)c };
		uint32_t off = (uint32_t)rand_r(&seed) % CS, n = (uint32_t)rand_r(&seed) % 40000;

		if (direct && rand_r(&seed) % 2) {
			off &= ~4095u;
			n = (n & ~4095u) + 4096 * (uint32_t)(rand_r(&seed) % 2);
		}
		if (off + n > CS)
			n = CS - off;
		for (uint32_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		if (kind < 6) {
			if (wr(cs, id, off, buf, n, CS)) {
				bad = 1;
				diag("write failed at op %d", op);
				break;
			}
			memcpy(model[c] + off, buf, n);
			if (off + n > len[c])
				len[c] = off + n;
			exists[c] = true;
		} else if (kind < 8) {
			if (trunc_(cs, id, off, CS)) {
				bad = 1;
				break;
			}
			if (off < len[c])
				memset(model[c] + off, 0, len[c] - off);
			len[c] = off;
			exists[c] = true;
		} else if (kind < 9) {
			if (rm(cs, id, CS)) {
				bad = 1;
				break;
			}
			memset(model[c], 0, CS);
			len[c] = 0;
			exists[c] = false;
		} else {
			chunk_store_get_stats(cs, &st);
			direct_bytes += st.direct_bytes;
			direct_reads += st.direct_reads;
			jdata += st.journal_data_bytes;
			ckpts += st.checkpoints;
			chunk_store_close(cs);
			if (jmode == 2)
				o.no_journal = !o.no_journal;
			if (chunk_store_open(dir, &o, &cs)) {
				bad = 1;
				diag("reopen failed");
				return;
			}
		}
		for (int k = 0; k < NCH; k++) {
			struct chunk_id kid = { 77, (uint32_t)k };

			if (check(cs, kid, model[k], exists[k] ? len[k] : 0)) {
				diag("mismatch chunk %d after op %d", k, op);
				bad = 1;
			}
		}
	}
	char name[160];

	snprintf(name, sizeof(name),
		 "400 random writes/truncates/removes/reopens match the model (%s, journal %s)",
		 direct ? "direct_io" : "buffered", jmode == 0 ? "off" : jmode == 1 ? "on" : "on/off");
	ok(!bad, name);
	chunk_store_get_stats(cs, &st);
	direct_bytes += st.direct_bytes;
	direct_reads += st.direct_reads;
	jdata += st.journal_data_bytes;
	ckpts += st.checkpoints;
	diag("journal: %llu data bytes logged, %llu checkpoints", (unsigned long long)jdata,
	     (unsigned long long)ckpts);
	if (jmode == 0)
		ok(jdata == 0 && ckpts == 0, "journal off: no data logged, no checkpoint");
	else
		ok(jdata > 0 && (jmode == 2 || ckpts > 0),
		   "journal on: small updates logged, checkpoints taken");
	if (direct && dio_supported(dir)) {
		ok(direct_bytes > 0, "aligned writes went through O_DIRECT");
		ok(direct_reads > 0, "and the reads too (direct_read)");
	} else {
		ok(direct_bytes == 0, "no O_DIRECT write without direct_io (or without fs support)");
		ok(direct_reads == 0, "no O_DIRECT read without direct_read (or without fs support)");
	}
	chunk_store_close(cs);
}

/* Concurrent writers and readers: 8 threads update their own chunks (commits share LMDB
 * transactions), 2 readers read them all the time; every read must verify (no checksum
 * error while versions change underneath) and the end state must match. */
struct conc {
	struct chunk_store *cs;
	int id;
	atomic_int *stop;
	int errors;
	uint8_t last[8][4096];
};

static void *conc_writer(void *arg)
{
	struct conc *c = arg;
	uint8_t d[4096];

	for (int n = 0; n < 40; n++) {
		struct chunk_id id = { 500, (uint32_t)c->id };
		uint32_t off = (uint32_t)((n * 1237) % 3000);

		for (int i = 0; i < 4096; i++)
			d[i] = (uint8_t)(n * 31 + i + c->id);
		if (n % 3 == 0) {
			if (wr(c->cs, id, 0, d, 4096, 1u << 20))
				c->errors++;
			memcpy(c->last[0], d, 4096);
		} else {
			if (wr(c->cs, id, off, d, 1000, 1u << 20))
				c->errors++;
			memcpy(c->last[0] + off, d, 1000);
		}
	}
	return NULL;
}

static void *conc_reader(void *arg)
{
	struct conc *c = arg;

	while (!*c->stop) {
		for (uint32_t k = 0; k < 8; k++) {
			struct chunk_id id = { 500, k };
			struct chunk_read rd;
			int rc = chunk_store_read(c->cs, id, 0, 4096, false, &rd);

			if (rc)
				c->errors++;
			chunk_read_release(&rd);
		}
	}
	return NULL;
}

static void concurrency(const char *dir)
{
	/* checkpoints every 64 KiB of log: the checkpoint thread runs beside the commits */
	struct chunk_store_opts o = { .target_id = 4, .journal_ckpt_bytes = 64 * 1024 };
	struct chunk_store *cs;
	struct conc w[8], r[2];
	pthread_t tw[8], tr[2];
	atomic_int stop = 0;
	struct chunk_stats st;
	int errors = 0, bad = 0;

	is_int(chunk_store_open(dir, &o, &cs), 0, "open for the concurrency test");
	for (int i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].cs = cs;
		r[i].stop = &stop;
		pthread_create(&tr[i], NULL, conc_reader, &r[i]);
	}
	for (int i = 0; i < 8; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].cs = cs;
		w[i].id = i;
		pthread_create(&tw[i], NULL, conc_writer, &w[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(tw[i], NULL);
		errors += w[i].errors;
	}
	stop = 1;
	for (int i = 0; i < 2; i++) {
		pthread_join(tr[i], NULL);
		errors += r[i].errors;
	}
	is_int(errors, 0, "320 concurrent updates and concurrent reads without an error");
	for (int i = 0; i < 8; i++) {
		struct chunk_id id = { 500, (uint32_t)i };

		bad += check(cs, id, w[i].last[0], 4096) != 0;
	}
	is_int(bad, 0, "every chunk holds its writer's last state");
	chunk_store_get_stats(cs, &st);
	diag("%llu commits in %llu LMDB transactions", (unsigned long long)st.commits,
	     (unsigned long long)st.meta_txns);
	chunk_store_close(cs);
}

/* 64 MiB chunks (64 KiB checksum blocks) and an odd chunk size. */
static void big_chunks(const char *dir)
{
	struct chunk_store_opts o = { .target_id = 3 };
	struct chunk_store *cs;
	struct chunk_id id = { 9, 1 }, odd = { 9, 2 };
	const uint32_t BIG = 64u << 20, ODD = (3u << 20) + 5;
	uint32_t n = 3u << 20;
	uint8_t *d = malloc(n), *want = calloc(1, 12u << 20);
	struct chunk_read rd;
	char path[4096];
	int fd;

	for (uint32_t i = 0; i < n; i++)
		d[i] = (uint8_t)(i * 13 + 1);
	is_int(chunk_block_size(BIG), 65536, "64 MiB chunks use 64 KiB blocks");
	is_int(chunk_block_size(1u << 20), 4096, "1 MiB chunks use 4 KiB blocks");
	is_int(chunk_store_open(dir, &o, &cs), 0, "open");
	is_int(wr(cs, id, 9u << 20, d, n, BIG), 0, "3 MiB at 9 MiB into a 64 MiB chunk");
	memcpy(want + (9u << 20), d, n);
	is_int(wr(cs, id, (10u << 20) + 12345, d + 7, 70000, BIG), 0, "unaligned overwrite inside");
	memcpy(want + (10u << 20) + 12345, d + 7, 70000);
	is_int(check(cs, id, want, 12u << 20), 0, "whole chunk reads back (zeros before 9 MiB)");
	is_int(chunk_store_read(cs, id, (11u << 20) + 100, 4096, false, &rd), 0, "4 KiB read");
	ok(rd.length == 4096 && memcmp(rd.data, want + (11u << 20) + 100, 4096) == 0, "right bytes");
	chunk_read_release(&rd);
	is_int(chunk_store_file_path(cs, id, path, sizeof(path)), 0, "file of the big chunk");
	fd = open(path, O_RDWR);
	{
		uint8_t x = 0;

		ok(fd >= 0 && pread(fd, &x, 1, 5u << 20) == 1, "read a byte in the zero range");
		x ^= 1;
		ok(pwrite(fd, &x, 1, 5u << 20) == 1, "flip it");
	}
	if (fd >= 0)
		close(fd);
	is_int(chunk_store_read(cs, id, 5u << 20, 10, false, &rd), -C3FS_ECHECKSUM,
	       "flip in a 64 KiB block detected");
	is_int(chunk_store_read(cs, id, (5u << 20) + 65536, 10, false, &rd), 0,
	       "the next block still reads");
	chunk_read_release(&rd);
	is_int(wr(cs, odd, ODD - 100, d, 100, ODD), 0, "write the last 100 bytes of an odd-sized chunk");
	memset(want, 0, ODD);
	memcpy(want + ODD - 100, d, 100);
	is_int(check(cs, odd, want, ODD), 0, "odd-sized chunk reads back");
	is_int(wr(cs, odd, ODD - 99, d, 100, ODD), -EINVAL, "one byte past its size refused");
	chunk_store_close(cs);
	free(d);
	free(want);
}

static void enospc(void)
{
	char dir[] = "/tmp/c3fs-enospc.XXXXXX";
	struct chunk_store_opts o = { .target_id = 1, .map_size_bytes = 1u << 20 };
	struct chunk_store *cs;
	struct chunk_id id = { 5, 0 };
	uint8_t *buf = malloc(1u << 20), *model = calloc(1, 1u << 20);
	int rc = 0, i;

	if (!mkdtemp(dir) || mount("tmpfs", dir, "tmpfs", 0, "size=3m") != 0) {
		ok(1, "# SKIP ENOSPC: cannot mount a small tmpfs here");
		free(buf);
		free(model);
		return;
	}
	memset(buf, 0xab, 1u << 20);
	is_int(chunk_store_open(dir, &o, &cs), 0, "open on 3 MiB tmpfs");
	is_int(wr(cs, id, 0, buf, 100000, 1u << 20), 0, "first write fits");
	memcpy(model, buf, 100000);
	for (i = 1; i < 16 && rc == 0; i++) {
		struct chunk_id other = { 6, (uint32_t)i };

		rc = wr(cs, other, 0, buf, 1u << 20, 1u << 20);
	}
	is_int(rc, -ENOSPC, "filling the disk ends with -ENOSPC");
	memset(buf, 0xcd, 1u << 20);
	rc = wr(cs, id, 0, buf, 1u << 20, 1u << 20);
	ok(rc == -ENOSPC || rc == 0, "overwrite on a full disk fails cleanly or fits");
	if (rc == 0)
		memcpy(model, buf, 1u << 20);
	is_int(check(cs, id, model, rc == 0 ? 1u << 20 : 100000), 0, "old contents intact");
	ok(!chunk_store_failed(cs), "ENOSPC does not fail the target");
	chunk_store_close(cs);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	free(buf);
	free(model);
}

/* The open-file cache of readers: a descriptor cached by a read must never serve a later
 * version — COW replacement, remove and re-create (the file generation number restarts,
 * so the same file name comes back with other bytes), and more chunks than the cache
 * holds (eviction while in use by nobody). */
static void fd_cache(const char *dir)
{
	struct chunk_store_opts o = { .target_id = 11, .io_engine = CHUNK_IO_PSYNC, .no_sync = true };
	struct chunk_store *cs;
	static uint8_t a[8192], b[8192];
	struct chunk_id id = { 5, 0 };
	struct chunk_stats st;
	int bad = 0;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	if (chunk_store_open(dir, &o, &cs)) {
		ok(0, "open for fd cache");
		return;
	}
	is_int(wr(cs, id, 0, a, sizeof(a), 65536), 0, "write a");
	is_int(check(cs, id, a, sizeof(a)), 0, "read a (descriptor cached)");
	is_int(wr(cs, id, 0, b, 4096, 65536), 0, "overwrite the first block (new generation)");
	memcpy(a, b, 4096);
	is_int(check(cs, id, a, sizeof(a)), 0, "read sees the new generation");
	is_int(rm(cs, id, 65536), 0, "remove");
	is_int(check(cs, id, NULL, 0), 0, "removed chunk reads empty");
	is_int(wr(cs, id, 0, b, sizeof(b), 65536), 0, "re-create with other bytes");
	is_int(check(cs, id, b, sizeof(b)), 0, "read sees the re-created bytes, not the old file");
	for (uint32_t i = 0; i < 700 && !bad; i++) {
		struct chunk_id c = { 6, i };

		b[0] = (uint8_t)i;
		if (wr(cs, c, 0, b, 4096, 65536) || check(cs, c, b, 4096))
			bad = 1;
	}
	for (uint32_t i = 0; i < 700 && !bad; i++) {
		struct chunk_id c = { 6, i };

		b[0] = (uint8_t)i;
		if (check(cs, c, b, 4096))
			bad = 1;
		b[0] = (uint8_t)(i + 1);
		if (wr(cs, c, 0, b, 4096, 65536) || check(cs, c, b, 4096))
			bad = 1;
	}
	ok(!bad, "700 chunks (more than the cache holds) written, read, rewritten, read");
	chunk_store_get_stats(cs, &st);
	is_int((int)st.checksum_errors, 0, "no checksum error was ever seen");
	chunk_store_close(cs);
}

/* chunk_store_read_nowait (the storage server's inline read): -EAGAIN until a blocking
 * read cached the descriptor, then the bytes from the page cache; a damaged block is left
 * to a blocking read (-EAGAIN, no corruption mark).  And retired_ver: a version dropped
 * uncommitted is remembered (also for a chunk with nothing committed) until a higher one
 * commits. */
static void nowait_and_retired(const char *dir)
{
	struct chunk_store_opts o = { .target_id = 11, .io_engine = CHUNK_IO_PSYNC, .no_sync = true };
	struct chunk_store *cs;
	static uint8_t a[8192];
	struct chunk_id id = { 8, 0 }, nid = { 8, 1 };
	struct chunk_read rd;
	struct chunk_info info;
	struct chunk_stats st;
	struct chunk_update u;
	char path[4096];
	int rc, fd, calls = 0;

	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 7 + 5);
	if (chunk_store_open(dir, &o, &cs)) {
		ok(0, "open for nowait reads");
		return;
	}
	is_int(wr(cs, id, 0, a, sizeof(a), 65536), 0, "write");
	is_int(chunk_store_read_nowait(cs, id, 0, 4096, &rd), -EAGAIN,
	       "nowait read before the descriptor is cached: EAGAIN");
	is_int(check(cs, id, a, sizeof(a)), 0, "blocking read (caches the descriptor)");
	rc = chunk_store_read_nowait(cs, id, 4096, 4096, &rd);
	ok(rc == 0 && rd.length == 4096 && memcmp(rd.data, a + 4096, 4096) == 0 && rd.version == 1,
	   "nowait read of a cached chunk returns its bytes");
	if (rc)
		diag("nowait read: %d", rc);
	chunk_read_release(&rd);
	is_int(chunk_store_read_nowait(cs, nid, 0, 4096, &rd), 0, "nowait read of a hole");
	is_int((int)rd.length, 0, "is empty");
	chunk_read_release(&rd);
	fd = chunk_store_file_path(cs, id, path, sizeof(path)) == 0 ? open(path, O_WRONLY) : -1;
	ok(fd >= 0 && pwrite(fd, "X", 1, 10) == 1, "damage a byte of the first block");
	if (fd >= 0)
		close(fd);
	is_int(chunk_store_read_nowait(cs, id, 0, 100, &rd), -EAGAIN,
	       "nowait read of a damaged block: EAGAIN (left to a blocking read)");
	chunk_store_get_stats(cs, &st);
	is_int((int)st.checksum_errors, 0, "and not counted or marked");
	is_int(chunk_store_read(cs, id, 0, 100, false, &rd), -C3FS_ECHECKSUM,
	       "the blocking read reports it");

	/* retired versions */
	memset(&u, 0, sizeof(u));
	u.type = CHUNK_UPD_WRITE;
	u.length = 4096;
	u.chunk_size = 65536;
	u.data = a;
	u.version = 3;
	u.before_data = count_hook;
	u.before_data_arg = &calls;
	chunk_store_lock(cs, nid);
	is_int(chunk_store_stage(cs, nid, &u), 0, "stage v3 of a new chunk");
	chunk_store_abort(cs, nid);
	chunk_store_unlock(cs, nid);
	rc = chunk_store_stat(cs, nid, &info);
	ok(rc == -ENOENT && info.retired_ver == 3 && !info.has_commit,
	   "aborted: nothing committed, retired_ver 3 remembered");
	chunk_store_lock(cs, nid);
	u.version = 4;
	rc = chunk_store_stage(cs, nid, &u);
	if (!rc)
		rc = chunk_store_commit(cs, nid, 4, 1);
	chunk_store_unlock(cs, nid);
	is_int(rc, 0, "v4 committed");
	ok(chunk_store_stat(cs, nid, &info) == 0 && info.commit_ver == 4 && info.retired_ver == 0,
	   "a higher commit clears retired_ver");
	chunk_store_close(cs);
}

/* chunk_store_aread_begin/_end (the storage server's io_uring reads): -EAGAIN until the
 * descriptor is cached; the caller reads io_len bytes at io_off (block-aligned) and _end
 * checks them; a hole or a range past the end needs no read; a damaged block or a short
 * read is -EAGAIN (left to a blocking read, nothing marked); an I/O error is returned. */
static void aread(const char *dir, bool direct)
{
	struct chunk_store_opts o = { .target_id = 12, .io_engine = CHUNK_IO_PSYNC, .no_sync = true,
				      .direct_read = direct };
	struct chunk_store *cs;
	static uint8_t a[3 * 4096 + 100];
	struct chunk_id id = { 9, 0 }, nid = { 9, 1 };
	struct chunk_aread ar;
	struct chunk_stats st;
	void *buf = NULL;
	ssize_t got;
	int rc;

	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 13 + 1);
	if (chunk_store_open(dir, &o, &cs) || posix_memalign(&buf, 4096, 65536)) {
		ok(0, "open for two-step reads");
		free(buf);
		return;
	}
	is_int(wr(cs, id, 0, a, sizeof(a), 65536), 0, "write");
	is_int(chunk_store_aread_begin(cs, id, 0, 4096, &ar), -EAGAIN,
	       "before the descriptor is cached: EAGAIN");
	is_int(check(cs, id, a, sizeof(a)), 0, "blocking read (caches the descriptor)");
	rc = chunk_store_aread_begin(cs, id, 5000, 4000, &ar);
	ok(rc == 0 && ar.fd >= 0 && ar.io_off % 4096 == 0 && ar.io_off <= 5000 &&
	   ar.io_off + ar.io_len >= 9000 && ar.rd.version == 1 && ar.rd.chunk_len == sizeof(a),
	   "begin: an aligned range covering the request, the version and its length");
	got = rc == 0 ? pread(ar.fd, buf, ar.io_len, (off_t)ar.io_off) : -1;
	rc = rc == 0 ? chunk_store_aread_end(&ar, buf, got) : rc;
	ok(rc == 0 && ar.rd.length == 4000 && memcmp(ar.rd.data, a + 5000, 4000) == 0,
	   "end: the bytes asked for, checked");
	rc = chunk_store_aread_begin(cs, id, 12000, 4096, &ar);
	got = rc == 0 ? pread(ar.fd, buf, ar.io_len, (off_t)ar.io_off) : -1;
	rc = rc == 0 ? chunk_store_aread_end(&ar, buf, got) : rc;
	ok(rc == 0 && ar.rd.length == sizeof(a) - 12000 && memcmp(ar.rd.data, a + 12000,
								  sizeof(a) - 12000) == 0,
	   "a read over the chunk's end is cut at its length");
	ok(!ar.rd.crc_known, "a range not on block bounds: no CRC from the stored ones");
	rc = chunk_store_aread_begin(cs, id, 4096, 65536, &ar);
	got = rc == 0 ? pread(ar.fd, buf, ar.io_len, (off_t)ar.io_off) : -1;
	rc = rc == 0 ? chunk_store_aread_end(&ar, buf, got) : rc;
	ok(rc == 0 && ar.rd.length == sizeof(a) - 4096 && ar.rd.crc_known &&
	   ar.rd.crc == c3_crc32c(0, a + 4096, sizeof(a) - 4096),
	   "whole blocks to the chunk's end: the CRC combined from the stored ones is right");
	{
		struct chunk_read brd;

		rc = chunk_store_read(cs, id, 0, 8192, false, &brd);
		ok(rc == 0 && brd.crc_known && brd.crc == c3_crc32c(0, a, 8192),
		   "a blocking read of whole blocks carries their combined CRC too");
		chunk_read_release(&brd);
	}
	rc = chunk_store_aread_begin(cs, nid, 0, 4096, &ar);
	ok(rc == 0 && ar.io_len == 0 && ar.rd.length == 0 && ar.rd.version == 0,
	   "a hole needs no read");
	chunk_store_aread_cancel(&ar);
	rc = chunk_store_aread_begin(cs, id, 20000, 10, &ar);
	ok(rc == 0 && ar.io_len == 0 && ar.rd.length == 0 && ar.rd.chunk_len == sizeof(a),
	   "past the end: nothing to read, the length is known");
	chunk_store_aread_cancel(&ar);
	rc = chunk_store_aread_begin(cs, id, 0, 4096, &ar);
	is_int(rc == 0 ? chunk_store_aread_end(&ar, buf, 100) : rc, -EAGAIN,
	       "a short read: EAGAIN");
	rc = chunk_store_aread_begin(cs, id, 0, 4096, &ar);
	got = rc == 0 ? pread(ar.fd, buf, ar.io_len, (off_t)ar.io_off) : -1;
	((uint8_t *)buf)[7] ^= 0x40;
	is_int(rc == 0 ? chunk_store_aread_end(&ar, buf, got) : rc, -EAGAIN,
	       "a block that fails its check: EAGAIN (left to a blocking read)");
	chunk_store_get_stats(cs, &st);
	is_int((int)st.checksum_errors, 0, "and not counted or marked");
	rc = chunk_store_aread_begin(cs, id, 0, 4096, &ar);
	chunk_store_aread_cancel(&ar);
	is_int(rc, 0, "begin then cancel");
	rc = chunk_store_aread_begin(cs, id, 0, 4096, &ar);
	is_int(rc == 0 ? chunk_store_aread_end(&ar, buf, -EIO) : rc, -EIO, "an I/O error is returned");
	ok(chunk_store_failed(cs), "and fails the target, as a blocking read's does");
	is_int(chunk_store_aread_begin(cs, id, 0, 4096, &ar), -C3FS_ETARGETDOWN,
	       "a failed target refuses");
	free(buf);
	chunk_store_close(cs);
}

int main(void)
{
	char path[4200];
	char *root = mkdtemp(tmpl);

	if (!root)
		tap_skip_all("no temp dir");
	for (int e = 0; e < 2; e++) {
		snprintf(path, sizeof(path), "%s/basic%d", root, e);
		basic(path, e);
		snprintf(path, sizeof(path), "%s/model%d", root, e);
		model_check(path, e, false, 1);
		snprintf(path, sizeof(path), "%s/dmodel%d", root, e);
		model_check(path, e, true, 1);
	}
	snprintf(path, sizeof(path), "%s/model-nojournal", root);
	model_check(path, CHUNK_IO_PSYNC, false, 0);
	snprintf(path, sizeof(path), "%s/dmodel-nojournal", root);
	model_check(path, CHUNK_IO_PSYNC, true, 0);
	snprintf(path, sizeof(path), "%s/model-toggle", root);
	model_check(path, CHUNK_IO_PSYNC, false, 2);
	snprintf(path, sizeof(path), "%s/big", root);
	big_chunks(path);
	snprintf(path, sizeof(path), "%s/conc", root);
	concurrency(path);
	snprintf(path, sizeof(path), "%s/fdcache", root);
	fd_cache(path);
	snprintf(path, sizeof(path), "%s/nowait", root);
	nowait_and_retired(path);
	snprintf(path, sizeof(path), "%s/aread", root);
	aread(path, false);
	snprintf(path, sizeof(path), "%s/aread-direct", root);
	aread(path, true);
	enospc();
	snprintf(path, sizeof(path), "rm -rf %s", root);
	if (system(path) != 0)
		diag("cleanup failed");
	return tap_done();
}
