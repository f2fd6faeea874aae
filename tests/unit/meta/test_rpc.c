/* The POSIX suite (suite.h) over RPC.  Without C3FS_META_ADDR it starts its own server in
 * this process: a meta service on a temporary "lmdb:" KV behind a real rpc_server on
 * 127.0.0.1:0.  With C3FS_META_ADDR=ip:port (and C3FS_META_TOKEN) it runs against a
 * running c3fs-meta daemon with a fresh namespace (tests/integration/meta_posix.sh).
 * Also: deferred deletion through the daemon's GC, malformed requests, idempotent retry
 * of a lost reply. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errors.h"
#include "kv/kv.h"
#include "meta/meta.h"
#include "meta/server.h"
#include "net/rpc.h"
#include "tests/lib/tap.h"

#define MRPC_REDIRECT
#include "tests/unit/meta/meta_rpc.h"

#define SUITE_RPC
static char suite_addr[64]; /* mrpc_addr is per thread: filler threads copy this */
#define SUITE_THREAD_INIT() snprintf(mrpc_addr, sizeof(mrpc_addr), "%s", suite_addr)
#ifndef SUITE_BIG_DIR
#define SUITE_BIG_DIR 3000 /* the daemon run (meta_posix.sh) uses 10,000 */
#endif
static void suite_tick(void) { c3_sleep_ms(2); }
#include "tests/unit/meta/suite.h"

static struct meta_svc *local_svc; /* in-process mode only */

/* Wait until ino is gone, running GC passes ourselves when the server is in-process. */
static int wait_gone(uint64_t ino)
{
	for (int i = 0; i < 600; i++) { /* 30 s: the queue may hold a big rmtree'd dir */
		struct meta_gc_stats st;

		if (local_svc) {
			memset(&st, 0, sizeof(st));
			meta_gc_run(local_svc, 1000, &st);
		}
		if (do_getattr(ino, NULL) == -ENOENT)
			return 0;
		c3_sleep_ms(50);
	}
	return -ETIMEDOUT;
}

static void test_gc_rpc(void)
{
	uint64_t dir;
	struct meta_open_resp o;
	struct meta_attr a;

	is_int(do_mkdir(ROOT, META_ROOT_INO, "gcr", 0777, &dir), 0, "mkdir gcr");
	is_int(do_create(U1, dir, "open", 0644, META_O_WRITE, &o), 0, "create open file");
	is_int(do_unlink(U1, dir, "open"), 0, "unlink while open");
	c3_sleep_ms(300);
	if (local_svc) {
		struct meta_gc_stats st;

		memset(&st, 0, sizeof(st));
		meta_gc_run(local_svc, 1000, &st);
	}
	is_int(do_getattr(o.attr.ino, &a), 0, "open unlinked file survives GC");
	is_int(a.nlink, 0, "nlink 0");
	{
		struct meta_close_req c = { U1, o.attr.ino, o.session_id, META_CLOSE_LENGTH, 5, 0 };
		struct meta_attr_resp r;

		is_int(meta_op_close(svc, &c, true, &r), 0, "close last session");
	}
	is_int(wait_gone(o.attr.ino), 0, "collected after the last close");
}

static void test_wire(void)
{
	struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;
	struct meta_lookup_req lr = { ROOT, META_ROOT_INO, "x", 1 };

	c3_buf_append(&b, "\x01\x02\x03", 3);
	is_int(mrpc_call(META_T_MKDIR, &b, &r), -C3FS_EBADMSG, "truncated request refused");
	c3_buf_reset(&b);
	meta_lookup_req_encode(&lr, &b);
	b.data[8] = 200; /* ngroups > 64 */
	is_int(mrpc_call(META_T_LOOKUP, &b, &r), -C3FS_EBADMSG, "groups count over 64 refused");
	c3_buf_release(&b);
	c3_buf_release(&r);
	{
		struct meta_statfs_req sr = { ROOT };
		struct meta_statfs_resp s;

		is_int(meta_op_statfs(svc, &sr, &s), 0, "statfs");
		is_int(s.namemax, 255, "namemax");
	}
	{
		/* a lost reply: the same (client, seq) sent twice gets the first answer */
		struct meta_hdr h = U1;
		struct meta_mkdir_req mr = { ROOT, META_ROOT_INO, "once", 4, 0755, 0 };
		struct meta_attr_resp a1, a2;

		h.client_id = 4242;
		h.seq = 1;
		mr.hdr = h;
		mr.hdr.cred = ROOT.cred;
		is_int(meta_op_mkdir(svc, &mr, &a1), 0, "mkdir with seq");
		is_int(meta_op_mkdir(svc, &mr, &a2), 0, "resent mkdir: first result, no EEXIST");
		is_int(a1.attr.ino, a2.attr.ino, "same inode");
		mr.hdr.seq = 2;
		is_int(meta_op_mkdir(svc, &mr, &a2), -EEXIST, "next seq: EEXIST");
	}
}

int main(void)
{
	const char *addr = getenv("C3FS_META_ADDR");
	const char *token = getenv("C3FS_META_TOKEN");
	struct rpc_client_opts co;
	struct kv_db *db = NULL;
	struct rpc_server *srv = NULL;
	char dir[] = "/tmp/c3fs-meta-rpc.XXXXXX", uri[128];

	memset(&co, 0, sizeof(co));
	co.token = token;
	if (!addr) {
		struct meta_svc_opts o;
		struct rpc_server_opts so;

		if (!mkdtemp(dir))
			tap_skip_all("mkdtemp failed");
		snprintf(uri, sizeof(uri), "lmdb:%s", dir);
		if (kv_db_open(uri, &db) != 0)
			tap_skip_all("lmdb: KV not available");
		meta_svc_opts_default(&o);
		is_int(meta_svc_new(db, &o, &local_svc), 0, "service on lmdb");
		memset(&so, 0, sizeof(so));
		so.listen = "127.0.0.1:0";
		so.token = "t0k";
		co.token = "t0k";
		is_int(rpc_server_new(&so, &srv), 0, "rpc server");
		is_int(meta_server_register(srv, local_svc, NULL), 0, "register handlers");
		is_int(rpc_server_start(srv), 0, "start");
		snprintf(mrpc_addr, sizeof(mrpc_addr), "127.0.0.1:%d", rpc_server_port(srv));
	} else {
		snprintf(mrpc_addr, sizeof(mrpc_addr), "%s", addr);
	}
	if (rpc_client_new(&co, &mrpc_cli) != 0)
		tap_skip_all("rpc client");
	snprintf(suite_addr, sizeof(suite_addr), "%s", mrpc_addr);
	if (getenv("C3FS_META_BIGDIR"))
		suite_big_dir = atoi(getenv("C3FS_META_BIGDIR"));
	if (getenv("C3FS_META_VERIFY")) {
		/* after a daemon restart: what an earlier run acknowledged is still there */
		struct meta_attr a;

		ROOT = cred(0, 0);
		is_int(do_lookup(ROOT, META_ROOT_INO, "once", &a), 0, "dir 'once' survived");
		is_int(do_lookup(ROOT, META_ROOT_INO, "tmp", &a), 0, "dir 'tmp' survived");
		is_int(a.mode, S_IFDIR | 01777, "with its sticky mode");
		rpc_client_free(mrpc_cli);
		return tap_done();
	}
	suite_run();
	test_gc_rpc();
	test_wire();
	rpc_client_free(mrpc_cli);
	if (srv) {
		char cmd[256];

		rpc_server_free(srv);
		meta_svc_free(local_svc);
		kv_db_close(db);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			diag("could not remove %s", dir);
	}
	return tap_done();
}
