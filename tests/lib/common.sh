# tests/lib/common.sh — shared helpers for integration scripts (source it).
#
#   . "$C3FS_ROOT/tests/lib/common.sh"
#   t_init                      # temp dir in $T, cleanup trap, TAP counters
#   port=$(t_free_port)         # a free TCP port on 127.0.0.1
#   t_daemon NAME CMD...        # start CMD in background, log to $T/NAME.log, pid kept
#   t_wait_port PORT [SECS]     # until something listens on 127.0.0.1:PORT
#   t_wait_for SECS 'COND'      # until shell code COND (eval'd, output discarded) succeeds
#   t_kill NAME [SIG]           # signal a daemon started with t_daemon (default TERM, waits)
#   t_ok COND_EXIT_CODE "name"  # TAP line; t_is GOT WANT "name"
#   t_run_tap "name" [VAR=v...] CMD...  # run a TAP program, fold its result into one line
#   t_done                      # plan line, sanitizer scan of daemon logs, exit code
# Binaries: $BIN (asan test build when run from tests/run, else build/bin).
# Everything started is stopped by PID at exit; nothing but 127.0.0.0/8 is contacted.

C3FS_ROOT=${C3FS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${C3FS_BIN_DIR:-$C3FS_ROOT/build/asan/bin}
[ -x "$BIN/c3fs-storage" ] || [ ! -d "$C3FS_ROOT/build/bin" ] || [ -d "$BIN" ] || BIN=$C3FS_ROOT/build/bin
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:exitcode=23}"
T_N=0
T_FAILED=0
declare -A T_PIDS=()

t_init() {
	T=$(mktemp -d /tmp/c3fs-it.XXXXXX)
	trap 't_cleanup' EXIT
}

t_cleanup() {
	local n
	for n in "${!T_PIDS[@]}"; do
		kill -KILL "${T_PIDS[$n]}" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "${T_KEEP:-0}" = 1 ] || [ "$T_FAILED" -gt 0 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}

t_free_port() {
	local p
	while :; do
		p=$(( 20000 + RANDOM % 40000 ))
		if ! ss -Htan "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return
		fi
	done
}

t_daemon() {
	local name=$1; shift
	"$@" >>"$T/$name.log" 2>&1 &
	T_PIDS[$name]=$!
}

t_pid() { echo "${T_PIDS[$1]}"; }

t_wait_port() {
	local port=$1 secs=${2:-20} i
	for ((i = 0; i < secs * 10; i++)); do
		ss -Htln "sport = :$port" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	echo "# nothing listens on port $port after ${secs}s"
	return 1
}

# Polls every 0.1 s; returns 1 if COND never held within SECS seconds.  COND is evaluated
# by eval in the caller's context, so quote it: t_wait_for 20 '[ "$(leader)" = "$L" ]'.
t_wait_for() {
	local secs=$1 i; shift
	for ((i = 0; i < secs * 10; i++)); do
		eval "$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

t_kill() {
	local name=$1 sig=${2:-TERM} pid=${T_PIDS[$1]:-} i
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "T_PIDS[$name]"
	return 0
}

t_ok() {
	T_N=$((T_N + 1))
	if [ "$1" = 0 ]; then
		echo "ok $T_N - $2"
	else
		echo "not ok $T_N - $2"
		T_FAILED=$((T_FAILED + 1))
	fi
}

t_is() {
	if [ "$1" = "$2" ]; then t_ok 0 "$3"; else t_ok 1 "$3"; echo "#   got '$1', expected '$2'"; fi
}

# Runs CMD (through env(1), so VAR=value words may come first) with its output in
# $T/<name>.out; its failures and diagnostics are echoed as comments, and one TAP line
# says whether it exited 0 without a "not ok".
t_run_tap() {
	local name=$1 rc out; shift
	out=$T/$(printf '%s' "$name" | tr -c 'a-zA-Z0-9' _).out
	env "$@" >"$out" 2>&1
	rc=$?
	grep -E '^(not ok|#)' "$out" | head -40 | sed 's/^/#   /'
	if [ $rc = 0 ] && grep -q '^not ok' "$out"; then rc=1; fi
	t_ok $rc "$name ($(grep -c '^ok' "$out") checks passed)"
}

t_skip_all() { echo "1..0 # SKIP $*"; exit 77; }

# Fails the test when any daemon log shows a sanitizer report or an assertion.
t_scan_logs() {
	local f
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|assertion failed' "$f"; then
			t_ok 1 "no sanitizer/assert report in $(basename "$f")"
			grep -m5 -A20 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|assertion failed' "$f" | sed 's/^/#   /'
		fi
	done
}

t_done() {
	t_scan_logs
	echo "1..$T_N"
	[ "$T_N" -gt 0 ] && [ "$T_FAILED" -eq 0 ]
	exit $?
}
