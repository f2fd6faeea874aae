#!/usr/bin/env bash
# timeout: 400
# ffrecord_c3fs: an FFRecord dataset on a c3fs FUSE mount reads the same bytes as a local
# copy through every batch backend: USRBIO (chosen by auto on the mount; explicit; with a
# small iov so that samples are cut across rounds), pread through FUSE, io_uring (CLI
# verify and batched cat byte-compared; Python batches when the release library is
# there); storage node killed (-9) during USRBIO batch reads: every read returns every
# sample with its CRC checked (failover) or fails with a clear error, never a hang; the
# FUSE daemon killed under a USRBIO reader: a clear error, no hang.
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
t_ok $? "verify through the mount (every CRC)"
same=0
for name in d00/s00000 d07/s01237 d29/s02999; do
	cmp -s <("$FFR" cat "$M/ds.ffr" "$name") <("$FFR" cat "$T/local.ffr" "$name") || same=1
done
t_ok $same "cat of samples: mount and local copy agree"

# the batch backends on the mount: auto picks USRBIO, C3FS_FFR_IO switches it off
"$FFR" verify "$M/ds.ffr" >"$T/auto.out"
t_ok $? "verify (auto) through the mount"
grep -q '(batches: usrbio)' "$T/auto.out"
t_ok $? "auto on a c3fs mount chose usrbio: $(cat "$T/auto.out")"
C3FS_FFR_IO=uring "$FFR" verify "$M/ds.ffr" >"$T/uring.out"
t_ok $? "verify with C3FS_FFR_IO=uring (USRBIO switched off)"
grep -q '(batches: io_uring)' "$T/uring.out"
t_ok $? "... went through io_uring: $(cat "$T/uring.out")"
"$FFR" verify --json --io pread "$M/ds.ffr" | grep -q '"ok":true,.*"io":"pread"'
t_ok $? "verify --io pread --json through the mount"
"$FFR" --io usrbio verify "$T/local.ffr" 2>"$T/nousrbio.err" >/dev/null
t_is $? 1 "--io usrbio on a local file: exit 1"
grep -q 'usrbio requested but unavailable: .*local.ffr: not on a c3fs mount' "$T/nousrbio.err"
t_ok $? "... saying why: $(head -c 200 "$T/nousrbio.err")"
"$FFR" --io fast verify "$M/ds.ffr" 2>/dev/null
t_is $? 2 "--io fast: exit 2"

# the same samples (shuffled, repeated: 3600 in one batch) through USRBIO, FUSE pread,
# io_uring on the mount and pread on the local copy, byte-compared
python3 -c 'import random; r = random.Random(11); i = list(range(3000)); r.shuffle(i); print(" ".join(map(str, i + i[:600])))' >"$T/idx"
"$FFR" --io pread cat "$T/local.ffr" $(cat "$T/idx") >"$T/cat.local"
t_ok $? "batched cat of 3600 samples from the local copy ($(stat -c %s "$T/cat.local") bytes)"
for io in usrbio pread uring; do
	c_umount "$M" && c_mount "$M"
	"$FFR" --io $io cat "$M/ds.ffr" $(cat "$T/idx") >"$T/cat.$io"
	t_ok $? "batched cat through the mount, --io $io"
	cmp -s "$T/cat.local" "$T/cat.$io"
	t_ok $? "... the same bytes as the local copy"
done
# a 64 KiB iov: samples of up to 24 KiB cut where a round's iov ends, ~600 rounds
C3FS_FFR_USRBIO_IOV_BYTES=65536 "$FFR" --io usrbio cat "$M/ds.ffr" $(cat "$T/idx") >"$T/cat.small"
t_ok $? "batched cat through USRBIO with a 64 KiB iov"
cmp -s "$T/cat.local" "$T/cat.small"
t_ok $? "... the same bytes (samples split across rounds)"
C3FS_FFR_USRBIO_IOV_BYTES=12 "$FFR" --io usrbio cat "$M/ds.ffr" 1 2 3 >/dev/null 2>"$T/iovenv.err"
t_is $? 1 "C3FS_FFR_USRBIO_IOV_BYTES=12: exit 1"
grep -q 'C3FS_FFR_USRBIO_IOV_BYTES=12' "$T/iovenv.err"
t_ok $? "... naming the variable: $(head -c 200 "$T/iovenv.err")"
# a dataset of 3 shards written through the mount, read through USRBIO
"$FFR" pack --shards 3 "$S" "$M/sh" && "$FFR" pack --shards 3 "$S" "$T/sh"
t_ok $? "pack 3 shards into the mount and locally"
"$FFR" --io usrbio verify "$M/sh" >/dev/null
t_ok $? "verify the shards through USRBIO"
"$FFR" --io usrbio cat "$M/sh" $(head -c 4000 "$T/idx" | sed 's/ [0-9]*$//') >"$T/cat.sh.m" &&
	"$FFR" cat "$T/sh" $(head -c 4000 "$T/idx" | sed 's/ [0-9]*$//') | cmp -s "$T/cat.sh.m" -
