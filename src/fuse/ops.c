/* ops.c — the FUSE low-level operations of c3fs-fuse, each mapped onto libc3fs.
 *
 * Inode numbers are c3fs inode ids (the meta root is 1 = FUSE_ROOT_ID); numbers at or
 * above C3FS_INO_RESERVED_MIN are the 3fs-virt directory (virt.c).  Every entry reply
 * adds one to the inode's lookup count here; forget takes it back.
 *
 * Permissions: every operation carries the caller's uid, gid and supplementary groups to
 * the meta service, which decides.  By default the mount also has default_permissions:
 * without it the kernel does not check search permission while walking through cached
 * dentries (it relies on lookup, which a cached entry skips), so a file below a 0700
 * directory would stay reachable by others for entry_timeout.
 *
 * Page cache: regular files use the kernel page cache (no direct_io unless O_DIRECT or
 * read_cache=false), so shared writable mmap works.  keep_cache is granted at open only
 * when the file's mtime, ctime and size equal what this daemon recorded the last time the
 * file was opened or closed here (fuse_int.h).
 *
 * Errors from libc3fs are converted once, in fusefs_reply_err (c3fs code -> errno).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/metrics.h"
#include "fuse/fuse_int.h"
#include "fuse/usrbio.h"

#define FUSEFS_DIR_PAGE 256

static struct fusefs *fusefs_of(fuse_req_t req) { return fuse_req_userdata(req); }

/* Data-path metrics (created once; c3_* calls on NULL are no-ops). */
static struct c3_hist *fusefs_m_read_lat, *fusefs_m_write_lat;
static struct c3_counter *fusefs_m_read_bytes, *fusefs_m_write_bytes, *fusefs_m_errors;

/* Requests from the kernel, by operation (c3fs_fuse_requests_total{op}): what one
 * application call costs in FUSE round trips (docs/bench/fuse.md). */
#define FUSEFS_OPS(X)                                                                   \
	X(lookup) X(forget) X(forget_multi) X(getattr) X(setattr) X(readlink) X(mknod)  \
	X(mkdir) X(symlink) X(unlink) X(rmdir) X(rename) X(link) X(create) X(open)      \
	X(read) X(write) X(flush) X(fsync) X(release) X(fallocate) X(opendir)           \
	X(readdir) X(readdirplus) X(releasedir) X(fsyncdir) X(statfs) X(setxattr)       \
	X(getxattr) X(listxattr) X(removexattr) X(access) X(ioctl)
#define FUSEFS_OP_ENUM(op) FUSEFS_OP_##op,
#define FUSEFS_OP_NAME(op) #op,
enum { FUSEFS_OPS(FUSEFS_OP_ENUM) FUSEFS_NOPS };
static struct c3_counter *fusefs_m_req[FUSEFS_NOPS];

/* ---- INTERRUPT ----------------------------------------------------------------------
 * When the caller of a request gets a signal, the kernel sends INTERRUPT for it.  A
 * request that works is left alone (replying EINTR to a stat that was about to succeed
 * would only confuse programs); a request that is waiting out a failure (libc3fs
 * retrying while no meta node answers) gives up with EINTR when asked, so that kill -9
 * of a process stuck on the mount takes effect at once, not at meta_wait.
 *
 * Each worker thread owns a slot; every request bumps its slot's generation and, unless
 * it must run to the end (release, forget), registers libfuse's interrupt
 * callback with (slot, generation).  The callback marks the slot hit for that
 * generation; libc3fs asks fusefs_interrupted() between retries on the same thread.  A
 * callback that comes late (libfuse may run it after the reply) names an older
 * generation and changes nothing.  Slots are static: a callback never touches freed
 * memory. */
#define FUSEFS_INTR_SLOTS 1024
static struct {
	uint32_t gen;	   /* atomic: the request the thread serves now */
	uint32_t hit_gen;  /* atomic: the generation an INTERRUPT arrived for */
} fusefs_intr_slot[FUSEFS_INTR_SLOTS];
static uint32_t fusefs_intr_nslots;	   /* atomic */
static __thread int fusefs_intr_me = -1; /* this thread's slot; -2 = none left */

static void fusefs_intr_cb(fuse_req_t req, void *data)
{
	uintptr_t v = (uintptr_t)data;
	unsigned slot = (unsigned)(v >> 32);

	(void)req;
	if (slot < FUSEFS_INTR_SLOTS)
		__atomic_store_n(&fusefs_intr_slot[slot].hit_gen, (uint32_t)v, __ATOMIC_RELEASE);
}

static void fusefs_begin(fuse_req_t req, bool interruptible)
{
	uint32_t g;

	if (fusefs_intr_me == -1) {
		uint32_t n = __atomic_fetch_add(&fusefs_intr_nslots, 1, __ATOMIC_RELAXED);

		fusefs_intr_me = n < FUSEFS_INTR_SLOTS ? (int)n : -2;
	}
	if (fusefs_intr_me < 0)
		return;
	g = __atomic_add_fetch(&fusefs_intr_slot[fusefs_intr_me].gen, 1, __ATOMIC_ACQ_REL);
	if (interruptible)
		fuse_req_interrupt_func(req, fusefs_intr_cb,
					(void *)(((uintptr_t)fusefs_intr_me << 32) | g));
}

bool fusefs_interrupted(void)
{
	if (fusefs_intr_me < 0)
		return false;
	return __atomic_load_n(&fusefs_intr_slot[fusefs_intr_me].hit_gen, __ATOMIC_ACQUIRE) ==
	       __atomic_load_n(&fusefs_intr_slot[fusefs_intr_me].gen, __ATOMIC_RELAXED);
}

