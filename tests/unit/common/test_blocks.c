/* The shared building blocks: the growable array (vec.h) and the hash table (hmap.[ch]):
 * growth, shrinking, removal during iteration, collisions, ENOMEM leaves them intact. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "common/vec.h"
#include "tests/lib/tap.h"

struct ent {
	struct c3_hmap_node hn;
	uint64_t key;
	int seen;
};

static struct ent *find(struct c3_hmap *m, uint64_t key, uint64_t (*hf)(uint64_t))
{
	struct c3_hmap_node *n;

	C3_HMAP_FOR_EACH_HASH(n, hf(key), m) {
		struct ent *e = C3_CONTAINER_OF(n, struct ent, hn);

		if (e->key == key)
			return e;
	}
	return NULL;
}

static uint64_t h_good(uint64_t k)
{
	return c3_hash_u64(k);
}

static uint64_t h_same(uint64_t k)
{
	(void)k;
	return 42; /* every key collides */
}

static uint64_t h_low(uint64_t k)
{
	return k << 20; /* distinct hashes, same bucket in any table of < 2^20 buckets */
}

static void test_vec(void)
{
	C3_VEC(int) v = { 0 };
	int *p = NULL, rc, bad = 0;
	size_t n = 0, cap = 0;

	for (int i = 0; i < 1000; i++)
		if (c3_vec_push(&v, i) != 0)
			bad++;
	is_int(bad, 0, "vec: 1000 pushes");
	is_int(v.n, 1000, "vec: n");
	ok(v.cap >= 1000 && v.cap <= 2048 && (v.cap & (v.cap - 1)) == 0, "vec: capacity doubled");
	for (int i = 0; i < 1000; i++)
		if (v.v[i] != i)
			bad++;
	is_int(bad, 0, "vec: contents in order");
	for (size_t i = 0; i < v.n;) /* remove the odd ones while walking */
		if (v.v[i] % 2)
			c3_vec_remove(&v, i);
		else
			i++;
	is_int(v.n, 500, "vec: remove during a walk");
	for (size_t i = 0; i < v.n; i++)
		if (v.v[i] != (int)(2 * i))
			bad++;
	is_int(bad, 0, "vec: remove keeps the order");
	c3_vec_shrink(&v);
	is_int(v.cap, 500, "vec: shrink to n");
	is_int(c3_vec_push(&v, 7), 0, "vec: push after shrink");
	is_int(v.v[500], 7, "vec: pushed value");

	/* ENOMEM: a size that overflows is refused, nothing changes */
	int *old = v.v;
	size_t ocap = v.cap, on = v.n;

	rc = c3_vec_reserve(&v, SIZE_MAX / 2);
	is_int(rc, -ENOMEM, "vec: impossible reserve is ENOMEM");
	ok(v.v == old && v.cap == ocap && v.n == on && v.v[0] == 0, "vec: unchanged after ENOMEM");
	rc = C3_ARRAY_RESERVE(p, cap, SIZE_MAX / sizeof(int) + 1);
	ok(rc == -ENOMEM && p == NULL && cap == 0, "array: overflow ENOMEM, p untouched");
	rc = C3_ARRAY_RESERVE(p, cap, 0);
	ok(rc == 0 && p == NULL, "array: reserve of nothing allocates nothing");
	rc = C3_ARRAY_RESERVE(p, cap, n + 1);
	ok(rc == 0 && p && cap == C3_VEC_MIN_CAP, "array: first growth to the minimum");
	p[n++] = 5;
	rc = C3_ARRAY_RESERVE(p, cap, 100);
	ok(rc == 0 && cap == 128 && p[0] == 5, "array: growth keeps contents");
	free(p);
	c3_vec_release(&v);
	ok(v.v == NULL && v.n == 0 && v.cap == 0, "vec: release");
	c3_vec_shrink(&v);
	ok(v.v == NULL, "vec: shrink of empty");
}

