/* kv_pg.c — the PostgreSQL backend "pg:[pool=N;][table=NAME;]<libpq conninfo>".
 *
 * One table, (k bytea PRIMARY KEY, v bytea NOT NULL), created at open when missing.  bytea
 * compares like memcmp with the shorter prefix first, which is exactly kv.h's key order.
 * Plain SQL only (no server-side functions), so PostgreSQL-compatible distributed
 * databases can serve as well.
 *
 * Transaction mapping:
 *   kv_txn_begin    take a connection from the pool; BEGIN is sent later, pipelined
 *                   with the first statement (or alone before blind writes):
 *                   BEGIN ISOLATION LEVEL SERIALIZABLE  (read-write)
 *                   BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY  (read-only: one
 *                   consistent snapshot, never a serialization failure)
 *   kv_get          SELECT v FROM t WHERE k = $1
 *   kv_range        SELECT k, v FROM t WHERE k >= $1 AND k < $2 ORDER BY k [DESC] LIMIT $3
 *   writes          buffered by kv.c; at commit: DELETE ... WHERE k >= $1 AND k < $2 for each
 *                   cleared range, then for each point INSERT ... ON CONFLICT (k) DO UPDATE
 *                   or DELETE ... WHERE k = $1, then COMMIT.
 * The server's serializable snapshot isolation does the conflict detection; SQLSTATE
 * 40001 (serialization_failure) and 40P01 (deadlock_detected) become -C3FS_ECONFLICT, from
 * any statement.  A connection lost while COMMIT is in flight gives
 * -C3FS_EKVMAYBECOMMITTED; lost earlier, -C3FS_ECONNECT (nothing was applied).  After the
 * first failed statement the transaction is dead: every later call returns that error and
 * commit rolls back.
 *
 * Pool: connections are opened lazily up to pool (default 32), statements are prepared
 * once per connection, binary parameters and results.  A broken connection is dropped,
 * never returned to the pool; a transaction whose first statement meets a dead pooled
 * connection retries it once on a fresh one (nothing had run), and closes the idle ones
 * (after a failover they all point at the lost server).  The writes and COMMIT
 * travel in one pipeline.  mu/cv guard idle/total; a PGconn is used by one
 * transaction at a time.
 */
#include "kv/kv_int.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"

#define PG_DEFAULT_POOL 32

#ifdef C3_TEST_BUILD
void (*kv__pg_before_commit_hook)(int backend_pid);
#endif
#define PG_BYTEA_OID 17
#define PG_INT8_OID 20

struct pg_conn {
	struct pg_conn *next; /* in the idle list */
	PGconn *conn;
};

struct pg_db {
	struct kv_db base;
	char *conninfo; /* immutable */
	char table[64]; /* immutable */
	int pool_max;	/* immutable */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pg_conn *idle; /* guarded by mu */
	int total;	      /* guarded by mu: open connections, idle or in use */
};

struct pg_txn {
	struct pg_conn *c; /* NULL only after a failed reconnect (then err != 0) */
	bool begun;	   /* BEGIN has run on c */
	int err;	   /* first failure, sticky */
};

/* ---- statements ------------------------------------------------------------------- */

enum { PG_GET, PG_RANGE_F, PG_RANGE_R, PG_PUT, PG_DEL, PG_DELR, PG_NSTMT };
static const char *const pg_stmt_name[PG_NSTMT] = { "c3_get", "c3_rf", "c3_rr",
						    "c3_put", "c3_del", "c3_delr" };

static int pg_stmt_sql(const struct pg_db *db, int i, char *buf, size_t n)
{
	const char *t = db->table;

	switch (i) {
	case PG_GET:
		return snprintf(buf, n, "SELECT v FROM %s WHERE k = $1", t);
	case PG_RANGE_F:
		return snprintf(buf, n,
				"SELECT k, v FROM %s WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3", t);
	case PG_RANGE_R:
		return snprintf(buf, n,
				"SELECT k, v FROM %s WHERE k >= $1 AND k < $2 ORDER BY k DESC LIMIT $3",
				t);
	case PG_PUT:
		return snprintf(buf, n,
				"INSERT INTO %s (k, v) VALUES ($1, $2) "
				"ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
				t);
	case PG_DEL:
		return snprintf(buf, n, "DELETE FROM %s WHERE k = $1", t);
	default:
		return snprintf(buf, n, "DELETE FROM %s WHERE k >= $1 AND k < $2", t);
	}
}

