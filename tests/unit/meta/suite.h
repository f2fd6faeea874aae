/* suite.h — the POSIX semantics suite of the meta service, shared by test_ops.c (ops
 * called directly on a KV) and test_rpc.c (the same checks over RPC against a c3fs-meta
 * server: in-process on lmdb, or a daemon named by C3FS_META_ADDR).
 * The includer defines: suite_tick() (make time pass), and for direct mode fake_now.
 * Not a test by itself (no test_ prefix). */
#ifndef C3_TESTS_META_SUITE_H
#define C3_TESTS_META_SUITE_H

#include <pthread.h>

#ifndef SUITE_BIG_DIR
#define SUITE_BIG_DIR 2500 /* entries of the readdir-cursor directory */
#endif
static int suite_big_dir = SUITE_BIG_DIR; /* C3FS_META_BIGDIR overrides (RPC mode) */

static struct meta_svc *svc;
static uint64_t seqno = 1;

static struct meta_hdr cred(uint32_t uid, uint32_t gid)
{
	struct meta_hdr h;

	memset(&h, 0, sizeof(h));
	h.cred.uid = uid;
	h.cred.gid = gid;
	h.client_id = 7;
	return h;
}
static struct meta_hdr ROOT, U1, U2;

static int do_mkdir(struct meta_hdr h, uint64_t parent, const char *name, uint32_t mode,
		    uint64_t *ino)
{
	struct meta_mkdir_req r = { h, parent, name, (uint32_t)strlen(name), mode, 0 };
	struct meta_attr_resp a;
	int rc = meta_op_mkdir(svc, &r, &a);

	if (rc == 0 && ino)
		*ino = a.attr.ino;
	return rc;
}

static int do_create(struct meta_hdr h, uint64_t parent, const char *name, uint32_t mode,
		     uint32_t flags, struct meta_open_resp *o)
{
	struct meta_create_req r = { h, parent, name, (uint32_t)strlen(name), mode, 0, flags };
	struct meta_open_resp tmp;

	return meta_op_create(svc, &r, o ? o : &tmp);
}

static int do_lookup(struct meta_hdr h, uint64_t parent, const char *name, struct meta_attr *a)
{
	struct meta_lookup_req r = { h, parent, name, (uint32_t)strlen(name) };
	struct meta_attr_resp rs;
	int rc = meta_op_lookup(svc, &r, &rs);

	if (rc == 0 && a)
		*a = rs.attr;
	return rc;
}

static int do_getattr(uint64_t ino, struct meta_attr *a)
{
	struct meta_getattr_req r = { ROOT, ino };
	struct meta_attr_resp rs;
	int rc = meta_op_getattr(svc, &r, &rs);

	if (rc == 0 && a)
		*a = rs.attr;
	return rc;
}

static int do_unlink(struct meta_hdr h, uint64_t parent, const char *name)
{
	struct meta_unlink_req r = { h, parent, name, (uint32_t)strlen(name) };

	return meta_op_unlink(svc, &r, NULL);
}

static int do_rmdir(struct meta_hdr h, uint64_t parent, const char *name)
{
	struct meta_unlink_req r = { h, parent, name, (uint32_t)strlen(name) };

	return meta_op_rmdir(svc, &r, NULL);
}

static int do_rename(struct meta_hdr h, uint64_t p, const char *n, uint64_t np, const char *nn,
		     uint32_t flags)
{
	struct meta_rename_req r = { h, p, n, (uint32_t)strlen(n), np, nn, (uint32_t)strlen(nn),
				     flags };

	return meta_op_rename(svc, &r);
}

static int do_setattr(struct meta_hdr h, uint64_t ino, uint32_t mask, uint32_t mode,
		      uint32_t uid, uint32_t gid, uint64_t size, struct meta_attr *out)
{
	struct meta_setattr_req r;
	struct meta_attr_resp rs;
	int rc;

	memset(&r, 0, sizeof(r));
	r.hdr = h;
	r.ino = ino;
	r.mask = mask;
	r.mode = mode;
	r.uid = uid;
	r.gid = gid;
	r.size = size;
	rc = meta_op_setattr(svc, &r, &rs);
	if (rc == 0 && out)
		*out = rs.attr;
	return rc;
}

static int count_dir(struct meta_hdr h, uint64_t ino, uint32_t limit, int *pages)
{
	char cursor[256] = "";
	uint32_t clen = 0;
	int total = 0;

	*pages = 0;
	for (;;) {
		struct meta_readdir_req r = { h, ino, cursor, clen, limit, true };
		struct meta_readdir_resp rs;
		int rc = meta_op_readdir(svc, &r, &rs);

		if (rc < 0)
			return rc;
		(*pages)++;
		total += (int)rs.count;
		if (rs.count) {
			clen = rs.entries[rs.count - 1].name_len;
			memcpy(cursor, rs.entries[rs.count - 1].name, clen);
		}
		if (!rs.more) {
			meta_readdir_resp_release(&rs);
			return total;
		}
		meta_readdir_resp_release(&rs);
	}
}

/* A removed directory lives on with nlink 0 (for handles still open on it) until GC:
 * getattr works, nothing can be created in it (ENOENT), it lists as empty. */
static void check_removed_dir(uint64_t ino, const char *what)
{
	struct meta_attr a;
	char nm[160];
	int pages = 0;

	memset(&a, 0, sizeof(a));
	snprintf(nm, sizeof(nm), "%s: getattr of the removed directory works", what);
	is_int(do_getattr(ino, &a), 0, nm);
	snprintf(nm, sizeof(nm), "%s: nlink 0, still a directory", what);
	ok(a.nlink == 0 && S_ISDIR(a.mode), nm);
	snprintf(nm, sizeof(nm), "%s: create in it: ENOENT", what);
	is_int(do_create(ROOT, ino, "new", 0644, 0, NULL), -ENOENT, nm);
	snprintf(nm, sizeof(nm), "%s: mkdir in it: ENOENT", what);
	is_int(do_mkdir(ROOT, ino, "new", 0755, NULL), -ENOENT, nm);
	snprintf(nm, sizeof(nm), "%s: lists as empty", what);
	is_int(count_dir(ROOT, ino, 0, &pages), 0, nm);
}

