/* fuzz_chunk_rec.c — libFuzzer target for the chunk-version record decoder of the chunk
 * engine (the LMDB value under a chunk key, src/storage/chunk.c, via chunk_int.h).
 *
 * Input: a mode byte, then the record.  Even mode: the record bytes as they are (a damaged
 * or hostile metadata file).  Odd mode: the record without its trailing CRC32C, which the
 * target appends, so mutations reach the field checks behind the checksum.  Checks beyond
 * ASan/UBSan: a record that decodes re-encodes to one that decodes too and encodes to the
 * same bytes again (the decoder accepts only what the encoder can express), and that
 * re-encoding is byte-identical to the input when the input is exactly as long.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/crc32c.h"
#include "storage/chunk_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct c3_buf b1 = C3_BUF_INIT, b2 = C3_BUF_INIT;
	uint8_t *copy;
	uint32_t crc;

	if (size == 0)
		return 0;
	if (data[0] % 2) {
		/* exact-size heap copy (ASan sees overreads), the checksum appended */
		copy = malloc(size + 3);
		if (!copy)
			return 0;
		memcpy(copy, data + 1, size - 1);
		crc = c3_crc32c(0, copy, size - 1);
		for (int i = 0; i < 4; i++)
			copy[size - 1 + i] = (uint8_t)(crc >> (8 * i));
		size += 3;
	} else {
		copy = malloc(size - 1 ? size - 1 : 1);
		if (!copy)
			return 0;
		memcpy(copy, data + 1, size - 1);
		size -= 1;
	}
	if (chunk_rec_reencode(copy, size, &b1) == 0 && !b1.err) {
		if (chunk_rec_reencode(b1.data, b1.len, &b2) != 0 || b2.err)
			abort(); /* the encoding of a decoded record does not decode */
		if (b2.len != b1.len || memcmp(b1.data, b2.data, b1.len) != 0)
			abort(); /* decode and encode disagree */
		if (b1.len == size && memcmp(b1.data, copy, size) != 0)
			abort(); /* the same fields, spelled differently */
	}
	c3_buf_release(&b1);
	c3_buf_release(&b2);
	free(copy);
	return 0;
}
