/* fuzz_codec.c — libFuzzer target for the message codec decoder (src/net/codec.h).
 *
 * Input: a program byte count n (first byte), then n opcodes, then the message bytes.
 * Each opcode decodes one field (u8/u16/u32/u64/i32/i64/bool/bytes/str/count) from the
 * message, the way a generated message decoder would.  Checks beyond ASan/UBSan:
 *   - the decoder never moves outside [start, end]; after an error every read returns
 *     zero/NULL and the error stays set (sticky);
 *   - every field decoded without error, encoded again in the same order, reproduces the
 *     consumed prefix of the input byte for byte (decode and encode agree).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "net/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct c3_buf re = C3_BUF_INIT;
	struct c3_dec d;
	const uint8_t *ops, *msg;
	uint8_t *copy;
	size_t nops, msglen;

	if (size == 0)
		return 0;
	nops = data[0];
	if (nops > size - 1)
		nops = size - 1;
	ops = data + 1;
	msg = ops + nops;
	msglen = size - 1 - nops;
	copy = malloc(msglen ? msglen : 1);
	if (!copy)
		return 0;
	memcpy(copy, msg, msglen);
	c3_dec_init(&d, copy, msglen);
	for (size_t i = 0; i < nops; i++) {
		int err_before = d.err;
		uint8_t op = ops[i] % 10;
		size_t max = (size_t)(ops[i] >> 4) * 7; /* also exercises small bounds */

		switch (op) {
		case 0: {
			uint8_t v = c3_dec_u8(&d);

			if (!d.err)
				c3_enc_u8(&re, v);
			else if (v)
				abort();
			break;
		}
		case 1: {
			uint16_t v = c3_dec_u16(&d);

			if (!d.err)
				c3_enc_u16(&re, v);
			else if (v)
				abort();
			break;
		}
		case 2: {
			uint32_t v = c3_dec_u32(&d);

			if (!d.err)
				c3_enc_u32(&re, v);
			else if (v)
				abort();
			break;
		}
		case 3: {
			uint64_t v = c3_dec_u64(&d);

			if (!d.err)
				c3_enc_u64(&re, v);
			else if (v)
				abort();
			break;
		}
		case 4:
			c3_enc_i32(&re, c3_dec_i32(&d));
			break;
		case 5:
			c3_enc_i64(&re, c3_dec_i64(&d));
			break;
		case 6: {
			bool v = c3_dec_bool(&d);

			if (!d.err)
				c3_enc_bool(&re, v);
			break;
		}
		case 7: {
			size_t n;
			const uint8_t *p = c3_dec_bytes(&d, max, &n);

			if (!d.err) {
				if (n > max || (n && (p < copy || p + n > copy + msglen)))
					abort();
				c3_enc_bytes(&re, p, n);
			} else if (p || n) {
				abort();
			}
			break;
		}
		case 8: {
			char s[64];

			c3_dec_str(&d, s, max < sizeof(s) ? max + 1 : sizeof(s));
			if (!d.err) {
				if (strlen(s) >= sizeof(s))
					abort();
				c3_enc_str(&re, s);
			} else if (s[0]) {
				abort();
			}
			break;
		}
		case 9: {
			uint32_t n = c3_dec_count(&d, (uint32_t)max * 100, (size_t)(ops[i] & 3));

			if (!d.err)
				c3_enc_u32(&re, n);
			else if (n)
				abort();
			break;
		}
		}
		if (err_before && !d.err)
			abort(); /* errors are sticky */
		if (d.p < copy || d.p > copy + msglen || d.end != copy + msglen)
			abort();
		if (d.err)
			break; /* the fields after an error are not comparable */
	}
	if (!d.err) {
		size_t used = (size_t)(d.p - copy);

		if (re.err || re.len != used || (used && memcmp(re.data, copy, used) != 0))
			abort();
	}
	c3_buf_release(&re);
	free(copy);
	return 0;
}
