/* meta/server.c — RPC handlers of the meta service (see server.h).
 *
 * Every handler follows one pattern: decode, op, encode, reply exactly once.  Responses
 * whose pointers borrow from a per-request c3_buf (readlink, xattrs) or a malloc'd block
 * (readdir) are encoded before those are released.
 */
#include "meta/server.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/metrics.h"
#include "kv/kv.h"
#include "meta/meta_int.h"
#include "meta/users.h"
#include "proto/msg.h"

#define NTYPES (META_T_RELEASE - META_T_STATFS + 1)

struct op_metrics {
	struct c3_counter *ok, *err;
	struct c3_hist *lat;
};
static struct op_metrics g_metrics[NTYPES];
static struct meta_users *g_users;   /* set once by meta_server_register; NULL = no checks */
static struct c3_counter *g_refused_token, *g_refused_cred;
static _Atomic uint64_t g_refused_log_ns;

/* With a user table: may this request run as its header says (meta/users.h)?  Session
 * keep-alive requests (renew, prune, release) carry no caller and statfs shows only
 * totals: for those the token alone counts. */
static int user_check(struct rpc_req *req, struct meta_cred *cred)
{
	bool caller = req->type != META_T_RENEW && req->type != META_T_PRUNE &&
		    req->type != META_T_RELEASE && req->type != META_T_STATFS;
	uint64_t slot, was;
	char why[160];
	int rc;

	if (!g_users)
		return 0;
	slot = was = rpc_req_conn_slot(req);
	rc = meta_users_check(g_users, rpc_req_user_token(req), &slot, cred, caller, why,
			      sizeof(why));
	if (slot != was)
		rpc_req_set_conn_slot(req, slot);
	if (rc) {
		uint64_t now = c3_now_ns(), last = atomic_load(&g_refused_log_ns);

		c3_counter_add(rc == -EPERM ? g_refused_cred : g_refused_token, 1);

		/* one line a second at most: a refused mount retries every request */
		if (now - last > 1000000000ull &&
		    atomic_compare_exchange_strong(&g_refused_log_ns, &last, now))
			LOG_WARN("%s from %s refused: %s", c3_msg_name(req->type), req->peer,
				 why);
	}
	return rc;
}

static void count(uint16_t type, int rc, uint64_t start)
{
	struct op_metrics *m = &g_metrics[type - META_T_STATFS];

	c3_counter_add(rc < 0 ? m->err : m->ok, 1);
	c3_hist_observe_ns(m->lat, c3_now_ns() - start);
}

static void finish(struct rpc_req *req, int rc, struct c3_buf *out, uint64_t start)
{
	uint16_t type = req->type;

	if (rc == 0 && out->err)
		rc = out->err;
	if (rc == -C3FS_EBADMSG)
		LOG_DEBUG("malformed %s request from %s", c3_msg_name(type), req->peer);
	else if (rc == -C3FS_EINTERNAL)
		LOG_ERROR("%s: internal error (corrupt record or broken invariant)",
			  c3_msg_name(type));
	rpc_reply_buf(req, rc, rc == 0 ? out : NULL);
	count(type, rc, start);
	c3_buf_release(out);
}

/* One handler: decode the request struct meta_<RQ> into r, the user check, CALL (may use
 * svc, r, s and store, a buffer s may borrow from), ENC on success (s -> out), then DONE
 * (releases what s owns), the reply and the metrics. */
#define HANDLER_OF(NAME, RQ, RS, CALL, ENC, DONE)                                       \
	static void h_##NAME(struct rpc_req *req, void *ctx)                            \
	{                                                                               \
		struct meta_svc *svc = ctx;                                             \
		struct meta_##RQ r;                                                     \
		RS s;                                                                   \
		struct c3_buf store = C3_BUF_INIT, out = C3_BUF_INIT;                   \
		uint64_t start = c3_now_ns();                                           \
		int rc = meta_##RQ##_decode(req->payload, req->payload_len, &r);        \
		memset(&s, 0, sizeof(s));                                               \
		if (rc == 0)                                                            \
			rc = user_check(req, &r.hdr.cred);                              \
		if (rc == 0)                                                            \
			rc = CALL;                                                      \
		if (rc == 0)                                                            \
			ENC;                                                            \
		DONE;                                                                   \
		c3_buf_release(&store);                                                 \
		finish(req, rc, &out, start);                                           \
	}

