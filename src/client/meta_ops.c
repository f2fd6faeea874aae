/* meta_ops.c — the metadata operations of libc3fs: one meta RPC each (rmtree: repeated
 * until done), the caller's credentials in every request, idempotency sequence numbers
 * on namespace changes so that a retry after a lost reply is applied once.
 *
 * Names are checked for length here (ENAMETOOLONG) only so that a request never exceeds
 * what the wire allows; every other rule is the meta service's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client/client_int.h"
#include "common/errors.h"

static int client_name_check(const char *name)
{
	if (!name)
		return -EINVAL;
	if (strlen(name) > META_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int client__entry_name(uint64_t parent, const char *name, uint64_t *req_parent,
		       const char **req_name, uint32_t *req_name_len)
{
	int rc = client_name_check(name);

	if (rc)
		return rc;
	*req_parent = parent;
	*req_name = name;
	*req_name_len = (uint32_t)strlen(name);
	return 0;
}

/* Send req (already encoded), decode a meta_attr_resp into out (may be NULL).  The
 * attributes of a changed directory the reply carries go to the directory cache. */
static int client_attr_call(struct c3fs_client *cl, uint16_t type, struct c3_buf *b,
			    struct c3fs_attr *out, struct meta_attr *raw)
{
	struct c3_buf r = C3_BUF_INIT;
	struct meta_attr_resp rsp;
	uint64_t gen = client__dattr_gen(cl);
	int rc;

	rc = client__meta_call(cl, type, b, &r);
	if (rc == 0) {
		rc = meta_attr_resp_decode(r.data, r.len, &rsp);
		if (rc == 0) {
			client__dattr_put(cl, gen, &rsp.parent);
			if (out)
				client__attr_from_meta(cl, &rsp.attr, out);
			if (raw)
				*raw = rsp.attr;
		}
	}
	c3_buf_release(b);
	c3_buf_release(&r);
	return rc;
}

int c3fs_lookup(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
		const char *name, struct c3fs_attr *out)
{
	struct meta_lookup_req req;
	struct c3_buf b = C3_BUF_INIT;
	int rc;

	rc = client__entry_name(parent, name, &req.parent, &req.name, &req.name_len);
	if (rc)
		return rc;
	client__hdr(cl, cr, false, &req.hdr);
	meta_lookup_req_encode(&req, &b);
	return client_attr_call(cl, META_T_LOOKUP, &b, out, NULL);
}

int c3fs_getattr(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
		 struct c3fs_attr *out)
{
	struct meta_getattr_req req;
	struct c3_buf b = C3_BUF_INIT;
	struct meta_attr cached;

	if (client__dattr_get(cl, ino, &cached)) { /* a directory this client just changed */
		client__attr_from_meta(cl, &cached, out);
		return 0;
	}
	client__hdr(cl, cr, false, &req.hdr);
	req.ino = ino;
	meta_getattr_req_encode(&req, &b);
	return client_attr_call(cl, META_T_GETATTR, &b, out, NULL);
}

int c3fs_path_lookup(struct c3fs_client *cl, const struct c3fs_cred *cr, const char *path,
		     struct c3fs_attr *out)
{
	char *work = NULL, *comp, *save = NULL;
	int rc, links = 0;
	uint64_t cur = META_ROOT_INO;
	char target[C3FS_PATH_MAX];

	if (!path)
		return -EINVAL;
	if (strlen(path) >= C3FS_PATH_MAX)
		return -ENAMETOOLONG;
	work = strdup(path);
	if (!work)
		return -ENOMEM;
	rc = c3fs_getattr(cl, cr, cur, out);
	for (comp = strtok_r(work, "/", &save); rc == 0 && comp;) {
		char *next = strtok_r(NULL, "/", &save);

		if (strcmp(comp, ".") == 0) {
			comp = next;
			continue;
		}
		if (!S_ISDIR(out->mode)) {
			rc = -ENOTDIR;
			break;
		}
		rc = c3fs_lookup(cl, cr, cur, comp, out);
		if (rc)
			break;
		/* a symlink in the middle of the path: continue from its target */
		if (S_ISLNK(out->mode) && next) {
			char *rest;
			size_t need;
			int n;

			if (++links > 40) {
				rc = -ELOOP;
				break;
			}
			n = c3fs_readlink(cl, cr, out->ino, target, sizeof(target));
			if (n < 0) {
				rc = n;
				break;
			}
			need = strlen(target) + 2 + strlen(next) + (save ? strlen(save) : 0) + 2;
			rest = malloc(need);
			if (!rest) {
				rc = -ENOMEM;
				break;
			}
			snprintf(rest, need, "%s/%s%s%s", target, next, save && *save ? "/" : "",
				 save ? save : "");
			free(work);
			work = rest;
			save = NULL;
			if (target[0] == '/')
				cur = META_ROOT_INO;
			rc = c3fs_getattr(cl, cr, cur, out);
			comp = strtok_r(work, "/", &save);
			continue;
		}
		cur = out->ino;
		comp = next;
	}
	free(work);
	return rc;
}

