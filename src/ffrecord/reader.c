/* reader.c — c3fs_ffr_reader: the files of a dataset, the global index, read_one and
 * read_batch over a pool of I/O contexts.
 *
 * Per file: path, fd (O_RDONLY, kept open), N, size at open, and the index as read from
 * the file (N CRCs then N offsets, little-endian = host).  Global sample g lives in file
 * k where first[k] <= g < first[k+1] (binary search).  Everything but the I/O pool is
 * immutable after open, so threads share it without locks.
 *
 * I/O pool: batches take an idle struct ffr__io (or open a new one) under pool_lock and
 * give it back after; at most POOL_KEEP stay idle, a broken one (a USRBIO ring whose
 * daemon did not answer) is closed at once.  A context opened by another process (the
 * reader was inherited through fork) is dropped, not reused: an io_uring or USRBIO ring's
 * memory is shared with the parent.
 *
 * Backend choice (once, at open): the requested io, or for AUTO the environment's
 * C3FS_FFR_IO, then ffr__io_order: AUTO tries usrbio (every file on one c3fs mount with
 * 3fs-virt/iovs/, its fds registered for USRBIO), io_uring, pread, keeping the first whose
 * context opens; an explicit choice that cannot be had is -EINVAL.  A context that cannot
 * be opened later (memlock, fork) degrades to pread, except for an explicit usrbio.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vec.h"
#include "ffrecord/ffr_int.h"

#define POOL_KEEP 4
#define DEFAULT_DEPTH 256

struct ffr_file {
	char *path;
	int fd;
	int64_t n;
	uint64_t size;
	uint8_t *idx;    /* 12n bytes: crcs then offsets */
	bool usrbio_reg; /* fd registered for USRBIO (c3fs_reg_fd) */
};

struct c3fs_ffr_reader {
	struct ffr_file *files;
	size_t nfiles;
	int64_t *first;  /* nfiles + 1 entries; first[nfiles] = count */
	bool check_data;
	unsigned depth;
	const struct ffr__io_ops *ops;  /* batch backend, chosen at open */
	bool ops_strict;                /* explicit usrbio: never degrade to pread */
	char mount[256];                /* usrbio: the dataset's c3fs mount point */
	pthread_mutex_t pool_lock;      /* guards idle, n_idle */
	struct ffr__io *idle;
	int n_idle;
};

static void file_release(struct ffr_file *f)
{
	if (f->usrbio_reg)
		ffr__usrbio_dereg(f->fd);
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f->idx);
}

static int pread_exact(int fd, void *buf, size_t len, uint64_t off)
{
	struct ffr__req q = { .fd = fd, .off = off, .len = len, .buf = buf };

	return ffr__pread_full(&q);
}

static int file_open(struct ffr_file *f, const char *path, bool check_data)
{
	uint8_t hdr[C3FS_FFR_HEADER_BYTES];
	struct stat st;
	uint32_t meta_crc;
	int rc;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->path = strdup(path);
	if (!f->path)
		return ffr__err(-ENOMEM, "%s: out of memory", path);
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		rc = -errno;
		return ffr__err(rc, "%s: cannot open: %s", path, strerror(-rc));
	}
	if (fstat(f->fd, &st) != 0) {
		rc = -errno;
		return ffr__err(rc, "%s: cannot stat: %s", path, strerror(-rc));
	}
	if (!S_ISREG(st.st_mode))
		return ffr__err(-EINVAL, "%s: not a regular file", path);
	f->size = (uint64_t)st.st_size;
	memset(hdr, 0, sizeof(hdr));
	if (f->size >= sizeof(hdr)) {
		rc = pread_exact(f->fd, hdr, sizeof(hdr), 0);
		if (rc < 0)
			return ffr__err(rc, "%s: cannot read the header: %s", path, strerror(-rc));
	}
	rc = ffr__header_parse(path, hdr, f->size, &f->n, &meta_crc);
	if (rc < 0)
		return rc;
	/* bounded: 12n <= size - 12 */
	f->idx = malloc(f->n ? 12 * (size_t)f->n : 1);
	if (!f->idx)
		return ffr__err(-ENOMEM, "%s: out of memory for the index of %lld samples", path,
				(long long)f->n);
	rc = pread_exact(f->fd, f->idx, 12 * (size_t)f->n, C3FS_FFR_HEADER_BYTES);
	if (rc < 0)
		return ffr__err(rc, "%s: cannot read the index: %s", path, strerror(-rc));
	return ffr__index_check(path, f->n, meta_crc, f->idx, f->size, check_data);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_ffr_suffix(const char *name)
{
	size_t l = strlen(name);

	return l > 4 && strcmp(name + l - 4, ".ffr") == 0;
}

