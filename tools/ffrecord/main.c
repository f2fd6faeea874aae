/* c3fs-ffrecord — FFRecord datasets from the command line (include/c3fs/ffrecord.h).
 *
 *   c3fs-ffrecord pack [--shards N] DIR OUT     pack a directory tree as a packed folder:
 *                                               OUT.ffr, or N files OUT/part-NNNNN.ffr
 *   c3fs-ffrecord verify [--json] PATH          every CRC; exit 1 naming the first bad one
 *   c3fs-ffrecord ls [--json] [--samples] PATH  N, sizes, packed-folder tree when present
 *   c3fs-ffrecord cat PATH INDEX|NAME...        raw samples to stdout (one batch)
 *   c3fs-ffrecord unpack PATH DIR               packed folder -> tree (else DIR/<index>)
 *
 * PATH is a .ffr file or a directory of them (one dataset).  `--io usrbio|uring|pread|auto`
 * before the command (or among verify's options) chooses how batches are read
 * (enum c3fs_ffr_io; default auto, which the environment's C3FS_FFR_IO may set).  Exit:
 * 0 ok, 1 failure (the message on stderr, or in the JSON), 2 bad usage.  pack and verify draw a progress line
 * on stderr when it is a terminal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "c3fs/ffrecord.h"

#define BATCH_SAMPLES 256
#define BATCH_BYTES (64u << 20)

static const char *prog = "c3fs-ffrecord";
static int io_mode = C3FS_FFR_IO_AUTO;   /* --io */

static int usage(void)
{
	fprintf(stderr,
		"usage: %s [--io usrbio|uring|pread|auto] COMMAND ...\n"
		"       %s pack [--shards N] DIR OUT\n"
		"       %s verify [--json] [--io MODE] PATH\n"
		"       %s ls [--json] [--samples] PATH\n"
		"       %s cat PATH INDEX|NAME...\n"
		"       %s unpack PATH DIR\n",
		prog, prog, prog, prog, prog, prog);
	return 2;
}

static int fail(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, c3fs_ffr_errmsg());
	return 1;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* ------------------------------------------------------------------ progress */

struct progress {
	bool on;
	const char *what;
	int64_t total;
	struct timespec last;
};

static void progress_init(struct progress *p, const char *what, int64_t total)
{
	p->on = isatty(STDERR_FILENO);
	p->what = what;
	p->total = total;
	p->last.tv_sec = 0;
	p->last.tv_nsec = 0;
}

static void progress_show(struct progress *p, int64_t done, uint64_t bytes, bool final)
{
	struct timespec now;
	char bar[31];
	int fill;

	if (!p->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!final && (now.tv_sec - p->last.tv_sec) * 1000000000L +
			      (now.tv_nsec - p->last.tv_nsec) < 100000000L)
		return;
	p->last = now;
	fill = p->total > 0 ? (int)(30 * done / p->total) : 30;
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(30 - fill));
	bar[30] = '\0';
	fprintf(stderr, "\r%s [%s] %" PRId64 "/%" PRId64 " samples, %.1f MiB", p->what, bar,
		done, p->total, (double)bytes / 1048576.0);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

/* ------------------------------------------------------------------ pack */

struct tnode {
	char *name;
	char *path;
	bool dir;
	int64_t index;
	uint64_t size;
	struct tnode *kids;
	size_t nkids;
};

struct packer {
	struct tnode **files;  /* in sample order */
	size_t nfiles, cap;
	uint64_t bytes;
	uint32_t nnodes;
};

