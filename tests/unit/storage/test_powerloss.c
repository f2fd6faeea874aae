/* test_powerloss.c — the chunk engine under simulated power loss.
 *
 * kill -9 keeps the page cache, so it cannot show a missing fsync.  As SQLite's crash VFS
 * does, this test interposes the calls the engine makes on chunk files and their
 * directories (open/openat with O_CREAT or O_TRUNC, pwrite, ftruncate, copy_file_range,
 * fdatasync, fsync) in a writer child and journals, before each change, the bytes it
 * replaces.  At a random interposed call the child stops dead (_exit), before or after
 * the call.  The parent then plays the power loss: every change not yet made durable —
 * data not followed by fdatasync/fsync of that file, a file creation not followed by an
 * fsync of its directory — is undone or kept at random (newest first), as a disk that
 * reorders and drops unsynced writes would leave it.  LMDB is trusted for its own
 * durability (its commit returns after its syncs, and the crash never lands inside it).
 * Then the target is reopened and, as in test_crash, every chunk must read back with valid
 * checksums and equal the model after all acknowledged ops (or one more for the chunk the
 * op in flight touched).  Unlinks are treated as durable at once: an unlinked file that
 * came back would be named by no record and removed at open.  40 rounds, psync engine
 * (io_uring submissions are not libc calls).
 */
#undef _FILE_OFFSET_BITS /* define the plain and the 64 names ourselves */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errors.h"
#include "storage/chunk.h"
#include "tests/lib/tap.h"

#define NCH 3
#define CS (256u * 1024)
#define ROUNDS 40
#define MAXFD 4096

/* ------------------------------------------------------------------ journal (child) */

enum jtype { J_WRITE = 1, J_CREATE = 2, J_SYNC = 3, J_DIRSYNC = 4 };

/* Journal record: header, path, pre bytes.  presize/postsize: the file size before and
 * (as the call will leave it) after the change. */
struct jhdr {
	uint32_t type, pathlen;
	uint64_t off, len, presize, postsize, prelen;
};

static int j_fd = -1;              /* journal file (child), raw syscalls only */
static long j_crash_at = -1;       /* crash at this interposed call (child) */
static int j_crash_after;          /* crash after performing the call */
static long j_calls;
static char *fd_path[MAXFD];       /* chunk-file or bucket-dir fds we watch */

static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);
static int (*real_fdatasync)(int);
static int (*real_fsync)(int);
static int (*real_close)(int);
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
	*(void **)&real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
	*(void **)&real_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
	*(void **)&real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
	*(void **)&real_fsync = dlsym(RTLD_NEXT, "fsync");
	*(void **)&real_close = dlsym(RTLD_NEXT, "close");
	*(void **)&real_open = dlsym(RTLD_NEXT, "open");
	*(void **)&real_open64 = dlsym(RTLD_NEXT, "open64");
	*(void **)&real_openat = dlsym(RTLD_NEXT, "openat");
	*(void **)&real_openat64 = dlsym(RTLD_NEXT, "openat64");
	*(void **)&real_cfr = dlsym(RTLD_NEXT, "copy_file_range");
	*(void **)&real_pwrite = dlsym(RTLD_NEXT, "pwrite");
}

static bool watched(const char *path)
{
	return path && strstr(path, "/chunks/") != NULL;
}

static void jput(const struct jhdr *h, const char *path, const void *pre)
{
	if (j_fd < 0)
		return;
	if (syscall(SYS_write, j_fd, h, sizeof(*h)) < 0 ||
	    syscall(SYS_write, j_fd, path, h->pathlen) < 0 ||
	    (h->prelen && syscall(SYS_write, j_fd, pre, h->prelen) < 0))
		_exit(90);
}

/* Count an interposed call; maybe die before it. */
static void crash_point_before(void)
{
	if (j_fd < 0)
		return;
	j_calls++;
	if (j_calls == j_crash_at && !j_crash_after)
		_exit(0);
}

static void crash_point_after(void)
{
	if (j_fd >= 0 && j_calls == j_crash_at && j_crash_after)
		_exit(0);
}

/* Journal the bytes [off, off+len) of fd's file before they change. */
static void journal_range(int fd, uint64_t off, uint64_t len, int64_t newsize)
{
	struct stat st;
	struct jhdr h = { J_WRITE, 0, off, len, 0, 0, 0 };
	uint8_t *pre = NULL;

	if (fstat(fd, &st) != 0)
		_exit(91);
	h.presize = (uint64_t)st.st_size;
	h.postsize = newsize >= 0 ? (uint64_t)newsize
				  : (off + len > h.presize ? off + len : h.presize);
	if (off < h.presize) {
		h.prelen = (off + len < h.presize ? off + len : h.presize) - off;
		pre = malloc(h.prelen);
		if (!pre || pread(fd, pre, h.prelen, (off_t)off) != (ssize_t)h.prelen)
			_exit(92);
	}
	h.pathlen = (uint32_t)strlen(fd_path[fd]);
	jput(&h, fd_path[fd], pre);
	free(pre);
}

