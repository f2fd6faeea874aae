#!/usr/bin/env bash
# timeout: 240
# The multi-host deployment of docs/OPERATIONS.md followed step by step on seven
# network-namespace hosts (tests/integration/ops_lib.sh), with the problems operators hit
# before (issue "Across real hosts") reproduced and checked:
#   1. a meta listening on 0.0.0.0 without server.advertise refuses to start (with the
#      fix in its message); with advertise it registers its real address; a meta on a
#      loopback address on another host is refused by mgmtd, both sides log why; creates
#      stay fast while one of two metas is unreachable (skipped, probed, back);
#   3. no per-heartbeat / per-second log lines after an mgmtd and meta outage;
#   5. every default port agrees (c3fs-fuse finds mgmtd at its default port);
#   6. kill -9 of the mgmtd leader under a read loop: no storage node stops serving;
#   7. remove-node (refused while alive or in chains), pids kept across the failover, a
#      reused target directory names the id found there.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/ops_lib.sh"
t_init
ops_need
trap ops_finish EXIT
ns_setup 7 || t_skip_all "cannot create network namespaces"

# defaults agree: mgmtd's default listen port is the port c3fs-fuse looks for
mg_port=$("$BIN/c3fs-mgmtd" --print-config-doc=sample | sed -n 's/^listen = .*:\([0-9]*\)$/\1/p' | head -1)
fu_port=$("$BIN/c3fs-fuse" --print-config-doc=sample | sed -n 's/^mgmtd = .*:\([0-9]*\)$/\1/p' | head -1)
t_is "$mg_port" "$fu_port" "mgmtd's default port is c3fs-fuse's default cluster.mgmtd port"

ops_pg; t_ok $? "step 1: PostgreSQL on h1 with roles and databases for mgmtd and meta"
ops_mgmtd a 2; t_ok $? "step 2: mgmtd a on h2"
ops_mgmtd b 3; t_ok $? "step 2: mgmtd b on h3"
for i in $(seq 50); do grep -q "standby mgmtd: the leader is $(ns_addr 2):9000" "$T/mgmtd-b.log" && break; sleep 0.1; done
grep -q "standby mgmtd: the leader is $(ns_addr 2):9000" "$T/mgmtd-b.log"
t_ok $? "mgmtd b is a standby naming the leader"

up=0
for n in 21 22 23; do ops_storage "$n" $((n - 17)) && up=$((up + 1)); done
t_is "$up" 3 "step 3: three storage nodes on h4..h6"
ops_table; t_ok $? "step 3: chain table with 3 replicas"

# problem 1: a wildcard listen address without advertise
ops_meta 19 2 server.listen=0.0.0.0:9009
for i in $(seq 100); do kill -0 "$(t_pid meta19)" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$(t_pid meta19)" 2>/dev/null; t_ok $? "a meta on 0.0.0.0 without server.advertise refuses to start"
unset 'T_PIDS[meta19]'
grep -q "set server.advertise" "$T/meta19.log"; t_ok $? "and says to set server.advertise"

ops_meta 11 2 server.listen=0.0.0.0:9001 server.advertise="$(ns_addr 2):9001"
ops_meta 12 3
ns_port_up 2 9001 && ns_port_up 3 9001; t_ok $? "step 4: meta 11 (0.0.0.0 + advertise) and meta 12 listen"
for i in $(seq 100); do [ "$(ops_admin list-nodes 2>/dev/null | grep -c ' meta ')" -ge 2 ] && break; sleep 0.1; done
ops_admin list-nodes | grep -q "$(ns_addr 2):9001"; t_ok $? "meta 11 registered its advertised address"
ops_admin list-nodes | grep -q '0\.0\.0\.0'; t_ok $((! $?)) "no node is registered at 0.0.0.0"

# a meta on loopback, on another host than mgmtd: refused with the reason on both sides
ops_meta 18 3 server.listen=127.0.0.1:9008
for i in $(seq 100); do grep -q "C3FS_EADVERTISE\|set server.advertise" "$T/meta18.log" && break; sleep 0.1; done
grep -q "set server.advertise" "$T/meta18.log"; t_ok $? "a loopback meta on another host is told to set server.advertise"
cat "$T"/mgmtd-a.log | grep -q "node 18 refused: loopback address 127.0.0.1:9008"
t_ok $? "mgmtd logs the refusal with the address"
kill -TERM "$(t_pid meta18)"; wait "$(t_pid meta18)" 2>/dev/null; unset 'T_PIDS[meta18]'
ops_admin list-nodes | grep -qE '^ *18 '; t_ok $((! $?)) "the refused node is not in the cluster"

ops_mount 7 cluster.rpc_timeout=3s cluster.meta_wait=20s
t_ok $? "step 5: mounted on h7 (c3fs-fuse --config, both mgmtd addresses)"
head -c $((4 << 20)) /dev/urandom >"$T/A"
cp "$T/A" "$OPS_MNT/A" && cmp -s "$T/A" "$OPS_MNT/A"; t_ok $? "step 6: a file written and read back"

s0=$(date +%s%N)
for i in $(seq 40); do echo "$i" >"$OPS_MNT/f$i" || break; done
ms=$(( ($(date +%s%N) - s0) / 1000000 ))
t_ok $([ "$i" = 40 ] && [ "$ms" -lt 8000 ] && echo 0 || echo 1) "40 creates over two metas in ${ms} ms"

