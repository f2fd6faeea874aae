#!/usr/bin/env bash
# tools/install-deps.sh — installs the Debian 12 packages c3fs needs to build, run and test.
# Idempotent: runs apt-get only when something is missing.  Needs root (or sudo).
set -euo pipefail
PKGS=(
	build-essential pkg-config clang           # compilers; clang for libFuzzer
	liburing-dev libfuse3-dev fuse3            # io_uring, FUSE low-level API
	libisal-dev liblmdb-dev libpq-dev libinih-dev  # CRC32C, embedded KV, PostgreSQL client, INI
	zlib1g-dev                                 # CRC-32 of FFRecord files (src/ffrecord)
	libssl-dev                                 # SHA-256 of user tokens (libcrypto, src/cluster/users.c)
	postgresql                                 # shared-KV backend (tests start their own server)
	fio sqlite3 attr git iproute2 procps psmisc util-linux  # tests and benchmarks
	spin                                       # tests/model: the Promela model of the chain protocol
	chromium                                   # web_status.sh: the status page in a headless browser
)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# allow_other needs user_allow_other for non-root mounters; harmless for root.
if [ -w /etc/fuse.conf ] && ! grep -q '^user_allow_other' /etc/fuse.conf; then
	echo user_allow_other >>/etc/fuse.conf
fi
echo "install-deps: ok"
