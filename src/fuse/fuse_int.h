/* fuse_int.h — internals of c3fs-fuse shared by main.c, ops.c, virt.c, ioctl.c, usrbio.c.
 *
 * One struct fusefs per process: the libc3fs client, the FUSE session, the settings and
 * the inode table.  The inode table holds, per inode the kernel knows (lookup count > 0)
 * or has open, what the page-cache decision needs: the attributes seen when the file
 * was last opened or closed here.  keep_cache is granted on open only when the
 * attributes fetched at open (mtime, ctime, size) equal those recorded: nobody changed
 * the file in between, so the kernel's cached pages are still right.
 *
 * Virtual inodes (3fs-virt): numbers >= C3FS_INO_RESERVED_MIN, never sent to meta.
 */
#ifndef C3_FUSE_INT_H
#define C3_FUSE_INT_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "c3fs/c3fs.h"
#include "c3fs/usrbio.h"

/* The mount's name: its fsname in /proc/mounts, and what C3FS_IOC_GET_MOUNT_NAME answers. */
#define FUSEFS_FSNAME "c3fs"

/* Settings of c3fs-fuse (the config table is in main.c). */
struct fusefs_config {
	char *mountpoint;
	char *mgmtd;
	char *token;
	char *token_file;
	char *user_token_file;
	uint64_t attr_timeout_ms;
	uint64_t entry_timeout_ms;
	uint64_t negative_timeout_ms;
	int64_t threads;
	int64_t io_threads;
	uint64_t rpc_timeout_ms;
	uint64_t write_wait_ms;
	uint64_t meta_wait_ms;
	uint64_t length_sync_ms;
	uint64_t max_readahead;
	bool allow_other;
	bool kernel_permissions;
	bool read_cache;
	bool readonly;
	bool write_behind;
	int64_t write_behind_threads;
	uint64_t write_behind_bytes;
	char *log_file;
	char *log_level;
	char *metrics_listen;
};

#define FUSEFS_INO_BUCKETS 4096

/* How long libc3fs answers GETATTR of a directory from the attributes the reply of this
 * mount's own change to it carried (create, unlink, mkdir, ... in it): the kernel drops a
 * directory's attributes after each such change and asks again for the next permission
 * check, right after.  Short, so the kernel's view of a directory another client changes
 * is at most this much older than attr_timeout allows. */
#define FUSEFS_DIR_ATTR_TTL_MS(attr_timeout_ms) ((attr_timeout_ms) < 100 ? (attr_timeout_ms) : 100)

struct fusefs_inode {
	uint64_t ino;
	uint64_t nlookup;        /* kernel references (lookup replies minus forgets) */
	int nopen;               /* open file handles */
	bool cache_known;        /* the fields below are valid */
	int64_t mtime_ns, ctime_ns;
	uint64_t size;
	struct fusefs_inode *next;
};

struct fusefs_fh;
struct fusefs_dirh;

struct fusefs {
	struct fusefs_config cfg;
	char mnt_real[4096];     /* canonical mountpoint path */
	struct c3fs_client *cl;
	struct fuse_session *se;
	pthread_mutex_t ino_lock; /* guards the inode table and the handle lists */
	struct fusefs_inode *inos[FUSEFS_INO_BUCKETS];
	struct fusefs_fh *fhs;    /* open file handles (closed at shutdown if left) */
	struct fusefs_dirh *dhs;  /* open directory handles */
	bool readahead_done;      /* atomic: the bdi read-ahead was set */
};

/* Open file handle (fi->fh). */
struct fusefs_fh {
	struct c3fs_file *f;
	uint64_t ino;
	bool wrote;                    /* atomic */
	struct fusefs_fh *prev, *next; /* fusefs.fhs, under ino_lock */
};

/* Open directory handle (fi->fh): the entries read so far, offsets = index + 3
 * ("." = 1, ".." = 2). */
struct fusefs_dirh {
	pthread_mutex_t lock;          /* guards the fields below */
	uint64_t ino;
	struct c3fs_attr attr;         /* at opendir (fstat after rmdir: nlink 0) */
	struct c3fs_dirent *ents;
	size_t n, cap;
	bool eof;
	struct fusefs_dirh *prev, *next; /* fusefs.dhs, under fusefs.ino_lock */
};

/* ---- ops.c ---- */
extern const struct fuse_lowlevel_ops fusefs_ops;
/* libc3fs's interrupted() hook: the request this thread serves got an INTERRUPT. */
bool fusefs_interrupted(void);
/* Credentials of a request (uid, gid, supplementary groups). */
void fusefs_cred(fuse_req_t req, struct c3fs_cred *cr);
/* c3fs attributes -> struct stat. */
void fusefs_stat_from(const struct c3fs_attr *a, struct stat *st);
/* Reply an error code from libc3fs (negative c3fs code or -errno). */
void fusefs_reply_err(fuse_req_t req, int rc);
/* Answer errno e (> 0; anything else: EIO), counted like fusefs_reply_err. */
void fusefs_reply_errno(fuse_req_t req, int e);
/* The answer of a request that returns no data: success (rc 0) or the error of rc. */
void fusefs_reply_rc(fuse_req_t req, int rc);
/* Add a directory entry name at *pos of a readdir reply buffer buf (size bytes) and advance
 * *pos; off is the offset of the entry after it.  With e (readdirplus) the whole entry e
 * goes in, else only st.  Returns false, adding nothing, when it does not fit. */
bool fusefs_add_dirent(fuse_req_t req, char *buf, size_t size, size_t *pos, const char *name,
		       const struct stat *st, const struct fuse_entry_param *e, off_t off);
/* At shutdown: close file handles the kernel never released, free directory handles and
 * the inode table. */
