/* proto/storage.c — encode/decode of the storage service messages (see storage.h).
 *
 * Every decoder treats its input as hostile: counts are bounded before allocating (by the
 * protocol limit and by the bytes left), enums and flags are checked, offsets and lengths
 * are range-checked so a handler never sees an io that runs past STORAGE_CHUNK_SIZE_MAX.
 */
#include "proto/storage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/codec.h"

/* wire sizes of fixed parts, used to bound array counts */
#define ROUTE_BYTES   12
#define CHUNK_BYTES   12
#define TAG_BYTES     20
#define RESULT_BYTES  36
#define WRITE_IO_BYTES (ROUTE_BYTES + CHUNK_BYTES + 16 + TAG_BYTES)
#define READ_IO_BYTES  (ROUTE_BYTES + CHUNK_BYTES + 12)
#define TRUNC_IO_BYTES (ROUTE_BYTES + CHUNK_BYTES + 12 + TAG_BYTES)
#define META_BYTES     (CHUNK_BYTES + 16 + 24)
#define TINFO_BYTES    (4 + 1 + 32)

static void enc_route(struct c3_buf *b, const struct storage_route *r)
{
	c3_enc_u32(b, r->chain_id);
	c3_enc_u32(b, r->chain_ver);
	c3_enc_u32(b, r->target_id);
}

static void dec_route(struct c3_dec *d, struct storage_route *r)
{
	r->chain_id = c3_dec_u32(d);
	r->chain_ver = c3_dec_u32(d);
	r->target_id = c3_dec_u32(d);
}

static void enc_chunk(struct c3_buf *b, const struct storage_chunk_id *c)
{
	c3_enc_u64(b, c->inode);
	c3_enc_u32(b, c->index);
}

static void dec_chunk(struct c3_dec *d, struct storage_chunk_id *c)
{
	c->inode = c3_dec_u64(d);
	c->index = c3_dec_u32(d);
}

static void enc_tag(struct c3_buf *b, const struct storage_tag *t)
{
	c3_enc_u64(b, t->client_id);
	c3_enc_u32(b, t->channel);
	c3_enc_u64(b, t->seq);
}

static void dec_tag(struct c3_dec *d, struct storage_tag *t)
{
	t->client_id = c3_dec_u64(d);
	t->channel = c3_dec_u32(d);
	t->seq = c3_dec_u64(d);
}

static void enc_result(struct c3_buf *b, const struct storage_io_result *r)
{
	c3_enc_i32(b, r->status);
	c3_enc_u32(b, r->length);
	c3_enc_u64(b, r->commit_ver);
	c3_enc_u32(b, r->chunk_len);
	c3_enc_u32(b, r->crc);
	c3_enc_u32(b, r->chain_ver);
	c3_enc_u64(b, r->routing_ver);
}

static void dec_result(struct c3_dec *d, struct storage_io_result *r)
{
	r->status = c3_dec_i32(d);
	r->length = c3_dec_u32(d);
	r->commit_ver = c3_dec_u64(d);
	r->chunk_len = c3_dec_u32(d);
	r->crc = c3_dec_u32(d);
	r->chain_ver = c3_dec_u32(d);
	r->routing_ver = c3_dec_u64(d);
	/* a status is 0 or negative; lengths are bounded by the chunk size limit */
	if (r->status > 0 || r->length > STORAGE_CHUNK_SIZE_MAX ||
	    r->chunk_len > STORAGE_CHUNK_SIZE_MAX)
		d->err = -C3FS_EBADMSG;
}

/* chunk_size in 1..max, offset+length within it */
static bool range_ok(uint32_t offset, uint32_t length, uint32_t chunk_size)
{
	if (chunk_size == 0 || chunk_size > STORAGE_CHUNK_SIZE_MAX)
		return false;
	return (uint64_t)offset + length <= chunk_size;
}

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

/* ---------------------------------------------------------------- result */

void storage_io_result_encode(const struct storage_io_result *r, struct c3_buf *b)
{
	enc_result(b, r);
}

