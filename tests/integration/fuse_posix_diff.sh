#!/usr/bin/env bash
# timeout: 180
# fuse_posix_diff: the same ~200 system calls (pjdfstest-style: errno of every error case,
# modes, owners, link counts, sizes, setgid inheritance, sticky and owner rules, as root
# and as an unprivileged user) run in a directory of the local file system and in a c3fs
# mount; every outcome must be the same.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
c_start 3 2 3 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt
c_mount "$M" || { t_ok 1 "mount"; t_done; }

cat >"$T/probe.py" <<'PY'
import ctypes, errno, os, stat, sys
base, phase = sys.argv[1], sys.argv[2]
os.chdir(base)
os.umask(0o022)
libc = ctypes.CDLL(None, use_errno=True)
out = []
def ename(e):
    return errno.errorcode.get(e, str(e))
def st(p, follow=False):
    try:
        s = os.stat(p) if follow else os.lstat(p)
    except OSError as e:
        return "stat:" + ename(e.errno)
    t = stat.S_IFMT(s.st_mode)
    size = s.st_size if stat.S_ISREG(s.st_mode) or stat.S_ISLNK(s.st_mode) else "-"
    return "%o mode=%o nlink=%d uid=%d gid=%d size=%s" % (
        t >> 12, stat.S_IMODE(s.st_mode), s.st_nlink, s.st_uid, s.st_gid, size)
def do(name, fn, *args, show=None):
    try:
        r = fn(*args)
        if hasattr(r, "close"):
            r.close()
        res = "0"
        if isinstance(r, (str, bytes)):
            res = "0 " + repr(r)
        elif isinstance(r, list):
            res = "0 " + repr(sorted(r))
    except OSError as e:
        res = ename(e.errno)
    line = "%-40s %s" % (name, res)
    if show:
        line += " | " + st(show)
    out.append(line)
def creat(p, mode=0o644, flags=os.O_CREAT | os.O_WRONLY | os.O_EXCL):
    os.close(os.open(p, flags, mode))
def openf(p, flags):
    os.close(os.open(p, flags))
def r2(a, b, fl):
    if libc.renameat2(-100, a.encode(), -100, b.encode(), fl) != 0:
        raise OSError(ctypes.get_errno(), "renameat2")
def times_changed(p, fn):
    a = os.lstat(p)
    import time; time.sleep(0.02)
    fn()
    b = os.lstat(p)
    return "m%s c%s" % ("+" if b.st_mtime_ns != a.st_mtime_ns else "=",
                        "+" if b.st_ctime_ns != a.st_ctime_ns else "=")

