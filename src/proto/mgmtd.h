/* proto/mgmtd.h — mgmtd messages (types 100-199) and their codec.
 *
 * Every request goes to the mgmtd leader.  A standby answers any of them with status
 * -C3FS_ENOTLEADER and a struct mgmtd_redirect payload naming the leader's address ("" when
 * it does not know one); cluster_mgmtd_call() (cluster/client.h) follows it.
 *
 * Protocol of a node (storage, meta, client):
 *   1. MGMTD_T_REGISTER with a fresh random incarnation per process start.  A storage or
 *      meta node names its configured node_id; a client may send 0 and gets one assigned.
 *      When mgmtd already knows the node with another incarnation, it first treats the old
 *      incarnation as failed (its targets' local states become UNKNOWN, chains are
 *      reconfigured and persisted), and only then accepts the new one.  So a restarted
 *      storage node never re-enters a chain as SERVING: its targets come back as WAITING,
 *      then SYNCING.  A new incarnation from a *different* address while the known one is
 *      alive is refused with -EEXIST (two processes configured with one node id).
 *   2. MGMTD_T_HEARTBEAT every heartbeat_ms with (node_id, incarnation) and, for storage,
 *      one report per target: local state, capacity, free space, sync progress.  An
 *      unknown node or a stale incarnation is answered -C3FS_ELEASE: register again.
 *      The reply carries the routing version; fetch with MGMTD_T_GET_ROUTING when newer.
 *   3. The lease: mgmtd considers a node alive until lease_ms after its last heartbeat;
 *      then the node is DOWN and its targets count as offline.  The node itself stops
 *      serving when it has had no acknowledged heartbeat for lease_ms / 2 (see client.h),
 *      i.e. well before mgmtd moves its targets out of the serving part of a chain.
 *
 * Sync completion (how a returning target becomes SERVING again): mgmtd moves a WAITING
 * target to SYNCING (at most one per chain); the storage node syncs it from its
 * predecessor and then reports the target's local state as TARGET_LOCAL_UPTODATE; mgmtd
 * turns SYNCING + UPTODATE into SERVING.  While syncing, the node reports ONLINE; the
 * progress comes from the predecessor, whose report of its own target names the syncing
 * target (sync_target) with done/total chunks and bytes and the rate (the heartbeat's
 * trailer, cluster/client.h); mgmtd shows it on the syncing target.  A node that fills
 * sync_done_bytes / sync_total_bytes of its own report is still believed.
 *
 * Admin requests (150-199) start with the admin token; a wrong or missing token is
 * answered -C3FS_EADMIN.  Read-only requests (routing, list-nodes, leader) need only the
 * cluster token of the connection.
 *
 * Codec rules: net/codec.h.  Decoders validate ranges; decoded strings are copied into
 * the fixed arrays below; arrays are malloc'd and freed by the matching _release().
 * The implementation is proto/mgmtd.c; the types of the cluster it carries (node and
 * target states, reports, users) are proto/cluster_types.h, so this header needs nothing
 * of src/cluster (which builds on it).
 */
#ifndef C3_PROTO_MGMTD_H
#define C3_PROTO_MGMTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "proto/cluster_types.h"

/* MGMTD_T_REGISTER = 100, ... (mgmtd.def, the one table of the types and their names):
 * 100-149 node requests, 150-199 admin requests (users and tokens: "users" below). */
enum mgmtd_msg_type {
#define MGMTD_TYPE(NAME, number, name, what) MGMTD_T_##NAME = number,
#include "proto/mgmtd.def"
};

#define MGMTD_TOKEN_MAX    256
#define MGMTD_HOSTNAME_MAX 64
#define MGMTD_VERSION_MAX 32             /* a program's release (common/version.h) */
#define MGMTD_MAX_REPORTS  4096    /* targets per storage node */
#define MGMTD_MAX_LIST     (ROUTING_MAX_NODES * 4)

/* Payload of a -C3FS_ENOTLEADER reply. */
struct mgmtd_redirect {
	char leader[ROUTING_ADDR_MAX];   /* "" = leader unknown right now */
};