int storage_io_result_decode(const void *p, size_t n, struct storage_io_result *out)
{
	struct c3_dec d;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	dec_result(&d, out);
	return c3_dec_finish(&d);
}

/* ---------------------------------------------------------------- write */

void storage_write_req_encode(const struct storage_write_req *m, struct c3_buf *b)
{
	c3_enc_u32(b, m->nios);
	for (uint32_t i = 0; i < m->nios; i++) {
		const struct storage_write_io *io = &m->ios[i];

		enc_route(b, &io->route);
		enc_chunk(b, &io->chunk);
		c3_enc_u32(b, io->offset);
		c3_enc_u32(b, io->length);
		c3_enc_u32(b, io->chunk_size);
		c3_enc_u32(b, io->crc);
		enc_tag(b, &io->tag);
	}
}

int storage_write_req_decode(const void *p, size_t n, struct storage_write_req *out)
{
	struct c3_dec d;
	uint64_t total = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	out->nios = c3_dec_count(&d, STORAGE_MAX_BATCH, WRITE_IO_BYTES);
	if (d.err)
		return d.err;
	out->ios = alloc_array(out->nios, sizeof(*out->ios), &err);
	if (err) {
		out->nios = 0;
		return err;
	}
	for (uint32_t i = 0; i < out->nios && !d.err; i++) {
		struct storage_write_io *io = &out->ios[i];

		dec_route(&d, &io->route);
		dec_chunk(&d, &io->chunk);
		io->offset = c3_dec_u32(&d);
		io->length = c3_dec_u32(&d);
		io->chunk_size = c3_dec_u32(&d);
		io->crc = c3_dec_u32(&d);
		dec_tag(&d, &io->tag);
		if (!d.err && !range_ok(io->offset, io->length, io->chunk_size))
			d.err = -C3FS_EBADMSG;
		total += io->length;
	}
	if (!d.err && total > STORAGE_MAX_BATCH_BYTES)
		d.err = -C3FS_EBADMSG;
	return c3_dec_finish(&d);
}

void storage_write_req_release(struct storage_write_req *m)
{
	free(m->ios);
	m->ios = NULL;
	m->nios = 0;
}

/* ---------------------------------------------------------------- read */

void storage_read_req_encode(const struct storage_read_req *m, struct c3_buf *b)
{
	c3_enc_u32(b, m->nios);
	for (uint32_t i = 0; i < m->nios; i++) {
		const struct storage_read_io *io = &m->ios[i];

		enc_route(b, &io->route);
		enc_chunk(b, &io->chunk);
		c3_enc_u32(b, io->offset);
		c3_enc_u32(b, io->length);
		c3_enc_u32(b, io->flags);
	}
}

int storage_read_req_decode(const void *p, size_t n, struct storage_read_req *out)
{
	struct c3_dec d;
	uint64_t total = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	out->nios = c3_dec_count(&d, STORAGE_MAX_BATCH, READ_IO_BYTES);
	if (d.err)
		return d.err;
	out->ios = alloc_array(out->nios, sizeof(*out->ios), &err);
	if (err) {
		out->nios = 0;
		return err;
	}
	for (uint32_t i = 0; i < out->nios && !d.err; i++) {
		struct storage_read_io *io = &out->ios[i];

		dec_route(&d, &io->route);
		dec_chunk(&d, &io->chunk);
		io->offset = c3_dec_u32(&d);
		io->length = c3_dec_u32(&d);
		io->flags = c3_dec_u32(&d);
		if (!d.err && (!range_ok(io->offset, io->length, STORAGE_CHUNK_SIZE_MAX) ||
			       io->flags != 0))
			d.err = -C3FS_EBADMSG;
		total += io->length;
	}
	if (!d.err && total > STORAGE_MAX_BATCH_BYTES)
		d.err = -C3FS_EBADMSG;
	return c3_dec_finish(&d);
}

void storage_read_req_release(struct storage_read_req *m)
{
	free(m->ios);
	m->ios = NULL;
	m->nios = 0;
}

/* ---------------------------------------------------------------- truncate */

