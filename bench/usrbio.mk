# c3fs-bench-usrbio: USRBIO throughput/latency against a mounted c3fs (bench/usrbio_bench.c).
PROGRAMS += c3fs-bench-usrbio
c3fs-bench-usrbio_SRCS := bench/usrbio_bench.c
c3fs-bench-usrbio_MODS := usrbio
