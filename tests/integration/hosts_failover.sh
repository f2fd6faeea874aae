#!/usr/bin/env bash
# timeout: 360
# Many hosts, every failure at once (issue "Many hosts"): the multi-host deployment of
# docs/OPERATIONS.md (tests/integration/ops_lib.sh) on twelve network-namespace hosts with
# metadata on a replicated PostgreSQL pair ("Replicated PostgreSQL, step by step"):
#   h1 PostgreSQL primary, h11 its synchronous standby (pg_basebackup -R);
#   h2/h3 mgmtd a/b + meta 11/12, h4..h6 and h8..h10 storage 21..26, h7/h12 clients.
# Meta and mgmtd use the multi-host conninfo host=h1,h11 target_session_attrs=read-write.
# While both clients write files and a create/mkdir loop runs: storage host h5 is cut off
# and restored, the mgmtd leader's host h2 is killed (mgmtd a and meta 11), the primary's
# host h1 is cut off and its postgres killed, and the standby promoted.  At the end every
# acknowledged file has its checksum, every acknowledged mkdir/create is there, none was
# answered EEXIST (a retried request applied twice would be), and the idempotency records
# are in the promoted database.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/ops_lib.sh"
t_init
ops_need
MNT2=""
finish() {
	if [ -n "$MNT2" ] && mountpoint -q "$MNT2" 2>/dev/null; then
		fusermount3 -u "$MNT2" 2>/dev/null || umount -l "$MNT2"
	fi
	[ -n "${PG2_PID:-}" ] && ns_pg_stop "$PG2_PID"
	ops_finish
}
trap finish EXIT
ns_setup 12 || t_skip_all "cannot create network namespaces"

# step 1 (replicated): primary on h1, roles incl. a replication role, standby on h11
cat >"$T/roles.sql" <<'EOT'
CREATE ROLE c3fs_mgmtd LOGIN PASSWORD 'pw-mgmtd';
CREATE ROLE c3fs_meta  LOGIN PASSWORD 'pw-meta';
CREATE ROLE c3fs_repl  LOGIN REPLICATION PASSWORD 'pw-repl';
CREATE DATABASE c3fs_mgmtd OWNER c3fs_mgmtd;
CREATE DATABASE c3fs_meta  OWNER c3fs_meta;
EOT
ns_pg_init "$T/pg" "$T/roles.sql"; t_ok $? "primary initialised with roles and databases"
echo "host replication c3fs_repl $NS_NET.0/24 scram-sha-256" >>"$T/pg/data/pg_hba.conf"
ns_pg_run 1 "$T/pg" -c synchronous_standby_names='*' -c synchronous_commit=on
t_ok $? "primary runs on h1 (synchronous_standby_names = '*')"
PG1_PID=$NS_PG_PID
ns_pg_standby 11 "$T/pg2" 1 c3fs_repl pw-repl; t_ok $? "standby made with pg_basebackup -R on h11"
ns_pg_run 11 "$T/pg2"; t_ok $? "standby runs on h11"
PG2_PID=$NS_PG_PID; NS_PG_PID=$PG1_PID
psql1() { "$PG_BINDIR/psql" -X -qAt -h "$T/pg" -p 5432 -U c3fs -d postgres -c "$1"; }
for i in $(seq 100); do [ "$(psql1 "SELECT sync_state FROM pg_stat_replication" 2>/dev/null)" = sync ] && break; sleep 0.2; done
t_is "$(psql1 "SELECT sync_state FROM pg_stat_replication")" sync "the standby streams synchronously"

OPS_DB="$(ns_addr 1),$(ns_addr 11) target_session_attrs=read-write connect_timeout=3 tcp_user_timeout=5000"
( umask 077
  for a in $(ns_addr 1) $(ns_addr 11); do
	printf '%s:5432:c3fs_mgmtd:c3fs_mgmtd:pw-mgmtd\n%s:5432:c3fs_meta:c3fs_meta:pw-meta\n' "$a" "$a"
  done >"$T/pgpass"
  echo "$OPS_TOK" >"$T/token" )
