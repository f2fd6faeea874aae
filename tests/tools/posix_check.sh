#!/usr/bin/env bash
# posix_check.sh DIR — POSIX/Linux conformance checks, in the spirit of pjdfstest, run in a
# fresh sub-directory of DIR (any file system: ext4, tmpfs, the c3fs mount).  Prints TAP;
# exit 0 when every check passed, 1 otherwise, 2 on a usage error.
#
#   tests/tools/posix_check.sh DIR
#   POSIX_CHECK_SKIP="readdir_big sticky"  skips whole sections (names below), with a reason
#   POSIX_CHECK_KEEP=1                     keeps the work directory
#   POSIX_CHECK_READDIR_N=5000             entries of the readdir_big section
#   POSIX_CHECK_UNLINK_N=3000              entries of readdir_unlink (a third survive)
#   C3FS_POSIX_HELPER=path                 the c3fs-posix-helper binary (default: searched in
#                                          $C3FS_BIN_DIR, build*/asan/bin, build*/bin)
#
# Each check makes one call with tests/tools/posix_helper.c (prints "0" or the errno name)
# or reads one attribute and compares it with what POSIX and Linux's native file systems
# give.  Checks that need another uid run the helper through
#   setpriv --reuid U --regid U --clear-groups
# (uids 65534 and 65533), so they need root; without root those sections are skipped.
# Work happens in relative paths below DIR/pc.<pid> (the cwd), so the unprivileged uids need
# no search permission on DIR's ancestors.
# Sections: names errno_enoent errno_enotdir errno_eisdir errno_eexist errno_enotempty
#   errno_einval errno_eloop create mkdir link symlink rename renameat2 rmdir unlink chmod
#   chown setid truncate utimens times parent_times mkfifo open_flags open_files xattr
#   perms sticky setgid_dir nlink readdir_big readdir_unlink statfs large paths fd_ops devices
#   rename_perms xattr_perms concurrency
set -u
umask 022

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 DIR (an existing directory)" >&2
	exit 2
fi
ROOT_DIR=$(cd "$1" && pwd)
SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SELF_DIR/../.." && pwd)

