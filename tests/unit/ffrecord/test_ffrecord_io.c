/* test_ffrecord_io.c — how a reader chooses its batch backend (reader.c, io_usrbio.c):
 * the order of backends per requested io, the names C3FS_FFR_IO and --io accept, the
 * environment overriding AUTO only, an explicit usrbio refused with a clear message off a
 * c3fs mount (the USRBIO path itself runs in tests/integration/ffrecord_c3fs.sh), and
 * reads that still work through what AUTO chose. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "c3fs/ffrecord.h"
#include "ffrecord/ffr_int.h"
#include "tests/lib/tap.h"

static char dir[256];
static char path[300];

static void test_parse(void)
{
	is_int(ffr__io_parse("auto"), C3FS_FFR_IO_AUTO, "parse auto");
	is_int(ffr__io_parse("usrbio"), C3FS_FFR_IO_USRBIO, "parse usrbio");
	is_int(ffr__io_parse("uring"), C3FS_FFR_IO_URING, "parse uring");
	is_int(ffr__io_parse("io_uring"), C3FS_FFR_IO_URING, "parse io_uring");
	is_int(ffr__io_parse("pread"), C3FS_FFR_IO_PREAD, "parse pread");
	is_int(ffr__io_parse("USRBIO"), -1, "names are lower case");
	is_int(ffr__io_parse(""), -1, "empty name refused");
	is_int(ffr__io_parse("usrbio "), -1, "trailing space refused");
	is_int(ffr__io_parse(NULL), -1, "NULL refused");
}

static void test_order(void)
{
	const struct ffr__io_ops *o[3];
	size_t n;

	n = ffr__io_order(C3FS_FFR_IO_AUTO, true, o);
	ok(n == 3 && o[0] == &ffr__io_usrbio && o[1] == &ffr__io_uring && o[2] == &ffr__io_pread,
	   "AUTO on a c3fs mount: usrbio, io_uring, pread");
	n = ffr__io_order(C3FS_FFR_IO_AUTO, false, o);
	ok(n == 2 && o[0] == &ffr__io_uring && o[1] == &ffr__io_pread,
	   "AUTO elsewhere: io_uring, pread");
	n = ffr__io_order(C3FS_FFR_IO_USRBIO, true, o);
	ok(n == 1 && o[0] == &ffr__io_usrbio, "USRBIO: usrbio only");
	n = ffr__io_order(C3FS_FFR_IO_URING, true, o);
	ok(n == 1 && o[0] == &ffr__io_uring, "URING: io_uring only, even on a c3fs mount");
	n = ffr__io_order(C3FS_FFR_IO_PREAD, true, o);
	ok(n == 1 && o[0] == &ffr__io_pread, "PREAD: pread only");
	is_str(ffr__io_usrbio.name, "usrbio", "the backend's name");
}

static int open_io(int io, struct c3fs_ffr_reader **r)
{
	struct c3fs_ffr_reader_opts o = { .check_data = 1, .io = io };

	return c3fs_ffr_reader_open(path, &o, r);
}

/* every sample of the dataset read in one batch equals what was written */
static int batch_ok(struct c3fs_ffr_reader *r)
{
	int64_t idx[40];
	void *bufs[40], *block;
	uint64_t sizes[40];
	int bad = 0;

	for (int i = 0; i < 40; i++)
		idx[i] = (i * 7) % 20;
	if (c3fs_ffr_read_batch_alloc(r, idx, 40, &block, bufs, sizes) < 0)
		return 0;
	for (int i = 0; i < 40; i++) {
		uint8_t want[64];

		memset(want, (int)idx[i], sizeof(want));
		if (sizes[i] != (uint64_t)idx[i] * 3 || memcmp(bufs[i], want, sizes[i]) != 0)
			bad++;
	}
	free(block);
	return bad == 0;
}

