/* The client against a misbehaving server (a raw socket in a thread of this test): a peer
 * that dies with calls in flight, one that dies mid-reply (payload and bulk), one that
 * never answers, one that answers garbage, and a reply for an unknown id.  Every call
 * completes with a clear error and nothing hangs; the client reconnects afterwards. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "net_test.h"
#include "tests/lib/tap.h"

enum fake_mode {
	FAKE_CLOSE_AFTER_REQ,  /* read one request, close */
	FAKE_HALF_PAYLOAD,     /* reply header promising 100 bytes, send 10, close */
	FAKE_HALF_BULK,        /* reply with bulk 1 MiB, send 4 KiB of it, close */
	FAKE_SILENT,           /* read requests, never answer (until told to stop) */
	FAKE_GARBAGE,          /* answer with 36 bytes of garbage */
	FAKE_WRONG_ID,         /* answer with an unknown id (+bulk), then the right one */
};

struct fake {
	int lfd;
	int port;
	_Atomic enum fake_mode mode;
	pthread_t thr;
	atomic_int stop;
};

static int fake_read_request(int fd, struct rpc_frame *f)
{
	uint8_t hdr[RPC_HEADER_BYTES], junk[4096];
	size_t left;

	if (nt_read_all(fd, hdr, sizeof(hdr)) ||
	    rpc_frame_decode(hdr, sizeof(hdr), 1 << 24, 1 << 30, f) != 0)
		return -1;
	left = (size_t)f->payload_len + f->bulk_len;
	while (left) {
		size_t k = left < sizeof(junk) ? left : sizeof(junk);

		if (nt_read_all(fd, junk, k))
			return -1;
		left -= k;
	}
	return 0;
}

static void fake_reply_hdr(int fd, const struct rpc_frame *req, uint64_t id, uint32_t plen,
			   uint32_t blen)
{
	struct rpc_frame f;
	uint8_t hdr[RPC_HEADER_BYTES];

	memset(&f, 0, sizeof(f));
	f.version = RPC_PROTO_VERSION;
	f.flags = RPC_FLAG_RESPONSE;
	f.type = req->type;
	f.id = id;
	f.payload_len = plen;
	f.bulk_len = blen;
	rpc_frame_encode(&f, hdr);
	nt_write_all(fd, hdr, sizeof(hdr));
}

static void *fake_main(void *arg)
{
	struct fake *fk = arg;
	static uint8_t zeros[1 << 16];

	while (!fk->stop) {
		struct pollfd p = { fk->lfd, POLLIN, 0 };
		struct rpc_frame f;
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(fk->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		/* auth */
		if (fake_read_request(fd, &f) != 0) {
			close(fd);
			continue;
		}
		fake_reply_hdr(fd, &f, f.id, 0, 0);
		for (;;) {
			struct pollfd q = { fd, POLLIN, 0 };

			if (fk->stop)
				break;
			if (poll(&q, 1, 50) <= 0)
				continue;
			if (fake_read_request(fd, &f) != 0)
				break;
			if (fk->mode == FAKE_CLOSE_AFTER_REQ)
				break;
			if (fk->mode == FAKE_HALF_PAYLOAD) {
				fake_reply_hdr(fd, &f, f.id, 100, 0);
				nt_write_all(fd, zeros, 10);
				break;
			}
			if (fk->mode == FAKE_HALF_BULK) {
				fake_reply_hdr(fd, &f, f.id, 0, 1 << 20);
				nt_write_all(fd, zeros, 4096);
				break;
			}
			if (fk->mode == FAKE_GARBAGE) {
				nt_write_all(fd, zeros, RPC_HEADER_BYTES);
				c3_sleep_ms(100);
				break;
			}
			if (fk->mode == FAKE_WRONG_ID) {
				fake_reply_hdr(fd, &f, f.id + 1000, 0, 1 << 16);
				nt_write_all(fd, zeros, 1 << 16);
				fake_reply_hdr(fd, &f, f.id, 0, 0);
			}
			/* FAKE_SILENT: keep reading */
		}
		close(fd);
	}
	return NULL;
}

static int fake_start(struct fake *fk, enum fake_mode mode)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(fk, 0, sizeof(*fk));
	fk->mode = mode;
	fk->lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fk->lfd < 0 || bind(fk->lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fk->lfd, 16) != 0 || getsockname(fk->lfd, (struct sockaddr *)&sin, &len) != 0)
		return -1;
	fk->port = ntohs(sin.sin_port);
	return pthread_create(&fk->thr, NULL, fake_main, fk) == 0 ? 0 : -1;
}

