/* proto/meta.c — codec of the meta service messages and the file-layout math.
 *
 * Invariants: decoders never read past their input, bound every length and count before
 * use, reject bools other than 0/1 and groups counts over META_MAX_GROUPS, and never
 * allocate except the readdir entry array (bounded by META_READDIR_MAX and by the bytes
 * left in the message).  Names are checked only for size here; their POSIX validity is
 * the service's job (it must answer ENAMETOOLONG, EINVAL, ...).
 */
#include "proto/meta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "net/codec.h"

/* ---------------------------------------------------------------- parts */
static void enc_hdr(const struct meta_hdr *h, struct c3_buf *out)
{
	uint32_t n = h->cred.ngroups > META_MAX_GROUPS ? META_MAX_GROUPS : h->cred.ngroups;

	c3_enc_u32(out, h->cred.uid);
	c3_enc_u32(out, h->cred.gid);
	c3_enc_u32(out, n);
	for (uint32_t i = 0; i < n; i++)
		c3_enc_u32(out, h->cred.groups[i]);
	c3_enc_u64(out, h->client_id);
	c3_enc_u64(out, h->seq);
}

static void dec_hdr(struct c3_dec *d, struct meta_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->cred.uid = c3_dec_u32(d);
	h->cred.gid = c3_dec_u32(d);
	h->cred.ngroups = c3_dec_count(d, META_MAX_GROUPS, 4);
	for (uint32_t i = 0; i < h->cred.ngroups; i++)
		h->cred.groups[i] = c3_dec_u32(d);
	h->client_id = c3_dec_u64(d);
	h->seq = c3_dec_u64(d);
}

static void enc_name(struct c3_buf *out, const char *p, uint32_t len)
{
	c3_enc_bytes(out, p, p ? len : 0);
}

static void dec_name(struct c3_dec *d, const char **p, uint32_t *len, size_t max)
{
	size_t n;
	const uint8_t *b = c3_dec_bytes(d, max, &n);

	*p = b ? (const char *)b : "";
	*len = (uint32_t)n;
}

void meta_layout_encode(const struct meta_layout *l, struct c3_buf *out)
{
	c3_enc_u32(out, l->chunk_size);
	c3_enc_u32(out, l->stripe);
	c3_enc_u32(out, l->table_id);
	c3_enc_u32(out, l->table_version);
	c3_enc_u32(out, l->base);
	c3_enc_u64(out, l->seed);
	c3_enc_u32(out, l->dyn_stripe);
}

void meta_layout_decode(struct c3_dec *d, struct meta_layout *l)
{
	l->chunk_size = c3_dec_u32(d);
	l->stripe = c3_dec_u32(d);
	l->table_id = c3_dec_u32(d);
	l->table_version = c3_dec_u32(d);
	l->base = c3_dec_u32(d);
	l->seed = c3_dec_u64(d);
	l->dyn_stripe = c3_dec_u32(d);
}

void meta_attr_encode(const struct meta_attr *a, struct c3_buf *out)
{
	c3_enc_u64(out, a->ino);
	c3_enc_u32(out, a->mode);
	c3_enc_u32(out, a->uid);
	c3_enc_u32(out, a->gid);
	c3_enc_u32(out, a->nlink);
	c3_enc_u64(out, a->length);
	c3_enc_u64(out, a->atime_ns);
	c3_enc_u64(out, a->mtime_ns);
	c3_enc_u64(out, a->ctime_ns);
	c3_enc_u64(out, a->rdev);
	c3_enc_u64(out, a->parent);
	c3_enc_u64(out, a->truncate_ver);
	meta_layout_encode(&a->layout, out);
}

void meta_attr_decode(struct c3_dec *d, struct meta_attr *a)
{
	a->ino = c3_dec_u64(d);
	a->mode = c3_dec_u32(d);
	a->uid = c3_dec_u32(d);
	a->gid = c3_dec_u32(d);
	a->nlink = c3_dec_u32(d);
	a->length = c3_dec_u64(d);
	a->atime_ns = c3_dec_u64(d);
	a->mtime_ns = c3_dec_u64(d);
	a->ctime_ns = c3_dec_u64(d);
	a->rdev = c3_dec_u64(d);
	a->parent = c3_dec_u64(d);
	a->truncate_ver = c3_dec_u64(d);
	meta_layout_decode(d, &a->layout);
}

