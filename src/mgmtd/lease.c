/* lease.c — leader lease record, decision rule and KV transactions (see lease.h). */
#include "mgmtd/lease.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/errors.h"
#include "kv/kv.h"
#include "net/codec.h"

bool mgmtd_lease_decide(const struct mgmtd_lease *cur, const char *self, uint64_t instance,
			uint64_t now_ms, uint32_t duration_ms, struct mgmtd_lease *next)
{
	if (cur && cur->instance == instance && strcmp(cur->holder, self) == 0 &&
	    cur->expires_ms > now_ms) {
		*next = *cur;
		next->expires_ms = now_ms + duration_ms;
		return true;
	}
	if (!cur || cur->expires_ms <= now_ms) {
		memset(next, 0, sizeof(*next));
		snprintf(next->holder, sizeof(next->holder), "%s", self);
		next->instance = instance;
		next->expires_ms = now_ms + duration_ms;
		next->epoch = (cur ? cur->epoch : 0) + 1;
		return true;
	}
	*next = *cur;
	return false;
}

void mgmtd_lease_encode(const struct mgmtd_lease *l, struct c3_buf *out)
{
	c3_enc_str(out, l->holder);
	c3_enc_u64(out, l->instance);
	c3_enc_u64(out, l->expires_ms);
	c3_enc_u64(out, l->epoch);
}

int mgmtd_lease_decode(const void *p, size_t n, struct mgmtd_lease *l)
{
	struct c3_dec d;

	memset(l, 0, sizeof(*l));
	c3_dec_init(&d, p, n);
	c3_dec_str(&d, l->holder, sizeof(l->holder));
	l->instance = c3_dec_u64(&d);
	l->expires_ms = c3_dec_u64(&d);
	l->epoch = c3_dec_u64(&d);
	return c3_dec_finish(&d);
}

/* Read the record: 1 = found, 0 = absent, < 0 error (a corrupt record counts as absent:
 * it is overwritten by the next election rather than blocking the cluster forever). */
static int lease_read(struct kv_txn *txn, struct mgmtd_lease *l)
{
	const uint8_t *v;
	size_t vlen;
	int rc = kv_get(txn, MGMTD_KEY_LEASE, strlen(MGMTD_KEY_LEASE), &v, &vlen);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	return mgmtd_lease_decode(v, vlen, l) == 0 ? 1 : 0;
}

struct lease_try_arg {
	const char *self;
	uint64_t instance, now_ms;
	uint32_t duration_ms;
	bool leader;
	struct mgmtd_lease rec;
};

static int lease_try_fn(struct kv_txn *txn, void *arg)
{
	struct lease_try_arg *a = arg;
	struct mgmtd_lease cur;
	struct c3_buf b = C3_BUF_INIT;
	int found = lease_read(txn, &cur), rc = 0;

	if (found < 0)
		return found;
	a->leader = mgmtd_lease_decide(found ? &cur : NULL, a->self, a->instance, a->now_ms,
				       a->duration_ms, &a->rec);
	if (!a->leader)
		return 0;
	mgmtd_lease_encode(&a->rec, &b);
	rc = b.err ? b.err : kv_set(txn, MGMTD_KEY_LEASE, strlen(MGMTD_KEY_LEASE), b.data, b.len);
	c3_buf_release(&b);
	return rc;
}

int mgmtd_lease_try(struct kv_db *db, const char *self, uint64_t instance, uint64_t now_ms,
		    uint32_t duration_ms, bool *is_leader, struct mgmtd_lease *rec)
{
	struct lease_try_arg a = { self, instance, now_ms, duration_ms, false, { "", 0, 0, 0 } };
	int rc = kv_run(db, false, lease_try_fn, &a);

	if (rc < 0)
		return rc;
	*is_leader = a.leader;
	*rec = a.rec;
	return 0;
}

int mgmtd_lease_check(struct kv_txn *txn, uint64_t instance, uint64_t now_ms)
{
	struct mgmtd_lease cur;
	int found = lease_read(txn, &cur);

	if (found < 0)
		return found;
	if (!found || cur.instance != instance || cur.expires_ms <= now_ms)
		return -C3FS_ENOTLEADER;
	return 0;
}

static int lease_release_fn(struct kv_txn *txn, void *arg)
{
	uint64_t instance = *(uint64_t *)arg;
	struct mgmtd_lease cur;
	struct c3_buf b = C3_BUF_INIT;
	int found = lease_read(txn, &cur), rc;

	if (found <= 0 || cur.instance != instance)
		return found < 0 ? found : 0;
	cur.expires_ms = 0;
	mgmtd_lease_encode(&cur, &b);
	rc = b.err ? b.err : kv_set(txn, MGMTD_KEY_LEASE, strlen(MGMTD_KEY_LEASE), b.data, b.len);
	c3_buf_release(&b);
	return rc;
}

int mgmtd_lease_release(struct kv_db *db, uint64_t instance)
{
	int rc = kv_run(db, false, lease_release_fn, &instance);

	return rc < 0 ? rc : 0;
}
