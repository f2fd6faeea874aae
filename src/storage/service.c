/* service.c — storage RPC handlers and CRAQ replication (contract in service.h).
 *
 * Invariants:
 *  - A chunk's pending version exists only while some handler holds that chunk's lock (a
 *    pending version left behind by a crash or a failed forward is dropped or superseded
 *    by the next update, which then forwards the whole chunk, see svc_head_apply).
 *  - The head assigns v = max(committed, pending, retired) + 1 under the chunk lock, so a
 *    version is never handed out twice: one the head dropped uncommitted (a forward that
 *    timed out, a commit refused with ENOSPC after the successors committed) may be
 *    committed downstream, and reusing it would let them keep the old bytes as "already
 *    applied".  The next update after such a drop goes down as a whole chunk.  A member
 *    applies a partial update only when v == committed + 1 (its base equals the head's),
 *    a full-chunk update whenever v > committed, and answers "done" when v <= committed.
 *  - A member commits only after its successor answered success, so when the head replies
 *    success every member has committed durably.
 *  - Every reply carries our chain version and routing version.
 *  - svc->ri is replaced whole under ri_mu; users hold a reference while they use it.
 */
#include "storage/service.h"
#include "storage/service_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/vec.h"
#include "net/rpc.h"
#include "proto/storage.h"

enum svc_kind { SVC_K_WRITE, SVC_K_READ, SVC_K_UPDATE, SVC_K_QUERY };

/* ------------------------------------------------------------------ routing */

struct routing_info *svc__routing(struct storage_service *svc)
{
	struct routing_info *ri;

	pthread_mutex_lock(&svc->ri_mu);
	ri = svc->ri;
	if (ri)
		routing_ref(ri);
	pthread_mutex_unlock(&svc->ri_mu);
	return ri;
}

/* Our targets' local states follow their public states (3FS's rules): SERVING means up to
 * date; OFFLINE/WAITING means the contents may be stale until a sync; SYNCING stays
 * ONLINE until the predecessor's SYNC_DONE for this chain version. */
static void svc_local_states_update(struct storage_service *svc, const struct routing_info *ri)
{
	for (int i = 0; i < svc->ntargets; i++) {
		struct svc_target *t = &svc->targets[i];
		const struct routing_target *rt = routing_target_find(ri, t->target_id);
		const struct routing_chain *c = rt ? routing_chain_find(ri, rt->chain_id) : NULL;
		int old = atomic_load(&t->local_state), nw = old;

		if (!rt || !t->cs)
			continue;
		if (rt->state == TARGET_SERVING)
			nw = TARGET_LOCAL_UPTODATE;
		else if (rt->state == TARGET_OFFLINE || rt->state == TARGET_WAITING)
			nw = TARGET_LOCAL_ONLINE;
		else if (rt->state == TARGET_SYNCING &&
			 (!c || atomic_load(&t->synced_chain_ver) != c->version))
			nw = TARGET_LOCAL_ONLINE;
		if (nw != old) {
			atomic_store(&t->local_state, nw);
			LOG_INFO("target %u: public %s, local %s -> %s", t->target_id,
				 target_state_name(rt->state), target_local_state_name(old),
				 target_local_state_name(nw));
		}
	}
}

void storage_service_set_routing(struct storage_service *svc, struct routing_info *ri)
{
	struct routing_info *old;

	if (ri)
		routing_ref(ri);
	pthread_mutex_lock(&svc->ri_mu);
	old = svc->ri;
	svc->ri = ri;
	pthread_mutex_unlock(&svc->ri_mu);
	if (ri && (!old || old->version != ri->version))
		LOG_INFO("routing version %llu installed (%u chains)",
			 (unsigned long long)ri->version, ri->nchains);
	routing_unref(old);
	if (ri)
		svc_local_states_update(svc, ri);
	pthread_mutex_lock(&svc->sync_mu);
	svc->sync_kick = true;
	pthread_cond_signal(&svc->sync_cv);
	pthread_mutex_unlock(&svc->sync_mu);
}

void storage_service_set_serving(struct storage_service *svc, bool serving)
{
	if (atomic_exchange(&svc->serving, serving) == serving)
		return;
	if (serving)
		LOG_INFO("storage node starts serving");
	else
		LOG_WARN("storage node stops serving");
}

void storage_service_set_cluster(struct storage_service *svc, struct cluster_client *cc)
{
	pthread_mutex_lock(&svc->ri_mu);
	svc->cc = cc;
	pthread_mutex_unlock(&svc->ri_mu);
}

/* A peer has a newer routing version than ours: ask for a refresh (when we can). */
static void svc_routing_hint(struct storage_service *svc, uint64_t seen)
{
	pthread_mutex_lock(&svc->ri_mu);
	if (svc->cc)
		cluster_client_routing_hint(svc->cc, seen);
	pthread_mutex_unlock(&svc->ri_mu);
}

struct svc_target *svc__target_find(struct storage_service *svc, uint32_t target_id)
{
	for (int i = 0; i < svc->ntargets; i++)
		if (svc->targets[i].target_id == target_id)
			return &svc->targets[i];
	return NULL;
}

/* Check that route may be served here for kind.  On success *t_out is the local target.
 * res gets our chain/routing versions. */
static int svc_route_check(struct storage_service *svc, const struct storage_route *r,
			   enum svc_kind kind, struct svc_target **t_out,
			   struct storage_io_result *res)
{
	struct svc_target *t;
	struct routing_info *ri;
	const struct routing_chain *c;
	const struct routing_target *rt;
	int rc = 0;

	if (!atomic_load(&svc->serving))
		return -C3FS_ETARGETDOWN;
	t = svc__target_find(svc, r->target_id);
	if (!t)
		return -C3FS_ENOTARGET;
	if (!t->cs || chunk_store_failed(t->cs))
		return -C3FS_ETARGETDOWN;
	ri = svc__routing(svc);
	if (!ri)
		return -C3FS_ENOROUTING;
	res->routing_ver = ri->version;
	c = routing_chain_find(ri, r->chain_id);
	if (!c) {
		rc = -C3FS_ENOCHAIN;
		goto fail;
	}
	res->chain_ver = c->version;
	if (r->chain_ver < c->version) {
		rc = -C3FS_ECHAINVER;
		goto fail;
	}
	if (r->chain_ver > c->version) {
		/* the caller knows a newer chain than we do */
		svc_routing_hint(svc, ri->version + 1);
		rc = -C3FS_ENOROUTING;
		goto fail;
	}
	rt = routing_target_find(ri, r->target_id);
	if (!rt || rt->chain_id != r->chain_id) {
		rc = -C3FS_ENOTARGET;
		goto fail;
	}
	switch (kind) {
	case SVC_K_WRITE:
		if (routing_chain_head(ri, c) != r->target_id)
			rc = -C3FS_ENOTHEAD;
		break;
	case SVC_K_READ:
	case SVC_K_QUERY:
		if (!routing_target_is_readable(ri, c, r->target_id))
			rc = -C3FS_ETARGETDOWN;
		break;
	case SVC_K_UPDATE:
		if (rt->state != TARGET_SERVING && rt->state != TARGET_SYNCING)
			rc = -C3FS_ETARGETDOWN;
		break;
	}
	if (rc == 0)
		*t_out = t;
fail:
	routing_unref(ri);
	return rc;
}

/* ------------------------------------------------------------------ exactly-once */

static struct svc_dedup *svc_dedup_slot(struct storage_service *svc, uint32_t chain_id,
					const struct storage_tag *tag)
{
	uint64_t h = tag->client_id * 0x9E3779B97F4A7C15ull;

	h ^= ((uint64_t)tag->channel << 32 | chain_id) * 0xC2B2AE3D27D4EB4Full;
	return &svc->dd[(h >> 17) % svc->ndd];
}

/* 1 = a result for this exact request is known (copied to res); 0 = apply it;
 * -C3FS_EDUPLICATE = a newer request on this channel was already applied. */
static int svc_dedup_lookup(struct storage_service *svc, uint32_t chain_id,
			    const struct storage_tag *tag, struct storage_io_result *res, bool *more)
{
	struct svc_dedup *d;
	int rc = 0;

	if (!tag->client_id)
		return 0;
	pthread_mutex_lock(&svc->dd_mu);
	d = svc_dedup_slot(svc, chain_id, tag);
	if (d->client_id == tag->client_id && d->channel == tag->channel &&
	    d->chain_id == chain_id) {
		if (d->seq == tag->seq) {
			*res = d->res;
			if (more)
				*more = d->more;
			rc = 1;
		} else if (d->seq > tag->seq) {
			rc = -C3FS_EDUPLICATE;
		}
	}
	pthread_mutex_unlock(&svc->dd_mu);
	if (rc == 1)
		c3_counter_add(svc->m_dedup_hits, 1);
	return rc;
}

static void svc_dedup_store(struct storage_service *svc, uint32_t chain_id,
			    const struct storage_tag *tag, const struct storage_io_result *res,
			    bool more)
{
	struct svc_dedup *d;

	if (!tag->client_id || res->status != 0)
		return;
	pthread_mutex_lock(&svc->dd_mu);
	d = svc_dedup_slot(svc, chain_id, tag);
	if (!(d->client_id == tag->client_id && d->channel == tag->channel &&
	      d->chain_id == chain_id && d->seq > tag->seq)) {
		d->client_id = tag->client_id;
		d->channel = tag->channel;
		d->chain_id = chain_id;
		d->seq = tag->seq;
		d->res = *res;
		d->more = more;
	}
	pthread_mutex_unlock(&svc->dd_mu);
}

/* ------------------------------------------------------------------ forwarding */

/* Local work done while the successor applies the update: make our pending bytes durable
 * (the successors' syncs and ours overlap instead of adding up along the chain). */
struct svc_overlap {
	struct chunk_store *cs;
	struct chunk_id id;
	bool ran;
	int rc;
};

static void svc_overlap_run(struct svc_overlap *ov)
{
	if (ov && !ov->ran) {
		ov->ran = true;
		ov->rc = chunk_store_sync_pending(ov->cs, ov->id);
	}
}

/* One forward of an update to self's successor: the attempt in flight (if any) and what
 * the retry loop needs.  An attempt may be started early (svc_fwd_start from
 * chunk_store_stage's before_data hook, so the successor receives the bytes while we
 * write them) and finished by svc_forward. */
struct svc_fwd {
	struct storage_service *svc;
	uint32_t self, chain_id;
	struct storage_update_req *u;
	const struct iovec *bulk;
	int nbulk;
	bool started;              /* an attempt was started and not finished yet */
	bool inflight;             /* ... and its call is on the wire (else rc holds it) */
	int rc;
	uint32_t succ;
	uint64_t ri_ver;
	struct rpc_call call;
	struct c3_buf req;
};

static void svc_fwd_init(struct svc_fwd *f, struct storage_service *svc, uint32_t self,
			 uint32_t chain_id, struct storage_update_req *u, const struct iovec *bulk,
			 int nbulk)
{
	memset(f, 0, sizeof(*f));
	f->svc = svc;
	f->self = self;
	f->chain_id = chain_id;
	f->u = u;
	f->bulk = bulk;
	f->nbulk = nbulk;
	f->req = (struct c3_buf)C3_BUF_INIT;
}

/* Start one attempt (re-reading the routing).  Never blocks on the successor. */
static void svc_fwd_start(struct svc_fwd *f)
{
	struct storage_service *svc = f->svc;
	struct routing_info *ri = svc__routing(svc);
	const struct routing_chain *c = ri ? routing_chain_find(ri, f->chain_id) : NULL;
	const struct routing_target *st;
	const struct routing_node *node;

	f->started = true;
	f->inflight = false;
	f->succ = 0;
	if (!c) {
		f->rc = -C3FS_ENOCHAIN;
		goto out;
	}
	f->ri_ver = ri->version;
	{
		bool member = false;

		for (uint32_t i = 0; i < c->ntargets; i++)
			member |= c->targets[i] == f->self;
		if (!member) {
			/* taken out of the chain (c3fs-admin remove-chain-target, rebalance)
			 * while this update was on its way: "no successor" would make us the
			 * tail and acknowledge an update the chain does not hold.  The sender
			 * retries on the chain as it is now. */
			f->rc = -C3FS_ENOTHEAD;
			goto out;
		}
	}
	f->succ = routing_chain_successor(ri, c, f->self);
	if (!f->succ) {
		f->rc = 0; /* we are the tail */
		goto out;
	}
	st = routing_target_find(ri, f->succ);
	node = st ? routing_node_find(ri, st->node_id) : NULL;
	if (!node) {
		f->rc = -C3FS_ENOSUCCESSOR;
		goto out;
	}
	f->u->route.chain_id = f->chain_id;
	f->u->route.chain_ver = c->version;
	f->u->route.target_id = f->succ;
	c3_buf_release(&f->req);
	f->req = (struct c3_buf)C3_BUF_INIT;
	storage_update_req_encode(f->u, &f->req);
	if (f->req.err) {
		f->rc = f->req.err;
		goto out;
	}
	rpc_call_init(&f->call, STORAGE_T_UPDATE, f->req.data, f->req.len);
	f->call.bulk = f->bulk;
	f->call.nbulk = f->nbulk;
	f->call.timeout_ms = svc->forward_timeout_ms;
	f->rc = rpc_call_start(svc->cli, node->addr, &f->call);
	f->inflight = f->rc == 0;
out:
	routing_unref(ri);
}

