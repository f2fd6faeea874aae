#!/usr/bin/env bash
# timeout: 280
# ffrecord_c3fs: an FFRecord dataset on a c3fs FUSE mount reads the same bytes as a local
# copy (CLI verify and cat; Python batches through io_uring and pread when the release
# library is there); storage node killed (-9) during batch reads: every read returns every
# sample with its CRC checked (failover) or fails with a clear error, never a crash.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
FFR=$BIN/c3fs-ffrecord
[ -x "$FFR" ] || t_skip_all "c3fs-ffrecord not built in $BIN"
c_start 3 2 3 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt
c_mount "$M" || { t_ok 1 "mount"; t_done; }

# 3000 samples of 1..24 KiB (~37 MiB) as a tree, packed locally
S=$T/src
mkdir -p "$S"
python3 - "$S" <<'PY'
import os, random, sys
r = random.Random(3)
for i in range(3000):
    d = os.path.join(sys.argv[1], "d%02d" % (i % 30))
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "s%05d" % i), "wb").write(r.randbytes(r.randint(1024, 24 * 1024)))
PY
"$FFR" pack "$S" "$T/local.ffr"
t_ok $? "pack locally"
cp "$T/local.ffr" "$M/ds.ffr"
t_ok $? "copy into the mount"
c_umount "$M" && c_mount "$M"   # no page cache: reads go to storage
cmp -s "$T/local.ffr" "$M/ds.ffr"
t_ok $? "the file on the mount is byte-identical"
"$FFR" verify "$M/ds.ffr" >/dev/null
t_ok $? "verify through the mount (every CRC, io_uring batches)"
same=0
for name in d00/s00000 d07/s01237 d29/s02999; do
	cmp -s <("$FFR" cat "$M/ds.ffr" "$name") <("$FFR" cat "$T/local.ffr" "$name") || same=1
done
t_ok $same "cat of samples: mount and local copy agree"

LIBDIR=${C3FS_RELEASE_BIN_DIR:-$C3FS_ROOT/build/bin}/../lib
if [ -f "$LIBDIR/libc3fs-ffrecord.so" ]; then
	C3FS_LIB_DIR=$LIBDIR PYTHONPATH=$C3FS_ROOT/python python3 - "$M/ds.ffr" "$T/local.ffr" <<'PY'
import random, sys
import c3fs_ffrecord as ff
mnt, loc = sys.argv[1], sys.argv[2]
L = ff.FileReader(loc, io="pread")
idx = list(range(L.n)); random.Random(5).shuffle(idx); idx += idx[:100]
want = [bytes(m) for m in L.read(idx)]
bad = 0
for io in ("pread", "auto"):
    R = ff.FileReader(mnt, io=io)
    for k in range(0, len(idx), 256):
        if [bytes(m) for m in R.read(idx[k:k + 256])] != want[k:k + 256]:
            bad += 1
    print("# mount via", R.io)
    R.close()
sys.exit(1 if bad else 0)
PY
	t_ok $? "Python batches of 256 (shuffled, duplicates): mount = local, pread and io_uring"
else
	echo "# release libc3fs-ffrecord.so not built: Python part left out"
fi

# failover: verify loops on the mount while storage node 2 is killed
c_umount "$M" && c_mount "$M"
(
	for i in 1 2 3 4; do
		"$FFR" verify "$M/ds.ffr" >"$T/v$i.out" 2>"$T/v$i.err"
		echo $? >"$T/v$i.rc"
		echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
	done
) &
loop=$!
sleep 1
c_kill_storage 2 KILL
t_ok $? "storage node 2 killed during the batch reads"
wait $loop
clear=0 okruns=0
for i in 1 2 3 4; do
	rc=$(cat "$T/v$i.rc")
	if [ "$rc" = 0 ]; then
		okruns=$((okruns + 1))
	elif [ "$rc" = 1 ] && grep -q 'ds.ffr' "$T/v$i.err"; then
		echo "# run $i: clear error: $(head -c 200 "$T/v$i.err")"
	else
		clear=1
		echo "# run $i: exit $rc: $(head -c 300 "$T/v$i.err")"
	fi
done
t_ok $clear "every verify during the kill: all samples (exit 0) or a clear error naming the file"
t_ok $(( okruns > 0 ? 0 : 1 )) "reads fail over: $okruns of 4 full verifies passed"
c_umount "$M" && c_mount "$M"
"$FFR" verify "$M/ds.ffr" >/dev/null
t_ok $? "after the kill, a fresh mount verifies the whole dataset"
cmp -s "$T/local.ffr" "$M/ds.ffr"
t_ok $? "and the bytes still equal the local copy"
t_done
