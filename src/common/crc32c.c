/* crc32c.c — CRC32C and CRC32 via ISA-L (SSE4.2/PCLMUL paths chosen at run time).
 * ISA-L's crc32_iscsi() takes the raw register (no final inversion), so the standard
 * pre- and post-inversion is done here; lengths above INT_MAX are fed in pieces. */
#include "common/crc32c.h"

#include <isa-l/crc.h>
#include <limits.h>

uint32_t c3_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t r = ~crc;

	while (len > 0) {
		int n = len > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)len;

		r = crc32_iscsi((unsigned char *)p, n, r);
		p += n;
		len -= (size_t)n;
	}
	return ~r;
}

uint32_t c3_crc32(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		uint64_t n = len > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : len;

		crc = crc32_gzip_refl(crc, p, n);
		p += n;
		len -= n;
	}
	return crc;
}
