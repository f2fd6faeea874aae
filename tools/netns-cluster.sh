#!/usr/bin/env bash
# tools/netns-cluster.sh — a many-host c3fs cluster on one machine, each host a network
# namespace with its own address on a private bridge (tests/lib/netns.sh), every daemon
# started with the binaries and configs of docs/OPERATIONS.md "Multi-host deployment" and
# "Replicated PostgreSQL" (the steps are tests/integration/ops_lib.sh, shared with the
# tests).  Needs root, iproute2, PostgreSQL 15, FUSE.
#
#   netns-cluster.sh up N          N storage hosts (node ids 21.., targets id*100+1, +2),
#                                  a balanced chain table with min(3, N) replicas, both
#                                  clients mounted
#   netns-cluster.sh down          unmount, stop every daemon by PID, delete the namespaces
#   netns-cluster.sh status        hosts, addresses, daemons alive/dead, c3fs-admin list-nodes
#   netns-cluster.sh exec HOST CMD...   run CMD inside HOST (a name below or its number)
#   netns-cluster.sh limit HOST DELAY [RATE]   netem delay (e.g. 1ms; 0 for none) and tbf
#                                  rate (e.g. 1gbit) on HOST's link, both directions;
#                                  DELAY 0 with no RATE removes the limits
#
# Hosts: h1 pg1 (PostgreSQL primary), h2 pg2 (synchronous standby), h3/h4 mgmtd-a/mgmtd-b,
# h5/h6 meta1/meta2 (node ids 11, 12), h7/h8 client1/client2 (mounted at $DIR/mnt and
# $DIR/mnt2 in this mount namespace), h9.. storage1..N.  Meta and mgmtd use
# kv.uri = pg:host=pg1,pg2 target_session_attrs=read-write ... so a promoted standby is
# found without reconfiguring anything: `exec pg2 ...` and the pg_ctl promote line printed
# by `status` fail it over.
# Environment: C3FS_NS_HOME (state, logs, configs, mounts; default /tmp/c3fs-netns),
# C3FS_BIN_DIR (binaries; default build/release/bin, then build/bin, then build/asan/bin),
# NETEM_DELAY / NETEM_RATE (limits applied to every host at `up`), PLACEMENT (balanced:
# create-chain-table --nodes all, the default; mgmtd: mgmtd's own placement).
# Addresses exist only inside the namespaces (10.213.K.0/24); nothing else is contacted.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${C3FS_NS_HOME:-/tmp/c3fs-netns}
if [ -z "${C3FS_BIN_DIR:-}" ]; then
	for b in "$ROOT/build/release/bin" "$ROOT/build/bin" "$ROOT/build/asan/bin"; do
		[ -x "$b/c3fs-meta" ] && { C3FS_BIN_DIR=$b; break; }
	done
fi
export C3FS_BIN_DIR C3FS_ROOT=$ROOT
. "$ROOT/tests/lib/common.sh"
. "$ROOT/tests/lib/netns.sh"
. "$ROOT/tests/lib/pg.sh"
. "$ROOT/tests/integration/ops_lib.sh"

die() { echo "netns-cluster: $*" >&2; exit 1; }

