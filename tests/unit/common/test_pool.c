/* The fork-join worker pool (pool.[ch]): every job runs exactly once, workers run jobs in
 * parallel with their submitter, a join runs a job no worker took in the joining thread,
 * and a job may submit and join jobs of the same pool even when every worker is busy. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "common/pool.h"
#include "tests/lib/tap.h"

static struct c3_pool *g_pool;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_running;
static bool g_release;

struct rec {
	atomic_int runs;
	pthread_t who;
};

static void count_job(void *arg)
{
	struct rec *r = arg;

	atomic_fetch_add(&r->runs, 1);
	r->who = pthread_self();
}

/* Says it runs, then waits for g_release (at most 10 s: a failed test must not hang). */
static void block_job(void *arg)
{
	struct timespec until;

	count_job(arg);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&g_mu);
	g_running++;
	pthread_cond_broadcast(&g_cv);
	while (!g_release && pthread_cond_timedwait(&g_cv, &g_mu, &until) == 0)
		;
	pthread_mutex_unlock(&g_mu);
}

/* Waits (at most 10 s) until n blocking jobs run. */
static bool wait_running(int n)
{
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&g_mu);
	while (g_running < n && pthread_cond_timedwait(&g_cv, &g_mu, &until) == 0)
		;
	ok = g_running >= n;
	pthread_mutex_unlock(&g_mu);
	return ok;
}

static void release_all(void)
{
	pthread_mutex_lock(&g_mu);
	g_release = true;
	pthread_cond_broadcast(&g_cv);
	pthread_mutex_unlock(&g_mu);
}

/* A job that forks a job into the same pool and joins it. */
static void nested_job(void *arg)
{
	struct rec *inner = arg;
	struct c3_pool_job j = { .fn = count_job, .arg = inner };

	c3_pool_submit(g_pool, &j);
	c3_pool_join(g_pool, &j);
}

int main(void)
{
	struct c3_pool *p;
	static struct rec recs[200];
	static struct c3_pool_job jobs[200];
	struct rec a = { 0 }, b = { 0 }, c = { 0 }, inner = { 0 };
	struct c3_pool_job ja, jb, jc;
	int bad = 0;

	is_int(c3_pool_new(0, &p), -EINVAL, "no workers: EINVAL");
	is_int(c3_pool_new(257, &p), -EINVAL, "too many workers: EINVAL");
	c3_pool_free(NULL);

	/* every job exactly once */
	is_int(c3_pool_new(4, &p), 0, "a pool of 4");
	for (int i = 0; i < 200; i++) {
		jobs[i] = (struct c3_pool_job){ .fn = count_job, .arg = &recs[i] };
		c3_pool_submit(p, &jobs[i]);
	}
	for (int i = 0; i < 200; i++)
		c3_pool_join(p, &jobs[i]);
	for (int i = 0; i < 200; i++)
		bad += atomic_load(&recs[i].runs) != 1;
	is_int(bad, 0, "200 jobs joined, each ran once");

	/* workers run in parallel with each other */
	g_running = 0;
	g_release = false;
	ja = (struct c3_pool_job){ .fn = block_job, .arg = &a };
	jb = (struct c3_pool_job){ .fn = block_job, .arg = &b };
	c3_pool_submit(p, &ja);
	c3_pool_submit(p, &jb);
	ok(wait_running(2), "two workers run two blocking jobs at once");
	release_all();
	c3_pool_join(p, &ja);
	c3_pool_join(p, &jb);
	ok(!pthread_equal(a.who, pthread_self()) && !pthread_equal(b.who, pthread_self()),
	   "both on workers");
	c3_pool_free(p);

	/* one worker, busy: the join runs the queued job itself */
	is_int(c3_pool_new(1, &p), 0, "a pool of 1");
	g_running = 0;
	g_release = false;
	ja = (struct c3_pool_job){ .fn = block_job, .arg = &a };
	jc = (struct c3_pool_job){ .fn = count_job, .arg = &c };
	atomic_store(&a.runs, 0);
	c3_pool_submit(p, &ja);
	ok(wait_running(1), "the worker runs the blocking job");
	c3_pool_submit(p, &jc);
	c3_pool_join(p, &jc);
	ok(atomic_load(&c.runs) == 1 && pthread_equal(c.who, pthread_self()),
	   "a job no worker took ran in its joiner");
	release_all();
	c3_pool_join(p, &ja);
	is_int(atomic_load(&a.runs), 1, "the blocking job ran once");

	/* a job forks and joins into its own pool while the only worker is it */
	g_pool = p;
	ja = (struct c3_pool_job){ .fn = nested_job, .arg = &inner };
	c3_pool_submit(p, &ja);
	c3_pool_join(p, &ja);
	is_int(atomic_load(&inner.runs), 1, "a nested fork-join on a busy pool completes");
	c3_pool_free(p);
	return tap_done();
}
