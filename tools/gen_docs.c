/* gen_docs.c — c3fs-gen-docs: generated documentation.
 *
 *   c3fs-gen-docs errors > docs/ERRORS.md
 *   c3fs-gen-docs protocol < docs/PROTOCOL.md > new   (then move new over PROTOCOL.md)
 *
 * docs/ERRORS.md is one table built from src/common/errors.def (code, name, errno seen by
 * applications, retry class, message), sorted by code, and the retry classes of the plain
 * errnos that are not final.  The table is checked first: codes must lie in 1000..1999,
 * codes and names must be unique and each retry entry must name one class and known flags;
 * otherwise nothing is printed and the exit status is 1.  tests/unit/common/test_errors_doc.c includes this file (with
 * C3_GEN_DOCS_NO_MAIN) and fails when the committed docs/ERRORS.md differs from what
 * gen_docs_errors() produces.
 *
 * The message types of docs/PROTOCOL.md (the lines between the two "c3fs-gen-docs
 * messages" markers) come from the message tables src/proto/mgmtd.def, meta.def and
 * storage.def: one table per service, by type number.  Checked first: each number in its
 * service's range, numbers and names unique.  `protocol` copies the document from stdin to
 * stdout with the lines between the markers replaced; tests/unit/proto/test_protocol_doc.c
 * fails when the committed docs/PROTOCOL.md differs from that.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

struct gen_docs_err {
	int code;
	int eno;
	const char *name;
	const char *msg;
	const char *retry; /* the retry column as written ("AGAIN|PEER") */
};

static const struct gen_docs_err gen_docs_errtab[] = {
#define C3_ERR(name, code, eno, retry, msg) { code, eno, #name, msg, #retry },
#define C3_ERRNO(eno, retry)
#include "common/errors.def"
#undef C3_ERRNO
#undef C3_ERR
};
#define GEN_DOCS_NERR (sizeof(gen_docs_errtab) / sizeof(gen_docs_errtab[0]))

static const struct gen_docs_errno {
	int eno;
	const char *retry;
} gen_docs_errnotab[] = {
#define C3_ERR(name, code, eno, retry, msg)
#define C3_ERRNO(eno, retry) { eno, #retry },
#include "common/errors.def"
#undef C3_ERRNO
#undef C3_ERR
};
#define GEN_DOCS_NERRNO (sizeof(gen_docs_errnotab) / sizeof(gen_docs_errnotab[0]))

/* 0 when retry (the column as written) is one class word and known flags joined by '|'. */
static int gen_docs_retry_check(const char *retry)
{
	static const char *const classes[] = { "NO", "AGAIN", "ROUTE", "READ" };
	static const char *const flags[] = { "PEER", "ORIGIN" };
	int nclass = 0;

	if (!retry)
		return -EINVAL;
	for (const char *p = retry; *p;) {
		size_t len = strcspn(p, "| ");
		bool known = false;

		for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
			if (strlen(classes[i]) == len && strncmp(p, classes[i], len) == 0) {
				known = true;
				nclass++;
			}
		for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
			if (strlen(flags[i]) == len && strncmp(p, flags[i], len) == 0)
				known = true;
		if (!known)
			return -EINVAL;
		p += len;
		p += strspn(p, "| ");
	}
	return nclass == 1 ? 0 : -EINVAL;
}

/* The retry column as a table cell: "AGAIN|PEER" -> "AGAIN, PEER". */
static void gen_docs_retry_cell(struct c3_buf *out, const char *retry)
{
	for (const char *s = retry; *s; s++) {
		if (*s == '|')
			c3_buf_append(out, ", ", 2);
		else if (*s != ' ')
			c3_buf_append(out, s, 1);
	}
}

static int gen_docs_err_cmp(const void *a, const void *b)
{
	const struct gen_docs_err *x = a, *y = b;

	return (x->code > y->code) - (x->code < y->code);
}

