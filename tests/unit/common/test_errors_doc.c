/* docs/ERRORS.md is current: the committed file equals what c3fs-gen-docs prints from
 * errors.def (the generator is compiled in here), and errors.def itself is consistent
 * (codes in range and unique, names unique), and the generator refuses bad tables.  Needs $C3FS_ROOT (set by tests/run). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C3_GEN_DOCS_NO_MAIN
#include "tools/gen_docs.c"

#include "common/errors.h"
#include "tests/lib/tap.h"

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct c3_buf b = C3_BUF_INIT;
	char tmp[4096];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		c3_buf_append(&b, tmp, n);
	fclose(f);
	return (char *)c3_buf_detach(&b, len);
}

int main(void)
{
	struct c3_buf out = C3_BUF_INIT;
	const char *root = getenv("C3FS_ROOT");
	char path[4096], why[256] = "";
	size_t flen = 0;
	char *file;
	int rc;

	{
		static const struct gen_docs_err dupcode[] = { { 1001, EIO, "A", "a", "NO" },
							       { 1001, EIO, "B", "b", "NO" } };
		static const struct gen_docs_err dupname[] = { { 1001, EIO, "A", "a", "NO" },
							       { 1002, EIO, "A", "b", "NO" } };
		static const struct gen_docs_err range[] = { { 999, EIO, "A", "a", "NO" } };
		static const struct gen_docs_err tworetry[] = { { 1001, EIO, "A", "a",
								  "AGAIN|ROUTE" } };
		static const struct gen_docs_err badretry[] = { { 1001, EIO, "A", "a",
								  "AGAIN|SOON" } };
		static const struct gen_docs_err flagonly[] = { { 1001, EIO, "A", "a", "PEER" } };
		struct c3_buf b = C3_BUF_INIT;

		is_int(gen_docs_errors(dupcode, 2, &b, why, sizeof(why)), -EINVAL, "duplicate code refused");
		ok(strstr(why, "code 1001 used by A and B") != NULL, "duplicate code message");
		is_int(gen_docs_errors(dupname, 2, &b, why, sizeof(why)), -EINVAL, "duplicate name refused");
		is_int(gen_docs_errors(range, 1, &b, why, sizeof(why)), -EINVAL, "code out of range refused");
		is_int(gen_docs_errors(tworetry, 1, &b, why, sizeof(why)), -EINVAL,
		       "two retry classes refused");
		ok(strstr(why, "A: retry 'AGAIN|ROUTE'") != NULL, "retry class message");
		is_int(gen_docs_errors(badretry, 1, &b, why, sizeof(why)), -EINVAL,
		       "unknown retry flag refused");
		is_int(gen_docs_errors(flagonly, 1, &b, why, sizeof(why)), -EINVAL,
		       "retry without a class refused");
		is_int(b.len, 0, "nothing rendered for a bad table");
		c3_buf_release(&b);
	}
	rc = gen_docs_errors(gen_docs_errtab, GEN_DOCS_NERR, &out, why, sizeof(why));
	is_int(rc, 0, "errors.def is consistent");
	if (rc != 0)
		diag("%s", why);
	for (size_t i = 0; i < GEN_DOCS_NERR; i++) {
		char row[128];

		snprintf(row, sizeof(row), "| %d | `%s` |", gen_docs_errtab[i].code,
			 gen_docs_errtab[i].name);
		if (!out.data || !memmem(out.data, out.len, row, strlen(row))) {
			ok(0, "every code has a row");
			diag("missing row %s", row);
			break;
		}
		if (i == GEN_DOCS_NERR - 1)
			ok(1, "every code has a row");
	}
	is_str(c3_errname(-C3FS_ECONFIG), "C3FS_ECONFIG", "generator and errors.c agree on names");
	if (!root) {
		c3_buf_release(&out);
		tap_skip_all("C3FS_ROOT not set (run through tests/run)");
	}
	snprintf(path, sizeof(path), "%s/docs/ERRORS.md", root);
	file = read_file(path, &flen);
	ok(file != NULL, "docs/ERRORS.md exists");
	ok(file && flen == out.len && memcmp(file, out.data, flen) == 0,
	   "docs/ERRORS.md is current");
	if (file && !(flen == out.len && memcmp(file, out.data, flen) == 0))
		diag("stale: regenerate with `make && build/bin/c3fs-gen-docs errors > docs/ERRORS.md`");
	free(file);
	c3_buf_reset(&out);
	gen_docs_errors_h(gen_docs_errtab, GEN_DOCS_NERR, &out);
	snprintf(path, sizeof(path), "%s/include/c3fs/errors.h", root);
	file = read_file(path, &flen);
	ok(file && flen == out.len && memcmp(file, out.data, flen) == 0,
	   "include/c3fs/errors.h is current");
	if (file && !(flen == out.len && memcmp(file, out.data, flen) == 0))
		diag("stale: regenerate with `make && build/bin/c3fs-gen-docs errors-h > "
		     "include/c3fs/errors.h`");
	free(file);
	c3_buf_release(&out);
	return tap_done();
}
