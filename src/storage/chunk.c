/* chunk.c — the chunk engine (see chunk.h for the contract, README.md for the layout).
 *
 * Invariants:
 *  - LMDB holds exactly the committed version of every chunk; its record names the file
 *    generation (gen) whose bytes [0, len) are that version, and one CRC32C per block of
 *    those bytes.  Bytes of that file at or past len belong to nobody.
 *  - A file generation is only ever modified at offsets >= the length of every version
 *    that refers to it (in-place appends); anything else writes a new generation (COW).
 *  - Before a record naming a generation is committed, that file's data is fdatasync'd
 *    and, for a new file, its directory is fsync'd — or, with the journal, the bytes of
 *    the update are in the same log record as the metadata and every other byte of the
 *    file is durable or in an earlier record (README.md, "Commit =").  The old generation
 *    is unlinked only after the commit.  Files no committed record names are garbage:
 *    removed at open (after the journal's replay).
 *  - Journal: LMDB runs MDB_NOSYNC; a batch is durable when its log record is.  A
 *    checkpoint pins an LMDB snapshot, syncfs's the target's file system, syncs LMDB and
 *    only then lets the log and the snapshot's pages be reused.
 *  - The pending version lives in the chunk's slot (memory), guarded by the chunk lock.
 *  - cs->mu guards the slot table; slot fields are changed only by the lock holder, but
 *    readers of pending state (stat/list) take cs->mu, so the holder also takes cs->mu
 *    when it installs or drops a pending version.
 *  - Everything created here is private to the service user: directories 0700, chunk
 *    files, TARGET and the LMDB files 0600, passed to mkdir/open/mdb_env_open (a umask can
 *    only narrow them; nothing is chmod-ed afterwards).
 */
#include "storage/chunk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/check.h"
#include "common/crc32c.h"
#include "common/errors.h"
#include "common/hmap.h"
#include "common/log.h"
#include "common/vec.h"
#include "kv/kv_ckpt.h"
#include "kv/kv_wal.h"
#include "net/codec.h"
#include "storage/chunk_int.h"
#include "storage/chunk_io.h"
#include "storage/journal.h"

#define CHUNK_NBUCKETS 4096
#define CHUNK_NDIRS 256
#define CHUNK_REC_FORMAT 1
#define CHUNK_REC_F_CORRUPT 1u
#define CHUNK_KEY_BYTES 12
#define CHUNK_MAX_CRCS 1024
#define CHUNK_READ_RETRIES 8
#define CHUNK_FD_BUCKETS 1024
#define CHUNK_FD_MAX 512           /* open chunk files kept for readers (per target) */
#define CHUNK_JDATA_DEFAULT (128u << 10) /* storage.journal_data_max */
#define CHUNK_CKPT_BYTES (32u << 20)     /* log bytes that start a checkpoint */
#define CHUNK_CKPT_BATCHES 4096          /* ... or log records */

/* One version's description: committed (decoded from LMDB) or pending (in a slot). */
struct chunk_ver {
	uint64_t ver;
	uint64_t gen;          /* file generation; 0 = no file (length 0) */
	uint32_t len;
	uint32_t chunk_size;
	uint32_t block_size;
	uint32_t chain_ver;
	uint32_t flags;        /* CHUNK_REC_F_* */
	uint32_t ncrc;
	uint32_t *crcs;        /* owned, ncrc entries */
	bool removed;          /* pending removal */
	bool synced;           /* pending: its bytes (and new file name) are durable already */
	bool fsynced;          /* pending: this engine fdatasync'd its file (journal: 'F' op) */
	bool no_file_sync;     /* pending, journal on: its bytes are in the log or were durable
				* already (journaled, or a shrink of the committed version) */
	bool journaled;        /* pending: its bytes go into the commit's log record */
	uint32_t jkeep, joff, jlen; /* journaled bytes: keep [0, jkeep) of the file, write */
	uint8_t *jdata;        /* jlen bytes (owned) at joff, size := len */
};

struct chunk_slot {
	struct chunk_id id;
	struct c3_hmap_node hn;    /* in cs->slots */
	bool locked;
	int waiters;
	pthread_cond_t cv;
	bool has_pending;
	struct chunk_ver pending;
	uint64_t retired_ver;  /* highest version staged here and dropped uncommitted (0: none
				* above the committed one); see chunk_info.retired_ver */
};

struct chunk_store {
	char *dir;
	uint32_t target_id;
	int io_engine;
	bool no_sync;
	bool direct_io;                            /* aligned data written with O_DIRECT */
	atomic_bool direct_read;                   /* read descriptors opened O_DIRECT (off
						    * for good once the file system refuses) */
	MDB_env *env;
	MDB_dbi dbi;
	int dirfds[CHUNK_NDIRS];
	pthread_mutex_t mu;                        /* guards slots */
	struct c3_hmap slots;                      /* struct chunk_slot by id */
	atomic_bool failed;
	atomic_uint_fast64_t nchunks, used_bytes;
	atomic_uint_fast64_t st_corrupt; /* chunks newly marked corrupt (chunk_mark_corrupt) */
	atomic_uint_fast64_t st_checksum, st_cow, st_inplace, st_commits, st_txns, st_direct;
	atomic_uint_fast64_t st_direct_reads;
	/* group commit: concurrent metadata switches share one LMDB transaction */
	pthread_mutex_t gc_mu;                     /* guards gc_queue, gc_busy */
	pthread_cond_t gc_cv;
	struct chunk_gc_item *gc_queue;            /* waiting, newest first */
	bool gc_busy;                              /* a leader is committing a batch */
	/* open chunk files for reads: a bounded LRU keyed by (chunk, gen).  An entry may only
	 * be added when no file was unlinked since the reader looked the version up
	 * (fd_epoch unchanged), and every unlink of a chunk file drops its entry after the
	 * unlink, so a cached descriptor always refers to the file its name names now. */
	pthread_mutex_t fd_mu;                     /* guards fd_* */
	struct c3_hmap fd_tab;                     /* struct chunk_fd by (id, gen) */
	struct chunk_fd *fd_lru, *fd_lru_tail;
	uint64_t fd_epoch;
	int fd_n;
	/* the journal (wal == NULL when off): see "Commit =" in README.md.  The log's append
	 * side and rec belong to the group-commit leader; ck as kv_ckpt.h says (ck_mu guards
	 * its state). */
	struct kv_wal *wal;
	int metafd;                                /* <dir>/meta (also syncfs's handle) */
	int32_t jdata_max;                         /* < 0: never */
	uint64_t ckpt_bytes;
	struct c3_buf rec;                         /* the leader's record */
	uint64_t since_ckpt;                       /* records since the last checkpoint began */
	pthread_mutex_t wr_mu;                     /* LMDB writes outside the leader vs a
						    * checkpoint's snapshot (mark_corrupt) */
	struct kv_ckpt ck;                         /* checkpoints (src/kv/kv_ckpt.h) */
	char ck_name[24];                          /* "target N", its log prefix */
	pthread_mutex_t ck_mu;                     /* guards ck.state, ck.stop */
	pthread_cond_t ck_cv;
	atomic_uint_fast64_t st_jrec, st_jdata, st_ckpts, st_replayed;
};

/* One cached read-only descriptor of a chunk file generation (see chunk_fd_get).
 * refs counts readers using fd; an entry taken out of the cache (evicted or invalidated)
 * is closed by whoever drops the last reference. */
struct chunk_fd {
	struct chunk_id id;
	uint64_t gen;
	int fd;
	int refs;
	bool direct;                               /* fd is O_DIRECT (storage.direct_read) */
	bool cached;                               /* in fd_tab and the LRU list */
	struct c3_hmap_node hn;                    /* in fd_tab */
	struct chunk_fd *lprev, *lnext;            /* LRU list, most recent first */
};

/* One metadata switch waiting for the group commit. */
struct chunk_gc_item {
	uint8_t key[CHUNK_KEY_BYTES];
	const struct c3_buf *val;                  /* NULL = delete the key */
	const struct c3_buf *jops;                 /* journal: this commit's ops (sj_encode) */
	int rc;
	bool done;
	struct chunk_gc_item *next;
};

/* ------------------------------------------------------------------ helpers */

static void chunk_ver_release(struct chunk_ver *v)
{
	free(v->crcs);
	free(v->jdata);
	memset(v, 0, sizeof(*v));
}

