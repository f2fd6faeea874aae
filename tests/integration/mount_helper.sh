#!/usr/bin/env bash
# timeout: 200
# mount_helper.sh — tools/mount.c3fs as mount(8) uses it, in a private mount namespace
# (unshare -m; the helper is made visible as /usr/sbin/mount.c3fs through an overlay that
# exists only there, and fstab lines come from a private file with mount -T), so the
# machine's /etc/fstab and /usr/sbin are untouched:
#   - mount -t c3fs ADDR DIR -o token_file=...: files written and read back; umount DIR
#     ends c3fs-fuse;
#   - the same line in a private fstab (_netdev, allow_other): mount -T FSTAB DIR; umount;
#   - ro: writes fail with EROFS, reads work;
#   - an unknown option, a bad value, an unreadable token file, an unreachable mgmtd: one
#     line "mount.c3fs: ..." and a non-zero status, quickly, nothing mounted.
. "$(dirname "$0")/../lib/common.sh"
if [ "${C3FS_MOUNT_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || t_skip_all "needs root (mount namespaces, FUSE mounts)"
	command -v unshare >/dev/null || t_skip_all "unshare (util-linux) missing"
	C3FS_MOUNT_NS=1 exec unshare -m --propagation private bash "$0" "$@"
	t_skip_all "cannot create a mount namespace"
fi
# this namespace holds copies of every mount of the machine, other tests' FUSE mounts too:
# drop those copies, or their daemons would not see their own unmount while we run
awk '$3 ~ /^fuse/ { print $2 }' /proc/self/mounts | while read -r m; do
	umount -l "$(printf '%b' "$m")" 2>/dev/null
done
t_init
. "$C3FS_ROOT/tests/lib/cluster.sh"
grep -qw overlay /proc/filesystems || t_skip_all "no overlay file system (to show the helper as /usr/sbin/mount.c3fs)"
c_start 3 1 3 || { t_ok 1 "cluster started"; t_done; }
t_ok 0 "cluster started"

# the helper as /usr/sbin/mount.c3fs, in this namespace only
mkdir -p "$T/sbin"
cp "$C3FS_ROOT/tools/mount.c3fs" "$T/sbin/mount.c3fs"
mount -t overlay overlay -o "lowerdir=$T/sbin:/usr/sbin" /usr/sbin 2>"$T/overlay.err" ||
	t_skip_all "cannot overlay /usr/sbin: $(cat "$T/overlay.err")"
t_ok "$([ -x /sbin/mount.c3fs ]; echo $?)" "helper visible as /sbin/mount.c3fs"
export C3FS_FUSE="$BIN/c3fs-fuse"
echo "$C_TOKEN" >"$T/token"
chmod 600 "$T/token"
M="$T/mnt"
mkdir -p "$M"
C_MOUNTS+=("$M")
is_c3fs() { awk -v d="$1" '$5 == d && / - fuse\.c3fs / { f = 1 } END { exit !f }' /proc/self/mountinfo; }
wait_gone() { # pid file: c3fs-fuse exits after umount
	local pid i
	pid=$(cat "$1" 2>/dev/null) || return 0
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}
stop_fuse() { local pid; pid=$(cat "$1" 2>/dev/null) && kill -KILL "$pid" 2>/dev/null; }
trap 'for f in "$T"/*.pid; do stop_fuse "$f"; done; c_cleanup' EXIT

# ---- mount -t c3fs
mount -t c3fs "$C_MGMTD" "$M" -o "token_file=$T/token,pid_file=$T/a.pid,log=$T/fuse-a.log,attr_timeout=500ms" 2>"$T/err"
t_ok $? "mount -t c3fs $C_MGMTD $M -o token_file=..."
[ -s "$T/err" ] && sed 's/^/# stderr: /' "$T/err"
t_ok "$(is_c3fs "$M"; echo $?)" "mounted as fuse.c3fs"
echo hello >"$M/f1" && sync
t_is "$(cat "$M/f1")" hello "file written and read back"
t_ok "$(grep -q 'fuse.allow_other=false\|allow_other' /proc/self/mountinfo; [ -z "$(awk -v d="$M" '$5 == d' /proc/self/mountinfo | grep -o allow_other)" ]; echo $?)" \
	"no allow_other unless asked"
umount "$M"
t_ok $? "umount"
wait_gone "$T/a.pid"
t_ok $? "c3fs-fuse exited after umount"
t_ok "$(! is_c3fs "$M"; echo $?)" "not mounted any more"

# ---- the same through a private fstab
cat >"$T/fstab" <<EOF
# c3fs
$C_MGMTD  $M  c3fs  _netdev,allow_other,token_file=$T/token,pid_file=$T/b.pid,log=$T/fuse-b.log  0 0
EOF
mount -T "$T/fstab" "$M" 2>"$T/err"
t_ok $? "mount -T FSTAB DIR (fstab line with _netdev,allow_other)"
t_ok "$(awk -v d="$M" '$5 == d' /proc/self/mountinfo | grep -q allow_other; echo $?)" \
	"allow_other passed to the mount"
t_is "$(cat "$M/f1" 2>&1)" hello "data visible through the fstab mount"
umount "$M" && wait_gone "$T/b.pid"
t_ok $? "umount of the fstab mount"

# ---- ro
mount -t c3fs "$C_MGMTD" "$M" -o "ro,token_file=$T/token,pid_file=$T/c.pid,log=$T/fuse-c.log" 2>"$T/err"
t_ok $? "mount -o ro"
t_is "$(cat "$M/f1" 2>&1)" hello "read works on ro"
out=$(touch "$M/f2" 2>&1)
t_ok "$(echo "$out" | grep -q 'Read-only file system'; echo $?)" "write refused with EROFS on ro"
umount "$M" && wait_gone "$T/c.pid"
t_ok $? "umount of the ro mount"

# ---- errors: one line, non-zero status, quickly, nothing mounted
err_case() { # want_status pattern name mount-args...
	local want=$1 pat=$2 name=$3 rc start
	shift 3
	start=$SECONDS
	timeout 30 mount "$@" 2>"$T/err"
	rc=$?
	if [ "$rc" = "$want" ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -qE "$pat" "$T/err" &&
		[ $((SECONDS - start)) -le 10 ] && ! is_c3fs "$M"; then
		t_ok 0 "$name"
	else
		t_ok 1 "$name"
		echo "#   status $rc (want $want), $((SECONDS - start))s, stderr:"
		sed 's/^/#     /' "$T/err"
	fi
}
err_case 1 "mount.c3fs: unknown option 'frobnicate'" "unknown option refused" \
	-t c3fs "$C_MGMTD" "$M" -o "token_file=$T/token,frobnicate"
err_case 1 'mount.c3fs: .*fuse.threads.*abc' "bad value refused with c3fs-fuse's reason" \
	-t c3fs "$C_MGMTD" "$M" -o "token_file=$T/token,threads=abc"
err_case 1 "mount.c3fs: token_file=$T/nope: cannot read it" "missing token file refused" \
	-t c3fs "$C_MGMTD" "$M" -o "token_file=$T/nope"
DEAD=127.0.0.1:$(t_free_port)
err_case 32 "mount.c3fs: no mgmtd reachable at $DEAD" "unreachable mgmtd: clear error, no hang" \
	-t c3fs "$DEAD" "$M" -o "token_file=$T/token"
err_case 32 "mount.c3fs: mount point $T/none does not exist" "missing mount point" \
	-t c3fs "$C_MGMTD" "$T/none" -o "token_file=$T/token"
echo wrong >"$T/badtoken"
err_case 32 "mount.c3fs: mgmtd refused the cluster token" "wrong token: one line, at once" \
	-t c3fs "$C_MGMTD" "$M" -o "token_file=$T/badtoken,timeout=60,log=$T/fuse-d.log"
t_done
