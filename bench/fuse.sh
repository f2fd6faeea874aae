#!/usr/bin/env bash
# bench/fuse.sh — fio and metadata jobs on a c3fs FUSE mount, beside the local file system.
#
#   make BUILD=release programs && bench/run fuse
#   (or directly: C3FS_BIN_DIR=build/bin bench/fuse.sh)
#
# Starts a local cluster with tests/lib/cluster.sh (1 mgmtd, 1 meta on LMDB, 3 storage
# nodes x 2 targets, chain table of 3 replicas, chunk 1 MiB, stripe 2), mounts c3fs-fuse,
# and runs ../shared/peers/fsbench.sh (the shared job set: sequential write/read in
# 1 MiB blocks with 1 and 4 jobs, 4 KiB random reads with 1 and 4 jobs, create/stat/unlink
# of 10,000 files) on the local file system and on the mount.  Prints a markdown section.
# SIZE (default 1G) and RT (default 10 s) are passed to fsbench.sh.
set -u
C3FS_ROOT=${C3FS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
export C3FS_BIN_DIR=${C3FS_BIN_DIR:-$C3FS_ROOT/build/bin}
FSBENCH=${FSBENCH:-$(cd "$(dirname "$0")/../.." && pwd)/shared/peers/fsbench.sh}
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
BIN=$C3FS_BIN_DIR
[ -x "$FSBENCH" ] || { echo "fsbench.sh not found at $FSBENCH"; exit 1; }
command -v fio >/dev/null || { echo "fio missing"; exit 1; }
t_init
c_start 3 2 3 >/dev/null || { echo "cluster did not start (logs: $T)"; T_FAILED=1; exit 1; }
c_mount "$T/mnt" || { T_FAILED=1; exit 1; }

echo "Command: \`make BUILD=release programs && bench/run fuse\` (SIZE=${SIZE:-1G}, RT=${RT:-10}s)."
echo "Cluster on this host: 1 mgmtd, 1 meta (LMDB), 3 storage nodes x 2 targets, 3 replicas,"
echo "chunk 1 MiB, stripe 2; release build; $(nproc) cores."
echo
echo "| system | seq write MiB/s (1 / 4 jobs) | seq read MiB/s (1 / 4 jobs) | 4K rand read IOPS (1 / 4 jobs) | create / stat / unlink per s |"
echo "|---|---|---|---|---|"
mkdir -p "$T/local"
"$FSBENCH" "$T/local" "local $(stat -f -c %T "$T/local"), no replication" |
	awk -F'|' 'NF > 8 { printf "|%s| %s / %s | %s / %s | %s / %s |%s/%s/%s|\n", $2, $3, $5, $4, $6, $7, $8, $9, $10, $11; next } { print }'
"$FSBENCH" "$T/mnt" "c3fs-fuse, 3 replicas" |
	awk -F'|' 'NF > 8 { printf "|%s| %s / %s | %s / %s | %s / %s |%s/%s/%s|\n", $2, $3, $5, $4, $6, $7, $8, $9, $10, $11; next } { print }'
c_umount "$T/mnt" >/dev/null
