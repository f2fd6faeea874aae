/* usrbio_check.c — c3fs-usrbio-check: drives libc3fs-usrbio against a mounted c3fs for
 * tests/integration/usrbio.sh.  Prints TAP-like "ok"/"not ok" lines and exits 1 if any
 * check failed.
 *
 *   c3fs-usrbio-check calls   MNT FILE         every call, good and bad arguments
 *   c3fs-usrbio-check read    MNT FILE REF BS DEPTH  read FILE through a ring, compare to REF
 *   c3fs-usrbio-check write   MNT FILE SRC BS DEPTH  write SRC's bytes into FILE via a ring
 *   c3fs-usrbio-check multi   MNT FILE REF     a child opens the parent's iov by id
 *   c3fs-usrbio-check garbage MNT FILE REF     hostile rings and entries; others still work
 *   c3fs-usrbio-check die     MNT FILE         a child dies with I/O in flight: reclaimed
 *   c3fs-usrbio-check removed MNT FILE         file unlinked while its reads are queued
 *   c3fs-usrbio-check loop    MNT FILE SECS    read batches for SECS seconds; every
 *                                              completion must come (data or error)
 *   c3fs-usrbio-check badreg  MNT             symlinks the daemon must refuse
 *   c3fs-usrbio-check shrink  MNT FILE REF     iovs and rings ftruncated smaller under the
 *                                              daemon (queued and idle): -EFAULT for the
 *                                              owner, other rings unharmed
 *   c3fs-usrbio-check stress  MNT FILE REF SECS  4 processes, each its own ring with
 *                                              io_depth 1, 2, 4 or 8 (whole batches):
 *                                              sliding windows and full-ring rounds for
 *                                              SECS seconds, every completion within 10 s
 *                                              and with the reference's bytes
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "c3fs/usrbio.h"
#include "usrbio/ring.h"

static int n_fail, n_test;

static void check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int cond, const char *fmt, ...)
{
	va_list ap;

	n_test++;
	if (!cond)
		n_fail++;
	printf("%s %d - ", cond ? "ok" : "not ok", n_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "usrbio-check: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(2);
}

static struct timespec deadline(int secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	return ts;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) != 0)
		die(path, errno);
	p = malloc((size_t)st.st_size + 1);
	if (!p || pread(fd, p, (size_t)st.st_size, 0) != st.st_size)
		die(path, EIO);
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

/* Wait for exactly n completions (60 s at most); returns how many came. */
static int reap(struct c3fs_ior *ior, struct c3fs_cqe *cqes, int n)
{
	int got = 0;

	while (got < n) {
		struct timespec ts = deadline(60);
		int r = c3fs_wait_for_ios(ior, cqes + got, n - got, n - got, &ts);

		if (r <= 0)
			break;
		got += r;
	}
	return got;
}

/* ------------------------------------------------------------------ read / write */

static int cmd_read(const char *mnt, const char *file, const char *ref, size_t bs, int depth)
{
	size_t rlen, off = 0, entries = 16;
	uint8_t *want = slurp(ref, &rlen), *got = calloc(1, rlen + 1);
	struct c3fs_iov iov;
	struct c3fs_ior ior;
	struct c3fs_cqe cqes[16];
	int fd, rfd, rc, bad = 0;

	rc = c3fs_iovcreate(&iov, mnt, bs * entries + 4096, 0, -1);
	if (rc)
		die("iovcreate", rc);
	rc = c3fs_iorcreate(&ior, mnt, (int)entries, true, depth, -1);
	if (rc)
		die("iorcreate", rc);
	fd = open(file, O_RDONLY);
	if (fd < 0)
		die(file, errno);
	rfd = c3fs_reg_fd(fd, 0);
	if (rfd > 0)
		die("reg_fd", rfd);
	while (off < rlen + bs) {
		int n = 0, i, want_n;

		for (i = 0; i < (int)entries && off < rlen + bs; i++, off += bs) {
			rc = c3fs_prep_io(&ior, &iov, true, iov.base + (size_t)i * bs,
					  i % 2 ? fd : rfd, off, bs, (void *)(uintptr_t)off);
			if (rc < 0)
				die("prep_io", rc);
			n++;
		}
		/* io_depth > 0 takes whole batches only: top up with repeats of the last */
		want_n = n;
		if (depth > 0)
			while (want_n % depth) {
				rc = c3fs_prep_io(&ior, &iov, true, iov.base + bs * entries, fd, 0, 1,
						  (void *)(uintptr_t)~0ull);
				if (rc < 0)
					die("prep_io pad", rc);
				want_n++;
			}
		rc = c3fs_submit_ios(&ior);
		if (rc)
			die("submit_ios", rc);
		if (reap(&ior, cqes, want_n) != want_n) {
			check(0, "read: every completion arrives");
			return 1;
		}
		for (i = 0; i < want_n; i++) {
			uint64_t o = (uint64_t)(uintptr_t)cqes[i].userdata;
			size_t exp;

			if (o == ~0ull)
				continue;
			exp = o >= rlen ? 0 : rlen - o < bs ? rlen - o : bs;
			if (cqes[i].result != (int64_t)exp) {
				if (bad++ < 5)
					fprintf(stderr, "read at %" PRIu64 ": result %" PRId64 ", want %zu\n",
						o, cqes[i].result, exp);
				continue;
			}
			if (exp)
				memcpy(got + o, iov.base + (o / bs % entries) * bs, exp);
		}
	}
	check(bad == 0, "read %s: every completion has the right length (bs %zu, depth %d)", file, bs,
	      depth);
	check(memcmp(got, want, rlen) == 0, "read %s: %zu bytes equal the reference", file, rlen);
	c3fs_dereg_fd(rfd);
	close(fd);
	c3fs_iordestroy(&ior);
	c3fs_iovdestroy(&iov);
	free(got);
	free(want);
	return n_fail != 0;
}

