/* POSIX semantics of the meta service core, directly on a "mem:" KV (no RPC):
 * every op and its errors, permissions for other uids, sticky dirs, rename edge cases,
 * readdir cursors, idempotent retries, deferred deletion and GC, session expiry, rmtree. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/errors.h"
#include "kv/kv.h"
#include "meta/meta.h"
#include "tests/lib/tap.h"

static uint64_t fake_now = 1000000000000ull;
static uint64_t clk(void *arg) { (void)arg; return fake_now; }
static void suite_tick(void) { fake_now += 1000; }

#include "tests/unit/meta/suite.h"

static int do_setxattr_user(uint64_t ino)
{
	struct meta_setxattr_req r;

	memset(&r, 0, sizeof(r));
	r.hdr = U1;
	r.ino = ino;
	r.name = "user.k";
	r.name_len = 6;
	r.value = (const uint8_t *)"v";
	r.value_len = 1;
	return meta_op_setxattr(svc, &r);
}

/* Number of 'X' rows of ino in the KV (0 once GC deleted the inode with its xattrs). */
static struct kv_db *the_db;
static int count_xattr_txn(struct kv_txn *t, void *ap)
{
	uint64_t ino = *(uint64_t *)ap;
	uint8_t b[9] = { 'X' }, e[9] = { 'X' };
	struct kv_pair *p;
	bool more;

	kv_put_be64(b + 1, ino);
	kv_put_be64(e + 1, ino + 1);
	return kv_range(t, b, 9, e, 9, 0, false, &p, &more);
}

static int count_xattr_rows(uint64_t ino)
{
	return kv_run(the_db, true, count_xattr_txn, &ino);
}

