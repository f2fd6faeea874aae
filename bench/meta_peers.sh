#!/usr/bin/env bash
# bench/meta_peers.sh — metadata beside MooseFS and libfuse's passthrough_ll, in one run.
#
#   make BUILD=release programs && bench/run meta_peers      (root; ≈ 15 min; a quiet machine)
#
# Sets up, in turn, MooseFS 3.0 goal 3 and passthrough_ll over ext4 with the functions of
# ../shared/peers/peers.sh (its own private network namespace for MooseFS), and a local c3fs
# cluster (tools/local-cluster.sh: mgmtd, meta on LMDB, 3 storage nodes x 2 targets, 3
# replicas, durable commits) on its own home and ports.  On each mount, ROUNDS times
# (default 3; the median is printed):
#   - peers' meta.c loop: create / stat after drop_caches / unlink of NMETA files (10,000)
#     with 1 thread and with 4 threads in one directory;
#   - 4 processes, each in its own directory, 3,000 files each (rates summed);
#   - real work on a tree of ≈ 8,000 files (/usr/include): tar xf, tar cf (every file read),
#     git clone of a local repository of it, rm -rf; and `make -j2` of c3fs's own sources.
# Prints a markdown table (ops/s, higher is better; seconds, lower is better) and keeps the
# raw output under $OUT (default /var/tmp/c3fs-meta-peers).
#
# env: NMETA (10000), ROUNDS (3), WORK (1; 0 = metadata loops only), MAKEROW (1; 0 = no make), SYSTEMS ("moosefs passthrough c3fs"), OUT, C3FS_BIN_DIR
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-$(cd "$ROOT/.." && pwd)/shared/peers/peers.sh}
[ -f "$PEERS" ] || { echo "peers.sh not found at $PEERS"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root (mounts, drop_caches, network namespace)"; exit 1; }
NMETA=${NMETA:-10000}
ROUNDS=${ROUNDS:-3}
SYSTEMS=${SYSTEMS:-moosefs passthrough c3fs}
WORK=${WORK:-1}
MAKEROW=${MAKEROW:-1}
OUT=${OUT:-/var/tmp/c3fs-meta-peers}
C3BIN=${C3FS_BIN_DIR:-$ROOT/build/bin}

# the peers' functions (set-up, tear-down, drop) without its command dispatch
PEERS_BOUNDED=1
cmd=none
# shellcheck disable=SC1090
. <(sed '/^case \$cmd in/,$d' "$PEERS")
HERE=$(dirname "$PEERS"); SELF=$PEERS
need || { echo "peers.sh: could not install its packages"; exit 1; }
mkdir -p "$OUT"
rm -f "$OUT"/*.txt

C3H=/var/tmp/c3fs-meta-peers-home
C3M=/var/tmp/c3fs-meta-peers-mnt
c3_up() {
	rm -rf "$C3H"; mkdir -p "$C3M"
	C3FS_BIN=$C3BIN C3FS_HOME=$C3H C3FS_MOUNT=$C3M C3FS_BASE_PORT=27300 \
		"$ROOT/tools/local-cluster.sh" start > "$OUT/c3fs-start.log" 2>&1
}
c3_down() {
	C3FS_BIN=$C3BIN C3FS_HOME=$C3H C3FS_MOUNT=$C3M C3FS_BASE_PORT=27300 \
		"$ROOT/tools/local-cluster.sh" stop > "$OUT/c3fs-stop.log" 2>&1
	rm -rf "$C3H"
}
c3_teardown() { mountpoint -q "$C3M" 2>/dev/null && c3_down; teardown; }
trap c3_teardown EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# the tree for the real-work rows, made once outside any mount
SRC=$OUT/src
if [ ! -f "$SRC/tree.tar" ]; then
	mkdir -p "$SRC"
	tar cf "$SRC/tree.tar" -C /usr include 2>/dev/null
	rm -rf "$SRC/repo"; mkdir -p "$SRC/repo"
	tar xf "$SRC/tree.tar" -C "$SRC/repo"
	git -C "$SRC/repo" init -q && git -C "$SRC/repo" add -A &&
		git -C "$SRC/repo" -c user.name=bench -c user.email=bench@localhost commit -qm tree
	git -C "$ROOT" archive --format=tar HEAD > "$SRC/c3fs.tar"
fi
NFILES=$(tar tf "$SRC/tree.tar" | grep -vc '/$')

secs() { local t0; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2; awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", b - a }'; }
sumof() { sed -n "s/.*$1=\([0-9.-]*\).*/\1/p" | awk '{ s += $1 } END { print s + 0 }'; }

one_round() { # MOUNT LABEL ROUND
	local M=$1 L=$2 r=$3 W=$1/mp-$3 f i
	f=$OUT/$L.r$r.txt
	rm -rf "$W"; mkdir -p "$W"
	drop; "$BIN/meta" "$W/t1" "$NMETA" 1 1 > "$W.t1" 2>>"$f.err"
	drop; "$BIN/meta" "$W/t4" "$NMETA" 4 1 > "$W.t4" 2>>"$f.err"
	echo "t1 $(cat "$W.t1")" >> "$f"; echo "t4 $(cat "$W.t4")" >> "$f"
	rm -f "$W.t1" "$W.t4"
	drop
	local pids=()
	for i in 1 2 3 4; do "$BIN/meta" "$W/d$i" 3000 1 0 > "$OUT/$L.r$r.d$i" 2>>"$f.err" & pids+=($!); done
	wait "${pids[@]}"
	echo "d4 create=$(cat "$OUT/$L.r$r".d? | sumof create) unlink=$(cat "$OUT/$L.r$r".d? | sumof unlink)" >> "$f"
	rm -f "$OUT/$L.r$r".d?
	[ "$WORK" = 1 ] || { rm -rf "$W"; return 0; }
	drop; echo "tar_x $(secs tar xf "$SRC/tree.tar" -C "$W")" >> "$f"
	drop; echo "tar_c $(secs sh -c "tar cf - -C '$W' include | cat > /dev/null")" >> "$f"
	drop; echo "git_clone $(secs git clone -q --no-hardlinks "file://$SRC/repo" "$W/clone")" >> "$f"
	if [ "$MAKEROW" = 1 ]; then
		mkdir -p "$W/c3fs" && tar xf "$SRC/c3fs.tar" -C "$W/c3fs"
		drop; echo "make $(secs make -C "$W/c3fs" -j2 O="$W/c3fs/build" BUILD=release programs)" >> "$f"
	fi
	drop; echo "rm_rf $(secs rm -rf "$W")" >> "$f"
}

for s in $SYSTEMS; do
	case $s in
	moosefs) mfs_up || { echo "moosefs did not start"; exit 1; }; M=$MNT_MFS ;;
	passthrough) pt_up || { echo "passthrough_ll did not start"; exit 1; }; M=$MNT_PT ;;
	c3fs) c3_up || { echo "c3fs did not start ($OUT/c3fs-start.log)"; exit 1; }; M=$C3M ;;
	*) echo "unknown system $s"; exit 2 ;;
	esac
	echo "$s: loadavg before $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/notes.txt"
	for r in $(seq 1 "$ROUNDS"); do one_round "$M" "$s" "$r"; done
	echo "$s: loadavg after $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/notes.txt"
	case $s in
	moosefs) mfs_down ;;
	passthrough) pt_down ;;
	c3fs) c3_down ;;
	esac