find_helper() {
	local c
	for c in "${C3FS_POSIX_HELPER:-}" "${C3FS_BIN_DIR:-}/c3fs-posix-helper" \
		"${C3FS_RELEASE_BIN_DIR:-}/c3fs-posix-helper" "$REPO"/build*/asan/bin/c3fs-posix-helper \
		"$REPO"/build*/bin/c3fs-posix-helper; do
		[ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
	done
	return 1
}
HSRC=$(find_helper) || { echo "1..0 # SKIP c3fs-posix-helper not built (make programs)"; exit 77; }
# a private copy every uid can execute
HDIR=$(mktemp -d /tmp/c3fs-posix-helper.XXXXXX)
chmod 755 "$HDIR"
cp "$HSRC" "$HDIR/h"
chmod 755 "$HDIR/h"
H=$HDIR/h

W=$ROOT_DIR/pc.$$
mkdir "$W" || { echo "1..0 # SKIP cannot create $W"; exit 1; }
chmod 0777 "$W"
cleanup() {
	cd / || true
	if [ "${POSIX_CHECK_KEEP:-0}" = 1 ]; then echo "# kept $W"; else rm -rf "$W"; fi
	rm -rf "$HDIR"
}
trap cleanup EXIT
cd "$W" || exit 1

N=0
FAILED=0
IS_ROOT=0
[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && IS_ROOT=1
U1=65534
U2=65533

pass() { N=$((N + 1)); echo "ok $N - $1"; }
fail() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $1"; shift; [ $# -gt 0 ] && echo "#   $*"; }
skip() { N=$((N + 1)); echo "ok $N # SKIP $1"; }

# check GOT WANT NAME: WANT may list alternatives "A|B"
check() {
	local got=$1 want=$2 name=$3 w
	local IFS='|'
	for w in $want; do
		if [ "$got" = "$w" ]; then pass "$name"; return 0; fi
	done
	fail "$name" "got '$got', expected '$want'"
	return 1
}
# expect WANT CALL ARGS...   (as root / the invoking user)
expect() {
	local want=$1 got
	shift
	got=$("$H" "$@" 2>&1)
	check "$got" "$want" "$* -> $want"
}
# expect_as UID WANT CALL ARGS...
expect_as() {
	local uid=$1 want=$2 got
	shift 2
	got=$(setpriv --reuid "$uid" --regid "$uid" --clear-groups "$H" "$@" 2>&1)
	check "$got" "$want" "uid $uid: $* -> $want"
}
# as UID CMD... : run a shell command as UID
as() { local uid=$1; shift; setpriv --reuid "$uid" --regid "$uid" --clear-groups "$@"; }
st() { "$H" stat "$1" "$2"; }
lst() { "$H" lstat "$1" "$2"; }
# is GOT WANT NAME
is() { check "$1" "$2" "$3"; }

section_on() { # NAME [needs_root]
	local s
	for s in ${POSIX_CHECK_SKIP:-}; do
		if [ "$s" = "$1" ]; then skip "section $1 skipped (POSIX_CHECK_SKIP)"; return 1; fi
	done
	if [ "${2:-}" = root ] && [ "$IS_ROOT" != 1 ]; then
		skip "section $1 needs root and setpriv"
		return 1
	fi
	echo "# --- $1 (t=${SECONDS}s)"
	return 0
}

# seconds.nanoseconds comparison: gt A B -> 0 when A > B
gt() {
	local a=$1 b=$2 as an bs bn
	[[ $a =~ ^[0-9]+(\.[0-9]+)?$ && $b =~ ^[0-9]+(\.[0-9]+)?$ ]] || return 2
	as=${a%%.*} bs=${b%%.*}
	an=${a#"$as"} bn=${b#"$bs"}
	an=${an#.} bn=${bn#.}
	an=$(printf '%-9s' "$an") bn=$(printf '%-9s' "$bn")
	an=${an// /0} bn=${bn// /0}
	((10#$as > 10#$bs || (10#$as == 10#$bs && 10#${an:0:9} > 10#${bn:0:9})))
}
now() { date +%s.%N; }

mkfile() { # NAME [CONTENT]
	printf '%s' "${2:-}" >"$1"
}

# a python3 every uid may run (a pyenv shim under /root is not)
PY_ANY=$(command -v python3)
[ -x /usr/bin/python3 ] && PY_ANY=/usr/bin/python3
N255=$(printf 'n%.0s' $(seq 1 255))
N256=$(printf 'n%.0s' $(seq 1 256))

echo "# posix_check on $W (helper $HSRC)"

# ------------------------------------------------------------------------------------------
if section_on names; then
	expect 0 open "$N255" O_CREAT,O_WRONLY 0644
	expect regular stat "$N255" type
	expect 0 unlink "$N255"
	expect 0 mkdir "$N255" 0755
	expect 0 rmdir "$N255"
	expect 0 symlink target "$N255"
	expect 0 unlink "$N255"
	mkfile nm.f
	expect 0 link nm.f "$N255"
	expect 0 rename "$N255" nm.g
	expect 0 unlink nm.g
	expect ENAMETOOLONG open "$N256" O_CREAT,O_WRONLY 0644
	expect ENAMETOOLONG open "$N256" O_RDONLY
	expect ENAMETOOLONG mkdir "$N256" 0755
	expect ENAMETOOLONG rmdir "$N256"
	expect ENAMETOOLONG unlink "$N256"
	expect ENAMETOOLONG symlink target "$N256"
	expect ENAMETOOLONG link nm.f "$N256"
	expect ENAMETOOLONG rename nm.f "$N256"
	expect ENAMETOOLONG mkfifo "$N256" 0644
	expect ENAMETOOLONG stat "$N256" type
	expect ENAMETOOLONG chmod "$N256" 0644
	expect ENAMETOOLONG truncate "$N256" 0
	expect regular stat nm.f type
	# a symlink target of 1023 bytes (a name component can be up to 255) reads back exactly
	long=$(printf 'a/%.0s' $(seq 1 511))x
	expect 0 symlink "$long" nm.long
	is "$("$H" readlink nm.long)" "$long" "readlink returns a 1023-byte target unchanged"
	is "$(lst nm.long size)" "${#long}" "symlink size is the target length"
	# names with odd bytes
	for n in 'sp ace' 'new
line' 'ütf8-ñ' '-dash' '.hidden' '...' 'a:b' 'x\y'; do
		expect 0 open "$n" O_CREAT,O_WRONLY 0644
		expect regular stat "$n" type
		expect 0 unlink "$n"
	done
	expect ENOENT stat "" type
	expect ENOENT open "" O_CREAT,O_WRONLY 0644
	rm -f nm.f nm.long
fi

# ------------------------------------------------------------------------------------------
if section_on errno_enoent; then
	mkdir en.d
	for call in "open en.none O_RDONLY" "open en.none/x O_CREAT,O_WRONLY 0644" "mkdir en.none/x 0755" \
		"rmdir en.none" "unlink en.none" "rename en.none en.d/x" "link en.none en.d/y" \
		"chmod en.none 0644" "chown en.none 0 0" "truncate en.none 0" "stat en.none type" \
		"lstat en.none type" "readlink en.none" "utimens en.none now now" "mkfifo en.none/f 0644" \
		"symlink t en.none/s" "rename en.d en.none/x" "link en.d en.none/x" "rmdir en.d/none" \
		"unlink en.d/none" "open en.d/none O_RDWR" "mkdir en.d/a/b 0755"; do
		# shellcheck disable=SC2086
		expect ENOENT $call
	done
	ln -s en.missing en.dangling
	expect ENOENT open en.dangling O_RDONLY
	expect ENOENT stat en.dangling type
	expect symlink lstat en.dangling type
	expect 0 open en.dangling O_CREAT,O_WRONLY 0644 # creates the target through the link
	expect regular stat en.missing type
	rm -rf en.d en.dangling en.missing
fi

# ------------------------------------------------------------------------------------------
if section_on errno_enotdir; then
	mkfile nd.f data
	mkdir nd.d
	for call in "open nd.f/x O_RDONLY" "open nd.f/x O_CREAT,O_WRONLY 0644" "mkdir nd.f/x 0755" \
		"rmdir nd.f" "rmdir nd.f/x" "unlink nd.f/x" "stat nd.f/x type" "rename nd.f/x nd.g" \
		"rename nd.d/. nd.f/x" "link nd.f/x nd.g" "symlink t nd.f/x" "chmod nd.f/x 0644" \
		"truncate nd.f/x 0" "open nd.f O_RDONLY,O_DIRECTORY" "open nd.f/ O_RDONLY" \
		"rename nd.d nd.f" "mkfifo nd.f/x 0644" "readlink nd.f/x"; do
		# shellcheck disable=SC2086
		expect ENOTDIR $call
	done
	ln -s nd.f nd.lf
	expect ENOTDIR open nd.lf O_RDONLY,O_DIRECTORY
	expect EEXIST renameat2 nd.d nd.f noreplace # the existing target is reported first
	expect ENOTDIR rename nd.d nd.f
	expect EEXIST renameat2 nd.f nd.d noreplace
	rm -rf nd.f nd.d nd.lf
fi

# ------------------------------------------------------------------------------------------
if section_on errno_eisdir; then
	mkdir id.d id.e
	mkfile id.f
	expect EISDIR open id.d O_WRONLY
	expect EISDIR open id.d O_RDWR
	expect EISDIR open id.d O_CREAT,O_WRONLY 0644
	expect EISDIR open id.d O_RDONLY,O_TRUNC
	expect 0 open id.d O_RDONLY
	expect 0 open id.d O_RDONLY,O_DIRECTORY
	expect EISDIR rename id.f id.d
	expect EISDIR truncate id.d 0
	expect EISDIR unlink id.d
	expect EPERM link id.d id.x # Linux: no hard links to directories
	ln -s id.d id.ld
	expect 0 open id.ld O_RDONLY,O_DIRECTORY
	expect 0 unlink id.ld
	rm -rf id.d id.e id.f id.x
fi

# ------------------------------------------------------------------------------------------
if section_on errno_eexist; then
	mkfile ee.f
	mkdir ee.d
	ln -s ee.f ee.s
	ln -s ee.nothing ee.dangle
	mkfifo ee.p
	for t in ee.f ee.d ee.s ee.p ee.dangle; do
		expect EEXIST mkdir "$t" 0755
		expect EEXIST open "$t" O_CREAT,O_EXCL,O_WRONLY 0644
		expect EEXIST symlink x "$t"
		expect EEXIST link ee.f "$t"
		expect EEXIST mkfifo "$t" 0644
		expect EEXIST mknod "$t" fifo 0644
	done
	expect ENOENT stat ee.nothing type # O_EXCL did not follow the dangling link
	mkdir ee.full
	mkfile ee.full/x
	expect 'ENOTEMPTY|EEXIST' rmdir ee.full
	expect 'ENOTEMPTY|EEXIST' rename ee.d ee.full
	rm -rf ee.*
fi

# ------------------------------------------------------------------------------------------
if section_on errno_enotempty; then
	mkdir -p ne.a/b ne.c
	mkfile ne.c/f
	expect 'ENOTEMPTY|EEXIST' rmdir ne.a
	expect 'ENOTEMPTY|EEXIST' rename ne.c ne.a
	expect 'ENOTEMPTY|EEXIST' rename ne.a ne.c
	expect 0 rmdir ne.a/b
	expect 0 rename ne.c ne.a # over an empty directory
	expect regular stat ne.a/f type
	expect ENOENT stat ne.c type
	rm -rf ne.*
fi

# ------------------------------------------------------------------------------------------
if section_on errno_einval; then
	mkdir -p iv.a/b/c
	expect EINVAL rename iv.a iv.a/b/x
	expect EINVAL rename iv.a iv.a/b/c/x
	expect EINVAL rename iv.a/b iv.a/b/c/x
	expect 'EINVAL|EBUSY' rename iv.a/. iv.x
	expect 'EINVAL|EBUSY' rename iv.a/b/.. iv.x
	expect EINVAL rmdir iv.a/.
	expect 'ENOTEMPTY|EEXIST|EBUSY' rmdir iv.a/b/..
	expect EINVAL renameat2 iv.a iv.b noreplace,exchange
	expect EINVAL truncate iv.a/f -1
	mkfile iv.f
	expect EINVAL truncate iv.f -1
	expect EINVAL ftruncate iv.f -1
	expect 0 rename iv.a iv.a # same name: nothing happens
	expect dir stat iv.a/b/c type
	rm -rf iv.*
fi

# ------------------------------------------------------------------------------------------
if section_on errno_eloop; then
	ln -s lp.b lp.a
	ln -s lp.a lp.b
	ln -s lp.self lp.self
	for t in lp.a lp.self; do
		expect ELOOP open "$t" O_RDONLY
		expect ELOOP open "$t" O_CREAT,O_WRONLY 0644
		expect ELOOP stat "$t" type
		expect ELOOP mkdir "$t"/x 0755
		expect ELOOP chmod "$t" 0644
		expect ELOOP truncate "$t" 0
		expect ELOOP open "$t"/x O_RDONLY
	done
	expect symlink lstat lp.a type
	mkfile lp.f
	ln -s lp.f lp.lf
	expect ELOOP open lp.lf O_RDONLY,O_NOFOLLOW
	expect 0 open lp.f O_RDONLY,O_NOFOLLOW
	expect 0 unlink lp.a
	rm -f lp.*
fi

# ------------------------------------------------------------------------------------------
if section_on create; then
	t0=$(now)
	sleep 0.01
	expect 0 open cr.f O_CREAT,O_WRONLY 0640
	is "$(st cr.f mode)" 0640 "created file has the requested mode"
	is "$(st cr.f size)" 0 "created file is empty"
	is "$(st cr.f nlink)" 1 "created file has one link"
	is "$(st cr.f uid)" "$(id -u)" "created file is owned by the caller"
	is "$(st cr.f gid)" "$(id -g)" "created file has the caller's group"
	gt "$(st cr.f mtime)" "$t0"; is $? 0 "created file's mtime is now"
	gt "$(st cr.f ctime)" "$t0"; is $? 0 "created file's ctime is now"
	gt "$(st cr.f atime)" "$t0"; is $? 0 "created file's atime is now"
	expect 0 open cr.g O_CREAT,O_WRONLY 0777
	is "$(st cr.g mode)" 0755 "umask 022 applies to open(O_CREAT)"
	expect 0 open cr.h O_CREAT,O_WRONLY 04755
	is "$(st cr.h mode)" 4755 "open(O_CREAT) keeps S_ISUID for root"
	expect 0 open cr.f O_CREAT,O_WRONLY 0600 # existing: mode unchanged
	is "$(st cr.f mode)" 0640 "O_CREAT on an existing file keeps its mode"
	expect 0 open cr.rw O_CREAT,O_RDWR,O_EXCL 0000
	is "$(st cr.rw mode)" 0000 "mode 0000 file created with O_RDWR"
	rm -f cr.*
fi

# ------------------------------------------------------------------------------------------
if section_on mkdir; then
	expect 0 mkdir md.a 0755
	expect dir stat md.a type
	is "$(st md.a mode)" 0755 "mkdir mode"
	is "$(st md.a nlink)" 2 "new directory has 2 links"
	expect 0 mkdir md.b 0777
	is "$(st md.b mode)" 0755 "umask applies to mkdir"
	expect 0 mkdir md.c 01777
	is "$(st md.c mode)" 1755 "mkdir keeps the sticky bit (umask 022 applies)"
	expect 0 mkdir md.e 0
	is "$(st md.e mode)" 0000 "mkdir mode 0"
	expect 0 mkdir md.a/x/ 0755
	expect dir stat md.a/x type
	expect 0 rmdir md.a/x/
	rm -rf md.*
fi

# ------------------------------------------------------------------------------------------
if section_on link; then
	mkfile ln.a hello
	ino=$(st ln.a ino)
	expect 0 link ln.a ln.b
	is "$(st ln.a nlink)" 2 "nlink 2 after link (first name)"
	is "$(st ln.b nlink)" 2 "nlink 2 after link (second name)"
	is "$(st ln.b ino)" "$ino" "hard link has the same inode number"
	printf ' world' >>ln.b
	is "$(cat ln.a)" "hello world" "hard links share data (write via one, read via other)"
	expect 0 link ln.b ln.c
	is "$(st ln.a nlink)" 3 "nlink 3"
	expect 0 unlink ln.a
	is "$(st ln.b nlink)" 2 "nlink 2 after unlink of one name"
	is "$(cat ln.c)" "hello world" "data survives unlink of another name"
	expect 0 unlink ln.b
	is "$(st ln.c nlink)" 1 "nlink 1"
	mkdir ln.d
	expect 'EPERM' link ln.d ln.dd
	ln -s ln.c ln.s
	expect 0 link ln.s ln.s2 # link(2) does not follow: a second symlink
	expect symlink lstat ln.s2 type
	is "$(lst ln.s nlink)" 2 "symlink hard-linked: nlink 2"
	expect 0 rename ln.c ln.c # no-op
	expect 0 link ln.c ln.e
	expect 0 rename ln.c ln.e # same inode: POSIX says do nothing
	expect regular stat ln.c type
	expect regular stat ln.e type
	is "$(st ln.e nlink)" 2 "rename between links of one inode keeps both"
	rm -rf ln.*
fi

# ------------------------------------------------------------------------------------------
if section_on symlink; then
	expect 0 symlink sl.target sl.a
	expect symlink lstat sl.a type
	is "$("$H" readlink sl.a)" sl.target "readlink returns the target"
	is "$(lst sl.a size)" 9 "symlink size = target length"
	mkfile sl.target abc
	expect regular stat sl.a type
	is "$(cat sl.a)" abc "reading through a symlink"
	expect 0 symlink /absolute/path/nowhere sl.abs
	is "$("$H" readlink sl.abs)" /absolute/path/nowhere "absolute target kept"
	expect 0 symlink ../../../x sl.rel
	is "$("$H" readlink sl.rel)" ../../../x "relative target kept"
	expect EINVAL readlink sl.target
	mkdir sl.d
	expect 0 symlink sl.d sl.ld
	mkfile sl.d/inner in
	is "$(cat sl.ld/inner)" in "path walk through a symlink to a directory"
	expect ENOENT symlink "" sl.empty
	expect 0 unlink sl.a
	expect regular stat sl.target type
	rm -rf sl.*
fi

# ------------------------------------------------------------------------------------------
if section_on rename; then
	mkfile rn.a A
	ino=$(st rn.a ino)
	expect 0 rename rn.a rn.b
	expect ENOENT stat rn.a type
	is "$(st rn.b ino)" "$ino" "rename keeps the inode"
	is "$(cat rn.b)" A "rename keeps data"
	mkfile rn.c C
	cino=$(st rn.c ino)
	expect 0 link rn.c rn.c2
	expect 0 rename rn.b rn.c # replace a file that has another link
	is "$(cat rn.c)" A "rename over a file: target has the source's data"
	is "$(st rn.c2 nlink)" 1 "replaced inode lost one link"
	is "$(cat rn.c2)" C "replaced inode's other link keeps its data"
	is "$(st rn.c2 ino)" "$cino" "other link keeps its inode"
	mkdir -p rn.d1/sub rn.d2 rn.e
	expect 0 rename rn.d1/sub rn.d2/sub
	is "$(st rn.d1 nlink)" 2 "source parent nlink after moving a dir away"
	is "$(st rn.d2 nlink)" 3 "target parent nlink after moving a dir in"
	expect dir stat rn.d2/sub type
	mkfile rn.d2/sub/deep D
	expect 0 rename rn.d2/sub rn.top
	is "$(cat rn.top/deep)" D "moved directory keeps its content"
	expect 0 rename rn.top rn.e # over an empty dir
	is "$(cat rn.e/deep)" D "rename over an empty directory"
	is "$(st rn.d2 nlink)" 2 "parent nlink after the dir left"
	ln -s rn.c rn.s
	expect 0 rename rn.s rn.s2
	expect symlink lstat rn.s2 type
	is "$("$H" readlink rn.s2)" rn.c "renamed symlink keeps its target"
	mkfifo rn.p
	expect 0 rename rn.p rn.p2
	expect fifo lstat rn.p2 type
	# rename over an open file: the open fd still reads the old data
	res=$(mkfile rn.o2 OLD2; mkfile rn.n2 NEW2; python3 -c '
import os
fd = os.open("rn.o2", os.O_RDWR)
os.rename("rn.n2", "rn.o2")
old = os.pread(fd, 100, 0)
os.pwrite(fd, b"X", 0)
nl = os.fstat(fd).st_nlink
os.close(fd)
print(old.decode(), open("rn.o2").read(), nl)')
	is "$res" "OLD2 NEW2 0" "rename over an open file: fd keeps old data (nlink 0), name shows new"
	rm -rf rn.*
fi

# ------------------------------------------------------------------------------------------
if section_on renameat2; then
	mkfile r2.a A
	mkfile r2.b B
	mkdir r2.d
	mkfile r2.d/in I
	expect EEXIST renameat2 r2.a r2.b noreplace
	is "$(cat r2.a)$(cat r2.b)" AB "failed RENAME_NOREPLACE changed nothing"
	expect 0 renameat2 r2.a r2.c noreplace
	expect ENOENT stat r2.a type
	is "$(cat r2.c)" A "RENAME_NOREPLACE to a free name"
	expect 0 renameat2 r2.b r2.c exchange
	is "$(cat r2.b)$(cat r2.c)" AB "RENAME_EXCHANGE swapped two files"
	expect 0 renameat2 r2.b r2.d exchange
	expect dir stat r2.b type
	expect regular stat r2.d type
	is "$(cat r2.b/in)" I "RENAME_EXCHANGE file <-> dir: dir content follows"
	is "$(cat r2.d)" A "RENAME_EXCHANGE file <-> dir: file content follows"
	expect ENOENT renameat2 r2.b r2.none exchange
	expect ENOENT renameat2 r2.none r2.b exchange
	mkdir -p r2.p1/x r2.p2
	mkfile r2.p2/y Y
	expect 0 renameat2 r2.p1/x r2.p2/y exchange
	is "$(st r2.p1 nlink)" 2 "exchange dir<->file across parents: nlink of the dir's old parent"
	is "$(st r2.p2 nlink)" 3 "exchange dir<->file across parents: nlink of the dir's new parent"
	is "$(cat r2.p1/x)" Y "exchange across parents moved the file"
	rm -rf r2.*
fi

# ------------------------------------------------------------------------------------------
if section_on rmdir; then
	mkdir -p rd.a/b
	is "$(st rd.a nlink)" 3 "parent nlink with one subdir"
	expect 0 rmdir rd.a/b
	is "$(st rd.a nlink)" 2 "parent nlink after rmdir"
	expect ENOENT stat rd.a/b type
	mkfile rd.f
	expect ENOTDIR rmdir rd.f
	ln -s rd.a rd.l
	expect ENOTDIR rmdir rd.l
	expect 0 rmdir rd.a
	mkdir rd.open
	res=$(python3 -c '
import os
fd = os.open("rd.open", os.O_RDONLY | os.O_DIRECTORY)
os.rmdir("rd.open")
st = os.fstat(fd)
try:
    os.open("x", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd)
    r = "created"
except OSError as e:
    r = __import__("errno").errorcode[e.errno]
print(st.st_nlink, r)')
	is "${res% *}" 0 "fstat of a removed but open directory works and shows nlink 0"
	is "${res#* }" ENOENT "creating in a removed but open directory fails with ENOENT"
	rm -rf rd.*
fi

# ------------------------------------------------------------------------------------------
if section_on unlink; then
	mkfile ul.a data
	expect 0 unlink ul.a
	expect ENOENT stat ul.a type
	res=$(python3 -c '
import os
fd = os.open("ul.b", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"x" * 300000)
os.unlink("ul.b")
gone = not os.path.exists("ul.b")
os.pwrite(fd, b"tail", 300000)
data = os.pread(fd, 300004, 0)
st = os.fstat(fd)
os.close(fd)
print(gone, data == b"x" * 300000 + b"tail", st.st_nlink, st.st_size)')
	is "$res" "True True 0 300004" "unlinked open file stays readable and writable"
	mkfifo ul.p
	expect 0 unlink ul.p
	ln -s ul.nothing ul.s
	expect 0 unlink ul.s
	mkfile ul.t
	ln -s ul.t ul.ts
	expect 0 unlink ul.ts
	expect regular stat ul.t type
	rm -rf ul.*
fi

# ------------------------------------------------------------------------------------------
if section_on chmod; then
	mkfile cm.f
	for m in 0000 0644 0755 0777 1777 2755 4755 6777 0444 0111; do
		expect 0 chmod cm.f "$m"
		is "$(st cm.f mode)" "$m" "chmod $m takes effect"
	done
	mkdir cm.d
	expect 0 chmod cm.d 1777
	is "$(st cm.d mode)" 1777 "chmod on a directory"
	ln -s cm.f cm.s
	expect 0 chmod cm.s 0600
	is "$(st cm.f mode)" 0600 "chmod follows a symlink"
	c0=$(st cm.f ctime)
	sleep 0.02
	expect 0 chmod cm.f 0640
	gt "$(st cm.f ctime)" "$c0"; is $? 0 "chmod updates ctime"
	rm -rf cm.*
fi

# ------------------------------------------------------------------------------------------
if section_on chown root; then
	mkfile co.f
	expect 0 chown co.f $U1 $U1
	is "$(st co.f uid):$(st co.f gid)" "$U1:$U1" "chown sets uid and gid"
	expect 0 chown co.f -1 0
	is "$(st co.f uid):$(st co.f gid)" "$U1:0" "chown -1 keeps the uid"
	expect 0 chown co.f 0 -1
	is "$(st co.f uid):$(st co.f gid)" "0:0" "chown uid -1 gid"
	ln -s co.f co.s
	expect 0 lchown co.s $U2 $U2
	is "$(lst co.s uid)" $U2 "lchown changes the symlink"
	is "$(st co.f uid)" 0 "lchown leaves the target"
	expect 0 chown co.s $U1 -1
	is "$(st co.f uid)" $U1 "chown follows the symlink"
	c0=$(st co.f ctime)
	sleep 0.02
	expect 0 chown co.f 0 0
	gt "$(st co.f ctime)" "$c0"; is $? 0 "chown updates ctime"
	mkfile co.mine
	chown $U1:$U1 co.mine
	expect_as $U1 EPERM chown co.mine 0 -1
	expect_as $U1 EPERM chown co.mine -1 0
	expect_as $U1 0 chown co.mine $U1 $U1
	expect_as $U1 0 chown co.mine -1 -1
	expect_as $U1 EPERM chown co.f $U1 $U1 # not the owner
	rm -rf co.*
fi

# ------------------------------------------------------------------------------------------
if section_on setid root; then
	mkfile si.a
	chmod 06755 si.a
	expect 0 chown si.a $U1 $U1
	is "$(st si.a mode)" 0755 "chown of an executable clears S_ISUID and S_ISGID"
	mkfile si.b
	chmod 06745 si.b # setgid without group exec: mandatory locking mark, kept
	expect 0 chown si.b $U1 $U1
	is "$(st si.b mode)" 2745 "chown clears S_ISUID, keeps S_ISGID without group exec"
	mkfile si.w
	chmod 06777 si.w
	expect_as $U1 0 openwrite si.w data
	is "$(st si.w mode)" 0777 "write by another user clears S_ISUID and S_ISGID"
	is "$(cat si.w)" data "that write landed"
	mkfile si.t
	chmod 06777 si.t
	expect_as $U1 0 truncate si.t 10
	is "$(st si.t mode)" 0777 "truncate by another user clears S_ISUID and S_ISGID"
	mkfile si.r
	chmod 04777 si.r
	expect 0 openwrite si.r rootdata
	is "$(st si.r mode)" 4777 "a write by root (CAP_FSETID) keeps S_ISUID"
	mkdir si.g
	chown 0:$U2 si.g
	chmod 0777 si.g
	mkfile si.own
	chown $U1:$U1 si.own
	expect_as $U1 0 chmod si.own 02755
	is "$(st si.own mode)" 2755 "owner in the file's group may set S_ISGID"
	chown $U1:$U2 si.own
	expect_as $U1 0 chmod si.own 02755
	is "$(st si.own mode)" 0755 "owner not in the file's group: S_ISGID silently cleared"
	rm -rf si.*
fi

# ------------------------------------------------------------------------------------------
if section_on truncate; then
	printf 'abcdefghij' >tr.f
	expect 0 truncate tr.f 4
	is "$(st tr.f size)" 4 "truncate down: size"
	is "$(cat tr.f)" abcd "truncate down: data"
	expect 0 truncate tr.f 100000
	is "$(st tr.f size)" 100000 "truncate up: size"
	is "$(tail -c +5 tr.f | tr -d '\0' | wc -c)" 0 "truncate up: new bytes read as zero"
	is "$(head -c 4 tr.f)" abcd "truncate up: old bytes kept"
	expect 0 truncate tr.f 3000000
	expect 0 truncate tr.f 1048577
	is "$(tail -c +5 tr.f | tr -d '\0' | wc -c)" 0 "truncate across a MiB boundary: zeros"
	expect 0 ftruncate tr.f 2
	is "$(cat tr.f)" ab "ftruncate"
	expect 0 truncate tr.f 0
	is "$(st tr.f size)" 0 "truncate to 0"
	printf 'xyz' >>tr.f
	is "$(cat tr.f)" xyz "append after truncate to 0"
	m0=$(st tr.f mtime)
	c0=$(st tr.f ctime)
	sleep 0.02
	expect 0 truncate tr.f 1
	gt "$(st tr.f mtime)" "$m0"; is $? 0 "truncate updates mtime"
	gt "$(st tr.f ctime)" "$c0"; is $? 0 "truncate updates ctime"
	printf '0123456789' >tr.g
	: >tr.g
	is "$(st tr.g size)" 0 "O_TRUNC empties a file"
	rm -f tr.*
fi

# ------------------------------------------------------------------------------------------
if section_on utimens; then
	mkfile ut.f
	expect 0 utimens ut.f 1000000000.123456789 1100000000.987654321
	is "$(st ut.f atime)" 1000000000.123456789 "utimensat sets atime with nanoseconds"
	is "$(st ut.f mtime)" 1100000000.987654321 "utimensat sets mtime with nanoseconds"
	expect 0 utimens ut.f omit 1200000000
	is "$(st ut.f atime)" 1000000000.123456789 "UTIME_OMIT keeps atime"
	is "$(st ut.f mtime)" 1200000000.000000000 "mtime set next to UTIME_OMIT"
	t0=$(now)
	sleep 0.01
	expect 0 utimens ut.f now omit
	gt "$(st ut.f atime)" "$t0"; is $? 0 "UTIME_NOW sets atime to now"
	is "$(st ut.f mtime)" 1200000000.000000000 "UTIME_OMIT keeps mtime"
	expect 0 utimens ut.f omit now
	gt "$(st ut.f mtime)" "$t0"; is $? 0 "UTIME_NOW sets mtime to now"
	c0=$(st ut.f ctime)
	sleep 0.02
	expect 0 utimens ut.f 5 5
	gt "$(st ut.f ctime)" "$c0"; is $? 0 "utimensat updates ctime"
	c0=$(st ut.f ctime)
	sleep 0.02
	expect 0 utimens ut.f omit omit
	is "$(st ut.f ctime)" "$c0" "UTIME_OMIT for both changes nothing, not even ctime"
	expect 0 utimens ut.f -1 -2000000000
	is "$(st ut.f mtime)" -2000000000.000000000 "negative times (before 1970)"
	expect 0 utimens ut.f 4102444800 4102444800
	is "$(st ut.f mtime)" 4102444800.000000000 "times after 2038"
	ln -s ut.f ut.s
	expect 0 utimens ut.s 300 400 nofollow
	is "$(lst ut.s mtime)" 400.000000000 "AT_SYMLINK_NOFOLLOW sets the link's own times"
	expect 0 utimens ut.s 700 800
	is "$(st ut.f mtime)" 800.000000000 "utimensat follows a symlink"
	rm -f ut.*
fi

# ------------------------------------------------------------------------------------------
if section_on times; then
	mkfile tm.f
	touch -d "2001-02-03 04:05:06 UTC" tm.f
	is "$(st tm.f mtime)" "$(date -d '2001-02-03 04:05:06 UTC' +%s).000000000" "touch -d sets mtime"
	is "$(st tm.f atime)" "$(date -d '2001-02-03 04:05:06 UTC' +%s).000000000" "touch -d sets atime"
	touch -a -d "2005-06-07 08:09:10 UTC" tm.f
	is "$(st tm.f atime)" "$(date -d '2005-06-07 08:09:10 UTC' +%s).000000000" "touch -a sets atime only"
	is "$(st tm.f mtime)" "$(date -d '2001-02-03 04:05:06 UTC' +%s).000000000" "touch -a keeps mtime"
	touch -m -d "2010-01-01 00:00:00 UTC" tm.f
	is "$(st tm.f mtime)" "$(date -d '2010-01-01 00:00:00 UTC' +%s).000000000" "touch -m sets mtime only"
	is "$(st tm.f atime)" "$(date -d '2005-06-07 08:09:10 UTC' +%s).000000000" "touch -m keeps atime"
	m0=$(st tm.f mtime)
	c0=$(st tm.f ctime)
	sleep 0.02
	printf 'data' >>tm.f
	gt "$(st tm.f mtime)" "$m0"; is $? 0 "write updates mtime"
	gt "$(st tm.f ctime)" "$c0"; is $? 0 "write updates ctime"
	m1=$(st tm.f mtime)
	cat tm.f >/dev/null
	is "$(st tm.f mtime)" "$m1" "read leaves mtime"
	c1=$(st tm.f ctime)
	sleep 0.02
	expect 0 link tm.f tm.g
	gt "$(st tm.f ctime)" "$c1"; is $? 0 "link updates the file's ctime"
	c2=$(st tm.f ctime)
	sleep 0.02
	expect 0 unlink tm.g
	gt "$(st tm.f ctime)" "$c2"; is $? 0 "unlink updates the file's ctime"
	c3=$(st tm.f ctime)
	sleep 0.02
	expect 0 rename tm.f tm.h
	gt "$(st tm.h ctime)" "$c3"; is $? 0 "rename updates the file's ctime (Linux)"
	# mmap writes update mtime (after msync)
	m4=$(st tm.h mtime)
	sleep 0.02
	python3 -c '
import mmap, os
fd = os.open("tm.h", os.O_RDWR)
m = mmap.mmap(fd, 4)
m[0:4] = b"MMAP"
m.flush()
m.close()
os.close(fd)'
	gt "$(st tm.h mtime)" "$m4"; is $? 0 "mmap write + msync updates mtime"
	is "$(cat tm.h)" MMAP "mmap write is visible to read"
	rm -f tm.*
fi

# ------------------------------------------------------------------------------------------
if section_on parent_times; then
	# each operation on a parent whose mtime was set to the past: mtime must move to now
	i=0
	declare -a P_OP P_NAME
	for op in create mkdir unlink rmdir rename_from rename_to link symlink mkfifo; do
		i=$((i + 1))
		mkdir "pt.$op"
		case $op in
		unlink) mkfile pt.$op/f ;;
		rmdir) mkdir pt.$op/d ;;
		rename_from) mkfile pt.$op/f ;;
		esac
		touch -d "2000-01-01 UTC" "pt.$op"
	done
	c_before=()
	for op in create mkdir unlink rmdir rename_from rename_to link symlink mkfifo; do
		c_before+=("$(st pt.$op ctime)")
	done
	sleep 1.1 # for file systems with whole-second ctime
	mkfile pt.src
	expect 0 open pt.create/f O_CREAT,O_WRONLY 0644
	expect 0 mkdir pt.mkdir/d 0755
	expect 0 unlink pt.unlink/f
	expect 0 rmdir pt.rmdir/d
	expect 0 rename pt.rename_from/f pt.moved
	expect 0 rename pt.src pt.rename_to/f
	expect 0 link pt.moved pt.link/f
	expect 0 symlink x pt.symlink/s
	expect 0 mkfifo pt.mkfifo/p 0644
	i=0
	for op in create mkdir unlink rmdir rename_from rename_to link symlink mkfifo; do
		gt "$(st pt.$op mtime)" 1000000000; is $? 0 "$op updates the parent's mtime"
		gt "$(st pt.$op ctime)" "${c_before[$i]}"; is $? 0 "$op updates the parent's ctime"
		i=$((i + 1))
	done
	rm -rf pt.*
fi

# ------------------------------------------------------------------------------------------
if section_on mkfifo; then
	expect 0 mkfifo ff.p 0640
	expect fifo lstat ff.p type
	is "$(st ff.p mode)" 0640 "fifo mode"
	expect 0 mknod ff.q fifo 0600
	expect fifo lstat ff.q type
	expect 0 mknod ff.r reg 0600
	expect regular lstat ff.r type
	expect 0 mknod ff.s sock 0600
	expect socket lstat ff.s type
	res=$( (timeout 10 sh -c 'echo through-fifo >ff.p' &) ; timeout 10 cat ff.p)
	is "$res" through-fifo "data passes through a fifo on this file system"
	rm -f ff.*
fi

# ------------------------------------------------------------------------------------------
if section_on open_flags; then
	mkfile of.f hello
	expect 0 open of.f O_RDONLY
	expect 0 open of.f O_WRONLY
	expect 0 open of.f O_RDWR
	expect 0 open of.f O_RDONLY,O_NOFOLLOW
	expect EEXIST open of.f O_CREAT,O_EXCL,O_RDWR 0644
	expect 0 open of.new O_CREAT,O_EXCL,O_RDWR 0644
	expect 0 open of.f O_WRONLY,O_TRUNC
	is "$(st of.f size)" 0 "O_TRUNC empties"
	printf 'abc' >of.a
	res=$(python3 -c '
import os
fd = os.open("of.a", os.O_WRONLY | os.O_APPEND)
os.lseek(fd, 0, os.SEEK_SET)
os.write(fd, b"def")
fd2 = os.open("of.a", os.O_WRONLY)
os.pwrite(fd2, b"X", 0)
os.write(fd, b"ghi")
os.close(fd); os.close(fd2)
print(open("of.a").read())')
	is "$res" Xbcdefghi "O_APPEND writes land at the end whatever the offset"
	res=$(python3 -c '
import os
fd = os.open("of.b", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"0123456789")
os.lseek(fd, 3, os.SEEK_SET)
a = os.read(fd, 3)
os.lseek(fd, -2, os.SEEK_END)
b = os.read(fd, 10)
os.lseek(fd, 20, os.SEEK_SET)
os.write(fd, b"Z")
st = os.fstat(fd)
os.close(fd)
d = open("of.b", "rb").read()
print(a.decode(), b.decode(), st.st_size, d[10:20] == b"\0" * 10)')
	is "$res" "345 89 21 True" "lseek/read/write positions; write past EOF leaves a zero hole"
	res=$(python3 -c '
import os, errno
fd = os.open("of.c", os.O_CREAT | os.O_RDONLY, 0o644)
try:
    os.write(fd, b"x"); r = "wrote"
except OSError as e:
    r = errno.errorcode[e.errno]
os.close(fd)
fd = os.open("of.c", os.O_WRONLY)
try:
    os.read(fd, 1); r2 = "read"
except OSError as e:
    r2 = errno.errorcode[e.errno]
print(r, r2)')
	is "$res" "EBADF EBADF" "write on O_RDONLY fd and read on O_WRONLY fd give EBADF"
	rm -f of.*
fi

# ------------------------------------------------------------------------------------------
if section_on open_files; then
	res=$(python3 -c '
import os
a = os.open("op.f", os.O_CREAT | os.O_RDWR, 0o644)
b = os.open("op.f", os.O_RDWR)
os.pwrite(a, b"A" * 5000, 0)
r1 = os.pread(b, 5000, 0) == b"A" * 5000
os.pwrite(b, b"B" * 10, 4995)
r2 = os.pread(a, 20, 4990) == b"A" * 5 + b"B" * 10
os.ftruncate(a, 100)
r3 = os.fstat(b).st_size == 100 and os.pread(b, 200, 0) == b"A" * 100
os.close(a); os.close(b)
print(r1, r2, r3)')
	is "$res" "True True True" "two fds on one file see each other's writes and truncation"
	res=$(python3 -c '
import os
fd = os.open("op.g", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"keep")
os.rename("op.g", "op.h")
os.write(fd, b"going")
os.fsync(fd)
os.close(fd)
print(open("op.h").read())')
	is "$res" keepgoing "renamed open file keeps receiving writes"
	rm -f op.*
fi

# ------------------------------------------------------------------------------------------
if section_on xattr; then
	mkfile xa.f
	res=$(python3 -c '
import os, errno
def e(f):
    try:
        f(); return "0"
    except OSError as x:
        return errno.errorcode[x.errno]
r = []
r.append(e(lambda: os.setxattr("xa.f", "user.k", b"v1")))
r.append(os.getxattr("xa.f", "user.k").decode() if r[-1] == "0" else "-")
r.append(e(lambda: os.setxattr("xa.f", "user.k", b"v2", os.XATTR_CREATE)))
r.append(e(lambda: os.setxattr("xa.f", "user.new", b"n", os.XATTR_REPLACE)))
r.append(e(lambda: os.setxattr("xa.f", "user.k", b"v3", os.XATTR_REPLACE)))
r.append(e(lambda: os.getxattr("xa.f", "user.none")))
r.append(e(lambda: os.setxattr("xa.f", "user.big", b"x" * 4000)))
r.append(str(len(os.getxattr("xa.f", "user.big"))) if r[-1] == "0" else "-")
r.append(e(lambda: os.setxattr("xa.f", "user.empty", b"")))
r.append(",".join(sorted(a for a in os.listxattr("xa.f") if a.startswith("user."))))
r.append(e(lambda: os.removexattr("xa.f", "user.k")))
r.append(e(lambda: os.removexattr("xa.f", "user.k")))
r.append(e(lambda: os.setxattr("xa.f", "user." + "k" * 251, b"v")))
print(" ".join(r))')
	is "$res" "0 v1 EEXIST ENODATA 0 ENODATA 0 4000 0 user.big,user.empty,user.k 0 ENODATA ERANGE" \
		"xattr set/get/create/replace/list/remove semantics and errnos"
	if command -v setfattr >/dev/null && command -v getfattr >/dev/null; then
		setfattr -n user.tool -v hello xa.f
		is "$(getfattr --only-values -n user.tool xa.f 2>&1)" hello "setfattr/getfattr round trip"
		mkdir xa.d
		setfattr -n user.dir -v d xa.d
		is "$(getfattr --only-values -n user.dir xa.d 2>&1)" d "xattr on a directory"
	else
		skip "setfattr/getfattr missing (package attr)"
	fi
	rm -rf xa.*
fi

# ------------------------------------------------------------------------------------------
if section_on perms root; then
	mkdir pm.root
	chmod 0755 pm.root
	mkfile pm.root/f secret
	chmod 0600 pm.root/f
	mkfile pm.root/r public
	chmod 0644 pm.root/r
	expect_as $U1 EACCES open pm.root/new O_CREAT,O_WRONLY 0644
	expect_as $U1 EACCES mkdir pm.root/d 0755
	expect_as $U1 EACCES open pm.root/f O_RDONLY
	expect_as $U1 0 open pm.root/r O_RDONLY
	expect_as $U1 EACCES open pm.root/r O_WRONLY
	expect_as $U1 EACCES open pm.root/r O_RDWR
	expect_as $U1 EACCES truncate pm.root/r 0
	expect_as $U1 EACCES unlink pm.root/r
	expect_as $U1 EACCES rename pm.root/r pm.root/s
	expect_as $U1 EACCES symlink x pm.root/l
	expect_as $U1 'EACCES|EPERM' link pm.root/r pm.root/l # EPERM under fs.protected_hardlinks
	expect_as $U1 EPERM chmod pm.root/r 0666
	expect_as $U1 EPERM chown pm.root/r $U1 $U1
	expect_as $U1 EPERM utimens pm.root/r 1 1
	expect_as $U1 EACCES utimens pm.root/r now now
	expect_as $U1 EACCES mkfifo pm.root/p 0644
	chmod 0666 pm.root/r
	expect_as $U1 0 utimens pm.root/r now now # write permission is enough for "now"
	expect_as $U1 EPERM utimens pm.root/r 1 1
	chmod 0711 pm.root
	expect_as $U1 0 open pm.root/r O_RDONLY # search without read
	res=$(cd pm.root && as $U1 ls . 2>&1 >/dev/null | grep -c 'Permission denied')
	is "$res" 1 "uid $U1 cannot list a 0711 directory"
	chmod 0744 pm.root
	expect_as $U1 EACCES open pm.root/r O_RDONLY # read without search
	expect_as $U1 EACCES stat pm.root/r type
	chmod 0755 pm.root
	mkdir pm.u
	chown $U1:$U1 pm.u
	expect_as $U1 0 open pm.u/f O_CREAT,O_WRONLY 0600
	expect_as $U1 0 mkdir pm.u/d 0700
	expect_as $U1 0 chmod pm.u/f 0644
	expect_as $U1 0 utimens pm.u/f 1 1
	is "$(st pm.u/f uid)" $U1 "file created by uid $U1 is owned by it"
	is "$(st pm.u/f gid)" $U1 "file created by uid $U1 has its gid"
	expect_as $U2 EACCES open pm.u/f O_WRONLY
	expect_as $U2 0 open pm.u/f O_RDONLY
	expect_as $U2 EACCES open pm.u/d/x O_CREAT,O_WRONLY 0644
	expect_as $U2 EACCES open pm.u/x O_CREAT,O_WRONLY 0644
	expect_as $U2 EACCES rmdir pm.u/d
	expect_as $U1 0 rename pm.u/f pm.u/d/f
	expect_as $U1 0 unlink pm.u/d/f
	expect_as $U1 0 rmdir pm.u/d
	chmod 0700 pm.u
	expect 0 open pm.u/rootfile O_CREAT,O_WRONLY 0644 # root ignores modes
	expect 0 open pm.root/f O_RDWR
	# group permissions
	mkfile pm.g
	chown 0:$U1 pm.g
	chmod 0640 pm.g
	expect_as $U1 0 open pm.g O_RDONLY # gid matches
	expect_as $U1 EACCES open pm.g O_WRONLY
	expect_as $U2 EACCES open pm.g O_RDONLY
	chmod 0604 pm.g
	expect_as $U1 EACCES open pm.g O_RDONLY # group class denies even though other allows
	expect_as $U2 0 open pm.g O_RDONLY
	rm -rf pm.*
fi

# ------------------------------------------------------------------------------------------
if section_on sticky root; then
	mkdir sk.d
	chmod 1777 sk.d
	mkfile sk.d/rootf
	chmod 0666 sk.d/rootf
	expect_as $U1 0 open sk.d/u1f O_CREAT,O_WRONLY 0666
	chmod 0666 sk.d/u1f # undo the umask
	expect_as $U1 0 mkdir sk.d/u1d 0777
	expect_as $U1 EPERM unlink sk.d/rootf
	expect_as $U1 EPERM rename sk.d/rootf sk.d/x
	expect_as $U2 EPERM unlink sk.d/u1f
	expect_as $U2 EPERM rmdir sk.d/u1d
	expect_as $U2 EPERM rename sk.d/u1f sk.d/y
	expect_as $U2 0 open sk.d/u1f O_WRONLY # writing is still allowed (mode 0666)
	expect_as $U2 0 open sk.d/u2f O_CREAT,O_WRONLY 0666
	expect_as $U2 EPERM rename sk.d/u2f sk.d/u1f # replacing another user's file
	expect_as $U1 0 rename sk.d/u1f sk.d/u1g
	expect_as $U1 0 unlink sk.d/u1g
	expect_as $U1 0 rmdir sk.d/u1d
	expect 0 unlink sk.d/u2f # root may
	mkdir sk.own
	chown $U1:$U1 sk.own
	chmod 1777 sk.own
	mkfile sk.own/rootf
	expect_as $U1 0 unlink sk.own/rootf # the directory's owner may
	chmod 0777 sk.d
	expect_as $U1 0 unlink sk.d/rootf # no sticky bit: anyone with write permission
	rm -rf sk.*
fi

# ------------------------------------------------------------------------------------------
if section_on setgid_dir root; then
	mkdir sg.d
	chown 0:$U2 sg.d
	chmod 2777 sg.d
	mkfile sg.d/f
	is "$(st sg.d/f gid)" $U2 "file in a setgid dir gets the dir's group"
	mkdir sg.d/sub
	is "$(st sg.d/sub gid)" $U2 "subdir in a setgid dir gets the dir's group"
	is "$(st sg.d/sub mode)" 2755 "subdir in a setgid dir inherits S_ISGID"
	expect_as $U1 0 open sg.d/u O_CREAT,O_WRONLY 0644
	is "$(st sg.d/u gid)" $U2 "file by another user in a setgid dir gets the dir's group"
	expect 0 chmod sg.d 0777 # chmod(2) with the bit clear (GNU chmod would keep it)
	is "$(st sg.d mode)" 0777 "chmod 0777 clears a directory's S_ISGID"
	mkfile sg.d/g
	is "$(st sg.d/g gid)" "$(id -g)" "without setgid: the creator's group"
	rm -rf sg.*
fi

# ------------------------------------------------------------------------------------------
if section_on nlink; then
	mkdir nl.d
	is "$(st nl.d nlink)" 2 "empty dir: 2"
	for s in a b c; do mkdir nl.d/$s; done
	is "$(st nl.d nlink)" 5 "three subdirs: 5"
	mkfile nl.d/f
	ln -s x nl.d/s
	is "$(st nl.d nlink)" 5 "files and symlinks do not count"
	rmdir nl.d/a
	is "$(st nl.d nlink)" 4 "after rmdir: 4"
	mkdir nl.e
	mv nl.d/b nl.e/
	is "$(st nl.d nlink)" 3 "after moving a subdir out: 3"
	is "$(st nl.e nlink)" 3 "after moving a subdir in: 3"
	mv nl.d/f nl.e/
	is "$(st nl.e nlink)" 3 "moving a file does not change nlink"
	is "$(st nl.e/b nlink)" 2 "moved subdir keeps 2"
	mkfile nl.x
	for i in $(seq 1 20); do ln nl.x nl.x$i; done
	is "$(st nl.x nlink)" 21 "21 hard links"
	for i in $(seq 1 20); do rm nl.x$i; done
	is "$(st nl.x nlink)" 1 "back to 1"
	rm -rf nl.*
fi

# ------------------------------------------------------------------------------------------
if section_on readdir_big; then
	mkdir rb.d
	RB_N=${POSIX_CHECK_READDIR_N:-5000}
	res=$(python3 -c '
import os, sys
n = int(sys.argv[1])
for i in range(n):
    os.close(os.open("rb.d/entry-%05d" % i, os.O_CREAT | os.O_WRONLY, 0o644))
names = os.listdir("rb.d")
s = set(names)
want = set("entry-%05d" % i for i in range(n))
print(len(names), len(s), s == want)' "$RB_N")
	is "$res" "$RB_N $RB_N True" "readdir returns each of $RB_N entries exactly once"
	is "$(ls -a rb.d | wc -l)" $((RB_N + 2)) "ls -a shows $RB_N entries plus . and .."
	res=$(python3 -c '
import os
names = [e.name for e in os.scandir("rb.d")]
bad = [e.name for e in os.scandir("rb.d") if not e.is_file(follow_symlinks=False)]
print(len(names), len(bad))')
	is "$res" "$RB_N 0" "readdir d_type of $RB_N regular files"
	is "$(st rb.d nlink)" 2 "a directory with $RB_N files has nlink 2"
	res=$(python3 -c '
import os, shutil
shutil.rmtree("rb.d")
print(os.path.exists("rb.d"))')
	is "$res" False "removing a directory of $RB_N entries"
fi

# ------------------------------------------------------------------------------------------
if section_on readdir_unlink; then
	mkdir ru.d
	res=$(python3 -c '
import os, sys, threading
n = int(sys.argv[1])
for i in range(n):
    os.close(os.open("ru.d/f%05d" % i, os.O_CREAT | os.O_WRONLY, 0o644))
keep = set("f%05d" % i for i in range(n) if i % 3 == 0)
doomed = ["f%05d" % i for i in range(n) if i % 3 != 0]
allnames = keep | set(doomed)
done = threading.Event()
def rm():
    for name in doomed:
        os.unlink("ru.d/" + name)
    done.set()
t = threading.Thread(target=rm)
t.start()
problems = []
rounds = 0
while True:
    last = done.is_set()
    names = os.listdir("ru.d")
    rounds += 1
    s = set(names)
    if len(s) != len(names):
        problems.append("duplicates")
    if not keep <= s:
        problems.append("missed %d kept entries" % len(keep - s))
    if not s <= allnames:
        problems.append("unknown names")
    if last:
        break
t.join()
final = set(os.listdir("ru.d"))
if final != keep:
    problems.append("final listing differs by %d" % len(final ^ keep))
print("ok" if not problems else ";".join(sorted(set(problems))), rounds >= 1)' "${POSIX_CHECK_UNLINK_N:-3000}")
	is "$res" "ok True" "readdir during concurrent unlinks: no duplicates, kept entries never missed"
	rm -rf ru.d
fi

# ------------------------------------------------------------------------------------------
if section_on statfs; then
	read -r bsize blocks bfree bavail files ffree namelen < <("$H" statfs .)
	[ "${bsize:-0}" -gt 0 ] 2>/dev/null; is $? 0 "statfs: f_bsize > 0 ($bsize)"
	[ "${blocks:-0}" -gt 0 ] 2>/dev/null; is $? 0 "statfs: f_blocks > 0 ($blocks)"
	[ "${bfree:-1}" -le "${blocks:-0}" ] 2>/dev/null; is $? 0 "statfs: f_bfree <= f_blocks"
	[ "${bavail:-1}" -le "${bfree:-0}" ] 2>/dev/null; is $? 0 "statfs: f_bavail <= f_bfree"
	[ "${ffree:-1}" -le "${files:-0}" ] 2>/dev/null; is $? 0 "statfs: f_ffree <= f_files"
	[ "${namelen:-0}" -ge 255 ] 2>/dev/null; is $? 0 "statfs: f_namelen >= 255 ($namelen)"
	df -P . >/dev/null 2>&1; is $? 0 "df works"
fi

# ------------------------------------------------------------------------------------------
if section_on large; then
	mkfile lg.f
	expect 0 truncate lg.f 5368709120 # 5 GiB, sparse
	is "$(st lg.f size)" 5368709120 "64-bit size after truncate"
	res=$(python3 -c '
import os
fd = os.open("lg.f", os.O_RDWR)
os.pwrite(fd, b"far", 5368709117)
a = os.pread(fd, 3, 5368709117)
b = os.pread(fd, 4096, 4294967296 - 100)
c = os.pread(fd, 10, 5368709120)
os.close(fd)
print(a.decode(), b == b"\0" * 4096, len(c))')
	is "$res" "far True 0" "write at the end of a sparse 5 GiB file; hole across 4 GiB reads zero; EOF read is empty"
	expect 0 truncate lg.f 0
	rm -f lg.f
fi

# ------------------------------------------------------------------------------------------
if section_on paths; then
	mkfile pa.f
	mkdir pa.d
	ln -s pa.f pa.lf
	ln -s pa.d pa.ld
	expect ENOTDIR unlink pa.f/
	expect ENOTDIR rename pa.f/ pa.g
	expect ENOTDIR rename pa.f pa.g/
	expect ENOTDIR stat pa.lf/ type
	expect ENOTDIR open pa.lf/x O_CREAT,O_WRONLY 0644
	expect dir stat pa.ld/ type
	expect 0 open pa.ld/./../pa.d/x O_CREAT,O_WRONLY 0644
	expect regular stat pa.d/x type
	expect EEXIST mkdir pa.d/. 0755
	expect EEXIST mkdir pa.d/.. 0755
	expect 'ENOTEMPTY|EEXIST|EBUSY' rmdir pa.d/..
	expect 0 rename pa.d/ pa.e/ # trailing slashes on directories are fine
	expect dir stat pa.e type
	expect ENOTDIR rmdir pa.lf
	expect ENOTDIR rmdir pa.ld # rmdir does not follow the final symlink
	expect 0 unlink pa.ld
	deep=pa.deep
	for i in $(seq 1 40); do deep=$deep/d$i; done
	mkdir -p "$deep"
	expect dir stat "$deep" type
	expect 0 open "$deep/f" O_CREAT,O_WRONLY 0644
	expect regular stat "$deep/f" type
	res=$(python3 -c '
import os
d = os.getcwd()
os.mkdir("pa.gone")
os.chdir("pa.gone")
os.rmdir(os.path.join(d, "pa.gone"))
import errno
try:
    os.open("x", os.O_CREAT | os.O_WRONLY, 0o644); r = "created"
except OSError as e:
    r = errno.errorcode[e.errno]
print(r)')
	is "$res" ENOENT "creating in a removed cwd fails with ENOENT"
	rm -rf pa.*
fi

# ------------------------------------------------------------------------------------------
if section_on fd_ops; then
	mkfile fo.f data
	res=$(python3 -c '
import os, errno
def e(f):
    try:
        f(); return "0"
    except OSError as x:
        return errno.errorcode[x.errno]
r = []
fd = os.open("fo.f", os.O_RDONLY)
r.append(e(lambda: os.ftruncate(fd, 0)))            # not open for writing
r.append(e(lambda: os.write(fd, b"x")))
r.append(e(lambda: os.fchmod(fd, 0o600)))            # fchmod needs no write access
r.append(oct(os.stat("fo.f").st_mode & 0o7777))
r.append(e(lambda: os.utime(fd, ns=(10**9, 2 * 10**9))))
r.append(str(os.stat("fo.f").st_mtime_ns))
r.append(e(lambda: os.fsync(fd)))
os.close(fd)
r.append(e(lambda: os.fstat(fd)))
fd = os.open("fo.f", os.O_WRONLY)
r.append(e(lambda: os.read(fd, 1)))
r.append(e(lambda: os.ftruncate(fd, 2)))
r.append(str(os.fstat(fd).st_size))
r.append(e(lambda: os.lseek(fd, -1, os.SEEK_SET)))
r.append(e(lambda: os.pwrite(fd, b"x", -1)))
os.close(fd)
d = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
r.append(e(lambda: os.fsync(d)))
r.append(e(lambda: os.read(d, 1)))
os.close(d)
print(" ".join(r))')
	is "$res" "EINVAL EBADF 0 0o600 0 2000000000 0 EBADF EBADF 0 2 EINVAL EINVAL 0 EISDIR" \
		"fd operations: ftruncate/write on O_RDONLY, fchmod, futimens, fsync, read on O_WRONLY, lseek/pwrite negative, directory fd"
	rm -f fo.f
fi

# ------------------------------------------------------------------------------------------
if section_on devices root; then
	expect 0 mknod dv.c char 0644 1 3
	expect char lstat dv.c type
	is "$(lst dv.c rdev)" 1,3 "character device keeps major,minor"
	expect 0 mknod dv.b block 0600 7 129
	expect block lstat dv.b type
	is "$(lst dv.b rdev)" 7,129 "block device keeps major,minor"
	is "$(lst dv.b mode)" 0600 "device mode"
	expect_as $U1 EPERM mknod dv.u char 0644 1 3
	expect 0 rename dv.c dv.c2
	is "$(lst dv.c2 rdev)" 1,3 "renamed device keeps rdev"
	expect 0 unlink dv.c2
	expect 0 unlink dv.b
fi

# ------------------------------------------------------------------------------------------
if section_on rename_perms root; then
	mkdir -p rp.a rp.b
	chmod 0777 rp.a rp.b
	mkdir rp.a/rootdir
	chmod 0755 rp.a/rootdir
	mkfile rp.a/rootfile
	expect_as $U1 0 rename rp.a/rootdir rp.a/rootdir2 # same parent: no write on the dir needed
	expect_as $U1 EACCES rename rp.a/rootdir2 rp.b/rootdir # new parent: must rewrite ".."
	expect_as $U1 0 rename rp.a/rootfile rp.b/rootfile # a file may move
	chmod 0555 rp.b
	expect_as $U1 EACCES rename rp.b/rootfile rp.a/rootfile # source parent not writable
	chmod 0777 rp.b
	chmod 0555 rp.a
	expect_as $U1 EACCES rename rp.b/rootfile rp.a/rootfile # target parent not writable
	chmod 0777 rp.a
	expect_as $U1 0 open rp.a/mine O_CREAT,O_WRONLY 0644
	expect_as $U1 EACCES rename rp.a/mine rp.a/rootdir2/mine
	rm -rf rp.*
fi

# ------------------------------------------------------------------------------------------
if section_on xattr_perms root; then
	mkfile xp.f
	chmod 0644 xp.f
	mkfifo xp.p
	ln -s xp.f xp.s
	res=$(setpriv --reuid $U1 --regid $U1 --clear-groups "$PY_ANY" -c '
import os, errno
def e(f):
    try:
        f(); return "0"
    except OSError as x:
        return errno.errorcode[x.errno]
print(e(lambda: os.setxattr("xp.f", "user.a", b"1")),
      e(lambda: os.setxattr("xp.f", "trusted.a", b"1")),
      e(lambda: os.getxattr("xp.f", "user.none")),
      e(lambda: os.setxattr("xp.s", "user.a", b"1", follow_symlinks=False)))')
	is "$res" "EACCES EPERM ENODATA EPERM" \
		"xattrs as uid $U1: no write access EACCES, trusted.* EPERM, user.* on a symlink EPERM"
	res=$(python3 -c '
import os, errno
def e(f):
    try:
        f(); return "0"
    except OSError as x:
        return errno.errorcode[x.errno]
print(e(lambda: os.setxattr("xp.f", "trusted.t", b"1")),
      os.getxattr("xp.f", "trusted.t").decode(),
      e(lambda: os.setxattr("xp.p", "user.a", b"1")))')
	is "$res" "0 1 EPERM" "root may set trusted.*; user.* on a fifo is EPERM"
	rm -f xp.*
fi

# ------------------------------------------------------------------------------------------
if section_on concurrency; then
	mkdir cc.d
	res=$(python3 -c '
import os, errno, sys
P, N = 4, 60
def child(i):
    bad = 0
    for j in range(N):
        a = "cc.d/tmp-%d-%d" % (i, j)
        fd = os.open(a, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.write(fd, b"%d:%d" % (i, j))
        os.close(fd)
        os.rename(a, "cc.d/f-%d-%d" % (i, j))
        os.link("cc.d/f-%d-%d" % (i, j), "cc.d/l-%d-%d" % (i, j))
        if j % 2:
            os.unlink("cc.d/f-%d-%d" % (i, j))
    os._exit(0)
pids = []
for i in range(P):
    pid = os.fork()
    if pid == 0:
        try:
            child(i)
        except Exception as x:
            sys.stderr.write("child %d: %r\n" % (i, x)); os._exit(1)
    pids.append(pid)
rcs = [os.waitpid(p, 0)[1] for p in pids]
want = set()
for i in range(P):
    for j in range(N):
        want.add("l-%d-%d" % (i, j))
        if j % 2 == 0:
            want.add("f-%d-%d" % (i, j))
got = set(os.listdir("cc.d"))
content_ok = all(open("cc.d/l-%d-%d" % (i, j), "rb").read() == b"%d:%d" % (i, j) for i in range(P) for j in range(N))
nl_ok = all(os.stat("cc.d/l-%d-%d" % (i, j)).st_nlink == (2 if j % 2 == 0 else 1) for i in range(P) for j in range(N))
print(rcs == [0] * P, got == want, content_ok, nl_ok)')
	is "$res" "True True True True" "4 processes create/rename/link/unlink in one directory: exact result"
	res=$(python3 -c '
import os, errno, sys
P, N, K = 4, 150, 6
os.mkdir("cc.race")
def child(i):
    made = [0] * K; gone = [0] * K; other = 0
    for j in range(N):
        k = (j * 7 + i) % K
        p = "cc.race/d%d" % k
        if (j + i) % 2 == 0:
            try:
                os.mkdir(p); made[k] += 1
            except OSError as x:
                other += x.errno != errno.EEXIST
        else:
            try:
                os.rmdir(p); gone[k] += 1
            except OSError as x:
                other += x.errno != errno.ENOENT
    os.write(1, ("%s|%s|%d\n" % (",".join(map(str, made)), ",".join(map(str, gone)), other)).encode())
    os._exit(0)
r, w = os.pipe()
pids = []
for i in range(P):
    pid = os.fork()
    if pid == 0:
        os.close(r); os.dup2(w, 1); child(i)
    pids.append(pid)
os.close(w)
out = os.fdopen(r).read().split()
for p in pids: os.waitpid(p, 0)
made = [0] * K; gone = [0] * K; other = 0
for line in out:
    m, g, o = line.split("|")
    made = [a + int(b) for a, b in zip(made, m.split(","))]
    gone = [a + int(b) for a, b in zip(gone, g.split(","))]
    other += int(o)
exists = [os.path.isdir("cc.race/d%d" % k) for k in range(K)]
ok = all(made[k] - gone[k] == (1 if exists[k] else 0) for k in range(K))
print(len(out) == P, ok, other, os.stat("cc.race").st_nlink == 2 + sum(exists))')
	is "$res" "True True 0 True" "racing mkdir/rmdir of the same names: every success counted once, only EEXIST/ENOENT, nlink right"
	res=$(python3 -c '
import os, errno
P, N = 4, 100
fd = os.open("cc.x", os.O_CREAT | os.O_WRONLY, 0o644); os.write(fd, b"payload"); os.close(fd)
pids = []
for i in range(P):
    pid = os.fork()
    if pid == 0:
        bad = 0
        for j in range(N):
            a, b = ("cc.x", "cc.y") if (i + j) % 2 == 0 else ("cc.y", "cc.x")
            try:
                os.rename(a, b)
            except OSError as x:
                bad += x.errno != errno.ENOENT
        os._exit(1 if bad else 0)
    pids.append(pid)
rcs = [os.waitpid(p, 0)[1] for p in pids]
names = [n for n in ("cc.x", "cc.y") if os.path.exists(n)]
print(rcs == [0] * P, len(names), open(names[0]).read() if names else "-")')
	is "$res" "True 1 payload" "racing renames of one file between two names: it never vanishes or doubles"
	res=$(python3 -c '
import os, errno
P, R = 4, 40
r, w = os.pipe()
pids = []
for i in range(P):
    pid = os.fork()
    if pid == 0:
        os.close(r)
        wins = []
        for k in range(R):
            try:
                os.close(os.open("cc.excl.%d" % k, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)); wins.append(k)
            except OSError as x:
                if x.errno != errno.EEXIST: wins.append(-1000)
        os.write(w, (" ".join(map(str, wins)) + "\n").encode()); os._exit(0)
    pids.append(pid)
os.close(w)
data = os.fdopen(r).read().split()
for p in pids: os.waitpid(p, 0)
wins = sorted(int(x) for x in data)
print(wins == list(range(R)))')
	is "$res" True "racing O_CREAT|O_EXCL: exactly one winner per name"
	res=$(python3 -c '
import os
P, N, L = 4, 150, 100
pids = []
for i in range(P):
    pid = os.fork()
    if pid == 0:
        fd = os.open("cc.log", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
        for j in range(N):
            rec = ("%d:%05d:" % (i, j)).encode()
            os.write(fd, rec + b"#" * (L - len(rec) - 1) + b"\n")
        os.close(fd); os._exit(0)
    pids.append(pid)
for p in pids: os.waitpid(p, 0)
d = open("cc.log", "rb").read()
recs = d.split(b"\n")[:-1]
ok = len(d) == P * N * L and all(len(r) == L - 1 for r in recs)
seen = set(r.split(b":")[0] + b":" + r.split(b":")[1] for r in recs)
order = all([int(r.split(b":")[1]) for r in recs if r.startswith(b"%d:" % i)] == list(range(N)) for i in range(P))
print(ok, len(seen) == P * N, order)')
	is "$res" "True True True" "4 processes O_APPEND 100-byte records: none lost, torn or reordered"
	rm -rf cc.*
fi

echo "1..$N"
[ "$FAILED" -gt 0 ] && echo "# $FAILED of $N checks failed"
[ "$N" -gt 0 ] && [ "$FAILED" -eq 0 ]