/* Handlers with a reply struct meta_<RS>. */
#define HANDLER(NAME, RQ, RS, CALL)                                                     \
	HANDLER_OF(NAME, RQ, struct meta_##RS, CALL, meta_##RS##_encode(&s, &out), (void)0)

/* Handlers with an empty reply. */
#define HANDLER0(NAME, RQ, CALL) HANDLER_OF(NAME, RQ, char, CALL, (void)s, (void)0)

/* rmtree works in batches until done or until a little before the caller's deadline. */
static uint64_t rmtree_max_ms(const struct rpc_req *req, uint64_t start)
{
	uint64_t left_ms;

	if (req->deadline_ns <= start)
		return 10000;
	left_ms = (req->deadline_ns - start) / 1000000ull;
	return left_ms > 200 ? left_ms / 2 : 100;
}

HANDLER(statfs, statfs_req, statfs_resp, meta_op_statfs(svc, &r, &s))
HANDLER(lookup, lookup_req, attr_resp, meta_op_lookup(svc, &r, &s))
HANDLER(getattr, getattr_req, attr_resp, meta_op_getattr(svc, &r, &s))
HANDLER(setattr, setattr_req, attr_resp, meta_op_setattr(svc, &r, &s))
HANDLER(create, create_req, open_resp, meta_op_create(svc, &r, &s))
HANDLER(open, open_req, open_resp, meta_op_open(svc, &r, &s))
HANDLER(close, close_req, attr_resp, meta_op_close(svc, &r, true, &s))
HANDLER(sync, close_req, attr_resp, meta_op_close(svc, &r, false, &s))
HANDLER(mkdir, mkdir_req, attr_resp, meta_op_mkdir(svc, &r, &s))
HANDLER(mknod, mknod_req, attr_resp, meta_op_mknod(svc, &r, &s))
HANDLER(symlink, symlink_req, attr_resp, meta_op_symlink(svc, &r, &s))
HANDLER(readlink, readlink_req, readlink_resp, meta_op_readlink(svc, &r, &s, &store))
HANDLER(link, link_req, attr_resp, meta_op_link(svc, &r, &s))
HANDLER(unlink, unlink_req, unlink_resp, meta_op_unlink(svc, &r, &s))
HANDLER(rmdir, unlink_req, unlink_resp, meta_op_rmdir(svc, &r, &s))
HANDLER0(rename, rename_req, meta_op_rename(svc, &r))
HANDLER(getxattr, getxattr_req, getxattr_resp, meta_op_getxattr(svc, &r, &s, &store))
HANDLER0(setxattr, setxattr_req, meta_op_setxattr(svc, &r))
HANDLER(listxattr, listxattr_req, listxattr_resp, meta_op_listxattr(svc, &r, &s, &store))
HANDLER0(removexattr, getxattr_req, meta_op_removexattr(svc, &r))
HANDLER0(access, access_req, meta_op_access(svc, &r))
HANDLER(renew, client_req, renew_resp, meta_op_renew(svc, &r, &s))
HANDLER0(prune, client_req, meta_op_prune(svc, &r))
HANDLER0(release, release_req, meta_op_release(svc, &r))

HANDLER_OF(readdir, readdir_req, struct meta_readdir_resp, meta_op_readdir(svc, &r, &s),
	   meta_readdir_resp_encode(&s, &out), meta_readdir_resp_release(&s))
HANDLER(rmtree, rmtree_req, rmtree_resp, meta_op_rmtree(svc, &r, rmtree_max_ms(req, start), &s))

/* Point reads: one read-only transaction of a few gets (lookup: parent, entry, child and
 * the child's T rows; getattr/access: one inode and its T rows; readlink: one inode), no
 * storage hook, no allocation that grows with the data. */
static bool server_is_point_read(uint16_t type)
{
	return type == META_T_LOOKUP || type == META_T_GETATTR || type == META_T_ACCESS ||
	       type == META_T_READLINK;
}

int meta_server_register(struct rpc_server *srv, struct meta_svc *svc,
			 struct meta_users *users)
{
	/* With an embedded KV a read transaction is a walk of the memory map that never waits
	 * for a commit, so point reads run on the I/O thread that read the request: no
	 * hand-off to a worker (a futex wake and two context switches per request, a quarter
	 * of meta's CPU in a create loop, docs/bench/meta-profile.md).  A PostgreSQL read is a
	 * network round trip: those stay on the workers. */
	const char *be = kv_db_backend(svc->db);
	bool inline_reads = strcmp(be, "lmdb") == 0 || strcmp(be, "mem") == 0;
	static const struct {
		uint16_t type;
		rpc_handler_fn fn;
	} tab[] = {
		{ META_T_STATFS, h_statfs },     { META_T_LOOKUP, h_lookup },
		{ META_T_GETATTR, h_getattr },   { META_T_SETATTR, h_setattr },
		{ META_T_CREATE, h_create },     { META_T_OPEN, h_open },
		{ META_T_CLOSE, h_close },       { META_T_SYNC, h_sync },
		{ META_T_MKDIR, h_mkdir },       { META_T_MKNOD, h_mknod },
		{ META_T_SYMLINK, h_symlink },   { META_T_READLINK, h_readlink },
		{ META_T_LINK, h_link },         { META_T_UNLINK, h_unlink },
		{ META_T_RMDIR, h_rmdir },       { META_T_RENAME, h_rename },
		{ META_T_READDIR, h_readdir },   { META_T_GETXATTR, h_getxattr },
		{ META_T_SETXATTR, h_setxattr }, { META_T_LISTXATTR, h_listxattr },
		{ META_T_REMOVEXATTR, h_removexattr }, { META_T_RMTREE, h_rmtree },
		{ META_T_ACCESS, h_access },     { META_T_RENEW, h_renew },
		{ META_T_PRUNE, h_prune },       { META_T_RELEASE, h_release },
	};
	char labels[64];
	int rc;

	g_users = users;
	g_refused_token = c3_counter_get("c3fs_meta_user_refused_total", "why=\"token\"",
					 "requests refused by the user check (auth.users)");
	g_refused_cred = c3_counter_get("c3fs_meta_user_refused_total", "why=\"cred\"",
					"requests refused by the user check (auth.users)");
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		struct op_metrics *m = &g_metrics[tab[i].type - META_T_STATFS];
		const char *name = c3_msg_name(tab[i].type);

		snprintf(labels, sizeof(labels), "op=\"%s\",result=\"ok\"", name);
		m->ok = c3_counter_get("c3fs_meta_ops_total", labels, "meta requests by op and result");
		snprintf(labels, sizeof(labels), "op=\"%s\",result=\"error\"", name);
		m->err = c3_counter_get("c3fs_meta_ops_total", labels, "meta requests by op and result");
		snprintf(labels, sizeof(labels), "op=\"%s\"", name);
		m->lat = c3_hist_get("c3fs_meta_op_seconds", labels, "meta request latency");
		rc = rpc_server_register(srv, tab[i].type, tab[i].fn, svc,
					 inline_reads && server_is_point_read(tab[i].type) ?
						 RPC_HANDLER_INLINE : 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}
