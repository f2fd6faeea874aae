#!/usr/bin/env bash
# timeout: 400
# usrbio: the USRBIO library (libc3fs-usrbio) against a mounted cluster, through
# c3fs-usrbio-check: every call with good and bad arguments; reads of files written
# through FUSE and writes read back through FUSE, byte-compared, for several block sizes
# and io_depth modes; io_depth > 0 rings under load (12 in parallel); one process creates an iov and another opens it by id; hostile
# registrations, rings and entries; a process dying with I/O in flight; a file removed
# with reads queued; iovs and rings shrunk under the daemon; a storage node killed during
# batches (every completion arrives).
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
CHK=$BIN/c3fs-usrbio-check
[ -x "$CHK" ] || t_skip_all "c3fs-usrbio-check not built in $BIN"
[ -d /dev/shm ] && [ -w /dev/shm ] || t_skip_all "no writable /dev/shm"
t_init
c_start 3 2 3 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt
c_mount "$M" || { t_ok 1 "mount"; t_done; }

# run the checker, fold its TAP lines into ours
chk() {
	local out rc line
	out=$("$CHK" "$@" 2>"$T/chk.err")
	rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok "*) t_ok 0 "${line#ok * - }" ;;
		"not ok "*) t_ok 1 "${line#not ok * - }" ;;
		esac
	done <<<"$out"
	[ $rc = 0 ] || { t_ok 1 "c3fs-usrbio-check $1 exits 0 (got $rc)"; sed 's/^/#   /' "$T/chk.err" | head -20; }
}

ls /dev/shm | grep '^c3fs-io[vr]-' | sort >"$T/shm0"
ls "$M/3fs-virt/iovs" | sort >"$T/iovs0"
t_is "$(cat "$T/iovs0" | tr '\n' ' ')" "submit-ios submit-ios.ph submit-ios.pl " \
	"3fs-virt/iovs lists the three submit semaphores"
t=$(readlink "$M/3fs-virt/iovs/submit-ios")
[ -e "$t" ]
t_ok $? "submit-ios points at an existing semaphore ($t)"

# a sparse file: data at 0 and at 2 MiB, holes around, 3 MiB long
head -c 65536 /dev/urandom > "$T/h0"
dd if="$T/h0" of="$M/holey" bs=64K count=1 conv=notrunc status=none
dd if="$T/h0" of="$M/holey" bs=64K seek=32 count=1 conv=notrunc status=none
truncate -s 3M "$M/holey"
chk holes "$M" "$M/holey"

head -c $((5 * 1048576 + 12345)) /dev/urandom >"$T/ref"
cp "$T/ref" "$M/big"
head -c 1000 /dev/urandom >"$T/small"
cp "$T/small" "$M/small"
cmp -s "$T/ref" "$M/big"
t_ok $? "reference files written through FUSE"

chk calls "$M" "$M/big"
chk read "$M" "$M/big" "$T/ref" 1048576 0
chk read "$M" "$M/big" "$T/ref" 65536 4
chk read "$M" "$M/big" "$T/ref" 200000 -8
chk read "$M" "$M/small" "$T/small" 4096 0

head -c $((3 * 1048576 + 777)) /dev/urandom >"$T/src"
chk write "$M" "$M/written" "$T/src" 1048576 0
cmp -s "$T/src" "$M/written"
t_ok $? "USRBIO writes (1 MiB blocks) read back through FUSE are identical"
chk write "$M" "$M/written2" "$T/src" 65536 -4
cmp -s "$T/src" "$M/written2"
t_ok $? "USRBIO writes (64 KiB, io_depth -4) read back through FUSE are identical"
sync
c_mount "$T/mnt2" || t_ok 1 "second mount"
cmp -s "$T/src" "$T/mnt2/written"
t_ok $? "and through a second mount (length reported)"

# io_depth > 0 under load (whole batches only; a short batch once hung a ring for good):
# 4 rings with io_depth 1/2/4/8, full-ring rounds and sliding windows, then 3 such groups
# at once (12 rings); every completion within 10 s, bytes checked
chk stress "$M" "$M/big" "$T/ref" 5
for g in 1 2 3; do
	"$CHK" stress "$M" "$M/big" "$T/ref" 5 >"$T/stress$g.out" 2>"$T/stress$g.err" &
	eval "sp$g=\$!"
done
for g in 1 2 3; do
	eval "wait \$sp$g"
	t_ok $? "stress group $g of 3 in parallel: c3fs-usrbio-check exits 0"
	grep '^not ok' "$T/stress$g.out" | sed 's/^/#   /'
	sed 's/^/#   /' "$T/stress$g.err"
done

chk multi "$M" "$M/big" "$T/ref"
chk badreg "$M"
chk garbage "$M" "$M/big" "$T/ref"
chk die "$M" "$M/big"
cp "$T/ref" "$M/doomed"
chk removed "$M" "$M/doomed"

