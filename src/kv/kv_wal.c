/* kv_wal.c — log and checkpoint files of the lmdb backend's sync=wal mode (kv_wal.h). */
#include "kv/kv_wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/errors.h"

#define REC_MAGIC 0x4c57564bu  /* "KVWL" */
#define CK_MAGIC 0x4b43564bu   /* "KVCK" */
#define CK_SLOT 36864u	       /* >= sizeof(struct ck_hdr) + 2 * KV_WAL_PSIZE_MAX */

struct rec_hdr {
	uint32_t magic;
	uint32_t crc; /* crc32c of the header from seq on, then the payload */
	uint64_t seq;
	uint32_t len;
	uint32_t zero;
};

struct ck_hdr {
	uint32_t magic;
	uint32_t crc; /* crc32c of the header from gen on, then 2 * psize meta bytes */
	uint64_t gen;
	uint64_t next_seq;
	uint32_t file;
	uint32_t clean;
	uint32_t psize;
	uint32_t zero;
};

_Static_assert(sizeof(struct rec_hdr) == KV_WAL_REC_HDR, "record header");
_Static_assert(sizeof(struct ck_hdr) + 2 * KV_WAL_PSIZE_MAX <= CK_SLOT, "checkpoint slot");

struct kv_wal {
	int dirfd;
	int logfd[2];	     /* O_DSYNC */
	uint64_t logsize[2]; /* bytes allocated (written) */
	int ckfd;
	bool have_ck;
	struct kv_wal_ckpt ck;
	uint32_t cur; /* file appended to */
	uint64_t pos; /* append offset in it */
	uint64_t next_seq;
	uint64_t scan_end; /* the first seq kv_wal_scan did not find (0: no scan yet) */
	struct c3_buf rec; /* append staging */
};

static const char *const log_name[2] = { "wal.0", "wal.1" };

