/* journal.c — encode and decode the ops of a journal record (format: journal.h). */
#include "storage/journal.h"

#include <errno.h>
#include <string.h>

#include "net/codec.h"

void sj_begin(struct c3_buf *b)
{
	c3_enc_u8(b, SJ_FORMAT);
}

void sj_encode(struct c3_buf *b, const struct sj_op *op)
{
	c3_enc_u8(b, (uint8_t)op->type);
	c3_enc_u64(b, op->inode);
	c3_enc_u32(b, op->index);
	switch (op->type) {
	case SJ_PUT:
		c3_enc_u32(b, op->vlen);
		c3_buf_append(b, op->data, op->vlen);
		break;
	case SJ_DATA:
		c3_enc_u64(b, op->gen);
		c3_enc_u32(b, op->keep);
		c3_enc_u32(b, op->flen);
		c3_enc_u32(b, op->off);
		c3_enc_u32(b, op->dlen);
		if (op->dlen)
			c3_buf_append(b, op->data, op->dlen);
		break;
	case SJ_SYNCED:
		c3_enc_u64(b, op->gen);
		break;
	default: /* SJ_DEL: the id is all */
		break;
	}
}

/* n raw bytes at the decoder's position (NULL and d->err set when fewer remain). */
static const uint8_t *sj_take(struct c3_dec *d, size_t n)
{
	const uint8_t *p;

	if (d->err || (size_t)(d->end - d->p) < n) {
		d->err = -EUCLEAN;
		return NULL;
	}
	p = d->p;
	d->p += n;
	return p;
}

int sj_decode(const uint8_t *p, size_t len, uint32_t max_flen,
	      int (*fn)(void *arg, const struct sj_op *op), void *arg)
{
	struct c3_dec d;

	c3_dec_init(&d, p, len);
	if (c3_dec_u8(&d) != SJ_FORMAT || d.err)
		return -EUCLEAN;
	while (d.p < d.end) {
		struct sj_op op;
		int rc;

		memset(&op, 0, sizeof(op));
		op.type = c3_dec_u8(&d);
		op.inode = c3_dec_u64(&d);
		op.index = c3_dec_u32(&d);
		switch (op.type) {
		case SJ_PUT:
			op.vlen = c3_dec_u32(&d);
			if (d.err || op.vlen == 0 || op.vlen > SJ_VAL_MAX)
				return -EUCLEAN;
			op.data = sj_take(&d, op.vlen);
			break;
		case SJ_DEL:
			break;
		case SJ_DATA:
			op.gen = c3_dec_u64(&d);
			op.keep = c3_dec_u32(&d);
			op.flen = c3_dec_u32(&d);
			op.off = c3_dec_u32(&d);
			op.dlen = c3_dec_u32(&d);
			if (d.err || op.gen == 0 || op.flen > max_flen || op.keep > op.flen ||
			    (uint64_t)op.off + op.dlen > op.flen)
				return -EUCLEAN;
			op.data = op.dlen ? sj_take(&d, op.dlen) : NULL;
			break;
		case SJ_SYNCED:
			op.gen = c3_dec_u64(&d);
			if (!d.err && op.gen == 0)
				return -EUCLEAN;
			break;
		default:
			return -EUCLEAN;
		}
		if (d.err)
			return -EUCLEAN;
		rc = fn(arg, &op);
		if (rc < 0)
			return rc;
	}
	return 0;
}
