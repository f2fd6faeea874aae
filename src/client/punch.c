/* punch.c — c3fs_punch_hole: make a byte range of a file read as zeros, size unchanged.
 *
 *   [off, end)  ──plan (pure, client__punch_plan)──>  whole chunks [rm_begin, rm_end)
 *                                                     + at most two partial pieces
 *   1. wait for the inode's queued writes that overlap the range (write-behind order)
 *   2. whole chunks: STORAGE_T_REMOVE of the index range on every chain that holds some
 *      of them (at most stripe chains, all in flight at once), each with its own
 *      exactly-once channel, so a delayed retry can never remove a chunk written after
 *      the punch returned
 *   3. partial pieces below the end of the file: zeros through the write path
 *      (client__pwritev_at: at that offset even on an O_APPEND open)
 *
 * The size does not change: pieces past the end of the file are left alone (writing
 * zeros there would extend it), and meta only ever grows a length from what storage
 * holds (a removed last chunk does not shrink the file).  A removed chunk is a hole:
 * reads return zeros for it up to the file's length.  The punch counts as a write of the
 * file for its length report (mtime, ctime).
 *
 * Retries of the removes follow the data path's rules (c3_err_retry, as a write): routing
 * refreshed on stale chains, back-off 10 ms doubling to 500 ms, for opts.write_wait_ms.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "client/client_int.h"
#include "common/check.h"
#include "common/clock.h"
#include "common/errors.h"
#include "proto/storage.h"

#define PUNCH_ZERO_BYTES (1u << 20) /* zeros are written from this many bytes, repeated */
#define PUNCH_MAX_ROUNDS 100000     /* REMOVE calls per chain ("more" pages), a bound */

static char punch_zeros[PUNCH_ZERO_BYTES]; /* never written */

void client__punch_plan(uint32_t chunk_size, uint64_t size, uint64_t off, uint64_t end,
			struct client_punch_plan *p)
{
	uint64_t cs = chunk_size, first = (off + cs - 1) / cs, last = end / cs;
	uint64_t pieces[2][2];
	int n = 0;

	memset(p, 0, sizeof(*p));
	if (end <= off)
		return;
	if (first < last) {
		p->rm_begin = first;
		p->rm_end = last;
		if (off < first * cs) {
			pieces[n][0] = off;
			pieces[n++][1] = first * cs;
		}
		if (end > last * cs) {
			pieces[n][0] = last * cs;
			pieces[n++][1] = end;
		}
	} else {
		pieces[n][0] = off;
		pieces[n++][1] = end;
	}
	for (int i = 0; i < n; i++) {
		uint64_t a = pieces[i][0], b = pieces[i][1] < size ? pieces[i][1] : size;

		if (a < b) {
			p->zero_off[p->nzero] = a;
			p->zero_len[p->nzero++] = b - a;
		}
	}
}

/* One chain's REMOVE of the range: its own channel and the seq of the request in flight
 * (a retry keeps it; the next page after "more" takes a new one). */
struct punch_chain {
	uint32_t chain_id;
	uint32_t chan;
	uint64_t seq;
	bool done;
	bool started;
	int err;
	char addr[ROUTING_ADDR_MAX];
	struct storage_route route;
	struct c3_buf req;
	struct rpc_call call;
};

/* Route ch to its chain's head (0), or a retryable code. */
static int punch_route(const struct routing_info *ri, struct punch_chain *ch)
{
	const struct routing_chain *c = routing_chain_find(ri, ch->chain_id);
	const struct routing_target *t;
	const struct routing_node *nd;

	if (!c || c->ntargets == 0)
		return -C3FS_ENOCHAIN;
	t = routing_target_find(ri, c->targets[0]);
	if (!t || t->state != TARGET_SERVING)
		return -C3FS_ENOSUCCESSOR; /* head not serving: chain reconfiguring */
	nd = routing_node_find(ri, t->node_id);
	if (!nd || !nd->addr[0])
		return -C3FS_ENOTARGET;
	ch->route.chain_id = c->chain_id;
	ch->route.chain_ver = c->version;
	ch->route.target_id = t->target_id;
	snprintf(ch->addr, sizeof(ch->addr), "%s", nd->addr);
	return 0;
}

