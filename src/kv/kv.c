/* kv.c — the generic half of the KV: URI dispatch, checks, the transaction arena, the
 * write buffer with read-your-writes, and the kv_run retry loop.
 *
 * Every write of a transaction is buffered here (struct kv__wbuf, invariants in kv_int.h)
 * and handed to the backend only at commit.  Reads consult the buffer first:
 *   get(k):    point entry for k -> its value (or -ENOENT when it is a clear);
 *              k inside a cleared range -> -ENOENT; otherwise the backend's committed value.
 *   range:     a merge of two ordered streams: the backend's committed pairs of [b, e)
 *              minus keys that have a point entry or lie in a cleared range, and the
 *              buffer's set entries in [b, e).  The backend stream is fetched in chunks
 *              so a limit stays cheap even when buffered clears hide committed keys.
 * Reads answered from the buffer alone never reach the backend, so they add nothing to
 * the backend's read set (they cannot conflict: the transaction wrote those keys).
 */
#include "kv/kv_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/errors.h"
#include "common/vec.h"

/* ---- arena ------------------------------------------------------------------------ */

#define KV__ABLK_SIZE 16384

struct kv__ablk {
	struct kv__ablk *next;
	size_t used, cap;
	_Alignas(16) uint8_t data[];
};

void *kv__alloc(struct kv_txn *txn, size_t n)
{
	struct kv__ablk *b = txn->arena;
	size_t need = (n + 15) & ~(size_t)15;

	if (need < n)
		return NULL;
	if (!b || b->cap - b->used < need) {
		size_t cap = need > KV__ABLK_SIZE / 4 ? need : KV__ABLK_SIZE;
		struct kv__ablk *nb = malloc(sizeof(*nb) + cap);

		if (!nb)
			return NULL;
		nb->cap = cap;
		nb->used = 0;
		if (b && cap != KV__ABLK_SIZE) {
			/* a big one-off block: keep the current bump block at the head */
			nb->next = b->next;
			b->next = nb;
			nb->used = need;
			return nb->data;
		}
		nb->next = b;
		txn->arena = nb;
		b = nb;
	}
	void *p = b->data + b->used;

	b->used += need;
	return p;
}

void *kv__dup(struct kv_txn *txn, const void *p, size_t n)
{
	void *d = kv__alloc(txn, n ? n : 1);

	if (d && n)
		memcpy(d, p, n);
	return d;
}

static void kv__arena_free(struct kv_txn *txn)
{
	struct kv__ablk *b = txn->arena, *nx;

	for (; b; b = nx) {
		nx = b->next;
		free(b);
	}
	txn->arena = NULL;
}

int kv__cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c;
	return al < bl ? -1 : al > bl ? 1 : 0;
}

/* ---- open / close ----------------------------------------------------------------- */

static void kv__metrics_init(struct kv_db *db)
{
	char lab[48];

	snprintf(lab, sizeof(lab), "backend=\"%s\"", db->ops->name);
	db->m_commits = c3_counter_get("c3fs_kv_commits_total", lab,
				       "KV read-write transactions committed");
	db->m_conflicts = c3_counter_get("c3fs_kv_conflicts_total", lab,
					 "KV commits refused because of a conflict");
	db->m_errors = c3_counter_get("c3fs_kv_commit_errors_total", lab,
				      "KV commits failed for another reason");
	db->m_retries = c3_counter_get("c3fs_kv_run_retries_total", lab,
				       "kv_run attempts after the first (conflicts)");
	db->m_commit_lat = c3_hist_get("c3fs_kv_commit_seconds", lab,
				       "latency of KV read-write commits (durable)");
}

static const struct kv_ops *const kv__backends[] = { &kv__lmdb_ops, &kv__pg_ops, &kv__mem_ops };