# one meta host cut off: the client skips it after the first failure
ns_cut 3
s0=$(date +%s%N)
for i in $(seq 40); do echo "$i" >"$OPS_MNT/g$i" || break; done
ms=$(( ($(date +%s%N) - s0) / 1000000 ))
t_ok $([ "$i" = 40 ] && [ "$ms" -lt 15000 ] && echo 0 || echo 1) \
	"40 creates with meta 12 cut off in ${ms} ms (rpc_timeout 3 s: a timeout per create would be 60 s)"
n=$(grep -c "meta server $(ns_addr 3):9001 unreachable" "$T/fuse.log")
t_is "$n" 1 "the client logged meta 12 unreachable once"
ns_heal 3
for i in $(seq 100); do grep -q "meta server $(ns_addr 3):9001 answers again" "$T/fuse.log" && break; sleep 0.1; done
grep -q "meta server $(ns_addr 3):9001 answers again" "$T/fuse.log"
t_ok $? "the background probe found meta 12 again"

# problem 7: remove-node; a node started by mistake
ops_storage 29 6 9109; t_ok $? "storage node 29 started by mistake on h6"
for i in $(seq 100); do ops_admin list-nodes 2>/dev/null | grep -qE '^ *29 .* up' && break; sleep 0.1; done
ops_admin remove-node 29 >/dev/null 2>"$T/rm.err"; rc=$?
t_is "$rc" 3 "remove-node of an alive node is refused (exit 3)"
grep -q "alive" "$T/rm.err"; t_ok $? "the refusal says it is alive"
ops_admin remove-node 21 >/dev/null 2>"$T/rm.err"; rc=$?
t_is "$rc" 3 "remove-node of a node with targets in chains is refused"
grep -q "in chains" "$T/rm.err"; t_ok $? "the refusal names the chains"
kill -TERM "$(t_pid storage29)"; wait "$(t_pid storage29)" 2>/dev/null; unset 'T_PIDS[storage29]'
for i in $(seq 150); do ops_admin list-nodes 2>/dev/null | grep -qE '^ *29 .* down' && break; sleep 0.1; done
ops_admin remove-node 29 >/dev/null; t_ok $? "remove-node once it is down"
ops_admin list-nodes | grep -qE '^ *29 '; t_ok $((! $?)) "node 29 is gone from list-nodes"
ops_admin list-targets | grep -qE '^ *290[12] '; t_ok $((! $?)) "and its targets from list-targets"

# a target directory reused under another id
sed -i "s/^node_id = 29/node_id = 28/; s/2901:/2801:/; s/2902:/2802:/" "$T/storage29.ini"
ns_exec 6 "$BIN/c3fs-storage" --config "$T/storage29.ini" >"$T/storage28.log" 2>&1
t_ok $((! $?)) "a target directory reused under another id is refused"
grep -q "holds target 2901, configured here as target 2801" "$T/storage28.log"
t_ok $? "the error names the id found there"

# problem 6: kill -9 of the leader under a read loop
: >"$T/reads"
( end=$((SECONDS + 14))
  while [ $SECONDS -lt $end ]; do
	echo 3 >/proc/sys/vm/drop_caches
	if cmp -s "$T/A" "$OPS_MNT/A"; then echo ok >>"$T/reads"; else echo bad >>"$T/reads"; fi
	sleep 0.2
  done ) &
rl=$!
sleep 2
kill -KILL "$(t_pid mgmtd-a)"; unset 'T_PIDS[mgmtd-a]'
for i in $(seq 100); do ops_admin leader 2>/dev/null | grep -q "$(ns_addr 3):9000" && break; sleep 0.1; done
ops_admin leader | grep -q "$(ns_addr 3):9000"; t_ok $? "mgmtd b leads after kill -9 of a"
wait "$rl"
t_is "$(grep -c bad "$T/reads")" 0 "every read during the takeover was intact ($(grep -c ok "$T/reads") reads)"
n=$(grep -c "stops serving" "$T"/storage2[123].log | awk -F: '{s += $2} END {print s + 0}')
t_is "$n" 0 "no storage node stopped serving during the takeover"
ops_admin list-nodes >"$T/nodes"
n=$(awk '($2 == "meta" || $2 == "storage") && $6 != 0' "$T/nodes" | wc -l)
t_is "$n" 5 "list-nodes shows the pid of every meta and storage node after the failover"


# problem 3: after mgmtd and meta outages, no per-heartbeat or per-second lines
sleep 3
for f in storage21 storage22 storage23 meta11 meta12 fuse; do
	n=$(grep -c "acknowledged again" "$T/$f.log")
	[ "$n" -le 2 ] || { t_ok 1 "$f logged 'acknowledged again' $n times"; continue; }
	n=$(grep -c "rpc: .*unreachable\|rpc: connecting to" "$T/$f.log")
	[ "$n" -le 3 ] || { t_ok 1 "$f logged unreachable peers $n times"; continue; }
	t_ok 0 "$f logs each outage once"
done
grep -q "pw-m" "$T"/*.log; t_ok $((! $?)) "no log holds a PostgreSQL password"

fusermount3 -u "$OPS_MNT"; t_ok $? "unmount"
for i in $(seq 100); do kill -0 "$(t_pid fuse)" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$(t_pid fuse)" 2>/dev/null; t_ok $? "c3fs-fuse exits after the unmount"
t_done