static void test_names(void)
{
	char longname[300];

	memset(longname, 'a', 256);
	longname[256] = 0;
	is_int(do_mkdir(ROOT, META_ROOT_INO, "", 0755, NULL), -ENOENT, "mkdir empty name");
	is_int(do_mkdir(ROOT, META_ROOT_INO, longname, 0755, NULL), -ENAMETOOLONG,
	       "mkdir 256-byte name");
	longname[255] = 0;
	is_int(do_mkdir(ROOT, META_ROOT_INO, longname, 0755, NULL), 0, "mkdir 255-byte name");
	is_int(do_mkdir(ROOT, META_ROOT_INO, "a/b", 0755, NULL), -EINVAL, "mkdir name with /");
	is_int(do_mkdir(ROOT, META_ROOT_INO, ".", 0755, NULL), -EEXIST, "mkdir .");
	is_int(do_mkdir(ROOT, META_ROOT_INO, "..", 0755, NULL), -EEXIST, "mkdir ..");
	{
		struct meta_mkdir_req r = { ROOT, META_ROOT_INO, "x\0y", 3, 0755, 0 };
		struct meta_attr_resp a;

		is_int(meta_op_mkdir(svc, &r, &a), -EINVAL, "mkdir name with NUL");
	}
	is_int(do_rmdir(ROOT, META_ROOT_INO, "."), -EINVAL, "rmdir .");
	is_int(do_rmdir(ROOT, META_ROOT_INO, ".."), -ENOTEMPTY, "rmdir ..");
	is_int(do_unlink(ROOT, META_ROOT_INO, "."), -EISDIR, "unlink .");
	is_int(do_rename(ROOT, META_ROOT_INO, ".", META_ROOT_INO, "zz", 0), -EBUSY, "rename .");
	is_int(do_rmdir(ROOT, META_ROOT_INO, longname), 0, "rmdir 255-byte name");
}

static void test_basic(void)
{
	struct meta_attr a, d;
	struct meta_open_resp o;
	uint64_t dir, t0;

	is_int(do_getattr(META_ROOT_INO, &a), 0, "root exists");
	is_int(a.mode, S_IFDIR | 0755, "root mode 0755");
	is_int(do_mkdir(ROOT, META_ROOT_INO, "d", 0777, &dir), 0, "mkdir d");
	is_int(do_mkdir(ROOT, META_ROOT_INO, "d", 0777, NULL), -EEXIST, "mkdir d again");
	is_int(do_getattr(dir, &d), 0, "getattr new dir");
	t0 = d.mtime_ns;
	is_int(do_getattr(META_ROOT_INO, &a), 0, "getattr root");
	is_int(a.nlink, 3, "root nlink 3 after mkdir");
	suite_tick();
	is_int(do_create(U1, dir, "f", 0644, META_O_WRITE | META_O_EXCL, &o), 0, "create f");
	ok(o.session_id != 0, "create returns a session");
	is_int(o.attr.uid, 1000, "owner uid");
	is_int(o.attr.mode, S_IFREG | 0644, "mode");
	is_int(o.attr.layout.chunk_size, META_CHUNK_DEFAULT, "layout chunk size inherited");
	is_int(o.attr.layout.dyn_stripe, 1, "dyn stripe starts at 1");
	is_int(do_create(U1, dir, "f", 0644, META_O_WRITE | META_O_EXCL, NULL), -EEXIST,
	       "O_EXCL on existing");
	is_int(do_getattr(dir, &d), 0, "getattr dir");
	ok(d.mtime_ns > t0 && d.ctime_ns == d.mtime_ns, "dir mtime/ctime updated by create");
	is_int(do_lookup(U1, dir, "f", &a), 0, "lookup f");
	is_int(a.ino, o.attr.ino, "lookup ino");
	is_int(do_lookup(U1, dir, "nope", &a), -ENOENT, "lookup missing");
	is_int(do_lookup(U1, dir, "..", &a), 0, "lookup ..");
	is_int(a.ino, META_ROOT_INO, "lookup .. is root");
	/* close with a length report */
	{
		struct meta_close_req c = { U1, o.attr.ino, o.session_id,
					    META_CLOSE_LENGTH | META_CLOSE_WROTE, 3u << 20, 0 };
		struct meta_attr_resp r;

		is_int(meta_op_close(svc, &c, true, &r), 0, "close with length");
		is_int(r.attr.length, 3u << 20, "length reported");
		is_int(r.attr.layout.dyn_stripe, r.attr.layout.stripe < 4 ? r.attr.layout.stripe : 4,
		       "dyn stripe widened to cover 3 chunks");
		c.length = 100;
		is_int(meta_op_close(svc, &c, true, &r), 0, "second close (session gone) ok");
		is_int(r.attr.length, 3u << 20, "length is max of reported and stored");
	}
	is_int(do_setattr(U1, o.attr.ino, META_SET_SIZE, 0, 0, 0, 10, &a), 0, "truncate to 10");
	is_int(a.length, 10, "length exact after truncate");
	ok(a.truncate_ver == 1, "truncate_ver bumped on shrink");
	/* a length written before that truncation (reported late) must not re-extend it */
	{
		struct meta_close_req c = { U1, o.attr.ino, 0,
					    META_CLOSE_LENGTH | META_CLOSE_WROTE | META_CLOSE_TRUNCVER,
					    3u << 20, 0 };
		struct meta_attr_resp r;

		is_int(meta_op_close(svc, &c, false, &r), 0, "late report from before the truncate");
		is_int(r.attr.length, 10, "stale length ignored");
		c.truncate_ver = a.truncate_ver;
		c.length = 20;
		is_int(meta_op_close(svc, &c, false, &r), 0, "report written after the truncate");
		is_int(r.attr.length, 20, "current length accepted");
		is_int(do_setattr(U1, o.attr.ino, META_SET_SIZE, 0, 0, 0, 10, &a), 0, "back to 10");
	}
	/* unlink / rmdir */
	is_int(do_rmdir(ROOT, META_ROOT_INO, "d"), -ENOTEMPTY, "rmdir non-empty");
	is_int(do_unlink(ROOT, dir, "f"), 0, "unlink f");
	is_int(do_unlink(ROOT, dir, "f"), -ENOENT, "unlink f again");
	is_int(do_mkdir(ROOT, dir, "sub", 0755, NULL), 0, "mkdir sub");
	is_int(do_unlink(ROOT, dir, "sub"), -EISDIR, "unlink dir");
	is_int(do_create(ROOT, dir, "g", 0644, 0, NULL), 0, "create g");
	is_int(do_rmdir(ROOT, dir, "g"), -ENOTDIR, "rmdir file");
	is_int(do_rmdir(ROOT, dir, "sub"), 0, "rmdir sub");
	is_int(do_unlink(ROOT, dir, "g"), 0, "unlink g");
	is_int(do_rmdir(ROOT, META_ROOT_INO, "d"), 0, "rmdir d");
	is_int(do_getattr(META_ROOT_INO, &a), 0, "getattr root");
	is_int(a.nlink, 2, "root nlink back to 2");
	check_removed_dir(dir, "rmdir d");
}

