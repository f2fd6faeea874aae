#!/usr/bin/env bash
# timeout: 120
# mgmtd_admin.sh — c3fs-admin against a live mgmtd and three stand-in storage nodes:
#   admin token required (missing / wrong / not configured on mgmtd -> refused, exit 3),
#   cluster token checked, admin.ini found through $C3FS_HOME and ./.c3fs, every list
#   command's --json parses, create-chain-table (explicit targets, table growth),
#   offline-node / online-node, set-target-state (and refusal for a last serving replica),
#   rotate-lastsrv.
. "$(dirname "$0")/../lib/common.sh"
t_init
command -v jq >/dev/null || t_skip_all "jq not installed"
[ -x "$BIN/c3fs-mgmtd" ] && [ -x "$BIN/c3fs-node-sim" ] && [ -x "$BIN/c3fs-admin" ] ||
	t_skip_all "c3fs-mgmtd/c3fs-node-sim/c3fs-admin not built in $BIN"

PORT=$(t_free_port)
M=127.0.0.1:$PORT
ADM="$BIN/c3fs-admin"
t_daemon mgmtd "$BIN/c3fs-mgmtd" --set server.listen="$M" --set kv.data_dir="$T/mgmtd" \
	--set server.token=ctok --set server.admin_token=s3cret --set lease.node_lease=3s
t_wait_port "$PORT" 20
t_ok $? "mgmtd listens"
# node 2 reports its targets "online" (stale): after maintenance they stay syncing
for n in 1 2 3; do
	st=uptodate
	[ $n = 2 ] && st=online
	t_daemon "node$n" "$BIN/c3fs-node-sim" --mgmtd "$M" --token ctok --type storage \
		--node-id $n --addr "127.0.0.1:$((32000 + n))" --targets "${n}01,${n}02,${n}03" \
		--heartbeat-ms 300 --default-state $st
done
A=(timeout 20 "$ADM" --mgmtd "$M" --token ctok)
t_wait_for 20 '[ "$("${A[@]}" --json list-targets | jq ".targets | length")" = 9 ]'
t_ok $? "nine targets"

# --- admin token ------------------------------------------------------------------------
err=$("${A[@]}" create-chain-table --replicas 3 2>&1 >/dev/null); rc=$?
t_is "$rc" 3 "no admin token: refused with exit 3"
echo "$err" | grep -q "needs the admin token"
t_ok $? "clear message: $err"
"${A[@]}" --admin-token wrong offline-node 1 >/dev/null 2>&1
t_is "$?" 3 "wrong admin token refused"
"${A[@]}" --admin-token wrong set-target-state 101 offline >/dev/null 2>&1
t_is "$?" 3 "set-target-state refused without the right token"
t_is "$("${A[@]}" --json list-chains | jq '.chains | length')" 0 "nothing was changed"
grep -q "admin request .* refused: wrong admin token" "$T/mgmtd.log"
t_ok $? "mgmtd logged the refusal"
timeout 20 "$ADM" --mgmtd "$M" --token nope list-nodes >/dev/null 2>&1
t_ok "$([ $? -ne 0 ] && echo 0 || echo 1)" "wrong cluster token: refused"

# --- admin.ini discovery --------------------------------------------------------------------
mkdir -p "$T/home" "$T/cwd/.c3fs"
printf '[cluster]\nmgmtd = %s\ntoken = ctok\nadmin_token = s3cret\n' "$M" >"$T/home/admin.ini"
out=$(C3FS_HOME="$T/home" timeout 20 "$ADM" --json status)
t_is "$(echo "$out" | jq .nodes.up)" 3 "C3FS_HOME/admin.ini found without flags"
cp "$T/home/admin.ini" "$T/cwd/.c3fs/admin.ini"
out=$(cd "$T/cwd" && env -u C3FS_HOME timeout 20 "$ADM" --json list-nodes)
t_is "$(echo "$out" | jq '.nodes | length')" 3 "./.c3fs/admin.ini found without flags"
(cd "$T" && env -u C3FS_HOME timeout 20 "$ADM" status >/dev/null 2>&1)
t_is "$?" 2 "no configuration at all: usage error"
printf '[cluster]\nbogus = 1\n' >"$T/bad.ini"
err=$(timeout 20 "$ADM" --config "$T/bad.ini" status 2>&1)
t_ok "$([ $? -eq 2 ] && echo 0 || echo 1)" "bad admin.ini rejected: $err"

AA=(env C3FS_HOME="$T/home" timeout 20 "$ADM")

# --- chain tables -------------------------------------------------------------------------
out=$("${AA[@]}" --json create-chain-table --replicas 3 --name first --targets 101,201,301,102,202,302)
t_is "$(echo "$out" | jq -c '[.table_id, .table_version, .chains_added]')" "[1,1,2]" \
	"explicit targets: table 1 v1 with 2 chains"
