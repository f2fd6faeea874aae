/* fuzz_meta_rec.c — libFuzzer target for the meta service's stored-record decoders
 * (src/meta/store.c, declared in meta_int.h): inode values ('I') and directory entries
 * ('D' key + value).
 *
 * Input: first byte even -> the rest is an inode value; odd -> the second byte is the key
 * length kl, then kl key bytes, then the entry value.  Checks beyond ASan/UBSan:
 *   - an inode that decodes re-encodes to one that decodes, and encoding that again gives
 *     the same bytes (decode and encode agree; a symlink target stays inside its record);
 *   - a directory entry that decodes is rebuilt byte for byte by meta__key_dent and the
 *     12-byte value (the format is canonical).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "meta/meta_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inode_case(const uint8_t *p, size_t n)
{
	struct meta__inode in, in2;
	struct c3_buf b1 = C3_BUF_INIT, b2 = C3_BUF_INIT;

	if (meta__inode_decode(p, n, 42, &in) != 0)
		return;
	if (in.target && (in.target < (const char *)p ||
			  in.target + in.target_len > (const char *)p + n))
		abort(); /* the target must be borrowed from the record */
	meta__inode_encode(&in, &b1);
	if (b1.err)
		goto out;
	if (meta__inode_decode(b1.data, b1.len, 42, &in2) != 0)
		abort(); /* the encoding of a decoded inode does not decode */
	meta__inode_encode(&in2, &b2);
	if (!b2.err && (b2.len != b1.len || memcmp(b1.data, b2.data, b1.len) != 0))
		abort(); /* decode and encode disagree */
out:
	c3_buf_release(&b1);
	c3_buf_release(&b2);
}

static void dent_case(const uint8_t *p, size_t n)
{
	uint8_t k2[META__KEY_MAX], v2[12];
	uint64_t parent, ino;
	const char *name;
	uint32_t len, type;
	size_t kl, k2l;

	if (n == 0)
		return;
	kl = p[0] < n - 1 ? p[0] : n - 1;
	if (meta__dent_decode(p + 1, kl, p + 1 + kl, n - 1 - kl, &parent, &name, &len, &ino,
			      &type) != 0)
		return;
	k2l = meta__key_dent(k2, parent, name, len);
	kv_put_be64(v2, ino);
	kv_put_be32(v2 + 8, type);
	if (k2l != kl || memcmp(k2, p + 1, kl) != 0 || n - 1 - kl != sizeof(v2) ||
	    memcmp(v2, p + 1 + kl, sizeof(v2)) != 0)
		abort(); /* the entry is not canonical */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size == 0)
		return 0;
	copy = malloc(size - 1 ? size - 1 : 1); /* exact-size heap copy: ASan sees overreads */
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	if (data[0] % 2 == 0)
		inode_case(copy, size - 1);
	else
		dent_case(copy, size - 1);
	free(copy);
	return 0;
}
