/* proto/storage.h — messages of the storage service (types 300-399).
 *
 * The message types, who sends them and their payloads are the table storage.def (which
 * also produces the codec and the names, c3_msg_name()).  In short: WRITE, READ and
 * TRUNCATE are client batches; UPDATE is forwarded along the chain; REMOVE and QUERY_LAST
 * come from meta; DUMP_META, SPACE_INFO and SCRUB from the admin tool; SYNC_DONE and REPAIR
 * between chain members during recovery and repair.
 *
 * Encoding follows net/codec.h (little-endian, fields in the order storage.def lists them,
 * new fields are only ever appended; decoders ignore trailing bytes).  This header and
 * storage.def are append-only.
 *
 * Addressing: every chunk operation names (chain_id, chain_ver, target_id).  target_id is
 * the replica the request is meant for (the head for writes/truncates/removes, any serving
 * replica for reads).  A server whose routing has a newer chain version than chain_ver
 * refuses with -C3FS_ECHAINVER and puts its chain version and routing version in the result
 * (chain_ver, routing_ver) so the caller can refresh.  A write-type request sent to a target
 * that is not the chain head gets -C3FS_ENOTHEAD.
 *
 * Bulk layout:
 *   WRITE request: the data of ios[0], ios[1], ... back to back (sum of ios[i].length bytes).
 *   READ reply:    exactly ios[i].length bytes per io, back to back, whatever the outcome:
 *                  the first results[i].length bytes of slot i are data, the rest of the slot
 *                  is zero (short read at chunk end, hole, or error).  So a client can give
 *                  one resp_bulk iovec per io and never move bytes.
 *   UPDATE request: the data (for STORAGE_UPD_WRITE) — or the whole new chunk contents when
 *                  flags has STORAGE_UPD_F_FULL.
 *
 * Exactly-once: a write/truncate/remove carrying tag.client_id != 0 is remembered by the head
 * per (client_id, channel); a retry with the same seq returns the first result without
 * applying again.  Clients must use each (client_id, channel) for one request at a time and
 * increase seq by at least one per new request.  tag.client_id == 0: no deduplication.
 *
 * Chunk reads: a chunk that does not exist reads as zero bytes (status 0, length 0): a
 * hole.  Reads return only committed data; a corrupt replica answers -C3FS_ECHECKSUM.
 *
 * Memory: decoders of messages with arrays allocate the array (calloc); the caller frees it
 * with the matching *_release(), also after a failed decode (release of a zeroed struct is
 * a no-op).  Decoders return 0, -C3FS_EBADMSG (malformed / out of bounds) or -ENOMEM.
 * Encoders append to a struct c3_buf (errors sticky in buf->err).  No function keeps
 * pointers into the input.  All functions are thread-safe (no shared state).
 */
#ifndef C3_PROTO_STORAGE_H
#define C3_PROTO_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* message types: STORAGE_T_WRITE = 300, ... (storage.def) */
enum storage_msg_type {
#define STORAGE_TYPE(NAME, number, name, req, rsp, doc) STORAGE_T_##NAME = number,
#include "proto/storage.def"
};

/* limits enforced by the decoders (and the server) */
#define STORAGE_CHUNK_SIZE_MAX   (64u << 20)  /* 64 MiB */
#define STORAGE_MAX_BATCH        1024         /* ios per WRITE/READ/TRUNCATE request */
#define STORAGE_MAX_BATCH_BYTES  (128u << 20) /* sum of lengths in one WRITE/READ */
#define STORAGE_MAX_DUMP         4096         /* entries per DUMP_META page */
#define STORAGE_MAX_TARGETS      256          /* targets in a SPACE_INFO reply */
#define STORAGE_INDEX_END        UINT32_MAX   /* "to the last chunk" in REMOVE ranges */

/* Identity of a chunk: chunk number `index` of file `inode`. */
struct storage_chunk_id {
	uint64_t inode;
	uint32_t index;
};

/* Where a request is routed: the chain, the chain version the sender routed with, and the
 * target (replica) that should handle it. */
struct storage_route {
	uint32_t chain_id;
	uint32_t chain_ver;
	uint32_t target_id;
};

