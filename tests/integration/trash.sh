#!/usr/bin/env bash
# timeout: 240
# trash: c3fs-admin rmtree --expire moves a tree into the caller's trash on the mount
# (/trash/<uid>/<item>/), trash list shows it with its origin and size, restore puts it
# back byte for byte (never over an existing name), purge removes it now, and c3fs-meta's
# cleaner removes expired items on its own (their files then go through GC).  As another
# user: the move needs the rights an unlink needs, each user's trash is private, and a
# trash directory planted by someone else is refused, not used.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
command -v setpriv >/dev/null || t_skip_all "setpriv not installed"
command -v jq >/dev/null || t_skip_all "jq not installed"
C_META_ARGS=(--set meta.trash_interval=1s --set meta.gc_interval=200ms)
c_start 1 1 1 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt
c_mount "$M" || { t_ok 1 "mount"; t_done; }
ADMIN=$BIN/c3fs-admin
chmod 0777 "$M"
chmod o+x "$T"
as_user() { setpriv --reuid 1000 --regid 1000 --clear-groups -- "$@"; }
as_other() { setpriv --reuid 1001 --regid 1001 --clear-groups -- "$@"; }

t_ok "$([ -d "$M/trash" ] && [ "$(stat -c '%a %u' "$M/trash")" = "1777 0" ]; echo $?)" \
	"meta made /trash: root's, mode 1777"

(cd "$M" && "$ADMIN" trash list) > "$T/empty.out" 2>&1
t_ok $? "trash list before anything was trashed: $(cat "$T/empty.out")"
grep -q "trash is empty" "$T/empty.out"
t_ok $? "  says the trash is empty"

# ---- root: move, list, restore --------------------------------------------------------
mkdir -p "$M/data/ds/sub" "$T/ref"
head -c 3000000 /dev/urandom > "$M/data/ds/big.bin"
echo hello > "$M/data/ds/sub/small.txt"
ln -s big.bin "$M/data/ds/link"
cp -a "$M/data/ds" "$T/ref/ds"
"$ADMIN" rmtree --expire 1d "$M/data/ds" > "$T/rm.out" 2>&1
t_ok $? "rmtree --expire 1d moves the tree to the trash"
t_ok "$([ ! -e "$M/data/ds" ]; echo $?)" "the tree is gone from its place"
ITEM=$(sed -n 's/.* -> trash item \([^ ]*\) .*/\1/p' "$T/rm.out")
t_ok "$([ -n "$ITEM" ] && [ -d "$M/trash/0/$ITEM/ds" ]; echo $?)" "it sits in /trash/0/<item>/ds"
(cd "$M" && "$ADMIN" --json trash list) > "$T/list.json"
t_is "$(jq -r '.items[0].origin' "$T/list.json")" "/data/ds" "trash list shows the origin"
t_is "$(jq -r '.items[0].bytes' "$T/list.json")" "3000006" "and the size of its files"
t_ok "$(jq -e '.items[0].expires > .items[0].deleted' "$T/list.json" >/dev/null; echo $?)" \
	"and when it expires"
(cd "$M" && "$ADMIN" trash restore "$ITEM") >/dev/null 2>&1
t_ok $? "restore"
sync; echo 3 > /proc/sys/vm/drop_caches
diff -r --no-dereference "$T/ref/ds" "$M/data/ds" >/dev/null 2>&1
t_ok $? "restored tree identical (data, symlink, subdirectory)"
t_ok "$([ ! -e "$M/trash/0/$ITEM" ]; echo $?)" "the item is gone from the trash"

# never over an existing name
"$ADMIN" rmtree --expire 1h "$M/data/ds" >/dev/null 2>&1
ITEM=$(ls "$M/trash/0" | head -1)
mkdir "$M/data/ds"
(cd "$M" && "$ADMIN" trash restore "$ITEM") > "$T/r2.out" 2>&1
t_is "$?" 1 "restore over an existing name is refused"
grep -q "exists" "$T/r2.out"
t_ok $? "saying so"
rmdir "$M/data/ds"
"$ADMIN" trash restore "$M/trash/0/$ITEM" "$M/data/ds2" >/dev/null 2>&1
t_ok $? "restore to another DEST (item given by path)"
cmp -s "$T/ref/ds/big.bin" "$M/data/ds2/big.bin"
t_ok $? "data intact there"

