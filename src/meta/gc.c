/* meta/gc.c — background work of the meta service: session expiry, deletion of
 * unlinked files, expiry of idempotency records.
 *
 * Rules:
 *   - A client's sessions expire when its 'L' record (renewed by META_T_RENEW, refreshed by
 *     opens) is older than session_timeout_ms and the cluster (hooks.client_alive) does
 *     not vouch for it.  First the length of each file it had open is raised to what
 *     storage holds (hooks.query_length: a crashed writer never reported it), then all its
 *     'S'/'C' pairs go in one or more transactions (each re-checking that 'L' was not
 *     renewed meanwhile).
 *   - An inode in the 'G' queue (nlink 0) is deleted only when it has no session: first
 *     its chunks (hooks.remove_chunks, outside any transaction; on failure it stays queued
 *     and is retried next pass), then, in one transaction that re-checks nlink == 0 and no
 *     sessions, its 'I' and 'X' keys and the 'G' entry.  No new session can appear on an
 *     nlink-0 inode (open refuses it), so a file is never removed while open.
 *   - A removed directory (nlink 0, queued by rmdir / rename / rmtree) has no chunks; its
 *     inode is deleted (with 'X' and 'T' rows) once it has no session (directory opens
 *     with META_O_DIR) and dir_grace_ms has passed since it was queued (clients without
 *     directory sessions may still hold it open).
 *   - A truncate whose storage cut did not happen ('P' record) is cut again once the file
 *     has no writer (cut.c has the rules).
 *   - Idempotency records older than idem_ttl_ms are dropped through the 'E' index.
 * Several services may run GC at once on one KV: every step re-checks inside its
 * transaction, so the worst case is duplicated chunk-removal calls (idempotent).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/errors.h"
#include "meta/meta_int.h"

struct scan_arg {
	uint8_t prefix;  /* 'L' or 'G': keys prefix|id(8), values starting with a u64 */
	uint64_t from;   /* first id to look at */
	int max;
	uint64_t *a, *b; /* outputs: the id and the value's first u64 of each key */
	int n;
};

/* Copy up to max keys of one prefix, from id `from` on, so the caller can work on them in
 * separate transactions. */
static int scan_txn(struct kv_txn *t, void *ap)
{
	struct scan_arg *s = ap;
	struct kv_pair *p;
	bool more;
	int n;

	s->n = 0;
	n = meta__range_from(t, s->prefix, s->from, s->max, &p, &more);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (p[i].klen != 9 || p[i].vlen < 8)
			return C3_CORRUPT("id record", "prefix '%c': key length %zu (want 9), value "
					  "length %zu (want >= 8)", s->prefix, (size_t)p[i].klen,
					  (size_t)p[i].vlen);
		s->a[i] = kv_get_be64(p[i].key + 1);
		s->b[i] = kv_get_be64(p[i].val);
	}
	s->n = n;
	return 0;
}

static int scan(struct meta_svc *svc, uint8_t prefix, uint64_t from, int max, uint64_t *a,
		uint64_t *b)
{
	struct scan_arg s = { .prefix = prefix, .from = from, .max = max, .a = a, .b = b };
	int rc = kv_run(svc->db, true, scan_txn, &s);

	return rc < 0 ? rc : s.n;
}

/* --------------------------------------------------------------- file deletion
 * One pass looks at a batch of queued inodes in one read transaction, removes the chunks
 * of the deletable ones (outside transactions), then deletes all of them in one write
 * transaction that re-checks each (so one fsync per batch, not per file). */
enum gc_state {
	GC_STALE,   /* inode gone or linked again: just drop the queue entry */
	GC_BUSY,    /* still has sessions: keep queued */
	GC_READY,   /* nlink 0, no sessions: remove chunks, then delete */
	GC_SKIP,    /* chunk removal failed: keep queued, retry next pass */
	GC_WAIT,    /* removed directory in its grace period: keep queued */
};

struct gc_item {
	uint64_t ino;
	enum gc_state state;
	bool is_reg, is_dir;
	uint64_t queued_ns; /* when it was queued (the 'G' value) */
	struct meta_layout layout;
	int result; /* after the delete transaction: 1 deleted, 2 busy, 0 nothing */
};

