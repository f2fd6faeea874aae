#!/usr/bin/env bash
# timeout: 400
# fuse_ioctl: 3FS's ioctls on a c3fs mount and libc3fs-usrbio's c3fs_hardlink /
# c3fs_punchhole, through c3fs-ioctl-check: the informational ones; hard link, move,
# remove and recursive remove with their permission failures as another uid, each
# compared with what link(2) / rename(2) / unlink(2) / rmdir(2) answer in the same case;
# directories named by inode number that the caller cannot reach; fallocate(1) --punch-hole
# and --zero-range and the punch ioctl compared byte for byte with a local file punched
# the same way (64 KiB chunks, ranges across chunk boundaries and past the end), also read
# through a second mount; punches racing queued write-behind writes; garbage arguments;
# the mount and its daemon keep working.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
CHK=$BIN/c3fs-ioctl-check
[ -x "$CHK" ] || t_skip_all "c3fs-ioctl-check not built in $BIN"
command -v setpriv >/dev/null || t_skip_all "setpriv not installed"
command -v fallocate >/dev/null || t_skip_all "fallocate (util-linux) not installed"
t_init
C_CHUNK_SIZE=64K C_STRIPE=2 c_start 3 2 3 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt
c_mount "$M" || { t_ok 1 "mount"; t_done; }
chmod 0755 "$M"
chmod o+x "$T" # uid 1000 walks to the mount
L=$T/local
mkdir -p "$L"
as_user() { setpriv --reuid 1000 --regid 1000 --clear-groups -- "$@"; }
chk() { "$CHK" "$@" 2>>"$T/chk.err"; }
uchk() { as_user "$CHK" "$@" 2>>"$T/chk.err"; }

# --- informational ---------------------------------------------------------------------
echo data >"$M/f"
mkdir "$M/d"
want="name=c3fs offset=$(realpath "$M" | tr -d '\n' | wc -c) magic=0x8f3f5fff version=1 is_c3fs=1"
t_is "$(chk info "$M/f")" "$want" "GET_MOUNT_NAME, GET_PATH_OFFSET, GET_MAGIC_NUM, GET_IOCTL_VERSION on a file"
t_is "$(chk info "$M/d")" "$want" "the same on a directory"
t_is "$(chk info "$M/3fs-virt")" "$want" "the same on 3fs-virt"
t_is "$(uchk info "$M/f")" "$want" "the same as uid 1000"
echo x >"$T/notc3fs"
t_is "$(chk info "$T/notc3fs")" "name=ENOTTY offset=0 magic=0 version=0 is_c3fs=0" \
	"a local file: ENOTTY, is_c3fs false"
t_is "$(chk fsync "$M/f")" OK "FSYNC on a file"
t_is "$(chk fsync "$M/d")" OK "FSYNC on a directory"

# --- hard links --------------------------------------------------------------------------
t_is "$(chk hardlink "$M/f" "$M/d/f2")" OK "c3fs_hardlink f -> d/f2"
t_is "$(cat "$M/d/f2" 2>&1)" data "the link reads the file's data"
t_is "$(stat -c %h "$M/f")" 2 "nlink 2"
t_is "$(chk hardlink "$M/f" "$M/d/f2")" EEXIST "an existing name: EEXIST"
t_is "$(chk hardlink "$M/d" "$M/dl")" EPERM "a directory: EPERM (as link(2))"
t_is "$(chk hardlink "$M/nope" "$M/x")" ENOENT "a missing target: ENOENT"
t_is "$(chk hardlink "$M/f" "$M/nodir/x")" ENOENT "a missing directory: ENOENT"
t_is "$(cd "$M/d" && "$CHK" hardlink ../f rel)" OK "a relative link name (cwd's directory)"
[ "$(stat -c %i "$M/d/rel")" = "$(stat -c %i "$M/f")" ]
t_ok $? "and it is the same inode"