/* Exactly-once tag (see above); client_id 0 = none. */
struct storage_tag {
	uint64_t client_id;
	uint32_t channel;
	uint64_t seq;
};

/* The outcome of one chunk operation. */
struct storage_io_result {
	int32_t status;        /* 0 or a negative code */
	uint32_t length;       /* write: bytes written; read: data bytes in the slot;
				* truncate: new chunk length */
	uint64_t commit_ver;   /* the chunk's committed version after the operation (0 = none) */
	uint32_t chunk_len;    /* the chunk's committed length after the operation */
	uint32_t crc;          /* read: CRC32C of the returned data bytes; else 0 */
	uint32_t chain_ver;    /* the server's version of the chain (useful with ECHAINVER) */
	uint64_t routing_ver;  /* the server's routing version (for cluster_client_routing_hint) */
};

/* ---- STORAGE_T_WRITE ---- */
struct storage_write_io {
	struct storage_route route;
	struct storage_chunk_id chunk;
	uint32_t offset;       /* offset in the chunk; offset + length <= chunk_size */
	uint32_t length;       /* bytes of bulk for this io (may be 0) */
	uint32_t chunk_size;   /* the file's chunk size, 1 .. STORAGE_CHUNK_SIZE_MAX */
	uint32_t crc;          /* CRC32C of the io's data, checked by every replica */
	struct storage_tag tag;
};
struct storage_write_req {
	uint32_t nios;
	struct storage_write_io *ios;   /* owned (decode allocates) */
};
/* Reply: one result per io, in order.  Also used by READ and TRUNCATE replies. */
struct storage_batch_rsp {
	uint32_t nresults;
	struct storage_io_result *results; /* owned */
};

/* ---- STORAGE_T_READ ---- */
struct storage_read_io {
	struct storage_route route;
	struct storage_chunk_id chunk;
	uint32_t offset;
	uint32_t length;       /* bytes wanted; offset + length <= STORAGE_CHUNK_SIZE_MAX */
	uint32_t flags;        /* reserved, 0 */
};
struct storage_read_req {
	uint32_t nios;
	struct storage_read_io *ios;    /* owned */
};

/* ---- STORAGE_T_TRUNCATE ---- */
struct storage_truncate_io {
	struct storage_route route;
	struct storage_chunk_id chunk;
	uint32_t length;       /* new chunk length (shrinks or zero-extends), <= chunk_size */
	uint32_t chunk_size;
	uint32_t flags;        /* STORAGE_TRUNC_F_* */
	struct storage_tag tag;
};
#define STORAGE_TRUNC_F_ONLY_EXTEND 1u /* never shrink: a longer chunk stays as it is */
#define STORAGE_TRUNC_F_MASK        1u /* every known flag */
struct storage_truncate_req {
	uint32_t nios;
	struct storage_truncate_io *ios; /* owned */
};

/* ---- STORAGE_T_UPDATE (between chain members) ---- */
enum storage_update_type {
	STORAGE_UPD_WRITE = 1,
	STORAGE_UPD_TRUNCATE = 2,
	STORAGE_UPD_REMOVE = 3,
};
#define STORAGE_UPD_F_FULL 1u  /* bulk replaces the whole chunk (length = new chunk length) */
#define STORAGE_UPD_F_SYNC 2u  /* recovery: set the chunk to exactly this version (FULL write
				* or REMOVE), whatever the receiver holds; not forwarded further */
#define STORAGE_UPD_F_REPAIR 4u /* with FULL|SYNC: a repair of a replica found corrupt or
				 * divergent; the receiver applies it only when its own copy is
				 * marked corrupt (or differs, DIVERGED) and not newer, and never
				 * forwards it */
#define STORAGE_UPD_F_DIVERGED 8u /* with REPAIR: the sender (the receiver's predecessor,
				   * holding its chunk lock) saw the receiver's committed copy
				   * differ from its own: apply whatever the receiver holds */
