/* fuzz_routing.c — libFuzzer target for routing_decode (the snapshot every node trusts).
 *
 * Property: any input either fails with -C3FS_EBADMSG / -ENOMEM, or yields a snapshot
 * that passes routing_validate, re-encodes, and decodes again to the same encoding. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/routing.h"
#include "common/errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct routing_info *ri, *again;
	struct c3_buf b1 = C3_BUF_INIT, b2 = C3_BUF_INIT;
	int err = 0;

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
