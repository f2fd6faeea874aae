/* kv_lmdb.c — the embedded default backend
 * "lmdb:/dir[?map_size=SIZE&map_max=SIZE&sync=lmdb|wal&checkpoint=N]".
 *
 * Serializable transactions by optimistic concurrency over LMDB snapshots:
 *   - a transaction reads from its own LMDB read transaction (MDB_NOTLS, so it may move
 *     between threads and one thread may hold several), copying every value it reads into
 *     the transaction arena and remembering it in a read set: point reads as
 *     (key, found, value), range reads as (covered span, pairs seen);
 *   - commit hands the write buffer and the read set to the group committer.  Inside one
 *     LMDB write transaction (exclusive, also across processes), it re-reads every read-set
 *     entry: if anything differs the transaction fails with -C3FS_ECONFLICT, otherwise its
 *     writes are applied.  A transaction that commits therefore saw exactly the state at its
 *     commit point: serializable, write skew and phantoms included.
 *   - group commit: committers queue up; the first one without a running leader becomes the
 *     leader and validates + applies the whole queue in ONE LMDB write transaction, then
 *     commits it with LMDB's normal synchronous commit (fdatasync).  Followers wait on a
 *     condition variable.  So k concurrent commits share one fsync, and a commit returns
 *     only after its data is on disk.  Batch order is the serialization order.
 *   - a batch whose apply fails (e.g. MDB_MAP_FULL) is aborted as a whole; the map is grown
 *     (doubling up to map_max) and the batch retried, and when the map cannot grow every
 *     member is retried alone so that only the ones that do not fit get -ENOSPC.
 *
 * Stored keys are 0x01 || user key (LMDB refuses empty keys; the byte also leaves room for
 * internal records later).  LMDB's compiled-in key limit is 511 bytes, so KV_KEY_MAX is 510
 * (kv.h).  Range bounds may be longer than that; cursors are positioned on a truncated
 * bound and the exact bound is applied by comparison.
 *
 * Durability (sync=): "lmdb" (default) = LMDB's synchronous commit per batch (data sync +
 * meta-page sync), any number of sync=lmdb processes may share the directory.  "wal" = the
 * batch is committed in LMDB with MDB_NOSYNC and its writes are appended as ONE record to
 * our log (kv_wal.c, one O_DSYNC write); a background checkpoint syncs data.mdb and saves
 * its meta pages, and a read transaction pins the checkpointed snapshot so LMDB never
 * overwrites its pages; recovery puts the saved meta pages back and replays the log.  One
 * process owns a sync=wal directory (flock).  Why this is safe: src/kv/README.md.
 *
 * Locks: `maplock` (rwlock, writer-preferring) is held shared around every access to the
 * memory map (read transaction begin, each get/range, a whole commit batch) and exclusively
 * to resize the map.  Shared holders never take it twice, so writer preference cannot
 * deadlock.  `gmu`/`gcv` guard the commit queue and the leader flag.
 * Several processes may open the same directory: validation happens inside LMDB's
 * cross-process write lock, and a map grown by another process is adopted on
 * MDB_MAP_RESIZED.
 */
#include "kv/kv_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/check.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/vec.h"
#include "kv/kv_ckpt.h"
#include "kv/kv_wal.h"

#define LM_PREFIX 0x01
#define LM_DEFAULT_MAP (4ull << 30)
#define LM_DEFAULT_MAP_MAX (1ull << 40)
#define LM_MAX_READERS 4096
#define LM_CKPT_BATCHES 256	     /* sync=wal: checkpoint after this many batches, */
#define LM_CKPT_BYTES (8u << 20) /* or this much log */

_Static_assert(KV_KEY_MAX + 1 <= 511, "KV_KEY_MAX does not fit LMDB's default key size");

struct lm_commit;

struct lm_db {
	struct kv_db base;
	MDB_env *env;
	MDB_dbi dbi;
	pthread_rwlock_t maplock;
	size_t map_size; /* guarded by maplock (written exclusively) */
	size_t map_max;	 /* immutable */
	pthread_mutex_t gmu;
	pthread_cond_t gcv;
	struct lm_commit *qhead, *qtail; /* guarded by gmu */
	bool leader;			 /* guarded by gmu */
	uint64_t batches, commits, grows; /* guarded by gmu (stats) */

	int dirfd; /* flock'd: LOCK_SH in sync=lmdb mode, LOCK_EX in sync=wal mode */
	/* sync=wal only (wal == NULL in sync=lmdb mode) */
	struct kv_wal *wal;
	unsigned ckpt_batches; /* immutable */
	struct c3_buf rec;     /* the leader's record being built */
	uint64_t since_ckpt;   /* batches since the last checkpoint began (leader) */
	/* The log writer (see "Log writes" above lm_log_queue); guarded by gmu.  Batches
	 * applied in LMDB are queued in lpend in order; one thread at a time (lwriting)
	 * appends everything queued as one record. */
	pthread_cond_t lcv;	 /* ldur advanced, or lwriting cleared */
	struct c3_buf lpend;	 /* encoded batches not yet handed to the log */
	struct c3_buf lwbuf;	 /* what the current writer appends */
	uint64_t lprod, ldur;	 /* batches queued / durable (counting from 1) */
	uint64_t lbytes;	 /* bytes appended since the last log switch */
	bool lwriting;		 /* a thread is appending (or the log is being switched) */
	bool lkick;		 /* lazy batches wait: the checkpoint thread should write */
	/* checkpoints (kv_ckpt.h): begun by the leader, finished by the checkpoint thread,
	 * whose state is guarded by gmu and signalled on ckcv */
	struct kv_ckpt ck;
	pthread_cond_t ckcv;
	int failed;			       /* guarded by gmu: sticky error of the log */
	uint64_t ckpts, restored, replayed; /* guarded by gmu (stats) */
};

