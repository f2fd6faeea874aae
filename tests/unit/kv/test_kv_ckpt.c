/* test_kv_ckpt.c — the shared checkpointer of an LMDB environment behind a kv_wal log
 * (kv_ckpt.[ch], used by the lmdb backend's sync=wal and the storage journal): the two
 * halves alone and through the thread's state machine, the owner's hooks, a meta page
 * that names another snapshot, a short data.mdb, and restoring a checkpoint's meta pages
 * (LMDB then opens at the checkpoint's snapshot). */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kv/kv_ckpt.h"
#include "kv/kv_wal.h"
#include "tests/lib/tap.h"

struct owner {
	pthread_mutex_t mu, lk;
	pthread_cond_t cv;
	int locks, pre_syncs, dones, done_rc, idles;
	bool held;
};

static void o_lock(void *arg)
{
	struct owner *o = arg;

	pthread_mutex_lock(&o->lk);
	o->held = true;
	o->locks++;
}

static void o_unlock(void *arg)
{
	struct owner *o = arg;

	o->held = false;
	pthread_mutex_unlock(&o->lk);
}

static int o_err(int rc)
{
	return rc == 0 ? 0 : rc > 0 ? -rc : -EIO;
}

static int o_pre_sync(void *arg)
{
	((struct owner *)arg)->pre_syncs++;
	return 0;
}

static void o_done(void *arg, int rc)
{
	struct owner *o = arg;

	o->dones++;
	o->done_rc = rc;
}

static bool o_idle(void *arg)
{
	((struct owner *)arg)->idles++;
	return false;
}

static const struct kv_ckpt_ops ops = { o_lock, o_unlock, o_err, o_pre_sync, o_done, o_idle };

static MDB_env *env_open(const char *dir, MDB_dbi *dbi)
{
	MDB_env *env;
	MDB_txn *t;

	if (mdb_env_create(&env) || mdb_env_set_mapsize(env, 64u << 20) ||
	    mdb_env_open(env, dir, MDB_NOSYNC | MDB_NOTLS, 0600))
		return NULL;
	if (mdb_txn_begin(env, NULL, 0, &t) || mdb_dbi_open(t, NULL, 0, dbi) || mdb_txn_commit(t))
		return NULL;
	return env;
}

static int put(MDB_env *env, MDB_dbi dbi, const char *k)
{
	MDB_txn *t;
	MDB_val key = { strlen(k), (void *)k }, val = key;
	int rc = mdb_txn_begin(env, NULL, 0, &t);

	if (rc)
		return rc;
	rc = mdb_put(t, dbi, &key, &val, 0);
	return rc ? (mdb_txn_abort(t), rc) : mdb_txn_commit(t);
}

static bool has(MDB_env *env, MDB_dbi dbi, const char *k)
{
	MDB_txn *t;
	MDB_val key = { strlen(k), (void *)k }, val;
	bool found;

	if (mdb_txn_begin(env, NULL, MDB_RDONLY, &t))
		return false;
	found = mdb_get(t, dbi, &key, &val) == 0;
	mdb_txn_abort(t);
	return found;
}

