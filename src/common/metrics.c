/* metrics.c — the process-wide metric registry, Prometheus text rendering and a small
 * HTTP/1.0 server for GET /metrics.  See metrics.h for the contract.
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
 * - The HTTP server is one thread polling the listen socket, a wake-up pipe and at most
 *   C3_METRICS__MAX_CONNS non-blocking connections.  A connection must send its request
 *   within the read timeout (1 s) and be done within the total timeout (5 s) after
 *   accept; a request is at most C3_METRICS__REQ_MAX bytes.
 * - The listen socket is always polled: when every slot is taken, a new connection takes
 *   the slot of the oldest idle reader (no request bytes waiting), else of one draining,
 *   so idle sockets cannot keep a scraper, which sends its request at once, waiting.
 *
 * Connection states:
 *
 *   accept --> READ --(headers complete / too big / garbage)--> WRITE --(all sent)--> DRAIN
 *               |                                                 |                    |
 *               +--(EOF, error, deadline)--> closed <--(error, deadline)--+  (EOF, error,
 *                                                                          deadline)--+
 *   DRAIN: our side is shut down for writing; unread input is discarded until the peer
 *   closes, so that close() does not reset the connection before the client read the
 *   response.
 */
#include "common/metrics.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
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

/* ---- HTTP server ---- */

enum http_state { HTTP_FREE = 0, HTTP_READ, HTTP_WRITE, HTTP_DRAIN };

/* One client connection; owned and touched only by the server thread. */
struct http_conn {
	enum http_state state;
	int fd;
	uint64_t deadline_ms;          /* c3_now_ms() after which the connection is dropped */
	uint64_t accepted_ms;          /* c3_now_ms() at accept */
	uint64_t round;                /* http_srv.round at accept */
	size_t rlen;                   /* bytes of req received */
	char req[C3_METRICS__REQ_MAX];
	struct c3_buf resp;            /* the whole response, built once */
	size_t woff;                   /* bytes of resp sent */
};

/* The running server; created by c3_metrics_serve, freed by c3_metrics_stop. */
struct http_srv {
	int lfd;                       /* listening socket (non-blocking) */
	int wake[2];                   /* pipe: a byte on wake[1] stops the thread */
	pthread_t thread;
	uint64_t round;                /* poll rounds so far (server thread only) */
	struct http_conn conns[C3_METRICS__MAX_CONNS]; /* server thread only */
};

static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static struct http_srv *srv;                     /* guarded by srv_lock */
static _Atomic uint64_t http_timeout_ms = 5000;
static _Atomic uint64_t http_read_timeout_ms = 1000;
/* The server's own metrics (created by c3_metrics_serve). */
static struct c3_counter *http_shed, *http_timeouts;

void c3_metrics__set_timeout_ms(uint64_t ms)
{
	atomic_store(&http_timeout_ms, ms ? ms : 1);
}

void c3_metrics__set_read_timeout_ms(uint64_t ms)
{
	atomic_store(&http_read_timeout_ms, ms ? ms : 1);
}

static void http_conn_close(struct http_conn *c)
{
	close(c->fd);
	c3_buf_release(&c->resp);
	c->state = HTTP_FREE;
	c->fd = -1;
}

static void http_reply(struct http_conn *c, int code, const char *ctype, const void *body,
		       size_t len)
{
	const char *reason = code == 200 ? "OK" : code == 400 ? "Bad Request" :
			     code == 404 ? "Not Found" : "Internal Server Error";

	c3_buf_reset(&c->resp);
	c3_buf_printf(&c->resp,
		      "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		      "Connection: close\r\n\r\n",
		      code, reason, ctype, len);
	c3_buf_append(&c->resp, body, len);
	c->woff = 0;
	c->state = HTTP_WRITE;
	c->deadline_ms = c->accepted_ms + atomic_load(&http_timeout_ms);
}

static void http_reply_text(struct http_conn *c, int code, const char *msg)
{
	http_reply(c, code, "text/plain; charset=utf-8", msg, strlen(msg));
}

static bool http_is_token(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isupper((unsigned char)p[i]))
			return false;
	return true;
}

