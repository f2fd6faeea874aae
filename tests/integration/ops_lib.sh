# tests/integration/ops_lib.sh — the multi-host deployment of docs/OPERATIONS.md
# ("Multi-host deployment, step by step") on network-namespace hosts (sourced by ops_*.sh,
# after tests/lib/common.sh, tests/lib/netns.sh and t_init; not a test by itself).
#
#   ops_need                 skip unless root, namespaces, PostgreSQL 15, FUSE, binaries
#   ops_pg                   step 1: PostgreSQL on h1, roles and databases, password file
#   ops_mgmtd X H            step 2: mgmtd instance X (a, b) on host H (log $T/mgmtd-X.log)
#   ops_storage N H          step 3: storage node N on host H, targets N*100+1, N*100+2
#   ops_table                step 3: the chain table (3 replicas)
#   ops_meta N H [KEY=V..]   step 4: meta node N on host H (extra --set keys)
#   ops_mount H [KEY=V..]    step 5: c3fs-fuse on host H at $OPS_MNT
#   ops_admin ARGS...        c3fs-admin from host h7 with both mgmtd addresses
# Hosts: h1 PostgreSQL, h2/h3 mgmtd + meta, h4..h6 storage, h7 client.  Daemons are
# started with t_daemon (names mgmtd-X, storageN, metaN, fuse) so their logs are
# $T/<name>.log and t_done scans them for sanitizer reports.

OPS_TOK=tok-$$
OPS_ADM=adm-$$
OPS_MNT=""
OPS_MGMTD=""

ops_need() {
	local b
	[ "$(id -u)" = 0 ] || t_skip_all "needs root for network namespaces"
	for b in c3fs-mgmtd c3fs-meta c3fs-storage c3fs-fuse c3fs-admin; do
		[ -x "$BIN/$b" ] || t_skip_all "$b not built"
	done
	command -v nsenter >/dev/null || t_skip_all "nsenter missing"
	command -v fusermount3 >/dev/null || t_skip_all "fusermount3 missing"
	[ -e /dev/fuse ] || t_skip_all "no /dev/fuse"
	. "$C3FS_ROOT/tests/lib/pg.sh"
	[ -x "$PG_BINDIR/postgres" ] || t_skip_all "no PostgreSQL 15"
	id postgres >/dev/null 2>&1 || t_skip_all "no postgres user"
}

ops_finish() {
	if [ -n "$OPS_MNT" ] && mountpoint -q "$OPS_MNT" 2>/dev/null; then
		fusermount3 -u "$OPS_MNT" 2>/dev/null || umount -l "$OPS_MNT"
	fi
	for n in "${!T_PIDS[@]}"; do kill -TERM "${T_PIDS[$n]}" 2>/dev/null; done
	sleep 1
	ns_pg_stop
	ns_teardown
	t_cleanup
}

ops_pg() {
	cat >"$T/roles.sql" <<'EOT'
CREATE ROLE c3fs_mgmtd LOGIN PASSWORD 'pw-mgmtd';
CREATE ROLE c3fs_meta  LOGIN PASSWORD 'pw-meta';
CREATE DATABASE c3fs_mgmtd OWNER c3fs_mgmtd;
CREATE DATABASE c3fs_meta  OWNER c3fs_meta;
EOT
	ns_pg_init "$T/pg" "$T/roles.sql" || return 1
	ns_pg_run 1 "$T/pg" || return 1
	OPS_DB=$(ns_addr 1)
	( umask 077
	  printf '%s:5432:c3fs_mgmtd:c3fs_mgmtd:pw-mgmtd\n%s:5432:c3fs_meta:c3fs_meta:pw-meta\n' \
		"$OPS_DB" "$OPS_DB" >"$T/pgpass"
	  echo "$OPS_TOK" >"$T/token" )
	OPS_MGMTD="$(ns_addr 2):9000,$(ns_addr 3):9000"
}

ops_mgmtd() { # X HOST [KEY=VALUE...]
	local x=$1 h=$2 s=() kv
	shift 2
	for kv in "$@"; do s+=(--set "$kv"); done
	( umask 077; cat >"$T/mgmtd-$x.ini" <<EOT
[server]
listen = $(ns_addr "$h"):9000
token = $OPS_TOK
admin_token = $OPS_ADM
[kv]
uri = pg:host=$OPS_DB dbname=c3fs_mgmtd user=c3fs_mgmtd passfile=$T/pgpass
EOT
	)
	t_daemon "mgmtd-$x" nsenter --net="/run/netns/${NS_PREFIX}h$h" "$BIN/c3fs-mgmtd" \
		--config "$T/mgmtd-$x.ini" "${s[@]}"
	ns_port_up "$h" 9000
}

ops_storage() { # NODE HOST [PORT]
	local n=$1 h=$2 port=${3:-9100}
	mkdir -p "$T/s$n"
	chmod 0700 "$T/s$n"
	( umask 077; cat >"$T/storage$n.ini" <<EOT
[server]
node_id = $n
listen = $(ns_addr "$h"):$port
token = $OPS_TOK
[storage]
targets = $((n * 100 + 1)):$T/s$n/disk1,$((n * 100 + 2)):$T/s$n/disk2
[mgmtd]
addrs = $OPS_MGMTD
EOT
	)
	t_daemon "storage$n" nsenter --net="/run/netns/${NS_PREFIX}h$h" "$BIN/c3fs-storage" \
		--config "$T/storage$n.ini"
	ns_port_up "$h" "$port"
}

ops_admin() {
	ns_exec 7 "$BIN/c3fs-admin" --mgmtd "$OPS_MGMTD" --token "$OPS_TOK" \
		--admin-token "$OPS_ADM" "$@"
}

ops_table() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(ops_admin --json list-targets 2>/dev/null | grep -o '"local_state"' | wc -l)" -ge 6 ] && break
		sleep 0.2
	done
	ops_admin create-chain-table --replicas 3 --name default >/dev/null
}

ops_meta() { # NODE HOST [KEY=VALUE...]
	local n=$1 h=$2 s=() kv
	shift 2
	for kv in "$@"; do s+=(--set "$kv"); done
	( umask 077; cat >"$T/meta$n.ini" <<EOT
[server]
node_id = $n
listen = $(ns_addr "$h"):9001
token = $OPS_TOK
[kv]
uri = pg:host=$OPS_DB dbname=c3fs_meta user=c3fs_meta passfile=$T/pgpass
[mgmtd]
addrs = $OPS_MGMTD
EOT
	)
	t_daemon "meta$n" nsenter --net="/run/netns/${NS_PREFIX}h$h" "$BIN/c3fs-meta" \
		--config "$T/meta$n.ini" "${s[@]}"
}

ops_mount() { # HOST [KEY=VALUE...]
	local h=$1 s=() kv i
	shift
	for kv in "$@"; do s+=(--set "$kv"); done
	OPS_MNT=$T/mnt
	mkdir -p "$OPS_MNT"
	cat >"$T/fuse.ini" <<EOT
[fuse]
mountpoint = $OPS_MNT
[cluster]
mgmtd = $OPS_MGMTD
token_file = $T/token
EOT
	# nsenter --net keeps this mount namespace: the mount is visible to the test
	t_daemon fuse nsenter --net="/run/netns/${NS_PREFIX}h$h" "$BIN/c3fs-fuse" \
		--config "$T/fuse.ini" "${s[@]}"
	for ((i = 0; i < 300; i++)); do mountpoint -q "$OPS_MNT" && return 0; sleep 0.1; done
	return 1
}
