#!/usr/bin/env bash
# timeout: 300
# A 1 GiB file through the mount on the release build (the sanitizer build is too slow for
# it): written through write-behind, checked after unmount + remount, then read back intact
# with one storage node killed (-9), and again after that node returned and was synced.
REL=${C3FS_RELEASE_BIN_DIR:-}
[ -n "$REL" ] && [ -x "$REL/c3fs-fuse" ] && export C3FS_BIN_DIR=$REL
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"
t_init
trap c_cleanup EXIT
c_need_bins
SIZE_MB=${C3FS_BIG_MB:-1024}
c_start 3 2 3 || { t_ok 1 "cluster started"; t_done; }
t_ok 0 "cluster started (binaries from $BIN)"
M=$T/mnt
c_mount "$M" || { t_ok 1 "mount"; t_done; }

# a reproducible pseudo-random source, cheaper than /dev/urandom for 1 GiB
src() { openssl enc -aes-128-ctr -pass pass:c3fs -nosalt -pbkdf2 </dev/zero 2>/dev/null | head -c $((SIZE_MB << 20)); }
command -v openssl >/dev/null || src() { head -c $((SIZE_MB << 20)) /dev/urandom; }
want=$(src | tee "$M/big" | sha256sum | cut -d' ' -f1)
sync "$M/big"; t_ok $? "wrote ${SIZE_MB} MiB and fsync'd"
t_is "$(stat -c %s "$M/big")" $((SIZE_MB << 20)) "size"

c_umount "$M"; t_ok $? "unmount"
c_mount "$M"; t_ok $? "remount"
t_is "$(sha256sum <"$M/big" | cut -d' ' -f1)" "$want" "checksum after remount"

c_kill_storage 2 KILL
echo 3 >/proc/sys/vm/drop_caches # read from the storage nodes, not the page cache
t_is "$(sha256sum <"$M/big" | cut -d' ' -f1)" "$want" "checksum with storage node 2 killed"

c_start_storage 2
# wait until no target is offline/waiting/syncing any more (recovery done)
t_wait_for 120 '"$BIN/c3fs-admin" --mgmtd "$C_MGMTD" --token "$C_TOKEN" list-targets |
	awk "NR > 1 && \$4 != \"serving\" { bad = 1 } END { exit bad }"'
t_ok $? "node 2's targets synced back to serving"
c_kill_storage 1 KILL
c_kill_storage 3 KILL
sleep 0.5
echo 3 >/proc/sys/vm/drop_caches
# with nodes 1 and 3 dead, chains still hold node 2's synced replica: reads must be served
# from it once mgmtd reconfigured the chains (or fail loudly, never return wrong bytes)
got=$(sha256sum <"$M/big" | cut -d' ' -f1)
t_is "$got" "$want" "checksum served by the synced replica alone"
c_umount "$M"
t_done
