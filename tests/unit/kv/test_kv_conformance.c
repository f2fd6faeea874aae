/* test_kv_conformance.c — one behavioural suite for every KV backend.
 *
 * Runs against C3FS_TEST_KV_URI when set (e.g. "pg:host=127.0.0.1 port=5432 ..."),
 * otherwise against "mem:", a fresh "lmdb:<tmpdir>" and one with "?sync=wal" (checkpoint
 * every 16 batches).  The store is emptied before each case, so a shared server database
 * is fine.  Covers point and range reads and writes, read-your-writes (with a randomized
 * model check), limits, binary keys, persistence, conflicts, a counter under contention
 * and write skew.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/errors.h"
#include "common/metrics.h"
#include "kv/kv.h"
#include "tests/lib/tap.h"

static char g_uri[1024];
static char g_be[16]; /* backend name for test names */
static char g_name[256];

static int kv__cmp_test(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = n ? memcmp(a, b, n) : 0;

	return c ? c : (al < bl ? -1 : al > bl);
}

static const char *NM(const char *what)
{
	snprintf(g_name, sizeof(g_name), "%s: %s", g_be, what);
	return g_name;
}

static const uint8_t FF[600] = { [0 ... 599] = 0xff };

static int wipe_fn(struct kv_txn *t, void *arg)
{
	return kv_clear_range(t, "", 0, FF, sizeof(FF));
}

static struct kv_db *open_fresh(void)
{
	struct kv_db *db = NULL;
	int rc = kv_db_open(g_uri, &db);

	if (rc < 0) {
		diag("open %s: %s", g_uri, c3_strerror(rc));
		return NULL;
	}
	rc = kv_run(db, false, wipe_fn, NULL);
	if (rc < 0) {
		diag("wipe: %s", c3_strerror(rc));
		kv_db_close(db);
		return NULL;
	}
	return db;
}

/* get as a string compare: returns 1 when key has value want (want NULL = absent) */
static int get_is(struct kv_txn *t, const char *k, const char *want)
{
	const uint8_t *v;
	size_t vl;
	int rc = kv_get(t, k, strlen(k), &v, &vl);

	if (!want)
		return rc == -ENOENT;
	return rc == 0 && vl == strlen(want) && memcmp(v, want, vl) == 0;
}

static int sets(struct kv_txn *t, const char *k, const char *v)
{
	return kv_set(t, k, strlen(k), v, strlen(v));
}

/* ---- basic ------------------------------------------------------------------------ */

static void t_basic(void)
{
	struct kv_db *db = open_fresh();
	struct kv_txn *t;

	ok(db, NM("open"));
	if (!db)
		return;
	is_int(kv_txn_begin(db, false, &t), 0, NM("begin"));
	ok(get_is(t, "a", NULL), NM("absent key -> ENOENT"));
	is_int(sets(t, "a", "1"), 0, NM("set"));
	ok(get_is(t, "a", "1"), NM("read your own write"));
	is_int(sets(t, "a", "22"), 0, NM("overwrite"));
	ok(get_is(t, "a", "22"), NM("read overwritten value"));
	is_int(sets(t, "b", "2"), 0, NM("set b"));
	is_int(kv_txn_commit(t), 0, NM("commit"));

	kv_txn_begin(db, false, &t);
	ok(get_is(t, "a", "22") && get_is(t, "b", "2"), NM("committed values visible"));
	is_int(kv_clear(t, "a", 1), 0, NM("clear"));
	is_int(kv_clear(t, "zz", 2), 0, NM("clear absent key is not an error"));
	ok(get_is(t, "a", NULL), NM("cleared key absent in txn"));
	is_int(kv_txn_commit(t), 0, NM("commit clear"));

	kv_txn_begin(db, false, &t);
	ok(get_is(t, "a", NULL) && get_is(t, "b", "2"), NM("clear committed"));
	sets(t, "c", "3");
	kv_txn_abort(t);
	kv_txn_begin(db, true, &t);
	ok(get_is(t, "c", NULL), NM("abort discards writes"));
	is_int(kv_set(t, "x", 1, "y", 1), -EROFS, NM("read-only: set refused"));
	is_int(kv_clear(t, "b", 1), -EROFS, NM("read-only: clear refused"));
	is_int(kv_clear_range(t, "a", 1, "z", 1), -EROFS, NM("read-only: clear_range refused"));
	ok(get_is(t, "b", "2"), NM("read-only: get works"));
	is_int(kv_txn_commit(t), 0, NM("read-only commit"));

	/* set then clear, clear then set within one txn */
	kv_txn_begin(db, false, &t);
	sets(t, "d", "4");
	kv_clear(t, "d", 1);
	ok(get_is(t, "d", NULL), NM("set then cleared: absent"));
	kv_clear(t, "b", 1);
	sets(t, "b", "5");
	ok(get_is(t, "b", "5"), NM("cleared then set: new value"));
	is_int(kv_txn_commit(t), 0, NM("commit"));
	kv_txn_begin(db, true, &t);
	ok(get_is(t, "d", NULL) && get_is(t, "b", "5"), NM("set/clear sequences committed"));
	kv_txn_abort(t);
	kv_db_close(db);
}

