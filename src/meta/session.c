/* meta/session.c — open-file sessions ('S' with its 'C' index and the client's 'L'
 * record): recording one, CLOSE and SYNC (the length a writer reports), RELEASE of many,
 * RENEW and PRUNE of a client, and dropping all sessions of a client (also GC's expiry).
 *
 * Sessions that only read commit lazily (src/meta/README.md, "Sessions").  A close with
 * other writers open asks storage for the file's end, outside any transaction.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/check.h"
#include "common/errors.h"
#include "meta/meta_int.h"
#include "net/codec.h"

/* Record an open session for ino and keep the client's renew record fresh. */
int meta__session_put(struct kv_txn *t, struct meta_svc *svc, uint64_t ino, uint64_t sid,
		      uint64_t client, uint32_t flags, uint64_t now)
{
	uint8_t k[25], v[20];
	const uint8_t *cur;
	size_t vl;
	int rc;

	kv_put_be64(v, client);
	kv_put_be32(v + 8, flags);
	kv_put_be64(v + 12, now);
	rc = kv_set(t, k, meta__key_id2(k, META__K_SESSION, ino, sid), v, 20);
	if (rc == 0)
		rc = kv_set(t, k, meta__key_id3(k, META__K_CSESS, client, ino, sid), "", 0);
	if (rc < 0)
		return rc;
	/* refresh 'L' only when missing or older than a quarter of the timeout (a write per
	 * open would make every open of one client conflict on this key) */
	rc = kv_get(t, k, meta__key_id1(k, META__K_CLIENT, client), &cur, &vl);
	if (rc == -ENOENT || (rc == 0 && (vl != 8 || kv_get_be64(cur) +
					  svc->opts.session_timeout_ms * 1000000ull / 4 < now)))
		return meta__client_renew(t, client, now);
	return rc < 0 ? rc : 0;
}

int meta__client_renew(struct kv_txn *t, uint64_t client, uint64_t now)
{
	uint8_t k[9], v[8];

	kv_put_be64(v, now);
	return kv_set(t, k, meta__key_id1(k, META__K_CLIENT, client), v, 8);
}

int meta__client_unrenewed(struct kv_txn *t, uint64_t client, uint64_t seen)
{
	uint8_t k[9];
	const uint8_t *cur;
	size_t vl;
	int rc = kv_get(t, k, meta__key_id1(k, META__K_CLIENT, client), &cur, &vl);

	if (rc == -ENOENT)
		return 1;
	if (rc < 0)
		return rc;
	return vl == 8 && kv_get_be64(cur) == seen;
}

int meta__csess_decode(const struct kv_pair *p, uint64_t client, uint64_t *ino, uint64_t *sid)
{
	if (p->klen != 25)
		return C3_CORRUPT("client session", "of client %llu: key length %zu, want 25",
				  (unsigned long long)client, (size_t)p->klen);
	*ino = kv_get_be64(p->key + 9);
	*sid = kv_get_be64(p->key + 17);
	return 0;
}

/* 1 = session exists (its flags in *flags), 0 = not, <0 error */
int meta__session_get(struct kv_txn *t, uint64_t ino, uint64_t sid, uint32_t *flags,
		      uint64_t *client)
{
	uint8_t k[17];
	const uint8_t *v;
	size_t vl;
	int rc;

	rc = kv_get(t, k, meta__key_id2(k, META__K_SESSION, ino, sid), &v, &vl);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (vl != 20)
		return C3_CORRUPT("session", "inode %llu session %llu: value length %zu, want 20",
				  (unsigned long long)ino, (unsigned long long)sid, vl);
	*client = kv_get_be64(v);
	*flags = kv_get_be32(v + 8);
	return 1;
}

int meta__session_del(struct kv_txn *t, uint64_t ino, uint64_t sid, uint64_t client)
{
	uint8_t k[25];
	int rc = kv_clear(t, k, meta__key_id2(k, META__K_SESSION, ino, sid));

	return rc < 0 ? rc : kv_clear(t, k, meta__key_id3(k, META__K_CSESS, client, ino, sid));
}

