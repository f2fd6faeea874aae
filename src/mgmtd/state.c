/* state.c — the cluster model: membership, leases, target reports, chain reconfiguration
 * driver, admin operations and routing snapshots.  Contract and invariants: state.h. */
#include "mgmtd/state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"
#include "mgmtd/chain.h"

void mgmtd_state_init(struct mgmtd_state *st, uint32_t lease_ms)
{
	memset(st, 0, sizeof(*st));
	st->lease_ms = lease_ms;
	st->next_client_id = MGMTD_CLIENT_ID_BASE;
}

void mgmtd_state_release(struct mgmtd_state *st)
{
	for (uint32_t i = 0; i < st->ntables; i++)
		free(st->tables[i].chains);
	free(st->nodes);
	free(st->targets);
	free(st->chains);
	free(st->tables);
	free(st->gone_targets);
	memset(st, 0, sizeof(*st));
}

/* ------------------------------------------------------------------ sorted arrays */

/* Index of the first element with id >= key. */
#define LOWER_BOUND(arr, n, key, out)                                         \
	do {                                                                  \
		uint32_t lo_ = 0, hi_ = (n);                                  \
		while (lo_ < hi_) {                                           \
			uint32_t mid_ = lo_ + (hi_ - lo_) / 2;                \
			if ((arr)[mid_].id < (key))                           \
				lo_ = mid_ + 1;                               \
			else                                                  \
				hi_ = mid_;                                   \
		}                                                             \
		(out) = lo_;                                                  \
	} while (0)

#define FIND(arr, n, key)                                                     \
	do {                                                                  \
		uint32_t i_;                                                  \
		LOWER_BOUND(arr, n, key, i_);                                 \
		return (i_ < (n) && (arr)[i_].id == (key)) ? &(arr)[i_] : NULL; \
	} while (0)

struct mgmtd_node *mgmtd_state_node(struct mgmtd_state *st, uint32_t id)
{
	FIND(st->nodes, st->nnodes, id);
}

struct mgmtd_target *mgmtd_state_target(struct mgmtd_state *st, uint32_t id)
{
	FIND(st->targets, st->ntargets, id);
}

struct mgmtd_chain *mgmtd_state_chain(struct mgmtd_state *st, uint32_t id)
{
	FIND(st->chains, st->nchains, id);
}

struct mgmtd_table *mgmtd_state_table(struct mgmtd_state *st, uint32_t id)
{
	FIND(st->tables, st->ntables, id);
}

/* Insert rec (size sz, id at offset 0 as uint32_t) into a sorted array. */
static void *sorted_insert(void **arr, uint32_t *n, uint32_t *cap, size_t sz, const void *rec,
			   uint32_t max)
{
	uint32_t id, lo = 0, hi = *n;
	uint8_t *a;

	memcpy(&id, rec, sizeof(id));
	if (*n >= max)
		return NULL;
	if (*n == *cap) {
		uint32_t ncap = *cap ? *cap * 2 : 16;
		void *p = realloc(*arr, sz * ncap);

		if (!p)
			return NULL;
		*arr = p;
		*cap = ncap;
	}
	a = *arr;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2, mid_id;

		memcpy(&mid_id, a + sz * mid, sizeof(mid_id));
		if (mid_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < *n) {
		uint32_t at_id;

		memcpy(&at_id, a + sz * lo, sizeof(at_id));
		if (at_id == id)
			return NULL;
		memmove(a + sz * (lo + 1), a + sz * lo, sz * (*n - lo));
	}
	memcpy(a + sz * lo, rec, sz);
	(*n)++;
	return a + sz * lo;
}

struct mgmtd_node *mgmtd_state_add_node(struct mgmtd_state *st, const struct mgmtd_node *n)
{
	return sorted_insert((void **)&st->nodes, &st->nnodes, &st->cap_nodes, sizeof(*n), n,
			     MGMTD_MAX_LIST);
}

struct mgmtd_target *mgmtd_state_add_target(struct mgmtd_state *st,
					    const struct mgmtd_target *t)
{
	return sorted_insert((void **)&st->targets, &st->ntargets, &st->cap_targets, sizeof(*t),
			     t, ROUTING_MAX_TARGETS);
}

struct mgmtd_chain *mgmtd_state_add_chain(struct mgmtd_state *st, const struct mgmtd_chain *c)
{
	return sorted_insert((void **)&st->chains, &st->nchains, &st->cap_chains, sizeof(*c), c,
			     ROUTING_MAX_CHAINS);
}

struct mgmtd_table *mgmtd_state_add_table(struct mgmtd_state *st, struct mgmtd_table *tb)
{
	struct mgmtd_table *r = sorted_insert((void **)&st->tables, &st->ntables,
					      &st->cap_tables, sizeof(*tb), tb,
					      ROUTING_MAX_TABLES);

	if (!r)
		free(tb->chains);
	return r;
}

/* ------------------------------------------------------------------ liveness */

uint8_t mgmtd_node_public_state(const struct mgmtd_node *n)
{
	if (n->maintenance)
		return NODE_MAINTENANCE;
	return n->alive ? NODE_UP : NODE_DOWN;
}

