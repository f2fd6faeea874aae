/* meta/ops.c — the POSIX namespace operations, one KV transaction each.
 *
 * Every op is a transaction body run by kv_run: it reads what it needs (so a concurrent
 * change of any of it makes the commit fail and the body run again), checks permissions
 * and POSIX rules, then writes.  Bodies are re-entrant: they reset their outputs first.
 * Side effects on storage (chunk truncation) happen after the commit, never inside.
 *
 * Idempotency: ops that change the namespace run inside meta__idem_txn, which first looks for
 * the record 'Q'|client|seq; when present the stored reply is returned and nothing else
 * happens; otherwise the body runs and, on success, the record (and its expiry index
 * 'E'|created|client|seq) is written in the same transaction.
 *
 * Times: entry changes set the parent's mtime and ctime; attribute changes set ctime.
 *
 * Removed directories are not deleted at once: they become nlink-0 orphans in the GC
 * queue (meta__dir_orphan) so handles still open on them keep working; no entry can be
 * added to them (meta__load_parent).  Non-owners may change a mode only to clear the
 * setuid/setgid bits a write would clear (killpriv_only), when they may write the file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/check.h"
#include "common/errors.h"
#include "common/log.h"
#include "meta/meta_int.h"
#include "net/codec.h"

/* ------------------------------------------------------------------ helpers */
void meta__touch_dir(struct meta__inode *d, uint64_t now)
{
	d->a.mtime_ns = d->a.ctime_ns = now;
}

/* An entry of directory d changed.  When its nlink changed too the record is rewritten;
 * otherwise only the times go to the blind 'T' key, so concurrent entry changes in one
 * directory do not conflict on its inode. */
static int dir_changed(struct kv_txn *t, struct meta__inode *d, uint32_t old_nlink,
		       uint64_t now)
{
	if (d->a.nlink != old_nlink) {
		meta__touch_dir(d, now);
		return meta__inode_put(t, d);
	}
	return meta__dir_touch(t, d->a.ino, now);
}

/* Directory d's attributes as readers will see them after an entry change at now: the
 * record, with the times raised to now (the change went to the record or to a 'T' row,
 * and readers take the max).  Sent back with entry changes so a client need not fetch
 * the parent again (meta_attr_resp.parent). */
static void parent_after(const struct meta__inode *d, uint64_t now, struct meta_attr *out)
{
	*out = d->a;
	if (out->mtime_ns < now)
		out->mtime_ns = now;
	if (out->ctime_ns < now)
		out->ctime_ns = now;
}

static void fill_open_resp(struct meta_open_resp *r, const struct meta__inode *in, uint64_t sid)
{
	r->attr = in->a;
	r->session_id = sid;
}

/* Load a directory for an entry operation. */
int meta__load_dir(struct kv_txn *t, uint64_t ino, struct meta__inode *d)
{
	int rc = meta__inode_get(t, ino, d);

	if (rc < 0)
		return rc;
	if (!S_ISDIR(d->a.mode))
		return -ENOTDIR;
	return 0;
}

static int xattr_clear_all(struct kv_txn *t, uint64_t ino)
{
	uint8_t b[9], e[9];

	b[0] = e[0] = META__K_XATTR;
	kv_put_be64(b + 1, ino);
	kv_put_be64(e + 1, ino + 1);
	return kv_clear_range(t, b, 9, e, 9);
}

int meta__inode_delete(struct kv_txn *t, uint64_t ino)
{
	uint8_t k[9];
	int rc = kv_clear(t, k, meta__key_inode(k, ino));

	if (rc == 0)
		rc = meta__dir_times_clear(t, ino);
	if (rc == 0)
		rc = meta__cut_clear(t, ino);
	return rc < 0 ? rc : xattr_clear_all(t, ino);
}

static int gc_enqueue(struct kv_txn *t, uint64_t ino, uint64_t now)
{
	uint8_t k[9], v[8];

	k[0] = META__K_GC;
	kv_put_be64(k + 1, ino);
	kv_put_be64(v, now);
	return kv_set(t, k, 9, v, 8);
}

/* One name less for non-directory v (already loaded).  Regular files reaching nlink 0
 * go to the GC queue (their chunks and sessions are handled there); others vanish now. */
int meta__drop_link(struct kv_txn *t, struct meta__inode *v, uint64_t now)
{
	int rc;

	if (v->a.nlink > 0)
		v->a.nlink--;
	v->a.ctime_ns = now;
	if (v->a.nlink > 0)
		return meta__inode_put(t, v);
	if (S_ISREG(v->a.mode)) {
		rc = meta__inode_put(t, v);
		return rc < 0 ? rc : gc_enqueue(t, v->a.ino, now);
	}
	return meta__inode_delete(t, v->a.ino);
}

int meta__dir_orphan(struct kv_txn *t, uint64_t ino, uint64_t now)
{
	struct meta__inode v;
	int rc = meta__inode_get(t, ino, &v);

	if (rc < 0)
		return rc == -ENOENT ? C3_INTERNAL("directory inode %llu to orphan is missing",
						   (unsigned long long)ino)
				     : rc;
	if (!S_ISDIR(v.a.mode))
		return C3_INTERNAL("inode %llu to orphan as a directory has mode %o",
				   (unsigned long long)ino, v.a.mode);
	v.a.nlink = 0;
	v.a.ctime_ns = now;
	rc = meta__inode_put(t, &v);
	return rc < 0 ? rc : gc_enqueue(t, ino, now);
}

int meta__load_parent(struct kv_txn *t, uint64_t ino, struct meta__inode *d)
{
	int rc = meta__load_dir(t, ino, d);

	if (rc == 0 && d->a.nlink == 0)
		return -ENOENT; /* removed directory (still open somewhere) */
	return rc;
}

/* New inode below parent dir d (POSIX owner/group rules incl. setgid directories). */
static void inode_init(struct meta_svc *svc, struct meta__inode *in, uint64_t ino,
		       const struct meta__inode *d, const struct meta_cred *c, uint32_t mode,
		       uint64_t now)
{
	memset(in, 0, sizeof(*in));
	in->a.ino = ino;
	in->a.mode = mode;
	in->a.uid = c->uid;
	in->a.gid = c->gid;
	in->a.nlink = 1;
	in->a.atime_ns = in->a.mtime_ns = in->a.ctime_ns = now;
	if (d->a.mode & S_ISGID) {
		in->a.gid = d->a.gid;
		if (S_ISDIR(mode))
			in->a.mode |= S_ISGID;
	}
	if (!S_ISDIR(mode) && (in->a.mode & S_ISGID) && c->uid != 0 &&
	    !meta__cred_in_group(c, in->a.gid))
		in->a.mode &= ~(uint32_t)S_ISGID;
	if (S_ISDIR(mode)) {
		in->a.nlink = 2;
		in->a.parent = d->a.ino;
		in->a.layout = d->a.layout;
	} else if (S_ISREG(mode)) {
		struct meta_layout *l = &in->a.layout;
		uint32_t ver = 0, n = 0;

		*l = d->a.layout;
		if (meta_layout_check(l, false) != 0)
			*l = svc->opts.default_layout;
		if (svc->opts.hooks.table_size)
			n = svc->opts.hooks.table_size(svc->opts.hooks.arg, l->table_id, &ver);
		if (n > 0) {
			if (l->stripe > n)
				l->stripe = n;
			l->table_version = ver;
		}
		l->seed = meta__rand(svc);
		l->base = (uint32_t)(l->seed >> 32);
		l->dyn_stripe = 1;
	}
}

/* Record an open session for ino and keep the client's renew record fresh. */
static int session_put(struct kv_txn *t, struct meta_svc *svc, uint64_t ino, uint64_t sid,
		       uint64_t client, uint32_t flags, uint64_t now)
{
	uint8_t k[25], v[20];
	const uint8_t *cur;
	size_t vl;
	int rc;

	kv_put_be64(v, client);
	kv_put_be32(v + 8, flags);
	kv_put_be64(v + 12, now);
	rc = kv_set(t, k, meta__key_id2(k, META__K_SESSION, ino, sid), v, 20);
	if (rc == 0)
		rc = kv_set(t, k, meta__key_id3(k, META__K_CSESS, client, ino, sid), "", 0);
	if (rc < 0)
		return rc;
	/* refresh 'L' only when missing or older than a quarter of the timeout (a write per
	 * open would make every open of one client conflict on this key) */
	k[0] = META__K_CLIENT;
	kv_put_be64(k + 1, client);
	rc = kv_get(t, k, 9, &cur, &vl);
	if (rc == -ENOENT || (rc == 0 && (vl != 8 || kv_get_be64(cur) +
					  svc->opts.session_timeout_ms * 1000000ull / 4 < now))) {
		kv_put_be64(v, now);
		return kv_set(t, k, 9, v, 8);
	}
	return rc < 0 ? rc : 0;
}

