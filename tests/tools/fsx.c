/* fsx.c — c3fs-fsx, a data-integrity exerciser for one file system (the c3fs mount).
 *
 * Purpose: run a seeded random sequence of file operations against real files and keep an
 * in-memory model of what each file must contain; after every read, compare the bytes the
 * file system returned with the model.  Operations: pwrite, lseek+write, O_APPEND write,
 * pread, ftruncate up and down, fallocate (plain, KEEP_SIZE, PUNCH_HOLE; skipped when the
 * file system answers EOPNOTSUPP), mmap read, mmap write (MAP_SHARED + msync), fsync and
 * fdatasync, close/reopen, size checks with fstat and full-file verification.  Offsets and
 * lengths favour chunk boundaries (-c) and mix tiny (1..16 byte) and very large writes.
 *
 * -Z opens the file with O_DIRECT and aligns every offset, length and size to 4 KiB.
 *
 * Modes:
 *   default          one file, PATH
 *   -P N             N processes, each on its own file PATH.0 .. PATH.N-1 (seed S+i)
 *   -s N             N processes share PATH through their own fds; the file is sized to -l
 *                    once, then process i writes only the regions r with r % N == i.
 *                    With more paths (PATH PATH2 ...: the same file seen through other
 *                    mounts, e.g. a second FUSE client), process i uses path i % npaths
 *                    (regions of -r bytes, deliberately not page aligned so neighbours
 *                    share pages); each verifies its own regions as it goes and the parent
 *                    verifies the whole file at the end through a fresh fd.
 *
 * Invariants:
 *   - model[0 .. size) is exactly what the file must hold; model[size .. maxlen) is zero, so
 *     a hole or a region beyond an earlier truncation reads as zero without special cases.
 *   - the operation sequence depends only on the seed and the options, never on timing, so
 *     "-S seed" with the same options reproduces a failure (in -s mode the interleaving of
 *     the processes is not reproducible, each process's own sequence is).
 *   - every byte written carries its operation number and offset in its value (never 0), so
 *     a hex dump of a mismatch shows which operation wrote the stale bytes.
 * On a mismatch the seed, the operation number, the offset, a hex dump of expected vs
 * actual and the last 20 operations are printed and the process exits 1; on an I/O error
 * (an errno the operation must not return) likewise with the errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FSX_LOG_LEN 20

/* Operation kinds; the order is the index into fsx_op_names and the weight table. */
enum fsx_op {
	FSX_OP_READ,
	FSX_OP_WRITE,
	FSX_OP_WRITE_SEQ,
	FSX_OP_APPEND,
	FSX_OP_TRUNCATE,
	FSX_OP_FALLOCATE,
	FSX_OP_PUNCH_HOLE,
	FSX_OP_MAPREAD,
	FSX_OP_MAPWRITE,
	FSX_OP_FSYNC,
	FSX_OP_CLOSEOPEN,
	FSX_OP_VERIFY,
	FSX_OP_COUNT
};

static const char *const fsx_op_names[FSX_OP_COUNT] = {
	"read", "pwrite", "write", "append", "truncate", "fallocate",
	"punch_hole", "mapread", "mapwrite", "fsync", "closeopen", "verify",
};

/* Relative weights of the operations (single-file mode). */
static const unsigned fsx_op_weight[FSX_OP_COUNT] = {
	20, 18, 6, 5, 6, 3, 3, 6, 6, 3, 3, 1,
};

/* One entry of the ring of recent operations printed on a failure. */
struct fsx_log_entry {
	uint64_t opnum;
	enum fsx_op op;
	uint64_t off;
	uint64_t len;
	uint64_t size_after; /* model size after the operation */
	int arg;             /* op-specific: fallocate mode, fdatasync flag */
};

/* Options shared by every process (set once in main, read-only afterwards). */
struct fsx_opts {
	uint64_t nops;       /* -N: operations per process */
	uint64_t seed;       /* -S */
	uint64_t maxlen;     /* -l: the file never grows beyond this */
	uint64_t chunk;      /* -c: chunk size whose boundaries offsets favour */
	uint64_t region;     /* -r: region size in shared mode */
	unsigned nprocs;     /* -P or -s */
	bool shared;         /* -s given */
	bool no_mmap;        /* -M */
	bool no_falloc;      /* -F */
	bool verbose;        /* -v */
	bool quiet;          /* -q */
	bool direct;         /* -Z: O_DIRECT, every offset/length/size a multiple of 4 KiB */
	uint64_t corrupt_at; /* -X: self-test, flip one file byte behind the model at this op */
};

/* State of one process exercising one file.  Owned by that process alone. */
struct fsx_state {
	const struct fsx_opts *o;
	char path[4096];
	int fd;          /* O_RDWR */
	int afd;         /* O_RDWR | O_APPEND, same file */
	uint8_t *model;  /* maxlen bytes; MAP_SHARED between processes in -s mode */
	uint8_t *buf;    /* scratch, maxlen bytes */
	uint64_t size;   /* model file size */
	uint64_t rng;
	uint64_t seed;
	uint64_t opnum;
	unsigned me;     /* process index in -P / -s mode */
	bool falloc_ok;  /* fallocate mode 0/KEEP_SIZE supported */
	bool punch_ok;   /* PUNCH_HOLE supported */
	struct fsx_log_entry log[FSX_LOG_LEN];
	uint64_t nlog;
	uint64_t counts[FSX_OP_COUNT];
};

