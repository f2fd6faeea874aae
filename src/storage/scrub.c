/* scrub.c — repair of corrupt replicas, and the scrubber (contract in service_int.h).
 *
 * Repair.  A chunk found corrupt here (a read, a recovery sync or the scrubber saw a block
 * fail its CRC32C; chunk.c has marked it) is queued; the repair thread asks a good member
 * of the chain — the predecessor first, then every other SERVING member in chain order —
 * with STORAGE_T_REPAIR to push its copy.  The member that holds the good copy sends it
 * whole, as recovery sync does (STORAGE_UPD_F_FULL|SYNC, its committed version), plus
 * STORAGE_UPD_F_REPAIR.  Direction and races:
 *   - the pushing member reads its committed copy under its chunk lock.  When the asking
 *     target is downstream it keeps the lock while sending (like sync: no write of the
 *     chunk can interleave).  When the asking target is upstream (a head or a middle asking
 *     its successor) it releases the lock first: the upstream target may be holding its
 *     own lock for a write of that chunk that waits for ours (a deadlock until the
 *     forward times out).
 *   - the receiver applies a REPAIR update under its own chunk lock only when its copy is
 *     still marked corrupt and not newer than the version sent (svc_apply_repair in
 *     service.c).  A write that committed meanwhile (newer version, no corrupt mark) or a
 *     remove wins; an older copy never replaces a newer one.  A copy still damaged after
 *     a partial write on top of it fails its CRC again at the next read or scrub.
 * A repair that found no good copy (every member's copy is damaged, or none is SERVING) is
 * retried with a growing delay, REPAIR_TRIES times, then logged and dropped (the scrubber
 * finds it again).  A SYNCING target does not ask: its recovery sync resends every chunk
 * its metadata dump reports corrupt.
 *
 * Scrubber.  One thread.  For each target whose next pass is due (storage.scrub_interval
 * after the previous pass ended — recorded in <target dir>/SCRUB_LAST, so restarts do not
 * postpone it — or after the process started when none is recorded; `c3fs-admin scrub
 * TARGET` makes it due now), the pass walks the committed chunks in id order, pages of
 * SCRUB_PAGE: every chunk is read whole with block checks (no chunk lock: committed reads
 * are lock-free), paced to storage.scrub_rate.  A failing chunk is marked by the read and
 * queued for repair.  When the target is SERVING and so is its successor, the page is
 * compared with the successor's metadata (DUMP_META, as sync does): a chunk that differs
 * in version, length or digest, is missing there or marked corrupt there, is checked again
 * under our chunk lock (no write of it can be between us and the successor then) and, if
 * it still differs and no pending version exists here, sent whole to the successor with
 * REPAIR|DIVERGED (the predecessor is the authority, as in sync).  The lock is held for
 * one metadata query and one chunk transfer, never across the walk.  Chunks only the
 * successor holds are left alone (README, Known gaps).  Every upstream member scrubs
 * against its successor, so every adjacent pair of a chain is compared.
 *
 * Threads: the repair thread and the scrub thread; svc__on_repair and svc__on_scrub run on
 * RPC workers.  rep->mu guards the queue and the stop flag; per-target figures are atomics.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "proto/storage.h"
#include "storage/service_int.h"

#define REPAIR_QUEUE_MAX 4096
#define SCRUB_LAST_FILE "SCRUB_LAST"  /* in the target directory: end of the last pass */
#define REPAIR_TRIES 8
#define SCRUB_PAGE 128

struct svc_repair_item {
	uint32_t target_id;
	struct chunk_id id;
	uint32_t tries;
	uint64_t due_ms;          /* monotonic */
};

struct svc_repair {
	pthread_mutex_t mu;       /* guards everything below */
	pthread_cond_t cv;        /* queue changes, scrub requests, stop */
	bool stop;
	struct svc_repair_item q[REPAIR_QUEUE_MAX];
	uint32_t n;
	pthread_t rep_thread, scrub_thread;
	bool rep_started, scrub_started;
};

/* ------------------------------------------------------------------ repair queue */

static bool chunk_id_eq(struct chunk_id a, struct chunk_id b)
{
	return a.inode == b.inode && a.index == b.index;
}