static void fake_stop(struct fake *fk)
{
	fk->stop = 1;
	pthread_join(fk->thr, NULL);
	close(fk->lfd);
}

static int call_with_bulk(struct rpc_client *cli, const char *addr, uint32_t timeout_ms)
{
	static uint8_t rb[1 << 20];
	struct iovec riov = { rb, sizeof(rb) };
	struct rpc_call call;
	int rc;

	rpc_call_init(&call, RPC_T_ECHO, "q", 1);
	call.resp_bulk = &riov;
	call.nresp_bulk = 1;
	call.timeout_ms = timeout_ms;
	rc = rpc_call_start(cli, addr, &call);
	if (rc == 0)
		rc = rpc_call_wait(&call);
	c3_buf_release(&call.resp);
	return rc;
}

int main(void)
{
	struct rpc_client_opts o;
	struct rpc_client *cli;
	struct fake fk;
	char addr[64];
	uint64_t t0;
	int rc;

	memset(&o, 0, sizeof(o));
	o.conns_per_peer = 1;
	ok(rpc_client_new(&o, &cli) == 0, "client");

	ok(fake_start(&fk, FAKE_CLOSE_AFTER_REQ) == 0, "fake server (closes after a request)");
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", fk.port);
	is_int(call_with_bulk(cli, addr, 5000), -C3FS_EPEERCLOSED, "peer died: EPEERCLOSED");
	is_int(call_with_bulk(cli, addr, 5000), -C3FS_EPEERCLOSED,
	       "reconnected, died again: EPEERCLOSED");
	{
		/* many calls in flight when the peer dies: all fail, none hangs */
		static struct rpc_call calls[50];
		int started = 0, bad = 0;

		fk.mode = FAKE_SILENT;
		for (int i = 0; i < 50; i++) {
			rpc_call_init(&calls[i], RPC_T_PING, NULL, 0);
			calls[i].timeout_ms = 20000;
			if (rpc_call_start(cli, addr, &calls[i]) == 0)
				started++;
		}
		is_int(started, 50, "50 calls in flight on a silent peer");
		t0 = c3_now_ns();
		fake_stop(&fk); /* closes the connection */
		for (int i = 0; i < started; i++)
			if (rpc_call_wait(&calls[i]) != -C3FS_EPEERCLOSED)
				bad++;
		is_int(bad, 0, "all of them fail with EPEERCLOSED when it dies");
		ok(c3_now_ns() - t0 < 5000000000ull, "promptly, not at their deadline");
	}

	ok(fake_start(&fk, FAKE_HALF_PAYLOAD) == 0, "fake server (dies mid-payload)");
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", fk.port);
	is_int(call_with_bulk(cli, addr, 5000), -C3FS_EPEERCLOSED, "died mid-payload");
	fake_stop(&fk);

	ok(fake_start(&fk, FAKE_HALF_BULK) == 0, "fake server (dies mid-bulk)");
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", fk.port);
	is_int(call_with_bulk(cli, addr, 5000), -C3FS_EPEERCLOSED, "died mid-bulk");
	fake_stop(&fk);

	ok(fake_start(&fk, FAKE_SILENT) == 0, "fake server (never answers)");
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", fk.port);
	t0 = c3_now_ns();
	is_int(call_with_bulk(cli, addr, 200), -C3FS_ETIMEDOUT, "silent peer: ETIMEDOUT");
	ok(c3_now_ns() - t0 < 2000000000ull, "at about the deadline");
	fk.mode = FAKE_GARBAGE;
	fake_stop(&fk);

	ok(fake_start(&fk, FAKE_GARBAGE) == 0, "fake server (answers garbage)");
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", fk.port);
	is_int(call_with_bulk(cli, addr, 5000), -C3FS_EPEERCLOSED, "garbage reply: EPEERCLOSED");
	fake_stop(&fk);

	ok(fake_start(&fk, FAKE_WRONG_ID) == 0, "fake server (reply for an unknown id first)");
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", fk.port);
	rc = call_with_bulk(cli, addr, 5000);
	is_int(rc, 0, "unknown-id reply with bulk discarded, the right one delivered");
	fake_stop(&fk);

	rpc_client_free(cli);
	return tap_done();
}