static int cmp_dirent(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dots(const struct dirent *e)
{
	return strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
}

static void tnode_free(struct tnode *t)
{
	for (size_t i = 0; i < t->nkids; i++)
		tnode_free(&t->kids[i]);
	free(t->kids);
	free(t->name);
	free(t->path);
}

/* Depth first in name order, as package.py's dump_structure: indices in this order. */
static int scan(struct packer *pk, struct tnode *t, int depth)
{
	struct dirent **list;
	int n = scandir(t->path, &list, skip_dots, cmp_dirent), rc = 0;

	if (n < 0) {
		fprintf(stderr, "%s: pack: %s: %s\n", prog, t->path, strerror(errno));
		return 1;
	}
	if (depth > 200) {
		fprintf(stderr, "%s: pack: %s: nested too deep\n", prog, t->path);
		rc = 1;
	}
	t->kids = calloc((size_t)n + 1, sizeof(*t->kids));
	if (!t->kids)
		rc = 1;
	for (int i = 0; i < n; i++) {
		struct tnode *k = &t->kids[t->nkids];
		struct stat st;

		if (rc) {
			free(list[i]);
			continue;
		}
		memset(k, 0, sizeof(*k));
		k->name = strdup(list[i]->d_name);
		if (!k->name || asprintf(&k->path, "%s/%s", t->path, list[i]->d_name) < 0) {
			free(k->name);
			rc = 1;
			free(list[i]);
			continue;
		}
		free(list[i]);
		if (stat(k->path, &st) != 0) {
			fprintf(stderr, "%s: pack: %s: %s\n", prog, k->path, strerror(errno));
			tnode_free(k);
			rc = 1;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			k->dir = true;
			k->index = -1;
			t->nkids++;
			pk->nnodes++;
			rc = scan(pk, k, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			if (pk->nfiles == pk->cap) {
				size_t cap = pk->cap ? pk->cap * 2 : 1024;
				struct tnode **v = realloc(pk->files, cap * sizeof(*v));

				if (!v) {
					tnode_free(k);
					rc = 1;
					continue;
				}
				pk->files = v;
				pk->cap = cap;
			}
			k->index = (int64_t)pk->nfiles;
			k->size = (uint64_t)st.st_size;
			pk->bytes += k->size;
			t->nkids++;
			pk->nnodes++;
			pk->files[pk->nfiles++] = k;
		} else {
			fprintf(stderr, "%s: pack: %s: not a file or directory, skipped\n", prog,
				k->path);
			tnode_free(k);
		}
	}
	free(list);
	return rc;
}

/* The tree in the library's node layout (breadth first). */
static struct c3fs_ffr_node *to_nodes(struct tnode *root, uint32_t n)
{
	struct c3fs_ffr_node *nodes = calloc(n, sizeof(*nodes));
	struct tnode **q = calloc(n, sizeof(*q));
	uint32_t len = 1;

	if (!nodes || !q) {
		free(nodes);
		free(q);
		return NULL;
	}
	q[0] = root;
	nodes[0].name = "";
	nodes[0].index = -1;
	for (uint32_t i = 0; i < len; i++) {
		struct tnode *t = q[i];

		if (!t->dir)
			continue;
		nodes[i].first_child = len;
		nodes[i].n_children = (uint32_t)t->nkids;
		for (size_t k = 0; k < t->nkids; k++) {
			q[len] = &t->kids[k];
			nodes[len].name = t->kids[k].name;
			nodes[len].index = t->kids[k].dir ? -1 : t->kids[k].index;
			nodes[len].parent = i;
			len++;
		}
	}
	free(q);
	return nodes;
}

static int read_file(const char *path, uint64_t size, uint8_t **buf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t done = 0;
	uint8_t *p;

	if (fd < 0)
		return -errno;
	p = malloc(size ? size : 1);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	while (done < size) {
		ssize_t r = read(fd, p + done, size - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? -errno : -EIO;

			free(p);
			close(fd);
			return e == -EIO ? -ESTALE : e;  /* shrank while packing */
		}
		done += (uint64_t)r;
	}
	close(fd);
	*buf = p;
	return 0;
}

static int cmd_pack(int argc, char **argv)
{
	struct packer pk = { 0 };
	struct tnode root = { 0 };
	struct c3fs_ffr_node *nodes = NULL;
	struct progress pr;
	void *index = NULL;
	size_t index_len = 0;
	long shards = 0;
	int64_t total, next = 0;
	uint64_t bytes = 0;
	int rc = 1, a = 1;

	for (; a < argc && argv[a][0] == '-'; a++) {
		char *end;

		if (strcmp(argv[a], "--shards") == 0 && a + 1 < argc) {
			shards = strtol(argv[++a], &end, 10);
			if (*end || shards < 1 || shards > 100000)
				return usage();
		} else {
			return usage();
		}
	}
	if (argc - a != 2)
		return usage();
	root.dir = true;
	root.index = -1;
	root.path = strdup(argv[a]);
	root.name = strdup("");
	pk.nnodes = 1;
	if (!root.path || !root.name || scan(&pk, &root, 0) != 0)
		goto out;
	nodes = to_nodes(&root, pk.nnodes);
	if (!nodes || c3fs_ffr_folder_encode(nodes, pk.nnodes, &index, &index_len) < 0) {
		fail("pack: index");
		goto out;
	}
	total = (int64_t)pk.nfiles + 1;
	if (shards > 0 && mkdir(argv[a + 1], 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "%s: pack: %s: %s\n", prog, argv[a + 1], strerror(errno));
		goto out;
	}
	progress_init(&pr, "pack", total);
	for (long s = 0; s < (shards > 0 ? shards : 1); s++) {
		int64_t end = shards > 0 ? total * (s + 1) / shards : total;
		struct c3fs_ffr_writer *w;
		char *path;

		if (shards > 0) {
			if (asprintf(&path, "%s/part-%05ld.ffr", argv[a + 1], s) < 0)
				goto out;
		} else if (!(path = strdup(argv[a + 1]))) {
			goto out;
		}
		if (c3fs_ffr_writer_open(path, end - next, &w) < 0) {
			free(path);
			fail("pack");
			goto out;
		}
		free(path);
		for (; next < end; next++) {
			uint8_t *buf = NULL;
			uint64_t len;
			int e;

			if (next == total - 1) {
				buf = index;
				len = index_len;
			} else {
				struct tnode *f = pk.files[next];

				len = f->size;
				e = read_file(f->path, len, &buf);
				if (e < 0) {
					fprintf(stderr, "%s: pack: %s: %s\n", prog, f->path,
						e == -ESTALE ? "file shrank while packing"
							     : strerror(-e));
					c3fs_ffr_writer_abort(w);
					goto out;
				}
			}
			e = c3fs_ffr_writer_append(w, buf, len);
			if (buf != index)
				free(buf);
			if (e < 0) {
				fail("pack");
				c3fs_ffr_writer_abort(w);
				goto out;
			}
			bytes += len;
			progress_show(&pr, next + 1, bytes, false);
		}
		if (c3fs_ffr_writer_close(w) < 0) {
			fail("pack");
			goto out;
		}
	}
	progress_show(&pr, total, bytes, true);
	rc = 0;
out:
	free(index);
	free(nodes);
	free(pk.files);
	tnode_free(&root);
	return rc;
}

/* ------------------------------------------------------------------ verify */

/* --io's argument: 0 with io_mode set, or 2 (usage) after saying why. */
static int set_io(const char *name)
{
	static const struct {
		const char *name;
		int io;
	} modes[] = {
		{ "auto", C3FS_FFR_IO_AUTO },   { "usrbio", C3FS_FFR_IO_USRBIO },
		{ "uring", C3FS_FFR_IO_URING }, { "io_uring", C3FS_FFR_IO_URING },
		{ "pread", C3FS_FFR_IO_PREAD },
	};

	for (size_t i = 0; name && i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(name, modes[i].name) == 0) {
			io_mode = modes[i].io;
			return 0;
		}
	}
	fprintf(stderr, "%s: --io %s: not one of usrbio, uring, pread, auto\n", prog,
		name ? name : "(missing)");
	return 2;
}

static int open_reader(const char *path, int check, struct c3fs_ffr_reader **r)
{
	struct c3fs_ffr_reader_opts o = { .check_data = check, .io = io_mode };

	return c3fs_ffr_reader_open(path, &o, r);
}

static int cmd_verify(int argc, char **argv)
{
	struct c3fs_ffr_reader *r = NULL;
	bool json = false;
	int64_t n, i = 0, bad = -1;
	uint64_t bytes = 0;
	int64_t idx[BATCH_SAMPLES];
	void *bufs[BATCH_SAMPLES];
	uint64_t sizes[BATCH_SAMPLES];
	struct progress pr;
	char msg[1024] = "";
	int a = 1, rc = 0;

	for (; a < argc && argv[a][0] == '-'; a++) {
		if (strcmp(argv[a], "--json") == 0)
			json = true;
		else if (strcmp(argv[a], "--io") == 0 && a + 1 < argc) {
			if (set_io(argv[++a]) != 0)
				return 2;
		} else
			return usage();
	}
	if (argc - a != 1)
		return usage();
	rc = open_reader(argv[a], 1, &r);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "%s", c3fs_ffr_errmsg());
		n = 0;
		goto report;
	}
	n = c3fs_ffr_reader_count(r);
	progress_init(&pr, "verify", n);
	while (i < n && rc == 0) {
		uint64_t batch_bytes = 0;
		size_t k = 0;
		void *block;

		while (i + (int64_t)k < n && k < BATCH_SAMPLES && batch_bytes < BATCH_BYTES) {
			struct c3fs_ffr_sample s;

			c3fs_ffr_reader_stat(r, i + (int64_t)k, &s);
			idx[k] = i + (int64_t)k;
			k++;
			batch_bytes += s.size;
		}
		rc = c3fs_ffr_read_batch_alloc(r, idx, k, &block, bufs, sizes);
		if (rc < 0) {
			int batch_rc = rc;

			/* the batch's own message stands when every sample reads alone (a
			 * failure of the batch path, e.g. a USRBIO ring whose daemon is gone) */
			snprintf(msg, sizeof(msg), "%s", c3fs_ffr_errmsg());
			/* name the first bad sample of the batch */
			for (size_t j = 0; j < k; j++) {
				struct c3fs_ffr_sample s;
				void *one;

				c3fs_ffr_reader_stat(r, idx[j], &s);
				one = malloc(s.size ? s.size : 1);
				if (!one)
					break;
				rc = c3fs_ffr_read_one(r, idx[j], one, s.size, NULL);
				free(one);
				if (rc < 0) {
					bad = idx[j];
					snprintf(msg, sizeof(msg), "%s", c3fs_ffr_errmsg());
					break;
				}
			}
			if (rc == 0)
				rc = batch_rc;
			break;
		}
		free(block);
		bytes += batch_bytes;
		i += (int64_t)k;
		progress_show(&pr, i, bytes, false);
	}
	if (rc == 0)
		progress_show(&pr, n, bytes, true);
	else if (pr.on)
		fputc('\n', stderr);
