/* meta/readdir.c — READDIR (and READDIRPLUS): one range read of 'D' from a cursor,
 * with the child inodes when plus is asked.  Read-only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/check.h"
#include "meta/meta_int.h"
#include "net/codec.h"

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
	rc = meta__load_dir_perm(t, &r->hdr.cred, r->ino, META_ACC_R, &d);
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
