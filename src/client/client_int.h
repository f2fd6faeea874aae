/* client_int.h — libc3fs internals shared by the files of src/client/.
 *
 * Pieces, each depending only on the ones below it (see README.md, "Layers"):
 *   aio.c       the data path's entry points: c3fs_aio_* (submit, reap), the blocking
 *               c3fs_pread(v)/pwrite(v) (the same operation run on the caller's thread),
 *               the aio service thread (retry rounds, later segments)
 *   file.c      open/create/close/fsync, what a read or write does before and after its
 *               chunk I/O (write-behind waits, O_APPEND, dyn-stripe widening, lengths),
 *               write-behind (c3fs_pwrite_async and its workers)
 *   io.c        the chunk I/O engine: one read or write as segments and rounds of
 *               per-target batches, many RPCs in flight, retries; the first rounds of the
 *               small reads of one submit in shared calls per node; driven by aio.c
 *   stripe.c    pure layout math: a byte range of a file -> per-chunk pieces
 *   meta_ops.c  one function per metadata operation (include/c3fs/c3fs.h)
 *   client.c    the handle: cluster_client (routing), rpc_client, client id, meta calls
 *               with failover, the background thread (session renew, periodic length
 *               sync), the open-inode table, the channel pool
 *
 * Invariants:
 *   - An open inode record (struct client_inode) exists while at least one c3fs_file of
 *     that inode is open in this client; written_end is the highest end offset written
 *     through this client since the last length report or truncate, dirty says whether a
 *     report is owed.
 *   - Every storage write io carries a tag (client id, channel, seq): the channel is held
 *     by exactly one io at a time (from the channel pool), seq grows client-wide, and a
 *     retried io keeps its channel and seq, so the chain head applies it once.
 */
#ifndef C3_CLIENT_INT_H
#define C3_CLIENT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "c3fs/c3fs.h"
#include "cluster/client.h"
#include "cluster/routing.h"
#include "common/buf.h"
#include "net/rpc.h"
#include "proto/meta.h"
#include "proto/storage.h"

#define CLIENT_CHANNELS 1024          /* exactly-once channels (concurrent write ios) */
#define CLIENT_INODE_BUCKETS 256
#define CLIENT_DATTR_SLOTS 64         /* directory attribute cache (direct mapped) */
#define CLIENT_META_HEALTH 16         /* unreachable meta servers tracked at once */
#define CLIENT_RELEASE_DELAY_MS 100   /* a deferred session end waits at most this long */
#define CLIENT_RELEASE_QMAX 4096      /* deferred session ends queued; beyond, close sends them */

/* Attributes of a directory this client just changed, from the change's reply. */
struct client_dattr {
	uint64_t at_ms;               /* monotonic time of the reply; 0 = empty slot */
	struct meta_attr a;
};

/* Per-inode state shared by every open file of that inode in this client.
 * Fields below `lock` are guarded by it; refs and next by client.inodes_lock. */
struct client_inode {
	uint64_t ino;
	int refs;
	struct client_inode *next;    /* hash chain */
	pthread_mutex_t lock;
	struct meta_layout layout;    /* fixed at creation (dyn_stripe grows) */
	uint32_t *perm;               /* layout permutation, layout.stripe entries */
	uint64_t meta_length;         /* length meta reported last */
	uint64_t trunc_ver;           /* newest truncate_ver meta told us; length reports
				       * carry it so meta drops lengths from before a truncate */
	uint64_t written_end;         /* highest end written since last report/truncate */
	bool dirty;                   /* writes not yet reported */
	uint64_t last_write_ns;       /* wall clock of the last write (mtime hint) */
	uint64_t last_report_ms;      /* monotonic time of the last length report */
	uint64_t write_gen;           /* bumped by every write (a report clears dirty only
				       * when no write raced with it) */
	uint64_t sync_session;        /* a write session to report through (0 = none) */
	struct c3fs_cred sync_cred;   /* its opener */
	/* write-behind (c3fs_pwrite_async), also under lock */
	struct client_wjob *wjobs;    /* queued or running writes, in submission order */
	struct client_wjob *wjobs_tail;
	uint64_t wbytes;              /* bytes in wjobs */
	uint64_t pending_end;         /* highest end among wjobs (0 when none) */
	int werr;                     /* first error of a write-behind job not yet reported */
	pthread_cond_t wcv;           /* signalled whenever a job finishes */
};

