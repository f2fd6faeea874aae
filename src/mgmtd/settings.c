/* settings.c — live configuration records of mgmtd (contract and layout: settings.h).
 *
 * Settings are small texts ("section.key=value" lines, at most MGMTD_CONFIG_MAX bytes),
 * kept normalised: one line per key, blanks around key and value trimmed, sorted by key.
 */
#include "mgmtd/settings.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/errors.h"
#include "kv/kv.h"
#include "mgmtd/lease.h"
#include "mgmtd/store.h"
#include "net/codec.h"
#include "proto/mgmtd.h"

#define K_CFG_VERSION "mgmtd/cfg/version"
#define P_CFG_TYPE "mgmtd/cfg/type/"
#define P_CFG_NODE "mgmtd/cfg/node/"
#define P_CFG_SCHEMA "mgmtd/cfg/schema/"

/* A stored text record into a malloc'd string ("" when absent). */
static int get_text(struct kv_txn *txn, const uint8_t *key, size_t klen, char **out)
{
	const uint8_t *val, *p;
	size_t vlen, n;
	struct c3_dec d;
	int rc = kv_get(txn, key, klen, &val, &vlen);

	*out = NULL;
	if (rc == -ENOENT) {
		*out = strdup("");
		return *out ? 0 : -ENOMEM;
	}
	if (rc)
		return rc;
	c3_dec_init(&d, val, vlen);
	p = c3_dec_bytes(&d, MGMTD_CONFIG_MAX, &n);
	if (d.err || memchr(p ? p : (const uint8_t *)"", '\0', n))
		return -C3FS_EBADMSG;
	*out = strndup(p ? (const char *)p : "", n);
	return *out ? 0 : -ENOMEM;
}

static int put_text(struct kv_txn *txn, const uint8_t *key, size_t klen, const char *text)
{
	struct c3_buf b = C3_BUF_INIT;
	int rc;

	if (!text[0])
		return kv_clear(txn, key, klen);
	c3_enc_str(&b, text);
	rc = b.err ? b.err : kv_set(txn, key, klen, b.data, b.len);
	c3_buf_release(&b);
	return rc;
}

/* ------------------------------------------------------------------ line sets */

struct lines {
	char **v;  /* "key=value", malloc'd */
	size_t n, cap;
};

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static size_t key_len(const char *line)
{
	return strcspn(line, "=");
}

/* Set (value != NULL) or remove key in l. */
static int lines_put(struct lines *l, const char *key, size_t klen, const char *val,
		     size_t vlen)
{
	char *s = NULL;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (key_len(l->v[i]) == klen && memcmp(l->v[i], key, klen) == 0)
			break;
	if (val && asprintf(&s, "%.*s=%.*s", (int)klen, key, (int)vlen, val) < 0)
		return -ENOMEM;
	if (i < l->n) {
		free(l->v[i]);
		if (s) {
			l->v[i] = s;
		} else {
			l->v[i] = l->v[--l->n];
		}
		return 0;
	}
	if (!s)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv) {
			free(s);
			return -ENOMEM;
		}
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = s;
	return 0;
}

static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* Split the line starting at line: o->line/o->len is the line without its newline; when
 * it has a '=', o->key/o->val are its key and value with surrounding blanks trimmed
 * (false: no '=').  *next = the start of the next line. */
struct kv_line {
	const char *line, *key, *val;
	size_t len, klen, vlen;
};

static bool kv_line_split(const char *line, struct kv_line *o, const char **next)
{
	const char *eq;

	o->line = o->key = line;
	o->len = strcspn(line, "\n");
	o->klen = o->vlen = 0;
	o->val = NULL;
	*next = line + o->len + (line[o->len] ? 1 : 0);
	eq = memchr(line, '=', o->len);
	if (!eq)
		return false;
	o->klen = (size_t)(eq - line);
	trim(&o->key, &o->klen);
	o->val = eq + 1;
	o->vlen = (size_t)(line + o->len - o->val);
	trim(&o->val, &o->vlen);
	return true;
}

/* Merge "key=value" lines of text into l; an empty value removes the key when
 * empty_removes.  Lines without '=' are skipped (callers validate before). */
