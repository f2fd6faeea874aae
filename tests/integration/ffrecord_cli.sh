#!/usr/bin/env bash
# timeout: 240
# ffrecord_cli: c3fs-ffrecord pack/verify/ls/cat/unpack round trip (one file and --shards),
# corruption found by verify (exit 1, the bad sample named, --json), usage errors (exit 2);
# the Python module over libc3fs-ffrecord.so cross-checked both ways against a pure-Python
# reference writer/reader of the published layout (byte-identical files); packed folders
# made by Python's pickle (protocols 2..5) read by the CLI, and packs read by Python.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
t_init
FFR=$BIN/c3fs-ffrecord
[ -x "$FFR" ] || t_skip_all "c3fs-ffrecord not built in $BIN"
command -v python3 >/dev/null || t_skip_all "python3 missing"

# the tree to pack: awkward sizes, an empty file, an empty dir, nested dirs
S=$T/src
mkdir -p "$S/d1/d2" "$S/empty_dir" "$S/z"
head -c 0 /dev/urandom >"$S/f0"
head -c 1 /dev/urandom >"$S/f1"
head -c 65537 /dev/urandom >"$S/d1/f64k+"
head -c 3000000 /dev/urandom >"$S/d1/d2/f3m"
for i in $(seq 1 50); do head -c $((i * 37)) /dev/urandom >"$S/z/s$i"; done
nfiles=$(find "$S" -type f | wc -l)

"$FFR" pack "$S" "$T/p.ffr"
t_ok $? "pack DIR OUT.ffr"
"$FFR" verify "$T/p.ffr" >/dev/null
t_ok $? "verify the pack"
t_is "$("$FFR" ls --json "$T/p.ffr" | python3 -c 'import json,sys; print(json.load(sys.stdin)["samples"])')" \
	$((nfiles + 1)) "ls --json: files + 1 index sample"
"$FFR" ls "$T/p.ffr" | grep -q '^packed folder: '"$nfiles"' files' 
t_ok $? "ls shows the packed-folder tree"
cmp -s <("$FFR" cat "$T/p.ffr" d1/d2/f3m) "$S/d1/d2/f3m"
t_ok $? "cat by name"
"$FFR" cat "$T/p.ffr" 0 | cmp -s - "$S/d1/d2/f3m"
t_ok $? "cat by index (sample 0 = first file depth first by name)"
"$FFR" unpack "$T/p.ffr" "$T/out"
t_ok $? "unpack"
diff -r "$S" "$T/out" >/dev/null
t_ok $? "unpacked tree identical (names, empty dir, bytes)"

"$FFR" pack --shards 4 "$S" "$T/sh"
t_ok $? "pack --shards 4"
t_is "$(ls "$T/sh" | wc -l)" 4 "4 shard files"
"$FFR" unpack "$T/sh" "$T/out2" && diff -r "$S" "$T/out2" >/dev/null
t_ok $? "sharded dataset unpacks to the same tree"
"$FFR" verify --json "$T/sh" | grep -q '"ok":true'
t_ok $? "verify --json of the shard directory"

# corruption: flip a byte inside sample 5 of a copy
cp "$T/p.ffr" "$T/bad.ffr"
off=$(python3 - "$T/bad.ffr" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read(); n = struct.unpack('<q', d[4:12])[0]
print(struct.unpack('<q', d[12 + 4*n + 8*5: 12 + 4*n + 8*6])[0] + 3)
PY
)
printf '\xa5' | dd of="$T/bad.ffr" bs=1 seek="$off" conv=notrunc status=none
"$FFR" verify "$T/bad.ffr" 2>"$T/verify.err" >/dev/null
t_is $? 1 "verify of a flipped sample byte: exit 1"
grep -q 'bad.ffr: sample 5 ' "$T/verify.err"
t_ok $? "... naming the file and sample 5: $(head -c 200 "$T/verify.err")"
"$FFR" verify --json "$T/bad.ffr" >"$T/verify.json"
t_is $? 1 "verify --json: exit 1"
t_is "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bad_index"])' "$T/verify.json")" 5 \
	"verify --json: bad_index 5"
printf '\x00\x00\x00\x10' | dd of="$T/bad.ffr" bs=1 seek=4 conv=notrunc status=none
"$FFR" verify "$T/bad.ffr" 2>"$T/verify.err" >/dev/null
t_is $? 1 "verify of a corrupt N: exit 1"
grep -q 'bad.ffr' "$T/verify.err"
t_ok $? "... naming the file: $(head -c 200 "$T/verify.err")"
mkdir -p "$T/none"
"$FFR" ls "$T/none" 2>"$T/ls.err"
t_is $? 1 "ls of a directory without .ffr: exit 1"
grep -q 'no .ffr' "$T/ls.err"
t_ok $? "... saying so"

