/* kv_mem.c — the in-memory backend "mem:" (tests, tools).  Nothing survives close.
 *
 * Multi-version store with optimistic, serializable commits:
 *   - keys[] is sorted; each key has a list of versions, newest first; a version is
 *     (commit version, value or tombstone);
 *   - a transaction reads at snapshot version S = the last commit version when it began:
 *     the visible version of a key is the newest one with ver <= S;
 *   - a read-write transaction records what it read as conflict ranges (a point read of k
 *     is [k, k||0x00)); commit, under the write lock, fails with -C3FS_ECONFLICT when any
 *     key inside a conflict range has a version newer than S (tombstones included), else
 *     applies the write buffer at version V = last + 1.  So every commit behaves as if it
 *     ran alone at its commit point (FoundationDB's rule).
 *   - garbage: a version is dropped once a newer version is visible to every live
 *     snapshot (min_active); a key whose only version is such a tombstone is removed.
 *     Pruning happens on the keys a commit touches.
 *   - a commit allocates everything it links before linking anything: all or nothing.
 * Locks: `lock` (rwlock) guards keys[] and every version list; readers hold it shared for
 * one get/range, commits hold it exclusively.  `act_mu` guards the list of live
 * snapshots.  Values returned to a transaction point into version records, which stay
 * alive while the transaction's snapshot is live.
 */
#include "kv/kv_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/vec.h"

struct mem_ver {
	struct mem_ver *older;
	uint64_t ver;
	bool deleted;
	size_t vlen;
	uint8_t val[];
};

struct mem_key {
	struct mem_ver *head; /* never NULL */
	size_t klen;
	uint8_t key[];
};

struct mem_txn;

struct mem_db {
	struct kv_db base;
	pthread_rwlock_t lock;
	struct mem_key **keys; /* sorted */
	size_t nkeys, capkeys;
	_Atomic uint64_t version; /* last commit version */
	pthread_mutex_t act_mu;
	struct mem_txn *act_head, *act_tail; /* live snapshots, oldest first */
};

struct mem_conflict {
	const uint8_t *b, *e;
	size_t bl, el;
};

struct mem_txn {
	struct mem_txn *prev, *next; /* in mem_db's live list */
	uint64_t snap;
	struct mem_conflict *rs; /* read set (malloc'd) */
	size_t nrs, caprs;
};

static struct mem_db *mem_db_of(struct kv_txn *txn)
{
	return (struct mem_db *)txn->db;
}

static int mem_open(const char *arg, struct kv_db **out)
{
	struct mem_db *db = calloc(1, sizeof(*db));

	if (!db)
		return -ENOMEM;
	pthread_rwlock_init(&db->lock, NULL);
	pthread_mutex_init(&db->act_mu, NULL);
	*out = &db->base;
	return 0;
}

static void mem_close(struct kv_db *kdb)
{
	struct mem_db *db = (struct mem_db *)kdb;

	for (size_t i = 0; i < db->nkeys; i++) {
		struct mem_ver *v = db->keys[i]->head, *o;

		for (; v; v = o) {
			o = v->older;
			free(v);
		}
		free(db->keys[i]);
	}
	free(db->keys);
	pthread_rwlock_destroy(&db->lock);
	pthread_mutex_destroy(&db->act_mu);
	free(db);
}