void fusefs_free_inodes(struct fusefs *fs);

/* Set the read-ahead window of the mount at mnt to bytes (0 = leave it). */
void fusefs_set_readahead(const char *mnt, uint64_t bytes);

/* ---- ioctl.c: the mount's ioctls (3FS's, include/c3fs/usrbio.h; USRBIO's is_c3fs) ---- */
/* The argument of a command, checked and copied out of the kernel's buffer. */
union fusefs_ioc_arg {
	struct c3fs_ioctl_hardlink_arg hardlink;
	struct c3fs_ioctl_punch_hole_arg punch;
	struct c3fs_ioctl_move move;
	struct c3fs_ioctl_remove remove;
};
/* Check command cmd on inode ino with in_len bytes in (may be NULL) and room for out_len
 * bytes of answer; copy the argument into *arg.  0, -ENOTTY (unknown command), -EINVAL
 * (sizes, a garbage field, MOVE/REMOVE on another directory than ino), -ENAMETOOLONG /
 * -ENOENT (a name without NUL in its field / empty), -EOPNOTSUPP (moveToTrash). */
int fusefs_ioc_check(unsigned int cmd, const void *in, size_t in_len, size_t out_len,
		     uint64_t ino, union fusefs_ioc_arg *arg);
/* Serve FUSE ioctl cmd on inode ino (fi: the open file or directory) and reply. */
void fusefs_ioctl_serve(struct fusefs *fs, fuse_req_t req, uint64_t ino, unsigned int cmd,
			struct fuse_file_info *fi, unsigned flags, const void *in_buf,
			size_t in_bufsz, size_t out_bufsz);

/* ---- virt.c: the 3fs-virt directory ---- */
/* End the thread that drops the kernel entries commands changed (after the session loop,
 * before the session goes); later commands leave them to entry_timeout. */
void virt_stop(void);
#define VIRT_NAME "3fs-virt"
#define VIRT_INO_DIR   (C3FS_INO_RESERVED_MIN + 1) /* /3fs-virt */
#define VIRT_INO_RMRF  (C3FS_INO_RESERVED_MIN + 2) /* /3fs-virt/rm-rf */
#define VIRT_INO_IOVS  (C3FS_INO_RESERVED_MIN + 3) /* /3fs-virt/iovs (reserved for USRBIO) */
#define VIRT_INO_DONE  (C3FS_INO_RESERVED_MIN + 4) /* the symlink a command replies with */
#define VIRT_INO_GETCONF (C3FS_INO_RESERVED_MIN + 5) /* /3fs-virt/get-conf */
#define VIRT_INO_SETCONF (C3FS_INO_RESERVED_MIN + 6) /* /3fs-virt/set-conf */
#define VIRT_INO_CONF0 (C3FS_INO_RESERVED_MIN + 0x10) /* get-conf entries, below USRBIO's */
#define VIRT_CONF_MAX 0xf0

static inline bool virt_is(uint64_t ino) { return ino >= C3FS_INO_RESERVED_MIN; }
/* parent/name is the 3fs-virt directory itself (at the root). */
static inline bool fusefs_is_virt_name(uint64_t parent, const char *name)
{
	return parent == FUSE_ROOT_ID && strcmp(name, VIRT_NAME) == 0;
}
/* Fill st for a virtual inode; false if unknown. */
bool virt_stat(uint64_t ino, struct stat *st);
void virt_lookup(struct fusefs *fs, fuse_req_t req, uint64_t parent, const char *name);
void virt_readdir(struct fusefs *fs, fuse_req_t req, uint64_t ino, size_t size, off_t off,
		  bool plus);
/* symlink(target, parent/name) where parent is virtual: run the command. */
void virt_symlink(struct fusefs *fs, fuse_req_t req, const char *target, uint64_t parent,
		  const char *name);
/* symlink anywhere in the mount with a "mv:" target: atomic rename. */
void virt_mv(struct fusefs *fs, fuse_req_t req, const char *target, uint64_t parent,
	     const char *name);
/* rename(parent/name -> 3fs-virt/rm-rf/...): recursive remove of parent/name. */
void virt_rename_rmrf(struct fusefs *fs, fuse_req_t req, uint64_t parent, const char *name);
void virt_readlink(struct fusefs *fs, fuse_req_t req, uint64_t ino);

/* The key table of c3fs-fuse (main.c), for 3fs-virt/get-conf. */
struct c3_cfg_table;
extern const struct c3_cfg_table fusefs_cfg_table;

/* Settings a request's caller sees (3fs-virt/set-conf): the caller's own usr.* override,
 * else the mount's value (its config file, or what root set with sys.*). */
struct virt_user_conf {
	uint64_t attr_timeout_ms;
	uint64_t entry_timeout_ms;
	uint64_t negative_timeout_ms;
	bool read_cache;
	bool readonly;           /* every change refused with EROFS */
};
void virt_user_conf(struct fusefs *fs, fuse_req_t req, struct virt_user_conf *out);
/* fuse.readonly / usr.readonly for the caller: true after replying EROFS. */
bool fusefs_refuse_ro(struct fusefs *fs, fuse_req_t req);
/* Settings pushed by mgmtd (`c3fs-admin set-config client ...`; libc3fs's on_live_config,
 * on its background thread): their reloadable keys become the mount's values, as root's
 * `ln -s VALUE 3fs-virt/set-conf/sys.KEY` would make them. */
void virt_conf_pushed(struct fusefs *fs, const struct fusefs_config *cfg, uint64_t version);
/* Once fs->cl exists: from then on the mount's values of libc3fs's reloadable settings
 * (write_wait, meta_wait, write_behind_bytes) reach it whenever they change. */
void virt_conf_client(struct fusefs *fs);

#endif