if phase == "root":
    do("mkdir d 0755", os.mkdir, "d", 0o755, show="d")
    do("mkdir d again", os.mkdir, "d")
    do("mkdir missing/x", os.mkdir, "missing/x")
    do("rmdir missing", os.rmdir, "missing")
    do("mkdir d/sub 0777 (umask 022)", os.mkdir, "d/sub", 0o777, show="d/sub")
    out.append("parent nlink after subdir: " + st("d"))
    do("rmdir d (not empty)", os.rmdir, "d")
    do("create f 0644", creat, "f", show="f")
    do("create f O_EXCL again", creat, "f")
    do("open missing", openf, "missing", os.O_RDONLY)
    do("open d O_WRONLY", openf, "d", os.O_WRONLY)
    do("open d O_RDONLY", openf, "d", os.O_RDONLY)
    do("open f O_DIRECTORY", openf, "f", os.O_RDONLY | os.O_DIRECTORY)
    do("unlink d", os.unlink, "d")
    do("rmdir f", os.rmdir, "f")
    do("stat f/x", os.stat, "f/x")
    do("create f/x", creat, "f/x")
    do("link f f2", os.link, "f", "f2", show="f")
    do("link d dl", os.link, "d", "dl")
    do("link f f2 again", os.link, "f", "f2")
    do("link missing x", os.link, "missing", "x")
    do("unlink f2", os.unlink, "f2", show="f")
    do("symlink s -> target", os.symlink, "target", "s", show="s")
    do("readlink s", os.readlink, "s")
    do("readlink f", os.readlink, "f")
    do("stat s (dangling)", os.stat, "s")
    do("symlink s again", os.symlink, "x", "s")
    do("name of 255 bytes", creat, "n" * 255)
    do("name of 256 bytes", creat, "n" * 256)
    do("mkdir 256 bytes", os.mkdir, "m" * 256)
    do("rename f -> d/g", os.rename, "f", "d/g", show="d/g")
    do("rename missing", os.rename, "missing", "y")
    creat("file1"); os.mkdir("dir1"); os.mkdir("dir2"); os.mkdir("dir3"); creat("dir3/x")
    do("rename dir1 over file1", os.rename, "dir1", "file1")
    do("rename file1 over dir1", os.rename, "file1", "dir1")
    do("rename dir1 over empty dir2", os.rename, "dir1", "dir2", show="dir2")
    do("rename dir2 over non-empty dir3", os.rename, "dir2", "dir3")
    do("rename d into d/sub/x", os.rename, "d", "d/sub/x")
    do("rename file1 to itself", os.rename, "file1", "file1", show="file1")
    do("renameat2 NOREPLACE onto existing", r2, "file1", "d/g", 1)
    do("renameat2 EXCHANGE file<->dir", r2, "file1", "dir2", 2, show="dir2")
    do("renameat2 EXCHANGE with missing", r2, "dir2", "nothere", 2)
    do("renameat2 bad flags", r2, "dir2", "file1", 1 | 2)
    do("chmod file1 4755", os.chmod, "file1", 0o4755, show="file1")
    do("chown file1 1000:1000", os.chown, "file1", 1000, 1000, show="file1")
    do("chmod file1 2755", os.chmod, "file1", 0o2755, show="file1")
    do("truncate file1 1000", os.truncate, "file1", 1000, show="file1")
    do("truncate file1 -1", os.truncate, "file1", -1)
    do("truncate dir3", os.truncate, "dir3", 0)
    do("utime file1", lambda: os.utime("file1", ns=(1000000000123, 2000000000456)))
    s = os.lstat("file1"); out.append("times %d %d" % (s.st_atime_ns, s.st_mtime_ns))
    do("mkfifo p", os.mkfifo, "p", 0o640, show="p")
    do("mknod chr", os.mknod, "chr", stat.S_IFCHR | 0o600, os.makedev(1, 3), show="chr")
    out.append("rdev %d" % os.lstat("chr").st_rdev)
    do("mknod sock", os.mknod, "sock", stat.S_IFSOCK | 0o644, show="sock")
    # setgid directory inheritance
    os.mkdir("sg", 0o755); os.chown("sg", 0, 1000); os.chmod("sg", 0o2775)
    do("create in setgid dir", creat, "sg/f", show="sg/f")
    do("mkdir in setgid dir", os.mkdir, "sg/sd", 0o755, show="sg/sd")
    # timestamps
    os.mkdir("tdir"); creat("tdir/a")
    out.append("create in dir: " + times_changed("tdir", lambda: creat("tdir/b")))
    out.append("unlink in dir: " + times_changed("tdir", lambda: os.unlink("tdir/b")))
    out.append("chmod file: " + times_changed("tdir/a", lambda: os.chmod("tdir/a", 0o600)))
    out.append("write file: " + times_changed("tdir/a", lambda: open("tdir/a", "w").write("x")))
    out.append("link file: " + times_changed("tdir/a", lambda: os.link("tdir/a", "tdir/c")))
    do("listdir tdir", os.listdir, "tdir")
    # stage for the user phase
    def mkd(p, mode):
        os.mkdir(p); os.chmod(p, mode)
    mkd("pub", 0o755); creat("pub/rootfile", 0o644); creat("pub/secret", 0o600)
    mkd("sticky", 0o1777); creat("sticky/rootfile", 0o666); os.chmod("sticky/rootfile", 0o666)
    mkd("open", 0o777)
    mkd("closed", 0o700); creat("closed/f", 0o644)
    mkd("noexec", 0o766); creat("noexec/f", 0o644)
