#!/usr/bin/env bash
# timeout: 150
# mgmtd_failover.sh — three c3fs-mgmtd sharing one LMDB directory (multi-process safe):
#   - exactly one leads; the standbys redirect (admin and nodes reach the leader through
#     any address);
#   - kill -9 the leader: a standby leads within one leader lease period, the storage
#     nodes and the client follow it (their routing shows the new leader) and keep their
#     lease;
#   - the configuration survives: chains, tables and versions are the same after the
#     takeover and after restarting every mgmtd (routing version only grows).
# MGMTD_FAILOVER_KV=<uri> runs the same scenario on another shared KV (mgmtd_failover_pg.sh
# uses a PostgreSQL server).
. "$(dirname "$0")/../lib/common.sh"
t_init
command -v jq >/dev/null || t_skip_all "jq not installed"
[ -x "$BIN/c3fs-mgmtd" ] && [ -x "$BIN/c3fs-node-sim" ] && [ -x "$BIN/c3fs-admin" ] ||
	t_skip_all "c3fs-mgmtd/c3fs-node-sim/c3fs-admin not built in $BIN"

LEASE_MS=3000
P=($(t_free_port) $(t_free_port) $(t_free_port))
ADDRS="127.0.0.1:${P[0]},127.0.0.1:${P[1]},127.0.0.1:${P[2]}"
ADMIN=(timeout 20 "$BIN/c3fs-admin" --mgmtd "$ADDRS" --token tok --admin-token secret)

start_mgmtd() { # index
	t_daemon "mgmtd$1" "$BIN/c3fs-mgmtd" --set server.listen="127.0.0.1:${P[$1]}" \
		--set kv.uri="${MGMTD_FAILOVER_KV:-lmdb:$T/shared-kv}" --set server.token=tok \
		--set server.admin_token=secret --set lease.node_lease=6s \
		--set lease.leader_lease=${LEASE_MS}ms
}
leader() { "${ADMIN[@]}" --json leader | jq -r .leader; }

for i in 0 1 2; do start_mgmtd $i; done
for i in 0 1 2; do t_wait_port "${P[$i]}" 20 || break; done
t_ok $? "three mgmtd listen"
t_wait_for 20 '[ -n "$(leader)" ]'
L1=$(leader)
t_ok "$([ -n "$L1" ] && echo 0 || echo 1)" "one leader: $L1"
# every mgmtd names the same leader; standbys refuse to serve routing themselves
same=0
for i in 0 1 2; do
	l=$(timeout 10 "$BIN/c3fs-admin" --mgmtd "127.0.0.1:${P[$i]}" --token tok --json leader | jq -r .leader)
	[ "$l" = "$L1" ] || same=1
done
t_ok $same "all three agree on the leader"
n_leaders=$(grep -l "now the mgmtd leader" "$T"/mgmtd*.log | wc -l)
t_is "$n_leaders" 1 "exactly one process took the lease"

for n in 1 2 3; do
	t_daemon "node$n" "$BIN/c3fs-node-sim" --mgmtd "$ADDRS" --token tok --type storage \
		--node-id $n --addr "127.0.0.1:$((31000 + n))" --targets "${n}01,${n}02" \
		--heartbeat-ms 300
done
t_daemon client "$BIN/c3fs-node-sim" --mgmtd "$ADDRS" --token tok --type client \
	--heartbeat-ms 300
t_wait_for 30 '[ "$("${ADMIN[@]}" --json list-targets | jq ".targets | length")" = 6 ]'
t_ok $? "nodes registered through the address list"
"${ADMIN[@]}" create-chain-table --replicas 3 --name default >/dev/null
t_ok $? "chain table created"
before=$("${ADMIN[@]}" --json list-chains | jq -c '[.chains[] | {id, targets: [.targets[].id]}]')
tables_before=$("${ADMIN[@]}" --json list-chain-tables | jq -c '.chain_tables')
v_before=$("${ADMIN[@]}" --json status | jq .routing_version)
t_wait_for 20 'grep -q "^ready" "$T/client.log"'
t_ok $? "client ready"

