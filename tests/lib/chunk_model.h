/* chunk_model.h — the deterministic writer of the chunk-engine crash tests (test_crash.c,
 * test_powerloss.c): op k of a sequence of partial overwrites, appends, full-chunk writes
 * and truncates over CM_NCH chunks of one target, the in-memory model of what the chunks
 * hold after each op, and the comparison of a chunk on disk with the model.
 *
 * Include after defining CM_NCH (chunks), CM_CS (chunk size), CM_PART_MAX (longest
 * partial write) and CM_APPEND_MAX (longest append).  Chunk c is chunk_id {1, c}.
 */
#ifndef C3FS_TESTS_CHUNK_MODEL_H
#define C3FS_TESTS_CHUNK_MODEL_H

#include <stdint.h>
#include <string.h>

#include "storage/chunk.h"

struct model {
	uint8_t data[CM_NCH][CM_CS];
	uint32_t len[CM_NCH];
	uint64_t ver[CM_NCH];
};

struct op {
	int chunk, kind; /* 0 partial, 1 append, 2 full, 3 truncate */
	uint32_t off, len, seed;
};

static inline uint32_t mix(uint64_t k, uint32_t salt)
{
	uint64_t z = k * 0x9E3779B97F4A7C15ull + salt;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (uint32_t)(z ^ (z >> 31));
}

/* Op number k, given the model state before it (appends depend on the length). */
static inline struct op op_make(uint64_t k, const struct model *m)
{
	struct op o;

	o.chunk = (int)(mix(k, 1) % CM_NCH);
	o.kind = (int)(mix(k, 2) % 4);
	o.seed = mix(k, 3);
	o.off = 0;
	if (o.kind == 0) {
		o.off = mix(k, 4) % CM_CS;
		o.len = 1 + mix(k, 5) % CM_PART_MAX;
		if (o.off + o.len > CM_CS)
			o.len = CM_CS - o.off;
	} else if (o.kind == 1) {
		o.off = m->len[o.chunk];
		o.len = 1 + mix(k, 5) % CM_APPEND_MAX;
		if (o.off >= CM_CS) {
			o.kind = 3;
			o.off = 0;
			o.len = mix(k, 6) % CM_CS;
		} else if (o.off + o.len > CM_CS) {
			o.len = CM_CS - o.off;
		}
	} else if (o.kind == 2) {
		o.len = 1 + mix(k, 5) % CM_CS;
	} else {
		o.len = mix(k, 6) % CM_CS;
	}
	return o;
}

static inline void fill(uint8_t *p, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (uint8_t)(seed >> 24);
	}
}

static inline void model_apply(struct model *m, const struct op *o, uint8_t *scratch)
{
	int c = o->chunk;

	if (o->kind == 3) {
		if (o->len < m->len[c])
			memset(m->data[c] + o->len, 0, m->len[c] - o->len);
		m->len[c] = o->len;
	} else {
		fill(scratch, o->len, o->seed);
		if (o->kind == 2) {
			memset(m->data[c], 0, CM_CS);
			m->len[c] = 0;
		}
		memcpy(m->data[c] + o->off, scratch, o->len);
		if (o->off + o->len > m->len[c])
			m->len[c] = o->off + o->len;
	}
	m->ver[c]++;
}

/* Apply op o to the store as update version ver (0: the committed version + 1, read under
 * the chunk lock).  scratch holds CM_CS bytes.  Returns 0 or the store's error. */
static inline int store_apply(struct chunk_store *cs, const struct op *o, uint64_t ver,
			      uint8_t *scratch)
{
	struct chunk_id id = { 1, (uint32_t)o->chunk };
	struct chunk_update u;
	struct chunk_info info;
	int rc;

	memset(&u, 0, sizeof(u));
	u.type = o->kind == 3 ? CHUNK_UPD_TRUNCATE : CHUNK_UPD_WRITE;
	u.full = o->kind == 2;
	u.offset = o->off;
	u.length = o->len;
	u.chunk_size = CM_CS;
	u.data = scratch;
	if (o->kind != 3)
		fill(scratch, o->len, o->seed);
	if ((rc = chunk_store_lock(cs, id)))
		return rc;
	if (ver == 0)
		ver = chunk_store_stat(cs, id, &info) == 0 ? info.commit_ver + 1 : 1;
	u.version = ver;
	rc = chunk_store_stage(cs, id, &u);
	if (!rc)
		rc = chunk_store_commit(cs, id, ver, 1);
	else
		chunk_store_abort(cs, id);
	chunk_store_unlock(cs, id);
	return rc;
}

/* Whether chunk c reads back as exactly len bytes `want`; *rc_out: the read's error. */
static inline int chunk_equals(struct chunk_store *cs, int c, const uint8_t *want, uint32_t len,
			       int *rc_out)
{
	struct chunk_id id = { 1, (uint32_t)c };
	struct chunk_read rd;
	int rc = chunk_store_read(cs, id, 0, CM_CS, false, &rd), eq;

	*rc_out = rc;
	if (rc)
		return 0;
	eq = rd.length == len && (len == 0 || memcmp(rd.data, want, len) == 0);
	chunk_read_release(&rd);
	return eq;
}

#endif
