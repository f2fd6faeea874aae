#!/usr/bin/env bash
# timeout: 300
# install.sh — `make install PREFIX=/usr DESTDIR=$T/root` stages a complete tree (programs,
# mount.c3fs pointing at the installed c3fs-fuse, libc3fs.a + c3fs.pc, the header,
# samples, systemd units with the installed paths), an application builds against it
# through pkg-config alone, and a cluster (mgmtd, three storage nodes, meta) started from
# the installed programs and sample configs serves that application (statfs, a file
# created and read back) and the status page.
# Installs what $BIN's build variant built (asan under tests/run): nothing is rebuilt
# unless sources changed.
. "$(dirname "$0")/../lib/common.sh"
t_init
command -v cc >/dev/null && command -v pkg-config >/dev/null || t_skip_all "cc or pkg-config missing"
command -v jq >/dev/null || t_skip_all "jq not installed"
command -v curl >/dev/null || t_skip_all "curl not installed"
case $BIN in
*/asan/bin) B=asan; SAN="-fsanitize=address,undefined" ;;
*) B=release; SAN= ;;
esac
R="$T/root"
make -C "$C3FS_ROOT" --no-print-directory -j2 BUILD=$B O="$(cd "$BIN/../.." 2>/dev/null && pwd || echo build)" \
	install PREFIX=/usr DESTDIR="$R" >"$T/make.log" 2>&1
t_ok $? "make install PREFIX=/usr DESTDIR=..."
[ -s "$T/make.log" ] && tail -3 "$T/make.log" | sed 's/^/# /'

ok=0
for f in usr/bin/c3fs-mgmtd usr/bin/c3fs-meta usr/bin/c3fs-storage usr/bin/c3fs-fuse \
	usr/bin/c3fs-admin usr/sbin/mount.c3fs usr/lib/libc3fs.a usr/lib/pkgconfig/c3fs.pc \
	usr/include/c3fs/c3fs.h etc/c3fs/mgmtd.ini.sample etc/c3fs/meta.ini.sample \
	etc/c3fs/storage.ini.sample etc/c3fs/fuse.ini.sample \
	usr/lib/systemd/system/c3fs-mgmtd.service usr/lib/systemd/system/c3fs-meta@.service \
	usr/lib/systemd/system/c3fs-storage@.service usr/share/doc/c3fs/OPERATIONS.md; do
	[ -e "$R/$f" ] || { echo "# missing $f"; ok=1; }
done
t_ok $ok "every file installed"
t_ok "$([ -x "$R/usr/bin/c3fs-mgmtd" ] && [ -x "$R/usr/sbin/mount.c3fs" ]; echo $?)" "programs executable"
t_ok "$(grep -q '^FUSE=${C3FS_FUSE:-/usr/bin/c3fs-fuse}$' "$R/usr/sbin/mount.c3fs"; echo $?)" \
	"mount.c3fs finds the installed c3fs-fuse"
t_is "$(grep -h '^ExecStart=' "$R"/usr/lib/systemd/system/*.service | sort | tr '\n' ' ')" \
	"ExecStart=/usr/bin/c3fs-meta --config /etc/c3fs/meta-%i.ini ExecStart=/usr/bin/c3fs-mgmtd --config /etc/c3fs/mgmtd.ini ExecStart=/usr/bin/c3fs-storage --config /etc/c3fs/storage-%i.ini " \
	"units start the installed programs with /etc/c3fs configs (templates for meta and storage)"
t_ok "$(! grep -l '@[A-Z]*@' "$R"/usr/lib/systemd/system/*.service; echo $?)" "no placeholder left in units"
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify --man=no "$R"/usr/lib/systemd/system/c3fs-mgmtd.service >"$T/verify.log" 2>&1
	t_ok "$(! grep -v 'Command .* is not executable\|not found\|No such file' "$T/verify.log" | grep -q .; echo $?)" \
		"systemd-analyze verify"
fi

