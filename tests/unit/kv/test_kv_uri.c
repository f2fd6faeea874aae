/* test_kv_uri.c — kv_uri_redact(): no password survives, everything else does.
 *
 * Table cases with exact expected output, then a check against libpq itself: for each
 * conninfo, PQconninfoParse of the redacted text gives the same options as the original
 * except that every password option reads "***". */
#include <libpq-fe.h>
#include <stdbool.h>
#include <string.h>

#include "kv/kv.h"
#include "tests/lib/tap.h"

static const struct {
	const char *in, *want;
} cases[] = {
	{ "lmdb:/var/lib/c3fs/kv", "lmdb:/var/lib/c3fs/kv" },
	{ "lmdb:/d?map_size=4G&map_max=1T", "lmdb:/d?map_size=4G&map_max=1T" },
	{ "mem:", "mem:" },
	{ "", "" },
	{ "pg:host=db dbname=c3fs", "pg:host=db dbname=c3fs" },
	{ "pg:host=db password=s3cret dbname=c3fs", "pg:host=db password=*** dbname=c3fs" },
	{ "pg:host=db password = s3cret", "pg:host=db password = ***" },
	{ "pg:password='a b\\' c' user=u", "pg:password=*** user=u" },
	{ "pg:password=a\\ b user=u", "pg:password=*** user=u" },
	{ "pg:PASSWORD=x", "pg:PASSWORD=***" },
	{ "pg:sslpassword=k password=p", "pg:sslpassword=*** password=***" },
	{ "pg:passfile=/etc/c3fs/pgpass host=db", "pg:passfile=/etc/c3fs/pgpass host=db" },
	{ "pg:pool=4;table=kv2;host=db password=pw", "pg:pool=4;table=kv2;host=db password=***" },
	{ "pg:password=a;b host=db", "pg:password=*** host=db" },
	{ "pg:host=db password='never closed", "pg:host=db password=***" },
	{ "pg:postgresql://u:pw@db:5432/c3fs", "pg:postgresql://u:***@db:5432/c3fs" },
	{ "pg:postgres://u@db/c3fs", "pg:postgres://u@db/c3fs" },
	{ "pg:postgresql://u:p@w@db/c3fs", "pg:postgresql://u:***@db/c3fs" },
	{ "pg:postgresql://u:p?x@db/c3fs?sslmode=disable",
	  "pg:postgresql://u:***@db/c3fs?sslmode=disable" },
	{ "pg:postgresql://db/c3fs?user=u&password=pw&sslmode=disable",
	  "pg:postgresql://db/c3fs?user=u&password=***&sslmode=disable" },
	{ "pg:pool=2;postgresql://u:pw@db/c3fs?password=pw2",
	  "pg:pool=2;postgresql://u:***@db/c3fs?password=***" },
	{ "pg:POSTGRESQL://u:pw@db", "pg:POSTGRESQL://u:***@db" },
};

/* Options of a conninfo as "key=value;" text, password values replaced by "***". */
static int conninfo_flat(const char *ci, bool hide, char *out, size_t n)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(ci, &err), *o;
	size_t len = 0;

	if (!opts) {
		PQfreemem(err);
		return -1;
	}
	out[0] = '\0';
	for (o = opts; o->keyword; o++) {
		const char *v = o->val;

		if (!v)
			continue;
		if (hide && strstr(o->keyword, "password"))
			v = "***";
		len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s=%s;", o->keyword, v);
	}
	PQconninfoFree(opts);
	return len < n ? 0 : -1;
}

static void check_against_libpq(const char *ci)
{
	char red[512], a[2048], b[2048];

	kv_uri_redact(ci, red, sizeof(red));
	ok(conninfo_flat(ci, true, a, sizeof(a)) == 0, "libpq parses the original");
	ok(conninfo_flat(red, false, b, sizeof(b)) == 0, "libpq parses the redacted text");
	is_str(b, a, "same options, password hidden");
}

int main(void)
{
	char buf[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kv_uri_redact(cases[i].in, buf, sizeof(buf));
		is_str(buf, cases[i].want, cases[i].in);
	}

	/* NULL input, tiny and zero-sized buffers */
	is_str(kv_uri_redact(NULL, buf, sizeof(buf)), "", "NULL uri gives an empty string");
	kv_uri_redact("pg:password=abcdef host=x", buf, 16);
	is_str(buf, "pg:password=***", "truncated output, still NUL-terminated, no secret");
	buf[0] = 'Z';
	kv_uri_redact("pg:password=abc", buf, 0);
	ok(buf[0] == 'Z', "n = 0 writes nothing");
	kv_uri_redact("pg:password=abc", buf, 1);
	is_str(buf, "", "n = 1 gives an empty string");

	/* the secret never appears, whatever the buffer size */
	{
		bool clean = true;

		for (size_t n = 1; n < 64; n++) {
			kv_uri_redact("pg:host=db password=TOPSECRET user=u", buf, n);
			if (strstr(buf, "TOP") || strlen(buf) >= n)
				clean = false;
		}
		ok(clean, "no prefix of the secret at any buffer size");
	}

	check_against_libpq("host=db port=5433 password=s3cret dbname=c3fs");
	check_against_libpq("host=db password='with space \\' and quote' user=c3fs");
	check_against_libpq("postgresql://c3fs:s3cret@db:5433/c3fs?sslmode=disable");
	check_against_libpq("postgresql://db/c3fs?user=c3fs&password=s3cret");
	return tap_done();
}
