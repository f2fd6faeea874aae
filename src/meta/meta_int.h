/* meta/meta_int.h — internals of the meta service: key layout, stored value codecs,
 * permission checks, id allocation.
 *
 * Key layout (one prefix byte, then big-endian ids so ranges sort numerically):
 *   'I' ino                       inode attributes (struct meta__inode, versioned codec)
 *   'D' parent name               directory entry -> (ino, type)
 *   'X' ino name                  extended attribute value
 *   'S' ino session               open-file session -> (client, flags, created)
 *   'C' client ino session        the same session indexed by client (expiry, prune)
 *   'L' client                    last time the client renewed (wall ns)
 *   'G' ino                       GC queue: inode with nlink 0 whose data must go
 *   'A' shard(1 byte)             id allocator counter of one shard (batches)
 *   'Q' client seq                idempotency record -> (created, status, reply bytes)
 *   'E' created client seq        expiry index of idempotency records
 *   'T' ino shard(1 byte)         directory mtime/ctime of an entry change (blind write
 *                                 to one of 16 rows: entry changes need not write 'I')
 *   'P' ino                       pending chunk cut of a truncate -> (length, stamp)
 *                                 until storage confirmed it (cut.c)
 * Invariants: every 'D' entry points at an existing 'I'; a directory's nlink is 2 + its
 * subdirectories; a non-directory's nlink is its number of 'D' entries; an inode with
 * nlink 0 exists only while queued in 'G' (regular files and removed directories, which
 * have no entries and no 'D' naming them) and is deleted once it has no 'S' sessions
 * (directories: and their grace period is over); 'S' and 'C' always come in pairs.
 */
#ifndef C3_META_META_INT_H
#define C3_META_META_INT_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "kv/kv.h"
#include "meta/meta.h"
#include "proto/meta.h"

#define META__K_INODE   'I'
#define META__K_DENT    'D'
#define META__K_XATTR   'X'
#define META__K_SESSION 'S'
#define META__K_CSESS   'C'
#define META__K_CLIENT  'L'
#define META__K_GC      'G'
#define META__K_ALLOC   'A'
#define META__K_IDEM    'Q'
#define META__K_IDEMEXP 'E'
#define META__K_DTIME   'T'
#define META__K_CUT     'P'
#define META__DTIME_SHARDS 16

#define META__ALLOC_SHARDS 16
#define META__ALLOC_BATCH  4096
#define META__LINK_MAX     65000u /* default and upper bound of opts.link_max */
#define META__DEPTH_MAX    4096   /* directory depth walked by rename's loop check */

/* A loaded inode: attributes plus the symlink target (borrowed from the transaction). */
struct meta__inode {
	struct meta_attr a;
	const char *target;
	uint32_t target_len;
};

/* The service. */
struct meta_svc {
	struct kv_db *db;               /* borrowed */
	struct meta_svc_opts opts;
	pthread_mutex_t id_lock;        /* guards next_id, end_id, rng */
	uint64_t next_id, end_id;       /* ids [next_id, end_id) are ours to hand out */
	uint64_t rng;                   /* splitmix64 state: shard choice, layout seeds */
	pthread_mutex_t gc_lock;        /* one GC pass at a time in this process */
	uint64_t gc_cursor;             /* next GC-queue inode to look at (round robin) */
	uint64_t client_cursor;         /* next client renew record to look at */
	uint64_t cut_cursor;            /* next pending cut to look at (GC) */
};

