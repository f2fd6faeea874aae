/* io.c — blocking-with-deadline helpers over non-blocking descriptors (see net_int.h). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errors.h"
#include "net/net_int.h"

static int io_wait(int fd, short events, uint64_t deadline_ns)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		uint64_t now = c3_now_ns();
		int rc, ms;

		if (now >= deadline_ns)
			return -C3FS_ETIMEDOUT;
		ms = (int)(((deadline_ns - now) + 999999) / 1000000);
		if (ms > 1000)
			ms = 1000;
		rc = poll(&pfd, 1, ms);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc > 0)
			return 0;
	}
}

struct iovec *net__iov_advance(struct iovec *iov, int *iovcnt, size_t n)
{
	while (*iovcnt > 0 && n >= iov->iov_len) {
		n -= iov->iov_len;
		iov++;
		(*iovcnt)--;
	}
	if (*iovcnt > 0 && n > 0) {
		iov->iov_base = (uint8_t *)iov->iov_base + n;
		iov->iov_len -= n;
	}
	return iov;
}

int net__writev_all(const struct net_transport *t, int fd, struct iovec *iov, int iovcnt,
		    uint64_t deadline_ns)
{
	while (iovcnt > 0 && iov->iov_len == 0) {
		iov++;
		iovcnt--;
	}
	while (iovcnt > 0) {
		ssize_t n = t->writev(fd, iov, iovcnt > IOV_MAX ? IOV_MAX : iovcnt);

		if (n == -EAGAIN) {
			int rc = io_wait(fd, POLLOUT, deadline_ns);

			if (rc < 0)
				return rc;
			continue;
		}
		if (n < 0)
			return (int)n;
		iov = net__iov_advance(iov, &iovcnt, (size_t)n);
	}
	return 0;
}

int net__read_full(const struct net_transport *t, int fd, void *buf, size_t n,
		   uint64_t deadline_ns)
{
	uint8_t *p = buf;

	while (n > 0) {
		struct iovec iov = { p, n };
		ssize_t r = t->readv(fd, &iov, 1);

		if (r == -EAGAIN) {
			int rc = io_wait(fd, POLLIN, deadline_ns);

			if (rc < 0)
				return rc;
			continue;
		}
		if (r < 0)
			return (int)r;
		if (r == 0)
			return -C3FS_EPEERCLOSED;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

bool net__ratelimit(_Atomic uint64_t *last_ns, uint64_t interval_ns)
{
	uint64_t now = c3_now_ns();
	uint64_t last = atomic_load_explicit(last_ns, memory_order_relaxed);

	if (last != 0 && now - last < interval_ns)
		return false;
	return atomic_compare_exchange_strong(last_ns, &last, now);
}

int net__loop_open(struct net_loop *l)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &l->wakefd };

	l->started = false;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->epfd < 0 || l->wakefd < 0 ||
	    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) != 0)
		return -errno;
	return 0;
}

int net__loop_start(struct net_loop *l, void *(*fn)(void *), void *arg)
{
	int rc = pthread_create(&l->thr, NULL, fn, arg);

	if (rc)
		return -rc;
	l->started = true;
	return 0;
}

void net__loop_wake(struct net_loop *l)
{
	if (l->wakefd >= 0)
		(void)eventfd_write(l->wakefd, 1);
}

void net__loop_join(struct net_loop *l)
{
	if (l->started)
		pthread_join(l->thr, NULL);
	l->started = false;
}

void net__loop_close(struct net_loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	l->epfd = l->wakefd = -1;
}

void net__error_frame(uint8_t *out, uint16_t type, uint64_t id, int status)
{
	struct rpc_frame f;

	memset(&f, 0, sizeof(f));
	f.version = RPC_PROTO_VERSION;
	f.flags = RPC_FLAG_RESPONSE;
	f.type = type;
	f.id = id;
	f.status = status;
	rpc_frame_encode(&f, out);
}