"$FFR" frobnicate 2>/dev/null; t_is $? 2 "unknown command: exit 2"
"$FFR" verify --bogus x 2>/dev/null; t_is $? 2 "unknown option: exit 2"
"$FFR" pack --shards 0 "$S" "$T/x" 2>/dev/null; t_is $? 2 "--shards 0: exit 2"
"$FFR" cat "$T/p.ffr" 2>"$T/usage.err"; t_is $? 2 "cat without INDEX: exit 2"
grep -q '^usage: ' "$T/usage.err"; t_ok $? "usage line printed"

# ---- Python: the release library (an ASan library cannot load into python3)
LIBDIR=${C3FS_RELEASE_BIN_DIR:-$C3FS_ROOT/build/bin}/../lib
if [ ! -f "$LIBDIR/libc3fs-ffrecord.so" ]; then
	t_ok 1 "libc3fs-ffrecord.so built in $LIBDIR (make BUILD=release programs)"
	t_done
fi
export C3FS_LIB_DIR=$LIBDIR PYTHONPATH=$C3FS_ROOT/python
python3 - "$T" "$S" <<'PY'
import os, pickle, struct, sys, zlib
from collections import OrderedDict
import c3fs_ffrecord as ff

T, S = sys.argv[1], sys.argv[2]
n_ok = 0
def ok(cond, name):
    global n_ok
    n_ok += 1
    print(("ok" if cond else "not ok"), n_ok, "-", name, flush=True)

# reference implementation of the published layout, independent of the library
def ref_write(path, samples):
    n = len(samples)
    crcs = b"".join(struct.pack("<I", zlib.crc32(s)) for s in samples)
    offs, o = [], 12 + 12 * n
    for s in samples:
        offs.append(o); o += len(s)
    idx = crcs + b"".join(struct.pack("<q", x) for x in offs)
    meta = zlib.crc32(idx, zlib.crc32(struct.pack("<q", n)))
    with open(path, "wb") as f:
        f.write(struct.pack("<Iq", meta, n) + idx + b"".join(samples))

def ref_read(path):
    d = open(path, "rb").read()
    meta, n = struct.unpack("<Iq", d[:12])
    idx = d[12:12 + 12 * n]
    assert meta == 0 or meta == zlib.crc32(idx, zlib.crc32(d[4:12])), "metadata crc"
    crcs = struct.unpack("<%dI" % n, idx[:4 * n]); offs = list(struct.unpack("<%dq" % n, idx[4 * n:]))
    out = []
    for i in range(n):
        e = offs[i + 1] if i + 1 < n else len(d)
        s = d[offs[i]:e]
        assert zlib.crc32(s) == crcs[i], "sample crc %d" % i
        out.append(s)
    return out

import random
rnd = random.Random(11)
samples = [bytes(rnd.getrandbits(8) for _ in range(rnd.choice([0, 1, 7, 100, 4096, 70000]))) for _ in range(60)]

ref_write(T + "/ref.ffr", samples)
r = ff.FileReader(T + "/ref.ffr", check_data=True)
ok(r.n == 60, "reference-written file: n")
idx = [59, 0, 3, 3, 17, 59, 1]
ok([m.tobytes() for m in r.read(idx)] == [samples[i] for i in idx], "reference file read by the library (batch, dups, unsorted)")
ok(all(r.read_one(i).tobytes() == samples[i] for i in range(60)), "reference file read_one")
for io in ("pread", "io_uring"):
    try:
        rr = ff.FileReader(T + "/ref.ffr", io=io)
        ok([bytes(m) for m in rr.read(list(range(60)))] == samples and rr.io == io, "batch via " + io)
        rr.close()
    except ff.FFRecordError as e:
        ok(io == "io_uring", "io_uring unavailable is the only allowed failure: %s" % e)
r.close()

w = ff.FileWriter(T + "/lib.ffr", 60)
for s in samples:
    w.write_one(s)
w.close()
ok(open(T + "/lib.ffr", "rb").read() == open(T + "/ref.ffr", "rb").read(), "library-written file byte-identical to the reference")
ok(ref_read(T + "/lib.ffr") == samples, "library-written file read by the reference reader")
w = ff.FileWriter(T + "/cnt.ffr")
for s in samples:
    w.write_one(s)
