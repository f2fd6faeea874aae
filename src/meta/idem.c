/* meta/idem.c — idempotent changes: ops that change the namespace run inside
 * meta__idem_txn, which first looks for the record 'Q'|client|seq; when present the
 * stored reply is returned and nothing else happens; otherwise the body runs and, on
 * success, the record (and its expiry index 'E'|created|client|seq) is written in the
 * same transaction.  GC expires the records (gc.c).
 *
 * Record value: created(8) fingerprint(8) reply.  The fingerprint (FNV-1a over the op type,
 * ids and names of the request) guards against a client that reuses (client_id, seq) for a
 * different request, e.g. after a restart that got the same id: a mismatch is not a
 * retry, so the request runs and its record replaces the old one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/errors.h"
#include "meta/meta_int.h"
#include "net/codec.h"

static uint64_t fp_mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t meta__fp_of(uint32_t type, uint64_t id1, const char *n1, uint32_t l1, uint64_t id2,
		      const char *n2, uint32_t l2, uint32_t extra)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = fp_mix(h, &type, sizeof(type));
	h = fp_mix(h, &id1, sizeof(id1));
	h = fp_mix(h, &l1, sizeof(l1));
	h = fp_mix(h, n1, l1);
	h = fp_mix(h, &id2, sizeof(id2));
	h = fp_mix(h, &l2, sizeof(l2));
	h = fp_mix(h, n2, l2);
	return fp_mix(h, &extra, sizeof(extra));
}

int meta__idem_txn(struct kv_txn *t, void *wp)
{
	struct meta__idem *w = wp;
	uint8_t k[25];
	const uint8_t *v;
	size_t vl, kl;
	struct c3_buf b = C3_BUF_INIT;
	uint64_t now;
	int rc;

	if (w->hdr->seq) {
		kl = meta__key_id2(k, META__K_IDEM, w->hdr->client_id, w->hdr->seq);
		rc = kv_get(t, k, kl, &v, &vl);
		if (rc == 0) {
			if (vl < 16)
				return C3_CORRUPT("idempotency record",
						  "client %llu seq %llu: value length %zu, want >= 16",
						  (unsigned long long)w->hdr->client_id,
						  (unsigned long long)w->hdr->seq, vl);
			if (kv_get_be64(v + 8) == w->fp)
				return w->dec ? w->dec(w->reply, v + 16, vl - 16) : 0;
			/* same (client, seq), different request: drop the old record's index */
			rc = kv_clear(t, k, meta__key_id3(k, META__K_IDEMEXP, kv_get_be64(v),
							   w->hdr->client_id, w->hdr->seq));
			if (rc < 0)
				return rc;
		} else if (rc != -ENOENT) {
			return rc;
		}
	}
	rc = w->body(t, w->arg);
	if (rc < 0 || !w->hdr->seq || (w->record && !w->record(w->arg)))
		return rc;
	now = meta__now(w->svc);
	{
		uint8_t hd[16];

		kv_put_be64(hd, now);
		kv_put_be64(hd + 8, w->fp);
		c3_buf_append(&b, hd, 16);
	}
	if (w->enc)
		w->enc(w->reply, &b);
	if (b.err) {
		rc = b.err;
		goto out;
	}
	kl = meta__key_id2(k, META__K_IDEM, w->hdr->client_id, w->hdr->seq);
	rc = kv_set(t, k, kl, b.data, b.len);
	if (rc == 0)
		rc = kv_set(t, k, meta__key_id3(k, META__K_IDEMEXP, now, w->hdr->client_id,
						w->hdr->seq), "", 0);
out:
	c3_buf_release(&b);
	return rc;
}

int meta__idem_run(struct meta_svc *svc, const struct meta_hdr *hdr, uint64_t fp,
		   kv_txn_fn body, void *arg, void *reply, void (*enc)(void *, struct c3_buf *),
		   int (*dec)(void *, const uint8_t *, size_t))
{
	struct meta__idem w = { svc, hdr, fp, body, arg, reply, enc, dec, NULL };

	return kv_run(svc->db, false, meta__idem_txn, &w);
}

/* ------------------------------------------------------------------ expiry (GC) */
struct idem_arg {
	uint64_t created, client, seq;
};

static int idem_drop_txn(struct kv_txn *t, void *ap)
{
	struct idem_arg *a = ap;
	uint8_t k[25];
	int rc;

	rc = kv_clear(t, k, meta__key_id3(k, META__K_IDEMEXP, a->created, a->client, a->seq));
	if (rc == 0)
		rc = kv_clear(t, k, meta__key_id2(k, META__K_IDEM, a->client, a->seq));
	return rc;
}

struct idemscan_arg {
	uint64_t before;
	int max, n;
	struct idem_arg *out;
};

static int idem_scan_txn(struct kv_txn *t, void *ap)
{
	struct idemscan_arg *s = ap;
	uint8_t b[1] = { META__K_IDEMEXP }, e[9];
	struct kv_pair *p;
	bool more;
	int n;

	s->n = 0;
	e[0] = META__K_IDEMEXP;
	kv_put_be64(e + 1, s->before);
	n = kv_range(t, b, 1, e, 9, s->max, false, &p, &more);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (p[i].klen != 25)
			return C3_CORRUPT("idempotency expiry", "key length %zu, want 25",
					  (size_t)p[i].klen);
		s->out[i].created = kv_get_be64(p[i].key + 1);
		s->out[i].client = kv_get_be64(p[i].key + 9);
		s->out[i].seq = kv_get_be64(p[i].key + 17);
	}
	s->n = n;
	return 0;
}

int meta__idem_gc(struct meta_svc *svc, uint64_t now, int max, uint64_t *expired,
		  uint64_t *errors)
{
	uint64_t ttl = svc->opts.idem_ttl_ms * 1000000ull;
	struct idemscan_arg s = { now > ttl ? now - ttl : 0, max, 0, NULL };
	int rc;

	if (s.before == 0)
		return 0;
	s.out = calloc((size_t)max, sizeof(*s.out));
	if (!s.out)
		return -ENOMEM;
	rc = kv_run(svc->db, true, idem_scan_txn, &s);
	for (int i = 0; rc == 0 && i < s.n; i++) {
		if (kv_run(svc->db, false, idem_drop_txn, &s.out[i]) < 0)
			(*errors)++;
		else
			(*expired)++;
	}
	free(s.out);
	return rc;
}

/* The reply codecs: one pair per reply struct of proto/meta.h. */
#define REPLY_CODEC(NAME)                                                                 \
	void meta__##NAME##_enc(void *reply, struct c3_buf *out)                          \
	{                                                                                 \
		meta_##NAME##_encode(reply, out);                                         \
	}                                                                                 \
	int meta__##NAME##_dec(void *reply, const uint8_t *p, size_t n)                   \
	{                                                                                 \
		if (meta_##NAME##_decode(p, n, reply) < 0)                                \
			return C3_INTERNAL("stored " #NAME " of %zu bytes does not decode", n); \
		return 0;                                                                 \
	}
REPLY_CODEC(attr_resp)
REPLY_CODEC(open_resp)
REPLY_CODEC(unlink_resp)