struct mgmtd_register_req {
	uint8_t node_type;               /* enum node_type, not NODE_MGMTD */
	uint32_t node_id;                /* 0 = assign (clients) */
	char addr[ROUTING_ADDR_MAX];     /* RPC address, "" for pure clients */
	uint64_t incarnation;            /* random, non-zero, fresh per process start */
	char hostname[MGMTD_HOSTNAME_MAX];
	uint32_t pid;
	char version[MGMTD_VERSION_MAX]; /* the program's release; "" = not told */
};

struct mgmtd_register_resp {
	uint32_t node_id;                /* assigned or confirmed */
	uint32_t lease_ms;               /* mgmtd's lease length */
	uint32_t heartbeat_ms;           /* suggested heartbeat interval */
	uint64_t routing_version;
};

struct mgmtd_heartbeat_req {
	uint32_t node_id;
	uint64_t incarnation;
	uint64_t seq;                    /* increasing per incarnation; older ones are ignored */
	uint64_t routing_version;        /* what the node holds */
	uint32_t nreports;
	struct cluster_target_report *reports; /* malloc'd by the decoder */
};

struct mgmtd_heartbeat_resp {
	uint64_t routing_version;
	uint32_t lease_ms;
	uint64_t config_version;         /* appended: live configuration version (0 if absent) */
	uint64_t users_version;          /* appended: user table version (0 if absent) */
};

struct mgmtd_get_routing_req {
	uint64_t known_version;          /* 0 = always send the body */
};

/* Reply: the version, and the routing body (routing_encode, cluster/routing.h) only when
 * newer than known_version.  Decoded into a snapshot by mgmtd_get_routing_resp_decode()
 * of cluster/routing.h. */

struct mgmtd_leader_resp {
	char leader[ROUTING_ADDR_MAX];   /* "" = unknown */
	char self[ROUTING_ADDR_MAX];     /* the answering mgmtd's address */
	bool self_is_leader;
	uint64_t lease_left_ms;          /* how long the leader's KV lease still runs */
};

/* One entry of MGMTD_T_LIST_NODES (request payload empty). */
struct mgmtd_node_entry {
	uint32_t node_id;
	uint8_t type;                    /* enum node_type */
	uint8_t state;                   /* enum node_state */
	char addr[ROUTING_ADDR_MAX];
	char hostname[MGMTD_HOSTNAME_MAX];
	uint32_t pid;
	uint64_t incarnation;
	uint64_t heartbeat_age_ms;       /* UINT64_MAX = none since this mgmtd took over */
	char version[MGMTD_VERSION_MAX]; /* as registered; "" = unknown */
};

struct mgmtd_list_nodes_resp {
	uint32_t n;
	struct mgmtd_node_entry *nodes;  /* malloc'd by the decoder */
};

/* Create a chain table, or add chains to an existing one (new table version).
 * Targets: the given ids, or (ntargets == 0) every storage target not yet in a chain.
 * Chains are formed deterministically: targets sorted by (node id, target id), then each
 * chain takes `replicas` targets from distinct nodes, the nodes with the most unused
 * targets first.  Targets that cannot complete a chain on distinct nodes stay unused
 * (targets_unused in the reply).  -EINVAL when not even one chain can be formed; -EBUSY
 * when a listed target is already in a chain; -ENOENT for an unknown target or when no
 * unused target exists.  Nothing is created on error. */
struct mgmtd_create_table_req {
	char admin_token[MGMTD_TOKEN_MAX];
	uint32_t table_id;               /* 0 = next free id */
	char name[64];
	uint32_t replicas;               /* 1..ROUTING_MAX_REPLICAS */
	uint32_t ntargets;
	uint32_t *targets;               /* malloc'd by the decoder */
};

struct mgmtd_create_table_resp {
	uint32_t table_id;
	uint32_t table_version;
	uint32_t nchains_added;
	uint64_t routing_version;
	uint32_t targets_unused;         /* candidates left out (appended field: 0 if absent) */
};

/* offline-node / online-node: state NODE_MAINTENANCE or NODE_UP.  A node in maintenance
 * keeps heartbeating but its targets count as offline. */
struct mgmtd_set_node_state_req {
	char admin_token[MGMTD_TOKEN_MAX];
	uint32_t node_id;
	uint8_t state;
};

