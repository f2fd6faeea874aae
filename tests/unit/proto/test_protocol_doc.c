/* docs/PROTOCOL.md's message tables are current: the committed file equals what
 * `c3fs-gen-docs protocol` makes of it from the message tables (src/proto/<service>.def; the
 * generator is compiled in here), the tables are consistent, and the generator refuses
 * bad ones.  Needs $C3FS_ROOT (set by tests/run). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C3_GEN_DOCS_NO_MAIN
#pragma GCC diagnostic ignored "-Wunused-function" /* the error tables' half is not used */
#include "tools/gen_docs.c"

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

static bool has(const struct c3_buf *b, const char *s)
{
	return b->data && memmem(b->data, b->len, s, strlen(s)) != NULL;
}

int main(void)
{
	static const struct gen_docs_msg dup[] = { { 301, "storage", "A", "a", NULL, NULL, "" },
						   { 301, "storage", "B", "b", NULL, NULL, "" } };
	static const struct gen_docs_msg dupname[] = { { 301, "storage", "A", "a", NULL, NULL, "" },
						       { 302, "storage", "B", "a", NULL, NULL, "" } };
	static const struct gen_docs_msg range[] = { { 200, "storage", "A", "a", NULL, NULL, "" } };
	struct c3_buf out = C3_BUF_INIT;
	const char *root = getenv("C3FS_ROOT");
	char path[4096], why[256] = "";
	size_t flen = 0;
	char *file;

	is_int(gen_docs_messages(dup, 2, &out, why, sizeof(why)), -EINVAL, "duplicate type refused");
	is_int(gen_docs_messages(dupname, 2, &out, why, sizeof(why)), -EINVAL,
	       "duplicate name refused");
	is_int(gen_docs_messages(range, 1, &out, why, sizeof(why)), -EINVAL,
	       "type outside its service's range refused");
	ok(strstr(why, "A: type 200 outside the range of storage") != NULL, "  saying which");
	is_int(out.len, 0, "nothing rendered for a bad table");
	is_int(gen_docs_protocol("no markers\n", 11, &out, why, sizeof(why)), -EINVAL,
	       "a document without the markers refused");
	is_int(gen_docs_messages(gen_docs_msgtab, GEN_DOCS_NMSG, &out, why, sizeof(why)), 0,
	       "the message tables are consistent");
	ok(has(&out, "| 300 | write | `STORAGE_T_WRITE` | `storage_write_req` | "
		     "`storage_batch_rsp` |"), "storage rows name their payloads");
	ok(has(&out, "| 101 | heartbeat | `MGMTD_T_HEARTBEAT` |"), "mgmtd rows");
	ok(has(&out, "| 225 | release | `META_T_RELEASE` |"), "meta rows");
	if (!root) {
		c3_buf_release(&out);
		tap_skip_all("C3FS_ROOT not set (run through tests/run)");
	}
	snprintf(path, sizeof(path), "%s/docs/PROTOCOL.md", root);
	file = read_file(path, &flen);
	ok(file != NULL, "docs/PROTOCOL.md exists");
	c3_buf_reset(&out);
	is_int(file ? gen_docs_protocol(file, flen, &out, why, sizeof(why)) : -ENOENT, 0,
	       "docs/PROTOCOL.md has the markers");
	ok(file && flen == out.len && memcmp(file, out.data, flen) == 0,
	   "docs/PROTOCOL.md's message tables are current");
	if (file && !(flen == out.len && memcmp(file, out.data, flen) == 0))
		diag("stale: regenerate with `make && build/bin/c3fs-gen-docs protocol "
		     "< docs/PROTOCOL.md > new && mv new docs/PROTOCOL.md`");
	free(file);
	c3_buf_release(&out);
	return tap_done();
}
