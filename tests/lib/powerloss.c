/* powerloss.c — the write/sync interposer and the power-loss image (contract: powerloss.h).
 *
 * Journal record: struct jhdr, the path, `prelen` bytes the change replaced (the part of
 * [off, off+len) below the old size), `datalen` bytes it wrote.  Journal writes and the
 * reads of pre-images use raw syscalls, so they are never journaled themselves.
 */
#undef _FILE_OFFSET_BITS /* we define the plain and the 64 names ourselves */
#include "tests/lib/powerloss.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

enum jtype {
	J_WRITE = 1,   /* bytes written (pwrite, write, writev, copy_file_range) */
	J_TRUNC = 2,   /* size set (ftruncate, open with O_TRUNC) */
	J_CREATE = 3,  /* a new name */
	J_SYNC = 4,    /* the file was synced: its earlier changes are durable */
	J_DIRSYNC = 5, /* the directory was synced: creations in it are durable */
	J_DSYNC = 6,   /* the preceding change was made on an O_DSYNC descriptor */
	J_SYNCFS = 7,  /* syncfs: every earlier change (and creation) is durable */
};

struct jhdr {
	uint32_t magic, type, pathlen, pad;
	uint64_t off, len, presize, postsize, prelen, datalen;
};
#define J_MAGIC 0x504c4a31u
#define J_MAXLEN (1ull << 30)

static int j_fd = -1; /* journal (child only) */
static pl_watch_fn j_watch;
static long j_crash_at = -1, j_calls;
static bool j_crash_after;
static pthread_mutex_t j_mu = PTHREAD_MUTEX_INITIALIZER; /* no change may slip between a
							   * sync and its record */

static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);
static int (*real_fdatasync)(int);
static int (*real_fsync)(int);
static int (*real_syncfs)(int);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static ssize_t (*real_cfr)(int, loff_t *, int, loff_t *, size_t, unsigned);

static void resolve(void)
{
	if (real_pwrite)
		return;
	*(void **)&real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
	*(void **)&real_write = dlsym(RTLD_NEXT, "write");
	*(void **)&real_writev = dlsym(RTLD_NEXT, "writev");
	*(void **)&real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
	*(void **)&real_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
	*(void **)&real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
	*(void **)&real_fsync = dlsym(RTLD_NEXT, "fsync");
	*(void **)&real_syncfs = dlsym(RTLD_NEXT, "syncfs");
	*(void **)&real_open = dlsym(RTLD_NEXT, "open");
	*(void **)&real_open64 = dlsym(RTLD_NEXT, "open64");
	*(void **)&real_openat = dlsym(RTLD_NEXT, "openat");
	*(void **)&real_openat64 = dlsym(RTLD_NEXT, "openat64");
	*(void **)&real_cfr = dlsym(RTLD_NEXT, "copy_file_range");
	*(void **)&real_pwrite = dlsym(RTLD_NEXT, "pwrite");
}

__attribute__((constructor)) static void pl_resolve_at_load(void)
{
	resolve();
}

/* ------------------------------------------------------------------ the journal (child) */

ssize_t pl_raw_write(int fd, const void *buf, size_t n)
{
	return syscall(SYS_write, fd, buf, n);
}

void pl_start(const char *journal, pl_watch_fn watch)
{
	resolve();
	j_watch = watch;
	j_fd = (int)syscall(SYS_openat, AT_FDCWD, journal,
			    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (j_fd < 0)
		_exit(2);
}

void pl_crash_at(long n, bool after)
{
	j_crash_at = n;
	j_crash_after = after;
}

/* Count an interposed call on a watched file; maybe die before it. */
static void crash_point_before(void)
{
	j_calls++;
	if (j_calls == j_crash_at && !j_crash_after)
		_exit(0);
}

static void crash_point_after(void)
{
	if (j_calls == j_crash_at && j_crash_after)
		_exit(0);
}

/* The watched file fd refers to, into buf; false if none (or not journaling). */
static bool watched_fd(int fd, char *buf, size_t size)
{
	char p[64];
	ssize_t n;

	if (j_fd < 0 || fd < 0 || fd == j_fd)
		return false;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, buf, size - 1);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return buf[0] == '/' && j_watch(buf);
}

