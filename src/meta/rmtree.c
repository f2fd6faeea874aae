/* meta/rmtree.c — recursive removal of a whole tree (META_T_RMTREE, "rm -rf" in one
 * request).
 *
 * A request runs batches, each one KV transaction removing at most rmtree_batch entries,
 * deepest first, until the tree is gone or the time budget is spent.  Every entry is
 * checked as unlink/rmdir would check it for the caller (write+search on its directory,
 * the sticky rule) and listing a directory needs read+search on it; a refusal fails that
 * batch only (earlier batches stay removed, as rm -rf stopping at an error).  Regular
 * files reaching nlink 0 go to the GC queue like any unlink.  Only the final batch (the one
 * removing the top entry) writes the idempotency record.  The walk keeps its path in a
 * heap stack, so deep trees cost no C stack.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/check.h"
#include "common/errors.h"
#include "meta/meta_int.h"

struct rmtree_arg {
	struct meta_svc *svc;
	const struct meta_rmtree_req *req;
	uint64_t now;
	uint64_t budget;   /* entries this transaction may still remove */
	uint64_t removed;  /* by this transaction */
	bool done;
};

/* One directory on the way down (heap stack: deep trees cost no C stack). */
struct rm_frame {
	uint64_t ino;
	uint32_t name_len;          /* its entry name in the previous frame's directory */
	char name[META_NAME_MAX];
};

/* Remove entry name of directory d, victim v (an empty directory or anything else), as
 * unlink/rmdir would for the caller: the sticky rule, then the name goes and d is
 * rewritten with the change's times.  Counts the removal against the batch. */
static int remove_one(struct kv_txn *t, struct rmtree_arg *a, struct meta__inode *d,
		      struct meta__inode *v, const char *name, uint32_t len)
{
	int rc = meta__sticky_ok(&a->req->hdr.cred, &d->a, &v->a);

	if (rc == 0)
		rc = meta__entry_drop(t, d, v, a->now);
	if (rc == 0)
		rc = meta__dent_clear(t, d->a.ino, name, len);
	if (rc < 0)
		return rc;
	meta__touch_dir(d, a->now);
	rc = meta__inode_put(t, d);
	if (rc < 0)
		return rc;
	a->removed++;
	if (a->budget > 0)
		a->budget--;
	return 0;
}

/* Empty directory `top`, depth first, within a->budget removals.  Sets *empty when
 * nothing is left in top.  Every removal is checked like unlink/rmdir for the caller, and
 * listing a directory needs read+search on it. */
static int rmtree_dir(struct kv_txn *t, struct rmtree_arg *a, uint64_t top, bool *empty)
{
	const struct meta_cred *c = &a->req->hdr.cred;
	struct rm_frame *st;
	size_t n = 1, cap = 16;
	int rc = 0;

	*empty = false;
	st = malloc(cap * sizeof(*st));
	if (!st)
		return -ENOMEM;
	st[0].ino = top;
	st[0].name_len = 0;
	while (n > 0) {
		struct rm_frame *f = &st[n - 1];
		struct meta__inode d, v;
		struct kv_pair *p;
		bool more;
		int cnt;

		if (a->budget == 0)
			goto out;
		rc = meta__inode_get(t, f->ino, &d);
		if (rc < 0)
			goto out;
		rc = meta__perm(c, &d.a, META_ACC_R | META_ACC_W | META_ACC_X);
		if (rc < 0)
			goto out;
		/* entries removed in this transaction are gone from the range already */
		cnt = meta__range(t, META__K_DENT, f->ino, 1, &p, &more);
		if (cnt < 0) {
			rc = cnt;
			goto out;
		}
		if (cnt == 0) {
			struct meta__inode pd;

			if (n == 1) {
				*empty = true;
				goto out;
			}
			/* f is empty now: remove it from the directory below it on the stack */
			rc = meta__inode_get(t, st[n - 2].ino, &pd);
			if (rc == 0)
				rc = remove_one(t, a, &pd, &d, f->name, f->name_len);
			if (rc < 0)
				goto out;
			n--;
			continue;
		}
		if (p[0].klen <= 9 || p[0].klen - 9 > META_NAME_MAX || p[0].vlen != 12) {
			rc = C3_CORRUPT("dentry", "in directory %llu: key length %zu, value length "
					"%zu (want 12)", (unsigned long long)f->ino,
					(size_t)p[0].klen, (size_t)p[0].vlen);
			goto out;
		}
		rc = meta__inode_get(t, kv_get_be64(p[0].val), &v);
		if (rc < 0) {
			rc = rc == -ENOENT ? -C3FS_EINTERNAL : rc;
			goto out;
		}
		if (S_ISDIR(v.a.mode)) {
			if (n >= META__DEPTH_MAX) {
				rc = -ELOOP;
				goto out;
			}
			if (n == cap) {
				struct rm_frame *ns = realloc(st, 2 * cap * sizeof(*st));

				if (!ns) {
					rc = -ENOMEM;
					goto out;
				}
				st = ns;
				cap *= 2;
			}
			st[n].ino = v.a.ino;
			st[n].name_len = (uint32_t)(p[0].klen - 9);
			memcpy(st[n].name, p[0].key + 9, st[n].name_len);
			n++;
			continue;
		}
		{
			char name[META_NAME_MAX];
			uint32_t nl = (uint32_t)(p[0].klen - 9);

			memcpy(name, p[0].key + 9, nl);
			rc = remove_one(t, a, &d, &v, name, nl);
			if (rc < 0)
				goto out;
		}
	}
out:
	free(st);
	return rc;
}

