/* usrbio_bench.c — c3fs-bench-usrbio: USRBIO throughput and latency against a mounted c3fs.
 *
 *   c3fs-bench-usrbio --file PATH [--mode seq-read|rand-read|seq-write|rand-write]
 *                     [--bs BYTES] [--batch N] [--depth D] [--threads T] [--seconds S]
 *                     [--size BYTES (write modes: file span)] [--json]
 *
 * Each thread has its own ring (so --threads is also the number of rings) and its own
 * iov of batch * bs bytes, prepares `batch` I/Os, submits, waits for all of them, and
 * repeats for --seconds.  The ring is created with io_depth D (default 0: take everything
 * at once).  Reports MiB/s, IOPS and per-I/O latency percentiles (submit to reap).
 * Read modes need an existing file; write modes create/extend it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "c3fs/usrbio.h"

struct opts {
	const char *file;
	char mp[256];
	bool read, rand;
	size_t bs, size;
	int batch, depth, threads, seconds;
	bool json;
};

struct worker {
	struct opts *o;
	int id;
	uint64_t ios, bytes, errors;
	double *lat_us;
	size_t nlat, caplat;
	int rc;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct opts *o = w->o;
	struct c3fs_iov iov;
	struct c3fs_ior ior;
	struct c3fs_cqe *cqes = calloc((size_t)o->batch, sizeof(*cqes));
	uint64_t nblocks = o->size / o->bs, next = (uint64_t)w->id * nblocks / (uint64_t)o->threads;
	unsigned seed = 12345u + (unsigned)w->id;
	double end, t0;
	int fd, rfd, i;

	w->rc = c3fs_iovcreate(&iov, o->mp, o->bs * (size_t)o->batch, 0, -1);
	if (w->rc)
		return NULL;
	w->rc = c3fs_iorcreate(&ior, o->mp, o->batch, o->read, o->depth, -1);
	if (w->rc) {
		c3fs_iovdestroy(&iov);
		return NULL;
	}
	fd = open(o->file, o->read ? O_RDONLY : O_RDWR);
	rfd = fd < 0 ? EBADF : c3fs_reg_fd(fd, 0);
	if (rfd > 0) {
		w->rc = -rfd;
		goto out;
	}
	memset(iov.base, 0x5a, iov.size);
	end = now_s() + o->seconds;
	while (now_s() < end) {
		int got = 0;

		for (i = 0; i < o->batch; i++) {
			uint64_t blk = o->rand ? (uint64_t)rand_r(&seed) % nblocks : next++ % nblocks;

			if (c3fs_prep_io(&ior, &iov, o->read, iov.base + (size_t)i * o->bs, rfd,
					 blk * o->bs, o->bs, NULL) < 0) {
				w->rc = -EIO;
				goto out;
			}
		}
		t0 = now_s();
		c3fs_submit_ios(&ior);
		while (got < o->batch) {
			int n = c3fs_wait_for_ios(&ior, cqes, o->batch, 1, NULL), k;
			double lat = (now_s() - t0) * 1e6;

			if (n <= 0) {
				w->rc = n ? n : -EIO;
				goto out;
			}
			for (k = 0; k < n; k++) {
				if (cqes[k].result == (int64_t)o->bs) {
					w->ios++;
					w->bytes += o->bs;
				} else {
					w->errors++;
				}
				if (w->nlat == w->caplat) {
					w->caplat = w->caplat ? 2 * w->caplat : 4096;
					w->lat_us = realloc(w->lat_us, w->caplat * sizeof(double));
				}
				w->lat_us[w->nlat++] = lat;
			}
			got += n;
		}
	}
out:
	if (rfd <= 0)
		c3fs_dereg_fd(rfd);
	if (fd >= 0)
		close(fd);
	c3fs_iordestroy(&ior);
	c3fs_iovdestroy(&iov);
	free(cqes);
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr, "usage: c3fs-bench-usrbio --file PATH [--mode seq-read|rand-read|seq-write|"
			"rand-write] [--bs N] [--batch N] [--depth D] [--threads T] [--seconds S] "
			"[--size N] [--json]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .bs = 1 << 20, .batch = 32, .threads = 1, .seconds = 10, .read = true };
	const char *mode = "seq-read";
	struct worker *ws;
	pthread_t *ts;
	double t0, dt, *all, pct[4] = { 0 };
	uint64_t ios = 0, bytes = 0, errs = 0;
	size_t nall = 0, k;
	struct stat st;
	int i, fd;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--json")) {
			o.json = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--file")) o.file = v;
		else if (!strcmp(a, "--mode")) mode = v;
		else if (!strcmp(a, "--bs")) o.bs = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--size")) o.size = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--batch")) o.batch = atoi(v);
		else if (!strcmp(a, "--depth")) o.depth = atoi(v);
		else if (!strcmp(a, "--threads") || !strcmp(a, "--rings")) o.threads = atoi(v);
		else if (!strcmp(a, "--seconds")) o.seconds = atoi(v);
		else usage();
	}
	if (!o.file || o.bs == 0 || o.batch < 1 || o.threads < 1 || o.seconds < 1)
		usage();
	o.read = strstr(mode, "read") != NULL;
	o.rand = strncmp(mode, "rand", 4) == 0;
	if (!strstr(mode, "read") && !strstr(mode, "write"))
		usage();
	if (!o.read) {
		fd = open(o.file, O_RDWR | O_CREAT, 0644);
		if (fd < 0 || (o.size && ftruncate(fd, (off_t)o.size) != 0)) {
			perror(o.file);
			return 1;
		}
		close(fd);
	}
	if (stat(o.file, &st) != 0) {
		perror(o.file);
		return 1;
	}
	if (!o.size)
		o.size = (size_t)st.st_size;
	if (o.size < o.bs) {
		fprintf(stderr, "c3fs-bench-usrbio: %s is smaller than one block (use --size)\n", o.file);
		return 1;
	}
	if (c3fs_extract_mount_point(o.mp, sizeof(o.mp), o.file) < 0) {
		fprintf(stderr, "c3fs-bench-usrbio: %s is not on a c3fs mount\n", o.file);
		return 1;
	}
	ws = calloc((size_t)o.threads, sizeof(*ws));
	ts = calloc((size_t)o.threads, sizeof(*ts));
	t0 = now_s();
	for (i = 0; i < o.threads; i++) {
		ws[i].o = &o;
		ws[i].id = i;
		pthread_create(&ts[i], NULL, worker_main, &ws[i]);
	}
	for (i = 0; i < o.threads; i++) {
		pthread_join(ts[i], NULL);
		if (ws[i].rc) {
			fprintf(stderr, "c3fs-bench-usrbio: thread %d: %s\n", i, strerror(-ws[i].rc));
			return 1;
		}
		ios += ws[i].ios;
		bytes += ws[i].bytes;
		errs += ws[i].errors;
		nall += ws[i].nlat;
	}
	dt = now_s() - t0;
	all = malloc((nall ? nall : 1) * sizeof(double));
	for (i = 0, nall = 0; i < o.threads; i++) {
		for (k = 0; k < ws[i].nlat; k++)
			all[nall++] = ws[i].lat_us[k];
		free(ws[i].lat_us);
	}
	qsort(all, nall, sizeof(double), cmp_d);
	if (nall) {
		pct[0] = all[nall / 2];
		pct[1] = all[nall * 90 / 100];
		pct[2] = all[nall * 99 / 100];
		pct[3] = all[nall - 1];
	}
	if (o.json)
		printf("{\"mode\":\"%s\",\"bs\":%zu,\"batch\":%d,\"depth\":%d,\"threads\":%d,"
		       "\"seconds\":%.3f,\"ios\":%llu,\"errors\":%llu,\"mib_s\":%.1f,\"iops\":%.0f,"
		       "\"lat_us\":{\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,\"max\":%.0f}}\n",
		       mode, o.bs, o.batch, o.depth, o.threads, dt, (unsigned long long)ios,
		       (unsigned long long)errs, (double)bytes / 1048576 / dt, (double)ios / dt, pct[0],
		       pct[1], pct[2], pct[3]);
	else
		printf("%s bs %zu batch %d depth %d threads %d: %.1f MiB/s, %.0f IOPS, %llu errors, "
		       "latency p50 %.0f us p90 %.0f p99 %.0f max %.0f\n",
		       mode, o.bs, o.batch, o.depth, o.threads, (double)bytes / 1048576 / dt,
		       (double)ios / dt, (unsigned long long)errs, pct[0], pct[1], pct[2], pct[3]);
	free(all);
	free(ws);
	free(ts);
	return errs ? 1 : 0;
}
