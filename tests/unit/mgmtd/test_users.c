/* test_users.c — users records of mgmtd (mgmtd/users.h) on a mem: KV: add (uid and name
 * taken refused), list in uid order with hashes, rotate, remove, the version growing with
 * each change and only then, admin-flag tokens, lease fencing. */
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "kv/kv.h"
#include "mgmtd/lease.h"
#include "mgmtd/users.h"
#include "tests/lib/tap.h"

static struct cluster_user mk(uint32_t uid, const char *name, const char *token, bool admin)
{
	struct cluster_user u;

	memset(&u, 0, sizeof(u));
	u.uid = uid;
	u.gid = uid;
	strcpy(u.name, name);
	u.admin = admin;
	cluster_token_hash(token, u.hash);
	return u;
}

int main(void)
{
	struct kv_db *db = NULL;
	struct mgmtd_lease rec;
	struct cluster_user a, b, *list = NULL;
	char ta[65], tb[65], tc[65];
	uint64_t v = 0;
	uint32_t n = 0;
	bool leader = false;

	if (kv_db_open("mem:", &db) != 0)
		tap_skip_all("no mem: KV");
	ok(mgmtd_lease_try(db, "a:1", 11, 1000, 60000, &leader, &rec) == 0 && leader,
	   "instance 11 leads");
	ok(mgmtd_users_version(db, &v) == 0 && v == 0, "version 0 before any user");
	ok(mgmtd_users_list(db, &v, &list, &n) == 0 && n == 0 && !list, "no users");
	cluster_token_new(ta);
	cluster_token_new(tb);
	cluster_token_new(tc);
	a = mk(1000, "alice", ta, false);
	b = mk(0, "root", tb, true);
	is_int(mgmtd_users_add(db, 11, 1100, &a, &v), 0, "add alice");
	is_int((int)v, 1, "version 1");
	is_int(mgmtd_users_add(db, 11, 1100, &b, &v), 0, "add root");
	is_int((int)v, 2, "version 2");
	a.uid = 1001;
	is_int(mgmtd_users_add(db, 11, 1100, &a, &v), -EEXIST, "name taken");
	a.uid = 1000;
	strcpy(a.name, "alice2");
	is_int(mgmtd_users_add(db, 11, 1100, &a, &v), -EEXIST, "uid taken");
	strcpy(a.name, "bad name");
	a.uid = 5;
	is_int(mgmtd_users_add(db, 11, 1100, &a, &v), -EINVAL, "bad name");
	ok(mgmtd_users_version(db, &v) == 0 && v == 2, "refusals changed no version");

	ok(mgmtd_users_list(db, &v, &list, &n) == 0 && n == 2 && v == 2, "two users");
	ok(n == 2 && list[0].uid == 0 && list[1].uid == 1000 && list[0].admin &&
	   strcmp(list[1].name, "alice") == 0, "in uid order with their fields");
	free(list);

	ok(mgmtd_users_is_admin_token(db, tb), "root's token is an admin token");
	ok(!mgmtd_users_is_admin_token(db, ta), "alice's is not");
	ok(!mgmtd_users_is_admin_token(db, "nonsense"), "nor is garbage");

	a = mk(0, "x", tc, false);
	is_int(mgmtd_users_rotate(db, 11, 1100, 0, a.hash, &v), 0, "rotate root's token");
	is_int((int)v, 3, "version 3");
	ok(!mgmtd_users_is_admin_token(db, tb), "the old token no longer counts");
	ok(mgmtd_users_is_admin_token(db, tc), "the new one does");
	is_int(mgmtd_users_rotate(db, 11, 1100, 4242, a.hash, &v), -ENOENT, "rotate unknown");

	is_int(mgmtd_users_remove(db, 22, 1100, 1000, &v), -C3FS_ENOTLEADER,
	       "another instance is fenced");
	is_int(mgmtd_users_remove(db, 11, 1100, 1000, &v), 0, "remove alice");
	is_int((int)v, 4, "version 4");
	is_int(mgmtd_users_remove(db, 11, 1100, 1000, &v), -ENOENT, "remove again");
	ok(mgmtd_users_list(db, &v, &list, &n) == 0 && n == 1 && list[0].uid == 0 && v == 4,
	   "root left");
	free(list);
	kv_db_close(db);
	return tap_done();
}