/* The error code for a failed result (res may be NULL). */
static int pg_code(PGconn *conn, const PGresult *res, bool in_commit)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (st && (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0))
		return -C3FS_ECONFLICT;
	/* connection exceptions (08...) and the server going away (57P01..03) */
	if (PQstatus(conn) != CONNECTION_OK || (st && (strncmp(st, "08", 2) == 0 ||
						       strncmp(st, "57P", 3) == 0)))
		return in_commit ? -C3FS_EKVMAYBECOMMITTED : -C3FS_ECONNECT;
	if (st && strcmp(st, "53100") == 0)
		return -ENOSPC; /* disk_full */
	if (st && strcmp(st, "54000") == 0)
		return -C3FS_EKVTOOLARGE; /* program_limit_exceeded (e.g. index row size) */
	return -C3FS_EKV;
}

/* ---- pool ------------------------------------------------------------------------- */

/* Libraries never print: drop the server's NOTICE messages libpq would write to stderr. */
static void pg_notice_drop(void *arg, const char *msg)
{
}

static int pg_exec_ok(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_code(conn, res, false);

	PQclear(res);
	return rc;
}

/* A failed connection attempt: log libpq's own reason (wrong password, no such database,
 * server down, ...), which -C3FS_ECONNECT alone would hide.  The pool connects lazily,
 * so while the server is down every transaction lands here: the same reason is logged
 * again only after 30 s.  libpq's connection messages never quote the password. */
static void pg_log_connect_error(PGconn *conn)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static char last[512];
	static uint64_t last_ms;
	char msg[512];
	uint64_t now = c3_now_ms();
	size_t i;
	bool again;

	snprintf(msg, sizeof(msg), "%s", conn ? PQerrorMessage(conn) : "out of memory");
	for (i = 0; msg[i]; i++)
		if (msg[i] == '\n' || msg[i] == '\r' || msg[i] == '\t')
			msg[i] = ' ';
	while (i > 0 && msg[i - 1] == ' ')
		msg[--i] = '\0';
	pthread_mutex_lock(&mu);
	again = strcmp(msg, last) == 0 && now - last_ms < 30000;
	if (!again) {
		snprintf(last, sizeof(last), "%s", msg);
		last_ms = now;
	}
	pthread_mutex_unlock(&mu);
	if (!again)
		LOG_ERROR("postgresql: cannot connect: %s", msg);
}

static int pg_connect(struct pg_db *db, PGconn **out)
{
	PGconn *conn = PQconnectdb(db->conninfo);
	char sql[256];
	int rc = 0;

	if (!conn)
		return -ENOMEM;
	if (PQstatus(conn) != CONNECTION_OK) {
		pg_log_connect_error(conn);
		PQfinish(conn);
		return -C3FS_ECONNECT;
	}
	PQsetNoticeProcessor(conn, pg_notice_drop, NULL);
	for (int i = 0; i < PG_NSTMT && rc == 0; i++) {
		static const Oid types[3] = { PG_BYTEA_OID, PG_BYTEA_OID, PG_INT8_OID };
		int np = (i == PG_GET || i == PG_DEL) ? 1 : (i == PG_PUT || i == PG_DELR) ? 2 : 3;
		PGresult *res;

		pg_stmt_sql(db, i, sql, sizeof(sql));
		res = PQprepare(conn, pg_stmt_name[i], sql, np, types);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = pg_code(conn, res, false);
		PQclear(res);
	}
	if (rc) {
		PQfinish(conn);
		return rc;
	}
	*out = conn;
	return 0;
}

