#!/usr/bin/env bash
# timeout: 120
# mgmtd_cluster.sh — one mgmtd, three storage nodes (c3fs-node-sim) and a client:
#   - chains form from the nodes' targets (create-chain-table, 3 replicas);
#   - kill -9 a storage node: after the node lease its node is down, its targets offline
#     and every chain version bumped; writes could continue (2 serving members left);
#   - it restarts (new incarnation) reporting "online": targets come back syncing, one
#     per chain; reporting "uptodate" afterwards makes them serving again (tail);
#   - a restart *within* the lease is first treated as a failure of the old process;
#   - a client that missed routing changes (stopped) is corrected by its next heartbeat;
#   - the metrics endpoint shows the health gauges;
#   - mgmtd dies: every node declares its lease lost (half a node lease without an
#     acknowledged heartbeat) — storage stops serving before anyone could reconfigure;
#     mgmtd restarts on the same data: configuration intact, leases valid again.
. "$(dirname "$0")/../lib/common.sh"
t_init
command -v jq >/dev/null || t_skip_all "jq not installed"
[ -x "$BIN/c3fs-mgmtd" ] && [ -x "$BIN/c3fs-node-sim" ] && [ -x "$BIN/c3fs-admin" ] ||
	t_skip_all "c3fs-mgmtd/c3fs-node-sim/c3fs-admin not built in $BIN"

PORT=$(t_free_port)
MPORT=$(t_free_port)
M=127.0.0.1:$PORT
ADMIN=(timeout 20 "$BIN/c3fs-admin" --mgmtd "$M" --admin-token secret)

t_daemon mgmtd "$BIN/c3fs-mgmtd" --set server.listen="$M" --set kv.data_dir="$T/mgmtd" \
	--set server.admin_token=secret --set lease.node_lease=2s \
	--set metrics.listen=127.0.0.1:$MPORT
t_wait_port "$PORT" 20
t_ok $? "mgmtd listens"

start_node() { # id
	t_daemon "node$1" "$BIN/c3fs-node-sim" --mgmtd "$M" --type storage --node-id "$1" \
		--addr "127.0.0.1:$((30000 + $1))" --targets "${1}01,${1}02" \
		--heartbeat-ms 200 --state-file "$T/state$1"
}
for n in 1 2 3; do : >"$T/state$n"; start_node $n; done

targets_json() { "${ADMIN[@]}" --json list-targets; }
chains_json() { "${ADMIN[@]}" --json list-chains; }
tstate() { targets_json | jq -r ".targets[] | select(.id==$1) | .state"; }

t_wait_for 20 '[ "$(targets_json | jq ".targets | length")" = 6 ]'
t_ok $? "six targets registered from heartbeats"

out=$("${ADMIN[@]}" create-chain-table --replicas 3 --name default)
t_ok $? "create-chain-table: $out"
c=$(chains_json)
t_is "$(echo "$c" | jq '.chains | length')" 2 "two chains"
t_is "$(echo "$c" | jq '[.chains[].targets[].state] | unique | join(",")' -r)" serving \
	"all members serving"
# each chain spans three distinct nodes
t_is "$(echo "$c" | jq '[.chains[] | [.targets[].id / 100 | floor] | unique | length] | join(",")' -r)" \
	"3,3" "replicas on distinct nodes"
v1=$(echo "$c" | jq '[.chains[].version] | join(",")' -r)

# start a client (pure client node) that prints routing versions
t_daemon client "$BIN/c3fs-node-sim" --mgmtd "$M" --type client --heartbeat-ms 300
t_wait_for 20 'grep -q "^ready" "$T/client.log"'
t_ok $? "client registered"

# --- kill -9 node 2 -------------------------------------------------------------------
t_kill node2 KILL
t_wait_for 20 '[ "$(tstate 201)" = offline ] && [ "$(tstate 202)" = offline ]'
t_ok $? "node 2's targets offline after its lease expired"
st=$("${ADMIN[@]}" --json status)
t_is "$(echo "$st" | jq .nodes.down)" 1 "status: one node down"
t_is "$(echo "$st" | jq .chains.degraded)" 2 "status: both chains degraded"
c=$(chains_json)
v2=$(echo "$c" | jq '[.chains[].version] | join(",")' -r)
t_ok "$([ "$v1" != "$v2" ] && echo 0 || echo 1)" "chain versions bumped ($v1 -> $v2)"
t_is "$(echo "$c" | jq -r '[.chains[] | .targets[-1].state] | join(",")')" "offline,offline" \
	"failed member moved to the tail"