# --- kill -9 the leader --------------------------------------------------------------
for i in 0 1 2; do [ "127.0.0.1:${P[$i]}" = "$L1" ] && LI=$i; done
t0=$(date +%s%N)
t_kill "mgmtd$LI" KILL
new=""
for ((k = 0; k < 100; k++)); do
	new=$(leader 2>/dev/null)
	[ -n "$new" ] && [ "$new" != "$L1" ] && break
	sleep 0.1
done
t1=$(date +%s%N)
seen=$(( (t1 - t0) / 1000000 ))
t_ok "$([ -n "$new" ] && [ "$new" != "$L1" ] && echo 0 || echo 1)" "a standby leads: $new"
# when did it become leader?  Its own log line (UTC, microseconds) against the kill time,
# so the CLI polling above adds nothing to the figure
for i in 0 1 2; do [ "127.0.0.1:${P[$i]}" = "$new" ] && NI=$i; done
ts=$(grep "now the mgmtd leader" "$T/mgmtd$NI.log" | tail -1 | cut -d' ' -f1)
led=$(date -u -d "$(echo "$ts" | sed 's/T/ /; s/Z$//')" +%s%N 2>/dev/null)
took=$(( (led - t0) / 1000000 ))
echo "# takeover ${took} ms after kill -9 (seen by the CLI after ${seen} ms); leader lease ${LEASE_MS} ms"
t_ok "$([ -n "$led" ] && [ "$took" -gt 0 ] && [ "$took" -le "$LEASE_MS" ] && echo 0 || echo 1)" \
	"standby led within one leader lease: ${took} ms"
after=$("${ADMIN[@]}" --json list-chains | jq -c '[.chains[] | {id, targets: [.targets[].id]}]')
t_is "$after" "$before" "chains unchanged by the takeover"
t_is "$("${ADMIN[@]}" --json list-chain-tables | jq -c '.chain_tables')" "$tables_before" \
	"chain tables unchanged by the takeover"
v_after=$("${ADMIN[@]}" --json status | jq .routing_version)
t_ok "$([ "$v_after" -gt "$v_before" ] && echo 0 || echo 1)" \
	"routing version grew across the takeover ($v_before -> $v_after)"
t_wait_for 20 'grep -q "leader=$new" "$T/client.log"'
t_ok $? "client follows the new leader"
t_wait_for 20 'grep -q "leader=$new" "$T/node1.log"'
t_ok $? "storage node follows the new leader"
lost=$(grep -c "^lease lost" "$T"/node*.log | awk -F: '{s+=$2} END {print s+0}')
t_is "$lost" 0 "no storage node lost its lease during the takeover"
sleep 1
t_is "$("${ADMIN[@]}" --json status | jq -c '[.nodes.up, .chains.healthy]')" "[3,2]" \
	"all nodes up and chains healthy under the new leader"

# --- restart every mgmtd: configuration persists ---------------------------------------
for i in 0 1 2; do t_kill "mgmtd$i" TERM; done
for i in 0 1 2; do start_mgmtd $i; done
t_wait_for 30 '[ -n "$(leader)" ]'
t_ok $? "a leader after restarting all mgmtd"
t_wait_for 20 '[ "$("${ADMIN[@]}" --json status | jq .nodes.up)" = 3 ]'
t_is "$("${ADMIN[@]}" --json list-chains | jq -c '[.chains[] | {id, targets: [.targets[].id]}]')" \
	"$before" "chains persisted"
t_is "$("${ADMIN[@]}" --json list-chain-tables | jq -c '.chain_tables')" "$tables_before" \
	"chain tables persisted"
v_restart=$("${ADMIN[@]}" --json status | jq .routing_version)
t_ok "$([ "$v_restart" -gt "$v_after" ] && echo 0 || echo 1)" \
	"routing version still grows after a full restart ($v_after -> $v_restart)"

for n in node1 node2 node3 client; do t_kill $n TERM; done
for i in 0 1 2; do t_kill "mgmtd$i" TERM; done
t_done
