/* pool.h — a small fork-join worker pool: a caller splits work into jobs, submits them,
 * works on its own share, then joins each job.  A join runs a job that no worker has
 * started yet in the joining thread, so a caller never waits for a free worker and jobs
 * that themselves block (on RPCs that another pool user serves) cannot deadlock the pool:
 * a job is either running somewhere or run by its joiner.
 *
 *     struct c3_pool_job j[4];
 *     for (i = 1; i < 4; i++) { j[i] = (struct c3_pool_job){ .fn = f, .arg = &part[i] };
 *                               c3_pool_submit(pool, &j[i]); }
 *     f(&part[0]);
 *     for (i = 1; i < 4; i++) c3_pool_join(pool, &j[i]);
 *
 * Ownership: a job's memory is the submitter's and must stay valid until its join returns;
 * after the join the pool holds no pointer to it.  Every submitted job must be joined.
 * Thread safety: submit and join from any thread. */
#ifndef C3_COMMON_POOL_H
#define C3_COMMON_POOL_H

struct c3_pool;

struct c3_pool_job {
	void (*fn)(void *arg);
	void *arg;
	/* private, under the pool's lock */
	struct c3_pool_job *next;
	int state;
};

/* nthreads workers (1..256): 0, -EINVAL or the pthread error (nothing left running). */
int c3_pool_new(int nthreads, struct c3_pool **out);
/* Stops and joins the workers; no job may be queued (every one was joined).  NULL is ok. */
void c3_pool_free(struct c3_pool *p);

/* Queues job (fn and arg set); a worker runs it, or its join does.  Never fails. */
void c3_pool_submit(struct c3_pool *p, struct c3_pool_job *job);
/* Returns when job has run: here and now when no worker has taken it, else after the
 * worker finished it. */
void c3_pool_join(struct c3_pool *p, struct c3_pool_job *job);

#endif
