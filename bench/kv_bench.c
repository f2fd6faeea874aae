/* kv_bench.c — c3fs-bench-kv: durable commits per second of small, metadata-like
 * transactions.
 *
 *   c3fs-bench-kv [-t THREADS] [-s SECONDS] [-H] URI
 *   c3fs-bench-kv [-t THREADS] [-s SECONDS] [-H] rocksdb:DIR
 *
 * One transaction = a "create file": read the parent's inode (9-byte key, 64-byte value),
 * read the directory entry (26-byte key, absent), write the entry (16 bytes), the new
 * inode (64 bytes) and the parent's inode again.  Each thread creates in its own parent
 * directory, so threads do not conflict and the figure is commit throughput, not retry
 * behaviour.  Every commit is durable (the backends' normal mode).
 * Prints one Markdown table row: | store | threads | commits/s | p50 ms | p99 ms | retries |
 * (-H prints the header first).
 *
 * "rocksdb:DIR" runs the same transactions on RocksDB's OptimisticTransactionDB (C API,
 * sync writes, reads through GetForUpdate so they are validated like ours).  librocksdb is
 * loaded with dlopen() at run time, so c3fs never links against it; this mode exists only
 * for the engine comparison in src/kv/README.md.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errors.h"
#include "kv/kv.h"

static int g_threads = 1;
static double g_seconds = 5;
static const char *g_uri;
static struct kv_db *g_db;
static volatile int g_stop;

/* ---- the RocksDB comparison, through dlopen --------------------------------------- */

struct rocks_api {
	void *(*options_create)(void);
	void (*options_set_create_if_missing)(void *, unsigned char);
	void (*options_increase_parallelism)(void *, int);
	void *(*otxn_db_open)(const void *, const char *, char **);
	void (*otxn_db_close)(void *);
	void *(*writeoptions_create)(void);
	void (*writeoptions_set_sync)(void *, unsigned char);
	void *(*readoptions_create)(void);
	void *(*otxn_options_create)(void);
	void *(*otxn_begin)(void *, const void *, const void *, void *);
	char *(*txn_get_for_update)(void *, const void *, const char *, size_t, size_t *,
				    unsigned char, char **);
	void (*txn_put)(void *, const char *, size_t, const char *, size_t, char **);
	void (*txn_commit)(void *, char **);
	void (*txn_destroy)(void *);
	void (*free_)(void *);
};

static struct rocks_api R;
static void *g_rdb, *g_rwo, *g_rro, *g_rto;

static int rocks_load(const char *dir)
{
	void *h = dlopen("librocksdb.so", RTLD_NOW);
	char *err = NULL;

	if (!h)
		h = dlopen("librocksdb.so.7.8", RTLD_NOW);
	if (!h) {
		fprintf(stderr, "c3fs-bench-kv: cannot load librocksdb: %s\n", dlerror());
		return -1;
	}
#define SYM(field, name)                                                               \
	do {                                                                           \
		*(void **)&R.field = dlsym(h, name);                                   \
		if (!R.field) {                                                        \
			fprintf(stderr, "c3fs-bench-kv: no %s in librocksdb\n", name); \
			return -1;                                                     \
		}                                                                      \
	} while (0)
	SYM(options_create, "rocksdb_options_create");
	SYM(options_set_create_if_missing, "rocksdb_options_set_create_if_missing");
	SYM(options_increase_parallelism, "rocksdb_options_increase_parallelism");
	SYM(otxn_db_open, "rocksdb_optimistictransactiondb_open");
	SYM(otxn_db_close, "rocksdb_optimistictransactiondb_close");
	SYM(writeoptions_create, "rocksdb_writeoptions_create");
	SYM(writeoptions_set_sync, "rocksdb_writeoptions_set_sync");
	SYM(readoptions_create, "rocksdb_readoptions_create");
	SYM(otxn_options_create, "rocksdb_optimistictransaction_options_create");
	SYM(otxn_begin, "rocksdb_optimistictransaction_begin");
	SYM(txn_get_for_update, "rocksdb_transaction_get_for_update");
	SYM(txn_put, "rocksdb_transaction_put");
	SYM(txn_commit, "rocksdb_transaction_commit");
	SYM(txn_destroy, "rocksdb_transaction_destroy");
	SYM(free_, "rocksdb_free");
#undef SYM
	void *opt = R.options_create();

	R.options_set_create_if_missing(opt, 1);
	R.options_increase_parallelism(opt, 2);
	g_rdb = R.otxn_db_open(opt, dir, &err);
	if (!g_rdb) {
		fprintf(stderr, "c3fs-bench-kv: rocksdb open %s: %s\n", dir, err ? err : "?");
		return -1;
	}
	g_rwo = R.writeoptions_create();
	R.writeoptions_set_sync(g_rwo, 1);
	g_rro = R.readoptions_create();
	g_rto = R.otxn_options_create();
	return 0;
}