/* 1 = session exists (its flags in *flags), 0 = not, <0 error */
static int session_get(struct kv_txn *t, uint64_t ino, uint64_t sid, uint32_t *flags,
		       uint64_t *client)
{
	uint8_t k[17];
	const uint8_t *v;
	size_t vl;
	int rc;

	rc = kv_get(t, k, meta__key_id2(k, META__K_SESSION, ino, sid), &v, &vl);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (vl != 20)
		return C3_CORRUPT("session", "inode %llu session %llu: value length %zu, want 20",
				  (unsigned long long)ino, (unsigned long long)sid, vl);
	*client = kv_get_be64(v);
	*flags = kv_get_be32(v + 8);
	return 1;
}

static int session_del(struct kv_txn *t, uint64_t ino, uint64_t sid, uint64_t client)
{
	uint8_t k[25];
	int rc = kv_clear(t, k, meta__key_id2(k, META__K_SESSION, ino, sid));

	return rc < 0 ? rc : kv_clear(t, k, meta__key_id3(k, META__K_CSESS, client, ino, sid));
}

/* ------------------------------------------------------------------ idempotency
 * Record value: created(8) fingerprint(8) reply.  The fingerprint (FNV-1a over the op type,
 * ids and names of the request) guards against a client that reuses (client_id, seq) for a
 * different request, e.g. after a restart that got the same id: a mismatch is not a
 * retry, so the request runs and its record replaces the old one. */
static uint64_t fp_mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t meta__fp_of(uint32_t type, uint64_t id1, const char *n1, uint32_t l1, uint64_t id2,
		      const char *n2, uint32_t l2, uint32_t extra)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = fp_mix(h, &type, sizeof(type));
	h = fp_mix(h, &id1, sizeof(id1));
	h = fp_mix(h, &l1, sizeof(l1));
	h = fp_mix(h, n1, l1);
	h = fp_mix(h, &id2, sizeof(id2));
	h = fp_mix(h, &l2, sizeof(l2));
	h = fp_mix(h, n2, l2);
	return fp_mix(h, &extra, sizeof(extra));
}


int meta__idem_txn(struct kv_txn *t, void *wp)
{
	struct meta__idem *w = wp;
	uint8_t k[25];
	const uint8_t *v;
	size_t vl, kl;
	struct c3_buf b = C3_BUF_INIT;
	uint64_t now;
	int rc;

	if (w->hdr->seq) {
		kl = meta__key_id2(k, META__K_IDEM, w->hdr->client_id, w->hdr->seq);
		rc = kv_get(t, k, kl, &v, &vl);
		if (rc == 0) {
			if (vl < 16)
				return C3_CORRUPT("idempotency record",
						  "client %llu seq %llu: value length %zu, want >= 16",
						  (unsigned long long)w->hdr->client_id,
						  (unsigned long long)w->hdr->seq, vl);
			if (kv_get_be64(v + 8) == w->fp)
				return w->dec ? w->dec(w->arg, v + 16, vl - 16) : 0;
			/* same (client, seq), different request: drop the old record's index */
			rc = kv_clear(t, k, meta__key_id3(k, META__K_IDEMEXP, kv_get_be64(v),
							   w->hdr->client_id, w->hdr->seq));
			if (rc < 0)
				return rc;
		} else if (rc != -ENOENT) {
			return rc;
		}
	}
	rc = w->body(t, w->arg);
	if (rc < 0 || !w->hdr->seq || (w->record && !w->record(w->arg)))
		return rc;
	now = meta__now(w->svc);
	{
		uint8_t hd[16];

		kv_put_be64(hd, now);
		kv_put_be64(hd + 8, w->fp);
		c3_buf_append(&b, hd, 16);
	}
	if (w->enc)
		w->enc(w->arg, &b);
	if (b.err) {
		rc = b.err;
		goto out;
	}
	kl = meta__key_id2(k, META__K_IDEM, w->hdr->client_id, w->hdr->seq);
	rc = kv_set(t, k, kl, b.data, b.len);
	if (rc == 0)
		rc = kv_set(t, k, meta__key_id3(k, META__K_IDEMEXP, now, w->hdr->client_id,
						w->hdr->seq), "", 0);
out:
	c3_buf_release(&b);
	return rc;
}

static int idem_run(struct meta_svc *svc, const struct meta_hdr *hdr, uint64_t fp,
		    kv_txn_fn body, void *arg, void (*enc)(void *, struct c3_buf *),
		    int (*dec)(void *, const uint8_t *, size_t))
{
	struct meta__idem w = { svc, hdr, fp, body, arg, enc, dec, NULL };

	return kv_run(svc->db, false, meta__idem_txn, &w);
}

/* ------------------------------------------------------------------ statfs */
int meta_op_statfs(struct meta_svc *svc, const struct meta_statfs_req *req,
		   struct meta_statfs_resp *resp)
{
	uint64_t total = 0, avail = 0;

	memset(resp, 0, sizeof(*resp));
	if (svc->opts.hooks.space &&
	    svc->opts.hooks.space(svc->opts.hooks.arg, &total, &avail) == 0) {
		resp->total_bytes = total;
		resp->free_bytes = resp->avail_bytes = avail;
	}
	/* inodes are not a limited resource: report a large constant pool */
	resp->total_inodes = 1ull << 40;
	resp->free_inodes = 1ull << 39;
	resp->bsize = svc->opts.default_layout.chunk_size;
	resp->namemax = META_NAME_MAX;
	return 0;
}

/* ------------------------------------------------------------------ lookup / getattr */
struct lookup_arg {
	struct meta_svc *svc;
	const struct meta_lookup_req *req;
	struct meta_attr_resp *resp;
};

static int lookup_txn(struct kv_txn *t, void *ap)
{
	struct lookup_arg *a = ap;
	const struct meta_lookup_req *r = a->req;
	struct meta__inode d, in;
	uint64_t ino;
	uint32_t type;
	int rc;

	rc = meta__load_dir(t, r->parent, &d);
	if (rc < 0)
		return rc;
	rc = meta__perm(&r->hdr.cred, &d.a, META_ACC_X);
	if (rc < 0)
		return rc;
	if (meta__name_is_dot(r->name, r->name_len)) {
		ino = r->name_len == 1 ? d.a.ino : d.a.parent;
	} else {
		rc = meta__name_check(r->name, r->name_len);
		if (rc < 0)
			return rc;
		rc = meta__dent_get(t, r->parent, r->name, r->name_len, &ino, &type);
		if (rc < 0)
			return rc;
	}
	rc = meta__inode_get(t, ino, &in);
	if (rc == -ENOENT)
		return C3_CORRUPT("dentry", "entry of parent %llu names inode %llu, which is missing",
				  (unsigned long long)r->parent, (unsigned long long)ino);
	if (rc == 0)
		rc = meta__dir_times(t, &in);
	if (rc < 0)
		return rc;
	a->resp->attr = in.a;
	return 0;
}

int meta_op_lookup(struct meta_svc *svc, const struct meta_lookup_req *req,
		   struct meta_attr_resp *resp)
{
	struct lookup_arg a = { svc, req, resp };

	return kv_run(svc->db, true, lookup_txn, &a);
}

struct ino_arg {
	struct meta_svc *svc;
	const struct meta_hdr *hdr;
	uint64_t ino;
	uint32_t mask;
	struct meta_attr *out;
};

static int getattr_txn(struct kv_txn *t, void *ap)
{
	struct ino_arg *a = ap;
	struct meta__inode in;
	int rc = meta__inode_get(t, a->ino, &in);

	if (rc == 0 && a->out)
		rc = meta__dir_times(t, &in);
	if (rc < 0)
		return rc;
	if (a->out)
		*a->out = in.a;
	if (a->mask)
		return meta__perm(&a->hdr->cred, &in.a, a->mask);
	return 0;
}

int meta_op_getattr(struct meta_svc *svc, const struct meta_getattr_req *req,
		    struct meta_attr_resp *resp)
{
	struct ino_arg a = { svc, &req->hdr, req->ino, 0, &resp->attr };

