#!/usr/bin/env bash
# timeout: 180
# meta_crash.sh — kill -9 of c3fs-meta (lmdb KV) while 8 clients create, rename, link and
# remove in the same directories; afterwards the KV, read directly, must still be a tree
# with correct link counts (every transaction applied whole or not at all); a restarted
# daemon serves the same KV and survives a second kill the same way.  (kill -9 keeps the
# page cache: power loss is the KV's crash tests' business.)
. "$(dirname "$0")/../lib/common.sh"

UNIT=${C3FS_BIN_DIR:-$C3FS_ROOT/build/asan/bin}; UNIT=${UNIT%/bin}/tests/unit/meta
[ -x "$BIN/c3fs-meta" ] || t_skip_all "no $BIN/c3fs-meta (build it)"
[ -x "$UNIT/test_concurrent" ] || t_skip_all "no $UNIT/test_concurrent (build the asan tests)"

t_init
port=$(t_free_port)
KV="lmdb:$T/kv?sync=wal"
start_meta() {
	t_daemon meta "$BIN/c3fs-meta" --set kv.uri="$KV" --set server.listen="127.0.0.1:$port" \
		--set meta.gc_interval=100ms
	t_wait_port "$port" 30
}
start_meta; t_ok $? "c3fs-meta listens"
C3FS_META_ADDRS="127.0.0.1:$port,127.0.0.1:$port" C3FS_META_KV="$KV" C3FS_META_TOLERATE=1 \
	C3FS_META_OPS=3000 "$UNIT/test_concurrent" >"$T/load.out" 2>&1 &
load=$!
sleep 3
t_kill meta KILL
wait $load
rc=$?
grep -E '^(not ok|#)' "$T/load.out" | head -20 | sed 's/^/#   /'
t_ok $rc "clients ran until the kill"
for round in 1 2; do
	C3FS_META_KV="$KV" C3FS_META_CHECK_ONLY=1 "$UNIT/test_concurrent" >"$T/check$round.out" 2>&1
	rc=$?
	grep -E '^(not ok|#)' "$T/check$round.out" | head -20 | sed 's/^/#   /'
	t_ok $rc "after kill -9 (round $round): the namespace is a tree with right link counts"
	[ $round = 2 ] && break
	# a restarted server serves the same KV and keeps it consistent under more load
	start_meta; t_ok $? "restarted on the same KV"
	C3FS_META_ADDRS="127.0.0.1:$port,127.0.0.1:$port" C3FS_META_KV="$KV" C3FS_META_TOLERATE=1 \
		C3FS_META_OPS=1500 "$UNIT/test_concurrent" >"$T/load2.out" 2>&1 &
	load=$!
	sleep 2
	t_kill meta KILL
	wait $load
done
t_done
