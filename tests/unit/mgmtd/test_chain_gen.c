/* test_chain_gen.c — balanced chain tables of `c3fs-admin create-chain-table --nodes`
 * (tools/admin/chain_gen.c, compiled into this test): every chain on distinct nodes, every
 * target used at most once, as many chains as the targets allow, and every pair of nodes
 * sharing the same number of chains give or take one, for N up to 200. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/tap.h"
#include "tools/admin/chain_gen.c"

/* N nodes (ids 1..N, listed in a scrambled order) x T targets, R replicas. */
static void check(uint32_t n, uint32_t tper, uint32_t r)
{
	uint32_t nt = n * tper, *out = calloc(nt, sizeof(*out));
	uint32_t *pair = calloc((size_t)(n + 1) * (n + 1), sizeof(*pair));
	uint32_t *heads = calloc(n + 1, sizeof(*heads)), *seen = calloc(nt, sizeof(*seen));
	struct chain_gen_target *t = calloc(nt, sizeof(*t));
	uint32_t pmin = UINT32_MAX, pmax = 0, hmin = UINT32_MAX, hmax = 0, per_chain_ok = 1;
	uint32_t used_ok = 1;
	char name[160];
	int c;

	for (uint32_t i = 0; i < nt; i++) { /* target id = node * 1000 + k */
		uint32_t j = (i * 7919u) % nt; /* a permutation when gcd(7919, nt) = 1 */

		t[j].node_id = i / tper + 1;
		t[j].target_id = (i / tper + 1) * 1000 + i % tper;
	}
	c = admin_chain_gen(t, nt, r, out, nt);
	snprintf(name, sizeof(name), "N=%u T=%u R=%u: %u chains (all targets that fit)", n, tper,
		 r, nt / r);
	is_int(c, (int)(nt / r), name);
	for (int k = 0; k < c; k++) {
		uint32_t *ch = out + (size_t)k * r;

		heads[ch[0] / 1000]++;
		for (uint32_t a = 0; a < r; a++) {
			uint32_t idx = (ch[a] / 1000 - 1) * tper + ch[a] % 1000;

			if (idx >= nt || seen[idx]++)
				used_ok = 0;
			for (uint32_t b = 0; b < r; b++) {
				if (a == b)
					continue;
				if (ch[a] / 1000 == ch[b] / 1000)
					per_chain_ok = 0;
				pair[(size_t)(ch[a] / 1000) * (n + 1) + ch[b] / 1000]++;
			}
		}
	}
	for (uint32_t a = 1; a <= n; a++) {
		for (uint32_t b = 1; b <= n; b++) {
			uint32_t p = pair[(size_t)a * (n + 1) + b];

			if (a == b)
				continue;
			pmin = p < pmin ? p : pmin;
			pmax = p > pmax ? p : pmax;
		}
		hmin = heads[a] < hmin ? heads[a] : hmin;
		hmax = heads[a] > hmax ? heads[a] : hmax;
	}
	snprintf(name, sizeof(name), "N=%u T=%u R=%u: members on distinct nodes, no target twice",
		 n, tper, r);
	ok(per_chain_ok && used_ok, name);
	snprintf(name, sizeof(name), "N=%u T=%u R=%u: chains shared by a pair of nodes %u..%u",
		 n, tper, r, pmin, pmax);
	ok(pmax - pmin <= 1, name);
	snprintf(name, sizeof(name), "N=%u T=%u R=%u: chains headed per node %u..%u", n, tper, r,
		 hmin, hmax);
	ok(hmax - hmin <= 3, name);
	free(out);
	free(pair);
	free(heads);
	free(seen);
	free(t);
}

int main(void)
{
	static const uint32_t cases[][3] = {
		{ 3, 2, 3 }, { 6, 2, 3 }, { 6, 4, 3 }, { 7, 3, 3 }, { 9, 8, 3 }, { 10, 6, 3 },
		{ 13, 6, 2 }, { 20, 12, 3 }, { 50, 16, 3 }, { 100, 10, 3 }, { 120, 12, 4 },
		{ 200, 12, 3 },
	};
	struct chain_gen_target few[4] = { { 1, 1 }, { 2, 1 }, { 3, 2 }, { 4, 2 } };
	uint32_t out[4];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(cases[i][0], cases[i][1], cases[i][2]);
	is_int(admin_chain_gen(few, 4, 3, out, 4), -EINVAL, "two nodes cannot hold 3 replicas");
	is_int(admin_chain_gen(few, 4, 0, out, 4), -EINVAL, "0 replicas is refused");
	is_int(admin_chain_gen(few, 4, 2, out, 3), -ENOSPC, "too small an output is refused");
	is_int(admin_chain_gen(few, 4, 2, out, 4), 2, "two nodes x two targets: two chains of 2");
	return tap_done();
}
