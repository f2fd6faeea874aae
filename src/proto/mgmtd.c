/* proto/mgmtd.c — codec of the mgmtd messages declared in proto/mgmtd.h, and of the users
 * they carry (proto/cluster_types.h).
 *
 * Fields are encoded in declaration order (net/codec.h).  Decoders reject: truncation
 * (except at an optional tail), strings that do not fit or contain NUL, enums out of
 * range, zero ids where an id is required, zero incarnations, duplicate target ids, and
 * counts above the limits in proto/mgmtd.h.  Trailing bytes are ignored (forward
 * compatibility).  The payloads are rows of mgmtd.def, expanded here (codec_gen.h) with
 * the *_ok checks below; the few the table cannot express follow by hand, each saying
 * why.
 */
#include "proto/mgmtd.h"

#define C3_GEN_TEXT_MAX MGMTD_CONFIG_MAX /* the text fields: settings, schemas */
#include "proto/codec_gen.h"

/* ------------------------------------------------------------------ checks */

static bool register_resp_ok(const struct mgmtd_register_resp *m)
{
	return m->node_id != 0 && m->lease_ms != 0 && m->heartbeat_ms != 0;
}

static bool remove_node_req_ok(const struct mgmtd_remove_node_req *m)
{
	return m->node_id != 0;
}

static bool set_node_state_req_ok(const struct mgmtd_set_node_state_req *m)
{
	return m->node_id != 0 && (m->state == NODE_UP || m->state == NODE_MAINTENANCE);
}

static bool set_target_state_req_ok(const struct mgmtd_set_target_state_req *m)
{
	return m->target_id != 0 && m->state >= TARGET_SERVING && m->state <= TARGET_OFFLINE;
}

static bool chain_member_req_ok(const struct mgmtd_chain_member_req *m)
{
	return m->chain_id != 0 && m->target_id != 0 &&
	       (m->op == MGMTD_CHAIN_ADD || m->op == MGMTD_CHAIN_REMOVE);
}

static bool rotate_lastsrv_req_ok(const struct mgmtd_rotate_lastsrv_req *m)
{
	return m->chain_id != 0;
}

static bool register_req_ok(const struct mgmtd_register_req *m)
{
	if (m->node_type < NODE_META || m->node_type > NODE_CLIENT || m->incarnation == 0)
		return false;
	return m->node_type == NODE_CLIENT || (m->addr[0] != '\0' && !strchr(m->addr, ' '));
}

static bool heartbeat_resp_ok(const struct mgmtd_heartbeat_resp *m)
{
	return m->lease_ms != 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* 0 when the n ids are distinct, -C3FS_EBADMSG otherwise, -ENOMEM. */
static int ids_distinct(const uint32_t *ids, uint32_t n)
{
	uint32_t *tmp;
	int rc = 0;

	if (n < 2)
		return 0;
	tmp = malloc(sizeof(uint32_t) * n);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, ids, sizeof(uint32_t) * n);
	qsort(tmp, n, sizeof(uint32_t), cmp_u32);
	for (uint32_t i = 1; i < n; i++)
		if (tmp[i] == tmp[i - 1])
			rc = -C3FS_EBADMSG;
	free(tmp);
	return rc;
}

/* replicas in range, the targets non-zero and distinct (out of memory counts as
 * refused: the check cannot say -ENOMEM) */
static bool create_table_req_ok(const struct mgmtd_create_table_req *m)
{
	if (m->replicas == 0 || m->replicas > ROUTING_MAX_REPLICAS)
		return false;
	for (uint32_t i = 0; i < m->ntargets; i++)
		if (m->targets[i] == 0)
			return false;
	return ids_distinct(m->targets, m->ntargets) == 0;
}

static bool node_type_ok(uint8_t t)
{
	return t <= NODE_CLIENT;
}

/* whose configuration: a node type (0 = the node's) or a node, at least one of them */
static bool config_target_ok(uint8_t node_type, uint32_t node_id)
{
	return node_type_ok(node_type) && (node_type != 0 || node_id != 0);
}

static bool get_config_req_ok(const struct mgmtd_get_config_req *m)
{
	return config_target_ok(m->node_type, m->node_id);
}

