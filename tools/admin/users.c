/* users.c — c3fs-admin user-add / user-list / user-remove / token-rotate (users.h).
 *
 * The token is made here (cluster_token_new: 32 bytes from getrandom) and shown once:
 * printed, or written to a new file (--token-out FILE, created 0600, never overwritten).
 * mgmtd receives only its SHA-256.
 */
#include "users.h"

#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/client.h"
#include "cluster/users.h"
#include "common/buf.h"
#include "common/errors.h"
#include "proto/mgmtd.h"

static const char *const user_cmds[] = { "user-add", "user-list", "user-remove",
					 "token-rotate" };

bool admin_users_is_cmd(const char *cmd)
{
	for (size_t i = 0; i < sizeof(user_cmds) / sizeof(user_cmds[0]); i++)
		if (strcmp(cmd, user_cmds[i]) == 0)
			return true;
	return false;
}

void admin_users_usage(FILE *f)
{
	fprintf(f,
		"  user-add UID NAME [--gid GID] [--groups GID,GID...] [--root] [--admin]\n"
		"           [--token-out FILE]  (admin) a user for client mounts; prints its\n"
		"                              new token once (or writes it to FILE, 0600)\n"
		"  user-list                   (admin) users and flags (never tokens)\n"
		"  user-remove UID             (admin) its mounts are refused at their next\n"
		"                              request\n"
		"  token-rotate UID [--token-out FILE]\n"
		"                              (admin) a new token; the old one stops working\n");
}

static int call(const struct admin_users_ctx *ctx, uint16_t type, const struct c3_buf *req,
		struct c3_buf *resp)
{
	return cluster_mgmtd_call(ctx->rpc, ctx->mgmtd, NULL, 0, type, req->data, req->len, resp,
				  5000);
}

/* Options of user-add / token-rotate. */
struct user_opts {
	const char *token_out;
	struct cluster_user u;
	bool gid_set;
};

/* Parse "--gid G", "--groups a,b", "--root", "--admin", "--token-out F" (any order) and
 * the positional arguments into pos (at most maxpos).  Returns the count of positional
 * arguments, or -1 after a message. */
static int parse_opts(const char *cmd, int argc, char **argv, bool add, struct user_opts *o,
		      char **pos, int maxpos)
{
	int npos = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool val = strcmp(a, "--gid") == 0 || strcmp(a, "--groups") == 0 ||
			   strcmp(a, "--token-out") == 0;

		if (val && i + 1 >= argc) {
			fprintf(stderr, "c3fs-admin: %s: %s needs a value\n", cmd, a);
			return -1;
		}
		if (strcmp(a, "--token-out") == 0) {
			o->token_out = argv[++i];
		} else if (add && strcmp(a, "--gid") == 0) {
			if (admin_parse_u32(argv[++i], &o->u.gid)) {
				fprintf(stderr, "c3fs-admin: %s: --gid %s: not a gid\n", cmd, argv[i]);
				return -1;
			}
			o->gid_set = true;
		} else if (add && strcmp(a, "--groups") == 0) {
			char *list = argv[++i], *save = NULL, *tok;

			for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (o->u.ngroups == CLUSTER_USER_GROUPS ||
				    admin_parse_u32(tok, &o->u.groups[o->u.ngroups])) {
					fprintf(stderr, "c3fs-admin: %s: --groups: '%s': expected at "
						"most %d gids separated by commas\n", cmd, tok,
						CLUSTER_USER_GROUPS);
					return -1;
				}
				o->u.ngroups++;
			}
		} else if (add && strcmp(a, "--root") == 0) {
			o->u.root = true;
		} else if (add && strcmp(a, "--admin") == 0) {
			o->u.admin = true;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "c3fs-admin: %s: unknown option '%s'\n", cmd, a);
			return -1;
		} else if (npos == maxpos) {
			fprintf(stderr, "c3fs-admin: %s: unexpected argument '%s'\n", cmd, a);
			return -1;
		} else {
			pos[npos++] = argv[i];
		}
	}
	return npos;
}

/* Create the token file (new, 0600) before the request, so a failure to write it never
 * leaves a user whose token nobody has.  Returns the fd or -1 after a message. */
static int token_file_create(const char *cmd, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		fprintf(stderr, "c3fs-admin: %s: --token-out %s: %s%s\n", cmd, path,
			strerror(errno), errno == EEXIST ? " (never overwritten)" : "");
	else if (fchmod(fd, 0600) != 0) /* whatever the umask */
		fprintf(stderr, "c3fs-admin: %s: --token-out %s: %s\n", cmd, path,
			strerror(errno));
	else
		return fd;
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	return -1;
}

