#!/usr/bin/env bash
# bench/kv.sh — durable commits/s of small metadata-like KV transactions, 1 and 8 threads
# (lmdb: 1, 4 and 8, in both sync modes), on every backend (mem, lmdb, lmdb?sync=wal, pg on
# a throw-away local PostgreSQL 15) and, when librocksdb
# is installed, RocksDB's OptimisticTransactionDB for comparison.  Prints a Markdown
# section.  Each configuration runs KV_BENCH_REPS times (default 3, interleaved, so load
# from other processes spreads over all of them) for KV_BENCH_SECONDS each (default 4);
# the row with the median commits/s is shown.  KV_BENCH_DIR (default /var/tmp) must be on
# the disk you want to measure (not tmpfs).
set -u
ROOT=${C3FS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${C3FS_BIN_DIR:-$ROOT/build/bin}
B=$BIN/c3fs-bench-kv
SECS=${KV_BENCH_SECONDS:-4}
REPS=${KV_BENCH_REPS:-3}
[ -x "$B" ] || { echo "no $B (make O=... programs)"; exit 1; }
W=$(mktemp -d "${KV_BENCH_DIR:-/var/tmp}/c3fs-kvbench.XXXXXX")
. "$ROOT/tests/lib/pg.sh"
cleanup() { pg_stop >/dev/null 2>&1; rm -rf "$W"; }
trap cleanup EXIT

configs=()
for t in 1 8; do configs+=("mem:|$t"); done
for t in 1 4 8; do configs+=("lmdb:$W/lmdb$t|$t"); done
for t in 1 4 8; do configs+=("lmdb:$W/wal$t?sync=wal|$t"); done
if ls /usr/lib/*/librocksdb.so* >/dev/null 2>&1; then
	for t in 1 8; do configs+=("rocksdb:$W/rocks$t|$t"); done
fi
pg_note=
if pg_start "$W/pg" >/dev/null 2>&1; then
	for t in 1 8; do configs+=("pg:table=bench$t;$PG_CONNINFO|$t"); done
else
	pg_note="(pg skipped: PostgreSQL 15 not startable here)"
fi

echo "Command: \`KV_BENCH_SECONDS=$SECS KV_BENCH_REPS=$REPS bench/kv.sh\` (release build)."
echo "Workload: one transaction = a \"create\": 2 reads + 3 writes, 9-26 byte keys, 16-64"
echo "byte values, every commit durable; each thread in its own directory (no conflicts)."
echo "Data on $(df -P "$W" | awk 'NR==2{print $1}'); $(nproc) CPUs; load average before:"
echo "$(cut -d' ' -f1-3 /proc/loadavg); median of $REPS runs. $pg_note"
echo
for ((r = 0; r < REPS; r++)); do
	for i in "${!configs[@]}"; do
		uri=${configs[$i]%|*} t=${configs[$i]##*|}
		row=$("$B" -s "$SECS" -t "$t" "$uri" 2>/dev/null) || row="| ${uri%%:*} | $t | 0 | - | - | failed |"
		echo "$row" >>"$W/rows.$i"
	done
done
echo "| store | threads | commits/s | p50 ms | p99 ms | errors | all runs (commits/s) |"
echo "|---|---:|---:|---:|---:|---:|---|"
for i in "${!configs[@]}"; do
	sorted=$(sort -t'|' -k4,4n "$W/rows.$i")
	med=$(echo "$sorted" | sed -n "$(( (REPS + 1) / 2 ))p")
	all=$(awk -F'|' '{gsub(/ /,"",$4); printf "%s%s", (NR>1?", ":""), $4}' "$W/rows.$i")
	echo "$med $all |"
done
echo
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)."