static void jput_all(const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = syscall(SYS_write, j_fd, c, n);

		if (w <= 0)
			_exit(90);
		c += w;
		n -= (size_t)w;
	}
}

static void jput(uint32_t type, const char *path, uint64_t off, uint64_t len, uint64_t presize,
		 uint64_t postsize, const void *pre, uint64_t prelen, const void *data,
		 uint64_t datalen)
{
	struct jhdr h = { J_MAGIC, type, (uint32_t)strlen(path), 0,
			  off, len, presize, postsize, prelen, datalen };

	jput_all(&h, sizeof(h));
	jput_all(path, h.pathlen);
	if (prelen)
		jput_all(pre, prelen);
	if (datalen)
		jput_all(data, datalen);
}

/* Journal a change of [off, off+len) of fd's file (path) to `data` (NULL: a size change
 * to newsize, the bytes beyond the old size being zeros). */
static void journal_change(int fd, const char *path, uint64_t off, uint64_t len,
			   const void *data, int64_t newsize)
{
	struct stat st;
	uint64_t presize, postsize, prelen = 0;
	uint8_t *pre = NULL;

	if (fstat(fd, &st) != 0)
		_exit(91);
	presize = (uint64_t)st.st_size;
	postsize = newsize >= 0 ? (uint64_t)newsize : (off + len > presize ? off + len : presize);
	if (off < presize) {
		prelen = (off + len < presize ? off + len : presize) - off;
		pre = malloc(prelen);
		if (!pre)
			_exit(92);
		/* the descriptor may be write-only (LMDB's meta fd): read through the name */
		if (pread(fd, pre, prelen, (off_t)off) != (ssize_t)prelen) {
			int rfd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);

			if (rfd < 0 || pread(rfd, pre, prelen, (off_t)off) != (ssize_t)prelen)
				_exit(92);
			syscall(SYS_close, rfd);
		}
	}
	jput(data ? J_WRITE : J_TRUNC, path, off, len, presize, postsize, pre, prelen, data,
	     data ? len : 0);
	free(pre);
}

static bool is_dsync(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_DSYNC);
}

/* ------------------------------------------------------------------ the interposers */

/* An open that may create or truncate a watched file. */
static int open_common(int dirfd, const char *path, int flags, mode_t mode, bool at, bool is64)
{
	char full[PATH_MAX + 64];
	bool w = false;
	int fd;

	resolve();
	if (j_fd >= 0 && (flags & (O_CREAT | O_TRUNC))) {
		if (path[0] == '/') {
			snprintf(full, sizeof(full), "%s", path);
		} else {
			char p[64], d[PATH_MAX];
			ssize_t n;

			snprintf(p, sizeof(p), "/proc/self/fd/%d", dirfd);
			n = at && dirfd != AT_FDCWD ? readlink(p, d, sizeof(d) - 1)
						    : (getcwd(d, sizeof(d)) ? (ssize_t)strlen(d) : -1);
			if (n > 0) {
				d[n] = 0;
				snprintf(full, sizeof(full), "%s/%s", d, path);
			} else {
				full[0] = 0;
			}
		}
		w = full[0] == '/' && j_watch(full);
	}
	if (w) {
		struct stat st;
		bool existed;

		pthread_mutex_lock(&j_mu);
		crash_point_before();
		existed = stat(full, &st) == 0;
		if (!existed && (flags & O_CREAT)) {
			jput(J_CREATE, full, 0, 0, 0, 0, NULL, 0, NULL, 0);
		} else if (existed && (flags & O_TRUNC) && st.st_size > 0) {
			int tfd = (int)syscall(SYS_openat, AT_FDCWD, full, O_RDONLY | O_CLOEXEC);

			if (tfd >= 0) {
				journal_change(tfd, full, 0, (uint64_t)st.st_size, NULL, 0);
				syscall(SYS_close, tfd);
			}
		}
	}
	if (at)
		fd = is64 ? real_openat64(dirfd, path, flags, mode) : real_openat(dirfd, path, flags, mode);
	else
		fd = is64 ? real_open64(path, flags, mode) : real_open(path, flags, mode);
	if (w) {
		crash_point_after();
		pthread_mutex_unlock(&j_mu);
	}
	return fd;
}