/* Send user-add or token-rotate with a new token; show the token once. */
static int add_or_rotate(const struct admin_users_ctx *ctx, const char *cmd, bool add,
			 struct user_opts *o)
{
	struct mgmtd_user_add_req q;
	struct mgmtd_admin_resp r;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	char token[CLUSTER_TOKEN_HEX + 1];
	int fd = -1, rc;

	memset(&q, 0, sizeof(q));
	q.u = o->u;
	snprintf(q.admin_token, sizeof(q.admin_token), "%s", ctx->admin_token);
	rc = cluster_token_new(token);
	if (rc == 0)
		rc = cluster_token_hash(token, q.u.hash);
	if (rc)
		return admin_fail(cmd, rc);
	if (o->token_out) {
		fd = token_file_create(cmd, o->token_out);
		if (fd < 0)
			return 1;
	}
	mgmtd_user_add_req_encode(&q, &req);
	rc = req.err ? req.err : call(ctx, add ? MGMTD_T_USER_ADD : MGMTD_T_TOKEN_ROTATE, &req,
				      &resp);
	if (rc == 0)
		rc = mgmtd_admin_resp_decode(resp.data, resp.len, &r);
	c3_buf_release(&req);
	c3_buf_release(&resp);
	if (rc == 0 && fd >= 0 && (dprintf(fd, "%s\n", token) < 0 || fsync(fd) != 0)) {
		fprintf(stderr, "c3fs-admin: %s: --token-out %s: %s (the token is lost: run "
			"token-rotate %u)\n", cmd, o->token_out, strerror(errno), q.u.uid);
		rc = -EIO;
	}
	if (fd >= 0) {
		close(fd);
		if (rc)
			unlink(o->token_out);
	}
	if (rc)
		explicit_bzero(token, sizeof(token));
	if (rc == -EEXIST) {
		fprintf(stderr, "c3fs-admin: %s: uid %u or name %s is taken (see user-list)\n",
			cmd, q.u.uid, q.u.name);
		return 1;
	}
	if (rc == -ENOENT) {
		fprintf(stderr, "c3fs-admin: %s: no user with uid %u\n", cmd, q.u.uid);
		return 1;
	}
	if (rc == -EIO && fd >= 0)
		return 1;
	if (rc)
		return admin_fail(cmd, rc);
	if (ctx->json) {
		printf("{\"uid\":%u,\"users_version\":%" PRIu64, q.u.uid, r.routing_version);
		if (o->token_out) /* the path is the caller's own: not echoed (no escaping) */
			printf(",\"token_written\":true}\n");
		else
			printf(",\"token\":\"%s\"}\n", token);
	} else if (o->token_out) {
		printf("uid %u: token written to %s (user table version %" PRIu64 ")\n", q.u.uid,
		       o->token_out, r.routing_version);
	} else {
		printf("%s\n", token);
		fprintf(stderr, "uid %u: token above, shown once (user table version %" PRIu64
			")\n", q.u.uid, r.routing_version);
	}
	explicit_bzero(token, sizeof(token));
	return 0;
}

static int cmd_user_add(const struct admin_users_ctx *ctx, int argc, char **argv)
{
	struct user_opts o;
	char *pos[2];
	int n;

	memset(&o, 0, sizeof(o));
	n = parse_opts("user-add", argc, argv, true, &o, pos, 2);
	if (n != 2 || admin_parse_u32(pos[0], &o.u.uid)) {
		if (n >= 0)
			fprintf(stderr, "usage: c3fs-admin user-add UID NAME [--gid GID] [--groups "
				"GID,...] [--root] [--admin] [--token-out FILE]\n");
		return 2;
	}
	if (strlen(pos[1]) >= sizeof(o.u.name) || !cluster_user_name_ok(pos[1])) {
		fprintf(stderr, "c3fs-admin: user-add: name '%s': 1 to %zu of A-Z a-z 0-9 . _ - "
			"(not starting with -)\n", pos[1], sizeof(o.u.name) - 1);
		return 2;
	}
	snprintf(o.u.name, sizeof(o.u.name), "%s", pos[1]);
	if (!o.gid_set)
		o.u.gid = o.u.uid;
	return add_or_rotate(ctx, "user-add", true, &o);
}