static void chunk_key(uint8_t *k, struct chunk_id id)
{
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(id.inode >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		k[8 + i] = (uint8_t)(id.index >> (24 - 8 * i));
}

static struct chunk_id chunk_key_parse(const uint8_t *k)
{
	struct chunk_id id = { 0, 0 };

	for (int i = 0; i < 8; i++)
		id.inode = (id.inode << 8) | k[i];
	for (int i = 0; i < 4; i++)
		id.index = (id.index << 8) | k[8 + i];
	return id;
}

static int chunk_id_cmp(struct chunk_id a, struct chunk_id b)
{
	if (a.inode != b.inode)
		return a.inode < b.inode ? -1 : 1;
	if (a.index != b.index)
		return a.index < b.index ? -1 : 1;
	return 0;
}

uint32_t chunk_block_size(uint32_t chunk_size)
{
	uint32_t p = 1;

	while (p < chunk_size && p < CHUNK_SIZE_MAX)
		p <<= 1;
	return p / CHUNK_MAX_CRCS > 4096 ? p / CHUNK_MAX_CRCS : 4096;
}

static uint32_t chunk_nblocks(uint32_t len, uint32_t bs)
{
	return (uint32_t)(((uint64_t)len + bs - 1) / bs);
}

static unsigned chunk_dir_of(struct chunk_id id)
{
	return (unsigned)(((id.inode * 0x9E3779B97F4A7C15ull) ^ id.index) >> 56) % CHUNK_NDIRS;
}

static void chunk_path(const struct chunk_store *cs, struct chunk_id id, uint64_t gen, char *out,
		       size_t outsz)
{
	snprintf(out, outsz, "%s/chunks/%02x/%016" PRIx64 "-%08" PRIx32 ".%" PRIx64, cs->dir,
		 chunk_dir_of(id), id.inode, id.index, gen);
}

/* Converts an LMDB return code, once, into our codes. */
/* ------------------------------------------------------------------ open-file cache */

static uint64_t chunk_id_hash(struct chunk_id id)
{
	return c3_hash_mix(c3_hash_u64(id.inode), id.index);
}

static uint64_t chunk_fd_hash(struct chunk_id id, uint64_t gen)
{
	return c3_hash_mix(chunk_id_hash(id), gen);
}

/* fd_mu held */
static struct chunk_fd *chunk_fd_find(struct chunk_store *cs, struct chunk_id id, uint64_t gen)
{
	struct c3_hmap_node *n;

	C3_ASSERT_LOCKED(&cs->fd_mu);
	C3_HMAP_FOR_EACH_HASH(n, chunk_fd_hash(id, gen), &cs->fd_tab) {
		struct chunk_fd *e = C3_CONTAINER_OF(n, struct chunk_fd, hn);

		if (e->gen == gen && e->id.inode == id.inode && e->id.index == id.index)
			return e;
	}
	return NULL;
}

/* fd_mu held: unlink e from the table and the LRU list (the caller closes it at refs 0). */
static void chunk_fd_unhook(struct chunk_store *cs, struct chunk_fd *e)
{
	C3_ASSERT_LOCKED(&cs->fd_mu);
	C3_ASSERT(e->cached && cs->fd_n > 0);
	c3_hmap_remove(&cs->fd_tab, &e->hn);
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		cs->fd_lru = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		cs->fd_lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
	e->cached = false;
	cs->fd_n--;
}

/* fd_mu held: e, in no list, becomes the most recently used entry. */
static void chunk_fd_push_front(struct chunk_store *cs, struct chunk_fd *e)
{
	e->lprev = NULL;
	e->lnext = cs->fd_lru;
	if (cs->fd_lru)
		cs->fd_lru->lprev = e;
	cs->fd_lru = e;
	if (!cs->fd_lru_tail)
		cs->fd_lru_tail = e;
}

/* fd_mu held: make e the most recently used entry. */
static void chunk_fd_front(struct chunk_store *cs, struct chunk_fd *e)
{
	C3_ASSERT_LOCKED(&cs->fd_mu);
	if (cs->fd_lru == e)
		return;
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		cs->fd_lru_tail = e->lprev;
	chunk_fd_push_front(cs, e);
}

/* A read-only descriptor of file generation gen of chunk id, from the cache or opened now
 * (and cached when no unlink happened meanwhile; with cached_only, -EAGAIN instead of an
 * open).  Returns the entry (release with chunk_fd_put) or NULL with *err = -errno
 * (-ENOENT: the generation is gone). */
static struct chunk_fd *chunk_fd_get(struct chunk_store *cs, struct chunk_id id, uint64_t gen,
				     bool cached_only, int *err)
{
	struct chunk_fd *e, *victim = NULL;
	char path[4096];
	uint64_t epoch;
	bool direct;
	int fd;

	pthread_mutex_lock(&cs->fd_mu);
	e = chunk_fd_find(cs, id, gen);
	if (e) {
		e->refs++;
		chunk_fd_front(cs, e);
		pthread_mutex_unlock(&cs->fd_mu);
		return e;
	}
	epoch = cs->fd_epoch;
	pthread_mutex_unlock(&cs->fd_mu);
	if (cached_only) {
		*err = -EAGAIN;
		return NULL;
	}

	chunk_path(cs, id, gen, path, sizeof(path));
	direct = atomic_load(&cs->direct_read);
	fd = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (fd < 0 && direct && errno == EINVAL) { /* the file system has no O_DIRECT */
		LOG_WARN("target %u: O_DIRECT reads refused by the file system; reading through "
			 "the page cache", cs->target_id);
		atomic_store(&cs->direct_read, false);
		direct = false;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	e->id = id;
	e->gen = gen;
	e->fd = fd;
	e->direct = direct;
	e->refs = 1;
	pthread_mutex_lock(&cs->fd_mu);
	if (epoch == cs->fd_epoch && !chunk_fd_find(cs, id, gen)) {
		e->cached = true;
		c3_hmap_insert(&cs->fd_tab, &e->hn, chunk_fd_hash(id, gen));
		chunk_fd_push_front(cs, e);
		cs->fd_n++;
		if (cs->fd_n > CHUNK_FD_MAX) {
			victim = cs->fd_lru_tail;
			chunk_fd_unhook(cs, victim);
			if (victim->refs > 0)
				victim = NULL; /* its last reader closes it */
		}
	}
	pthread_mutex_unlock(&cs->fd_mu);
	if (victim) {
		close(victim->fd);
		free(victim);
	}
	return e;
}

/* Drop a reference taken by chunk_fd_get. */
static void chunk_fd_put(struct chunk_store *cs, struct chunk_fd *e)
{
	bool gone;

	pthread_mutex_lock(&cs->fd_mu);
	gone = --e->refs == 0 && !e->cached;
	pthread_mutex_unlock(&cs->fd_mu);
	if (gone) {
		close(e->fd);
		free(e);
	}
}

/* A file generation was unlinked (call after the unlink): forget its descriptor and stop
 * readers that looked it up before the unlink from caching theirs. */
static void chunk_fd_forget(struct chunk_store *cs, struct chunk_id id, uint64_t gen)
{
	struct chunk_fd *e;
	bool gone = false;

	pthread_mutex_lock(&cs->fd_mu);
	cs->fd_epoch++;
	e = chunk_fd_find(cs, id, gen);
	if (e) {
		chunk_fd_unhook(cs, e);
		gone = e->refs == 0;
	}
	pthread_mutex_unlock(&cs->fd_mu);
	if (gone) {
		close(e->fd);
		free(e);
	}
}

/* Unlink file generation gen of chunk id and forget its cached descriptor. */
static void chunk_unlink_gen(struct chunk_store *cs, struct chunk_id id, uint64_t gen)
{
	char path[4096];

	chunk_path(cs, id, gen, path, sizeof(path));
	(void)unlink(path);
	chunk_fd_forget(cs, id, gen);
}

/* Close every cached descriptor (store teardown: no readers left; fd_mu is taken all the
 * same, so that chunk_fd_unhook's rule holds without exception). */
static void chunk_fd_clear(struct chunk_store *cs)
{
	pthread_mutex_lock(&cs->fd_mu);
	while (cs->fd_lru) {
		struct chunk_fd *e = cs->fd_lru;

		chunk_fd_unhook(cs, e);
		close(e->fd);
		free(e);
	}
	pthread_mutex_unlock(&cs->fd_mu);
}

static int chunk_mdb_err(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc == MDB_MAP_FULL || rc == ENOSPC)
		return -ENOSPC;
	if (rc > 0 && rc < 1000)
		return -rc;
	return -EIO;
}

/* An I/O or metadata error that means the disk is unusable fails the target. */
static int chunk_note_err(struct chunk_store *cs, int rc)
{
	if (rc == -EIO || rc == -EROFS || rc == -EUCLEAN)
		atomic_store(&cs->failed, true);
	return rc;
}

/* A version's file could not be opened: a missing file means the bytes of a version are
 * gone (the chunk is corrupt, the target is not); other errors go through chunk_note_err. */
static int chunk_open_err(struct chunk_store *cs)
{
	if (errno == ENOENT)
		return -C3FS_ECHECKSUM;
	return chunk_note_err(cs, -errno);
}

/* ------------------------------------------------------------------ record codec */

static void chunk_rec_encode(const struct chunk_ver *v, struct c3_buf *b)
{
	uint32_t crc;

	c3_enc_u8(b, CHUNK_REC_FORMAT);
	c3_enc_u8(b, (uint8_t)v->flags);
	c3_enc_u32(b, v->chunk_size);
	c3_enc_u32(b, v->block_size);
	c3_enc_u64(b, v->ver);
	c3_enc_u32(b, v->len);
	c3_enc_u32(b, v->chain_ver);
	c3_enc_u64(b, v->gen);
	c3_enc_u32(b, v->ncrc);
	for (uint32_t i = 0; i < v->ncrc; i++)
		c3_enc_u32(b, v->crcs[i]);
	crc = b->err ? 0 : c3_crc32c(0, b->data, b->len);
	c3_enc_u32(b, crc);
}

/* Decode and validate a record; -C3FS_ECHECKSUM when it is damaged, -ENOMEM. */
static int chunk_rec_decode(const void *p, size_t n, struct chunk_ver *v)
{
	struct c3_dec d;
	uint8_t fmt;

	memset(v, 0, sizeof(*v));
	if (n < 4 || c3_crc32c(0, p, n - 4) != ((const uint8_t *)p)[n - 4] +
	    ((uint32_t)((const uint8_t *)p)[n - 3] << 8) +
	    ((uint32_t)((const uint8_t *)p)[n - 2] << 16) +
	    ((uint32_t)((const uint8_t *)p)[n - 1] << 24))
		return -C3FS_ECHECKSUM;
	c3_dec_init(&d, p, n - 4);
	fmt = c3_dec_u8(&d);
	v->flags = c3_dec_u8(&d);
	v->chunk_size = c3_dec_u32(&d);
	v->block_size = c3_dec_u32(&d);
	v->ver = c3_dec_u64(&d);
	v->len = c3_dec_u32(&d);
	v->chain_ver = c3_dec_u32(&d);
	v->gen = c3_dec_u64(&d);
	v->ncrc = c3_dec_count(&d, CHUNK_MAX_CRCS, 4);
	if (d.err || fmt != CHUNK_REC_FORMAT || v->chunk_size == 0 ||
	    v->chunk_size > CHUNK_SIZE_MAX || v->block_size != chunk_block_size(v->chunk_size) ||
	    v->len > v->chunk_size || v->ncrc != chunk_nblocks(v->len, v->block_size) ||
	    (v->len > 0 && v->gen == 0) || v->ver == 0) {
		memset(v, 0, sizeof(*v));
		return -C3FS_ECHECKSUM;
	}
	if (v->ncrc) {
		v->crcs = malloc(sizeof(uint32_t) * v->ncrc);
		if (!v->crcs)
			return -ENOMEM;
		for (uint32_t i = 0; i < v->ncrc; i++)
			v->crcs[i] = c3_dec_u32(&d);
	}
	if (d.err) {
		chunk_ver_release(v);
		return -C3FS_ECHECKSUM;
	}
	return 0;
}

/* Committed version of id: 0, -ENOENT, or an error. */
static int chunk_load(struct chunk_store *cs, struct chunk_id id, struct chunk_ver *v)
{
	MDB_txn *txn;
	MDB_val key, val;
	uint8_t k[CHUNK_KEY_BYTES];
	int rc;

	memset(v, 0, sizeof(*v));
	rc = chunk_mdb_err(mdb_txn_begin(cs->env, NULL, MDB_RDONLY, &txn));
	if (rc)
		return chunk_note_err(cs, rc);
	chunk_key(k, id);
	key.mv_size = sizeof(k);
	key.mv_data = k;
	rc = chunk_mdb_err(mdb_get(txn, cs->dbi, &key, &val));
	if (rc == 0)
		rc = chunk_rec_decode(val.mv_data, val.mv_size, v);
	mdb_txn_abort(txn);
	return rc;
}

/* ------------------------------------------------------------------ slots */

/* cs->mu held: the slot of id, or NULL. */
static struct chunk_slot *chunk_slot_find(struct chunk_store *cs, struct chunk_id id)
{
	struct c3_hmap_node *n;

	C3_HMAP_FOR_EACH_HASH(n, chunk_id_hash(id), &cs->slots) {
		struct chunk_slot *s = C3_CONTAINER_OF(n, struct chunk_slot, hn);

		if (chunk_id_cmp(s->id, id) == 0)
			return s;
	}
	return NULL;
}

/* Free the slot when nobody holds, waits for, or stages on it (cs->mu held). */
static void chunk_slot_maybe_free(struct chunk_store *cs, struct chunk_slot *s)
{
	C3_ASSERT_LOCKED(&cs->mu);
	if (s->locked || s->waiters || s->has_pending || s->retired_ver)
		return;
	c3_hmap_remove(&cs->slots, &s->hn);
	c3_hmap_shrink(&cs->slots);
	pthread_cond_destroy(&s->cv);
	free(s);
}

int chunk_store_lock(struct chunk_store *cs, struct chunk_id id)
{
	struct chunk_slot *s;

	pthread_mutex_lock(&cs->mu);
	s = chunk_slot_find(cs, id);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			pthread_mutex_unlock(&cs->mu);
			return -ENOMEM;
		}
		s->id = id;
		pthread_cond_init(&s->cv, NULL);
		c3_hmap_insert(&cs->slots, &s->hn, chunk_id_hash(id));
	}
	while (s->locked) {
		s->waiters++;
		pthread_cond_wait(&s->cv, &cs->mu);
		s->waiters--;
	}
	s->locked = true;
	pthread_mutex_unlock(&cs->mu);
	return 0;
}

void chunk_store_unlock(struct chunk_store *cs, struct chunk_id id)
{
	struct chunk_slot *s;

	pthread_mutex_lock(&cs->mu);
	s = chunk_slot_find(cs, id);
	if (s) {
		s->locked = false;
		if (s->waiters)
			pthread_cond_signal(&s->cv);
		else
			chunk_slot_maybe_free(cs, s);
	}
	pthread_mutex_unlock(&cs->mu);
}

/* The slot of a chunk whose lock the caller holds (never NULL then). */
static struct chunk_slot *chunk_slot_locked(struct chunk_store *cs, struct chunk_id id)
{
	struct chunk_slot *s;

	pthread_mutex_lock(&cs->mu);
	s = chunk_slot_find(cs, id);
	pthread_mutex_unlock(&cs->mu);
	return s && s->locked ? s : NULL;
}

