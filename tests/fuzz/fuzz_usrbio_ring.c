/* fuzz_usrbio_ring.c — libFuzzer target for the daemon's side of the USRBIO ring
 * (src/usrbio/ring.c): the input is the shared memory an application hands c3fs-fuse.
 *
 * Input: 2 bytes of entries (little-endian, 1..64 used when valid, else the header value
 * is whatever the input says), then bytes copied over a zeroed ring image of that size
 * (header first).  The target then runs what a dispatcher and the workers do: init,
 * avail, take every entry, push a completion for each.  Checks beyond "no crash, no read
 * or write outside the mapping" (ASan, exact-size heap buffer):
 *   - init accepts only a header with the magic, version 1 and entries within the size;
 *   - avail is -EPROTO or 0..entries;
 *   - a taken entry that is accepted has index in [0, entries), len in 1..2^31-1, and
 *     file and iov ranges that do not overflow; a refused one has index -1 or in range;
 *   - pushes never exceed entries beyond the ring's cq_head.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "usrbio/ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct usrbio_consumer c;
	struct usrbio_ring_hdr *h;
	int entries = 8, avail, i, pushed = 0;
	size_t bytes;
	uint8_t *ring;

	if (size >= 2) {
		entries = 1 + ((data[0] | data[1] << 8) % 64);
		data += 2;
		size -= 2;
	}
	bytes = usrbio_ring_bytes(entries);
	ring = aligned_alloc(4096, bytes);
	if (!ring)
		return 0;
	memset(ring, 0, bytes);
	h = (struct usrbio_ring_hdr *)ring;
	/* a valid header unless the input overwrites it */
	h->magic = USRBIO_RING_MAGIC;
	h->version = USRBIO_RING_VERSION;
	h->entries = entries;
	sem_init(&h->cq_sem, 1, 0);
	memcpy(ring, data, size < bytes ? size : bytes);
	if (usrbio_consumer_init(&c, ring, bytes) != 0) {
		FZ_CHECK(h->magic != USRBIO_RING_MAGIC || h->version != USRBIO_RING_VERSION ||
			 usrbio_ring_bytes(h->entries) == 0 || usrbio_ring_bytes(h->entries) > bytes);
		free(ring);
		return 0;
	}
	FZ_CHECK(c.entries >= 1 && usrbio_ring_bytes(c.entries) <= bytes);
	/* the semaphore may be garbage now: give it a sane value before posts */
	sem_init(&h->cq_sem, 1, 0);
	avail = usrbio_sq_avail(&c);
	FZ_CHECK(avail == -EPROTO || (avail >= 0 && avail <= c.entries));
	for (i = 0; i < avail; i++) {
		struct usrbio_io io;
		int rc = usrbio_sq_take(&c, &io);

		if (rc == 0) {
			FZ_CHECK(io.index >= 0 && io.index < c.entries);
			FZ_CHECK(io.len >= 1 && io.len <= USRBIO_MAX_IO_BYTES);
			FZ_CHECK(io.file_off <= (uint64_t)INT64_MAX - io.len);
			FZ_CHECK(io.iov_off <= UINT64_MAX - io.len);
		} else {
			FZ_CHECK(rc == -EINVAL);
			FZ_CHECK(io.index == -1 || (io.index >= 0 && io.index < c.entries));
		}
		if (usrbio_cq_push(&c, io.index, rc ? rc : (int64_t)io.len, io.userdata) == 0)
			pushed++;
	}
	usrbio_sq_publish(&c);
	FZ_CHECK(pushed <= c.entries);
	FZ_CHECK(c.cq_tail - atomic_load(&h->cq_head) <= (uint32_t)c.entries);
	sem_destroy(&h->cq_sem);
	free(ring);
	return 0;
}
