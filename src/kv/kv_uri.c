/* kv_uri.c — a KV URI made fit for a log line: every password replaced by "***".
 *
 * Secrets can sit in three places of a "pg:" URI (kv_pg.c), and the scan covers each:
 *   libpq key/value conninfo   host=db user=c3fs password='s e c' sslpassword=x
 *   URI userinfo               postgresql://c3fs:secret@db:5432/c3fs
 *   URI query parameters       postgresql://db/c3fs?user=c3fs&password=secret
 * A keyword counts as secret when it ends in "password" (password, sslpassword), in any
 * case.  The text outside secrets is copied unchanged, so lmdb: and mem: URIs pass
 * through as they are.  A quoted value with no closing quote hides the rest of the
 * string: when the input cannot be parsed, err on the side of hiding.
 */
#include "kv/kv.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define KV_URI_HIDDEN "***"

struct redact_out {
	char *p;
	size_t n, len; /* capacity (incl. NUL), bytes written */
};

static void out_put(struct redact_out *o, const char *s, size_t k)
{
	for (size_t i = 0; i < k && o->len + 1 < o->n; i++)
		o->p[o->len++] = s[i];
}

static bool is_secret_key(const char *k, size_t len)
{
	static const char suffix[] = "password";
	size_t sl = sizeof(suffix) - 1;

	return len >= sl && strncasecmp(k + len - sl, suffix, sl) == 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* postgresql:// or postgres:// at s?  Returns the length of the scheme incl. "://". */
static size_t uri_scheme_len(const char *s)
{
	if (strncasecmp(s, "postgresql://", 13) == 0)
		return 13;
	if (strncasecmp(s, "postgres://", 11) == 0)
		return 11;
	return 0;
}

/* A libpq URI: hide the password of the userinfo and every *password= parameter. */
static void redact_uri(struct redact_out *o, const char *s, size_t scheme)
{
	/* like libpq: the userinfo ends at the '@' before the first '/' */
	const char *auth = s + scheme, *end_auth = auth + strcspn(auth, "/");
	const char *at = NULL, *q;

	out_put(o, s, scheme);
	for (q = auth; q < end_auth; q++)
		if (*q == '@')
			at = q; /* the last '@' ends the userinfo (an unencoded '@' in a password) */
	if (at) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));

		if (colon) {
			out_put(o, auth, (size_t)(colon - auth) + 1);
			out_put(o, KV_URI_HIDDEN, strlen(KV_URI_HIDDEN));
		} else {
			out_put(o, auth, (size_t)(at - auth));
		}
		auth = at;
	}
	q = strchr(auth, '?');
	if (!q) {
		out_put(o, auth, strlen(auth));
		return;
	}
	out_put(o, auth, (size_t)(q - auth) + 1);
	for (q++; *q;) {
		size_t plen = strcspn(q, "&"), klen = strcspn(q, "=&");

		if (klen < plen && is_secret_key(q, klen)) {
			out_put(o, q, klen + 1);
			out_put(o, KV_URI_HIDDEN, strlen(KV_URI_HIDDEN));
		} else {
			out_put(o, q, plen);
		}
		q += plen;
		if (*q == '&')
			out_put(o, q++, 1);
	}
}

/* Key/value conninfo (libpq's grammar: keyword = value, values quoted with '...' and
 * backslash escapes).  Words without '=' (a path, "lmdb:/dir") are copied. */
static void redact_kv(struct redact_out *o, const char *s)
{
	while (*s) {
		const char *k = s, *v;
		size_t klen;
		bool secret;

		while (is_space(*s))
			s++;
		out_put(o, k, (size_t)(s - k));
		k = s;
		while (*s && *s != '=' && !is_space(*s))
			s++;
		klen = (size_t)(s - k);
		while (is_space(*s))
			s++;
		if (*s != '=') { /* not a keyword: copy the word and go on */
			out_put(o, k, (size_t)(s - k));
			continue;
		}
		s++;
		while (is_space(*s))
			s++;
		secret = is_secret_key(k, klen);
		out_put(o, k, (size_t)(s - k));
		v = s;
		if (*s == '\'') {
			for (s++; *s && *s != '\''; s++)
				if (*s == '\\' && s[1])
					s++;
			if (!*s) { /* unterminated: hide what is left */
				out_put(o, KV_URI_HIDDEN, strlen(KV_URI_HIDDEN));
				return;
			}
			s++;
		} else {
			for (; *s && !is_space(*s); s++)
				if (*s == '\\' && s[1])
					s++;
		}
		if (secret)
			out_put(o, KV_URI_HIDDEN, strlen(KV_URI_HIDDEN));
		else
			out_put(o, v, (size_t)(s - v));
	}
}

char *kv_uri_redact(const char *uri, char *out, size_t n)
{
	struct redact_out o = { out, n, 0 };
	const char *s = uri;
	size_t scheme;

	if (n == 0)
		return out;
	if (!s) {
		out[0] = '\0';
		return out;
	}
	/* kv_pg.c's own options before the conninfo: pg:[pool=N;][table=NAME;] */
	if (strncmp(s, "pg:", 3) == 0) {
		const char *p = s + 3;

		while (strncmp(p, "pool=", 5) == 0 || strncmp(p, "table=", 6) == 0) {
			const char *semi = strchr(p, ';');

			if (!semi)
				break;
			p = semi + 1;
		}
		out_put(&o, s, (size_t)(p - s));
		s = p;
	}
	scheme = uri_scheme_len(s);
	if (scheme)
		redact_uri(&o, s, scheme);
	else
		redact_kv(&o, s);
	out[o.len] = '\0';
	return out;
}
