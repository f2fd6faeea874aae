/* ring.h — the USRBIO shared-memory ring: layout and the two sides' accessors.
 *
 * One ring = one shm object, mapped by the application (producer of submissions,
 * consumer of completions) and by c3fs-fuse (the other way round):
 *
 *   offset 0      struct usrbio_ring_hdr  (USRBIO_HDR_BYTES, one page)
 *                   magic, version, entries           written once by the creator
 *                   sq_head  (daemon -> app)  entries taken by the daemon
 *                   sq_tail  (app -> daemon)  entries published by c3fs_submit_ios
 *                   cq_head  (app -> daemon)  completions reaped by the application
 *                   cq_tail  (daemon -> app)  completions posted by the daemon
 *                   cq_sem   process-shared semaphore, posted after each completion
 *   4096          struct usrbio_sqe[entries]  submission ring
 *   ...           struct usrbio_cqe[entries]  completion ring
 *
 * Indices are free-running uint32 counters (C11 atomics, acquire/release); slot = counter
 * % entries; tail - head is the fill level, never more than entries.  Each index has one
 * writer; the writer keeps its own copy and only stores it, the reader loads it once and
 * checks it.  The daemon never trusts anything in the ring: it reads sq_tail, cq_head and
 * each submission entry once into a local copy, bounds-checks the copy, and keeps sq_head
 * and cq_tail in its own memory (usrbio_consumer).  A ring whose indices are impossible is
 * "broken": the daemon stops serving it (the application's own fault, nobody else's).
 *
 * The application library keeps at most `entries` I/Os prepared-and-not-reaped (slot
 * indices 0..entries-1, returned by c3fs_prep_io and carried back in the completion), so
 * an honest application never overflows either ring.
 */
#ifndef C3_USRBIO_RING_H
#define C3_USRBIO_RING_H

#include <semaphore.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#define USRBIO_RING_MAGIC   0x42523343u  /* "C3RB" little-endian */
#define USRBIO_RING_VERSION 1u
#define USRBIO_HDR_BYTES    4096u
#define USRBIO_MAX_ENTRIES  65536
#define USRBIO_MAX_IO_BYTES 0x7fffffffull /* one I/O: at most 2 GiB - 1 */

/* is_c3fs: ioctl answered by c3fs-fuse on any file or directory of the mount */
#define C3FS_IOC_GET_MAGIC _IOR('3', 0, uint32_t)
#define C3FS_MAGIC         0xc3f5c3f5u

/* names: shm objects in /dev/shm, registration symlinks in <mount>/3fs-virt/iovs/ */
#define USRBIO_SHM_DIR      "/dev/shm"
#define USRBIO_IOV_PREFIX   "c3fs-iov-"
#define USRBIO_IOR_PREFIX   "c3fs-ior-"
#define USRBIO_VIRT_IOVS    "3fs-virt/iovs"
#define USRBIO_SUBMIT_NAME  "submit-ios"   /* + "" (normal), ".ph" (high), ".pl" (low) */
#define USRBIO_SEM_PATH_PREFIX "/dev/shm/sem." /* a named semaphore's file */

struct usrbio_ring_hdr {
	uint32_t magic;
	uint32_t version;
	int32_t entries;
	uint32_t reserved;
	_Alignas(64) _Atomic uint32_t sq_head;
	_Alignas(64) _Atomic uint32_t sq_tail;
	_Alignas(64) _Atomic uint32_t cq_head;
	_Alignas(64) _Atomic uint32_t cq_tail;
	_Alignas(64) sem_t cq_sem;
};

/* One submission: 64 bytes. */
struct usrbio_sqe {
	uint8_t iov_id[16];   /* the iov the data goes to / comes from */
	uint64_t iov_off;     /* offset in that iov */
	uint64_t ino;         /* c3fs inode of the file (a registered fd's st_ino) */
	uint64_t file_off;
	uint64_t len;         /* 1 .. USRBIO_MAX_IO_BYTES */
	uint64_t userdata;    /* carried back in the completion */
	int32_t index;        /* slot, 0 .. entries-1, carried back */
	uint32_t reserved;
};

/* One completion: 24 bytes, same layout as struct c3fs_cqe on LP64. */
struct usrbio_cqe {
	int32_t index;
	int32_t reserved;
	int64_t result;       /* bytes or -errno */
	uint64_t userdata;
};

/* Bytes of a ring of `entries` entries (0 if entries is out of range). */
size_t usrbio_ring_bytes(int entries);

static inline struct usrbio_sqe *usrbio_sqes(void *base)
{
	return (struct usrbio_sqe *)((uint8_t *)base + USRBIO_HDR_BYTES);
}
static inline struct usrbio_cqe *usrbio_cqes(void *base, int entries)
{
	return (struct usrbio_cqe *)((uint8_t *)base + USRBIO_HDR_BYTES +
				     (size_t)entries * sizeof(struct usrbio_sqe));
}

/* ---- the daemon's side ---- */

/* The daemon's own view of a ring: everything it decides on lives here, not in the
 * shared memory.  One thread at a time per side (submissions under the ring's take lock,
 * completions under its completion lock). */
struct usrbio_consumer {
	uint8_t *base;        /* the mapping */
	size_t bytes;
	int32_t entries;      /* read once at init */
	uint32_t sq_head;     /* authoritative */
	uint32_t cq_tail;     /* authoritative */
};

/* A submission after checks: everything in it is within bounds except the iov range,
 * which needs the iov (usrbio_range_ok). */
struct usrbio_io {
	uint8_t iov_id[16];
	uint64_t iov_off, ino, file_off, len, userdata;
	int32_t index;
};

/* Check the header of a mapped ring of `bytes` bytes (magic, version, entries, size),
 * and start consuming at its current sq_tail / cq_head (entries published before the
 * registration are taken too: sq_head = its current value).  0 or -EINVAL. */
int usrbio_consumer_init(struct usrbio_consumer *c, void *base, size_t bytes);
/* Submissions published and not yet taken: 0..entries, or -EPROTO (impossible tail). */
int usrbio_sq_avail(struct usrbio_consumer *c);
/* Copy the next submission once, check it, advance the local sq_head (the caller
 * publishes with usrbio_sq_publish).  0 with *out filled; -EINVAL when the entry is
 * garbage: *out->index is then its index if that is in range, else -1, and the entry is
 * consumed anyway.  Call only when usrbio_sq_avail() > 0. */
int usrbio_sq_take(struct usrbio_consumer *c, struct usrbio_io *out);
/* Store the local sq_head in the ring (frees submission space for the application). */
void usrbio_sq_publish(struct usrbio_consumer *c);
/* Post a completion and wake the waiter.  0, or -EPROTO when the completion ring is full
 * (the application reaps nothing, or wrote garbage into cq_head): nothing posted. */
int usrbio_cq_push(struct usrbio_consumer *c, int32_t index, int64_t result, uint64_t userdata);
/* [off, off + len) within [0, size) without overflow. */
static inline int usrbio_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

#endif