static void test_perms(void)
{
	uint64_t dir, priv, sticky;
	struct meta_open_resp o;
	struct meta_attr a;

	is_int(do_mkdir(ROOT, META_ROOT_INO, "pub", 0777, &dir), 0, "mkdir pub 0777");
	is_int(do_mkdir(U1, dir, "priv", 0700, &priv), 0, "u1 mkdir priv 0700");
	is_int(do_create(U2, priv, "x", 0644, 0, NULL), -EACCES, "u2 create in u1's 0700 dir");
	is_int(do_lookup(U2, priv, "x", NULL), -EACCES, "u2 lookup needs search permission");
	is_int(do_create(U1, priv, "x", 0600, META_O_WRITE, &o), 0, "u1 create x 0600");
	{
		struct meta_open_req r = { U2, o.attr.ino, META_O_READ };
		struct meta_open_resp rs;

		is_int(meta_op_open(svc, &r, &rs), -EACCES, "u2 open 0600 file for read");
		r.hdr = ROOT;
		r.flags = META_O_READ | META_O_WRITE;
		is_int(meta_op_open(svc, &r, &rs), 0, "root opens anything for rw");
		r.flags = META_O_READ;
		r.hdr = U1;
		is_int(meta_op_open(svc, &r, &rs), 0, "owner opens for read");
	}
	{
		struct meta_access_req r = { ROOT, o.attr.ino, META_ACC_X };

		is_int(meta_op_access(svc, &r), -EACCES, "root exec needs an x bit on files");
		r.ino = priv;
		is_int(meta_op_access(svc, &r), 0, "root search on dirs always");
	}
	is_int(do_setattr(U2, o.attr.ino, META_SET_MODE, 0777, 0, 0, 0, NULL), -EPERM,
	       "chmod by non-owner");
	is_int(do_setattr(U1, o.attr.ino, META_SET_UID, 0, 2000, 0, 0, NULL), -EPERM,
	       "chown uid by non-root");
	is_int(do_setattr(U1, o.attr.ino, META_SET_GID, 0, 0, 4242, 0, NULL), -EPERM,
	       "chgrp to a group the owner is not in");
	{
		struct meta_hdr u1g = U1;

		u1g.cred.ngroups = 1;
		u1g.cred.groups[0] = 4242;
		is_int(do_setattr(u1g, o.attr.ino, META_SET_MODE, 06755, 0, 0, 0, &a), 0,
		       "owner chmod 6755");
		is_int(a.mode & 07777, 06755, "setuid+setgid set (owner in file group)");
		is_int(do_setattr(u1g, o.attr.ino, META_SET_GID, 0, 0, 4242, 0, &a), 0,
		       "chgrp to a supplementary group");
		is_int(a.gid, 4242, "gid changed");
		is_int(a.mode & 07777, 0755, "chown clears setuid and setgid (group exec)");
	}
	is_int(do_setattr(U1, o.attr.ino, META_SET_MODE, 02755, 0, 0, 0, &a), 0,
	       "chmod g+s without group membership");
	is_int(a.mode & 07777, 0755, "setgid dropped for non-member");
	is_int(do_setattr(ROOT, o.attr.ino, META_SET_UID | META_SET_GID, 0, 2000, 2000, 0, &a), 0,
	       "root chown");
	is_int(a.uid, 2000, "uid now 2000");
	/* utimes */
	{
		struct meta_setattr_req r;
		struct meta_attr_resp rs;

		memset(&r, 0, sizeof(r));
		r.hdr = U1;
		r.ino = o.attr.ino;
		r.mask = META_SET_ATIME | META_SET_MTIME;
		r.atime_ns = 5;
		r.mtime_ns = 6;
		is_int(meta_op_setattr(svc, &r, &rs), -EPERM, "explicit utimes by non-owner");
		r.mask = META_SET_ATIME_NOW | META_SET_MTIME_NOW;
		is_int(meta_op_setattr(svc, &r, &rs), -EACCES, "utimes now without write perm");
		{
			struct meta_setattr_req w = r;
			struct meta_hdr g = U1;

			/* group member with write permission may touch (UTIME_NOW), not set */
			g.cred.ngroups = 1;
			g.cred.groups[0] = 4242;
			w.hdr = g;
			is_int(do_setattr(ROOT, o.attr.ino, META_SET_MODE | META_SET_GID, 0664, 0,
					  4242, 0, NULL), 0, "root: group 4242, mode 0664");
			is_int(meta_op_setattr(svc, &w, &rs), 0, "utimes now with group write");
			w.mask = META_SET_MTIME;
			is_int(meta_op_setattr(svc, &w, &rs), -EPERM,
			       "explicit times still need ownership");
		}
		r.hdr = U2;
		r.hdr.cred.uid = 2000;
		r.mask = META_SET_ATIME | META_SET_MTIME;
		is_int(meta_op_setattr(svc, &r, &rs), 0, "explicit utimes by owner");
		ok(rs.attr.atime_ns == 5 && rs.attr.mtime_ns == 6, "times set");
		r.mask = META_SET_MTIME;
		r.mtime_ns = 9;
		is_int(meta_op_setattr(svc, &r, &rs), 0, "set mtime only (atime omitted)");
		ok(rs.attr.atime_ns == 5 && rs.attr.mtime_ns == 9 && rs.attr.ctime_ns > 9,
		   "atime untouched, ctime now");
	}
	/* sticky */
	is_int(do_mkdir(ROOT, META_ROOT_INO, "tmp", 01777, &sticky), 0, "mkdir sticky tmp");
	is_int(do_create(U1, sticky, "mine", 0666, 0, NULL), 0, "u1 creates in tmp");
	is_int(do_unlink(U2, sticky, "mine"), -EPERM, "u2 cannot unlink u1's file in sticky dir");
	is_int(do_rename(U2, sticky, "mine", sticky, "theirs", 0), -EPERM,
	       "u2 cannot rename u1's file in sticky dir");
	is_int(do_unlink(U1, sticky, "mine"), 0, "owner unlinks in sticky dir");
	is_int(do_create(U2, META_ROOT_INO, "rootfile", 0644, 0, NULL), -EACCES,
	       "u2 cannot create in 0755 root");
	/* mknod */
	{
		struct meta_mknod_req r = { U1, dir, "dev", 3, S_IFCHR | 0644, 0, 0x0103 };
		struct meta_attr_resp rs;

		is_int(meta_op_mknod(svc, &r, &rs), -EPERM, "char device by non-root");
		r.hdr = ROOT;
		is_int(meta_op_mknod(svc, &r, &rs), 0, "char device by root");
		is_int(rs.attr.rdev, 0x0103, "rdev stored");
		r.name = "fifo";
		r.name_len = 4;
		r.mode = S_IFIFO | 0644;
		r.hdr = U1;
		is_int(meta_op_mknod(svc, &r, &rs), 0, "fifo by user");
		is_int(rs.attr.mode & S_IFMT, S_IFIFO, "fifo type");
	}
}

