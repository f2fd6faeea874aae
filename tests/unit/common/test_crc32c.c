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
	return tap_done();
}
