/* meta/attr.c — reads and changes of one inode's attributes: STATFS, LOOKUP, GETATTR,
 * ACCESS, READLINK, SETATTR (chmod, chown, utimes, truncate, layouts, dyn_stripe).
 *
 * Directory attributes merge the blind 'T' time rows (meta__dir_times).  A truncate
 * commits the length, records the pending cut and cuts the chunks after the commit
 * (cut.c); an extension first runs a cut still pending.  Non-owners may change a mode
 * only to clear the setuid/setgid bits a write would clear (killpriv_only), when they
 * may write the file.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/check.h"
#include "common/errors.h"
#include "meta/meta_int.h"

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

	rc = meta__load_dir_perm(t, &r->hdr.cred, r->parent, META_ACC_X, &d);
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

/* True when `want` is exactly `cur` with a non-empty subset of the bits meta__killpriv_mode
 * clears removed — what the FUSE kernel module sends (a SETATTR of the mode with the
 * writer's credentials) after a write or truncate when the file system does not handle
 * killpriv itself. */
static bool killpriv_only(uint32_t cur, uint32_t want)
{
	uint32_t killable = (cur ^ meta__killpriv_mode(cur)) & 07777, cleared;

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

	rc = r->session_id ? meta__session_get(t, r->ino, r->session_id, &sflags, &sclient) : 0;
	if (rc < 0)
		return rc;
	if (rc == 1 && (sflags & META_O_WRITE) && sclient == r->hdr.client_id)
		return 0;
	return meta__perm(&r->hdr.cred, &in->a, META_ACC_W);
}

/* Every check of setattr a->req on inode in, before any change (setattr_apply).  May
 * answer META__CUT_FIRST (a->first, a->layout filled) for an extension. */
static int setattr_check(struct kv_txn *t, struct setattr_arg *a, const struct meta__inode *in)
{
	const struct meta_setattr_req *r = a->req;
	const struct meta_cred *c = &r->hdr.cred;
	bool root = c->uid == 0, owner = root || c->uid == in->a.uid;
	uint32_t m = r->mask;
	int rc;

	if ((m & META_SET_MODE) && !owner) {
		/* The one mode change a non-owner may make: the kernel's kill-priv SETATTR
		 * after a write/truncate by someone allowed to write. */
		if (!killpriv_only(in->a.mode, r->mode))
			return -EPERM;
		rc = setattr_may_write(t, r, in);
		if (rc < 0)
			return rc == -EACCES ? -EPERM : rc;
	}
	if ((m & META_SET_UID) && r->uid != in->a.uid && !root)
		return -EPERM;
	if ((m & META_SET_GID) && r->gid != in->a.gid && !root &&
	    !(c->uid == in->a.uid && meta__cred_in_group(c, r->gid) &&
	      (!(m & META_SET_UID) || r->uid == in->a.uid)))
		return -EPERM;
	if ((m & (META_SET_ATIME | META_SET_MTIME)) && !owner)
		return -EPERM;
	if ((m & (META_SET_ATIME_NOW | META_SET_MTIME_NOW)) &&
	    !(m & (META_SET_ATIME | META_SET_MTIME)) && !owner &&
	    meta__perm(c, &in->a, META_ACC_W) < 0)
		return -EACCES;
	if (m & META_SET_SIZE) {
		if (S_ISDIR(in->a.mode))
			return -EISDIR;
		if (!S_ISREG(in->a.mode))
			return -EINVAL;
		if (r->size > (1ull << 62))
			return -EFBIG;
		rc = setattr_may_write(t, r, in);
		if (rc < 0)
			return rc;
		if (r->size > in->a.length) {
			/* a cut still pending from an earlier truncate goes first: the range
			 * about to reappear must read as zeros */
			rc = meta__cut_first(t, in, 0, &a->first);
			if (rc == META__CUT_FIRST)
				a->layout = in->a.layout;
			if (rc < 0)
				return rc;
		}
	}
	if ((m & META_SET_DYN_STRIPE) && !S_ISREG(in->a.mode))
		return -EINVAL;
	if (m & META_SET_LAYOUT) {
		if (!S_ISDIR(in->a.mode))
			return -ENOTDIR;
		if (!owner)
			return -EPERM;
		if (meta_layout_check(&r->layout, false) != 0)
			return -C3FS_EBADLAYOUT;
	}
	return 0;
}

/* The changes of setattr a->req to inode in (checked by setattr_check), in the record
 * and, for a shrink, the pending cut. */
