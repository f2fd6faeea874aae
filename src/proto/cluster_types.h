/* proto/cluster_types.h — the cluster's vocabulary that messages carry: node types and
 * states, target states, the routing limits, a storage target's heartbeat report and a
 * user (with its codec).  Kept in proto so that the mgmtd messages (proto/mgmtd.h) need no
 * header of src/cluster, which builds on them (routing snapshots, the mgmtd client, users
 * and tokens: cluster/routing.h, cluster/client.h, cluster/users.h).
 * Thread safety: all functions are pure.
 */
#ifndef C3_PROTO_CLUSTER_TYPES_H
#define C3_PROTO_CLUSTER_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct c3_buf;
struct c3_dec;

#define ROUTING_ADDR_MAX 48      /* "ip:port" + NUL */
#define ROUTING_MAX_REPLICAS 8
#define ROUTING_MAX_NODES 4096
#define ROUTING_MAX_TARGETS 65536
#define ROUTING_MAX_CHAINS 65536
#define ROUTING_MAX_TABLES 256

enum node_type { NODE_MGMTD = 1, NODE_META = 2, NODE_STORAGE = 3, NODE_CLIENT = 4 };
enum node_state { NODE_UP = 1, NODE_DOWN = 2, NODE_MAINTENANCE = 3 };

enum target_state {
	TARGET_SERVING = 1,
	TARGET_SYNCING = 2,
	TARGET_WAITING = 3,
	TARGET_LASTSRV = 4,
	TARGET_OFFLINE = 5,
};

/* What a storage node reports for each of its targets in a heartbeat. */
enum target_local_state {
	TARGET_LOCAL_UNKNOWN = 0,  /* never reported, or the node's lease expired */
	TARGET_LOCAL_UPTODATE = 1, /* has all committed data it was told about */
	TARGET_LOCAL_ONLINE = 2,   /* running, contents may be stale (after restart) */
	TARGET_LOCAL_FAILED = 3,   /* disk/dir unusable */
};

/* One target's report in a storage heartbeat. */
struct cluster_target_report {
	uint32_t target_id;
	uint8_t local_state;     /* enum target_local_state */
	uint64_t capacity_bytes;
	uint64_t free_bytes;
	uint64_t sync_done_bytes, sync_total_bytes; /* recovery progress, 0 when idle */
	/* Appended (a trailer of the heartbeat: older mgmtd ignore it, a heartbeat without it
	 * decodes as zeros).  Data safety of this target since the process started: */
	uint64_t corrupt_found;     /* chunks found corrupt (checksum, missing bytes) */
	uint64_t corrupt_repaired;  /* chunks replaced whole from a good replica after that */
	uint64_t scrub_last_ms;     /* wall clock of the last full scrub pass's end, 0 = none */
	/* The recovery sync this target (a predecessor) runs for its SYNCING successor: mgmtd
	 * attributes these to sync_target (0 = no sync running). */
	uint32_t sync_target;
	uint64_t out_done_chunks, out_total_chunks, out_done_bytes, out_total_bytes;
	uint64_t out_rate_bps;      /* bytes/s since the sync started */
	/* I/O served since the storage process started (reads; chunk updates applied) */
	uint64_t read_bytes, read_ops, write_bytes, write_ops;
};

#define CLUSTER_USER_NAME_MAX  64   /* with the NUL */
#define CLUSTER_USER_GROUPS    16   /* extra groups per user */
#define CLUSTER_TOKEN_HEX      64   /* hex digits of a token */
#define CLUSTER_TOKEN_HASH     32   /* SHA-256 */
#define CLUSTER_MAX_USERS      65536

struct cluster_user {
	uint32_t uid, gid;
	char name[CLUSTER_USER_NAME_MAX];  /* [A-Za-z0-9._-], 1..63 characters */
	uint32_t ngroups;
	uint32_t groups[CLUSTER_USER_GROUPS];
	bool root, admin;
	uint8_t hash[CLUSTER_TOKEN_HASH];  /* SHA-256 of the token text; zero when not sent */
};

/* A valid user name?  (1..63 of [A-Za-z0-9._-], not starting with '-') */
bool cluster_user_name_ok(const char *name);
/* Codec of one user (net/codec.h); with_hash false sends a zero hash (user lists shown to
 * operators).  decode returns 0 or -C3FS_EBADMSG (bad name, too many groups). */
void cluster_user_encode(const struct cluster_user *u, bool with_hash, struct c3_buf *out);
int cluster_user_decode(struct c3_dec *d, struct cluster_user *u);

/* A list: u32 count, then the users.  decode mallocs *users (NULL when n == 0). */
void cluster_users_encode(const struct cluster_user *users, uint32_t n, bool with_hash,
			  struct c3_buf *out);
int cluster_users_decode(struct c3_dec *d, struct cluster_user **users, uint32_t *n);

#endif
