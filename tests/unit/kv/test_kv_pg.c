/* test_kv_pg.c — what only the pg backend has: URI options, connection loss (before and
 * during COMMIT), pool reuse after a lost connection, and two independent kv_db handles
 * (as two meta instances) sharing one table.
 *
 * Needs a server: C3FS_TEST_PG_CONNINFO (set by tests/integration/kv_pg.sh); skipped
 * (exit 77) without it.  Connection loss is produced for real: another connection calls
 * pg_terminate_backend() on the transaction's server process.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/errors.h"
#include "kv/kv.h"
#include "kv/kv_int.h"
#include "tests/lib/tap.h"

static const char *g_ci;
static char g_uri[512];

static int kill_backend(int pid)
{
	PGconn *c = PQconnectdb(g_ci);
	char sql[96];
	int ok = 0;

	if (PQstatus(c) == CONNECTION_OK) {
		snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
		PGresult *r = PQexec(c, sql);

		ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
		/* until it is really gone: a signalled backend may still answer a query */
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE pid = %d",
			 pid);
		for (int i = 0; ok && i < 500; i++) {
			r = PQexec(c, sql);
			int left = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : 0;

			PQclear(r);
			if (left == 0)
				break;
			usleep(10000);
		}
	}
	PQfinish(c);
	return ok;
}

/* Terminate every other client connection of this server (ours are the only ones). */
static int kill_other_backends(void)
{
	PGconn *c = PQconnectdb(g_ci);
	int n = -1;

	if (PQstatus(c) == CONNECTION_OK) {
		PGresult *r = PQexec(c, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
				       "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()");

		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			n = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
		/* until they are really gone: a signalled backend may still answer a query */
		for (int i = 0; i < 500; i++) {
			r = PQexec(c, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
				      "'client backend' AND pid <> pg_backend_pid()");
			int left = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : 0;

			PQclear(r);
			if (left == 0)
				break;
			usleep(10000);
		}
	}
	PQfinish(c);
	return n;
}

static int g_killed;
static void hook_kill(int pid)
{
	g_killed = kill_backend(pid);
}

static int g_hook_pid;
static void hook_pid(int pid)
{
	g_hook_pid = pid;
}

static int get_is(struct kv_txn *t, const char *k, const char *want)
{
	const uint8_t *v;
	size_t vl;
	int rc = kv_get(t, k, strlen(k), &v, &vl);

	if (!want)
		return rc == -ENOENT;
	return rc == 0 && vl == strlen(want) && memcmp(v, want, vl) == 0;
}

static void t_options(void)
{
	struct kv_db *db = NULL;
	char uri[600];

	snprintf(uri, sizeof(uri), "pg:pool=0;%s", g_ci);
	is_int(kv_db_open(uri, &db), -C3FS_ECONFIG, "pool=0 refused");
	snprintf(uri, sizeof(uri), "pg:table=Bad-Name;%s", g_ci);
	is_int(kv_db_open(uri, &db), -C3FS_ECONFIG, "bad table name refused");
	is_int(kv_db_open("pg:host=127.0.0.1 port=1 connect_timeout=2", &db), -C3FS_ECONNECT,
	       "unreachable server -> ECONNECT");
	is_int(kv_db_open("pg:this is not a conninfo", &db), -C3FS_ECONFIG,
	       "unparsable conninfo -> ECONFIG");
	snprintf(uri, sizeof(uri), "pg:pool=2;table=kv_other;%s", g_ci);
	is_int(kv_db_open(uri, &db), 0, "pool and table options");
	if (db) {
		struct kv_txn *t;

		kv_txn_begin(db, false, &t);
		kv_set(t, "only-in-other", 13, "1", 1);
		is_int(kv_txn_commit(t), 0, "write to the other table");
		kv_db_close(db);
	}
	kv_db_open(g_uri, &db);
	if (db) {
		struct kv_txn *t;

		kv_txn_begin(db, true, &t);
		ok(get_is(t, "only-in-other", NULL), "tables are separate");
		kv_txn_abort(t);
		kv_db_close(db);
	}
}

