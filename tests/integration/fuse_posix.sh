#!/usr/bin/env bash
# timeout: 240
# fuse_posix: POSIX behaviour of a c3fs mount as applications use it: open files that are
# renamed or unlinked, git, tar, SQLite, permissions for another uid, mmap, xattrs,
# renameat2 flags, truncate, times, links, fifos, statfs.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
c_start 3 2 3 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt
c_mount "$M" || { t_ok 1 "mount"; t_done; }
cd "$M" || exit 1

# --- open files renamed and unlinked
python3 - <<'PY'
import os, sys
fd = os.open("open-unlinked", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"x" * 100000)
os.unlink("open-unlinked")
assert not os.path.exists("open-unlinked")
os.pwrite(fd, b"tail", 100000)
assert os.pread(fd, 4, 100000) == b"tail", "read after unlink"
assert os.fstat(fd).st_size == 100004
os.close(fd)
fd = os.open("open-renamed", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"before")
os.rename("open-renamed", "renamed-now")
os.write(fd, b"after")
os.close(fd)
assert open("renamed-now", "rb").read() == b"beforeafter"
sys.exit(0)
PY
t_ok $? "unlinked open file stays usable; renamed open file keeps its data"
ls -a | grep -q open-unlinked
t_ok $(( ! $? )) "unlinked name is gone"

# --- git
(
	set -e
	export HOME=$T GIT_CONFIG_NOSYSTEM=1
	git config --global user.email t@example.com
	git config --global user.name tester
	git config --global init.defaultBranch main
	mkdir repo && cd repo
	git init -q .
	for i in 1 2 3 4 5; do
		echo "line $i" >>file.txt
		seq 1 $((i * 1000)) >"data$i"
		git add -A
		git commit -q -m "commit $i"
	done
	git mv data1 moved1
	git commit -q -m move
	[ "$(git rev-list --count HEAD)" = 6 ]
	git fsck --strict >/dev/null 2>&1
	git gc -q
	git fsck --strict >/dev/null 2>&1
	[ "$(git show HEAD~1:file.txt | wc -l)" = 5 ]
)
t_ok $? "git init, 6 commits, mv, gc, fsck"

# --- tar extract
mkdir -p "$T/tarsrc"
cp -a "$C3FS_ROOT/src" "$T/tarsrc/" 2>/dev/null
ln -s src/client "$T/tarsrc/lnk"
tar -C "$T/tarsrc" -cf "$T/t.tar" .
mkdir x && tar -C x -xf "$T/t.tar"
t_ok $? "tar extracts"
diff -r --no-dereference "$T/tarsrc" x >/dev/null
t_ok $? "extracted tree equals the source"

# --- SQLite
if command -v sqlite3 >/dev/null; then
	sqlite3 db.sqlite <<'SQL' >/dev/null
PRAGMA journal_mode=DELETE;
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<5000)
INSERT INTO t(v) SELECT hex(randomblob(50)) FROM c;
COMMIT;
UPDATE t SET v = 'u' WHERE id % 7 = 0;
DELETE FROM t WHERE id % 11 = 0;
SQL
	t_is "$(sqlite3 db.sqlite 'PRAGMA integrity_check; SELECT count(*) FROM t; SELECT count(*) FROM t WHERE v = "u";' | tr '\n' ' ')" \
		"ok 4546 650 " "SQLite database: integrity and row counts"
	sqlite3 db.sqlite 'PRAGMA journal_mode=WAL; INSERT INTO t(v) VALUES ("wal");' >/dev/null
	t_is "$(sqlite3 db.sqlite 'SELECT count(*) FROM t WHERE v = "wal";')" 1 "SQLite in WAL mode (shared mmap of -shm)"
else
	t_ok 0 "# SKIP sqlite3 missing"
fi

