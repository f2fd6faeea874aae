#!/usr/bin/env bash
# timeout: 240
# users: users and tokens (docs/OPERATIONS.md "Users and tokens").  With meta auth.users on,
# c3fs-admin user-add prints a token once (or writes it 0600), user-list shows no token or
# hash, the user commands need the admin token (exit 3); a mount with a root user's token
# serves root and uid 1000, one with uid 1000's token serves uid 1000 only (root's and uid
# 1001's requests refused); a token file others may read, an unknown token and no token are
# refused; user-remove refuses that user's mount at its next request and token-rotate the
# old token, while the new one works.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
command -v setpriv >/dev/null || t_skip_all "setpriv not installed"
C_META_ARGS=(--set auth.users=true)
c_start 1 1 1 || { t_ok 1 "cluster starts"; t_done; }
chmod o+x "$T" # uid 1000 walks to the mounts
A=(timeout 20 "$BIN/c3fs-admin" --mgmtd "$C_MGMTD" --token "$C_TOKEN"
	--admin-token "$C_ADMIN_TOKEN")
as() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups -- "$@"; }

# A mount whose daemon must come up but whose root (uid 0) may be refused: wait until the
# kernel lists it (c_mount and mountpoint(1) stat it as root).
mount_tok() { # DIR TOKEN_FILE ("" = none)
	local dir=$1 name i
	mkdir -p "$dir"
	name=fuse-$(basename "$dir")
	t_daemon "$name" "$BIN/c3fs-fuse" --set "cluster.mgmtd=$C_MGMTD" \
		--set "cluster.token=$C_TOKEN" --set "cluster.user_token_file=$2" \
		--set fuse.attr_timeout=0 --set fuse.entry_timeout=0 "$dir"
	C_MOUNTS+=("$dir")
	for ((i = 0; i < 300; i++)); do
		awk -v d="$dir" '$2 == d { f = 1 } END { exit !f }' /proc/self/mounts && return 0
		kill -0 "$(t_pid "$name")" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# c3fs-fuse that must refuse to start: its exit status and log
fuse_refused() { # DIR TOKEN_FILE
	mkdir -p "$1"
	timeout 60 "$BIN/c3fs-fuse" --set "cluster.mgmtd=$C_MGMTD" --set "cluster.token=$C_TOKEN" \
		--set "cluster.user_token_file=$2" "$1" >"$T/refused.log" 2>&1
}

# --- admin commands -------------------------------------------------------------------------
root_tok=$("${A[@]}" user-add 0 root --root 2>"$T/add0.err"); rc=$?
t_is "$rc" 0 "user-add 0 root --root"
[[ $root_tok =~ ^[0-9a-f]{64}$ ]]
t_ok $? "user-add prints the token (64 hex digits) on stdout"
grep -q "shown once" "$T/add0.err"
t_ok $? "and says on stderr that it is shown once"
printf '%s\n' "$root_tok" >"$T/root.tok" && chmod 600 "$T/root.tok"

"${A[@]}" user-add 1000 alice --groups 2000,2001 --token-out "$T/alice.tok" >"$T/add1.out" 2>&1
t_is "$?" 0 "user-add 1000 alice --token-out FILE: $(cat "$T/add1.out")"
t_is "$(stat -c %a "$T/alice.tok")" 600 "the token file is created 0600"
alice_tok=$(cat "$T/alice.tok")
[[ $alice_tok =~ ^[0-9a-f]{64}$ ]]
t_ok $? "it holds the token"
"${A[@]}" user-add 1000 bob >/dev/null 2>"$T/dup.err"
t_is "$?" 1 "user-add of a taken uid fails: $(cat "$T/dup.err")"
"${A[@]}" user-add 1001 alice >/dev/null 2>&1
t_is "$?" 1 "user-add of a taken name fails"
"${A[@]}" user-add 1000 alice2 --token-out "$T/alice.tok" >/dev/null 2>"$T/exist.err"
t_is "$?" 1 "an existing token file is never overwritten: $(cat "$T/exist.err")"
t_is "$(cat "$T/alice.tok")" "$alice_tok" "and keeps its token"
"${A[@]}" user-add 1002 'bad name' >/dev/null 2>&1
t_is "$?" 2 "a bad user name is a usage error"

list=$("${A[@]}" user-list); rc=$?
t_is "$rc" 0 "user-list"
echo "$list" | grep -Eq '^1000 +alice +1000 +no +no +2000,2001$'
t_ok $? "user-list shows alice with gid and groups"
echo "$list" | grep -Eq '^0 +root +0 +yes +no'
t_ok $? "user-list shows root with the root flag"
json=$("${A[@]}" --json user-list)
! echo "$list$json" | grep -Eq "$root_tok|$alice_tok|[0-9a-f]{32}"
t_ok $? "user-list (table and JSON) shows no token and no hash"

for c in "user-list" "user-add 1003 carol" "user-remove 1000" "token-rotate 1000"; do
	timeout 20 "$BIN/c3fs-admin" --mgmtd "$C_MGMTD" --token "$C_TOKEN" $c >/dev/null 2>&1
	t_is "$?" 3 "$c without the admin token: exit 3"
done
timeout 20 "$BIN/c3fs-admin" --mgmtd "$C_MGMTD" --token "$C_TOKEN" --admin-token wrong \
	user-list >/dev/null 2>&1
t_is "$?" 3 "user-list with a wrong admin token: exit 3"
"${A[@]}" user-list | grep -q carol
t_ok $(( ! $? )) "the refused user-add added nothing"
"${A[@]}" user-add 5000 ops --admin --token-out "$T/ops.tok" >/dev/null 2>&1
timeout 20 "$BIN/c3fs-admin" --mgmtd "$C_MGMTD" --token "$C_TOKEN" \
	--admin-token-file "$T/ops.tok" user-list >/dev/null 2>&1
t_is "$?" 0 "an admin user's token works as the admin token"
timeout 20 "$BIN/c3fs-admin" --mgmtd "$C_MGMTD" --token "$C_TOKEN" \
	--admin-token-file "$T/alice.tok" user-list >/dev/null 2>&1
t_is "$?" 3 "a user's token without the admin flag does not"
timeout 10 "$BIN/c3fs-meta" --set "server.listen=127.0.0.1:$(t_free_port)" \
	--set "kv.uri=mem:" --set auth.users=true >"$T/standalone.log" 2>&1
t_ok $(( $? == 0 )) "a standalone meta with auth.users refuses to start"
grep -q "needs mgmtd.addrs" "$T/standalone.log"
t_ok $? "and says why"

# --- a root user's mount: any uid -----------------------------------------------------------
MR=$T/mr
mount_tok "$MR" "$T/root.tok" && stat "$MR/." >/dev/null
t_ok $? "mount with the root user's token; root stats it"
mkdir "$MR/home" && chown 1000:1000 "$MR/home" && chmod 0755 "$MR" "$MR/home"
t_ok $? "root makes a directory for uid 1000"
as 1000 sh -c "echo hi > $MR/home/by-1000"
t_ok $? "uid 1000 writes through the root user's mount"
t_is "$(stat -c %u "$MR/home/by-1000")" 1000 "as uid 1000"

# --- uid 1000's mount: uid 1000 only --------------------------------------------------------
MA=$T/ma
mount_tok "$MA" "$T/alice.tok"
t_ok $? "mount with alice's token"
t_is "$(as 1000 cat "$MA/home/by-1000")" hi "uid 1000 reads through alice's mount"
as 1000 touch "$MA/home/a1"
t_ok $? "uid 1000 creates through alice's mount"
stat "$MA/home" >/dev/null 2>"$T/root.err"
t_is "$?" 1 "root's request on alice's mount is refused: $(cat "$T/root.err")"
grep -Eq "Permission denied|Operation not permitted" "$T/root.err"
t_ok $? "with EACCES/EPERM"
as 1001 stat "$MA/home" >/dev/null 2>&1
t_is "$?" 1 "uid 1001's request on alice's mount is refused"
# refusals are logged once a second at most: ask again until one is
t_wait_for 10 'as 1001 stat "$MA/home" >/dev/null 2>&1; grep -q "may not act as uid" "$T/meta.log"'
t_ok $? "meta logs why: $(grep -m1 'may not act as uid' "$T/meta.log" | cut -c1-160)"

# --- bad tokens -----------------------------------------------------------------------------
cp "$T/alice.tok" "$T/open.tok" && chmod 644 "$T/open.tok"
fuse_refused "$T/m-open" "$T/open.tok"
t_ok $(( $? == 0 )) "a user token file others may read is refused"
grep -q "lets others read it" "$T/refused.log"
t_ok $? "with a clear error: $(grep -m1 'lets others' "$T/refused.log" | cut -c1-160)"
echo hello >"$T/junk.tok" && chmod 600 "$T/junk.tok"
fuse_refused "$T/m-junk" "$T/junk.tok"
t_ok $(( $? == 0 )) "a token file without a token is refused"
grep -q "not a c3fs user token" "$T/refused.log"
t_ok $? "with a clear error"
printf '%064d\n' 7 >"$T/unknown.tok" && chmod 600 "$T/unknown.tok"
fuse_refused "$T/m-unknown" "$T/unknown.tok"
t_ok $(( $? == 0 )) "a mount with an unknown token fails"
grep -q "refused by meta" "$T/refused.log"
t_ok $? "with a clear error: $(grep -m1 'refused by meta' "$T/refused.log" | cut -c1-160)"
MN=$T/mn
mount_tok "$MN" "" # no user token: mounts, but meta refuses every request
ls "$MN" >/dev/null 2>&1
t_is "$?" 2 "without a user token every request is refused"
t_wait_for 10 '! ls "$MN" >/dev/null 2>&1 && grep -q "no user token" "$T/meta.log"'
t_ok $? "meta logs: no user token"

# --- user-remove: refused at the next request -----------------------------------------------
out=$("${A[@]}" user-remove 1000); rc=$?
t_is "$rc" 0 "user-remove 1000: $out"
t_wait_for 15 '! as 1000 touch "$MA/home/after-remove-$RANDOM"'
t_ok $? "alice's mount is refused within a few seconds"
as 1000 touch "$MR/home/still"
t_ok $? "the root user's mount still serves uid 1000"
"${A[@]}" user-remove 1000 >/dev/null 2>&1
t_is "$?" 1 "user-remove of an unknown uid fails"

# --- token-rotate: the old token stops, the new one works -----------------------------------
"${A[@]}" token-rotate 0 --token-out "$T/root2.tok" >/dev/null 2>&1
t_is "$?" 0 "token-rotate 0 --token-out FILE"
t_is "$(stat -c %a "$T/root2.tok")" 600 "the new token file is 0600"
t_wait_for 15 '! touch "$MR/after-rotate-$RANDOM"'
t_ok $? "the mount with the old token is refused"
M2=$T/mr2
mount_tok "$M2" "$T/root2.tok" && touch "$M2/new-token"
t_ok $? "a mount with the new token works"
fuse_refused "$T/m-old" "$T/root.tok"
t_ok $(( $? == 0 )) "a new mount with the old token fails"

# --- users survive a mgmtd restart (its KV), and meta keeps checking ------------------------
t_kill mgmtd
t_daemon mgmtd "$BIN/c3fs-mgmtd" --set "server.listen=$C_MGMTD" --set "server.token=$C_TOKEN" \
	--set "server.admin_token=$C_ADMIN_TOKEN" --set "kv.data_dir=$T/mgmtd" \
	--set "lease.node_lease=3s" --set "lease.leader_lease=1s"
t_wait_for 30 '"${A[@]}" user-list | grep -Eq "^0 +root"'
t_ok $? "after a mgmtd restart user-list still shows the users"
touch "$M2/after-mgmtd-restart"
t_ok $? "the new root token still works"
fuse_refused "$T/m-old2" "$T/root.tok"
t_ok $(( $? == 0 )) "the old one is still refused"

for d in "$MA" "$MN" "$MR" "$M2"; do c_umount "$d" >/dev/null 2>&1; done
t_done
