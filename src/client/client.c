/* client.c — the libc3fs handle: mgmtd link, RPC client, meta calls with failover, the
 * open-inode table, exactly-once channels and the background thread.
 *
 * Background thread (one per client), every second:
 *   - RENEW to a meta node every min(10 s, session_timeout / 3) so this client's open
 *     sessions (files being written) do not expire;
 *   - for each open inode with unreported writes older than opts.length_sync_ms, a SYNC
 *     length report (long writers become visible to others without closing).
 * It stops in c3fs_client_free before anything it uses is freed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "client/client_int.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"

static uint32_t client_default_u32(uint32_t v, uint32_t def) { return v ? v : def; }

/* ------------------------------------------------------------------ errors */

const char *c3fs_strerror(int code) { return c3_strerror(code); }
int c3fs_errno(int code) { return c3_errno_of(code); }

uint64_t c3fs_root_ino(const struct c3fs_client *cl)
{
	(void)cl;
	return META_ROOT_INO;
}

/* ------------------------------------------------------------------ meta calls */

void client__hdr(struct c3fs_client *cl, const struct c3fs_cred *cr, bool idem,
		 struct meta_hdr *hdr)
{
	uint32_t i, n;

	memset(hdr, 0, sizeof(*hdr));
	if (cr) {
		hdr->cred.uid = cr->uid;
		hdr->cred.gid = cr->gid;
		n = cr->ngroups > META_MAX_GROUPS ? META_MAX_GROUPS : cr->ngroups;
		for (i = 0; i < n; i++)
			hdr->cred.groups[i] = cr->groups[i];
		hdr->cred.ngroups = n;
	}
	hdr->client_id = cl->client_id;
	hdr->seq = idem ? atomic_fetch_add((_Atomic uint64_t *)&cl->meta_seq, 1) + 1 : 0;
}

/* ------------------------------------------------------------------ meta health
 *
 * A meta server that failed at the transport level (c3_err_is_peer: cannot connect,
 * timed out, closed, shutting down) is marked unreachable: operations skip it while
 * another up meta server is not marked, so they do not pay a connect timeout each.  The
 * background thread probes marked servers (client_meta_probe, a RENEW with a short
 * deadline) and unmarks them when they answer; a server that leaves the routing is
 * forgotten there too.  Changes are logged once each way.  When every up meta server is
 * marked, they are all tried as before. */

/* Slot of addr, or -1 (mh_lock held). */
static int client_mh_find(struct c3fs_client *cl, const char *addr)
{
	for (int i = 0; i < CLIENT_META_HEALTH; i++)
		if (cl->mh[i].addr[0] && strcmp(cl->mh[i].addr, addr) == 0)
			return i;
	return -1;
}

static bool client_meta_marked(struct c3fs_client *cl, const char *addr)
{
	bool marked;

	pthread_mutex_lock(&cl->mh_lock);
	marked = client_mh_find(cl, addr) >= 0;
	pthread_mutex_unlock(&cl->mh_lock);
	return marked;
}

static void client_meta_mark(struct c3fs_client *cl, const char *addr, int rc)
{
	int i, slot = -1;

	pthread_mutex_lock(&cl->mh_lock);
	if (client_mh_find(cl, addr) < 0) {
		for (i = 0; i < CLIENT_META_HEALTH && slot < 0; i++)
			if (!cl->mh[i].addr[0])
				slot = i;
		if (slot >= 0) {
			snprintf(cl->mh[slot].addr, sizeof(cl->mh[slot].addr), "%s", addr);
			cl->mh[slot].down_since_ms = c3_now_ms();
			/* a meta server passes its own KV's connection errors on, so this may
			 * be the KV (PostgreSQL) rather than the meta host: say both */
			LOG_WARN("meta server %s unreachable (%s; the server or its KV): skipped "
				 "while another answers, probed in the background", addr,
				 c3_strerror(rc));
		}
	}
	pthread_mutex_unlock(&cl->mh_lock);
}

static void client_meta_unmark(struct c3fs_client *cl, const char *addr, const char *why)
{
	int i;

	pthread_mutex_lock(&cl->mh_lock);
	i = client_mh_find(cl, addr);
	if (i >= 0) {
		LOG_INFO("meta server %s %s after %llu ms", addr, why,
			 (unsigned long long)(c3_now_ms() - cl->mh[i].down_since_ms));
		cl->mh[i].addr[0] = '\0';
	}
	pthread_mutex_unlock(&cl->mh_lock);
}

