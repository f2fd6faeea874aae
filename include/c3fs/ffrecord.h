/* ffrecord.h — libc3fs-ffrecord: FFRecord datasets (many small samples in one file, read
 * in random batches).  The whole public contract.
 *
 * File layout (HFAiLab's FFRecord, byte for byte; ../shared/reference/3fs-notes.md §3),
 * little-endian integers, no magic, no version:
 *
 *   offset      size  field
 *   0           4     u32 metadata CRC (0 = not checked)
 *   4           8     i64 N, the number of samples
 *   12          4N    u32 CRC of sample i
 *   12+4N       8N    i64 absolute offset of sample i
 *   12+12N      ...   the samples back to back; sample i ends where sample i+1 starts,
 *                     the last one at the end of the file
 *
 * CRC = zlib's crc32 (IEEE, initial 0), fed in pieces of at most 512 MiB.  The metadata
 * CRC is chained over the 8 bytes of N, the CRC array, then the offset array.  Several
 * files form one dataset with one global index: sample g is sample g - first(k) of file k,
 * files in the order given (a directory: its "*.ffr" files sorted by name, bytewise).
 *
 * Packed folders (HFAiLab's package.py): the last sample of the dataset is the magic
 * "piouhjgbr" followed by a pickled nested dict (name -> sub-dict, or name -> int sample
 * index).  c3fs_ffr_folder_* read it with a bounded decoder of the few pickle opcodes such
 * a dict needs; nothing from the file is ever executed.
 *
 * Errors: functions return 0 (or what is stated) on success and a negative errno:
 *   -EBADMSG   the file is not a valid FFRecord file (truncated, N impossible for its size,
 *              offsets out of order or past the end, metadata CRC mismatch, bad pickle)
 *   -EILSEQ    a sample's CRC does not match its bytes
 *   -ERANGE    a sample index outside [0, count)
 *   -ENOBUFS   a caller buffer smaller than the sample
 *   -ENOENT    no such file, no "*.ffr" in the directory, no such name in a folder
 *   -EINVAL    bad arguments; -ENOMEM; -EIO and other errno from the system calls
 * After a failure c3fs_ffr_errmsg() tells what and where: the file, and the sample index
 * when there is one.  No function prints.
 *
 * Threads: a reader may be used by any number of threads at once (each batch takes an
 * I/O context from a small pool); c3fs_ffr_reader_free() must be its last use.  A reader
 * survives fork(): the child makes its own io_uring or USRBIO rings.  A writer belongs to one
 * thread at a time.
 */
#ifndef C3FS_FFRECORD_H
#define C3FS_FFRECORD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define C3FS_FFR_HEADER_BYTES 12                      /* CRC + N */
#define C3FS_FFR_INDEX_BYTES_PER_SAMPLE 12            /* CRC + offset */
#define C3FS_FFR_CRC_PIECE ((size_t)512 << 20)        /* zlib crc32 piece size */
#define C3FS_FFR_FOLDER_MAGIC "piouhjgbr"
#define C3FS_FFR_FOLDER_MAGIC_LEN 9

/* The text of the last failure of an ffrecord call in this thread ("" if none); valid
 * until the next ffrecord call in this thread. */
const char *c3fs_ffr_errmsg(void);

/* A short text for a code returned by this library (EBADMSG and EILSEQ get this
 * library's meaning, others strerror's).  code may be negative or positive. */
const char *c3fs_ffr_strerror(int code);

/* zlib crc32 of len bytes, chained from crc (0 to start), fed in C3FS_FFR_CRC_PIECE
 * pieces. */
uint32_t c3fs_ffr_crc32(uint32_t crc, const void *data, size_t len);

/* ------------------------------------------------------------------ writer */

struct c3fs_ffr_writer;

/* n_samples for a writer that counts the samples and writes the header at close: the
 * samples are written first and moved up by the header's size at close (one more read
 * and write of the data). */
#define C3FS_FFR_COUNT_AT_CLOSE (-1)

/* Create (or truncate) path, mode 0666 & ~umask, for n_samples samples (>= 0), or
 * C3FS_FFR_COUNT_AT_CLOSE.  Memory grows with the samples appended, not with n_samples.
 * On success *out is a writer the caller ends with c3fs_ffr_writer_close() or _abort().
 * Returns 0, -EINVAL (n_samples < -1 or too large for a file), -ENOMEM, or open(2)'s
 * error; nothing is created on failure. */
int c3fs_ffr_writer_open(const char *path, int64_t n_samples, struct c3fs_ffr_writer **out);

/* Append one sample of len bytes (0 allowed).  Returns 0, -ERANGE (already n_samples
 * appended), -ENOMEM, or the write error.  After a failure only _abort() is allowed. */
