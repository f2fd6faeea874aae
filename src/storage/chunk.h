/* chunk.h — the chunk engine: one storage target's chunks on a local directory.
 *
 * A target directory holds
 *   meta/                 LMDB environment: chunk id -> committed chunk metadata
 *   chunks/XX/<ino>-<idx>.<gen>   chunk contents, one file per chunk version in use
 *   TARGET                the target id (written at first open, checked afterwards)
 * (see src/storage/README.md for the full layout and the reasons).
 *
 * Versions.  Each chunk has a committed version (in LMDB, durable) and at most one pending
 * version (in memory only, with its bytes on disk).  Staging an update creates the pending
 * version beside the committed one: appends past the committed length are written in place
 * (the committed bytes are untouched), anything that changes committed bytes goes to a new
 * file (copy-on-write).  Committing makes the data durable (fdatasync, directory fsync for
 * new files) and then switches the metadata in one LMDB transaction (commits arriving
 * together share one transaction: group commit), durable through LMDB's syncs or, with the
 * journal, through one log record that may also carry a small update's bytes instead of
 * the fdatasync; and only then reclaims the old file.  So after a crash at any instant a chunk is exactly its last
 * committed version, its metadata matches its bytes, and a pending version is simply gone.
 *
 * Checksums.  Each version carries one CRC32C per block (block_size = 4 KiB for chunks up
 * to 4 MiB, chunk_size/1024 above).  Every read verifies the blocks it touches; a mismatch
 * (with the version unchanged under the read) marks the chunk corrupt, bumps a counter and
 * returns -C3FS_ECHECKSUM without the bytes.
 *
 * Locking.  chunk_store_lock()/unlock() is a per-chunk lock.  stage/commit/abort and reading
 * the pending version require the caller to hold the chunk's lock (the service holds it for
 * the whole CRAQ round trip).  Reads of committed data take no chunk lock: they read the
 * metadata, read the bytes, and retry when the version changed under them.  All functions
 * are thread-safe.
 *
 * Errors: 0 / -errno (-ENOSPC when the disk or the metadata map is full, -EIO) /
 * -C3FS_ECHECKSUM / -C3FS_ECHUNKVER / -C3FS_ETARGETDOWN (the target failed earlier: an I/O
 * error or metadata store error marks it failed, and every later call refuses).
 */
#ifndef C3_STORAGE_CHUNK_H
#define C3_STORAGE_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CHUNK_SIZE_MAX (64u << 20)

struct chunk_store;

struct chunk_id {
	uint64_t inode;
	uint32_t index;
};

/* The id just before id in (inode, index) order, for listings "from id inclusive" (they
 * start after an id): false when id is the first of all. */
static inline bool chunk_id_prev(struct chunk_id id, struct chunk_id *prev)
{
	if (id.index > 0) {
		*prev = (struct chunk_id){ id.inode, id.index - 1 };
		return true;
	}
	if (id.inode > 0) {
		*prev = (struct chunk_id){ id.inode - 1, UINT32_MAX };
		return true;
	}
	return false;
}

enum chunk_io_engine { CHUNK_IO_PSYNC = 0, CHUNK_IO_URING = 1 };

struct chunk_store_opts {
	uint32_t target_id;       /* written to TARGET at first open, checked later */
	int io_engine;            /* enum chunk_io_engine */
	uint64_t map_size_bytes;  /* LMDB map size; 0 = 8 GiB */
	bool no_sync;             /* skip fsyncs (benchmarks of the cost only; never in service) */
	bool direct_read;         /* read chunk data with O_DIRECT (block-aligned ranges, rounded
				   * up to 4 KiB): no page-cache copy, no caching on the storage
				   * node; file systems refusing O_DIRECT are read buffered */
	bool direct_io;           /* write 4 KiB-aligned data with O_DIRECT (no page-cache copy);
				   * unaligned parts, and file systems refusing O_DIRECT, go
				   * through the page cache */
	/* Write-ahead journal (storage.journal, on unless no_journal): LMDB runs unsynced and
	 * each group-commit batch is one O_DSYNC record of the target's log (meta/wal.*);
	 * updates of at most journal_data_max bytes whose file needs no copied range carry
	 * their bytes in the record and skip the chunk file's fdatasync.  A log left by a
	 * journaled run is replayed at open whatever this says. */
	bool no_journal;
	int32_t journal_data_max; /* 0 = 128 KiB; < 0 = never put data in the log */
	uint32_t journal_ckpt_bytes; /* checkpoint after this much log; 0 = 32 MiB (tests) */
};

