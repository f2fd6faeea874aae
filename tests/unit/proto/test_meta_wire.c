/* test_meta_wire.c — the meta messages' wire format, pinned byte for byte, with the
 * optional tails older senders stop at (the parent attributes of attr_resp, open_resp and
 * unlink_resp; close_req's truncate_ver), see wire_test.h. */
#include <stdlib.h>
#include <string.h>

#include "net/codec.h"
#include "proto/meta.h"
#define WIRE_PREFIX meta
#include "tests/unit/proto/wire_test.h"

#define RT(T)                                                                           \
	static int rt_##T(const void *p, size_t n, struct c3_buf *out)                  \
	{                                                                               \
		struct meta_##T m;                                                      \
		int rc;                                                                 \
		memset(&m, 0, sizeof(m));                                               \
		rc = meta_##T##_decode(p, n, &m);                                       \
		if (rc == 0 && out)                                                     \
			meta_##T##_encode(&m, out);                                     \
		return rc;                                                              \
	}
RT(statfs_req)
RT(statfs_resp)
RT(lookup_req)
RT(attr_resp)
RT(getattr_req)
RT(setattr_req)
RT(create_req)
RT(open_resp)
RT(open_req)
RT(close_req)
RT(mkdir_req)
RT(mknod_req)
RT(symlink_req)
RT(readlink_req)
RT(readlink_resp)
RT(link_req)
RT(unlink_req)
RT(unlink_resp)
RT(rename_req)
RT(readdir_req)
RT(getxattr_req)
RT(getxattr_resp)
RT(setxattr_req)
RT(listxattr_req)
RT(listxattr_resp)
RT(rmtree_req)
RT(rmtree_resp)
RT(access_req)
RT(client_req)
RT(renew_resp)
RT(release_req)

static int rt_readdir_resp(const void *p, size_t n, struct c3_buf *out)
{
	struct meta_readdir_resp m;
	int rc = meta_readdir_resp_decode(p, n, &m);

	if (rc == 0 && out)
		meta_readdir_resp_encode(&m, out);
	meta_readdir_resp_release(&m);
	return rc;
}

/* every field distinct: a field read into the wrong place shows */
static const struct meta_hdr HDR = { { 0x01020304, 0x11121314, 2, { 0x21222324, 7 } },
				     0x3132333435363738ull, 0x4142434445464748ull };

static struct meta_attr attr(uint8_t k)
{
	struct meta_attr a = {
		.ino = 0x0100000000000000ull * k + 1, .mode = 0100644, .uid = k, .gid = k + 1u,
		.nlink = 2, .length = 0x1000 + k, .atime_ns = 3, .mtime_ns = 4, .ctime_ns = 5,
		.rdev = 6, .parent = 7, .truncate_ver = 8,
		.layout = { 1 << 20, 4, 1, 2, 3, 0x5152535455565758ull, 2 },
	};

	return a;
}
#define ATTR_BYTES 112 /* meta_attr on the wire */

static void test_basic(void)
{
	struct meta_statfs_req sq = { HDR };
	struct meta_statfs_resp sr = { 1, 2, 3, 4, 5, 1 << 20, META_NAME_MAX };
	struct meta_lookup_req lq = { HDR, 0x0102030405060708ull, "name", 4 };
	struct meta_attr_resp ar = { attr(1), attr(2) };
	struct meta_getattr_req gq = { HDR, 0x0102030405060708ull };
	struct meta_setattr_req st = { HDR, 0x0102030405060708ull, META_SET_ALL, 0755, 10, 11,
				       12, 13, 14, 15, 3, attr(3).layout };
	struct meta_client_req cq = { HDR };
	struct meta_renew_resp rr = { 0x0102030405060708ull };
	struct meta_access_req aq = { HDR, 0x0102030405060708ull, 7 };

	GOLDEN(statfs_req, sq,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "44434241");
	GOLDEN(statfs_resp, sr,
	       "0100000000000000020000000000000003000000000000000400000000000000"
	       "050000000000000000001000ff000000");
	GOLDEN(lookup_req, lq,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "444342410807060504030201040000006e616d65");
	GOLDEN(attr_resp, ar,
	       "0100000000000001a48100000100000002000000020000000110000000000000"
	       "0300000000000000040000000000000005000000000000000600000000000000"
	       "0700000000000000080000000000000000001000040000000100000002000000"
	       "030000005857565554535251020000000100000000000002a481000002000000"
	       "0300000002000000021000000000000003000000000000000400000000000000"
	       "0500000000000000060000000000000007000000000000000800000000000000"
	       "0000100004000000010000000200000003000000585756555453525102000000", ATTR_BYTES /* without the parent */);
	GOLDEN(getattr_req, gq,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "444342410807060504030201");
	GOLDEN(setattr_req, st,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "444342410807060504030201ff030000ed0100000a0000000b0000000c000000"
	       "000000000d000000000000000e000000000000000f0000000000000003000000"
	       "0000100004000000010000000200000003000000585756555453525102000000");
	GOLDEN(client_req, cq,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "44434241");
	GOLDEN(renew_resp, rr,
	       "0807060504030201");
	GOLDEN(access_req, aq,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "44434241080706050403020107000000");
	ar.parent.ino = 0;
	ENC(attr_resp, ar);
	is_int((int)b.len, ATTR_BYTES, "attr_resp: no parent block when parent.ino is 0");
	st.mask = META_SET_ALL + 1;
	REFUSED(setattr_req, st, "unknown mask bit");
	aq.mask = 8;
	REFUSED(access_req, aq, "mask beyond rwx");
}

