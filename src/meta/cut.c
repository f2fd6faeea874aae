/* meta/cut.c — pending chunk cuts: a truncate whose storage cut has not been done yet.
 *
 * A shrinking truncate (setattr size, O_TRUNC) commits the new length and, in the same
 * transaction, a 'P' ino -> (length, stamp) record.  The storage cut runs after the
 * commit, outside any transaction; only when it succeeded is the record dropped (and only
 * if it still carries the same stamp: a newer truncate owns a newer record).  So a cut
 * that fails — storage down, a chain being reconfigured past the client's retries, meta
 * crashing between commit and cut — is never forgotten:
 *   - GC retries it (meta__cut_gc) once the file has no write session and its length is
 *     still the cut's length; a file that grew since (a writer that was open during the
 *     truncate reported more) is not cut, its record is dropped (cutting would remove
 *     bytes written after the truncate);
 *   - a later open for writing, or a setattr that extends the file, cuts first
 *     (meta__cut_first), so bytes from before the truncate never reappear in a re-grown
 *     range;
 *   - while the record exists, storage's end of the file is not trusted as a length
 *     (close with other writers, lengths recovered from a crashed writer): the chunks
 *     past the cut would otherwise bring a truncated length back.
 * The record goes with the inode (meta__inode_delete).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "meta/meta_int.h"

static size_t cut_key(uint8_t k[9], uint64_t ino)
{
	k[0] = META__K_CUT;
	kv_put_be64(k + 1, ino);
	return 9;
}

int meta__cut_note(struct kv_txn *t, uint64_t ino, uint64_t length, uint64_t stamp)
{
	uint8_t k[9], v[16];

	kv_put_be64(v, length);
	kv_put_be64(v + 8, stamp);
	return kv_set(t, k, cut_key(k, ino), v, sizeof(v));
}

int meta__cut_get(struct kv_txn *t, uint64_t ino, struct meta__cut *c)
{
	uint8_t k[9];
	const uint8_t *v;
	size_t vl;
	int rc = kv_get(t, k, cut_key(k, ino), &v, &vl);

	if (rc < 0)
		return rc;
	if (vl != 16)
		return C3_CORRUPT("cut", "of inode %llu: value length %zu, want 16",
				  (unsigned long long)ino, vl);
	c->ino = ino;
	c->length = kv_get_be64(v);
	c->stamp = kv_get_be64(v + 8);
	return 0;
}

int meta__cut_clear(struct kv_txn *t, uint64_t ino)
{
	uint8_t k[9];

	return kv_clear(t, k, cut_key(k, ino));
}

static int cut_drop_txn(struct kv_txn *t, void *ap)
{
	const struct meta__cut *want = ap;
	struct meta__cut c;
	int rc = meta__cut_get(t, want->ino, &c);

	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (c.stamp != want->stamp)
		return 0;
	/* a crash may lose this: the record then stays and GC cuts once more (a cut is
	 * idempotent), so no need to wait for the log write */
	kv_txn_set_lazy(t);
	return meta__cut_clear(t, want->ino);
}

int meta__cut_finish(struct meta_svc *svc, const struct meta__cut *c,
		     const struct meta_layout *layout)
{
	int rc = 0;

	if (svc->opts.hooks.truncate_chunks)
		rc = svc->opts.hooks.truncate_chunks(svc->opts.hooks.arg, c->ino, layout,
						     c->length);
	if (rc < 0)
		return rc; /* the record stays: GC or the next writer cuts */
	if (kv_run(svc->db, false, cut_drop_txn, (void *)c) < 0)
		LOG_WARN("meta: inode %llu cut to %llu, its pending record stays (GC drops it)",
			 (unsigned long long)c->ino, (unsigned long long)c->length);
	return 0;
}

int meta__cut_first(struct kv_txn *t, const struct meta__inode *in, uint64_t except,
		    struct meta__cut *out)
{
	struct meta__cut c;
	int rc;

	if (!S_ISREG(in->a.mode))
		return 0;
	rc = meta__cut_get(t, in->a.ino, &c);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	/* grown since the truncate, or writers that may have written past the cut: not
	 * ours to cut (GC drops or retries the record) */
	if (c.length != in->a.length)
		return 0;
	rc = meta__write_sessions(t, in->a.ino, except);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	*out = c;
	return META__CUT_FIRST;
}

int meta__cut_pending(struct kv_txn *t, uint64_t ino)
{
	struct meta__cut c;
	int rc = meta__cut_get(t, ino, &c);

	return rc == -ENOENT ? 0 : rc < 0 ? rc : 1;
}

/* ---- GC: retry the cuts that are still pending ---------------------------------- */

