/* stripe.c — a file byte range -> per-chunk pieces on chains (pure functions).
 *
 * Chunk i of a file covers bytes [i*chunk_size, (i+1)*chunk_size) and lives on the chain
 * chosen by the layout math of proto/meta.h (meta_layout_pos_from_perm).  A range is
 * split at chunk boundaries; pieces come out in file order, buf_off counting from the
 * start of the range.  Nothing here allocates or touches shared state.
 */
#include <errno.h>
#include <stdint.h>

#include "client/client_int.h"
#include "common/errors.h"

uint64_t client__stripe_nchunks(uint32_t chunk_size, uint64_t off, uint64_t len)
{
	uint64_t first = off / chunk_size;
	uint64_t last = (off + len - 1) / chunk_size;

	return last - first + 1;
}

int client__stripe_plan(const struct meta_layout *l, const uint32_t *perm,
			const uint32_t *chains, uint32_t nchains, uint64_t off, uint64_t len,
			struct client_piece *out, int max)
{
	uint64_t done = 0;
	int n = 0;

	if (l->chunk_size == 0 || l->stripe == 0 || nchains == 0 || l->stripe > nchains)
		return -C3FS_EBADLAYOUT;
	if (len == 0)
		return 0;
	if (off + len < off)
		return -EFBIG;
	while (done < len) {
		uint64_t pos = off + done;
		uint64_t idx = pos / l->chunk_size;
		uint32_t coff = (uint32_t)(pos % l->chunk_size);
		uint64_t take = l->chunk_size - coff;
		uint32_t p;

		if (idx > UINT32_MAX) /* chunk ids hold a 32-bit index */
			return -EFBIG;
		if (take > len - done)
			take = len - done;
		if (n >= max)
			return -ENOMEM;
		p = meta_layout_pos_from_perm(l, perm, nchains, idx);
		out[n].chunk_index = idx;
		out[n].chunk_off = coff;
		out[n].len = (uint32_t)take;
		out[n].buf_off = done;
		out[n].chain_id = chains[p];
		n++;
		done += take;
	}
	return n;
}

int client__iov_slice(const struct iovec *iov, int iovcnt, uint64_t from, uint64_t n,
		      struct iovec *out, int max)
{
	uint64_t skip = from;
	int i = 0, k = 0;

	while (i < iovcnt && skip >= iov[i].iov_len) {
		skip -= iov[i].iov_len;
		i++;
	}
	while (n > 0) {
		uint64_t avail, take;

		if (i >= iovcnt || k >= max)
			return -EINVAL;
		avail = iov[i].iov_len - skip;
		take = avail < n ? avail : n;
		if (take > 0) {
			out[k].iov_base = (char *)iov[i].iov_base + skip;
			out[k].iov_len = take;
			k++;
		}
		n -= take;
		skip = 0;
		i++;
	}
	return k;
}

uint32_t client__pick_replica(const unsigned *loads, uint32_t n, uint32_t start, int avoid)
{
	uint32_t best = start % n;
	bool found = false;

	for (uint32_t j = 0; j < n; j++) {
		uint32_t k = (start + j) % n;

		if ((int)k == avoid && n > 1)
			continue;
		if (!found || loads[k] < loads[best]) { /* strictly: ties keep the order */
			best = k;
			found = true;
		}
	}
	return best;
}