/* Every handler starts with it (req is the handler's parameter). */
#define FUSEFS_COUNT(op)                                                                \
	do {                                                                            \
		c3_counter_add(fusefs_m_req[FUSEFS_OP_##op], 1);                        \
		fusefs_begin(req, FUSEFS_OP_##op != FUSEFS_OP_release &&                \
					  FUSEFS_OP_##op != FUSEFS_OP_releasedir &&     \
					  FUSEFS_OP_##op != FUSEFS_OP_forget &&         \
					  FUSEFS_OP_##op != FUSEFS_OP_forget_multi);    \
	} while (0)

static void fusefs_metrics_init(void)
{
	static const char *const names[] = { FUSEFS_OPS(FUSEFS_OP_NAME) };
	char lab[64];

	for (int i = 0; i < FUSEFS_NOPS; i++) {
		snprintf(lab, sizeof(lab), "op=\"%s\"", names[i]);
		fusefs_m_req[i] = c3_counter_get("c3fs_fuse_requests_total", lab,
						 "FUSE requests from the kernel, by operation");
	}
	fusefs_m_read_lat = c3_hist_get("c3fs_fuse_op_seconds", "op=\"read\"", "FUSE request latency");
	fusefs_m_write_lat = c3_hist_get("c3fs_fuse_op_seconds", "op=\"write\"", "FUSE request latency");
	fusefs_m_read_bytes = c3_counter_get("c3fs_fuse_bytes_total", "op=\"read\"", "bytes read and written");
	fusefs_m_write_bytes = c3_counter_get("c3fs_fuse_bytes_total", "op=\"write\"", "bytes read and written");
	fusefs_m_errors = c3_counter_get("c3fs_fuse_errors_total", NULL, "requests answered with an error");
}

/* Every error answer goes through here (counted in c3fs_fuse_errors_total). */
void fusefs_reply_errno(fuse_req_t req, int e)
{
	c3_counter_add(fusefs_m_errors, 1);
	fuse_reply_err(req, e > 0 ? e : EIO);
}

void fusefs_reply_err(fuse_req_t req, int rc)
{
	fusefs_reply_errno(req, rc < 0 ? c3fs_errno(rc) : EIO);
}

void fusefs_reply_rc(fuse_req_t req, int rc)
{
	if (rc)
		fusefs_reply_err(req, rc);
	else
		fuse_reply_err(req, 0);
}

/* Supplementary groups of callers.  fuse_req_getgroups() reads /proc/PID/task/PID/status
 * (libfuse 3.14: two opens and reads, ~1.5 KiB of text the kernel formats each time):
 * that was a third of this daemon's CPU in a create loop (docs/bench/meta-profile.md).
 * So:
 *  - uid 0: meta never consults a root caller's groups (meta__perm, the setgid rules and
 *    setattr's chgrp rule all decide uid 0 before looking at groups), none are fetched;
 *  - other callers: the groups are kept per (pid, uid, gid) for FUSEFS_GROUPS_TTL_NS.
 *    A process's groups change only through setgroups(2) (CAP_SETGID, normally right
 *    before a setuid that changes the key anyway); such a change reaches meta's checks
 *    up to that long late, like attributes with attr_timeout.  The kernel's own check
 *    (kernel_permissions) always uses the live credentials.
 * The table is direct-mapped by pid; a slot holds one caller. */
#define FUSEFS_GROUPS_SLOTS 64
#define FUSEFS_GROUPS_TTL_NS 1000000000ull

struct fusefs_groups_slot {
	pid_t pid;
	uint32_t uid, gid, n;
	uint64_t stamp_ns;             /* c3_now_ns() at the fetch; 0 = empty */
	uint32_t groups[C3FS_CRED_MAX_GROUPS];
};

static pthread_mutex_t fusefs_groups_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fusefs_groups_slot fusefs_groups[FUSEFS_GROUPS_SLOTS]; /* fusefs_groups_lock */

void fusefs_cred(fuse_req_t req, struct c3fs_cred *cr)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fusefs_groups_slot *s;
	gid_t groups[C3FS_CRED_MAX_GROUPS];
	uint64_t now;
	int n, i;

	cr->uid = ctx->uid;
	cr->gid = ctx->gid;
	cr->ngroups = 0;
	if (ctx->uid == 0)
		return;
	s = &fusefs_groups[(uint32_t)ctx->pid % FUSEFS_GROUPS_SLOTS];
	now = c3_now_ns();
	pthread_mutex_lock(&fusefs_groups_lock);
	if (s->stamp_ns && s->pid == ctx->pid && s->uid == ctx->uid && s->gid == ctx->gid &&
	    now - s->stamp_ns < FUSEFS_GROUPS_TTL_NS) {
		cr->ngroups = s->n;
		memcpy(cr->groups, s->groups, s->n * sizeof(s->groups[0]));
		pthread_mutex_unlock(&fusefs_groups_lock);
		return;
	}
	pthread_mutex_unlock(&fusefs_groups_lock);
	n = fuse_req_getgroups(req, C3FS_CRED_MAX_GROUPS, groups);
	if (n > C3FS_CRED_MAX_GROUPS)
		n = C3FS_CRED_MAX_GROUPS;
	for (i = 0; i < n; i++)
		cr->groups[i] = groups[i];
	cr->ngroups = n > 0 ? (uint32_t)n : 0;
	if (n < 0)
		return; /* the caller is gone or /proc is unreadable: nothing worth keeping */
	pthread_mutex_lock(&fusefs_groups_lock);
	s->pid = ctx->pid;
	s->uid = ctx->uid;
	s->gid = ctx->gid;
	s->n = cr->ngroups;
	memcpy(s->groups, cr->groups, cr->ngroups * sizeof(s->groups[0]));
	s->stamp_ns = now;
	pthread_mutex_unlock(&fusefs_groups_lock);
}

void fusefs_stat_from(const struct c3fs_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blksize = a->blksize ? a->blksize : 4096;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_atim.tv_sec = a->atime_ns / 1000000000;
	st->st_atim.tv_nsec = a->atime_ns % 1000000000;
	st->st_mtim.tv_sec = a->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = a->mtime_ns % 1000000000;
	st->st_ctim.tv_sec = a->ctime_ns / 1000000000;
	st->st_ctim.tv_nsec = a->ctime_ns % 1000000000;
}

static double fusefs_secs(uint64_t ms) { return (double)ms / 1000.0; }

/* ------------------------------------------------------------------ inode table */

static unsigned fusefs_bucket(uint64_t ino)
{
	return (unsigned)((ino * 0x9e3779b97f4a7c15ull) >> 40) % FUSEFS_INO_BUCKETS;
}

/* Find or create the entry of ino (caller holds ino_lock).  NULL on ENOMEM. */
static struct fusefs_inode *fusefs_ino_get(struct fusefs *fs, uint64_t ino)
{
	unsigned b = fusefs_bucket(ino);
	struct fusefs_inode *e;

	for (e = fs->inos[b]; e; e = e->next)
		if (e->ino == ino)
			return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->ino = ino;
	e->next = fs->inos[b];
	fs->inos[b] = e;
	return e;
}

/* Drop the entry when nothing refers to it any more (caller holds ino_lock). */
static void fusefs_ino_maybe_free(struct fusefs *fs, struct fusefs_inode *e)
{
	struct fusefs_inode **pp;

	if (e->nlookup > 0 || e->nopen > 0)
		return;
	for (pp = &fs->inos[fusefs_bucket(e->ino)]; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			free(e);
			return;
		}
}

static void fusefs_ino_ref(struct fusefs *fs, uint64_t ino, int64_t delta)
{
	struct fusefs_inode *e;

	pthread_mutex_lock(&fs->ino_lock);
	e = fusefs_ino_get(fs, ino);
	if (e) {
		if (delta < 0 && (uint64_t)-delta > e->nlookup)
			e->nlookup = 0;
		else
			e->nlookup += (uint64_t)delta;
		fusefs_ino_maybe_free(fs, e);
	}
	pthread_mutex_unlock(&fs->ino_lock);
}

/* An open: decide keep_cache, record the attributes, count the handle. */
static bool fusefs_ino_open(struct fusefs *fs, const struct c3fs_attr *a)
{
	struct fusefs_inode *e;
	bool keep = false;

	pthread_mutex_lock(&fs->ino_lock);
	e = fusefs_ino_get(fs, a->ino);
	if (e) {
		keep = e->cache_known && e->mtime_ns == a->mtime_ns &&
		       e->ctime_ns == a->ctime_ns && e->size == a->size;
		e->cache_known = true;
		e->mtime_ns = a->mtime_ns;
		e->ctime_ns = a->ctime_ns;
		e->size = a->size;
		e->nopen++;
	}
	pthread_mutex_unlock(&fs->ino_lock);
	return keep && fs->cfg.read_cache;
}

/* A release: a (when a->ino != 0) is what the file looks like after our close. */
static void fusefs_ino_close(struct fusefs *fs, uint64_t ino, const struct c3fs_attr *a)
{
	struct fusefs_inode *e;

	pthread_mutex_lock(&fs->ino_lock);
	e = fusefs_ino_get(fs, ino);
	if (e) {
		if (a && a->ino == ino) {
			e->cache_known = true;
			e->mtime_ns = a->mtime_ns;
			e->ctime_ns = a->ctime_ns;
			e->size = a->size;
		} else if (a) {
			e->cache_known = false;
		}
		if (e->nopen > 0)
			e->nopen--;
		fusefs_ino_maybe_free(fs, e);
	}
	pthread_mutex_unlock(&fs->ino_lock);
}

void fusefs_free_inodes(struct fusefs *fs)
{
	int b;

	pthread_mutex_lock(&fs->ino_lock);
	while (fs->fhs) {
		struct fusefs_fh *fh = fs->fhs;

		fs->fhs = fh->next;
		c3fs_close(fh->f);
		free(fh);
	}
	while (fs->dhs) {
		struct fusefs_dirh *dh = fs->dhs;

		fs->dhs = dh->next;
		pthread_mutex_destroy(&dh->lock);
		free(dh->ents);
		free(dh);
	}
	for (b = 0; b < FUSEFS_INO_BUCKETS; b++)
		while (fs->inos[b]) {
			struct fusefs_inode *e = fs->inos[b];

			fs->inos[b] = e->next;
			free(e);
		}
	pthread_mutex_unlock(&fs->ino_lock);
}

/* Handle lists (so shutdown can close what the kernel never released). */
#define FUSEFS_LIST_ADD(fs, head, h)                                                    \
	do {                                                                            \
		pthread_mutex_lock(&(fs)->ino_lock);                                    \
		(h)->prev = NULL;                                                       \
		(h)->next = (fs)->head;                                                 \
		if ((fs)->head)                                                         \
			(fs)->head->prev = (h);                                         \
		(fs)->head = (h);                                                       \
		pthread_mutex_unlock(&(fs)->ino_lock);                                  \
	} while (0)
#define FUSEFS_LIST_DEL(fs, head, h)                                                    \
	do {                                                                            \
		pthread_mutex_lock(&(fs)->ino_lock);                                    \
		if ((h)->prev)                                                          \
			(h)->prev->next = (h)->next;                                    \
		else                                                                    \
			(fs)->head = (h)->next;                                         \
		if ((h)->next)                                                          \
			(h)->next->prev = (h)->prev;                                    \
		pthread_mutex_unlock(&(fs)->ino_lock);                                  \
	} while (0)

/* ------------------------------------------------------------------ replies */

static void fusefs_entry_param(struct fusefs *fs, const struct c3fs_attr *a,
			       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = a->ino;
	e->generation = 0;
	fusefs_stat_from(a, &e->attr);
	e->attr_timeout = fusefs_secs(fs->cfg.attr_timeout_ms);
	e->entry_timeout = fusefs_secs(fs->cfg.entry_timeout_ms);
}

/* Reply to an operation that makes an entry: its error rc, or (rc 0) the entry a. */
static void fusefs_reply_entry(struct fusefs *fs, fuse_req_t req, int rc,
			       const struct c3fs_attr *a)
{
	struct fuse_entry_param e;
	struct virt_user_conf uc;

	if (rc) {
		fusefs_reply_err(req, rc);
		return;
	}
	fusefs_entry_param(fs, a, &e);
	virt_user_conf(fs, req, &uc); /* the caller's set-conf overrides */
	e.attr_timeout = fusefs_secs(uc.attr_timeout_ms);
	e.entry_timeout = fusefs_secs(uc.entry_timeout_ms);
	fusefs_ino_ref(fs, a->ino, 1);
	if (fuse_reply_entry(req, &e) != 0)
		fusefs_ino_ref(fs, a->ino, -1); /* the kernel never got it */
}

static void fusefs_reply_attr(struct fusefs *fs, fuse_req_t req, const struct c3fs_attr *a)
{
	struct stat st;
	struct virt_user_conf uc;

	fusefs_stat_from(a, &st);
	virt_user_conf(fs, req, &uc);
	fuse_reply_attr(req, &st, fusefs_secs(uc.attr_timeout_ms));
}

/* Raise the kernel read-ahead of our mount (its bdi) to max_readahead: the FUSE INIT
 * handshake can only lower the kernel's default (128 KiB), and the kernel applies the INIT
 * reply's value to the bdi, so this runs on the first request after INIT.  The device is
 * found through /proc/self/mountinfo (no request to our own file system). */
void fusefs_set_readahead(const char *mnt, uint64_t bytes)
{
	char line[8192], path[128], want[4200];
	unsigned maj = 0, min = 0;
	bool found = false;
	FILE *f;

	if (bytes == 0)
		return;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	snprintf(want, sizeof(want), " %s ", mnt);
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, want);

		/* fields: id parent maj:min root mountpoint ... ; the last match wins */
		if (p && strstr(line, "fuse") && sscanf(line, "%*u %*u %u:%u", &maj, &min) == 2)
			found = true;
	}
	fclose(f);
	if (!found)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", maj, min);
	f = fopen(path, "we");
	if (!f) {
		LOG_WARN("cannot set read-ahead (%s): %s", path, strerror(errno));
		return;
	}
	fprintf(f, "%lu\n", (unsigned long)(bytes / 1024));
	if (fclose(f) != 0)
		LOG_WARN("cannot set read-ahead (%s): %s", path, strerror(errno));
}