/* ---- ranges ----------------------------------------------------------------------- */

static void key_of(char *buf, int i)
{
	snprintf(buf, 16, "k%02d", i);
}

static int fill_fn(struct kv_txn *t, void *arg)
{
	char k[16], v[16];

	for (int i = 0; i < 20; i++) {
		key_of(k, i);
		snprintf(v, sizeof(v), "v%d", i);
		int rc = kv_set(t, k, 3, v, strlen(v));

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* range result equals keys k<first>.. stepping by step, count n */
static int range_is(const struct kv_pair *p, int n, int first, int step, int count)
{
	char k[16];

	if (n != count)
		return 0;
	for (int i = 0; i < n; i++) {
		key_of(k, first + i * step);
		if (p[i].klen != 3 || memcmp(p[i].key, k, 3) != 0)
			return 0;
	}
	return 1;
}

static void t_range(void)
{
	struct kv_db *db = open_fresh();
	struct kv_txn *t;
	struct kv_pair *p;
	bool more;
	int n;

	if (!db) {
		ok(0, NM("open"));
		return;
	}
	is_int(kv_run(db, false, fill_fn, NULL), 0, NM("fill 20 keys"));
	kv_txn_begin(db, false, &t);
	n = kv_range(t, "k", 1, "l", 1, 0, false, &p, &more);
	ok(range_is(p, n, 0, 1, 20) && !more, NM("range all, ascending"));
	ok(n == 20 && p[3].vlen == 2 && memcmp(p[3].val, "v3", 2) == 0, NM("range values"));
	n = kv_range(t, "k", 1, "l", 1, 0, true, &p, &more);
	ok(range_is(p, n, 19, -1, 20) && !more, NM("range all, descending"));
	n = kv_range(t, "k", 1, "l", 1, 5, false, &p, &more);
	ok(range_is(p, n, 0, 1, 5) && more, NM("limit 5: first five, more"));
	n = kv_range(t, "k", 1, "l", 1, 20, false, &p, &more);
	ok(range_is(p, n, 0, 1, 20) && !more, NM("limit == count: no more"));
	n = kv_range(t, "k", 1, "l", 1, 3, true, &p, &more);
	ok(range_is(p, n, 19, -1, 3) && more, NM("reverse limit 3"));
	n = kv_range(t, "k05", 3, "k08", 3, 0, false, &p, &more);
	ok(range_is(p, n, 5, 1, 3), NM("begin inclusive, end exclusive"));
	n = kv_range(t, "k05", 3, "k08", 3, 0, true, &p, &more);
	ok(range_is(p, n, 7, -1, 3), NM("reverse: begin inclusive, end exclusive"));
	n = kv_range(t, "k08", 3, "k05", 3, 0, false, &p, &more);
	ok(n == 0 && !more, NM("begin > end: empty"));
	n = kv_range(t, "k05", 3, "k05", 3, 0, false, &p, &more);
	ok(n == 0 && !more, NM("begin == end: empty"));

	/* uncommitted writes mixed in */
	sets(t, "k05", "new");
	kv_clear(t, "k06", 3);
	kv_clear_range(t, "k10", 3, "k15", 3);
	sets(t, "k12", "back");
	sets(t, "k3", "x"); /* sorts after k29? no: "k3" > "k19" */
	n = kv_range(t, "k", 1, "l", 1, 0, false, &p, &more);
	/* expect k00..k05, k07..k09, k12, k15..k19, k3 = 6 + 3 + 1 + 5 + 1 */
	ok(n == 16, NM("merged range count"));
	if (n == 16) {
		ok(p[5].vlen == 3 && memcmp(p[5].val, "new", 3) == 0, NM("merged: own overwrite"));
		ok(memcmp(p[6].key, "k07", 3) == 0, NM("merged: own clear hides committed key"));
		ok(memcmp(p[9].key, "k12", 3) == 0 && memcmp(p[10].key, "k15", 3) == 0,
		   NM("merged: cleared range hides keys, set inside it shows"));
		ok(p[15].klen == 2 && memcmp(p[15].key, "k3", 2) == 0, NM("merged: own new key"));
	}
	n = kv_range(t, "k", 1, "l", 1, 4, true, &p, &more);
	ok(n == 4 && more && p[0].klen == 2 && memcmp(p[1].key, "k19", 3) == 0 &&
		   memcmp(p[3].key, "k17", 3) == 0,
	   NM("merged reverse with limit"));
	n = kv_range(t, "k08", 3, "k17", 3, 3, false, &p, &more);
	ok(n == 3 && more && memcmp(p[0].key, "k08", 3) == 0 && memcmp(p[2].key, "k12", 3) == 0,
	   NM("merged limit skips cleared keys"));
	is_int(kv_txn_commit(t), 0, NM("commit merged writes"));
	kv_txn_begin(db, true, &t);
	n = kv_range(t, "k", 1, "l", 1, 0, false, &p, &more);
	ok(n == 16 && memcmp(p[9].key, "k12", 3) == 0 && p[9].vlen == 4,
	   NM("merged writes committed"));
	kv_txn_abort(t);
	kv_db_close(db);
}

/* ---- randomized model check of read-your-writes ----------------------------------- */

#define MK 40 /* key universe: "r00".."r39" */

struct model {
	int val[MK]; /* -1 absent */
};

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static void mkey(char *b, int i)
{
	snprintf(b, 16, "r%02d", i);
}

static int model_check_range(struct kv_txn *t, const struct model *m, int lo, int hi, int limit,
			     bool reverse)
{
	char kb[16], ke[16];
	struct kv_pair *p;
	bool more;
	int exp[MK], ne = 0;

	mkey(kb, lo);
	mkey(ke, hi);
	for (int i = lo; i < hi; i++)
		if (m->val[i] >= 0)
			exp[ne++] = i;
	int n = kv_range(t, kb, 3, ke, 3, limit, reverse, &p, &more);
	int want = limit > 0 && limit < ne ? limit : ne;

	if (n != want || more != (limit > 0 && ne > limit)) {
		diag("range [%d,%d) limit %d rev %d: got %d more %d, want %d of %d", lo, hi, limit,
		     reverse, n, more, want, ne);
		return 0;
	}
	for (int j = 0; j < n; j++) {
		int i = exp[reverse ? ne - 1 - j : j];
		char vb[16];

		mkey(kb, i);
		snprintf(vb, sizeof(vb), "%d", m->val[i]);
		if (p[j].klen != 3 || memcmp(p[j].key, kb, 3) || p[j].vlen != strlen(vb) ||
		    memcmp(p[j].val, vb, p[j].vlen)) {
			diag("range item %d differs", j);
			return 0;
		}
	}
	return 1;
}

static void t_model(void)
{
	struct kv_db *db = open_fresh();
	struct model committed, cur;
	struct kv_txn *t = NULL;
	int bad = 0, ops = 2000;

	if (!db) {
		ok(0, NM("open"));
		return;
	}
	for (int i = 0; i < MK; i++)
		committed.val[i] = -1;
	cur = committed;
	kv_txn_begin(db, false, &t);
	for (int op = 0; op < ops && !bad; op++) {
		int r = (int)(rnd() % 100), i = (int)(rnd() % MK), j = (int)(rnd() % (MK + 1));
		char k[16], v[16];

		mkey(k, i);
		if (r < 35) {
			int val = (int)(rnd() % 1000);

			snprintf(v, sizeof(v), "%d", val);
			bad |= kv_set(t, k, 3, v, strlen(v)) != 0;
			cur.val[i] = val;
		} else if (r < 45) {
			bad |= kv_clear(t, k, 3) != 0;
			cur.val[i] = -1;
		} else if (r < 52) {
			char ke[16];
			int lo = i < j ? i : j, hi = i < j ? j : i;

			mkey(k, lo);
			mkey(ke, hi);
			bad |= kv_clear_range(t, k, 3, ke, 3) != 0;
			for (int x = lo; x < hi; x++)
				cur.val[x] = -1;
		} else if (r < 65) {
			const uint8_t *gv;
			size_t gl;
			int rc = kv_get(t, k, 3, &gv, &gl);

			if (cur.val[i] < 0) {
				bad |= rc != -ENOENT;
			} else {
				snprintf(v, sizeof(v), "%d", cur.val[i]);
				bad |= rc != 0 || gl != strlen(v) || memcmp(gv, v, gl) != 0;
			}
			if (bad)
				diag("get r%02d mismatch (rc %d)", i, rc);
		} else if (r < 90) {
			int lo = i < j ? i : j, hi = i < j ? j : i;
			int limit = (int)(rnd() % 4) == 0 ? 0 : (int)(rnd() % 8);

			bad |= !model_check_range(t, &cur, lo, hi, limit, rnd() & 1);
		} else if (r < 96) {
			int rc = kv_txn_commit(t);

			bad |= rc != 0;
			if (rc)
				diag("commit: %s", c3_strerror(rc));
			committed = cur;
			kv_txn_begin(db, false, &t);
			bad |= !model_check_range(t, &committed, 0, MK, 0, false);
		} else {
			kv_txn_abort(t);
			cur = committed;
			kv_txn_begin(db, false, &t);
		}
	}
	kv_txn_abort(t);
	ok(!bad, NM("2000 random ops match the model (read-your-writes, commit, abort)"));
	kv_db_close(db);
}

/* ---- limits and binary keys ------------------------------------------------------- */

static void t_limits(void)
{
	struct kv_db *db = open_fresh();
	struct kv_txn *t;
	uint8_t *big = malloc(KV_VALUE_MAX + 1);
	uint8_t key[KV_KEY_MAX + 1];

	if (!db || !big) {
		ok(0, NM("open"));
		free(big);
		kv_db_close(db);
		return;
	}
	for (size_t i = 0; i < KV_VALUE_MAX + 1; i++)
		big[i] = (uint8_t)(i * 7 + 3);
	memset(key, 0xab, sizeof(key));
	kv_txn_begin(db, false, &t);
	is_int(kv_set(t, key, KV_KEY_MAX + 1, "v", 1), -C3FS_EKVTOOLARGE, NM("key too long"));
	is_int(kv_set(t, "v", 1, big, KV_VALUE_MAX + 1), -C3FS_EKVTOOLARGE, NM("value too long"));
	const uint8_t *gv;
	size_t gl;

	is_int(kv_get(t, key, KV_KEY_MAX + 1, &gv, &gl), -C3FS_EKVTOOLARGE,
	       NM("get with too long key"));
	is_int(kv_set(t, NULL, 3, "v", 1), -EINVAL, NM("NULL key with a length refused"));
	is_int(kv_set(t, "k", 1, NULL, 1), -EINVAL, NM("NULL value with a length refused"));
	{
		static uint8_t longb[2 * KV_KEY_MAX + 3];
		struct kv_pair *lp;
		bool lm;

		memset(longb, 0xab, sizeof(longb));
		is_int(kv_range(t, "", 0, longb, sizeof(longb), 0, false, &lp, &lm),
		       -C3FS_EKVTOOLARGE, NM("range bound too long refused"));
		is_int(kv_clear_range(t, longb, sizeof(longb), FF, 2), -C3FS_EKVTOOLARGE,
		       NM("clear_range bound too long refused"));
		/* a bound longer than any key is fine: key || 0x00 style ends */
		is_int(kv_range(t, longb, sizeof(longb) - 1, FF, 2, 0, false, &lp, &lm), 0,
		       NM("range from a long bound (nothing there yet)"));
	}
	is_int(kv_set(t, key, KV_KEY_MAX, big, KV_VALUE_MAX), 0, NM("max key, max value"));
	is_int(kv_txn_commit(t), 0, NM("commit max sizes"));
	kv_txn_begin(db, true, &t);
	ok(kv_get(t, key, KV_KEY_MAX, &gv, &gl) == 0 && gl == KV_VALUE_MAX &&
		   memcmp(gv, big, gl) == 0,
	   NM("max value read back intact"));
	struct kv_pair *p;
	bool more;
	int n = kv_range(t, key, 1, FF, 2, 0, false, &p, &more);

	ok(n == 1 && p[0].klen == KV_KEY_MAX && p[0].vlen == KV_VALUE_MAX, NM("max key in range"));
	{ /* bounds longer than KV_KEY_MAX around the max key */
		uint8_t lb[KV_KEY_MAX + 1];

		memcpy(lb, key, KV_KEY_MAX);
		lb[KV_KEY_MAX] = 0;
		n = kv_range(t, key, KV_KEY_MAX, lb, sizeof(lb), 0, false, &p, &more);
		ok(n == 1, NM("range [max key, max key || 0) holds the max key"));
		n = kv_range(t, lb, sizeof(lb), FF, 2, 0, false, &p, &more);
		ok(n == 0, NM("range [max key || 0, ...) does not"));
		n = kv_range(t, key, KV_KEY_MAX - 1, lb, sizeof(lb), 0, true, &p, &more);
		ok(n == 1 && p[0].klen == KV_KEY_MAX, NM("reverse range ending past the max key"));
	}
	kv_txn_abort(t);

	/* binary keys: order is memcmp, shorter first */
	static const struct {
		const char *k;
		size_t l;
	} bk[] = { { "", 0 }, { "\0", 1 }, { "\0\0", 2 }, { "\0\xff", 2 }, { "a", 1 },
		   { "a\0b", 3 }, { "ab", 2 }, { "\xff", 1 }, { "\xff\0", 2 }, { "\xff\xff", 2 } };
	int nb = (int)(sizeof(bk) / sizeof(bk[0]));

	kv_txn_begin(db, false, &t);
	kv_clear_range(t, "", 0, FF, sizeof(FF));
	for (int i = nb - 1; i >= 0; i--) {
		uint8_t v = (uint8_t)i;

		kv_set(t, bk[i].k, bk[i].l, &v, 1);
	}
	kv_set(t, "empty-value", 11, NULL, 0);
	is_int(kv_txn_commit(t), 0, NM("commit binary keys"));
	kv_txn_begin(db, true, &t);
	n = kv_range(t, "", 0, FF, sizeof(FF), 0, false, &p, &more);
	int good = n == nb + 1;

	for (int i = 0, j = 0; good && i < n; i++) {
		if (p[i].klen == 11 && memcmp(p[i].key, "empty-value", 11) == 0) {
			good = p[i].vlen == 0;
			continue;
		}
		good = p[i].klen == bk[j].l && memcmp(p[i].key, bk[j].k, bk[j].l) == 0 &&
		       p[i].vlen == 1 && p[i].val[0] == j;
		j++;
	}
	ok(good, NM("binary and empty keys round-trip in memcmp order"));
	ok(kv_get(t, "", 0, &gv, &gl) == 0 && gl == 1 && gv[0] == 0, NM("empty key get"));
	ok(kv_get(t, "empty-value", 11, &gv, &gl) == 0 && gl == 0, NM("empty value get"));
	n = kv_range(t, "\0", 1, "\xff", 1, 0, true, &p, &more);
	/* "\0" "\0\0" "\0\xff" "a" "a\0b" "ab" "empty-value", newest first */
	ok(n == 7 && p[0].klen == 11 && p[1].klen == 2 && memcmp(p[1].key, "ab", 2) == 0 &&
		   p[6].klen == 1 && p[6].key[0] == 0,
	   NM("reverse over binary keys"));
	kv_txn_abort(t);
	free(big);
	kv_db_close(db);
}

/* ---- persistence ------------------------------------------------------------------ */

static void t_persist(void)
{
	struct kv_db *db = open_fresh();
	struct kv_txn *t;

	if (!db) {
		ok(0, NM("open"));
		return;
	}
	kv_txn_begin(db, false, &t);
	sets(t, "persist/a", "1");
	sets(t, "persist/b", "2");
	is_int(kv_txn_commit(t), 0, NM("commit before close"));
	kv_txn_begin(db, false, &t);
	sets(t, "persist/c", "never");
	kv_txn_abort(t);
	kv_db_close(db);
	db = NULL;
	is_int(kv_db_open(g_uri, &db), 0, NM("reopen"));
	if (!db)
		return;
	kv_txn_begin(db, true, &t);
	ok(get_is(t, "persist/a", "1") && get_is(t, "persist/b", "2") &&
		   get_is(t, "persist/c", NULL),
	   NM("committed data survives close/reopen, aborted does not"));
	kv_txn_abort(t);
	kv_db_close(db);
}

/* ---- conflicts -------------------------------------------------------------------- */

static int get_int(struct kv_txn *t, const char *k, long *out)
{
	const uint8_t *v;
	size_t vl;
	char b[32];
	int rc = kv_get(t, k, strlen(k), &v, &vl);

	if (rc == -ENOENT) {
		*out = 0;
		return 0;
	}
	if (rc < 0)
		return rc;
	if (vl >= sizeof(b))
		return -EINVAL;
	memcpy(b, v, vl);
	b[vl] = 0;
	*out = strtol(b, NULL, 10);
	return 0;
}

static int set_int(struct kv_txn *t, const char *k, long x)
{
	char b[32];

	snprintf(b, sizeof(b), "%ld", x);
	return kv_set(t, k, strlen(k), b, strlen(b));
}

static void t_conflict(void)
{
	struct kv_db *db = open_fresh();
	struct kv_txn *t1, *t2, *t3;
	long a, b;
	int r1, r2;

	if (!db) {
		ok(0, NM("open"));
		return;
	}
	/* two read-modify-writes of one key */
	kv_txn_begin(db, false, &t1);
	kv_txn_begin(db, false, &t2);
	r1 = get_int(t1, "x", &a);
	r2 = get_int(t2, "x", &b);
	ok(r1 == 0 && r2 == 0 && a == 0 && b == 0, NM("both read x"));
	set_int(t1, "x", a + 1);
	set_int(t2, "x", b + 1);
	r1 = kv_txn_commit(t1);
	r2 = kv_txn_commit(t2);
	ok((r1 == 0 || r1 == -C3FS_ECONFLICT) && (r2 == 0 || r2 == -C3FS_ECONFLICT) &&
		   (r1 == 0 || r2 == 0),
	   NM("concurrent RMW: commits succeed or conflict, at least one succeeds"));
	kv_txn_begin(db, true, &t3);
	get_int(t3, "x", &a);
	kv_txn_abort(t3);
	is_int(a, (r1 == 0) + (r2 == 0), NM("x == number of successful increments"));
	ok(!(r1 == 0 && r2 == 0), NM("lost update prevented (one conflicts)"));

	/* write skew: x + y must stay >= 1; each txn zeroes one if the sum is 2 */
	kv_txn_begin(db, false, &t1);
	set_int(t1, "x", 1);
	set_int(t1, "y", 1);
	is_int(kv_txn_commit(t1), 0, NM("x = y = 1"));
	kv_txn_begin(db, false, &t1);
	kv_txn_begin(db, false, &t2);
	long x1, y1, x2, y2;

	get_int(t1, "x", &x1);
	get_int(t1, "y", &y1);
	get_int(t2, "x", &x2);
	get_int(t2, "y", &y2);
	if (x1 + y1 == 2)
		set_int(t1, "x", 0);
	if (x2 + y2 == 2)
		set_int(t2, "y", 0);
	r1 = kv_txn_commit(t1);
	r2 = kv_txn_commit(t2);
	kv_txn_begin(db, true, &t3);
	get_int(t3, "x", &a);
	get_int(t3, "y", &b);
	kv_txn_abort(t3);
	ok(a + b >= 1 && !(r1 == 0 && r2 == 0), NM("write skew prevented (serializable)"));

	/* phantoms: each txn scans an empty range and inserts into the other's range; both
	 * committing is not serializable (in any order one of them should have seen a key) */
	kv_txn_begin(db, false, &t1);
	kv_txn_begin(db, false, &t2);
	struct kv_pair *p;
	bool more;

	is_int(kv_range(t1, "ph1/", 4, "ph10", 4, 0, false, &p, &more), 0, NM("t1 scans empty"));
	is_int(kv_range(t2, "ph2/", 4, "ph20", 4, 0, false, &p, &more), 0, NM("t2 scans empty"));
	sets(t1, "ph2/from-t1", "1");
	sets(t2, "ph1/from-t2", "1");
	r1 = kv_txn_commit(t1);
	r2 = kv_txn_commit(t2);
	ok((r1 == 0) != (r2 == 0) && (r1 == -C3FS_ECONFLICT || r2 == -C3FS_ECONFLICT),
	   NM("range write skew (phantoms): exactly one commits"));

	/* a read-only txn never conflicts and keeps its snapshot */
	kv_txn_begin(db, true, &t1);
	get_int(t1, "x", &a);
	kv_txn_begin(db, false, &t2);
	set_int(t2, "x", a + 100);
	is_int(kv_txn_commit(t2), 0, NM("writer commits"));
	get_int(t1, "x", &b);
	is_int(b, a, NM("read-only snapshot unchanged by later commit"));
	is_int(kv_txn_commit(t1), 0, NM("read-only txn commits"));

	/* blind writes never conflict */
	kv_txn_begin(db, false, &t1);
	kv_txn_begin(db, false, &t2);
	sets(t1, "blind", "1");
	sets(t2, "blind", "2");
	r1 = kv_txn_commit(t1);
	r2 = kv_txn_commit(t2);
	ok(r1 == 0 && r2 == 0, NM("blind writes both commit"));
	kv_txn_begin(db, true, &t3);
	ok(get_is(t3, "blind", "2"), NM("last blind write wins"));
	kv_txn_abort(t3);
	kv_db_close(db);
}

/* ---- kv_run ----------------------------------------------------------------------- */

static int incr_fn(struct kv_txn *t, void *arg)
{
	long x;
	int rc = get_int(t, "counter", &x);

	if (rc < 0)
		return rc;
	rc = set_int(t, "counter", x + 1);
	return rc < 0 ? rc : 7;
}

static int fail_fn(struct kv_txn *t, void *arg)
{
	sets(t, "fail/written", "1");
	return -EPERM;
}

struct worker {
	struct kv_db *db;
	int m, errors;
};

static void *incr_thread(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < w->m; i++)
		if (kv_run(w->db, false, incr_fn, NULL) != 7)
			w->errors++;
	return NULL;
}

static void t_run(void)
{
	struct kv_db *db = open_fresh();
	struct kv_txn *t;
	enum { N = 8, M = 40 };
	pthread_t th[N];
	struct worker w[N];
	long x = -1;

	if (!db) {
		ok(0, NM("open"));
		return;
	}
	is_int(kv_run(db, false, incr_fn, NULL), 7, NM("kv_run returns fn's result"));
	is_int(kv_run(db, false, fail_fn, NULL), -EPERM, NM("kv_run returns fn's error"));
	kv_txn_begin(db, true, &t);
	ok(get_is(t, "fail/written", NULL), NM("failed fn's writes discarded"));
	kv_txn_abort(t);
	for (int i = 0; i < N; i++) {
		w[i] = (struct worker){ db, M, 0 };
		pthread_create(&th[i], NULL, incr_thread, &w[i]);
	}
	int errs = 0;

	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		errs += w[i].errors;
	}
	is_int(errs, 0, NM("every increment committed"));
	kv_txn_begin(db, true, &t);
	get_int(t, "counter", &x);
	kv_txn_abort(t);
	is_int(x, 1 + N * M, NM("counter == 1 + N*M after concurrent kv_run"));
	kv_db_close(db);
}

