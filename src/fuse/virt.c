/* virt.c — the virtual directory <mount>/3fs-virt (inodes >= C3FS_INO_RESERVED_MIN,
 * handled here, never stored in meta).
 *
 *   3fs-virt/            0555  lookup-only at the mount root (not listed by readdir)
 *   3fs-virt/rm-rf/      0777  ln -s <path> 3fs-virt/rm-rf[/<any>]  -> remove <path> and
 *                              everything below it on the meta service in one request
 *                              (repeated batches); also `mv <path> 3fs-virt/rm-rf/`
 *   3fs-virt/iovs/       0777  USRBIO registrations: entries, symlink, unlink served by
 *                              usrbio.c
 *   ln -s mv:<src> <dst>       anywhere in the mount: rename <src> to <dst> atomically
 *   3fs-virt/get-conf/   0555  the mount's settings as symlinks, readlink = value:
 *                              sys.<section>.<key> for every key (tokens hidden) and
 *                              usr.<key> for the user-level keys as the caller sees them
 *   3fs-virt/set-conf/   0777  ln -s VALUE 3fs-virt/set-conf/usr.<key>: the caller's own
 *                              value of a user-level key (per uid, until unmount; an
 *                              empty VALUE is impossible, so "default" drops it);
 *                              ln -s VALUE 3fs-virt/set-conf/sys.<section>.<key>: root
 *                              only (EPERM otherwise), reloadable keys only, the mount's
 *                              value for everyone without a usr.* override
 *
 * A command is a symlink(2) call.  When it succeeds the kernel expects a new symlink
 * inode: the reply is the virtual inode VIRT_INO_DONE (a symlink) with entry and attribute
 * timeouts of zero, so the kernel forgets it at once and the next lookup of that name
 * goes to meta (which, for mv:, finds the renamed object).
 *
 * Paths in commands: absolute paths must lie under the mountpoint; relative ones are
 * resolved against the calling process's working directory (/proc/<pid>/cwd).  "." and
 * ".." are resolved lexically.  The command runs with the caller's credentials.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/check.h"
#include "common/config.h"
#include "common/errors.h"
#include "common/log.h"
#include "fuse/fuse_int.h"
#include "fuse/usrbio.h"

static int virt_conf_entry(uint64_t ino);
static int virt_conf_find(const char *name);
static const char *virt_conf_name(int k);
static void virt_conf_readlink(struct fusefs *fs, fuse_req_t req, int k);
static int virt_conf_set(struct fusefs *fs, fuse_req_t req, const char *name,
			 const char *value);

struct virt_node {
	uint64_t ino;
	uint64_t parent;
	const char *name;
	uint32_t mode;
};

static const struct virt_node virt_nodes[] = {
	{ VIRT_INO_DIR, FUSE_ROOT_ID, VIRT_NAME, S_IFDIR | 0555 },
	{ VIRT_INO_RMRF, VIRT_INO_DIR, "rm-rf", S_IFDIR | 0777 },
	{ VIRT_INO_IOVS, VIRT_INO_DIR, "iovs", S_IFDIR | 0777 },
	{ VIRT_INO_DONE, 0, NULL, S_IFLNK | 0777 },
	{ VIRT_INO_GETCONF, VIRT_INO_DIR, "get-conf", S_IFDIR | 0555 },
	{ VIRT_INO_SETCONF, VIRT_INO_DIR, "set-conf", S_IFDIR | 0777 },
};
#define VIRT_NNODES (sizeof(virt_nodes) / sizeof(virt_nodes[0]))

static const struct virt_node *virt_find(uint64_t ino)
{
	size_t i;

	for (i = 0; i < VIRT_NNODES; i++)
		if (virt_nodes[i].ino == ino)
			return &virt_nodes[i];
	return NULL;
}

bool virt_stat(uint64_t ino, struct stat *st)
{
	const struct virt_node *v = virt_find(ino);

	if (usrbio_owns_ino(ino))
		return usrbio_stat(ino, st);
	memset(st, 0, sizeof(*st));
	if (!v && virt_conf_entry(ino) >= 0) {
		st->st_ino = ino;
		st->st_mode = S_IFLNK | 0444;
		st->st_nlink = 1;
		st->st_size = 1;
		return true;
	}
	if (!v)
		return false;
	st->st_ino = v->ino;
	st->st_mode = v->mode;
	st->st_nlink = S_ISDIR(v->mode) ? 2 : 1;
	st->st_blksize = 4096;
	st->st_size = S_ISLNK(v->mode) ? 1 : 0;
	return true;
}

static void virt_reply_node(fuse_req_t req, uint64_t ino)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	virt_stat(ino, &e.attr);
	e.ino = ino;
	/* directories are constant: cache them; the command result symlink never, nor the
	 * get-conf entries (their values change and differ per caller) */
	if (ino != VIRT_INO_DONE && virt_conf_entry(ino) < 0) {
		e.attr_timeout = 3600;
		e.entry_timeout = 3600;
	}
	fuse_reply_entry(req, &e);
}