/* Background thread: probe every marked meta server once. */
static void client_meta_probe(struct c3fs_client *cl)
{
	char addrs[CLIENT_META_HEALTH][ROUTING_ADDR_MAX];
	struct routing_info *ri = cluster_client_routing(cl->cc);
	int n = 0;

	pthread_mutex_lock(&cl->mh_lock);
	for (int i = 0; i < CLIENT_META_HEALTH; i++)
		if (cl->mh[i].addr[0])
			memcpy(addrs[n++], cl->mh[i].addr, ROUTING_ADDR_MAX);
	pthread_mutex_unlock(&cl->mh_lock);
	for (int i = 0; i < n; i++) {
		struct meta_client_req req;
		struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;
		bool known = false;
		int rc;

		for (uint32_t k = 0; ri && k < ri->nnodes; k++)
			known |= ri->nodes[k].type == NODE_META &&
				 strcmp(ri->nodes[k].addr, addrs[i]) == 0;
		if (!known) {
			client_meta_unmark(cl, addrs[i], "left the routing");
			continue;
		}
		client__hdr(cl, NULL, false, &req.hdr);
		meta_client_req_encode(&req, &b);
		rc = b.err ? b.err : rpc_call_sync(cl->rpc, addrs[i], META_T_RENEW, b.data, b.len,
						   &r, cl->opts.timeout_ms < 2000 ?
						   cl->opts.timeout_ms : 2000);
		if (!c3_err_is_peer(rc))
			client_meta_unmark(cl, addrs[i], "answers again");
		c3_buf_release(&b);
		c3_buf_release(&r);
	}
	routing_unref(ri);
}

/* Is routing node i a meta server to pick from (marked ones only when all_marked)? */
static bool client_meta_eligible(struct c3fs_client *cl, const struct routing_info *ri,
				 uint32_t i, bool all_marked)
{
	return ri->nodes[i].type == NODE_META && ri->nodes[i].state == NODE_UP &&
	       (all_marked || !client_meta_marked(cl, ri->nodes[i].addr));
}

/* Pick the n-th up meta node (round-robin), skipping the ones marked unreachable while
 * any other is up.  Copies its address; 0 or -C3FS_ENOROUTING. */
static int client_meta_pick(struct c3fs_client *cl, unsigned skip, char *addr, size_t sz)
{
	struct routing_info *ri = cluster_client_routing(cl->cc);
	uint32_t i, nup = 0, want;
	int rc = -C3FS_ENOROUTING;
	bool all_marked = false;

	if (!ri)
		return rc;
	for (i = 0; i < ri->nnodes; i++)
		nup += client_meta_eligible(cl, ri, i, false);
	if (nup == 0) {
		all_marked = true;
		for (i = 0; i < ri->nnodes; i++)
			nup += client_meta_eligible(cl, ri, i, true);
	}
	if (nup) {
		want = (atomic_fetch_add((_Atomic unsigned *)&cl->meta_rr, 1) + skip) % nup;
		for (i = 0; i < ri->nnodes; i++) {
			if (!client_meta_eligible(cl, ri, i, all_marked))
				continue;
			if (want-- == 0) {
				snprintf(addr, sz, "%s", ri->nodes[i].addr);
				rc = 0;
				break;
			}
		}
	}
	routing_unref(ri);
	return rc;
}

bool client__wait_interruptible(struct c3fs_client *cl, uint64_t ms)
{
	bool (*intr)(void) = cl->opts.interrupted;

	if (!intr) {
		c3_sleep_ms(ms);
		return false;
	}
	for (;;) {
		if (intr())
			return true;
		if (ms == 0)
			return false;
		uint64_t step = ms < 100 ? ms : 100;

		c3_sleep_ms(step);
		ms -= step;
	}
}

int client__meta_call(struct c3fs_client *cl, uint16_t type, const struct c3_buf *req,
		      struct c3_buf *resp)
{
	uint64_t now, deadline = c3_now_ms() + client__setting(cl, meta_wait_ms);
	uint64_t backoff = 20;
	char addr[ROUTING_ADDR_MAX];
	enum c3_retry retry;
	int rc, attempt;

	if (req->err)
		return req->err;
	for (attempt = 0;; attempt++) {
		rc = client_meta_pick(cl, (unsigned)attempt, addr, sizeof(addr));
		if (rc == 0) {
			struct c3_buf tmp = C3_BUF_INIT;

			rc = rpc_call_sync(cl->rpc, addr, type, req->data, req->len, &tmp,
					   cl->opts.timeout_ms);
			if (c3_err_is_peer(rc))
				client_meta_mark(cl, addr, rc);
			if (rc == 0 && resp) {
				c3_buf_release(resp);
				*resp = tmp;
			} else {
				c3_buf_release(&tmp);
			}
		}
		retry = c3_err_retry(rc, C3_RETRY_META);
		if (retry == C3_RETRY_NO)
			return rc;
		now = c3_now_ms();
		if (now >= deadline) {
			/* no meta node answered within meta_wait_ms (checked between tries:
			 * one try may take up to timeout_ms); an answer (busy, a conflict) is
			 * returned as it is */
			if (c3_err_is_peer(rc) || rc == -C3FS_ENOROUTING)
				return -C3FS_ETIMEDOUT;
			return rc;
		}
		if (retry == C3_RETRY_ROUTE)
			cluster_client_refresh(cl->cc, 1000);
		if (client__wait_interruptible(cl, backoff < deadline - now ? backoff
									 : deadline - now))
			return -EINTR;
		if (backoff < 1000)
			backoff *= 2;
	}
}