struct gc_batch {
	struct gc_item *it;
	int n;
	uint64_t now, dir_grace_ns;
};

static int gc_clear_entry(struct kv_txn *t, uint64_t ino)
{
	uint8_t k[9];

	return kv_clear(t, k, meta__key_id1(k, META__K_GC, ino));
}

static int gc_check_txn(struct kv_txn *t, void *ap)
{
	struct gc_batch *gb = ap;

	for (int i = 0; i < gb->n; i++) {
		struct gc_item *g = &gb->it[i];
		struct meta__inode in;
		int rc = meta__inode_get(t, g->ino, &in);

		if (rc == -ENOENT || (rc == 0 && in.a.nlink > 0)) {
			g->state = GC_STALE;
			continue;
		}
		if (rc < 0)
			return rc;
		rc = meta__range_any(t, META__K_SESSION, g->ino);
		if (rc < 0)
			return rc;
		g->state = rc ? GC_BUSY : GC_READY;
		g->layout = in.a.layout;
		g->is_reg = S_ISREG(in.a.mode);
		g->is_dir = S_ISDIR(in.a.mode);
		if (g->is_dir && g->state == GC_READY &&
		    g->queued_ns + gb->dir_grace_ns > gb->now)
			g->state = GC_WAIT;
	}
	return 0;
}

static int gc_delete_txn(struct kv_txn *t, void *ap)
{
	struct gc_batch *gb = ap;

	for (int i = 0; i < gb->n; i++) {
		struct gc_item *g = &gb->it[i];
		struct meta__inode in;
		int rc;

		g->result = 0;
		if (g->state != GC_STALE && g->state != GC_READY)
			continue;
		rc = meta__inode_get(t, g->ino, &in);
		if (rc == -ENOENT || (rc == 0 && in.a.nlink > 0)) {
			rc = gc_clear_entry(t, g->ino);
			if (rc < 0)
				return rc;
			continue;
		}
		if (rc < 0)
			return rc;
		if (g->state != GC_READY)
			continue; /* was stale at check time, is an orphan again: next pass */
		rc = meta__range_any(t, META__K_SESSION, g->ino);
		if (rc < 0)
			return rc;
		if (rc) {
			g->result = 2;
			continue;
		}
		if (S_ISDIR(in.a.mode)) {
			/* nothing can be created in a removed directory: never true unless the
			 * KV was damaged; keep it rather than orphan its entries */
			rc = meta__dir_nonempty(t, g->ino);
			if (rc < 0)
				return rc;
			if (rc) {
				g->result = 3;
				continue;
			}
		}
		rc = meta__inode_delete(t, g->ino); /* 'I', 'T' rows, 'X' */
		if (rc == 0)
			rc = gc_clear_entry(t, g->ino);
		if (rc < 0)
			return rc;
		g->result = 1;
	}
	return 0;
}

/* --------------------------------------------------------------- session expiry */
struct renew_arg {
	uint64_t client, seen, now;
};

/* Refresh a client's record if it still holds the value we saw. */
static int client_refresh_txn(struct kv_txn *t, void *ap)
{
	struct renew_arg *a = ap;
	uint8_t k[9];
	const uint8_t *cur;
	size_t vl;
	int rc = kv_get(t, k, meta__key_id1(k, META__K_CLIENT, a->client), &cur, &vl);

	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	return meta__client_renew(t, a->client, a->now);
}

/* 1 when the client's record is still stale inside this transaction (so we may drop). */
static int client_stale_txn(struct kv_txn *t, void *ap)
{
	struct renew_arg *a = ap;

	return meta__client_unrenewed(t, a->client, a->seen);
}

/* --------------------------------------------------------------- crashed writers */
struct csess_arg {
	uint64_t client;
	uint64_t inos[256];
	int n;
};

static int client_inodes_txn(struct kv_txn *t, void *ap)
{
	struct csess_arg *c = ap;
	struct kv_pair *p;
	bool more;
	int n;

	c->n = 0;
	n = meta__range(t, META__K_CSESS, c->client, 256, &p, &more);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		uint64_t ino, sid;
		int rc = meta__csess_decode(&p[i], c->client, &ino, &sid);

		if (rc < 0)
			return rc;
		if (c->n == 0 || c->inos[c->n - 1] != ino)
			c->inos[c->n++] = ino;
	}
	return 0;
}