else:
    do("create in 0755 root dir", creat, "pub/mine")
    do("unlink root file in 0755 dir", os.unlink, "pub/rootfile")
    do("open root 0600 file", openf, "pub/secret", os.O_RDONLY)
    do("open root 0644 file for write", openf, "pub/rootfile", os.O_WRONLY)
    do("open root 0644 file for read", openf, "pub/rootfile", os.O_RDONLY)
    do("truncate root 0644 file", os.truncate, "pub/rootfile", 0)
    do("chmod root file", os.chmod, "pub/rootfile", 0o777)
    do("chown root file", os.chown, "pub/rootfile", 1000, 1000)
    do("utime root file to now", os.utime, "pub/rootfile", None)
    do("utime root file explicit", os.utime, "pub/rootfile", (1, 1))
    do("setxattr user.* on root file", os.setxattr, "pub/rootfile", "user.a", b"1")
    do("listdir closed (0700)", os.listdir, "closed")
    do("stat closed/f", os.stat, "closed/f")
    do("stat noexec/f", os.stat, "noexec/f")
    do("listdir noexec (0766)", os.listdir, "noexec")
    do("create in 1777 dir", creat, "sticky/u", show="sticky/u")
    do("unlink root file in sticky dir", os.unlink, "sticky/rootfile")
    do("rename root file in sticky dir", os.rename, "sticky/rootfile", "sticky/z")
    do("write root 0666 file in sticky dir", openf, "sticky/rootfile", os.O_WRONLY)
    do("chown own file to root", os.chown, "sticky/u", 0, -1)
    do("chgrp own file to group 0", os.chown, "sticky/u", -1, 0)
    do("chgrp own file to own group", os.chown, "sticky/u", -1, 1000, show="sticky/u")
    do("chmod own file 2755 (gid member)", os.chmod, "sticky/u", 0o2755, show="sticky/u")
    do("mkdir in 0777 dir", os.mkdir, "open/ud", 0o700, show="open/ud")
    do("create in own 0700 dir", creat, "open/ud/f", 0o600, show="open/ud/f")
    do("unlink own file", os.unlink, "open/ud/f")
    do("rmdir own dir", os.rmdir, "open/ud")
    do("symlink in 0777 dir", os.symlink, "x", "open/sl", show="open/sl")
    # fs.protected_hardlinks: a kernel policy, decided from the kernel's permission view
    do("[kernel] link root file into 0777 dir", os.link, "pub/rootfile", "open/hl")
    do("access R root 0600", lambda: str(os.access("pub/secret", os.R_OK)))
    do("access W root 0644", lambda: str(os.access("pub/rootfile", os.W_OK)))
    do("access R root 0644", lambda: str(os.access("pub/rootfile", os.R_OK)))
out.append("END")
print("\n".join(out))
PY

PY=/usr/bin/python3 # not a per-user shim: uid 1000 must be able to run it
[ -x $PY ] || PY=$(command -v python3)
chmod 0644 "$T/probe.py"
run() { # DIR PHASE [as-user]
	if [ "${3:-}" = user ]; then
		setpriv --reuid 1000 --regid 1000 --clear-groups -- $PY "$T/probe.py" "$1" "$2"
	else
		$PY "$T/probe.py" "$1" "$2"
	fi
}
mkdir -p "$T/local" "$T/local2" "$M/a" "$M/b"
chmod 0755 "$T" "$T/local" "$T/local2" "$M" "$M/a" "$M/b"
run "$T/local" root >"$T/local.root" 2>&1
run "$M/a" root >"$T/c3fs.root" 2>&1
run "$T/local" user user >"$T/local.user" 2>&1
run "$M/a" user user >"$T/c3fs.user" 2>&1
# the unprivileged phase again through a second mount that leaves every check to meta
# (fuse.kernel_permissions=false), on a fresh tree
run "$M/b" root >/dev/null 2>&1
c_mount "$T/m2" --set fuse.kernel_permissions=false || t_ok 1 "second mount"
run "$T/m2/b" user user >"$T/c3fs.user2" 2>&1
for f in local.root c3fs.root local.user c3fs.user c3fs.user2; do
	[ "$(tail -n1 "$T/$f")" = END ] && [ "$(wc -l <"$T/$f")" -gt 25 ]
	t_ok $? "probe $f ran to the end"
	[ "$(tail -n1 "$T/$f")" = END ] || tail -n 5 "$T/$f" | sed 's/^/#   /'
done
diff "$T/local.root" "$T/c3fs.root" >"$T/root.diff"
t_ok $? "root phase: every outcome equals the local file system's"
sed 's/^/#   /' "$T/root.diff" | head -40
diff "$T/local.user" "$T/c3fs.user" >"$T/user.diff"
t_ok $? "unprivileged phase: every outcome equals the local file system's"
sed 's/^/#   /' "$T/user.diff" | head -40
diff <(grep -v '^\[kernel\]' "$T/local.user") <(grep -v '^\[kernel\]' "$T/c3fs.user2") >"$T/user2.diff"
t_ok $? "unprivileged phase, meta alone checking: every outcome equals the local file system's"
sed 's/^/#   /' "$T/user2.diff" | head -40
c_umount "$T/m2"
c_umount "$M"
t_ok $? "unmount"
t_done