/* Once, on the first request after INIT (see fusefs_set_readahead). */
static void fusefs_first_request(struct fusefs *fs)
{
	if (__atomic_exchange_n(&fs->readahead_done, true, __ATOMIC_ACQ_REL))
		return;
	fusefs_set_readahead(fs->mnt_real, fs->cfg.max_readahead);
}

/* ------------------------------------------------------------------ lifecycle */

static void fusefs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	fusefs_metrics_init();

	conn->max_write = 1u << 20;
	conn->max_read = 1u << 20;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
	conn->want &= ~(unsigned)(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_ATOMIC_O_TRUNC |
				  FUSE_CAP_EXPORT_SUPPORT | FUSE_CAP_HANDLE_KILLPRIV |
				  FUSE_CAP_DONT_MASK | FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
	LOG_INFO("fuse init: proto %u.%u, max_write %u, max_readahead %u, capable 0x%x, want 0x%x",
		 conn->proto_major, conn->proto_minor, conn->max_write, conn->max_readahead,
		 conn->capable, conn->want);
}

/* ------------------------------------------------------------------ names */

static void fusefs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fusefs *fs = fusefs_of(req);
	struct virt_user_conf uc;
	struct c3fs_cred cr;
	struct c3fs_attr a;
	int rc;

	FUSEFS_COUNT(lookup);
	fusefs_first_request(fs);
	if (virt_is(parent) || fusefs_is_virt_name(parent, name)) {
		virt_lookup(fs, req, parent, name);
		return;
	}
	fusefs_cred(req, &cr);
	rc = c3fs_lookup(fs->cl, &cr, parent, name, &a);
	if (rc == -ENOENT)
		virt_user_conf(fs, req, &uc);
	if (rc == -ENOENT && uc.negative_timeout_ms > 0) {
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.entry_timeout = fusefs_secs(uc.negative_timeout_ms);
		fuse_reply_entry(req, &e);
		return;
	}
	fusefs_reply_entry(fs, req, rc, &a);
}