/* ---------------------------------------------------------------- messages
 * Each message: ENC body writes fields, DEC body reads them; both in the same order. */
#define DEFINE_CODEC(T, ENC, DEC)                                                       \
	void meta_##T##_encode(const struct meta_##T *m, struct c3_buf *out) { ENC }    \
	int meta_##T##_decode(const void *p, size_t n, struct meta_##T *m)              \
	{                                                                               \
		struct c3_dec dd, *d = &dd;                                             \
		memset(m, 0, sizeof(*m));                                               \
		c3_dec_init(d, p, n);                                                   \
		DEC                                                                     \
		return c3_dec_finish(d);                                                \
	}

DEFINE_CODEC(statfs_req, enc_hdr(&m->hdr, out);, dec_hdr(d, &m->hdr);)

DEFINE_CODEC(statfs_resp,
	c3_enc_u64(out, m->total_bytes); c3_enc_u64(out, m->free_bytes);
	c3_enc_u64(out, m->avail_bytes); c3_enc_u64(out, m->total_inodes);
	c3_enc_u64(out, m->free_inodes); c3_enc_u32(out, m->bsize);
	c3_enc_u32(out, m->namemax);,
	m->total_bytes = c3_dec_u64(d); m->free_bytes = c3_dec_u64(d);
	m->avail_bytes = c3_dec_u64(d); m->total_inodes = c3_dec_u64(d);
	m->free_inodes = c3_dec_u64(d); m->bsize = c3_dec_u32(d);
	m->namemax = c3_dec_u32(d);)

DEFINE_CODEC(lookup_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->parent);
	enc_name(out, m->name, m->name_len);,
	dec_hdr(d, &m->hdr); m->parent = c3_dec_u64(d);
	dec_name(d, &m->name, &m->name_len, META_PATH_MAX);)

/* An optional trailing attribute block: written only when a->ino != 0, read when present. */
static void enc_opt_attr(const struct meta_attr *a, struct c3_buf *out)
{
	if (a->ino)
		meta_attr_encode(a, out);
}

static void dec_opt_attr(struct c3_dec *d, struct meta_attr *a)
{
	if (c3_dec_left(d) > 0)
		meta_attr_decode(d, a);
}

DEFINE_CODEC(attr_resp,
	meta_attr_encode(&m->attr, out); enc_opt_attr(&m->parent, out);,
	meta_attr_decode(d, &m->attr); dec_opt_attr(d, &m->parent);)

DEFINE_CODEC(getattr_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->ino);,
	dec_hdr(d, &m->hdr); m->ino = c3_dec_u64(d);)

DEFINE_CODEC(setattr_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->ino); c3_enc_u32(out, m->mask);
	c3_enc_u32(out, m->mode); c3_enc_u32(out, m->uid); c3_enc_u32(out, m->gid);
	c3_enc_u64(out, m->size); c3_enc_u64(out, m->atime_ns); c3_enc_u64(out, m->mtime_ns);
	c3_enc_u64(out, m->session_id); c3_enc_u32(out, m->dyn_stripe);
	meta_layout_encode(&m->layout, out);,
	dec_hdr(d, &m->hdr); m->ino = c3_dec_u64(d); m->mask = c3_dec_u32(d);
	m->mode = c3_dec_u32(d); m->uid = c3_dec_u32(d); m->gid = c3_dec_u32(d);
	m->size = c3_dec_u64(d); m->atime_ns = c3_dec_u64(d); m->mtime_ns = c3_dec_u64(d);
	m->session_id = c3_dec_u64(d); m->dyn_stripe = c3_dec_u32(d);
	meta_layout_decode(d, &m->layout);
	if (m->mask & ~META_SET_ALL)
		d->err = -C3FS_EBADMSG;)

DEFINE_CODEC(create_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->parent);
	enc_name(out, m->name, m->name_len); c3_enc_u32(out, m->mode);
	c3_enc_u32(out, m->umask); c3_enc_u32(out, m->flags);,
	dec_hdr(d, &m->hdr); m->parent = c3_dec_u64(d);
	dec_name(d, &m->name, &m->name_len, META_PATH_MAX); m->mode = c3_dec_u32(d);
	m->umask = c3_dec_u32(d); m->flags = c3_dec_u32(d);)