static int pg_pool_get(struct pg_db *db, struct pg_conn **out)
{
	struct pg_conn *c;
	int rc;

	pthread_mutex_lock(&db->mu);
	while (!db->idle && db->total >= db->pool_max)
		pthread_cond_wait(&db->cv, &db->mu);
	c = db->idle;
	if (c) {
		db->idle = c->next;
		pthread_mutex_unlock(&db->mu);
		*out = c;
		return 0;
	}
	db->total++;
	pthread_mutex_unlock(&db->mu);

	c = calloc(1, sizeof(*c));
	rc = c ? pg_connect(db, &c->conn) : -ENOMEM;
	if (rc) {
		free(c);
		pthread_mutex_lock(&db->mu);
		db->total--;
		pthread_cond_signal(&db->cv);
		pthread_mutex_unlock(&db->mu);
		return rc;
	}
	*out = c;
	return 0;
}

/* Return a connection; a broken one (or one left inside a transaction) is closed. */
static void pg_pool_put(struct pg_db *db, struct pg_conn *c)
{
	bool keep = PQstatus(c->conn) == CONNECTION_OK &&
		    PQtransactionStatus(c->conn) == PQTRANS_IDLE &&
		    PQpipelineStatus(c->conn) == PQ_PIPELINE_OFF;

	if (!keep) {
		PQfinish(c->conn);
		free(c);
	}
	pthread_mutex_lock(&db->mu);
	if (keep) {
		c->next = db->idle;
		db->idle = c;
	} else {
		db->total--;
	}
	pthread_cond_signal(&db->cv);
	pthread_mutex_unlock(&db->mu);
}

/* ---- open / close ----------------------------------------------------------------- */

static bool pg_ident_ok(const char *s, size_t n)
{
	if (n == 0 || n >= 64 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static int pg_open(const char *arg, struct kv_db **out)
{
	struct pg_db *db = calloc(1, sizeof(*db));
	struct pg_conn *c = NULL;
	char sql[256];
	int rc;

	if (!db)
		return -ENOMEM;
	db->pool_max = PG_DEFAULT_POOL;
	snprintf(db->table, sizeof(db->table), "c3fs_kv");
	/* leading "key=value;" options of our own */
	for (;;) {
		const char *semi = strchr(arg, ';'), *eq = strchr(arg, '=');

		if (!semi || !eq || eq > semi)
			break;
		if (strncmp(arg, "pool=", 5) == 0) {
			char *end;
			long v = strtol(arg + 5, &end, 10);

			if (end != semi || v < 1 || v > 1000) {
				rc = -C3FS_ECONFIG;
				goto fail;
			}
			db->pool_max = (int)v;
		} else if (strncmp(arg, "table=", 6) == 0) {
			if (!pg_ident_ok(arg + 6, (size_t)(semi - arg - 6))) {
				rc = -C3FS_ECONFIG;
				goto fail;
			}
			snprintf(db->table, sizeof(db->table), "%.*s", (int)(semi - arg - 6), arg + 6);
		} else {
			break; /* part of the conninfo */
		}
		arg = semi + 1;
	}
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(arg, &err);

	if (!opts) {
		PQfreemem(err);
		rc = -C3FS_ECONFIG;
		goto fail;
	}
	PQconninfoFree(opts);
	db->conninfo = strdup(arg);
	if (!db->conninfo) {
		rc = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&db->mu, NULL);
	pthread_cond_init(&db->cv, NULL);

	/* the table, created outside the pool: prepared statements need it to exist */
	PGconn *conn = PQconnectdb(db->conninfo);

	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		pg_log_connect_error(conn);
		PQfinish(conn);
		rc = -C3FS_ECONNECT;
		goto fail_sync;
	}
	PQsetNoticeProcessor(conn, pg_notice_drop, NULL);
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE IF NOT EXISTS %s (k bytea PRIMARY KEY, v bytea NOT NULL)",
		 db->table);
	rc = pg_exec_ok(conn, sql);
	if (rc) { /* a concurrent creator may have won the race: does it exist now? */
		PGresult *res;

		snprintf(sql, sizeof(sql), "SELECT to_regclass('%s') IS NOT NULL", db->table);
		res = PQexec(conn, sql);
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
		    PQgetvalue(res, 0, 0)[0] == 't')
			rc = 0;
		PQclear(res);
	}
	PQfinish(conn);
	if (rc)
		goto fail_sync;
	/* one pooled connection now, so that a bad setup fails here and not later */
	rc = pg_pool_get(db, &c);
	if (rc)
		goto fail_sync;
	pg_pool_put(db, c);
	*out = &db->base;
	return 0;

