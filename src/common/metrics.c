/* metrics.c — the process-wide metric registry, Prometheus text rendering and the
 * GET /metrics endpoint (a common/http.h server).  See metrics.h for the contract.
 *
 * Invariants:
 * - Metrics are never freed: the registry list only grows (under reg_lock) and every node
 *   stays valid until exit, so update functions need no lock and pointers never dangle.
 * - A (name, labels) pair exists once; all metrics of one name have the same type.  A name
 *   that is not a valid Prometheus name, labels containing a newline, or a name already
 *   used by another type give NULL (as allocation failure does), and updates on NULL are
 *   ignored, so a bad call can never corrupt the exposition.
 * - Values are C11 atomics updated with relaxed ordering: a scrape sees each value whole,
 *   not a snapshot across metrics.  A histogram's _count is computed from the same bucket
 *   reads as its _bucket lines, so "+Inf bucket == _count" always holds in one scrape.
 * - Collect callbacks run on the rendering thread with no registry lock held (they may
 *   create or set metrics); renders are serialised by render_lock so callbacks never run
 *   concurrently with each other.
 * - The HTTP endpoint is a common/http.h server with the route "/metrics"; other modules
 *   may add routes to it (c3_metrics_route_add), e.g. mgmtd's status page.
 */
#include "common/metrics.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http.h"
#include "common/metrics_int.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HIST };

/* Common head of every metric; immutable after creation. */
struct metric {
	enum metric_type type;
	char *name;
	char *labels;         /* "" when none */
	char *help;
	struct metric *next;  /* registry order; written once under reg_lock */
};

struct c3_counter {
	struct metric m;
	_Atomic uint64_t v;
};

struct c3_gauge {
	struct metric m;
	_Atomic int64_t v;
};

struct c3_hist {
	struct metric m;
	_Atomic uint64_t bucket[C3_METRICS__HIST_NBUCKETS + 1]; /* not cumulative; last = +Inf */
	_Atomic uint64_t sum_ns;
};

/* Bucket upper bounds: 1-2-5 steps from 1 us to 50 s, then 60 s. */
static const uint64_t hist_bound_ns[C3_METRICS__HIST_NBUCKETS] = {
	1000ull, 2000ull, 5000ull,                              /* us */
	10000ull, 20000ull, 50000ull,
	100000ull, 200000ull, 500000ull,
	1000000ull, 2000000ull, 5000000ull,                     /* ms */
	10000000ull, 20000000ull, 50000000ull,
	100000000ull, 200000000ull, 500000000ull,
	1000000000ull, 2000000000ull, 5000000000ull,            /* s */
	10000000000ull, 20000000000ull, 50000000000ull,
	60000000000ull,
};
/* The same bounds in seconds, as printed in le="...". */
static const char *const hist_le[C3_METRICS__HIST_NBUCKETS] = {
	"0.000001", "0.000002", "0.000005", "0.00001", "0.00002", "0.00005",
	"0.0001", "0.0002", "0.0005", "0.001", "0.002", "0.005",
	"0.01", "0.02", "0.05", "0.1", "0.2", "0.5",
	"1", "2", "5", "10", "20", "50", "60",
};

struct collector {
	c3_metrics_collect_fn fn;
	void *arg;
	struct collector *next;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric *reg_head, *reg_tail;          /* guarded by reg_lock */
static size_t reg_count;                            /* guarded by reg_lock */
static struct collector *coll_head, *coll_tail;     /* guarded by reg_lock */
static size_t coll_count;                           /* guarded by reg_lock */
static pthread_mutex_t render_lock = PTHREAD_MUTEX_INITIALIZER;

uint64_t c3_metrics__hist_bound_ns(int i)
{
	return (i >= 0 && i < C3_METRICS__HIST_NBUCKETS) ? hist_bound_ns[i] : UINT64_MAX;
}

/* ---- registry ---- */

static bool metric_name_is_valid(const char *name)
{
	size_t n;

	if (!name || !name[0])
		return false;
	n = strlen(name);
	if (n > 200)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!(isalpha(ch) || ch == '_' || ch == ':' || (i > 0 && isdigit(ch))))
			return false;
	}
	return true;
}

static bool metric_labels_are_valid(const char *labels)
{
	return strlen(labels) <= 1000 && !strchr(labels, '\n') && !strchr(labels, '\r');
}