int kv_db_open(const char *uri, struct kv_db **out)
{
	const char *colon;

	*out = NULL;
	if (!uri || !(colon = strchr(uri, ':')))
		return -C3FS_ECONFIG;
	for (size_t i = 0; i < sizeof(kv__backends) / sizeof(kv__backends[0]); i++) {
		const struct kv_ops *ops = kv__backends[i];
		size_t n = strlen(ops->name);

		if ((size_t)(colon - uri) == n && memcmp(uri, ops->name, n) == 0) {
			struct kv_db *db = NULL;
			int rc = ops->open(colon + 1, &db);

			if (rc < 0)
				return rc;
			db->ops = ops;
			kv__metrics_init(db);
			*out = db;
			return 0;
		}
	}
	return -C3FS_ECONFIG;
}

void kv_db_close(struct kv_db *db)
{
	if (db)
		db->ops->close(db);
}

const char *kv_db_backend(const struct kv_db *db)
{
	return db->ops->name;
}

/* ---- transactions ----------------------------------------------------------------- */

static int kv__wb_normalize(struct kv__wbuf *w);

static void kv__txn_free(struct kv_txn *txn)
{
	free(txn->w.points);
	free(txn->w.ranges);
	kv__arena_free(txn);
	free(txn);
}

int kv_txn_begin(struct kv_db *db, bool read_only, struct kv_txn **out)
{
	struct kv_txn *txn = calloc(1, sizeof(*txn));
	int rc;

	*out = NULL;
	if (!txn)
		return -ENOMEM;
	txn->db = db;
	txn->read_only = read_only;
	rc = db->ops->begin(txn);
	if (rc < 0) {
		kv__txn_free(txn);
		return rc;
	}
	*out = txn;
	return 0;
}

int kv_txn_commit(struct kv_txn *txn)
{
	struct kv_db *db = txn->db;
	bool writes = !txn->read_only && (txn->w.npoints || txn->w.nranges);
	uint64_t t0 = writes ? c3_now_ns() : 0;
	int rc = kv__wb_normalize(&txn->w);

	if (rc < 0)
		db->ops->abort(txn);
	else
		rc = db->ops->commit(txn);
	kv__txn_free(txn);
	if (writes) {
		if (rc == 0) {
			c3_counter_add(db->m_commits, 1);
			c3_hist_observe_ns(db->m_commit_lat, c3_now_ns() - t0);
		} else {
			c3_counter_add(rc == -C3FS_ECONFLICT ? db->m_conflicts : db->m_errors, 1);
		}
	}
	return rc;
}

void kv_txn_set_lazy(struct kv_txn *txn)
{
	txn->lazy = true;
}

void kv_txn_abort(struct kv_txn *txn)
{
	if (!txn)
		return;
	txn->db->ops->abort(txn);
	kv__txn_free(txn);
}

/* ---- write buffer ----------------------------------------------------------------- */