/* ---- keys: write into buf (size >= 1 + 8 + 8 + 8 + META_PATH_MAX), return length */
size_t meta__key_inode(uint8_t *k, uint64_t ino);
size_t meta__key_dent(uint8_t *k, uint64_t parent, const char *name, uint32_t len);
size_t meta__key_xattr(uint8_t *k, uint64_t ino, const char *name, uint32_t len);
size_t meta__key_id1(uint8_t *k, uint8_t prefix, uint64_t a);
size_t meta__key_id2(uint8_t *k, uint8_t prefix, uint64_t a, uint64_t b);
size_t meta__key_id3(uint8_t *k, uint8_t prefix, uint64_t a, uint64_t b, uint64_t c);
#define META__KEY_MAX (1 + 8 + 8 + 8 + META_PATH_MAX)
/* The keys prefix|id|... (all rows of one inode or client in one table): kv_range over
 * them (limit <= 0: all; pairs owned by t), clear them, or 1 when there is any (else 0). */
int meta__range(struct kv_txn *t, uint8_t prefix, uint64_t id, int limit, struct kv_pair **p,
		bool *more);
int meta__range_clear(struct kv_txn *t, uint8_t prefix, uint64_t id);
/* kv_range over the keys prefix|id... with id >= from, to the end of the table (a GC
 * scan from its round-robin cursor). */
int meta__range_from(struct kv_txn *t, uint8_t prefix, uint64_t from, int limit,
		     struct kv_pair **p, bool *more);
int meta__range_any(struct kv_txn *t, uint8_t prefix, uint64_t id);

/* ---- stored values */
void meta__inode_encode(const struct meta__inode *in, struct c3_buf *out);
/* Validates everything (-C3FS_EINTERNAL for a corrupt record: never trusted). */
int meta__inode_decode(const uint8_t *p, size_t n, uint64_t ino, struct meta__inode *in);
/* A 'D' record: key k (META__K_DENT, parent, name) and value v (ino, type).  Returns 0,
 * or -C3FS_EINTERNAL when the key is not a 'D' key with a 1..META_NAME_MAX byte name or
 * the value is not 12 bytes; *name points into k.  (Also exposed for fuzz_meta_rec.) */
int meta__dent_decode(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
		      uint64_t *parent, const char **name, uint32_t *len, uint64_t *ino,
		      uint32_t *type);

/* Transaction helpers; all return 0 or a negative code. */
int meta__inode_get(struct kv_txn *t, uint64_t ino, struct meta__inode *in);
int meta__inode_put(struct kv_txn *t, const struct meta__inode *in);
int meta__dent_get(struct kv_txn *t, uint64_t parent, const char *name, uint32_t len,
		   uint64_t *ino, uint32_t *type);
int meta__dent_put(struct kv_txn *t, uint64_t parent, const char *name, uint32_t len,
		   uint64_t ino, uint32_t type);
int meta__dent_clear(struct kv_txn *t, uint64_t parent, const char *name, uint32_t len);
/* Directory times: entry changes that leave nlink alone record mtime = ctime = now in
 * 'T'|ino without reading it (concurrent creates in one directory then share no key);
 * readers that return attributes merge it (max) with meta__dir_times.  Writers of the
 * directory's own times (setattr) clear it. */
int meta__dir_touch(struct kv_txn *t, uint64_t ino, uint64_t now);
int meta__dir_times(struct kv_txn *t, struct meta__inode *in);
int meta__dir_times_clear(struct kv_txn *t, uint64_t ino);

/* 1 when directory ino has at least one entry, 0 when empty. */
int meta__dir_nonempty(struct kv_txn *t, uint64_t ino);

/* ---- permissions */
bool meta__cred_in_group(const struct meta_cred *c, uint32_t gid);
/* mask = META_ACC_R|W|X bits.  Root passes, except X on a non-directory without any x bit. */
int meta__perm(const struct meta_cred *c, const struct meta_attr *a, uint32_t mask);
/* The sticky rule: may c remove/rename entry `victim` out of directory `dir`? */
int meta__sticky_ok(const struct meta_cred *c, const struct meta_attr *dir,
		    const struct meta_attr *victim);
/* POSIX name rules for a new or removed entry: 0, -ENOENT (empty), -ENAMETOOLONG, -EINVAL
 * ('/' or NUL).  "." and ".." are left to the caller (their error depends on the op). */
