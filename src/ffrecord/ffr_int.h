/* ffr_int.h — ffrecord internals shared by the files of src/ffrecord/.
 *
 * format.c   error text, CRC, header/index validation (pure: bytes in, verdict out)
 * writer.c   c3fs_ffr_writer
 * reader.c   c3fs_ffr_reader: files, global index, read_one/read_batch, I/O pool
 * io_pread.c io_uring.c io_usrbio.c   the batch backends behind struct ffr__io_ops
 * folder.c   packed-folder index: bounded pickle subset decoder and encoder
 */
#ifndef C3FS_FFR_INT_H
#define C3FS_FFR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "c3fs/ffrecord.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ffrecord: the FFRecord layout is little-endian; this port assumes a little-endian host"
#endif

/* Set the thread's error text (printf-style) and return code (negative), so that
 * `return ffr__err(-EBADMSG, "%s: ...", path)` reads as one statement. */
int ffr__err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ffr__err_clear(void);

/* Validate the 12-byte header of a file of file_size bytes: N >= 0 and the index fits.
 * On success *n and *meta_crc are set.  name is for the message. */
int ffr__header_parse(const char *name, const uint8_t hdr[C3FS_FFR_HEADER_BYTES],
		      uint64_t file_size, int64_t *n, uint32_t *meta_crc);

/* Validate the index of that file: offsets[0] = 12 + 12N, non-decreasing, last <= size;
 * and, when check_crc and meta_crc != 0, the metadata CRC.  idx = the 12N bytes read at
 * offset 12 (CRCs then offsets). */
int ffr__index_check(const char *name, int64_t n, uint32_t meta_crc, const uint8_t *idx,
		     uint64_t file_size, bool check_crc);

/* The metadata CRC of N and its index bytes. */
uint32_t ffr__meta_crc(int64_t n, const void *idx, size_t idx_len);

/* One read of a batch: len bytes at off of fd into buf.  Backends set done and err. */
struct ffr__req {
	int fd;
	uint64_t off;
	uint64_t len;
	void *buf;
	uint64_t done;  /* bytes read so far */
	int err;        /* 0, or -errno; -EIO for an early end of file */
};

struct ffr__io;

/* A batch backend.  open() sets up io (io->priv) for queue depth `depth`, or fails with
 * -errno (the reader then falls back to the next backend); read() performs every request
 * (each one to completion or to its own error) and returns 0 when all succeeded, else the
 * err of the lowest failing request; close() releases what open() made.  Backends:
 * pread, io_uring, usrbio (one USRBIO ring of the dataset's c3fs mount). */
struct ffr__io_ops {
	const char *name;
	int (*open)(struct ffr__io *io, unsigned depth);
	int (*read)(struct ffr__io *io, struct ffr__req *reqs, size_t n);
	void (*close)(struct ffr__io *io);
};

struct ffr__io {
	const struct ffr__io_ops *ops;
	void *priv;            /* backend state */
	pid_t pid;             /* process that opened it (a forked child makes its own) */
	const char *mount_point;  /* usrbio: the dataset's c3fs mount (the reader's) */
	bool broken;           /* set by read(): unusable, to be closed, not pooled */
	struct ffr__io *next;  /* reader's idle list */
};

extern const struct ffr__io_ops ffr__io_pread;
extern const struct ffr__io_ops ffr__io_uring;
extern const struct ffr__io_ops ffr__io_usrbio;

/* enum c3fs_ffr_io of a name ("auto", "usrbio", "uring" or "io_uring", "pread"), or -1. */
int ffr__io_parse(const char *name);

/* The backends a reader tries, best first, for the requested io (AUTO resolved by the
 * environment already) when USRBIO can (usrbio_ok) or cannot serve the dataset: AUTO =
 * usrbio (when ok), io_uring, pread; an explicit choice = that one only.  Fills out[]
 * (3 entries) and returns how many. */
size_t ffr__io_order(int io, bool usrbio_ok, const struct ffr__io_ops *out[3]);

/* USRBIO helpers of the reader (io_usrbio.c).  _mount: whether every fds[i] (opened from
 * paths[i]) lies on one c3fs mount whose 3fs-virt/iovs/ is there; copies the mount point
 * into mp (>= 256 bytes).  0, or -ENODEV / -EXDEV with the error text set.  _reg: register
 * fd for c3fs_prep_io (0 or -errno with the text set); _dereg undoes it. */
int ffr__usrbio_mount(const char *const *paths, const int *fds, size_t n, char *mp,
		      size_t mp_size);
int ffr__usrbio_reg(int fd, const char *path);
void ffr__usrbio_dereg(int fd);

/* Read reqs[i] fully with pread (used by the pread backend and for short reads). */
int ffr__pread_full(struct ffr__req *q);

/* Bounded pickle subset → tree; internal entry used by c3fs_ffr_folder_parse and the fuzz
 * target (data = the pickle, no magic). */
int ffr__pickle_decode(const uint8_t *data, size_t len, struct c3fs_ffr_folder **out);

#endif