static int cmd_token_rotate(const struct admin_users_ctx *ctx, int argc, char **argv)
{
	struct user_opts o;
	char *pos[1];
	int n;

	memset(&o, 0, sizeof(o));
	n = parse_opts("token-rotate", argc, argv, false, &o, pos, 1);
	if (n != 1 || admin_parse_u32(pos[0], &o.u.uid)) {
		if (n >= 0)
			fprintf(stderr, "usage: c3fs-admin token-rotate UID [--token-out FILE]\n");
		return 2;
	}
	snprintf(o.u.name, sizeof(o.u.name), "x"); /* not used by token-rotate */
	return add_or_rotate(ctx, "token-rotate", false, &o);
}

/* user-remove UID, and user-list (uid == NULL). */
static int remove_or_list(const struct admin_users_ctx *ctx, const char *uid)
{
	const char *cmd = uid ? "user-remove" : "user-list";
	struct mgmtd_user_remove_req q;
	struct mgmtd_admin_resp ar;
	struct mgmtd_users_resp lr;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	int rc;

	memset(&q, 0, sizeof(q));
	snprintf(q.admin_token, sizeof(q.admin_token), "%s", ctx->admin_token);
	if (uid && admin_parse_u32(uid, &q.uid)) {
		fprintf(stderr, "usage: c3fs-admin user-remove UID\n");
		return 2;
	}
	mgmtd_user_remove_req_encode(&q, &req);
	rc = req.err ? req.err : call(ctx, uid ? MGMTD_T_USER_REMOVE : MGMTD_T_USER_LIST, &req,
				      &resp);
	if (rc == 0)
		rc = uid ? mgmtd_admin_resp_decode(resp.data, resp.len, &ar) :
			   mgmtd_users_resp_decode(resp.data, resp.len, &lr);
	c3_buf_release(&req);
	c3_buf_release(&resp);
	if (rc == -ENOENT) {
		fprintf(stderr, "c3fs-admin: %s: no user with uid %u\n", cmd, q.uid);
		return 1;
	}
	if (rc)
		return admin_fail(cmd, rc);
	if (uid) {
		if (ctx->json)
			printf("{\"uid\":%u,\"removed\":true,\"users_version\":%" PRIu64 "}\n",
			       q.uid, ar.routing_version);
		else
			printf("uid %u removed (user table version %" PRIu64 ")\n", q.uid,
			       ar.routing_version);
		return 0;
	}
	if (ctx->json)
		printf("{\"users_version\":%" PRIu64 ",\"users\":[", lr.version);
	else
		printf("%-10s %-20s %-10s %-5s %-5s %s\n", "UID", "NAME", "GID", "ROOT", "ADMIN",
		       "GROUPS");
	for (uint32_t i = 0; i < lr.n; i++) {
		const struct cluster_user *u = &lr.users[i];
		char groups[CLUSTER_USER_GROUPS * 11 + 1] = "";
		size_t off = 0;

		for (uint32_t k = 0; k < u->ngroups; k++)
			off += (size_t)snprintf(groups + off, sizeof(groups) - off, "%s%u",
						k ? "," : "", u->groups[k]);
		if (ctx->json)
			printf("%s{\"uid\":%u,\"name\":\"%s\",\"gid\":%u,\"groups\":[%s],"
			       "\"root\":%s,\"admin\":%s}", i ? "," : "", u->uid, u->name, u->gid,
			       groups, u->root ? "true" : "false", u->admin ? "true" : "false");
		else
			printf("%-10u %-20s %-10u %-5s %-5s %s\n", u->uid, u->name, u->gid,
			       u->root ? "yes" : "no", u->admin ? "yes" : "no",
			       groups[0] ? groups : "-");
	}
	if (ctx->json)
		printf("]}\n");
	mgmtd_users_resp_release(&lr);
	return 0;
}

int admin_users_run(const struct admin_users_ctx *ctx, const char *cmd, int argc,
		    char **argv)
{
	if (strcmp(cmd, "user-add") == 0)
		return cmd_user_add(ctx, argc, argv);
	if (strcmp(cmd, "token-rotate") == 0)
		return cmd_token_rotate(ctx, argc, argv);
	if (strcmp(cmd, "user-remove") == 0) {
		if (argc != 1) {
			fprintf(stderr, "usage: c3fs-admin user-remove UID\n");
			return 2;
		}
		return remove_or_list(ctx, argv[0]);
	}
	if (argc != 0) {
		fprintf(stderr, "c3fs-admin: user-list takes no argument '%s'\n", argv[0]);
		return 2;
	}
	return remove_or_list(ctx, NULL);
}
