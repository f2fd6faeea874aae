/* proto/storage.c — encode/decode of the storage service messages, produced from the one
 * table, storage.def (structs: storage.h).
 *
 * Every decoder treats its input as hostile: counts are bounded before allocating (by the
 * protocol limit and by the bytes left: an array element is at least its part's wire
 * size), enums and flags are checked, offsets and lengths are range-checked so a handler
 * never sees an io that runs past STORAGE_CHUNK_SIZE_MAX.  The checks are the *_ok
 * functions below, named by the table; the rest of this file only expands the table
 * (codec_gen.h).
 */
#include "proto/storage.h"

#include "proto/codec_gen.h"

/* ---------------------------------------------------------------- checks */

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

/* ---------------------------------------------------------------- the table */

#define F C3_GEN_F_SIZE
#define STORAGE_PART(part, s, check, FIELDS) C3_GEN_PART_SIZE(part, FIELDS)
#include "proto/storage.def"
#undef F

#define F C3_GEN_F_ENC
#define A C3_GEN_A_ENC
#define STORAGE_PART(part, s, check, FIELDS) C3_GEN_PART_ENC(part, s, FIELDS)
#include "proto/storage.def"
#define STORAGE_MSG(msg, check, FIELDS) C3_GEN_ENCODER(storage, msg, FIELDS)
#define STORAGE_MSG_ARRAY(msg, check, FIELDS) C3_GEN_ENCODER(storage, msg, FIELDS)
#define STORAGE_MSG_PART(msg, part) C3_GEN_ENCODER(storage, msg, enc_##part(b, m);)
#include "proto/storage.def"
#undef F
#undef A

#define F C3_GEN_F_DEC
#define A C3_GEN_A_DEC
#define STORAGE_PART(part, s, check, FIELDS) C3_GEN_PART_DEC(part, s, check, FIELDS)
#include "proto/storage.def"
#define STORAGE_MSG(msg, check, FIELDS) C3_GEN_DECODER(storage, msg, check, FIELDS)
#define STORAGE_MSG_ARRAY(msg, check, FIELDS) C3_GEN_DECODER(storage, msg, check, FIELDS)
#define STORAGE_MSG_PART(msg, part) C3_GEN_DECODER(storage, msg, any_ok, dec_##part(d, m);)
#include "proto/storage.def"
#undef F
#undef A

#define F(kind, f)
#define A C3_GEN_A_REL
#define STORAGE_MSG_ARRAY(msg, check, FIELDS) C3_GEN_RELEASE(storage, msg, FIELDS)
#include "proto/storage.def"
#undef F
#undef A