static void test_links(void)
{
	uint64_t dir;
	struct meta_open_resp o;
	struct meta_attr_resp rs;
	struct c3_buf st = C3_BUF_INIT;

	is_int(do_mkdir(ROOT, META_ROOT_INO, "ln", 0755, &dir), 0, "mkdir ln");
	{
		struct meta_symlink_req r = { ROOT, dir, "s", 1, "../target/x", 11 };
		struct meta_readlink_req rl = { ROOT, 0 };
		struct meta_readlink_resp rr;

		is_int(meta_op_symlink(svc, &r, &rs), 0, "symlink");
		is_int(rs.attr.length, 11, "symlink size = target length");
		rl.ino = rs.attr.ino;
		is_int(meta_op_readlink(svc, &rl, &rr, &st), 0, "readlink");
		ok(rr.target_len == 11 && memcmp(rr.target, "../target/x", 11) == 0, "target");
		rl.ino = dir;
		is_int(meta_op_readlink(svc, &rl, &rr, &st), -EINVAL, "readlink of a dir");
		r.target_len = 0;
		r.name = "s2";
		r.name_len = 2;
		is_int(meta_op_symlink(svc, &r, &rs), -ENOENT, "empty symlink target");
	}
	is_int(do_create(ROOT, dir, "f", 0644, 0, &o), 0, "create f");
	{
		struct meta_link_req r = { ROOT, o.attr.ino, dir, "f2", 2 };

		is_int(meta_op_link(svc, &r, &rs), 0, "link f f2");
		is_int(rs.attr.nlink, 2, "nlink 2");
		is_int(meta_op_link(svc, &r, &rs), -EEXIST, "link onto existing");
		r.ino = dir;
		r.new_name = "d2";
		is_int(meta_op_link(svc, &r, &rs), -EPERM, "link a directory");
	}
	is_int(do_rename(ROOT, dir, "f", dir, "f2", 0), 0, "rename between hard links: no-op");
	is_int(do_lookup(ROOT, dir, "f", NULL), 0, "both names remain");
	is_int(do_unlink(ROOT, dir, "f"), 0, "unlink f");
	is_int(do_getattr(o.attr.ino, NULL), 0, "inode lives through f2");
	c3_buf_release(&st);
}

static void test_rename(void)
{
	uint64_t a, b, sub, deep, e;
	struct meta_attr at;

	is_int(do_mkdir(ROOT, META_ROOT_INO, "ra", 0755, &a), 0, "mkdir ra");
	is_int(do_mkdir(ROOT, META_ROOT_INO, "rb", 0755, &b), 0, "mkdir rb");
	is_int(do_mkdir(ROOT, a, "sub", 0755, &sub), 0, "mkdir ra/sub");
	is_int(do_mkdir(ROOT, sub, "deep", 0755, &deep), 0, "mkdir ra/sub/deep");
	is_int(do_rename(ROOT, a, "sub", deep, "x", 0), -EINVAL, "move dir into its subtree");
	is_int(do_rename(ROOT, a, "sub", sub, "x", 0), -EINVAL, "move dir into itself");
	is_int(do_rename(ROOT, a, "nope", b, "x", 0), -ENOENT, "rename missing");
	{
		uint64_t full;

		is_int(do_mkdir(ROOT, b, "nonempty", 0755, &full), 0, "mkdir rb/nonempty");
		is_int(do_create(ROOT, full, "f", 0644, META_O_NOSESSION, NULL), 0, "file inside");
		is_int(do_rename(ROOT, a, "sub", b, "nonempty", 0), -ENOTEMPTY,
		       "dir onto a non-empty dir");
		is_int(do_rename(ROOT, a, "sub", sub, "deep", META_RENAME_EXCHANGE), -EINVAL,
		       "exchange of a dir with its own child");
	}
	{
		/* a non-owner may move a dir to another parent only with write on the dir */
		uint64_t pub1, pub2;

		is_int(do_mkdir(ROOT, META_ROOT_INO, "rp1", 0777, &pub1), 0, "mkdir rp1 0777");
		is_int(do_mkdir(ROOT, META_ROOT_INO, "rp2", 0777, &pub2), 0, "mkdir rp2 0777");
		is_int(do_mkdir(ROOT, pub1, "rootdir", 0755, NULL), 0, "root's dir in rp1");
		is_int(do_rename(U1, pub1, "rootdir", pub2, "moved", 0), -EACCES,
		       "u1 cannot move root's dir across (no write on it for ..)");
		is_int(do_rename(U1, pub1, "rootdir", pub1, "renamed", 0), 0,
		       "but may rename it within the same dir");
	}
	is_int(do_rename(ROOT, a, "sub", b, "sub", 0), 0, "move dir across");
	is_int(do_getattr(a, &at), 0, "getattr ra");
	is_int(at.nlink, 2, "old parent nlink--");
	is_int(do_getattr(b, &at), 0, "getattr rb");
	is_int(at.nlink, 4, "new parent nlink++ (nonempty + sub)");
	is_int(do_getattr(sub, &at), 0, "getattr sub");
	is_int(at.parent, b, "dir parent updated");
	is_int(do_create(ROOT, a, "f", 0644, 0, NULL), 0, "create ra/f");
	is_int(do_rename(ROOT, a, "f", b, "sub", 0), -EISDIR, "file onto dir");
	is_int(do_rename(ROOT, b, "sub", a, "f", 0), -ENOTDIR, "dir onto file");
	is_int(do_mkdir(ROOT, a, "empty", 0755, &e), 0, "mkdir ra/empty");
	is_int(do_rename(ROOT, b, "sub", a, "empty", 0), 0, "dir replaces empty dir");
	check_removed_dir(e, "dir replaced by rename");
	is_int(do_getattr(a, &at), 0, "getattr ra");
	is_int(at.nlink, 3, "ra nlink: one subdir (sub replaced empty)");
	is_int(do_mkdir(ROOT, b, "full", 0755, NULL), 0, "mkdir rb/full");
	is_int(do_create(ROOT, b, "x", 0644, 0, NULL), 0, "create rb/x");
	is_int(do_rename(ROOT, b, "x", b, "full", 0), -EISDIR, "file onto dir same parent");
	is_int(do_mkdir(ROOT, b, "full2", 0755, NULL), 0, "mkdir full2");
	is_int(do_create(ROOT, b, "full2", 0644, 0, NULL), -EISDIR,
	       "create (O_CREAT without O_EXCL) on a directory");
	is_int(do_rename(ROOT, a, "empty", b, "x", META_RENAME_NOREPLACE), -EEXIST,
	       "RENAME_NOREPLACE onto existing");
	is_int(do_rename(ROOT, a, "f", b, "x", 0), 0, "file replaces file");
	is_int(do_rename(ROOT, a, "empty", b, "x", META_RENAME_EXCHANGE), 0, "exchange dir and file");
	is_int(do_lookup(ROOT, a, "empty", &at), 0, "lookup exchanged");
	is_int(at.mode & S_IFMT, S_IFREG, "ra/empty is now the file");
	is_int(do_lookup(ROOT, b, "x", &at), 0, "lookup exchanged 2");
	is_int(at.mode & S_IFMT, S_IFDIR, "rb/x is now the dir");
	is_int(at.parent, b, "exchanged dir's parent updated");
	is_int(do_rename(ROOT, a, "zzz", b, "x", META_RENAME_EXCHANGE), -ENOENT,
	       "exchange with missing source");
	is_int(do_rename(ROOT, a, "empty", b, "nope", META_RENAME_EXCHANGE), -ENOENT,
	       "exchange with missing target");
	is_int(do_rename(ROOT, a, "empty", a, "empty", 0), 0, "rename onto itself");
	is_int(do_rename(ROOT, a, "empty", b, "y", 3), -EINVAL, "both flags");
}

