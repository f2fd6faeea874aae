/* test_users.c — users and tokens (cluster/users.h): the constant-time comparison, token
 * generation and its SHA-256 (a known vector), name rules, the user codec (round trip,
 * hashes left out of operator lists, every truncation refused) and the user messages of
 * proto/mgmtd.h. */
#include <stdlib.h>
#include <string.h>

#include "cluster/users.h"
#include "common/buf.h"
#include "common/errors.h"
#include "net/codec.h"
#include "proto/mgmtd.h"
#include "tests/lib/tap.h"

static void test_ct_equal(void)
{
	ok(cluster_ct_equal("abc", 3, "abc", 3), "equal");
	ok(!cluster_ct_equal("abc", 3, "abd", 3), "last byte differs");
	ok(!cluster_ct_equal("abc", 3, "ab", 2), "shorter");
	ok(!cluster_ct_equal("ab", 2, "abc", 3), "longer");
	ok(!cluster_ct_equal("", 0, "a", 1), "empty vs one byte");
	ok(cluster_ct_equal("", 0, "", 0), "both empty");
}

static void test_tokens(void)
{
	/* SHA-256("abc") */
	static const uint8_t abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
		0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
		0xf2, 0x00, 0x15, 0xad,
	};
	char t1[CLUSTER_TOKEN_HEX + 1], t2[CLUSTER_TOKEN_HEX + 1];
	uint8_t h[CLUSTER_TOKEN_HASH];

	is_int(cluster_token_hash("abc", h), 0, "hash");
	ok(memcmp(h, abc, 32) == 0, "SHA-256 of \"abc\" is the published vector");
	is_int(cluster_token_new(t1), 0, "new token");
	is_int(cluster_token_new(t2), 0, "another");
	ok(cluster_token_is_valid(t1) && strlen(t1) == 64, "64 hex digits");
	ok(strcmp(t1, t2) != 0, "two tokens differ");
	ok(!cluster_token_is_valid("abc"), "too short");
	ok(!cluster_token_is_valid(""), "empty");
	t1[10] = 'g';
	ok(!cluster_token_is_valid(t1), "not hex");
	ok(cluster_user_name_ok("alice") && cluster_user_name_ok("a.b_c-1"), "good names");
	ok(!cluster_user_name_ok("") && !cluster_user_name_ok("a b") &&
	   !cluster_user_name_ok("-x") && !cluster_user_name_ok("a/b"), "bad names");
}

static void test_codec(void)
{
	struct cluster_user u, v, list[2], *got = NULL;
	struct c3_buf b = C3_BUF_INIT;
	struct c3_dec d;
	uint32_t n = 0;
	int bad = 0;

	memset(&u, 0, sizeof(u));
	u.uid = 1000;
	u.gid = 1001;
	strcpy(u.name, "alice");
	u.ngroups = 2;
	u.groups[0] = 2000;
	u.groups[1] = 2001;
	u.admin = true;
	memset(u.hash, 0xab, sizeof(u.hash));
	ok(cluster_user_has_group(&u, 1001) && cluster_user_has_group(&u, 2001) &&
	   !cluster_user_has_group(&u, 1000), "primary and extra groups");
	cluster_user_encode(&u, true, &b);
	c3_dec_init(&d, b.data, b.len);
	is_int(cluster_user_decode(&d, &v), 0, "user decodes");
	ok(memcmp(&u, &v, sizeof(u)) == 0 && c3_dec_left(&d) == 0, "round trip with hash");
	for (size_t k = 0; k < b.len; k++) {
		c3_dec_init(&d, b.data, k);
		bad += cluster_user_decode(&d, &v) != -C3FS_EBADMSG;
	}
	is_int(bad, 0, "every truncation refused");

	list[0] = u;
	list[1] = u;
	list[1].uid = 0;
	list[1].root = true;
	strcpy(list[1].name, "root");
	c3_buf_reset(&b);
	cluster_users_encode(list, 2, false, &b);
	c3_dec_init(&d, b.data, b.len);
	is_int(cluster_users_decode(&d, &got, &n), 0, "list decodes");
	ok(n == 2 && got[1].root && got[1].uid == 0 && strcmp(got[0].name, "alice") == 0,
	   "list round trip");
	bad = 0;
	for (uint32_t i = 0; i < n; i++)
		for (size_t k = 0; k < CLUSTER_TOKEN_HASH; k++)
			bad += got[i].hash[k] != 0;
	is_int(bad, 0, "a list without hashes carries zeros");
	free(got);

	/* a bad name in a record is refused */
	c3_buf_reset(&b);
	strcpy(u.name, "a b");
	cluster_user_encode(&u, true, &b);
	c3_dec_init(&d, b.data, b.len);
	is_int(cluster_user_decode(&d, &v), -C3FS_EBADMSG, "bad name refused");
	c3_buf_release(&b);
}

static void test_messages(void)
{
	struct mgmtd_user_add_req q, q2;
	struct mgmtd_user_remove_req rq, rq2;
	struct mgmtd_users_resp r, r2;
	struct cluster_user users[1];
	struct c3_buf b = C3_BUF_INIT;

	memset(&q, 0, sizeof(q));
	strcpy(q.admin_token, "adm");
	q.u.uid = 7;
	strcpy(q.u.name, "svc");
	q.u.root = true;
	mgmtd_user_add_req_encode(&q, &b);
	is_int(mgmtd_user_add_req_decode(b.data, b.len, &q2), 0, "user-add decodes");
	ok(strcmp(q2.admin_token, "adm") == 0 && q2.u.uid == 7 && q2.u.root &&
	   strcmp(q2.u.name, "svc") == 0, "user-add round trip");
	is_int(mgmtd_user_add_req_decode(b.data, b.len - 1, &q2), -C3FS_EBADMSG,
	       "truncated user-add");

	c3_buf_reset(&b);
	memset(&rq, 0, sizeof(rq));
	strcpy(rq.admin_token, "adm");
	rq.uid = 1000;
	mgmtd_user_remove_req_encode(&rq, &b);
	is_int(mgmtd_user_remove_req_decode(b.data, b.len, &rq2), 0, "user-remove decodes");
	ok(rq2.uid == 1000 && strcmp(rq2.admin_token, "adm") == 0, "user-remove round trip");

	c3_buf_reset(&b);
	users[0] = q.u;
	memset(users[0].hash, 0x5a, sizeof(users[0].hash));
	r.version = 9;
	r.n = 1;
	r.users = users;
	mgmtd_users_resp_encode(&r, true, &b);
	is_int(mgmtd_users_resp_decode(b.data, b.len, &r2), 0, "users resp decodes");
	ok(r2.version == 9 && r2.n == 1 && r2.users[0].hash[31] == 0x5a, "with hashes");
	mgmtd_users_resp_release(&r2);
	is_int(mgmtd_users_resp_decode(b.data, b.len - 1, &r2), -C3FS_EBADMSG,
	       "truncated users resp");
	c3_buf_release(&b);
}

int main(void)
{
	test_ct_equal();
	test_tokens();
	test_codec();
	test_messages();
	return tap_done();
}
