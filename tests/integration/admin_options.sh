#!/usr/bin/env bash
# timeout: 120
# admin_options.sh — c3fs-admin's command line against a live mgmtd and stand-in storage
# nodes: options before or after the command (and --opt=value), --json after the command
# gives JSON, unknown options / stray arguments / missing values refused with exit 2 and
# a usage line, tokens from --token-file / --admin-token-file and from $C3FS_TOKEN /
# $C3FS_ADMIN_TOKEN work, wrong ones are refused, the command line beats the environment.
. "$(dirname "$0")/../lib/common.sh"
t_init
command -v jq >/dev/null || t_skip_all "jq not installed"
[ -x "$BIN/c3fs-mgmtd" ] && [ -x "$BIN/c3fs-node-sim" ] && [ -x "$BIN/c3fs-admin" ] ||
	t_skip_all "c3fs-mgmtd/c3fs-node-sim/c3fs-admin not built in $BIN"

PORT=$(t_free_port)
M=127.0.0.1:$PORT
ADM="$BIN/c3fs-admin"
t_daemon mgmtd "$BIN/c3fs-mgmtd" --set server.listen="$M" --set kv.data_dir="$T/mgmtd" \
	--set server.token=ctok --set server.admin_token=s3cret
t_wait_port "$PORT" 20
t_ok $? "mgmtd listens"
for n in 1 2 3; do
	t_daemon "node$n" "$BIN/c3fs-node-sim" --mgmtd "$M" --token ctok --type storage \
		--node-id $n --addr "127.0.0.1:$((32100 + n))" --targets "${n}01" \
		--heartbeat-ms 300 --default-state uptodate
done
# no admin.ini may be found by accident
mkdir -p "$T/home" "$T/cwd"
cd "$T/cwd" || exit 1
export C3FS_HOME="$T/home"
unset C3FS_TOKEN C3FS_ADMIN_TOKEN
adm() { timeout 20 "$ADM" "$@"; }
for ((i = 0; i < 200; i++)); do
	[ "$(adm --mgmtd "$M" --token ctok --json list-targets 2>/dev/null |
		jq '.targets | length' 2>/dev/null)" = 3 ] && break
	sleep 0.1
done
t_is "$(adm --mgmtd "$M" --token ctok --json list-targets | jq '.targets | length')" 3 \
	"three targets registered"

# --- options in any position --------------------------------------------------------------
before=$(adm --mgmtd "$M" --token ctok --json list-nodes | jq -c '[.nodes[].id] | sort')
after=$(adm list-nodes --json --mgmtd "$M" --token ctok | jq -c '[.nodes[].id] | sort')
t_ok "$([ -n "$before" ] && [ "$before" = "$after" ] && echo 0 || echo 1)" \
	"--json after the command gives the same JSON as before it ($after)"
mixed=$(adm --mgmtd "$M" list-nodes --token ctok --json | jq -c '[.nodes[].id] | sort')
t_is "$mixed" "$before" "options split around the command"
eqform=$(adm --mgmtd="$M" --token=ctok list-nodes --json | jq -c '[.nodes[].id] | sort')
t_is "$eqform" "$before" "--option=value form"
adm --mgmtd "$M" --token ctok leader --json | jq -e '.leader' >/dev/null
t_ok $? "leader --json is JSON"
adm --mgmtd "$M" --token ctok list-nodes | jq . >/dev/null 2>&1
t_ok "$([ $? -ne 0 ] && echo 0 || echo 1)" "without --json: a table, not JSON"

