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

bool cluster_user_has_group(const struct cluster_user *u, uint32_t gid)
{
	if (u->gid == gid)
		return true;
	for (uint32_t i = 0; i < u->ngroups; i++)
		if (u->groups[i] == gid)
			return true;
	return false;
}
