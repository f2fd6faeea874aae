#!/usr/bin/env bash
# timeout: 300
# Multi-host layout: the same binaries on four "hosts" (network namespaces with their own
# addresses, tests/lib/netns.sh): h1 runs mgmtd, meta and the FUSE client, h2..h4 one
# storage node each (two targets).  Host h3 is cut off the network during a stream of
# writes and reconnected; nothing acknowledged is lost and the node rejoins.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/netns.sh"
t_init
[ "$(id -u)" = 0 ] || t_skip_all "needs root for network namespaces"
for b in c3fs-mgmtd c3fs-meta c3fs-storage c3fs-fuse c3fs-admin; do
	[ -x "$BIN/$b" ] || t_skip_all "$b not built"
done
command -v nsenter >/dev/null || t_skip_all "nsenter missing"

MNT=$T/mnt
finish() {
	mountpoint -q "$MNT" 2>/dev/null && { fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"; }
	for n in "${!T_PIDS[@]}"; do kill -TERM "${T_PIDS[$n]}" 2>/dev/null; done
	sleep 1
	ns_teardown
	t_cleanup
}
trap finish EXIT
ns_setup 4 || t_skip_all "cannot create network namespaces"

TOK=tok-$$; ADM=adm-$$
A1=$(ns_addr 1)
MG=$A1:9000
ns_port_up() { # HOST PORT
	local i
	for ((i = 0; i < 300; i++)); do
		ns_exec "$1" ss -Htln "sport = :$2" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}
admin() { ns_exec 1 "$BIN/c3fs-admin" --mgmtd "$MG" --token "$TOK" --admin-token "$ADM" "$@"; }

cat >"$T/mgmtd.ini" <<EOT
[server]
listen = $MG
token = $TOK
admin_token = $ADM
[kv]
uri = lmdb:$T/mgmtd-kv
data_dir = $T/mgmtd
[lease]
node_lease = 4s
EOT
t_daemon mgmtd nsenter --net="/run/netns/${NS_PREFIX}h1" "$BIN/c3fs-mgmtd" --config "$T/mgmtd.ini"
ns_port_up 1 9000; t_ok $? "mgmtd listens on $MG"

for h in 2 3 4; do
	mkdir -p -m 0700 "$T/s$h/a" "$T/s$h/b"
	cat >"$T/storage$h.ini" <<EOT
[server]
node_id = $h
listen = $(ns_addr "$h"):9100
token = $TOK
[storage]
targets = $((h * 100 + 1)):$T/s$h/a,$((h * 100 + 2)):$T/s$h/b
[mgmtd]
addrs = $MG
EOT
	t_daemon "storage$h" nsenter --net="/run/netns/${NS_PREFIX}h$h" "$BIN/c3fs-storage" --config "$T/storage$h.ini"
done
up=0
for h in 2 3 4; do ns_port_up "$h" 9100 && up=$((up + 1)); done
t_is "$up" 3 "three storage hosts listen on their own addresses"

for ((i = 0; i < 100; i++)); do
	[ "$(admin --json list-targets 2>/dev/null | grep -o '"local_state"' | wc -l)" -ge 6 ] && break
	sleep 0.2
done
admin create-chain-table --replicas 3 --table-id 1 --name default >/dev/null
t_ok $? "chain table of 3 replicas across the hosts"

cat >"$T/meta.ini" <<EOT
[server]
node_id = 50
listen = $A1:9001
token = $TOK
[kv]
uri = lmdb:$T/meta-kv
[mgmtd]
addrs = $MG
EOT
t_daemon meta nsenter --net="/run/netns/${NS_PREFIX}h1" "$BIN/c3fs-meta" --config "$T/meta.ini"
ns_port_up 1 9001; t_ok $? "meta listens"

mkdir -p "$MNT"
echo "$TOK" >"$T/token"
# nsenter --net keeps our mount namespace, so the mount is visible here
t_daemon fuse nsenter --net="/run/netns/${NS_PREFIX}h1" "$BIN/c3fs-fuse" \
	--set fuse.mountpoint="$MNT" --set cluster.mgmtd="$MG" --set cluster.token_file="$T/token"
for ((i = 0; i < 300; i++)); do mountpoint -q "$MNT" && break; sleep 0.1; done
mountpoint -q "$MNT"; t_ok $? "mounted from host h1"

head -c $((12 << 20)) /dev/urandom >"$T/A"
head -c $((6 << 20)) /dev/urandom >"$T/B"
cp "$T/A" "$MNT/A"; t_ok $? "write A with all hosts up"

ns_cut 3
# writes go on: they stall until mgmtd drops h3's targets from their chains
( cp "$T/B" "$MNT/B" && sync "$MNT/B" ) &
wp=$!
for ((i = 0; i < 200; i++)); do
	admin list-targets 2>/dev/null | grep -Eq '^30[12] .*offline' && break
	sleep 0.1
done
admin list-targets 2>/dev/null | grep -Eq '^30[12] .*offline'
t_ok $? "h3's targets are marked offline after its lease expires"
wait "$wp"; t_ok $? "write of B completes with h3 cut off"
cmp -s "$T/A" "$MNT/A"; t_ok $? "A reads back intact while h3 is cut off"
grep -qi 'lease' "$T/storage3.log"; t_ok $? "h3's storage noticed it lost its lease"

ns_heal 3
back=1
for ((i = 0; i < 300; i++)); do
	if ! admin list-targets 2>/dev/null | grep -Eq '^30[12] .*(offline|lastsrv)'; then back=0; break; fi
	sleep 0.1
done
t_ok $back "h3's targets rejoin after the link comes back"
for ((i = 0; i < 300; i++)); do
	admin list-chains 2>/dev/null | grep -q degraded || break
	sleep 0.1
done
admin list-chains | sed 's/^/# /'

bad=0
for k in 1 2 3 4 5 6; do
	echo 3 >/proc/sys/vm/drop_caches
	cmp -s "$T/A" "$MNT/A" || bad=1
	cmp -s "$T/B" "$MNT/B" || bad=1
done
t_ok $bad "A and B read back intact after h3 returned (six uncached reads each)"

fusermount3 -u "$MNT"; t_ok $? "clean unmount"
t_done
