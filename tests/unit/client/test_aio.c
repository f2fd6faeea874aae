/* test_aio.c — libc3fs asynchronous I/O (c3fs_aio_*) against a real local cluster.
 *
 * mgmtd, three c3fs-storage nodes with two targets each (3-replica chains made with
 * c3fs-admin), one meta; 64 KiB chunks so that ops span chunks, chains and segments
 * (64 chunks).  Checks, with a byte model of every file:
 *   - hundreds of writes in flight on several files (holes between them, one crossing a
 *     segment boundary, several iovecs), then reads in flight of everything: the data,
 *     zeros in holes, short reads at EOF, nothing past it;
 *   - reads and writes mixed in one batch, the blocking calls seeing async writes;
 *   - refusals (bad op, write on a read-only open, no file), length 0, the eventfd;
 *   - a storage node killed with ops in flight: every op completes (data or an error,
 *     none hangs), and afterwards every byte the successful writes wrote reads back.
 * Skipped when the daemons are not built.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "c3fs/c3fs.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "tests/lib/tap.h"

#define CS (64u * 1024)
#define NFILES 4
#define FSIZE (6u << 20) /* model size per file: more than one 64-chunk segment */
#define MAXOPS 512

static char root[] = "/tmp/c3fs-aio.XXXXXX";
static char bindir[4096], maddr[64], meta_addr[64], saddr[4][64];
static pid_t mpid, metapid, spid[4];
static uint8_t *model[NFILES];
static uint8_t *uncertain[NFILES]; /* bytes a failed write may or may not have written */
static uint64_t fend[NFILES];       /* end of the file as written (successful writes) */
static uint64_t fend_hi[NFILES];    /* ... or as far as a failed write may have reached */

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static pid_t spawn(const char *name, char *const argv[])
{
	char log[4300];
	pid_t pid;

	snprintf(log, sizeof(log), "%s/%s.log", root, name);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Start a daemon: bin name, log name, then "key=value" settings, NULL-terminated. */
static pid_t start(const char *prog, const char *name, ...)
{
	char bin[4200];
	char *argv[40];
	const char *kv;
	va_list ap;
	int k = 0;

	snprintf(bin, sizeof(bin), "%s/%s", bindir, prog);
	argv[k++] = bin;
	va_start(ap, name);
	while ((kv = va_arg(ap, const char *)) && k < 37) {
		argv[k++] = "--set";
		argv[k++] = (char *)kv;
	}
	va_end(ap);
	argv[k] = NULL;
	return spawn(name, argv);
}

static pid_t start_storage(int n)
{
	char a[4][4400], name[32];

	snprintf(a[0], sizeof(a[0]), "server.node_id=%d", 100 + n);
	snprintf(a[1], sizeof(a[1]), "server.listen=%s", saddr[n]);
	snprintf(a[2], sizeof(a[2]), "storage.targets=%d:%s/s%d/t1,%d:%s/s%d/t2", n * 100 + 1,
		 root, n, n * 100 + 2, root, n);
	snprintf(a[3], sizeof(a[3]), "mgmtd.addrs=%s", maddr);
	snprintf(name, sizeof(name), "storage%d", n);
	return start("c3fs-storage", name, a[0], a[1], a[2], a[3], "server.token=tok",
		     "mgmtd.heartbeat=300ms", (char *)NULL);
}

static int stop(pid_t pid)
{
	int st = 0;

	if (pid <= 0)
		return 0;
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int scan_logs(void)
{
	char cmd[4400];

	snprintf(cmd, sizeof(cmd), "grep -l 'ERROR: AddressSanitizer\\|runtime error:' %s/*.log",
		 root);
	return system(cmd) == 0 ? -1 : 0;
}

static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((seed * 131 + i * 7 + (i >> 9)) & 0xff);
}

/* The ops of one batch, with what each expects. */
struct tio {
	int file;
	bool write;
	uint64_t off, len;
	uint8_t *buf;      /* own buffer (reads land here; writes go from it) */
	unsigned flags;    /* C3FS_AIO_F_* */
	int64_t want_err;  /* read: the error it must fail with (0 = data as the model) */
	int64_t result;
	bool done;
};
static struct tio tio[MAXOPS];
static int ntio;

static void tio_reset(void)
{
	for (int i = 0; i < ntio; i++)
		free(tio[i].buf);
	memset(tio, 0, sizeof(tio));
	ntio = 0;
}

static struct tio *tio_add(int file, bool write, uint64_t off, uint64_t len)
{
	struct tio *t = &tio[ntio++];

	t->file = file;
	t->write = write;
	t->off = off;
	t->len = len;
	t->buf = malloc(len ? len : 1);
	if (write)
		fill(t->buf, len, rnd());
	else
		memset(t->buf, 0xa5, len);
	return t;
}

/* Submit tio[from..ntio) (split over iovecs of up to 3 pieces for some) on files f, at
 * most per_call ops per c3fs_aio_submit. */
static int submit_all(struct c3fs_aio_ctx *ctx, struct c3fs_file **f, int from, int per_call)
{
	static struct iovec iovs[MAXOPS][3];
	struct c3fs_aio_op ops[MAXOPS];
	int n = 0, done = 0;

	for (int i = from; i < ntio; i++) {
		struct tio *t = &tio[i];
		struct c3fs_aio_op *o = &ops[n++];

		memset(o, 0, sizeof(*o)); /* flags 0: holes read as zeros */
		o->f = f[t->file];
		o->op = t->write ? C3FS_AIO_WRITE : C3FS_AIO_READ;
		o->off = t->off;
		o->flags = t->flags;
		o->userdata = t;
		if (t->len >= 3 && i % 3 == 0) { /* three uneven pieces */
			uint64_t a = t->len / 5, b = t->len / 2;

			iovs[i][0] = (struct iovec){ t->buf, a };
			iovs[i][1] = (struct iovec){ t->buf + a, b - a };
			iovs[i][2] = (struct iovec){ t->buf + b, t->len - b };
			o->iov = iovs[i];
			o->iovcnt = 3;
		} else {
			iovs[i][0] = (struct iovec){ t->buf, t->len };
			o->iov = iovs[i];
			o->iovcnt = 1;
		}
	}
	while (done < n) { /* in a few calls, like a server taking batches */
		int k = n - done > per_call ? per_call : n - done;
		int rc = c3fs_aio_submit(ctx, ops + done, k);

		if (rc <= 0)
			return rc < 0 ? rc : -EIO;
		done += rc;
	}
	return n;
}

static int reap_all(struct c3fs_aio_ctx *ctx, int n, uint64_t timeout_ms);

/* Run tio[0..ntio) with at most `wave` in flight (a wave is submitted when the previous
 * one completed): many writes at once on a small, sanitized cluster sharing two cores
 * with other tests time out on the servers, which is overload, not what is tested here.
 * Returns the number completed. */
static int run_waves(struct c3fs_aio_ctx *ctx, struct c3fs_file **f, int wave)
{
	int total = ntio, done = 0;

	while (done < total) {
		int n = total - done < wave ? total - done : wave;

		ntio = done + n;
		if (submit_all(ctx, f, done, 50) != n)
			break;
		done += reap_all(ctx, n, 120000);
		if (done < ntio)
			break;
	}
	ntio = total;
	return done;
}

/* Reap n completions within timeout_ms overall; returns how many came. */
static int reap_all(struct c3fs_aio_ctx *ctx, int n, uint64_t timeout_ms)
{
	struct c3fs_aio_event ev[64];
	uint64_t deadline = c3_now_ms() + timeout_ms;
	int got = 0;

	while (got < n && c3_now_ms() < deadline) {
		int k = c3fs_aio_reap(ctx, ev, 1, 64, 200);

		for (int i = 0; i < k; i++) {
			struct tio *t = ev[i].userdata;

			if (t->done)
				diag("op completed twice");
			t->done = true;
			t->result = ev[i].result;
		}
		if (k > 0)
			got += k;
	}
	return got;
}

/* Apply the successful writes of the batch to the model; failed ones make their range
 * uncertain. */
static void model_apply(void)
{
	for (int i = 0; i < ntio; i++) {
		struct tio *t = &tio[i];

		if (!t->write)
			continue;
		if (t->result == (int64_t)t->len) {
			memcpy(model[t->file] + t->off, t->buf, t->len);
			memset(uncertain[t->file] + t->off, 0, t->len);
		} else {
			memset(uncertain[t->file] + t->off, 1, t->len);
		}
		if (t->result == (int64_t)t->len && t->off + t->len > fend[t->file])
			fend[t->file] = t->off + t->len;
		if (t->off + t->len > fend_hi[t->file])
			fend_hi[t->file] = t->off + t->len; /* a failed write may have reached it */
	}
}

static uint64_t want_len(const struct tio *t, uint64_t end)
{
	if (t->off >= end)
		return 0;
	return end - t->off < t->len ? end - t->off : t->len;
}

/* Check a read's data against the model: returns the number of bad bytes.  The length
 * must lie between what the successful writes and what every write (a failed one may
 * have landed) make the file. */
static uint64_t read_bad(const struct tio *t)
{
	uint64_t bad = 0, lo = want_len(t, fend[t->file]);
	uint64_t hi = want_len(t, fend_hi[t->file]);

	if (t->want_err)
		return t->result == t->want_err ? 0 : t->len + 1;
	if (t->result < (int64_t)lo || t->result > (int64_t)hi)
		return t->len + 1;
	for (uint64_t i = 0; i < (uint64_t)t->result; i++)
		if (!uncertain[t->file][t->off + i] && t->buf[i] != model[t->file][t->off + i])
			bad++;
	return bad;
}

/* A batch of reads of every file: whole file in pieces, random ranges, past the end. */
static void add_reads(int nrandom)
{
	for (int f = 0; f < NFILES; f++) {
		for (uint64_t off = 0; off < fend[f]; off += 1536 * 1024)
			tio_add(f, false, off, 1536 * 1024);
		tio_add(f, false, fend[f] - 100, 4096);   /* short at EOF */
		tio_add(f, false, fend[f] + 4096, 4096);  /* past EOF: 0 */
	}
	for (int i = 0; i < nrandom; i++) {
		int f = (int)(rnd() % NFILES);
		uint64_t len = 1 + rnd() % (3 * CS);
		uint64_t off = rnd() % (FSIZE - len);

		tio_add(f, false, off, len);
	}
}

/* RPC calls this process started so far (every kind: meta, mgmtd and storage). */
static uint64_t rpc_calls(void)
{
	static const char key[] = "\nc3fs_rpc_client_calls_total ";
	struct c3_buf m = C3_BUF_INIT;
	unsigned long long v = 0;
	const char *p;

	c3_metrics_render(&m);
	c3_buf_append(&m, "", 1);
	p = m.data ? strstr((const char *)m.data, key) : NULL;
	if (p)
		v = strtoull(p + sizeof(key) - 1, NULL, 10);
	c3_buf_release(&m);
	return v;
}

/* An offset in [from, to) of file fi where len bytes are a hole a replica has no bytes
 * for: nothing written from there to the end of its chunk (zeros in the model: written
 * data has no long runs of zeros).  UINT64_MAX when there is none. */
static uint64_t find_hole(int fi, uint64_t from, uint64_t to, uint64_t len)
{
	for (uint64_t off = from; off + len <= to; off += 512) {
		uint64_t i, end = (off / CS + 1) * CS;

		if (off + len > end)
			continue;
		for (i = off; i < end; i++)
			if (model[fi][i] || uncertain[fi][i])
				break;
		if (i == end)
			return off;
	}
	return UINT64_MAX;
}

static int check_reads(const char *what)
{
	uint64_t bad = 0;
	int nbad = 0;

	for (int i = 0; i < ntio; i++)
		if (!tio[i].write) {
			uint64_t b = read_bad(&tio[i]);

			if (b && nbad++ < 5)
				diag("%s: read file %d [%llu, +%llu): result %lld, %llu bad bytes",
				     what, tio[i].file, (unsigned long long)tio[i].off,
				     (unsigned long long)tio[i].len, (long long)tio[i].result,
				     (unsigned long long)b);
			bad += b;
		}
	return nbad;
}

int main(void)
{
	const char *bd = getenv("C3FS_BIN_DIR");
	struct c3fs_client_opts co;
	struct c3fs_client *cl = NULL;
	struct c3fs_aio_ctx *ctx = NULL;
	struct c3fs_file *f[NFILES] = { NULL }, *ro = NULL;
	struct c3fs_cred cr = { 0 };
	char bin[4200], cmd[9000], a[8][4400];
	int rc, n, bad;

	snprintf(bindir, sizeof(bindir), "%s", bd ? bd : "build/asan/bin");
	for (int i = 0; i < 4; i++) {
		static const char *const need[] = { "c3fs-storage", "c3fs-mgmtd", "c3fs-meta",
						    "c3fs-admin" };

		snprintf(bin, sizeof(bin), "%s/%s", bindir, need[i]);
		if (access(bin, X_OK) != 0)
			tap_skip_all("c3fs-storage, c3fs-mgmtd, c3fs-meta or c3fs-admin not built");
	}
	if (!mkdtemp(root))
		tap_skip_all("no temp dir");
	snprintf(maddr, sizeof(maddr), "127.0.0.1:%d", free_port());
	snprintf(meta_addr, sizeof(meta_addr), "127.0.0.1:%d", free_port());
	for (int n2 = 1; n2 <= 3; n2++)
		snprintf(saddr[n2], sizeof(saddr[n2]), "127.0.0.1:%d", free_port());
	for (int n2 = 1; n2 <= 3; n2++) {
		snprintf(cmd, sizeof(cmd), "mkdir -p -m 0700 %s/s%d/t1 %s/s%d/t2", root, n2, root,
			 n2);
		if (system(cmd) != 0)
			tap_skip_all("cannot make target dirs");
	}
	snprintf(cmd, sizeof(cmd), "mkdir -p -m 0700 %s/mgmtd %s/meta", root, root);
	if (system(cmd) != 0)
		tap_skip_all("cannot make state dirs");

	snprintf(a[0], sizeof(a[0]), "server.listen=%s", maddr);
	snprintf(a[1], sizeof(a[1]), "kv.data_dir=%s/mgmtd", root);
	mpid = start("c3fs-mgmtd", "mgmtd", a[0], a[1], "server.token=tok",
		     "server.admin_token=adm", "lease.node_lease=3s", "lease.leader_lease=1s",
		     (char *)NULL);
	for (int n2 = 1; n2 <= 3; n2++)
		spid[n2] = start_storage(n2);
	/* the chain table once all six targets are registered */
	rc = -1;
	for (int i = 0; i < 100 && rc; i++) {
		c3_sleep_ms(300);
		snprintf(cmd, sizeof(cmd),
			 "timeout 20 %s/c3fs-admin --mgmtd %s --token tok --admin-token adm "
			 "list-targets 2>/dev/null | grep -ci serving | grep -qx 6", bindir, maddr);
		rc = system(cmd) == 0 ? 0 : -1;
	}
	snprintf(cmd, sizeof(cmd),
		 "timeout 20 %s/c3fs-admin --mgmtd %s --token tok --admin-token adm "
		 "create-chain-table --replicas 3 --table-id 1 --name default >/dev/null", bindir,
		 maddr);
	is_int(system(cmd), 0, "a 3-replica chain table over six targets (c3fs-admin)");
	snprintf(a[2], sizeof(a[2]), "server.listen=%s", meta_addr);
	snprintf(a[3], sizeof(a[3]), "kv.uri=lmdb:%s/meta?sync=wal", root);
	snprintf(a[4], sizeof(a[4]), "mgmtd.addrs=%s", maddr);
	metapid = start("c3fs-meta", "meta", "server.node_id=2", a[2], "server.token=tok", a[3],
			a[4], "mgmtd.heartbeat=500ms", "meta.table_id=1", "meta.stripe=2",
			"meta.chunk_size=64K", (char *)NULL);

	memset(&co, 0, sizeof(co));
	co.mgmtd_addrs = maddr;
	co.token = "tok";
	/* the defaults (10 s per RPC, 60 s per segment): a loaded machine (ASan, two tests
	 * at once) is slow, not broken */
	rc = c3fs_client_new(&co, &cl);
	is_int(rc, 0, "client connects");
	if (rc)
		goto out;
	for (int i = 0; i < NFILES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%d", i);
		f[i] = NULL;
		rc = c3fs_create(cl, &cr, c3fs_root_ino(cl), name, 0644, O_RDWR | O_CREAT, NULL,
				 &f[i]);
		for (int k = 0; rc && k < 100; k++) { /* meta may still be starting */
			c3_sleep_ms(200);
			rc = c3fs_create(cl, &cr, c3fs_root_ino(cl), name, 0644, O_RDWR | O_CREAT,
					 NULL, &f[i]);
		}
		if (rc)
			break;
		model[i] = calloc(1, FSIZE + 2 * CS);
		uncertain[i] = calloc(1, FSIZE + 2 * CS);
	}
	is_int(rc, 0, "four files created");
	if (rc)
		goto out;
	is_int(c3fs_aio_ctx_new(cl, &ctx), 0, "aio context");
	ok(c3fs_aio_ctx_fd(ctx) >= 0, "it has an eventfd");

	/* ---- writes in flight on four files, holes between them */
	for (int fi = 0; fi < NFILES; fi++) {
		for (uint64_t off = 0; off + 80 * 1024 < FSIZE - (1u << 20);
		     off += 80 * 1024 + rnd() % 20000)
			if (rnd() % 4 != 0) /* every fourth region stays a hole */
				tio_add(fi, true, off, 1 + rnd() % (60 * 1024));
	}
	tio_add(1, true, FSIZE - 300000, 300000 - 17);          /* the end of file 1 */
	diag("%d writes, 64 in flight", ntio);
	is_int(run_waves(ctx, f, 64), ntio, "every write completed");
	bad = 0;
	for (int i = 0; i < ntio; i++)
		if (tio[i].result != (int64_t)tio[i].len && bad++ < 3)
			diag("write file %d [%llu, +%llu): %s", tio[i].file,
			     (unsigned long long)tio[i].off, (unsigned long long)tio[i].len,
			     tio[i].result < 0 ? c3fs_strerror((int)tio[i].result) : "short");
	is_int(bad, 0, "every write wrote its length");
	model_apply();
	tio_reset();
	/* over earlier writes (after them: overlapping ops in flight are not ordered) */
	tio_add(0, true, FSIZE - (5u << 20) + 1000, 4u << 20);  /* crosses a segment boundary */
	tio_add(2, true, 12345, 3 * CS + 7);
	n = submit_all(ctx, f, 0, 50);
	ok(n == 2 && reap_all(ctx, 2, 120000) == 2 && tio[0].result == (int64_t)tio[0].len &&
	   tio[1].result == (int64_t)tio[1].len, "a 4 MiB write over 65 chunks, and another");
	model_apply();
	tio_reset();
	for (int i = 0; i < NFILES; i++)
		is_int((long long)c3fs_file_size_hint(f[i]), (long long)fend[i],
		       "the file's length counts the async writes");

	/* ---- reads in flight of everything */
	add_reads(200);
	n = submit_all(ctx, f, 0, 50);
	ok(n == ntio, "every read submitted");
	is_int(reap_all(ctx, ntio, 120000), ntio, "every read completed");
	is_int(check_reads("reads"), 0, "reads: data, zeros in holes, short at EOF, 0 past it");
	tio_reset();

	/* ---- many small reads in one submit: they share storage READ calls (one per node,
	 * up to 16 ios / 64 KiB each), every op still gets its own bytes and result, and
	 * keeps its own rules (C3FS_AIO_F_FORBID_HOLES on some) */
	{
		uint64_t hole = find_hole(1, CS, fend[1] - 8192, 4096), calls;
		int nhole = 0, nforbid = 0;
		struct tio *t;

		ok(hole != UINT64_MAX, "file 1 has a hole below its end");
		for (int i = 0; i < 200; i++) {
			int fi = i % NFILES;
			uint64_t off = rnd() % (fend[fi] - 4096);

			if (i % 25 == 1)
				off = fend[fi] - 1000;          /* short at EOF */
			else if (i % 25 == 2)
				off = fend[fi] + 5000;          /* past EOF: 0 */
			else if (i % 25 == 3)
				off = (off / CS + 1) * CS - 2048; /* two chunks, two chains */
			else if (i % 25 == 4 && hole != UINT64_MAX)
				fi = 1, off = hole, nhole++;    /* zeros of a hole */
			else if (i % 25 == 5)               /* written: allowed */
				fi = 1, off = FSIZE - 300000 + rnd() % 200000;
			t = tio_add(fi, false, off, 4096);
			if (i % 50 == 4 && hole != UINT64_MAX) { /* the hole, forbidden */
				t->flags = C3FS_AIO_F_FORBID_HOLES;
				t->want_err = -EINVAL;
				nforbid++;
			} else if (i % 50 == 5) {
				t->flags = C3FS_AIO_F_FORBID_HOLES;
			}
		}
		calls = rpc_calls();
		n = submit_all(ctx, f, 0, MAXOPS);
		ok(n == ntio, "200 small reads submitted in one call");
		is_int(reap_all(ctx, ntio, 120000), ntio, "every small read completed");
		calls = rpc_calls() - calls;
		diag("200 reads of 4 KiB: %llu RPC calls", (unsigned long long)calls);
		ok(calls > 0 && calls < 100, "fewer storage calls than reads (shared READ calls)");
		is_int(check_reads("small reads"), 0,
		       "small reads: data, zeros in holes, short at EOF, 0 past it");
		bad = 0;
		for (int i = 0; i < ntio; i++)
			if (tio[i].off == hole && tio[i].file == 1 && !tio[i].want_err &&
			    (tio[i].result != 4096 || memcmp(tio[i].buf, model[1] + hole, 4096)))
				bad++;
		ok(nhole > nforbid && nforbid > 0 && bad == 0,
		   "the reads of a hole returned 4096 zeros, or EINVAL with FORBID_HOLES");
		tio_reset();
	}

	/* ---- mixed: writes to fresh ranges, reads of others, in one batch */
	for (int i = 0; i < 120; i++) {
		int fi = (int)(rnd() % NFILES);
		uint64_t len = 1 + rnd() % (2 * CS);

		if (i % 2) /* placed below */
			tio_add(fi, true, 0, len > 8192 ? 8192 : len);
		else /* below the end: the writes beyond cannot change the result */
			tio_add(fi, false, rnd() % (fend[fi] - len), len);
	}
	/* writes must not overlap each other: give each its own 8 KiB slot per file */
	{
		int slot[NFILES] = { 0 };

		for (int i = 0; i < ntio; i++)
			if (tio[i].write)
				tio[i].off = FSIZE - (1u << 20) +
					     (uint64_t)(slot[tio[i].file]++) * 8192;
	}
	n = submit_all(ctx, f, 0, 50);
	ok(n == ntio, "mixed batch submitted");
	is_int(reap_all(ctx, ntio, 120000), ntio, "mixed batch completed");
	bad = 0;
	for (int i = 0; i < ntio; i++)
		if (tio[i].write)
			bad += tio[i].result != (int64_t)tio[i].len;
	is_int(bad, 0, "mixed: every write wrote its length");
	is_int(check_reads("mixed"), 0, "mixed: every read matches");
	model_apply();
	tio_reset();
	{
		uint8_t *buf = malloc(FSIZE);
		ssize_t got = c3fs_pread(f[2], buf, FSIZE, 0);

		is_int((long long)got, (long long)fend[2], "blocking pread sees the async writes");
		ok(got > 0 && memcmp(buf, model[2], (size_t)got) == 0,
		   "blocking pread: same bytes as the model");
		free(buf);
	}

	/* ---- refusals, length 0, the eventfd */
	{
		struct c3fs_aio_op op;
		struct c3fs_aio_event ev;
		struct iovec v = { model[0], 10 };
		struct pollfd pfd = { .fd = c3fs_aio_ctx_fd(ctx), .events = POLLIN };
		struct c3fs_attr at;

		memset(&op, 0, sizeof(op));
		op.f = f[0];
		op.op = 7;
		op.iov = &v;
		op.iovcnt = 1;
		is_int(c3fs_aio_submit(ctx, &op, 1), -EINVAL, "unknown op refused");
		op.op = C3FS_AIO_READ;
		op.iovcnt = -1;
		is_int(c3fs_aio_submit(ctx, &op, 1), -EINVAL, "negative iovcnt refused");
		op.iovcnt = 1;
		op.f = NULL;
		is_int(c3fs_aio_submit(ctx, &op, 1), -EBADF, "no file refused");
		rc = c3fs_lookup(cl, &cr, c3fs_root_ino(cl), "f0", &at);
		if (rc == 0)
			rc = c3fs_open(cl, &cr, at.ino, O_RDONLY, &ro);
		is_int(rc, 0, "read-only open");
		op.f = ro;
		op.op = C3FS_AIO_WRITE;
		is_int(c3fs_aio_submit(ctx, &op, 1), -EBADF, "write on a read-only open refused");
		ok(poll(&pfd, 1, 0) == 0, "eventfd not readable with nothing to reap");
		op.f = f[0];
		op.iovcnt = 0;
		op.userdata = &op;
		is_int(c3fs_aio_submit(ctx, &op, 1), 1, "length 0 write submitted");
		ok(poll(&pfd, 1, 5000) == 1, "eventfd readable after a completion");
		rc = c3fs_aio_reap(ctx, &ev, 1, 1, 5000);
		ok(rc == 1 && ev.userdata == &op && ev.result == 0, "length 0: result 0");
		ok(poll(&pfd, 1, 0) == 0, "eventfd reset by reaping the last one");
		is_int(c3fs_aio_reap(ctx, &ev, 1, 1, 50), 0,
		       "reap times out with nothing in flight");
		is_int(c3fs_aio_reap(ctx, &ev, 2, 1, 0), -EINVAL, "min > max refused");
		is_int((long long)c3fs_file_size_hint(f[0]), (long long)fend[0],
		       "length 0 write left the length alone");
	}

	/* ---- a storage node killed with ops in flight */
	for (int i = 0; i < 300; i++) { /* writes to files 0 and 1, reads of 2 and 3 */
		int fi = (int)(rnd() % 2);

		if (i % 5 == 0)
			tio_add(fi, true, 0, 1 + rnd() % CS);
		else
			tio_add(fi + 2, false, rnd() % (FSIZE - 2 * CS), 1 + rnd() % (2 * CS));
	}
	/* same file, overlapping writes are not ordered: keep them apart */
	{
		uint64_t next[NFILES];

		for (int i = 0; i < NFILES; i++)
			next[i] = 0;
		for (int i = 0; i < ntio; i++)
			if (tio[i].write) {
				tio[i].off = next[tio[i].file];
				next[tio[i].file] += tio[i].len + 5000;
			}
	}
	n = submit_all(ctx, f, 0, 50);
	ok(n == ntio, "300 ops submitted");
	kill(spid[2], SIGKILL);
	waitpid(spid[2], NULL, 0);
	spid[2] = 0;
	{
		uint64_t t0 = c3_now_ms();
		int got = reap_all(ctx, ntio, 150000), failed = 0, rbad = 0;

		diag("%d of %d ops completed %llu ms after the kill", got, ntio,
		     (unsigned long long)(c3_now_ms() - t0));
		is_int(got, ntio, "every op completed after the node was killed (none hangs)");
		for (int i = 0; i < ntio; i++) {
			if (tio[i].result < 0) {
				failed++;
				if (failed <= 3)
					diag("%s of file %d [%llu, +%llu) failed: %s",
					     tio[i].write ? "write" : "read", tio[i].file,
					     (unsigned long long)tio[i].off,
					     (unsigned long long)tio[i].len,
					     c3fs_strerror((int)tio[i].result));
			} else if (!tio[i].write && read_bad(&tio[i])) {
				rbad++;
			}
		}
		diag("%d failed", failed);
		is_int(rbad, 0, "every read that succeeded returned the right bytes");
	}
	model_apply();
	tio_reset();
	add_reads(100);
	n = submit_all(ctx, f, 0, 50);
	ok(n == ntio, "reads after the failure submitted");
	is_int(reap_all(ctx, ntio, 120000), ntio, "reads after the failure completed");
	is_int(check_reads("after kill"), 0,
	       "after the failure: every byte of the successful writes reads back");
	tio_reset();

out:
	c3fs_aio_ctx_free(ctx);
	c3fs_close(ro);
	for (int i = 0; cl && i < NFILES; i++)
		if (f[i])
			c3fs_close(f[i]);
	c3fs_client_free(cl);
	bad = 0;
	for (int n2 = 1; n2 <= 3; n2++)
		bad += stop(spid[n2]) != 0;
	bad += stop(metapid) != 0;
	bad += stop(mpid) != 0;
	is_int(bad, 0, "daemons exit cleanly");
	ok(scan_logs() == 0, "no sanitizer report in any daemon log");
	for (int i = 0; i < NFILES; i++) {
		free(model[i]);
		free(uncertain[i]);
	}
	rc = tap_done();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (rc == 0 && system(cmd) != 0)
		diag("cleanup failed");
	else if (rc)
		diag("kept %s", root);
	return rc;
}