/* One write-behind job: a copy of the data, written by a worker thread.  Jobs of one
 * inode that overlap run in submission order; others run in parallel. */
struct client_wjob {
	struct client_wjob *next;     /* in the inode's list (under inode lock) */
	struct client_wjob *qnext;    /* in the client's queue (under wq_lock) */
	struct c3fs_file *f;          /* outlives the job: close drains first */
	uint64_t off, len, seq;
	char *buf;
	uint64_t cap;                 /* bytes allocated at buf */
	bool started;                 /* a worker is writing it: no more appends (inode lock) */
};

/* Sequential small writes are appended to the inode's last queued job while no worker has
 * started it, up to this many bytes: one storage update per chunk instead of one per
 * write(2) (each update costs a replicated, synced commit). */
#define CLIENT_WJOB_COALESCE_MAX (4u << 20)

struct c3fs_client {
	struct c3fs_client_opts opts; /* strings below are owned copies; the three settings
				       * c3fs_client_reconfigure changes are read through
				       * client__setting() */
	char *mgmtd_addrs;
	char *token;
	struct cluster_client *cc;
	struct rpc_client *rpc;
	uint64_t client_id;           /* random, nonzero: meta idempotency + storage tags */
	uint64_t meta_seq;            /* atomic */
	uint64_t tag_seq;             /* atomic */
	unsigned meta_rr;             /* atomic: round-robin over meta nodes */
	/* meta servers that failed at the transport level: skipped while another answers,
	 * probed by the background thread (client.c, "meta health") */
	pthread_mutex_t mh_lock;
	struct client_meta_health {
		char addr[ROUTING_ADDR_MAX]; /* "" = free slot */
		uint64_t down_since_ms;      /* monotonic */
	} mh[CLIENT_META_HEALTH];

	/* exactly-once channel pool */
	pthread_mutex_t chan_lock;
	pthread_cond_t chan_cv;
	uint32_t chan_free[CLIENT_CHANNELS];
	uint32_t chan_nfree;
	uint64_t chan_gen;            /* bumped by every put (atomic read outside chan_lock) */

	/* open inodes */
	pthread_mutex_t inodes_lock;
	struct client_inode *inodes[CLIENT_INODE_BUCKETS];

	/* write-behind workers: FIFO queue of jobs (all inodes) */
	pthread_mutex_t wq_lock;
	pthread_cond_t wq_cv;
	struct client_wjob *wq_head, *wq_tail;
	bool wq_stop;
	pthread_t *workers;
	int nworkers;
	uint64_t wseq;                /* under wq_lock */

	/* background thread */
	pthread_t bg;
	pthread_mutex_t bg_lock;
	pthread_cond_t bg_cv;
	bool bg_stop;
	bool bg_started;
	uint64_t session_timeout_ms;  /* from RENEW replies */

	/* sessions of handles closed with nothing to report, ended in batches (RELEASE) by
	 * the background thread within CLIENT_RELEASE_DELAY_MS (or at c3fs_client_free) */
	pthread_mutex_t rel_lock;
	struct meta_sess_ref *rel;    /* queue, rel_cap entries */
	uint32_t rel_n, rel_cap;
	uint64_t rel_first_ms;        /* monotonic time the oldest queued entry was added */

	/* the aio service thread (aio.c): starts the rounds of asynchronous I/Os that must not
	 * run on an RPC I/O thread (a retry after a back-off or a routing refresh, the next
	 * segment) and segments that wait for channels.  All under svc_lock. */
	pthread_mutex_t svc_lock;
	pthread_cond_t svc_cv;
	struct client_aop *svc_q;     /* waiting for their time (any order) */
	struct client_aop *svc_chanq; /* waiting for free channels */
	bool svc_stop;
	bool svc_started;
	pthread_t svc;

	/* directory attributes from this client's own changes (opts.dir_attr_ttl_ms) */
	pthread_mutex_t dattr_lock;
	uint64_t dattr_gen;           /* bumped by every drop: a reply to a request sent
				       * before a drop is not cached (it may predate it) */
	struct client_dattr dattr[CLIENT_DATTR_SLOTS];
};

/* A setting that may change while the client runs (c3fs_client_reconfigure): read it
 * atomically, e.g. client__setting(cl, write_wait_ms). */
#define client__setting(cl, field) \
	__atomic_load_n(&(cl)->opts.field, __ATOMIC_RELAXED)