#define STORAGE_UPD_F_MASK 15u /* every known flag */
struct storage_update_req {
	struct storage_route route;   /* target_id = the successor that should apply it */
	struct storage_chunk_id chunk;
	uint8_t type;                 /* enum storage_update_type */
	uint8_t flags;                /* STORAGE_UPD_F_* */
	uint32_t offset;              /* WRITE: where; TRUNCATE: unused */
	uint32_t length;              /* WRITE: bulk bytes; TRUNCATE: new length */
	uint32_t chunk_size;
	uint64_t update_ver;          /* the version the head assigned, >= 1 */
	uint32_t crc;                 /* CRC32C of the bulk */
	struct storage_tag tag;       /* the client's tag (for logs) */
};
/* Reply: one struct storage_io_result (encoded with storage_io_result_encode). */

/* ---- STORAGE_T_REMOVE ---- */
struct storage_remove_req {
	struct storage_route route;
	uint64_t inode;
	uint32_t begin;               /* first chunk index removed */
	uint32_t end;                 /* one past the last; STORAGE_INDEX_END = all from begin */
	uint32_t max;                 /* at most this many chunks this call (0 = server default) */
	struct storage_tag tag;
};
struct storage_remove_rsp {
	int32_t status;
	uint32_t removed;             /* chunks removed by this call */
	bool more;                    /* chunks are left in the range: call again */
	uint32_t chain_ver;
	uint64_t routing_ver;
};

/* ---- STORAGE_T_QUERY_LAST ---- */
struct storage_query_last_req {
	struct storage_route route;
	uint64_t inode;
};
struct storage_query_last_rsp {
	int32_t status;
	bool found;                   /* the inode has at least one chunk on this chain */
	uint32_t last_index;          /* highest chunk index present */
	uint32_t last_len;            /* its committed length */
	uint32_t nchunks;             /* committed chunks of the inode on this chain */
	uint64_t total_bytes;         /* sum of their lengths */
	uint32_t chain_ver;
	uint64_t routing_ver;
};

/* ---- STORAGE_T_DUMP_META ---- */
struct storage_dump_req {
	uint32_t target_id;
	bool has_after;               /* continue after (after.inode, after.index) */
	struct storage_chunk_id after;
	uint32_t limit;               /* 1 .. STORAGE_MAX_DUMP */
};
struct storage_chunk_meta {
	struct storage_chunk_id chunk;
	uint64_t commit_ver;          /* 0 = nothing committed yet */
	uint64_t pending_ver;         /* 0 = no pending update */
	uint32_t length;              /* committed length */
	uint32_t pending_length;
	uint32_t chunk_size;
	uint32_t chain_ver;           /* chain version of the last commit */
	uint32_t digest;              /* CRC32C over the per-block CRCs of the committed data */
	uint32_t flags;               /* STORAGE_META_F_* */
};
#define STORAGE_META_F_CORRUPT 1u     /* a checksum mismatch was seen on this replica */
struct storage_dump_rsp {
	int32_t status;
	bool more;
	uint32_t nentries;
	struct storage_chunk_meta *entries; /* owned */
};

/* ---- STORAGE_T_SPACE_INFO ---- */
struct storage_target_info {
	uint32_t target_id;
	uint8_t local_state;          /* enum target_local_state (proto/cluster_types.h) */
	uint64_t capacity_bytes;
	uint64_t free_bytes;
	uint64_t nchunks;
	uint64_t used_bytes;          /* sum of committed chunk lengths */
};
struct storage_space_rsp {
	int32_t status;
	uint32_t ntargets;
	struct storage_target_info *targets; /* owned */
};

/* ---- STORAGE_T_SYNC_DONE ---- */
struct storage_sync_done_req {
	struct storage_route route;   /* target_id = the syncing target; chain_ver = the version
				       * the sync ran under (stale: refused with ECHAINVER) */
};
/* Reply: one struct storage_io_result. */

/* ---- STORAGE_T_REPAIR ---- */
struct storage_repair_req {
	struct storage_route route;   /* the member asked (a serving target of the chain) */
	uint32_t dest_target;         /* the asking target, a member of the same chain */
	struct storage_chunk_id chunk;
};
/* Reply: one struct storage_io_result; status 0 once the asking target applied the chunk
 * (or found it needs nothing), -ENOENT when the member has no committed copy,
 * -C3FS_ECHECKSUM when its copy is damaged too. */

