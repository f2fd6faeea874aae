#!/usr/bin/env bash
# timeout: 300
# launcher_restart.sh — tools/local-cluster.sh (`make run`) after meta was killed: with a
# file held open on the mount and a create loop running, kill -9 meta, run `start` again:
# only meta is restarted (every other pid unchanged), the mount is the same mount (same
# mount id and device in /proc/self/mountinfo), the open descriptor still writes and
# reads, the loop goes on without a failed create; a second `start` restarts nothing;
# the launcher's files are private (umask 077).  Then the meta deadline: a second mount
# with cluster.meta_wait=3s fails a create with ETIMEDOUT within the deadline while meta
# is down, and works again after `start` brought meta back.
. "$(dirname "$0")/../lib/common.sh"
t_init
for b in c3fs-mgmtd c3fs-meta c3fs-storage c3fs-fuse c3fs-admin; do
	[ -x "$BIN/$b" ] || t_skip_all "$b not built in $BIN"
done
[ -e /dev/fuse ] || t_skip_all "no /dev/fuse"
command -v fusermount3 >/dev/null || t_skip_all "fusermount3 missing"
command -v python3 >/dev/null || t_skip_all "python3 missing"
[ "$(id -u)" = 0 ] || t_skip_all "needs root (allow_other)"

# a base port whose whole range (P..P+113) is free
for _ in $(seq 50); do
	P=$((20000 + RANDOM % 39000))
	busy=0
	for o in 0 1 11 12 13 100 101 102 111 112 113; do
		ss -Htan "sport = :$((P + o))" 2>/dev/null | grep -q . && busy=1
	done
	[ $busy = 0 ] && break
done
export C3FS_HOME=$T/home C3FS_MOUNT=$T/mnt C3FS_BIN=$BIN C3FS_BASE_PORT=$P
LC="$C3FS_ROOT/tools/local-cluster.sh"
H=$C3FS_HOME
MNT2=$T/mnt2
LOOP_PID=
HOLD_PID=
cleanup() {
	[ -n "$LOOP_PID" ] && kill "$LOOP_PID" 2>/dev/null
	[ -n "$HOLD_PID" ] && kill "$HOLD_PID" 2>/dev/null
	if grep -qs " $MNT2 fuse" /proc/mounts; then
		fusermount3 -u "$MNT2" 2>/dev/null || umount -l "$MNT2" 2>/dev/null
	fi
	"$LC" stop >/dev/null 2>&1
	t_cleanup
}
trap cleanup EXIT

minfo() { # mount id and device of the mount at $1, from mountinfo only
	awk -v m="$1" '$5 == m && / - fuse\.c3fs / { print $1, $3; exit }' /proc/self/mountinfo
}
pids() { # name=pid of every daemon
	local n
	for n in mgmtd meta storage1 storage2 storage3 fuse; do
		printf '%s=%s ' "$n" "$(cat "$H/run/$n.pid" 2>/dev/null)"
	done
}

out=$(timeout 120 "$LC" start 2>&1)
t_ok $? "local-cluster start"
echo "$out" | sed 's/^/# /' | head -5
m0=$(minfo "$C3FS_MOUNT")
t_ok "$([ -n "$m0" ] && echo 0 || echo 1)" "mounted (mount id, device: $m0)"

# --- private files ------------------------------------------------------------------------
bad=$(find "$H/run" "$H/log" "$H/etc" "$H/admin.ini" -type f -perm /077 2>/dev/null)
t_is "$bad" "" "pid files, logs and configs are private to the user"

# --- a held descriptor and a create loop ----------------------------------------------------
mkfifo "$T/go"
python3 - "$C3FS_MOUNT/held" "$T/go" "$T/held.out" <<'PY' &
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
os.write(fd, b"before-kill\n")
os.fsync(fd)
open(sys.argv[3] + ".ready", "w").close()
with open(sys.argv[2]) as f:  # the fifo: wait for the go
    f.read()
try:
    os.pwrite(fd, b"after-restart\n", 12)
    os.fsync(fd)
    res = os.pread(fd, 100, 0).decode()
except OSError as e:
    res = "error: %s" % e
open(sys.argv[3], "w").write(res)
PY
HOLD_PID=$!
for _ in $(seq 300); do [ -e "$T/held.out.ready" ] && break; sleep 0.1; done
t_ok "$([ -e "$T/held.out.ready" ] && echo 0 || echo 1)" "a process holds a file open on the mount"

mkdir "$C3FS_MOUNT/loop"
(
	i=0
	while :; do
		i=$((i + 1))
		echo "$i" >"$C3FS_MOUNT/loop/f$i" 2>>"$T/loop.err" || echo "create $i failed" >>"$T/loop.err"
		echo "$i" >"$T/loop.count.tmp" && mv "$T/loop.count.tmp" "$T/loop.count" # whole, never half-written
	done
) &
LOOP_PID=$!
for _ in $(seq 100); do [ "$(cat "$T/loop.count" 2>/dev/null || echo 0)" -ge 20 ] && break; sleep 0.1; done
t_ok "$([ "$(cat "$T/loop.count" 2>/dev/null || echo 0)" -ge 20 ] && echo 0 || echo 1)" \
	"create loop runs ($(cat "$T/loop.count" 2>/dev/null) files)"

