/* fuzz_config.c — the INI parser of config.c on arbitrary text.
 *
 * The input is parsed as an INI file over a table with every key type, then each of its
 * first lines is applied as a "--set" assignment.  Besides the sanitizers, it checks the
 * contract: a failed load or set changes nothing (the values stay as they were), an error
 * always comes with a message naming the input, and accepted values respect the bounds.
 * Any violation aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

struct fz_cfg {
	char *s;
	int64_t i;
	int64_t iu;
	bool b;
	uint64_t size;
	uint64_t ms;
	char *s2;
};

static const struct c3_cfg_key fz_keys[] = {
	{ "a", "str", C3_CFG_STR, offsetof(struct fz_cfg, s), "x", 0, -1, "", false, "s" },
	{ "a", "int", C3_CFG_INT, offsetof(struct fz_cfg, i), "5", -10, 100, "", false, "i" },
	{ "a", "any", C3_CFG_INT, offsetof(struct fz_cfg, iu), "0", 1, 0, "", false, "unbounded" },
	{ "b", "bool", C3_CFG_BOOL, offsetof(struct fz_cfg, b), "on", 0, -1, "", true, "b" },
	{ "b", "size", C3_CFG_SIZE, offsetof(struct fz_cfg, size), "1M", 1024, 1ll << 50, "bytes",
	  false, "size" },
	{ "c.d", "ms", C3_CFG_MS, offsetof(struct fz_cfg, ms), "1s", 0, 86400000, "ms", true, "ms" },
	{ "c.d", "str", C3_CFG_STR, offsetof(struct fz_cfg, s2), "", 0, -1, "", false, "s2" },
};
static const struct c3_cfg_table fz_tab = { "fuzz", fz_keys, sizeof(fz_keys) / sizeof(fz_keys[0]) };

static bool fz_same(const struct fz_cfg *x, const struct fz_cfg *y)
{
	return strcmp(x->s, y->s) == 0 && strcmp(x->s2, y->s2) == 0 && x->i == y->i &&
	       x->iu == y->iu && x->b == y->b && x->size == y->size && x->ms == y->ms;
}

static void fz_copy(struct fz_cfg *dst, const struct fz_cfg *src)
{
	*dst = *src;
	dst->s = strdup(src->s);
	dst->s2 = strdup(src->s2);
	if (!dst->s || !dst->s2)
		abort();
}

static void fz_check(const struct fz_cfg *before, const struct fz_cfg *after, int rc,
		     const char *err)
{
	if (rc != 0 && (!fz_same(before, after) || err[0] == '\0'))
		abort();
	if (after->i < -10 || after->i > 100 || after->size < 1024 ||
	    after->size > (1ull << 50) || after->ms > 86400000 || !after->s || !after->s2)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_cfg c, before;
	char err[C3_CFG_ERRLEN];
	char *text, *line, *save = NULL;
	int rc, n = 0;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (c3_cfg_defaults(&fz_tab, &c, err, sizeof(err)) != 0)
		abort();

	fz_copy(&before, &c);
	err[0] = '\0';
	rc = c3_cfg_load_string(&fz_tab, &c, "fuzz.ini", text, err, sizeof(err));
	fz_check(&before, &c, rc, err);
	if (rc != 0 && strncmp(err, "fuzz.ini", 8) != 0)
		abort();
	c3_cfg_release(&fz_tab, &before);

	/* live configuration: pushed lines are all or nothing, like a file */
	fz_copy(&before, &c);
	err[0] = '\0';
	rc = c3_cfg_apply_lines(&fz_tab, &c, text, false, err, sizeof(err));
	fz_check(&before, &c, rc < 0 ? rc : 0, err);
	c3_cfg_release(&fz_tab, &before);
	/* the same text as a schema (what mgmtd parses from a daemon) */
	{
		struct c3_cfg_table *st = NULL;
		size_t objsize = 0;

		if (c3_cfg_schema_parse(text, &st, &objsize, err, sizeof(err)) == 0) {
			void *obj = calloc(1, objsize);

			if (obj) {
				rc = c3_cfg_apply_lines(st, obj, "log.level=info\n", true, err,
							sizeof(err));
				c3_cfg_release(st, obj);
				free(obj);
			}
			c3_cfg_schema_free(st);
		}
	}

	for (line = strtok_r(text, "\n", &save); line && n < 16; line = strtok_r(NULL, "\n", &save), n++) {
		fz_copy(&before, &c);
		err[0] = '\0';
		rc = c3_cfg_set(&fz_tab, &c, line, err, sizeof(err));
		fz_check(&before, &c, rc, err);
		c3_cfg_release(&fz_tab, &before);
	}
	c3_cfg_release(&fz_tab, &c);
	free(text);
	return 0;
}