/* ------------------------------------------------------------------ attributes */

void client__attr_from_meta(struct c3fs_client *cl, const struct meta_attr *m,
			    struct c3fs_attr *out)
{
	struct client_inode *in;

	memset(out, 0, sizeof(*out));
	out->ino = m->ino;
	out->mode = m->mode;
	out->uid = m->uid;
	out->gid = m->gid;
	out->nlink = m->nlink;
	out->rdev = (uint32_t)m->rdev;
	out->size = m->length;
	out->atime_ns = (int64_t)m->atime_ns;
	out->mtime_ns = (int64_t)m->mtime_ns;
	out->ctime_ns = (int64_t)m->ctime_ns;
	out->blksize = m->layout.chunk_size ? m->layout.chunk_size : 4096;
	if ((m->mode & 0170000) == 0100000 && (in = client__inode_find(cl, m->ino))) {
		pthread_mutex_lock(&in->lock);
		if (in->written_end > out->size)
			out->size = in->written_end;
		if (in->pending_end > out->size)
			out->size = in->pending_end;
		if ((in->dirty || in->wjobs) && (int64_t)in->last_write_ns > out->mtime_ns) {
			out->mtime_ns = (int64_t)in->last_write_ns;
			if (out->mtime_ns > out->ctime_ns)
				out->ctime_ns = out->mtime_ns;
		}
		pthread_mutex_unlock(&in->lock);
		client__inode_put(cl, in);
	}
	out->blocks = (out->size + 511) / 512;
}

/* ------------------------------------------------------------------ open inodes */

static unsigned client_inode_bucket(uint64_t ino)
{
	return (unsigned)((ino * 0x9e3779b97f4a7c15ull) >> 56) % CLIENT_INODE_BUCKETS;
}

struct client_inode *client__inode_find(struct c3fs_client *cl, uint64_t ino)
{
	struct client_inode *in;

	pthread_mutex_lock(&cl->inodes_lock);
	for (in = cl->inodes[client_inode_bucket(ino)]; in; in = in->next)
		if (in->ino == ino) {
			in->refs++;
			break;
		}
	pthread_mutex_unlock(&cl->inodes_lock);
	return in;
}

struct client_inode *client__inode_get(struct c3fs_client *cl, const struct meta_attr *attr,
				       int *err)
{
	unsigned b = client_inode_bucket(attr->ino);
	struct client_inode *in, *fresh;

	*err = meta_layout_check(&attr->layout, true);
	if (*err)
		return NULL;
	fresh = calloc(1, sizeof(*fresh));
	if (fresh)
		fresh->perm = calloc(attr->layout.stripe, sizeof(uint32_t));
	if (!fresh || !fresh->perm) {
		if (fresh)
			free(fresh->perm);
		free(fresh);
		*err = -ENOMEM;
		return NULL;
	}
	fresh->ino = attr->ino;
	fresh->refs = 1;
	pthread_mutex_init(&fresh->lock, NULL);
	pthread_cond_init(&fresh->wcv, NULL);
	fresh->layout = attr->layout;
	meta_layout_perm(&fresh->layout, fresh->perm);
	fresh->meta_length = attr->length;
	fresh->trunc_ver = attr->truncate_ver;
	fresh->last_report_ms = c3_now_ms();

	pthread_mutex_lock(&cl->inodes_lock);
	for (in = cl->inodes[b]; in; in = in->next)
		if (in->ino == attr->ino)
			break;
	if (in) {
		in->refs++;
		pthread_mutex_unlock(&cl->inodes_lock);
		pthread_mutex_lock(&in->lock);
		if (attr->length > in->meta_length)
			in->meta_length = attr->length;
		if (attr->truncate_ver > in->trunc_ver)
			in->trunc_ver = attr->truncate_ver;
		if (attr->layout.dyn_stripe > in->layout.dyn_stripe)
			in->layout.dyn_stripe = attr->layout.dyn_stripe;
		pthread_mutex_unlock(&in->lock);
		pthread_cond_destroy(&fresh->wcv);
		pthread_mutex_destroy(&fresh->lock);
		free(fresh->perm);
		free(fresh);
		return in;
	}
	fresh->next = cl->inodes[b];
	cl->inodes[b] = fresh;
	pthread_mutex_unlock(&cl->inodes_lock);
	return fresh;
}

