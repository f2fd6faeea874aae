/* test_storage_wire.c — the storage messages' wire format, pinned byte for byte, and the
 * decoders' refusals (bounds, enums, flags), so the codec can be rebuilt without changing
 * one byte (wire_test.h). */
#include <stdlib.h>
#include <string.h>

#include "proto/msg.h"
#include "proto/storage.h"
#define WIRE_PREFIX storage
#include "tests/unit/proto/wire_test.h"

#define RT(T)                                                                           \
	static int rt_##T(const void *p, size_t n, struct c3_buf *out)                  \
	{                                                                               \
		struct storage_##T m;                                                   \
		int rc = storage_##T##_decode(p, n, &m);                                \
		if (rc == 0 && out)                                                     \
			storage_##T##_encode(&m, out);                                  \
		return rc;                                                              \
	}
#define RT_REL(T)                                                                       \
	static int rt_##T(const void *p, size_t n, struct c3_buf *out)                  \
	{                                                                               \
		struct storage_##T m;                                                   \
		int rc = storage_##T##_decode(p, n, &m);                                \
		if (rc == 0 && out)                                                     \
			storage_##T##_encode(&m, out);                                  \
		storage_##T##_release(&m);                                              \
		return rc;                                                              \
	}
RT(io_result)
RT_REL(write_req)
RT_REL(read_req)
RT_REL(truncate_req)
RT_REL(batch_rsp)
RT(update_req)
RT(remove_req)
RT(remove_rsp)
RT(query_last_req)
RT(query_last_rsp)
RT(dump_req)
RT_REL(dump_rsp)
RT_REL(space_rsp)
RT(sync_done_req)
RT(repair_req)
RT(scrub_req)

static const struct storage_route ROUTE = { 0x01020304, 0x0a0b0c0d, 0x11121314 };
static const struct storage_chunk_id CHUNK = { 0x2122232425262728ull, 0x31323334 };
static const struct storage_tag TAG = { 0x4142434445464748ull, 0x51525354, 0x6162636465666768ull };

static void test_io_result(void)
{
	struct storage_io_result r = { -5, 4096, 0x1122334455667788ull, 8192, 0xdeadbeef, 7,
				       0x0102030405060708ull };

	GOLDEN(io_result, r, "fbffffff001000008877665544332211002000"
	       "00efbeadde070000000807060504030201");
	r.status = 1;
	REFUSED(io_result, r, "positive status");
	r.status = 0;
	r.length = STORAGE_CHUNK_SIZE_MAX + 1;
	REFUSED(io_result, r, "length over the chunk size limit");
	r.length = 0;
	r.chunk_len = STORAGE_CHUNK_SIZE_MAX + 1;
	REFUSED(io_result, r, "chunk_len over the chunk size limit");
}

static void test_write(void)
{
	struct storage_write_io ios[3] = {
		{ ROUTE, CHUNK, 100, 200, 1 << 20, 0xcafef00d, TAG },
		{ { 5, 6, 7 }, { 8, 9 }, 0, 0, 1, 0, { 0, 0, 0 } },
	};
	struct storage_write_req m = { 2, ios };

	GOLDEN(write_req, m,
	       "02000000040302010d0c0b0a1413121128272625242322213433323164000000"
	       "c8000000000010000df0feca4847464544434241545352516867666564636261"
	       "0500000006000000070000000800000000000000090000000000000000000000"
	       "01000000000000000000000000000000000000000000000000000000");
	m.nios = 0;
	GOLDEN(write_req, m, "00000000");
	m.nios = 1;
	ios[0].chunk_size = 0;
	REFUSED(write_req, m, "chunk_size 0");
	ios[0].chunk_size = STORAGE_CHUNK_SIZE_MAX + 1;
	ios[0].offset = 0;
	REFUSED(write_req, m, "chunk_size over the limit");
	ios[0].chunk_size = 4096;
	ios[0].offset = 4000;
	ios[0].length = 97;
	REFUSED(write_req, m, "offset + length past the chunk size");
	for (int i = 0; i < 3; i++)
		ios[i] = (struct storage_write_io){ ROUTE, CHUNK, 0, STORAGE_CHUNK_SIZE_MAX,
						    STORAGE_CHUNK_SIZE_MAX, 0, TAG };
	m.nios = 2;
	ENC(write_req, m);
	is_int(rt_write_req(b.data, b.len, NULL), 0, "write_req: 128 MiB in one batch");
	m.nios = 3;
	REFUSED(write_req, m, "more than STORAGE_MAX_BATCH_BYTES in one batch");
}