fail_sync:
	pthread_mutex_destroy(&db->mu);
	pthread_cond_destroy(&db->cv);
fail:
	free(db->conninfo);
	free(db);
	return rc;
}

static void pg_close(struct kv_db *kdb)
{
	struct pg_db *db = (struct pg_db *)kdb;
	struct pg_conn *c, *nx;

	/* every transaction has ended: all connections are idle */
	for (c = db->idle; c; c = nx) {
		nx = c->next;
		PQfinish(c->conn);
		free(c);
	}
	pthread_mutex_destroy(&db->mu);
	pthread_cond_destroy(&db->cv);
	free(db->conninfo);
	free(db);
}

/* ---- transactions ----------------------------------------------------------------- */

/* BEGIN is not sent here: it travels in one pipeline with the first statement (one round
 * trip saved per transaction), or right before the writes when nothing was read. */
static int pg_begin(struct kv_txn *txn)
{
	struct pg_db *db = (struct pg_db *)txn->db;
	struct pg_txn *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	rc = pg_pool_get(db, &t->c);
	if (rc) {
		free(t);
		return rc;
	}
	txn->be = t;
	return 0;
}

static const char *pg_begin_sql(const struct kv_txn *txn)
{
	return txn->read_only ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
			      : "BEGIN ISOLATION LEVEL SERIALIZABLE";
}

/* Swap a dead pooled connection for a fresh one (nothing has run in this transaction).
 * The idle connections are closed too: they were opened to the same server, which has
 * gone away (or, with a multi-host conninfo, stopped being the primary), so after a
 * failover each would cost one more failed transaction.  Fresh connections pick the
 * server libpq finds now (target_session_attrs).  On failure t->c is NULL and the code
 * is returned. */
static int pg_reconnect(struct kv_txn *txn)
{
	struct pg_db *db = (struct pg_db *)txn->db;
	struct pg_txn *t = txn->be;
	struct pg_conn *idle, *c;
	int n = 0;

	pg_pool_put(db, t->c); /* closes it: the connection is bad */
	t->c = NULL;
	pthread_mutex_lock(&db->mu);
	idle = db->idle;
	db->idle = NULL;
	for (c = idle; c; c = c->next)
		n++;
	db->total -= n;
	pthread_cond_broadcast(&db->cv);
	pthread_mutex_unlock(&db->mu);
	while (idle) {
		c = idle;
		idle = c->next;
		PQfinish(c->conn);
		free(c);
	}
	return pg_pool_get(db, &t->c);
}

/* BEGIN then statement i (i < 0: BEGIN alone) in one pipeline; 0 with *res (statement's
 * result, caller clears) or a code.  t->begun is set when BEGIN ran. */
