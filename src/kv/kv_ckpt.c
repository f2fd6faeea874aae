/* kv_ckpt.c — checkpoints of an LMDB environment behind a kv_wal log (contract, state
 * machine and ownership: kv_ckpt.h; crash argument: README.md, "lmdb sync=wal"). */
#include "kv/kv_ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/log.h"

int kv_ckpt_init(struct kv_ckpt *ck, MDB_env *env, int dirfd, struct kv_wal *wal)
{
	MDB_stat st;

	ck->env = env;
	ck->wal = wal;
	mdb_env_stat(env, &st);
	ck->psize = st.ms_psize;
	ck->metas = malloc(2 * (size_t)ck->psize);
	ck->datafd = openat(dirfd, "data.mdb", O_RDONLY | O_CLOEXEC);
	if (ck->datafd < 0)
		return -errno;
	if (!ck->metas)
		return -ENOMEM;
	return ck->psize > KV_WAL_PSIZE_MAX ? ck->corrupt_rc : 0;
}

void kv_ckpt_release(struct kv_ckpt *ck)
{
	if (ck->pin)
		mdb_txn_abort(ck->pin);
	if (ck->next_pin)
		mdb_txn_abort(ck->next_pin);
	ck->pin = ck->next_pin = NULL;
	if (ck->datafd >= 0)
		close(ck->datafd);
	ck->datafd = -1;
	free(ck->metas);
	ck->metas = NULL;
}

int kv_ckpt_begin(struct kv_ckpt *ck)
{
	size_t n = 2 * (size_t)ck->psize;
	uint64_t t0, t1, top;
	MDB_txn *r;
	ssize_t got;
	int rc;

	ck->ops->lock(ck->owner);
	rc = ck->ops->mdb_err(mdb_txn_begin(ck->env, NULL, MDB_RDONLY, &r));
	if (rc) {
		ck->ops->unlock(ck->owner);
		return rc;
	}
	got = pread(ck->datafd, ck->metas, n, 0);
	ck->ops->unlock(ck->owner);
	if (got != (ssize_t)n) {
		rc = got < 0 ? -errno : ck->corrupt_rc;
		goto fail;
	}
	memcpy(&t0, ck->metas + KV_CKPT_META_TXNID_OFF, 8);
	memcpy(&t1, ck->metas + ck->psize + KV_CKPT_META_TXNID_OFF, 8);
	top = t0 > t1 ? t0 : t1;
	if (top != (uint64_t)mdb_txn_id(r)) {
		LOG_ERROR("%s: LMDB meta pages name txn %llu, the snapshot is %llu: unknown LMDB "
			  "file layout, %s",
			  ck->name, (unsigned long long)top, (unsigned long long)mdb_txn_id(r),
			  ck->off_hint);
		rc = ck->corrupt_rc;
		goto fail;
	}
	kv_wal_switch(ck->wal, &ck->seq, &ck->file);
	ck->next_pin = r;
	return 0;
fail:
	ck->ops->lock(ck->owner);
	mdb_txn_abort(r);
	ck->ops->unlock(ck->owner);
	return rc;
}

int kv_ckpt_finish(struct kv_ckpt *ck, bool clean, bool pre_sync)
{
	int rc = pre_sync && ck->ops->pre_sync ? ck->ops->pre_sync(ck->owner) : 0;

	if (!rc)
		rc = ck->ops->mdb_err(mdb_env_sync(ck->env, 1));
	if (!rc)
		rc = kv_wal_write_ckpt(ck->wal, ck->seq, ck->file, clean, ck->metas, ck->psize);
	ck->ops->lock(ck->owner);
	if (rc == 0) {
		if (ck->pin)
			mdb_txn_abort(ck->pin);
		ck->pin = ck->next_pin; /* the old snapshot's pages may be reused from now on */
	} else {
		mdb_txn_abort(ck->next_pin);
	}
	ck->ops->unlock(ck->owner);
	ck->next_pin = NULL;
	return rc;
}

int kv_ckpt_now(struct kv_ckpt *ck, bool clean, bool pre_sync)
{
	int rc = kv_ckpt_begin(ck);

	return rc ? rc : kv_ckpt_finish(ck, clean, pre_sync);
}

static void *kv_ckpt_thread(void *arg)
{
	struct kv_ckpt *ck = arg;

	pthread_mutex_lock(ck->mu);
	for (;;) {
		if (ck->state == 2) {
			pthread_mutex_unlock(ck->mu);
			int rc = kv_ckpt_finish(ck, false, true);

			pthread_mutex_lock(ck->mu);
			ck->ops->done(ck->owner, rc);
			ck->state = 0;
			pthread_cond_broadcast(ck->cv);
			continue;
		}
		if (ck->ops->idle && ck->ops->idle(ck->owner))
			continue;
		if (ck->stop)
			break;
		pthread_cond_wait(ck->cv, ck->mu);
	}
	pthread_mutex_unlock(ck->mu);
	return NULL;
}

int kv_ckpt_start(struct kv_ckpt *ck)
{
	int rc = pthread_create(&ck->thr, NULL, kv_ckpt_thread, ck);

	if (rc)
		return -rc;
	ck->thread = true;
	return 0;
}

void kv_ckpt_wait_idle(struct kv_ckpt *ck)
{
	while (ck->state != 0)
		pthread_cond_wait(ck->cv, ck->mu);
}

void kv_ckpt_stop(struct kv_ckpt *ck)
{
	if (!ck->thread)
		return;
	pthread_mutex_lock(ck->mu);
	kv_ckpt_wait_idle(ck);
	ck->stop = true;
	pthread_cond_broadcast(ck->cv);
	pthread_mutex_unlock(ck->mu);
	pthread_join(ck->thr, NULL);
	ck->thread = false;
}

bool kv_ckpt_claim(struct kv_ckpt *ck)
{
	if (ck->state != 0)
		return false;
	ck->state = 1;
	return true;
}

void kv_ckpt_hand_over(struct kv_ckpt *ck, int rc)
{
	ck->state = rc == 0 ? 2 : 0;
	pthread_cond_broadcast(ck->cv);
}

int kv_ckpt_restore_metas(int dirfd, const struct kv_wal_ckpt *c)
{
	size_t n = 2 * (size_t)c->psize;
	int fd = openat(dirfd, "data.mdb", O_RDWR | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (pwrite(fd, c->metas, n, 0) != (ssize_t)n)
		rc = errno ? -errno : -EIO;
	else if (fdatasync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
