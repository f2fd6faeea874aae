#!/usr/bin/env bash
# timeout: 240
# web_status.sh — mgmtd's status page in a real browser (headless Chromium):
#   - two mgmtd sharing one LMDB KV, both with metrics.listen (the page is on that port),
#     three c3fs-storage nodes, one 3-replica chain table;
#   - the JSON API answers (/api/health, nodes, targets, chains, events, history) and a
#     standby shows the leader's view (same nodes, leader named, served_by_leader false);
#   - Chromium renders the page (--dump-dom after its script ran): nodes and chains are in
#     the DOM; after kill -9 of a storage node the page shows it down within one node lease
#     (plus one poll and one page refresh) and the event list names it; a screenshot is
#     saved as web_status.png next to $BIN;
#   - hostile HTTP (binary garbage, a 1 MB header, a slow client holding its socket, many
#     idle sockets) gets 400/413 or is dropped, and the page keeps serving meanwhile;
#   - when the leader stops, the other mgmtd's page leads and records the leader change.
# Skips (77) when Chromium (Debian package chromium) or jq is missing.
. "$(dirname "$0")/../lib/common.sh"
t_init
command -v jq >/dev/null || t_skip_all "jq not installed"
command -v curl >/dev/null || t_skip_all "curl not installed"
command -v python3 >/dev/null || t_skip_all "python3 not installed"
CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || t_skip_all "chromium not installed (Debian package chromium; tools/install-deps.sh)"
for b in c3fs-mgmtd c3fs-admin c3fs-storage; do
	[ -x "$BIN/$b" ] || t_skip_all "$b not built in $BIN"
done

LEASE_S=3
P=($(t_free_port) $(t_free_port))
W=($(t_free_port) $(t_free_port))
ADDRS="127.0.0.1:${P[0]},127.0.0.1:${P[1]}"
A=(timeout 20 "$BIN/c3fs-admin" --mgmtd "$ADDRS" --token tok --admin-token adm)
mkdir -p -m 0700 "$T/kv"
start_mgmtd() { # index
	t_daemon "mgmtd$1" "$BIN/c3fs-mgmtd" --set server.listen="127.0.0.1:${P[$1]}" \
		--set kv.uri="lmdb:$T/kv" --set server.token=tok --set server.admin_token=adm \
		--set lease.node_lease=${LEASE_S}s --set lease.leader_lease=2s \
		--set metrics.listen="127.0.0.1:${W[$1]}"
}
wait_for() {
	local secs=$1 i; shift
	for ((i = 0; i < secs * 10; i++)); do
		eval "$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
start_mgmtd 0
t_wait_port "${P[0]}" 20 && t_wait_port "${W[0]}" 20
t_ok $? "mgmtd listens (RPC and HTTP)"
start_mgmtd 1
t_wait_port "${W[1]}" 20
t_ok $? "second mgmtd listens"

declare -A SP
start_storage() { # n
	mkdir -p -m 0700 "$T/s$1/a" "$T/s$1/b"
	t_daemon "storage$1" "$BIN/c3fs-storage" --set server.node_id="$1" \
		--set server.listen="127.0.0.1:${SP[$1]}" --set server.token=tok \
		--set storage.targets="${1}01:$T/s$1/a,${1}02:$T/s$1/b" \
		--set storage.io_engine=psync --set mgmtd.addrs="$ADDRS" --set mgmtd.heartbeat=300ms
}
for n in 1 2 3; do SP[$n]=$(t_free_port); start_storage $n; done
wait_for 40 '[ "$("${A[@]}" --json list-targets | jq "[.targets[] | select(.state==\"serving\")] | length")" = 6 ]'
t_ok $? "six storage targets serving"
"${A[@]}" create-chain-table --replicas 3 --name default >/dev/null
t_ok $? "chain table created"

LEADER=$("${A[@]}" --json leader | jq -r .leader)
if [ "$LEADER" = "127.0.0.1:${P[0]}" ]; then LW=${W[0]}; SW=${W[1]}; else LW=${W[1]}; SW=${W[0]}; fi
URL="http://127.0.0.1:$LW/"
api() { curl -sf --max-time 5 "http://127.0.0.1:${2:-$LW}$1"; }

# ---- JSON API
wait_for 10 '[ "$(api /api/chains | jq ".chains | length")" = 2 ]'
t_ok $? "/api/chains: two chains"
t_is "$(api /api/chains | jq -c '[.chains[].replicas | length]')" "[3,3]" "three replicas each"
t_is "$(api /api/nodes | jq -c '[.nodes[] | select(.type=="storage") | .state] | unique')" \
	'["up"]' "/api/nodes: storage nodes up"
t_is "$(api /api/targets | jq '[.targets[] | select(.capacity_bytes > 0)] | length')" 6 \
	"/api/targets: six targets with capacity"
t_is "$(api /api/health | jq -r .status)" healthy "/api/health: healthy"
t_ok "$(api /api/targets | jq -e '[.targets[] | (.read_bps, .write_bps, .read_iops, .write_iops) | numbers] | length == 24' >/dev/null; echo $?)" \
	"/api/targets: read/write bytes and IOPS per target"
t_ok "$(api /api/nodes | jq -e '[.nodes[] | select(.type=="storage") | .version | select(length > 0)] | length == 3' >/dev/null; echo $?)" \
	"/api/nodes: every storage node's version"
t_is "$(api /api/history | jq -c .fields)" \
	'["wall_ms","read_bps","write_bps","iops","targets_serving","targets","nodes_up","nodes"]' \
	"/api/history: throughput and IOPS fields"
t_ok "$(api /api/events | jq -e '[.events[].msg | select(test("registered"))] | length >= 3' >/dev/null; echo $?)" \
	"/api/events: registrations recorded"
t_ok "$(api /api/history | jq -e '.samples | length >= 1' >/dev/null; echo $?)" \
	"/api/history: samples kept"
wait_for 10 '[ "$(api /api/health "$SW" | jq -r .leader)" = "$LEADER" ]'
t_ok $? "standby's page names the leader"
t_is "$(api /api/health "$SW" | jq -c '[.served_by_leader, .chains.total, .nodes.up]')" \
	"[false,2,3]" "standby shows the leader's view"
t_is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LW/nope")" 404 "unknown path 404"
t_is "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$LW/api/nodes")" 405 \
	"POST is 405"