int meta__name_check(const char *name, uint32_t len);
bool meta__name_is_dot(const char *name, uint32_t len);

/* The op files: attr.c (statfs, lookup, getattr, access, readlink, setattr), namespace.c
 * (mkdir, mknod, symlink, link, unlink, rmdir), open.c (create, open), session.c
 * (close, sync, release, renew, prune), rename.c, readdir.c, xattr.c, rmtree.c; their
 * shared steps are entry.c's, idempotency is idem.c's.  Every op is a transaction body
 * run by kv_run: it reads what it needs (so a concurrent change of any of it makes the
 * commit fail and the body run again), checks permissions and POSIX rules, then writes.
 * Bodies are re-entrant: they reset their outputs first.  Side effects on storage (chunk
 * truncation) happen after the commit, never inside. */

/* ---- entry.c: steps shared by the op files */
/* Set a directory's mtime = ctime = now in its record (caller writes it). */
void meta__touch_dir(struct meta__inode *d, uint64_t now);
/* Load ino, which must be a directory (-ENOTDIR). */
int meta__load_dir(struct kv_txn *t, uint64_t ino, struct meta__inode *d);
/* The same, and c needs the META_ACC_* bits of mask on it. */
int meta__load_dir_perm(struct kv_txn *t, const struct meta_cred *c, uint64_t ino,
			uint32_t mask, struct meta__inode *d);
/* Delete an inode record with its xattrs and directory time rows. */
int meta__inode_delete(struct kv_txn *t, uint64_t ino);
/* An entry of directory d changed at now.  When its nlink changed too (old_nlink is the
 * value before) the record is rewritten with the new times; otherwise only the times go
 * to a blind 'T' row, so concurrent entry changes in one directory do not conflict on its
 * inode. */
int meta__dir_changed(struct kv_txn *t, struct meta__inode *d, uint32_t old_nlink,
		      uint64_t now);
/* Directory d's attributes as readers will see them after an entry change at now (the
 * times raised to now): sent back with entry changes (meta_attr_resp.parent). */
void meta__parent_after(const struct meta__inode *d, uint64_t now, struct meta_attr *out);
/* A new inode ino of mode (with type) below directory d for caller c: POSIX owner and
 * group rules incl. setgid directories; directories take d's layout template, regular
 * files a concrete layout with a fresh seed. */
void meta__inode_init(struct meta_svc *svc, struct meta__inode *in, uint64_t ino,
		      const struct meta__inode *d, const struct meta_cred *c, uint32_t mode,
		      uint64_t now);
/* Name rules for a new entry: meta__name_check's, and "." / ".." exist (-EEXIST). */
int meta__new_name_check(const char *name, uint32_t len);
/* Directory parent, loaded into *d, where c may add entry name: not removed (-ENOENT),
 * write+search permission, no entry of that name yet (-EEXIST). */
int meta__parent_for_new(struct kv_txn *t, const struct meta_cred *c, uint64_t parent,
			 const char *name, uint32_t len, struct meta__inode *d);
/* Write inode in and its entry name in directory d, and d's change (old_nlink: d's nlink
 * before the caller changed it, see meta__dir_changed). */
int meta__entry_add(struct kv_txn *t, struct meta__inode *d, uint32_t old_nlink,
		    const char *name, uint32_t len, const struct meta__inode *in, uint64_t now);
/* The entry name of directory parent that c is about to remove: name rules ("." and ".."
 * are the caller's: their error depends on the op), the directory loaded into *d with
 * write+search permission, the entry's inode into *v. */
int meta__victim_get(struct kv_txn *t, const struct meta_cred *c, uint64_t parent,
		     const char *name, uint32_t len, struct meta__inode *d, struct meta__inode *v);