static void repair_push(struct svc_repair *rep, const struct svc_repair_item *it)
{
	pthread_mutex_lock(&rep->mu);
	for (uint32_t i = 0; i < rep->n; i++) {
		if (rep->q[i].target_id == it->target_id && chunk_id_eq(rep->q[i].id, it->id)) {
			pthread_mutex_unlock(&rep->mu);
			return;
		}
	}
	if (rep->n < REPAIR_QUEUE_MAX) {
		rep->q[rep->n++] = *it;
		pthread_cond_broadcast(&rep->cv);
	} else {
		LOG_WARN("repair queue full: chunk %llu:%u of target %u not queued (found again "
			 "by the next read or scrub)", (unsigned long long)it->id.inode,
			 it->id.index, it->target_id);
	}
	pthread_mutex_unlock(&rep->mu);
}

void svc__repair_schedule(struct storage_service *svc, struct svc_target *t, struct chunk_id id)
{
	struct svc_repair_item it = { t->target_id, id, 0, 0 };

	if (svc->rep)
		repair_push(svc->rep, &it);
}

/* Ask member src (on addr) to push its copy of it->id to our target t. */
static int repair_ask(struct storage_service *svc, struct svc_target *t, uint32_t chain_id,
		      uint32_t chain_ver, uint32_t src, const char *addr, struct chunk_id id)
{
	struct storage_repair_req m;
	struct c3_buf req = C3_BUF_INIT;
	int rc;

	memset(&m, 0, sizeof(m));
	m.route.chain_id = chain_id;
	m.route.chain_ver = chain_ver;
	m.route.target_id = src;
	m.dest_target = t->target_id;
	m.chunk.inode = id.inode;
	m.chunk.index = id.index;
	storage_repair_req_encode(&m, &req);
	rc = req.err ? req.err
		     : rpc_call_sync(svc->cli, addr, STORAGE_T_REPAIR, req.data, req.len, NULL,
				     2 * svc->forward_timeout_ms);
	c3_buf_release(&req);
	return rc;
}

/* One repair attempt.  0 = done (repaired, or nothing left to repair), else retry later. */
static int repair_one(struct storage_service *svc, const struct svc_repair_item *it)
{
	struct svc_target *t = svc__target_find(svc, it->target_id);
	struct routing_info *ri;
	const struct routing_target *rt;
	const struct routing_chain *c;
	struct chunk_info info;
	uint32_t cand[ROUTING_MAX_REPLICAS], ncand = 0, chain_id, chain_ver, pos = 0;
	char addrs[ROUTING_MAX_REPLICAS][ROUTING_ADDR_MAX];
	int rc;

	if (!t || !t->cs || chunk_store_failed(t->cs))
		return 0;
	rc = chunk_store_stat(t->cs, it->id, &info);
	if (rc == -ENOENT || (rc == 0 && (!info.has_commit || !info.corrupt)))
		return 0; /* removed, or replaced meanwhile (a write, a sync) */
	if (!atomic_load(&svc->serving))
		return -C3FS_ETARGETDOWN;
	ri = svc__routing(svc);
	rt = ri ? routing_target_find(ri, t->target_id) : NULL;
	c = rt ? routing_chain_find(ri, rt->chain_id) : NULL;
	if (!c || rt->state != TARGET_SERVING) {
		bool syncing = rt && rt->state == TARGET_SYNCING;

		routing_unref(ri);
		return syncing ? 0 : -C3FS_ETARGETDOWN; /* a sync resends corrupt chunks */
	}
	chain_id = c->chain_id;
	chain_ver = c->version;
	for (uint32_t k = 0; k < c->ntargets; k++)
		if (c->targets[k] == t->target_id)
			pos = k;
	/* the predecessor first, then the other serving members in chain order */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t k = 0; k < c->ntargets; k++) {
			const struct routing_target *mt = routing_target_find(ri, c->targets[k]);
			const struct routing_node *node;
			bool pred = k + 1 == pos;

			if (k == pos || (pass == 0) != pred || !mt || mt->state != TARGET_SERVING)
				continue;
			node = routing_node_find(ri, mt->node_id);
			if (!node)
				continue;
			snprintf(addrs[ncand], ROUTING_ADDR_MAX, "%s", node->addr);
			cand[ncand++] = mt->target_id;
		}
	}
	routing_unref(ri);
	rc = -C3FS_ENOSUCCESSOR;
	for (uint32_t k = 0; k < ncand; k++) {
		rc = repair_ask(svc, t, chain_id, chain_ver, cand[k], addrs[k], it->id);
		if (rc == 0 && chunk_store_stat(t->cs, it->id, &info) == 0 && info.corrupt)
			rc = -C3FS_ECHECKSUM; /* the push was dropped (a newer version raced) */
		if (rc == 0) {
			LOG_INFO("target %u: chunk %llu:%u repaired from target %u", t->target_id,
				 (unsigned long long)it->id.inode, it->id.index, cand[k]);
			return 0;
		}
		LOG_WARN("target %u: repair of chunk %llu:%u from target %u failed: %s",
			 t->target_id, (unsigned long long)it->id.inode, it->id.index, cand[k],
			 c3_strerror(rc));
	}
	return rc;
}

