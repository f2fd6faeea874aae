/* aio.c — the data path's entry points: asynchronous I/O (c3fs_aio_*) and the blocking
 * c3fs_pread(v)/c3fs_pwrite(v), both over the chunk I/O engine (io.c).
 *
 * An operation (struct client_aop) is one read or write of a byte range of an open file:
 *
 *   submit (caller's thread): checks, what the file needs before I/O (file.c: waits for
 *     the inode's queued writes, O_APPEND, dyn-stripe widening), the first segment
 *     planned and its first round started
 *   round over (the last RPC completion, on an RPC I/O thread):
 *     segment complete, no more         -> complete
 *     segment complete, more segments   -> aio service: plan and start the next one
 *     pieces left to retry              -> aio service: after the back-off (routing
 *                                          refreshed first when the engine asks)
 *     fatal error / deadline            -> complete with it
 *   complete: the result (bytes, short at EOF for reads, or -code), the inode's length
 *     bookkeeping for writes (file.c), then the event is queued on the context, its
 *     eventfd counted up and reapers woken.
 *
 * One c3fs_aio_submit: every operation is checked and its first segment planned in turn;
 * writes start their round at once, reads are gathered and started together at the end
 * (client__io_rounds_start, up to CLIENT_IO_ROUNDS_MAX at a time), so that small reads
 * share one storage READ call per node instead of one call each (io.c, "Shared calls").
 *
 * Nothing but completions and result handling runs on RPC I/O threads: starting a call
 * may block (connecting), a routing refresh waits up to a second.  Those are the aio
 * service's (one thread per client): a queue of operations due at a time, plus the
 * segments that wait for exactly-once channels (a write segment takes all its channels
 * at once or waits; a put wakes the service).
 *
 * The blocking calls run the same operation on the caller's thread (the engine's
 * synchronous rounds: the caller waits for each call and reads the reply itself, no
 * hand-off between threads, which is what a queue depth 1 reader wants), backing off
 * and refreshing routing in place.  So both paths share every rule: replica choice, CRC
 * checks, retries and their deadline, holes, reads short at EOF, length reports.
 *
 * Ordering: operations in flight at the same time are independent, like io_submit(2):
 * two overlapping writes submitted together may land in either order (per chunk).
 * Write-behind jobs (writeback.c) and reads keep their rules: a read waits at submit for
 * the queued jobs it overlaps.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "client/client_int.h"
#include "common/clock.h"
#include "common/errors.h"

#define AOP_INLINE_IOV 4
#define AOP_FREE_MAX 256              /* operation records a context keeps for reuse */

enum aop_step { AOP_ROUND, AOP_SEG };

struct client_aop {
	struct client_io io;          /* the engine's state (iov points at iovs) */
	struct c3fs_aio_ctx *ctx;
	struct c3fs_file *f;
	void *userdata;
	uint64_t known;               /* read: the length known at submit */
	unsigned flags;               /* C3FS_AIO_F_* */
	int64_t result;               /* after completion */
	/* in the service queues (svc_lock) */
	enum aop_step step;
	uint64_t due_ms;              /* monotonic */
	bool refresh;                 /* refresh routing before the step */
	uint64_t chan_gen;            /* channel puts seen when it found too few free */
	struct iovec iov_inline[AOP_INLINE_IOV];
	struct iovec *iovs;           /* iov_inline or heap */
	struct client_aop *next;
};

struct c3fs_aio_ctx {
	struct c3fs_client *cl;
	int efd;                      /* eventfd: counts completions not reaped yet */
	pthread_mutex_t lock;         /* guards everything below */
	pthread_cond_t cv;            /* a completion was queued */
	struct client_aop *done_head, *done_tail;
	int ndone;
	uint64_t inflight;            /* submitted, not completed */
	struct client_aop *free_ops;
	int nfree;
};

static void aop_seg(struct client_aop *op);

/* ------------------------------------------------------------------ completion */

