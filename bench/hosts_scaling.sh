#!/usr/bin/env bash
# bench/hosts_scaling.sh — throughput and metadata ops/s as storage hosts and meta servers
# are added, on namespace hosts (tools/netns-cluster.sh: replicated PostgreSQL, 2 mgmtd,
# 2 meta, 2 clients, N storage hosts, 3 replicas).
#
#   make BUILD=release programs && bench/run hosts_scaling      (root; ≈ 2 min per size)
#
# For each N in HOSTS (default "3 4 5 6"), after `up N` with every host's link limited to
# RATE (tbf; default 1gbit, so that the network, not the shared disk, is what is scaled;
# DELAY adds netem latency where the kernel has sch_netem):
#   - write: both clients write FILES files of SIZE MiB each at once (dd, conv=fsync),
#     aggregate MB/s = bytes written / wall time of the slower client;
#   - read: caches dropped, each client reads the other client's files;
#   - meta 2: both clients create NMETA empty files each in their own directory (ops/s
#     summed over wall time); meta 1: the same after meta2 is stopped.
# Also prints, per run, the CPU seconds of each daemon kind (from /proc/PID/stat), which
# names the resource that saturated when a figure stops growing.  Output: one markdown table.
#
# env: HOSTS, RATE, DELAY, SIZE (MiB, 64), FILES (4 per client), NMETA (500),
#      C3FS_BIN_DIR, C3FS_NS_HOME (default /var/tmp/c3fs-hosts-scaling)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, mounts, drop_caches)"; exit 1; }
HOSTS=${HOSTS:-"3 4 5 6"}
RATE=${RATE:-1gbit}
DELAY=${DELAY:-0}
SIZE=${SIZE:-64}
FILES=${FILES:-4}
NMETA=${NMETA:-500}
export C3FS_NS_HOME=${C3FS_NS_HOME:-/var/tmp/c3fs-hosts-scaling}
NC=$ROOT/tools/netns-cluster.sh
[ -e "$C3FS_NS_HOME/state" ] && { echo "a cluster is up in $C3FS_NS_HOME: $NC down first"; exit 1; }
trap '"$NC" down >/dev/null 2>&1' EXIT

now() { date +%s.%N; }
mbs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1e6 / s }'; }
ops() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# CPU seconds used so far by the daemons whose names start with $1 (pids file); for pg,
# every process of the primary's host (postmaster and backends)
cpu() {
	local hz sum=0 pid t pids
	hz=$(getconf CLK_TCK)
	if [ "$1" = pg ]; then
		pids=$(ip netns pids "$(. "$C3FS_NS_HOME/state"; echo "${NS_PREFIX}h1")")
	else
		pids=$(awk -v p="$1" 'index($1, p) == 1 { print $2 }' "$C3FS_NS_HOME/pids")
	fi
	for pid in $pids; do
		t=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
		sum=$((sum + t))
	done
	awk -v t="$sum" -v hz="$hz" 'BEGIN { printf "%.1f", t / hz }'
}

creates() { # MOUNT DIR -> background loop
	mkdir -p "$1/$2"
	for ((i = 0; i < NMETA; i++)); do : >"$1/$2/f$i" || return 1; done
}

echo "| storage hosts | write MB/s | read MB/s | creates/s (2 meta) | creates/s (1 meta) | CPU s storage / meta / pg primary |"
echo "|---|---|---|---|---|---|"
for n in $HOSTS; do
	NETEM_RATE=$RATE NETEM_DELAY=$DELAY "$NC" up "$n" >"$C3FS_NS_HOME.up.log" 2>&1 ||
		{ echo "| $n | up failed, see $C3FS_NS_HOME.up.log | | | | |"; "$NC" down >/dev/null 2>&1
		  rm -rf "$C3FS_NS_HOME"; continue; }
	M1=$C3FS_NS_HOME/mnt M2=$C3FS_NS_HOME/mnt2
	mkdir -p "$M1/c1" "$M2/c2"
	cs0=$(cpu storage) cm0=$(cpu meta) cp0=$(cpu pg)
	t0=$(now)
	( for ((f = 0; f < FILES; f++)); do dd if=/dev/zero of="$M1/c1/f$f" bs=1M count="$SIZE" conv=fsync status=none; done ) &
	a=$!
	( for ((f = 0; f < FILES; f++)); do dd if=/dev/zero of="$M2/c2/f$f" bs=1M count="$SIZE" conv=fsync status=none; done ) &
	b=$!
	wait "$a" "$b"
	w=$(mbs $((2 * FILES * SIZE << 20)) "$(awk -v a="$(now)" -v b="$t0" 'BEGIN { print a - b }')")
	echo 3 >/proc/sys/vm/drop_caches
	t0=$(now)
	( for ((f = 0; f < FILES; f++)); do cat "$M1/c2/f$f" >/dev/null; done ) &
	a=$!
	( for ((f = 0; f < FILES; f++)); do cat "$M2/c1/f$f" >/dev/null; done ) &
	b=$!
	wait "$a" "$b"
	r=$(mbs $((2 * FILES * SIZE << 20)) "$(awk -v a="$(now)" -v b="$t0" 'BEGIN { print a - b }')")
	t0=$(now)
	creates "$M1" m1a & a=$!
	creates "$M2" m2a & b=$!
	wait "$a" "$b"
	c2=$(ops $((2 * NMETA)) "$(awk -v a="$(now)" -v b="$t0" 'BEGIN { print a - b }')")
	kill -TERM "$(awk '$1 == "meta12" { print $2 }' "$C3FS_NS_HOME/pids")"
	sleep 2
	t0=$(now)
	creates "$M1" m1b & a=$!
	creates "$M2" m2b & b=$!
	wait "$a" "$b"
	c1=$(ops $((2 * NMETA)) "$(awk -v a="$(now)" -v b="$t0" 'BEGIN { print a - b }')")
	cpus="$(awk -v a="$(cpu storage)" -v b="$cs0" 'BEGIN { printf "%.1f", a - b }') / $(awk -v a="$(cpu meta)" -v b="$cm0" 'BEGIN { printf "%.1f", a - b }') / $(awk -v a="$(cpu pg)" -v b="$cp0" 'BEGIN { printf "%.1f", a - b }')"
	echo "| $n | $w | $r | $c2 | $c1 | $cpus |"
	"$NC" down >/dev/null 2>&1
	rm -rf "$C3FS_NS_HOME" # each size starts from empty disks (PostgreSQL's initdb too)
done
echo
echo "(links limited to $RATE per host, delay $DELAY; $FILES x $SIZE MiB per client; $NMETA creates per client)"