/* ------------------------------------------------------------------ journal: checkpoints */

/* Checkpoints (src/kv/kv_ckpt.c, as the kv lmdb backend's sync=wal, whose crash argument
 * this follows).  The snapshot is taken under wr_mu: no mark_corrupt between the snapshot
 * and its meta pages.  Before the snapshot is synced, every chunk file written before the
 * log switch is made durable (syncfs: one file-system sync instead of one fdatasync per
 * file and directory); at open (pre_sync false) nothing was written since the last
 * checkpoint but what the replay synced itself (a syncfs there would wait for every other
 * writer of the file system). */
static void chunk_ck_lock(void *owner)
{
	pthread_mutex_lock(&((struct chunk_store *)owner)->wr_mu);
}

static void chunk_ck_unlock(void *owner)
{
	pthread_mutex_unlock(&((struct chunk_store *)owner)->wr_mu);
}

static int chunk_ck_pre_sync(void *owner)
{
	return syncfs(((struct chunk_store *)owner)->metafd) < 0 ? -errno : 0;
}

/* ck_mu held: a background checkpoint ended. */
static void chunk_ck_done(void *owner, int rc)
{
	struct chunk_store *cs = owner;

	if (rc < 0) {
		/* the log switched to a file no durable checkpoint names */
		LOG_ERROR("target %u: journal checkpoint failed (%s); the target is "
			  "failed", cs->target_id, c3_strerror(rc));
		atomic_store(&cs->failed, true);
	} else {
		atomic_fetch_add(&cs->st_ckpts, 1);
	}
}

static const struct kv_ckpt_ops chunk_ck_ops = {
	.lock = chunk_ck_lock,
	.unlock = chunk_ck_unlock,
	.mdb_err = chunk_mdb_err,
	.pre_sync = chunk_ck_pre_sync,
	.done = chunk_ck_done,
};

/* The leader, after a logged batch: start a checkpoint when enough log accumulated and
 * none is running (the previous one must be durable before the log switches again). */
static void chunk_ckpt_maybe(struct chunk_store *cs)
{
	bool go;
	int rc;

	if (cs->since_ckpt < CHUNK_CKPT_BATCHES && kv_wal_used(cs->wal) < cs->ckpt_bytes)
		return;
	pthread_mutex_lock(&cs->ck_mu);
	go = !chunk_store_failed(cs) && kv_ckpt_claim(&cs->ck);
	pthread_mutex_unlock(&cs->ck_mu);
	if (!go)
		return;
	cs->since_ckpt = 0;
	rc = kv_ckpt_begin(&cs->ck);
	pthread_mutex_lock(&cs->ck_mu);
	if (rc < 0) {
		LOG_WARN("target %u: cannot begin a journal checkpoint: %s", cs->target_id,
			 c3_strerror(rc));
		if (rc == -EPROTO)
			atomic_store(&cs->failed, true);
	}
	kv_ckpt_hand_over(&cs->ck, rc);
	pthread_mutex_unlock(&cs->ck_mu);
}

/* ------------------------------------------------------------------ journal: replay */

/* A file generation the log says was fdatasync'd in record rec (the last such record). */
struct chunk_fnote {
	uint64_t inode, gen;
	uint32_t index;
	size_t rec;
};

struct chunk_replay {
	struct chunk_store *cs;
	struct chunk_rec {
		uint8_t *p;
		size_t len;
	} *recs;                  /* the records after the checkpoint, in order */
	size_t n, cap;
	struct chunk_fnote *notes;
	size_t nnotes, notes_cap;
	size_t cur;               /* record being applied */
	MDB_txn *txn;
	bool dirs[CHUNK_NDIRS];   /* bucket directories the replay created files in */
};

static int chunk_replay_collect(void *arg, const uint8_t *p, size_t len)
{
	struct chunk_replay *r = arg;

	uint8_t *copy;

	if (C3_ARRAY_RESERVE(r->recs, r->cap, r->n + 1) < 0 || !(copy = malloc(len ? len : 1)))
		return -ENOMEM;
	memcpy(copy, p, len);
	r->recs[r->n++] = (struct chunk_rec){ copy, len };
	return 0;
}

static int chunk_replay_note(void *arg, const struct sj_op *op)
{
	struct chunk_replay *r = arg;

	if (op->type != SJ_SYNCED)
		return 0;
	if (C3_ARRAY_RESERVE(r->notes, r->notes_cap, r->nnotes + 1) < 0)
		return -ENOMEM;
	r->notes[r->nnotes++] = (struct chunk_fnote){ op->inode, op->gen, op->index, r->cur };
	return 0;
}

static int chunk_fnote_cmp(const void *a, const void *b)
{
	const struct chunk_fnote *x = a, *y = b;

	if (x->inode != y->inode)
		return x->inode < y->inode ? -1 : 1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	if (x->gen != y->gen)
		return x->gen < y->gen ? -1 : 1;
	return x->rec < y->rec ? -1 : x->rec > y->rec;
}

/* Was file (op's chunk, gen) fdatasync'd in a record after the current one?  Then its
 * bytes at that point were durable, later than (and including) this op's. */
static bool chunk_replay_synced_later(const struct chunk_replay *r, const struct sj_op *op)
{
	size_t lo = 0, hi = r->nnotes;
	struct chunk_fnote key = { op->inode, op->gen, op->index, SIZE_MAX };

	while (lo < hi) { /* the last note <= key: the file's latest sync */
		size_t mid = lo + (hi - lo) / 2;

		if (chunk_fnote_cmp(&r->notes[mid], &key) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && r->notes[lo - 1].inode == op->inode &&
	       r->notes[lo - 1].index == op->index && r->notes[lo - 1].gen == op->gen &&
	       r->notes[lo - 1].rec > r->cur;
}

/* Journaled bytes back into their file (created if missing): idempotent, since it sets
 * the file to [0, keep) as found + the data + zeros up to flen. */
static int chunk_replay_data(struct chunk_store *cs, const struct sj_op *op)
{
	struct chunk_id id = { op->inode, op->index };
	char path[4096];
	int fd, rc = 0;

	chunk_path(cs, id, op->gen, path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, op->keep) < 0)
		rc = -errno;
	if (!rc && op->dlen)
		rc = chunk_io_pwrite(CHUNK_IO_PSYNC, fd, op->data, op->dlen, op->off);
	if (!rc && ftruncate(fd, op->flen) < 0)
		rc = -errno;
	if (!rc && fdatasync(fd) < 0) /* durable before the checkpoint that drops its record */
		rc = -errno;
	close(fd);
	return rc;
}

static int chunk_replay_op(void *arg, const struct sj_op *op)
{
	struct chunk_replay *r = arg;
	struct chunk_id id = { op->inode, op->index };
	uint8_t k[CHUNK_KEY_BYTES];
	MDB_val key = { sizeof(k), k }, val;
	struct chunk_ver v;
	int rc;

	chunk_key(k, id);
	switch (op->type) {
	case SJ_DATA:
		if (chunk_replay_synced_later(r, op))
			return 0;
		r->dirs[chunk_dir_of(id)] = true;
		return chunk_replay_data(r->cs, op);
	case SJ_PUT:
		rc = chunk_rec_decode(op->data, op->vlen, &v);
		chunk_ver_release(&v);
		if (rc)
			return rc == -ENOMEM ? rc : -EUCLEAN;
		val.mv_size = op->vlen;
		val.mv_data = (void *)op->data;
		return chunk_mdb_err(mdb_put(r->txn, r->cs->dbi, &key, &val, 0));
	case SJ_DEL:
		rc = chunk_mdb_err(mdb_del(r->txn, r->cs->dbi, &key, NULL));
		return rc == -ENOENT ? 0 : rc;
	default: /* SJ_SYNCED: used by chunk_replay_synced_later */
		return 0;
	}
}

static void chunk_replay_release(struct chunk_replay *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->recs[i].p);
	free(r->recs);
	free(r->notes);
}

/* Apply every valid record after the checkpoint, in order: journaled bytes into their
 * files (skipping those a later record says were fdatasync'd: that file may hold newer
 * durable bytes), metadata puts and deletes into LMDB, one transaction per record.  A
 * crash during the replay replays again from the same checkpoint.  A damaged record with
 * valid ones after it refuses the open. */
static int chunk_replay(struct chunk_store *cs)
{
	struct chunk_replay r = { .cs = cs };
	uint64_t nrec = 0;
	bool damaged = false;
	int rc = kv_wal_scan(cs->wal, chunk_replay_collect, &r, &nrec);

	if (rc == 0) {
		rc = kv_wal_damaged_before(cs->wal);
		if (rc == 1) {
			damaged = true;
			LOG_ERROR("target %u: the journal (%s/meta/wal.*) has a damaged record "
				  "followed by valid ones after %llu good records: refusing to open "
				  "the target (its replicas can resync it)",
				  cs->target_id, cs->dir, (unsigned long long)nrec);
			rc = -EUCLEAN;
		}
	}
	for (r.cur = 0; rc == 0 && r.cur < r.n; r.cur++)
		rc = sj_decode(r.recs[r.cur].p, r.recs[r.cur].len, CHUNK_SIZE_MAX, chunk_replay_note, &r);
	if (rc == 0 && r.nnotes)
		qsort(r.notes, r.nnotes, sizeof(*r.notes), chunk_fnote_cmp);
	for (r.cur = 0; rc == 0 && r.cur < r.n; r.cur++) {
		rc = chunk_mdb_err(mdb_txn_begin(cs->env, NULL, 0, &r.txn));
		if (rc)
			break;
		rc = sj_decode(r.recs[r.cur].p, r.recs[r.cur].len, CHUNK_SIZE_MAX, chunk_replay_op, &r);
		if (rc == 0)
			rc = chunk_mdb_err(mdb_txn_commit(r.txn));
		else
			mdb_txn_abort(r.txn);
	}
	if (rc == -EUCLEAN && !damaged)
		LOG_ERROR("target %u: journal record %zu of %zu is malformed (its checksum is "
			  "valid): refusing to open the target", cs->target_id, r.cur + 1, r.n);
	else if (rc < 0 && rc != -EUCLEAN)
		LOG_ERROR("target %u: journal replay failed: %s", cs->target_id, c3_strerror(rc));
	for (unsigned d = 0; rc == 0 && d < CHUNK_NDIRS; d++)
		if (r.dirs[d] && fsync(cs->dirfds[d]) < 0)
			rc = -errno;
	if (rc == 0) {
		atomic_store(&cs->st_replayed, r.n);
		if (r.n)
			LOG_INFO("target %u: replayed %zu journal records", cs->target_id, r.n);
	}
	chunk_replay_release(&r);
	return rc;
}

/* Open time, LMDB open (NOSYNC): replay a log a crash left, write a fresh checkpoint, and
 * keep the journal running (journal on) or leave it clean (off). */
static int chunk_journal_start(struct chunk_store *cs, bool recover, bool keep, bool mdb_new)
{
	int rc = kv_ckpt_init(&cs->ck, cs->env, cs->metafd, cs->wal);

	if (rc)
		return rc;
	if (recover) {
		rc = chunk_replay(cs);
		if (rc)
			return rc;
	}
	/* the name of a new data.mdb, before a checkpoint refers to it (kv_wal_open synced
	 * the names of new log files) */
	if (mdb_new && fsync(cs->metafd) < 0)
		return -errno;
	rc = kv_ckpt_now(&cs->ck, !keep, false);
	if (rc)
		return rc;
	if (keep)
		return kv_ckpt_start(&cs->ck);
	/* journal off after a recovery: the log is clean now; LMDB syncs itself again */
	kv_ckpt_release(&cs->ck);
	kv_wal_close(cs->wal);
	cs->wal = NULL;
	return chunk_mdb_err(mdb_env_set_flags(cs->env, MDB_NOSYNC, 0));
}