static void *repair_main(void *arg)
{
	struct storage_service *svc = arg;
	struct svc_repair *rep = svc->rep;

	pthread_mutex_lock(&rep->mu);
	for (;;) {
		uint64_t now = c3_now_ms(), next = now + 1000;
		struct svc_repair_item it;
		int found = -1;
		int rc;

		if (rep->stop)
			break;
		for (uint32_t i = 0; i < rep->n && found < 0; i++) {
			if (rep->q[i].due_ms <= now)
				found = (int)i;
			else if (rep->q[i].due_ms < next)
				next = rep->q[i].due_ms;
		}
		if (found < 0) {
			struct timespec ts = c3_deadline_after_ms(next - now);

			pthread_cond_timedwait(&rep->cv, &rep->mu, &ts);
			continue;
		}
		it = rep->q[found];
		rep->q[found] = rep->q[--rep->n];
		pthread_mutex_unlock(&rep->mu);
		rc = repair_one(svc, &it);
		if (rc) {
			it.tries++;
			if (it.tries < REPAIR_TRIES) {
				it.due_ms = c3_now_ms() + 1000ull * it.tries;
				repair_push(rep, &it);
			} else {
				LOG_ERROR("target %u: chunk %llu:%u stays corrupt: no good replica "
					  "found after %u attempts (%s); the scrubber or the next "
					  "read tries again", it.target_id,
					  (unsigned long long)it.id.inode, it.id.index, it.tries,
					  c3_strerror(rc));
			}
		}
		pthread_mutex_lock(&rep->mu);
	}
	pthread_mutex_unlock(&rep->mu);
	return NULL;
}

/* STORAGE_T_REPAIR: a member of our chain asks for our copy of a chunk. */
void svc__on_repair(struct rpc_req *req, void *arg)
{
	struct storage_service *svc = arg;
	struct storage_repair_req m;
	struct storage_io_result res;
	struct svc_target *t = NULL;
	struct routing_info *ri = NULL;
	const struct routing_chain *c;
	const struct routing_target *rt, *dt;
	struct c3_buf b = C3_BUF_INIT;
	int32_t spos = -1, dpos = -1;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = storage_repair_req_decode(req->payload, req->payload_len, &m);
	if (rc)
		goto reply;
	t = svc__target_find(svc, m.route.target_id);
	if (!atomic_load(&svc->serving) || (t && (!t->cs || chunk_store_failed(t->cs)))) {
		rc = -C3FS_ETARGETDOWN;
		goto reply;
	}
	ri = svc__routing(svc);
	c = ri ? routing_chain_find(ri, m.route.chain_id) : NULL;
	rt = t && c ? routing_target_find(ri, t->target_id) : NULL;
	dt = c ? routing_target_find(ri, m.dest_target) : NULL;
	if (!t || !rt || !dt || rt->chain_id != c->chain_id || dt->chain_id != c->chain_id) {
		rc = !ri ? -C3FS_ENOROUTING : !c ? -C3FS_ENOCHAIN : -C3FS_ENOTARGET;
		goto reply;
	}
	res.chain_ver = c->version;
	res.routing_ver = ri->version;
	if (m.route.chain_ver != c->version) {
		rc = m.route.chain_ver < c->version ? -C3FS_ECHAINVER : -C3FS_ENOROUTING;
		goto reply;
	}
	if (rt->state != TARGET_SERVING) {
		rc = -C3FS_ETARGETDOWN;
		goto reply;
	}
	for (uint32_t k = 0; k < c->ntargets; k++) {
		if (c->targets[k] == t->target_id)
			spos = (int32_t)k;
		if (c->targets[k] == m.dest_target)
			dpos = (int32_t)k;
	}
	routing_unref(ri);
	ri = NULL;
	rc = svc__send_chunk(svc, t, m.route.chain_id, m.dest_target,
			     (struct chunk_id){ m.chunk.inode, m.chunk.index }, STORAGE_UPD_F_REPAIR,
			     dpos > spos ? SVC_SEND_HOLD : SVC_SEND_RELEASE, NULL);
reply:
	routing_unref(ri);
	res.status = rc;
	storage_io_result_encode(&res, &b);
	rpc_reply_buf(req, rc, &b); /* an encoding failure replies its error */
	c3_buf_release(&b);
}

