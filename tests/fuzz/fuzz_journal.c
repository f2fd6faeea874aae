/* fuzz_journal.c — libFuzzer target for the journal record payload decoder of the chunk
 * engine (src/storage/journal.c, via chunk_int.h): what replay at open reads from a log
 * record whose CRC32C matched.
 *
 * Input: the payload (format byte, then ops).  Checks beyond ASan/UBSan: a payload that
 * decodes re-encodes to one that decodes to the same bytes again, and that re-encoding is
 * byte-identical to the input (the format has one spelling per op list).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "storage/chunk_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct c3_buf b1 = C3_BUF_INIT, b2 = C3_BUF_INIT;
	uint8_t *copy = malloc(size ? size : 1); /* exact size: ASan sees overreads */

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (chunk_journal_reencode(copy, size, &b1) == 0 && !b1.err) {
		if (chunk_journal_reencode(b1.data, b1.len, &b2) != 0 || b2.err)
			abort(); /* the encoding of a decoded payload does not decode */
		if (b2.len != b1.len || memcmp(b1.data, b2.data, b1.len) != 0)
			abort(); /* decode and encode disagree */
		if (b1.len != size || memcmp(b1.data, copy, size) != 0)
			abort(); /* the same ops, spelled differently */
	}
	c3_buf_release(&b1);
	c3_buf_release(&b2);
	free(copy);
	return 0;
}