/* 1 when ino has a session open for writing (other than session `except`), 0 when not. */
int meta__write_sessions(struct kv_txn *t, uint64_t ino, uint64_t except)
{
	uint8_t b[17], e[9];
	size_t bl = 9;
	struct kv_pair *p;
	uint64_t last;
	bool more;
	int n;

	meta__key_id1(b, META__K_SESSION, ino);
	meta__key_id1(e, META__K_SESSION, ino + 1);
	for (;;) {
		n = kv_range(t, b, bl, e, 9, 64, false, &p, &more);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			if (p[i].klen != 17 || p[i].vlen != 20)
				return C3_CORRUPT("session", "of inode %llu: key length %zu (want "
						  "17), value length %zu (want 20)",
						  (unsigned long long)ino, (size_t)p[i].klen,
						  (size_t)p[i].vlen);
			if (kv_get_be64(p[i].key + 9) != except &&
			    (kv_get_be32(p[i].val + 8) & META_O_WRITE))
				return 1;
		}
		if (!more || n == 0)
			return 0;
		last = kv_get_be64(p[n - 1].key + 9);
		if (last == UINT64_MAX)
			return 0;
		memcpy(b, p[n - 1].key, 9);
		kv_put_be64(b + 9, last + 1); /* the sessions after the last one seen */
		bl = 17;
	}
}

struct close_arg {
	struct meta_svc *svc;
	const struct meta_close_req *req;
	bool close;
	uint64_t queried; /* length from storage (several writers), 0 = none */
	struct meta_attr_resp *resp;
	uint64_t now;
	int other_writers; /* out of the probe transaction: 1 when there are others */
	struct meta_layout layout;
};

static int close_probe_txn(struct kv_txn *t, void *ap)
{
	struct close_arg *a = ap;
	struct meta__inode in;
	int rc;

	a->other_writers = 0;
	rc = meta__inode_get(t, a->req->ino, &in);
	if (rc < 0)
		return rc;
	a->layout = in.a.layout;
	rc = meta__write_sessions(t, a->req->ino, a->req->session_id);
	if (rc < 0)
		return rc;
	a->other_writers = rc;
	if (a->other_writers) {
		/* chunks past a pending cut would bring the truncated length back */
		rc = meta__cut_pending(t, a->req->ino);
		if (rc < 0)
			return rc;
		if (rc)
			a->other_writers = 0;
	}
	return 0;
}

static int close_txn(struct kv_txn *t, void *ap)
{
	struct close_arg *a = ap;
	const struct meta_close_req *r = a->req;
	struct meta__inode in;
	uint32_t sflags = 0;
	uint64_t sclient = 0, len;
	int rc, have;

	rc = meta__inode_get(t, r->ino, &in);
	if (rc < 0)
		return rc;
	have = r->session_id ? meta__session_get(t, r->ino, r->session_id, &sflags, &sclient) : 0;
	if (have < 0)
		return have;
	if (have && sclient != r->hdr.client_id && r->hdr.cred.uid != 0)
		return -C3FS_ESESSION;
	if (S_ISREG(in.a.mode)) {
		len = in.a.length;
		/* a length written before a later truncation must not re-extend the file
		 * (its chunks were cut: the bytes would read as zeros) */
		if ((r->flags & META_CLOSE_LENGTH) && r->length > len &&
		    !((r->flags & META_CLOSE_TRUNCVER) && r->truncate_ver < in.a.truncate_ver))
			len = r->length;
		if (a->queried > len)
			len = a->queried;
		if (len != in.a.length || (r->flags & META_CLOSE_WROTE)) {
			in.a.length = len;
			in.a.layout.dyn_stripe = meta_layout_dyn_needed(
				&in.a.layout, in.a.layout.dyn_stripe, len);
			if (r->flags & META_CLOSE_WROTE) {
				in.a.mtime_ns = in.a.ctime_ns = a->now;
				if (r->hdr.cred.uid != 0)
					in.a.mode = meta__killpriv_mode(in.a.mode);
			}
			rc = meta__inode_put(t, &in);
			if (rc < 0)
				return rc;
		}
	}
	if (have && a->close) {
		rc = meta__session_del(t, r->ino, r->session_id, sclient);
		if (rc < 0)
			return rc;
	}
	a->resp->attr = in.a;
	return 0;
}

int meta_op_close(struct meta_svc *svc, const struct meta_close_req *req, bool close,
		  struct meta_attr_resp *resp)
{
	struct close_arg a = { .svc = svc, .req = req, .close = close, .resp = resp,
			       .now = meta__now(svc) };
	int rc;