void client__inode_put(struct c3fs_client *cl, struct client_inode *in)
{
	struct client_inode **pp;

	if (!in)
		return;
	pthread_mutex_lock(&cl->inodes_lock);
	if (--in->refs > 0) {
		pthread_mutex_unlock(&cl->inodes_lock);
		return;
	}
	for (pp = &cl->inodes[client_inode_bucket(in->ino)]; *pp; pp = &(*pp)->next)
		if (*pp == in) {
			*pp = in->next;
			break;
		}
	pthread_mutex_unlock(&cl->inodes_lock);
	pthread_cond_destroy(&in->wcv);
	pthread_mutex_destroy(&in->lock);
	free(in->perm);
	free(in);
}

/* ------------------------------------------------------------------ queued writes */

int client__wait_writes(struct client_inode *in, uint64_t off, uint64_t len, bool take_err)
{
	return client__wait_writes_intr(NULL, in, off, len, take_err);
}

int client__wait_writes_intr(struct c3fs_client *cl, struct client_inode *in, uint64_t off,
			     uint64_t len, bool take_err)
{
	bool (*intr)(void) = cl ? cl->opts.interrupted : NULL;
	uint64_t t0 = intr ? c3_now_ms() : 0;
	int rc = 0;

	pthread_mutex_lock(&in->lock);
	for (;;) {
		struct client_wjob *j;

		for (j = in->wjobs; j; j = j->next)
			if (len == 0 || (j->off < off + len && off < j->off + j->len))
				break;
		if (!j)
			break;
		if (!intr) {
			pthread_cond_wait(&in->wcv, &in->lock);
			continue;
		}
		/* queued writes normally land within milliseconds; one still queued after
		 * CLIENT_WAIT_INTR_MS is waiting out a failure (a chain that does not serve),
		 * and a signal may end the wait (the writes go on in the background and their
		 * error, if any, stays for the next wait) */
		if (c3_now_ms() - t0 >= CLIENT_WAIT_INTR_MS && intr()) {
			pthread_mutex_unlock(&in->lock);
			return -EINTR;
		}
		struct timespec ts = c3_deadline_after_ms(100);

		pthread_cond_timedwait(&in->wcv, &in->lock, &ts);
	}
	if (take_err) {
		rc = in->werr;
		in->werr = 0;
	}
	pthread_mutex_unlock(&in->lock);
	return rc;
}

/* ------------------------------------------------------------------ channels */

int client__chan_take(struct c3fs_client *cl, uint32_t *out, int n, bool wait)
{
	int i;

	pthread_mutex_lock(&cl->chan_lock);
	while (cl->chan_nfree < (uint32_t)n) {
		if (!wait) {
			pthread_mutex_unlock(&cl->chan_lock);
			return -EAGAIN;
		}
		pthread_cond_wait(&cl->chan_cv, &cl->chan_lock);
	}
	for (i = 0; i < n; i++)
		out[i] = cl->chan_free[--cl->chan_nfree];
	pthread_mutex_unlock(&cl->chan_lock);
	return 0;
}

void client__chan_put(struct c3fs_client *cl, uint32_t chan)
{
	bool kick;

	pthread_mutex_lock(&cl->chan_lock);
	cl->chan_free[cl->chan_nfree++] = chan;
	__atomic_add_fetch(&cl->chan_gen, 1, __ATOMIC_SEQ_CST);
	/* takers wait for several at once: each must see every put */
	pthread_cond_broadcast(&cl->chan_cv);
	pthread_mutex_unlock(&cl->chan_lock);
	/* asynchronous segments waiting for channels are started by the aio service */
	pthread_mutex_lock(&cl->svc_lock);
	kick = cl->svc_chanq != NULL;
	if (kick)
		pthread_cond_signal(&cl->svc_cv);
	pthread_mutex_unlock(&cl->svc_lock);
}

/* ------------------------------------------------------------------ length reports */

int client__report_length(struct c3fs_client *cl, struct client_inode *in, uint16_t type,
			  const struct c3fs_cred *cr, uint64_t session_id, struct meta_attr *out)
{
	struct meta_close_req req;
	struct meta_attr_resp rsp;
	struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;
	uint64_t gen;
	bool dirty;
	int rc;

	memset(&req, 0, sizeof(req));
	client__hdr(cl, cr, false, &req.hdr);
	req.ino = in->ino;
	req.session_id = session_id;
	pthread_mutex_lock(&in->lock);
	dirty = in->dirty;
	gen = in->write_gen;
	if (dirty) {
		req.flags = META_CLOSE_LENGTH | META_CLOSE_WROTE | META_CLOSE_TRUNCVER;
		req.length = in->written_end;
		req.truncate_ver = in->trunc_ver;
	}
	pthread_mutex_unlock(&in->lock);
	if (!dirty && type == META_T_SYNC)
		return 0;
	meta_close_req_encode(&req, &b);
	rc = client__meta_call(cl, type, &b, &r);
	if (rc == 0 && r.len > 0 && meta_attr_resp_decode(r.data, r.len, &rsp) == 0) {
		if (out)
			*out = rsp.attr;
		pthread_mutex_lock(&in->lock);
		if (rsp.attr.length > in->meta_length || in->write_gen == gen)
			in->meta_length = rsp.attr.length;
		if (rsp.attr.truncate_ver > in->trunc_ver)
			in->trunc_ver = rsp.attr.truncate_ver;
		pthread_mutex_unlock(&in->lock);
	}
	if (rc == 0) {
		pthread_mutex_lock(&in->lock);
		if (in->write_gen == gen) {
			in->dirty = false;
			in->written_end = 0;
		}
		in->last_report_ms = c3_now_ms();
		pthread_mutex_unlock(&in->lock);
	}
	c3_buf_release(&b);
	c3_buf_release(&r);
	return rc;
}

