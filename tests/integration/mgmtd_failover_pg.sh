#!/usr/bin/env bash
# timeout: 200
# mgmtd_failover_pg.sh — mgmtd_failover.sh with the three mgmtd sharing a PostgreSQL
# database (kv.uri = pg:...) instead of one LMDB directory: the setup for standbys on
# several hosts.  The scenario's own checks are printed as comments; this script's result
# is theirs.
. "$(dirname "$0")/../lib/common.sh"
. "$C3FS_ROOT/tests/lib/pg.sh"
t_init
command -v jq >/dev/null || t_skip_all "jq not installed"
pg_start "$T/pg" || t_skip_all "cannot start PostgreSQL 15"
MGMTD_FAILOVER_KV="pg:$PG_CONNINFO" bash "$C3FS_ROOT/tests/integration/mgmtd_failover.sh" \
	>"$T/scenario.out" 2>&1
rc=$?
sed 's/^/# /' "$T/scenario.out" | grep -E '^# (ok|not ok|#)'
[ "$rc" = 0 ] && grep -q '^ok' "$T/scenario.out" && ! grep -q '^not ok' "$T/scenario.out"
t_ok $? "failover scenario on a PostgreSQL KV ($(grep -c '^ok' "$T/scenario.out") checks passed)"
pg_stop
t_done
