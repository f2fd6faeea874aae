#!/usr/bin/env bash
# bench/storage.sh — one CRAQ chain of 3 replicas (3 c3fs-storage processes on 127.0.0.1, one
# target each, static chain file), a 1-replica chain (to separate replication cost from
# engine cost) and the same bytes on the local file system directly:
# sequential write and read with 1 MiB and 4 MiB requests, 4 KiB random reads at queue
# depth 1 and 32.  Prints a Markdown section.
#   STORAGE_BENCH_TOTAL   bytes per sequential run (default 512M)
#   STORAGE_BENCH_SECONDS seconds per random-read run (default 5)
#   STORAGE_BENCH_DIR     where targets and the local file live (default /var/tmp: a disk)
#   STORAGE_BENCH_QD      requests in flight for the sequential runs (default 4)
set -u
ROOT=${C3FS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${C3FS_BIN_DIR:-$ROOT/build/bin}
TOTAL=${STORAGE_BENCH_TOTAL:-512M}
SECS=${STORAGE_BENCH_SECONDS:-5}
QD=${STORAGE_BENCH_QD:-4}
B=$BIN/c3fs-bench-storage
S=$BIN/c3fs-storage
for x in "$B" "$S"; do [ -x "$x" ] || { echo "no $x (make O=... BUILD=release programs)"; exit 1; }; done
W=$(mktemp -d "${STORAGE_BENCH_DIR:-/var/tmp}/c3fs-stbench.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
{
	echo "version 1"
	for n in 1 2 3; do
		p=$(port)
		echo "node $n 127.0.0.1:$p"
		echo "target ${n}1 $n"
		echo "$p" >"$W/port$n"
	done
	echo "target 12 1"
	echo "chain 1 1 11,21,31"
	echo "chain 2 1 12"
} >"$W/chains"
start_nodes() {
	local n
	for n in 1 2 3; do
		"$S" --set server.node_id=$n --set server.listen=127.0.0.1:$(cat "$W/port$n") \
			--set storage.targets=${n}1:"$W/t$n"$([ $n = 1 ] && echo ",12:$W/t12") \
			--set storage.chain_file="$W/chains" \
			--set server.token=bench --set log.level=warn >>"$W/node$n.log" 2>&1 &
		PIDS+=($!)
	done
	for n in 1 2 3; do
		for _ in $(seq 100); do
			ss -Htln "sport = :$(cat "$W/port$n")" | grep -q . && break
			sleep 0.1
		done
	done
}
stop_nodes() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; PIDS=(); }

c3() { "$B" --mode c3fs --chain-file "$W/chains" --token bench "$@" | awk '/^RESULT/{print $3}'; }
c1() { c3 --chain 2 "$@"; }
loc() { mkdir -p "$W/local"; "$B" --mode local --dir "$W/local" "$@" | awk '/^RESULT/{print $3}'; }
eng() { "$B" --mode engine --dir "$W/engine" "$@" | awk '/^RESULT/{print $3}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0 && a != "") printf "%.2f", a / b; else print "-" }'; }
row() { echo "| $1 | $2 | $3 | $4 | $5 | $6 | $(ratio "$3" "$6") |"; }

echo "Command: \`STORAGE_BENCH_TOTAL=$TOTAL STORAGE_BENCH_SECONDS=$SECS STORAGE_BENCH_QD=$QD bench/storage.sh\`"
echo "(release build).  Chain of 3 replicas, all on this host over loopback TCP, each replica"
echo "on $(df -P "$W" | awk 'NR==2{print $1}') ($(stat -f -c %T "$W")); chunk size 4 MiB; every write is"
echo "replicated to 3 targets and fsync'd (data + LMDB) on each before it is acknowledged."
echo "Local baseline: one file, pwrite + fdatasync per request, pread; same request sizes and"
echo "queue depth (threads with one request each).  Reads come from the page cache in both."
echo
echo "Machine: $(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%d), load average at start $(cut -d' ' -f1 /proc/loadavg)."
echo
echo "| workload | unit | c3fs, 3 replicas | c3fs, 1 replica | chunk engine in-process | local FS | ratio 3 replicas / local |"
echo "|---|---|---|---|---|---|---|"
start_nodes
for bs in 1M 4M; do
	rm -rf "$W/local"
	a=$(c3 --test seqwrite --bs $bs --total "$TOTAL" --qd "$QD" --inode 1${bs%M})
	o=$(c1 --test seqwrite --bs $bs --total "$TOTAL" --qd "$QD" --inode 1${bs%M})
	e=$(eng --test seqwrite --bs $bs --total "$TOTAL" --qd "$QD" --inode 1${bs%M})
	b=$(loc --test seqwrite --bs $bs --total "$TOTAL" --qd "$QD")
	row "sequential write, $bs requests, qd $QD" "MiB/s" "$a" "$o" "$e" "$b"
	a=$(c3 --test seqread --bs $bs --total "$TOTAL" --qd "$QD" --inode 1${bs%M})
	o=$(c1 --test seqread --bs $bs --total "$TOTAL" --qd "$QD" --inode 1${bs%M})
	e=$(eng --test seqread --bs $bs --total "$TOTAL" --qd "$QD" --inode 1${bs%M})
	b=$(loc --test seqread --bs $bs --total "$TOTAL" --qd "$QD")
	row "sequential read, $bs requests, qd $QD" "MiB/s" "$a" "$o" "$e" "$b"
done
for qd in 1 32; do
	a=$(c3 --test randread --total "$TOTAL" --qd $qd --seconds "$SECS" --inode 14)
	o=$(c1 --test randread --total "$TOTAL" --qd $qd --seconds "$SECS" --inode 14)
	e=$(eng --test randread --total "$TOTAL" --qd $qd --seconds "$SECS" --inode 14)
	b=$(loc --test randread --total "$TOTAL" --qd $qd --seconds "$SECS")
	row "4 KiB random read, qd $qd" "IOPS" "$a" "$o" "$e" "$b"
done
stop_nodes
if grep -qE 'ERROR|runtime error' "$W"/node*.log; then
	echo
	echo "Daemon errors:"; grep -hE 'ERROR|runtime error' "$W"/node*.log | head -5 | sed 's/^/    /'
fi

# the metadata store alone: LMDB (as the engine uses it) vs RocksDB, durable updates
if [ -x "$BIN/c3fs-bench-storage-meta" ]; then
	echo
	echo "Chunk-metadata store alone (\`c3fs-bench-storage-meta DIR $SECS\`): one record"
	echo "replaced per update, durable before it returns; threads update distinct keys."
	echo
	echo "| store | value bytes | threads | durable updates/s |"
	echo "|---|---|---|---|"
	mkdir -p "$W/meta"
	"$BIN/c3fs-bench-storage-meta" "$W/meta" "$SECS"
fi