static bool get_config_resp_ok(const struct mgmtd_get_config_resp *m)
{
	return node_type_ok(m->node_type);
}

static bool set_config_req_ok(const struct mgmtd_set_config_req *m)
{
	return config_target_ok(m->node_type, m->node_id);
}

/* the kind "user" of the table: a user with its token hash */
#define enc_user(b, u) cluster_user_encode((u), true, (b))
static inline void dec_user(struct c3_dec *d, struct cluster_user *u)
{
	if (cluster_user_decode(d, u) != 0 && !d->err)
		d->err = -C3FS_EBADMSG;
}

/* ------------------------------------------------------------------ the table */

#define F C3_GEN_F_ENC
#define A C3_GEN_A_ENC
#define T()
#define MGMTD_MSG(msg, check, FIELDS) C3_GEN_ENCODER(mgmtd, msg, FIELDS)
#define MGMTD_MSG_ALLOC(msg, check, FIELDS) C3_GEN_ENCODER(mgmtd, msg, FIELDS)
#include "proto/mgmtd.def"
#undef F
#undef A
#undef T

#define F C3_GEN_F_DEC
#define A C3_GEN_A_DEC
#define T C3_GEN_T_DEC
#define MGMTD_MSG(msg, check, FIELDS) C3_GEN_DECODER(mgmtd, msg, check, FIELDS)
#define MGMTD_MSG_ALLOC(msg, check, FIELDS) C3_GEN_DECODER_REL(mgmtd, msg, check, FIELDS)
#include "proto/mgmtd.def"
#undef F
#undef A
#undef T

#define F C3_GEN_F_REL
#define A C3_GEN_A_REL
#define T()
#define MGMTD_MSG_ALLOC(msg, check, FIELDS) C3_GEN_RELEASE(mgmtd, msg, FIELDS)
#include "proto/mgmtd.def"
#undef F
#undef A
#undef T

/* ------------------------------------------------------------------ by hand: heartbeat */

/* Written by hand: its trailers are not a tail the table can say.  Each trailer repeats
 * the report count and then adds fields to each report of the array before it; the
 * decoder reads a trailer only when its count equals nreports (otherwise the rest is
 * ignored as unknown), and checks the target ids are distinct (-ENOMEM possible). */
#define REPORT_BYTES (4 + 1 + 8 * 4)

void mgmtd_heartbeat_req_encode(const struct mgmtd_heartbeat_req *m, struct c3_buf *out)
{
	c3_enc_u32(out, m->node_id);
	c3_enc_u64(out, m->incarnation);
	c3_enc_u64(out, m->seq);
	c3_enc_u64(out, m->routing_version);
	c3_enc_u32(out, m->nreports);
	for (uint32_t i = 0; i < m->nreports; i++) {
		const struct cluster_target_report *r = &m->reports[i];

		c3_enc_u32(out, r->target_id);
		c3_enc_u8(out, r->local_state);
		c3_enc_u64(out, r->capacity_bytes);
		c3_enc_u64(out, r->free_bytes);
		c3_enc_u64(out, r->sync_done_bytes);
		c3_enc_u64(out, r->sync_total_bytes);
	}
	/* trailer (appended later; decoders before it ignore trailing bytes) */
	c3_enc_u32(out, m->nreports);
	for (uint32_t i = 0; i < m->nreports; i++) {
		const struct cluster_target_report *r = &m->reports[i];

		c3_enc_u64(out, r->corrupt_found);
		c3_enc_u64(out, r->corrupt_repaired);
		c3_enc_u64(out, r->scrub_last_ms);
		c3_enc_u32(out, r->sync_target);
		c3_enc_u64(out, r->out_done_chunks);
		c3_enc_u64(out, r->out_total_chunks);
		c3_enc_u64(out, r->out_done_bytes);
		c3_enc_u64(out, r->out_total_bytes);
		c3_enc_u64(out, r->out_rate_bps);
	}
	/* second trailer (after the first: decoders that know only that one ignore it) */
	c3_enc_u32(out, m->nreports);
	for (uint32_t i = 0; i < m->nreports; i++) {
		const struct cluster_target_report *r = &m->reports[i];

		c3_enc_u64(out, r->read_bytes);
		c3_enc_u64(out, r->read_ops);
		c3_enc_u64(out, r->write_bytes);
		c3_enc_u64(out, r->write_ops);
	}
}

