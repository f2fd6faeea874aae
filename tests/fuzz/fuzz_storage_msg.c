/* fuzz_storage_msg.c — every decoder of proto/storage.h on hostile bytes.
 *
 * The first input byte picks the decoder; the rest is the payload.  A successful decode is
 * re-encoded and decoded again: the second decode must succeed and re-encode to the same
 * bytes (encoder and decoder agree), and decoded values must respect the documented
 * bounds (e.g. offset + length within the chunk size).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "proto/storage.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

/* Compare the encodings of two buffers built from the same decoded message. */
static void same(const struct c3_buf *a, const struct c3_buf *b)
{
	check(a->err == b->err);
	check(a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0));
}

#define ROUNDTRIP(T, enc, dec, rel)                                                    \
	do {                                                                           \
		T m1, m2;                                                              \
		struct c3_buf b1 = C3_BUF_INIT, b2 = C3_BUF_INIT;                      \
		if (dec(p, n, &m1) == 0) {                                             \
			enc(&m1, &b1);                                                 \
			check(b1.err == 0);                                            \
			check(dec(b1.data, b1.len, &m2) == 0);                         \
			enc(&m2, &b2);                                                 \
			same(&b1, &b2);                                                \
			extra_checks_##T(&m1);                                         \
			rel(&m2);                                                      \
		}                                                                      \
		rel(&m1);                                                              \
		c3_buf_release(&b1);                                                   \
		c3_buf_release(&b2);                                                   \
	} while (0)

typedef struct storage_write_req write_req;
typedef struct storage_read_req read_req;
typedef struct storage_truncate_req trunc_req;
typedef struct storage_batch_rsp batch_rsp;
typedef struct storage_update_req update_req;
typedef struct storage_remove_req remove_req;
typedef struct storage_remove_rsp remove_rsp;
typedef struct storage_query_last_req ql_req;
typedef struct storage_query_last_rsp ql_rsp;
typedef struct storage_dump_req dump_req;
typedef struct storage_dump_rsp dump_rsp;
typedef struct storage_space_rsp space_rsp;
typedef struct storage_io_result io_result;
typedef struct storage_sync_done_req sync_done_req;
typedef struct storage_repair_req repair_req;
typedef struct storage_scrub_req scrub_req;

static void extra_checks_write_req(const write_req *m)
{
	uint64_t total = 0;

	check(m->nios <= STORAGE_MAX_BATCH);
	for (uint32_t i = 0; i < m->nios; i++) {
		check(m->ios[i].chunk_size >= 1 && m->ios[i].chunk_size <= STORAGE_CHUNK_SIZE_MAX);
		check((uint64_t)m->ios[i].offset + m->ios[i].length <= m->ios[i].chunk_size);
		total += m->ios[i].length;
	}
	check(total <= STORAGE_MAX_BATCH_BYTES);
}
static void extra_checks_read_req(const read_req *m)
{
	for (uint32_t i = 0; i < m->nios; i++)
		check((uint64_t)m->ios[i].offset + m->ios[i].length <= STORAGE_CHUNK_SIZE_MAX);
}
static void extra_checks_trunc_req(const trunc_req *m)
{
	for (uint32_t i = 0; i < m->nios; i++)
		check(m->ios[i].length <= m->ios[i].chunk_size);
}
static void extra_checks_batch_rsp(const batch_rsp *m)
{
	for (uint32_t i = 0; i < m->nresults; i++)
		check(m->results[i].status <= 0);
}
static void extra_checks_update_req(const update_req *m)
{
	check(m->type >= STORAGE_UPD_WRITE && m->type <= STORAGE_UPD_REMOVE && m->update_ver);
	check(!(m->flags & ~STORAGE_UPD_F_MASK));
	if (m->type == STORAGE_UPD_WRITE)
		check((uint64_t)m->offset + m->length <= m->chunk_size);
}
static void extra_checks_remove_req(const remove_req *m) { check(m->begin <= m->end); }
static void extra_checks_remove_rsp(const remove_rsp *m) { check(m->status <= 0); }
static void extra_checks_ql_req(const ql_req *m) { (void)m; }
static void extra_checks_ql_rsp(const ql_rsp *m) { check(m->status <= 0); }
static void extra_checks_dump_req(const dump_req *m)
{
	check(m->limit >= 1 && m->limit <= STORAGE_MAX_DUMP);
}
static void extra_checks_dump_rsp(const dump_rsp *m) { check(m->nentries <= STORAGE_MAX_DUMP); }
static void extra_checks_space_rsp(const space_rsp *m) { check(m->ntargets <= STORAGE_MAX_TARGETS); }
static void extra_checks_io_result(const io_result *m) { check(m->status <= 0); }
static void extra_checks_sync_done_req(const sync_done_req *m) { (void)m; }
static void extra_checks_repair_req(const repair_req *m)
{
	check(m->dest_target != 0 && m->dest_target != m->route.target_id);
}
static void extra_checks_scrub_req(const scrub_req *m) { (void)m; }

