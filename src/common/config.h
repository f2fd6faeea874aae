/* config.h — table-driven configuration (INI files via libinih, --set overrides).
 *
 * Each service describes its settings in one static table of struct c3_cfg_key.  The table
 * drives: defaults, parsing of the INI file, "--set section.key=value" overrides, range
 * checks, and the generated docs (docs/CONFIG.md) and samples (etc/<service>.ini.sample).
 *
 * Values are stored into a caller-owned struct at the key's offset:
 *   C3_CFG_STR   char *       (malloc'd copy; free with c3_cfg_release)
 *   C3_CFG_INT   int64_t      (decimal; min/max inclusive)
 *   C3_CFG_BOOL  bool         (true/false/yes/no/on/off/1/0)
 *   C3_CFG_SIZE  uint64_t     bytes; accepts suffixes K, M, G, T (powers of 1024)
 *   C3_CFG_MS    uint64_t     milliseconds; accepts suffixes ms, s, m, h (bare = ms)
 * Unknown sections/keys, bad values and out-of-range values are errors: the message names
 * the file, line, key and what was expected.  Nothing is partially applied on error of a
 * single key (the old value stays).
 */
#ifndef C3_CONFIG_H
#define C3_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum c3_cfg_type { C3_CFG_STR, C3_CFG_INT, C3_CFG_BOOL, C3_CFG_SIZE, C3_CFG_MS };

struct c3_cfg_key {
	const char *section;  /* "server" */
	const char *name;     /* "listen" */
	enum c3_cfg_type type;
	size_t offset;        /* offsetof(struct my_config, field) */
	const char *defval;   /* default, as text in the key's syntax ("" allowed for STR) */
	int64_t min, max;     /* INT/SIZE/MS bounds, inclusive; ignored when min > max */
	const char *unit;     /* for docs: "bytes", "ms", "", ... */
	bool reloadable;      /* may change without restart: c3_cfg_apply_lines(reloadable_only)
			       * accepts it, and the daemon applies it live (live configuration
			       * pushed by mgmtd, docs/OPERATIONS.md) */
	const char *desc;     /* one sentence for docs and samples */
};

struct c3_cfg_table {
	const char *service;  /* "storage" -> docs heading and etc/storage.ini.sample */
	const struct c3_cfg_key *keys;
	size_t nkeys;
};

#define C3_CFG_ERRLEN 256

/* Store every default into obj.  Returns 0, or -C3FS_ECONFIG when a default is invalid
 * (a bug in the table; err says which). */
int c3_cfg_defaults(const struct c3_cfg_table *t, void *obj, char *err, size_t errlen);

/* Parse an INI file over obj.  Returns 0, -errno when the file can't be read, or
 * -C3FS_ECONFIG with err = "file:line: section.key: what is wrong". */
int c3_cfg_load_file(const struct c3_cfg_table *t, void *obj, const char *path,
		     char *err, size_t errlen);

/* Apply one "section.key=value".  Returns 0 or -C3FS_ECONFIG with err. */
int c3_cfg_set(const struct c3_cfg_table *t, void *obj, const char *assignment,
	       char *err, size_t errlen);

/* The usual service command line: defaults, then "--config FILE" (or "-c FILE"), then every
 * "--set k=v" in order.  Other arguments are left for the caller: *argi is set to the first
 * argument not consumed.  "--help" prints usage and the key table to stdout and returns 1.
 * Returns 0, 1 (help shown), or a negative code with err. */
int c3_cfg_from_args(const struct c3_cfg_table *t, void *obj, int argc, char **argv,
		     int *argi, char *err, size_t errlen);

/* Free the strings stored in obj (STR keys). */
void c3_cfg_release(const struct c3_cfg_table *t, void *obj);

/* Render the key table as a Markdown section, or as a commented sample INI file. */
void c3_cfg_render_markdown(const struct c3_cfg_table *t, struct c3_buf *out);
void c3_cfg_render_sample(const struct c3_cfg_table *t, struct c3_buf *out);

/* Added with the implementation (config.c):
 * Parse INI text (NUL-terminated) over obj, exactly like c3_cfg_load_file(); name stands
 * for the file name in messages.  For tests, the fuzzer and configs not read from a file. */
int c3_cfg_load_string(const struct c3_cfg_table *t, void *obj, const char *name,
		       const char *text, char *err, size_t errlen);

/* ---- live configuration (settings pushed by mgmtd) ---- */

/* Apply "section.key=value" lines (text, '\n'-separated; blank lines ignored) over obj,
 * all or nothing: every line must name a known key, parse and be in range, appear once,
 * and, when reloadable_only, be marked reloadable.  Returns the number of lines applied
 * or -C3FS_ECONFIG / -ENOMEM with err = "section.key: reason" (obj untouched). */
int c3_cfg_apply_lines(const struct c3_cfg_table *t, void *obj, const char *text,
		       bool reloadable_only, char *err, size_t errlen);

/* Copy every key's field from src to dst (STR fields duplicated; dst's fields are treated
 * as uninitialised).  Fields of the struct that are no key are not touched.  Returns 0 or
 * -ENOMEM (dst then holds no strings: nothing to release). */
int c3_cfg_copy(const struct c3_cfg_table *t, void *dst, const void *src);

/* The value of key "section.key" in obj as text in the key's syntax (sizes and durations
 * with their largest exact suffix).  Returns 0, or -ENOENT for an unknown key. */
int c3_cfg_get(const struct c3_cfg_table *t, const void *obj, const char *key, char *out,
	       size_t outlen);

/* A key table as text, one line per key: "section.key TYPE MIN MAX R" (TYPE = str, int,
 * bool, size, ms; R = 1 when reloadable).  mgmtd validates settings of a daemon type with
 * the schema its daemons send (c3_cfg_schema_parse), so it needs no copy of their tables. */
void c3_cfg_render_schema(const struct c3_cfg_table *t, struct c3_buf *out);

/* Parse a schema into a table whose values live in an object of *objsize bytes (zeroed by
 * the caller; release its strings with c3_cfg_release, then free it).  Returns 0 and
 * *out (free with c3_cfg_schema_free) or -C3FS_ECONFIG with err / -ENOMEM. */
int c3_cfg_schema_parse(const char *text, struct c3_cfg_table **out, size_t *objsize,
			char *err, size_t errlen);
void c3_cfg_schema_free(struct c3_cfg_table *t);

#endif