/* Finish the started attempt: its result. */
static int svc_fwd_wait(struct svc_fwd *f)
{
	struct storage_io_result r;
	int rc = f->rc;

	if (!f->started)
		return 0;
	f->started = false;
	if (!f->inflight)
		return rc;
	f->inflight = false;
	rc = rpc_call_wait(&f->call);
	if (f->call.resp.len &&
	    storage_io_result_decode(f->call.resp.data, f->call.resp.len, &r) == 0 &&
	    rc == -C3FS_ECHAINVER && r.routing_ver > f->ri_ver)
		svc_routing_hint(f->svc, r.routing_ver);
	c3_buf_release(&f->call.resp);
	return rc;
}

static void svc_fwd_release(struct svc_fwd *f)
{
	if (f->started)
		(void)svc_fwd_wait(f);
	c3_buf_release(&f->req);
}

/* Send f's update to self's successor in the chain, retrying transient failures
 * (c3_err_retry as C3_RETRY_CHAIN; re-reading the routing each attempt) for up to forward_retry_ms; the first attempt may
 * already be in flight.  0 when we are the tail or the successor applied it.  ov runs
 * once, while the first attempt is in flight (or right away when there is no successor). */
static int svc_forward(struct svc_fwd *f, struct svc_overlap *ov)
{
	struct storage_service *svc = f->svc;
	uint64_t deadline = c3_now_ms() + svc->forward_retry_ms;
	uint32_t backoff = 50;
	int rc = 0, attempts = 0;

	for (;;) {
		if (!f->started)
			svc_fwd_start(f);
		svc_overlap_run(ov);
		rc = svc_fwd_wait(f);
		attempts++;
		/* ECHUNKVER (the caller resends the whole chunk), ENOSUCCESSOR (a later
		 * member gave up) and the codes naming a gone chain or target are ORIGIN:
		 * they go back, the client resends on fresh routing */
		if (rc == 0 || c3_err_retry(rc, C3_RETRY_CHAIN) == C3_RETRY_NO)
			return rc;
		if (c3_now_ms() + backoff > deadline)
			break;
		c3_counter_add(svc->m_fwd_retry, 1);
		if (attempts == 1 || attempts % 10 == 0)
			LOG_WARN("forward of chunk %llu:%u to target %u failed: %s; retrying",
				 (unsigned long long)f->u->chunk.inode, f->u->chunk.index, f->succ,
				 c3_strerror(rc));
		c3_sleep_ms(backoff);
		backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
	}
	LOG_ERROR("forward of chunk %llu:%u gave up after %d attempts: %s",
		  (unsigned long long)f->u->chunk.inode, f->u->chunk.index, attempts,
		  c3_strerror(rc));
	return (rc == -C3FS_ECHAINVER || rc == -C3FS_ENOROUTING) ? rc : -C3FS_ENOSUCCESSOR;
}

/* chunk_store_stage's before_data hook: the forward leaves while our bytes are written. */
static void svc_fwd_hook(void *arg)
{
	svc_fwd_start(arg);
}

/* A stage that failed after its forward left: when the successors applied the update
 * (they commit only after their own successors did), this replica is behind its chain
 * for that chunk and cannot catch up by itself, so the target is failed and recovery
 * resyncs it.  Only I/O errors (which fail the target anyway) and ENOMEM get here: space
 * was allocated before the hook ran. */
static void svc_stage_failed_after_forward(struct svc_target *t, struct chunk_id id,
					   struct svc_fwd *f, int stage_rc)
{
	int rc = svc_fwd_wait(f);

	if (rc == 0 && f->succ) {
		LOG_ERROR("target %u: chunk %llu:%u could not be written here (%s) after the "
			  "chain applied it: failing the target for a resync", t->target_id,
			  (unsigned long long)id.inode, id.index, c3_strerror(stage_rc));
		chunk_store_set_failed(t->cs);
	}
}

/* Fill the chunk part of a result from the store. */
static void svc_fill_state(struct svc_target *t, struct chunk_id id, struct storage_io_result *res)
{
	struct chunk_info info;

	if (chunk_store_stat(t->cs, id, &info) == 0 && info.has_commit) {
		res->commit_ver = info.commit_ver;
		res->chunk_len = info.length;
	} else {
		res->commit_ver = 0;
		res->chunk_len = 0;
	}
}

uint32_t svc__chain_ver(struct storage_service *svc, uint32_t chain_id)
{
	struct routing_info *ri = svc__routing(svc);
	const struct routing_chain *c = ri ? routing_chain_find(ri, chain_id) : NULL;
	uint32_t v = c ? c->version : 0;

	routing_unref(ri);
	return v;
}

/* Is self's successor in the chain a SYNCING target?  (Then every update goes to it as a
 * whole chunk with STORAGE_UPD_F_SYNC: its own versions cannot be trusted.) */
static bool svc_successor_syncing(struct storage_service *svc, uint32_t chain_id, uint32_t self)
{
	struct routing_info *ri = svc__routing(svc);
	const struct routing_chain *c = ri ? routing_chain_find(ri, chain_id) : NULL;
	uint32_t succ = c ? routing_chain_successor(ri, c, self) : 0;
	bool r = succ && routing_member_state(ri, succ) == TARGET_SYNCING;

	routing_unref(ri);
	return r;
}

/* Turn fw into a whole-chunk SYNC update carrying the pending version (lock held).  rd
 * receives the bytes (release it after the forward); *iov points at them. */
static int svc_make_full(struct svc_target *t, struct chunk_id id, bool sync,
			 struct storage_update_req *fw, struct chunk_read *rd, struct iovec *iov)
{
	struct chunk_info info;
	int rc;

	if (fw->type == STORAGE_UPD_REMOVE) {
		if (sync)
			fw->flags |= STORAGE_UPD_F_SYNC;
		return 0;
	}
	rc = chunk_store_stat(t->cs, id, &info);
	if (rc == 0 && info.has_pending && info.pending_remove) {
		fw->type = STORAGE_UPD_REMOVE;
		fw->flags = sync ? STORAGE_UPD_F_SYNC : 0;
		return 0;
	}
	rc = chunk_store_read(t->cs, id, 0, CHUNK_SIZE_MAX, true, rd);
	if (rc)
		return rc;
	fw->type = STORAGE_UPD_WRITE;
	fw->flags = STORAGE_UPD_F_FULL | (sync ? STORAGE_UPD_F_SYNC : 0);
	fw->offset = 0;
	fw->length = rd->length;
	iov->iov_base = (void *)rd->data;
	iov->iov_len = rd->length;
	fw->crc = rd->length ? c3_crc32c(0, rd->data, rd->length) : 0;
	return 0;
}

/* ------------------------------------------------------------------ the head */

struct svc_op {
	int type;                  /* enum chunk_update_type */
	struct chunk_id id;
	uint32_t offset, length, chunk_size, trunc_flags;
	const uint8_t *data;
	uint32_t crc;              /* WRITE: CRC32C of data (checked by the caller) */
	struct storage_tag tag;
};

/* An error after which this target is failed (an I/O error, a read-only or damaged disk:
 * chunk.c's chunk_note_err) means, to the caller, "this replica is gone": the retryable
 * -C3FS_ETARGETDOWN, so the client or the predecessor tries again on the chain mgmtd
 * rebuilds without it, instead of failing the write with the disk's own errno. */
static int svc_target_err(const struct svc_target *t, int rc)
{
	return rc < 0 && t->cs && chunk_store_failed(t->cs) ? -C3FS_ETARGETDOWN : rc;
}

/* A chunk update applied here (write, truncate, remove: bytes = what was written). */
static void svc_count_write(struct svc_target *t, uint64_t bytes)
{
	atomic_fetch_add_explicit(&t->wr_ops, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->wr_bytes, bytes, memory_order_relaxed);
}

/* Apply op as the chain head of route (lock, version, stage, forward, commit). */
static void svc_head_apply(struct storage_service *svc, struct svc_target *t,
			   const struct storage_route *route, const struct svc_op *op,
			   struct storage_io_result *res)
{
	struct chunk_info info;
	struct chunk_update u;
	struct storage_update_req fw;
	struct chunk_read rd = { 0 };
	struct iovec iov;
	struct svc_overlap ov;
	struct svc_fwd f;
	bool full, sync;
	int rc;

	svc_fwd_init(&f, svc, route->target_id, route->chain_id, NULL, NULL, 0);
	rc = chunk_store_lock(t->cs, op->id);
	if (rc) {
		res->status = rc;
		return;
	}
	rc = svc_dedup_lookup(svc, route->chain_id, &op->tag, res, NULL);
	if (rc) {
		if (rc < 0)
			res->status = rc;
		goto unlock;
	}
	rc = chunk_store_stat(t->cs, op->id, &info); /* (filled on -ENOENT too) */
	if (rc && rc != -ENOENT)
		goto done;
	if (op->type == CHUNK_UPD_TRUNCATE && (op->trunc_flags & STORAGE_TRUNC_F_ONLY_EXTEND) &&
	    info.has_commit && !info.has_pending && !info.retired_ver &&
	    info.length >= op->length) {
		rc = 0;
		goto done;
	}
	/* A pending version here is a leftover (we hold the lock), a retired one was dropped
	 * after it may have left: their fate on the successors is unknown, so the new version
	 * goes to them as a whole chunk. */
	full = (info.has_pending || info.retired_ver) && op->type != CHUNK_UPD_REMOVE;
	sync = svc_successor_syncing(svc, route->chain_id, route->target_id);
	memset(&u, 0, sizeof(u));
	u.type = op->type;
	u.on_pending = info.has_pending;
	u.offset = op->offset;
	u.length = op->length;
	u.chunk_size = op->chunk_size;
	u.data = op->data;
	u.version = info.commit_ver;
	if (info.pending_ver > u.version)
		u.version = info.pending_ver;
	if (info.retired_ver > u.version)
		u.version = info.retired_ver;
	u.version++;
	memset(&fw, 0, sizeof(fw));
	fw.chunk.inode = op->id.inode;
	fw.chunk.index = op->id.index;
	fw.chunk_size = op->chunk_size;
	fw.update_ver = u.version;
	fw.tag = op->tag;
	iov.iov_base = NULL;
	iov.iov_len = 0;
	if (op->type == CHUNK_UPD_WRITE) {
		fw.type = STORAGE_UPD_WRITE;
		fw.offset = op->offset;
		fw.length = op->length;
		fw.crc = op->crc; /* the client's, checked against the data on arrival */
		iov.iov_base = (void *)op->data;
		iov.iov_len = op->length;
	} else if (op->type == CHUNK_UPD_TRUNCATE) {
		fw.type = STORAGE_UPD_TRUNCATE;
		fw.length = op->length;
	} else {
		fw.type = STORAGE_UPD_REMOVE;
	}
	svc_fwd_init(&f, svc, route->target_id, route->chain_id, &fw, iov.iov_len ? &iov : NULL,
		     iov.iov_len ? 1 : 0);
	if (op->type == CHUNK_UPD_WRITE && !full && !sync) {
		/* pipelined: the update leaves for the successor once it cannot be refused
		 * here, and travels while our copy is written */
		u.before_data = svc_fwd_hook;
		u.before_data_arg = &f;
	}
	rc = chunk_store_stage(t->cs, op->id, &u);
	if (rc) {
		if (f.started)
			svc_stage_failed_after_forward(t, op->id, &f, rc);
		goto abort;
	}
	if (full || sync) {
		rc = svc_make_full(t, op->id, sync, &fw, &rd, &iov);
		if (rc)
			goto abort;
		f.bulk = iov.iov_len ? &iov : NULL;
		f.nbulk = iov.iov_len ? 1 : 0;
	}
	ov.cs = t->cs;
	ov.id = op->id;
	ov.ran = false;
	ov.rc = 0;
	rc = svc_forward(&f, &ov);
	if (rc == -C3FS_ECHUNKVER && !(fw.flags & STORAGE_UPD_F_FULL) &&
	    fw.type != STORAGE_UPD_REMOVE) {
		/* a successor missed an update (its base is not ours): send the whole chunk */
		LOG_WARN("chunk %llu:%u v%llu: successor is missing an update, resending whole",
			 (unsigned long long)op->id.inode, op->id.index,
			 (unsigned long long)u.version);
		rc = svc_make_full(t, op->id, false, &fw, &rd, &iov);
		if (rc == 0) {
			f.bulk = iov.iov_len ? &iov : NULL;
			f.nbulk = iov.iov_len ? 1 : 0;
			rc = svc_forward(&f, &ov);
		}
	}
	chunk_read_release(&rd);
	if (!rc)
		rc = ov.rc;
	if (rc)
		goto abort;
#ifdef C3_TEST_BUILD
	if (info.has_commit && atomic_load(&svc->test_commit_enospc_inode) == op->id.inode &&
	    atomic_exchange(&svc->test_commit_enospc_inode, 0) == op->id.inode)
		rc = -ENOSPC;
	else
#endif
		rc = chunk_store_commit(t->cs, op->id, u.version,
					svc__chain_ver(svc, route->chain_id));
	if (rc) {
		LOG_ERROR("target %u: commit of chunk %llu:%u v%llu failed after the successors "
			  "committed: %s", t->target_id, (unsigned long long)op->id.inode,
			  op->id.index, (unsigned long long)u.version, c3_strerror(rc));
		goto abort;
	}
	goto done;
abort:
	chunk_read_release(&rd);
	chunk_store_abort(t->cs, op->id);
done:
	rc = svc_target_err(t, rc);
	res->status = rc;
	if (rc == 0)
		svc_count_write(t, op->type == CHUNK_UPD_WRITE ? op->length : 0);
	if (rc == 0) {
		svc_fill_state(t, op->id, res);
		res->length = op->type == CHUNK_UPD_WRITE ? op->length : res->chunk_len;
		svc_dedup_store(svc, route->chain_id, &op->tag, res, false);
	}
unlock:
	svc_fwd_release(&f);
	chunk_store_unlock(t->cs, op->id);
}

