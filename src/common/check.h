/* check.h — errors that say where they came from, and invariant checks.
 *
 * C3_INTERNAL(fmt, ...) — for "cannot happen" failures (a state the code never produces,
 *   a peer's reply that does not decode).  Logs at error level
 *     internal error at src/meta/entry.c:111 (meta__dir_orphan): inode 5 is not a directory
 *   and evaluates to -C3FS_EINTERNAL, so a site reads  return C3_INTERNAL("...", ...);
 * C3_CORRUPT(what, fmt, ...) — the same for a stored record that fails to decode: names
 *   the record ("inode", "dentry", ...) and what was wrong (which key, which length):
 *     corrupt record at src/meta/cut.c:55 (cut_get): cut of inode 9: value length 3, want 16
 *   and evaluates to -C3FS_EINTERNAL as well (the code the callers already handle).
 *   Both are rate-limited per call site: the 1st, 2nd, 4th, 8th, ... occurrence is logged,
 *   with the count, so a corrupt key hit in a loop cannot flood the log.
 *   (The per-site counter is a static variable: not for use in a non-static inline
 *   function.)
 *
 * C3_ASSERT(cond) — an invariant (a lock rule, a state that must be set).  In test builds
 *   (C3_TEST_BUILD: debug, asan, tsan, fuzz) a false cond logs "assertion failed: cond"
 *   with file:line and a backtrace and aborts.  In release builds cond is still evaluated
 *   (keep it a cheap, side-effect-free test of fields that exist anyway) and a false one is
 *   logged once per site, then the daemon goes on: an invariant that was only a comment
 *   until now must not turn a latent bug into an outage for every client; the log line
 *   names the site.  Programming errors only; never for network, disk or config input.
 * C3_ASSERT_LOCKED(m) — the pthread mutex m is held (by some thread: a mutex has no owner
 *   field to ask; this catches the common bug, calling a _locked function without the
 *   lock).  Test builds only (a trylock); in release it compiles to nothing.
 */
#ifndef C3_CHECK_H
#define C3_CHECK_H

#include <errno.h>
#include <pthread.h>

#include "common/errors.h"

/* Log one internal-error line for a site (count = the site's counter); returns
 * -C3FS_EINTERNAL.  Use the macros below, not this. */
int c3_internal_at(unsigned *count, const char *kind, const char *file, int line,
		   const char *func, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void c3_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
void c3_assert_log(unsigned *count, const char *expr, const char *file, int line);

#define C3_INTERNAL(...)                                                       \
	({                                                                     \
		static unsigned c3_site_n_;                                    \
		c3_internal_at(&c3_site_n_, "internal error", __FILE__,        \
			       __LINE__, __func__, __VA_ARGS__);               \
	})
#define C3_CORRUPT(what, fmt, ...)                                             \
	({                                                                     \
		static unsigned c3_site_n_;                                    \
		c3_internal_at(&c3_site_n_, "corrupt record", __FILE__,        \
			       __LINE__, __func__, "%s: " fmt, (what),         \
			       ##__VA_ARGS__);                                 \
	})

#ifdef C3_TEST_BUILD
#define C3_ASSERT(cond)                                                        \
	do {                                                                   \
		if (__builtin_expect(!(cond), 0))                              \
			c3_assert_fail(#cond, __FILE__, __LINE__);             \
	} while (0)
#define C3_ASSERT_LOCKED(m)                                                    \
	do {                                                                   \
		pthread_mutex_t *c3_m_ = (m);                                  \
		if (pthread_mutex_trylock(c3_m_) == 0) {                       \
			pthread_mutex_unlock(c3_m_);                           \
			c3_assert_fail("mutex " #m " held", __FILE__,          \
				       __LINE__);                              \
		}                                                              \
	} while (0)
#else
#define C3_ASSERT(cond)                                                        \
	do {                                                                   \
		static unsigned c3_site_n_;                                    \
		if (__builtin_expect(!(cond), 0))                              \
			c3_assert_log(&c3_site_n_, #cond, __FILE__, __LINE__); \
	} while (0)
#define C3_ASSERT_LOCKED(m) ((void)sizeof(m))
#endif

#endif
