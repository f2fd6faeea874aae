#!/usr/bin/env bash
# timeout: 240
# kv_pg.sh — the KV conformance suite and the pg-only tests against a real PostgreSQL 15
# server started for this test (tests/lib/pg.sh: loopback only, fsync on).
. "$(dirname "$0")/../lib/common.sh"
. "$C3FS_ROOT/tests/lib/pg.sh"

UNIT=${C3FS_BIN_DIR:-$C3FS_ROOT/build/asan/bin}; UNIT=${UNIT%/bin}/tests/unit/kv
[ -x "$UNIT/test_kv_conformance" ] || t_skip_all "no $UNIT/test_kv_conformance (build the asan tests)"
[ -x "$UNIT/test_kv_pg" ] || t_skip_all "no $UNIT/test_kv_pg"

t_init
pg_start "$T/pg" || t_skip_all "cannot start PostgreSQL 15 (see above)"
echo "# postgres pid $PG_PID on 127.0.0.1:$PG_PORT"

C3FS_TEST_KV_URI="pg:$PG_CONNINFO" t_run_tap "conformance on pg" "$UNIT/test_kv_conformance"
C3FS_TEST_PG_CONNINFO="$PG_CONNINFO" t_run_tap "pg backend specifics" "$UNIT/test_kv_pg"
# the same suite through the unix socket
C3FS_TEST_KV_URI="pg:table=kv_sock;host=$PG_SOCKDIR port=$PG_PORT user=c3fs dbname=postgres" \
	t_run_tap "conformance on pg over the unix socket" "$UNIT/test_kv_conformance"

# durability: what was acknowledged is there after a fast shutdown and restart
t_is "$(psql "$PG_CONNINFO" -Atc "SELECT count(*) > 0 FROM c3fs_kv" 2>&1)" t "data in the table"
before=$(psql "$PG_CONNINFO" -Atc "SELECT md5(string_agg(encode(k,'hex')||encode(v,'hex'), ',' ORDER BY k)) FROM c3fs_kv")
pg_stop
pg_start "$T/pg2" >/dev/null 2>&1 || true   # a fresh server must not see the old data
t_is "$(psql "$PG_CONNINFO" -Atc "SELECT to_regclass('c3fs_kv') IS NULL")" t "fresh server is empty"
pg_stop
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
# restart the first data directory on a new port
port=$(t_free_port)
setpriv --reuid=postgres --regid=postgres --init-groups -- "$PG_BINDIR/postgres" -D "$T/pg/data" -p "$port" \
	-c listen_addresses=127.0.0.1 -c unix_socket_directories="$T/pg" >>"$T/pg/postgres.log" 2>&1 &
T_PIDS[postgres]=$!
t_wait_for 10 '"$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port"'
ci="host=127.0.0.1 port=$port user=c3fs dbname=postgres"
after=$(psql "$ci" -Atc "SELECT md5(string_agg(encode(k,'hex')||encode(v,'hex'), ',' ORDER BY k)) FROM c3fs_kv")
t_is "$after" "$before" "committed data identical after restart"
PG_DIR=$T/pg PG_PID=$(head -1 "$T/pg/data/postmaster.pid") pg_stop "$T/pg"
t_done