/* ---- the workload ------------------------------------------------------------------ */

struct op_keys {
	uint8_t parent[9], dent[26], inode[9];
	uint8_t pval[64], dval[16], ival[64];
};

/* Names start at a per-run base so that runs over an existing store keep creating. */
static uint64_t g_base;

static void op_keys_make(struct op_keys *k, int thread, uint64_t i)
{
	i += g_base;
	uint64_t parent = (uint64_t)thread + 1, ino = ((uint64_t)(thread + 1) << 40) + i;

	k->parent[0] = 'I';
	kv_put_be64(k->parent + 1, parent);
	k->dent[0] = 'D';
	kv_put_be64(k->dent + 1, parent);
	char name[24];

	snprintf(name, sizeof(name), "file-%012llu", (unsigned long long)(i % 1000000000000ull));
	memcpy(k->dent + 9, name, 17);
	k->inode[0] = 'I';
	kv_put_be64(k->inode + 1, ino);
	memset(k->pval, 0x50, sizeof(k->pval));
	kv_put_be64(k->pval, i);
	kv_put_be64(k->dval, ino);
	memset(k->dval + 8, 0, 8);
	memset(k->ival, 0x49, sizeof(k->ival));
}

struct create_arg {
	const struct op_keys *k;
};

static int create_fn(struct kv_txn *t, void *arg)
{
	const struct op_keys *k = ((struct create_arg *)arg)->k;
	const uint8_t *v;
	size_t vl;
	int rc;

	rc = kv_get(t, k->parent, sizeof(k->parent), &v, &vl);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	rc = kv_get(t, k->dent, sizeof(k->dent), &v, &vl);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	if ((rc = kv_set(t, k->dent, sizeof(k->dent), k->dval, sizeof(k->dval))) < 0 ||
	    (rc = kv_set(t, k->inode, sizeof(k->inode), k->ival, sizeof(k->ival))) < 0 ||
	    (rc = kv_set(t, k->parent, sizeof(k->parent), k->pval, sizeof(k->pval))) < 0)
		return rc;
	return 0;
}

static int rocks_create(const struct op_keys *k, uint64_t *retries)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		void *txn = R.otxn_begin(g_rdb, g_rwo, g_rto, NULL);
		char *err = NULL, *v;
		size_t vl;

		v = R.txn_get_for_update(txn, g_rro, (const char *)k->parent, sizeof(k->parent), &vl,
					 1, &err);
		R.free_(v);
		if (!err) {
			v = R.txn_get_for_update(txn, g_rro, (const char *)k->dent, sizeof(k->dent),
						 &vl, 1, &err);
			if (v) {
				R.free_(v);
				R.txn_destroy(txn);
				return -EEXIST;
			}
		}
		if (!err)
			R.txn_put(txn, (const char *)k->dent, sizeof(k->dent), (const char *)k->dval,
				  sizeof(k->dval), &err);
		if (!err)
			R.txn_put(txn, (const char *)k->inode, sizeof(k->inode),
				  (const char *)k->ival, sizeof(k->ival), &err);
		if (!err)
			R.txn_put(txn, (const char *)k->parent, sizeof(k->parent),
				  (const char *)k->pval, sizeof(k->pval), &err);
		if (!err)
			R.txn_commit(txn, &err);
		R.txn_destroy(txn);
		if (!err)
			return 0;
		/* "Resource busy" is the optimistic conflict: retry */
		int busy = strstr(err, "Busy") || strstr(err, "busy") || strstr(err, "TryAgain");

		R.free_(err);
		if (!busy)
			return -EIO;
		(*retries)++;
	}
	return -C3FS_ECONFLICT;
}

struct worker {
	int id;
	uint64_t ops, errors, retries;
	uint32_t *lat_us; /* one per op */
	size_t cap;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct op_keys k;

