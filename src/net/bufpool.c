/* bufpool.c — cache of aligned bulk buffers (see net_int.h).
 *
 * Class k holds buffers of exactly 4096 << k bytes.  Invariant: cached_bytes is the sum of
 * the capacities of the buffers in free[][] and never exceeds max_cached_bytes.
 */
#include <stdlib.h>

#include "net/net_int.h"

#define POOL_MIN_SHIFT 12

static int pool_class(size_t len, size_t *cap)
{
	size_t c = (size_t)1 << POOL_MIN_SHIFT;

	for (int k = 0; k < NET_POOL_CLASSES; k++, c <<= 1) {
		if (len <= c) {
			*cap = c;
			return k;
		}
	}
	*cap = (len + 4095) & ~(size_t)4095;
	return -1;
}

void net__bufpool_init(struct net_bufpool *p, size_t max_cached_bytes)
{
	pthread_mutex_init(&p->mu, NULL);
	p->cached_bytes = 0;
	p->max_cached_bytes = max_cached_bytes;
	for (int k = 0; k < NET_POOL_CLASSES; k++)
		p->nfree[k] = 0;
}

void *net__bufpool_get(struct net_bufpool *p, size_t len, size_t *cap)
{
	int k = pool_class(len, cap);
	void *mem = NULL;

	if (k >= 0) {
		pthread_mutex_lock(&p->mu);
		if (p->nfree[k] > 0) {
			mem = p->free[k][--p->nfree[k]];
			p->cached_bytes -= *cap;
		}
		pthread_mutex_unlock(&p->mu);
		if (mem)
			return mem;
	}
	if (posix_memalign(&mem, 4096, *cap) != 0)
		return NULL;
	return mem;
}

void net__bufpool_put(struct net_bufpool *p, void *mem, size_t cap)
{
	size_t c;
	int k;

	if (!mem)
		return;
	k = pool_class(cap, &c);
	if (k >= 0 && c == cap) {
		pthread_mutex_lock(&p->mu);
		if (p->nfree[k] < NET_POOL_PER_CLASS &&
		    p->cached_bytes + cap <= p->max_cached_bytes) {
			p->free[k][p->nfree[k]++] = mem;
			p->cached_bytes += cap;
			mem = NULL;
		}
		pthread_mutex_unlock(&p->mu);
	}
	free(mem);
}

void net__bufpool_release(struct net_bufpool *p)
{
	for (int k = 0; k < NET_POOL_CLASSES; k++)
		while (p->nfree[k] > 0)
			free(p->free[k][--p->nfree[k]]);
	p->cached_bytes = 0;
	pthread_mutex_destroy(&p->mu);
}
