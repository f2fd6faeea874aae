/* test_ffrecord.c — the FFRecord library: round trips (0, 1, 100,000 samples; 0 B .. 8 MiB),
 * batches with duplicates and unsorted indices through io_uring and pread, multi-file
 * datasets, every field's corruption detected with the file and sample named, hostile
 * headers without huge allocations, writer misuse, packed-folder index (encode/decode and
 * hostile pickles), a reader used across fork(). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "c3fs/ffrecord.h"
#include "tests/lib/tap.h"

static char dir[256];

static char *path_of(const char *name)
{
	static char p[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

/* sample i's deterministic content and size */
static uint64_t size_of(int64_t i, int big)
{
	if (big && i % 25000 == 7)
		return 8u << 20;   /* four samples of 8 MiB */
	return (uint64_t)((i * 2654435761u) % 97);
}

static void fill(int64_t i, uint8_t *p, uint64_t n)
{
	uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ull + 1;

	for (uint64_t j = 0; j < n; j++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[j] = (uint8_t)x;
	}
}

static int write_ds(const char *p, int64_t n, int counted, int big)
{
	struct c3fs_ffr_writer *w;
	uint8_t *buf = malloc(8u << 20);
	int rc = c3fs_ffr_writer_open(p, counted ? C3FS_FFR_COUNT_AT_CLOSE : n, &w);

	for (int64_t i = 0; i < n && rc == 0; i++) {
		uint64_t s = size_of(i, big);

		fill(i, buf, s);
		rc = c3fs_ffr_writer_append(w, buf, s);
	}
	free(buf);
	if (rc < 0) {
		c3fs_ffr_writer_abort(w);
		return rc;
	}
	return c3fs_ffr_writer_close(w);
}

static int open_r(const char *p, int check, int io, struct c3fs_ffr_reader **r)
{
	struct c3fs_ffr_reader_opts o = { .check_data = check, .io = io };

	return c3fs_ffr_reader_open(p, &o, r);
}

/* read every sample back through read_one and through batches of up to 300 unsorted
 * indices with duplicates; compare with fill() */
static int check_ds(struct c3fs_ffr_reader *r, int64_t n, int big, int64_t (*map)(int64_t))
{
	uint8_t *want = malloc(8u << 20), *got = malloc(8u << 20);
	int bad = 0;

	if (c3fs_ffr_reader_count(r) != n)
		bad++;
	for (int64_t i = 0; i < n && !bad; i += (n > 1000 ? 37 : 1)) {
		uint64_t s = 0, ws = size_of(map ? map(i) : i, big);

		fill(map ? map(i) : i, want, ws);
		if (c3fs_ffr_read_one(r, i, got, 8u << 20, &s) != 0 || s != ws ||
		    memcmp(got, want, ws) != 0)
			bad++;
	}
	for (int64_t start = 0; start < n && !bad; start += 3000) {
		int64_t idx[300];
		void *bufs[300], *block;
		uint64_t sizes[300];
		size_t k = 0;

		for (; k < 300; k++) {   /* unsorted, with duplicates */
			int64_t j = start + (int64_t)((k * 7919) % 3000);

			idx[k] = (k % 10 == 9) ? idx[k - 3] : (j < n ? j : n - 1 - (int64_t)k % n);
		}
		if (c3fs_ffr_read_batch_alloc(r, idx, k, &block, bufs, sizes) != 0) {
			diag("batch: %s", c3fs_ffr_errmsg());
			bad++;
			break;
		}
		for (size_t q = 0; q < k && !bad; q++) {
			int64_t src = map ? map(idx[q]) : idx[q];
			uint64_t ws = size_of(src, big);

			fill(src, want, ws);
			if (sizes[q] != ws || (ws && memcmp(bufs[q], want, ws) != 0))
				bad++;
		}
		free(block);
	}
	free(want);
	free(got);
	return bad == 0;
}

