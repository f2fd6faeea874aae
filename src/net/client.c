/* client.c — the RPC client: per-address connection pools, request-id multiplexing,
 * deadlines, zero-copy bulk in both directions.
 *
 * Threads:
 *   caller threads  rpc_call_start() connects lazily (connect + auth handshake, blocking,
 *                   under the pool slot's mutex), registers the call in the connection's
 *                   in-flight table and writes the request itself with one writev
 *                   (header, payload, bulk iovecs: no copy).
 *   waiting callers rpc_call_wait()/rpc_call_run() take the connection's read role
 *                   (read_mu, trylock) and read replies themselves, the descriptor
 *                   taken out of the io thread's epoll set meanwhile; callbacks they
 *                   come across are handed to the io thread (io->handoff).
 *   io threads      one epoll set each; read replies when no caller does: payload into
 *                   call->resp, bulk straight into call->resp_bulk; every ~10 ms expire
 *                   calls whose deadline passed and retire dead connections; run done
 *                   callbacks (only ever on an io thread).
 *
 * Call states (call->priv_done, changed under conn->mu except DONE):
 *
 *     start ──> SENDING ──(request written)──> PENDING ──(reply/timeout/death)──> DONE
 *                  │                                                              ^
 *                  └─(reply/timeout/death while the caller still writes)─> DEFERRED ┘
 *                                         (the writer completes it after writev)
 *
 * A call is "owned" by whoever removes it from the in-flight table (the reader that
 * matched its reply, the deadline scan, the connection teardown, or the writer whose
 * write failed); only the owner completes it, so each call completes exactly once.
 * While its writer still uses call->bulk, an owner other than the writer only records
 * the status and marks it DEFERRED: the callback never runs while the request is being
 * written, and a failed start never calls back.
 *
 * Connections are reference counted (pool slot, io thread list, writers in progress,
 * waited calls); the descriptor is closed at the last unref, so no writer or reader can
 * hit a reused number.  Only the io thread drops the list's reference (retire), so the
 * conn pointers in its epoll batch stay valid.
 */
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/metrics.h"
#include "net/codec.h"
#include "net/net_int.h"
#include "net/rpc.h"

#define CLI_BUCKETS 256            /* initial buckets of a connection's table of calls */
#define CLI_PEER_BUCKETS 64       /* initial buckets of the peer table */
#define CLI_ADDR_MAX 64
#define CLI_SCAN_MS 10
#define CLI_EVENTS 64
#define CLI_DEFAULT_TIMEOUT_MS 10000u
/* Failed connects are not retried at once: calls to a dead peer fail fast with the last
 * error for a backoff that doubles from 10 ms to 1 s (reset by a successful connect), so
 * a dead node costs neither a connect storm nor a connect timeout per call. */
#define CLI_BACKOFF_MIN_MS 10u
#define CLI_BACKOFF_MAX_MS 1000u
/* rpc_call_run takes the read role before writing only for requests up to this size: a
 * long write with the descriptor out of the io thread's epoll set would leave replies to
 * other threads' calls unread (and their bulk piling up in the socket) meanwhile. */
#define CLI_PREREAD_MAX (64u << 10)
/* A waiting caller reads payload/bulk of at least this size with one MSG_WAITALL read. */
#define CLI_WAITALL_MIN (64u << 10)

enum { CALL_PENDING = 0, CALL_DONE = 1, CALL_SENDING = 2, CALL_DEFERRED = 3 };
enum cli_rstate { CLI_RS_HDR, CLI_RS_PAYLOAD, CLI_RS_BULK };

struct cli_io;

struct cli_conn {
	struct rpc_client *cli;
	const struct net_transport *tr;
	struct cli_io *io;
	int fd;
	atomic_int refs;
	pthread_mutex_t mu;        /* guards tab, call state changes */
	pthread_cond_t cv;         /* a failed writer waits for its call to become DEFERRED */
	atomic_bool dead;          /* set under mu */
	struct c3_hmap tab;        /* calls in flight by priv_id (priv_hn) */
	pthread_mutex_t send_mu;   /* one writer at a time */
	pthread_mutex_t read_mu;   /* held by the reader: the io thread or a waiting caller */
	bool retired;              /* io thread only: left the epoll set and the io list */
	struct cli_conn *retire_next;
	/* the reader only (read_mu) */
	uint8_t *rbuf;
	size_t rpos, rlen;
	enum cli_rstate rstate;
	struct rpc_frame fr;
	struct rpc_call *cur;      /* call whose reply is being received (owned), or NULL */
	int cur_status;
	bool keep_payload, keep_bulk;
	size_t got;                /* payload or bulk bytes received of the current frame */
	int biov;                  /* position in cur->resp_bulk */
	size_t boff;
	bool listed;               /* in io->conns (io->mu) */
	struct cli_conn *prev, *next;
	char addr[CLI_ADDR_MAX];
};

struct cli_slot {
	pthread_mutex_t mu;        /* guards every field; held while connecting */
	struct cli_conn *conn;     /* referenced */
	uint64_t retry_ns;         /* after a failed connect: fail fast until then */
	uint32_t backoff_ms;       /* 0, then CLI_BACKOFF_MIN_MS doubling to _MAX_MS */
	int last_err;
};

struct cli_peer {
	char addr[CLI_ADDR_MAX];
	struct c3_hmap_node hn;    /* in cli->peers */
	atomic_uint rr;
	/* reachability as logged: 0 = reachable (or never tried), else the monotonic ns of
	 * the first failed connect of the current outage.  Logged on change only. */
	_Atomic uint64_t down_since_ns;
	int nslots;
	struct cli_slot slots[];
};

struct cli_io {
	struct rpc_client *cli;
	struct net_loop lp;
	pthread_mutex_t mu;        /* guards conns list */
	struct cli_conn *conns;    /* referenced */
	struct rpc_call *handoff;  /* completions with callbacks found by caller threads */
	uint64_t next_scan_ns;     /* io thread only */
};

