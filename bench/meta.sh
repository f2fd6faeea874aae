#!/usr/bin/env bash
# bench/meta.sh — metadata ops/s over RPC (create, stat, rename, unlink) against a real
# c3fs-meta, with 1 and 8 concurrent clients (each in its own directory, and 8 clients in
# one shared directory), on lmdb and on PostgreSQL 15 (a throw-away local server, fsync
# and synchronous_commit on).  Every commit is durable before the
# reply.  Prints a Markdown section.  META_BENCH_FILES (default 2000) files per client;
# META_BENCH_DIR (default /var/tmp) must be on the disk you want to measure.
set -u
ROOT=${C3FS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${C3FS_BIN_DIR:-$ROOT/build/bin}
N=${META_BENCH_FILES:-2000}
for p in c3fs-meta c3fs-bench-meta; do
	[ -x "$BIN/$p" ] || { echo "no $BIN/$p (make O=... programs)"; exit 1; }
done
W=$(mktemp -d "${META_BENCH_DIR:-/var/tmp}/c3fs-metabench.XXXXXX")
. "$ROOT/tests/lib/pg.sh"
MPID=
stop_meta() { [ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null; MPID=; }
cleanup() { stop_meta; pg_stop >/dev/null 2>&1; rm -rf "$W"; }
trap cleanup EXIT

start_meta() { # kv uri -> sets ADDR
	"$BIN/c3fs-meta" --set kv.uri="$1" --set server.listen=127.0.0.1:0 \
		--set log.level=warn >"$W/meta.out" 2>"$W/meta.err" &
	MPID=$!
	for _ in $(seq 100); do
		ADDR=$(sed -n 's/^listening //p' "$W/meta.out")
		[ -n "$ADDR" ] && return 0
		sleep 0.1
	done
	echo "c3fs-meta did not start: $(tail -3 "$W/meta.err")"
	return 1
}

echo "Command: \`META_BENCH_FILES=$N bench/meta.sh\` (release build; each client creates,"
echo "stats, renames and unlinks $N files in its own directory (\"one shared dir\": all"
echo "clients in one directory), one RPC and one durable KV transaction per op; client and"
echo "server on this machine over loopback TCP)."
echo "Data in $(df -P "$W" | awk 'NR==2{print $1}') ($(stat -f -c %T "$W")).  Machine: $(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%d)."
echo
first=-H
mode() { # 1 | 8 | 8s -> n, sh (bench flag), lbl
	n=${1%s}; sh=; lbl=
	if [ "$1" != "$n" ]; then sh=-s; lbl=" (one shared dir)"; fi
}
for t in 1 8 8s; do
	mode $t
	if start_meta "lmdb:$W/lmdb$t?sync=wal"; then
		"$BIN/c3fs-bench-meta" $first -a "$ADDR" -t "$n" -n "$N" $sh -l "lmdb$lbl" || true
		first=
	fi
	stop_meta
done
if pg_start "$W/pg" >/dev/null 2>&1; then
	for t in 1 8 8s; do
		mode $t
		if start_meta "pg:table=metabench$t;$PG_CONNINFO"; then
			"$BIN/c3fs-bench-meta" $first -a "$ADDR" -t "$n" -n "$N" $sh -l "pg$lbl" || true
			first=
		fi
		stop_meta
	done
else
	echo "| pg | - | PostgreSQL 15 not startable here | | | |"
fi
