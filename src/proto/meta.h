/* proto/meta.h — messages of the metadata service (c3fs-meta), types 200-299, and the
 * pure file-layout math shared by the meta service and clients.
 *
 * Wire rules (net/codec.h): fields encoded in declaration order, little-endian; new fields
 * are only ever appended at the end of a message (this header is append-only: numbers and
 * field order never change).  A request's payload is its struct; a reply's payload is its
 * response struct, sent only with status 0 (errors travel as the RPC status: a negative
 * errno or C3FS_E* code).  Operations whose reply is "empty" send an empty payload.
 *
 * Every request starts with struct meta_hdr: the caller's credentials (uid, gid, up to
 * META_MAX_GROUPS supplementary groups), its client id and a request sequence number.
 * (client_id, seq) with seq != 0 makes create/mkdir/mknod/symlink/link/unlink/rmdir/
 * rename/rmtree idempotent: a retry after a lost reply returns the first result (records
 * expire after the server's idem_ttl).  seq must grow per client; 0 = not idempotent.
 *
 * Names on the wire are raw bytes (not NUL-terminated) so the server can answer each bad
 * name with its POSIX error (ENAMETOOLONG, EINVAL, ...): the decoder only bounds them by
 * META_PATH_MAX.  Decoded byte pointers (names, symlink targets, xattr values) borrow from
 * the input buffer and live as long as it does.  Decoders never allocate, except
 * meta_readdir_resp_decode (release with meta_readdir_resp_release).
 *
 * Numbers: modes use the POSIX S_IFMT/permission bit values (identical on every Linux
 * architecture); open flags, setattr masks and rename/xattr flags are this header's own
 * META_* constants.  Times are nanoseconds since the epoch (UTC).
 *
 * Thread safety: all functions are pure (no shared state).
 */
#ifndef C3_PROTO_META_H
#define C3_PROTO_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* ---------------------------------------------------------------- message types */
/* META_T_STATFS = 200, ... (meta.def, the one table of the types and their names) */
enum meta_msg_type {
#define META_TYPE(NAME, number, name, what) META_T_##NAME = number,
#include "proto/meta.def"
};

/* ---------------------------------------------------------------- limits */
#define META_ROOT_INO       1ull   /* same as FUSE_ROOT_ID */
#define META_MAX_GROUPS     64
#define META_NAME_MAX       255    /* bytes in one name */
#define META_PATH_MAX       4096   /* symlink target, and bound of any name on the wire */
#define META_XATTR_NAME_MAX 255
#define META_XATTR_SIZE_MAX 65536  /* one value */
#define META_XATTR_LIST_MAX 65536  /* all names of an inode, NUL-separated */
#define META_READDIR_MAX    4096   /* entries per readdir reply */
#define META_CHUNK_MIN      (64u << 10)
#define META_CHUNK_MAX      (64u << 20)
#define META_CHUNK_DEFAULT  (1u << 20)
#define META_STRIPE_MAX     1024
#define META_RELEASE_MAX    256    /* sessions in one RELEASE */

/* ---------------------------------------------------------------- flags */
/* open/create flags (meta_create_req.flags, meta_open_req.flags) */
#define META_O_READ   0x01u /* opened for reading */
#define META_O_WRITE  0x02u /* opened for writing */
#define META_O_TRUNC  0x04u /* truncate to 0 (needs META_O_WRITE) */
#define META_O_EXCL   0x08u /* create: fail with EEXIST when the name exists */
#define META_O_APPEND 0x10u /* informational */
#define META_O_NOSESSION 0x20u /* do not record a session (e.g. lookup-time open by admin tools) */
#define META_O_DIR    0x40u /* open: the inode must be a directory (else ENOTDIR); a session
                               * is recorded (unless NOSESSION) so a removed directory stays
                               * readable by getattr (nlink 0) until that session is closed */