static void fusefs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	FUSEFS_COUNT(forget);
	if (!virt_is(ino))
		fusefs_ino_ref(fusefs_of(req), ino, -(int64_t)nlookup);
	fuse_reply_none(req);
}

static void fusefs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *fl)
{
	size_t i;

	FUSEFS_COUNT(forget_multi);
	for (i = 0; i < count; i++)
		if (!virt_is(fl[i].ino))
			fusefs_ino_ref(fusefs_of(req), fl[i].ino, -(int64_t)fl[i].nlookup);
	fuse_reply_none(req);
}

/* A directory still open here but gone from meta: its attributes at opendir, nlink 0. */
static bool fusefs_removed_open_dir(struct fusefs *fs, uint64_t ino, struct c3fs_attr *out)
{
	struct fusefs_dirh *dh;
	bool found = false;

	pthread_mutex_lock(&fs->ino_lock);
	for (dh = fs->dhs; dh; dh = dh->next)
		if (dh->ino == ino) {
			*out = dh->attr;
			out->nlink = 0;
			found = true;
			break;
		}
	pthread_mutex_unlock(&fs->ino_lock);
	return found;
}

static void fusefs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fusefs *fs = fusefs_of(req);
	struct c3fs_cred cr;
	struct c3fs_attr a;
	struct stat st;
	int rc;

	FUSEFS_COUNT(getattr);
	(void)fi;
	fusefs_first_request(fs);
	if (virt_is(ino)) {
		if (virt_stat(ino, &st))
			fuse_reply_attr(req, &st, 0);
		else
			fusefs_reply_errno(req, ENOENT);
		return;
	}
	fusefs_cred(req, &cr);
	rc = c3fs_getattr(fs->cl, &cr, ino, &a);
	if (rc == -ENOENT && fusefs_removed_open_dir(fs, ino, &a))
		rc = 0; /* fstat of an open directory that was removed: nlink 0 */
	if (rc)
		fusefs_reply_err(req, rc);
	else
		fusefs_reply_attr(fs, req, &a);
}

/* Zeroed memory for a request's handle, or NULL after replying ENOMEM. */
static void *fusefs_calloc(fuse_req_t req, size_t size)
{
	void *p = calloc(1, size);

	if (!p)
		fusefs_reply_errno(req, ENOMEM);
	return p;
}

/* Refuse a change to inode ino: on a read-only mount (EROFS) or inside 3fs-virt (EPERM).
 * Returns true when it replied. */
static bool fusefs_refuse_change(struct fusefs *fs, fuse_req_t req, uint64_t ino)
{
	if (fusefs_refuse_ro(fs, req))
		return true;
	if (virt_is(ino)) {
		fusefs_reply_errno(req, EPERM);
		return true;
	}
	return false;
}

/* Is a mode change by cr on ino only the kernel clearing setuid/setgid (the caller is not
 * the owner, the new mode is the current one without S_ISUID/S_ISGID, and one of them is
 * set now)?  Only trusted with the kernel's own permission checks on: then a chmod by a
 * non-owner never reaches us. */
static bool fusefs_is_killpriv(struct fusefs *fs, const struct c3fs_cred *cr, uint64_t ino,
			       uint32_t newmode)
{
	struct c3fs_attr a;

	if (!fs->cfg.kernel_permissions || c3fs_getattr(fs->cl, cr, ino, &a) != 0)
		return false;
	return a.uid != cr->uid && (a.mode & (S_ISUID | S_ISGID)) &&
	       (newmode & 07777) == (a.mode & 07777 & ~(uint32_t)(S_ISUID | S_ISGID)) &&
	       (newmode & 07777) != (a.mode & 07777);
}

static void fusefs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			   struct fuse_file_info *fi)
{
	struct fusefs *fs = fusefs_of(req);
	struct fusefs_fh *fh = fi ? (struct fusefs_fh *)(uintptr_t)fi->fh : NULL;
	struct c3fs_setattr sa;
	struct c3fs_cred cr;
	struct c3fs_attr a;
	int rc;

	FUSEFS_COUNT(setattr);
	if (fusefs_refuse_change(fs, req, ino))
		return;
	memset(&sa, 0, sizeof(sa));
	if (to_set & FUSE_SET_ATTR_MODE) {
		sa.valid |= C3FS_SET_MODE;
		sa.mode = attr->st_mode & 07777;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa.valid |= C3FS_SET_UID;
		sa.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa.valid |= C3FS_SET_GID;
		sa.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		sa.valid |= C3FS_SET_SIZE;
		sa.size = (uint64_t)attr->st_size;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		sa.valid |= C3FS_SET_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		sa.valid |= C3FS_SET_ATIME;
		sa.atime_ns = (int64_t)attr->st_atim.tv_sec * 1000000000 + attr->st_atim.tv_nsec;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		sa.valid |= C3FS_SET_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		sa.valid |= C3FS_SET_MTIME;
		sa.mtime_ns = (int64_t)attr->st_mtim.tv_sec * 1000000000 + attr->st_mtim.tv_nsec;
	}
	fusefs_cred(req, &cr);
	if ((sa.valid & C3FS_SET_MODE) && cr.uid != 0 && fusefs_is_killpriv(fs, &cr, ino, sa.mode)) {
		/* The kernel drops setuid/setgid of a file written or truncated by someone
		 * else than its owner with a SETATTR of the mode in the writer's name, which
		 * meta refuses to a non-owner.  Clearing those bits grants nothing, so it is
		 * done with the daemon's authority, after the caller's own changes. */
		struct c3fs_setattr kill = { .valid = C3FS_SET_MODE, .mode = sa.mode };
		struct c3fs_cred root;

		memset(&root, 0, sizeof(root));
		sa.valid &= ~C3FS_SET_MODE;
		rc = sa.valid ? c3fs_setattr(fs->cl, &cr, ino, fh ? fh->f : NULL, &sa, &a) : 0;
		if (rc == 0)
			rc = c3fs_setattr(fs->cl, &root, ino, NULL, &kill, &a);
	} else {
		rc = c3fs_setattr(fs->cl, &cr, ino, fh ? fh->f : NULL, &sa, &a);
	}
	if (rc)
		fusefs_reply_err(req, rc);
	else
		fusefs_reply_attr(fs, req, &a);
}

static void fusefs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fusefs *fs = fusefs_of(req);
	char buf[C3FS_PATH_MAX];
	struct c3fs_cred cr;
	int rc;

	FUSEFS_COUNT(readlink);
	if (virt_is(ino)) {
		virt_readlink(fs, req, ino);
		return;
	}
	fusefs_cred(req, &cr);
	rc = c3fs_readlink(fs->cl, &cr, ino, buf, sizeof(buf));
	if (rc < 0)
		fusefs_reply_err(req, rc);
	else
		fuse_reply_readlink(req, buf);
}

