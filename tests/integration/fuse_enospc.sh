#!/usr/bin/env bash
# timeout: 180
# fuse_enospc: storage targets on a small tmpfs.  Filling it makes writes fail with ENOSPC,
# files written before stay intact, and space comes back after the big file is removed.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
[ "$(id -u)" = 0 ] || t_skip_all "needs root to mount a tmpfs"
mkdir -p "$T/small"
mount -t tmpfs -o size=80m tmpfs "$T/small" || t_skip_all "cannot mount tmpfs"
trap 'umount -l "$T/small" 2>/dev/null; t_cleanup' EXIT
on_exit() { c_cleanup_mounts; umount -l "$T/small" 2>/dev/null; t_cleanup; }
c_cleanup_mounts() {
	local m
	for m in "${C_MOUNTS[@]}"; do
		mountpoint -q "$m" && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
	done
	for n in "${!T_PIDS[@]}"; do kill -KILL "${T_PIDS[$n]}" 2>/dev/null; done
	wait 2>/dev/null
}
C_TARGET_ROOT=$T/small
c_start 3 2 3 || { trap on_exit EXIT; t_ok 1 "cluster starts"; t_done; }
trap on_exit EXIT  # c_start installed its own; this one also unmounts the tmpfs
M=$T/mnt
C_WRITE_WAIT=10s c_mount "$M" || { t_ok 1 "mount"; t_done; }

head -c $((6 * 1048576 + 7)) /dev/urandom >"$T/keep"
cp "$T/keep" "$M/keep"
t_ok $? "a 6 MiB file fits"
sync
# 3 replicas of everything on one 80 MiB tmpfs: about 26 MiB of file data fit in all
dd if=/dev/zero of="$M/fill" bs=1M count=200 conv=fsync 2>"$T/dd.err"
rc=$?
t_ok $(( ! rc )) "filling the targets fails"
grep -q "No space left on device" "$T/dd.err"
t_ok $? "with ENOSPC"
grep -m1 . "$T/dd.err" | sed 's/^/# /'
c_umount "$M" && c_mount "$M"
cmp -s "$T/keep" "$M/keep"
t_ok $? "the file written before is intact (read after remount)"
rm -f "$M/fill"
t_ok $? "the partial file can be removed"
ok=1
for i in $(seq 1 30); do
	if head -c 4000000 /dev/urandom >"$T/again" && cp "$T/again" "$M/again" 2>/dev/null &&
	   cmp -s "$T/again" "$M/again"; then
		ok=0
		break
	fi
	rm -f "$M/again"
	sleep 1
done
t_ok $ok "space comes back after the remove (GC) and writes work again"
c_umount "$M"
t_ok $? "unmount"
t_done