int client__flush_length(struct c3fs_client *cl, uint64_t ino)
{
	struct client_inode *in = client__inode_find(cl, ino);
	struct c3fs_cred cr;
	uint64_t sess;
	bool dirty;
	int rc = 0;

	if (!in)
		return 0;
	client__wait_writes(in, 0, 0, false); /* queued writes land first */
	pthread_mutex_lock(&in->lock);
	dirty = in->dirty;
	sess = in->sync_session;
	cr = in->sync_cred;
	pthread_mutex_unlock(&in->lock);
	if (dirty && sess)
		rc = client__report_length(cl, in, META_T_SYNC, &cr, sess, NULL);
	client__inode_put(cl, in);
	return rc;
}

/* ------------------------------------------------------------------ deferred session ends */

/* End the sessions one by one with CLOSE (no length): the fallback when a RELEASE fails
 * (e.g. a meta server that does not know it).  Errors are ignored, as for any abandoned
 * session: it expires with the client. */
static void client_release_one_by_one(struct c3fs_client *cl, const struct meta_sess_ref *s,
				      uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct meta_close_req req;
		struct c3_buf b = C3_BUF_INIT;

		memset(&req, 0, sizeof(req));
		client__hdr(cl, NULL, false, &req.hdr);
		req.ino = s[i].ino;
		req.session_id = s[i].session_id;
		meta_close_req_encode(&req, &b);
		client__meta_call(cl, META_T_CLOSE, &b, NULL);
		c3_buf_release(&b);
	}
}

void client__release_flush(struct c3fs_client *cl)
{
	struct meta_release_req *req = malloc(sizeof(*req));

	for (;;) {
		struct c3_buf b = C3_BUF_INIT;
		uint32_t n;
		int rc;

		pthread_mutex_lock(&cl->rel_lock);
		n = cl->rel_n < META_RELEASE_MAX ? cl->rel_n : META_RELEASE_MAX;
		if (n == 0 || !req) {
			pthread_mutex_unlock(&cl->rel_lock);
			break;
		}
		memcpy(req->sessions, cl->rel + cl->rel_n - n, n * sizeof(cl->rel[0]));
		cl->rel_n -= n;
		if (cl->rel_n == 0)
			cl->rel_first_ms = 0;
		pthread_mutex_unlock(&cl->rel_lock);
		client__hdr(cl, NULL, false, &req->hdr);
		req->count = n;
		meta_release_req_encode(req, &b);
		rc = b.err ? b.err : client__meta_call(cl, META_T_RELEASE, &b, NULL);
		c3_buf_release(&b);
		if (rc)
			client_release_one_by_one(cl, req->sessions, n);
	}
	free(req);
}

void client__release_defer(struct c3fs_client *cl, uint64_t ino, uint64_t session_id)
{
	bool wake = false, full = false;

	pthread_mutex_lock(&cl->rel_lock);
	if (cl->rel_n == cl->rel_cap && cl->rel_cap < CLIENT_RELEASE_QMAX) {
		uint32_t cap = cl->rel_cap ? cl->rel_cap * 2 : 256;
		struct meta_sess_ref *p = realloc(cl->rel, cap * sizeof(*p));

		if (p) {
			cl->rel = p;
			cl->rel_cap = cap;
		}
	}
	if (cl->rel_n < cl->rel_cap) {
		cl->rel[cl->rel_n].ino = ino;
		cl->rel[cl->rel_n].session_id = session_id;
		if (cl->rel_n++ == 0) {
			cl->rel_first_ms = c3_now_ms();
			wake = true;
		}
		wake |= cl->rel_n == META_RELEASE_MAX;
	} else {
		full = true;
	}
	pthread_mutex_unlock(&cl->rel_lock);
	if (full) {
		/* no room (or no memory): send what is queued, then this one, now */
		struct meta_sess_ref one = { ino, session_id };

		client__release_flush(cl);
		client_release_one_by_one(cl, &one, 1);
	} else if (wake) {
		pthread_mutex_lock(&cl->bg_lock);
		pthread_cond_signal(&cl->bg_cv);
		pthread_mutex_unlock(&cl->bg_lock);
	}
}

/* ------------------------------------------------------------------ directory attributes */