report:
	if (json) {
		printf("{\"ok\":%s,\"samples\":%" PRId64 ",\"checked\":%" PRId64
		       ",\"bytes\":%" PRIu64,
		       rc == 0 ? "true" : "false", n, rc == 0 ? n : i, bytes);
		if (r)
			printf(",\"io\":\"%s\"", c3fs_ffr_reader_io(r));
		if (bad >= 0)
			printf(",\"bad_index\":%" PRId64, bad);
		if (rc != 0) {
			printf(",\"error\":");
			json_str(stdout, msg);
		}
		printf("}\n");
	} else if (rc == 0) {
		printf("ok: %" PRId64 " samples, %" PRIu64 " bytes, every checksum matches "
		       "(batches: %s)\n", n, bytes, c3fs_ffr_reader_io(r));
	} else {
		fprintf(stderr, "%s: verify: %s\n", prog, msg);
	}
	c3fs_ffr_reader_free(r);
	return rc == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ ls */

static void tree_text(struct c3fs_ffr_reader *r, const struct c3fs_ffr_folder *f, uint32_t d,
		      int depth)
{
	const struct c3fs_ffr_node *dn = c3fs_ffr_folder_node(f, d);

	for (uint32_t c = dn->first_child; c < dn->first_child + dn->n_children; c++) {
		const struct c3fs_ffr_node *k = c3fs_ffr_folder_node(f, c);

		printf("  %*s", 2 * depth, "");
		if (k->index < 0) {
			printf("%s/\n", k->name);
			tree_text(r, f, c, depth + 1);
		} else {
			struct c3fs_ffr_sample s;

			c3fs_ffr_reader_stat(r, k->index, &s);
			printf("%s  [%" PRId64 "] %" PRIu64 " bytes\n", k->name, k->index, s.size);
		}
	}
}

