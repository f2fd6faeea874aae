#!/usr/bin/env bash
# timeout: 240
# disk_errors: a storage target whose disk starts failing (its own ext4 on a loop device,
# mounted errors=remount-ro, hit by an error through ext4's trigger_fs_error: from then on
# every write fails with EROFS, as after a real I/O error) is taken out of its chain: its
# node reports it failed, mgmtd and `c3fs-admin list-targets` say so, writes and reads go
# on from the other replicas with nothing lost, and the process keeps serving its healthy
# target.  Needs loop devices (skipped without them).
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
command -v jq >/dev/null || t_skip_all "jq not installed"
command -v losetup >/dev/null && command -v mkfs.ext4 >/dev/null ||
	t_skip_all "losetup/mkfs.ext4 not installed"
IMG=$T/disk.img
truncate -s 256M "$IMG"
LOOP=$(losetup -f --show "$IMG" 2>/dev/null) || t_skip_all "no loop device available"
C_TARGET_ROOT=$T/data
D=$C_TARGET_ROOT/s2/t1
mkdir -p "$D"
cleanup_dm() {
	umount -l "$D" 2>/dev/null
	losetup -d "$LOOP" 2>/dev/null
}
mkfs.ext4 -q -F "$LOOP" && mount -o errors=remount-ro "$LOOP" "$D" && chmod 0700 "$D" &&
	rmdir "$D/lost+found"
t_ok $? "target 201 on its own ext4 (loop device, errors=remount-ro)"
TRIGGER=/sys/fs/ext4/$(basename "$LOOP")/trigger_fs_error
[ -w "$TRIGGER" ] || { cleanup_dm; t_skip_all "no ext4 trigger_fs_error"; }

C_CHUNK_SIZE=256K
c_start 3 2 3 || { t_ok 1 "cluster starts"; cleanup_dm; t_done; }
trap 'c_cleanup; cleanup_dm' EXIT
M=$T/mnt
c_mount "$M" --set cluster.write_wait=120s || { t_ok 1 "mount"; t_done; }
A=(timeout 20 "$BIN/c3fs-admin" --mgmtd "$C_MGMTD" --token "$C_TOKEN" --admin-token "$C_ADMIN_TOKEN")
target() { "${A[@]}" --json list-targets | jq -c ".targets[] | select(.id==$1)"; }

mkdir -p "$M/d" "$T/ref"
for i in $(seq 1 8); do
	head -c $((i * 131000)) /dev/urandom > "$T/ref/f$i"
	cp "$T/ref/f$i" "$M/d/f$i"
done
sync
t_ok "$(cmp -s "$T/ref/f8" "$M/d/f8"; echo $?)" "files written on every replica"

# ---- the disk fails every I/O from now on ------------------------------------------------------
echo 1 > "$TRIGGER"
t_ok $? "target 201's file system hit an error: read-only from now on"
# the next writes reach it (and reads of data not cached); keep writing until it is out
for i in $(seq 9 16); do
	head -c $((i * 60000)) /dev/urandom > "$T/ref/f$i"
	cp "$T/ref/f$i" "$M/d/f$i" || echo "# write of f$i failed"
done
sync
t_wait_for 60 '[ "$(target 201 | jq -r .state)" != serving ]'
t_ok $? "mgmtd took target 201 out of its chain"
t_wait_for 30 '[ "$(target 201 | jq -r .local_state)" = failed ]'
t_ok $? "its node reports it failed: $(target 201 | jq -c '{state, local_state}')"
"${A[@]}" list-targets > "$T/lt.txt" 2>&1
grep -E "^ *201 .*failed" "$T/lt.txt" >/dev/null
t_ok $? "c3fs-admin list-targets says so"
t_is "$(target 202 | jq -r .state)" "serving" "the node's other target keeps serving"
t_ok "$(kill -0 "$(t_pid storage2)" 2>/dev/null; echo $?)" "the storage process is still running"

echo 3 > /proc/sys/vm/drop_caches
bad=0
for i in $(seq 1 16); do
	cmp -s "$T/ref/f$i" "$M/d/f$i" || { bad=$((bad + 1)); echo "# f$i differs"; }
done
t_is "$bad" 0 "every file, before and after the failure, reads back intact"
head -c 3000000 /dev/urandom > "$T/ref/late"
cp "$T/ref/late" "$M/d/late" && sync
t_ok "$(cmp -s "$T/ref/late" "$M/d/late"; echo $?)" "new writes go on"

t_done
