/* meta/rename.c — RENAME (with RENAME_NOREPLACE and RENAME_EXCHANGE) in one
 * transaction.  A directory moved to another parent is checked against the ancestors of
 * its destination inside the transaction (loop_check), so no cycle can commit.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/errors.h"
#include "meta/meta_int.h"

struct rename_arg {
	struct meta_svc *svc;
	const struct meta_rename_req *req;
	uint64_t now;
};

/* May c move directory `moving` (its '..' changes) below new_parent?  It needs write
 * permission on it, and -EINVAL when it is new_parent or one of its ancestors. */
static int loop_check(struct kv_txn *t, const struct meta_cred *c,
		      const struct meta__inode *moving, uint64_t new_parent)
{
	uint64_t cur = new_parent;
	struct meta__inode in;
	int rc = meta__perm(c, &moving->a, META_ACC_W);

	if (rc < 0)
		return rc;
	for (int depth = 0; depth < META__DEPTH_MAX; depth++) {
		if (cur == moving->a.ino)
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
		rc = loop_check(t, c, &src, r->new_parent);
		if (rc < 0)
			return rc;
	}
	if (exchange) {
		if (!same_dir && ddir) {
			rc = loop_check(t, c, &dst, r->parent);
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
			rc = meta__entry_drop(t, npd, &dst, a->now);
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
		rc = meta__dir_changed(t, &pd, pd_nlink, a->now);
	if (rc == 0 && !same_dir)
		rc = meta__dir_changed(t, npd, npd_nlink, a->now);
	return rc;
}

int meta_op_rename(struct meta_svc *svc, const struct meta_rename_req *req)
{
	struct rename_arg a = { svc, req, meta__now(svc) };

	return meta__idem_run(svc, &req->hdr,
			meta__fp_of(META_T_RENAME, req->parent, req->name, req->name_len, req->new_parent,
			      req->new_name, req->new_name_len, req->flags),
			rename_txn, &a, NULL, NULL, NULL);
}