# bad input
"$ADMIN" rmtree --expire 1d "$M" >/dev/null 2>&1
t_is "$?" 1 "the mount's root cannot go to the trash"
"$ADMIN" rmtree --expire 1d "$M/trash" >/dev/null 2>&1
t_is "$?" 1 "nor the trash itself"
"$ADMIN" rmtree --expire soon "$M/data/ds2" >/dev/null 2>&1
t_is "$?" 2 "a bad duration is a usage error"
"$ADMIN" rmtree --expire 1d "$M/data/nope" >/dev/null 2>&1
t_is "$?" 1 "a missing path fails"
"$ADMIN" rmtree --expire 1d /proc/self >/dev/null 2>&1
t_is "$?" 1 "a path off the mount fails"
t_ok "$([ -d "$M/data/ds2" ]; echo $?)" "and nothing was moved by them"

# ---- purge and the cleaner -------------------------------------------------------------
"$ADMIN" rmtree --expire 1d "$M/data/ds2" >/dev/null 2>&1
ITEM=$(ls "$M/trash/0" | head -1)
(cd "$M" && "$ADMIN" trash purge "$ITEM") >/dev/null 2>&1
t_ok $? "purge"
t_ok "$([ -z "$(ls "$M/trash/0")" ]; echo $?)" "the trash is empty after purge"

mkdir -p "$M/data/gone"
head -c 2000000 /dev/urandom > "$M/data/gone/f"
"$ADMIN" rmtree --expire 2s "$M/data/gone" >/dev/null 2>&1
t_ok $? "rmtree --expire 2s"
ok=1
for ((i = 0; i < 100; i++)); do
	[ -z "$(ls "$M/trash/0")" ] && { ok=0; break; }
	sleep 0.2
done
t_ok $ok "the cleaner removed the expired item"
grep -q "trash: 1 expired items removed" "$T/meta.log"
t_ok $? "meta logged it"

# ---- another user ----------------------------------------------------------------------
mkdir -p "$M/u" && chown 1000:1000 "$M/u"
as_user mkdir -p "$M/u/job"
as_user sh -c "echo mine > '$M/u/job/a'"
as_user "$ADMIN" rmtree --expire 1d "$M/u/job" >/dev/null 2>&1
t_ok $? "a user moves their own tree to the trash"
t_is "$(stat -c '%a %u' "$M/trash/1000")" "700 1000" "into a private /trash/1000"
as_other ls "$M/trash/1000" >/dev/null 2>&1
t_ok "$([ $? -ne 0 ]; echo $?)" "another user cannot look into it"
mkdir -p "$M/rootonly/x" && chmod 0755 "$M/rootonly"
as_user "$ADMIN" rmtree --expire 1d "$M/rootonly/x" >/dev/null 2>&1
t_is "$?" 1 "a user cannot trash what they may not remove"
t_ok "$([ -d "$M/rootonly/x" ]; echo $?)" "and it stays"
as_other mkdir -m 0700 "$M/trash/1002"
as_other touch "$M/trash/1002/99.1.planted"
mkdir -p "$M/u2" && chown 1002:1002 "$M/u2"
setpriv --reuid 1002 --regid 1002 --clear-groups -- "$ADMIN" rmtree --expire 1d "$M/u2" \
	> "$T/plant.out" 2>&1
t_is "$?" 1 "a trash directory planted by another user is refused"
grep -q "not your private trash" "$T/plant.out"
t_ok $? "saying so"
sleep 2.5
t_ok "$([ -e "$M/trash/1002/99.1.planted" ]; echo $?)" \
	"the cleaner leaves alone a /trash/<N> not owned by uid N"
(cd "$M" && as_user "$ADMIN" trash list) | grep -q "/u/job"
t_ok $? "the user lists their trash"
ITEM=$(as_user ls "$M/trash/1000" | head -1)
(cd "$M" && as_user "$ADMIN" trash restore "$ITEM") >/dev/null 2>&1
t_is "$(cat "$M/u/job/a")" "mine" "and restores it"

t_done