/* Refuse a change of name in parent: on a read-only mount (EROFS), inside 3fs-virt (EPERM)
 * or to the name 3fs-virt itself (err).  Returns true when it replied. */
static bool fusefs_refuse_virt(struct fusefs *fs, fuse_req_t req, uint64_t parent,
			       const char *name, int err)
{
	if (fusefs_refuse_change(fs, req, parent))
		return true;
	if (fusefs_is_virt_name(parent, name)) {
		fusefs_reply_errno(req, err);
		return true;
	}
	return false;
}

/* mknod, or mkdir when dir (mode then holds the permission bits only). */
static void fusefs_make_node(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			     dev_t rdev, bool dir)
{
	struct fusefs *fs = fusefs_of(req);
	struct c3fs_cred cr;
	struct c3fs_attr a;
	int rc;

	if (fusefs_refuse_virt(fs, req, parent, name, EEXIST))
		return;
	fusefs_cred(req, &cr);
	if (dir)
		rc = c3fs_mkdir(fs->cl, &cr, parent, name, (uint32_t)mode & 07777, &a);
	else
		rc = c3fs_mknod(fs->cl, &cr, parent, name, (uint32_t)mode, (uint32_t)rdev, &a);
	fusefs_reply_entry(fs, req, rc, &a);
}

static void fusefs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			 dev_t rdev)
{
	FUSEFS_COUNT(mknod);
	fusefs_make_node(req, parent, name, mode, rdev, false);
}

static void fusefs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	FUSEFS_COUNT(mkdir);
	fusefs_make_node(req, parent, name, mode, 0, true);
}

static void fusefs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			   const char *name)
{
	struct fusefs *fs = fusefs_of(req);
	struct c3fs_cred cr;
	struct c3fs_attr a;
	int rc;

	FUSEFS_COUNT(symlink);
	if (virt_is(parent)) {
		virt_symlink(fs, req, link, parent, name);
		return;
	}
	if (fusefs_is_virt_name(parent, name)) {
		fusefs_reply_errno(req, EEXIST);
		return;
	}
	if (fusefs_refuse_ro(fs, req))
		return;
	if (strncmp(link, "mv:", 3) == 0) {
		virt_mv(fs, req, link, parent, name);
		return;
	}
	fusefs_cred(req, &cr);
	rc = c3fs_symlink(fs->cl, &cr, parent, name, link, &a);
	fusefs_reply_entry(fs, req, rc, &a);
}

static void fusefs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fusefs *fs = fusefs_of(req);
	struct c3fs_cred cr;
	int rc;

	FUSEFS_COUNT(unlink);
	if (fusefs_refuse_ro(fs, req))
		return;
	if (parent == VIRT_INO_IOVS) {
		usrbio_unlink(req, name);
		return;
	}
	if (virt_is(parent)) {
		fusefs_reply_errno(req, parent == VIRT_INO_DIR ? EPERM : ENOENT);
		return;
	}
	if (fusefs_is_virt_name(parent, name)) {
		fusefs_reply_errno(req, EISDIR);
		return;
	}
	fusefs_cred(req, &cr);
	rc = c3fs_unlink(fs->cl, &cr, parent, name);
	fusefs_reply_rc(req, rc);
}

static void fusefs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fusefs *fs = fusefs_of(req);
	struct c3fs_cred cr;
	int rc;

	FUSEFS_COUNT(rmdir);
	if (fusefs_refuse_virt(fs, req, parent, name, EBUSY))
		return;
	fusefs_cred(req, &cr);
	rc = c3fs_rmdir(fs->cl, &cr, parent, name);
	fusefs_reply_rc(req, rc);
}

static void fusefs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			  fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fusefs *fs = fusefs_of(req);
	struct c3fs_cred cr;
	int rc;

	FUSEFS_COUNT(rename);
	if (fusefs_refuse_ro(fs, req))
		return;
	if (newparent == VIRT_INO_RMRF && !virt_is(parent) &&
	    !fusefs_is_virt_name(parent, name)) {
		virt_rename_rmrf(fs, req, parent, name);
		return;
	}
	if (virt_is(parent) || virt_is(newparent)) {
		fusefs_reply_errno(req, EXDEV);
		return;
	}
	if (fusefs_is_virt_name(parent, name) || fusefs_is_virt_name(newparent, newname)) {
		fusefs_reply_errno(req, EBUSY);
		return;
	}
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fusefs_reply_errno(req, EINVAL);
		return;
	}
	fusefs_cred(req, &cr);
	rc = c3fs_rename(fs->cl, &cr, parent, name, newparent, newname,
			 ((flags & RENAME_NOREPLACE) ? C3FS_RENAME_NOREPLACE : 0) |
			 ((flags & RENAME_EXCHANGE) ? C3FS_RENAME_EXCHANGE : 0));
	fusefs_reply_rc(req, rc);
}

static void fusefs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
			const char *newname)
{
	struct fusefs *fs = fusefs_of(req);
	struct c3fs_cred cr;
	struct c3fs_attr a;
	int rc;

	FUSEFS_COUNT(link);
	if (fusefs_refuse_change(fs, req, ino) ||
	    fusefs_refuse_virt(fs, req, newparent, newname, EEXIST))
		return;
	fusefs_cred(req, &cr);
	rc = c3fs_link(fs->cl, &cr, ino, newparent, newname, &a);
	fusefs_reply_entry(fs, req, rc, &a);
}

/* ------------------------------------------------------------------ files */

/* Flags for libc3fs: the kernel computes append offsets itself. */
static int fusefs_file_flags(int flags)
{
	return flags & (O_ACCMODE | O_TRUNC);
}

static void fusefs_fill_fi(struct fusefs *fs, fuse_req_t req, struct fuse_file_info *fi,
			   struct fusefs_fh *fh, bool keep)
{
	struct virt_user_conf uc;

	virt_user_conf(fs, req, &uc); /* read_cache may be the caller's set-conf override */
	fi->fh = (uint64_t)(uintptr_t)fh;
	/* O_DIRECT alone needs no direct_io flag: the kernel sends that fd's I/O straight to
	 * us anyway (fuse_direct_IO), and mmap of it keeps working */
	fi->direct_io = !uc.read_cache;
	fi->keep_cache = keep && !fi->direct_io;
}

static void fusefs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			  struct fuse_file_info *fi)
{
	struct fusefs *fs = fusefs_of(req);
	struct fusefs_fh *fh;
	struct fuse_entry_param e;
	struct c3fs_cred cr;
	struct c3fs_attr a;
	int rc;

	FUSEFS_COUNT(create);
	if (fusefs_refuse_virt(fs, req, parent, name, EEXIST))
		return;
	fh = fusefs_calloc(req, sizeof(*fh));
	if (!fh)
		return;
	fusefs_cred(req, &cr);
	rc = c3fs_create(fs->cl, &cr, parent, name, (uint32_t)mode & 07777,
			 fusefs_file_flags(fi->flags) | (fi->flags & O_EXCL), &a, &fh->f);
	if (rc) {
		free(fh);
		fusefs_reply_err(req, rc);
		return;
	}
	fh->ino = a.ino;
	fusefs_fill_fi(fs, req, fi, fh, fusefs_ino_open(fs, &a));
	fusefs_entry_param(fs, &a, &e);
	fusefs_ino_ref(fs, a.ino, 1);
	FUSEFS_LIST_ADD(fs, fhs, fh);
	if (fuse_reply_create(req, &e, fi) != 0) {
		/* interrupted: the kernel has neither the entry nor the handle */
		FUSEFS_LIST_DEL(fs, fhs, fh);
		fusefs_ino_ref(fs, a.ino, -1);
		c3fs_close(fh->f);
		fusefs_ino_close(fs, a.ino, NULL);
		free(fh);
	}
}

