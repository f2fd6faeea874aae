/* The server against hostile or broken peers, over raw sockets: bad magic, wrong version,
 * oversized lengths, unknown types, responses sent as requests, missing/late/oversized
 * authentication, truncated frames and peers closing mid-frame, and a flood of 500
 * connections over max_conns.  Each gets a clear error, and afterwards a well-behaved
 * client is still served (and nothing leaks: LSan runs at exit). */
#include <pthread.h>
#include <stdlib.h>

#include "common/metrics.h"
#include "net_test.h"
#include "tests/lib/tap.h"

static int port;
static char addr[64];

/* Connect and authenticate a raw socket; -1 on failure. */
static int authed_socket(void)
{
	int fd = nt_raw_connect(port);

	if (fd < 0)
		return -1;
	if (nt_raw_auth(fd, "tok") != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Expect an error frame with status want, then the close. */
static void expect_error_close(int fd, int want, const char *name)
{
	struct rpc_frame f;
	char n2[128];

	if (nt_read_reply(fd, &f) != 0) {
		ok(0, name);
		diag("no error frame");
		return;
	}
	is_int(f.status, want, name);
	snprintf(n2, sizeof(n2), "%s: connection closed", name);
	ok(nt_closed_by_peer(fd), n2);
}

struct flood_arg {
	int fd;
	int n;
	int ok;
	uint16_t type; /* RPC_T_ECHO: 4 KiB payload each; RPC_T_PING: empty */
};

static void *flood_writer(void *arg)
{
	struct flood_arg *fa = arg;
	static uint8_t buf[RPC_HEADER_BYTES + 4096];

	size_t len = fa->type == RPC_T_PING ? RPC_HEADER_BYTES : sizeof(buf);

	fa->ok = 1;
	for (int i = 0; i < fa->n; i++) {
		nt_hdr(buf, fa->type, 1000 + (uint64_t)i, fa->type == RPC_T_PING ? 0 : 4096, 0);
		if (nt_write_all(fa->fd, buf, len) != 0) {
			fa->ok = 0;
			break;
		}
	}
	return NULL;
}

static int served(struct rpc_client *cli)
{
	struct c3_buf r = C3_BUF_INIT;
	int rc = rpc_call_sync(cli, addr, RPC_T_ECHO, "still", 5, &r, 5000);

	rc = rc == 0 && r.len == 5 && memcmp(r.data, "still", 5) == 0;
	c3_buf_release(&r);
	return rc;
}

int main(void)
{
	struct rpc_server *srv = nt_server("tok", 2, 100, 300);
	struct rpc_client_opts co;
	struct rpc_client *cli;
	uint8_t h[RPC_HEADER_BYTES], big[20000];
	struct rpc_frame f;
	int fd;

	ok(srv && rpc_server_start(srv) == 0, "server up");
	if (!srv)
		return tap_done();
	port = rpc_server_port(srv);
	nt_addr(srv, addr, sizeof(addr));
	memset(&co, 0, sizeof(co));
	co.token = "tok";
	co.conns_per_peer = 1;
	ok(rpc_client_new(&co, &cli) == 0, "client");
	ok(served(cli), "well-behaved client served");

	/* bad magic after auth */
	fd = authed_socket();
	ok(fd >= 0, "raw socket authenticated");
	memset(h, 0xab, sizeof(h));
	nt_write_all(fd, h, sizeof(h));
	expect_error_close(fd, -C3FS_EBADFRAME, "bad magic -> EBADFRAME");
	close(fd);

	/* bad header checksum */
	fd = authed_socket();
	nt_hdr(h, RPC_T_PING, 9, 0, 0);
	h[20] ^= 1;
	nt_write_all(fd, h, sizeof(h));
	expect_error_close(fd, -C3FS_EBADFRAME, "bad checksum -> EBADFRAME");
	close(fd);

	/* wrong version */
	fd = authed_socket();
	memset(&f, 0, sizeof(f));
	f.version = 9;
	f.type = RPC_T_PING;
	f.id = 5;
	rpc_frame_encode(&f, h);
	nt_write_all(fd, h, sizeof(h));
	expect_error_close(fd, -C3FS_EVERSION, "wrong version -> EVERSION");
	close(fd);

	/* oversized payload and bulk lengths */
	fd = authed_socket();
	nt_hdr(h, RPC_T_ECHO, 6, RPC_MAX_PAYLOAD_DEFAULT + 1, 0);
	nt_write_all(fd, h, sizeof(h));
	expect_error_close(fd, -C3FS_ETOOBIG, "payload length over the limit -> ETOOBIG");
	close(fd);
	fd = authed_socket();
	nt_hdr(h, RPC_T_ECHO, 7, 0, 0xffffffffu);
	nt_write_all(fd, h, sizeof(h));
	expect_error_close(fd, -C3FS_ETOOBIG, "bulk length over the limit -> ETOOBIG");
	close(fd);

	/* a response frame sent to the server */
	fd = authed_socket();
	memset(&f, 0, sizeof(f));
	f.version = RPC_PROTO_VERSION;
	f.flags = RPC_FLAG_RESPONSE;
	f.type = RPC_T_PING;
	f.id = 8;
	rpc_frame_encode(&f, h);
	nt_write_all(fd, h, sizeof(h));
	expect_error_close(fd, -C3FS_EBADFRAME, "response frame to a server -> EBADFRAME");
	close(fd);

	/* unknown type: answered with the request id, connection kept */
	fd = authed_socket();
	nt_hdr(h, 999, 4242, 3, 2);
	nt_write_all(fd, h, sizeof(h));
	nt_write_all(fd, "abcde", 5);
	ok(nt_read_reply(fd, &f) == 0 && f.status == -C3FS_EUNKNOWNTYPE && f.id == 4242,
	   "unknown type -> EUNKNOWNTYPE for that id");
	nt_hdr(h, 60000, 4243, 0, 0);
	nt_write_all(fd, h, sizeof(h));
	ok(nt_read_reply(fd, &f) == 0 && f.status == -C3FS_EUNKNOWNTYPE && f.id == 4243,
	   "type beyond the table -> EUNKNOWNTYPE");
	nt_hdr(h, RPC_T_PING, 4244, 0, 0);
	nt_write_all(fd, h, sizeof(h));
	ok(nt_read_reply(fd, &f) == 0 && f.status == 0 && f.id == 4244,
	   "same connection still serves a ping");
	close(fd);

	/* several frames in one write, the last one split over two writes */
	fd = authed_socket();
	{
		uint8_t many[5 * RPC_HEADER_BYTES];
		int good = 1;

		for (int i = 0; i < 5; i++)
			nt_hdr(many + i * RPC_HEADER_BYTES, RPC_T_PING, 100 + (uint64_t)i, 0, 0);
		nt_write_all(fd, many, sizeof(many) - 10);
		c3_sleep_ms(20);
		nt_write_all(fd, many + sizeof(many) - 10, 10);
		for (int i = 0; i < 5; i++)
			if (nt_read_reply(fd, &f) != 0 || f.status != 0)
				good = 0;
		ok(good, "pipelined and split frames all answered");
	}
	close(fd);

	/* authentication: first frame not AUTH, wrong token, oversized unauthenticated frame,
	 * silent peer past the idle timeout */
	fd = nt_raw_connect(port);
	nt_hdr(h, RPC_T_PING, 1, 0, 0);
	nt_write_all(fd, h, sizeof(h));
	expect_error_close(fd, -C3FS_EAUTH, "request before auth -> EAUTH");
	close(fd);
	fd = nt_raw_connect(port);
	is_int(nt_raw_auth(fd, "nope"), -C3FS_EAUTH, "wrong token -> EAUTH");
	ok(nt_closed_by_peer(fd), "wrong token: connection closed");
	close(fd);
	fd = nt_raw_connect(port);
	is_int(nt_raw_auth(fd, ""), -C3FS_EAUTH, "empty token -> EAUTH");
	close(fd);
	fd = nt_raw_connect(port);
	nt_hdr(h, RPC_T_AUTH, 1, sizeof(big), 0);
	nt_write_all(fd, h, sizeof(h));
	expect_error_close(fd, -C3FS_EAUTH, "unauthenticated frame over 16 KiB -> EAUTH");
	close(fd);
	fd = nt_raw_connect(port);
	nt_hdr(h, RPC_T_AUTH, 1, 4, 0);
	nt_write_all(fd, h, sizeof(h));
	nt_write_all(fd, "\xff\xff\xff\x7f", 4);
	expect_error_close(fd, -C3FS_EAUTH, "malformed auth payload -> EAUTH");
	close(fd);
	fd = nt_raw_connect(port);
	expect_error_close(fd, -C3FS_EAUTH, "silent peer closed after the idle timeout");
	close(fd);

	/* truncated frames and peers closing mid-frame */
	fd = authed_socket();
	nt_hdr(h, RPC_T_PING, 1, 0, 0);
	nt_write_all(fd, h, 20);
	close(fd);
	fd = authed_socket();
	nt_hdr(h, RPC_T_ECHO, 1, 1000, 0);
	nt_write_all(fd, h, sizeof(h));
	nt_write_all(fd, big, 10);
	close(fd);
	fd = authed_socket();
	nt_hdr(h, RPC_T_ECHO, 1, 10, 1u << 20);
	nt_write_all(fd, h, sizeof(h));
	nt_write_all(fd, big, 10 + 5000);
	close(fd);
	fd = authed_socket();
	nt_hdr(h, RPC_T_ECHO, 1, 0, 0);
	nt_write_all(fd, h, sizeof(h));
	shutdown(fd, SHUT_RDWR); /* reply goes nowhere */
	close(fd);
	c3_sleep_ms(50);
	ok(served(cli), "served after truncated frames and mid-frame closes");

	/* flow control: a client pipelining thousands of requests without reading replies
	 * makes the server stop reading it (instead of queueing without bound); once the
	 * client reads, every request is answered */
	{
		struct flood_arg fa;
		pthread_t wt;
		int got = 0, inorder_ids = 1;
		struct c3_buf m = C3_BUF_INIT;

		fa.fd = authed_socket();
		fa.n = 3000;
		fa.ok = 0;
		fa.type = RPC_T_ECHO;
		pthread_create(&wt, NULL, flood_writer, &fa);
		c3_sleep_ms(1500);
		for (int i = 0; i < fa.n; i++) {
			static uint8_t junk[4096];

			if (nt_read_reply(fa.fd, &f) != 0 || f.status != 0 || f.payload_len != 4096 ||
			    nt_read_all(fa.fd, junk, 4096) != 0)
				break;
			if (f.id == 0)
				inorder_ids = 0;
			got++;
		}
		pthread_join(wt, NULL);
		ok(fa.ok, "3000 pipelined 4 KiB requests written");
		is_int(got, 3000, "all answered once the client reads");
		ok(inorder_ids, "with their ids");
		c3_metrics_render(&m);
		c3_buf_append(&m, "", 1);
		{
			const char *p = m.data ? strstr((char *)m.data,
							"\nc3fs_rpc_server_flow_pauses_total ") : NULL;

			ok(p && atol(p + strlen("\nc3fs_rpc_server_flow_pauses_total ")) > 0,
			   "the server paused reading that connection");
		}
		c3_buf_release(&m);
		close(fa.fd);
	}

	/* mutated streams: valid conversations with random bytes flipped or cut short; the
	 * server answers or closes each one, never crashes, and keeps serving */
	{
		unsigned seed = 12345;
		int closed = 0, answered = 0;

		for (int conn = 0; conn < 150; conn++) {
			uint8_t stream[4096];
			size_t len = 0;
			struct c3_buf tokb = C3_BUF_INIT;
			int cfd, nflip;

			c3_enc_str(&tokb, "tok");
			nt_hdr(stream, RPC_T_AUTH, 1, (uint32_t)tokb.len, 0);
			memcpy(stream + RPC_HEADER_BYTES, tokb.data, tokb.len);
			len = RPC_HEADER_BYTES + tokb.len;
			c3_buf_release(&tokb);
			for (int k = 0; k < 8 && len + RPC_HEADER_BYTES + 300 < sizeof(stream); k++) {
				uint32_t pl = (uint32_t)(rand_r(&seed) % 100);
				uint32_t bl = (uint32_t)(rand_r(&seed) % 200);
				uint16_t type = (uint16_t)(rand_r(&seed) % 4 ? RPC_T_ECHO : RPC_T_PING);

				if (type == RPC_T_PING)
					pl = bl = 0;
				nt_hdr(stream + len, type, 10 + (uint64_t)k, pl, bl);
				len += RPC_HEADER_BYTES;
				for (uint32_t b = 0; b < pl + bl; b++)
					stream[len++] = (uint8_t)rand_r(&seed);
			}
			nflip = 1 + rand_r(&seed) % 3;
			for (int k = 0; k < nflip; k++)
				stream[rand_r(&seed) % len] ^= (uint8_t)(1u << (rand_r(&seed) % 8));
			if (rand_r(&seed) % 4 == 0)
				len = (size_t)rand_r(&seed) % len;
			cfd = nt_raw_connect(port);
			if (cfd < 0)
				continue;
			{
				struct timeval tv = { 0, 300000 };

				setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			}
			nt_write_all(cfd, stream, len);
			shutdown(cfd, SHUT_WR);
			for (;;) {
				uint8_t junk[4096];
				ssize_t k = recv(cfd, junk, sizeof(junk), 0);

				if (k > 0) {
					answered++;
					continue;
				}
				if (k == 0)
					closed++;
				break;
			}
			close(cfd);
		}
		diag("mutated streams: %d closed by the server, %d reads with answers", closed,
		     answered);
		is_int(closed, 150, "every mutated stream ended with the server closing it");
		ok(served(cli), "server still serves after 150 mutated streams");
	}

	/* a peer pipelining inline requests (pings) without ever reading the replies cannot
	 * stall the io thread for long: it is cut off and others keep being served */
	{
		struct flood_arg fa;
		pthread_t wt;
		uint64_t t0;
		int good = 1;

		fa.fd = authed_socket();
		fa.n = 200000;
		fa.ok = 0;
		fa.type = RPC_T_PING;
		pthread_create(&wt, NULL, flood_writer, &fa);
		c3_sleep_ms(300);
		t0 = c3_now_ns();
		for (int i = 0; i < 10; i++)
			good &= served(cli);
		ok(good, "others served while a peer does not read its inline replies");
		ok(c3_now_ns() - t0 < 8000000000ull, "within a few seconds");
		pthread_join(wt, NULL); /* all written, or cut off meanwhile */
		c3_sleep_ms(2500);      /* past the io-thread stall limit, still not reading */
		ok(!fa.ok || nt_closed_by_peer(fa.fd), "the non-reading peer was disconnected");
		close(fa.fd);
	}

	/* a flood: 500 sockets at once, max_conns 100 */
	{
		enum { N = 500 };
		static int fds[N];
		int opened = 0, busy = 0, authfail = 0, noerr = 0;

		for (int i = 0; i < N; i++) {
			fds[i] = nt_raw_connect(port);
			if (fds[i] >= 0)
				opened++;
		}
		is_int(opened, N, "500 connections opened");
		for (int i = 0; i < N; i++) {
			if (fds[i] < 0)
				continue;
			if (nt_read_reply(fds[i], &f) != 0)
				noerr++;
			else if (f.status == -C3FS_EBUSY)
				busy++;
			else if (f.status == -C3FS_EAUTH)
				authfail++;
			else
				noerr++;
			close(fds[i]);
		}
		diag("flood: %d EBUSY, %d EAUTH (idle), %d without a clear error", busy, authfail,
		     noerr);
		is_int(noerr, 0, "every flooding connection got a clear error");
		ok(busy >= N - 100, "idle connections over the unauthenticated caps shed with EBUSY");
		c3_sleep_ms(100);
		ok(served(cli), "still serving a well-behaved client after the flood");
	}

	rpc_client_free(cli);
	rpc_server_free(srv);
	ok(1, "server freed");
	return tap_done();
}
