#!/usr/bin/env bash
# tools/gen-config-docs.sh [BIN_DIR] — regenerates docs/CONFIG.md and etc/<service>.ini.sample
# from the key tables compiled into each program (--print-config-doc).  With --check, only
# compares and exits 1 when a committed file is stale.
set -eu
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = --check ] && { check=1; shift; }
BIN=${1:-build/bin}
SERVICES="mgmtd meta storage fuse"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
	echo "# c3fs configuration"
	echo
	echo "Every key of every service, generated from the key tables in the code by"
	echo "\`tools/gen-config-docs.sh\` (do not edit by hand).  Each program reads an INI file"
	echo "given with \`--config FILE\`; \`--set section.key=value\` overrides any key; \`--help\`"
	echo "lists them.  Sizes accept K/M/G/T suffixes, durations ms/s/m/h.  Samples with every"
	echo "default are in \`etc/<service>.ini.sample\`."
	for s in $SERVICES; do
		echo
		"$BIN/c3fs-$s" --print-config-doc=markdown
	done
} >"$tmp/CONFIG.md"
mkdir -p "$tmp/etc"
for s in $SERVICES; do
	"$BIN/c3fs-$s" --print-config-doc=sample >"$tmp/etc/$s.ini.sample"
done
if [ $check = 1 ]; then
	rc=0
	cmp -s "$tmp/CONFIG.md" docs/CONFIG.md || { echo "docs/CONFIG.md is stale: run tools/gen-config-docs.sh"; rc=1; }
	for s in $SERVICES; do
		cmp -s "$tmp/etc/$s.ini.sample" "etc/$s.ini.sample" || { echo "etc/$s.ini.sample is stale: run tools/gen-config-docs.sh"; rc=1; }
	done
	exit $rc
fi
cp "$tmp/CONFIG.md" docs/CONFIG.md
mkdir -p etc
cp "$tmp"/etc/*.ini.sample etc/
echo "wrote docs/CONFIG.md and etc/*.ini.sample"
