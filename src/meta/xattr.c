/* meta/xattr.c — extended attributes of the meta service: get, set (XATTR_CREATE /
 * XATTR_REPLACE), list, remove, one KV transaction each.
 *
 * Namespaces: user.* (regular files and directories; read needs r, write needs w, a
 * sticky directory's user xattrs only by its owner), trusted.* (root only, hidden from
 * others' lists), security.* (readable, set by owner or root); system.* (ACLs) and others
 * are EOPNOTSUPP.  Limits: name 1..255 bytes (ERANGE past), value <= 64 KiB (E2BIG), all
 * names of one inode <= 64 KiB (ENOSPC).  Changes set the inode's ctime.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/errors.h"
#include "meta/meta_int.h"

enum { XNS_USER, XNS_TRUSTED, XNS_SECURITY };

static int xattr_ns(const char *name, uint32_t len, int *ns)
{
	if (len == 0)
		return -EINVAL;
	if (len > META_XATTR_NAME_MAX)
		return -ERANGE;
	if (memchr(name, '\0', len))
		return -EINVAL;
	if (len > 5 && memcmp(name, "user.", 5) == 0)
		*ns = XNS_USER;
	else if (len > 8 && memcmp(name, "trusted.", 8) == 0)
		*ns = XNS_TRUSTED;
	else if (len > 9 && memcmp(name, "security.", 9) == 0)
		*ns = XNS_SECURITY;
	else
		return -EOPNOTSUPP; /* system.* (ACLs) and unknown namespaces */
	return 0;
}

/* May c read (write=false) or change (write=true) xattr namespace ns of inode a? */
static int xattr_perm(const struct meta_cred *c, const struct meta_attr *a, int ns, bool write)
{
	if (ns == XNS_TRUSTED)
		return c->uid == 0 ? 0 : -EPERM;
	if (ns == XNS_SECURITY)
		return !write || c->uid == 0 || c->uid == a->uid ? 0 : -EPERM;
	if (!S_ISREG(a->mode) && !S_ISDIR(a->mode))
		return write ? -EPERM : -ENODATA;
	if (write && S_ISDIR(a->mode) && (a->mode & S_ISVTX) && c->uid != 0 && c->uid != a->uid)
		return -EPERM;
	return meta__perm(c, a, write ? META_ACC_W : META_ACC_R);
}

struct xattr_arg {
	struct meta_svc *svc;
	const struct meta_hdr *hdr;
	uint64_t ino;
	const char *name;
	uint32_t name_len;
	const uint8_t *value;
	uint32_t value_len;
	uint32_t flags;
	int op; /* 0 get, 1 set, 2 remove, 3 list */
	struct c3_buf *store;
	uint64_t now;
};

static int xattr_txn(struct kv_txn *t, void *ap)
{
	struct xattr_arg *a = ap;
	const struct meta_cred *c = &a->hdr->cred;
	struct meta__inode in;
	uint8_t k[META__KEY_MAX];
	const uint8_t *v;
	size_t kl, vl;
	int ns = XNS_USER, rc;

	rc = meta__inode_get(t, a->ino, &in);
	if (rc < 0)
		return rc;
	if (a->op == 3) {
		struct kv_pair *p;
		bool more;
		int n = meta__range(t, META__K_XATTR, a->ino, 0, &p, &more);

		if (n < 0)
			return n;
		c3_buf_reset(a->store);
		for (int i = 0; i < n; i++) {
			const char *nm = (const char *)p[i].key + 9;
			uint32_t nl = (uint32_t)(p[i].klen - 9);

			if (xattr_ns(nm, nl, &ns) == 0 && ns == XNS_TRUSTED && c->uid != 0)
				continue;
			c3_buf_append(a->store, nm, nl);
			c3_buf_append(a->store, "", 1);
		}
		if (a->store->err)
			return a->store->err;
		return a->store->len > META_XATTR_LIST_MAX ? -E2BIG : 0;
	}
	rc = xattr_ns(a->name, a->name_len, &ns);
	if (rc == 0)
		rc = xattr_perm(c, &in.a, ns, a->op != 0);
	if (rc < 0)
		return rc;
	kl = meta__key_xattr(k, a->ino, a->name, a->name_len);
	rc = kv_get(t, k, kl, &v, &vl);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (a->op == 0) {
		if (rc == -ENOENT)
			return -ENODATA;
		c3_buf_reset(a->store);
		c3_buf_append(a->store, v, vl);
		return a->store->err;
	}
	if (a->op == 2) {
		if (rc == -ENOENT)
			return -ENODATA;
		rc = kv_clear(t, k, kl);
	} else {
		if (rc == 0 && (a->flags & META_XATTR_CREATE))
			return -EEXIST;
		if (rc == -ENOENT && (a->flags & META_XATTR_REPLACE))
			return -ENODATA;
		if (rc == -ENOENT) {
			/* a new name: the whole name list must stay listable */
			struct kv_pair *p;
			size_t total = a->name_len + 1;
			bool more;
			int n = meta__range(t, META__K_XATTR, a->ino, 0, &p, &more);

			if (n < 0)
				return n;
			for (int i = 0; i < n; i++)
				total += p[i].klen - 9 + 1;
			if (total > META_XATTR_LIST_MAX)
				return -ENOSPC;
		}
		rc = kv_set(t, k, kl, a->value, a->value_len);
	}
	if (rc < 0)
		return rc;
	in.a.ctime_ns = a->now;
	return meta__inode_put(t, &in);
}

int meta_op_getxattr(struct meta_svc *svc, const struct meta_getxattr_req *req,
		     struct meta_getxattr_resp *resp, struct c3_buf *store)
{
	struct xattr_arg a = { .svc = svc, .hdr = &req->hdr, .ino = req->ino, .name = req->name,
			       .name_len = req->name_len, .op = 0, .store = store };
	int rc = kv_run(svc->db, true, xattr_txn, &a);

	if (rc < 0)
		return rc;
	resp->value = store->data ? store->data : (const uint8_t *)"";
	resp->value_len = (uint32_t)store->len;
	return 0;
}

int meta_op_setxattr(struct meta_svc *svc, const struct meta_setxattr_req *req)
{
	struct xattr_arg a = { .svc = svc, .hdr = &req->hdr, .ino = req->ino, .name = req->name,
			       .name_len = req->name_len, .value = req->value,
			       .value_len = req->value_len, .flags = req->flags, .op = 1,
			       .now = meta__now(svc) };

	if (req->flags & ~(uint32_t)(META_XATTR_CREATE | META_XATTR_REPLACE))
		return -EINVAL;
	if (req->value_len > META_XATTR_SIZE_MAX)
		return -E2BIG;
	return kv_run(svc->db, false, xattr_txn, &a);
}

int meta_op_listxattr(struct meta_svc *svc, const struct meta_listxattr_req *req,
		      struct meta_listxattr_resp *resp, struct c3_buf *store)
{
	struct xattr_arg a = { .svc = svc, .hdr = &req->hdr, .ino = req->ino, .op = 3,
			       .store = store };
	int rc = kv_run(svc->db, true, xattr_txn, &a);

	if (rc < 0)
		return rc;
	resp->names = store->data ? (const char *)store->data : "";
	resp->names_len = (uint32_t)store->len;
	return 0;
}

int meta_op_removexattr(struct meta_svc *svc, const struct meta_getxattr_req *req)
{
	struct xattr_arg a = { .svc = svc, .hdr = &req->hdr, .ino = req->ino, .name = req->name,
			       .name_len = req->name_len, .op = 2, .now = meta__now(svc) };

	return kv_run(svc->db, false, xattr_txn, &a);
}