void virt_lookup(struct fusefs *fs, fuse_req_t req, uint64_t parent, const char *name)
{
	size_t i;

	(void)fs;
	if (parent == VIRT_INO_IOVS) {
		usrbio_lookup(req, name);
		return;
	}
	if (parent == VIRT_INO_GETCONF) {
		int k = virt_conf_find(name);

		if (k < 0)
			fusefs_reply_errno(req, ENOENT);
		else
			virt_reply_node(req, VIRT_INO_CONF0 + (uint64_t)k);
		return;
	}
	for (i = 0; i < VIRT_NNODES; i++)
		if (virt_nodes[i].name && virt_nodes[i].parent == parent &&
		    strcmp(virt_nodes[i].name, name) == 0) {
			virt_reply_node(req, virt_nodes[i].ino);
			return;
		}
	fusefs_reply_errno(req, ENOENT);
}

void virt_readdir(struct fusefs *fs, fuse_req_t req, uint64_t ino, size_t size, off_t off,
		  bool plus)
{
	const char *names[VIRT_NNODES + 2 + VIRT_CONF_MAX];
	uint64_t inos[VIRT_NNODES + 2 + VIRT_CONF_MAX];
	size_t n = 0, i, pos = 0;
	char *buf;

	(void)fs;
	if (ino == VIRT_INO_IOVS) {
		usrbio_readdir(req, size, off, plus);
		return;
	}
	if (!virt_find(ino) || ino == VIRT_INO_DONE) {
		fusefs_reply_errno(req, ENOTDIR);
		return;
	}
	names[n] = ".";
	inos[n++] = ino;
	names[n] = "..";
	inos[n++] = ino == VIRT_INO_DIR ? FUSE_ROOT_ID : VIRT_INO_DIR;
	for (i = 0; i < VIRT_NNODES; i++)
		if (virt_nodes[i].name && virt_nodes[i].parent == ino) {
			names[n] = virt_nodes[i].name;
			inos[n++] = virt_nodes[i].ino;
		}
	if (ino == VIRT_INO_GETCONF)
		for (int k = 0; virt_conf_name(k); k++) {
			names[n] = virt_conf_name(k);
			inos[n++] = VIRT_INO_CONF0 + (uint64_t)k;
		}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fusefs_reply_errno(req, ENOMEM);
		return;
	}
	for (i = (size_t)off; i < n; i++) {
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		if (!virt_stat(inos[i], &e.attr)) {
			e.attr.st_ino = inos[i];
			e.attr.st_mode = S_IFDIR;
		}
		if (plus) {
			/* "." and ".." are not looked up by the kernel: ino 0 */
			e.ino = i >= 2 ? inos[i] : 0;
			e.attr_timeout = e.entry_timeout =
				i >= 2 && virt_conf_entry(inos[i]) < 0 ? 3600 : 0;
		}
		if (!fusefs_add_dirent(req, buf, size, &pos, names[i], &e.attr, plus ? &e : NULL,
				       (off_t)(i + 1)))
			break;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

void virt_readlink(struct fusefs *fs, fuse_req_t req, uint64_t ino)
{
	(void)fs;
	if (usrbio_owns_ino(ino))
		usrbio_readlink(req, ino);
	else if (virt_conf_entry(ino) >= 0)
		virt_conf_readlink(fs, req, virt_conf_entry(ino));
	else if (ino != VIRT_INO_DONE)
		fusefs_reply_errno(req, EINVAL);
	else
		fuse_reply_readlink(req, ".");
}

/* Resolve a command path to (parent inode, last name) inside the mount.
 * Returns 0 or -errno. */
static int virt_resolve(struct fusefs *fs, fuse_req_t req, const struct c3fs_cred *cr,
			const char *path, uint64_t *parent, char *name, size_t namesz)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char abs[2 * PATH_MAX], norm[2 * PATH_MAX], cwd[PATH_MAX];
	char *comp, *save = NULL, *slash;
	size_t mlen = strlen(fs->mnt_real), nlen = 0;
	struct c3fs_attr a;
	const char *rel;
	int rc;

	if (!path[0])
		return -ENOENT;
	if (path[0] == '/') {
		if (snprintf(abs, sizeof(abs), "%s", path) >= (int)sizeof(abs))
			return -ENAMETOOLONG;
	} else {
		char proc[64];
		ssize_t n;

		snprintf(proc, sizeof(proc), "/proc/%d/cwd", (int)ctx->pid);
		n = readlink(proc, cwd, sizeof(cwd) - 1);
		if (n <= 0)
			return -EINVAL;
		cwd[n] = '\0';
		if (snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >= (int)sizeof(abs))
			return -ENAMETOOLONG;
	}
	/* lexical normalization: drop "." and empty parts, apply ".." */
	norm[0] = '\0';
	for (comp = strtok_r(abs, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		size_t cl = strlen(comp);

		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			slash = strrchr(norm, '/');
			if (slash) {
				*slash = '\0';
				nlen = (size_t)(slash - norm);
			}
			continue;
		}
		if (nlen + 1 + cl + 1 > sizeof(norm))
			return -ENAMETOOLONG;
		norm[nlen++] = '/';
		memcpy(norm + nlen, comp, cl + 1);
		nlen += cl;
	}
	/* must be strictly below the mountpoint */
	if (strcmp(fs->mnt_real, "/") == 0)
		rel = norm;
	else if (strncmp(norm, fs->mnt_real, mlen) == 0 && norm[mlen] == '/')
		rel = norm + mlen;
	else
		return -EXDEV;
	while (*rel == '/')
		rel++;
	if (!*rel)
		return -EBUSY; /* the mount root itself */
	if (strncmp(rel, VIRT_NAME, strlen(VIRT_NAME)) == 0 &&
	    (rel[strlen(VIRT_NAME)] == '/' || rel[strlen(VIRT_NAME)] == '\0'))
		return -EPERM;
	slash = strrchr(rel, '/');
	if (snprintf(name, namesz, "%s", slash ? slash + 1 : rel) >= (int)namesz)
		return -ENAMETOOLONG;
	if (!slash) {
		*parent = FUSE_ROOT_ID;
		return 0;
	}
	{
		char dir[2 * PATH_MAX];

		memcpy(dir, rel, (size_t)(slash - rel));
		dir[slash - rel] = '\0';
		rc = c3fs_path_lookup(fs->cl, cr, dir, &a);
	}
	if (rc)
		return rc;
	if (!S_ISDIR(a.mode))
		return -ENOTDIR;
	*parent = a.ino;
	return 0;
}