static void fusefs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fusefs *fs = fusefs_of(req);
	struct fusefs_fh *fh;
	struct c3fs_cred cr;
	struct c3fs_attr a;
	bool keep;
	int rc;

	FUSEFS_COUNT(open);
	if (virt_is(ino)) {
		fusefs_reply_errno(req, EISDIR);
		return;
	}
	if (((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) &&
	    fusefs_refuse_ro(fs, req))
		return;
	fh = fusefs_calloc(req, sizeof(*fh));
	if (!fh)
		return;
	fusefs_cred(req, &cr);
	rc = c3fs_open(fs->cl, &cr, ino, fusefs_file_flags(fi->flags), &fh->f);
	if (rc) {
		free(fh);
		fusefs_reply_err(req, rc);
		return;
	}
	fh->ino = ino;
	c3fs_file_attr(fh->f, &a);
	keep = fusefs_ino_open(fs, &a);
	fusefs_fill_fi(fs, req, fi, fh, keep);
	/* close-to-open: the file changed since we last saw it (another client wrote it), so
	 * the kernel's cached size may be stale too.  Without keep_cache the kernel drops the
	 * pages itself; drop the attributes (not pages: offset -1) so the next read fetches
	 * the size.  Safe here: it takes no lock an open holds. */
	if (!keep && fs->se)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	FUSEFS_LIST_ADD(fs, fhs, fh);
	if (fuse_reply_open(req, fi) != 0) {
		FUSEFS_LIST_DEL(fs, fhs, fh);
		c3fs_close(fh->f);
		fusefs_ino_close(fs, ino, NULL);
		free(fh);
	}
}

/* Per-thread read buffer (grows to the largest read; freed when the thread exits). */
static pthread_key_t fusefs_buf_key;
static pthread_once_t fusefs_buf_once = PTHREAD_ONCE_INIT;
struct fusefs_tbuf {
	size_t cap;
	char *p;
};
static void fusefs_tbuf_free(void *v)
{
	struct fusefs_tbuf *b = v;

	free(b->p);
	free(b);
}
static void fusefs_tbuf_key_init(void) { pthread_key_create(&fusefs_buf_key, fusefs_tbuf_free); }

static char *fusefs_tbuf(size_t n)
{
	struct fusefs_tbuf *b;

	pthread_once(&fusefs_buf_once, fusefs_tbuf_key_init);
	b = pthread_getspecific(fusefs_buf_key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		pthread_setspecific(fusefs_buf_key, b);
	}
	if (b->cap < n) {
		char *p = realloc(b->p, n);

		if (!p)
			return NULL;
		b->p = p;
		b->cap = n;
	}
	return b->p;
}

static void fusefs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	struct fusefs_fh *fh = (struct fusefs_fh *)(uintptr_t)fi->fh;
	uint64_t t0;
	char *buf;
	ssize_t n;

	FUSEFS_COUNT(read);
	(void)ino;
	if (size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	buf = fusefs_tbuf(size);
	if (!buf) {
		fusefs_reply_errno(req, ENOMEM);
		return;
	}
	t0 = c3_now_ns();
	n = c3fs_pread(fh->f, buf, size, (uint64_t)off);
	c3_hist_observe_ns(fusefs_m_read_lat, c3_now_ns() - t0);
	if (n > 0)
		c3_counter_add(fusefs_m_read_bytes, (uint64_t)n);
	if (n < 0)
		fusefs_reply_err(req, (int)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void fusefs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	struct fusefs_fh *fh = (struct fusefs_fh *)(uintptr_t)fi->fh;
	uint64_t t0 = c3_now_ns();
	ssize_t n;

	FUSEFS_COUNT(write);
	(void)ino;
	if (fusefs_refuse_ro(fusefs_of(req), req)) /* turned on after the open */
		return;
	n = fusefs_of(req)->cfg.write_behind ? c3fs_pwrite_async(fh->f, buf, size, (uint64_t)off)
					     : c3fs_pwrite(fh->f, buf, size, (uint64_t)off);
	c3_hist_observe_ns(fusefs_m_write_lat, c3_now_ns() - t0);
	if (n > 0)
		c3_counter_add(fusefs_m_write_bytes, (uint64_t)n);
	if (n < 0) {
		fusefs_reply_err(req, (int)n);
		return;
	}
	__atomic_store_n(&fh->wrote, true, __ATOMIC_RELAXED);
	fuse_reply_write(req, (size_t)n);
}

static void fusefs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fusefs_fh *fh = (struct fusefs_fh *)(uintptr_t)fi->fh;
	int rc = 0;

	FUSEFS_COUNT(flush);
	(void)ino;
	/* close(2): make the length visible to other clients now, not at release */
	if (__atomic_load_n(&fh->wrote, __ATOMIC_RELAXED))
		rc = c3fs_fsync(fh->f, false);
	fusefs_reply_rc(req, rc);
}

static void fusefs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	struct fusefs_fh *fh = (struct fusefs_fh *)(uintptr_t)fi->fh;
	int rc;

	FUSEFS_COUNT(fsync);
	(void)ino;
	rc = c3fs_fsync(fh->f, datasync != 0);
	fusefs_reply_rc(req, rc);
}

static void fusefs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fusefs *fs = fusefs_of(req);
	struct fusefs_fh *fh = (struct fusefs_fh *)(uintptr_t)fi->fh;
	struct c3fs_attr a;
	bool wrote = __atomic_load_n(&fh->wrote, __ATOMIC_RELAXED);
	int rc;

	FUSEFS_COUNT(release);
	FUSEFS_LIST_DEL(fs, fhs, fh);
	rc = c3fs_close_attr(fh->f, &a);
	if (rc)
		LOG_WARN("close of inode %lu: %s", (unsigned long)ino, c3fs_strerror(rc));
	/* after our own writes the page cache matches what we just reported */
	fusefs_ino_close(fs, ino, wrote ? &a : NULL);
	free(fh);
	fuse_reply_err(req, 0);
}

/* fallocate: mode 0 extends the size (chunks are sparse: the range reads as zeros),
 * KEEP_SIZE has nothing to do.  No space is reserved: a later write may still get
 * ENOSPC.  PUNCH_HOLE (with KEEP_SIZE, as Linux requires) and ZERO_RANGE punch the range
 * (c3fs_punch_hole: whole chunks removed, partial ones zeroed); ZERO_RANGE without
 * KEEP_SIZE then extends the size like mode 0.  The kernel drops its cached pages of the
 * range after the reply. */
