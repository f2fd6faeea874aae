# c3fs-bench-kv: durable commits/s of small metadata-like KV transactions (bench/kv.sh).
PROGRAMS += c3fs-bench-kv
c3fs-bench-kv_SRCS := bench/kv_bench.c
c3fs-bench-kv_MODS := kv