/* Text of a Markdown table cell: '|' escaped. */
static void gen_docs_cell(struct c3_buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			c3_buf_append(out, "\\", 1);
		c3_buf_append(out, s, 1);
	}
}

/* Render docs/ERRORS.md for the n entries of tab into out.  Returns 0, -EINVAL with why
 * set when the table is inconsistent (code out of range, duplicate code or name), or
 * -ENOMEM. */
static int gen_docs_errors(const struct gen_docs_err *tab, size_t n, struct c3_buf *out,
			   char *why, size_t whylen)
{
	struct gen_docs_err *v;
	static const struct {
		int lo, hi;
		const char *what;
	} ranges[] = {
		{ 1000, 1099, "common, network" }, { 1100, 1199, "metadata store (KV)" },
		{ 1200, 1299, "storage" },         { 1300, 1399, "mgmtd" },
		{ 1400, 1499, "meta" },            { 1500, 1599, "client" },
		{ 1600, 1699, "USRBIO, FFRecord" },
	};

	int rc = 0;

	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	memcpy(v, tab, n * sizeof(*v));
	qsort(v, n, sizeof(v[0]), gen_docs_err_cmp);
	for (size_t i = 0; i < n; i++) {
		if (v[i].code < 1000 || v[i].code > 1999) {
			snprintf(why, whylen, "%s: code %d outside 1000..1999", v[i].name, v[i].code);
			rc = -EINVAL;
			goto out;
		}
		if (i > 0 && v[i].code == v[i - 1].code) {
			snprintf(why, whylen, "code %d used by %s and %s", v[i].code, v[i - 1].name,
				 v[i].name);
			rc = -EINVAL;
			goto out;
		}
		if (gen_docs_retry_check(v[i].retry) != 0) {
			snprintf(why, whylen, "%s: retry '%s' is not one of NO, AGAIN, ROUTE, READ "
				 "with flags PEER, ORIGIN", v[i].name, v[i].retry ? v[i].retry : "");
			rc = -EINVAL;
			goto out;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(v[i].name, v[j].name) == 0) {
				snprintf(why, whylen, "name %s used twice", v[i].name);
				rc = -EINVAL;
				goto out;
			}
		}
	}
	c3_buf_printf(out,
		      "# c3fs error codes\n\n"
		      "Generated from `src/common/errors.def` by `c3fs-gen-docs errors`; do not edit.\n\n"
		      "Functions return 0 (or a count) on success and `-code` on failure, where code is a\n"
		      "Linux errno (`ENOENT`, `ENOSPC`, ...) or one of the c3fs codes below.  The same\n"
		      "negative code travels on the wire.  Applications (FUSE, USRBIO) see the errno of\n"
		      "the third column; the fourth says who sends the request again (below).\n\n"
		      "| range | module |\n|---|---|\n");
	for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++)
		c3_buf_printf(out, "| %d–%d | %s |\n", ranges[r].lo, ranges[r].hi, ranges[r].what);
	c3_buf_printf(out, "\n| code | name | errno | retry | message |\n|---:|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		const char *en = strerrorname_np(v[i].eno);

		c3_buf_printf(out, "| %d | `%s` | `%s` | ", v[i].code, v[i].name, en ? en : "?");
		gen_docs_retry_cell(out, v[i].retry);
		c3_buf_printf(out, " | ");
		gen_docs_cell(out, v[i].msg);
		c3_buf_printf(out, " |\n");
	}
	c3_buf_printf(out, "\n"
		      "The retry column says whether a caller sends the same request again; every\n"
		      "retry loop asks `c3_err_retry()` (src/common/errors.c), which reads it:\n\n"
		      "| retry | meaning |\n|---|---|\n"
		      "| `NO` | final: the caller reports it |\n"
		      "| `AGAIN` | transient: the same request again after a back-off |\n"
		      "| `ROUTE` | transient: refresh routing first, then the same request again |\n"
		      "| `READ` | a read tries again on another replica; final for a write |\n"
		      "| `PEER` (flag) | the peer or the connection failed, not the request: a caller "
		      "with several peers (meta servers, mgmtd) tries the next one |\n"
		      "| `ORIGIN` (flag) | only the request's origin retries it: a chain member "
		      "forwarding an update passes it back |\n\n"
		      "Plain errnos are final (`NO`) except these:\n\n"
		      "| errno | retry |\n|---|---|\n");
	for (size_t i = 0; i < GEN_DOCS_NERRNO; i++) {
		const char *en = strerrorname_np(gen_docs_errnotab[i].eno);

		c3_buf_printf(out, "| `%s` | ", en ? en : "?");
		gen_docs_retry_cell(out, gen_docs_errnotab[i].retry);
		c3_buf_printf(out, " |\n");
	}
	if (out->err) {
		snprintf(why, whylen, "out of memory");
		rc = out->err;
	}