/* ---- bank: concurrent transfers keep the total; every snapshot sees the total ------- */

enum { ACCTS = 10, START = 100 };

struct bank {
	struct kv_db *db;
	unsigned seed;
	int n, errors, bad_sums;
};

static int xfer_fn(struct kv_txn *t, void *arg)
{
	struct bank *b = arg;
	int from = (int)(rand_r(&b->seed) % ACCTS), to = (int)(rand_r(&b->seed) % ACCTS);
	long amt = rand_r(&b->seed) % 30, fv, tv;
	char kf[24], kt[24];
	int rc;

	snprintf(kf, sizeof(kf), "acct/%d", from);
	snprintf(kt, sizeof(kt), "acct/%d", to);
	if (from == to)
		return 0;
	if (rand_r(&b->seed) & 1) { /* read through a range scan half of the time */
		struct kv_pair *p;
		bool more;
		int n = kv_range(t, "acct/", 5, "acct0", 5, 0, false, &p, &more);

		if (n < 0)
			return n;
	}
	if ((rc = get_int(t, kf, &fv)) < 0 || (rc = get_int(t, kt, &tv)) < 0)
		return rc;
	if (fv < amt)
		return 0;
	if ((rc = set_int(t, kf, fv - amt)) < 0 || (rc = set_int(t, kt, tv + amt)) < 0)
		return rc;
	return 0;
}

