# c3fs-bench-mgmtd: heartbeat throughput/latency and routing fetch cost (bench/mgmtd.sh).
PROGRAMS += c3fs-bench-mgmtd
c3fs-bench-mgmtd_SRCS := bench/mgmtd_bench.c
c3fs-bench-mgmtd_MODS := cluster net common