int mgmtd_heartbeat_req_decode(const void *p, size_t n, struct mgmtd_heartbeat_req *m)
{
	struct c3_dec d;
	uint32_t *ids = NULL;
	int rc = -C3FS_EBADMSG;

	memset(m, 0, sizeof(*m));
	c3_dec_init(&d, p, n);
	m->node_id = c3_dec_u32(&d);
	m->incarnation = c3_dec_u64(&d);
	m->seq = c3_dec_u64(&d);
	m->routing_version = c3_dec_u64(&d);
	m->nreports = c3_dec_count(&d, MGMTD_MAX_REPORTS, REPORT_BYTES);
	if (d.err || m->node_id == 0 || m->incarnation == 0)
		goto fail;
	if (m->nreports) {
		m->reports = calloc(m->nreports, sizeof(*m->reports));
		ids = malloc(sizeof(uint32_t) * m->nreports);
		if (!m->reports || !ids) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	for (uint32_t i = 0; i < m->nreports; i++) {
		struct cluster_target_report *r = &m->reports[i];

		r->target_id = c3_dec_u32(&d);
		r->local_state = c3_dec_u8(&d);
		r->capacity_bytes = c3_dec_u64(&d);
		r->free_bytes = c3_dec_u64(&d);
		r->sync_done_bytes = c3_dec_u64(&d);
		r->sync_total_bytes = c3_dec_u64(&d);
		if (r->target_id == 0 || r->local_state < TARGET_LOCAL_UPTODATE ||
		    r->local_state > TARGET_LOCAL_FAILED)
			goto fail;
		ids[i] = r->target_id;
	}
	/* the trailer, when the sender has it (one entry per report, same order) */
	if (!d.err && c3_dec_left(&d) > 0 && c3_dec_u32(&d) == m->nreports) {
		for (uint32_t i = 0; i < m->nreports; i++) {
			struct cluster_target_report *r = &m->reports[i];

			r->corrupt_found = c3_dec_u64(&d);
			r->corrupt_repaired = c3_dec_u64(&d);
			r->scrub_last_ms = c3_dec_u64(&d);
			r->sync_target = c3_dec_u32(&d);
			r->out_done_chunks = c3_dec_u64(&d);
			r->out_total_chunks = c3_dec_u64(&d);
			r->out_done_bytes = c3_dec_u64(&d);
			r->out_total_bytes = c3_dec_u64(&d);
			r->out_rate_bps = c3_dec_u64(&d);
		}
		/* the second trailer (I/O counters), when the sender has it */
		if (!d.err && c3_dec_left(&d) > 0 && c3_dec_u32(&d) == m->nreports) {
			for (uint32_t i = 0; i < m->nreports; i++) {
				struct cluster_target_report *r = &m->reports[i];

				r->read_bytes = c3_dec_u64(&d);
				r->read_ops = c3_dec_u64(&d);
				r->write_bytes = c3_dec_u64(&d);
				r->write_ops = c3_dec_u64(&d);
			}
		}
	}
	if (c3_dec_finish(&d))
		goto fail;
	rc = ids_distinct(ids, m->nreports);
	if (rc)
		goto fail;
	free(ids);
	return 0;
fail:
	free(ids);
	mgmtd_heartbeat_req_release(m);
	return rc;
}

void mgmtd_heartbeat_req_release(struct mgmtd_heartbeat_req *m)
{
	free(m->reports);
	m->reports = NULL;
	m->nreports = 0;
}

/* ------------------------------------------------------------------ by hand: routing */

/* Written by hand: the body is present only when the flag before it says so, and it is
 * the routing encoding of src/cluster (routing_encode), which proto does not include:
 * this file only splits the reply, cluster/routing.h decodes the body. */

void mgmtd_get_routing_resp_encode(uint64_t version, const struct c3_buf *body,
				   struct c3_buf *out)
{
	c3_enc_u64(out, version);
	c3_enc_bool(out, body != NULL);
	if (body)
		c3_enc_bytes(out, body->data, body->len);
}

int mgmtd_get_routing_resp_split(const void *p, size_t n, uint64_t *version,
				  const uint8_t **body, size_t *body_len)
{
	struct c3_dec d;
	bool has;

	*body = NULL;
	*body_len = 0;
	c3_dec_init(&d, p, n);
	*version = c3_dec_u64(&d);
	has = c3_dec_bool(&d);
	if (d.err)
		return -C3FS_EBADMSG;
	if (!has)
		return 0;
	*body = c3_dec_bytes(&d, UINT32_MAX, body_len);
	return *body ? 0 : -C3FS_EBADMSG;
}

/* ------------------------------------------------------------------ by hand: list nodes */

/* Written by hand: a trailer like the heartbeat's (the count again, then each node's
 * version), read only when its count equals n. */

#define NODE_ENTRY_MIN_BYTES (4 + 1 + 1 + 4 + 4 + 4 + 8 + 8)

void mgmtd_list_nodes_resp_encode(const struct mgmtd_list_nodes_resp *m, struct c3_buf *out)
{
	c3_enc_u32(out, m->n);
	for (uint32_t i = 0; i < m->n; i++) {
		const struct mgmtd_node_entry *e = &m->nodes[i];

		c3_enc_u32(out, e->node_id);
		c3_enc_u8(out, e->type);
		c3_enc_u8(out, e->state);
		c3_enc_str(out, e->addr);
		c3_enc_str(out, e->hostname);
		c3_enc_u32(out, e->pid);
		c3_enc_u64(out, e->incarnation);
		c3_enc_u64(out, e->heartbeat_age_ms);
	}
	/* trailer (appended; older decoders ignore it): each node's version */
	c3_enc_u32(out, m->n);
	for (uint32_t i = 0; i < m->n; i++)
		c3_enc_str(out, m->nodes[i].version);
}

int mgmtd_list_nodes_resp_decode(const void *p, size_t n, struct mgmtd_list_nodes_resp *m)
{
	struct c3_dec d;

	memset(m, 0, sizeof(*m));
	c3_dec_init(&d, p, n);
	m->n = c3_dec_count(&d, MGMTD_MAX_LIST, NODE_ENTRY_MIN_BYTES);
	if (d.err)
		return -C3FS_EBADMSG;
	if (m->n) {
		m->nodes = calloc(m->n, sizeof(*m->nodes));
		if (!m->nodes) {
			m->n = 0;
			return -ENOMEM;
		}
	}
	for (uint32_t i = 0; i < m->n; i++) {
		struct mgmtd_node_entry *e = &m->nodes[i];

		e->node_id = c3_dec_u32(&d);
		e->type = c3_dec_u8(&d);
		e->state = c3_dec_u8(&d);
		c3_dec_str(&d, e->addr, sizeof(e->addr));
		c3_dec_str(&d, e->hostname, sizeof(e->hostname));
		e->pid = c3_dec_u32(&d);
		e->incarnation = c3_dec_u64(&d);
		e->heartbeat_age_ms = c3_dec_u64(&d);

		if (e->type < NODE_MGMTD || e->type > NODE_CLIENT || e->state < NODE_UP ||
		    e->state > NODE_MAINTENANCE)
			d.err = -C3FS_EBADMSG;
	}
	/* the trailer, when the sender has it: versions */
	if (!d.err && c3_dec_left(&d) > 0 && c3_dec_u32(&d) == m->n)
		for (uint32_t i = 0; i < m->n; i++)
			c3_dec_str(&d, m->nodes[i].version, sizeof(m->nodes[i].version));
	if (c3_dec_finish(&d)) {
		mgmtd_list_nodes_resp_release(m);
		return -C3FS_EBADMSG;
	}
	return 0;
}

void mgmtd_list_nodes_resp_release(struct mgmtd_list_nodes_resp *m)
{
	free(m->nodes);
	m->nodes = NULL;
	m->n = 0;
}

/* ------------------------------------------------------------------ by hand: error text */

/* Not a message pair: the text of an error reply, read leniently ("" when malformed). */
void mgmtd_error_text_decode(const void *p, size_t n, char *out, size_t outsz)
{
	struct c3_dec d;

	out[0] = '\0';
	c3_dec_init(&d, p, n);
	c3_dec_str(&d, out, outsz);
	if (d.err)
		out[0] = '\0';
}

/* ------------------------------------------------------------------ by hand: users */

/* Written by hand: the encoders take an option (with_hash: the token hashes, or zeros
 * in their place for the admin listing), the groups are a bounded count into a fixed
 * array inside the struct, and the hash a length-prefixed blob of exactly
 * CLUSTER_TOKEN_HASH bytes; cluster_user(s)_decode read from a decoder shared with
 * other messages (the table's user kind) and by mgmtd's user store (src/mgmtd/users.c). */

bool cluster_user_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < CLUSTER_USER_NAME_MAX && name[0] != '-' &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
		       n;
}