/* Committed and pending state of one chunk. */
struct chunk_info {
	bool has_commit;
	uint64_t commit_ver;
	uint32_t length;          /* committed length */
	uint32_t chunk_size;
	uint32_t chain_ver;       /* chain version recorded at the last commit */
	uint32_t digest;          /* CRC32C over the committed per-block CRCs */
	bool corrupt;
	bool has_pending;
	uint64_t pending_ver;
	uint32_t pending_length;
	bool pending_remove;
	/* Highest version that was staged here and then dropped without being committed
	 * (chunk_store_abort, a replaced pending version, or a stage that failed after its
	 * before_data hook ran), while it is above the committed version; 0 otherwise.  The
	 * caller may have sent such a version down the chain and the successors may have
	 * committed it, so a head must never hand it out again (see service.c).  Kept in
	 * memory from the drop until a higher version commits, and lost on restart. */
	uint64_t retired_ver;
};

enum chunk_update_type { CHUNK_UPD_WRITE = 1, CHUNK_UPD_TRUNCATE = 2, CHUNK_UPD_REMOVE = 3 };

/* One update to stage.  data is borrowed for the call. */
struct chunk_update {
	int type;                 /* enum chunk_update_type */
	bool full;                /* WRITE: data replaces the whole chunk (offset must be 0) */
	bool on_pending;          /* apply on top of the pending version when there is one
				   * (else on the committed one; an old pending is dropped) */
	uint32_t offset;          /* WRITE */
	uint32_t length;          /* WRITE: bytes of data; TRUNCATE: new chunk length */
	uint32_t chunk_size;      /* 1..CHUNK_SIZE_MAX; must match an existing chunk's */
	const void *data;         /* WRITE: length bytes */
	uint64_t version;         /* the pending version to create (>= 1) */
	/* WRITE: when set, called once, on the calling thread, after every check that can
	 * refuse the update for its range, its base or space (the written range is allocated
	 * first where the file system can) and before the data is written, so that the
	 * caller can send the update down the chain while the bytes go to disk.  Not called
	 * when stage fails earlier; a failure after the call (an I/O error, which also fails
	 * the target, or ENOMEM) is still possible and the caller must handle it. */
	void (*before_data)(void *arg);
	void *before_data_arg;
};

/* A read result.  data points into buf (owned); valid until chunk_read_release(), which
 * should be called on the thread that read (its buffer is then reused by that thread's next
 * read; releasing elsewhere is correct, only less economical). */
struct chunk_read {
	void *buf;                /* allocation (NULL when length == 0) */
	size_t buf_cap;           /* private: its size */
	const uint8_t *data;      /* first byte asked for */
	uint32_t length;          /* bytes of data (short at chunk end, 0 for a hole) */
	uint64_t version;         /* the version read (0 for a hole) */
	uint32_t chunk_len;       /* that version's length */
	bool crc_known;           /* crc is the CRC32C of data[0, length): the range was whole
				   * blocks, so it came from their stored checksums (combined),
				   * not from another pass over the bytes */
	uint32_t crc;
};

/* Open (creating when absent) the target in dir.  Checks TARGET, opens LMDB, removes files
 * no committed metadata refers to and trims in-place tails left by pending versions.
 * Returns 0 and *out, or a negative code with nothing to free. */
int chunk_store_open(const char *dir, const struct chunk_store_opts *opts,
		     struct chunk_store **out);
