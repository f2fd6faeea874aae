# tests/lib/netns.sh — a multi-host test network built from network namespaces (source it).
#
#   ns_setup N            hosts 1..N, each in its own namespace with one address, all on
#                         one bridge inside a private "hub" namespace; nothing touches the
#                         host's own network.  Sets NS_PREFIX.
#   ns_addr I             the address of host I (10.213.K.I, K chosen per test run)
#   ns_exec I CMD...      run CMD inside host I's namespace
#   ns_cut I / ns_heal I  take host I's link down / up (a cable pulled and put back)
#   ns_teardown           delete every namespace made by ns_setup (call after killing
#                         the processes started inside them)
#   ns_port_up I PORT     wait (30 s) until something listens on PORT inside host I
#   ns_pg_init DIR SQL    a PostgreSQL 15 cluster in DIR (tests/lib/pg.sh, on loopback of
#                         the test's own namespace), SQL run once as superuser, then
#                         stopped; the subnet may log in with passwords (scram-sha-256)
#   ns_pg_run I DIR [-c K=V..]  run that cluster inside host I on its address, port 5432
#                         (extra server settings appended); sets NS_PG_PID.  ns_pg_stop
#                         [PID] stops it (fast shutdown, by PID).
#   ns_pg_standby I DIR P USER PASS  a streaming-replication standby of the server on host
#                         P, made in DIR with pg_basebackup -R run inside host I (USER is a
#                         REPLICATION role); start it with ns_pg_run I DIR
#   ns_pg_promote DIR     promote the standby in DIR (pg_ctl promote, waits for it)
# Needs root and iproute2.  Traffic stays inside the namespaces: the hosts' addresses
# exist nowhere else, and the host namespace has no route to them.

NS_PREFIX=""
NS_N=0
NS_NET=""

ns_setup() {
	local n=$1 i
	NS_PREFIX="c3n$(( $$ % 10000 ))"
	NS_NET="10.213.$(( $$ % 250 + 1 ))"
	NS_N=$n
	ip netns add "${NS_PREFIX}hub" || return 1
	nsenter --net="/run/netns/${NS_PREFIX}hub" ip link add br0 type bridge || return 1
	nsenter --net="/run/netns/${NS_PREFIX}hub" ip link set br0 up
	nsenter --net="/run/netns/${NS_PREFIX}hub" ip link set lo up
	for ((i = 1; i <= n; i++)); do
		ip netns add "${NS_PREFIX}h$i" || return 1
		ip link add "${NS_PREFIX}a$i" type veth peer name "${NS_PREFIX}b$i" || return 1
		ip link set "${NS_PREFIX}a$i" netns "${NS_PREFIX}hub"
		ip link set "${NS_PREFIX}b$i" netns "${NS_PREFIX}h$i"
		nsenter --net="/run/netns/${NS_PREFIX}hub" ip link set "${NS_PREFIX}a$i" master br0
		nsenter --net="/run/netns/${NS_PREFIX}hub" ip link set "${NS_PREFIX}a$i" up
		nsenter --net="/run/netns/${NS_PREFIX}h$i" ip addr add "$NS_NET.$i/24" dev "${NS_PREFIX}b$i"
		nsenter --net="/run/netns/${NS_PREFIX}h$i" ip link set "${NS_PREFIX}b$i" up
		nsenter --net="/run/netns/${NS_PREFIX}h$i" ip link set lo up
	done
}

ns_addr() { echo "$NS_NET.$1"; }

ns_exec() {
	local i=$1; shift
	nsenter --net="/run/netns/${NS_PREFIX}h$i" "$@"
}

ns_cut() { nsenter --net="/run/netns/${NS_PREFIX}hub" ip link set "${NS_PREFIX}a$1" down; }
ns_heal() { nsenter --net="/run/netns/${NS_PREFIX}hub" ip link set "${NS_PREFIX}a$1" up; }

ns_teardown() {
	local i
	[ -n "$NS_PREFIX" ] || return 0
	for ((i = 1; i <= NS_N; i++)); do
		ip netns pids "${NS_PREFIX}h$i" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "${NS_PREFIX}h$i" 2>/dev/null
	done
	ip netns del "${NS_PREFIX}hub" 2>/dev/null
	NS_PREFIX=""
}

ns_port_up() { # HOST PORT
	local i
	for ((i = 0; i < 300; i++)); do
		ns_exec "$1" ss -Htln "sport = :$2" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

NS_PG_PID=""

ns_pg_init() { # DIR SQLFILE
	local dir=$1 sql=$2
	declare -F pg_start >/dev/null || . "$C3FS_ROOT/tests/lib/pg.sh"
	pg_start "$dir" || return 1
	"$PG_BINDIR/psql" -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U c3fs \
		-d postgres -f "$sql" >"$dir/init-sql.log" 2>&1 || { pg_stop; return 1; }
	echo "host all all $NS_NET.0/24 scram-sha-256" >>"$dir/data/pg_hba.conf"
	pg_stop
}

ns_pg_run() { # HOST DIR [-c KEY=VALUE...]
	local h=$1 dir=$2 addr i
	shift 2
	addr=$(ns_addr "$h")
	ns_exec "$h" setpriv --reuid=postgres --regid=postgres --init-groups -- \
		"$PG_BINDIR/postgres" -D "$dir/data" -p 5432 -c listen_addresses="$addr" \
		-c unix_socket_directories="$dir" -c fsync=on -c max_connections=200 \
		-c shared_buffers=64MB -c max_pred_locks_per_transaction=256 \
		-c logging_collector=off -c log_min_messages=warning "$@" >>"$dir/postgres.log" 2>&1 &
	for ((i = 0; i < 300; i++)); do
		if ns_exec "$h" "$PG_BINDIR/pg_isready" -q -h "$addr" -p 5432 -d postgres; then
			NS_PG_PID=$(head -1 "$dir/data/postmaster.pid")
			return 0
		fi
		sleep 0.1
	done
	return 1
}

ns_pg_stop() { # [PID]
	local i pid=${1:-$NS_PG_PID}
	[ -n "$pid" ] || return 0
	kill -INT "$pid" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	[ "$pid" = "$NS_PG_PID" ] && NS_PG_PID=""
	return 0
}

ns_pg_standby() { # HOST DIR PRIMARY_HOST USER PASSWORD
	local h=$1 dir=$2 p=$3 user=$4 pass=$5
	mkdir -p "$dir" || return 1
	chown postgres: "$dir" && chmod 0700 "$dir" || return 1
	ns_exec "$h" env PGPASSWORD="$pass" setpriv --reuid=postgres --regid=postgres \
		--init-groups -- "$PG_BINDIR/pg_basebackup" -h "$(ns_addr "$p")" -p 5432 \
		-U "$user" -D "$dir/data" -R -X stream -c fast --no-sync \
		>"$dir/basebackup.log" 2>&1
}

ns_pg_promote() { # DIR
	setpriv --reuid=postgres --regid=postgres --init-groups -- \
		"$PG_BINDIR/pg_ctl" promote -w -t 30 -D "$1/data" >>"$1/promote.log" 2>&1
}
