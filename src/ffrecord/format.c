/* format.c — the FFRecord layout: error text, CRC-32, header and index validation.
 *
 * Everything here is a pure function of bytes already in memory, so the fuzz target
 * (tests/fuzz/fuzz_ffrecord.c) drives it without files.  Invariant on success of
 * ffr__header_parse + ffr__index_check: 12 + 12N <= file_size, offsets[0] = 12 + 12N,
 * offsets non-decreasing, offsets[N-1] <= file_size; so every sample's [offset, offset +
 * size) lies inside the file and sizes never underflow.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "ffrecord/ffr_int.h"

static __thread char ffr__msg[1024];

int ffr__err(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ffr__msg, sizeof(ffr__msg), fmt, ap);
	va_end(ap);
	return code;
}

void ffr__err_clear(void)
{
	ffr__msg[0] = '\0';
}

const char *c3fs_ffr_errmsg(void)
{
	return ffr__msg;
}

const char *c3fs_ffr_strerror(int code)
{
	if (code < 0)
		code = -code;
	switch (code) {
	case 0: return "success";
	case EBADMSG: return "not a valid FFRecord file";
	case EILSEQ: return "sample checksum mismatch";
	case ERANGE: return "sample index out of range";
	case ENOBUFS: return "buffer smaller than the sample";
	default: return strerror(code);
	}
}

uint32_t c3fs_ffr_crc32(uint32_t crc, const void *data, size_t len)
{
	const Bytef *p = data;
	uLong c = crc;

	while (len > 0) {
		size_t piece = len < C3FS_FFR_CRC_PIECE ? len : C3FS_FFR_CRC_PIECE;

		c = crc32(c, p, (uInt)piece);
		p += piece;
		len -= piece;
	}
	return (uint32_t)c;
}

uint32_t ffr__meta_crc(int64_t n, const void *idx, size_t idx_len)
{
	uint8_t nb[8];

	memcpy(nb, &n, 8);
	return c3fs_ffr_crc32(c3fs_ffr_crc32(0, nb, 8), idx, idx_len);
}

int ffr__header_parse(const char *name, const uint8_t hdr[C3FS_FFR_HEADER_BYTES],
		      uint64_t file_size, int64_t *n, uint32_t *meta_crc)
{
	uint64_t room;

	if (file_size < C3FS_FFR_HEADER_BYTES)
		return ffr__err(-EBADMSG, "%s: truncated: %llu bytes, the header alone needs %d",
				name, (unsigned long long)file_size, C3FS_FFR_HEADER_BYTES);
	memcpy(meta_crc, hdr, 4);
	memcpy(n, hdr + 4, 8);
	if (*n < 0)
		return ffr__err(-EBADMSG, "%s: negative sample count N=%lld", name,
				(long long)*n);
	room = (file_size - C3FS_FFR_HEADER_BYTES) / C3FS_FFR_INDEX_BYTES_PER_SAMPLE;
	if ((uint64_t)*n > room)
		return ffr__err(-EBADMSG,
				"%s: N=%lld samples cannot fit: the file has %llu bytes, room for "
				"the index of at most %llu (truncated file or corrupt header)",
				name, (long long)*n, (unsigned long long)file_size,
				(unsigned long long)room);
	return 0;
}

int ffr__index_check(const char *name, int64_t n, uint32_t meta_crc, const uint8_t *idx,
		     uint64_t file_size, bool check_crc)
{
	const uint8_t *offs = idx + 4 * (size_t)n;
	uint64_t data_start = C3FS_FFR_HEADER_BYTES + 12 * (uint64_t)n;
	int64_t prev = (int64_t)data_start;

	if (check_crc && meta_crc != 0) {
		uint32_t c = ffr__meta_crc(n, idx, 12 * (size_t)n);

		if (c != meta_crc)
			return ffr__err(-EBADMSG,
					"%s: metadata checksum mismatch (stored %08x, computed "
					"%08x): N, the sample checksums or the offsets are corrupt",
					name, meta_crc, c);
	}
	if (n == 0 && file_size != data_start)
		return ffr__err(-EBADMSG,
				"%s: N=0 but the file has %llu bytes after the header (an "
				"unfinished writer, or a corrupt N)",
				name, (unsigned long long)(file_size - data_start));
	for (int64_t i = 0; i < n; i++) {
		int64_t o;

		memcpy(&o, offs + 8 * (size_t)i, 8);
		if (i == 0 && (uint64_t)o != data_start)
			return ffr__err(-EBADMSG,
					"%s: sample 0: offset %lld, the data starts at %llu", name,
					(long long)o, (unsigned long long)data_start);
		if (o < prev)
			return ffr__err(-EBADMSG,
					"%s: sample %lld: offset %lld before the previous sample's "
					"%lld (offsets out of order)",
					name, (long long)i, (long long)o, (long long)prev);
		if ((uint64_t)o > file_size)
			return ffr__err(-EBADMSG,
					"%s: sample %lld: offset %lld past the end of the file (%llu "
					"bytes; truncated?)",
					name, (long long)i, (long long)o,
					(unsigned long long)file_size);
		prev = o;
	}
	return 0;
}
