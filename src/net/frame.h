/* frame.h — the 36-byte RPC frame header: encode, decode, validate.
 *
 * Layout (little-endian, offsets in bytes):
 *    0 u32 magic 0x53463343 ("C3FS" as bytes 43 33 46 53)
 *    4 u8  version (RPC_PROTO_VERSION)
 *    5 u8  flags   (RPC_FLAG_RESPONSE; every other bit is reserved and must be 0)
 *    6 u16 type
 *    8 u64 request id
 *   16 u32 payload_len
 *   20 u32 bulk_len
 *   24 i32 status       (0 in requests; 0 or a negative code in responses)
 *   28 u32 timeout_ms   (requests: how long the caller waits; 0 = no deadline)
 *   32 u32 crc32c of bytes 0..31
 * Followed by payload_len payload bytes, then bulk_len bulk bytes.
 *
 * The decoder treats its input as hostile: it checks, in this order, the magic and the
 * header checksum (-C3FS_EBADFRAME), the version (-C3FS_EVERSION), the reserved flag bits
 * (-C3FS_EBADFRAME), a response status that is not 0 or negative (-C3FS_EBADFRAME) and the
 * lengths against the caller's limits (-C3FS_ETOOBIG).  It never reads past n bytes.
 * Pure functions: thread-safe, no allocation.
 */
#ifndef C3_NET_FRAME_H
#define C3_NET_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "net/rpc.h"

#define RPC_FRAME_MAGIC 0x53463343u
#define RPC_PROTO_VERSION 1
#define RPC_FLAG_RESPONSE 0x01u
#define RPC_FLAGS_KNOWN RPC_FLAG_RESPONSE
/* Handler table size: message types 1..RPC_TYPE_MAX can be registered. */
#define RPC_TYPE_MAX 1023

/* A decoded header (the checksum is not kept: it is recomputed by the encoder). */
struct rpc_frame {
	uint8_t version;
	uint8_t flags;
	uint16_t type;
	uint64_t id;
	uint32_t payload_len;
	uint32_t bulk_len;
	int32_t status;
	uint32_t timeout_ms;
};

/* Write f into out (RPC_HEADER_BYTES bytes), computing the checksum.  f->version is
 * written as given (callers set RPC_PROTO_VERSION). */
void rpc_frame_encode(const struct rpc_frame *f, uint8_t *out);

/* Decode and validate the header in p[0..n).  n < RPC_HEADER_BYTES is -C3FS_EBADFRAME
 * (a caller reading a stream waits for 36 bytes first).  Returns 0 with *out filled, or a
 * negative code (see above) with *out unspecified. */
int rpc_frame_decode(const uint8_t *p, size_t n, uint32_t max_payload, uint32_t max_bulk,
		     struct rpc_frame *out);

#endif