static void fusefs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			     struct fuse_file_info *fi)
{
	struct fusefs *fs = fusefs_of(req);
	struct fusefs_fh *fh = (struct fusefs_fh *)(uintptr_t)fi->fh;
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
	struct c3fs_setattr sa;
	struct c3fs_cred cr;
	struct c3fs_attr a;
	int rc;

	FUSEFS_COUNT(fallocate);
	if (fusefs_refuse_ro(fs, req))
		return;
	if ((mode & ~(FALLOC_FL_KEEP_SIZE | punch)) || (mode & punch) == punch ||
	    ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE))) {
		fusefs_reply_errno(req, EOPNOTSUPP);
		return;
	}
	if (off < 0 || len <= 0) {
		fusefs_reply_errno(req, EINVAL);
		return;
	}
	if (mode & punch) {
		rc = c3fs_punch_hole(fh->f, (uint64_t)off, (uint64_t)len);
		if (rc) {
			fusefs_reply_err(req, rc);
			return;
		}
		__atomic_store_n(&fh->wrote, true, __ATOMIC_RELAXED); /* close(2) reports */
		if (mode & FALLOC_FL_KEEP_SIZE) {
			fuse_reply_err(req, 0);
			return;
		}
	}
	fusefs_cred(req, &cr);
	rc = c3fs_getattr(fs->cl, &cr, ino, &a);
	if (rc == 0 && !(mode & FALLOC_FL_KEEP_SIZE) && (uint64_t)off + (uint64_t)len > a.size) {
		memset(&sa, 0, sizeof(sa));
		sa.valid = C3FS_SET_SIZE;
		sa.size = (uint64_t)off + (uint64_t)len;
		rc = c3fs_setattr(fs->cl, &cr, ino, fh->f, &sa, &a);
	}
	fusefs_reply_rc(req, rc);
}

/* ------------------------------------------------------------------ directories */

static void fusefs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fusefs *fs = fusefs_of(req);
	struct fusefs_dirh *dh;
	struct c3fs_cred cr;
	struct c3fs_attr a;
	int rc;

	FUSEFS_COUNT(opendir);
	if (virt_is(ino)) {
		fi->fh = 0;
		fuse_reply_open(req, fi);
		return;
	}
	fusefs_cred(req, &cr);
	/* with kernel checks on, the kernel already checked read permission on this open */
	rc = fs->cfg.kernel_permissions ? 0 : c3fs_access(fs->cl, &cr, ino, R_OK);
	if (rc == 0)
		rc = c3fs_getattr(fs->cl, &cr, ino, &a);
	if (rc) {
		fusefs_reply_err(req, rc);
		return;
	}
	dh = fusefs_calloc(req, sizeof(*dh));
	if (!dh)
		return;
	pthread_mutex_init(&dh->lock, NULL);
	dh->ino = ino;
	dh->attr = a;
	fi->fh = (uint64_t)(uintptr_t)dh;
	FUSEFS_LIST_ADD(fs, dhs, dh);
	if (fuse_reply_open(req, fi) != 0) {
		FUSEFS_LIST_DEL(fs, dhs, dh);
		pthread_mutex_destroy(&dh->lock);
		free(dh);
	}
}

/* Fetch the next page of entries into dh (lock held).  Returns 0 or an error. */
static int fusefs_dir_fetch(struct fusefs *fs, fuse_req_t req, struct fusefs_dirh *dh,
			    bool plus)
{
	struct c3fs_cred cr;
	int n;

	if (dh->n + FUSEFS_DIR_PAGE > dh->cap) {
		size_t cap = dh->cap ? dh->cap * 2 : FUSEFS_DIR_PAGE;
		struct c3fs_dirent *p;

		while (cap < dh->n + FUSEFS_DIR_PAGE)
			cap *= 2;
		p = realloc(dh->ents, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		dh->ents = p;
		dh->cap = cap;
	}
	fusefs_cred(req, &cr);
	n = c3fs_readdir(fs->cl, &cr, dh->ino, dh->n ? dh->ents[dh->n - 1].name : "",
			 dh->ents + dh->n, FUSEFS_DIR_PAGE, plus ? C3FS_READDIR_PLUS : 0);
	if (n < 0)
		return n;
	if (n == 0)
		dh->eof = true;
	dh->n += (size_t)n;
	return 0;
}

bool fusefs_add_dirent(fuse_req_t req, char *buf, size_t size, size_t *pos, const char *name,
		       const struct stat *st, const struct fuse_entry_param *e, off_t off)
{
	size_t need;

	if (e)
		need = fuse_add_direntry_plus(req, buf + *pos, size - *pos, name, e, off);
	else
		need = fuse_add_direntry(req, buf + *pos, size - *pos, name, st, off);
	if (need > size - *pos)
		return false;
	*pos += need;
	return true;
}

static void fusefs_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			      struct fuse_file_info *fi, bool plus)
{
	struct fusefs *fs = fusefs_of(req);
	struct fusefs_dirh *dh = (struct fusefs_dirh *)(uintptr_t)fi->fh;
	char *buf;
	size_t pos = 0;
	uint64_t idx;
	int rc = 0;

	if (virt_is(ino) || !dh) {
		virt_readdir(fs, req, ino, size, off, plus);
		return;
	}
	buf = malloc(size);
	if (!buf) {
		fusefs_reply_errno(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&dh->lock);
	if (off == 0) { /* (re)start: see the directory as it is now */
		dh->n = 0;
		dh->eof = false;
	}
	for (idx = (uint64_t)off;; idx++) {
		struct stat st;
		struct fuse_entry_param e;
		const char *name;

		memset(&st, 0, sizeof(st));
		memset(&e, 0, sizeof(e));
		if (idx < 2) {
			name = idx == 0 ? "." : "..";
			st.st_ino = ino;
			st.st_mode = S_IFDIR;
			e.attr = st;
		} else {
			const struct c3fs_dirent *d;
			size_t k = idx - 2;

			while (k >= dh->n && !dh->eof) {
				rc = fusefs_dir_fetch(fs, req, dh, plus);
				if (rc)
					break;
			}
			if (rc || k >= dh->n)
				break;
			d = &dh->ents[k];
			name = d->name;
			st.st_ino = d->ino;
			st.st_mode = d->type;
			if (plus) {
				struct c3fs_attr a;

				if (d->has_attr) {
					a = d->attr;
				} else {
					struct c3fs_cred cr;

					fusefs_cred(req, &cr);
					if (c3fs_lookup(fs->cl, &cr, ino, d->name, &a) != 0)
						continue; /* gone meanwhile */
				}
				fusefs_entry_param(fs, &a, &e);
			}
		}
		if (!fusefs_add_dirent(req, buf, size, &pos, name, &st, plus ? &e : NULL,
				       (off_t)(idx + 1)))
			break;
		if (plus && e.ino)
			fusefs_ino_ref(fs, e.ino, 1);
	}
	pthread_mutex_unlock(&dh->lock);
	if (rc && pos == 0)
		fusefs_reply_err(req, rc);
	else
		fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void fusefs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	FUSEFS_COUNT(readdir);
	fusefs_do_readdir(req, ino, size, off, fi, false);
}

static void fusefs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			       struct fuse_file_info *fi)
{
	FUSEFS_COUNT(readdirplus);
	fusefs_do_readdir(req, ino, size, off, fi, true);
}

