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

/* CRC32 (IEEE 802.3, as zlib's crc32()), used by FFRecord; same chaining rule. */
uint32_t c3_crc32(uint32_t crc, const void *buf, size_t len);

#endif