static int setattr_apply(struct kv_txn *t, struct setattr_arg *a, struct meta__inode *in)
{
	const struct meta_setattr_req *r = a->req;
	const struct meta_cred *c = &r->hdr.cred;
	bool root = c->uid == 0;
	uint32_t m = r->mask;
	int rc;

	if (m & META_SET_MODE) {
		in->a.mode = (in->a.mode & S_IFMT) | (r->mode & 07777);
		if (!root && !meta__cred_in_group(c, (m & META_SET_GID) ? r->gid : in->a.gid))
			in->a.mode &= ~(uint32_t)S_ISGID;
	}
	if (m & (META_SET_UID | META_SET_GID)) {
		if (m & META_SET_UID)
			in->a.uid = r->uid;
		if (m & META_SET_GID)
			in->a.gid = r->gid;
		if (!S_ISDIR(in->a.mode))
			in->a.mode = meta__killpriv_mode(in->a.mode);
	}
	if (m & META_SET_ATIME)
		in->a.atime_ns = r->atime_ns;
	else if (m & META_SET_ATIME_NOW)
		in->a.atime_ns = a->now;
	if (m & META_SET_MTIME)
		in->a.mtime_ns = r->mtime_ns;
	else if (m & META_SET_MTIME_NOW)
		in->a.mtime_ns = a->now;
	if (m & META_SET_SIZE) {
		/* The storage cut runs after the commit, also when the size does not change:
		 * a client that retries a truncate whose cut failed (storage down, chain
		 * being reconfigured) finds the length already set and must still get the
		 * chunks past it removed; a writer that has not reported its length yet may
		 * also have data past the stored end.  The cut is idempotent. */
		if (r->size < in->a.length)
			in->a.truncate_ver++;
		if (r->size <= in->a.length) {
			a->shrunk = true;
			a->layout = in->a.layout;
			a->new_length = r->size;
			a->stamp = meta__rand(a->svc);
			rc = meta__cut_note(t, in->a.ino, r->size, a->stamp);
			if (rc < 0)
				return rc;
		}
		in->a.length = r->size;
		in->a.mtime_ns = a->now;
		in->a.layout.dyn_stripe =
			meta_layout_dyn_needed(&in->a.layout, in->a.layout.dyn_stripe, r->size);
		if (!root)
			in->a.mode = meta__killpriv_mode(in->a.mode);
	}
	if (m & META_SET_DYN_STRIPE) {
		uint32_t want = r->dyn_stripe > in->a.layout.stripe ? in->a.layout.stripe
								    : r->dyn_stripe;

		while (in->a.layout.dyn_stripe < want)
			in->a.layout.dyn_stripe = in->a.layout.dyn_stripe * 2 > in->a.layout.stripe
				? in->a.layout.stripe : in->a.layout.dyn_stripe * 2;
	}
	if (m & META_SET_LAYOUT) {
		in->a.layout = r->layout;
		in->a.layout.base = 0;
		in->a.layout.seed = 0;
		in->a.layout.dyn_stripe = 0;
	}
	in->a.ctime_ns = a->now;
	rc = meta__inode_put(t, in);
	if (rc == 0 && S_ISDIR(in->a.mode))
		rc = meta__dir_times_clear(t, in->a.ino); /* the record now has the newest */
	if (rc < 0)
		return rc;
	a->resp->attr = in->a;
	return 0;
}

static int setattr_txn(struct kv_txn *t, void *ap)
{
	struct setattr_arg *a = ap;
	struct meta__inode in;
	int rc;

	a->shrunk = false;
	rc = meta__inode_get(t, a->req->ino, &in);
	if (rc == 0)
		rc = meta__dir_times(t, &in);
	if (rc == 0)
		rc = setattr_check(t, a, &in);
	return rc < 0 ? rc : setattr_apply(t, a, &in);
}

int meta_op_setattr(struct meta_svc *svc, const struct meta_setattr_req *req,
		    struct meta_attr_resp *resp)
{
	struct setattr_arg a = { .svc = svc, .req = req, .resp = resp, .now = meta__now(svc) };
	int rc;

	rc = meta__run_cut_first(svc, setattr_txn, &a, &a.first, &a.layout, NULL);
	if (rc < 0)
		return rc;
	if (a.shrunk) {
		struct meta__cut c = { req->ino, a.new_length, a.stamp };

		return meta__cut_finish(svc, &c, &a.layout);
	}
	return 0;
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
