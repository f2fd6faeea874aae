/* io_pread.c — the pread batch backend: one request after the other, each read to its
 * end (short reads continued, EINTR retried).  No state. */
#include <errno.h>
#include <unistd.h>

#include "ffrecord/ffr_int.h"

int ffr__pread_full(struct ffr__req *q)
{
	while (q->done < q->len) {
		size_t want = q->len - q->done;
		ssize_t got;

		if (want > C3FS_FFR_CRC_PIECE)
			want = C3FS_FFR_CRC_PIECE;
		got = pread(q->fd, (uint8_t *)q->buf + q->done, want, (off_t)(q->off + q->done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return q->err = -errno;
		if (got == 0)
			return q->err = -EIO;
		q->done += (uint64_t)got;
	}
	return q->err = 0;
}

static int pread_open(struct ffr__io *io, unsigned depth)
{
	io->priv = NULL;
	return 0;
}

static int pread_read(struct ffr__io *io, struct ffr__req *reqs, size_t n)
{
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		int rc = ffr__pread_full(&reqs[i]);

		if (rc < 0 && first == 0)
			first = rc;
	}
	return first;
}

static void pread_close(struct ffr__io *io)
{
}

const struct ffr__io_ops ffr__io_pread = {
	.name = "pread",
	.open = pread_open,
	.read = pread_read,
	.close = pread_close,
};