struct rpc_client {
	const struct net_transport *tr;
	char *token;
	char *user_token;          /* "" = none (appended to the auth frame) */
	int conns_per_peer;
	uint32_t connect_timeout_ms;
	uint32_t max_payload;
	pthread_mutex_t mu;        /* guards peers */
	struct c3_hmap peers;      /* struct cli_peer by addr (hn) */
	struct cli_io *ios;
	int nio;
	atomic_uint io_rr;
	atomic_uint_fast64_t next_id;
	atomic_bool stopping;
};

/* Process-wide client metrics (created once; see common/metrics.h). */
static struct {
	struct c3_counter *calls, *timeouts, *peer_closed, *connects, *connect_failures,
		*caller_reads;
} cli_m;
static pthread_once_t cli_m_once = PTHREAD_ONCE_INIT;

static void cli_metrics_init(void)
{
	cli_m.calls = c3_counter_get("c3fs_rpc_client_calls_total", NULL, "RPC calls started");
	cli_m.timeouts = c3_counter_get("c3fs_rpc_client_timeouts_total", NULL,
					"calls completed with -C3FS_ETIMEDOUT");
	cli_m.peer_closed = c3_counter_get("c3fs_rpc_client_peer_closed_total", NULL,
					   "calls failed because their connection died");
	cli_m.connects = c3_counter_get("c3fs_rpc_client_connects_total", NULL,
					"connections established (connect + auth)");
	cli_m.connect_failures = c3_counter_get("c3fs_rpc_client_connect_failures_total", NULL,
						"failed connection attempts");
	cli_m.caller_reads = c3_counter_get("c3fs_rpc_client_caller_reads_total", NULL,
					    "waits served by the waiting thread reading itself");
}

/* ------------------------------------------------------------------ completion */

/* The io thread running this code, NULL on other threads. */
static __thread struct cli_io *cli_tls_io;
/* The call this thread is waiting for while it reads replies itself. */
static __thread struct rpc_call *cli_tls_waiting;

/* Complete a call (its owner only).  Callbacks run on an io thread: a caller thread that
 * reads replies hands them to io (see rpc_call_wait). */