/* The request line is complete in c->req[0..end): decide and build the response. */
static void http_handle(struct http_conn *c, size_t end)
{
	const char *req = c->req, *sp1, *sp2, *target;
	size_t n = end, tlen;
	struct c3_buf body = C3_BUF_INIT;

	if (n && req[n - 1] == '\r')
		n--;
	sp1 = memchr(req, ' ', n);
	if (!sp1 || !http_is_token(req, (size_t)(sp1 - req))) {
		http_reply_text(c, 400, "bad request\n");
		return;
	}
	target = sp1 + 1;
	sp2 = memchr(target, ' ', (size_t)(req + n - target));
	tlen = sp2 ? (size_t)(sp2 - target) : (size_t)(req + n - target);
	if (tlen == 0 || target[0] != '/' || memchr(target, '\0', tlen) ||
	    (sp2 && (size_t)(req + n - sp2 - 1) < 5) || (sp2 && memcmp(sp2 + 1, "HTTP/", 5) != 0)) {
		http_reply_text(c, 400, "bad request\n");
		return;
	}
	if ((size_t)(sp1 - req) != 3 || memcmp(req, "GET", 3) != 0 ||
	    !((tlen == 8 && memcmp(target, "/metrics", 8) == 0) ||
	      (tlen > 8 && memcmp(target, "/metrics?", 9) == 0))) {
		http_reply_text(c, 404, "not found: only GET /metrics is served\n");
		return;
	}
	c3_metrics_render(&body);
	if (body.err)
		http_reply_text(c, 500, "out of memory\n");
	else
		http_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", body.data, body.len);
	c3_buf_release(&body);
}

static void http_on_read(struct http_conn *c)
{
	ssize_t n = recv(c->fd, c->req + c->rlen, sizeof(c->req) - c->rlen, 0);
	const char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		http_conn_close(c);
		return;
	}
	c->rlen += (size_t)n;
	/* the request ends with an empty line; only the first line matters */
	if (memmem(c->req, c->rlen, "\r\n\r\n", 4) || memmem(c->req, c->rlen, "\n\n", 2)) {
		nl = memchr(c->req, '\n', c->rlen);
		http_handle(c, (size_t)(nl - c->req));
	} else if (c->rlen == sizeof(c->req)) {
		http_reply_text(c, 400, "request too large\n");
	}
}

static void http_on_write(struct http_conn *c)
{
	ssize_t n = send(c->fd, c->resp.data + c->woff, c->resp.len - c->woff, MSG_NOSIGNAL);
	uint64_t linger;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0) {
		http_conn_close(c);
		return;
	}
	c->woff += (size_t)n;
	if (c->woff < c->resp.len)
		return;
	shutdown(c->fd, SHUT_WR);
	c3_buf_release(&c->resp);
	c->state = HTTP_DRAIN;
	linger = c3_now_ms() + 1000;
	if (linger < c->deadline_ms)
		c->deadline_ms = linger;
}

static void http_on_drain(struct http_conn *c)
{
	char scratch[512];
	ssize_t n = recv(c->fd, scratch, sizeof(scratch), 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0)
		http_conn_close(c);
}

/* Shedding preference of a taken slot (lower goes first): an idle reader (no request
 * bytes waiting), one draining, a reader whose request is already waiting, one writing. */
static int http_shed_rank(const struct http_conn *c)
{
	int n = 0;

	if (c->state == HTTP_READ)
		return ioctl(c->fd, FIONREAD, &n) == 0 && n > 0 ? 2 : 0;
	return c->state == HTTP_DRAIN ? 1 : 3;
}

/* The slot for a new connection: a free one, else the one to close to make room (lowest
 * rank, oldest first) among those accepted before this round (a connection always gets
 * one poll round to show its request).  NULL when there is none. */
static struct http_conn *http_slot(struct http_srv *s)
{
	struct http_conn *victim = NULL;
	int vrank = 4;

	for (int i = 0; i < C3_METRICS__MAX_CONNS; i++) {
		struct http_conn *c = &s->conns[i];
		int rank;

		if (c->state == HTTP_FREE)
			return c;
		if (c->round == s->round)
			continue;
		rank = http_shed_rank(c);
		if (rank < vrank || (rank == vrank && c->accepted_ms < victim->accepted_ms)) {
			victim = c;
			vrank = rank;
		}
	}
	return victim;
}

/* Accept what is pending (a bounded batch).  Returns a pause (ms) when out of
 * descriptors. */
static uint64_t http_accept(struct http_srv *s)
{
	for (;;) {
		struct http_conn *c = http_slot(s);
		uint64_t now;
		int fd;

		if (!c)
			return 0; /* every slot taken this round: the rest wait in the backlog */
		fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				return 100;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return 0; /* EAGAIN and the rest: nothing more to accept now */
		}
		if (c->state != HTTP_FREE) {
			http_conn_close(c);
			c3_counter_add(http_shed, 1);
		}
		now = c3_now_ms();
		memset(c, 0, sizeof(*c));
		c->round = s->round;
		c->fd = fd;
		c->state = HTTP_READ;
		c->accepted_ms = now;
		c->deadline_ms = now + atomic_load(&http_read_timeout_ms);
		if (atomic_load(&http_timeout_ms) < atomic_load(&http_read_timeout_ms))
			c->deadline_ms = now + atomic_load(&http_timeout_ms);
	}
	return 0;
}

