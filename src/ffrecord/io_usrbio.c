/* io_usrbio.c — the USRBIO batch backend: batches read through one USRBIO ring of the
 * c3fs mount the dataset lives on (include/c3fs/usrbio.h, src/usrbio/README.md), and the
 * reader's helpers to find that mount and register the files' descriptors.
 *
 * Per struct ffr__io: one read ring of `depth` entries (io_depth 0: the daemon takes what
 * is submitted at once) and one iov, the shared memory the c3fs-fuse daemon receives the
 * data into.  The iov starts at IOV_MIN_BYTES and grows (doubling, at most IOV_MAX_BYTES
 * or the environment's C3FS_FFR_USRBIO_IOV_BYTES) when a batch needs more; it is kept
 * across batches.
 *
 * A batch runs in rounds.  A round takes, in request order, one piece of every unfinished
 * request (the rest of the sample, cut to what is left of the iov and to one USRBIO I/O)
 * until the iov or the ring is full, preps each piece, submits once, waits for all of
 * them and copies each into the caller's buffer.  A batch that fits the iov and the ring
 * (the usual case) is one round: one prep per sample, one submit, one wait.  A short read
 * leaves the rest for the next round; 0 bytes before the end is -EIO (the file shrank),
 * -EINTR/-EAGAIN are retried, other errors end that request — as the other backends.
 *
 * No hang: the wait is cut into WAIT_SLICE_MS slices; after a slice without a completion
 * the mount is asked whether its daemon is still there (a dead daemon: -ENOTCONN at once),
 * and after WAIT_MAX_MS without any completion the batch gives up with -ETIMEDOUT.  Then
 * (and after any ring failure) the context is marked broken: the reader drops it instead
 * of pooling it.  The daemon may still write into that context's iov, never into the
 * caller's buffers, which only the memcpy here writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "c3fs/usrbio.h"
#include "ffrecord/ffr_int.h"

#define IOV_MIN_BYTES ((size_t)1 << 20)
#define IOV_MAX_BYTES ((size_t)256 << 20)
#define MAX_IO_BYTES ((uint64_t)1 << 30)   /* one prep; USRBIO allows up to 2 GiB - 1 */
#define WAIT_SLICE_MS 1000
#define WAIT_MAX_MS 120000

/* One prepped I/O: bytes [req.done, req.done + len) of request req, at iov_off. */
struct ub_piece {
	size_t req;
	size_t iov_off;
	uint64_t len;
};

struct ub_ctx {
	struct c3fs_ior ior;
	struct c3fs_iov iov;     /* iov.base NULL: none */
	size_t iov_max;          /* the iov grows up to this */
	int entries;
	struct ub_piece *pieces; /* entries */
	struct c3fs_cqe *cqes;   /* entries */
};

/* ------------------------------------------------------------------ the reader's helpers */

/* C3FS_FFR_USRBIO_IOV_BYTES: 0 unset, the value, or -1 when it is not a number in range. */
static long long iov_env(void)
{
	const char *e = getenv("C3FS_FFR_USRBIO_IOV_BYTES");
	char *end;
	long long v;

	if (!e || !*e)
		return 0;
	errno = 0;
	v = strtoll(e, &end, 10);
	if (errno || *end || v < 4096 || v > (1ll << 30))
		return -1;
	return v;
}