#define SUITE_FILLERS 8
#ifndef SUITE_THREAD_INIT
#define SUITE_THREAD_INIT() ((void)0)
#endif
struct filler {
	uint64_t dir;
	int id, made;
};

static void *fill_main(void *arg)
{
	struct filler *f = arg;
	char name[32];

	SUITE_THREAD_INIT();
	for (int i = f->id; i < suite_big_dir; i += SUITE_FILLERS) {
		snprintf(name, sizeof(name), "entry-%05d", i);
		if (do_create(ROOT, f->dir, name, 0644, META_O_NOSESSION, NULL) != 0)
			break;
		f->made++;
	}
	return NULL;
}

static void test_readdir(void)
{
	uint64_t dir;
	int pages, n;
	char name[32];

	is_int(do_mkdir(ROOT, META_ROOT_INO, "big", 0755, &dir), 0, "mkdir big");
	{
		/* 8 threads fill it (commits overlap: much faster over RPC on a slow disk) */
		pthread_t th[SUITE_FILLERS];
		struct filler f[SUITE_FILLERS];
		int made = 0;

		for (int i = 0; i < SUITE_FILLERS; i++) {
			f[i] = (struct filler){ dir, i, 0 };
			pthread_create(&th[i], NULL, fill_main, &f[i]);
		}
		for (int i = 0; i < SUITE_FILLERS; i++) {
			pthread_join(th[i], NULL);
			made += f[i].made;
		}
		is_int(made, suite_big_dir, "entries created");
	}
	(void)name;
	n = count_dir(ROOT, dir, 1000, &pages);
	is_int(n, suite_big_dir, "readdir sees every entry across pages");
	ok(pages == (suite_big_dir + 999) / 1000 || pages == (suite_big_dir + 999) / 1000 + 1,
	   "pages of 1000 (a last empty page is allowed)");
	n = count_dir(U2, dir, 0, &pages);
	is_int(n, suite_big_dir, "default limit pages too");
	{
		struct meta_rmtree_req r = { U2, META_ROOT_INO, "big", 3 };
		struct meta_rmtree_resp rs;

		is_int(meta_op_rmtree(svc, &r, 0, &rs), -EACCES, "rmtree by other uid refused");
		r.hdr = ROOT;
		is_int(meta_op_rmtree(svc, &r, 0, &rs), 0, "rmtree big");
		ok(rs.done, "rmtree done");
		is_int(rs.removed, suite_big_dir + 1, "removed every entry and the dir");
		is_int(do_lookup(ROOT, META_ROOT_INO, "big", NULL), -ENOENT, "big gone");
	}
}

static void test_idem(void)
{
	struct meta_hdr h = U1;
	struct meta_open_resp o1, o2;
	uint64_t dir;

	is_int(do_mkdir(ROOT, META_ROOT_INO, "idem", 0777, &dir), 0, "mkdir idem");
	h.seq = ++seqno;
	is_int(do_create(h, dir, "f", 0644, META_O_EXCL | META_O_WRITE, &o1), 0, "create seq");
	is_int(do_create(h, dir, "f", 0644, META_O_EXCL | META_O_WRITE, &o2), 0,
	       "retried O_EXCL create returns the first result");
	ok(o1.attr.ino == o2.attr.ino && o1.session_id == o2.session_id, "same inode and session");
	h.seq = ++seqno;
	is_int(do_create(h, dir, "f", 0644, META_O_EXCL | META_O_WRITE, &o2), -EEXIST,
	       "new seq: EEXIST");
	h.seq = ++seqno;
	is_int(do_unlink(h, dir, "f"), 0, "unlink seq");
	is_int(do_unlink(h, dir, "f"), 0, "retried unlink: first result");
	h.seq = ++seqno;
	is_int(do_unlink(h, dir, "f"), -ENOENT, "new unlink: ENOENT");
	is_int(do_create(U1, dir, "g", 0644, 0, NULL), 0, "create g");
	h.seq = ++seqno;
	is_int(do_rename(h, dir, "g", dir, "h", 0), 0, "rename seq");
	is_int(do_rename(h, dir, "g", dir, "h", 0), 0, "retried rename: first result");
	{
		struct meta_attr at;

		/* same (client, seq) as the rename, different request: not a retry */
		is_int(do_mkdir(h, dir, "reused", 0755, NULL), 0, "reused seq runs a new request");
		is_int(do_lookup(U1, dir, "reused", &at), 0, "it really ran");
		is_int(do_rename(h, dir, "g", dir, "h", 0), -ENOENT,
		       "the old request's record was replaced");
	}
#ifndef SUITE_RPC
	/* expiry */
	{
		struct meta_gc_stats st;

		memset(&st, 0, sizeof(st));
		fake_now += 31ull * 60 * 1000000000ull;
		is_int(meta_gc_run(svc, 1000, &st), 0, "gc pass");
		is_int(st.idem_expired, 3, "idempotency records of the 3 successful ops expired");
		h.seq = seqno - 2; /* the successful unlink */
		is_int(do_unlink(h, dir, "f"), -ENOENT, "after expiry a retry runs again");
	}
#endif
}

