/* hmap.h — the one hash table of c3fs: intrusive, chained, growing.
 *
 * The caller embeds a struct c3_hmap_node in its entries and computes the 64-bit hash of
 * the key (c3_hash_u64 / c3_hash_mix / c3_hash_bytes below); the table stores no keys and never compares
 * them, so a lookup walks the entries with the same hash and the caller compares:
 *
 *     struct slot { struct c3_hmap_node hn; uint64_t id; ... };
 *     C3_HMAP_FOR_EACH_HASH(n, c3_hash_u64(id), &tab)
 *             if (C3_CONTAINER_OF(n, struct slot, hn)->id == id) ...
 *
 * Invariants:
 * - A table starts with one bucket inside struct c3_hmap, so c3_hmap_init and
 *   c3_hmap_insert never fail: when the bucket array cannot grow (ENOMEM) the chains just
 *   get longer.  The struct therefore must not be copied or moved after c3_hmap_init.
 * - Insert grows the buckets (powers of two) to at least one per entry.  Remove never
 *   reallocates, so an entry may be removed during C3_HMAP_FOR_EACH_SAFE; c3_hmap_shrink
 *   (called by the holder outside iterations) gives memory back.
 * - Entries stay where the caller put them: node pointers are stable.
 * - No locking: the holder's lock guards the table and its nodes' links. */
#ifndef C3_COMMON_HMAP_H
#define C3_COMMON_HMAP_H

#include <stddef.h>
#include <stdint.h>

#define C3_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct c3_hmap_node {
	struct c3_hmap_node *next; /* the bucket's chain */
	uint64_t hash;
};

struct c3_hmap {
	struct c3_hmap_node **b; /* mask + 1 buckets; &one until the first growth */
	size_t mask;
	size_t n;                /* entries */
	size_t min;              /* c3_hmap_shrink keeps at least this many buckets */
	struct c3_hmap_node *one;
};

/* 64-bit mixers (splitmix64's finalizer): a key of one or two words to a hash. */
static inline uint64_t c3_hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline uint64_t c3_hash_mix(uint64_t h, uint64_t x)
{
	return c3_hash_u64(h ^ (x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2)));
}

/* A byte string's hash (FNV-1a, then mixed). */
static inline uint64_t c3_hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return c3_hash_u64(h);
}

/* An empty table.  With min_buckets > 1 it tries to allocate them now (a power of two is
 * used); when that fails it starts with one, as any table may. */
void c3_hmap_init(struct c3_hmap *m, size_t min_buckets);

/* Frees the bucket array (not the entries); the table must be initialised again to reuse. */
void c3_hmap_release(struct c3_hmap *m);

/* Adds node (not in any table) with this hash; duplicates are the caller's business. */
void c3_hmap_insert(struct c3_hmap *m, struct c3_hmap_node *node, uint64_t hash);

/* Unlinks node, which must be in m.  Never reallocates. */
void c3_hmap_remove(struct c3_hmap *m, struct c3_hmap_node *node);

/* When fewer entries than a quarter of the buckets: buckets down to the entries (a power
 * of two, not below min_buckets).  On ENOMEM the table stays as it was. */
void c3_hmap_shrink(struct c3_hmap *m);

static inline size_t c3_hmap_count(const struct c3_hmap *m)
{
	return m->n;
}

/* The first entry with this hash (NULL: none); c3_hmap_next_hash the next one. */
struct c3_hmap_node *c3_hmap_first_hash(const struct c3_hmap *m, uint64_t hash);
struct c3_hmap_node *c3_hmap_next_hash(const struct c3_hmap_node *node);

/* Every entry, in no particular order: c3_hmap_first, then c3_hmap_next (NULL at the end). */
struct c3_hmap_node *c3_hmap_first(const struct c3_hmap *m);
struct c3_hmap_node *c3_hmap_next(const struct c3_hmap *m, const struct c3_hmap_node *node);

#define C3_HMAP_FOR_EACH_HASH(node, hash, m)                                                    \
	for ((node) = c3_hmap_first_hash((m), (hash)); (node); (node) = c3_hmap_next_hash(node))

#define C3_HMAP_FOR_EACH(node, m)                                                               \
	for ((node) = c3_hmap_first(m); (node); (node) = c3_hmap_next((m), (node)))

/* As C3_HMAP_FOR_EACH; the body may c3_hmap_remove (and free) node. */
#define C3_HMAP_FOR_EACH_SAFE(node, nxt, m)                                                     \
	for ((node) = c3_hmap_first(m); (node) && ((nxt) = c3_hmap_next((m), (node)), 1);         \
	     (node) = (nxt))

#ifdef C3_TEST_BUILD
/* Test builds: the next n bucket-array allocations fail (tests of the ENOMEM paths). */
extern _Thread_local unsigned c3_hmap_fail_next;
#endif

#endif
