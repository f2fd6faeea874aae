/* meta/meta.h — the metadata service core: POSIX namespace operations as KV transactions.
 *
 * A struct meta_svc wraps a struct kv_db (borrowed) and runs every operation of
 * proto/meta.h as one kv_run transaction (rmtree: a bounded series, see proto/meta.h).
 * It keeps no namespace state in memory: any number of services may share one KV (e.g.
 * PostgreSQL) and stay correct, because every check and every update happens inside the
 * serializable transaction.  The only process state is a batch of pre-allocated ids.
 *
 * The RPC layer (server.c) and the unit tests call the meta_op_* functions directly with
 * decoded requests.  Every op returns 0 or a negative code (errno or C3FS_E*), fills the
 * response only on success, and never keeps pointers into the request.
 *
 * Storage side effects (removing chunks of deleted files, truncating chunks, asking the
 * real length of a file written by several clients) go through struct meta_hooks and
 * always happen outside transactions.  Without hooks (no storage cluster known) the
 * service behaves as if files had no chunks.
 *
 * Threads: all functions are thread-safe; ops may run concurrently on many threads.
 */
#ifndef C3_META_META_H
#define C3_META_META_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "kv/kv.h"
#include "proto/meta.h"

/* Storage side effects; every callback may be NULL.  Called from op and GC threads without
 * locks held; must be thread-safe.  Return 0 or a negative code. */
struct meta_hooks {
	/* Remove every chunk of inode ino on the chains of layout (its first dyn_stripe
	 * chains). */
	int (*remove_chunks)(void *arg, uint64_t ino, const struct meta_layout *layout);
	/* Shrink the file's chunks to new_length bytes (chunks past it removed, the last one
	 * truncated). */
	int (*truncate_chunks)(void *arg, uint64_t ino, const struct meta_layout *layout,
			       uint64_t new_length);
	/* The real length of the file as stored on the chains (max over chains of the end of
	 * the last chunk). */
	int (*query_length)(void *arg, uint64_t ino, const struct meta_layout *layout,
			    uint64_t *length);
	/* Size of chain table table_id (0 = unknown); used to clamp a new file's stripe. */
	uint32_t (*table_size)(void *arg, uint32_t table_id, uint32_t *version);
	/* Cluster capacity for statfs; -ENOENT = unknown. */
	int (*space)(void *arg, uint64_t *total_bytes, uint64_t *free_bytes);
	/* Is client client_id alive according to the cluster (mgmtd)?  1 yes, 0 no/unknown. */
	int (*client_alive)(void *arg, uint64_t client_id);
	void *arg;
};

struct meta_svc_opts {
	uint32_t node_id;               /* this service's node id (log lines, id shard salt) */
	uint32_t root_mode;             /* permission bits of a newly created root; 0755 */
	struct meta_layout default_layout; /* root directory's template for new files */
	uint64_t idem_ttl_ms;           /* idempotency records kept this long; 30 min */
	uint64_t session_timeout_ms;    /* sessions of clients silent this long expire; 5 min */
	uint64_t rmtree_batch;          /* entries removed per rmtree transaction; 1000 */
	uint32_t link_max;              /* nlink bound (EMLINK) of files and directories; 65000 */
	uint64_t dir_grace_ms;          /* a removed directory's inode (nlink 0) is kept this
					 * long for open handles of clients that hold no
					 * directory session (META_O_DIR); 5 min */
	struct meta_hooks hooks;
	/* Wall clock in ns for times and expiry; NULL = c3_wall_ns.  Tests inject one. */
	uint64_t (*clock_ns)(void *arg);
	void *clock_arg;
};

struct meta_svc;

/* Fill opts with the defaults above (default layout: 1 MiB chunks, stripe 1, table 1). */
void meta_svc_opts_default(struct meta_svc_opts *opts);

/* Create the service on db (borrowed; must outlive the service).  Creates the root
 * directory if the store has none.  Returns 0 or a negative code with nothing to free. */
int meta_svc_new(struct kv_db *db, const struct meta_svc_opts *opts, struct meta_svc **out);
void meta_svc_free(struct meta_svc *svc);

/* ------------------------------------------------------------------ operations */
int meta_op_statfs(struct meta_svc *svc, const struct meta_statfs_req *req,
		   struct meta_statfs_resp *resp);
int meta_op_lookup(struct meta_svc *svc, const struct meta_lookup_req *req,
		   struct meta_attr_resp *resp);
int meta_op_getattr(struct meta_svc *svc, const struct meta_getattr_req *req,
		    struct meta_attr_resp *resp);
int meta_op_setattr(struct meta_svc *svc, const struct meta_setattr_req *req,
		    struct meta_attr_resp *resp);
int meta_op_create(struct meta_svc *svc, const struct meta_create_req *req,
		   struct meta_open_resp *resp);
int meta_op_open(struct meta_svc *svc, const struct meta_open_req *req,
		 struct meta_open_resp *resp);
