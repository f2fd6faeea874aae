/* io.c — the chunk I/O engine of libc3fs.
 *
 * A read or write of a byte range is split into chunk pieces (stripe.c), handled in
 * segments of at most IO_SEG_PIECES pieces.  For each segment, rounds run until every
 * piece is done or the deadline (opts.write_wait_ms) passes:
 *
 *     pending pieces --group by target (reads; a write is a call of its own)--> batches
 *     (<= STORAGE_MAX_BATCH ios and STORAGE_MAX_BATCH_BYTES each) --rpc_call_start all-->
 *     wait all --> per-io results
 *         ok            -> done
 *         retryable     -> pending again (refresh routing first when the chain version
 *                          was stale or the target not the head; back off when a round
 *                          made no progress)
 *         fatal         -> the segment fails with it (e.g. -ENOSPC)
 *
 * Writes go to the chain head, each io tagged (client id, channel, seq): the channel and
 * seq are taken once per piece and kept across retries, so the head applies it once.
 * Reads go to the serving replica whose storage node has the fewest calls of this process
 * in flight (io_node_load); ties go by (inode, chunk, attempt), so an idle cluster spreads
 * chunks over the replicas and keeps each chunk on one replica's page cache.  A failed
 * replica (including -C3FS_ECHECKSUM, or a CRC mismatch seen here) is avoided on the next
 * try.
 * Request bulk is sent straight from the caller's iovecs; reply bulk lands straight in
 * them (one slice list per piece).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/errors.h"
#include "proto/storage.h"

#define IO_SEG_PIECES 64 /* <= STORAGE_MAX_BATCH */

/* Calls in flight per storage node, for the whole process (all clients, all threads):
 * indexed by node id modulo the size (two nodes sharing a slot only blur the choice). */
#define IO_NODE_SLOTS 256
static atomic_uint io_node_load[IO_NODE_SLOTS];

struct io_piece {
	struct client_piece p;
	struct iovec *iov;       /* slices of the caller's buffers */
	int niov;
	bool done;
	int err;                 /* last error (0 = none yet) */
	uint32_t bad_target;     /* read: replica that failed last */
	uint32_t tries;
	uint32_t chan;           /* write: exactly-once channel (0 = none) */
	uint64_t seq;
	uint32_t data_len;       /* read: data bytes returned */
};

struct io_batch {
	struct rpc_call call;
	struct c3_buf req;
	uint32_t target_id;
	uint32_t node_id;
	char addr[ROUTING_ADDR_MAX];
	int idx[IO_SEG_PIECES];
	int n;
	uint64_t bytes;
	struct iovec *bulk;
	int nbulk;
	bool started;
};

struct io_ctx {
	struct c3fs_client *cl;
	struct client_inode *in;
	bool write;
	struct io_piece *pc;
	int npc;
	bool need_refresh;
	uint64_t routing_seen;
};

static bool io_retryable(int rc, bool write)
{
	switch (-rc) {
	case C3FS_ECHAINVER:
	case C3FS_ENOTHEAD:
	case C3FS_ETARGETDOWN:
	case C3FS_ENOSUCCESSOR:
	case C3FS_ECHUNKVER:
	case C3FS_ENOCHAIN:
	case C3FS_ENOTARGET:
	case C3FS_ECONNECT:
	case C3FS_EPEERCLOSED:
	case C3FS_ETIMEDOUT:
	case C3FS_ESHUTDOWN:
	case C3FS_EBUSY:
	case C3FS_ELEASE:
	case C3FS_ENOROUTING:
	case C3FS_ENOTLEADER:
	case EAGAIN:
		return true;
	case C3FS_ECHECKSUM:
	case EIO:
	case C3FS_EBADMSG:
		return !write; /* another replica may have it intact */
	default:
		return false;
	}
}

static bool io_wants_refresh(int rc)
{
	return rc == -C3FS_ECHAINVER || rc == -C3FS_ENOTHEAD || rc == -C3FS_ENOCHAIN ||
	       rc == -C3FS_ENOTARGET || rc == -C3FS_ETARGETDOWN || rc == -C3FS_ECONNECT ||
	       rc == -C3FS_ENOSUCCESSOR;
}

/* Choose the target for a piece.  0 with target, its node, chain_ver and addr set, or a
 * retryable code. */
