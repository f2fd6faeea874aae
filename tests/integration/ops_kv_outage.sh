#!/usr/bin/env bash
# timeout: 200
# PostgreSQL (the KV of mgmtd and meta) stopped for 12 s and started again under a read
# loop, on the multi-host deployment of docs/OPERATIONS.md (tests/integration/ops_lib.sh):
#   - reads of an open file (attributes cached) keep working throughout (lease.kv_outage_grace, 30 s: the last
#     mgmtd leader keeps acknowledging storage heartbeats; without it storage stops half a
#     node lease, ~7 s, into the outage), no storage node logs "stops serving";
#   - a create during the outage fails by its deadline (cluster.meta_wait 6 s, one try at
#     most cluster.rpc_timeout 3 s), it is not stuck;
#   - after PostgreSQL is back, creates work again and mgmtd leads again;
#   - logs: the outage is logged once per daemon, not per second.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/ops_lib.sh"
t_init
ops_need
command -v python3 >/dev/null || t_skip_all "python3 missing"
trap ops_finish EXIT
ns_setup 7 || t_skip_all "cannot create network namespaces"

ops_pg || t_skip_all "PostgreSQL did not start in a namespace"
ops_mgmtd a 2 && ops_mgmtd b 3; t_ok $? "two mgmtd on PostgreSQL"
up=0
for n in 21 22 23; do ops_storage "$n" $((n - 17)) && up=$((up + 1)); done
t_is "$up" 3 "three storage nodes"
ops_table; t_ok $? "chain table"
ops_meta 11 2
ns_port_up 2 9001; t_ok $? "meta 11 listens"
# attr_timeout: the kernel revalidates a file's attributes (a meta call) on a read once
# they are older than this; the loop checks the storage path (OPERATIONS, "When PostgreSQL
# is down")
ops_mount 7 cluster.rpc_timeout=3s cluster.meta_wait=6s cluster.write_wait=20s \
	fuse.attr_timeout=60s
t_ok $? "mounted on h7"
head -c $((4 << 20)) /dev/urandom >"$T/A"
cp "$T/A" "$OPS_MNT/A" && sync && cmp -s "$T/A" "$OPS_MNT/A"; t_ok $? "file written"

# read loop: one open file, whole-file reads with the page cache dropped before each
python3 - "$OPS_MNT/A" "$T/A" "$T/reads" <<'PY' &
import os, sys, time
path, ref, out = sys.argv[1:4]
want = open(ref, 'rb').read()
fd = os.open(path, os.O_RDONLY)
end = time.time() + 30
with open(out, 'w', buffering=1) as log:
    while time.time() < end:
        with open('/proc/sys/vm/drop_caches', 'w') as f:
            f.write('3')
        t0 = time.time()
        try:
            got = os.pread(fd, len(want) + 1, 0)
            st = 'ok' if got == want else 'bad'
        except OSError as e:
            st = 'err%d' % e.errno
        log.write('%.3f %.3f %s\n' % (t0, time.time() - t0, st))
        time.sleep(0.2)
PY
rl=$!
# the reader opens the file (a meta call) before it creates its log: on a loaded machine
# python may take seconds to start, and the outage must begin after that open
t_wait_for 60 test -e "$T/reads"
sleep 3
ns_pg_stop; t_ok $? "PostgreSQL stopped"
s0=$(date +%s%N)
echo x >"$OPS_MNT/during" 2>/dev/null; crc=$?
ms=$(( ($(date +%s%N) - s0) / 1000000 ))
t_ok $([ $crc != 0 ] && [ "$ms" -lt 12000 ] && echo 0 || echo 1) \
	"a create during the outage fails by its deadline (${ms} ms; meta_wait 6 s + one 3 s try)"
sleep $((12 - ms / 1000))
ns_pg_run 1 "$T/pg"; t_ok $? "PostgreSQL started again after 12 s"
wait "$rl"
n=$(wc -l <"$T/reads")
bad=$(grep -vc ' ok$' "$T/reads")
slow=$(awk '$2 > 2.0' "$T/reads" | wc -l)
t_ok $([ "$n" -gt 40 ] && [ "$bad" = 0 ] && echo 0 || echo 1) "$n reads of the open file, $bad failed"
t_is "$slow" 0 "no read took more than 2 s"
n=$(grep -c "stops serving" "$T"/storage2[123].log | awk -F: '{s += $2} END {print s + 0}')
t_is "$n" 0 "no storage node stopped serving during the outage"
grep -q "frozen" "$T/mgmtd-a.log"; t_ok $? "the leader logged its frozen routing"

ok=1
for i in $(seq 100); do echo y >"$OPS_MNT/after" 2>/dev/null && { ok=0; break; }; sleep 0.2; done
t_ok $ok "creates work again after PostgreSQL is back"
ops_admin leader >/dev/null; t_ok $? "a mgmtd leads again"

for f in mgmtd-a mgmtd-b storage21 storage22 storage23 meta11 fuse; do
	n=$(grep -ciE "failed|unreachable|cannot" "$T/$f.log")
	[ "$n" -le 8 ] || { t_ok 1 "$f logged $n failure lines for one outage"; grep -iE "failed|unreachable|cannot" "$T/$f.log" | head -20 | sed 's/^/#   /'; continue; }
	t_ok 0 "$f logged the outage in $n lines"
done
grep -q "pw-m" "$T"/*.log; t_ok $((! $?)) "no log holds a PostgreSQL password"
t_done
