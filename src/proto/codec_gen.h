/* proto/codec_gen.h — turns the rows of a message table (storage.def, mgmtd.def) into
 * codec functions.  Included only by the .c file of a service's codec, which includes its
 * table once per pass with F and A defined as that pass's macros below:
 *
 *   F(kind, field)              kind: u8 u32 i32 u64 bool str (a char array), or a part
 *   A(count, array, part, max)  u32 count (at most max) then count parts, allocated by the
 *                               decoder (calloc) and freed by the release function
 *
 * (as object-like aliases, "#define F C3_GEN_F_ENC", so that a kind such as bool, a macro
 * of <stdbool.h>, reaches the pass unexpanded).
 * Passes: C3_GEN_F_SIZE (a part's least wire size, <part>_BYTES, bounding array counts),
 * C3_GEN_F_ENC / C3_GEN_A_ENC (encoders), C3_GEN_F_DEC / C3_GEN_A_DEC (decoders),
 * C3_GEN_A_REL (release).  A part is a struct inside messages, a message the payload
 * struct <prefix>_<msg> with <prefix>_<msg>_encode / _decode (/ _release).  Decoders follow
 * net/codec.h: bounds-checked reads, then the row's check function on the decoded values
 * (false = -C3FS_EBADMSG); -ENOMEM when an array cannot be allocated.
 */
#ifndef C3_PROTO_CODEC_GEN_H
#define C3_PROTO_CODEC_GEN_H

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "net/codec.h"

/* The check of a row with nothing to check. */
static inline bool any_ok(const void *m)
{
	(void)m;
	return true;
}

/* scalar kinds: K_BYTES, enc_K(buf, const T *), dec_K(dec, T *) */
#define C3_GEN_KIND(k, T, bytes)                                                        \
	enum { k##_BYTES = (bytes) };                                                   \
	static inline void enc_##k(struct c3_buf *b, const T *v) { c3_enc_##k(b, *v); } \
	static inline void dec_##k(struct c3_dec *d, T *v) { *v = c3_dec_##k(d); }
C3_GEN_KIND(u8, uint8_t, 1)
C3_GEN_KIND(u32, uint32_t, 4)
C3_GEN_KIND(i32, int32_t, 4)
C3_GEN_KIND(u64, uint64_t, 8)
C3_GEN_KIND(bool, bool, 1)
#undef C3_GEN_KIND
/* str: a char array field; u32 length + bytes, decoded within the array's size, no NUL */
enum { str_BYTES = 4 };
#define enc_str(b, p) c3_enc_str((b), *(p))
#define dec_str(d, p) c3_dec_str((d), *(p), sizeof(*(p)))

/* Allocate n elements of size sz (n may be 0: returns NULL with *err untouched). */
static inline void *c3_gen_alloc(uint32_t n, size_t sz, int *err)
{
	void *p;

	if (n == 0)
		return NULL;
	p = calloc(n, sz);
	if (!p)
		*err = -ENOMEM;
	return p;
}

/* ---- pass: least wire size of a part */
#define C3_GEN_F_SIZE(kind, f) +kind##_BYTES
#define C3_GEN_PART_SIZE(part, FIELDS) enum { part##_BYTES = 0 FIELDS };

/* ---- pass: encoders */
#define C3_GEN_F_ENC(kind, f) enc_##kind(b, &m->f);
#define C3_GEN_A_ENC(count, array, part, max)                                           \
	c3_enc_u32(b, m->count);                                                        \
	for (uint32_t i = 0; i < m->count; i++)                                         \
		enc_##part(b, &m->array[i]);
#define C3_GEN_PART_ENC(part, s, FIELDS)                                                \
	static void enc_##part(struct c3_buf *b, const struct s *m) { FIELDS }
#define C3_GEN_ENCODER(prefix, msg, FIELDS)                                             \
	void prefix##_##msg##_encode(const struct prefix##_##msg *m, struct c3_buf *b)  \
	{                                                                               \
		FIELDS                                                                  \
	}

/* ---- pass: decoders.  An array: the count (bounded by max and by the bytes left), the
 * allocation, then the parts; after a failure the rest reads as zeros, nothing more is
 * allocated. */
#define C3_GEN_F_DEC(kind, f) dec_##kind(d, &m->f);
#define C3_GEN_A_DEC(count, array, part, max)                                           \
	m->count = c3_dec_count(d, max, part##_BYTES);                                  \
	if (!d->err && !err) {                                                          \
		m->array = c3_gen_alloc(m->count, sizeof(*m->array), &err);             \
		if (err)                                                                \
			m->count = 0;                                                   \
	}                                                                               \
	for (uint32_t i = 0; i < m->count && !d->err && !err; i++)                      \
		dec_##part(d, &m->array[i]);
#define C3_GEN_PART_DEC(part, s, check, FIELDS)                                         \
	static void dec_##part(struct c3_dec *d, struct s *m)                           \
	{                                                                               \
		FIELDS                                                                  \
		if (!d->err && !check(m))                                               \
			d->err = -C3FS_EBADMSG;                                         \
	}
#define C3_GEN_DECODER(prefix, msg, check, FIELDS)                                      \
	int prefix##_##msg##_decode(const void *p, size_t n, struct prefix##_##msg *m)  \
	{                                                                               \
		struct c3_dec dd, *d = &dd;                                             \
		int err = 0;                                                            \
                                                                                        \
		memset(m, 0, sizeof(*m));                                               \
		c3_dec_init(d, p, n);                                                   \
		FIELDS                                                                  \
		if (err)                                                                \
			return err;                                                     \
		if (!d->err && !check(m))                                               \
			d->err = -C3FS_EBADMSG;                                         \
		return c3_dec_finish(d);                                                \
	}

/* ---- pass: release of the arrays */
#define C3_GEN_A_REL(count, array, part, max)                                           \
	free(m->array);                                                                 \
	m->array = NULL;                                                                \
	m->count = 0;
#define C3_GEN_RELEASE(prefix, msg, FIELDS)                                             \
	void prefix##_##msg##_release(struct prefix##_##msg *m) { FIELDS }

#endif