static int pg_first_once(struct kv_txn *txn, int i, int n, const char *const *vals,
			 const int *lens, ExecStatusType want, PGresult **res)
{
	struct pg_txn *t = txn->be;
	PGconn *conn = t->c->conn;
	static const int fmts[3] = { 1, 1, 1 };
	int rc = 0, nq = i >= 0 ? 2 : 1;

	*res = NULL;
	if (!PQenterPipelineMode(conn))
		return pg_code(conn, NULL, false) ?: -C3FS_EKV;
	if (!PQsendQueryParams(conn, pg_begin_sql(txn), 0, NULL, NULL, NULL, NULL, 0) ||
	    (i >= 0 && !PQsendQueryPrepared(conn, pg_stmt_name[i], n, vals, lens, fmts, 1)) ||
	    !PQpipelineSync(conn))
		return pg_code(conn, NULL, false) ?: -C3FS_EKV; /* pool drops conn */
	for (int q = 0; q < nq; q++) {
		PGresult *r = PQgetResult(conn);
		ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;

		if (!r) {
			rc = rc ?: (pg_code(conn, NULL, false) ?: -C3FS_EKV);
			break;
		}
		if (rc == 0 && q == 0) {
			if (st == PGRES_COMMAND_OK)
				t->begun = true;
			else
				rc = pg_code(conn, r, false);
		} else if (rc == 0) {
			if (st == want) {
				*res = r;
				r = NULL;
			} else {
				rc = pg_code(conn, r, false);
			}
		}
		PQclear(r);
		if (PQstatus(conn) != CONNECTION_OK) {
			rc = rc ?: -C3FS_ECONNECT;
			break;
		}
		PQclear(PQgetResult(conn)); /* the NULL ending this query's results */
	}
	if (PQstatus(conn) == CONNECTION_OK) {
		for (int k = 0; k < 8; k++) { /* up to the sync point */
			PGresult *r = PQgetResult(conn);
			ExecStatusType st = r ? PQresultStatus(r) : PGRES_EMPTY_QUERY;

			PQclear(r);
			if (st == PGRES_PIPELINE_SYNC || PQstatus(conn) != CONNECTION_OK)
				break;
		}
		PQexitPipelineMode(conn);
	}
	if (rc) {
		PQclear(*res);
		*res = NULL;
	}
	return rc;
}

/* pg_first_once, retried once on a fresh connection when the pooled one was dead. */
static int pg_first(struct kv_txn *txn, int i, int n, const char *const *vals,
		    const int *lens, ExecStatusType want, PGresult **res)
{
	struct pg_txn *t = txn->be;
	int rc = pg_first_once(txn, i, n, vals, lens, want, res);

	if (rc == -C3FS_ECONNECT && !t->begun) {
		rc = pg_reconnect(txn);
		if (rc == 0)
			rc = pg_first_once(txn, i, n, vals, lens, want, res);
	}
	return rc;
}

/* Run prepared statement i; 0 with *res (caller clears) or a code (txn is then dead). */
static int pg_run(struct kv_txn *txn, int i, int n, const char *const *vals, const int *lens,
		  ExecStatusType want, PGresult **res)
{
	struct pg_txn *t = txn->be;
	static const int fmts[3] = { 1, 1, 1 };

	*res = NULL;
	if (t->err)
		return t->err;
	if (!t->begun) {
		t->err = pg_first(txn, i, n, vals, lens, want, res);
		return t->err;
	}
	PGresult *r = PQexecPrepared(t->c->conn, pg_stmt_name[i], n, vals, lens, fmts, 1);

	if (PQresultStatus(r) != want) {
		t->err = pg_code(t->c->conn, r, false);
		PQclear(r);
		return t->err;
	}
	*res = r;
	return 0;
}

static int pg_get(struct kv_txn *txn, const uint8_t *key, size_t klen, const uint8_t **val,
		  size_t *vlen)
{
	const char *vals[1] = { (const char *)(klen ? key : (const uint8_t *)"") };
	int lens[1] = { (int)klen };
	PGresult *res;
	int rc = pg_run(txn, PG_GET, 1, vals, lens, PGRES_TUPLES_OK, &res);

	if (rc)
		return rc;
	if (PQntuples(res) == 0) {
		rc = -ENOENT;
	} else {
		size_t n = (size_t)PQgetlength(res, 0, 0);
		const uint8_t *copy = kv__dup(txn, PQgetvalue(res, 0, 0), n);

		if (!copy) {
			rc = -ENOMEM;
		} else {
			*val = copy;
			*vlen = n;
		}
	}
	PQclear(res);
	return rc;
}

