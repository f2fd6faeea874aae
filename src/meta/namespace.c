/* meta/namespace.c — entry changes of one directory: MKDIR, MKNOD, SYMLINK, LINK,
 * UNLINK, RMDIR, each one idempotent transaction (idem.c) built from entry.c's steps.
 *
 * Replies carry the parent directory's attributes after the change (meta__parent_after).
 * Entry changes that leave the parent's nlink alone write its times to a blind 'T' row
 * only (meta__dir_changed), so concurrent creates in one directory do not conflict.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/check.h"
#include "common/errors.h"
#include "meta/meta_int.h"

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
	uint32_t old_nlink;
	int rc;

	rc = meta__new_name_check(a->name, a->name_len);
	if (rc == 0)
		rc = meta__parent_for_new(t, c, a->parent, a->name, a->name_len, &d);
	if (rc < 0)
		return rc;
	if (S_ISDIR(a->mode) && d.a.nlink >= a->svc->opts.link_max)
		return -EMLINK;
	meta__inode_init(a->svc, &in, a->ino, &d, c, a->mode, a->now);
	in.a.rdev = a->rdev;
	if (S_ISLNK(a->mode)) {
		in.target = a->target;
		in.target_len = a->target_len;
		in.a.length = a->target_len;
	}
	old_nlink = d.a.nlink;
	if (S_ISDIR(a->mode))
		d.a.nlink++;
	rc = meta__entry_add(t, &d, old_nlink, a->name, a->name_len, &in, a->now);
	if (rc < 0)
		return rc;
	a->resp->attr = in.a;
	meta__parent_after(&d, a->now, &a->resp->parent);
	return 0;
}

static int mk_run(struct mk_arg *a)
{
	int rc;

	a->now = meta__now(a->svc);
	rc = meta__id_alloc(a->svc, &a->ino);
	if (rc < 0)
		return rc;
	return meta__idem_run(a->svc, a->hdr,
			meta__fp_of(META_T_MKNOD, a->parent, a->name, a->name_len, a->rdev, a->target,
			      a->target ? a->target_len : 0, a->mode),
			mk_txn, a, a->resp, meta__attr_resp_enc, meta__attr_resp_dec);
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
	int rc;

	rc = meta__new_name_check(r->new_name, r->new_name_len);
	if (rc == 0)
		rc = meta__inode_get(t, r->ino, &in);
	if (rc < 0)
		return rc;
	if (S_ISDIR(in.a.mode))
		return -EPERM;
	rc = meta__parent_for_new(t, &r->hdr.cred, r->new_parent, r->new_name, r->new_name_len,
				  &d);
	if (rc < 0)
		return rc;
	if (in.a.nlink == 0)
		return -ENOENT;
	if (in.a.nlink >= a->svc->opts.link_max)
		return -EMLINK;
	in.a.nlink++;
	in.a.ctime_ns = a->now;
	rc = meta__entry_add(t, &d, d.a.nlink, r->new_name, r->new_name_len, &in, a->now);
	if (rc < 0)
		return rc;
	a->resp->attr = in.a;
	meta__parent_after(&d, a->now, &a->resp->parent);
	return 0;
}

int meta_op_link(struct meta_svc *svc, const struct meta_link_req *req,
		 struct meta_attr_resp *resp)
{
	struct link_arg a = { svc, req, resp, meta__now(svc) };

	return meta__idem_run(svc, &req->hdr,
			meta__fp_of(META_T_LINK, req->ino, "", 0, req->new_parent, req->new_name,
			      req->new_name_len, 0),
			link_txn, &a, resp, meta__attr_resp_enc, meta__attr_resp_dec);
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
	uint32_t old_nlink;
	int rc;

	if (meta__name_is_dot(r->name, r->name_len)) {
		if (!a->dir)
			return -EISDIR;
		return r->name_len == 1 ? -EINVAL : -ENOTEMPTY;
	}
	rc = meta__victim_get(t, c, r->parent, r->name, r->name_len, &d, &v);
	if (rc < 0)
		return rc;
	if (a->dir && !S_ISDIR(v.a.mode))
		return -ENOTDIR;
	if (!a->dir && S_ISDIR(v.a.mode))
		return -EISDIR;
	rc = meta__sticky_ok(c, &d.a, &v.a);
	if (rc < 0)
		return rc;
	old_nlink = d.a.nlink;
	rc = meta__entry_drop(t, &d, &v, a->now);
	if (rc == 0)
		rc = meta__dent_clear(t, r->parent, r->name, r->name_len);
	if (rc == 0)
		rc = meta__dir_changed(t, &d, old_nlink, a->now);
	if (rc == 0)
		meta__parent_after(&d, a->now, &a->resp.parent);
	return rc;
}

static int unlink_run(struct meta_svc *svc, const struct meta_unlink_req *req, bool dir,
		      struct meta_unlink_resp *resp)
{
	struct unlink_arg a = { svc, req, dir, meta__now(svc), { { 0 } } };
	int rc;

	rc = meta__idem_run(svc, &req->hdr,
		      meta__fp_of(dir ? META_T_RMDIR : META_T_UNLINK, req->parent, req->name,
				  req->name_len, 0, "", 0, 0),
		      unlink_txn, &a, &a.resp, meta__unlink_resp_enc, meta__unlink_resp_dec);
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
