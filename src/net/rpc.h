/* rpc.h — the one RPC layer of c3fs: framed request/response over persistent connections.
 *
 * Wire frame (all little-endian), see docs/PROTOCOL.md:
 *   u32 magic 0x53463343 ("C3FS")  u8 version (1)  u8 flags  u16 type
 *   u64 request id  u32 payload_len  u32 bulk_len  i32 status  u32 timeout_ms
 *   u32 header crc32c (over the 32 bytes before it)
 *   then payload_len bytes of codec-encoded payload, then bulk_len bytes of raw bulk data.
 * Bulk data (chunk contents) is sent with writev straight from the caller's iovecs and
 * received straight into the caller's buffers: no user-space copy on either side.
 *
 * Message type ranges: 1-99 core (1 auth, 2 ping, 3 echo), 100-199 mgmtd, 200-299 meta,
 * 300-399 storage, 400-499 client agent.  Each proto/<service>.h lists its own.
 *
 * Authentication: the first frame on every connection is RPC_T_AUTH carrying the cluster
 * token; anything else first, a wrong token, or an unauthenticated frame over 16 KiB is
 * answered with -C3FS_EAUTH, logged, and the connection closed.  The frame may carry a
 * user token after it (rpc_client_opts.user_token): the server keeps it with the
 * connection for the handlers (rpc_req_user_token) and does not check it itself.
 *
 * Errors: every function returns 0 or a negative code (errors.h).  A call fails with
 *   -C3FS_ETIMEDOUT   its deadline passed (the late reply, if any, is discarded)
 *   -C3FS_EPEERCLOSED the connection died with the call in flight
 *   -C3FS_ECONNECT    no connection could be made
 *   -C3FS_EAUTH       the server refused our token
 *   -C3FS_ETOOBIG     reply bulk larger than the buffers given
 *   or the status the server's handler replied with (any negative code).
 */
#ifndef C3_NET_RPC_H
#define C3_NET_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/buf.h"
#include "common/hmap.h"

#define RPC_T_AUTH 1
#define RPC_T_PING 2 /* empty request, empty reply (served inline by every server) */
#define RPC_T_ECHO 3 /* reply = request payload and bulk (for tests and benchmarks) */

#define RPC_MAX_PAYLOAD_DEFAULT (16u << 20)  /* 16 MiB */
#define RPC_MAX_BULK_DEFAULT    (256u << 20) /* 256 MiB */
#define RPC_MAX_UNAUTH_FRAME    (16u << 10)  /* 16 KiB before authentication */
#define RPC_HEADER_BYTES 36

/* ------------------------------------------------------------------ server */

struct rpc_server;

struct rpc_server_opts {
	const char *listen;       /* "ip:port"; port 0 picks a free port (see rpc_server_port) */
	const char *token;        /* cluster token every client must present; NULL/"" = none */
	int io_threads;           /* epoll threads reading frames; default 2 */
	int workers;              /* handler threads; default 16 */
	uint32_t max_payload;     /* default RPC_MAX_PAYLOAD_DEFAULT */
	uint32_t max_bulk;        /* default RPC_MAX_BULK_DEFAULT */
	/* Admission (see README.md, "Admission").  Authenticated connections: at most
	 * max_conns (default 4096); more are answered -C3FS_EBUSY and closed, at accept or
	 * at authentication.  Connections that have not authenticated yet have their own cap,
	 * max_unauth_conns (default 256) per server and max_unauth_per_addr (default 64) per
	 * source address: a new connection over either sheds the oldest unauthenticated one
	 * (of that address, for the per-address cap) with -C3FS_EBUSY, so a flood of idle
	 * sockets never keeps out a client that authenticates. */
	int max_conns;
	int max_unauth_conns;
	int max_unauth_per_addr;
	uint32_t auth_timeout_ms; /* unauthenticated connections closed after; default 2000 */
};

/* One incoming request, owned by the server until rpc_reply() is called on it.
 * payload and bulk are valid until then.  bulk is 4096-byte aligned (O_DIRECT-friendly)
 * and may be modified by the handler. */
