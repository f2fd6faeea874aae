/* crc32c.h — CRC32C (Castagnoli), hardware-accelerated through ISA-L.
 *
 * c3_crc32c(0, buf, len) is the standard CRC32C of buf ("123456789" -> 0xE3069283).
 * Passing a previous result as crc continues the checksum over more bytes:
 *   c3_crc32c(c3_crc32c(0, a, n), b, m) == c3_crc32c(0, a||b, n+m).
 */
#ifndef C3_CRC32C_H
#define C3_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t c3_crc32c(uint32_t crc, const void *buf, size_t len);

/* The CRC32C of a||b from crc_a = c3_crc32c(0, a, ...) and crc_b = c3_crc32c(0, b, len_b),
 * without the bytes: crc_a "shifted" over len_b zero bits, then crc_b added (GF(2)).
 * For a run of equal-length pieces, c3_crc32c_shift_op(len_b) once and
 * c3_crc32c_combine_op() per piece.  About 32 steps each, whatever the lengths. */
uint32_t c3_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
uint32_t c3_crc32c_shift_op(uint64_t len);
uint32_t c3_crc32c_combine_op(uint32_t op, uint32_t crc_a, uint32_t crc_b);

/* CRC32 (IEEE 802.3, as zlib's crc32()), used by FFRecord; same chaining rule. */
uint32_t c3_crc32(uint32_t crc, const void *buf, size_t len);

#endif