static void test_files(void)
{
	struct meta_create_req cr = { HDR, 0x0102030405060708ull, "file", 4, 0644, 022, 0x41 };
	struct meta_open_resp or = { attr(1), 0x6162636465666768ull, attr(2) };
	struct meta_open_req oq = { HDR, 0x0102030405060708ull, 2 };
	struct meta_close_req cl = { HDR, 0x0102030405060708ull, 0x1112131415161718ull,
				     META_CLOSE_LENGTH | META_CLOSE_TRUNCVER, 0x2122232425262728ull,
				     0x3132333435363738ull };
	struct meta_sess_ref s[2] = { { 1, 2 }, { 0x0102030405060708ull, 0x1112131415161718ull } };
	struct meta_release_req rl = { HDR, 2, { { 0 } } };

	memcpy(rl.sessions, s, sizeof(s));
	GOLDEN(create_req, cr,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "4443424108070605040302010400000066696c65a40100001200000041000000");
	GOLDEN(open_resp, or,
	       "0100000000000001a48100000100000002000000020000000110000000000000"
	       "0300000000000000040000000000000005000000000000000600000000000000"
	       "0700000000000000080000000000000000001000040000000100000002000000"
	       "0300000058575655545352510200000068676665646362610100000000000002"
	       "a481000002000000030000000200000002100000000000000300000000000000"
	       "0400000000000000050000000000000006000000000000000700000000000000"
	       "0800000000000000000010000400000001000000020000000300000058575655"
	       "5453525102000000", ATTR_BYTES + 8 /* without the parent */);
	GOLDEN(open_req, oq,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "44434241080706050403020102000000");
	GOLDEN(close_req, cl,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "4443424108070605040302011817161514131211050000002827262524232221"
	       "3837363534333231", 64, 65, 66, 67, 68, 69, 70, 71
	       /* 72 bytes; truncate_ver read only when whole (else the flag is dropped) */);
	GOLDEN(release_req, rl,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "4443424102000000010000000000000002000000000000000807060504030201"
	       "1817161514131211");
	rl.count = 0;
	REFUSED(release_req, rl, "no session");
}