/* c3fs_setattr's valid bits and the SETATTR request's mask bits. */
static const struct {
	uint32_t c3fs, meta;
} set_bits[] = {
	{ C3FS_SET_MODE, META_SET_MODE },
	{ C3FS_SET_UID, META_SET_UID },
	{ C3FS_SET_GID, META_SET_GID },
	{ C3FS_SET_SIZE, META_SET_SIZE },
	{ C3FS_SET_ATIME, META_SET_ATIME },
	{ C3FS_SET_MTIME, META_SET_MTIME },
	{ C3FS_SET_ATIME_NOW, META_SET_ATIME_NOW },
	{ C3FS_SET_MTIME_NOW, META_SET_MTIME_NOW },
};

int c3fs_setattr(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
		 struct c3fs_file *file, const struct c3fs_setattr *sa, struct c3fs_attr *out)
{
	struct meta_setattr_req req;
	struct meta_attr raw;
	struct c3_buf b = C3_BUF_INIT;
	struct client_inode *in;
	int rc;

	memset(&req, 0, sizeof(req));
	client__hdr(cl, cr, false, &req.hdr);
	req.ino = ino;
	for (size_t i = 0; i < sizeof(set_bits) / sizeof(set_bits[0]); i++)
		if (sa->valid & set_bits[i].c3fs)
			req.mask |= set_bits[i].meta;
	req.mode = sa->mode & 07777;
	req.uid = sa->uid;
	req.gid = sa->gid;
	req.size = sa->size;
	req.atime_ns = (uint64_t)sa->atime_ns;
	req.mtime_ns = (uint64_t)sa->mtime_ns;
	if (file && file->can_write && file->ino == ino)
		req.session_id = file->session_id;
	if (req.mask == 0) /* e.g. ctime only: report the current attributes */
		return out ? c3fs_getattr(cl, cr, ino, out) : 0;

	if (req.mask & META_SET_SIZE) {
		/* meta cuts chunks only below the length it knows: tell it ours first */
		rc = client__flush_length(cl, ino);
		if (rc)
			return rc;
	}
	in = (req.mask & META_SET_SIZE) ? client__inode_find(cl, ino) : NULL;
	if (in) {
		/* unreported writes past the new size must not re-extend the file later */
		pthread_mutex_lock(&in->lock);
		in->write_gen++;
		pthread_mutex_unlock(&in->lock);
	}
	meta_setattr_req_encode(&req, &b);
	/* a shrink also cuts the chunks on the storage service: meta does that before it
	 * replies */
	rc = client_attr_call(cl, META_T_SETATTR, &b, NULL, &raw);
	client__dattr_drop(cl, ino);
	if (in) {
		if (rc == 0) {
			pthread_mutex_lock(&in->lock);
			in->written_end = 0;
			in->dirty = false;
			in->meta_length = sa->size;
			if (raw.truncate_ver > in->trunc_ver)
				in->trunc_ver = raw.truncate_ver;
			pthread_mutex_unlock(&in->lock);
		}
		client__inode_put(cl, in);
	}
	if (rc == 0 && out)
		client__attr_from_meta(cl, &raw, out);
	return rc;
}

int c3fs_mknod(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
	       const char *name, uint32_t mode, uint32_t rdev, struct c3fs_attr *out)
{
	struct meta_mknod_req req = { .mode = mode, .rdev = rdev };
	struct c3_buf b = C3_BUF_INIT;
	int rc = client__entry_name(parent, name, &req.parent, &req.name, &req.name_len);

	if (rc)
		return rc;
	client__hdr(cl, cr, true, &req.hdr);
	meta_mknod_req_encode(&req, &b);
	return client_attr_call(cl, META_T_MKNOD, &b, out, NULL);
}

int c3fs_mkdir(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
	       const char *name, uint32_t mode, struct c3fs_attr *out)
{
	struct meta_mkdir_req req = { .mode = mode & 07777 };
	struct c3_buf b = C3_BUF_INIT;
	int rc = client__entry_name(parent, name, &req.parent, &req.name, &req.name_len);

	if (rc)
		return rc;
	client__hdr(cl, cr, true, &req.hdr);
	meta_mkdir_req_encode(&req, &b);
	return client_attr_call(cl, META_T_MKDIR, &b, out, NULL);
}

