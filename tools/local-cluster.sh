#!/usr/bin/env bash
# tools/local-cluster.sh — a whole c3fs cluster on this machine (`make run` / `make stop`).
#
#   tools/local-cluster.sh start    start (or report) the cluster and mount it
#   tools/local-cluster.sh stop     unmount and stop everything
#   tools/local-cluster.sh status   what runs
#
# One mgmtd, one meta, three storage nodes with two targets each, a chain table of
# 3-replica chains, and c3fs-fuse mounted at $C3FS_MOUNT (default ./mnt), all on 127.0.0.1
# with the embedded KV.  Config, logs, pids and data live under $C3FS_HOME (default
# ./.c3fs); `start` after `stop` brings back the same files.  Ports start at
# $C3FS_BASE_PORT (default 19000).  Binaries from $C3FS_BIN (default build/bin).
# $C3FS_STORAGE_EXTRA (e.g. "direct_read=true io_engine=psync"): more [storage] keys for
# the storage nodes, written when the configs are first made.
#
# `start` on a running cluster restarts exactly the daemons that died (a pid file whose
# process is gone) and leaves the others and the mount alone: the mount is found in
# /proc/self/mountinfo, never by touching the mounted file system (which blocks while
# meta is down).  Only `stop` unmounts; `start` detaches a mount only when its c3fs-fuse
# has died (that FUSE connection is dead already: its open files fail with ENOTCONN).
set -u
umask 077 # pid files, logs, configs and tokens are the service user's alone
ROOT=$(cd "$(dirname "$0")/.." && pwd)
H=${C3FS_HOME:-$ROOT/.c3fs}
MNT=${C3FS_MOUNT:-$ROOT/mnt}
# absolute, as mountinfo has it; only the parent is resolved (a stat of the mount point
# itself would reach the FUSE file system)
MNT="$(realpath -m "$(dirname "$MNT")")/$(basename "$MNT")"
BIN=${C3FS_BIN:-$ROOT/build/bin}
P=${C3FS_BASE_PORT:-19000}
NSTORAGE=3
NTARGETS=2

MGMTD_ADDR=127.0.0.1:$P
META_ADDR=127.0.0.1:$((P + 1))
storage_addr() { echo "127.0.0.1:$((P + 10 + $1))"; }

die() { echo "local-cluster: $*" >&2; exit 1; }

# alive = the pid of NAME's pid file runs a c3fs program and is not a zombie left
# unreaped by a container's init (a reused pid of another program does not count)
pid_alive() {
	local pid
	[ -f "$H/run/$1.pid" ] || return 1
	pid=$(cat "$H/run/$1.pid")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "c3fs-"
}

# launch NAME CMD...: detached from this shell (survives `make run` returning)
launch() {
	local name=$1; shift
	rm -f "$H/run/$name.pid"
	setsid bash -c 'pidf=$1; out=$2; shift 2; echo $$ >"$pidf"; exec "$@" </dev/null >>"$out" 2>&1' \
		_ "$H/run/$name.pid" "$H/log/$name.out" "$@" &
	# the wrapper writes its pid (which exec keeps) before starting the daemon
	for _ in $(seq 100); do [ -s "$H/run/$name.pid" ] && break; sleep 0.02; done
}