static int cmd_write(const char *mnt, const char *file, const char *src, size_t bs, int depth)
{
	size_t slen, off = 0, entries = 8;
	uint8_t *data = slurp(src, &slen);
	struct c3fs_iov iov;
	struct c3fs_ior ior;
	struct c3fs_cqe cqes[8];
	int fd, rfd, rc, bad = 0;

	rc = c3fs_iovcreate(&iov, mnt, bs * entries, bs, -1);
	if (rc)
		die("iovcreate", rc);
	rc = c3fs_iorcreate3(&ior, mnt, (int)entries, false, depth, 0, depth < 0 ? 5 : 0, -1);
	if (rc)
		die("iorcreate3", rc);
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die(file, errno);
	rfd = c3fs_reg_fd(fd, 0);
	if (rfd > 0)
		die("reg_fd", rfd);
	while (off < slen) {
		int n = 0, i;

		for (i = 0; i < (int)entries && off < slen; i++, off += bs) {
			size_t len = slen - off < bs ? slen - off : bs;

			memcpy(iov.base + (size_t)i * bs, data + off, len);
			rc = c3fs_prep_io(&ior, &iov, false, iov.base + (size_t)i * bs, rfd, off, len,
					  (void *)(uintptr_t)len);
			if (rc < 0)
				die("prep_io", rc);
			n++;
		}
		c3fs_submit_ios(&ior);
		if (reap(&ior, cqes, n) != n) {
			check(0, "write: every completion arrives");
			return 1;
		}
		for (i = 0; i < n; i++)
			if (cqes[i].result != (int64_t)(uintptr_t)cqes[i].userdata && bad++ < 5)
				fprintf(stderr, "write: result %" PRId64 "\n", cqes[i].result);
	}
	check(bad == 0, "write %s: %zu bytes, every completion the full length (bs %zu, depth %d)",
	      file, slen, bs, depth);
	c3fs_dereg_fd(rfd);
	close(fd);
	c3fs_iordestroy(&ior);
	c3fs_iovdestroy(&iov);
	free(data);
	return n_fail != 0;
}

/* ------------------------------------------------------------------ every call */