static void t_conn_loss(void)
{
	struct kv_db *db = NULL;
	struct kv_txn *t;
	int rc;

	if (kv_db_open(g_uri, &db) < 0) {
		ok(0, "open");
		return;
	}
	/* a dead pooled connection is replaced transparently (nothing ran on it yet) */
	kv_txn_begin(db, false, &t);
	kv_set(t, "loss/a", 6, "1", 1);
	kv__pg_before_commit_hook = hook_pid;
	is_int(kv_txn_commit(t), 0, "blind write committed"); /* learns the server pid */
	kv__pg_before_commit_hook = NULL;
	kv_txn_begin(db, false, &t); /* the pool hands back the same connection */
	ok(kill_backend(g_hook_pid), "terminated the pooled connection's server process");
	const uint8_t *v;
	size_t vl;

	rc = kv_get(t, "loss/a", 6, &v, &vl);
	ok(rc == 0 && vl == 1 && v[0] == '1', "first read reconnects transparently");

	/* lost in the middle: the statement fails with ECONNECT, nothing applied */
	ok(kill_other_backends() >= 1, "terminated the transaction's server process");
	kv_set(t, "loss/b", 6, "1", 1);
	rc = kv_get(t, "loss/a", 6, &v, &vl);
	is_int(rc, -C3FS_ECONNECT, "read on a connection lost mid-transaction -> ECONNECT");
	is_int(kv_txn_commit(t), -C3FS_ECONNECT, "commit after the loss -> ECONNECT");

	/* lost while COMMIT is in flight: outcome unknown */
	kv_txn_begin(db, false, &t);
	kv_set(t, "loss/c", 6, "1", 1);
	kv__pg_before_commit_hook = hook_kill;
	rc = kv_txn_commit(t);
	kv__pg_before_commit_hook = NULL;
	ok(g_killed, "hook terminated the server process before COMMIT");
	is_int(rc, -C3FS_EKVMAYBECOMMITTED, "connection lost during COMMIT -> EKVMAYBECOMMITTED");

	/* the pool recovers with fresh connections */
	rc = kv_txn_begin(db, false, &t);
	is_int(rc, 0, "begin after losses");
	if (rc == 0) {
		ok(get_is(t, "loss/a", "1") && get_is(t, "loss/b", NULL) &&
			   get_is(t, "loss/c", NULL),
		   "only the acknowledged commit is there");
		is_int(kv_txn_commit(t), 0, "commit on a fresh connection");
	}
	kv_db_close(db);
}

/* After a failover every idle pooled connection is dead: the first transaction after it
 * must not meet a second dead one when it reconnects (the idle ones are closed with the
 * first). */
static void t_pool_all_dead(void)
{
	struct kv_db *db = NULL;
	struct kv_txn *t[3];
	const uint8_t *v;
	size_t vl;
	int rc, n = 0;

	if (kv_db_open(g_uri, &db) < 0) {
		ok(0, "open");
		return;
	}
	for (int i = 0; i < 3; i++) /* three transactions at once: three connections */
		if (kv_txn_begin(db, true, &t[i]) == 0 && kv_get(t[i], "loss/a", 6, &v, &vl) == 0)
			n++;
	for (int i = 0; i < 3; i++)
		kv_txn_abort(t[i]);
	is_int(n, 3, "three pooled connections in use, then idle");
	ok(kill_other_backends() >= 3, "terminated every pooled connection's server process");
	rc = kv_txn_begin(db, true, &t[0]);
	if (rc == 0) {
		rc = kv_get(t[0], "loss/a", 6, &v, &vl);
		kv_txn_abort(t[0]);
	}
	is_int(rc, 0, "the first read after all died reconnects (no second dead connection)");
	kv_db_close(db);
}

struct w {
	struct kv_db *db;
	int m, errors;
};

static int incr(struct kv_txn *t, void *arg)
{
	const uint8_t *v;
	size_t vl;
	uint8_t b[8];
	uint64_t x = 0;
	int rc = kv_get(t, "shared-ctr", 10, &v, &vl);

	if (rc == 0 && vl == 8)
		x = kv_get_be64(v);
	else if (rc != -ENOENT)
		return rc < 0 ? rc : -EINVAL;
	kv_put_be64(b, x + 1);
	return kv_set(t, "shared-ctr", 10, b, 8);
}

static void *worker(void *arg)
{
	struct w *w = arg;

	for (int i = 0; i < w->m; i++)
		if (kv_run(w->db, false, incr, NULL) != 0)
			w->errors++;
	return NULL;
}

static void t_two_handles(void)
{
	enum { T = 8, M = 25 };
	struct kv_db *a = NULL, *b = NULL;
	pthread_t th[T];
	struct w w[T];
	int errs = 0;

	if (kv_db_open(g_uri, &a) < 0 || kv_db_open(g_uri, &b) < 0) {
		ok(0, "open two handles");
		kv_db_close(a);
		return;
	}
	for (int i = 0; i < T; i++) {
		w[i] = (struct w){ i % 2 ? a : b, M, 0 };
		pthread_create(&th[i], NULL, worker, &w[i]);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		errs += w[i].errors;
	}
	is_int(errs, 0, "all increments through two handles committed");
	struct kv_txn *t;
	const uint8_t *v;
	size_t vl;

	kv_txn_begin(a, true, &t);
	ok(kv_get(t, "shared-ctr", 10, &v, &vl) == 0 && vl == 8 && kv_get_be64(v) == T * M,
	   "two handles, one table: counter exact");
	kv_txn_abort(t);
	kv_db_close(a);
	kv_db_close(b);
}

int main(void)
{
	g_ci = getenv("C3FS_TEST_PG_CONNINFO");
	if (!g_ci || !*g_ci)
		tap_skip_all("C3FS_TEST_PG_CONNINFO not set (run tests/integration/kv_pg.sh)");
	snprintf(g_uri, sizeof(g_uri), "pg:table=kv_pgtest;%s", g_ci);
	{ /* start empty */
		struct kv_db *db;
		struct kv_txn *t;
		static const uint8_t ff[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

		if (kv_db_open(g_uri, &db) < 0)
			tap_skip_all("cannot open the pg store");
		kv_txn_begin(db, false, &t);
		kv_clear_range(t, "", 0, ff, 8);
		kv_txn_commit(t);
		kv_db_close(db);
	}
	t_options();
	t_conn_loss();
	t_pool_all_dead();
	t_two_handles();
	return tap_done();
}