/* setattr mask (meta_setattr_req.mask) */
#define META_SET_MODE       0x001u
#define META_SET_UID        0x002u
#define META_SET_GID        0x004u
#define META_SET_SIZE       0x008u
#define META_SET_ATIME      0x010u /* atime_ns as given */
#define META_SET_MTIME      0x020u /* mtime_ns as given */
#define META_SET_ATIME_NOW  0x040u /* atime = server's now (UTIME_NOW) */
#define META_SET_MTIME_NOW  0x080u /* mtime = server's now (UTIME_NOW) */
#define META_SET_DYN_STRIPE 0x100u /* files: widen dyn_stripe to at least req.dyn_stripe */
#define META_SET_LAYOUT     0x200u /* directories: default layout for new files */
#define META_SET_ALL        0x3ffu

/* close/sync flags */
#define META_CLOSE_LENGTH 0x1u /* length field is valid: the highest end offset written */
#define META_CLOSE_WROTE  0x2u /* data was written through this session: mtime = now */
#define META_CLOSE_TRUNCVER 0x4u /* truncate_ver is valid: the length was written under it */

/* rename flags (same values as Linux renameat2) */
#define META_RENAME_NOREPLACE 0x1u
#define META_RENAME_EXCHANGE  0x2u

/* setxattr flags (same values as Linux) */
#define META_XATTR_CREATE  0x1u
#define META_XATTR_REPLACE 0x2u

/* access mask (same values as R_OK/W_OK/X_OK; 0 = existence) */
#define META_ACC_R 4u
#define META_ACC_W 2u
#define META_ACC_X 1u

/* ---------------------------------------------------------------- common parts */
struct meta_cred {
	uint32_t uid;
	uint32_t gid;
	uint32_t ngroups;                 /* <= META_MAX_GROUPS */
	uint32_t groups[META_MAX_GROUPS]; /* supplementary groups */
};

/* First member of every request. */
struct meta_hdr {
	struct meta_cred cred;
	uint64_t client_id; /* the client's id (mgmtd node id of the client, or any unique id) */
	uint64_t seq;       /* per-client request sequence for idempotency; 0 = none */
};

/* File layout.  Directories carry a template (base, seed, dyn_stripe unused = 0) that new
 * files below inherit; files carry a concrete one, fixed at creation.
 *
 * Chunk -> chain (meta_layout_chunk_chain): chunk i = bytes [i*chunk_size, (i+1)*chunk_size)
 * lives on chain table position
 *     pos(i) = (base + perm[i % stripe]) % table_nchains
 * where perm is a permutation of 0..stripe-1 produced by meta_layout_perm(): a
 * Fisher-Yates shuffle (for k = stripe-1 down to 1: swap perm[k] with perm[r % (k+1)])
 * driven by splitmix64 seeded with `seed` (r = successive splitmix64 outputs).  The chain
 * id is table->chains[pos].  stripe must not exceed the table's size.
 *
 * Dynamic stripe: because chunk i < stripe goes to perm[i], a file of k chunks touches
 * only its first min(k, stripe) chains of the permuted list; dyn_stripe records how many
 * leading chains may hold chunks (1 at creation, doubled — capped at stripe — whenever a
 * write reaches past dyn_stripe chunks; the client asks with META_SET_DYN_STRIPE before
 * writing chunk index >= dyn_stripe).  The mapping never depends on dyn_stripe; length
 * queries, truncation and GC only visit the first dyn_stripe chains. */
struct meta_layout {
	uint32_t chunk_size;    /* bytes, power of two, META_CHUNK_MIN..META_CHUNK_MAX */
	uint32_t stripe;        /* 1..META_STRIPE_MAX */
	uint32_t table_id;      /* chain table (cluster/routing.h); 0 = no table */
	uint32_t table_version;
	uint32_t base;          /* first table position (taken modulo the table size) */
	uint64_t seed;          /* shuffle seed */
	uint32_t dyn_stripe;    /* files: 1..stripe; directories: 0 */
};

struct meta_attr {
	uint64_t ino;
	uint32_t mode;          /* S_IFMT type | permission bits incl. suid/sgid/sticky */
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
	uint64_t length;        /* files: bytes; symlinks: target length; others 0 */
	uint64_t atime_ns;
	uint64_t mtime_ns;
	uint64_t ctime_ns;
	uint64_t rdev;          /* character and block devices */
	uint64_t parent;        /* directories: parent directory (root: itself); else 0 */
	uint64_t truncate_ver;  /* files: bumped when the length shrinks */
	struct meta_layout layout;
};

