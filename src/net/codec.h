/* codec.h — the compact binary codec used by every message (header only, inline).
 *
 * Encoding: fixed-width little-endian integers; bytes/strings as u32 length + raw bytes;
 * arrays as u32 count + elements.  Messages are structs encoded field by field in
 * declaration order; new fields are appended, and a decoder ignores trailing bytes it does
 * not know (forward compatibility), so c3_dec_finish() does not require p == end.
 *
 * Encoder: appends into a struct c3_buf; allocation failure is sticky in buf->err.
 * Decoder: every read is bounds-checked.  The first failure sets d->err =
 * -C3FS_EBADMSG; the failing read and every later read return zero/NULL, so a decoder
 * can read all fields and check d->err once.  Returned byte pointers borrow from the
 * input buffer.
 */
#ifndef C3_NET_CODEC_H
#define C3_NET_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/errors.h"

/* ---- encoding ---- */
static inline void c3_enc_u8(struct c3_buf *b, uint8_t v) { c3_buf_append(b, &v, 1); }
static inline void c3_enc_u16(struct c3_buf *b, uint16_t v)
{
	uint8_t p[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	c3_buf_append(b, p, 2);
}
static inline void c3_enc_u32(struct c3_buf *b, uint32_t v)
{
	uint8_t p[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	c3_buf_append(b, p, 4);
}
static inline void c3_enc_u64(struct c3_buf *b, uint64_t v)
{
	c3_enc_u32(b, (uint32_t)v);
	c3_enc_u32(b, (uint32_t)(v >> 32));
}
static inline void c3_enc_i32(struct c3_buf *b, int32_t v) { c3_enc_u32(b, (uint32_t)v); }
static inline void c3_enc_i64(struct c3_buf *b, int64_t v) { c3_enc_u64(b, (uint64_t)v); }
static inline void c3_enc_bool(struct c3_buf *b, bool v) { c3_enc_u8(b, v ? 1 : 0); }
static inline void c3_enc_bytes(struct c3_buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		b->err = -C3FS_ETOOBIG;
		return;
	}
	c3_enc_u32(b, (uint32_t)n);
	c3_buf_append(b, p, n);
}
/* NUL-terminated string (NULL encodes as empty). */
static inline void c3_enc_str(struct c3_buf *b, const char *s)
{
	c3_enc_bytes(b, s ? s : "", s ? strlen(s) : 0);
}

/* ---- decoding ---- */
struct c3_dec {
	const uint8_t *p;
	const uint8_t *end;
	int err; /* 0 or -C3FS_EBADMSG, sticky */
};

static inline void c3_dec_init(struct c3_dec *d, const void *p, size_t n)
{
	d->p = (const uint8_t *)p;
	d->end = d->p + n;
	d->err = 0;
}
static inline bool c3_dec__need(struct c3_dec *d, size_t n)
{
	if (d->err || (size_t)(d->end - d->p) < n) {
		d->err = -C3FS_EBADMSG;
		d->p = d->end;
		return false;
	}
	return true;
}
static inline size_t c3_dec_left(const struct c3_dec *d) { return (size_t)(d->end - d->p); }
static inline uint8_t c3_dec_u8(struct c3_dec *d)
{
	if (!c3_dec__need(d, 1))
		return 0;
	return *d->p++;
}
static inline uint16_t c3_dec_u16(struct c3_dec *d)
{
	uint16_t v;

	if (!c3_dec__need(d, 2))
		return 0;
	v = (uint16_t)(d->p[0] | (d->p[1] << 8));
	d->p += 2;
	return v;
}
static inline uint32_t c3_dec_u32(struct c3_dec *d)
{
	uint32_t v;

	if (!c3_dec__need(d, 4))
		return 0;
	v = (uint32_t)d->p[0] | ((uint32_t)d->p[1] << 8) | ((uint32_t)d->p[2] << 16) |
	    ((uint32_t)d->p[3] << 24);
	d->p += 4;
	return v;
}
static inline uint64_t c3_dec_u64(struct c3_dec *d)
{
	uint64_t lo, hi;

	if (!c3_dec__need(d, 8)) /* all or nothing: a failed read returns 0 */
		return 0;
	lo = c3_dec_u32(d);
	hi = c3_dec_u32(d);
	return lo | (hi << 32);
}
static inline int32_t c3_dec_i32(struct c3_dec *d) { return (int32_t)c3_dec_u32(d); }
static inline int64_t c3_dec_i64(struct c3_dec *d) { return (int64_t)c3_dec_u64(d); }
/* A bool must be 0 or 1; anything else is malformed. */
static inline bool c3_dec_bool(struct c3_dec *d)
{
	uint8_t v = c3_dec_u8(d);

	if (v > 1)
		d->err = -C3FS_EBADMSG;
	return v == 1;
}
/* Length-prefixed bytes of at most max bytes.  Returns a pointer into the input (or NULL
 * with *len = 0 on error). */
static inline const uint8_t *c3_dec_bytes(struct c3_dec *d, size_t max, size_t *len)
{
	uint32_t n = c3_dec_u32(d);
	const uint8_t *p;

	*len = 0;
	if (d->err)
		return NULL;
	if (n > max) {
		d->err = -C3FS_EBADMSG;
		return NULL;
	}
	if (!c3_dec__need(d, n))
		return NULL;
	p = d->p;
	d->p += n;
	*len = n;
	return p;
}
/* Length-prefixed string copied into out (size outsz, NUL-terminated).  Fails when it does
 * not fit or contains a NUL byte. */
static inline void c3_dec_str(struct c3_dec *d, char *out, size_t outsz)
{
	size_t n;
	const uint8_t *p = c3_dec_bytes(d, outsz ? outsz - 1 : 0, &n);

	if (outsz)
		out[0] = '\0';
	if (!p)
		return;
	if (memchr(p, 0, n)) {
		d->err = -C3FS_EBADMSG;
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}
/* Array count of at most max elements, each at least min_elem_bytes on the wire (so a
 * hostile count cannot make the caller allocate more than the message could hold). */
static inline uint32_t c3_dec_count(struct c3_dec *d, uint32_t max, size_t min_elem_bytes)
{
	uint32_t n = c3_dec_u32(d);

	if (d->err)
		return 0;
	if (n > max || (min_elem_bytes && (size_t)n > c3_dec_left(d) / min_elem_bytes)) {
		d->err = -C3FS_EBADMSG;
		return 0;
	}
	return n;
}
/* 0 when everything decoded, else -C3FS_EBADMSG. */
static inline int c3_dec_finish(const struct c3_dec *d) { return d->err; }

#endif
