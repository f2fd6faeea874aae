/* Pending truncate cuts (src/meta/cut.c): a truncate whose storage cut fails is not
 * forgotten.  Fake hooks stand for storage: the cut can be made to fail, every cut is
 * recorded, and storage's end of a file is whatever the test says.  Checks that GC cuts
 * later (and only when no writer is open and the file did not grow), that a later open
 * for writing or an extending setattr cuts first, that storage's stale end is not taken
 * as a length while a cut is pending, and that the record goes with the file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/errors.h"
#include "kv/kv.h"
#include "meta/meta.h"
#include "tests/lib/tap.h"

static struct meta_svc *svc;
static struct kv_db *db;
static uint64_t fake_now = 1000000000000ull;
static uint64_t clk(void *arg) { (void)arg; return fake_now; }

static int cut_fail;          /* the next cuts answer this error (0 = succeed) */
static int ncuts;             /* cuts that succeeded */
static uint64_t last_cut_ino, last_cut_len;
static uint64_t storage_end;  /* what query_length answers */
static int nqueries;

static int h_truncate(void *arg, uint64_t ino, const struct meta_layout *l, uint64_t len)
{
	if (cut_fail)
		return cut_fail;
	ncuts++;
	last_cut_ino = ino;
	last_cut_len = len;
	return 0;
}

static int h_query(void *arg, uint64_t ino, const struct meta_layout *l, uint64_t *len)
{
	nqueries++;
	*len = storage_end;
	return 0;
}

static struct meta_hdr hdr(uint64_t client)
{
	struct meta_hdr h;

	memset(&h, 0, sizeof(h));
	h.client_id = client;
	return h;
}

static int create(const char *name, uint64_t *ino, uint64_t *sid)
{
	struct meta_create_req r = { hdr(7), 1, name, (uint32_t)strlen(name), 0644, 0,
				     META_O_WRITE | META_O_EXCL };
	struct meta_open_resp o;
	int rc = meta_op_create(svc, &r, &o);

	if (rc == 0) {
		*ino = o.attr.ino;
		*sid = o.session_id;
	}
	return rc;
}

static int open_file(uint64_t ino, uint32_t flags, uint64_t *sid)
{
	struct meta_open_req r = { hdr(7), ino, flags };
	struct meta_open_resp o;
	int rc = meta_op_open(svc, &r, &o);

	if (rc == 0 && sid)
		*sid = o.session_id;
	return rc;
}

static int close_file(uint64_t ino, uint64_t sid, uint64_t length, uint32_t flags)
{
	struct meta_close_req r = { hdr(7), ino, sid, flags, length, 0 };
	struct meta_attr_resp a;

	return meta_op_close(svc, &r, true, &a);
}

static int set_size(uint64_t ino, uint64_t size)
{
	struct meta_setattr_req r;
	struct meta_attr_resp a;

	memset(&r, 0, sizeof(r));
	r.hdr = hdr(7);
	r.ino = ino;
	r.mask = META_SET_SIZE;
	r.size = size;
	return meta_op_setattr(svc, &r, &a);
}

static uint64_t length_of(uint64_t ino)
{
	struct meta_getattr_req r = { hdr(7), ino };
	struct meta_attr_resp a;

	return meta_op_getattr(svc, &r, &a) == 0 ? a.attr.length : UINT64_MAX;
}

static int pending_txn(struct kv_txn *t, void *ap)
{
	uint64_t *ino = ap;
	uint8_t k[9] = { 'P' };
	const uint8_t *v;
	size_t vl;
	int rc;

	kv_put_be64(k + 1, *ino);
	rc = kv_get(t, k, 9, &v, &vl);
	return rc == -ENOENT ? 0 : rc < 0 ? rc : 1;
}

static int pending(uint64_t ino)
{
	return kv_run(db, true, pending_txn, &ino);
}

static struct meta_gc_stats gc(void)
{
	struct meta_gc_stats st;

	memset(&st, 0, sizeof(st));
	is_int(meta_gc_run(svc, 64, &st), 0, "gc pass");
	return st;
}

