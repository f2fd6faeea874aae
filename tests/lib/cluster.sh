# tests/lib/cluster.sh — a whole local c3fs cluster for integration tests (source it after
# tests/lib/common.sh and t_init).
#
#   c_start [NODES=3] [TARGETS_PER_NODE=2] [REPLICAS=3]
#        one mgmtd, one meta (LMDB KV), NODES storage nodes with TARGETS_PER_NODE targets
#        each (directories under $C_TARGET_ROOT, default $T/data), then chain table 1 with
#        REPLICAS replicas per chain over every target.  Returns 1 (with a "#" line) when
#        something did not come up.
#   c_mount DIR [--set k=v ...]   mount c3fs-fuse on DIR (created), wait until mounted
#   c_umount DIR                  fusermount3 -u DIR, wait for the daemon to exit
#   c_kill_storage I [SIG]        stop storage node I (default KILL)
#   c_start_storage I             (re)start storage node I with the same targets
#   c_admin_create_table ID REPLICAS   the mgmtd admin call (used by c_start)
# Variables after c_start: C_MGMTD (ip:port), C_META (ip:port), C_TOKEN, C_ADMIN_TOKEN,
# C_STORAGE_PORT[I].  Extra meta arguments (e.g. --set metrics.listen=...) may be put in
# the array C_META_ARGS before c_start, extra storage arguments in C_STORAGE_ARGS, extra mgmtd ones in C_MGMTD_ARGS.  Daemons are started with t_daemon (names mgmtd, meta, storageI,
# fuse-<basename DIR>) so t_done scans their logs for sanitizer reports; every mount made
# here is unmounted (lazily if need be) at exit.
#
# Binaries come from $BIN (common.sh).  Uses python3 for the one admin call while the
# c3fs-admin tool is not there: it speaks the RPC frame (tests/lib's only protocol code).

C_TOKEN=${C_TOKEN:-it-token-$$}
C_ADMIN_TOKEN=${C_ADMIN_TOKEN:-it-admin-$$}
C_MOUNTS=()
declare -A C_STORAGE_PORT=()
declare -A C_STORAGE_TARGETS=()

c_cleanup() {
	local m
	for m in "${C_MOUNTS[@]}"; do
		if mountpoint -q "$m" 2>/dev/null; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		fi
	done
	t_cleanup
}

c_need_bins() {
	local b
	for b in c3fs-mgmtd c3fs-meta c3fs-storage c3fs-fuse; do
		[ -x "$BIN/$b" ] || t_skip_all "$b not built in $BIN"
	done
	[ -e /dev/fuse ] || t_skip_all "no /dev/fuse"
	command -v fusermount3 >/dev/null || t_skip_all "fusermount3 missing"
	[ "$(id -u)" = 0 ] || t_skip_all "needs root (allow_other, setpriv, tmpfs)"
}

c_admin_create_table() { # ID REPLICAS
	python3 - "$C_MGMTD" "$C_TOKEN" "$C_ADMIN_TOKEN" "$1" "$2" <<'PY'
import socket, struct, sys, time
addr, token, admin, table, replicas = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
def s(v):
    b = v.encode()
    return struct.pack('<I', len(b)) + b
def frame(typ, rid, payload):
    h = struct.pack('<IBBHQIIiI', 0x53463343, 1, 0, typ, rid, len(payload), 0, 0, 10000)
    return h + struct.pack('<I', crc32c(h)) + payload
def recv(sk, n):
    b = b''
    while len(b) < n:
        x = sk.recv(n - len(b))
        if not x:
            raise IOError('closed')
        b += x
    return b
def call(host, port, typ, payload):
    sk = socket.create_connection((host, port), timeout=10)
    try:
        sk.sendall(frame(1, 1, s(token)))
        h = recv(sk, 36); st = struct.unpack('<i', h[24:28])[0]
        recv(sk, struct.unpack('<I', h[16:20])[0] + struct.unpack('<I', h[20:24])[0])
        if st:
            return st, b''
        sk.sendall(frame(typ, 2, payload))
        h = recv(sk, 36); st = struct.unpack('<i', h[24:28])[0]
        body = recv(sk, struct.unpack('<I', h[16:20])[0] + struct.unpack('<I', h[20:24])[0])
        return st, body
    finally:
        sk.close()
host, port = addr.rsplit(':', 1)
req = s(admin) + struct.pack('<I', table) + s('it') + struct.pack('<II', replicas, 0)
deadline = time.time() + 30
while True:
    try:
        st, body = call(host, int(port), 150, req)
    except OSError as e:
        st, body = -9999, str(e).encode()
    if st == 0:
        tid, tver, added, rver = struct.unpack('<IIIQ', body[:20])
        print(f'# chain table {tid} v{tver}: {added} chains added (routing v{rver})')
        sys.exit(0)
    if time.time() > deadline:
        print(f'# create chain table failed: status {st} {body[:80]!r}')
        sys.exit(1)
    time.sleep(0.5)
PY
}

