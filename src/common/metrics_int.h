/* metrics_int.h — knobs of metrics.c for tests; not part of the metrics.h contract. */
#ifndef C3_METRICS_INT_H
#define C3_METRICS_INT_H

#include <stdint.h>

#include "common/http.h"

/* Number of finite histogram buckets (1 us .. 60 s, 1-2-5 steps); +Inf comes after. */
#define C3_METRICS__HIST_NBUCKETS 25

/* Upper bound in nanoseconds of finite bucket i (0 <= i < C3_METRICS__HIST_NBUCKETS). */
uint64_t c3_metrics__hist_bound_ns(int i);

/* Total time an HTTP client gets from accept to the end of the response (default 5000 ms).
 * Read by the server thread for each new connection; set it before c3_metrics_serve(). */
void c3_metrics__set_timeout_ms(uint64_t ms);

/* Largest request accepted (headers included), in bytes; larger ones get 413. */
#define C3_METRICS__REQ_MAX C3_HTTP_REQ_MAX
/* Connections served at once; a new one takes the slot of the oldest idle one. */
#define C3_METRICS__MAX_CONNS C3_HTTP_MAX_CONNS

#endif
