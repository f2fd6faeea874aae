/* proto/storage.c — encode/decode of the storage service messages, produced from the one
 * table, storage.def (structs: storage.h).
 *
 * Every decoder treats its input as hostile: counts are bounded before allocating (by the
 * protocol limit and by the bytes left: an array element is at least its part's wire
 * size), enums and flags are checked, offsets and lengths are range-checked so a handler
 * never sees an io that runs past STORAGE_CHUNK_SIZE_MAX.  The checks are the *_ok
 * functions below, named by the table; the rest of this file only expands the table.
 */
#include "proto/storage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/codec.h"

/* ---------------------------------------------------------------- checks */

static bool any_ok(const void *m)
{
	(void)m;
	return true;
}

/* chunk_size in 1..max, offset+length within it */
static bool range_ok(uint32_t offset, uint32_t length, uint32_t chunk_size)
{
	if (chunk_size == 0 || chunk_size > STORAGE_CHUNK_SIZE_MAX)
		return false;
	return (uint64_t)offset + length <= chunk_size;
}

/* a status is 0 or negative; lengths are bounded by the chunk size limit */
static bool result_ok(const struct storage_io_result *r)
{
	return r->status <= 0 && r->length <= STORAGE_CHUNK_SIZE_MAX &&
	       r->chunk_len <= STORAGE_CHUNK_SIZE_MAX;
}

static bool write_io_ok(const struct storage_write_io *io)
{
	return range_ok(io->offset, io->length, io->chunk_size);
}

static bool write_req_ok(const struct storage_write_req *m)
{
	uint64_t total = 0;

	for (uint32_t i = 0; i < m->nios; i++)
		total += m->ios[i].length;
	return total <= STORAGE_MAX_BATCH_BYTES;
}

static bool read_io_ok(const struct storage_read_io *io)
{
	return range_ok(io->offset, io->length, STORAGE_CHUNK_SIZE_MAX) && io->flags == 0;
}

static bool read_req_ok(const struct storage_read_req *m)
{
	uint64_t total = 0;

	for (uint32_t i = 0; i < m->nios; i++)
		total += m->ios[i].length;
	return total <= STORAGE_MAX_BATCH_BYTES;
}

static bool truncate_io_ok(const struct storage_truncate_io *io)
{
	return range_ok(0, io->length, io->chunk_size) && !(io->flags & ~STORAGE_TRUNC_F_MASK);
}

static bool update_req_ok(const struct storage_update_req *m)
{
	if (m->type < STORAGE_UPD_WRITE || m->type > STORAGE_UPD_REMOVE ||
	    (m->flags & ~STORAGE_UPD_F_MASK) || m->update_ver == 0)
		return false;
	if (m->type == STORAGE_UPD_WRITE && !range_ok(m->offset, m->length, m->chunk_size))
		return false;
	if ((m->flags & STORAGE_UPD_F_FULL) && (m->type != STORAGE_UPD_WRITE || m->offset))
		return false;
	if ((m->flags & STORAGE_UPD_F_SYNC) && m->type != STORAGE_UPD_REMOVE &&
	    !(m->flags & STORAGE_UPD_F_FULL))
		return false;
	if (m->type == STORAGE_UPD_TRUNCATE && !range_ok(0, m->length, m->chunk_size))
		return false;
	return true;
}

static bool remove_req_ok(const struct storage_remove_req *m)
{
	return m->end >= m->begin;
}

static bool remove_rsp_ok(const struct storage_remove_rsp *m)
{
	return m->status <= 0;
}

static bool query_last_rsp_ok(const struct storage_query_last_rsp *m)
{
	return m->status <= 0 && m->last_len <= STORAGE_CHUNK_SIZE_MAX;
}

static bool dump_req_ok(const struct storage_dump_req *m)
{
	return m->limit >= 1 && m->limit <= STORAGE_MAX_DUMP;
}

static bool chunk_meta_ok(const struct storage_chunk_meta *e)
{
	return e->length <= STORAGE_CHUNK_SIZE_MAX && e->pending_length <= STORAGE_CHUNK_SIZE_MAX &&
	       e->chunk_size <= STORAGE_CHUNK_SIZE_MAX;
}

static bool dump_rsp_ok(const struct storage_dump_rsp *m)
{
	return m->status <= 0;
}

static bool target_info_ok(const struct storage_target_info *t)
{
	return t->local_state >= 1 && t->local_state <= 3; /* enum target_local_state */
}

static bool space_rsp_ok(const struct storage_space_rsp *m)
{
	return m->status <= 0;
}