t_is "$(echo "$c" | jq -r '[.chains[] | [.targets[] | select(.state=="serving")] | length] | join(",")')" \
	"2,2" "two serving replicas left per chain"

# --- restart node 2 with stale contents (online) ----------------------------------------
printf '201 online\n202 online\n' >"$T/state2"
start_node 2
t_wait_for 20 '[ "$(tstate 201)" = syncing ] && [ "$(tstate 202)" = syncing ]'
t_ok $? "returning targets are syncing"
t_is "$(chains_json | jq -r '[.chains[] | .targets[-1].state] | join(",")')" "syncing,syncing" \
	"syncing member at the tail"
printf '201 uptodate\n202 uptodate\n' >"$T/state2"
t_wait_for 20 '[ "$(tstate 201)" = serving ] && [ "$(tstate 202)" = serving ]'
t_ok $? "sync completion (local uptodate) makes them serving"

# --- node 3 restarts before its lease expires: old incarnation fails first ----------------
v3=$(chains_json | jq '[.chains[].version] | add')
printf '301 online\n302 online\n' >"$T/state3"
t_kill node3 KILL
start_node 3
t_wait_for 20 'grep -q "node 3 restarted" "$T/mgmtd.log"'
t_ok $? "mgmtd saw the new incarnation of node 3"
t_wait_for 20 '[ "$(tstate 301)" = syncing ]'
t_ok $? "node 3's targets re-enter through syncing, not serving"
v4=$(chains_json | jq '[.chains[].version] | add')
t_ok "$([ "$v4" -ge $((v3 + 4)) ] && echo 0 || echo 1)" \
	"both chains went offline then syncing for node 3 (versions $v3 -> $v4)"
printf '301 uptodate\n302 uptodate\n' >"$T/state3"
t_wait_for 20 '[ "$(tstate 301)" = serving ] && [ "$(tstate 302)" = serving ]'
t_ok $? "node 3 serving again"

# --- a stale client is corrected --------------------------------------------------------
cpid=$(t_pid client)
kill -STOP "$cpid"
"${ADMIN[@]}" offline-node 1 >/dev/null
want=$("${ADMIN[@]}" --json status | jq .routing_version)
kill -CONT "$cpid"
t_wait_for 20 'awk "/^routing/ {v=\$2} END {exit !(v >= $want)}" "$T/client.log"'
t_ok $? "stopped client caught up to routing version $want after resuming"
"${ADMIN[@]}" online-node 1 >/dev/null

# --- metrics ----------------------------------------------------------------------------
met=$(curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics")
echo "$met" | grep -q '^c3fs_mgmtd_nodes{state="up"} 3' 
t_ok $? "metrics: 3 nodes up"
echo "$met" | grep -qE '^c3fs_mgmtd_chains\{health="(healthy|degraded)"\} [12]'
t_ok $? "metrics: chain health gauges"
echo "$met" | grep -q '^c3fs_mgmtd_is_leader 1'
t_ok $? "metrics: leader gauge"

# --- mgmtd dies: nodes lose their lease; it restarts: everything comes back ------------
before=$(chains_json | jq -c '[.chains[] | {id, targets: [.targets[].id]}]')
t_kill mgmtd KILL
t_wait_for 10 'grep -q "^lease lost" "$T/node1.log" && grep -q "^lease lost" "$T/node3.log"'
t_ok $? "storage nodes declare their lease lost when mgmtd is gone"
t_daemon mgmtd2 "$BIN/c3fs-mgmtd" --set server.listen="$M" --set kv.data_dir="$T/mgmtd" \
	--set server.admin_token=secret --set lease.node_lease=2s
t_wait_for 30 '[ "$("${ADMIN[@]}" --json status | jq .nodes.up)" = 3 ]'
t_ok $? "restarted mgmtd (same data dir) sees the three nodes again"
t_is "$(chains_json | jq -c '[.chains[] | {id, targets: [.targets[].id]}]')" "$before" \
	"chains survived the restart"
t_wait_for 20 '[ "$(grep -c "^lease valid" "$T/node1.log")" -ge 2 ]'
t_ok $? "node 1 holds a valid lease again"

for n in node1 node2 node3 client; do t_kill $n TERM; done
t_kill mgmtd2 TERM
t_done