out:
	free(v);
	return rc;
}

/* Render include/c3fs/errors.h (the public enum of the c3fs codes, in errors.def order)
 * into out.  The table has been checked by gen_docs_errors. */
static void gen_docs_errors_h(const struct gen_docs_err *tab, size_t n, struct c3_buf *out)
{
	c3_buf_printf(out,
		      "/* c3fs/errors.h — the c3fs error codes, for applications of libc3fs,\n"
		      " * libc3fs-usrbio and libc3fs-ffrecord.\n"
		      " *\n"
		      " * Generated from src/common/errors.def by `c3fs-gen-docs errors-h`; do not edit.\n"
		      " * Calls return 0 (or a count) on success and -code on failure, where code is a\n"
		      " * Linux errno (ENOENT, ENOSPC, ...) or one of these.  c3fs_strerror() names any\n"
		      " * code; c3fs_errno() gives the errno to report to an application\n"
		      " * (docs/ERRORS.md lists both).  Codes are never reused.\n"
		      " */\n"
		      "#ifndef C3FS_ERRORS_H\n#define C3FS_ERRORS_H\n\n"
		      "enum c3fs_errcode {\n");
	for (size_t i = 0; i < n; i++) {
		c3_buf_printf(out, "\t%s = %d, /* ", tab[i].name, tab[i].code);
		for (const char *s = tab[i].msg; *s; s++) /* never close the comment early */
			c3_buf_append(out, (s[0] == '*' && s[1] == '/') ? "* " : s, 1);
		c3_buf_printf(out, " */\n");
	}
	c3_buf_printf(out, "};\n\n#endif\n");
}

/* ---------------------------------------------------------------- message types */

struct gen_docs_msg {
	int type;
	const char *service;  /* "mgmtd", "meta", "storage" */
	const char *constant; /* "MGMTD_T_REGISTER" */
	const char *name;     /* c3_msg_name() */
	const char *req, *rsp; /* payload rows of the table (storage), NULL when not listed */
	const char *what;
};

