#!/usr/bin/env bash
# timeout: 280
# fuse_data: a tree of files of awkward sizes copied into a c3fs mount, checked after
# unmount + remount, then with one storage node killed (-9), then concurrent writers and
# readers from several processes.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
c_start 3 2 3 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt

# the source tree, on the local disk
S=$T/src
mkdir -p "$S/d1/d2/d3" "$S/empty_dir"
mk() { head -c "$2" /dev/urandom >"$S/$1"; }
mk f0 0
mk f1 1
mk f4k- 4095
mk f4k 4096
mk f4k+ 4097
mk d1/f1m- 1048575
mk d1/f1m 1048576
mk d1/f1m+ 1048577
mk d1/d2/f64m+ $((64 * 1048576 + 1))
mk d1/d2/d3/small 10
ln -s ../f1 "$S/d1/link"
# a larger one: 1 GiB with the release build, else 160 MiB (ASan is slow)
if [ -x "${C3FS_RELEASE_BIN_DIR:-/nonexistent}/c3fs-fuse" ] && [ "${C3FS_BIG:-0}" = 1 ]; then
	BIG=$((1024 * 1048576))
else
	BIG=$((160 * 1048576))
fi
mk big $BIG
(cd "$S" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$T/src.sum"

c_mount "$M" || { t_ok 1 "mount"; t_done; }
t_ok 0 "mounted"
cp -a "$S/." "$M/"
t_ok $? "cp -a of the tree into the mount"
(cd "$M" && sha256sum -c --quiet "$T/src.sum")
t_ok $? "checksums right through the same mount"
t_is "$(stat -c %s "$M/d1/d2/f64m+")" $((64 * 1048576 + 1)) "size of the 64 MiB+1 file"
t_is "$(readlink "$M/d1/link")" "../f1" "symlink target"
t_is "$(stat -c %s "$M/f0")" 0 "empty file stays empty"

c_umount "$M"
t_ok $? "unmount (daemon exits 0)"
c_mount "$M" || { t_ok 1 "remount"; t_done; }
(cd "$M" && sha256sum -c --quiet "$T/src.sum")
t_ok $? "checksums right after unmount + remount (no page cache)"
diff <(cd "$S" && find . | sort) <(cd "$M" && find . | sort) >/dev/null
t_ok $? "same names after remount"

# silent corruption of every chunk replica on storage node 1: reads fail over
n=0
while IFS= read -r -d '' f; do
	sz=$(stat -c %s "$f")
	[ "$sz" -gt 4096 ] || continue
	printf '\xff\xfe\xfd\xfc' | dd of="$f" bs=1 seek=1000 conv=notrunc status=none && n=$((n + 1))
done < <(find "$C_TARGET_ROOT/s1" -type f ! -name '*.mdb' ! -name '*.mdb-lock' -print0)
echo "# corrupted $n chunk files on node 1"
t_ok $(( n > 0 ? 0 : 1 )) "found chunk files of node 1 to corrupt"
c_umount "$M" && c_mount "$M"
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
(cd "$M" && sha256sum -c --quiet "$T/src.sum")
t_ok $? "everything reads back intact with node 1's replicas corrupted (checksum failover)"

# one storage node dies: every chain still has two replicas
c_kill_storage 2 KILL
c_umount "$M" && c_mount "$M"
(cd "$M" && sha256sum -c --quiet "$T/src.sum")
t_ok $? "everything reads back intact with storage node 2 killed"
head -c 3000000 /dev/urandom >"$T/after"
cp "$T/after" "$M/after-kill"
t_ok $? "writes go on with a node down (chain reconfigured)"
cmp -s "$T/after" "$M/after-kill"
t_ok $? "and read back right"
c_start_storage 2
t_ok $? "storage node 2 restarts"

# concurrent writers and readers from several processes
mkdir -p "$M/conc"
pids=()
for w in 1 2 3 4; do
	(
		set -e
		for k in 1 2 3; do
			head -c $((w * 300000 + k)) /dev/urandom >"$T/w$w.$k"
			cp "$T/w$w.$k" "$M/conc/w$w.$k"
			cmp -s "$T/w$w.$k" "$M/conc/w$w.$k"
		done
	) &
	pids+=($!)
done
# readers of the big file while the writers run
for r in 1 2; do
	(cmp -s "$S/big" "$M/big") &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
t_is "$bad" 0 "4 writers and 2 readers in parallel, all data right"
# one file written by several processes at disjoint offsets
python3 - "$M/conc/shared" <<'PY'
import os, sys
p = sys.argv[1]
fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644); os.close(fd)
kids = []
for w in range(4):
    pid = os.fork()
    if pid == 0:
        fd = os.open(p, os.O_WRONLY)
        for k in range(8):
            off = (k * 4 + w) * 300001
            os.pwrite(fd, bytes([w + 1]) * 300001, off)
        os.close(fd)
        os._exit(0)
    kids.append(pid)
ok = all(os.waitpid(k, 0)[1] == 0 for k in kids)
data = open(p, 'rb').read()
exp = b''.join(bytes([(i % 4) + 1]) * 300001 for i in range(32))
sys.exit(0 if ok and data == exp else 1)
PY
t_ok $? "4 processes writing disjoint ranges of one file: contents and length right"
c_umount "$M"
t_ok $? "final unmount"
t_done
