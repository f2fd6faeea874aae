/* Frame header encode/decode and every rejection path; codec bounds. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/crc32c.h"
#include "common/errors.h"
#include "net/codec.h"
#include "net/frame.h"
#include "net/transport.h"
#include "tests/lib/tap.h"

static void reseal(uint8_t *h)
{
	uint32_t crc = c3_crc32c(0, h, 32);

	h[32] = (uint8_t)crc;
	h[33] = (uint8_t)(crc >> 8);
	h[34] = (uint8_t)(crc >> 16);
	h[35] = (uint8_t)(crc >> 24);
}

static void test_frame(void)
{
	struct rpc_frame f, g;
	uint8_t h[RPC_HEADER_BYTES], h2[RPC_HEADER_BYTES];

	memset(&f, 0, sizeof(f));
	f.version = RPC_PROTO_VERSION;
	f.flags = RPC_FLAG_RESPONSE;
	f.type = 301;
	f.id = 0x0123456789abcdefull;
	f.payload_len = 1000;
	f.bulk_len = 1u << 20;
	f.status = -C3FS_ECHECKSUM;
	f.timeout_ms = 4321;
	rpc_frame_encode(&f, h);
	is_int(h[0], 0x43, "magic byte 0 'C'");
	is_int(h[3], 0x53, "magic byte 3 'S'");
	is_int(rpc_frame_decode(h, sizeof(h), 1000, 1u << 20, &g), 0, "round trip decodes");
	ok(g.type == 301 && g.id == f.id && g.payload_len == 1000 && g.bulk_len == 1u << 20 &&
		   g.status == -C3FS_ECHECKSUM && g.timeout_ms == 4321 &&
		   g.flags == RPC_FLAG_RESPONSE && g.version == RPC_PROTO_VERSION,
	   "every field survives");
	/* little-endian on the wire, independent of the host */
	is_int(h[8], 0xef, "id is little-endian");
	is_int(h[16], 1000 & 0xff, "payload_len is little-endian");

	is_int(rpc_frame_decode(h, 35, 1000, 1u << 20, &g), -C3FS_EBADFRAME, "truncated header");
	is_int(rpc_frame_decode(h, 0, 1000, 1u << 20, &g), -C3FS_EBADFRAME, "empty input");
	is_int(rpc_frame_decode(h, sizeof(h), 999, 1u << 20, &g), -C3FS_ETOOBIG,
	       "payload over the limit");
	is_int(rpc_frame_decode(h, sizeof(h), 1000, (1u << 20) - 1, &g), -C3FS_ETOOBIG,
	       "bulk over the limit");

	memcpy(h2, h, sizeof(h));
	h2[0] ^= 1;
	is_int(rpc_frame_decode(h2, sizeof(h2), 1000, 1u << 20, &g), -C3FS_EBADFRAME, "bad magic");
	reseal(h2);
	is_int(rpc_frame_decode(h2, sizeof(h2), 1000, 1u << 20, &g), -C3FS_EBADFRAME,
	       "bad magic even with a valid checksum");
	for (int i = 4; i < 36; i++) {
		memcpy(h2, h, sizeof(h));
		h2[i] ^= 0x10;
		if (rpc_frame_decode(h2, sizeof(h2), ~0u, ~0u, &g) != -C3FS_EBADFRAME) {
			ok(0, "any flipped header bit is caught by the checksum");
			diag("byte %d", i);
			goto flips_done;
		}
	}
	ok(1, "any flipped header bit is caught by the checksum");
flips_done:
	memcpy(h2, h, sizeof(h));
	h2[4] = 2;
	reseal(h2);
	is_int(rpc_frame_decode(h2, sizeof(h2), 1000, 1u << 20, &g), -C3FS_EVERSION,
	       "unknown version");
	memcpy(h2, h, sizeof(h));
	h2[5] = 0x80 | RPC_FLAG_RESPONSE;
	reseal(h2);
	is_int(rpc_frame_decode(h2, sizeof(h2), 1000, 1u << 20, &g), -C3FS_EBADFRAME,
	       "reserved flag bit set");
	f.status = 5;
	rpc_frame_encode(&f, h2);
	is_int(rpc_frame_decode(h2, sizeof(h2), 1000, 1u << 20, &g), -C3FS_EBADFRAME,
	       "positive status");
	f.status = -1;
	f.flags = 0;
	rpc_frame_encode(&f, h2);
	is_int(rpc_frame_decode(h2, sizeof(h2), 1000, 1u << 20, &g), -C3FS_EBADFRAME,
	       "request with a status");
	f.status = 0;
	rpc_frame_encode(&f, h2);
	is_int(rpc_frame_decode(h2, sizeof(h2), 1000, 1u << 20, &g), 0, "plain request ok");
}

