#!/usr/bin/env bash
# timeout: 120
# fuse_op_costs: what a create and an unlink through the mount cost, counted (never
# timed) from the daemons' metrics: KV commits per create/unlink (a create must not go
# back to two commits: CREATE + CLOSE), meta GETATTR RPCs per create/unlink (the kernel's
# GETATTR of the parent is answered by c3fs-fuse from the reply's parent attributes) and
# meta LOOKUPs per operation (the one LOOKUP before a create, none extra).
# See docs/bench/fuse.md and docs/bench/meta-profile.md.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
N=200
MPORT=$(t_free_port)
C_META_ARGS=(--set "metrics.listen=127.0.0.1:$MPORT")
c_start 1 1 1 || { t_ok 1 "cluster starts"; t_done; }
FPORT=$(t_free_port)
c_mount "$T/m" --set "metrics.listen=127.0.0.1:$FPORT" || { t_ok 1 "mount"; t_done; }

# sum of the samples of metric lines matching a regex: metric PORT REGEX
metric() {
	curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
		awk -v re="$2" '$1 ~ re { s += $2 } END { printf "%d\n", s }'
}
snap() { # -> "commits getattr lookup meta_create meta_unlink fuse_create fuse_unlink fuse_getattr release"
	echo "$(metric "$MPORT" '^c3fs_kv_commits_total')" \
		"$(metric "$MPORT" '^c3fs_meta_ops_total\{op="getattr"')" \
		"$(metric "$MPORT" '^c3fs_meta_ops_total\{op="lookup"')" \
		"$(metric "$MPORT" '^c3fs_meta_ops_total\{op="create"')" \
		"$(metric "$MPORT" '^c3fs_meta_ops_total\{op="unlink"')" \
		"$(metric "$FPORT" '^c3fs_fuse_requests_total\{op="create"')" \
		"$(metric "$FPORT" '^c3fs_fuse_requests_total\{op="unlink"')" \
		"$(metric "$FPORT" '^c3fs_fuse_requests_total\{op="getattr"')" \
		"$(metric "$MPORT" '^c3fs_meta_ops_total\{op="release"')"
}
# per-op ratio check: ratio_le DELTA LIMIT NAME
ratio_le() {
	awk -v d="$1" -v n=$N -v lim="$2" 'BEGIN { exit !(d / n <= lim) }'
	t_ok $? "$3: $(awk -v d="$1" -v n=$N 'BEGIN { printf "%.3f", d / n }') per op <= $2"
}

mkdir "$T/m/d" || { t_ok 1 "mkdir"; t_done; }
sleep 0.3 # the mkdir's lookups and any RELEASE batch settle
read -r c0 g0 l0 mc0 mu0 fc0 fu0 fg0 r0 < <(snap)
python3 - "$T/m/d" $N <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    os.close(os.open(f"{d}/f{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
PY
t_ok $? "create $N files through the mount"
sleep 0.5 # the batched RELEASE (sent within 100 ms) is counted too
read -r c1 g1 l1 mc1 mu1 fc1 fu1 fg1 r1 < <(snap)
t_is $((fc1 - fc0)) $N "c3fs-fuse served $N CREATE requests"
t_is $((mc1 - mc0)) $N "meta ran $N CREATEs"
echo "# per create: commits $((c1 - c0)) (RELEASE batches $((r1 - r0))), meta getattr $((g1 - g0)), meta lookup $((l1 - l0)), fuse getattr $((fg1 - fg0)) (for $N)"
# The session ends of the closes travel in RELEASE batches, one commit per batch sent
# within 100 ms: their number depends on how fast the creates run (a slow, loaded test
# machine makes more), so the create's own commits are checked with the batches taken
# out, and the batches on their own (at most one per two creates: still batched).
ratio_le $((c1 - c0 - (r1 - r0))) 1.2 "KV commits per create (RELEASE batches apart)"
ratio_le $((r1 - r0)) 0.5 "RELEASE batches per create"
ratio_le $((g1 - g0)) 0.1 "meta GETATTR RPCs per create"
ratio_le $((l1 - l0)) 1.1 "meta LOOKUP RPCs per create"

python3 - "$T/m/d" $N <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    os.unlink(f"{d}/f{i}")
PY
t_ok $? "unlink $N files through the mount"
sleep 0.3
read -r c2 g2 l2 mc2 mu2 fc2 fu2 fg2 r2 < <(snap)
t_is $((fu2 - fu1)) $N "c3fs-fuse served $N UNLINK requests"
t_is $((mu2 - mu1)) $N "meta ran $N UNLINKs"
echo "# per unlink: commits $((c2 - c1)), meta getattr $((g2 - g1)), meta lookup $((l2 - l1)), fuse getattr $((fg2 - fg1)) (for $N)"
# garbage collection of the unlinked files may commit in the background (one per pass)
ratio_le $((c2 - c1 - (r2 - r1))) 1.2 "KV commits per unlink (RELEASE batches apart)"
ratio_le $((g2 - g1)) 0.1 "meta GETATTR RPCs per unlink"
ratio_le $((l2 - l1)) 1.1 "meta LOOKUP RPCs per unlink"
t_is "$(ls "$T/m/d" | wc -l)" 0 "the directory is empty"
t_done
