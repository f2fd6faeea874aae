/* ring.c — the daemon's side of the USRBIO ring (layout and rules in ring.h).
 *
 * Every value read from the shared memory is read once, into a local, and checked before
 * use: the application may change it at any moment.  Nothing here trusts sq_tail, cq_head
 * or an entry; sq_head and cq_tail are kept in struct usrbio_consumer.
 */
#include <errno.h>
#include <string.h>

#include "usrbio/ring.h"

size_t usrbio_ring_bytes(int entries)
{
	size_t n;

	if (entries < 1 || entries > USRBIO_MAX_ENTRIES)
		return 0;
	n = USRBIO_HDR_BYTES + (size_t)entries * (sizeof(struct usrbio_sqe) +
						  sizeof(struct usrbio_cqe));
	return (n + 4095) & ~(size_t)4095;
}

int usrbio_consumer_init(struct usrbio_consumer *c, void *base, size_t bytes)
{
	struct usrbio_ring_hdr *h = base;
	uint32_t magic, version;
	int32_t entries;

	memset(c, 0, sizeof(*c));
	if (!base || bytes < USRBIO_HDR_BYTES)
		return -EINVAL;
	magic = __atomic_load_n(&h->magic, __ATOMIC_RELAXED);
	version = __atomic_load_n(&h->version, __ATOMIC_RELAXED);
	entries = __atomic_load_n(&h->entries, __ATOMIC_RELAXED);
	if (magic != USRBIO_RING_MAGIC || version != USRBIO_RING_VERSION)
		return -EINVAL;
	if (usrbio_ring_bytes(entries) == 0 || usrbio_ring_bytes(entries) > bytes)
		return -EINVAL;
	c->base = base;
	c->bytes = bytes;
	c->entries = entries;
	c->sq_head = atomic_load_explicit(&h->sq_head, memory_order_acquire);
	c->cq_tail = atomic_load_explicit(&h->cq_tail, memory_order_acquire);
	return 0;
}

int usrbio_sq_avail(struct usrbio_consumer *c)
{
	struct usrbio_ring_hdr *h = (struct usrbio_ring_hdr *)c->base;
	uint32_t tail = atomic_load_explicit(&h->sq_tail, memory_order_acquire);
	uint32_t n = tail - c->sq_head;

	if (n > (uint32_t)c->entries)
		return -EPROTO;
	return (int)n;
}

int usrbio_sq_take(struct usrbio_consumer *c, struct usrbio_io *out)
{
	const struct usrbio_sqe *src = &usrbio_sqes(c->base)[c->sq_head % (uint32_t)c->entries];
	struct usrbio_sqe e;

	/* one copy; every check below is on the copy */
	memcpy(&e, src, sizeof(e)); /* ordered after the acquire load of sq_tail (sq_avail) */
	c->sq_head++;
	memcpy(out->iov_id, e.iov_id, sizeof(out->iov_id));
	out->iov_off = e.iov_off;
	out->ino = e.ino;
	out->file_off = e.file_off;
	out->len = e.len;
	out->userdata = e.userdata;
	out->index = e.index >= 0 && e.index < c->entries ? e.index : -1;
	if (out->index < 0)
		return -EINVAL;
	if (e.len == 0 || e.len > USRBIO_MAX_IO_BYTES)
		return -EINVAL;
	if (e.file_off > INT64_MAX || e.len > (uint64_t)INT64_MAX - e.file_off)
		return -EINVAL; /* past the largest file offset */
	if (e.iov_off > UINT64_MAX - e.len)
		return -EINVAL;
	return 0;
}

void usrbio_sq_publish(struct usrbio_consumer *c)
{
	struct usrbio_ring_hdr *h = (struct usrbio_ring_hdr *)c->base;

	atomic_store_explicit(&h->sq_head, c->sq_head, memory_order_release);
}

int usrbio_cq_push(struct usrbio_consumer *c, int32_t index, int64_t result, uint64_t userdata)
{
	struct usrbio_ring_hdr *h = (struct usrbio_ring_hdr *)c->base;
	uint32_t head = atomic_load_explicit(&h->cq_head, memory_order_acquire);
	struct usrbio_cqe *dst;
	struct usrbio_cqe e;

	if (c->cq_tail - head >= (uint32_t)c->entries)
		return -EPROTO; /* full, or cq_head is garbage */
	e.index = index;
	e.reserved = 0;
	e.result = result;
	e.userdata = userdata;
	dst = &usrbio_cqes(c->base, c->entries)[c->cq_tail % (uint32_t)c->entries];
	memcpy(dst, &e, sizeof(e));
	c->cq_tail++;
	atomic_store_explicit(&h->cq_tail, c->cq_tail, memory_order_release);
	sem_post(&h->cq_sem);
	return 0;
}
