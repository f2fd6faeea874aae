#!/usr/bin/env bash
# bench/metrics.sh — metric update/render/scrape cost and config load time (markdown).
set -eu
BIN=${C3FS_BIN_DIR:-build/bin}
[ -x "$BIN/c3fs-bench-metrics" ] || { echo "(c3fs-bench-metrics not built: make $BIN/c3fs-bench-metrics)"; exit 0; }
"$BIN/c3fs-bench-metrics"