/* Close time: stop the checkpoint thread and write a clean checkpoint. */
static void chunk_journal_stop(struct chunk_store *cs)
{
	int rc;

	if (cs->ck.thread) {
		kv_ckpt_stop(&cs->ck);
		rc = chunk_store_failed(cs) ? -C3FS_ETARGETDOWN : kv_ckpt_now(&cs->ck, true, true);
		if (rc < 0)
			LOG_WARN("target %u: no clean journal checkpoint at close (%s): the next "
				 "open replays the log", cs->target_id, c3_strerror(rc));
	}
	kv_ckpt_release(&cs->ck);
}

/* ------------------------------------------------------------------ open / close */

static int chunk_mkdir(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int chunk_check_target_file(const char *dir, uint32_t target_id)
{
	char path[4096], buf[32];
	int fd, rc = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/TARGET", dir);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return -C3FS_ECONFIG;
		buf[n] = '\0';
		if (strtoul(buf, NULL, 10) != target_id)
			return -C3FS_ECONFIG;
		return 0;
	}
	if (errno != ENOENT)
		return -errno;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%u\n", target_id);
	if (write(fd, buf, (size_t)n) != n || fsync(fd) < 0)
		rc = -EIO;
	close(fd);
	return rc;
}

/* Parse "<16 hex>-<8 hex>.<hex>".  Returns true on success. */
static bool chunk_parse_name(const char *name, struct chunk_id *id, uint64_t *gen)
{
	char *end;

	if (strlen(name) < 27 || name[16] != '-' || name[25] != '.')
		return false;
	for (int i = 0; i < 25; i++)
		if (i != 16 && !((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	id->inode = strtoull(name, NULL, 16);
	id->index = (uint32_t)strtoul(name + 17, NULL, 16);
	errno = 0;
	*gen = strtoull(name + 26, &end, 16);
	return errno == 0 && *end == '\0' && *gen != 0;
}

/* Remove files no committed record names; trim tails of in-place pending writes; count
 * committed chunks and bytes. */
static int chunk_recover(struct chunk_store *cs)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val key, val;
	int rc;

	for (unsigned d = 0; d < CHUNK_NDIRS; d++) {
		DIR *dp;
		struct dirent *de;
		int dfd = dup(cs->dirfds[d]);

		if (dfd < 0)
			return -errno;
		dp = fdopendir(dfd);
		if (!dp) {
			close(dfd);
			return -errno;
		}
		while ((de = readdir(dp)) != NULL) {
			struct chunk_id id;
			struct chunk_ver v;
			uint64_t gen;
			struct stat st;

			if (de->d_name[0] == '.')
				continue;
			if (!chunk_parse_name(de->d_name, &id, &gen) || chunk_dir_of(id) != d)
				continue; /* not ours: leave it */
			rc = chunk_load(cs, id, &v);
			if (rc == -ENOENT || (rc == 0 && v.gen != gen)) {
				(void)unlinkat(cs->dirfds[d], de->d_name, 0);
			} else if (rc == 0 && fstatat(cs->dirfds[d], de->d_name, &st, 0) == 0 &&
				   (uint64_t)st.st_size > v.len) {
				int fd = openat(cs->dirfds[d], de->d_name, O_WRONLY);

				if (fd >= 0) {
					if (ftruncate(fd, v.len) < 0) {
						/* best effort: the tail belongs to nobody */
					}
					close(fd);
				}
			}
			chunk_ver_release(&v);
		}
		closedir(dp);
	}
	rc = chunk_mdb_err(mdb_txn_begin(cs->env, NULL, MDB_RDONLY, &txn));
	if (rc)
		return rc;
	rc = chunk_mdb_err(mdb_cursor_open(txn, cs->dbi, &cur));
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	for (int op = MDB_FIRST; mdb_cursor_get(cur, &key, &val, op) == 0; op = MDB_NEXT) {
		struct chunk_ver v;

		if (chunk_rec_decode(val.mv_data, val.mv_size, &v) == 0) {
			atomic_fetch_add(&cs->nchunks, 1);
			atomic_fetch_add(&cs->used_bytes, v.len);
			chunk_ver_release(&v);
		}
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}

int chunk_store_open(const char *dir, const struct chunk_store_opts *opts,
		     struct chunk_store **out)
{
	struct chunk_store *cs;
	const struct kv_wal_ckpt *ck;
	char path[4096];
	MDB_txn *txn;
	bool keep, recover, mdb_new;
	int rc;

	*out = NULL;
	if (strlen(dir) > 3000)
		return -ENAMETOOLONG;
	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	for (int i = 0; i < CHUNK_NDIRS; i++)
		cs->dirfds[i] = -1;
	cs->metafd = cs->ck.datafd = -1;
	cs->ck.ops = &chunk_ck_ops;
	cs->ck.owner = cs;
	snprintf(cs->ck_name, sizeof(cs->ck_name), "target %u", opts->target_id);
	cs->ck.name = cs->ck_name;
	cs->ck.off_hint = "the journal is unusable (storage.journal = false)";
	cs->ck.corrupt_rc = -EPROTO;
	cs->ck.mu = &cs->ck_mu;
	cs->ck.cv = &cs->ck_cv;
	c3_buf_init(&cs->rec);
	pthread_mutex_init(&cs->wr_mu, NULL);
	pthread_mutex_init(&cs->ck_mu, NULL);
	pthread_cond_init(&cs->ck_cv, NULL);
	cs->jdata_max = opts->journal_data_max ? opts->journal_data_max : (int32_t)CHUNK_JDATA_DEFAULT;
	cs->ckpt_bytes = opts->journal_ckpt_bytes ? opts->journal_ckpt_bytes : CHUNK_CKPT_BYTES;
	pthread_mutex_init(&cs->mu, NULL);
	pthread_mutex_init(&cs->gc_mu, NULL);
	pthread_cond_init(&cs->gc_cv, NULL);
	pthread_mutex_init(&cs->fd_mu, NULL);
	c3_hmap_init(&cs->slots, CHUNK_NBUCKETS);
	c3_hmap_init(&cs->fd_tab, CHUNK_FD_BUCKETS);
	cs->dir = strdup(dir);
	cs->target_id = opts->target_id;
	cs->io_engine = opts->io_engine;
	cs->no_sync = opts->no_sync;
	cs->direct_io = opts->direct_io;
	atomic_store(&cs->direct_read, opts->direct_read);
	if (!cs->dir) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = chunk_mkdir(dir);
	if (rc)
		goto fail;
	rc = chunk_check_target_file(dir, opts->target_id);
	if (rc)
		goto fail;
	snprintf(path, sizeof(path), "%s/chunks", dir);
	rc = chunk_mkdir(path);
	if (rc)
		goto fail;
	for (int i = 0; i < CHUNK_NDIRS; i++) {
		snprintf(path, sizeof(path), "%s/chunks/%02x", dir, i);
		rc = chunk_mkdir(path);
		if (rc)
			goto fail;
		cs->dirfds[i] = open(path, O_RDONLY | O_DIRECTORY);
		if (cs->dirfds[i] < 0) {
			rc = -errno;
			goto fail;
		}
	}
	snprintf(path, sizeof(path), "%s/meta", dir);
	rc = chunk_mkdir(path);
	if (rc)
		goto fail;
	cs->metafd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cs->metafd < 0) {
		rc = -errno;
		goto fail;
	}
	/* the journal's log, also opened with the journal off: a log a journaled run left
	 * behind after a crash is replayed first (then left clean) */
	keep = !opts->no_journal && !opts->no_sync;
	rc = kv_wal_open(cs->metafd, keep, &cs->wal);
	if (rc)
		goto fail;
	ck = cs->wal ? kv_wal_ckpt(cs->wal) : NULL;
	recover = ck && !ck->clean;
	if (recover) {
		rc = kv_ckpt_restore_metas(cs->metafd, ck);
		if (rc) {
			LOG_ERROR("target %u: cannot restore LMDB's checkpoint from the journal: %s",
				  opts->target_id, c3_strerror(rc));
			goto fail;
		}
	}
	if (!keep && !recover) {
		kv_wal_close(cs->wal);
		cs->wal = NULL;
	}
	mdb_new = faccessat(cs->metafd, "data.mdb", F_OK, 0) != 0;
	rc = chunk_mdb_err(mdb_env_create(&cs->env));
	if (rc)
		goto fail;
	mdb_env_set_maxreaders(cs->env, 1024);
	mdb_env_set_mapsize(cs->env, opts->map_size_bytes ? opts->map_size_bytes : (8ull << 30));
	rc = chunk_mdb_err(mdb_env_open(cs->env, path,
					MDB_NOTLS | (opts->no_sync || cs->wal ? MDB_NOSYNC : 0), 0600));
	if (rc)
		goto fail;
	rc = chunk_mdb_err(mdb_txn_begin(cs->env, NULL, 0, &txn));
	if (rc)
		goto fail;
	rc = chunk_mdb_err(mdb_dbi_open(txn, NULL, 0, &cs->dbi));
	if (rc) {
		mdb_txn_abort(txn);
		goto fail;
	}
	rc = chunk_mdb_err(mdb_txn_commit(txn));
	if (rc)
		goto fail;
	if (cs->wal) {
		rc = chunk_journal_start(cs, recover, keep, mdb_new);
		if (rc)
			goto fail;
	}
	rc = chunk_recover(cs);
	if (rc)
		goto fail;
	*out = cs;
	return 0;
fail:
	chunk_store_close(cs);
	return rc;
}

void chunk_store_close(struct chunk_store *cs)
{
	if (!cs)
		return;
	struct c3_hmap_node *n, *nx;

	C3_HMAP_FOR_EACH_SAFE(n, nx, &cs->slots) {
		struct chunk_slot *s = C3_CONTAINER_OF(n, struct chunk_slot, hn);

		chunk_ver_release(&s->pending);
		pthread_cond_destroy(&s->cv);
		free(s);
	}
	c3_hmap_release(&cs->slots);
	chunk_fd_clear(cs);
	c3_hmap_release(&cs->fd_tab);
	if (cs->wal && cs->env)
		chunk_journal_stop(cs);
	kv_ckpt_release(&cs->ck);
	if (cs->env)
		mdb_env_close(cs->env);
	kv_wal_close(cs->wal);
	if (cs->metafd >= 0)
		close(cs->metafd);
	c3_buf_release(&cs->rec);
	pthread_mutex_destroy(&cs->wr_mu);
	pthread_mutex_destroy(&cs->ck_mu);
	pthread_cond_destroy(&cs->ck_cv);
	for (int i = 0; i < CHUNK_NDIRS; i++)
		if (cs->dirfds[i] >= 0)
			close(cs->dirfds[i]);
	pthread_mutex_destroy(&cs->mu);
	pthread_mutex_destroy(&cs->gc_mu);
	pthread_cond_destroy(&cs->gc_cv);
	pthread_mutex_destroy(&cs->fd_mu);
	free(cs->dir);
	free(cs);
}

bool chunk_store_failed(const struct chunk_store *cs)
{
	return atomic_load(&((struct chunk_store *)cs)->failed);
}

void chunk_store_set_failed(struct chunk_store *cs)
{
	atomic_store(&cs->failed, true);
}

/* ------------------------------------------------------------------ stat / read */

static uint32_t chunk_digest(const struct chunk_ver *v)
{
	uint32_t d = 0;

	for (uint32_t i = 0; i < v->ncrc; i++) {
		uint8_t b[4] = { (uint8_t)v->crcs[i], (uint8_t)(v->crcs[i] >> 8),
				 (uint8_t)(v->crcs[i] >> 16), (uint8_t)(v->crcs[i] >> 24) };

		d = c3_crc32c(d, b, 4);
	}
	return d;
}

static void chunk_fill_info(const struct chunk_ver *c, const struct chunk_slot *s,
			    struct chunk_info *out)
{
	memset(out, 0, sizeof(*out));
	if (c && c->ver) {
		out->has_commit = true;
		out->commit_ver = c->ver;
		out->length = c->len;
		out->chunk_size = c->chunk_size;
		out->chain_ver = c->chain_ver;
		out->digest = chunk_digest(c);
		out->corrupt = (c->flags & CHUNK_REC_F_CORRUPT) != 0;
	}
	if (s && s->has_pending) {
		out->has_pending = true;
		out->pending_ver = s->pending.ver;
		out->pending_length = s->pending.len;
		out->pending_remove = s->pending.removed;
		if (!out->chunk_size)
			out->chunk_size = s->pending.chunk_size;
	}
	if (s && s->retired_ver > out->commit_ver)
		out->retired_ver = s->retired_ver;
}

int chunk_store_stat(struct chunk_store *cs, struct chunk_id id, struct chunk_info *out)
{
	struct chunk_ver c;
	struct chunk_slot *s;
	int rc;

	if (chunk_store_failed(cs))
		return -C3FS_ETARGETDOWN;
	rc = chunk_load(cs, id, &c);
	if (rc && rc != -ENOENT)
		return rc;
	pthread_mutex_lock(&cs->mu);
	s = chunk_slot_find(cs, id);
	chunk_fill_info(rc ? NULL : &c, s, out);
	pthread_mutex_unlock(&cs->mu);
	chunk_ver_release(&c);
	return out->has_commit || out->has_pending ? 0 : -ENOENT;
}

/* Record that the committed version `ver` of id failed its checksum. */
static void chunk_mark_corrupt(struct chunk_store *cs, struct chunk_id id, uint64_t ver)
{
	MDB_txn *txn;
	MDB_val key, val;
	uint8_t k[CHUNK_KEY_BYTES];
	struct chunk_ver v;
	struct c3_buf b = C3_BUF_INIT;

	atomic_fetch_add(&cs->st_checksum, 1);
	/* With the journal this transaction is not logged: a crash before the next
	 * checkpoint forgets the mark, and the next read finds the bad block again. */
	pthread_mutex_lock(&cs->wr_mu);
	if (mdb_txn_begin(cs->env, NULL, 0, &txn) != 0) {
		pthread_mutex_unlock(&cs->wr_mu);
		return;
	}
	chunk_key(k, id);
	key.mv_size = sizeof(k);
	key.mv_data = k;
	if (mdb_get(txn, cs->dbi, &key, &val) == 0 &&
	    chunk_rec_decode(val.mv_data, val.mv_size, &v) == 0) {
		if (v.ver == ver && !(v.flags & CHUNK_REC_F_CORRUPT)) {
			v.flags |= CHUNK_REC_F_CORRUPT;
			chunk_rec_encode(&v, &b);
			val.mv_size = b.len;
			val.mv_data = b.data;
			if (!b.err && mdb_put(txn, cs->dbi, &key, &val, 0) == 0) {
				chunk_ver_release(&v);
				c3_buf_release(&b);
				if (mdb_txn_commit(txn) == 0)
					atomic_fetch_add(&cs->st_corrupt, 1);
				pthread_mutex_unlock(&cs->wr_mu);
				return;
			}
		}
		chunk_ver_release(&v);
	}
	c3_buf_release(&b);
	mdb_txn_abort(txn);
	pthread_mutex_unlock(&cs->wr_mu);
}

/* Read buffers: one cached buffer per thread (up to CHUNK_BUF_CACHE_MAX bytes) so that the
 * steady state allocates nothing (a fresh 1 MiB buffer is a new mapping and 256 page
 * faults).  Freed when the thread exits. */
#define CHUNK_BUF_CACHE_MAX (4u << 20)

static pthread_key_t chunk_buf_key;
static pthread_once_t chunk_buf_once = PTHREAD_ONCE_INIT;
static __thread void *chunk_buf_tl;
static __thread size_t chunk_buf_tl_cap;

static void chunk_buf_key_init(void)
{
	(void)pthread_key_create(&chunk_buf_key, free);
}

static void *chunk_buf_get(size_t need, size_t *cap)
{
	void *p;

	need = (need + 4095) & ~(size_t)4095;
	if (chunk_buf_tl && chunk_buf_tl_cap >= need) {
		p = chunk_buf_tl;
		*cap = chunk_buf_tl_cap;
		chunk_buf_tl = NULL;
		(void)pthread_setspecific(chunk_buf_key, NULL);
		return p;
	}
	if (posix_memalign(&p, 4096, need) != 0)
		return NULL;
	*cap = need;
	return p;
}

static void chunk_buf_put(void *p, size_t cap)
{
	if (!p)
		return;
	if (cap <= CHUNK_BUF_CACHE_MAX && (!chunk_buf_tl || chunk_buf_tl_cap < cap)) {
		pthread_once(&chunk_buf_once, chunk_buf_key_init);
		free(chunk_buf_tl);
		chunk_buf_tl = p;
		chunk_buf_tl_cap = cap;
		(void)pthread_setspecific(chunk_buf_key, p); /* freed at thread exit */
		return;
	}
	free(p);
}

/* Do blocks first..last of a version (block size bs, crcs[b] each; the last one ends at
 * aend) match their checksums?  buf holds them from the first one's start on. */
static bool chunk_blocks_ok(const uint32_t *crcs, uint32_t bs, uint32_t first, uint32_t last,
			    uint64_t aend, const void *buf)
{
	uint64_t astart = (uint64_t)first * bs;

	for (uint32_t b = first; b <= last; b++) {
		uint64_t s = (uint64_t)b * bs, e = s + bs;

		if (e > aend)
			e = aend;
		if (c3_crc32c(0, (const uint8_t *)buf + (s - astart), (size_t)(e - s)) != crcs[b])
			return false;
	}
	return true;
}

/* The CRC32C of blocks first..last (the last ends at aend) from their stored checksums. */
static uint32_t chunk_blocks_crc(const uint32_t *crcs, uint32_t bs, uint32_t first,
				 uint32_t last, uint64_t aend)
{
	uint32_t op = c3_crc32c_shift_op(bs), crc = crcs[first];

	for (uint32_t b = first + 1; b <= last; b++) {
		uint64_t s = (uint64_t)b * bs, e = s + bs < aend ? s + bs : aend;

		crc = e - s == bs ? c3_crc32c_combine_op(op, crc, crcs[b])
				  : c3_crc32c_combine(crc, crcs[b], e - s);
	}
	return crc;
}

/* Read [off, off+n) of version v (off+n <= v->len) with block checks.
 * Returns 0, -ENOENT (file gone: the version changed), -C3FS_ECHECKSUM, or an error.
 * nowait: -EAGAIN (nothing read) unless the descriptor is cached and the bytes are in the
 * page cache (preadv2 RWF_NOWAIT). */
static int chunk_read_ver(struct chunk_store *cs, struct chunk_id id, const struct chunk_ver *v,
			  uint32_t off, uint32_t n, bool nowait, struct chunk_read *rd)
{
	uint32_t bs = v->block_size;
	uint32_t first = off / bs, last = (off + n - 1) / bs;
	uint64_t astart = (uint64_t)first * bs;
	uint64_t aend = (uint64_t)(last + 1) * bs;
	size_t alen, cap;
	struct chunk_fd *fe;
	void *buf;
	ssize_t got;
	int err = 0;

	if (aend > v->len)
		aend = v->len;
	alen = (size_t)(aend - astart);
	buf = chunk_buf_get(alen, &cap);
	if (!buf)
		return -ENOMEM;
	fe = chunk_fd_get(cs, id, v->gen, nowait, &err);
	if (!fe) {
		chunk_buf_put(buf, cap);
		return err;
	}
	if (nowait) {
		struct iovec iov = { buf, alen };

		/* (an O_DIRECT read always goes to the disk: leave it to a blocking read) */
		got = fe->direct ? -1 : preadv2(fe->fd, &iov, 1, (off_t)astart, RWF_NOWAIT);
		if (got < (ssize_t)alen) { /* not (all) cached, or no RWF_NOWAIT here */
			chunk_fd_put(cs, fe);
			chunk_buf_put(buf, cap);
			return -EAGAIN;
		}
	} else if (fe->direct) {
		/* the whole 4 KiB pages (buf holds them: cap is rounded up); short at EOF */
		got = chunk_io_pread_once(cs->io_engine, fe->fd, buf, (alen + 4095) & ~(size_t)4095,
					  (off_t)astart);
		atomic_fetch_add_explicit(&cs->st_direct_reads, 1, memory_order_relaxed);
		if (got > (ssize_t)alen)
			got = (ssize_t)alen;
	} else {
		got = chunk_io_pread(cs->io_engine, fe->fd, buf, alen, (off_t)astart);
	}
	chunk_fd_put(cs, fe);
	if (got < 0) {
		chunk_buf_put(buf, cap);
		return chunk_note_err(cs, (int)got);
	}
	if ((size_t)got < alen)
		memset((uint8_t *)buf + got, 0, alen - (size_t)got);
	if (!chunk_blocks_ok(v->crcs, bs, first, last, aend, buf)) {
		chunk_buf_put(buf, cap);
		return -C3FS_ECHECKSUM;
	}
	rd->buf = buf;
	rd->buf_cap = cap;
	rd->data = (uint8_t *)buf + (off - astart);
	rd->length = n;
	rd->crc_known = off == astart && n == alen;
	if (rd->crc_known)
		rd->crc = chunk_blocks_crc(v->crcs, bs, first, last, aend);
	return 0;
}

static int chunk_read(struct chunk_store *cs, struct chunk_id id, uint32_t offset,
		      uint32_t length, bool pending, bool nowait, struct chunk_read *rd)
{
	int rc = 0;

	memset(rd, 0, sizeof(*rd));
	if (chunk_store_failed(cs))
		return -C3FS_ETARGETDOWN;
	if ((uint64_t)offset + length > CHUNK_SIZE_MAX)
		return -EINVAL;
	if (pending) {
		struct chunk_slot *s = chunk_slot_locked(cs, id);

		if (s && s->has_pending) {
			const struct chunk_ver *v = &s->pending;
			uint32_t n;

			rd->version = v->ver;
			rd->chunk_len = v->removed ? 0 : v->len;
			if (v->removed || offset >= v->len || length == 0)
				return 0;
			n = v->len - offset < length ? v->len - offset : length;
			rc = chunk_read_ver(cs, id, v, offset, n, false, rd);
			if (rc == -ENOENT)
				rc = -C3FS_ECHECKSUM;
			if (rc) {
				rd->version = 0;
				rd->chunk_len = 0;
			}
			return rc;
		}
	}
	for (int attempt = 0; attempt < CHUNK_READ_RETRIES; attempt++) {
		struct chunk_ver v, again;
		uint32_t n;

		rc = chunk_load(cs, id, &v);
		if (rc == -ENOENT)
			return 0; /* a hole */
		if (rc)
			return rc;
		rd->version = v.ver;
		rd->chunk_len = v.len;
		if (offset >= v.len || length == 0) {
			chunk_ver_release(&v);
			return 0;
		}
		n = v.len - offset < length ? v.len - offset : length;
		rc = chunk_read_ver(cs, id, &v, offset, n, nowait, rd);
		if (rc != -ENOENT && rc != -C3FS_ECHECKSUM) {
			chunk_ver_release(&v);
			return rc;
		}
		if (nowait) { /* the re-check and the corruption mark are for a blocking read */
			chunk_ver_release(&v);
			memset(rd, 0, sizeof(*rd));
			return -EAGAIN;
		}
		/* Did the version change under us?  Then read again. */
		if (chunk_load(cs, id, &again) == 0 && (again.ver != v.ver || again.gen != v.gen)) {
			chunk_ver_release(&again);
			chunk_ver_release(&v);
			continue;
		}
		chunk_ver_release(&again);
		chunk_mark_corrupt(cs, id, v.ver);
		chunk_ver_release(&v);
		memset(rd, 0, sizeof(*rd));
		return -C3FS_ECHECKSUM;
	}
	memset(rd, 0, sizeof(*rd));
	return -C3FS_EBUSY;
}

int chunk_store_read(struct chunk_store *cs, struct chunk_id id, uint32_t offset,
		     uint32_t length, bool pending, struct chunk_read *rd)
{
	return chunk_read(cs, id, offset, length, pending, false, rd);
}

int chunk_store_read_nowait(struct chunk_store *cs, struct chunk_id id, uint32_t offset,
			    uint32_t length, struct chunk_read *rd)
{
	return chunk_read(cs, id, offset, length, false, true, rd);
}

int chunk_store_aread_begin(struct chunk_store *cs, struct chunk_id id, uint32_t offset,
			    uint32_t length, struct chunk_aread *ar)
{
	struct chunk_ver v;
	struct chunk_fd *fe;
	uint32_t n, bs;
	uint64_t aend;
	int rc, err = 0;

	memset(ar, 0, sizeof(*ar));
	ar->fd = -1;
	if (chunk_store_failed(cs))
		return -C3FS_ETARGETDOWN;
	if ((uint64_t)offset + length > CHUNK_SIZE_MAX)
		return -EINVAL;
	rc = chunk_load(cs, id, &v);
	if (rc == -ENOENT)
		return 0; /* a hole: nothing to read */
	if (rc)
		return rc;
	ar->rd.version = v.ver;
	ar->rd.chunk_len = v.len;
	if (offset >= v.len || length == 0) {
		chunk_ver_release(&v);
		return 0;
	}
	n = v.len - offset < length ? v.len - offset : length;
	fe = chunk_fd_get(cs, id, v.gen, true, &err);
	if (!fe) {
		chunk_ver_release(&v);
		memset(&ar->rd, 0, sizeof(ar->rd));
		return err == -ENOENT ? -EAGAIN : err; /* gone: the version changed meanwhile */
	}
	bs = v.block_size;
	ar->first = offset / bs;
	ar->last = (offset + n - 1) / bs;
	aend = (uint64_t)(ar->last + 1) * bs;
	if (aend > v.len)
		aend = v.len;
	ar->cs = cs;
	ar->fe = fe;
	ar->fd = fe->fd;
	ar->io_off = (uint64_t)ar->first * bs;
	ar->alen = (uint32_t)(aend - ar->io_off);
	ar->io_len = ar->alen;
	if (fe->direct) { /* whole 4 KiB pages, short at EOF */
		ar->io_len = (ar->alen + 4095) & ~4095u;
		atomic_fetch_add_explicit(&cs->st_direct_reads, 1, memory_order_relaxed);
	}
	ar->block_size = bs;
	ar->aend = aend;
	ar->skip = offset - (uint32_t)ar->io_off;
	ar->n = n;
	ar->crcs = v.crcs; /* owned by ar now */
	return 0;
}

int chunk_store_aread_end(struct chunk_aread *ar, void *buf, ssize_t got)
{
	int rc = 0;

	if (!ar->fe)
		return 0;
	if (got < 0)
		rc = chunk_note_err(ar->cs, (int)got);
	else if ((size_t)got < ar->alen || /* the file is shorter than its version says */
		 !chunk_blocks_ok(ar->crcs, ar->block_size, ar->first, ar->last, ar->aend, buf))
		rc = -EAGAIN; /* a blocking read re-checks (version changed?) and marks */
	chunk_fd_put(ar->cs, ar->fe);
	ar->fe = NULL;
	if (rc) {
		free(ar->crcs);
		ar->crcs = NULL;
		memset(&ar->rd, 0, sizeof(ar->rd));
		return rc;
	}
	ar->rd.data = (const uint8_t *)buf + ar->skip;
	ar->rd.length = ar->n;
	ar->rd.crc_known = ar->skip == 0 && ar->n == ar->alen;
	if (ar->rd.crc_known)
		ar->rd.crc = chunk_blocks_crc(ar->crcs, ar->block_size, ar->first, ar->last,
					      ar->aend);
	free(ar->crcs);
	ar->crcs = NULL;
	return 0;
}

void chunk_store_aread_cancel(struct chunk_aread *ar)
{
	if (ar->fe)
		chunk_fd_put(ar->cs, ar->fe);
	free(ar->crcs);
	memset(ar, 0, sizeof(*ar));
	ar->fd = -1;
}

void chunk_read_release(struct chunk_read *rd)
{
	chunk_buf_put(rd->buf, rd->buf_cap);
	memset(rd, 0, sizeof(*rd));
}

/* ------------------------------------------------------------------ staging */

/* Copy [off, off+n) from fd_in to fd_out at the same offsets. */
static int chunk_copy_range(struct chunk_store *cs, int fd_in, int fd_out, uint64_t off, uint64_t n)
{
	loff_t in = (loff_t)off, out = (loff_t)off;
	static const size_t bufsz = 1u << 20;
	uint8_t *buf = NULL;
	int rc = 0;

	while (n > 0) {
		ssize_t r = copy_file_range(fd_in, &in, fd_out, &out, n, 0);

		if (r > 0) {
			n -= (uint64_t)r;
			continue;
		}
		if (r == 0)
			break; /* source shorter: the rest stays a hole (zeros) */
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
			return -errno;
		/* fall back to read + write */
		buf = malloc(bufsz);
		if (!buf)
			return -ENOMEM;
		while (n > 0) {
			size_t want = n < bufsz ? (size_t)n : bufsz;
			ssize_t got = chunk_io_pread(cs->io_engine, fd_in, buf, want, in);

			if (got < 0) {
				rc = (int)got;
				break;
			}
			if (got == 0)
				break;
			rc = chunk_io_pwrite(cs->io_engine, fd_out, buf, (size_t)got, out);
			if (rc)
				break;
			in += got;
			out += got;
			n -= (uint64_t)got;
		}
		free(buf);
		return rc;
	}
	return 0;
}

/* Write the data of an update: the 4 KiB-aligned part with O_DIRECT when the store asks
 * for it and buffer, offset and length allow (the bytes go from the caller's buffer to
 * the device: no copy into the page cache, which the write profile showed to be the
 * largest single CPU cost of a replica, see docs/bench/data-profile.md), the rest through
 * the page cache.  O_DIRECT is toggled on the descriptor with F_SETFL; a file system that
 * refuses it (EINVAL) gets the buffered write.  The kernel keeps the page cache coherent
 * (a direct write writes back and drops cached pages of its range), and durability is
 * unchanged: the commit still fdatasyncs the file (the device cache flush). */
#define CHUNK_DIO_ALIGN 4096u
static int chunk_write_data(struct chunk_store *cs, int fd, const uint8_t *data, uint32_t len,
			    uint32_t off, bool may_direct)
{
	uint32_t direct = len & ~(CHUNK_DIO_ALIGN - 1);
	int fl, rc;

	if (!cs->direct_io || !may_direct || direct == 0 || (((uintptr_t)data | off) & (CHUNK_DIO_ALIGN - 1)))
		direct = 0;
	if (direct && (fl = fcntl(fd, F_GETFL)) >= 0 && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0) {
		rc = chunk_io_pwrite(cs->io_engine, fd, data, direct, off);
		(void)fcntl(fd, F_SETFL, fl);
		if (rc == -EINVAL)
			direct = 0; /* refused after all: write it all buffered */
		else if (rc)
			return rc;
		else
			atomic_fetch_add(&cs->st_direct, direct);
	} else {
		direct = 0;
	}
	if (direct == len)
		return 0;
	return chunk_io_pwrite(cs->io_engine, fd, data + direct, len - direct,
			       (off_t)off + direct);
}

/* Fill nv->crcs for the new contents (file fd, length nv->len): blocks identical to the base
 * keep their CRC, blocks wholly inside the written data are summed from it, the rest are
 * read back from the file. */
static int chunk_compute_crcs(struct chunk_store *cs, int fd, const struct chunk_ver *base,
			      struct chunk_ver *nv, uint32_t woff, uint32_t wlen, const uint8_t *data)
{
	uint32_t bs = nv->block_size;
	uint64_t wend = (uint64_t)woff + wlen;
	uint8_t *tmp = NULL;

	nv->ncrc = chunk_nblocks(nv->len, bs);
	free(nv->crcs);
	nv->crcs = NULL;
	if (nv->ncrc == 0)
		return 0;
	nv->crcs = malloc(sizeof(uint32_t) * nv->ncrc);
	if (!nv->crcs)
		return -ENOMEM;
	for (uint32_t b = 0; b < nv->ncrc; b++) {
		uint64_t s = (uint64_t)b * bs;
		uint64_t e_new = s + bs < nv->len ? s + bs : nv->len;
		uint64_t e_old = base ? (s + bs < base->len ? s + bs : base->len) : 0;
		bool overlap = data && wlen && s < wend && e_new > woff;

		if (base && b < base->ncrc && e_new == e_old && !overlap) {
			nv->crcs[b] = base->crcs[b];
		} else if (data && s >= woff && e_new <= wend) {
			nv->crcs[b] = c3_crc32c(0, data + (s - woff), (size_t)(e_new - s));
		} else {
			ssize_t got;

			if (!tmp && !(tmp = malloc(bs)))
				return -ENOMEM;
			got = chunk_io_pread(cs->io_engine, fd, tmp, (size_t)(e_new - s), (off_t)s);
			if (got < 0) {
				free(tmp);
				return (int)got;
			}
			if ((uint64_t)got < e_new - s)
				memset(tmp + got, 0, (size_t)(e_new - s - (uint64_t)got));
			nv->crcs[b] = c3_crc32c(0, tmp, (size_t)(e_new - s));
		}
	}
	free(tmp);
	return 0;
}

/* Drop a pending version: unlink its file unless the committed version or keep_gen uses it
 * (cs->mu not held; lock holder). */
static void chunk_pending_drop(struct chunk_store *cs, struct chunk_id id, struct chunk_slot *s,
			       uint64_t commit_gen, uint64_t keep_gen)
{
	struct chunk_ver old;

	pthread_mutex_lock(&cs->mu);
	old = s->pending;
	memset(&s->pending, 0, sizeof(s->pending));
	s->has_pending = false;
	if (old.ver > s->retired_ver)
		s->retired_ver = old.ver;
	pthread_mutex_unlock(&cs->mu);
	if (old.gen && old.gen != commit_gen && old.gen != keep_gen)
		chunk_unlink_gen(cs, id, old.gen);
	chunk_ver_release(&old);
}

/* Journal on: put a write's (or an extending truncate's) bytes into the pending version
 * for the commit's log record, instead of an fdatasync, when every other byte of its file
 * is durable or in the log already: an in-place change of the committed version's file,
 * or a new file with no range copied from an old one; and the data is small. */
static bool chunk_journal_ok(const struct chunk_store *cs, const struct chunk_update *u,
			     const struct chunk_ver *inplace_base, bool no_copy,
			     const struct chunk_ver *commit)
{
	uint32_t dlen = u->type == CHUNK_UPD_WRITE ? u->length : 0;

	return cs->wal && cs->jdata_max >= 0 && dlen <= (uint32_t)cs->jdata_max && no_copy &&
	       (!inplace_base || inplace_base == commit);
}

static int chunk_journal_data(struct chunk_store *cs, struct chunk_ver *nv,
			      const struct chunk_update *u, const struct chunk_ver *inplace_base)
{
	uint32_t dlen = u->type == CHUNK_UPD_WRITE ? u->length : 0;

	if (dlen) {
		nv->jdata = malloc(dlen);
		if (!nv->jdata)
			return -ENOMEM;
		memcpy(nv->jdata, u->data, dlen);
	}
	nv->jkeep = inplace_base ? inplace_base->len : 0;
	nv->joff = dlen ? u->offset : 0;
	nv->jlen = dlen;
	nv->no_file_sync = nv->journaled = true;
	return 0;
}

/* One function (about 200 lines) on purpose: it is one sequence under the chunk lock —
 * check the update, load the committed version, choose the base and whether the bytes go
 * in place or into a new file generation, write them (or hand them to the journal), then
 * install the pending version — and every failure on the way must release the same
 * descriptor, file and version buffers in one error path.  Split up, the ownership of
 * those would have to travel between functions. */
int chunk_store_stage(struct chunk_store *cs, struct chunk_id id, const struct chunk_update *u)
{
	struct chunk_slot *s;
	struct chunk_ver commit, nv;
	const struct chunk_ver *base = NULL;
	bool inplace = false, created = false, same_as_commit, sent = false, journal = false;
	char path[4096];
	int fd = -1, rc;
	uint64_t newgen;
	uint32_t base_len;

	memset(&nv, 0, sizeof(nv));
	if (chunk_store_failed(cs))
		return -C3FS_ETARGETDOWN;
	if (u->chunk_size == 0 || u->chunk_size > CHUNK_SIZE_MAX || u->version == 0)
		return -EINVAL;
	if (u->type == CHUNK_UPD_WRITE &&
	    ((uint64_t)u->offset + u->length > u->chunk_size || (u->full && u->offset) ||
	     (u->length && !u->data)))
		return -EINVAL;
	if (u->type == CHUNK_UPD_TRUNCATE && u->length > u->chunk_size)
		return -EINVAL;
	if (u->type < CHUNK_UPD_WRITE || u->type > CHUNK_UPD_REMOVE)
		return -EINVAL;
	s = chunk_slot_locked(cs, id);
	if (!s)
		return -EINVAL; /* caller does not hold the chunk lock */
	rc = chunk_load(cs, id, &commit);
	if (rc == -C3FS_ECHECKSUM && (u->full || u->type == CHUNK_UPD_REMOVE))
		rc = 0; /* a damaged record may be replaced whole (its file is an orphan then) */
	if (rc && rc != -ENOENT)
		return rc;
	if (commit.ver && commit.chunk_size != u->chunk_size && !u->full && u->type != CHUNK_UPD_REMOVE) {
		rc = -EINVAL;
		goto out;
	}
	if (u->on_pending && s->has_pending && !s->pending.removed)
		base = &s->pending;
	else if (commit.ver && !(u->on_pending && s->has_pending && s->pending.removed))
		base = &commit;
	if (u->full)
		base = NULL;
	base_len = base ? base->len : 0;
	newgen = (commit.gen > (s->has_pending ? s->pending.gen : 0) ? commit.gen
		  : (s->has_pending ? s->pending.gen : 0)) + 1;
	nv.ver = u->version;
	nv.chunk_size = u->chunk_size;
	nv.block_size = chunk_block_size(u->chunk_size);
	if (u->type == CHUNK_UPD_REMOVE) {
		nv.removed = true;
		goto install;
	}
	same_as_commit = base && commit.ver && base->gen == commit.gen;
	if (u->type == CHUNK_UPD_WRITE) {
		uint64_t end = (uint64_t)u->offset + u->length;

		nv.len = (uint32_t)(end > base_len ? end : base_len);
		inplace = base && base->gen && u->offset >= base_len &&
			  (!same_as_commit || base_len >= commit.len);
	} else { /* truncate */
		nv.len = u->length;
		if (u->length <= base_len) {
			/* shrink: same bytes, shorter version; only the last block's CRC moves */
			nv.gen = base ? base->gen : 0;
			if (nv.gen) {
				chunk_path(cs, id, nv.gen, path, sizeof(path));
				fd = open(path, O_RDONLY | O_CLOEXEC);
				if (fd < 0) {
					rc = chunk_open_err(cs);
					goto out;
				}
			}
			rc = chunk_compute_crcs(cs, fd, base, &nv, 0, 0, NULL);
			if (rc)
				goto out;
			/* the same bytes: durable, or in the log, when the base is committed */
			nv.no_file_sync = cs->wal && (!base || base == &commit);
			goto install;
		}
		inplace = base && base->gen && (!same_as_commit || base_len >= commit.len);
	}
	if (inplace) {
		struct stat st;

		nv.gen = base->gen;
		chunk_path(cs, id, nv.gen, path, sizeof(path));
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			rc = chunk_open_err(cs);
			goto out;
		}
		if ((uint64_t)st.st_size > base_len && ftruncate(fd, base_len) < 0) {
			rc = chunk_note_err(cs, -errno);
			goto out;
		}
		atomic_fetch_add(&cs->st_inplace, 1);
	} else {
		nv.gen = newgen;
		chunk_path(cs, id, nv.gen, path, sizeof(path));
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = chunk_note_err(cs, -errno);
			goto out;
		}
		created = true;
		if (base && base_len) {
			char bpath[4096];
			int bfd;

			chunk_path(cs, id, base->gen, bpath, sizeof(bpath));
			bfd = open(bpath, O_RDONLY | O_CLOEXEC);
			if (bfd < 0) {
				rc = chunk_open_err(cs);
				goto out;
			}
			if (u->type == CHUNK_UPD_WRITE) {
				uint64_t head = u->offset < base_len ? u->offset : base_len;
				uint64_t tail = (uint64_t)u->offset + u->length;

				rc = chunk_copy_range(cs, bfd, fd, 0, head);
				if (!rc && tail < base_len)
					rc = chunk_copy_range(cs, bfd, fd, tail, base_len - tail);
			} else {
				rc = chunk_copy_range(cs, bfd, fd, 0, base_len);
			}
			close(bfd);
			if (rc)
				goto out;
		}
		atomic_fetch_add(&cs->st_cow, 1);
	}
	journal = chunk_journal_ok(cs, u, inplace ? base : NULL, inplace || !(base && base_len),
				   &commit);
	if (u->type == CHUNK_UPD_WRITE) {
		if (u->length && u->before_data) {
			/* space for the new range first, so that ENOSPC refuses the update
			 * before the caller forwards it (an fs without fallocate: best effort) */
			if (fallocate(fd, FALLOC_FL_KEEP_SIZE, u->offset, u->length) < 0 &&
			    errno != EOPNOTSUPP && errno != ENOSYS) {
				rc = -errno;
				goto out;
			}
		}
		if (u->before_data) {
			sent = true;
			u->before_data(u->before_data_arg);
		}
		if (u->length) {
			/* journaled bytes go through the page cache: the log write is their
			 * durable copy, a direct write would only add a device round trip */
			rc = chunk_write_data(cs, fd, u->data, u->length, u->offset, !journal);
			if (rc)
				goto out;
		}
		if (ftruncate(fd, nv.len) < 0) { /* gap at the end of a full write of zero bytes */
			rc = -errno;
			goto out;
		}
		rc = chunk_compute_crcs(cs, fd, base, &nv, u->offset, u->length, u->data);
	} else {
		if (ftruncate(fd, nv.len) < 0) {
			rc = -errno;
			goto out;
		}
		rc = chunk_compute_crcs(cs, fd, base, &nv, 0, 0, NULL);
	}
	if (rc)
		goto out;
	if (journal) {
		rc = chunk_journal_data(cs, &nv, u, inplace ? base : NULL);
		if (rc)
			goto out;
	}
install:
	if (fd >= 0) {
		close(fd);
		fd = -1;
	}
	if (s->has_pending)
		chunk_pending_drop(cs, id, s, commit.gen, nv.gen);
	pthread_mutex_lock(&cs->mu);
	s->pending = nv;
	s->has_pending = true;
	pthread_mutex_unlock(&cs->mu);
	memset(&nv, 0, sizeof(nv));
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc) {
		rc = chunk_note_err(cs, rc);
		if (created) { /* (an in-place tail past base_len belongs to nobody) */
			(void)unlink(path);
			chunk_fd_forget(cs, id, nv.gen);
		}
		if (s->has_pending)
			chunk_pending_drop(cs, id, s, commit.gen, 0);
		if (sent) { /* the caller may have passed this version on: never reuse it */
			pthread_mutex_lock(&cs->mu);
			if (u->version > s->retired_ver)
				s->retired_ver = u->version;
			pthread_mutex_unlock(&cs->mu);
		}
	}
	chunk_ver_release(&nv);
	chunk_ver_release(&commit);
	return rc;
}