# ---- the browser
PROFILE="$T/chrome"
mkdir -p "$PROFILE"
chrome() { # extra args...; renders $URL after its script ran
	timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
		--no-first-run --user-data-dir="$PROFILE" --window-size=1400,1200 \
		--virtual-time-budget=5000 "$@" "$URL" 2>>"$T/chrome.log"
}
dom_ok() { # a pattern the rendered DOM must contain
	chrome --dump-dom >"$T/dom.html" && grep -qE "$1" "$T/dom.html"
}
chrome --dump-dom >"$T/dom.html"
t_ok $? "chromium renders the page"
t_ok "$(grep -q 'data-loaded="yes"' "$T/dom.html"; echo $?)" "the page's script loaded the API"
t_is "$(grep -o 'data-node="[0-9]*"' "$T/dom.html" | sort -u | wc -l)" 3 "three nodes in the DOM"
t_is "$(grep -o 'data-chain="[0-9]*"' "$T/dom.html" | sort -u | wc -l)" 2 "two chains in the DOM"
t_ok "$(grep -q 'id="health"[^>]*>healthy<' "$T/dom.html"; echo $?)" "health shown as healthy"

t_kill storage2 KILL
KILLED=$(date +%s.%N)
# mgmtd must declare node 2 down within one node lease plus its lease check; the API is polled
# every 0.1 s so the figure measures mgmtd, not browser start-up
node2_down() { [ "$(api /api/nodes | jq -r '.nodes[] | select(.type=="storage" and .id==2) | .state')" = down ]; }
wait_for 30 node2_down
t_ok $? "mgmtd reports the killed storage node down"
SHOWN=$(date +%s.%N)
ELAPSED=$(python3 -c "print(round($SHOWN - $KILLED, 1))")
echo "# node 2 reported down ${ELAPSED}s after kill -9 (node lease ${LEASE_S}s)"
t_ok "$(python3 -c "import sys; sys.exit(0 if $SHOWN - $KILLED <= $LEASE_S + 4 else 1)"; echo $?)" \
	"within one node lease plus the lease check"