int c3fs_symlink(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
		 const char *name, const char *target, struct c3fs_attr *out)
{
	struct meta_symlink_req req = { .target = target };
	struct c3_buf b = C3_BUF_INIT;
	int rc = client__entry_name(parent, name, &req.parent, &req.name, &req.name_len);

	if (rc)
		return rc;
	if (!target)
		return -EINVAL;
	if (strlen(target) >= META_PATH_MAX)
		return -ENAMETOOLONG;
	req.target_len = (uint32_t)strlen(target);
	client__hdr(cl, cr, true, &req.hdr);
	meta_symlink_req_encode(&req, &b);
	return client_attr_call(cl, META_T_SYMLINK, &b, out, NULL);
}

int c3fs_readlink(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino, char *buf,
		  size_t bufsz)
{
	struct meta_readlink_req req;
	struct meta_readlink_resp rsp;
	struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;
	int rc;

	client__hdr(cl, cr, false, &req.hdr);
	req.ino = ino;
	meta_readlink_req_encode(&req, &b);
	rc = client__meta_call(cl, META_T_READLINK, &b, &r);
	if (rc == 0)
		rc = meta_readlink_resp_decode(r.data, r.len, &rsp);
	if (rc == 0) {
		if (rsp.target_len + 1 > bufsz || memchr(rsp.target, 0, rsp.target_len)) {
			rc = rsp.target_len + 1 > bufsz ? -ENAMETOOLONG : -C3FS_EBADMSG;
		} else {
			memcpy(buf, rsp.target, rsp.target_len);
			buf[rsp.target_len] = '\0';
			rc = (int)rsp.target_len;
		}
	}
	c3_buf_release(&b);
	c3_buf_release(&r);
	return rc;
}

int c3fs_link(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
	      uint64_t newparent, const char *newname, struct c3fs_attr *out)
{
	struct meta_link_req req;
	struct c3_buf b = C3_BUF_INIT;
	int rc = client__entry_name(newparent, newname, &req.new_parent, &req.new_name,
				    &req.new_name_len);

	if (rc)
		return rc;
	client__hdr(cl, cr, true, &req.hdr);
	req.ino = ino;
	meta_link_req_encode(&req, &b);
	return client_attr_call(cl, META_T_LINK, &b, out, NULL);
}

static int client_unlink_like(struct c3fs_client *cl, const struct c3fs_cred *cr,
			      uint16_t type, uint64_t parent, const char *name)
{
	struct meta_unlink_req req;
	struct meta_unlink_resp rsp;
	struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;
	uint64_t gen = client__dattr_gen(cl);
	int rc;

	rc = client__entry_name(parent, name, &req.parent, &req.name, &req.name_len);
	if (rc)
		return rc;
	client__hdr(cl, cr, true, &req.hdr);
	meta_unlink_req_encode(&req, &b);
	rc = client__meta_call(cl, type, &b, &r);
	if (type == META_T_RMDIR)
		client__dattr_drop(cl, 0); /* the removed directory may be cached */
	else if (rc == 0 && meta_unlink_resp_decode(r.data, r.len, &rsp) == 0)
		client__dattr_put(cl, gen, &rsp.parent);
	c3_buf_release(&b);
	c3_buf_release(&r);
	return rc;
}

int c3fs_unlink(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
		const char *name)
{
	return client_unlink_like(cl, cr, META_T_UNLINK, parent, name);
}

int c3fs_rmdir(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
	       const char *name)
{
	return client_unlink_like(cl, cr, META_T_RMDIR, parent, name);
}

int c3fs_remove_recursive(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
			  const char *name)
{
	struct meta_rmtree_req req;
	struct meta_rmtree_resp rsp;
	int rc = client_name_check(name), rounds;

	if (rc)
		return rc;
	for (rounds = 0; rounds < 1000000; rounds++) {
		struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;

		client__hdr(cl, cr, true, &req.hdr);
		req.parent = parent;
		req.name = name;
		req.name_len = (uint32_t)strlen(name);
		meta_rmtree_req_encode(&req, &b);
		rc = client__meta_call(cl, META_T_RMTREE, &b, &r);
		client__dattr_drop(cl, 0);
		if (rc == 0)
			rc = meta_rmtree_resp_decode(r.data, r.len, &rsp);
		c3_buf_release(&b);
		c3_buf_release(&r);
		if (rc)
			return rc;
		if (rsp.done)
			return 0;
	}
	return -C3FS_ENORETRY;
}

