#!/usr/bin/env bash
# bench/recovery.sh — issue 12's benchmark rows: time to full redundancy after a node's
# disk is replaced and the recovery throughput per syncing target, and the foreground
# sequential write rate alone, during that recovery and during a scrub pass.
#
#   make BUILD=release programs && bench/run recovery
#
# A local cluster (tests/lib/cluster.sh: 3 storage nodes x 1 target, one chain of 3
# replicas, 1 MiB chunks) mounted through c3fs-fuse.  DATA (default 1G) is written, node 2
# is stopped, its target directory emptied (a new disk) and the node started: the seconds
# until every target serves again, and DATA / seconds, are the recovery figures (progress
# from `c3fs-admin list-targets`).  The foreground write is a 512 MiB dd (conv=fsync) of
# a new file: alone, while a refill runs (the disk replaced again), and while a scrub pass
# runs (storage.scrub_rate unlimited, started with `c3fs-admin scrub`).  One run of each;
# bench/run's caller repeats the whole for a median.
set -u
C3FS_ROOT=${C3FS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
export C3FS_BIN_DIR=${C3FS_BIN_DIR:-$C3FS_ROOT/build/bin}
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
BIN=$C3FS_BIN_DIR
command -v jq >/dev/null || { echo "jq missing"; exit 1; }
DATA=${DATA:-1G}
t_init
C_CHUNK_SIZE=1M C_STRIPE=1
C_STORAGE_ARGS=(--set storage.scrub_rate=0 --set storage.scrub_interval=0)
c_start 3 1 3 >/dev/null || { echo "cluster did not start (logs: $T)"; T_FAILED=1; exit 1; }
M=$T/mnt
c_mount "$M" --set cluster.write_wait=300s >/dev/null || { T_FAILED=1; exit 1; }
A=(timeout 30 "$BIN/c3fs-admin" --mgmtd "$C_MGMTD" --token "$C_TOKEN" --admin-token "$C_ADMIN_TOKEN")
serving() { "${A[@]}" --json list-targets | jq '[.targets[] | select(.state=="serving")] | length'; }
now() { date +%s.%N; }
mibps() { python3 -c "print(round($1 / 1048576 / ($3 - $2), 1))"; }
bytes_of() { numfmt --from=iec "$1"; }

mkdir -p "$M/d"
dd if=/dev/urandom of="$T/src" bs=1M count=64 status=none
n=$(( $(bytes_of "$DATA") / (64 << 20) ))
for ((i = 0; i < n; i++)); do cp "$T/src" "$M/d/f$i"; done
sync
total=$((n * 64 << 20))

replace_disk() { # stop node 2, empty its target, start it
	c_kill_storage 2 TERM
	t_wait_for 60 '[ "$(serving)" != 3 ]'
	rm -rf "$C_TARGET_ROOT/s2/t1"
	mkdir -m 0700 "$C_TARGET_ROOT/s2/t1"
	c_start_storage 2 >/dev/null
}
fg_write() { # NAME: seconds of a 512 MiB write + fsync through the mount -> MiB/s
	local t0 t1
	t0=$(now)
	dd if=/dev/zero of="$M/$1" bs=1M count=512 conv=fsync status=none
	t1=$(now)
	rm -f "$M/$1"
	mibps $((512 << 20)) "$t0" "$t1"
}

echo "Command: \`make BUILD=release programs && bench/run recovery\` (DATA=$DATA; one chain of"
echo "3 replicas over 3 storage nodes, 1 MiB chunks, release build, $(nproc) cores)."
echo
alone=$(fg_write alone)

replace_disk
t0=$(now)
t_wait_for 900 '[ "$(serving)" = 3 ]' || { echo "recovery did not finish"; exit 1; }
t1=$(now)
secs=$(python3 -c "print(round($t1 - $t0, 1))")
rate=$(mibps "$total" "$t0" "$t1")

replace_disk
sleep 1
during_sync=$(fg_write during_sync)
t_wait_for 900 '[ "$(serving)" = 3 ]'

"${A[@]}" scrub 101 >/dev/null 2>&1
"${A[@]}" scrub 201 >/dev/null 2>&1
"${A[@]}" scrub 301 >/dev/null 2>&1
during_scrub=$(fg_write during_scrub)

echo "| figure | value |"
echo "|---|---|"
echo "| data on the replaced disk | $((total >> 20)) MiB |"
echo "| time to full redundancy after the disk swap (node start -> every target serving) | $secs s |"
echo "| recovery throughput of the syncing target | $rate MiB/s |"
echo "| foreground sequential write (512 MiB + fsync), alone | $alone MiB/s |"
echo "| the same write while a replaced disk is refilled | $during_sync MiB/s |"
echo "| the same write while all three targets scrub (rate unlimited) | $during_scrub MiB/s |"