struct c3fs_file {
	struct c3fs_client *cl;
	struct client_inode *inode;   /* reference held until close */
	uint64_t ino;
	uint64_t session_id;          /* 0 = no session (read-only opens) */
	int flags;                    /* open(2) flags */
	bool can_read, can_write;
	struct c3fs_cred cred;        /* the opener's identity (for dyn-stripe widening) */
	struct meta_attr attr;        /* as of open / the last report through this file
				       * (guarded by inode->lock) */
};

/* ---- meta_ops.c ---- */
/* Name the entry (parent, name) in a request's fields *req_parent, *req_name and
 * *req_name_len (name is borrowed: it must outlive the request's encoding).  Returns 0,
 * or -EINVAL (name NULL) / -ENAMETOOLONG (over META_NAME_MAX) with nothing set. */
int client__entry_name(uint64_t parent, const char *name, uint64_t *req_parent,
		       const char **req_name, uint32_t *req_name_len);

/* ---- client.c ---- */
/* Fill hdr with cr (NULL = root), the client id and, when idem, a new sequence number. */
void client__hdr(struct c3fs_client *cl, const struct c3fs_cred *cr, bool idem,
		 struct meta_hdr *hdr);
/* Send an encoded meta request to a meta node, failing over to other meta nodes on
 * transport errors (same payload: an idempotent request keeps its seq).  resp receives
 * the reply payload on success (caller releases; may be NULL).  Returns the status. */
int client__meta_call(struct c3fs_client *cl, uint16_t type, const struct c3_buf *req,
		      struct c3_buf *resp);
/* Convert attributes from the wire and merge this client's unreported writes. */
void client__attr_from_meta(struct c3fs_client *cl, const struct meta_attr *m,
			    struct c3fs_attr *out);
/* Find or create the open-inode record for attr (takes a reference).  NULL on ENOMEM or
 * a bad layout (*err says which). */
struct client_inode *client__inode_get(struct c3fs_client *cl, const struct meta_attr *attr,
				       int *err);
/* Find the record of ino with a reference, or NULL when it is not open here. */
struct client_inode *client__inode_find(struct c3fs_client *cl, uint64_t ino);
void client__inode_put(struct c3fs_client *cl, struct client_inode *in);
/* Exactly-once channels: take n (<= CLIENT_IO_SEG_PIECES) at once into out, all or none
 * (so two takers never hold part of what each needs).  With wait, blocks until n are
 * free and returns 0; without, returns -EAGAIN when fewer are free.  Putting channels
 * back wakes the aio service when segments wait for them. */
int client__chan_take(struct c3fs_client *cl, uint32_t *out, int n, bool wait);
void client__chan_put(struct c3fs_client *cl, uint32_t chan);
/* Length report of an open inode through session (META_T_SYNC or META_T_CLOSE).
 * Clears dirty on success.  *out (may be NULL) receives the reply's attributes; out->ino
 * stays 0 when there was no reply (SYNC with nothing to report). */
int client__report_length(struct c3fs_client *cl, struct client_inode *in, uint16_t type,
			  const struct c3fs_cred *cr, uint64_t session_id, struct meta_attr *out);

/* If ino is open here, wait for its queued writes; if it then has unreported writes,
 * report its length now (through a write session of this client).  Before a truncate: meta cuts chunks only below the length it
 * knows.  Returns 0 or the report's error. */
int client__flush_length(struct c3fs_client *cl, uint64_t ino);

/* Session ends deferred to the background thread: queue (ino, session) of a handle closed
 * with nothing to report (one RELEASE transaction for many closes).  With
 * CLIENT_RELEASE_QMAX ends queued the caller sends them itself.  client__release_flush
 * sends what is queued now. */
void client__release_defer(struct c3fs_client *cl, uint64_t ino, uint64_t session_id);
void client__release_flush(struct c3fs_client *cl);

/* Sleep ms, in steps of at most 100 ms that ask opts.interrupted (when set) first and
 * after each step: true = interrupted (the caller gives up with -EINTR). */
bool client__wait_interruptible(struct c3fs_client *cl, uint64_t ms);

/* Directory attribute cache (no-op when opts.dir_attr_ttl_ms == 0).  A change request
 * takes client__dattr_gen() before it is sent and passes it to client__dattr_put with the
 * directory's attributes from the reply (a->ino == 0: nothing to cache); the put is
 * ignored when a drop happened in between or the slot holds newer attributes.
 * client__dattr_drop(cl, ino) forgets ino (0 = everything): every change through this
 * client that alters a directory's attributes without reporting them calls it after the
 * reply.  client__dattr_get copies fresh attributes of ino (true) or says there are none. */