void chunk_store_abort(struct chunk_store *cs, struct chunk_id id)
{
	struct chunk_slot *s = chunk_slot_locked(cs, id);
	struct chunk_ver commit;

	if (!s || !s->has_pending)
		return;
	if (chunk_load(cs, id, &commit) != 0)
		memset(&commit, 0, sizeof(commit));
	chunk_pending_drop(cs, id, s, commit.gen, 0);
	chunk_ver_release(&commit);
}

/* Run a batch of metadata switches in one LMDB transaction (the group-commit leader). */
static int chunk_gc_run(struct chunk_store *cs, struct chunk_gc_item *batch)
{
	MDB_txn *txn;
	int rc;

	if (cs->wal) { /* the record first: a full disk refuses the batch before LMDB has it */
		c3_buf_reset(&cs->rec);
		sj_begin(&cs->rec);
		for (struct chunk_gc_item *it = batch; it; it = it->next)
			c3_buf_append(&cs->rec, it->jops->data, it->jops->len);
		rc = cs->rec.err ? cs->rec.err : kv_wal_reserve(cs->wal, cs->rec.len);
		if (rc)
			return rc == -EIO ? chunk_note_err(cs, rc) : rc;
	}
	rc = chunk_mdb_err(mdb_txn_begin(cs->env, NULL, 0, &txn));
	if (rc)
		return rc;
	for (struct chunk_gc_item *it = batch; it && !rc; it = it->next) {
		MDB_val key = { CHUNK_KEY_BYTES, it->key }, val;

		if (it->val) {
			val.mv_size = it->val->len;
			val.mv_data = it->val->data;
			rc = chunk_mdb_err(mdb_put(txn, cs->dbi, &key, &val, 0));
		} else {
			rc = chunk_mdb_err(mdb_del(txn, cs->dbi, &key, NULL));
			if (rc == -ENOENT)
				rc = 0;
		}
	}
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	atomic_fetch_add(&cs->st_txns, 1);
	rc = chunk_mdb_err(mdb_txn_commit(txn));
	if (rc || !cs->wal)
		return rc;
	/* journal: the transaction is in the page cache only; the batch is durable once its
	 * record is (one O_DSYNC write) */
	rc = kv_wal_append(cs->wal, cs->rec.data, cs->rec.len);
	if (cs->rec.cap > KV_WAL_GROW)
		c3_buf_release(&cs->rec); /* do not keep a huge batch's buffer */
	if (rc) {
		/* applied and visible, maybe not durable: the target stops here */
		LOG_ERROR("target %u: journal write failed (%s); the target is failed",
			  cs->target_id, c3_strerror(rc));
		atomic_store(&cs->failed, true);
		return rc == -ENOMEM ? -ENOMEM : -EIO;
	}
	atomic_fetch_add(&cs->st_jrec, 1);
	cs->since_ckpt++;
	chunk_ckpt_maybe(cs);
	return 0;
}