/* Remove chunks [begin, end) of f's inode from the n chains of chs (n <= 64). */
static int punch_remove_chains(struct c3fs_file *f, struct punch_chain *chs, int n,
			       uint32_t begin, uint32_t end)
{
	struct c3fs_client *cl = f->cl;
	uint32_t chans[CLIENT_IO_SEG_PIECES];
	uint64_t deadline = c3_now_ms() + client__setting(cl, write_wait_ms), backoff = 10;
	int rc, i, rounds = 0;

	rc = client__chan_take(cl, chans, n, true);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		chs[i].chan = chans[i];
		chs[i].seq = __atomic_add_fetch(&cl->tag_seq, 1, __ATOMIC_RELAXED);
	}
	for (;;) {
		struct routing_info *ri = cluster_client_routing(cl->cc);
		bool refresh = false, progress = false;
		int left = 0, fatal = 0, last_err = 0;

		/* start one call per pending chain, all in flight at once */
		for (i = 0; i < n; i++) {
			struct punch_chain *ch = &chs[i];
			struct storage_remove_req m;

			ch->started = false;
			if (ch->done)
				continue;
			ch->err = ri ? punch_route(ri, ch) : -C3FS_ENOROUTING;
			if (ch->err)
				continue;
			memset(&m, 0, sizeof(m));
			m.route = ch->route;
			m.inode = f->ino;
			m.begin = begin;
			m.end = end;
			m.tag.client_id = cl->client_id;
			m.tag.channel = ch->chan;
			m.tag.seq = ch->seq;
			c3_buf_reset(&ch->req);
			storage_remove_req_encode(&m, &ch->req);
			if (ch->req.err) {
				ch->err = ch->req.err;
				continue;
			}
			rpc_call_init(&ch->call, STORAGE_T_REMOVE, ch->req.data, ch->req.len);
			ch->call.timeout_ms = cl->opts.timeout_ms;
			ch->err = rpc_call_start(cl->rpc, ch->addr, &ch->call);
			ch->started = ch->err == 0;
		}
		if (ri)
			routing_unref(ri);
		/* collect */
		for (i = 0; i < n; i++) {
			struct punch_chain *ch = &chs[i];
			struct storage_remove_rsp rs;

			if (ch->done)
				continue;
			if (ch->started) {
				memset(&rs, 0, sizeof(rs));
				ch->err = rpc_call_wait(&ch->call);
				if (ch->call.resp.len &&
				    storage_remove_rsp_decode(ch->call.resp.data, ch->call.resp.len,
							      &rs) == 0) {
					if (rs.routing_ver)
						cluster_client_routing_hint(cl->cc, rs.routing_ver);
					if (ch->err == 0)
						ch->err = rs.status;
				} else if (ch->err == 0) {
					ch->err = -C3FS_EBADMSG;
				}
				c3_buf_release(&ch->call.resp);
				if (ch->err == 0) {
					progress = true;
					if (rs.more) /* next page: a new request */
						ch->seq = __atomic_add_fetch(&cl->tag_seq, 1,
									     __ATOMIC_RELAXED);
					else
						ch->done = true;
				}
			}
			if (ch->done)
				continue;
			left++;
			if (ch->err) {
				last_err = ch->err;
				enum c3_retry r = c3_err_retry(ch->err, C3_RETRY_WRITE);

				if (r == C3_RETRY_NO && !fatal)
					fatal = ch->err;
				if (r == C3_RETRY_ROUTE)
					refresh = true;
			}
		}
		if (left == 0 || fatal) {
			rc = fatal;
			break;
		}
		if (++rounds >= PUNCH_MAX_ROUNDS) {
			rc = -C3FS_ENORETRY;
			break;
		}
		if (!last_err)
			continue; /* only "more" pages left: at once */
		if (c3_now_ms() >= deadline) {
			rc = last_err;
			break;
		}
		if (cl->opts.interrupted && cl->opts.interrupted()) {
			rc = -EINTR;
			break;
		}
		if (refresh)
			cluster_client_refresh(cl->cc, CLIENT_REFRESH_MS);
		if (!progress || refresh) {
			if (client__wait_interruptible(cl, backoff)) {
				rc = -EINTR;
				break;
			}
			if (backoff < 500)
				backoff *= 2;
		}
	}
	for (i = 0; i < n; i++) {
		client__chan_put(cl, chs[i].chan);
		c3_buf_release(&chs[i].req);
	}
	return rc;
}