static long fsx_page_size;

#define FSX_DIO_ALIGN 4096u

/* splitmix64: small, fast, good enough to choose operations; state in *s. */
static uint64_t fsx_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static uint64_t fsx_below(struct fsx_state *st, uint64_t n)
{
	return n ? fsx_rand(&st->rng) % n : 0;
}

/* The byte the operation opnum writes at file offset off (never 0). */
static uint8_t fsx_pattern(uint64_t opnum, uint64_t off)
{
	return (uint8_t)(1 + ((off % 251) + opnum * 37 + (off >> 12)) % 255);
}

static void fsx_log_add(struct fsx_state *st, enum fsx_op op, uint64_t off, uint64_t len, int arg)
{
	struct fsx_log_entry *e = &st->log[st->nlog % FSX_LOG_LEN];
	e->opnum = st->opnum;
	e->op = op;
	e->off = off;
	e->len = len;
	e->arg = arg;
	e->size_after = st->size;
	st->nlog++;
	st->counts[op]++;
	if (st->o->verbose)
		printf("[%u] %" PRIu64 " %-10s off=0x%" PRIx64 " len=0x%" PRIx64 " arg=%d size=0x%" PRIx64 "\n",
		       st->me, st->opnum, fsx_op_names[op], off, len, arg, st->size);
}

static void fsx_log_dump(const struct fsx_state *st)
{
	uint64_t first = st->nlog > FSX_LOG_LEN ? st->nlog - FSX_LOG_LEN : 0;
	fprintf(stderr, "last %" PRIu64 " operations (oldest first):\n", st->nlog - first);
	for (uint64_t i = first; i < st->nlog; i++) {
		const struct fsx_log_entry *e = &st->log[i % FSX_LOG_LEN];
		fprintf(stderr, "  op %-8" PRIu64 " %-10s off=0x%-9" PRIx64 " len=0x%-8" PRIx64
				" end=0x%-9" PRIx64 " arg=%d size_after=0x%" PRIx64 "\n",
			e->opnum, fsx_op_names[e->op], e->off, e->len, e->off + e->len, e->arg,
			e->size_after);
	}
}

/* Prints the failure context and ends the process with status 1. */
static void fsx_die(struct fsx_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fsx_die(struct fsx_state *st, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "c3fs-fsx[%u] FAILED: file %s seed %" PRIu64 " op %" PRIu64 ": ", st->me,
		st->path, st->seed, st->opnum);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fsx_log_dump(st);
	fprintf(stderr, "reproduce: c3fs-fsx -S %" PRIu64 " -N %" PRIu64 " -l %" PRIu64
			" -c %" PRIu64 "%s%s%s ... (same options)\n",
		st->seed, st->o->nops, st->o->maxlen, st->o->chunk, st->o->no_mmap ? " -M" : "",
		st->o->no_falloc ? " -F" : "", st->o->direct ? " -Z" : "");
	exit(1);
}

static void fsx_hexline(const char *tag, uint64_t at, const uint8_t *p, size_t n, const uint8_t *other)
{
	fprintf(stderr, "  %s 0x%09" PRIx64 ":", tag, at);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", (other && other[i] != p[i]) ? "*" : " ", p[i]);
	fprintf(stderr, "\n");
}

/* Compares got[0..len) (read from file offset off) with the model; dies on a mismatch. */
static void fsx_check(struct fsx_state *st, const char *what, uint64_t off, const uint8_t *got, uint64_t len)
{
	const uint8_t *want = st->model + off;
	uint64_t i, bad = 0, first;
	if (memcmp(got, want, len) == 0)
		return;
	for (i = 0; i < len && got[i] == want[i]; i++)
		;
	first = i;
	for (; i < len; i++)
		bad += got[i] != want[i];
	fflush(stdout);
	fprintf(stderr, "c3fs-fsx[%u]: %s mismatch in [0x%" PRIx64 ", 0x%" PRIx64 "): first bad byte at "
			"file offset 0x%" PRIx64 " (%" PRIu64 "), %" PRIu64 " bad bytes; model size 0x%" PRIx64 "\n",
		st->me, what, off, off + len, off + first, off + first, bad, st->size);
	uint64_t from = first >= 32 ? (first - 32) & ~(uint64_t)15 : 0;
	uint64_t to = from + 128 < len ? from + 128 : len;
	for (uint64_t p = from; p < to; p += 16) {
		size_t n = (size_t)(to - p < 16 ? to - p : 16);
		fsx_hexline("expected", off + p, want + p, n, NULL);
		fsx_hexline("actual  ", off + p, got + p, n, want + p);
	}
	fprintf(stderr, "  (byte v written by op n at offset o: v = 1 + ((o%%251) + n*37 + (o>>12)) %% 255;"
			" 00 = hole/zero)\n");
	fsx_die(st, "%s data mismatch at offset 0x%" PRIx64, what, off + first);
}

static void fsx_pwrite_all(struct fsx_state *st, int fd, const uint8_t *p, uint64_t len, uint64_t off,
			   const char *what)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fsx_die(st, "%s(off=0x%" PRIx64 ", len=0x%" PRIx64 "): %s", what, off, len,
				n < 0 ? strerror(errno) : "wrote 0 bytes");
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
}