int ffr__usrbio_mount(const char *const *paths, const int *fds, size_t n, char *mp,
		      size_t mp_size)
{
	char first[256], cur[256], virt[300];
	struct stat st;

	if (mp_size < sizeof(first))
		return ffr__err(-EINVAL, "usrbio: mount point buffer too small");
	if (iov_env() < 0)
		return ffr__err(-EINVAL, "C3FS_FFR_USRBIO_IOV_BYTES=%s: not a number of bytes in "
				"4096 .. 1073741824", getenv("C3FS_FFR_USRBIO_IOV_BYTES"));
	for (size_t i = 0; i < n; i++) {
		if (!c3fs_is_c3fs(fds[i]))
			return ffr__err(-ENODEV, "%s: not on a c3fs mount (usrbio needs one)",
					paths[i]);
		if (c3fs_extract_mount_point(i ? cur : first, (int)sizeof(cur), paths[i]) < 0)
			return ffr__err(-ENODEV, "%s: no c3fs mount point found for it in "
					"/proc/self/mountinfo", paths[i]);
		if (i && strcmp(cur, first) != 0)
			return ffr__err(-EXDEV,
					"%s: on c3fs mount %s, but %s is on %s (usrbio reads one "
					"mount per dataset)", paths[i], cur, paths[0], first);
	}
	snprintf(virt, sizeof(virt), "%s/3fs-virt/iovs", first);
	if (stat(virt, &st) != 0 || !S_ISDIR(st.st_mode))
		return ffr__err(-ENODEV, "%s: no USRBIO registration directory (%s)", first,
				virt);
	memcpy(mp, first, strlen(first) + 1);
	return 0;
}

int ffr__usrbio_reg(int fd, const char *path)
{
	int rc = c3fs_reg_fd(fd, 0);

	if (rc > 0)
		return ffr__err(-rc, "%s: usrbio cannot register the file: %s", path,
				strerror(rc));
	return 0;
}

void ffr__usrbio_dereg(int fd)
{
	c3fs_dereg_fd(fd);
}

/* ------------------------------------------------------------------ the backend */

static int iov_make(struct ub_ctx *c, const char *mp, size_t size)
{
	struct c3fs_iov iov;
	int rc = c3fs_iovcreate(&iov, mp, size, 0, -1);

	if (rc < 0)
		return rc;
	if (c->iov.base)
		c3fs_iovdestroy(&c->iov);
	c->iov = iov;
	return 0;
}

static void usrbio_close(struct ffr__io *io)
{
	struct ub_ctx *c = io->priv;

	if (!c)
		return;
	if (c->iov.base)
		c3fs_iovdestroy(&c->iov);
	if (c->ior.iorh)
		c3fs_iordestroy(&c->ior);
	free(c->pieces);
	free(c->cqes);
	free(c);
	io->priv = NULL;
}

static int usrbio_open(struct ffr__io *io, unsigned depth)
{
	struct ub_ctx *c;
	int rc;

	if (!io->mount_point)
		return -ENODEV;
	if (depth < 1 || depth > 65536)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	io->priv = c;
	c->entries = (int)depth;
	c->iov_max = iov_env() > 0 ? (size_t)iov_env() : IOV_MAX_BYTES;
	c->pieces = calloc(depth, sizeof(*c->pieces));
	c->cqes = calloc(depth, sizeof(*c->cqes));
	if (!c->pieces || !c->cqes) {
		usrbio_close(io);
		return -ENOMEM;
	}
	rc = c3fs_iorcreate(&c->ior, io->mount_point, c->entries, true, 0, -1);
	if (rc == 0)
		rc = iov_make(c, io->mount_point,
			      IOV_MIN_BYTES < c->iov_max ? IOV_MIN_BYTES : c->iov_max);
	if (rc < 0) {
		usrbio_close(io);
		return rc;
	}
	return 0;
}

/* Grow the iov towards `want` bytes; keeping the old one when a bigger one cannot be had
 * (/dev/shm full) only means more rounds. */
static void iov_fit(struct ub_ctx *c, const char *mp, uint64_t want)
{
	size_t size = c->iov.size;

	if (want <= size || size >= c->iov_max)
		return;
	while (size < want && size < c->iov_max)
		size = size > c->iov_max / 2 ? c->iov_max : size * 2;
	iov_make(c, mp, size);
}

static int64_t ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Whether the mount's daemon still answers (a killed one: ENOTCONN). */
static bool mount_alive(const char *mp)
{
	char p[300];
	struct stat st;

	snprintf(p, sizeof(p), "%s/3fs-virt/iovs", mp);
	return stat(p, &st) == 0;
}

/* Take in the completions of `left` prepped pieces.  0, or -ENOTCONN / -ETIMEDOUT / the
 * ring's error with pieces still out (the context is then unusable). */
