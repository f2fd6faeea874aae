/* storage_meta.c — c3fs-bench-storage-meta: the chunk-metadata workload on LMDB vs RocksDB.
 *
 *   c3fs-bench-storage-meta DIR SECONDS
 *
 * The workload of the chunk engine's metadata store: every chunk update replaces one record
 * (12-byte key; value = ~40-byte header + one CRC32C per block: 1 KiB for a 1 MiB chunk,
 * 4 KiB for a 4 MiB chunk) and must be durable before it is acknowledged.  Threads update
 * distinct keys.  Measured for 1 and 4 threads:
 *   lmdb        one write transaction per update (mdb_txn_commit syncs)
 *   lmdb-group  updates arriving together share one transaction (the engine's group
 *               commit: a leader commits everything queued while the previous commit ran)
 *   rocksdb     rocksdb_put with sync=1 (RocksDB's own write-group batching of the WAL)
 * Prints Markdown table rows: | store | value bytes | threads | updates/s |.
 */
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"

enum store { S_LMDB, S_LMDB_GROUP, S_ROCKS };

struct gc_item {
	uint8_t key[12];
	const uint8_t *val;
	size_t vlen;
	bool done;
	int rc;
	struct gc_item *next;
};

struct bench {
	enum store store;
	size_t vlen;
	uint64_t deadline;
	MDB_env *env;
	MDB_dbi dbi;
	rocksdb_t *rdb;
	rocksdb_writeoptions_t *wo;
	atomic_uint_fast64_t ops;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gc_item *queue;
	bool busy;
};

static int lmdb_commit_batch(struct bench *b, struct gc_item *batch)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(b->env, NULL, 0, &txn);

	for (struct gc_item *it = batch; it && !rc; it = it->next) {
		MDB_val k = { 12, it->key }, v = { it->vlen, (void *)it->val };

		rc = mdb_put(txn, b->dbi, &k, &v, 0);
	}
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

static int lmdb_group_put(struct bench *b, const uint8_t *key, const uint8_t *val, size_t vlen)
{
	struct gc_item me;

	memset(&me, 0, sizeof(me));
	memcpy(me.key, key, 12);
	me.val = val;
	me.vlen = vlen;
	pthread_mutex_lock(&b->mu);
	me.next = b->queue;
	b->queue = &me;
	while (!me.done) {
		if (!b->busy) {
			struct gc_item *batch = b->queue, *it;
			int rc;

			b->queue = NULL;
			b->busy = true;
			pthread_mutex_unlock(&b->mu);
			rc = lmdb_commit_batch(b, batch);
			pthread_mutex_lock(&b->mu);
			for (it = batch; it; it = it->next) {
				it->rc = rc;
				it->done = true;
			}
			b->busy = false;
			pthread_cond_broadcast(&b->cv);
		} else {
			pthread_cond_wait(&b->cv, &b->mu);
		}
	}
	pthread_mutex_unlock(&b->mu);
	return me.rc;
}

struct worker_arg {
	struct bench *b;
	uint32_t id;
};

static void *worker(void *arg)
{
	struct worker_arg *w = arg;
	struct bench *b = w->b;
	uint8_t key[12], *val = malloc(b->vlen);

	for (size_t i = 0; i < b->vlen; i++)
		val[i] = (uint8_t)(i * 7 + w->id);
	for (uint64_t n = 0; c3_now_ns() < b->deadline; n++) {
		uint64_t ino = w->id;
		uint32_t idx = (uint32_t)(n % 4096);
		int rc;

		for (int i = 0; i < 8; i++)
			key[i] = (uint8_t)(ino >> (56 - 8 * i));
		for (int i = 0; i < 4; i++)
			key[8 + i] = (uint8_t)(idx >> (24 - 8 * i));
		val[0] = (uint8_t)n;
		if (b->store == S_ROCKS) {
			char *err = NULL;

			rocksdb_put(b->rdb, b->wo, (const char *)key, 12, (const char *)val, b->vlen,
				    &err);
			rc = err ? -EIO : 0;
			free(err);
		} else if (b->store == S_LMDB_GROUP) {
			rc = lmdb_group_put(b, key, val, b->vlen);
		} else {
			struct gc_item one = { .val = val, .vlen = b->vlen };

			memcpy(one.key, key, 12);
			rc = lmdb_commit_batch(b, &one);
		}
		if (rc) {
			fprintf(stderr, "put failed: %d\n", rc);
			break;
		}
		atomic_fetch_add(&b->ops, 1);
	}
	free(val);
	return NULL;
}

static double run(const char *dir, enum store store, size_t vlen, int threads, int secs)
{
	struct bench b;
	pthread_t th[16];
	struct worker_arg wa[16];
	char path[4096];
	uint64_t t0;
	double r;

	memset(&b, 0, sizeof(b));
	b.store = store;
	b.vlen = vlen;
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	snprintf(path, sizeof(path), "%s/%s-%zu-%d", dir, store == S_ROCKS ? "rocks" : "lmdb",
		 vlen, threads);
	mkdir(path, 0755);
	if (store == S_ROCKS) {
		rocksdb_options_t *o = rocksdb_options_create();
		char *err = NULL;

		rocksdb_options_set_create_if_missing(o, 1);
		b.rdb = rocksdb_open(o, path, &err);
		rocksdb_options_destroy(o);
		if (!b.rdb) {
			fprintf(stderr, "rocksdb: %s\n", err);
			free(err);
			return -1;
		}
		b.wo = rocksdb_writeoptions_create();
		rocksdb_writeoptions_set_sync(b.wo, 1);
	} else {
		MDB_txn *txn;

		if (mdb_env_create(&b.env) || mdb_env_set_mapsize(b.env, 1ull << 30) ||
		    mdb_env_open(b.env, path, MDB_NOTLS, 0644) || mdb_txn_begin(b.env, NULL, 0, &txn) ||
		    mdb_dbi_open(txn, NULL, 0, &b.dbi) || mdb_txn_commit(txn))
			return -1;
	}
	b.deadline = c3_now_ns() + (uint64_t)secs * 1000000000ull;
	t0 = c3_now_ns();
	for (int i = 0; i < threads; i++) {
		wa[i].b = &b;
		wa[i].id = (uint32_t)i + 1;
		pthread_create(&th[i], NULL, worker, &wa[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	r = (double)b.ops * 1e9 / (double)(c3_now_ns() - t0);
	if (b.rdb) {
		rocksdb_writeoptions_destroy(b.wo);
		rocksdb_close(b.rdb);
	}
	if (b.env)
		mdb_env_close(b.env);
	return r;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "lmdb", "lmdb-group", "rocksdb" };
	const size_t vlens[] = { 1024 + 44, 4096 + 44 };
	int secs;

	if (argc != 3) {
		fprintf(stderr, "usage: c3fs-bench-storage-meta DIR SECONDS\n");
		return 2;
	}
	secs = atoi(argv[2]);
	for (int v = 0; v < 2; v++)
		for (int t = 1; t <= 4; t *= 4)
			for (int s = 0; s < 3; s++)
				printf("| %s | %zu | %d | %.0f |\n", names[s], vlens[v], t,
				       run(argv[1], (enum store)s, vlens[v], t, secs));
	return 0;
}