# the same cases as uid 1000, through the ioctl and through link(2): same answer
mkdir -m 1777 "$M/pub"
mkdir -m 0700 "$M/priv"
mkdir -m 0777 "$M/priv/drop"
echo root >"$M/pub/rootfile"
chmod 0644 "$M/pub/rootfile"
echo rootw >"$M/pub/rootw" && chmod 0666 "$M/pub/rootw"
echo suid >"$M/pub/rootsuid" && chmod 04777 "$M/pub/rootsuid"
as_user sh -c "echo mine >'$M/pub/mine'"
cmp_link() { # TARGET NEWNAME-in-DIR DIR what
	local a b
	a=$(uchk hardlink "$1" "$3/$2.i")
	b=$(uchk link "$1" "$3/$2.p")
	t_is "$a" "$b" "uid 1000, $4: ioctl and link(2) both answer $b"
}
cmp_link "$M/pub/mine" mine "$M/pub" "own file into a 1777 directory"
cmp_link "$M/pub/mine" mine "$M" "own file into root's 0755 directory"
cmp_link "$M/pub/rootfile" rf "$M/pub" "root's 0644 file (protected_hardlinks)"
cmp_link "$M/pub/rootw" rw "$M/pub" "root's 0666 file"
cmp_link "$M/pub/rootsuid" rs "$M/pub" "root's setuid file"
t_is "$(uchk hardlink "$M/pub/mine" "$M/pub/mine.i")" EEXIST "uid 1000: existing name: EEXIST"
# a directory the caller cannot reach, by inode number (a path walk would need priv's x)
dino=$(stat -c %i "$M/priv/drop")
t_is "$(uchk linkino "$M/pub/mine" "$dino" sneaked)" EACCES \
	"uid 1000: hard link into a 0777 directory below a 0700 one, by inode number: EACCES"
[ ! -e "$M/priv/drop/sneaked" ]
t_ok $? "and nothing was linked there"
t_is "$(chk linkino "$M/pub/mine" "$dino" byroot)" OK "root may (reachable for root)"

# --- move ----------------------------------------------------------------------------------
mkdir "$M/m1" "$M/m2"
echo one >"$M/m1/a"
echo two >"$M/m2/b"
t_is "$(chk move "$M/m1" a "$M/m2" a2)" OK "MOVE m1/a -> m2/a2"
[ ! -e "$M/m1/a" ] && [ "$(cat "$M/m2/a2")" = one ]
t_ok $? "moved"
t_is "$(chk move "$M/m2" a2 "$M/m2" b)" OK "MOVE onto an existing file replaces it (rename(2))"
t_is "$(cat "$M/m2/b")" one "replaced"
t_is "$(chk move "$M/m2" b "$M/m1" b trash)" EOPNOTSUPP "moveToTrash: EOPNOTSUPP (no trash)"
t_is "$(chk move "$M/m2" zz "$M/m1" zz)" ENOENT "a missing source: ENOENT"
mkdir -p "$M/m1/sub/deeper"
t_is "$(chk move "$M/m1" sub "$M/m1/sub/deeper" x)" EINVAL "a directory into itself: EINVAL"
echo s >"$M/pub/rootmv"
cmp_mv() { # SRCDIR NAME DSTDIR what
	local a b
	a=$(uchk move "$1" "$2" "$3" "$2.i")
	b=$(uchk rename "$1/$2" "$3/$2.p")
	t_is "$a" "$b" "uid 1000, $4: ioctl and rename(2) both answer $b"
}
cmp_mv "$M/pub" rootmv "$M/pub" "root's file in a sticky directory"
cmp_mv "$M/m2" b "$M/pub" "from root's 0755 directory"
as_user sh -c "echo u >'$M/pub/umv'"
t_is "$(uchk move "$M/pub" umv "$M/pub" umv2)" OK "uid 1000 moves its own file"
t_is "$(uchk move "$M/pub" umv2 "@$dino" umv3)" EACCES \
	"uid 1000: into an unreachable directory by inode number: EACCES"
t_is "$(uchk move "$M/pub" umv2 "$M" umv3)" EACCES "into root's 0755 directory: EACCES"