static int rmtree_txn(struct kv_txn *t, void *ap)
{
	struct rmtree_arg *a = ap;
	const struct meta_rmtree_req *r = a->req;
	const struct meta_cred *c = &r->hdr.cred;
	struct meta__inode pd, v;
	bool empty = true;
	int rc;

	a->removed = 0;
	a->done = false;
	a->budget = a->svc->opts.rmtree_batch;
	if (meta__name_is_dot(r->name, r->name_len))
		return -EINVAL;
	rc = meta__victim_get(t, c, r->parent, r->name, r->name_len, &pd, &v);
	if (rc == 0)
		rc = meta__sticky_ok(c, &pd.a, &v.a); /* before anything below goes */
	if (rc < 0)
		return rc;
	if (S_ISDIR(v.a.mode)) {
		rc = rmtree_dir(t, a, v.a.ino, &empty);
		if (rc < 0)
			return rc;
		if (!empty)
			return 0; /* commit this batch; the caller runs another */
	}
	rc = remove_one(t, a, &pd, &v, r->name, r->name_len);
	if (rc < 0)
		return rc;
	a->done = true;
	return 0;
}

static void rmtree_resp_enc(void *ap, struct c3_buf *out)
{
	struct rmtree_arg *a = ap;
	struct meta_rmtree_resp r = { a->removed, a->done };

	meta_rmtree_resp_encode(&r, out);
}

static int rmtree_resp_dec(void *ap, const uint8_t *p, size_t n)
{
	struct rmtree_arg *a = ap;
	struct meta_rmtree_resp r;

	if (meta_rmtree_resp_decode(p, n, &r) < 0)
		return C3_INTERNAL("rmtree reply of %zu bytes does not decode", n);
	a->removed = r.removed;
	a->done = true;
	return 0;
}

static bool rmtree_record(void *ap)
{
	return ((struct rmtree_arg *)ap)->done;
}

/* Each call runs batches (one transaction each) until the tree is gone or max_ms passed.
 * Only the final batch, which removes the top entry, writes the idempotency record:
 * unfinished batches are safe to repeat anyway. */
int meta_op_rmtree(struct meta_svc *svc, const struct meta_rmtree_req *req, uint64_t max_ms,
		   struct meta_rmtree_resp *resp)
{
	struct rmtree_arg a;
	struct meta__idem w = { svc, &req->hdr,
			       meta__fp_of(META_T_RMTREE, req->parent, req->name, req->name_len, 0, "", 0,
				     0),
			       rmtree_txn, &a, &a, rmtree_resp_enc, rmtree_resp_dec, rmtree_record };
	uint64_t start = meta__now(svc), total = 0;
	int rc;

	memset(&a, 0, sizeof(a));
	a.svc = svc;
	a.req = req;
	for (;;) {
		a.now = meta__now(svc);
		rc = kv_run(svc->db, false, meta__idem_txn, &w);
		if (rc < 0)
			return rc;
		total += a.removed;
		if (a.done)
			break;
		if (max_ms && meta__now(svc) - start > max_ms * 1000000ull)
			break;
	}
	resp->removed = total;
	resp->done = a.done;
	return 0;
}