	return kv_run(svc->db, true, getattr_txn, &a);
}

int meta_op_access(struct meta_svc *svc, const struct meta_access_req *req)
{
	struct meta_attr at;
	struct ino_arg a = { svc, &req->hdr, req->ino, req->mask & 7, &at };

	return kv_run(svc->db, true, getattr_txn, &a);
}

/* ------------------------------------------------------------------ setattr */
/* kv_run of fn (or, with idem, idem_run) that gives way to a pending cut: when fn answers
 * META__CUT_FIRST with *first and *layout filled, the cut runs and fn runs again. */
static int run_cut_first(struct meta_svc *svc, kv_txn_fn fn, void *arg, struct meta__cut *first,
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

struct setattr_arg {
	struct meta_svc *svc;
	const struct meta_setattr_req *req;
	struct meta_attr_resp *resp;
	uint64_t now;
	bool shrunk;
	struct meta_layout layout;
	uint64_t new_length, stamp;
	struct meta__cut first; /* META__CUT_FIRST: this cut runs before the change */
};

/* Linux's rule for the setuid/setgid bits a write or truncate by a non-root caller
 * clears: S_ISUID always, S_ISGID only together with group-exec (without it the bit marks
 * mandatory locking, not privilege).  Returns mode with those bits cleared. */
static uint32_t killpriv_mode(uint32_t mode)
{
	mode &= ~(uint32_t)S_ISUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		mode &= ~(uint32_t)S_ISGID;
	return mode;
}

/* True when `want` is exactly `cur` with a non-empty subset of the bits killpriv_mode
 * clears removed — what the FUSE kernel module sends (a SETATTR of the mode with the
 * writer's credentials) after a write or truncate when the file system does not handle
 * killpriv itself. */
static bool killpriv_only(uint32_t cur, uint32_t want)
{
	uint32_t killable = (cur ^ killpriv_mode(cur)) & 07777, cleared;

	cur &= 07777;
	want &= 07777;
	if ((want & ~cur) != 0)
		return false; /* sets a bit */
	cleared = cur & ~want;
	return cleared != 0 && (cleared & ~killable) == 0;
}

/* May the caller of setattr r write inode in?  Yes through a write session of its own
 * (an open file whose permissions changed since) or by the permission bits. */
static int setattr_may_write(struct kv_txn *t, const struct meta_setattr_req *r,
			     const struct meta__inode *in)
{
	uint32_t sflags = 0;
	uint64_t sclient = 0;
	int rc;

	rc = r->session_id ? session_get(t, r->ino, r->session_id, &sflags, &sclient) : 0;
	if (rc < 0)
		return rc;
	if (rc == 1 && (sflags & META_O_WRITE) && sclient == r->hdr.client_id)
		return 0;
	return meta__perm(&r->hdr.cred, &in->a, META_ACC_W);
}

static int setattr_txn(struct kv_txn *t, void *ap)
{
	struct setattr_arg *a = ap;
	const struct meta_setattr_req *r = a->req;
	const struct meta_cred *c = &r->hdr.cred;
	struct meta__inode in;
	bool owner, root = c->uid == 0;
	uint32_t m = r->mask;
	int rc;

	a->shrunk = false;
	rc = meta__inode_get(t, r->ino, &in);
	if (rc == 0)
		rc = meta__dir_times(t, &in);
	if (rc < 0)
		return rc;
	owner = root || c->uid == in.a.uid;
	/* checks first, all of them, then the changes */
	if ((m & META_SET_MODE) && !owner) {
		/* The one mode change a non-owner may make: the kernel's kill-priv SETATTR
		 * after a write/truncate by someone allowed to write. */
		if (!killpriv_only(in.a.mode, r->mode))
			return -EPERM;
		rc = setattr_may_write(t, r, &in);
		if (rc < 0)
			return rc == -EACCES ? -EPERM : rc;
	}
	if ((m & META_SET_UID) && r->uid != in.a.uid && !root)
		return -EPERM;
	if ((m & META_SET_GID) && r->gid != in.a.gid && !root &&
	    !(c->uid == in.a.uid && meta__cred_in_group(c, r->gid) &&
	      (!(m & META_SET_UID) || r->uid == in.a.uid)))
		return -EPERM;
	if ((m & (META_SET_ATIME | META_SET_MTIME)) && !owner)
		return -EPERM;
	if ((m & (META_SET_ATIME_NOW | META_SET_MTIME_NOW)) &&
	    !(m & (META_SET_ATIME | META_SET_MTIME)) && !owner &&
	    meta__perm(c, &in.a, META_ACC_W) < 0)
		return -EACCES;
	if (m & META_SET_SIZE) {
		if (S_ISDIR(in.a.mode))
			return -EISDIR;
		if (!S_ISREG(in.a.mode))
			return -EINVAL;
		if (r->size > (1ull << 62))
			return -EFBIG;
		rc = setattr_may_write(t, r, &in);
		if (rc < 0)
			return rc;
		if (r->size > in.a.length) {
			/* a cut still pending from an earlier truncate goes first: the range
			 * about to reappear must read as zeros */
			rc = meta__cut_first(t, &in, 0, &a->first);
			if (rc == META__CUT_FIRST)
				a->layout = in.a.layout;
			if (rc < 0)
				return rc;
		}
	}
	if ((m & META_SET_DYN_STRIPE) && !S_ISREG(in.a.mode))
		return -EINVAL;
	if (m & META_SET_LAYOUT) {
		if (!S_ISDIR(in.a.mode))
			return -ENOTDIR;
		if (!owner)
			return -EPERM;
		if (meta_layout_check(&r->layout, false) != 0)
			return -C3FS_EBADLAYOUT;
	}

	if (m & META_SET_MODE) {
		in.a.mode = (in.a.mode & S_IFMT) | (r->mode & 07777);
		if (!root && !meta__cred_in_group(c, (m & META_SET_GID) ? r->gid : in.a.gid))
			in.a.mode &= ~(uint32_t)S_ISGID;
	}
	if (m & (META_SET_UID | META_SET_GID)) {
		if (m & META_SET_UID)
			in.a.uid = r->uid;
		if (m & META_SET_GID)
			in.a.gid = r->gid;
		if (!S_ISDIR(in.a.mode)) {
			in.a.mode &= ~(uint32_t)S_ISUID;
			if ((in.a.mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
				in.a.mode &= ~(uint32_t)S_ISGID;
		}
	}
	if (m & META_SET_ATIME)
		in.a.atime_ns = r->atime_ns;
	else if (m & META_SET_ATIME_NOW)
		in.a.atime_ns = a->now;
	if (m & META_SET_MTIME)
		in.a.mtime_ns = r->mtime_ns;
	else if (m & META_SET_MTIME_NOW)
		in.a.mtime_ns = a->now;
	if (m & META_SET_SIZE) {
		/* The storage cut runs after the commit, also when the size does not change:
		 * a client that retries a truncate whose cut failed (storage down, chain
		 * being reconfigured) finds the length already set and must still get the
		 * chunks past it removed; a writer that has not reported its length yet may
		 * also have data past the stored end.  The cut is idempotent. */
		if (r->size < in.a.length)
			in.a.truncate_ver++;
		if (r->size <= in.a.length) {
			a->shrunk = true;
			a->layout = in.a.layout;
			a->new_length = r->size;
			a->stamp = meta__rand(a->svc);
			rc = meta__cut_note(t, in.a.ino, r->size, a->stamp);
			if (rc < 0)
				return rc;
		}
		in.a.length = r->size;
		in.a.mtime_ns = a->now;
		in.a.layout.dyn_stripe =
			meta_layout_dyn_needed(&in.a.layout, in.a.layout.dyn_stripe, r->size);
		if (!root)
			in.a.mode = killpriv_mode(in.a.mode);
	}
	if (m & META_SET_DYN_STRIPE) {
		uint32_t want = r->dyn_stripe > in.a.layout.stripe ? in.a.layout.stripe : r->dyn_stripe;

		while (in.a.layout.dyn_stripe < want)
			in.a.layout.dyn_stripe = in.a.layout.dyn_stripe * 2 > in.a.layout.stripe
				? in.a.layout.stripe : in.a.layout.dyn_stripe * 2;
	}
	if (m & META_SET_LAYOUT) {
		in.a.layout = r->layout;
		in.a.layout.base = 0;
		in.a.layout.seed = 0;
		in.a.layout.dyn_stripe = 0;
	}
	in.a.ctime_ns = a->now;
	rc = meta__inode_put(t, &in);
	if (rc == 0 && S_ISDIR(in.a.mode))
		rc = meta__dir_times_clear(t, in.a.ino); /* the record now has the newest */
	if (rc < 0)
		return rc;
	a->resp->attr = in.a;
	return 0;
}

int meta_op_setattr(struct meta_svc *svc, const struct meta_setattr_req *req,
		    struct meta_attr_resp *resp)
{
	struct setattr_arg a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.svc = svc;
	a.req = req;
	a.resp = resp;
	a.now = meta__now(svc);
	rc = run_cut_first(svc, setattr_txn, &a, &a.first, &a.layout, NULL);
	if (rc < 0)
		return rc;
	if (a.shrunk) {
		struct meta__cut c = { req->ino, a.new_length, a.stamp };

		return meta__cut_finish(svc, &c, &a.layout);
	}
	return 0;
}

/* ------------------------------------------------------------------ open / create */
/* What an open of an existing file leaves for after its commit: the cut of its O_TRUNC,
 * or (META__CUT_FIRST) a pending cut to run before it. */
struct open_cut {
	bool truncated;
	uint64_t stamp;
	struct meta_layout layout;
	struct meta__cut first;
};

/* Open an existing inode: access checks for flags, O_TRUNC, session. */
static int open_existing(struct kv_txn *t, struct meta_svc *svc, const struct meta_cred *c,
			 uint64_t client, struct meta__inode *in, uint32_t flags, uint64_t sid,
			 uint64_t now, struct meta_open_resp *resp, struct open_cut *oc)
{
	uint32_t mask = 0;
	bool dirty = false;
	int rc;

	oc->truncated = false;
	if ((flags & META_O_DIR) && !S_ISDIR(in->a.mode))
		return -ENOTDIR;
	if (S_ISLNK(in->a.mode))
		return -ELOOP;
	if (S_ISDIR(in->a.mode) && (flags & (META_O_WRITE | META_O_TRUNC)))
		return -EISDIR;
	if (in->a.nlink == 0)
		return -ENOENT;
	if (flags & META_O_READ)
		mask |= META_ACC_R;
	if (flags & (META_O_WRITE | META_O_TRUNC))
		mask |= META_ACC_W;
	rc = meta__perm(c, &in->a, mask);
	if (rc < 0)
		return rc;
	if ((flags & META_O_WRITE) && !(flags & META_O_TRUNC)) {
		/* a cut still pending from an earlier truncate goes before any new write */
		rc = meta__cut_first(t, in, 0, &oc->first);
		if (rc == META__CUT_FIRST)
			oc->layout = in->a.layout;
		if (rc < 0)
			return rc;
	}
	if ((flags & META_O_TRUNC) && S_ISREG(in->a.mode)) {
		/* chunks go even at length 0: a writer may have died before reporting */
		oc->layout = in->a.layout;
		oc->truncated = true;
		oc->stamp = meta__rand(svc);
		rc = meta__cut_note(t, in->a.ino, 0, oc->stamp);
		if (rc < 0)
			return rc;
		if (in->a.length > 0) {
			in->a.length = 0;
			in->a.truncate_ver++;
		}
		in->a.mtime_ns = in->a.ctime_ns = now;
		if (c->uid != 0)
			in->a.mode = killpriv_mode(in->a.mode);
		dirty = true;
	}
	if (dirty) {
		rc = meta__inode_put(t, in);
		if (rc < 0)
			return rc;
	}
	if ((S_ISREG(in->a.mode) || (S_ISDIR(in->a.mode) && (flags & META_O_DIR))) &&
	    !(flags & META_O_NOSESSION)) {
		/* A session that only reads changes nothing a reader can see; it keeps an
		 * unlinked file's chunks until the close.  A crash may lose it (the open must
		 * then be repeated by a restarted client anyway): no need to wait for the
		 * log write (src/meta/README.md, "Sessions"). */
		if (!dirty && !(flags & META_O_WRITE))
			kv_txn_set_lazy(t);
		rc = session_put(t, svc, in->a.ino, sid, client, flags, now);
		if (rc < 0)
			return rc;
	} else {
		sid = 0;
	}
	fill_open_resp(resp, in, sid);
	return 0;
}

struct create_arg {
	struct meta_svc *svc;
	const struct meta_create_req *req;
	struct meta_open_resp *resp;
	uint64_t ino, sid, now;
	struct open_cut oc;
};

struct open_undo {
	uint64_t ino, sid, client;
};

static int open_undo_txn(struct kv_txn *t, void *ap)
{
	const struct open_undo *u = ap;

	return session_del(t, u->ino, u->sid, u->client);
}

/* After an open's commit: the storage cut of its O_TRUNC.  When the cut fails the open
 * fails: the session it recorded was never handed out and goes again (the length stays
 * committed and the cut pending, cut.c). */
static int open_cut_finish(struct meta_svc *svc, const struct meta_hdr *h,
			   const struct meta_open_resp *resp, const struct open_cut *oc)
{
	struct meta__cut c = { resp->attr.ino, 0, oc->stamp };
	struct open_undo u = { resp->attr.ino, resp->session_id, h->client_id };
	int rc;

	if (!oc->truncated)
		return 0;
	rc = meta__cut_finish(svc, &c, &oc->layout);
	if (rc < 0 && u.sid && kv_run(svc->db, false, open_undo_txn, &u) < 0)
		LOG_WARN("meta: session %llu of inode %llu stays after a failed open",
			 (unsigned long long)u.sid, (unsigned long long)u.ino);
	return rc;
}

/* A create that truncated an existing file is not replayed from an idempotency record:
 * a retry must run the storage cut again (and records a new session). */
static bool create_record(void *ap)
{
	const struct create_arg *a = ap;

	return !a->oc.truncated;
}


static int create_txn(struct kv_txn *t, void *ap)
{
	struct create_arg *a = ap;
	const struct meta_create_req *r = a->req;
	const struct meta_cred *c = &r->hdr.cred;
	struct meta__inode d, in;
	uint64_t ino;
	uint32_t type;
	int rc;

	a->oc.truncated = false;
	memset(&a->resp->parent, 0, sizeof(a->resp->parent));
	if (r->flags & META_O_DIR)
		return -EINVAL; /* O_CREAT | O_DIRECTORY */
	rc = meta__name_check(r->name, r->name_len);
	if (rc < 0)
		return rc;
	if (meta__name_is_dot(r->name, r->name_len))
		return -EEXIST;
	rc = meta__load_parent(t, r->parent, &d);
	if (rc < 0)
		return rc;
	rc = meta__perm(c, &d.a, META_ACC_X);
	if (rc < 0)
		return rc;
	rc = meta__dent_get(t, r->parent, r->name, r->name_len, &ino, &type);
	if (rc == 0) {
		if (r->flags & META_O_EXCL)
			return -EEXIST;
		rc = meta__inode_get(t, ino, &in);
		if (rc < 0)
			return rc == -ENOENT ? -C3FS_EINTERNAL : rc;
		if (S_ISDIR(in.a.mode))
			return -EISDIR; /* open(O_CREAT) of a directory */
		return open_existing(t, a->svc, c, r->hdr.client_id, &in, r->flags, a->sid,
				     a->now, a->resp, &a->oc);
	}
	if (rc != -ENOENT)
		return rc;
	rc = meta__perm(c, &d.a, META_ACC_W | META_ACC_X);
	if (rc < 0)
		return rc;
	inode_init(a->svc, &in, a->ino, &d, c, S_IFREG | (r->mode & ~r->umask & 07777), a->now);
	rc = meta__inode_put(t, &in);
	if (rc == 0)
		rc = meta__dent_put(t, r->parent, r->name, r->name_len, in.a.ino, S_IFREG);
	if (rc == 0)
		rc = dir_changed(t, &d, d.a.nlink, a->now);
	if (rc < 0)
		return rc;
	if (!(r->flags & META_O_NOSESSION)) {
		rc = session_put(t, a->svc, in.a.ino, a->sid, r->hdr.client_id, r->flags, a->now);
		if (rc < 0)
			return rc;
		fill_open_resp(a->resp, &in, a->sid);
	} else {
		fill_open_resp(a->resp, &in, 0);
	}
	parent_after(&d, a->now, &a->resp->parent);
	return 0;
}

static void open_resp_enc(void *ap, struct c3_buf *out)
{
	struct create_arg *a = ap;

	meta_open_resp_encode(a->resp, out);
}

static int open_resp_dec(void *ap, const uint8_t *p, size_t n)
{
	struct create_arg *a = ap;

	return meta_open_resp_decode(p, n, a->resp) < 0
		       ? C3_INTERNAL("open reply of %zu bytes does not decode", n) : 0;
}

int meta_op_create(struct meta_svc *svc, const struct meta_create_req *req,
		   struct meta_open_resp *resp)
{
	struct create_arg a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.svc = svc;
	a.req = req;
	a.resp = resp;
	a.now = meta__now(svc);
	rc = meta__id_alloc(svc, &a.ino);
	if (rc == 0)
		rc = meta__id_alloc(svc, &a.sid);
	if (rc < 0)
		return rc;
	{
		struct meta__idem w = { svc, &req->hdr,
					meta__fp_of(META_T_CREATE, req->parent, req->name,
						    req->name_len, 0, "", 0, req->flags),
					create_txn, &a, open_resp_enc, open_resp_dec,
					create_record };

		rc = run_cut_first(svc, NULL, NULL, &a.oc.first, &a.oc.layout, &w);
	}
	if (rc < 0)
		return rc;
	return open_cut_finish(svc, &req->hdr, resp, &a.oc);
}

struct open_arg {
	struct meta_svc *svc;
	const struct meta_open_req *req;
	struct meta_open_resp *resp;
	uint64_t sid, now;
	struct open_cut oc;
};

static int open_txn(struct kv_txn *t, void *ap)
{
	struct open_arg *a = ap;
	struct meta__inode in;
	int rc;

	rc = meta__inode_get(t, a->req->ino, &in);
	if (rc < 0)
		return rc;
	if (a->req->flags & META_O_EXCL)
		return -EINVAL;
	return open_existing(t, a->svc, &a->req->hdr.cred, a->req->hdr.client_id, &in,
			     a->req->flags, a->sid, a->now, a->resp, &a->oc);
}

int meta_op_open(struct meta_svc *svc, const struct meta_open_req *req,
		 struct meta_open_resp *resp)
{
	struct open_arg a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.svc = svc;
	a.req = req;
	a.resp = resp;
	a.now = meta__now(svc);
	rc = meta__id_alloc(svc, &a.sid);
	if (rc < 0)
		return rc;
	rc = run_cut_first(svc, open_txn, &a, &a.oc.first, &a.oc.layout, NULL);
	if (rc < 0)
		return rc;
	return open_cut_finish(svc, &req->hdr, resp, &a.oc);
}

/* ------------------------------------------------------------------ close / sync */
struct close_arg {
	struct meta_svc *svc;
	const struct meta_close_req *req;
	bool close;
	uint64_t queried; /* length from storage (several writers), 0 = none */
	struct meta_attr_resp *resp;
	uint64_t now;
	int other_writers; /* out of the probe transaction */
	struct meta_layout layout;
};

static int close_probe_txn(struct kv_txn *t, void *ap)
{
	struct close_arg *a = ap;
	uint8_t b[9], e[9];
	struct kv_pair *p;
	struct meta__inode in;
	bool more;
	int n, rc;

	a->other_writers = 0;
	rc = meta__inode_get(t, a->req->ino, &in);
	if (rc < 0)
		return rc;
	a->layout = in.a.layout;
	b[0] = e[0] = META__K_SESSION;
	kv_put_be64(b + 1, a->req->ino);
	kv_put_be64(e + 1, a->req->ino + 1);
	n = kv_range(t, b, 9, e, 9, 64, false, &p, &more);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (p[i].klen != 17 || p[i].vlen != 20)
			return C3_CORRUPT("session", "of inode %llu: key length %zu (want 17), "
					  "value length %zu (want 20)",
					  (unsigned long long)a->req->ino, (size_t)p[i].klen,
					  (size_t)p[i].vlen);
		if (kv_get_be64(p[i].key + 9) != a->req->session_id &&
		    (kv_get_be32(p[i].val + 8) & META_O_WRITE))
			a->other_writers++;
	}
	if (a->other_writers) {
		/* chunks past a pending cut would bring the truncated length back */
		rc = meta__cut_pending(t, a->req->ino);
		if (rc < 0)
			return rc;
		if (rc)
			a->other_writers = 0;
	}
	return 0;
}

static int close_txn(struct kv_txn *t, void *ap)
{
	struct close_arg *a = ap;
	const struct meta_close_req *r = a->req;
	struct meta__inode in;
	uint32_t sflags = 0;
	uint64_t sclient = 0, len;
	int rc, have;

	rc = meta__inode_get(t, r->ino, &in);
	if (rc < 0)
		return rc;
	have = r->session_id ? session_get(t, r->ino, r->session_id, &sflags, &sclient) : 0;
	if (have < 0)
		return have;
	if (have && sclient != r->hdr.client_id && r->hdr.cred.uid != 0)
		return -C3FS_ESESSION;
	if (S_ISREG(in.a.mode)) {
		len = in.a.length;
		/* a length written before a later truncation must not re-extend the file
		 * (its chunks were cut: the bytes would read as zeros) */
		if ((r->flags & META_CLOSE_LENGTH) && r->length > len &&
		    !((r->flags & META_CLOSE_TRUNCVER) && r->truncate_ver < in.a.truncate_ver))
			len = r->length;
		if (a->queried > len)
			len = a->queried;
		if (len != in.a.length || (r->flags & META_CLOSE_WROTE)) {
			in.a.length = len;
			in.a.layout.dyn_stripe = meta_layout_dyn_needed(
				&in.a.layout, in.a.layout.dyn_stripe, len);
			if (r->flags & META_CLOSE_WROTE) {
				in.a.mtime_ns = in.a.ctime_ns = a->now;
				if (r->hdr.cred.uid != 0)
					in.a.mode = killpriv_mode(in.a.mode);
			}
			rc = meta__inode_put(t, &in);
			if (rc < 0)
				return rc;
		}
	}
	if (have && a->close) {
		rc = session_del(t, r->ino, r->session_id, sclient);
		if (rc < 0)
			return rc;
	}
	a->resp->attr = in.a;
	return 0;
}

int meta_op_close(struct meta_svc *svc, const struct meta_close_req *req, bool close,
		  struct meta_attr_resp *resp)
{
	struct close_arg a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.svc = svc;
	a.req = req;
	a.close = close;
	a.resp = resp;
	a.now = meta__now(svc);
	/* several writers: the reported length may be short of what others wrote, so ask
	 * storage for the real end (outside any transaction) */
	if (svc->opts.hooks.query_length && (req->flags & META_CLOSE_WROTE)) {
		rc = kv_run(svc->db, true, close_probe_txn, &a);
		if (rc < 0)
			return rc;
		if (a.other_writers > 0) {
			rc = svc->opts.hooks.query_length(svc->opts.hooks.arg, req->ino, &a.layout,
							  &a.queried);
			if (rc < 0)
				a.queried = 0; /* fall back to the reported length */
		}
	}
	return kv_run(svc->db, false, close_txn, &a);
}

/* ------------------------------------------------------------------ mkdir / mknod / symlink */
struct mk_arg {
	struct meta_svc *svc;
	const struct meta_hdr *hdr;
	uint64_t parent;
	const char *name;
	uint32_t name_len;
	uint32_t mode;     /* full mode with type */
	uint64_t rdev;
	const char *target;
	uint32_t target_len;
	uint64_t ino, now;
	struct meta_attr_resp *resp;
};

static int mk_txn(struct kv_txn *t, void *ap)
{
	struct mk_arg *a = ap;
	const struct meta_cred *c = &a->hdr->cred;
	struct meta__inode d, in;
	uint64_t ino;
	uint32_t type;
	int rc;

	rc = meta__name_check(a->name, a->name_len);
	if (rc < 0)
		return rc;
	if (meta__name_is_dot(a->name, a->name_len))
		return -EEXIST;
	rc = meta__load_parent(t, a->parent, &d);
	if (rc < 0)
		return rc;
	rc = meta__perm(c, &d.a, META_ACC_W | META_ACC_X);
	if (rc < 0)
		return rc;
	rc = meta__dent_get(t, a->parent, a->name, a->name_len, &ino, &type);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	if (S_ISDIR(a->mode) && d.a.nlink >= a->svc->opts.link_max)
		return -EMLINK;
	inode_init(a->svc, &in, a->ino, &d, c, a->mode, a->now);
	in.a.rdev = a->rdev;
	if (S_ISLNK(a->mode)) {
		in.target = a->target;
		in.target_len = a->target_len;
		in.a.length = a->target_len;
	}
	rc = meta__inode_put(t, &in);
	if (rc == 0)
		rc = meta__dent_put(t, a->parent, a->name, a->name_len, in.a.ino,
				    a->mode & S_IFMT);
	if (rc == 0) {
		uint32_t old_nlink = d.a.nlink;

		if (S_ISDIR(a->mode))
			d.a.nlink++;
		rc = dir_changed(t, &d, old_nlink, a->now);
	}
	if (rc < 0)
		return rc;
	a->resp->attr = in.a;
	parent_after(&d, a->now, &a->resp->parent);
	return 0;
}

static void attr_resp_enc(void *ap, struct c3_buf *out)
{
	struct mk_arg *a = ap;

	meta_attr_resp_encode(a->resp, out);
}

static int attr_resp_dec(void *ap, const uint8_t *p, size_t n)
{
	struct mk_arg *a = ap;

	return meta_attr_resp_decode(p, n, a->resp) < 0
		       ? C3_INTERNAL("attr reply of %zu bytes does not decode", n) : 0;
}

static int mk_run(struct mk_arg *a)
{
	int rc;

	a->now = meta__now(a->svc);
	rc = meta__id_alloc(a->svc, &a->ino);
	if (rc < 0)
		return rc;
	return idem_run(a->svc, a->hdr,
			meta__fp_of(META_T_MKNOD, a->parent, a->name, a->name_len, a->rdev, a->target,
			      a->target ? a->target_len : 0, a->mode),
			mk_txn, a, attr_resp_enc, attr_resp_dec);
}

int meta_op_mkdir(struct meta_svc *svc, const struct meta_mkdir_req *req,
		  struct meta_attr_resp *resp)
{
	struct mk_arg a = { .svc = svc, .hdr = &req->hdr, .parent = req->parent,
			    .name = req->name, .name_len = req->name_len,
			    .mode = S_IFDIR | (req->mode & ~req->umask & 07777), .resp = resp };

	return mk_run(&a);
}

int meta_op_mknod(struct meta_svc *svc, const struct meta_mknod_req *req,
		  struct meta_attr_resp *resp)
{
	uint32_t type = req->mode & S_IFMT;
	struct mk_arg a = { .svc = svc, .hdr = &req->hdr, .parent = req->parent,
			    .name = req->name, .name_len = req->name_len, .resp = resp };

	if (type == 0)
		type = S_IFREG;
	switch (type) {
	case S_IFREG: case S_IFIFO: case S_IFSOCK:
		break;
	case S_IFCHR: case S_IFBLK:
		if (req->hdr.cred.uid != 0)
			return -EPERM;
		a.rdev = req->rdev;
		break;
	case S_IFDIR:
		return -EPERM;
	default:
		return -EINVAL;
	}
	a.mode = type | (req->mode & ~req->umask & 07777);
	return mk_run(&a);
}

int meta_op_symlink(struct meta_svc *svc, const struct meta_symlink_req *req,
		    struct meta_attr_resp *resp)
{
	struct mk_arg a = { .svc = svc, .hdr = &req->hdr, .parent = req->parent,
			    .name = req->name, .name_len = req->name_len,
			    .mode = S_IFLNK | 0777, .target = req->target,
			    .target_len = req->target_len, .resp = resp };

	if (req->target_len == 0)
		return -ENOENT;
	if (req->target_len >= META_PATH_MAX)
		return -ENAMETOOLONG;
	if (memchr(req->target, '\0', req->target_len))
		return -EINVAL;
	return mk_run(&a);
}

/* ------------------------------------------------------------------ readlink */
struct readlink_arg {
	const struct meta_readlink_req *req;
	struct meta_readlink_resp *resp;
	struct c3_buf *store;
};

static int readlink_txn(struct kv_txn *t, void *ap)
{
	struct readlink_arg *a = ap;
	struct meta__inode in;
	int rc = meta__inode_get(t, a->req->ino, &in);

	if (rc < 0)
		return rc;
	if (!S_ISLNK(in.a.mode))
		return -EINVAL;
	c3_buf_reset(a->store);
	c3_buf_append(a->store, in.target, in.target_len);
	if (a->store->err)
		return a->store->err;
	a->resp->target = (const char *)a->store->data;
	a->resp->target_len = in.target_len;
	return 0;
}

int meta_op_readlink(struct meta_svc *svc, const struct meta_readlink_req *req,
		     struct meta_readlink_resp *resp, struct c3_buf *store)
{
	struct readlink_arg a = { req, resp, store };

	return kv_run(svc->db, true, readlink_txn, &a);
}

/* ------------------------------------------------------------------ link */
struct link_arg {
	struct meta_svc *svc;
	const struct meta_link_req *req;
	struct meta_attr_resp *resp;
	uint64_t now;
};

static int link_txn(struct kv_txn *t, void *ap)
{
	struct link_arg *a = ap;
	const struct meta_link_req *r = a->req;
	struct meta__inode d, in;
	uint64_t ino;
	uint32_t type;
	int rc;

	rc = meta__name_check(r->new_name, r->new_name_len);
	if (rc < 0)
		return rc;
	if (meta__name_is_dot(r->new_name, r->new_name_len))
		return -EEXIST;
	rc = meta__inode_get(t, r->ino, &in);
	if (rc < 0)
		return rc;
	if (S_ISDIR(in.a.mode))
		return -EPERM;
	rc = meta__load_parent(t, r->new_parent, &d);
	if (rc < 0)
		return rc;
	rc = meta__perm(&r->hdr.cred, &d.a, META_ACC_W | META_ACC_X);
	if (rc < 0)
		return rc;
	rc = meta__dent_get(t, r->new_parent, r->new_name, r->new_name_len, &ino, &type);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	if (in.a.nlink == 0)
		return -ENOENT;
	if (in.a.nlink >= a->svc->opts.link_max)
		return -EMLINK;
	in.a.nlink++;
	in.a.ctime_ns = a->now;
	rc = meta__inode_put(t, &in);
	if (rc == 0)
		rc = dir_changed(t, &d, d.a.nlink, a->now);
	if (rc == 0)
		rc = meta__dent_put(t, r->new_parent, r->new_name, r->new_name_len, in.a.ino,
				    in.a.mode & S_IFMT);
	if (rc < 0)
		return rc;
	a->resp->attr = in.a;
	parent_after(&d, a->now, &a->resp->parent);
	return 0;
}

static void link_resp_enc(void *ap, struct c3_buf *out)
{
	meta_attr_resp_encode(((struct link_arg *)ap)->resp, out);
}

static int link_resp_dec(void *ap, const uint8_t *p, size_t n)
{
	return meta_attr_resp_decode(p, n, ((struct link_arg *)ap)->resp) < 0
		       ? C3_INTERNAL("link reply of %zu bytes does not decode", n) : 0;
}

int meta_op_link(struct meta_svc *svc, const struct meta_link_req *req,
		 struct meta_attr_resp *resp)
{
	struct link_arg a = { svc, req, resp, meta__now(svc) };

	return idem_run(svc, &req->hdr,
			meta__fp_of(META_T_LINK, req->ino, "", 0, req->new_parent, req->new_name,
			      req->new_name_len, 0),
			link_txn, &a, link_resp_enc, link_resp_dec);
}

/* ------------------------------------------------------------------ unlink / rmdir */
struct unlink_arg {
	struct meta_svc *svc;
	const struct meta_unlink_req *req;
	bool dir;
	uint64_t now;
	struct meta_unlink_resp resp;
};

static int unlink_txn(struct kv_txn *t, void *ap)
{
	struct unlink_arg *a = ap;
	const struct meta_unlink_req *r = a->req;
	const struct meta_cred *c = &r->hdr.cred;
	struct meta__inode d, v;
	uint64_t ino;
	uint32_t type, old_nlink;
	int rc;

	if (meta__name_is_dot(r->name, r->name_len)) {
		if (!a->dir)
			return -EISDIR;
		return r->name_len == 1 ? -EINVAL : -ENOTEMPTY;
	}
	rc = meta__name_check(r->name, r->name_len);
	if (rc < 0)
		return rc;
	rc = meta__load_dir(t, r->parent, &d);
	if (rc < 0)
		return rc;
	rc = meta__perm(c, &d.a, META_ACC_W | META_ACC_X);
	if (rc < 0)
		return rc;
	rc = meta__dent_get(t, r->parent, r->name, r->name_len, &ino, &type);
	if (rc < 0)
		return rc;
	rc = meta__inode_get(t, ino, &v);
	if (rc < 0)
		return rc == -ENOENT ? -C3FS_EINTERNAL : rc;
	if (a->dir && !S_ISDIR(v.a.mode))
		return -ENOTDIR;
	if (!a->dir && S_ISDIR(v.a.mode))
		return -EISDIR;
	rc = meta__sticky_ok(c, &d.a, &v.a);
	if (rc < 0)
		return rc;
	old_nlink = d.a.nlink;
	if (a->dir) {
		rc = meta__dir_nonempty(t, ino);
		if (rc < 0)
			return rc;
		if (rc)
			return -ENOTEMPTY;
		rc = meta__dir_orphan(t, ino, a->now);
		d.a.nlink--;
	} else {
		rc = meta__drop_link(t, &v, a->now);
	}
	if (rc == 0)
		rc = meta__dent_clear(t, r->parent, r->name, r->name_len);
	if (rc == 0)
		rc = dir_changed(t, &d, old_nlink, a->now);
	if (rc == 0)
		parent_after(&d, a->now, &a->resp.parent);
	return rc;
}

static void unlink_resp_enc(void *ap, struct c3_buf *out)
{
	meta_unlink_resp_encode(&((struct unlink_arg *)ap)->resp, out);
}

static int unlink_resp_dec(void *ap, const uint8_t *p, size_t n)
{
	return meta_unlink_resp_decode(p, n, &((struct unlink_arg *)ap)->resp) < 0
		       ? C3_INTERNAL("unlink reply of %zu bytes does not decode", n) : 0;
}

static int unlink_run(struct meta_svc *svc, const struct meta_unlink_req *req, bool dir,
		      struct meta_unlink_resp *resp)
{
	struct unlink_arg a = { svc, req, dir, meta__now(svc), { { 0 } } };
	int rc;

	rc = idem_run(svc, &req->hdr,
		      meta__fp_of(dir ? META_T_RMDIR : META_T_UNLINK, req->parent, req->name,
				  req->name_len, 0, "", 0, 0),
		      unlink_txn, &a, unlink_resp_enc, unlink_resp_dec);
	if (rc == 0 && resp)
		*resp = a.resp;
	return rc;
}

int meta_op_unlink(struct meta_svc *svc, const struct meta_unlink_req *req,
		   struct meta_unlink_resp *resp)
{
	return unlink_run(svc, req, false, resp);
}

int meta_op_rmdir(struct meta_svc *svc, const struct meta_unlink_req *req,
		  struct meta_unlink_resp *resp)
{
	return unlink_run(svc, req, true, resp);
}

/* ------------------------------------------------------------------ rename */
struct rename_arg {
	struct meta_svc *svc;
	const struct meta_rename_req *req;
	uint64_t now;
};

/* -EINVAL when dir `moving` is new_parent or one of its ancestors. */
static int loop_check(struct kv_txn *t, uint64_t moving, uint64_t new_parent)
{
	uint64_t cur = new_parent;
	struct meta__inode in;
	int rc;

	for (int depth = 0; depth < META__DEPTH_MAX; depth++) {
		if (cur == moving)
			return -EINVAL;
		if (cur == META_ROOT_INO)
			return 0;
		rc = meta__inode_get(t, cur, &in);
		if (rc < 0)
			return rc == -ENOENT ? -C3FS_EINTERNAL : rc;
		cur = in.a.parent;
	}
	return -ELOOP;
}

static int rename_txn(struct kv_txn *t, void *ap)
{
	struct rename_arg *a = ap;
	const struct meta_rename_req *r = a->req;
	const struct meta_cred *c = &r->hdr.cred;
	struct meta__inode pd, npd_store, *npd, src, dst;
	uint64_t sino, dino;
	uint32_t stype, dtype, pd_nlink, npd_nlink;
	bool same_dir = r->parent == r->new_parent, have_dst, sdir, ddir = false;
	bool exchange = r->flags & META_RENAME_EXCHANGE;
	int rc;

	if (r->flags & ~(uint32_t)(META_RENAME_NOREPLACE | META_RENAME_EXCHANGE))
		return -EINVAL;
	if ((r->flags & META_RENAME_NOREPLACE) && exchange)
		return -EINVAL;
	if (meta__name_is_dot(r->name, r->name_len) ||
	    meta__name_is_dot(r->new_name, r->new_name_len))
		return -EBUSY;
	rc = meta__name_check(r->name, r->name_len);
	if (rc == 0)
		rc = meta__name_check(r->new_name, r->new_name_len);
	if (rc < 0)
		return rc;
	rc = meta__load_dir(t, r->parent, &pd);
	if (rc < 0)
		return rc;
	if (same_dir) {
		npd = &pd;
	} else {
		npd = &npd_store;
		rc = meta__load_parent(t, r->new_parent, npd);
		if (rc < 0)
			return rc;
	}
	rc = meta__perm(c, &pd.a, META_ACC_W | META_ACC_X);
	if (rc == 0)
		rc = meta__perm(c, &npd->a, META_ACC_W | META_ACC_X);
	if (rc < 0)
		return rc;
	pd_nlink = pd.a.nlink;
	npd_nlink = npd->a.nlink;
	rc = meta__dent_get(t, r->parent, r->name, r->name_len, &sino, &stype);
	if (rc < 0)
		return rc;
	rc = meta__inode_get(t, sino, &src);
	if (rc < 0)
		return rc == -ENOENT ? -C3FS_EINTERNAL : rc;
	sdir = S_ISDIR(src.a.mode);
	rc = meta__dent_get(t, r->new_parent, r->new_name, r->new_name_len, &dino, &dtype);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	have_dst = rc == 0;
	if (have_dst && (r->flags & META_RENAME_NOREPLACE))
		return -EEXIST;
	if (!have_dst && exchange)
		return -ENOENT;
	if (have_dst) {
		rc = meta__inode_get(t, dino, &dst);
		if (rc < 0)
			return rc == -ENOENT ? -C3FS_EINTERNAL : rc;
		ddir = S_ISDIR(dst.a.mode);
	}
	/* same inode (same entry, or two hard links of one file): nothing to do */
	if (have_dst && dino == sino)
		return 0;
	rc = meta__sticky_ok(c, &pd.a, &src.a);
	if (rc == 0 && have_dst)
		rc = meta__sticky_ok(c, &npd->a, &dst.a);
	if (rc < 0)
		return rc;
	if (!same_dir && sdir) {
		rc = meta__perm(c, &src.a, META_ACC_W);
		if (rc == 0)
			rc = loop_check(t, sino, r->new_parent);
		if (rc < 0)
			return rc;
	}
	if (exchange) {
		if (!same_dir && ddir) {
			rc = meta__perm(c, &dst.a, META_ACC_W);
			if (rc == 0)
				rc = loop_check(t, dino, r->parent);
			if (rc < 0)
				return rc;
		}
		rc = meta__dent_put(t, r->parent, r->name, r->name_len, dino, dtype);
		if (rc == 0)
			rc = meta__dent_put(t, r->new_parent, r->new_name, r->new_name_len, sino,
					    stype);
		if (rc < 0)
			return rc;
		if (!same_dir) {
			if (sdir) {
				src.a.parent = r->new_parent;
				pd.a.nlink--;
				npd->a.nlink++;
			}
			if (ddir) {
				dst.a.parent = r->parent;
				npd->a.nlink--;
				pd.a.nlink++;
			}
		}
		dst.a.ctime_ns = a->now;
		rc = meta__inode_put(t, &dst);
		if (rc < 0)
			return rc;
	} else {
		if (have_dst) {
			if (sdir && !ddir)
				return -ENOTDIR;
			if (!sdir && ddir)
				return -EISDIR;
			if (ddir) {
				rc = meta__dir_nonempty(t, dino);
				if (rc < 0)
					return rc;
				if (rc)
					return -ENOTEMPTY;
				rc = meta__dir_orphan(t, dino, a->now);
				npd->a.nlink--;
			} else {
				rc = meta__drop_link(t, &dst, a->now);
			}
			if (rc < 0)
				return rc;
		}
		rc = meta__dent_clear(t, r->parent, r->name, r->name_len);
		if (rc == 0)
			rc = meta__dent_put(t, r->new_parent, r->new_name, r->new_name_len, sino,
					    stype);
		if (rc < 0)
			return rc;
		if (sdir && !same_dir) {
			src.a.parent = r->new_parent;
			pd.a.nlink--;
			npd->a.nlink++;
		}
	}
	src.a.ctime_ns = a->now;
	rc = meta__inode_put(t, &src);
	if (rc == 0)
		rc = dir_changed(t, &pd, pd_nlink, a->now);
	if (rc == 0 && !same_dir)
		rc = dir_changed(t, npd, npd_nlink, a->now);
	return rc;
}

int meta_op_rename(struct meta_svc *svc, const struct meta_rename_req *req)
{
	struct rename_arg a = { svc, req, meta__now(svc) };

	return idem_run(svc, &req->hdr,
			meta__fp_of(META_T_RENAME, req->parent, req->name, req->name_len, req->new_parent,
			      req->new_name, req->new_name_len, req->flags),
			rename_txn, &a, NULL, NULL);
}

/* ------------------------------------------------------------------ readdir */
struct readdir_arg {
	const struct meta_readdir_req *req;
	struct meta_readdir_resp *resp;
};

static int readdir_txn(struct kv_txn *t, void *ap)
{
	struct readdir_arg *a = ap;
	const struct meta_readdir_req *r = a->req;
	struct meta_readdir_resp *resp = a->resp;
	struct meta__inode d, in;
	uint8_t b[META__KEY_MAX + 1], e[9];
	struct kv_pair *p;
	size_t bl, names = 0;
	uint32_t limit = r->limit ? r->limit : 256;
	char *np;
	bool more;
	int n, rc;

	meta_readdir_resp_release(resp);
	memset(resp, 0, sizeof(*resp));
	if (limit > META_READDIR_MAX)
		limit = META_READDIR_MAX;
	if (r->cursor_len > META_NAME_MAX)
		return -EINVAL;
	rc = meta__load_dir(t, r->ino, &d);
	if (rc < 0)
		return rc;
	rc = meta__perm(&r->hdr.cred, &d.a, META_ACC_R);
	if (rc < 0)
		return rc;
	bl = meta__key_dent(b, r->ino, r->cursor, r->cursor_len);
	if (r->cursor_len)
		b[bl++] = 0; /* first key after the cursor */
	e[0] = META__K_DENT;
	kv_put_be64(e + 1, r->ino + 1);
	n = kv_range(t, b, bl, e, 9, (int)limit, false, &p, &more);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (p[i].klen <= 9 || p[i].klen > 9 + META_NAME_MAX || p[i].vlen != 12)
			return C3_CORRUPT("dentry", "in directory %llu: key length %zu, value length "
					  "%zu (want 12)", (unsigned long long)r->ino,
					  (size_t)p[i].klen, (size_t)p[i].vlen);
		names += p[i].klen - 9;
	}
	resp->entries = malloc((size_t)n * sizeof(*resp->entries) + names + 1);
	if (!resp->entries)
		return -ENOMEM;
	np = (char *)(resp->entries + n);
	for (int i = 0; i < n; i++) {
		struct meta_dirent *de = &resp->entries[i];

		memset(de, 0, sizeof(*de));
		de->name_len = (uint32_t)(p[i].klen - 9);
		memcpy(np, p[i].key + 9, de->name_len);
		de->name = np;
		np += de->name_len;
		de->ino = kv_get_be64(p[i].val);
		de->type = kv_get_be32(p[i].val + 8);
		if (r->plus) {
			rc = meta__inode_get(t, de->ino, &in);
			if (rc == 0)
				rc = meta__dir_times(t, &in);
			if (rc < 0)
				return rc == -ENOENT ? -C3FS_EINTERNAL : rc;
			de->attr = in.a;
		}
	}
	resp->count = (uint32_t)n;
	resp->more = more;
	resp->plus = r->plus;
	return 0;
}

int meta_op_readdir(struct meta_svc *svc, const struct meta_readdir_req *req,
		    struct meta_readdir_resp *resp)
{
	struct readdir_arg a = { req, resp };
	int rc;

	memset(resp, 0, sizeof(*resp));
	rc = kv_run(svc->db, true, readdir_txn, &a);
	if (rc < 0)
		meta_readdir_resp_release(resp);
	return rc;
}

/* ------------------------------------------------------------------ client sessions */
static int renew_txn(struct kv_txn *t, void *ap)
{
	struct meta__client_arg *a = ap;
	uint8_t k[9], v[8];

	k[0] = META__K_CLIENT;
	kv_put_be64(k + 1, a->client);
	kv_put_be64(v, a->now);
	return kv_set(t, k, 9, v, 8);
}

int meta_op_renew(struct meta_svc *svc, const struct meta_client_req *req,
		  struct meta_renew_resp *resp)
{
	struct meta__client_arg a = { svc, req->hdr.client_id, meta__now(svc), 0, false, 0 };
	int rc = kv_run(svc->db, false, renew_txn, &a);

	if (rc < 0)
		return rc;
	resp->session_timeout_ms = svc->opts.session_timeout_ms;
	return 0;
}

/* Drop up to 256 sessions of client a->client (and its renew record when all are gone). */
int meta__client_drop_txn(struct kv_txn *t, void *ap)
{
	struct meta__client_arg *a = ap;
	uint8_t b[9], e[9], k[17];
	struct kv_pair *p;
	bool more;
	int n, rc;

	a->dropped = 0;
	if (a->only_if_seen) {
		const uint8_t *cur;
		size_t vl;

		k[0] = META__K_CLIENT;
		kv_put_be64(k + 1, a->client);
		rc = kv_get(t, k, 9, &cur, &vl);
		if (rc < 0 && rc != -ENOENT)
			return rc;
		if (rc == 0 && (vl != 8 || kv_get_be64(cur) != a->seen))
			return 0; /* renewed meanwhile: keep its sessions */
	}
	b[0] = e[0] = META__K_CSESS;
	kv_put_be64(b + 1, a->client);
	kv_put_be64(e + 1, a->client + 1);
	n = kv_range(t, b, 9, e, 9, 256, false, &p, &more);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (p[i].klen != 25)
			return C3_CORRUPT("client session", "of client %llu: key length %zu, want 25",
					  (unsigned long long)a->client, (size_t)p[i].klen);
		rc = kv_clear(t, k, meta__key_id2(k, META__K_SESSION, kv_get_be64(p[i].key + 9),
						  kv_get_be64(p[i].key + 17)));
		if (rc < 0)
			return rc;
	}
	if (n > 0) {
		rc = kv_clear_range(t, b, 9, p[n - 1].key, p[n - 1].klen);
		if (rc == 0)
			rc = kv_clear(t, p[n - 1].key, p[n - 1].klen);
		if (rc < 0)
			return rc;
	}
	a->dropped = n;
	if (!more) {
		k[0] = META__K_CLIENT;
		kv_put_be64(k + 1, a->client);
		rc = kv_clear(t, k, 9);
		if (rc < 0)
			return rc;
	}
	return more ? 1 : 0;
}

