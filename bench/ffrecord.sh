#!/usr/bin/env bash
# bench/ffrecord.sh — issue 11's FFRecord benchmark: random batches of 256 samples from one
# FFRecord file through c3fs_ffr_read_batch vs the same samples as small files: on the
# c3fs mount (a) batches through USRBIO, (b) the same reader with pread (FUSE), (c) the
# small files, plus io_uring batches; on the local file system io_uring, pread, files.
#
#   make BUILD=release programs && bench/run ffrecord
#
# Starts a local cluster with tests/lib/cluster.sh (as bench/fuse.sh), mounts c3fs-fuse.
#   FFR_N      samples (default 200000)      FFR_MIN / FFR_MAX  bytes (default 4096 / 65536)
#   FFR_SECS   seconds per run (default 10)  FFR_LOCAL_DIR      local side (default /var/tmp)
#   FFR_ROUNDS rounds of every mode on the same dataset (default 3; medians printed)
#   FFR_MODES_MOUNT  modes on the mount (default "usrbio pread files uring")
#   FFR_MODES_LOCAL  modes on the local side (default "uring pread files")
set -u
C3FS_ROOT=${C3FS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
export C3FS_BIN_DIR=${C3FS_BIN_DIR:-$C3FS_ROOT/build/bin}
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
BIN=$C3FS_BIN_DIR
B=$BIN/c3fs-bench-ffrecord
[ -x "$B" ] || { echo "no $B (make BUILD=release programs)"; exit 1; }
N=${FFR_N:-200000} MIN=${FFR_MIN:-4096} MAX=${FFR_MAX:-65536} SECS=${FFR_SECS:-10}
ROUNDS=${FFR_ROUNDS:-3}
t_init
c_start 3 2 3 >/dev/null || { echo "cluster did not start (logs: $T)"; T_FAILED=1; exit 1; }
c_mount "$T/mnt" || { T_FAILED=1; exit 1; }
L=$(mktemp -d "${FFR_LOCAL_DIR:-/var/tmp}/c3fs-ffrbench.XXXXXX")
trap 'rm -rf "$L"; c_cleanup' EXIT

echo "Command: \`make BUILD=release programs && bench/run ffrecord\` (N=$N, $MIN..$MAX bytes,"
echo "${SECS}s per run, batches of 256 random indices, page cache dropped before each run,"
echo "$ROUNDS rounds of the modes)."
echo
echo "| where | mode | batches | samples/s | MiB/s | per batch |"
echo "|---|---|---|---|---|---|"
for where in local mount; do
	D=$L/ds
	[ $where = mount ] && D=$T/mnt/ds
	"$B" make "$D" "$N" "$MIN" "$MAX" || { echo "make failed on $where"; exit 1; }
	modes=${FFR_MODES_LOCAL:-uring pread files}
	[ $where = mount ] && modes=${FFR_MODES_MOUNT:-usrbio pread files uring}
	for ((round = 1; round <= ROUNDS; round++)); do
		for mode in $modes; do
			sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
			[ $where = mount ] && { c_umount "$T/mnt" >/dev/null; c_mount "$T/mnt" >/dev/null; }
			row=$("$B" read "$D" "$mode" "$SECS" 256) || row="| $mode | failed | | | |"
			echo "| $where $row"
			echo "$where $row" >> "$T/rows"
		done
	done
done
if [ "$ROUNDS" -gt 1 ]; then
	echo
	echo "Median of the $ROUNDS rounds (samples/s), and the goal ratios on the mount:"
	echo
	echo "| where | mode | samples/s (median) | runs |"
	echo "|---|---|---|---|"
	awk -F'|' '{ split($1, w, " "); key = w[1] " " $2; gsub(/ +/, " ", key);
		     v[key] = v[key] " " $4 }
		   END { for (k in v) print k "|" v[k] }' "$T/rows" | sort |
	while IFS='|' read -r key vals; do
		med=$(echo $vals | tr ' ' '\n' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
		set -- $key
		echo "| $1 | $2 | $med | $(echo $vals | tr ' ' '/') |"
		echo "$1 $2 $med" >> "$T/medians"
	done
	awk '$1 == "mount" { m[$2] = $3 }
	     END { if (m["pread"] > 0 && m["files"] > 0)
		     printf "\nUSRBIO / FUSE pread = %.2fx (goal >= 5), USRBIO / small files = %.2fx (goal >= 20)\n",
			    m["usrbio"] / m["pread"], m["usrbio"] / m["files"] }' "$T/medians"
fi