void cluster_user_encode(const struct cluster_user *u, bool with_hash, struct c3_buf *out)
{
	static const uint8_t zero[CLUSTER_TOKEN_HASH];

	c3_enc_u32(out, u->uid);
	c3_enc_u32(out, u->gid);
	c3_enc_str(out, u->name);
	c3_enc_u32(out, u->ngroups);
	for (uint32_t i = 0; i < u->ngroups && i < CLUSTER_USER_GROUPS; i++)
		c3_enc_u32(out, u->groups[i]);
	c3_enc_bool(out, u->root);
	c3_enc_bool(out, u->admin);
	c3_enc_bytes(out, with_hash ? u->hash : zero, CLUSTER_TOKEN_HASH);
}

int cluster_user_decode(struct c3_dec *d, struct cluster_user *u)
{
	const uint8_t *h;
	size_t hn;

	memset(u, 0, sizeof(*u));
	u->uid = c3_dec_u32(d);
	u->gid = c3_dec_u32(d);
	c3_dec_str(d, u->name, sizeof(u->name));
	u->ngroups = c3_dec_count(d, CLUSTER_USER_GROUPS, 4);
	for (uint32_t i = 0; i < u->ngroups; i++)
		u->groups[i] = c3_dec_u32(d);
	u->root = c3_dec_bool(d);
	u->admin = c3_dec_bool(d);
	h = c3_dec_bytes(d, CLUSTER_TOKEN_HASH, &hn);
	if (d->err || hn != CLUSTER_TOKEN_HASH || !cluster_user_name_ok(u->name))
		return -C3FS_EBADMSG;
	memcpy(u->hash, h, CLUSTER_TOKEN_HASH);
	return 0;
}

