/* meta/entry.c — the steps every entry change shares: loading the directory (and
 * refusing removed ones as parents), a new inode's owner, group and layout, the directory
 * times of a change, one name less for a file or a directory, and deleting an inode with
 * all its rows.  Used by the op files (namespace.c, open.c, rename.c, rmtree.c).
 *
 * Times: entry changes set the parent's mtime and ctime; attribute changes set ctime.
 * Removed directories are not deleted at once: they become nlink-0 orphans in the GC
 * queue (meta__dir_orphan) so handles still open on them keep working; no entry can be
 * added to them (meta__load_parent).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/check.h"
#include "common/errors.h"
#include "meta/meta_int.h"
#include "net/codec.h"

void meta__touch_dir(struct meta__inode *d, uint64_t now)
{
	d->a.mtime_ns = d->a.ctime_ns = now;
}

/* An entry of directory d changed.  When its nlink changed too the record is rewritten;
 * otherwise only the times go to the blind 'T' key, so concurrent entry changes in one
 * directory do not conflict on its inode. */
int meta__dir_changed(struct kv_txn *t, struct meta__inode *d, uint32_t old_nlink,
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
void meta__parent_after(const struct meta__inode *d, uint64_t now, struct meta_attr *out)
{
	*out = d->a;
	if (out->mtime_ns < now)
		out->mtime_ns = now;
	if (out->ctime_ns < now)
		out->ctime_ns = now;
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

int meta__inode_delete(struct kv_txn *t, uint64_t ino)
{
	uint8_t k[9];
	int rc = kv_clear(t, k, meta__key_inode(k, ino));

	if (rc == 0)
		rc = meta__dir_times_clear(t, ino);
	if (rc == 0)
		rc = meta__cut_clear(t, ino);
	return rc < 0 ? rc : meta__range_clear(t, META__K_XATTR, ino);
}

static int gc_enqueue(struct kv_txn *t, uint64_t ino, uint64_t now)
{
	uint8_t k[9], v[8];

	kv_put_be64(v, now);
	return kv_set(t, k, meta__key_id1(k, META__K_GC, ino), v, 8);
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

int meta__load_dir_perm(struct kv_txn *t, const struct meta_cred *c, uint64_t ino,
			uint32_t mask, struct meta__inode *d)
{
	int rc = meta__load_dir(t, ino, d);

	return rc < 0 ? rc : meta__perm(c, &d->a, mask);
}

int meta__load_parent(struct kv_txn *t, uint64_t ino, struct meta__inode *d)
{
	int rc = meta__load_dir(t, ino, d);

	if (rc == 0 && d->a.nlink == 0)
		return -ENOENT; /* removed directory (still open somewhere) */
	return rc;
}

/* New inode below parent dir d (POSIX owner/group rules incl. setgid directories). */
void meta__inode_init(struct meta_svc *svc, struct meta__inode *in, uint64_t ino,
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

int meta__new_name_check(const char *name, uint32_t len)
{
	int rc = meta__name_check(name, len);

	if (rc < 0)
		return rc;
	return meta__name_is_dot(name, len) ? -EEXIST : 0;
}

int meta__parent_for_new(struct kv_txn *t, const struct meta_cred *c, uint64_t parent,
			 const char *name, uint32_t len, struct meta__inode *d)
{
	uint64_t ino;
	uint32_t type;
	int rc = meta__load_parent(t, parent, d);

	if (rc == 0)
		rc = meta__perm(c, &d->a, META_ACC_W | META_ACC_X);
	if (rc < 0)
		return rc;
	rc = meta__dent_get(t, parent, name, len, &ino, &type);
	if (rc == 0)
		return -EEXIST;
	return rc == -ENOENT ? 0 : rc;
}

int meta__entry_add(struct kv_txn *t, struct meta__inode *d, uint32_t old_nlink,
		    const char *name, uint32_t len, const struct meta__inode *in, uint64_t now)
{
	int rc = meta__inode_put(t, in);

	if (rc == 0)
		rc = meta__dent_put(t, d->a.ino, name, len, in->a.ino, in->a.mode & S_IFMT);
	return rc < 0 ? rc : meta__dir_changed(t, d, old_nlink, now);
}

int meta__victim_get(struct kv_txn *t, const struct meta_cred *c, uint64_t parent,
		     const char *name, uint32_t len, struct meta__inode *d, struct meta__inode *v)
{
	uint64_t ino;
	uint32_t type;
	int rc = meta__name_check(name, len);

	if (rc == 0)
		rc = meta__load_dir_perm(t, c, parent, META_ACC_W | META_ACC_X, d);
	if (rc == 0)
		rc = meta__dent_get(t, parent, name, len, &ino, &type);
	if (rc < 0)
		return rc;
	rc = meta__inode_get(t, ino, v);
	return rc == -ENOENT ? -C3FS_EINTERNAL : rc;
}

int meta__entry_drop(struct kv_txn *t, struct meta__inode *d, struct meta__inode *v, uint64_t now)
{
	int rc;

	if (!S_ISDIR(v->a.mode))
		return meta__drop_link(t, v, now);
	rc = meta__dir_nonempty(t, v->a.ino);
	if (rc < 0)
		return rc;
	if (rc)
		return -ENOTEMPTY;
	d->a.nlink--;
	return meta__dir_orphan(t, v->a.ino, now);
}
