#!/usr/bin/env bash
# timeout: 420
# storage_scrub.sh — corrupt replicas are reported and repaired (src/storage/scrub.c):
#   (b) with the scrubber off, a client read that hits a replica whose chunk files were
#       damaged (bytes flipped in place, live) fails over, and the damaged replica has
#       the chunks it served repaired from the chain within seconds;
#   (a) the damaged chunks nobody read, and a chunk damaged on the tail, are found by the
#       scrubber (turned on with set-config) and repaired; afterwards every chunk file is
#       byte-identical on the three replicas; list-targets shows found/repaired and a
#       last scrub pass, the storage metrics count them;
#   (e) c3fs-admin scrub TARGET starts a pass (and refuses an unknown target);
#   (c) a chunk file truncated while its storage node is down is resent by the sync after
#       the restart;
#   (d) c3fs-admin wait-sync prints progress (chunks, bytes) while a node that missed a
#       large write is synced, and exits 0 once every target serves.
# One chain of three targets (one per node), 1 MiB chunks.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"
t_init
command -v jq >/dev/null || t_skip_all "jq not installed"
[ -x "$BIN/c3fs-admin" ] || t_skip_all "c3fs-admin not built"

# test builds: each chunk a recovery sync sends waits 250 ms (8 in flight), so the sync of
# (d) lasts long enough for its progress to reach mgmtd and c3fs-admin
export C3FS_TEST_SYNC_CHUNK_DELAY_MS=250
C_STORAGE_ARGS=(--set storage.scrub_rate=512 --set storage.scrub_interval=0 \
	--set metrics.listen=127.0.0.1:0)
c_start 3 1 3
t_ok $? "cluster with one 3-replica chain"
A=(timeout 30 "$BIN/c3fs-admin" --mgmtd "$C_MGMTD" --token "$C_TOKEN" --admin-token "$C_ADMIN_TOKEN")
AW=(timeout 330 "${A[@]:2}")
M=$T/mnt
c_mount "$M"
t_ok $? "mounted"

tdir() { echo "$C_TARGET_ROOT/s$1/t1"; }     # target i01 of node i
names() { # NODE: the chunk names (inode-index) of its target, sorted
	find "$(tdir "$1")/chunks" -type f -printf '%f\n' | sed 's/\.[0-9a-f]*$//' | sort
}
cfile() { # NODE NAME: the chunk file of that chunk on that node
	find "$(tdir "$1")/chunks" -type f -name "$2.*" | head -1
}
identical() { # NAME...: the chunk's file is byte-identical on the three nodes
	local n a b c
	for n in "$@"; do
		a=$(cfile 1 "$n"); b=$(cfile 2 "$n"); c=$(cfile 3 "$n")
		[ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ] || return 1
		cmp -s "$a" "$b" && cmp -s "$a" "$c" || return 1
	done
}
flip() { # FILE: overwrite 16 bytes at offset 1000 with their complement, in place
	python3 - "$1" <<'PY'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(1000)
    b = f.read(16)
    f.seek(1000)
    f.write(bytes(x ^ 0xFF for x in b))
PY
}
tjson() { "${A[@]}" --json list-targets | jq -r ".targets[] | select(.id==$1) | .$2"; }

head -c $((6 << 20)) /dev/urandom >"$T/a"
head -c $((6 << 20)) /dev/urandom >"$T/b"
cp "$T/a" "$M/a" && sync
names 1 >"$T/names.a"
cp "$T/b" "$M/b" && sync
names 1 | comm -13 "$T/names.a" - >"$T/names.b"
t_is "$(wc -l <"$T/names.b")" 6 "file b is six chunks on the head"
t_wait_for 20 'identical $(cat "$T/names.a" "$T/names.b")'
t_ok $? "every chunk file identical on the three replicas after the writes"

# ---- (b) read repair, scrubber off: damage every chunk of b on node 2's target
for n in $(cat "$T/names.b"); do flip "$(cfile 2 "$n")"; done
identical $(cat "$T/names.b")
t_ok $((!$?)) "the damage makes the replicas differ"
GOOD=0
for try in 1 2 3; do # which replica serves a chunk also depends on the load of the moment
	c_umount "$M" && c_mount "$M" # nothing cached
	[ "$(md5sum <"$M/b")" = "$(md5sum <"$T/b")" ] || GOOD=1
	t_wait_for 5 'grep -q "failed its checksum" "$T/storage2.log"' && break
done
t_ok $GOOD "b reads back right although one replica is damaged"
grep -q "failed its checksum" "$T/storage2.log"
t_ok $? "the damaged replica saw the checksum failure of a read"
READ=$(grep -o 'chunk [0-9]*:[0-9]* failed its checksum' "$T/storage2.log" |
	awk '{split($2, c, ":"); printf "%016x-%08x\n", c[1], c[2]}' | sort -u)
echo "# chunks read from the damaged replica: $(echo $READ)"
t_wait_for 15 'identical $READ'
t_ok $? "the chunks read there were repaired from the chain (byte-identical again)"
t_ok "$(grep -q 'scrub of target' "$T/storage2.log"; echo $((!$?)))" "without the scrubber"
t_wait_for 10 '[ "$(tjson 201 corrupt_found)" -ge 1 ] && [ "$(tjson 201 corrupt_repaired)" -ge 1 ]'
t_ok $? "list-targets --json: target 201 found and repaired corrupt chunks"
# (which replica serves a chunk depends on the chunk index and the load: the ones not
# read from node 2 are left for the scrubber)
echo "# $(echo "$READ" | wc -w) of the 6 damaged chunks were read from node 2"