static void test_xattr(void)
{
	struct meta_open_resp o;
	struct c3_buf st = C3_BUF_INIT;

	is_int(do_create(U1, META_ROOT_INO, "xa", 0644, 0, &o), -EACCES, "u1 cannot create in /");
	is_int(do_create(ROOT, META_ROOT_INO, "xa", 0644, 0, &o), 0, "create xa");
	{
		struct meta_setxattr_req s = { ROOT, o.attr.ino, "user.k", 6,
					       (const uint8_t *)"v1", 2, META_XATTR_REPLACE };
		struct meta_getxattr_req g = { ROOT, o.attr.ino, "user.k", 6 };
		struct meta_getxattr_resp gr;
		struct meta_listxattr_req l = { ROOT, o.attr.ino };
		struct meta_listxattr_resp lr;

		is_int(meta_op_setxattr(svc, &s), -ENODATA, "XATTR_REPLACE on missing");
		s.flags = META_XATTR_CREATE;
		is_int(meta_op_setxattr(svc, &s), 0, "XATTR_CREATE");
		is_int(meta_op_setxattr(svc, &s), -EEXIST, "XATTR_CREATE on existing");
		is_int(meta_op_getxattr(svc, &g, &gr, &st), 0, "getxattr");
		ok(gr.value_len == 2 && memcmp(gr.value, "v1", 2) == 0, "value");
		s.hdr = U2;
		s.flags = 0;
		is_int(meta_op_setxattr(svc, &s), -EACCES, "u2 setxattr without write perm");
		g.hdr = U2;
		is_int(meta_op_getxattr(svc, &g, &gr, &st), 0, "u2 reads user xattr (0644)");
		s.hdr = ROOT;
		s.name = "trusted.t";
		s.name_len = 9;
		is_int(meta_op_setxattr(svc, &s), 0, "root sets trusted");
		is_int(meta_op_listxattr(svc, &l, &lr, &st), 0, "listxattr root");
		is_int(lr.names_len, 7 + 10, "both names listed for root");
		l.hdr = U2;
		is_int(meta_op_listxattr(svc, &l, &lr, &st), 0, "listxattr u2");
		is_int(lr.names_len, 7, "trusted hidden from users");
		static uint8_t bigval[META_XATTR_SIZE_MAX + 1];

		s.value = bigval;
		s.value_len = META_XATTR_SIZE_MAX + 1;
		is_int(meta_op_setxattr(svc, &s), -E2BIG, "value too large");
		g.hdr = ROOT;
		g.name = "user.none";
		g.name_len = 9;
		is_int(meta_op_getxattr(svc, &g, &gr, &st), -ENODATA, "missing xattr");
		is_int(meta_op_removexattr(svc, &g), -ENODATA, "remove missing");
		g.name = "user.k";
		g.name_len = 6;
		is_int(meta_op_removexattr(svc, &g), 0, "remove");
		{
			char nm[256];
			int i, rc = 0;

			s.value = (const uint8_t *)"x";
			s.value_len = 1;
			s.flags = 0;
			for (i = 0; i < 1000 && rc == 0; i++) {
				memset(nm, 'n', sizeof(nm));
				snprintf(nm, sizeof(nm), "user.%04d", i);
				nm[9] = 'n';
				nm[250] = 0;
				s.name = nm;
				s.name_len = 250;
				rc = meta_op_setxattr(svc, &s);
			}
			is_int(rc, -ENOSPC, "name list capped at 64 KiB");
			ok(i > 200 && i < 300, "after about 64 KiB of names");
		}
		g.name = "system.posix_acl_access";
		g.name_len = 23;
		is_int(meta_op_getxattr(svc, &g, &gr, &st), -EOPNOTSUPP, "system namespace");
	}
	c3_buf_release(&st);
}

static void test_dir_layout(void)
{
	uint64_t dir;
	struct meta_setattr_req r;
	struct meta_attr_resp rs;
	struct meta_open_resp o;

	is_int(do_mkdir(U1, META_ROOT_INO, "lay", 0755, &dir), -EACCES, "u1 cannot mkdir in /");
	is_int(do_mkdir(ROOT, META_ROOT_INO, "lay", 0777, &dir), 0, "mkdir lay");
	memset(&r, 0, sizeof(r));
	r.hdr = U1;
	r.ino = dir;
	r.mask = META_SET_LAYOUT;
	r.layout.chunk_size = 4u << 20;
	r.layout.stripe = 2;
	r.layout.table_id = 1;
	is_int(meta_op_setattr(svc, &r, &rs), -EPERM, "layout of another's dir");
	r.hdr = ROOT;
	r.layout.chunk_size = 3u << 20;
	is_int(meta_op_setattr(svc, &r, &rs), -C3FS_EBADLAYOUT, "chunk size not a power of two");
	r.layout.chunk_size = 32u << 10;
	is_int(meta_op_setattr(svc, &r, &rs), -C3FS_EBADLAYOUT, "chunk size below 64 KiB");
	r.layout.chunk_size = 4u << 20;
	is_int(meta_op_setattr(svc, &r, &rs), 0, "set the directory's layout");
	is_int(rs.attr.layout.chunk_size, 4u << 20, "dir template stored");
	is_int(do_create(U1, dir, "f", 0644, META_O_NOSESSION, &o), 0, "create below");
	ok(o.attr.layout.chunk_size == (4u << 20) && o.attr.layout.stripe == 2 &&
	   o.attr.layout.dyn_stripe == 1, "new file inherits the directory's layout");
	is_int(do_mkdir(U1, dir, "sub", 0755, NULL), 0, "subdir");
	{
		struct meta_attr at;

		is_int(do_lookup(U1, dir, "sub", &at), 0, "lookup subdir");
		is_int(at.layout.chunk_size, 4u << 20, "subdirectories inherit the template");
	}
	r.ino = o.attr.ino;
	is_int(meta_op_setattr(svc, &r, &rs), -ENOTDIR, "layout on a file");
}

static void test_layout(void)
{
	struct meta_layout l = { 1u << 20, 8, 1, 1, 5, 12345, 1 };
	uint32_t perm[8], seen = 0, chains[16];

	meta_layout_perm(&l, perm);
	for (int i = 0; i < 8; i++)
		seen |= 1u << perm[i];
	is_int(seen, 0xff, "perm is a permutation");
	for (int i = 0; i < 16; i++)
		chains[i] = 100 + (uint32_t)i;
	{
		int64_t c0 = meta_layout_chunk_chain(&l, chains, 16, 0);
		int64_t c8 = meta_layout_chunk_chain(&l, chains, 16, 8);

		ok(c0 >= 100 && c0 < 116, "chunk 0 on a table chain");
		is_int(c0, c8, "chunk i and i+stripe share a chain");
		is_int(meta_layout_chunk_chain(&l, chains, 4, 0), -C3FS_EBADLAYOUT,
		       "stripe larger than the table refused");
	}
	is_int(meta_layout_dyn_needed(&l, 1, 1), 1, "1 byte: 1 chain");
	is_int(meta_layout_dyn_needed(&l, 1, (3u << 20) + 1), 4, "4 chunks: 4 chains");
	is_int(meta_layout_dyn_needed(&l, 1, 100ull << 20), 8, "capped at stripe");
	l.chunk_size = 3u << 20;
	is_int(meta_layout_check(&l, true), -C3FS_EBADLAYOUT, "non power of two chunk");
}