void storage_truncate_req_encode(const struct storage_truncate_req *m, struct c3_buf *b)
{
	c3_enc_u32(b, m->nios);
	for (uint32_t i = 0; i < m->nios; i++) {
		const struct storage_truncate_io *io = &m->ios[i];

		enc_route(b, &io->route);
		enc_chunk(b, &io->chunk);
		c3_enc_u32(b, io->length);
		c3_enc_u32(b, io->chunk_size);
		c3_enc_u32(b, io->flags);
		enc_tag(b, &io->tag);
	}
}

int storage_truncate_req_decode(const void *p, size_t n, struct storage_truncate_req *out)
{
	struct c3_dec d;
	int err = 0;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	out->nios = c3_dec_count(&d, STORAGE_MAX_BATCH, TRUNC_IO_BYTES);
	if (d.err)
		return d.err;
	out->ios = alloc_array(out->nios, sizeof(*out->ios), &err);
	if (err) {
		out->nios = 0;
		return err;
	}
	for (uint32_t i = 0; i < out->nios && !d.err; i++) {
		struct storage_truncate_io *io = &out->ios[i];

		dec_route(&d, &io->route);
		dec_chunk(&d, &io->chunk);
		io->length = c3_dec_u32(&d);
		io->chunk_size = c3_dec_u32(&d);
		io->flags = c3_dec_u32(&d);
		dec_tag(&d, &io->tag);
		if (!d.err && (!range_ok(0, io->length, io->chunk_size) ||
			       (io->flags & ~STORAGE_TRUNC_F_MASK)))
			d.err = -C3FS_EBADMSG;
	}
	return c3_dec_finish(&d);
}

void storage_truncate_req_release(struct storage_truncate_req *m)
{
	free(m->ios);
	m->ios = NULL;
	m->nios = 0;
}

/* ---------------------------------------------------------------- batch reply */

void storage_batch_rsp_encode(const struct storage_batch_rsp *m, struct c3_buf *b)
{
	c3_enc_u32(b, m->nresults);
	for (uint32_t i = 0; i < m->nresults; i++)
		enc_result(b, &m->results[i]);
}

int storage_batch_rsp_decode(const void *p, size_t n, struct storage_batch_rsp *out)
{
	struct c3_dec d;
	int err = 0;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	out->nresults = c3_dec_count(&d, STORAGE_MAX_BATCH, RESULT_BYTES);
	if (d.err)
		return d.err;
	out->results = alloc_array(out->nresults, sizeof(*out->results), &err);
	if (err) {
		out->nresults = 0;
		return err;
	}
	for (uint32_t i = 0; i < out->nresults && !d.err; i++)
		dec_result(&d, &out->results[i]);
	return c3_dec_finish(&d);
}

void storage_batch_rsp_release(struct storage_batch_rsp *m)
{
	free(m->results);
	m->results = NULL;
	m->nresults = 0;
}

/* ---------------------------------------------------------------- update */

void storage_update_req_encode(const struct storage_update_req *m, struct c3_buf *b)
{
	enc_route(b, &m->route);
	enc_chunk(b, &m->chunk);
	c3_enc_u8(b, m->type);
	c3_enc_u8(b, m->flags);
	c3_enc_u32(b, m->offset);
	c3_enc_u32(b, m->length);
	c3_enc_u32(b, m->chunk_size);
	c3_enc_u64(b, m->update_ver);
	c3_enc_u32(b, m->crc);
	enc_tag(b, &m->tag);
}