struct rpc_req {
	uint16_t type;
	uint64_t id;
	const uint8_t *payload;
	size_t payload_len;
	uint8_t *bulk;
	size_t bulk_len;
	uint64_t deadline_ns;     /* c3_now_ns() time after which the caller has given up */
	char peer[48];            /* "ip:port" of the caller */
	bool on_io_thread;        /* the handler runs inline on the I/O thread
				   * (RPC_HANDLER_INLINE); false on a worker */
	void *server_private;
};

#define RPC_USER_TOKEN_MAX 128 /* with the NUL */

/* The user token the client presented when it authenticated the connection (the first
 * RPC_T_AUTH frame), "" when none.  Valid as long as req. */
const char *rpc_req_user_token(const struct rpc_req *req);
/* One 64-bit word per connection for the handlers (0 at connect): e.g. which user the
 * connection's token was found to be, so it is looked up once per connection.  Atomic:
 * requests of one connection may run on several threads at once. */
uint64_t rpc_req_conn_slot(const struct rpc_req *req);
void rpc_req_set_conn_slot(struct rpc_req *req, uint64_t value);

/* A handler must call rpc_reply() exactly once, now or later from any thread (it may
 * hand the request to another thread and reply when done). */
typedef void (*rpc_handler_fn)(struct rpc_req *req, void *ctx);

#define RPC_HANDLER_INLINE 1u /* run on the I/O thread: only for handlers that never block */

/* From an inline handler (req->on_io_thread), instead of replying: queue req for a worker
 * thread, which calls the handler again with on_io_thread false.  For a handler that finds
 * out only while it runs that the request would block (e.g. a read that is not cached).
 * The handler must not touch req afterwards. */
void rpc_req_defer(struct rpc_req *req);

/* From an inline handler (on an I/O thread): watch fd (level-triggered EPOLLIN) on that
 * I/O thread for as long as the thread runs.  on_ready(arg) runs on it whenever fd is
 * readable; on_stop(arg) (may be NULL) runs on it once when the server stops, after the
 * last request has been read and before the thread ends, so that work started from its
 * handlers can be finished (e.g. replies to requests whose disk reads were submitted
 * asynchronously: rpc_server_free waits for every request's reply).  Both must not block
 * for long.  For a handler that completes requests on the I/O thread that received them
 * (the storage service's io_uring reads).  0, -EINVAL (not on an I/O thread), -ENOSPC
 * (SRV_WATCH_MAX watches on this thread already) or -errno of epoll_ctl. */
int rpc_io_watch(int fd, void (*on_ready)(void *arg), void (*on_stop)(void *arg), void *arg);

/* Names of message types for the servers' per-type metrics: with a namer set, each type's
 * series carry name="..." beside type="N" (e.g. c3_msg_name of src/proto/msg.h, which net
 * cannot call itself: proto builds on net).  Set once at start-up, before any server
 * exists; NULL (the default) = numbers only.  The name must be a static string without
 * quotes or backslashes. */
void rpc_set_type_namer(const char *(*name_of)(uint16_t type));

/* Returns 0, or -C3FS_ECONFIG (bad address), -errno (bind/listen) with nothing to free. */
int rpc_server_new(const struct rpc_server_opts *opts, struct rpc_server **out);
/* Register before rpc_server_start().  -EEXIST if the type already has a handler;
 * -EINVAL for type 0, RPC_T_AUTH, types above 1023 (RPC_TYPE_MAX in net/frame.h) or
 * unknown flags.  RPC_T_PING and RPC_T_ECHO are registered by rpc_server_new. */
int rpc_server_register(struct rpc_server *srv, uint16_t type, rpc_handler_fn fn, void *ctx,
			unsigned flags);
int rpc_server_start(struct rpc_server *srv);
/* The bound port (useful with port 0). */
int rpc_server_port(const struct rpc_server *srv);
/* Stop accepting, close connections, wait for running handlers, free everything.
 * Requests still queued are answered with -C3FS_ESHUTDOWN.  Requests a handler handed to
 * another thread must still be replied to: rpc_server_free waits for those replies. */
void rpc_server_free(struct rpc_server *srv);