static int file_of(const char *dir, const char *name, size_t zeros)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0 && zeros && ftruncate(fd, (off_t)zeros) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(void)
{
	char dir[] = "/tmp/c3fs-kvckpt-XXXXXX";
	struct owner o = { .mu = PTHREAD_MUTEX_INITIALIZER, .lk = PTHREAD_MUTEX_INITIALIZER,
			   .cv = PTHREAD_COND_INITIALIZER };
	struct kv_ckpt ck = { .ops = &ops, .owner = &o, .name = "test", .off_hint = "off",
			      .corrupt_rc = -EPROTO, .mu = &o.mu, .cv = &o.cv, .datafd = -1 };
	struct kv_wal *wal = NULL;
	struct kv_wal_ckpt saved;
	MDB_env *env;
	MDB_dbi dbi;
	uint8_t pages[2 * KV_WAL_PSIZE_MAX];
	int dirfd, rc, fd;

	if (!mkdtemp(dir))
		tap_skip_all("no temporary directory");
	env = env_open(dir, &dbi);
	ok(env != NULL, "LMDB environment (NOSYNC)");
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	is_int(kv_wal_open(dirfd, true, &wal), 0, "log created");
	is_int(put(env, dbi, "a"), 0, "first key");

	is_int(kv_ckpt_init(&ck, env, dirfd, wal), 0, "init");
	ok(ck.psize >= 4096 && ck.psize <= KV_WAL_PSIZE_MAX && ck.datafd >= 0 && ck.metas,
	   "init: page size, data.mdb, buffer");

	/* alone, as at open */
	rc = kv_ckpt_now(&ck, false, false);
	is_int(rc, 0, "a checkpoint alone");
	ok(ck.pin && !ck.next_pin, "its snapshot is pinned");
	is_int(o.pre_syncs, 0, "no pre_sync when not asked");
	ok(o.locks >= 2 && !o.held, "the owner's lock around the snapshot, released");
	ok(pread(ck.datafd, pages, 2 * ck.psize, 0) == (ssize_t)(2 * ck.psize) &&
	   memcmp(pages, ck.metas, 2 * ck.psize) == 0, "the copied meta pages are data.mdb's");

	/* through the thread: claim, begin, hand over; the thread finishes */
	is_int(kv_ckpt_start(&ck), 0, "thread started");
	is_int(put(env, dbi, "b"), 0, "second key");
	pthread_mutex_lock(&o.mu);
	ok(kv_ckpt_claim(&ck), "claim when idle");
	ok(!kv_ckpt_claim(&ck), "no second claim while one is in progress");
	pthread_mutex_unlock(&o.mu);
	rc = kv_ckpt_begin(&ck);
	is_int(rc, 0, "begin as the leader");
	MDB_txn *old_pin = ck.pin;

	pthread_mutex_lock(&o.mu);
	kv_ckpt_hand_over(&ck, rc);
	kv_ckpt_wait_idle(&ck);
	pthread_mutex_unlock(&o.mu);
	ok(o.dones == 1 && o.done_rc == 0, "the thread finished it and told the owner");
	is_int(o.pre_syncs, 1, "the thread ran pre_sync");
	ok(ck.pin && ck.pin != old_pin && !ck.next_pin, "the pin moved to the new snapshot");
	ok(o.idles >= 1, "the thread asked the owner for idle work");

	/* a failed begin handed over: idle again, nothing for the thread */
	pthread_mutex_lock(&o.mu);
	ok(kv_ckpt_claim(&ck), "claim again");
	kv_ckpt_hand_over(&ck, -EIO);
	is_int(ck.state, 0, "a failed begin leaves the state idle");
	pthread_mutex_unlock(&o.mu);
	is_int(o.dones, 1, "and the thread finished nothing");

	/* meta pages that name another snapshot; a short data.mdb */
	int real = ck.datafd;

	fd = file_of(dir, "zeros", 2 * ck.psize);
	ck.datafd = fd;
	is_int(kv_ckpt_begin(&ck), -EPROTO, "meta pages of another snapshot: corrupt_rc");
	ok(!ck.next_pin && !o.held, "nothing pinned, the lock released");
	close(fd);
	fd = file_of(dir, "empty", 0);
	ck.datafd = fd;
	is_int(kv_ckpt_begin(&ck), -EPROTO, "a short data.mdb: corrupt_rc");
	close(fd);
	ck.datafd = real;

	/* stop the thread, a last checkpoint, keys after it */
	kv_ckpt_stop(&ck);
	ok(!ck.thread, "thread stopped");
	is_int(kv_ckpt_now(&ck, false, true), 0, "a checkpoint alone, with pre_sync");
	is_int(o.pre_syncs, 2, "pre_sync ran");
	is_int(put(env, dbi, "late1"), 0, "a key after the checkpoint");
	is_int(put(env, dbi, "late2"), 0, "another");
	kv_ckpt_release(&ck);
	ok(!ck.pin && ck.datafd == -1 && !ck.metas, "release");
	kv_ckpt_release(&ck); /* twice is harmless */
	mdb_env_close(env);
	kv_wal_close(wal);

	/* the checkpoint as read back, and restoring it */
	is_int(kv_wal_open(dirfd, false, &wal), 0, "log reopened");
	ok(wal && kv_wal_ckpt(wal), "it holds a checkpoint");
	memcpy(&saved, kv_wal_ckpt(wal), sizeof(saved));
	kv_wal_close(wal);
	is_int(kv_ckpt_restore_metas(dirfd, &saved), 0, "meta pages restored");
	env = env_open(dir, &dbi);
	ok(env && has(env, dbi, "a") && has(env, dbi, "b"), "LMDB opens at the checkpoint");
	ok(env && !has(env, dbi, "late1") && !has(env, dbi, "late2"),
	   "without the commits after it");
	if (env)
		mdb_env_close(env);
	close(dirfd);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			diag("could not remove %s", dir);
	}
	return tap_done();
}