static void test_entries(void)
{
	struct meta_mkdir_req mk = { HDR, 0x0102030405060708ull, "dir", 3, 0755, 022 };
	struct meta_mknod_req mn = { HDR, 0x0102030405060708ull, "fifo", 4, 010644, 022,
				     0x1112131415161718ull };
	struct meta_symlink_req sl = { HDR, 0x0102030405060708ull, "ln", 2, "../t", 4 };
	struct meta_readlink_req rq = { HDR, 0x0102030405060708ull };
	struct meta_readlink_resp rs = { "../t", 4 };
	struct meta_link_req lk = { HDR, 0x0102030405060708ull, 0x1112131415161718ull, "hard",
				    4 };
	struct meta_unlink_req ul = { HDR, 0x0102030405060708ull, "gone", 4 };
	struct meta_unlink_resp ur = { attr(4) };
	struct meta_rename_req rn = { HDR, 1, "a", 1, 0x0102030405060708ull, "bb", 2, 1 };
	struct meta_rmtree_req rt = { HDR, 0x0102030405060708ull, "tree", 4 };
	struct meta_rmtree_resp rtr = { 0x0102030405060708ull, true };

	GOLDEN(mkdir_req, mk,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "44434241080706050403020103000000646972ed01000012000000");
	GOLDEN(mknod_req, mn,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "444342410807060504030201040000006669666fa41100001200000018171615"
	       "14131211");
	GOLDEN(symlink_req, sl,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "444342410807060504030201020000006c6e040000002e2e2f74");
	GOLDEN(readlink_req, rq,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "444342410807060504030201");
	GOLDEN(readlink_resp, rs,
	       "040000002e2e2f74");
	GOLDEN(link_req, lk,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "44434241080706050403020118171615141312110400000068617264");
	GOLDEN(unlink_req, ul,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "44434241080706050403020104000000676f6e65");
	GOLDEN(unlink_resp, ur,
	       "0100000000000004a48100000400000005000000020000000410000000000000"
	       "0300000000000000040000000000000005000000000000000600000000000000"
	       "0700000000000000080000000000000000001000040000000100000002000000"
	       "03000000585756555453525102000000", 0 /* older servers: empty */);
	GOLDEN(rename_req, rn,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "4443424101000000000000000100000061080706050403020102000000626201"
	       "000000");
	GOLDEN(rmtree_req, rt,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "4443424108070605040302010400000074726565");
	GOLDEN(rmtree_resp, rtr,
	       "080706050403020101");
}

static void test_dirs_xattrs(void)
{
	struct meta_readdir_req dq = { HDR, 0x0102030405060708ull, "cur", 3, 100, true };
	struct meta_dirent e[2] = {
		{ "a", 1, 0x0102030405060708ull, 0100000, attr(5) },
		{ "sub", 3, 9, 0040000, attr(6) },
	};
	struct meta_readdir_resp dr = { 2, e, true, true };
	struct meta_readdir_resp drn = { 2, e, false, false };
	static const uint8_t val[] = { 0, 1, 2, 0xff };
	struct meta_getxattr_req gx = { HDR, 0x0102030405060708ull, "user.k", 6 };
	struct meta_getxattr_resp gxr = { val, sizeof(val) };
	struct meta_setxattr_req sx = { HDR, 0x0102030405060708ull, "user.k", 6, val,
					sizeof(val), 1 };
	struct meta_listxattr_req lx = { HDR, 0x0102030405060708ull };
	struct meta_listxattr_resp lxr = { "user.a\0user.b", 14 };

	GOLDEN(readdir_req, dq,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "444342410807060504030201030000006375726400000001");
	GOLDEN(readdir_resp, dr,
	       "010200000001000000610807060504030201008000000100000000000005a481"
	       "0000050000000600000002000000051000000000000003000000000000000400"
	       "0000000000000500000000000000060000000000000007000000000000000800"
	       "0000000000000000100004000000010000000200000003000000585756555453"
	       "5251020000000300000073756209000000000000000040000001000000000000"
	       "06a4810000060000000700000002000000061000000000000003000000000000"
	       "0004000000000000000500000000000000060000000000000007000000000000"
	       "0008000000000000000000100004000000010000000200000003000000585756"
	       "55545352510200000001");
	GOLDEN(readdir_resp, drn,
	       "0002000000010000006108070605040302010080000003000000737562090000"
	       "00000000000040000000");
	GOLDEN(getxattr_req, gx,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "44434241080706050403020106000000757365722e6b");
	GOLDEN(getxattr_resp, gxr,
	       "04000000000102ff");
	GOLDEN(setxattr_req, sx,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "44434241080706050403020106000000757365722e6b04000000000102ff0100"
	       "0000");
	GOLDEN(listxattr_req, lx,
	       "0403020114131211020000002423222107000000383736353433323148474645"
	       "444342410807060504030201");
	GOLDEN(listxattr_resp, lxr,
	       "0e000000757365722e6100757365722e6200");
}

int main(void)
{
	test_basic();
	test_files();
	test_entries();
	test_dirs_xattrs();
	c3_buf_release(&b);
	return tap_done();
}