static void tree_json(struct c3fs_ffr_reader *r, const struct c3fs_ffr_folder *f, uint32_t d)
{
	const struct c3fs_ffr_node *dn = c3fs_ffr_folder_node(f, d);

	printf("{");
	for (uint32_t c = dn->first_child; c < dn->first_child + dn->n_children; c++) {
		const struct c3fs_ffr_node *k = c3fs_ffr_folder_node(f, c);

		if (c > dn->first_child)
			printf(",");
		json_str(stdout, k->name);
		printf(":");
		if (k->index < 0) {
			tree_json(r, f, c);
		} else {
			struct c3fs_ffr_sample s;

			c3fs_ffr_reader_stat(r, k->index, &s);
			printf("{\"index\":%" PRId64 ",\"size\":%" PRIu64 "}", k->index, s.size);
		}
	}
	printf("}");
}

static int cmd_ls(int argc, char **argv)
{
	struct c3fs_ffr_reader *r;
	struct c3fs_ffr_folder *f = NULL;
	bool json = false, samples = false;
	uint64_t total = 0, mn = UINT64_MAX, mx = 0;
	int64_t n;
	int a = 1, rc;

	for (; a < argc && argv[a][0] == '-'; a++) {
		if (strcmp(argv[a], "--json") == 0)
			json = true;
		else if (strcmp(argv[a], "--samples") == 0)
			samples = true;
		else
			return usage();
	}
	if (argc - a != 1)
		return usage();
	if (open_reader(argv[a], 0, &r) < 0)
		return fail("ls");
	n = c3fs_ffr_reader_count(r);
	for (int64_t i = 0; i < n; i++) {
		struct c3fs_ffr_sample s;

		c3fs_ffr_reader_stat(r, i, &s);
		total += s.size;
		mn = s.size < mn ? s.size : mn;
		mx = s.size > mx ? s.size : mx;
	}
	if (n == 0)
		mn = 0;
	rc = c3fs_ffr_folder_open(r, &f);
	if (rc < 0 && rc != -ENOENT) {
		fprintf(stderr, "%s: ls: packed-folder index unreadable: %s\n", prog,
			c3fs_ffr_errmsg());
		c3fs_ffr_reader_free(r);
		return 1;
	}
	if (json) {
		printf("{\"samples\":%" PRId64 ",\"bytes\":%" PRIu64 ",\"min_size\":%" PRIu64
		       ",\"max_size\":%" PRIu64 ",\"files\":[",
		       n, total, mn, mx);
		for (size_t k = 0; k < c3fs_ffr_reader_nfiles(r); k++) {
			struct stat st;

			stat(c3fs_ffr_reader_file(r, k), &st);
			printf("%s{\"path\":", k ? "," : "");
			json_str(stdout, c3fs_ffr_reader_file(r, k));
			printf(",\"bytes\":%lld}", (long long)st.st_size);
		}
		printf("]");
		if (samples) {
			printf(",\"sizes\":[");
			for (int64_t i = 0; i < n; i++) {
				struct c3fs_ffr_sample s;

				c3fs_ffr_reader_stat(r, i, &s);
				printf("%s%" PRIu64, i ? "," : "", s.size);
			}
			printf("]");
		}
		printf(",\"folder\":");
		if (f)
			tree_json(r, f, 0);
		else
			printf("null");
		printf("}\n");
	} else {
		printf("samples: %" PRId64 "\nbytes: %" PRIu64 " (sample sizes %" PRIu64
		       "..%" PRIu64 ")\nfiles: %zu\n",
		       n, total, mn, mx, c3fs_ffr_reader_nfiles(r));
		for (size_t k = 0; k < c3fs_ffr_reader_nfiles(r); k++)
			printf("  %s\n", c3fs_ffr_reader_file(r, k));
		if (samples)
			for (int64_t i = 0; i < n; i++) {
				struct c3fs_ffr_sample s;

				c3fs_ffr_reader_stat(r, i, &s);
				printf("%" PRId64 " %" PRIu64 " %08x\n", i, s.size, s.crc);
			}
		if (f) {
			printf("packed folder: %" PRId64 " files\n", n - 1);
			tree_text(r, f, 0, 0);
		}
	}
	c3fs_ffr_folder_free(f);
	c3fs_ffr_reader_free(r);
	return 0;
}