done

python3 - "$OUT" "$NMETA" "$NFILES" $SYSTEMS <<'PY'
import re, statistics, sys, glob, os
out, nmeta, nfiles, systems = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
rows = [("create / s, 1 thread", "t1", "create"), ("stat after drop_caches / s, 1 thread", "t1", "stat_cold"),
        ("unlink / s, 1 thread", "t1", "unlink"), ("create / s, 4 threads, one dir", "t4", "create"),
        ("unlink / s, 4 threads, one dir", "t4", "unlink"), ("create / s, 4 processes x own dir", "d4", "create"),
        ("unlink / s, 4 processes x own dir", "d4", "unlink"),
        (f"tar xf, {nfiles} files (s)", "tar_x", None), ("tar cf, every file read (s)", "tar_c", None),
        ("git clone of that tree (s)", "git_clone", None), ("make -j2 of c3fs (s)", "make", None),
        ("rm -rf of all (s)", "rm_rf", None)]
vals = {}
for s in systems:
    for f in sorted(glob.glob(os.path.join(out, f"{s}.r*.txt"))):
        for line in open(f):
            k, _, rest = line.strip().partition(" ")
            for row, key, fld in rows:
                if key != k:
                    continue
                if fld is None:
                    try: v = float(rest)
                    except ValueError: continue
                else:
                    m = re.search(fld + r"=([0-9.-]+)", rest)
                    if not m: continue
                    v = float(m.group(1))
                vals.setdefault((s, row), []).append(v)
print(f"| median of {len(glob.glob(os.path.join(out, systems[0] + '.r*.txt')))} rounds (n={nmeta}) | " + " | ".join(systems) + " |")
print("|---|" + "---|" * len(systems))
for row, key, fld in rows:
    cells = []
    for s in systems:
        v = vals.get((s, row))
        if not v: cells.append("-"); continue
        m = statistics.median(v)
        cells.append(f"{m:,.0f}" if fld else f"{m:.2f}")
    print(f"| {row} | " + " | ".join(cells) + " |")
PY
cat "$OUT/notes.txt"
trap - EXIT
c3_teardown >/dev/null 2>&1
exit 0