/* remove-node: forget a storage or meta node and its targets.  Refused with -EBUSY while
 * the node is alive, -ENOTEMPTY while one of its targets is in a chain. */
struct mgmtd_remove_node_req {
	char admin_token[MGMTD_TOKEN_MAX];
	uint32_t node_id;
};

/* set-target-state: OFFLINE takes the target out of its chain until set otherwise (an
 * admin hold); SERVING lifts the hold and, for a SYNCING/WAITING target whose node reports
 * it alive, declares it up to date (it becomes SERVING).  Other states: -EINVAL. */
struct mgmtd_set_target_state_req {
	char admin_token[MGMTD_TOKEN_MAX];
	uint32_t target_id;
	uint8_t state;
};

/* A chain's membership (admin; for moving replicas, `c3fs-admin rebalance`):
 *   MGMTD_CHAIN_ADD     an unused target (in no chain) whose node holds no member of the
 *                       chain joins it at the tail as OFFLINE; the chain rules then make it
 *                       SYNCING (its predecessor sends it every chunk) and SERVING.
 *                       -EBUSY (target in a chain), -EEXIST (its node already in the
 *                       chain), -ENOSPC (chain full: ROUTING_MAX_REPLICAS).
 *   MGMTD_CHAIN_REMOVE  a member leaves; refused (-EBUSY) unless every other member is
 *                       SERVING (so no acknowledged write depends on it).  It becomes an
 *                       unused target; its chunks stay on its disk until it joins a chain
 *                       again (the sync removes what the chain does not hold).
 * -ENOENT: no such chain or target; -EINVAL: (remove) not a member of that chain. */
#define MGMTD_CHAIN_ADD    1
#define MGMTD_CHAIN_REMOVE 2
struct mgmtd_chain_member_req {
	char admin_token[MGMTD_TOKEN_MAX];
	uint32_t chain_id;
	uint32_t target_id;
	uint8_t op;                      /* MGMTD_CHAIN_ADD or MGMTD_CHAIN_REMOVE */
};

/* rotate-lastsrv: for a chain waiting on a LASTSRV target that will not come back (its
 * disk is lost), give up on it: it becomes OFFLINE at the tail and the next member becomes
 * LASTSRV (and SERVING if alive) — the data only the old LASTSRV had is lost.  -EINVAL
 * when the chain has no LASTSRV member or only one member. */
struct mgmtd_rotate_lastsrv_req {
	char admin_token[MGMTD_TOKEN_MAX];
	uint32_t chain_id;
};

/* ---- live configuration (docs/OPERATIONS.md "Live configuration") ----
 * mgmtd keeps "section.key=value" settings per node type and per node, and one version
 * that grows with every change; heartbeat replies carry it.  A daemon whose applied
 * version differs sends MGMTD_T_GET_CONFIG with its key table (schema: config.h,
 * c3_cfg_render_schema), which mgmtd keeps to validate MGMTD_T_SET_CONFIG for that type:
 * an unknown key, a bad value or a key that is not reloadable refuses the whole request
 * with -C3FS_ECONFIG and the reason as the reply payload (mgmtd_error_text_decode). */
#define MGMTD_CONFIG_MAX (64 * 1024)  /* settings or schema text */

struct mgmtd_get_config_req {
	uint8_t node_type;               /* enum node_type; 0 = the type of node_id */
	uint32_t node_id;                /* 0 = the type's settings only */
	char *schema;                    /* sender's key table; "" = none (admin); malloc'd */
};

struct mgmtd_get_config_resp {
	uint64_t version;
	uint8_t node_type;
	char *settings;                  /* the type's lines, then the node's; malloc'd */
	char *schema;                    /* the schema mgmtd holds for the type, or "" */
};

struct mgmtd_set_config_req {
	char admin_token[MGMTD_TOKEN_MAX];
	uint8_t node_type;               /* 0 = the type of node_id */
	uint32_t node_id;                /* 0 = for every node of the type */
	char *assignments;               /* "section.key=value" lines; "section.key=" with
					  * nothing after '=' removes a stored setting */
};