static uint8_t neutral_local(uint8_t state)
{
	switch (state) {
	case TARGET_SERVING: return TARGET_LOCAL_UPTODATE;
	case TARGET_SYNCING:
	case TARGET_WAITING: return TARGET_LOCAL_ONLINE;
	default: return TARGET_LOCAL_UNKNOWN;
	}
}

void mgmtd_state_takeover(struct mgmtd_state *st, uint64_t now_ms, uint64_t extra_grace_ms)
{
	for (uint32_t i = 0; i < st->nnodes; i++) {
		struct mgmtd_node *n = &st->nodes[i];

		n->alive = true;
		n->last_hb_ms = now_ms + extra_grace_ms;
		n->last_seq = 0;
		n->hb_routing_version = 0;
		n->rep_count = UINT32_MAX;
	}
	for (uint32_t i = 0; i < st->ntargets; i++) {
		st->targets[i].local = neutral_local(st->targets[i].state);
		st->targets[i].syncing_since = st->version + 1;
	}
}

uint8_t mgmtd_state_effective_local(struct mgmtd_state *st, const struct mgmtd_target *t)
{
	struct mgmtd_node *n = mgmtd_state_node(st, t->node_id);

	if (!n || !n->alive || n->maintenance || t->admin_hold)
		return TARGET_LOCAL_UNKNOWN;
	if (t->state == TARGET_SYNCING && t->local == TARGET_LOCAL_UPTODATE &&
	    n->hb_routing_version < t->syncing_since)
		return TARGET_LOCAL_ONLINE;
	return t->local;
}

static bool local_alive(uint8_t l)
{
	return l == TARGET_LOCAL_ONLINE || l == TARGET_LOCAL_UPTODATE;
}

/* Targets of node id lose their reported state (old incarnation failed / node gone). */
static void forget_node_targets(struct mgmtd_state *st, uint32_t node_id)
{
	for (uint32_t i = 0; i < st->ntargets; i++) {
		struct mgmtd_target *t = &st->targets[i];

		if (t->node_id != node_id || t->local == TARGET_LOCAL_UNKNOWN)
			continue;
		t->local = TARGET_LOCAL_UNKNOWN;
		t->sync_done_bytes = t->sync_total_bytes = 0;
		t->sync_done_chunks = t->sync_total_chunks = t->sync_rate_bps = 0;
		st->routing_dirty = true;
	}
}

int mgmtd_state_register(struct mgmtd_state *st, const struct mgmtd_register_req *req,
			 uint64_t now_ms, uint64_t wall_ms, struct mgmtd_register_resp *resp)
{
	struct mgmtd_node *n = NULL;
	uint32_t id = req->node_id;
	bool is_client = req->node_type == NODE_CLIENT;

	if (id == 0) {
		if (st->next_client_id == UINT32_MAX)
			return -ENOSPC;
		id = st->next_client_id++;
		st->counter_dirty = st->dirty = true;
	} else {
		n = mgmtd_state_node(st, id);
		if (n && n->type != req->node_type) {
			LOG_WARN("register: node %u is a %s, refused as %s", id,
				 node_type_name(n->type), node_type_name(req->node_type));
			return -EINVAL;
		}
	}
	if (!n) {
		struct mgmtd_node nn;

		memset(&nn, 0, sizeof(nn));
		nn.id = id;
		nn.type = req->node_type;
		nn.dirty = !is_client;
		n = mgmtd_state_add_node(st, &nn);
		if (!n)
			return -ENOSPC;
		if (!is_client)
			st->routing_dirty = st->dirty = true;
		LOG_INFO("node %u (%s, %s) registered", id, node_type_name(req->node_type),
			 req->addr);
	} else if (n->incarnation != req->incarnation && !is_client && n->alive &&
		   strcmp(n->addr, req->addr) != 0) {
		/* a second process claiming a live node's id from elsewhere: a configuration
		 * error that would make the two evict each other; the real one keeps the id */
		LOG_WARN("register: node %u is alive at %s; refused the same id from %s", id,
			 n->addr, req->addr);
		return -EEXIST;
	} else if (n->incarnation != req->incarnation) {
		/* a new process: its predecessor failed, whatever its lease said */
		if (n->incarnation)
			LOG_INFO("node %u restarted (incarnation %016llx -> %016llx): old "
				 "incarnation treated as failed", id,
				 (unsigned long long)n->incarnation,
				 (unsigned long long)req->incarnation);
		forget_node_targets(st, id);
		if (!is_client) {
			n->dirty = st->dirty = true;
			st->routing_dirty = true;
		}
	}
	if (strcmp(n->addr, req->addr) != 0) {
		snprintf(n->addr, sizeof(n->addr), "%s", req->addr);
		if (!is_client)
			n->dirty = st->dirty = st->routing_dirty = true;
	}
	if (strcmp(n->hostname, req->hostname) != 0) {
		snprintf(n->hostname, sizeof(n->hostname), "%s", req->hostname);
		if (!is_client)
			n->dirty = st->dirty = true;
	}
	n->incarnation = req->incarnation;
	n->pid = req->pid;
	snprintf(n->version, sizeof(n->version), "%s", req->version);
	n->last_seq = 0;
	n->rep_count = UINT32_MAX; /* force the "gone targets" scan at the next report */
	n->last_hb_ms = now_ms;
	n->last_hb_wall_ms = wall_ms;
	if (!n->alive && !is_client)
		st->routing_dirty = true;
	n->alive = true;
	mgmtd_state_reconfigure(st);
	resp->node_id = id;
	resp->lease_ms = st->lease_ms;
	resp->heartbeat_ms = st->lease_ms / 6 ? st->lease_ms / 6 : 1;
	resp->routing_version = st->version;
	return 0;
}