int c3fs_ffr_writer_append(struct c3fs_ffr_writer *w, const void *data, size_t len);

/* Samples appended so far. */
int64_t c3fs_ffr_writer_count(const struct c3fs_ffr_writer *w);

/* Write the header and index, fsync nothing, close and free w (always, even on failure).
 * Returns 0, -EINVAL (fewer samples appended than announced: the file is removed), or a
 * write/close error (the file is removed). */
int c3fs_ffr_writer_close(struct c3fs_ffr_writer *w);

/* Give up: close, remove the file, free w.  NULL allowed. */
void c3fs_ffr_writer_abort(struct c3fs_ffr_writer *w);

/* ------------------------------------------------------------------ reader */

struct c3fs_ffr_reader;

/* How batches are read.
 *   USRBIO: through one USRBIO ring of the c3fs mount holding every file of the dataset
 *           (include/c3fs/usrbio.h): per batch, one prep per sample into one shared
 *           buffer (grown to fit the batch, kept across batches), one submit, one wait,
 *           then each sample copied into its buffer.  Needs every file on the same c3fs
 *           mount with its 3fs-virt/iovs/ directory, and a writable /dev/shm.
 *   URING:  io_uring (every read submitted at once, up to queue_depth in flight).
 *   PREAD:  one pread after the other.
 *   AUTO:   the environment variable C3FS_FFR_IO (auto, usrbio, uring, pread) when set,
 *           else USRBIO when it can serve the dataset, else io_uring, else pread.
 * The USRBIO buffer grows to at most 256 MiB, or C3FS_FFR_USRBIO_IOV_BYTES (4096 ..
 * 2^30) from the environment; a batch that needs more is read in several rounds.
 * Batches of fewer than 3 samples always use pread. */
enum c3fs_ffr_io {
	C3FS_FFR_IO_AUTO = 0,
	C3FS_FFR_IO_PREAD = 1,
	C3FS_FFR_IO_URING = 2,
	C3FS_FFR_IO_USRBIO = 3,
};

struct c3fs_ffr_reader_opts {
	int check_data;        /* nonzero: check the metadata CRC at open and every sample's
	                        * CRC on every read (the structure is checked always) */
	int io;                /* enum c3fs_ffr_io */
	unsigned queue_depth;  /* reads in flight per batch (io_uring or USRBIO ring
	                        * entries); 0 = 256, at most 4096 */
};

/* Open a dataset: path is one FFRecord file, or a directory whose "*.ffr" files (not
 * recursive, sorted by name) form one dataset.  opts NULL = check_data on, AUTO, 256.
 * Reads and checks every file's header and index (N bounded by the file's size before
 * anything is allocated).  On success *out is a reader freed with c3fs_ffr_reader_free().
 * Returns 0, -ENOENT (no such path, or a directory without .ffr files), -EBADMSG,
 * -EINVAL (io = URING or USRBIO and that backend cannot be had, e.g. USRBIO for a file
 * outside a c3fs mount; a bad C3FS_FFR_IO; other bad options), -ENOMEM, -errno. */
int c3fs_ffr_reader_open(const char *path, const struct c3fs_ffr_reader_opts *opts,
			 struct c3fs_ffr_reader **out);

/* The same over a list of files (n_paths >= 1), in that order. */
int c3fs_ffr_reader_open_files(const char *const *paths, size_t n_paths,
			       const struct c3fs_ffr_reader_opts *opts,
			       struct c3fs_ffr_reader **out);

/* Close the files, free the rings and the reader.  NULL allowed. */
void c3fs_ffr_reader_free(struct c3fs_ffr_reader *r);

/* Samples in the dataset (all files). */
int64_t c3fs_ffr_reader_count(const struct c3fs_ffr_reader *r);

/* Files of the dataset and the path of file k (valid until the reader is freed; NULL
 * when k is out of range). */
size_t c3fs_ffr_reader_nfiles(const struct c3fs_ffr_reader *r);
const char *c3fs_ffr_reader_file(const struct c3fs_ffr_reader *r, size_t k);

/* "usrbio", "io_uring" or "pread": what batches use. */
const char *c3fs_ffr_reader_io(const struct c3fs_ffr_reader *r);

/* Where sample index lives. */
struct c3fs_ffr_sample {
	uint32_t file;    /* file number, 0-based, in the reader's order */
	uint32_t crc;     /* stored CRC */
	int64_t local;    /* index inside that file */
	uint64_t offset;  /* byte offset in that file */
	uint64_t size;    /* bytes */
};

/* Fill *out for sample index.  0 or -ERANGE. */
int c3fs_ffr_reader_stat(const struct c3fs_ffr_reader *r, int64_t index,
			 struct c3fs_ffr_sample *out);

