/* meta/users.h — which user a client connection is, and what its requests may claim
 * (docs/OPERATIONS.md "Users and tokens").
 *
 * With meta auth.users on, every connection presents a user token in its RPC_T_AUTH frame
 * (net/rpc.h rpc_req_user_token).  The table (token hashes and flags) comes from mgmtd
 * with a version (cluster/client.h on_users); a connection is bound to its user once per
 * table: the connection's slot (rpc_req_conn_slot) remembers (table generation, index),
 * so a request costs one compare while the table is unchanged, and a change of the
 * table (a removed user, a rotated token) makes every connection look its token up again
 * at its next request.
 *
 * Rules per request, as in 3FS: the token must belong to a user (else
 * -C3FS_EUSERTOKEN); a root user may act for any uid; any other user's requests must
 * carry its own uid and as gid its primary gid or one of its groups (else -EPERM);
 * supplementary groups it does not have are dropped from the request (they can only
 * narrow what it may do).
 *
 * Thread safety: all functions may be called from any thread.
 */
#ifndef C3_META_USERS_H
#define C3_META_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cluster_user;
struct meta_cred;
struct meta_users;

int meta_users_new(struct meta_users **out);
void meta_users_free(struct meta_users *mu);

/* Replace the table (copied).  Returns 0 or -ENOMEM (the old table stays). */
int meta_users_set(struct meta_users *mu, const struct cluster_user *users, uint32_t n,
		   uint64_t version);
/* Has a table been set yet? */
bool meta_users_ready(struct meta_users *mu);

/* Check one request.  token: the connection's user token; *slot: the connection's word
 * (read, and updated when the binding changes); cred: the request's credentials
 * (supplementary groups may be dropped); check_cred false = the token alone (session
 * keep-alive requests carry no caller).  Returns 0, -C3FS_EUSERTOKEN (no table yet, no
 * token, unknown or removed token) or -EPERM, with the reason in why. */
int meta_users_check(struct meta_users *mu, const char *token, uint64_t *slot,
		     struct meta_cred *cred, bool check_cred, char *why, size_t whylen);

#endif