/* Apply one metadata switch durably.  Threads arriving while a transaction is being
 * committed queue up; the next leader commits all of them in one transaction (one pair of
 * LMDB syncs for the whole group).  Returns the batch's result. */
static int chunk_meta_switch(struct chunk_store *cs, struct chunk_id id, const struct c3_buf *val,
			     const struct c3_buf *jops)
{
	struct chunk_gc_item me;

	memset(&me, 0, sizeof(me));
	chunk_key(me.key, id);
	me.val = val;
	me.jops = jops;
	pthread_mutex_lock(&cs->gc_mu);
	me.next = cs->gc_queue;
	cs->gc_queue = &me;
	while (!me.done) {
		if (!cs->gc_busy) {
			struct chunk_gc_item *batch = cs->gc_queue, *it, *next;
			int rc;

			cs->gc_queue = NULL;
			cs->gc_busy = true;
			pthread_mutex_unlock(&cs->gc_mu);
			rc = chunk_gc_run(cs, batch);
			pthread_mutex_lock(&cs->gc_mu);
			for (it = batch; it; it = next) {
				next = it->next;
				it->rc = rc;
				it->done = true;
			}
			cs->gc_busy = false;
			pthread_cond_broadcast(&cs->gc_cv);
		} else {
			pthread_cond_wait(&cs->gc_cv, &cs->gc_mu);
		}
	}
	pthread_mutex_unlock(&cs->gc_mu);
	return me.rc;
}