static int sum_fn(struct kv_txn *t, void *arg)
{
	struct kv_pair *p;
	bool more;
	long sum = 0;
	int n = kv_range(t, "acct/", 5, "acct0", 5, 0, false, &p, &more);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		char buf[32];

		if (p[i].vlen >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, p[i].val, p[i].vlen);
		buf[p[i].vlen] = 0;
		sum += strtol(buf, NULL, 10);
	}
	return n == ACCTS ? (int)sum : -ENOENT;
}

static void *bank_thread(void *arg)
{
	struct bank *b = arg;

	for (int i = 0; i < b->n; i++) {
		if (kv_run(b->db, false, xfer_fn, b) < 0)
			b->errors++;
		int s = kv_run(b->db, true, sum_fn, NULL);

		if (s != ACCTS * START)
			b->bad_sums++;
	}
	return NULL;
}

static int bank_init(struct kv_txn *t, void *arg)
{
	for (int i = 0; i < ACCTS; i++) {
		char k[24];
		int rc;

		snprintf(k, sizeof(k), "acct/%d", i);
		if ((rc = set_int(t, k, START)) < 0)
			return rc;
	}
	return 0;
}

static void t_bank(void)
{
	enum { N = 6, M = 40 };
	struct kv_db *db = open_fresh();
	pthread_t th[N];
	struct bank b[N];
	int errs = 0, bad = 0;

	if (!db) {
		ok(0, NM("open"));
		return;
	}
	is_int(kv_run(db, false, bank_init, NULL), 0, NM("bank: accounts created"));
	for (int i = 0; i < N; i++) {
		b[i] = (struct bank){ db, 1234u + (unsigned)i, M, 0, 0 };
		pthread_create(&th[i], NULL, bank_thread, &b[i]);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		errs += b[i].errors;
		bad += b[i].bad_sums;
	}
	is_int(errs, 0, NM("bank: every transfer committed"));
	is_int(bad, 0, NM("bank: every read-only snapshot saw the full total"));
	is_int(kv_run(db, true, sum_fn, NULL), ACCTS * START, NM("bank: total preserved"));
	kv_db_close(db);
}