/* ------------------------------------------------------------------ handlers */

/* A request whose payload did not decode (rc) is answered with rc: true.  For the handlers
 * whose decoders leave nothing to release on failure. */
static bool svc_decode_failed(struct rpc_req *req, int rc)
{
	if (rc)
		rpc_reply(req, rc, NULL, 0, NULL, 0);
	return rc != 0;
}

static void svc_reply_batch(struct rpc_req *req, struct storage_io_result *res, uint32_t n,
			    const struct iovec *iov, int niov)
{
	struct storage_batch_rsp rsp = { n, res };
	struct c3_buf b = C3_BUF_INIT;

	storage_batch_rsp_encode(&rsp, &b);
	if (b.err)
		rpc_reply(req, b.err, NULL, 0, NULL, 0);
	else
		rpc_reply(req, 0, b.data, b.len, iov, niov);
	c3_buf_release(&b);
}

/* One write io as the head. */
static void svc_write_one(struct storage_service *svc, const struct rpc_req *req,
			  const struct storage_write_io *io, const uint8_t *data,
			  struct storage_io_result *res)
{
	struct svc_target *t;
	struct svc_op op;
	int rc;

	rc = svc_route_check(svc, &io->route, SVC_K_WRITE, &t, res);
	if (rc) {
		res->status = rc;
		return;
	}
	if (c3_crc32c(0, data, io->length) != io->crc) {
		res->status = -C3FS_EBADMSG;
		LOG_WARN("write to chunk %llu:%u from %s: data CRC mismatch",
			 (unsigned long long)io->chunk.inode, io->chunk.index, req->peer);
		return;
	}
	memset(&op, 0, sizeof(op));
	op.type = CHUNK_UPD_WRITE;
	op.id.inode = io->chunk.inode;
	op.id.index = io->chunk.index;
	op.offset = io->offset;
	op.length = io->length;
	op.chunk_size = io->chunk_size;
	op.data = data;
	op.crc = io->crc;
	op.tag = io->tag;
	svc_head_apply(svc, t, &io->route, &op, res);
	if (res->status == 0)
		c3_counter_add(svc->m_write_bytes, io->length);
}

#define SVC_WRITE_PAR_MAX 8   /* ios of one batch applied in parallel */
#define SVC_WRITE_POOL 16     /* workers the batches share (svc->write_pool) */

/* A share of a batch: ios first, first + stride, ... */
struct svc_write_part {
	struct storage_service *svc;
	const struct rpc_req *req;
	const struct storage_write_req *m;
	const uint64_t *offs;
	struct storage_io_result *res;
	uint32_t first, stride;
};

static void svc_write_part_run(void *arg)
{
	struct svc_write_part *p = arg;

	for (uint32_t i = p->first; i < p->m->nios; i += p->stride)
		svc_write_one(p->svc, p->req, &p->m->ios[i], p->req->bulk + p->offs[i], &p->res[i]);
}

/* Ios of a batch may run in parallel when no two name the same chunk (else their order
 * would matter). */
static bool svc_batch_distinct(const struct storage_write_req *m)
{
	if (m->nios > 64)
		return false;
	for (uint32_t i = 0; i < m->nios; i++)
		for (uint32_t j = i + 1; j < m->nios; j++)
			if (m->ios[i].chunk.inode == m->ios[j].chunk.inode &&
			    m->ios[i].chunk.index == m->ios[j].chunk.index &&
			    m->ios[i].route.chain_id == m->ios[j].route.chain_id)
				return false;
	return true;
}

