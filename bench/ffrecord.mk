# c3fs-bench-ffrecord: random batches of FFRecord samples vs small files (bench/ffrecord.sh).
PROGRAMS += c3fs-bench-ffrecord
c3fs-bench-ffrecord_SRCS := bench/ffrecord_bench.c
c3fs-bench-ffrecord_MODS := ffrecord