int storage_update_req_decode(const void *p, size_t n, struct storage_update_req *out)
{
	struct c3_dec d;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	dec_route(&d, &out->route);
	dec_chunk(&d, &out->chunk);
	out->type = c3_dec_u8(&d);
	out->flags = c3_dec_u8(&d);
	out->offset = c3_dec_u32(&d);
	out->length = c3_dec_u32(&d);
	out->chunk_size = c3_dec_u32(&d);
	out->update_ver = c3_dec_u64(&d);
	out->crc = c3_dec_u32(&d);
	dec_tag(&d, &out->tag);
	if (d.err)
		return d.err;
	if (out->type < STORAGE_UPD_WRITE || out->type > STORAGE_UPD_REMOVE ||
	    (out->flags & ~STORAGE_UPD_F_MASK) || out->update_ver == 0)
		return -C3FS_EBADMSG;
	if (out->type == STORAGE_UPD_WRITE && !range_ok(out->offset, out->length, out->chunk_size))
		return -C3FS_EBADMSG;
	if ((out->flags & STORAGE_UPD_F_FULL) && (out->type != STORAGE_UPD_WRITE || out->offset))
		return -C3FS_EBADMSG;
	if ((out->flags & STORAGE_UPD_F_SYNC) && out->type != STORAGE_UPD_REMOVE &&
	    !(out->flags & STORAGE_UPD_F_FULL))
		return -C3FS_EBADMSG;
	if (out->type == STORAGE_UPD_TRUNCATE && !range_ok(0, out->length, out->chunk_size))
		return -C3FS_EBADMSG;
	return 0;
}

/* ---------------------------------------------------------------- remove */

void storage_remove_req_encode(const struct storage_remove_req *m, struct c3_buf *b)
{
	enc_route(b, &m->route);
	c3_enc_u64(b, m->inode);
	c3_enc_u32(b, m->begin);
	c3_enc_u32(b, m->end);
	c3_enc_u32(b, m->max);
	enc_tag(b, &m->tag);
}

int storage_remove_req_decode(const void *p, size_t n, struct storage_remove_req *out)
{
	struct c3_dec d;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	dec_route(&d, &out->route);
	out->inode = c3_dec_u64(&d);
	out->begin = c3_dec_u32(&d);
	out->end = c3_dec_u32(&d);
	out->max = c3_dec_u32(&d);
	dec_tag(&d, &out->tag);
	if (d.err)
		return d.err;
	if (out->end < out->begin)
		return -C3FS_EBADMSG;
	return 0;
}

void storage_remove_rsp_encode(const struct storage_remove_rsp *m, struct c3_buf *b)
{
	c3_enc_i32(b, m->status);
	c3_enc_u32(b, m->removed);
	c3_enc_bool(b, m->more);
	c3_enc_u32(b, m->chain_ver);
	c3_enc_u64(b, m->routing_ver);
}

int storage_remove_rsp_decode(const void *p, size_t n, struct storage_remove_rsp *out)
{
	struct c3_dec d;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	out->status = c3_dec_i32(&d);
	out->removed = c3_dec_u32(&d);
	out->more = c3_dec_bool(&d);
	out->chain_ver = c3_dec_u32(&d);
	out->routing_ver = c3_dec_u64(&d);
	if (!d.err && out->status > 0)
		return -C3FS_EBADMSG;
	return c3_dec_finish(&d);
}

/* ---------------------------------------------------------------- query last */

void storage_query_last_req_encode(const struct storage_query_last_req *m, struct c3_buf *b)
{
	enc_route(b, &m->route);
	c3_enc_u64(b, m->inode);
}

int storage_query_last_req_decode(const void *p, size_t n, struct storage_query_last_req *out)
{
	struct c3_dec d;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	dec_route(&d, &out->route);
	out->inode = c3_dec_u64(&d);
	return c3_dec_finish(&d);
}

void storage_query_last_rsp_encode(const struct storage_query_last_rsp *m, struct c3_buf *b)
{
	c3_enc_i32(b, m->status);
	c3_enc_bool(b, m->found);
	c3_enc_u32(b, m->last_index);
	c3_enc_u32(b, m->last_len);
	c3_enc_u32(b, m->nchunks);
	c3_enc_u64(b, m->total_bytes);
	c3_enc_u32(b, m->chain_ver);
	c3_enc_u64(b, m->routing_ver);
}

