# c3fs-bench-metrics: cost of metric updates, rendering, a scrape, and a config load.
PROGRAMS += c3fs-bench-metrics
c3fs-bench-metrics_SRCS := bench/bench_metrics.c
c3fs-bench-metrics_MODS := common
