#!/usr/bin/env bash
# bench/rpc.sh — the RPC layer next to a plain blocking TCP socket doing the same exchanges
# over loopback (bench/rpc_bench.c).  Prints a Markdown section: the command, then the table.
# RPC_BENCH_SECONDS (default 1) per measurement, RPC_BENCH_REPS (default 5) interleaved
# repetitions; the median is shown.
set -u
ROOT=${C3FS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${C3FS_BIN_DIR:-$ROOT/build/bin}
B=$BIN/c3fs-bench-rpc
SECS=${RPC_BENCH_SECONDS:-1}
REPS=${RPC_BENCH_REPS:-5}
[ -x "$B" ] || { echo "no $B (make programs)"; exit 1; }
echo "Command: \`RPC_BENCH_SECONDS=$SECS RPC_BENCH_REPS=$REPS bench/rpc.sh\` (release build;"
echo "runs \`c3fs-bench-rpc --seconds $SECS --reps $REPS\`)."
echo "Host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start."
echo
"$B" --seconds "$SECS" --reps "$REPS"
