#!/usr/bin/env bash
# timeout: 120
# sec_conn_flood.sh — connections that never authenticate cannot lock anyone out
# (issue 18 item 2).  5,000 sockets to mgmtd that send nothing: c3fs-admin status and a
# new mount still work, at once (before the separate unauthenticated cap, the first 4096
# filled max_conns for the 5 s idle timeout and status failed "server overloaded"), and
# mgmtd sheds the flood (its log says so).  The same against a metrics HTTP port: a
# scrape answers fast while 2,000 idle sockets are open (before: 16 slots, so a scrape
# waited seconds behind them).  Not tested: a connection-rate flood that reopens every
# socket the server closes (see src/net/README.md, known limit; `flood ... reopen`).
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
[ -x "$BIN/c3fs-admin" ] || t_skip_all "c3fs-admin not built in $BIN"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 6000 ] || t_skip_all "cannot raise the descriptor limit to 6000"
c_start 1 1 1 || { t_ok 1 "cluster starts"; t_done; }
MP=$(t_free_port)
c_mount "$T/m1" --set "metrics.listen=127.0.0.1:$MP" || { t_ok 1 "first mount"; t_done; }

# flood HOST PORT N [reopen]: open N idle connections (with "reopen", open a new one for
# each the server closes); prints "ready" once N were opened, then every second
# "opened <total> closed-by-server <count>".
flood() {
	exec python3 -u - "$@" <<'PY'
import errno, selectors, socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
reopen = len(sys.argv) > 4 and sys.argv[4] == "reopen"
sel = selectors.DefaultSelector()
total = closed = 0
def opensock():
    global total
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect((host, port))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        return False
    sel.register(s, selectors.EVENT_READ)
    total += 1
    return True
while total < n:
    if not opensock():
        time.sleep(0.01)
print("ready", flush=True)
last = time.time()
while True:
    for key, _ in sel.select(timeout=0.2):
        s = key.fileobj
        sel.unregister(s)
        s.close()          # closed (or refused) by the server
        closed += 1
        if reopen:
            opensock()
    if not sel.get_map():
        time.sleep(0.2)
    if time.time() - last >= 1:
        print("opened", total, "closed-by-server", closed, flush=True)
        last = time.time()
PY
}

start_flood() { # NAME PORT N [reopen]
	flood 127.0.0.1 "$2" "$3" ${4:-} >"$T/$1.out" 2>&1 &
	T_PIDS[$1]=$!
	for ((i = 0; i < 300; i++)); do
		grep -q '^ready' "$T/$1.out" && return 0
		sleep 0.1
	done
	return 1
}

ADM=(timeout 20 "$BIN/c3fs-admin" --mgmtd "$C_MGMTD" --token "$C_TOKEN")
"${ADM[@]}" status >/dev/null
t_ok $? "c3fs-admin status before the flood"

start_flood flood-mgmtd "${C_MGMTD##*:}" 5000
t_ok $? "5000 idle connections opened to mgmtd"
ok=0
worst=0
for i in 1 2 3 4 5; do
	t0=$(date +%s%N)
	"${ADM[@]}" status >"$T/status.out" 2>&1 || { ok=1; sed 's/^/#   /' "$T/status.out"; }
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$ms" -gt "$worst" ] && worst=$ms
done
t_ok $ok "c3fs-admin status succeeds 5 times during the flood"
echo "# slowest status: ${worst} ms"
[ "$worst" -lt 5000 ]
t_ok $? "each within 5 s (not stuck behind the flood)"
c_mount "$T/m2"
t_ok $? "a new mount comes up during the flood"
echo hello >"$T/m2/f" && [ "$(cat "$T/m1/f")" = hello ]
t_ok $? "the new mount writes, the old one reads"
# the flood prints its counts once a second: wait for the sheds to show (auth deadline)
for ((i = 0; i < 100; i++)); do
	n=$(grep '^opened' "$T/flood-mgmtd.out" | tail -n1 | awk '{print $4}')
	[ "${n:-0}" -gt 4000 ] && break
	sleep 0.1
done
tail -n1 "$T/flood-mgmtd.out" | sed 's/^/# flood: /'
[ "${n:-0}" -gt 4000 ]
t_ok $? "mgmtd closed the flooding sockets"
grep -q "too many unauthenticated connections" "$T/mgmtd.log"
t_ok $? "mgmtd logged the shedding"
t_kill flood-mgmtd KILL

# metrics port: many idle sockets do not delay a scrape
scrape() {
	python3 - "$MP" <<'PY'
import socket, sys, time
t0 = time.time()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
b = b""
while True:
    x = s.recv(65536)
    if not x:
        break
    b += x
ok = b.startswith(b"HTTP/1.0 200") and b"c3fs_metrics_http_shed_total" in b
print("%d %d" % (0 if ok else 1, int((time.time() - t0) * 1000)))
PY
}
for mode in hold; do
	start_flood flood-metrics "$MP" 2000 "$mode"
	t_ok $? "2000 idle connections opened to the metrics port ($mode)"
	ok=0
	worst=0
	for i in 1 2 3 4 5; do
		read -r rc ms < <(scrape 2>>"$T/scrape.err" || echo "1 99999")
		[ "$rc" = 0 ] || ok=1
		[ "$ms" -gt "$worst" ] && worst=$ms
	done
	t_ok $ok "5 scrapes answered 200 during the flood ($mode)"
	echo "# slowest scrape: ${worst} ms"
	[ "$worst" -lt 2000 ]
	t_ok $? "each within 2 s ($mode)"
	t_kill flood-metrics KILL
done
read -r rc ms < <(scrape || echo "1 0")
t_ok "$rc" "scrape after the flood"
c_umount "$T/m2"
t_ok $? "second mount unmounts"
t_done
