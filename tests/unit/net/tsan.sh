#!/usr/bin/env bash
# tests/unit/net/tsan.sh — opt-in ThreadSanitizer run of the threaded net tests.
# Builds them in the tsan variant (make BUILD=tsan; binaries under
# ${C3FS_BUILD_DIR:-build}/tsan/tests/unit/net/) and runs each one.  Exit 1 on any report.
#   tests/unit/net/tsan.sh [ROUNDS]     (default 2 rounds of every test)
set -u
cd "$(dirname "$0")/../../.."
ROUNDS=${1:-2}
O=${C3FS_BUILD_DIR:-build}
TB=$O/tsan/tests/unit/net
D=$(mktemp -d /tmp/c3fs-tsan-net.XXXXXX)
trap 'rm -rf "$D"' EXIT
fail=0
for t in test_rpc test_client_faults test_hostile test_stress; do
	make --no-print-directory -s O="$O" BUILD=tsan "$TB/$t" || { fail=1; continue; }
	for ((r = 1; r <= ROUNDS; r++)); do
		TSAN_OPTIONS="halt_on_error=0 exitcode=66" timeout 300 "$TB/$t" >"$D/$t.$r.out" 2>&1
		rc=$?
		n=$(grep -c 'WARNING: ThreadSanitizer' "$D/$t.$r.out")
		if [ "$rc" != 0 ] || [ "$n" != 0 ]; then
			fail=1
			echo "FAIL  $t round $r: exit $rc, $n reports"
			grep -m2 -A12 'WARNING: ThreadSanitizer' "$D/$t.$r.out" | sed 's/^/      | /'
		else
			echo "PASS  $t round $r"
		fi
	done
done
exit $fail
