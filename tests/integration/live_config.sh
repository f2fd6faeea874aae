#!/usr/bin/env bash
# timeout: 120
# live_config.sh — live configuration: c3fs-admin set-config/get-config through mgmtd to a
# running c3fs-meta.  A reloadable key (log.level) changes the daemon's behaviour without a
# restart (a connection closed mid-frame is logged at debug level only); a per-node setting
# overrides the type's and removing it falls back; a key that needs a restart, an unknown
# key, a bad value and a mix of good and bad settings are refused with the reason and
# change nothing; a daemon started later gets the settings when it registers.
. "$(dirname "$0")/../lib/common.sh"
t_init
command -v jq >/dev/null || t_skip_all "jq not installed"
[ -x "$BIN/c3fs-mgmtd" ] && [ -x "$BIN/c3fs-meta" ] && [ -x "$BIN/c3fs-admin" ] ||
	t_skip_all "c3fs-mgmtd/c3fs-meta/c3fs-admin not built in $BIN"

PORT=$(t_free_port)
M=127.0.0.1:$PORT
t_daemon mgmtd "$BIN/c3fs-mgmtd" --set server.listen="$M" --set kv.data_dir="$T/mgmtd" \
	--set server.token=ctok --set server.admin_token=s3cret
t_wait_port "$PORT" 20
t_ok $? "mgmtd listens"
A=(timeout 20 "$BIN/c3fs-admin" --mgmtd "$M" --token ctok --admin-token s3cret)

MP=$(t_free_port)
t_daemon meta "$BIN/c3fs-meta" --set server.listen="127.0.0.1:$MP" --set server.token=ctok \
	--set server.node_id=50 --set mgmtd.addrs="$M" --set mgmtd.heartbeat=200ms \
	--set kv.uri="lmdb:$T/meta-kv"
t_wait_port "$MP" 30
t_ok $? "meta listens"

# A connection that sends three bytes and closes: logged only at debug level.
half_frame() {
	exec 3<>"/dev/tcp/127.0.0.1/$MP" && printf 'abc' >&3
	sleep 0.2
	exec 3>&-
	sleep 0.3
}
mid() { grep -c "closed mid-frame" "$T/meta.log"; }
applied() { grep -c "live configuration version $1 applied" "$T/$2.log"; }

t_wait_for 20 '[ "$(applied 0 meta)" -ge 1 ]'
t_ok $? "meta fetched the (empty) live configuration at registration"
half_frame
t_is "$(mid)" 0 "log.level=info: a half frame is not logged"

out=$("${A[@]}" set-config meta log.level=debug); rc=$?
t_is "$rc" 0 "set-config meta log.level=debug: $out"
t_wait_for 10 '[ "$(applied 1 meta)" -ge 1 ]'
t_ok $? "meta applied version 1 without a restart"
half_frame
t_is "$(mid)" 1 "log.level=debug took effect: the half frame is logged"
out=$("${A[@]}" get-config meta)
echo "$out" | grep -qx "log.level=debug"
t_ok $? "get-config meta reports log.level=debug"
echo "$out" | grep -q "configuration version 1"
t_ok $? "get-config meta reports version 1"
out=$("${A[@]}" --json get-config 50 | jq -c '[.type, .node, .version, .settings]')
t_is "$out" '["meta",50,1,"log.level=debug\n"]' "get-config NODE: the node's type's settings"

# --- refusals: nothing changes ---------------------------------------------------------------
refused() { # expected-message args...
	local want=$1 err rc
	shift
	err=$("${A[@]}" set-config "$@" 2>&1 >/dev/null); rc=$?
	t_is "$rc" 3 "set-config $* refused (exit 3)"
	echo "$err" | grep -q "$want"
	t_ok $? "  with the reason: $err"
}
refused "meta.chunk_size: not reloadable" meta meta.chunk_size=2M
refused "log.bogus: unknown key" meta log.bogus=1
refused "log.level: \"verbose\" is not a log level" meta log.level=verbose
refused "meta.stripe: not reloadable" meta log.level=warn meta.stripe=7
refused "meta.gc_batch: \"lots\" is not a decimal integer" meta log.level=warn meta.gc_batch=lots
refused "no storage daemon has sent its configuration keys" storage log.level=debug
"${A[@]}" set-config 77 log.level=debug >/dev/null 2>&1
t_is "$?" 1 "set-config for an unknown node fails"
"${A[@]}" set-config meta log.level >/dev/null 2>&1
t_is "$?" 2 "set-config without '=' is a usage error"
timeout 20 "$BIN/c3fs-admin" --mgmtd "$M" --token ctok set-config meta log.level=warn \
	>/dev/null 2>&1
t_is "$?" 3 "set-config without the admin token refused"
t_is "$("${A[@]}" --json get-config meta | jq -c '[.version, .settings]')" \
	'[1,"log.level=debug\n"]' "after the refusals: still version 1, log.level=debug"

# --- per-node override, removal ---------------------------------------------------------------
"${A[@]}" set-config 50 log.level=info >/dev/null
t_is "$?" 0 "set-config 50 log.level=info"
t_wait_for 10 '[ "$(applied 2 meta)" -ge 1 ]'
t_ok $? "meta applied version 2"
half_frame
t_is "$(mid)" 1 "node override log.level=info took effect: no new debug line"
t_is "$("${A[@]}" --json get-config 50 | jq -r .settings)" "log.level=info" \
	"get-config 50: the node's setting wins"
t_is "$("${A[@]}" --json get-config meta | jq -r .settings)" "log.level=debug" \
	"get-config meta: the type's setting is unchanged"
"${A[@]}" set-config 50 log.level= >/dev/null
t_is "$?" 0 "set-config 50 log.level= removes the node's setting"
t_wait_for 10 '[ "$(applied 3 meta)" -ge 1 ]'
t_ok $? "meta applied version 3"
half_frame
t_is "$(mid)" 2 "back to the type's log.level=debug"

# --- more than one key at once ----------------------------------------------------------------
"${A[@]}" set-config meta meta.gc_interval=3s meta.gc_batch=64 >/dev/null
t_is "$?" 0 "set-config meta meta.gc_interval=3s meta.gc_batch=64"
t_wait_for 10 '[ "$(applied 4 meta)" -ge 1 ]'
t_ok $? "meta applied version 4"
grep -q "version 4 applied (3 settings: log.level=debug meta.gc_batch=64 meta.gc_interval=3s)" \
	"$T/meta.log"
t_ok $? "  with all three settings"

# --- a daemon started later gets the settings at registration --------------------------------
MP2=$(t_free_port)
t_daemon meta2 "$BIN/c3fs-meta" --set server.listen="127.0.0.1:$MP2" --set server.token=ctok \
	--set server.node_id=51 --set mgmtd.addrs="$M" --set mgmtd.heartbeat=200ms \
	--set kv.uri="lmdb:$T/meta-kv2"
t_wait_for 20 '[ "$(applied 4 meta2)" -ge 1 ]'
t_ok $? "a meta started later applied version 4 at registration"
grep -q "applied (3 settings: log.level=debug meta.gc_batch=64 meta.gc_interval=3s)" \
	"$T/meta2.log"
t_ok $? "  with the type's settings"

t_done