/* Index of the first point with key >= k. */
static size_t kv__wb_lower(const struct kv__wbuf *w, const uint8_t *k, size_t kl)
{
	size_t lo = 0, hi = w->npoints;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (kv__cmp(w->points[mid].key, w->points[mid].klen, k, kl) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The cleared range containing k, or NULL. */
static const struct kv__wrange *kv__wb_in_range(const struct kv__wbuf *w, const uint8_t *k,
						size_t kl)
{
	size_t lo = 0, hi = w->nranges;

	/* first range with e > k */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (kv__cmp(w->ranges[mid].e, w->ranges[mid].el, k, kl) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < w->nranges && kv__cmp(w->ranges[lo].b, w->ranges[lo].bl, k, kl) <= 0)
		return &w->ranges[lo];
	return NULL;
}

static int kv__check_key(const void *key, size_t klen)
{
	if (klen > KV_KEY_MAX)
		return -C3FS_EKVTOOLARGE;
	if (klen && !key)
		return -EINVAL;
	return 0;
}

static int kv__check_bound(const void *key, size_t klen)
{
	if (klen > KV__BOUND_MAX)
		return -C3FS_EKVTOOLARGE;
	if (klen && !key)
		return -EINVAL;
	return 0;
}

static int kv__idx_cmp(const void *a, const void *b, void *arg)
{
	const struct kv__wbuf *w = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = kv__cmp(w->points[x].key, w->points[x].klen, w->points[y].key, w->points[y].klen);

	return c ? c : (x < y ? -1 : x > y);
}

/* Fold the unsorted tail into the sorted prefix; the latest write of a key wins.
 * 0, or -ENOMEM with the buffer unchanged. */
static int kv__wb_normalize(struct kv__wbuf *w)
{
	size_t m = w->npoints - w->nsorted, a = 0, n = 0;
	size_t *idx;
	struct kv__wpoint *out;

	if (m == 0)
		return 0;
	if (m <= 8) {
		/* a short tail (reads between writes): insert in place, no allocation */
		struct kv__wpoint tail[8];

		memcpy(tail, &w->points[w->nsorted], m * sizeof(*tail));
		w->npoints = w->nsorted;
		for (size_t j = 0; j < m; j++) {
			size_t i = kv__wb_lower(w, tail[j].key, tail[j].klen);

			if (i < w->npoints && kv__cmp(w->points[i].key, w->points[i].klen,
						      tail[j].key, tail[j].klen) == 0) {
				w->points[i] = tail[j];
				continue;
			}
			memmove(&w->points[i + 1], &w->points[i],
				(w->npoints - i) * sizeof(*w->points));
			w->points[i] = tail[j];
			w->npoints++;
		}
		w->nsorted = w->npoints;
		return 0;
	}
	idx = malloc(m * sizeof(*idx));
	out = malloc(w->npoints * sizeof(*out));
	if (!idx || !out) {
		free(idx);
		free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m; i++)
		idx[i] = w->nsorted + i;
	qsort_r(idx, m, sizeof(*idx), kv__idx_cmp, w);
	for (size_t j = 0; j < m; j++) {
		const struct kv__wpoint *tp = &w->points[idx[j]];

		if (j + 1 < m && kv__cmp(tp->key, tp->klen, w->points[idx[j + 1]].key,
					 w->points[idx[j + 1]].klen) == 0)
			continue; /* a later write of the same key follows */
		while (a < w->nsorted &&
		       kv__cmp(w->points[a].key, w->points[a].klen, tp->key, tp->klen) < 0)
			out[n++] = w->points[a++];
		if (a < w->nsorted &&
		    kv__cmp(w->points[a].key, w->points[a].klen, tp->key, tp->klen) == 0)
			a++; /* overridden */
		out[n++] = *tp;
	}
	while (a < w->nsorted)
		out[n++] = w->points[a++];
	free(w->points);
	free(idx);
	w->points = out;
	w->cappoints = w->npoints;
	w->npoints = w->nsorted = n;
	return 0;
}

static int kv__wb_put(struct kv_txn *txn, const void *key, size_t klen, const void *val,
		      size_t vlen, bool cleared)
{
	struct kv__wbuf *w = &txn->w;
	const uint8_t *v = NULL, *k;
	bool sorted_append = false;

	if (!cleared) {
		v = kv__dup(txn, val, vlen);
		if (!v)
			return -ENOMEM;
	}
	if (w->nsorted == w->npoints) {
		const struct kv__wpoint *last = w->npoints ? &w->points[w->npoints - 1] : NULL;

		if (!last || kv__cmp(last->key, last->klen, key, klen) < 0) {
			sorted_append = true; /* ascending writes stay sorted for free */
		} else {
			size_t i = kv__wb_lower(w, key, klen);

			if (i < w->npoints &&
			    kv__cmp(w->points[i].key, w->points[i].klen, key, klen) == 0) {
				/* the old value stays in the arena: callers may still hold it */
				w->points[i].val = v;
				w->points[i].vlen = cleared ? 0 : vlen;
				w->points[i].cleared = cleared;
				return 0;
			}
		}
	}
	if (C3_ARRAY_RESERVE(w->points, w->cappoints, w->npoints + 1) < 0)
		return -ENOMEM;
	k = kv__dup(txn, key, klen);
	if (!k)
		return -ENOMEM;
	w->points[w->npoints++] = (struct kv__wpoint){ k, klen, v, cleared ? 0 : vlen, cleared };
	if (sorted_append)
		w->nsorted++;
	return 0;
}

int kv_set(struct kv_txn *txn, const void *key, size_t klen, const void *val, size_t vlen)
{
	int rc = kv__check_key(key, klen);

	if (rc < 0)
		return rc;
	if (vlen > KV_VALUE_MAX)
		return -C3FS_EKVTOOLARGE;
	if (vlen && !val)
		return -EINVAL;
	if (txn->read_only)
		return -EROFS;
	return kv__wb_put(txn, key, klen, val, vlen, false);
}

int kv_clear(struct kv_txn *txn, const void *key, size_t klen)
{
	int rc = kv__check_key(key, klen);

	if (rc < 0)
		return rc;
	if (txn->read_only)
		return -EROFS;
	return kv__wb_put(txn, key, klen, NULL, 0, true);
}

int kv_clear_range(struct kv_txn *txn, const void *begin, size_t blen, const void *end,
		   size_t elen)
{
	struct kv__wbuf *w = &txn->w;
	const uint8_t *b = begin, *e = end;
	int rc = kv__check_bound(begin, blen);

	if (rc == 0)
		rc = kv__check_bound(end, elen);
	if (rc < 0)
		return rc;
	if (txn->read_only)
		return -EROFS;
	if (kv__cmp(b, blen, e, elen) >= 0)
		return 0;
	rc = kv__wb_normalize(w);
	if (rc < 0)
		return rc;

	/* make room first so that nothing changes on ENOMEM */
	if (C3_ARRAY_RESERVE(w->ranges, w->capranges, w->nranges + 1) < 0)
		return -ENOMEM;
	/* ranges touching [b, e): r.e >= b and r.b <= e; merge them into one */
	size_t lo = 0, hi;

	while (lo < w->nranges && kv__cmp(w->ranges[lo].e, w->ranges[lo].el, b, blen) < 0)
		lo++;
	hi = lo;
	while (hi < w->nranges && kv__cmp(w->ranges[hi].b, w->ranges[hi].bl, e, elen) <= 0)
		hi++;
	struct kv__wrange nr;

	if (hi > lo) {
		nr.b = w->ranges[lo].b;
		nr.bl = w->ranges[lo].bl;
		nr.e = w->ranges[hi - 1].e;
		nr.el = w->ranges[hi - 1].el;
		if (kv__cmp(b, blen, nr.b, nr.bl) < 0) {
			nr.b = NULL;
		}
		if (kv__cmp(e, elen, nr.e, nr.el) > 0)
			nr.e = NULL;
	} else {
		nr.b = NULL;
		nr.e = NULL;
	}
	if (!nr.b) {
		nr.b = kv__dup(txn, b, blen);
		nr.bl = blen;
		if (!nr.b)
			return -ENOMEM;
	}
	if (!nr.e) {
		nr.e = kv__dup(txn, e, elen);
		nr.el = elen;
		if (!nr.e)
			return -ENOMEM;
	}
	/* replace ranges[lo, hi) with nr */
	if (hi == lo) {
		memmove(&w->ranges[lo + 1], &w->ranges[lo], (w->nranges - lo) * sizeof(nr));
		w->nranges++;
	} else if (hi > lo + 1) {
		memmove(&w->ranges[lo + 1], &w->ranges[hi], (w->nranges - hi) * sizeof(nr));
		w->nranges -= hi - lo - 1;
	}
	w->ranges[lo] = nr;

	/* drop point entries inside [b, e): the range clear supersedes them */
	size_t pb = kv__wb_lower(w, b, blen), pe = kv__wb_lower(w, e, elen);

	if (pe > pb) {
		memmove(&w->points[pb], &w->points[pe], (w->npoints - pe) * sizeof(*w->points));
		w->npoints -= pe - pb;
		w->nsorted = w->npoints; /* normalized above */
	}
	return 0;
}

/* ---- reads ------------------------------------------------------------------------ */

int kv_get(struct kv_txn *txn, const void *key, size_t klen, const uint8_t **val,
	   size_t *vlen)
{
	const struct kv__wbuf *w = &txn->w;
	int rc = kv__check_key(key, klen);

	if (rc == 0)
		rc = kv__wb_normalize(&txn->w);
	if (rc < 0)
		return rc;
	size_t i = kv__wb_lower(w, key, klen);

	if (i < w->npoints && kv__cmp(w->points[i].key, w->points[i].klen, key, klen) == 0) {
		if (w->points[i].cleared)
			return -ENOENT;
		*val = w->points[i].val;
		*vlen = w->points[i].vlen;
		return 0;
	}
	if (kv__wb_in_range(w, key, klen))
		return -ENOENT;
	return txn->db->ops->get(txn, key, klen, val, vlen);
}

/* The backend stream of a range read: committed pairs of [b, e) fetched in chunks,
 * without keys the write buffer overrides. */
struct kv__bstream {
	struct kv_txn *txn;
	bool reverse;
	const uint8_t *b, *e; /* what is still to fetch: [b, e) */
	size_t bl, el;
	struct kv_pair *buf;
	int n, i;
	bool more, done;
};

static int kv__bs_fetch(struct kv__bstream *s, int want)
{
	int rc;

	if (kv__cmp(s->b, s->bl, s->e, s->el) >= 0) {
		s->done = true;
		return 0;
	}
	rc = s->txn->db->ops->range(s->txn, s->b, s->bl, s->e, s->el, want, s->reverse, &s->buf,
				    &s->more);
	if (rc < 0)
		return rc;
	s->n = rc;
	s->i = 0;
	if (want <= 0 || rc == 0 || !s->more) {
		s->done = true;
		s->more = false;
		return 0;
	}
	{
		const struct kv_pair *last = &s->buf[rc - 1];

		if (s->reverse) {
			s->e = last->key;
			s->el = last->klen;
		} else {
			uint8_t *nb = kv__alloc(s->txn, last->klen + 1);

			if (!nb)
				return -ENOMEM;
			memcpy(nb, last->key, last->klen);
			nb[last->klen] = 0;
			s->b = nb;
			s->bl = last->klen + 1;
		}
	}
	return 0;
}

/* Next visible backend pair, or NULL at the end (rc in *err). */
static const struct kv_pair *kv__bs_next(struct kv__bstream *s, int want, int *err)
{
	const struct kv__wbuf *w = &s->txn->w;

	*err = 0;
	for (;;) {
		while (s->i < s->n) {
			const struct kv_pair *p = &s->buf[s->i];
			size_t j = kv__wb_lower(w, p->key, p->klen);

			if ((j < w->npoints &&
			     kv__cmp(w->points[j].key, w->points[j].klen, p->key, p->klen) == 0) ||
			    kv__wb_in_range(w, p->key, p->klen)) {
				s->i++;
				continue;
			}
			return p;
		}
		if (s->done)
			return NULL;
		*err = kv__bs_fetch(s, want);
		if (*err < 0)
			return NULL;
	}
}

int kv_range(struct kv_txn *txn, const void *begin, size_t blen, const void *end, size_t elen,
	     int limit, bool reverse, struct kv_pair **pairs, bool *more)
{
	const struct kv__wbuf *w = &txn->w;
	const uint8_t *b = begin, *e = end;
	int rc = kv__check_bound(begin, blen);

	*pairs = NULL;
	*more = false;
	if (rc == 0)
		rc = kv__check_bound(end, elen);
	if (rc == 0)
		rc = kv__wb_normalize(&txn->w);
	if (rc < 0)
		return rc;
	if (kv__cmp(b, blen, e, elen) >= 0)
		return 0;

	/* want = limit + 1 so that *more is exact */
	size_t want = limit > 0 ? (size_t)limit + 1 : SIZE_MAX;
	int chunk = limit > 0 ? (limit + 1 < 16 ? 16 : limit + 1) : 0;
	struct kv__bstream s = { .txn = txn, .reverse = reverse, .b = b, .bl = blen,
				 .e = e, .el = elen };
	/* point entries inside [b, e): indices [pb, pe) */
	size_t pb = kv__wb_lower(w, b, blen), pe = kv__wb_lower(w, e, elen);
	size_t pi = reverse ? pe : pb; /* reverse: next is pi - 1 */
	struct kv_pair *out = NULL;
	size_t n = 0, cap = 0;

	rc = kv__bs_fetch(&s, chunk);
	while (rc == 0 && n < want) {
		const struct kv__wpoint *wp = NULL;
		const struct kv_pair *bp;
		int err;

		/* next buffered set entry in order */
		while (reverse ? pi > pb : pi < pe) {
			const struct kv__wpoint *c = &w->points[reverse ? pi - 1 : pi];

			if (!c->cleared) {
				wp = c;
				break;
			}
			pi = reverse ? pi - 1 : pi + 1;
		}
		bp = kv__bs_next(&s, chunk, &err);
		if (err < 0) {
			rc = err;
			break;
		}
		if (!wp && !bp)
			break;
		rc = C3_ARRAY_RESERVE(out, cap, n + 1);
		if (rc < 0)
			break;
		bool take_w = !bp;

		if (wp && bp) {
			int c = kv__cmp(wp->key, wp->klen, bp->key, bp->klen);

			take_w = reverse ? c > 0 : c < 0;
		}
		if (take_w) {
			out[n++] = (struct kv_pair){ wp->key, wp->klen, wp->val, wp->vlen };
			pi = reverse ? pi - 1 : pi + 1;
		} else {
			out[n++] = *bp;
			s.i++;
		}
	}
	if (rc < 0) {
		free(out);
		return rc;
	}
	if (n == want) {
		n--;
		*more = true;
	}
	if (n == 0) {
		free(out);
		return 0;
	}
	*pairs = kv__dup(txn, out, n * sizeof(*out));
	free(out);
	if (!*pairs)
		return -ENOMEM;
	return (int)n;
}

/* ---- retry loop ------------------------------------------------------------------- */

static uint64_t kv__rand(void)
{
	static __thread uint64_t x;

	if (!x)
		x = c3_now_ns() ^ (uint64_t)(uintptr_t)&x ^ 0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

int kv_run(struct kv_db *db, bool read_only, kv_txn_fn fn, void *arg)
{
	uint64_t backoff_us = KV__RUN_BACKOFF_MIN_US;
	int rc = -C3FS_ECONFLICT;

	for (int attempt = 0; attempt < KV__RUN_MAX_ATTEMPTS; attempt++) {
		struct kv_txn *txn;
		int r;

		if (attempt > 0) {
			c3_counter_add(db->m_retries, 1);
			uint64_t us = backoff_us / 2 + kv__rand() % (backoff_us / 2 + 1);
			struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
			backoff_us *= 2;
			if (backoff_us > KV__RUN_BACKOFF_MAX_US)
				backoff_us = KV__RUN_BACKOFF_MAX_US;
		}
		rc = kv_txn_begin(db, read_only, &txn);
		if (rc < 0) {
			if (rc == -C3FS_ECONFLICT)
				continue;
			return rc;
		}
		r = fn(txn, arg);
		if (r < 0) {
			kv_txn_abort(txn);
			rc = r;
		} else {
			rc = kv_txn_commit(txn);
			if (rc == 0)
				return r;
		}
		if (rc != -C3FS_ECONFLICT)
			return rc;
	}
	return rc;
}