"${AA[@]}" create-chain-table --replicas 3 --targets 101,201,301 >/dev/null 2>&1
t_is "$?" 1 "targets already in chains refused"
"${AA[@]}" create-chain-table --replicas 4 >/dev/null 2>&1
t_is "$?" 1 "4 replicas on 3 nodes refused"
out=$("${AA[@]}" --json create-chain-table --replicas 3 --table-id 1)
t_is "$(echo "$out" | jq -c '[.table_id, .table_version, .chains_added]')" "[1,2,1]" \
	"remaining targets grow table 1 to version 2"
t_is "$("${AA[@]}" --json list-chain-tables | jq -c '.chain_tables[0].chains')" "[1,2,3]" \
	"table 1 lists chains 1..3"
for cmd in list-nodes list-targets list-chains list-chain-tables status leader; do
	"${AA[@]}" --json $cmd | jq -e . >/dev/null
	t_ok $? "$cmd --json is valid JSON"
	"${AA[@]}" $cmd >"$T/$cmd.txt"
	t_ok $? "$cmd (table) works"
done
grep -q "3 healthy, 0 degraded" "$T/status.txt"
t_ok $? "status shows 3 healthy chains"

# --- maintenance and target states -----------------------------------------------------------
tstate() { "${AA[@]}" --json list-targets | jq -r ".targets[] | select(.id==$1) | .state"; }
"${AA[@]}" offline-node 2 >/dev/null
t_ok $? "offline-node 2"
t_is "$("${AA[@]}" --json list-nodes | jq -r '.nodes[] | select(.id==2) | .state')" \
	maintenance "node 2 in maintenance"
t_is "$(tstate 201),$(tstate 202),$(tstate 203)" "offline,offline,offline" \
	"its targets are offline"
"${AA[@]}" online-node 2 >/dev/null
t_wait_for 10 '[ "$(tstate 201)" = syncing ]'
t_ok $? "online-node: its targets sync back"
"${AA[@]}" set-target-state 201 serving >/dev/null
t_is "$(tstate 201)" serving "set-target-state serving declares a syncing target done"
"${AA[@]}" set-target-state 101 offline >/dev/null
t_is "$(tstate 101)" offline "set-target-state offline holds a target out"
sleep 1
t_is "$(tstate 101)" offline "the hold survives heartbeats"
"${AA[@]}" set-target-state 301 offline >/dev/null
err=$("${AA[@]}" set-target-state 201 offline 2>&1); rc=$?
t_is "$rc" 1 "last serving replica of chain 1 cannot be taken offline"
echo "$err" | grep -q "last serving replica"
t_ok $? "with a clear message"
"${AA[@]}" set-target-state 101 serving >/dev/null
t_wait_for 10 'grep -q "target 101 offline -> syncing" "$T/mgmtd.log"'
t_ok $? "hold lifted: target 101 syncs back"
t_wait_for 10 '[ "$(tstate 101)" = serving ]'
t_ok $? "and serves once its node reports it up to date"
"${AA[@]}" set-target-state 101 waiting >/dev/null 2>&1
t_is "$?" 2 "only serving/offline can be set"

# --- rotate-lastsrv: chain 1 loses nodes 1 then 2 (301 is still held offline) -----------
chain1() { "${AA[@]}" --json list-chains | jq -r '.chains[] | select(.id==1) | [.targets[] | "\(.id):\(.state)"] | join(" ")'; }
"${AA[@]}" offline-node 1 >/dev/null
"${AA[@]}" offline-node 2 >/dev/null
t_is "$(chain1 | cut -d' ' -f1)" "201:lastsrv" "the last serving member of chain 1 is lastsrv"
"${AA[@]}" online-node 1 >/dev/null
t_is "$(chain1 | cut -d' ' -f1-2)" "201:lastsrv 101:waiting" \
	"a returning member waits for the lastsrv"
"${A[@]}" rotate-lastsrv 1 >/dev/null 2>&1
t_is "$?" 3 "rotate-lastsrv without the admin token: refused"
"${AA[@]}" rotate-lastsrv 1 >/dev/null
t_ok $? "rotate-lastsrv 1"
t_is "$(chain1)" "101:serving 301:offline 201:offline" \
	"next member promoted to serving, old lastsrv offline at the tail"
"${AA[@]}" rotate-lastsrv 1 >/dev/null 2>&1
t_is "$?" 1 "nothing left to rotate"
"${AA[@]}" online-node 2 >/dev/null
t_wait_for 10 '[ "$(chain1)" = "101:serving 201:syncing 301:offline" ]'
t_ok $? "the old lastsrv comes back as a replica to resync"

for n in node1 node2 node3; do t_kill $n TERM; done
t_kill mgmtd TERM
t_done
