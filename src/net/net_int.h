/* net_int.h — helpers shared by server.c and client.c (module-internal).
 *
 * Nothing here is part of the module API; names carry the net__ prefix.
 */
#ifndef C3_NET_INT_H
#define C3_NET_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "net/frame.h"
#include "net/transport.h"

/* Bytes of the per-connection read buffer (small frames are parsed from it; payload and
 * bulk of larger frames are read straight into their final buffers). */
#define NET_RBUF_BYTES (32u << 10)
/* Most bytes read into the read buffer at once: enough to batch many small frames per
 * syscall, small enough that little of a large frame's bulk lands there (and must be
 * copied) before its header is parsed and the bulk can be read in place. */
#define NET_RBUF_READ (16u << 10)
static inline size_t net__rbuf_window(size_t rlen)
{
	size_t room = NET_RBUF_BYTES - rlen;

	return room < NET_RBUF_READ ? room : NET_RBUF_READ;
}
/* Most bulk iovecs accepted in one call or reply. */
#define NET_MAX_BULK_IOV 64
/* How long a reply or request write may stall on a full socket before the connection is
 * declared dead. */
#define NET_SEND_STALL_MS 30000u
/* The same for a reply written on a server io thread (inline handlers, protocol errors):
 * that thread serves other connections, so a peer that stops reading is cut off sooner.
 * c3fs clients always drain replies (an io thread or the waiting caller reads). */
#define NET_SEND_STALL_IO_MS 2000u

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

/* An I/O thread and its event loop: an epoll set holding a non-blocking eventfd doorbell
 * registered with data.ptr = &wakefd, which is how the loop tells it from its connections.
 * Owned by the client or server that embeds it; `started` by that owner's thread only. */
struct net_loop {
	int epfd, wakefd;
	pthread_t thr;
	bool started;
};

/* Creates the epoll set and the doorbell: 0 or -errno; net__loop_close releases what was
 * created (also after a failure).  Call it once, before any other net__loop_*. */
int net__loop_open(struct net_loop *l);
/* Starts the thread fn(arg): 0 or -errno. */
int net__loop_start(struct net_loop *l, void *(*fn)(void *), void *arg);
/* Rings the doorbell (from any thread). */
void net__loop_wake(struct net_loop *l);
/* Joins the thread if it was started (the owner made it return first). */
void net__loop_join(struct net_loop *l);
void net__loop_close(struct net_loop *l);

/* A cache of 4096-aligned bulk buffers by power-of-two size class (4 KiB .. 16 MiB), so
 * steady-state bulk traffic neither calls mmap/munmap nor page-faults fresh memory for
 * every request.  Thread-safe (one mutex); at most NET_POOL_PER_CLASS buffers per class
 * and max_cached_bytes in all are kept; larger buffers are allocated and freed directly. */
#define NET_POOL_CLASSES 13
#define NET_POOL_PER_CLASS 8
struct net_bufpool {
	pthread_mutex_t mu;
	size_t cached_bytes, max_cached_bytes;
	void *free[NET_POOL_CLASSES][NET_POOL_PER_CLASS];
	int nfree[NET_POOL_CLASSES];
};
void net__bufpool_init(struct net_bufpool *p, size_t max_cached_bytes);
/* A buffer of at least len bytes (len > 0), its capacity in *cap; NULL on ENOMEM. */
void *net__bufpool_get(struct net_bufpool *p, size_t len, size_t *cap);
/* Give back a buffer from net__bufpool_get with its capacity. */
void net__bufpool_put(struct net_bufpool *p, void *mem, size_t cap);
/* Free every cached buffer (no buffer may be outstanding any more). */
void net__bufpool_release(struct net_bufpool *p);

/* Fill a response header for a connection-level event (id 0 unless known). */
void net__error_frame(uint8_t *out, uint16_t type, uint64_t id, int status);

#endif
