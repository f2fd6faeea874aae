/* chain_gen.c — balanced chain tables (contract in chain_gen.h). */
#include "chain_gen.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int cmp_target(const void *a, const void *b)
{
	const struct chain_gen_target *x = a, *y = b;

	if (x->node_id != y->node_id)
		return x->node_id < y->node_id ? -1 : 1;
	return (x->target_id > y->target_id) - (x->target_id < y->target_id);
}

struct gen_node {
	uint32_t first; /* index of its first target in the sorted array */
	uint32_t count;
	uint32_t used;
	uint32_t heads;
};

/* Add d to the pair count of nodes a, b (both directions); returns the change of the sum
 * of squared pair counts. */
static int64_t pair_add(uint32_t *pair, uint32_t nn, uint32_t a, uint32_t b, int d)
{
	int64_t p = pair[(size_t)a * nn + b], q = p + d;

	pair[(size_t)a * nn + b] = (uint32_t)q;
	pair[(size_t)b * nn + a] = (uint32_t)q;
	return q * q - p * p;
}

static bool in_chain(const uint32_t *c, uint32_t r, uint32_t node)
{
	for (uint32_t k = 0; k < r; k++)
		if (c[k] == node)
			return true;
	return false;
}

/* Move node u out of chain c (position i) and node v in; returns the change of the sum of
 * squared pair counts (pair already updated). */
static int64_t chain_replace(uint32_t *pair, uint32_t nn, uint32_t *c, uint32_t r, uint32_t i,
			     uint32_t v)
{
	int64_t d = 0;

	for (uint32_t k = 0; k < r; k++) {
		if (k == i)
			continue;
		d += pair_add(pair, nn, c[i], c[k], -1);
		d += pair_add(pair, nn, v, c[k], +1);
	}
	c[i] = v;
	return d;
}

/* Local search: swap members between two chains while that lowers the sum of squared
 * pair counts (each swap keeps every node's chain count and every chain on distinct
 * nodes).  Bounded: at most 8 passes. */
static void improve(uint32_t *cn, uint32_t nchains, uint32_t r, uint32_t *pair, uint32_t nn)
{
	for (int pass = 0; pass < 8; pass++) {
		bool better = false;

		for (uint32_t a = 0; a < nchains; a++)
			for (uint32_t b = a + 1; b < nchains; b++)
				for (uint32_t i = 0; i < r; i++)
					for (uint32_t j = 0; j < r; j++) {
						uint32_t *ca = cn + (size_t)a * r, *cb = cn + (size_t)b * r;
						uint32_t u = ca[i], v = cb[j];
						int64_t d;

						if (u == v || in_chain(ca, r, v) || in_chain(cb, r, u))
							continue;
						d = chain_replace(pair, nn, ca, r, i, v);
						d += chain_replace(pair, nn, cb, r, j, u);
						if (d < 0) {
							better = true;
							continue;
						}
						chain_replace(pair, nn, cb, r, j, v);
						chain_replace(pair, nn, ca, r, i, u);
					}
		if (!better)
			break;
	}
}

int admin_chain_gen(const struct chain_gen_target *t, uint32_t ntargets, uint32_t replicas,
		    uint32_t *out, uint32_t max_out)
{
	struct chain_gen_target *s = NULL;
	struct gen_node *nd = NULL;
	uint32_t *pair = NULL, *cn = NULL, nn = 0, nchains = 0;
	int rc;

	if (replicas == 0 || replicas > 16)
		return -EINVAL;
	s = malloc(sizeof(*s) * (ntargets ? ntargets : 1));
	if (!s)
		return -ENOMEM;
	memcpy(s, t, sizeof(*s) * ntargets);
	qsort(s, ntargets, sizeof(*s), cmp_target);
	for (uint32_t i = 0; i < ntargets; i++)
		if (i == 0 || s[i].node_id != s[i - 1].node_id)
			nn++;
	rc = -EINVAL;
	if (nn < replicas || nn > CHAIN_GEN_MAX_NODES)
		goto out;
	rc = -ENOMEM;
	nd = calloc(nn, sizeof(*nd));
	pair = calloc((size_t)nn * nn, sizeof(*pair));
	cn = malloc(sizeof(*cn) * (ntargets ? ntargets : 1));
	if (!nd || !pair || !cn)
		goto out;
	for (uint32_t i = 0, k = 0; i < ntargets; i++) {
		if (i > 0 && s[i].node_id != s[i - 1].node_id)
			k++;
		if (nd[k].count == 0)
			nd[k].first = i;
		nd[k].count++;
	}
	/* greedy: the node with the most unused targets, then the ones sharing the fewest
	 * chains with those taken (ties: more unused targets, lower node id) */
	for (;;) {
		uint32_t *pick = cn + (size_t)nchains * replicas, np = 0;

		while (np < replicas) {
			uint32_t best = nn;
			int64_t best_score = 0;

			for (uint32_t j = 0; j < nn; j++) {
				int64_t score = 0;

				if (nd[j].used == nd[j].count || in_chain(pick, np, j))
					continue;
				for (uint32_t p = 0; p < np; p++)
					score += pair[(size_t)pick[p] * nn + j];
				score = score * ((int64_t)ntargets + 1) - (nd[j].count - nd[j].used);
				if (best == nn || score < best_score) {
					best = j;
					best_score = score;
				}
			}
			if (best == nn)
				break;
			for (uint32_t p = 0; p < np; p++)
				pair_add(pair, nn, pick[p], best, +1);
			nd[best].used++;
			pick[np++] = best;
		}
		if (np < replicas) {
			for (uint32_t p = 0; p < np; p++) { /* undo the incomplete chain */
				nd[pick[p]].used--;
				for (uint32_t q = p + 1; q < np; q++)
					pair_add(pair, nn, pick[p], pick[q], -1);
			}
			break;
		}
		nchains++;
	}
	rc = -ENOSPC;
	if ((uint64_t)nchains * replicas > max_out)
		goto out;
	improve(cn, nchains, replicas, pair, nn);
	/* targets (lowest id first per node) and heads (the member heading the fewest) */
	for (uint32_t j = 0; j < nn; j++)
		nd[j].used = 0;
	for (uint32_t c = 0; c < nchains; c++) {
		uint32_t *pick = cn + (size_t)c * replicas, head = 0;

		for (uint32_t p = 1; p < replicas; p++)
			if (nd[pick[p]].heads < nd[pick[head]].heads ||
			    (nd[pick[p]].heads == nd[pick[head]].heads && pick[p] < pick[head]))
				head = p;
		nd[pick[head]].heads++;
		for (uint32_t p = 0; p < replicas; p++) {
			uint32_t j = pick[(head + p) % replicas];

			out[(size_t)c * replicas + p] = s[nd[j].first + nd[j].used++].target_id;
		}
	}
	rc = (int)nchains;
out:
	free(cn);
	free(pair);
	free(nd);
	free(s);
	return rc;
}