DEFINE_CODEC(open_resp,
	meta_attr_encode(&m->attr, out); c3_enc_u64(out, m->session_id);
	enc_opt_attr(&m->parent, out);,
	meta_attr_decode(d, &m->attr); m->session_id = c3_dec_u64(d);
	dec_opt_attr(d, &m->parent);)

DEFINE_CODEC(open_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->ino); c3_enc_u32(out, m->flags);,
	dec_hdr(d, &m->hdr); m->ino = c3_dec_u64(d); m->flags = c3_dec_u32(d);)

DEFINE_CODEC(close_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->ino); c3_enc_u64(out, m->session_id);
	c3_enc_u32(out, m->flags); c3_enc_u64(out, m->length); c3_enc_u64(out, m->truncate_ver);,
	dec_hdr(d, &m->hdr); m->ino = c3_dec_u64(d); m->session_id = c3_dec_u64(d);
	m->flags = c3_dec_u32(d); m->length = c3_dec_u64(d);
	if (c3_dec_left(d) >= 8) m->truncate_ver = c3_dec_u64(d);
	else m->flags &= ~META_CLOSE_TRUNCVER;)

DEFINE_CODEC(mkdir_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->parent);
	enc_name(out, m->name, m->name_len); c3_enc_u32(out, m->mode);
	c3_enc_u32(out, m->umask);,
	dec_hdr(d, &m->hdr); m->parent = c3_dec_u64(d);
	dec_name(d, &m->name, &m->name_len, META_PATH_MAX); m->mode = c3_dec_u32(d);
	m->umask = c3_dec_u32(d);)

DEFINE_CODEC(mknod_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->parent);
	enc_name(out, m->name, m->name_len); c3_enc_u32(out, m->mode);
	c3_enc_u32(out, m->umask); c3_enc_u64(out, m->rdev);,
	dec_hdr(d, &m->hdr); m->parent = c3_dec_u64(d);
	dec_name(d, &m->name, &m->name_len, META_PATH_MAX); m->mode = c3_dec_u32(d);
	m->umask = c3_dec_u32(d); m->rdev = c3_dec_u64(d);)

DEFINE_CODEC(symlink_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->parent);
	enc_name(out, m->name, m->name_len); enc_name(out, m->target, m->target_len);,
	dec_hdr(d, &m->hdr); m->parent = c3_dec_u64(d);
	dec_name(d, &m->name, &m->name_len, META_PATH_MAX);
	dec_name(d, &m->target, &m->target_len, META_PATH_MAX);)

DEFINE_CODEC(readlink_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->ino);,
	dec_hdr(d, &m->hdr); m->ino = c3_dec_u64(d);)

DEFINE_CODEC(readlink_resp,
	enc_name(out, m->target, m->target_len);,
	dec_name(d, &m->target, &m->target_len, META_PATH_MAX);)

DEFINE_CODEC(link_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->ino); c3_enc_u64(out, m->new_parent);
	enc_name(out, m->new_name, m->new_name_len);,
	dec_hdr(d, &m->hdr); m->ino = c3_dec_u64(d); m->new_parent = c3_dec_u64(d);
	dec_name(d, &m->new_name, &m->new_name_len, META_PATH_MAX);)

DEFINE_CODEC(unlink_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->parent);
	enc_name(out, m->name, m->name_len);,
	dec_hdr(d, &m->hdr); m->parent = c3_dec_u64(d);
	dec_name(d, &m->name, &m->name_len, META_PATH_MAX);)

DEFINE_CODEC(unlink_resp, enc_opt_attr(&m->parent, out);, dec_opt_attr(d, &m->parent);)

DEFINE_CODEC(release_req,
	uint32_t k = m->count > META_RELEASE_MAX ? META_RELEASE_MAX : m->count;
	enc_hdr(&m->hdr, out); c3_enc_u32(out, k);
	for (uint32_t i = 0; i < k; i++) {
		c3_enc_u64(out, m->sessions[i].ino);
		c3_enc_u64(out, m->sessions[i].session_id);
	},
	dec_hdr(d, &m->hdr);
	m->count = c3_dec_count(d, META_RELEASE_MAX, 16);
	for (uint32_t i = 0; i < m->count; i++) {
		m->sessions[i].ino = c3_dec_u64(d);
		m->sessions[i].session_id = c3_dec_u64(d);
	}
	if (!d->err && m->count == 0)
		d->err = -C3FS_EBADMSG;)

