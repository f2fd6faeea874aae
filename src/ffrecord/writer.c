/* writer.c — c3fs_ffr_writer: samples appended through a 1 MiB buffer, index kept in
 * memory (grown as samples come, never sized by the announced N), header written at close.
 *
 * Known N: samples start at 12 + 12N, as HFAiLab's writer does.  Counted N: samples start
 * at 0 and are moved up by 12 + 12N at close (copied back to front in 8 MiB steps, so the
 * source is never overwritten before it is read).  Offsets are kept relative to the first
 * sample and made absolute when the index is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/vec.h"
#include "ffrecord/ffr_int.h"

#define WBUF_BYTES (1u << 20)
#define MOVE_BYTES (8u << 20)

struct c3fs_ffr_writer {
	char *path;
	int fd;
	int64_t n;          /* announced, or C3FS_FFR_COUNT_AT_CLOSE */
	int64_t count;
	size_t cap_crcs, cap_offs; /* entries allocated in crcs, offs */
	uint32_t *crcs;
	int64_t *offs;      /* relative to the first sample */
	uint64_t base;      /* file offset of the first sample while writing */
	uint64_t pos;       /* bytes of samples so far (relative) */
	uint8_t *wbuf;
	size_t wlen;        /* bytes buffered, belonging at base + pos - wlen */
	int failed;
};

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t r = pread(fd, p, len, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int c3fs_ffr_writer_open(const char *path, int64_t n_samples, struct c3fs_ffr_writer **out)
{
	struct c3fs_ffr_writer *w;

	ffr__err_clear();
	*out = NULL;
	if (!path || n_samples < C3FS_FFR_COUNT_AT_CLOSE ||
	    n_samples > (INT64_MAX - C3FS_FFR_HEADER_BYTES) / C3FS_FFR_INDEX_BYTES_PER_SAMPLE)
		return ffr__err(-EINVAL, "%s: bad sample count %lld", path ? path : "(null)",
				(long long)n_samples);
	w = calloc(1, sizeof(*w));
	if (!w)
		return ffr__err(-ENOMEM, "%s: out of memory", path);
	w->path = strdup(path);
	w->wbuf = malloc(WBUF_BYTES);
	if (!w->path || !w->wbuf) {
		free(w->path);
		free(w->wbuf);
		free(w);
		return ffr__err(-ENOMEM, "%s: out of memory", path);
	}
	w->n = n_samples;
	w->base = n_samples >= 0 ? C3FS_FFR_HEADER_BYTES + 12 * (uint64_t)n_samples : 0;
	w->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (w->fd < 0) {
		int e = -errno;

		free(w->path);
		free(w->wbuf);
		free(w);
		return ffr__err(e, "%s: cannot create: %s", path, strerror(-e));
	}
	*out = w;
	return 0;
}

static int flush_buf(struct c3fs_ffr_writer *w)
{
	int rc;

	if (w->wlen == 0)
		return 0;
	rc = pwrite_full(w->fd, w->wbuf, w->wlen, w->base + w->pos - w->wlen);
	if (rc < 0)
		return ffr__err(rc, "%s: write failed: %s", w->path, strerror(-rc));
	w->wlen = 0;
	return 0;
}

int c3fs_ffr_writer_append(struct c3fs_ffr_writer *w, const void *data, size_t len)
{
	int rc;

	ffr__err_clear();
	if (w->failed)
		return ffr__err(-EINVAL, "%s: writer failed before", w->path);
	if (w->n >= 0 && w->count >= w->n)
		return ffr__err(-ERANGE, "%s: already %lld samples, as announced", w->path,
				(long long)w->n);
	if (C3_ARRAY_RESERVE(w->crcs, w->cap_crcs, (size_t)w->count + 1) < 0 ||
	    C3_ARRAY_RESERVE(w->offs, w->cap_offs, (size_t)w->count + 1) < 0) {
		w->failed = 1;
		return ffr__err(-ENOMEM, "%s: out of memory at sample %lld", w->path,
				(long long)w->count);
	}
	w->crcs[w->count] = c3fs_ffr_crc32(0, data, len);
	w->offs[w->count] = (int64_t)w->pos;
	if (len <= WBUF_BYTES - w->wlen) {
		if (len)
			memcpy(w->wbuf + w->wlen, data, len);
		w->wlen += len;
		w->pos += len;
	} else {
		rc = flush_buf(w);
		if (rc == 0) {
			rc = pwrite_full(w->fd, data, len, w->base + w->pos);
			if (rc < 0)
				ffr__err(rc, "%s: write of sample %lld failed: %s", w->path,
					 (long long)w->count, strerror(-rc));
		}
		if (rc < 0) {
			w->failed = 1;
			return rc;
		}
		w->pos += len;
	}
	w->count++;
	return 0;
}

int64_t c3fs_ffr_writer_count(const struct c3fs_ffr_writer *w)
{
	return w->count;
}

static void writer_free(struct c3fs_ffr_writer *w, bool remove)
{
	if (w->fd >= 0)
		close(w->fd);
	if (remove)
		unlink(w->path);
	free(w->path);
	free(w->crcs);
	free(w->offs);
	free(w->wbuf);
	free(w);
}

void c3fs_ffr_writer_abort(struct c3fs_ffr_writer *w)
{
	if (w)
		writer_free(w, true);
}

/* Move the samples [0, pos) up to [shift, shift + pos), back to front. */
static int move_up(struct c3fs_ffr_writer *w, uint64_t shift)
{
	uint64_t end = w->pos;
	uint8_t *buf;
	int rc = 0;

	if (end == 0)
		return 0;
	buf = malloc(MOVE_BYTES);
	if (!buf)
		return ffr__err(-ENOMEM, "%s: out of memory", w->path);
	while (end > 0 && rc == 0) {
		uint64_t len = end < MOVE_BYTES ? end : MOVE_BYTES;

		rc = pread_full(w->fd, buf, len, end - len);
		if (rc == 0)
			rc = pwrite_full(w->fd, buf, len, end - len + shift);
		end -= len;
	}
	free(buf);
	if (rc < 0)
		return ffr__err(rc, "%s: moving the samples behind the header failed: %s",
				w->path, strerror(-rc));
	return 0;
}

int c3fs_ffr_writer_close(struct c3fs_ffr_writer *w)
{
	uint64_t hdr_bytes = C3FS_FFR_HEADER_BYTES + 12 * (uint64_t)w->count;
	size_t idx_len = 12 * (size_t)w->count;
	uint8_t *idx = NULL, head[C3FS_FFR_HEADER_BYTES];
	uint32_t crc;
	int rc;

	ffr__err_clear();
	if (w->failed) {
		rc = ffr__err(-EINVAL, "%s: writer failed before; file removed", w->path);
		goto fail;
	}
	if (w->n >= 0 && w->count != w->n) {
		rc = ffr__err(-EINVAL, "%s: %lld samples written, %lld announced; file removed",
			      w->path, (long long)w->count, (long long)w->n);
		goto fail;
	}
	rc = flush_buf(w);
	if (rc < 0)
		goto fail;
	if (w->n < 0) {
		rc = move_up(w, hdr_bytes);
		if (rc < 0)
			goto fail;
	}
	idx = malloc(idx_len ? idx_len : 1);
	if (!idx) {
		rc = ffr__err(-ENOMEM, "%s: out of memory", w->path);
		goto fail;
	}
	if (w->count)
		memcpy(idx, w->crcs, 4 * (size_t)w->count);
	for (int64_t i = 0; i < w->count; i++) {
		int64_t o = w->offs[i] + (int64_t)hdr_bytes;

		memcpy(idx + 4 * (size_t)w->count + 8 * (size_t)i, &o, 8);
	}
	crc = ffr__meta_crc(w->count, idx, idx_len);
	memcpy(head, &crc, 4);
	memcpy(head + 4, &w->count, 8);
	rc = pwrite_full(w->fd, idx, idx_len, C3FS_FFR_HEADER_BYTES);
	if (rc == 0)
		rc = pwrite_full(w->fd, head, sizeof(head), 0);
	/* a counted file that ends up empty: nothing was written past the header */
	if (rc == 0 && ftruncate(w->fd, (off_t)(hdr_bytes + w->pos)) != 0)
		rc = -errno;
	if (rc < 0) {
		ffr__err(rc, "%s: writing the index failed: %s; file removed", w->path,
			 strerror(-rc));
		goto fail;
	}
	free(idx);
	rc = close(w->fd) == 0 ? 0 : -errno;
	w->fd = -1;
	if (rc < 0) {
		ffr__err(rc, "%s: close failed: %s; file removed", w->path, strerror(-rc));
		writer_free(w, true);
		return rc;
	}
	writer_free(w, false);
	return 0;
fail:
	free(idx);
	writer_free(w, true);
	return rc;
}
