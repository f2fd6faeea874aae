/* proto/meta.c — codec of the meta service messages and the file-layout math.
 *
 * Invariants: decoders never read past their input, bound every length and count before
 * use, reject bools other than 0/1 and groups counts over META_MAX_GROUPS, and never
 * allocate except the readdir entry array (bounded by META_READDIR_MAX and by the bytes
 * left in the message).  Names are checked only for size here; their POSIX validity is
 * the service's job (it must answer ENAMETOOLONG, EINVAL, ...).  The messages are rows
 * of meta.def, expanded here (codec_gen.h) with the *_ok checks below; the three the
 * table cannot express follow by hand, each saying why.
 */
#include "proto/meta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "net/codec.h"
#include "proto/codec_gen.h"

/* ---------------------------------------------------------------- kinds and checks */

/* the kind hdr: the caller's credentials (at most META_MAX_GROUPS groups; more are cut
 * on encode) and request id */
static void enc_hdr(struct c3_buf *out, const struct meta_hdr *h)
{
	uint32_t n = h->cred.ngroups > META_MAX_GROUPS ? META_MAX_GROUPS : h->cred.ngroups;

	c3_enc_u32(out, h->cred.uid);
	c3_enc_u32(out, h->cred.gid);
	c3_enc_u32(out, n);
	for (uint32_t i = 0; i < n; i++)
		c3_enc_u32(out, h->cred.groups[i]);
	c3_enc_u64(out, h->client_id);
	c3_enc_u64(out, h->seq);
}

static void dec_hdr(struct c3_dec *d, struct meta_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->cred.uid = c3_dec_u32(d);
	h->cred.gid = c3_dec_u32(d);
	h->cred.ngroups = c3_dec_count(d, META_MAX_GROUPS, 4);
	for (uint32_t i = 0; i < h->cred.ngroups; i++)
		h->cred.groups[i] = c3_dec_u32(d);
	h->client_id = c3_dec_u64(d);
	h->seq = c3_dec_u64(d);
}

static bool setattr_req_ok(const struct meta_setattr_req *m)
{
	return !(m->mask & ~META_SET_ALL);
}

static bool access_req_ok(const struct meta_access_req *m)
{
	return !(m->mask & ~7u);
}

/* ---------------------------------------------------------------- the table: parts */

#define F C3_GEN_F_ENC
#define META_PART(part, s, check, FIELDS) C3_GEN_PART_ENC(part, s, FIELDS)
#include "proto/meta.def"
#undef F
#define F C3_GEN_F_DEC
#define META_PART(part, s, check, FIELDS) C3_GEN_PART_DEC(part, s, check, FIELDS)
#include "proto/meta.def"
#undef F

void meta_layout_encode(const struct meta_layout *l, struct c3_buf *out)
{
	enc_layout(out, l);
}

void meta_layout_decode(struct c3_dec *d, struct meta_layout *l)
{
	dec_layout(d, l);
}

void meta_attr_encode(const struct meta_attr *a, struct c3_buf *out)
{
	enc_attr(out, a);
}

void meta_attr_decode(struct c3_dec *d, struct meta_attr *a)
{
	dec_attr(d, a);
}

/* the kind opt_attr: an attribute block on the wire only when its ino is not 0 (always
 * the last field, after T(): its absence is the input's end) */
static void enc_opt_attr(struct c3_buf *out, const struct meta_attr *a)
{
	if (a->ino)
		enc_attr(out, a);
}
#define dec_opt_attr dec_attr

/* ---------------------------------------------------------------- the table: messages */

#define F C3_GEN_F_ENC
#define B C3_GEN_B_ENC
#define T()
#define META_MSG(msg, check, FIELDS) C3_GEN_ENCODER(meta, msg, FIELDS)
#include "proto/meta.def"
#undef F
#undef B
#undef T
#define F C3_GEN_F_DEC
#define B C3_GEN_B_DEC
#define T C3_GEN_T_DEC
#define META_MSG(msg, check, FIELDS) C3_GEN_DECODER(meta, msg, check, FIELDS)
#include "proto/meta.def"
#undef F
#undef B
#undef T

/* ---------------------------------------------------------------- by hand */

/* Written by hand: truncate_ver is an appended field read only when whole; when absent
 * (or cut) the decoder also drops META_CLOSE_TRUNCVER from flags, which a row cannot say. */
void meta_close_req_encode(const struct meta_close_req *m, struct c3_buf *out)
{
	enc_hdr(out, &m->hdr);
	c3_enc_u64(out, m->ino);
	c3_enc_u64(out, m->session_id);
	c3_enc_u32(out, m->flags);
	c3_enc_u64(out, m->length);
	c3_enc_u64(out, m->truncate_ver);
}

int meta_close_req_decode(const void *p, size_t n, struct meta_close_req *m)
{
	struct c3_dec d;

	memset(m, 0, sizeof(*m));
	c3_dec_init(&d, p, n);
	dec_hdr(&d, &m->hdr);
	m->ino = c3_dec_u64(&d);
	m->session_id = c3_dec_u64(&d);
	m->flags = c3_dec_u32(&d);
	m->length = c3_dec_u64(&d);
	if (c3_dec_left(&d) >= 8)
		m->truncate_ver = c3_dec_u64(&d);
	else
		m->flags &= ~META_CLOSE_TRUNCVER;
	return c3_dec_finish(&d);
}

/* Written by hand: the sessions are a fixed array inside the struct (the encoder cuts the
 * count at META_RELEASE_MAX), not an allocated one, and the count must be at least 1. */