static int lines_merge(struct lines *l, const char *text, bool empty_removes)
{
	const char *line = text;
	struct kv_line kl;
	int rc = 0;

	while (*line && rc == 0)
		if (kv_line_split(line, &kl, &line))
			rc = lines_put(l, kl.key, kl.klen,
				       kl.vlen || !empty_removes ? kl.val : NULL, kl.vlen);
	return rc;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted lines joined with '\n' (each line terminated) into a malloc'd string. */
static char *lines_render(struct lines *l)
{
	struct c3_buf b = C3_BUF_INIT;
	char *s;

	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_line);
	for (size_t i = 0; i < l->n; i++)
		c3_buf_printf(&b, "%s\n", l->v[i]);
	if (b.err) {
		c3_buf_release(&b);
		return NULL;
	}
	s = strndup(b.data ? (const char *)b.data : "", b.len);
	c3_buf_release(&b);
	return s;
}

/* ------------------------------------------------------------------ operations */

struct get_arg {
	uint8_t type;
	uint32_t node_id;
	uint64_t version;
	char *settings, *schema;
};

static int get_fn(struct kv_txn *txn, void *arg)
{
	struct get_arg *a = arg;
	struct lines l = { 0 };
	char *ttext = NULL, *ntext = NULL;
	uint8_t key[64];
	int rc;

	free(a->settings);
	free(a->schema);
	a->settings = a->schema = NULL;
	rc = mgmtd_store_version_get(txn, K_CFG_VERSION, &a->version);
	if (rc == 0)
		rc = get_text(txn, key, mgmtd_store_key(key, P_CFG_SCHEMA, a->type), &a->schema);
	if (rc == 0)
		rc = get_text(txn, key, mgmtd_store_key(key, P_CFG_TYPE, a->type), &ttext);
	if (rc == 0 && a->node_id)
		rc = get_text(txn, key, mgmtd_store_key(key, P_CFG_NODE, a->node_id), &ntext);
	if (rc == 0)
		rc = lines_merge(&l, ttext, false);
	if (rc == 0 && ntext)
		rc = lines_merge(&l, ntext, false);
	if (rc == 0) {
		a->settings = lines_render(&l);
		rc = a->settings ? 0 : -ENOMEM;
	}
	lines_free(&l);
	free(ttext);
	free(ntext);
	return rc;
}

int mgmtd_settings_version(struct kv_db *db, uint64_t *version)
{
	struct get_arg a = { 0 };
	int rc;

	a.type = 0;
	rc = kv_run(db, true, get_fn, &a);
	*version = a.version;
	free(a.settings);
	free(a.schema);
	return rc < 0 ? rc : 0;
}

int mgmtd_settings_get(struct kv_db *db, uint8_t type, uint32_t node_id, uint64_t *version,
		       char **settings, char **schema)
{
	struct get_arg a = { type, node_id, 0, NULL, NULL };
	int rc = kv_run(db, true, get_fn, &a);

	if (rc < 0) {
		free(a.settings);
		free(a.schema);
		return rc;
	}
	*version = a.version;
	*settings = a.settings;
	*schema = a.schema;
	return 0;
}

struct schema_arg {
	uint64_t instance, now_ms;
	uint8_t type;
	const char *schema;
};

static int schema_fn(struct kv_txn *txn, void *arg)
{
	struct schema_arg *a = arg;
	uint8_t key[64];
	size_t klen = mgmtd_store_key(key, P_CFG_SCHEMA, a->type);
	char *old = NULL;
	int rc = get_text(txn, key, klen, &old);

	if (rc == 0 && strcmp(old, a->schema) == 0) {
		free(old);
		return 0;
	}
	free(old);
	if (rc == 0 || rc == -C3FS_EBADMSG)
		rc = mgmtd_lease_check(txn, a->instance, a->now_ms);
	if (rc == 0)
		rc = put_text(txn, key, klen, a->schema);
	return rc;
}

int mgmtd_settings_put_schema(struct kv_db *db, uint64_t instance, uint64_t now_wall_ms,
			      uint8_t type, const char *schema)
{
	struct schema_arg a = { instance, now_wall_ms, type, schema };
	struct c3_cfg_table *t = NULL;
	size_t objsize;
	int rc = c3_cfg_schema_parse(schema, &t, &objsize, NULL, 0);

	if (rc)
		return rc;
	c3_cfg_schema_free(t);
	rc = kv_run(db, false, schema_fn, &a);
	return rc < 0 ? rc : 0;
}

struct set_arg {
	uint64_t instance, now_ms;
	uint8_t type;
	uint32_t node_id;
	const char *assignments;
	uint64_t version;
	char *err;
	size_t errlen;
};