static int pg_range(struct kv_txn *txn, const uint8_t *b, size_t bl, const uint8_t *e,
		    size_t el, int limit, bool reverse, struct kv_pair **pairs, bool *more)
{
	uint8_t lim[8];
	const char *vals[3] = { (const char *)(bl ? b : (const uint8_t *)""),
				(const char *)(el ? e : (const uint8_t *)""),
				limit > 0 ? (const char *)lim : NULL };
	int lens[3] = { (int)bl, (int)el, 8 };
	PGresult *res;
	int rc, n;

	*more = false;
	*pairs = NULL;
	/* ask for one more row than the limit so that *more is exact */
	if (limit > 0)
		kv_put_be64(lim, (uint64_t)limit + 1);
	rc = pg_run(txn, reverse ? PG_RANGE_R : PG_RANGE_F, 3, vals, lens, PGRES_TUPLES_OK, &res);
	if (rc)
		return rc;
	n = PQntuples(res);
	if (limit > 0 && n > limit) {
		n = limit;
		*more = true;
	}
	if (n > 0) {
		struct kv_pair *p = kv__alloc(txn, (size_t)n * sizeof(*p));

		for (int i = 0; p && i < n; i++) {
			p[i].klen = (size_t)PQgetlength(res, i, 0);
			p[i].key = kv__dup(txn, PQgetvalue(res, i, 0), p[i].klen);
			p[i].vlen = (size_t)PQgetlength(res, i, 1);
			p[i].val = kv__dup(txn, PQgetvalue(res, i, 1), p[i].vlen);
			if (!p[i].key || !p[i].val)
				p = NULL;
		}
		if (!p)
			rc = -ENOMEM;
		*pairs = p;
	}
	PQclear(res);
	return rc ? rc : n;
}

static void pg_end(struct kv_txn *txn, bool rollback)
{
	struct pg_db *db = (struct pg_db *)txn->db;
	struct pg_txn *t = txn->be;

	if (t->c && rollback && PQstatus(t->c->conn) == CONNECTION_OK &&
	    PQpipelineStatus(t->c->conn) == PQ_PIPELINE_OFF &&
	    PQtransactionStatus(t->c->conn) != PQTRANS_IDLE)
		pg_exec_ok(t->c->conn, "ROLLBACK");
	if (t->c)
		pg_pool_put(db, t->c);
	free(t);
	txn->be = NULL;
}

/* Send every buffered write and COMMIT in one pipeline (one round trip), then read the
 * results in order.  Returns 0 (committed), the first write's error (COMMIT was then
 * skipped by the server: nothing applied), or for a lost connection
 * -C3FS_EKVMAYBECOMMITTED once COMMIT may have reached the server. */
