/* metrics.c: registry rules, exact Prometheus rendering (HELP/TYPE once per family,
 * labels, histogram buckets in seconds), collect callbacks, exact totals under concurrent
 * updates, and the HTTP server over 127.0.0.1 with raw sockets: 200/404/400, oversized
 * and garbage requests, a slow client that is dropped while others are served, stop and
 * restart. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/metrics.h"
#include "common/metrics_int.h"
#include "tests/lib/tap.h"

static char *render(void)
{
	struct c3_buf b = C3_BUF_INIT;

	c3_metrics_render(&b);
	c3_buf_append(&b, "", 1);
	return (char *)c3_buf_detach(&b, NULL);
}

static int has(const char *hay, const char *needle)
{
	int r = hay && strstr(hay, needle) != NULL;

	if (!r)
		diag("not found: \"%s\"", needle);
	return r;
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_registry(void)
{
	struct c3_counter *a, *b, *c;

	a = c3_counter_get("t_reg_total", "k=\"1\"", "help");
	b = c3_counter_get("t_reg_total", "k=\"1\"", "other help");
	c = c3_counter_get("t_reg_total", "k=\"2\"", NULL);
	ok(a && a == b, "same name and labels give the same counter");
	ok(c && c != a, "other labels give another counter");
	ok(c3_gauge_get("t_reg_total", NULL, "x") == NULL, "a name keeps its type");
	ok(c3_hist_get("t_reg_total", "k=\"1\"", "x") == NULL, "a name keeps its type (hist)");
	ok(c3_counter_get("1bad", NULL, "x") == NULL, "name starting with a digit refused");
	ok(c3_counter_get("bad-name", NULL, "x") == NULL, "name with '-' refused");
	ok(c3_counter_get("", NULL, "x") == NULL, "empty name refused");
	ok(c3_counter_get(NULL, NULL, "x") == NULL, "NULL name refused");
	ok(c3_counter_get("t_bad_labels", "a=\"1\"\nb 2", "x") == NULL, "newline in labels refused");
	ok(c3_gauge_get("ns:t_colon_ok", NULL, "x") != NULL, "colon allowed in names");
	c3_counter_add(NULL, 1);
	c3_gauge_set(NULL, 1);
	c3_gauge_add(NULL, 1);
	c3_hist_observe_ns(NULL, 1);
	ok(1, "updates on NULL are ignored");
}

static int collect_calls;

static void collect(void *arg)
{
	collect_calls++;
	c3_gauge_set(arg, 1000 + collect_calls);
	/* creating a metric from a callback must not deadlock */
	c3_counter_add(c3_counter_get("t_from_callback_total", NULL, "made in a callback"), 1);
}

