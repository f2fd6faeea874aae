/* users.h — c3fs-admin's user commands (users.c): user-add, user-list, user-remove,
 * token-rotate (docs/OPERATIONS.md "Users and tokens").  They talk to the mgmtd leader
 * with the admin token, like the other admin commands. */
#ifndef C3_TOOLS_ADMIN_USERS_H
#define C3_TOOLS_ADMIN_USERS_H

#include <stdbool.h>
#include <stdio.h>

struct rpc_client;

/* What a user command needs from c3fs-admin's main. */
struct admin_users_ctx {
	struct rpc_client *rpc;
	const char *mgmtd;
	const char *admin_token;
	bool json;
};

/* A user command? */
bool admin_users_is_cmd(const char *cmd);
/* Run it: 0 ok, 1 failed, 2 usage, 3 refused (no or a wrong admin token). */
int admin_users_run(const struct admin_users_ctx *ctx, const char *cmd, int argc,
		    char **argv);
/* Its lines of c3fs-admin --help. */
void admin_users_usage(FILE *f);

#endif
