/* tap.h — a tiny TAP producer for unit tests (header only).
 *
 *   int main(void) {
 *       ok(1 + 1 == 2, "addition");
 *       is_int(f(), 0, "f succeeds");
 *       return tap_done();   // prints the plan; exit 1 if any check failed or none ran
 *   }
 * Lines go to stdout: "ok N - name" / "not ok N - name" with a "# got/expected" note.
 * tap_skip_all("reason") prints "1..0 # SKIP reason" and exits 77.
 */
#ifndef C3_TAP_H
#define C3_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap__n, tap__failed;

static inline int tap_ok_at(int cond, const char *file, int line, const char *name)
{
	tap__n++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap__n, name);
	if (!cond) {
		tap__failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, name) tap_ok_at(!!(cond), __FILE__, __LINE__, (name))
#define is_int(got, want, name)                                                         \
	do {                                                                            \
		long long tap__g = (long long)(got), tap__w = (long long)(want);        \
		if (!tap_ok_at(tap__g == tap__w, __FILE__, __LINE__, (name)))           \
			printf("#   got %lld, expected %lld\n", tap__g, tap__w);        \
	} while (0)
#define is_str(got, want, name)                                                         \
	do {                                                                            \
		const char *tap__g = (got), *tap__w = (want);                           \
		int tap__c = tap__g && tap__w && strcmp(tap__g, tap__w) == 0;           \
		if (!tap_ok_at(tap__c, __FILE__, __LINE__, (name)))                     \
			printf("#   got \"%s\", expected \"%s\"\n", tap__g ? tap__g : "(null)", \
			       tap__w ? tap__w : "(null)");                             \
	} while (0)
#define diag(...) (printf("# "), printf(__VA_ARGS__), printf("\n"), fflush(stdout))

static inline void tap_skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	fflush(stdout);
	exit(77);
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap__n);
	if (tap__n == 0)
		printf("# no checks ran\n");
	if (tap__failed)
		printf("# %d of %d checks failed\n", tap__failed, tap__n);
	fflush(stdout);
	return (tap__failed || tap__n == 0) ? 1 : 0;
}

#endif
