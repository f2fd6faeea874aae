/* test_lease.c — leader lease: the decision rule, and two contenders on one KV
 * (take, renew, refuse, expire, take over, fence writes of a deposed leader, release). */
#include <string.h>

#include "common/errors.h"
#include "kv/kv.h"
#include "mgmtd/lease.h"
#include "tests/lib/tap.h"

static void test_decide(void)
{
	struct mgmtd_lease cur, next;

	ok(mgmtd_lease_decide(NULL, "a:1", 11, 1000, 300, &next), "no record: take it");
	ok(next.instance == 11 && next.expires_ms == 1300 && next.epoch == 1 &&
	   strcmp(next.holder, "a:1") == 0, "taken record");
	cur = next;
	ok(mgmtd_lease_decide(&cur, "a:1", 11, 1100, 300, &next), "holder renews");
	ok(next.expires_ms == 1400 && next.epoch == 1, "renewal keeps the epoch");
	ok(!mgmtd_lease_decide(&cur, "b:1", 22, 1100, 300, &next), "other instance refused");
	ok(next.instance == 11, "refused: record unchanged");
	ok(!mgmtd_lease_decide(&cur, "a:1", 12, 1100, 300, &next),
	   "restarted process at the same address waits too");
	ok(mgmtd_lease_decide(&cur, "b:1", 22, 1300, 300, &next), "expired: taken over");
	ok(next.instance == 22 && next.epoch == 2, "takeover bumps the epoch");
	ok(mgmtd_lease_decide(&cur, "a:1", 11, 1300, 300, &next),
	   "expired own record is taken again");
	is_int((int)next.epoch, 2, "re-taking an expired lease is a new epoch");
}

static void test_codec(void)
{
	struct mgmtd_lease l = { "127.0.0.1:9", 5, 6, 7 }, m;
	struct c3_buf b = C3_BUF_INIT;

	mgmtd_lease_encode(&l, &b);
	ok(mgmtd_lease_decode(b.data, b.len, &m) == 0 && memcmp(&l, &m, sizeof(l)) == 0,
	   "lease record round trip");
	ok(mgmtd_lease_decode(b.data, b.len - 1, &m) == -C3FS_EBADMSG, "truncated record");
	c3_buf_release(&b);
}

static int write_fenced(struct kv_txn *txn, void *arg)
{
	uint64_t *a = arg; /* [instance, now] */
	int rc = mgmtd_lease_check(txn, a[0], a[1]);

	if (rc)
		return rc;
	return kv_set(txn, "x", 1, "1", 1);
}

static void test_kv(void)
{
	struct kv_db *db;
	struct mgmtd_lease rec;
	bool leader = false;
	uint64_t arg[2];
	int rc = kv_db_open("mem:", &db);

	if (rc) {
		ok(0, "open mem: KV");
		return;
	}
	ok(mgmtd_lease_try(db, "a:1", 11, 1000, 300, &leader, &rec) == 0 && leader,
	   "first contender leads");
	ok(mgmtd_lease_try(db, "b:1", 22, 1100, 300, &leader, &rec) == 0 && !leader,
	   "second contender follows");
	is_str(rec.holder, "a:1", "follower sees the leader's address");
	ok(mgmtd_lease_try(db, "a:1", 11, 1250, 300, &leader, &rec) == 0 && leader &&
	   rec.expires_ms == 1550, "leader renews");
	arg[0] = 11;
	arg[1] = 1300;
	is_int(kv_run(db, false, write_fenced, arg), 0, "leader's fenced write commits");
	ok(mgmtd_lease_try(db, "b:1", 22, 1549, 300, &leader, &rec) == 0 && !leader,
	   "not expired yet");
	ok(mgmtd_lease_try(db, "b:1", 22, 1550, 300, &leader, &rec) == 0 && leader,
	   "expired: standby takes over");
	arg[0] = 11;
	arg[1] = 1560;
	is_int(kv_run(db, false, write_fenced, arg), -C3FS_ENOTLEADER,
	       "deposed leader's write is refused");
	arg[0] = 22;
	is_int(kv_run(db, false, write_fenced, arg), 0, "new leader's write commits");
	is_int(mgmtd_lease_release(db, 11), 0, "release by a non-holder is a no-op");
	ok(mgmtd_lease_try(db, "a:1", 11, 1600, 300, &leader, &rec) == 0 && !leader,
	   "still held by b");
	is_int(mgmtd_lease_release(db, 22), 0, "holder releases");
	ok(mgmtd_lease_try(db, "a:1", 11, 1601, 300, &leader, &rec) == 0 && leader,
	   "released lease is taken at once");
	is_int((int)rec.epoch, 3, "third epoch");
	kv_db_close(db);
}

int main(void)
{
	test_decide();
	test_codec();
	test_kv();
	return tap_done();
}