static void test_gc(void)
{
	uint64_t dir, q;
	struct meta_open_resp o;
	struct meta_gc_stats st;
	struct meta_attr a;

	memset(&st, 0, sizeof(st));
	for (int i = 0; i < 50; i++)
		meta_gc_run(svc, 1000, &st);
	is_int(meta_gc_queue_len(svc, &q), 0, "queue len");
	ok(q > 300 && st.dirs_waiting > 0 && st.dirs_removed == 0,
	   "files collected, removed directories wait for their grace");
	fake_now += (5ull * 60 + 1) * 1000000000ull; /* past the default dir_grace (5 min) */
	for (int i = 0; i < 50 && meta_gc_queue_len(svc, &q) == 0 && q > 0; i++)
		meta_gc_run(svc, 1000, &st);
	is_int(q, 0, "queue drained (files and dirs of the rmtree'd directories)");
	ok(st.dirs_removed > 300, "removed directories deleted after their grace period");
	memset(&st, 0, sizeof(st));
	is_int(do_mkdir(ROOT, META_ROOT_INO, "gc", 0777, &dir), 0, "mkdir gc");
	/* removed directories: kept while open (session) or in their grace period */
	{
		uint64_t d1, d2;
		struct meta_open_req r = { U1, 0, META_O_READ | META_O_DIR };
		struct meta_open_resp ro;
		struct meta_close_req c;
		struct meta_attr_resp ar;

		is_int(do_mkdir(U1, dir, "d1", 0755, &d1), 0, "mkdir gc/d1");
		is_int(do_mkdir(U1, dir, "d2", 0755, &d2), 0, "mkdir gc/d2");
		is_int(do_setxattr_user(d2), 0, "an xattr on d2");
		r.ino = d1;
		is_int(meta_op_open(svc, &r, &ro), 0, "open d1 (directory session)");
		is_int(do_rmdir(U1, dir, "d1"), 0, "rmdir d1");
		is_int(do_rmdir(U1, dir, "d2"), 0, "rmdir d2");
		is_int(meta_gc_run(svc, 100, &st), 0, "gc pass");
		ok(st.dirs_waiting == 2 && st.dirs_removed == 0, "both wait");
		ok(do_getattr(d1, NULL) == 0 && do_getattr(d2, NULL) == 0, "both still answer getattr");
		fake_now += (5ull * 60 + 1) * 1000000000ull;
		{
			struct meta_client_req cr = { U1 };
			struct meta_renew_resp rr;

			is_int(meta_op_renew(svc, &cr, &rr), 0, "the client renews its sessions");
		}
		memset(&st, 0, sizeof(st));
		is_int(meta_gc_run(svc, 100, &st), 0, "gc pass after the grace period");
		is_int(st.dirs_removed, 1, "the closed one is deleted");
		is_int(do_getattr(d2, NULL), -ENOENT, "d2 gone");
		is_int(count_xattr_rows(d2), 0, "with its xattrs");
		is_int(do_getattr(d1, NULL), 0, "d1 (still open) kept");
		memset(&c, 0, sizeof(c));
		c.hdr = U1;
		c.ino = d1;
		c.session_id = ro.session_id;
		is_int(meta_op_close(svc, &c, true, &ar), 0, "close d1");
		memset(&st, 0, sizeof(st));
		is_int(meta_gc_run(svc, 100, &st), 0, "gc pass");
		is_int(st.dirs_removed, 1, "d1 deleted after its close");
		is_int(do_getattr(d1, NULL), -ENOENT, "d1 gone");
		is_int(meta_gc_queue_len(svc, &q), 0, "queue len");
		is_int(q, 0, "queue empty");
	}
	memset(&st, 0, sizeof(st));
	is_int(do_create(U1, dir, "open", 0644, META_O_WRITE, &o), 0, "create open file");
	is_int(do_unlink(U1, dir, "open"), 0, "unlink while open");
	is_int(do_getattr(o.attr.ino, &a), 0, "inode still there");
	is_int(a.nlink, 0, "nlink 0");
	is_int(meta_gc_run(svc, 100, &st), 0, "gc pass");
	is_int(do_getattr(o.attr.ino, NULL), 0, "open file not removed");
	ok(st.files_busy >= 1, "gc saw it busy");
	{
		struct meta_open_req r = { U1, o.attr.ino, META_O_READ };
		struct meta_open_resp rs;

		is_int(meta_op_open(svc, &r, &rs), -ENOENT, "no new open of an unlinked file");
	}
	{
		struct meta_close_req c = { U1, o.attr.ino, o.session_id, META_CLOSE_LENGTH, 5, 0 };
		struct meta_attr_resp r;

		is_int(meta_op_close(svc, &c, true, &r), 0, "close last session");
	}
	is_int(meta_gc_run(svc, 100, &st), 0, "gc pass");
	is_int(do_getattr(o.attr.ino, NULL), -ENOENT, "removed after last close");
	for (int i = 0; i < 50 && meta_gc_queue_len(svc, &q) == 0 && q > 0; i++)
		meta_gc_run(svc, 1000, &st);
	is_int(meta_gc_queue_len(svc, &q), 0, "queue len");
	is_int(q, 0, "queue empty");
	/* session expiry of a silent client */
	{
		struct meta_hdr h = U1;

		h.client_id = 99;
		is_int(do_create(h, dir, "crash", 0644, META_O_WRITE, &o), 0, "client 99 opens");
		is_int(do_unlink(U1, dir, "crash"), 0, "unlink it");
		fake_now += 60ull * 1000000000ull;
		memset(&st, 0, sizeof(st));
		is_int(meta_gc_run(svc, 100, &st), 0, "gc before timeout");
		is_int(do_getattr(o.attr.ino, NULL), 0, "still there before timeout");
		fake_now += 6ull * 60 * 1000000000ull;
		is_int(meta_gc_run(svc, 100, &st), 0, "gc after timeout");
		ok(st.sessions_expired >= 1, "session expired");
		is_int(meta_gc_run(svc, 100, &st), 0, "gc again");
		is_int(do_getattr(o.attr.ino, NULL), -ENOENT, "crashed client's file collected");
	}
}