# --- refusals -----------------------------------------------------------------------------
refused() { # NAME ARGS...: exit 2 and a usage line on stderr, nothing on stdout
	local name=$1 out err rc
	shift
	out=$(adm "$@" 2>"$T/err"); rc=$?
	err=$(cat "$T/err")
	t_is "$rc" 2 "$name: exit 2"
	echo "$err" | grep -q '^usage: c3fs-admin'
	t_ok $? "$name: usage line ($(echo "$err" | head -1))"
	t_is "$out" "" "$name: nothing on stdout"
}
refused "unknown option after the command" --mgmtd "$M" --token ctok list-nodes --bogus
refused "unknown option before the command" --bogus --mgmtd "$M" --token ctok list-nodes
refused "unknown option --jsn" --mgmtd "$M" --token ctok --jsn status
refused "stray argument" --mgmtd "$M" --token ctok status extra
refused "option without its value" --mgmtd "$M" list-nodes --token
refused "value given to a flag" --mgmtd "$M" --token ctok --json=yes status
refused "unknown command" --mgmtd "$M" --token ctok lst-nodes
adm --mgmtd "$M" --token ctok list-nodes --bogus 2>&1 | grep -q "unknown option '--bogus'"
t_ok $? "the unknown option is named"

# --- tokens from files and the environment ------------------------------------------------
printf 'ctok\n' >"$T/token"
printf 'wrong\n' >"$T/token.bad"
printf 's3cret\n' >"$T/admin_token"
printf 'nope\n' >"$T/admin_token.bad"
chmod 600 "$T"/token* "$T"/admin_token*
adm --mgmtd "$M" --token-file "$T/token" --json list-nodes | jq -e '.nodes | length > 0' >/dev/null
t_ok $? "--token-file: cluster token read from a file"
adm list-nodes --token-file "$T/token.bad" --mgmtd "$M" >/dev/null 2>&1
t_is "$?" 1 "wrong token in the file: refused by mgmtd"
adm --mgmtd "$M" --token-file "$T/missing" list-nodes >/dev/null 2>"$T/err"
t_is "$?" 2 "missing token file: exit 2"
grep -q "$T/missing" "$T/err"
t_ok $? "missing token file named: $(cat "$T/err")"
C3FS_TOKEN=ctok adm --mgmtd "$M" --json list-nodes | jq -e '.nodes | length > 0' >/dev/null
t_ok $? "C3FS_TOKEN: cluster token from the environment"
C3FS_TOKEN=wrong adm --mgmtd "$M" list-nodes >/dev/null 2>&1
t_is "$?" 1 "wrong C3FS_TOKEN refused"
C3FS_TOKEN=wrong adm --mgmtd "$M" --token-file "$T/token" list-nodes >/dev/null 2>&1
t_is "$?" 0 "--token-file beats C3FS_TOKEN"

A=(--mgmtd "$M" --token-file "$T/token")
adm "${A[@]}" offline-node 1 --admin-token-file "$T/admin_token.bad" >/dev/null 2>&1
t_is "$?" 3 "wrong admin token from a file: refused (exit 3)"
C3FS_ADMIN_TOKEN=nope adm "${A[@]}" offline-node 1 >/dev/null 2>&1
t_is "$?" 3 "wrong C3FS_ADMIN_TOKEN: refused (exit 3)"
t_is "$(adm "${A[@]}" --json list-nodes | jq -r '.nodes[] | select(.id == 1) | .state')" up \
	"nothing changed by the refused calls"
adm "${A[@]}" offline-node 1 --admin-token-file "$T/admin_token" --json |
	jq -e '.state == "maintenance"' >/dev/null
t_ok $? "--admin-token-file after the command: offline-node done"
C3FS_ADMIN_TOKEN=s3cret adm "${A[@]}" online-node 1 >/dev/null
t_ok $? "C3FS_ADMIN_TOKEN: online-node done"
t_is "$(adm "${A[@]}" --json list-nodes | jq -r '.nodes[] | select(.id == 1) | .state')" up \
	"node 1 is up again"
out=$(C3FS_ADMIN_TOKEN=s3cret adm "${A[@]}" create-chain-table --json --replicas=3 --name t1)
echo "$out" | jq -e '.chains_added == 1' >/dev/null
t_ok $? "create-chain-table with options around its own: $out"
refused "create-chain-table: unknown option" "${A[@]}" create-chain-table --replicas 3 --bogus 1

t_done
