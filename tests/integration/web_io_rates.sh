#!/usr/bin/env bash
# timeout: 180
# web_io_rates: the status page's per-target I/O rates come from the counters storage
# nodes report in their heartbeats: while a file is written through a mount, the targets
# of its chain show write bytes/s and updates/s on /api/targets and in the history; while
# it is read back (page cache dropped), read bytes/s and reads/s; when idle, zero again.
# Polls with generous deadlines (rates are averaged over a few status polls): no timing
# is asserted.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
command -v jq >/dev/null || t_skip_all "jq not installed"
command -v curl >/dev/null || t_skip_all "curl not installed"
WPORT=$(t_free_port)
C_MGMTD_ARGS=(--set "metrics.listen=127.0.0.1:$WPORT")
c_start 3 1 3 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt
c_mount "$M" || { t_ok 1 "mount"; t_done; }
api() { curl -sf --max-time 5 "http://127.0.0.1:$WPORT$1"; }
sum() { api /api/targets | jq "[.targets[].$1] | add"; }

# writer in the background until told to stop
( while [ ! -e "$T/stop" ]; do
	dd if=/dev/urandom of="$M/w" bs=1M count=16 conv=fsync status=none
done ) &
WPID=$!
t_wait_for 60 '[ "$(sum write_bps)" -gt 0 ] && [ "$(sum write_iops)" -gt 0 ]'
t_ok $? "while writing: targets show write bytes/s and updates/s ($(sum write_bps) B/s)"
t_wait_for 30 '[ "$(api /api/history | jq "[.samples[][2]] | max")" -gt 0 ]'
t_ok $? "the throughput history has the writes"
touch "$T/stop"
wait "$WPID"
t_wait_for 60 '[ "$(sum write_bps)" = 0 ]'
t_ok $? "idle: writes back to 0"

# reader: the file read again and again without the page cache
( while [ ! -e "$T/stop2" ]; do
	echo 3 > /proc/sys/vm/drop_caches
	cat "$M/w" > /dev/null
done ) &
RPID=$!
t_wait_for 60 '[ "$(sum read_bps)" -gt 0 ] && [ "$(sum read_iops)" -gt 0 ]'
t_ok $? "while reading: targets show read bytes/s and reads/s ($(sum read_bps) B/s)"
touch "$T/stop2"
wait "$RPID"
t_done
