/* cluster/users.c — user records, tokens and their hashes (contract: users.h).
 *
 * SHA-256 comes from libcrypto's EVP interface (docs/ARCHITECTURE.md, "Dependencies"):
 * tokens are 256 random bits, so one unsalted SHA-256 is enough (no dictionary to attack).
 */
#include "cluster/users.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/buf.h"
#include "common/check.h"
#include "common/errors.h"
#include "net/codec.h"

bool cluster_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const volatile uint8_t *x = a, *y = b;
	unsigned diff = (unsigned)(alen != blen);

	for (size_t i = 0; i < alen; i++)
		diff |= (unsigned)(x[i] ^ (i < blen ? y[i] : 0));
	return diff == 0;
}

int cluster_token_new(char out[CLUSTER_TOKEN_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[CLUSTER_TOKEN_HEX / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[CLUSTER_TOKEN_HEX] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

int cluster_token_hash(const char *token, uint8_t out[CLUSTER_TOKEN_HASH])
{
	unsigned len = 0;

	if (EVP_Digest(token, strlen(token), out, &len, EVP_sha256(), NULL) != 1 ||
	    len != CLUSTER_TOKEN_HASH)
		return C3_INTERNAL("SHA-256 of a token failed (digest length %u)", len);
	return 0;
}

bool cluster_token_is_valid(const char *text)
{
	size_t n = strspn(text, "0123456789abcdefABCDEF");

	return n == CLUSTER_TOKEN_HEX && text[n] == '\0';
}

bool cluster_user_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < CLUSTER_USER_NAME_MAX && name[0] != '-' &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
		       n;
}

bool cluster_user_has_group(const struct cluster_user *u, uint32_t gid)
{
	if (u->gid == gid)
		return true;
	for (uint32_t i = 0; i < u->ngroups; i++)
		if (u->groups[i] == gid)
			return true;
	return false;
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