/* One read-set entry. */
struct lm_read {
	bool is_range;
	bool found;		 /* point: key existed */
	const uint8_t *b, *e; /* point: key in b; range: covered span [b, e) */
	size_t bl, el;
	const uint8_t *val; /* point: value when found */
	size_t vlen;
	const struct kv_pair *pairs; /* range: what was seen, in read order */
	int n;
	bool reverse;
};

struct lm_txn {
	MDB_txn *rtxn;
	struct lm_read *reads; /* malloc'd */
	size_t nreads, capreads;
};

/* A queued commit; lives on the committer's stack until done. */
struct lm_commit {
	struct lm_commit *next;
	struct kv_txn *txn;
	int rc;
	uint64_t lsn; /* sync=wal: the batch number its writes were queued under (0: none) */
	bool done; /* guarded by gmu */
};

static int lm_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
		return -ENOSPC;
	case MDB_READERS_FULL:
	case MDB_TXN_FULL:
		return -C3FS_EBUSY;
	case MDB_BAD_VALSIZE:
		return -C3FS_EKVTOOLARGE;
	default:
		return rc > 0 ? -rc : -C3FS_EKV;
	}
}

/* ---- open / close ----------------------------------------------------------------- */

static int lm_parse_size(const char *s, size_t n, size_t *out)
{
	char buf[32], *end;
	unsigned long long v;

	if (n == 0 || n >= sizeof(buf))
		return -C3FS_ECONFIG;
	memcpy(buf, s, n);
	buf[n] = 0;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return -C3FS_ECONFIG;
	int shift = 0;

	switch (*end) {
	case 0: break;
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	default: return -C3FS_ECONFIG;
	}
	if (*end || v > (SIZE_MAX >> shift))
		return -C3FS_ECONFIG;
	*out = (size_t)v << shift;
	return 0;
}

struct lm_opts {
	size_t map_size, map_max;
	bool wal;		/* sync=wal */
	unsigned ckpt_batches; /* checkpoint=N */
};

static bool lm_key_is(const char *k, const char *eq, const char *name)
{
	return (size_t)(eq - k) == strlen(name) && memcmp(k, name, strlen(name)) == 0;
}

/* "path?k=v&k=v" -> path (malloc'd), options */
static int lm_parse_uri(const char *arg, char **path, struct lm_opts *o)
{
	const char *q = strchr(arg, '?');
	size_t plen = q ? (size_t)(q - arg) : strlen(arg);

	o->map_size = LM_DEFAULT_MAP;
	o->map_max = LM_DEFAULT_MAP_MAX;
	o->wal = false;
	o->ckpt_batches = LM_CKPT_BATCHES;
	if (plen == 0)
		return -C3FS_ECONFIG;
	while (q && *q) {
		const char *k = q + 1, *eq = strchr(k, '='), *amp = strchr(k, '&');
		size_t vlen;

		if (!eq || (amp && amp < eq))
			return -C3FS_ECONFIG;
		vlen = amp ? (size_t)(amp - eq - 1) : strlen(eq + 1);
		if (lm_key_is(k, eq, "map_size")) {
			if (lm_parse_size(eq + 1, vlen, &o->map_size) < 0)
				return -C3FS_ECONFIG;
		} else if (lm_key_is(k, eq, "map_max")) {
			if (lm_parse_size(eq + 1, vlen, &o->map_max) < 0)
				return -C3FS_ECONFIG;
		} else if (lm_key_is(k, eq, "sync")) {
			if (vlen == 3 && memcmp(eq + 1, "wal", 3) == 0)
				o->wal = true;
			else if (!(vlen == 4 && memcmp(eq + 1, "lmdb", 4) == 0))
				return -C3FS_ECONFIG;
		} else if (lm_key_is(k, eq, "checkpoint")) {
			size_t n;

			if (lm_parse_size(eq + 1, vlen, &n) < 0 || n == 0 || n > 1u << 30)
				return -C3FS_ECONFIG;
			o->ckpt_batches = (unsigned)n;
		} else {
			return -C3FS_ECONFIG;
		}
		q = amp;
	}
	if (o->map_size < (64u << 10) || o->map_max < o->map_size)
		return -C3FS_ECONFIG;
	*path = strndup(arg, plen);
	return *path ? 0 : -ENOMEM;
}

static int lm_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int lm_sync_parent(const char *path)
{
	char *copy = strdup(path);
	int rc;

	if (!copy)
		return -ENOMEM;
	rc = lm_sync_dir(dirname(copy));
	free(copy);
	return rc;
}

/* Adopt a map size grown by another process (called with no maplock held). */
static int lm_adopt_size(struct lm_db *db)
{
	int rc;
	MDB_envinfo info;

	pthread_rwlock_wrlock(&db->maplock);
	rc = mdb_env_set_mapsize(db->env, 0);
	if (!rc) {
		mdb_env_info(db->env, &info);
		db->map_size = info.me_mapsize;
	}
	pthread_rwlock_unlock(&db->maplock);
	return lm_err(rc);
}

/* Double the map up to map_max (no maplock held).  -ENOSPC when already at the max. */
static int lm_grow(struct lm_db *db, size_t seen)
{
	int rc = 0;

	pthread_rwlock_wrlock(&db->maplock);
	if (db->map_size == seen) { /* nobody grew it meanwhile */
		size_t n = db->map_size * 2;

		if (db->map_size >= db->map_max)
			rc = -ENOSPC;
		else {
			if (n > db->map_max || n < db->map_size)
				n = db->map_max;
			rc = lm_err(mdb_env_set_mapsize(db->env, n));
			if (!rc)
				db->map_size = n;
		}
	}
	pthread_rwlock_unlock(&db->maplock);
	if (!rc) {
		pthread_mutex_lock(&db->gmu);
		db->grows++;
		pthread_mutex_unlock(&db->gmu);
	}
	return rc;
}

/* ---- reads ------------------------------------------------------------------------ */

