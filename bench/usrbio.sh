#!/usr/bin/env bash
# bench/usrbio.sh — issue 10's benchmark: USRBIO against fio on the FUSE mount, same file.
#
#   make BUILD=release programs && bench/run usrbio          (root; a quiet machine)
#
# Starts a local cluster with tests/lib/cluster.sh (1 mgmtd, 1 meta, 3 storage nodes x 2
# targets, 3 replicas), mounts c3fs-fuse, writes one file of USRBIO_SIZE (default 1 GiB)
# through the mount, then, with the page cache dropped before each run (cold storage
# caches): 1 MiB sequential and 4 KiB random reads through USRBIO (c3fs-bench-usrbio,
# io_depth 32 and 128, 1 and 4 rings) and through fio on the mount (1 and 4 jobs; 4 KiB
# random with psync QD1 and libaio QD32), plus loopback TCP (iperf3) as the ceiling.
# USRBIO_SECS (default 10) seconds per run.  Prints a markdown table.
set -u
C3FS_ROOT=${C3FS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
export C3FS_BIN_DIR=${C3FS_BIN_DIR:-$C3FS_ROOT/build/bin}
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
BIN=$C3FS_BIN_DIR
B=$BIN/c3fs-bench-usrbio
[ -x "$B" ] || { echo "no $B (make BUILD=release programs)"; exit 1; }
command -v fio >/dev/null || { echo "fio missing"; exit 1; }
SIZE=${USRBIO_SIZE:-1G}
SECS=${USRBIO_SECS:-10}
t_init
c_start 3 2 3 >/dev/null || { echo "cluster did not start (logs: $T)"; T_FAILED=1; exit 1; }
c_mount "$T/mnt" || { T_FAILED=1; exit 1; }
F=$T/mnt/usrbio.dat
fio --name=fill --filename="$F" --rw=write --bs=1M --size="$SIZE" --end_fsync=1 \
	--output=/dev/null || { echo "could not write $F"; T_FAILED=1; exit 1; }

drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; }
ub() { # MODE BS DEPTH THREADS -> "MiB/s IOPS p50 p99"
	drop
	"$B" --file "$F" --mode "$1" --bs "$2" --batch "$3" --depth 0 --threads "$4" \
		--seconds "$SECS" --json 2>/dev/null |
		python3 -c 'import json,sys; d=json.load(sys.stdin); l=d.get("lat_us",{}); print("%.0f %.0f %s %s" % (d.get("mib_s",0), d.get("iops",0), l.get("p50","-"), l.get("p99","-")))'
}
fi_() { # RW BS JOBS ENGINE QD -> "MiB/s IOPS"
	drop
	fio --name=j --filename="$F" --rw="$1" --bs="$2" --numjobs="$3" --group_reporting \
		--ioengine="$4" --iodepth="$5" --direct=$([ "$2" = 4k ] && echo 1 || echo 0) \
		--runtime="$SECS" --time_based --output-format=json 2>/dev/null |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["jobs"][0]["read"]; print("%.0f %.0f" % (r["bw_bytes"]/1048576, r["iops"]))'
}

echo "Command: \`make BUILD=release programs && bench/run usrbio\` (file $SIZE written through"
echo "the mount, ${SECS}s per run, page cache dropped before each run; load average before:"
echo "$(cut -d' ' -f1-3 /proc/loadavg))."
echo
echo "| path | job | MiB/s | IOPS | p50 / p99 µs |"
echo "|---|---|---|---|---|"
for d in 32 128; do
	for t in 1 4; do
		read -r m i p50 p99 <<<"$(ub seq-read 1048576 $d $t)"
		echo "| USRBIO | 1 MiB seq read, batch $d, $t ring(s) | $m | $i | $p50 / $p99 |"
	done
done
for d in 32 128; do
	for t in 1 4; do
		read -r m i p50 p99 <<<"$(ub rand-read 4096 $d $t)"
		echo "| USRBIO | 4 KiB random read, batch $d, $t ring(s) | $m | $i | $p50 / $p99 |"
	done
done
for j in 1 4; do
	read -r m i <<<"$(fi_ read 1M $j psync 1)"
	echo "| FUSE (fio) | 1 MiB seq read, $j job(s) | $m | $i | |"
done
read -r m i <<<"$(fi_ randread 4k 1 psync 1)"
echo "| FUSE (fio) | 4 KiB random read O_DIRECT, QD1, 1 job | $m | $i | |"
read -r m i <<<"$(fi_ randread 4k 1 libaio 32)"
echo "| FUSE (fio) | 4 KiB random read O_DIRECT, libaio QD32, 1 job | $m | $i | |"
if command -v iperf3 >/dev/null; then
	port=$(t_free_port)
	iperf3 -s -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
	ip=$!
	sleep 1
	g=$(timeout 30 iperf3 -c 127.0.0.1 -p "$port" -t 5 -J 2>/dev/null |
		python3 -c 'import json,sys; print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/8/1048576))')
	kill "$ip" 2>/dev/null; wait "$ip" 2>/dev/null
	echo "| loopback TCP (iperf3, 1 stream) | ceiling | $g | | |"
fi
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
c_umount "$T/mnt" >/dev/null