/* ------------------------------------------------------------------ scrubber */

static uint64_t wall_ms(void)
{
	return c3_wall_ns() / 1000000;
}

/* Wait up to ms on the repair/scrub condition; false when the service stops. */
static bool scrub_sleep(struct svc_repair *rep, uint64_t ms)
{
	struct timespec ts = c3_deadline_after_ms(ms);
	bool stop;

	pthread_mutex_lock(&rep->mu);
	if (!rep->stop)
		pthread_cond_timedwait(&rep->cv, &rep->mu, &ts);
	stop = rep->stop;
	pthread_mutex_unlock(&rep->mu);
	return !stop;
}

static bool scrub_stopping(struct svc_repair *rep)
{
	bool stop;

	pthread_mutex_lock(&rep->mu);
	stop = rep->stop;
	pthread_mutex_unlock(&rep->mu);
	return stop;
}

/* One page of our committed chunks. */
struct scrub_page {
	struct chunk_id ids[SCRUB_PAGE];
	struct chunk_info infos[SCRUB_PAGE];
	uint32_t n;
};

static int scrub_page_cb(void *arg, struct chunk_id id, const struct chunk_info *info)
{
	struct scrub_page *p = arg;

	if (p->n == SCRUB_PAGE)
		return 1;
	p->ids[p->n] = id;
	p->infos[p->n++] = *info;
	return 0;
}

static bool scrub_meta_differs(const struct chunk_info *li, const struct storage_chunk_meta *re)
{
	return !re || re->commit_ver != li->commit_ver || re->length != li->length ||
	       re->digest != li->digest || (re->flags & STORAGE_META_F_CORRUPT);
}

/* Chunk id differed from the successor's copy in the listing: check again under our lock
 * and send ours when it still differs.  1 when it was sent, 0 when not, or an error. */