struct len_arg {
	uint64_t ino;
	uint64_t length;      /* out of the read, then the storage length to adopt */
	bool is_reg;
	struct meta_layout layout;
};

static int len_read_txn(struct kv_txn *t, void *ap)
{
	struct len_arg *l = ap;
	struct meta__inode in;
	int rc = meta__inode_get(t, l->ino, &in);

	if (rc < 0)
		return rc;
	l->is_reg = S_ISREG(in.a.mode);
	if (l->is_reg) {
		/* storage's end is no length while a cut is pending (cut.c) */
		rc = meta__cut_pending(t, l->ino);
		if (rc < 0)
			return rc;
		if (rc)
			l->is_reg = false;
	}
	l->length = in.a.length;
	l->layout = in.a.layout;
	return 0;
}

static int len_adopt_txn(struct kv_txn *t, void *ap)
{
	struct len_arg *l = ap;
	struct meta__inode in;
	int rc = meta__inode_get(t, l->ino, &in);

	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	if (!S_ISREG(in.a.mode) || in.a.length >= l->length)
		return 0;
	in.a.length = l->length;
	in.a.layout.dyn_stripe =
		meta_layout_dyn_needed(&in.a.layout, in.a.layout.dyn_stripe, l->length);
	return meta__inode_put(t, &in);
}

/* For the (first 256) files a silent client had open: length = max(stored, storage). */
static int recover_lengths(struct meta_svc *svc, uint64_t client)
{
	struct csess_arg *c = calloc(1, sizeof(*c));
	int rc, err = 0;

	if (!c)
		return -ENOMEM;
	c->client = client;
	rc = kv_run(svc->db, true, client_inodes_txn, c);
	for (int i = 0; rc == 0 && i < c->n; i++) {
		struct len_arg l = { .ino = c->inos[i] };
		uint64_t q = 0;

		if (kv_run(svc->db, true, len_read_txn, &l) < 0 || !l.is_reg)
			continue;
		if (svc->opts.hooks.query_length(svc->opts.hooks.arg, l.ino, &l.layout, &q) < 0) {
			err = -EIO;
			continue;
		}
		if (q <= l.length)
			continue;
		l.length = q;
		if (kv_run(svc->db, false, len_adopt_txn, &l) < 0)
			err = -EIO;
	}
	free(c);
	return rc < 0 ? rc : err;
}

/* 1. Sessions of silent clients: up to max 'L' records from the cursor (a, b: room for
 * max ids and values). */
static int gc_clients(struct meta_svc *svc, int max, uint64_t now, uint64_t *a, uint64_t *b,
		      struct meta_gc_stats *st)
{
	uint64_t timeout_ns = svc->opts.session_timeout_ms * 1000000ull;
	int n = scan(svc, META__K_CLIENT, svc->client_cursor, max, a, b), rc;

	if (n < 0)
		return n;
	svc->client_cursor = n < max ? 0 : a[n - 1] + 1; /* round robin over all clients */
	for (int i = 0; i < n; i++) {
		struct renew_arg r = { a[i], b[i], now };
		struct meta__client_arg ca = { svc, a[i], now, 0, false, 0 };

		if (b[i] + timeout_ns > now)
			continue;
		if (svc->opts.hooks.client_alive &&
		    svc->opts.hooks.client_alive(svc->opts.hooks.arg, a[i]) == 1) {
			if (kv_run(svc->db, false, client_refresh_txn, &r) < 0)
				st->errors++;
			continue;
		}
		rc = kv_run(svc->db, true, client_stale_txn, &r);
		if (rc <= 0) {
			if (rc < 0)
				st->errors++;
			continue;
		}
		/* a crashed writer never reported its length: take it from storage first */
		if (svc->opts.hooks.query_length && recover_lengths(svc, a[i]) < 0)
			st->errors++;
		/* the drop transaction re-reads 'L': a renew that raced us wins */
		ca.only_if_seen = true;
		ca.seen = b[i];
		do {
			rc = kv_run(svc->db, false, meta__client_drop_txn, &ca);
			if (rc >= 0)
				st->sessions_expired += (uint64_t)ca.dropped;
		} while (rc == 1);
		if (rc < 0)
			st->errors++;
	}
	return 0;
}