/* close ends the session (a missing session is not an error: it may have expired);
 * sync (close=false) keeps it. */
int meta_op_close(struct meta_svc *svc, const struct meta_close_req *req, bool close,
		  struct meta_attr_resp *resp);
int meta_op_mkdir(struct meta_svc *svc, const struct meta_mkdir_req *req,
		  struct meta_attr_resp *resp);
int meta_op_mknod(struct meta_svc *svc, const struct meta_mknod_req *req,
		  struct meta_attr_resp *resp);
int meta_op_symlink(struct meta_svc *svc, const struct meta_symlink_req *req,
		    struct meta_attr_resp *resp);
/* resp->target points into *store (caller-owned, released by the caller). */
int meta_op_readlink(struct meta_svc *svc, const struct meta_readlink_req *req,
		     struct meta_readlink_resp *resp, struct c3_buf *store);
int meta_op_link(struct meta_svc *svc, const struct meta_link_req *req,
		 struct meta_attr_resp *resp);
/* resp (may be NULL) receives the directory's attributes after the removal. */
int meta_op_unlink(struct meta_svc *svc, const struct meta_unlink_req *req,
		   struct meta_unlink_resp *resp);
int meta_op_rmdir(struct meta_svc *svc, const struct meta_unlink_req *req,
		  struct meta_unlink_resp *resp);
int meta_op_rename(struct meta_svc *svc, const struct meta_rename_req *req);
/* resp->entries is one malloc'd block (entries then names): release with
 * meta_readdir_resp_release (which frees it). */
int meta_op_readdir(struct meta_svc *svc, const struct meta_readdir_req *req,
		    struct meta_readdir_resp *resp);
int meta_op_getxattr(struct meta_svc *svc, const struct meta_getxattr_req *req,
		     struct meta_getxattr_resp *resp, struct c3_buf *store);
int meta_op_setxattr(struct meta_svc *svc, const struct meta_setxattr_req *req);
int meta_op_listxattr(struct meta_svc *svc, const struct meta_listxattr_req *req,
		      struct meta_listxattr_resp *resp, struct c3_buf *store);
int meta_op_removexattr(struct meta_svc *svc, const struct meta_getxattr_req *req);
/* Runs batches until the tree is gone or max_ms passed (then resp->done = false). */
int meta_op_rmtree(struct meta_svc *svc, const struct meta_rmtree_req *req, uint64_t max_ms,
		   struct meta_rmtree_resp *resp);
int meta_op_access(struct meta_svc *svc, const struct meta_access_req *req);
int meta_op_renew(struct meta_svc *svc, const struct meta_client_req *req,
		  struct meta_renew_resp *resp);
int meta_op_prune(struct meta_svc *svc, const struct meta_client_req *req);
/* End the listed sessions of req->hdr.client_id in one transaction (others skipped). */
int meta_op_release(struct meta_svc *svc, const struct meta_release_req *req);

/* ------------------------------------------------------------------ background work */
struct meta_gc_stats {
	uint64_t files_removed;     /* inodes whose chunks and metadata were deleted */
	uint64_t files_busy;        /* queued inodes skipped: still open */
	uint64_t dirs_removed;      /* removed directories' inodes deleted */
	uint64_t dirs_waiting;      /* removed directories kept: open or in their grace period */
	uint64_t sessions_expired;
	uint64_t idem_expired;
	uint64_t cuts_done;         /* pending truncate cuts done by GC */
	uint64_t cuts_dropped;      /* pending cuts dropped: file gone or grown since */
	uint64_t errors;
};

/* One pass of garbage collection: expire sessions of silent clients, delete queued
 * inodes without sessions (chunks first, through hooks.remove_chunks), retry pending
 * truncate cuts, drop expired idempotency records.  Bounded work per call (at most `max` items of each kind).
 * Safe to run on several services at once. */
int meta_gc_run(struct meta_svc *svc, int max, struct meta_gc_stats *st);

/* The trash (trash.c): /trash (root's, 1777) made when missing; items of
 * /trash/<uid>/ named "<expiry epoch s>.<deleted epoch s>.<unique>" removed (as root,
 * rm -rf) once their expiry has passed. */
struct meta_trash_stats {
	uint64_t items_removed;     /* expired trash items removed */
	uint64_t entries_removed;   /* entries they held (files, dirs, ...) */
	uint64_t errors;
};
int meta_trash_ensure(struct meta_svc *svc);
int meta_trash_clean(struct meta_svc *svc, uint64_t now_s, struct meta_trash_stats *st);
/* Expiry (epoch s) of a trash item name, 0 when the name is not a trash item's. */
uint64_t meta_trash_item_expiry(const char *name, uint32_t len);

/* Counts for tests and statfs: queued inodes (GC queue length). */
int meta_gc_queue_len(struct meta_svc *svc, uint64_t *n);

#endif
