/* test_kv_powerloss.c — simulated power loss under the lmdb backend's group commit.
 *
 * SIGKILL keeps the page cache, so it cannot show what a power cut does.  Like SQLite's
 * crash VFS, this test interposes the write and sync calls LMDB makes on its data file
 * (pwrite, write, writev, fdatasync, fsync; this executable's definitions take precedence
 * over libc's for liblmdb) and keeps a write-ahead log of every write: offset, the bytes
 * it replaced, the bytes written, and when it became durable (fdatasync/fsync of the file,
 * or the return of a write on an O_DSYNC descriptor, which is how LMDB writes its meta
 * pages).  A child process commits from 4 threads and acknowledges commits through a pipe;
 * the parent kills it at a random moment, then rebuilds "the disk after the power cut":
 * every non-durable write is undone (newest first) and then a random subset of them is
 * applied again, in order.  The store must open, hold every acknowledged commit, and
 * be consistent (each thread's keys gap-free and matching its "last" record).
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

enum { THREADS = 4, ROUNDS = 6 };

/* ---- interposition ------------------------------------------------------------------ */

static volatile int g_active; /* only in the child */
static char g_datafile[256];
static int g_logfd = -1;
static int g_rdfd = -1; /* the data file opened for reading preimages (LMDB's meta fd is
			 * write-only) */
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

static int is_data_fd(int fd)
{
	char p[64], buf[300];
	ssize_t n;

	if (!g_active || fd == g_logfd || fd == g_rdfd)
		return 0;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return strcmp(buf, g_datafile) == 0;
}

struct rec_hdr {
	uint32_t magic;
	char type; /* 'W' write, 'S' file synced, 'D' last write durable */
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

static void log_rec(char type, int fd, const void *data, size_t len, off_t off)
{
	struct rec_hdr h = { REC_MAGIC, type, (uint64_t)off, type == 'W' ? len : 0 };

	if (type != 'W') {
		log_all(&h, sizeof(h));
		return;
	}
	uint8_t *pre = calloc(1, len ? len : 1);

	if (!pre)
		_exit(9);
	if (g_rdfd < 0)
		g_rdfd = open(g_datafile, O_RDONLY);
	if (g_rdfd < 0 || pread(g_rdfd, pre, len, off) < 0)
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
	if (!is_data_fd(fd))
		return real_pwrite(fd, buf, n, off);
	pthread_mutex_lock(&g_mu);
	log_rec('W', fd, buf, n, off);
	ssize_t r = real_pwrite(fd, buf, n, off);

	if (r == (ssize_t)n && is_dsync(fd))
		log_rec('D', fd, NULL, 0, 0);
	pthread_mutex_unlock(&g_mu);
	return r;
}

ssize_t write(int fd, const void *buf, size_t n)
{
	resolve();
	if (!is_data_fd(fd))
		return real_write(fd, buf, n);
	pthread_mutex_lock(&g_mu);
	off_t off = lseek(fd, 0, SEEK_CUR);

	log_rec('W', fd, buf, n, off);
	ssize_t r = real_write(fd, buf, n);

	if (r == (ssize_t)n && is_dsync(fd))
		log_rec('D', fd, NULL, 0, 0);
	pthread_mutex_unlock(&g_mu);
	return r;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	resolve();
	if (!is_data_fd(fd))
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

	log_rec('W', fd, all, n, off);
	ssize_t r = real_writev(fd, iov, cnt);

	if (r == (ssize_t)n && is_dsync(fd))
		log_rec('D', fd, NULL, 0, 0);
	pthread_mutex_unlock(&g_mu);
	free(all);
	return r;
}

static int sync_common(int fd, int (*fn)(int))
{
	resolve();
	if (!is_data_fd(fd))
		return fn(fd);
	pthread_mutex_lock(&g_mu); /* no write may slip between the sync and its marker */
	int r = fn(fd);

	if (r == 0)
		log_rec('S', fd, NULL, 0, 0);
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
		if (h.type == 'S') {
			for (size_t i = 0; i < n; i++)
				w[i].durable = 1;
			continue;
		}
		if (h.type == 'D') {
			if (n)
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
		w[n++] = (struct wrec){ h.off, h.len, pre, data, 0 };
	}
	fclose(f);
	int fd = open(g_datafile, O_RDWR);

	if (fd < 0)
		return -1;
	for (size_t i = n; i-- > 0;)
		if (!w[i].durable) {
			nd++;
			if (pwrite(fd, w[i].pre, w[i].len, (off_t)w[i].off) < 0)
				nd = -1000000;
		}
	for (size_t i = 0; i < n; i++)
		if (!w[i].durable && rand_r(seed) % 2) {
			(*applied)++;
			if (pwrite(fd, w[i].data, w[i].len, (off_t)w[i].off) < 0)
				nd = -1000000;
		}
	close(fd);
	for (size_t i = 0; i < n; i++) {
		free(w[i].pre);
		free(w[i].data);
	}
	free(w);
	return nd < 0 ? -1 : nd;
}

/* ---- the workload (as in test_kv_crash.c) ------------------------------------------- */

static char g_uri[128];
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

int main(void)
{
	char dir[] = "/tmp/c3fs-kvpower.XXXXXX", cmd[96], logpath[300];
	int64_t acked[THREADS];
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	struct kv_db *db;

	resolve();
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	snprintf(g_uri, sizeof(g_uri), "lmdb:%s", dir);
	snprintf(g_datafile, sizeof(g_datafile), "%s/data.mdb", dir);
	snprintf(logpath, sizeof(logpath), "%s/writes.log", dir);
	if (kv_db_open(g_uri, &db) < 0) { /* create before any crash */
		ok(0, "create store");
		return tap_done();
	}
	kv_db_close(db);
	for (int i = 0; i < THREADS; i++)
		acked[i] = -1;
	diag("seed %u", seed);
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
		int delay_ms = 100 + (int)(rand_r(&seed) % 300);
		struct timespec ts = { 0, (long)delay_ms * 1000000L };

		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;

		waitpid(pid, &status, 0);
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
		if (!ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "writer killed mid-flight"))
			diag("writer exited with %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

		int applied, nd = crash_image(logpath, &seed, &applied);

		ok(nd >= 0, "crash image built from the write log");
		struct kv_txn *t;
		int bad = 0;

		if (kv_db_open(g_uri, &db) < 0) {
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
		char name[160];

		snprintf(name, sizeof(name),
			 "round %d (cut after %d ms, %d acks, %d unsynced writes, %d kept): "
			 "acknowledged commits present, consistent",
			 round, delay_ms, nrec, nd, applied);
		is_int(bad, 0, name);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