static void aop_complete(struct client_aop *op, int rc)
{
	struct c3fs_aio_ctx *ctx = op->ctx;
	struct client_io *io = &op->io;

	if (rc < 0) {
		op->result = rc;
	} else if (io->write) {
		if (io->len)
			client__file_write_done(op->f, io->off + io->len);
		op->result = (int64_t)io->len;
	} else {
		op->result = (int64_t)client__file_read_result(io->off, io->len, op->known,
							       io->data_end);
		/* bytes of the result a replica did not have: zeros of a hole */
		if ((op->flags & C3FS_AIO_F_FORBID_HOLES) && op->result > 0 &&
		    io->hole_at < io->off + (uint64_t)op->result)
			op->result = -EINVAL;
	}
	client__io_release(io);
	op->next = NULL;
	pthread_mutex_lock(&ctx->lock);
	if (ctx->done_tail)
		ctx->done_tail->next = op;
	else
		ctx->done_head = op;
	ctx->done_tail = op;
	ctx->ndone++;
	ctx->inflight--;
	(void)eventfd_write(ctx->efd, 1);
	pthread_cond_broadcast(&ctx->cv);
	pthread_mutex_unlock(&ctx->lock);
}

/* ------------------------------------------------------------------ the aio service */

/* Hand op to the service: step after delay_ms, with a routing refresh first. */
static void svc_queue(struct client_aop *op, enum aop_step step, uint64_t delay_ms,
		      bool refresh)
{
	struct c3fs_client *cl = op->ctx->cl;

	op->step = step;
	op->due_ms = c3_now_ms() + delay_ms;
	op->refresh = refresh;
	pthread_mutex_lock(&cl->svc_lock);
	op->next = cl->svc_q;
	cl->svc_q = op;
	pthread_cond_signal(&cl->svc_cv);
	pthread_mutex_unlock(&cl->svc_lock);
}

/* op's next segment needs more channels than are free: wait for a put, unless one came
 * since gen was read (then at once: no wake-up is lost). */
static void svc_park(struct client_aop *op, uint64_t gen)
{
	struct c3fs_client *cl = op->ctx->cl;

	op->step = AOP_SEG;
	op->due_ms = 0;
	op->refresh = false;
	op->chan_gen = gen;
	pthread_mutex_lock(&cl->svc_lock);
	if (__atomic_load_n(&cl->chan_gen, __ATOMIC_SEQ_CST) != gen) {
		op->next = cl->svc_q;
		cl->svc_q = op;
		pthread_cond_signal(&cl->svc_cv);
	} else {
		op->next = cl->svc_chanq;
		cl->svc_chanq = op;
	}
	pthread_mutex_unlock(&cl->svc_lock);
}

static void svc_wait(struct c3fs_client *cl, uint64_t due_ms)
{
	struct timespec ts;
	uint64_t now = c3_now_ms(), ms;

	if (due_ms == UINT64_MAX) {
		pthread_cond_wait(&cl->svc_cv, &cl->svc_lock);
		return;
	}
	ms = due_ms > now ? due_ms - now : 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&cl->svc_cv, &cl->svc_lock, &ts);
}

static void *svc_main(void *arg)
{
	struct c3fs_client *cl = arg;

	pthread_mutex_lock(&cl->svc_lock);
	for (;;) {
		struct client_aop *ready = NULL, **pp, *op;
		uint64_t now = c3_now_ms(), next_due = UINT64_MAX;
		uint64_t gen = __atomic_load_n(&cl->chan_gen, __ATOMIC_SEQ_CST);
		bool refresh = false;

		for (pp = &cl->svc_chanq; (op = *pp);) {
			if (op->chan_gen != gen) { /* channels came back: try again */
				*pp = op->next;
				op->next = ready;
				ready = op;
			} else {
				pp = &op->next;
			}
		}
		for (pp = &cl->svc_q; (op = *pp);) {
			if (op->due_ms <= now) {
				*pp = op->next;
				op->next = ready;
				ready = op;
				refresh |= op->refresh;
			} else {
				if (op->due_ms < next_due)
					next_due = op->due_ms;
				pp = &op->next;
			}
		}
		if (!ready) {
			if (cl->svc_stop && !cl->svc_q && !cl->svc_chanq)
				break;
			svc_wait(cl, next_due);
			continue;
		}
		pthread_mutex_unlock(&cl->svc_lock);
		if (refresh) /* one refresh for every operation that asked */
			cluster_client_refresh(cl->cc, CLIENT_REFRESH_MS);
		while ((op = ready)) {
			ready = op->next;
			op->next = NULL;
			if (op->step == AOP_SEG) {
				aop_seg(op);
			} else if (client__io_round_start(&op->io, true)) {
				op->io.round_done(&op->io);
			}
		}
		pthread_mutex_lock(&cl->svc_lock);
	}
	pthread_mutex_unlock(&cl->svc_lock);
	return NULL;
}