#define OPEN_MODE(flags, last)                                                                \
	mode_t mode = 0;                                                                      \
	if ((flags) & O_CREAT) {                                                               \
		va_list ap;                                                                   \
		va_start(ap, last);                                                           \
		mode = (mode_t)va_arg(ap, int);                                               \
		va_end(ap);                                                                   \
	}

int open(const char *path, int flags, ...)
{
	OPEN_MODE(flags, flags);
	return open_common(AT_FDCWD, path, flags, mode, false, false);
}

int open64(const char *path, int flags, ...)
{
	OPEN_MODE(flags, flags);
	return open_common(AT_FDCWD, path, flags, mode, false, true);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	OPEN_MODE(flags, flags);
	return open_common(dirfd, path, flags, mode, true, false);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	OPEN_MODE(flags, flags);
	return open_common(dirfd, path, flags, mode, true, true);
}

/* A write of n bytes (buf, or NULL: read them from cfr_in at cfr_off) at off (-1: the file
 * position).  `call` makes it. */
#define WRITE_COMMON(fd, buf, n, off, call)                                                   \
	do {                                                                                  \
		char path_[PATH_MAX];                                                         \
		resolve();                                                                    \
		if (!watched_fd(fd, path_, sizeof(path_)))                                    \
			return call;                                                          \
		pthread_mutex_lock(&j_mu);                                                    \
		crash_point_before();                                                         \
		off_t o_ = (off) >= 0 ? (off) : lseek(fd, 0, SEEK_CUR);                       \
		journal_change(fd, path_, (uint64_t)o_, n, buf, -1);                          \
		ssize_t r_ = call;                                                            \
		if (r_ == (ssize_t)(n) && is_dsync(fd))                                       \
			jput(J_DSYNC, path_, 0, 0, 0, 0, NULL, 0, NULL, 0);                   \
		crash_point_after();                                                          \
		pthread_mutex_unlock(&j_mu);                                                  \
		return r_;                                                                    \
	} while (0)

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	WRITE_COMMON(fd, buf, n, off, real_pwrite(fd, buf, n, off));
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	WRITE_COMMON(fd, buf, n, off, real_pwrite64(fd, buf, n, off));
}

ssize_t write(int fd, const void *buf, size_t n)
{
	WRITE_COMMON(fd, buf, n, (off_t)-1, real_write(fd, buf, n));
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	char path[PATH_MAX];
	size_t n = 0;
	uint8_t *all, *p;

	resolve();
	if (!watched_fd(fd, path, sizeof(path)))
		return real_writev(fd, iov, cnt);
	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	all = malloc(n ? n : 1);
	if (!all)
		_exit(92);
	p = all;
	for (int i = 0; i < cnt; i++) {
		memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	pthread_mutex_lock(&j_mu);
	crash_point_before();
	journal_change(fd, path, (uint64_t)lseek(fd, 0, SEEK_CUR), n, all, -1);
	ssize_t r = real_writev(fd, iov, cnt);

	if (r == (ssize_t)n && is_dsync(fd))
		jput(J_DSYNC, path, 0, 0, 0, 0, NULL, 0, NULL, 0);
	crash_point_after();
	pthread_mutex_unlock(&j_mu);
	free(all);
	return r;
}

ssize_t copy_file_range(int in, loff_t *off_in, int out, loff_t *off_out, size_t n,
			unsigned flags)
{
	char path[PATH_MAX];
	uint8_t *data;
	ssize_t got, r;

	resolve();
	if (!watched_fd(out, path, sizeof(path)))
		return real_cfr(in, off_in, out, off_out, n, flags);
	data = calloc(1, n ? n : 1);
	if (!data)
		_exit(92);
	got = pread(in, data, n, off_in ? *off_in : lseek(in, 0, SEEK_CUR));
	if (got < 0)
		_exit(92);
	pthread_mutex_lock(&j_mu);
	crash_point_before();
	/* what the call will copy: up to the end of the source */
	journal_change(out, path, off_out ? (uint64_t)*off_out : (uint64_t)lseek(out, 0, SEEK_CUR),
		       (uint64_t)got, data, -1);
	r = real_cfr(in, off_in, out, off_out, n, flags);
	crash_point_after();
	pthread_mutex_unlock(&j_mu);
	free(data);
	return r;
}

static int ftruncate_common(int fd, off_t len, bool is64)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	resolve();
	if (!watched_fd(fd, path, sizeof(path)))
		return is64 ? real_ftruncate64(fd, len) : real_ftruncate(fd, len);
	pthread_mutex_lock(&j_mu);
	crash_point_before();
	if (fstat(fd, &st) == 0 && st.st_size != len)
		journal_change(fd, path, (uint64_t)(len < st.st_size ? len : st.st_size),
			       (uint64_t)(len < st.st_size ? st.st_size - len : len - st.st_size),
			       NULL, len);
	r = is64 ? real_ftruncate64(fd, len) : real_ftruncate(fd, len);
	crash_point_after();
	pthread_mutex_unlock(&j_mu);
	return r;
}