static void test_write_count(void)
{
	struct storage_write_io *ios = calloc(STORAGE_MAX_BATCH + 1, sizeof(*ios));
	struct storage_write_req m = { STORAGE_MAX_BATCH + 1, ios };

	for (uint32_t i = 0; i <= STORAGE_MAX_BATCH; i++)
		ios[i] = (struct storage_write_io){ ROUTE, CHUNK, 0, 1, 4096, 0, TAG };
	REFUSED(write_req, m, "more than STORAGE_MAX_BATCH ios");
	m.nios = STORAGE_MAX_BATCH;
	ENC(write_req, m);
	is_int(rt_write_req(b.data, b.len, NULL), 0, "write_req: STORAGE_MAX_BATCH ios");
	free(ios);
}

static void test_read(void)
{
	struct storage_read_io ios[3] = {
		{ ROUTE, CHUNK, 100, 200, 0 },
		{ { 5, 6, 7 }, { 8, 9 }, 0, STORAGE_CHUNK_SIZE_MAX, 0 },
	};
	struct storage_read_req m = { 2, ios };

	GOLDEN(read_req, m,
	       "02000000040302010d0c0b0a1413121128272625242322213433323164000000"
	       "c800000000000000050000000600000007000000080000000000000009000000"
	       "000000000000000400000000");
	m.nios = 1;
	ios[0].flags = 1;
	REFUSED(read_req, m, "flags not 0");
	ios[0].flags = 0;
	ios[0].offset = 1;
	ios[0].length = STORAGE_CHUNK_SIZE_MAX;
	REFUSED(read_req, m, "offset + length past the chunk size limit");
	for (int i = 0; i < 3; i++)
		ios[i] = (struct storage_read_io){ ROUTE, CHUNK, 0, STORAGE_CHUNK_SIZE_MAX, 0 };
	m.nios = 3;
	REFUSED(read_req, m, "more than STORAGE_MAX_BATCH_BYTES in one batch");
}

static void test_truncate(void)
{
	struct storage_truncate_io ios[2] = {
		{ ROUTE, CHUNK, 300, 1 << 20, STORAGE_TRUNC_F_ONLY_EXTEND, TAG },
		{ { 5, 6, 7 }, { 8, 9 }, 0, 1, 0, { 1, 2, 3 } },
	};
	struct storage_truncate_req m = { 2, ios };

	GOLDEN(truncate_req, m,
	       "02000000040302010d0c0b0a141312112827262524232221343332312c010000"
	       "0000100001000000484746454443424154535251686766656463626105000000"
	       "0600000007000000080000000000000009000000000000000100000000000000"
	       "0100000000000000020000000300000000000000");
	m.nios = 1;
	ios[0].length = (1 << 20) + 1;
	REFUSED(truncate_req, m, "length over the chunk size");
	ios[0].length = 0;
	ios[0].flags = 2;
	REFUSED(truncate_req, m, "unknown flag");
	ios[0].flags = 0;
	ios[0].chunk_size = 0;
	REFUSED(truncate_req, m, "chunk_size 0");
}

static void test_batch_rsp(void)
{
	struct storage_io_result r[2] = {
		{ -5, 4096, 0x1122334455667788ull, 8192, 0xdeadbeef, 7, 0x0102030405060708ull },
		{ 0, 1, 2, 3, 4, 5, 6 },
	};
	struct storage_batch_rsp m = { 2, r };

	GOLDEN(batch_rsp, m,
	       "02000000fbffffff00100000887766554433221100200000efbeadde07000000"
	       "0807060504030201000000000100000002000000000000000300000004000000"
	       "050000000600000000000000");
	m.nresults = 0;
	GOLDEN(batch_rsp, m, "00000000");
	m.nresults = 2;
	r[1].status = 3;
	REFUSED(batch_rsp, m, "a positive status");
}