static void fsx_write_all(struct fsx_state *st, int fd, const uint8_t *p, uint64_t len, const char *what)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fsx_die(st, "%s(len=0x%" PRIx64 "): %s", what, len, n < 0 ? strerror(errno) : "wrote 0 bytes");
		p += n;
		len -= (uint64_t)n;
	}
}

/* Reads up to len bytes at off; returns the count (short only at end of file). */
static uint64_t fsx_pread_all(struct fsx_state *st, int fd, uint8_t *p, uint64_t len, uint64_t off)
{
	uint64_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fsx_die(st, "pread(off=0x%" PRIx64 ", len=0x%" PRIx64 "): %s", off + got, len - got,
				strerror(errno));
		if (n == 0)
			break;
		got += (uint64_t)n;
	}
	return got;
}

static void fsx_check_size(struct fsx_state *st, const char *when)
{
	struct stat sb;
	if (fstat(st->fd, &sb) != 0)
		fsx_die(st, "fstat: %s", strerror(errno));
	if ((uint64_t)sb.st_size != st->size)
		fsx_die(st, "%s: file size 0x%" PRIx64 " (%" PRIu64 "), model size 0x%" PRIx64 " (%" PRIu64 ")",
			when, (uint64_t)sb.st_size, (uint64_t)sb.st_size, st->size, st->size);
}

static void fsx_open(struct fsx_state *st, int extra)
{
	if (st->o->direct)
		extra |= O_DIRECT;
	st->fd = open(st->path, O_RDWR | extra, 0644);
	if (st->fd < 0)
		fsx_die(st, "open(%s): %s", st->path, strerror(errno));
	st->afd = open(st->path, O_RDWR | O_APPEND | (st->o->direct ? O_DIRECT : 0));
	if (st->afd < 0)
		fsx_die(st, "open(%s, O_APPEND): %s", st->path, strerror(errno));
}

static void fsx_close(struct fsx_state *st)
{
	if (close(st->afd) != 0)
		fsx_die(st, "close(append fd): %s", strerror(errno));
	if (close(st->fd) != 0)
		fsx_die(st, "close: %s", strerror(errno));
	st->fd = st->afd = -1;
}

/* A length: tiny, medium, chunk-sized or large; at least 1, at most maxlen. */
static uint64_t fsx_pick_len(struct fsx_state *st)
{
	uint64_t r = fsx_below(st, 100), len, max = st->o->maxlen;
	if (r < 30)
		len = 1 + fsx_below(st, 16);
	else if (r < 70)
		len = 1 + fsx_below(st, 64 * 1024);
	else if (r < 94)
		len = 1 + fsx_below(st, st->o->chunk + st->o->chunk / 2);
	else
		len = 1 + fsx_below(st, max);
	return len > max ? max : len;
}

/* An offset in [0, limit): uniform, near a chunk boundary, near EOF, or page aligned. */
static uint64_t fsx_pick_off(struct fsx_state *st, uint64_t limit)
{
	uint64_t r = fsx_below(st, 100), off, c = st->o->chunk;
	if (limit == 0)
		return 0;
	if (r < 40) {
		off = fsx_below(st, limit);
	} else if (r < 70) {
		uint64_t k = fsx_below(st, limit / c + 1);
		uint64_t d = fsx_below(st, 64);
		off = k * c + d;
		off = off >= 32 ? off - 32 : 0; /* 32 bytes either side of the boundary */
	} else if (r < 85) {
		uint64_t d = fsx_below(st, 8192);
		off = st->size > d ? st->size - d : st->size + fsx_below(st, 4096);
	} else {
		off = fsx_below(st, limit) & ~(uint64_t)(fsx_page_size - 1);
	}
	return off % limit;
}

/* -Z: rounds *off down and *len (if given) up to FSX_DIO_ALIGN; a no-op otherwise. */
static void fsx_align(const struct fsx_state *st, uint64_t *off, uint64_t *len)
{
	if (!st->o->direct)
		return;
	*off &= ~(uint64_t)(FSX_DIO_ALIGN - 1);
	if (len) {
		*len = (*len + FSX_DIO_ALIGN - 1) & ~(uint64_t)(FSX_DIO_ALIGN - 1);
		if (*len == 0)
			*len = FSX_DIO_ALIGN;
	}
}

/* Fills buf[0..len) with the pattern of the current operation for file offset off. */
static void fsx_fill(struct fsx_state *st, uint8_t *p, uint64_t off, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		p[i] = fsx_pattern(st->opnum, off + i);
}

/* Applies a write of [off, off+len) to the model. */
static void fsx_model_write(struct fsx_state *st, const uint8_t *p, uint64_t off, uint64_t len)
{
	memcpy(st->model + off, p, len);
	if (off + len > st->size)
		st->size = off + len;
}

static void fsx_model_truncate(struct fsx_state *st, uint64_t newsize)
{
	if (newsize < st->size)
		memset(st->model + newsize, 0, st->size - newsize);
	st->size = newsize;
}