uint64_t client__dattr_gen(struct c3fs_client *cl);
void client__dattr_put(struct c3fs_client *cl, uint64_t gen, const struct meta_attr *a);
void client__dattr_drop(struct c3fs_client *cl, uint64_t ino);
bool client__dattr_get(struct c3fs_client *cl, uint64_t ino, struct meta_attr *out);

/* ---- file.c ---- */
void *client__wworker_main(void *arg);
/* Wait until no write-behind job of in overlapping [off, off+len) is queued or running
 * (len 0 = all jobs).  With take_err, return and clear the inode's sticky error. */
int client__wait_writes(struct client_inode *in, uint64_t off, uint64_t len, bool take_err);
/* The same, ending with -EINTR when the wait has lasted CLIENT_WAIT_INTR_MS and
 * cl->opts.interrupted says so (cl NULL or no hook: as client__wait_writes). */
#define CLIENT_WAIT_INTR_MS 2000
int client__wait_writes_intr(struct c3fs_client *cl, struct client_inode *in, uint64_t off,
			     uint64_t len, bool take_err);
/* Before a read of [off, off+len) of f (len > 0): wait for the inode's queued writes
 * overlapping it; *known = the length this client knows now (c3fs_file_size_hint). */
void client__file_read_prep(struct c3fs_file *f, uint64_t off, uint64_t len, uint64_t *known);
/* The bytes a read of [off, off+len) returns when the chunks held data up to data_end and
 * the length known before the read was known: short only at the end of the file. */
uint64_t client__file_read_result(uint64_t off, uint64_t len, uint64_t known, uint64_t data_end);
/* Before a write of len (> 0) bytes at *off of f: -EBADF (read-only open), O_APPEND
 * (*off = the end of the file as known here, unless at_off), -EFBIG, and widening the
 * file's dyn_stripe in meta when the write reaches chains it does not use yet (a meta
 * call).  0 or error. */
int client__file_write_prep(struct c3fs_file *f, uint64_t *off, uint64_t len, bool at_off);
/* After a successful write that ended at end: the inode's written_end, dirty, mtime hint
 * and the session its length is reported through. */
void client__file_write_done(struct c3fs_file *f, uint64_t end);

/* ---- stripe.c ---- */
/* One contiguous part of an I/O that lies in one chunk. */
struct client_piece {
	uint64_t chunk_index;
	uint32_t chunk_off;           /* offset inside the chunk */
	uint32_t len;
	uint64_t buf_off;             /* offset of this piece in the caller's byte range */
	uint32_t chain_id;
};
/* Split [off, off+len) of a file with layout l into pieces (one per chunk touched, in
 * file order) and map each to its chain through perm and the chain table (chains,
 * nchains).  Returns the number of pieces, or -C3FS_EBADLAYOUT (stripe > nchains, chunk
 * index beyond what a chunk id holds), -ENOMEM when more than max pieces are needed. */
int client__stripe_plan(const struct meta_layout *l, const uint32_t *perm,
			const uint32_t *chains, uint32_t nchains, uint64_t off, uint64_t len,
			struct client_piece *out, int max);
/* Number of chunks touched by [off, off+len) (len > 0). */
uint64_t client__stripe_nchunks(uint32_t chunk_size, uint64_t off, uint64_t len);
/* Slice bytes [from, from+n) of the byte stream described by iov into out (at most max
 * entries).  Returns the count, or -EINVAL when the range is beyond the iovecs or more
 * than max entries are needed. */
int client__iov_slice(const struct iovec *iov, int iovcnt, uint64_t from, uint64_t n,
		      struct iovec *out, int max);
/* The replica to read from among n (n >= 1) with loads[i] calls in flight on its node:
 * the least loaded, ties in the order start, start+1, ... (mod n); replica avoid (an index,
 * or -1) only when it is the only one.  Returns its index. */
uint32_t client__pick_replica(const unsigned *loads, uint32_t n, uint32_t start, int avoid);

/* ---- io.c ---- */
#define CLIENT_IO_SEG_PIECES 64 /* pieces (chunks) per segment; <= STORAGE_MAX_BATCH */