/* Kill-priv (BUG-C1): after a write or truncate by a non-owner, the FUSE kernel module
 * sends a SETATTR of the mode minus the setuid/setgid bits with the writer's credentials.
 * Exactly that change is allowed to a caller with write permission (Linux's rule: S_ISGID
 * only goes together with group-exec); every other chmod by a non-owner stays EPERM. */
static void test_killpriv(void)
{
	struct meta_open_resp o, w;
	struct meta_attr a;
	uint64_t dir, ino;

	is_int(do_mkdir(ROOT, META_ROOT_INO, "kp", 0777, &dir), 0, "mkdir kp");
	is_int(do_create(ROOT, dir, "s", 0777, META_O_NOSESSION, &o), 0, "root creates kp/s");
	ino = o.attr.ino;
	is_int(do_setattr(ROOT, ino, META_SET_MODE, 06777, 0, 0, 0, &a), 0, "chmod 6777");
	is_int(do_setattr(U2, ino, META_SET_MODE, 0777, 0, 0, 0, &a), 0,
	       "writer (non-owner) clears setuid+setgid");
	is_int(a.mode & 07777, 0777, "mode 0777");
	is_int(a.uid, 0, "owner unchanged");
	is_int(do_setattr(ROOT, ino, META_SET_MODE, 06777, 0, 0, 0, NULL), 0, "chmod 6777 again");
	is_int(do_setattr(U2, ino, META_SET_MODE | META_SET_SIZE, 0777, 0, 0, 10, &a), 0,
	       "truncate by a non-owner with the kill-priv mode");
	ok((a.mode & 07777) == 0777 && a.length == 10, "mode 0777, length 10");
	is_int(do_setattr(ROOT, ino, META_SET_MODE, 06777, 0, 0, 0, NULL), 0, "chmod 6777 (3)");
	is_int(do_setattr(U2, ino, META_SET_MODE, 04777, 0, 0, 0, &a), 0,
	       "clearing only setgid is a kill-priv subset");
	is_int(a.mode & 07777, 04777, "mode 4777");
	is_int(do_setattr(U2, ino, META_SET_MODE, 04777, 0, 0, 0, NULL), -EPERM,
	       "non-owner chmod to the same mode: EPERM");
	is_int(do_setattr(U2, ino, META_SET_MODE, 0776, 0, 0, 0, NULL), -EPERM,
	       "clearing setuid plus another bit: EPERM");
	is_int(do_setattr(U2, ino, META_SET_MODE, 06777, 0, 0, 0, NULL), -EPERM,
	       "setting setgid: EPERM");
	/* setgid without group-exec is not a privilege bit: it stays */
	is_int(do_setattr(ROOT, ino, META_SET_MODE, 06767, 0, 0, 0, NULL), 0, "chmod 6767");
	is_int(do_setattr(U2, ino, META_SET_MODE, 0767, 0, 0, 0, NULL), -EPERM,
	       "setgid without group-exec is not the writer's to clear");
	is_int(do_setattr(U2, ino, META_SET_MODE, 02767, 0, 0, 0, &a), 0,
	       "clearing setuid alone: allowed");
	is_int(do_setattr(ROOT, ino, META_SET_MODE, 06767, 0, 0, 0, NULL), 0, "chmod 6767 (2)");
	is_int(do_setattr(U2, ino, META_SET_SIZE, 0, 0, 0, 5, &a), 0, "truncate by a writer");
	is_int(a.mode & 07777, 02767, "truncate clears setuid, keeps setgid without g+x");
	/* no write permission: refused */
	is_int(do_setattr(ROOT, ino, META_SET_MODE, 06755, 0, 0, 0, NULL), 0, "chmod 6755");
	is_int(do_setattr(U2, ino, META_SET_MODE, 0755, 0, 0, 0, NULL), -EPERM,
	       "kill-priv mode without write permission: EPERM");
	is_int(do_getattr(ino, &a), 0, "getattr");
	is_int(a.mode & 07777, 06755, "mode unchanged");
	/* a write session opened while writable still counts (like the size check) */
	is_int(do_setattr(ROOT, ino, META_SET_MODE, 06777, 0, 0, 0, NULL), 0, "chmod 6777 (4)");
	{
		struct meta_open_req r = { U2, ino, META_O_WRITE };
		struct meta_setattr_req sr;
		struct meta_attr_resp rs;
		struct meta_close_req c;

		is_int(meta_op_open(svc, &r, &w), 0, "u2 opens for writing");
		is_int(do_setattr(ROOT, ino, META_SET_MODE, 06755, 0, 0, 0, NULL), 0,
		       "then root takes away write permission");
		memset(&sr, 0, sizeof(sr));
		sr.hdr = U2;
		sr.ino = ino;
		sr.mask = META_SET_MODE;
		sr.mode = 0755;
		sr.session_id = w.session_id;
		is_int(meta_op_setattr(svc, &sr, &rs), 0, "kill-priv through the write session");
		is_int(rs.attr.mode & 07777, 0755, "mode 0755");
		is_int(do_setattr(ROOT, ino, META_SET_MODE, 06755, 0, 0, 0, NULL), 0, "chmod 6755");
		sr.hdr.client_id = 12345;
		is_int(meta_op_setattr(svc, &sr, &rs), -EPERM, "another client's session: EPERM");
		memset(&c, 0, sizeof(c));
		c.hdr = U2;
		c.ino = ino;
		c.session_id = w.session_id;
		is_int(meta_op_close(svc, &c, true, &rs), 0, "close");
	}
	is_int(do_unlink(ROOT, dir, "s"), 0, "unlink kp/s");
	is_int(do_rmdir(ROOT, META_ROOT_INO, "kp"), 0, "rmdir kp");
}

