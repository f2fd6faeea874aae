/* RPC client + server over loopback: echo round trips (payload and bulk of several sizes),
 * concurrency from several threads, async completions, authentication, deadlines, handler
 * errors and server shutdown with calls in flight. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/metrics.h"
#include "net_test.h"
#include "tests/lib/tap.h"

#define T_SLEEP 50   /* handler: sleeps the number of ms in its payload, then replies */
#define T_FAIL 51    /* handler: replies -ENOENT with a payload "why" */
#define T_DEFER 52   /* handler: replies later from another thread */
#define T_BIGREPLY 53 /* handler: replies with bulk of the size in its payload */

static void h_sleep(struct rpc_req *req, void *ctx)
{
	struct c3_dec d;
	uint32_t ms;

	c3_dec_init(&d, req->payload, req->payload_len);
	ms = c3_dec_u32(&d);
	c3_sleep_ms(ms);
	rpc_reply(req, 0, NULL, 0, NULL, 0);
}

static void h_fail(struct rpc_req *req, void *ctx)
{
	rpc_reply(req, -ENOENT, "why", 3, NULL, 0);
}

static void *defer_main(void *arg)
{
	struct rpc_req *req = arg;

	c3_sleep_ms(20);
	rpc_reply(req, 0, "later", 5, NULL, 0);
	return NULL;
}

static void h_defer(struct rpc_req *req, void *ctx)
{
	pthread_t t;

	if (pthread_create(&t, NULL, defer_main, req) != 0) {
		rpc_reply(req, -EAGAIN, NULL, 0, NULL, 0);
		return;
	}
	pthread_detach(t);
}

static void h_bigreply(struct rpc_req *req, void *ctx)
{
	struct c3_dec d;
	uint32_t n;
	uint8_t *p;
	struct iovec iov;

	c3_dec_init(&d, req->payload, req->payload_len);
	n = c3_dec_u32(&d);
	p = malloc(n ? n : 1);
	if (!p) {
		rpc_reply(req, -ENOMEM, NULL, 0, NULL, 0);
		return;
	}
	memset(p, 0x5a, n);
	iov.iov_base = p;
	iov.iov_len = n;
	rpc_reply(req, 0, NULL, 0, &iov, 1);
	free(p);
}

#define T_BUF 54 /* handler: rpc_reply_buf with an encoded u32, or a failed buffer */

static void h_buf(struct rpc_req *req, void *ctx)
{
	struct c3_buf b = C3_BUF_INIT;

	if (req->payload_len == 1) {
		b.err = -ENOMEM; /* an encoder that failed */
		rpc_reply_buf(req, 0, &b);
		return;
	}
	c3_enc_u32(&b, 0xabcd1234u);
	rpc_reply_buf(req, 0, &b);
	c3_buf_release(&b);
}

/* T_WATCH (inline): the request is held on its I/O thread; payload "now" wakes the
 * thread's watched eventfd, whose on_ready replies "ready" to every held request; payload
 * "hold" stays held until the server stops, when on_stop replies "stop". */
#define T_WATCH 55
#define WATCH_HELD_MAX 64

struct watch_tl {
	int efd;
	struct rpc_req *held[WATCH_HELD_MAX];
	int nheld;
	bool ready_only;            /* on_ready replies only to "now" requests */
	bool nowreq[WATCH_HELD_MAX];
};

static __thread struct watch_tl *watch_tl;
static atomic_int watch_registered, watch_held, watch_stops;

static void watch_reply_all(struct watch_tl *w, bool stopping)
{
	int keep = 0;

	for (int i = 0; i < w->nheld; i++) {
		if (!stopping && !w->nowreq[i]) {
			w->held[keep] = w->held[i];
			w->nowreq[keep++] = false;
			continue;
		}
		rpc_reply(w->held[i], 0, stopping ? "stop" : "ready", stopping ? 4 : 5, NULL, 0);
	}
	w->nheld = keep;
}

static void watch_on_ready(void *arg)
{
	struct watch_tl *w = arg;
	eventfd_t v;

	(void)eventfd_read(w->efd, &v);
	watch_reply_all(w, false);
}

