/* cluster/users_msg.c — codec of mgmtd's user messages (declared in proto/mgmtd.h, kept
 * apart from mgmtd_msg.c for the same reason as it: the cluster client uses them). */
#include "proto/mgmtd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "net/codec.h"

void mgmtd_get_users_req_encode(const struct mgmtd_get_users_req *m, struct c3_buf *out)
{
	c3_enc_u32(out, m->node_id);
	c3_enc_u64(out, m->known_version);
}

int mgmtd_get_users_req_decode(const void *p, size_t n, struct mgmtd_get_users_req *m)
{
	struct c3_dec d;

	c3_dec_init(&d, p, n);
	m->node_id = c3_dec_u32(&d);
	m->known_version = c3_dec_u64(&d);
	return c3_dec_finish(&d) ? -C3FS_EBADMSG : 0;
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

void mgmtd_user_add_req_encode(const struct mgmtd_user_add_req *m, struct c3_buf *out)
{
	c3_enc_str(out, m->admin_token);
	cluster_user_encode(&m->u, true, out);
}

int mgmtd_user_add_req_decode(const void *p, size_t n, struct mgmtd_user_add_req *m)
{
	struct c3_dec d;
	int rc;

	memset(m, 0, sizeof(*m));
	c3_dec_init(&d, p, n);
	c3_dec_str(&d, m->admin_token, sizeof(m->admin_token));
	rc = cluster_user_decode(&d, &m->u);
	if (rc == 0 && c3_dec_finish(&d))
		rc = -C3FS_EBADMSG;
	return rc;
}

void mgmtd_user_remove_req_encode(const struct mgmtd_user_remove_req *m, struct c3_buf *out)
{
	c3_enc_str(out, m->admin_token);
	c3_enc_u32(out, m->uid);
}

int mgmtd_user_remove_req_decode(const void *p, size_t n, struct mgmtd_user_remove_req *m)
{
	struct c3_dec d;

	memset(m, 0, sizeof(*m));
	c3_dec_init(&d, p, n);
	c3_dec_str(&d, m->admin_token, sizeof(m->admin_token));
	m->uid = c3_dec_u32(&d);
	return c3_dec_finish(&d) ? -C3FS_EBADMSG : 0;
}
