#!/usr/bin/env bash
# timeout: 200
# usrbio_stress: rings with io_depth > 0 (whole batches only) under load: 4 processes,
# each its own ring (io_depth 1, 2, 4, 8), full-ring rounds and sliding windows, several
# batches per submit and one submit per batch, for a few seconds; every completion must
# arrive within 10 s with the right bytes (c3fs-usrbio-check stress).  Repeated with
# three such groups at once (12 rings in parallel).
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
CHK=$BIN/c3fs-usrbio-check
[ -x "$CHK" ] || t_skip_all "c3fs-usrbio-check not built in $BIN"
[ -d /dev/shm ] && [ -w /dev/shm ] || t_skip_all "no writable /dev/shm"
t_init
c_start 3 2 3 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt
c_mount "$M" || { t_ok 1 "mount"; t_done; }

head -c $((1048576 + 4096)) /dev/urandom >"$T/ref"
cp "$T/ref" "$M/f"

# fold LABEL: the checker's TAP lines (in $T/LABEL.out) into ours, its stderr as comments
fold() {
	local line
	while IFS= read -r line; do
		case "$line" in
		"ok "*) t_ok 0 "$1: ${line#ok * - }" ;;
		"not ok "*) t_ok 1 "$1: ${line#not ok * - }" ;;
		esac
	done <"$T/$1.out"
	sed 's/^/#   /' "$T/$1.err"
}

"$CHK" stress "$M" "$M/f" "$T/ref" 6 >"$T/alone.out" 2>"$T/alone.err"
t_ok $? "one group of 4 rings: the checker exits 0"
fold alone
pids=()
for g in 1 2 3; do
	"$CHK" stress "$M" "$M/f" "$T/ref" 6 >"$T/group$g.out" 2>"$T/group$g.err" &
	pids+=($!)
done
for g in 1 2 3; do
	wait "${pids[$((g - 1))]}"
	t_ok $? "group $g of 3 in parallel (12 rings): the checker exits 0"
	fold "group$g"
done
left=$(ls "$M/3fs-virt/iovs" | sort | tr '\n' ' ')
t_is "$left" "submit-ios submit-ios.ph submit-ios.pl " "every registration is gone at the end"
c_umount "$M"
t_done
