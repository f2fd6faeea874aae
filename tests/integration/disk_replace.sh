#!/usr/bin/env bash
# timeout: 300
# disk_replace: a storage target whose disk was replaced — its directory empty when the
# node comes back — rejoins its chains as syncing, is refilled completely from the other
# replicas while writes go on, and then serves alone: with the other two nodes stopped
# every file (written before the swap and during the refill) reads back intact from the
# new disk.  The same for a target whose directory was wiped and the node restarted twice
# in a row (a sync cut short by a restart starts over).
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
command -v jq >/dev/null || t_skip_all "jq not installed"
C_CHUNK_SIZE=256K C_STRIPE=2
c_start 3 1 3 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt
c_mount "$M" --set cluster.write_wait=120s || { t_ok 1 "mount"; t_done; }
A=(timeout 20 "$BIN/c3fs-admin" --mgmtd "$C_MGMTD" --token "$C_TOKEN" --admin-token "$C_ADMIN_TOKEN")
serving() { "${A[@]}" --json list-targets | jq '[.targets[] | select(.state=="serving")] | length'; }
tstate() { "${A[@]}" --json list-targets | jq -r ".targets[] | select(.id==$1) | .state"; }

mkdir -p "$M/d" "$T/ref"
for i in $(seq 1 12); do
	head -c $((i * 97000 + 5)) /dev/urandom > "$T/ref/f$i"
	cp "$T/ref/f$i" "$M/d/f$i"
done
sync
t_ok "$(cmp -s "$T/ref/f12" "$M/d/f12"; echo $?)" "12 files written (up to 1.2 MiB, 256 KiB chunks)"

# ---- the disk of node 2 is replaced: stop, empty directory, start --------------------------
c_kill_storage 2 TERM
t_wait_for 30 '[ "$(tstate 201)" != serving ]'
t_ok $? "node 2 stopped: its target leaves the chain"
rm -rf "$C_TARGET_ROOT/s2/t1"
mkdir -m 0700 "$C_TARGET_ROOT/s2/t1"
# writes go on while the disk is out and while it refills
for i in $(seq 13 16); do
	head -c $((i * 50000)) /dev/urandom > "$T/ref/f$i"
	cp "$T/ref/f$i" "$M/d/f$i"
done
c_start_storage 2
t_ok $? "node 2 starts on the empty directory"
for i in $(seq 17 20); do
	head -c $((i * 50000)) /dev/urandom > "$T/ref/f$i"
	cp "$T/ref/f$i" "$M/d/f$i"
done
t_wait_for 90 '[ "$(serving)" = 3 ]'
t_ok $? "the new disk is refilled and serving again"
grep -q "201.*syncing\|target 201 .*-> syncing" "$T/mgmtd.log"
t_ok $? "mgmtd took it through syncing"

# ---- it serves alone --------------------------------------------------------------------------
c_kill_storage 1 TERM
c_kill_storage 3 TERM
t_wait_for 30 '[ "$(tstate 101)" != serving ] && [ "$(tstate 301)" != serving ]'
t_ok $? "the two other nodes stopped"
sync
echo 3 > /proc/sys/vm/drop_caches
bad=0
for i in $(seq 1 20); do
	cmp -s "$T/ref/f$i" "$M/d/f$i" || { bad=$((bad + 1)); echo "# f$i differs"; }
done
t_is "$bad" 0 "all 20 files read back intact from the replaced disk alone"

# ---- wiped again, restarted in the middle of its refill ----------------------------------------
c_start_storage 1
c_start_storage 3
t_wait_for 90 '[ "$(serving)" = 3 ]'
t_ok $? "nodes 1 and 3 back, all serving"
c_kill_storage 2 KILL
rm -rf "$C_TARGET_ROOT/s2/t1"
mkdir -m 0700 "$C_TARGET_ROOT/s2/t1"
c_start_storage 2
sleep 0.3
c_kill_storage 2 KILL
c_start_storage 2
t_wait_for 90 '[ "$(serving)" = 3 ]'
t_ok $? "a refill cut short by a kill -9 starts over and completes"
c_kill_storage 1 TERM
c_kill_storage 3 TERM
t_wait_for 30 '[ "$(tstate 101)" != serving ] && [ "$(tstate 301)" != serving ]'
echo 3 > /proc/sys/vm/drop_caches
bad=0
for i in $(seq 1 20); do
	cmp -s "$T/ref/f$i" "$M/d/f$i" || bad=$((bad + 1))
done
t_is "$bad" 0 "all files intact from node 2 alone again"

t_done
