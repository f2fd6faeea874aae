/* chunk_io.c — psync and io_uring back ends of chunk_io.h.
 *
 * io_uring: one ring of 8 entries per thread, created lazily; a pthread key's destructor
 * tears it down at thread exit.  Each call submits one SQE and waits for its CQE, looping
 * for short transfers (the kernel may return less than asked, e.g. at EOF).
 */
#include "storage/chunk_io.h"

#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "storage/chunk.h"

static pthread_key_t chunk_io_key;
static pthread_once_t chunk_io_once = PTHREAD_ONCE_INIT;
static __thread struct io_uring *chunk_io_ring;
static __thread bool chunk_io_ring_failed;

static void chunk_io_ring_free(void *p)
{
	struct io_uring *ring = p;

	io_uring_queue_exit(ring);
	free(ring);
}

static void chunk_io_key_init(void)
{
	(void)pthread_key_create(&chunk_io_key, chunk_io_ring_free);
}

/* This thread's ring, or NULL when io_uring is unavailable (psync is used then). */
static struct io_uring *chunk_io_get_ring(void)
{
	struct io_uring *ring;

	if (chunk_io_ring)
		return chunk_io_ring;
	if (chunk_io_ring_failed)
		return NULL;
	pthread_once(&chunk_io_once, chunk_io_key_init);
	ring = calloc(1, sizeof(*ring));
	if (!ring || io_uring_queue_init(8, ring, 0) < 0) {
		free(ring);
		chunk_io_ring_failed = true;
		return NULL;
	}
	if (pthread_setspecific(chunk_io_key, ring) != 0) {
		io_uring_queue_exit(ring);
		free(ring);
		chunk_io_ring_failed = true;
		return NULL;
	}
	chunk_io_ring = ring;
	return ring;
}

/* Submit the one prepared sqe and wait for its completion: its result or -errno. */
static int chunk_io_uring_wait(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int rc = io_uring_submit(ring);

	if (rc < 0)
		return rc;
	do {
		rc = io_uring_wait_cqe(ring, &cqe);
	} while (rc == -EINTR);
	if (rc < 0)
		return rc;
	rc = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return rc;
}

/* Submit one read (write=false) or write and wait: returns bytes or -errno. */
static ssize_t chunk_io_uring_rw(struct io_uring *ring, bool write, int fd, void *buf,
				 size_t n, off_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	if (n > (1u << 30))
		n = 1u << 30;
	if (write)
		io_uring_prep_write(sqe, fd, buf, (unsigned)n, (uint64_t)off);
	else
		io_uring_prep_read(sqe, fd, buf, (unsigned)n, (uint64_t)off);
	return chunk_io_uring_wait(ring);
}

/* Reads (write: writes) all n bytes, again after EINTR/EAGAIN and short transfers: bytes
 * done (fewer only at end of file, or 0 bytes written) or -errno. */
static ssize_t chunk_io_all(int engine, bool write, int fd, void *buf, size_t n, off_t off)
{
	struct io_uring *ring = engine == CHUNK_IO_URING ? chunk_io_get_ring() : NULL;
	size_t done = 0;

	while (done < n) {
		uint8_t *p = (uint8_t *)buf + done;
		off_t at = off + (off_t)done;
		ssize_t r;

		if (ring)
			r = chunk_io_uring_rw(ring, write, fd, p, n - done, at);
		else
			r = write ? pwrite(fd, p, n - done, at) : pread(fd, p, n - done, at);
		if (r < 0) {
			if (!ring)
				r = -errno;
			if (r == -EINTR || r == -EAGAIN)
				continue;
			return r;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

ssize_t chunk_io_pread(int engine, int fd, void *buf, size_t n, off_t off)
{
	return chunk_io_all(engine, false, fd, buf, n, off);
}

ssize_t chunk_io_pread_once(int engine, int fd, void *buf, size_t n, off_t off)
{
	struct io_uring *ring = engine == CHUNK_IO_URING ? chunk_io_get_ring() : NULL;

	for (;;) {
		ssize_t r = ring ? chunk_io_uring_rw(ring, false, fd, buf, n, off)
				 : pread(fd, buf, n, off);

		if (r < 0 && !ring)
			r = -errno;
		if (r != -EINTR && r != -EAGAIN)
			return r;
	}
}

int chunk_io_pwrite(int engine, int fd, const void *buf, size_t n, off_t off)
{
	ssize_t r = chunk_io_all(engine, true, fd, (void *)buf, n, off);

	return r < 0 ? (int)r : (size_t)r < n ? -EIO : 0;
}

int chunk_io_fdatasync(int engine, int fd)
{
	struct io_uring *ring = engine == CHUNK_IO_URING ? chunk_io_get_ring() : NULL;

	if (ring) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		int rc;

		if (!sqe)
			return -EBUSY;
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		rc = chunk_io_uring_wait(ring);
		return rc < 0 ? rc : 0;
	}
	return fdatasync(fd) < 0 ? -errno : 0;
}