static struct client_dattr *client_dattr_slot(struct c3fs_client *cl, uint64_t ino)
{
	return &cl->dattr[(ino * 0x9e3779b97f4a7c15ull) >> 58]; /* 64 slots */
}

uint64_t client__dattr_gen(struct c3fs_client *cl)
{
	uint64_t g;

	pthread_mutex_lock(&cl->dattr_lock);
	g = cl->dattr_gen;
	pthread_mutex_unlock(&cl->dattr_lock);
	return g;
}

void client__dattr_put(struct c3fs_client *cl, uint64_t gen, const struct meta_attr *a)
{
	struct client_dattr *s;

	if (!cl->opts.dir_attr_ttl_ms || !a->ino || (a->mode & 0170000) != 0040000)
		return;
	pthread_mutex_lock(&cl->dattr_lock);
	s = client_dattr_slot(cl, a->ino);
	/* a drop since the request was sent, or newer attributes from a concurrent change */
	if (gen == cl->dattr_gen &&
	    !(s->at_ms && s->a.ino == a->ino && s->a.ctime_ns > a->ctime_ns)) {
		s->a = *a;
		s->at_ms = c3_now_ms();
	}
	pthread_mutex_unlock(&cl->dattr_lock);
}

void client__dattr_drop(struct c3fs_client *cl, uint64_t ino)
{
	pthread_mutex_lock(&cl->dattr_lock);
	cl->dattr_gen++;
	if (ino == 0) {
		memset(cl->dattr, 0, sizeof(cl->dattr));
	} else {
		struct client_dattr *s = client_dattr_slot(cl, ino);

		if (s->a.ino == ino)
			memset(s, 0, sizeof(*s));
	}
	pthread_mutex_unlock(&cl->dattr_lock);
}

bool client__dattr_get(struct c3fs_client *cl, uint64_t ino, struct meta_attr *out)
{
	struct client_dattr *s;
	bool hit;

	if (!cl->opts.dir_attr_ttl_ms)
		return false;
	pthread_mutex_lock(&cl->dattr_lock);
	s = client_dattr_slot(cl, ino);
	hit = s->at_ms && s->a.ino == ino && c3_now_ms() - s->at_ms < cl->opts.dir_attr_ttl_ms;
	if (hit)
		*out = s->a;
	pthread_mutex_unlock(&cl->dattr_lock);
	return hit;
}

/* ------------------------------------------------------------------ background */

/* Collect (with references) the open inodes whose writes are due for a report. */
static int client_due_inodes(struct c3fs_client *cl, struct client_inode **out, int max)
{
	uint64_t now = c3_now_ms();
	struct client_inode *in;
	int b, n = 0;

	pthread_mutex_lock(&cl->inodes_lock);
	for (b = 0; b < CLIENT_INODE_BUCKETS && n < max; b++)
		for (in = cl->inodes[b]; in && n < max; in = in->next) {
			bool due;

			pthread_mutex_lock(&in->lock);
			due = in->dirty && in->sync_session &&
			      now - in->last_report_ms >= cl->opts.length_sync_ms;
			pthread_mutex_unlock(&in->lock);
			if (due) {
				in->refs++;
				out[n++] = in;
			}
		}
	pthread_mutex_unlock(&cl->inodes_lock);
	return n;
}

static void client_renew(struct c3fs_client *cl)
{
	struct meta_client_req req;
	struct meta_renew_resp rsp;
	struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;

	client__hdr(cl, NULL, false, &req.hdr);
	meta_client_req_encode(&req, &b);
	if (client__meta_call(cl, META_T_RENEW, &b, &r) == 0 && r.len > 0 &&
	    meta_renew_resp_decode(r.data, r.len, &rsp) == 0 && rsp.session_timeout_ms >= 3000)
		cl->session_timeout_ms = rsp.session_timeout_ms;
	c3_buf_release(&b);
	c3_buf_release(&r);
}

