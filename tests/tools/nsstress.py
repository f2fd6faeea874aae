#!/usr/bin/env python3
"""nsstress.py — namespace stress (fsstress-like) with a consistency check afterwards.

    tests/tools/nsstress.py DIR [-p PROCS] [-n OPS] [-s SEED] [--selftest] [--also DIR2 ...]

PROCS processes run OPS random operations each in one shared tree DIR/ns.<pid>: mkdir,
rmdir, create+write, whole-file rewrite, append, truncate, unlink, rename (files and
directories, across directories, over existing names), link, symlink, readdir, stat, read.
Races between processes make ENOENT, EEXIST, ENOTEMPTY, ENOTDIR, EISDIR, EINVAL, EXDEV
ELOOP and EPERM (link of a directory) legitimate answers; any other errno (EIO, ESTALE, EAGAIN, EBADF, ...) or a crash
is a failure (ESTALE is accepted only with --also: see below).  File contents are self-describing records (each record = a 16-byte header
with the record length and a checksum + payload), so a torn or mixed file is detected
without a model.

After all processes finish, the tree is checked:
  * every name readdir returns can be lstat'ed (no phantom entries)
  * no name appears twice in one directory
  * a directory's st_nlink is 2 + its subdirectories
  * a regular file's st_nlink equals the number of names for its inode in the tree
    (every link is made inside the tree)
  * every regular file parses as whole records (no torn or foreign bytes)
  * a symlink's target is one of the strings the processes wrote
  * the tree can be removed completely (rmtree) and DIR is empty again
Prints TAP; exit 0 when every check passed, 1 otherwise.  --selftest appends three foreign
bytes to one file before the check, which must then fail (proves the checker can fail).

--also DIR2: DIR2 shows the same directory as DIR through another mount (another FUSE
client); process k works through root k % (1 + number of --also); the final check runs
through DIR after the caches had time to expire.  With several mounts, appends and
truncates are left out: O_APPEND is atomic only within one kernel and a truncate racing
another client's write has no order (as on NFS); content then changes only by
create-and-write (one writer) and by rename of a fsync'ed file (close-to-open).

Invariants: the operation sequence of process i depends only on SEED+i; the checker
looks only at the final tree, never at timing.
"""
import errno
import os
import random
import shutil
import struct
import sys
import zlib

RACE_OK = {errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR,
           errno.EINVAL, errno.EXDEV, errno.ELOOP, errno.EBUSY,
           errno.EPERM}  # EPERM: link() of a name that is (by now) a directory
LINK_TARGETS = ["t-%d" % i for i in range(8)] + ["../t", "/nonexistent/x", "a/b/c"]


