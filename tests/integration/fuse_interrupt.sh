#!/usr/bin/env bash
# timeout: 240
# fuse_interrupt.sh — a call blocked on the mount gives way to a signal.  With meta
# down, a stat on the mount waits out the failure (libc3fs retries until
# cluster.meta_wait, here 60 s).  kill -9 of the caller makes the kernel send INTERRUPT;
# c3fs-fuse must answer it between retries, so the process is gone within seconds, not at
# the deadline (the kernel keeps a killed process until its request is answered).  A
# plain signal with a handler (SIGUSR1) ends a blocked stat with EINTR the same way.  With
# every storage node down, a close waiting for its queued write gives way to kill -9 too.
# Calls that work are never cut short: a stat loop with a SIGUSR1 flood while meta is up
# sees no EINTR.  After meta is back, the mount works.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"
t_init
c_need_bins
[ -e /dev/fuse ] || t_skip_all "no /dev/fuse"
command -v python3 >/dev/null || t_skip_all "python3 missing"
trap 'c_cleanup; t_cleanup' EXIT

c_start 3 1 3 || { t_ok 1 "cluster up"; t_done; }
M=$T/mnt
c_mount "$M" --set cluster.meta_wait=60s || { t_ok 1 "mount"; t_done; }
mkdir -p "$M/d" && echo hello > "$M/d/f"
t_ok $? "mount works"

# signals while meta answers: no call is cut short
python3 - "$M/d/f" <<'PY'
import os, signal, sys, threading, time
hits = [0]
signal.signal(signal.SIGUSR1, lambda *a: hits.__setitem__(0, hits[0] + 1))
stop = time.time() + 3
def flood():
    while time.time() < stop:
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.0005)
threading.Thread(target=flood, daemon=True).start()
n = 0
while time.time() < stop:
    try:
        os.stat(sys.argv[1] + ".nx%d" % n)
    except FileNotFoundError:
        pass
    except InterruptedError:
        print("EINTR on a working call"); sys.exit(1)
    os.stat(sys.argv[1])
    n += 1
print("# %d stats beside %d signals, no EINTR" % (n, hits[0]))
PY
t_ok $? "working calls are not cut short by signals"

# meta's command line, to start it again later
mapfile -d '' META_CMD < "/proc/$(t_pid meta)/cmdline"
t_kill meta KILL
# kill -9 of a process blocked on a lookup that needs meta
stat "$M/d/nothing-here-1" >/dev/null 2>&1 &
SP=$!
sleep 2
kill -0 "$SP" 2>/dev/null
t_ok $? "stat is blocked while meta is down"
t0=$(date +%s%N)
kill -9 "$SP"
gone=1
for _ in $(seq 100); do
	kill -0 "$SP" 2>/dev/null || { gone=0; break; }
	sleep 0.05
done
wait "$SP" 2>/dev/null
echo "# killed process gone after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
t_ok $gone "kill -9 of a blocked caller takes effect within 5 s (meta_wait is 60 s)"

# a signal with a handler: the blocked call returns EINTR
python3 - "$M/d/nothing-here-2" <<'PY'
import os, signal, sys, threading, time
signal.signal(signal.SIGUSR1, lambda *a: None)
threading.Timer(2.0, lambda: os.kill(os.getpid(), signal.SIGUSR1)).start()
t0 = time.time()
try:
    os.stat(sys.argv[1])
    print("# stat returned"); sys.exit(1)
except InterruptedError:
    dt = time.time() - t0
    print("# EINTR after %.1f s" % dt)
    sys.exit(0 if dt < 8 else 1)
except OSError as e:
    print("# stat failed with %s" % e); sys.exit(1)
PY
t_ok $? "a signal ends a blocked stat with EINTR"

# storage down: a close waits for its queued write (write_wait is 60 s); kill -9 ends it
for i in 1 2 3; do c_kill_storage "$i"; done
# MIB: 1 = the write is queued and close waits for it; 24 = a write waits for room in
# the write-behind queue (16 MiB per file)
blocked_writer() { # MIB WHAT
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for _ in range(int(sys.argv[2])):
    os.write(fd, b"y" * (1 << 20))
os.close(fd)' "$M/d/f" "$1" 2>/dev/null &
	local wp=$! t0 gone=1
	sleep 4
	kill -0 "$wp" 2>/dev/null
	t_ok $? "$2 is blocked while no storage node serves"
	t0=$(date +%s%N)
	kill -9 "$wp"
	for _ in $(seq 100); do
		kill -0 "$wp" 2>/dev/null || { gone=0; break; }
		sleep 0.05
	done
	wait "$wp" 2>/dev/null
	echo "# killed writer gone after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	t_ok $gone "kill -9 of a $2 waiting for storage takes effect within 5 s"
}
blocked_writer 1 "close"
blocked_writer 24 "write"
for i in 1 2 3; do c_start_storage "$i"; done

t_daemon meta "${META_CMD[@]}"
t_wait_port "${C_META##*:}" 30
t_ok $? "meta back"
cat "$M/d/f" 2>/dev/null | grep -q hello
t_ok $? "the mount works again"
t_done