/* Send the reply: status 0 or a negative code; payload may be sent with an error status
 * too (e.g. a redirect).  bulk iovecs are written without copying; they only need to
 * stay valid until rpc_reply returns.  Frees req.  Returns 0, or a negative code when the
 * connection is gone (the reply is dropped; req is freed anyway). */
int rpc_reply(struct rpc_req *req, int status, const void *payload, size_t payload_len,
	      const struct iovec *bulk, int nbulk);
/* Convenience: rpc_reply with the encoded contents of buf (NULL = empty). */
int rpc_reply_buf(struct rpc_req *req, int status, const struct c3_buf *buf);

/* ------------------------------------------------------------------ client */

struct rpc_client;

struct rpc_client_opts {
	const char *token;            /* cluster token presented on every connection */
	const char *user_token;       /* user token sent with it (NULL/"" = none), at most
				       * RPC_USER_TOKEN_MAX - 1 bytes */
	int conns_per_peer;           /* connections per server address; default 2 */
	uint32_t connect_timeout_ms;  /* default 2000 */
	uint32_t max_payload;         /* largest reply payload accepted; default as server */
	int io_threads;               /* default 1 */
};

int rpc_client_new(const struct rpc_client_opts *opts, struct rpc_client **out);
/* Fails every call in flight with -C3FS_ESHUTDOWN (callbacks run), closes, frees. */
void rpc_client_free(struct rpc_client *cli);

/* One call.  The caller owns it and keeps it (and everything it points to) alive until it
 * completes. */
struct rpc_call {
	/* request */
	uint16_t type;
	const void *payload;
	size_t payload_len;
	const struct iovec *bulk;     /* request bulk, may be NULL */
	int nbulk;                    /* at most 64 */
	uint32_t timeout_ms;          /* 0 = default 10000 */
	/* where the reply bulk goes; a reply with more bulk fails with -C3FS_ETOOBIG */
	const struct iovec *resp_bulk;
	int nresp_bulk;
	/* completion: called exactly once from an I/O thread after a successful start, never
	 * after a failed start.  NULL = use rpc_call_wait(). */
	void (*done)(struct rpc_call *call);
	void *arg;
	/* results, valid after completion */
	int status;                   /* 0, the server's status, or a transport error */
	struct c3_buf resp;           /* reply payload (caller releases with c3_buf_release) */
	size_t resp_bulk_len;         /* bytes placed into resp_bulk */
	/* private */
	uint64_t priv_id;
	uint64_t priv_deadline_ns;
	int priv_done;
	void *priv_conn;
	struct rpc_call *priv_next;
	struct c3_hmap_node priv_hn;  /* in the connection's table of calls in flight */
};

/* Zero the call and set its request fields. */
void rpc_call_init(struct rpc_call *call, uint16_t type, const void *payload, size_t len);

/* Send asynchronously to addr ("ip:port").  0 = started (completion will come), or a
 * negative code (nothing will be called back; the call is left completed with that
 * status, so rpc_call_wait on it would return it at once). */
int rpc_call_start(struct rpc_client *cli, const char *addr, struct rpc_call *call);
/* Block until a call started with done == NULL completes; returns call->status.
 * Every call started with done == NULL must be waited for exactly once (until then it
 * holds a reference on its connection).  The waiting thread usually reads the reply off
 * the socket itself (no hand-off through the client's io thread); it never runs other
 * calls' done callbacks, those always run on an io thread. */
int rpc_call_wait(struct rpc_call *call);

/* rpc_call_start + rpc_call_wait for a call with done == NULL (else -EINVAL), with the
 * calling thread reading the reply from the moment the request leaves (the fastest way
 * to make one blocking call).  Returns the call's status or the start error; like a
 * waited call, call->resp must be released afterwards. */
int rpc_call_run(struct rpc_client *cli, const char *addr, struct rpc_call *call);

/* Synchronous convenience: start + wait.  Returns the status; *resp receives the reply
 * payload (may be NULL to discard it). */
int rpc_call_sync(struct rpc_client *cli, const char *addr, uint16_t type, const void *req,
		  size_t req_len, struct c3_buf *resp, uint32_t timeout_ms);

#endif
