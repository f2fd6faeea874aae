#!/usr/bin/env bash
# timeout: 240
# fsx_local: validates c3fs-fsx against the kernel's own file systems (a directory under
# /tmp and a tmpfs when root may mount one): single file, -P parallel files and -s shared
# file must all pass there; and the -X self-test (one byte changed behind the model) must
# be reported as a mismatch with the seed, the offset, a hex dump and the last operations.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
t_init
F=$BIN/c3fs-fsx
[ -x "$F" ] || F=${C3FS_RELEASE_BIN_DIR:-$C3FS_ROOT/build/bin}/c3fs-fsx
[ -x "$F" ] || t_skip_all "c3fs-fsx not built"

fsx_on() { # DIR LABEL
	local d=$1 l=$2
	"$F" -q -S 101 -N 4000 -l 3M -c 256k "$d/single" >"$T/$l-single.out" 2>&1
	t_ok $? "fsx single file, 4000 ops, 256 KiB chunks on $l"
	"$F" -q -S 202 -N 1500 -l 4M -c 1M -P 3 "$d/par" >"$T/$l-par.out" 2>&1
	t_ok $? "fsx 3 processes on distinct files on $l"
	"$F" -q -S 303 -N 1500 -l 2M -c 64k -s 2 "$d/shared" >"$T/$l-shared.out" 2>&1
	t_ok $? "fsx 2 processes sharing one file (disjoint, unaligned regions) on $l"
	"$F" -q -S 404 -N 1000 -l 512k -c 4k -M -F "$d/nommap" >"$T/$l-nommap.out" 2>&1
	t_ok $? "fsx without mmap and fallocate, 4 KiB chunks on $l"
	if [ "$l" != tmpfs ]; then
		"$F" -q -S 505 -N 1500 -l 2M -c 256k -Z "$d/direct" >"$T/$l-direct.out" 2>&1
		t_ok $? "fsx -Z (O_DIRECT, 4 KiB aligned, with mmap) on $l"
	fi
	for f in "$T/$l"-*.out; do grep -q FAILED "$f" && sed 's/^/#   /' "$f" | head -60; done
}

mkdir "$T/disk"
fsx_on "$T/disk" "disk-$(stat -f -c %T "$T/disk" | tr / -)"
if [ "$(id -u)" = 0 ] && mkdir "$T/tmpfs" && mount -t tmpfs -o size=256m tmpfs "$T/tmpfs" 2>/dev/null; then
	trap 'umount "$T/tmpfs" 2>/dev/null; t_cleanup' EXIT
	fsx_on "$T/tmpfs" tmpfs
	umount "$T/tmpfs"
fi

# the checker can fail: -X flips one byte behind the model right before the final verify
"$F" -S 5 -N 300 -X 300 "$T/disk/selftest" >"$T/selftest.out" 2>&1
rc=$?
t_is "$rc" 1 "fsx -X exits 1"
grep -q 'self-test: flipped the byte at' "$T/selftest.out"; t_ok $? "the self-test changed a byte"
grep -q 'seed 5 op 300' "$T/selftest.out"; t_ok $? "failure report names seed and op"
grep -qE 'actual +0x[0-9a-f]+:.*\*' "$T/selftest.out"; t_ok $? "failure report has a hex dump marking the bad byte"
[ "$(grep -c '^  op ' "$T/selftest.out")" = 20 ]; t_ok $? "failure report lists the last 20 operations"
# and the mismatch offset reported equals the byte the self-test flipped
flip=$(sed -n 's/.*flipped the byte at \(0x[0-9a-f]*\).*/\1/p' "$T/selftest.out")
seen=$(sed -n 's/.*data mismatch at offset \(0x[0-9a-f]*\).*/\1/p' "$T/selftest.out")
t_is "$seen" "$flip" "reported offset is the flipped byte"
# a zero-length or absurd option is a usage error
"$F" -l 0 "$T/disk/x" >/dev/null 2>&1; t_is $? 2 "fsx -l 0 is a usage error"
t_done