/* Index of the first key >= k. */
static size_t mem_lower(const struct mem_db *db, const uint8_t *k, size_t kl)
{
	size_t lo = 0, hi = db->nkeys;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (kv__cmp(db->keys[mid]->key, db->keys[mid]->klen, k, kl) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct mem_ver *mem_visible(const struct mem_key *mk, uint64_t snap)
{
	const struct mem_ver *v = mk->head;

	while (v && v->ver > snap)
		v = v->older;
	return v;
}

static int mem_begin(struct kv_txn *txn)
{
	struct mem_db *db = mem_db_of(txn);
	struct mem_txn *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_lock(&db->act_mu);
	t->snap = atomic_load(&db->version);
	t->prev = db->act_tail;
	if (db->act_tail)
		db->act_tail->next = t;
	else
		db->act_head = t;
	db->act_tail = t;
	pthread_mutex_unlock(&db->act_mu);
	txn->be = t;
	return 0;
}

static void mem_end(struct kv_txn *txn)
{
	struct mem_db *db = mem_db_of(txn);
	struct mem_txn *t = txn->be;

	pthread_mutex_lock(&db->act_mu);
	if (t->prev)
		t->prev->next = t->next;
	else
		db->act_head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		db->act_tail = t->prev;
	pthread_mutex_unlock(&db->act_mu);
	free(t->rs);
	free(t);
	txn->be = NULL;
}

static int mem_note_read(struct kv_txn *txn, const uint8_t *b, size_t bl, const uint8_t *e,
			 size_t el)
{
	struct mem_txn *t = txn->be;

	if (txn->read_only)
		return 0;
	if (C3_ARRAY_RESERVE(t->rs, t->caprs, t->nrs + 1) < 0)
		return -ENOMEM;
	t->rs[t->nrs++] = (struct mem_conflict){ b, e, bl, el };
	return 0;
}

static int mem_get(struct kv_txn *txn, const uint8_t *key, size_t klen, const uint8_t **val,
		   size_t *vlen)
{
	struct mem_db *db = mem_db_of(txn);
	struct mem_txn *t = txn->be;
	int rc = -ENOENT;

	if (!txn->read_only) {
		uint8_t *e = kv__alloc(txn, klen + 1);
		const uint8_t *b = kv__dup(txn, key, klen);

		if (!e || !b)
			return -ENOMEM;
		memcpy(e, key, klen);
		e[klen] = 0;
		if (mem_note_read(txn, b, klen, e, klen + 1) < 0)
			return -ENOMEM;
	}
	pthread_rwlock_rdlock(&db->lock);
	size_t i = mem_lower(db, key, klen);

	if (i < db->nkeys && kv__cmp(db->keys[i]->key, db->keys[i]->klen, key, klen) == 0) {
		const struct mem_ver *v = mem_visible(db->keys[i], t->snap);

		if (v && !v->deleted) {
			*val = v->val;
			*vlen = v->vlen;
			rc = 0;
		}
	}
	pthread_rwlock_unlock(&db->lock);
	return rc;
}

static int mem_range(struct kv_txn *txn, const uint8_t *b, size_t bl, const uint8_t *e,
		     size_t el, int limit, bool reverse, struct kv_pair **pairs, bool *more)
{
	struct mem_db *db = mem_db_of(txn);
	struct mem_txn *t = txn->be;
	struct kv_pair *out = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	*more = false;
	pthread_rwlock_rdlock(&db->lock);
	size_t lo = mem_lower(db, b, bl), hi = mem_lower(db, e, el);
	/* covered part of [b, e) for the read set */
	const uint8_t *cb = b, *ce = e;
	size_t cbl = bl, cel = el;

	for (size_t k = 0; k < hi - lo; k++) {
		const struct mem_key *mk = db->keys[reverse ? hi - 1 - k : lo + k];
		const struct mem_ver *v = mem_visible(mk, t->snap);

		if (!v || v->deleted)
			continue;
		if (limit > 0 && n == (size_t)limit) {
			*more = true;
			break;
		}
		rc = C3_ARRAY_RESERVE(out, cap, n + 1);
		if (rc < 0)
			break;
		out[n++] = (struct kv_pair){ mk->key, mk->klen, v->val, v->vlen };
	}
	pthread_rwlock_unlock(&db->lock);
	if (rc == 0 && *more) {
		const struct kv_pair *last = &out[n - 1];

		if (reverse) {
			cb = last->key;
			cbl = last->klen;
		} else {
			uint8_t *x = kv__alloc(txn, last->klen + 1);

			if (!x)
				rc = -ENOMEM;
			else {
				memcpy(x, last->key, last->klen);
				x[last->klen] = 0;
				ce = x;
				cel = last->klen + 1;
			}
		}
	}
	/* bounds may be caller memory: keep copies for validation */
	if (rc == 0 && !txn->read_only) {
		const uint8_t *rb = kv__dup(txn, cb, cbl), *re = kv__dup(txn, ce, cel);

		rc = (rb && re) ? mem_note_read(txn, rb, cbl, re, cel) : -ENOMEM;
	}
	if (rc == 0 && n) {
		*pairs = kv__dup(txn, out, n * sizeof(*out));
		if (!*pairs)
			rc = -ENOMEM;
	}
	free(out);
	return rc < 0 ? rc : (int)n;
}

/* Oldest live snapshot (caller holds nothing; takes act_mu). */
static uint64_t mem_min_active(struct mem_db *db, uint64_t dflt)
{
	uint64_t m = dflt;

	pthread_mutex_lock(&db->act_mu);
	if (db->act_head && db->act_head->snap < m)
		m = db->act_head->snap;
	pthread_mutex_unlock(&db->act_mu);
	return m;
}

/* Drop versions no live snapshot can see; returns true when the key can go. */
static bool mem_prune(struct mem_key *mk, uint64_t min_active)
{
	struct mem_ver *v = mk->head;

	while (v && v->ver > min_active)
		v = v->older;
	if (!v)
		return false;
	/* v is what min_active sees: everything older is dead */
	struct mem_ver *o = v->older, *nx;

	v->older = NULL;
	for (; o; o = nx) {
		nx = o->older;
		free(o);
	}
	return mk->head == v && v->deleted;
}

static struct mem_ver *mem_ver_new(const uint8_t *val, size_t vlen, bool deleted, uint64_t ver)
{
	struct mem_ver *v = malloc(sizeof(*v) + (deleted ? 0 : vlen));

	if (!v)
		return NULL;
	v->older = NULL;
	v->ver = ver;
	v->deleted = deleted;
	v->vlen = deleted ? 0 : vlen;
	if (!deleted && vlen)
		memcpy(v->val, val, vlen);
	return v;
}

/* Link *v as the newest version of key (at keys[idx] or a new key made from *mk).  Takes
 * *v and *mk (sets them to NULL) when used; cannot fail: keys[] has room (reserved). */
static void mem_link(struct mem_db *db, size_t idx, const uint8_t *key, size_t klen,
		     struct mem_ver **v, struct mem_key **mk)
{
	if (idx < db->nkeys && kv__cmp(db->keys[idx]->key, db->keys[idx]->klen, key, klen) == 0) {
		(*v)->older = db->keys[idx]->head;
		db->keys[idx]->head = *v;
		*v = NULL;
		return;
	}
	if ((*v)->deleted || !*mk) /* clearing an absent key: nothing to record */
		return;
	struct mem_key *k = *mk;

	k->klen = klen;
	if (klen)
		memcpy(k->key, key, klen);
	k->head = *v;
	memmove(&db->keys[idx + 1], &db->keys[idx], (db->nkeys - idx) * sizeof(*db->keys));
	db->keys[idx] = k;
	db->nkeys++;
	*v = NULL;
	*mk = NULL;
}

static bool mem_validate(struct mem_db *db, const struct mem_txn *t)
{
	for (size_t r = 0; r < t->nrs; r++) {
		const struct mem_conflict *c = &t->rs[r];

		for (size_t i = mem_lower(db, c->b, c->bl); i < db->nkeys; i++) {
			const struct mem_key *mk = db->keys[i];

			if (kv__cmp(mk->key, mk->klen, c->e, c->el) >= 0)
				break;
			if (mk->head->ver > t->snap)
				return false;
		}
	}
	return true;
}

/* Prune keys[lo, hi) and remove the dead ones. */
static void mem_gc(struct mem_db *db, size_t lo, size_t hi, uint64_t min_active)
{
	size_t w = lo;

	for (size_t i = lo; i < hi; i++) {
		if (mem_prune(db->keys[i], min_active)) {
			free(db->keys[i]->head);
			free(db->keys[i]);
		} else {
			db->keys[w++] = db->keys[i];
		}
	}
	if (w < hi) {
		memmove(&db->keys[w], &db->keys[hi], (db->nkeys - hi) * sizeof(*db->keys));
		db->nkeys -= hi - w;
	}
}

static int mem_commit(struct kv_txn *txn)
{
	struct mem_db *db = mem_db_of(txn);
	struct mem_txn *t = txn->be;
	const struct kv__wbuf *w = &txn->w;
	int rc = 0;

	if (txn->read_only || (w->npoints == 0 && w->nranges == 0)) {
		mem_end(txn);
		return 0;
	}
	/* Everything that applying needs is allocated first, so a commit applies whole or
	 * not at all: room in keys[], a tombstone per live key in the cleared ranges, a
	 * version (and a key record) per point entry. */
	pthread_rwlock_wrlock(&db->lock);
	if (!mem_validate(db, t)) {
		rc = -C3FS_ECONFLICT;
		goto unlock;
	}
	rc = C3_ARRAY_RESERVE(db->keys, db->capkeys, db->nkeys + w->npoints);
	if (rc < 0)
		goto unlock;
	uint64_t ver = atomic_load(&db->version) + 1;
	size_t ntomb = 0, it = 0;

	for (size_t r = 0; r < w->nranges; r++)
		for (size_t i = mem_lower(db, w->ranges[r].b, w->ranges[r].bl); i < db->nkeys &&
		     kv__cmp(db->keys[i]->key, db->keys[i]->klen, w->ranges[r].e, w->ranges[r].el) < 0;
		     i++)
			ntomb += !db->keys[i]->head->deleted;
	struct mem_ver **tomb = calloc(ntomb + 1, sizeof(*tomb));
	struct mem_ver **pv = calloc(w->npoints + 1, sizeof(*pv));
	struct mem_key **pk = calloc(w->npoints + 1, sizeof(*pk));

	if (!tomb || !pv || !pk)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < ntomb; i++)
		if (!(tomb[i] = mem_ver_new(NULL, 0, true, ver)))
			rc = -ENOMEM;
	for (size_t p = 0; rc == 0 && p < w->npoints; p++) {
		const struct kv__wpoint *wp = &w->points[p];

		pv[p] = mem_ver_new(wp->val, wp->vlen, wp->cleared, ver);
		if (!wp->cleared)
			pk[p] = malloc(sizeof(struct mem_key) + wp->klen);
		if (!pv[p] || (!wp->cleared && !pk[p]))
			rc = -ENOMEM;
	}
	if (rc == 0) {
		for (size_t r = 0; r < w->nranges; r++) {
			const struct kv__wrange *cr = &w->ranges[r];

			for (size_t i = mem_lower(db, cr->b, cr->bl); i < db->nkeys; i++) {
				struct mem_key *mk = db->keys[i];

				if (kv__cmp(mk->key, mk->klen, cr->e, cr->el) >= 0)
					break;
				if (!mk->head->deleted)
					mem_link(db, i, mk->key, mk->klen, &tomb[it++], NULL);
			}
		}
		for (size_t p = 0; p < w->npoints; p++) {
			const struct kv__wpoint *wp = &w->points[p];
			size_t i = mem_lower(db, wp->key, wp->klen);
			bool found = i < db->nkeys && kv__cmp(db->keys[i]->key, db->keys[i]->klen,
							      wp->key, wp->klen) == 0;

			if (wp->cleared && (!found || db->keys[i]->head->deleted))
				continue;
			mem_link(db, i, wp->key, wp->klen, &pv[p], &pk[p]);
		}
	}
	/* whatever was not linked (or everything, on ENOMEM) */
	for (size_t i = 0; tomb && i < ntomb; i++)
		free(tomb[i]);
	for (size_t p = 0; pv && pk && p < w->npoints; p++) {
		free(pv[p]);
		free(pk[p]);
	}
	free(tomb);
	free(pv);
	free(pk);
	if (rc < 0)
		goto unlock;
	atomic_store(&db->version, ver);

	/* garbage of the touched keys */
	uint64_t min_active = mem_min_active(db, ver);

	for (size_t r = 0; r < w->nranges; r++) {
		const struct kv__wrange *cr = &w->ranges[r];

		mem_gc(db, mem_lower(db, cr->b, cr->bl), mem_lower(db, cr->e, cr->el), min_active);
	}
	for (size_t p = 0; p < w->npoints; p++) {
		size_t i = mem_lower(db, w->points[p].key, w->points[p].klen);

		if (i < db->nkeys && kv__cmp(db->keys[i]->key, db->keys[i]->klen, w->points[p].key,
					     w->points[p].klen) == 0)
			mem_gc(db, i, i + 1, min_active);
	}
unlock:
	pthread_rwlock_unlock(&db->lock);
	mem_end(txn);
	return rc;
}

static void mem_abort(struct kv_txn *txn)
{
	mem_end(txn);
}

const struct kv_ops kv__mem_ops = {
	.name = "mem",
	.open = mem_open,
	.close = mem_close,
	.begin = mem_begin,
	.get = mem_get,
	.range = mem_range,
	.commit = mem_commit,
	.abort = mem_abort,
};