static void svc_on_write(struct rpc_req *req, void *arg)
{
	struct storage_service *svc = arg;
	struct storage_write_req m;
	struct storage_io_result *res = NULL;
	uint64_t start = c3_now_ns(), total = 0, *offs = NULL;
	int rc;

	rc = storage_write_req_decode(req->payload, req->payload_len, &m);
	if (rc) {
		storage_write_req_release(&m);
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	res = calloc(m.nios + 1, sizeof(*res));
	offs = calloc(m.nios + 1, sizeof(*offs));
	for (uint32_t i = 0; offs && i < m.nios; i++) {
		offs[i] = total;
		total += m.ios[i].length;
	}
	if (!res || !offs || total != req->bulk_len) {
		rpc_reply(req, res && offs ? -C3FS_EBADMSG : -ENOMEM, NULL, 0, NULL, 0);
		goto out;
	}
	if (m.nios > 1 && svc_batch_distinct(&m)) {
		struct svc_write_part parts[SVC_WRITE_PAR_MAX];
		struct c3_pool_job jobs[SVC_WRITE_PAR_MAX];
		uint32_t k = m.nios < SVC_WRITE_PAR_MAX ? m.nios : SVC_WRITE_PAR_MAX;

		for (uint32_t j = 0; j < k; j++) {
			parts[j] = (struct svc_write_part){ svc, req, &m, offs, res, j, k };
			jobs[j] = (struct c3_pool_job){ .fn = svc_write_part_run, .arg = &parts[j] };
			if (j > 0)
				c3_pool_submit(svc->write_pool, &jobs[j]);
		}
		svc_write_part_run(&parts[0]);
		for (uint32_t j = 1; j < k; j++) /* runs here what no pool worker took */
			c3_pool_join(svc->write_pool, &jobs[j]);
	} else {
		struct svc_write_part all = { svc, req, &m, offs, res, 0, 1 };

		svc_write_part_run(&all);
	}
	svc_reply_batch(req, res, m.nios, NULL, 0);
	c3_hist_observe_ns(svc->m_write_lat, c3_now_ns() - start);
out:
	free(offs);
	free(res);
	storage_write_req_release(&m);
}

static void svc_on_truncate(struct rpc_req *req, void *arg)
{
	struct storage_service *svc = arg;
	struct storage_truncate_req m;
	struct storage_io_result *res;
	int rc;

	rc = storage_truncate_req_decode(req->payload, req->payload_len, &m);
	if (rc || req->bulk_len) {
		storage_truncate_req_release(&m);
		rpc_reply(req, rc ? rc : -C3FS_EBADMSG, NULL, 0, NULL, 0);
		return;
	}
	res = calloc(m.nios ? m.nios : 1, sizeof(*res));
	if (!res) {
		storage_truncate_req_release(&m);
		rpc_reply(req, -ENOMEM, NULL, 0, NULL, 0);
		return;
	}
	for (uint32_t i = 0; i < m.nios; i++) {
		const struct storage_truncate_io *io = &m.ios[i];
		struct svc_target *t;
		struct svc_op op;

		rc = svc_route_check(svc, &io->route, SVC_K_WRITE, &t, &res[i]);
		if (rc) {
			res[i].status = rc;
			continue;
		}
		memset(&op, 0, sizeof(op));
		op.type = CHUNK_UPD_TRUNCATE;
		op.id.inode = io->chunk.inode;
		op.id.index = io->chunk.index;
		op.length = io->length;
		op.chunk_size = io->chunk_size;
		op.trunc_flags = io->flags;
		op.tag = io->tag;
		svc_head_apply(svc, t, &io->route, &op, &res[i]);
	}
	svc_reply_batch(req, res, m.nios, NULL, 0);
	free(res);
	storage_truncate_req_release(&m);
}

/* STORAGE_T_READ runs inline on the network I/O thread (no hand-off to a worker) when the
 * batch is small (SVC_READ_INLINE_MAX, 16 ios): each io's chunk version is looked up there
 * (LMDB's memory map) and its bytes are read with io_uring from the thread's own ring
 * (aread.c).  Bytes in the page cache come back while the reads are submitted and the
 * reply goes out at once; reads that wait for the disk complete later on the same thread,
 * which answers when the batch's last one is in.  Anything else (a big batch, a chunk file
 * whose descriptor is not cached, a full ring, a block that fails its check or a read that
 * comes back short, to be re-checked with blocking I/O) goes to a worker whole, which
 * reads with blocking I/O.  (A partial result is dropped then: retrying the whole batch
 * keeps one code path.)  Without io_uring (storage.io_engine psync) the I/O thread serves
 * only what preadv2(RWF_NOWAIT) finds cached. */
#define SVC_READ_INLINE_MAX (64u << 10)

/* Fill res[i] and the reply's iovecs from rds[i] (status already in res[i]), count, and
 * reply.  ts[i]: the target read (NULL when the io failed before). */
static void svc_read_reply(struct storage_service *svc, struct rpc_req *req,
			   const struct storage_read_req *m, struct storage_io_result *res,
			   const struct chunk_read *rds, struct svc_target *const *ts,
			   struct iovec *iov, uint64_t start)
{
	uint64_t bytes = 0;
	int niov = 0;

	for (uint32_t i = 0; i < m->nios; i++) {
		const struct storage_read_io *io = &m->ios[i];

		if (res[i].status == 0) {
			struct svc_target *t = ts[i];

			atomic_fetch_add_explicit(&t->rd_ops, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&t->rd_bytes, rds[i].length,
						  memory_order_relaxed);
			res[i].length = rds[i].length;
			res[i].commit_ver = rds[i].version;
			res[i].chunk_len = rds[i].chunk_len;
			res[i].crc = !rds[i].length  ? 0
				     : rds[i].crc_known ? rds[i].crc
							: c3_crc32c(0, rds[i].data, rds[i].length);
			if (rds[i].length) {
				iov[niov].iov_base = (void *)rds[i].data;
				iov[niov++].iov_len = rds[i].length;
			}
			bytes += rds[i].length;
		}
		if (io->length > res[i].length) {
			iov[niov].iov_base = (void *)svc->zeros;
			iov[niov++].iov_len = io->length - res[i].length;
		}
	}
	svc_reply_batch(req, res, m->nios, iov, niov);
	c3_counter_add(svc->m_read_bytes, bytes);
	c3_hist_observe_ns(svc->m_read_lat, c3_now_ns() - start);
}

/* One read batch served on an I/O thread (see above). */
struct svc_rjob {
	struct storage_service *svc;
	struct rpc_req *req;
	struct storage_read_req m;
	uint64_t start;
	unsigned pending;             /* reads submitted, not completed */
	bool redo;                    /* some io needs the blocking path: defer the batch */
	struct storage_io_result *res;
	struct chunk_read *rds;
	struct svc_target **ts;
	struct iovec *iov;
	struct svc_rio {
		struct svc_rjob *job;
		uint32_t i;
		struct chunk_aread ar;
		void *buf;
	} *rio;
};

static void svc_rjob_free(struct svc_rjob *job)
{
	for (uint32_t i = 0; i < job->m.nios; i++) {
		chunk_store_aread_cancel(&job->rio[i].ar);
		free(job->rio[i].buf);
	}
	storage_read_req_release(&job->m);
	free(job->res);
	free(job->rds);
	free(job->ts);
	free(job->iov);
	free(job->rio);
	free(job);
}

/* The batch's reads are all done (on the I/O thread): reply, or give it to a worker. */
static void svc_rjob_finish(struct svc_rjob *job)
{
	struct storage_service *svc = job->svc;
	struct rpc_req *req = job->req;

	if (job->redo) {
		svc_rjob_free(job);
		c3_counter_add(svc->m_read_deferred, 1);
		rpc_req_defer(req);
		return;
	}
	c3_counter_add(svc->m_read_inline, 1);
	svc_read_reply(svc, req, &job->m, job->res, job->rds, job->ts, job->iov, job->start);
	svc_rjob_free(job);
}

static void svc_rio_done(void *arg, int got)
{
	struct svc_rio *rio = arg;
	struct svc_rjob *job = rio->job;
	int rc = chunk_store_aread_end(&rio->ar, rio->buf, got);

	if (rc == -EAGAIN)
		job->redo = true;
	else if (rc)
		job->res[rio->i].status = rc;
	else
		job->rds[rio->i] = rio->ar.rd;
	if (--job->pending == 0)
		svc_rjob_finish(job);
}

/* On the I/O thread: serve the batch there (true; m is the job's now), or false when it
 * must go to a worker (nothing was started; m is still the caller's). */
static bool svc_read_async(struct storage_service *svc, struct rpc_req *req,
			   struct storage_read_req *m, uint64_t start)
{
	struct svc_aring *ring = NULL;
	struct svc_rjob *job;
	unsigned need = 0;
	uint32_t n = m->nios;

	job = calloc(1, sizeof(*job));
	if (!job)
		return false;
	job->res = calloc(n + 1, sizeof(*job->res));
	job->rds = calloc(n + 1, sizeof(*job->rds));
	job->ts = calloc(n + 1, sizeof(*job->ts));
	job->iov = calloc(2 * (size_t)n + 1, sizeof(*job->iov));
	job->rio = calloc(n + 1, sizeof(*job->rio));
	if (!job->res || !job->rds || !job->ts || !job->iov || !job->rio)
		goto refuse;
	job->svc = svc;
	job->req = req;
	job->start = start;
	job->m = *m; /* the ios stay where the decoder put them; released with the job */
	for (uint32_t i = 0; i < n; i++) {
		const struct storage_read_io *io = &m->ios[i];
		struct svc_rio *rio = &job->rio[i];
		int rc;

		rio->job = job;
		rio->i = i;
		rio->ar.fd = -1;
		rc = svc_route_check(svc, &io->route, SVC_K_READ, &job->ts[i], &job->res[i]);
		if (rc == 0) {
			rc = chunk_store_aread_begin(job->ts[i]->cs,
						     (struct chunk_id){ io->chunk.inode,
									io->chunk.index },
						     io->offset, io->length, &rio->ar);
			if (rc == -EAGAIN || rc == -C3FS_ECHECKSUM)
				goto refuse; /* uncached descriptor; a damaged record is marked there */
		}
		job->res[i].status = rc;
		if (rc == 0 && rio->ar.io_len) {
			rio->buf = aligned_alloc(4096, ((size_t)rio->ar.io_len + 4095) & ~4095ul);
			if (!rio->buf)
				goto refuse;
			need++;
		} else if (rc == 0) {
			job->rds[i] = rio->ar.rd; /* a hole, or past the end */
		}
	}
	if (need) {
		ring = svc__aring(svc);
		if (!ring || !svc__aring_reserve(ring, need))
			goto refuse;
		c3_counter_add(svc->m_read_async, need);
		job->pending = need;
		for (uint32_t i = 0; i < n; i++) {
			struct svc_rio *rio = &job->rio[i];

			if (job->res[i].status || !rio->ar.io_len)
				continue;
			if (svc__aring_read(ring, rio->ar.fd, rio->buf, rio->ar.io_len,
					    rio->ar.io_off, svc_rio_done, rio) != 0) {
				/* no memory for this one: the batch goes to a worker once the
				 * reads already queued are in */
				job->redo = true;
				svc__aring_unreserve(ring, 1);
				job->pending--;
			}
		}
		if (job->pending == 0) {
			svc_rjob_finish(job);
		} else {
			svc__aring_submit(ring); /* may complete and free the job */
		}
		return true;
	}
	svc_rjob_finish(job);
	return true;
refuse:
	if (job->rio)
		for (uint32_t i = 0; i < n; i++) {
			chunk_store_aread_cancel(&job->rio[i].ar);
			free(job->rio[i].buf);
		}
	free(job->res);
	free(job->rds);
	free(job->ts);
	free(job->iov);
	free(job->rio);
	free(job);
	return false;
}

static void svc_on_read(struct rpc_req *req, void *arg)
{
	struct storage_service *svc = arg;
	struct storage_read_req m;
	struct storage_io_result *res = NULL;
	struct chunk_read *rds = NULL;
	struct svc_target **ts = NULL;
	struct iovec *iov = NULL;
	uint64_t start = c3_now_ns();
	int rc;

	rc = storage_read_req_decode(req->payload, req->payload_len, &m);
	if (rc) {
		storage_read_req_release(&m);
		rpc_reply(req, rc, NULL, 0, NULL, 0);
		return;
	}
	if (req->on_io_thread) {
		uint64_t want = 0;

		for (uint32_t i = 0; i < m.nios; i++)
			want += m.ios[i].length;
		if (want > SVC_READ_INLINE_MAX || m.nios > 16)
			goto defer;
		if (svc->io_engine == CHUNK_IO_URING) {
			if (svc_read_async(svc, req, &m, start))
				return;
			goto defer;
		}
	}
	res = calloc(m.nios + 1, sizeof(*res));
	rds = calloc(m.nios + 1, sizeof(*rds));
	ts = calloc(m.nios + 1, sizeof(*ts));
	iov = calloc(2 * (size_t)m.nios + 1, sizeof(*iov));
	if (!res || !rds || !ts || !iov) {
		if (req->on_io_thread)
			goto defer;
		rpc_reply(req, -ENOMEM, NULL, 0, NULL, 0);
		req = NULL; /* answered */
		goto out;
	}
	for (uint32_t i = 0; i < m.nios; i++) {
		const struct storage_read_io *io = &m.ios[i];
		struct chunk_id id = { io->chunk.inode, io->chunk.index };

		rc = svc_route_check(svc, &io->route, SVC_K_READ, &ts[i], &res[i]);
		if (rc == 0) {
			if (req->on_io_thread) {
				/* no io_uring: what the page cache holds, or a worker */
				rc = chunk_store_read_nowait(ts[i]->cs, id, io->offset, io->length,
							     &rds[i]);
				if (rc == -EAGAIN)
					goto defer;
			} else {
				rc = chunk_store_read(ts[i]->cs, id, io->offset, io->length, false,
						      &rds[i]);
			}
			if (rc == -C3FS_ECHECKSUM) {
				c3_counter_add(svc->m_checksum, 1);
				LOG_ERROR("target %u: chunk %llu:%u failed its checksum (replica "
					  "marked corrupt, repair scheduled)", ts[i]->target_id,
					  (unsigned long long)id.inode, id.index);
				svc__repair_schedule(svc, ts[i], id);
			}
		}
		res[i].status = rc;
	}
	if (req->on_io_thread)
		c3_counter_add(svc->m_read_inline, 1);
	svc_read_reply(svc, req, &m, res, rds, ts, iov, start);
	req = NULL; /* answered */
	goto out;
defer:
	c3_counter_add(svc->m_read_deferred, 1);
out:
	if (rds)
		for (uint32_t i = 0; i < m.nios; i++)
			chunk_read_release(&rds[i]);
	free(rds);
	free(ts);
	free(iov);
	free(res);
	storage_read_req_release(&m);
	if (req)
		rpc_req_defer(req); /* the worker decodes it again */
}

/* A REPAIR update (lock held): the whole chunk from a good replica of the chain.  Applied
 * only when it can only make things better: our copy is marked corrupt (or its record is
 * damaged) and not newer than the one sent, or the sender is our predecessor and saw our
 * copy differ from its own under its chunk lock (DIVERGED: then no update of this chunk
 * can be between us).  A repair that raced a newer write (our version is higher now) or a
 * remove (nothing here) is dropped: the newer state wins, and a copy still damaged is
 * found again by the next read or scrub.  Never forwarded. */
static int svc_apply_repair(struct storage_service *svc, struct svc_target *t, struct chunk_id id,
			    const struct storage_update_req *m, const void *bulk, bool damaged,
			    const struct chunk_info *info)
{
	bool diverged = (m->flags & STORAGE_UPD_F_DIVERGED) != 0;
	struct chunk_update u;
	int rc;

	if (m->type != STORAGE_UPD_WRITE || !(m->flags & STORAGE_UPD_F_FULL) ||
	    !(m->flags & STORAGE_UPD_F_SYNC))
		return -C3FS_EBADMSG;
	if (!diverged && !damaged &&
	    !(info->has_commit && info->corrupt && m->update_ver >= info->commit_ver))
		return 0; /* whole already, or newer here, or removed meanwhile */
	memset(&u, 0, sizeof(u));
	u.type = CHUNK_UPD_WRITE;
	u.full = true;
	u.length = m->length;
	u.chunk_size = m->chunk_size;
	u.data = bulk;
	u.version = m->update_ver;
	rc = chunk_store_stage(t->cs, id, &u);
	if (rc == 0)
		rc = chunk_store_commit(t->cs, id, m->update_ver,
					svc__chain_ver(svc, m->route.chain_id));
	if (rc) {
		chunk_store_abort(t->cs, id);
		LOG_ERROR("target %u: repair of chunk %llu:%u failed: %s", t->target_id,
			  (unsigned long long)id.inode, id.index, c3_strerror(rc));
		return rc;
	}
	atomic_fetch_add(&t->repaired, 1);
	LOG_INFO("target %u: chunk %llu:%u repaired: whole copy v%llu (%u bytes) from the chain "
		 "(%s)", t->target_id, (unsigned long long)id.inode, id.index,
		 (unsigned long long)m->update_ver, m->length,
		 diverged ? "differed from the predecessor's" : "was corrupt here");
	return 0;
}

/* STORAGE_T_UPDATE: we are a member after the head. */
static void svc_on_update(struct rpc_req *req, void *arg)
{
	struct storage_service *svc = arg;
	struct storage_update_req m;
	struct storage_io_result res;
	struct svc_target *t;
	struct chunk_id id;
	struct chunk_info info;
	struct chunk_update u;
	struct iovec iov;
	struct svc_overlap ov;
	struct storage_update_req fw;
	struct chunk_read rd = { 0 };
	struct c3_buf b = C3_BUF_INIT;
	struct svc_fwd f;
	bool succ_syncing, damaged;
	uint64_t start = c3_now_ns();
	int rc;

	memset(&res, 0, sizeof(res));
	svc_fwd_init(&f, svc, 0, 0, NULL, NULL, 0);
	if (svc_decode_failed(req, storage_update_req_decode(req->payload, req->payload_len, &m)))
		return;
	rc = svc_route_check(svc, &m.route, SVC_K_UPDATE, &t, &res);
	if (rc)
		goto reply;
	if (req->bulk_len != (m.type == STORAGE_UPD_WRITE ? m.length : 0) ||
	    (req->bulk_len && c3_crc32c(0, req->bulk, req->bulk_len) != m.crc)) {
		rc = -C3FS_EBADMSG;
		goto reply;
	}
	id.inode = m.chunk.inode;
	id.index = m.chunk.index;
	rc = chunk_store_lock(t->cs, id);
	if (rc)
		goto reply;
	rc = chunk_store_stat(t->cs, id, &info);
	damaged = rc == -C3FS_ECHECKSUM;
	if (rc == -ENOENT || (rc == -C3FS_ECHECKSUM && (m.flags & STORAGE_UPD_F_SYNC))) {
		/* nothing here, or a damaged record that a SYNC update replaces whole */
		memset(&info, 0, sizeof(info));
		rc = 0;
	}
	if (rc)
		goto unlock;
	if (m.flags & STORAGE_UPD_F_REPAIR) {
		rc = svc_apply_repair(svc, t, id, &m, req->bulk, damaged, &info);
		goto unlock;
	}
	if (!(m.flags & STORAGE_UPD_F_SYNC) && m.type != STORAGE_UPD_REMOVE &&
	    m.update_ver <= info.commit_ver) {
		rc = 0; /* already committed here (a retried forward) */
		goto unlock;
	}
	if (!(m.flags & STORAGE_UPD_F_SYNC) && m.type != STORAGE_UPD_REMOVE &&
	    !(m.flags & STORAGE_UPD_F_FULL) && m.update_ver != info.commit_ver + 1) {
		LOG_WARN("target %u: chunk %llu:%u update v%llu but committed v%llu: missing update",
			 t->target_id, (unsigned long long)id.inode, id.index,
			 (unsigned long long)m.update_ver, (unsigned long long)info.commit_ver);
		rc = -C3FS_ECHUNKVER;
		goto unlock;
	}
	memset(&u, 0, sizeof(u));
	u.type = m.type == STORAGE_UPD_WRITE ? CHUNK_UPD_WRITE
		 : m.type == STORAGE_UPD_TRUNCATE ? CHUNK_UPD_TRUNCATE : CHUNK_UPD_REMOVE;
	u.full = (m.flags & STORAGE_UPD_F_FULL) != 0;
	u.offset = m.offset;
	u.length = m.length;
	u.chunk_size = m.chunk_size;
	u.data = req->bulk;
	u.version = m.update_ver;
	iov.iov_base = req->bulk;
	iov.iov_len = req->bulk_len;
	fw = m;
	fw.flags &= (uint8_t)~STORAGE_UPD_F_SYNC; /* a SYNC update stops at its target */
	succ_syncing = svc_successor_syncing(svc, m.route.chain_id, t->target_id);
	svc_fwd_init(&f, svc, t->target_id, m.route.chain_id, &fw, iov.iov_len ? &iov : NULL,
		     iov.iov_len ? 1 : 0);
	if (u.type == CHUNK_UPD_WRITE && !succ_syncing) {
		u.before_data = svc_fwd_hook; /* pipelined, as at the head */
		u.before_data_arg = &f;
	}
	rc = chunk_store_stage(t->cs, id, &u);
	if (rc) {
		if (f.started)
			svc_stage_failed_after_forward(t, id, &f, rc);
		goto abort;
	}
	if (succ_syncing) {
		rc = svc_make_full(t, id, true, &fw, &rd, &iov);
		if (rc)
			goto abort;
		f.bulk = iov.iov_len ? &iov : NULL;
		f.nbulk = iov.iov_len ? 1 : 0;
	}
	ov.cs = t->cs;
	ov.id = id;
	ov.ran = false;
	ov.rc = 0;
	rc = svc_forward(&f, &ov);
	if (!rc)
		rc = ov.rc;
	if (rc)
		goto abort;
	rc = chunk_store_commit(t->cs, id, m.update_ver, svc__chain_ver(svc, m.route.chain_id));
	if (rc)
		goto abort;
	if ((m.flags & STORAGE_UPD_F_SYNC) && (info.corrupt || damaged)) {
		atomic_fetch_add(&t->repaired, 1); /* a recovery sync replaced a corrupt copy */
		LOG_INFO("target %u: corrupt chunk %llu:%u replaced by the sync (v%llu)",
			 t->target_id, (unsigned long long)id.inode, id.index,
			 (unsigned long long)m.update_ver);
	}
	goto unlock;
abort:
	chunk_store_abort(t->cs, id);
unlock:
	rc = svc_target_err(t, rc);
	if (rc == 0)
		svc_count_write(t, m.type == STORAGE_UPD_WRITE ? m.length : 0);
	svc_fwd_release(&f);
	chunk_read_release(&rd);
	if (rc == 0)
		svc_fill_state(t, id, &res);
	chunk_store_unlock(t->cs, id);
reply:
	res.status = rc;
	storage_io_result_encode(&res, &b);
	rpc_reply_buf(req, rc, &b); /* an encoding failure replies its error */
	c3_buf_release(&b);
	c3_hist_observe_ns(svc->m_update_lat, c3_now_ns() - start);
}

/* Collects chunk ids (and their info) from a listing. */
struct svc_list {
	struct chunk_id *ids;
	struct chunk_info *infos;
	uint32_t n;
	size_t cap_ids, cap_infos;
};

static int svc_list_cb(void *arg, struct chunk_id id, const struct chunk_info *info)
{
	struct svc_list *l = arg;

	if (C3_ARRAY_RESERVE(l->ids, l->cap_ids, l->n + 1) < 0 ||
	    C3_ARRAY_RESERVE(l->infos, l->cap_infos, l->n + 1) < 0)
		return -ENOMEM;
	l->ids[l->n] = id;
	l->infos[l->n++] = *info;
	return 0;
}

static void svc_list_release(struct svc_list *l)
{
	free(l->ids);
	free(l->infos);
	memset(l, 0, sizeof(*l));
}

static void svc_on_remove(struct rpc_req *req, void *arg)
{
	struct storage_service *svc = arg;
	struct storage_remove_req m;
	struct storage_remove_rsp rsp;
	struct storage_io_result res;
	struct svc_target *t;
	struct svc_list l = { 0 };
	struct c3_buf b = C3_BUF_INIT;
	struct chunk_id from, end;
	bool more = false;
	int rc;

	memset(&rsp, 0, sizeof(rsp));
	memset(&res, 0, sizeof(res));
	if (svc_decode_failed(req, storage_remove_req_decode(req->payload, req->payload_len, &m)))
		return;
	rc = svc_route_check(svc, &m.route, SVC_K_WRITE, &t, &res);
	if (rc)
		goto reply;
	rc = svc_dedup_lookup(svc, m.route.chain_id, &m.tag, &res, &more);
	if (rc == 1) {
		rc = 0;
		rsp.removed = res.length;
		rsp.more = more;
		goto reply;
	}
	if (rc)
		goto reply;
	from.inode = m.inode;
	from.index = m.begin;
	end.inode = m.end == STORAGE_INDEX_END ? (m.inode == UINT64_MAX ? m.inode : m.inode + 1)
					      : m.inode;
	end.index = m.end == STORAGE_INDEX_END ? (m.inode == UINT64_MAX ? UINT32_MAX : 0) : m.end;
	/* list from `from` inclusive: start after the id just before it */
	{
		struct chunk_id before;
		bool have_before = chunk_id_prev(from, &before);

		rc = chunk_store_list(t->cs, have_before ? &before : NULL, end,
				      m.max && m.max < svc->remove_batch ? m.max : svc->remove_batch,
				      svc_list_cb, &l, &rsp.more);
	}
	if (rc)
		goto reply;
	for (uint32_t i = 0; i < l.n; i++) {
		struct svc_op op;
		struct storage_io_result r;

		memset(&op, 0, sizeof(op));
		memset(&r, 0, sizeof(r));
		op.type = CHUNK_UPD_REMOVE;
		op.id = l.ids[i];
		op.chunk_size = l.infos[i].chunk_size ? l.infos[i].chunk_size : 1;
		svc_head_apply(svc, t, &m.route, &op, &r);
		if (r.status) {
			rc = r.status;
			rsp.more = true;
			break;
		}
		rsp.removed++;
	}
	res.status = rc;
	res.length = rsp.removed;
	svc_dedup_store(svc, m.route.chain_id, &m.tag, &res, rsp.more);
reply:
	rsp.status = rc;
	rsp.chain_ver = res.chain_ver;
	rsp.routing_ver = res.routing_ver;
	storage_remove_rsp_encode(&rsp, &b);
	rpc_reply_buf(req, rc, &b); /* an encoding failure replies its error */
	c3_buf_release(&b);
	svc_list_release(&l);
}

static int svc_last_cb(void *arg, struct chunk_id id, const struct chunk_info *info)
{
	struct storage_query_last_rsp *rsp = arg;

	if (!info->has_commit)
		return 0;
	rsp->found = true;
	rsp->last_index = id.index;
	rsp->last_len = info->length;
	rsp->nchunks++;
	rsp->total_bytes += info->length;
	return 0;
}

static void svc_on_query_last(struct rpc_req *req, void *arg)
{
	struct storage_service *svc = arg;
	struct storage_query_last_req m;
	struct storage_query_last_rsp rsp;
	struct storage_io_result res;
	struct svc_target *t;
	struct c3_buf b = C3_BUF_INIT;
	struct chunk_id before, end;
	bool more;
	int rc;

	memset(&rsp, 0, sizeof(rsp));
	memset(&res, 0, sizeof(res));
	if (svc_decode_failed(req, storage_query_last_req_decode(req->payload, req->payload_len, &m)))
		return;
	rc = svc_route_check(svc, &m.route, SVC_K_QUERY, &t, &res);
	if (rc)
		goto reply;
	end.inode = m.inode == UINT64_MAX ? m.inode : m.inode + 1;
	end.index = m.inode == UINT64_MAX ? UINT32_MAX : 0;
	before.inode = m.inode - 1;
	before.index = UINT32_MAX;
	rc = chunk_store_list(t->cs, m.inode ? &before : NULL, end, 0, svc_last_cb, &rsp, &more);
reply:
	rsp.status = rc;
	rsp.chain_ver = res.chain_ver;
	rsp.routing_ver = res.routing_ver;
	storage_query_last_rsp_encode(&rsp, &b);
	rpc_reply_buf(req, rc, &b); /* an encoding failure replies its error */
	c3_buf_release(&b);
}

static void svc_on_dump(struct rpc_req *req, void *arg)
{
	struct storage_service *svc = arg;
	struct storage_dump_req m;
	struct storage_dump_rsp rsp;
	struct svc_target *t;
	struct svc_list l = { 0 };
	struct c3_buf b = C3_BUF_INIT;
	struct chunk_id end = { UINT64_MAX, UINT32_MAX };
	bool verify = false;
	int rc;

	memset(&rsp, 0, sizeof(rsp));
	if (svc_decode_failed(req, storage_dump_req_decode(req->payload, req->payload_len, &m)))
		return;
	t = svc__target_find(svc, m.target_id);
	if (!t)
		rc = -C3FS_ENOTARGET;
	else if (!t->cs || chunk_store_failed(t->cs))
		rc = -C3FS_ETARGETDOWN;
	else {
		struct chunk_id after = { m.after.inode, m.after.index };

		verify = atomic_load(&t->local_state) != TARGET_LOCAL_UPTODATE;
		rc = chunk_store_list(t->cs, m.has_after ? &after : NULL, end, m.limit, svc_list_cb,
				      &l, &rsp.more);
	}
	if (rc == 0 && l.n) {
		rsp.entries = calloc(l.n, sizeof(*rsp.entries));
		if (!rsp.entries)
			rc = -ENOMEM;
	}
	if (rc == 0) {
		rsp.nentries = l.n;
		for (uint32_t i = 0; i < l.n; i++) {
			struct storage_chunk_meta *e = &rsp.entries[i];
			const struct chunk_info *in = &l.infos[i];

			e->chunk.inode = l.ids[i].inode;
			e->chunk.index = l.ids[i].index;
			e->commit_ver = in->commit_ver;
			e->pending_ver = in->has_pending ? in->pending_ver : 0;
			e->length = in->length;
			e->pending_length = in->pending_length;
			e->chunk_size = in->chunk_size;
			e->chain_ver = in->chain_ver;
			e->digest = in->digest;
			e->flags = in->corrupt ? STORAGE_META_F_CORRUPT : 0;
			/* a target being synced (restarted) verifies what it reports: a chunk
			 * file cut short or gone while the process was down is resent */
			if (!in->corrupt && verify &&
			    chunk_store_check_file(t->cs, l.ids[i]) == -C3FS_ECHECKSUM) {
				e->flags |= STORAGE_META_F_CORRUPT;
				LOG_WARN("target %u: chunk %llu:%u is shorter than its recorded "
					 "length %u or missing (marked corrupt; the sync resends "
					 "it)", t->target_id, (unsigned long long)l.ids[i].inode,
					 l.ids[i].index, in->length);
			}
		}
	}
	rsp.status = rc;
	storage_dump_rsp_encode(&rsp, &b);
	rpc_reply_buf(req, rc, &b); /* an encoding failure replies its error */
	c3_buf_release(&b);
	free(rsp.entries);
	svc_list_release(&l);
}

static void svc_on_space(struct rpc_req *req, void *arg)
{
	struct storage_service *svc = arg;
	struct storage_space_rsp rsp;
	struct storage_target_info ti[STORAGE_MAX_TARGETS];
	struct c3_buf b = C3_BUF_INIT;

	memset(&rsp, 0, sizeof(rsp));
	memset(ti, 0, sizeof(ti));
	for (int i = 0; i < svc->ntargets && i < STORAGE_MAX_TARGETS; i++) {
		struct svc_target *t = &svc->targets[i];
		struct chunk_space sp;

		ti[i].target_id = t->target_id;
		ti[i].local_state = t->cs && !chunk_store_failed(t->cs)
					    ? (uint8_t)atomic_load(&t->local_state)
					    : TARGET_LOCAL_FAILED;
		if (t->cs && chunk_store_space(t->cs, &sp) == 0) {
			ti[i].capacity_bytes = sp.capacity_bytes;
			ti[i].free_bytes = sp.free_bytes;
			ti[i].nchunks = sp.nchunks;
			ti[i].used_bytes = sp.used_bytes;
		}
		rsp.ntargets++;
	}
	rsp.targets = ti;
	storage_space_rsp_encode(&rsp, &b);
	rpc_reply(req, b.err, b.err ? NULL : b.data, b.err ? 0 : b.len, NULL, 0);
	c3_buf_release(&b);
}

/* ------------------------------------------------------------------ recovery */

int svc__remote_dump(struct storage_service *svc, const char *addr, uint32_t target,
		     const struct chunk_id *after, const struct chunk_id *last, uint32_t page,
		     struct svc_remote *out)
{
	struct storage_dump_req m = { target, after != NULL, { 0, 0 }, page };

	if (after) {
		m.after.inode = after->inode;
		m.after.index = after->index;
	}
	for (;;) {
		struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
		struct storage_dump_rsp rsp;
		bool past = false;
		int rc;

		storage_dump_req_encode(&m, &req);
		rc = req.err ? req.err
			     : rpc_call_sync(svc->cli, addr, STORAGE_T_DUMP_META, req.data, req.len,
					     &resp, svc->forward_timeout_ms);
		c3_buf_release(&req);
		if (rc == 0)
			rc = storage_dump_rsp_decode(resp.data, resp.len, &rsp);
		c3_buf_release(&resp);
		if (rc)
			return rc;
		if (C3_ARRAY_RESERVE(out->e, out->cap, (size_t)out->n + rsp.nentries) < 0) {
			storage_dump_rsp_release(&rsp);
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < rsp.nentries; i++) {
			if (last && svc__meta_cmp(*last, rsp.entries[i].chunk) < 0) {
				past = true;
				break;
			}
			out->e[out->n++] = rsp.entries[i];
		}
		if (past || !rsp.more || !rsp.nentries) {
			storage_dump_rsp_release(&rsp);
			return 0;
		}
		m.has_after = true;
		m.after = rsp.entries[rsp.nentries - 1].chunk;
		storage_dump_rsp_release(&rsp);
	}
}

int svc__send_chunk(struct storage_service *svc, struct svc_target *t, uint32_t chain_id,
		    uint32_t dest_target, struct chunk_id id, uint8_t extra_flags,
		    enum svc_send_lock lock, uint32_t *sent_bytes)
{
	struct storage_update_req fw;
	struct chunk_info info;
	struct chunk_read rd = { 0 };
	struct iovec iov = { NULL, 0 };
	struct routing_info *ri;
	const struct routing_chain *c;
	const struct routing_target *dt;
	const struct routing_node *node;
	struct c3_buf req = C3_BUF_INIT;
	struct rpc_call call;
	char addr[ROUTING_ADDR_MAX];
	bool locked = false;
	int rc;

	if (lock != SVC_SEND_LOCKED) {
		rc = chunk_store_lock(t->cs, id);
		if (rc)
			return rc;
		locked = true;
	}
	memset(&fw, 0, sizeof(fw));
	rc = chunk_store_stat(t->cs, id, &info);
	if (rc == 0 && !info.has_commit)
		rc = -ENOENT;
	if (rc == 0)
		rc = chunk_store_read(t->cs, id, 0, CHUNK_SIZE_MAX, false, &rd);
	if (rc == -C3FS_ECHECKSUM) {
		c3_counter_add(svc->m_checksum, 1);
		LOG_ERROR("target %u: chunk %llu:%u failed its checksum while being sent (marked "
			  "corrupt, repair scheduled)", t->target_id,
			  (unsigned long long)id.inode, id.index);
		svc__repair_schedule(svc, t, id);
	}
	if (rc)
		goto out;
	fw.chunk.inode = id.inode;
	fw.chunk.index = id.index;
	fw.type = STORAGE_UPD_WRITE;
	fw.flags = (uint8_t)(STORAGE_UPD_F_FULL | STORAGE_UPD_F_SYNC | extra_flags);
	fw.length = rd.length;
	fw.chunk_size = info.chunk_size;
	fw.update_ver = info.commit_ver;
	fw.crc = rd.length ? c3_crc32c(0, rd.data, rd.length) : 0;
	iov.iov_base = (void *)rd.data;
	iov.iov_len = rd.length;
	ri = svc__routing(svc);
	c = ri ? routing_chain_find(ri, chain_id) : NULL;
	dt = c ? routing_target_find(ri, dest_target) : NULL;
	node = dt && dt->chain_id == chain_id ? routing_node_find(ri, dt->node_id) : NULL;
	if (!node) {
		routing_unref(ri);
		rc = -C3FS_ENOTARGET;
		goto out;
	}
	fw.route.chain_id = chain_id;
	fw.route.chain_ver = c->version;
	fw.route.target_id = dest_target;
	snprintf(addr, sizeof(addr), "%s", node->addr);
	routing_unref(ri);
	if (locked && lock == SVC_SEND_RELEASE) {
		chunk_store_unlock(t->cs, id);
		locked = false;
	}
	storage_update_req_encode(&fw, &req);
	if (req.err) {
		rc = req.err;
		goto out;
	}
	rpc_call_init(&call, STORAGE_T_UPDATE, req.data, req.len);
	call.bulk = iov.iov_len ? &iov : NULL;
	call.nbulk = iov.iov_len ? 1 : 0;
	call.timeout_ms = svc->forward_timeout_ms;
	rc = rpc_call_start(svc->cli, addr, &call);
	if (rc == 0) {
		rc = rpc_call_wait(&call);
		c3_buf_release(&call.resp);
	}
	if (rc == 0 && sent_bytes)
		*sent_bytes = rd.length;
out:
	c3_buf_release(&req);
	chunk_read_release(&rd);
	if (locked)
		chunk_store_unlock(t->cs, id);
	return rc;
}

/* Send chunk id of target t as it is committed now (or its removal) to the syncing
 * successor, under the chunk lock so no write interleaves. */
static int svc_sync_chunk(struct storage_service *svc, struct svc_target *t, uint32_t chain_id,
			  struct chunk_id id, uint32_t *sent_bytes)
{
	struct storage_update_req fw;
	struct chunk_info info;
	struct chunk_read rd = { 0 };
	struct iovec iov = { NULL, 0 };
	int rc;

	rc = chunk_store_lock(t->cs, id);
	if (rc)
		return rc;
	memset(&fw, 0, sizeof(fw));
	fw.chunk.inode = id.inode;
	fw.chunk.index = id.index;
	rc = chunk_store_stat(t->cs, id, &info);
	if (rc == 0 && info.has_commit) {
		rc = chunk_store_read(t->cs, id, 0, CHUNK_SIZE_MAX, false, &rd);
		if (rc)
			goto out;
		fw.type = STORAGE_UPD_WRITE;
		fw.flags = STORAGE_UPD_F_FULL | STORAGE_UPD_F_SYNC;
		fw.length = rd.length;
		fw.chunk_size = info.chunk_size;
		fw.update_ver = info.commit_ver;
		fw.crc = rd.length ? c3_crc32c(0, rd.data, rd.length) : 0;
		iov.iov_base = (void *)rd.data;
		iov.iov_len = rd.length;
	} else if (rc == 0 || rc == -ENOENT) {
		fw.type = STORAGE_UPD_REMOVE;
		fw.flags = STORAGE_UPD_F_SYNC;
		fw.chunk_size = 1;
		fw.update_ver = 1;
	} else {
		goto out;
	}
	{
		struct svc_fwd f;

		svc_fwd_init(&f, svc, t->target_id, chain_id, &fw, iov.iov_len ? &iov : NULL,
			     iov.iov_len ? 1 : 0);
		rc = svc_forward(&f, NULL);
		svc_fwd_release(&f);
	}
	if (rc == 0) {
		c3_counter_add(svc->m_sync_chunks, 1);
		*sent_bytes = rd.length;
	}
out:
	if (rc == -C3FS_ECHECKSUM) {
		/* our own copy is damaged: nothing good to send; the sync goes on without it
		 * and the copy is repaired from another member */
		c3_counter_add(svc->m_checksum, 1);
		LOG_ERROR("sync from target %u: chunk %llu:%u is corrupt here, not sent (repair "
			  "scheduled)", t->target_id, (unsigned long long)id.inode, id.index);
		svc__repair_schedule(svc, t, id);
		rc = 0;
	}
	chunk_read_release(&rd);
	chunk_store_unlock(t->cs, id);
	return rc;
}

/* Bring the SYNCING successor succ of target t in chain (chain_id, chain_ver) up to date:
 * compare its metadata dump with ours, send every chunk that differs or is missing, remove
 * what we do not have, then tell it SYNC_DONE.  Returns 0 when done. */
#define SVC_SYNC_PAR 8   /* chunks in flight during a sync */

/* The chunks a sync must send (or remove), shared by the sending threads. */
struct svc_sync_work {
	struct storage_service *svc;
	struct svc_target *t;
	uint32_t chain_id, chain_ver;
	struct chunk_id *ids;
	uint32_t n;
	atomic_uint next;
	atomic_int rc;
};

static void *svc_sync_work_run(void *arg)
{
	struct svc_sync_work *w = arg;

	for (;;) {
		uint32_t i = atomic_fetch_add(&w->next, 1);
		int rc;

		if (i >= w->n || atomic_load(&w->rc))
			return NULL;
		if (svc__chain_ver(w->svc, w->chain_id) != w->chain_ver) {
			atomic_store(&w->rc, -C3FS_ECHAINVER); /* the chain changed: start over */
			return NULL;
		}
		uint32_t bytes = 0;

#ifdef C3_TEST_BUILD
		if (w->svc->test_sync_delay_ms)
			c3_sleep_ms(w->svc->test_sync_delay_ms);
#endif
		rc = svc_sync_chunk(w->svc, w->t, w->chain_id, w->ids[i], &bytes);
		if (rc)
			atomic_store(&w->rc, rc);
		atomic_fetch_add(&w->svc->prog.done_chunks, 1);
		atomic_fetch_add(&w->svc->prog.done_bytes, bytes);
	}
}

/* Bring the SYNCING successor succ of target t in chain (chain_id, chain_ver) up to date:
 * compare its metadata dump with ours, send every chunk that differs or is missing, remove
 * what we do not have (several chunks in flight), then tell it SYNC_DONE.  0 when done. */
/* ------------------------------------------------------------------ change epochs
 *
 * A recovery sync compares its chunk listing with the successor's.  A write that began
 * under the old chain (this target was the tail, or forwarded to the old successor) and
 * commits after the listing would never reach the syncing successor (found by the model,
 * tests/model/README.md, "sync ignores a chunk being written").  So every chunk-changing
 * request counts itself in the current epoch, and svc_change_drain() flips the epoch and
 * waits until the requests of the older one are done: whatever commits after that began
 * after the flip, i.e. after this process saw the new chain, and goes to the successor. */
static unsigned svc_change_enter(struct storage_service *svc)
{
	for (;;) {
		unsigned e = atomic_load(&svc->change_epoch);

		atomic_fetch_add(&svc->changes_in_flight[e & 1], 1);
		if (atomic_load(&svc->change_epoch) == e)
			return e;
		atomic_fetch_sub(&svc->changes_in_flight[e & 1], 1); /* flipped meanwhile */
	}
}

static void svc_change_exit(struct storage_service *svc, unsigned e)
{
	atomic_fetch_sub(&svc->changes_in_flight[e & 1], 1);
}

static void svc_change_drain(struct storage_service *svc)
{
	pthread_mutex_lock(&svc->drain_mu);
	unsigned old = atomic_fetch_add(&svc->change_epoch, 1);

	while (atomic_load(&svc->changes_in_flight[old & 1]) != 0)
		c3_sleep_ms(1);
	pthread_mutex_unlock(&svc->drain_mu);
}

#define SVC_COUNTED(name)                                                                \
	static void svc_on_##name##_counted(struct rpc_req *req, void *arg)               \
	{                                                                                 \
		unsigned e = svc_change_enter(arg);                                       \
		svc_on_##name(req, arg);                                                  \
		svc_change_exit(arg, e);                                                  \
	}
SVC_COUNTED(write)
SVC_COUNTED(update)
SVC_COUNTED(truncate)
SVC_COUNTED(remove)

static int svc_sync_run(struct storage_service *svc, struct svc_target *t, uint32_t chain_id,
			uint32_t chain_ver, uint32_t succ, const char *addr)
{
	struct svc_remote rem = { 0 };
	struct svc_list loc = { 0 };
	struct chunk_id end = { UINT64_MAX, UINT32_MAX };
	struct svc_sync_work w;
	uint32_t i = 0, j = 0, sent = 0, removed = 0;
	uint64_t total_bytes = 0;
	bool more;
	int rc;

	memset(&w, 0, sizeof(w));
	LOG_INFO("sync of target %u (chain %u v%u) from target %u starts", succ, chain_id,
		 chain_ver, t->target_id);
	/* changes begun before this process saw the syncing successor end first */
	svc_change_drain(svc);
	rc = svc__remote_dump(svc, addr, succ, NULL, NULL, STORAGE_MAX_DUMP, &rem);
	if (rc == 0)
		rc = chunk_store_list(t->cs, NULL, end, 0, svc_list_cb, &loc, &more);
	if (rc == 0 && !(w.ids = calloc((size_t)loc.n + rem.n + 1, sizeof(*w.ids))))
		rc = -ENOMEM;
	/* the two listings are in id order: one merge walk decides what to send */
	while (rc == 0 && (i < loc.n || j < rem.n)) {
		int cmp;

		if (i == loc.n)
			cmp = 1;
		else if (j == rem.n)
			cmp = -1;
		else if (loc.ids[i].inode != rem.e[j].chunk.inode)
			cmp = loc.ids[i].inode < rem.e[j].chunk.inode ? -1 : 1;
		else if (loc.ids[i].index != rem.e[j].chunk.index)
			cmp = loc.ids[i].index < rem.e[j].chunk.index ? -1 : 1;
		else
			cmp = 0;
		if (cmp < 0) {
			total_bytes += loc.infos[i].length;
			w.ids[w.n++] = loc.ids[i++];
			sent++;
		} else if (cmp > 0) {
			/* only there: removed (unless it exists here by the time it is sent) */
			w.ids[w.n].inode = rem.e[j].chunk.inode;
			w.ids[w.n++].index = rem.e[j++].chunk.index;
			removed++;
		} else {
			const struct chunk_info *li = &loc.infos[i];
			const struct storage_chunk_meta *re = &rem.e[j];

			if (re->commit_ver != li->commit_ver || re->length != li->length ||
			    re->digest != li->digest || re->pending_ver ||
			    (re->flags & STORAGE_META_F_CORRUPT)) {
				total_bytes += li->length;
				w.ids[w.n++] = loc.ids[i];
				sent++;
			}
			i++;
			j++;
		}
	}
	/* progress, reported in the heartbeat of our target (mgmtd attributes it to succ) */
	atomic_store(&svc->prog.done_chunks, 0);
	atomic_store(&svc->prog.done_bytes, 0);
	atomic_store(&svc->prog.total_chunks, w.n);
	atomic_store(&svc->prog.total_bytes, total_bytes);
	atomic_store(&svc->prog.start_ms, c3_now_ms());
	atomic_store(&svc->prog.from, t->target_id);
	atomic_store(&svc->prog.to, rc == 0 ? succ : 0);
	if (rc == 0 && w.n) {
		pthread_t th[SVC_SYNC_PAR];
		bool started[SVC_SYNC_PAR] = { false };

		LOG_INFO("sync of target %u: %u chunks (%llu bytes) to send or remove", succ, w.n,
			 (unsigned long long)total_bytes);

		w.svc = svc;
		w.t = t;
		w.chain_id = chain_id;
		w.chain_ver = chain_ver;
		for (int k = 1; k < SVC_SYNC_PAR && (uint32_t)k < w.n; k++)
			started[k] = pthread_create(&th[k], NULL, svc_sync_work_run, &w) == 0;
		svc_sync_work_run(&w);
		for (int k = 1; k < SVC_SYNC_PAR; k++)
			if (started[k])
				pthread_join(th[k], NULL);
		rc = atomic_load(&w.rc);
	}
	if (rc == 0 && svc__chain_ver(svc, chain_id) != chain_ver)
		rc = -C3FS_ECHAINVER;
	if (rc == 0) {
		struct storage_sync_done_req m = { { chain_id, chain_ver, succ } };
		struct c3_buf req = C3_BUF_INIT;

		storage_sync_done_req_encode(&m, &req);
		rc = rpc_call_sync(svc->cli, addr, STORAGE_T_SYNC_DONE, req.data, req.len, NULL,
				   svc->forward_timeout_ms);
		c3_buf_release(&req);
	}
	if (rc == 0)
		LOG_INFO("sync of target %u (chain %u v%u) done: %u chunks sent, %u removed, %u "
			 "compared", succ, chain_id, chain_ver, sent, removed, loc.n);
	else
		LOG_WARN("sync of target %u (chain %u v%u) stopped: %s", succ, chain_id, chain_ver,
			 c3_strerror(rc));
	atomic_store(&svc->prog.to, 0);
	free(w.ids);
	free(rem.e);
	svc_list_release(&loc);
	return rc;
}

static bool svc_sync_is_done(struct storage_service *svc, uint32_t chain, uint32_t ver,
			     uint32_t succ)
{
	bool r = false;

	pthread_mutex_lock(&svc->sync_mu);
	for (int i = 0; i < svc->nsync_done; i++)
		if (svc->sync_done_chain[i] == chain && svc->sync_done_ver[i] == ver &&
		    svc->sync_done_succ[i] == succ)
			r = true;
	pthread_mutex_unlock(&svc->sync_mu);
	return r;
}

static void svc_sync_mark_done(struct storage_service *svc, uint32_t chain, uint32_t ver,
			       uint32_t succ)
{
	int i;

	pthread_mutex_lock(&svc->sync_mu);
	for (i = 0; i < svc->nsync_done && svc->sync_done_chain[i] != chain; i++)
		;
	if (i == svc->nsync_done && svc->nsync_done < 64)
		svc->nsync_done++;
	if (i < 64) {
		svc->sync_done_chain[i] = chain;
		svc->sync_done_ver[i] = ver;
		svc->sync_done_succ[i] = succ;
	}
	pthread_mutex_unlock(&svc->sync_mu);
}

/* The recovery thread: whenever routing changes (and every second), look for serving
 * targets of ours whose successor is SYNCING, and sync them one at a time. */
static void *svc_sync_main(void *arg)
{
	struct storage_service *svc = arg;

	for (;;) {
		struct timespec ts;

		pthread_mutex_lock(&svc->sync_mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		while (!svc->sync_stop && !svc->sync_kick)
			if (pthread_cond_timedwait(&svc->sync_cv, &svc->sync_mu, &ts) == ETIMEDOUT)
				break;
		svc->sync_kick = false;
		if (svc->sync_stop) {
			pthread_mutex_unlock(&svc->sync_mu);
			return NULL;
		}
		pthread_mutex_unlock(&svc->sync_mu);
		for (int i = 0; i < svc->ntargets; i++) {
			struct svc_target *t = &svc->targets[i];
			struct routing_info *ri;
			const struct routing_target *rt, *st;
			const struct routing_chain *c;
			const struct routing_node *node;
			uint32_t succ, chain_id, ver;
			char addr[ROUTING_ADDR_MAX];

			if (!t->cs || chunk_store_failed(t->cs) || !atomic_load(&svc->serving))
				continue;
			ri = svc__routing(svc);
			rt = ri ? routing_target_find(ri, t->target_id) : NULL;
			c = rt ? routing_chain_find(ri, rt->chain_id) : NULL;
			succ = c && rt->state == TARGET_SERVING ?
				       routing_chain_successor(ri, c, t->target_id) : 0;
			st = succ ? routing_target_find(ri, succ) : NULL;
			node = st && st->state == TARGET_SYNCING ? routing_node_find(ri, st->node_id)
								 : NULL;
			if (!node) {
				routing_unref(ri);
				continue;
			}
			chain_id = c->chain_id;
			ver = c->version;
			snprintf(addr, sizeof(addr), "%s", node->addr);
			routing_unref(ri);
			if (svc_sync_is_done(svc, chain_id, ver, succ))
				continue;
			if (svc_sync_run(svc, t, chain_id, ver, succ, addr) == 0)
				svc_sync_mark_done(svc, chain_id, ver, succ);
		}
	}
}

/* STORAGE_T_SYNC_DONE: our predecessor finished syncing this (SYNCING) target. */
static void svc_on_sync_done(struct rpc_req *req, void *arg)
{
	struct storage_service *svc = arg;
	struct storage_sync_done_req m;
	struct storage_io_result res;
	struct svc_target *t;
	struct c3_buf b = C3_BUF_INIT;
	int rc;

	memset(&res, 0, sizeof(res));
	if (svc_decode_failed(req, storage_sync_done_req_decode(req->payload, req->payload_len, &m)))
		return;
	rc = svc_route_check(svc, &m.route, SVC_K_UPDATE, &t, &res);
	if (rc == 0) {
		atomic_store(&t->synced_chain_ver, m.route.chain_ver);
		atomic_store(&t->local_state, TARGET_LOCAL_UPTODATE);
		LOG_INFO("target %u: sync done (chain %u v%u), reporting uptodate", t->target_id,
			 m.route.chain_id, m.route.chain_ver);
	}
	res.status = rc;
	storage_io_result_encode(&res, &b);
	rpc_reply_buf(req, rc, &b); /* an encoding failure replies its error */
	c3_buf_release(&b);
}

/* ------------------------------------------------------------------ lifecycle */

/* The running sync's progress when local target `from` runs it (else nothing). */
static void svc_sync_progress_get(struct storage_service *svc, uint32_t from,
				  struct cluster_target_report *r)
{
	uint32_t to = atomic_load(&svc->prog.to);
	uint64_t ms;

	if (!to || atomic_load(&svc->prog.from) != from)
		return;
	r->sync_target = to;
	r->out_done_chunks = atomic_load(&svc->prog.done_chunks);
	r->out_total_chunks = atomic_load(&svc->prog.total_chunks);
	r->out_done_bytes = atomic_load(&svc->prog.done_bytes);
	r->out_total_bytes = atomic_load(&svc->prog.total_bytes);
	ms = c3_now_ms() - atomic_load(&svc->prog.start_ms);
	r->out_rate_bps = ms ? r->out_done_bytes * 1000 / ms : 0;
}

int storage_service_collect(struct storage_service *svc, struct cluster_target_report *out,
			    int max)
{
	int n = 0;

	for (int i = 0; i < svc->ntargets && n < max; i++) {
		struct svc_target *t = &svc->targets[i];
		struct chunk_space sp;

		memset(&out[n], 0, sizeof(out[n]));
		out[n].target_id = t->target_id;
		out[n].local_state = t->cs && !chunk_store_failed(t->cs)
					     ? (uint8_t)atomic_load(&t->local_state)
					     : TARGET_LOCAL_FAILED;
		if (t->cs && chunk_store_space(t->cs, &sp) == 0) {
			out[n].capacity_bytes = sp.capacity_bytes;
			out[n].free_bytes = sp.free_bytes;
		}
		if (t->cs) {
			struct chunk_stats st;

			chunk_store_get_stats(t->cs, &st);
			out[n].corrupt_found = st.corrupt_marked;
		}
		out[n].corrupt_repaired = atomic_load(&t->repaired);
		out[n].scrub_last_ms = atomic_load(&t->scrub_last_ms);
		svc_sync_progress_get(svc, t->target_id, &out[n]);
		out[n].read_bytes = atomic_load_explicit(&t->rd_bytes, memory_order_relaxed);
		out[n].read_ops = atomic_load_explicit(&t->rd_ops, memory_order_relaxed);
		out[n].write_bytes = atomic_load_explicit(&t->wr_bytes, memory_order_relaxed);
		out[n].write_ops = atomic_load_explicit(&t->wr_ops, memory_order_relaxed);
		n++;
	}
	return n;
}

void storage_service_set_scrub(struct storage_service *svc, uint64_t rate_bps,
			       uint64_t interval_ms)
{
	atomic_store(&svc->scrub_rate_bps, rate_bps);
	atomic_store(&svc->scrub_interval_ms, interval_ms);
}

int storage_service_port(const struct storage_service *svc)
{
	return rpc_server_port(svc->srv);
}

static void svc_metrics_collect(void *arg)
{
	struct storage_service *svc = arg;

	for (int i = 0; i < svc->ntargets; i++) {
		struct svc_target *t = &svc->targets[i];
		struct chunk_space sp;
		char labels[64];

		snprintf(labels, sizeof(labels), "target=\"%u\"", t->target_id);
		c3_gauge_set(c3_gauge_get("c3fs_storage_target_up", labels,
					  "1 when the target serves, 0 when it failed"),
			     t->cs && !chunk_store_failed(t->cs));
		if (t->cs && chunk_store_space(t->cs, &sp) == 0) {
			c3_gauge_set(c3_gauge_get("c3fs_storage_target_free_bytes", labels,
						  "free bytes of the target's file system"),
				     (int64_t)sp.free_bytes);
			c3_gauge_set(c3_gauge_get("c3fs_storage_target_chunks", labels,
						  "committed chunks on the target"),
				     (int64_t)sp.nchunks);
		}
		if (t->cs) {
			struct chunk_stats st;

			chunk_store_get_stats(t->cs, &st);
			c3_gauge_set(c3_gauge_get("c3fs_storage_target_journal_records", labels,
						  "journal log records (group-commit batches) "
						  "since the target opened"),
				     (int64_t)st.journal_records);
			c3_gauge_set(c3_gauge_get("c3fs_storage_target_journal_data_bytes", labels,
						  "chunk bytes committed through the journal "
						  "instead of an fdatasync since the target opened"),
				     (int64_t)st.journal_data_bytes);
			c3_gauge_set(c3_gauge_get("c3fs_storage_target_journal_checkpoints", labels,
						  "journal checkpoints since the target opened"),
				     (int64_t)st.checkpoints);
			c3_gauge_set(c3_gauge_get("c3fs_storage_target_corrupt_found", labels,
						  "chunks found corrupt here (checksum mismatch "
						  "on read, sync or scrub; file cut short) since "
						  "the target opened"),
				     (int64_t)st.corrupt_marked);
		}
		c3_gauge_set(c3_gauge_get("c3fs_storage_target_corrupt_repaired", labels,
					  "chunks of the target replaced whole from a good replica "
					  "after they were found corrupt or divergent"),
			     (int64_t)atomic_load(&t->repaired));
		c3_gauge_set(c3_gauge_get("c3fs_storage_scrub_chunks", labels,
					  "chunks verified by the scrubber"),
			     (int64_t)atomic_load(&t->scrub_chunks));
		c3_gauge_set(c3_gauge_get("c3fs_storage_scrub_bytes", labels,
					  "bytes verified by the scrubber"),
			     (int64_t)atomic_load(&t->scrub_bytes));
		c3_gauge_set(c3_gauge_get("c3fs_storage_scrub_errors", labels,
					  "scrub findings: chunks corrupt here and successor copies "
					  "that differed"),
			     (int64_t)atomic_load(&t->scrub_errors));
		c3_gauge_set(c3_gauge_get("c3fs_storage_scrub_repaired", labels,
					  "divergent or corrupt successor copies the scrubber "
					  "replaced"),
			     (int64_t)atomic_load(&t->scrub_fixed));
		c3_gauge_set(c3_gauge_get("c3fs_storage_scrub_last_pass_seconds", labels,
					  "unix time of the end of the last full scrub pass (0 = none)"),
			     (int64_t)(atomic_load(&t->scrub_last_ms) / 1000));
		c3_gauge_set(c3_gauge_get("c3fs_storage_scrub_running", labels,
					  "1 while a scrub pass of the target runs"),
			     atomic_load(&t->scrub_running));
	}
	{
		uint32_t to = atomic_load(&svc->prog.to);
		char labels[64];

		if (to) {
			snprintf(labels, sizeof(labels), "target=\"%u\"", to);
			c3_gauge_set(c3_gauge_get("c3fs_storage_sync_done_chunks", labels,
						  "chunks sent or removed by the running sync "
						  "(label: the syncing target)"),
				     (int64_t)atomic_load(&svc->prog.done_chunks));
			c3_gauge_set(c3_gauge_get("c3fs_storage_sync_total_chunks", labels,
						  "chunks the running sync has to send or remove"),
				     (int64_t)atomic_load(&svc->prog.total_chunks));
			c3_gauge_set(c3_gauge_get("c3fs_storage_sync_done_bytes", labels,
						  "bytes sent by the running sync"),
				     (int64_t)atomic_load(&svc->prog.done_bytes));
			c3_gauge_set(c3_gauge_get("c3fs_storage_sync_total_bytes", labels,
						  "bytes the running sync has to send"),
				     (int64_t)atomic_load(&svc->prog.total_bytes));
		}
	}
}

/* Long (about 150 lines) because it is the service's whole start-up in order — locks and
 * metrics, the zero page, the targets, the RPC client and server with every handler, the
 * scrubber, then the sync thread — with one failure path (storage_service_free). */
int storage_service_new(const struct storage_service_opts *o, struct storage_service **out)
{
	struct storage_service *svc;
	struct rpc_server_opts so;
	struct rpc_client_opts co;
	void *z;
	int rc;

	*out = NULL;
	if (o->ntargets <= 0 || o->ntargets > STORAGE_MAX_TARGETS)
		return -C3FS_ECONFIG;
	svc = calloc(1, sizeof(*svc));
	if (!svc)
		return -ENOMEM;
	pthread_mutex_init(&svc->ri_mu, NULL);
	pthread_mutex_init(&svc->drain_mu, NULL);
	pthread_mutex_init(&svc->dd_mu, NULL);
	pthread_mutex_init(&svc->sync_mu, NULL);
	pthread_mutex_init(&svc->aring_mu, NULL);
	pthread_cond_init(&svc->sync_cv, NULL);
	atomic_store(&svc->serving, !o->start_online); /* with mgmtd: serve once leased */
	svc->node_id = o->node_id;
#ifdef C3_TEST_BUILD
	{
		const char *e = getenv("C3FS_TEST_HEAD_COMMIT_ENOSPC_INODE");

		atomic_store(&svc->test_commit_enospc_inode, e ? strtoull(e, NULL, 10) : 0);
		e = getenv("C3FS_TEST_SYNC_CHUNK_DELAY_MS");
		svc->test_sync_delay_ms = e ? (uint32_t)strtoul(e, NULL, 10) : 0;
	}
#endif
	svc->io_engine = o->io_engine;
	svc->forward_retry_ms = o->forward_retry_ms ? o->forward_retry_ms : 5000;
	svc->forward_timeout_ms = o->forward_timeout_ms ? o->forward_timeout_ms : 10000;
	svc->remove_batch = o->remove_batch ? o->remove_batch : 256;
	svc->ndd = o->dedup_slots ? o->dedup_slots : 65536;
	svc->dd = calloc(svc->ndd, sizeof(*svc->dd));
	svc->targets = calloc((size_t)o->ntargets, sizeof(*svc->targets));
	z = mmap(NULL, CHUNK_SIZE_MAX, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!svc->dd || !svc->targets || z == MAP_FAILED) {
		if (z != MAP_FAILED)
			munmap(z, CHUNK_SIZE_MAX);
		free(svc->dd);
		free(svc->targets);
		free(svc);
		return -ENOMEM;
	}
	svc->zeros = z;
	svc->ntargets = o->ntargets;
	for (int i = 0; i < o->ntargets; i++) {
		struct svc_target *t = &svc->targets[i];
		struct chunk_store_opts co_ = { .target_id = o->targets[i].target_id,
						.io_engine = o->io_engine,
						.direct_io = o->direct_io,
						.direct_read = o->direct_read,
						.no_journal = o->no_journal,
						.journal_data_max = o->journal_data_max };

		t->target_id = o->targets[i].target_id;
		t->path = strdup(o->targets[i].path);
		atomic_store(&t->local_state, o->start_online ? TARGET_LOCAL_ONLINE
							      : TARGET_LOCAL_UPTODATE);
		for (int j = 0; j < i; j++) {
			if (svc->targets[j].target_id == t->target_id) {
				LOG_ERROR("target %u configured twice", t->target_id);
				rc = -C3FS_ECONFIG;
				svc->ntargets = i + 1;
				goto fail;
			}
		}
		t->open_err = t->path ? chunk_store_open(t->path, &co_, &t->cs) : -ENOMEM;
		if (t->open_err)
			LOG_ERROR("target %u at %s failed to open: %s (reported failed; other "
				  "targets keep serving)", t->target_id, t->path ? t->path : "?",
				  c3_strerror(t->open_err));
		else
			LOG_INFO("target %u at %s open", t->target_id, t->path);
	}
	svc->m_write_bytes = c3_counter_get("c3fs_storage_write_bytes_total", NULL,
					    "bytes written by clients (acknowledged)");
	svc->m_read_bytes = c3_counter_get("c3fs_storage_read_bytes_total", NULL,
					   "bytes returned to readers");
	svc->m_checksum = c3_counter_get("c3fs_storage_checksum_errors_total", NULL,
					 "reads that found a checksum mismatch");
	svc->m_fwd_retry = c3_counter_get("c3fs_storage_forward_retries_total", NULL,
					  "forwarding attempts retried");
	svc->m_dedup_hits = c3_counter_get("c3fs_storage_dedup_hits_total", NULL,
					   "retried updates answered from the exactly-once table");
	svc->m_sync_chunks = c3_counter_get("c3fs_storage_sync_chunks_total", NULL,
					    "chunks sent or removed to bring a syncing successor up to date");
	svc->m_read_inline = c3_counter_get("c3fs_storage_read_inline_total", NULL,
					    "read batches answered on the network I/O thread (no worker)");
	svc->m_read_deferred = c3_counter_get("c3fs_storage_read_deferred_total", NULL,
					      "read batches handed to a worker (large, or not cached)");
	svc->m_read_async = c3_counter_get("c3fs_storage_read_async_total", NULL,
					   "chunk reads submitted with io_uring on the network I/O "
					   "threads");
	svc->m_write_lat = c3_hist_get("c3fs_storage_write_seconds", NULL, "batch write latency");
	svc->m_read_lat = c3_hist_get("c3fs_storage_read_seconds", NULL, "batch read latency");
	svc->m_update_lat = c3_hist_get("c3fs_storage_update_seconds", NULL,
					"forwarded update latency");
	c3_metrics_on_collect(svc_metrics_collect, svc);

	memset(&co, 0, sizeof(co));
	co.token = o->token;
	co.conns_per_peer = 4;
	rc = rpc_client_new(&co, &svc->cli);
	if (rc)
		goto fail;
	memset(&so, 0, sizeof(so));
	so.listen = o->listen;
	so.token = o->token;
	so.workers = o->workers ? o->workers : 64;
	so.io_threads = o->io_threads ? o->io_threads : 2;
	so.max_conns = o->max_conns;
	so.max_unauth_conns = o->max_unauth_conns;
	so.max_unauth_per_addr = o->max_unauth_per_addr;
	so.auth_timeout_ms = o->auth_timeout_ms;
	rc = rpc_server_new(&so, &svc->srv);
	if (rc)
		goto fail;
	rpc_server_register(svc->srv, STORAGE_T_WRITE, svc_on_write_counted, svc, 0);
	rpc_server_register(svc->srv, STORAGE_T_READ, svc_on_read, svc, RPC_HANDLER_INLINE);
	rpc_server_register(svc->srv, STORAGE_T_UPDATE, svc_on_update_counted, svc, 0);
	rpc_server_register(svc->srv, STORAGE_T_TRUNCATE, svc_on_truncate_counted, svc, 0);
	rpc_server_register(svc->srv, STORAGE_T_REMOVE, svc_on_remove_counted, svc, 0);
	rpc_server_register(svc->srv, STORAGE_T_QUERY_LAST, svc_on_query_last, svc, 0);
	rpc_server_register(svc->srv, STORAGE_T_DUMP_META, svc_on_dump, svc, 0);
	rpc_server_register(svc->srv, STORAGE_T_SPACE_INFO, svc_on_space, svc, 0);
	rpc_server_register(svc->srv, STORAGE_T_SYNC_DONE, svc_on_sync_done, svc, 0);
	rpc_server_register(svc->srv, STORAGE_T_REPAIR, svc__on_repair, svc, 0);
	rpc_server_register(svc->srv, STORAGE_T_SCRUB, svc__on_scrub, svc, 0);
	storage_service_set_scrub(svc, o->scrub_rate_bps, o->scrub_interval_ms);
	rc = svc__scrub_start(svc);
	if (rc)
		goto fail;
	rc = c3_pool_new(SVC_WRITE_POOL, &svc->write_pool);
	if (rc)
		goto fail;
	rc = rpc_server_start(svc->srv);
	if (rc)
		goto fail;
	rc = -pthread_create(&svc->sync_thread, NULL, svc_sync_main, svc);
	if (rc)
		goto fail;
	svc->sync_started = true;
	*out = svc;
	return 0;
fail:
	storage_service_free(svc);
	return rc;
}

void storage_service_free(struct storage_service *svc)
{
	if (!svc)
		return;
	svc__scrub_stop(svc);
	if (svc->sync_started) {
		pthread_mutex_lock(&svc->sync_mu);
		svc->sync_stop = true;
		pthread_cond_signal(&svc->sync_cv);
		pthread_mutex_unlock(&svc->sync_mu);
		pthread_join(svc->sync_thread, NULL);
	}
	if (svc->srv)
		rpc_server_free(svc->srv);
	svc__arings_free(svc);
	c3_pool_free(svc->write_pool); /* no handler runs any more */
	if (svc->cli)
		rpc_client_free(svc->cli);
	for (int i = 0; i < svc->ntargets; i++) {
		chunk_store_close(svc->targets[i].cs);
		free(svc->targets[i].path);
	}
	svc__scrub_free(svc);
	routing_unref(svc->ri);
	if (svc->zeros)
		munmap((void *)svc->zeros, CHUNK_SIZE_MAX);
	pthread_mutex_destroy(&svc->ri_mu);
	pthread_mutex_destroy(&svc->drain_mu);
	pthread_mutex_destroy(&svc->dd_mu);
	pthread_mutex_destroy(&svc->sync_mu);
	pthread_mutex_destroy(&svc->aring_mu);
	pthread_cond_destroy(&svc->sync_cv);
	free(svc->dd);
	free(svc->targets);
	free(svc);
}