int client__aio_start(struct c3fs_client *cl)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&cl->svc_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cl->svc_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&cl->svc, NULL, svc_main, cl) != 0) {
		pthread_cond_destroy(&cl->svc_cv);
		pthread_mutex_destroy(&cl->svc_lock);
		return -EAGAIN;
	}
	cl->svc_started = true;
	return 0;
}

void client__aio_stop(struct c3fs_client *cl)
{
	if (!cl->svc_started)
		return;
	pthread_mutex_lock(&cl->svc_lock);
	cl->svc_stop = true;
	pthread_cond_signal(&cl->svc_cv);
	pthread_mutex_unlock(&cl->svc_lock);
	pthread_join(cl->svc, NULL);
	pthread_cond_destroy(&cl->svc_cv);
	pthread_mutex_destroy(&cl->svc_lock);
	cl->svc_started = false;
}

/* ------------------------------------------------------------------ operation steps */

/* The round is over (last completion, or a start that failed everywhere). */
static void aop_round_over(struct client_io *io)
{
	struct client_aop *op = (struct client_aop *)((char *)io - offsetof(struct client_aop, io));
	int rc = client__io_round_end(io);

	if (rc == 0) {
		if (io->seg_off + io->seg_len >= io->len)
			aop_complete(op, 0);
		else
			svc_queue(op, AOP_SEG, 0, false);
	} else if (rc == 1) {
		svc_queue(op, AOP_ROUND, io->retry_delay_ms, io->need_refresh);
	} else {
		aop_complete(op, rc);
	}
}

/* Plan the next segment: true = planned (the caller starts its first round), false = op
 * went on without a round (parked for channels, or completed). */
static bool aop_seg_plan(struct client_aop *op)
{
	uint64_t gen = __atomic_load_n(&op->ctx->cl->chan_gen, __ATOMIC_SEQ_CST);
	int rc = client__io_seg_next(&op->io, false);

	if (rc == 1)
		return true;
	if (rc == -EAGAIN)
		svc_park(op, gen);
	else
		aop_complete(op, rc); /* 0: the whole range is done */
	return false;
}

/* Plan the next segment and start its first round. */
static void aop_seg(struct client_aop *op)
{
	if (aop_seg_plan(op) && client__io_round_start(&op->io, true))
		aop_round_over(&op->io);
}

/* ------------------------------------------------------------------ contexts */

int c3fs_aio_ctx_new(struct c3fs_client *cl, struct c3fs_aio_ctx **out)
{
	struct c3fs_aio_ctx *ctx;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!cl)
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ctx->efd < 0) {
		int rc = -errno;

		free(ctx);
		return rc;
	}
	ctx->cl = cl;
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_cond_init(&ctx->cv, NULL);
	*out = ctx;
	return 0;
}

static void aop_free(struct client_aop *op)
{
	if (op->iovs != op->iov_inline)
		free(op->iovs);
	free(op);
}