static int scrub_fix_one(struct storage_service *svc, struct svc_target *t, uint32_t chain_id,
			 uint32_t succ, const char *addr, struct chunk_id id)
{
	struct svc_remote rem = { 0 };
	const struct storage_chunk_meta *re;
	struct chunk_id prev;
	struct chunk_info info;
	bool has_prev = chunk_id_prev(id, &prev);
	int rc;

	rc = chunk_store_lock(t->cs, id);
	if (rc)
		return rc;
	rc = chunk_store_stat(t->cs, id, &info);
	if (rc || !info.has_commit || info.has_pending || info.corrupt) {
		rc = rc == -ENOENT ? 0 : rc; /* gone, being written, or ours is the bad one */
		goto out;
	}
	rc = svc__remote_dump(svc, addr, succ, has_prev ? &prev : NULL, &id, 256, &rem);
	if (rc)
		goto out;
	/* the last entry, when it is id's */
	re = rem.n && svc__meta_cmp(id, rem.e[rem.n - 1].chunk) == 0 ? &rem.e[rem.n - 1] : NULL;
	if (re && !scrub_meta_differs(&info, re))
		goto out; /* equal now: a write was between us during the walk */
	LOG_WARN("scrub of target %u: chunk %llu:%u differs on successor %u (here v%llu, %u "
		 "bytes; there %s v%llu, %u bytes%s): sending ours", t->target_id,
		 (unsigned long long)id.inode, id.index, succ,
		 (unsigned long long)info.commit_ver, info.length, re ? "" : "missing,",
		 rem.n ? (unsigned long long)rem.e[rem.n - 1].commit_ver : 0ull,
		 rem.n ? rem.e[rem.n - 1].length : 0,
		 rem.n && (rem.e[rem.n - 1].flags & STORAGE_META_F_CORRUPT) ? ", marked corrupt" : "");
	atomic_fetch_add(&t->scrub_errors, 1);
	rc = svc__send_chunk(svc, t, chain_id, succ, id,
			     STORAGE_UPD_F_REPAIR | STORAGE_UPD_F_DIVERGED, SVC_SEND_LOCKED, NULL);
	if (rc == 0) {
		atomic_fetch_add(&t->scrub_fixed, 1);
		rc = 1;
	}
out:
	chunk_store_unlock(t->cs, id);
	free(rem.e);
	return rc;
}

/* Where t's successor is, when both serve (else *succ = 0). */
static void scrub_successor(struct storage_service *svc, struct svc_target *t, uint32_t *chain_id,
			    uint32_t *succ, char *addr, size_t addrsz)
{
	struct routing_info *ri = svc__routing(svc);
	const struct routing_target *rt = ri ? routing_target_find(ri, t->target_id) : NULL;
	const struct routing_chain *c = rt ? routing_chain_find(ri, rt->chain_id) : NULL;
	const struct routing_target *st = NULL;
	const struct routing_node *node = NULL;
	uint32_t s = 0;

	*succ = 0;
	if (c && rt->state == TARGET_SERVING)
		s = routing_chain_successor(ri, c, t->target_id);
	if (s)
		st = routing_target_find(ri, s);
	if (st && st->state == TARGET_SERVING)
		node = routing_node_find(ri, st->node_id);
	if (node) {
		*chain_id = c->chain_id;
		*succ = s;
		snprintf(addr, addrsz, "%s", node->addr);
	}
	routing_unref(ri);
}

