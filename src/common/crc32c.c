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

/* Combining.  A CRC register is a polynomial over GF(2) of degree < 32, kept reflected:
 * bit 31 holds the coefficient of x^0, bit 0 that of x^31.  Appending n zero bytes to a
 * message multiplies its register by x^(8n) modulo the Castagnoli polynomial P; the pre-
 * and post-inversion of the standard CRC cancel out in the combination, so
 * crc(a||b) = crc(a) * x^(8|b|) mod P  +  crc(b). */
#define CRC32C_P_REFLECTED 0x82f63b78u
#define CRC32C_X0 0x80000000u /* the polynomial 1 */

/* a * b mod P: walk a's terms from x^0 up, keeping b * x^k mod P. */
static uint32_t crc32c_mulmod(uint32_t a, uint32_t b)
{
	uint32_t r = 0;

	for (uint32_t bit = CRC32C_X0; bit; bit >>= 1) {
		if (a & bit)
			r ^= b;
		b = (b & 1) ? (b >> 1) ^ CRC32C_P_REFLECTED : b >> 1; /* b *= x */
	}
	return r;
}

uint32_t c3_crc32c_shift_op(uint64_t len)
{
	uint32_t r = CRC32C_X0;      /* x^0 */
	uint32_t sq = CRC32C_X0 >> 8; /* x^8: one byte */

	/* x^(8 len) by squaring: sq runs through x^(8 * 2^k) */
	for (; len; len >>= 1) {
		if (len & 1)
			r = crc32c_mulmod(r, sq);
		sq = crc32c_mulmod(sq, sq);
	}
	return r;
}

uint32_t c3_crc32c_combine_op(uint32_t op, uint32_t crc_a, uint32_t crc_b)
{
	return crc32c_mulmod(op, crc_a) ^ crc_b;
}

uint32_t c3_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
	return c3_crc32c_combine_op(c3_crc32c_shift_op(len_b), crc_a, crc_b);
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