/* Drop the kernel's cached entry parent/name, from another thread after the reply (the
 * caller of the command may hold the lock of that very directory until we reply): one
 * thread, started at the first such command, takes them from a queue in order (not a
 * thread per command); virt_stop ends it before the session goes. */
struct virt_inval {
	struct fuse_session *se;
	uint64_t parent;
	char name[C3FS_NAME_MAX + 1];
	struct virt_inval *next;
};

static struct {
	pthread_mutex_t mu;           /* guards everything below */
	pthread_cond_t cv;
	struct virt_inval *head, *tail;
	pthread_t thr;
	bool started, stop;
} virt_iq = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, false, false };

static void *virt_inval_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&virt_iq.mu);
	for (;;) {
		struct virt_inval *v = virt_iq.head;

		if (!v) {
			if (virt_iq.stop)
				break;
			pthread_cond_wait(&virt_iq.cv, &virt_iq.mu);
			continue;
		}
		virt_iq.head = v->next;
		if (!virt_iq.head)
			virt_iq.tail = NULL;
		pthread_mutex_unlock(&virt_iq.mu);
		fuse_lowlevel_notify_inval_entry(v->se, v->parent, v->name, strlen(v->name));
		free(v);
		pthread_mutex_lock(&virt_iq.mu);
	}
	pthread_mutex_unlock(&virt_iq.mu);
	return NULL;
}