void mgmtd_get_config_req_encode(const struct mgmtd_get_config_req *m, struct c3_buf *out);
int mgmtd_get_config_req_decode(const void *p, size_t n, struct mgmtd_get_config_req *m);
void mgmtd_get_config_req_release(struct mgmtd_get_config_req *m);
void mgmtd_get_config_resp_encode(const struct mgmtd_get_config_resp *m, struct c3_buf *out);
int mgmtd_get_config_resp_decode(const void *p, size_t n, struct mgmtd_get_config_resp *m);
void mgmtd_get_config_resp_release(struct mgmtd_get_config_resp *m);
void mgmtd_set_config_req_encode(const struct mgmtd_set_config_req *m, struct c3_buf *out);
int mgmtd_set_config_req_decode(const void *p, size_t n, struct mgmtd_set_config_req *m);
void mgmtd_set_config_req_release(struct mgmtd_set_config_req *m);
/* The reason text of a refused request (payload of an error reply); "" when none. */
void mgmtd_error_text_decode(const void *p, size_t n, char *out, size_t outsz);

/* Reply of the admin requests that only change state. */
struct mgmtd_admin_resp {
	uint64_t routing_version;
};

/* Encoders append to out (errors sticky in out->err).  Decoders return 0 or
 * -C3FS_EBADMSG / -ENOMEM; on failure nothing needs releasing. */
void mgmtd_redirect_encode(const struct mgmtd_redirect *m, struct c3_buf *out);
int mgmtd_redirect_decode(const void *p, size_t n, struct mgmtd_redirect *m);

void mgmtd_register_req_encode(const struct mgmtd_register_req *m, struct c3_buf *out);
int mgmtd_register_req_decode(const void *p, size_t n, struct mgmtd_register_req *m);
void mgmtd_register_resp_encode(const struct mgmtd_register_resp *m, struct c3_buf *out);
int mgmtd_register_resp_decode(const void *p, size_t n, struct mgmtd_register_resp *m);

void mgmtd_heartbeat_req_encode(const struct mgmtd_heartbeat_req *m, struct c3_buf *out);
int mgmtd_heartbeat_req_decode(const void *p, size_t n, struct mgmtd_heartbeat_req *m);
void mgmtd_heartbeat_req_release(struct mgmtd_heartbeat_req *m);
void mgmtd_heartbeat_resp_encode(const struct mgmtd_heartbeat_resp *m, struct c3_buf *out);
int mgmtd_heartbeat_resp_decode(const void *p, size_t n, struct mgmtd_heartbeat_resp *m);

void mgmtd_get_routing_req_encode(const struct mgmtd_get_routing_req *m, struct c3_buf *out);
int mgmtd_get_routing_req_decode(const void *p, size_t n, struct mgmtd_get_routing_req *m);
/* Encodes version and, when body != NULL, the already-encoded routing bytes. */
void mgmtd_get_routing_resp_encode(uint64_t version, const struct c3_buf *body,
				   struct c3_buf *out);
/* The reply's parts: *version and, when the reply has a body, *body (borrowed from p) and
 * its length; *body NULL when not newer.  0 or -C3FS_EBADMSG. */
int mgmtd_get_routing_resp_split(const void *p, size_t n, uint64_t *version,
				  const uint8_t **body, size_t *body_len);

void mgmtd_leader_resp_encode(const struct mgmtd_leader_resp *m, struct c3_buf *out);
int mgmtd_leader_resp_decode(const void *p, size_t n, struct mgmtd_leader_resp *m);

void mgmtd_list_nodes_resp_encode(const struct mgmtd_list_nodes_resp *m, struct c3_buf *out);
int mgmtd_list_nodes_resp_decode(const void *p, size_t n, struct mgmtd_list_nodes_resp *m);
void mgmtd_list_nodes_resp_release(struct mgmtd_list_nodes_resp *m);

void mgmtd_create_table_req_encode(const struct mgmtd_create_table_req *m, struct c3_buf *out);
int mgmtd_create_table_req_decode(const void *p, size_t n, struct mgmtd_create_table_req *m);
void mgmtd_create_table_req_release(struct mgmtd_create_table_req *m);
void mgmtd_create_table_resp_encode(const struct mgmtd_create_table_resp *m,
				    struct c3_buf *out);
