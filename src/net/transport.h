/* transport.h — the byte-stream transport under the RPC layer, as a small ops table.
 *
 * TCP (tcp.c) is the only implementation today; an RDMA transport would be another file
 * providing the same table (its connections still expose a pollable descriptor, e.g. a
 * completion channel, so the epoll loops of server.c and client.c stay as they are).
 *
 * Handles are file descriptors, close-on-exec.  readv never blocks.  A write may block
 * for a short slice (100 ms for TCP) while the peer drains, then returns what it wrote or
 * -EAGAIN; callers still poll on -EAGAIN and enforce their own deadline.  TCP connections
 * have TCP_NODELAY set.  Functions return a descriptor or a byte count >= 0, or a
 * negative code; -EAGAIN means "would block, poll and retry".
 * Addresses are "a.b.c.d:port" or "[v6addr]:port" (numeric only: no DNS in this layer).
 * All functions are thread-safe; one descriptor may be read by one thread while another
 * writes it.
 */
#ifndef C3_NET_TRANSPORT_H
#define C3_NET_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct net_transport {
	const char *name;
	/* Bind and listen on addr (port 0 = any free port; the bound port goes to *port_out).
	 * Returns the listening descriptor, -C3FS_ECONFIG for a malformed address, or -errno. */
	int (*listen)(const char *addr, int backlog, int *port_out);
	/* Accept one connection: returns its descriptor (peer gets "ip:port", always
	 * NUL-terminated), -EAGAIN when none is pending, or -errno (-EMFILE...). */
	int (*accept)(int lfd, char *peer, size_t peerlen);
	/* Connect within timeout_ms.  Returns the descriptor, -C3FS_ECONFIG for a malformed
	 * address, or -C3FS_ECONNECT (refused, unreachable, timed out; the cause is not
	 * distinguished by callers). */
	int (*connect)(const char *addr, uint32_t timeout_ms);
	/* Scatter read: bytes read (> 0), 0 at end of stream, -EAGAIN, or -errno. */
	ssize_t (*readv)(int fd, const struct iovec *iov, int iovcnt);
	/* Scatter read that may wait: blocks until data arrives (all of iov when all is set)
	 * or one receive slice passes (20 ms for TCP).  Bytes read (> 0, possibly fewer than
	 * asked after the slice), 0 at end of stream, -EAGAIN (nothing within the slice),
	 * -EINTR, or -errno.  For a thread that has nothing else to do meanwhile. */
	ssize_t (*readv_wait)(int fd, const struct iovec *iov, int iovcnt, bool all);
	/* Gather write, never raises SIGPIPE: bytes written (> 0), -EAGAIN, or -errno. */
	ssize_t (*writev)(int fd, const struct iovec *iov, int iovcnt);
	/* Stop both directions now (peers and pollers see the end); the descriptor stays
	 * allocated until close, so no other thread can reuse its number meanwhile. */
	void (*shutdown)(int fd);
	void (*close)(int fd);
};

extern const struct net_transport net_tcp_transport;

/* Parse "ip:port" into a socket address.  Returns 0 or -C3FS_ECONFIG. */
struct sockaddr_storage;
int net_addr_parse(const char *addr, struct sockaddr_storage *ss, unsigned *sslen);

#endif