/* Order-independent fingerprint of a set of target ids (sum of mixed ids). */
static uint64_t id_mix(uint32_t id)
{
	uint64_t z = (uint64_t)id + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int mgmtd_state_heartbeat(struct mgmtd_state *st, const struct mgmtd_heartbeat_req *req,
			  uint64_t now_ms, uint64_t wall_ms)
{
	struct mgmtd_node *n = mgmtd_state_node(st, req->node_id);
	bool is_client, changed = false;
	uint32_t rep_count = 0, node_id;
	uint64_t rep_hash = 0;

	if (!n || n->incarnation != req->incarnation)
		return -C3FS_ELEASE;
	node_id = n->id;
	is_client = n->type == NODE_CLIENT;
	n->last_hb_ms = now_ms;
	n->last_hb_wall_ms = wall_ms;
	if (!n->alive) {
		LOG_INFO("node %u is back", n->id);
		n->alive = true;
		changed = true;
		if (!is_client)
			st->routing_dirty = true;
	}
	if (req->routing_version > n->hb_routing_version) {
		n->hb_routing_version = req->routing_version;
		changed = true; /* may complete a sync (state.h, effective local state) */
	}
	if (req->seq <= n->last_seq)
		goto out; /* delayed duplicate: lease extended, reports ignored */
	n->last_seq = req->seq;
	if (n->type != NODE_STORAGE)
		goto out;
	for (uint32_t i = 0; i < req->nreports; i++) {
		const struct cluster_target_report *r = &req->reports[i];
		struct mgmtd_target *t = mgmtd_state_target(st, r->target_id);

		if (!t) {
			struct mgmtd_target nt;

			memset(&nt, 0, sizeof(nt));
			nt.id = r->target_id;
			nt.node_id = node_id;
			nt.state = TARGET_OFFLINE;
			nt.dirty = true;
			t = mgmtd_state_add_target(st, &nt);
			if (!t) {
				LOG_WARN("target %u of node %u: too many targets", r->target_id,
					 node_id);
				continue;
			}
			st->dirty = st->routing_dirty = true;
			changed = true;
			LOG_INFO("target %u on node %u created", t->id, node_id);
		}
		if (t->node_id != node_id) {
			LOG_WARN("node %u reports target %u owned by node %u: ignored", node_id,
				 t->id, t->node_id);
			continue;
		}
		rep_count++;
		rep_hash += id_mix(t->id);
		if (t->local != r->local_state) {
			t->local = r->local_state;
			st->routing_dirty = true;
			changed = true;
		}
		if (t->free_bytes != r->free_bytes || t->capacity_bytes != r->capacity_bytes ||
		    t->corrupt_found != r->corrupt_found || t->read_ops != r->read_ops ||
		    t->write_ops != r->write_ops ||
		    t->corrupt_repaired != r->corrupt_repaired ||
		    t->scrub_last_ms != r->scrub_last_ms)
			st->stats_dirty = true;
		t->capacity_bytes = r->capacity_bytes;
		t->free_bytes = r->free_bytes;
		t->corrupt_found = r->corrupt_found;
		t->corrupt_repaired = r->corrupt_repaired;
		t->scrub_last_ms = r->scrub_last_ms;
		t->read_bytes = r->read_bytes;
		t->read_ops = r->read_ops;
		t->write_bytes = r->write_bytes;
		t->write_ops = r->write_ops;
		if (r->sync_total_bytes) { /* a node that reports its own progress */
			t->sync_done_bytes = r->sync_done_bytes;
			t->sync_total_bytes = r->sync_total_bytes;
			st->stats_dirty = true;
		}
		/* the sync this target runs for its successor: progress of that successor */
		if (r->sync_target && r->sync_target != t->id) {
			struct mgmtd_target *x = mgmtd_state_target(st, r->sync_target);

			if (x && x->state == TARGET_SYNCING) {
				x->sync_done_bytes = r->out_done_bytes;
				x->sync_total_bytes = r->out_total_bytes;
				x->sync_done_chunks = r->out_done_chunks;
				x->sync_total_chunks = r->out_total_chunks;
				x->sync_rate_bps = r->out_rate_bps;
				st->stats_dirty = true;
			}
		}
	}
	/* Targets the node no longer reports are gone from it.  The scan over all targets
	 * runs only when the set of reported targets differs from the previous heartbeat's
	 * (count + fingerprint), so a steady heartbeat costs O(reports). */
	n = mgmtd_state_node(st, node_id);
	if (rep_count != n->rep_count || rep_hash != n->rep_hash) {
		for (uint32_t i = 0; i < st->ntargets; i++) {
			struct mgmtd_target *t = &st->targets[i];
			bool reported = false;

			if (t->node_id != node_id || t->local == TARGET_LOCAL_UNKNOWN)
				continue;
			for (uint32_t k = 0; k < req->nreports && !reported; k++)
				reported = req->reports[k].target_id == t->id;
			if (!reported) {
				t->local = TARGET_LOCAL_UNKNOWN;
				st->routing_dirty = true;
				changed = true;
			}
		}
		n->rep_count = rep_count;
		n->rep_hash = rep_hash;
	}
out:
	/* the chain machine is a function of public and effective local states: nothing to
	 * do when no input changed (the 100 ms checker tick re-runs it anyway) */
	if (changed && !is_client)
		mgmtd_state_reconfigure(st);
	return 0;
}

void mgmtd_state_expire(struct mgmtd_state *st, uint64_t now_ms)
{
	uint32_t w = 0;

	for (uint32_t i = 0; i < st->nnodes; i++) {
		struct mgmtd_node *n = &st->nodes[i];
		uint64_t silent = now_ms > n->last_hb_ms ? now_ms - n->last_hb_ms : 0;

		if (n->alive && silent >= st->lease_ms) {
			n->alive = false;
			LOG_WARN("node %u (%s) lease expired after %llu ms without heartbeat",
				 n->id, node_type_name(n->type), (unsigned long long)silent);
			if (n->type != NODE_CLIENT)
				st->routing_dirty = true;
		}
		/* clients are sessions, not configuration: forget long-silent ones */
		if (n->type == NODE_CLIENT && !n->alive && silent >= 10ull * st->lease_ms)
			continue;
		st->nodes[w++] = *n;
	}
	st->nnodes = w;
	mgmtd_state_reconfigure(st);
}

/* ------------------------------------------------------------------ chains */

static void chainless_update(struct mgmtd_state *st, struct mgmtd_target *t)
{
	uint8_t want = local_alive(mgmtd_state_effective_local(st, t)) ? TARGET_SERVING
								       : TARGET_OFFLINE;

	if (t->state != want) {
		t->state = want;
		t->dirty = st->dirty = st->routing_dirty = true;
	}
}

static bool chain_reconfigure(struct mgmtd_state *st, struct mgmtd_chain *c)
{
	struct chain_member in[ROUTING_MAX_REPLICAS], out[ROUTING_MAX_REPLICAS];
	struct mgmtd_target *tp[ROUTING_MAX_REPLICAS];

	for (uint32_t i = 0; i < c->n; i++) {
		tp[i] = mgmtd_state_target(st, c->targets[i]);
		if (!tp[i]) {
			LOG_ERROR("chain %u lists unknown target %u", c->id, c->targets[i]);
			return false;
		}
		in[i].target_id = tp[i]->id;
		in[i].state = tp[i]->state;
		in[i].local = mgmtd_state_effective_local(st, tp[i]);
	}
	if (!mgmtd_chain_update(in, c->n, out))
		return false;
	for (uint32_t i = 0; i < c->n; i++) {
		struct mgmtd_target *t = mgmtd_state_target(st, out[i].target_id);

		if (t->state != out[i].state) {
			LOG_INFO("chain %u: target %u %s -> %s", c->id, t->id,
				 target_state_name(t->state), target_state_name(out[i].state));
			if (out[i].state == TARGET_SYNCING) {
				t->syncing_since = st->version + 1;
				t->sync_done_bytes = t->sync_total_bytes = 0;
				t->sync_done_chunks = t->sync_total_chunks = 0;
				t->sync_rate_bps = 0;
			}
			t->state = out[i].state;
			t->dirty = true;
		}
		c->targets[i] = out[i].target_id;
	}
	c->version++;
	c->dirty = st->dirty = st->routing_dirty = true;
	return true;
}

bool mgmtd_state_reconfigure(struct mgmtd_state *st)
{
	bool changed = false;

	for (uint32_t i = 0; i < st->nchains; i++)
		changed |= chain_reconfigure(st, &st->chains[i]);
	for (uint32_t i = 0; i < st->ntargets; i++) {
		if (st->targets[i].chain_id == 0) {
			uint8_t before = st->targets[i].state;

			chainless_update(st, &st->targets[i]);
			changed |= before != st->targets[i].state;
		}
	}
	return changed;
}

/* ------------------------------------------------------------------ admin */

/* The targets a new table may use (*cand, malloc'd, *ncand of them): the ones req names,
 * else every target in no chain.  0, or -ENOENT (an unknown target, or none at all),
 * -EBUSY (a named target is in a chain already), -ENOMEM; *cand is the caller's to free
 * either way. */
static int create_table_candidates(struct mgmtd_state *st,
				   const struct mgmtd_create_table_req *req,
				   struct placement_target **cand, uint32_t *ncand)
{
	struct placement_target *c;

	if (req->ntargets == 0) {
		*cand = c = calloc(st->ntargets ? st->ntargets : 1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		for (uint32_t i = 0; i < st->ntargets; i++)
			if (st->targets[i].chain_id == 0)
				c[(*ncand)++] = (struct placement_target){ st->targets[i].id,
									   st->targets[i].node_id };
	} else {
		*cand = c = calloc(req->ntargets, sizeof(*c));
		if (!c)
			return -ENOMEM;
		for (uint32_t i = 0; i < req->ntargets; i++) {
			struct mgmtd_target *t = mgmtd_state_target(st, req->targets[i]);

			if (!t)
				return -ENOENT;
			if (t->chain_id)
				return -EBUSY;
			c[(*ncand)++] = (struct placement_target){ t->id, t->node_id };
		}
	}
	return *ncand ? 0 : -ENOENT;
}

/* A new chain id of the replicas targets members[] (placed by mgmtd_placement_build) into
 * *c; the targets join it SERVING when alive, else OFFLINE (LASTSRV for the first when
 * none is alive), alive members first. */
static void create_table_chain(struct mgmtd_state *st, uint32_t id, uint32_t replicas,
			       const uint32_t *members, struct mgmtd_chain *c)
{
	struct chain_member in[ROUTING_MAX_REPLICAS], out[ROUTING_MAX_REPLICAS];
	bool any_alive = false;
	uint32_t k = 0;

	memset(c, 0, sizeof(*c));
	c->id = id;
	c->version = 1;
	c->n = replicas;
	c->dirty = true;
	for (uint32_t r = 0; r < replicas; r++) {
		struct mgmtd_target *t = mgmtd_state_target(st, members[r]);
		bool alive = local_alive(mgmtd_state_effective_local(st, t));

		c->targets[r] = t->id;
		t->chain_id = c->id;
		t->state = alive ? TARGET_SERVING : TARGET_OFFLINE;
		t->dirty = true;
		any_alive |= alive;
	}
	if (!any_alive)
		mgmtd_state_target(st, c->targets[0])->state = TARGET_LASTSRV;
	/* order by state (alive members first) without counting as a change */
	for (uint32_t r = 0; r < c->n; r++) {
		in[r].target_id = c->targets[r];
		in[r].state = mgmtd_state_target(st, c->targets[r])->state;
	}
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t r = 0; r < c->n; r++)
			if ((in[r].state == TARGET_OFFLINE) == (pass == 1))
				out[k++] = in[r];
	for (uint32_t r = 0; r < c->n; r++)
		c->targets[r] = out[r].target_id;
}

int mgmtd_state_create_table(struct mgmtd_state *st, const struct mgmtd_create_table_req *req,
			     struct mgmtd_create_table_resp *resp)
{
	struct placement_target *cand = NULL;
	uint32_t ncand = 0, *placed = NULL, table_id = req->table_id, next_chain = 1, nleft = 0;
	struct mgmtd_table *tb;
	uint32_t *grown;
	int n, rc;

	rc = create_table_candidates(st, req, &cand, &ncand);
	if (rc)
		goto out;
	if (table_id == 0)
		table_id = st->ntables ? st->tables[st->ntables - 1].id + 1 : 1;
	tb = mgmtd_state_table(st, table_id);
	if (!tb && st->ntables >= ROUTING_MAX_TABLES) {
		rc = -ENOSPC;
		goto out;
	}
	placed = malloc(sizeof(uint32_t) * ncand);
	if (!placed) {
		rc = -ENOMEM;
		goto out;
	}
	n = mgmtd_placement_build(cand, ncand, req->replicas, placed, ncand, &nleft);
	if (n < 0) {
		rc = n;
		goto out;
	}
	if (st->nchains + (uint32_t)n > ROUTING_MAX_CHAINS ||
	    (tb && tb->n + (uint32_t)n > ROUTING_MAX_CHAINS)) {
		rc = -ENOSPC;
		goto out;
	}
	if (!tb) {
		struct mgmtd_table nt;

		memset(&nt, 0, sizeof(nt));
		nt.id = table_id;
		nt.version = 0;
		if (req->name[0])
			snprintf(nt.name, sizeof(nt.name), "%s", req->name);
		else
			snprintf(nt.name, sizeof(nt.name), "table-%u", table_id);
		tb = mgmtd_state_add_table(st, &nt);
		if (!tb) {
			rc = -ENOMEM;
			goto out;
		}
	}
	grown = realloc(tb->chains, sizeof(uint32_t) * (tb->n + (uint32_t)n));
	if (!grown) {
		rc = -ENOMEM;
		goto out;
	}
	tb->chains = grown;
	if (st->nchains)
		next_chain = st->chains[st->nchains - 1].id + 1;
	for (int i = 0; i < n; i++) {
		struct mgmtd_chain c;

		create_table_chain(st, next_chain + (uint32_t)i, req->replicas,
				   placed + (uint32_t)i * req->replicas, &c);
		if (!mgmtd_state_add_chain(st, &c)) {
			rc = -ENOMEM; /* targets already point at it: state is inconsistent */
			LOG_ERROR("create table: out of memory adding chain %u", c.id);
			goto out;
		}
		tb = mgmtd_state_table(st, table_id);
		tb->chains[tb->n++] = c.id;
	}
	tb->version++;
	tb->dirty = st->dirty = st->routing_dirty = true;
	mgmtd_state_reconfigure(st);
	resp->table_id = table_id;
	resp->table_version = tb->version;
	resp->nchains_added = (uint32_t)n;
	resp->routing_version = 0;
	resp->targets_unused = nleft;
	LOG_INFO("chain table %u (%s) version %u: %d chains of %u added, %u targets left unused",
		 table_id, tb->name, tb->version, n, req->replicas, nleft);
	rc = 0;
out:
	free(placed);
	free(cand);
	return rc;
}

int mgmtd_state_set_node_state(struct mgmtd_state *st, uint32_t node_id, uint8_t state)
{
	struct mgmtd_node *n = mgmtd_state_node(st, node_id);
	bool maint = state == NODE_MAINTENANCE;

	if (!n)
		return -ENOENT;
	if (n->type == NODE_CLIENT || (state != NODE_UP && state != NODE_MAINTENANCE))
		return -EINVAL;
	if (n->maintenance != maint) {
		n->maintenance = maint;
		n->dirty = st->dirty = st->routing_dirty = true;
		LOG_INFO("node %u %s by admin", node_id, maint ? "in maintenance" : "back online");
		mgmtd_state_reconfigure(st);
	}
	return 0;
}

int mgmtd_state_remove_node(struct mgmtd_state *st, uint32_t node_id, uint32_t *chain_out)
{
	struct mgmtd_node *n = mgmtd_state_node(st, node_id);
	uint32_t i, k, nt = 0, *gone;

	*chain_out = 0;
	if (!n)
		return -ENOENT;
	if (n->type == NODE_CLIENT)
		return -EINVAL;
	if (st->gone_node)
		return -EAGAIN;
	for (i = 0; i < st->ntargets; i++) {
		if (st->targets[i].node_id != node_id)
			continue;
		if (st->targets[i].chain_id) {
			*chain_out = st->targets[i].chain_id;
			return -ENOTEMPTY;
		}
		nt++;
	}
	if (n->alive)
		return -EBUSY;
	gone = nt ? malloc(nt * sizeof(*gone)) : NULL;
	if (nt && !gone)
		return -ENOMEM;
	for (i = 0, k = 0; i < st->ntargets; i++) {
		if (st->targets[i].node_id == node_id)
			gone[k++] = st->targets[i].id;
		else
			st->targets[i - k] = st->targets[i];
	}
	st->ntargets -= k;
	free(st->gone_targets);
	st->gone_targets = gone;
	st->ngone_targets = k;
	i = (uint32_t)(n - st->nodes);
	memmove(&st->nodes[i], &st->nodes[i + 1], (st->nnodes - i - 1) * sizeof(*n));
	st->nnodes--;
	st->gone_node = node_id;
	st->dirty = st->routing_dirty = true;
	LOG_INFO("node %u and its %u target(s) removed by admin", node_id, k);
	return 0;
}

static void chain_sort_by_state(struct mgmtd_state *st, struct mgmtd_chain *c)
{
	static const uint8_t order[] = { TARGET_SERVING, TARGET_LASTSRV, TARGET_SYNCING,
					 TARGET_WAITING, TARGET_OFFLINE };
	uint32_t out[ROUTING_MAX_REPLICAS], k = 0;

	for (unsigned o = 0; o < sizeof(order); o++)
		for (uint32_t i = 0; i < c->n; i++)
			if (mgmtd_state_target(st, c->targets[i])->state == order[o])
				out[k++] = c->targets[i];
	memcpy(c->targets, out, sizeof(uint32_t) * c->n);
}

int mgmtd_state_set_target_state(struct mgmtd_state *st, uint32_t target_id, uint8_t state)
{
	struct mgmtd_target *t = mgmtd_state_target(st, target_id);
	struct mgmtd_chain *c;

	if (!t)
		return -ENOENT;
	c = t->chain_id ? mgmtd_state_chain(st, t->chain_id) : NULL;
	if (state == TARGET_OFFLINE) {
		if (c && t->state == TARGET_SERVING) {
			uint32_t serving = 0;

			for (uint32_t i = 0; i < c->n; i++)
				serving += mgmtd_state_target(st, c->targets[i])->state ==
					   TARGET_SERVING;
			if (serving <= 1)
				return -EBUSY; /* would leave the chain with no serving replica */
		}
		if (!t->admin_hold) {
			t->admin_hold = true;
			t->dirty = st->dirty = st->routing_dirty = true;
			LOG_INFO("target %u held offline by admin", target_id);
		}
		mgmtd_state_reconfigure(st);
		return 0;
	}
	if (state != TARGET_SERVING)
		return -EINVAL;
	if (t->admin_hold) {
		t->admin_hold = false;
		t->dirty = st->dirty = st->routing_dirty = true;
		LOG_INFO("target %u admin hold lifted", target_id);
	}
	if (c && (t->state == TARGET_SYNCING || t->state == TARGET_WAITING) &&
	    local_alive(mgmtd_state_effective_local(st, t))) {
		LOG_WARN("target %u declared up to date by admin (%s -> serving)", target_id,
			 target_state_name(t->state));
		t->state = TARGET_SERVING;
		t->local = TARGET_LOCAL_UPTODATE;
		chain_sort_by_state(st, c);
		c->version++;
		c->dirty = t->dirty = st->dirty = st->routing_dirty = true;
	}
	mgmtd_state_reconfigure(st);
	return 0;
}

int mgmtd_state_rotate_lastsrv(struct mgmtd_state *st, uint32_t chain_id)
{
	struct mgmtd_chain *c = mgmtd_state_chain(st, chain_id);
	struct mgmtd_target *last = NULL, *next;
	uint32_t at = 0;

	if (!c)
		return -ENOENT;
	for (uint32_t i = 0; i < c->n; i++) {
		struct mgmtd_target *t = mgmtd_state_target(st, c->targets[i]);

		if (t && t->state == TARGET_LASTSRV) {
			last = t;
			at = i;
		}
	}
	if (!last || c->n < 2)
		return -EINVAL;
	/* the old last server goes to the tail as OFFLINE; the member after it takes its role */
	memmove(&c->targets[at], &c->targets[at + 1], sizeof(uint32_t) * (c->n - at - 1));
	c->targets[c->n - 1] = last->id;
	last->state = TARGET_OFFLINE;
	last->dirty = true;
	next = mgmtd_state_target(st, c->targets[at]);
	LOG_WARN("chain %u: lastsrv %u given up by admin, target %u is the new lastsrv (data "
		 "only %u had is lost)", c->id, last->id, next->id, last->id);
	next->state = TARGET_LASTSRV;
	next->dirty = true;
	chain_sort_by_state(st, c);
	c->version++;
	c->dirty = st->dirty = st->routing_dirty = true;
	mgmtd_state_reconfigure(st);
	return 0;
}

int mgmtd_state_chain_member(struct mgmtd_state *st, uint32_t chain_id, uint32_t target_id,
			     uint8_t op)
{
	struct mgmtd_chain *c = mgmtd_state_chain(st, chain_id);
	struct mgmtd_target *t = mgmtd_state_target(st, target_id);
	uint32_t at = UINT32_MAX;

	if (!c || !t)
		return -ENOENT;
	for (uint32_t i = 0; i < c->n; i++)
		if (c->targets[i] == target_id)
			at = i;
	if (op == MGMTD_CHAIN_ADD) {
		if (t->chain_id)
			return -EBUSY;
		for (uint32_t i = 0; i < c->n; i++) {
			struct mgmtd_target *m = mgmtd_state_target(st, c->targets[i]);

			if (m && m->node_id == t->node_id)
				return -EEXIST; /* two replicas on one node protect nothing */
		}
		if (c->n >= ROUTING_MAX_REPLICAS)
			return -ENOSPC;
		c->targets[c->n++] = t->id;
		t->chain_id = c->id;
		t->state = TARGET_OFFLINE; /* the rules take it through SYNCING */
		LOG_INFO("chain %u: target %u (node %u) added by admin at the tail", c->id, t->id,
			 t->node_id);
	} else {
		if (at == UINT32_MAX)
			return -EINVAL;
		if (c->n < 2)
			return -EBUSY;
		for (uint32_t i = 0; i < c->n; i++) {
			struct mgmtd_target *m = mgmtd_state_target(st, c->targets[i]);

			if (i != at && (!m || m->state != TARGET_SERVING))
				return -EBUSY; /* the others must hold everything first */
		}
		memmove(&c->targets[at], &c->targets[at + 1], sizeof(uint32_t) * (c->n - at - 1));
		c->n--;
		t->chain_id = 0;
		t->state = TARGET_OFFLINE;
		LOG_INFO("chain %u: target %u (node %u) removed by admin", c->id, t->id, t->node_id);
	}
	t->dirty = true;
	chain_sort_by_state(st, c);
	c->version++;
	c->dirty = st->dirty = st->routing_dirty = true;
	mgmtd_state_reconfigure(st);
	return 0;
}

/* ------------------------------------------------------------------ versions, output */

void mgmtd_state_bump(struct mgmtd_state *st)
{
	if (st->routing_dirty) {
		st->version++;
		st->dirty = true;
	}
}

void mgmtd_state_committed(struct mgmtd_state *st)
{
	for (uint32_t i = 0; i < st->nnodes; i++)
		st->nodes[i].dirty = false;
	for (uint32_t i = 0; i < st->ntargets; i++)
		st->targets[i].dirty = false;
	for (uint32_t i = 0; i < st->nchains; i++)
		st->chains[i].dirty = false;
	for (uint32_t i = 0; i < st->ntables; i++)
		st->tables[i].dirty = false;
	st->dirty = st->routing_dirty = st->counter_dirty = false;
	st->gone_node = 0;
	free(st->gone_targets);
	st->gone_targets = NULL;
	st->ngone_targets = 0;
}

struct routing_info *mgmtd_state_snapshot(struct mgmtd_state *st, uint64_t wall_ms)
{
	struct routing_info *ri = routing_new();
	uint32_t k = 0;

	(void)wall_ms;
	if (!ri)
		return NULL;
	ri->version = st->version;
	if (st->nnodes) {
		ri->nodes = calloc(st->nnodes, sizeof(*ri->nodes));
		if (!ri->nodes)
			goto fail;
	}
	for (uint32_t i = 0; i < st->nnodes; i++) {
		const struct mgmtd_node *n = &st->nodes[i];
		struct routing_node *rn;

		if (n->type == NODE_CLIENT)
			continue;
		rn = &ri->nodes[k++];
		rn->node_id = n->id;
		rn->type = n->type;
		rn->state = mgmtd_node_public_state(n);
		snprintf(rn->addr, sizeof(rn->addr), "%s", n->addr);
		rn->last_heartbeat_ms = n->last_hb_wall_ms;
	}
	ri->nnodes = k;
	if (st->ntargets) {
		ri->targets = calloc(st->ntargets, sizeof(*ri->targets));
		if (!ri->targets)
			goto fail;
	}
	for (uint32_t i = 0; i < st->ntargets; i++) {
		const struct mgmtd_target *t = &st->targets[i];
		struct routing_target *rt = &ri->targets[i];

		rt->target_id = t->id;
		rt->node_id = t->node_id;
		rt->chain_id = t->chain_id;
		rt->state = t->state;
		rt->local_state = t->local;
		rt->capacity_bytes = t->capacity_bytes;
		rt->free_bytes = t->free_bytes;
		if (t->state == TARGET_SYNCING) { /* progress of an earlier sync is not shown */
			rt->sync_done_bytes = t->sync_done_bytes;
			rt->sync_total_bytes = t->sync_total_bytes;
			rt->sync_done_chunks = t->sync_done_chunks;
			rt->sync_total_chunks = t->sync_total_chunks;
			rt->sync_rate_bps = t->sync_rate_bps;
		}
		rt->corrupt_found = t->corrupt_found;
		rt->corrupt_repaired = t->corrupt_repaired;
		rt->scrub_last_ms = t->scrub_last_ms;
		rt->read_bytes = t->read_bytes;
		rt->read_ops = t->read_ops;
		rt->write_bytes = t->write_bytes;
		rt->write_ops = t->write_ops;
	}
	ri->ntargets = st->ntargets;
	if (st->nchains) {
		ri->chains = calloc(st->nchains, sizeof(*ri->chains));
		if (!ri->chains)
			goto fail;
	}
	for (uint32_t i = 0; i < st->nchains; i++) {
		struct routing_chain *rc = &ri->chains[i];

		rc->chain_id = st->chains[i].id;
		rc->version = st->chains[i].version;
		rc->ntargets = st->chains[i].n;
		memcpy(rc->targets, st->chains[i].targets, sizeof(uint32_t) * rc->ntargets);
	}
	ri->nchains = st->nchains;
	if (st->ntables) {
		ri->tables = calloc(st->ntables, sizeof(*ri->tables));
		if (!ri->tables)
			goto fail;
	}
	for (uint32_t i = 0; i < st->ntables; i++) {
		struct routing_chain_table *rt = &ri->tables[i];

		rt->table_id = st->tables[i].id;
		rt->version = st->tables[i].version;
		snprintf(rt->name, sizeof(rt->name), "%s", st->tables[i].name);
		if (st->tables[i].n) {
			rt->chains = malloc(sizeof(uint32_t) * st->tables[i].n);
			if (!rt->chains) {
				ri->ntables = i;
				goto fail;
			}
			memcpy(rt->chains, st->tables[i].chains, sizeof(uint32_t) * st->tables[i].n);
		}
		rt->nchains = st->tables[i].n;
		ri->ntables = i + 1;
	}
	return ri;
fail:
	routing_unref(ri);
	return NULL;
}

int mgmtd_state_list_nodes(struct mgmtd_state *st, uint64_t now_ms,
			   struct mgmtd_list_nodes_resp *resp)
{
	resp->n = 0;
	resp->nodes = st->nnodes ? calloc(st->nnodes, sizeof(*resp->nodes)) : NULL;
	if (st->nnodes && !resp->nodes)
		return -ENOMEM;
	for (uint32_t i = 0; i < st->nnodes; i++) {
		const struct mgmtd_node *n = &st->nodes[i];
		struct mgmtd_node_entry *e = &resp->nodes[i];

		e->node_id = n->id;
		e->type = n->type;
		e->state = mgmtd_node_public_state(n);
		snprintf(e->addr, sizeof(e->addr), "%s", n->addr);
		snprintf(e->hostname, sizeof(e->hostname), "%s", n->hostname);
		snprintf(e->version, sizeof(e->version), "%s", n->version);
		e->pid = n->pid;
		e->incarnation = n->incarnation;
		e->heartbeat_age_ms = n->last_hb_ms && now_ms >= n->last_hb_ms ?
				      now_ms - n->last_hb_ms : UINT64_MAX;
	}
	resp->n = st->nnodes;
	return 0;
}
