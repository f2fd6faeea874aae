/* pool.c — the fork-join worker pool (contract: pool.h). */
#include "common/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

enum { POOL_QUEUED = 1, POOL_RUNNING, POOL_DONE };

struct c3_pool {
	pthread_mutex_t mu;            /* guards everything below and the jobs' next, state */
	pthread_cond_t work_cv;        /* a job was queued, or stop */
	pthread_cond_t done_cv;        /* a worker finished a job */
	struct c3_pool_job *head, *tail;
	bool stop;
	int nthreads;
	pthread_t thr[];
};

static void *pool_main(void *arg)
{
	struct c3_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct c3_pool_job *j = p->head;

		if (!j) {
			if (p->stop)
				break;
			pthread_cond_wait(&p->work_cv, &p->mu);
			continue;
		}
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		j->state = POOL_RUNNING;
		pthread_mutex_unlock(&p->mu);
		j->fn(j->arg);
		pthread_mutex_lock(&p->mu);
		j->state = POOL_DONE; /* the joiner may free j from now on */
		pthread_cond_broadcast(&p->done_cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int c3_pool_new(int nthreads, struct c3_pool **out)
{
	struct c3_pool *p;
	int rc = 0;

	*out = NULL;
	if (nthreads < 1 || nthreads > 256)
		return -EINVAL;
	p = calloc(1, sizeof(*p) + (size_t)nthreads * sizeof(p->thr[0]));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work_cv, NULL);
	pthread_cond_init(&p->done_cv, NULL);
	for (; p->nthreads < nthreads; p->nthreads++) {
		rc = pthread_create(&p->thr[p->nthreads], NULL, pool_main, p);
		if (rc) {
			c3_pool_free(p);
			return -rc;
		}
	}
	*out = p;
	return 0;
}

void c3_pool_free(struct c3_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->thr[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work_cv);
	pthread_cond_destroy(&p->done_cv);
	free(p);
}

void c3_pool_submit(struct c3_pool *p, struct c3_pool_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&p->mu);
	job->state = POOL_QUEUED;
	if (p->tail)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	pthread_cond_signal(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
}

void c3_pool_join(struct c3_pool *p, struct c3_pool_job *job)
{
	pthread_mutex_lock(&p->mu);
	if (job->state == POOL_QUEUED) { /* nobody took it: take it back and run it here */
		struct c3_pool_job **pp = &p->head, *prev = NULL;

		while (*pp != job) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		*pp = job->next;
		if (p->tail == job)
			p->tail = prev;
		job->state = POOL_RUNNING;
		pthread_mutex_unlock(&p->mu);
		job->fn(job->arg);
		pthread_mutex_lock(&p->mu);
		job->state = POOL_DONE;
	}
	while (job->state != POOL_DONE)
		pthread_cond_wait(&p->done_cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}