/* Shared READ calls (client__io_rounds_start): at most this many ios and bytes per call,
 * the storage service's rule for serving a READ inline on its network I/O thread with all
 * ios read in parallel (src/storage/service.c svc_on_read: SVC_READ_INLINE_MAX bytes and
 * 16 ios; a bigger batch goes to a worker that reads its ios one after another).  Keep the
 * two in step.  A read whose segment is longer than CLIENT_READ_SHARE_BYTES does not share. */
#define CLIENT_READ_SHARE_IOS 16
#define CLIENT_READ_SHARE_BYTES (64u << 10)
#define CLIENT_READ_SHARE_IOV 64      /* reply iovecs per shared call (the RPC's limit) */

struct client_io_shared;

/* One chunk piece of a segment. */
struct client_io_piece {
	struct client_piece p;
	struct iovec *iov;            /* slices of the caller's buffers */
	int niov;
	bool done;
	int err;                      /* last error (0 = none yet) */
	uint32_t bad_target;          /* read: replica that failed last */
	uint32_t tries;
	uint32_t chan;                /* write: exactly-once channel (0 = none) */
	uint64_t seq;
	uint32_t data_len;            /* read: data bytes returned */
	/* read, first round of a submitted batch: the shared call the piece rides in (NULL =
	 * none) and its entry there; set before the call starts, cleared when the io takes
	 * the result (io_round_finish) */
	struct client_io_shared *sh;
	int sh_slot;
};

/* One RPC of a round: the pieces sent to one target. */
struct client_io_batch {
	struct rpc_call call;         /* first: the done callback finds the batch from it */
	struct client_io *io;
	struct c3_buf req;
	uint32_t target_id;
	uint32_t node_id;
	char addr[ROUTING_ADDR_MAX];
	int idx[CLIENT_IO_SEG_PIECES];
	uint32_t vers[CLIENT_IO_SEG_PIECES];
	int n;
	uint64_t bytes;
	struct iovec *bulk;
	int nbulk;
	bool started;
};

/* One storage READ call shared by the first rounds of several reads (one
 * c3fs_aio_submit): the pieces of many ios that go to one storage node, each entry naming
 * its own target and chain version.  Built and started by client__io_rounds_start; its
 * completion (RPC I/O thread) decodes the reply into rc/rsp and then counts down `pending`
 * of each entry's io once per entry.  Each io takes its entries' results in its own round
 * end, exactly as for its own calls, and drops one reference per entry; the last drop
 * frees the call.  Nothing here is written after the call started except rc and rsp (by
 * the completion, before any pending count goes down) and refs. */
struct client_io_share_entry {
	struct client_io *io;
	int piece;                    /* index into io->pc */
	uint32_t target_id;
	uint32_t chain_ver;
};
struct client_io_shared {
	struct rpc_call call;         /* first: the done callback finds the call from it */
	struct c3_buf req;
	uint32_t node_id;
	char addr[ROUTING_ADDR_MAX];
	struct client_io_share_entry ent[CLIENT_READ_SHARE_IOS];
	int n;
	uint32_t bytes;
	struct iovec bulk[CLIENT_READ_SHARE_IOV]; /* reply bulk: the entries' slices, in order */
	int nbulk;
	int rc;                       /* outcome for every entry: 0 = rsp holds one result each */
	struct storage_batch_rsp rsp;
	atomic_int refs;              /* entries whose io has not taken its result yet */
};

/* One read or write of a byte range of an open inode, as the engine runs it: the range in
 * segments of at most CLIENT_IO_SEG_PIECES chunks, one after the other; each segment in
 * rounds until every piece is done (or a fatal error, or opts.write_wait_ms after the
 * segment began).  A driver (aio.c) calls, in this order:
 *   client__io_init, then per segment client__io_seg_next (1 = planned), then rounds:
 *   client__io_round_start, client__io_round_end (when the round is over) until it says
 *   the segment is complete; finally client__io_release.
 * One thread at a time drives an io; the RPC completions of an asynchronous round only
 * count down `pending`, the last one calls round_done (on an RPC I/O thread). */