static void test_render(void)
{
	struct c3_counter *c1 = c3_counter_get("t_req_total", "op=\"read\"", "Requests\\done\nok");
	struct c3_counter *c2 = c3_counter_get("t_req_total", "op=\"write\"", "ignored");
	struct c3_gauge *g = c3_gauge_get("t_free_bytes", NULL, "Free bytes.");
	struct c3_gauge *cg = c3_gauge_get("t_collected", NULL, "Set by a callback.");
	struct c3_hist *h = c3_hist_get("t_lat_seconds", NULL, "Latency.");
	struct c3_hist *hl = c3_hist_get("t_lat2_seconds", "op=\"x\"", "Latency 2.");
	struct c3_counter *late;
	char *s;

	c3_counter_add(c1, 5);
	c3_counter_add(c1, 2);
	c3_counter_add(c2, 1);
	c3_gauge_set(g, 100);
	c3_gauge_add(g, -142);
	/* edges: 1000 ns is le 1us, 1001 is le 2us, 60 s is the last finite, above is +Inf */
	c3_hist_observe_ns(h, 0);
	c3_hist_observe_ns(h, 1000);
	c3_hist_observe_ns(h, 1001);
	c3_hist_observe_ns(h, 3000000);        /* 3 ms -> le 0.005 */
	c3_hist_observe_ns(h, 60000000000ull); /* 60 s */
	c3_hist_observe_ns(h, 61000000000ull); /* +Inf */
	c3_hist_observe_ns(hl, 2500);
	c3_metrics_on_collect(collect, cg);
	/* a later metric of an earlier family is still printed inside its family */
	late = c3_counter_get("t_req_total", "op=\"stat\"", "ignored");
	c3_counter_add(late, 9);

	s = render();
	is_int(collect_calls, 1, "collect callback ran once per render");
	ok(has(s, "# HELP t_req_total Requests\\\\done\\nok\n# TYPE t_req_total counter\n"
		  "t_req_total{op=\"read\"} 7\nt_req_total{op=\"write\"} 1\n"
		  "t_req_total{op=\"stat\"} 9\n"),
	   "counter family: escaped HELP, TYPE, all label sets together");
	is_int(count_of(s, "# TYPE t_req_total "), 1, "TYPE printed once per family");
	ok(has(s, "# HELP t_free_bytes Free bytes.\n# TYPE t_free_bytes gauge\nt_free_bytes -42\n"),
	   "gauge with negative value, no labels");
	ok(has(s, "t_collected 1001\n"), "gauge set by the callback before rendering");
	ok(has(s, "# TYPE t_lat_seconds histogram\n"
		  "t_lat_seconds_bucket{le=\"0.000001\"} 2\n"
		  "t_lat_seconds_bucket{le=\"0.000002\"} 3\n"
		  "t_lat_seconds_bucket{le=\"0.000005\"} 3\n"),
	   "first buckets cumulative, le in seconds, upper bound inclusive");
	ok(has(s, "t_lat_seconds_bucket{le=\"0.002\"} 3\nt_lat_seconds_bucket{le=\"0.005\"} 4\n"),
	   "3 ms in le=0.005");
	ok(has(s, "t_lat_seconds_bucket{le=\"50\"} 4\nt_lat_seconds_bucket{le=\"60\"} 5\n"
		  "t_lat_seconds_bucket{le=\"+Inf\"} 6\n"
		  "t_lat_seconds_sum 121.003002001\nt_lat_seconds_count 6\n"),
	   "60 s bucket, +Inf, exact _sum in seconds, _count");
	is_int(count_of(s, "t_lat_seconds_bucket{"), C3_METRICS__HIST_NBUCKETS + 1,
	       "one line per bucket plus +Inf");
	ok(has(s, "t_lat2_seconds_bucket{op=\"x\",le=\"0.000002\"} 0\n"
		  "t_lat2_seconds_bucket{op=\"x\",le=\"0.000005\"} 1\n"),
	   "histogram labels before le");
	ok(has(s, "t_lat2_seconds_sum{op=\"x\"} 0.000002500\nt_lat2_seconds_count{op=\"x\"} 1\n"),
	   "labelled _sum and _count");
	{
		int good = 1;

		for (int i = 1; i < C3_METRICS__HIST_NBUCKETS; i++)
			good &= c3_metrics__hist_bound_ns(i) > c3_metrics__hist_bound_ns(i - 1);
		ok(good && c3_metrics__hist_bound_ns(0) == 1000 &&
			   c3_metrics__hist_bound_ns(C3_METRICS__HIST_NBUCKETS - 1) == 60000000000ull,
		   "bounds increase from 1 us to 60 s");
	}
	/* every line is a comment or "name{...} value" */
	{
		int good = 1;

		for (char *line = s, *nl; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			if (!nl) {
				good = 0;
				break;
			}
			if (line[0] == '#')
				continue;
			char *sp = memchr(line, ' ', (size_t)(nl - line));

			good &= sp && sp > line && sp + 1 < nl && !memchr(sp + 1, ' ', (size_t)(nl - sp - 1));
		}
		ok(good, "every sample line is \"series value\" and the text ends with a newline");
	}
	free(s);
	s = render();
	is_int(collect_calls, 2, "callback ran again");
	ok(has(s, "t_collected 1002\n") && has(s, "t_from_callback_total 2\n"),
	   "callback values refreshed");
	free(s);
}