/* 2. Unlinked files and removed directories, round robin from the cursor so busy (open)
 * files at the head of the queue never starve the others (a, b, gi: room for max). */
static int gc_orphans(struct meta_svc *svc, int max, uint64_t now, uint64_t *a, uint64_t *b,
		      struct gc_item *gi, struct meta_gc_stats *st)
{
	struct gc_batch gb = { gi, 0, now, svc->opts.dir_grace_ms * 1000000ull };
	int n = scan(svc, META__K_GC, svc->gc_cursor, max, a, b), rc;

	if (n < 0)
		return n;
	svc->gc_cursor = n < max ? 0 : a[n - 1] + 1;
	if (n == 0)
		return 0;
	gb.n = n;
	for (int i = 0; i < n; i++) {
		memset(&gi[i], 0, sizeof(gi[i]));
		gi[i].ino = a[i];
		gi[i].queued_ns = b[i];
	}
	if (kv_run(svc->db, true, gc_check_txn, &gb) < 0) {
		st->errors++;
		return 0;
	}
	for (int i = 0; i < n; i++) {
		struct gc_item *g = &gi[i];

		if (g->state == GC_BUSY && !g->is_dir)
			st->files_busy++;
		if ((g->state == GC_BUSY || g->state == GC_WAIT) && g->is_dir)
			st->dirs_waiting++;
		if (g->state != GC_READY || !g->is_reg || !svc->opts.hooks.remove_chunks)
			continue;
		rc = svc->opts.hooks.remove_chunks(svc->opts.hooks.arg, g->ino, &g->layout);
		if (rc < 0) {
			st->errors++;
			g->state = GC_SKIP; /* stays queued, retried next pass */
		}
	}
	if (kv_run(svc->db, false, gc_delete_txn, &gb) < 0) {
		st->errors++;
		return 0;
	}
	for (int i = 0; i < n; i++) {
		if (gi[i].result == 1 && gi[i].is_dir)
			st->dirs_removed++;
		else if (gi[i].result == 1)
			st->files_removed++;
		else if (gi[i].result == 2 && gi[i].is_dir)
			st->dirs_waiting++;
		else if (gi[i].result == 2)
			st->files_busy++;
		else if (gi[i].result == 3)
			st->errors++;
	}
	return 0;
}

int meta_gc_run(struct meta_svc *svc, int max, struct meta_gc_stats *st)
{
	uint64_t *a = NULL, *b = NULL, now = meta__now(svc);
	struct gc_item *gi = NULL;
	int rc;

	if (max <= 0)
		max = 256;
	pthread_mutex_lock(&svc->gc_lock);
	a = calloc((size_t)max, sizeof(*a));
	b = calloc((size_t)max, sizeof(*b));
	gi = calloc((size_t)max, sizeof(*gi));
	if (!a || !b || !gi) {
		rc = -ENOMEM;
		goto out;
	}
	rc = gc_clients(svc, max, now, a, b, st);
	if (rc == 0)
		rc = gc_orphans(svc, max, now, a, b, gi, st);
	if (rc < 0)
		goto out;
	/* 3. truncates whose storage cut is still pending */
	if (meta__cut_gc(svc, max, &st->cuts_done, &st->cuts_dropped, &st->errors) < 0)
		st->errors++;
	/* 4. idempotency records */
	rc = meta__idem_gc(svc, now, max, &st->idem_expired, &st->errors);
out:
	pthread_mutex_unlock(&svc->gc_lock);
	free(a);
	free(b);
	free(gi);
	return rc;
}

static int count_txn(struct kv_txn *t, void *ap)
{
	uint64_t *n = ap;
	uint8_t b[1] = { META__K_GC }, e[1] = { META__K_GC + 1 };
	struct kv_pair *p;
	bool more;
	int r = kv_range(t, b, 1, e, 1, 0, false, &p, &more);

	if (r < 0)
		return r;
	*n = (uint64_t)r;
	return 0;
}

int meta_gc_queue_len(struct meta_svc *svc, uint64_t *n)
{
	return kv_run(svc->db, true, count_txn, n);
}