static void *client_bg_main(void *arg)
{
	struct c3fs_client *cl = arg;
	uint64_t last_renew = 0;
	struct client_inode *due[64];

	pthread_mutex_lock(&cl->bg_lock);
	while (!cl->bg_stop) {
		struct timespec ts;
		uint64_t now = c3_now_ms(), every, first, wait_ms;
		int i, n;

		pthread_mutex_unlock(&cl->bg_lock);
		every = cl->session_timeout_ms / 3;
		if (every > 10000)
			every = 10000;
		if (now - last_renew >= every) {
			client_renew(cl);
			last_renew = now;
		}
		client_meta_probe(cl);
		n = client_due_inodes(cl, due, 64);
		for (i = 0; i < n; i++) {
			struct c3fs_cred cr;
			uint64_t sess;

			pthread_mutex_lock(&due[i]->lock);
			sess = due[i]->sync_session;
			cr = due[i]->sync_cred;
			pthread_mutex_unlock(&due[i]->lock);
			if (sess)
				client__report_length(cl, due[i], META_T_SYNC, &cr, sess, NULL);
			client__inode_put(cl, due[i]);
		}
		pthread_mutex_lock(&cl->rel_lock);
		first = cl->rel_first_ms;
		n = (int)cl->rel_n;
		pthread_mutex_unlock(&cl->rel_lock);
		if (n > 0 && (n >= META_RELEASE_MAX || c3_now_ms() - first >= CLIENT_RELEASE_DELAY_MS))
			client__release_flush(cl);
		pthread_mutex_lock(&cl->bg_lock);
		if (cl->bg_stop)
			break;
		/* sleep 1 s, or until the oldest deferred session end is due */
		pthread_mutex_lock(&cl->rel_lock);
		first = cl->rel_first_ms;
		n = (int)cl->rel_n;
		pthread_mutex_unlock(&cl->rel_lock);
		wait_ms = 1000;
		if (n >= META_RELEASE_MAX)
			wait_ms = 0;
		else if (n > 0)
			wait_ms = first + CLIENT_RELEASE_DELAY_MS > c3_now_ms()
					  ? first + CLIENT_RELEASE_DELAY_MS - c3_now_ms() : 0;
		if (wait_ms == 0)
			continue;
		ts = c3_deadline_after_ms(wait_ms);
		pthread_cond_timedwait(&cl->bg_cv, &cl->bg_lock, &ts);
	}
	pthread_mutex_unlock(&cl->bg_lock);
	return NULL;
}

/* ------------------------------------------------------------------ lifecycle */

/* The client's locks and condition variables: made by c3fs_client_new, undone by
 * c3fs_client_free (or c3fs_client_new's failure path). */
static void client_sync_init(struct c3fs_client *cl)
{
	pthread_mutex_init(&cl->chan_lock, NULL);
	pthread_cond_init(&cl->chan_cv, NULL);
	pthread_mutex_init(&cl->inodes_lock, NULL);
	pthread_mutex_init(&cl->bg_lock, NULL);
	pthread_cond_init(&cl->bg_cv, NULL);
	pthread_mutex_init(&cl->wq_lock, NULL);
	pthread_cond_init(&cl->wq_cv, NULL);
	pthread_mutex_init(&cl->rel_lock, NULL);
	pthread_mutex_init(&cl->dattr_lock, NULL);
	pthread_mutex_init(&cl->mh_lock, NULL);
}

static void client_sync_destroy(struct c3fs_client *cl)
{
	pthread_mutex_destroy(&cl->mh_lock);
	pthread_mutex_destroy(&cl->dattr_lock);
	pthread_mutex_destroy(&cl->rel_lock);
	pthread_cond_destroy(&cl->wq_cv);
	pthread_mutex_destroy(&cl->wq_lock);
	pthread_cond_destroy(&cl->bg_cv);
	pthread_mutex_destroy(&cl->bg_lock);
	pthread_mutex_destroy(&cl->inodes_lock);
	pthread_cond_destroy(&cl->chan_cv);
	pthread_mutex_destroy(&cl->chan_lock);
}