wait_port() {
	local addr=$1 secs=${2:-30} port=${1##*:} i
	for ((i = 0; i < secs * 10; i++)); do
		ss -Htln "sport = :$port" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

write_configs() {
	mkdir -p "$H/etc" "$H/log" "$H/run" "$H/data"
	if [ ! -s "$H/etc/token" ]; then
		head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$H/etc/token"
		head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$H/etc/admin_token"
		chmod 600 "$H/etc/token" "$H/etc/admin_token"
	fi
	local tok adm i t targets
	tok=$(cat "$H/etc/token"); adm=$(cat "$H/etc/admin_token")
	cat >"$H/etc/mgmtd.ini" <<EOT
[server]
listen = $MGMTD_ADDR
token = $tok
admin_token = $adm
[kv]
uri = lmdb:$H/data/mgmtd-kv
data_dir = $H/data/mgmtd
[metrics]
listen = 127.0.0.1:$((P + 100))
[log]
file = $H/log/mgmtd.log
EOT
	for ((i = 1; i <= NSTORAGE; i++)); do
		targets=""
		for ((t = 1; t <= NTARGETS; t++)); do
			mkdir -p "$H/data/storage$i/t$t"
			targets="${targets:+$targets,}$((i * 100 + t)):$H/data/storage$i/t$t"
		done
		cat >"$H/etc/storage$i.ini" <<EOT
[server]
node_id = $((100 + i))
listen = $(storage_addr "$i")
token = $tok
[storage]
targets = $targets
${C3FS_STORAGE_EXTRA:+$(printf '%s\n' $C3FS_STORAGE_EXTRA)}
[mgmtd]
addrs = $MGMTD_ADDR
[metrics]
listen = 127.0.0.1:$((P + 110 + i))
[log]
file = $H/log/storage$i.log
EOT
	done
	cat >"$H/etc/meta.ini" <<EOT
[server]
node_id = 50
listen = $META_ADDR
token = $tok
[kv]
uri = lmdb:$H/data/meta-kv?sync=wal
[meta]
root_mode = 1777
[mgmtd]
addrs = $MGMTD_ADDR
[metrics]
listen = 127.0.0.1:$((P + 101))
[log]
file = $H/log/meta.log
EOT
	cat >"$H/etc/fuse.ini" <<EOT
[fuse]
mountpoint = $MNT
[cluster]
mgmtd = $MGMTD_ADDR
token_file = $H/etc/token
[metrics]
listen = 127.0.0.1:$((P + 102))
[log]
file = $H/log/fuse.log
EOT
	cat >"$H/admin.ini" <<EOT
[cluster]
mgmtd = $MGMTD_ADDR
token = $tok
admin_token = $adm
EOT
	chmod 600 "$H"/etc/*.ini "$H/admin.ini"
}

admin() { C3FS_HOME=$H "$BIN/c3fs-admin" "$@"; }

# Our mount's line of /proc/self/mountinfo ("ID PARENT MAJ:MIN ROOT MOUNTPOINT ... -
# fuse.c3fs c3fs ..."), read without touching the FUSE file system; empty when none.
# mountinfo escapes space, tab, newline and backslash in paths as octal.
mount_line() {
	local m
	m=$(printf '%s' "$MNT" | sed 's/\\/\\134/g; s/ /\\040/g; s/\t/\\011/g')
	M=$m awk '$5 == ENVIRON["M"] && / - fuse\.c3fs / { print; exit }' /proc/self/mountinfo
}
is_mounted() { [ -n "$(mount_line)" ]; }

status() {
	local n any=0
	for n in mgmtd meta storage1 storage2 storage3 fuse; do
		if pid_alive "$n"; then echo "  $n: running (pid $(cat "$H/run/$n.pid"))"; any=1
		else echo "  $n: stopped"; fi
	done
	is_mounted && echo "  mount: $MNT" || echo "  mount: not mounted"
	[ $any = 1 ]
}

# port_free ADDR: die when another program listens there
port_free() {
	ss -Htln "sport = :${1##*:}" 2>/dev/null | grep -q . &&
		die "port ${1##*:} is in use by another program: set C3FS_BASE_PORT to a free range"
	return 0
}

start() {
	local i n any=0 restarted=() cold=0
	for n in c3fs-mgmtd c3fs-meta c3fs-storage c3fs-fuse c3fs-admin; do
		[ -x "$BIN/$n" ] || die "$BIN/$n missing: run make first"
	done
	for n in mgmtd meta storage1 storage2 storage3 fuse; do
		pid_alive "$n" && any=1
	done
	# configs are rewritten only when nothing runs (the running daemons use them)
	if [ $any = 0 ] || [ ! -s "$H/etc/mgmtd.ini" ]; then
		cold=1
		write_configs
	fi
	if ! pid_alive fuse && is_mounted; then
		echo "c3fs-fuse is gone: detaching its dead mount at $MNT"
		fusermount3 -uz "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	fi
	if ! pid_alive mgmtd; then
		port_free "$MGMTD_ADDR"
		launch mgmtd "$BIN/c3fs-mgmtd" --config "$H/etc/mgmtd.ini"
		wait_port "$MGMTD_ADDR" 30 && pid_alive mgmtd || die "mgmtd did not start: see $H/log/mgmtd.log(.out)"
		restarted+=(mgmtd)
	fi
	# a killed storage node is synced on return
	for ((i = 1; i <= NSTORAGE; i++)); do
		pid_alive "storage$i" && continue
		port_free "$(storage_addr "$i")"
		launch "storage$i" "$BIN/c3fs-storage" --config "$H/etc/storage$i.ini"
		restarted+=("storage$i")
	done
	for ((i = 1; i <= NSTORAGE; i++)); do
		wait_port "$(storage_addr "$i")" 30 || die "storage$i did not start: see $H/log/storage$i.log(.out)"
	done
	if [ $cold = 1 ]; then
		# wait for all targets to register, then make the chain table once
		for _ in $(seq 100); do
			[ "$(admin --json list-targets 2>/dev/null | grep -o '"local_state"' | wc -l)" -ge $((NSTORAGE * NTARGETS)) ] && break
			sleep 0.1
		done
		if ! admin --json list-chain-tables 2>/dev/null | grep -q '"chain_tables":\[{'; then
			admin create-chain-table --replicas 3 --table-id 1 --name default >/dev/null ||
				die "could not create the chain table (c3fs-admin create-chain-table)"
		fi
	fi
	if ! pid_alive meta; then
		port_free "$META_ADDR"
		launch meta "$BIN/c3fs-meta" --config "$H/etc/meta.ini"
		wait_port "$META_ADDR" 30 || die "meta did not start: see $H/log/meta.log(.out)"
		restarted+=(meta)
	fi
	if ! pid_alive fuse; then
		mkdir -p "$MNT"
		launch fuse "$BIN/c3fs-fuse" --config "$H/etc/fuse.ini"
		for _ in $(seq 300); do is_mounted && break; pid_alive fuse || break; sleep 0.1; done
		is_mounted || die "mount failed: see $H/log/fuse.log(.out)"
		restarted+=(fuse)
	fi
	if [ ${#restarted[@]} = 0 ]; then
		echo "c3fs is already running:"
		status
		admin status 2>/dev/null | sed 's/^/  /'
		return 0
	fi
	if [ $any = 1 ]; then
		echo "restarted: ${restarted[*]}"
		status
		return 0
	fi
	cat <<EOT
c3fs is running and mounted at $MNT
  3 replicas of every byte on $((NSTORAGE * NTARGETS)) targets ($NSTORAGE storage nodes)
  state, config and logs: $H
  cluster status:         build/bin/c3fs-admin status
  remove a tree at once:  ln -s <path> $MNT/3fs-virt/rm-rf
  stop:                   make stop      (make run brings the same files back)
EOT
}

stop() {
	local n pid quiet=${1:-}
	if is_mounted; then
		fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	fi
	for n in fuse meta storage1 storage2 storage3 mgmtd; do
		pid_alive "$n" || continue
		kill -TERM "$(cat "$H/run/$n.pid")" 2>/dev/null
	done
	for n in fuse meta storage1 storage2 storage3 mgmtd; do
		[ -f "$H/run/$n.pid" ] || continue
		if pid_alive "$n"; then
			pid=$(cat "$H/run/$n.pid")
			for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null
		fi
		rm -f "$H/run/$n.pid"
	done
	# a daemon killed hard leaves a dead FUSE connection: detach it
	is_mounted && umount -l "$MNT" 2>/dev/null
	[ -n "$quiet" ] || echo "c3fs stopped (data kept in $H)"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
restart) stop; start ;;
*) echo "usage: $0 start|stop|status|restart" >&2; exit 2 ;;
esac