#define NTHREADS 4
#define NITER 100000

static struct c3_counter *cc;
static struct c3_gauge *cgauge;
static struct c3_hist *chist;

static void *hammer(void *arg)
{
	for (int i = 0; i < NITER; i++) {
		c3_counter_add(cc, 3);
		c3_gauge_add(cgauge, (i & 1) ? -1 : 2);
		c3_hist_observe_ns(chist, (uint64_t)(i % 7) * 1000);
		if (i % 20000 == 0) {
			/* creation and rendering race with updates */
			c3_counter_get("t_conc_total", NULL, "x");
			free(render());
		}
	}
	return arg;
}

static void test_concurrency(void)
{
	pthread_t th[NTHREADS];
	char want[256], *s;

	cc = c3_counter_get("t_conc_total", NULL, "Concurrent.");
	cgauge = c3_gauge_get("t_conc_gauge", NULL, "Concurrent.");
	chist = c3_hist_get("t_conc_seconds", NULL, "Concurrent.");
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, hammer, NULL);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	s = render();
	snprintf(want, sizeof(want), "t_conc_total %d\n", NTHREADS * NITER * 3);
	ok(has(s, want), "counter total exact");
	snprintf(want, sizeof(want), "t_conc_gauge %d\n", NTHREADS * (NITER / 2));
	ok(has(s, want), "gauge total exact");
	snprintf(want, sizeof(want), "t_conc_seconds_count %d\n", NTHREADS * NITER);
	ok(has(s, want), "histogram count exact");
	free(s);
}

/* ---- HTTP ---- */

static int port;

static int conn_open(void)
{
	struct sockaddr_in a;
	struct timeval tv = { 10, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read until EOF (or timeout/error); returns malloc'd text or NULL on timeout/error. */
static char *read_all(int fd)
{
	struct c3_buf b = C3_BUF_INIT;
	char tmp[4096];
	ssize_t n;

	while ((n = recv(fd, tmp, sizeof(tmp), 0)) > 0)
		c3_buf_append(&b, tmp, (size_t)n);
	if (n < 0) {
		c3_buf_release(&b);
		return NULL;
	}
	c3_buf_append(&b, "", 1);
	return (char *)c3_buf_detach(&b, NULL);
}

/* Send req (len bytes) on a new connection; returns the whole response or NULL. */
static char *http(const void *req, size_t len)
{
	int fd = conn_open();
	char *r;

	if (fd < 0)
		return NULL;
	if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
		close(fd);
		return NULL;
	}
	r = read_all(fd);
	close(fd);
	return r;
}

static int status_is(const char *resp, int code)
{
	char want[32];

	snprintf(want, sizeof(want), "HTTP/1.0 %d ", code);
	if (!resp || strncmp(resp, want, strlen(want)) != 0) {
		diag("response starts with \"%.40s\"", resp ? resp : "(none)");
		return 0;
	}
	return 1;
}

static int metrics_ok(void)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	char *r = http(req, sizeof(req) - 1);
	int good = status_is(r, 200) && has(r, "t_req_total{op=\"read\"} 7\n");

	free(r);
	return good;
}

