/* meta/server.h — the meta service over RPC: registers one handler per META_T_* type on
 * an rpc_server and runs each request on the server's worker threads, except point reads
 * (lookup, getattr, access, readlink) over an embedded KV (lmdb, mem), which run on the
 * I/O thread that read them (they never wait for a commit).
 *
 * A handler decodes the request (a malformed one is answered -C3FS_EBADMSG and logged at
 * debug level), runs the meta_op_* function, encodes the reply, and counts the op in the
 * metrics c3fs_meta_ops_total{op,result} and c3fs_meta_op_seconds{op}.
 * Credentials in requests are trusted as sent (clients authenticate with the cluster
 * token at the RPC layer), as 3FS does by default, unless a user table is given
 * (meta_server_register's users, meta auth.users = true): then every request is checked
 * against the user of its connection's token (meta/users.h) before it runs.
 */
#ifndef C3_META_SERVER_H
#define C3_META_SERVER_H

#include "meta/meta.h"
#include "net/rpc.h"

struct meta_users;

/* Register every meta handler on srv (before rpc_server_start).  svc and users (NULL = no
 * user checks) are borrowed and must outlive srv.  Returns 0 or a negative code. */
int meta_server_register(struct rpc_server *srv, struct meta_svc *svc,
			 struct meta_users *users);

#endif
