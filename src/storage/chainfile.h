/* chainfile.h — a static routing snapshot read from a text file (used while no mgmtd runs).
 *
 * Format: one directive per line; '#' starts a comment; blank lines are ignored.
 *   version <u64>                          routing version (default 1)
 *   node <node_id> <ip:port>               a storage node and its RPC address
 *   target <target_id> <node_id> [state]   state: serving (default), syncing, waiting,
 *                                          lastsrv, offline
 *   chain <chain_id> <chain_ver> <t1>[,<t2>...]   members head .. tail
 *   table <table_id> <name> <c1>[,<c2>...]        a chain table (for clients)
 * Every id is >= 1; the snapshot must pass routing_validate() (members exist, each target
 * in at most one chain, member order by state).
 */
#ifndef C3_STORAGE_CHAINFILE_H
#define C3_STORAGE_CHAINFILE_H

#include <stddef.h>

#include "cluster/routing.h"

/* Parse text (NUL-terminated).  Returns a snapshot with one reference, or NULL with *err
 * (-C3FS_ECONFIG, -ENOMEM) and a message "line N: what" in msg. */
struct routing_info *storage_chainfile_parse(const char *text, int *err, char *msg,
					     size_t msgsz);
/* Read and parse a file.  Same contract; -errno when it cannot be read. */
struct routing_info *storage_chainfile_load(const char *path, int *err, char *msg,
					    size_t msgsz);

#endif