static void test_hmap_with(const char *what, uint64_t (*hf)(uint64_t), unsigned nent)
{
	struct c3_hmap m;
	struct ent *es = calloc(nent, sizeof(*es));
	struct c3_hmap_node *n, *nx;
	unsigned bad = 0, cnt = 0;
	char name[128];

	c3_hmap_init(&m, 0);
	for (unsigned i = 0; i < nent; i++) {
		es[i].key = i * 3 + 1;
		c3_hmap_insert(&m, &es[i].hn, hf(es[i].key));
	}
	snprintf(name, sizeof(name), "hmap %s: count after inserts", what);
	is_int(c3_hmap_count(&m), nent, name);
	snprintf(name, sizeof(name), "hmap %s: buckets grew with the entries", what);
	ok(m.mask + 1 >= nent && m.mask + 1 <= 2 * (size_t)nent, name);
	for (unsigned i = 0; i < nent; i++)
		if (find(&m, i * 3 + 1, hf) != &es[i] || find(&m, i * 3 + 2, hf))
			bad++;
	snprintf(name, sizeof(name), "hmap %s: every key found, no absent key", what);
	is_int(bad, 0, name);
	C3_HMAP_FOR_EACH(n, &m) {
		C3_CONTAINER_OF(n, struct ent, hn)->seen++;
		cnt++;
	}
	for (unsigned i = 0; i < nent; i++)
		bad += es[i].seen != 1;
	snprintf(name, sizeof(name), "hmap %s: iteration visits each once", what);
	ok(bad == 0 && cnt == nent, name);
	/* remove every other entry while iterating */
	cnt = 0;
	C3_HMAP_FOR_EACH_SAFE(n, nx, &m) {
		struct ent *e = C3_CONTAINER_OF(n, struct ent, hn);

		cnt++;
		if (e->key % 2 == 0)
			c3_hmap_remove(&m, n);
	}
	snprintf(name, sizeof(name), "hmap %s: remove during iteration visits all", what);
	is_int(cnt, nent, name);
	for (unsigned i = 0; i < nent; i++)
		if ((find(&m, es[i].key, hf) != NULL) != (es[i].key % 2 == 1))
			bad++;
	snprintf(name, sizeof(name), "hmap %s: the removed ones are gone, the rest found", what);
	is_int(bad, 0, name);
	/* remove all but one and shrink */
	C3_HMAP_FOR_EACH_SAFE(n, nx, &m)
		if (C3_CONTAINER_OF(n, struct ent, hn)->key != 1)
			c3_hmap_remove(&m, n);
	c3_hmap_shrink(&m);
	snprintf(name, sizeof(name), "hmap %s: shrink to one bucket", what);
	ok(c3_hmap_count(&m) == 1 && m.mask == 0 && m.b == &m.one, name);
	snprintf(name, sizeof(name), "hmap %s: last entry found after shrink", what);
	ok(find(&m, 1, hf) == &es[0], name);
	c3_hmap_release(&m);
	free(es);
}

static void test_hmap_enomem(void)
{
	struct c3_hmap m;
	struct ent es[100];
	unsigned bad = 0;

	memset(es, 0, sizeof(es));
	c3_hmap_fail_next = 1;
	c3_hmap_init(&m, 64);
	ok(m.mask == 0 && m.b == &m.one, "hmap ENOMEM: init falls back to one bucket");
	c3_hmap_fail_next = 1000; /* no growth at all */
	for (unsigned i = 0; i < 100; i++) {
		es[i].key = i;
		c3_hmap_insert(&m, &es[i].hn, c3_hash_u64(i));
	}
	ok(m.mask == 0 && c3_hmap_count(&m) == 100, "hmap ENOMEM: inserts succeed in one bucket");
	for (unsigned i = 0; i < 100; i++)
		bad += find(&m, i, h_good) != &es[i];
	is_int(bad, 0, "hmap ENOMEM: all found in the long chain");
	c3_hmap_fail_next = 0;
	c3_hmap_remove(&m, &es[5].hn);
	c3_hmap_insert(&m, &es[5].hn, c3_hash_u64(5)); /* may grow now */
	ok(m.mask + 1 >= 100, "hmap ENOMEM: grows to fit once memory is back");
	for (unsigned i = 0; i < 100; i++)
		bad += find(&m, i, h_good) != &es[i];
	is_int(bad, 0, "hmap ENOMEM: all found after the late growth");
	size_t nb = m.mask + 1;

	for (unsigned i = 0; i < 100; i++)
		c3_hmap_remove(&m, &es[i].hn);
	c3_hmap_fail_next = 1;
	c3_hmap_shrink(&m);
	is_int(m.mask + 1, nb, "hmap ENOMEM: a failed shrink keeps the buckets");
	c3_hmap_fail_next = 0;
	c3_hmap_shrink(&m);
	is_int(m.mask + 1, 64, "hmap: shrink stops at the initial size");
	c3_hmap_insert(&m, &es[0].hn, c3_hash_u64(0));
	ok(find(&m, 0, h_good) == &es[0], "hmap: usable after shrinking");
	c3_hmap_release(&m);
}

int main(void)
{
	test_vec();
	test_hmap_with("good hash", h_good, 5000);
	test_hmap_with("one hash", h_same, 300);
	test_hmap_with("colliding buckets", h_low, 300);
	test_hmap_enomem();
	ok(c3_hash_u64(1) != c3_hash_u64(2) && c3_hash_mix(1, 2) != c3_hash_mix(2, 1),
	   "hash: mixers tell keys apart");
	ok(c3_hash_bytes("127.0.0.1:9000", 14) == c3_hash_bytes("127.0.0.1:9000", 14) &&
	   c3_hash_bytes("127.0.0.1:9000", 14) != c3_hash_bytes("127.0.0.1:9001", 14) &&
	   c3_hash_bytes("", 0) != c3_hash_bytes("a", 1), "hash: byte strings");
	return tap_done();
}