/* ---------------------------------------------------------------- requests */
struct meta_statfs_req { struct meta_hdr hdr; };
struct meta_statfs_resp {
	uint64_t total_bytes, free_bytes, avail_bytes;
	uint64_t total_inodes, free_inodes;
	uint32_t bsize;          /* preferred block size (the default chunk size) */
	uint32_t namemax;        /* META_NAME_MAX */
};

/* LOOKUP: search permission on parent, reply meta_attr_resp. */
struct meta_lookup_req {
	struct meta_hdr hdr;
	uint64_t parent;
	const char *name; uint32_t name_len;
};

/* Reply of LOOKUP, GETATTR, SETATTR, MKDIR, MKNOD, SYMLINK, LINK, CLOSE, SYNC.
 * parent (appended; on the wire only when parent.ino != 0, absent = all zero): after an
 * entry change (MKDIR, MKNOD, SYMLINK, LINK) the attributes of the directory that got
 * the entry, as of the change's commit — what a GETATTR of it right after would return
 * unless another change raced with it — so a client need not ask for them again. */
struct meta_attr_resp {
	struct meta_attr attr;
	struct meta_attr parent;
};

struct meta_getattr_req { struct meta_hdr hdr; uint64_t ino; };

struct meta_setattr_req {
	struct meta_hdr hdr;
	uint64_t ino;
	uint32_t mask;          /* META_SET_* */
	uint32_t mode;          /* permission bits (type bits ignored) */
	uint32_t uid, gid;
	uint64_t size;
	uint64_t atime_ns, mtime_ns;
	uint64_t session_id;    /* size change (or kill-priv mode) through an open write session
				 * of the caller's client: no perm check */
	uint32_t dyn_stripe;
	struct meta_layout layout;
};

/* CREATE: regular file; opens it (session) unless META_O_NOSESSION.  When the name exists
 * and META_O_EXCL is not set, this is an open of the existing file (EISDIR for a dir). */
struct meta_create_req {
	struct meta_hdr hdr;
	uint64_t parent;
	const char *name; uint32_t name_len;
	uint32_t mode;          /* permission bits */
	uint32_t umask;         /* applied by the server: mode & ~umask */
	uint32_t flags;         /* META_O_* */
};
/* Reply of CREATE and OPEN.  parent: as in meta_attr_resp, set by a CREATE that made
 * a new entry (an open of an existing file leaves it zero). */
struct meta_open_resp {
	struct meta_attr attr;
	uint64_t session_id;    /* 0 when no session was recorded */
	struct meta_attr parent;
};

struct meta_open_req {
	struct meta_hdr hdr;
	uint64_t ino;
	uint32_t flags;         /* META_O_* (no EXCL) */
};

/* CLOSE ends the session; SYNC reports the length and keeps it. */
struct meta_close_req {
	struct meta_hdr hdr;
	uint64_t ino;
	uint64_t session_id;
	uint32_t flags;         /* META_CLOSE_* */
	uint64_t length;        /* highest end offset written (META_CLOSE_LENGTH) */
	uint64_t truncate_ver;  /* the file's truncate_ver the writer knew (META_CLOSE_TRUNCVER):
				 * a length written before a later truncation is ignored */
};

struct meta_mkdir_req {
	struct meta_hdr hdr;
	uint64_t parent;
	const char *name; uint32_t name_len;
	uint32_t mode, umask;
};

struct meta_mknod_req {
	struct meta_hdr hdr;
	uint64_t parent;
	const char *name; uint32_t name_len;
	uint32_t mode;          /* S_IFREG/S_IFIFO/S_IFSOCK/S_IFCHR/S_IFBLK | perms */
	uint32_t umask;
	uint64_t rdev;
};

struct meta_symlink_req {
	struct meta_hdr hdr;
	uint64_t parent;
	const char *name; uint32_t name_len;
	const char *target; uint32_t target_len; /* 1..META_PATH_MAX-1 bytes */
};

struct meta_readlink_req { struct meta_hdr hdr; uint64_t ino; };
struct meta_readlink_resp { const char *target; uint32_t target_len; };

struct meta_link_req {
	struct meta_hdr hdr;
	uint64_t ino;           /* existing non-directory */
	uint64_t new_parent;
	const char *new_name; uint32_t new_name_len;
};