static void fsx_do_read(struct fsx_state *st)
{
	uint64_t off, len, got, want;
	if (st->size == 0) {
		off = fsx_below(st, 4096);
		len = 1 + fsx_below(st, 4096);
	} else {
		off = fsx_pick_off(st, st->size + (st->size >> 4) + 1);
		len = fsx_pick_len(st);
	}
	fsx_align(st, &off, &len);
	if (off >= st->o->maxlen)
		off = st->o->maxlen - (st->o->direct ? FSX_DIO_ALIGN : 1);
	if (off + len > st->o->maxlen)
		len = st->o->maxlen - off;
	fsx_log_add(st, FSX_OP_READ, off, len, 0);
	got = fsx_pread_all(st, st->fd, st->buf, len, off);
	want = off >= st->size ? 0 : (off + len > st->size ? st->size - off : len);
	if (got != want)
		fsx_die(st, "short read: pread(off=0x%" PRIx64 ", len=0x%" PRIx64 ") returned 0x%" PRIx64
			    ", expected 0x%" PRIx64 " (model size 0x%" PRIx64 ")",
			off, len, got, want, st->size);
	fsx_check(st, "read", off, st->buf, got);
	fsx_check_size(st, "after read");
}

static void fsx_do_write(struct fsx_state *st, enum fsx_op op)
{
	uint64_t off, len;
	if (op == FSX_OP_APPEND) {
		off = st->size;
		len = fsx_pick_len(st);
		if (off >= st->o->maxlen)
			return;
	} else {
		off = fsx_pick_off(st, st->o->maxlen);
		len = fsx_pick_len(st);
	}
	fsx_align(st, &off, &len);
	if (off + len > st->o->maxlen)
		len = st->o->maxlen - off;
	if (len == 0)
		return;
	fsx_fill(st, st->buf, off, len);
	fsx_model_write(st, st->buf, off, len);
	fsx_log_add(st, op, off, len, 0);
	if (op == FSX_OP_WRITE) {
		fsx_pwrite_all(st, st->fd, st->buf, len, off, "pwrite");
	} else if (op == FSX_OP_WRITE_SEQ) {
		if (lseek(st->fd, (off_t)off, SEEK_SET) != (off_t)off)
			fsx_die(st, "lseek(0x%" PRIx64 "): %s", off, strerror(errno));
		fsx_write_all(st, st->fd, st->buf, len, "write");
		off_t pos = lseek(st->fd, 0, SEEK_CUR);
		if (pos != (off_t)(off + len))
			fsx_die(st, "file position after write is 0x%jx, expected 0x%" PRIx64, (intmax_t)pos,
				off + len);
	} else {
		fsx_write_all(st, st->afd, st->buf, len, "write(O_APPEND)");
		off_t pos = lseek(st->afd, 0, SEEK_CUR);
		if (pos != (off_t)(off + len))
			fsx_die(st, "O_APPEND fd position after write is 0x%jx, expected 0x%" PRIx64
				    " (append did not land at the end of the file?)",
				(intmax_t)pos, off + len);
	}
	if (fsx_below(st, 4) == 0)
		fsx_check_size(st, "after write");
}

static void fsx_do_truncate(struct fsx_state *st)
{
	uint64_t newsize, r = fsx_below(st, 100);
	if (r < 30)
		newsize = st->size / (1 + fsx_below(st, 4));           /* down */
	else if (r < 55)
		newsize = fsx_below(st, st->o->maxlen + 1);             /* anywhere */
	else if (r < 80)
		newsize = fsx_pick_off(st, st->o->maxlen);              /* near chunk boundary/EOF */
	else
		newsize = st->size + fsx_below(st, st->o->chunk * 2);    /* up */
	if (newsize > st->o->maxlen)
		newsize = st->o->maxlen;
	fsx_align(st, &newsize, NULL);
	uint64_t old = st->size;
	fsx_model_truncate(st, newsize);
	fsx_log_add(st, FSX_OP_TRUNCATE, newsize, old, 0);
	if (ftruncate(st->fd, (off_t)newsize) != 0)
		fsx_die(st, "ftruncate(0x%" PRIx64 "): %s", newsize, strerror(errno));
	fsx_check_size(st, "after truncate");
}

static void fsx_do_fallocate(struct fsx_state *st, enum fsx_op op)
{
	uint64_t off = fsx_pick_off(st, st->o->maxlen), len = fsx_pick_len(st);
	int mode;
	if (off + len > st->o->maxlen)
		len = st->o->maxlen - off;
	if (len == 0)
		return;
	if (op == FSX_OP_PUNCH_HOLE) {
		if (!st->punch_ok || st->size == 0)
			return;
		off %= st->size;
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	} else {
		if (!st->falloc_ok)
			return;
		mode = fsx_below(st, 2) ? FALLOC_FL_KEEP_SIZE : 0;
	}
	fsx_align(st, &off, &len);
	if (off + len > st->o->maxlen)
		len = st->o->maxlen - off;
	int rc = fallocate(st->fd, mode, (off_t)off, (off_t)len);
	if (rc != 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
		if (!st->o->quiet)
			printf("[%u] fallocate mode 0x%x not supported (%s): those operations are skipped\n",
			       st->me, mode, strerror(errno));
		if (op == FSX_OP_PUNCH_HOLE)
			st->punch_ok = false;
		else
			st->falloc_ok = false;
		return;
	}
	if (op == FSX_OP_PUNCH_HOLE) {
		uint64_t end = off + len > st->size ? st->size : off + len;
		if (end > off)
			memset(st->model + off, 0, end - off);
	} else if (mode == 0 && off + len > st->size) {
		st->size = off + len; /* the model beyond size is already zero */
	}
	fsx_log_add(st, op, off, len, mode);
	if (rc != 0)
		fsx_die(st, "fallocate(mode=0x%x, off=0x%" PRIx64 ", len=0x%" PRIx64 "): %s", mode, off, len,
			strerror(errno));
	fsx_check_size(st, "after fallocate");
}

