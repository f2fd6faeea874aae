/* meta_rpc.h — test/bench helper: the meta_op_* calls of meta/meta.h performed over RPC
 * against a c3fs-meta server at mrpc_addr, with the same signatures, so one suite can run
 * both directly and over the wire.  Header-only; include after meta/meta.h and, to
 * redirect a suite, define MRPC_REDIRECT first.
 * Ownership mirrors the direct ops: readlink/xattr replies point into the caller's store
 * buffer, readdir entries are one malloc'd block (meta_readdir_resp_release).
 * Threads: calls may run concurrently (rpc_client is thread-safe). */
#ifndef C3_TESTS_META_RPC_H
#define C3_TESTS_META_RPC_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "meta/meta.h"
#include "net/rpc.h"
#include "proto/meta.h"

static struct rpc_client *mrpc_cli;
static __thread char mrpc_addr[64]; /* per thread: each thread may use its own server */
static uint32_t mrpc_timeout_ms = 60000;

static inline int mrpc_call(uint16_t type, const struct c3_buf *req, struct c3_buf *resp)
{
	static const uint8_t empty[1];
	int rc;

	if (req->err)
		return req->err;
	rc = rpc_call_sync(mrpc_cli, mrpc_addr, type, req->data ? req->data : empty, req->len,
			   resp, mrpc_timeout_ms);
	if (rc == 0 && !resp->data) {
		/* empty reply: give decoders a valid pointer */
		c3_buf_append(resp, "", 1);
		resp->len = 0;
	}
	return rc;
}

#define MRPC_SHIM(NAME, T, RQ, RS)                                                      \
	static inline int mrpc_##NAME(struct meta_svc *s, const struct meta_##RQ *rq,   \
				      struct meta_##RS *rs)                             \
	{                                                                               \
		struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;                         \
		int rc;                                                                 \
		(void)s;                                                                \
		meta_##RQ##_encode(rq, &b);                                             \
		rc = mrpc_call(T, &b, &r);                                              \
		if (rc == 0 && rs)                                                      \
			rc = meta_##RS##_decode(r.data, r.len, rs);                     \
		c3_buf_release(&b);                                                     \
		c3_buf_release(&r);                                                     \
		return rc;                                                              \
	}
#define MRPC_SHIM0(NAME, T, RQ)                                                         \
	static inline int mrpc_##NAME(struct meta_svc *s, const struct meta_##RQ *rq)   \
	{                                                                               \
		struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;                         \
		int rc;                                                                 \
		(void)s;                                                                \
		meta_##RQ##_encode(rq, &b);                                             \
		rc = mrpc_call(T, &b, &r);                                              \
		c3_buf_release(&b);                                                     \
		c3_buf_release(&r);                                                     \
		return rc;                                                              \
	}
/* reply decoded in place inside *store (the caller's buffer) */
#define MRPC_SHIMB(NAME, T, RQ, RS)                                                     \
	static inline int mrpc_##NAME(struct meta_svc *s, const struct meta_##RQ *rq,   \
				      struct meta_##RS *rs, struct c3_buf *store)       \
	{                                                                               \
		struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;                         \
		int rc;                                                                 \
		(void)s;                                                                \
		meta_##RQ##_encode(rq, &b);                                             \
		rc = mrpc_call(T, &b, &r);                                              \
		c3_buf_release(&b);                                                     \
		if (rc < 0) {                                                           \
			c3_buf_release(&r);                                             \
			return rc;                                                      \
		}                                                                       \
		c3_buf_release(store);                                                  \
		*store = r;                                                             \
		return meta_##RS##_decode(store->data, store->len, rs);                 \
	}

MRPC_SHIM(statfs, META_T_STATFS, statfs_req, statfs_resp)
MRPC_SHIM(lookup, META_T_LOOKUP, lookup_req, attr_resp)
MRPC_SHIM(getattr, META_T_GETATTR, getattr_req, attr_resp)
MRPC_SHIM(setattr, META_T_SETATTR, setattr_req, attr_resp)
MRPC_SHIM(create, META_T_CREATE, create_req, open_resp)
MRPC_SHIM(open, META_T_OPEN, open_req, open_resp)
MRPC_SHIM(mkdir, META_T_MKDIR, mkdir_req, attr_resp)
MRPC_SHIM(mknod, META_T_MKNOD, mknod_req, attr_resp)
MRPC_SHIM(symlink, META_T_SYMLINK, symlink_req, attr_resp)
MRPC_SHIMB(readlink, META_T_READLINK, readlink_req, readlink_resp)
MRPC_SHIM(link, META_T_LINK, link_req, attr_resp)
MRPC_SHIM(unlink, META_T_UNLINK, unlink_req, unlink_resp)
MRPC_SHIM(rmdir, META_T_RMDIR, unlink_req, unlink_resp)
MRPC_SHIM0(rename, META_T_RENAME, rename_req)
MRPC_SHIMB(getxattr, META_T_GETXATTR, getxattr_req, getxattr_resp)
MRPC_SHIM0(setxattr, META_T_SETXATTR, setxattr_req)
MRPC_SHIMB(listxattr, META_T_LISTXATTR, listxattr_req, listxattr_resp)
MRPC_SHIM0(removexattr, META_T_REMOVEXATTR, getxattr_req)
MRPC_SHIM0(access, META_T_ACCESS, access_req)
MRPC_SHIM(renew, META_T_RENEW, client_req, renew_resp)
MRPC_SHIM0(prune, META_T_PRUNE, client_req)
MRPC_SHIM0(release, META_T_RELEASE, release_req)

