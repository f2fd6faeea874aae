/* chain.c — chain reconfiguration rules and deterministic replica placement.
 * Rules and invariants: chain.h and src/mgmtd/README.md. */
#include "mgmtd/chain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool local_alive(uint8_t local)
{
	return local == TARGET_LOCAL_ONLINE || local == TARGET_LOCAL_UPTODATE;
}

static int state_rank(uint8_t st)
{
	switch (st) {
	case TARGET_SERVING: return 0;
	case TARGET_LASTSRV: return 1;
	case TARGET_SYNCING: return 2;
	case TARGET_WAITING: return 3;
	default: return 4;
	}
}

bool mgmtd_chain_update(const struct chain_member *in, uint32_t n, struct chain_member *out)
{
	uint8_t next[ROUTING_MAX_REPLICAS];
	bool any_serving = false, any_syncing = false, any_lastsrv = false, changed = false;
	uint32_t k = 0;

	if (n > ROUTING_MAX_REPLICAS)
		n = ROUTING_MAX_REPLICAS;
	for (uint32_t i = 0; i < n; i++)
		any_lastsrv |= in[i].state == TARGET_LASTSRV;

	/* 1. serving members */
	for (uint32_t i = 0; i < n; i++) {
		next[i] = 0;
		if (in[i].state != TARGET_SERVING)
			continue;
		if (local_alive(in[i].local)) {
			next[i] = TARGET_SERVING;
			any_serving = true;
		} else if (!any_lastsrv) {
			next[i] = TARGET_LASTSRV;
			any_lastsrv = true;
		} else {
			next[i] = TARGET_OFFLINE;
		}
	}
	/* 2. a last server comes back only when nobody else serves */
	for (uint32_t i = 0; i < n; i++) {
		if (in[i].state != TARGET_LASTSRV)
			continue;
		if (any_serving)
			next[i] = TARGET_OFFLINE;
		else if (local_alive(in[i].local))
			next[i] = TARGET_SERVING;
		else
			next[i] = TARGET_LASTSRV;
	}
	for (uint32_t i = 0; i < n; i++)
		any_serving |= next[i] == TARGET_SERVING;
	/* 3. syncing members */
	for (uint32_t i = 0; i < n; i++) {
		if (in[i].state != TARGET_SYNCING)
			continue;
		if (in[i].local == TARGET_LOCAL_UPTODATE)
			next[i] = TARGET_SERVING;
		else if (in[i].local == TARGET_LOCAL_ONLINE)
			next[i] = any_serving ? TARGET_SYNCING : TARGET_WAITING;
		else
			next[i] = TARGET_OFFLINE;
		any_syncing |= next[i] == TARGET_SYNCING;
	}
	for (uint32_t i = 0; i < n; i++)
		any_serving |= next[i] == TARGET_SERVING;
	/* 4. waiting / offline members: at most one starts syncing */
	for (uint32_t i = 0; i < n; i++) {
		if (next[i] != 0)
			continue;
		if (!local_alive(in[i].local)) {
			next[i] = TARGET_OFFLINE;
		} else if (any_serving && !any_syncing) {
			next[i] = TARGET_SYNCING;
			any_syncing = true;
		} else {
			next[i] = TARGET_WAITING;
		}
	}
	/* 5. with a server present, no LASTSRV remains */
	if (any_serving)
		for (uint32_t i = 0; i < n; i++)
			if (next[i] == TARGET_LASTSRV)
				next[i] = TARGET_OFFLINE;

	/* stable order by state rank */
	for (int rank = 0; rank <= 4; rank++) {
		for (uint32_t i = 0; i < n; i++) {
			if (state_rank(next[i]) != rank)
				continue;
			out[k] = in[i];
			out[k].state = next[i];
			if (out[k].target_id != in[k].target_id || out[k].state != in[k].state)
				changed = true;
			k++;
		}
	}
	return changed;
}

enum chain_health mgmtd_chain_health(const struct chain_member *m, uint32_t n)
{
	uint32_t serving = 0;

