/* fuzz_routing.c — libFuzzer target for routing_decode (the snapshot every node trusts),
 * and, on the same bytes, every decoder of the mgmtd messages (proto/mgmtd.h), which live
 * in the same library.
 *
 * Properties: routing_decode either fails with -C3FS_EBADMSG / -ENOMEM, or yields a
 * snapshot that passes routing_validate, re-encodes, and decodes again to the same
 * encoding.  Message decoders never read out of bounds, and what they accept re-encodes
 * and decodes again (arrays released: LeakSanitizer checks). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/routing.h"
#include "common/errors.h"
#include "proto/mgmtd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode, and if accepted: encode, decode again, compare the encodings. */
#define ROUNDTRIP(type, dec, enc, rel)                                                 \
	do {                                                                           \
		type m1, m2;                                                           \
		struct c3_buf x1 = C3_BUF_INIT, x2 = C3_BUF_INIT;                      \
		if (dec(data, size, &m1) == 0) {                                       \
			enc(&m1, &x1);                                                 \
			if (dec(x1.data, x1.len, &m2) != 0)                            \
				abort();                                               \
			enc(&m2, &x2);                                                 \
			if (x1.len != x2.len || memcmp(x1.data, x2.data, x1.len))      \
				abort();                                               \
			rel(&m1);                                                      \
			rel(&m2);                                                      \
		}                                                                      \
		c3_buf_release(&x1);                                                   \
		c3_buf_release(&x2);                                                   \
	} while (0)

#define NOREL(m) ((void)(m))

static void users_resp_encode(const struct mgmtd_users_resp *m, struct c3_buf *out)
{
	mgmtd_users_resp_encode(m, true, out);
}

static void fuzz_messages(const uint8_t *data, size_t size)
{
	struct mgmtd_get_routing_resp gr;

	ROUNDTRIP(struct mgmtd_redirect, mgmtd_redirect_decode, mgmtd_redirect_encode, NOREL);
	ROUNDTRIP(struct mgmtd_register_req, mgmtd_register_req_decode,
		  mgmtd_register_req_encode, NOREL);
	ROUNDTRIP(struct mgmtd_register_resp, mgmtd_register_resp_decode,
		  mgmtd_register_resp_encode, NOREL);
	ROUNDTRIP(struct mgmtd_heartbeat_req, mgmtd_heartbeat_req_decode,
		  mgmtd_heartbeat_req_encode, mgmtd_heartbeat_req_release);
	ROUNDTRIP(struct mgmtd_heartbeat_resp, mgmtd_heartbeat_resp_decode,
		  mgmtd_heartbeat_resp_encode, NOREL);
	ROUNDTRIP(struct mgmtd_get_routing_req, mgmtd_get_routing_req_decode,
		  mgmtd_get_routing_req_encode, NOREL);
	ROUNDTRIP(struct mgmtd_leader_resp, mgmtd_leader_resp_decode, mgmtd_leader_resp_encode,
		  NOREL);
	ROUNDTRIP(struct mgmtd_list_nodes_resp, mgmtd_list_nodes_resp_decode,
		  mgmtd_list_nodes_resp_encode, mgmtd_list_nodes_resp_release);
	ROUNDTRIP(struct mgmtd_create_table_req, mgmtd_create_table_req_decode,
		  mgmtd_create_table_req_encode, mgmtd_create_table_req_release);
	ROUNDTRIP(struct mgmtd_create_table_resp, mgmtd_create_table_resp_decode,
		  mgmtd_create_table_resp_encode, NOREL);
	ROUNDTRIP(struct mgmtd_set_node_state_req, mgmtd_set_node_state_req_decode,
		  mgmtd_set_node_state_req_encode, NOREL);
	ROUNDTRIP(struct mgmtd_set_target_state_req, mgmtd_set_target_state_req_decode,
		  mgmtd_set_target_state_req_encode, NOREL);
	ROUNDTRIP(struct mgmtd_rotate_lastsrv_req, mgmtd_rotate_lastsrv_req_decode,
		  mgmtd_rotate_lastsrv_req_encode, NOREL);
	ROUNDTRIP(struct mgmtd_admin_resp, mgmtd_admin_resp_decode, mgmtd_admin_resp_encode,
		  NOREL);
	ROUNDTRIP(struct mgmtd_get_config_req, mgmtd_get_config_req_decode,
		  mgmtd_get_config_req_encode, mgmtd_get_config_req_release);
	ROUNDTRIP(struct mgmtd_get_config_resp, mgmtd_get_config_resp_decode,
		  mgmtd_get_config_resp_encode, mgmtd_get_config_resp_release);
	ROUNDTRIP(struct mgmtd_set_config_req, mgmtd_set_config_req_decode,
		  mgmtd_set_config_req_encode, mgmtd_set_config_req_release);
	ROUNDTRIP(struct mgmtd_get_users_req, mgmtd_get_users_req_decode,
		  mgmtd_get_users_req_encode, NOREL);
	ROUNDTRIP(struct mgmtd_users_resp, mgmtd_users_resp_decode, users_resp_encode,
		  mgmtd_users_resp_release);
	ROUNDTRIP(struct mgmtd_user_add_req, mgmtd_user_add_req_decode,
		  mgmtd_user_add_req_encode, NOREL);
	ROUNDTRIP(struct mgmtd_user_remove_req, mgmtd_user_remove_req_decode,
		  mgmtd_user_remove_req_encode, NOREL);
	if (mgmtd_get_routing_resp_decode(data, size, &gr) == 0)
		routing_unref(gr.ri);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct routing_info *ri, *again;
	struct c3_buf b1 = C3_BUF_INIT, b2 = C3_BUF_INIT;
	int err = 0;

	fuzz_messages(data, size);
	ri = routing_decode(data, size, &err);
	if (!ri) {
		if (err != -C3FS_EBADMSG && err != -ENOMEM)
			abort();
		return 0;
	}
	if (routing_validate(ri) != 0)
		abort();
	routing_encode(ri, &b1);
	again = routing_decode(b1.data, b1.len, &err);
	if (!again)
		abort();
	routing_encode(again, &b2);
	if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len) != 0)
		abort();
	for (uint32_t i = 0; i < ri->nchains; i++) {
		const struct routing_chain *c = &ri->chains[i];

		(void)routing_chain_head(ri, c);
		(void)routing_chain_tail(ri, c);
		(void)routing_chain_successor(ri, c, c->targets[0]);
	}
	routing_unref(again);
	routing_unref(ri);
	c3_buf_release(&b1);
	c3_buf_release(&b2);
	return 0;
}
