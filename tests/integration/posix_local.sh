#!/usr/bin/env bash
# timeout: 240
# posix_local: validates tests/tools/posix_check.sh against the kernel's own file systems
# (a directory on the disk file system under /tmp, and a fresh tmpfs when we may mount one):
# every check must pass there, which proves the expectations are right before they are
# used on the c3fs mount (posix_c3fs.sh).  Also shows the checker can fail: a run with a
# wrong expectation injected must exit 1.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
t_init
H=$BIN/c3fs-posix-helper
[ -x "$H" ] || H=${C3FS_RELEASE_BIN_DIR:-$C3FS_ROOT/build/bin}/c3fs-posix-helper
[ -x "$H" ] || t_skip_all "c3fs-posix-helper not built"
export C3FS_POSIX_HELPER=$H
CHECK=$C3FS_ROOT/tests/tools/posix_check.sh

run_on() { # DIR LABEL
	local out=$T/$2.out rc
	bash "$CHECK" "$1" >"$out" 2>&1
	rc=$?
	t_ok $rc "posix_check passes on $2 ($(grep -c '^ok' "$out") ok, $(grep -c '^not ok' "$out") not ok, $(grep -c '# SKIP' "$out") skipped)"
	[ $rc = 0 ] || grep -A2 '^not ok' "$out" | head -60 | sed 's/^/#   /'
	n=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$out")
	[ "${n:-0}" -ge 300 ]
	t_ok $? "posix_check ran at least 300 checks on $2 (${n:-0})"
}

mkdir "$T/disk"
run_on "$T/disk" "disk-$(stat -f -c %T "$T/disk" | tr / -)"

if [ "$(id -u)" = 0 ] && mkdir "$T/tmpfs" && mount -t tmpfs -o size=256m tmpfs "$T/tmpfs" 2>/dev/null; then
	trap 'umount "$T/tmpfs" 2>/dev/null; t_cleanup' EXIT
	# the slow sections ran on the disk already
	POSIX_CHECK_SKIP="readdir_big readdir_unlink parent_times" run_on "$T/tmpfs" tmpfs
	umount "$T/tmpfs"
else
	echo "# no tmpfs run: needs root and mount"
fi

# the checker must be able to fail: run one section with a planted wrong expectation
mkdir "$T/neg"
sed 's/is "$(st cr.f mode)" 0640 "created file has the requested mode"/is "$(st cr.f mode)" 0641 "planted wrong expectation"/' \
	"$CHECK" >"$T/posix_check_bad.sh"
grep -q 'planted wrong expectation' "$T/posix_check_bad.sh"
t_ok $? "planted a wrong expectation"
POSIX_CHECK_SKIP="names errno_enoent errno_enotdir errno_eisdir errno_eexist errno_enotempty errno_einval errno_eloop mkdir link symlink rename renameat2 rmdir unlink chmod chown setid truncate utimens times parent_times mkfifo open_flags open_files xattr perms sticky setgid_dir nlink readdir_big readdir_unlink statfs large" \
	bash "$T/posix_check_bad.sh" "$T/neg" >"$T/neg.out" 2>&1
rc=$?
grep -q '^not ok .*planted wrong expectation' "$T/neg.out"
t_ok $(( rc == 1 && $? == 0 ? 0 : 1 )) "posix_check exits 1 and prints 'not ok' on a wrong result (rc $rc)"
t_done