static void watch_on_stop(void *arg)
{
	struct watch_tl *w = arg;

	atomic_fetch_add(&watch_stops, 1);
	watch_reply_all(w, true);
	close(w->efd);
	free(w);
	watch_tl = NULL;
}

static void h_watch(struct rpc_req *req, void *ctx)
{
	struct watch_tl *w = watch_tl;
	bool now = req->payload_len == 3 && memcmp(req->payload, "now", 3) == 0;

	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w) {
			rpc_reply(req, -ENOMEM, NULL, 0, NULL, 0);
			return;
		}
		w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->efd < 0 || rpc_io_watch(w->efd, watch_on_ready, watch_on_stop, w) != 0) {
			if (w->efd >= 0)
				close(w->efd);
			free(w);
			rpc_reply(req, -EIO, NULL, 0, NULL, 0);
			return;
		}
		watch_tl = w;
		atomic_fetch_add(&watch_registered, 1);
	}
	if (w->nheld == WATCH_HELD_MAX) {
		rpc_reply(req, -EBUSY, NULL, 0, NULL, 0);
		return;
	}
	w->nowreq[w->nheld] = now;
	w->held[w->nheld++] = req;
	if (now)
		(void)eventfd_write(w->efd, 1); /* on_ready runs after this handler returns */
	else
		atomic_fetch_add(&watch_held, 1);
}

/* The type namer of the per-type metrics (rpc_set_type_namer). */
static const char *test_type_name(uint16_t type)
{
	return type == RPC_T_ECHO ? "echo" : type == T_SLEEP ? "sleep" : "?";
}

static struct rpc_client *mk_client(const char *token, int conns)
{
	struct rpc_client_opts o;
	struct rpc_client *c;

	memset(&o, 0, sizeof(o));
	o.token = token;
	o.conns_per_peer = conns;
	o.io_threads = 2;
	if (rpc_client_new(&o, &c) != 0)
		return NULL;
	return c;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + seed + (i >> 12));
}

/* Echo with payload and bulk of one size; the reply bulk is split over two iovecs. */
static void echo_size(struct rpc_client *cli, const char *addr, size_t n)
{
	uint8_t *pay = malloc(n + 1), *bulk = malloc(n + 1), *out = malloc(n + 1);
	struct iovec biov = { bulk, n }, riov[2];
	struct rpc_call call;
	char name[96];
	int rc;

	fill(pay, n, 1);
	fill(bulk, n, 7);
	memset(out, 0, n + 1);
	riov[0] = (struct iovec){ out, n / 3 };
	riov[1] = (struct iovec){ out + n / 3, n - n / 3 + 1 };
	rpc_call_init(&call, RPC_T_ECHO, pay, n <= RPC_MAX_PAYLOAD_DEFAULT ? n : 0);
	call.bulk = &biov;
	call.nbulk = 1;
	call.resp_bulk = riov;
	call.nresp_bulk = 2;
	call.timeout_ms = 30000;
	rc = rpc_call_start(cli, addr, &call);
	if (rc == 0)
		rc = rpc_call_wait(&call);
	snprintf(name, sizeof(name), "echo %zu bytes: status", n);
	is_int(rc, 0, name);
	snprintf(name, sizeof(name), "echo %zu bytes: payload back intact", n);
	ok(call.resp.len == n && (n == 0 || memcmp(call.resp.data, pay, n) == 0), name);
	snprintf(name, sizeof(name), "echo %zu bytes: bulk back intact, in place", n);
	ok(call.resp_bulk_len == n && memcmp(out, bulk, n) == 0 && out[n] == 0, name);
	c3_buf_release(&call.resp);
	free(pay);
	free(bulk);
	free(out);
}

struct conc_arg {
	struct rpc_client *cli;
	const char *addr;
	int n;
	atomic_int *bad;
};

