/* vec.h — the one growable array of c3fs (header only, so the application libraries
 * usrbio and ffrecord, which link nothing of common, can use it too).
 *
 * Two forms of one rule (capacity doubles, at least C3_VEC_MIN_CAP elements, a size that
 * would overflow is refused like a failed allocation):
 *
 *   an array held as separate fields (T *p; size_t n, cap):
 *       rc = C3_ARRAY_RESERVE(p, cap, n + 1);  // 0, or -ENOMEM with p and cap unchanged
 *       if (rc == 0) p[n++] = x;
 *
 *   a typed vector, C3_VEC(T) = struct { T *v; size_t n, cap; }, zero-initialised:
 *       C3_VEC(struct kv_pair) out = { 0 };
 *       rc = c3_vec_push(&out, x);             // 0, or -ENOMEM with out unchanged
 *       c3_vec_remove(&out, i);                // keeps the order
 *       c3_vec_shrink(&out);                   // capacity down to n (kept on failure)
 *       c3_vec_release(&out);                  // frees, back to { 0 }
 *
 * Ownership: the array belongs to whoever holds the fields; element pointers are valid until
 * the next reserve, push or shrink.  No locking: the holder's lock guards the fields. */
#ifndef C3_COMMON_VEC_H
#define C3_COMMON_VEC_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define C3_VEC_MIN_CAP 16

/* p (an array of *cap elements of size elem, or NULL with *cap 0) regrown to hold at least
 * need elements.  Returns the new array and sets *cap, or NULL when the size overflows or
 * the allocation fails; then p is untouched and still the caller's. */
static inline void *c3_array_grow(void *p, size_t *cap, size_t need, size_t elem)
{
	size_t nc = *cap ? *cap : C3_VEC_MIN_CAP;
	void *np;

	while (nc < need) {
		if (nc > SIZE_MAX / 2)
			return NULL;
		nc *= 2;
	}
	if (elem && nc > SIZE_MAX / elem)
		return NULL;
	np = realloc(p, nc * elem);
	if (np)
		*cap = nc;
	return np;
}

/* Room for need elements in (p, cap): 0, or -ENOMEM with both unchanged.  An expression;
 * p and cap are lvalues evaluated more than once. */
#define C3_ARRAY_RESERVE(p, cap, need)                                                          \
	__extension__({                                                                         \
		size_t c3__need = (need);                                                       \
		void *c3__np = c3__need <= (cap) ? (void *)(p)                                  \
						 : c3_array_grow((p), &(cap), c3__need,         \
								 sizeof(*(p)));                 \
		int c3__rc = c3__need <= (cap) ? 0 : -ENOMEM;                                   \
		if (c3__np && c3__rc == 0)                                                      \
			(p) = c3__np;                                                           \
		c3__rc;                                                                         \
	})

#define C3_VEC(T)                                                                               \
	struct {                                                                                \
		T *v;                                                                           \
		size_t n, cap;                                                                  \
	}

#define c3_vec_reserve(vec, need) C3_ARRAY_RESERVE((vec)->v, (vec)->cap, (need))

/* Appends x (an expression of the element type): 0 or -ENOMEM (vec unchanged). */
#define c3_vec_push(vec, x)                                                                     \
	__extension__({                                                                         \
		int c3__prc = c3_vec_reserve((vec), (vec)->n + 1);                              \
		if (c3__prc == 0)                                                               \
			(vec)->v[(vec)->n++] = (x);                                             \
		c3__prc;                                                                        \
	})

/* Removes element i (< n), keeping the order of the others. */
#define c3_vec_remove(vec, i)                                                                   \
	do {                                                                                    \
		size_t c3__i = (i);                                                             \
		memmove(&(vec)->v[c3__i], &(vec)->v[c3__i + 1],                                  \
			((vec)->n - c3__i - 1) * sizeof(*(vec)->v));                            \
		(vec)->n--;                                                                     \
	} while (0)

/* Capacity down to n (freed at n == 0); on a failed realloc the larger array stays. */
#define c3_vec_shrink(vec)                                                                      \
	do {                                                                                    \
		if ((vec)->n == 0) {                                                            \
			c3_vec_release(vec);                                                    \
		} else if ((vec)->n < (vec)->cap) {                                             \
			void *c3__sp = realloc((vec)->v, (vec)->n * sizeof(*(vec)->v));          \
			if (c3__sp) {                                                           \
				(vec)->v = c3__sp;                                              \
				(vec)->cap = (vec)->n;                                          \
			}                                                                       \
		}                                                                               \
	} while (0)

#define c3_vec_release(vec)                                                                     \
	do {                                                                                    \
		free((vec)->v);                                                                 \
		(vec)->v = NULL;                                                                \
		(vec)->n = (vec)->cap = 0;                                                      \
	} while (0)

#endif