# --- kill -9 meta, start again ------------------------------------------------------------------
before=$(pids)
kill -KILL "$(cat "$H/run/meta.pid")"
sleep 2 # the loop is now blocked on meta
c_before=$(cat "$T/loop.count")
t0=$(date +%s)
out=$(timeout 100 "$LC" start 2>&1)
rc=$?
t1=$(date +%s)
t_is "$rc" 0 "start after kill -9 meta ($((t1 - t0)) s)"
echo "$out" | sed 's/^/# /'
echo "$out" | grep -qx "restarted: meta"
t_ok $? "only meta restarted"
after=$(pids)
for n in mgmtd storage1 storage2 storage3 fuse; do
	b=$(echo "$before" | tr ' ' '\n' | grep "^$n=")
	a=$(echo "$after" | tr ' ' '\n' | grep "^$n=")
	t_is "$a" "$b" "$n kept its pid"
done
t_ok "$([ "$(echo "$after" | tr ' ' '\n' | grep '^meta=')" != "$(echo "$before" | tr ' ' '\n' | grep '^meta=')" ] && echo 0 || echo 1)" \
	"meta has a new pid"
t_is "$(minfo "$C3FS_MOUNT")" "$m0" "same mount: same mount id and FUSE device"

echo go >"$T/go"
wait "$HOLD_PID"
HOLD_PID=
t_is "$(cat "$T/held.out" 2>/dev/null)" "before-kill
after-restart" "the descriptor opened before the kill writes and reads"

for _ in $(seq 600); do
	[ "$(cat "$T/loop.count")" -ge $((c_before + 50)) ] && break
	sleep 0.1
done
c_after=$(cat "$T/loop.count")
t_ok "$([ "$c_after" -ge $((c_before + 50)) ] && echo 0 || echo 1)" \
	"the create loop goes on ($c_before -> $c_after)"
kill "$LOOP_PID" 2>/dev/null
wait "$LOOP_PID" 2>/dev/null
LOOP_PID=
t_is "$(cat "$T/loop.err" 2>/dev/null)" "" "no create failed"
t_is "$(cat "$C3FS_MOUNT/loop/f$c_before")" "$c_before" "a file created across the outage reads back"

out=$(timeout 60 "$LC" start 2>&1)
echo "$out" | grep -q "already running"
t_ok $? "a second start restarts nothing"
t_is "$(pids)" "$after" "pids unchanged"

# --- the meta deadline --------------------------------------------------------------------------
mkdir -p "$MNT2"
t_daemon fuse2 "$BIN/c3fs-fuse" --config "$H/etc/fuse.ini" --set cluster.meta_wait=3s \
	--set log.file= --set metrics.listen= "$MNT2"
for _ in $(seq 300); do [ -n "$(minfo "$MNT2")" ] && break; sleep 0.1; done
t_ok "$([ -n "$(minfo "$MNT2")" ] && echo 0 || echo 1)" "second mount with cluster.meta_wait=3s"
touch "$MNT2/warm"
t_ok $? "create works on it"
kill -KILL "$(cat "$H/run/meta.pid")"
t0=$(date +%s%N)
err=$(touch "$MNT2/while-meta-down" 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
t_ok "$([ $rc -ne 0 ] && echo 0 || echo 1)" "create fails while meta is down"
echo "$err" | grep -q "Connection timed out"
t_ok $? "with ETIMEDOUT: $err"
# 3 s of retries, one more try of at most rpc_timeout (10 s) for a dead peer is refused at once
t_ok "$([ "$ms" -ge 2500 ] && [ "$ms" -lt 15000 ] && echo 0 || echo 1)" \
	"after the 3 s deadline, not 60 s ($ms ms)"
timeout 100 "$LC" start >/dev/null 2>&1
t_ok $? "start brings meta back"
for _ in $(seq 100); do touch "$MNT2/after-meta-back" 2>/dev/null && break; sleep 0.2; done
t_ok "$([ -e "$MNT2/after-meta-back" ] && echo 0 || echo 1)" "creates work again after the restart"
fusermount3 -u "$MNT2"
t_kill fuse2

# --- stop unmounts, by pid ---------------------------------------------------------------------
"$LC" stop >/dev/null 2>&1
t_is "$(minfo "$C3FS_MOUNT")" "" "stop unmounts"
left=0
for n in mgmtd meta storage1 storage2 storage3 fuse; do
	[ -e "$H/run/$n.pid" ] && left=1
done
t_is "$left" 0 "stop removed every pid file"
for f in "$H"/log/*; do
	if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|assertion failed' "$f"; then
		t_ok 1 "no sanitizer/assert report in $(basename "$f")"
		grep -m3 -A10 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | sed 's/^/#   /'
	fi
done
t_done