	for (uint64_t i = 0; !g_stop; i++) {
		uint64_t t0 = c3_now_ns();
		int rc;

		op_keys_make(&k, w->id, i);
		if (g_rdb) {
			rc = rocks_create(&k, &w->retries);
		} else {
			struct create_arg a = { &k };

			rc = kv_run(g_db, false, create_fn, &a);
		}
		if (rc < 0) {
			w->errors++;
			if (w->errors == 1)
				fprintf(stderr, "c3fs-bench-kv: thread %d: %s\n", w->id, c3_strerror(rc));
			continue;
		}
		if (w->ops == w->cap) {
			size_t nc = w->cap ? 2 * w->cap : 4096;
			uint32_t *n = realloc(w->lat_us, nc * sizeof(*n));

			if (!n)
				break;
			w->lat_us = n;
			w->cap = nc;
		}
		uint64_t us = (c3_now_ns() - t0) / 1000;

		w->lat_us[w->ops++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr, "usage: c3fs-bench-kv [-t THREADS] [-s SECONDS] [-H] URI|rocksdb:DIR\n");
}

int main(int argc, char **argv)
{
	int opt, header = 0, rc;

	while ((opt = getopt(argc, argv, "t:s:H")) != -1) {
		switch (opt) {
		case 't':
			g_threads = atoi(optarg);
			break;
		case 's':
			g_seconds = atof(optarg);
			break;
		case 'H':
			header = 1;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc - 1 || g_threads < 1 || g_threads > 256 || g_seconds <= 0) {
		usage();
		return 2;
	}
	g_uri = argv[optind];
	g_base = (c3_wall_ns() / 1000) % 100000000000ull * 8;
	const char *store = g_uri;

	if (strncmp(g_uri, "rocksdb:", 8) == 0) {
		if (rocks_load(g_uri + 8) < 0)
			return 1;
		store = "rocksdb-otxn";
	} else {
		rc = kv_db_open(g_uri, &g_db);
		if (rc < 0) {
			fprintf(stderr, "c3fs-bench-kv: open %s: %s\n", g_uri, c3_strerror(rc));
			return 1;
		}
		store = kv_db_backend(g_db);
		if (strcmp(store, "lmdb") == 0 && strstr(g_uri, "sync=wal"))
			store = "lmdb sync=wal";
	}
	struct worker *w = calloc((size_t)g_threads, sizeof(*w));
	pthread_t *th = calloc((size_t)g_threads, sizeof(*th));

	if (!w || !th)
		return 1;
	uint64_t t0 = c3_now_ns();

	for (int i = 0; i < g_threads; i++) {
		w[i].id = i;
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	c3_sleep_ms((uint64_t)(g_seconds * 1000));
	g_stop = 1;
	uint64_t ops = 0, errors = 0, retries = 0;

	for (int i = 0; i < g_threads; i++)
		pthread_join(th[i], NULL);
	double secs = (double)(c3_now_ns() - t0) / 1e9;
	size_t n = 0;

	for (int i = 0; i < g_threads; i++) {
		ops += w[i].ops;
		errors += w[i].errors;
		retries += w[i].retries;
	}
	uint32_t *all = malloc((ops ? ops : 1) * sizeof(*all));

	for (int i = 0; i < g_threads && all; i++) {
		memcpy(all + n, w[i].lat_us, w[i].ops * sizeof(*all));
		n += w[i].ops;
		free(w[i].lat_us);
	}
	if (all && n)
		qsort(all, n, sizeof(*all), cmp_u32);
	if (header) {
		printf("| store | threads | commits/s | p50 ms | p99 ms | errors |\n");
		printf("|---|---:|---:|---:|---:|---:|\n");
	}
	printf("| %s | %d | %.0f | %.2f | %.2f | %llu |\n", store, g_threads, (double)ops / secs,
	       n ? all[n / 2] / 1000.0 : 0, n ? all[(size_t)((double)n * 0.99)] / 1000.0 : 0,
	       (unsigned long long)errors);
	if (retries)
		fprintf(stderr, "c3fs-bench-kv: %llu rocksdb conflict retries\n",
			(unsigned long long)retries);
	free(all);
	free(w);
	free(th);
	if (g_db)
		kv_db_close(g_db);
	if (g_rdb)
		R.otxn_db_close(g_rdb);
	return errors ? 1 : 0;
}