static void virt_inval_later(struct fusefs *fs, uint64_t parent, const char *name)
{
	struct virt_inval *v;

	if (!fs->se || !(v = calloc(1, sizeof(*v))))
		return;
	v->se = fs->se;
	v->parent = parent;
	snprintf(v->name, sizeof(v->name), "%s", name);
	pthread_mutex_lock(&virt_iq.mu);
	if (!virt_iq.started && !virt_iq.stop)
		virt_iq.started = pthread_create(&virt_iq.thr, NULL, virt_inval_main, NULL) == 0;
	if (!virt_iq.started || virt_iq.stop) {
		pthread_mutex_unlock(&virt_iq.mu);
		free(v); /* the entry times out by itself (entry_timeout) */
		return;
	}
	if (virt_iq.tail)
		virt_iq.tail->next = v;
	else
		virt_iq.head = v;
	virt_iq.tail = v;
	pthread_cond_signal(&virt_iq.cv);
	pthread_mutex_unlock(&virt_iq.mu);
}

void virt_stop(void)
{
	bool started;

	pthread_mutex_lock(&virt_iq.mu);
	virt_iq.stop = true;
	started = virt_iq.started;
	pthread_cond_signal(&virt_iq.cv);
	pthread_mutex_unlock(&virt_iq.mu);
	if (started)
		pthread_join(virt_iq.thr, NULL); /* it empties the queue first */
}

/* Invalidate dir/name in the kernel: now when the request being served (a symlink into
 * cmd_parent) is not in that directory, else from another thread after the reply (the
 * kernel holds cmd_parent's lock until then; invalidating inside would deadlock). */
static void virt_inval(struct fusefs *fs, uint64_t cmd_parent, uint64_t dir, const char *name)
{
	if (!fs->se)
		return;
	if (dir != cmd_parent)
		fuse_lowlevel_notify_inval_entry(fs->se, dir, name, strlen(name));
	else
		virt_inval_later(fs, dir, name);
}

static void virt_reply_done(fuse_req_t req, int rc)
{
	if (rc)
		fusefs_reply_err(req, rc);
	else
		virt_reply_node(req, VIRT_INO_DONE);
}

/* A command on path, the caller's path: its rm -rf (mv false: a symlink into rm-rf), or
 * its move to parent/name (mv: a "mv:PATH" symlink).  Logged; on success the kernel
 * forgets path's entry; answered with the done node or the error. */
static void virt_path_cmd(struct fusefs *fs, fuse_req_t req, const char *path,
			  uint64_t parent, const char *name, bool mv)
{
	char last[C3FS_NAME_MAX + 1];
	struct c3fs_cred cr;
	uint64_t dir;
	int rc;

	fusefs_cred(req, &cr);
	rc = virt_resolve(fs, req, &cr, path, &dir, last, sizeof(last));
	if (rc == 0 && mv)
		rc = c3fs_rename(fs->cl, &cr, dir, last, parent, name, C3FS_RENAME_NOREPLACE);
	else if (rc == 0)
		rc = c3fs_remove_recursive(fs->cl, &cr, dir, last);
	if (mv)
		LOG_INFO("3fs-virt mv '%s' -> %lu/%s by uid %u: %s", path, (unsigned long)parent,
			 name, cr.uid, rc ? c3fs_strerror(rc) : "done");
	else
		LOG_INFO("3fs-virt rm-rf '%s' by uid %u: %s", path, cr.uid,
			 rc ? c3fs_strerror(rc) : "done");
	if (rc == 0)
		virt_inval(fs, parent, dir, last);
	virt_reply_done(req, rc);
}

