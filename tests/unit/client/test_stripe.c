/* test_stripe.c — libc3fs striping: byte ranges -> chunk pieces on chains, iovec slicing,
 * the read replica choice (least loaded node, ties in rotation order, a failed one
 * avoided). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../../lib/tap.h"
#include "client/client_int.h"
#include "common/errors.h"

static void test_plan_basic(void)
{
	struct meta_layout l = { .chunk_size = 1u << 20, .stripe = 4, .table_id = 1,
				 .table_version = 1, .base = 5, .seed = 42, .dyn_stripe = 1 };
	uint32_t perm[4], chains[8] = { 11, 12, 13, 14, 15, 16, 17, 18 };
	struct client_piece pc[16];
	uint64_t total = 0;
	int n, i;

	meta_layout_perm(&l, perm);
	/* 3 MiB starting 100 bytes before the end of chunk 2 */
	n = client__stripe_plan(&l, perm, chains, 8, 3 * (1u << 20) - 100, 3u << 20, pc, 16);
	is_int(n, 4, "range over 4 chunks gives 4 pieces");
	is_int(pc[0].chunk_index, 2, "first piece in chunk 2");
	is_int(pc[0].chunk_off, (1u << 20) - 100, "first piece starts 100 bytes before the end");
	is_int(pc[0].len, 100, "first piece is 100 bytes");
	is_int(pc[1].chunk_off, 0, "middle pieces start at chunk offset 0");
	is_int(pc[1].len, 1u << 20, "middle pieces are whole chunks");
	is_int(pc[3].len, (1u << 20) - 100, "last piece is the rest");
	for (i = 0; i < n; i++) {
		int64_t want = meta_layout_chunk_chain(&l, chains, 8, pc[i].chunk_index);

		ok(want > 0 && (uint32_t)want == pc[i].chain_id, "piece chain matches meta's layout math");
		is_int(pc[i].buf_off, total, "buf_off counts from the start of the range");
		total += pc[i].len;
	}
	is_int(total, 3u << 20, "pieces cover the whole range");
}

static void test_plan_edges(void)
{
	struct meta_layout l = { .chunk_size = 64u << 10, .stripe = 2, .table_id = 1,
				 .base = 0, .seed = 7, .dyn_stripe = 1 };
	uint32_t perm[2], chains[2] = { 1, 2 };
	struct client_piece pc[4];
	int n;

	meta_layout_perm(&l, perm);
	is_int(client__stripe_plan(&l, perm, chains, 2, 0, 0, pc, 4), 0, "empty range: no piece");
	n = client__stripe_plan(&l, perm, chains, 2, 64u << 10, 64u << 10, pc, 4);
	is_int(n, 1, "exactly one aligned chunk: one piece");
	is_int(pc[0].chunk_index, 1, "aligned chunk index");
	is_int(client__stripe_plan(&l, perm, chains, 2, 0, 5u * (64u << 10), pc, 4), -ENOMEM,
	       "more pieces than room: -ENOMEM");
	is_int(client__stripe_plan(&l, perm, chains, 1, 0, 10, pc, 4), -C3FS_EBADLAYOUT,
	       "stripe wider than the table is a bad layout");
	is_int(client__stripe_plan(&l, perm, chains, 2, (uint64_t)UINT32_MAX * (64u << 10) + (64u << 10),
				   10, pc, 4), -EFBIG, "chunk index beyond 32 bits: -EFBIG");
	is_int(client__stripe_plan(&l, perm, chains, 2, UINT64_MAX - 5, 10, pc, 4), -EFBIG,
	       "offset overflow: -EFBIG");
	is_int(client__stripe_nchunks(64u << 10, 10, 1), 1, "one byte: one chunk");
	is_int(client__stripe_nchunks(64u << 10, (64u << 10) - 1, 2), 2, "straddling: two chunks");
}

static void test_dyn_stripe_spread(void)
{
	/* with dyn_stripe = stripe every table position of the file is used once per stripe */
	struct meta_layout l = { .chunk_size = 64u << 10, .stripe = 4, .table_id = 1,
				 .base = 3, .seed = 99, .dyn_stripe = 4 };
	uint32_t perm[4], chains[6] = { 21, 22, 23, 24, 25, 26 }, seen[6] = { 0 };
	struct client_piece pc[4];
	int n, i, distinct = 0;

	meta_layout_perm(&l, perm);
	n = client__stripe_plan(&l, perm, chains, 6, 0, 4u * (64u << 10), pc, 4);
	is_int(n, 4, "four chunks");
	for (i = 0; i < n; i++)
		seen[pc[i].chain_id - 21]++;
	for (i = 0; i < 6; i++)
		distinct += seen[i] == 1;
	is_int(distinct, 4, "the first stripe chunks land on stripe distinct chains");
}

static void test_iov_slice(void)
{
	char a[10], b[5], c[20];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct iovec out[4];
	int k;

	k = client__iov_slice(iov, 3, 8, 10, out, 4);
	is_int(k, 3, "slice across three iovecs");
	ok(out[0].iov_base == a + 8 && out[0].iov_len == 2, "first part: tail of a");
	ok(out[1].iov_base == b && out[1].iov_len == 5, "second part: all of b");
	ok(out[2].iov_base == c && out[2].iov_len == 3, "third part: head of c");
	k = client__iov_slice(iov, 3, 10, 5, out, 4);
	is_int(k, 1, "slice exactly one iovec");
	ok(out[0].iov_base == b && out[0].iov_len == 5, "it is b");
	is_int(client__iov_slice(iov, 3, 30, 10, out, 4), -EINVAL, "beyond the buffers: -EINVAL");
	is_int(client__iov_slice(iov, 3, 0, 35, out, 2), -EINVAL, "too many parts: -EINVAL");
	is_int(client__iov_slice(iov, 3, 35, 0, out, 2), 0, "empty slice at the end");
}

static void test_pick_replica(void)
{
	unsigned idle[3] = { 0, 0, 0 }, busy0[3] = { 5, 0, 0 }, mixed[3] = { 2, 7, 1 };
	unsigned one[1] = { 9 };
	int spread[3] = { 0, 0, 0 };

	is_int((int)client__pick_replica(idle, 3, 1, -1), 1, "idle: the rotation's start");
	for (uint32_t s = 0; s < 30; s++)
		spread[client__pick_replica(idle, 3, s, -1)]++;
	ok(spread[0] == 10 && spread[1] == 10 && spread[2] == 10, "idle: chunks spread evenly");
	is_int((int)client__pick_replica(busy0, 3, 0, -1), 1, "a busy node is passed over");
	is_int((int)client__pick_replica(mixed, 3, 0, -1), 2, "the least loaded wins");
	is_int((int)client__pick_replica(mixed, 3, 1, 2), 0, "a failed replica is avoided");
	is_int((int)client__pick_replica(idle, 3, 2, 2), 0, "... even when idle");
	is_int((int)client__pick_replica(one, 1, 5, 0), 0, "the only replica, even failed");
}

int main(void)
{
	test_plan_basic();
	test_plan_edges();
	test_dyn_stripe_spread();
	test_iov_slice();
	test_pick_replica();
	return tap_done();
}