c_start_storage() { # I
	local i=$1
	t_daemon "storage$i" "$BIN/c3fs-storage" \
		--set "server.node_id=$((100 + i))" \
		--set "server.listen=127.0.0.1:${C_STORAGE_PORT[$i]}" \
		--set "server.token=$C_TOKEN" \
		--set "server.workers=16" \
		--set "storage.targets=${C_STORAGE_TARGETS[$i]}" \
		--set "mgmtd.addrs=$C_MGMTD" \
		--set "mgmtd.heartbeat=500ms" \
		${C_STORAGE_ARGS[@]+"${C_STORAGE_ARGS[@]}"}
	t_wait_port "${C_STORAGE_PORT[$i]}" 30 || return 1
}

c_kill_storage() { # I [SIG]
	t_kill "storage$1" "${2:-KILL}"
}

c_start() { # [NODES] [TARGETS_PER_NODE] [REPLICAS]
	local nodes=${1:-3} per=${2:-2} reps=${3:-3} i j mport metaport targets
	c_need_bins
	trap 'c_cleanup' EXIT
	C_REPLICAS=$reps
	C_TARGET_ROOT=${C_TARGET_ROOT:-$T/data}
	mkdir -p -m 0700 "$C_TARGET_ROOT" "$T/mgmtd" "$T/meta" # daemons refuse wider state dirs
	mport=$(t_free_port)
	C_MGMTD=127.0.0.1:$mport
	t_daemon mgmtd "$BIN/c3fs-mgmtd" \
		--set "server.listen=$C_MGMTD" \
		--set "server.token=$C_TOKEN" \
		--set "server.admin_token=$C_ADMIN_TOKEN" \
		--set "kv.data_dir=$T/mgmtd" \
		--set "lease.node_lease=3s" \
		--set "lease.leader_lease=1s" \
		${C_MGMTD_ARGS[@]+"${C_MGMTD_ARGS[@]}"}
	t_wait_port "$mport" 30 || return 1
	for ((i = 1; i <= nodes; i++)); do
		targets=
		for ((j = 1; j <= per; j++)); do
			mkdir -p -m 0700 "$C_TARGET_ROOT/s$i/t$j"
			targets+="${targets:+,}$((i * 100 + j)):$C_TARGET_ROOT/s$i/t$j"
		done
		C_STORAGE_TARGETS[$i]=$targets
		C_STORAGE_PORT[$i]=$(t_free_port)
		c_start_storage "$i" || return 1
	done
	# every target registered before the chains are formed
	c_admin_create_table 1 "$reps" || return 1
	metaport=$(t_free_port)
	C_META=127.0.0.1:$metaport
	t_daemon meta "$BIN/c3fs-meta" \
		--set "server.node_id=2" \
		--set "server.listen=$C_META" \
		--set "server.token=$C_TOKEN" \
		--set "kv.uri=lmdb:$T/meta?sync=wal" \
		--set "mgmtd.addrs=$C_MGMTD" \
		--set "mgmtd.heartbeat=500ms" \
		--set "meta.table_id=1" \
		--set "meta.stripe=${C_STRIPE:-2}" \
		--set "meta.chunk_size=${C_CHUNK_SIZE:-1M}" \
		${C_META_ARGS[@]+"${C_META_ARGS[@]}"}
	t_wait_port "$metaport" 30 || return 1
}

c_mount() { # DIR [--set k=v ...]
	local dir=$1 name i
	shift
	mkdir -p "$dir"
	name=fuse-$(basename "$dir")
	t_daemon "$name" "$BIN/c3fs-fuse" \
		--set "cluster.mgmtd=$C_MGMTD" \
		--set "cluster.token=$C_TOKEN" \
		--set "cluster.write_wait=${C_WRITE_WAIT:-60s}" \
		"$@" "$dir"
	C_MOUNTS+=("$dir")
	for ((i = 0; i < 300; i++)); do
		mountpoint -q "$dir" && stat "$dir/." >/dev/null 2>&1 && return 0
		kill -0 "$(t_pid "$name")" 2>/dev/null || break
		sleep 0.1
	done
	echo "# c3fs-fuse did not mount $dir"
	tail -n 20 "$T/$name.log" | sed 's/^/#   /'
	return 1
}

c_umount() { # DIR
	local dir=$1 name i pid conn
	name=fuse-$(basename "$dir")
	pid=$(t_pid "$name")
	# the FUSE connection, in case a copy of the mount in another mount namespace (another
	# test's unshare) keeps it alive after our unmount: then it is aborted
	conn=$(mountpoint -d "$dir" 2>/dev/null | cut -d: -f2)
	fusermount3 -u "$dir" || return 1
	for ((i = 0; i < 300; i++)); do
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
		if [ "$i" = 100 ] && [ -n "$conn" ]; then
			[ -e /sys/fs/fuse/connections/$conn ] ||
				mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
			echo "# $dir: unmounted here but still mounted in another namespace; aborting connection $conn"
			echo 1 >"/sys/fs/fuse/connections/$conn/abort" 2>/dev/null
		fi
		sleep 0.1
	done
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		echo "# c3fs-fuse for $dir still running after unmount"
		# what it waits for, for the log (gdb is optional)
		command -v gdb >/dev/null &&
			timeout 60 gdb -p "$pid" -batch -ex "thread apply all bt" >"$T/$name.stuck" 2>&1 &&
			echo "# its threads: $T/$name.stuck"
		return 1
	fi
	wait "$pid" 2>/dev/null
	local rc=$?
	unset "T_PIDS[$name]"
	return $rc
}
