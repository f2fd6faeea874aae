/* fuzz_frame.c — libFuzzer target for the RPC frame header decoder (src/net/frame.c).
 *
 * Input: 8 bytes of limits (max_payload, max_bulk, little-endian) then the bytes offered
 * to the decoder.  Checks beyond "no crash, no read past the input" (ASan):
 *   - a header that decodes re-encodes to exactly the same 36 bytes;
 *   - decoded lengths respect the limits; the status is 0 or negative, and 0 in requests;
 *   - the result never depends on bytes past the 36th (the decoder reads only the header).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "net/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t max_payload = RPC_MAX_PAYLOAD_DEFAULT, max_bulk = RPC_MAX_BULK_DEFAULT;
	struct rpc_frame f, g;
	uint8_t *copy, re[RPC_HEADER_BYTES];
	int rc, rc2;

	if (size >= 8) {
		max_payload = get32(data);
		max_bulk = get32(data + 4);
		data += 8;
		size -= 8;
	}
	/* exact-size heap copy so ASan sees any read past the end */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	rc = rpc_frame_decode(copy, size, max_payload, max_bulk, &f);
	if (size < RPC_HEADER_BYTES && rc != -C3FS_EBADFRAME)
		abort();
	if (rc != 0 && rc != -C3FS_EBADFRAME && rc != -C3FS_EVERSION && rc != -C3FS_ETOOBIG)
		abort();
	if (rc == 0) {
		if (f.payload_len > max_payload || f.bulk_len > max_bulk || f.status > 0 ||
		    (!(f.flags & RPC_FLAG_RESPONSE) && f.status != 0) ||
		    f.version != RPC_PROTO_VERSION || (f.flags & ~RPC_FLAGS_KNOWN))
			abort();
		rpc_frame_encode(&f, re);
		if (memcmp(re, copy, RPC_HEADER_BYTES) != 0)
			abort();
		/* only the 36 header bytes matter */
		rc2 = rpc_frame_decode(copy, RPC_HEADER_BYTES, max_payload, max_bulk, &g);
		if (rc2 != 0 || f.version != g.version || f.flags != g.flags || f.type != g.type ||
		    f.id != g.id || f.payload_len != g.payload_len || f.bulk_len != g.bulk_len ||
		    f.status != g.status || f.timeout_ms != g.timeout_ms)
			abort();
	}
	free(copy);
	return 0;
}
