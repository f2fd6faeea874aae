# c3fs-bench-meta: create/stat/rename/unlink ops/s against a running c3fs-meta (bench/meta.sh).
PROGRAMS += c3fs-bench-meta
c3fs-bench-meta_SRCS := bench/meta_bench.c
c3fs-bench-meta_MODS := meta
