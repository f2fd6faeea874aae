/* lease.h — mgmtd leader election through a lease record in the shared KV.
 *
 * One key (MGMTD_KEY_LEASE) holds {holder address, holder instance, expiry (wall-clock
 * ms), epoch}.  Every mgmtd runs mgmtd_lease_try() periodically inside a KV transaction:
 *   no record, or the record expired      -> take it: holder = self, epoch + 1
 *   the record is ours (same instance)    -> renew: expiry = now + lease
 *   otherwise                             -> stay a follower; the record names the leader
 * The instance is a random number per process, so a restarted mgmtd at the same address
 * waits for its predecessor's lease to expire like anyone else (it has no state loaded).
 * Every write by the leader re-checks the lease in the same transaction
 * (mgmtd_lease_check), so a leader that lost its lease can never commit: the KV's
 * serializable transactions are the fence.  Timing (service.c): the record runs for
 * 3/4 of leader_lease_ms and is renewed every 1/4, standbys poll every 1/8, so a standby
 * takes over at most 7/8 of a lease period after the leader dies.
 */
#ifndef C3_MGMTD_LEASE_H
#define C3_MGMTD_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/routing.h"
#include "common/buf.h"

struct kv_db;
struct kv_txn;

#define MGMTD_KEY_LEASE "mgmtd/lease"

struct mgmtd_lease {
	char holder[ROUTING_ADDR_MAX];   /* leader's RPC address */
	uint64_t instance;               /* leader process's random id */
	uint64_t expires_ms;             /* wall clock */
	uint64_t epoch;                  /* +1 at every change of holder */
};

/* Pure decision.  cur = the stored record or NULL.  Returns true when self holds the
 * lease after this round (next = the record to store), false otherwise (next = cur, or
 * zeroed when there is none). */
bool mgmtd_lease_decide(const struct mgmtd_lease *cur, const char *self, uint64_t instance,
			uint64_t now_ms, uint32_t duration_ms, struct mgmtd_lease *next);

void mgmtd_lease_encode(const struct mgmtd_lease *l, struct c3_buf *out);
/* 0 or -C3FS_EBADMSG. */
int mgmtd_lease_decode(const void *p, size_t n, struct mgmtd_lease *l);

/* One election round in its own KV transaction.  Returns 0 with *is_leader and *rec (the
 * record now stored), or a KV error. */
int mgmtd_lease_try(struct kv_db *db, const char *self, uint64_t instance, uint64_t now_ms,
		    uint32_t duration_ms, bool *is_leader, struct mgmtd_lease *rec);

/* Inside a write transaction: 0 when instance holds an unexpired lease at now_ms, else
 * -C3FS_ENOTLEADER (or a KV error). */
int mgmtd_lease_check(struct kv_txn *txn, uint64_t instance, uint64_t now_ms);

/* Give the lease up (expiry = 0) if instance holds it.  0 or a KV error. */
int mgmtd_lease_release(struct kv_db *db, uint64_t instance);

#endif
