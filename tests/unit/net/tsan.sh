#!/usr/bin/env bash
# tests/unit/net/tsan.sh — opt-in ThreadSanitizer run of the threaded net tests.
# mk/flags.mk has no tsan variant yet, so this builds the tests directly with
# -fsanitize=thread into a temporary directory and runs each one.  Exit 1 on any report.
#   tests/unit/net/tsan.sh [ROUNDS]     (default 2 rounds of every test)
set -u
cd "$(dirname "$0")/../../.."
ROUNDS=${1:-2}
D=$(mktemp -d /tmp/c3fs-tsan-net.XXXXXX)
trap 'rm -rf "$D"' EXIT
CSRC="src/net/frame.c src/net/tcp.c src/net/io.c src/net/bufpool.c src/net/server.c
      src/net/client.c src/common/buf.c src/common/clock.c src/common/crc32c.c
      src/common/errors.c src/common/log.c src/common/metrics.c"
fail=0
for t in test_rpc test_client_faults test_hostile test_stress; do
	# shellcheck disable=SC2086
	gcc -std=gnu11 -D_GNU_SOURCE -O1 -g -fsanitize=thread -pthread -I. -Iinclude -Isrc \
		-o "$D/$t" "tests/unit/net/$t.c" $CSRC -lisal -lm || { fail=1; continue; }
	for ((r = 1; r <= ROUNDS; r++)); do
		TSAN_OPTIONS="halt_on_error=0 exitcode=66" timeout 300 "$D/$t" >"$D/$t.$r.out" 2>&1
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
