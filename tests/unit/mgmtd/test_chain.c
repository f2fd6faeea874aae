/* test_chain.c — the chain state machine (every transition, lastsrv, one-syncing rule,
 * exhaustive invariants over all 3-member inputs) and deterministic placement. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mgmtd/chain.h"
#include "tests/lib/tap.h"

#define S TARGET_SERVING
#define Y TARGET_SYNCING
#define W TARGET_WAITING
#define L TARGET_LASTSRV
#define O TARGET_OFFLINE
#define UP TARGET_LOCAL_UPTODATE
#define ON TARGET_LOCAL_ONLINE
#define DN TARGET_LOCAL_UNKNOWN
#define FL TARGET_LOCAL_FAILED

/* Run one update and compare with the expected ids/states ("expect" lists n pairs). */
static void step(const char *name, struct chain_member *m, uint32_t n, bool want_changed,
		 const uint32_t *ids, const uint8_t *states)
{
	struct chain_member out[ROUTING_MAX_REPLICAS];
	bool changed = mgmtd_chain_update(m, n, out);
	bool same = true;

	for (uint32_t i = 0; i < n; i++)
		same &= out[i].target_id == ids[i] && out[i].state == states[i];
	ok(same && changed == want_changed, name);
	if (!same || changed != want_changed) {
		for (uint32_t i = 0; i < n; i++)
			diag("  [%u] %u %s (want %u %s)", i, out[i].target_id,
			     target_state_name(out[i].state), ids[i], target_state_name(states[i]));
		diag("  changed=%d want %d", changed, want_changed);
	}
	memcpy(m, out, sizeof(*m) * n);
}

static void set_local(struct chain_member *m, uint32_t n, uint32_t id, uint8_t local)
{
	for (uint32_t i = 0; i < n; i++)
		if (m[i].target_id == id)
			m[i].local = local;
}

static void test_transitions(void)
{
	struct chain_member m[3] = { { 1, S, UP }, { 2, S, UP }, { 3, S, UP } };

	step("all serving and alive: no change", m, 3, false, (uint32_t[]){ 1, 2, 3 },
	     (uint8_t[]){ S, S, S });
	set_local(m, 3, 2, DN);
	step("middle dies: moved to the end, offline", m, 3, true, (uint32_t[]){ 1, 3, 2 },
	     (uint8_t[]){ S, S, O });
	set_local(m, 3, 1, FL);
	step("head's disk fails: offline, 3 is the new head", m, 3, true,
	     (uint32_t[]){ 3, 1, 2 }, (uint8_t[]){ S, O, O });
	set_local(m, 3, 3, DN);
	step("last serving dies: LASTSRV, kept first", m, 3, true, (uint32_t[]){ 3, 1, 2 },
	     (uint8_t[]){ L, O, O });
	set_local(m, 3, 1, ON);
	set_local(m, 3, 2, UP);
	step("others return while lastsrv is down: waiting, never serving", m, 3, true,
	     (uint32_t[]){ 3, 1, 2 }, (uint8_t[]){ L, W, W });
	step("still waiting for the last server: no change", m, 3, false,
	     (uint32_t[]){ 3, 1, 2 }, (uint8_t[]){ L, W, W });
	set_local(m, 3, 3, ON);
	step("lastsrv returns: serving, exactly one member starts syncing", m, 3, true,
	     (uint32_t[]){ 3, 1, 2 }, (uint8_t[]){ S, Y, W });
	step("one syncing at a time: no change", m, 3, false, (uint32_t[]){ 3, 1, 2 },
	     (uint8_t[]){ S, Y, W });
	set_local(m, 3, 1, UP);
	step("sync done: serving tail, next one syncs", m, 3, true, (uint32_t[]){ 3, 1, 2 },
	     (uint8_t[]){ S, S, Y });
	set_local(m, 3, 2, UP);
	step("second sync done: healthy", m, 3, true, (uint32_t[]){ 3, 1, 2 },
	     (uint8_t[]){ S, S, S });
}

