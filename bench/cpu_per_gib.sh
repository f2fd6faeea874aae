#!/usr/bin/env bash
# bench/cpu_per_gib.sh — CPU-seconds per GiB moved, client and servers separately.
#
#   bench/cpu_per_gib.sh [-H C3FS_HOME] [-p name=PID ...] [-b BYTES] -- COMMAND [ARGS...]
#
# Samples utime+stime (/proc/PID/stat, every thread of the process, including exited ones),
# context switches (every live thread's /proc/PID/task/*/status) and read/write syscalls
# (/proc/PID/io syscr/syscw) of each daemon before and after COMMAND, and prints one
# Markdown table: per daemon CPU-seconds, CPU-seconds per GiB, context switches per MiB,
# read+write syscalls per MiB; then "client" (c3fs-fuse) and "servers" (storage, meta,
# mgmtd) totals.  A gain that only moves cost onto another process shows up here.
#
# Daemons: by default every $C3FS_HOME/run/*.pid of tools/local-cluster.sh (-H or the
# C3FS_HOME variable; default ./.c3fs); or given one by one with -p name=PID (repeatable;
# a name starting with "fuse" or "client" counts as client, anything else as server).
# Bytes moved: -b BYTES (suffixes K M G), else read from COMMAND's output when it is fio
# with --output-format=json (the sum of every job's read and write io_bytes), else the
# script stops with an error.  COMMAND's output is kept in $CPU_PER_GIB_OUT (default
# a temporary file, removed) and echoed to stderr.
#
# Example (the lead's table):
#   bench/cpu_per_gib.sh -H /tmp/dp-h -- fio --name=w --directory=/tmp/dp-m --rw=write \
#       --bs=1M --size=1G --end_fsync=1 --output-format=json
set -u

home=${C3FS_HOME:-./.c3fs}
bytes=""
declare -a names=() pids=()

die() { echo "cpu_per_gib: $*" >&2; exit 2; }

to_bytes() {
	local v=$1 n m=1
	case $v in
	*[kK]) m=1024; n=${v%?} ;;
	*[mM]) m=$((1024 * 1024)); n=${v%?} ;;
	*[gG]) m=$((1024 * 1024 * 1024)); n=${v%?} ;;
	*) n=$v ;;
	esac
	[[ $n =~ ^[0-9]+$ ]] || die "bad byte count: $v"
	echo $((n * m))
}

while [ $# -gt 0 ]; do
	case $1 in
	-H) [ $# -ge 2 ] || die "-H needs a directory"; home=$2; shift 2 ;;
	-p) [ $# -ge 2 ] || die "-p needs name=PID"
	    [[ $2 =~ ^[A-Za-z0-9_.-]+=[0-9]+$ ]] || die "-p wants name=PID, got '$2'"
	    names+=("${2%%=*}"); pids+=("${2#*=}"); shift 2 ;;
	-b) [ $# -ge 2 ] || die "-b needs a byte count"; bytes=$(to_bytes "$2") || exit 2; shift 2 ;;
	--) shift; break ;;
	*) die "unknown option '$1' (usage: $0 [-H home] [-p name=PID] [-b bytes] -- command)" ;;
	esac