# then the page, rendered afresh, shows what the API says
ok=1
for ((i = 0; i < 10; i++)); do
	if dom_ok '<tr data-node="2">(<td>[^<]*</td>){2}<td><span class="st bad" data-state="down"'; then
		ok=0
		break
	fi
	sleep 0.5
done
t_ok $ok "killed storage node shown as down"
t_ok "$(grep -q 'degraded' "$T/dom.html"; echo $?)" "chains shown degraded"
t_ok "$(grep -q 'node 2 (127.0.0.1:[0-9]*) lost' "$T/dom.html"; echo $?)" "event list names the lost node"

SHOT="$(dirname "$BIN")/web_status.png"
rm -f "$SHOT"
(cd "$T" && chrome --screenshot="$SHOT" >/dev/null)
t_ok "$([ -s "$SHOT" ] && [ "$(head -c 4 "$SHOT" | od -An -tx1 | tr -d ' ')" = 89504e47 ]; echo $?)" \
	"screenshot saved ($SHOT)"

# ---- hostile HTTP while the page serves
python3 - "$LW" >"$T/hostile.out" 2>&1 <<'PY'
import socket, sys, time, urllib.request
port = int(sys.argv[1])
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s
def status(s):
    data = b""
    while True:
        try:
            b = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not b:
            break
        data += b
    return data.split(b"\r\n", 1)[0].decode("latin1")
def page_ok():
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as r:
        return r.status == 200 and b'"status"' in r.read()
# binary garbage
s = conn(); s.sendall(bytes(range(1, 200)) + b"\r\n\r\n"); print("garbage:", status(s)); s.close()
# a 1 MB header
s = conn()
try:
    s.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
except (BrokenPipeError, ConnectionResetError):
    pass
print("bigheader:", status(s)); s.close()
# a slow client: half a request line, then silence; and 100 idle sockets
slow = conn(); slow.sendall(b"GET /api/hea")
idle = [conn() for _ in range(100)]
t0 = time.time(); ok = page_ok(); dt = time.time() - t0
print("page_while_slow:", ok, round(dt, 2))
for s in idle:
    s.close()
slow.settimeout(10)
print("slow_closed:", status(slow) == "")
print("page_after:", page_ok())
PY
cat "$T/hostile.out" | sed 's/^/# /'
t_ok "$(grep -q '^garbage: HTTP/1.0 400' "$T/hostile.out"; echo $?)" "garbage gets 400"
t_ok "$(grep -q '^bigheader: HTTP/1.0 413' "$T/hostile.out"; echo $?)" "1 MB header gets 413"
t_ok "$(grep -q '^page_while_slow: True' "$T/hostile.out"; echo $?)" \
	"page served while a slow client and 100 idle sockets wait"
t_ok "$(grep -q '^slow_closed: True' "$T/hostile.out"; echo $?)" "slow client dropped at its deadline"
t_ok "$(grep -q '^page_after: True' "$T/hostile.out"; echo $?)" "page still serving"
dom_ok 'data-chain="[0-9]+"'
t_ok $? "the browser still renders the page"

# ---- the leader goes away: the standby's page leads and says so
if [ "$LW" = "${W[0]}" ]; then t_kill mgmtd0 TERM; else t_kill mgmtd1 TERM; fi
wait_for 15 '[ "$(api /api/health "$SW" | jq -c "[.served_by_leader, .chains.total]")" = "[true,2]" ]'
t_ok $? "after the leader stops, the other mgmtd's page is the leader's"
t_ok "$(api /api/events "$SW" | jq -e '[.events[].msg | select(test("^leader changed: "))] | length == 1' >/dev/null; echo $?)" \
	"its event list has the leader change"

for n in 1 3; do t_kill storage$n TERM; done
t_kill mgmtd1 TERM
t_kill mgmtd0 TERM
t_done
