#!/usr/bin/env bash
# timeout: 180
# posix_stress_local: validates tests/tools/nsstress.py (fsstress-like namespace stress with
# a model-free consistency check) on the disk file system and a tmpfs: it must pass there;
# and --selftest (three foreign bytes appended to one file) must make it fail.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
t_init
NS=$C3FS_ROOT/tests/tools/nsstress.py
command -v python3 >/dev/null || t_skip_all "python3 missing"
mkdir "$T/disk"
python3 "$NS" "$T/disk" -p 4 -n 3000 -s 11 >"$T/disk.out" 2>&1
t_ok $? "nsstress 4 x 3000 on $(stat -f -c %T "$T/disk" | tr / -)"
grep -E '^not ok|^#   ' "$T/disk.out" | head -20
python3 "$NS" "$T/disk" -p 3 -n 1500 -s 12 --also "$T/disk" >"$T/disk2.out" 2>&1
t_ok $? "nsstress with --also (same directory under two names)"
if [ "$(id -u)" = 0 ] && mkdir "$T/tmpfs" && mount -t tmpfs -o size=256m tmpfs "$T/tmpfs" 2>/dev/null; then
	trap 'umount "$T/tmpfs" 2>/dev/null; t_cleanup' EXIT
	python3 "$NS" "$T/tmpfs" -p 4 -n 3000 -s 13 >"$T/tmpfs.out" 2>&1
	t_ok $? "nsstress 4 x 3000 on tmpfs"
	grep -E '^not ok|^#   ' "$T/tmpfs.out" | head -20
	umount "$T/tmpfs"
fi
python3 "$NS" "$T/disk" -p 2 -n 600 -s 14 --selftest >"$T/self.out" 2>&1
rc=$?
t_is "$rc" 1 "nsstress --selftest fails"
grep -q '^not ok .*whole records' "$T/self.out"
t_ok $? "the foreign bytes are reported as a torn file"
t_done
