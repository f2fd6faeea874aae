/* metrics.h — process-wide counters, gauges and latency histograms, exported in the
 * Prometheus text format over HTTP (GET /metrics).
 *
 * Metrics are created once (typically at startup) and live until process exit; the
 * returned pointers never dangle.  Updates are lock-free atomics, cheap enough for hot
 * paths.  Names follow Prometheus rules ("c3fs_storage_write_bytes_total"); an optional
 * label string is printed verbatim inside braces ("target=\"3\"").  Creating the same
 * name+labels twice returns the same metric.
 */
#ifndef C3_METRICS_H
#define C3_METRICS_H

#include <stdint.h>

#include "common/buf.h"
#include "common/http.h"

struct c3_counter;
struct c3_gauge;
struct c3_hist;

/* NULL only on allocation failure (updates on NULL are ignored, so callers need not check). */
struct c3_counter *c3_counter_get(const char *name, const char *labels, const char *help);
struct c3_gauge *c3_gauge_get(const char *name, const char *labels, const char *help);
/* Latency histogram with fixed buckets from 1 us to ~60 s (exported in seconds). */
struct c3_hist *c3_hist_get(const char *name, const char *labels, const char *help);

void c3_counter_add(struct c3_counter *c, uint64_t n);
void c3_gauge_set(struct c3_gauge *g, int64_t v);
void c3_gauge_add(struct c3_gauge *g, int64_t delta);
void c3_hist_observe_ns(struct c3_hist *h, uint64_t ns);

/* A callback that sets gauges right before each scrape (e.g. free space). */
typedef void (*c3_metrics_collect_fn)(void *arg);
void c3_metrics_on_collect(c3_metrics_collect_fn fn, void *arg);

/* Render every metric in Prometheus text format. */
void c3_metrics_render(struct c3_buf *out);

/* Serve GET /metrics on "ip:port" from a background thread (a common/http.h server; port
 * 0 = pick one; the bound port is returned through *port_out when non-NULL).  Returns 0,
 * -EALREADY when already serving, -EINVAL for a bad address or -errno. */
int c3_metrics_serve(const char *listen, int *port_out);
/* Stop serving (routes added below are dropped with the server).  Harmless when not
 * serving.  Not from a handler or a collect callback (it waits for the server thread). */
void c3_metrics_stop(void);

/* Serve more paths on the metrics endpoint (c3_http_route_add semantics); -ENOTCONN when
 * not serving.  Remove before freeing arg, unless the server was stopped first. */
int c3_metrics_route_add(const char *path, c3_http_handler_fn fn, void *arg);
void c3_metrics_route_remove(const char *path);

#endif