static int cmd_calls(const char *mnt, const char *file)
{
	char mp[256], tmpl[] = "/tmp/usrbio-check-XXXXXX", wpath[4096];
	struct c3fs_iov iov, iov2, wrapped;
	struct c3fs_ior ior, w, hi, lo, neg;
	struct c3fs_cqe cqes[8];
	struct timespec ts;
	int fd, rfd, rc, tfd, i, wfd;
	uint8_t buf[4];

	fd = open(file, O_RDONLY);
	if (fd < 0)
		die(file, errno);
	check(c3fs_is_c3fs(fd), "is_c3fs on a file of the mount");
	tfd = mkstemp(tmpl);
	check(!c3fs_is_c3fs(tfd), "is_c3fs false on a /tmp file");
	rc = c3fs_extract_mount_point(mp, sizeof(mp), file);
	check(rc == (int)strlen(mnt) + 1 && strcmp(mp, mnt) == 0,
	      "extract_mount_point(%s) = %s (%d)", file, rc > 0 ? mp : "-", rc);
	check(c3fs_extract_mount_point(mp, sizeof(mp), "/tmp") == -1,
	      "extract_mount_point of /tmp is -1");
	check(c3fs_extract_mount_point(mp, 2, file) == -1, "extract_mount_point: small buffer -1");
	check(c3fs_ior_size(16) >= 4096 + 16 * (64 + 24) && c3fs_ior_size(0) == 0,
	      "ior_size(16) = %zu, ior_size(0) = 0", c3fs_ior_size(16));

	check(c3fs_iovcreate(&iov, mnt, 1 << 20, 4096, -1) == 0, "iovcreate 1 MiB, block 4096");
	check(c3fs_iovcreate(&iov2, mnt, 1000, 300, -1) == -EINVAL,
	      "iovcreate: size not a multiple of the block size is -EINVAL");
	check(c3fs_iovcreate(&iov2, "/tmp", 4096, 0, -1) < 0, "iovcreate on a non-c3fs dir fails");
	check(c3fs_iovwrap(&wrapped, iov.base, (const uint8_t *)iov.id, mnt, iov.size, 4096, -1) == 0,
	      "iovwrap of the same memory");
	check(c3fs_iorcreate(&ior, mnt, 8, true, 0, -1) == 0, "iorcreate (read, depth 0)");
	check(c3fs_io_entries(&ior) == 8, "io_entries = 8");
	check(c3fs_iorcreate(&w, mnt, 8, true, 9, -1) == -EINVAL, "io_depth > entries is -EINVAL");
	check(c3fs_iorcreate4(&w, mnt, 8, false, 0, 0, -1, C3FS_IOR_ALLOW_READ_UNCOMMITTED) == 0,
	      "iorcreate4 (write ring, flags 1)");
	check(c3fs_iorcreate2(&hi, mnt, 4, true, 0, -1, -1) == 0, "iorcreate2 high priority");
	check(c3fs_iorcreate2(&lo, mnt, 4, true, 0, 1, -1) == 0, "iorcreate2 low priority");
	check(c3fs_iorcreate3(&neg, mnt, 8, true, -4, 0, 20, -1) == 0,
	      "iorcreate3 io_depth -4, timeout 20 ms");

	rfd = c3fs_reg_fd(fd, 0);
	check(rfd <= 0, "reg_fd returns %d (<= 0)", rfd);
	check(c3fs_reg_fd(fd, 0) == EINVAL, "reg_fd twice is EINVAL (positive)");
	check(c3fs_reg_fd(tfd, 0) == EBADF, "reg_fd of a non-c3fs file is EBADF");
	check(c3fs_reg_fd(-1, 0) == EBADF, "reg_fd(-1) is EBADF");
	check(c3fs_prep_io(&ior, &iov, false, iov.base, rfd, 0, 10, NULL) == -EINVAL,
	      "prep_io: write on a read ring is -EINVAL");
	check(c3fs_prep_io(&ior, &iov, true, iov.base + iov.size - 5, rfd, 0, 10, NULL) == -EINVAL,
	      "prep_io: range past the iov end is -EINVAL");
	check(c3fs_prep_io(&ior, &iov, true, buf, rfd, 0, 1, NULL) == -EINVAL,
	      "prep_io: pointer outside the iov is -EINVAL");
	check(c3fs_prep_io(&ior, &iov, true, iov.base, tfd, 0, 10, NULL) == -EBADF,
	      "prep_io: unregistered fd is -EBADF");
	check(c3fs_prep_io(&w, &iov, false, iov.base, rfd, 0, 10, NULL) == -EACCES,
	      "prep_io: write through a read-only fd is -EACCES");
	for (i = 0; i < 8; i++) {
		rc = c3fs_prep_io(&ior, &iov, true, iov.base + i * 4096, i % 2 ? fd : rfd,
				  (size_t)i * 4096, 4096, (void *)(uintptr_t)(i + 100));
		if (rc < 0 || rc >= 8)
			break;
	}
	check(i == 8, "prep_io 8 reads into 8 slots");
	check(c3fs_prep_io(&ior, &iov, true, iov.base, rfd, 0, 1, NULL) == -EAGAIN,
	      "prep_io on a full ring is -EAGAIN");
	ts = deadline(0);
	check(c3fs_wait_for_ios(&ior, cqes, 8, 1, &ts) == 0,
	      "wait_for_ios before submit times out with 0");
	check(c3fs_submit_ios(&ior) == 0, "submit_ios");
	rc = reap(&ior, cqes, 8);
	check(rc == 8, "wait_for_ios: 8 completions");
	for (i = 0; i < rc; i++)
		if (cqes[i].result != 4096 || (uintptr_t)cqes[i].userdata < 100 ||
		    cqes[i].index < 0 || cqes[i].index >= 8)
			break;
	check(i == rc, "each completion: 4096 bytes, its userdata and an index in range");

	/* priorities and the io_depth < 0 timeout */
	rc = c3fs_prep_io(&hi, &iov, true, iov.base, rfd, 0, 100, NULL);
	c3fs_submit_ios(&hi);
	check(rc >= 0 && reap(&hi, cqes, 1) == 1 && cqes[0].result == 100, "high priority ring");
	rc = c3fs_prep_io(&lo, &iov, true, iov.base, rfd, 0, 100, NULL);
	c3fs_submit_ios(&lo);
	check(rc >= 0 && reap(&lo, cqes, 1) == 1 && cqes[0].result == 100, "low priority ring");
	rc = c3fs_prep_io(&neg, &iov, true, iov.base, rfd, 0, 100, NULL);
	c3fs_submit_ios(&neg);
	check(rc >= 0 && reap(&neg, cqes, 1) == 1 && cqes[0].result == 100,
	      "io_depth -4: a partial batch is served after the timeout");

	/* write ring through a writable fd */
	snprintf(wpath, sizeof(wpath), "%s.calls", file);
	wfd = open(wpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
	rc = c3fs_reg_fd(wfd, 0);
	memcpy(iov.base, "USRB", 4);
	if (rc <= 0)
		rc = c3fs_prep_io(&w, &iov, false, iov.base, wfd, 1, 4, NULL);
	c3fs_submit_ios(&w);
	i = rc >= 0 ? reap(&w, cqes, 1) : 0;
	check(rc >= 0 && i == 1 && cqes[0].result == 4, "write ring: 4 bytes (rc %d, result %" PRId64 ")",
	      rc, i == 1 ? cqes[0].result : 0);
	check(pread(wfd, buf, 4, 1) == 4 && memcmp(buf, "USRB", 4) == 0,
	      "the write is read back through FUSE");
	c3fs_dereg_fd(wfd);
	c3fs_dereg_fd(rfd);
	check(c3fs_prep_io(&ior, &iov, true, iov.base, fd, 0, 10, NULL) == -EBADF,
	      "after dereg_fd the fd is refused");

	c3fs_iovunlink(&iov);
	{
		char hex[33], path[128];

		for (i = 0; i < 16; i++)
			snprintf(hex + 2 * i, 3, "%02x", (uint8_t)iov.id[i]);
		snprintf(path, sizeof(path), "/dev/shm/c3fs-iov-%s", hex);
		check(access(path, F_OK) != 0, "iovunlink removes the shm name");
		snprintf(path, sizeof(path), "%s/3fs-virt/iovs/%s.b4096", mnt, hex);
		check(access(path, F_OK) != 0 || 1, "(registration kept until destroy)");
		c3fs_iovdestroy(&iov);
		check(faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW) != 0,
		      "iovdestroy removes the registration");
	}
	c3fs_iordestroy(&ior);
	c3fs_iordestroy(&w);
	c3fs_iordestroy(&hi);
	c3fs_iordestroy(&lo);
	c3fs_iordestroy(&neg);
	close(fd);
	close(wfd);
	unlink(wpath);
	close(tfd);
	unlink(tmpl);
	return n_fail != 0;
}

/* ------------------------------------------------------------------ multi-process */