static int reap(struct ub_ctx *c, const char *mp, struct ffr__req *reqs, int left)
{
	struct timespec idle;

	clock_gettime(CLOCK_MONOTONIC, &idle);
	while (left > 0) {
		struct timespec dl;
		int got;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += WAIT_SLICE_MS / 1000;
		got = c3fs_wait_for_ios(&c->ior, c->cqes, c->entries, left, &dl);
		if (got < 0 && got != -EINTR)
			return got;
		if (got <= 0) {
			if (!mount_alive(mp))
				return -ENOTCONN;
			if (ms_since(&idle) >= WAIT_MAX_MS)
				return -ETIMEDOUT;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &idle);
		for (int k = 0; k < got; k++) {
			const struct ub_piece *p = c->cqes[k].userdata;
			struct ffr__req *q = &reqs[p->req];
			int64_t res = c->cqes[k].result;

			left--;
			if (res == -EINTR || res == -EAGAIN)
				continue;                /* the next round asks again */
			if (res < 0)
				q->err = (int)res;
			else if (res == 0 || (uint64_t)res > p->len)
				q->err = -EIO;
			else {
				memcpy((uint8_t *)q->buf + q->done, c->iov.base + p->iov_off,
				       (size_t)res);
				q->done += (uint64_t)res;
			}
		}
	}
	return 0;
}

static bool pending(const struct ffr__req *q)
{
	return q->err == 0 && q->done < q->len;
}

/* One round from request lo on: prep what fits, submit, reap.  Returns 0 or the error
 * that broke the context. */
static int round_run(struct ffr__io *io, struct ffr__req *reqs, size_t n, size_t lo)
{
	struct ub_ctx *c = io->priv;
	size_t used = 0;
	int np = 0, rc;

	for (size_t i = lo; i < n && np < c->entries && used < c->iov.size; i++) {
		struct ffr__req *q = &reqs[i];
		struct ub_piece *p = &c->pieces[np];
		uint64_t len = q->len - q->done;
		int slot;

		if (!pending(q))
			continue;
		if (len > c->iov.size - used)
			len = c->iov.size - used;
		if (len > MAX_IO_BYTES)
			len = MAX_IO_BYTES;
		*p = (struct ub_piece){ .req = i, .iov_off = used, .len = len };
		slot = c3fs_prep_io(&c->ior, &c->iov, true, c->iov.base + used, q->fd,
				    (size_t)(q->off + q->done), len, p);
		if (slot < 0) {
			q->err = slot;   /* e.g. -EBADF: the fd is not registered */
			continue;
		}
		used += (size_t)len;
		np++;
	}
	if (np == 0)
		return 0;
	rc = c3fs_submit_ios(&c->ior);
	if (rc < 0)
		return rc;   /* prepped but not published: the ring is out of step */
	return reap(c, io->mount_point, reqs, np);
}

static int usrbio_read(struct ffr__io *io, struct ffr__req *reqs, size_t n)
{
	struct ub_ctx *c = io->priv;
	uint64_t total = 0;
	size_t lo = 0;
	int first = 0, rc = 0;

	for (size_t i = 0; i < n; i++) {
		reqs[i].done = 0;
		reqs[i].err = 0;
		total += reqs[i].len;
	}
	iov_fit(c, io->mount_point, total);
	for (;;) {
		while (lo < n && !pending(&reqs[lo]))
			lo++;
		if (lo == n)
			break;
		rc = round_run(io, reqs, n, lo);
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		io->broken = true;
		for (size_t i = lo; i < n; i++)
			if (pending(&reqs[i]))
				reqs[i].err = rc;
	}
	for (size_t i = 0; i < n; i++)
		if (reqs[i].err < 0 && first == 0)
			first = reqs[i].err;
	return first;
}

const struct ffr__io_ops ffr__io_usrbio = {
	.name = "usrbio",
	.open = usrbio_open,
	.read = usrbio_read,
	.close = usrbio_close,
};