def record(rng, tag):
    n = rng.choice([0, 1, 7, 100, 4096, 5000, 70000, 300000])
    base = bytes((tag * 31 + i) & 0xFF for i in range(251))
    payload = (base * (n // 251 + 1))[:n]
    return struct.pack("<QII", n, zlib.crc32(payload), 0x52454331) + payload


def parse(data):
    """Returns None when data is a sequence of whole records, else the bad offset."""
    off = 0
    while off < len(data):
        if off + 16 > len(data):
            return off
        n, crc, magic = struct.unpack_from("<QII", data, off)
        if magic != 0x52454331 or off + 16 + n > len(data):
            return off
        if zlib.crc32(data[off + 16:off + 16 + n]) != crc:
            return off
        off += 16 + n
    return None


def worker(root, idx, nops, seed, out, multi=False):
    rng = random.Random(seed)
    bad = []
    dirs = ["", "d0", "d1", "d2", "d0/e0", "d1/e1"]

    def path():
        d = rng.choice(dirs)
        name = rng.choice(["f%d" % rng.randrange(12), "d%d" % rng.randrange(3),
                           "e%d" % rng.randrange(2), "s%d" % rng.randrange(4)])
        return os.path.join(root, d, name) if d else os.path.join(root, name)

    def dpath():
        d = rng.choice(dirs)
        return os.path.join(root, d) if d else root

    for op_no in range(nops):
        op = rng.randrange(17)
        if multi and op in (5, 6):
            # several clients: O_APPEND is atomic only within one kernel, and a truncate
            # racing another client's write is unordered (as on NFS), so content changes
            # only by create-and-write and by rename of a fsync'ed file
            op = 14
        p = path()
        try:
            if op == 0:
                os.mkdir(p, 0o755)
            elif op == 1:
                os.rmdir(p)
            elif op in (2, 3):
                # every write is one whole record appended with O_APPEND (one write call),
                # content is replaced only by rename: concurrent writers never tear a record
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
                fd = os.open(p, flags, 0o644)
                try:
                    os.write(fd, record(rng, idx))
                finally:
                    os.close(fd)
            elif op == 4:
                tmp = os.path.join(dpath(), ".tmp-%d-%d" % (idx, op_no))
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                try:
                    os.write(fd, record(rng, idx) + record(rng, idx))
                    os.fsync(fd)
                finally:
                    os.close(fd)
                try:
                    os.rename(tmp, p)
                except OSError:
                    os.unlink(tmp)
                    raise
            elif op == 5:
                fd = os.open(p, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, record(rng, idx))
                finally:
                    os.close(fd)
            elif op == 6:
                os.truncate(p, 0)
            elif op == 7:
                os.unlink(p)
            elif op in (8, 9):
                os.rename(p, path())
            elif op == 10:
                os.link(p, path())
            elif op == 11:
                os.symlink(rng.choice(LINK_TARGETS), p)
            elif op == 12:
                names = os.listdir(dpath())
                if len(names) != len(set(names)):
                    bad.append("duplicate names in a listing")
            elif op == 13:
                os.lstat(p)
            elif op == 14:
                with open(p, "rb") as f:
                    f.read()
            elif op == 15:
                os.rename(dpath(), path())  # directories move too
            else:
                os.chmod(p, rng.choice([0o644, 0o600, 0o755]))
        except OSError as e:
            if e.errno not in RACE_OK:
                bad.append("op %d (%d) on %s: %s" % (op_no, op, p, errno.errorcode.get(e.errno, e.errno)))
        if len(bad) > 20:
            break
    os.write(out, ("\n".join(bad) + "\n" if bad else "").encode())


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print("usage: nsstress.py DIR [-p PROCS] [-n OPS] [-s SEED]", file=sys.stderr)
        return 2
    base = args[0]
    opts = {"-p": 4, "-n": 800, "-s": 1}
    selftest = "--selftest" in args
    args = [a for a in args if a != "--selftest"]
    others = []  # --also DIR2: the same directory seen through another mount
    while "--also" in args:
        k = args.index("--also")
        if k + 1 >= len(args):
            print("--also needs a directory", file=sys.stderr)
            return 2
        others.append(args[k + 1])
        del args[k:k + 2]
    if others:
        # Several clients: a directory renamed by one client while another client's kernel
        # still caches it under its old name cannot always be re-attached by the other
        # kernel's dentry cache (d_splice_alias gives ESTALE when it cannot take the rename
        # lock).  NFS shows the same answer in this race; it is not a file-system error.
        RACE_OK.add(errno.ESTALE)
    i = 1
    while i < len(args):
        if args[i] not in opts or i + 1 >= len(args):
            print("unknown option %s" % args[i], file=sys.stderr)
            return 2
        opts[args[i]] = int(args[i + 1])
        i += 2
    procs, nops, seed = opts["-p"], opts["-n"], opts["-s"]
    root = os.path.join(base, "ns.%d" % os.getpid())
    os.mkdir(root)
    for d in ["d0", "d1", "d2", "d0/e0", "d1/e1"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    print("# nsstress: %d processes x %d ops, seed %d, in %s" % (procs, nops, seed, root))
    sys.stdout.flush()
    n = 0
    failed = 0

    def check(cond, name, detail=""):
        nonlocal n, failed
        n += 1
        print("%sok %d - %s" % ("" if cond else "not ", n, name))
        if not cond:
            failed += 1
            if detail:
                print("#   " + detail.replace("\n", "\n#   "))
        sys.stdout.flush()

    roots = [root] + [os.path.join(o, os.path.basename(root)) for o in others]
    r, w = os.pipe()
    pids = []
    for k in range(procs):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            code = 0
            try:
                worker(roots[k % len(roots)], k, nops, seed + k, w, len(roots) > 1)
            except BaseException as e:  # a crash of the worker is a failure, reported
                os.write(w, ("worker %d crashed: %r\n" % (k, e)).encode())
                code = 1
            os._exit(code)
        pids.append(pid)
    os.close(w)
    with os.fdopen(r) as f:
        errors = [line for line in f.read().splitlines() if line]
    statuses = [os.waitpid(p, 0)[1] for p in pids]
    check(all(s == 0 for s in statuses), "all %d stress processes exited normally" % procs,
          "statuses %r" % statuses)
    check(not errors, "no unexpected errno during %d x %d operations" % (procs, nops),
          "\n".join(errors[:20]))
    if others:
        import time
        time.sleep(2.5)  # other mounts: let attribute/entry caches (1 s in c3fs) expire

    if selftest:  # the checker must notice one file with three foreign bytes appended
        victim = None
        for dirpath, _, filenames in os.walk(root):
            for name in filenames:
                full = os.path.join(dirpath, name)
                if os.path.isfile(full) and not os.path.islink(full):
                    victim = full
        if victim:
            with open(victim, "ab") as fh:
                fh.write(b"xyz")
        print("# self-test: appended 3 foreign bytes to %s" % victim)

    # --- consistency of the final tree
    phantom, dups, dir_nlink, torn, bad_links = [], [], [], [], []
    inode_names, inode_nlink = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        names = os.listdir(dirpath)
        if len(names) != len(set(names)):
            dups.append(dirpath)
        subdirs = 0
        for name in names:
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError as e:
                phantom.append("%s: %s" % (full, errno.errorcode.get(e.errno)))
                continue
            if os.path.stat.S_ISDIR(st.st_mode):
                subdirs += 1
            elif os.path.stat.S_ISREG(st.st_mode):
                inode_names[st.st_ino] = inode_names.get(st.st_ino, 0) + 1
                inode_nlink[st.st_ino] = (st.st_nlink, full)
                with open(full, "rb") as fh:
                    data = fh.read()
                at = parse(data)
                if at is not None:
                    nz = next((k for k in range(at, len(data)) if data[k]), len(data))
                    torn.append("%s: size %d (stat %d), bad record at %d: %s; first non-zero "
                                "byte at %d" % (full, len(data), st.st_size, at,
                                                data[at:at + 24].hex(), nz))
            elif os.path.stat.S_ISLNK(st.st_mode):
                if os.readlink(full) not in LINK_TARGETS:
                    bad_links.append(full)
        st = os.lstat(dirpath)
        if st.st_nlink != 2 + subdirs:
            dir_nlink.append("%s: nlink %d, %d subdirs" % (dirpath, st.st_nlink, subdirs))
    check(not phantom, "every listed name can be lstat'ed", "\n".join(phantom[:10]))
    check(not dups, "no directory lists a name twice", "\n".join(dups[:10]))
    check(not dir_nlink, "directory nlink = 2 + subdirectories", "\n".join(dir_nlink[:10]))
    wrong = ["%s: nlink %d, %d names" % (inode_nlink[i][1], inode_nlink[i][0], c)
             for i, c in inode_names.items() if inode_nlink[i][0] != c]
    check(not wrong, "file nlink = number of its names in the tree (%d files)" % len(inode_names),
          "\n".join(wrong[:10]))
    check(not torn, "every file holds whole records (no torn or foreign data)", "\n".join(torn[:10]))
    check(not bad_links, "every symlink reads back a target that was written", "\n".join(bad_links[:10]))
    if os.environ.get("NSSTRESS_KEEP") == "1" and failed:
        print("# kept %s (NSSTRESS_KEEP=1)" % root)
        print("1..%d" % n)
        return 1
    try:
        shutil.rmtree(root)
        gone = not os.path.exists(root)
        detail = ""
    except OSError as e:
        gone, detail = False, repr(e)
    check(gone, "the whole tree can be removed", detail)
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