static void test_choice_off_mount(void)
{
	struct c3fs_ffr_reader *r;
	const char *io;
	char mp[256];
	int fd, rc;

	unsetenv("C3FS_FFR_IO");
	rc = open_io(C3FS_FFR_IO_USRBIO, &r);
	is_int(rc, -EINVAL, "explicit usrbio on a local file: EINVAL");
	ok(r == NULL, "... no reader");
	ok(strstr(c3fs_ffr_errmsg(), "usrbio requested but unavailable") &&
		   strstr(c3fs_ffr_errmsg(), "not on a c3fs mount") &&
		   strstr(c3fs_ffr_errmsg(), "io.ffr"),
	   "... saying why and naming the file");
	diag("%s", c3fs_ffr_errmsg());

	rc = open_io(C3FS_FFR_IO_AUTO, &r);
	is_int(rc, 0, "AUTO on a local file opens");
	io = rc == 0 ? c3fs_ffr_reader_io(r) : "";
	ok(strcmp(io, "io_uring") == 0 || strcmp(io, "pread") == 0,
	   "... with io_uring or pread, not usrbio");
	diag("AUTO chose %s", io);
	ok(rc == 0 && batch_ok(r), "... and a batch of 40 (repeats, any order) reads back");
	c3fs_ffr_reader_free(r);

	setenv("C3FS_FFR_IO", "pread", 1);
	rc = open_io(C3FS_FFR_IO_AUTO, &r);
	ok(rc == 0 && strcmp(c3fs_ffr_reader_io(r), "pread") == 0, "C3FS_FFR_IO=pread sets AUTO");
	ok(rc == 0 && batch_ok(r), "... and reads");
	c3fs_ffr_reader_free(r);

	setenv("C3FS_FFR_IO", "usrbio", 1);
	rc = open_io(C3FS_FFR_IO_AUTO, &r);
	is_int(rc, -EINVAL, "C3FS_FFR_IO=usrbio off a c3fs mount: EINVAL (an explicit choice)");
	rc = open_io(C3FS_FFR_IO_PREAD, &r);
	ok(rc == 0 && strcmp(c3fs_ffr_reader_io(r), "pread") == 0,
	   "an explicit opts.io wins over C3FS_FFR_IO");
	c3fs_ffr_reader_free(r);

	setenv("C3FS_FFR_IO", "fast", 1);
	rc = open_io(C3FS_FFR_IO_AUTO, &r);
	is_int(rc, -EINVAL, "C3FS_FFR_IO=fast: EINVAL");
	ok(strstr(c3fs_ffr_errmsg(), "C3FS_FFR_IO=fast") != NULL, "... naming the variable");
	setenv("C3FS_FFR_IO", "", 1);
	rc = open_io(C3FS_FFR_IO_AUTO, &r);
	ok(rc == 0 && strcmp(c3fs_ffr_reader_io(r), "usrbio") != 0,
	   "C3FS_FFR_IO empty: as unset");
	c3fs_ffr_reader_free(r);
	unsetenv("C3FS_FFR_IO");

	rc = open_io(4, &r);
	is_int(rc, -EINVAL, "io 4: EINVAL");
	rc = open_io(-1, &r);
	is_int(rc, -EINVAL, "io -1: EINVAL");

	fd = open(path, O_RDONLY);
	{
		const char *paths[1] = { path };

		is_int(ffr__usrbio_mount(paths, &fd, 1, mp, sizeof(mp)), -ENODEV,
		       "ffr__usrbio_mount of a local file: ENODEV");
	}
	close(fd);
	{
		struct ffr__io io_ctx = { .ops = &ffr__io_usrbio };

		is_int(ffr__io_usrbio.open(&io_ctx, 16), -ENODEV,
		       "usrbio backend without a mount point: ENODEV");
	}
}

int main(void)
{
	struct c3fs_ffr_writer *w;
	char cmd[300];

	snprintf(dir, sizeof(dir), "/tmp/c3fs-ffr-io-test.XXXXXX");
	if (!mkdtemp(dir))
		tap_skip_all("no temp dir");
	snprintf(path, sizeof(path), "%s/io.ffr", dir);
	if (c3fs_ffr_writer_open(path, 20, &w) < 0)
		tap_skip_all("cannot write a dataset");
	for (int i = 0; i < 20; i++) {
		uint8_t b[64];

		memset(b, i, sizeof(b));
		c3fs_ffr_writer_append(w, b, (size_t)i * 3);
	}
	ok(c3fs_ffr_writer_close(w) == 0, "dataset of 20 samples written");
	test_parse();
	test_order();
	test_choice_off_mount();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