/* Check assignments against the schema: the lines with a value must apply (known, valid,
 * reloadable); a removal must name a known key. */
static int validate(const char *schema, const char *assignments, char *err, size_t errlen)
{
	struct c3_cfg_table *t = NULL;
	struct c3_buf sets = C3_BUF_INIT;
	const char *line = assignments;
	size_t objsize;
	void *obj;
	char tmp[8];
	int rc;

	rc = c3_cfg_schema_parse(schema, &t, &objsize, err, errlen);
	if (rc)
		return rc == -ENOMEM ? rc : -C3FS_ECONFIG;
	obj = calloc(1, objsize);
	if (!obj) {
		c3_cfg_schema_free(t);
		return -ENOMEM;
	}
	while (*line && rc == 0) {
		struct kv_line kl;
		bool eq = kv_line_split(line, &kl, &line);

		if (eq && kl.vlen == 0) {
			char name[200];

			snprintf(name, sizeof(name), "%.*s", (int)(kl.klen < 199 ? kl.klen : 199),
				 kl.key);
			if (c3_cfg_get(t, obj, name, tmp, sizeof(tmp)) == -ENOENT) {
				snprintf(err, errlen, "%s: unknown key", name);
				rc = -C3FS_ECONFIG;
			}
		} else {
			c3_buf_printf(&sets, "%.*s\n", (int)kl.len, kl.line);
		}
	}
	if (rc == 0 && sets.err)
		rc = -ENOMEM;
	if (rc == 0) {
		c3_buf_append(&sets, "", 1);
		rc = sets.err ? -ENOMEM : c3_cfg_apply_lines(t, obj, (const char *)sets.data, true,
							     err, errlen);
		if (rc > 0)
			rc = 0;
	}
	c3_buf_release(&sets);
	c3_cfg_release(t, obj);
	free(obj);
	c3_cfg_schema_free(t);
	return rc;
}

static int set_fn(struct kv_txn *txn, void *arg)
{
	struct set_arg *a = arg;
	struct lines l = { 0 };
	char *schema = NULL, *old = NULL, *text = NULL;
	uint8_t key[64];
	size_t klen;
	int rc;

	rc = mgmtd_lease_check(txn, a->instance, a->now_ms);
	if (rc == 0)
		rc = get_text(txn, key, mgmtd_store_key(key, P_CFG_SCHEMA, a->type), &schema);
	if (rc == 0 && !schema[0]) {
		snprintf(a->err, a->errlen, "no %s daemon has sent its configuration keys yet "
			 "(start one, then set)", node_type_name(a->type));
		rc = -C3FS_ECONFIG;
	}
	if (rc == 0)
		rc = validate(schema, a->assignments, a->err, a->errlen);
	klen = a->node_id ? mgmtd_store_key(key, P_CFG_NODE, a->node_id)
			  : mgmtd_store_key(key, P_CFG_TYPE, a->type);
	if (rc == 0)
		rc = get_text(txn, key, klen, &old);
	if (rc == 0)
		rc = lines_merge(&l, old, false);
	if (rc == 0)
		rc = lines_merge(&l, a->assignments, true);
	if (rc == 0) {
		text = lines_render(&l);
		rc = text ? 0 : -ENOMEM;
	}
	if (rc == 0 && strlen(text) > MGMTD_CONFIG_MAX) {
		snprintf(a->err, a->errlen, "settings larger than %d bytes", MGMTD_CONFIG_MAX);
		rc = -C3FS_ECONFIG;
	}
	if (rc == 0)
		rc = put_text(txn, key, klen, text);
	if (rc == 0)
		rc = mgmtd_store_version_bump(txn, K_CFG_VERSION, &a->version);
	lines_free(&l);
	free(schema);
	free(old);
	free(text);
	return rc;
}

int mgmtd_settings_set(struct kv_db *db, uint64_t instance, uint64_t now_wall_ms,
		       uint8_t type, uint32_t node_id, const char *assignments,
		       uint64_t *version, char *err, size_t errlen)
{
	struct set_arg a = { instance, now_wall_ms, type, node_id, assignments, 0, err, errlen };
	int rc;

	err[0] = '\0';
	rc = kv_run(db, false, set_fn, &a);
	if (rc < 0)
		return rc;
	*version = a.version;
	return 0;
}
