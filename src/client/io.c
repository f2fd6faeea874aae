/* io.c — the chunk I/O engine of libc3fs.
 *
 * One read or write of a byte range (struct client_io) is split into chunk pieces
 * (stripe.c), handled in segments of at most CLIENT_IO_SEG_PIECES pieces, one segment
 * after the other.  For each segment, rounds run until every piece is done or the
 * deadline (opts.write_wait_ms after the segment began) passes:
 *
 *     pending pieces --group by target (reads; a write is a call of its own)--> batches
 *     (<= STORAGE_MAX_BATCH ios and STORAGE_MAX_BATCH_BYTES each) --rpc_call_start all-->
 *     all completed --> per-io results
 *         ok            -> done
 *         retryable     -> pending again (refresh routing first when the code's retry
 *                          class is ROUTE: a stale chain version, not the head, ...; back
 *                          off when a round made no progress; c3_err_retry decides)
 *         fatal         -> the io fails with it (e.g. -ENOSPC)
 *
 * This file never blocks between rounds and never decides who runs the next one: the
 * driver (aio.c) does.  The blocking driver waits for each call on the caller's thread
 * (the waiting thread reads the reply itself); the asynchronous one gives every call a
 * done callback, and the last completion of a round hands the io back to the driver on
 * the RPC I/O thread (client_io.round_done).  Back-offs and routing refreshes are the
 * driver's, after client__io_round_end said so.
 *
 * Writes go to the chain head, each io tagged (client id, channel, seq): the channels of
 * a segment are taken at once when it is planned (all or none, client.c) with a new seq
 * each, and kept across retries, so the head applies each piece once.
 * Reads go to the serving replica whose storage node has the fewest calls of this process
 * in flight (io_node_load); ties go by (inode, chunk, attempt), so an idle cluster spreads
 * chunks over the replicas and keeps each chunk on one replica's page cache.  A failed
 * replica (including -C3FS_ECHECKSUM, or a CRC mismatch seen here) is avoided on the next
 * try.
 * Request bulk is sent straight from the caller's iovecs; reply bulk lands straight in
 * them (one slice list per piece).
 *
 * Shared calls.  The reads of one c3fs_aio_submit (often hundreds of 4 KiB samples) start
 * their first rounds together (client__io_rounds_start): the pieces of every read of at
 * most CLIENT_READ_SHARE_BYTES go into shared READ calls, one per storage node (a READ's
 * ios each name their own target), each at most CLIENT_READ_SHARE_IOS ios and
 * CLIENT_READ_SHARE_BYTES, which the storage service serves inline with all ios read in
 * parallel.  Only who carries a piece changes:
 *
 *     io A pieces ─┐                              ┌─> A.pending -= its entries ─> A's round end
 *     io B pieces ─┼─> struct client_io_shared ───┤   (takes A's results: the same
 *     io C pieces ─┘   (entries: io, piece,       └─> B.pending ...             per-piece rule,
 *                       target, chain version)                                io_piece_result)
 *
 * The completion decodes the reply once (rc, rsp) and counts down `pending` of each
 * entry's io, once per entry; each io, at its round end, takes its entries' results exactly
 * as from its own calls (CRC, holes, short data, routing versions, the failed replica
 * avoided next time) and drops one reference per entry, the last one freeing the call.  A
 * failed call (or start) fails every entry with its code, as for an io's own call.  Retries
 * and later rounds and segments are per io, as always; writes and the blocking driver
 * never share.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "common/check.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/errors.h"
#include "proto/storage.h"

/* Calls in flight per storage node, for the whole process (all clients, all threads):
 * indexed by node id modulo the size (two nodes sharing a slot only blur the choice). */
#define IO_NODE_SLOTS 256
static atomic_uint io_node_load[IO_NODE_SLOTS];

/* What to do after a piece failed with rc (the retry column of errors.def). */
static enum c3_retry io_retry(const struct client_io *x, int rc)
{
	return c3_err_retry(rc, x->write ? C3_RETRY_WRITE : C3_RETRY_READ);
}