	for (uint32_t i = 0; i < n; i++)
		serving += m[i].state == TARGET_SERVING;
	if (serving == 0)
		return CHAIN_UNAVAILABLE;
	return serving == n ? CHAIN_HEALTHY : CHAIN_DEGRADED;
}

/* ------------------------------------------------------------------ placement */

static int cmp_cand(const void *a, const void *b)
{
	const struct placement_target *x = a, *y = b;

	if (x->node_id != y->node_id)
		return x->node_id < y->node_id ? -1 : 1;
	return (x->target_id > y->target_id) - (x->target_id < y->target_id);
}

struct placement_node {
	uint32_t node_id;
	uint32_t first;   /* index of its first candidate in the sorted array */
	uint32_t used;    /* how many of its candidates are taken */
	uint32_t count;
	uint32_t heads;   /* chains headed by this node so far */
};

int mgmtd_placement_build(const struct placement_target *cand, uint32_t ncand,
			  uint32_t replicas, uint32_t *out, uint32_t max_chains, uint32_t *nleft)
{
	struct placement_target *c = NULL;
	struct placement_node *nodes = NULL;
	uint32_t nnodes = 0, nchains = 0, left = ncand;
	int rc;

	if (replicas == 0 || replicas > ROUTING_MAX_REPLICAS || ncand == 0)
		return -EINVAL;
	c = malloc(sizeof(*c) * ncand);
	nodes = calloc(ncand, sizeof(*nodes));
	if (!c || !nodes) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(c, cand, sizeof(*c) * ncand);
	qsort(c, ncand, sizeof(*c), cmp_cand);
	for (uint32_t i = 0; i < ncand; i++) {
		if (i && c[i].target_id == c[i - 1].target_id && c[i].node_id == c[i - 1].node_id) {
			rc = -EINVAL;
			goto out;
		}
		if (nnodes == 0 || nodes[nnodes - 1].node_id != c[i].node_id) {
			nodes[nnodes].node_id = c[i].node_id;
			nodes[nnodes].first = i;
			nnodes++;
		}
		nodes[nnodes - 1].count++;
	}
	if (nnodes < replicas) {
		rc = -EINVAL;
		goto out;
	}
	while (left > 0) {
		uint32_t pick[ROUTING_MAX_REPLICAS];
		uint32_t got = 0;

		/* the `replicas` nodes with the most unused targets, lower id first on ties */
		for (uint32_t r = 0; r < replicas; r++) {
			int best = -1;

			for (uint32_t j = 0; j < nnodes; j++) {
				uint32_t rem = nodes[j].count - nodes[j].used;
				bool taken = false;

				if (rem == 0)
					continue;
				for (uint32_t q = 0; q < got; q++)
					taken |= pick[q] == j;
				if (taken)
					continue;
				if (best < 0 || rem > nodes[best].count - nodes[best].used)
					best = (int)j;
			}
			if (best < 0)
				break;
			pick[got++] = (uint32_t)best;
		}
		if (got < replicas)
			break; /* the rest cannot form a chain on distinct nodes: stays unused */
		if (nchains >= max_chains) {
			rc = -ENOSPC;
			goto out;
		}
		/* head: the picked node heading the fewest chains so far (pick order on ties) */
		{
			uint32_t h = 0, tmp;

			for (uint32_t r = 1; r < replicas; r++)
				if (nodes[pick[r]].heads < nodes[pick[h]].heads)
					h = r;
			tmp = pick[h];
			memmove(&pick[1], &pick[0], sizeof(pick[0]) * h);
			pick[0] = tmp;
			nodes[pick[0]].heads++;
		}
		for (uint32_t r = 0; r < replicas; r++) {
			struct placement_node *nd = &nodes[pick[r]];

			out[nchains * replicas + r] = c[nd->first + nd->used].target_id;
			nd->used++;
		}
		nchains++;
		left -= replicas;
	}
	if (nchains == 0) {
		rc = -EINVAL;
		goto out;
	}
	if (nleft)
		*nleft = left;
	rc = (int)nchains;
out:
	free(c);
	free(nodes);
	return rc;
}
