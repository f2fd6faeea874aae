#!/usr/bin/env bash
# timeout: 180
# fuse_conf: 3fs-virt/get-conf and set-conf on a mount.  get-conf lists every key as a
# symlink whose target is its value (tokens hidden); a user's usr.* override is seen by
# that user only and changes what the kernel is told (a negative lookup cached for an hour
# is not asked again); a non-root user may not set sys.* keys; root may set reloadable
# sys.* keys (the mount's value) but not one that needs a restart; unknown keys and bad
# values are refused and change nothing.  3fs-virt's errors count in c3fs_fuse_errors_total.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
command -v setpriv >/dev/null || t_skip_all "setpriv not installed"
command -v curl >/dev/null || t_skip_all "curl not installed"
c_start 1 1 1 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt
FPORT=$(t_free_port)
c_mount "$M" --set "metrics.listen=127.0.0.1:$FPORT" --set fuse.attr_timeout=2s ||
	{ t_ok 1 "mount"; t_done; }
chmod 0777 "$M"
chmod o+x "$T" # uid 1000 walks to the mount
G=$M/3fs-virt/get-conf
S=$M/3fs-virt/set-conf
as_user() { setpriv --reuid 1000 --regid 1000 --clear-groups -- "$@"; }
lookups() {
	curl -s --max-time 5 "http://127.0.0.1:$FPORT/metrics" |
		awk '$1 ~ /^c3fs_fuse_requests_total\{op="lookup"/ { s += $2 } END { printf "%d\n", s }'
}

# --- get-conf ---------------------------------------------------------------------------------
ls "$G" | grep -qx "sys.fuse.attr_timeout"
t_ok $? "get-conf lists sys.fuse.attr_timeout"
ls "$G" | grep -qx "usr.negative_timeout"
t_ok $? "get-conf lists usr.negative_timeout"
t_is "$(readlink "$G/sys.fuse.attr_timeout")" "2s" "readlink sys.fuse.attr_timeout = the mount's value"
t_is "$(readlink "$G/usr.attr_timeout")" "2s" "readlink usr.attr_timeout = the mount's value"
t_is "$(readlink "$G/sys.cluster.token")" "(hidden)" "the cluster token is not shown"
t_is "$(as_user readlink "$G/usr.read_cache")" "true" "uid 1000 reads get-conf"

# --- usr.* by a user: its own view only, and the kernel is told --------------------------------
as_user ln -s 1h "$S/usr.negative_timeout"
t_ok $? "uid 1000: ln -s 1h set-conf/usr.negative_timeout"
t_is "$(as_user readlink "$G/usr.negative_timeout")" "1h" "uid 1000 sees its override"
t_is "$(readlink "$G/usr.negative_timeout")" "0" "root still sees the mount's value"
n0=$(lookups)
as_user stat "$M/absent-a" >/dev/null 2>&1
as_user stat "$M/absent-a" >/dev/null 2>&1
n1=$(lookups)
t_is "$((n1 - n0))" 1 "uid 1000: a negative lookup is cached (asked once for two stats)"
stat "$M/absent-b" >/dev/null 2>&1
stat "$M/absent-b" >/dev/null 2>&1
n2=$(lookups)
t_is "$((n2 - n1))" 2 "root (no override): a negative lookup is asked every time"
as_user ln -s default "$S/usr.negative_timeout"
t_ok $? "uid 1000: ln -s default drops the override"
t_is "$(as_user readlink "$G/usr.negative_timeout")" "0" "uid 1000 sees the mount's value again"

# --- refusals: nothing changes ------------------------------------------------------------------
as_user ln -s 5s "$S/sys.fuse.attr_timeout" 2>/dev/null
t_ok $(( ! $? )) "uid 1000 may not set a system key"
err=$(as_user ln -s 5s "$S/sys.fuse.attr_timeout" 2>&1)
echo "$err" | grep -qi "not permitted"
t_ok $? "  refused with EPERM: $err"
t_is "$(readlink "$G/sys.fuse.attr_timeout")" "2s" "  nothing changed"
as_user ln -s soon "$S/usr.attr_timeout" 2>/dev/null
t_ok $(( ! $? )) "a bad value is refused"
t_is "$(as_user readlink "$G/usr.attr_timeout")" "2s" "  nothing changed"
ln -s 5 "$S/usr.bogus" 2>/dev/null
t_ok $(( ! $? )) "an unknown key is refused"
ln -s 5 "$S/sys.fuse.threads" 2>/dev/null
t_ok $(( ! $? )) "root: a key that needs a restart is refused"
grep -q "fuse.threads: not reloadable" "$T/fuse-mnt.log"
t_ok $? "  with the reason in the log"
t_is "$(readlink "$G/sys.fuse.threads")" "16" "  nothing changed"

# --- sys.* by root: the mount's value, for every user without an override -----------------------
ln -s 5s "$S/sys.fuse.attr_timeout"
t_ok $? "root: ln -s 5s set-conf/sys.fuse.attr_timeout"
t_is "$(readlink "$G/sys.fuse.attr_timeout")" "5s" "get-conf shows the new mount value"
t_is "$(as_user readlink "$G/usr.attr_timeout")" "5s" "uid 1000 inherits it"
ln -s debug "$S/sys.log.level"
t_ok $? "root: sys.log.level=debug"
t_is "$(readlink "$G/sys.log.level")" "debug" "get-conf shows log.level=debug"
ln -s verbose "$S/sys.log.level" 2>/dev/null
t_ok $(( ! $? )) "root: a bad log level is refused"