int c3fs_rename(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
		const char *name, uint64_t newparent, const char *newname, unsigned flags)
{
	struct meta_rename_req req;
	struct c3_buf b = C3_BUF_INIT;
	int rc;

	if (flags & ~(unsigned)(C3FS_RENAME_NOREPLACE | C3FS_RENAME_EXCHANGE))
		return -EINVAL;
	if ((rc = client__entry_name(parent, name, &req.parent, &req.name, &req.name_len)) ||
	    (rc = client__entry_name(newparent, newname, &req.new_parent, &req.new_name,
				     &req.new_name_len)))
		return rc;
	client__hdr(cl, cr, true, &req.hdr);
	req.flags = (flags & C3FS_RENAME_NOREPLACE ? META_RENAME_NOREPLACE : 0) |
		    (flags & C3FS_RENAME_EXCHANGE ? META_RENAME_EXCHANGE : 0);
	meta_rename_req_encode(&req, &b);
	rc = client__meta_call(cl, META_T_RENAME, &b, NULL);
	client__dattr_drop(cl, 0); /* both parents, and a moved directory */
	c3_buf_release(&b);
	return rc;
}

int c3fs_access(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino, int mask)
{
	struct meta_access_req req;
	struct c3_buf b = C3_BUF_INIT;
	int rc;

	client__hdr(cl, cr, false, &req.hdr);
	req.ino = ino;
	req.mask = (uint32_t)mask & 7u;
	meta_access_req_encode(&req, &b);
	rc = client__meta_call(cl, META_T_ACCESS, &b, NULL);
	c3_buf_release(&b);
	return rc;
}

int c3fs_statfs(struct c3fs_client *cl, const struct c3fs_cred *cr, struct c3fs_statfs *out)
{
	struct meta_statfs_req req;
	struct meta_statfs_resp rsp;
	struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;
	int rc;

	client__hdr(cl, cr, false, &req.hdr);
	meta_statfs_req_encode(&req, &b);
	rc = client__meta_call(cl, META_T_STATFS, &b, &r);
	if (rc == 0)
		rc = meta_statfs_resp_decode(r.data, r.len, &rsp);
	if (rc == 0) {
		out->capacity_bytes = rsp.total_bytes;
		out->free_bytes = rsp.avail_bytes < rsp.free_bytes ? rsp.avail_bytes : rsp.free_bytes;
		out->used_bytes = rsp.total_bytes > rsp.free_bytes ? rsp.total_bytes - rsp.free_bytes : 0;
		out->files = rsp.total_inodes > rsp.free_inodes ? rsp.total_inodes - rsp.free_inodes : 0;
	}
	c3_buf_release(&b);
	c3_buf_release(&r);
	return rc;
}

/* Name the extended attribute name of ino in a request's fields *req_ino, *req_name and
 * *req_name_len.  Returns 0, or -EINVAL (name NULL or empty) / -ERANGE (longer than
 * META_XATTR_NAME_MAX) with nothing set. */
static int client_xattr_name(uint64_t ino, const char *name, uint64_t *req_ino,
			     const char **req_name, uint32_t *req_name_len)
{
	if (!name || strlen(name) > META_XATTR_NAME_MAX || strlen(name) == 0)
		return name && strlen(name) ? -ERANGE : -EINVAL;
	*req_ino = ino;
	*req_name = name;
	*req_name_len = (uint32_t)strlen(name);
	return 0;
}

int c3fs_setxattr(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
		  const char *name, const void *value, size_t size, int flags)
{
	struct meta_setxattr_req req;
	struct c3_buf b = C3_BUF_INIT;
	int rc;

	rc = client_xattr_name(ino, name, &req.ino, &req.name, &req.name_len);
	if (rc)
		return rc;
	if (size > META_XATTR_SIZE_MAX)
		return -E2BIG;
	client__hdr(cl, cr, false, &req.hdr);
	req.value = value;
	req.value_len = (uint32_t)size;
	req.flags = (uint32_t)flags & (META_XATTR_CREATE | META_XATTR_REPLACE);
	meta_setxattr_req_encode(&req, &b);
	rc = client__meta_call(cl, META_T_SETXATTR, &b, NULL);
	client__dattr_drop(cl, ino); /* ctime */
	c3_buf_release(&b);
	return rc;
}

