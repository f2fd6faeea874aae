/* fuzz_meta_msg — every decoder of proto/meta.h on hostile bytes.
 *
 * Input: byte 0 picks the message kind (modulo 33; 32 = the layout math alone), the rest
 * is its payload.  A message that decodes
 * is encoded again and decoded again; the two encodings must be identical (so decode
 * reads exactly what encode writes and borrowed pointers stay inside the input).  Decoded
 * layouts also go through the layout math (check, permutation, chunk -> table position)
 * with a table size taken from the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "proto/meta.h"

#define ROUNDTRIP(T)                                                                    \
	do {                                                                            \
		struct meta_##T m1, m2;                                                 \
		struct c3_buf b1 = C3_BUF_INIT, b2 = C3_BUF_INIT;                       \
		if (meta_##T##_decode(p, n, &m1) != 0)                                  \
			break;                                                          \
		meta_##T##_encode(&m1, &b1);                                            \
		if (b1.err)                                                             \
			abort();                                                        \
		if (meta_##T##_decode(b1.data, b1.len, &m2) != 0)                       \
			abort();                                                        \
		meta_##T##_encode(&m2, &b2);                                            \
		if (b1.len != b2.len ||                                                 \
		    (b1.len && memcmp(b1.data, b2.data, b1.len) != 0)) /* "" = NULL */  \
			abort();                                                        \
		c3_buf_release(&b1);                                                    \
		c3_buf_release(&b2);                                                    \
	} while (0)

static void layout_math(const struct meta_layout *l, uint32_t nchains)
{
	uint32_t chains[64];

	if (meta_layout_check(l, true) != 0 || l->stripe > 64)
		return;
	for (uint32_t i = 0; i < 64; i++)
		chains[i] = i + 1;
	nchains = nchains % 65;
	for (uint64_t c = 0; c < 3 * (uint64_t)l->stripe; c++) {
		int64_t id = meta_layout_chunk_chain(l, chains, nchains, c);

		if (id >= 0 && (id < 1 || id > 64 || (uint32_t)id > nchains))
			abort();
	}
	if (meta_layout_dyn_needed(l, l->dyn_stripe, ~0ull >> 1) > l->stripe)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p;
	size_t n;

	if (size < 1)
		return 0;
	p = data + 1;
	n = size - 1;
	switch (data[0] % 33) {
	case 0: ROUNDTRIP(statfs_req); break;
	case 1: ROUNDTRIP(statfs_resp); break;
	case 2: ROUNDTRIP(lookup_req); break;
	case 3: {
		struct meta_attr_resp a;

		ROUNDTRIP(attr_resp);
		if (meta_attr_resp_decode(p, n, &a) == 0)
			layout_math(&a.attr.layout, size > 2 ? data[1] : 0);
		break;
	}
	case 4: ROUNDTRIP(getattr_req); break;
	case 5: {
		struct meta_setattr_req s;

		ROUNDTRIP(setattr_req);
		if (meta_setattr_req_decode(p, n, &s) == 0)
			layout_math(&s.layout, (uint32_t)s.size);
		break;
	}
	case 6: ROUNDTRIP(create_req); break;
	case 7: ROUNDTRIP(open_resp); break;
	case 8: ROUNDTRIP(open_req); break;
	case 9: ROUNDTRIP(close_req); break;
	case 10: ROUNDTRIP(mkdir_req); break;
	case 11: ROUNDTRIP(mknod_req); break;
	case 12: ROUNDTRIP(symlink_req); break;
	case 13: ROUNDTRIP(readlink_req); break;
	case 14: ROUNDTRIP(readlink_resp); break;
	case 15: ROUNDTRIP(link_req); break;
	case 16: ROUNDTRIP(unlink_req); break;
	case 17: ROUNDTRIP(rename_req); break;
	case 18: ROUNDTRIP(readdir_req); break;
	case 19: {
		struct meta_readdir_resp r1, r2;
		struct c3_buf b1 = C3_BUF_INIT, b2 = C3_BUF_INIT;

		if (meta_readdir_resp_decode(p, n, &r1) != 0)
			break;
		meta_readdir_resp_encode(&r1, &b1);
		if (b1.err || meta_readdir_resp_decode(b1.data, b1.len, &r2) != 0)
			abort();
		meta_readdir_resp_encode(&r2, &b2);
		if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len) != 0)
			abort();
		meta_readdir_resp_release(&r1);
		meta_readdir_resp_release(&r2);
		c3_buf_release(&b1);
		c3_buf_release(&b2);
		break;
	}
	case 20: ROUNDTRIP(getxattr_req); break;
	case 21: ROUNDTRIP(getxattr_resp); break;
	case 22: ROUNDTRIP(setxattr_req); break;
	case 23: ROUNDTRIP(listxattr_req); break;
	case 24: ROUNDTRIP(listxattr_resp); break;
	case 25: ROUNDTRIP(rmtree_req); break;
	case 26: ROUNDTRIP(rmtree_resp); break;
	case 27: ROUNDTRIP(access_req); break;
	case 28: ROUNDTRIP(client_req); break;
	case 29: ROUNDTRIP(renew_resp); break;
	case 30: {
		/* unlink/rmdir reply: the parent directory's attributes after the change */
		struct meta_unlink_resp u;

		ROUNDTRIP(unlink_resp);
		if (meta_unlink_resp_decode(p, n, &u) == 0)
			layout_math(&u.parent.layout, size > 2 ? data[1] : 0);
		break;
	}
	case 31: {
		/* RELEASE: 1..META_RELEASE_MAX session references, anything else refused */
		struct meta_release_req r;

		ROUNDTRIP(release_req);
		if (meta_release_req_decode(p, n, &r) == 0 &&
		    (r.count < 1 || r.count > META_RELEASE_MAX))
			abort();
		break;
	}
	default: {
		struct meta_layout l;

		memset(&l, 0, sizeof(l));
		if (n >= 32) {
			memcpy(&l.chunk_size, p, 4);
			memcpy(&l.stripe, p + 4, 4);
			memcpy(&l.base, p + 8, 4);
			memcpy(&l.seed, p + 12, 8);
			memcpy(&l.dyn_stripe, p + 20, 4);
			layout_math(&l, p[24]);
		}
		break;
	}
	}
	return 0;
}
