/* config.c — table-driven configuration: defaults, INI files (libinih), --set overrides,
 * command-line handling and the generated docs/samples.  See config.h for the contract.
 *
 * Invariants:
 * - Every way of changing obj (defaults, a file, one --set) parses all of its values into
 *   a pending array first and stores them only when every value is valid: a failed call
 *   leaves obj exactly as it was (all or nothing per call, not only per key).
 * - STR fields always hold NULL or a malloc'd string owned by obj; a store frees the old
 *   string.  c3_cfg_release() frees them and leaves NULL, so it is idempotent.
 * - Within one file a key may appear once: libinih treats an indented line as the
 *   continuation of the previous value and hands it over as a second value for the same
 *   key, so a repeated key is reported (with both line numbers) instead of silently
 *   keeping the last one.
 * - Line numbers come from our own line reader (the Debian libinih is built without
 *   INI_HANDLER_LINENO); the reader also refuses lines longer than libinih's line buffer,
 *   which libinih would otherwise split into two lines.
 * - No global libinih setting is changed (they are process-wide).
 * - Syntax beyond config.h: SIZE suffixes in either case (4k = 4K); MS suffixes lower
 *   case only (m is minutes, so M would be ambiguous with a size); no fractions anywhere.
 * Design notes and diagrams: README-config-metrics.md in this folder.
 */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/vec.h"

/* Files larger than this are refused before reading (a config is a few KiB). */
#define CFG_FILE_MAX (1u << 20)

/* One parsed value waiting to be stored. */
union cfg_val {
	char *s;    /* STR: malloc'd, owned by the pending slot until stored */
	int64_t i;  /* INT */
	bool b;     /* BOOL */
	uint64_t u; /* SIZE, MS */
};

struct cfg_pending {
	bool set;
	int line;   /* line (file) that set it, for duplicate reports */
	union cfg_val v;
};

static void cfg_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cfg_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *cfg_type_name(enum c3_cfg_type type)
{
	switch (type) {
	case C3_CFG_STR: return "string";
	case C3_CFG_INT: return "int";
	case C3_CFG_BOOL: return "bool";
	case C3_CFG_SIZE: return "size";
	case C3_CFG_MS: return "duration";
	}
	return "?";
}

static void *cfg_field(const struct c3_cfg_key *k, void *obj)
{
	return (char *)obj + k->offset;
}