static void fsx_do_mapread(struct fsx_state *st)
{
	if (st->o->no_mmap || st->size == 0)
		return;
	uint64_t off = fsx_pick_off(st, st->size), len = fsx_pick_len(st);
	fsx_align(st, &off, &len);
	if (off + len > st->size)
		len = st->size - off;
	if (len == 0)
		return;
	uint64_t pg = off & ~(uint64_t)(fsx_page_size - 1), delta = off - pg;
	fsx_log_add(st, FSX_OP_MAPREAD, off, len, 0);
	void *p = mmap(NULL, len + delta, PROT_READ, MAP_SHARED, st->fd, (off_t)pg);
	if (p == MAP_FAILED)
		fsx_die(st, "mmap(PROT_READ, off=0x%" PRIx64 ", len=0x%" PRIx64 "): %s", pg, len + delta,
			strerror(errno));
	memcpy(st->buf, (uint8_t *)p + delta, len);
	if (munmap(p, len + delta) != 0)
		fsx_die(st, "munmap: %s", strerror(errno));
	fsx_check(st, "mapread", off, st->buf, len);
}

static void fsx_do_mapwrite(struct fsx_state *st)
{
	if (st->o->no_mmap)
		return;
	uint64_t off = fsx_pick_off(st, st->o->maxlen), len = fsx_pick_len(st);
	fsx_align(st, &off, &len);
	if (off + len > st->o->maxlen)
		len = st->o->maxlen - off;
	if (len == 0)
		return;
	uint64_t pg = off & ~(uint64_t)(fsx_page_size - 1), delta = off - pg;
	fsx_fill(st, st->buf, off, len);
	int extended = 0;
	if (off + len > st->size) {
		/* a mapping cannot grow a file: extend it first, as an application would */
		extended = 1;
		st->size = off + len;
		if (ftruncate(st->fd, (off_t)st->size) != 0)
			fsx_die(st, "ftruncate(0x%" PRIx64 ") before mapwrite: %s", st->size, strerror(errno));
	}
	memcpy(st->model + off, st->buf, len);
	fsx_log_add(st, FSX_OP_MAPWRITE, off, len, extended);
	void *p = mmap(NULL, len + delta, PROT_READ | PROT_WRITE, MAP_SHARED, st->fd, (off_t)pg);
	if (p == MAP_FAILED)
		fsx_die(st, "mmap(PROT_WRITE, MAP_SHARED, off=0x%" PRIx64 ", len=0x%" PRIx64 "): %s", pg,
			len + delta, strerror(errno));
	memcpy((uint8_t *)p + delta, st->buf, len);
	if (msync(p, len + delta, MS_SYNC) != 0)
		fsx_die(st, "msync: %s", strerror(errno));
	if (munmap(p, len + delta) != 0)
		fsx_die(st, "munmap: %s", strerror(errno));
	fsx_check_size(st, "after mapwrite");
}

static void fsx_do_fsync(struct fsx_state *st)
{
	int data = (int)fsx_below(st, 2);
	fsx_log_add(st, FSX_OP_FSYNC, 0, 0, data);
	if ((data ? fdatasync(st->fd) : fsync(st->fd)) != 0)
		fsx_die(st, "%s: %s", data ? "fdatasync" : "fsync", strerror(errno));
}

static void fsx_verify_all(struct fsx_state *st, const char *what)
{
	uint64_t got = fsx_pread_all(st, st->fd, st->buf, st->o->maxlen, 0);
	if (got != st->size)
		fsx_die(st, "%s: reading the whole file gave 0x%" PRIx64 " bytes, model size 0x%" PRIx64, what,
			got, st->size);
	fsx_check(st, what, 0, st->buf, got);
	fsx_check_size(st, what);
}

static void fsx_do_closeopen(struct fsx_state *st)
{
	fsx_log_add(st, FSX_OP_CLOSEOPEN, 0, 0, 0);
	fsx_close(st);
	fsx_open(st, 0);
	fsx_check_size(st, "after close/reopen");
}

static enum fsx_op fsx_pick_op(struct fsx_state *st)
{
	unsigned total = 0, r;
	for (int i = 0; i < FSX_OP_COUNT; i++)
		total += fsx_op_weight[i];
	r = (unsigned)fsx_below(st, total);
	for (int i = 0; i < FSX_OP_COUNT; i++) {
		if (r < fsx_op_weight[i])
			return (enum fsx_op)i;
		r -= fsx_op_weight[i];
	}
	return FSX_OP_READ;
}

static void fsx_state_init(struct fsx_state *st, const struct fsx_opts *o, unsigned me, uint64_t seed,
			   uint8_t *model)
{
	memset(st, 0, sizeof(*st));
	st->o = o;
	st->me = me;
	st->seed = seed;
	st->rng = seed;
	st->model = model;
	st->falloc_ok = !o->no_falloc;
	st->punch_ok = !o->no_falloc;
	st->fd = st->afd = -1;
	if (posix_memalign((void **)&st->buf, FSX_DIO_ALIGN, o->maxlen ? o->maxlen : 1) != 0)
		st->buf = NULL;
	if (!st->buf) {
		fprintf(stderr, "c3fs-fsx: out of memory for a %" PRIu64 "-byte buffer\n", o->maxlen);
		exit(2);
	}
}

