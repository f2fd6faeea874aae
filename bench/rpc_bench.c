/* rpc_bench.c — c3fs-bench-rpc: the RPC layer against a plain blocking TCP socket doing the
 * same exchanges over loopback, in one process.
 *
 *   c3fs-bench-rpc [--seconds S] [--reps R] [--small BYTES] [--bulk BYTES]
 *
 * Exchanges (one outstanding request at a time, one client thread):
 *   small   request of BYTES payload (default 64), reply echoes it; latency p50/p99
 *   write   request carries BULK bytes (default 1 MiB) of bulk, empty reply; MiB/s
 *   read    small request, reply carries BULK bytes into the caller's buffer; MiB/s
 * The plain baseline: a thread per connection with blocking read()/write() of a 36-byte
 * header + body, i.e. what the RPC layer costs at best.  Plain and RPC operations
 * alternate one by one, so load from other processes hits both sides alike.  RPC rows use handlers registered
 * RPC_HANDLER_INLINE (no worker hand-off), and the small exchange is also measured
 * through the worker pool (RPC_T_ECHO).  Prints a table with the ratios.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "net/rpc.h"

#define B_SMALL 60 /* inline echo */
#define B_WRITE 61 /* swallow request bulk, empty reply */
#define B_READ 62  /* reply with bulk of the size asked */
#define HDR 36
#define MAX_REPS 15

static size_t g_bulk = 1u << 20;
static uint8_t *g_src; /* bulk source, g_bulk bytes */

/* ------------------------------------------------------------------ plain TCP */

static int full_read(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n) {
		ssize_t k = read(fd, b, n);

		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static int full_write(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t k = write(fd, b, n);

		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Plain protocol: 36-byte header whose first 4 bytes = request body length, next 4 = wanted
 * reply body length.  The server reads header + body, writes 36 bytes + reply body. */
static void *plain_conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t hdr[HDR];
	uint8_t *body = malloc(g_bulk + 4096);

	while (body && full_read(fd, hdr, HDR) == 0) {
		uint32_t in, out;

		memcpy(&in, hdr, 4);
		memcpy(&out, hdr + 4, 4);
		if (in > g_bulk + 4096 || out > g_bulk + 4096 || full_read(fd, body, in) != 0)
			break;
		if (full_write(fd, hdr, HDR) != 0)
			break;
		if (out && full_write(fd, out == in ? body : g_src, out) != 0)
			break;
	}
	free(body);
	close(fd);
	return NULL;
}

static void *plain_accept_main(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		pthread_t t;
		int one = 1, fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			return NULL;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_create(&t, NULL, plain_conn_main, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}

static int plain_listen(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	pthread_t t;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len))
		return -1;
	*port = ntohs(sin.sin_port);
	pthread_create(&t, NULL, plain_accept_main, (void *)(intptr_t)fd);
	pthread_detach(t);
	return fd;
}