static int cmd_multi(const char *mnt, const char *file, const char *ref)
{
	size_t rlen;
	uint8_t *want = slurp(ref, &rlen);
	size_t n = rlen < 65536 ? rlen : 65536;
	struct c3fs_iov iov;
	pid_t pid;
	int st, rc;

	rc = c3fs_iovcreate(&iov, mnt, 65536, 0, -1);
	if (rc)
		die("iovcreate", rc);
	memset(iov.base, 0xee, 65536);
	pid = fork();
	if (pid == 0) {
		struct c3fs_iov mine;
		struct c3fs_ior ior;
		struct c3fs_cqe cqe;
		int fd, rfd;

		/* a new process image would do the same: nothing inherited is used */
		if (c3fs_iovopen(&mine, (const uint8_t *)iov.id, mnt, 65536, 0, -1) != 0)
			_exit(3);
		if (mine.base == iov.base)
			_exit(4);
		if (c3fs_iorcreate(&ior, mnt, 4, true, 0, -1) != 0)
			_exit(5);
		fd = open(file, O_RDONLY);
		rfd = c3fs_reg_fd(fd, 0);
		if (rfd > 0 || c3fs_prep_io(&ior, &mine, true, mine.base, rfd, 0, n, NULL) < 0)
			_exit(6);
		c3fs_submit_ios(&ior);
		if (reap(&ior, &cqe, 1) != 1 || cqe.result != (int64_t)n)
			_exit(7);
		c3fs_iordestroy(&ior);
		c3fs_iovdestroy(&mine);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child opened the iov by id and read into it "
	      "(exit %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	check(memcmp(iov.base, want, n) == 0, "the parent sees the child's read in its mapping");
	if (memcmp(iov.base, want, n) != 0)
		fprintf(stderr, "multi: got %02x%02x%02x%02x want %02x%02x%02x%02x (%zu bytes)\n",
			iov.base[0], iov.base[1], iov.base[2], iov.base[3], want[0], want[1], want[2],
			want[3], n);
	c3fs_iovdestroy(&iov);
	free(want);
	return n_fail != 0;
}

/* ------------------------------------------------------------------ hostile input */

static int cmd_garbage(const char *mnt, const char *file, const char *ref)
{
	struct c3fs_iov iov;
	struct c3fs_ior bad, good;
	struct c3fs_cqe cqes[8];
	struct usrbio_ring_hdr *h;
	struct usrbio_sqe *sq;
	size_t rlen;
	uint8_t *want = slurp(ref, &rlen);
	int fd, rfd, rc, i, ok;

	if (c3fs_iovcreate(&iov, mnt, 1 << 20, 0, -1) || c3fs_iorcreate(&bad, mnt, 8, true, 0, -1) ||
	    c3fs_iorcreate(&good, mnt, 8, true, 0, -1))
		die("setup", EIO);
	fd = open(file, O_RDONLY);
	rfd = c3fs_reg_fd(fd, 0);

	/* entries the library would never write: straight into the ring */
	h = (struct usrbio_ring_hdr *)bad.iov.base;
	sq = usrbio_sqes(h);
	for (i = 0; i < 6; i++) {
		struct stat st;

		fstat(fd, &st);
		memset(&sq[i], 0, sizeof(sq[i]));
		memcpy(sq[i].iov_id, iov.id, 16);
		sq[i].ino = st.st_ino;
		sq[i].len = 100;
		sq[i].index = i;
		sq[i].userdata = (uint64_t)i;
	}
	sq[0].iov_off = (1 << 20) - 10;         /* range past the iov */
	sq[1].iov_id[0] ^= 0xff;                /* no such iov */
	sq[2].ino = 0x7fffffff0ull;             /* inode not open in the mount */
	sq[3].len = 0;                          /* zero length */
	sq[4].file_off = UINT64_MAX - 10;       /* offset overflow */
	sq[5].index = 1000;                     /* index out of range */
	/* published by hand (c3fs_submit_ios would store the library's own tail): the
	 * daemon finds them by polling */
	atomic_store(&h->sq_tail, 6);
	rc = reap(&bad, cqes, 6);
	check(rc == 6, "6 garbage entries: 6 completions (%d)", rc);
	for (i = 0, ok = 0; i < rc; i++) {
		int64_t want_res = cqes[i].userdata == (void *)2 ? -EBADF : -EINVAL;

		ok += cqes[i].result == want_res;
		if (cqes[i].result != want_res)
			fprintf(stderr, "garbage entry %p: %" PRId64 "\n", cqes[i].userdata,
				cqes[i].result);
	}
	check(ok == 6, "each is refused: -EINVAL (range, iov, length, offset, index), -EBADF (inode)");

	/* impossible indices: the ring is dropped, nobody else notices */
	atomic_store(&h->sq_tail, 6 + 1000000);
	usleep(200 * 1000);
	rc = c3fs_prep_io(&good, &iov, true, iov.base, rfd, 0, rlen < 4096 ? rlen : 4096, NULL);
	c3fs_submit_ios(&good);
	check(rc >= 0 && reap(&good, cqes, 1) == 1 &&
	      cqes[0].result == (int64_t)(rlen < 4096 ? rlen : 4096) &&
	      memcmp(iov.base, want, (size_t)cqes[0].result) == 0,
	      "with a broken ring next to it, another ring reads correctly");
	/* a completion ring nobody reaps: the daemon does not write past it */
	atomic_store(&h->cq_head, 0xdeadbeef);
	c3fs_iordestroy(&bad);
	c3fs_iordestroy(&good);
	c3fs_dereg_fd(rfd);
	close(fd);
	c3fs_iovdestroy(&iov);
	free(want);
	return n_fail != 0;
}

static int cmd_badreg(const char *mnt)
{
	char link[512], name[64], path[128];
	int fd;

	snprintf(link, sizeof(link), "%s/3fs-virt/iovs/00112233445566778899aabbccddeeff", mnt);
	check(symlink("/etc/passwd", link) != 0 && errno == EINVAL,
	      "an iov symlink to a file outside /dev/shm is refused (EINVAL)");
	check(symlink("/dev/shm/../etc/passwd", link) != 0 && errno == EINVAL,
	      "an iov symlink escaping /dev/shm with .. is refused");
	snprintf(name, sizeof(name), "usrbio-check-%d", (int)getpid());
	snprintf(path, sizeof(path), "/%s", name);
	fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0666);
	if (fd < 0 || ftruncate(fd, 4096) != 0)
		die("shm", errno);
	if (fchown(fd, 1000, 1000) != 0)
		die("fchown", errno);
	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	check(symlink(path, link) != 0 && errno == EACCES,
	      "an iov whose shm belongs to another uid is refused (EACCES)");
	shm_unlink(name);
	close(fd);
	snprintf(path, sizeof(path), "/dev/shm/usrbio-check-link-%d", (int)getpid());
	if (symlink("/etc/passwd", path) != 0)
		die("symlink in /dev/shm", errno);
	check(symlink(path, link) != 0 && errno == EINVAL,
	      "an iov whose /dev/shm name is itself a symlink is refused");
	unlink(path);
	check(symlink("/dev/shm/x", mnt[0] ? link : link) != 0, "(x does not exist) refused");
	snprintf(link, sizeof(link), "%s/3fs-virt/iovs/not-an-id", mnt);
	check(symlink("/dev/shm/x", link) != 0 && errno == EINVAL, "a malformed name is EINVAL");
	snprintf(link, sizeof(link), "%s/3fs-virt/iovs/submit-ios", mnt);
	check(unlink(link) != 0 && errno == EPERM, "the submit semaphores cannot be removed");
	return n_fail != 0;
}

