#!/usr/bin/env bash
# timeout: 150
# sec_private_state.sh — a daemon's state is private to its user (issue 18 item 1).
#  (a) a cluster started under umask 000 (so only the modes the daemons pass count);
#      a 0600 file with a random marker, in a 0700 directory, written through a mount;
#      as uid 65534, walking every file under the test directory finds no byte of it,
#      neither as laid out nor with every directory opened to others (the files
#      themselves are 0600); root does find it there (the walk can fail); every file the
#      daemons created is 0600 and every directory 0700.
#  (b) a daemon refuses a state directory others can read or write (mgmtd data_dir,
#      storage target, meta LMDB dir) with a message naming the fix, starts once the fix
#      is applied, accepts 0750; a log file made by a daemon under umask 000 is 0600.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
command -v setpriv >/dev/null || t_skip_all "setpriv missing"
as_nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups -- "$@"; }

umask 000
c_start 2 1 2 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt
c_mount "$M" || { t_ok 1 "mount"; t_done; }
chmod 0755 "$T" # the test root; everything below is as the harness and daemons made it

MARK=c3fs-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -m 0700 "$M/priv" &&
	python3 - "$M/priv/f" "$MARK" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o600)
os.write(fd, (sys.argv[2] + "\n").encode() * 4096)
os.fsync(fd)
os.close(fd)
PY
t_ok $? "0600 file with a marker written in a 0700 directory"
as_nobody cat "$M/priv/f" >/dev/null 2>&1
t_ok $((!$?)) "the mount denies uid 65534"

# walk NAME: as uid 65534, every file under $T except the mount; print those holding MARK
walk() {
	as_nobody find "$T" -path "$M" -prune -o -type f -print0 2>/dev/null |
		as_nobody xargs -0 -r grep -l -a -F -- "$MARK" 2>/dev/null
}
found=$(find "$T" -path "$M" -prune -o -type f -print0 | xargs -0 grep -l -a -F -- "$MARK" | head -3)
[ -n "$found" ]
t_ok $? "root finds the marker under the state directories (the walk can see it)"
echo "$found" | sed 's/^/#   root: /'
leaks=$(walk)
t_is "$leaks" "" "uid 65534 reads no byte of it under the state directories"
nfiles=$(as_nobody find "$T" -path "$M" -prune -o -type f -print 2>/dev/null | wc -l)
echo "# uid 65534 sees $nfiles files"

# the daemons' own files, whatever the directories above them: open every directory
find "$T" -path "$M" -prune -o -type d -exec chmod o+rx {} +
leaks=$(walk)
t_is "$leaks" "" "with every directory opened to others, still no byte (files are 0600)"
nfiles=$(as_nobody find "$T" -path "$M" -prune -o -type f -print 2>/dev/null | wc -l)
[ "$nfiles" -gt 10 ]
t_ok $? "uid 65534 walked $nfiles files"
find "$T" -path "$M" -prune -o -type d -exec chmod o-rx {} +
chmod 0755 "$T"

# every file and directory the daemons made (targets, meta KV, mgmtd KV)
bad=$(find "$T"/data/s*/t* "$T/meta" "$T/mgmtd" \( -type f -perm /077 \) -o \
	\( -type d -perm /077 \) -printf '%m %p\n' | head -5)
t_is "$bad" "" "daemon-made files are 0600 and directories 0700 (under umask 000)"
n=$(find "$T"/data/s*/t*/chunks -type f | wc -l)
[ "$n" -gt 0 ]
t_ok $? "chunk files exist ($n) and were checked"

# (b) refusals, one fix command, 0750 accepted, log file 0600 under umask 000
refuse() { # NAME DIR CMD...: CMD must exit non-zero within 10 s naming "chmod -R go-rwx DIR"
	local name=$1 dir=$2 out
	shift 2
	out=$(timeout 10 "$@" 2>&1)
	local rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -qF "chmod -R go-rwx $dir" <<<"$out"
	t_ok $? "$name refuses $(stat -c %a "$dir") $dir with the fix in its message"
	grep -m1 -F "chmod" <<<"$out" | sed 's/^/#   /'
}
P=$(t_free_port)
mkdir -m 0777 "$T/bad-mgmtd"
refuse mgmtd "$T/bad-mgmtd" "$BIN/c3fs-mgmtd" --set server.listen=127.0.0.1:$P \
	--set kv.data_dir="$T/bad-mgmtd"
mkdir -m 0755 "$T/bad-target"
refuse storage "$T/bad-target" "$BIN/c3fs-storage" --set server.listen=127.0.0.1:$P \
	--set storage.targets=1:"$T/bad-target" --set mgmtd.addrs=127.0.0.1:1
mkdir -m 0705 "$T/bad-meta"
refuse meta "$T/bad-meta" "$BIN/c3fs-meta" --set server.listen=127.0.0.1:$P \
	--set kv.uri=lmdb:"$T/bad-meta"
chmod -R go-rwx "$T/bad-mgmtd"
mkdir -m 0750 "$T/logs"
t_daemon mgmtd2 "$BIN/c3fs-mgmtd" --set server.listen=127.0.0.1:$P \
	--set kv.data_dir="$T/bad-mgmtd" --set log.file="$T/logs/mgmtd2.log"
t_wait_port "$P" 20
t_ok $? "after chmod -R go-rwx, mgmtd starts"
t_is "$(stat -c %a "$T/logs/mgmtd2.log")" 600 "its log file is 0600 (umask 000)"
t_is "$(stat -c %a "$T/bad-mgmtd/kv/data.mdb")" 600 "its LMDB file is 0600"
t_kill mgmtd2
chmod 0750 "$T/bad-mgmtd"
t_daemon mgmtd3 "$BIN/c3fs-mgmtd" --set server.listen=127.0.0.1:$P --set kv.data_dir="$T/bad-mgmtd"
t_wait_port "$P" 20
t_ok $? "a 0750 state directory is accepted"
t_kill mgmtd3
t_done
