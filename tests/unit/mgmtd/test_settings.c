/* test_settings.c — live configuration records (settings.h) on a mem: KV: no schema, no
 * settings; validation against the schema (unknown key, bad value, not reloadable: nothing
 * stored, version unchanged); merge, removal, per-node overrides; lease fencing. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "kv/kv.h"
#include "mgmtd/lease.h"
#include "mgmtd/settings.h"
#include "tests/lib/tap.h"

#define SCHEMA "log.level str 1 0 1\nmeta.gc_batch int 1 100000 1\nmeta.stripe int 1 1024 0\n"

static void expect(struct kv_db *db, uint8_t type, uint32_t node, uint64_t version,
		   const char *settings, const char *what)
{
	uint64_t v = 99;
	char *s = NULL, *sc = NULL;

	is_int(mgmtd_settings_get(db, type, node, &v, &s, &sc), 0, "get");
	is_int((int)v, (int)version, what);
	is_str(s ? s : "(null)", settings, what);
	free(s);
	free(sc);
}

int main(void)
{
	struct kv_db *db = NULL;
	struct mgmtd_lease rec;
	char err[256];
	uint64_t v = 0;
	bool leader = false;

	if (kv_db_open("mem:", &db) != 0)
		tap_skip_all("no mem: KV");
	ok(mgmtd_lease_try(db, "a:1", 11, 1000, 60000, &leader, &rec) == 0 && leader,
	   "instance 11 leads");
	expect(db, 2, 0, 0, "", "nothing set yet");
	is_int(mgmtd_settings_set(db, 11, 1100, 2, 0, "log.level=debug", &v, err, sizeof(err)),
	       -C3FS_ECONFIG, "no schema: refused");
	ok(strstr(err, "no meta daemon") != NULL, "reason: no meta daemon sent its keys");
	is_int(mgmtd_settings_put_schema(db, 11, 1100, 2, "bad schema"), -C3FS_ECONFIG,
	       "malformed schema refused");
	is_int(mgmtd_settings_put_schema(db, 11, 1100, 2, SCHEMA), 0, "schema stored");

	is_int(mgmtd_settings_set(db, 11, 1100, 2, 0, " log.level = debug \nmeta.gc_batch=10",
				  &v, err, sizeof(err)), 0, "two settings");
	ok(v == 1, "version 1");
	expect(db, 2, 0, 1, "log.level=debug\nmeta.gc_batch=10\n", "stored normalised, sorted");
	is_int(mgmtd_settings_set(db, 11, 1100, 2, 0, "meta.stripe=4", &v, err, sizeof(err)),
	       -C3FS_ECONFIG, "not reloadable refused");
	is_str(err, "meta.stripe: not reloadable (set it in the daemon's config file and restart "
		    "it)", "reason names the key");
	is_int(mgmtd_settings_set(db, 11, 1100, 2, 0, "log.level=info\nmeta.gc_batch=0", &v, err,
				  sizeof(err)), -C3FS_ECONFIG, "out of range refused");
	is_int(mgmtd_settings_set(db, 11, 1100, 2, 0, "x.y=1", &v, err, sizeof(err)),
	       -C3FS_ECONFIG, "unknown key refused");
	is_int(mgmtd_settings_set(db, 11, 1100, 2, 0, "x.y=", &v, err, sizeof(err)),
	       -C3FS_ECONFIG, "removing an unknown key refused");
	expect(db, 2, 0, 1, "log.level=debug\nmeta.gc_batch=10\n", "refusals changed nothing");

	is_int(mgmtd_settings_set(db, 11, 1100, 2, 7, "log.level=warn", &v, err, sizeof(err)), 0,
	       "node 7 override");
	expect(db, 2, 7, 2, "log.level=warn\nmeta.gc_batch=10\n", "node 7: its level wins");
	expect(db, 2, 8, 2, "log.level=debug\nmeta.gc_batch=10\n", "node 8: the type's");
	is_int(mgmtd_settings_set(db, 11, 1100, 2, 0, "meta.gc_batch=", &v, err, sizeof(err)), 0,
	       "removal");
	expect(db, 2, 7, 3, "log.level=warn\n", "removed from the type");
	is_int(mgmtd_settings_set(db, 11, 1100, 2, 7, "log.level=", &v, err, sizeof(err)), 0,
	       "node removal");
	expect(db, 2, 7, 4, "log.level=debug\n", "node 7 falls back to the type");
	ok(mgmtd_settings_version(db, &v) == 0 && v == 4, "version 4");

	is_int(mgmtd_settings_set(db, 22, 1100, 2, 0, "log.level=info", &v, err, sizeof(err)),
	       -C3FS_ENOTLEADER, "another instance is fenced");
	expect(db, 2, 0, 4, "log.level=debug\n", "nothing written by it");
	kv_db_close(db);
	return tap_done();
}
