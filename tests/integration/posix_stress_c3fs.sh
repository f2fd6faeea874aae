#!/usr/bin/env bash
# timeout: 240
# posix_stress_c3fs: tests/tools/nsstress.py (validated by posix_stress_local.sh) on c3fs:
# 6 processes of random mkdir/rmdir/create/append/rewrite-by-rename/truncate/unlink/
# rename/link/symlink/readdir in one tree, first through one mount, then split over two
# mounts (two FUSE clients) of the same cluster; afterwards the tree must be consistent
# (no phantom or duplicate entries, right nlink for directories and files, no torn file)
# and removable.  The daemons' logs are scanned for sanitizer reports.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
NS=$C3FS_ROOT/tests/tools/nsstress.py
command -v python3 >/dev/null || t_skip_all "python3 missing"
c_start 3 2 3 || { t_ok 1 "cluster starts"; t_done; }
M1=$T/mnt1
M2=$T/mnt2
c_mount "$M1" || { t_ok 1 "mount 1"; t_done; }
c_mount "$M2" || { t_ok 1 "mount 2"; t_done; }
t_ok 0 "cluster up, two mounts"
S=${STRESS_SEED:-21}
timeout -k 5 100 python3 "$NS" "$M1" -p 6 -n 1500 -s "$S" >"$T/one.out" 2>&1
t_ok $? "nsstress 6 x 1500 through one mount (seed $S)"
grep -E '^not ok|^#   ' "$T/one.out" | head -30
timeout -k 5 100 python3 "$NS" "$M1" -p 6 -n 1000 -s $((S + 100)) --also "$M2" >"$T/two.out" 2>&1
t_ok $? "nsstress 6 x 1000 split over two mounts (seed $((S + 100)))"
grep -E '^not ok|^#   ' "$T/two.out" | head -30
cd "$T" || true
c_umount "$M2"; t_ok $? "unmount 2"
c_umount "$M1"; t_ok $? "unmount 1"
t_done
