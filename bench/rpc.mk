# c3fs-bench-rpc: the RPC layer next to a plain blocking TCP socket (bench/rpc.sh).
PROGRAMS += c3fs-bench-rpc
c3fs-bench-rpc_SRCS := bench/rpc_bench.c
c3fs-bench-rpc_MODS := net