/* Find or create; returns NULL on bad input, type clash or no memory. */
static struct metric *metric_get(enum metric_type type, size_t size, const char *name,
				 const char *labels, const char *help)
{
	struct metric *m, *found = NULL;

	if (!labels)
		labels = "";
	if (!help)
		help = "";
	if (!metric_name_is_valid(name) || !metric_labels_are_valid(labels))
		return NULL;
	pthread_mutex_lock(&reg_lock);
	for (m = reg_head; m; m = m->next) {
		if (strcmp(m->name, name) != 0)
			continue;
		if (m->type != type)
			goto out_unlock; /* found stays NULL */
		if (strcmp(m->labels, labels) == 0) {
			found = m;
			goto out_unlock;
		}
	}
	m = calloc(1, size);
	if (!m)
		goto out_unlock;
	m->type = type;
	m->name = strdup(name);
	m->labels = strdup(labels);
	m->help = strdup(help);
	if (!m->name || !m->labels || !m->help) {
		free(m->name);
		free(m->labels);
		free(m->help);
		free(m);
		goto out_unlock;
	}
	if (reg_tail)
		reg_tail->next = m;
	else
		reg_head = m;
	reg_tail = m;
	reg_count++;
	found = m;
out_unlock:
	pthread_mutex_unlock(&reg_lock);
	return found;
}

struct c3_counter *c3_counter_get(const char *name, const char *labels, const char *help)
{
	return (struct c3_counter *)metric_get(METRIC_COUNTER, sizeof(struct c3_counter), name,
					       labels, help);
}

struct c3_gauge *c3_gauge_get(const char *name, const char *labels, const char *help)
{
	return (struct c3_gauge *)metric_get(METRIC_GAUGE, sizeof(struct c3_gauge), name,
					     labels, help);
}

struct c3_hist *c3_hist_get(const char *name, const char *labels, const char *help)
{
	return (struct c3_hist *)metric_get(METRIC_HIST, sizeof(struct c3_hist), name, labels,
					    help);
}

void c3_counter_add(struct c3_counter *c, uint64_t n)
{
	if (c)
		atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

void c3_gauge_set(struct c3_gauge *g, int64_t v)
{
	if (g)
		atomic_store_explicit(&g->v, v, memory_order_relaxed);
}

void c3_gauge_add(struct c3_gauge *g, int64_t delta)
{
	if (g)
		atomic_fetch_add_explicit(&g->v, delta, memory_order_relaxed);
}

void c3_hist_observe_ns(struct c3_hist *h, uint64_t ns)
{
	int lo = 0, hi = C3_METRICS__HIST_NBUCKETS; /* first bound >= ns, or +Inf */

	if (!h)
		return;
	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (hist_bound_ns[mid] >= ns)
			hi = mid;
		else
			lo = mid + 1;
	}
	atomic_fetch_add_explicit(&h->bucket[lo], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void c3_metrics_on_collect(c3_metrics_collect_fn fn, void *arg)
{
	struct collector *c;

	if (!fn)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return; /* documented: like a metric, a failed registration is ignored */
	c->fn = fn;
	c->arg = arg;
	pthread_mutex_lock(&reg_lock);
	if (coll_tail)
		coll_tail->next = c;
	else
		coll_head = c;
	coll_tail = c;
	coll_count++;
	pthread_mutex_unlock(&reg_lock);
}

/* ---- rendering ---- */

static void render_help(struct c3_buf *out, const char *help)
{
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			c3_buf_append(out, "\\\\", 2);
		else if (*p == '\n')
			c3_buf_append(out, "\\n", 2);
		else
			c3_buf_append(out, p, 1);
	}
}

static void render_one(struct c3_buf *out, struct metric *m)
{
	const char *l = m->labels, *sep = m->labels[0] ? "," : "";
	uint64_t cum = 0;

	switch (m->type) {
	case METRIC_COUNTER:
		c3_buf_printf(out, "%s%s%s%s %llu\n", m->name, l[0] ? "{" : "", l, l[0] ? "}" : "",
			      (unsigned long long)atomic_load_explicit(
				      &((struct c3_counter *)m)->v, memory_order_relaxed));
		break;
	case METRIC_GAUGE:
		c3_buf_printf(out, "%s%s%s%s %lld\n", m->name, l[0] ? "{" : "", l, l[0] ? "}" : "",
			      (long long)atomic_load_explicit(&((struct c3_gauge *)m)->v,
							      memory_order_relaxed));
		break;
	case METRIC_HIST: {
		struct c3_hist *h = (struct c3_hist *)m;
		uint64_t sum;

		for (int i = 0; i <= C3_METRICS__HIST_NBUCKETS; i++) {
			cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
			c3_buf_printf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", m->name, l, sep,
				      i < C3_METRICS__HIST_NBUCKETS ? hist_le[i] : "+Inf",
				      (unsigned long long)cum);
		}
		sum = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
		c3_buf_printf(out, "%s_sum%s%s%s %llu.%09llu\n", m->name, l[0] ? "{" : "", l,
			      l[0] ? "}" : "", (unsigned long long)(sum / 1000000000ull),
			      (unsigned long long)(sum % 1000000000ull));
		c3_buf_printf(out, "%s_count%s%s%s %llu\n", m->name, l[0] ? "{" : "", l,
			      l[0] ? "}" : "", (unsigned long long)cum);
		break;
	}
	}
}