w.close()
ok(open(T + "/cnt.ffr", "rb").read() == open(T + "/ref.ffr", "rb").read(), "counted writer byte-identical too")

# multi-file dataset through a directory
os.mkdir(T + "/ds")
ref_write(T + "/ds/b.ffr", samples[30:]); ref_write(T + "/ds/a.ffr", samples[:30]); ref_write(T + "/ds/m.ffr", [])
r = ff.FileReader(T + "/ds")
ok(r.n == 60 and [bytes(m) for m in r.read([45, 2, 29, 30])] == [samples[i] for i in (45, 2, 29, 30)], "directory = one dataset, files by name")

# errors are clear exceptions naming the file
d = bytearray(open(T + "/ref.ffr", "rb").read()); d[4 + 7] = 0x7f
open(T + "/badn.ffr", "wb").write(d)
try:
    ff.FileReader(T + "/badn.ffr"); ok(False, "absurd N rejected")
except ff.FFRecordError as e:
    ok("badn.ffr" in str(e), "absurd N: FFRecordError naming the file (%s)" % e)
try:
    ff.FileReader(T + "/none"); ok(False, "directory without .ffr rejected")
except ff.FFRecordError as e:
    ok("no .ffr" in str(e), "directory without .ffr: %s" % e)

# Dataset: __getitem__ takes a list
class D(ff.Dataset):
    def process(self, indices, data):
        return [len(x) for x in data]
ds = D(T + "/ref.ffr")
ok(len(ds) == 60 and ds[[5, 1, 5]] == [len(samples[5]), len(samples[1]), len(samples[5])], "Dataset[list of indices]")
ok("torch" not in sys.modules, "no torch import")

# packed folders written with Python's pickle, protocols 2..5, read by the CLI
tree = OrderedDict(); tree["a"] = 0; tree["sub"] = OrderedDict(); tree["sub"]["b"] = 1; tree["empty"] = OrderedDict()
for proto in (2, 3, 4, 5):
    ref_write(T + "/py%d.ffr" % proto, [b"AAA", b"BB", b"piouhjgbr" + pickle.dumps(tree, proto)])
# and a PackedFolder over the CLI's pack
pf = ff.PackedFolder(T + "/p.ffr")
ok(pf.read_one("d1/d2/f3m").tobytes() == open(S + "/d1/d2/f3m", "rb").read(), "PackedFolder reads the CLI's pack")
ok(sorted(map(str, pf.list(recursive=True, list_dir=False))) == sorted(os.path.relpath(os.path.join(dp, f), S) for dp, _, fs in os.walk(S) for f in fs), "PackedFolder lists every file")
ok(pickle.loads(open(T + "/p.ffr", "rb").read()[-(len(open(T + "/p.ffr", "rb").read()) - struct.unpack("<q", open(T + "/p.ffr", "rb").read()[12 + 4 * pf.reader.n + 8 * (pf.reader.n - 1):12 + 12 * pf.reader.n])[0]) + 9:]) == pf.structure, "the pack's index is a plain Python pickle too")
# a hostile index is refused by the restricted unpickler
ref_write(T + "/evil.ffr", [b"x", b"piouhjgbr" + b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R."])
try:
    ff.PackedFolder(T + "/evil.ffr"); ok(False, "hostile pickle refused")
except pickle.UnpicklingError as e:
    ok("os.system" in str(e), "hostile pickle refused by Python: %s" % e)
print("1..%d" % n_ok)
PY
t_ok $? "python cross-checks"
for p in 2 3 4 5; do
	"$FFR" ls --json "$T/py$p.ffr" >"$T/py$p.json"
	t_ok $? "ls of a Python pickle protocol $p packed folder"
	t_is "$(python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["folder"]; print(f["a"]["index"], f["sub"]["b"]["index"], f["empty"])' "$T/py$p.json")" \
		"0 1 {}" "... tree a=0, sub/b=1, empty/ (protocol $p)"
	t_is "$("$FFR" cat "$T/py$p.ffr" sub/b)" "BB" "cat sub/b (protocol $p)"
done
"$FFR" ls "$T/evil.ffr" 2>"$T/evil.err"
t_is $? 1 "ls of a hostile index: exit 1"
grep -q 'collections.OrderedDict' "$T/evil.err"
t_ok $? "... nothing executed, the class refused: $(head -c 200 "$T/evil.err")"
t_done