static void *http_main(void *arg)
{
	struct http_srv *s = arg;
	struct pollfd pfd[2 + C3_METRICS__MAX_CONNS];
	int who[2 + C3_METRICS__MAX_CONNS];
	uint64_t pause_until = 0;

	for (;;) {
		uint64_t now = c3_now_ms(), wait = 1000;

		s->round++;
		int n = 0, lidx = -1, rc;

		pfd[n++] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		for (int i = 0; i < C3_METRICS__MAX_CONNS; i++) {
			struct http_conn *c = &s->conns[i];

			if (c->state != HTTP_FREE && now >= c->deadline_ms) {
				if (c->state != HTTP_DRAIN)
					c3_counter_add(http_timeouts, 1);
				http_conn_close(c); /* slow or stuck client */
			}
			if (c->state == HTTP_FREE)
				continue;
			if (c->deadline_ms - now < wait)
				wait = c->deadline_ms - now;
			who[n] = i;
			pfd[n++] = (struct pollfd){ .fd = c->fd,
						    .events = c->state == HTTP_WRITE ? POLLOUT : POLLIN };
		}
		if (now >= pause_until) {
			lidx = n;
			pfd[n++] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
		} else if (now < pause_until && pause_until - now < wait) {
			wait = pause_until - now;
		}
		rc = poll(pfd, (nfds_t)n, (int)wait + 1);
		if (rc < 0) {
			if (errno != EINTR)
				c3_sleep_ms(10);
			continue;
		}
		if (pfd[0].revents)
			break; /* c3_metrics_stop() */
		for (int k = 1; k < n; k++) {
			struct http_conn *c;

			if (k == lidx || !pfd[k].revents)
				continue;
			c = &s->conns[who[k]];
			if (c->state == HTTP_READ)
				http_on_read(c);
			else if (c->state == HTTP_WRITE)
				http_on_write(c);
			else if (c->state == HTTP_DRAIN)
				http_on_drain(c);
		}
		if (lidx >= 0 && pfd[lidx].revents) {
			uint64_t pause = http_accept(s);

			if (pause)
				pause_until = c3_now_ms() + pause;
		}
	}
	for (int i = 0; i < C3_METRICS__MAX_CONNS; i++)
		if (s->conns[i].state != HTTP_FREE)
			http_conn_close(&s->conns[i]);
	return NULL;
}

/* "a.b.c.d:port" or "[v6]:port" into *ss. */
static int http_parse_addr(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char host[64];
	const char *colon, *h;
	size_t hlen;
	char *end;
	long port;

	if (!listen)
		return -EINVAL;
	colon = strrchr(listen, ':');
	if (!colon || !colon[1])
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (*end || errno || port < 0 || port > 65535 || !isdigit((unsigned char)colon[1]))
		return -EINVAL;
	h = listen;
	hlen = (size_t)(colon - listen);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*sslen = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -EINVAL;
}

int c3_metrics_serve(const char *listen_addr, int *port_out)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct http_srv *s;
	sigset_t all, old;
	int one = 1, rc;

	rc = http_parse_addr(listen_addr, &ss, &sslen);
	if (rc != 0)
		return rc;
	http_shed = c3_counter_get("c3fs_metrics_http_shed_total", NULL,
				   "metrics HTTP connections closed to admit a newer one (all slots "
				   "taken)");
	http_timeouts = c3_counter_get("c3fs_metrics_http_timeouts_total", NULL,
				       "metrics HTTP connections closed at their read or total "
				       "deadline");
	pthread_mutex_lock(&srv_lock);
	if (srv) {
		rc = -EALREADY;
		goto out_unlock;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = -ENOMEM;
		goto out_unlock;
	}
	s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		rc = -errno;
		goto out_free;
	}
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->lfd, (struct sockaddr *)&ss, sslen) != 0 || listen(s->lfd, 128) != 0) {
		rc = -errno;
		goto out_sock;
	}
	if (port_out) {
		sslen = sizeof(ss);
		if (getsockname(s->lfd, (struct sockaddr *)&ss, &sslen) != 0) {
			rc = -errno;
			goto out_sock;
		}
		*port_out = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
							  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		rc = -errno;
		goto out_sock;
	}
	/* the server thread takes no signals: they stay with the service's own threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&s->thread, NULL, http_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		goto out_pipe;
	srv = s;
	pthread_mutex_unlock(&srv_lock);
	return 0;
out_pipe:
	close(s->wake[0]);
	close(s->wake[1]);
out_sock:
	close(s->lfd);
out_free:
	free(s);
out_unlock:
	pthread_mutex_unlock(&srv_lock);
	return rc;
}

void c3_metrics_stop(void)
{
	struct http_srv *s;
	ssize_t n;

	pthread_mutex_lock(&srv_lock);
	s = srv;
	srv = NULL;
	if (!s) {
		pthread_mutex_unlock(&srv_lock);
		return;
	}
	do
		n = write(s->wake[1], "x", 1);
	while (n < 0 && errno == EINTR);
	pthread_join(s->thread, NULL);
	close(s->wake[0]);
	close(s->wake[1]);
	close(s->lfd);
	free(s);
	pthread_mutex_unlock(&srv_lock);
}
