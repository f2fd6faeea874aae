/* common/check.h: C3_INTERNAL / C3_CORRUPT say where they came from and return
 * -C3FS_EINTERNAL; C3_ASSERT / C3_ASSERT_LOCKED abort in test builds. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/check.h"
#include "common/errors.h"
#include "common/log.h"
#include "tests/lib/tap.h"

static int log_fd;
static char log_path[] = "/tmp/c3fs-checktest.XXXXXX";

/* Everything logged since the last call, NUL-terminated, in buf. */
static const char *log_read(char *buf, size_t cap)
{
	static off_t off;
	ssize_t n = pread(log_fd, buf, cap - 1, off);

	buf[n > 0 ? n : 0] = '\0';
	if (n > 0)
		off += n;
	return buf;
}

static int count_of(const char *s, const char *needle)
{
	int n = 0;

	for (; (s = strstr(s, needle)) != NULL; s++)
		n++;
	return n;
}

static int internal_line;
static int bad_key(int key, int len)
{
	internal_line = __LINE__ + 1;
	return C3_INTERNAL("key %d has length %d", key, len);
}

static int corrupt_line;
static int bad_record(unsigned long long ino, size_t vl)
{
	corrupt_line = __LINE__ + 1;
	return vl == 16 ? 0 : C3_CORRUPT("cut", "of inode %llu: value length %zu, want 16", ino, vl);
}

static void test_internal(void)
{
	char buf[8192], want[256];
	const char *s;

	is_int(bad_key(5, 3), -C3FS_EINTERNAL, "C3_INTERNAL evaluates to -C3FS_EINTERNAL");
	s = log_read(buf, sizeof(buf));
	snprintf(want, sizeof(want),
		 "ERROR test_check.c:%d internal error at tests/unit/common/test_check.c:%d "
		 "(bad_key): key 5 has length 3\n", internal_line, internal_line);
	ok(strstr(s, want) != NULL, "logged at error level with file:line, function, message");
	if (!strstr(s, want))
		diag("log: %s", s);

	/* calls 2..8 of the site: logged at the 2nd, 4th and 8th only */
	for (int i = 2; i <= 8; i++)
		bad_key(i, i);
	s = log_read(buf, sizeof(buf));
	is_int(count_of(s, "internal error at"), 3, "a repeating site is rate-limited");
	ok(strstr(s, "key 2 has length 2 (seen 2 times)") != NULL, "2nd occurrence counted");
	ok(strstr(s, "key 8 has length 8 (seen 8 times)") != NULL, "8th occurrence counted");
	ok(strstr(s, "key 3 ") == NULL, "3rd occurrence not logged");

	is_int(bad_record(9, 16), 0, "C3_CORRUPT only runs where it is reached");
	is_int(bad_record(9, 3), -C3FS_EINTERNAL, "C3_CORRUPT evaluates to -C3FS_EINTERNAL");
	s = log_read(buf, sizeof(buf));
	snprintf(want, sizeof(want),
		 "corrupt record at tests/unit/common/test_check.c:%d (bad_record): cut: of inode "
		 "9: value length 3, want 16\n", corrupt_line);
	ok(strstr(s, want) != NULL, "C3_CORRUPT names the site and the record");
	if (!strstr(s, want))
		diag("log: %s", s);
}

/* Run f in a child; returns its wait status. */
static int in_child(void (*f)(void))
{
	int st = 0;
	pid_t pid = fork();

	if (pid == 0) {
		f();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile int one = 1;

static void true_asserts(void)
{
	C3_ASSERT(one == 1);
	pthread_mutex_lock(&mu);
	C3_ASSERT_LOCKED(&mu);
	pthread_mutex_unlock(&mu);
}

static void false_assert(void) { C3_ASSERT(one == 2); }
static const int false_assert_line = __LINE__ - 1;
static void unlocked_assert(void) { C3_ASSERT_LOCKED(&mu); }
static const int unlocked_assert_line = __LINE__ - 1;

static void test_assert(void)
{
	char buf[8192], want[256];
	const char *s;
	int st;

	st = in_child(true_asserts);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "true assertions and a held mutex pass");
	s = log_read(buf, sizeof(buf));
	ok(strstr(s, "assertion") == NULL, "nothing logged for them");

	st = in_child(false_assert);
	s = log_read(buf, sizeof(buf));
	snprintf(want, sizeof(want), "assertion failed at tests/unit/common/test_check.c:%d: one == 2",
		 false_assert_line);
	ok(strstr(s, want) != NULL, "a false C3_ASSERT logs file:line and the condition");
	if (!strstr(s, want))
		diag("log: %s", s);
#ifdef C3_TEST_BUILD
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "a false C3_ASSERT aborts in a test build");
	st = in_child(unlocked_assert);
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "C3_ASSERT_LOCKED of a free mutex aborts");
	s = log_read(buf, sizeof(buf));
	snprintf(want, sizeof(want), "assertion failed at tests/unit/common/test_check.c:%d: mutex "
		 "&mu held", unlocked_assert_line);
	ok(strstr(s, want) != NULL, "it names the mutex and the site");
	if (!strstr(s, want))
		diag("log: %s", s);
#else
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a false C3_ASSERT only logs in a release build");
	(void)unlocked_assert_line;
	st = in_child(unlocked_assert);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "C3_ASSERT_LOCKED is a no-op in a release build");
#endif
}

int main(void)
{
	log_fd = mkstemp(log_path);
	ok(log_fd >= 0, "temp log file");
	is_int(c3_log_open(log_path), 0, "log to it");
	c3_log_set_identity("unit", 1);
	test_internal();
	test_assert();
	close(log_fd);
	unlink(log_path);
	return tap_done();
}
