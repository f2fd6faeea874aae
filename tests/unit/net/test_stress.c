/* Randomized stress of the call state machine: several threads mix synchronous and
 * asynchronous calls, with and without bulk both ways, deadlines from 1 ms (many expire
 * while being written or while the reply is being read), a handler with random delays,
 * and the server restarted twice underneath (every connection dies with calls in flight).
 * Checks: each call completes exactly once, with an expected status, payload and bulk
 * intact when it succeeded, and nothing hangs or leaks. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/log.h"
#include "net_test.h"
#include "tests/lib/tap.h"

#define T_RAND 70
#define NTHREADS 4
#define NCALLS 600
#define MAXB (256u << 10)

static char g_addr[64];
static uint8_t pattern[MAXB]; /* filled before any thread starts */
static atomic_int g_bad_status, g_bad_data, g_double, g_ok, g_timeouts, g_closed;

static void h_rand(struct rpc_req *req, void *ctx)
{
	struct c3_dec d;
	uint32_t delay_us, rbulk;
	struct iovec iov[2];

	(void)ctx;
	c3_dec_init(&d, req->payload, req->payload_len);
	delay_us = c3_dec_u32(&d);
	rbulk = c3_dec_u32(&d);
	if (d.err || rbulk > MAXB) {
		rpc_reply(req, -EINVAL, NULL, 0, NULL, 0);
		return;
	}
	if (delay_us)
		usleep(delay_us);
	/* reply: the request payload back, then rbulk pattern bytes in two pieces */
	iov[0] = (struct iovec){ pattern, rbulk / 2 };
	iov[1] = (struct iovec){ pattern + rbulk / 2, rbulk - rbulk / 2 };
	rpc_reply(req, 0, req->payload, req->payload_len, iov, 2);
}

struct xcall {
	struct rpc_call call;
	atomic_int completions;
	uint8_t req[16];
	uint8_t *sbulk, *rbulk;
	uint32_t rbulk_len;
	struct iovec siov, riov;
};

static void check_done(struct xcall *x, int rc)
{
	if (rc == 0) {
		int good = x->call.resp.len == 8 && memcmp(x->call.resp.data, x->req, 8) == 0 &&
			   x->call.resp_bulk_len == x->rbulk_len;

		for (uint32_t i = 0; good && i < x->rbulk_len; i++)
			if (x->rbulk[i] != (uint8_t)(i * 13 + 1))
				good = 0;
		if (!good)
			atomic_fetch_add(&g_bad_data, 1);
		atomic_fetch_add(&g_ok, 1);
	} else if (rc == -C3FS_ETIMEDOUT) {
		atomic_fetch_add(&g_timeouts, 1);
	} else if (rc == -C3FS_EPEERCLOSED || rc == -C3FS_ECONNECT || rc == -C3FS_ESHUTDOWN) {
		atomic_fetch_add(&g_closed, 1);
	} else {
		atomic_fetch_add(&g_bad_status, 1);
		diag("unexpected status %d (%s)", rc, c3_strerror(rc));
	}
}

static void async_done(struct rpc_call *call)
{
	struct xcall *x = (struct xcall *)call;

	check_done(x, call->status);
	/* last: the owner frees the buffers once it sees the completion */
	if (atomic_fetch_add(&x->completions, 1) != 0)
		atomic_fetch_add(&g_double, 1);
}

