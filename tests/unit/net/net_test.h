/* net_test.h — helpers shared by the net unit tests (header only). */
#ifndef C3_NET_TEST_H
#define C3_NET_TEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errors.h"
#include "net/codec.h"
#include "net/frame.h"
#include "net/rpc.h"

/* Start a server on 127.0.0.1:0 with the given token; returns it (NULL on failure). */
static inline struct rpc_server *nt_server(const char *token, int workers, int max_conns,
					   uint32_t idle_ms)
{
	struct rpc_server_opts o;
	struct rpc_server *s;

	memset(&o, 0, sizeof(o));
	o.listen = "127.0.0.1:0";
	o.token = token;
	o.workers = workers;
	o.max_conns = max_conns;
	o.auth_timeout_ms = idle_ms;
	if (rpc_server_new(&o, &s) != 0)
		return NULL;
	return s;
}

static inline void nt_addr(struct rpc_server *s, char *buf, size_t n)
{
	snprintf(buf, n, "127.0.0.1:%d", rpc_server_port(s));
}

/* Blocking raw TCP connection to 127.0.0.1:port (-1 on failure), 5 s receive timeout. */
static inline int nt_raw_connect(int port)
{
	struct sockaddr_in sin;
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static inline int nt_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t k = send(fd, b, n, MSG_NOSIGNAL);

		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Read exactly n bytes; 0 ok, -1 on EOF/error/timeout. */
static inline int nt_read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n) {
		ssize_t k = recv(fd, b, n, 0);

		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Encode a request header. */
static inline void nt_hdr(uint8_t *out, uint16_t type, uint64_t id, uint32_t plen,
			  uint32_t blen)
{
	struct rpc_frame f;

	memset(&f, 0, sizeof(f));
	f.version = RPC_PROTO_VERSION;
	f.type = type;
	f.id = id;
	f.payload_len = plen;
	f.bulk_len = blen;
	f.timeout_ms = 5000;
	rpc_frame_encode(&f, out);
}

/* Send an RPC_T_AUTH frame with token and read the reply header; returns its status
 * (or 1 when no reply could be read). */
static inline int nt_raw_auth(int fd, const char *token)
{
	struct c3_buf b = C3_BUF_INIT;
	uint8_t hdr[RPC_HEADER_BYTES];
	struct rpc_frame f;
	int rc;

	c3_enc_str(&b, token);
	nt_hdr(hdr, RPC_T_AUTH, 1, (uint32_t)b.len, 0);
	rc = nt_write_all(fd, hdr, sizeof(hdr)) || nt_write_all(fd, b.data, b.len);
	c3_buf_release(&b);
	if (rc || nt_read_all(fd, hdr, sizeof(hdr)) ||
	    rpc_frame_decode(hdr, sizeof(hdr), 1 << 20, 0, &f) != 0)
		return 1;
	return f.status;
}

/* Read one reply header; returns 0 and fills f, or -1. */
static inline int nt_read_reply(int fd, struct rpc_frame *f)
{
	uint8_t hdr[RPC_HEADER_BYTES];

	if (nt_read_all(fd, hdr, sizeof(hdr)))
		return -1;
	return rpc_frame_decode(hdr, sizeof(hdr), 1u << 30, 1u << 30, f) ? -1 : 0;
}

/* True when the peer closes fd within 5 s (reads until EOF, discarding). */
static inline int nt_closed_by_peer(int fd)
{
	uint8_t junk[4096];

	for (;;) {
		ssize_t k = recv(fd, junk, sizeof(junk), 0);

		if (k == 0)
			return 1;
		if (k < 0)
			return errno == ECONNRESET;
	}
}

#endif