/* UNLINK and RMDIR. */
struct meta_unlink_req {
	struct meta_hdr hdr;
	uint64_t parent;
	const char *name; uint32_t name_len;
};
/* Reply of UNLINK and RMDIR: the directory's attributes after the removal (see
 * meta_attr_resp.parent).  An empty payload (older servers) decodes as parent.ino = 0. */
struct meta_unlink_resp { struct meta_attr parent; };

struct meta_rename_req {
	struct meta_hdr hdr;
	uint64_t parent;
	const char *name; uint32_t name_len;
	uint64_t new_parent;
	const char *new_name; uint32_t new_name_len;
	uint32_t flags;         /* META_RENAME_* */
};

/* READDIR: entries with name > cursor (byte order), at most limit (<= META_READDIR_MAX;
 * 0 = server default).  The next call passes the last returned name as cursor.  "." and
 * ".." are not returned (the client synthesizes them). */
struct meta_readdir_req {
	struct meta_hdr hdr;
	uint64_t ino;
	const char *cursor; uint32_t cursor_len; /* empty = from the start */
	uint32_t limit;
	bool plus;              /* fill attr of each entry */
};
struct meta_dirent {
	const char *name; uint32_t name_len;
	uint64_t ino;
	uint32_t type;          /* S_IFMT bits of the entry */
	struct meta_attr attr;  /* only with plus */
};
struct meta_readdir_resp {
	uint32_t count;
	struct meta_dirent *entries; /* decode: calloc'd array, names borrow from the input */
	bool more;              /* more entries after the last one */
	bool plus;              /* entries carry attrs */
};

struct meta_getxattr_req {
	struct meta_hdr hdr;
	uint64_t ino;
	const char *name; uint32_t name_len;
};
struct meta_getxattr_resp { const uint8_t *value; uint32_t value_len; };

struct meta_setxattr_req {
	struct meta_hdr hdr;
	uint64_t ino;
	const char *name; uint32_t name_len;
	const uint8_t *value; uint32_t value_len;
	uint32_t flags;         /* META_XATTR_* */
};

/* LISTXATTR reply: names each followed by a NUL, like listxattr(2). */
struct meta_listxattr_req { struct meta_hdr hdr; uint64_t ino; };
struct meta_listxattr_resp { const char *names; uint32_t names_len; };

/* REMOVEXATTR uses meta_getxattr_req (empty reply). */

/* RMTREE: remove parent/name and everything below it.  The server removes entries
 * deepest first in batches (one transaction each, at most meta.rmtree_batch entries) until
 * the tree is gone or about half the call's deadline is spent; then it replies
 * done=false and the client repeats the same call (with a new seq) until done.  removed
 * counts the entries this call removed.  Every entry is checked as unlink/rmdir would be
 * for the caller (write+search on its directory, sticky rule, read+search to list a
 * directory); a refusal fails the call with its error and removes nothing of the batch
 * it happened in (earlier batches stay removed, as with rm -rf). */
struct meta_rmtree_req {
	struct meta_hdr hdr;
	uint64_t parent;
	const char *name; uint32_t name_len;
};
struct meta_rmtree_resp { uint64_t removed; bool done; };

struct meta_access_req { struct meta_hdr hdr; uint64_t ino; uint32_t mask; };

/* RELEASE: end the listed sessions of the caller's client, all in one transaction, with
 * no length report: what a client sends for handles closed without unreported writes
 * (read-only opens, files created or opened and never written, written files whose
 * length was already reported), collected over a short while.  Sessions that do not
 * exist (any more) or belong to another client are skipped.  Empty reply. */
struct meta_sess_ref { uint64_t ino, session_id; };
struct meta_release_req {
	struct meta_hdr hdr;
	uint32_t count;         /* 1..META_RELEASE_MAX */
	struct meta_sess_ref sessions[META_RELEASE_MAX];
};

/* RENEW and PRUNE carry only the header. */
struct meta_client_req { struct meta_hdr hdr; };
struct meta_renew_resp { uint64_t session_timeout_ms; };