done
[ $# -gt 0 ] || die "no command given (usage: $0 [-H home] [-p name=PID] [-b bytes] -- command)"

if [ ${#pids[@]} -eq 0 ]; then
	[ -d "$home/run" ] || die "no $home/run: give -H C3FS_HOME or -p name=PID"
	for f in "$home"/run/*.pid; do
		[ -s "$f" ] || continue
		p=$(cat "$f")
		kill -0 "$p" 2>/dev/null || continue
		names+=("$(basename "$f" .pid)"); pids+=("$p")
	done
	[ ${#pids[@]} -gt 0 ] || die "no running daemon in $home/run"
fi
for p in "${pids[@]}"; do [ -r "/proc/$p/stat" ] || die "no process $p"; done

hz=$(getconf CLK_TCK)

# sample PID -> "ticks ctxsw syscalls" (ticks: utime+stime+cutime+cstime of the whole process)
sample() {
	local p=$1 ticks cs=0 sc=0 f
	# fields after the ")" of comm: state is field 3, utime 14, stime 15 (of the full line)
	ticks=$(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')
	for f in /proc/"$p"/task/*/status; do
		cs=$((cs + $(awk '/^(non)?voluntary_ctxt_switches/ {s += $2} END {print s + 0}' "$f" 2>/dev/null || echo 0)))
	done
	if [ -r "/proc/$p/io" ]; then
		sc=$(awk '/^sysc[rw]:/ {s += $2} END {print s + 0}' "/proc/$p/io")
	fi
	echo "$ticks $cs $sc"
}

declare -a before=()
for i in "${!pids[@]}"; do before[i]=$(sample "${pids[i]}"); done
out=${CPU_PER_GIB_OUT:-}
keep=1
[ -n "$out" ] || { out=$(mktemp); keep=0; }
t0=$(date +%s.%N)
"$@" >"$out"
rc=$?
t1=$(date +%s.%N)
declare -a after=()
for i in "${!pids[@]}"; do
	if [ -r "/proc/${pids[i]}/stat" ]; then after[i]=$(sample "${pids[i]}")
	else die "${names[i]} (pid ${pids[i]}) exited during the command"; fi
done
cat "$out" >&2
[ $rc -eq 0 ] || { [ $keep = 1 ] || rm -f "$out"; die "command failed with status $rc"; }

if [ -z "$bytes" ]; then
	bytes=$(python3 - "$out" <<'EOF'
import json, sys
txt = open(sys.argv[1]).read()
i = txt.find("{")
if i < 0:
    sys.exit(1)
d = json.loads(txt[i:])
print(sum(j["read"]["io_bytes"] + j["write"]["io_bytes"] for j in d["jobs"]))
EOF
	) || { [ $keep = 1 ] || rm -f "$out"; die "cannot read fio JSON output: pass -b BYTES or fio --output-format=json"; }
fi
[ $keep = 1 ] || rm -f "$out"
[ "$bytes" -gt 0 ] || die "no bytes moved"

python3 - "$hz" "$bytes" "$t0" "$t1" "${#pids[@]}" "${names[@]}" "${before[@]}" "${after[@]}" <<'EOF'
import sys
hz, nbytes, t0, t1, n = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
rest = sys.argv[6:]
names, before, after = rest[:n], rest[n:2 * n], rest[2 * n:3 * n]
gib, mib, wall = nbytes / 2**30, nbytes / 2**20, t1 - t0
print(f"{nbytes / 2**20:.0f} MiB in {wall:.2f} s ({mib / wall:.0f} MiB/s); CPU per process:\n")
print("| process | CPU s | CPU s / GiB | share of wall | ctx switches / MiB | read+write syscalls / MiB |")
print("|---|---|---|---|---|---|")
tot = {"client": [0.0, 0, 0], "servers": [0.0, 0, 0]}
for name, b, a in zip(names, before, after):
    b, a = [int(x) for x in b.split()], [int(x) for x in a.split()]
    cpu, cs, sc = (a[0] - b[0]) / hz, a[1] - b[1], a[2] - b[2]
    grp = "client" if name.startswith(("fuse", "client")) else "servers"
    t = tot[grp]
    t[0] += cpu; t[1] += cs; t[2] += sc
    print(f"| {name} | {cpu:.2f} | {cpu / gib:.2f} | {100 * cpu / wall:.0f}% | {cs / mib:.1f} | {sc / mib:.1f} |")
for grp, (cpu, cs, sc) in tot.items():
    print(f"| **{grp}** | {cpu:.2f} | {cpu / gib:.2f} | {100 * cpu / wall:.0f}% | {cs / mib:.1f} | {sc / mib:.1f} |")
EOF