static void fsx_summary(const struct fsx_state *st)
{
	if (st->o->quiet)
		return;
	printf("[%u] %s: %" PRIu64 " operations passed (seed %" PRIu64 ", final size %" PRIu64 "):", st->me,
	       st->path, st->opnum, st->seed, st->size);
	for (int i = 0; i < FSX_OP_COUNT; i++)
		if (st->counts[i])
			printf(" %s=%" PRIu64, fsx_op_names[i], st->counts[i]);
	printf("\n");
	fflush(stdout);
}

/* Self-test of the checker (-X): changes one byte of the file through a separate fd
 * without telling the model; a later read or the final verification must report it. */
static void fsx_self_corrupt(struct fsx_state *st)
{
	static struct fsx_opts copy;
	uint64_t off = fsx_below(st, st->size);
	uint8_t b = (uint8_t)(st->model[off] ^ 0x5a);
	int fd = open(st->path, O_WRONLY);
	if (fd < 0 || pwrite(fd, &b, 1, (off_t)off) != 1)
		fsx_die(st, "self-test corruption write: %s", strerror(errno));
	close(fd);
	if (!st->o->quiet)
		printf("[%u] self-test: flipped the byte at 0x%" PRIx64 " behind the model at op %" PRIu64 "\n",
		       st->me, off, st->opnum);
	copy = *st->o;
	copy.corrupt_at = 0;
	st->o = &copy;
}

/* Single-file run of one process: creates (truncates) the file, runs nops operations. */
static int fsx_run_file(const struct fsx_opts *o, const char *path, unsigned me, uint64_t seed)
{
	struct fsx_state st;
	uint8_t *model = calloc(1, o->maxlen ? o->maxlen : 1);
	if (!model) {
		fprintf(stderr, "c3fs-fsx: out of memory\n");
		return 2;
	}
	fsx_state_init(&st, o, me, seed, model);
	snprintf(st.path, sizeof(st.path), "%s", path);
	fsx_open(&st, O_CREAT | O_TRUNC);
	fsx_check_size(&st, "after O_TRUNC");
	for (st.opnum = 1; st.opnum <= o->nops; st.opnum++) {
		enum fsx_op op = fsx_pick_op(&st);
		if (o->corrupt_at && st.opnum >= o->corrupt_at && st.size > 0) {
			fsx_self_corrupt(&st);
			o = st.o; /* corrupt only once: fsx_self_corrupt cleared the option copy */
			continue;
		}
		switch (op) {
		case FSX_OP_READ: fsx_do_read(&st); break;
		case FSX_OP_WRITE:
		case FSX_OP_WRITE_SEQ:
		case FSX_OP_APPEND: fsx_do_write(&st, op); break;
		case FSX_OP_TRUNCATE: fsx_do_truncate(&st); break;
		case FSX_OP_FALLOCATE:
		case FSX_OP_PUNCH_HOLE: fsx_do_fallocate(&st, op); break;
		case FSX_OP_MAPREAD: fsx_do_mapread(&st); break;
		case FSX_OP_MAPWRITE: fsx_do_mapwrite(&st); break;
		case FSX_OP_FSYNC: fsx_do_fsync(&st); break;
		case FSX_OP_CLOSEOPEN: fsx_do_closeopen(&st); break;
		case FSX_OP_VERIFY:
			fsx_log_add(&st, FSX_OP_VERIFY, 0, st.size, 0);
			fsx_verify_all(&st, "full verify");
			break;
		default: break;
		}
	}
	st.opnum = o->nops;
	fsx_do_closeopen(&st);
	fsx_verify_all(&st, "final verify after reopen");
	fsx_summary(&st);
	fsx_close(&st);
	free(st.buf);
	free(model);
	return 0;
}

/* Shared mode: the regions this process owns are r = me, me + n, me + 2n, ... */
static void fsx_shared_pick(struct fsx_state *st, uint64_t *off, uint64_t *len)
{
	const struct fsx_opts *o = st->o;
	uint64_t nreg = (o->maxlen + o->region - 1) / o->region;
	uint64_t mine = nreg > st->me ? (nreg - st->me + o->nprocs - 1) / o->nprocs : 0;
	uint64_t r = st->me + o->nprocs * fsx_below(st, mine);
	uint64_t start = r * o->region, end = start + o->region;
	if (end > o->maxlen)
		end = o->maxlen;
	uint64_t a = start + fsx_below(st, end - start);
	uint64_t l = fsx_below(st, 3) == 0 ? end - a : 1 + fsx_below(st, end - a);
	if (fsx_below(st, 4) == 0) { /* the whole region: neighbours' bytes share its pages */
		a = start;
		l = end - start;
	}
	*off = a;
	*len = l;
}

