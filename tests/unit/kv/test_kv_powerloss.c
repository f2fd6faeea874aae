/* test_kv_powerloss.c — simulated power loss under the lmdb backend's group commit, in
 * both durability modes (sync=lmdb: LMDB's own two syncs; sync=wal: the log in front of
 * an MDB_NOSYNC LMDB, with frequent background checkpoints).
 *
 * SIGKILL keeps the page cache, so it cannot show what a power cut does.  Like SQLite's
 * crash VFS, this test interposes the write and sync calls made on the store's files
 * (data.mdb, and the log wal.0 / wal.1 / wal.ckpt: pwrite, pwrite64, write, writev,
 * fdatasync, fsync; this executable's definitions take precedence over libc's for
 * liblmdb and kv_wal.c) and keeps a write-ahead log of every write: file, offset, the
 * bytes it replaced, the bytes written, and when it became durable (fdatasync/fsync of
 * the file, or the return of a write on an O_DSYNC descriptor, which is how LMDB writes
 * its meta pages and kv_wal.c its records).  A child process commits from 4 threads and
 * acknowledges commits through a pipe; the parent kills it at a random moment, then
 * rebuilds "the disks after the power cut": every non-durable write is undone (newest
 * first) and then a random subset of them is applied again, in order.  The store must
 * open, hold every acknowledged commit, and be consistent (each thread's keys gap-free
 * and matching its "last" record).
 */
#undef _FILE_OFFSET_BITS /* we define pwrite itself, not the pwrite64 alias */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/errors.h"
#include "kv/kv.h"
#include "tests/lib/tap.h"

enum { THREADS = 4, ROUNDS = 9 };

/* ---- interposition ------------------------------------------------------------------ */

static volatile int g_active; /* only in the child */
enum { NFILES = 4 };
static const char *const g_fname[NFILES] = { "data.mdb", "wal.0", "wal.1", "wal.ckpt" };
static char g_path[NFILES][256];
static int g_logfd = -1;
static int g_rdfd[NFILES] = { -1, -1, -1, -1 }; /* files opened for reading preimages (LMDB's
						  * meta fd is write-only) */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_fdatasync)(int);
static int (*real_fsync)(int);

static void resolve(void)
{
	if (!real_pwrite) {
		*(void **)&real_write = dlsym(RTLD_NEXT, "write");
		*(void **)&real_writev = dlsym(RTLD_NEXT, "writev");
		*(void **)&real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
		*(void **)&real_fsync = dlsym(RTLD_NEXT, "fsync");
		*(void **)&real_pwrite = dlsym(RTLD_NEXT, "pwrite");
	}
}

/* Which of the store's files fd is (index in g_fname), or -1. */
static int file_of(int fd)
{
	char p[64], buf[300];
	ssize_t n;

	if (!g_active || fd == g_logfd)
		return -1;
	for (int i = 0; i < NFILES; i++)
		if (fd == g_rdfd[i])
			return -1;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	for (int i = 0; i < NFILES; i++)
		if (strcmp(buf, g_path[i]) == 0)
			return i;
	return -1;
}

struct rec_hdr {
	uint32_t magic;
	char type; /* 'W' write, 'S' file synced, 'D' last write durable */
	int32_t file;
	uint64_t off, len;
};
#define REC_MAGIC 0x4b565057u

static void log_all(const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = real_write(g_logfd, c, n);

		if (w <= 0)
			_exit(9);
		c += w;
		n -= (size_t)w;
	}
}

static void log_rec(char type, int file, const void *data, size_t len, off_t off)
{
	struct rec_hdr h = { REC_MAGIC, type, file, (uint64_t)off, type == 'W' ? len : 0 };

	if (type != 'W') {
		log_all(&h, sizeof(h));
		return;
	}
	uint8_t *pre = calloc(1, len ? len : 1);

	if (!pre)
		_exit(9);
	if (g_rdfd[file] < 0)
		g_rdfd[file] = open(g_path[file], O_RDONLY);
	if (g_rdfd[file] < 0 || pread(g_rdfd[file], pre, len, off) < 0)
		_exit(9);
	log_all(&h, sizeof(h));
	log_all(pre, len);
	log_all(data, len);
	free(pre);
}

static int is_dsync(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_DSYNC);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	resolve();
	int f = file_of(fd);

	if (f < 0)
		return real_pwrite(fd, buf, n, off);
	pthread_mutex_lock(&g_mu);
	log_rec('W', f, buf, n, off);
	ssize_t r = real_pwrite(fd, buf, n, off);

	if (r == (ssize_t)n && is_dsync(fd))
		log_rec('D', f, NULL, 0, 0);
	pthread_mutex_unlock(&g_mu);
	return r;
}