/* Make the pending version's bytes durable: fdatasync its file, fsync the directory when
 * the file is new.  commit_gen = the committed version's file (0 if none). */
static int chunk_sync_ver(struct chunk_store *cs, struct chunk_id id, struct chunk_ver *p,
			  uint64_t commit_gen)
{
	char path[4096];
	int fd, rc;

	if (p->synced || p->removed || !p->gen || cs->no_sync || p->no_file_sync)
		return 0;
	chunk_path(cs, id, p->gen, path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = chunk_io_fdatasync(cs->io_engine, fd);
	close(fd);
	if (!rc && p->gen != commit_gen && fsync(cs->dirfds[chunk_dir_of(id)]) < 0)
		rc = -errno;
	if (!rc)
		p->synced = p->fsynced = true;
	return rc;
}

int chunk_store_sync_pending(struct chunk_store *cs, struct chunk_id id)
{
	struct chunk_slot *s = chunk_slot_locked(cs, id);
	struct chunk_ver commit;
	int rc;

	if (chunk_store_failed(cs))
		return -C3FS_ETARGETDOWN;
	if (!s || !s->has_pending)
		return -C3FS_ECHUNKVER;
	rc = chunk_load(cs, id, &commit);
	if (rc && rc != -ENOENT && rc != -C3FS_ECHECKSUM)
		return rc;
	rc = chunk_sync_ver(cs, id, &s->pending, rc ? 0 : commit.gen);
	chunk_ver_release(&commit);
	return chunk_note_err(cs, rc);
}

/* The log ops of committing pending version p (record val, or a removal): its journaled
 * bytes, or the note that its file was fdatasync'd, then the metadata switch. */
static int chunk_journal_ops(struct chunk_id id, const struct chunk_ver *p,
			     const struct c3_buf *val, struct c3_buf *out)
{
	struct sj_op op = { .inode = id.inode, .index = id.index, .gen = p->gen };

	if (!p->removed && p->journaled) {
		op.type = SJ_DATA;
		op.keep = p->jkeep;
		op.flen = p->len;
		op.off = p->joff;
		op.dlen = p->jlen;
		op.data = p->jdata;
		sj_encode(out, &op);
	} else if (!p->removed && p->fsynced) {
		op.type = SJ_SYNCED;
		sj_encode(out, &op);
	}
	op.type = p->removed ? SJ_DEL : SJ_PUT;
	op.data = p->removed ? NULL : val->data;
	op.vlen = p->removed ? 0 : (uint32_t)val->len;
	sj_encode(out, &op);
	return out->err;
}

int chunk_store_commit(struct chunk_store *cs, struct chunk_id id, uint64_t version,
		       uint32_t chain_ver)
{
	struct chunk_slot *s = chunk_slot_locked(cs, id);
	struct chunk_ver commit, *p;
	struct c3_buf b = C3_BUF_INIT, jops = C3_BUF_INIT;
	char path[4096];
	int rc;

	if (chunk_store_failed(cs))
		return -C3FS_ETARGETDOWN;
	if (!s || !s->has_pending || s->pending.ver != version)
		return -C3FS_ECHUNKVER;
	p = &s->pending;
	rc = chunk_load(cs, id, &commit);
	if (rc == -C3FS_ECHECKSUM)
		rc = 0; /* replacing a damaged record (stage allowed it): its file is an orphan */
	if (rc && rc != -ENOENT)
		return rc;
	/* 1. the new bytes are durable (and the new file's name) */
	rc = chunk_sync_ver(cs, id, p, commit.gen);
	if (rc)
		goto out;
	/* 2. the metadata switch: one LMDB transaction (shared with concurrent commits) */
	if (!p->removed) {
		p->chain_ver = chain_ver;
		p->flags = 0;
		chunk_rec_encode(p, &b);
		if (b.err) {
			rc = b.err;
			goto out;
		}
	}
	if (cs->wal) {
		rc = chunk_journal_ops(id, p, &b, &jops);
		if (rc)
			goto out;
	}
	rc = chunk_meta_switch(cs, id, p->removed ? NULL : &b, cs->wal ? &jops : NULL);
	if (rc)
		goto out;
	/* 3. bookkeeping and space reclaim (after the commit: never needed for safety) */
	atomic_fetch_add(&cs->st_commits, 1);
	if (p->journaled)
		atomic_fetch_add(&cs->st_jdata, p->jlen);
	if (commit.ver) {
		atomic_fetch_sub(&cs->nchunks, 1);
		atomic_fetch_sub(&cs->used_bytes, commit.len);
	}
	if (!p->removed) {
		atomic_fetch_add(&cs->nchunks, 1);
		atomic_fetch_add(&cs->used_bytes, p->len);
	}
	if (commit.gen && (p->removed || commit.gen != p->gen)) {
		chunk_unlink_gen(cs, id, commit.gen);
	} else if (commit.gen && commit.len > p->len) {
		chunk_path(cs, id, p->gen, path, sizeof(path));
		if (truncate(path, p->len) < 0) {
			/* best effort reclaim */
		}
	}
	pthread_mutex_lock(&cs->mu);
	chunk_ver_release(&s->pending);
	s->has_pending = false;
	if (s->retired_ver <= version)
		s->retired_ver = 0;
	pthread_mutex_unlock(&cs->mu);
out:
	c3_buf_release(&b);
	c3_buf_release(&jops);
	chunk_ver_release(&commit);
	return chunk_note_err(cs, rc);
}

/* ------------------------------------------------------------------ listing / space */

int chunk_store_list(struct chunk_store *cs, const struct chunk_id *after,
		     struct chunk_id end, uint32_t limit, chunk_list_fn fn, void *arg, bool *more)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val key, val;
	uint8_t k[CHUNK_KEY_BYTES];
	uint32_t n = 0;
	int rc, op;

	*more = false;
	if (chunk_store_failed(cs))
		return -C3FS_ETARGETDOWN;
	rc = chunk_mdb_err(mdb_txn_begin(cs->env, NULL, MDB_RDONLY, &txn));
	if (rc)
		return chunk_note_err(cs, rc);
	rc = chunk_mdb_err(mdb_cursor_open(txn, cs->dbi, &cur));
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	if (after) {
		chunk_key(k, *after);
		key.mv_size = sizeof(k);
		key.mv_data = k;
		op = MDB_SET_RANGE;
	} else {
		op = MDB_FIRST;
	}
	for (; (rc = mdb_cursor_get(cur, &key, &val, op)) == 0; op = MDB_NEXT) {
		struct chunk_id id;
		struct chunk_ver v;
		struct chunk_info info;
		struct chunk_slot *s;

		if (key.mv_size != CHUNK_KEY_BYTES)
			continue;
		id = chunk_key_parse(key.mv_data);
		if (after && chunk_id_cmp(id, *after) <= 0)
			continue;
		if (chunk_id_cmp(id, end) >= 0)
			break;
		if (limit && n == limit) {
			*more = true;
			break;
		}
		if (chunk_rec_decode(val.mv_data, val.mv_size, &v) != 0)
			memset(&v, 0, sizeof(v)); /* damaged record: listed as corrupt */
		pthread_mutex_lock(&cs->mu);
		s = chunk_slot_find(cs, id);
		chunk_fill_info(&v, s, &info);
		pthread_mutex_unlock(&cs->mu);
		if (!v.ver) {
			info.has_commit = true;
			info.corrupt = true;
		}
		chunk_ver_release(&v);
		n++;
		rc = fn(arg, id, &info);
		if (rc)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	return rc;
}

int chunk_store_space(struct chunk_store *cs, struct chunk_space *out)
{
	struct statvfs sv;

	memset(out, 0, sizeof(*out));
	if (statvfs(cs->dir, &sv) < 0)
		return -errno;
	out->capacity_bytes = (uint64_t)sv.f_blocks * sv.f_frsize;
	out->free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
	out->nchunks = atomic_load(&cs->nchunks);
	out->used_bytes = atomic_load(&cs->used_bytes);
	return 0;
}

void chunk_store_get_stats(struct chunk_store *cs, struct chunk_stats *out)
{
	out->checksum_errors = atomic_load(&cs->st_checksum);
	out->corrupt_marked = atomic_load(&cs->st_corrupt);
	out->cow_writes = atomic_load(&cs->st_cow);
	out->inplace_writes = atomic_load(&cs->st_inplace);
	out->direct_bytes = atomic_load(&cs->st_direct);
	out->direct_reads = atomic_load(&cs->st_direct_reads);
	out->commits = atomic_load(&cs->st_commits);
	out->meta_txns = atomic_load(&cs->st_txns);
	out->journal_records = atomic_load(&cs->st_jrec);
	out->journal_data_bytes = atomic_load(&cs->st_jdata);
	out->checkpoints = atomic_load(&cs->st_ckpts);
	out->replayed = atomic_load(&cs->st_replayed);
}

int chunk_store_file_path(struct chunk_store *cs, struct chunk_id id, char *out, size_t outsz)
{
	struct chunk_ver v;
	int rc = chunk_load(cs, id, &v);

	if (rc)
		return rc;
	if (!v.gen) {
		chunk_ver_release(&v);
		return -ENOENT;
	}
	chunk_path(cs, id, v.gen, out, outsz);
	chunk_ver_release(&v);
	return 0;
}

int chunk_store_check_file(struct chunk_store *cs, struct chunk_id id)
{
	struct chunk_ver v, again;
	char path[4096];
	struct stat sb;
	bool bad;
	int rc;

	if (chunk_store_failed(cs))
		return -C3FS_ETARGETDOWN;
	rc = chunk_load(cs, id, &v);
	if (rc)
		return rc;
	if (!v.gen || v.len == 0 || (v.flags & CHUNK_REC_F_CORRUPT)) {
		rc = (v.flags & CHUNK_REC_F_CORRUPT) ? -C3FS_ECHECKSUM : 0;
		chunk_ver_release(&v);
		return rc;
	}
	chunk_path(cs, id, v.gen, path, sizeof(path));
	if (stat(path, &sb) == 0)
		bad = (uint64_t)sb.st_size < v.len;
	else if (errno == ENOENT)
		bad = true;
	else {
		rc = chunk_note_err(cs, -errno);
		chunk_ver_release(&v);
		return rc;
	}
	/* a commit may have replaced the version (and unlinked its file) meanwhile */
	if (bad && chunk_load(cs, id, &again) == 0) {
		bad = again.ver == v.ver && again.gen == v.gen;
		chunk_ver_release(&again);
	}
	if (bad)
		chunk_mark_corrupt(cs, id, v.ver);
	chunk_ver_release(&v);
	return bad ? -C3FS_ECHECKSUM : 0;
}

/* ------------------------------------------------------------------ test hook */

/* chunk_int.h: the record decoder, for the fuzz target. */
int chunk_rec_reencode(const void *p, size_t n, struct c3_buf *out)
{
	struct chunk_ver v;
	int rc = chunk_rec_decode(p, n, &v);

	if (rc)
		return rc;
	chunk_rec_encode(&v, out);
	chunk_ver_release(&v);
	return 0;
}

static int chunk_journal_reencode_op(void *arg, const struct sj_op *op)
{
	sj_encode(arg, op);
	return 0;
}

/* chunk_int.h: the journal record decoder, for the fuzz target. */
int chunk_journal_reencode(const void *p, size_t n, struct c3_buf *out)
{
	struct c3_buf tmp = C3_BUF_INIT;
	int rc;

	sj_begin(&tmp);
	rc = sj_decode(p, n, CHUNK_SIZE_MAX, chunk_journal_reencode_op, &tmp);
	if (rc == 0)
		c3_buf_append(out, tmp.data, tmp.len);
	c3_buf_release(&tmp);
	return rc;
}