# --- permissions for another uid (meta checks uid/gid/groups)
as_user() { setpriv --reuid 1000 --regid 1000 --clear-groups -- "$@"; }
mkdir priv && chmod 0700 priv && echo secret >priv/s
echo readable >pub && chmod 0644 pub
mkdir -m 1777 sticky && echo mine >sticky/rootfile
as_user ls priv >/dev/null 2>&1
t_ok $(( ! $? )) "uid 1000 cannot list a 0700 directory of root"
as_user cat priv/s >/dev/null 2>&1
t_ok $(( ! $? )) "uid 1000 cannot reach a file inside it"
as_user cat pub >/dev/null 2>&1
t_ok $? "uid 1000 reads a 0644 file"
as_user sh -c 'echo x >> pub' 2>/dev/null
t_ok $(( ! $? )) "uid 1000 cannot write a 0644 file of root"
as_user touch newfile 2>/dev/null
t_ok $(( ! $? )) "uid 1000 cannot create in a 0755 directory of root"
as_user sh -c 'echo u > sticky/userfile' 2>/dev/null
t_ok $? "uid 1000 creates in a 1777 directory"
t_is "$(stat -c %u:%g sticky/userfile)" "1000:1000" "new file owned by the caller"
as_user rm -f sticky/rootfile 2>/dev/null
[ -e sticky/rootfile ]
t_ok $? "sticky bit: uid 1000 cannot remove root's file"
as_user chown 0 sticky/userfile 2>/dev/null
t_ok $(( ! $? )) "uid 1000 cannot give a file away"
as_user chmod 0600 sticky/userfile
t_ok $? "uid 1000 chmods its own file"
chmod 0640 pub && chgrp 1000 pub
setpriv --reuid 2000 --regid 2000 --groups 1000 -- cat pub >/dev/null 2>&1
t_ok $? "supplementary group grants group read"
setpriv --reuid 2000 --regid 2000 --clear-groups -- cat pub >/dev/null 2>&1
t_ok $(( ! $? )) "without the group: denied"

# setuid/setgid dropped when another user writes or truncates (the kernel's kill-priv)
touch sid && chmod 06777 sid
as_user sh -c 'echo data >> sid'
t_ok $? "uid 1000 appends to a 6777 file of root"
t_is "$(stat -c %a sid)" 777 "and the setuid/setgid bits are gone"
chmod 06777 sid
as_user truncate -s 2 sid
t_ok $? "uid 1000 truncates a 6777 file of root"
t_is "$(stat -c %a:%s sid)" 777:2 "bits gone, size 2"
as_user chmod 0700 sid 2>/dev/null
t_ok $(( ! $? )) "but a chmod by uid 1000 is still refused"

# fstat of an open directory after rmdir; fallocate; mmap of an O_DIRECT fd
python3 - <<'PY'
import mmap, os, sys
os.mkdir("rmd")
fd = os.open("rmd", os.O_RDONLY)
os.rmdir("rmd")
st = os.fstat(fd)
os.close(fd)
assert st.st_nlink == 0, st
fd = os.open("fa", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"abc")
os.posix_fallocate(fd, 0, 100000)
assert os.fstat(fd).st_size == 100000
assert os.pread(fd, 10, 0) == b"abc" + b"\0" * 7
os.close(fd)
fd = os.open("od", os.O_CREAT | os.O_RDWR | os.O_DIRECT, 0o644)
os.ftruncate(fd, 8192)
m = mmap.mmap(fd, 8192)
m[0:5] = b"hello"
m.close()
os.close(fd)
assert open("od", "rb").read(5) == b"hello"
sys.exit(0)
PY
t_ok $? "fstat of a removed open directory (nlink 0), fallocate extends, mmap of an O_DIRECT fd"