static void test_round_trips(void)
{
	struct c3fs_ffr_reader *r;
	struct stat st;

	is_int(write_ds(path_of("zero.ffr"), 0, 0, 0), 0, "write 0 samples");
	stat(path_of("zero.ffr"), &st);
	is_int(st.st_size, 12, "0 samples: a 12-byte file");
	is_int(open_r(path_of("zero.ffr"), 1, 0, &r), 0, "open 0 samples");
	is_int(c3fs_ffr_reader_count(r), 0, "count 0");
	is_int(c3fs_ffr_read_one(r, 0, NULL, 0, NULL), -ERANGE, "read_one(0) of nothing: ERANGE");
	c3fs_ffr_reader_free(r);

	for (int counted = 0; counted < 2; counted++) {
		const char *p = path_of(counted ? "one_c.ffr" : "one.ffr");

		is_int(write_ds(p, 1, counted, 0), 0, counted ? "write 1 (counted)" : "write 1");
		is_int(open_r(p, 1, 0, &r), 0, "open 1");
		ok(check_ds(r, 1, 0, NULL), "1 sample reads back");
		c3fs_ffr_reader_free(r);
	}
	for (int counted = 0; counted < 2; counted++) {
		const char *p = path_of(counted ? "big_c.ffr" : "big.ffr");

		is_int(write_ds(p, 100000, counted, 1), 0, "write 100,000 samples, 0 B .. 8 MiB");
		for (int io = C3FS_FFR_IO_PREAD; io <= C3FS_FFR_IO_URING; io++) {
			int rc = open_r(p, 1, io, &r);

			if (rc == -EINVAL && io == C3FS_FFR_IO_URING) {
				diag("io_uring unavailable here: %s", c3fs_ffr_errmsg());
				continue;
			}
			is_int(rc, 0, "open 100,000");
			is_str(c3fs_ffr_reader_io(r), io == C3FS_FFR_IO_PREAD ? "pread" : "io_uring",
			       "backend as asked");
			ok(check_ds(r, 100000, 1, NULL), "100,000 samples read back (one + batches)");
			c3fs_ffr_reader_free(r);
		}
	}
	/* the two writers make the same bytes */
	{
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "cmp -s %s %s", path_of("big.ffr"), path_of("big_c.ffr"));
		is_int(system(cmd), 0, "known-N and counted writers: byte-identical files");
	}
}

static int64_t g_first[4];
static int64_t map_multi(int64_t g)
{
	/* file k holds samples written with their local index; the dataset's global g maps
	 * to local g - first[k] */
	int k = 0;

	while (k < 2 && g >= g_first[k + 1])
		k++;
	return g - g_first[k];
}

static void test_multi(void)
{
	struct c3fs_ffr_reader *r;
	struct c3fs_ffr_sample s;
	char d[600];
	int fd;

	snprintf(d, sizeof(d), "%s/multi", dir);
	mkdir(d, 0777);
	write_ds(path_of("multi/b.ffr"), 0, 0, 0);       /* an empty file in the middle */
	write_ds(path_of("multi/a.ffr"), 500, 0, 0);
	write_ds(path_of("multi/c.ffr"), 700, 1, 0);
	fd = open(path_of("multi/notes.txt"), O_CREAT | O_WRONLY, 0666);  /* ignored */
	close(fd);
	g_first[0] = 0;
	g_first[1] = 500;
	g_first[2] = 500;
	g_first[3] = 1200;
	is_int(open_r(d, 1, 0, &r), 0, "open a directory of 3 files");
	is_int(c3fs_ffr_reader_nfiles(r), 3, "3 .ffr files, the .txt ignored");
	ok(strstr(c3fs_ffr_reader_file(r, 0), "/a.ffr") && strstr(c3fs_ffr_reader_file(r, 2), "/c.ffr"),
	   "files sorted by name");
	ok(check_ds(r, 1200, 0, map_multi), "global index over the files");
	c3fs_ffr_reader_stat(r, 500, &s);
	ok(s.file == 2 && s.local == 0, "global 500 = c.ffr sample 0 (the empty b.ffr skipped)");
	c3fs_ffr_reader_free(r);

	snprintf(d, sizeof(d), "%s/nothing", dir);
	mkdir(d, 0777);
	is_int(open_r(d, 1, 0, &r), -ENOENT, "a directory with no .ffr: ENOENT");
	ok(strstr(c3fs_ffr_errmsg(), "nothing") && strstr(c3fs_ffr_errmsg(), "no .ffr"),
	   "... naming the directory");
	is_int(c3fs_ffr_reader_open_files(NULL, 0, NULL, &r), -EINVAL, "empty file list: EINVAL");
}