/* what code built with _FILE_OFFSET_BITS=64 (kv_wal.c) calls */
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	resolve();
	int f = file_of(fd);

	if (f < 0)
		return real_write(fd, buf, n);
	pthread_mutex_lock(&g_mu);
	off_t off = lseek(fd, 0, SEEK_CUR);

	log_rec('W', f, buf, n, off);
	ssize_t r = real_write(fd, buf, n);

	if (r == (ssize_t)n && is_dsync(fd))
		log_rec('D', f, NULL, 0, 0);
	pthread_mutex_unlock(&g_mu);
	return r;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	resolve();
	int f = file_of(fd);

	if (f < 0)
		return real_writev(fd, iov, cnt);
	size_t n = 0;

	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	uint8_t *all = malloc(n ? n : 1), *p = all;

	if (!all)
		_exit(9);
	for (int i = 0; i < cnt; i++) {
		memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	pthread_mutex_lock(&g_mu);
	off_t off = lseek(fd, 0, SEEK_CUR);

	log_rec('W', f, all, n, off);
	ssize_t r = real_writev(fd, iov, cnt);

	if (r == (ssize_t)n && is_dsync(fd))
		log_rec('D', f, NULL, 0, 0);
	pthread_mutex_unlock(&g_mu);
	free(all);
	return r;
}

static int sync_common(int fd, int (*fn)(int))
{
	resolve();
	int f = file_of(fd);

	if (f < 0)
		return fn(fd);
	pthread_mutex_lock(&g_mu); /* no write may slip between the sync and its marker */
	int r = fn(fd);

	if (r == 0)
		log_rec('S', f, NULL, 0, 0);
	pthread_mutex_unlock(&g_mu);
	return r;
}

int fdatasync(int fd)
{
	resolve();
	return sync_common(fd, real_fdatasync);
}

int fsync(int fd)
{
	resolve();
	return sync_common(fd, real_fsync);
}

/* ---- the crash image ---------------------------------------------------------------- */

struct wrec {
	int file;
	uint64_t off, len;
	uint8_t *pre, *data;
	int durable;
};

/* Undo non-durable writes, re-apply a random subset.  Returns the number of non-durable
 * writes, or -1 on error. */
static int crash_image(const char *logpath, unsigned *seed, int *applied)
{
	FILE *f = fopen(logpath, "rb");
	struct wrec *w = NULL;
	size_t n = 0, cap = 0;
	struct rec_hdr h;
	int nd = 0;

	*applied = 0;
	if (!f)
		return -1;
	while (fread(&h, sizeof(h), 1, f) == 1 && h.magic == REC_MAGIC) {
		if (h.file < 0 || h.file >= NFILES)
			break;
		if (h.type == 'S') {
			for (size_t i = 0; i < n; i++)
				if (w[i].file == h.file)
					w[i].durable = 1;
			continue;
		}
		if (h.type == 'D') {
			if (n && w[n - 1].file == h.file)
				w[n - 1].durable = 1;
			continue;
		}
		if (h.type != 'W' || h.len > (1u << 30))
			break;
		uint8_t *pre = malloc(h.len ? h.len : 1), *data = malloc(h.len ? h.len : 1);

		if (!pre || !data || fread(pre, 1, h.len, f) != h.len ||
		    fread(data, 1, h.len, f) != h.len) {
			free(pre); /* a torn tail record: that write never started */
			free(data);
			break;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			w = realloc(w, cap * sizeof(*w));
			if (!w)
				return -1;
		}
		w[n++] = (struct wrec){ h.file, h.off, h.len, pre, data, 0 };
	}
	fclose(f);
	int fd[NFILES];

	for (int i = 0; i < NFILES; i++)
		fd[i] = open(g_path[i], O_RDWR); /* -1 for log files of sync=lmdb: no writes */
	for (size_t i = n; i-- > 0;)
		if (!w[i].durable) {
			nd++;
			if (pwrite(fd[w[i].file], w[i].pre, w[i].len, (off_t)w[i].off) < 0)
				nd = -1000000;
		}
	for (size_t i = 0; i < n; i++)
		if (!w[i].durable && rand_r(seed) % 2) {
			(*applied)++;
			if (pwrite(fd[w[i].file], w[i].data, w[i].len, (off_t)w[i].off) < 0)
				nd = -1000000;
		}
	for (int i = 0; i < NFILES; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	for (size_t i = 0; i < n; i++) {
		free(w[i].pre);
		free(w[i].data);
	}
	free(w);
	return nd < 0 ? -1 : nd;
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
		if (real_write(g_pipe, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
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
			g_logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			if (g_logfd < 0)
				_exit(2);
			g_active = 1;
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

		int applied, nd = crash_image(logpath, seed, &applied);

		ok(nd >= 0, "crash image built from the write log");
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
			 *query ? query : "sync=lmdb", round, delay_ms, nrec, nd, applied);
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

	resolve();
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