/* Close; no chunk lock may be held.  NULL allowed. */
void chunk_store_close(struct chunk_store *cs);

/* true once an I/O or metadata error failed the target (every call then refuses). */
bool chunk_store_failed(const struct chunk_store *cs);
/* Mark the target failed (e.g. an operator's or a test's decision). */
void chunk_store_set_failed(struct chunk_store *cs);

/* Per-chunk lock (blocking; not recursive).  Returns 0 or -ENOMEM. */
int chunk_store_lock(struct chunk_store *cs, struct chunk_id id);
void chunk_store_unlock(struct chunk_store *cs, struct chunk_id id);

/* State of a chunk.  -ENOENT when it has neither a committed nor a pending version (*out
 * is filled then too: all zero but for retired_ver). */
int chunk_store_stat(struct chunk_store *cs, struct chunk_id id, struct chunk_info *out);

/* Read [offset, offset+length) of the committed version (or of the pending version when
 * pending is true and one exists; the caller then holds the chunk lock).  A missing chunk
 * reads as length 0.  Returns 0 with *rd filled (release it), or a negative code with *rd
 * empty. */
int chunk_store_read(struct chunk_store *cs, struct chunk_id id, uint32_t offset,
		     uint32_t length, bool pending, struct chunk_read *rd);
/* chunk_store_read of the committed version that never waits for the disk: -EAGAIN (with
 * *rd empty) unless the chunk file's descriptor is cached and the bytes are in the page
 * cache (preadv2 RWF_NOWAIT), or when a block fails its check (a blocking read re-checks
 * and marks).  The metadata lookup reads LMDB's memory map (no syscall; a cold page can
 * still fault).  For serving small reads on a network I/O thread. */
int chunk_store_read_nowait(struct chunk_store *cs, struct chunk_id id, uint32_t offset,
			    uint32_t length, struct chunk_read *rd);
void chunk_read_release(struct chunk_read *rd);

/* A read of the committed version for a caller that does the file I/O itself (e.g.
 * asynchronously, with io_uring on a network I/O thread).  chunk_store_aread_begin looks
 * the version up (LMDB's memory map, no syscall) and pins its file's cached descriptor;
 * when io_len > 0 the caller reads io_len bytes of fd at io_off into a buffer of its own
 * and calls chunk_store_aread_end with that buffer and the read's result, which checks
 * the blocks and fills rd (rd.data points into the caller's buffer, rd.buf stays NULL:
 * chunk_read_release is not needed).  When io_len is 0 rd is final already (a hole, or
 * past the chunk's end) and end/cancel are no-ops.  Never blocks on the disk. */
struct chunk_aread {
	int fd;                   /* read from this descriptor ... */
	uint64_t io_off;          /* ... at this offset ... */
	uint32_t io_len;          /* ... this many bytes (0 = nothing to read; whole 4 KiB
				   * pages, short at the file's end, with storage.direct_read) */
	struct chunk_read rd;     /* the result */
	/* private */
	struct chunk_store *cs;
	struct chunk_fd *fe;
	uint32_t *crcs;
	uint32_t block_size, first, last, skip, n, alen;
	uint64_t aend;
};

/* 0 (see above), -EAGAIN when the descriptor is not cached or the version changed (read
 * with chunk_store_read instead), or an error (nothing pinned then). */
int chunk_store_aread_begin(struct chunk_store *cs, struct chunk_id id, uint32_t offset,
			    uint32_t length, struct chunk_aread *ar);
/* got: bytes read (or -errno).  0 with ar->rd filled; -EAGAIN when the read came short or
 * a block failed its check (read again with chunk_store_read, which re-checks, sees a
 * version that changed meanwhile and marks a corrupt replica); or the I/O error.  Always
 * unpins.  Any thread. */
int chunk_store_aread_end(struct chunk_aread *ar, void *buf, ssize_t got);
/* Unpin without reading. */
void chunk_store_aread_cancel(struct chunk_aread *ar);