static bool repair_req_ok(const struct storage_repair_req *m)
{
	return m->dest_target != 0 && m->dest_target != m->route.target_id;
}

/* ---------------------------------------------------------------- field kinds */

#define KIND(k, T, bytes)                                                               \
	enum { k##_BYTES = (bytes) };                                                   \
	static inline void enc_##k(struct c3_buf *b, const T *v) { c3_enc_##k(b, *v); } \
	static inline void dec_##k(struct c3_dec *d, T *v) { *v = c3_dec_##k(d); }
KIND(u8, uint8_t, 1)
KIND(u32, uint32_t, 4)
KIND(i32, int32_t, 4)
KIND(u64, uint64_t, 8)
KIND(bool, bool, 1)
#undef KIND

/* Allocate n elements of size sz (n may be 0: returns NULL with *err untouched). */
static void *alloc_array(uint32_t n, size_t sz, int *err)
{
	void *p;

	if (n == 0)
		return NULL;
	p = calloc(n, sz);
	if (!p)
		*err = -ENOMEM;
	return p;
}

/* ---------------------------------------------------------------- parts */

/* wire size of each part: <part>_BYTES */
#define F(kind, f) +kind##_BYTES
#define STORAGE_PART(part, s, check, FIELDS) enum { part##_BYTES = 0 FIELDS };
#include "proto/storage.def"
#undef F

#define F(kind, f) enc_##kind(b, &m->f);
#define STORAGE_PART(part, s, check, FIELDS)                                            \
	static void enc_##part(struct c3_buf *b, const struct s *m) { FIELDS }
#include "proto/storage.def"
#undef F

#define F(kind, f) dec_##kind(d, &m->f);
#define STORAGE_PART(part, s, check, FIELDS)                                            \
	static void dec_##part(struct c3_dec *d, struct s *m)                           \
	{                                                                               \
		FIELDS                                                                  \
		if (!d->err && !check(m))                                               \
			d->err = -C3FS_EBADMSG;                                         \
	}
#include "proto/storage.def"
#undef F

/* ---------------------------------------------------------------- messages */

#define F(kind, f) enc_##kind(b, &m->f);
#define A(count, array, part, max)                                                      \
	c3_enc_u32(b, m->count);                                                        \
	for (uint32_t i = 0; i < m->count; i++)                                         \
		enc_##part(b, &m->array[i]);
#define ENCODER(msg, FIELDS)                                                            \
	void storage_##msg##_encode(const struct storage_##msg *m, struct c3_buf *b)    \
	{                                                                               \
		FIELDS                                                                  \
	}
#define STORAGE_MSG(msg, check, FIELDS) ENCODER(msg, FIELDS)
#define STORAGE_MSG_ARRAY(msg, check, FIELDS) ENCODER(msg, FIELDS)
#define STORAGE_MSG_PART(msg, part) ENCODER(msg, enc_##part(b, m);)
#include "proto/storage.def"
#undef F
#undef A
#undef ENCODER

/* An array: the count (bounded by max and by the bytes left), the allocation, then the
 * parts; after a failure the rest of the message reads as zeros and nothing is allocated. */
#define F(kind, f) dec_##kind(d, &m->f);
#define A(count, array, part, max)                                                      \
	m->count = c3_dec_count(d, max, part##_BYTES);                                  \
	if (!d->err && !err) {                                                          \
		m->array = alloc_array(m->count, sizeof(*m->array), &err);              \
		if (err)                                                                \
			m->count = 0;                                                   \
	}                                                                               \
	for (uint32_t i = 0; i < m->count && !d->err && !err; i++)                      \
		dec_##part(d, &m->array[i]);
#define DECODER(msg, check, FIELDS)                                                     \
	int storage_##msg##_decode(const void *p, size_t n, struct storage_##msg *m)    \
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
#define STORAGE_MSG(msg, check, FIELDS) DECODER(msg, check, FIELDS)
#define STORAGE_MSG_ARRAY(msg, check, FIELDS) DECODER(msg, check, FIELDS)
#define STORAGE_MSG_PART(msg, part) DECODER(msg, any_ok, dec_##part(d, m);)
#include "proto/storage.def"
#undef F
#undef A
#undef DECODER

#define F(kind, f)
#define A(count, array, part, max)                                                      \
	free(m->array);                                                                 \
	m->array = NULL;                                                                \
	m->count = 0;
#define STORAGE_MSG_ARRAY(msg, check, FIELDS)                                           \
	void storage_##msg##_release(struct storage_##msg *m) { FIELDS }
#include "proto/storage.def"
#undef F
#undef A