/* ------------------------------------------------------------------ corruption */

static uint8_t *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	uint8_t *b;
	long n;

	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	*len = fread(b, 1, (size_t)n, f);
	fclose(f);
	return b;
}

static void spit(const char *p, const uint8_t *b, size_t len)
{
	FILE *f = fopen(p, "wb");

	fwrite(b, 1, len, f);
	fclose(f);
}

/* open a mutated copy of the 5-sample file; returns open's rc */
static int open_mut(const uint8_t *b, size_t len, int check, struct c3fs_ffr_reader **r)
{
	spit(path_of("mut.ffr"), b, len);
	return open_r(path_of("mut.ffr"), check, 0, r);
}

static void put64(uint8_t *p, int64_t v)
{
	memcpy(p, &v, 8);
}

static void test_corruption(void)
{
	struct c3fs_ffr_reader *r;
	uint8_t *orig, *b, tmp[64];
	size_t len;
	int64_t n = 5;
	uint64_t s;
	const size_t crcs = 12, offs = 12 + 4 * 5, data = 12 + 12 * 5;

	write_ds(path_of("five.ffr"), n, 0, 0);
	orig = slurp(path_of("five.ffr"), &len);
	b = malloc(len);

	struct { size_t at; const char *what; } flips[] = {
		{ 0, "metadata CRC" }, { 4, "N (low byte)" }, { 11, "N (high byte)" },
		{ crcs + 4, "sample 1's CRC" }, { offs + 8, "sample 1's offset" },
		{ offs + 32 + 7, "sample 4's offset (high byte)" },
	};
	for (size_t k = 0; k < sizeof(flips) / sizeof(flips[0]); k++) {
		char name[128];

		memcpy(b, orig, len);
		b[flips[k].at] ^= 0x40;
		snprintf(name, sizeof(name), "flipped byte in %s: EBADMSG at open", flips[k].what);
		is_int(open_mut(b, len, 1, &r), -EBADMSG, name);
		ok(strstr(c3fs_ffr_errmsg(), "mut.ffr") != NULL, "... naming the file");
		if (k == 0)
			diag("%s", c3fs_ffr_errmsg());
	}

	/* a flipped byte in a sample: found by the read, naming file and index */
	memcpy(b, orig, len);
	c3fs_ffr_reader_open(path_of("five.ffr"), NULL, &r);
	{
		struct c3fs_ffr_sample st;

		c3fs_ffr_reader_stat(r, 3, &st);
		c3fs_ffr_reader_free(r);
		b[st.offset + st.size / 2] ^= 1;
	}
	is_int(open_mut(b, len, 1, &r), 0, "sample byte flipped: the header is still fine");
	is_int(c3fs_ffr_read_one(r, 3, tmp, sizeof(tmp), &s), -EILSEQ, "read_one(3): EILSEQ");
	ok(strstr(c3fs_ffr_errmsg(), "mut.ffr") && strstr(c3fs_ffr_errmsg(), "sample 3"),
	   "... naming file and sample 3");
	diag("%s", c3fs_ffr_errmsg());
	{
		int64_t idx[4] = { 4, 0, 3, 1 };
		void *bufs[4], *block;
		uint64_t sz[4];

		is_int(c3fs_ffr_read_batch_alloc(r, idx, 4, &block, bufs, sz), -EILSEQ,
		       "batch with sample 3: EILSEQ");
		ok(block == NULL && strstr(c3fs_ffr_errmsg(), "sample 3"), "... naming sample 3");
		diag("%s", c3fs_ffr_errmsg());
	}
	is_int(c3fs_ffr_read_one(r, 2, tmp, sizeof(tmp), &s), 0, "other samples still read");
	c3fs_ffr_reader_free(r);
	is_int(open_mut(b, len, 0, &r), 0, "check_data off: opens");
	is_int(c3fs_ffr_read_one(r, 3, tmp, sizeof(tmp), &s), 0, "check_data off: no CRC check");
	c3fs_ffr_reader_free(r);

	/* structure is checked even without CRCs (metadata CRC 0 = not checked) */
	memcpy(b, orig, len);
	memset(b, 0, 4);
	is_int(open_mut(b, len, 1, &r), 0, "metadata CRC 0: not checked");
	c3fs_ffr_reader_free(r);

	memcpy(b, orig, len);
	memset(b, 0, 4);
	{
		int64_t o3;   /* sample 2 starts after sample 3 */

		memcpy(&o3, orig + offs + 24, 8);
		put64(b + offs + 16, o3 + 1);
	}
	is_int(open_mut(b, len, 1, &r), -EBADMSG, "offsets out of order: EBADMSG");
	ok(strstr(c3fs_ffr_errmsg(), "sample 3") && strstr(c3fs_ffr_errmsg(), "out of order"),
	   "... naming sample 3");
	diag("%s", c3fs_ffr_errmsg());

	memcpy(b, orig, len);
	memset(b, 0, 4);
	put64(b + offs + 32, (int64_t)len + 1);
	is_int(open_mut(b, len, 1, &r), -EBADMSG, "offset past the end: EBADMSG");
	ok(strstr(c3fs_ffr_errmsg(), "past the end"), "... saying so");

	memcpy(b, orig, len);
	memset(b, 0, 4);
	put64(b + offs, (int64_t)data + 1);
	is_int(open_mut(b, len, 1, &r), -EBADMSG, "first offset not at the data start: EBADMSG");

	memcpy(b, orig, len);
	put64(b + 4, -1);
	is_int(open_mut(b, len, 0, &r), -EBADMSG, "N negative: EBADMSG");
	ok(strstr(c3fs_ffr_errmsg(), "negative"), "... saying so");
	put64(b + 4, INT64_MAX);
	is_int(open_mut(b, len, 0, &r), -EBADMSG, "N = INT64_MAX: EBADMSG, nothing allocated");
	put64(b + 4, (int64_t)1 << 40);
	is_int(open_mut(b, len, 0, &r), -EBADMSG, "N = 2^40 in a small file: EBADMSG");
	ok(strstr(c3fs_ffr_errmsg(), "cannot fit"), "... saying N cannot fit");
	put64(b + 4, n + 1);
	is_int(open_mut(b, len, 0, &r), -EBADMSG, "N one too many: EBADMSG");

	is_int(open_mut(orig, 7, 1, &r), -EBADMSG, "truncated inside the header: EBADMSG");
	ok(strstr(c3fs_ffr_errmsg(), "truncated"), "... saying truncated");
	is_int(open_mut(orig, 40, 1, &r), -EBADMSG, "truncated inside the index: EBADMSG");
	is_int(open_mut(orig, len - 1, 1, &r), 0, "last byte cut: the index is still valid");
	is_int(c3fs_ffr_read_one(r, 4, tmp, sizeof(tmp), &s), -EILSEQ,
	       "... and the shorter last sample fails its CRC");
	c3fs_ffr_reader_free(r);
	is_int(open_mut(orig, 0, 1, &r), -EBADMSG, "empty file: EBADMSG");
	{
		/* data cut so the last offset is past the end */
		int64_t last;

		memcpy(&last, orig + offs + 32, 8);
		is_int(open_mut(orig, (size_t)last - 1, 0, &r), -EBADMSG,
		       "cut before the last sample: EBADMSG");
	}
	/* trailing garbage after an N=0 header (an unfinished writer) */
	memset(tmp, 0, sizeof(tmp));
	is_int(open_mut(tmp, 40, 1, &r), -EBADMSG, "N=0 with bytes after the header: EBADMSG");

	/* a file shrunk after open */
	is_int(open_r(path_of("five.ffr"), 1, 0, &r), 0, "open five");
	if (truncate(path_of("five.ffr"), (off_t)(len - 10)) == 0) {
		is_int(c3fs_ffr_read_one(r, 4, tmp, sizeof(tmp), &s), -EIO,
		       "file shrank after open: EIO");
		ok(strstr(c3fs_ffr_errmsg(), "sample 4"), "... naming sample 4");
	}
	c3fs_ffr_reader_free(r);
	free(b);
	free(orig);
}