/* Remove chunks [begin, end) of f: one REMOVE of the range per chain holding any. */
static int punch_remove(struct c3fs_file *f, uint64_t begin, uint64_t end)
{
	struct client_inode *in = f->inode;
	const struct routing_chain_table *tb;
	struct routing_info *ri;
	struct punch_chain *chs = NULL;
	uint32_t stripe = in->layout.stripe, npos, *ids = NULL, nids = 0;
	int rc = 0;

	if (end > (uint64_t)UINT32_MAX + 1)
		return -EFBIG;
	npos = end - begin < stripe ? (uint32_t)(end - begin) : stripe;
	ids = calloc(npos, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	/* the chains of the positions the range touches, each once */
	ri = cluster_client_routing(f->cl->cc);
	if (!ri) {
		rc = -C3FS_ENOROUTING;
		goto out;
	}
	tb = routing_table_find(ri, in->layout.table_id);
	if (!tb || tb->nchains == 0 || stripe > tb->nchains) {
		routing_unref(ri);
		rc = -C3FS_EBADLAYOUT;
		goto out;
	}
	pthread_mutex_lock(&in->lock);
	for (uint32_t k = 0; k < npos; k++) {
		uint32_t id = tb->chains[meta_layout_pos_from_perm(&in->layout, in->perm,
								   tb->nchains, begin + k)];
		uint32_t j;

		for (j = 0; j < nids && ids[j] != id; j++)
			;
		if (j == nids)
			ids[nids++] = id;
	}
	pthread_mutex_unlock(&in->lock);
	routing_unref(ri);
	chs = calloc(nids < CLIENT_IO_SEG_PIECES ? nids : CLIENT_IO_SEG_PIECES, sizeof(*chs));
	if (!chs) {
		rc = -ENOMEM;
		goto out;
	}
	/* in groups of at most CLIENT_IO_SEG_PIECES chains (channels taken all at once) */
	for (uint32_t g = 0; g < nids && rc == 0; g += CLIENT_IO_SEG_PIECES) {
		int n = nids - g < CLIENT_IO_SEG_PIECES ? (int)(nids - g) : CLIENT_IO_SEG_PIECES;

		memset(chs, 0, (size_t)n * sizeof(*chs));
		for (int i = 0; i < n; i++)
			chs[i].chain_id = ids[g + i];
		rc = punch_remove_chains(f, chs, n, (uint32_t)begin,
					 end > UINT32_MAX ? STORAGE_INDEX_END : (uint32_t)end);
	}
out:
	free(chs);
	free(ids);
	return rc;
}

int c3fs_punch_hole(struct c3fs_file *f, uint64_t off, uint64_t len)
{
	struct client_punch_plan p;
	struct c3fs_attr a;
	uint64_t end, size, cs;
	int rc;

	if (!f || !f->can_write)
		return -EBADF;
	if (len == 0)
		return 0;
	end = off + len;
	cs = f->inode->layout.chunk_size;
	if (end < off || (end - 1) / cs > UINT32_MAX)
		return -EFBIG;
	/* queued writes that overlap land first */
	rc = client__wait_writes_intr(f->cl, f->inode, off, len, false);
	if (rc)
		return rc;
	/* the size now: meta's, merged with this client's unreported writes */
	rc = c3fs_getattr(f->cl, &f->cred, f->ino, &a);
	if (rc)
		return rc;
	size = a.size;
	if (c3fs_file_size_hint(f) > size)
		size = c3fs_file_size_hint(f);
	client__punch_plan((uint32_t)cs, size, off, end, &p);
	if (p.rm_end > p.rm_begin) {
		rc = punch_remove(f, p.rm_begin, p.rm_end);
		if (rc)
			return rc;
	}
	for (int i = 0; i < p.nzero; i++) {
		struct iovec v[2 * STORAGE_CHUNK_SIZE_MAX / PUNCH_ZERO_BYTES];
		uint64_t left = p.zero_len[i];
		int nv = 0;
		ssize_t n;

		/* a piece lies inside one chunk, or two when no whole chunk is punched */
		while (left > 0 && nv < (int)(sizeof(v) / sizeof(v[0]))) {
			v[nv].iov_base = punch_zeros;
			v[nv].iov_len = left < PUNCH_ZERO_BYTES ? left : PUNCH_ZERO_BYTES;
			left -= v[nv++].iov_len;
		}
		n = left ? C3_INTERNAL("punch: a zeroed piece of %llu bytes needs more than %d "
				       "iovecs", (unsigned long long)p.zero_len[i], nv)
			 : client__pwritev_at(f, v, nv, p.zero_off[i]);
		if (n < 0)
			return (int)n;
	}
	if (p.nzero == 0)
		client__file_write_done(f, 0); /* mtime and ctime with the next length report */
	return 0;
}