static void test_update(void)
{
	struct storage_update_req m = { ROUTE, CHUNK, STORAGE_UPD_WRITE, STORAGE_UPD_F_FULL,
					0, 4096, 1 << 20, 0x7172737475767778ull, 0xabcdef01, TAG };
	struct storage_update_req q;

	GOLDEN(update_req, m,
	       "040302010d0c0b0a141312112827262524232221343332310101000000000010"
	       "000000001000787776757473727101efcdab4847464544434241545352516867"
	       "666564636261");
	m = (struct storage_update_req){ ROUTE, CHUNK, STORAGE_UPD_REMOVE,
					 STORAGE_UPD_F_SYNC, 0, 0, 0, 9, 0, TAG };
	GOLDEN(update_req, m,
	       "040302010d0c0b0a141312112827262524232221343332310302000000000000"
	       "0000000000000900000000000000000000004847464544434241545352516867"
	       "666564636261");
	q = m;
	q.type = 0;
	REFUSED(update_req, q, "type 0");
	q.type = STORAGE_UPD_REMOVE + 1;
	REFUSED(update_req, q, "unknown type");
	q = m;
	q.flags = STORAGE_UPD_F_MASK + 1;
	REFUSED(update_req, q, "unknown flag");
	q = m;
	q.update_ver = 0;
	REFUSED(update_req, q, "update_ver 0");
	q = (struct storage_update_req){ ROUTE, CHUNK, STORAGE_UPD_WRITE, 0, 10, 4096, 4096, 1,
					 0, TAG };
	REFUSED(update_req, q, "write past the chunk size");
	q.offset = 0;
	q.flags = STORAGE_UPD_F_SYNC;
	REFUSED(update_req, q, "SYNC write without FULL");
	q.flags = STORAGE_UPD_F_FULL;
	q.offset = 1;
	q.length = 1;
	REFUSED(update_req, q, "FULL with an offset");
	q = (struct storage_update_req){ ROUTE, CHUNK, STORAGE_UPD_TRUNCATE, STORAGE_UPD_F_FULL,
					 0, 10, 4096, 1, 0, TAG };
	REFUSED(update_req, q, "FULL truncate");
	q.flags = 0;
	q.length = 4097;
	REFUSED(update_req, q, "truncate past the chunk size");
	q.length = 4096;
	ENC(update_req, q);
	is_int(rt_update_req(b.data, b.len, NULL), 0, "update_req: truncate to the chunk size");
}

static void test_remove(void)
{
	struct storage_remove_req q = { ROUTE, 0x8182838485868788ull, 3, STORAGE_INDEX_END, 100,
					TAG };
	struct storage_remove_rsp r = { -2, 17, true, 9, 0x9192939495969798ull };

	GOLDEN(remove_req, q,
	       "040302010d0c0b0a14131211888786858483828103000000ffffffff64000000"
	       "4847464544434241545352516867666564636261");
	q.begin = 5;
	q.end = 4;
	REFUSED(remove_req, q, "end before begin");
	GOLDEN(remove_rsp, r,
	       "feffffff1100000001090000009897969594939291");
	r.status = 1;
	REFUSED(remove_rsp, r, "positive status");
}

static void test_query_last(void)
{
	struct storage_query_last_req q = { ROUTE, 0x8182838485868788ull };
	struct storage_query_last_rsp r = { -2, true, 41, 4096, 42, 0x0102030405060708ull, 9,
					    0x9192939495969798ull };

	GOLDEN(query_last_req, q,
	       "040302010d0c0b0a141312118887868584838281");
	GOLDEN(query_last_rsp, r,
	       "feffffff0129000000001000002a000000080706050403020109000000989796"
	       "9594939291");
	r.status = 1;
	REFUSED(query_last_rsp, r, "positive status");
	r.status = 0;
	r.last_len = STORAGE_CHUNK_SIZE_MAX + 1;
	REFUSED(query_last_rsp, r, "last_len over the chunk size limit");
}