/* Victim v of directory d loses its name there (the caller clears the entry and writes
 * d): an empty directory becomes an orphan and d's nlink drops (-ENOTEMPTY when it has
 * entries), anything else loses one link (meta__drop_link). */
int meta__entry_drop(struct kv_txn *t, struct meta__inode *d, struct meta__inode *v, uint64_t now);
/* Linux's kill-priv rule (store.c): mode without the setuid/setgid bits a write or
 * truncate by a non-root caller clears. */
uint32_t meta__killpriv_mode(uint32_t mode);

/* ---- pending chunk cuts of truncates (cut.c; rules at the top of that file) */
struct meta__cut {
	uint64_t ino, length, stamp;
};
/* Internal, never returned by a meta_op_*: "run the pending cut in *out, then retry". */
#define META__CUT_FIRST (-EINPROGRESS)
int meta__cut_note(struct kv_txn *t, uint64_t ino, uint64_t length, uint64_t stamp);
int meta__cut_get(struct kv_txn *t, uint64_t ino, struct meta__cut *c); /* -ENOENT: none */
int meta__cut_clear(struct kv_txn *t, uint64_t ino);
/* 1 while ino has a pending cut, 0 when not: storage's end of the file is no length then. */
int meta__cut_pending(struct kv_txn *t, uint64_t ino);
/* Before in grows or is opened for writing: META__CUT_FIRST with *out filled when a
 * pending cut must run first (file at the cut's length, no other writer than session
 * except), else 0 or an error. */
int meta__cut_first(struct kv_txn *t, const struct meta__inode *in, uint64_t except,
		    struct meta__cut *out);
/* The storage cut of c, then its record dropped (if still c's).  0 or the cut's error. */
int meta__cut_finish(struct meta_svc *svc, const struct meta__cut *c,
		     const struct meta_layout *layout);
/* GC: retry up to max pending cuts; counts the done, dropped and failed ones. */
int meta__cut_gc(struct meta_svc *svc, int max, uint64_t *cut, uint64_t *dropped,
		 uint64_t *errors);
/* Load ino as the parent of a new entry: as meta__load_dir, plus -ENOENT when the
 * directory was removed (nlink 0; it lives on only while open or in its grace period). */
int meta__load_parent(struct kv_txn *t, uint64_t ino, struct meta__inode *d);
/* Directory ino (empty, its entry being removed by the caller) becomes an orphan: nlink 0,
 * ctime now, queued in 'G'.  Its inode stays so that holders of an open handle can still
 * get its attributes (nlink 0); GC deletes it once it has no 'S' session and
 * opts.dir_grace_ms has passed since it was queued. */
int meta__dir_orphan(struct kv_txn *t, uint64_t ino, uint64_t now);
/* One name less for non-directory v: nlink--, ctime; at nlink 0 a regular file goes to the
 * GC queue, anything else is deleted now. */
int meta__drop_link(struct kv_txn *t, struct meta__inode *v, uint64_t now);

/* Idempotent change: meta__idem_txn looks up 'Q'|client|seq (returning the stored reply
 * through dec when the fingerprint matches), else runs body and, on success (and when
 * record() agrees), stores enc's reply with the fingerprint.  Use as a kv_run body. */
struct meta__idem {
	struct meta_svc *svc;
	const struct meta_hdr *hdr;
	uint64_t fp;
	kv_txn_fn body;
	void *arg;
	void *reply; /* what enc and dec work on (the reply struct, or arg) */
	void (*enc)(void *reply, struct c3_buf *out); /* reply -> bytes */
	int (*dec)(void *reply, const uint8_t *p, size_t n); /* bytes -> reply */
	bool (*record)(void *arg); /* NULL = record every success */
};
int meta__idem_txn(struct kv_txn *t, void *idem);
/* kv_run of meta__idem_txn with the given body and reply codec (record every success). */
int meta__idem_run(struct meta_svc *svc, const struct meta_hdr *hdr, uint64_t fp,
		   kv_txn_fn body, void *arg, void *reply, void (*enc)(void *, struct c3_buf *),
		   int (*dec)(void *, const uint8_t *, size_t));
