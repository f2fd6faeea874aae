#!/usr/bin/env bash
# timeout: 180
# meta_cluster.sh — the meta service's storage side effects in a real cluster (mgmtd, three
# storage nodes, c3fs-meta joined to mgmtd): a file created through c3fs-meta and written
# straight to its chains is cut on storage by a truncate, and after unlink the GC removes
# every chunk and then the inode (tests/unit/meta/test_hooks.c, cluster mode).
. "$(dirname "$0")/../lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"

UNIT=${C3FS_BIN_DIR:-$C3FS_ROOT/build/asan/bin}; UNIT=${UNIT%/bin}/tests/unit/meta
[ -x "$UNIT/test_hooks" ] || t_skip_all "no $UNIT/test_hooks (build the asan tests)"
for b in c3fs-mgmtd c3fs-storage c3fs-meta; do
	[ -x "$BIN/$b" ] || t_skip_all "no $BIN/$b"
done

t_init
C_STRIPE=2 c_start 3 1 1 || { t_ok 1 "cluster started"; t_done; }
t_ok 0 "cluster started (mgmtd $C_MGMTD, meta $C_META)"
out=$T/hooks.out
C3FS_MGMTD=$C_MGMTD C3FS_TOKEN=$C_TOKEN C3FS_META_ADDR=$C_META "$UNIT/test_hooks" >"$out" 2>&1
rc=$?
grep -E '^(not ok|#)' "$out" | head -40 | sed 's/^/#   /'
[ $rc = 0 ] && grep -q '^not ok' "$out" && rc=1
[ $rc = 77 ] && t_skip_all "$(grep -m1 SKIP "$out")"
t_ok $rc "truncate and GC reach storage ($(grep -c '^ok' "$out") checks passed)"
t_done