static int fsx_run_shared_child(const struct fsx_opts *o, const char *path, unsigned me, uint64_t seed,
				uint8_t *model)
{
	struct fsx_state st;
	fsx_state_init(&st, o, me, seed, model);
	snprintf(st.path, sizeof(st.path), "%s", path);
	st.size = o->maxlen;
	fsx_open(&st, 0);
	for (st.opnum = 1; st.opnum <= o->nops; st.opnum++) {
		uint64_t off, len, r = fsx_below(&st, 100);
		fsx_shared_pick(&st, &off, &len);
		if (len == 0)
			continue;
		if (r < 35) {
			fsx_log_add(&st, FSX_OP_READ, off, len, 0);
			uint64_t got = fsx_pread_all(&st, st.fd, st.buf, len, off);
			if (got != len)
				fsx_die(&st, "short read 0x%" PRIx64 " of 0x%" PRIx64, got, len);
			fsx_check(&st, "read (own region)", off, st.buf, len);
		} else if (r < 70) {
			fsx_fill(&st, st.buf, off, len);
			memcpy(st.model + off, st.buf, len);
			fsx_log_add(&st, FSX_OP_WRITE, off, len, 0);
			fsx_pwrite_all(&st, st.fd, st.buf, len, off, "pwrite");
		} else if (r < 80 && !o->no_mmap) {
			uint64_t pg = off & ~(uint64_t)(fsx_page_size - 1), delta = off - pg;
			int wr = (int)fsx_below(&st, 2);
			fsx_log_add(&st, wr ? FSX_OP_MAPWRITE : FSX_OP_MAPREAD, off, len, 0);
			void *p = mmap(NULL, len + delta, PROT_READ | (wr ? PROT_WRITE : 0), MAP_SHARED, st.fd,
				       (off_t)pg);
			if (p == MAP_FAILED)
				fsx_die(&st, "mmap: %s", strerror(errno));
			if (wr) {
				fsx_fill(&st, st.buf, off, len);
				memcpy(st.model + off, st.buf, len);
				memcpy((uint8_t *)p + delta, st.buf, len);
				if (msync(p, len + delta, MS_SYNC) != 0)
					fsx_die(&st, "msync: %s", strerror(errno));
			} else {
				memcpy(st.buf, (uint8_t *)p + delta, len);
			}
			munmap(p, len + delta);
			if (!wr)
				fsx_check(&st, "mapread (own region)", off, st.buf, len);
		} else if (r < 85 && st.punch_ok) {
			int rc = fallocate(st.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
			if (rc != 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
				st.punch_ok = false;
				continue;
			}
			memset(st.model + off, 0, len);
			fsx_log_add(&st, FSX_OP_PUNCH_HOLE, off, len, 0);
			if (rc != 0)
				fsx_die(&st, "fallocate(PUNCH_HOLE): %s", strerror(errno));
		} else if (r < 90) {
			fsx_do_fsync(&st);
		} else if (r < 95) {
			fsx_do_closeopen(&st);
		} else {
			fsx_log_add(&st, FSX_OP_WRITE_SEQ, off, len, 0);
			fsx_fill(&st, st.buf, off, len);
			memcpy(st.model + off, st.buf, len);
			if (lseek(st.fd, (off_t)off, SEEK_SET) != (off_t)off)
				fsx_die(&st, "lseek: %s", strerror(errno));
			fsx_write_all(&st, st.fd, st.buf, len, "write");
		}
	}
	st.opnum = o->nops;
	/* every own region, once more, through a fresh fd */
	fsx_do_closeopen(&st);
	uint64_t nreg = (o->maxlen + o->region - 1) / o->region;
	for (uint64_t r = me; r < nreg; r += o->nprocs) {
		uint64_t start = r * o->region, len = o->region;
		if (start + len > o->maxlen)
			len = o->maxlen - start;
		if (fsx_pread_all(&st, st.fd, st.buf, len, start) != len)
			fsx_die(&st, "short read of own region %" PRIu64, r);
		fsx_check(&st, "final read (own region)", start, st.buf, len);
	}
	st.size = o->maxlen;
	fsx_summary(&st);
	fsx_close(&st);
	free(st.buf);
	return 0;
}

static int fsx_run_shared(const struct fsx_opts *o, char *const *paths, int npaths)
{
	const char *path = paths[0];
	uint8_t *model = mmap(NULL, o->maxlen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int fd, failed = 0;
	if (model == MAP_FAILED) {
		perror("c3fs-fsx: mmap of the shared model");
		return 2;
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)o->maxlen) != 0) {
		fprintf(stderr, "c3fs-fsx: create %s with size %" PRIu64 ": %s\n", path, o->maxlen, strerror(errno));
		return 1;
	}
	close(fd);
	pid_t pids[64];
	for (unsigned i = 0; i < o->nprocs; i++) {
		fflush(stdout);
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			return 2;
		}
		if (pids[i] == 0)
			_exit(fsx_run_shared_child(o, paths[i % (unsigned)npaths], i, o->seed + i, model));
	}
	for (unsigned i = 0; i < o->nprocs; i++) {
		int status;
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "c3fs-fsx: shared-mode process %u failed (status 0x%x)\n", i, status);
			failed = 1;
		}
	}
	if (failed)
		return 1;
	/* the whole file, as all the processes left it, through a fresh fd */
	struct fsx_state st;
	fsx_state_init(&st, o, o->nprocs, o->seed, model);
	snprintf(st.path, sizeof(st.path), "%s", path);
	st.size = o->maxlen;
	st.opnum = o->nops;
	fsx_open(&st, 0);
	fsx_verify_all(&st, "shared final verify");
	fsx_close(&st);
	free(st.buf);
	if (!o->quiet)
		printf("shared file %s: %u processes x %" PRIu64 " operations, whole file verified\n", path,
		       o->nprocs, o->nops);
	munmap(model, o->maxlen);
	return 0;
}

