#!/usr/bin/env bash
# bench/data_peers.sh — the data rows of ../shared/peers/peers.sh beside MooseFS and libfuse's
# passthrough_ll, in one run, ROUNDS times each (the median is printed).
#
#   make BUILD=release programs && bench/run data_peers      (root; ≈ 12 min; a quiet machine)
#
# Sets up, in turn, MooseFS 3.0 goal 3 and passthrough_ll over ext4 with the functions of
# ../shared/peers/peers.sh (MooseFS in its own private network namespace), and a local c3fs
# cluster (tools/local-cluster.sh: mgmtd, meta on LMDB, 3 storage nodes x 2 targets, 3
# replicas, durable commits) on its own home and ports, and runs on each mount peers.sh's own
# fio jobs with its own options (fio_once: caches dropped first, whole-machine CPU recorded):
# 1 MiB sequential write (end_fsync) and read with 1 and 4 jobs; 4 KiB O_DIRECT random read,
# psync QD1 with 1 and 4 jobs, libaio QD32 with 1 job.  RT (default 10) seconds per timed job.
# Prints a markdown table with c3fs ÷ MooseFS and c3fs ÷ passthrough_ll and keeps the raw
# fio JSON under $OUT (default /var/tmp/c3fs-data-peers).
#
# env: ROUNDS (3), RT (10), SYSTEMS ("moosefs passthrough c3fs"), C3FS_STORAGE_EXTRA (more
# [storage] keys for c3fs, e.g. "direct_read=true"), OUT, C3FS_BIN_DIR
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-$(cd "$ROOT/.." && pwd)/shared/peers/peers.sh}
[ -f "$PEERS" ] || { echo "peers.sh not found at $PEERS"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root (mounts, drop_caches, network namespace)"; exit 1; }
ROUNDS=${ROUNDS:-3}
SYSTEMS=${SYSTEMS:-moosefs passthrough c3fs}
OUT=${OUT:-/var/tmp/c3fs-data-peers}
RT_DATA=${RT:-10}
C3BIN=${C3FS_BIN_DIR:-$ROOT/build/bin}

# the peers' functions (set-up, tear-down, drop) without its command dispatch
PEERS_BOUNDED=1
cmd=none
# shellcheck disable=SC1090
. <(sed '/^case \$cmd in/,$d' "$PEERS")
HERE=$(dirname "$PEERS"); SELF=$PEERS
need || { echo "peers.sh: could not install its packages"; exit 1; }
mkdir -p "$OUT"
rm -rf "$OUT"/*.r[0-9]* "$OUT"/notes.txt
RT=$RT_DATA

C3H=/var/tmp/c3fs-data-peers-home
C3M=/var/tmp/c3fs-data-peers-mnt
c3_up() {
	rm -rf "$C3H"; mkdir -p "$C3M"
	C3FS_BIN=$C3BIN C3FS_HOME=$C3H C3FS_MOUNT=$C3M C3FS_BASE_PORT=27400 C3FS_STORAGE_EXTRA="${C3FS_STORAGE_EXTRA:-}" \
		"$ROOT/tools/local-cluster.sh" start > "$OUT/c3fs-start.log" 2>&1
}
c3_down() {
	C3FS_BIN=$C3BIN C3FS_HOME=$C3H C3FS_MOUNT=$C3M C3FS_BASE_PORT=27400 \
		"$ROOT/tools/local-cluster.sh" stop > "$OUT/c3fs-stop.log" 2>&1
	rm -rf "$C3H"
}
c3_teardown() { mountpoint -q "$C3M" 2>/dev/null && c3_down; teardown; }
trap c3_teardown EXIT
trap 'exit 143' TERM
trap 'exit 130' INT


data_round() { # MOUNT LABEL ROUND
	local M=$1 L=$2 r=$3
	R=$OUT/$L.r$r; W=$M/dp
	rm -rf "$R" "$W"; mkdir -p "$R" "$W"
	local seq=(--rw=write --bs=1M --ioengine=psync --end_fsync=1)
	local rd=(--rw=read --bs=1M --ioengine=psync)
	local rr=(--rw=randread --bs=4k --direct=1 --time_based --norandommap --filename=seq1.0)
	fio_job seqw1 "${seq[@]}" --size=1G --numjobs=1 --filename_format='seq1.$jobnum'
	fio_job seqr1 "${rd[@]}" --numjobs=1 --filename_format='seq1.$jobnum'
	fio_job seqw4 "${seq[@]}" --size=256M --numjobs=4 --group_reporting --filename_format='seq4.$jobnum'
	fio_job seqr4 "${rd[@]}" --numjobs=4 --group_reporting --filename_format='seq4.$jobnum'
	fio_job rr_qd1_j1 "${rr[@]}" --ioengine=psync --iodepth=1 --numjobs=1
	fio_job rr_qd1_j4 "${rr[@]}" --ioengine=psync --iodepth=1 --numjobs=4 --group_reporting
	fio_job rr_qd32_j1 "${rr[@]}" --ioengine=libaio --iodepth=32 --numjobs=1
	rm -rf "$W"
}

for s in $SYSTEMS; do
	case $s in
	moosefs) mfs_up || { echo "moosefs did not start"; exit 1; }; M=$MNT_MFS ;;
	passthrough) pt_up || { echo "passthrough_ll did not start"; exit 1; }; M=$MNT_PT ;;
	c3fs) c3_up || { echo "c3fs did not start ($OUT/c3fs-start.log)"; exit 1; }; M=$C3M ;;
	*) echo "unknown system $s"; exit 2 ;;
	esac
	echo "$s: loadavg before $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/notes.txt"
	for r in $(seq 1 "$ROUNDS"); do data_round "$M" "$s" "$r"; done
	echo "$s: loadavg after $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/notes.txt"
	case $s in
	moosefs) mfs_down ;;
	passthrough) pt_down ;;
	c3fs) c3_down ;;
	esac
done

python3 - "$OUT" $SYSTEMS <<'PY'
import json, statistics, sys, glob, os
out, systems = sys.argv[1], sys.argv[2:]
rows = [("seq write 1 MiB, 1 job (MiB/s)", "seqw1", "bw"), ("seq write 1 MiB, 4 jobs", "seqw4", "bw"),
        ("seq read 1 MiB, 1 job", "seqr1", "bw"), ("seq read 1 MiB, 4 jobs", "seqr4", "bw"),
        ("4 KiB random read QD1, 1 job (IOPS)", "rr_qd1_j1", "iops"),
        ("4 KiB random read QD1, 4 jobs", "rr_qd1_j4", "iops"),
        ("4 KiB random read QD32, 1 job", "rr_qd32_j1", "iops")]
def val(path, kind):
    try:
        t = open(path).read(); d = json.loads(t[t.index("{"):])
    except Exception:
        return None
    j = d["jobs"]
    if kind == "bw":
        return sum(x["read"]["bw_bytes"] + x["write"]["bw_bytes"] for x in j) / 2**20
    return sum(x["read"]["iops"] + x["write"]["iops"] for x in j)
med, runs = {}, {}
for s in systems:
    for row, key, kind in rows:
        v = [val(f, kind) for f in sorted(glob.glob(os.path.join(out, f"{s}.r*", key + ".json")))]
        v = [x for x in v if x is not None]
        runs[(s, row)] = v
        med[(s, row)] = statistics.median(v) if v else None
hdr = ["median of rounds"] + systems
if "c3fs" in systems and "moosefs" in systems: hdr.append("c3fs ÷ MooseFS")
if "c3fs" in systems and "passthrough" in systems: hdr.append("c3fs ÷ passthrough_ll")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for row, key, kind in rows:
    cells = [f"{med[(s, row)]:,.0f}" if med[(s, row)] else "-" for s in systems]
    c = med.get(("c3fs", row))
    for p in ("moosefs", "passthrough"):
        if "c3fs" in systems and p in systems:
            m = med.get((p, row))
            cells.append(f"{c / m:.2f}" if c and m else "-")
    print(f"| {row} | " + " | ".join(cells) + " |")
print()
for s in systems:
    print(f"{s} rounds: " + "; ".join(row.split(" (")[0] + " " + " / ".join(f"{x:,.0f}" for x in runs[(s, row)]) for row, _, _ in rows))
PY
cat "$OUT/notes.txt"
trap - EXIT
c3_teardown >/dev/null 2>&1
exit 0