static void *conc_main(void *arg)
{
	struct conc_arg *a = arg;
	uint8_t buf[300], back[300];

	for (int i = 0; i < a->n; i++) {
		struct c3_buf resp = C3_BUF_INIT;
		size_t len = (size_t)(i * 37) % sizeof(buf);
		struct iovec biov = { buf, len / 2 }, riov = { back, sizeof(back) };
		struct rpc_call call;
		int rc;

		fill(buf, len, (unsigned)i);
		if (i % 2) {
			rc = rpc_call_sync(a->cli, a->addr, RPC_T_ECHO, buf, len, &resp, 10000);
			if (rc != 0 || resp.len != len || (len && memcmp(resp.data, buf, len)))
				atomic_fetch_add(a->bad, 1);
			c3_buf_release(&resp);
			continue;
		}
		rpc_call_init(&call, i % 4 ? RPC_T_PING : RPC_T_ECHO, buf, i % 4 ? 0 : len);
		call.bulk = &biov;
		call.nbulk = i % 4 ? 0 : 1;
		call.resp_bulk = &riov;
		call.nresp_bulk = 1;
		rc = rpc_call_start(a->cli, a->addr, &call);
		if (rc == 0)
			rc = rpc_call_wait(&call);
		if (rc != 0 || (!(i % 4) && (call.resp_bulk_len != len / 2 ||
					     memcmp(back, buf, len / 2))))
			atomic_fetch_add(a->bad, 1);
		c3_buf_release(&call.resp);
	}
	return NULL;
}

/* async completions counted by callback */
struct async_ctx {
	atomic_int done;
	atomic_int ok;
};

static void async_done(struct rpc_call *call)
{
	struct async_ctx *ctx = call->arg;
	if (call->status == 0)
		atomic_fetch_add(&ctx->ok, 1);
	c3_buf_release(&call->resp);
	atomic_fetch_add(&ctx->done, 1);
}

