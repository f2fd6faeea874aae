/* store.h — mgmtd's persistent layout in the KV (kv/kv.h).
 *
 * Keys (ASCII prefix, big-endian ids so ranges sort numerically):
 *   "mgmtd/lease"                   leader lease (lease.h)
 *   "mgmtd/version"                 u64 routing version
 *   "mgmtd/next_client"             u32 next client node id
 *   "mgmtd/node/"   + be32 id       u8 type, bool maintenance, str addr, str hostname,
 *                                   u64 incarnation, u32 pid   (storage and meta nodes;
 *                                   pid absent in older records)
 *   "mgmtd/target/" + be32 id       u32 node, u32 chain, u8 public state, bool admin hold
 *   "mgmtd/chain/"  + be32 id       u32 version, u32 n, u32 targets[n] (chain order)
 *   "mgmtd/table/"  + be32 id       u32 version, str name, u32 n, u32 chains[n]
 * Values use the net/codec.h encoding; new fields are appended.
 *
 * mgmtd_store_load() validates every record (a corrupt one is an error naming its key,
 * never a crash) and the loaded whole (it must form a valid routing snapshot).
 * mgmtd_store_save() writes the records marked dirty, the version and the client counter
 * in the caller's transaction, after checking that the caller still holds the lease.
 */
#ifndef C3_MGMTD_STORE_H
#define C3_MGMTD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "mgmtd/state.h"

struct kv_db;
struct kv_txn;

/* The KV key prefix + be32 id into buf (at least strlen(prefix) + 4 bytes; every caller's
 * is 32); returns its length.  The records of mgmtd (nodes, targets, chains, tables,
 * settings, users) are keyed so. */
size_t mgmtd_store_key(uint8_t *buf, const char *prefix, uint32_t id);

/* A u64 version counter stored under key (settings, users): its value (0 when absent),
 * or the next value written in txn.  0, -C3FS_EBADMSG (corrupt value) or a KV error. */
int mgmtd_store_version_get(struct kv_txn *txn, const char *key, uint64_t *version);
int mgmtd_store_version_bump(struct kv_txn *txn, const char *key, uint64_t *version);

/* Load everything into st (initialized, empty).  Returns 0, -C3FS_EBADMSG (corrupt
 * record: err names it), -ENOMEM or a KV error.  On error st may hold part of the data:
 * release it. */
int mgmtd_store_load(struct kv_db *db, struct mgmtd_state *st, char *err, size_t errlen);

/* Write st's dirty records in one transaction that first checks the lease of `instance`
 * (0 = no lease check, for tests and tools).  Returns 0, -C3FS_ENOTLEADER, or a KV
 * error; nothing is written on failure, and dirty flags are left for the caller. */
int mgmtd_store_save(struct kv_db *db, struct mgmtd_state *st, uint64_t instance,
		     uint64_t now_wall_ms);

#endif
