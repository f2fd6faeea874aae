/* log.h — leveled logging, one line per event.
 *
 * Line format (UTC):
 *   2026-11-25T08:00:00.123456Z storage#3 INFO  chunk.c:120 req=42 message
 * The level is checked before any formatting.  Output goes to stderr unless
 * c3_log_open() names a file.  Thread-safe: each line is written with one write(2).
 * The request id is per thread: the RPC dispatcher sets it around each handler.
 */
#ifndef C3_LOG_H
#define C3_LOG_H

#include <stdint.h>

enum c3_log_level { C3_LOG_ERROR = 0, C3_LOG_WARN = 1, C3_LOG_INFO = 2, C3_LOG_DEBUG = 3 };

/* Read by every log call, written by c3_log_set_level (live configuration changes it
 * while other threads log): relaxed atomic accesses, no ordering needed. */
extern int c3_log_level_cur;

/* Set the process role ("storage", "meta", ...) and node id printed on every line. */
void c3_log_set_identity(const char *role, uint32_t node_id);
void c3_log_set_level(int level);
/* Parse "error|warn|info|debug"; returns level or -EINVAL. */
int c3_log_level_parse(const char *s);
/* Append to path (created 0600: log lines name paths and users).  An existing file that
 * group or others can read is used but warned about in the log.  Returns 0 or -errno;
 * on failure logging stays on stderr. */
int c3_log_open(const char *path);
/* Request id for lines logged by this thread (0 = none). */
void c3_log_set_reqid(uint64_t reqid);

void c3_log_emit(int level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define C3_LOG_AT(lvl, ...)                                                    \
	do {                                                                   \
		if ((lvl) <= __atomic_load_n(&c3_log_level_cur, __ATOMIC_RELAXED)) \
			c3_log_emit((lvl), __FILE__, __LINE__, __VA_ARGS__);   \
	} while (0)
#define LOG_ERROR(...) C3_LOG_AT(C3_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...)  C3_LOG_AT(C3_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...)  C3_LOG_AT(C3_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) C3_LOG_AT(C3_LOG_DEBUG, __VA_ARGS__)

/* Invariant checks (C3_ASSERT) and internal-error reports: common/check.h. */

#endif
