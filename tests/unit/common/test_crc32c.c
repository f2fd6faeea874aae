/* CRC32C and CRC32 against published check values, and chaining. */
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "tests/lib/tap.h"

int main(void)
{
	static const char check[] = "123456789";
	uint8_t zeros[32], ones[32], inc[32];
	uint8_t big[100000];

	memset(zeros, 0, sizeof(zeros));
	memset(ones, 0xff, sizeof(ones));
	for (int i = 0; i < 32; i++)
		inc[i] = (uint8_t)i;
	/* RFC 3720 appendix B.4 and the CRC catalogue check value */
	is_int(c3_crc32c(0, check, 9), 0xE3069283u, "crc32c check value");
	is_int(c3_crc32c(0, zeros, 32), 0x8A9136AAu, "crc32c 32 zero bytes (RFC 3720)");
	is_int(c3_crc32c(0, ones, 32), 0x62A8AB43u, "crc32c 32 0xff bytes (RFC 3720)");
	is_int(c3_crc32c(0, inc, 32), 0x46DD794Eu, "crc32c 0..31 (RFC 3720)");
	is_int(c3_crc32c(0, "", 0), 0, "crc32c of nothing");
	is_int(c3_crc32(0, check, 9), 0xCBF43926u, "crc32 check value");
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	is_int(c3_crc32c(c3_crc32c(0, big, 12345), big + 12345, sizeof(big) - 12345),
	       c3_crc32c(0, big, sizeof(big)), "crc32c chains");
	is_int(c3_crc32(c3_crc32(0, big, 777), big + 777, sizeof(big) - 777),
	       c3_crc32(0, big, sizeof(big)), "crc32 chains");
	/* combining from the pieces' CRCs alone, at every split and for runs of blocks */
	{
		static const size_t cuts[] = { 0, 1, 3, 8, 9, 100, 4096, 12345, 65536, 99999,
					       100000 };
		int bad = 0;
		uint32_t op = c3_crc32c_shift_op(4096), run;

		for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
			size_t k = cuts[i];

			if (c3_crc32c_combine(c3_crc32c(0, big, k), c3_crc32c(0, big + k,
									       sizeof(big) - k),
					      sizeof(big) - k) != c3_crc32c(0, big, sizeof(big)))
				bad++;
		}
		is_int(bad, 0, "crc32c_combine(crc(a), crc(b), |b|) == crc(a||b) at 11 cuts");
		run = c3_crc32c(0, big, 4096);
		for (size_t off = 4096; off + 4096 <= 24 * 4096; off += 4096)
			run = c3_crc32c_combine_op(op, run, c3_crc32c(0, big + off, 4096));
		is_int(run, c3_crc32c(0, big, 24 * 4096), "24 blocks of 4 KiB combined by one operator");
		is_int(c3_crc32c_combine(0x12345678u, 0, 0), 0x12345678u, "nothing appended");
	}
	return tap_done();
}
