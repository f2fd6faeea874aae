#!/usr/bin/env bash
# timeout: 420
# soak_chain: writers and readers run without pause through a mount while storage
# processes are killed (-9) and restarted in a loop in every chain position (head, middle,
# tail), and while one target's directory is wiped (a replaced disk).  Writers keep a
# manifest of what was acknowledged (a file whose cp + fsync returned 0, with its sha256);
# readers check files of the manifest while the kills go on.  At the end: every
# acknowledged file reads back with its checksum, and every chunk file is byte-identical
# on the three replicas (the same chunk names on each, the same bytes).
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
command -v jq >/dev/null || t_skip_all "jq not installed"
C_CHUNK_SIZE=256K C_STRIPE=1
c_start 3 1 3 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt
c_mount "$M" --set cluster.write_wait=120s --set cluster.meta_wait=120s ||
	{ t_ok 1 "mount"; t_done; }
A=(timeout 20 "$BIN/c3fs-admin" --mgmtd "$C_MGMTD" --token "$C_TOKEN" --admin-token "$C_ADMIN_TOKEN")
serving() { "${A[@]}" --json list-targets | jq '[.targets[] | select(.state=="serving")] | length'; }
# node ids of chain 1 in order, head first (target i01 lives on node i)
order() { "${A[@]}" --json list-chains | jq -r '.chains[] | select(.id==1) | .targets[].id' | sed 's/01$//'; }

head -c $((8 << 20)) /dev/urandom > "$T/src"
mkdir -p "$M/w" "$T/man"

writer() { # ID: new files and whole rewrites, forever; manifest lines "name sha256"
	local id=$1 i=0 n off len f sum
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		n=$(( (i % 12) + 1 ))                  # 12 names per writer: rewrites too
		f=w$id-$n
		off=$(( (RANDOM * 37 + i * 4099) % (6 << 20) ))
		len=$(( 20000 + (RANDOM * 13 + i) % 900000 ))
		tail -c +$((off + 1)) "$T/src" | head -c "$len" > "$T/tmp$id"
		sum=$(sha256sum < "$T/tmp$id" | cut -c1-64)
		grep -v "^$f " "$T/man/$id" > "$T/man/$id.new" 2>/dev/null
		mv "$T/man/$id.new" "$T/man/$id"        # unknown while it is rewritten
		if cp "$T/tmp$id" "$M/w/$f" 2>/dev/null &&
		   python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)" \
			   "$M/w/$f" 2>/dev/null; then
			echo "$f $sum" >> "$T/man/$id"
			echo x >> "$T/acked$id"
		fi
	done
}
reader() { # check files of the manifests until told to stop; count mismatches
	local f sum got
	while [ ! -e "$T/stop" ]; do
		cat "$T"/man/[0-9] 2>/dev/null | shuf -n 3 2>/dev/null | while read -r f sum; do
			got=$(sha256sum < "$M/w/$f" 2>/dev/null | cut -c1-64)
			# a rewrite may have begun after the manifest was read: check it again
			if [ -n "$got" ] && [ "$got" != "$sum" ] &&
			   grep -q "^$f $sum\$" "$T"/man/[0-9] 2>/dev/null; then
				sleep 0.2
				got=$(sha256sum < "$M/w/$f" 2>/dev/null | cut -c1-64)
				grep -q "^$f $sum\$" "$T"/man/[0-9] 2>/dev/null && [ "$got" != "$sum" ] &&
					echo "$f expected $sum got $got" >> "$T/readbad"
			fi
		done
		sleep 0.1
	done
}
: > "$T/man/1"; : > "$T/man/2"
writer 1 & W1=$!
writer 2 & W2=$!
reader & R1=$!

restart() { # NODE: start it again and wait until every target serves
	c_start_storage "$1" >/dev/null 2>&1
	t_wait_for 90 '[ "$(serving)" = 3 ]'
}
rounds=0 ok=0
for pos in 1 2 3 1 2 3; do                      # head, middle, tail, twice
	node=$(order | sed -n "${pos}p")
	[ -n "$node" ] || continue
	sleep 2                                    # writes in flight when it dies
	c_kill_storage "$node" KILL
	sleep 1.5
	restart "$node" && ok=$((ok + 1))
	rounds=$((rounds + 1))
done
t_is "$ok/$rounds" "6/6" "six kill -9 + restart rounds (head, middle, tail twice), all serving again"

# a replaced disk: the middle's directory emptied while it is down
node=$(order | sed -n 2p)
c_kill_storage "$node" TERM
t_wait_for 30 '[ "$(serving)" != 3 ]'
rm -rf "$C_TARGET_ROOT/s$node/t1"
mkdir -m 0700 "$C_TARGET_ROOT/s$node/t1"
sleep 2
restart "$node"
t_ok $? "the middle's wiped target is refilled and serving"
sleep 3

touch "$T/stop"
wait "$W1" "$W2" "$R1"
t_ok "$([ ! -s "$T/readbad" ]; echo $?)" "readers saw no wrong bytes during the kills$( [ -s "$T/readbad" ] && head -3 "$T/readbad" | tr '\n' ';')"
t_wait_for 90 '[ "$(serving)" = 3 ]'
t_ok $? "all targets serving at the end"

# every acknowledged file, cold
sync; echo 3 > /proc/sys/vm/drop_caches
n=0 bad=0
while read -r f sum; do
	n=$((n + 1))
	[ "$(sha256sum < "$M/w/$f" | cut -c1-64)" = "$sum" ] || { bad=$((bad + 1)); echo "# $f differs"; }
done < <(cat "$T"/man/[0-9])
acked=$(cat "$T"/acked[0-9] 2>/dev/null | wc -l)
t_ok "$([ "$acked" -ge 20 ]; echo $?)" "writers had $acked whole-file writes acknowledged during the soak"
t_is "$bad" 0 "every acknowledged file reads back with its checksum"

# every chunk file byte-identical on the three replicas
names() { find "$C_TARGET_ROOT/s$1/t1/chunks" -type f -printf '%f\n' | sed 's/\.[0-9a-f]*$//' | sort -u; }
cfile() { find "$C_TARGET_ROOT/s$1/t1/chunks" -type f -name "$2.*" | head -1; }
same_names() { [ "$(names 1)" = "$(names 2)" ] && [ "$(names 1)" = "$(names 3)" ]; }
identical() {
	local c a b d
	for c in $(names 1); do
		a=$(cfile 1 "$c"); b=$(cfile 2 "$c"); d=$(cfile 3 "$c")
		cmp -s "$a" "$b" && cmp -s "$a" "$d" || return 1
	done
}
t_wait_for 60 'same_names && identical'
t_ok $? "every chunk ($(names 1 | wc -l)) has byte-identical files on the three replicas"
t_done