static uint64_t make_file(const char *name, uint64_t len)
{
	uint64_t ino = 0, sid = 0;

	is_int(create(name, &ino, &sid), 0, "create");
	is_int(close_file(ino, sid, len, META_CLOSE_LENGTH | META_CLOSE_WROTE), 0,
	       "written and closed");
	return ino;
}

int main(void)
{
	struct meta_svc_opts o;
	struct meta_gc_stats st;
	uint64_t a, b, c, d, e, sid, sid2;

	if (kv_db_open("mem:", &db) != 0)
		tap_skip_all("mem: KV not available");
	meta_svc_opts_default(&o);
	o.clock_ns = clk;
	o.hooks.truncate_chunks = h_truncate;
	o.hooks.query_length = h_query;
	is_int(meta_svc_new(db, &o, &svc), 0, "service on mem:");

	/* 1. a truncate whose cut fails: length committed, cut retried by GC */
	a = make_file("a", 4 << 20);
	is_int(pending(a), 0, "no pending cut after a plain write");
	cut_fail = -C3FS_EBUSY;
	is_int(set_size(a, 1000), -C3FS_EBUSY, "truncate answers the cut's error");
	is_int((int)length_of(a), 1000, "the new length is committed");
	is_int(pending(a), 1, "the cut is recorded as pending");
	st = gc();
	is_int((int)st.cuts_done, 0, "GC with storage still failing: no cut");
	is_int(pending(a), 1, "still pending");
	cut_fail = 0;
	ncuts = 0;
	st = gc();
	is_int((int)st.cuts_done, 1, "GC cut it once storage answers");
	is_int(ncuts, 1, "one storage cut");
	ok(last_cut_ino == a && last_cut_len == 1000, "of the right file, to the new length");
	is_int(pending(a), 0, "record dropped after the cut");
	ncuts = 0;
	st = gc();
	is_int(ncuts + (int)st.cuts_done, 0, "nothing left to cut");

	/* 2. a successful truncate leaves no record */
	is_int(set_size(a, 10), 0, "truncate with storage up");
	is_int(ncuts, 1, "cut right away");
	is_int(pending(a), 0, "no record left");

	/* 3. a writer open: GC does not cut under it */
	b = make_file("b", 3 << 20);
	is_int(open_file(b, META_O_WRITE, &sid), 0, "b opened for writing");
	cut_fail = -EIO;
	is_int(set_size(b, 5), -EIO, "truncate of b, cut fails");
	cut_fail = 0;
	ncuts = 0;
	st = gc();
	is_int(ncuts, 0, "GC leaves the cut alone while a writer is open");
	is_int(pending(b), 1, "still pending");
	is_int(close_file(b, sid, 0, 0), 0, "writer closes without writing");
	st = gc();
	is_int(ncuts, 1, "then GC cuts");
	is_int(pending(b), 0, "and drops the record");

	/* 4. a file that grew after the truncate is not cut by GC */
	c = make_file("c", 2 << 20);
	is_int(open_file(c, META_O_WRITE, &sid), 0, "c opened for writing");
	cut_fail = -EIO;
	is_int(set_size(c, 100), -EIO, "truncate of c, cut fails");
	cut_fail = 0;
	is_int(close_file(c, sid, 8192, META_CLOSE_LENGTH | META_CLOSE_WROTE), 0,
	       "the writer reports 8192 bytes written after the truncate");
	is_int((int)length_of(c), 8192, "c grew");
	ncuts = 0;
	st = gc();
	is_int(ncuts, 0, "GC does not cut a file that grew (it would cut the new bytes)");
	is_int((int)st.cuts_dropped, 1, "the record is dropped");
	is_int(pending(c), 0, "no record left");

	/* 5. an open for writing cuts first */
	d = make_file("d", 2 << 20);
	cut_fail = -EIO;
	is_int(set_size(d, 0), -EIO, "truncate of d to 0, cut fails");
	cut_fail = 0;
	ncuts = 0;
	is_int(open_file(d, META_O_READ, &sid), 0, "an open for reading");
	is_int(ncuts, 0, "does not cut");
	is_int(close_file(d, sid, 0, 0), 0, "closed");
	is_int(open_file(d, META_O_WRITE, &sid2), 0, "an open for writing");
	is_int(ncuts, 1, "cut first");
	ok(last_cut_ino == d && last_cut_len == 0, "to the truncated length");
	is_int(pending(d), 0, "record dropped");
	cut_fail = -EIO;
	is_int(close_file(d, sid2, 0, 0), 0, "closed");
	is_int(set_size(d, 0), -EIO, "truncate again, cut fails again");
	is_int(open_file(d, META_O_WRITE, &sid2), -EIO,
	       "an open for writing while the cut still fails: the cut's error");
	cut_fail = 0;

	/* 6. an extending setattr cuts first; a shrink does not need to */
	ncuts = 0;
	is_int(set_size(d, 1 << 20), 0, "extend d");
	is_int(ncuts, 1, "the pending cut ran first (the extension itself cuts nothing)");
	is_int(pending(d), 0, "no record left");
	is_int((int)length_of(d), 1 << 20, "d extended");

	/* 7. while a cut is pending, storage's stale end is no length */
	e = make_file("e", 4 << 20);
	is_int(open_file(e, META_O_WRITE, &sid), 0, "e: writer 1");
	is_int(open_file(e, META_O_WRITE, &sid2), 0, "e: writer 2");
	cut_fail = -EIO;
	is_int(set_size(e, 10), -EIO, "truncate of e, cut fails");
	cut_fail = 0;
	storage_end = 4 << 20; /* the uncut chunks */
	nqueries = 0;
	is_int(close_file(e, sid, 0, META_CLOSE_WROTE), 0, "writer 1 closes");
	is_int(nqueries, 0, "storage's end not asked while a cut is pending");
	is_int((int)length_of(e), 10, "the truncated length stays");
	is_int(close_file(e, sid2, 0, 0), 0, "writer 2 closes");
	st = gc();
	is_int(pending(e), 0, "GC cut it once both writers closed");

	/* 8. the record goes with the file */
	{
		struct meta_unlink_req u = { hdr(7), 1, "e", 1 };
		struct meta_unlink_resp ur;

		cut_fail = -EIO;
		is_int(set_size(e, 5), -EIO, "truncate of e, cut fails");
		cut_fail = 0;
		is_int(pending(e), 1, "pending");
		is_int(meta_op_unlink(svc, &u, &ur), 0, "e unlinked");
		st = gc();
		is_int(pending(e), 0, "record gone with the file");
	}

	/* 9. O_TRUNC: a failed cut stays pending as well */
	{
		uint64_t f = make_file("f", 2 << 20);

		cut_fail = -EIO;
		is_int(open_file(f, META_O_WRITE | META_O_TRUNC, &sid), -EIO,
		       "open(O_TRUNC), cut fails");
		cut_fail = 0;
		is_int((int)length_of(f), 0, "length 0 committed");
		is_int(pending(f), 1, "cut pending");
		ncuts = 0;
		st = gc();
		is_int(ncuts, 1, "GC cuts it");
		is_int(pending(f), 0, "record dropped");
	}

	/* 10. a close that wrote asks storage for the end when another writer is open, also
	 * when that writer's session sorts after more than 64 others (readers) */
	{
		uint64_t g = make_file("g", 1000), w1, w2, rd = 0;
		int opened = 0;

		is_int(open_file(g, META_O_WRITE, &w1), 0, "g: writer 1");
		for (int i = 0; i < 70; i++)
			opened += open_file(g, META_O_READ, &rd) == 0;
		is_int(opened, 70, "g: 70 readers");
		is_int(open_file(g, META_O_WRITE, &w2), 0, "g: writer 2");
		ok(w1 < rd && rd < w2, "writer 2's session sorts after the readers'");
		storage_end = 5000;
		nqueries = 0;
		is_int(close_file(g, w1, 1000, META_CLOSE_LENGTH | META_CLOSE_WROTE), 0,
		       "writer 1 closes");
		is_int(nqueries, 1, "storage asked for the end: writer 2 is open");
		is_int((int)length_of(g), 5000, "the length storage holds");
	}

	meta_svc_free(svc);
	kv_db_close(db);
	return tap_done();
}
