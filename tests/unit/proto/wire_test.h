/* wire_test.h — helpers of the golden-bytes tests of the message codecs (header only).
 *
 * A case encodes a filled struct and compares the bytes with the encoding pinned in the
 * test (hex), so that any change of the wire format fails here: the format must stay
 * byte-for-byte the same for mixed-version clusters.  Then wire_check() decodes the bytes
 * and encodes the result again (the same bytes must come back, so every field decodes),
 * checks that a trailing byte is ignored (forward compatibility) and that every
 * truncation is refused with -C3FS_EBADMSG, except the prefix lengths listed as accepted
 * (the documented optional tails: an older sender stops there).
 */
#ifndef C3_TESTS_WIRE_TEST_H
#define C3_TESTS_WIRE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/errors.h"
#include "tests/lib/tap.h"

/* Decode p[0..n); when rc == 0 and out != NULL, encode the result into out; release. */
typedef int (*wire_rt_fn)(const void *p, size_t n, struct c3_buf *out);

static inline char *wire_hex(const void *p, size_t n)
{
	const uint8_t *b = p;
	char *s = malloc(n * 2 + 1);

	if (!s)
		abort();
	for (size_t i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", b[i]);
	s[n * 2] = '\0';
	return s;
}

static inline void wire_golden(const char *name, const struct c3_buf *b, const char *hex)
{
	char *got = wire_hex(b->data, b->len);
	char what[160];

	snprintf(what, sizeof(what), "%s: encoding is the pinned bytes", name);
	ok(b->err == 0, "encoder reports no error");
	if (!ok(strcmp(got, hex) == 0, what))
		printf("#   got      %s\n#   expected %s\n", got, hex);
	free(got);
}

/* Run the decode checks on the encoding b; accepted = prefix lengths (< b->len) that
 * decode (optional tails), nacc of them. */
static inline void wire_check(const char *name, wire_rt_fn rt, const struct c3_buf *b,
			      const size_t *accepted, size_t nacc)
{
	struct c3_buf out = C3_BUF_INIT, more = C3_BUF_INIT;
	char what[160];
	int bad = 0;

	snprintf(what, sizeof(what), "%s: decodes and encodes back to the same bytes", name);
	ok(rt(b->data, b->len, &out) == 0 && out.err == 0 && out.len == b->len &&
	   memcmp(out.data, b->data, b->len) == 0, what);
	c3_buf_append(&more, b->data, b->len);
	c3_buf_append(&more, "\x01", 1);
	snprintf(what, sizeof(what), "%s: a trailing byte is ignored", name);
	ok(more.err == 0 && rt(more.data, more.len, NULL) == 0, what);
	for (size_t n = 0; n < b->len; n++) {
		int want = -C3FS_EBADMSG, rc;

		for (size_t i = 0; i < nacc; i++)
			if (accepted[i] == n)
				want = 0;
		rc = rt(b->data, n, NULL);
		if (rc != want) {
			printf("#   %s: prefix of %zu bytes gives %d, expected %d\n", name, n, rc,
			       want);
			bad++;
		}
	}
	snprintf(what, sizeof(what), "%s: every truncation refused but the optional tails",
		 name);
	is_int(bad, 0, what);
	c3_buf_release(&out);
	c3_buf_release(&more);
}

/* One encoded value must be refused by the decoder. */
static inline void wire_refused(const char *name, wire_rt_fn rt, const struct c3_buf *b)
{
	is_int(b->err == 0 ? rt(b->data, b->len, NULL) : b->err, -C3FS_EBADMSG, name);
}

/* The cases' macros, for a file that defines WIRE_PREFIX (its service's codec prefix:
 * meta, mgmtd, storage) before including this header and a round trip rt_<T> per message:
 *   ENC(T, m)              encode message T from m into b (the file's buffer, below)
 *   GOLDEN(T, m, hex, ...) ENC, compare with the pinned hex, then wire_check; the prefix
 *                          lengths an older sender may stop at follow, if any
 *   REFUSED(T, m, what)    ENC, then the decoder must refuse it */
#ifdef WIRE_PREFIX
#define WIRE_ENCODER(T) WIRE_ENCODER_(WIRE_PREFIX, T)
#define WIRE_ENCODER_(p, T) WIRE_ENCODER__(p, T)
#define WIRE_ENCODER__(p, T) p##_##T##_encode

static struct c3_buf b = C3_BUF_INIT;

#define ENC(T, m)                                                                       \
	do {                                                                            \
		c3_buf_reset(&b);                                                       \
		WIRE_ENCODER(T)(&(m), &b);                                              \
	} while (0)
#define GOLDEN(T, m, hex, ...)                                                          \
	do {                                                                            \
		static const size_t acc_[] = { 0, ##__VA_ARGS__ };                      \
		ENC(T, m);                                                              \
		wire_golden(#T, &b, hex);                                               \
		wire_check(#T, rt_##T, &b, acc_ + 1,                                    \
			   sizeof(acc_) / sizeof(acc_[0]) - 1);                         \
	} while (0)
#define REFUSED(T, m, what)                                                             \
	do {                                                                            \
		ENC(T, m);                                                              \
		wire_refused(#T ": " what, rt_##T, &b);                                 \
	} while (0)
#endif

#endif
