/* server.c — the RPC server: listener, epoll I/O threads, worker pool, replies.
 *
 * Threads:
 *   io thread 0 .. n-1  each owns an epoll set, the connections assigned to it, and their
 *                       read state; thread 0 also accepts and deals new connections
 *                       round robin (through the target thread's pending list + eventfd).
 *   workers             pop requests from one FIFO queue and run their handlers.
 *   any thread          may call rpc_reply() (handlers may defer replies).
 *
 * Ownership: a struct srv_req is created by the io thread when a frame header arrives,
 * filled with payload and bulk, then handed to its handler; from then on it belongs to
 * whoever must call rpc_reply(), which writes the reply and frees it.  Every request holds
 * a reference on its connection, so a connection (and its descriptor number) outlives
 * every reply that may still be written to it; the descriptor is closed at the last
 * unref, never earlier.
 *
 * Invariants:
 *   - conn->dead is set (under send_mu) before the descriptor is shut down; a writer that
 *     sees dead drops its reply with -C3FS_EPEERCLOSED.
 *   - one writer at a time per connection (send_mu), a whole frame per critical section.
 *   - before authentication only RPC_T_AUTH is accepted, at most RPC_MAX_UNAUTH_FRAME bytes
 *     of payload+bulk, and the connection is closed after auth_timeout_ms.
 *   - admission: authenticated connections are limited by max_conns (checked at accept and
 *     again at authentication); unauthenticated ones have their own, smaller caps
 *     (max_unauth_conns per server, max_unauth_per_addr per source address).  A new
 *     connection over an unauthenticated cap is admitted and the oldest unauthenticated
 *     connection (of the same address when the address is over its cap) is shed, sparing
 *     ones whose first bytes already wait to be read: idle sockets held by a flood go
 *     first, and a real client, which sends AUTH right after connecting, gets in.
 *   - every unauthenticated connection is on srv->ulist (oldest first, guarded by umu)
 *     from accept until it authenticates or its io thread closes it; a thread holding umu
 *     may take a reference on a listed connection (it is alive while listed).  Io thread 0
 *     sheds and expires from that list by shutting the descriptor down; the owning io
 *     thread then sees EOF and closes the connection as usual.
 *   - srv->outstanding counts live requests; rpc_server_free waits for it to reach 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/check.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/metrics.h"
#include "net/codec.h"
#include "net/net_int.h"
#include "net/rpc.h"

#define SRV_EVENTS 64
#define SRV_ACCEPT_BATCH 64
#define SRV_IDLE_CHECK_MS 50
#define SRV_EXPIRE_BATCH 64
/* Flow control: a connection with this many requests (or bytes of payload+bulk) not yet
 * answered is not read any more until half of them are; TCP then pushes back on the
 * client.  Bounds the memory one connection can pin (plus one read buffer of frames). */
#define SRV_PAUSE_REQS 1024
#define SRV_PAUSE_BYTES (256ull << 20)

enum srv_rstate { SRV_RS_HDR, SRV_RS_PAYLOAD, SRV_RS_BULK };

struct srv_conn;

/* A request: the public part, then server bookkeeping, then the payload bytes. */
struct srv_req {
	struct rpc_req pub;
	struct srv_conn *conn;   /* referenced; released when the request is freed */
	struct srv_req *next;    /* worker queue link (srv->qmu) */
	void *bulk_mem;          /* srv->pool buffer behind pub.bulk, or NULL */
	uint64_t start_ns;       /* header arrival */
	uint64_t acct_bytes;     /* payload + bulk, counted in conn->pend_bytes */
	size_t bulk_cap;         /* its capacity */
	uint8_t payload[];
};

struct srv_handler {
	rpc_handler_fn fn;
	void *ctx;
	unsigned flags;
	struct c3_hist *latency;   /* arrival of the request to its reply, by type */
	struct c3_counter *errors; /* replies with a negative status, by type */
};

/* Process-wide server metrics (created once; see common/metrics.h). */
static struct {
	struct c3_counter *requests, *auth_failures, *protocol_errors, *refused, *expired,
		*bytes_in, *bytes_out, *paused, *unauth_shed, *auth_timeouts;
	struct c3_gauge *conns, *unauth;
} srv_m;
static pthread_once_t srv_m_once = PTHREAD_ONCE_INIT;

static void srv_metrics_init(void)
{
	srv_m.requests = c3_counter_get("c3fs_rpc_server_requests_total", NULL,
					"RPC requests received (all types)");
	srv_m.auth_failures = c3_counter_get("c3fs_rpc_server_auth_failures_total", NULL,
					     "connections refused for a missing or wrong token");
	srv_m.protocol_errors = c3_counter_get("c3fs_rpc_server_protocol_errors_total", NULL,
					       "connections closed for a malformed frame");
	srv_m.refused = c3_counter_get("c3fs_rpc_server_refused_total", NULL,
				       "connections refused (max_conns authenticated, no descriptors)");
	srv_m.expired = c3_counter_get("c3fs_rpc_server_expired_total", NULL,
				       "requests dropped because their deadline passed in the queue");
	srv_m.bytes_in = c3_counter_get("c3fs_rpc_server_received_bytes_total", NULL,
					"payload and bulk bytes received");
	srv_m.bytes_out = c3_counter_get("c3fs_rpc_server_sent_bytes_total", NULL,
					 "payload and bulk bytes sent in replies");
	srv_m.paused = c3_counter_get("c3fs_rpc_server_flow_pauses_total", NULL,
				      "times a connection stopped being read (too much unanswered)");
	srv_m.conns = c3_gauge_get("c3fs_rpc_server_connections", NULL,
				   "open server connections");
	srv_m.unauth = c3_gauge_get("c3fs_rpc_server_unauth_connections", NULL,
				    "server connections not yet authenticated");
	srv_m.unauth_shed = c3_counter_get("c3fs_rpc_server_unauth_shed_total", NULL,
					   "unauthenticated connections closed to admit a newer one "
					   "(max_unauth_conns, max_unauth_per_addr)");
	srv_m.auth_timeouts = c3_counter_get("c3fs_rpc_server_auth_timeouts_total", NULL,
					     "connections closed for not authenticating within "
					     "auth_timeout_ms");
}

static const char *(*_Atomic srv_type_namer)(uint16_t type);

void rpc_set_type_namer(const char *(*name_of)(uint16_t type))
{
	atomic_store(&srv_type_namer, name_of);
}