/* many writes in random order in one transaction: the latest write of each key wins */
static void t_bulk(void)
{
	enum { KEYS = 700, OPS = 4000 };
	struct kv_db *db = open_fresh();
	struct kv_txn *t;
	static int want[KEYS];
	unsigned seed = 77;
	int bad = 0;

	if (!db) {
		ok(0, NM("open"));
		return;
	}
	for (int i = 0; i < KEYS; i++)
		want[i] = -1;
	kv_txn_begin(db, false, &t);
	for (int op = 0; op < OPS; op++) {
		int i = (int)(rand_r(&seed) % KEYS);
		uint8_t k[9] = { 'b' };

		kv_put_be64(k + 1, (uint64_t)i * 7919 % 100003);
		if (rand_r(&seed) % 5 == 0) {
			kv_clear(t, k, 9);
			want[i] = -1;
		} else {
			set_int(t, "dummy-unused", 0); /* keys out of order around it */
			kv_set(t, k, 9, &op, sizeof(op));
			want[i] = op;
		}
	}
	kv_clear(t, "dummy-unused", 12);
	for (int pass = 0; pass < 2 && !bad; pass++) {
		struct kv_pair *p;
		bool more;
		int n = kv_range(t, "b", 1, "c", 1, 0, false, &p, &more), live = 0;

		for (int i = 0; i < KEYS; i++) {
			uint8_t k[9] = { 'b' };
			const uint8_t *v;
			size_t vl;
			int rc;

			kv_put_be64(k + 1, (uint64_t)i * 7919 % 100003);
			rc = kv_get(t, k, 9, &v, &vl);
			if (want[i] < 0) {
				bad += rc != -ENOENT;
			} else {
				int got = 0;

				live++;
				if (rc == 0 && vl == sizeof(got))
					memcpy(&got, v, sizeof(got));
				bad += rc != 0 || vl != sizeof(got) || got != want[i];
			}
		}
		bad += n != live;
		for (int j = 1; j < n; j++)
			bad += kv__cmp_test(p[j - 1].key, p[j - 1].klen, p[j].key, p[j].klen) >= 0;
		if (pass == 0) {
			is_int(kv_txn_commit(t), 0, NM("bulk: commit"));
			kv_txn_begin(db, true, &t);
		}
	}
	kv_txn_abort(t);
	is_int(bad, 0, NM("bulk: 4000 random writes, last write wins, before and after commit"));
	kv_db_close(db);
}

