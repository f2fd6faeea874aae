/* writeback.c — write-behind of libc3fs: c3fs_pwrite_async and its worker threads.
 *
 * c3fs_pwrite_async copies the data into a job on the inode's list (submission order)
 * and on the client's FIFO, and returns; a pool of workers (opts.write_behind_threads)
 * runs each job through c3fs_pwrite.  A job waits until no earlier job of the inode
 * overlaps it, so overlapping writes land in submission order; the first error of a job
 * is kept as the inode's sticky error and returned once (client__wait_writes, client.c,
 * is how reads, fsync, close and size changes wait for the jobs).  Sequential small
 * writes are appended to the inode's last job while no worker has started it.
 * No deadlock: the FIFO is global, so the earliest queued job of any inode is always
 * picked before the jobs that wait for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "common/clock.h"

static bool wb_overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Run one job: wait for earlier overlapping jobs of the inode, write, finish. */
static void wb_job_run(struct client_wjob *j)
{
	struct client_inode *in = j->f->inode;
	struct client_wjob *e, **pp;
	ssize_t n;

	pthread_mutex_lock(&in->lock);
	for (;;) {
		for (e = in->wjobs; e && e != j; e = e->next)
			if (wb_overlaps(e->off, e->len, j->off, j->len))
				break;
		if (e == j || !e)
			break;
		pthread_cond_wait(&in->wcv, &in->lock);
	}
	j->started = true; /* from here on off/len/buf are fixed */
	pthread_mutex_unlock(&in->lock);

	n = c3fs_pwrite(j->f, j->buf, j->len, j->off);

	pthread_mutex_lock(&in->lock);
	if (n < 0 && !in->werr)
		in->werr = (int)n;
	for (pp = &in->wjobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	in->wjobs_tail = NULL;
	for (e = in->wjobs; e; e = e->next)
		in->wjobs_tail = e;
	in->wbytes -= j->len;
	if (!in->wjobs)
		in->pending_end = 0;
	pthread_cond_broadcast(&in->wcv);
	pthread_mutex_unlock(&in->lock);
	free(j->buf);
	free(j);
}

void *client__wworker_main(void *arg)
{
	struct c3fs_client *cl = arg;

	pthread_mutex_lock(&cl->wq_lock);
	for (;;) {
		struct client_wjob *j = cl->wq_head;

		if (!j) {
			if (cl->wq_stop)
				break;
			pthread_cond_wait(&cl->wq_cv, &cl->wq_lock);
			continue;
		}
		cl->wq_head = j->qnext;
		if (!cl->wq_head)
			cl->wq_tail = NULL;
		pthread_mutex_unlock(&cl->wq_lock);
		wb_job_run(j);
		pthread_mutex_lock(&cl->wq_lock);
	}
	pthread_mutex_unlock(&cl->wq_lock);
	return NULL;
}

/* Append a write that continues the inode's last queued job of the same handle, if no
 * worker has started that job yet.  Returns len when appended, 0 when a new job is needed,
 * or a queued write's error (reported once). */
static ssize_t wb_job_append(struct c3fs_file *f, const void *buf, size_t len, uint64_t off)
{
	struct c3fs_client *cl = f->cl;
	struct client_inode *in = f->inode;
	struct client_wjob *t;
	ssize_t rc = 0;

	pthread_mutex_lock(&in->lock);
	t = in->wjobs_tail;
	if (in->werr) {
		rc = in->werr;
		in->werr = 0;
	} else if (t && !t->started && t->f == f && t->off + t->len == off &&
		   t->len + len <= CLIENT_WJOB_COALESCE_MAX &&
		   in->wbytes + len <= client__setting(cl, write_behind_bytes)) {
		if (t->len + len > t->cap) {
			uint64_t cap = t->cap * 2;
			char *nb;

			if (cap < t->len + len)
				cap = t->len + len;
			if (cap > CLIENT_WJOB_COALESCE_MAX)
				cap = CLIENT_WJOB_COALESCE_MAX;
			nb = realloc(t->buf, cap);
			if (!nb)
				goto out; /* no memory to grow: queue a job of its own */
			t->buf = nb;
			t->cap = cap;
		}
		memcpy(t->buf + t->len, buf, len);
		t->len += len;
		in->wbytes += len;
		if (off + len > in->pending_end)
			in->pending_end = off + len;
		in->last_write_ns = c3_wall_ns();
		rc = (ssize_t)len;
	}
out:
	pthread_mutex_unlock(&in->lock);
	return rc;
}

ssize_t c3fs_pwrite_async(struct c3fs_file *f, const void *buf, size_t len, uint64_t off)
{
	struct c3fs_client *cl = f->cl;
	struct client_inode *in = f->inode;
	struct client_wjob *j;
	ssize_t appended;
	int rc;

	if (!f->can_write)
		return -EBADF;
	if (cl->nworkers == 0 || (f->flags & O_APPEND))
		return c3fs_pwrite(f, buf, len, off);
	if (len == 0)
		return 0;
	if (off + len < off)
		return -EFBIG;
	appended = wb_job_append(f, buf, len, off);
	if (appended != 0)
		return appended;
	j = calloc(1, sizeof(*j));
	if (j)
		j->buf = malloc(len);
	if (!j || !j->buf) {
		free(j);
		return c3fs_pwrite(f, buf, len, off); /* no memory to queue: write now */
	}
	memcpy(j->buf, buf, len);
	j->f = f;
	j->off = off;
	j->len = len;
	j->cap = len;

	pthread_mutex_lock(&in->lock);
	uint64_t t0 = c3_now_ms();

	while (in->wbytes > 0 && in->wbytes + len > client__setting(cl, write_behind_bytes) &&
	       !in->werr) {
		/* the queue drains within milliseconds unless a chain does not serve: after
		 * CLIENT_WAIT_INTR_MS a signal may end the wait (opts.interrupted) */
		if (cl->opts.interrupted && c3_now_ms() - t0 >= CLIENT_WAIT_INTR_MS &&
		    cl->opts.interrupted()) {
			pthread_mutex_unlock(&in->lock);
			free(j->buf);
			free(j);
			return -EINTR;
		}
		struct timespec ts = c3_deadline_after_ms(100);

		pthread_cond_timedwait(&in->wcv, &in->lock, &ts);
	}
	if (in->werr) {
		rc = in->werr;
		in->werr = 0;
		pthread_mutex_unlock(&in->lock);
		free(j->buf);
		free(j);
		return rc;
	}
	if (in->wjobs_tail)
		in->wjobs_tail->next = j;
	else
		in->wjobs = j;
	in->wjobs_tail = j;
	in->wbytes += len;
	if (off + len > in->pending_end)
		in->pending_end = off + len;
	in->last_write_ns = c3_wall_ns();
	pthread_mutex_unlock(&in->lock);

	pthread_mutex_lock(&cl->wq_lock);
	j->seq = ++cl->wseq;
	if (cl->wq_tail)
		cl->wq_tail->qnext = j;
	else
		cl->wq_head = j;
	cl->wq_tail = j;
	pthread_cond_signal(&cl->wq_cv);
	pthread_mutex_unlock(&cl->wq_lock);
	return (ssize_t)len;
}