void virt_symlink(struct fusefs *fs, fuse_req_t req, const char *target, uint64_t parent,
		  const char *name)
{
	if (parent == VIRT_INO_IOVS) {
		usrbio_symlink(req, target, name);
		return;
	}
	if (parent == VIRT_INO_SETCONF) {
		virt_reply_done(req, virt_conf_set(fs, req, name, target));
		return;
	}
	if (parent != VIRT_INO_RMRF) {
		fusefs_reply_errno(req, EPERM);
		return;
	}
	if (fusefs_refuse_ro(fs, req))
		return;
	virt_path_cmd(fs, req, target, parent, name, false);
}

void virt_mv(struct fusefs *fs, fuse_req_t req, const char *target, uint64_t parent,
	     const char *name)
{
	virt_path_cmd(fs, req, target + 3, parent, name, true);
}

void virt_rename_rmrf(struct fusefs *fs, fuse_req_t req, uint64_t parent, const char *name)
{
	struct c3fs_cred cr;
	int rc;

	fusefs_cred(req, &cr);
	rc = c3fs_remove_recursive(fs->cl, &cr, parent, name);
	LOG_INFO("3fs-virt rm-rf (mv) %lu/%s by uid %u: %s", (unsigned long)parent, name, cr.uid,
		 rc ? c3fs_strerror(rc) : "done");
	fusefs_reply_rc(req, rc);
}

/* ------------------------------------------------------------------ get-conf / set-conf
 *
 * Entries: index k < nkeys of fusefs_cfg_table is "sys.<section>.<key>"; the next ones are
 * "usr.<key>", the user-level keys.  The mount-wide values live in conf.sys, a copy of
 * fs->cfg made at first use (fs->cfg itself never changes after start, so ops.c may keep
 * reading its other fields without a lock); what root sets goes there.  The values a
 * request uses are read under conf.mu (virt_user_conf), so a change is never seen
 * half-done.  Overrides live until unmount.
 */

/* The user-level keys: the same types and bounds as their fuse.* keys in main.c. */
static const struct c3_cfg_key virt_usr_keys[] = {
	{ "usr", "attr_timeout", C3_CFG_MS, offsetof(struct virt_user_conf, attr_timeout_ms),
	  "1s", 0, 3600000, "ms", true, "" },
	{ "usr", "entry_timeout", C3_CFG_MS, offsetof(struct virt_user_conf, entry_timeout_ms),
	  "1s", 0, 3600000, "ms", true, "" },
	{ "usr", "negative_timeout", C3_CFG_MS,
	  offsetof(struct virt_user_conf, negative_timeout_ms), "0", 0, 3600000, "ms", true, "" },
	{ "usr", "read_cache", C3_CFG_BOOL, offsetof(struct virt_user_conf, read_cache), "true",
	  1, 0, "", true, "" },
	{ "usr", "readonly", C3_CFG_BOOL, offsetof(struct virt_user_conf, readonly), "false",
	  1, 0, "", true, "" },
};
#define VIRT_NUSR (sizeof(virt_usr_keys) / sizeof(virt_usr_keys[0]))
static const struct c3_cfg_table virt_usr_table = { "usr", virt_usr_keys, VIRT_NUSR };

#define VIRT_CONF_USERS 1024 /* uids with overrides (one more: ENOSPC) */

struct virt_user {
	uint32_t uid;
	struct virt_user_conf v;
	unsigned set;                     /* bit k: virt_usr_keys[k] overridden */
};