	/* several writers: the reported length may be short of what others wrote, so ask
	 * storage for the real end (outside any transaction) */
	if (svc->opts.hooks.query_length && (req->flags & META_CLOSE_WROTE)) {
		rc = kv_run(svc->db, true, close_probe_txn, &a);
		if (rc < 0)
			return rc;
		if (a.other_writers > 0) {
			rc = svc->opts.hooks.query_length(svc->opts.hooks.arg, req->ino, &a.layout,
							  &a.queried);
			if (rc < 0)
				a.queried = 0; /* fall back to the reported length */
		}
	}
	return kv_run(svc->db, false, close_txn, &a);
}

static int renew_txn(struct kv_txn *t, void *ap)
{
	struct meta__client_arg *a = ap;

	return meta__client_renew(t, a->client, a->now);
}

int meta_op_renew(struct meta_svc *svc, const struct meta_client_req *req,
		  struct meta_renew_resp *resp)
{
	struct meta__client_arg a = { svc, req->hdr.client_id, meta__now(svc), 0, false, 0 };
	int rc = kv_run(svc->db, false, renew_txn, &a);

	if (rc < 0)
		return rc;
	resp->session_timeout_ms = svc->opts.session_timeout_ms;
	return 0;
}

/* Drop up to 256 sessions of client a->client (and its renew record when all are gone). */
int meta__client_drop_txn(struct kv_txn *t, void *ap)
{
	struct meta__client_arg *a = ap;
	uint8_t b[9], k[17];
	struct kv_pair *p;
	bool more;
	int n, rc;

	a->dropped = 0;
	if (a->only_if_seen) {
		rc = meta__client_unrenewed(t, a->client, a->seen);
		if (rc <= 0)
			return rc; /* 0: renewed meanwhile, keep its sessions */
	}
	n = meta__range(t, META__K_CSESS, a->client, 256, &p, &more);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		uint64_t ino, sid;

		rc = meta__csess_decode(&p[i], a->client, &ino, &sid);
		if (rc == 0)
			rc = kv_clear(t, k, meta__key_id2(k, META__K_SESSION, ino, sid));
		if (rc < 0)
			return rc;
	}
	if (n > 0) {
		/* the 'C' rows up to the last one listed */
		rc = kv_clear_range(t, b, meta__key_id1(b, META__K_CSESS, a->client), p[n - 1].key,
				    p[n - 1].klen);
		if (rc == 0)
			rc = kv_clear(t, p[n - 1].key, p[n - 1].klen);
		if (rc < 0)
			return rc;
	}
	a->dropped = n;
	if (!more) {
		rc = kv_clear(t, k, meta__key_id1(k, META__K_CLIENT, a->client));
		if (rc < 0)
			return rc;
	}
	return more ? 1 : 0;
}

struct release_arg {
	const struct meta_release_req *req;
	uint32_t ended;
};

static int release_txn(struct kv_txn *t, void *ap)
{
	struct release_arg *a = ap;
	const struct meta_release_req *r = a->req;
	bool writer = false;

	a->ended = 0;
	for (uint32_t i = 0; i < r->count; i++) {
		const struct meta_sess_ref *s = &r->sessions[i];
		uint64_t client = 0;
		uint32_t flags = 0;
		int rc = meta__session_get(t, s->ino, s->session_id, &flags, &client);

		if (rc < 0)
			return rc;
		if (rc == 0 || client != r->hdr.client_id)
			continue;
		rc = meta__session_del(t, s->ino, s->session_id, client);
		if (rc < 0)
			return rc;
		a->ended++;
		if (flags & META_O_WRITE)
			writer = true;
	}
	/* ends of read-only sessions alone: a crash that loses them leaves sessions the
	 * client's expiry removes later */
	if (!writer)
		kv_txn_set_lazy(t);
	return 0;
}

int meta_op_release(struct meta_svc *svc, const struct meta_release_req *req)
{
	struct release_arg a = { req, 0 };

	if (req->count == 0 || req->count > META_RELEASE_MAX)
		return -EINVAL;
	return kv_run(svc->db, false, release_txn, &a);
}

int meta_op_prune(struct meta_svc *svc, const struct meta_client_req *req)
{
	struct meta__client_arg a = { svc, req->hdr.client_id, meta__now(svc), 0, false, 0 };
	int rc;

	do {
		rc = kv_run(svc->db, false, meta__client_drop_txn, &a);
	} while (rc == 1);
	return rc < 0 ? rc : 0;
}