host_num() { # NAME|NUMBER -> host number
	case $1 in
	[0-9]*) echo "$1" ;;
	pg1) echo 1 ;; pg2) echo 2 ;; mgmtd-a) echo 3 ;; mgmtd-b) echo 4 ;;
	meta1) echo 5 ;; meta2) echo 6 ;; client1) echo 7 ;; client2) echo 8 ;;
	storage[0-9]*) echo $((8 + ${1#storage})) ;;
	*) return 1 ;;
	esac
}

host_name() {
	local names=(- pg1 pg2 mgmtd-a mgmtd-b meta1 meta2 client1 client2)
	if [ "$1" -le 8 ]; then echo "${names[$1]}"; else echo "storage$(($1 - 8))"; fi
}

load_state() {
	[ -f "$DIR/state" ] || die "no cluster in $DIR (netns-cluster.sh up N)"
	. "$DIR/state"
	T=$DIR
}

save_pids() {
	local n
	for n in "${!T_PIDS[@]}"; do echo "$n ${T_PIDS[$n]}"; done >"$DIR/pids"
}

limit() { # HOST DELAY [RATE]
	local h=$1 d=$2 r=${3:-} dev parent=root
	for dev in "${NS_PREFIX}b$h" "${NS_PREFIX}a$h"; do
		local ex=(ns_exec "$h")
		[ "$dev" = "${NS_PREFIX}a$h" ] && ex=(nsenter --net="/run/netns/${NS_PREFIX}hub")
		"${ex[@]}" tc qdisc del dev "$dev" root 2>/dev/null
		parent=root
		if [ "${d%%[a-z]*}" != 0 ]; then
			"${ex[@]}" tc qdisc add dev "$dev" root handle 1: netem delay "$d" ||
				die "tc netem failed (is sch_netem in this kernel?)"
			parent="parent 1:"
		fi
		if [ -n "$r" ]; then
			"${ex[@]}" tc qdisc add dev "$dev" $parent handle 2: tbf rate "$r" \
				burst 256kb latency 100ms || die "tc tbf failed"
		fi
	done
}

cmd_up() {
	local n=${1:-} i h reps
	[[ "$n" =~ ^[1-9][0-9]*$ ]] && [ "$n" -le 200 ] || die "up N: N storage hosts, 1..200"
	[ -e "$DIR/state" ] && die "a cluster is already up in $DIR (netns-cluster.sh down first)"
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
	[ -x "${C3FS_BIN_DIR:-}/c3fs-meta" ] || die "no c3fs binaries in ${C3FS_BIN_DIR:-build/*/bin} (make programs)"
	[ -x "$PG_BINDIR/postgres" ] || die "no PostgreSQL 15 in $PG_BINDIR"
	mkdir -p "$DIR" && chmod 0755 "$DIR" || die "cannot make $DIR"
	T=$DIR
	ns_setup $((8 + n)) || { ns_teardown; die "cannot create network namespaces"; }
	printf 'NS_PREFIX=%s\nNS_NET=%s\nNS_N=%s\nN=%s\nOPS_TOK=%s\nOPS_ADM=%s\n' \
		"$NS_PREFIX" "$NS_NET" "$NS_N" "$n" "$OPS_TOK" "$OPS_ADM" >"$DIR/state"
	if [ -n "${NETEM_DELAY:-}${NETEM_RATE:-}" ]; then
		for ((h = 1; h <= 8 + n; h++)); do
			limit "$h" "${NETEM_DELAY:-0ms}" "${NETEM_RATE:-}" || die "tc failed on h$h"
		done
	fi
	cat >"$DIR/roles.sql" <<'EOT'
CREATE ROLE c3fs_mgmtd LOGIN PASSWORD 'pw-mgmtd';
CREATE ROLE c3fs_meta  LOGIN PASSWORD 'pw-meta';
CREATE ROLE c3fs_repl  LOGIN REPLICATION PASSWORD 'pw-repl';
CREATE DATABASE c3fs_mgmtd OWNER c3fs_mgmtd;
CREATE DATABASE c3fs_meta  OWNER c3fs_meta;
EOT
	ns_pg_init "$DIR/pg1" "$DIR/roles.sql" || die "initdb failed (see $DIR/pg1)"
	echo "host replication c3fs_repl $NS_NET.0/24 scram-sha-256" >>"$DIR/pg1/data/pg_hba.conf"
	ns_pg_run 1 "$DIR/pg1" -c synchronous_standby_names='*' || die "primary did not start"
	T_PIDS[pg1]=$NS_PG_PID
	ns_pg_standby 2 "$DIR/pg2" 1 c3fs_repl pw-repl || die "pg_basebackup failed ($DIR/pg2)"
	ns_pg_run 2 "$DIR/pg2" || die "standby did not start"
	T_PIDS[pg2]=$NS_PG_PID
	NS_PG_PID=""
	save_pids
	OPS_DB="$(ns_addr 1),$(ns_addr 2) target_session_attrs=read-write connect_timeout=3 tcp_user_timeout=5000"
	( umask 077
	  for a in $(ns_addr 1) $(ns_addr 2); do
		printf '%s:5432:c3fs_mgmtd:c3fs_mgmtd:pw-mgmtd\n%s:5432:c3fs_meta:c3fs_meta:pw-meta\n' "$a" "$a"
	  done >"$DIR/pgpass"
	  echo "$OPS_TOK" >"$DIR/token" )
	OPS_MGMTD="$(ns_addr 3):9000,$(ns_addr 4):9000"
	ops_mgmtd a 3 || die "mgmtd a did not start ($DIR/mgmtd-a.log)"
	ops_mgmtd b 4 || die "mgmtd b did not start ($DIR/mgmtd-b.log)"
	save_pids
	for ((i = 1; i <= n; i++)); do
		ops_storage $((20 + i)) $((8 + i)) || die "storage $i did not start"
	done
	save_pids
	for ((i = 0; i < 300; i++)); do
		[ "$(ops_admin --json list-targets 2>/dev/null | grep -o '"local_state"' | wc -l)" -ge $((2 * n)) ] && break
		sleep 0.2
	done
	reps=$(( n < 3 ? n : 3 ))
	if [ "${PLACEMENT:-balanced}" = balanced ]; then
		ops_admin create-chain-table --replicas "$reps" --name default --nodes all >/dev/null
	else
		ops_admin create-chain-table --replicas "$reps" --name default >/dev/null
	fi || die "create-chain-table failed"
	ops_meta 11 5; ops_meta 12 6
	save_pids
	ns_port_up 5 9001 && ns_port_up 6 9001 || die "meta did not start"
	ops_mount 7 || die "client1 did not mount ($DIR/fuse.log)"
	mkdir -p "$DIR/mnt2"
	sed "s#^mountpoint = .*#mountpoint = $DIR/mnt2#" "$DIR/fuse.ini" >"$DIR/fuse2.ini"
	t_daemon fuse2 nsenter --net="/run/netns/${NS_PREFIX}h8" "$BIN/c3fs-fuse" \
		--config "$DIR/fuse2.ini"
	save_pids
	for ((i = 0; i < 300; i++)); do mountpoint -q "$DIR/mnt2" && break; sleep 0.1; done
	mountpoint -q "$DIR/mnt2" || die "client2 did not mount ($DIR/fuse2.log)"
	echo "up: $n storage hosts, $reps replicas; mounts $DIR/mnt (client1) $DIR/mnt2 (client2)"
}

cmd_down() {
	local name pid m i
	[ -f "$DIR/state" ] || { echo "netns-cluster: nothing to stop in $DIR"; return 0; }
	load_state
	for m in "$DIR/mnt" "$DIR/mnt2"; do
		mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
	done
	if [ -f "$DIR/pids" ]; then
		while read -r name pid; do
			case $name in pg*) ns_pg_stop "$pid" ;; *) kill -TERM "$pid" 2>/dev/null ;; esac
		done <"$DIR/pids"
		for ((i = 0; i < 50; i++)); do
			alive=0
			while read -r name pid; do kill -0 "$pid" 2>/dev/null && alive=1; done <"$DIR/pids"
			[ "$alive" = 0 ] && break
			sleep 0.1
		done
		while read -r name pid; do kill -KILL "$pid" 2>/dev/null; done <"$DIR/pids"
	fi
	ns_teardown
	rm -f "$DIR/state" "$DIR/pids"
	echo "down (logs and data kept in $DIR)"
}