void meta_release_req_encode(const struct meta_release_req *m, struct c3_buf *out)
{
	uint32_t k = m->count > META_RELEASE_MAX ? META_RELEASE_MAX : m->count;

	enc_hdr(out, &m->hdr);
	c3_enc_u32(out, k);
	for (uint32_t i = 0; i < k; i++) {
		c3_enc_u64(out, m->sessions[i].ino);
		c3_enc_u64(out, m->sessions[i].session_id);
	}
}

int meta_release_req_decode(const void *p, size_t n, struct meta_release_req *m)
{
	struct c3_dec d;

	memset(m, 0, sizeof(*m));
	c3_dec_init(&d, p, n);
	dec_hdr(&d, &m->hdr);
	m->count = c3_dec_count(&d, META_RELEASE_MAX, 16);
	for (uint32_t i = 0; i < m->count; i++) {
		m->sessions[i].ino = c3_dec_u64(&d);
		m->sessions[i].session_id = c3_dec_u64(&d);
	}
	if (!d.err && m->count == 0)
		d.err = -C3FS_EBADMSG;
	return c3_dec_finish(&d);
}

/* Written by hand: each entry carries its attributes only when the message's plus flag
 * says so. */
void meta_readdir_resp_encode(const struct meta_readdir_resp *m, struct c3_buf *out)
{
	c3_enc_bool(out, m->plus);
	c3_enc_u32(out, m->count);
	for (uint32_t i = 0; i < m->count; i++) {
		const struct meta_dirent *e = &m->entries[i];

		c3_enc_bytes(out, e->name, e->name ? e->name_len : 0);
		c3_enc_u64(out, e->ino);
		c3_enc_u32(out, e->type);
		if (m->plus)
			enc_attr(out, &e->attr);
	}
	c3_enc_bool(out, m->more);
}

int meta_readdir_resp_decode(const void *p, size_t n, struct meta_readdir_resp *m)
{
	struct c3_dec d;
	uint32_t count;

	memset(m, 0, sizeof(*m));
	c3_dec_init(&d, p, n);
	m->plus = c3_dec_bool(&d);
	/* each entry is at least 4 (name length) + 8 + 4 bytes */
	count = c3_dec_count(&d, META_READDIR_MAX, 16);
	if (d.err)
		return d.err;
	if (count) {
		m->entries = calloc(count, sizeof(*m->entries));
		if (!m->entries)
			return -ENOMEM;
	}
	m->count = count;
	for (uint32_t i = 0; i < count && !d.err; i++) {
		struct meta_dirent *e = &m->entries[i];

		e->name = c3_gen_dec_blob(&d, META_NAME_MAX, &e->name_len);
		e->ino = c3_dec_u64(&d);
		e->type = c3_dec_u32(&d);
		if (m->plus)
			dec_attr(&d, &e->attr);
	}
	m->more = c3_dec_bool(&d);
	if (d.err) {
		meta_readdir_resp_release(m);
		return d.err;
	}
	return 0;
}

void meta_readdir_resp_release(struct meta_readdir_resp *m)
{
	free(m->entries);
	m->entries = NULL;
	m->count = 0;
}

/* ---------------------------------------------------------------- layout math */
int meta_layout_check(const struct meta_layout *l, bool is_file)
{
	uint32_t cs = l->chunk_size;

	if (cs < META_CHUNK_MIN || cs > META_CHUNK_MAX || (cs & (cs - 1)) != 0)
		return -C3FS_EBADLAYOUT;
	if (l->stripe < 1 || l->stripe > META_STRIPE_MAX)
		return -C3FS_EBADLAYOUT;
	if (is_file && (l->dyn_stripe < 1 || l->dyn_stripe > l->stripe))
		return -C3FS_EBADLAYOUT;
	return 0;
}

uint64_t meta_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void meta_layout_perm(const struct meta_layout *l, uint32_t *perm)
{
	uint64_t st = l->seed;

	for (uint32_t i = 0; i < l->stripe; i++)
		perm[i] = i;
	for (uint32_t k = l->stripe; k > 1; k--) {
		uint32_t j = (uint32_t)(meta_splitmix64(&st) % k);
		uint32_t t = perm[k - 1];

		perm[k - 1] = perm[j];
		perm[j] = t;
	}
}

int64_t meta_layout_chunk_pos(const struct meta_layout *l, uint32_t table_nchains,
			      uint64_t chunk_index)
{
	uint32_t perm[META_STRIPE_MAX];

	if (table_nchains == 0 || l->stripe < 1 || l->stripe > META_STRIPE_MAX ||
	    l->stripe > table_nchains)
		return -C3FS_EBADLAYOUT;
	meta_layout_perm(l, perm);
	return meta_layout_pos_from_perm(l, perm, table_nchains, chunk_index);
}

int64_t meta_layout_chunk_chain(const struct meta_layout *l, const uint32_t *table_chains,
				uint32_t table_nchains, uint64_t chunk_index)
{
	int64_t pos = meta_layout_chunk_pos(l, table_nchains, chunk_index);

	if (pos < 0)
		return pos;
	return table_chains[pos];
}

uint32_t meta_layout_dyn_needed(const struct meta_layout *l, uint32_t cur, uint64_t end_off)
{
	uint64_t chunks;
	uint32_t d = cur ? cur : 1;

	if (l->chunk_size == 0 || l->stripe == 0)
		return cur;
	chunks = end_off / l->chunk_size + (end_off % l->chunk_size ? 1 : 0);
	while (d < l->stripe && d < chunks)
		d = d * 2 > l->stripe ? l->stripe : d * 2;
	return d > l->stripe ? l->stripe : d;
}