/* One full pass over t.  Returns true when it went through every chunk. */
static bool scrub_pass(struct storage_service *svc, struct svc_target *t)
{
	struct svc_repair *rep = svc->rep;
	struct scrub_page *pg = malloc(sizeof(*pg));
	struct chunk_id end = { UINT64_MAX, UINT32_MAX }, after = { 0, 0 };
	struct svc_remote rem = { 0 };
	uint64_t start = c3_now_ms(), next_ms = start, chunks = 0, bytes = 0, bad = 0, sent = 0;
	bool has_after = false, done = false;
	int rc = 0;

	if (!pg)
		return false;
	LOG_INFO("scrub of target %u starts", t->target_id);
	for (;;) {
		uint32_t j = 0, chain_id = 0, succ = 0;
		char addr[ROUTING_ADDR_MAX];
		bool more = false;

		pg->n = 0;
		rc = chunk_store_list(t->cs, has_after ? &after : NULL, end, SCRUB_PAGE,
				      scrub_page_cb, pg, &more);
		if (rc < 0 || pg->n == 0)
			break;
		scrub_successor(svc, t, &chain_id, &succ, addr, sizeof(addr));
		if (succ && svc__remote_dump(svc, addr, succ, has_after ? &after : NULL,
					     &pg->ids[pg->n - 1], 256, &rem) != 0)
			succ = 0; /* compare next time */
		for (uint32_t i = 0; i < pg->n; i++) {
			struct chunk_read rd = { 0 };
			uint64_t rate = atomic_load(&svc->scrub_rate_bps), now = c3_now_ms();
			const struct storage_chunk_meta *e = NULL;

			/* pace: this chunk may start when the bytes before it fit the rate */
			while (now < next_ms) {
				if (!scrub_sleep(rep, next_ms - now > 200 ? 200 : next_ms - now))
					goto stop;
				now = c3_now_ms();
			}
			if (scrub_stopping(rep) || chunk_store_failed(t->cs))
				goto stop;
			rc = chunk_store_read(t->cs, pg->ids[i], 0, CHUNK_SIZE_MAX, false, &rd);
			if (rc == -C3FS_ECHECKSUM) {
				bad++;
				atomic_fetch_add(&t->scrub_errors, 1);
				LOG_ERROR("scrub of target %u: chunk %llu:%u fails its checksum "
					  "(marked corrupt, repair scheduled)", t->target_id,
					  (unsigned long long)pg->ids[i].inode, pg->ids[i].index);
				svc__repair_schedule(svc, t, pg->ids[i]);
				rc = 0;
			} else if (rc) {
				goto stop;
			}
			chunks++;
			bytes += rd.length;
			atomic_fetch_add(&t->scrub_chunks, 1);
			atomic_fetch_add(&t->scrub_bytes, rd.length);
			if (rate)
				next_ms = (next_ms > now ? next_ms : now) +
					  (uint64_t)rd.length * 1000 / rate;
			chunk_read_release(&rd);
			if (!succ || pg->infos[i].has_pending || pg->infos[i].corrupt)
				continue;
			while (j < rem.n && svc__meta_cmp(pg->ids[i], rem.e[j].chunk) > 0)
				j++;
			if (j < rem.n && svc__meta_cmp(pg->ids[i], rem.e[j].chunk) == 0)
				e = &rem.e[j];
			if (e && e->pending_ver)
				continue; /* a write of it is in flight there */
			if (scrub_meta_differs(&pg->infos[i], e)) {
				int r = scrub_fix_one(svc, t, chain_id, succ, addr, pg->ids[i]);

				if (r > 0) {
					bad++;
					sent++;
				}
			}
		}
		after = pg->ids[pg->n - 1];
		has_after = true;
		free(rem.e);
		rem = (struct svc_remote){ 0 };
		if (!more)
			break;
	}
	done = rc >= 0;
stop:
	free(rem.e);
	free(pg);
	if (done) {
		atomic_store(&t->scrub_last_ms, wall_ms());
		LOG_INFO("scrub of target %u done: %" PRIu64 " chunks, %" PRIu64 " bytes in %.1f s, "
			 "%" PRIu64 " bad or divergent, %" PRIu64 " successor copies sent",
			 t->target_id, chunks, bytes, (double)(c3_now_ms() - start) / 1000.0, bad,
			 sent);
	} else {
		LOG_WARN("scrub of target %u stopped after %" PRIu64 " chunks%s%s", t->target_id,
			 chunks, rc < 0 ? ": " : "", rc < 0 ? c3_strerror(rc) : "");
	}
	return done;
}

/* The end of the last full pass, kept in <target dir>/SCRUB_LAST ("<unix ms>\n") so that
 * the schedule survives restarts.  0 when there is none (or it cannot be read). */
static uint64_t scrub_last_load(const struct svc_target *t)
{
	char path[4200], buf[32];
	unsigned long long v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/" SCRUB_LAST_FILE, t->path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu", &v) != 1 || v > wall_ms() + 86400000ull)
		return 0; /* garbage, or from the far future: scrub by the normal schedule */
	return v;
}

static void scrub_last_save(const struct svc_target *t, uint64_t ms)
{
	char path[4200], tmp[4220], buf[32];
	int fd, len = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)ms);
	bool ok;

	snprintf(path, sizeof(path), "%s/" SCRUB_LAST_FILE, t->path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ok = fd >= 0 && write(fd, buf, (size_t)len) == len;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (ok && rename(tmp, path) != 0)
		ok = false;
	if (!ok) {
		LOG_WARN("scrub of target %u: cannot record the pass in %s: %s (the next process "
			 "start schedules from its own start)", t->target_id, path, strerror(errno));
		(void)unlink(tmp);
	}
}