static int io_pick_target(const struct io_ctx *x, const struct routing_info *ri,
			  const struct io_piece *pc, uint32_t *target, uint32_t *node_id,
			  uint32_t *chain_ver, char *addr)
{
	const struct routing_chain *ch = routing_chain_find(ri, pc->p.chain_id);
	const struct routing_target *t = NULL;
	const struct routing_node *nd;
	uint32_t serving[ROUTING_MAX_REPLICAS], ns = 0, i;

	if (!ch)
		return -C3FS_ENOCHAIN;
	for (i = 0; i < ch->ntargets && i < ROUTING_MAX_REPLICAS; i++) {
		const struct routing_target *ti = routing_target_find(ri, ch->targets[i]);

		if (ti && ti->state == TARGET_SERVING)
			serving[ns++] = ti->target_id;
	}
	if (ns == 0)
		return -C3FS_ENOSUCCESSOR;
	if (x->write) {
		if (ch->targets[0] != serving[0])
			return -C3FS_ENOSUCCESSOR; /* head not serving: chain reconfiguring */
		t = routing_target_find(ri, serving[0]);
	} else {
		const struct routing_target *ts[ROUTING_MAX_REPLICAS];
		unsigned loads[ROUTING_MAX_REPLICAS];
		int avoid = -1;

		for (i = 0; i < ns; i++) {
			ts[i] = routing_target_find(ri, serving[i]);
			loads[i] = ts[i] ? atomic_load_explicit(
						   &io_node_load[ts[i]->node_id % IO_NODE_SLOTS],
						   memory_order_relaxed)
					 : UINT32_MAX;
			if (serving[i] == pc->bad_target)
				avoid = (int)i;
		}
		t = ts[client__pick_replica(
			loads, ns, (uint32_t)((pc->p.chunk_index + x->in->ino + pc->tries) % ns),
			avoid)];
	}
	if (!t)
		return -C3FS_ENOTARGET;
	nd = routing_node_find(ri, t->node_id);
	if (!nd || !nd->addr[0])
		return -C3FS_ENOTARGET;
	*target = t->target_id;
	*node_id = t->node_id;
	*chain_ver = ch->version;
	snprintf(addr, ROUTING_ADDR_MAX, "%s", nd->addr);
	return 0;
}

static void io_piece_fail(struct io_ctx *x, struct io_piece *pc, int rc, uint32_t target)
{
	pc->err = rc;
	pc->tries++;
	if (!x->write)
		pc->bad_target = target;
	if (io_wants_refresh(rc))
		x->need_refresh = true;
}

