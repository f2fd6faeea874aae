/* kv_workload.h — the committing workload of the KV crash tests (test_kv_crash.c,
 * test_kv_powerloss.c) and the check of what survived.
 *
 * Each writer thread t commits, one transaction per step s = 0, 1, ...: key
 * "seq/"<t be32><s be64> -> a KW_VLEN-byte value starting with <s be64>, and "last"<t be32>
 * -> <s be64>; after kv_txn_commit() returned 0 it acknowledges (t, s) on a pipe as 12
 * bytes.  A restarted writer continues after its "last".  After a crash, every
 * acknowledged step must be present, and each thread's keys must be gap-free and agree
 * with its "last" (the transactions were atomic).
 *
 * With kw_lazy_mod = m > 0, steps not divisible by m commit lazily (kv_txn_set_lazy) and
 * are not acknowledged: a crash may lose them, but only as a suffix — the gap-free check
 * then shows that no durable commit survived without the lazy ones before it.
 *
 * Include after defining KW_THREADS and KW_VLEN (>= 8).
 */
#ifndef C3FS_TESTS_KV_WORKLOAD_H
#define C3FS_TESTS_KV_WORKLOAD_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kv/kv.h"
#include "tests/lib/tap.h"

static inline void kw_last_key(uint8_t *k, uint32_t t)
{
	memcpy(k, "last", 4);
	kv_put_be32(k + 4, t);
}

static inline void kw_seq_key(uint8_t *k, uint32_t t, uint64_t s)
{
	memcpy(k, "seq/", 4);
	kv_put_be32(k + 4, t);
	kv_put_be64(k + 8, s);
}

static int kw_lazy_mod; /* set before kw_child */

struct kw_writer {
	struct kv_db *db;
	uint32_t t;
	int ackfd;
};

/* One writer thread, forever; exits the process (3..5) on an error. */
static inline void *kw_writer_main(void *arg)
{
	struct kw_writer *a = arg;
	uint8_t lk[8], sk[16], v[KW_VLEN], rec[12];
	uint64_t next = 0;
	struct kv_txn *t;
	const uint8_t *val;
	size_t vl;

	kw_last_key(lk, a->t);
	if (kv_txn_begin(a->db, true, &t) == 0) {
		if (kv_get(t, lk, 8, &val, &vl) == 0 && vl == 8)
			next = kv_get_be64(val) + 1;
		kv_txn_abort(t);
	}
	memset(v, 0x5a, sizeof(v));
	for (;; next++) {
		if (kv_txn_begin(a->db, false, &t) < 0)
			_exit(3);
		kw_seq_key(sk, a->t, next);
		kv_put_be64(v, next);
		kv_set(t, sk, 16, v, sizeof(v));
		kv_set(t, lk, 8, v, 8);
		bool lazy = kw_lazy_mod > 0 && next % (uint64_t)kw_lazy_mod != 0;

		if (lazy)
			kv_txn_set_lazy(t);
		if (kv_txn_commit(t) != 0)
			_exit(4);
		if (lazy)
			continue;
		kv_put_be32(rec, a->t);
		kv_put_be64(rec + 4, next);
		/* a raw write: never seen by an interposer of write(2) */
		if (syscall(SYS_write, a->ackfd, rec, sizeof(rec)) != (long)sizeof(rec))
			_exit(5);
	}
	return NULL;
}

/* In the child: open uri and run KW_THREADS writers acknowledging on ackfd, until killed. */
static inline void kw_child(const char *uri, int ackfd)
{
	static struct kw_writer a[KW_THREADS];
	pthread_t th[KW_THREADS];
	struct kv_db *db;

	if (kv_db_open(uri, &db) < 0)
		_exit(2);
	for (uint32_t i = 0; i < KW_THREADS; i++) {
		a[i] = (struct kw_writer){ db, i, ackfd };
		pthread_create(&th[i], NULL, kw_writer_main, &a[i]);
	}
	for (;;)
		pause();
}

/* In the parent, after the child died: raise acked[t] to the highest step acknowledged on
 * fd.  Returns the number of acknowledgements read. */
static inline int kw_read_acks(int fd, int64_t *acked)
{
	uint8_t rec[12];
	int nrec = 0;

	while (read(fd, rec, sizeof(rec)) == (ssize_t)sizeof(rec)) {
		uint32_t t = kv_get_be32(rec);
		int64_t s = (int64_t)kv_get_be64(rec + 4);

		if (t < KW_THREADS && s > acked[t])
			acked[t] = s;
		nrec++;
	}
	return nrec;
}

/* Check the store opened at uri against acked[] (diag lines for what is wrong), then set
 * acked[t] to each thread's "last" (where its next run continues).  Returns the number of
 * problems, or -1 if the store does not open. */
static inline int kw_check(const char *uri, int64_t *acked)
{
	struct kv_db *db;
	struct kv_txn *t;
	int bad = 0;

	if (kv_db_open(uri, &db) < 0)
		return -1;
	kv_txn_begin(db, true, &t);
	for (uint32_t i = 0; i < KW_THREADS; i++) {
		uint8_t lk[8], b[16], e[16];
		const uint8_t *v;
		size_t vl;
		int64_t last = -1;
		struct kv_pair *p;
		bool more;

		kw_last_key(lk, i);
		if (kv_get(t, lk, 8, &v, &vl) == 0 && vl == 8)
			last = (int64_t)kv_get_be64(v);
		kw_seq_key(b, i, 0);
		kw_seq_key(e, i, UINT64_MAX);
		int n = kv_range(t, b, 16, e, 16, 0, false, &p, &more);

		if (last < acked[i]) {
			diag("thread %u: last %lld < acknowledged %lld", i, (long long)last,
			     (long long)acked[i]);
			bad++;
		}
		if (n != last + 1) {
			diag("thread %u: %d keys but last = %lld", i, n, (long long)last);
			bad++;
		}
		for (int j = 0; j < n && !bad; j++)
			if (kv_get_be64(p[j].key + 8) != (uint64_t)j || p[j].vlen != KW_VLEN ||
			    kv_get_be64(p[j].val) != (uint64_t)j) {
				diag("thread %u: key %d is not step %d", i, j, j);
				bad++;
			}
		acked[i] = last;
	}
	kv_txn_abort(t);
	kv_db_close(db);
	return bad;
}

#endif