static void test_syncing_edges(void)
{
	struct chain_member a[3] = { { 1, S, UP }, { 2, Y, ON }, { 3, W, ON } };
	struct chain_member b[2] = { { 1, S, DN }, { 2, Y, ON } };
	struct chain_member c[3] = { { 1, S, UP }, { 2, Y, DN }, { 3, O, ON } };
	struct chain_member d[2] = { { 1, L, DN }, { 2, Y, UP } };
	struct chain_member e[3] = { { 5, O, ON }, { 1, S, UP }, { 2, W, UP } };

	set_local(a, 3, 1, DN);
	step("head dies while 2 syncs: lastsrv, syncing falls back to waiting", a, 3, true,
	     (uint32_t[]){ 1, 2, 3 }, (uint8_t[]){ L, W, W });
	step("serving dies, syncing alone: waits for the last server", b, 2, true,
	     (uint32_t[]){ 1, 2 }, (uint8_t[]){ L, W });
	step("syncing member dies: offline; an offline alive one takes the sync slot", c, 3,
	     true, (uint32_t[]){ 1, 3, 2 }, (uint8_t[]){ S, Y, O });
	step("sync completes while lastsrv is down: serving, lastsrv dropped to offline", d,
	     2, true, (uint32_t[]){ 2, 1 }, (uint8_t[]){ S, O });
	step("misordered input is put in order", e, 3, true, (uint32_t[]){ 1, 5, 2 },
	     (uint8_t[]){ S, Y, W });
}

static int rank(uint8_t st)
{
	switch (st) {
	case S: return 0;
	case L: return 1;
	case Y: return 2;
	case W: return 3;
	default: return 4;
	}
}

/* All 5^3 state and 4^3 local combinations of a 3-member chain. */
static void test_exhaustive(void)
{
	static const uint8_t states[] = { S, Y, W, L, O };
	static const uint8_t locals[] = { UP, ON, DN, FL };
	int bad_perm = 0, bad_order = 0, bad_sync = 0, bad_last = 0, bad_lastsrv_keep = 0,
	    bad_promote = 0, bad_fixpoint = 0, cases = 0;

	for (int s = 0; s < 125; s++) {
		for (int l = 0; l < 64; l++) {
			struct chain_member in[3], out[3], again[3];
			int in_sync = 0, out_sync = 0, in_last = 0, out_last = 0, out_serv = 0;
			bool in_has_data = false, out_has_data = false;

			for (int i = 0; i < 3; i++) {
				int si = s, li = l;

				for (int k = 0; k < i; k++) {
					si /= 5;
					li /= 4;
				}
				in[i].target_id = (uint32_t)i + 1;
				in[i].state = states[si % 5];
				in[i].local = locals[li % 4];
				in_sync += in[i].state == Y;
				in_last += in[i].state == L;
				in_has_data |= in[i].state == S || in[i].state == L;
			}
			cases++;
			mgmtd_chain_update(in, 3, out);
			for (int i = 0; i < 3; i++) {
				int found = 0;

				for (int k = 0; k < 3; k++)
					found += out[k].target_id == in[i].target_id;
				bad_perm += found != 1;
				if (i && rank(out[i].state) < rank(out[i - 1].state))
					bad_order++;
				out_sync += out[i].state == Y;
				out_last += out[i].state == L;
				out_serv += out[i].state == S;
				out_has_data |= out[i].state == S || out[i].state == L;
				/* only SERVING, LASTSRV or SYNCING members may come out SERVING */
				for (int k = 0; k < 3; k++)
					if (in[k].target_id == out[i].target_id && out[i].state == S &&
					    in[k].state != S && in[k].state != L && in[k].state != Y)
						bad_promote++;
			}
			if (in_sync <= 1 && out_sync > 1)
				bad_sync++;
			if ((in_last <= 1 && out_last > 1) || (out_serv && out_last))
				bad_last++;
			if (in_has_data && !out_has_data)
				bad_lastsrv_keep++;
			/* with fixed local states the chain settles within n = 3 more rounds
			 * (each round can finish one sync and start the next) */
			mgmtd_chain_update(out, 3, again);
			mgmtd_chain_update(again, 3, in);
			mgmtd_chain_update(in, 3, out);
			if (mgmtd_chain_update(out, 3, again))
				bad_fixpoint++;
		}
	}
	is_int(cases, 8000, "all 8000 inputs ran");
	is_int(bad_perm, 0, "output is a permutation of the members");
	is_int(bad_order, 0, "output is ordered serving < lastsrv < syncing < waiting < offline");
	is_int(bad_sync, 0, "never more than one syncing member");
	is_int(bad_last, 0, "at most one lastsrv, and none beside a serving member");
	is_int(bad_lastsrv_keep, 0, "the last up-to-date replica is never dropped");
	is_int(bad_promote, 0, "waiting/offline never jump to serving");
	is_int(bad_fixpoint, 0, "steady within n rounds with fixed inputs");
}

