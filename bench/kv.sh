#!/usr/bin/env bash
# bench/kv.sh — durable commits/s of small metadata-like KV transactions, 1 and 8 threads,
# on every backend (mem, lmdb, pg on a throw-away local PostgreSQL 15) and, when librocksdb
# is installed, RocksDB's OptimisticTransactionDB for comparison.  Prints a Markdown
# section.  KV_BENCH_SECONDS (default 5) per run; KV_BENCH_DIR (default /var/tmp) must be
# on the disk you want to measure (not tmpfs).
set -u
ROOT=${C3FS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${C3FS_BIN_DIR:-$ROOT/build/bin}
B=$BIN/c3fs-bench-kv
SECS=${KV_BENCH_SECONDS:-5}
[ -x "$B" ] || { echo "no $B (make O=... programs)"; exit 1; }
W=$(mktemp -d "${KV_BENCH_DIR:-/var/tmp}/c3fs-kvbench.XXXXXX")
. "$ROOT/tests/lib/pg.sh"
cleanup() { pg_stop >/dev/null 2>&1; rm -rf "$W"; }
trap cleanup EXIT

echo "Command: \`KV_BENCH_SECONDS=$SECS bench/kv.sh\` (release build; workload: one \"create\" ="
echo "2 reads + 3 writes, 9-22 byte keys, 16-64 byte values, every commit durable; each"
echo "thread in its own directory, so no conflicts).  Data in $(df -P "$W" | awk 'NR==2{print $1}') ($(stat -f -c %T "$W"))."
echo
echo "Machine: $(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%d)."
echo
first=-H
run() { "$B" $first -s "$SECS" -t "$1" "$2" || echo "| $2 | $1 | failed | | | |"; first=; }
for t in 1 8; do run $t mem:; done
for t in 1 8; do run $t "lmdb:$W/lmdb$t"; done
if ls /usr/lib/*/librocksdb.so* >/dev/null 2>&1; then
	for t in 1 8; do run $t "rocksdb:$W/rocks$t"; done
fi
if pg_start "$W/pg" >/dev/null 2>&1; then
	for t in 1 8; do run $t "pg:table=bench$t;$PG_CONNINFO"; done
else
	echo "| pg | - | PostgreSQL 15 not startable here | | | |"
fi