enum cut_state { CUT_KEEP, CUT_DROP, CUT_READY };

struct cut_item {
	struct meta__cut c;
	enum cut_state state;
	struct meta_layout layout;
};

struct cut_scan {
	uint64_t from;
	int max, n;
	struct cut_item *it;
};

static int cut_scan_txn(struct kv_txn *t, void *ap)
{
	struct cut_scan *s = ap;
	struct kv_pair *p;
	bool more;
	int n;

	s->n = 0;
	n = meta__range_from(t, META__K_CUT, s->from, s->max, &p, &more);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct cut_item *it = &s->it[i];
		struct meta__inode in;
		int rc;

		if (p[i].klen != 9 || p[i].vlen != 16)
			return C3_CORRUPT("cut", "key length %zu (want 9), value length %zu (want 16)",
					  (size_t)p[i].klen, (size_t)p[i].vlen);
		memset(it, 0, sizeof(*it));
		it->c.ino = kv_get_be64(p[i].key + 1);
		it->c.length = kv_get_be64(p[i].val);
		it->c.stamp = kv_get_be64(p[i].val + 8);
		rc = meta__inode_get(t, it->c.ino, &in);
		if (rc == -ENOENT) {
			it->state = CUT_DROP;
		} else if (rc < 0) {
			return rc;
		} else if (!S_ISREG(in.a.mode) || in.a.nlink == 0) {
			it->state = CUT_DROP; /* the file's chunks go with the file */
		} else if (in.a.length != it->c.length) {
			it->state = CUT_DROP; /* grew since: see the top of this file */
		} else {
			rc = meta__write_sessions(t, it->c.ino, 0);
			if (rc < 0)
				return rc;
			it->state = rc ? CUT_KEEP : CUT_READY;
			it->layout = in.a.layout;
		}
	}
	s->n = n;
	return 0;
}

int meta__cut_gc(struct meta_svc *svc, int max, uint64_t *cut, uint64_t *dropped,
		 uint64_t *errors)
{
	struct cut_scan s = { .from = svc->cut_cursor, .max = max };
	int rc;

	s.it = calloc((size_t)max, sizeof(*s.it));
	if (!s.it)
		return -ENOMEM;
	rc = kv_run(svc->db, true, cut_scan_txn, &s);
	if (rc < 0) {
		free(s.it);
		return rc;
	}
	svc->cut_cursor = s.n < max ? 0 : s.it[s.n - 1].c.ino + 1;
	for (int i = 0; i < s.n; i++) {
		struct cut_item *it = &s.it[i];

		if (it->state == CUT_KEEP)
			continue;
		if (it->state == CUT_DROP) {
			if (kv_run(svc->db, false, cut_drop_txn, &it->c) < 0)
				(*errors)++;
			else
				(*dropped)++;
			continue;
		}
		rc = meta__cut_finish(svc, &it->c, &it->layout);
		if (rc < 0) {
			static _Atomic uint64_t last_log_ms;
			uint64_t now = c3_now_ms(), last = atomic_load(&last_log_ms);

			(*errors)++;
			/* storage may stay down for long: one line per 30 s, not per pass */
			if (now - last >= 30000 &&
			    atomic_compare_exchange_strong(&last_log_ms, &last, now))
				LOG_WARN("meta: pending cut of inode %llu to %llu bytes failed again: "
					 "%s (retried every GC pass)",
					 (unsigned long long)it->c.ino,
					 (unsigned long long)it->c.length, c3_strerror(rc));
		} else {
			(*cut)++;
			LOG_INFO("meta: pending cut of inode %llu to %llu bytes done",
				 (unsigned long long)it->c.ino, (unsigned long long)it->c.length);
		}
	}
	free(s.it);
	return 0;
}

/* kv_run of fn (or, with idem, of meta__idem_txn) that gives way to a pending cut: when
 * the body answers META__CUT_FIRST with *first and *layout filled, the cut runs and the
 * body runs again. */
int meta__run_cut_first(struct meta_svc *svc, kv_txn_fn fn, void *arg, struct meta__cut *first,
			struct meta_layout *layout, struct meta__idem *idem)
{
	int rc;

	for (int round = 0;; round++) {
		memset(first, 0, sizeof(*first));
		rc = idem ? kv_run(svc->db, false, meta__idem_txn, idem)
			  : kv_run(svc->db, false, fn, arg);
		if (rc != META__CUT_FIRST)
			return rc;
		if (round == 3)
			return -C3FS_EBUSY; /* cut again and again by others: let the client retry */
		rc = meta__cut_finish(svc, first, layout);
		if (rc < 0)
			return rc;
	}
}