static void note_open(int fd, const char *path, int flags)
{
	if (fd < 0 || fd >= MAXFD)
		return;
	free(fd_path[fd]);
	fd_path[fd] = watched(path) ? strdup(path) : NULL;
	(void)flags;
}

/* An open that may create or truncate a chunk file. */
static int open_common(int dirfd, const char *path, int flags, mode_t mode, bool at)
{
	bool w = watched(path) && (flags & (O_CREAT | O_TRUNC)) && j_fd >= 0;
	bool existed = false;
	int fd;

	resolve();
	if (w) {
		struct stat st;

		crash_point_before();
		existed = stat(path, &st) == 0;
		if (!existed && (flags & O_CREAT)) {
			struct jhdr h = { J_CREATE, (uint32_t)strlen(path), 0, 0, 0, 0, 0 };

			jput(&h, path, NULL);
		} else if (existed && (flags & O_TRUNC)) {
			int tfd = (int)syscall(SYS_open, path, O_RDONLY);

			if (tfd >= 0) {
				char *save = fd_path[tfd];

				fd_path[tfd] = (char *)path;
				journal_range(tfd, 0, (uint64_t)st.st_size, 0);
				fd_path[tfd] = save;
				syscall(SYS_close, tfd);
			}
		}
	}
	fd = at ? real_openat(dirfd, path, flags, mode) : real_open(path, flags, mode);
	note_open(fd, path, flags);
	if (w)
		crash_point_after();
	return fd;
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return open_common(AT_FDCWD, path, flags, mode, false);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return open_common(AT_FDCWD, path, flags, mode, false);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	/* relative names under a bucket dir are only used by the open-time cleanup */
	return open_common(dirfd, path, flags, mode, true);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return open_common(dirfd, path, flags, mode, true);
}

int close(int fd)
{
	resolve();
	if (fd >= 0 && fd < MAXFD) {
		free(fd_path[fd]);
		fd_path[fd] = NULL;
	}
	return real_close(fd);
}

static ssize_t pwrite_common(int fd, const void *buf, size_t n, off_t off, bool is64)
{
	bool w = fd >= 0 && fd < MAXFD && fd_path[fd] && j_fd >= 0;
	ssize_t r;

	resolve();
	if (w) {
		crash_point_before();
		journal_range(fd, (uint64_t)off, n, -1);
	}
	r = is64 ? real_pwrite64(fd, buf, n, off) : real_pwrite(fd, buf, n, off);
	if (w)
		crash_point_after();
	return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite_common(fd, buf, n, off, false);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite_common(fd, buf, n, off, true);
}

static int ftruncate_common(int fd, off_t len, bool is64)
{
	bool w = fd >= 0 && fd < MAXFD && fd_path[fd] && j_fd >= 0;
	int r;

	resolve();
	if (w) {
		struct stat st;

		crash_point_before();
		if (fstat(fd, &st) == 0 && st.st_size != len)
			journal_range(fd, (uint64_t)(len < st.st_size ? len : st.st_size),
				      (uint64_t)(len < st.st_size ? st.st_size - len : len - st.st_size),
				      len);
	}
	r = is64 ? real_ftruncate64(fd, len) : real_ftruncate(fd, len);
	if (w)
		crash_point_after();
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

ssize_t copy_file_range(int in, loff_t *off_in, int out, loff_t *off_out, size_t n,
			unsigned flags)
{
	bool w = out >= 0 && out < MAXFD && fd_path[out] && j_fd >= 0;
	ssize_t r;

	resolve();
	if (w) {
		crash_point_before();
		journal_range(out, off_out ? (uint64_t)*off_out : 0, n, -1);
	}
	r = real_cfr(in, off_in, out, off_out, n, flags);
	if (w)
		crash_point_after();
	return r;
}

static int sync_common(int fd, int (*fn)(int))
{
	bool w = fd >= 0 && fd < MAXFD && fd_path[fd] && j_fd >= 0;
	int r;

	resolve();
	if (w)
		crash_point_before();
	r = fn(fd);
	if (w && r == 0) {
		struct stat st;
		struct jhdr h = { J_SYNC, (uint32_t)strlen(fd_path[fd]), 0, 0, 0, 0, 0 };

		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
			h.type = J_DIRSYNC;
		jput(&h, fd_path[fd], NULL);
		crash_point_after();
	}
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
		if (syscall(SYS_write, ackfd, &k, sizeof(k)) != sizeof(k))
			_exit(5);
	}
}