# --- mmap: shared writable map, then read back from a fresh process
python3 - <<'PY'
import mmap, os, sys
fd = os.open("mm", os.O_CREAT | os.O_RDWR, 0o644)
os.ftruncate(fd, 3 * 1048576 + 123)
m = mmap.mmap(fd, 3 * 1048576 + 123)
for i in range(0, len(m), 4096):
    m[i:i + 8] = (i // 4096).to_bytes(8, "little")
m[-5:] = b"tail!"
m.flush()
m.close()
os.close(fd)
with open("mm", "rb") as f:
    d = f.read()
ok = all(d[i:i + 8] == (i // 4096).to_bytes(8, "little") for i in range(0, len(d) - 8, 4096))
sys.exit(0 if ok and d[-5:] == b"tail!" and len(d) == 3 * 1048576 + 123 else 1)
PY
t_ok $? "mmap MAP_SHARED writes land in the file"
python3 - <<'PY'
import mmap, os, sys
with open("mmr", "wb") as f:
    f.write(bytes(range(256)) * 8192)
fd = os.open("mmr", os.O_RDONLY)
m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
ok = m[:256] == bytes(range(256)) and m[-256:] == bytes(range(256)) and len(m) == 256 * 8192
m.close(); os.close(fd)
sys.exit(0 if ok else 1)
PY
t_ok $? "mmap read"

# --- xattrs
python3 - <<'PY'
import os, sys, errno
open("xa", "w").close()
os.setxattr("xa", "user.k1", b"v1")
os.setxattr("xa", "user.k2", b"x" * 1000)
assert os.getxattr("xa", "user.k1") == b"v1"
assert sorted(os.listxattr("xa")) == ["user.k1", "user.k2"]
try:
    os.setxattr("xa", "user.k1", b"z", os.XATTR_CREATE); sys.exit(1)
except OSError as e:
    assert e.errno == errno.EEXIST
try:
    os.setxattr("xa", "user.nope", b"z", os.XATTR_REPLACE); sys.exit(1)
except OSError as e:
    assert e.errno == errno.ENODATA
os.removexattr("xa", "user.k1")
try:
    os.getxattr("xa", "user.k1"); sys.exit(1)
except OSError as e:
    assert e.errno == errno.ENODATA
sys.exit(0)
PY
t_ok $? "xattrs: set, get, list, CREATE/REPLACE, remove"

# --- renameat2 flags, links, fifo, truncate, times, statfs
python3 - <<'PY'
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT = -100
def r2(a, b, fl):
    if libc.renameat2(AT, a.encode(), AT, b.encode(), fl) != 0:
        return ctypes.get_errno()
    return 0
open("ra", "w").write("A"); open("rb", "w").write("B")
assert r2("ra", "rb", 1) == errno.EEXIST            # RENAME_NOREPLACE
assert r2("ra", "rb", 2) == 0                        # RENAME_EXCHANGE
assert open("ra").read() == "B" and open("rb").read() == "A"
os.mkdir("dd"); os.mkdir("dd/sub")
assert r2("dd", "dd/sub/x", 0) == errno.EINVAL       # into its own subtree
os.mkdir("ne"); open("ne/f", "w").close(); os.mkdir("empty")
try:
    os.rename("empty", "ne"); sys.exit(1)
except OSError as e:
    assert e.errno in (errno.ENOTEMPTY, errno.EEXIST)
sys.exit(0)
PY
t_ok $? "rename: NOREPLACE, EXCHANGE, subtree, non-empty target"
echo data >h1 && ln h1 h2
t_is "$(stat -c %h h1)" 2 "hard link count"
rm h1
t_is "$(cat h2)" data "data survives through the other link"
mkfifo ff
t_is "$(stat -c %F ff)" "fifo" "mkfifo"
ln -s /some/where sl
t_is "$(readlink sl)" /some/where "symlink"
printf 'abcdefghij' >tr
truncate -s 4 tr && truncate -s 8 tr
t_is "$(od -An -c tr | tr -d ' ')" 'abcd\0\0\0\0' "truncate down then up: zeros after the cut"
touch -d '2001-02-03 04:05:06.789' tr
t_is "$(stat -c %y tr)" "2001-02-03 04:05:06.789000000 +0000" "utimens with nanoseconds"
chmod 4755 tr
t_is "$(stat -c %a tr)" 4755 "chmod keeps setuid for root"
rmdir ne 2>/dev/null
t_ok $(( ! $? )) "rmdir of a non-empty directory fails"
df -P "$M" >/dev/null
t_ok $? "statfs"
[ ! -e 3fs-virt/nothing ] && [ -d 3fs-virt/rm-rf ]
t_ok $? "3fs-virt is there (lookup only)"
ls -a | grep -q 3fs-virt
t_ok $(( ! $? )) "3fs-virt is not listed"

cd "$T"
c_umount "$M"
t_ok $? "unmount"
t_done