struct client_io {
	struct c3fs_client *cl;
	struct client_inode *in;      /* the caller keeps its reference */
	bool write;
	const struct iovec *iov;      /* the caller's buffers, valid until the io is over */
	int iovcnt;
	uint64_t off, len;
	uint64_t data_end;            /* read: offset past the last data byte returned (0 = none) */
	uint64_t hole_at;             /* read: lowest offset a replica had no bytes for, inside
				       * a piece (UINT64_MAX = none): a hole, or the end of file */
	/* current segment: [off + seg_off, + seg_len) */
	uint64_t seg_off, seg_len;    /* seg_len 0 = none planned */
	struct client_io_piece pc[CLIENT_IO_SEG_PIECES];
	int npc;
	struct iovec *slices;
	uint64_t deadline_ms;         /* monotonic: the segment gives up after */
	uint64_t backoff_ms;
	/* current round */
	struct client_io_batch *bts;
	int nbt;
	int done_before;              /* pieces done when the round began */
	int round_err;                /* -ENOMEM building the round */
	atomic_int pending;           /* async: own calls in flight, plus pieces in shared
				       * calls not completed (+1 while starting) */
	bool need_refresh;            /* a piece failed in a way that wants new routing */
	uint64_t routing_seen;        /* highest routing version servers mentioned */
	/* results of client__io_round_end returning 1 */
	uint64_t retry_delay_ms;      /* wait this long before the next round (0 = none) */
	void (*round_done)(struct client_io *io); /* async rounds only */
};

void client__io_init(struct client_io *io, struct c3fs_client *cl, struct client_inode *in,
		     bool write, const struct iovec *iov, int iovcnt, uint64_t off, uint64_t len);
/* Finish the current segment (its channels go back) and plan the next one.  1 = planned,
 * 0 = the whole range is done, -EAGAIN = (!wait) not enough free channels for it now
 * (nothing held: call again), other negative codes = the io fails with it. */
int client__io_seg_next(struct client_io *io, bool wait);
/* Start a round over the pending pieces of the segment.  async: the calls complete on
 * RPC I/O threads; returns false when io->round_done will be called, true when the round
 * is over already (every start failed: the caller goes on with client__io_round_end).
 * !async: waits for every call and returns true. */
bool client__io_round_start(struct client_io *io, bool async);
/* Start the first rounds of the n (<= CLIENT_IO_ROUNDS_MAX) asynchronous ios (just planned by client__io_seg_next,
 * no round run yet) at once: the reads whose segment is at most CLIENT_READ_SHARE_BYTES
 * put their pieces in shared calls, one per storage node (more when one holds more than
 * CLIENT_READ_SHARE_IOS ios or CLIENT_READ_SHARE_BYTES); the other ios start as with
 * client__io_round_start(io, true).  over[i] = what client__io_round_start would return
 * for ios[i] (true: the caller goes on with client__io_round_end; false: round_done will
 * be called, and ios[i] may be gone already). */
#define CLIENT_IO_ROUNDS_MAX 256      /* ios per client__io_rounds_start */
void client__io_rounds_start(struct client_io **ios, int n, bool *over);
/* Take the round's results.  0 = the segment is complete; 1 = another round is needed
 * after io->retry_delay_ms (and a routing refresh first when io->need_refresh); or the
 * negative code the io fails with (a fatal error, or the segment's deadline passed). */
int client__io_round_end(struct client_io *io);
/* Give back the current segment's channels and memory (any time no round is running). */
void client__io_release(struct client_io *io);

/* ---- aio.c ---- */
struct client_aop;
/* Start / stop the aio service thread (c3fs_client_new / c3fs_client_free). */
int client__aio_start(struct c3fs_client *cl);
void client__aio_stop(struct c3fs_client *cl);
/* c3fs_pwritev at exactly off, even on an O_APPEND open (punch.c's zeros). */
ssize_t client__pwritev_at(struct c3fs_file *f, const struct iovec *iov, int iovcnt,
			   uint64_t off);
#define CLIENT_REFRESH_MS 1000        /* a routing refresh waits at most this long */

/* ---- punch.c ---- */
/* What punching [off, end) of a file of size bytes does: chunks [rm_begin, rm_end) are
 * removed (none when rm_begin == rm_end), and the nzero byte ranges zero_off[i] +
 * zero_len[i] (parts of partly covered chunks, below size) are overwritten with zeros. */
struct client_punch_plan {
	uint64_t rm_begin, rm_end;
	uint64_t zero_off[2], zero_len[2];
	int nzero;
};
void client__punch_plan(uint32_t chunk_size, uint64_t size, uint64_t off, uint64_t end,
			struct client_punch_plan *p);

#endif