OPS_MGMTD="$(ns_addr 2):9000,$(ns_addr 3):9000"

ops_mgmtd a 2; t_ok $? "mgmtd a on h2"
ops_mgmtd b 3; t_ok $? "mgmtd b on h3"
up=0
for n in 21 22 23 24 25 26; do
	h=$((n - 17)); [ "$n" -ge 24 ] && h=$((n - 16))
	ops_storage "$n" "$h" && up=$((up + 1))
done
t_is "$up" 6 "six storage hosts (h4..h6, h8..h10)"
for i in $(seq 150); do [ "$(ops_admin --json list-targets 2>/dev/null | grep -o '"local_state"' | wc -l)" -ge 12 ] && break; sleep 0.2; done
ops_admin create-chain-table --replicas 3 --name default --nodes all >"$T/table.out"
t_ok $? "balanced chain table (create-chain-table --nodes all): $(cat "$T/table.out")"
t_is "$(ops_admin list-chains | grep -c healthy)" 4 "four healthy chains of 3 over 12 targets"
ops_meta 11 2; ops_meta 12 3
ns_port_up 2 9001 && ns_port_up 3 9001; t_ok $? "meta 11 on h2 and meta 12 on h3"
for i in $(seq 100); do [ "$(ops_admin list-nodes 2>/dev/null | grep -c ' meta ')" -ge 2 ] && break; sleep 0.1; done

ops_mount 7 cluster.rpc_timeout=3s cluster.meta_wait=90s cluster.write_wait=90s
t_ok $? "client 1 mounted on h7"
MNT2=$T/mnt2; mkdir -p "$MNT2"
sed "s#^mountpoint = .*#mountpoint = $MNT2#" "$T/fuse.ini" >"$T/fuse2.ini"
t_daemon fuse2 nsenter --net="/run/netns/${NS_PREFIX}h12" "$BIN/c3fs-fuse" \
	--config "$T/fuse2.ini" --set cluster.rpc_timeout=3s --set cluster.meta_wait=90s \
	--set cluster.write_wait=90s
for i in $(seq 300); do mountpoint -q "$MNT2" && break; sleep 0.1; done
mountpoint -q "$MNT2"; t_ok $? "client 2 mounted on h12"
mkdir "$OPS_MNT/c1" "$OPS_MNT/c2" "$OPS_MNT/ns"

# the workload: each client writes 1 MiB files; a create/mkdir loop on client 2.
# A name goes into the acknowledged list only after the call returned success.
writer() { # DIR TAG
	local i=0 f
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1)); f=$T/src-$2-$i
		head -c $((1 << 20)) /dev/urandom >"$f"
		if cp "$f" "$1/w$i" && sync "$1/w$i"; then
			echo "w$i $(sha256sum <"$f" | cut -c1-64)" >>"$T/acked-$2"
		else
			echo "w$i" >>"$T/failed-$2"
		fi
		rm -f "$f"
	done
}
nsloop() {
	local i=0 err
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		if err=$(mkdir "$MNT2/ns/d$i" 2>&1); then echo "d$i" >>"$T/acked-ns"; else echo "d$i $err" >>"$T/failed-ns"; fi
		if err=$( (echo "$i" >"$MNT2/ns/f$i") 2>&1); then echo "f$i" >>"$T/acked-ns"; else echo "f$i $err" >>"$T/failed-ns"; fi
	done
}
touch "$T/acked-1" "$T/acked-2" "$T/acked-ns"
writer "$OPS_MNT/c1" 1 & W1=$!
writer "$MNT2/c2" 2 & W2=$!
nsloop & W3=$!
sleep 3

# a storage host cut off and restored
ns_cut 5; sleep 6; ns_heal 5
t_ok 0 "storage host h5 cut off for 6 s and restored"
sleep 3