int main(void)
{
	struct rpc_server *srv;
	struct rpc_client *cli, *bad;
	char addr[64];
	struct c3_buf resp = C3_BUF_INIT;
	struct c3_buf enc = C3_BUF_INIT;
	int rc;

	rpc_set_type_namer(test_type_name);
	srv = nt_server("sekrit", 4, 0, 0);
	ok(srv != NULL, "server created on port 0");
	if (!srv)
		return tap_done();
	is_int(rpc_server_register(srv, T_SLEEP, h_sleep, NULL, 0), 0, "register sleep handler");
	is_int(rpc_server_register(srv, T_SLEEP, h_sleep, NULL, 0), -EEXIST, "double register");
	is_int(rpc_server_register(srv, RPC_T_AUTH, h_sleep, NULL, 0), -EINVAL,
	       "auth type is reserved");
	rpc_server_register(srv, T_FAIL, h_fail, NULL, 0);
	rpc_server_register(srv, T_DEFER, h_defer, NULL, 0);
	rpc_server_register(srv, T_BIGREPLY, h_bigreply, NULL, 0);
	rpc_server_register(srv, T_BUF, h_buf, NULL, RPC_HANDLER_INLINE);
	rpc_server_register(srv, T_WATCH, h_watch, NULL, RPC_HANDLER_INLINE);
	is_int(rpc_server_start(srv), 0, "server started");
	ok(rpc_server_port(srv) > 0, "bound port known");
	nt_addr(srv, addr, sizeof(addr));
	cli = mk_client("sekrit", 2);
	ok(cli != NULL, "client created");

	is_int(rpc_call_sync(cli, addr, RPC_T_PING, NULL, 0, NULL, 5000), 0, "ping");
	rc = rpc_call_sync(cli, addr, RPC_T_ECHO, "hello", 5, &resp, 5000);
	is_int(rc, 0, "echo small");
	ok(resp.len == 5 && memcmp(resp.data, "hello", 5) == 0, "echo small payload");
	c3_buf_release(&resp);

	echo_size(cli, addr, 0);
	echo_size(cli, addr, 1);
	echo_size(cli, addr, 4096);
	echo_size(cli, addr, 1 << 20);
	echo_size(cli, addr, 16u << 20);

	/* handler errors travel with their payload */
	rc = rpc_call_sync(cli, addr, T_FAIL, NULL, 0, &resp, 5000);
	is_int(rc, -ENOENT, "handler status returned to caller");
	ok(resp.len == 3 && memcmp(resp.data, "why", 3) == 0, "payload with an error status");
	c3_buf_release(&resp);
	rc = rpc_call_sync(cli, addr, 777, NULL, 0, NULL, 5000);
	is_int(rc, -C3FS_EUNKNOWNTYPE, "unregistered type -> EUNKNOWNTYPE");
	rc = rpc_call_sync(cli, addr, T_DEFER, NULL, 0, &resp, 5000);
	is_int(rc, 0, "deferred reply from another thread");
	ok(resp.len == 5 && memcmp(resp.data, "later", 5) == 0, "deferred reply payload");
	c3_buf_release(&resp);

	/* rpc_io_watch: a descriptor in the I/O thread's epoll set completes held requests */
	is_int(rpc_io_watch(0, watch_on_ready, NULL, NULL), -EINVAL,
	       "rpc_io_watch off an I/O thread: EINVAL");
	for (int i = 0; i < 3; i++) {
		rc = rpc_call_sync(cli, addr, T_WATCH, "now", 3, &resp, 5000);
		ok(rc == 0 && resp.len == 5 && memcmp(resp.data, "ready", 5) == 0,
		   "a request held by an inline handler is answered from the watched fd");
		c3_buf_release(&resp);
	}
	ok(atomic_load(&watch_registered) >= 1 && atomic_load(&watch_registered) <= 4,
	   "one watch per I/O thread");

	/* rpc_reply_buf: the encoded buffer, or its error as the status */
	{
		struct c3_dec d;

		rc = rpc_call_sync(cli, addr, T_BUF, NULL, 0, &resp, 5000);
		c3_dec_init(&d, resp.data, resp.len);
		ok(rc == 0 && c3_dec_u32(&d) == 0xabcd1234u && c3_dec_finish(&d) == 0,
		   "rpc_reply_buf sends the encoded buffer");
		c3_buf_release(&resp);
		rc = rpc_call_sync(cli, addr, T_BUF, "x", 1, &resp, 5000);
		is_int(rc, -ENOMEM, "rpc_reply_buf with a failed buffer replies its error");
		c3_buf_release(&resp);
	}

	/* reply bulk larger than the buffers given */
	{
		uint8_t small[100];
		struct iovec riov = { small, sizeof(small) };
		struct rpc_call call;

		c3_enc_u32(&enc, 5000);
		rpc_call_init(&call, T_BIGREPLY, enc.data, enc.len);
		call.resp_bulk = &riov;
		call.nresp_bulk = 1;
		rc = rpc_call_start(cli, addr, &call);
		if (rc == 0)
			rc = rpc_call_wait(&call);
		is_int(rc, -C3FS_ETOOBIG, "reply bulk over the buffers -> ETOOBIG");
		c3_buf_release(&call.resp);
		c3_buf_reset(&enc);
		is_int(rpc_call_sync(cli, addr, RPC_T_PING, NULL, 0, NULL, 5000), 0,
		       "connection still fine after discarding bulk");
	}

	/* expired deadline: handler sleeps past the caller's timeout */
	{
		uint64_t t0 = c3_now_ns();

		c3_enc_u32(&enc, 600);
		rc = rpc_call_sync(cli, addr, T_SLEEP, enc.data, enc.len, NULL, 100);
		is_int(rc, -C3FS_ETIMEDOUT, "deadline expired -> ETIMEDOUT");
		ok(c3_now_ns() - t0 < 550000000ull, "timed out before the handler replied");
		c3_buf_reset(&enc);
		/* the late reply arrives on the connection and must be discarded */
		c3_sleep_ms(700);
		is_int(rpc_call_sync(cli, addr, RPC_T_ECHO, "x", 1, NULL, 5000), 0,
		       "late reply discarded, connection usable");
	}
	/* late reply carrying bulk for an expired call */
	{
		uint8_t buf[1 << 16];
		struct iovec riov = { buf, sizeof(buf) };
		struct rpc_call call;

		c3_enc_u32(&enc, 1 << 16);
		/* fill the workers with sleepers so the big reply is late */
		rpc_call_init(&call, T_BIGREPLY, enc.data, enc.len);
		call.resp_bulk = &riov;
		call.nresp_bulk = 1;
		call.timeout_ms = 1;
		rc = rpc_call_start(cli, addr, &call);
		if (rc == 0)
			rc = rpc_call_wait(&call);
		ok(rc == 0 || rc == -C3FS_ETIMEDOUT, "1 ms call completes (ok or timed out)");
		c3_buf_release(&call.resp);
		c3_buf_reset(&enc);
		c3_sleep_ms(100);
		is_int(rpc_call_sync(cli, addr, RPC_T_PING, NULL, 0, NULL, 5000), 0,
		       "connection usable after a late bulk reply");
	}

	/* many concurrent calls from several threads */
	{
		pthread_t th[8];
		struct conc_arg a[8];
		atomic_int nbad = 0;

		for (int i = 0; i < 8; i++) {
			a[i] = (struct conc_arg){ cli, addr, 400, &nbad };
			pthread_create(&th[i], NULL, conc_main, &a[i]);
		}
		for (int i = 0; i < 8; i++)
			pthread_join(th[i], NULL);
		is_int(atomic_load(&nbad), 0, "3200 calls from 8 threads, all correct");
	}

	/* asynchronous calls with callbacks, many in flight on one connection */
	{
		static struct rpc_call calls[500];
		struct async_ctx ctx;
		int started = 0;

		memset(&ctx, 0, sizeof(ctx));
		for (int i = 0; i < 500; i++) {
			rpc_call_init(&calls[i], RPC_T_ECHO, "abc", 3);
			calls[i].done = async_done;
			calls[i].arg = &ctx;
			if (rpc_call_start(cli, addr, &calls[i]) == 0)
				started++;
		}
		is_int(started, 500, "500 async calls started");
		for (int i = 0; i < 500 && atomic_load(&ctx.done) < started; i++)
			c3_sleep_ms(10);
		is_int(atomic_load(&ctx.done), 500, "each callback ran");
		is_int(atomic_load(&ctx.ok), 500, "all succeeded");
		c3_sleep_ms(50);
		is_int(atomic_load(&ctx.done), 500, "and ran exactly once");
	}

	/* authentication (the refusals must be logged: the log goes to a file meanwhile) */
	char logpath[] = "/tmp/c3fs-net-test-log.XXXXXX";
	int logfd = mkstemp(logpath);

	ok(logfd >= 0 && c3_log_open(logpath) == 0, "log to a temporary file");
	bad = mk_client("wrong", 1);
	rc = rpc_call_sync(bad, addr, RPC_T_PING, NULL, 0, NULL, 2000);
	is_int(rc, -C3FS_EAUTH, "wrong token refused with EAUTH");
	rpc_client_free(bad);
	bad = mk_client(NULL, 1);
	rc = rpc_call_sync(bad, addr, RPC_T_PING, NULL, 0, NULL, 2000);
	is_int(rc, -C3FS_EAUTH, "missing token refused with EAUTH");
	rpc_client_free(bad);
	{
		char text[8192];
		ssize_t n = logfd >= 0 ? pread(logfd, text, sizeof(text) - 1, 0) : -1;

		text[n > 0 ? n : 0] = '\0';
		ok(strstr(text, "authentication failed from 127.0.0.1") &&
			   strstr(text, "wrong cluster token"),
		   "the server logged the refusals");
		c3_log_open("/dev/stderr");
		if (logfd >= 0)
			close(logfd);
		unlink(logpath);
	}

	is_int(rpc_call_sync(cli, "127.0.0.1:99999", RPC_T_PING, NULL, 0, NULL, 1000),
	       -C3FS_ECONFIG, "port out of range -> ECONFIG");
	is_int(rpc_call_sync(cli, "[::1:5", RPC_T_PING, NULL, 0, NULL, 1000), -C3FS_ECONFIG,
	       "unterminated IPv6 address -> ECONFIG");

	/* a failed start never calls back, and a mistaken wait on it returns the error */
	{
		struct rpc_call call;

		rpc_call_init(&call, RPC_T_PING, NULL, 0);
		is_int(rpc_call_start(cli, "bad address", &call), -C3FS_ECONFIG,
		       "start with a bad address fails");
		is_int(rpc_call_wait(&call), -C3FS_ECONFIG, "waiting on it returns at once");
	}

	/* nothing listening */
	rc = rpc_call_sync(cli, "127.0.0.1:1", RPC_T_PING, NULL, 0, NULL, 2000);
	is_int(rc, -C3FS_ECONNECT, "nothing listening -> ECONNECT");
	is_int(rpc_call_sync(cli, "not-an-address", RPC_T_PING, NULL, 0, NULL, 2000),
	       -C3FS_ECONFIG, "malformed address -> ECONFIG");
	{
		/* a dead peer is not hammered: failed connects back off, calls fail fast */
		uint64_t t0 = c3_now_ns();
		int same = 1;

		for (int i = 0; i < 50; i++)
			if (rpc_call_sync(cli, "127.0.0.1:1", RPC_T_PING, NULL, 0, NULL, 2000) !=
			    -C3FS_ECONNECT)
				same = 0;
		ok(same, "50 calls to a dead peer: all ECONNECT");
		ok(c3_now_ns() - t0 < 1000000000ull, "and fast (connect backoff)");
	}

	/* server shutdown with calls in flight: a running handler finishes, queued ones get
	 * ESHUTDOWN, and nothing hangs */
	{
		static struct rpc_call calls[40];
		struct async_ctx ctx;
		int started = 0, shut = 0, okc = 0, other = 0;

		static struct rpc_call hold;
		int hrc;

		rpc_call_init(&hold, T_WATCH, "hold", 4);
		hold.timeout_ms = 20000;
		hrc = rpc_call_start(cli, addr, &hold);
		for (int i = 0; i < 500 && hrc == 0 && atomic_load(&watch_held) < 1; i++)
			c3_sleep_ms(10);
		memset(&ctx, 0, sizeof(ctx));
		c3_enc_u32(&enc, 200);
		for (int i = 0; i < 40; i++) {
			rpc_call_init(&calls[i], T_SLEEP, enc.data, enc.len);
			calls[i].timeout_ms = 20000;
			if (rpc_call_start(cli, addr, &calls[i]) == 0)
				started++;
		}
		c3_sleep_ms(50);
		rpc_server_free(srv);
		srv = NULL;
		for (int i = 0; i < started; i++) {
			rc = rpc_call_wait(&calls[i]);
			if (rc == 0)
				okc++;
			else if (rc == -C3FS_ESHUTDOWN)
				shut++;
			else if (rc != -C3FS_EPEERCLOSED)
				other++;
			c3_buf_release(&calls[i].resp);
		}
		if (hrc == 0)
			hrc = rpc_call_wait(&hold);
		ok(hrc == 0 && hold.resp.len == 4 && memcmp(hold.resp.data, "stop", 4) == 0,
		   "a request held for a watched fd is answered by on_stop at shutdown");
		c3_buf_release(&hold.resp);
		ok(atomic_load(&watch_stops) == atomic_load(&watch_registered),
		   "on_stop ran once per watch");
		is_int(started, 40, "40 sleeping calls started");
		ok(okc >= 1 && okc <= 8, "running handlers finished");
		ok(shut >= 1, "queued requests answered with ESHUTDOWN");
		is_int(other, 0, "no other outcome");
		diag("shutdown: %d ok, %d ESHUTDOWN, %d EPEERCLOSED", okc, shut,
		     started - okc - shut - other);
		c3_buf_release(&enc);
	}
	rc = rpc_call_sync(cli, addr, RPC_T_PING, NULL, 0, NULL, 1000);
	ok(rc == -C3FS_ECONNECT || rc == -C3FS_EPEERCLOSED, "server gone: clear error");
	{
		struct c3_buf m = C3_BUF_INIT;

		c3_metrics_render(&m);
		c3_buf_append(&m, "", 1);
		ok(m.data && strstr((char *)m.data, "c3fs_rpc_server_requests_total"),
		   "server request counter exported");
		ok(m.data && strstr((char *)m.data, "c3fs_rpc_server_request_seconds") &&
			   strstr((char *)m.data, "type=\"3\""),
		   "per-type latency histogram exported");
		ok(m.data && strstr((char *)m.data, "type=\"3\",name=\"echo\"") &&
			   strstr((char *)m.data, "type=\"50\",name=\"sleep\""),
		   "and labelled with the message name from the namer");
		ok(m.data && strstr((char *)m.data, "c3fs_rpc_client_timeouts_total"),
		   "client timeout counter exported");
		c3_buf_release(&m);
	}
	rpc_client_free(cli);
	return tap_done();
}