static void cli_call_complete(struct cli_io *io, struct rpc_call *call)
{
	if (call->done) {
		if (io && cli_tls_io != io) {
			pthread_mutex_lock(&io->mu);
			call->priv_next = io->handoff;
			io->handoff = call;
			pthread_mutex_unlock(&io->mu);
			net__loop_wake(&io->lp);
			return;
		}
		__atomic_store_n(&call->priv_done, CALL_DONE, __ATOMIC_RELEASE);
		call->done(call); /* may free call: not touched after */
		return;
	}
	__atomic_store_n(&call->priv_done, CALL_DONE, __ATOMIC_RELEASE);
	if (call == cli_tls_waiting)
		return; /* this thread is the waiter */
	/* the waiter may return (and free call) before this wake: FUTEX_WAKE only hashes
	 * the address and never touches the memory */
	syscall(SYS_futex, &call->priv_done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Complete a call removed from the table by its owner (not the writer). */
static void cli_conn_finish(struct cli_conn *c, struct rpc_call *call, int status)
{
	if (status == -C3FS_ETIMEDOUT)
		c3_counter_add(cli_m.timeouts, 1);
	else if (status == -C3FS_EPEERCLOSED)
		c3_counter_add(cli_m.peer_closed, 1);
	pthread_mutex_lock(&c->mu);
	call->status = status;
	if (call->priv_done == CALL_SENDING) {
		call->priv_done = CALL_DEFERRED;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		return;
	}
	pthread_mutex_unlock(&c->mu);
	cli_call_complete(c->io, call);
}

/* ------------------------------------------------------------------ in-flight table */

/* conn->mu held */
static void cli_tab_insert(struct cli_conn *c, struct rpc_call *call)
{
	c3_hmap_insert(&c->tab, &call->priv_hn, c3_hash_u64(call->priv_id));
}

/* conn->mu held.  Removes and returns the call with this id, or NULL. */
static struct rpc_call *cli_tab_remove_id(struct cli_conn *c, uint64_t id)
{
	struct c3_hmap_node *n;

	C3_HMAP_FOR_EACH_HASH(n, c3_hash_u64(id), &c->tab) {
		struct rpc_call *call = C3_CONTAINER_OF(n, struct rpc_call, priv_hn);

		if (call->priv_id == id) {
			c3_hmap_remove(&c->tab, n);
			return call;
		}
	}
	return NULL;
}

/* conn->mu held.  Moves every call whose deadline is not after before_ns (every call:
 * UINT64_MAX) to the front of *list (linked by priv_next). */
static void cli_tab_take(struct cli_conn *c, uint64_t before_ns, struct rpc_call **list)
{
	struct c3_hmap_node *n, *nx;

	if (!c3_hmap_count(&c->tab))
		return; /* the sweep's common case: no bucket to walk */
	C3_HMAP_FOR_EACH_SAFE(n, nx, &c->tab) {
		struct rpc_call *call = C3_CONTAINER_OF(n, struct rpc_call, priv_hn);

		if (call->priv_deadline_ns > before_ns)
			continue;
		c3_hmap_remove(&c->tab, n);
		call->priv_next = *list;
		*list = call;
	}
}

/* ------------------------------------------------------------------ connections */

static void cli_conn_ref(struct cli_conn *c)
{
	atomic_fetch_add(&c->refs, 1);
}

static void cli_conn_unref(struct cli_conn *c)
{
	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	c->tr->close(c->fd);
	pthread_mutex_destroy(&c->mu);
	c3_hmap_release(&c->tab);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->send_mu);
	pthread_mutex_destroy(&c->read_mu);
	free(c->rbuf);
	free(c);
}

/* Fail everything on c with status and shut it down.  Called by its reader (read_mu
 * held), or by rpc_client_free after the io threads are joined.  Idempotent. */
static void cli_conn_fail(struct cli_conn *c, int status)
{
	struct rpc_call *list, *cur = c->cur;

	pthread_mutex_lock(&c->mu);
	atomic_store(&c->dead, true);
	list = NULL;
	cli_tab_take(c, UINT64_MAX, &list);
	pthread_mutex_unlock(&c->mu);
	c->tr->shutdown(c->fd);
	c->cur = NULL;
	if (cur)
		cli_conn_finish(c, cur, status);
	while (list) {
		struct rpc_call *next = list->priv_next;

		list->priv_next = NULL;
		cli_conn_finish(c, list, status);
		list = next;
	}
}

/* io thread: take a dead connection out of the epoll set and the io list, dropping the
 * list's reference.  Idempotent. */
static void cli_conn_retire(struct cli_conn *c)
{
	struct cli_io *io = c->io;

	if (c->retired)
		return;
	c->retired = true;
	(void)epoll_ctl(io->lp.epfd, EPOLL_CTL_DEL, c->fd, NULL);
	pthread_mutex_lock(&io->mu);
	if (c->listed) {
		if (c->prev)
			c->prev->next = c->next;
		else
			io->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		c->listed = false;
	}
	pthread_mutex_unlock(&io->mu);
	cli_conn_unref(c);
}

/* The reader found c unusable: fail its calls.  On the io thread it is retired at once;
 * a caller thread leaves that to the io thread's next scan (only it drops the list's
 * reference, so event pointers it holds stay valid). */
static void cli_conn_close(struct cli_conn *c, int status)
{
	if (status == -C3FS_EPEERCLOSED && atomic_load(&c->cli->stopping))
		status = -C3FS_ESHUTDOWN;
	cli_conn_fail(c, status);
	if (cli_tls_io == c->io)
		cli_conn_retire(c);
}

/* Connect and authenticate (blocking, within timeout_ms).  On success *out holds two
 * references (the pool slot's and the io thread's) and is in an io thread's epoll set. */
static int cli_conn_open(struct rpc_client *cli, const char *addr, uint32_t timeout_ms,
			 struct cli_conn **out)
{
	uint64_t deadline = c3_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct c3_buf auth = C3_BUF_INIT;
	uint8_t hdr[RPC_HEADER_BYTES], junk[256];
	struct rpc_frame f;
	struct iovec iov[2];
	struct cli_conn *c = NULL;
	struct cli_io *io;
	struct epoll_event ev;
	bool was_idle;
	int fd, rc;

	fd = cli->tr->connect(addr, timeout_ms);
	if (fd < 0)
		return fd;
	c3_enc_str(&auth, cli->token);
	if (cli->user_token[0])
		c3_enc_str(&auth, cli->user_token);
	if (auth.err) {
		rc = auth.err;
		goto fail;
	}
	memset(&f, 0, sizeof(f));
	f.version = RPC_PROTO_VERSION;
	f.type = RPC_T_AUTH;
	f.id = atomic_fetch_add(&cli->next_id, 1);
	f.payload_len = (uint32_t)auth.len;
	f.timeout_ms = timeout_ms;
	rpc_frame_encode(&f, hdr);
	iov[0] = (struct iovec){ hdr, sizeof(hdr) };
	iov[1] = (struct iovec){ auth.data, auth.len };
	rc = net__writev_all(cli->tr, fd, iov, 2, deadline);
	if (rc == 0)
		rc = net__read_full(cli->tr, fd, hdr, sizeof(hdr), deadline);
	if (rc < 0) {
		/* the server may have refused us (max_conns) and closed: not a timeout */
		rc = -C3FS_ECONNECT;
		goto fail;
	}
	rc = rpc_frame_decode(hdr, sizeof(hdr), sizeof(junk), 0, &f);
	if (rc == 0 && (!(f.flags & RPC_FLAG_RESPONSE)))
		rc = -C3FS_EBADFRAME;
	if (rc == 0 && f.payload_len)
		rc = net__read_full(cli->tr, fd, junk, f.payload_len, deadline);
	if (rc < 0)
		goto fail;
	if (f.status < 0) {
		rc = f.status; /* -C3FS_EAUTH, -C3FS_EBUSY, ... */
		goto fail;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->rbuf = malloc(NET_RBUF_BYTES);
	if (!c || !c->rbuf) {
		free(c);
		c = NULL;
		rc = -ENOMEM;
		goto fail;
	}
	c->cli = cli;
	c->tr = cli->tr;
	c->fd = fd;
	atomic_init(&c->refs, 2);
	pthread_mutex_init(&c->read_mu, NULL);
	pthread_mutex_init(&c->mu, NULL);
	c3_hmap_init(&c->tab, CLI_BUCKETS);
	pthread_cond_init(&c->cv, NULL);
	pthread_mutex_init(&c->send_mu, NULL);
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	io = &cli->ios[atomic_fetch_add(&cli->io_rr, 1) % (unsigned)cli->nio];
	c->io = io;
	pthread_mutex_lock(&io->mu);
	was_idle = io->conns == NULL;
	c->next = io->conns;
	if (io->conns)
		io->conns->prev = c;
	io->conns = c;
	c->listed = true;
	pthread_mutex_unlock(&io->mu);
	if (was_idle) /* its epoll_wait may sleep without a timeout: start the deadline scans */
		net__loop_wake(&io->lp);
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(io->lp.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		/* the io thread never saw it: mark dead, let the io list scan drop it */
		rc = -errno;
		atomic_store(&c->dead, true);
		cli->tr->shutdown(fd);
		cli_conn_unref(c); /* caller's would-be slot reference */
		c3_buf_release(&auth);
		return rc;
	}
	c3_buf_release(&auth);
	*out = c;
	return 0;
fail:
	c3_buf_release(&auth);
	cli->tr->close(fd);
	return rc;
}

static struct cli_peer *cli_peer_get(struct rpc_client *cli, const char *addr)
{
	uint64_t h = c3_hash_bytes(addr, strlen(addr));
	struct c3_hmap_node *n;
	struct cli_peer *p = NULL;

	pthread_mutex_lock(&cli->mu);
	C3_HMAP_FOR_EACH_HASH(n, h, &cli->peers) {
		if (strcmp(C3_CONTAINER_OF(n, struct cli_peer, hn)->addr, addr) == 0) {
			p = C3_CONTAINER_OF(n, struct cli_peer, hn);
			break;
		}
	}
	if (!p) {
		p = calloc(1, sizeof(*p) + (size_t)cli->conns_per_peer * sizeof(p->slots[0]));
		if (p) {
			snprintf(p->addr, sizeof(p->addr), "%s", addr);
			p->nslots = cli->conns_per_peer;
			for (int i = 0; i < p->nslots; i++)
				pthread_mutex_init(&p->slots[i].mu, NULL);
			c3_hmap_insert(&cli->peers, &p->hn, h);
		}
	}
	pthread_mutex_unlock(&cli->mu);
	return p;
}

/* A referenced, live connection to addr (connecting if needed). */
static int cli_conn_get(struct rpc_client *cli, const char *addr, uint64_t deadline,
			struct cli_conn **out)
{
	struct cli_peer *p;
	struct cli_slot *s;
	struct cli_conn *c;
	int rc = 0;

	if (strlen(addr) >= CLI_ADDR_MAX)
		return -C3FS_ECONFIG;
	p = cli_peer_get(cli, addr);
	if (!p)
		return -ENOMEM;
	s = &p->slots[atomic_fetch_add(&p->rr, 1) % (unsigned)p->nslots];
	pthread_mutex_lock(&s->mu);
	c = s->conn;
	if (c && atomic_load(&c->dead)) {
		s->conn = NULL;
		cli_conn_unref(c);
		c = NULL;
	}
	if (!c) {
		uint64_t now = c3_now_ns();
		uint32_t ms = cli->connect_timeout_ms;

		if (now < s->retry_ns) {
			rc = s->last_err < 0 ? s->last_err : -C3FS_ECONNECT;
			pthread_mutex_unlock(&s->mu);
			return rc;
		}
		if (deadline <= now)
			ms = 1;
		else if ((deadline - now) / 1000000ull < ms)
			ms = (uint32_t)((deadline - now) / 1000000ull) + 1;
		rc = cli_conn_open(cli, addr, ms, &c);
		if (rc < 0) {
			uint64_t none = 0;

			/* a peer's unreachability is a state change, logged once per outage */
			if (atomic_compare_exchange_strong(&p->down_since_ns, &none,
							   c3_now_ns() | 1))
				LOG_WARN("rpc: %s unreachable: %s (retrying; logged again when it "
					 "answers)", addr, c3_strerror(rc));
			c3_counter_add(cli_m.connect_failures, 1);
			s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : CLI_BACKOFF_MIN_MS;
			if (s->backoff_ms > CLI_BACKOFF_MAX_MS)
				s->backoff_ms = CLI_BACKOFF_MAX_MS;
			s->retry_ns = c3_now_ns() + (uint64_t)s->backoff_ms * 1000000ull;
			s->last_err = rc;
			pthread_mutex_unlock(&s->mu);
			return rc;
		}
		c3_counter_add(cli_m.connects, 1);
		{
			uint64_t since = atomic_exchange(&p->down_since_ns, 0);

			if (since)
				LOG_INFO("rpc: %s reachable again after %llu ms", addr,
					 (unsigned long long)((c3_now_ns() - since) / 1000000ull));
		}
		s->backoff_ms = 0;
		s->retry_ns = 0;
		s->conn = c;
	}
	cli_conn_ref(c);
	pthread_mutex_unlock(&s->mu);
	*out = c;
	return 0;
}

/* ------------------------------------------------------------------ reading replies */

static size_t cli_iov_total(const struct iovec *iov, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* io thread: the current reply frame is complete. */
static void cli_reply_done(struct cli_conn *c)
{
	struct rpc_call *call = c->cur;

	c->cur = NULL;
	c->rstate = CLI_RS_HDR;
	if (!call)
		return;
	if (c->keep_bulk)
		call->resp_bulk_len = c->fr.bulk_len;
	cli_conn_finish(c, call, c->cur_status);
}

/* io thread: a reply header was decoded into c->fr.  Returns false if c was closed. */
static bool cli_reply_begin(struct cli_conn *c)
{
	struct rpc_call *call;

	if (!(c->fr.flags & RPC_FLAG_RESPONSE)) {
		LOG_WARN("rpc: %s sent a request frame to a client; closing", c->addr);
		cli_conn_close(c, -C3FS_EPEERCLOSED);
		return false;
	}
	if (c->fr.id == 0) {
		/* connection-level error from the server (it closes next) */
		LOG_WARN("rpc: %s: connection error: %s", c->addr, c3_strerror(c->fr.status));
		cli_conn_close(c, c->fr.status < 0 ? c->fr.status : -C3FS_EPEERCLOSED);
		return false;
	}
	pthread_mutex_lock(&c->mu);
	call = cli_tab_remove_id(c, c->fr.id);
	pthread_mutex_unlock(&c->mu);
	c->cur = call;
	c->got = 0;
	c->biov = 0;
	c->boff = 0;
	c->keep_payload = c->keep_bulk = false;
	c->cur_status = c->fr.status;
	c->rstate = CLI_RS_PAYLOAD;
	if (!call)
		return true; /* late reply (expired call): discarded */
	if (c->fr.payload_len) {
		if (c3_buf_reserve(&call->resp, c->fr.payload_len) == 0)
			c->keep_payload = true;
		else
			c->cur_status = -ENOMEM;
	}
	if (c->fr.bulk_len) {
		if (call->nresp_bulk > 0 && call->resp_bulk &&
		    cli_iov_total(call->resp_bulk, call->nresp_bulk) >= c->fr.bulk_len)
			c->keep_bulk = true;
		else
			c->cur_status = -C3FS_ETOOBIG;
	}
	return true;
}

/* Copy n bytes from src into the current call's resp_bulk at the running position. */
static void cli_bulk_put(struct cli_conn *c, const uint8_t *src, size_t n)
{
	const struct iovec *iov = c->cur->resp_bulk;

	while (n > 0) {
		size_t room = iov[c->biov].iov_len - c->boff;
		size_t k = n < room ? n : room;

		memcpy((uint8_t *)iov[c->biov].iov_base + c->boff, src, k);
		src += k;
		n -= k;
		c->boff += k;
		if (c->boff == iov[c->biov].iov_len) {
			c->biov++;
			c->boff = 0;
		}
	}
}

/* Advance the resp_bulk position by n bytes written directly by readv. */
static void cli_bulk_skip(struct cli_conn *c, size_t n)
{
	const struct iovec *iov = c->cur->resp_bulk;

	while (n > 0) {
		size_t room = iov[c->biov].iov_len - c->boff;
		size_t k = n < room ? n : room;

		n -= k;
		c->boff += k;
		if (c->boff == iov[c->biov].iov_len) {
			c->biov++;
			c->boff = 0;
		}
	}
}

/* io thread: consume the read buffer.  Returns false if c was closed. */
static bool cli_conn_parse(struct cli_conn *c)
{
	struct rpc_client *cli = c->cli;

	for (;;) {
		size_t avail = c->rlen - c->rpos, take;
		int rc;

		switch (c->rstate) {
		case CLI_RS_HDR:
			if (avail < RPC_HEADER_BYTES)
				return true;
			rc = rpc_frame_decode(c->rbuf + c->rpos, avail, cli->max_payload,
					      UINT32_MAX, &c->fr);
			if (rc < 0) {
				LOG_WARN("rpc: bad reply frame from %s: %s; closing", c->addr,
					 c3_strerror(rc));
				cli_conn_close(c, -C3FS_EPEERCLOSED);
				return false;
			}
			c->rpos += RPC_HEADER_BYTES;
			if (!cli_reply_begin(c))
				return false;
			break;
		case CLI_RS_PAYLOAD:
			take = c->fr.payload_len - c->got;
			if (take > avail)
				take = avail;
			if (c->keep_payload) {
				struct c3_buf *b = &c->cur->resp;

				memcpy(b->data + b->len, c->rbuf + c->rpos, take);
				b->len += take;
			}
			c->got += take;
			c->rpos += take;
			if (c->got < c->fr.payload_len)
				return true;
			c->got = 0;
			c->rstate = CLI_RS_BULK;
			/* fall through */
		case CLI_RS_BULK:
			avail = c->rlen - c->rpos;
			take = c->fr.bulk_len - c->got;
			if (take > avail)
				take = avail;
			if (c->keep_bulk)
				cli_bulk_put(c, c->rbuf + c->rpos, take);
			c->got += take;
			c->rpos += take;
			if (c->got < c->fr.bulk_len)
				return true;
			cli_reply_done(c);
			break;
		}
	}
}

/* The reader (read_mu held, a reference held): read what the descriptor has. */
static void cli_conn_read(struct cli_conn *c, bool wait)
{
	for (int round = 0; round < 8; round++) {
		struct iovec iov[9];
		size_t want = 0, direct = 0;
		int niov = 0;
		ssize_t n;

		if (c->rpos == c->rlen) {
			c->rpos = c->rlen = 0;
			if (c->rstate == CLI_RS_PAYLOAD && c->keep_payload) {
				struct c3_buf *b = &c->cur->resp;

				iov[0].iov_base = b->data + b->len;
				iov[0].iov_len = c->fr.payload_len - c->got;
				niov = 1;
			} else if (c->rstate == CLI_RS_BULK && c->keep_bulk) {
				const struct iovec *rb = c->cur->resp_bulk;
				size_t left = c->fr.bulk_len - c->got;

				for (int i = c->biov; i < c->cur->nresp_bulk && niov < 8 && left; i++) {
					size_t off = i == c->biov ? c->boff : 0;
					size_t k = rb[i].iov_len - off;

					if (k > left)
						k = left;
					if (!k)
						continue;
					iov[niov].iov_base = (uint8_t *)rb[i].iov_base + off;
					iov[niov++].iov_len = k;
					left -= k;
				}
			}
		} else if (c->rpos > 0 && NET_RBUF_BYTES - c->rlen < RPC_HEADER_BYTES) {
			memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
			c->rlen -= c->rpos;
			c->rpos = 0;
		}
		direct = niov ? cli_iov_total(iov, niov) : 0;
		if (wait && round == 0 && direct >= CLI_WAITALL_MIN) {
			/* a waiting caller receiving a large payload/bulk: one blocking read
			 * for all of it (bounded by the receive slice) */
			want = direct;
			n = c->tr->readv_wait(c->fd, iov, niov, true);
		} else {
			iov[niov].iov_base = c->rbuf + c->rlen;
			iov[niov++].iov_len = net__rbuf_window(c->rlen);
			want = direct + iov[niov - 1].iov_len;
			if (wait && round == 0)
				n = c->tr->readv_wait(c->fd, iov, niov, false);
			else
				n = c->tr->readv(c->fd, iov, niov);
		}
		if (n == -EAGAIN || n == -EINTR)
			return;
		if (n <= 0) {
			size_t inflight;

			pthread_mutex_lock(&c->mu);
			inflight = c3_hmap_count(&c->tab) + (c->cur != NULL);
			pthread_mutex_unlock(&c->mu);
			if (n < 0 || inflight)
				LOG_INFO("rpc: connection to %s lost%s", c->addr,
					 inflight ? " with calls in flight" : "");
			cli_conn_close(c, -C3FS_EPEERCLOSED);
			return;
		}
		if (direct) {
			size_t k = (size_t)n < direct ? (size_t)n : direct;

			if (c->rstate == CLI_RS_PAYLOAD)
				c->cur->resp.len += k;
			else
				cli_bulk_skip(c, k);
			c->got += k;
			c->rlen += (size_t)n - k;
		} else {
			c->rlen += (size_t)n;
		}
		if (!cli_conn_parse(c))
			return;
		if (wait || (size_t)n < want)
			return; /* a waiting caller comes back with a waiting read */
	}
}

/* io thread: the descriptor is readable (unless a waiting caller is reading it). */
static void cli_conn_on_event(struct cli_conn *c)
{
	if (c->retired || pthread_mutex_trylock(&c->read_mu) != 0)
		return;
	cli_conn_ref(c);
	if (atomic_load(&c->dead))
		cli_conn_retire(c);
	else
		cli_conn_read(c, false);
	pthread_mutex_unlock(&c->read_mu);
	cli_conn_unref(c);
}

/* io thread: expire calls whose deadline passed. */
static void cli_io_scan(struct cli_io *io, uint64_t now)
{
	struct rpc_call *expired = NULL;
	struct cli_conn *c, *dead = NULL;

	io->next_scan_ns = now + CLI_SCAN_MS * 1000000ull;
	pthread_mutex_lock(&io->mu);
	for (c = io->conns; c; c = c->next) {
		if (atomic_load(&c->dead)) {
			c->retire_next = dead;
			dead = c;
			continue;
		}
		if (pthread_mutex_trylock(&c->read_mu) == 0) {
			if (c->cur && c->cur->priv_deadline_ns <= now) {
				/* give up on the reply being received: the rest is discarded */
				struct rpc_call *call = c->cur;

				c->cur = NULL;
				c->keep_payload = c->keep_bulk = false;
				call->priv_next = expired;
				expired = call;
			}
			pthread_mutex_unlock(&c->read_mu);
		}
		pthread_mutex_lock(&c->mu);
		cli_tab_take(c, now, &expired);
		pthread_mutex_unlock(&c->mu);
	}
	pthread_mutex_unlock(&io->mu);
	while (dead) {
		c = dead;
		dead = c->retire_next;
		cli_conn_retire(c);
	}
	/* the conns of expired calls are alive: listed, and only this thread unlists */
	while (expired) {
		struct rpc_call *next = expired->priv_next;

		expired->priv_next = NULL;
		cli_conn_finish(expired->priv_conn, expired, -C3FS_ETIMEDOUT);
		expired = next;
	}
}

static void *cli_io_main(void *arg)
{
	struct cli_io *io = arg;
	struct rpc_client *cli = io->cli;
	struct epoll_event ev[CLI_EVENTS];

	cli_tls_io = io;
	while (!atomic_load(&cli->stopping)) {
		uint64_t now;
		int n, timeout;

		pthread_mutex_lock(&io->mu);
		timeout = io->conns ? CLI_SCAN_MS : -1;
		pthread_mutex_unlock(&io->mu);
		n = epoll_wait(io->lp.epfd, ev, CLI_EVENTS, timeout);
		if (n < 0 && errno != EINTR) {
			LOG_ERROR("rpc: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == &io->lp.wakefd) {
				struct rpc_call *list;
				eventfd_t v;

				(void)eventfd_read(io->lp.wakefd, &v);
				pthread_mutex_lock(&io->mu);
				list = io->handoff;
				io->handoff = NULL;
				pthread_mutex_unlock(&io->mu);
				while (list) {
					struct rpc_call *next = list->priv_next;

					list->priv_next = NULL;
					cli_call_complete(io, list);
					list = next;
				}
				continue;
			}
			cli_conn_on_event(ev[i].data.ptr);
		}
		now = c3_now_ns();
		if (now >= io->next_scan_ns)
			cli_io_scan(io, now);
	}
	return NULL;
}

/* ------------------------------------------------------------------ calls */

void rpc_call_init(struct rpc_call *call, uint16_t type, const void *payload, size_t len)
{
	memset(call, 0, sizeof(*call));
	call->type = type;
	call->payload = payload;
	call->payload_len = len;
}

static bool cli_read_acquire(struct cli_conn *c);
static void cli_read_release(struct cli_conn *c);

/* rpc_call_start; with reader != NULL the calling thread also tries to take the
 * connection's read role before writing (*reader tells whether it did), so the reply
 * cannot wake the io thread first.  Only for a caller that waits right away. */
static int cli_call_start(struct rpc_client *cli, const char *addr, struct rpc_call *call,
			  bool *reader)
{
	struct iovec iov[2 + NET_MAX_BULK_IOV];
	uint8_t hdr[RPC_HEADER_BYTES];
	struct rpc_frame f;
	struct cli_conn *c = NULL;
	uint64_t bulk_len = 0, deadline;
	uint32_t timeout_ms;
	int n = 0, rc, state;

	if (!cli || !addr || !call)
		return -EINVAL;
	if (call->nbulk < 0 || call->nbulk > NET_MAX_BULK_IOV || (call->nbulk && !call->bulk) ||
	    call->nresp_bulk < 0 || (call->nresp_bulk && !call->resp_bulk) ||
	    (call->payload_len && !call->payload) || call->type == 0 ||
	    call->type == RPC_T_AUTH)
		return -EINVAL;
	for (int i = 0; i < call->nbulk; i++)
		bulk_len += call->bulk[i].iov_len;
	if (call->payload_len > UINT32_MAX || bulk_len > UINT32_MAX)
		return -C3FS_ETOOBIG;
	if (atomic_load(&cli->stopping))
		return -C3FS_ESHUTDOWN;
	timeout_ms = call->timeout_ms ? call->timeout_ms : CLI_DEFAULT_TIMEOUT_MS;
	deadline = c3_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	call->status = 0;
	c3_buf_init(&call->resp);
	call->resp_bulk_len = 0;
	call->priv_next = NULL;
	rc = cli_conn_get(cli, addr, deadline, &c);
	if (rc < 0)
		return rc;
	c3_counter_add(cli_m.calls, 1);
	call->priv_id = atomic_fetch_add(&cli->next_id, 1);
	call->priv_deadline_ns = deadline;
	call->priv_conn = c;
	call->priv_done = CALL_SENDING;
	pthread_mutex_lock(&c->mu);
	if (atomic_load(&c->dead)) {
		pthread_mutex_unlock(&c->mu);
		cli_conn_unref(c);
		return -C3FS_EPEERCLOSED;
	}
	cli_tab_insert(c, call);
	pthread_mutex_unlock(&c->mu);
	if (reader)
		*reader = call->payload_len + bulk_len <= CLI_PREREAD_MAX && cli_read_acquire(c);

	memset(&f, 0, sizeof(f));
	f.version = RPC_PROTO_VERSION;
	f.type = call->type;
	f.id = call->priv_id;
	f.payload_len = (uint32_t)call->payload_len;
	f.bulk_len = (uint32_t)bulk_len;
	f.timeout_ms = timeout_ms;
	rpc_frame_encode(&f, hdr);
	iov[n++] = (struct iovec){ hdr, sizeof(hdr) };
	if (call->payload_len)
		iov[n++] = (struct iovec){ (void *)call->payload, call->payload_len };
	for (int i = 0; i < call->nbulk; i++)
		if (call->bulk[i].iov_len)
			iov[n++] = call->bulk[i];
	pthread_mutex_lock(&c->send_mu);
	rc = net__writev_all(cli->tr, c->fd, iov, n, deadline);
	if (rc < 0)
		cli->tr->shutdown(c->fd); /* a partial frame poisons the stream */
	pthread_mutex_unlock(&c->send_mu);

	pthread_mutex_lock(&c->mu);
	if (rc == 0) {
		bool waited = call->done == NULL;

		state = call->priv_done;
		call->priv_done = state == CALL_DEFERRED ? CALL_DEFERRED : CALL_PENDING;
		pthread_mutex_unlock(&c->mu);
		if (!waited)
			cli_conn_unref(c);
		/* else rpc_call_wait drops the reference (it may read from c) */
		if (state == CALL_DEFERRED)
			cli_call_complete(c->io, call);
		return 0;
	}
	if (reader && *reader) {
		pthread_mutex_unlock(&c->mu);
		cli_read_release(c);
		*reader = false;
		pthread_mutex_lock(&c->mu);
	}
	for (;;) {
		if (call->priv_done == CALL_DEFERRED)
			break;
		if (cli_tab_remove_id(c, call->priv_id) == call)
			break;
		/* the io thread owns it (reading its reply); it completes soon since the
		 * connection is shut down */
		pthread_cond_wait(&c->cv, &c->mu);
	}
	call->priv_done = CALL_DONE;
	pthread_mutex_unlock(&c->mu);
	cli_conn_unref(c);
	call->priv_conn = NULL;
	c3_buf_release(&call->resp);
	return rc == -C3FS_ETIMEDOUT ? rc : -C3FS_EPEERCLOSED;
}

/* A waiting caller whose call is still in flight becomes the connection's reader, so the
 * reply wakes this thread directly instead of an io thread that would then wake it.  The
 * descriptor is taken out of the io thread's epoll interest meanwhile.  Returns false if
 * another thread is reading (or the connection is dead): then wait on the futex. */
static bool cli_read_acquire(struct cli_conn *c)
{
	struct epoll_event ev = { .events = 0, .data.ptr = c };

	if (atomic_load(&c->dead) || pthread_mutex_trylock(&c->read_mu) != 0)
		return false;
	if (atomic_load(&c->dead) || epoll_ctl(c->io->lp.epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
		pthread_mutex_unlock(&c->read_mu);
		return false;
	}
	c3_counter_add(cli_m.caller_reads, 1);
	return true;
}

/* Give the read role back to the io thread (re-arm its epoll interest). */
static void cli_read_release(struct cli_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	if (!atomic_load(&c->dead))
		(void)epoll_ctl(c->io->lp.epfd, EPOLL_CTL_MOD, c->fd, &ev);
	pthread_mutex_unlock(&c->read_mu);
}

/* With the read role: read until call completes, its deadline passes, or c dies.
 * Returns false when the deadline scan owns the call (wait on the futex then). */
static bool cli_read_until(struct cli_conn *c, struct rpc_call *call)
{
	bool progress = true;

	cli_tls_waiting = call;
	while (__atomic_load_n(&call->priv_done, __ATOMIC_ACQUIRE) != CALL_DONE &&
	       !atomic_load(&c->dead)) {
		uint64_t now = c3_now_ns();

		if (now >= call->priv_deadline_ns) {
			/* our own deadline: the io thread cannot see c->cur while we read */
			struct rpc_call *mine;

			pthread_mutex_lock(&c->mu);
			mine = cli_tab_remove_id(c, call->priv_id);
			pthread_mutex_unlock(&c->mu);
			if (!mine && c->cur == call) {
				c->cur = NULL;
				c->keep_payload = c->keep_bulk = false;
				mine = call;
			}
			if (mine) {
				cli_conn_finish(c, call, -C3FS_ETIMEDOUT);
				continue;
			}
			progress = false; /* the deadline scan took it and completes it */
			break;
		}
		/* blocks at most one receive slice (20 ms), then the deadline is checked */
		cli_conn_read(c, true);
	}
	cli_tls_waiting = NULL;
	return progress;
}

static bool cli_wait_read(struct cli_conn *c, struct rpc_call *call)
{
	bool progress;

	if (!cli_read_acquire(c))
		return false;
	progress = cli_read_until(c, call);
	cli_read_release(c);
	return progress;
}

int rpc_call_wait(struct rpc_call *call)
{
	struct cli_conn *c = call->priv_conn;

	for (;;) {
		int v = __atomic_load_n(&call->priv_done, __ATOMIC_ACQUIRE);

		if (v == CALL_DONE)
			break;
		if (c && cli_wait_read(c, call))
			continue;
		syscall(SYS_futex, &call->priv_done, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
	}
	if (c && !call->done) {
		call->priv_conn = NULL;
		cli_conn_unref(c);
	}
	return call->status;
}

/* After a failed start the call is left completed with the error, so a mistaken
 * rpc_call_wait on it returns at once instead of sleeping forever. */
static int cli_start_failed(struct rpc_call *call, int rc)
{
	if (call) {
		call->status = rc;
		call->priv_conn = NULL;
		__atomic_store_n(&call->priv_done, CALL_DONE, __ATOMIC_RELEASE);
	}
	return rc;
}

int rpc_call_start(struct rpc_client *cli, const char *addr, struct rpc_call *call)
{
	int rc = cli_call_start(cli, addr, call, NULL);

	return rc < 0 ? cli_start_failed(call, rc) : 0;
}

/* rpc_call_run; *started tells a failed start (nothing to release) from a failed call. */
static int cli_call_run(struct rpc_client *cli, const char *addr, struct rpc_call *call,
			bool *started)
{
	bool reader = false;
	int rc;

	*started = false;
	if (!call || call->done)
		return -EINVAL;
	rc = cli_call_start(cli, addr, call, &reader);
	if (rc < 0)
		return cli_start_failed(call, rc);
	*started = true;
	if (reader) {
		struct cli_conn *c = call->priv_conn;

		(void)cli_read_until(c, call);
		cli_read_release(c);
	}
	return rpc_call_wait(call);
}

int rpc_call_run(struct rpc_client *cli, const char *addr, struct rpc_call *call)
{
	bool started;

	return cli_call_run(cli, addr, call, &started);
}

int rpc_call_sync(struct rpc_client *cli, const char *addr, uint16_t type, const void *req,
		  size_t req_len, struct c3_buf *resp, uint32_t timeout_ms)
{
	struct rpc_call call;
	bool started;
	int rc;

	rpc_call_init(&call, type, req, req_len);
	call.timeout_ms = timeout_ms;
	rc = cli_call_run(cli, addr, &call, &started);
	if (!started)
		return rc;
	if (resp)
		*resp = call.resp;
	else
		c3_buf_release(&call.resp);
	return rc;
}

/* ------------------------------------------------------------------ lifecycle */

int rpc_client_new(const struct rpc_client_opts *opts, struct rpc_client **out)
{
	struct rpc_client *cli;
	int rc;

	*out = NULL;
	pthread_once(&cli_m_once, cli_metrics_init);
	if (!opts || opts->conns_per_peer < 0 || opts->conns_per_peer > 64 ||
	    opts->io_threads < 0 || opts->io_threads > 64 ||
	    (opts->user_token && strlen(opts->user_token) >= RPC_USER_TOKEN_MAX))
		return -C3FS_ECONFIG;
	cli = calloc(1, sizeof(*cli));
	if (!cli)
		return -ENOMEM;
	cli->tr = &net_tcp_transport;
	cli->conns_per_peer = opts->conns_per_peer ? opts->conns_per_peer : 2;
	cli->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : 2000;
	cli->max_payload = opts->max_payload ? opts->max_payload : RPC_MAX_PAYLOAD_DEFAULT;
	cli->nio = opts->io_threads ? opts->io_threads : 1;
	atomic_init(&cli->next_id, 1);
	pthread_mutex_init(&cli->mu, NULL);
	c3_hmap_init(&cli->peers, CLI_PEER_BUCKETS);
	cli->token = strdup(opts->token ? opts->token : "");
	cli->user_token = strdup(opts->user_token ? opts->user_token : "");
	cli->ios = calloc((size_t)cli->nio, sizeof(*cli->ios));
	if (!cli->token || !cli->user_token || !cli->ios) {
		rc = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < cli->nio; i++) {
		cli->ios[i].cli = cli;
		cli->ios[i].lp.epfd = cli->ios[i].lp.wakefd = -1;
		pthread_mutex_init(&cli->ios[i].mu, NULL);
	}
	for (int i = 0; i < cli->nio; i++) {
		struct cli_io *io = &cli->ios[i];

		rc = net__loop_open(&io->lp);
		if (rc == 0)
			rc = net__loop_start(&io->lp, cli_io_main, io);
		if (rc < 0)
			goto fail;
	}
	*out = cli;
	return 0;
fail:
	rpc_client_free(cli);
	return rc;
}

void rpc_client_free(struct rpc_client *cli)
{
	if (!cli)
		return;
	atomic_store(&cli->stopping, true);
	for (int i = 0; cli->ios && i < cli->nio; i++)
		net__loop_wake(&cli->ios[i].lp);
	for (int i = 0; cli->ios && i < cli->nio; i++)
		net__loop_join(&cli->ios[i].lp);
	/* io threads are gone; a caller may still be reading in rpc_call_wait: wake it (the
	 * shutdown makes its poll return) and wait for read_mu, then fail what is left */
	for (int i = 0; cli->ios && i < cli->nio; i++) {
		struct cli_io *io = &cli->ios[i];

		while (io->conns) {
			struct cli_conn *c = io->conns;

			io->conns = c->next;
			c->listed = false;
			c->tr->shutdown(c->fd);
			pthread_mutex_lock(&c->read_mu);
			cli_conn_fail(c, -C3FS_ESHUTDOWN);
			pthread_mutex_unlock(&c->read_mu);
			cli_conn_unref(c);
		}
	}
	/* callbacks handed over by caller threads, and those just failed */
	for (int i = 0; cli->ios && i < cli->nio; i++) {
		struct rpc_call *list = cli->ios[i].handoff;

		cli->ios[i].handoff = NULL;
		while (list) {
			struct rpc_call *next = list->priv_next;

			list->priv_next = NULL;
			__atomic_store_n(&list->priv_done, CALL_DONE, __ATOMIC_RELEASE);
			list->done(list);
			list = next;
		}
	}
	struct c3_hmap_node *n, *nx;

	C3_HMAP_FOR_EACH_SAFE(n, nx, &cli->peers) {
		struct cli_peer *p = C3_CONTAINER_OF(n, struct cli_peer, hn);

		for (int i = 0; i < p->nslots; i++) {
			if (p->slots[i].conn)
				cli_conn_unref(p->slots[i].conn);
			pthread_mutex_destroy(&p->slots[i].mu);
		}
		free(p);
	}
	c3_hmap_release(&cli->peers);
	for (int i = 0; cli->ios && i < cli->nio; i++) {
		net__loop_close(&cli->ios[i].lp);
		pthread_mutex_destroy(&cli->ios[i].mu);
	}
	pthread_mutex_destroy(&cli->mu);
	free(cli->ios);
	free(cli->token);
	free(cli->user_token);
	free(cli);
}