static void srv_handler_metrics(struct srv_handler *h, uint16_t type)
{
	const char *(*name_of)(uint16_t) = atomic_load(&srv_type_namer);
	char labels[96];

	if (name_of)
		snprintf(labels, sizeof(labels), "type=\"%u\",name=\"%.48s\"", (unsigned)type,
			 name_of(type));
	else
		snprintf(labels, sizeof(labels), "type=\"%u\"", (unsigned)type);
	h->latency = c3_hist_get("c3fs_rpc_server_request_seconds", labels,
				 "time from request arrival to reply, by message type");
	h->errors = c3_counter_get("c3fs_rpc_server_errors_total", labels,
				   "replies with an error status, by message type");
}

struct srv_io;

/* One accepted connection. */
struct srv_conn {
	struct rpc_server *srv;
	struct srv_io *io;
	int fd;
	atomic_int refs;
	pthread_mutex_t send_mu;   /* serializes writers; guards dead */
	bool dead;
	atomic_long pend_reqs;     /* requests created and not yet freed */
	atomic_ullong pend_bytes;  /* their payload + bulk bytes */
	atomic_bool paused;        /* EPOLLIN off for flow control (see srv_conn_flow) */
	/* guarded by srv->umu */
	bool ulisted;              /* on srv->ulist (not authenticated, not shed/expired) */
	struct srv_conn *uprev, *unext;
	/* owned by the io thread */
	bool authed;
	bool in_epoll;
	uint64_t accepted_ns;
	uint8_t *rbuf;
	size_t rpos, rlen;
	enum srv_rstate rstate;
	struct rpc_frame fr;
	struct srv_req *cur;
	size_t got;
	struct srv_conn *prev, *next;  /* io->conns, or io->pending (next only) */
	char peer[48];
	char addr[48];             /* peer without the port (per-address cap); immutable */
	/* the user token of the first RPC_T_AUTH frame: written by the io thread before
	 * any request of the connection exists, read-only afterwards */
	char user_token[RPC_USER_TOKEN_MAX];
	_Atomic uint64_t slot;     /* rpc_req_conn_slot: any handler thread */
};

/* An extra descriptor watched by one io thread (rpc_io_watch). */
struct srv_watch {
	int fd;
	void (*on_ready)(void *arg);
	void (*on_stop)(void *arg);
	void *arg;
};

#define SRV_WATCH_MAX 4

struct srv_io {
	struct rpc_server *srv;
	int idx;
	struct net_loop lp;
	struct srv_watch watch[SRV_WATCH_MAX]; /* io thread only */
	int nwatch;
	pthread_mutex_t mu;          /* guards pending */
	struct srv_conn *pending;    /* accepted, not yet in this thread's epoll set */
	struct srv_conn *conns;      /* io thread only (and rpc_server_free after join) */
	uint64_t next_idle_check_ns; /* io thread 0 only */
};

struct rpc_server {
	const struct net_transport *tr;
	int lfd;
	int spare_fd;                /* kept open to recover from EMFILE at accept */
	int port;
	char *token;
	size_t token_len;
	int nio, nworkers, max_conns, max_unauth, max_unauth_per_addr;
	uint32_t max_payload, max_bulk, auth_timeout_ms;
	atomic_int nauthed;          /* authenticated connections not yet closed */
	pthread_mutex_t umu;         /* guards ulist, nunauth and every conn's u* fields */
	struct srv_conn *uhead, *utail; /* unauthenticated connections, oldest first */
	atomic_int nunauth;          /* length of ulist (read without umu by io thread 0) */
	struct srv_handler handlers[RPC_TYPE_MAX + 1];
	struct srv_io *ios;
	unsigned accept_rr;          /* io thread 0 only */
	pthread_t *workers;
	int workers_started;
	pthread_mutex_t qmu;         /* guards the queue and qstop */
	pthread_cond_t qcv;
	struct srv_req *qhead, *qtail;
	bool qstop;
	int qidle;                   /* workers waiting on qcv */
	atomic_bool stopping;
	atomic_int nconns;
	pthread_mutex_t omu;         /* guards outstanding */
	pthread_cond_t ocv;
	long outstanding;
	bool started;
	struct net_bufpool pool;     /* request bulk buffers */
	_Atomic uint64_t log_accept_ns, log_busy_ns, log_proto_ns, log_idle_ns, log_shed_ns;
};

/* True on the server's io threads: a reply written there blocks every connection of
 * the thread, so a peer that does not read its replies gets less patience. */
static __thread bool srv_tls_on_io;
static __thread struct srv_io *srv_tls_io; /* the io thread's own, on io threads */

/* ------------------------------------------------------------------ requests */

static struct srv_req *srv_req_new(struct srv_conn *c, uint32_t payload_len,
				   uint32_t bulk_len)
{
	struct rpc_server *srv = c->srv;
	struct srv_req *r = malloc(sizeof(*r) + payload_len);

	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->conn = c;
	r->acct_bytes = (uint64_t)payload_len + bulk_len;
	atomic_fetch_add(&c->pend_reqs, 1);
	atomic_fetch_add(&c->pend_bytes, r->acct_bytes);
	atomic_fetch_add(&c->refs, 1);
	r->pub.server_private = r;
	memcpy(r->pub.peer, c->peer, sizeof(r->pub.peer));
	pthread_mutex_lock(&srv->omu);
	srv->outstanding++;
	pthread_mutex_unlock(&srv->omu);
	return r;
}

static void srv_conn_unref(struct srv_conn *c);

static bool srv_conn_below_low(struct srv_conn *c)
{
	return atomic_load(&c->pend_reqs) <= SRV_PAUSE_REQS / 2 &&
	       atomic_load(&c->pend_bytes) <= SRV_PAUSE_BYTES / 2;
}