static struct {
	pthread_mutex_t mu;
	bool ready;                       /* (mu) sys holds a copy of fs->cfg */
	struct fusefs_config sys;         /* (mu) the mount's values */
	struct c3fs_client *cl;           /* (mu) set by virt_conf_client, NULL before */
	bool pushed_ready;                /* (mu) pushed holds a copy */
	struct fusefs_config pushed;      /* (mu) the values mgmtd pushed last */
	struct virt_user *users;          /* (mu) */
	size_t nusers;                    /* (mu) */
	_Atomic size_t any;               /* nusers + (a sys.* change), for a lock-free no */
	pthread_once_t once;
	char names[VIRT_CONF_MAX][80];    /* built once */
	int nnames;
} conf = { .mu = PTHREAD_MUTEX_INITIALIZER, .once = PTHREAD_ONCE_INIT };

static void virt_conf_build_names(void)
{
	int n = 0;

	for (size_t i = 0; i < fusefs_cfg_table.nkeys && n < VIRT_CONF_MAX; i++, n++)
		snprintf(conf.names[n], sizeof(conf.names[n]), "sys.%s.%s",
			 fusefs_cfg_table.keys[i].section, fusefs_cfg_table.keys[i].name);
	for (size_t i = 0; i < VIRT_NUSR && n < VIRT_CONF_MAX; i++, n++)
		snprintf(conf.names[n], sizeof(conf.names[n]), "usr.%s", virt_usr_keys[i].name);
	conf.nnames = n;
}

static const char *virt_conf_name(int k)
{
	pthread_once(&conf.once, virt_conf_build_names);
	return k >= 0 && k < conf.nnames ? conf.names[k] : NULL;
}

static int virt_conf_entry(uint64_t ino)
{
	if (ino < VIRT_INO_CONF0 || ino >= VIRT_INO_CONF0 + VIRT_CONF_MAX)
		return -1;
	return virt_conf_name((int)(ino - VIRT_INO_CONF0)) ? (int)(ino - VIRT_INO_CONF0) : -1;
}

static int virt_conf_find(const char *name)
{
	for (int k = 0; virt_conf_name(k); k++)
		if (strcmp(conf.names[k], name) == 0)
			return k;
	return -1;
}

/* (mu held) the mount's values, copied from fs->cfg at first use */
static int virt_conf_ready_locked(struct fusefs *fs)
{
	C3_ASSERT_LOCKED(&conf.mu);
	if (conf.ready)
		return 0;
	if (c3_cfg_copy(&fusefs_cfg_table, &conf.sys, &fs->cfg) != 0)
		return -ENOMEM;
	conf.ready = true;
	return 0;
}

static struct virt_user *virt_user_find_locked(uint32_t uid)
{
	C3_ASSERT_LOCKED(&conf.mu);
	for (size_t i = 0; i < conf.nusers; i++)
		if (conf.users[i].uid == uid)
			return &conf.users[i];
	return NULL;
}

/* (mu held) what uid sees: its overrides over the mount's values */
static void virt_user_conf_locked(const struct fusefs_config *sys, uint32_t uid,
				  struct virt_user_conf *out)
{
	const struct virt_user *u = virt_user_find_locked(uid);

	out->attr_timeout_ms = sys->attr_timeout_ms;
	out->entry_timeout_ms = sys->entry_timeout_ms;
	out->negative_timeout_ms = sys->negative_timeout_ms;
	out->read_cache = sys->read_cache;
	out->readonly = sys->readonly;
	if (!u)
		return;
	for (size_t k = 0; k < VIRT_NUSR; k++) {
		size_t off = virt_usr_keys[k].offset;

		if (!(u->set & (1u << k)))
			continue;
		if (virt_usr_keys[k].type == C3_CFG_BOOL)
			memcpy((char *)out + off, (const char *)&u->v + off, sizeof(bool));
		else
			memcpy((char *)out + off, (const char *)&u->v + off, sizeof(uint64_t));
	}
}

void virt_user_conf(struct fusefs *fs, fuse_req_t req, struct virt_user_conf *out)
{
	/* the common case, nothing ever set: the file's values, without the lock */
	if (atomic_load_explicit(&conf.any, memory_order_acquire) == 0) {
		out->attr_timeout_ms = fs->cfg.attr_timeout_ms;
		out->entry_timeout_ms = fs->cfg.entry_timeout_ms;
		out->negative_timeout_ms = fs->cfg.negative_timeout_ms;
		out->read_cache = fs->cfg.read_cache;
		out->readonly = fs->cfg.readonly;
		return;
	}
	pthread_mutex_lock(&conf.mu);
	virt_user_conf_locked(conf.ready ? &conf.sys : &fs->cfg, fuse_req_ctx(req)->uid, out);
	pthread_mutex_unlock(&conf.mu);
}