static void test_health(void)
{
	struct chain_member m[2] = { { 1, S, UP }, { 2, S, UP } };

	is_int(mgmtd_chain_health(m, 2), CHAIN_HEALTHY, "healthy");
	m[1].state = Y;
	is_int(mgmtd_chain_health(m, 2), CHAIN_DEGRADED, "degraded");
	m[0].state = L;
	is_int(mgmtd_chain_health(m, 2), CHAIN_UNAVAILABLE, "unavailable");
}

static bool distinct_nodes(const uint32_t *chain, uint32_t r)
{
	for (uint32_t i = 0; i < r; i++)
		for (uint32_t j = 0; j < i; j++)
			if (chain[i] / 100 == chain[j] / 100)
				return false;
	return true;
}

static void test_placement(void)
{
	/* node n has targets n*100+1, n*100+2 */
	struct placement_target c[6] = { { 101, 1 }, { 102, 1 }, { 201, 2 },
					  { 202, 2 }, { 301, 3 }, { 302, 3 } };
	struct placement_target shuffled[6] = { c[4], c[1], c[5], c[0], c[3], c[2] };
	uint32_t out[64], out2[64];
	int n, ok_nodes = 1, heads[4] = { 0 };

	n = mgmtd_placement_build(c, 6, 3, out, 16, NULL);
	is_int(n, 2, "3 nodes x 2 targets, 3 replicas: 2 chains");
	for (int i = 0; i < n; i++)
		ok_nodes &= distinct_nodes(out + i * 3, 3);
	ok(ok_nodes, "every chain spans 3 distinct nodes");
	ok(out[0] / 100 != out[3] / 100, "heads on different nodes");
	n = mgmtd_placement_build(shuffled, 6, 3, out2, 16, NULL);
	ok(n == 2 && memcmp(out, out2, sizeof(uint32_t) * 6) == 0,
	   "deterministic regardless of input order");

	n = mgmtd_placement_build(c, 6, 2, out, 16, NULL);
	is_int(n, 3, "2 replicas: 3 chains");
	ok_nodes = 1;
	for (int i = 0; i < n; i++) {
		ok_nodes &= distinct_nodes(out + i * 2, 2);
		heads[out[i * 2] / 100]++;
	}
	ok(ok_nodes, "2-replica chains on distinct nodes");
	ok(heads[1] == 1 && heads[2] == 1 && heads[3] == 1, "heads spread over the 3 nodes");
	n = mgmtd_placement_build(c, 6, 1, out, 16, NULL);
	is_int(n, 6, "1 replica: one chain per target");

	is_int(mgmtd_placement_build(c, 4, 3, out, 16, NULL), -EINVAL, "2 nodes cannot hold 3 replicas");
	{
		struct placement_target u[5] = { { 101, 1 }, { 102, 1 }, { 103, 1 }, { 201, 2 },
						 { 301, 3 } };

		uint32_t left = 99;

		is_int(mgmtd_placement_build(u, 5, 2, out, 16, &left), 2,
		       "uneven nodes: as many 2-replica chains as possible");
		is_int(left, 1, "the target that cannot pair with another node stays unused");
		ok(distinct_nodes(out, 2) && distinct_nodes(out + 2, 2),
		   "both chains on distinct nodes");
	}
	is_int(mgmtd_placement_build(c, 6, 3, out, 1, NULL), -ENOSPC, "output too small");
	is_int(mgmtd_placement_build(c, 6, 0, out, 16, NULL), -EINVAL, "0 replicas");
	is_int(mgmtd_placement_build(c, 6, ROUTING_MAX_REPLICAS + 1, out, 16, NULL), -EINVAL,
	       "too many replicas");
}

int main(void)
{
	test_transitions();
	test_syncing_edges();
	test_exhaustive();
	test_health();
	test_placement();
	return tap_done();
}
