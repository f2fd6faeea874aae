/* buf.h — growable byte buffer.
 *
 * struct c3_buf owns its memory (malloc).  Appends that fail to grow set err = -ENOMEM
 * and leave the contents as they were; check err once at the end (sticky, like a
 * stream).  len never exceeds cap; data may be NULL while cap == 0.
 */
#ifndef C3_BUF_H
#define C3_BUF_H

#include <stddef.h>
#include <stdint.h>

struct c3_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err; /* 0 or -ENOMEM, sticky */
};

#define C3_BUF_INIT { NULL, 0, 0, 0 }

void c3_buf_init(struct c3_buf *b);
/* Frees the memory; b is left empty and reusable. */
void c3_buf_release(struct c3_buf *b);
/* Keep the memory, drop the contents and the error. */
void c3_buf_reset(struct c3_buf *b);
/* Make room for n more bytes.  Returns 0 or -ENOMEM (also stored in err). */
int c3_buf_reserve(struct c3_buf *b, size_t n);
void c3_buf_append(struct c3_buf *b, const void *p, size_t n);
void c3_buf_printf(struct c3_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Take the memory out: returns data (caller frees), b is left empty. */
uint8_t *c3_buf_detach(struct c3_buf *b, size_t *len_out);

#endif