static void test_dump(void)
{
	struct storage_dump_req q = { 0x01020304, true, CHUNK, 1000 };
	struct storage_chunk_meta e[2] = {
		{ CHUNK, 0x1112131415161718ull, 0x2122232425262728ull, 4096, 8192, 1 << 20, 7,
		  0xdeadbeef, STORAGE_META_F_CORRUPT },
		{ { 1, 2 }, 0, 0, 0, 0, 0, 0, 0, 0 },
	};
	struct storage_dump_rsp r = { -1, true, 2, e };

	GOLDEN(dump_req, q,
	       "0403020101282726252423222134333231e8030000");
	q.limit = 0;
	REFUSED(dump_req, q, "limit 0");
	q.limit = STORAGE_MAX_DUMP + 1;
	REFUSED(dump_req, q, "limit over STORAGE_MAX_DUMP");
	GOLDEN(dump_rsp, r,
	       "ffffffff01020000002827262524232221343332311817161514131211282726"
	       "252423222100100000002000000000100007000000efbeadde01000000010000"
	       "0000000000020000000000000000000000000000000000000000000000000000"
	       "0000000000000000000000000000000000");
	r.status = 1;
	REFUSED(dump_rsp, r, "positive status");
	r.status = 0;
	e[1].length = STORAGE_CHUNK_SIZE_MAX + 1;
	REFUSED(dump_rsp, r, "length over the limit");
	e[1].length = 0;
	e[1].pending_length = STORAGE_CHUNK_SIZE_MAX + 1;
	REFUSED(dump_rsp, r, "pending_length over the limit");
	e[1].pending_length = 0;
	e[1].chunk_size = STORAGE_CHUNK_SIZE_MAX + 1;
	REFUSED(dump_rsp, r, "chunk_size over the limit");
}

static void test_space(void)
{
	struct storage_target_info t[2] = {
		{ 0x01020304, 1, 0x1112131415161718ull, 0x2122232425262728ull,
		  0x3132333435363738ull, 0x4142434445464748ull },
		{ 9, 3, 1, 2, 3, 4 },
	};
	struct storage_space_rsp r = { -3, 2, t };
	struct storage_target_info *many = calloc(STORAGE_MAX_TARGETS + 1, sizeof(*many));

	GOLDEN(space_rsp, r,
	       "fdffffff02000000040302010118171615141312112827262524232221383736"
	       "3534333231484746454443424109000000030100000000000000020000000000"
	       "000003000000000000000400000000000000");
	r.status = 1;
	REFUSED(space_rsp, r, "positive status");
	r.status = 0;
	t[1].local_state = 0;
	REFUSED(space_rsp, r, "local state 0");
	t[1].local_state = 4;
	REFUSED(space_rsp, r, "local state out of range");
	for (int i = 0; i <= STORAGE_MAX_TARGETS; i++)
		many[i] = t[0];
	r.targets = many;
	r.ntargets = STORAGE_MAX_TARGETS + 1;
	REFUSED(space_rsp, r, "more than STORAGE_MAX_TARGETS");
	free(many);
}

static void test_small(void)
{
	struct storage_sync_done_req s = { ROUTE };
	struct storage_repair_req rp = { ROUTE, 0x41424344, CHUNK };
	struct storage_scrub_req sc = { 0x01020304 };

	GOLDEN(sync_done_req, s,
	       "040302010d0c0b0a14131211");
	GOLDEN(repair_req, rp,
	       "040302010d0c0b0a1413121144434241282726252423222134333231");
	rp.dest_target = 0;
	REFUSED(repair_req, rp, "dest_target 0");
	rp.dest_target = ROUTE.target_id;
	REFUSED(repair_req, rp, "dest_target is the target asked");
	GOLDEN(scrub_req, sc,
	       "04030201");
}

static void test_names(void)
{
	static const struct { uint16_t type; const char *name; } names[] = {
		{ STORAGE_T_WRITE, "write" },         { STORAGE_T_READ, "read" },
		{ STORAGE_T_UPDATE, "update" },       { STORAGE_T_TRUNCATE, "truncate" },
		{ STORAGE_T_REMOVE, "remove" },       { STORAGE_T_QUERY_LAST, "query_last" },
		{ STORAGE_T_DUMP_META, "dump_meta" }, { STORAGE_T_SPACE_INFO, "space_info" },
		{ STORAGE_T_SYNC_DONE, "sync_done" }, { STORAGE_T_REPAIR, "repair" },
		{ STORAGE_T_SCRUB, "scrub" },
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *n = c3_msg_name(names[i].type);

		bad += strcmp(n, names[i].name) != 0;
	}
	is_int(bad, 0, "c3_msg_name names every storage message");
	ok(strcmp(c3_msg_name(311), "?") == 0, "c3_msg_name: \"?\" past the storage types");
}

int main(void)
{
	test_io_result();
	test_write();
	test_write_count();
	test_read();
	test_truncate();
	test_batch_rsp();
	test_update();
	test_remove();
	test_query_last();
	test_dump();
	test_space();
	test_small();
	test_names();
	c3_buf_release(&b);
	return tap_done();
}
