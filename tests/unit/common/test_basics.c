/* Error table, byte buffer and log basics. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "tests/lib/tap.h"

static void test_errors(void)
{
	is_int(c3_errno_of(-ENOENT), ENOENT, "plain errno maps to itself");
	is_int(c3_errno_of(-C3FS_ECHECKSUM), EIO, "checksum error reads as EIO");
	is_int(c3_errno_of(-C3FS_ECHAINVER), ESTALE, "stale chain version reads as ESTALE");
	is_int(c3_errno_of(-1999), EIO, "unknown c3fs code reads as EIO");
	is_str(c3_errname(-C3FS_EAUTH), "C3FS_EAUTH", "name of a c3fs code");
	is_str(c3_errname(ENOSPC), "ENOSPC", "name of an errno");
	ok(strstr(c3_strerror(-C3FS_EAUTH), "token") != NULL, "auth message mentions the token");
	ok(strcmp(c3_strerror(-ENOENT), strerror(ENOENT)) == 0, "errno message from libc");
	is_str(c3_strerror(0), "success", "zero is success");
}

static void test_buf(void)
{
	struct c3_buf b = C3_BUF_INIT;
	size_t n;
	uint8_t *p;

	for (int i = 0; i < 1000; i++)
		c3_buf_append(&b, "abc", 3);
	is_int(b.len, 3000, "appends accumulate");
	ok(memcmp(b.data + 2997, "abc", 3) == 0, "contents kept across growth");
	c3_buf_printf(&b, "%d-%s", 42, "x");
	is_int(b.len, 3004, "printf appends without NUL");
	ok(memcmp(b.data + 3000, "42-x", 4) == 0, "printf contents");
	c3_buf_reset(&b);
	is_int(b.len, 0, "reset empties");
	ok(c3_buf_reserve(&b, SIZE_MAX) == -ENOMEM, "absurd reserve fails");
	is_int(b.err, -ENOMEM, "error is sticky");
	c3_buf_append(&b, "z", 1);
	is_int(b.len, 0, "append after error does nothing");
	c3_buf_reset(&b);
	c3_buf_append(&b, "hello", 5);
	p = c3_buf_detach(&b, &n);
	ok(p && n == 5 && memcmp(p, "hello", 5) == 0 && b.data == NULL, "detach hands over");
	free(p);
	c3_buf_release(&b);
}

static void test_log(void)
{
	char path[] = "/tmp/c3fs-logtest.XXXXXX";
	int fd = mkstemp(path);
	char buf[4096];
	ssize_t n;

	is_int(c3_log_level_parse("debug"), C3_LOG_DEBUG, "parse debug");
	is_int(c3_log_level_parse("nope"), -EINVAL, "parse bad level");
	ok(fd >= 0, "temp log file");
	is_int(c3_log_open(path), 0, "open log file");
	c3_log_set_identity("unit", 7);
	c3_log_set_level(C3_LOG_INFO);
	c3_log_set_reqid(99);
	LOG_INFO("hello %d\nsecond", 5);
	LOG_DEBUG("not shown");
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	ok(strstr(buf, "unit#7 INFO  test_basics.c:") != NULL, "role, node, level, file");
	ok(strstr(buf, "req=99 hello 5 second\n") != NULL, "request id and one line per event");
	ok(strstr(buf, "not shown") == NULL, "level filters");
	close(fd);
	unlink(path);
}

int main(void)
{
	uint64_t a = c3_now_ns();

	c3_sleep_ms(2);
	ok(c3_now_ns() - a >= 2000000ull, "monotonic clock advances across a sleep");
	test_errors();
	test_buf();
	test_log();
	return tap_done();
}