# --- remove, recursive remove -------------------------------------------------------------
mkdir -p "$M/r/e" "$M/r/full/x/y"
echo z >"$M/r/file"
echo z >"$M/r/full/x/y/z"
t_is "$(chk remove "$M/r" file)" OK "REMOVE a file"
[ ! -e "$M/r/file" ]
t_ok $? "gone"
t_is "$(chk remove "$M/r" e)" OK "REMOVE an empty directory"
t_is "$(chk remove "$M/r" full)" ENOTEMPTY "REMOVE a full directory, not recursive: ENOTEMPTY"
t_is "$(chk remove "$M/r" full r)" OK "REMOVE recursive"
[ ! -e "$M/r/full" ]
t_ok $? "the tree is gone"
t_is "$(chk remove "$M/r" missing)" ENOENT "REMOVE a missing name: ENOENT"
echo q >"$M/pub/rootrm"
cmp_rm() { # DIR NAME posix-call what
	local a b
	a=$(uchk remove "$1" "$2")
	b=$(uchk "$3" "$1/$2")
	t_is "$a" "$b" "uid 1000, $4: ioctl and $3(2) both answer $b"
}
cmp_rm "$M/pub" rootrm unlink "root's file in a sticky directory"
echo q >"$M/r/rootfile2"
cmp_rm "$M/r" rootfile2 unlink "root's file in root's 0755 directory"
mkdir "$M/pub/rootdir"
cmp_rm "$M/pub" rootdir rmdir "root's directory in a sticky directory"
mkdir -p "$M/tree/a/b" && echo 1 >"$M/tree/a/b/c"
t_is "$(uchk rmrf "$M/tree")" EACCES "uid 1000: RECURSIVE_RM of root's tree: EACCES"
[ -f "$M/tree/a/b/c" ]
t_ok $? "the tree is intact"
as_user mkdir -p "$M/pub/utree/a/b"
as_user sh -c "echo 1 >'$M/pub/utree/a/b/c'"
t_is "$(uchk rmrf "$M/pub/utree")" OK "uid 1000: RECURSIVE_RM of its own tree"
[ ! -e "$M/pub/utree" ]
t_ok $? "gone"
t_is "$(chk rmrf "$M/tree")" OK "root: RECURSIVE_RM"
[ ! -e "$M/tree" ] && [ -d "$M" ]
t_ok $? "gone, its parent kept"
t_is "$(chk rmrf "$M")" EBUSY "RECURSIVE_RM of the root: EBUSY"
t_is "$(chk rmrf "$M/f")" ENOTDIR "RECURSIVE_RM on a file: ENOTDIR"

# --- punch holes -------------------------------------------------------------------------
CS=65536
head -c $((5 * CS + 12345)) /dev/urandom >"$L/p"
cp "$L/p" "$M/p"
punch_both() { # OFFSET LENGTH what
	fallocate -p -o "$1" -l "$2" "$L/p" && fallocate -p -o "$1" -l "$2" "$M/p"
	t_ok $? "fallocate --punch-hole -o $1 -l $2 ($3)"
	cmp -s "$L/p" "$M/p"
	t_ok $? "  bytes equal the local file punched the same way"
	t_is "$(stat -c %s "$M/p")" "$(stat -c %s "$L/p")" "  size kept"
}
punch_both 100 200 "inside one chunk"
punch_both $((CS - 50)) 100 "across a chunk boundary"
punch_both $((CS + 10)) $((2 * CS)) "one whole chunk and two partial ones"
punch_both $((3 * CS)) $((CS)) "exactly one chunk"
punch_both $((5 * CS)) $((CS * 4)) "the last partial chunk and past the end"
punch_both $((7 * CS)) 100 "wholly past the end"
t_is "$(od -An -tx1 -j $((3 * CS)) -N 4 "$M/p" | tr -d ' ')" 00000000 "a punched chunk reads zeros"
# whole chunks are gone from the storage targets (space freed), partial ones stay
pino=$(printf %016x "$(stat -c %i "$M/p")")
nchunk() { find "$T/data" -name "$pino-$(printf %08x "$1").*" | wc -l; }
t_is "$(nchunk 0) $(nchunk 1) $(nchunk 4)" "3 3 3" "partly punched chunks 0, 1, 4: on their 3 replicas"
t_is "$(nchunk 2) $(nchunk 3) $(nchunk 5)" "0 0 0" "wholly punched chunks 2, 3, 5: removed from every replica"
c_mount "$T/mnt2" || t_ok 1 "second mount"
cmp -s "$L/p" "$T/mnt2/p"
t_ok $? "a second mount reads the same bytes"
# the ioctl (c3fs_punchhole), several ranges at once
t_is "$(chk punch "$M/p" 7 9 $((2 * CS + 5)) $((4 * CS)) 0 0)" OK "c3fs_punchhole with 3 ranges"
fallocate -p -o 7 -l 2 "$L/p" && fallocate -p -o $((2 * CS + 5)) -l $((2 * CS - 5)) "$L/p"
cmp -s "$L/p" "$M/p"
t_ok $? "  bytes equal the local file punched the same way (page cache dropped)"
cmp -s "$L/p" "$T/mnt2/p"
t_ok $? "  and through the second mount"
t_is "$(chk punch -r "$M/p" 0 10)" EBADF "c3fs_punchhole on a read-only descriptor: EBADF"
t_is "$(uchk punch -r "$M/p" 0 10)" EBADF "as uid 1000 (read-only open): EBADF"
cp "$L/p" "$T/p.before"
head -c 200000 /dev/urandom >"$L/z"
cp "$L/z" "$M/z"
fallocate -z -n -o 1000 -l 70000 "$M/z" && fallocate -z -n -o 1000 -l 70000 "$L/z"
t_ok $? "fallocate --zero-range --keep-size"
cmp -s "$L/z" "$M/z"
t_ok $? "  bytes equal the local file"
fallocate -z -o 150000 -l 100000 "$M/z" && fallocate -z -o 150000 -l 100000 "$L/z"
t_ok $? "fallocate --zero-range past the end (extends the size)"
cmp -s "$L/z" "$M/z"
t_ok $? "  bytes and size equal the local file ($(stat -c %s "$M/z") bytes)"
chk race "$M/race" 6 >"$T/race.out"
t_ok $? "punches racing queued writes: c3fs-ioctl-check race exits 0"
grep '^not ok' "$T/race.out" | sed 's/^/#   /'
t_is "$(grep -c '^ok' "$T/race.out")" 18 "  every round checked (punch, bytes, size)"