/* sizes[i] = size of sample indices[i], i < n.  0 or -ERANGE (sizes partly filled). */
int c3fs_ffr_reader_sizes(const struct c3fs_ffr_reader *r, const int64_t *indices, size_t n,
			  uint64_t *sizes);

/* Read sample index into buf (buf_len bytes) with one pread; *size_out (may be NULL) gets
 * its size, also when the answer is -ENOBUFS.  CRC checked when the reader checks data.
 * Returns 0, -ERANGE, -ENOBUFS, -EILSEQ, -EIO (file shorter than at open), -errno. */
int c3fs_ffr_read_one(struct c3fs_ffr_reader *r, int64_t index, void *buf, size_t buf_len,
		      uint64_t *size_out);

/* Read n samples in one batch (usrbio: one USRBIO submit and wait for the batch, or for
 * each part of it that fits the shared buffer and the ring; io_uring: every read
 * submitted at once, up to queue_depth in flight; pread: one after the other).  Sample indices[i] goes to bufs[i], which has
 * buf_lens[i] bytes; sizes[i] (sizes may be NULL) gets its size.  Indices may repeat and
 * come in any order; bufs must not overlap.  Every sample is checked before any is read
 * (-ERANGE, -ENOBUFS name the first bad position).  On any failure the contents of the
 * buffers are unspecified and the error of the lowest failing position is returned.
 * Returns 0 or an error of c3fs_ffr_read_one; through USRBIO also what the daemon
 * reports for a sample (the storage errors of a FUSE read), -ENOTCONN (the mount's daemon
 * is gone) or -ETIMEDOUT (no completion for 120 s), each naming the file and sample. */
int c3fs_ffr_read_batch(struct c3fs_ffr_reader *r, const int64_t *indices, size_t n,
			void *const *bufs, const uint64_t *buf_lens, uint64_t *sizes);

/* The same into one malloc'd block: on success *block is the block (the caller free()s
 * it; NULL when every sample is empty), bufs[i] points at sample i inside it, sizes[i] is
 * its size.  On failure *block is NULL and nothing is left to free. */
int c3fs_ffr_read_batch_alloc(struct c3fs_ffr_reader *r, const int64_t *indices, size_t n,
			      void **block, void **bufs, uint64_t *sizes);

/* ------------------------------------------------------------------ packed folders */

struct c3fs_ffr_folder;

/* One name of the tree.  Node 0 is the root directory (name ""). Children of a directory
 * are nodes first_child .. first_child + n_children - 1, in the pickled dict's order. */
struct c3fs_ffr_node {
	const char *name;      /* NUL-terminated, never "", ".", ".." nor containing '/' */
	int64_t index;         /* sample index of a file; -1 for a directory */
	uint32_t parent;       /* node number of the parent directory (root: 0) */
	uint32_t first_child;
	uint32_t n_children;
};

/* Decode a packed-folder index sample (magic + pickle; data need not outlive the call).
 * Returns 0 with *out (free with c3fs_ffr_folder_free), -ENOENT (no magic: not a packed
 * folder), -EBADMSG (an opcode outside the allowed subset, a class other than
 * collections.OrderedDict, a bad name, a shared or too deep dict, truncated input),
 * -ENOMEM. */
int c3fs_ffr_folder_parse(const void *data, size_t len, struct c3fs_ffr_folder **out);

/* Read the dataset's last sample and parse it; also checks that every file's index is a
 * sample before the last one.  Errors of c3fs_ffr_read_one and _parse. */
int c3fs_ffr_folder_open(struct c3fs_ffr_reader *r, struct c3fs_ffr_folder **out);

void c3fs_ffr_folder_free(struct c3fs_ffr_folder *f);

/* Number of nodes (>= 1) and node i (NULL when out of range); valid until freed. */
uint32_t c3fs_ffr_folder_count(const struct c3fs_ffr_folder *f);
const struct c3fs_ffr_node *c3fs_ffr_folder_node(const struct c3fs_ffr_folder *f, uint32_t i);

/* The node of a '/'-separated path ("" or "/" = the root; empty components ignored).
 * Returns the node number (>= 0) or -ENOENT. */
int64_t c3fs_ffr_folder_lookup(const struct c3fs_ffr_folder *f, const char *path);

/* Build the packed-folder index sample for a tree given as nodes in the layout above
 * (nodes[0] the root; names need not be unique-checked by the caller: a name used twice
 * in a directory is -EINVAL).  Writes magic + a protocol-2 pickle of nested
 * collections.OrderedDict that Python's pickle reads.  On success *out is malloc'd (the
 * caller frees) with *out_len bytes.  -EINVAL on a malformed tree, -ENOMEM. */
int c3fs_ffr_folder_encode(const struct c3fs_ffr_node *nodes, uint32_t n_nodes, void **out,
			   size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