/* Choose the target for a piece.  0 with target, its node, chain_ver and addr set, or a
 * retryable code. */
static int io_pick_target(const struct client_io *x, const struct routing_info *ri,
			  const struct client_io_piece *pc, uint32_t *target, uint32_t *node_id,
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

static void io_piece_fail(struct client_io *x, struct client_io_piece *pc, int rc, uint32_t target)
{
	pc->err = rc;
	pc->tries++;
	if (!x->write)
		pc->bad_target = target;
	if (io_retry(x, rc) == C3_RETRY_ROUTE)
		x->need_refresh = true;
}

/* Where the batch's i-th piece goes: its chain at the batch's version and target, its
 * chunk. */
static void io_piece_where(const struct client_io *x, const struct client_io_batch *bt, int i,
			   struct storage_route *route, struct storage_chunk_id *chunk)
{
	const struct client_io_piece *pc = &x->pc[bt->idx[i]];

	route->chain_id = pc->p.chain_id;
	route->chain_ver = bt->vers[i];
	route->target_id = bt->target_id;
	chunk->inode = x->in->ino;
	chunk->index = (uint32_t)pc->p.chunk_index;
}

/* Encode the batch request for its pieces; fills bulk (request or reply side). */
static int io_batch_encode(struct client_io *x, struct client_io_batch *bt)
{
	struct c3fs_client *cl = x->cl;
	int i, j, nb = 0, total = 0;

	for (i = 0; i < bt->n; i++)
		total += x->pc[bt->idx[i]].niov;
	bt->bulk = calloc((size_t)total + 1, sizeof(struct iovec));
	if (!bt->bulk)
		return -ENOMEM;
	for (i = 0; i < bt->n; i++) {
		struct client_io_piece *pc = &x->pc[bt->idx[i]];

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
			struct client_io_piece *pc = &x->pc[bt->idx[i]];
			uint32_t crc = 0;

			for (j = 0; j < pc->niov; j++)
				crc = c3_crc32c(crc, pc->iov[j].iov_base, pc->iov[j].iov_len);
			io_piece_where(x, bt, i, &ios[i].route, &ios[i].chunk);
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
			struct client_io_piece *pc = &x->pc[bt->idx[i]];

			io_piece_where(x, bt, i, &ios[i].route, &ios[i].chunk);
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
static bool io_read_crc_ok(const struct client_io_piece *pc, uint32_t len, uint32_t want)
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

/* The outcome of one piece's io in a call: rc (the call failed: every io of it fails with
 * it) or the io's result r from target. */
static void io_piece_result(struct client_io *x, struct client_io_piece *pc, int rc,
			    const struct storage_io_result *r, uint32_t target)
{
	if (rc) {
		io_piece_fail(x, pc, rc, target);
		return;
	}
	if (r->routing_ver > x->routing_seen)
		x->routing_seen = r->routing_ver;
	if (r->status) {
		io_piece_fail(x, pc, r->status, target);
		return;
	}
	if (x->write) {
		if (r->length != pc->p.len) {
			io_piece_fail(x, pc, -C3FS_EBADMSG, target);
			return;
		}
	} else {
		if (r->length > pc->p.len) {
			io_piece_fail(x, pc, -C3FS_EBADMSG, target);
			return;
		}
		if (!io_read_crc_ok(pc, r->length, r->crc)) {
			io_piece_fail(x, pc, -C3FS_ECHECKSUM, target);
			return;
		}
		pc->data_len = r->length;
	}
	pc->done = true;
	pc->err = 0;
}

/* Decode a completed call's reply: 0 with one result per io in rsp, or the code every io
 * of the call fails with. */
static int io_call_results(const struct rpc_call *call, int nios, struct storage_batch_rsp *rsp)
{
	int rc = call->status;

	memset(rsp, 0, sizeof(*rsp));
	if (rc == 0) {
		rc = storage_batch_rsp_decode(call->resp.data, call->resp.len, rsp);
		if (rc == 0 && rsp->nresults != (uint32_t)nios)
			rc = -C3FS_EBADMSG;
	}
	return rc;
}

static void io_batch_finish(struct client_io *x, struct client_io_batch *bt)
{
	struct storage_batch_rsp rsp;
	int i, rc = io_call_results(&bt->call, bt->n, &rsp);

	for (i = 0; i < bt->n; i++)
		io_piece_result(x, &x->pc[bt->idx[i]], rc, rc ? NULL : &rsp.results[i],
				bt->target_id);
	storage_batch_rsp_release(&rsp);
}

/* ------------------------------------------------------------------ segments */

void client__io_init(struct client_io *io, struct c3fs_client *cl, struct client_inode *in,
		     bool write, const struct iovec *iov, int iovcnt, uint64_t off, uint64_t len)
{
	memset(io, 0, sizeof(*io));
	io->hole_at = UINT64_MAX;
	io->cl = cl;
	io->in = in;
	io->write = write;
	io->iov = iov;
	io->iovcnt = iovcnt;
	io->off = off;
	io->len = len;
}

/* Channels and slices of the current segment go back; no segment is planned after. */
static void io_seg_drop(struct client_io *io)
{
	int i;

	for (i = 0; i < io->npc; i++)
		if (io->pc[i].chan)
			client__chan_put(io->cl, io->pc[i].chan);
	free(io->slices);
	io->slices = NULL;
	io->npc = 0;
	io->seg_len = 0;
}

void client__io_release(struct client_io *io)
{
	io_seg_drop(io);
}

int client__io_seg_next(struct client_io *io, bool wait)
{
	struct c3fs_client *cl = io->cl;
	struct client_inode *in = io->in;
	struct client_piece plan[CLIENT_IO_SEG_PIECES];
	uint32_t chans[CLIENT_IO_SEG_PIECES];
	const struct routing_chain_table *tb;
	struct routing_info *ri;
	uint64_t cs = in->layout.chunk_size, pos, seg;
	int n, i, used = 0, cap, rc;

	if (io->seg_len) {
		io->seg_off += io->seg_len;
		io_seg_drop(io);
	}
	if (io->seg_off >= io->len)
		return 0;
	pos = io->off + io->seg_off;
	/* up to CLIENT_IO_SEG_PIECES chunks, the first one possibly partial */
	seg = CLIENT_IO_SEG_PIECES * cs - pos % cs;
	if (seg > io->len - io->seg_off)
		seg = io->len - io->seg_off;

	ri = cluster_client_routing(cl->cc);
	if (!ri)
		return -C3FS_ENOROUTING;
	tb = routing_table_find(ri, in->layout.table_id);
	if (!tb) {
		routing_unref(ri);
		return -C3FS_EBADLAYOUT;
	}
	pthread_mutex_lock(&in->lock);
	n = client__stripe_plan(&in->layout, in->perm, tb->chains, tb->nchains, pos, seg, plan,
				CLIENT_IO_SEG_PIECES);
	pthread_mutex_unlock(&in->lock);
	routing_unref(ri);
	if (n < 0)
		return n;
	if (io->write) {
		rc = client__chan_take(cl, chans, n, wait);
		if (rc)
			return rc;
	}
	cap = n + io->iovcnt + 1;
	io->slices = calloc((size_t)cap, sizeof(*io->slices));
	if (!io->slices) {
		rc = -ENOMEM;
		goto fail;
	}
	memset(io->pc, 0, sizeof(io->pc));
	for (i = 0; i < n; i++) {
		int k = client__iov_slice(io->iov, io->iovcnt, io->seg_off + plan[i].buf_off,
					  plan[i].len, io->slices + used, cap - used);

		if (k < 0) {
			free(io->slices);
			io->slices = NULL;
			rc = k;
			goto fail;
		}
		io->pc[i].p = plan[i];
		io->pc[i].iov = io->slices + used;
		io->pc[i].niov = k;
		used += k;
		if (io->write) {
			io->pc[i].chan = chans[i];
			io->pc[i].seq = __atomic_add_fetch(&cl->tag_seq, 1, __ATOMIC_RELAXED);
		}
	}
	io->npc = n;
	io->seg_len = seg;
	io->deadline_ms = c3_now_ms() + client__setting(cl, write_wait_ms);
	io->backoff_ms = 10;
	return 1;
fail:
	if (io->write)
		for (i = 0; i < n; i++)
			client__chan_put(cl, chans[i]);
	return rc;
}

/* ------------------------------------------------------------------ rounds */

/* A call of an asynchronous round completed (RPC I/O thread). */
static void io_call_done(struct rpc_call *call)
{
	struct client_io_batch *bt = (struct client_io_batch *)call;
	struct client_io *io = bt->io;

	atomic_fetch_sub_explicit(&io_node_load[bt->node_id % IO_NODE_SLOTS], 1,
				  memory_order_relaxed);
	if (atomic_fetch_sub_explicit(&io->pending, 1, memory_order_acq_rel) == 1)
		io->round_done(io);
}

/* Group the pending pieces into batches (io->bts, io->nbt).  -ENOMEM or 0. */
static int io_round_plan(struct client_io *x)
{
	struct routing_info *ri = cluster_client_routing(x->cl->cc);
	int i, b;

	x->nbt = 0;
	if (!ri) {
		for (i = 0; i < x->npc; i++)
			if (!x->pc[i].done)
				io_piece_fail(x, &x->pc[i], -C3FS_ENOROUTING, 0);
		return 0;
	}
	x->bts = calloc((size_t)x->npc, sizeof(*x->bts));
	if (!x->bts) {
		routing_unref(ri);
		return -ENOMEM;
	}
	for (i = 0; i < x->npc; i++) {
		struct client_io_piece *pc = &x->pc[i];
		struct client_io_batch *bt;
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
		b = x->nbt;
		if (!x->write)
			for (b = 0; b < x->nbt; b++)
				if (x->bts[b].target_id == target &&
				    x->bts[b].n < CLIENT_IO_SEG_PIECES &&
				    x->bts[b].bytes + pc->p.len <= STORAGE_MAX_BATCH_BYTES)
					break;
		bt = &x->bts[b];
		if (b == x->nbt) {
			bt->io = x;
			bt->target_id = target;
			bt->node_id = node;
			snprintf(bt->addr, sizeof(bt->addr), "%s", addr);
			x->nbt++;
		}
		bt->vers[bt->n] = cver;
		bt->idx[bt->n++] = i;
		bt->bytes += pc->p.len;
	}
	routing_unref(ri);
	return 0;
}

/* A round begins: its results so far are none. */
static void io_round_reset(struct client_io *x)
{
	int i;

	x->need_refresh = false;
	x->routing_seen = 0;
	x->round_err = 0;
	x->retry_delay_ms = 0;
	x->done_before = 0;
	for (i = 0; i < x->npc; i++)
		x->done_before += x->pc[i].done;
}

bool client__io_round_start(struct client_io *x, bool async)
{
	struct c3fs_client *cl = x->cl;
	int i, b;

	io_round_reset(x);
	x->round_err = io_round_plan(x);
	if (x->round_err)
		return true;
	/* +1 while starting: a call may complete before the next one is started */
	atomic_store_explicit(&x->pending, x->nbt + 1, memory_order_relaxed);
	for (b = 0; b < x->nbt; b++) {
		struct client_io_batch *bt = &x->bts[b];
		int src = io_batch_encode(x, bt);

		if (async) {
			bt->call.done = io_call_done;
			bt->call.arg = x;
		}
		if (src == 0) {
			/* counted first: the completion may come before rpc_call_start returns */
			atomic_fetch_add_explicit(&io_node_load[bt->node_id % IO_NODE_SLOTS], 1,
						  memory_order_relaxed);
			bt->started = true;
			src = rpc_call_start(cl->rpc, bt->addr, &bt->call);
		}
		if (src) {
			if (bt->started)
				atomic_fetch_sub_explicit(
					&io_node_load[bt->node_id % IO_NODE_SLOTS], 1,
					memory_order_relaxed);
			bt->started = false;
			for (i = 0; i < bt->n; i++)
				io_piece_fail(x, &x->pc[bt->idx[i]], src, bt->target_id);
			atomic_fetch_sub_explicit(&x->pending, 1, memory_order_relaxed);
		}
	}
	if (async)
		/* from here on a completion may own x: touch nothing unless the round is over */
		return atomic_fetch_sub_explicit(&x->pending, 1, memory_order_acq_rel) == 1;
	for (b = 0; b < x->nbt; b++) {
		if (!x->bts[b].started)
			continue;
		rpc_call_wait(&x->bts[b].call);
		atomic_fetch_sub_explicit(&io_node_load[x->bts[b].node_id % IO_NODE_SLOTS], 1,
					  memory_order_relaxed);
	}
	return true;
}

/* ------------------------------------------------------------------ shared calls */

/* One entry of a shared call done with (its io took the result): the last frees it. */
static void io_shared_unref(struct client_io_shared *sh)
{
	if (atomic_fetch_sub_explicit(&sh->refs, 1, memory_order_acq_rel) != 1)
		return;
	storage_batch_rsp_release(&sh->rsp);
	c3_buf_release(&sh->call.resp);
	c3_buf_release(&sh->req);
	free(sh);
}

/* The call is over with sh->rc (and sh->rsp) set: count down each entry's io, and hand
 * back each io whose round this ends.  sh may be freed by the first hand-back (it runs
 * that io's round end), so the ios are copied first. */
static void io_shared_over(struct client_io_shared *sh)
{
	struct client_io *ios[CLIENT_READ_SHARE_IOS];
	int i, n = sh->n;

	for (i = 0; i < n; i++)
		ios[i] = sh->ent[i].io;
	for (i = 0; i < n; i++)
		if (atomic_fetch_sub_explicit(&ios[i]->pending, 1, memory_order_acq_rel) == 1)
			ios[i]->round_done(ios[i]);
}

/* A shared call completed (RPC I/O thread). */
static void io_shared_done(struct rpc_call *call)
{
	struct client_io_shared *sh = (struct client_io_shared *)call;

	atomic_fetch_sub_explicit(&io_node_load[sh->node_id % IO_NODE_SLOTS], 1,
				  memory_order_relaxed);
	sh->rc = io_call_results(call, sh->n, &sh->rsp);
	io_shared_over(sh);
}

/* Encode the READ request of a shared call: each entry's io names its own target. */
static int io_shared_encode(struct client_io_shared *sh)
{
	struct storage_read_io ios[CLIENT_READ_SHARE_IOS];
	struct storage_read_req m;
	int i;

	memset(ios, 0, sizeof(ios));
	for (i = 0; i < sh->n; i++) {
		const struct client_io_share_entry *e = &sh->ent[i];
		const struct client_io_piece *pc = &e->io->pc[e->piece];

		ios[i].route.chain_id = pc->p.chain_id;
		ios[i].route.chain_ver = e->chain_ver;
		ios[i].route.target_id = e->target_id;
		ios[i].chunk.inode = e->io->in->ino;
		ios[i].chunk.index = (uint32_t)pc->p.chunk_index;
		ios[i].offset = pc->p.chunk_off;
		ios[i].length = pc->p.len;
	}
	m.nios = (uint32_t)sh->n;
	m.ios = ios;
	storage_read_req_encode(&m, &sh->req);
	rpc_call_init(&sh->call, STORAGE_T_READ, sh->req.data, sh->req.len);
	sh->call.resp_bulk = sh->bulk;
	sh->call.nresp_bulk = sh->nbulk;
	sh->call.timeout_ms = sh->ent[0].io->cl->opts.timeout_ms;
	sh->call.done = io_shared_done;
	return sh->req.err;
}

/* Whether x's first round goes into shared calls: a read of at most
 * CLIENT_READ_SHARE_BYTES whose pieces each fit an empty shared call. */
static bool io_can_share(const struct client_io *x)
{
	int i;

	if (x->write || x->seg_len > CLIENT_READ_SHARE_BYTES ||
	    x->npc > CLIENT_READ_SHARE_IOS)
		return false;
	for (i = 0; i < x->npc; i++)
		if (x->pc[i].niov > CLIENT_READ_SHARE_IOV)
			return false;
	return true;
}

/* Put piece i of x into a shared call to node (an open one with room, else a new one
 * appended to *shs).  0 or -ENOMEM. */
static int io_shared_add(struct client_io *x, int i, uint32_t target, uint32_t node,
			 uint32_t cver, const char *addr, struct client_io_shared ***shs, int *nsh,
			 int *cap)
{
	struct client_io_piece *pc = &x->pc[i];
	struct client_io_shared *sh = NULL;
	int k;

	for (k = *nsh - 1; k >= 0; k--) {
		struct client_io_shared *c = (*shs)[k];

		if (c->node_id == node && c->n < CLIENT_READ_SHARE_IOS &&
		    c->bytes + pc->p.len <= CLIENT_READ_SHARE_BYTES &&
		    c->nbulk + pc->niov <= CLIENT_READ_SHARE_IOV) {
			sh = c;
			break;
		}
	}
	if (!sh) {
		if (*nsh == *cap) {
			int ncap = *cap ? 2 * *cap : 16;
			struct client_io_shared **p = realloc(*shs, (size_t)ncap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			*shs = p;
			*cap = ncap;
		}
		sh = calloc(1, sizeof(*sh));
		if (!sh)
			return -ENOMEM;
		sh->node_id = node;
		snprintf(sh->addr, sizeof(sh->addr), "%s", addr);
		(*shs)[(*nsh)++] = sh;
	}
	sh->ent[sh->n] = (struct client_io_share_entry){ x, i, target, cver };
	memcpy(sh->bulk + sh->nbulk, pc->iov, (size_t)pc->niov * sizeof(*pc->iov));
	sh->nbulk += pc->niov;
	sh->bytes += pc->p.len;
	pc->sh = sh;
	pc->sh_slot = sh->n++;
	atomic_fetch_add_explicit(&sh->refs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&x->pending, 1, memory_order_relaxed);
	return 0;
}

void client__io_rounds_start(struct client_io **ios, int n, bool *over)
{
	struct client_io_shared **shs = NULL;
	struct routing_info *ri = NULL;
	bool share[CLIENT_IO_ROUNDS_MAX];
	int i, j, nsh = 0, cap = 0;

	C3_ASSERT(n <= CLIENT_IO_ROUNDS_MAX);
	/* plan: every sharing io's pieces into shared calls, per node */
	for (i = 0; i < n; i++) {
		struct client_io *x = ios[i];

		over[i] = false;
		share[i] = io_can_share(x);
		if (!share[i])
			continue;
		io_round_reset(x);
		x->nbt = 0;
		atomic_store_explicit(&x->pending, 1, memory_order_relaxed); /* while starting */
		if (!ri)
			ri = cluster_client_routing(x->cl->cc);
		for (j = 0; j < x->npc; j++) {
			struct client_io_piece *pc = &x->pc[j];
			char addr[ROUTING_ADDR_MAX];
			uint32_t target, node, cver;
			int prc;

			if (pc->done)
				continue;
			prc = ri ? io_pick_target(x, ri, pc, &target, &node, &cver, addr)
				 : -C3FS_ENOROUTING;
			if (prc) {
				io_piece_fail(x, pc, prc, 0);
				continue;
			}
			if (io_shared_add(x, j, target, node, cver, addr, &shs, &nsh, &cap)) {
				x->round_err = -ENOMEM; /* as when its own round cannot be built */
				break;
			}
		}
	}
	if (ri)
		routing_unref(ri);
	/* the other ios start their round as usual */
	for (i = 0; i < n; i++)
		if (!share[i])
			over[i] = client__io_round_start(ios[i], true);
	/* start: a failed start is an outcome like any (every entry fails with its code) */
	for (i = 0; i < nsh; i++) {
		struct client_io_shared *sh = shs[i];
		struct c3fs_client *cl = sh->ent[0].io->cl;
		int src = io_shared_encode(sh);

		if (src == 0) {
			/* counted first: the completion may come before rpc_call_start returns */
			atomic_fetch_add_explicit(&io_node_load[sh->node_id % IO_NODE_SLOTS], 1,
						  memory_order_relaxed);
			src = rpc_call_start(cl->rpc, sh->addr, &sh->call);
			if (src == 0)
				continue; /* sh belongs to the completion now */
			atomic_fetch_sub_explicit(&io_node_load[sh->node_id % IO_NODE_SLOTS], 1,
						  memory_order_relaxed);
		}
		sh->rc = src;
		io_shared_over(sh); /* no io's round ends here: each still holds its +1 */
	}
	free(shs);
	/* from here on a completion may own each io: touch none whose round is not over */
	for (i = 0; i < n; i++)
		if (share[i])
			over[i] = atomic_fetch_sub_explicit(&ios[i]->pending, 1,
							    memory_order_acq_rel) == 1;
}

/* Results of the round's calls, then its memory. */
static void io_round_finish(struct client_io *x)
{
	int b, i;

	for (i = 0; i < x->npc; i++) {
		struct client_io_piece *pc = &x->pc[i];
		struct client_io_shared *sh = pc->sh;

		if (!sh)
			continue;
		io_piece_result(x, pc, sh->rc, sh->rc ? NULL : &sh->rsp.results[pc->sh_slot],
				sh->ent[pc->sh_slot].target_id);
		pc->sh = NULL;
		io_shared_unref(sh);
	}

	for (b = 0; b < x->nbt; b++) {
		struct client_io_batch *bt = &x->bts[b];

		if (bt->started)
			io_batch_finish(x, bt);
		c3_buf_release(&bt->call.resp);
		c3_buf_release(&bt->req);
		free(bt->bulk);
	}
	free(x->bts);
	x->bts = NULL;
	x->nbt = 0;
}

int client__io_round_end(struct client_io *x)
{
	struct c3fs_client *cl = x->cl;
	int i, left = 0, fatal = 0, done_after = 0;

	io_round_finish(x);
	if (x->round_err)
		return x->round_err;
	for (i = 0; i < x->npc; i++) {
		if (x->pc[i].done) {
			done_after++;
			continue;
		}
		left++;
		if (io_retry(x, x->pc[i].err) == C3_RETRY_NO && !fatal)
			fatal = x->pc[i].err;
	}
	if (left == 0) {
		if (!x->write)
			for (i = 0; i < x->npc; i++)
			{
				uint64_t end = x->pc[i].p.chunk_index * x->in->layout.chunk_size +
					       x->pc[i].p.chunk_off + x->pc[i].data_len;

				if (x->pc[i].data_len && end > x->data_end)
					x->data_end = end;
				if (x->pc[i].data_len < x->pc[i].p.len && end < x->hole_at)
					x->hole_at = end;
			}
		return 0;
	}
	if (fatal)
		return fatal;
	if (c3_now_ms() >= x->deadline_ms) {
		for (i = 0; i < x->npc; i++)
			if (!x->pc[i].done)
				return x->pc[i].err ? x->pc[i].err : -C3FS_ENORETRY;
	}
	if (x->routing_seen)
		cluster_client_routing_hint(cl->cc, x->routing_seen);
	if (done_after == x->done_before || x->need_refresh) {
		x->retry_delay_ms = x->backoff_ms;
		if (x->backoff_ms < 500)
			x->backoff_ms *= 2;
	}
	return 1;
}