/* ---------------------------------------------------------------- codec
 * encode: appends to out (errors sticky in out->err).
 * decode: returns 0 or -C3FS_EBADMSG (counts, lengths and enums validated; pointers borrow
 * from p). */
#define META_CODEC(T)                                                                   \
	void meta_##T##_encode(const struct meta_##T *m, struct c3_buf *out);           \
	int meta_##T##_decode(const void *p, size_t n, struct meta_##T *m)
META_CODEC(statfs_req);
META_CODEC(statfs_resp);
META_CODEC(lookup_req);
META_CODEC(attr_resp);
META_CODEC(getattr_req);
META_CODEC(setattr_req);
META_CODEC(create_req);
META_CODEC(open_resp);
META_CODEC(open_req);
META_CODEC(close_req);
META_CODEC(mkdir_req);
META_CODEC(mknod_req);
META_CODEC(symlink_req);
META_CODEC(readlink_req);
META_CODEC(readlink_resp);
META_CODEC(link_req);
META_CODEC(unlink_req);
META_CODEC(unlink_resp);
META_CODEC(rename_req);
META_CODEC(readdir_req);
META_CODEC(readdir_resp);
META_CODEC(getxattr_req);
META_CODEC(getxattr_resp);
META_CODEC(setxattr_req);
META_CODEC(listxattr_req);
META_CODEC(listxattr_resp);
META_CODEC(rmtree_req);
META_CODEC(rmtree_resp);
META_CODEC(access_req);
META_CODEC(client_req);
META_CODEC(renew_resp);
META_CODEC(release_req);
#undef META_CODEC

/* Free the entries array of a decoded readdir reply (names are borrowed, not freed). */
void meta_readdir_resp_release(struct meta_readdir_resp *m);

/* Parts, for other messages that embed them. */
void meta_attr_encode(const struct meta_attr *a, struct c3_buf *out);
struct c3_dec;
void meta_attr_decode(struct c3_dec *d, struct meta_attr *a);
void meta_layout_encode(const struct meta_layout *l, struct c3_buf *out);
void meta_layout_decode(struct c3_dec *d, struct meta_layout *l);

/* The name of a META_T_* type: c3_msg_name() (proto/msg.h). */

/* ---------------------------------------------------------------- layout math */
/* 0 when the layout is usable for a file (chunk size a power of two within bounds,
 * 1 <= stripe <= META_STRIPE_MAX, 1 <= dyn_stripe <= stripe), else -C3FS_EBADLAYOUT.
 * is_file=false checks a directory template (base/seed/dyn_stripe ignored). */
int meta_layout_check(const struct meta_layout *l, bool is_file);

/* splitmix64 step: advances *state and returns the next output (the layout PRNG). */
uint64_t meta_splitmix64(uint64_t *state);

/* Fill perm[0..stripe) with the layout's permutation (see struct meta_layout). */
void meta_layout_perm(const struct meta_layout *l, uint32_t *perm);

/* Table position (0 <= pos < table_nchains) of chunk chunk_index.  O(stripe) per call;
 * callers mapping many chunks compute meta_layout_perm once and use
 * meta_layout_pos_from_perm.  Returns -C3FS_EBADLAYOUT when stripe > table_nchains or
 * table_nchains == 0. */
int64_t meta_layout_chunk_pos(const struct meta_layout *l, uint32_t table_nchains,
			      uint64_t chunk_index);
static inline uint32_t meta_layout_pos_from_perm(const struct meta_layout *l,
						 const uint32_t *perm, uint32_t table_nchains,
						 uint64_t chunk_index)
{
	return (uint32_t)(((uint64_t)l->base + perm[chunk_index % l->stripe]) % table_nchains);
}

/* Chain id of a chunk given the chain table's chain ids (routing_chain_table.chains).
 * Returns the chain id (> 0) or -C3FS_EBADLAYOUT. */
int64_t meta_layout_chunk_chain(const struct meta_layout *l, const uint32_t *table_chains,
				uint32_t table_nchains, uint64_t chunk_index);

/* dyn_stripe needed to write up to end offset end_off: doubles from cur until it covers
 * ceil(end_off / chunk_size) chunks, capped at stripe. */
uint32_t meta_layout_dyn_needed(const struct meta_layout *l, uint32_t cur, uint64_t end_off);

#endif