static int lm_begin(struct kv_txn *txn)
{
	struct lm_db *db = (struct lm_db *)txn->db;
	struct lm_txn *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	for (;;) {
		pthread_rwlock_rdlock(&db->maplock);
		rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &t->rtxn);
		pthread_rwlock_unlock(&db->maplock);
		if (rc != MDB_MAP_RESIZED)
			break;
		rc = lm_adopt_size(db);
		if (rc < 0)
			break;
	}
	if (rc) {
		free(t);
		return rc < 0 ? rc : lm_err(rc);
	}
	txn->be = t;
	return 0;
}

static void lm_end(struct kv_txn *txn)
{
	struct lm_db *db = (struct lm_db *)txn->db;
	struct lm_txn *t = txn->be;

	if (t->rtxn) {
		pthread_rwlock_rdlock(&db->maplock);
		mdb_txn_abort(t->rtxn);
		pthread_rwlock_unlock(&db->maplock);
	}
	free(t->reads);
	free(t);
	txn->be = NULL;
}

static struct lm_read *lm_note(struct kv_txn *txn)
{
	struct lm_txn *t = txn->be;

	if (C3_ARRAY_RESERVE(t->reads, t->capreads, t->nreads + 1) < 0)
		return NULL;
	struct lm_read *r = &t->reads[t->nreads++];

	memset(r, 0, sizeof(*r));
	return r;
}

static void lm_mkkey(uint8_t *buf, const uint8_t *k, size_t kl, MDB_val *out)
{
	if (kl > KV_KEY_MAX)
		kl = KV_KEY_MAX;
	buf[0] = LM_PREFIX;
	if (kl)
		memcpy(buf + 1, k, kl);
	out->mv_data = buf;
	out->mv_size = kl + 1;
}

static inline const uint8_t *lm_ukey(const MDB_val *k)
{
	return (const uint8_t *)k->mv_data + 1;
}

/* Position c on the first key >= b (any length).  Returns 0 or an MDB code. */
static int lm_seek_ge(MDB_cursor *c, const uint8_t *b, size_t bl, MDB_val *k, MDB_val *v)
{
	uint8_t buf[1 + KV_KEY_MAX];
	int rc;

	lm_mkkey(buf, b, bl, k);
	rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
	while (rc == 0 && kv__cmp(lm_ukey(k), k->mv_size - 1, b, bl) < 0)
		rc = mdb_cursor_get(c, k, v, MDB_NEXT);
	return rc;
}

/* Position c on the last key < e.  Returns 0 or an MDB code. */
static int lm_seek_lt(MDB_cursor *c, const uint8_t *e, size_t el, MDB_val *k, MDB_val *v)
{
	int rc = lm_seek_ge(c, e, el, k, v);

	if (rc == MDB_NOTFOUND)
		return mdb_cursor_get(c, k, v, MDB_LAST);
	if (rc)
		return rc;
	return mdb_cursor_get(c, k, v, MDB_PREV);
}

static int lm_get(struct kv_txn *txn, const uint8_t *key, size_t klen, const uint8_t **val,
		  size_t *vlen)
{
	struct lm_db *db = (struct lm_db *)txn->db;
	struct lm_txn *t = txn->be;
	uint8_t buf[1 + KV_KEY_MAX];
	MDB_val k, v;
	const uint8_t *copy = NULL;
	int rc;

	lm_mkkey(buf, key, klen, &k);
	pthread_rwlock_rdlock(&db->maplock);
	rc = mdb_get(t->rtxn, db->dbi, &k, &v);
	if (rc == 0) {
		copy = kv__dup(txn, v.mv_data, v.mv_size);
		if (!copy)
			rc = ENOMEM;
	}
	pthread_rwlock_unlock(&db->maplock);
	if (rc && rc != MDB_NOTFOUND)
		return lm_err(rc);
	if (!txn->read_only) {
		struct lm_read *r = lm_note(txn);

		if (!r || !(r->b = kv__dup(txn, key, klen)))
			return -ENOMEM;
		r->bl = klen;
		r->found = rc == 0;
		r->val = copy;
		r->vlen = rc == 0 ? v.mv_size : 0;
	}
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	*val = copy;
	*vlen = v.mv_size;
	return 0;
}

