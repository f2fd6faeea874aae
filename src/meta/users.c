/* meta/users.c — the user table of a meta node and the per-request check (users.h).
 *
 * The table is replaced whole under a rwlock; each replacement gets a new generation
 * (local counter, never 0).  A connection's slot holds (generation << 20) | (index + 1):
 * CLUSTER_MAX_USERS fits in 20 bits.
 */
#include "meta/users.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/users.h"
#include "common/errors.h"
#include "proto/meta.h"

#define SLOT_BITS 20

struct meta_users {
	pthread_rwlock_t lock;
	uint64_t gen;                 /* (lock) 0 = no table yet */
	uint64_t version;             /* (lock) mgmtd's version of the table */
	struct cluster_user *users;   /* (lock) */
	uint32_t n;                   /* (lock) */
};

int meta_users_new(struct meta_users **out)
{
	struct meta_users *mu = calloc(1, sizeof(*mu));

	*out = NULL;
	if (!mu)
		return -ENOMEM;
	pthread_rwlock_init(&mu->lock, NULL);
	*out = mu;
	return 0;
}

void meta_users_free(struct meta_users *mu)
{
	if (!mu)
		return;
	pthread_rwlock_destroy(&mu->lock);
	free(mu->users);
	free(mu);
}

int meta_users_set(struct meta_users *mu, const struct cluster_user *users, uint32_t n,
		   uint64_t version)
{
	struct cluster_user *copy = NULL;

	if (n) {
		copy = malloc(n * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, users, n * sizeof(*copy));
	}
	pthread_rwlock_wrlock(&mu->lock);
	free(mu->users);
	mu->users = copy;
	mu->n = n;
	mu->version = version;
	mu->gen++;
	pthread_rwlock_unlock(&mu->lock);
	return 0;
}

bool meta_users_ready(struct meta_users *mu)
{
	bool ready;

	pthread_rwlock_rdlock(&mu->lock);
	ready = mu->gen != 0;
	pthread_rwlock_unlock(&mu->lock);
	return ready;
}

/* The user of token in the current table, or -1 (lock held). */
static int find_locked(const struct meta_users *mu, const char *token)
{
	uint8_t h[CLUSTER_TOKEN_HASH];
	int found = -1;

	if (!cluster_token_is_valid(token) || cluster_token_hash(token, h) != 0)
		return -1;
	/* every entry is compared: the time does not tell which one matched */
	for (uint32_t i = 0; i < mu->n; i++)
		if (cluster_ct_equal(mu->users[i].hash, sizeof(h), h, sizeof(h)))
			found = (int)i;
	return found;
}

static int check_cred(const struct cluster_user *u, struct meta_cred *cred, char *why,
		      size_t whylen)
{
	uint32_t k = 0;

	if (u->root)
		return 0;
	if (cred->uid != u->uid) {
		snprintf(why, whylen, "user %s (uid %u) may not act as uid %u", u->name, u->uid,
			 cred->uid);
		return -EPERM;
	}
	if (!cluster_user_has_group(u, cred->gid)) {
		snprintf(why, whylen, "user %s (uid %u) may not act with gid %u", u->name,
			 u->uid, cred->gid);
		return -EPERM;
	}
	for (uint32_t i = 0; i < cred->ngroups && i < META_MAX_GROUPS; i++)
		if (cluster_user_has_group(u, cred->groups[i]))
			cred->groups[k++] = cred->groups[i];
	cred->ngroups = k;
	return 0;
}

int meta_users_check(struct meta_users *mu, const char *token, uint64_t *slot,
		     struct meta_cred *cred, bool check, char *why, size_t whylen)
{
	int rc = 0, idx = -1;

	why[0] = '\0';
	pthread_rwlock_rdlock(&mu->lock);
	if (mu->gen == 0) {
		snprintf(why, whylen, "no user table from mgmtd yet");
		rc = -C3FS_EUSERTOKEN;
	} else if (*slot >> SLOT_BITS == mu->gen) {
		idx = (int)(*slot & ((1u << SLOT_BITS) - 1)) - 1;
	} else if (!token[0]) {
		snprintf(why, whylen, "no user token");
		rc = -C3FS_EUSERTOKEN;
	} else {
		idx = find_locked(mu, token);
		if (idx < 0) {
			snprintf(why, whylen, "unknown or removed user token");
			rc = -C3FS_EUSERTOKEN;
		} else {
			*slot = mu->gen << SLOT_BITS | (uint64_t)(idx + 1);
		}
	}
	if (rc == 0 && check)
		rc = check_cred(&mu->users[idx], cred, why, whylen);
	pthread_rwlock_unlock(&mu->lock);
	return rc;
}
