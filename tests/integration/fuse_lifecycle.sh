#!/usr/bin/env bash
# timeout: 150
# fuse_lifecycle: SIGTERM unmounts cleanly, fusermount3 -u ends the daemon, a SIGKILLed
# daemon leaves no hung mount (requests fail at once, lazy unmount clears it), and a
# long-lived writer's length reaches other clients without a close (periodic length sync).
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
c_start 3 2 3 || { t_ok 1 "cluster starts"; t_done; }

# SIGTERM: clean unmount, exit status 0
c_mount "$T/a" || { t_ok 1 "mount a"; t_done; }
echo kept >"$T/a/file"
pid=$(t_pid fuse-a)
kill -TERM "$pid"
t_wait_for 10 '! kill -0 "$pid"'
wait "$pid"
t_is "$?" 0 "SIGTERM: daemon exits 0"
mountpoint -q "$T/a"
t_ok $(( ! $? )) "SIGTERM: the mount is gone"
unset "T_PIDS[fuse-a]"

# fusermount3 -u ends the daemon (c_umount checks it exits)
c_mount "$T/a" || { t_ok 1 "remount a"; t_done; }
t_is "$(cat "$T/a/file")" kept "data written before SIGTERM is there"
c_umount "$T/a"
t_ok $? "fusermount3 -u: daemon exits 0"

# SIGKILL: no hang; lazy unmount clears the dead mount
c_mount "$T/b" || { t_ok 1 "mount b"; t_done; }
kill -KILL "$(t_pid fuse-b)"
wait "$(t_pid fuse-b)" 2>/dev/null
unset "T_PIDS[fuse-b]"
start=$(date +%s)
timeout 10 stat "$T/b/file" >/dev/null 2>"$T/stat.err"
rc=$?
t_ok $(( rc == 0 || rc == 124 )) "after SIGKILL, stat fails without hanging"
grep -q "not connected" "$T/stat.err"
t_ok $? "with ENOTCONN"
umount -l "$T/b" || fusermount3 -uz "$T/b"
mountpoint -q "$T/b"
t_ok $(( ! $? )) "lazy unmount clears the dead mount"

# a writer that keeps its file open: its length reaches another mount by itself
c_mount "$T/w" --set cluster.length_sync=1s || { t_ok 1 "mount w"; t_done; }
c_mount "$T/r" --set fuse.attr_timeout=0 --set fuse.entry_timeout=0 || { t_ok 1 "mount r"; t_done; }
python3 - "$T/w/long" "$T/r/long" <<'PY'
import os, sys, time
w, r = sys.argv[1], sys.argv[2]
fd = os.open(w, os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, b"z" * 777777)
deadline = time.time() + 20
seen = 0
while time.time() < deadline:
    seen = os.stat(r).st_size
    if seen == 777777:
        break
    time.sleep(0.3)
os.close(fd)
print("# other mount saw %d bytes while the file was still open" % seen)
sys.exit(0 if seen == 777777 else 1)
PY
t_ok $? "periodic length sync: another client sees the length of a file still open"
c_umount "$T/r"
c_umount "$T/w"
t_ok $? "unmount"
t_done