int ftruncate(int fd, off_t len)
{
	return ftruncate_common(fd, len, false);
}

int ftruncate64(int fd, off_t len)
{
	return ftruncate_common(fd, len, true);
}

static int sync_common(int fd, int (*fn)(int))
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	resolve();
	if (!watched_fd(fd, path, sizeof(path)))
		return fn(fd);
	pthread_mutex_lock(&j_mu);
	crash_point_before();
	r = fn(fd);
	if (r == 0) {
		bool dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);

		jput(dir ? J_DIRSYNC : J_SYNC, path, 0, 0, 0, 0, NULL, 0, NULL, 0);
		crash_point_after();
	}
	pthread_mutex_unlock(&j_mu);
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

/* The watched files are assumed to live on one file system: a syncfs while journaling
 * makes every change journaled before it durable. */
int syncfs(int fd)
{
	int r;

	resolve();
	if (j_fd < 0)
		return real_syncfs(fd);
	pthread_mutex_lock(&j_mu);
	crash_point_before();
	r = real_syncfs(fd);
	if (r == 0) {
		jput(J_SYNCFS, "/", 0, 0, 0, 0, NULL, 0, NULL, 0);
		crash_point_after();
	}
	pthread_mutex_unlock(&j_mu);
	return r;
}

/* ------------------------------------------------------------------ the power loss (parent) */

struct jrec {
	struct jhdr h;
	char *path;
	uint8_t *pre, *data;
	bool durable;
};

static void free_recs(struct jrec *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].pre);
		free(v[i].data);
	}
	free(v);
}

/* Read the journal up to its end or a record cut by the crash (that change never
 * started).  Returns the number of records, or -1. */
static long journal_load(const char *journal, struct jrec **out)
{
	FILE *f = fopen(journal, "rb");
	struct jrec *v = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	if (!f)
		return -1;
	for (;;) {
		struct jrec r;

		memset(&r, 0, sizeof(r));
		if (fread(&r.h, sizeof(r.h), 1, f) != 1 || r.h.magic != J_MAGIC ||
		    r.h.pathlen > PATH_MAX || r.h.prelen > J_MAXLEN || r.h.datalen > J_MAXLEN)
			break;
		r.path = calloc(1, r.h.pathlen + 1);
		r.pre = r.h.prelen ? malloc(r.h.prelen) : NULL;
		r.data = r.h.datalen ? malloc(r.h.datalen) : NULL;
		if (!r.path || fread(r.path, 1, r.h.pathlen, f) != r.h.pathlen ||
		    (r.h.prelen && (!r.pre || fread(r.pre, 1, r.h.prelen, f) != r.h.prelen)) ||
		    (r.h.datalen && (!r.data || fread(r.data, 1, r.h.datalen, f) != r.h.datalen))) {
			free(r.path);
			free(r.pre);
			free(r.data);
			break;
		}
		if (n == cap) {
			struct jrec *nv;

			cap = cap ? cap * 2 : 256;
			nv = realloc(v, sizeof(*v) * cap);
			if (!nv) {
				free(r.path);
				free(r.pre);
				free(r.data);
				free_recs(v, n);
				fclose(f);
				return -1;
			}
			v = nv;
		}
		v[n++] = r;
	}
	fclose(f);
	*out = v;
	return (long)n;
}

