/* buf.c — see buf.h. */
#include "common/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void c3_buf_init(struct c3_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void c3_buf_release(struct c3_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void c3_buf_reset(struct c3_buf *b)
{
	b->len = 0;
	b->err = 0;
}

int c3_buf_reserve(struct c3_buf *b, size_t n)
{
	size_t want, cap;
	uint8_t *p;

	if (b->err)
		return b->err;
	if (n > SIZE_MAX / 2 - b->len) {
		b->err = -ENOMEM;
		return b->err;
	}
	want = b->len + n;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->err = -ENOMEM;
		return b->err;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void c3_buf_append(struct c3_buf *b, const void *p, size_t n)
{
	if (n == 0 || c3_buf_reserve(b, n) != 0)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void c3_buf_printf(struct c3_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || c3_buf_reserve(b, (size_t)n + 1) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

uint8_t *c3_buf_detach(struct c3_buf *b, size_t *len_out)
{
	uint8_t *p = b->data;

	if (len_out)
		*len_out = b->len;
	memset(b, 0, sizeof(*b));
	return p;
}