/* GC: drop up to max idempotency records older than opts.idem_ttl_ms (counting them and
 * the failed drops); 0 or the scan's error. */
int meta__idem_gc(struct meta_svc *svc, uint64_t now, int max, uint64_t *expired,
		  uint64_t *errors);
/* Reply codecs for meta__idem (reply = a struct meta_<name> of proto/meta.h); dec answers
 * -C3FS_EINTERNAL for a stored reply that does not decode. */
void meta__attr_resp_enc(void *reply, struct c3_buf *out);
int meta__attr_resp_dec(void *reply, const uint8_t *p, size_t n);
void meta__open_resp_enc(void *reply, struct c3_buf *out);
int meta__open_resp_dec(void *reply, const uint8_t *p, size_t n);
void meta__unlink_resp_enc(void *reply, struct c3_buf *out);
int meta__unlink_resp_dec(void *reply, const uint8_t *p, size_t n);
/* kv_run of fn (or, with idem, of meta__idem_txn) that gives way to a pending cut (cut.c):
 * when the body answers META__CUT_FIRST with *first and *layout filled, the cut runs and
 * the body runs again (at most 3 cuts, then -C3FS_EBUSY). */
int meta__run_cut_first(struct meta_svc *svc, kv_txn_fn fn, void *arg, struct meta__cut *first,
			struct meta_layout *layout, struct meta__idem *idem);
/* Fingerprint of a request (FNV-1a over op type, ids, names, flags). */
uint64_t meta__fp_of(uint32_t type, uint64_t id1, const char *n1, uint32_t l1, uint64_t id2,
		     const char *n2, uint32_t l2, uint32_t extra);

/* ---- ids (store.c) */
int meta__id_alloc(struct meta_svc *svc, uint64_t *id);
uint64_t meta__rand(struct meta_svc *svc);

uint64_t meta__now(struct meta_svc *svc);

/* ---- sessions (session.c) */
/* Record session sid of client on ino (and keep the client's 'L' record fresh). */
int meta__session_put(struct kv_txn *t, struct meta_svc *svc, uint64_t ino, uint64_t sid,
		      uint64_t client, uint32_t flags, uint64_t now);
/* 1 = session exists (its flags and client filled), 0 = not, <0 error. */
int meta__session_get(struct kv_txn *t, uint64_t ino, uint64_t sid, uint32_t *flags,
		      uint64_t *client);
int meta__session_del(struct kv_txn *t, uint64_t ino, uint64_t sid, uint64_t client);
/* 1 when ino has a session open for writing other than `except`, 0 when not. */
int meta__write_sessions(struct kv_txn *t, uint64_t ino, uint64_t except);
/* A 'C' row of client: its inode and session (-C3FS_EINTERNAL: not a 25-byte key). */
int meta__csess_decode(const struct kv_pair *p, uint64_t client, uint64_t *ino, uint64_t *sid);
/* The client's renew record 'L': set to now; or 1 while it is missing or still holds
 * `seen` (a GC pass may drop the client's sessions), 0 when renewed since. */
int meta__client_renew(struct kv_txn *t, uint64_t client, uint64_t now);
int meta__client_unrenewed(struct kv_txn *t, uint64_t client, uint64_t seen);
/* Sessions of one client: meta__client_drop_txn drops up to 256 of them per
 * transaction and returns 1 while more remain (then 0, with the 'L' record cleared). */
struct meta__client_arg {
	struct meta_svc *svc;
	uint64_t client;
	uint64_t now;
	int dropped;
	bool only_if_seen;  /* GC: drop only while 'L' still holds `seen` (no renew raced) */
	uint64_t seen;
};
int meta__client_drop_txn(struct kv_txn *t, void *arg);

#endif