static void virt_conf_readlink(struct fusefs *fs, fuse_req_t req, int k)
{
	char val[512];
	const char *name = conf.names[k];
	int rc = 0;

	pthread_mutex_lock(&conf.mu);
	if (virt_conf_ready_locked(fs) != 0) {
		rc = ENOMEM;
	} else if ((size_t)k < fusefs_cfg_table.nkeys) {
		const char *key = name + 4; /* after "sys." */

		if (strcmp(fusefs_cfg_table.keys[k].name, "token") == 0)
			snprintf(val, sizeof(val), "(hidden)");
		else
			c3_cfg_get(&fusefs_cfg_table, &conf.sys, key, val, sizeof(val));
	} else {
		struct virt_user_conf uc;

		virt_user_conf_locked(&conf.sys, fuse_req_ctx(req)->uid, &uc);
		c3_cfg_get(&virt_usr_table, &uc, name, val, sizeof(val));
	}
	pthread_mutex_unlock(&conf.mu);
	if (rc)
		fusefs_reply_errno(req, rc);
	else
		fuse_reply_readlink(req, val[0] ? val : "(empty)");
}

/* (mu held) libc3fs's reloadable settings from the mount's values */
static void virt_conf_client_locked(void)
{
	const struct fusefs_config *c = &conf.sys;
	struct c3fs_client_opts o;

	C3_ASSERT_LOCKED(&conf.mu);
	if (!conf.cl || !conf.ready)
		return;
	memset(&o, 0, sizeof(o));
	o.write_wait_ms = (uint32_t)c->write_wait_ms;
	o.meta_wait_ms = (uint32_t)c->meta_wait_ms;
	o.write_behind_bytes = (uint32_t)c->write_behind_bytes;
	if (c3fs_client_reconfigure(conf.cl, &o) < 0)
		LOG_WARN("live configuration: libc3fs refused its settings");
}

void virt_conf_client(struct fusefs *fs)
{
	pthread_mutex_lock(&conf.mu);
	conf.cl = fs->cl;
	virt_conf_client_locked();
	pthread_mutex_unlock(&conf.mu);
}

bool fusefs_refuse_ro(struct fusefs *fs, fuse_req_t req)
{
	struct virt_user_conf uc;

	virt_user_conf(fs, req, &uc);
	if (!uc.readonly)
		return false;
	fusefs_reply_errno(req, EROFS);
	return true;
}

void virt_conf_pushed(struct fusefs *fs, const struct fusefs_config *cfg, uint64_t version)
{
	char key[80], val[512], cur[512], line[600], err[C3_CFG_ERRLEN];
	int changed = 0;

	pthread_mutex_lock(&conf.mu);
	if (virt_conf_ready_locked(fs) == 0 && !conf.pushed_ready) {
		/* what mgmtd pushed so far: nothing, i.e. the file's values */
		if (c3_cfg_copy(&fusefs_cfg_table, &conf.pushed, &fs->cfg) == 0)
			conf.pushed_ready = true;
	}
	if (conf.pushed_ready) {
		/* only the keys mgmtd changed: a root's set-conf sys.* stays until mgmtd
		 * changes that key (a setting removed in mgmtd brings back the file's value) */
		for (size_t i = 0; i < fusefs_cfg_table.nkeys; i++) {
			const struct c3_cfg_key *k = &fusefs_cfg_table.keys[i];

			if (!k->reloadable)
				continue;
			snprintf(key, sizeof(key), "%s.%s", k->section, k->name);
			if (c3_cfg_get(&fusefs_cfg_table, cfg, key, val, sizeof(val)) < 0 ||
			    c3_cfg_get(&fusefs_cfg_table, &conf.pushed, key, cur, sizeof(cur)) < 0 ||
			    strcmp(val, cur) == 0)
				continue;
			snprintf(line, sizeof(line), "%s=%s", key, val);
			if (c3_cfg_apply_lines(&fusefs_cfg_table, &conf.pushed, line, true, err,
					       sizeof(err)) <= 0)
				continue;
			snprintf(line, sizeof(line), "%s=%s", key, val);
			if (c3_cfg_apply_lines(&fusefs_cfg_table, &conf.sys, line, true, err,
					       sizeof(err)) > 0) {
				LOG_INFO("live configuration version %llu: %s",
					 (unsigned long long)version, line);
				changed++;
			}
		}
		if (changed) {
			c3_log_set_level(c3_log_level_parse(conf.sys.log_level));
			virt_conf_client_locked();
			atomic_fetch_add_explicit(&conf.any, 1, memory_order_release);
		}
	}
	pthread_mutex_unlock(&conf.mu);
}

