/* bench_metrics.c — c3fs-bench-metrics: what metrics and config cost.
 *
 * Prints a Markdown table: ns per counter add / histogram observation with 1 and 2
 * threads on one metric (the contended case is the worst case of a hot path), time to
 * render 1000 series, one HTTP scrape over 127.0.0.1, and one 200-key config load.
 * Results are wall-clock means; run on an idle machine.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/metrics.h"

#define UPDATES 20000000

static struct c3_counter *bc;
static struct c3_hist *bh;

static void *bench_counter(void *arg)
{
	for (long i = 0; i < UPDATES; i++)
		c3_counter_add(bc, 1);
	return arg;
}

static void *bench_hist(void *arg)
{
	for (long i = 0; i < UPDATES; i++)
		c3_hist_observe_ns(bh, (uint64_t)(i & 0xfffff) * 64);
	return arg;
}

/* Mean ns per update of fn run by nthreads threads at once. */
static double bench_threads(void *(*fn)(void *), int nthreads)
{
	pthread_t th[8];
	uint64_t t0 = c3_now_ns();

	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, fn, NULL);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	return (double)(c3_now_ns() - t0) / UPDATES;
}

static int bench_scrape(int port, size_t *bytes)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	struct sockaddr_in a;
	char buf[65536];
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    send(fd, req, sizeof(req) - 1, 0) != (ssize_t)(sizeof(req) - 1)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*bytes = 0;
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		*bytes += (size_t)n;
	close(fd);
	return n == 0 ? 0 : -1;
}

#define NKEYS 200

int main(void)
{
	static struct c3_cfg_key keys[NKEYS];
	static char names[NKEYS][16];
	static int64_t values[NKEYS];
	struct c3_cfg_table tab = { "bench", keys, NKEYS };
	struct c3_buf text = C3_BUF_INIT, out = C3_BUF_INIT;
	char err[C3_CFG_ERRLEN], name[64];
	uint64_t t0;
	size_t bytes = 0;
	int port, rounds;

	bc = c3_counter_get("bench_ops_total", NULL, "Benchmark counter.");
	bh = c3_hist_get("bench_latency_seconds", NULL, "Benchmark histogram.");
	printf("Command: `make && build/bin/c3fs-bench-metrics` (%d updates per thread)\n\n", UPDATES);
	printf("| operation | result |\n|---|---|\n");
	printf("| counter add, 1 thread | %.1f ns |\n", bench_threads(bench_counter, 1));
	printf("| counter add, 2 threads, same counter | %.1f ns wall per add per thread |\n",
	       bench_threads(bench_counter, 2));
	printf("| histogram observe, 1 thread | %.1f ns |\n", bench_threads(bench_hist, 1));
	printf("| histogram observe, 2 threads, same histogram | %.1f ns wall per observation per thread |\n",
	       bench_threads(bench_hist, 2));

	for (int i = 0; i < 900; i++) {
		snprintf(name, sizeof(name), "target=\"%d\"", i);
		c3_counter_add(c3_counter_get("bench_series_total", name, "Many series."), (uint64_t)i);
	}
	for (int i = 0; i < 98; i++) {
		snprintf(name, sizeof(name), "op=\"%d\"", i);
		c3_hist_observe_ns(c3_hist_get("bench_op_seconds", name, "Many histograms."), 12345);
	}
	rounds = 200;
	t0 = c3_now_ns();
	for (int i = 0; i < rounds; i++) {
		c3_buf_reset(&out);
		c3_metrics_render(&out);
	}
	printf("| render 1000 metrics (99 of them histograms, %zu bytes) | %.2f ms |\n", out.len,
	       (double)(c3_now_ns() - t0) / rounds / 1e6);
	if (c3_metrics_serve("127.0.0.1:0", &port) == 0) {
		rounds = 100;
		t0 = c3_now_ns();
		for (int i = 0; i < rounds; i++)
			if (bench_scrape(port, &bytes) != 0)
				break;
		printf("| HTTP GET /metrics over 127.0.0.1 (%zu bytes) | %.2f ms |\n", bytes,
		       (double)(c3_now_ns() - t0) / rounds / 1e6);
		c3_metrics_stop();
	}

	for (int i = 0; i < NKEYS; i++) {
		snprintf(names[i], sizeof(names[i]), "key%d", i);
		keys[i] = (struct c3_cfg_key){ i < NKEYS / 2 ? "first" : "second", names[i],
					       C3_CFG_INT, (size_t)i * sizeof(int64_t), "1", 0,
					       1000000, "", false, "A key." };
		if (i % (NKEYS / 2) == 0)
			c3_buf_printf(&text, "[%s]\n", keys[i].section);
		c3_buf_printf(&text, "%s = %d ; comment\n", names[i], i * 7);
	}
	c3_buf_append(&text, "", 1);
	c3_cfg_defaults(&tab, values, err, sizeof(err));
	rounds = 2000;
	t0 = c3_now_ns();
	for (int i = 0; i < rounds; i++)
		if (c3_cfg_load_string(&tab, values, "bench.ini", (char *)text.data, err, sizeof(err)) != 0) {
			fprintf(stderr, "config load failed: %s\n", err);
			return 1;
		}
	printf("| config load, %d keys (%zu bytes) | %.1f us |\n", NKEYS, text.len - 1,
	       (double)(c3_now_ns() - t0) / rounds / 1e3);
	c3_buf_release(&text);
	c3_buf_release(&out);
	return 0;
}