static int write_all(int fd, const void *p, size_t n, uint64_t off)
{
	const uint8_t *c = p;

	while (n) {
		ssize_t w = pwrite(fd, c, n, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		c += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* 1 = read n bytes, 0 = short (end of file), < 0 = error */
static int read_all(int fd, void *p, size_t n, uint64_t off)
{
	uint8_t *c = p;

	while (n) {
		ssize_t r = pread(fd, c, n, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return 0;
		c += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 1;
}

static uint32_t ck_crc(const struct ck_hdr *h, const uint8_t *metas)
{
	uint32_t c = c3_crc32c(0, &h->gen, sizeof(*h) - offsetof(struct ck_hdr, gen));

	return c3_crc32c(c, metas, 2 * (size_t)h->psize);
}

static uint32_t rec_crc(const struct rec_hdr *h, const uint8_t *p)
{
	uint32_t c = c3_crc32c(0, &h->seq, sizeof(*h) - offsetof(struct rec_hdr, seq));

	return c3_crc32c(c, p, h->len);
}

/* Read both checkpoint slots, keep the newest valid one. */
static int ck_load(struct kv_wal *w)
{
	uint8_t *slot = malloc(CK_SLOT);
	int rc = 0;

	if (!slot)
		return -ENOMEM;
	for (uint64_t s = 0; s < 2; s++) {
		struct ck_hdr h;
		int r = read_all(w->ckfd, &h, sizeof(h), s * CK_SLOT);

		if (r == 1 && (h.magic != CK_MAGIC || h.psize == 0 ||
			       h.psize > KV_WAL_PSIZE_MAX || h.file > 1 || (h.gen & 1) != s))
			continue;
		if (r == 1)
			r = read_all(w->ckfd, slot, 2 * (size_t)h.psize, s * CK_SLOT + sizeof(h));
		if (r < 0) {
			rc = r;
			break;
		}
		if (r == 0 || ck_crc(&h, slot) != h.crc)
			continue; /* never written, or torn */
		if (w->have_ck && w->ck.gen >= h.gen)
			continue;
		w->have_ck = true;
		w->ck.gen = h.gen;
		w->ck.next_seq = h.next_seq;
		w->ck.file = h.file;
		w->ck.clean = h.clean != 0;
		w->ck.psize = h.psize;
		memcpy(w->ck.metas, slot, 2 * (size_t)h.psize);
	}
	free(slot);
	return rc;
}

int kv_wal_open(int dirfd, bool create, struct kv_wal **out)
{
	struct kv_wal *w = calloc(1, sizeof(*w));
	struct stat st;
	int rc = 0;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->dirfd = dirfd;
	w->logfd[0] = w->logfd[1] = -1;
	w->next_seq = 1;
	c3_buf_init(&w->rec);
	w->ckfd = openat(dirfd, "wal.ckpt", O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (w->ckfd < 0) {
		rc = errno == ENOENT && !create ? 0 : -errno;
		goto fail;
	}
	rc = ck_load(w);
	if (rc < 0)
		goto fail;
	if (!w->have_ck && !create)
		goto fail; /* rc == 0: no log */
	for (int i = 0; i < 2; i++) {
		int fl = O_RDWR | O_CLOEXEC | O_DSYNC | (create ? O_CREAT : 0) |
			 (w->have_ck ? 0 : O_TRUNC);

		w->logfd[i] = openat(dirfd, log_name[i], fl, 0600);
		if (w->logfd[i] < 0 || fstat(w->logfd[i], &st) < 0) {
			rc = -errno;
			goto fail;
		}
		w->logsize[i] = (uint64_t)st.st_size;
	}
	if (!w->have_ck) {
		/* a fresh log: the truncation and the new names must be durable before a
		 * checkpoint can refer to them */
		if (fsync(w->logfd[0]) < 0 || fsync(w->logfd[1]) < 0 || fsync(w->ckfd) < 0 ||
		    fsync(dirfd) < 0) {
			rc = -errno;
			goto fail;
		}
	} else {
		w->next_seq = w->ck.next_seq;
		w->cur = w->ck.file;
	}
	*out = w;
	return 0;
fail:
	kv_wal_close(w);
	return rc;
}

void kv_wal_close(struct kv_wal *w)
{
	if (!w)
		return;
	for (int i = 0; i < 2; i++)
		if (w->logfd[i] >= 0)
			close(w->logfd[i]);
	if (w->ckfd >= 0)
		close(w->ckfd);
	c3_buf_release(&w->rec);
	free(w);
}

const struct kv_wal_ckpt *kv_wal_ckpt(const struct kv_wal *w)
{
	return w->have_ck ? &w->ck : NULL;
}

/* The record at (f, off) with seq: 1 = valid (payload in *buf), 0 = not one, < 0 error. */
static int rec_read(struct kv_wal *w, uint32_t f, uint64_t off, uint64_t seq,
		    struct c3_buf *buf, uint32_t *len)
{
	struct rec_hdr h;
	int r;

	if (off + sizeof(h) > w->logsize[f])
		return 0;
	r = read_all(w->logfd[f], &h, sizeof(h), off);
	if (r <= 0)
		return r;
	if (h.magic != REC_MAGIC || h.seq != seq || h.zero || h.len > KV_WAL_REC_MAX ||
	    off + sizeof(h) + h.len > w->logsize[f])
		return 0;
	c3_buf_reset(buf);
	if (c3_buf_reserve(buf, h.len ? h.len : 1) < 0)
		return -ENOMEM;
	r = read_all(w->logfd[f], buf->data, h.len, off + sizeof(h));
	if (r <= 0)
		return r;
	if (rec_crc(&h, buf->data) != h.crc)
		return 0;
	buf->len = h.len;
	*len = h.len;
	return 1;
}

int kv_wal_scan(struct kv_wal *w, int (*fn)(void *arg, const uint8_t *p, size_t len),
		void *arg, uint64_t *nrec)
{
	struct c3_buf buf = C3_BUF_INIT;
	uint32_t f = w->have_ck ? w->ck.file : 0, len;
	uint64_t off = 0, seq = w->next_seq;
	int rc = 0;

	*nrec = 0;
	for (;;) {
		int r = rec_read(w, f, off, seq, &buf, &len);

		if (r == 0) { /* this file ends: the log may go on in the other */
			r = rec_read(w, f ^ 1, 0, seq, &buf, &len);
			if (r == 1) {
				f ^= 1;
				off = 0;
			}
		}
		if (r < 0)
			rc = r;
		if (r <= 0)
			break;
		rc = fn(arg, buf.data, len);
		if (rc < 0)
			break;
		off += sizeof(struct rec_hdr) + len;
		seq++;
		(*nrec)++;
	}
	c3_buf_release(&buf);
	w->scan_end = seq;
	w->cur = f;
	w->pos = off;
	/* Records past the end of the scan (after a corrupted one) may hold seqs up to
	 * seq + (records a file can hold); never reuse them, or such a record could later
	 * line up as the continuation of new ones.  2^32 records of >= 24 bytes exceed any
	 * log file. */
	w->next_seq = seq + (1ull << 32);
	return rc;
}

int kv_wal_damaged_before(struct kv_wal *w)
{
	struct c3_buf buf = C3_BUF_INIT;
	int rc = 0;

	for (uint32_t f = 0; f < 2 && rc == 0 && w->scan_end; f++) {
		size_t n = (size_t)w->logsize[f];
		const uint8_t *m;

		if (n < KV_WAL_REC_HDR)
			continue;
		m = mmap(NULL, n, PROT_READ, MAP_SHARED, w->logfd[f], 0);
		if (m == MAP_FAILED)
			return -errno;
		for (size_t off = 0; off + KV_WAL_REC_HDR <= n && rc == 0; off++) {
			struct rec_hdr h;
			uint32_t len;

			if (memcmp(m + off, &(uint32_t){ REC_MAGIC }, 4) != 0)
				continue;
			memcpy(&h, m + off, sizeof(h));
			if (h.seq <= w->scan_end || h.seq - w->scan_end >= (1ull << 32))
				continue;
			rc = rec_read(w, f, off, h.seq, &buf, &len); /* 1: valid, after the end */
		}
		munmap((void *)m, n);
	}
	c3_buf_release(&buf);
	return rc;
}

/* Zero-fill file f up to at least `need` bytes, in KV_WAL_GROW steps: one O_DSYNC write
 * per step, so the new size is durable when it returns. */
static int log_grow(struct kv_wal *w, uint32_t f, uint64_t need)
{
	static uint8_t zero[KV_WAL_GROW]; /* never written */
	uint64_t to = (need + KV_WAL_GROW - 1) / KV_WAL_GROW * KV_WAL_GROW;

	while (w->logsize[f] < to) {
		uint64_t n = to - w->logsize[f];
		size_t chunk = n > KV_WAL_GROW ? KV_WAL_GROW : (size_t)n;
		int rc = write_all(w->logfd[f], zero, chunk, w->logsize[f]);

		if (rc < 0)
			return rc;
		w->logsize[f] += chunk;
	}
	return 0;
}

int kv_wal_append(struct kv_wal *w, const void *payload, size_t len)
{
	struct rec_hdr h = { REC_MAGIC, 0, w->next_seq, (uint32_t)len, 0 };
	size_t total = sizeof(h) + len;
	int rc;

	if (len > KV_WAL_REC_MAX)
		return -C3FS_EKVTOOLARGE;
	h.crc = rec_crc(&h, payload);
	if (w->pos + total > w->logsize[w->cur]) {
		rc = log_grow(w, w->cur, w->pos + total);
		if (rc < 0)
			return rc;
	}
	c3_buf_reset(&w->rec);
	c3_buf_append(&w->rec, &h, sizeof(h));
	c3_buf_append(&w->rec, payload, len);
	if (w->rec.err)
		return w->rec.err;
	rc = write_all(w->logfd[w->cur], w->rec.data, total, w->pos);
	if (w->rec.cap > KV_WAL_GROW)
		c3_buf_release(&w->rec); /* do not keep a huge batch's buffer */
	if (rc < 0)
		return rc;
	w->pos += total;
	w->next_seq++;
	return 0;
}

int kv_wal_reserve(struct kv_wal *w, size_t len)
{
	uint64_t need = w->pos + KV_WAL_REC_HDR + len;

	if (len > KV_WAL_REC_MAX)
		return -C3FS_EKVTOOLARGE;
	return need > w->logsize[w->cur] ? log_grow(w, w->cur, need) : 0;
}

uint64_t kv_wal_used(const struct kv_wal *w)
{
	return w->pos;
}

void kv_wal_switch(struct kv_wal *w, uint64_t *next_seq, uint32_t *file)
{
	w->cur ^= 1;
	w->pos = 0;
	*next_seq = w->next_seq;
	*file = w->cur;
}

int kv_wal_write_ckpt(struct kv_wal *w, uint64_t next_seq, uint32_t file, bool clean,
		      const uint8_t *metas, uint32_t psize)
{
	struct ck_hdr h = { CK_MAGIC, 0, w->have_ck ? w->ck.gen + 1 : 1, next_seq, file,
			    clean, psize, 0 };
	size_t n = sizeof(h) + 2 * (size_t)psize;
	uint8_t *slot;
	int rc;

	if (psize == 0 || psize > KV_WAL_PSIZE_MAX || file > 1)
		return -EINVAL;
	slot = malloc(n);
	if (!slot)
		return -ENOMEM;
	h.crc = ck_crc(&h, metas);
	memcpy(slot, &h, sizeof(h));
	memcpy(slot + sizeof(h), metas, 2 * (size_t)psize);
	rc = write_all(w->ckfd, slot, n, (h.gen & 1) * CK_SLOT);
	free(slot);
	if (rc == 0 && fdatasync(w->ckfd) < 0)
		rc = -errno;
	if (rc < 0)
		return rc;
	w->have_ck = true;
	w->ck.gen = h.gen;
	w->ck.next_seq = next_seq;
	w->ck.file = file;
	w->ck.clean = clean;
	w->ck.psize = psize;
	memcpy(w->ck.metas, metas, 2 * (size_t)psize);
	return 0;
}

/* ---- record payload ------------------------------------------------------------------ */

static void put16(struct c3_buf *b, size_t v)
{
	uint16_t x = (uint16_t)v;

	c3_buf_append(b, &x, 2);
}

static void put32(struct c3_buf *b, size_t v)
{
	uint32_t x = (uint32_t)v;

	c3_buf_append(b, &x, 4);
}

void kv_wal_encode(struct c3_buf *out, const struct kv__wbuf *wb)
{
	for (size_t i = 0; i < wb->nranges; i++) {
		const struct kv__wrange *r = &wb->ranges[i];

		c3_buf_append(out, "R", 1);
		put16(out, r->bl);
		put16(out, r->el);
		c3_buf_append(out, r->b, r->bl);
		c3_buf_append(out, r->e, r->el);
	}
	for (size_t i = 0; i < wb->npoints; i++) {
		const struct kv__wpoint *p = &wb->points[i];

		c3_buf_append(out, p->cleared ? "C" : "S", 1);
		put16(out, p->klen);
		if (!p->cleared)
			put32(out, p->vlen);
		c3_buf_append(out, p->key, p->klen);
		if (!p->cleared)
			c3_buf_append(out, p->val, p->vlen);
	}
}

int kv_wal_decode(const uint8_t *p, size_t len, const struct kv_wal_ops *ops, void *arg)
{
	const uint8_t *end = p + len;

	while (p < end) {
		uint8_t type = *p++;
		uint16_t a, b;
		uint32_t vl;
		int rc;

		if (end - p < 2)
			return -C3FS_EKV;
		memcpy(&a, p, 2);
		p += 2;
		switch (type) {
		case 'R':
			if (end - p < 2)
				return -C3FS_EKV;
			memcpy(&b, p, 2);
			p += 2;
			if (a > KV__BOUND_MAX || b > KV__BOUND_MAX || (size_t)(end - p) < (size_t)a + b)
				return -C3FS_EKV;
			rc = ops->clear_range(arg, p, a, p + a, b);
			p += (size_t)a + b;
			break;
		case 'S':
			if (end - p < 4)
				return -C3FS_EKV;
			memcpy(&vl, p, 4);
			p += 4;
			if (a > KV_KEY_MAX || vl > KV_VALUE_MAX ||
			    (size_t)(end - p) < (size_t)a + vl)
				return -C3FS_EKV;
			rc = ops->set(arg, p, a, p + a, vl);
			p += (size_t)a + vl;
			break;
		case 'C':
			if (a > KV_KEY_MAX || (size_t)(end - p) < a)
				return -C3FS_EKV;
			rc = ops->clear(arg, p, a);
			p += a;
			break;
		default:
			return -C3FS_EKV;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}