/* Directory sessions (META_O_DIR): an open directory keeps its inode after rmdir. */
static void test_dir_session(void)
{
	struct meta_open_resp o;
	struct meta_attr_resp rs;
	uint64_t top, dir, f;

	memset(&o, 0, sizeof(o));
	is_int(do_mkdir(ROOT, META_ROOT_INO, "dsp", 0777, &top), 0, "mkdir dsp 0777");
	is_int(do_mkdir(U1, top, "ds", 0755, &dir), 0, "u1 mkdir dsp/ds");
	{
		struct meta_open_req r = { U1, dir, META_O_READ | META_O_DIR };

		is_int(meta_op_open(svc, &r, &o), 0, "open the directory with META_O_DIR");
		ok(o.session_id != 0, "a session is recorded");
		ok(S_ISDIR(o.attr.mode) && o.attr.nlink == 2, "attributes returned");
	}
	{
		struct meta_open_resp fo;
		struct meta_open_req r = { U1, 0, META_O_READ | META_O_DIR };

		is_int(do_create(U1, dir, "f", 0644, META_O_NOSESSION, &fo), 0, "create ds/f");
		f = fo.attr.ino;
		r.ino = f;
		is_int(meta_op_open(svc, &r, &fo), -ENOTDIR, "META_O_DIR on a file: ENOTDIR");
		r.ino = dir;
		r.flags = META_O_READ | META_O_DIR | META_O_NOSESSION;
		is_int(meta_op_open(svc, &r, &fo), 0, "META_O_DIR with NOSESSION");
		is_int((int)fo.session_id, 0, "no session then");
		is_int(do_create(U1, dir, "g", 0644, META_O_DIR, NULL), -EINVAL,
		       "create with META_O_DIR: EINVAL");
		is_int(do_unlink(U1, dir, "f"), 0, "unlink ds/f");
	}
	{
		struct meta_open_req r = { U2, dir, META_O_READ };
		struct meta_open_resp fo;

		r.flags = META_O_READ | META_O_DIR;
		is_int(do_setattr(U1, dir, META_SET_MODE, 0700, 0, 0, 0, NULL), 0, "chmod ds 0700");
		is_int(meta_op_open(svc, &r, &fo), -EACCES, "u2 cannot open a 0700 dir for read");
	}
	is_int(do_rmdir(U1, top, "ds"), 0, "rmdir ds while open");
	check_removed_dir(dir, "rmdir of an open dir");
	{
		struct meta_open_req r = { U1, dir, META_O_READ | META_O_DIR };
		struct meta_open_resp fo;

		is_int(meta_op_open(svc, &r, &fo), -ENOENT, "no new open of a removed dir");
	}
	{
		struct meta_close_req c;

		memset(&c, 0, sizeof(c));
		c.hdr = U1;
		c.ino = dir;
		c.session_id = o.session_id;
		is_int(meta_op_close(svc, &c, true, &rs), 0, "close the directory session");
		is_int(rs.attr.nlink, 0, "close reports nlink 0");
	}
	(void)f;
	is_int(do_rmdir(ROOT, META_ROOT_INO, "dsp"), 0, "rmdir dsp");
}

/* Entry changes reply with the directory's attributes as a getattr right after sees them. */
static int same_dir_attr(const struct meta_attr *x, uint64_t ino)
{
	struct meta_attr g;

	if (do_getattr(ino, &g) != 0)
		return 0;
	return x->ino == ino && x->mode == g.mode && x->uid == g.uid && x->gid == g.gid &&
	       x->nlink == g.nlink && x->mtime_ns == g.mtime_ns && x->ctime_ns == g.ctime_ns &&
	       x->parent == g.parent;
}

static void test_parent_attr(void)
{
	struct meta_open_resp o;
	struct meta_attr_resp ar;
	struct meta_unlink_resp ur;
	uint64_t dir, before;

	is_int(do_mkdir(ROOT, META_ROOT_INO, "pa", 0777, &dir), 0, "mkdir pa");
	{
		struct meta_attr g;

		is_int(do_getattr(dir, &g), 0, "getattr pa");
		before = g.mtime_ns;
	}
	suite_tick();
	is_int(do_create(U1, dir, "f", 0644, META_O_WRITE, &o), 0, "create pa/f");
	ok(o.parent.mtime_ns > before, "create reply: parent mtime moved");
	ok(same_dir_attr(&o.parent, dir), "create reply: parent as getattr sees it");
	is_int(do_create(U1, dir, "f", 0644, META_O_READ, &o), 0, "open pa/f through create");
	is_int((int)o.parent.ino, 0, "an open of an existing file carries no parent");
	suite_tick();
	{
		struct meta_mkdir_req r = { U1, dir, "sub", 3, 0755, 0 };

		is_int(meta_op_mkdir(svc, &r, &ar), 0, "mkdir pa/sub");
		is_int((int)ar.parent.nlink, 3, "mkdir reply: parent nlink 3");
		ok(same_dir_attr(&ar.parent, dir), "mkdir reply: parent as getattr sees it");
	}
	suite_tick();
	{
		struct meta_symlink_req r = { U1, dir, "l", 1, "f", 1 };

		is_int(meta_op_symlink(svc, &r, &ar), 0, "symlink pa/l");
		ok(same_dir_attr(&ar.parent, dir), "symlink reply: parent as getattr sees it");
	}
	suite_tick();
	{
		struct meta_unlink_req r = { U1, dir, "l", 1 };

		r.hdr.seq = seqno++;
		is_int(meta_op_unlink(svc, &r, &ur), 0, "unlink pa/l");
		ok(same_dir_attr(&ur.parent, dir), "unlink reply: parent as getattr sees it");
		memset(&ur, 0, sizeof(ur));
		is_int(meta_op_unlink(svc, &r, &ur), 0, "retried unlink");
		is_int((int)(ur.parent.ino == dir), 1, "the retry returns the recorded parent");
	}
	suite_tick();
	{
		struct meta_unlink_req r = { U1, dir, "sub", 3 };

		is_int(meta_op_rmdir(svc, &r, &ur), 0, "rmdir pa/sub");
		is_int((int)ur.parent.nlink, 2, "rmdir reply: parent nlink 2");
		ok(same_dir_attr(&ur.parent, dir), "rmdir reply: parent as getattr sees it");
	}
	is_int(do_unlink(U1, dir, "f"), 0, "unlink pa/f");
	is_int(do_rmdir(ROOT, META_ROOT_INO, "pa"), 0, "rmdir pa");
}

static void suite_run(void)
{
	ROOT = cred(0, 0);
	U1 = cred(1000, 1000);
	U2 = cred(1001, 1001);
	test_names();
	test_basic();
	test_perms();
	test_links();
	test_rename();
	test_readdir();
	test_idem();
	test_xattr();
	test_dir_layout();
	test_layout();
	test_killpriv();
	test_dir_session();
	test_parent_attr();
}

#endif