/* ------------------------------------------------------------------ the power loss */

struct jrec {
	struct jhdr h;
	char *path;
	uint8_t *pre;
	bool durable;
};

static int journal_load(const char *jpath, struct jrec **out)
{
	FILE *f = fopen(jpath, "rb");
	struct jrec *v = NULL;
	int n = 0, cap = 0;

	if (!f)
		return 0;
	for (;;) {
		struct jrec r;

		memset(&r, 0, sizeof(r));
		if (fread(&r.h, sizeof(r.h), 1, f) != 1 || r.h.pathlen > 4096 || r.h.prelen > CS * 2)
			break;
		r.path = calloc(1, r.h.pathlen + 1);
		r.pre = r.h.prelen ? malloc(r.h.prelen) : NULL;
		if (!r.path || fread(r.path, 1, r.h.pathlen, f) != r.h.pathlen ||
		    (r.h.prelen && (!r.pre || fread(r.pre, 1, r.h.prelen, f) != r.h.prelen))) {
			free(r.path);
			free(r.pre);
			break; /* a record cut by the crash: the change it announces did not happen */
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = realloc(v, sizeof(*v) * (size_t)cap);
		}
		v[n++] = r;
	}
	fclose(f);
	*out = v;
	return n;
}

static bool in_dir(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && path[n] == '/' && !strchr(path + n + 1, '/');
}

/* Undo a random subset of the changes that were not durable, newest first. */
static int power_loss(const char *jpath, unsigned *seed, int *undone)
{
	struct jrec *v = NULL;
	int n = journal_load(jpath, &v);

	*undone = 0;
	/* mark durable: changes to a file before its sync; creations before a dir sync */
	for (int i = 0; i < n; i++) {
		if (v[i].h.type == J_SYNC) {
			for (int k = 0; k < i; k++)
				if (v[k].h.type == J_WRITE && !strcmp(v[k].path, v[i].path))
					v[k].durable = true;
		} else if (v[i].h.type == J_DIRSYNC) {
			for (int k = 0; k < i; k++)
				if (v[k].h.type == J_CREATE && in_dir(v[k].path, v[i].path))
					v[k].durable = true;
		}
	}
	for (int i = n - 1; i >= 0; i--) {
		struct jrec *r = &v[i];

		if (r->durable || (r->h.type != J_WRITE && r->h.type != J_CREATE) || rand_r(seed) % 2)
			continue;
		(*undone)++;
		if (r->h.type == J_CREATE) {
			unlink(r->path); /* the name never reached the disk */
		} else {
			int fd = (int)syscall(SYS_open, r->path, O_WRONLY);
			struct stat st;

			if (fd < 0)
				continue; /* file gone (unlinked or creation undone) */
			if (r->h.prelen &&
			    syscall(SYS_pwrite64, fd, r->pre, r->h.prelen, (off_t)r->h.off) < 0)
				return -1;
			/* the size goes back too, unless a newer change that was kept moved it */
			if (fstat(fd, &st) == 0 && (uint64_t)st.st_size == r->h.postsize &&
			    syscall(SYS_ftruncate, fd, (off_t)r->h.presize) < 0)
				return -1;
			syscall(SYS_close, fd);
		}
	}
	for (int i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].pre);
	}
	free(v);
	return 0;
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

	resolve();
	if (!mkdtemp(root))
		tap_skip_all("no temp dir");
	snprintf(dir, sizeof(dir), "%s/t", root);
	snprintf(jpath, sizeof(jpath), "%s/journal", root);
	for (int round = 0; round < ROUNDS; round++) {
		int p[2], st, fl, undone = 0, ok_round = 1, c_rc;
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
			real_close(p[0]);
			j_fd = (int)syscall(SYS_open, jpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
			j_crash_at = 1 + rand_r(&seed) % 400;
			j_crash_after = rand_r(&seed) % 2;
			child(dir, &m, done, p[1]);
		}
		(void)rand_r(&seed);
		(void)rand_r(&seed);
		real_close(p[1]);
		waitpid(pid, &st, 0);
		fl = fcntl(p[0], F_GETFL);
		fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
		while (read(p[0], &k, sizeof(k)) == sizeof(k))
			last = k;
		real_close(p[0]);
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
		if (power_loss(jpath, &seed, &undone) != 0) {
			ok(0, "undo journal applied");
			break;
		}
		undone_total += undone;
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