# --- read-only: per user (usr.readonly) and for the whole mount (sys.fuse.readonly) --------------
mkdir -p "$M/ro" && chmod 0777 "$M/ro"
as_user sh -c "echo before > '$M/ro/f'"
as_user ln -s true "$S/usr.readonly"
t_ok $? "uid 1000: ln -s true set-conf/usr.readonly"
t_is "$(as_user readlink "$G/usr.readonly")" "true" "get-conf shows it to that user"
t_is "$(readlink "$G/usr.readonly")" "false" "and not to root"
err=$(as_user touch "$M/ro/new" 2>&1)
case "$err" in *"Read-only file system"*) rc=0 ;; *) rc=1 ;; esac
t_ok $rc "uid 1000 cannot create (EROFS)"
as_user sh -c "echo more >> '$M/ro/f'" 2>/dev/null
t_ok $(( ! $? )) "nor append"
as_user mkdir "$M/ro/d" 2>/dev/null
t_ok $(( ! $? )) "nor mkdir"
as_user rm -f "$M/ro/f" 2>/dev/null
t_ok $(( ! $? )) "nor unlink"
as_user mv "$M/ro/f" "$M/ro/g" 2>/dev/null
t_ok $(( ! $? )) "nor rename"
as_user chmod 0600 "$M/ro/f" 2>/dev/null
t_ok $(( ! $? )) "nor chmod"
t_is "$(as_user cat "$M/ro/f")" "before" "reading still works"
touch "$M/ro/byroot"
t_ok $? "root, without the override, still writes"
as_user ln -s default "$S/usr.readonly"
t_ok $? "uid 1000 drops the override"
as_user touch "$M/ro/new"
t_ok $? "and writes again"
ln -s true "$S/sys.fuse.readonly"
t_ok $? "root: sys.fuse.readonly=true"
touch "$M/ro/new2" 2>/dev/null
t_ok $(( ! $? )) "the whole mount refuses changes"
as_user touch "$M/ro/new3" 2>/dev/null
t_ok $(( ! $? )) "  for every user"
ln -s false "$S/sys.fuse.readonly"
t_ok $? "root: sys.fuse.readonly=false (set-conf itself stays possible)"
touch "$M/ro/new2"
t_ok $? "writable again"

# --- pushed by mgmtd: c3fs-admin set-config client KEY=VALUE reaches the mount -----------------
A=(timeout 20 "$BIN/c3fs-admin" --mgmtd "$C_MGMTD" --token "$C_TOKEN" --admin-token "$C_ADMIN_TOKEN")
out=$("${A[@]}" set-config client fuse.entry_timeout=7s 2>&1)
t_ok $? "set-config client fuse.entry_timeout=7s ($out)"
ok=1
for ((i = 0; i < 100; i++)); do
	[ "$(readlink "$G/sys.fuse.entry_timeout")" = 7s ] && { ok=0; break; }
	sleep 0.1
done
t_ok $ok "the running mount took it (get-conf shows 7s)"
t_is "$(as_user readlink "$G/usr.entry_timeout")" "7s" "users without an override see it"
grep -q "live configuration version .*: fuse.entry_timeout=7s" "$T/fuse-mnt.log"
t_ok $? "  and the mount logged it"
"${A[@]}" set-config client cluster.write_behind_bytes=2M cluster.meta_wait=90s >/dev/null 2>&1
t_ok $? "set-config client: libc3fs settings (write-behind limit, meta wait)"
ok=1
for ((i = 0; i < 100; i++)); do
	[ "$(readlink "$G/sys.cluster.write_behind_bytes")" = 2M ] && { ok=0; break; }
	sleep 0.1
done
t_ok $ok "the mount took them"
head -c 5000000 /dev/urandom > "$T/wb.bin"
cp "$T/wb.bin" "$M/ro/wb.bin" && cmp -s "$T/wb.bin" "$M/ro/wb.bin"
t_ok $? "writes through the smaller write-behind queue are intact"
"${A[@]}" set-config client fuse.threads=4 >/dev/null 2>&1
t_is "$?" 3 "set-config client fuse.threads (needs a restart) is refused"
t_is "$(readlink "$G/sys.fuse.threads")" "16" "  nothing changed"
"${A[@]}" set-config client fuse.entry_timeout= >/dev/null 2>&1
t_ok $? "the setting removed in mgmtd"
ok=1
for ((i = 0; i < 100; i++)); do
	[ "$(readlink "$G/sys.fuse.entry_timeout")" = 1s ] && { ok=0; break; }
	sleep 0.1
done
t_ok $ok "the mount falls back to its file's value (1s)"

# --- 3fs-virt's own errors are answered like every other: counted ----------------------------
fuse_errors() {
	curl -s --max-time 5 "http://127.0.0.1:$FPORT/metrics" |
		awk '$1 == "c3fs_fuse_errors_total" { s += $2 } END { printf "%d\n", s }'
}
e0=$(fuse_errors)
readlink "$G/no.such.key" >/dev/null 2>&1
t_is "$?" 1 "readlink of an unknown get-conf key fails (ENOENT)"
e1=$(fuse_errors)
t_ok $(( e1 <= e0 )) "c3fs_fuse_errors_total counts 3fs-virt's errors ($e0 -> $e1)"

t_done
