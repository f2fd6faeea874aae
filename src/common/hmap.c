/* hmap.c — the intrusive chained hash table (contract and invariants: hmap.h). */
#include "common/hmap.h"

#include <stdlib.h>

#ifdef C3_TEST_BUILD
_Thread_local unsigned c3_hmap_fail_next;
#endif

static struct c3_hmap_node **hmap_alloc(size_t nb)
{
#ifdef C3_TEST_BUILD
	if (c3_hmap_fail_next) {
		c3_hmap_fail_next--;
		return NULL;
	}
#endif
	return calloc(nb, sizeof(struct c3_hmap_node *));
}

/* Moves every entry into nb (a power of two) buckets; on ENOMEM nothing changes. */
static void hmap_resize(struct c3_hmap *m, size_t nb)
{
	struct c3_hmap_node **nbk;

	if (nb == m->mask + 1)
		return;
	nbk = nb == 1 ? &m->one : hmap_alloc(nb);
	if (!nbk)
		return;
	if (nb == 1)
		m->one = NULL;
	for (size_t i = 0; i <= m->mask; i++) {
		struct c3_hmap_node *e = m->b[i], *next;

		for (; e; e = next) {
			struct c3_hmap_node **pp = &nbk[e->hash & (nb - 1)];

			next = e->next;
			e->next = *pp;
			*pp = e;
		}
	}
	if (m->b != &m->one)
		free(m->b);
	m->b = nbk;
	m->mask = nb - 1;
}

void c3_hmap_init(struct c3_hmap *m, size_t min_buckets)
{
	size_t nb = 1;

	while (nb < min_buckets && nb <= SIZE_MAX / 2 / sizeof(void *))
		nb *= 2;
	m->one = NULL;
	m->b = &m->one;
	m->mask = 0;
	m->n = 0;
	m->min = nb;
	hmap_resize(m, nb);
}

void c3_hmap_release(struct c3_hmap *m)
{
	if (m->b != &m->one)
		free(m->b);
	m->one = NULL;
	m->b = &m->one;
	m->mask = 0;
	m->n = 0;
}

/* The smallest power of two >= n, at least m->min (n bounded by the entries in memory). */
static size_t hmap_fit(const struct c3_hmap *m, size_t n)
{
	size_t nb = m->min;

	while (nb < n)
		nb *= 2;
	return nb;
}

void c3_hmap_insert(struct c3_hmap *m, struct c3_hmap_node *node, uint64_t hash)
{
	struct c3_hmap_node **pp;

	if (m->n >= m->mask + 1) /* after failed growths too: straight to the right size */
		hmap_resize(m, hmap_fit(m, m->n + 1));
	pp = &m->b[hash & m->mask];
	node->hash = hash;
	node->next = *pp;
	*pp = node;
	m->n++;
}

void c3_hmap_remove(struct c3_hmap *m, struct c3_hmap_node *node)
{
	struct c3_hmap_node **pp = &m->b[node->hash & m->mask];

	while (*pp != node)
		pp = &(*pp)->next;
	*pp = node->next;
	node->next = NULL;
	m->n--;
}

void c3_hmap_shrink(struct c3_hmap *m)
{
	if (m->n < (m->mask + 1) / 4)
		hmap_resize(m, hmap_fit(m, m->n));
}

struct c3_hmap_node *c3_hmap_first_hash(const struct c3_hmap *m, uint64_t hash)
{
	struct c3_hmap_node *e = m->b[hash & m->mask];

	while (e && e->hash != hash)
		e = e->next;
	return e;
}

struct c3_hmap_node *c3_hmap_next_hash(const struct c3_hmap_node *node)
{
	struct c3_hmap_node *e = node->next;

	while (e && e->hash != node->hash)
		e = e->next;
	return e;
}

static struct c3_hmap_node *hmap_from_bucket(const struct c3_hmap *m, size_t i)
{
	for (; i <= m->mask; i++)
		if (m->b[i])
			return m->b[i];
	return NULL;
}

struct c3_hmap_node *c3_hmap_first(const struct c3_hmap *m)
{
	return hmap_from_bucket(m, 0);
}

struct c3_hmap_node *c3_hmap_next(const struct c3_hmap *m, const struct c3_hmap_node *node)
{
	return node->next ? node->next : hmap_from_bucket(m, (node->hash & m->mask) + 1);
}
