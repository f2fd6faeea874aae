# c3fs-bench-storage: one chain's throughput/IOPS vs the local file system (bench/storage.sh).
PROGRAMS += c3fs-bench-storage
c3fs-bench-storage_SRCS := bench/storage_bench.c
c3fs-bench-storage_MODS := storage

# c3fs-bench-storage-meta: the chunk-metadata workload on LMDB vs RocksDB (only where the
# RocksDB C headers are installed; the storage module itself does not use RocksDB).
ifneq ($(wildcard /usr/include/rocksdb/c.h),)
PROGRAMS += c3fs-bench-storage-meta
c3fs-bench-storage-meta_SRCS := bench/storage_meta.c
c3fs-bench-storage-meta_MODS := storage_rocks_bench
MODULES += storage_rocks_bench
storage_rocks_bench_SRCS :=
storage_rocks_bench_DEPS := common
storage_rocks_bench_PKGS := lmdb
storage_rocks_bench_LIBS := -lrocksdb
endif
