# c3fs-bench-storage: one chain's throughput/IOPS vs the local file system (bench/storage.sh).
PROGRAMS += c3fs-bench-storage
c3fs-bench-storage_SRCS := bench/storage_bench.c
c3fs-bench-storage_MODS := storage