/* The xattr size rule: size 0 asks for the length; a buffer too small is -ERANGE. */
static int meta_ops_copy_sized(void *buf, size_t size, const void *src, size_t len)
{
	if (size == 0)
		return (int)len;
	if (len > size)
		return -ERANGE;
	memcpy(buf, src, len);
	return (int)len;
}

/* The request of GETXATTR and REMOVEXATTR (one layout): xattr name of ino, encoded into b.
 * 0, or the error of client_xattr_name (b untouched). */
static int client_xattr_req(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
			    const char *name, struct c3_buf *b)
{
	struct meta_getxattr_req req;
	int rc = client_xattr_name(ino, name, &req.ino, &req.name, &req.name_len);

	if (rc)
		return rc;
	client__hdr(cl, cr, false, &req.hdr);
	meta_getxattr_req_encode(&req, b);
	return 0;
}

int c3fs_getxattr(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
		  const char *name, void *buf, size_t size)
{
	struct meta_getxattr_resp rsp;
	struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;
	int rc = client_xattr_req(cl, cr, ino, name, &b);

	if (rc)
		return rc;
	rc = client__meta_call(cl, META_T_GETXATTR, &b, &r);
	if (rc == 0)
		rc = meta_getxattr_resp_decode(r.data, r.len, &rsp);
	if (rc == 0)
		rc = meta_ops_copy_sized(buf, size, rsp.value, rsp.value_len);
	c3_buf_release(&b);
	c3_buf_release(&r);
	return rc;
}

int c3fs_listxattr(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
		   char *buf, size_t size)
{
	struct meta_listxattr_req req;
	struct meta_listxattr_resp rsp;
	struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;
	int rc;

	client__hdr(cl, cr, false, &req.hdr);
	req.ino = ino;
	meta_listxattr_req_encode(&req, &b);
	rc = client__meta_call(cl, META_T_LISTXATTR, &b, &r);
	if (rc == 0)
		rc = meta_listxattr_resp_decode(r.data, r.len, &rsp);
	if (rc == 0) {
		if (rsp.names_len && rsp.names[rsp.names_len - 1] != '\0')
			rc = -C3FS_EBADMSG;
		else
			rc = meta_ops_copy_sized(buf, size, rsp.names, rsp.names_len);
	}
	c3_buf_release(&b);
	c3_buf_release(&r);
	return rc;
}

int c3fs_removexattr(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
		     const char *name)
{
	struct c3_buf b = C3_BUF_INIT;
	int rc = client_xattr_req(cl, cr, ino, name, &b);

	if (rc)
		return rc;
	rc = client__meta_call(cl, META_T_REMOVEXATTR, &b, NULL);
	client__dattr_drop(cl, ino); /* ctime */
	c3_buf_release(&b);
	return rc;
}

int c3fs_readdir(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
		 const char *after, struct c3fs_dirent *ents, int max, unsigned flags)
{
	struct meta_readdir_req req;
	struct meta_readdir_resp rsp;
	struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;
	uint32_t i;
	int rc, n = 0;

	if (max <= 0)
		return -EINVAL;
	memset(&rsp, 0, sizeof(rsp));
	client__hdr(cl, cr, false, &req.hdr);
	req.ino = ino;
	req.cursor = after ? after : "";
	req.cursor_len = (uint32_t)strlen(req.cursor);
	req.limit = (uint32_t)(max > META_READDIR_MAX ? META_READDIR_MAX : max);
	req.plus = (flags & C3FS_READDIR_PLUS) != 0;
	meta_readdir_req_encode(&req, &b);
	rc = client__meta_call(cl, META_T_READDIR, &b, &r);
	if (rc == 0)
		rc = meta_readdir_resp_decode(r.data, r.len, &rsp);
	for (i = 0; rc == 0 && i < rsp.count && n < max; i++) {
		const struct meta_dirent *e = &rsp.entries[i];

		if (e->name_len == 0 || e->name_len > C3FS_NAME_MAX ||
		    memchr(e->name, 0, e->name_len) || memchr(e->name, '/', e->name_len)) {
			rc = -C3FS_EBADMSG;
			break;
		}
		memcpy(ents[n].name, e->name, e->name_len);
		ents[n].name[e->name_len] = '\0';
		ents[n].ino = e->ino;
		ents[n].type = e->type & S_IFMT;
		ents[n].has_attr = rsp.plus;
		if (rsp.plus)
			client__attr_from_meta(cl, &e->attr, &ents[n].attr);
		n++;
	}
	meta_readdir_resp_release(&rsp);
	c3_buf_release(&b);
	c3_buf_release(&r);
	return rc ? rc : n;
}