static void test_api_misuse(void)
{
	struct c3fs_ffr_writer *w;
	struct c3fs_ffr_reader *r;
	uint8_t buf[16];
	struct stat st;

	is_int(c3fs_ffr_writer_open(path_of("w.ffr"), 3, &w), 0, "writer for 3");
	c3fs_ffr_writer_append(w, "ab", 2);
	is_int(c3fs_ffr_writer_close(w), -EINVAL, "close after 1 of 3: EINVAL");
	ok(stat(path_of("w.ffr"), &st) != 0, "... and the file is removed");
	c3fs_ffr_writer_open(path_of("w.ffr"), 1, &w);
	c3fs_ffr_writer_append(w, "ab", 2);
	is_int(c3fs_ffr_writer_append(w, "cd", 2), -ERANGE, "append past N: ERANGE");
	is_int(c3fs_ffr_writer_close(w), 0, "close with 1 of 1");
	is_int(c3fs_ffr_writer_open(path_of("w.ffr"), -2, &w), -EINVAL, "N = -2: EINVAL");
	is_int(c3fs_ffr_writer_open(path_of("w.ffr"), INT64_MAX, &w), -EINVAL,
	       "N = INT64_MAX: EINVAL");
	is_int(c3fs_ffr_writer_open(path_of("w.ffr"), INT64_MAX / 16, &w), 0,
	       "N huge but possible: no allocation up front");
	c3fs_ffr_writer_abort(w);
	ok(stat(path_of("w.ffr"), &st) != 0, "abort removes the file");

	write_ds(path_of("misuse.ffr"), 10, 0, 0);
	open_r(path_of("misuse.ffr"), 1, 0, &r);
	{
		int64_t idx[3] = { 1, 10, 2 };
		void *bufs[3] = { buf, buf, buf };
		uint64_t lens[3] = { 16, 16, 16 }, sz[3];
		int64_t big = 0;

		for (int64_t i = 0; i < 10; i++)
			if (size_of(i, 0) > 16) {
				big = i;
				break;
			}
		is_int(c3fs_ffr_read_batch(r, idx, 3, bufs, lens, sz), -ERANGE,
		       "batch with index 10 of 10: ERANGE");
		is_int(c3fs_ffr_read_one(r, -1, buf, 16, NULL), -ERANGE, "index -1: ERANGE");
		is_int(c3fs_ffr_read_one(r, big, buf, 16, &sz[0]), -ENOBUFS,
		       "buffer too small: ENOBUFS");
		is_int(sz[0], size_of(big, 0), "... with the size given");
	}
	c3fs_ffr_reader_free(r);
	is_int(open_r(path_of("does-not-exist.ffr"), 1, 0, &r), -ENOENT, "missing file: ENOENT");
	ok(strstr(c3fs_ffr_errmsg(), "does-not-exist.ffr") != NULL, "... naming it");
}

