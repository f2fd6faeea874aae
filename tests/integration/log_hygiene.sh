#!/usr/bin/env bash
# timeout: 200
# log_hygiene.sh — what the daemons log, against a real PostgreSQL with password auth:
#   - a KV URI with a password (conninfo password=, postgresql://user:pw@ and ?password=)
#     never reaches a log: mgmtd and meta log it as password=*** / user:***@;
#   - a wrong password is logged with libpq's reason ("password authentication failed"),
#     not only "cannot connect to peer", and still without the password;
#   - passfile= (the documented way) works;
#   - a mgmtd outage is logged once by a node (failed / acknowledged again), not at every
#     heartbeat afterwards;
#   - a standby mgmtd logs that it is a standby and who leads.
. "$(dirname "$0")/../lib/common.sh"
. "$C3FS_ROOT/tests/lib/pg.sh"
t_init
for b in c3fs-mgmtd c3fs-meta; do
	[ -x "$BIN/$b" ] || t_skip_all "$b not built in $BIN"
done
pg_start "$T/pg" || t_skip_all "cannot start PostgreSQL 15"

# a role that must give a password over TCP (pg.sh trusts only user c3fs)
SECRET="Pw-s3cret-$RANDOM$RANDOM"
WRONG="Wrong-pw-$RANDOM$RANDOM"
PSQL=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U c3fs -d postgres)
"${PSQL[@]}" -c "CREATE ROLE c3fs_pw LOGIN PASSWORD '$SECRET'" &&
	"${PSQL[@]}" -c "CREATE DATABASE c3fs_pw OWNER c3fs_pw"
t_ok $? "role c3fs_pw with a password, its database"
hba="$PG_DIR/data/pg_hba.conf"
{ echo "host all c3fs_pw 127.0.0.1/32 scram-sha-256"; cat "$hba"; } >"$T/hba.new"
cat "$T/hba.new" >"$hba"
kill -HUP "$PG_PID"
sleep 1
PGPASSWORD=nope "$PG_BINDIR/psql" -X -h 127.0.0.1 -p "$PG_PORT" -U c3fs_pw -d c3fs_pw \
	-w -c 'select 1' >/dev/null 2>&1
t_ok "$([ $? -ne 0 ] && echo 0 || echo 1)" "the server asks c3fs_pw for its password"

CI="host=127.0.0.1 port=$PG_PORT user=c3fs_pw dbname=c3fs_pw connect_timeout=10"
MP=$(t_free_port)
M=127.0.0.1:$MP

# --- mgmtd and meta with the password in the URI --------------------------------------------
t_daemon mgmtd "$BIN/c3fs-mgmtd" --set server.listen="$M" --set server.token=tok \
	--set kv.uri="pg:$CI password=$SECRET"
t_wait_port "$MP" 30
t_ok $? "mgmtd runs on a pg URI with password="
# the line comes once the daemon is up, which may be a moment after its port opens
t_wait_for 20 grep -q "'KV pg:host=127.0.0.1 port=$PG_PORT user=c3fs_pw dbname=c3fs_pw connect_timeout=10 password=\*\*\*'" "$T/mgmtd.log"
t_ok $? "mgmtd logs the URI with password=***"

META_PORT=$(t_free_port)
t_daemon meta "$BIN/c3fs-meta" --set server.listen="127.0.0.1:$META_PORT" --set server.token=tok \
	--set server.node_id=50 --set mgmtd.addrs="$M" --set mgmtd.heartbeat=200ms \
	--set kv.uri="pg:table=meta_kv;postgresql://c3fs_pw:$SECRET@127.0.0.1:$PG_PORT/c3fs_pw?connect_timeout=10&password=$SECRET"
t_wait_port "$META_PORT" 30
t_ok $? "meta runs on a postgresql:// URI with the password in userinfo and query"
t_wait_for 20 grep -q "'kv pg:table=meta_kv;postgresql://c3fs_pw:\*\*\*@127.0.0.1:$PG_PORT/c3fs_pw?connect_timeout=10&password=\*\*\* '" "$T/meta.log"
t_ok $? "meta logs the URI with both passwords hidden"