int mgmtd_create_table_resp_decode(const void *p, size_t n, struct mgmtd_create_table_resp *m);

void mgmtd_set_node_state_req_encode(const struct mgmtd_set_node_state_req *m,
				     struct c3_buf *out);
int mgmtd_set_node_state_req_decode(const void *p, size_t n,
				    struct mgmtd_set_node_state_req *m);
void mgmtd_set_target_state_req_encode(const struct mgmtd_set_target_state_req *m,
				       struct c3_buf *out);
int mgmtd_set_target_state_req_decode(const void *p, size_t n,
				      struct mgmtd_set_target_state_req *m);
void mgmtd_rotate_lastsrv_req_encode(const struct mgmtd_rotate_lastsrv_req *m,
				     struct c3_buf *out);
int mgmtd_rotate_lastsrv_req_decode(const void *p, size_t n,
				    struct mgmtd_rotate_lastsrv_req *m);
void mgmtd_remove_node_req_encode(const struct mgmtd_remove_node_req *m, struct c3_buf *out);
void mgmtd_chain_member_req_encode(const struct mgmtd_chain_member_req *m, struct c3_buf *out);
int mgmtd_chain_member_req_decode(const void *p, size_t n, struct mgmtd_chain_member_req *m);
int mgmtd_remove_node_req_decode(const void *p, size_t n, struct mgmtd_remove_node_req *m);
void mgmtd_admin_resp_encode(const struct mgmtd_admin_resp *m, struct c3_buf *out);
int mgmtd_admin_resp_decode(const void *p, size_t n, struct mgmtd_admin_resp *m);

/* ---- users (docs/OPERATIONS.md "Users and tokens", cluster/users.h) ----
 * mgmtd keeps the users with the SHA-256 of their tokens and one version that grows with
 * every change; heartbeat replies carry it (users_version).  A meta node whose table has
 * another version fetches it with MGMTD_T_GET_USERS (hashes included; only registered
 * meta nodes get an answer, others -EPERM).  The admin requests carry the admin token
 * (or the token of a user with the admin flag); user-list never carries hashes.
 * Errors: user-add -EEXIST (uid or name taken), -EINVAL (bad name, uid 0 is allowed);
 * user-remove / token-rotate -ENOENT (unknown uid). */
struct mgmtd_get_users_req {
	uint32_t node_id;                /* the asking meta node */
	uint64_t known_version;
};

struct mgmtd_users_resp {              /* GET_USERS and USER_LIST */
	uint64_t version;
	uint32_t n;
	struct cluster_user *users;      /* malloc'd by the decoder; hashes zero in USER_LIST */
};

struct mgmtd_user_add_req {            /* USER_ADD (u.hash = the new token's hash) and
					* TOKEN_ROTATE (u.uid and u.hash only) */
	char admin_token[MGMTD_TOKEN_MAX];
	struct cluster_user u;
};

struct mgmtd_user_remove_req {         /* USER_REMOVE (uid) and USER_LIST (uid unused) */
	char admin_token[MGMTD_TOKEN_MAX];
	uint32_t uid;
};

void mgmtd_get_users_req_encode(const struct mgmtd_get_users_req *m, struct c3_buf *out);
int mgmtd_get_users_req_decode(const void *p, size_t n, struct mgmtd_get_users_req *m);
void mgmtd_users_resp_encode(const struct mgmtd_users_resp *m, bool with_hash,
			     struct c3_buf *out);
int mgmtd_users_resp_decode(const void *p, size_t n, struct mgmtd_users_resp *m);
void mgmtd_users_resp_release(struct mgmtd_users_resp *m);
void mgmtd_user_add_req_encode(const struct mgmtd_user_add_req *m, struct c3_buf *out);
int mgmtd_user_add_req_decode(const void *p, size_t n, struct mgmtd_user_add_req *m);
void mgmtd_user_remove_req_encode(const struct mgmtd_user_remove_req *m, struct c3_buf *out);
int mgmtd_user_remove_req_decode(const void *p, size_t n, struct mgmtd_user_remove_req *m);

#endif
