/* users.h — users and token hashes kept by mgmtd (docs/OPERATIONS.md "Users and tokens").
 *
 * KV records (next to store.h's and settings.h's; values in the net/codec.h encoding):
 *   "mgmtd/users/version"           u64, grows with every change (0 = no user ever added)
 *   "mgmtd/user/" + be32 uid        one struct cluster_user, hash included
 * Never a token in clear: c3fs-admin sends only the SHA-256 of the token it generated.
 * Writes check the leader lease in the same transaction (like store.c).
 */
#ifndef C3_MGMTD_USERS_H
#define C3_MGMTD_USERS_H

#include <stdint.h>

#include "cluster/users.h"

struct kv_db;

/* The current version.  Returns 0 or a KV error. */
int mgmtd_users_version(struct kv_db *db, uint64_t *version);
/* Every user in uid order, hashes included (*users malloc'd, NULL when none).
 * Returns 0, -ENOMEM, -C3FS_EBADMSG (a corrupt record) or a KV error. */
int mgmtd_users_list(struct kv_db *db, uint64_t *version, struct cluster_user **users,
		     uint32_t *n);
/* Add u.  -EEXIST when its uid or its name is taken, -EINVAL for a bad name or more than
 * CLUSTER_MAX_USERS users.  Returns 0 with the new *version, -C3FS_ENOTLEADER or a KV
 * error otherwise. */
int mgmtd_users_add(struct kv_db *db, uint64_t instance, uint64_t now_wall_ms,
		    const struct cluster_user *u, uint64_t *version);
/* Remove the user uid (-ENOENT when unknown). */
int mgmtd_users_remove(struct kv_db *db, uint64_t instance, uint64_t now_wall_ms,
		       uint32_t uid, uint64_t *version);
/* Replace the token hash of user uid (-ENOENT when unknown). */
int mgmtd_users_rotate(struct kv_db *db, uint64_t instance, uint64_t now_wall_ms,
		       uint32_t uid, const uint8_t hash[CLUSTER_TOKEN_HASH], uint64_t *version);
/* Is token (clear text) the token of a user with the admin flag?  false on any error. */
bool mgmtd_users_is_admin_token(struct kv_db *db, const char *token);

#endif