# --- a standby mgmtd ------------------------------------------------------------------------
SP=$(t_free_port)
t_daemon mgmtd2 "$BIN/c3fs-mgmtd" --set server.listen="127.0.0.1:$SP" --set server.token=tok \
	--set kv.uri="pg:$CI password=$SECRET"
t_wait_port "$SP" 30
for _ in $(seq 50); do grep -q "standby mgmtd" "$T/mgmtd2.log" && break; sleep 0.1; done
grep -q "standby mgmtd: the leader is $M (epoch " "$T/mgmtd2.log"
t_ok $? "the standby logs that it is one and who leads: $(grep -o 'standby mgmtd.*' "$T/mgmtd2.log" | head -1)"
t_kill mgmtd2

# --- a mgmtd outage: logged once, not per heartbeat --------------------------------------------
for _ in $(seq 100); do grep -q "mgmtd lease acquired" "$T/meta.log" && break; sleep 0.1; done
t_kill mgmtd TERM
sleep 2 # about ten failed heartbeats (200 ms)
t_daemon mgmtd "$BIN/c3fs-mgmtd" --set server.listen="$M" --set server.token=tok \
	--set kv.uri="pg:$CI password=$SECRET"
t_wait_port "$MP" 30
for _ in $(seq 100); do grep -q "acknowledged again" "$T/meta.log" && break; sleep 0.1; done
sleep 3 # about fifteen good heartbeats
t_is "$(grep -c "acknowledged again" "$T/meta.log")" 1 "one 'acknowledged again' line after the outage"
t_is "$(grep -cE "mgmtd (heartbeat|registration) failed" "$T/meta.log")" 1 \
	"one 'failed' line for the whole outage"

# --- a wrong password ---------------------------------------------------------------------
t_kill meta
"$BIN/c3fs-mgmtd" --set server.listen="127.0.0.1:$(t_free_port)" \
	--set kv.uri="pg:$CI password=$WRONG" >"$T/wrong-mgmtd.log" 2>&1 &
wpid=$!
for _ in $(seq 300); do kill -0 $wpid 2>/dev/null || break; sleep 0.1; done
kill -0 $wpid 2>/dev/null && kill -KILL $wpid
wait $wpid
t_ok "$([ $? -ne 0 ] && echo 0 || echo 1)" "mgmtd with a wrong password exits with an error"
grep -q 'password authentication failed for user "c3fs_pw"' "$T/wrong-mgmtd.log"
t_ok $? "libpq's reason is logged: $(grep -o 'postgresql: cannot connect.*' "$T/wrong-mgmtd.log" | head -1 | cut -c1-160)"
"$BIN/c3fs-meta" --set server.listen="127.0.0.1:$(t_free_port)" \
	--set kv.uri="pg:$CI password='$WRONG'" >"$T/wrong-meta.log" 2>&1
t_ok "$([ $? -ne 0 ] && echo 0 || echo 1)" "meta with a wrong (quoted) password exits with an error"
grep -q 'password authentication failed for user "c3fs_pw"' "$T/wrong-meta.log"
t_ok $? "meta logs libpq's reason too"
grep -q "password=\*\*\*" "$T/wrong-meta.log"
t_ok $? "and the URI with password=***"

# --- passfile= ------------------------------------------------------------------------------
printf '127.0.0.1:%s:c3fs_pw:c3fs_pw:%s\n' "$PG_PORT" "$SECRET" >"$T/pgpass"
chmod 600 "$T/pgpass"
META2=$(t_free_port)
t_daemon meta2 "$BIN/c3fs-meta" --set server.listen="127.0.0.1:$META2" \
	--set kv.uri="pg:table=meta2_kv;$CI passfile=$T/pgpass"
t_wait_port "$META2" 30
t_ok $? "meta with passfile= (no password in the URI) connects"
t_kill meta2

# --- nowhere -----------------------------------------------------------------------------------
t_kill mgmtd
hits=$(grep -lr -e "$SECRET" -e "$WRONG" "$T"/*.log 2>/dev/null)
t_is "$hits" "" "no log holds either password"
t_ok "$(ls "$T"/*.log | wc -l | awk '{print ($1 >= 6) ? 0 : 1}')" "logs checked: $(ls "$T"/*.log | xargs -n1 basename | tr '\n' ' ')"
pg_stop
t_done
