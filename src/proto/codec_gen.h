/* proto/codec_gen.h — turns the rows of a message table (storage.def, mgmtd.def,
 * meta.def) into codec functions.  Included only by the .c file of a service's codec,
 * which includes its table once per pass with F, A, B and T defined as that pass's macros
 * below:
 *
 *   F(kind, field)              kind: u8 u32 i32 u64 bool str (a char array), text (a
 *                               malloc'd char *, see below), or a part
 *   A(count, array, part, max)  u32 count (at most max) then count parts, allocated by the
 *                               decoder (calloc) and freed by the release function; a
 *                               scalar kind (u32) serves as a part
 *   B(field, max)               u32 length (at most max) + bytes, borrowed: the struct has
 *                               a pointer field (const char * or const uint8_t *) and
 *                               uint32_t field_len; the decoder points into its input
 *                               ("" when empty), a NULL pointer encodes as empty
 *   T()                         an optional tail: the fields after it were appended to the
 *                               message, so an older sender's input may end exactly here
 *                               (the decoder stops cleanly, those fields read as zero); an
 *                               input ending inside a tail field is refused like any other
 *                               truncation.  A message may have several (one per append).
 *
 * (as object-like aliases, "#define F C3_GEN_F_ENC", so that a kind such as bool, a macro
 * of <stdbool.h>, reaches the pass unexpanded).
 * Passes: C3_GEN_F_SIZE / C3_GEN_B_SIZE (a part's least wire size, <part>_BYTES, bounding
 * array counts), C3_GEN_F_ENC / C3_GEN_A_ENC / C3_GEN_B_ENC (encoders), C3_GEN_F_DEC /
 * C3_GEN_A_DEC / C3_GEN_B_DEC / C3_GEN_T_DEC (decoders; T() is nothing in other passes),
 * C3_GEN_F_REL / C3_GEN_A_REL (release: frees the text fields and arrays).
 * A part is a struct inside messages, a message the payload struct <prefix>_<msg> with
 * <prefix>_<msg>_encode / _decode (/ _release).  A kind is any name with enc_<kind> and
 * dec_<kind> (<kind>_BYTES when in an array, rel_<kind> when in a released message): an
 * includer may add its own (mgmtd.c's user, meta.c's hdr and opt_attr).
 * Decoders follow net/codec.h: bounds-checked reads, then the row's check function on the
 * decoded values (false = -C3FS_EBADMSG); -ENOMEM when an array or a text cannot be
 * allocated.  C3_GEN_DECODER_REL is the decoder of a message holding allocations (arrays,
 * text): on failure it calls <prefix>_<msg>_release() itself, so the caller has nothing
 * to free.
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
	static inline void dec_##k(struct c3_dec *d, T *v) { *v = c3_dec_##k(d); }  \
	static inline void rel_##k(T *v) { (void)v; }
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
#define rel_str(p) ((void)(p))
/* text: a char * field, malloc'd by the decoder (NULL encodes as ""); u32 length + bytes,
 * at most C3_GEN_TEXT_MAX (defined by the includer that uses text), no NUL; freed by the
 * release function.  Allocation failure: d->err = -ENOMEM. */
enum { text_BYTES = 4 };
#define enc_text(b, p) c3_enc_str((b), *(p))
#define dec_text(d, p) c3_gen_dec_text((d), (p), C3_GEN_TEXT_MAX)
static inline void rel_text(char **p)
{
	free(*p);
	*p = NULL;
}
static inline void c3_gen_dec_text(struct c3_dec *d, char **out, size_t max)
{
	size_t n;
	const uint8_t *p = c3_dec_bytes(d, max, &n);

	if (d->err)
		return;
	if (memchr(p, '\0', n)) {
		d->err = -C3FS_EBADMSG;
		return;
	}
	*out = strndup(p ? (const char *)p : "", n);
	if (!*out)
		d->err = -ENOMEM;
}

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

/* The bytes of a B() row: borrowed from the input, "" when empty or malformed. */
static inline const void *c3_gen_dec_blob(struct c3_dec *d, size_t max, uint32_t *len)
{
	size_t n;
	const uint8_t *p = c3_dec_bytes(d, max, &n);

	*len = (uint32_t)n;
	return p ? (const void *)p : "";
}

/* ---- pass: least wire size of a part */
#define C3_GEN_F_SIZE(kind, f) +kind##_BYTES
#define C3_GEN_B_SIZE(f, max) +4
#define C3_GEN_PART_SIZE(part, FIELDS) enum { part##_BYTES = 0 FIELDS };

/* ---- pass: encoders */
#define C3_GEN_F_ENC(kind, f) enc_##kind(b, &m->f);
#define C3_GEN_B_ENC(f, max) c3_enc_bytes(b, m->f, m->f ? m->f##_len : 0);
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
#define C3_GEN_B_DEC(f, max) m->f = c3_gen_dec_blob(d, max, &m->f##_len);
#define C3_GEN_T_DEC()                                                                  \
	if (!d->err && c3_dec_left(d) == 0)                                             \
		goto tail;
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
#define C3_GEN_DECODE_BODY(check, FIELDS)                                               \
	{                                                                               \
		struct c3_dec dd, *d = &dd;                                             \
		int err = 0;                                                            \
                                                                                        \
		memset(m, 0, sizeof(*m));                                               \
		c3_dec_init(d, p, n);                                                   \
		FIELDS                                                                  \
	tail: __attribute__((unused));                                                  \
		if (err)                                                                \
			return err;                                                     \
		if (!d->err && !check(m))                                               \
			d->err = -C3FS_EBADMSG;                                         \
		return c3_dec_finish(d);                                                \
	}
#define C3_GEN_DECODER(prefix, msg, check, FIELDS)                                      \
	int prefix##_##msg##_decode(const void *p, size_t n, struct prefix##_##msg *m)  \
	C3_GEN_DECODE_BODY(check, FIELDS)
#define C3_GEN_DECODER_REL(prefix, msg, check, FIELDS)                                  \
	static int prefix##_##msg##_decode_fields(const void *p, size_t n,              \
						  struct prefix##_##msg *m)             \
	C3_GEN_DECODE_BODY(check, FIELDS)                                               \
	int prefix##_##msg##_decode(const void *p, size_t n, struct prefix##_##msg *m)  \
	{                                                                               \
		int rc = prefix##_##msg##_decode_fields(p, n, m);                       \
                                                                                        \
		if (rc)                                                                 \
			prefix##_##msg##_release(m);                                    \
		return rc;                                                              \
	}

/* ---- pass: release of the text fields and arrays */
#define C3_GEN_F_REL(kind, f) rel_##kind(&m->f);
#define C3_GEN_A_REL(count, array, part, max)                                           \
	free(m->array);                                                                 \
	m->array = NULL;                                                                \
	m->count = 0;
#define C3_GEN_RELEASE(prefix, msg, FIELDS)                                             \
	void prefix##_##msg##_release(struct prefix##_##msg *m) { FIELDS }

#endif