struct release_arg {
	const struct meta_release_req *req;
	uint32_t ended;
};

static int release_txn(struct kv_txn *t, void *ap)
{
	struct release_arg *a = ap;
	const struct meta_release_req *r = a->req;
	bool writer = false;

	a->ended = 0;
	for (uint32_t i = 0; i < r->count; i++) {
		const struct meta_sess_ref *s = &r->sessions[i];
		uint64_t client = 0;
		uint32_t flags = 0;
		int rc = session_get(t, s->ino, s->session_id, &flags, &client);

		if (rc < 0)
			return rc;
		if (rc == 0 || client != r->hdr.client_id)
			continue;
		rc = session_del(t, s->ino, s->session_id, client);
		if (rc < 0)
			return rc;
		a->ended++;
		if (flags & META_O_WRITE)
			writer = true;
	}
	/* ends of read-only sessions alone: a crash that loses them leaves sessions the
	 * client's expiry removes later */
	if (!writer)
		kv_txn_set_lazy(t);
	return 0;
}

int meta_op_release(struct meta_svc *svc, const struct meta_release_req *req)
{
	struct release_arg a = { req, 0 };

	if (req->count == 0 || req->count > META_RELEASE_MAX)
		return -EINVAL;
	return kv_run(svc->db, false, release_txn, &a);
}

int meta_op_prune(struct meta_svc *svc, const struct meta_client_req *req)
{
	struct meta__client_arg a = { svc, req->hdr.client_id, meta__now(svc), 0, false, 0 };
	int rc;

	do {
		rc = kv_run(svc->db, false, meta__client_drop_txn, &a);
	} while (rc == 1);
	return rc < 0 ? rc : 0;
}