void c3fs_aio_ctx_free(struct c3fs_aio_ctx *ctx)
{
	struct client_aop *op;

	if (!ctx)
		return;
	pthread_mutex_lock(&ctx->lock);
	while (ctx->inflight > 0)
		pthread_cond_wait(&ctx->cv, &ctx->lock);
	pthread_mutex_unlock(&ctx->lock);
	while ((op = ctx->done_head)) {
		ctx->done_head = op->next;
		aop_free(op);
	}
	while ((op = ctx->free_ops)) {
		ctx->free_ops = op->next;
		aop_free(op);
	}
	close(ctx->efd);
	pthread_cond_destroy(&ctx->cv);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

int c3fs_aio_ctx_fd(const struct c3fs_aio_ctx *ctx)
{
	return ctx ? ctx->efd : -EINVAL;
}

/* ------------------------------------------------------------------ submit and reap */

static uint64_t aio_iov_len(const struct iovec *iov, int iovcnt)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* Checks and the file's steps before I/O, common to both paths.  *len gets the length,
 * *off may move (O_APPEND), *known (reads) the length known now.  1 = go on, 0 = nothing
 * to do (length 0: the result is 0), or a negative code. */
static int aio_prepare(struct c3fs_file *f, bool write, bool at_off, const struct iovec *iov,
		       int iovcnt, uint64_t *off, uint64_t *len, uint64_t *known)
{
	int rc;

	if (!f)
		return -EBADF;
	if (write && !f->can_write)
		return -EBADF;
	if (iovcnt < 0 || (iovcnt > 0 && !iov))
		return -EINVAL;
	*len = aio_iov_len(iov, iovcnt);
	if (*len > (uint64_t)SSIZE_MAX)
		return -EINVAL;
	if (write) {
		if (*len == 0) /* O_APPEND moves nothing that is not written */
			return 0;
		rc = client__file_write_prep(f, off, *len, at_off);
		return rc ? rc : 1;
	}
	if (*len == 0)
		return 0;
	client__file_read_prep(f, *off, *len, known);
	return 1;
}

static struct client_aop *aop_alloc(struct c3fs_aio_ctx *ctx, int iovcnt)
{
	struct client_aop *op = NULL;

	pthread_mutex_lock(&ctx->lock);
	if (ctx->free_ops) {
		op = ctx->free_ops;
		ctx->free_ops = op->next;
		ctx->nfree--;
	}
	pthread_mutex_unlock(&ctx->lock);
	if (!op)
		op = malloc(sizeof(*op));
	if (!op)
		return NULL;
	op->iovs = op->iov_inline;
	if (iovcnt > AOP_INLINE_IOV) {
		op->iovs = calloc((size_t)iovcnt, sizeof(struct iovec));
		if (!op->iovs) {
			free(op);
			return NULL;
		}
	}
	return op;
}

/* Reads of one c3fs_aio_submit whose first round waits to be started with the others. */
struct aio_gather {
	struct client_io *ios[CLIENT_IO_ROUNDS_MAX];
	bool over[CLIENT_IO_ROUNDS_MAX];
	int n;
};

/* Start the gathered first rounds together (io.c: small reads share calls per node). */
static void aio_gather_start(struct aio_gather *g)
{
	int i;

	if (g->n == 0)
		return;
	client__io_rounds_start(g->ios, g->n, g->over);
	for (i = 0; i < g->n; i++)
		if (g->over[i])
			aop_round_over(g->ios[i]);
	g->n = 0;
}

/* Submit one operation: 0 (it will complete) or a negative code (it will not).  A read
 * whose first segment is planned joins g (its round starts with aio_gather_start). */
static int aio_submit_one(struct c3fs_aio_ctx *ctx, const struct c3fs_aio_op *o,
			  struct aio_gather *g)
{
	struct client_aop *op;
	uint64_t off = o->off, len = 0, known = 0;
	bool write;
	int rc;

	if (o->op != C3FS_AIO_READ && o->op != C3FS_AIO_WRITE)
		return -EINVAL;
	if (o->iovcnt > IOV_MAX)
		return -EINVAL;
	write = o->op == C3FS_AIO_WRITE;
	rc = aio_prepare(o->f, write, false, o->iov, o->iovcnt, &off, &len, &known);
	if (rc < 0)
		return rc;
	op = aop_alloc(ctx, o->iovcnt);
	if (!op)
		return -ENOMEM;
	if (o->iovcnt > 0)
		memcpy(op->iovs, o->iov, (size_t)o->iovcnt * sizeof(struct iovec));
	client__io_init(&op->io, ctx->cl, o->f->inode, write, op->iovs, o->iovcnt, off,
			rc == 0 ? 0 : len);
	op->io.round_done = aop_round_over;
	op->ctx = ctx;
	op->f = o->f;
	op->userdata = o->userdata;
	op->flags = o->flags;
	op->known = known;
	op->result = 0;
	op->next = NULL;
	pthread_mutex_lock(&ctx->lock);
	ctx->inflight++;
	pthread_mutex_unlock(&ctx->lock);
	if (write) {
		aop_seg(op); /* a length 0 operation completes here with 0 */
	} else if (aop_seg_plan(op)) {
		g->ios[g->n++] = &op->io;
		if (g->n == CLIENT_IO_ROUNDS_MAX)
			aio_gather_start(g);
	}
	return 0;
}

int c3fs_aio_submit(struct c3fs_aio_ctx *ctx, const struct c3fs_aio_op *ops, int n)
{
	struct aio_gather g; /* ~2.3 KiB */
	int i, rc = 0;

	if (!ctx || n < 0 || (n > 0 && !ops))
		return -EINVAL;
	g.n = 0;
	for (i = 0; i < n; i++) {
		rc = aio_submit_one(ctx, &ops[i], &g);
		if (rc < 0)
			break;
	}
	aio_gather_start(&g); /* the ones submitted, also when a later one was refused */
	if (rc < 0)
		return i > 0 ? i : rc;
	return n;
}

int c3fs_aio_reap(struct c3fs_aio_ctx *ctx, struct c3fs_aio_event *ev, int min, int max,
		  int timeout_ms)
{
	struct timespec ts;
	int n = 0;

	if (!ctx || !ev || max < 1 || min < 0 || min > max)
		return -EINVAL;
	if (timeout_ms > 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&ctx->lock);
	while (ctx->ndone < min && timeout_ms != 0) {
		if (timeout_ms < 0)
			pthread_cond_wait(&ctx->cv, &ctx->lock);
		else if (pthread_cond_timedwait(&ctx->cv, &ctx->lock, &ts) != 0)
			break;
	}
	while (n < max && ctx->done_head) {
		struct client_aop *op = ctx->done_head;

		ctx->done_head = op->next;
		if (!ctx->done_head)
			ctx->done_tail = NULL;
		ctx->ndone--;
		ev[n].userdata = op->userdata;
		ev[n].result = op->result;
		n++;
		if (op->iovs != op->iov_inline) {
			free(op->iovs);
			op->iovs = op->iov_inline;
		}
		if (ctx->nfree < AOP_FREE_MAX) {
			op->next = ctx->free_ops;
			ctx->free_ops = op;
			ctx->nfree++;
		} else {
			free(op);
		}
	}
	if (!ctx->done_head) {
		eventfd_t v;

		(void)eventfd_read(ctx->efd, &v); /* readable again at the next completion */
	}
	pthread_mutex_unlock(&ctx->lock);
	return n;
}

/* ------------------------------------------------------------------ blocking calls */

/* One operation run on the caller's thread (see the top of the file). */
static ssize_t aio_run_sync(struct c3fs_file *f, bool write, bool at_off,
			    const struct iovec *iov, int iovcnt, uint64_t off)
{
	struct client_io io; /* ~6 KiB of piece state, as the engine always had on the stack */
	uint64_t len = 0, known = 0;
	int rc;

	rc = aio_prepare(f, write, at_off, iov, iovcnt, &off, &len, &known);
	if (rc <= 0)
		return rc;
	client__io_init(&io, f->cl, f->inode, write, iov, iovcnt, off, len);
	while ((rc = client__io_seg_next(&io, true)) == 1) {
		for (;;) {
			client__io_round_start(&io, false);
			rc = client__io_round_end(&io);
			if (rc != 1)
				break;
			/* a round to retry: the call is waiting out a failure, which a
			 * signal may end (opts.interrupted, c3fs-fuse's INTERRUPT) */
			if (f->cl->opts.interrupted && f->cl->opts.interrupted()) {
				rc = -EINTR;
				break;
			}
			if (io.need_refresh)
				cluster_client_refresh(f->cl->cc, CLIENT_REFRESH_MS);
			if (io.retry_delay_ms &&
			    client__wait_interruptible(f->cl, io.retry_delay_ms)) {
				rc = -EINTR;
				break;
			}
		}
		if (rc < 0)
			break;
	}
	client__io_release(&io);
	if (rc == 0) {
		if (write)
			client__file_write_done(f, off + len);
		else
			len = client__file_read_result(off, len, known, io.data_end);
	}
	return rc < 0 ? rc : (ssize_t)len;
}

ssize_t c3fs_preadv(struct c3fs_file *f, const struct iovec *iov, int iovcnt, uint64_t off)
{
	return aio_run_sync(f, false, false, iov, iovcnt, off);
}

ssize_t c3fs_pwritev(struct c3fs_file *f, const struct iovec *iov, int iovcnt, uint64_t off)
{
	return aio_run_sync(f, true, false, iov, iovcnt, off);
}

ssize_t client__pwritev_at(struct c3fs_file *f, const struct iovec *iov, int iovcnt,
			   uint64_t off)
{
	return aio_run_sync(f, true, true, iov, iovcnt, off);
}

ssize_t c3fs_pread(struct c3fs_file *f, void *buf, size_t len, uint64_t off)
{
	struct iovec v = { buf, len };

	return c3fs_preadv(f, &v, 1, off);
}

ssize_t c3fs_pwrite(struct c3fs_file *f, const void *buf, size_t len, uint64_t off)
{
	struct iovec v = { (void *)buf, len };

	return c3fs_pwritev(f, &v, 1, off);
}