/* Turn reading back on (any thread; the descriptor is still open: we hold a ref). */
static void srv_conn_resume(struct srv_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };

	if (atomic_exchange(&c->paused, false))
		(void)epoll_ctl(c->io->lp.epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void srv_req_free(struct srv_req *r)
{
	struct rpc_server *srv = r->conn->srv;
	struct srv_conn *c = r->conn;

	atomic_fetch_sub(&c->pend_reqs, 1);
	atomic_fetch_sub(&c->pend_bytes, r->acct_bytes);
	if (atomic_load(&c->paused) && srv_conn_below_low(c))
		srv_conn_resume(c);
	srv_conn_unref(r->conn);
	net__bufpool_put(&srv->pool, r->bulk_mem, r->bulk_cap);
	free(r);
	pthread_mutex_lock(&srv->omu);
	if (--srv->outstanding == 0)
		pthread_cond_broadcast(&srv->ocv);
	pthread_mutex_unlock(&srv->omu);
}

/* ------------------------------------------------------------------ connections */

static void srv_conn_unref(struct srv_conn *c)
{
	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	c->srv->tr->close(c->fd);
	atomic_fetch_sub(&c->srv->nconns, 1);
	c3_gauge_add(srv_m.conns, -1);
	pthread_mutex_destroy(&c->send_mu);
	free(c->rbuf);
	free(c);
}

/* Mark dead and shut the descriptor down (any thread).  Idempotent. */
static void srv_conn_kill(struct srv_conn *c)
{
	pthread_mutex_lock(&c->send_mu);
	if (!c->dead) {
		c->dead = true;
		c->srv->tr->shutdown(c->fd);
	}
	pthread_mutex_unlock(&c->send_mu);
}

/* Best-effort connection-level error frame before a close (short deadline). */
static void srv_conn_send_error(struct srv_conn *c, uint16_t type, uint64_t id, int status)
{
	uint8_t hdr[RPC_HEADER_BYTES];
	struct iovec iov = { hdr, sizeof(hdr) };

	net__error_frame(hdr, type, id, status);
	pthread_mutex_lock(&c->send_mu);
	if (!c->dead)
		(void)net__writev_all(c->srv->tr, c->fd, &iov, 1, c3_now_ns() + 200000000ull);
	pthread_mutex_unlock(&c->send_mu);
}

/* ------------------------------------------------------------------ unauthenticated */

/* umu held: take c off ulist (no-op when it is not listed). */
static void srv_ulist_remove(struct rpc_server *srv, struct srv_conn *c)
{
	if (!c->ulisted)
		return;
	if (c->uprev)
		c->uprev->unext = c->unext;
	else
		srv->uhead = c->unext;
	if (c->unext)
		c->unext->uprev = c->uprev;
	else
		srv->utail = c->uprev;
	c->uprev = c->unext = NULL;
	c->ulisted = false;
	atomic_fetch_sub(&srv->nunauth, 1);
	c3_gauge_add(srv_m.unauth, -1);
}

static void srv_ulist_forget(struct rpc_server *srv, struct srv_conn *c)
{
	pthread_mutex_lock(&srv->umu);
	srv_ulist_remove(srv, c);
	pthread_mutex_unlock(&srv->umu);
}

/* Close a connection another thread may own: tell the peer why, shut the descriptor down
 * (its io thread sees EOF and closes it) and drop the reference the caller took. */
static void srv_conn_evict(struct srv_conn *c, int status)
{
	srv_conn_send_error(c, 0, 0, status);
	srv_conn_kill(c);
	srv_conn_unref(c);
}

/* True when bytes from the peer wait in the socket, not yet read by the io thread. */
static bool srv_conn_has_input(const struct srv_conn *c)
{
	int n = 0;

	return ioctl(c->fd, FIONREAD, &n) == 0 && n > 0;
}

/* Io thread 0, at accept: put c on ulist, first shedding the oldest unauthenticated
 * connection of c's address when that address is at max_unauth_per_addr, else the oldest
 * of all when the server is at max_unauth_conns. */
static void srv_ulist_admit(struct rpc_server *srv, struct srv_conn *c)
{
	struct srv_conn *victim = NULL, *u;
	int same = 0;
	bool by_addr;

	pthread_mutex_lock(&srv->umu);
	for (u = srv->uhead; u; u = u->unext)
		same += strcmp(u->addr, c->addr) == 0;
	by_addr = same >= srv->max_unauth_per_addr;
	if (by_addr || atomic_load(&srv->nunauth) >= srv->max_unauth) {
		struct srv_conn *oldest = NULL;

		/* oldest first, but spare one whose first bytes (its AUTH frame, most likely)
		 * are already waiting to be read: it is about to authenticate */
		for (u = srv->uhead; u; u = u->unext) {
			if (by_addr && strcmp(u->addr, c->addr) != 0)
				continue;
			if (!oldest)
				oldest = u;
			if (!srv_conn_has_input(u)) {
				victim = u;
				break;
			}
		}
		if (!victim)
			victim = oldest;
	}
	if (victim) {
		srv_ulist_remove(srv, victim);
		atomic_fetch_add(&victim->refs, 1);
	}
	c->ulisted = true;
	c->uprev = srv->utail;
	c->unext = NULL;
	if (srv->utail)
		srv->utail->unext = c;
	else
		srv->uhead = c;
	srv->utail = c;
	atomic_fetch_add(&srv->nunauth, 1);
	c3_gauge_add(srv_m.unauth, 1);
	pthread_mutex_unlock(&srv->umu);
	if (!victim)
		return;
	c3_counter_add(srv_m.unauth_shed, 1);
	if (net__ratelimit(&srv->log_shed_ns, 1000000000ull))
		LOG_WARN("rpc: %s: too many unauthenticated connections (%s); closing the oldest, "
			 "%s (further ones this second not logged)",
			 c->peer, by_addr ? "max_unauth_per_addr" : "max_unauth_conns",
			 victim->peer);
	srv_conn_evict(victim, -C3FS_EBUSY);
}

/* Io thread 0: close the connections that did not authenticate within auth_timeout_ms
 * (ulist is oldest first, so they are at its head). */
static void srv_ulist_expire(struct rpc_server *srv, uint64_t now)
{
	uint64_t limit = (uint64_t)srv->auth_timeout_ms * 1000000ull;

	for (;;) {
		struct srv_conn *batch[SRV_EXPIRE_BATCH];
		int n = 0;

		pthread_mutex_lock(&srv->umu);
		while (n < SRV_EXPIRE_BATCH && srv->uhead &&
		       now - srv->uhead->accepted_ns > limit) {
			struct srv_conn *c = srv->uhead;

			srv_ulist_remove(srv, c);
			atomic_fetch_add(&c->refs, 1);
			batch[n++] = c;
		}
		pthread_mutex_unlock(&srv->umu);
		if (n == 0)
			return;
		c3_counter_add(srv_m.auth_timeouts, (uint64_t)n);
		if (net__ratelimit(&srv->log_idle_ns, 1000000000ull))
			LOG_INFO("rpc: %s did not authenticate within %u ms; closing "
				 "(further ones this second not logged)",
				 batch[0]->peer, srv->auth_timeout_ms);
		for (int i = 0; i < n; i++)
			srv_conn_evict(batch[i], -C3FS_EAUTH);
	}
}

/* io thread: take c out of service and drop the io thread's reference. */
static void srv_conn_close(struct srv_conn *c)
{
	struct srv_io *io = c->io;

	if (c->in_epoll)
		(void)epoll_ctl(io->lp.epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->in_epoll = false;
	srv_conn_kill(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		io->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	if (c->authed)
		atomic_fetch_sub(&c->srv->nauthed, 1);
	else
		srv_ulist_forget(c->srv, c);
	if (c->cur) {
		struct srv_req *r = c->cur;

		c->cur = NULL;
		srv_req_free(r);
	}
	srv_conn_unref(c);
}

/* Protocol violation: log (rate-limited), tell the peer why, close. */
static void srv_conn_reject(struct srv_conn *c, uint16_t type, uint64_t id, int status,
			    const char *why)
{
	if (status == -C3FS_EAUTH)
		c3_counter_add(srv_m.auth_failures, 1);
	else
		c3_counter_add(srv_m.protocol_errors, 1);
	if (status == -C3FS_EAUTH)
		LOG_WARN("rpc: refusing %s: %s", c->peer, why);
	else if (net__ratelimit(&c->srv->log_proto_ns, 1000000000ull))
		LOG_WARN("rpc: closing %s: %s (%s)", c->peer, why, c3_strerror(status));
	srv_conn_send_error(c, type, id, status);
	srv_conn_close(c);
}

/* ------------------------------------------------------------------ replies */

int rpc_reply(struct rpc_req *req, int status, const void *payload, size_t payload_len,
	      const struct iovec *bulk, int nbulk)
{
	struct srv_req *r = req->server_private;
	struct srv_conn *c = r->conn;
	struct iovec iov[2 + NET_MAX_BULK_IOV];
	uint8_t hdr[RPC_HEADER_BYTES];
	struct rpc_frame f;
	uint64_t bulk_len = 0;
	int n = 0, rc;

	if (status > 0) {
		status = C3_INTERNAL("rpc: handler for type %u replied with positive status %d",
				     (unsigned)req->type, status);
	}
	if (nbulk < 0 || nbulk > NET_MAX_BULK_IOV || (nbulk > 0 && !bulk))
		goto too_big;
	for (int i = 0; i < nbulk; i++)
		bulk_len += bulk[i].iov_len;
	if (payload_len > UINT32_MAX || bulk_len > UINT32_MAX || (payload_len && !payload))
		goto too_big;
	goto build;
too_big:
	LOG_ERROR("rpc: handler for type %u gave an invalid reply (payload %zu, nbulk %d)",
		  (unsigned)req->type, payload_len, nbulk);
	status = -C3FS_ETOOBIG;
	payload_len = 0;
	nbulk = 0;
	bulk_len = 0;
build:
	memset(&f, 0, sizeof(f));
	f.version = RPC_PROTO_VERSION;
	f.flags = RPC_FLAG_RESPONSE;
	f.type = req->type;
	f.id = req->id;
	f.payload_len = (uint32_t)payload_len;
	f.bulk_len = (uint32_t)bulk_len;
	f.status = status;
	rpc_frame_encode(&f, hdr);
	iov[n].iov_base = hdr;
	iov[n++].iov_len = sizeof(hdr);
	if (payload_len) {
		iov[n].iov_base = (void *)payload;
		iov[n++].iov_len = payload_len;
	}
	for (int i = 0; i < nbulk; i++)
		if (bulk[i].iov_len)
			iov[n++] = bulk[i];
	pthread_mutex_lock(&c->send_mu);
	if (c->dead) {
		rc = -C3FS_EPEERCLOSED;
	} else {
		rc = net__writev_all(c->srv->tr, c->fd, iov, n,
				     c3_now_ns() + (srv_tls_on_io ? NET_SEND_STALL_IO_MS
								   : NET_SEND_STALL_MS) *
							     1000000ull);
		if (rc < 0) {
			c->dead = true;
			c->srv->tr->shutdown(c->fd);
			rc = rc == -C3FS_ETIMEDOUT ? rc : -C3FS_EPEERCLOSED;
		}
	}
	pthread_mutex_unlock(&c->send_mu);
	if (req->type <= RPC_TYPE_MAX && c->srv->handlers[req->type].latency) {
		const struct srv_handler *h = &c->srv->handlers[req->type];

		c3_hist_observe_ns(h->latency, c3_now_ns() - r->start_ns);
		if (status < 0)
			c3_counter_add(h->errors, 1);
	}
	c3_counter_add(srv_m.bytes_out, payload_len + bulk_len);
	srv_req_free(r);
	return rc;
}

int rpc_reply_buf(struct rpc_req *req, int status, const struct c3_buf *buf)
{
	if (buf && buf->err)
		return rpc_reply(req, buf->err, NULL, 0, NULL, 0);
	return rpc_reply(req, status, buf ? buf->data : NULL, buf ? buf->len : 0, NULL, 0);
}

/* ------------------------------------------------------------------ dispatch */

static void srv_ping(struct rpc_req *req, void *ctx)
{
	(void)ctx;
	rpc_reply(req, 0, NULL, 0, NULL, 0);
}

static void srv_echo(struct rpc_req *req, void *ctx)
{
	struct iovec iov = { req->bulk, req->bulk_len };

	(void)ctx;
	rpc_reply(req, 0, req->payload, req->payload_len, &iov, req->bulk_len ? 1 : 0);
}

/* Constant-time comparison of the presented token with ours (length leaks, content not). */
static bool srv_token_ok(const struct rpc_server *srv, const uint8_t *p, size_t n)
{
	unsigned diff;

	if (srv->token_len == 0)
		return true;
	diff = (unsigned)(n != srv->token_len);
	for (size_t i = 0; i < srv->token_len; i++)
		diff |= (unsigned)(srv->token[i] ^ (i < n ? p[i] : 0));
	return diff == 0;
}

const char *rpc_req_user_token(const struct rpc_req *req)
{
	const struct srv_req *r = req->server_private;

	return r->conn->user_token;
}

uint64_t rpc_req_conn_slot(const struct rpc_req *req)
{
	const struct srv_req *r = req->server_private;

	return atomic_load(&r->conn->slot);
}

void rpc_req_set_conn_slot(struct rpc_req *req, uint64_t value)
{
	struct srv_req *r = req->server_private;

	atomic_store(&r->conn->slot, value);
}

static void srv_enqueue(struct rpc_server *srv, struct srv_req *r);

/* io thread: a whole request has arrived.  Returns false when c was closed. */
static bool srv_dispatch(struct srv_conn *c, struct srv_req *r)
{
	struct rpc_server *srv = c->srv;
	const struct srv_handler *h;

	c->cur = NULL;
	c->rstate = SRV_RS_HDR;
	if (r->pub.type == RPC_T_AUTH) {
		struct c3_dec d;
		const uint8_t *tok;
		size_t toklen;

		char user[RPC_USER_TOKEN_MAX] = "";

		c3_dec_init(&d, r->pub.payload, r->pub.payload_len);
		tok = c3_dec_bytes(&d, 4096, &toklen);
		if (c3_dec_left(&d)) /* appended: the user token (rpc_client_opts.user_token) */
			c3_dec_str(&d, user, sizeof(user));
		if (c3_dec_finish(&d) != 0 || !srv_token_ok(srv, tok, toklen)) {
			c3_counter_add(srv_m.auth_failures, 1);
			LOG_WARN("rpc: authentication failed from %s: %s", c->peer,
				 d.err ? "malformed auth frame" : "wrong cluster token");
			rpc_reply(&r->pub, -C3FS_EAUTH, NULL, 0, NULL, 0);
			srv_conn_close(c);
			return false;
		}
		if (!c->authed) {
			if (atomic_fetch_add(&srv->nauthed, 1) >= srv->max_conns) {
				atomic_fetch_sub(&srv->nauthed, 1);
				c3_counter_add(srv_m.refused, 1);
				if (net__ratelimit(&srv->log_busy_ns, 1000000000ull))
					LOG_WARN("rpc: max_conns (%d) authenticated connections; "
						 "refusing %s",
						 srv->max_conns, c->peer);
				rpc_reply(&r->pub, -C3FS_EBUSY, NULL, 0, NULL, 0);
				srv_conn_close(c);
				return false;
			}
			c->authed = true;
			memcpy(c->user_token, user, sizeof(user));
			srv_ulist_forget(srv, c);
		}
		rpc_reply(&r->pub, 0, NULL, 0, NULL, 0);
		return true;
	}
	h = r->pub.type <= RPC_TYPE_MAX ? &srv->handlers[r->pub.type] : NULL;
	if (!h || !h->fn) {
		rpc_reply(&r->pub, -C3FS_EUNKNOWNTYPE, NULL, 0, NULL, 0);
		return true;
	}
	if (h->flags & RPC_HANDLER_INLINE) {
		r->pub.on_io_thread = true;
		c3_log_set_reqid(r->pub.id);
		h->fn(&r->pub, h->ctx);
		c3_log_set_reqid(0);
		return true;
	}
	srv_enqueue(srv, r);
	return true;
}

void rpc_req_defer(struct rpc_req *req)
{
	struct srv_req *r = req->server_private;

	r->pub.on_io_thread = false;
	srv_enqueue(r->conn->srv, r);
}

/* Queue r for a worker. */
static void srv_enqueue(struct rpc_server *srv, struct srv_req *r)
{
	bool wake;

	pthread_mutex_lock(&srv->qmu);
	r->next = NULL;
	if (srv->qtail)
		srv->qtail->next = r;
	else
		srv->qhead = r;
	srv->qtail = r;
	wake = srv->qidle > 0;
	pthread_mutex_unlock(&srv->qmu);
	/* outside the lock, so the woken worker does not block on it; skipped when every
	 * worker is busy (one of them takes the request when it finishes) */
	if (wake)
		pthread_cond_signal(&srv->qcv);
}

/* io thread: parse what the read buffer holds.  Returns false when c was closed. */
static bool srv_conn_parse(struct srv_conn *c)
{
	struct rpc_server *srv = c->srv;

	for (;;) {
		struct srv_req *r;
		size_t avail = c->rlen - c->rpos, take;
		int rc;

		switch (c->rstate) {
		case SRV_RS_HDR:
			if (avail < RPC_HEADER_BYTES)
				return true;
			rc = rpc_frame_decode(c->rbuf + c->rpos, avail, srv->max_payload,
					      srv->max_bulk, &c->fr);
			if (rc == -C3FS_EBADFRAME || rc == -C3FS_EVERSION) {
				srv_conn_reject(c, 0, 0, rc, "bad frame header");
				return false;
			}
			if (rc < 0) {
				srv_conn_reject(c, c->fr.type, c->fr.id, rc, "frame too large");
				return false;
			}
			if (c->fr.flags & RPC_FLAG_RESPONSE) {
				srv_conn_reject(c, 0, 0, -C3FS_EBADFRAME, "response frame sent to a server");
				return false;
			}
			if (!c->authed && c->fr.type != RPC_T_AUTH) {
				srv_conn_reject(c, c->fr.type, c->fr.id, -C3FS_EAUTH,
						"first frame is not RPC_T_AUTH");
				return false;
			}
			if (!c->authed && (uint64_t)c->fr.payload_len + c->fr.bulk_len >
						  RPC_MAX_UNAUTH_FRAME) {
				srv_conn_reject(c, c->fr.type, c->fr.id, -C3FS_EAUTH,
						"unauthenticated frame over 16 KiB");
				return false;
			}
			c->rpos += RPC_HEADER_BYTES;
			r = srv_req_new(c, c->fr.payload_len, c->fr.bulk_len);
			if (!r) {
				srv_conn_reject(c, c->fr.type, c->fr.id, -ENOMEM, "out of memory");
				return false;
			}
			r->pub.type = c->fr.type;
			r->pub.id = c->fr.id;
			r->pub.payload = r->payload;
			r->pub.payload_len = c->fr.payload_len;
			r->start_ns = c3_now_ns();
			c3_counter_add(srv_m.requests, 1);
			c3_counter_add(srv_m.bytes_in,
				       (uint64_t)c->fr.payload_len + c->fr.bulk_len);
			r->pub.deadline_ns = c->fr.timeout_ms
						     ? c3_now_ns() + (uint64_t)c->fr.timeout_ms * 1000000ull
						     : UINT64_MAX;
			c->cur = r;
			c->got = 0;
			c->rstate = SRV_RS_PAYLOAD;
			break;
		case SRV_RS_PAYLOAD:
			r = c->cur;
			take = r->pub.payload_len - c->got;
			if (take > avail)
				take = avail;
			memcpy(r->payload + c->got, c->rbuf + c->rpos, take);
			c->got += take;
			c->rpos += take;
			if (c->got < r->pub.payload_len)
				return true;
			if (c->fr.bulk_len == 0) {
				if (!srv_dispatch(c, r))
					return false;
				break;
			}
			r->bulk_mem = net__bufpool_get(&srv->pool, c->fr.bulk_len, &r->bulk_cap);
			if (!r->bulk_mem) {
				srv_conn_reject(c, c->fr.type, c->fr.id, -ENOMEM, "out of memory");
				return false;
			}
			r->pub.bulk = r->bulk_mem;
			r->pub.bulk_len = c->fr.bulk_len;
			c->got = 0;
			c->rstate = SRV_RS_BULK;
			break;
		case SRV_RS_BULK:
			r = c->cur;
			take = r->pub.bulk_len - c->got;
			if (take > avail)
				take = avail;
			memcpy(r->pub.bulk + c->got, c->rbuf + c->rpos, take);
			c->got += take;
			c->rpos += take;
			if (c->got < r->pub.bulk_len)
				return true;
			if (!srv_dispatch(c, r))
				return false;
			break;
		}
	}
}

/* io thread: stop reading c while too much of it is unanswered.  Order matters: reading
 * is disabled before paused is published, and the counts are checked again after, so a
 * reply that finished meanwhile cannot leave the connection paused forever.  Returns true
 * when c is (still) paused. */
static bool srv_conn_flow(struct srv_conn *c)
{
	struct epoll_event ev = { .events = 0, .data.ptr = c };

	if (atomic_load(&c->pend_reqs) < SRV_PAUSE_REQS &&
	    atomic_load(&c->pend_bytes) < SRV_PAUSE_BYTES)
		return false;
	if (epoll_ctl(c->io->lp.epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		return false;
	c3_counter_add(srv_m.paused, 1);
	atomic_store(&c->paused, true);
	if (srv_conn_below_low(c)) {
		srv_conn_resume(c);
		return false;
	}
	return true;
}

/* io thread: the descriptor is readable (or hung up). */
static void srv_conn_on_event(struct srv_conn *c, uint32_t events)
{
	if (atomic_load(&c->paused)) {
		/* only errors and hang-ups are reported while paused */
		if (events & (EPOLLERR | EPOLLHUP))
			srv_conn_close(c);
		return;
	}
	for (int round = 0; round < 8; round++) {
		struct iovec iov[2];
		size_t want = 0, direct = 0;
		int niov = 0;
		ssize_t n;

		if (c->rstate == SRV_RS_PAYLOAD && c->rpos == c->rlen) {
			iov[0].iov_base = c->cur->payload + c->got;
			iov[0].iov_len = c->cur->pub.payload_len - c->got;
			niov = 1;
		} else if (c->rstate == SRV_RS_BULK && c->rpos == c->rlen) {
			iov[0].iov_base = c->cur->pub.bulk + c->got;
			iov[0].iov_len = c->cur->pub.bulk_len - c->got;
			niov = 1;
		}
		if (niov)
			direct = iov[0].iov_len;
		if (c->rpos == c->rlen) {
			c->rpos = c->rlen = 0;
		} else if (c->rpos > 0 && NET_RBUF_BYTES - c->rlen < RPC_HEADER_BYTES) {
			memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
			c->rlen -= c->rpos;
			c->rpos = 0;
		}
		iov[niov].iov_base = c->rbuf + c->rlen;
		iov[niov++].iov_len = net__rbuf_window(c->rlen);
		for (int i = 0; i < niov; i++)
			want += iov[i].iov_len;
		n = c->srv->tr->readv(c->fd, iov, niov);
		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			if (n < 0 || c->cur || c->rpos != c->rlen)
				LOG_DEBUG("rpc: %s closed %s", c->peer,
					  n < 0 ? "with an error" : "mid-frame");
			srv_conn_close(c);
			return;
		}
		if ((size_t)n <= direct) {
			c->got += (size_t)n;
		} else {
			c->got += direct;
			c->rlen += (size_t)n - direct;
		}
		if (!srv_conn_parse(c))
			return;
		if (srv_conn_flow(c))
			return; /* paused: no more reads until replies catch up */
		if ((size_t)n < want)
			return; /* drained: wait for the next readiness event */
	}
}

/* ------------------------------------------------------------------ accept */

static void srv_io_adopt(struct srv_io *io, struct srv_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };

	c->io = io;
	c->next = io->conns;
	c->prev = NULL;
	if (io->conns)
		io->conns->prev = c;
	io->conns = c;
	if (epoll_ctl(io->lp.epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		LOG_ERROR("rpc: epoll_ctl add: %s", strerror(errno));
		srv_conn_close(c);
		return;
	}
	c->in_epoll = true;
}

static void srv_accept(struct rpc_server *srv)
{
	for (int i = 0; i < SRV_ACCEPT_BATCH; i++) {
		char peer[48];
		struct srv_conn *c;
		struct srv_io *io;
		int fd = srv->tr->accept(srv->lfd, peer, sizeof(peer));

		if (fd == -EAGAIN)
			return;
		if (fd == -EMFILE || fd == -ENFILE) {
			/* out of descriptors: accept with the spare one and close, so the
			 * peer sees a close instead of hanging in the backlog */
			if (net__ratelimit(&srv->log_accept_ns, 1000000000ull))
				LOG_WARN("rpc: accept: %s; shedding connections", strerror(-fd));
			if (srv->spare_fd >= 0) {
				close(srv->spare_fd);
				fd = srv->tr->accept(srv->lfd, peer, sizeof(peer));
				if (fd >= 0)
					srv->tr->close(fd);
				c3_counter_add(srv_m.refused, 1);
				srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			}
			return;
		}
		if (fd < 0) {
			if (net__ratelimit(&srv->log_accept_ns, 1000000000ull))
				LOG_WARN("rpc: accept: %s", strerror(-fd));
			return;
		}
		if (atomic_load(&srv->nauthed) >= srv->max_conns) {
			uint8_t hdr[RPC_HEADER_BYTES];
			struct iovec iov = { hdr, sizeof(hdr) };

			if (net__ratelimit(&srv->log_busy_ns, 1000000000ull))
				LOG_WARN("rpc: max_conns (%d) authenticated connections; refusing %s",
					 srv->max_conns, peer);
			c3_counter_add(srv_m.refused, 1);
			net__error_frame(hdr, 0, 0, -C3FS_EBUSY);
			(void)srv->tr->writev(fd, &iov, 1); /* best effort, never blocks */
			srv->tr->close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c)
			c->rbuf = malloc(NET_RBUF_BYTES);
		if (!c || !c->rbuf) {
			free(c);
			srv->tr->close(fd);
			continue;
		}
		c->srv = srv;
		c->fd = fd;
		atomic_init(&c->refs, 1);
		pthread_mutex_init(&c->send_mu, NULL);
		c->accepted_ns = c3_now_ns();
		memcpy(c->peer, peer, sizeof(c->peer));
		memcpy(c->addr, peer, sizeof(c->addr));
		if (strrchr(c->addr, ':'))
			*strrchr(c->addr, ':') = '\0';
		atomic_fetch_add(&srv->nconns, 1);
		c3_gauge_add(srv_m.conns, 1);
		srv_ulist_admit(srv, c);
		io = &srv->ios[srv->accept_rr++ % (unsigned)srv->nio];
		if (io->idx == 0) {
			srv_io_adopt(io, c);
			continue;
		}
		pthread_mutex_lock(&io->mu);
		c->next = io->pending;
		io->pending = c;
		pthread_mutex_unlock(&io->mu);
		net__loop_wake(&io->lp);
	}
}

static void *srv_io_main(void *arg)
{
	struct srv_io *io = arg;
	struct rpc_server *srv = io->srv;
	struct epoll_event ev[SRV_EVENTS];

	srv_tls_on_io = true;
	srv_tls_io = io;
	while (!atomic_load(&srv->stopping)) {
		int n, timeout = io->idx == 0 && atomic_load(&srv->nunauth) ? SRV_IDLE_CHECK_MS
									      : -1;

		n = epoll_wait(io->lp.epfd, ev, SRV_EVENTS, timeout);
		if (n < 0 && errno != EINTR) {
			LOG_ERROR("rpc: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;

			if (p == &io->lp.wakefd) {
				struct srv_conn *c, *next;
				eventfd_t v;

				(void)eventfd_read(io->lp.wakefd, &v);
				pthread_mutex_lock(&io->mu);
				c = io->pending;
				io->pending = NULL;
				pthread_mutex_unlock(&io->mu);
				for (; c; c = next) {
					next = c->next;
					srv_io_adopt(io, c);
				}
			} else if (p == &srv->lfd) {
				srv_accept(srv);
			} else if ((struct srv_watch *)p >= io->watch &&
				   (struct srv_watch *)p < io->watch + SRV_WATCH_MAX) {
				struct srv_watch *w = p;

				w->on_ready(w->arg);
			} else {
				srv_conn_on_event(p, ev[i].events);
			}
		}
		if (io->idx == 0 && atomic_load(&srv->nunauth)) {
			uint64_t now = c3_now_ns();

			if (now >= io->next_idle_check_ns) {
				io->next_idle_check_ns = now + SRV_IDLE_CHECK_MS * 1000000ull;
				srv_ulist_expire(srv, now);
			}
		}
	}
	for (int i = 0; i < io->nwatch; i++) {
		(void)epoll_ctl(io->lp.epfd, EPOLL_CTL_DEL, io->watch[i].fd, NULL);
		if (io->watch[i].on_stop)
			io->watch[i].on_stop(io->watch[i].arg);
	}
	io->nwatch = 0;
	return NULL;
}

int rpc_io_watch(int fd, void (*on_ready)(void *arg), void (*on_stop)(void *arg), void *arg)
{
	struct srv_io *io = srv_tls_io;
	struct epoll_event ev = { .events = EPOLLIN };
	struct srv_watch *w;

	if (!io || fd < 0 || !on_ready)
		return -EINVAL;
	if (io->nwatch == SRV_WATCH_MAX)
		return -ENOSPC;
	w = &io->watch[io->nwatch];
	*w = (struct srv_watch){ fd, on_ready, on_stop, arg };
	ev.data.ptr = w;
	if (epoll_ctl(io->lp.epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		return -errno;
	io->nwatch++;
	return 0;
}

/* ------------------------------------------------------------------ workers */

static void *srv_worker_main(void *arg)
{
	struct rpc_server *srv = arg;

	for (;;) {
		struct srv_req *r;
		const struct srv_handler *h;

		pthread_mutex_lock(&srv->qmu);
		while (!srv->qhead && !srv->qstop) {
			srv->qidle++;
			pthread_cond_wait(&srv->qcv, &srv->qmu);
			srv->qidle--;
		}
		if (srv->qstop) {
			pthread_mutex_unlock(&srv->qmu);
			return NULL;
		}
		r = srv->qhead;
		srv->qhead = r->next;
		if (!srv->qhead)
			srv->qtail = NULL;
		pthread_mutex_unlock(&srv->qmu);
		if (c3_now_ns() > r->pub.deadline_ns) {
			c3_counter_add(srv_m.expired, 1);
			rpc_reply(&r->pub, -C3FS_ETIMEDOUT, NULL, 0, NULL, 0);
			continue;
		}
		h = &srv->handlers[r->pub.type];
		c3_log_set_reqid(r->pub.id);
		h->fn(&r->pub, h->ctx);
		c3_log_set_reqid(0);
	}
}

/* ------------------------------------------------------------------ lifecycle */

int rpc_server_new(const struct rpc_server_opts *opts, struct rpc_server **out)
{
	struct rpc_server *srv;
	int rc;

	*out = NULL;
	if (!opts || !opts->listen)
		return -C3FS_ECONFIG;
	if (opts->io_threads < 0 || opts->io_threads > 64 || opts->workers < 0 ||
	    opts->workers > 1024 || opts->max_conns < 0 || opts->max_unauth_conns < 0 ||
	    opts->max_unauth_per_addr < 0)
		return -C3FS_ECONFIG;
	pthread_once(&srv_m_once, srv_metrics_init);
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->tr = &net_tcp_transport;
	srv->lfd = -1;
	srv->spare_fd = -1;
	srv->nio = opts->io_threads ? opts->io_threads : 2;
	srv->nworkers = opts->workers ? opts->workers : 16;
	srv->max_conns = opts->max_conns ? opts->max_conns : 4096;
	srv->max_payload = opts->max_payload ? opts->max_payload : RPC_MAX_PAYLOAD_DEFAULT;
	srv->max_bulk = opts->max_bulk ? opts->max_bulk : RPC_MAX_BULK_DEFAULT;
	srv->max_unauth = opts->max_unauth_conns ? opts->max_unauth_conns : 256;
	srv->max_unauth_per_addr = opts->max_unauth_per_addr ? opts->max_unauth_per_addr : 64;
	srv->auth_timeout_ms = opts->auth_timeout_ms ? opts->auth_timeout_ms : 2000;
	pthread_mutex_init(&srv->umu, NULL);
	pthread_mutex_init(&srv->qmu, NULL);
	pthread_cond_init(&srv->qcv, NULL);
	pthread_mutex_init(&srv->omu, NULL);
	pthread_cond_init(&srv->ocv, NULL);
	net__bufpool_init(&srv->pool, 64u << 20);
	if (opts->token && opts->token[0]) {
		srv->token_len = strlen(opts->token);
		srv->token = strdup(opts->token);
		if (!srv->token) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	srv->ios = calloc((size_t)srv->nio, sizeof(*srv->ios));
	srv->workers = calloc((size_t)srv->nworkers, sizeof(*srv->workers));
	if (!srv->ios || !srv->workers) {
		rc = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < srv->nio; i++) {
		struct srv_io *io = &srv->ios[i];

		io->srv = srv;
		io->idx = i;
		io->lp.epfd = io->lp.wakefd = -1;
		pthread_mutex_init(&io->mu, NULL);
	}
	for (int i = 0; i < srv->nio; i++) {
		rc = net__loop_open(&srv->ios[i].lp);
		if (rc < 0)
			goto fail;
	}
	rc = srv->tr->listen(opts->listen, 1024, &srv->port);
	if (rc < 0)
		goto fail;
	srv->lfd = rc;
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &srv->lfd };

		if (epoll_ctl(srv->ios[0].lp.epfd, EPOLL_CTL_ADD, srv->lfd, &ev) != 0) {
			rc = -errno;
			goto fail;
		}
	}
	srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	srv->handlers[RPC_T_PING] = (struct srv_handler){ srv_ping, NULL, RPC_HANDLER_INLINE,
							  NULL, NULL };
	srv->handlers[RPC_T_ECHO] = (struct srv_handler){ srv_echo, NULL, 0, NULL, NULL };
	srv_handler_metrics(&srv->handlers[RPC_T_PING], RPC_T_PING);
	srv_handler_metrics(&srv->handlers[RPC_T_ECHO], RPC_T_ECHO);
	*out = srv;
	return 0;
fail:
	rpc_server_free(srv);
	return rc;
}

int rpc_server_register(struct rpc_server *srv, uint16_t type, rpc_handler_fn fn, void *ctx,
			unsigned flags)
{
	if (!srv || !fn || type == 0 || type == RPC_T_AUTH || type > RPC_TYPE_MAX ||
	    (flags & ~RPC_HANDLER_INLINE) || srv->started)
		return -EINVAL;
	if (srv->handlers[type].fn)
		return -EEXIST;
	srv->handlers[type] = (struct srv_handler){ fn, ctx, flags, NULL, NULL };
	srv_handler_metrics(&srv->handlers[type], type);
	return 0;
}

int rpc_server_start(struct rpc_server *srv)
{
	int rc;

	if (!srv || srv->started)
		return -EINVAL;
	srv->started = true;
	for (int i = 0; i < srv->nworkers; i++) {
		rc = pthread_create(&srv->workers[i], NULL, srv_worker_main, srv);
		if (rc != 0)
			return -rc; /* rpc_server_free joins the ones started */
		srv->workers_started++;
	}
	for (int i = 0; i < srv->nio; i++) {
		rc = net__loop_start(&srv->ios[i].lp, srv_io_main, &srv->ios[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int rpc_server_port(const struct rpc_server *srv)
{
	return srv->port;
}

void rpc_server_free(struct rpc_server *srv)
{
	struct srv_req *q;

	if (!srv)
		return;
	/* 1. stop reading: no new requests after the io threads are joined */
	atomic_store(&srv->stopping, true);
	for (int i = 0; srv->ios && i < srv->nio; i++)
		net__loop_wake(&srv->ios[i].lp);
	for (int i = 0; srv->ios && i < srv->nio; i++)
		net__loop_join(&srv->ios[i].lp);
	/* 2. let running handlers finish; workers exit without taking more */
	pthread_mutex_lock(&srv->qmu);
	srv->qstop = true;
	pthread_cond_broadcast(&srv->qcv);
	q = srv->qhead;
	srv->qhead = srv->qtail = NULL;
	pthread_mutex_unlock(&srv->qmu);
	for (int i = 0; i < srv->workers_started; i++)
		pthread_join(srv->workers[i], NULL);
	/* 3. whatever was still queued gets a clear answer */
	while (q) {
		struct srv_req *next = q->next;

		rpc_reply(&q->pub, -C3FS_ESHUTDOWN, NULL, 0, NULL, 0);
		q = next;
	}
	/* 4. close every connection */
	for (int i = 0; srv->ios && i < srv->nio; i++) {
		struct srv_io *io = &srv->ios[i];
		struct srv_conn *c, *next;

		for (c = io->pending; c; c = next) {
			next = c->next;
			c->next = NULL;
			srv_io_adopt(io, c);
		}
		io->pending = NULL;
		while (io->conns)
			srv_conn_close(io->conns);
	}
	/* 5. replies deferred by handlers to other threads */
	pthread_mutex_lock(&srv->omu);
	while (srv->outstanding > 0)
		pthread_cond_wait(&srv->ocv, &srv->omu);
	pthread_mutex_unlock(&srv->omu);
	for (int i = 0; srv->ios && i < srv->nio; i++) {
		net__loop_close(&srv->ios[i].lp);
		pthread_mutex_destroy(&srv->ios[i].mu);
	}
	if (srv->lfd >= 0)
		srv->tr->close(srv->lfd);
	if (srv->spare_fd >= 0)
		close(srv->spare_fd);
	pthread_mutex_destroy(&srv->umu);
	pthread_mutex_destroy(&srv->qmu);
	pthread_cond_destroy(&srv->qcv);
	pthread_mutex_destroy(&srv->omu);
	pthread_cond_destroy(&srv->ocv);
	net__bufpool_release(&srv->pool);
	free(srv->ios);
	free(srv->workers);
	free(srv->token);
	free(srv);
}
