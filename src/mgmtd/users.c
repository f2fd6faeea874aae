/* users.c — the users records of mgmtd (contract and layout: users.h).
 *
 * Every operation is one KV transaction; a write bumps "mgmtd/users/version" in the same
 * transaction, so a version names exactly one user table.  Tables are small (people and
 * services, not files): a list reads every record.
 */
#include "mgmtd/users.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/errors.h"
#include "kv/kv.h"
#include "mgmtd/lease.h"
#include "mgmtd/store.h"
#include "net/codec.h"

#define K_USERS_VERSION "mgmtd/users/version"
#define P_USER "mgmtd/user/"
#define P_USER_END "mgmtd/user0" /* '0' follows '/' */

static int put_user(struct kv_txn *txn, const struct cluster_user *u)
{
	struct c3_buf b = C3_BUF_INIT;
	uint8_t key[32];
	int rc;

	cluster_user_encode(u, true, &b);
	rc = b.err ? b.err
		   : kv_set(txn, key, mgmtd_store_key(key, P_USER, u->uid), b.data, b.len);
	c3_buf_release(&b);
	return rc;
}

static int get_user(struct kv_txn *txn, uint32_t uid, struct cluster_user *u)
{
	const uint8_t *val;
	size_t vlen;
	uint8_t key[32];
	struct c3_dec d;
	int rc = kv_get(txn, key, mgmtd_store_key(key, P_USER, uid), &val, &vlen);

	if (rc)
		return rc;
	c3_dec_init(&d, val, vlen);
	rc = cluster_user_decode(&d, u);
	return rc == 0 && c3_dec_finish(&d) == 0 && u->uid == uid ? 0 : -C3FS_EBADMSG;
}

/* ------------------------------------------------------------------ list */

struct list_arg {
	uint64_t version;
	struct cluster_user *users;
	uint32_t n;
};

static int list_fn(struct kv_txn *txn, void *arg)
{
	struct list_arg *a = arg;
	struct kv_pair *pairs;
	bool more;
	int n, rc;

	free(a->users);
	a->users = NULL;
	a->n = 0;
	rc = mgmtd_store_version_get(txn, K_USERS_VERSION, &a->version);
	if (rc)
		return rc;
	n = kv_range(txn, P_USER, strlen(P_USER), P_USER_END, strlen(P_USER_END), 0, false,
		     &pairs, &more);
	if (n < 0)
		return n;
	if (n == 0)
		return 0;
	a->users = calloc((size_t)n, sizeof(*a->users));
	if (!a->users)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		struct c3_dec d;

		c3_dec_init(&d, pairs[i].val, pairs[i].vlen);
		if (cluster_user_decode(&d, &a->users[i]) != 0 || c3_dec_finish(&d) != 0)
			return -C3FS_EBADMSG;
	}
	a->n = (uint32_t)n;
	return 0;
}

int mgmtd_users_list(struct kv_db *db, uint64_t *version, struct cluster_user **users,
		     uint32_t *n)
{
	struct list_arg a = { 0, NULL, 0 };
	int rc = kv_run(db, true, list_fn, &a);

	if (rc < 0) {
		free(a.users);
		return rc;
	}
	*version = a.version;
	*users = a.users;
	*n = a.n;
	return 0;
}

static int version_fn(struct kv_txn *txn, void *arg)
{
	return mgmtd_store_version_get(txn, K_USERS_VERSION, arg);
}

int mgmtd_users_version(struct kv_db *db, uint64_t *version)
{
	int rc = kv_run(db, true, version_fn, version);

	return rc < 0 ? rc : 0;
}

bool mgmtd_users_is_admin_token(struct kv_db *db, const char *token)
{
	uint8_t h[CLUSTER_TOKEN_HASH];
	struct cluster_user *users = NULL;
	uint64_t version;
	uint32_t n = 0;
	bool ok = false;

	if (!cluster_token_is_valid(token) || cluster_token_hash(token, h) != 0 ||
	    mgmtd_users_list(db, &version, &users, &n) != 0)
		return false;
	for (uint32_t i = 0; i < n; i++)
		ok |= users[i].admin && cluster_ct_equal(users[i].hash, sizeof(h), h, sizeof(h));
	free(users);
	return ok;
}

/* ------------------------------------------------------------------ changes */

enum change_op { OP_ADD, OP_REMOVE, OP_ROTATE };

struct change_arg {
	uint64_t instance, now_ms;
	enum change_op op;
	const struct cluster_user *u;  /* OP_ADD: the user; else uid and (rotate) hash */
	uint64_t version;
};

static int change_fn(struct kv_txn *txn, void *arg)
{
	struct change_arg *a = arg;
	struct cluster_user old;
	uint8_t key[32];
	int rc = mgmtd_lease_check(txn, a->instance, a->now_ms);

	if (rc)
		return rc;
	if (a->op == OP_ADD) {
		struct list_arg all = { 0, NULL, 0 };

		rc = list_fn(txn, &all);
		for (uint32_t i = 0; rc == 0 && i < all.n; i++)
			if (all.users[i].uid == a->u->uid ||
			    strcmp(all.users[i].name, a->u->name) == 0)
				rc = -EEXIST;
		if (rc == 0 && all.n >= CLUSTER_MAX_USERS)
			rc = -EINVAL;
		free(all.users);
		if (rc == 0)
			rc = put_user(txn, a->u);
	} else {
		rc = get_user(txn, a->u->uid, &old);
		if (rc == 0 && a->op == OP_REMOVE) {
			rc = kv_clear(txn, key, mgmtd_store_key(key, P_USER, a->u->uid));
		} else if (rc == 0) {
			memcpy(old.hash, a->u->hash, sizeof(old.hash));
			rc = put_user(txn, &old);
		}
	}
	if (rc == 0)
		rc = mgmtd_store_version_bump(txn, K_USERS_VERSION, &a->version);
	return rc;
}

static int change(struct kv_db *db, uint64_t instance, uint64_t now_ms, enum change_op op,
		  const struct cluster_user *u, uint64_t *version)
{
	struct change_arg a = { instance, now_ms, op, u, 0 };
	int rc = kv_run(db, false, change_fn, &a);

	if (rc < 0)
		return rc;
	*version = a.version;
	return 0;
}

int mgmtd_users_add(struct kv_db *db, uint64_t instance, uint64_t now_wall_ms,
		    const struct cluster_user *u, uint64_t *version)
{
	if (!cluster_user_name_ok(u->name) || u->ngroups > CLUSTER_USER_GROUPS)
		return -EINVAL;
	return change(db, instance, now_wall_ms, OP_ADD, u, version);
}

int mgmtd_users_remove(struct kv_db *db, uint64_t instance, uint64_t now_wall_ms,
		       uint32_t uid, uint64_t *version)
{
	struct cluster_user u;

	memset(&u, 0, sizeof(u));
	u.uid = uid;
	return change(db, instance, now_wall_ms, OP_REMOVE, &u, version);
}

int mgmtd_users_rotate(struct kv_db *db, uint64_t instance, uint64_t now_wall_ms,
		       uint32_t uid, const uint8_t hash[CLUSTER_TOKEN_HASH], uint64_t *version)
{
	struct cluster_user u;

	memset(&u, 0, sizeof(u));
	u.uid = uid;
	memcpy(u.hash, hash, sizeof(u.hash));
	return change(db, instance, now_wall_ms, OP_ROTATE, &u, version);
}
