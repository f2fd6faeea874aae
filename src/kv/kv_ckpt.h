/* kv_ckpt.h — checkpoints of an LMDB environment run with MDB_NOSYNC behind a kv_wal log:
 * the one implementation shared by the lmdb backend's sync=wal mode (kv_lmdb.c) and the
 * storage chunk engine's journal (src/storage/chunk.c).  The crash argument is in
 * src/kv/README.md ("lmdb sync=wal").
 *
 * The environment is opened with MDB_NOTLS (the pins are read transactions held beside
 * the owner's own) and MDB_NOSYNC.
 *
 * A checkpoint has two halves:
 *   begin   (the owner's group-commit leader between batches, or open/close alone): pin
 *           the newest LMDB snapshot with a read transaction, copy its two meta pages from
 *           data.mdb, switch log appends to the other file;
 *   finish  (the checkpoint thread, or open/close alone): ops->pre_sync, make the pinned
 *           snapshot durable (mdb_env_sync), write the checkpoint, then drop the previous
 *           pin (its pages may be reused from now on).  A failed finish leaves the log
 *           switched to a file the durable checkpoint does not name: the owner must stop
 *           logging.
 *
 * State machine, guarded by the owner's mutex *mu (cond var *cv):
 *
 *     0 idle --kv_ckpt_claim--> 1 begun by the claimer --kv_ckpt_hand_over(0)--> 2
 *       ^                                        | hand_over(rc < 0)              |
 *       +----------------------------------------+<-- thread: finish, ops->done --+
 *
 * pin, next_pin, metas, seq and file belong to whoever moved the state to 1 and then,
 * in state 2, to the thread; at open and close (no thread running, or state 0 awaited)
 * to the owner.  Thread safety otherwise is the owner's: one claimer at a time. */
#ifndef C3_KV_CKPT_H
#define C3_KV_CKPT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kv/kv_wal.h"

/* offset of mm_txnid in an LMDB 0.9 meta page: page header (16) + magic, version (8)
 * + address, mapsize (16) + 2 MDB_db (96) + last_pg (8); checked at every checkpoint */
#define KV_CKPT_META_TXNID_OFF 144

struct kv_ckpt_ops {
	/* Held around the snapshot's read transaction begin/abort and the meta-page read
	 * (kv_lmdb: the map lock, shared; storage: the lock of writes outside the leader). */
	void (*lock)(void *owner);
	void (*unlock)(void *owner);
	/* The owner's conversion of an LMDB return code. */
	int (*mdb_err)(int mdb_rc);
	/* In finish with pre_sync set, before the snapshot is synced (NULL: nothing): 0 or
	 * an error that fails the checkpoint. */
	int (*pre_sync)(void *owner);
	/* The thread, with *mu held, after each checkpoint it finished: rc 0 or the error. */
	void (*done)(void *owner, int rc);
	/* The thread, with *mu held, when nothing is to finish (NULL: nothing): other work;
	 * true when it did some and may have dropped *mu (the thread looks again). */
	bool (*idle)(void *owner);
};

struct kv_ckpt {
	/* set by the owner before kv_ckpt_init, then immutable */
	const struct kv_ckpt_ops *ops;
	void *owner;
	const char *name;      /* log prefix: "kv lmdb", "target 3" */
	const char *off_hint;  /* what the layout error advises: "sync=wal unusable" */
	int corrupt_rc;        /* returned for a page size, meta page or layout we cannot use */
	pthread_mutex_t *mu;   /* the owner's: guards state and stop */
	pthread_cond_t *cv;    /* the owner's: broadcast at every state change */
	/* set by kv_ckpt_init */
	MDB_env *env;
	struct kv_wal *wal;    /* the owner's log (borrowed) */
	int datafd;            /* data.mdb, read-only */
	uint32_t psize;        /* LMDB page size */
	uint8_t *metas;        /* 2 * psize: the meta pages of next_pin's snapshot */
	MDB_txn *pin;          /* snapshot of the durable checkpoint: its pages are kept */
	MDB_txn *next_pin;     /* snapshot of the checkpoint in progress */
	uint64_t seq;          /* the log position the checkpoint in progress names */
	uint32_t file;
	int state;             /* under *mu: 0 idle, 1 beginning, 2 the thread finishes */
	bool stop;             /* under *mu: the thread ends */
	bool thread;           /* the thread runs (owner) */
	pthread_t thr;
};

/* Page size of env, the meta-page buffer, data.mdb of dirfd opened read-only.  0, -ENOMEM,
 * -errno or corrupt_rc (a page size above KV_WAL_PSIZE_MAX).  kv_ckpt_release undoes it,
 * also after a failure. */
int kv_ckpt_init(struct kv_ckpt *ck, MDB_env *env, int dirfd, struct kv_wal *wal);
/* Aborts the pins, closes data.mdb, frees the buffer (the thread must be stopped); before
 * mdb_env_close. */
void kv_ckpt_release(struct kv_ckpt *ck);

/* The two halves (above).  begin: 0, the owner's mdb_err, -errno or corrupt_rc (the meta
 * pages name another transaction than the snapshot: an LMDB file layout we do not know,
 * logged).  finish: 0 or the error of pre_sync, the sync or the checkpoint write; the
 * snapshot of next_pin becomes pin on success and is dropped on failure. */
int kv_ckpt_begin(struct kv_ckpt *ck);
int kv_ckpt_finish(struct kv_ckpt *ck, bool clean, bool pre_sync);
/* Both, alone (open and close). */
int kv_ckpt_now(struct kv_ckpt *ck, bool clean, bool pre_sync);

/* Starts the thread: 0 or -errno. */
int kv_ckpt_start(struct kv_ckpt *ck);
/* Waits for state 0, stops and joins the thread (nothing when none runs). */
void kv_ckpt_stop(struct kv_ckpt *ck);
/* With *mu held: waits until no checkpoint is in progress. */
void kv_ckpt_wait_idle(struct kv_ckpt *ck);
/* With *mu held: state 0 -> 1 (true), or false when a checkpoint is in progress. */
bool kv_ckpt_claim(struct kv_ckpt *ck);
/* With *mu held, after kv_ckpt_claim and kv_ckpt_begin returned rc: on 0 the thread
 * finishes it (state 2), else the state is idle again. */
void kv_ckpt_hand_over(struct kv_ckpt *ck, int rc);

/* Puts the checkpoint's meta pages back into data.mdb of dirfd (durably): LMDB then opens
 * at its snapshot, whose pages were durable and pinned until a newer checkpoint.
 * 0 or -errno. */
int kv_ckpt_restore_metas(int dirfd, const struct kv_wal_ckpt *c);

#endif