/* Passes are scheduled on the wall clock (a jump only moves one pass): the next starts
 * scrub_interval after the end of the previous one, as recorded in the target directory,
 * or after the process started when none is. */
static void *scrub_main(void *arg)
{
	struct storage_service *svc = arg;
	struct svc_repair *rep = svc->rep;
	uint64_t started = wall_ms();

	for (int i = 0; i < svc->ntargets; i++) {
		struct svc_target *t = &svc->targets[i];
		uint64_t last = t->cs ? scrub_last_load(t) : 0;

		atomic_store(&t->scrub_last_ms, last);
		atomic_store(&t->scrub_base_ms, last ? last : started);
	}
	while (scrub_sleep(rep, 1000)) {
		uint64_t interval = atomic_load(&svc->scrub_interval_ms);

		for (int i = 0; i < svc->ntargets; i++) {
			struct svc_target *t = &svc->targets[i];
			uint64_t base = atomic_load(&t->scrub_base_ms);
			bool now = atomic_exchange(&t->scrub_now, false);

			if (!now && (!interval || wall_ms() < base + interval))
				continue;
			if (!t->cs || chunk_store_failed(t->cs) || !atomic_load(&svc->serving))
				continue;
			atomic_store(&t->scrub_running, true);
			if (scrub_pass(svc, t))
				scrub_last_save(t, atomic_load(&t->scrub_last_ms));
			atomic_store(&t->scrub_running, false);
			atomic_store(&t->scrub_base_ms, wall_ms()); /* a stopped pass waits too */
			if (scrub_stopping(rep))
				return NULL;
		}
	}
	return NULL;
}

/* STORAGE_T_SCRUB: start a pass of one of our targets now. */
void svc__on_scrub(struct rpc_req *req, void *arg)
{
	struct storage_service *svc = arg;
	struct storage_scrub_req m;
	struct svc_target *t;
	int rc = storage_scrub_req_decode(req->payload, req->payload_len, &m);

	if (rc == 0) {
		t = svc__target_find(svc, m.target_id);
		if (!t)
			rc = -C3FS_ENOTARGET;
		else if (!t->cs || chunk_store_failed(t->cs))
			rc = -C3FS_ETARGETDOWN;
		else {
			atomic_store(&t->scrub_now, true);
			pthread_mutex_lock(&svc->rep->mu);
			pthread_cond_broadcast(&svc->rep->cv);
			pthread_mutex_unlock(&svc->rep->mu);
			LOG_INFO("target %u: scrub pass requested", t->target_id);
		}
	}
	rpc_reply(req, rc, NULL, 0, NULL, 0);
}

/* ------------------------------------------------------------------ lifecycle */

int svc__scrub_start(struct storage_service *svc)
{
	struct svc_repair *rep = calloc(1, sizeof(*rep));
	int rc;

	if (!rep)
		return -ENOMEM;
	pthread_mutex_init(&rep->mu, NULL);
	pthread_cond_init(&rep->cv, NULL);
	svc->rep = rep;
	rc = -pthread_create(&rep->rep_thread, NULL, repair_main, svc);
	if (rc)
		return rc;
	rep->rep_started = true;
	rc = -pthread_create(&rep->scrub_thread, NULL, scrub_main, svc);
	if (rc)
		return rc;
	rep->scrub_started = true;
	return 0;
}

void svc__scrub_stop(struct storage_service *svc)
{
	struct svc_repair *rep = svc->rep;

	if (!rep)
		return;
	pthread_mutex_lock(&rep->mu);
	rep->stop = true;
	pthread_cond_broadcast(&rep->cv);
	pthread_mutex_unlock(&rep->mu);
	if (rep->rep_started)
		pthread_join(rep->rep_thread, NULL);
	if (rep->scrub_started)
		pthread_join(rep->scrub_thread, NULL);
	rep->rep_started = rep->scrub_started = false;
}

void svc__scrub_free(struct storage_service *svc)
{
	struct svc_repair *rep = svc->rep;

	if (!rep)
		return;
	svc__scrub_stop(svc);
	pthread_mutex_destroy(&rep->mu);
	pthread_cond_destroy(&rep->cv);
	free(rep);
	svc->rep = NULL;
}