static inline int mrpc_close(struct meta_svc *s, const struct meta_close_req *rq, bool close,
			     struct meta_attr_resp *rs)
{
	struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;
	int rc;

	(void)s;
	meta_close_req_encode(rq, &b);
	rc = mrpc_call(close ? META_T_CLOSE : META_T_SYNC, &b, &r);
	if (rc == 0)
		rc = meta_attr_resp_decode(r.data, r.len, rs);
	c3_buf_release(&b);
	c3_buf_release(&r);
	return rc;
}

/* Repeats the request until the server says done (each call is its own batch series). */
static inline int mrpc_rmtree(struct meta_svc *s, const struct meta_rmtree_req *rq,
			      uint64_t max_ms, struct meta_rmtree_resp *rs)
{
	struct meta_rmtree_req r = *rq;
	uint64_t total = 0;

	(void)s;
	(void)max_ms;
	for (int i = 0; i < 100000; i++) {
		struct c3_buf b = C3_BUF_INIT, resp = C3_BUF_INIT;
		int rc;

		meta_rmtree_req_encode(&r, &b);
		rc = mrpc_call(META_T_RMTREE, &b, &resp);
		if (rc == 0)
			rc = meta_rmtree_resp_decode(resp.data, resp.len, rs);
		c3_buf_release(&b);
		c3_buf_release(&resp);
		if (rc < 0)
			return rc;
		total += rs->removed;
		if (rs->done) {
			rs->removed = total;
			return 0;
		}
		if (r.hdr.seq)
			r.hdr.seq++; /* a new request: the caller's seq space must allow it */
	}
	return -C3FS_ENORETRY;
}

/* Decoded entries borrow names from the reply: copy into one block like the server op. */
static inline int mrpc_readdir(struct meta_svc *s, const struct meta_readdir_req *rq,
			       struct meta_readdir_resp *rs)
{
	struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;
	struct meta_readdir_resp tmp;
	size_t names = 0;
	char *np;
	int rc;

	(void)s;
	memset(rs, 0, sizeof(*rs));
	meta_readdir_req_encode(rq, &b);
	rc = mrpc_call(META_T_READDIR, &b, &r);
	c3_buf_release(&b);
	if (rc == 0)
		rc = meta_readdir_resp_decode(r.data, r.len, &tmp);
	if (rc < 0) {
		c3_buf_release(&r);
		return rc;
	}
	for (uint32_t i = 0; i < tmp.count; i++)
		names += tmp.entries[i].name_len;
	rs->entries = malloc(tmp.count * sizeof(*rs->entries) + names + 1);
	if (!rs->entries) {
		meta_readdir_resp_release(&tmp);
		c3_buf_release(&r);
		return -ENOMEM;
	}
	np = (char *)(rs->entries + tmp.count);
	for (uint32_t i = 0; i < tmp.count; i++) {
		rs->entries[i] = tmp.entries[i];
		memcpy(np, tmp.entries[i].name, tmp.entries[i].name_len);
		rs->entries[i].name = np;
		np += tmp.entries[i].name_len;
	}
	rs->count = tmp.count;
	rs->more = tmp.more;
	rs->plus = tmp.plus;
	meta_readdir_resp_release(&tmp);
	c3_buf_release(&r);
	return 0;
}

#ifdef MRPC_REDIRECT
#define meta_op_statfs mrpc_statfs
#define meta_op_lookup mrpc_lookup
#define meta_op_getattr mrpc_getattr
#define meta_op_setattr mrpc_setattr
#define meta_op_create mrpc_create
#define meta_op_open mrpc_open
#define meta_op_close mrpc_close
#define meta_op_mkdir mrpc_mkdir
#define meta_op_mknod mrpc_mknod
#define meta_op_symlink mrpc_symlink
#define meta_op_readlink mrpc_readlink
#define meta_op_link mrpc_link
#define meta_op_unlink mrpc_unlink
#define meta_op_rmdir mrpc_rmdir
#define meta_op_rename mrpc_rename
#define meta_op_readdir mrpc_readdir
#define meta_op_getxattr mrpc_getxattr
#define meta_op_setxattr mrpc_setxattr
#define meta_op_listxattr mrpc_listxattr
#define meta_op_removexattr mrpc_removexattr
#define meta_op_rmtree mrpc_rmtree
#define meta_op_access mrpc_access
#define meta_op_renew mrpc_renew
#define meta_op_prune mrpc_prune
#define meta_op_release mrpc_release
#endif

#endif
