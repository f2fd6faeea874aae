/* ffrecord_bench.c — the FFRecord benchmark of issue 11: random batches of samples from
 * one FFRecord file vs the same samples as small files.
 *
 *   c3fs-bench-ffrecord make DIR N MIN_BYTES MAX_BYTES
 *        DIR/ds.ffr with N random samples of MIN..MAX bytes, and the same samples as
 *        DIR/files/<i / 1000>/<i> (1000 files per directory)
 *   c3fs-bench-ffrecord read DIR MODE [SECONDS=10] [BATCH=256]
 *        MODE: usrbio | uring | pread | auto (one c3fs_ffr_read_batch per batch of BATCH
 *        random indices through that backend; usrbio needs DIR on a c3fs mount), files
 *        (open/read/close of each sample's small file).  Prints one Markdown table row:
 *        mode (auto: the backend it chose), batches, samples/s, MiB/s, mean batch latency.
 * Drop the page cache between runs for cold numbers (bench/ffrecord.sh does).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "c3fs/ffrecord.h"

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int cmd_make(const char *dir, int64_t n, uint64_t mn, uint64_t mx)
{
	struct c3fs_ffr_writer *w;
	char p[4096];
	uint8_t *buf = malloc(mx ? mx : 1);

	if (!buf || mn > mx || n < 1)
		return 2;
	mkdir(dir, 0777);
	snprintf(p, sizeof(p), "%s/files", dir);
	mkdir(p, 0777);
	snprintf(p, sizeof(p), "%s/ds.ffr", dir);
	if (c3fs_ffr_writer_open(p, n, &w) < 0) {
		fprintf(stderr, "make: %s\n", c3fs_ffr_errmsg());
		return 1;
	}
	for (int64_t i = 0; i < n; i++) {
		uint64_t len = mn + next_rand() % (mx - mn + 1);
		int fd;

		for (uint64_t j = 0; j < len; j += 8) {
			uint64_t x = next_rand();

			memcpy(buf + j, &x, len - j < 8 ? len - j : 8);
		}
		if (c3fs_ffr_writer_append(w, buf, len) < 0) {
			fprintf(stderr, "make: %s\n", c3fs_ffr_errmsg());
			c3fs_ffr_writer_abort(w);
			return 1;
		}
		if (i % 1000 == 0) {
			snprintf(p, sizeof(p), "%s/files/%" PRId64, dir, i / 1000);
			mkdir(p, 0777);
		}
		snprintf(p, sizeof(p), "%s/files/%" PRId64 "/%" PRId64, dir, i / 1000, i);
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		if (fd < 0 || write(fd, buf, len) != (ssize_t)len) {
			fprintf(stderr, "make: %s: %s\n", p, strerror(errno));
			c3fs_ffr_writer_abort(w);
			return 1;
		}
		close(fd);
	}
	free(buf);
	if (c3fs_ffr_writer_close(w) < 0) {
		fprintf(stderr, "make: %s\n", c3fs_ffr_errmsg());
		return 1;
	}
	return 0;
}

static int read_files(const char *dir, const int64_t *idx, size_t n, uint8_t *buf, size_t cap,
		      uint64_t *bytes)
{
	char p[4096];

	for (size_t i = 0; i < n; i++) {
		ssize_t r;
		int fd;

		snprintf(p, sizeof(p), "%s/files/%" PRId64 "/%" PRId64, dir, idx[i] / 1000, idx[i]);
		fd = open(p, O_RDONLY);
		if (fd < 0)
			return -errno;
		r = read(fd, buf, cap);
		close(fd);
		if (r < 0)
			return -errno;
		*bytes += (uint64_t)r;
	}
	return 0;
}

static int cmd_read(const char *dir, const char *mode, double secs, size_t batch)
{
	struct c3fs_ffr_reader_opts o = { .check_data = 1 };
	struct c3fs_ffr_reader *r;
	int64_t *idx = malloc(batch * sizeof(*idx));
	void **bufs = malloc(batch * sizeof(*bufs));
	uint64_t *sizes = malloc(batch * sizeof(*sizes)), bytes = 0, samples = 0, batches = 0;
	uint8_t *scratch = malloc(64u << 20);
	double t0, t = 0;
	char p[4096];
	int rc = 0;

	if (!idx || !bufs || !sizes || !scratch)
		return 1;
	if (strcmp(mode, "pread") == 0)
		o.io = C3FS_FFR_IO_PREAD;
	else if (strcmp(mode, "uring") == 0)
		o.io = C3FS_FFR_IO_URING;
	else if (strcmp(mode, "usrbio") == 0)
		o.io = C3FS_FFR_IO_USRBIO;
	else if (strcmp(mode, "auto") == 0)
		o.io = C3FS_FFR_IO_AUTO;
	else if (strcmp(mode, "files") != 0)
		return 2;
	snprintf(p, sizeof(p), "%s/ds.ffr", dir);
	if (c3fs_ffr_reader_open(p, &o, &r) < 0) {
		fprintf(stderr, "read: %s\n", c3fs_ffr_errmsg());
		return 1;
	}
	t0 = now_s();
	do {
		void *block;

		for (size_t i = 0; i < batch; i++)
			idx[i] = (int64_t)(next_rand() % (uint64_t)c3fs_ffr_reader_count(r));
		if (strcmp(mode, "files") == 0) {
			rc = read_files(dir, idx, batch, scratch, 64u << 20, &bytes);
		} else {
			rc = c3fs_ffr_read_batch_alloc(r, idx, batch, &block, bufs, sizes);
			if (rc == 0) {
				for (size_t i = 0; i < batch; i++)
					bytes += sizes[i];
				free(block);
			}
		}
		if (rc < 0) {
			fprintf(stderr, "read: %s\n", c3fs_ffr_errmsg()[0] ? c3fs_ffr_errmsg()
									    : strerror(-rc));
			break;
		}
		samples += batch;
		batches++;
		t = now_s() - t0;
	} while (t < secs);
	if (strcmp(mode, "auto") == 0)
		mode = c3fs_ffr_reader_io(r);
	if (rc == 0)
		printf("| %s | %" PRIu64 " | %.0f | %.1f | %.2f ms |\n", mode, batches,
		       (double)samples / t, (double)bytes / 1048576.0 / t, 1000.0 * t / (double)batches);
	c3fs_ffr_reader_free(r);
	free(idx);
	free(bufs);
	free(sizes);
	free(scratch);
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "make") == 0)
		return cmd_make(argv[2], strtoll(argv[3], NULL, 10), strtoull(argv[4], NULL, 10),
				strtoull(argv[5], NULL, 10));
	if (argc >= 4 && argc <= 6 && strcmp(argv[1], "read") == 0)
		return cmd_read(argv[2], argv[3], argc > 4 ? atof(argv[4]) : 10.0,
				argc > 5 ? (size_t)strtoul(argv[5], NULL, 10) : 256);
	fprintf(stderr, "usage: %s make DIR N MIN_BYTES MAX_BYTES\n"
			"       %s read DIR usrbio|uring|pread|auto|files [SECONDS] [BATCH]\n",
		argv[0], argv[0]);
	return 2;
}