/* The sorted "*.ffr" regular files of dir. */
static int list_dir(const char *dir, char ***out, size_t *n_out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	*out = NULL;
	*n_out = 0;
	if (!d) {
		rc = -errno;
		return ffr__err(rc, "%s: cannot open directory: %s", dir, strerror(-rc));
	}
	while ((e = readdir(d))) {
		struct stat st;
		char *p;

		if (e->d_name[0] == '.' || !has_ffr_suffix(e->d_name))
			continue;
		if (asprintf(&p, "%s/%s", dir, e->d_name) < 0) {
			rc = ffr__err(-ENOMEM, "%s: out of memory", dir);
			break;
		}
		if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(p);
			continue;
		}
		if (C3_ARRAY_RESERVE(v, cap, n + 1) < 0) {
			free(p);
			rc = ffr__err(-ENOMEM, "%s: out of memory", dir);
			break;
		}
		v[n++] = p;
	}
	closedir(d);
	if (rc == 0 && n == 0)
		rc = ffr__err(-ENOENT, "%s: no .ffr files in this directory", dir);
	if (rc < 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return rc;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	*out = v;
	*n_out = n;
	return 0;
}

static void io_destroy(struct ffr__io *io)
{
	if (io->pid == getpid())
		io->ops->close(io);
	free(io);
}

/* A ready I/O context of r's backend, or NULL with the error in *rc. */
static struct ffr__io *io_get(struct c3fs_ffr_reader *r, int *rc)
{
	struct ffr__io *io;
	pid_t me = getpid();

	pthread_mutex_lock(&r->pool_lock);
	while ((io = r->idle) != NULL) {
		r->idle = io->next;
		r->n_idle--;
		if (io->pid == me)
			break;
		io_destroy(io);   /* inherited from the parent: leave its ring alone */
	}
	pthread_mutex_unlock(&r->pool_lock);
	if (io)
		return io;
	io = calloc(1, sizeof(*io));
	if (!io) {
		*rc = ffr__err(-ENOMEM, "out of memory");
		return NULL;
	}
	io->ops = r->ops;
	io->pid = me;
	io->mount_point = r->mount;
	*rc = io->ops->open(io, r->depth);
	if (*rc < 0 && io->ops != &ffr__io_pread && !r->ops_strict) {
		/* a ring that worked at open cannot be had now (memlock, fork): degrade */
		io->ops = &ffr__io_pread;
		*rc = io->ops->open(io, r->depth);
	}
	if (*rc < 0) {
		free(io);
		ffr__err(*rc, "cannot set up batch I/O (%s): %s", r->ops->name, strerror(-*rc));
		return NULL;
	}
	return io;
}

static void io_put(struct c3fs_ffr_reader *r, struct ffr__io *io)
{
	pthread_mutex_lock(&r->pool_lock);
	if (r->n_idle < POOL_KEEP && !io->broken) {
		io->next = r->idle;
		r->idle = io;
		r->n_idle++;
		io = NULL;
	}
	pthread_mutex_unlock(&r->pool_lock);
	if (io)
		io_destroy(io);
}

void c3fs_ffr_reader_free(struct c3fs_ffr_reader *r)
{
	if (!r)
		return;
	while (r->idle) {
		struct ffr__io *io = r->idle;

		r->idle = io->next;
		io_destroy(io);
	}
	pthread_mutex_destroy(&r->pool_lock);
	for (size_t i = 0; i < r->nfiles; i++)
		file_release(&r->files[i]);
	free(r->files);
	free(r->first);
	free(r);
}

int ffr__io_parse(const char *name)
{
	static const struct {
		const char *name;
		int io;
	} names[] = {
		{ "auto", C3FS_FFR_IO_AUTO },   { "pread", C3FS_FFR_IO_PREAD },
		{ "uring", C3FS_FFR_IO_URING }, { "io_uring", C3FS_FFR_IO_URING },
		{ "usrbio", C3FS_FFR_IO_USRBIO },
	};

	for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i].name) == 0)
			return names[i].io;
	return -1;
}

size_t ffr__io_order(int io, bool usrbio_ok, const struct ffr__io_ops *out[3])
{
	size_t n = 0;

	switch (io) {
	case C3FS_FFR_IO_PREAD:
		out[n++] = &ffr__io_pread;
		break;
	case C3FS_FFR_IO_URING:
		out[n++] = &ffr__io_uring;
		break;
	case C3FS_FFR_IO_USRBIO:
		out[n++] = &ffr__io_usrbio;
		break;
	default:
		if (usrbio_ok)
			out[n++] = &ffr__io_usrbio;
		out[n++] = &ffr__io_uring;
		out[n++] = &ffr__io_pread;
		break;
	}
	return n;
}