cmd_status() {
	local h name pid st
	load_state
	echo "network $NS_NET.0/24, namespaces ${NS_PREFIX}h1..h$NS_N"
	for ((h = 1; h <= NS_N; h++)); do printf '  h%-3s %-10s %s\n' "$h" "$(host_name "$h")" "$(ns_addr "$h")"; done
	while read -r name pid; do
		st=dead; kill -0 "$pid" 2>/dev/null && st=alive
		printf '  %-10s pid %-8s %s\n' "$name" "$pid" "$st"
	done <"$DIR/pids"
	OPS_MGMTD="$(ns_addr 3):9000,$(ns_addr 4):9000"
	ops_admin list-nodes || true
	echo "fail PostgreSQL over: kill the primary, then"
	echo "  setpriv --reuid=postgres --regid=postgres --init-groups -- $PG_BINDIR/pg_ctl promote -D $DIR/pg2/data"
}

case ${1:-} in
up) shift; cmd_up "$@" ;;
down) cmd_down ;;
status) cmd_status ;;
exec)
	[ $# -ge 3 ] || die "exec HOST CMD..."
	load_state
	h=$(host_num "$2") && [ "$h" -ge 1 ] && [ "$h" -le "$NS_N" ] || die "no host $2"
	shift 2
	ns_exec "$h" "$@" ;;
limit)
	[ $# -ge 3 ] || die "limit HOST DELAY [RATE]"
	load_state
	h=$(host_num "$2") && [ "$h" -ge 1 ] && [ "$h" -le "$NS_N" ] || die "no host $2"
	limit "$h" "$3" "${4:-}" ;;
*) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