static int cfg_find(const struct c3_cfg_table *t, const char *section, const char *name)
{
	for (size_t i = 0; i < t->nkeys; i++)
		if (strcmp(t->keys[i].section, section) == 0 && strcmp(t->keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool cfg_has_section(const struct c3_cfg_table *t, const char *section)
{
	for (size_t i = 0; i < t->nkeys; i++)
		if (strcmp(t->keys[i].section, section) == 0)
			return true;
	return false;
}

/* Unsigned decimal prefix of s into *out; *end past the digits.  Returns 0, -EINVAL (no
 * digit) or -ERANGE (does not fit in 64 bits). */
static int cfg_parse_u64(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	*end = p;
	return 0;
}

static int cfg_parse_int(const char *s, int64_t *out, char *why, size_t whylen)
{
	const char *p = s, *end;
	bool neg = false;
	uint64_t mag;
	int rc;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	rc = cfg_parse_u64(p, &mag, &end);
	if (rc == 0 && *end != '\0')
		rc = -EINVAL;
	if (rc == -EINVAL) {
		cfg_err(why, whylen, "\"%s\" is not a decimal integer", s);
		return rc;
	}
	if (rc == -ERANGE || mag > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) {
		cfg_err(why, whylen, "\"%s\" does not fit in 64 bits", s);
		return -ERANGE;
	}
	*out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

static int cfg_parse_bool(const char *s, bool *out, char *why, size_t whylen)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	cfg_err(why, whylen, "\"%s\" is not a boolean (true/false/yes/no/on/off/1/0)", s);
	return -EINVAL;
}

/* A count followed by one unit suffix from units[] (NULL-terminated, with multipliers). */
struct cfg_unit {
	const char *suffix;
	uint64_t mult;
};

static const struct cfg_unit cfg_size_units[] = {
	{ "", 1 }, { "K", 1ull << 10 }, { "M", 1ull << 20 }, { "G", 1ull << 30 },
	{ "T", 1ull << 40 }, { NULL, 0 },
};
static const struct cfg_unit cfg_ms_units[] = {
	{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { NULL, 0 },
};

static int cfg_parse_scaled(const char *s, const struct cfg_unit *units, bool anycase,
			    const char *what, uint64_t *out, char *why, size_t whylen)
{
	const char *end;
	uint64_t n;
	int rc;

	rc = cfg_parse_u64(s, &n, &end);
	if (rc == -ERANGE) {
		cfg_err(why, whylen, "\"%s\" does not fit in 64 bits", s);
		return rc;
	}
	if (rc == 0) {
		for (const struct cfg_unit *u = units; u->suffix; u++) {
			if ((anycase ? strcasecmp(end, u->suffix) : strcmp(end, u->suffix)) != 0)
				continue;
			if (n > UINT64_MAX / u->mult) {
				cfg_err(why, whylen, "\"%s\" does not fit in 64 bits", s);
				return -ERANGE;
			}
			*out = n * u->mult;
			return 0;
		}
	}
	cfg_err(why, whylen, "\"%s\" is not a %s", s, what);
	return -EINVAL;
}

/* Shortest exact rendering with the largest suffix ("1G", "90s", "1500ms"). */
static void cfg_fmt_scaled(char *dst, size_t dstlen, uint64_t v, const struct cfg_unit *units)
{
	const struct cfg_unit *best = &units[0];

	for (const struct cfg_unit *u = units; u->suffix; u++)
		if (v != 0 && v % u->mult == 0 && u->mult >= best->mult)
			best = u;
	snprintf(dst, dstlen, "%llu%s", (unsigned long long)(v / best->mult), best->suffix);
}

static void cfg_fmt_bound(const struct c3_cfg_key *k, int64_t b, char *dst, size_t dstlen)
{
	if (k->type == C3_CFG_SIZE && b >= 0)
		cfg_fmt_scaled(dst, dstlen, (uint64_t)b, cfg_size_units);
	else if (k->type == C3_CFG_MS && b >= 0)
		cfg_fmt_scaled(dst, dstlen, (uint64_t)b, cfg_ms_units);
	else
		snprintf(dst, dstlen, "%lld", (long long)b);
}

static bool cfg_has_bounds(const struct c3_cfg_key *k)
{
	return (k->type == C3_CFG_INT || k->type == C3_CFG_SIZE || k->type == C3_CFG_MS) &&
	       k->min <= k->max;
}

static int cfg_range_err(const struct c3_cfg_key *k, const char *s, char *why, size_t whylen)
{
	char lo[32], hi[32];

	cfg_fmt_bound(k, k->min, lo, sizeof(lo));
	cfg_fmt_bound(k, k->max, hi, sizeof(hi));
	cfg_err(why, whylen, "%s is out of range [%s..%s]", s, lo, hi);
	return -ERANGE;
}

/* Parse text s as key k's type into *v (STR: malloc'd copy).  Returns 0 or a negative
 * code with why set. */
static int cfg_parse_value(const struct c3_cfg_key *k, const char *s, union cfg_val *v,
			   char *why, size_t whylen)
{
	int rc;

	switch (k->type) {
	case C3_CFG_STR:
		/* the one STR key with a fixed set of values every service shares */
		if (strcmp(k->section, "log") == 0 && strcmp(k->name, "level") == 0 &&
		    c3_log_level_parse(s) < 0) {
			cfg_err(why, whylen, "\"%s\" is not a log level (error, warn, info or "
				"debug)", s);
			return -EINVAL;
		}
		v->s = strdup(s);
		if (!v->s) {
			cfg_err(why, whylen, "out of memory");
			return -ENOMEM;
		}
		return 0;
	case C3_CFG_INT:
		rc = cfg_parse_int(s, &v->i, why, whylen);
		if (rc == 0 && cfg_has_bounds(k) && (v->i < k->min || v->i > k->max))
			rc = cfg_range_err(k, s, why, whylen);
		return rc;
	case C3_CFG_BOOL:
		return cfg_parse_bool(s, &v->b, why, whylen);
	case C3_CFG_SIZE:
	case C3_CFG_MS:
		if (k->type == C3_CFG_SIZE)
			rc = cfg_parse_scaled(s, cfg_size_units, true,
					      "size (digits with optional K/M/G/T suffix)", &v->u,
					      why, whylen);
		else
			rc = cfg_parse_scaled(s, cfg_ms_units, false,
					      "duration (digits with optional ms/s/m/h suffix)",
					      &v->u, why, whylen);
		if (rc == 0 && cfg_has_bounds(k) &&
		    ((k->min > 0 && v->u < (uint64_t)k->min) || k->max < 0 ||
		     v->u > (uint64_t)k->max))
			rc = cfg_range_err(k, s, why, whylen);
		return rc;
	}
	cfg_err(why, whylen, "unknown key type %d (table bug)", (int)k->type);
	return -EINVAL;
}

/* Store a pending value; takes ownership of a STR value and frees the old string. */
static void cfg_store(const struct c3_cfg_key *k, void *obj, union cfg_val *v)
{
	void *f = cfg_field(k, obj);

	switch (k->type) {
	case C3_CFG_STR:
		free(*(char **)f);
		*(char **)f = v->s;
		v->s = NULL;
		break;
	case C3_CFG_INT:
		*(int64_t *)f = v->i;
		break;
	case C3_CFG_BOOL:
		*(bool *)f = v->b;
		break;
	case C3_CFG_SIZE:
	case C3_CFG_MS:
		*(uint64_t *)f = v->u;
		break;
	}
}

static struct cfg_pending *cfg_pending_new(const struct c3_cfg_table *t)
{
	return calloc(t->nkeys ? t->nkeys : 1, sizeof(struct cfg_pending));
}

/* Free what was not stored (STR copies) and the array. */
static void cfg_pending_free(const struct c3_cfg_table *t, struct cfg_pending *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < t->nkeys; i++)
		if (p[i].set && t->keys[i].type == C3_CFG_STR)
			free(p[i].v.s);
	free(p);
}

static void cfg_pending_commit(const struct c3_cfg_table *t, struct cfg_pending *p, void *obj)
{
	for (size_t i = 0; i < t->nkeys; i++) {
		if (!p[i].set)
			continue;
		cfg_store(&t->keys[i], obj, &p[i].v);
		p[i].set = false;
	}
}

void c3_cfg_release(const struct c3_cfg_table *t, void *obj)
{
	for (size_t i = 0; i < t->nkeys; i++) {
		if (t->keys[i].type != C3_CFG_STR)
			continue;
		char **f = cfg_field(&t->keys[i], obj);

		free(*f);
		*f = NULL;
	}
}

int c3_cfg_defaults(const struct c3_cfg_table *t, void *obj, char *err, size_t errlen)
{
	struct cfg_pending *p;
	char why[C3_CFG_ERRLEN];
	int rc = 0;

	/* obj may be uninitialised: forget (do not free) whatever its STR fields hold */
	for (size_t i = 0; i < t->nkeys; i++)
		if (t->keys[i].type == C3_CFG_STR)
			*(char **)cfg_field(&t->keys[i], obj) = NULL;
	p = cfg_pending_new(t);
	if (!p) {
		cfg_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->nkeys; i++) {
		const struct c3_cfg_key *k = &t->keys[i];

		if (!k->section || !k->name || !k->section[0] || !k->name[0] ||
		    cfg_find(t, k->section, k->name) != (int)i) {
			cfg_err(err, errlen, "default: key #%zu: %s.%s: missing or duplicate name", i,
				k->section ? k->section : "(null)", k->name ? k->name : "(null)");
			rc = -C3FS_ECONFIG;
			goto out_pending;
		}
		if (!k->defval && k->type != C3_CFG_STR) {
			cfg_err(err, errlen, "default: %s.%s: no default value", k->section, k->name);
			rc = -C3FS_ECONFIG;
			goto out_pending;
		}
		rc = cfg_parse_value(k, k->defval ? k->defval : "", &p[i].v, why, sizeof(why));
		if (rc != 0) {
			cfg_err(err, errlen, "default: %s.%s: %s", k->section, k->name, why);
			if (rc != -ENOMEM)
				rc = -C3FS_ECONFIG;
			goto out_pending;
		}
		p[i].set = true;
	}
	cfg_pending_commit(t, p, obj);
out_pending:
	cfg_pending_free(t, p);
	return rc;
}

/* ---- INI parsing ---- */

struct cfg_ini {
	const struct c3_cfg_table *t;
	struct cfg_pending *pend;
	const char *fname;
	/* line reader over text[0..len) */
	const char *text;
	size_t len, pos;
	const char *line;    /* start of the line last handed to libinih */
	int lineno;          /* its number (1-based) */
	bool too_long;       /* a line did not fit libinih's buffer: parsing was cut short */
	/* first error found by the handler */
	int err_line;        /* 0 = none */
	int err_rc;
	char why[C3_CFG_ERRLEN];
};

/* fgets-like reader for libinih: one whole line per call, or NULL at the end (also when a
 * line is longer than the buffer; too_long is then set). */
static char *cfg_ini_read(char *str, int num, void *stream)
{
	struct cfg_ini *c = stream;
	const char *nl;
	size_t n;

	if (c->pos >= c->len || c->too_long || num < 2)
		return NULL;
	c->line = c->text + c->pos;
	c->lineno++;
	nl = memchr(c->line, '\n', c->len - c->pos);
	n = nl ? (size_t)(nl - c->line) + 1 : c->len - c->pos;
	if (n > (size_t)num - 1) {
		c->too_long = true;
		return NULL;
	}
	memcpy(str, c->line, n);
	str[n] = '\0';
	c->pos += n;
	return str;
}

static int cfg_ini_fail(struct cfg_ini *c, int rc, const char *section, const char *name,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int cfg_ini_fail(struct cfg_ini *c, int rc, const char *section, const char *name,
			const char *fmt, ...)
{
	char why[C3_CFG_ERRLEN - 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (section[0])
		snprintf(c->why, sizeof(c->why), "%s.%s: %s", section, name, why);
	else
		snprintf(c->why, sizeof(c->why), "%s: %s", name, why);
	c->err_line = c->lineno;
	c->err_rc = rc;
	return 0;
}

static int cfg_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_ini *c = user;
	char why[C3_CFG_ERRLEN - 64];
	union cfg_val v;
	int i, rc;

	if (c->err_line)
		return 1; /* only the first error is reported; nothing will be stored */
	if (!value)
		return cfg_ini_fail(c, -C3FS_ECONFIG, section, name, "missing value");
	if (!section[0])
		return cfg_ini_fail(c, -C3FS_ECONFIG, section, name, "key outside any [section]");
	i = cfg_find(c->t, section, name);
	if (i < 0) {
		if (!cfg_has_section(c->t, section))
			return cfg_ini_fail(c, -C3FS_ECONFIG, section, name, "unknown section [%s]",
					    section);
		return cfg_ini_fail(c, -C3FS_ECONFIG, section, name, "unknown key");
	}
	if (c->pend[i].set) {
		if (c->line && (*c->line == ' ' || *c->line == '\t'))
			return cfg_ini_fail(c, -C3FS_ECONFIG, section, name,
					    "indented line continues the value set at line %d "
					    "(multi-line values are not supported)",
					    c->pend[i].line);
		return cfg_ini_fail(c, -C3FS_ECONFIG, section, name,
				    "set twice (first at line %d)", c->pend[i].line);
	}
	rc = cfg_parse_value(&c->t->keys[i], value, &v, why, sizeof(why));
	if (rc != 0)
		return cfg_ini_fail(c, rc == -ENOMEM ? rc : -C3FS_ECONFIG, section, name, "%s", why);
	c->pend[i].set = true;
	c->pend[i].line = c->lineno;
	c->pend[i].v = v;
	return 1;
}

/* Parse text (len bytes, no NUL inside) named fname over obj: all or nothing. */
static int cfg_load_text(const struct c3_cfg_table *t, void *obj, const char *fname,
			 const char *text, size_t len, char *err, size_t errlen)
{
	struct cfg_ini c;
	int rc = 0, bad;

	memset(&c, 0, sizeof(c));
	c.t = t;
	c.fname = fname;
	c.text = text;
	c.len = len;
	c.pend = cfg_pending_new(t);
	if (!c.pend) {
		cfg_err(err, errlen, "%s: out of memory", fname);
		return -ENOMEM;
	}
	bad = ini_parse_stream(cfg_ini_read, &c, cfg_ini_handler, &c);
	if (bad == -2) {
		cfg_err(err, errlen, "%s: out of memory", fname);
		rc = -ENOMEM;
	} else if (bad > 0 && (!c.err_line || bad < c.err_line)) {
		cfg_err(err, errlen, "%s:%d: syntax error (expected \"key = value\" or \"[section]\")",
			fname, bad);
		rc = -C3FS_ECONFIG;
	} else if (c.err_line) {
		cfg_err(err, errlen, "%s:%d: %s", fname, c.err_line, c.why);
		rc = c.err_rc;
	} else if (bad != 0) {
		cfg_err(err, errlen, "%s: parser error %d", fname, bad);
		rc = -C3FS_ECONFIG;
	} else if (c.too_long) {
		cfg_err(err, errlen, "%s:%d: line too long (at most %d characters)", fname,
			c.lineno, ini_max_line - 2);
		rc = -C3FS_ECONFIG;
	}
	if (rc == 0)
		cfg_pending_commit(t, c.pend, obj);
	cfg_pending_free(t, c.pend);
	return rc;
}

int c3_cfg_load_string(const struct c3_cfg_table *t, void *obj, const char *name,
		       const char *text, char *err, size_t errlen)
{
	if (!text) {
		cfg_err(err, errlen, "%s: no text", name ? name : "(null)");
		return -EINVAL;
	}
	return cfg_load_text(t, obj, name ? name : "(string)", text, strlen(text), err, errlen);
}

int c3_cfg_load_file(const struct c3_cfg_table *t, void *obj, const char *path, char *err,
		     size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		cfg_err(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		cfg_err(err, errlen, "%s: %s", path, strerror(-rc));
		goto out_fd;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)CFG_FILE_MAX) {
		rc = !S_ISREG(st.st_mode) ? -EINVAL : -EFBIG;
		cfg_err(err, errlen, "%s: %s", path,
			rc == -EINVAL ? "not a regular file" : "larger than 1 MiB");
		goto out_fd;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		rc = -ENOMEM;
		cfg_err(err, errlen, "%s: out of memory", path);
		goto out_fd;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			cfg_err(err, errlen, "%s: %s", path, strerror(-rc));
			goto out_text;
		}
		if (n == 0)
			break; /* shrank while reading: parse what is there */
		got += (size_t)n;
	}
	text[got] = '\0';
	if (memchr(text, '\0', got)) {
		size_t off = (size_t)((char *)memchr(text, '\0', got) - text);
		int line = 1;

		for (size_t i = 0; i < off; i++)
			line += text[i] == '\n';
		cfg_err(err, errlen, "%s:%d: NUL byte in file", path, line);
		rc = -C3FS_ECONFIG;
		goto out_text;
	}
	rc = cfg_load_text(t, obj, path, text, got, err, errlen);
out_text:
	free(text);
out_fd:
	close(fd);
	return rc;
}

static void cfg_trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

int c3_cfg_set(const struct c3_cfg_table *t, void *obj, const char *assignment, char *err,
	       size_t errlen)
{
	char section[128], name[128], why[C3_CFG_ERRLEN - 64];
	const char *eq, *dot, *key, *val;
	size_t keylen, vallen;
	union cfg_val v;
	char *valcopy;
	int i, rc;

	eq = assignment ? strchr(assignment, '=') : NULL;
	if (!eq) {
		cfg_err(err, errlen, "--set %s: expected section.key=value",
			assignment ? assignment : "(null)");
		return -C3FS_ECONFIG;
	}
	key = assignment;
	keylen = (size_t)(eq - assignment);
	cfg_trim(&key, &keylen);
	dot = memrchr(key, '.', keylen);
	if (!dot || dot == key || dot == key + keylen - 1) {
		cfg_err(err, errlen, "--set %.*s: expected section.key=value", (int)keylen, key);
		return -C3FS_ECONFIG;
	}
	if ((size_t)(dot - key) >= sizeof(section) || (size_t)(key + keylen - dot - 1) >= sizeof(name)) {
		cfg_err(err, errlen, "--set: key name too long");
		return -C3FS_ECONFIG;
	}
	snprintf(section, sizeof(section), "%.*s", (int)(dot - key), key);
	snprintf(name, sizeof(name), "%.*s", (int)(key + keylen - dot - 1), dot + 1);
	i = cfg_find(t, section, name);
	if (i < 0) {
		cfg_err(err, errlen, "--set %s.%s: %s", section, name,
			cfg_has_section(t, section) ? "unknown key" : "unknown section");
		return -C3FS_ECONFIG;
	}
	val = eq + 1;
	vallen = strlen(val);
	cfg_trim(&val, &vallen);
	valcopy = strndup(val, vallen);
	if (!valcopy) {
		cfg_err(err, errlen, "--set %s.%s: out of memory", section, name);
		return -ENOMEM;
	}
	rc = cfg_parse_value(&t->keys[i], valcopy, &v, why, sizeof(why));
	free(valcopy);
	if (rc != 0) {
		cfg_err(err, errlen, "--set %s.%s: %s", section, name, why);
		return rc == -ENOMEM ? rc : -C3FS_ECONFIG;
	}
	cfg_store(&t->keys[i], obj, &v);
	return 0;
}

/* ---- rendering ---- */

static void cfg_fmt_range(const struct c3_cfg_key *k, char *dst, size_t dstlen)
{
	char lo[32], hi[32];

	if (!cfg_has_bounds(k)) {
		snprintf(dst, dstlen, "%s", "");
		return;
	}
	cfg_fmt_bound(k, k->min, lo, sizeof(lo));
	cfg_fmt_bound(k, k->max, hi, sizeof(hi));
	snprintf(dst, dstlen, "%s..%s", lo, hi);
}

/* Markdown table cell: '|' escaped, newlines flattened. */
static void cfg_md_cell(struct c3_buf *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			c3_buf_append(out, "\\|", 2);
		else if (*s == '\n' || *s == '\r')
			c3_buf_append(out, " ", 1);
		else
			c3_buf_append(out, s, 1);
	}
}

void c3_cfg_render_markdown(const struct c3_cfg_table *t, struct c3_buf *out)
{
	char range[80];

	c3_buf_printf(out, "## %s\n\n", t->service);
	c3_buf_printf(out, "Generated by `c3fs-%s --print-config-doc=markdown`; "
			   "override any key with `--set section.key=value`.\n\n", t->service);
	c3_buf_printf(out, "| key | type | default | range | unit | change | description |\n");
	c3_buf_printf(out, "|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < t->nkeys; i++) {
		const struct c3_cfg_key *k = &t->keys[i];

		cfg_fmt_range(k, range, sizeof(range));
		c3_buf_printf(out, "| `%s.%s` | %s | ", k->section, k->name, cfg_type_name(k->type));
		if (k->defval && k->defval[0]) {
			c3_buf_append(out, "`", 1);
			cfg_md_cell(out, k->defval);
			c3_buf_append(out, "`", 1);
		} else {
			c3_buf_printf(out, "(empty)");
		}
		c3_buf_printf(out, " | %s | ", range);
		cfg_md_cell(out, k->unit);
		c3_buf_printf(out, " | %s | ", k->reloadable ? "reloadable" : "restart");
		cfg_md_cell(out, k->desc);
		c3_buf_printf(out, " |\n");
	}
	c3_buf_printf(out, "\n");
}

/* s as comment lines starting with "# ", wrapped at spaces to at most CFG_SAMPLE_WIDTH
 * columns (a sample is read back by the INI parser, whose lines are limited) and broken
 * at every newline of s. */
#define CFG_SAMPLE_WIDTH 90
static void cfg_sample_comment(struct c3_buf *out, const char *s)
{
	while (s && *s) {
		size_t n = strcspn(s, "\n"), cut = n;

		if (n > CFG_SAMPLE_WIDTH - 2) {
			/* the last space that keeps the line within the width, else the first */
			cut = CFG_SAMPLE_WIDTH - 2;
			while (cut > 0 && s[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = strcspn(s, " \n");
		}
		c3_buf_printf(out, "# %.*s\n", (int)cut, s);
		s += cut;
		while (*s == ' ' || (cut == n && *s == '\n'))
			s++;
	}
}

void c3_cfg_render_sample(const struct c3_cfg_table *t, struct c3_buf *out)
{
	char range[80];

	c3_buf_printf(out, "# etc/%s.ini.sample: every key with its default value.\n", t->service);
	c3_buf_printf(out, "# Generated by `c3fs-%s --print-config-doc=sample`.\n", t->service);
	/* sections in order of first appearance, each key once under its section */
	for (size_t i = 0; i < t->nkeys; i++) {
		const char *sec = t->keys[i].section;
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(t->keys[j].section, sec) == 0;
		if (seen)
			continue;
		c3_buf_printf(out, "\n[%s]\n", sec);
		for (size_t j = i; j < t->nkeys; j++) {
			const struct c3_cfg_key *k = &t->keys[j];

			if (strcmp(k->section, sec) != 0)
				continue;
			cfg_fmt_range(k, range, sizeof(range));
			cfg_sample_comment(out, k->desc);
			c3_buf_printf(out, "# %s%s%s%s%s, %s\n", cfg_type_name(k->type),
				      k->unit && k->unit[0] ? ", " : "", k->unit ? k->unit : "",
				      range[0] ? ", range " : "", range,
				      k->reloadable ? "reloadable" : "restart to change");
			c3_buf_printf(out, "%s = %s\n", k->name, k->defval ? k->defval : "");
		}
	}
}

/* ---- command line ---- */

static void cfg_usage(const struct c3_cfg_table *t, const char *prog, struct c3_buf *out)
{
	char range[80];

	c3_buf_printf(out,
		      "usage: %s [--config FILE] [--set section.key=value]... [--help]\n"
		      "  -c, --config FILE              read an INI file (before any --set)\n"
		      "      --set section.key=value    override one key (repeatable, in order)\n"
		      "      --print-config-doc=markdown|sample\n"
		      "                                 print the key table as docs or a sample\n"
		      "  -h, --help                     this help\n"
		      "\nconfiguration keys of %s:\n",
		      prog, t->service);
	for (size_t i = 0; i < t->nkeys; i++) {
		const struct c3_cfg_key *k = &t->keys[i];

		cfg_fmt_range(k, range, sizeof(range));
		c3_buf_printf(out, "  %s.%s (%s%s%s%s%s%s) default \"%s\"\n      %s\n", k->section,
			      k->name, cfg_type_name(k->type), k->unit && k->unit[0] ? ", " : "",
			      k->unit ? k->unit : "", range[0] ? ", " : "", range,
			      k->reloadable ? ", reloadable" : "", k->defval ? k->defval : "",
			      k->desc ? k->desc : "");
	}
}

/* Write the whole buffer to stdout.  Returns 1 (the "printed, stop" result) or -errno. */
static int cfg_print(struct c3_buf *b, char *err, size_t errlen)
{
	if (b->err) {
		cfg_err(err, errlen, "out of memory");
		return b->err;
	}
	if (b->len && fwrite(b->data, 1, b->len, stdout) != b->len) {
		cfg_err(err, errlen, "cannot write to stdout");
		return -EIO;
	}
	fflush(stdout);
	return 1;
}

/* Value of an option given as "--opt=V" or "--opt V" (advancing *i), or NULL when arg is
 * not this option.  *missing is set when the option has no value. */
static const char *cfg_opt(int argc, char **argv, int *i, const char *lng, const char *shrt,
			   bool *missing)
{
	const char *a = argv[*i];
	size_t n = strlen(lng);

	if (strcmp(a, lng) == 0 || (shrt && strcmp(a, shrt) == 0)) {
		if (*i + 1 >= argc) {
			*missing = true;
			return a;
		}
		return argv[++*i];
	}
	if (strncmp(a, lng, n) == 0 && a[n] == '=')
		return a + n + 1;
	return NULL;
}

int c3_cfg_from_args(const struct c3_cfg_table *t, void *obj, int argc, char **argv,
		     int *argi, char *err, size_t errlen)
{
	const char *config = NULL, *doc = NULL, *v;
	const char *prog = argc > 0 && argv[0] ? argv[0] : t->service;
	struct c3_buf out = C3_BUF_INIT;
	bool help = false, missing = false;
	const char **sets = NULL;
	int nsets = 0, i, rc;

	rc = c3_cfg_defaults(t, obj, err, errlen);
	if (rc != 0)
		return rc;
	sets = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*sets));
	if (!sets) {
		cfg_err(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			help = true;
		} else if ((v = cfg_opt(argc, argv, &i, "--config", "-c", &missing))) {
			if (missing)
				break;
			if (config) {
				cfg_err(err, errlen, "--config given twice");
				rc = -EINVAL;
				goto fail;
			}
			config = v;
		} else if ((v = cfg_opt(argc, argv, &i, "--set", NULL, &missing))) {
			if (missing)
				break;
			sets[nsets++] = v;
		} else if ((v = cfg_opt(argc, argv, &i, "--print-config-doc", NULL, &missing))) {
			if (missing)
				break;
			if (strcmp(v, "markdown") != 0 && strcmp(v, "sample") != 0) {
				cfg_err(err, errlen, "--print-config-doc: expected markdown or sample, not \"%s\"", v);
				rc = -EINVAL;
				goto fail;
			}
			doc = v;
		} else {
			break;
		}
	}
	if (missing) {
		cfg_err(err, errlen, "%s needs a value", argv[i]);
		rc = -EINVAL;
		goto fail;
	}
	if (!argi && i < argc) {
		cfg_err(err, errlen, "unexpected argument \"%s\"", argv[i]);
		rc = -EINVAL;
		goto fail;
	}
	if (argi)
		*argi = i;
	if (help || doc) {
		if (help)
			cfg_usage(t, prog, &out);
		else if (strcmp(doc, "markdown") == 0)
			c3_cfg_render_markdown(t, &out);
		else
			c3_cfg_render_sample(t, &out);
		rc = cfg_print(&out, err, errlen);
		goto fail; /* not a failure, but obj is released the same way */
	}
	if (config) {
		rc = c3_cfg_load_file(t, obj, config, err, errlen);
		if (rc != 0)
			goto fail;
	}
	for (int s = 0; s < nsets; s++) {
		rc = c3_cfg_set(t, obj, sets[s], err, errlen);
		if (rc != 0)
			goto fail;
	}
	free((void *)sets);
	return 0;
fail:
	c3_buf_release(&out);
	free((void *)sets);
	c3_cfg_release(t, obj);
	return rc;
}

/* ---- live configuration ---- */

/* Index of "section.key" (n bytes at key, split at the last dot), or -1. */
static int cfg_find_dotted(const struct c3_cfg_table *t, const char *key, size_t n)
{
	const char *dot = memrchr(key, '.', n);

	if (!dot || dot == key || dot == key + n - 1)
		return -1;
	for (size_t i = 0; i < t->nkeys; i++) {
		const struct c3_cfg_key *k = &t->keys[i];
		size_t sl = strlen(k->section);

		if (sl == (size_t)(dot - key) && memcmp(k->section, key, sl) == 0 &&
		    strlen(k->name) == n - sl - 1 && memcmp(k->name, dot + 1, n - sl - 1) == 0)
			return (int)i;
	}
	return -1;
}

int c3_cfg_apply_lines(const struct c3_cfg_table *t, void *obj, const char *text,
		       bool reloadable_only, char *err, size_t errlen)
{
	char why[C3_CFG_ERRLEN - 64];
	struct cfg_pending *p;
	const char *line = text ? text : "";
	int count = 0, rc = 0;

	p = cfg_pending_new(t);
	if (!p) {
		cfg_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (*line) {
		size_t len = strcspn(line, "\n"), keylen, vallen;
		const char *next = line[len] ? line + len + 1 : line + len;
		const char *eq = memchr(line, '=', len), *key = line, *val;
		char *valcopy;
		int i;

		keylen = eq ? (size_t)(eq - line) : len;
		cfg_trim(&key, &keylen);
		if (!eq) {
			if (keylen) {
				cfg_err(err, errlen, "%.*s: expected section.key=value",
					(int)(keylen > 100 ? 100 : keylen), key);
				rc = -C3FS_ECONFIG;
				break;
			}
			line = next;
			continue;
		}
		i = cfg_find_dotted(t, key, keylen);
		if (i < 0) {
			cfg_err(err, errlen, "%.*s: unknown key", (int)(keylen > 100 ? 100 : keylen),
				key);
			rc = -C3FS_ECONFIG;
			break;
		}
		if (reloadable_only && !t->keys[i].reloadable) {
			cfg_err(err, errlen, "%s.%s: not reloadable (set it in the daemon's config "
				"file and restart it)", t->keys[i].section, t->keys[i].name);
			rc = -C3FS_ECONFIG;
			break;
		}
		if (p[i].set) {
			cfg_err(err, errlen, "%s.%s: set twice", t->keys[i].section,
				t->keys[i].name);
			rc = -C3FS_ECONFIG;
			break;
		}
		val = eq + 1;
		vallen = (size_t)(line + len - val);
		cfg_trim(&val, &vallen);
		valcopy = strndup(val, vallen);
		if (!valcopy) {
			rc = -ENOMEM;
			cfg_err(err, errlen, "out of memory");
			break;
		}
		rc = cfg_parse_value(&t->keys[i], valcopy, &p[i].v, why, sizeof(why));
		free(valcopy);
		if (rc != 0) {
			cfg_err(err, errlen, "%s.%s: %s", t->keys[i].section, t->keys[i].name, why);
			rc = rc == -ENOMEM ? rc : -C3FS_ECONFIG;
			break;
		}
		p[i].set = true;
		count++;
		line = next;
	}
	if (rc == 0)
		cfg_pending_commit(t, p, obj);
	cfg_pending_free(t, p);
	return rc ? rc : count;
}

int c3_cfg_copy(const struct c3_cfg_table *t, void *dst, const void *src)
{
	for (size_t i = 0; i < t->nkeys; i++) {
		const struct c3_cfg_key *k = &t->keys[i];
		const void *from = (const char *)src + k->offset;
		void *to = cfg_field(k, dst);

		switch (k->type) {
		case C3_CFG_STR:
			*(char **)to = *(char *const *)from ? strdup(*(char *const *)from) : NULL;
			if (*(char *const *)from && !*(char **)to) {
				for (size_t j = 0; j < i; j++)
					if (t->keys[j].type == C3_CFG_STR) {
						free(*(char **)cfg_field(&t->keys[j], dst));
						*(char **)cfg_field(&t->keys[j], dst) = NULL;
					}
				return -ENOMEM;
			}
			break;
		case C3_CFG_INT:
			memcpy(to, from, sizeof(int64_t));
			break;
		case C3_CFG_BOOL:
			memcpy(to, from, sizeof(bool));
			break;
		case C3_CFG_SIZE:
		case C3_CFG_MS:
			memcpy(to, from, sizeof(uint64_t));
			break;
		}
	}
	return 0;
}

int c3_cfg_get(const struct c3_cfg_table *t, const void *obj, const char *key, char *out,
	       size_t outlen)
{
	int i = cfg_find_dotted(t, key, strlen(key));
	const void *f;

	if (i < 0)
		return -ENOENT;
	f = (const char *)obj + t->keys[i].offset;
	switch (t->keys[i].type) {
	case C3_CFG_STR:
		snprintf(out, outlen, "%s", *(char *const *)f ? *(char *const *)f : "");
		break;
	case C3_CFG_INT:
		snprintf(out, outlen, "%lld", (long long)*(const int64_t *)f);
		break;
	case C3_CFG_BOOL:
		snprintf(out, outlen, "%s", *(const bool *)f ? "true" : "false");
		break;
	case C3_CFG_SIZE:
		cfg_fmt_scaled(out, outlen, *(const uint64_t *)f, cfg_size_units);
		break;
	case C3_CFG_MS:
		cfg_fmt_scaled(out, outlen, *(const uint64_t *)f, cfg_ms_units);
		if (*(const uint64_t *)f == 0)
			snprintf(out, outlen, "0");
		break;
	}
	return 0;
}

static const char *const cfg_schema_types[] = { "str", "int", "bool", "size", "ms" };

void c3_cfg_render_schema(const struct c3_cfg_table *t, struct c3_buf *out)
{
	for (size_t i = 0; i < t->nkeys; i++) {
		const struct c3_cfg_key *k = &t->keys[i];

		c3_buf_printf(out, "%s.%s %s %lld %lld %d\n", k->section, k->name,
			      cfg_schema_types[k->type], (long long)k->min, (long long)k->max,
			      k->reloadable ? 1 : 0);
	}
}

/* One table allocation: the table, its keys, then the names (section and name strings). */
void c3_cfg_schema_free(struct c3_cfg_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nkeys; i++) {
		free((void *)t->keys[i].section);
		free((void *)t->keys[i].name);
	}
	free((void *)t->keys);
	free(t);
}

/* Every field of a schema object is 8 bytes: int64, uint64, char * or (first byte) bool. */
#define CFG_SCHEMA_SLOT 8

int c3_cfg_schema_parse(const char *text, struct c3_cfg_table **out, size_t *objsize,
			char *err, size_t errlen)
{
	struct c3_cfg_table *t = calloc(1, sizeof(*t));
	struct c3_cfg_key *keys = NULL;
	const char *line = text ? text : "";
	size_t cap = 0, lineno = 0;
	int rc = 0;

	*out = NULL;
	if (!t)
		goto nomem;
	t->service = "schema";
	while (*line) {
		char key[200], type[8], *dot;
		long long lo, hi;
		int reload, n = 0, ty = -1;
		size_t len = strcspn(line, "\n");

		lineno++;
		if (len == 0 || len >= 250 ||
		    sscanf(line, "%199s %7s %lld %lld %d%n", key, type, &lo, &hi, &reload, &n) != 5 ||
		    (size_t)n != len || (reload != 0 && reload != 1)) {
			cfg_err(err, errlen, "schema line %zu: malformed", lineno);
			rc = -C3FS_ECONFIG;
			goto fail;
		}
		for (int j = 0; j < 5; j++)
			if (strcmp(type, cfg_schema_types[j]) == 0)
				ty = j;
		dot = strrchr(key, '.');
		if (ty < 0 || !dot || dot == key || !dot[1] ||
		    cfg_find_dotted(t, key, strlen(key)) >= 0) {
			cfg_err(err, errlen, "schema line %zu: bad type, name or a repeated key",
				lineno);
			rc = -C3FS_ECONFIG;
			goto fail;
		}
		if (t->nkeys == 4096) {
			cfg_err(err, errlen, "schema: more than 4096 keys");
			rc = -C3FS_ECONFIG;
			goto fail;
		}
		if (C3_ARRAY_RESERVE(keys, cap, t->nkeys + 1) < 0)
			goto nomem;
		t->keys = keys;
		memset(&keys[t->nkeys], 0, sizeof(keys[0]));
		keys[t->nkeys].section = strndup(key, (size_t)(dot - key));
		keys[t->nkeys].name = strdup(dot + 1);
		t->nkeys++;
		if (!keys[t->nkeys - 1].section || !keys[t->nkeys - 1].name)
			goto nomem;
		keys[t->nkeys - 1].type = (enum c3_cfg_type)ty;
		keys[t->nkeys - 1].offset = (t->nkeys - 1) * CFG_SCHEMA_SLOT;
		keys[t->nkeys - 1].min = lo;
		keys[t->nkeys - 1].max = hi;
		keys[t->nkeys - 1].unit = "";
		keys[t->nkeys - 1].desc = "";
		keys[t->nkeys - 1].defval = "";
		keys[t->nkeys - 1].reloadable = reload == 1;
		line += len + (line[len] ? 1 : 0);
	}
	t->keys = keys;
	*objsize = (t->nkeys ? t->nkeys : 1) * CFG_SCHEMA_SLOT;
	*out = t;
	return 0;
nomem:
	cfg_err(err, errlen, "out of memory");
	rc = -ENOMEM;
fail:
	if (t) {
		t->keys = keys;
		c3_cfg_schema_free(t);
	}
	return rc;
}
