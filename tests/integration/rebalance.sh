#!/usr/bin/env bash
# timeout: 300
# rebalance: a fourth and a fifth storage node join a cluster of three (2 chains of 3
# replicas on nodes 1-3); `c3fs-admin rebalance` moves one replica at a time onto them
# (add the new target, wait until it serves, remove the old) while a writer keeps writing;
# every file, written before and during the moves, reads back intact, also with the most
# loaded old node killed afterwards; chain-membership refusals (a target already in a
# chain, two replicas on one node, removing a member while another does not serve).
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
command -v jq >/dev/null || t_skip_all "jq not installed"
C_CHUNK_SIZE=256K C_STRIPE=2
c_start 3 2 3 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt
c_mount "$M" --set cluster.write_wait=120s || { t_ok 1 "mount"; t_done; }
A=(timeout 60 "$BIN/c3fs-admin" --mgmtd "$C_MGMTD" --token "$C_TOKEN" --admin-token "$C_ADMIN_TOKEN")
members() { "${A[@]}" --json list-chains | jq -r ".chains[] | select(.id==$1) | [.targets[].id] | sort | join(\" \")"; }
all_serving() { "${A[@]}" --json list-targets | jq -e '[.targets[] | select(.chain > 0 and .state != "serving")] | length == 0' >/dev/null; }

mkdir -p "$M/d" "$T/ref"
for i in $(seq 1 6); do
	head -c $((i * 300000 + 7)) /dev/urandom > "$T/ref/f$i"
	cp "$T/ref/f$i" "$M/d/f$i"
done
sync

# refusals first, on the healthy cluster
"${A[@]}" add-chain-target 1 "$(members 2 | cut -d' ' -f1)" >/dev/null 2>&1
t_is "$?" 3 "a target already in a chain cannot join another"

for n in 4 5; do
	mkdir -p -m 0700 "$C_TARGET_ROOT/s$n/t1" "$C_TARGET_ROOT/s$n/t2"
	C_STORAGE_TARGETS[$n]="${n}01:$C_TARGET_ROOT/s$n/t1,${n}02:$C_TARGET_ROOT/s$n/t2"
	C_STORAGE_PORT[$n]=$(t_free_port)
	c_start_storage "$n"
done
t_wait_for 30 '[ "$("${A[@]}" --json list-targets | jq "[.targets[] | select(.id > 400)] | length")" = 4 ]'
t_ok $? "nodes 4 and 5 registered with two unused targets each"
"${A[@]}" add-chain-target 1 402 >/dev/null 2>&1 && "${A[@]}" add-chain-target 1 401 >/dev/null 2>&1
t_is "$?" 3 "two replicas of one chain on one node are refused"
t_wait_for 60 all_serving
"${A[@]}" remove-chain-target 1 402 >/dev/null 2>&1
t_ok $? "remove-chain-target of the extra member once every member serves"
t_is "$(members 1 | wc -w)" 3 "chain 1 is back to three members"

"${A[@]}" rebalance --dry-run > "$T/dry.out" 2>&1
grep -q "^move: chain" "$T/dry.out"
t_ok $? "rebalance --dry-run names a move: $(head -1 "$T/dry.out")"

# a writer runs through the moves
( i=0; while [ ! -e "$T/stop" ]; do
	i=$((i + 1))
	head -c $((100000 + i * 7919)) /dev/urandom > "$T/ref/w$i"
	cp "$T/ref/w$i" "$M/d/w$i" && echo "w$i" >> "$T/written"
done ) &
WP=$!
"${A[@]}" rebalance > "$T/rb.out" 2>&1
rc=$?
touch "$T/stop"
wait "$WP"
t_is "$rc" 0 "rebalance ends: $(tail -1 "$T/rb.out")"
t_is "$(grep -c '^moved:' "$T/rb.out")" 2 "two replicas moved"
t_ok 0 "chains now: [$(members 1)] [$(members 2)]"
new=$( (members 1; members 2) | tr ' ' '\n' | grep -c '^[45]0')
t_is "$new" 2 "the new nodes hold two replicas"
t_ok "$(all_serving; echo $?)" "every member serving"
t_is "$(members 1 | wc -w)/$(members 2 | wc -w)" "3/3" "three replicas per chain"

sync; echo 3 > /proc/sys/vm/drop_caches
acked() { seq -f 'f%g' 1 6; cat "$T/written"; }   # acknowledged writes only
bad=0 n=0
for f in $(acked); do
	n=$((n + 1))
	cmp -s "$T/ref/$f" "$M/d/$f" || { bad=$((bad + 1)); echo "# $f differs"; }
done
t_is "$bad" 0 "all $n files (6 before, $(wc -l < "$T/written") written during the moves) intact"

# the node that still holds the most replicas dies: the moved chains still have three
busiest=$("${A[@]}" --json list-targets | jq -r '[.targets[] | select(.chain > 0) | .node] | group_by(.) | max_by(length) | .[0]')
c_kill_storage "$((busiest - 100))" KILL
echo 3 > /proc/sys/vm/drop_caches
bad=0
for f in $(acked); do
	cmp "$T/ref/$f" "$M/d/$f" > "$T/cmp.out" 2>&1 ||
		{ bad=$((bad + 1)); echo "# $f: $(cat "$T/cmp.out")"; }
done
t_is "$bad" 0 "with node $busiest killed every file still reads back"
# a chain with a member on the dead node: removing one of its other members is refused
"${A[@]}" --json list-targets > "$T/lt.json"
dchain=$(jq -r "[.targets[] | select(.node == $busiest and .chain > 0)][0].chain" "$T/lt.json")
dtarget=$(jq -r "[.targets[] | select(.node == $busiest and .chain > 0)][0].id" "$T/lt.json")
tstate() { "${A[@]}" --json list-targets | jq -r ".targets[] | select(.id == $1) | .state"; }
t_wait_for 30 '[ "$(tstate "$dtarget")" != serving ]'
other=$(members "$dchain" | tr ' ' '\n' | grep -vx "$dtarget" | head -1)
"${A[@]}" remove-chain-target "$dchain" "$other" >/dev/null 2>&1
t_is "$?" 3 "removing a member of chain $dchain while another does not serve is refused"
t_done