static void no_release(void *m) { (void)m; }
#define NOREL(T) static void rel_##T(T *m) { no_release(m); }
NOREL(update_req)
NOREL(remove_req)
NOREL(remove_rsp)
NOREL(ql_req)
NOREL(ql_rsp)
NOREL(dump_req)
NOREL(io_result)
NOREL(sync_done_req)
NOREL(repair_req)
NOREL(scrub_req)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p;
	size_t n;

	if (size < 1)
		return 0;
	p = data + 1;
	n = size - 1;
	switch (data[0] % 16) {
	case 0: ROUNDTRIP(write_req, storage_write_req_encode, storage_write_req_decode, storage_write_req_release); break;
	case 1: ROUNDTRIP(read_req, storage_read_req_encode, storage_read_req_decode, storage_read_req_release); break;
	case 2: ROUNDTRIP(trunc_req, storage_truncate_req_encode, storage_truncate_req_decode, storage_truncate_req_release); break;
	case 3: ROUNDTRIP(batch_rsp, storage_batch_rsp_encode, storage_batch_rsp_decode, storage_batch_rsp_release); break;
	case 4: ROUNDTRIP(update_req, storage_update_req_encode, storage_update_req_decode, rel_update_req); break;
	case 5: ROUNDTRIP(remove_req, storage_remove_req_encode, storage_remove_req_decode, rel_remove_req); break;
	case 6: ROUNDTRIP(remove_rsp, storage_remove_rsp_encode, storage_remove_rsp_decode, rel_remove_rsp); break;
	case 7: ROUNDTRIP(ql_req, storage_query_last_req_encode, storage_query_last_req_decode, rel_ql_req); break;
	case 8: ROUNDTRIP(ql_rsp, storage_query_last_rsp_encode, storage_query_last_rsp_decode, rel_ql_rsp); break;
	case 9: ROUNDTRIP(dump_req, storage_dump_req_encode, storage_dump_req_decode, rel_dump_req); break;
	case 10: ROUNDTRIP(dump_rsp, storage_dump_rsp_encode, storage_dump_rsp_decode, storage_dump_rsp_release); break;
	case 11: ROUNDTRIP(space_rsp, storage_space_rsp_encode, storage_space_rsp_decode, storage_space_rsp_release); break;
	case 13: ROUNDTRIP(sync_done_req, storage_sync_done_req_encode, storage_sync_done_req_decode, rel_sync_done_req); break;
	case 14: ROUNDTRIP(repair_req, storage_repair_req_encode, storage_repair_req_decode, rel_repair_req); break;
	case 15: ROUNDTRIP(scrub_req, storage_scrub_req_encode, storage_scrub_req_decode, rel_scrub_req); break;
	default: ROUNDTRIP(io_result, storage_io_result_encode, storage_io_result_decode, rel_io_result); break;
	}
	return 0;
}
