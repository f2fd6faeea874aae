#!/usr/bin/env bash
# bench/mgmtd.sh — the cluster manager under load and under failure, on 127.0.0.1:
#   1. heartbeat throughput and latency: c3fs-bench-mgmtd registers MGMTD_BENCH_NODES storage
#      nodes with 6 targets each and heartbeats them from 4 threads for 5 s (every heartbeat
#      carries the 6 target reports with changing free space);
#   2. routing snapshot size and fetch cost after a 3-replica chain table over all targets;
#   3. failure detection: kill -9 of a storage node (node lease 2 s) until its targets show
#      offline through c3fs-admin;
#   4. failover: kill -9 of the leader of 3 mgmtd on one LMDB dir (leader lease 2 s) until
#      a standby answers as leader.
# Prints a Markdown section.  Env: MGMTD_BENCH_NODES (default 200), MGMTD_BENCH_DIR
# (default /var/tmp).
set -u
ROOT=${C3FS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${C3FS_BIN_DIR:-$ROOT/build/bin}
NODES=${MGMTD_BENCH_NODES:-200}
for x in c3fs-mgmtd c3fs-bench-mgmtd c3fs-admin c3fs-node-sim; do
	[ -x "$BIN/$x" ] || { echo "no $BIN/$x (make BUILD=release programs)"; exit 1; }
done
W=$(mktemp -d "${MGMTD_BENCH_DIR:-/var/tmp}/c3fs-mgbench.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$W"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
wait_port() { for ((i = 0; i < 100; i++)); do ss -Htln "sport = :$1" | grep -q . && return 0; sleep 0.1; done; return 1; }

echo "Command: \`MGMTD_BENCH_NODES=$NODES bench/mgmtd.sh\` (release build, $(nproc) CPUs, LMDB in ${MGMTD_BENCH_DIR:-/var/tmp})"
echo
echo "| measurement | value |"
echo "|---|---|"

# 1 + 2 -------------------------------------------------------------------------------
P=$(port)
"$BIN/c3fs-mgmtd" --set server.listen=127.0.0.1:$P --set kv.data_dir="$W/m1" \
	--set server.admin_token=adm --set lease.node_lease=60s --set log.level=warn \
	>"$W/m1.log" 2>&1 &
PIDS+=($!)
wait_port "$P" || { echo "mgmtd did not start"; exit 1; }
"$BIN/c3fs-bench-mgmtd" --mgmtd 127.0.0.1:$P --admin-token adm --nodes "$NODES" \
	--targets-per-node 6 --threads 4 --seconds 5
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null; PIDS=()

# 3 -----------------------------------------------------------------------------------
P=$(port)
"$BIN/c3fs-mgmtd" --set server.listen=127.0.0.1:$P --set kv.data_dir="$W/m2" \
	--set server.admin_token=adm --set lease.node_lease=2s --set log.level=warn \
	>"$W/m2.log" 2>&1 &
PIDS+=($!)
wait_port "$P"
for n in 1 2 3; do
	"$BIN/c3fs-node-sim" --mgmtd 127.0.0.1:$P --type storage --node-id $n \
		--addr 127.0.0.1:$((45000 + n)) --targets ${n}01 --heartbeat-ms 200 >/dev/null 2>&1 &
	PIDS+=($!)
done
A=("$BIN/c3fs-admin" --mgmtd 127.0.0.1:$P --admin-token adm)
for ((i = 0; i < 100; i++)); do
	[ "$("${A[@]}" --json list-targets 2>/dev/null | grep -o '"serving"' | wc -l)" = 3 ] && break
	sleep 0.1
done
"${A[@]}" create-chain-table --replicas 3 >/dev/null
t0=$(now_ms)
kill -9 "${PIDS[2]}"; wait "${PIDS[2]}" 2>/dev/null
for ((i = 0; i < 200; i++)); do
	"${A[@]}" --json list-chains | grep -q '"id":201,"state":"offline"' && break
	sleep 0.05
done
t1=$(now_ms)
echo "| storage node kill -9 -> its target offline in routing (node lease 2000 ms, heartbeat 200 ms) | $((t1 - t0)) ms |"
for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; PIDS=()

# 4 -----------------------------------------------------------------------------------
PS=($(port) $(port) $(port))
ADDRS="127.0.0.1:${PS[0]},127.0.0.1:${PS[1]},127.0.0.1:${PS[2]}"
for i in 0 1 2; do
	"$BIN/c3fs-mgmtd" --set server.listen=127.0.0.1:${PS[$i]} --set kv.uri="lmdb:$W/shared" \
		--set lease.leader_lease=2s --set log.level=warn >"$W/f$i.log" 2>&1 &
	PIDS+=($!)
done
for i in 0 1 2; do wait_port "${PS[$i]}"; done
leader() { "$BIN/c3fs-admin" --mgmtd "$ADDRS" --json leader 2>/dev/null | sed -n 's/.*"leader":"\([^"]*\)".*/\1/p'; }
for ((i = 0; i < 100; i++)); do L=$(leader); [ -n "$L" ] && break; sleep 0.1; done
for i in 0 1 2; do [ "127.0.0.1:${PS[$i]}" = "$L" ] && LI=$i; done
t0=$(now_ms)
kill -9 "${PIDS[$LI]}"; wait "${PIDS[$LI]}" 2>/dev/null
for ((i = 0; i < 400; i++)); do
	N=$(leader); [ -n "$N" ] && [ "$N" != "$L" ] && break
	sleep 0.02
done
t1=$(now_ms)
echo "| mgmtd leader kill -9 -> standby leads (leader lease 2000 ms; bound 7/8 = 1750 ms) | $((t1 - t0)) ms |"
