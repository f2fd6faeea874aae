#!/usr/bin/env bash
# bench/data_cpu.sh — CPU per GiB of every data row of ../shared/peers/peers.sh on c3fs.
#
#   bench/data_cpu.sh                      # a fresh local cluster (release build)
#   C3FS_HOME=... C3FS_MOUNT=... bench/data_cpu.sh   # or one already running
#
# Runs the peers' fio jobs (the same options: 1 MiB sequential write and read with 1 and
# 4 jobs, 4 KiB O_DIRECT random reads at QD1 with 1 and 4 jobs and libaio QD32) on the
# mount, each under bench/cpu_per_gib.sh with the page cache dropped first, and prints one
# table: MiB/s or IOPS and CPU-seconds per GiB moved for the client (c3fs-fuse) and the
# servers (storage, meta, mgmtd), so that a gain that only moves cost to another process
# shows.  RT (default 15) seconds per timed job.  Run it alone on the machine.
set -u
cd "$(dirname "$0")/.."
RT=${RT:-15}
BIN=${C3FS_BIN_DIR:-$PWD/build/bin}
own=0
if [ -z "${C3FS_HOME:-}" ]; then
	own=1
	export C3FS_HOME=$(mktemp -d /tmp/c3fs-datacpu.XXXXXX)
	export C3FS_MOUNT=$C3FS_HOME/mnt C3FS_BASE_PORT=${C3FS_BASE_PORT:-28700} C3FS_BIN=$BIN
	(umask 077; tools/local-cluster.sh start > "$C3FS_HOME/start.log" 2>&1) ||
		{ echo "data_cpu: cluster did not start (see $C3FS_HOME/start.log)"; exit 1; }
fi
M=${C3FS_MOUNT:?C3FS_MOUNT}
W=$M/data-cpu
stop() { [ $own = 1 ] && tools/local-cluster.sh stop > /dev/null 2>&1 && rm -rf "$C3FS_HOME"; }
trap stop EXIT
rm -rf "$W"; mkdir -p "$W" || exit 1
out=$(mktemp)

job() { # NAME UNIT FIO-ARGS...
	local name=$1 unit=$2; shift 2
	sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null
	CPU_PER_GIB_OUT=$out.json bench/cpu_per_gib.sh -H "$C3FS_HOME" -- \
		fio --output-format=json --directory="$W" --fallocate=none --name="$name" "$@" \
		> "$out.tab" 2>/dev/null || { echo "| $name | failed | | |"; return; }
	python3 - "$name" "$unit" "$out.json" "$out.tab" <<'PY'
import json, re, sys
name, unit, js, tab = sys.argv[1:5]
text = open(js).read()
d = json.loads(text[text.index("{"):])
j = d["jobs"]
bw = sum(x["read"]["bw_bytes"] + x["write"]["bw_bytes"] for x in j) / 2**20
iops = sum(x["read"]["iops"] + x["write"]["iops"] for x in j)
rate = f"{bw:,.0f} MiB/s" if unit == "bw" else f"{iops:,.0f} IOPS"
cpu = {}
for line in open(tab):
    m = re.match(r"\| \*\*(\w+)\*\* \| [\d.]+ \| ([\d.]+) \|", line)
    if m:
        cpu[m.group(1)] = m.group(2)
print(f"| {name} | {rate} | {cpu.get('client', '?')} | {cpu.get('servers', '?')} |")
PY
}

echo "| job | rate | client CPU s / GiB | servers CPU s / GiB |"
echo "|---|---|---|---|"
seq=(--rw=write --bs=1M --ioengine=psync --end_fsync=1)
rd=(--rw=read --bs=1M --ioengine=psync)
rr=(--rw=randread --bs=4k --direct=1 --time_based --runtime="$RT" --norandommap --filename=seq1.0)
job seqw1 bw "${seq[@]}" --size=1G --numjobs=1 --filename_format='seq1.$jobnum'
job seqr1 bw "${rd[@]}" --runtime="$RT" --numjobs=1 --filename_format='seq1.$jobnum'
job seqw4 bw "${seq[@]}" --size=256M --numjobs=4 --group_reporting --filename_format='seq4.$jobnum'
job seqr4 bw "${rd[@]}" --runtime="$RT" --numjobs=4 --group_reporting --filename_format='seq4.$jobnum'
job rr_qd1_j1 iops "${rr[@]}" --ioengine=psync --iodepth=1 --numjobs=1
job rr_qd1_j4 iops "${rr[@]}" --ioengine=psync --iodepth=1 --numjobs=4 --group_reporting
job rr_qd32_j1 iops "${rr[@]}" --ioengine=libaio --iodepth=32 --numjobs=1
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$W" "$out" "$out.json" "$out.tab"