static void usrbio_release(struct c3fs_ffr_reader *r)
{
	for (size_t i = 0; i < r->nfiles; i++) {
		if (r->files[i].usrbio_reg)
			ffr__usrbio_dereg(r->files[i].fd);
		r->files[i].usrbio_reg = false;
	}
	r->mount[0] = '\0';
}

/* Whether USRBIO can serve every file (one c3fs mount): find it, register the fds. */
static int usrbio_setup(struct c3fs_ffr_reader *r)
{
	const char **paths = malloc(r->nfiles * sizeof(*paths));
	int *fds = malloc(r->nfiles * sizeof(*fds));
	int rc = 0;

	if (!paths || !fds) {
		rc = ffr__err(-ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < r->nfiles; i++) {
		paths[i] = r->files[i].path;
		fds[i] = r->files[i].fd;
	}
	rc = ffr__usrbio_mount(paths, fds, r->nfiles, r->mount, sizeof(r->mount));
	for (size_t i = 0; i < r->nfiles && rc == 0; i++) {
		rc = ffr__usrbio_reg(r->files[i].fd, r->files[i].path);
		r->files[i].usrbio_reg = rc == 0;
	}
	if (rc < 0)
		usrbio_release(r);
out:
	free(paths);
	free(fds);
	return rc;
}

/* Choose r->ops for the requested io (see the top of this file); the first context opened
 * goes to the pool. */
static int io_choose(struct c3fs_ffr_reader *r, int io)
{
	const struct ffr__io_ops *order[3];
	const struct ffr__io_ops *failed = NULL;
	bool usrbio_ok = false;
	char why[512] = "";
	size_t n;
	int rc = 0;

	if (io == C3FS_FFR_IO_AUTO || io == C3FS_FFR_IO_USRBIO) {
		usrbio_ok = usrbio_setup(r) == 0;
		if (!usrbio_ok && io == C3FS_FFR_IO_USRBIO) {
			snprintf(why, sizeof(why), "%s", c3fs_ffr_errmsg());
			return ffr__err(-EINVAL, "usrbio requested but unavailable: %s", why);
		}
	}
	n = ffr__io_order(io, usrbio_ok, order);
	for (size_t k = 0; k < n; k++) {
		struct ffr__io *probe = calloc(1, sizeof(*probe));

		if (!probe)
			return ffr__err(-ENOMEM, "out of memory");
		probe->ops = order[k];
		probe->pid = getpid();
		probe->mount_point = r->mount;
		rc = probe->ops->open(probe, r->depth);
		if (rc == 0) {
			r->ops = order[k];
			r->ops_strict = io == C3FS_FFR_IO_USRBIO;
			io_put(r, probe);
			return 0;
		}
		free(probe);
		failed = order[k];
		if (order[k] == &ffr__io_usrbio)
			usrbio_release(r);
	}
	if (io != C3FS_FFR_IO_AUTO)
		return ffr__err(-EINVAL, "%s requested but unavailable: %s", failed->name,
				strerror(-rc));
	return ffr__err(rc, "cannot set up batch I/O (%s): %s", failed->name, strerror(-rc));
}

int c3fs_ffr_reader_open_files(const char *const *paths, size_t n_paths,
			       const struct c3fs_ffr_reader_opts *opts,
			       struct c3fs_ffr_reader **out)
{
	struct c3fs_ffr_reader_opts def = { .check_data = 1 };
	struct c3fs_ffr_reader *r;
	const char *env;
	int io, rc;

	ffr__err_clear();
	*out = NULL;
	if (!opts)
		opts = &def;
	if (!paths || n_paths == 0)
		return ffr__err(-EINVAL, "empty dataset: no files given");
	if (n_paths > UINT32_MAX)
		return ffr__err(-EINVAL, "too many files");
	if (opts->io < C3FS_FFR_IO_AUTO || opts->io > C3FS_FFR_IO_USRBIO)
		return ffr__err(-EINVAL, "unknown io backend %d", opts->io);
	io = opts->io;
	env = getenv("C3FS_FFR_IO");
	if (io == C3FS_FFR_IO_AUTO && env && *env) {
		io = ffr__io_parse(env);
		if (io < 0)
			return ffr__err(-EINVAL, "C3FS_FFR_IO=%s: not one of auto, usrbio, uring, "
					"pread", env);
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return ffr__err(-ENOMEM, "out of memory");
	pthread_mutex_init(&r->pool_lock, NULL);
	r->check_data = opts->check_data != 0;
	r->depth = opts->queue_depth ? opts->queue_depth : DEFAULT_DEPTH;
	if (r->depth > 4096)
		r->depth = 4096;
	r->files = calloc(n_paths, sizeof(*r->files));
	r->first = calloc(n_paths + 1, sizeof(*r->first));
	if (!r->files || !r->first) {
		c3fs_ffr_reader_free(r);
		return ffr__err(-ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n_paths; i++) {
		rc = file_open(&r->files[i], paths[i], r->check_data);
		r->nfiles = i + 1;
		if (rc < 0) {
			c3fs_ffr_reader_free(r);
			return rc;
		}
		r->first[i + 1] = r->first[i] + r->files[i].n;
	}
	rc = io_choose(r, io);
	if (rc < 0) {
		c3fs_ffr_reader_free(r);
		return rc;
	}
	ffr__err_clear();
	*out = r;
	return 0;
}

int c3fs_ffr_reader_open(const char *path, const struct c3fs_ffr_reader_opts *opts,
			 struct c3fs_ffr_reader **out)
{
	struct stat st;
	char **v;
	size_t n;
	int rc;

	ffr__err_clear();
	*out = NULL;
	if (!path)
		return ffr__err(-EINVAL, "no path");
	if (stat(path, &st) != 0) {
		rc = -errno;
		return ffr__err(rc, "%s: %s", path, strerror(-rc));
	}
	if (!S_ISDIR(st.st_mode))
		return c3fs_ffr_reader_open_files(&path, 1, opts, out);
	rc = list_dir(path, &v, &n);
	if (rc < 0)
		return rc;
	rc = c3fs_ffr_reader_open_files((const char *const *)v, n, opts, out);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return rc;
}

int64_t c3fs_ffr_reader_count(const struct c3fs_ffr_reader *r)
{
	return r->first[r->nfiles];
}

size_t c3fs_ffr_reader_nfiles(const struct c3fs_ffr_reader *r)
{
	return r->nfiles;
}

const char *c3fs_ffr_reader_file(const struct c3fs_ffr_reader *r, size_t k)
{
	return k < r->nfiles ? r->files[k].path : NULL;
}

const char *c3fs_ffr_reader_io(const struct c3fs_ffr_reader *r)
{
	return r->ops->name;
}

int c3fs_ffr_reader_stat(const struct c3fs_ffr_reader *r, int64_t index,
			 struct c3fs_ffr_sample *out)
{
	size_t lo = 0, hi = r->nfiles;
	const struct ffr_file *f;
	int64_t local, off, next;

	if (index < 0 || index >= r->first[r->nfiles])
		return ffr__err(-ERANGE, "sample %lld out of range: the dataset has %lld",
				(long long)index, (long long)r->first[r->nfiles]);
	while (hi - lo > 1) {   /* largest k with first[k] <= index */
		size_t mid = (lo + hi) / 2;

		if (r->first[mid] <= index)
			lo = mid;
		else
			hi = mid;
	}
	while (r->first[lo + 1] <= index)  /* skip empty files */
		lo++;
	f = &r->files[lo];
	local = index - r->first[lo];
	memcpy(&off, f->idx + 4 * (size_t)f->n + 8 * (size_t)local, 8);
	if (local + 1 < f->n)
		memcpy(&next, f->idx + 4 * (size_t)f->n + 8 * (size_t)(local + 1), 8);
	else
		next = (int64_t)f->size;
	out->file = (uint32_t)lo;
	memcpy(&out->crc, f->idx + 4 * (size_t)local, 4);
	out->local = local;
	out->offset = (uint64_t)off;
	out->size = (uint64_t)(next - off);
	return 0;
}

int c3fs_ffr_reader_sizes(const struct c3fs_ffr_reader *r, const int64_t *indices, size_t n,
			  uint64_t *sizes)
{
	struct c3fs_ffr_sample s;

	ffr__err_clear();
	for (size_t i = 0; i < n; i++) {
		int rc = c3fs_ffr_reader_stat(r, indices[i], &s);

		if (rc < 0)
			return rc;
		sizes[i] = s.size;
	}
	return 0;
}

/* The error of one finished request, with the file and sample named. */
static int req_verdict(const struct c3fs_ffr_reader *r, const struct ffr__req *q,
		       int64_t index, const struct c3fs_ffr_sample *s, const char *via)
{
	const char *path = r->files[s->file].path;

	if (q->err == -EIO && q->done < q->len)
		return ffr__err(-EIO,
				"%s: sample %lld (local %lld): file ended after %llu of %llu "
				"bytes at offset %llu (shorter than when opened?)",
				path, (long long)index, (long long)s->local,
				(unsigned long long)q->done, (unsigned long long)q->len,
				(unsigned long long)q->off);
	if (q->err < 0)
		return ffr__err(q->err, "%s: sample %lld (local %lld): read failed (%s): %s",
				path, (long long)index, (long long)s->local, via,
				strerror(-q->err));
	if (r->check_data) {
		uint32_t c = c3fs_ffr_crc32(0, q->buf, q->len);

		if (c != s->crc)
			return ffr__err(-EILSEQ,
					"%s: sample %lld (local %lld): checksum mismatch (stored "
					"%08x, computed %08x)",
					path, (long long)index, (long long)s->local, s->crc, c);
	}
	return 0;
}

int c3fs_ffr_read_one(struct c3fs_ffr_reader *r, int64_t index, void *buf, size_t buf_len,
		      uint64_t *size_out)
{
	struct c3fs_ffr_sample s;
	struct ffr__req q;
	int rc;

	ffr__err_clear();
	rc = c3fs_ffr_reader_stat(r, index, &s);
	if (rc < 0)
		return rc;
	if (size_out)
		*size_out = s.size;
	if (s.size > buf_len)
		return ffr__err(-ENOBUFS, "sample %lld has %llu bytes, the buffer %zu",
				(long long)index, (unsigned long long)s.size, buf_len);
	q = (struct ffr__req){ .fd = r->files[s.file].fd, .off = s.offset, .len = s.size,
			       .buf = buf };
	q.err = ffr__pread_full(&q);
	return req_verdict(r, &q, index, &s, "pread");
}

int c3fs_ffr_read_batch(struct c3fs_ffr_reader *r, const int64_t *indices, size_t n,
			void *const *bufs, const uint64_t *buf_lens, uint64_t *sizes)
{
	struct c3fs_ffr_sample *ss = NULL;
	struct ffr__req *reqs = NULL;
	struct ffr__io *io = NULL;
	const char *via;
	int rc = 0;

	ffr__err_clear();
	if (n == 0)
		return 0;
	if (n < 3) {   /* as HFAiLab's reader: a ring is not worth it */
		for (size_t i = 0; i < n; i++) {
			rc = c3fs_ffr_read_one(r, indices[i], bufs[i], buf_lens[i],
					       sizes ? &sizes[i] : NULL);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	ss = malloc(n * sizeof(*ss));
	reqs = calloc(n, sizeof(*reqs));
	if (!ss || !reqs) {
		rc = ffr__err(-ENOMEM, "out of memory for a batch of %zu", n);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		rc = c3fs_ffr_reader_stat(r, indices[i], &ss[i]);
		if (rc < 0)
			goto out;
		if (sizes)
			sizes[i] = ss[i].size;
		if (ss[i].size > buf_lens[i]) {
			rc = ffr__err(-ENOBUFS,
				      "batch position %zu: sample %lld has %llu bytes, the buffer "
				      "%llu",
				      i, (long long)indices[i], (unsigned long long)ss[i].size,
				      (unsigned long long)buf_lens[i]);
			goto out;
		}
		reqs[i] = (struct ffr__req){ .fd = r->files[ss[i].file].fd, .off = ss[i].offset,
					     .len = ss[i].size, .buf = bufs[i] };
	}
	io = io_get(r, &rc);
	if (!io)
		goto out;
	io->ops->read(io, reqs, n);
	via = io->ops->name;   /* static: outlives io */
	io_put(r, io);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = req_verdict(r, &reqs[i], indices[i], &ss[i], via);
out:
	free(ss);
	free(reqs);
	return rc;
}

int c3fs_ffr_read_batch_alloc(struct c3fs_ffr_reader *r, const int64_t *indices, size_t n,
			      void **block, void **bufs, uint64_t *sizes)
{
	uint64_t total = 0;
	uint8_t *p;
	int rc;

	*block = NULL;
	rc = c3fs_ffr_reader_sizes(r, indices, n, sizes);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		total += sizes[i];
	if (total > SIZE_MAX)
		return ffr__err(-ENOMEM, "a batch of %llu bytes", (unsigned long long)total);
	p = total ? malloc((size_t)total) : NULL;
	if (total && !p)
		return ffr__err(-ENOMEM, "out of memory for a batch of %llu bytes",
				(unsigned long long)total);
	total = 0;
	for (size_t i = 0; i < n; i++) {
		bufs[i] = p ? p + total : NULL;
		total += sizes[i];
	}
	rc = c3fs_ffr_read_batch(r, indices, n, bufs, sizes, NULL);
	if (rc < 0) {
		free(p);
		return rc;
	}
	*block = p;
	return 0;
}
