/* net_int.h — helpers shared by server.c and client.c (module-internal).
 *
 * Nothing here is part of the module API; names carry the net__ prefix.
 */
#ifndef C3_NET_INT_H
#define C3_NET_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "net/frame.h"
#include "net/transport.h"

/* Bytes of the per-connection read buffer (small frames are parsed from it; payload and
 * bulk of larger frames are read straight into their final buffers). */
#define NET_RBUF_BYTES (64u << 10)
/* Most bulk iovecs accepted in one call or reply. */
#define NET_MAX_BULK_IOV 64
/* How long a reply or request write may stall on a full socket before the connection is
 * declared dead. */
#define NET_SEND_STALL_MS 30000u

/* Write every byte of iov[0..iovcnt) to fd, polling on -EAGAIN until deadline_ns.
 * iov is consumed (modified).  Returns 0, -C3FS_ETIMEDOUT, or -errno from the transport
 * (-EPIPE, -ECONNRESET...).  Callers serialize writers of one descriptor. */
int net__writev_all(const struct net_transport *t, int fd, struct iovec *iov, int iovcnt,
		    uint64_t deadline_ns);

/* Read exactly n bytes into buf, polling on -EAGAIN until deadline_ns.  Returns 0,
 * -C3FS_EPEERCLOSED at end of stream, -C3FS_ETIMEDOUT, or -errno. */
int net__read_full(const struct net_transport *t, int fd, void *buf, size_t n,
		   uint64_t deadline_ns);

/* Advance iov[0..*iovcnt) by n bytes consumed from its front; returns the new first
 * element (entries fully consumed are skipped). */
struct iovec *net__iov_advance(struct iovec *iov, int *iovcnt, size_t n);

/* True at most once per interval per limiter: for logs inside loops. */
bool net__ratelimit(_Atomic uint64_t *last_ns, uint64_t interval_ns);

/* Fill a response header for a connection-level event (id 0 unless known). */
void net__error_frame(uint8_t *out, uint16_t type, uint64_t id, int status);

#endif