/* the commits above are visible as metrics */
static void t_metrics(void)
{
	struct c3_buf b = C3_BUF_INIT;
	char pat[80];
	const char *p;
	long n = 0;

	c3_metrics_render(&b);
	c3_buf_append(&b, "", 1);
	snprintf(pat, sizeof(pat), "c3fs_kv_commits_total{backend=\"%s\"} ", g_be);
	p = b.err ? NULL : strstr((const char *)b.data, pat);
	if (p)
		n = strtol(p + strlen(pat), NULL, 10);
	ok(n > 0, NM("commits counted in c3fs_kv_commits_total"));
	snprintf(pat, sizeof(pat), "c3fs_kv_conflicts_total{backend=\"%s\"} ", g_be);
	p = b.err ? NULL : strstr((const char *)b.data, pat);
	ok(p && strtol(p + strlen(pat), NULL, 10) > 0, NM("conflicts counted"));
	c3_buf_release(&b);
}

static void t_uri(void)
{
	struct kv_db *db = (struct kv_db *)1;

	is_int(kv_db_open("nosuch:x", &db), -C3FS_ECONFIG, "unknown backend -> ECONFIG");
	ok(db == NULL, "nothing returned on failure");
	is_int(kv_db_open("no-colon", &db), -C3FS_ECONFIG, "URI without scheme -> ECONFIG");
}

static void suite(const char *uri, bool persistent)
{
	snprintf(g_uri, sizeof(g_uri), "%s", uri);
	snprintf(g_be, sizeof(g_be), "%.*s", (int)strcspn(uri, ":"), uri);
	t_basic();
	t_range();
	t_model();
	t_limits();
	if (persistent)
		t_persist();
	t_conflict();
	t_run();
	t_bank();
	t_bulk();
	t_metrics();
}

int main(void)
{
	const char *env = getenv("C3FS_TEST_KV_URI");
	char dir[] = "/tmp/c3fs-kvtest.XXXXXX", uri[128];

	t_uri();
	if (env && *env) {
		suite(env, strncmp(env, "mem:", 4) != 0);
		return tap_done();
	}
	suite("mem:", false);
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	snprintf(uri, sizeof(uri), "lmdb:%s/classic", dir);
	suite(uri, true);
	/* the log in front of LMDB (small checkpoint interval: checkpoints run in between) */
	snprintf(uri, sizeof(uri), "lmdb:%s/wal?sync=wal&checkpoint=16", dir);
	suite(uri, true);
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
