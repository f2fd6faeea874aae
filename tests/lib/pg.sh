#!/usr/bin/env bash
# tests/lib/pg.sh — a throw-away PostgreSQL 15 server for tests.
#
# Sourced (after tests/lib/common.sh, or alone):
#   . "$C3FS_ROOT/tests/lib/pg.sh"
#   pg_start [DIR] || t_skip_all "no postgres"   # DIR defaults to $T/pg (or a new temp dir)
#   echo "$PG_CONNINFO"      # host=127.0.0.1 port=N user=c3fs dbname=postgres
#   ...                      # PG_PID, PG_PORT, PG_DIR, PG_SOCKDIR are set too
#   pg_stop                  # fast shutdown by PID (also done by t_cleanup via T_PIDS)
# Executed:
#   tests/lib/pg.sh start DIR    prints the conninfo on stdout; the server keeps running
#   tests/lib/pg.sh stop DIR     stops the server whose data is in DIR/data
#
# The server: initdb with trust auth for user c3fs, listens on 127.0.0.1 only (a free port)
# and on a unix socket in DIR, fsync=on, synchronous_commit=on, log in DIR/postgres.log.
# As root it runs as the "postgres" system user (root may not run postgres); DIR and its
# parent are made traversable for that user.  Returns 1 with a message on stderr when
# PostgreSQL 15 or the postgres user is missing.

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

_pg_free_port() {
	if declare -F t_free_port >/dev/null; then
		t_free_port
		return
	fi
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if ! ss -Htan "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return
		fi
	done
}

# run a command as the server's user
_pg_as() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	local dir=${1:-}
	if [ ! -x "$PG_BINDIR/postgres" ] || [ ! -x "$PG_BINDIR/initdb" ]; then
		echo "pg.sh: no PostgreSQL 15 in $PG_BINDIR" >&2
		return 1
	fi
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "pg.sh: running as root and there is no postgres user" >&2
		return 1
	fi
	if [ -z "$dir" ]; then
		if [ -n "${T:-}" ]; then dir=$T/pg; else dir=$(mktemp -d /tmp/c3fs-pg.XXXXXX); fi
	fi
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd)
	if [ "$(id -u)" = 0 ]; then
		chmod o+x "$(dirname "$dir")" 2>/dev/null
		chown postgres: "$dir" || return 1
		chmod 0700 "$dir"
	fi
	if ! _pg_as "$PG_BINDIR/initdb" -D "$dir/data" -U c3fs -A trust -E UTF8 --no-sync \
		>"$dir/initdb.log" 2>&1; then
		echo "pg.sh: initdb failed, see $dir/initdb.log" >&2
		return 1
	fi
	local port try
	for try in 1 2 3; do
		port=$(_pg_free_port)
		_pg_as "$PG_BINDIR/postgres" -D "$dir/data" -p "$port" \
			-c listen_addresses=127.0.0.1 -c unix_socket_directories="$dir" \
			-c fsync=on -c synchronous_commit=on -c full_page_writes=on \
			-c max_connections=200 -c shared_buffers=64MB \
			-c max_pred_locks_per_transaction=256 \
			-c logging_collector=off -c log_min_messages=warning \
			>>"$dir/postgres.log" 2>&1 &
		local i ready=0
		for ((i = 0; i < 300; i++)); do
			if "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port" -U c3fs -d postgres; then
				ready=1
				break
			fi
			# died (e.g. the port was taken meanwhile)?
			kill -0 $! 2>/dev/null || break
			sleep 0.1
		done
		if [ $ready = 1 ]; then
			PG_PID=$(head -1 "$dir/data/postmaster.pid")
			PG_PORT=$port
			PG_DIR=$dir
			PG_SOCKDIR=$dir
			PG_CONNINFO="host=127.0.0.1 port=$port user=c3fs dbname=postgres connect_timeout=10"
			export PG_PID PG_PORT PG_DIR PG_SOCKDIR PG_CONNINFO
			if declare -p T_PIDS >/dev/null 2>&1; then T_PIDS[postgres]=$PG_PID; fi
			return 0
		fi
		kill -INT $! 2>/dev/null
		wait $! 2>/dev/null
	done
	echo "pg.sh: postgres did not start, see $dir/postgres.log" >&2
	return 1
}

# Stop the server started by pg_start (or the one whose data is in $1/data).
pg_stop() {
	local dir=${1:-${PG_DIR:-}} pid=${PG_PID:-} i
	if [ -n "$dir" ] && [ -f "$dir/data/postmaster.pid" ]; then
		pid=$(head -1 "$dir/data/postmaster.pid")
	fi
	[ -n "$pid" ] || return 0
	kill -INT "$pid" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	if declare -p T_PIDS >/dev/null 2>&1; then unset 'T_PIDS[postgres]'; fi
	PG_PID=
	return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	start)
		[ -n "${2:-}" ] || { echo "usage: $0 start DIR" >&2; exit 2; }
		pg_start "$2" || exit 1
		echo "$PG_CONNINFO"
		;;
	stop)
		[ -n "${2:-}" ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
		pg_stop "$2"
		;;
	*)
		echo "usage: $0 start DIR | stop DIR" >&2
		exit 2
		;;
	esac
fi