int c3fs_client_new(const struct c3fs_client_opts *opts, struct c3fs_client **out)
{
	struct cluster_client_opts co;
	struct rpc_client_opts ro;
	struct c3fs_client *cl;
	uint32_t i;
	int rc;

	*out = NULL;
	if (!opts || !opts->mgmtd_addrs || !opts->mgmtd_addrs[0])
		return -EINVAL;
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->opts = *opts;
	cl->opts.timeout_ms = client_default_u32(opts->timeout_ms, 10000);
	cl->opts.ready_timeout_ms = client_default_u32(opts->ready_timeout_ms, 10000);
	cl->opts.write_wait_ms = client_default_u32(opts->write_wait_ms, 60000);
	cl->opts.meta_wait_ms = client_default_u32(opts->meta_wait_ms, 60000);
	cl->opts.length_sync_ms = client_default_u32(opts->length_sync_ms, 30000);
	cl->opts.io_threads = opts->io_threads > 0 ? opts->io_threads : 2;
	cl->opts.conns_per_peer = opts->conns_per_peer > 0 ? opts->conns_per_peer : 2;
	cl->opts.write_behind_threads = opts->write_behind_threads > 0 ? opts->write_behind_threads : 8;
	if (cl->opts.write_behind_threads > 256)
		cl->opts.write_behind_threads = 256;
	cl->opts.write_behind_bytes = opts->write_behind_bytes ? opts->write_behind_bytes : (16u << 20);
	cl->session_timeout_ms = 30000;
	cl->mgmtd_addrs = strdup(opts->mgmtd_addrs);
	cl->token = strdup(opts->token ? opts->token : "");
	if (!cl->mgmtd_addrs || !cl->token) {
		rc = -ENOMEM;
		goto fail_strings;
	}
	if (opts->user_token && strlen(opts->user_token) >= RPC_USER_TOKEN_MAX) {
		rc = -EINVAL;
		goto fail_strings;
	}
	cl->opts.mgmtd_addrs = cl->mgmtd_addrs;
	cl->opts.token = cl->token;
	cl->opts.user_token = NULL; /* the rpc client keeps its own copy */
	while (cl->client_id == 0)
		if (getrandom(&cl->client_id, sizeof(cl->client_id), 0) != sizeof(cl->client_id)) {
			rc = -errno;
			goto fail_strings;
		}
	client_sync_init(cl);
	for (i = 0; i < CLIENT_CHANNELS; i++)
		cl->chan_free[i] = CLIENT_CHANNELS - i; /* channels 1..N */
	cl->chan_nfree = CLIENT_CHANNELS;

	memset(&ro, 0, sizeof(ro));
	ro.token = cl->token;
	ro.user_token = opts->user_token;
	ro.conns_per_peer = cl->opts.conns_per_peer;
	ro.io_threads = cl->opts.io_threads;
	rc = rpc_client_new(&ro, &cl->rpc);
	if (rc)
		goto fail_sync;
	memset(&co, 0, sizeof(co));
	co.mgmtd_addrs = cl->mgmtd_addrs;
	co.token = cl->token;
	co.node_type = NODE_CLIENT;
	co.node_addr = "";
	if (cl->opts.live_cfg_table && cl->opts.live_cfg_base && cl->opts.on_live_config) {
		co.cfg_table = cl->opts.live_cfg_table;
		co.cfg_base = cl->opts.live_cfg_base;
		co.cfg_size = cl->opts.live_cfg_size;
		co.on_config = cl->opts.on_live_config;
		co.arg = cl->opts.live_cfg_arg;
	}
	rc = cluster_client_new(&co, &cl->cc);
	if (rc)
		goto fail_rpc;
	rc = cluster_client_wait_ready(cl->cc, cl->opts.ready_timeout_ms);
	if (rc)
		goto fail_cc;
	rc = client__aio_start(cl);
	if (rc)
		goto fail_cc;
	if (pthread_create(&cl->bg, NULL, client_bg_main, cl) != 0) {
		rc = -EAGAIN;
		goto fail_aio;
	}
	cl->bg_started = true;
	cl->nworkers = cl->opts.write_behind_threads;
	cl->workers = calloc((size_t)cl->nworkers + 1, sizeof(pthread_t));
	for (i = 0; cl->workers && i < (uint32_t)cl->nworkers; i++)
		if (pthread_create(&cl->workers[i], NULL, client__wworker_main, cl) != 0)
			break;
	cl->nworkers = cl->workers ? (int)i : 0;
	*out = cl;
	return 0;

fail_aio:
	client__aio_stop(cl);
fail_cc:
	cluster_client_free(cl->cc);
fail_rpc:
	rpc_client_free(cl->rpc);
fail_sync:
	client_sync_destroy(cl);
fail_strings:
	free(cl->mgmtd_addrs);
	free(cl->token);
	free(cl);
	return rc;
}

int c3fs_client_reconfigure(struct c3fs_client *cl, const struct c3fs_client_opts *o)
{
	if (o->write_behind_bytes && o->write_behind_bytes < (1u << 20))
		return -EINVAL;
	if (o->write_wait_ms)
		__atomic_store_n(&cl->opts.write_wait_ms, o->write_wait_ms, __ATOMIC_RELAXED);
	if (o->meta_wait_ms)
		__atomic_store_n(&cl->opts.meta_wait_ms, o->meta_wait_ms, __ATOMIC_RELAXED);
	/* a writer waiting for room sees a new limit at its next wake-up (a completion of
	 * its inode's queue, or its timed wait's end) */
	if (o->write_behind_bytes)
		__atomic_store_n(&cl->opts.write_behind_bytes, o->write_behind_bytes,
				 __ATOMIC_RELAXED);
	return 0;
}

void c3fs_client_free(struct c3fs_client *cl)
{
	int i;

	if (!cl)
		return;
	if (cl->bg_started) {
		pthread_mutex_lock(&cl->bg_lock);
		cl->bg_stop = true;
		pthread_cond_signal(&cl->bg_cv);
		pthread_mutex_unlock(&cl->bg_lock);
		pthread_join(cl->bg, NULL);
	}
	client__release_flush(cl); /* sessions of handles closed since the last batch */
	pthread_mutex_lock(&cl->wq_lock);
	cl->wq_stop = true;
	pthread_cond_broadcast(&cl->wq_cv);
	pthread_mutex_unlock(&cl->wq_lock);
	for (i = 0; i < cl->nworkers; i++)
		pthread_join(cl->workers[i], NULL);
	free(cl->workers);
	client__aio_stop(cl); /* every aio context is freed: nothing is queued */
	cluster_client_free(cl->cc);
	rpc_client_free(cl->rpc);
	free(cl->rel);
	client_sync_destroy(cl);
	free(cl->mgmtd_addrs);
	free(cl->token);
	free(cl);
}