DEFINE_CODEC(rename_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->parent);
	enc_name(out, m->name, m->name_len); c3_enc_u64(out, m->new_parent);
	enc_name(out, m->new_name, m->new_name_len); c3_enc_u32(out, m->flags);,
	dec_hdr(d, &m->hdr); m->parent = c3_dec_u64(d);
	dec_name(d, &m->name, &m->name_len, META_PATH_MAX); m->new_parent = c3_dec_u64(d);
	dec_name(d, &m->new_name, &m->new_name_len, META_PATH_MAX);
	m->flags = c3_dec_u32(d);)

DEFINE_CODEC(readdir_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->ino);
	enc_name(out, m->cursor, m->cursor_len); c3_enc_u32(out, m->limit);
	c3_enc_bool(out, m->plus);,
	dec_hdr(d, &m->hdr); m->ino = c3_dec_u64(d);
	dec_name(d, &m->cursor, &m->cursor_len, META_PATH_MAX); m->limit = c3_dec_u32(d);
	m->plus = c3_dec_bool(d);)

void meta_readdir_resp_encode(const struct meta_readdir_resp *m, struct c3_buf *out)
{
	c3_enc_bool(out, m->plus);
	c3_enc_u32(out, m->count);
	for (uint32_t i = 0; i < m->count; i++) {
		const struct meta_dirent *e = &m->entries[i];

		enc_name(out, e->name, e->name_len);
		c3_enc_u64(out, e->ino);
		c3_enc_u32(out, e->type);
		if (m->plus)
			meta_attr_encode(&e->attr, out);
	}
	c3_enc_bool(out, m->more);
}

int meta_readdir_resp_decode(const void *p, size_t n, struct meta_readdir_resp *m)
{
	struct c3_dec d;
	uint32_t count;

	memset(m, 0, sizeof(*m));
	c3_dec_init(&d, p, n);
	m->plus = c3_dec_bool(&d);
	/* each entry is at least 4 (name length) + 8 + 4 bytes */
	count = c3_dec_count(&d, META_READDIR_MAX, 16);
	if (d.err)
		return d.err;
	if (count) {
		m->entries = calloc(count, sizeof(*m->entries));
		if (!m->entries)
			return -ENOMEM;
	}
	m->count = count;
	for (uint32_t i = 0; i < count && !d.err; i++) {
		struct meta_dirent *e = &m->entries[i];

		dec_name(&d, &e->name, &e->name_len, META_NAME_MAX);
		e->ino = c3_dec_u64(&d);
		e->type = c3_dec_u32(&d);
		if (m->plus)
			meta_attr_decode(&d, &e->attr);
	}
	m->more = c3_dec_bool(&d);
	if (d.err) {
		meta_readdir_resp_release(m);
		return d.err;
	}
	return 0;
}

void meta_readdir_resp_release(struct meta_readdir_resp *m)
{
	free(m->entries);
	m->entries = NULL;
	m->count = 0;
}

DEFINE_CODEC(getxattr_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->ino);
	enc_name(out, m->name, m->name_len);,
	dec_hdr(d, &m->hdr); m->ino = c3_dec_u64(d);
	dec_name(d, &m->name, &m->name_len, META_PATH_MAX);)

DEFINE_CODEC(getxattr_resp,
	c3_enc_bytes(out, m->value, m->value_len);,
	size_t vl; m->value = c3_dec_bytes(d, META_XATTR_SIZE_MAX, &vl);
	m->value_len = (uint32_t)vl;)

DEFINE_CODEC(setxattr_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->ino);
	enc_name(out, m->name, m->name_len); c3_enc_bytes(out, m->value, m->value_len);
	c3_enc_u32(out, m->flags);,
	size_t vl; dec_hdr(d, &m->hdr); m->ino = c3_dec_u64(d);
	dec_name(d, &m->name, &m->name_len, META_PATH_MAX);
	/* bound by the wire maximum; the service answers E2BIG for values over the limit */
	m->value = c3_dec_bytes(d, 4 * META_XATTR_SIZE_MAX, &vl);
	m->value_len = (uint32_t)vl; m->flags = c3_dec_u32(d);)

