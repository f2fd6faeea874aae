#!/usr/bin/env bash
# timeout: 240
# meta_posix.sh — the POSIX semantics suite (tests/unit/meta/suite.h) over RPC against a
# real c3fs-meta daemon on an lmdb KV: every op and error, permissions of other uids,
# sticky dirs, rename edge cases, a 10,000-entry readdir with cursors, idempotent
# retries, deferred deletion through the daemon's GC thread; then a restart of the daemon
# on the same KV keeps what was acknowledged.
. "$(dirname "$0")/../lib/common.sh"

UNIT=${C3FS_BIN_DIR:-$C3FS_ROOT/build/asan/bin}; UNIT=${UNIT%/bin}/tests/unit/meta
[ -x "$BIN/c3fs-meta" ] || t_skip_all "no $BIN/c3fs-meta (build it)"
[ -x "$UNIT/test_rpc" ] || t_skip_all "no $UNIT/test_rpc (build the asan tests)"

t_init
port=$(t_free_port)
start_meta() {
	t_daemon meta "$BIN/c3fs-meta" --set kv.uri="lmdb:$T/kv" \
		--set server.listen="127.0.0.1:$port" --set server.token=sekrit \
		--set meta.gc_interval=100ms --set log.level=info
	t_wait_port "$port" 30
}

start_meta; t_ok $? "c3fs-meta listens on 127.0.0.1:$port"
t_run_tap "posix suite over RPC on lmdb" C3FS_META_ADDR="127.0.0.1:$port" \
	C3FS_META_TOKEN=sekrit C3FS_META_BIGDIR=10000 "$UNIT/test_rpc"
C3FS_META_ADDR="127.0.0.1:$port" C3FS_META_TOKEN=wrong C3FS_META_VERIFY=1 \
	"$UNIT/test_rpc" >"$T/wrongtoken.out" 2>&1
grep -q "got -1005" "$T/wrongtoken.out"; t_ok $? "a wrong token is refused (C3FS_EAUTH)"
t_kill meta TERM
grep -q "signal 15: stopping" "$T/meta.log"; t_ok $? "daemon stopped cleanly on SIGTERM"
start_meta; t_ok $? "restarted on the same KV"
t_run_tap "acknowledged namespace survives a restart" C3FS_META_ADDR="127.0.0.1:$port" \
	C3FS_META_TOKEN=sekrit C3FS_META_VERIFY=1 "$UNIT/test_rpc"
t_kill meta TERM
t_done