/* Encode the batch request for its pieces; fills bulk (request or reply side). */
static int io_batch_encode(struct io_ctx *x, struct io_batch *bt, const uint32_t *chain_vers)
{
	struct c3fs_client *cl = x->cl;
	int i, j, nb = 0, total = 0;

	for (i = 0; i < bt->n; i++)
		total += x->pc[bt->idx[i]].niov;
	bt->bulk = calloc((size_t)total + 1, sizeof(struct iovec));
	if (!bt->bulk)
		return -ENOMEM;
	for (i = 0; i < bt->n; i++) {
		struct io_piece *pc = &x->pc[bt->idx[i]];

		for (j = 0; j < pc->niov; j++)
			bt->bulk[nb++] = pc->iov[j];
	}
	bt->nbulk = nb;
	if (x->write) {
		struct storage_write_req m;
		struct storage_write_io *ios = calloc((size_t)bt->n, sizeof(*ios));

		if (!ios)
			return -ENOMEM;
		for (i = 0; i < bt->n; i++) {
			struct io_piece *pc = &x->pc[bt->idx[i]];
			uint32_t crc = 0;

			for (j = 0; j < pc->niov; j++)
				crc = c3_crc32c(crc, pc->iov[j].iov_base, pc->iov[j].iov_len);
			ios[i].route.chain_id = pc->p.chain_id;
			ios[i].route.chain_ver = chain_vers[i];
			ios[i].route.target_id = bt->target_id;
			ios[i].chunk.inode = x->in->ino;
			ios[i].chunk.index = (uint32_t)pc->p.chunk_index;
			ios[i].offset = pc->p.chunk_off;
			ios[i].length = pc->p.len;
			ios[i].chunk_size = x->in->layout.chunk_size;
			ios[i].crc = crc;
			ios[i].tag.client_id = cl->client_id;
			ios[i].tag.channel = pc->chan;
			ios[i].tag.seq = pc->seq;
		}
		m.nios = (uint32_t)bt->n;
		m.ios = ios;
		storage_write_req_encode(&m, &bt->req);
		free(ios);
		rpc_call_init(&bt->call, STORAGE_T_WRITE, bt->req.data, bt->req.len);
		bt->call.bulk = bt->bulk;
		bt->call.nbulk = bt->nbulk;
	} else {
		struct storage_read_req m;
		struct storage_read_io *ios = calloc((size_t)bt->n, sizeof(*ios));

		if (!ios)
			return -ENOMEM;
		for (i = 0; i < bt->n; i++) {
			struct io_piece *pc = &x->pc[bt->idx[i]];

			ios[i].route.chain_id = pc->p.chain_id;
			ios[i].route.chain_ver = chain_vers[i];
			ios[i].route.target_id = bt->target_id;
			ios[i].chunk.inode = x->in->ino;
			ios[i].chunk.index = (uint32_t)pc->p.chunk_index;
			ios[i].offset = pc->p.chunk_off;
			ios[i].length = pc->p.len;
		}
		m.nios = (uint32_t)bt->n;
		m.ios = ios;
		storage_read_req_encode(&m, &bt->req);
		free(ios);
		rpc_call_init(&bt->call, STORAGE_T_READ, bt->req.data, bt->req.len);
		bt->call.resp_bulk = bt->bulk;
		bt->call.nresp_bulk = bt->nbulk;
	}
	bt->call.payload = bt->req.data;
	bt->call.payload_len = bt->req.len;
	bt->call.timeout_ms = cl->opts.timeout_ms;
	return bt->req.err;
}

/* Check a read piece's data against the CRC the replica sent. */
static bool io_read_crc_ok(const struct io_piece *pc, uint32_t len, uint32_t want)
{
	uint32_t crc = 0, left = len;
	int j;

	for (j = 0; j < pc->niov && left > 0; j++) {
		uint32_t take = pc->iov[j].iov_len < left ? (uint32_t)pc->iov[j].iov_len : left;

		crc = c3_crc32c(crc, pc->iov[j].iov_base, take);
		left -= take;
	}
	return crc == want;
}

static void io_batch_finish(struct io_ctx *x, struct io_batch *bt)
{
	struct storage_batch_rsp rsp;
	int i, rc = bt->call.status;

	memset(&rsp, 0, sizeof(rsp));
	if (rc == 0) {
		rc = storage_batch_rsp_decode(bt->call.resp.data, bt->call.resp.len, &rsp);
		if (rc == 0 && rsp.nresults != (uint32_t)bt->n)
			rc = -C3FS_EBADMSG;
	}
	for (i = 0; i < bt->n; i++) {
		struct io_piece *pc = &x->pc[bt->idx[i]];
		const struct storage_io_result *r;

		if (rc) {
			io_piece_fail(x, pc, rc, bt->target_id);
			continue;
		}
		r = &rsp.results[i];
		if (r->routing_ver > x->routing_seen)
			x->routing_seen = r->routing_ver;
		if (r->status) {
			io_piece_fail(x, pc, r->status, bt->target_id);
			continue;
		}
		if (x->write) {
			if (r->length != pc->p.len) {
				io_piece_fail(x, pc, -C3FS_EBADMSG, bt->target_id);
				continue;
			}
		} else {
			if (r->length > pc->p.len) {
				io_piece_fail(x, pc, -C3FS_EBADMSG, bt->target_id);
				continue;
			}
			if (!io_read_crc_ok(pc, r->length, r->crc)) {
				io_piece_fail(x, pc, -C3FS_ECHECKSUM, bt->target_id);
				continue;
			}
			pc->data_len = r->length;
		}
		pc->done = true;
		pc->err = 0;
	}
	storage_batch_rsp_release(&rsp);
}