static void test_http(void)
{
	static const char get[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
	char *r, *body, big[C3_METRICS__REQ_MAX + 100];
	int fd, slow, rc;
	long clen;

	is_int(c3_metrics_serve("127.0.0.1:99999", NULL), -EINVAL, "bad port refused");
	is_int(c3_metrics_serve("localhost:1", NULL), -EINVAL, "host names refused");
	is_int(c3_metrics_serve("127.0.0.1", NULL), -EINVAL, "missing port refused");
	c3_metrics__set_timeout_ms(700);
	rc = c3_metrics_serve("127.0.0.1:0", &port);
	is_int(rc, 0, "serve on 127.0.0.1:0");
	if (rc != 0)
		return;
	ok(port > 0, "bound port returned");
	is_int(c3_metrics_serve("127.0.0.1:0", NULL), -EALREADY, "second serve refused");

	r = http(get, sizeof(get) - 1);
	ok(status_is(r, 200), "GET /metrics is 200");
	ok(has(r, "\r\nContent-Type: text/plain; version=0.0.4"), "Prometheus content type");
	body = r ? strstr(r, "\r\n\r\n") : NULL;
	clen = r && strstr(r, "Content-Length: ") ? atol(strstr(r, "Content-Length: ") + 16) : -1;
	ok(body && clen == (long)strlen(body + 4), "Content-Length matches the body");
	ok(has(r, "# TYPE t_lat_seconds histogram\n"), "body is the rendering");
	free(r);
	r = http("GET /metrics?x=1 HTTP/1.0\n\n", 27);
	ok(status_is(r, 200), "query string and bare LF accepted");
	free(r);
	r = http("GET /other HTTP/1.0\r\n\r\n", 23);
	ok(status_is(r, 404), "other path is 404");
	free(r);
	r = http("POST /metrics HTTP/1.0\r\n\r\n", 26);
	ok(status_is(r, 405), "other method is 405");
	free(r);
	r = http("GET /metricsfoo HTTP/1.0\r\n\r\n", 28);
	ok(status_is(r, 404), "prefix of /metrics is not /metrics");
	free(r);
	r = http("\x01\x02\x03 \xff\r\n\r\n", 9);
	ok(status_is(r, 400), "binary garbage is 400");
	free(r);
	r = http("GET metrics HTTP/1.0\r\n\r\n", 24);
	ok(status_is(r, 400), "target without / is 400");
	free(r);
	r = http("GET /metrics FTP/1.0\r\n\r\n", 24);
	ok(status_is(r, 400), "bad version is 400");
	free(r);
	memset(big, 'A', sizeof(big));
	memcpy(big, "GET /", 5);
	r = http(big, sizeof(big));
	ok(status_is(r, 413), "request larger than the limit is 413");
	free(r);

	/* a slow client holds a slot but does not block other clients, and is dropped */
	slow = conn_open();
	ok(slow >= 0 && send(slow, "GET /met", 8, MSG_NOSIGNAL) == 8, "slow client connected");
	ok(metrics_ok(), "served while a slow client waits");
	r = read_all(slow);
	ok(r && r[0] == '\0', "slow client closed by the server without a response");
	free(r);
	close(slow);

	/* clients that connect and vanish, or send garbage and vanish */
	for (int i = 0; i < 40; i++) {
		fd = conn_open();
		if (i % 2 == 0 && fd >= 0) {
			char junk[300];

			for (size_t j = 0; j < sizeof(junk); j++)
				junk[j] = (char)(rand() & 0xff);
			send(fd, junk, (size_t)(rand() % (int)sizeof(junk)) + 1, MSG_NOSIGNAL);
		}
		if (fd >= 0)
			close(fd);
	}
	/* as many idle clients as slots: a scrape still gets in (an idle one is shed) */
	{
		int idle[C3_METRICS__MAX_CONNS];

		for (int i = 0; i < C3_METRICS__MAX_CONNS; i++)
			idle[i] = conn_open();
		ok(metrics_ok(), "served after idle clients time out");
		for (int i = 0; i < C3_METRICS__MAX_CONNS; i++)
			if (idle[i] >= 0)
				close(idle[i]);
	}
	ok(metrics_ok(), "server alive after garbage");

	c3_metrics_stop();
	fd = conn_open();
	ok(fd < 0, "stopped server refuses connections");
	if (fd >= 0)
		close(fd);
	c3_metrics_stop();
	ok(1, "stop twice is harmless");
	rc = c3_metrics_serve("127.0.0.1:0", &port);
	is_int(rc, 0, "serve again after stop");
	ok(rc == 0 && metrics_ok(), "restarted server answers");
	c3_metrics_stop();
}

int main(void)
{
	srand(42);
	test_registry();
	test_render();
	test_concurrency();
	test_http();
	return tap_done();
}