/* ------------------------------------------------------------------ cat, unpack */

static int write_all(int fd, const void *p, uint64_t len)
{
	const uint8_t *b = p;

	while (len > 0) {
		ssize_t w = write(fd, b, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		b += w;
		len -= (uint64_t)w;
	}
	return 0;
}

/* Read sample i into a malloc'd buffer. */
static int read_sample(struct c3fs_ffr_reader *r, int64_t i, void **buf, uint64_t *size)
{
	struct c3fs_ffr_sample s;
	int rc = c3fs_ffr_reader_stat(r, i, &s);

	if (rc < 0)
		return rc;
	*buf = malloc(s.size ? s.size : 1);
	if (!*buf)
		return -ENOMEM;
	rc = c3fs_ffr_read_one(r, i, *buf, s.size, size);
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}

/* The sample index of INDEX|NAME (*f: the packed folder, opened at the first name).
 * -1 after saying why. */
static int64_t cat_index(struct c3fs_ffr_reader *r, struct c3fs_ffr_folder **f, const char *arg)
{
	char *end;
	int64_t i = strtoll(arg, &end, 10), node;

	if (!*end && end != arg)
		return i;
	/* a name in a packed folder */
	if (!*f && c3fs_ffr_folder_open(r, f) < 0) {
		fail("cat");
		return -1;
	}
	node = c3fs_ffr_folder_lookup(*f, arg);
	i = node >= 0 ? c3fs_ffr_folder_node(*f, (uint32_t)node)->index : -1;
	if (i < 0)
		fprintf(stderr, "%s: cat: %s: %s\n", prog, arg,
			node < 0 ? "no such file in the packed folder" : "a directory");
	return i;
}

/* cat PATH INDEX|NAME...: the samples, in the order given, read in one batch
 * (c3fs_ffr_read_batch: several samples go through the reader's backend). */
static int cmd_cat(int argc, char **argv)
{
	struct c3fs_ffr_reader *r;
	struct c3fs_ffr_folder *f = NULL;
	size_t n = argc > 2 ? (size_t)argc - 2 : 0;
	int64_t *idx = NULL;
	uint64_t *sizes = NULL, total = 0;
	void **bufs = NULL, *block = NULL;
	int rc, ret = 1;

	if (argc < 3)
		return usage();
	if (open_reader(argv[1], 1, &r) < 0)
		return fail("cat");
	idx = malloc(n * sizeof(*idx));
	sizes = malloc(n * sizeof(*sizes));
	bufs = malloc(n * sizeof(*bufs));
	if (!idx || !sizes || !bufs) {
		fprintf(stderr, "%s: cat: out of memory\n", prog);
		goto out;
	}
	for (size_t k = 0; k < n; k++)
		if ((idx[k] = cat_index(r, &f, argv[2 + k])) < 0)
			goto out;
	if (c3fs_ffr_read_batch_alloc(r, idx, n, &block, bufs, sizes) < 0) {
		fail("cat");
		goto out;
	}
	for (size_t k = 0; k < n; k++)
		total += sizes[k];
	/* the samples lie back to back in the block */
	rc = write_all(STDOUT_FILENO, block, total);
	if (rc < 0) {
		fprintf(stderr, "%s: cat: write: %s\n", prog, strerror(-rc));
		goto out;
	}
	ret = 0;
out:
	free(block);
	free(idx);
	free(sizes);
	free(bufs);
	c3fs_ffr_folder_free(f);
	c3fs_ffr_reader_free(r);
	return ret;
}

static int write_file(const char *path, const void *buf, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666), rc;

	if (fd < 0)
		return -errno;
	rc = write_all(fd, buf, size);
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

static int cmd_unpack(int argc, char **argv)
{
	struct c3fs_ffr_reader *r;
	struct c3fs_ffr_folder *f = NULL;
	char **paths = NULL;
	uint32_t n = 0;
	int rc, ret = 1;

	if (argc != 3)
		return usage();
	if (open_reader(argv[1], 1, &r) < 0)
		return fail("unpack");
	if (mkdir(argv[2], 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "%s: unpack: %s: %s\n", prog, argv[2], strerror(errno));
		goto out;
	}
	rc = c3fs_ffr_folder_open(r, &f);
	if (rc == -ENOENT) {   /* plain dataset: one file per sample */
		for (int64_t i = 0; i < c3fs_ffr_reader_count(r); i++) {
			char p[4096];
			uint64_t size;
			void *buf;

			snprintf(p, sizeof(p), "%s/%08" PRId64, argv[2], i);
			if (read_sample(r, i, &buf, &size) < 0) {
				fail("unpack");
				goto out;
			}
			rc = write_file(p, buf, size);
			free(buf);
			if (rc < 0) {
				fprintf(stderr, "%s: unpack: %s: %s\n", prog, p, strerror(-rc));
				goto out;
			}
		}
		ret = 0;
		goto out;
	}
	if (rc < 0) {
		fail("unpack");
		goto out;
	}
	/* nodes are breadth first: a parent's path is made before its children's */
	n = c3fs_ffr_folder_count(f);
	paths = calloc(n, sizeof(*paths));
	if (!paths || !(paths[0] = strdup(argv[2])))
		goto out;
	for (uint32_t i = 1; i < n; i++) {
		const struct c3fs_ffr_node *k = c3fs_ffr_folder_node(f, i);
		uint64_t size;
		void *buf;

		if (asprintf(&paths[i], "%s/%s", paths[k->parent], k->name) < 0) {
			paths[i] = NULL;
			goto out;
		}
		if (k->index < 0) {
			if (mkdir(paths[i], 0777) != 0 && errno != EEXIST) {
				fprintf(stderr, "%s: unpack: %s: %s\n", prog, paths[i],
					strerror(errno));
				goto out;
			}
			continue;
		}
		if (read_sample(r, k->index, &buf, &size) < 0) {
			fail("unpack");
			goto out;
		}
		rc = write_file(paths[i], buf, size);
		free(buf);
		if (rc < 0) {
			fprintf(stderr, "%s: unpack: %s: %s\n", prog, paths[i], strerror(-rc));
			goto out;
		}
	}
	ret = 0;
out:
	if (paths)
		for (uint32_t i = 0; i < n; i++)
			free(paths[i]);
	free(paths);
	c3fs_ffr_folder_free(f);
	c3fs_ffr_reader_free(r);
	return ret;
}

int main(int argc, char **argv)
{
	while (argc >= 2 && strncmp(argv[1], "--io", 4) == 0) {
		const char *v = argv[1][4] == '=' ? argv[1] + 5 : argv[1][4] ? NULL : argv[2];

		if (argv[1][4] != '=' && argv[1][4] != '\0')
			return usage();
		if (set_io(v) != 0)
			return 2;
		argc -= argv[1][4] == '=' ? 1 : 2;
		argv += argv[1][4] == '=' ? 1 : 2;
	}
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "pack") == 0)
		return cmd_pack(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "ls") == 0)
		return cmd_ls(argc - 1, argv + 1);
	if (strcmp(argv[1], "cat") == 0)
		return cmd_cat(argc - 1, argv + 1);
	if (strcmp(argv[1], "unpack") == 0)
		return cmd_unpack(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage();
		return 0;
	}
	return usage();
}
