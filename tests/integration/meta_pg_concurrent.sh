#!/usr/bin/env bash
# timeout: 300
# meta_pg_concurrent.sh — two c3fs-meta daemons on one PostgreSQL KV (stateless meta
# servers).  First the POSIX suite through daemon A; then 8 clients split over A and B
# create, mkdir, rename (incl. RENAME_EXCHANGE and directory moves), link and remove in
# the same few directories at once.  Afterwards the KV is read directly: the namespace
# must be a tree (every dentry -> an inode, every directory reachable exactly once, no
# cycles) with correct link counts (tests/unit/meta/test_concurrent.c).
. "$(dirname "$0")/../lib/common.sh"
. "$C3FS_ROOT/tests/lib/pg.sh"

UNIT=${C3FS_BIN_DIR:-$C3FS_ROOT/build/asan/bin}; UNIT=${UNIT%/bin}/tests/unit/meta
[ -x "$BIN/c3fs-meta" ] || t_skip_all "no $BIN/c3fs-meta (build it)"
[ -x "$UNIT/test_concurrent" ] || t_skip_all "no $UNIT/test_concurrent (build the asan tests)"

t_init
pg_start "$T/pg" || t_skip_all "cannot start PostgreSQL 15 (see above)"
KV="pg:$PG_CONNINFO"
pa=$(t_free_port); pb=$(t_free_port)
while [ "$pb" = "$pa" ]; do pb=$(t_free_port); done
t_daemon metaA "$BIN/c3fs-meta" --set server.node_id=1 --set kv.uri="$KV" \
	--set server.listen="127.0.0.1:$pa" --set meta.gc_interval=100ms
t_daemon metaB "$BIN/c3fs-meta" --set server.node_id=2 --set kv.uri="$KV" \
	--set server.listen="127.0.0.1:$pb" --set meta.gc_interval=100ms
t_wait_port "$pa" 30; t_ok $? "meta A listens"
t_wait_port "$pb" 30; t_ok $? "meta B listens"

t_run_tap "posix suite over RPC on pg" C3FS_META_ADDR="127.0.0.1:$pa" C3FS_META_BIGDIR=1200 \
	"$UNIT/test_rpc"
t_run_tap "concurrent renames/creates through two servers keep a tree" \
	C3FS_META_ADDRS="127.0.0.1:$pa,127.0.0.1:$pb" C3FS_META_KV="$KV" C3FS_META_OPS=250 \
	"$UNIT/test_concurrent"
t_kill metaA TERM
t_kill metaB TERM
t_done