/* Parses a size with an optional k/m/g suffix (powers of 1024); 0 on success. */
static int fsx_parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static void fsx_usage(FILE *f)
{
	fprintf(f,
		"usage: c3fs-fsx [options] PATH       (-s mode: PATH [PATH2 ...], one file via several mounts)\n"
		"  -N ops      operations per process (default 10000)\n"
		"  -S seed     random seed (default: from the clock, printed)\n"
		"  -l bytes    maximum file length (default 4M; k/m/g suffixes)\n"
		"  -c bytes    chunk size whose boundaries are favoured (default 1M)\n"
		"  -P n        n processes on distinct files PATH.0 .. PATH.n-1\n"
		"  -s n        n processes share PATH through separate fds, disjoint regions\n"
		"  -r bytes    region size in -s mode (default 10000: not page aligned)\n"
		"  -M          no mmap operations    -F  no fallocate operations\n"
		"  -Z          O_DIRECT; offsets, lengths and sizes multiples of 4 KiB (-l too)\n"
		"  -v          log every operation   -q  quiet\n"
		"  -X op       self-test: corrupt one byte behind the model at that op (must fail)\n"
		"exit: 0 all verified, 1 data mismatch or unexpected error, 2 usage\n");
}

int main(int argc, char **argv)
{
	struct fsx_opts o = {
		.nops = 10000, .maxlen = 4u << 20, .chunk = 1u << 20, .region = 10000, .nprocs = 1,
	};
	bool have_seed = false;
	int c;
	uint64_t v;
	fsx_page_size = sysconf(_SC_PAGESIZE);
	while ((c = getopt(argc, argv, "N:S:l:c:P:s:r:X:ZMFvqh")) != -1) {
		switch (c) {
		case 'N': if (fsx_parse_size(optarg, &o.nops)) goto usage; break;
		case 'S': if (fsx_parse_size(optarg, &o.seed)) goto usage; have_seed = true; break;
		case 'l': if (fsx_parse_size(optarg, &o.maxlen) || o.maxlen == 0) goto usage; break;
		case 'c': if (fsx_parse_size(optarg, &o.chunk) || o.chunk == 0) goto usage; break;
		case 'r': if (fsx_parse_size(optarg, &o.region) || o.region == 0) goto usage; break;
		case 'P':
		case 's':
			if (fsx_parse_size(optarg, &v) || v == 0 || v > 64)
				goto usage;
			o.nprocs = (unsigned)v;
			o.shared = c == 's';
			break;
		case 'X': if (fsx_parse_size(optarg, &o.corrupt_at)) goto usage; break;
		case 'Z': o.direct = true; break;
		case 'M': o.no_mmap = true; break;
		case 'F': o.no_falloc = true; break;
		case 'v': o.verbose = true; break;
		case 'q': o.quiet = true; break;
		case 'h': fsx_usage(stdout); return 0;
		default: goto usage;
		}
	}
	if (optind >= argc || (!o.shared && optind != argc - 1))
		goto usage;
	if (o.direct && (o.shared || o.maxlen % FSX_DIO_ALIGN)) {
		fprintf(stderr, "c3fs-fsx: -Z needs -l a multiple of %u and no -s\n", FSX_DIO_ALIGN);
		return 2;
	}
	if (o.maxlen > (1ull << 34)) {
		fprintf(stderr, "c3fs-fsx: -l above 16G is not supported (the model lives in memory)\n");
		return 2;
	}
	if (!have_seed) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		o.seed = (uint64_t)ts.tv_sec * 1000003u + (uint64_t)ts.tv_nsec + (uint64_t)getpid();
		o.seed %= 1000000007u;
	}
	const char *path = argv[optind];
	if (!o.quiet)
		printf("c3fs-fsx: seed %" PRIu64 ", %" PRIu64 " ops, maxlen %" PRIu64 ", chunk %" PRIu64
		       ", %u process(es)%s on %s\n",
		       o.seed, o.nops, o.maxlen, o.chunk, o.nprocs, o.shared ? " sharing one file" : "", path);
	fflush(stdout);
	if (o.shared)
		return fsx_run_shared(&o, argv + optind, argc - optind);
	if (o.nprocs == 1)
		return fsx_run_file(&o, path, 0, o.seed);

	pid_t pids[64];
	int failed = 0;
	for (unsigned i = 0; i < o.nprocs; i++) {
		char name[4096];
		snprintf(name, sizeof(name), "%s.%u", path, i);
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			return 2;
		}
		if (pids[i] == 0)
			_exit(fsx_run_file(&o, name, i, o.seed + i));
	}
	for (unsigned i = 0; i < o.nprocs; i++) {
		int status;
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "c3fs-fsx: process %u (file %s.%u, seed %" PRIu64 ") failed (status 0x%x)\n",
				i, path, i, o.seed + i, status);
			failed = 1;
		}
	}
	return failed;
usage:
	fsx_usage(stderr);
	return 2;
}
