/* log.c — see log.h.  One write(2) per line keeps lines whole across threads. */
#include "common/log.h"
#include "common/check.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int c3_log_level_cur = C3_LOG_INFO;
static int c3_log_fd = 2;
static char c3_log_role[32] = "c3fs";
static uint32_t c3_log_node;
static __thread uint64_t c3_log_reqid;

static const char *const c3_log_names[] = { "ERROR", "WARN ", "INFO ", "DEBUG" };

void c3_log_set_identity(const char *role, uint32_t node_id)
{
	snprintf(c3_log_role, sizeof(c3_log_role), "%s", role);
	c3_log_node = node_id;
}

void c3_log_set_level(int level)
{
	if (level < C3_LOG_ERROR)
		level = C3_LOG_ERROR;
	if (level > C3_LOG_DEBUG)
		level = C3_LOG_DEBUG;
	__atomic_store_n(&c3_log_level_cur, level, __ATOMIC_RELAXED);
}

int c3_log_level_parse(const char *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i;
	return -EINVAL;
}

int c3_log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (c3_log_fd > 2)
		close(c3_log_fd);
	c3_log_fd = fd;
	if (fstat(fd, &st) == 0 && (st.st_mode & 0077))
		LOG_WARN("log file %s has mode %04o: other users can read it (fix with: chmod "
			 "go-rwx %s)",
			 path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

void c3_log_set_reqid(uint64_t reqid)
{
	c3_log_reqid = reqid;
}

void c3_log_emit(int level, const char *file, int line, const char *fmt, ...)
{
	char buf[2048];
	struct timespec ts;
	struct tm tm;
	const char *base = strrchr(file, '/');
	size_t n;
	int k;
	va_list ap;

	base = base ? base + 1 : file;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(buf + n, sizeof(buf) - n, ".%06ldZ %s#%u %s %s:%d ", ts.tv_nsec / 1000,
		     c3_log_role, c3_log_node, c3_log_names[level & 3], base, line);
	if (k > 0)
		n += (size_t)k;
	if (c3_log_reqid && n < sizeof(buf)) {
		k = snprintf(buf + n, sizeof(buf) - n, "req=%llu ",
			     (unsigned long long)c3_log_reqid);
		if (k > 0)
			n += (size_t)k;
	}
	if (n < sizeof(buf)) {
		va_start(ap, fmt);
		k = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
		va_end(ap);
		if (k > 0)
			n += (size_t)k;
	}
	if (n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	for (size_t i = 0; i < n; i++) /* one event, one line */
		if (buf[i] == '\n')
			buf[i] = ' ';
	buf[n++] = '\n';
	if (write(c3_log_fd, buf, n) < 0) {
		/* nowhere left to report it */
	}
}

/* True for the 1st, 2nd, 4th, 8th, ... event of a call site (count = its counter). */
static bool c3_site_report(unsigned *count, unsigned *n)
{
	*n = __atomic_add_fetch(count, 1, __ATOMIC_RELAXED);
	return (*n & (*n - 1)) == 0;
}

int c3_internal_at(unsigned *count, const char *kind, const char *file, int line,
		   const char *func, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	unsigned n;

	if (!c3_site_report(count, &n))
		return -C3FS_EINTERNAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n == 1)
		c3_log_emit(C3_LOG_ERROR, file, line, "%s at %s:%d (%s): %s", kind, file, line,
			    func, msg);
	else
		c3_log_emit(C3_LOG_ERROR, file, line, "%s at %s:%d (%s): %s (seen %u times)", kind,
			    file, line, func, msg, n);
	return -C3FS_EINTERNAL;
}

void c3_assert_log(unsigned *count, const char *expr, const char *file, int line)
{
	unsigned n;

	if (c3_site_report(count, &n))
		c3_log_emit(C3_LOG_ERROR, file, line, "assertion failed at %s:%d: %s (seen %u times)",
			    file, line, expr, n);
}

void c3_assert_fail(const char *expr, const char *file, int line)
{
	void *frames[64];
	int n;

	c3_log_emit(C3_LOG_ERROR, file, line, "assertion failed at %s:%d: %s", file, line, expr);
	n = backtrace(frames, 64);
	backtrace_symbols_fd(frames, n, c3_log_fd);
	abort();
}