static void test_codec(void)
{
	struct c3_buf b = C3_BUF_INIT;
	struct c3_dec d;
	char s[8];
	size_t n;
	const uint8_t *p;

	c3_enc_u8(&b, 7);
	c3_enc_u16(&b, 0xbeef);
	c3_enc_u32(&b, 0xdeadbeef);
	c3_enc_u64(&b, 0x0102030405060708ull);
	c3_enc_i32(&b, -5);
	c3_enc_i64(&b, -6);
	c3_enc_bool(&b, true);
	c3_enc_str(&b, "hello");
	c3_enc_bytes(&b, "\0\1\2", 3);
	c3_enc_u32(&b, 3); /* a count */
	is_int(b.err, 0, "encoding succeeded");
	c3_dec_init(&d, b.data, b.len);
	is_int(c3_dec_u8(&d), 7, "u8");
	is_int(c3_dec_u16(&d), 0xbeef, "u16");
	is_int(c3_dec_u32(&d), 0xdeadbeef, "u32");
	ok(c3_dec_u64(&d) == 0x0102030405060708ull, "u64");
	is_int(c3_dec_i32(&d), -5, "i32");
	is_int(c3_dec_i64(&d), -6, "i64");
	ok(c3_dec_bool(&d), "bool");
	c3_dec_str(&d, s, sizeof(s));
	is_str(s, "hello", "str");
	p = c3_dec_bytes(&d, 16, &n);
	ok(p && n == 3 && p[2] == 2, "bytes");
	is_int(c3_dec_count(&d, 10, 0), 3, "count");
	is_int(c3_dec_finish(&d), 0, "finish clean");
	is_int(c3_dec_left(&d), 0, "everything consumed");
	is_int(c3_dec_u8(&d), 0, "read past the end returns 0");
	is_int(c3_dec_finish(&d), -C3FS_EBADMSG, "and sets EBADMSG");

	/* every truncation of the message fails cleanly */
	for (size_t cut = 0; cut < b.len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);

		memcpy(copy, b.data, cut);
		c3_dec_init(&d, copy, cut);
		(void)c3_dec_u8(&d);
		(void)c3_dec_u16(&d);
		(void)c3_dec_u32(&d);
		(void)c3_dec_u64(&d);
		(void)c3_dec_i32(&d);
		(void)c3_dec_i64(&d);
		(void)c3_dec_bool(&d);
		c3_dec_str(&d, s, sizeof(s));
		(void)c3_dec_bytes(&d, 16, &n);
		(void)c3_dec_count(&d, 10, 0);
		free(copy);
		if (c3_dec_finish(&d) != -C3FS_EBADMSG) {
			ok(0, "every truncation is EBADMSG");
			diag("cut at %zu", cut);
			goto cuts_done;
		}
	}
	ok(1, "every truncation is EBADMSG");
cuts_done:
	c3_buf_reset(&b);
	c3_enc_str(&b, "toolongstring");
	c3_dec_init(&d, b.data, b.len);
	c3_dec_str(&d, s, sizeof(s));
	is_int(c3_dec_finish(&d), -C3FS_EBADMSG, "string longer than its buffer rejected");
	is_str(s, "", "and the output is empty");
	c3_buf_reset(&b);
	c3_enc_bytes(&b, "a\0b", 3);
	c3_dec_init(&d, b.data, b.len);
	c3_dec_str(&d, s, sizeof(s));
	is_int(c3_dec_finish(&d), -C3FS_EBADMSG, "string with a NUL rejected");
	c3_buf_reset(&b);
	c3_enc_u32(&b, 0xffffffffu); /* bytes length far past the end */
	c3_dec_init(&d, b.data, b.len);
	p = c3_dec_bytes(&d, ~(size_t)0, &n);
	ok(!p && n == 0 && d.err == -C3FS_EBADMSG, "length past the end rejected");
	c3_buf_reset(&b);
	c3_enc_u8(&b, 2);
	c3_dec_init(&d, b.data, b.len);
	(void)c3_dec_bool(&d);
	is_int(c3_dec_finish(&d), -C3FS_EBADMSG, "bool other than 0/1 rejected");
	c3_buf_reset(&b);
	c3_enc_u32(&b, 1000);
	c3_enc_u64(&b, 1);
	c3_dec_init(&d, b.data, b.len);
	is_int(c3_dec_count(&d, 100000, 8), 0, "count beyond what the bytes can hold");
	is_int(c3_dec_finish(&d), -C3FS_EBADMSG, "rejected");
	c3_dec_init(&d, b.data, b.len);
	is_int(c3_dec_count(&d, 999, 0), 0, "count over max");
	is_int(c3_dec_finish(&d), -C3FS_EBADMSG, "rejected too");
	c3_buf_release(&b);
}

/* Address parsing only (tests never contact anything outside 127.0.0.0/8). */
static void test_addr(void)
{
	static const char *bad[] = { "", "1.2.3.4", "1.2.3.4:", ":80", "1.2.3.4:65536",
				     "1.2.3.4:-1", "1.2.3.4:80x", "host:80", "[::1:80", "[::1]80",
				     "[::1]:", "[zz]:80", "1.2.3.999:80", NULL };
	struct sockaddr_storage ss;
	unsigned len;
	int allbad = 1;

	is_int(net_addr_parse("127.0.0.1:8000", &ss, &len), 0, "ipv4 address parses");
	ok(ss.ss_family == AF_INET, "as AF_INET");
	is_int(net_addr_parse("[::1]:0", &ss, &len), 0, "bracketed ipv6 address parses");
	ok(ss.ss_family == AF_INET6, "as AF_INET6");
	is_int(net_addr_parse(NULL, &ss, &len), -C3FS_ECONFIG, "NULL address rejected");
	for (int i = 0; bad[i]; i++)
		if (net_addr_parse(bad[i], &ss, &len) != -C3FS_ECONFIG) {
			allbad = 0;
			diag("accepted \"%s\"", bad[i]);
		}
	ok(allbad, "malformed addresses rejected with ECONFIG");
}

int main(void)
{
	test_frame();
	test_codec();
	test_addr();
	return tap_done();
}