/* One round over the pending pieces.  Returns 0, or -ENOMEM. */
static int io_round(struct io_ctx *x)
{
	struct c3fs_client *cl = x->cl;
	struct routing_info *ri = cluster_client_routing(cl->cc);
	struct io_batch *bts = NULL;
	uint32_t (*vers)[IO_SEG_PIECES] = NULL;
	int nbt = 0, i, b, rc = 0;

	if (!ri) {
		for (i = 0; i < x->npc; i++)
			if (!x->pc[i].done)
				io_piece_fail(x, &x->pc[i], -C3FS_ENOROUTING, 0);
		return 0;
	}
	bts = calloc((size_t)x->npc, sizeof(*bts));
	vers = calloc((size_t)x->npc, sizeof(*vers));
	if (!bts || !vers) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < x->npc; i++) {
		struct io_piece *pc = &x->pc[i];
		char addr[ROUTING_ADDR_MAX];
		uint32_t target, node, cver;
		int prc;

		if (pc->done)
			continue;
		prc = io_pick_target(x, ri, pc, &target, &node, &cver, addr);
		if (prc) {
			io_piece_fail(x, pc, prc, 0);
			continue;
		}
		/* Reads of one target share a call.  Writes get a call each: a write runs
		 * the whole chain round trip, and separate calls run on separate server
		 * workers at once instead of the handler fanning a batch out to threads. */
		for (b = 0; b < nbt && !x->write; b++)
			if (bts[b].target_id == target && bts[b].n < IO_SEG_PIECES &&
			    bts[b].bytes + pc->p.len <= STORAGE_MAX_BATCH_BYTES)
				break;
		if (b == nbt) {
			bts[b].target_id = target;
			bts[b].node_id = node;
			snprintf(bts[b].addr, sizeof(bts[b].addr), "%s", addr);
			nbt++;
		}
		vers[b][bts[b].n] = cver;
		bts[b].idx[bts[b].n++] = i;
		bts[b].bytes += pc->p.len;
	}
	for (b = 0; b < nbt; b++) {
		int src = io_batch_encode(x, &bts[b], vers[b]);

		if (src == 0)
			src = rpc_call_start(cl->rpc, bts[b].addr, &bts[b].call);
		if (src) {
			for (i = 0; i < bts[b].n; i++)
				io_piece_fail(x, &x->pc[bts[b].idx[i]], src, bts[b].target_id);
			continue;
		}
		bts[b].started = true;
		atomic_fetch_add_explicit(&io_node_load[bts[b].node_id % IO_NODE_SLOTS], 1,
					  memory_order_relaxed);
	}
	for (b = 0; b < nbt; b++) {
		if (!bts[b].started)
			continue;
		rpc_call_wait(&bts[b].call);
		atomic_fetch_sub_explicit(&io_node_load[bts[b].node_id % IO_NODE_SLOTS], 1,
					  memory_order_relaxed);
		io_batch_finish(x, &bts[b]);
		c3_buf_release(&bts[b].call.resp);
	}
out:
	if (bts)
		for (b = 0; b < nbt; b++) {
			c3_buf_release(&bts[b].req);
			free(bts[b].bulk);
		}
	free(bts);
	free(vers);
	routing_unref(ri);
	return rc;
}

/* Run rounds until every piece is done, a fatal error, or the deadline. */
static int io_run(struct io_ctx *x)
{
	struct c3fs_client *cl = x->cl;
	uint64_t deadline = c3_now_ms() + cl->opts.write_wait_ms;
	uint64_t backoff = 10;
	int i, rc;

	for (;;) {
		int left = 0, fatal = 0, done_before = 0, done_after = 0;

		for (i = 0; i < x->npc; i++)
			done_before += x->pc[i].done;
		x->need_refresh = false;
		x->routing_seen = 0;
		rc = io_round(x);
		if (rc)
			return rc;
		for (i = 0; i < x->npc; i++) {
			if (x->pc[i].done) {
				done_after++;
				continue;
			}
			left++;
			if (!io_retryable(x->pc[i].err, x->write) && !fatal)
				fatal = x->pc[i].err;
		}
		if (left == 0)
			return 0;
		if (fatal)
			return fatal;
		if (c3_now_ms() >= deadline) {
			for (i = 0; i < x->npc; i++)
				if (!x->pc[i].done)
					return x->pc[i].err ? x->pc[i].err : -C3FS_ENORETRY;
		}
		if (x->routing_seen)
			cluster_client_routing_hint(cl->cc, x->routing_seen);
		if (x->need_refresh)
			cluster_client_refresh(cl->cc, 1000);
		if (done_after == done_before || x->need_refresh) {
			c3_sleep_ms(backoff);
			if (backoff < 500)
				backoff *= 2;
		}
	}
}