static const struct gen_docs_msg gen_docs_msgtab[] = {
#define MGMTD_TYPE(NAME, number, name, what)                                            \
	{ number, "mgmtd", "MGMTD_T_" #NAME, name, NULL, NULL, what },
#include "proto/mgmtd.def"
#define META_TYPE(NAME, number, name, what)                                             \
	{ number, "meta", "META_T_" #NAME, name, NULL, NULL, what },
#include "proto/meta.def"
#define STORAGE_TYPE(NAME, number, name, req, rsp, what)                                \
	{ number, "storage", "STORAGE_T_" #NAME, name, req, rsp, what },
#include "proto/storage.def"
};
#define GEN_DOCS_NMSG (sizeof(gen_docs_msgtab) / sizeof(gen_docs_msgtab[0]))

#define GEN_DOCS_MSG_BEGIN "<!-- begin: c3fs-gen-docs messages -->\n"
#define GEN_DOCS_MSG_END "<!-- end: c3fs-gen-docs messages -->\n"

static int gen_docs_msg_cmp(const void *a, const void *b)
{
	const struct gen_docs_msg *x = a, *y = b;

	return (x->type > y->type) - (x->type < y->type);
}

/* A payload cell: "write_req" -> `struct storage_write_req`, "-" -> empty. */
static void gen_docs_payload(struct c3_buf *out, const char *service, const char *p)
{
	if (strcmp(p, "-") == 0)
		c3_buf_printf(out, "empty");
	else
		c3_buf_printf(out, "`%s_%s`", service, p);
}

/* Render the message tables (markers included) for the n rows of tab into out.  Returns 0,
 * -EINVAL with why set when a number is outside its service's range or a number or a name
 * is used twice, or -ENOMEM. */
static int gen_docs_messages(const struct gen_docs_msg *tab, size_t n, struct c3_buf *out,
			     char *why, size_t whylen)
{
	static const struct {
		const char *service;
		int lo, hi;
	} services[] = { { "mgmtd", 100, 199 }, { "meta", 200, 299 }, { "storage", 300, 399 } };
	struct gen_docs_msg *v;
	int rc = 0;

	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	memcpy(v, tab, n * sizeof(*v));
	qsort(v, n, sizeof(v[0]), gen_docs_msg_cmp);
	for (size_t i = 0; i < n; i++) {
		bool in_range = false;

		for (size_t s = 0; s < sizeof(services) / sizeof(services[0]); s++)
			if (strcmp(v[i].service, services[s].service) == 0 &&
			    v[i].type >= services[s].lo && v[i].type <= services[s].hi)
				in_range = true;
		if (!in_range) {
			snprintf(why, whylen, "%s: type %d outside the range of %s", v[i].constant,
				 v[i].type, v[i].service);
			rc = -EINVAL;
			goto out;
		}
		for (size_t j = 0; j < i; j++) {
			if (v[j].type == v[i].type || strcmp(v[j].name, v[i].name) == 0) {
				snprintf(why, whylen, "%s and %s share a number or a name",
					 v[j].constant, v[i].constant);
				rc = -EINVAL;
				goto out;
			}
		}
	}
	c3_buf_printf(out, GEN_DOCS_MSG_BEGIN
		      "<!-- generated from src/proto/mgmtd.def, meta.def and storage.def by "
		      "`c3fs-gen-docs protocol`: edit those, not these lines -->\n");
	for (size_t s = 0; s < sizeof(services) / sizeof(services[0]); s++) {
		bool payloads = false;

		for (size_t i = 0; i < n; i++)
			if (strcmp(v[i].service, services[s].service) == 0 && v[i].req)
				payloads = true;
		c3_buf_printf(out, "\n### %s (`src/proto/%s.def`)\n\n", services[s].service,
			      services[s].service);
		c3_buf_printf(out, payloads ? "| type | name | constant | request | reply | what |\n"
					      "|---:|---|---|---|---|---|\n"
					    : "| type | name | constant | what |\n|---:|---|---|---|\n");
		for (size_t i = 0; i < n; i++) {
			if (strcmp(v[i].service, services[s].service) != 0)
				continue;
			c3_buf_printf(out, "| %d | %s | `%s` | ", v[i].type, v[i].name,
				      v[i].constant);
			if (payloads) {
				gen_docs_payload(out, v[i].service, v[i].req ? v[i].req : "-");
				c3_buf_printf(out, " | ");
				gen_docs_payload(out, v[i].service, v[i].rsp ? v[i].rsp : "-");
				c3_buf_printf(out, " | ");
			}
			gen_docs_cell(out, v[i].what);
			c3_buf_printf(out, " |\n");
		}
	}
	c3_buf_printf(out, "\n" GEN_DOCS_MSG_END);
	if (out->err) {
		snprintf(why, whylen, "out of memory");
		rc = out->err;
	}
out:
	free(v);
	return rc;
}

/* doc (len bytes) with the lines from its begin marker to its end marker replaced by the
 * message tables, into out.  Returns 0, -EINVAL with why set (a marker missing, or the
 * table inconsistent), or -ENOMEM.  (Unused where only the error tables are tested.) */
__attribute__((unused)) static int gen_docs_protocol(const char *doc, size_t len, struct c3_buf *out, char *why,
			     size_t whylen)
{
	const char *b = memmem(doc, len, GEN_DOCS_MSG_BEGIN, strlen(GEN_DOCS_MSG_BEGIN));
	const char *e = b ? memmem(b, len - (size_t)(b - doc), GEN_DOCS_MSG_END,
				   strlen(GEN_DOCS_MSG_END)) : NULL;
	int rc;

	if (!b || !e) {
		snprintf(why, whylen, "no line '%.*s' followed by a line '%.*s'",
			 (int)strlen(GEN_DOCS_MSG_BEGIN) - 1, GEN_DOCS_MSG_BEGIN,
			 (int)strlen(GEN_DOCS_MSG_END) - 1, GEN_DOCS_MSG_END);
		return -EINVAL;
	}
	e += strlen(GEN_DOCS_MSG_END);
	c3_buf_append(out, doc, (size_t)(b - doc));
	rc = gen_docs_messages(gen_docs_msgtab, GEN_DOCS_NMSG, out, why, whylen);
	if (rc)
		return rc;
	c3_buf_append(out, e, len - (size_t)(e - doc));
	if (out->err) {
		snprintf(why, whylen, "out of memory");
		return out->err;
	}
	return 0;
}

#ifndef C3_GEN_DOCS_NO_MAIN
static void gen_docs_usage(FILE *f)
{
	fprintf(f, "usage: c3fs-gen-docs errors    print docs/ERRORS.md (from errors.def)\n"
		   "       c3fs-gen-docs errors-h  print include/c3fs/errors.h\n"
		   "       c3fs-gen-docs protocol  copy docs/PROTOCOL.md from stdin to stdout with\n"
		   "                               its message tables made from src/proto/*.def\n");
}

int main(int argc, char **argv)
{
	struct c3_buf out = C3_BUF_INIT;
	char why[256];
	int rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		gen_docs_usage(stdout);
		return 0;
	}
	if (argc != 2 || (strcmp(argv[1], "errors") != 0 && strcmp(argv[1], "errors-h") != 0 &&
			  strcmp(argv[1], "protocol") != 0)) {
		gen_docs_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "protocol") == 0) {
		struct c3_buf in = C3_BUF_INIT;
		char tmp[4096];
		size_t n;

		while ((n = fread(tmp, 1, sizeof(tmp), stdin)) > 0)
			c3_buf_append(&in, tmp, n);
		rc = ferror(stdin) ? -EIO : in.err;
		if (rc == 0)
			rc = gen_docs_protocol(in.data ? (const char *)in.data : "", in.len, &out, why,
					       sizeof(why));
		else
			snprintf(why, sizeof(why), "cannot read stdin");
		c3_buf_release(&in);
		if (rc != 0) {
			fprintf(stderr, "c3fs-gen-docs: protocol: %s\n", why);
			c3_buf_release(&out);
			return 1;
		}
		goto write;
	}
	rc = gen_docs_errors(gen_docs_errtab, GEN_DOCS_NERR, &out, why, sizeof(why));
	if (rc != 0) {
		fprintf(stderr, "c3fs-gen-docs: errors.def: %s\n", why);
		c3_buf_release(&out);
		return 1;
	}
	if (strcmp(argv[1], "errors-h") == 0) {
		c3_buf_reset(&out);
		gen_docs_errors_h(gen_docs_errtab, GEN_DOCS_NERR, &out);
	}
write:
	if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
		fprintf(stderr, "c3fs-gen-docs: cannot write to stdout\n");
		c3_buf_release(&out);
		return 1;
	}
	c3_buf_release(&out);
	return 0;
}
#endif
