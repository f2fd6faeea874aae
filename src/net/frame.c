/* frame.c — frame header encode/decode; see frame.h for the layout and the checks. */
#include "net/frame.h"

#include "common/crc32c.h"
#include "common/errors.h"

static void frame_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void frame_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t frame_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t frame_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

void rpc_frame_encode(const struct rpc_frame *f, uint8_t *out)
{
	frame_put_u32(out, RPC_FRAME_MAGIC);
	out[4] = f->version;
	out[5] = f->flags;
	frame_put_u16(out + 6, f->type);
	frame_put_u32(out + 8, (uint32_t)f->id);
	frame_put_u32(out + 12, (uint32_t)(f->id >> 32));
	frame_put_u32(out + 16, f->payload_len);
	frame_put_u32(out + 20, f->bulk_len);
	frame_put_u32(out + 24, (uint32_t)f->status);
	frame_put_u32(out + 28, f->timeout_ms);
	frame_put_u32(out + 32, c3_crc32c(0, out, 32));
}

int rpc_frame_decode(const uint8_t *p, size_t n, uint32_t max_payload, uint32_t max_bulk,
		     struct rpc_frame *out)
{
	if (n < RPC_HEADER_BYTES)
		return -C3FS_EBADFRAME;
	if (frame_get_u32(p) != RPC_FRAME_MAGIC)
		return -C3FS_EBADFRAME;
	if (frame_get_u32(p + 32) != c3_crc32c(0, p, 32))
		return -C3FS_EBADFRAME;
	out->version = p[4];
	out->flags = p[5];
	out->type = frame_get_u16(p + 6);
	out->id = (uint64_t)frame_get_u32(p + 8) | ((uint64_t)frame_get_u32(p + 12) << 32);
	out->payload_len = frame_get_u32(p + 16);
	out->bulk_len = frame_get_u32(p + 20);
	out->status = (int32_t)frame_get_u32(p + 24);
	out->timeout_ms = frame_get_u32(p + 28);
	if (out->version != RPC_PROTO_VERSION)
		return -C3FS_EVERSION;
	if (out->flags & ~RPC_FLAGS_KNOWN)
		return -C3FS_EBADFRAME;
	if (out->status > 0 || (!(out->flags & RPC_FLAG_RESPONSE) && out->status != 0))
		return -C3FS_EBADFRAME;
	if (out->payload_len > max_payload || out->bulk_len > max_bulk)
		return -C3FS_ETOOBIG;
	return 0;
}