/* ---- STORAGE_T_SCRUB ---- */
struct storage_scrub_req {
	uint32_t target_id;           /* a target of the node */
};
/* Reply: no payload; status 0 (a pass starts now, or one is already running),
 * -C3FS_ENOTARGET, -C3FS_ETARGETDOWN. */

/* ---- codec (produced from storage.def) ---- */
void storage_io_result_encode(const struct storage_io_result *r, struct c3_buf *b);
int storage_io_result_decode(const void *p, size_t n, struct storage_io_result *out);

void storage_write_req_encode(const struct storage_write_req *m, struct c3_buf *b);
int storage_write_req_decode(const void *p, size_t n, struct storage_write_req *out);
void storage_write_req_release(struct storage_write_req *m);

void storage_read_req_encode(const struct storage_read_req *m, struct c3_buf *b);
int storage_read_req_decode(const void *p, size_t n, struct storage_read_req *out);
void storage_read_req_release(struct storage_read_req *m);

void storage_truncate_req_encode(const struct storage_truncate_req *m, struct c3_buf *b);
int storage_truncate_req_decode(const void *p, size_t n, struct storage_truncate_req *out);
void storage_truncate_req_release(struct storage_truncate_req *m);

/* Reply of WRITE, READ and TRUNCATE. */
void storage_batch_rsp_encode(const struct storage_batch_rsp *m, struct c3_buf *b);
int storage_batch_rsp_decode(const void *p, size_t n, struct storage_batch_rsp *out);
void storage_batch_rsp_release(struct storage_batch_rsp *m);

void storage_update_req_encode(const struct storage_update_req *m, struct c3_buf *b);
int storage_update_req_decode(const void *p, size_t n, struct storage_update_req *out);

void storage_remove_req_encode(const struct storage_remove_req *m, struct c3_buf *b);
int storage_remove_req_decode(const void *p, size_t n, struct storage_remove_req *out);
void storage_remove_rsp_encode(const struct storage_remove_rsp *m, struct c3_buf *b);
int storage_remove_rsp_decode(const void *p, size_t n, struct storage_remove_rsp *out);

void storage_query_last_req_encode(const struct storage_query_last_req *m, struct c3_buf *b);
int storage_query_last_req_decode(const void *p, size_t n, struct storage_query_last_req *out);
void storage_query_last_rsp_encode(const struct storage_query_last_rsp *m, struct c3_buf *b);
int storage_query_last_rsp_decode(const void *p, size_t n, struct storage_query_last_rsp *out);

void storage_dump_req_encode(const struct storage_dump_req *m, struct c3_buf *b);
int storage_dump_req_decode(const void *p, size_t n, struct storage_dump_req *out);
void storage_dump_rsp_encode(const struct storage_dump_rsp *m, struct c3_buf *b);
int storage_dump_rsp_decode(const void *p, size_t n, struct storage_dump_rsp *out);
void storage_dump_rsp_release(struct storage_dump_rsp *m);

/* SPACE_INFO request has an empty payload. */
void storage_space_rsp_encode(const struct storage_space_rsp *m, struct c3_buf *b);
int storage_space_rsp_decode(const void *p, size_t n, struct storage_space_rsp *out);
void storage_space_rsp_release(struct storage_space_rsp *m);

void storage_sync_done_req_encode(const struct storage_sync_done_req *m, struct c3_buf *b);
int storage_sync_done_req_decode(const void *p, size_t n, struct storage_sync_done_req *out);

void storage_repair_req_encode(const struct storage_repair_req *m, struct c3_buf *b);
int storage_repair_req_decode(const void *p, size_t n, struct storage_repair_req *out);
void storage_scrub_req_encode(const struct storage_scrub_req *m, struct c3_buf *b);
int storage_scrub_req_decode(const void *p, size_t n, struct storage_scrub_req *out);

/* The name of a message type ("write", "read", ...): c3_msg_name() (proto/msg.h). */

#endif