/* rmtree in small batches: nested dirs, a deep chain, a refusal deep inside. */
static void test_rmtree(struct kv_db *db)
{
	struct meta_svc_opts o;
	struct meta_svc *small, *saved = svc;
	uint64_t rt, a, b, locked, deep, cur;
	struct meta_attr at;
	char name[16];

	meta_svc_opts_default(&o);
	o.clock_ns = clk;
	o.rmtree_batch = 7;
	is_int(meta_svc_new(db, &o, &small), 0, "second service, rmtree batch of 7");
	svc = small;
	is_int(do_mkdir(ROOT, META_ROOT_INO, "rt", 0777, &rt), 0, "mkdir rt");
	is_int(do_mkdir(U1, rt, "a", 0755, &a), 0, "mkdir rt/a");
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		do_create(U1, a, name, 0644, META_O_NOSESSION, NULL);
	}
	is_int(do_mkdir(U1, a, "b", 0755, &b), 0, "mkdir rt/a/b");
	is_int(do_mkdir(U1, b, "c", 0755, NULL), 0, "mkdir rt/a/b/c");
	is_int(do_mkdir(U2, b, "locked", 0777, NULL), -EACCES, "u2 cannot mkdir in u1's 0755");
	is_int(do_mkdir(ROOT, b, "locked", 0755, &locked), 0, "root mkdir rt/a/b/locked");
	is_int(do_create(ROOT, locked, "x", 0644, META_O_NOSESSION, NULL), 0, "root file inside");
	is_int(do_mkdir(U1, rt, "deep", 0755, &deep), 0, "mkdir rt/deep");
	cur = deep;
	for (int i = 0; i < 300; i++)
		if (do_mkdir(U1, cur, "x", 0755, &cur) != 0)
			break;
	{
		struct meta_rmtree_req r = { U1, rt, "deep", 4 };
		struct meta_rmtree_resp rs = { 0, false };

		is_int(meta_op_rmtree(svc, &r, 0, &rs), 0, "u1 removes a 300-deep chain");
		ok(rs.done && rs.removed == 301, "all 301 directories, in batches of 7");
	}
	{
		struct meta_rmtree_req r = { U1, rt, "a", 1 };
		struct meta_rmtree_resp rs;

		is_int(meta_op_rmtree(svc, &r, 0, &rs), -EACCES,
		       "u1 stopped by root's directory deep inside");
		is_int(do_lookup(ROOT, rt, "a", NULL), 0, "the top stays");
		is_int(do_lookup(ROOT, locked, "x", NULL), 0, "root's file stays");
		r.hdr = ROOT;
		is_int(meta_op_rmtree(svc, &r, 0, &rs), 0, "root removes the rest");
		ok(rs.done, "done");
		is_int(do_lookup(ROOT, rt, "a", NULL), -ENOENT, "rt/a gone");
		check_removed_dir(locked, "rmtree: inner directory");
		is_int(do_getattr(rt, &at), 0, "getattr rt");
		is_int(at.nlink, 2, "rt nlink back to 2");
	}
	{
		struct meta_rmtree_req r = { ROOT, META_ROOT_INO, "rt", 2 };
		struct meta_rmtree_resp rs;

		is_int(meta_op_rmtree(svc, &r, 0, &rs), 0, "rmtree of an empty dir");
		is_int(rs.removed, 1, "one entry");
	}
	svc = saved;
	meta_svc_free(small);
	/* a service with link_max 4 on the same KV */
	o.link_max = 4;
	is_int(meta_svc_new(db, &o, &small), 0, "service with link_max 4");
	svc = small;
	{
		struct meta_open_resp f;
		uint64_t d;

		is_int(do_mkdir(ROOT, rt, "lm", 0777, &d), -ENOENT, "rt is gone");
		is_int(do_mkdir(ROOT, a, "lm", 0777, &d), -ENOENT, "so is rt/a");
		d = 0;
		{
			struct meta_mkdir_req r = { ROOT, META_ROOT_INO, "lm", 2, 0777, 0 };
			struct meta_attr_resp ar;

			/* the root already has more than 4 links: a new subdir is refused */
			is_int(meta_op_mkdir(svc, &r, &ar), -EMLINK, "mkdir in a dir at link_max");
		}
		svc = saved;
		is_int(do_mkdir(ROOT, META_ROOT_INO, "lm", 0777, &d), 0, "mkdir lm (default service)");
		svc = small;
		is_int(do_create(ROOT, d, "f", 0644, META_O_NOSESSION, &f), 0, "create lm/f");
		for (int i = 0; i < 3; i++) {
			struct meta_link_req r = { ROOT, f.attr.ino, d, name, 0 };
			struct meta_attr_resp ar;

			snprintf(name, sizeof(name), "l%d", i);
			r.new_name_len = (uint32_t)strlen(name);
			is_int(meta_op_link(svc, &r, &ar), 0, "names 2..4 allowed");
		}
		{
			struct meta_link_req r = { ROOT, f.attr.ino, d, "l9", 2 };
			struct meta_attr_resp ar;

			is_int(meta_op_link(svc, &r, &ar), -EMLINK, "fifth name: EMLINK");
		}
		is_int(do_mkdir(ROOT, d, "s1", 0755, NULL), 0, "subdir 1 (nlink 3)");
		is_int(do_mkdir(ROOT, d, "s2", 0755, NULL), 0, "subdir 2 (nlink 4)");
		is_int(do_mkdir(ROOT, d, "s3", 0755, NULL), -EMLINK, "subdir 3: EMLINK");
	}
	svc = saved;
	meta_svc_free(small);
}

