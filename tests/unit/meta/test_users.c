/* test_users.c — meta's per-request user check (meta/users.h): no table, no token, an
 * unknown token; a root user acts for anyone; a user acts only as its uid with its gids
 * (groups it does not have dropped); the connection slot binds once per table and a new
 * table (user removed, token rotated) is looked up again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/users.h"
#include "common/errors.h"
#include "meta/users.h"
#include "proto/meta.h"
#include "tests/lib/tap.h"

static struct cluster_user mk(uint32_t uid, const char *name, const char *token, bool root)
{
	struct cluster_user u;

	memset(&u, 0, sizeof(u));
	u.uid = uid;
	u.gid = uid;
	u.ngroups = 1;
	u.groups[0] = 50;
	strcpy(u.name, name);
	u.root = root;
	cluster_token_hash(token, u.hash);
	return u;
}

static struct meta_cred cred(uint32_t uid, uint32_t gid)
{
	struct meta_cred c;

	memset(&c, 0, sizeof(c));
	c.uid = uid;
	c.gid = gid;
	return c;
}

int main(void)
{
	struct meta_users *mu;
	struct cluster_user users[2];
	struct meta_cred c;
	char troot[65], talice[65], tnew[65], why[160];
	uint64_t slot = 0, bound;

	is_int(meta_users_new(&mu), 0, "new");
	cluster_token_new(troot);
	cluster_token_new(talice);
	cluster_token_new(tnew);
	c = cred(1000, 1000);
	ok(!meta_users_ready(mu), "no table yet");
	is_int(meta_users_check(mu, talice, &slot, &c, true, why, sizeof(why)),
	       -C3FS_EUSERTOKEN, "no table: refused");

	users[0] = mk(0, "root", troot, true);
	users[1] = mk(1000, "alice", talice, false);
	is_int(meta_users_set(mu, users, 2, 5), 0, "set the table");
	ok(meta_users_ready(mu), "ready");

	is_int(meta_users_check(mu, "", &slot, &c, true, why, sizeof(why)), -C3FS_EUSERTOKEN,
	       "no token");
	ok(strstr(why, "no user token") != NULL, "says why");
	is_int(meta_users_check(mu, tnew, &slot, &c, true, why, sizeof(why)), -C3FS_EUSERTOKEN,
	       "unknown token");
	is_int((int)slot, 0, "nothing bound");

	is_int(meta_users_check(mu, talice, &slot, &c, true, why, sizeof(why)), 0,
	       "alice as 1000:1000");
	ok(slot != 0, "bound");
	bound = slot;
	c = cred(1000, 50);
	c.ngroups = 3;
	c.groups[0] = 7;
	c.groups[1] = 50;
	c.groups[2] = 1000;
	is_int(meta_users_check(mu, talice, &slot, &c, true, why, sizeof(why)), 0,
	       "alice with gid 50 (an extra group)");
	ok(c.ngroups == 2 && c.groups[0] == 50 && c.groups[1] == 1000,
	   "a supplementary group she does not have is dropped");
	is_int((int)(slot == bound), 1, "same binding while the table is unchanged");
	c = cred(0, 0);
	is_int(meta_users_check(mu, talice, &slot, &c, true, why, sizeof(why)), -EPERM,
	       "alice may not act as root");
	ok(strstr(why, "may not act as uid 0") != NULL, "says why");
	c = cred(1000, 0);
	is_int(meta_users_check(mu, talice, &slot, &c, true, why, sizeof(why)), -EPERM,
	       "nor with gid 0");
	c = cred(0, 0);
	is_int(meta_users_check(mu, talice, &slot, &c, false, why, sizeof(why)), 0,
	       "a token-only request (renew) passes");

	slot = 0;
	c = cred(1234, 99);
	is_int(meta_users_check(mu, troot, &slot, &c, true, why, sizeof(why)), 0,
	       "root user acts for any uid");

	/* alice removed, root rotated: a new table */
	users[0] = mk(0, "root", tnew, true);
	is_int(meta_users_set(mu, users, 1, 6), 0, "new table");
	slot = bound;
	c = cred(1000, 1000);
	is_int(meta_users_check(mu, talice, &slot, &c, true, why, sizeof(why)),
	       -C3FS_EUSERTOKEN, "a removed user's bound connection is refused");
	slot = 0;
	c = cred(0, 0);
	is_int(meta_users_check(mu, troot, &slot, &c, true, why, sizeof(why)), -C3FS_EUSERTOKEN,
	       "the old root token is refused");
	is_int(meta_users_check(mu, tnew, &slot, &c, true, why, sizeof(why)), 0,
	       "the new one works");
	meta_users_free(mu);
	return tap_done();
}