static int lm_range(struct kv_txn *txn, const uint8_t *b, size_t bl, const uint8_t *e,
		    size_t el, int limit, bool reverse, struct kv_pair **pairs, bool *more)
{
	struct lm_db *db = (struct lm_db *)txn->db;
	struct lm_txn *t = txn->be;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	struct kv_pair *out = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*more = false;
	pthread_rwlock_rdlock(&db->maplock);
	rc = mdb_cursor_open(t->rtxn, db->dbi, &c);
	if (rc)
		goto unlock;
	rc = reverse ? lm_seek_lt(c, e, el, &k, &v) : lm_seek_ge(c, b, bl, &k, &v);
	while (rc == 0) {
		const uint8_t *uk = lm_ukey(&k);
		size_t ukl = k.mv_size - 1;

		if (reverse ? kv__cmp(uk, ukl, b, bl) < 0 : kv__cmp(uk, ukl, e, el) >= 0)
			break;
		if (limit > 0 && n == (size_t)limit) {
			*more = true;
			break;
		}
		if (C3_ARRAY_RESERVE(out, cap, n + 1) < 0) {
			rc = ENOMEM; /* an MDB-style code: mapped by lm_err below */
			break;
		}
		out[n].key = kv__dup(txn, uk, ukl);
		out[n].klen = ukl;
		out[n].val = kv__dup(txn, v.mv_data, v.mv_size);
		out[n].vlen = v.mv_size;
		if (!out[n].key || !out[n].val) {
			rc = ENOMEM;
			break;
		}
		n++;
		rc = mdb_cursor_get(c, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	mdb_cursor_close(c);
unlock:
	pthread_rwlock_unlock(&db->maplock);
	if (rc)
		goto fail;
	*pairs = n ? kv__dup(txn, out, n * sizeof(*out)) : NULL;
	if (n && !*pairs) {
		rc = ENOMEM;
		goto fail;
	}
	free(out);
	out = NULL;
	if (!txn->read_only) {
		struct lm_read *r = lm_note(txn);

		if (!r) {
			rc = ENOMEM;
			goto fail;
		}
		r->is_range = true;
		r->reverse = reverse;
		r->pairs = *pairs;
		r->n = (int)n;
		r->b = b;
		r->bl = bl;
		r->e = e;
		r->el = el;
		if (*more) { /* only up to the last key seen was read */
			const struct kv_pair *last = &(*pairs)[n - 1];

			if (reverse) {
				r->b = last->key;
				r->bl = last->klen;
			} else {
				uint8_t *x = kv__alloc(txn, last->klen + 1);

				if (!x) {
					rc = ENOMEM;
					goto fail;
				}
				memcpy(x, last->key, last->klen);
				x[last->klen] = 0;
				r->e = x;
				r->el = last->klen + 1;
			}
		}
		/* the bounds may be caller memory */
		if (r->b == b && !(r->b = kv__dup(txn, b, bl))) {
			rc = ENOMEM;
			goto fail;
		}
		if (r->e == e && !(r->e = kv__dup(txn, e, el))) {
			rc = ENOMEM;
			goto fail;
		}
	}
	return (int)n;
fail:
	free(out);
	return lm_err(rc);
}

/* ---- commit ----------------------------------------------------------------------- */

/* 0 when every read of txn still holds in w, -C3FS_ECONFLICT when not, or an error. */
static int lm_validate(struct lm_db *db, MDB_txn *w, struct kv_txn *txn)
{
	struct lm_txn *t = txn->be;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	for (size_t i = 0; i < t->nreads; i++) {
		const struct lm_read *r = &t->reads[i];
		uint8_t buf[1 + KV_KEY_MAX];

		if (!r->is_range) {
			lm_mkkey(buf, r->b, r->bl, &k);
			rc = mdb_get(w, db->dbi, &k, &v);
			if (rc && rc != MDB_NOTFOUND)
				return lm_err(rc);
			if ((rc == 0) != r->found)
				return -C3FS_ECONFLICT;
			if (r->found && (v.mv_size != r->vlen ||
					 (r->vlen && memcmp(v.mv_data, r->val, r->vlen))))
				return -C3FS_ECONFLICT;
			continue;
		}
		rc = mdb_cursor_open(w, db->dbi, &c);
		if (rc)
			return lm_err(rc);
		int j = 0;

		rc = lm_seek_ge(c, r->b, r->bl, &k, &v);
		while (rc == 0 && kv__cmp(lm_ukey(&k), k.mv_size - 1, r->e, r->el) < 0) {
			const struct kv_pair *p;

			if (j == r->n)
				break; /* a key that was not there */
			p = &r->pairs[r->reverse ? r->n - 1 - j : j];
			if (kv__cmp(lm_ukey(&k), k.mv_size - 1, p->key, p->klen) != 0 ||
			    v.mv_size != p->vlen || (p->vlen && memcmp(v.mv_data, p->val, p->vlen)))
				break;
			j++;
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(c);
		if (rc && rc != MDB_NOTFOUND)
			return lm_err(rc);
		bool at_end = rc == MDB_NOTFOUND ||
			      kv__cmp(lm_ukey(&k), k.mv_size - 1, r->e, r->el) >= 0;

		if (j != r->n || !at_end)
			return -C3FS_ECONFLICT;
	}
	return 0;
}

/* Delete every key of [b, e) in w.  Returns 0 or an MDB code. */
static int lm_clear_range(struct lm_db *db, MDB_txn *w, const uint8_t *b, size_t bl,
			  const uint8_t *e, size_t el)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(w, db->dbi, &c);

	if (rc)
		return rc;
	rc = lm_seek_ge(c, b, bl, &k, &v);
	while (rc == 0 && kv__cmp(lm_ukey(&k), k.mv_size - 1, e, el) < 0) {
		rc = mdb_cursor_del(c, 0);
		/* re-seek rather than rely on where a delete leaves the cursor */
		if (rc == 0)
			rc = lm_seek_ge(c, b, bl, &k, &v);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int lm_put(struct lm_db *db, MDB_txn *w, const uint8_t *key, size_t klen,
		  const uint8_t *val, size_t vlen)
{
	uint8_t buf[1 + KV_KEY_MAX];
	MDB_val k, v = { vlen, (void *)val };

	lm_mkkey(buf, key, klen, &k);
	return mdb_put(w, db->dbi, &k, &v, 0);
}

static int lm_del(struct lm_db *db, MDB_txn *w, const uint8_t *key, size_t klen)
{
	uint8_t buf[1 + KV_KEY_MAX];
	MDB_val k;
	int rc;

	lm_mkkey(buf, key, klen, &k);
	rc = mdb_del(w, db->dbi, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Apply txn's write buffer in w.  Returns 0 or an MDB code (w must then be aborted). */
static int lm_apply(struct lm_db *db, MDB_txn *w, struct kv_txn *txn)
{
	const struct kv__wbuf *wb = &txn->w;
	int rc = 0;

	for (size_t i = 0; i < wb->nranges && rc == 0; i++) {
		const struct kv__wrange *r = &wb->ranges[i];

		rc = lm_clear_range(db, w, r->b, r->bl, r->e, r->el);
	}
	for (size_t i = 0; i < wb->npoints && rc == 0; i++) {
		const struct kv__wpoint *p = &wb->points[i];

		rc = p->cleared ? lm_del(db, w, p->key, p->klen)
				: lm_put(db, w, p->key, p->klen, p->val, p->vlen);
	}
	return rc;
}

static bool lm_has_writes(const struct kv_txn *txn)
{
	return txn->w.npoints || txn->w.nranges;
}

static void lm_log_queue(struct lm_db *db, struct lm_commit *batch);
static void lm_log_write_locked(struct lm_db *db);
static int lm_log_wait(struct lm_db *db, uint64_t lsn);

/* Validate and apply a list of commits in one LMDB write transaction (sync=wal: and log
 * it); sets each rc. */
static void lm_process(struct lm_db *db, struct lm_commit *batch)
{
	MDB_txn *w;
	struct lm_commit *m;
	size_t seen;
	int rc;

again:
	pthread_rwlock_rdlock(&db->maplock);
	seen = db->map_size;
	rc = mdb_txn_begin(db->env, NULL, 0, &w);
	if (rc == MDB_MAP_RESIZED) {
		pthread_rwlock_unlock(&db->maplock);
		rc = lm_adopt_size(db);
		if (rc == 0)
			goto again;
		goto fail_all;
	}
	if (rc) {
		pthread_rwlock_unlock(&db->maplock);
		rc = lm_err(rc);
		goto fail_all;
	}
	for (m = batch; m; m = m->next) {
		m->rc = lm_validate(db, w, m->txn);
		if (m->rc < 0)
			continue;
		rc = lm_apply(db, w, m->txn);
		if (rc)
			break;
	}
	if (!rc && db->wal) { /* the log record of this LMDB transaction */
		c3_buf_reset(&db->rec);
		for (m = batch; m; m = m->next)
			if (m->rc == 0)
				kv_wal_encode(&db->rec, &m->txn->w);
		if (db->rec.err)
			rc = ENOMEM;
		else if (db->rec.len > KV_WAL_REC_MAX)
			rc = MDB_BAD_VALSIZE; /* isolated below; alone: -C3FS_EKVTOOLARGE */
	}
	if (!rc) {
		rc = mdb_txn_commit(w);
		pthread_rwlock_unlock(&db->maplock);
		if (rc == 0) {
			if (db->wal && db->rec.len)
				lm_log_queue(db, batch);
			return;
		}
	} else {
		mdb_txn_abort(w);
		pthread_rwlock_unlock(&db->maplock);
	}
	/* nothing of the batch was applied */
	if (rc == MDB_MAP_FULL && lm_grow(db, seen) == 0)
		goto again;
	if (batch->next) {
		/* isolate the member(s) that fail */
		struct lm_commit *nx;

		for (m = batch; m; m = nx) {
			nx = m->next;
			m->next = NULL;
			lm_process(db, m);
			m->next = nx;
		}
		return;
	}
	rc = lm_err(rc);
fail_all:
	for (m = batch; m; m = m->next)
		m->rc = rc;
}

static void lm_ckpt_maybe(struct lm_db *db);

static int lm_commit(struct kv_txn *txn)
{
	struct lm_db *db = (struct lm_db *)txn->db;
	struct lm_txn *t = txn->be;
	struct lm_commit me = { .txn = txn };

	/* no writes: the reads came from one snapshot, nothing to check */
	if (txn->read_only || !lm_has_writes(txn)) {
		lm_end(txn);
		return 0;
	}
	/* the snapshot is no longer needed: the read set holds copies */
	pthread_rwlock_rdlock(&db->maplock);
	mdb_txn_abort(t->rtxn);
	pthread_rwlock_unlock(&db->maplock);
	t->rtxn = NULL;

	pthread_mutex_lock(&db->gmu);
	if (db->qtail)
		db->qtail->next = &me;
	else
		db->qhead = &me;
	db->qtail = &me;
	while (!me.done) {
		if (db->leader) {
			pthread_cond_wait(&db->gcv, &db->gmu);
			continue;
		}
		struct lm_commit *batch = db->qhead, *m;
		uint64_t nb = 0;

		int failed = db->failed;

		db->qhead = db->qtail = NULL;
		db->leader = true;
		pthread_mutex_unlock(&db->gmu);
		if (failed) {
			for (m = batch; m; m = m->next)
				m->rc = failed;
		} else {
			lm_process(db, batch);
			lm_ckpt_maybe(db);
		}
		pthread_mutex_lock(&db->gmu);
		for (m = batch; m; m = m->next)
			nb++;
		/* mark done last: a follower's node may vanish as soon as it sees done */
		db->batches++;
		db->commits += nb;
		for (m = batch; m;) {
			struct lm_commit *nx = m->next;

			m->done = true;
			m = nx;
		}
		db->leader = false;
		pthread_cond_broadcast(&db->gcv);
	}
	if (me.rc == 0 && me.lsn) {
		if (!txn->lazy)
			me.rc = lm_log_wait(db, me.lsn);
		else if (db->ldur < me.lsn && !db->lwriting && !db->lkick) {
			db->lkick = true; /* nobody may come to write it: the thread will */
			pthread_cond_broadcast(&db->ckcv);
		}
	}
	pthread_mutex_unlock(&db->gmu);
	lm_end(txn);
	return me.rc;
}

static void lm_abort(struct kv_txn *txn)
{
	lm_end(txn);
}

/* ---- sync=wal: log, checkpoints, recovery ------------------------------------------- */

/* Log writes.  A batch applied in LMDB (NOSYNC: nothing is durable yet) is queued in
 * lpend under the next batch number; the committers of a batch wait until the log is
 * durable up to their batch (lm_log_wait), and whichever of them finds no writer active
 * appends everything queued as one record.  So the next batch can be validated and
 * applied in LMDB while the previous one is being written, and batches that queue up
 * during a write share the next one.  Records reach the log in batch order, so a crash
 * loses a suffix of batches, never one in the middle.  A lazy commit (kv_txn_set_lazy)
 * does not wait: it becomes durable with the next write, which the next durable commit
 * or, when none comes, the checkpoint thread makes (lkick).
 *
 * Once a write fails nothing queued can be known durable: those batches are applied and
 * visible, so their committers get -C3FS_EKVMAYBECOMMITTED and the store refuses commits
 * until it is reopened (recovery then keeps exactly what the log holds). */

/* The leader, after a successful LMDB commit of a batch with writes. */
static void lm_log_queue(struct lm_db *db, struct lm_commit *batch)
{
	uint64_t lsn;

	pthread_mutex_lock(&db->gmu);
	/* never let one record outgrow what a read accepts: write what waits first */
	while (db->lpend.len && db->lpend.len + db->rec.len > KV_WAL_REC_MAX && !db->failed) {
		if (!db->lwriting)
			lm_log_write_locked(db);
		else
			pthread_cond_wait(&db->lcv, &db->gmu);
	}
	c3_buf_append(&db->lpend, db->rec.data, db->rec.len);
	if (db->lpend.err) {
		/* not queued: nothing of it can become durable */
		c3_buf_release(&db->lpend);
		if (!db->failed)
			db->failed = -ENOMEM;
		pthread_mutex_unlock(&db->gmu);
		for (struct lm_commit *m = batch; m; m = m->next)
			if (m->rc == 0)
				m->rc = -C3FS_EKVMAYBECOMMITTED;
		return;
	}
	lsn = ++db->lprod;
	pthread_mutex_unlock(&db->gmu);
	if (db->rec.cap > KV_WAL_GROW)
		c3_buf_release(&db->rec); /* do not keep a huge batch's buffer */
	db->since_ckpt++;
	for (struct lm_commit *m = batch; m; m = m->next)
		if (m->rc == 0)
			m->lsn = lsn;
}

/* With gmu held and no writer active: append everything queued as one record (gmu is
 * released during the write). */
static void lm_log_write_locked(struct lm_db *db)
{
	struct c3_buf t = db->lwbuf;
	uint64_t upto = db->lprod;
	int rc;

	C3_ASSERT_LOCKED(&db->gmu);
	C3_ASSERT(!db->lwriting);
	db->lwbuf = db->lpend;
	db->lpend = t;
	c3_buf_reset(&db->lpend);
	db->lwriting = true;
	db->lkick = false;
	pthread_mutex_unlock(&db->gmu);
	rc = kv_wal_append(db->wal, db->lwbuf.data, db->lwbuf.len);
	pthread_mutex_lock(&db->gmu);
	if (rc == 0) {
		db->ldur = upto;
		db->lbytes += db->lwbuf.len + KV_WAL_REC_HDR;
	} else if (!db->failed) {
		LOG_ERROR("kv lmdb: log write failed (%s); the store refuses commits until "
			  "reopened",
			  c3_strerror(rc));
		db->failed = rc;
	}
	if (db->lwbuf.cap > KV_WAL_GROW)
		c3_buf_release(&db->lwbuf);
	c3_buf_reset(&db->lwbuf);
	db->lwriting = false;
	pthread_cond_broadcast(&db->lcv);
	/* batches queued meanwhile: a durable committer among them writes them next; if
	 * they are all lazy, nobody would, so the checkpoint thread is asked to */
	if (db->ldur < db->lprod && !db->failed && !db->lkick) {
		db->lkick = true;
		pthread_cond_broadcast(&db->ckcv);
	}
}

/* With gmu held: wait until batch lsn is durable, writing the log when nobody else is.
 * 0, or -C3FS_EKVMAYBECOMMITTED when the log failed first. */
static int lm_log_wait(struct lm_db *db, uint64_t lsn)
{
	C3_ASSERT_LOCKED(&db->gmu);
	while (db->ldur < lsn) {
		if (db->failed && !db->lwriting)
			return -C3FS_EKVMAYBECOMMITTED;
		if (!db->lwriting)
			lm_log_write_locked(db);
		else
			pthread_cond_wait(&db->lcv, &db->gmu);
	}
	return 0;
}

/* With gmu held: make everything queued durable and keep other writers out (lwriting)
 * until lm_log_release: for a log switch.  0 or the log's error. */
static int lm_log_hold(struct lm_db *db)
{
	int rc = lm_log_wait(db, db->lprod);

	while (rc == 0 && db->lwriting)
		pthread_cond_wait(&db->lcv, &db->gmu);
	if (rc == 0 && db->failed)
		rc = db->failed;
	if (rc == 0)
		db->lwriting = true;
	return rc;
}

static void lm_log_release(struct lm_db *db, bool switched)
{
	if (switched)
		db->lbytes = 0;
	db->lwriting = false;
	pthread_cond_broadcast(&db->lcv);
}

/* Checkpoints (kv_ckpt.c): the snapshot's read transaction under the map lock (shared),
 * the checkpoint thread also writes lazy batches nobody else came to write (lkick). */
static void lm_ck_lock(void *owner)
{
	pthread_rwlock_rdlock(&((struct lm_db *)owner)->maplock);
}

static void lm_ck_unlock(void *owner)
{
	pthread_rwlock_unlock(&((struct lm_db *)owner)->maplock);
}

/* gmu held: a background checkpoint ended. */
static void lm_ck_done(void *owner, int rc)
{
	struct lm_db *db = owner;

	if (rc < 0 && !db->failed) {
		LOG_ERROR("kv lmdb: checkpoint failed (%s); the store refuses "
			  "commits until reopened",
			  c3_strerror(rc));
		db->failed = rc;
	}
	if (rc == 0)
		db->ckpts++;
}

/* gmu held: lazy batches with no durable commit behind them. */
static bool lm_ck_idle(void *owner)
{
	struct lm_db *db = owner;

	if (!db->lkick)
		return false;
	db->lkick = false; /* a write that leaves more queued sets it again */
	if (!db->lwriting && !db->failed && db->ldur < db->lprod)
		lm_log_write_locked(db);
	return true;
}

static const struct kv_ckpt_ops lm_ck_ops = {
	.lock = lm_ck_lock,
	.unlock = lm_ck_unlock,
	.mdb_err = lm_err,
	.done = lm_ck_done,
	.idle = lm_ck_idle,
};

/* The leader, after a batch: start a checkpoint when enough log has accumulated and
 * none is running (the previous one must be durable before the log switches again). */
static void lm_ckpt_maybe(struct lm_db *db)
{
	bool go;
	int rc;

	if (!db->wal)
		return;
	pthread_mutex_lock(&db->gmu);
	go = !db->failed && (db->since_ckpt >= db->ckpt_batches || db->lbytes >= LM_CKPT_BYTES) &&
	     kv_ckpt_claim(&db->ck);
	/* the snapshot about to be pinned holds every batch applied so far: they must all
	 * be in the old log file, none may follow the switch */
	if (go && (rc = lm_log_hold(db)) < 0) {
		kv_ckpt_hand_over(&db->ck, rc); /* idle again */
		go = false;
	}
	pthread_mutex_unlock(&db->gmu);
	if (!go)
		return;
	db->since_ckpt = 0;
	rc = kv_ckpt_begin(&db->ck);
	pthread_mutex_lock(&db->gmu);
	lm_log_release(db, rc == 0);
	if (rc < 0) {
		LOG_WARN("kv lmdb: cannot begin a checkpoint: %s", c3_strerror(rc));
		if (rc == -C3FS_EKV)
			db->failed = rc;
	}
	kv_ckpt_hand_over(&db->ck, rc);
	pthread_mutex_unlock(&db->gmu);
}

/* Replay of one record at open: one LMDB write transaction (NOSYNC). */
struct lm_replay {
	struct lm_db *db;
	MDB_txn *w;
	int mrc; /* the MDB code that stopped the decode */
};

static int rp_clear_range(void *arg, const uint8_t *b, size_t bl, const uint8_t *e, size_t el)
{
	struct lm_replay *r = arg;

	r->mrc = lm_clear_range(r->db, r->w, b, bl, e, el);
	return r->mrc ? -1 : 0;
}

static int rp_set(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct lm_replay *r = arg;

	r->mrc = lm_put(r->db, r->w, k, kl, v, vl);
	return r->mrc ? -1 : 0;
}

static int rp_clear(void *arg, const uint8_t *k, size_t kl)
{
	struct lm_replay *r = arg;

	r->mrc = lm_del(r->db, r->w, k, kl);
	return r->mrc ? -1 : 0;
}

static const struct kv_wal_ops lm_replay_ops = { rp_clear_range, rp_set, rp_clear };

static int lm_replay_rec(void *arg, const uint8_t *p, size_t len)
{
	struct lm_replay r = { .db = arg };
	int rc;

	for (;;) {
		size_t seen = r.db->map_size;

		rc = mdb_txn_begin(r.db->env, NULL, 0, &r.w);
		if (rc)
			return lm_err(rc);
		r.mrc = 0;
		rc = kv_wal_decode(p, len, &lm_replay_ops, &r);
		if (rc == 0) {
			rc = mdb_txn_commit(r.w);
		} else {
			mdb_txn_abort(r.w);
			if (!r.mrc) {
				LOG_ERROR("kv lmdb: malformed log record (checksum valid)");
				return rc;
			}
			rc = r.mrc;
		}
		if (rc == 0)
			return 0;
		if (rc != MDB_MAP_FULL || lm_grow(r.db, seen) < 0)
			return lm_err(rc);
	}
}

/* ---- open / close ----------------------------------------------------------------- */

/* Release whatever lm_open set up (also after a partial open). */
static void lm_teardown(struct lm_db *db)
{
	kv_ckpt_stop(&db->ck);
	kv_ckpt_release(&db->ck);
	if (db->env)
		mdb_env_close(db->env);
	kv_wal_close(db->wal);
	if (db->dirfd >= 0)
		close(db->dirfd); /* releases the flock */
	c3_buf_release(&db->rec);
	c3_buf_release(&db->lpend);
	c3_buf_release(&db->lwbuf);
	pthread_rwlock_destroy(&db->maplock);
	pthread_mutex_destroy(&db->gmu);
	pthread_cond_destroy(&db->gcv);
	pthread_cond_destroy(&db->ckcv);
	pthread_cond_destroy(&db->lcv);
	free(db);
}

/* Open the LMDB backend from its URI argument.  Long (about 170 lines) because opening is
 * one ordered sequence with one failure path (lm_free): parse the options, take the
 * directory lock, open and size the environment, then — with sync=wal — restore the
 * checkpointed meta pages, replay the log and start the checkpointer; each step depends
 * on the ones before and a failure anywhere must undo them in reverse. */
static int lm_open(const char *arg, struct kv_db **out)
{
	struct lm_db *db;
	char *path = NULL;
	struct lm_opts o;
	struct kv_wal *wal = NULL;
	MDB_txn *t;
	int rc = lm_parse_uri(arg, &path, &o);

	if (rc < 0)
		return rc;
	bool created = mkdir(path, 0700) == 0;

	if (!created && errno != EEXIST) {
		rc = -errno;
		free(path);
		return rc;
	}
	db = calloc(1, sizeof(*db));
	if (!db) {
		free(path);
		return -ENOMEM;
	}
	db->dirfd = db->ck.datafd = -1;
	db->ck.ops = &lm_ck_ops;
	db->ck.owner = db;
	db->ck.name = "kv lmdb";
	db->ck.off_hint = "sync=wal unusable";
	db->ck.corrupt_rc = -C3FS_EKV;
	db->ck.mu = &db->gmu;
	db->ck.cv = &db->ckcv;
	db->ckpt_batches = o.ckpt_batches;
	c3_buf_init(&db->rec);
	pthread_rwlockattr_t ra;

	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&db->maplock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&db->gmu, NULL);
	pthread_cond_init(&db->gcv, NULL);
	pthread_cond_init(&db->ckcv, NULL);
	pthread_cond_init(&db->lcv, NULL);

	/* sync=wal owns the directory (its log and LMDB's unsynced state are private to
	 * one process); sync=lmdb shares it with other sync=lmdb handles */
	db->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (db->dirfd < 0) {
		rc = -errno;
		goto fail;
	}
	if (flock(db->dirfd, (o.wal ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -C3FS_EBUSY : -errno;
		if (rc == -C3FS_EBUSY)
			LOG_ERROR("kv lmdb:%s is open elsewhere: sync=wal needs it alone, "
				  "sync=lmdb shares it only with sync=lmdb",
				  path);
		goto fail;
	}
	rc = kv_wal_open(db->dirfd, o.wal, &wal);
	if (rc < 0)
		goto fail;
	const struct kv_wal_ckpt *ck = wal ? kv_wal_ckpt(wal) : NULL;
	bool recover = ck && !ck->clean; /* not closed cleanly in sync=wal mode */

	if (recover && !o.wal && flock(db->dirfd, LOCK_EX | LOCK_NB) < 0) {
		rc = -C3FS_EBUSY;
		LOG_ERROR("kv lmdb:%s needs recovery of its log but is open elsewhere", path);
		goto fail;
	}
	if (recover) {
		rc = kv_ckpt_restore_metas(db->dirfd, ck);
		if (rc < 0)
			goto fail;
	}
	if (!o.wal && !recover) { /* sync=lmdb on a clean (or no) log: leave it alone */
		kv_wal_close(wal);
		wal = NULL;
	}
	rc = mdb_env_create(&db->env);
	if (rc) {
		db->env = NULL;
		rc = lm_err(rc);
		goto fail;
	}
	if (mdb_env_get_maxkeysize(db->env) < KV_KEY_MAX + 1) {
		rc = -C3FS_EKV; /* an LMDB built with a smaller key limit */
		goto fail;
	}
	rc = mdb_env_set_mapsize(db->env, o.map_size);
	if (!rc)
		rc = mdb_env_set_maxreaders(db->env, LM_MAX_READERS);
	if (!rc)
		rc = mdb_env_open(db->env, path, MDB_NOTLS | (o.wal ? MDB_NOSYNC : 0), 0600);
	if (rc) {
		rc = lm_err(rc);
		goto fail;
	}
	/* free reader slots left by crashed processes: they would pin old pages forever */
	int dead = 0;

	mdb_reader_check(db->env, &dead);
	rc = mdb_txn_begin(db->env, NULL, 0, &t);
	if (!rc) {
		rc = mdb_dbi_open(t, NULL, 0, &db->dbi);
		if (rc)
			mdb_txn_abort(t);
		else
			rc = mdb_txn_commit(t);
	}
	if (rc) {
		rc = lm_err(rc);
		goto fail;
	}
	MDB_envinfo info;

	mdb_env_info(db->env, &info);
	db->map_size = info.me_mapsize; /* may be larger: an existing, bigger file */
	db->map_max = o.map_max > db->map_size ? o.map_max : db->map_size;

	if (wal) {
		uint64_t nrec = 0;

		db->wal = wal;
		wal = NULL;
		rc = kv_ckpt_init(&db->ck, db->env, db->dirfd, db->wal);
		if (rc < 0)
			goto fail;
		if (recover) {
			rc = kv_wal_scan(db->wal, lm_replay_rec, db, &nrec);
			if (rc < 0)
				goto fail;
			db->restored = 1;
			db->replayed = nrec;
			LOG_INFO("kv lmdb:%s recovered: checkpoint + %llu log records", path,
				 (unsigned long long)nrec);
		}
		/* a fresh durable checkpoint of the current state before any commit */
		rc = kv_ckpt_now(&db->ck, !o.wal, false);
		if (rc < 0)
			goto fail;
		if (o.wal) {
			rc = kv_ckpt_start(&db->ck);
			if (rc < 0)
				goto fail;
		} else {
			/* sync=lmdb after a recovery: the log is clean now, leave it */
			kv_ckpt_release(&db->ck);
			kv_wal_close(db->wal);
			db->wal = NULL;
			if (flock(db->dirfd, LOCK_SH | LOCK_NB) < 0) {
				rc = -C3FS_EBUSY;
				goto fail;
			}
		}
	}
	/* LMDB syncs its files but not the directory entries that name them */
	rc = lm_sync_dir(path);
	if (rc == 0 && created)
		rc = lm_sync_parent(path);
	if (rc < 0)
		goto fail;
	free(path);
	*out = &db->base;
	return 0;

fail:
	kv_wal_close(wal);
	lm_teardown(db);
	free(path);
	return rc;
}

static void lm_close(struct kv_db *kdb)
{
	struct lm_db *db = (struct lm_db *)kdb;

	if (db->wal) {
		int failed, rc;

		pthread_mutex_lock(&db->gmu);
		kv_ckpt_wait_idle(&db->ck);
		failed = db->failed;
		if (!failed)
			failed = lm_log_hold(db); /* lazy batches still queued */
		pthread_mutex_unlock(&db->gmu);
		/* a clean checkpoint: the next open needs no recovery */
		rc = failed ? failed : kv_ckpt_now(&db->ck, true, false);
		if (rc < 0)
			LOG_WARN("kv lmdb: no clean checkpoint at close (%s): the next open "
				 "recovers from the log",
				 c3_strerror(rc));
	}
	lm_teardown(db);
}

/* Checkpoint and recovery counters of a sync=wal database (tests). */
void kv__lmdb_wal_stats(struct kv_db *kdb, uint64_t *ckpts, uint64_t *restored,
			uint64_t *replayed)
{
	struct lm_db *db = (struct lm_db *)kdb;

	pthread_mutex_lock(&db->gmu);
	*ckpts = db->ckpts;
	*restored = db->restored;
	*replayed = db->replayed;
	pthread_mutex_unlock(&db->gmu);
}

void kv__lmdb_log_state(struct kv_db *kdb, uint64_t *queued, uint64_t *durable)
{
	struct lm_db *db = (struct lm_db *)kdb;

	pthread_mutex_lock(&db->gmu);
	*queued = db->lprod;
	*durable = db->ldur;
	pthread_mutex_unlock(&db->gmu);
}

void kv__lmdb_stats(struct kv_db *kdb, uint64_t *batches, uint64_t *commits, uint64_t *grows)
{
	struct lm_db *db = (struct lm_db *)kdb;

	pthread_mutex_lock(&db->gmu);
	*batches = db->batches;
	*commits = db->commits;
	*grows = db->grows;
	pthread_mutex_unlock(&db->gmu);
}

const struct kv_ops kv__lmdb_ops = {
	.name = "lmdb",
	.open = lm_open,
	.close = lm_close,
	.begin = lm_begin,
	.get = lm_get,
	.range = lm_range,
	.commit = lm_commit,
	.abort = lm_abort,
};
