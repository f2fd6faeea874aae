#!/usr/bin/env bash
# timeout: 150
# mgmtd_storage.sh — mgmtd with three real c3fs-storage daemons (routing from mgmtd):
#   their targets register through heartbeats, create-chain-table builds 3-replica chains,
#   kill -9 of one storage node takes its targets out of every chain (versions bumped),
#   and a restart brings them back through syncing to serving.  Skips when c3fs-storage
#   is not built.
. "$(dirname "$0")/../lib/common.sh"
t_init
command -v jq >/dev/null || t_skip_all "jq not installed"
for b in c3fs-mgmtd c3fs-admin c3fs-storage; do
	[ -x "$BIN/$b" ] || t_skip_all "$b not built in $BIN"
done

PORT=$(t_free_port)
M=127.0.0.1:$PORT
A=(timeout 20 "$BIN/c3fs-admin" --mgmtd "$M" --token tok --admin-token adm)
t_daemon mgmtd "$BIN/c3fs-mgmtd" --set server.listen="$M" --set kv.data_dir="$T/mgmtd" \
	--set server.token=tok --set server.admin_token=adm --set lease.node_lease=3s
t_wait_port "$PORT" 20
t_ok $? "mgmtd listens"

declare -A SP
start_storage() { # n
	mkdir -p -m 0700 "$T/s$1/a" "$T/s$1/b"
	t_daemon "storage$1" "$BIN/c3fs-storage" --set server.node_id="$1" \
		--set server.listen="127.0.0.1:${SP[$1]}" --set server.token=tok \
		--set storage.targets="${1}01:$T/s$1/a,${1}02:$T/s$1/b" \
		--set storage.io_engine=psync --set mgmtd.addrs="$M" --set mgmtd.heartbeat=300ms
}
for n in 1 2 3; do SP[$n]=$(t_free_port); start_storage $n; done
tstate() { "${A[@]}" --json list-targets | jq -r ".targets[] | select(.id==$1) | .state"; }
t_wait_for 40 '[ "$("${A[@]}" --json list-targets | jq "[.targets[] | select(.state==\"serving\")] | length")" = 6 ]'
t_ok $? "six storage targets registered and alive"
t_is "$("${A[@]}" --json list-nodes | jq -c '[.nodes[] | .type] | unique')" '["storage"]' \
	"three storage nodes"
"${A[@]}" create-chain-table --replicas 3 --name default >/dev/null
t_ok $? "create-chain-table over real storage targets"
t_is "$("${A[@]}" --json status | jq .chains.healthy)" 2 "two healthy chains"
t_ok "$([ "$("${A[@]}" --json list-targets | jq '[.targets[].free_bytes] | min')" -gt 0 ] && echo 0 || echo 1)" \
	"storage reports free space"

t_kill storage2 KILL
t_wait_for 20 '[ "$(tstate 201)" = offline ] && [ "$(tstate 202)" = offline ]'
t_ok $? "killed storage node: its targets offline"
t_is "$("${A[@]}" --json status | jq -c '[.nodes.down, .chains.degraded]')" "[1,2]" \
	"one node down, both chains degraded"
start_storage 2
t_wait_for 40 'grep -q "target 201 offline -> syncing" "$T/mgmtd.log"'
t_ok $? "restarted storage target goes through syncing"
t_wait_for 40 '[ "$(tstate 201)" = serving ] && [ "$(tstate 202)" = serving ]'
t_ok $? "and serves again"
t_is "$("${A[@]}" --json status | jq .chains.healthy)" 2 "chains healthy again"

for n in 1 2 3; do t_kill storage$n TERM; done
t_kill mgmtd TERM
t_done
