#!/usr/bin/env bash
# docs/CONFIG.md and etc/*.ini.sample are generated from the services' key tables: fail when
# a key was added or changed without regenerating them (tools/gen-config-docs.sh).
. "$(dirname "$0")/../lib/common.sh"
for b in c3fs-mgmtd c3fs-meta c3fs-storage c3fs-fuse; do
	[ -x "$BIN/$b" ] || t_skip_all "$b not built"
done
out=$("$C3FS_ROOT/tools/gen-config-docs.sh" --check "$BIN" 2>&1)
t_ok $? "docs/CONFIG.md and etc/*.ini.sample match the key tables"
[ -n "$out" ] && echo "$out" | sed 's/^/# /'
t_done