static void fusefs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fusefs_dirh *dh = (struct fusefs_dirh *)(uintptr_t)fi->fh;

	FUSEFS_COUNT(releasedir);
	(void)ino;
	if (dh) {
		FUSEFS_LIST_DEL(fusefs_of(req), dhs, dh);
		pthread_mutex_destroy(&dh->lock);
		free(dh->ents);
		free(dh);
	}
	fuse_reply_err(req, 0);
}

static void fusefs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			    struct fuse_file_info *fi)
{
	FUSEFS_COUNT(fsyncdir);
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0); /* every namespace change is already committed in meta */
}

/* ------------------------------------------------------------------ misc */

static void fusefs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fusefs *fs = fusefs_of(req);
	struct c3fs_statfs s;
	struct c3fs_cred cr;
	struct statvfs v;
	int rc;

	FUSEFS_COUNT(statfs);
	(void)ino;
	fusefs_cred(req, &cr);
	rc = c3fs_statfs(fs->cl, &cr, &s);
	if (rc) {
		fusefs_reply_err(req, rc);
		return;
	}
	memset(&v, 0, sizeof(v));
	v.f_bsize = 1u << 20;
	v.f_frsize = 4096;
	v.f_blocks = s.capacity_bytes / 4096;
	v.f_bfree = s.free_bytes / 4096;
	v.f_bavail = s.free_bytes / 4096;
	v.f_ffree = 1ull << 32;
	v.f_files = s.files + v.f_ffree;
	v.f_favail = v.f_ffree;
	v.f_namemax = C3FS_NAME_MAX;
	fuse_reply_statfs(req, &v);
}

/* The kernel asks for security.capability on every write (to drop file capabilities);
 * c3fs stores none, so answer here instead of a meta round trip per write. */
static bool fusefs_is_caps(const char *name)
{
	return strcmp(name, "security.capability") == 0;
}

/* setxattr, or removexattr when remove: refused on a read-only mount, in 3fs-virt and
 * for security.capability (c3fs stores none: EOPNOTSUPP to set it, ENODATA to remove). */
static void fusefs_xattr_change(fuse_req_t req, fuse_ino_t ino, const char *name,
				const char *value, size_t size, int flags, bool remove)
{
	struct fusefs *fs = fusefs_of(req);
	struct c3fs_cred cr;
	int rc;

	if (fusefs_refuse_change(fs, req, ino))
		return;
	if (fusefs_is_caps(name)) {
		fusefs_reply_errno(req, remove ? ENODATA : EOPNOTSUPP);
		return;
	}
	fusefs_cred(req, &cr);
	if (remove)
		rc = c3fs_removexattr(fs->cl, &cr, ino, name);
	else
		rc = c3fs_setxattr(fs->cl, &cr, ino, name, value, size, flags);
	fusefs_reply_rc(req, rc);
}

static void fusefs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			    const char *value, size_t size, int flags)
{
	FUSEFS_COUNT(setxattr);
	fusefs_xattr_change(req, ino, name, value, size, flags, false);
}

/* getxattr of name, or listxattr when name is NULL: size 0 asks for the size only, a
 * larger size is capped at max. */
static void fusefs_xattr_read(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size,
			      size_t max)
{
	struct fusefs *fs = fusefs_of(req);
	struct c3fs_cred cr;
	char *buf = NULL;
	int rc;

	if (size > max)
		size = max;
	if (size && !(buf = malloc(size))) {
		fusefs_reply_errno(req, ENOMEM);
		return;
	}
	fusefs_cred(req, &cr);
	if (name)
		rc = c3fs_getxattr(fs->cl, &cr, ino, name, buf, size);
	else
		rc = c3fs_listxattr(fs->cl, &cr, ino, buf, size);
	if (rc < 0)
		fusefs_reply_err(req, rc);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)rc);
	else
		fuse_reply_buf(req, buf, (size_t)rc);
	free(buf);
}

static void fusefs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	FUSEFS_COUNT(getxattr);
	if (virt_is(ino) || fusefs_is_caps(name)) {
		fusefs_reply_errno(req, ENODATA);
		return;
	}
	fusefs_xattr_read(req, ino, name, size, C3FS_XATTR_SIZE_MAX);
}

static void fusefs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	FUSEFS_COUNT(listxattr);
	if (virt_is(ino)) {
		if (size == 0)
			fuse_reply_xattr(req, 0);
		else
			fuse_reply_buf(req, NULL, 0);
		return;
	}
	fusefs_xattr_read(req, ino, NULL, size, 65536);
}

static void fusefs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	FUSEFS_COUNT(removexattr);
	fusefs_xattr_change(req, ino, name, NULL, 0, 0, true);
}

static void fusefs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct fusefs *fs = fusefs_of(req);
	struct c3fs_cred cr;
	int rc;

	FUSEFS_COUNT(access);
	if (virt_is(ino)) {
		struct stat st;

		if (!virt_stat(ino, &st))
			fusefs_reply_errno(req, ENOENT);
		else
			fusefs_reply_errno(req, (mask & W_OK) && ino == VIRT_INO_DIR ? EACCES : 0);
		return;
	}
	fusefs_cred(req, &cr);
	rc = c3fs_access(fs->cl, &cr, ino, mask);
	fusefs_reply_rc(req, rc);
}

/* ioctl: 3FS's commands and USRBIO's is_c3fs (ioctl.c); others are ENOTTY. */
static void fusefs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
			 struct fuse_file_info *fi, unsigned flags, const void *in_buf,
			 size_t in_bufsz, size_t out_bufsz)
{
	FUSEFS_COUNT(ioctl);
	fusefs_ioctl_serve(fusefs_of(req), req, ino, cmd, fi, flags, in_buf, in_bufsz, out_bufsz);
}

const struct fuse_lowlevel_ops fusefs_ops = {
	.init = fusefs_init,
	.lookup = fusefs_lookup,
	.forget = fusefs_forget,
	.forget_multi = fusefs_forget_multi,
	.getattr = fusefs_getattr,
	.setattr = fusefs_setattr,
	.readlink = fusefs_readlink,
	.mknod = fusefs_mknod,
	.mkdir = fusefs_mkdir,
	.unlink = fusefs_unlink,
	.rmdir = fusefs_rmdir,
	.symlink = fusefs_symlink,
	.rename = fusefs_rename,
	.link = fusefs_link,
	.open = fusefs_open,
	.read = fusefs_read,
	.write = fusefs_write,
	.flush = fusefs_flush,
	.release = fusefs_release,
	.fsync = fusefs_fsync,
	.opendir = fusefs_opendir,
	.readdir = fusefs_readdir,
	.readdirplus = fusefs_readdirplus,
	.releasedir = fusefs_releasedir,
	.fsyncdir = fusefs_fsyncdir,
	.statfs = fusefs_statfs,
	.setxattr = fusefs_setxattr,
	.getxattr = fusefs_getxattr,
	.listxattr = fusefs_listxattr,
	.removexattr = fusefs_removexattr,
	.access = fusefs_access,
	.create = fusefs_create,
	.fallocate = fusefs_fallocate,
	.ioctl = fusefs_ioctl,
};