int storage_query_last_rsp_decode(const void *p, size_t n, struct storage_query_last_rsp *out)
{
	struct c3_dec d;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	out->status = c3_dec_i32(&d);
	out->found = c3_dec_bool(&d);
	out->last_index = c3_dec_u32(&d);
	out->last_len = c3_dec_u32(&d);
	out->nchunks = c3_dec_u32(&d);
	out->total_bytes = c3_dec_u64(&d);
	out->chain_ver = c3_dec_u32(&d);
	out->routing_ver = c3_dec_u64(&d);
	if (!d.err && (out->status > 0 || out->last_len > STORAGE_CHUNK_SIZE_MAX))
		return -C3FS_EBADMSG;
	return c3_dec_finish(&d);
}

/* ---------------------------------------------------------------- dump meta */

void storage_dump_req_encode(const struct storage_dump_req *m, struct c3_buf *b)
{
	c3_enc_u32(b, m->target_id);
	c3_enc_bool(b, m->has_after);
	enc_chunk(b, &m->after);
	c3_enc_u32(b, m->limit);
}

int storage_dump_req_decode(const void *p, size_t n, struct storage_dump_req *out)
{
	struct c3_dec d;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	out->target_id = c3_dec_u32(&d);
	out->has_after = c3_dec_bool(&d);
	dec_chunk(&d, &out->after);
	out->limit = c3_dec_u32(&d);
	if (!d.err && (out->limit == 0 || out->limit > STORAGE_MAX_DUMP))
		return -C3FS_EBADMSG;
	return c3_dec_finish(&d);
}

void storage_dump_rsp_encode(const struct storage_dump_rsp *m, struct c3_buf *b)
{
	c3_enc_i32(b, m->status);
	c3_enc_bool(b, m->more);
	c3_enc_u32(b, m->nentries);
	for (uint32_t i = 0; i < m->nentries; i++) {
		const struct storage_chunk_meta *e = &m->entries[i];

		enc_chunk(b, &e->chunk);
		c3_enc_u64(b, e->commit_ver);
		c3_enc_u64(b, e->pending_ver);
		c3_enc_u32(b, e->length);
		c3_enc_u32(b, e->pending_length);
		c3_enc_u32(b, e->chunk_size);
		c3_enc_u32(b, e->chain_ver);
		c3_enc_u32(b, e->digest);
		c3_enc_u32(b, e->flags);
	}
}

int storage_dump_rsp_decode(const void *p, size_t n, struct storage_dump_rsp *out)
{
	struct c3_dec d;
	int err = 0;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	out->status = c3_dec_i32(&d);
	out->more = c3_dec_bool(&d);
	out->nentries = c3_dec_count(&d, STORAGE_MAX_DUMP, META_BYTES);
	if (d.err)
		return d.err;
	if (out->status > 0)
		return -C3FS_EBADMSG;
	out->entries = alloc_array(out->nentries, sizeof(*out->entries), &err);
	if (err) {
		out->nentries = 0;
		return err;
	}
	for (uint32_t i = 0; i < out->nentries && !d.err; i++) {
		struct storage_chunk_meta *e = &out->entries[i];

		dec_chunk(&d, &e->chunk);
		e->commit_ver = c3_dec_u64(&d);
		e->pending_ver = c3_dec_u64(&d);
		e->length = c3_dec_u32(&d);
		e->pending_length = c3_dec_u32(&d);
		e->chunk_size = c3_dec_u32(&d);
		e->chain_ver = c3_dec_u32(&d);
		e->digest = c3_dec_u32(&d);
		e->flags = c3_dec_u32(&d);
		if (!d.err && (e->length > STORAGE_CHUNK_SIZE_MAX ||
			       e->pending_length > STORAGE_CHUNK_SIZE_MAX ||
			       e->chunk_size > STORAGE_CHUNK_SIZE_MAX))
			d.err = -C3FS_EBADMSG;
	}
	return c3_dec_finish(&d);
}

void storage_dump_rsp_release(struct storage_dump_rsp *m)
{
	free(m->entries);
	m->entries = NULL;
	m->nentries = 0;
}

/* ---------------------------------------------------------------- space info */

