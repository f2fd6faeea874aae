/* tcp.c — TCP implementation of struct net_transport (see transport.h).
 *
 * Invariants: listening sockets are O_NONBLOCK; connection sockets are blocking with a
 * send timeout (SO_SNDTIMEO, TCP_SEND_SLICE_MS) and a receive timeout (SO_RCVTIMEO,
 * TCP_RECV_SLICE_MS), or they are not handed out at all.  readv always passes
 * MSG_DONTWAIT (io threads never block); readv_wait blocks at most one receive slice.
 * A large write stays in the kernel until the peer has taken it (one syscall instead of
 * write/EAGAIN/poll/write rounds) yet returns within the slice when the peer stalls.  Everything is O_CLOEXEC; connections carry
 * TCP_NODELAY (frames are written whole with one writev, so Nagle only adds latency);
 * writes use MSG_NOSIGNAL so a dead peer is an -EPIPE, never a signal.
 */
#include "net/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errors.h"

int net_addr_parse(const char *addr, struct sockaddr_storage *ss, unsigned *sslen)
{
	char host[64];
	const char *colon, *hs;
	size_t hlen;
	char *end;
	long port;

	if (!addr)
		return -C3FS_ECONFIG;
	memset(ss, 0, sizeof(*ss));
	if (addr[0] == '[') {
		const char *rb = strchr(addr, ']');

		if (!rb || rb[1] != ':')
			return -C3FS_ECONFIG;
		hs = addr + 1;
		hlen = (size_t)(rb - hs);
		colon = rb + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -C3FS_ECONFIG;
		hs = addr;
		hlen = (size_t)(colon - addr);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -C3FS_ECONFIG;
	memcpy(host, hs, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno || port < 0 || port > 65535)
		return -C3FS_ECONFIG;
	if (addr[0] != '[') {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -C3FS_ECONFIG;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -C3FS_ECONFIG;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*sin6);
	}
	return 0;
}

static void tcp_format_peer(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (outlen == 0)
		return;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		port = ntohs(sin->sin_port);
		snprintf(out, outlen, "%s:%u", ip, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		port = ntohs(sin6->sin6_port);
		snprintf(out, outlen, "[%s]:%u", ip, port);
	} else {
		snprintf(out, outlen, "?");
	}
}

#define TCP_SEND_SLICE_MS 100
#define TCP_RECV_SLICE_MS 20

/* Connection socket setup: no Nagle, blocking I/O bounded by the send and receive
 * slices.  Returns 0 or -errno (then the connection is not used: a blocking socket
 * without its timeouts could block a thread indefinitely). */
static int tcp_conn_setup(int fd)
{
	struct timeval snd = { 0, TCP_SEND_SLICE_MS * 1000 };
	struct timeval rcv = { 0, TCP_RECV_SLICE_MS * 1000 };
	int one = 1, fl;

	/* TCP_NODELAY is best effort: a failure only costs latency */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv)) != 0)
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
		return -errno;
	return 0;
}

static int tcp_listen(const char *addr, int backlog, int *port_out)
{
	struct sockaddr_storage ss, bound;
	unsigned sslen;
	socklen_t blen = sizeof(bound);
	int fd, one = 1, rc;

	rc = net_addr_parse(addr, &ss, &sslen);
	if (rc < 0)
		return rc;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, backlog) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (port_out)
		*port_out = bound.ss_family == AF_INET6
				    ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
				    : ntohs(((struct sockaddr_in *)&bound)->sin_port);
	return fd;
}

static int tcp_accept(int lfd, char *peer, size_t peerlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int fd;

	int rc;

	fd = accept4(lfd, (struct sockaddr *)&ss, &sslen, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	rc = tcp_conn_setup(fd);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	tcp_format_peer(&ss, peer, peerlen);
	return fd;
}

static int tcp_connect(const char *addr, uint32_t timeout_ms)
{
	struct sockaddr_storage ss;
	unsigned sslen;
	uint64_t deadline = c3_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int fd, rc, err = 0;
	socklen_t elen = sizeof(err);

	rc = net_addr_parse(addr, &ss, &sslen);
	if (rc < 0)
		return rc;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, sslen) == 0) {
		if (tcp_conn_setup(fd) != 0)
			goto fail;
		return fd;
	}
	if (errno != EINPROGRESS)
		goto fail;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		uint64_t now = c3_now_ns();
		int ms;

		if (now >= deadline)
			goto fail;
		ms = (int)((deadline - now + 999999) / 1000000);
		rc = poll(&pfd, 1, ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			goto fail;
		if (rc == 0)
			continue;
		break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0)
		goto fail;
	if (tcp_conn_setup(fd) != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -C3FS_ECONNECT;
}

/* One recvmsg (send: sendmsg) of iov with flags, again after EINTR when retry_eintr:
 * bytes, or -errno with EWOULDBLOCK as -EAGAIN. */
static ssize_t tcp_msg(int fd, const struct iovec *iov, int iovcnt, bool send, int flags,
		       bool retry_eintr)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	ssize_t n;

	do {
		n = send ? sendmsg(fd, &mh, flags) : recvmsg(fd, &mh, flags);
	} while (n < 0 && errno == EINTR && retry_eintr);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

static ssize_t tcp_readv(int fd, const struct iovec *iov, int iovcnt)
{
	return tcp_msg(fd, iov, iovcnt, false, MSG_DONTWAIT, true);
}

/* A blocking read (all: MSG_WAITALL); EINTR ends it (-EINTR). */
static ssize_t tcp_readv_wait(int fd, const struct iovec *iov, int iovcnt, bool all)
{
	return tcp_msg(fd, iov, iovcnt, false, all ? MSG_WAITALL : 0, false);
}

static ssize_t tcp_writev(int fd, const struct iovec *iov, int iovcnt)
{
	return tcp_msg(fd, iov, iovcnt, true, MSG_NOSIGNAL, true);
}

static void tcp_shutdown(int fd)
{
	(void)shutdown(fd, SHUT_RDWR);
}

static void tcp_close(int fd)
{
	close(fd);
}

const struct net_transport net_tcp_transport = {
	.name = "tcp",
	.listen = tcp_listen,
	.accept = tcp_accept,
	.connect = tcp_connect,
	.readv = tcp_readv,
	.readv_wait = tcp_readv_wait,
	.writev = tcp_writev,
	.shutdown = tcp_shutdown,
	.close = tcp_close,
};