static void run_collectors(void)
{
	struct collector **v, *c;
	size_t n = 0;

	pthread_mutex_lock(&reg_lock);
	v = calloc(coll_count ? coll_count : 1, sizeof(*v));
	for (c = coll_head; v && c; c = c->next)
		v[n++] = c;
	pthread_mutex_unlock(&reg_lock);
	/* nodes are never freed, so calling them after the unlock is safe */
	for (size_t i = 0; i < n; i++)
		v[i]->fn(v[i]->arg);
	free(v);
}

void c3_metrics_render(struct c3_buf *out)
{
	static const char *const tname[] = { "counter", "gauge", "histogram" };
	struct metric **v = NULL, *m;
	bool *done = NULL;
	size_t n = 0;

	pthread_mutex_lock(&render_lock);
	run_collectors();
	/* snapshot the list: nodes are immutable apart from ->next and never freed */
	pthread_mutex_lock(&reg_lock);
	v = calloc(reg_count ? reg_count : 1, sizeof(*v));
	done = calloc(reg_count ? reg_count : 1, sizeof(*done));
	for (m = reg_head; v && done && m; m = m->next)
		v[n++] = m;
	pthread_mutex_unlock(&reg_lock);
	if (!v || !done) {
		if (!out->err)
			out->err = -ENOMEM;
		goto out;
	}
	/* one family per name: HELP and TYPE once, then all its label sets */
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		c3_buf_printf(out, "# HELP %s ", v[i]->name);
		render_help(out, v[i]->help);
		c3_buf_printf(out, "\n# TYPE %s %s\n", v[i]->name, tname[v[i]->type]);
		for (size_t j = i; j < n; j++) {
			if (!done[j] && strcmp(v[j]->name, v[i]->name) == 0) {
				render_one(out, v[j]);
				done[j] = true;
			}
		}
	}
out:
	free(done);
	free(v);
	pthread_mutex_unlock(&render_lock);
}

/* ---- HTTP endpoint (common/http.h) ---- */

static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static struct c3_http_server *srv;               /* guarded by srv_lock */
static _Atomic uint64_t http_timeout_ms = 5000;
#define METRICS_HTTP_READ_TIMEOUT_MS 1000       /* accept to a complete request */

void c3_metrics__set_timeout_ms(uint64_t ms)
{
	atomic_store(&http_timeout_ms, ms ? ms : 1);
}

static void metrics_http_get(void *arg, const struct c3_http_req *req, struct c3_http_resp *resp)
{
	(void)arg;
	(void)req;
	resp->ctype = "text/plain; version=0.0.4; charset=utf-8";
	c3_metrics_render(&resp->body);
}

int c3_metrics_serve(const char *listen_addr, int *port_out)
{
	struct c3_http_opts o = { 0 };
	struct c3_http_server *s;
	int rc;

	o.read_timeout_ms = METRICS_HTTP_READ_TIMEOUT_MS;
	o.timeout_ms = atomic_load(&http_timeout_ms);
	o.shed = c3_counter_get("c3fs_metrics_http_shed_total", NULL,
				"metrics HTTP connections closed to admit a newer one (all slots "
				"taken)");
	o.timeouts = c3_counter_get("c3fs_metrics_http_timeouts_total", NULL,
				    "metrics HTTP connections closed at their read or total "
				    "deadline");
	pthread_mutex_lock(&srv_lock);
	if (srv) {
		rc = -EALREADY;
		goto out_unlock;
	}
	rc = c3_http_server_start(listen_addr, &o, &s, port_out);
	if (rc != 0)
		goto out_unlock;
	rc = c3_http_route_add(s, "/metrics", metrics_http_get, NULL);
	if (rc != 0) {
		c3_http_server_stop(s);
		goto out_unlock;
	}
	srv = s;
out_unlock:
	pthread_mutex_unlock(&srv_lock);
	return rc;
}

int c3_metrics_route_add(const char *path, c3_http_handler_fn fn, void *arg)
{
	int rc;

	pthread_mutex_lock(&srv_lock);
	rc = srv ? c3_http_route_add(srv, path, fn, arg) : -ENOTCONN;
	pthread_mutex_unlock(&srv_lock);
	return rc;
}

void c3_metrics_route_remove(const char *path)
{
	pthread_mutex_lock(&srv_lock);
	if (srv)
		c3_http_route_remove(srv, path);
	pthread_mutex_unlock(&srv_lock);
}

void c3_metrics_stop(void)
{
	pthread_mutex_lock(&srv_lock);
	c3_http_server_stop(srv);
	srv = NULL;
	pthread_mutex_unlock(&srv_lock);
}