void storage_space_rsp_encode(const struct storage_space_rsp *m, struct c3_buf *b)
{
	c3_enc_i32(b, m->status);
	c3_enc_u32(b, m->ntargets);
	for (uint32_t i = 0; i < m->ntargets; i++) {
		const struct storage_target_info *t = &m->targets[i];

		c3_enc_u32(b, t->target_id);
		c3_enc_u8(b, t->local_state);
		c3_enc_u64(b, t->capacity_bytes);
		c3_enc_u64(b, t->free_bytes);
		c3_enc_u64(b, t->nchunks);
		c3_enc_u64(b, t->used_bytes);
	}
}

int storage_space_rsp_decode(const void *p, size_t n, struct storage_space_rsp *out)
{
	struct c3_dec d;
	int err = 0;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	out->status = c3_dec_i32(&d);
	out->ntargets = c3_dec_count(&d, STORAGE_MAX_TARGETS, TINFO_BYTES);
	if (d.err)
		return d.err;
	if (out->status > 0)
		return -C3FS_EBADMSG;
	out->targets = alloc_array(out->ntargets, sizeof(*out->targets), &err);
	if (err) {
		out->ntargets = 0;
		return err;
	}
	for (uint32_t i = 0; i < out->ntargets && !d.err; i++) {
		struct storage_target_info *t = &out->targets[i];

		t->target_id = c3_dec_u32(&d);
		t->local_state = c3_dec_u8(&d);
		t->capacity_bytes = c3_dec_u64(&d);
		t->free_bytes = c3_dec_u64(&d);
		t->nchunks = c3_dec_u64(&d);
		t->used_bytes = c3_dec_u64(&d);
		if (!d.err && (t->local_state < 1 || t->local_state > 3))
			d.err = -C3FS_EBADMSG;
	}
	return c3_dec_finish(&d);
}

void storage_space_rsp_release(struct storage_space_rsp *m)
{
	free(m->targets);
	m->targets = NULL;
	m->ntargets = 0;
}

/* ---------------------------------------------------------------- sync done */

void storage_sync_done_req_encode(const struct storage_sync_done_req *m, struct c3_buf *b)
{
	enc_route(b, &m->route);
}

int storage_sync_done_req_decode(const void *p, size_t n, struct storage_sync_done_req *out)
{
	struct c3_dec d;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	dec_route(&d, &out->route);
	return c3_dec_finish(&d);
}

void storage_repair_req_encode(const struct storage_repair_req *m, struct c3_buf *b)
{
	enc_route(b, &m->route);
	c3_enc_u32(b, m->dest_target);
	enc_chunk(b, &m->chunk);
}

int storage_repair_req_decode(const void *p, size_t n, struct storage_repair_req *out)
{
	struct c3_dec d;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	dec_route(&d, &out->route);
	out->dest_target = c3_dec_u32(&d);
	dec_chunk(&d, &out->chunk);
	if (!d.err && (out->dest_target == 0 || out->dest_target == out->route.target_id))
		return -C3FS_EBADMSG;
	return c3_dec_finish(&d);
}

void storage_scrub_req_encode(const struct storage_scrub_req *m, struct c3_buf *b)
{
	c3_enc_u32(b, m->target_id);
}

int storage_scrub_req_decode(const void *p, size_t n, struct storage_scrub_req *out)
{
	struct c3_dec d;

	memset(out, 0, sizeof(*out));
	c3_dec_init(&d, p, n);
	out->target_id = c3_dec_u32(&d);
	return c3_dec_finish(&d);
}

const char *storage_msg_name(uint16_t type)
{
	switch (type) {
	case STORAGE_T_WRITE: return "write";
	case STORAGE_T_READ: return "read";
	case STORAGE_T_UPDATE: return "update";
	case STORAGE_T_TRUNCATE: return "truncate";
	case STORAGE_T_REMOVE: return "remove";
	case STORAGE_T_QUERY_LAST: return "query_last";
	case STORAGE_T_DUMP_META: return "dump_meta";
	case STORAGE_T_SPACE_INFO: return "space_info";
	case STORAGE_T_SYNC_DONE: return "sync_done";
	case STORAGE_T_REPAIR: return "repair";
	case STORAGE_T_SCRUB: return "scrub";
	default: return NULL;
	}
}