/* ln -s VALUE set-conf/NAME.  Returns 0 or -errno (EPERM: sys.* by a non-root user;
 * EINVAL: unknown key, bad value, or a sys.* key that needs a restart — logged). */
static int virt_conf_set(struct fusefs *fs, fuse_req_t req, const char *name,
			 const char *value)
{
	uint32_t uid = fuse_req_ctx(req)->uid;
	char line[600], err[C3_CFG_ERRLEN];
	int k = virt_conf_find(name), rc = 0;

	if (k < 0) {
		LOG_INFO("3fs-virt set-conf %s by uid %u: unknown key", name, uid);
		return -EINVAL;
	}
	if ((size_t)k < fusefs_cfg_table.nkeys && uid != 0) {
		LOG_INFO("3fs-virt set-conf %s by uid %u: system keys are for root only", name,
			 uid);
		return -EPERM;
	}
	snprintf(line, sizeof(line), "%s=%s", (size_t)k < fusefs_cfg_table.nkeys ? name + 4 : name,
		 value);
	pthread_mutex_lock(&conf.mu);
	rc = virt_conf_ready_locked(fs);
	if (rc == 0 && (size_t)k < fusefs_cfg_table.nkeys) {
		/* checked and stored by the config parser, all or nothing */
		rc = c3_cfg_apply_lines(&fusefs_cfg_table, &conf.sys, line, true, err, sizeof(err));
		if (rc > 0 && strcmp(name, "sys.log.level") == 0)
			c3_log_set_level(c3_log_level_parse(conf.sys.log_level));
		if (rc > 0)
			virt_conf_client_locked();
	} else if (rc == 0) {
		size_t u = (size_t)k - fusefs_cfg_table.nkeys;
		struct virt_user *vu = virt_user_find_locked(uid);
		struct virt_user_conf v;

		if (!vu && conf.nusers == VIRT_CONF_USERS) {
			rc = -ENOSPC;
		} else if (!vu) {
			struct virt_user *nu = realloc(conf.users, (conf.nusers + 1) * sizeof(*nu));

			rc = nu ? 0 : -ENOMEM;
			if (nu) {
				conf.users = nu;
				vu = &nu[conf.nusers++];
				memset(vu, 0, sizeof(*vu));
				vu->uid = uid;
			}
		}
		if (rc == 0 && strcmp(value, "default") == 0) {
			vu->set &= ~(1u << u);
			rc = 1;
		} else if (rc == 0) {
			v = vu->v;
			rc = c3_cfg_apply_lines(&virt_usr_table, &v, line, true, err, sizeof(err));
			if (rc > 0) {
				vu->v = v;
				vu->set |= 1u << u;
			}
		}
	}
	if (rc > 0)
		atomic_fetch_add_explicit(&conf.any, 1, memory_order_release);
	pthread_mutex_unlock(&conf.mu);
	if (rc == -C3FS_ECONFIG) {
		LOG_INFO("3fs-virt set-conf by uid %u refused: %s", uid, err);
		return -EINVAL;
	}
	if (rc < 0)
		return rc;
	LOG_INFO("3fs-virt set-conf %s=%s by uid %u", name, value, uid);
	return 0;
}
