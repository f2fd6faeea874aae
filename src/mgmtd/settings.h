/* settings.h — live configuration kept by mgmtd (docs/OPERATIONS.md "Live configuration").
 *
 * KV records (next to store.h's; values in the net/codec.h encoding):
 *   "mgmtd/cfg/version"                 u64, grows with every change of any setting
 *   "mgmtd/cfg/type/"   + be32 type     str: "section.key=value" lines for a node type
 *   "mgmtd/cfg/node/"   + be32 node id  str: lines for one node (override its type's)
 *   "mgmtd/cfg/schema/" + be32 type     str: the key table a daemon of the type sent
 *                                       (config.h, c3_cfg_render_schema)
 * A setting is stored only when the type's schema knows the key, the value parses with the
 * key's type and range, and the key is reloadable: what is stored can always be applied.
 * Writes check the leader lease in the same transaction (like store.c).
 */
#ifndef C3_MGMTD_SETTINGS_H
#define C3_MGMTD_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

struct kv_db;

/* The current version (0 = nothing was ever set).  Returns 0 or a KV error. */
int mgmtd_settings_version(struct kv_db *db, uint64_t *version);

/* Settings of a node of `type` (node_id 0: the type's own): the type's lines with the
 * node's lines replacing or adding to them, sorted; and the type's schema ("" if none).
 * *settings and *schema are malloc'd.  Returns 0, -ENOMEM or a KV error. */
int mgmtd_settings_get(struct kv_db *db, uint8_t type, uint32_t node_id, uint64_t *version,
		       char **settings, char **schema);

/* Store the schema a daemon of `type` sent, when it differs from the stored one.  Returns
 * 0, -C3FS_ECONFIG (malformed schema), -C3FS_ENOTLEADER or a KV error. */
int mgmtd_settings_put_schema(struct kv_db *db, uint64_t instance, uint64_t now_wall_ms,
			      uint8_t type, const char *schema);

/* Validate and store assignments ("section.key=value" lines; "section.key=" removes a
 * stored setting) for a type (node_id 0) or one node, all or nothing, and bump the
 * version.  Returns 0 with *version, or -C3FS_ECONFIG with err (unknown key, bad value,
 * not reloadable, no schema known for the type), -C3FS_ENOTLEADER, -ENOMEM, a KV error. */
int mgmtd_settings_set(struct kv_db *db, uint64_t instance, uint64_t now_wall_ms,
		       uint8_t type, uint32_t node_id, const char *assignments,
		       uint64_t *version, char *err, size_t errlen);

#endif