void cluster_users_encode(const struct cluster_user *users, uint32_t n, bool with_hash,
			  struct c3_buf *out)
{
	c3_enc_u32(out, n);
	for (uint32_t i = 0; i < n; i++)
		cluster_user_encode(&users[i], with_hash, out);
}

int cluster_users_decode(struct c3_dec *d, struct cluster_user **users, uint32_t *n)
{
	/* smallest user on the wire: uid gid, a 1-byte name, ngroups, flags, hash */
	uint32_t cnt = c3_dec_count(d, CLUSTER_MAX_USERS, 4 + 4 + 5 + 4 + 2 + 4 + 32);
	struct cluster_user *v = NULL;

	*users = NULL;
	*n = 0;
	if (d->err)
		return -C3FS_EBADMSG;
	if (cnt) {
		v = calloc(cnt, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < cnt; i++) {
		if (cluster_user_decode(d, &v[i]) != 0) {
			free(v);
			return -C3FS_EBADMSG;
		}
	}
	*users = v;
	*n = cnt;
	return 0;
}

void mgmtd_users_resp_encode(const struct mgmtd_users_resp *m, bool with_hash,
			     struct c3_buf *out)
{
	c3_enc_u64(out, m->version);
	cluster_users_encode(m->users, m->n, with_hash, out);
}

int mgmtd_users_resp_decode(const void *p, size_t n, struct mgmtd_users_resp *m)
{
	struct c3_dec d;
	int rc;

	memset(m, 0, sizeof(*m));
	c3_dec_init(&d, p, n);
	m->version = c3_dec_u64(&d);
	rc = cluster_users_decode(&d, &m->users, &m->n);
	if (rc == 0 && c3_dec_finish(&d))
		rc = -C3FS_EBADMSG;
	if (rc)
		mgmtd_users_resp_release(m);
	return rc;
}

void mgmtd_users_resp_release(struct mgmtd_users_resp *m)
{
	free(m->users);
	m->users = NULL;
	m->n = 0;
}
