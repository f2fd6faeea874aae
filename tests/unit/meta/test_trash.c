/* The trash cleaner (src/meta/trash.c) on a meta service over mem:: /trash made once,
 * root's and 1777; expired items of /trash/<uid>/ removed with everything in them, items
 * not yet expired kept, names that are not items kept, and a /trash/<N> not owned by
 * uid N left alone.  Also the item-name parser on good and bad names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kv/kv.h"
#include "meta/meta.h"
#include "tests/lib/tap.h"

static struct meta_svc *svc;

static struct meta_hdr as(uint32_t uid)
{
	struct meta_hdr h;

	memset(&h, 0, sizeof(h));
	h.cred.uid = uid;
	h.cred.gid = uid;
	h.client_id = 9;
	return h;
}

static int mkdir_in(uint32_t uid, uint64_t parent, const char *name, uint32_t mode,
		    uint64_t *ino)
{
	struct meta_mkdir_req r = { as(uid), parent, name, (uint32_t)strlen(name), mode, 0 };
	struct meta_attr_resp a;
	int rc = meta_op_mkdir(svc, &r, &a);

	if (rc == 0 && ino)
		*ino = a.attr.ino;
	return rc;
}

static int create_in(uint32_t uid, uint64_t parent, const char *name)
{
	struct meta_create_req r = { as(uid), parent, name, (uint32_t)strlen(name), 0644, 0,
				     META_O_NOSESSION };
	struct meta_open_resp o;

	return meta_op_create(svc, &r, &o);
}

static int lookup(uint64_t parent, const char *name, struct meta_attr *a)
{
	struct meta_lookup_req r = { as(0), parent, name, (uint32_t)strlen(name) };
	struct meta_attr_resp s;
	int rc = meta_op_lookup(svc, &r, &s);

	if (rc == 0 && a)
		*a = s.attr;
	return rc;
}

int main(void)
{
	struct kv_db *db;
	struct meta_svc_opts o;
	struct meta_trash_stats st;
	struct meta_attr a;
	uint64_t trash, u, other, item, sub;

	ok(meta_trash_item_expiry("100.50.x", 8) == 100, "item name parsed");
	ok(meta_trash_item_expiry("100.50.", 7) == 0, "no unique part: not an item");
	ok(meta_trash_item_expiry("100.x.y", 7) == 0, "no deletion time: not an item");
	ok(meta_trash_item_expiry("abc", 3) == 0, "plain name: not an item");
	ok(meta_trash_item_expiry("99999999999999999999.1.x", 24) == 0, "too many digits");

	if (kv_db_open("mem:", &db) != 0)
		tap_skip_all("mem: KV not available");
	meta_svc_opts_default(&o);
	is_int(meta_svc_new(db, &o, &svc), 0, "service on mem:");
	is_int(meta_trash_ensure(svc), 0, "trash made");
	is_int(meta_trash_ensure(svc), 0, "and again: already there");
	is_int(lookup(1, "trash", &a), 0, "/trash exists");
	ok(S_ISDIR(a.mode) && (a.mode & 07777) == 01777 && a.uid == 0, "root's, mode 1777");
	trash = a.ino;

	is_int(mkdir_in(1000, trash, "1000", 0700, &u), 0, "user 1000 makes /trash/1000");
	is_int(mkdir_in(1000, u, "100.50.a", 0700, &item), 0, "an expired item");
	is_int(mkdir_in(1000, item, "tree", 0755, &sub), 0, "holding a tree");
	is_int(create_in(1000, sub, "f1"), 0, "with files");
	is_int(create_in(1000, sub, "f2"), 0, "...");
	is_int(mkdir_in(1000, u, "5000.50.b", 0700, NULL), 0, "an item expiring later");
	is_int(mkdir_in(1000, u, "notanitem", 0700, NULL), 0, "a name that is not an item");
	is_int(mkdir_in(1001, trash, "1002", 0700, &other), 0,
	       "uid 1001 plants /trash/1002");
	is_int(mkdir_in(1001, other, "1.1.planted", 0700, NULL), 0, "with an 'expired' item");

	memset(&st, 0, sizeof(st));
	is_int(meta_trash_clean(svc, 1000, &st), 0, "clean at t=1000");
	is_int((int)st.items_removed, 1, "one item removed");
	is_int((int)st.entries_removed, 4, "with its 4 entries");
	is_int((int)st.errors, 0, "no errors");
	is_int(lookup(u, "100.50.a", NULL), -ENOENT, "the expired item is gone");
	is_int(lookup(u, "5000.50.b", NULL), 0, "the later one stays");
	is_int(lookup(u, "notanitem", NULL), 0, "the other name stays");
	is_int(lookup(other, "1.1.planted", NULL), 0, "the planted directory is left alone");

	memset(&st, 0, sizeof(st));
	is_int(meta_trash_clean(svc, 6000, &st), 0, "clean at t=6000");
	is_int((int)st.items_removed, 1, "the later item goes too");
	is_int(lookup(u, "5000.50.b", NULL), -ENOENT, "gone");

	meta_svc_free(svc);
	kv_db_close(db);
	return tap_done();
}