# ---- (a) the scrubber: the rest of b on node 2, plus a chunk of a on the tail (node 3)
ACHUNK=$(head -1 "$T/names.a")
flip "$(cfile 3 "$ACHUNK")"          # on the tail: repaired from its predecessor
HCHUNK=$(sed -n 3p "$T/names.a")
flip "$(cfile 1 "$HCHUNK")"          # on the head: repaired from its successor
"${A[@]}" set-config storage storage.scrub_interval=1s >/dev/null
t_ok $? "set-config storage.scrub_interval=1s (reloadable)"
t_wait_for 90 'identical $(cat "$T/names.a" "$T/names.b")'
t_ok $? "the scrubber found and repaired every damaged chunk: all replicas byte-identical"
t_is "$(md5sum <"$M/a")" "$(md5sum <"$T/a")" "a reads back right"
t_wait_for 20 '[ "$(tjson 201 corrupt_repaired)" -ge 6 ] && [ "$(tjson 301 corrupt_repaired)" -ge 1 ] && [ "$(tjson 101 corrupt_repaired)" -ge 1 ]'
t_ok $? "list-targets --json: 201 repaired 6 chunks, 301 and the head 101 one each"
t_wait_for 20 '[ "$(tjson 101 scrub_last_ms)" -gt 0 ] && [ "$(tjson 201 scrub_last_ms)" -gt 0 ] && [ "$(tjson 301 scrub_last_ms)" -gt 0 ]'
t_ok $? "every target reports a finished scrub pass"
"${A[@]}" list-targets | sed 's/^/# /'
"${A[@]}" list-targets | grep -qE '^201 .* [0-9]+/[0-9]+ +[0-9a-z]+ ago'
t_ok $? "list-targets table: CORRUPT found/repaired and SCRUBBED columns"
"${A[@]}" status | grep -q '^corrupt        target 201: [0-9]* chunks found corrupt, [0-9]* repaired'
t_ok $? "status names the target with corrupt chunks"
MP=$(grep -oE 'metrics on 127.0.0.1:0, port [0-9]+' "$T/storage2.log" | head -1 | awk '{print $NF}')
if [ -n "$MP" ]; then
	curl -s "http://127.0.0.1:$MP/metrics" >"$T/metrics2"
	grep -qE '^c3fs_storage_target_corrupt_repaired\{target="201"\} [1-9]' "$T/metrics2" &&
		grep -qE '^c3fs_storage_scrub_chunks\{target="201"\} [1-9]' "$T/metrics2"
	t_ok $? "metrics: corrupt_repaired and scrub_chunks of target 201"
else
	t_ok 1 "metrics address of storage2 found in its log"
fi

# ---- (e) scrub TARGET: scheduled passes off, one pass on request
"${A[@]}" set-config storage storage.scrub_interval=0 >/dev/null
t_ok $? "set-config storage.scrub_interval=0 (off)"
sleep 3 # a pass that was running ends
N0=$(grep -c 'scrub of target 301 done' "$T/storage3.log")
sleep 2
t_is "$(grep -c 'scrub of target 301 done' "$T/storage3.log")" "$N0" "no scheduled passes any more"
"${A[@]}" scrub 301 >"$T/scrub.out"
t_ok $? "c3fs-admin scrub 301"
t_wait_for 30 '[ "$(grep -c "scrub of target 301 done" "$T/storage3.log")" -gt "$N0" ]'
t_ok $? "a pass of target 301 ran"
"${A[@]}" scrub 999 >/dev/null 2>&1
t_is $? 1 "scrub of an unknown target fails"

# ---- (c)+(d): node 2 down; a large write; one of its chunk files truncated; restart
c_kill_storage 2 KILL
t_wait_for 30 '[ "$(tjson 201 state)" != serving ]'
t_ok $? "node 2 down: target 201 leaves the chain"
head -c $((160 << 20)) /dev/urandom >"$T/c"
cp "$T/c" "$M/c" && sync
t_ok $? "160 MiB written while node 2 is down"
TCHUNK=$(sed -n 2p "$T/names.a")
truncate -s 4096 "$(cfile 2 "$TCHUNK")"
c_start_storage 2
t_ok $? "node 2 restarted"
"${AW[@]}" wait-sync --timeout 300 >"$T/wait.out" 2>&1
WRC=$?
sed 's/^/#   /' "$T/wait.out" | tail -n 8
t_is "$WRC" 0 "wait-sync exits 0 once every target serves"
grep -qE '[0-9]+% [0-9]+/[1-9][0-9]* chunks, .* of .*, .*/s, ETA' "$T/wait.out"
t_ok $? "wait-sync printed sync progress (done/total chunks, bytes, rate, ETA)"
t_is "$(tail -1 "$T/wait.out")" "every target is serving" "its last line"
t_is "$(tjson 201 state)" serving "target 201 serving"
t_is "$(stat -c %a "$(tdir 2)/SCRUB_LAST")" 600 "the last pass is recorded in the target directory (0600)"
t_wait_for 10 '[ "$(tjson 201 scrub_last_ms)" = "$(head -1 "$(tdir 2)/SCRUB_LAST")" ]'
t_ok $? "and reported again after the restart"
identical "$TCHUNK"
t_ok $? "the chunk truncated while the node was down was resent by the sync"
grep -q "is shorter than its recorded length" "$T/storage2.log"
t_ok $? "the restarted target reported it as damaged"
t_is "$(md5sum <"$M/c")" "$(md5sum <"$T/c")" "c reads back right"
if command -v script >/dev/null; then
	script -qec "$(printf '%q ' "${A[@]}") wait-sync" /dev/null >"$T/wait.tty" 2>&1
	grep -q $'\r\033\[Kevery target is serving' "$T/wait.tty"
	t_ok $? "on a terminal wait-sync redraws its line in place"
fi

c_umount "$M"
t_done