static int plain_connect(int port)
{
	struct sockaddr_in sin;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* One plain exchange: send header + in bytes, receive header + out bytes. */
static int plain_xchg(int fd, const uint8_t *in, uint32_t inlen, uint8_t *out, uint32_t outlen)
{
	uint8_t hdr[HDR];
	struct iovec iov[2] = { { hdr, HDR }, { (void *)in, inlen } };

	memset(hdr, 0, HDR);
	memcpy(hdr, &inlen, 4);
	memcpy(hdr + 4, &outlen, 4);
	/* the header and body leave in one writev, as the RPC layer does */
	{
		size_t left = HDR + inlen;
		int n = inlen ? 2 : 1;
		struct iovec *v = iov;

		while (left) {
			ssize_t k = writev(fd, v, n);

			if (k <= 0)
				return -1;
			left -= (size_t)k;
			while (n && (size_t)k >= v->iov_len) {
				k -= (ssize_t)v->iov_len;
				v++;
				n--;
			}
			if (n) {
				v->iov_base = (uint8_t *)v->iov_base + k;
				v->iov_len -= (size_t)k;
			}
		}
	}
	if (full_read(fd, hdr, HDR) != 0)
		return -1;
	return outlen ? full_read(fd, out, outlen) : 0;
}

/* ------------------------------------------------------------------ RPC handlers */

static void h_small(struct rpc_req *req, void *ctx)
{
	rpc_reply(req, 0, req->payload, req->payload_len, NULL, 0);
}

static void h_write(struct rpc_req *req, void *ctx)
{
	rpc_reply(req, req->bulk_len == g_bulk ? 0 : -EINVAL, NULL, 0, NULL, 0);
}

static void h_read(struct rpc_req *req, void *ctx)
{
	struct iovec iov = { g_src, g_bulk };

	rpc_reply(req, 0, NULL, 0, &iov, 1);
}

/* ------------------------------------------------------------------ measuring */

struct result {
	double p50_us, p99_us, mib_s;
	long ops;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

enum kind { K_SMALL, K_WRITE, K_READ };

struct target {
	int plain_fd;              /* >= 0: plain socket */
	struct rpc_client *cli;
	const char *addr;
	uint16_t small_type;
};

static double mib_of(double op_us)
{
	return (double)g_bulk / (op_us / 1e6) / (1024.0 * 1024.0);
}

/* Per field median over n results (each figure independently). */
static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct result median_of(const struct result *r, int n)
{
	double v[3][MAX_REPS];
	struct result m;

	for (int i = 0; i < n; i++) {
		v[0][i] = r[i].p50_us;
		v[1][i] = r[i].p99_us;
		v[2][i] = r[i].mib_s;
	}
	for (int k = 0; k < 3; k++)
		qsort(v[k], (size_t)n, sizeof(double), cmp_dbl);
	m.p50_us = v[0][n / 2];
	m.p99_us = v[1][n / 2];
	m.mib_s = v[2][n / 2];
	m.ops = r[0].ops;
	return m;
}

static int one_op(struct target *t, enum kind k, uint8_t *small, size_t small_len,
		  uint8_t *dst)
{
	if (t->plain_fd >= 0) {
		switch (k) {
		case K_SMALL:
			return plain_xchg(t->plain_fd, small, (uint32_t)small_len, dst,
					  (uint32_t)small_len);
		case K_WRITE:
			return plain_xchg(t->plain_fd, g_src, (uint32_t)g_bulk, NULL, 0);
		case K_READ:
			return plain_xchg(t->plain_fd, small, 8, dst, (uint32_t)g_bulk);
		}
		return -1;
	} else {
		struct rpc_call call;
		struct iovec iov;
		int rc;

		switch (k) {
		case K_SMALL:
			rpc_call_init(&call, t->small_type, small, small_len);
			break;
		case K_WRITE:
			rpc_call_init(&call, B_WRITE, NULL, 0);
			iov = (struct iovec){ g_src, g_bulk };
			call.bulk = &iov;
			call.nbulk = 1;
			break;
		case K_READ:
			rpc_call_init(&call, B_READ, small, 8);
			iov = (struct iovec){ dst, g_bulk };
			call.resp_bulk = &iov;
			call.nresp_bulk = 1;
			break;
		}
		rc = rpc_call_run(t->cli, t->addr, &call);
		if (k == K_SMALL && rc == 0 && call.resp.len != small_len)
			rc = -1;
		if (k == K_READ && rc == 0 && call.resp_bulk_len != g_bulk)
			rc = -1;
		c3_buf_release(&call.resp);
		return rc;
	}
}

static int measure(struct target *t, enum kind k, double secs, size_t small_len,
		   struct result *r)
{
	size_t cap = 1 << 22, n = 0;
	uint64_t *lat = malloc(cap * sizeof(*lat));
	uint8_t *small = calloc(1, small_len + 8), *dst = malloc(g_bulk);
	uint64_t t0, end;
	int rc = 0;

	if (!lat || !small || !dst) {
		rc = -1;
		goto out;
	}
	for (int i = 0; i < 200 && rc == 0; i++) /* warm up: connections, caches */
		rc = one_op(t, k, small, small_len, dst);
	t0 = c3_now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	while (rc == 0) {
		uint64_t a = c3_now_ns(), b;

		if (a >= end)
			break;
		rc = one_op(t, k, small, small_len, dst);
		b = c3_now_ns();
		if (n < cap)
			lat[n++] = b - a;
	}
	if (rc == 0 && n) {
		double el = (double)(c3_now_ns() - t0) / 1e9;

		qsort(lat, n, sizeof(*lat), cmp_u64);
		r->p50_us = (double)lat[n / 2] / 1e3;
		r->p99_us = (double)lat[(n * 99) / 100] / 1e3;
		r->ops = (long)n;
		r->mib_s = (double)n * (double)g_bulk / el / (1024.0 * 1024.0);
	}
out:
	free(lat);
	free(small);
	free(dst);
	return rc;
}

static void summarize(uint64_t *lat, size_t n, uint64_t busy_ns, struct result *r)
{
	qsort(lat, n, sizeof(*lat), cmp_u64);
	r->p50_us = (double)lat[n / 2] / 1e3;
	r->p99_us = (double)lat[(n * 99) / 100] / 1e3;
	r->ops = (long)n;
	r->mib_s = (double)n * (double)g_bulk / ((double)busy_ns / 1e9) / (1024.0 * 1024.0);
}

/* Paired measurement: ops on a and b alternate one by one for secs, so both see the same
 * background load at the same moments (this host is shared); each side's throughput is
 * its bytes over the time spent in its own ops. */
static int measure_pair(struct target *a, struct target *b, enum kind k, double secs,
			size_t small_len, struct result *ra, struct result *rb)
{
	size_t cap = 1 << 21, n = 0;
	uint64_t *la = malloc(cap * sizeof(*la)), *lb = malloc(cap * sizeof(*lb));
	uint8_t *small = calloc(1, small_len + 8), *dst = malloc(g_bulk);
	uint64_t end, busy_a = 0, busy_b = 0;
	int rc = 0;

	if (!la || !lb || !small || !dst) {
		rc = -1;
		goto out;
	}
	for (int i = 0; i < 100 && rc == 0; i++) /* warm up: connections, caches */
		rc = one_op(a, k, small, small_len, dst) | one_op(b, k, small, small_len, dst);
	end = c3_now_ns() + (uint64_t)(secs * 1e9);
	while (rc == 0 && n < cap) {
		uint64_t t0 = c3_now_ns(), t1, t2;

		if (t0 >= end)
			break;
		rc = one_op(a, k, small, small_len, dst);
		t1 = c3_now_ns();
		if (rc == 0)
			rc = one_op(b, k, small, small_len, dst);
		t2 = c3_now_ns();
		la[n] = t1 - t0;
		lb[n] = t2 - t1;
		busy_a += t1 - t0;
		busy_b += t2 - t1;
		n++;
	}
	if (rc == 0 && n) {
		summarize(la, n, busy_a, ra);
		summarize(lb, n, busy_b, rb);
	}
out:
	free(la);
	free(lb);
	free(small);
	free(dst);
	return rc;
}

int main(int argc, char **argv)
{
	double secs = 3;
	size_t small_len = 64;
	struct rpc_server_opts so;
	struct rpc_client_opts co;
	struct rpc_server *srv;
	struct rpc_client *cli;
	struct result pl_small, rp_small, rp_small_w, pl_small_w, pl_w, pl_r, rp_r;
	struct result rp_w = { 0, 0, 0, 0 };
	static struct result res[8][MAX_REPS];
	int reps = 3;
	struct target tp, tr, trw;
	char addr[64];
	int port, rc = 0;
	const char *only_rpc = NULL;
	int only_plain = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--small") && i + 1 < argc)
			small_len = (size_t)atol(argv[++i]);
		else if (!strcmp(argv[i], "--bulk") && i + 1 < argc)
			g_bulk = (size_t)atol(argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--only-rpc") && i + 1 < argc)
			only_rpc = argv[++i];
		else if (!strcmp(argv[i], "--only-plain") && i + 1 < argc)
			only_rpc = argv[++i], only_plain = 1;
		else {
			fprintf(stderr, "usage: %s [--seconds S] [--reps R] [--small BYTES] [--bulk BYTES]\n",
				argv[0]);
			return 2;
		}
	}
	if (reps < 1 || reps > MAX_REPS || secs <= 0 || small_len > 65536 || g_bulk == 0 || g_bulk > (256u << 20)) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	c3_log_set_level(C3_LOG_WARN);
	g_src = malloc(g_bulk);
	if (!g_src)
		return 1;
	for (size_t i = 0; i < g_bulk; i++)
		g_src[i] = (uint8_t)(i * 7);

	memset(&so, 0, sizeof(so));
	so.listen = "127.0.0.1:0";
	so.token = "bench";
	so.io_threads = 1;
	so.workers = 2;
	if (rpc_server_new(&so, &srv) != 0 ||
	    rpc_server_register(srv, B_SMALL, h_small, NULL, RPC_HANDLER_INLINE) != 0 ||
	    rpc_server_register(srv, B_WRITE, h_write, NULL, RPC_HANDLER_INLINE) != 0 ||
	    rpc_server_register(srv, B_READ, h_read, NULL, RPC_HANDLER_INLINE) != 0 ||
	    rpc_server_start(srv) != 0) {
		fprintf(stderr, "rpc server failed\n");
		return 1;
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", rpc_server_port(srv));
	memset(&co, 0, sizeof(co));
	co.token = "bench";
	co.conns_per_peer = 1;
	if (rpc_client_new(&co, &cli) != 0)
		return 1;
	if (plain_listen(&port) < 0)
		return 1;
	tp = (struct target){ plain_connect(port), NULL, NULL, 0 };
	tr = (struct target){ -1, cli, addr, B_SMALL };
	trw = (struct target){ -1, cli, addr, RPC_T_ECHO };
	if (tp.plain_fd < 0)
		return 1;

	if (only_rpc) { /* for profiling one RPC exchange alone */
		enum kind k = !strcmp(only_rpc, "write") ? K_WRITE
			      : !strcmp(only_rpc, "read") ? K_READ : K_SMALL;

		struct rusage ru0, ru1;
		double cpu;

		getrusage(RUSAGE_SELF, &ru0);
		rc = measure(only_plain ? &tp : &tr, k, secs, small_len, &rp_w);
		getrusage(RUSAGE_SELF, &ru1);
		cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec +
			       ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e6 +
		      (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
			       ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
		/* measure() also runs 200 warm-up operations */
		printf("%s %s: p50 %.1f us, %.0f MiB/s, %.1f us CPU per op (%ld ops)\n",
		       only_plain ? "plain" : "rpc", only_rpc, rp_w.p50_us, rp_w.mib_s,
		       cpu / (double)(rp_w.ops + 200), rp_w.ops);
		return rc ? 1 : 0;
	}
	/* interleave plain and RPC so background load affects both alike; each figure is
	 * the median over the repetitions */
	for (int rep = 0; rep < reps && rc == 0; rep++) {
		rc |= measure_pair(&tp, &tr, K_SMALL, secs, small_len, &res[0][rep], &res[1][rep]);
		rc |= measure_pair(&tp, &trw, K_SMALL, secs, small_len, &res[7][rep],
				   &res[2][rep]);
		rc |= measure_pair(&tp, &tr, K_WRITE, secs, small_len, &res[3][rep], &res[4][rep]);
		rc |= measure_pair(&tp, &tr, K_READ, secs, small_len, &res[5][rep], &res[6][rep]);
	}
	if (rc) {
		fprintf(stderr, "an exchange failed\n");
		return 1;
	}
	pl_small = median_of(res[0], reps);
	rp_small = median_of(res[1], reps);
	rp_small_w = median_of(res[2], reps);
	pl_w = median_of(res[3], reps);
	rp_w = median_of(res[4], reps);
	pl_r = median_of(res[5], reps);
	rp_r = median_of(res[6], reps);
	pl_small_w = median_of(res[7], reps);
	printf("| exchange | plain TCP | c3fs RPC | ratio RPC/plain | target |\n");
	printf("|---|---|---|---|---|\n");
	printf("| %zu B round trip p50 (inline handler) | %.1f us | %.1f us | %.2fx | <= 1.5x |\n",
	       small_len, pl_small.p50_us, rp_small.p50_us, rp_small.p50_us / pl_small.p50_us);
	printf("| %zu B round trip p99 (inline handler) | %.1f us | %.1f us | %.2fx | |\n",
	       small_len, pl_small.p99_us, rp_small.p99_us, rp_small.p99_us / pl_small.p99_us);
	printf("| %zu B round trip p50 (worker pool, RPC_T_ECHO) | %.1f us | %.1f us | %.2fx | |\n",
	       small_len, pl_small_w.p50_us, rp_small_w.p50_us,
	       rp_small_w.p50_us / pl_small_w.p50_us);
	printf("| %zu B round trip p99 (worker pool, RPC_T_ECHO) | %.1f us | %.1f us | %.2fx | |\n",
	       small_len, pl_small_w.p99_us, rp_small_w.p99_us,
	       rp_small_w.p99_us / pl_small_w.p99_us);
	printf("| %zu KiB bulk write (request bulk) | %.0f MiB/s | %.0f MiB/s | %.2fx | >= 0.8x |\n",
	       g_bulk >> 10, pl_w.mib_s, rp_w.mib_s, rp_w.mib_s / pl_w.mib_s);
	printf("| %zu KiB bulk read (reply bulk) | %.0f MiB/s | %.0f MiB/s | %.2fx | >= 0.8x |\n",
	       g_bulk >> 10, pl_r.mib_s, rp_r.mib_s, rp_r.mib_s / pl_r.mib_s);
	/* the same from the median operation time: insensitive to the few operations that
	 * another process preempted (this host is shared) */
	printf("| %zu KiB bulk write, from median op time | %.0f MiB/s | %.0f MiB/s | %.2fx | |\n",
	       g_bulk >> 10, mib_of(pl_w.p50_us), mib_of(rp_w.p50_us),
	       pl_w.p50_us / rp_w.p50_us);
	printf("| %zu KiB bulk read, from median op time | %.0f MiB/s | %.0f MiB/s | %.2fx | |\n",
	       g_bulk >> 10, mib_of(pl_r.p50_us), mib_of(rp_r.p50_us),
	       pl_r.p50_us / rp_r.p50_us);
	printf("\nEach row: plain and RPC operations alternate one by one for %.1f s (so both see\n"
	       "the same background load); median of %d such runs.  Throughput = bytes moved /\n"
	       "time spent in that side's own operations.\n", secs, reps);
	rpc_client_free(cli);
	rpc_server_free(srv);
	close(tp.plain_fd);
	free(g_src);
	return 0;
}