static bool in_dir(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && path[n] == '/' && !strchr(path + n + 1, '/');
}

static bool is_change(const struct jrec *r)
{
	return r->h.type == J_WRITE || r->h.type == J_TRUNC || r->h.type == J_CREATE;
}

/* Put the bytes and the size of r's file back as they were before r.  0, or -1. */
static int undo(const struct jrec *r)
{
	struct stat st;
	int fd, rc = 0;

	if (r->h.type == J_CREATE) {
		unlink(r->path); /* the name never reached the disk */
		return 0;
	}
	fd = open(r->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* file gone (unlinked, or its creation undone) */
	if (r->h.prelen && pwrite(fd, r->pre, r->h.prelen, (off_t)r->h.off) < 0)
		rc = -1;
	/* the size goes back too, unless a newer change that was kept moved it */
	if (rc == 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size == r->h.postsize &&
	    ftruncate(fd, (off_t)r->h.presize) < 0)
		rc = -1;
	close(fd);
	return rc;
}

/* Make change r again.  0, or -1. */
static int redo(const struct jrec *r)
{
	int fd, rc = 0;

	if (r->h.type == J_CREATE) {
		fd = open(r->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		close(fd);
		return 0;
	}
	fd = open(r->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* its creation was lost, or it was unlinked */
	if (r->h.type == J_TRUNC)
		rc = ftruncate(fd, (off_t)r->h.postsize);
	else if (r->h.datalen && pwrite(fd, r->data, r->h.datalen, (off_t)r->h.off) < 0)
		rc = -1;
	close(fd);
	return rc < 0 ? -1 : 0;
}

int pl_power_loss(const char *journal, enum pl_policy policy, unsigned *seed,
		  struct pl_stats *st)
{
	struct jrec *v;
	long n = journal_load(journal, &v);
	int rc = 0;

	memset(st, 0, sizeof(*st));
	if (n < 0)
		return -1;
	for (long i = 0; i < n; i++) {
		struct jrec *r = &v[i];

		if (is_change(r))
			st->records++;
		if (r->h.type == J_SYNC) {
			for (long k = 0; k < i; k++)
				if (v[k].h.type != J_CREATE && is_change(&v[k]) &&
				    !strcmp(v[k].path, r->path))
					v[k].durable = true;
		} else if (r->h.type == J_DIRSYNC) {
			for (long k = 0; k < i; k++)
				if (v[k].h.type == J_CREATE && in_dir(v[k].path, r->path))
					v[k].durable = true;
		} else if (r->h.type == J_SYNCFS) {
			for (long k = 0; k < i; k++)
				if (is_change(&v[k]))
					v[k].durable = true;
		} else if (r->h.type == J_DSYNC) {
			if (i > 0 && is_change(&v[i - 1]) && !strcmp(v[i - 1].path, r->path))
				v[i - 1].durable = true;
		}
	}
	for (long i = 0; i < n; i++)
		if (is_change(&v[i]) && !v[i].durable)
			st->unsynced++;
	if (policy == PL_UNDO_SOME) {
		st->kept = st->unsynced;
		for (long i = n - 1; i >= 0 && rc == 0; i--) {
			if (!is_change(&v[i]) || v[i].durable || rand_r(seed) % 2)
				continue;
			st->kept--;
			rc = undo(&v[i]);
		}
	} else {
		for (long i = n - 1; i >= 0 && rc == 0; i--)
			if (is_change(&v[i]) && !v[i].durable)
				rc = undo(&v[i]);
		for (long i = 0; i < n && rc == 0; i++)
			if (is_change(&v[i]) && !v[i].durable && rand_r(seed) % 2) {
				st->kept++;
				rc = redo(&v[i]);
			}
	}
	free_recs(v, (size_t)n);
	return rc;
}
