/* io_uring.c — the io_uring batch backend (liburing).
 *
 * One ring per struct ffr__io (depth entries).  A batch keeps up to depth reads in flight:
 * one SQE per request at a time, each of at most C3FS_FFR_CRC_PIECE bytes (an SQE length
 * is 32 bits); a short read or a further piece is queued again for the rest, -EAGAIN and
 * -EINTR are retried, a read of 0 bytes before the end is -EIO (the file shrank).  Every
 * request ends with done == len or its own err.  user_data = request number.
 */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>

#include "ffrecord/ffr_int.h"

static int uring_open(struct ffr__io *io, unsigned depth)
{
	struct io_uring *ring = malloc(sizeof(*ring));
	int rc;

	if (!ring)
		return -ENOMEM;
	rc = io_uring_queue_init(depth, ring, 0);
	if (rc < 0) {
		free(ring);
		return rc;
	}
	io->priv = ring;
	return 0;
}

static void uring_close(struct ffr__io *io)
{
	struct io_uring *ring = io->priv;

	io_uring_queue_exit(ring);
	free(ring);
	io->priv = NULL;
}

static void prep(struct io_uring_sqe *sqe, struct ffr__req *q, size_t i)
{
	uint64_t want = q->len - q->done;

	if (want > C3FS_FFR_CRC_PIECE)
		want = C3FS_FFR_CRC_PIECE;
	io_uring_prep_read(sqe, q->fd, (uint8_t *)q->buf + q->done, (unsigned)want,
			   q->off + q->done);
	io_uring_sqe_set_data64(sqe, i);
}

static int uring_read(struct ffr__io *io, struct ffr__req *reqs, size_t n)
{
	struct io_uring *ring = io->priv;
	size_t next = 0, inflight = 0, *again;
	size_t n_again = 0;
	int first = 0, rc = 0;

	/* requests waiting to be queued again (short read, retry, next piece) */
	again = malloc(n * sizeof(*again));
	if (!again)
		return ffr__io_pread.read(io, reqs, n);
	for (size_t i = 0; i < n; i++) {
		reqs[i].done = 0;
		reqs[i].err = 0;
	}
	/* empty samples need no read */
	while (next < n || n_again > 0 || inflight > 0) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		for (;;) {
			size_t i;
			struct io_uring_sqe *sqe;

			if (n_again > 0)
				i = again[n_again - 1];
			else if (next < n)
				i = next;
			else
				break;
			if (reqs[i].len == 0) {   /* nothing to read */
				if (n_again > 0)
					n_again--;
				else
					next++;
				continue;
			}
			sqe = io_uring_get_sqe(ring);
			if (!sqe)
				break;
			prep(sqe, &reqs[i], i);
			if (n_again > 0)
				n_again--;
			else
				next++;
			inflight++;
		}
		if (inflight == 0)
			continue;
		rc = io_uring_submit_and_wait(ring, 1);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
			break;
		io_uring_for_each_cqe(ring, head, cqe) {
			size_t i = (size_t)io_uring_cqe_get_data64(cqe);
			struct ffr__req *q = &reqs[i];
			int res = cqe->res;

			seen++;
			inflight--;
			if (res == -EAGAIN || res == -EINTR) {
				again[n_again++] = i;
			} else if (res < 0) {
				q->err = res;
			} else if (res == 0) {
				q->err = -EIO;
			} else {
				q->done += (uint64_t)res;
				if (q->done < q->len)
					again[n_again++] = i;
			}
		}
		io_uring_cq_advance(ring, seen);
		rc = 0;
	}
	if (rc < 0) {
		/* The ring broke (no submit possible).  The kernel may still write into the
		 * caller's buffers for what is in flight: wait for those completions before
		 * returning, then finish the unread requests by pread. */
		while (inflight > 0) {
			struct io_uring_cqe *cqe;
			int w = io_uring_submit_and_wait(ring, 1);

			if (w < 0 && w != -EINTR && w != -EAGAIN && w != -EBUSY)
				w = io_uring_wait_cqe(ring, &cqe);
			while (io_uring_peek_cqe(ring, &cqe) == 0) {
				size_t i = (size_t)io_uring_cqe_get_data64(cqe);

				if (cqe->res > 0)
					reqs[i].done += (uint64_t)cqe->res;
				io_uring_cqe_seen(ring, cqe);
				inflight--;
			}
		}
		for (size_t i = 0; i < n; i++)
			if (reqs[i].err == 0 && reqs[i].done < reqs[i].len)
				ffr__pread_full(&reqs[i]);
	}
	free(again);
	for (size_t i = 0; i < n; i++)
		if (reqs[i].err < 0 && first == 0)
			first = reqs[i].err;
	return first;
}

const struct ffr__io_ops ffr__io_uring = {
	.name = "io_uring",
	.open = uring_open,
	.read = uring_read,
	.close = uring_close,
};