# shm objects shrunk (ftruncate) under the daemon: it survives (SIGBUS caught), the
# owner gets -EFAULT, other rings and mounts keep working
fpid=$(t_pid fuse-mnt)
chk shrink "$M" "$M/big" "$T/ref"
kill -0 "$fpid"
t_ok $? "c3fs-fuse is alive after the shrunk iovs and rings"
grep -q "iov .*shm object shrunk" "$T/fuse-mnt.log"
t_ok $? "the daemon logged the shrunk iovs"
grep -q "ring .*shm object shrunk under the daemon (SIGBUS caught)" "$T/fuse-mnt.log"
t_ok $? "the daemon caught SIGBUS on the shrunk rings and stopped serving them"
chk read "$M" "$M/big" "$T/ref" 1048576 0

# uid 1000 can use USRBIO on its own files, not on root's 0600 ones
if command -v setpriv >/dev/null; then
	chmod 755 "$T"
	mkdir -p "$M/u1000" && chown 1000:1000 "$M/u1000"
	setpriv --reuid=1000 --regid=1000 --clear-groups sh -c "head -c 300000 /dev/urandom >'$M/u1000/f'"
	setpriv --reuid=1000 --regid=1000 --clear-groups \
		"$CHK" read "$M" "$M/u1000/f" "$M/u1000/f" 4096 0 >"$T/u1000.out" 2>&1
	t_ok $? "uid 1000 reads its own file through USRBIO (same bytes as through FUSE)"
	sed 's/^/#   /' "$T/u1000.out"
	cp "$T/small" "$M/rootonly" && chmod 600 "$M/rootonly"
	setpriv --reuid=1000 --regid=1000 --clear-groups \
		"$CHK" read "$M" "$M/rootonly" "$M/u1000/f" 4096 0 >"$T/u1000b.out" 2>&1
	t_is $? 2 "uid 1000 cannot open root's 0600 file, so cannot register it"
fi

# a storage node killed while batches run: every completion arrives
"$CHK" loop "$M" "$M/big" 8 >"$T/loop.out" 2>&1 &
lp=$!
sleep 2
c_kill_storage 2
wait $lp
rc=$?
sed 's/^/#   /' "$T/loop.out"
t_ok $rc "storage node killed during batches: no completion lost"
chk read "$M" "$M/big" "$T/ref" 1048576 0

# the benchmark program, tiny (a smoke run, not a measurement)
"$BIN/c3fs-bench-usrbio" --file "$M/big" --mode rand-read --bs 65536 --batch 8 --threads 2 \
	--seconds 1 --json >"$T/bench.out" 2>&1
t_ok $? "c3fs-bench-usrbio rand-read runs: $(cat "$T/bench.out")"
"$BIN/c3fs-bench-usrbio" --file "$M/benchw" --mode seq-write --bs 1048576 --size 4194304 \
	--batch 4 --seconds 1 >"$T/benchw.out" 2>&1
t_ok $? "c3fs-bench-usrbio seq-write runs: $(cat "$T/benchw.out")"

# the Python module over the release build's shared library (ASan's cannot load in python)
so=$C3FS_ROOT/build/release/lib/libc3fs-usrbio.so
if [ -f "$so" ] && command -v python3 >/dev/null; then
	mkdir -p "$M/samples"
	for i in 1 2 3 4; do head -c $((100000 * i)) /dev/urandom >"$M/samples/s$i"; done
	C3FS_USRBIO_LIB=$so python3 "$C3FS_ROOT/examples/usrbio_loader.py" "$M/samples" \
		--batch 16 --sample-bytes 30000 --batches 3 --check >"$T/py.out" 2>&1
	t_ok $? "python c3fs_usrbio: examples/usrbio_loader.py reads 3 batches, bytes checked"
	sed 's/^/#   /' "$T/py.out" | tail -2
else
	echo "# skipped the Python case: no $so (make BUILD=release programs)"
fi

chk read "$T/mnt2" "$T/mnt2/big" "$T/ref" 65536 0 # the other mount, after all that

left=$(ls "$M/3fs-virt/iovs" | sort | tr '\n' ' ')
t_is "$left" "submit-ios submit-ios.ph submit-ios.pl " "every registration is gone at the end"
ls /dev/shm | grep '^c3fs-io[vr]-' | sort >"$T/shm1"
t_is "$(comm -13 "$T/shm0" "$T/shm1" | tr '\n' ' ')" "" "no shm objects left in /dev/shm"
fpid=$(t_pid fuse-mnt)
grep -q "usrbio: serving rings" "$T/fuse-mnt.log"
t_ok $? "the daemon served rings"
c_umount "$T/mnt2"
c_umount "$M"
t_is "$(ls /dev/shm | grep -c "^sem.c3fs-$fpid-")" 0 "the submit semaphores are removed at unmount"
t_done