# --- garbage ---------------------------------------------------------------------------------
t_run_tap "malformed ioctl arguments" "$CHK" garbage "$M" "$M/p"
cmp -s "$L/p" "$M/p"
t_ok $? "the file is untouched by them"

# --- Python (the release build's library: an ASan one cannot load into python3) ---------
so=$C3FS_ROOT/build/release/lib/libc3fs-usrbio.so
if [ -f "$so" ] && command -v python3 >/dev/null &&
	nm -D "$so" 2>/dev/null | grep -q ' c3fs_punchhole'; then
	echo pydata >"$M/py"
	C3FS_USRBIO_LIB=$so PYTHONPATH=$C3FS_ROOT/python python3 - "$M" <<'PY'
import os, sys
import c3fs_usrbio as ub
m = sys.argv[1]
ub.hardlink(m + "/py", m + "/py2")
assert open(m + "/py2").read() == "pydata\n"
try:
    ub.hardlink(m + "/py", m + "/py2")
    raise SystemExit("no error for an existing name")
except OSError as e:
    assert e.errno == 17, e
with open(m + "/py", "r+b") as f:
    ub.punch_hole(f.fileno(), [0], [3])
assert open(m + "/py", "rb").read() == b"\0\0\0ata\n"
PY
	t_ok $? "python c3fs_usrbio: hardlink and punchhole"
else
	echo "# skipped the Python case: no release $so with c3fs_punchhole (make BUILD=release programs)"
fi

# --- a punch while a storage node is down: its removes wait for the chains to be
# reconfigured (routing refreshed, retried), then complete on the remaining replicas
head -c $((8 * CS)) /dev/urandom >"$L/fo"
cp "$L/fo" "$M/fo"
c_kill_storage 1
fallocate -p -o $((CS / 2)) -l $((6 * CS)) "$M/fo" && fallocate -p -o $((CS / 2)) -l $((6 * CS)) "$L/fo"
t_ok $? "fallocate --punch-hole with storage node 1 killed"
cmp -s "$L/fo" "$M/fo"
t_ok $? "  bytes equal the local file"
c_start_storage 1 || t_ok 1 "storage node 1 restarts"

# --- the mount goes on --------------------------------------------------------------------
t_is "$(cat "$M/f")" data "the mount still serves files"
kill -0 "$(t_pid fuse-mnt)" 2>/dev/null
t_ok $? "c3fs-fuse is alive"
grep -q . "$T/chk.err" && sed 's/^/# chk stderr: /' "$T/chk.err" | head -20
c_umount "$T/mnt2"
c_umount "$M"
t_ok $? "unmounts cleanly"
t_done
