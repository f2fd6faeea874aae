/* aread.c — chunk reads submitted from the network I/O threads with io_uring and completed
 * on the same thread: no hand-off to a worker, one wake-up per disk read.
 *
 * Each I/O thread that serves a read which is not in the page cache gets a ring of its own
 * (created at first use).  The ring's eventfd is watched by that thread's epoll loop
 * (rpc_io_watch), so a completion wakes the thread that submitted the read; it checks the
 * blocks and sends the reply there.  Reads that find their bytes cached complete while
 * they are submitted (io_uring tries the page cache first) and are answered at once.
 *
 * A ring is used by its I/O thread only (submissions and completions), so it needs no
 * lock; the service keeps a list of them (aring_mu) to free them after the RPC server has
 * stopped.  When the server stops, each thread waits for its ring's reads in flight before
 * it ends (the on_stop callback), so that every request is answered.
 */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "storage/service_int.h"

#define ARING_ENTRIES 256u /* reads in flight per I/O thread; more wait for a worker */

struct aring_op {
	void (*cb)(void *arg, int res);
	void *arg;
};

struct svc_aring {
	struct storage_service *svc;
	struct io_uring ring;
	int efd;
	unsigned inflight;             /* submitted or queued, not completed */
	unsigned reserved;             /* reserved by svc__aring_reserve, not queued yet */
	struct svc_aring *next;        /* svc->arings */
};

static __thread struct svc_aring *aring_tl;
static __thread bool aring_tl_failed;

/* Run the completions that are there (I/O thread). */
static void aring_reap(struct svc_aring *r)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&r->ring, &cqe) == 0) {
		struct aring_op *op = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&r->ring, cqe);
		r->inflight--;
		if (op) {
			void (*cb)(void *, int) = op->cb;
			void *arg = op->arg;

			free(op);
			cb(arg, res);
		}
	}
}

static void aring_on_ready(void *arg)
{
	struct svc_aring *r = arg;
	eventfd_t v;

	(void)eventfd_read(r->efd, &v);
	aring_reap(r);
}

/* The server stops: finish every read in flight (their replies go out now). */
static void aring_on_stop(void *arg)
{
	struct svc_aring *r = arg;

	(void)io_uring_submit(&r->ring);
	while (r->inflight > 0) {
		struct io_uring_cqe *cqe;
		int rc = io_uring_wait_cqe(&r->ring, &cqe);

		if (rc < 0 && rc != -EINTR) {
			LOG_ERROR("storage: waiting for reads in flight at shutdown: %s",
				  strerror(-rc));
			break;
		}
		aring_reap(r);
	}
	aring_tl = NULL;
}

struct svc_aring *svc__aring(struct storage_service *svc)
{
	struct svc_aring *r;
	int rc;

	if (aring_tl)
		return aring_tl->svc == svc ? aring_tl : NULL;
	if (aring_tl_failed)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->svc = svc;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	rc = r->efd < 0 ? -errno : io_uring_queue_init(ARING_ENTRIES, &r->ring, 0);
	if (rc == 0) {
		rc = io_uring_register_eventfd(&r->ring, r->efd);
		if (rc == 0)
			rc = rpc_io_watch(r->efd, aring_on_ready, aring_on_stop, r);
		if (rc)
			io_uring_queue_exit(&r->ring);
	}
	if (rc) {
		LOG_WARN("storage: no io_uring ring for reads on this I/O thread (%s); uncached "
			 "reads go to the workers", strerror(-rc));
		if (r->efd >= 0)
			close(r->efd);
		free(r);
		aring_tl_failed = true;
		return NULL;
	}
	pthread_mutex_lock(&svc->aring_mu);
	r->next = svc->arings;
	svc->arings = r;
	pthread_mutex_unlock(&svc->aring_mu);
	aring_tl = r;
	return r;
}

bool svc__aring_reserve(struct svc_aring *r, unsigned n)
{
	if (r->inflight + r->reserved + n > ARING_ENTRIES)
		return false;
	r->reserved += n;
	return true;
}

int svc__aring_read(struct svc_aring *r, int fd, void *buf, uint32_t len, uint64_t off,
		    void (*cb)(void *arg, int res), void *arg)
{
	struct io_uring_sqe *sqe;
	struct aring_op *op;

	if (r->reserved == 0)
		return -EINVAL;
	op = malloc(sizeof(*op));
	if (!op)
		return -ENOMEM;
	sqe = io_uring_get_sqe(&r->ring);
	if (!sqe) { /* cannot happen: reservations are bounded by the ring's size */
		free(op);
		return -EBUSY;
	}
	op->cb = cb;
	op->arg = arg;
	io_uring_prep_read(sqe, fd, buf, len, off);
	io_uring_sqe_set_data(sqe, op);
	r->reserved--;
	r->inflight++;
	return 0;
}

void svc__aring_unreserve(struct svc_aring *r, unsigned n)
{
	r->reserved -= n <= r->reserved ? n : r->reserved;
}

void svc__aring_submit(struct svc_aring *r)
{
	int rc = io_uring_submit(&r->ring);

	if (rc < 0) /* the kernel took nothing: no completion will come for what was queued */
		LOG_ERROR("storage: io_uring_submit: %s", strerror(-rc));
	aring_reap(r);
}

void svc__arings_free(struct storage_service *svc)
{
	struct svc_aring *r, *next;

	for (r = svc->arings; r; r = next) {
		next = r->next;
		io_uring_queue_exit(&r->ring);
		close(r->efd);
		free(r);
	}
	svc->arings = NULL;
}
