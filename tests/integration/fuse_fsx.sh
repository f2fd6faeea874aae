#!/usr/bin/env bash
# timeout: 240
# fuse_fsx: fsx-style data integrity.  Random writes, reads, truncates (down and up),
# mmap reads and writes, fsync, close/reopen, and reads through a second mount, checked
# byte for byte against an in-memory model.  Chunk size 64 KiB and stripe 4 so that the
# operations cross chunk and chain boundaries all the time.  The second mount uses
# write-behind (cluster.write_behind=true).  The storage nodes read with O_DIRECT
# (storage.direct_read), so the aligned-read path is checked against the model too.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
C_STORAGE_ARGS=(--set storage.direct_read=true)
C_CHUNK_SIZE=64K C_STRIPE=4 c_start 3 2 2 || { t_ok 1 "cluster starts"; t_done; }
c_mount "$T/m1" || { t_ok 1 "mount 1"; t_done; }
c_mount "$T/m2" --set cluster.write_behind=true || { t_ok 1 "mount 2"; t_done; }

fsx() { # FILE SEED OPS [second-mount path]
	python3 - "$@" <<'PY'
import mmap, os, random, sys
path, seed, nops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
other = sys.argv[4] if len(sys.argv) > 4 else None
rnd = random.Random(seed)
MAXLEN = 1 << 20
model = bytearray()
fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_RDWR, 0o644)
log = []
def fail(msg):
    print("# FAIL after %d ops: %s" % (len(log), msg))
    for l in log[-15:]:
        print("#   " + l)
    sys.exit(1)
def check_range(got, off, n, what):
    exp = bytes(model[off:off + n])
    if got != exp:
        bad = next((i for i in range(min(len(got), len(exp))) if got[i] != exp[i]), min(len(got), len(exp)))
        fail("%s off=%d len=%d: got %d bytes, expected %d, first difference at +%d" % (what, off, n, len(got), len(exp), bad))
for i in range(nops):
    op = rnd.choice(["write", "write", "read", "read", "trunc", "mapwrite", "mapread", "fsync", "reopen", "other"])
    size = len(model)
    if op == "write":
        off = rnd.randrange(0, MAXLEN)
        n = rnd.randrange(1, 200000)
        n = min(n, MAXLEN - off) or 1
        data = rnd.randbytes(n)
        log.append("write %d+%d" % (off, n))
        if os.pwrite(fd, data, off) != n:
            fail("short write")
        if off > len(model):
            model.extend(b"\0" * (off - len(model)))
        model[off:off + n] = data
    elif op == "read":
        off = rnd.randrange(0, size + 10000)
        n = rnd.randrange(1, 300000)
        log.append("read %d+%d" % (off, n))
        check_range(os.pread(fd, n, off), off, n, "read")
    elif op == "trunc":
        newlen = rnd.randrange(0, MAXLEN)
        log.append("truncate %d -> %d" % (size, newlen))
        os.ftruncate(fd, newlen)
        if newlen < len(model):
            del model[newlen:]
        else:
            model.extend(b"\0" * (newlen - len(model)))
    elif op in ("mapwrite", "mapread"):
        if size == 0:
            continue
        m = mmap.mmap(fd, size)
        off = rnd.randrange(0, size)
        n = min(rnd.randrange(1, 100000), size - off)
        if op == "mapwrite":
            data = rnd.randbytes(n)
            log.append("mapwrite %d+%d (size %d)" % (off, n, size))
            m[off:off + n] = data
            model[off:off + n] = data
            if rnd.random() < 0.5:
                m.flush()
        else:
            log.append("mapread %d+%d" % (off, n))
            check_range(m[off:off + n], off, n, "mapread")
        m.close()
    elif op == "fsync":
        log.append("fsync")
        os.fsync(fd)
    elif op == "reopen":
        log.append("close+reopen")
        os.close(fd)
        fd = os.open(path, os.O_RDWR)
        if os.fstat(fd).st_size != len(model):
            fail("size after reopen %d, expected %d" % (os.fstat(fd).st_size, len(model)))
    elif op == "other" and other:
        # another client (second mount) sees what was written once it is reported
        log.append("fsync + read through the other mount")
        os.fsync(fd)
        with open(other, "rb") as f:
            got = f.read()
        if got != bytes(model):
            check_range(got, 0, len(model), "other-mount read")
            fail("other mount: length %d, expected %d" % (len(got), len(model)))
    if os.fstat(fd).st_size != len(model):
        fail("st_size %d, expected %d" % (os.fstat(fd).st_size, len(model)))
os.close(fd)
with open(path, "rb") as f:
    check_range(f.read(), 0, len(model) + 1, "final read")
print("# %d operations, final size %d" % (nops, len(model)))
PY
}

fsx "$T/m1/fsx1" 1 1000 "$T/m2/fsx1"
t_ok $? "fsx run 1 (seed 1, 1000 ops, second mount checks)"
fsx "$T/m1/fsx2" 2 1000 "$T/m2/fsx2" &
p2=$!
fsx "$T/m2/fsx3" 3 1000 "$T/m1/fsx3"
r3=$?
wait $p2
t_ok $? "fsx run 2 in parallel with run 3"
t_ok $r3 "fsx run 3 through the second mount"
c_umount "$T/m2"
c_umount "$T/m1"
t_ok $? "unmount"
t_done