# the mgmtd leader's host killed (mgmtd a and meta 11)
kill -KILL "$(t_pid mgmtd-a)" "$(t_pid meta11)"; unset 'T_PIDS[mgmtd-a]' 'T_PIDS[meta11]'
for i in $(seq 150); do ops_admin leader 2>/dev/null | grep -q "$(ns_addr 3):9000" && break; sleep 0.1; done
ops_admin leader | grep -q "$(ns_addr 3):9000"; t_ok $? "mgmtd b on h3 leads after h2 died"
sleep 3

# the PostgreSQL primary's host dies: link down first (no FIN/RST reaches anyone), then its
# postgres is killed; the standby is promoted
n0=$(wc -l <"$T/acked-ns")
ns_cut 1
kill -KILL "$PG1_PID"; NS_PG_PID=""
ns_exec 1 true && ip netns pids "${NS_PREFIX}h1" | xargs -r kill -KILL
sleep 2
ns_pg_promote "$T/pg2"; t_ok $? "standby on h11 promoted"
psql2() { "$PG_BINDIR/psql" -X -qAt -h "$T/pg2" -p 5432 -U c3fs -d "${2:-postgres}" -c "$1"; }
t_is "$(psql2 "SELECT pg_is_in_recovery()")" f "h11 is now the primary"
# carry on: new namespace operations are acknowledged after the failover
s0=$SECONDS
for i in $(seq 900); do [ "$(wc -l <"$T/acked-ns")" -ge $((n0 + 20)) ] && break; sleep 0.1; done
t_ok $([ "$(wc -l <"$T/acked-ns")" -ge $((n0 + 20)) ] && echo 0 || echo 1) \
	"namespace operations carry on after the PostgreSQL failover ($((SECONDS - s0)) s after promotion)"
sleep 3
touch "$T/stop"
wait "$W1" "$W2" "$W3"

# everything acknowledged is there
echo 3 >/proc/sys/vm/drop_caches
bad=0; n=0
for c in 1 2; do
	d=$MNT2/c1; [ "$c" = 2 ] && d=$OPS_MNT/c2
	while read -r name sum; do
		n=$((n + 1))
		[ "$(sha256sum <"$d/$name" | cut -c1-64)" = "$sum" ] || { bad=$((bad + 1)); echo "# $d/$name differs"; }
	done <"$T/acked-$c"
done
t_ok $([ "$n" -gt 4 ] && echo 0 || echo 1) "$n files acknowledged by the two clients"
t_is "$bad" 0 "every acknowledged file has its checksum (read through the other client)"
echo "# writes that failed (not acknowledged): $(cat "$T"/failed-[12] 2>/dev/null | wc -l)"
bad=0
while read -r name; do
	[ -e "$OPS_MNT/ns/$name" ] || { bad=$((bad + 1)); echo "# ns/$name missing"; }
done <"$T/acked-ns"
t_is "$bad" 0 "every acknowledged mkdir/create ($(wc -l <"$T/acked-ns")) is there (seen from client 1)"
touch "$T/failed-ns"
t_is "$(grep -c "File exists" "$T/failed-ns")" 0 \
	"no operation answered EEXIST (no retried request applied twice)"
[ -s "$T/failed-ns" ] && sed 's/^/# failed: /' "$T/failed-ns" | head -5
n=$(psql2 "SELECT count(*) FROM c3fs_kv WHERE get_byte(k, 0) = ascii('Q')" c3fs_meta)
t_ok $([ "${n:-0}" -ge "$(wc -l <"$T/acked-ns")" ] && echo 0 || echo 1) \
	"the promoted database holds the idempotency records ($n)"

# the storage host that was cut off is back in its chains (resynced) under the new leader
for i in $(seq 300); do [ "$(ops_admin list-chains 2>/dev/null | grep -c healthy)" = 4 ] && break; sleep 0.2; done
t_is "$(ops_admin list-chains | grep -c healthy)" 4 "every chain healthy again at the end (h5's targets resynced)"

fusermount3 -u "$MNT2"; t_ok $? "unmount client 2"
fusermount3 -u "$OPS_MNT"; t_ok $? "unmount client 1"
t_done