static int pg_commit_pipeline(struct kv_txn *txn)
{
	struct pg_txn *t = txn->be;
	PGconn *conn = t->c->conn;
	const struct kv__wbuf *w = &txn->w;
	static const int fmts[2] = { 1, 1 };
	size_t nsent = 0, nq = w->nranges + w->npoints + 1;
	int rc = 0;

	if (!PQenterPipelineMode(conn))
		return pg_code(conn, NULL, false);
	for (size_t i = 0; i < w->nranges; i++) {
		const struct kv__wrange *r = &w->ranges[i];
		const char *vals[2] = { (const char *)r->b, (const char *)r->e };
		int lens[2] = { (int)r->bl, (int)r->el };

		if (!PQsendQueryPrepared(conn, pg_stmt_name[PG_DELR], 2, vals, lens, fmts, 1))
			goto send_failed;
		nsent++;
	}
	for (size_t i = 0; i < w->npoints; i++) {
		const struct kv__wpoint *p = &w->points[i];
		const char *vals[2] = { (const char *)p->key,
					(const char *)(p->val ? p->val : p->key) };
		int lens[2] = { (int)p->klen, (int)p->vlen };

		if (!PQsendQueryPrepared(conn, pg_stmt_name[p->cleared ? PG_DEL : PG_PUT],
					 p->cleared ? 1 : 2, vals, lens, fmts, 1))
			goto send_failed;
		nsent++;
	}
	if (txn->lazy) { /* kv_txn_set_lazy: COMMIT returns before the WAL flush */
		if (!PQsendQueryParams(conn, "SET LOCAL synchronous_commit TO off", 0, NULL, NULL,
				       NULL, NULL, 0))
			goto send_failed;
		nsent++;
		nq++;
	}
#ifdef C3_TEST_BUILD
	if (kv__pg_before_commit_hook)
		kv__pg_before_commit_hook(PQbackendPID(conn));
#endif
	if (!PQsendQueryParams(conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
		goto send_failed;
	/* from here on COMMIT may reach the server (it executes before the sync arrives) */
	if (!PQpipelineSync(conn))
		return -C3FS_EKVMAYBECOMMITTED;

	/* results: one per query (each followed by a NULL), then the sync point */
	for (size_t q = 0; q < nq; q++) {
		PGresult *res = PQgetResult(conn);
		ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

		if (!res) {
			rc = rc ? rc : pg_code(conn, NULL, true);
			break;
		}
		if (rc == 0) {
			if (st == PGRES_PIPELINE_ABORTED)
				rc = -C3FS_EKV; /* cannot happen before the first error */
			else if (st != PGRES_COMMAND_OK)
				rc = pg_code(conn, res, true);
			else if (q == nq - 1 && strcmp(PQcmdStatus(res), "COMMIT") != 0)
				rc = -C3FS_EKV;
		}
		PQclear(res);
		if (rc == -C3FS_EKVMAYBECOMMITTED)
			break;
		if (PQstatus(conn) != CONNECTION_OK) {
			/* a write that failed first (conflict, ...) means COMMIT never ran */
			if (rc == 0)
				rc = -C3FS_EKVMAYBECOMMITTED;
			break;
		}
		res = PQgetResult(conn); /* the NULL that ends this query's results */
		PQclear(res);
	}
	if (PQstatus(conn) == CONNECTION_OK) {
		/* drain up to the sync point; NULLs only separate results */
		for (size_t i = 0; i < 2 * nq + 8; i++) {
			PGresult *res = PQgetResult(conn);
			ExecStatusType st = res ? PQresultStatus(res) : PGRES_EMPTY_QUERY;

			PQclear(res);
			if (st == PGRES_PIPELINE_SYNC || PQstatus(conn) != CONNECTION_OK)
				break;
		}
		PQexitPipelineMode(conn); /* fails if results remain: the pool then drops conn */
	}
	return rc;

send_failed:
	/* COMMIT was never sent: nothing can be applied.  The connection is left in pipeline
	 * mode inside a transaction, so pg_end closes it instead of pooling it. */
	rc = pg_code(conn, NULL, false);
	return rc ? rc : -C3FS_EKV;
}

static int pg_commit(struct kv_txn *txn)
{
	struct pg_txn *t = txn->be;
	PGconn *conn;
	PGresult *res;
	int rc = t->err;

	if (rc) {
		pg_end(txn, true);
		return rc;
	}
	conn = t->c->conn;
	bool writes = !txn->read_only && (txn->w.npoints || txn->w.nranges);

	if (!t->begun && !writes) { /* nothing ran: nothing to commit */
		pg_end(txn, false);
		return 0;
	}
	if (!t->begun) {
		/* blind writes: BEGIN on its own first, so that a dead pooled connection is
		 * replaced here instead of turning the commit into an unknown outcome */
		PGresult *none;

		rc = pg_first(txn, -1, 0, NULL, NULL, PGRES_COMMAND_OK, &none);
		if (rc) {
			pg_end(txn, true);
			return rc;
		}
		conn = t->c->conn;
	}
	if (writes) {
		rc = pg_commit_pipeline(txn);
		pg_end(txn, rc != 0 && rc != -C3FS_EKVMAYBECOMMITTED);
		return rc;
	}
#ifdef C3_TEST_BUILD
	if (kv__pg_before_commit_hook)
		kv__pg_before_commit_hook(PQbackendPID(conn));
#endif
	res = PQexec(conn, "COMMIT"); /* nothing written: an unknown outcome changes nothing */
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		/* COMMIT of a transaction the server had already failed reports ROLLBACK */
		rc = strcmp(PQcmdStatus(res), "COMMIT") == 0 ? 0 : -C3FS_EKV;
	} else {
		rc = pg_code(conn, res, false);
	}
	PQclear(res);
	pg_end(txn, rc != 0 && rc != -C3FS_EKVMAYBECOMMITTED);
	return rc;
}

static void pg_abort(struct kv_txn *txn)
{
	pg_end(txn, true);
}

const struct kv_ops kv__pg_ops = {
	.name = "pg",
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.get = pg_get,
	.range = pg_range,
	.commit = pg_commit,
	.abort = pg_abort,
};