DEFINE_CODEC(listxattr_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->ino);,
	dec_hdr(d, &m->hdr); m->ino = c3_dec_u64(d);)

DEFINE_CODEC(listxattr_resp,
	enc_name(out, m->names, m->names_len);,
	size_t vl; m->names = (const char *)c3_dec_bytes(d, META_XATTR_LIST_MAX, &vl);
	m->names_len = (uint32_t)vl;)

DEFINE_CODEC(rmtree_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->parent);
	enc_name(out, m->name, m->name_len);,
	dec_hdr(d, &m->hdr); m->parent = c3_dec_u64(d);
	dec_name(d, &m->name, &m->name_len, META_PATH_MAX);)

DEFINE_CODEC(rmtree_resp,
	c3_enc_u64(out, m->removed); c3_enc_bool(out, m->done);,
	m->removed = c3_dec_u64(d); m->done = c3_dec_bool(d);)

DEFINE_CODEC(access_req,
	enc_hdr(&m->hdr, out); c3_enc_u64(out, m->ino); c3_enc_u32(out, m->mask);,
	dec_hdr(d, &m->hdr); m->ino = c3_dec_u64(d); m->mask = c3_dec_u32(d);
	if (m->mask & ~7u)
		d->err = -C3FS_EBADMSG;)

DEFINE_CODEC(client_req, enc_hdr(&m->hdr, out);, dec_hdr(d, &m->hdr);)

DEFINE_CODEC(renew_resp,
	c3_enc_u64(out, m->session_timeout_ms);,
	m->session_timeout_ms = c3_dec_u64(d);)

/* ---------------------------------------------------------------- layout math */
int meta_layout_check(const struct meta_layout *l, bool is_file)
{
	uint32_t cs = l->chunk_size;

	if (cs < META_CHUNK_MIN || cs > META_CHUNK_MAX || (cs & (cs - 1)) != 0)
		return -C3FS_EBADLAYOUT;
	if (l->stripe < 1 || l->stripe > META_STRIPE_MAX)
		return -C3FS_EBADLAYOUT;
	if (is_file && (l->dyn_stripe < 1 || l->dyn_stripe > l->stripe))
		return -C3FS_EBADLAYOUT;
	return 0;
}

uint64_t meta_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void meta_layout_perm(const struct meta_layout *l, uint32_t *perm)
{
	uint64_t st = l->seed;

	for (uint32_t i = 0; i < l->stripe; i++)
		perm[i] = i;
	for (uint32_t k = l->stripe; k > 1; k--) {
		uint32_t j = (uint32_t)(meta_splitmix64(&st) % k);
		uint32_t t = perm[k - 1];

		perm[k - 1] = perm[j];
		perm[j] = t;
	}
}

int64_t meta_layout_chunk_pos(const struct meta_layout *l, uint32_t table_nchains,
			      uint64_t chunk_index)
{
	uint32_t perm[META_STRIPE_MAX];

	if (table_nchains == 0 || l->stripe < 1 || l->stripe > META_STRIPE_MAX ||
	    l->stripe > table_nchains)
		return -C3FS_EBADLAYOUT;
	meta_layout_perm(l, perm);
	return meta_layout_pos_from_perm(l, perm, table_nchains, chunk_index);
}

int64_t meta_layout_chunk_chain(const struct meta_layout *l, const uint32_t *table_chains,
				uint32_t table_nchains, uint64_t chunk_index)
{
	int64_t pos = meta_layout_chunk_pos(l, table_nchains, chunk_index);

	if (pos < 0)
		return pos;
	return table_chains[pos];
}

uint32_t meta_layout_dyn_needed(const struct meta_layout *l, uint32_t cur, uint64_t end_off)
{
	uint64_t chunks;
	uint32_t d = cur ? cur : 1;

	if (l->chunk_size == 0 || l->stripe == 0)
		return cur;
	chunks = end_off / l->chunk_size + (end_off % l->chunk_size ? 1 : 0);
	while (d < l->stripe && d < chunks)
		d = d * 2 > l->stripe ? l->stripe : d * 2;
	return d > l->stripe ? l->stripe : d;
}