/* Stage u as the chunk's pending version (lock held).  Any older pending version is
 * replaced.  Nothing is durable yet.  Returns 0, -EINVAL (chunk_size mismatch, bad range),
 * -ENOSPC (nothing changed: committed data intact), or another negative code. */
int chunk_store_stage(struct chunk_store *cs, struct chunk_id id, const struct chunk_update *u);

/* Make the pending version `version` the committed one, durably (lock held).
 * -C3FS_ECHUNKVER when there is no such pending version. */
int chunk_store_commit(struct chunk_store *cs, struct chunk_id id, uint64_t version,
		       uint32_t chain_ver);

/* Make the pending version's bytes durable now (lock held), so that a later commit only
 * has the metadata switch left.  The service calls it while the successor works. */
int chunk_store_sync_pending(struct chunk_store *cs, struct chunk_id id);

/* Drop the pending version, if any (lock held); its version becomes retired_ver. */
void chunk_store_abort(struct chunk_store *cs, struct chunk_id id);

/* Committed chunk metadata in id order, starting after *after (or from the start when
 * after is NULL) and stopping before inode end_inode's chunk end_index (exclusive bound:
 * pass UINT64_MAX/UINT32_MAX for "to the end").  fn is called for each chunk (a committed
 * chunk, with its pending state as in chunk_store_stat); returning non-zero stops the
 * listing and is returned.  At most limit chunks (0 = no limit).  *more is set when the
 * limit stopped it.  Returns 0 / fn's value / a negative code. */
typedef int (*chunk_list_fn)(void *arg, struct chunk_id id, const struct chunk_info *info);
int chunk_store_list(struct chunk_store *cs, const struct chunk_id *after,
		     struct chunk_id end, uint32_t limit, chunk_list_fn fn, void *arg, bool *more);

/* Space figures of the target's file system and of its committed chunks. */
struct chunk_space {
	uint64_t capacity_bytes, free_bytes;
	uint64_t nchunks, used_bytes;
};
int chunk_store_space(struct chunk_store *cs, struct chunk_space *out);

/* Counters since open (for metrics and tests). */
struct chunk_stats {
	uint64_t checksum_errors;
	uint64_t corrupt_marked;  /* chunk versions newly marked corrupt (each counted once) */
	uint64_t cow_writes, inplace_writes;
	uint64_t commits;
	uint64_t meta_txns;       /* LMDB write transactions (< commits under group commit) */
	uint64_t direct_bytes;    /* data bytes written with O_DIRECT (storage.direct_io) */
	uint64_t direct_reads;    /* reads done with O_DIRECT (storage.direct_read) */
	uint64_t journal_records; /* log records (one per batch) */
	uint64_t journal_data_bytes; /* chunk bytes that went into the log instead of an fsync */
	uint64_t checkpoints;
	uint64_t replayed;        /* log records replayed at open */
};
void chunk_store_get_stats(struct chunk_store *cs, struct chunk_stats *out);

/* Cheap check of a committed chunk's file without reading it: the file of the committed
 * version exists and holds at least the recorded length (a file truncated or removed
 * behind the engine's back, e.g. while the process was down).  A failing chunk is marked
 * corrupt (as a failed read would) and -C3FS_ECHECKSUM returned; a chunk already marked
 * corrupt returns -C3FS_ECHECKSUM too.  0 when it looks whole (its bytes are verified
 * only by reading them: chunk_store_read with the whole length), -ENOENT when there is
 * no committed version. */
int chunk_store_check_file(struct chunk_store *cs, struct chunk_id id);

/* The block size used for a chunk of chunk_size bytes. */
uint32_t chunk_block_size(uint32_t chunk_size);

/* The on-disk path of a chunk version's file (for tests that corrupt bytes on purpose):
 * returns 0 and the path of the committed version in out, or -ENOENT. */
int chunk_store_file_path(struct chunk_store *cs, struct chunk_id id, char *out, size_t outsz);

#endif