/* Read or write one segment [off, off+len) of at most IO_SEG_PIECES chunks. */
static int io_segment(struct c3fs_client *cl, struct client_inode *in, bool write,
		      const struct iovec *iov, int iovcnt, uint64_t buf_base, uint64_t off,
		      uint64_t len, uint64_t *data_end)
{
	struct client_piece plan[IO_SEG_PIECES];
	struct io_piece pcs[IO_SEG_PIECES];
	struct iovec *slices = NULL;
	struct routing_info *ri;
	const struct routing_chain_table *tb;
	struct io_ctx x;
	int n, i, used = 0, cap, rc = 0;

	ri = cluster_client_routing(cl->cc);
	if (!ri)
		return -C3FS_ENOROUTING;
	tb = routing_table_find(ri, in->layout.table_id);
	if (!tb) {
		routing_unref(ri);
		return -C3FS_EBADLAYOUT;
	}
	pthread_mutex_lock(&in->lock);
	n = client__stripe_plan(&in->layout, in->perm, tb->chains, tb->nchains, off, len, plan,
				IO_SEG_PIECES);
	pthread_mutex_unlock(&in->lock);
	routing_unref(ri);
	if (n < 0)
		return n;
	cap = n + iovcnt + 1;
	slices = calloc((size_t)cap, sizeof(*slices));
	if (!slices)
		return -ENOMEM;
	memset(pcs, 0, sizeof(pcs));
	for (i = 0; i < n; i++) {
		int k = client__iov_slice(iov, iovcnt, buf_base + plan[i].buf_off, plan[i].len,
					  slices + used, cap - used);

		if (k < 0) {
			rc = k;
			goto out;
		}
		pcs[i].p = plan[i];
		pcs[i].iov = slices + used;
		pcs[i].niov = k;
		used += k;
		if (write) {
			pcs[i].chan = client__chan_get(cl);
			pcs[i].seq = __atomic_add_fetch(&cl->tag_seq, 1, __ATOMIC_RELAXED);
		}
	}
	x.cl = cl;
	x.in = in;
	x.write = write;
	x.pc = pcs;
	x.npc = n;
	rc = io_run(&x);
	if (rc == 0 && !write)
		for (i = 0; i < n; i++)
			if (pcs[i].data_len) {
				uint64_t end = pcs[i].p.chunk_index * in->layout.chunk_size +
					       pcs[i].p.chunk_off + pcs[i].data_len;

				if (end > *data_end)
					*data_end = end;
			}
out:
	for (i = 0; i < n; i++)
		if (pcs[i].chan)
			client__chan_put(cl, pcs[i].chan);
	free(slices);
	return rc;
}

static int io_range(struct c3fs_client *cl, struct client_inode *in, bool write,
		    const struct iovec *iov, int iovcnt, uint64_t off, uint64_t len,
		    uint64_t *data_end)
{
	uint64_t cs = in->layout.chunk_size, done = 0;
	int rc;

	while (done < len) {
		uint64_t pos = off + done;
		/* up to IO_SEG_PIECES chunks, the first one possibly partial */
		uint64_t seg = (IO_SEG_PIECES * cs) - (pos % cs);

		if (seg > len - done)
			seg = len - done;
		rc = io_segment(cl, in, write, iov, iovcnt, done, pos, seg, data_end);
		if (rc)
			return rc;
		done += seg;
	}
	return 0;
}

int client__io_read(struct c3fs_client *cl, struct client_inode *in, const struct iovec *iov,
		    int iovcnt, uint64_t off, uint64_t len, uint64_t *data_end_out)
{
	*data_end_out = 0;
	return io_range(cl, in, false, iov, iovcnt, off, len, data_end_out);
}

int client__io_write(struct c3fs_client *cl, struct client_inode *in, const struct iovec *iov,
		     int iovcnt, uint64_t off, uint64_t len)
{
	uint64_t unused = 0;

	return io_range(cl, in, true, iov, iovcnt, off, len, &unused);
}