# an application against the staged tree, through pkg-config only
cat >"$T/app.c" <<'EOF'
#include <c3fs/c3fs.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
	struct c3fs_client_opts o;
	struct c3fs_client *cl;
	struct c3fs_cred cr;
	struct c3fs_statfs st;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&cr, 0, sizeof(cr));
	o.mgmtd_addrs = argv[1];
	o.token = argc > 2 ? argv[2] : "";
	o.ready_timeout_ms = 20000;
	rc = c3fs_client_new(&o, &cl);
	if (rc) {
		printf("client: %d\n", rc);
		return 1;
	}
	rc = c3fs_statfs(cl, &cr, &st);
	printf("statfs %d capacity %llu\n", rc, (unsigned long long)st.capacity_bytes);
	c3fs_client_free(cl);
	return rc != 0;
}
EOF
PC=(env PKG_CONFIG_SYSROOT_DIR="$R" PKG_CONFIG_PATH="$R/usr/lib/pkgconfig" pkg-config)
cc $SAN -o "$T/app" "$T/app.c" $("${PC[@]}" --cflags --static c3fs) $("${PC[@]}" --libs --static c3fs) \
	2>"$T/cc.log"
t_ok $? "an application builds with pkg-config --cflags --libs --static c3fs"
sed 's/^/# cc: /' "$T/cc.log" | head -5

# a cluster from the installed tree and its sample configs
IB="$R/usr/bin"
E="$R/etc/c3fs"
mkdir -p -m 0700 "$T/mgmtd" "$T/meta"
MP=$(t_free_port) WP=$(t_free_port)
M=127.0.0.1:$MP
t_daemon mgmtd "$IB/c3fs-mgmtd" --config "$E/mgmtd.ini.sample" --set server.listen="$M" \
	--set server.token=tok --set server.admin_token=adm --set kv.data_dir="$T/mgmtd" \
	--set lease.node_lease=3s --set metrics.listen="127.0.0.1:$WP"
t_wait_port "$MP" 30
t_ok $? "installed mgmtd runs from mgmtd.ini.sample"
for n in 1 2 3; do
	mkdir -p -m 0700 "$T/s$n"
	SP=$(t_free_port)
	t_daemon "storage$n" "$IB/c3fs-storage" --config "$E/storage.ini.sample" \
		--set server.node_id=$n --set server.listen="127.0.0.1:$SP" --set server.token=tok \
		--set storage.targets="${n}01:$T/s$n" --set storage.io_engine=psync \
		--set mgmtd.addrs="$M" --set mgmtd.heartbeat=300ms
done
A=(timeout 20 "$IB/c3fs-admin" --mgmtd "$M" --token tok --admin-token adm)
ok=1
for ((i = 0; i < 300; i++)); do
	[ "$("${A[@]}" --json list-targets 2>/dev/null | jq '[.targets[] | select(.state=="serving")] | length')" = 3 ] && { ok=0; break; }
	sleep 0.1
done
t_ok $ok "three installed storage nodes registered"
"${A[@]}" create-chain-table --table-id 1 --replicas 3 --name default >/dev/null
t_ok $? "installed c3fs-admin creates the chain table"
METAP=$(t_free_port)
t_daemon meta "$IB/c3fs-meta" --config "$E/meta.ini.sample" --set server.node_id=50 \
	--set server.listen="127.0.0.1:$METAP" --set server.token=tok --set kv.uri="lmdb:$T/meta" \
	--set mgmtd.addrs="$M" --set mgmtd.heartbeat=300ms --set meta.table_id=1
t_wait_port "$METAP" 30
t_ok $? "installed meta runs from meta.ini.sample"
out=$(timeout 60 "$T/app" "$M" tok 2>&1)
echo "# app: $out"
t_ok "$(echo "$out" | grep -qE '^statfs 0 capacity [1-9]'; echo $?)" \
	"the application reaches the installed cluster (statfs)"
for ((i = 0; i < 50; i++)); do
	got=$(curl -sf --max-time 5 "http://127.0.0.1:$WP/api/health" | jq -c '[.status, .chains.total]')
	[ "$got" = '["healthy",1]' ] && break
	sleep 0.1
done
t_is "$got" '["healthy",1]' "status page of the installed mgmtd"

t_kill meta TERM
for n in 1 2 3; do t_kill storage$n TERM; done
t_kill mgmtd TERM
t_done
