/* meta/trash.c — the trash directory and its cleaner.
 *
 * A tree moved to the trash (`c3fs-admin rmtree --expire 1d PATH`, see tools/admin/trash.c)
 * is an ordinary rename into /trash/<uid>/<item>/, where <item> starts with the expiry
 * time ("<expiry epoch s>.<deleted epoch s>.<unique>") and carries the original path in
 * the xattr user.c3fs.trash.origin.  Restoring is a rename back.  This file keeps the
 * directory there and deletes what expired:
 *   - /trash is created at start when missing: root's, mode 1777 (like /tmp: users make
 *     their own <uid> directory, mode 0700, and the sticky bit keeps them out of each
 *     other's).
 *   - The cleaner looks only at directories /trash/<N> owned by uid N, and only at their
 *     entries whose name is "<digits>.<digits>.<rest>": anything else there is left
 *     alone.  An entry whose expiry has passed is removed like rm -rf as root (rmtree,
 *     in batches; files then go through the GC queue like any unlink).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/errors.h"
#include "common/log.h"
#include "meta/meta_int.h"

#define TRASH_NAME "trash"
#define TRASH_PAGE 256

static struct meta_hdr trash_root_hdr(void)
{
	struct meta_hdr h;

	memset(&h, 0, sizeof(h)); /* uid 0, no idempotency record */
	return h;
}

int meta_trash_ensure(struct meta_svc *svc)
{
	struct meta_mkdir_req r = { trash_root_hdr(), META_ROOT_INO, TRASH_NAME,
				    (uint32_t)strlen(TRASH_NAME), 01777, 0 };
	struct meta_attr_resp a;
	int rc = meta_op_mkdir(svc, &r, &a);

	return rc == -EEXIST ? 0 : rc;
}

/* The expiry of a trash item named "<expiry>.<deleted>.<rest>", or 0 when the name is
 * not one. */
uint64_t meta_trash_item_expiry(const char *name, uint32_t len)
{
	uint64_t v = 0;
	uint32_t i = 0, digits = 0;

	for (; i < len && name[i] >= '0' && name[i] <= '9'; i++) {
		if (++digits > 19)
			return 0;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (!digits || i >= len || name[i] != '.')
		return 0;
	for (i++, digits = 0; i < len && name[i] >= '0' && name[i] <= '9'; i++)
		digits++;
	if (!digits || i >= len || name[i] != '.' || i + 1 >= len)
		return 0;
	return v;
}

static bool name_is_uid(const char *name, uint32_t len, uint32_t *uid)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return false;
	for (uint32_t i = 0; i < len; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*uid = (uint32_t)v;
	return true;
}

/* Remove /trash/<dir>/<name> as root, all of it (batches until done). */
static int trash_remove(struct meta_svc *svc, uint64_t dir, const char *name, uint32_t len,
			uint64_t *removed)
{
	struct meta_rmtree_req r = { trash_root_hdr(), dir, name, len };
	struct meta_rmtree_resp s;
	int rc;

	do {
		memset(&s, 0, sizeof(s));
		rc = meta_op_rmtree(svc, &r, 2000, &s);
		*removed += s.removed;
	} while (rc == 0 && !s.done);
	return rc;
}

/* fn for every entry of directory dir (as root, in pages), until fn returns < 0. */
static int trash_each(struct meta_svc *svc, uint64_t dir, bool plus,
		      int (*fn)(void *arg, const struct meta_dirent *e), void *arg)
{
	char cursor[META_NAME_MAX];
	uint32_t cursor_len = 0;
	bool more = true;
	int rc = 0;

	while (more && rc == 0) {
		struct meta_readdir_req r = { trash_root_hdr(), dir, cursor, cursor_len,
					      TRASH_PAGE, plus };
		struct meta_readdir_resp s;

		rc = meta_op_readdir(svc, &r, &s);
		if (rc < 0)
			return rc;
		more = s.more && s.count > 0;
		for (uint32_t i = 0; i < s.count && rc == 0; i++)
			rc = fn(arg, &s.entries[i]);
		if (s.count > 0) {
			const struct meta_dirent *last = &s.entries[s.count - 1];

			cursor_len = last->name_len;
			memcpy(cursor, last->name, cursor_len);
		}
		meta_readdir_resp_release(&s);
	}
	return rc;
}

struct trash_walk {
	struct meta_svc *svc;
	uint64_t dir, now_s;
	struct meta_trash_stats *st;
};

/* An entry of /trash/<uid>/: removed when it is an item whose expiry has passed. */
static int trash_item(void *arg, const struct meta_dirent *e)
{
	struct trash_walk *w = arg;
	uint64_t exp = meta_trash_item_expiry(e->name, e->name_len);
	int rc;

	if (exp == 0 || exp > w->now_s)
		return 0;
	rc = trash_remove(w->svc, w->dir, e->name, e->name_len, &w->st->entries_removed);
	if (rc < 0 && rc != -ENOENT) {
		w->st->errors++;
		LOG_WARN("trash: cannot remove expired %.*s: %s", (int)e->name_len, e->name,
			 c3_strerror(rc));
	} else if (rc == 0) {
		w->st->items_removed++;
	}
	return 0;
}

/* An entry of /trash: a user's directory /trash/<N> owned by uid N, cleaned. */
static int trash_user(void *arg, const struct meta_dirent *e)
{
	struct trash_walk *w = arg, u = *w;
	uint32_t uid;

	if (!S_ISDIR(e->type) || !name_is_uid(e->name, e->name_len, &uid) || e->attr.uid != uid)
		return 0;
	u.dir = e->ino;
	if (trash_each(w->svc, e->ino, false, trash_item, &u) < 0)
		w->st->errors++;
	return 0;
}

int meta_trash_clean(struct meta_svc *svc, uint64_t now_s, struct meta_trash_stats *st)
{
	struct meta_lookup_req lr = { trash_root_hdr(), META_ROOT_INO, TRASH_NAME,
				      (uint32_t)strlen(TRASH_NAME) };
	struct meta_attr_resp la;
	struct trash_walk w = { svc, 0, now_s, st };
	int rc;

	rc = meta_op_lookup(svc, &lr, &la);
	if (rc == -ENOENT)
		return meta_trash_ensure(svc);
	if (rc < 0)
		return rc;
	if (!S_ISDIR(la.attr.mode) || la.attr.uid != 0)
		return 0; /* someone else's /trash: not ours to clean */
	w.dir = la.attr.ino;
	return trash_each(svc, la.attr.ino, true, trash_user, &w);
}