static void *worker(void *arg)
{
	struct rpc_client *cli = arg;
	unsigned seed = (unsigned)(uintptr_t)pthread_self();
	struct xcall *xs = calloc(NCALLS, sizeof(*xs));
	int started_async = 0;

	for (int i = 0; i < NCALLS; i++) {
		struct xcall *x = &xs[i];
		struct c3_buf b = C3_BUF_INIT;
		uint32_t sb = (rand_r(&seed) % 4 == 0) ? (uint32_t)(rand_r(&seed) % MAXB) : 0;
		bool async = rand_r(&seed) % 2;
		int rc;

		x->rbulk_len = (rand_r(&seed) % 3 == 0) ? (uint32_t)(rand_r(&seed) % MAXB) : 0;
		c3_enc_u32(&b, (uint32_t)(rand_r(&seed) % 3000));
		c3_enc_u32(&b, x->rbulk_len);
		memcpy(x->req, b.data, 8);
		c3_buf_release(&b);
		x->sbulk = malloc(sb + 1);
		x->rbulk = malloc(MAXB);
		memset(x->sbulk, 7, sb);
		rpc_call_init(&x->call, T_RAND, x->req, 8);
		x->siov = (struct iovec){ x->sbulk, sb };
		x->riov = (struct iovec){ x->rbulk, MAXB };
		x->call.bulk = &x->siov;
		x->call.nbulk = 1;
		x->call.resp_bulk = &x->riov;
		x->call.nresp_bulk = 1;
		x->call.timeout_ms = 1 + (uint32_t)(rand_r(&seed) % 20);
		if (async)
			x->call.done = async_done;
		if (!async && i % 2) {
			/* start + wait with the caller reading from the start */
			rc = rpc_call_run(cli, g_addr, &x->call);
			if (rc == -C3FS_ECONNECT) {
				atomic_store(&x->completions, -1000);
				continue;
			}
			if (atomic_fetch_add(&x->completions, 1) != 0)
				atomic_fetch_add(&g_double, 1);
			check_done(x, rc);
			continue;
		}
		rc = rpc_call_start(cli, g_addr, &x->call);
		if (rc != 0) {
			/* a failed start never calls back */
			if (rc != -C3FS_ECONNECT && rc != -C3FS_EPEERCLOSED &&
			    rc != -C3FS_ETIMEDOUT)
				atomic_fetch_add(&g_bad_status, 1);
			x->call.done = NULL;
			atomic_store(&x->completions, -1000);
			continue;
		}
		if (async) {
			started_async++;
			continue;
		}
		rc = rpc_call_wait(&x->call);
		if (atomic_fetch_add(&x->completions, 1) != 0)
			atomic_fetch_add(&g_double, 1);
		check_done(x, rc);
	}
	/* wait for the async ones (their deadlines are at most 20 ms) */
	for (int spin = 0; spin < 1000; spin++) {
		int pending = 0;

		for (int i = 0; i < NCALLS; i++)
			if (xs[i].call.done && atomic_load(&xs[i].completions) == 0)
				pending++;
		if (!pending)
			break;
		c3_sleep_ms(10);
	}
	for (int i = 0; i < NCALLS; i++) {
		if (xs[i].call.done && atomic_load(&xs[i].completions) != 1)
			atomic_fetch_add(&g_double, 1000); /* never completed: a hang */
		c3_buf_release(&xs[i].call.resp);
		free(xs[i].sbulk);
		free(xs[i].rbulk);
	}
	free(xs);
	(void)started_async;
	return NULL;
}

static struct rpc_server *start_server(int port)
{
	struct rpc_server_opts o;
	struct rpc_server *s;
	char listen[64];

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	memset(&o, 0, sizeof(o));
	o.listen = listen;
	o.token = "t";
	o.workers = 4;
	for (int i = 0; i < 100; i++) {
		if (rpc_server_new(&o, &s) == 0) {
			if (rpc_server_register(s, T_RAND, h_rand, NULL, 0) == 0 &&
			    rpc_server_start(s) == 0)
				return s;
			rpc_server_free(s);
			return NULL;
		}
		c3_sleep_ms(20); /* port still held */
	}
	return NULL;
}

int main(void)
{
	struct rpc_client_opts co;
	struct rpc_client *cli;
	struct rpc_server *srv = start_server(0);
	pthread_t th[NTHREADS];
	int port;

	for (size_t i = 0; i < MAXB; i++)
		pattern[i] = (uint8_t)(i * 13 + 1);
	ok(srv != NULL, "server");
	if (!srv)
		return tap_done();
	port = rpc_server_port(srv);
	snprintf(g_addr, sizeof(g_addr), "127.0.0.1:%d", port);
	memset(&co, 0, sizeof(co));
	co.token = "t";
	co.conns_per_peer = 2;
	co.io_threads = 2;
	co.connect_timeout_ms = 200;
	ok(rpc_client_new(&co, &cli) == 0, "client");
	c3_log_set_level(C3_LOG_ERROR);
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, worker, cli);
	for (int r = 0; r < 2; r++) {
		c3_sleep_ms(700);
		rpc_server_free(srv);
		srv = start_server(port);
		if (!srv)
			break;
	}
	ok(srv != NULL, "server restarted twice under load");
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	diag("ok %d, timed out %d, connection lost %d", atomic_load(&g_ok),
	     atomic_load(&g_timeouts), atomic_load(&g_closed));
	is_int(atomic_load(&g_double), 0, "every call completed exactly once");
	is_int(atomic_load(&g_bad_status), 0, "only expected statuses");
	is_int(atomic_load(&g_bad_data), 0, "successful replies carry intact payload and bulk");
	ok(atomic_load(&g_ok) > 0 && atomic_load(&g_timeouts) > 0,
	   "both successes and timeouts happened");
	/* each idle pooled connection the last restart closed fails its next call once
	 * with EPEERCLOSED (nothing reads an idle connection; callers retry that error):
	 * after at most one such failure per pooled connection, the client works */
	int prc = -1;

	for (int t = 0; t < 16; t++) {
		prc = rpc_call_sync(cli, g_addr, RPC_T_PING, NULL, 0, NULL, 5000);
		if (prc != -C3FS_EPEERCLOSED && prc != -C3FS_ECONNECT)
			break;
	}
	is_int(prc, 0, "client still works afterwards");
	rpc_client_free(cli);
	rpc_server_free(srv);
	return tap_done();
}
