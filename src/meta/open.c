/* meta/open.c — CREATE and OPEN: the checks of an open, O_TRUNC, and the session an
 * open records (session.c); create adds the new file as mknod would (entry.c).
 *
 * A truncating open commits the length first and cuts the chunks after the commit
 * (cut.c); when that cut fails the open fails and its session goes again.  An open for
 * writing first runs a cut still pending from an earlier truncate (meta__run_cut_first).
 * A create that truncated an existing file keeps no idempotency record, so a retry cuts
 * again.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/check.h"
#include "common/errors.h"
#include "common/log.h"
#include "meta/meta_int.h"

static void fill_open_resp(struct meta_open_resp *r, const struct meta__inode *in, uint64_t sid)
{
	r->attr = in->a;
	r->session_id = sid;
}

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
			in->a.mode = meta__killpriv_mode(in->a.mode);
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
		rc = meta__session_put(t, svc, in->a.ino, sid, client, flags, now);
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

	return meta__session_del(t, u->ino, u->sid, u->client);
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
	uint64_t ino, sid = 0;
	uint32_t type;
	int rc;

	a->oc.truncated = false;
	memset(&a->resp->parent, 0, sizeof(a->resp->parent));
	if (r->flags & META_O_DIR)
		return -EINVAL; /* O_CREAT | O_DIRECTORY */
	rc = meta__new_name_check(r->name, r->name_len);
	if (rc == 0)
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
	meta__inode_init(a->svc, &in, a->ino, &d, c, S_IFREG | (r->mode & ~r->umask & 07777), a->now);
	rc = meta__entry_add(t, &d, d.a.nlink, r->name, r->name_len, &in, a->now);
	if (rc < 0)
		return rc;
	if (!(r->flags & META_O_NOSESSION)) {
		sid = a->sid;
		rc = meta__session_put(t, a->svc, in.a.ino, sid, r->hdr.client_id, r->flags, a->now);
		if (rc < 0)
			return rc;
	}
	fill_open_resp(a->resp, &in, sid);
	meta__parent_after(&d, a->now, &a->resp->parent);
	return 0;
}

int meta_op_create(struct meta_svc *svc, const struct meta_create_req *req,
		   struct meta_open_resp *resp)
{
	struct create_arg a = { .svc = svc, .req = req, .resp = resp, .now = meta__now(svc) };
	int rc;

	rc = meta__id_alloc(svc, &a.ino);
	if (rc == 0)
		rc = meta__id_alloc(svc, &a.sid);
	if (rc < 0)
		return rc;
	{
		struct meta__idem w = { svc, &req->hdr,
					meta__fp_of(META_T_CREATE, req->parent, req->name,
						    req->name_len, 0, "", 0, req->flags),
					create_txn, &a, resp, meta__open_resp_enc,
					meta__open_resp_dec, create_record };

		rc = meta__run_cut_first(svc, NULL, NULL, &a.oc.first, &a.oc.layout, &w);
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
	struct open_arg a = { .svc = svc, .req = req, .resp = resp, .now = meta__now(svc) };
	int rc;

	rc = meta__id_alloc(svc, &a.sid);
	if (rc < 0)
		return rc;
	rc = meta__run_cut_first(svc, open_txn, &a, &a.oc.first, &a.oc.layout, NULL);
	if (rc < 0)
		return rc;
	return open_cut_finish(svc, &req->hdr, resp, &a.oc);
}