static void test_fork(void)
{
	struct c3fs_ffr_reader *r;
	int64_t idx[8] = { 7, 1, 1, 3, 0, 9, 2, 7 };
	void *bufs[8], *block;
	uint64_t sz[8];
	int status = -1;
	pid_t pid;

	write_ds(path_of("fork.ffr"), 10, 0, 0);
	open_r(path_of("fork.ffr"), 1, 0, &r);
	is_int(c3fs_ffr_read_batch_alloc(r, idx, 8, &block, bufs, sz), 0, "batch in the parent");
	free(block);
	pid = fork();
	if (pid == 0) {
		int rc = c3fs_ffr_read_batch_alloc(r, idx, 8, &block, bufs, sz);

		free(block);
		c3fs_ffr_reader_free(r);
		_exit(rc == 0 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "batch in a forked child (own ring)");
	is_int(c3fs_ffr_read_batch_alloc(r, idx, 8, &block, bufs, sz), 0,
	       "batch in the parent after the child");
	free(block);
	c3fs_ffr_reader_free(r);
}

/* ------------------------------------------------------------------ packed folders */

static int parse_pickle(const void *p, size_t n, struct c3fs_ffr_folder **f)
{
	uint8_t buf[4096];

	memcpy(buf, C3FS_FFR_FOLDER_MAGIC, C3FS_FFR_FOLDER_MAGIC_LEN);
	memcpy(buf + C3FS_FFR_FOLDER_MAGIC_LEN, p, n);
	return c3fs_ffr_folder_parse(buf, n + C3FS_FFR_FOLDER_MAGIC_LEN, f);
}

static void test_folder(void)
{
	/* root: a/ (x=0, y/ (z=2)), b=1, e/ */
	struct c3fs_ffr_node nodes[7] = {
		{ "", -1, 0, 1, 3 }, { "a", -1, 0, 4, 2 }, { "b", 1, 0, 0, 0 },
		{ "e", -1, 0, 0, 0 }, { "x", 0, 1, 0, 0 }, { "y", -1, 1, 6, 1 },
		{ "z", 2, 5, 0, 0 },
	};
	struct c3fs_ffr_folder *f;
	void *enc;
	size_t enc_len;

	is_int(c3fs_ffr_folder_encode(nodes, 7, &enc, &enc_len), 0, "encode a tree");
	is_int(c3fs_ffr_folder_parse(enc, enc_len, &f), 0, "decode it");
	is_int(c3fs_ffr_folder_count(f), 7, "7 nodes");
	is_int(c3fs_ffr_folder_lookup(f, "a/y/z"), 6, "lookup a/y/z");
	is_int(c3fs_ffr_folder_node(f, 6)->index, 2, "... sample 2");
	is_int(c3fs_ffr_folder_lookup(f, "/a//x"), 4, "lookup /a//x");
	is_int(c3fs_ffr_folder_lookup(f, "a/q"), -ENOENT, "lookup a/q: ENOENT");
	is_int(c3fs_ffr_folder_lookup(f, "b/c"), -ENOENT, "lookup through a file: ENOENT");
	is_str(c3fs_ffr_folder_node(f, 3)->name, "e", "empty dir kept");
	c3fs_ffr_folder_free(f);
	free(enc);

	nodes[2].name = "a";
	is_int(c3fs_ffr_folder_encode(nodes, 7, &enc, &enc_len), -EINVAL, "duplicate name: EINVAL");
	nodes[2].name = "..";
	is_int(c3fs_ffr_folder_encode(nodes, 7, &enc, &enc_len), -EINVAL, "name '..': EINVAL");
	nodes[2].name = "b";
	nodes[5].first_child = 0;
	is_int(c3fs_ffr_folder_encode(nodes, 7, &enc, &enc_len), -EINVAL, "root as a child: EINVAL");
	nodes[5].first_child = 6;

	is_int(c3fs_ffr_folder_parse("piouhjgb", 8, &f), -ENOENT, "no magic: ENOENT");
	{
		/* what Python's pickle.dumps(OrderedDict(a=1, b=OrderedDict(c=300)), 4) is */
		static const uint8_t p4[] = "\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00"
					   "\x8c\x0b" "collections" "\x94" "\x8c\x0b" "OrderedDict"
					   "\x94\x93\x94)R\x94(\x8c\x01" "a\x94K\x01\x8c\x01"
					   "b\x94h\x02)R\x94\x8c\x01" "c\x94M,\x01su.";

		is_int(parse_pickle(p4, sizeof(p4) - 1, &f), 0, "protocol-4 OrderedDict pickle");
		ok(f && c3fs_ffr_folder_lookup(f, "b/c") == 3 &&
		   c3fs_ffr_folder_node(f, 3)->index == 300, "... b/c = 300");
		c3fs_ffr_folder_free(f);
	}
	struct { const char *p; size_t n; const char *what; } hostile[] = {
#define P(s, w) { s, sizeof(s) - 1, w }
		P("\x80\x02" "cos\nsystem\n" "X\x02\x00\x00\x00" "id" "\x85R.", "os.system: EBADMSG"),
		P("\x80\x02" "cbuiltins\neval\n)R.", "builtins.eval: EBADMSG"),
		P("\x80\x02}q\x00X\x01\x00\x00\x00" "ah\x00s.", "dict containing itself"),
		P("\x80\x02}X\x01\x00\x00\x00" "a}q\x01sX\x01\x00\x00\x00" "bh\x01s.", "one dict under two names"),
		P("\x80\x02}X\x01\x00\x00\x00" "aJ\xff\xff\xff\xffs.", "negative index"),
		P("\x80\x02}X\x01\x00\x00\x00" "a]s.", "a list value (EMPTY_LIST)"),
		P("\x80\x02}X\x05\x00\x00\x00" "a", "truncated string"),
		P("\x80\x02}X\x01\x00\x00\x00" "aK\x01", "no STOP"),
		P("\x80\x02}h\x05.", "memo slot not set"),
		P("\x80\x02}X\x02\x00\x00\x00" "..K\x01s.", "name '..'"),
		P("\x80\x02}X\x03\x00\x00\x00" "a/bK\x01s.", "name with '/'"),
		P("\x80\x02}(X\x01\x00\x00\x00" "aK\x01X\x01\x00\x00\x00" "aK\x02u.", "duplicate key"),
		P("\x80\x02K\x01.", "not a dict"),
		P("\x80\x02}s.", "SETITEM underflow"),
#undef P
	};
	for (size_t k = 0; k < sizeof(hostile) / sizeof(hostile[0]); k++) {
		char name[128];

		snprintf(name, sizeof(name), "hostile pickle, %s: EBADMSG", hostile[k].what);
		is_int(parse_pickle(hostile[k].p, hostile[k].n, &f), -EBADMSG, name);
		if (k < 2)
			diag("%s", c3fs_ffr_errmsg());
	}
	{
		/* 300 nested dicts: deeper than allowed */
		uint8_t deep[4096];
		size_t n = 0;

		deep[n++] = 0x80;
		deep[n++] = 2;
		for (int i = 0; i < 300; i++) {
			deep[n++] = '}';
			memcpy(deep + n, "X\x01\x00\x00\x00" "d", 6);
			n += 6;
		}
		deep[n++] = '}';
		for (int i = 0; i < 300; i++)
			deep[n++] = 's';
		deep[n++] = '.';
		is_int(parse_pickle(deep, n, &f), -EBADMSG, "300 nested dicts: EBADMSG");
	}

	/* a packed dataset whose index names a sample past the files */
	{
		struct c3fs_ffr_writer *w;
		struct c3fs_ffr_reader *r;
		struct c3fs_ffr_node bad[2] = { { "", -1, 0, 1, 1 }, { "f", 5, 0, 0, 0 } };

		c3fs_ffr_folder_encode(bad, 2, &enc, &enc_len);
		c3fs_ffr_writer_open(path_of("badidx.ffr"), 2, &w);
		c3fs_ffr_writer_append(w, "x", 1);
		c3fs_ffr_writer_append(w, enc, enc_len);
		c3fs_ffr_writer_close(w);
		free(enc);
		open_r(path_of("badidx.ffr"), 1, 0, &r);
		is_int(c3fs_ffr_folder_open(r, &f), -EBADMSG, "index naming sample 5 of 1: EBADMSG");
		ok(strstr(c3fs_ffr_errmsg(), "badidx.ffr") != NULL, "... naming the file");
		c3fs_ffr_reader_free(r);
	}
}

int main(void)
{
	char cmd[300];

	snprintf(dir, sizeof(dir), "/tmp/c3fs-ffr-test.XXXXXX");
	if (!mkdtemp(dir))
		tap_skip_all("no temp dir");
	ok(c3fs_ffr_crc32(0, "123456789", 9) == 0xcbf43926u, "CRC-32 check value");
	test_round_trips();
	test_multi();
	test_corruption();
	test_api_misuse();
	test_fork();
	test_folder();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