t_ok $? "a batch across the 3 shards through USRBIO = the local shards"
ls "$M/3fs-virt/iovs" | grep -v '^submit-ios' >"$T/iovs.left"
t_ok $([ -s "$T/iovs.left" ] && echo 1 || echo 0) "no USRBIO registrations left behind by the readers"

LIBDIR=${C3FS_RELEASE_BIN_DIR:-$C3FS_ROOT/build/bin}/../lib
if [ -f "$LIBDIR/libc3fs-ffrecord.so" ]; then
	C3FS_LIB_DIR=$LIBDIR PYTHONPATH=$C3FS_ROOT/python python3 - "$M/ds.ffr" "$T/local.ffr" <<'PY'
import os, random, sys
import c3fs_ffrecord as ff
mnt, loc = sys.argv[1], sys.argv[2]
L = ff.FileReader(loc, io="pread")
idx = list(range(L.n)); random.Random(5).shuffle(idx); idx += idx[:100]
want = [bytes(m) for m in L.read(idx)]
bad = 0
seen = set()
for io in ("pread", "auto", "usrbio", "io_uring"):
    R = ff.FileReader(mnt, io=io)
    seen.add(R.io)
    for k in range(0, len(idx), 256):
        if [bytes(m) for m in R.read(idx[k:k + 256])] != want[k:k + 256]:
            bad += 1
    print("# mount via", R.io)
    R.close()
if seen != {"pread", "usrbio", "io_uring"}:
    print("# backends used:", seen)
    bad += 1
# a USRBIO reader used across fork(): the child makes its own ring and iov
R = ff.FileReader(mnt, io="usrbio")
R.read(idx[:64])
pid = os.fork()
if pid == 0:
    os._exit(0 if [bytes(m) for m in R.read(idx[:512])] == want[:512] else 1)
_, st = os.waitpid(pid, 0)
if st != 0 or [bytes(m) for m in R.read(idx[512:1024])] != want[512:1024]:
    print("# fork: child status", st)
    bad += 1
R.close()
# 4 threads on one USRBIO reader at once (each batch takes its own ring and iov)
import threading
R = ff.FileReader(mnt, io="usrbio")
errs = []
def worker(t):
    for k in range(t * 256, len(idx), 1024):
        if [bytes(m) for m in R.read(idx[k:k + 256])] != want[k:k + 256]:
            errs.append(k)
ths = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
for t in ths: t.start()
for t in ths: t.join()
if errs:
    print("# threads: bad batches at", errs[:10])
    bad += 1
R.close()
try:
    ff.FileReader(loc, io="usrbio")
    bad += 1
except ff.FFRecordError as e:
    print("# io=usrbio on a local file:", e)
sys.exit(1 if bad else 0)
PY
	t_ok $? "Python batches of 256 (shuffled, duplicates): mount = local, pread, usrbio (auto) and io_uring; a usrbio reader across fork() and by 4 threads"
else
	echo "# release libc3fs-ffrecord.so not built: Python part left out"
fi

# failover: USRBIO verify loops on the mount while storage node 2 is killed
c_umount "$M" && c_mount "$M"
(
	for i in 1 2 3 4; do
		timeout 150 "$FFR" --io usrbio verify "$M/ds.ffr" >"$T/v$i.out" 2>"$T/v$i.err"
		echo $? >"$T/v$i.rc"
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
t_ok $clear "every USRBIO verify during the kill: all samples (exit 0) or a clear error naming the file (no hang)"
t_ok $(( okruns > 0 ? 0 : 1 )) "USRBIO reads fail over: $okruns of 4 full verifies passed"
c_umount "$M" && c_mount "$M"
"$FFR" verify "$M/ds.ffr" >/dev/null
t_ok $? "after the kill, a fresh mount verifies the whole dataset"
cmp -s "$T/local.ffr" "$M/ds.ffr"
t_ok $? "and the bytes still equal the local copy"
"$FFR" --io usrbio cat "$M/ds.ffr" $(cat "$T/idx") | cmp -s "$T/cat.local" -
t_ok $? "and a batched USRBIO cat still gives the local copy's bytes"

# the FUSE daemon killed under USRBIO batch reads: a clear error, never a hang
c_umount "$M" && c_mount "$M"
(
	for i in $(seq 1 50); do
		timeout 60 "$FFR" --io usrbio cat "$M/ds.ffr" $(cat "$T/idx") >/dev/null 2>"$T/dk.err"
		rc=$?
		[ $rc = 0 ] || { echo $rc >"$T/dk.rc"; exit 0; }
	done
	echo 0 >"$T/dk.rc"
) &
loop=$!
sleep 1
t_kill "fuse-$(basename "$M")" KILL
wait $loop
rc=$(cat "$T/dk.rc")
echo "# after the daemon was killed: exit $rc: $(head -c 300 "$T/dk.err")"
t_ok $([ "$rc" = 1 ] && grep -q 'ds.ffr' "$T/dk.err" && echo 0 || echo 1) \
	"a USRBIO reader whose daemon is killed fails with a clear error naming the file (exit 1, no hang)"
fusermount3 -uz "$M" 2>/dev/null || umount -l "$M" 2>/dev/null
t_done