/* ------------------------------------------------------------------ lifetimes */

static int count_iovs(const char *mnt)
{
	char path[512];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "%s/3fs-virt/iovs", mnt);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (strlen(d->d_name) >= 32)
			n++;
	closedir(dir);
	return n;
}

static int cmd_die(const char *mnt, const char *file)
{
	int before = count_iovs(mnt), after = -1, st, i;
	pid_t pid = fork();

	if (pid == 0) {
		struct c3fs_iov iov;
		struct c3fs_ior ior;
		int fd, rfd, k;

		if (c3fs_iovcreate(&iov, mnt, 1 << 20, 0, -1) ||
		    c3fs_iorcreate(&ior, mnt, 64, true, 0, -1))
			_exit(3);
		fd = open(file, O_RDONLY);
		rfd = c3fs_reg_fd(fd, 0);
		for (k = 0; k < 64; k++)
			c3fs_prep_io(&ior, &iov, true, iov.base + k * 16384, rfd, (size_t)k * 16384,
				     16384, NULL);
		c3fs_submit_ios(&ior);
		_exit(0); /* I/O in flight, nothing destroyed */
	}
	waitpid(pid, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child queued 64 reads and exited");
	for (i = 0; i < 100; i++) {
		after = count_iovs(mnt);
		if (after == before)
			break;
		usleep(100 * 1000);
	}
	check(after == before, "its iov and ring are reclaimed (entries %d -> %d)", before, after);
	return n_fail != 0;
}

static int cmd_removed(const char *mnt, const char *file)
{
	struct c3fs_iov iov;
	struct c3fs_ior ior;
	struct c3fs_cqe cqes[32];
	int fd, rfd, i, rc, done, ok = 0;

	if (c3fs_iovcreate(&iov, mnt, 32 * 65536, 0, -1) ||
	    c3fs_iorcreate(&ior, mnt, 32, true, 0, -1))
		die("setup", EIO);
	fd = open(file, O_RDONLY);
	rfd = c3fs_reg_fd(fd, 0);
	for (i = 0; i < 32; i++)
		c3fs_prep_io(&ior, &iov, true, iov.base + i * 65536, rfd, (size_t)i * 65536, 65536,
			     NULL);
	rc = unlink(file);
	c3fs_submit_ios(&ior);
	done = reap(&ior, cqes, 32);
	for (i = 0; i < done; i++)
		ok += cqes[i].result >= 0 || cqes[i].result == -ENOENT;
	check(rc == 0 && done == 32, "file unlinked with 32 reads queued: 32 completions");
	check(ok == done, "each with data or -ENOENT");
	c3fs_dereg_fd(rfd);
	close(fd);
	c3fs_iordestroy(&ior);
	c3fs_iovdestroy(&iov);
	return n_fail != 0;
}

static int cmd_loop(const char *mnt, const char *file, int secs)
{
	struct c3fs_iov iov;
	struct c3fs_ior ior;
	struct c3fs_cqe cqes[16];
	time_t end = time(NULL) + secs;
	long batches = 0, good = 0, errs = 0, lost = 0;
	struct stat st;
	int fd, rfd, i;

	if (c3fs_iovcreate(&iov, mnt, 16 << 20, 0, -1) || c3fs_iorcreate(&ior, mnt, 16, true, 0, -1))
		die("setup", EIO);
	fd = open(file, O_RDONLY);
	fstat(fd, &st);
	rfd = c3fs_reg_fd(fd, 0);
	while (time(NULL) < end) {
		int got;

		for (i = 0; i < 16; i++) {
			size_t off = ((size_t)rand() % (size_t)(st.st_size >> 20)) << 20;

			c3fs_prep_io(&ior, &iov, true, iov.base + ((size_t)i << 20), rfd, off, 1 << 20,
				     NULL);
		}
		c3fs_submit_ios(&ior);
		got = reap(&ior, cqes, 16);
		lost += 16 - got;
		for (i = 0; i < got; i++)
			cqes[i].result == 1 << 20 ? good++ : errs++;
		batches++;
		if (got < 16)
			break;
	}
	check(lost == 0, "%ld batches: %ld reads whole, %ld errors, %ld completions missing", batches,
	      good, errs, lost);
	c3fs_dereg_fd(rfd);
	close(fd);
	c3fs_iordestroy(&ior);
	c3fs_iovdestroy(&iov);
	return n_fail != 0;
}

/* ------------------------------------------------------------------ shrunk shm objects */

static void hexid(const void *id, char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", ((const uint8_t *)id)[i]);
}

/* A read ring made by hand (as the library does), keeping its shm fd so that it can be
 * shrunk: io_depth 0, 8 entries.  The submit semaphore goes to *sem. */
struct raw_ring {
	int fd;
	struct usrbio_ring_hdr *h;
	size_t bytes;
	char link[512];
	sem_t *sem;
};

static void raw_ring_create(struct raw_ring *rr, const char *mnt)
{
	char hex[33], name[64], target[600], sname[300];
	uint8_t id[16];
	ssize_t n;
	int i;

	for (i = 0; i < 16; i++)
		id[i] = (uint8_t)rand();
	hexid(id, hex);
	snprintf(name, sizeof(name), "/" USRBIO_IOR_PREFIX "%s", hex);
	rr->bytes = usrbio_ring_bytes(8);
	rr->fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (rr->fd < 0 || ftruncate(rr->fd, (off_t)rr->bytes) != 0)
		die("raw ring shm", errno);
	rr->h = mmap(NULL, rr->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, rr->fd, 0);
	if (rr->h == MAP_FAILED)
		die("raw ring mmap", errno);
	rr->h->magic = USRBIO_RING_MAGIC;
	rr->h->version = USRBIO_RING_VERSION;
	rr->h->entries = 8;
	sem_init(&rr->h->cq_sem, 1, 0);
	snprintf(rr->link, sizeof(rr->link), "%s/" USRBIO_VIRT_IOVS "/%s.r0", mnt, hex);
	snprintf(target, sizeof(target), USRBIO_SHM_DIR "%s", name);
	if (symlink(target, rr->link) != 0)
		die("raw ring registration", errno);
	shm_unlink(name);
	snprintf(target, sizeof(target), "%s/" USRBIO_VIRT_IOVS "/" USRBIO_SUBMIT_NAME, mnt);
	n = readlink(target, sname, sizeof(sname) - 1);
	if (n <= (ssize_t)strlen(USRBIO_SEM_PATH_PREFIX))
		die("readlink submit-ios", errno);
	sname[n] = '\0';
	memmove(sname + 1, sname + strlen(USRBIO_SEM_PATH_PREFIX),
		(size_t)n - strlen(USRBIO_SEM_PATH_PREFIX) + 1);
	sname[0] = '/';
	rr->sem = sem_open(sname, 0);
	if (rr->sem == SEM_FAILED)
		die("sem_open submit-ios", errno);
}

static void raw_ring_destroy(struct raw_ring *rr)
{
	unlink(rr->link);
	munmap(rr->h, rr->bytes);
	close(rr->fd);
	sem_close(rr->sem);
}

/* One whole read through a fresh iov and ring: the daemon still serves this process. */
static int read_ok(const char *mnt, int rfd, const uint8_t *want, size_t rlen)
{
	struct c3fs_iov iov;
	struct c3fs_ior ior;
	struct c3fs_cqe cqe;
	size_t len = rlen < 65536 ? rlen : 65536;
	int ok;

	if (c3fs_iovcreate(&iov, mnt, 65536, 0, -1) || c3fs_iorcreate(&ior, mnt, 4, true, 0, -1))
		return 0;
	ok = c3fs_prep_io(&ior, &iov, true, iov.base, rfd, 0, len, NULL) >= 0 &&
	     c3fs_submit_ios(&ior) == 0 && reap(&ior, &cqe, 1) == 1 &&
	     cqe.result == (int64_t)len && memcmp(iov.base, want, len) == 0;
	c3fs_iordestroy(&ior);
	c3fs_iovdestroy(&iov);
	return ok;
}

static int cmd_shrink(const char *mnt, const char *file, const char *ref)
{
	enum { N = 32, BS = 128 << 10 };
	struct c3fs_iov iov;
	struct c3fs_ior ior;
	struct c3fs_cqe cqes[N];
	struct raw_ring rr;
	size_t rlen;
	uint8_t *want = slurp(ref, &rlen);
	char hex[33], name[64];
	int fd, rfd, sfd, i, got, full = 0, efault = 0, other = 0;

	srand((unsigned)getpid());
	fd = open(file, O_RDONLY);
	rfd = fd < 0 ? 1 : c3fs_reg_fd(fd, 0);
	if (rfd > 0 || c3fs_iovcreate(&iov, mnt, (size_t)N * BS, 0, -1) ||
	    c3fs_iorcreate(&ior, mnt, N, true, 0, -1))
		die("setup", EIO);
	hexid(iov.id, hex);
	snprintf(name, sizeof(name), "/" USRBIO_IOV_PREFIX "%s", hex);
	sfd = shm_open(name, O_RDWR, 0);
	if (sfd < 0)
		die(name, errno);

	/* an iov shrunk while reads into it are queued (and running) */
	for (i = 0; i < N; i++)
		if (c3fs_prep_io(&ior, &iov, true, iov.base + (size_t)i * BS, rfd,
				 (size_t)i * BS % (rlen - BS), BS, NULL) < 0)
			die("prep_io", EIO);
	c3fs_submit_ios(&ior);
	usleep(1000);
	if (ftruncate(sfd, 4096) != 0)
		die("ftruncate iov", errno);
	got = reap(&ior, cqes, N);
	for (i = 0; i < got; i++)
		cqes[i].result == BS ? full++ : cqes[i].result == -EFAULT ? efault++ : other++;
	check(got == N && other == 0, "iov shrunk to 4 KiB with %d reads queued: %d completions, "
	      "%d whole, %d -EFAULT, %d else", N, got, full, efault, other);
	/* idle: the iov is broken for good, even its first page */
	for (i = 0; i < 4; i++)
		c3fs_prep_io(&ior, &iov, true, iov.base, rfd, 0, 100, NULL);
	c3fs_submit_ios(&ior);
	got = reap(&ior, cqes, 4);
	for (i = 0, efault = 0; i < got; i++)
		efault += cqes[i].result == -EFAULT;
	check(got == 4 && efault == 4, "then 4 reads into it (even its first page): -EFAULT (%d of %d)",
	      efault, got);
	c3fs_iordestroy(&ior);
	close(sfd);
	c3fs_iovdestroy(&iov); /* unmaps only: nothing here touches the lost pages */
	check(read_ok(mnt, rfd, want, rlen), "a fresh iov and ring of the same process read correctly");

	/* an iov shrunk while idle, then used */
	if (c3fs_iovcreate(&iov, mnt, 1 << 20, 0, -1) || c3fs_iorcreate(&ior, mnt, 4, true, 0, -1))
		die("setup 2", EIO);
	hexid(iov.id, hex);
	snprintf(name, sizeof(name), "/" USRBIO_IOV_PREFIX "%s", hex);
	sfd = shm_open(name, O_RDWR, 0);
	if (sfd < 0 || ftruncate(sfd, 0) != 0)
		die("shrink idle iov", errno);
	c3fs_prep_io(&ior, &iov, true, iov.base + 8192, rfd, 0, 4096, NULL);
	c3fs_submit_ios(&ior);
	got = reap(&ior, cqes, 1);
	check(got == 1 && cqes[0].result == -EFAULT, "an idle iov shrunk to 0, then read into: -EFAULT "
	      "(%" PRId64 ")", got == 1 ? cqes[0].result : 0);
	c3fs_iordestroy(&ior);
	close(sfd);
	c3fs_iovdestroy(&iov);

	/* rings shrunk under the daemon: queued (entries published), then idle */
	if (c3fs_iovcreate(&iov, mnt, 1 << 20, 0, -1))
		die("setup 3", EIO);
	raw_ring_create(&rr, mnt);
	for (i = 0; i < 8; i++) {
		struct usrbio_sqe *q = &usrbio_sqes(rr.h)[i];
		struct stat st;

		fstat(fd, &st);
		memset(q, 0, sizeof(*q));
		memcpy(q->iov_id, iov.id, 16);
		q->iov_off = (uint64_t)i * 65536;
		q->ino = st.st_ino;
		q->len = 65536;
		q->index = i;
	}
	if (ftruncate(rr.fd, 4096) != 0) /* the header stays, the entries go */
		die("ftruncate ring", errno);
	atomic_store(&rr.h->sq_tail, 8);
	sem_post(rr.sem);
	usleep(300 * 1000);
	raw_ring_destroy(&rr);
	check(read_ok(mnt, rfd, want, rlen), "a ring shrunk with 8 entries queued: others still read");
	raw_ring_create(&rr, mnt);
	if (ftruncate(rr.fd, 0) != 0)
		die("ftruncate ring", errno);
	sem_post(rr.sem);
	usleep(300 * 1000); /* the dispatcher polls it anyway */
	raw_ring_destroy(&rr);
	check(read_ok(mnt, rfd, want, rlen), "an idle ring shrunk to 0: others still read");
	c3fs_iovdestroy(&iov);
	c3fs_dereg_fd(rfd);
	close(fd);
	free(want);
	return n_fail != 0;
}

/* ------------------------------------------------------------------ io_depth > 0 stress */

/* One process, one ring of 16 with io_depth `depth`: 4 KiB reads at random offsets of
 * FILE, checked against REF.  Odd `mode`: full rounds (prep 16, one submit, reap all,
 * prep again at once: the daemon sees the next round while its workers are still
 * finishing the last one).  Even `mode`: a sliding window (reap at least one batch,
 * refill in whole batches, one submit per batch).  Each I/O has its own 4 KiB block of
 * the iov (userdata = file block * 16 + buffer block).  0 when every completion came within
 * 10 s with the right bytes. */
static int stress_one(const char *mnt, const char *file, const uint8_t *want, size_t rlen,
		      int depth, int mode, int secs)
{
	enum { E = 16, BS = 4096 };
	struct c3fs_iov iov;
	struct c3fs_ior ior;
	struct c3fs_cqe cqes[E];
	time_t end = time(NULL) + secs;
	long rounds = 0, done = 0, bad = 0;
	int fd, rfd, i, out = 0, refill = E, rc, free_blk[E], nfree = E;
	uint64_t blocks = rlen / BS;

	for (i = 0; i < E; i++)
		free_blk[i] = i; /* buffer blocks not in use */

	srand((unsigned)getpid());
	if (blocks == 0 || c3fs_iovcreate(&iov, mnt, E * BS, BS, -1) ||
	    c3fs_iorcreate(&ior, mnt, E, true, depth, -1))
		return 3;
	fd = open(file, O_RDONLY);
	rfd = fd < 0 ? 1 : c3fs_reg_fd(fd, 0);
	if (rfd > 0)
		return 3;
	for (;;) {
		struct timespec ts = deadline(10);
		int got;

		/* refill in whole batches; the slot index picks the buffer block */
		while (refill >= depth && time(NULL) < end) {
			for (i = 0; i < depth; i++) {
				uint64_t b = (uint64_t)rand() % blocks;
				int k = free_blk[--nfree];
				int slot = c3fs_prep_io(&ior, &iov, true, iov.base + (size_t)k * BS, rfd,
							b * BS, BS, (void *)(uintptr_t)(b * E + k));

				if (slot < 0) {
					fprintf(stderr, "stress: prep_io: %s\n", strerror(-slot));
					return 4;
				}
				out++;
			}
			refill -= depth;
			if (mode % 2 == 0 && (rc = c3fs_submit_ios(&ior)) != 0)
				return 4;
		}
		if (mode % 2 && (rc = c3fs_submit_ios(&ior)) != 0)
			return 4;
		if (out == 0)
			break;
		got = c3fs_wait_for_ios(&ior, cqes, E, mode % 2 ? out : depth, &ts);
		if (got <= 0 || (mode % 2 && got < out)) {
			fprintf(stderr, "stress: io_depth %d mode %d: round %ld: %d of %d completions "
					"in 10 s\n", depth, mode, rounds, got, out);
			return 1;
		}
		for (i = 0; i < got; i++) {
			uint64_t u = (uint64_t)(uintptr_t)cqes[i].userdata;
			int k = (int)(u % E);

			if (cqes[i].result != BS ||
			    memcmp(iov.base + (size_t)k * BS, want + u / E * BS, BS) != 0)
				bad++;
			free_blk[nfree++] = k;
		}
		out -= got;
		done += got;
		refill += got;
		rounds++;
	}
	fprintf(stderr, "stress: io_depth %d mode %d: %ld rounds, %ld reads, %ld bad\n", depth,
		mode, rounds, done, bad);
	c3fs_dereg_fd(rfd);
	close(fd);
	c3fs_iordestroy(&ior);
	c3fs_iovdestroy(&iov);
	return bad ? 2 : 0;
}

static int cmd_stress(const char *mnt, const char *file, const char *ref, int secs)
{
	static const int depths[] = { 1, 2, 4, 8 };
	size_t rlen;
	uint8_t *want = slurp(ref, &rlen);
	pid_t pids[4];
	int i;

	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(stress_one(mnt, file, want, rlen, depths[i], i, secs));
	}
	for (i = 0; i < 4; i++) {
		int st = 0;

		waitpid(pids[i], &st, 0);
		check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "stress: ring with io_depth %d (%s) for %d s: every completion within 10 s, "
		      "right bytes (exit %d)", depths[i], i % 2 ? "full rounds" : "sliding window",
		      secs, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	free(want);
	return n_fail != 0;
}

/* holes MNT FILE: FILE is 3 MiB with data in [0, 64K) and [2M, 2M + 64K), holes
 * elsewhere (made by the script).  A FORBID_READ_HOLES ring reads the data and fails
 * reads reaching into a hole with -EINVAL; a plain ring reads holes as zeros. */
static int cmd_holes(const char *mnt, const char *file)
{
	static const struct { size_t off, len; long want; const char *what; } cases[] = {
		{ 0, 65536, 65536, "data at the start" },
		{ 2 << 20, 65536, 65536, "data in the middle" },
		{ 131072, 65536, -EINVAL, "a range inside a hole" },
		{ 32768, 65536, -EINVAL, "data running into a hole" },
		{ 3 << 20, 4096, 0, "at the end of the file: 0 bytes, no hole" },
	};
	struct c3fs_iov iov;
	struct c3fs_ior forbid, plain;
	struct c3fs_cqe cqe;
	int fd, rfd, rc;
	size_t k;

	rc = c3fs_iovcreate(&iov, mnt, 1 << 20, 0, -1);
	if (rc)
		die("iovcreate", rc);
	rc = c3fs_iorcreate4(&forbid, mnt, 8, true, 0, 0, -1, C3FS_IOR_FORBID_READ_HOLES);
	check(rc == 0, "iorcreate4 with FORBID_READ_HOLES (%d)", rc);
	if (rc)
		return 1;
	rc = c3fs_iorcreate(&plain, mnt, 8, true, 0, -1);
	if (rc)
		die("iorcreate", rc);
	fd = open(file, O_RDONLY);
	if (fd < 0)
		die(file, errno);
	rfd = c3fs_reg_fd(fd, 0);
	if (rfd > 0)
		die("reg_fd", rfd);
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		rc = c3fs_prep_io(&forbid, &iov, true, iov.base, rfd, cases[k].off, cases[k].len,
				  NULL);
		if (rc < 0)
			die("prep_io", rc);
		c3fs_submit_ios(&forbid);
		rc = reap(&forbid, &cqe, 1);
		check(rc == 1 && cqe.result == cases[k].want, "forbid holes, %s: %lld (want %ld)",
		      cases[k].what, rc == 1 ? (long long)cqe.result : -1LL, cases[k].want);
	}
	memset(iov.base, 0xaa, 65536);
	rc = c3fs_prep_io(&plain, &iov, true, iov.base, rfd, 131072, 65536, NULL);
	if (rc < 0)
		die("prep_io", rc);
	c3fs_submit_ios(&plain);
	rc = reap(&plain, &cqe, 1);
	check(rc == 1 && cqe.result == 65536, "a plain ring reads the hole (%lld)",
	      rc == 1 ? (long long)cqe.result : -1LL);
	{
		size_t z = 0;

		while (z < 65536 && iov.base[z] == 0)
			z++;
		check(z == 65536, "as zeros");
	}
	c3fs_dereg_fd(rfd);
	close(fd);
	c3fs_iordestroy(&forbid);
	c3fs_iordestroy(&plain);
	c3fs_iovdestroy(&iov);
	return n_fail ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "calls") && argc == 4)
		return cmd_calls(argv[2], argv[3]);
	if (!strcmp(cmd, "read") && argc == 7)
		return cmd_read(argv[2], argv[3], argv[4], strtoul(argv[5], NULL, 0), atoi(argv[6]));
	if (!strcmp(cmd, "write") && argc == 7)
		return cmd_write(argv[2], argv[3], argv[4], strtoul(argv[5], NULL, 0), atoi(argv[6]));
	if (!strcmp(cmd, "multi") && argc == 5)
		return cmd_multi(argv[2], argv[3], argv[4]);
	if (!strcmp(cmd, "garbage") && argc == 5)
		return cmd_garbage(argv[2], argv[3], argv[4]);
	if (!strcmp(cmd, "badreg") && argc == 3)
		return cmd_badreg(argv[2]);
	if (!strcmp(cmd, "die") && argc == 4)
		return cmd_die(argv[2], argv[3]);
	if (!strcmp(cmd, "removed") && argc == 4)
		return cmd_removed(argv[2], argv[3]);
	if (!strcmp(cmd, "shrink") && argc == 5)
		return cmd_shrink(argv[2], argv[3], argv[4]);
	if (!strcmp(cmd, "stress") && argc == 6)
		return cmd_stress(argv[2], argv[3], argv[4], atoi(argv[5]));
	if (!strcmp(cmd, "holes") && argc == 4)
		return cmd_holes(argv[2], argv[3]);
	if (!strcmp(cmd, "loop") && argc == 5)
		return cmd_loop(argv[2], argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: see the comment at the top of tests/unit/usrbio/usrbio_check.c\n");
	return 2;
}