/* RELEASE: many sessions of the caller's client ended in one transaction; sessions of
 * other clients and unknown ones are skipped; an unlinked file is collected once its
 * session is released. */
static void test_release(void)
{
	struct meta_release_req *r = calloc(1, sizeof(*r));
	struct meta_open_resp o[3];
	struct meta_gc_stats st;
	struct meta_hdr other = U1;
	uint64_t dir, q;
	char name[16];

	other.client_id = 8;
	is_int(do_mkdir(ROOT, META_ROOT_INO, "rel", 0777, &dir), 0, "mkdir rel");
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		is_int(do_create(i == 2 ? other : U1, dir, name, 0644, META_O_WRITE, &o[i]), 0,
		       "create and open");
		is_int(do_unlink(U1, dir, name), 0, "unlink while open");
	}
	r->hdr = U1;
	r->count = 0;
	is_int(meta_op_release(svc, r), -EINVAL, "release of nothing: EINVAL");
	for (int i = 0; i < 3; i++) {
		r->sessions[i].ino = o[i].attr.ino;
		r->sessions[i].session_id = o[i].session_id;
	}
	r->sessions[3].ino = o[0].attr.ino;
	r->sessions[3].session_id = 424242; /* unknown */
	r->count = 4;
	is_int(meta_op_release(svc, r), 0, "release 4 sessions (one of another client, one unknown)");
	is_int(meta_op_release(svc, r), 0, "releasing again is harmless");
	memset(&st, 0, sizeof(st));
	is_int(meta_gc_run(svc, 100, &st), 0, "gc pass");
	is_int(do_getattr(o[0].attr.ino, NULL), -ENOENT, "released orphan collected");
	is_int(do_getattr(o[1].attr.ino, NULL), -ENOENT, "released orphan collected");
	is_int(do_getattr(o[2].attr.ino, NULL), 0, "another client's session was not ended");
	r->hdr = other;
	r->count = 1;
	r->sessions[0] = r->sessions[2];
	is_int(meta_op_release(svc, r), 0, "its own client releases it");
	is_int(meta_gc_run(svc, 100, &st), 0, "gc pass");
	is_int(do_getattr(o[2].attr.ino, NULL), -ENOENT, "collected");
	is_int(meta_gc_queue_len(svc, &q), 0, "queue len");
	is_int(do_rmdir(ROOT, META_ROOT_INO, "rel"), 0, "rmdir rel");
	free(r);
}

int main(void)
{
	struct kv_db *db;
	struct meta_svc_opts o;

	if (kv_db_open("mem:", &db) != 0)
		tap_skip_all("mem: KV not available");
	meta_svc_opts_default(&o);
	o.clock_ns = clk;
	the_db = db;
	is_int(meta_svc_new(db, &o, &svc), 0, "service on mem:");
	suite_run();
	test_rmtree(db);
	test_gc();
	test_release();
	meta_svc_free(svc);
	kv_db_close(db);
	return tap_done();
}
