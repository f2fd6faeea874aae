/* usrbio.c — USRBIO in c3fs-fuse: registrations in 3fs-virt/iovs/ and the ring service.
 *
 * Registration (a symlink(2) into <mount>/3fs-virt/iovs/, by the application library):
 *   <32 hex id>[.b<block size>]                  -> /dev/shm/<name>   an iov (buffer)
 *   <32 hex id>.r<depth>|.w<depth>[.t<ms>][.f<flags>][.ph|.pl] -> /dev/shm/<name>  a ring
 * The target must be a plain name in /dev/shm (no '/', opened O_NOFOLLOW relative to
 * /dev/shm), a regular file owned by the caller's uid (FUSE request context).  The daemon
 * maps it and keeps the mapping until the entry goes: unlink of the symlink (by its owner
 * or root), the owner process exiting (the reaper checks /proc/<pid>/stat and the start
 * time every second), or unmount.  Entries are virtual symlinks with their own inode
 * numbers (>= USRBIO_INO_MIN), listed by readdir.
 *   submit-ios, submit-ios.ph, submit-ios.pl   -> /dev/shm/sem.c3fs-<pid>-submit-ios[.ph|.pl]
 * are the named semaphores applications post after submitting (normal, high, low priority).
 *
 * Serving (threads, none per I/O):
 *   3 dispatchers (one per priority): sem_timedwait on their submit semaphore (50 ms, or
 *       less when a ring's batch timeout is due), then scan the rings of their priority and
 *       take batches: io_depth 0 everything queued, > 0 exactly io_depth at a time, < 0 up
 *       to -io_depth, waiting up to the ring's timeout for the batch to fill.  Each entry
 *       is copied once out of the shared memory and checked (ring.c); it becomes an item on
 *       the priority's queue.  At most `entries` items per ring are in flight.
 *   UB_WORKERS workers: take up to UB_BATCH items at once (high, then normal, then low),
 *       find each one's iov (same uid as the ring) and check the range, open (once per
 *       ring and inode) the file with the ring owner's credentials and the ring's
 *       direction, and submit the whole batch to libc3fs's asynchronous I/O
 *       (c3fs_aio_submit) with the iov ranges themselves as the iovecs: the storage
 *       replies are received straight into the application's buffers, writes are sent
 *       straight from them.  A worker never waits for I/O: every item of a batch is in
 *       flight at once, up to UB_MAX_INFLIGHT items of all rings (then the queues wait,
 *       and the next items taken are the high priority ones).
 *   UB_COMPLETERS completers: reap completions (c3fs_aio_reap) as they arrive, check the
 *       iov's mapping, post each one to its ring's CQ and the ring's semaphore.
 *   1 reaper: drops entries whose owner process is gone.
 *
 * Lifetime: entries are reference counted; the list holds one reference, each item in
 * flight one on its ring and one on its iov.  An entry that goes while I/O is in flight is
 * unmapped when the last item completes (into the daemon's still valid mapping).
 *
 * Locks: ub.lock guards the entry list and the registration fields; per ring, take_lock
 * (one taker at a time: sq side of the consumer), cq_lock (completion side), file_lock
 * (its open files), item_lock (its free items).  Order: ub.lock before any ring lock;
 * never two rings' locks at once.  ub_map_lock (slots of the SIGBUS guard) is a leaf.
 *
 * Shrunk shm objects (ftruncate by the application): see "shrunk mappings" below.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/check.h"
#include "common/clock.h"
#include "common/log.h"
#include "fuse/usrbio.h"
#include "usrbio/ring.h"
#include "c3fs/usrbio.h"

#define UB_WORKERS 2                  /* take, prepare and submit items (never wait for I/O) */
#define UB_COMPLETERS 2               /* post completions */
#define UB_BATCH 64                   /* items a worker submits at once */
#define UB_MAX_INFLIGHT 512           /* items in flight, all rings: beyond, taken entries
				       * wait (high priority first) instead of piling up on
				       * the storage service until its calls time out */
#define UB_MAX_ENTRIES 4096           /* registrations at once, all users */
#define UB_MAX_SHM_BYTES (1ull << 40)
#define UB_POLL_MS 50
#define UB_INO_SEM0 USRBIO_INO_MIN    /* submit-ios, .ph, .pl: +0 +1 +2 */
#define UB_INO_FIRST (USRBIO_INO_MIN + 0x100)

enum { UB_PRIO_HIGH, UB_PRIO_NORMAL, UB_PRIO_LOW, UB_NPRIO };
static const char *const ub_prio_suffix[UB_NPRIO] = { ".ph", "", ".pl" };

struct ub_entry;

struct ub_item {
	struct ub_entry *ring;         /* holds a reference */
	struct usrbio_io io;
	int err;                       /* decode error (then io.index may be -1) */
	struct ub_entry *iov;          /* while its I/O runs: the buffer's entry (a reference) */
	struct iovec v;                /* the range of it the I/O uses */
	struct ub_item *next;
};

struct ub_file {
	uint64_t ino;
	struct c3fs_file *f;
};

struct ub_ring {
	struct usrbio_consumer c;      /* sq side under take_lock, cq side under cq_lock */
	pthread_mutex_t take_lock, cq_lock, file_lock, item_lock;
	bool for_read;
	int io_depth, timeout_ms, prio;
	uint64_t flags;
	struct c3fs_cred cred;
	atomic_bool broken;
	uint64_t fill_since_ns;        /* io_depth < 0: pending entries first seen (take_lock) */
	struct ub_file *files;         /* file_lock */
	size_t nfiles, capfiles;
	struct ub_item *items;         /* entries items */
	struct ub_item *free_items;    /* item_lock */
};

struct ub_entry {
	uint64_t ino;
	char name[C3FS_NAME_MAX + 1];
	char target[PATH_MAX];
	uint32_t uid;
	pid_t owner;                   /* process (tgid) that registered it */
	unsigned long long owner_start; /* its start time (pid reuse) */
	bool is_ring;
	bool listed;                   /* in ub.list (ub.lock) */
	dev_t shm_dev;                 /* the shm object mapped (to remove its name */
	ino_t shm_ino;                 /* when the owner died, if it is still that one) */
	atomic_int refs;
	void *base;
	size_t bytes;
	int map;                       /* slot in ub_maps (the SIGBUS guard), -1 if none */
	int shm_fd;                    /* iov: the object, to see it shrink (-1 if none) */
	uint8_t id[16];                /* iov id */
	size_t block_size;
	struct ub_ring *ring;
	struct ub_entry *next;         /* ub.list */
};

static struct {
	struct fusefs *fs;
	bool on;
	pthread_mutex_t lock;
	struct ub_entry *list;
	int nentries;
	uint64_t next_ino;
	int shm_dir;
	sem_t *sems[UB_NPRIO];
	char sem_names[UB_NPRIO][64];  /* "/c3fs-<pid>-submit-ios[.ph|.pl]" */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct ub_item *qhead[UB_NPRIO], *qtail[UB_NPRIO];
	atomic_bool stop;
	pthread_t dispatchers[UB_NPRIO], workers[UB_WORKERS], completers[UB_COMPLETERS], reaper;
	int ndispatchers, nworkers, ncompleters;
	struct c3fs_aio_ctx *aio;      /* every item's I/O */
	atomic_int inflight;           /* items taken by workers, not completed yet (changed
				        * upwards under qlock only) */
	atomic_bool workers_gone;      /* stopping: no more submissions */
	bool reaper_started;
} ub = { .lock = PTHREAD_MUTEX_INITIALIZER, .qlock = PTHREAD_MUTEX_INITIALIZER,
	 .qcond = PTHREAD_COND_INITIALIZER, .shm_dir = -1 };


/* ------------------------------------------------------------------ shrunk mappings
 *
 * The application owns the shm objects the daemon maps and may ftruncate them smaller at
 * any moment: the daemon's own accesses of the lost pages then fault with SIGBUS (the
 * ring accessors, checksums and copies in libc3fs), or fail with EFAULT when the kernel
 * copies (recv into an iov, send from it).  The daemon must survive both:
 *   - every mapping is in ub_maps (lock-free for the signal handler); the SIGBUS handler
 *     finds the mapping holding si_addr, replaces the pages from the faulting one to the
 *     end of the mapping with anonymous zero pages (mmap MAP_FIXED: those pages are all
 *     past the object's new end), marks the mapping broken and returns, so the faulting
 *     instruction runs again on the zero page.  A SIGBUS anywhere else goes to the
 *     previous handler (or the default action: the process dies as it would have);
 *   - ub_map_check() compares an iov's object size (fstat of the fd kept for it) with
 *     the mapping and does the same replacement: run before and after each I/O that
 *     failed, and by the reaper for every iov (so that an I/O whose receive keeps
 *     failing with EFAULT, and is retried inside libc3fs, succeeds on the zero pages
 *     within a reaper period instead of failing until the I/O deadline);
 *   - a broken mapping is never trusted again: an I/O using a broken iov completes with
 *     -EFAULT (whatever its transfer did), a broken ring is no longer served, a
 *     registration whose mapping broke during its checks is refused (EFAULT).
 */
#define UB_MAPS (2 * UB_MAX_ENTRIES) /* listed entries + unlisted ones with I/O in flight */

static struct ub_map {
	_Atomic uintptr_t lo, hi;      /* [lo, hi) page-rounded; hi 0 = free slot */
	atomic_bool broken;
} ub_maps[UB_MAPS];
static pthread_mutex_t ub_map_lock = PTHREAD_MUTEX_INITIALIZER; /* slot alloc/free */
static struct sigaction ub_old_sigbus;
static bool ub_sigbus_on;
static uintptr_t ub_page = 4096;

/* Replace [from, hi) of slot m with anonymous zero pages and mark it broken.  False if
 * the kernel refused (no memory).  Async-signal-safe (the raw system call, not an
 * interposed mmap). */
static bool ub_map_cut(struct ub_map *m, uintptr_t from)
{
	uintptr_t hi = atomic_load(&m->hi);

	from &= ~(ub_page - 1);
	atomic_store(&m->broken, true);
	return from >= hi ||
	       syscall(SYS_mmap, (void *)from, (size_t)(hi - from), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != -1;
}

static void ub_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	int i, saved = errno;

	if (si->si_code == BUS_ADRERR)
		for (i = 0; i < UB_MAPS; i++) {
			struct ub_map *m = &ub_maps[i];

			if (a >= atomic_load(&m->lo) && a < atomic_load(&m->hi)) {
				if (!ub_map_cut(m, a))
					break; /* the access would fault again, forever */
				errno = saved;
				return; /* the access runs again, on a zero page */
			}
		}
	/* not ours */
	if ((ub_old_sigbus.sa_flags & SA_SIGINFO) && ub_old_sigbus.sa_sigaction) {
		ub_old_sigbus.sa_sigaction(sig, si, uc);
	} else if (!(ub_old_sigbus.sa_flags & SA_SIGINFO) && ub_old_sigbus.sa_handler != SIG_DFL &&
		   ub_old_sigbus.sa_handler != SIG_IGN) {
		ub_old_sigbus.sa_handler(sig);
	} else {
		signal(SIGBUS, SIG_DFL); /* the access faults again and the process dies */
	}
	errno = saved;
}

/* Enter a new mapping into the guard: slot index, or -ENOSPC. */
static int ub_map_add(void *base, size_t bytes)
{
	int i;

	pthread_mutex_lock(&ub_map_lock);
	for (i = 0; i < UB_MAPS; i++)
		if (atomic_load(&ub_maps[i].hi) == 0) {
			atomic_store(&ub_maps[i].broken, false);
			atomic_store(&ub_maps[i].lo, (uintptr_t)base);
			atomic_store(&ub_maps[i].hi, ((uintptr_t)base + bytes + ub_page - 1) &
							     ~(ub_page - 1));
			break;
		}
	pthread_mutex_unlock(&ub_map_lock);
	return i < UB_MAPS ? i : -ENOSPC;
}

/* Unmap an entry's mapping and free its slot (the mapping goes first: while a slot is
 * free, nothing of it is mapped any more). */
static void ub_map_drop(struct ub_entry *e)
{
	if (e->base)
		munmap(e->base, e->bytes);
	if (e->map >= 0) {
		pthread_mutex_lock(&ub_map_lock);
		atomic_store(&ub_maps[e->map].hi, 0);
		atomic_store(&ub_maps[e->map].lo, 0);
		pthread_mutex_unlock(&ub_map_lock);
	}
	if (e->shm_fd >= 0)
		close(e->shm_fd);
	e->base = NULL;
	e->map = e->shm_fd = -1;
}

static bool ub_map_broken(const struct ub_entry *e)
{
	return e->map >= 0 && atomic_load(&ub_maps[e->map].broken);
}

/* An iov: if its object shrank below the mapping, cut the lost pages (see above).
 * True when the mapping is (now) broken. */
static bool ub_map_check(struct ub_entry *e)
{
	struct stat st;

	if (e->map < 0 || ub_map_broken(e))
		return e->map >= 0;
	if (e->shm_fd >= 0 && fstat(e->shm_fd, &st) == 0 && (uint64_t)st.st_size < e->bytes) {
		ub_map_cut(&ub_maps[e->map],
			   ((uintptr_t)e->base + (uintptr_t)st.st_size + ub_page - 1));
		LOG_WARN("usrbio: iov '%s' of uid %u: shm object shrunk to %lld of %zu bytes; "
			 "its I/O fails with EFAULT from now on", e->name, e->uid,
			 (long long)st.st_size, e->bytes);
	}
	return ub_map_broken(e);
}

/* Touch one byte of every page of [p, p + len): a lost page faults here, in the daemon
 * (the guard cuts it), before the kernel would fail a transfer with EFAULT. */
static void ub_touch(const uint8_t *p, uint64_t len)
{
	uintptr_t a = (uintptr_t)p & ~(ub_page - 1), end = (uintptr_t)p + len;

	for (; a < end; a += ub_page)
		(void)*(const volatile uint8_t *)(a < (uintptr_t)p ? (uintptr_t)p : a);
}

static int ub_sigbus_install(void)
{
	struct sigaction sa;
	long pg = sysconf(_SC_PAGESIZE);

	if (pg > 0)
		ub_page = (uintptr_t)pg;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = ub_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &ub_old_sigbus) != 0)
		return -errno;
	ub_sigbus_on = true;
	return 0;
}

/* ------------------------------------------------------------------ entries */

static void ub_ring_free(struct ub_ring *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nfiles; i++) {
		int rc = c3fs_close(r->files[i].f);

		if (rc)
			LOG_WARN("usrbio: close of inode %lu: %s", (unsigned long)r->files[i].ino,
				 c3fs_strerror(rc));
	}
	free(r->files);
	free(r->items);
	pthread_mutex_destroy(&r->take_lock);
	pthread_mutex_destroy(&r->cq_lock);
	pthread_mutex_destroy(&r->file_lock);
	pthread_mutex_destroy(&r->item_lock);
	free(r);
}

static void ub_entry_put(struct ub_entry *e)
{
	if (!e || atomic_fetch_sub(&e->refs, 1) != 1)
		return;
	ub_ring_free(e->ring);
	ub_map_drop(e);
	free(e);
}

static void ub_entry_get(struct ub_entry *e) { atomic_fetch_add(&e->refs, 1); }

/* Take e out of the list (ub.lock held); the caller puts the list's reference. */
static void ub_unlist_locked(struct ub_entry *e)
{
	struct ub_entry **pp;

	C3_ASSERT_LOCKED(&ub.lock);
	for (pp = &ub.list; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			C3_ASSERT(e->listed && ub.nentries > 0);
			*pp = e->next;
			e->listed = false;
			ub.nentries--;
			return;
		}
}

/* Find a listed entry by name (ub.lock held). */
static struct ub_entry *ub_find_name_locked(const char *name)
{
	struct ub_entry *e;

	C3_ASSERT_LOCKED(&ub.lock);
	for (e = ub.list; e; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* The registered iov with this id, with a reference; NULL if none. */
static struct ub_entry *ub_iov_get(const uint8_t id[16])
{
	struct ub_entry *e;

	pthread_mutex_lock(&ub.lock);
	for (e = ub.list; e; e = e->next)
		if (!e->is_ring && memcmp(e->id, id, 16) == 0) {
			ub_entry_get(e);
			break;
		}
	pthread_mutex_unlock(&ub.lock);
	return e;
}

/* ------------------------------------------------------------------ owner processes */

/* Start time (field 22 of /proc/<pid>/stat) and tgid of a task; 0 on success. */
static int ub_proc_info(pid_t tid, pid_t *tgid, unsigned long long *start)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	*tgid = 0;
	while (fgets(buf, sizeof(buf), f))
		if (strncmp(buf, "Tgid:", 5) == 0) {
			*tgid = (pid_t)atoi(buf + 5);
			break;
		}
	fclose(f);
	if (*tgid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)*tgid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	/* the command name may hold spaces and ')': fields restart after the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p++;
	for (i = 3; i <= 22 && p; i++) {
		while (*p == ' ')
			p++;
		if (i == 22)
			v = strtoull(p, NULL, 10);
		p = strchr(p, ' ');
	}
	*start = v;
	return 0;
}

static bool ub_owner_alive(const struct ub_entry *e)
{
	unsigned long long start;
	pid_t tgid;

	return ub_proc_info(e->owner, &tgid, &start) == 0 && tgid == e->owner &&
	       start == e->owner_start;
}

/* ------------------------------------------------------------------ registration */

/* Parse a registration name into the kind and its parameters.  0 or -EINVAL. */
struct ub_spec {
	uint8_t id[16];
	bool is_ring, for_read;
	size_t block_size;
	long io_depth, timeout_ms, prio;
	unsigned long long flags;
};

static int ub_hexval(int c)
{
	return isdigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static int ub_parse_name(const char *name, struct ub_spec *s)
{
	const char *p = name;
	char *end;
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < 16; i++) {
		int hi = ub_hexval((unsigned char)p[2 * i]), lo;

		if (hi < 0 || (lo = ub_hexval((unsigned char)p[2 * i + 1])) < 0)
			return -EINVAL;
		s->id[i] = (uint8_t)(hi << 4 | lo);
	}
	p += 32;
	while (*p == '.') {
		char k = p[1];

		if (k == 'p' && (p[2] == 'h' || p[2] == 'l') && (p[3] == '.' || !p[3])) {
			s->prio = p[2] == 'h' ? -1 : 1;
			p += 3;
			continue;
		}
		if (!k || !(isdigit((unsigned char)p[2]) || p[2] == '-'))
			return -EINVAL;
		errno = 0;
		if (k == 'b' || k == 'f') {
			unsigned long long v;

			if (p[2] == '-')
				return -EINVAL;
			v = strtoull(p + 2, &end, 10);
			if (k == 'b')
				s->block_size = (size_t)v;
			else
				s->flags = v;
		} else {
			long v = strtol(p + 2, &end, 10);

			if (k == 'r' || k == 'w') {
				if (s->is_ring)
					return -EINVAL;
				s->is_ring = true;
				s->for_read = k == 'r';
				s->io_depth = v;
			} else if (k == 't') {
				s->timeout_ms = v;
			} else {
				return -EINVAL;
			}
		}
		if (errno || (*end && *end != '.'))
			return -EINVAL;
		p = end;
	}
	if (*p)
		return -EINVAL;
	if (s->is_ring && s->block_size)
		return -EINVAL;
	if (!s->is_ring && (s->timeout_ms || s->flags || s->prio))
		return -EINVAL;
	if (s->timeout_ms < 0 || s->timeout_ms > 3600000)
		return -EINVAL;
	return 0;
}

/* Open and map /dev/shm/<x> for a caller into e (base, bytes, map, shm_fd, shm_dev,
 * shm_ino; an iov keeps its fd, see ub_map_check); 0 or -errno. */
static int ub_map_shm(struct ub_entry *e, const char *target, uint32_t uid)
{
	const char *n = target + strlen(USRBIO_SHM_DIR "/");
	struct stat st;
	void *p;
	int fd, rc = 0;

	if (strncmp(target, USRBIO_SHM_DIR "/", strlen(USRBIO_SHM_DIR "/")) != 0 || !*n ||
	    strchr(n, '/') || strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
		return -EINVAL; /* only a plain name inside /dev/shm */
	fd = openat(ub.shm_dir, n, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (unsigned long long)st.st_size > UB_MAX_SHM_BYTES) {
		rc = -EINVAL;
		goto out;
	}
	if (st.st_uid != uid) {
		rc = -EACCES;
		goto out;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		rc = -errno;
		goto out;
	}
	e->base = p;
	e->bytes = (size_t)st.st_size;
	e->map = ub_map_add(p, e->bytes); /* before any access of it */
	if (e->map < 0) {
		rc = e->map;
		goto out; /* unmapped with the entry */
	}
	e->shm_dev = st.st_dev;
	e->shm_ino = st.st_ino;
	if (!e->is_ring) {
		e->shm_fd = fd;
		return 0;
	}
out:
	close(fd);
	return rc;
}

static int ub_ring_init(struct ub_entry *e, const struct ub_spec *s, const struct c3fs_cred *cr)
{
	struct ub_ring *r;
	int rc, i;

	if (s->flags & ~(unsigned long long)(C3FS_IOR_ALLOW_READ_UNCOMMITTED |
					    C3FS_IOR_FORBID_READ_HOLES))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->take_lock, NULL);
	pthread_mutex_init(&r->cq_lock, NULL);
	pthread_mutex_init(&r->file_lock, NULL);
	pthread_mutex_init(&r->item_lock, NULL);
	e->ring = r; /* freed with e from here on */
	rc = usrbio_consumer_init(&r->c, e->base, e->bytes);
	if (rc)
		return rc;
	if (s->io_depth > r->c.entries || s->io_depth < -(long)r->c.entries)
		return -EINVAL;
	r->for_read = s->for_read;
	r->io_depth = (int)s->io_depth;
	r->timeout_ms = (int)s->timeout_ms;
	r->prio = s->prio < 0 ? UB_PRIO_HIGH : s->prio > 0 ? UB_PRIO_LOW : UB_PRIO_NORMAL;
	r->flags = s->flags;
	r->cred = *cr;
	r->items = calloc((size_t)r->c.entries, sizeof(*r->items));
	if (!r->items)
		return -ENOMEM;
	for (i = 0; i < r->c.entries; i++) {
		r->items[i].next = r->free_items;
		r->free_items = &r->items[i];
	}
	return 0;
}

static void ub_reply_entry(fuse_req_t req, uint64_t ino)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	if (!usrbio_stat(ino, &e.attr)) {
		fusefs_reply_errno(req, ENOENT);
		return;
	}
	e.ino = ino;
	fuse_reply_entry(req, &e); /* timeouts 0: every use of the name asks us again */
}

void usrbio_symlink(fuse_req_t req, const char *target, const char *name)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct c3fs_cred cr;
	struct ub_entry *e;
	struct ub_spec s;
	uint64_t ino = 0;
	int rc;

	if (!ub.on) {
		fusefs_reply_errno(req, EOPNOTSUPP);
		return;
	}
	fusefs_cred(req, &cr);
	rc = ub_parse_name(name, &s);
	if (rc == 0 && strlen(target) >= sizeof(e->target))
		rc = -ENAMETOOLONG;
	if (rc) {
		LOG_INFO("usrbio: bad registration name '%s' by uid %u", name, cr.uid);
		fusefs_reply_err(req, rc);
		return;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		fusefs_reply_errno(req, ENOMEM);
		return;
	}
	atomic_init(&e->refs, 1);
	e->map = e->shm_fd = -1;
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->target, sizeof(e->target), "%s", target);
	e->uid = ctx->uid;
	e->is_ring = s.is_ring;
	memcpy(e->id, s.id, 16);
	e->block_size = s.block_size;
	rc = ub_proc_info(ctx->pid, &e->owner, &e->owner_start);
	if (rc == 0)
		rc = ub_map_shm(e, target, ctx->uid);
	if (rc == 0 && !s.is_ring && s.block_size && e->bytes % s.block_size)
		rc = -EINVAL;
	if (rc == 0 && s.is_ring)
		rc = ub_ring_init(e, &s, &cr);
	if (rc == 0 && ub_map_broken(e))
		rc = -EFAULT; /* shrunk while we looked at it */
	if (rc == 0) {
		pthread_mutex_lock(&ub.lock);
		if (ub_find_name_locked(name))
			rc = -EEXIST;
		else if (ub.nentries >= UB_MAX_ENTRIES)
			rc = -ENOSPC;
		else if (!s.is_ring) {
			struct ub_entry *o;

			for (o = ub.list; o; o = o->next)
				if (!o->is_ring && memcmp(o->id, s.id, 16) == 0)
					rc = -EEXIST;
		}
		if (rc == 0) {
			e->ino = ino = ub.next_ino++;
			e->listed = true;
			e->next = ub.list;
			ub.list = e;
			ub.nentries++;
		}
		pthread_mutex_unlock(&ub.lock);
	}
	LOG_INFO("usrbio: register %s '%s' -> '%s' (%zu bytes) by uid %u pid %d: %s",
		 s.is_ring ? "ring" : "iov", name, target, e->bytes, (unsigned)ctx->uid,
		 (int)e->owner, rc ? strerror(-rc) : "ok");
	if (rc) {
		ub_entry_put(e);
		fusefs_reply_err(req, rc);
		return;
	}
	if (s.is_ring)
		sem_post(ub.sems[e->ring->prio]); /* entries queued before registration */
	ub_reply_entry(req, ino);
}

static void ub_unregister(struct ub_entry *e, const char *why)
{
	LOG_INFO("usrbio: unregister %s '%s' (%s)", e->is_ring ? "ring" : "iov", e->name, why);
	ub_entry_put(e);
}

void usrbio_unlink(fuse_req_t req, const char *name)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct ub_entry *e;
	int err = 0;

	pthread_mutex_lock(&ub.lock);
	e = ub_find_name_locked(name);
	if (!e)
		err = strncmp(name, USRBIO_SUBMIT_NAME, strlen(USRBIO_SUBMIT_NAME)) == 0 ? EPERM
											  : ENOENT;
	else if (ctx->uid != 0 && ctx->uid != e->uid)
		err = EPERM;
	else
		ub_unlist_locked(e);
	pthread_mutex_unlock(&ub.lock);
	if (!err)
		ub_unregister(e, "unlinked");
	fusefs_reply_rc(req, -err);
}

/* ------------------------------------------------------------------ the directory */

bool usrbio_stat(uint64_t ino, struct stat *st)
{
	struct ub_entry *e;
	bool found = false;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFLNK | 0777;
	st->st_nlink = 1;
	st->st_blksize = 4096;
	if (ino >= UB_INO_SEM0 && ino < UB_INO_SEM0 + UB_NPRIO) {
		st->st_size = (off_t)strlen(ub.sem_names[ino - UB_INO_SEM0]) + 12;
		return ub.on;
	}
	pthread_mutex_lock(&ub.lock);
	for (e = ub.list; e; e = e->next)
		if (e->ino == ino) {
			st->st_uid = e->uid;
			st->st_size = (off_t)strlen(e->target);
			found = true;
			break;
		}
	pthread_mutex_unlock(&ub.lock);
	return found;
}

static uint64_t ub_sem_ino(const char *name)
{
	int p;

	for (p = 0; p < UB_NPRIO; p++) {
		char n[32];

		snprintf(n, sizeof(n), USRBIO_SUBMIT_NAME "%s", ub_prio_suffix[p]);
		if (strcmp(n, name) == 0)
			return UB_INO_SEM0 + (uint64_t)p;
	}
	return 0;
}

void usrbio_lookup(fuse_req_t req, const char *name)
{
	struct ub_entry *e;
	uint64_t ino = ub.on ? ub_sem_ino(name) : 0;

	if (!ino) {
		pthread_mutex_lock(&ub.lock);
		e = ub_find_name_locked(name);
		ino = e ? e->ino : 0;
		pthread_mutex_unlock(&ub.lock);
	}
	if (!ino)
		fusefs_reply_errno(req, ENOENT);
	else
		ub_reply_entry(req, ino);
}

void usrbio_readlink(fuse_req_t req, uint64_t ino)
{
	char buf[PATH_MAX];
	struct ub_entry *e;
	bool found = false;

	if (ino >= UB_INO_SEM0 && ino < UB_INO_SEM0 + UB_NPRIO && ub.on) {
		snprintf(buf, sizeof(buf), USRBIO_SHM_DIR "/sem.%s",
			 ub.sem_names[ino - UB_INO_SEM0] + 1);
		fuse_reply_readlink(req, buf);
		return;
	}
	pthread_mutex_lock(&ub.lock);
	for (e = ub.list; e; e = e->next)
		if (e->ino == ino) {
			snprintf(buf, sizeof(buf), "%s", e->target);
			found = true;
			break;
		}
	pthread_mutex_unlock(&ub.lock);
	if (found)
		fuse_reply_readlink(req, buf);
	else
		fusefs_reply_errno(req, ENOENT);
}

/* readdir: ".", "..", the three semaphores, then the entries by inode number (offsets
 * are positions in that order; an entry removed between two calls may shift one). */
void usrbio_readdir(fuse_req_t req, size_t size, off_t off, bool plus)
{
	struct { uint64_t ino; char name[C3FS_NAME_MAX + 1]; } *ents = NULL;
	size_t n = 0, cap = 0, i, pos = 0;
	struct ub_entry *e;
	char *buf;

	cap = 5 + (size_t)UB_MAX_ENTRIES;
	ents = malloc(cap * sizeof(*ents));
	buf = malloc(size ? size : 1);
	if (!ents || !buf) {
		free(ents);
		free(buf);
		fusefs_reply_errno(req, ENOMEM);
		return;
	}
	ents[n].ino = VIRT_INO_IOVS;
	snprintf(ents[n++].name, sizeof(ents[0].name), ".");
	ents[n].ino = VIRT_INO_DIR;
	snprintf(ents[n++].name, sizeof(ents[0].name), "..");
	if (ub.on)
		for (i = 0; i < UB_NPRIO; i++) {
			ents[n].ino = UB_INO_SEM0 + i;
			snprintf(ents[n++].name, sizeof(ents[0].name), USRBIO_SUBMIT_NAME "%s",
				 ub_prio_suffix[i]);
		}
	pthread_mutex_lock(&ub.lock);
	for (e = ub.list; e && n < cap; e = e->next) {
		ents[n].ino = e->ino;
		snprintf(ents[n++].name, sizeof(ents[0].name), "%s", e->name);
	}
	pthread_mutex_unlock(&ub.lock);
	for (i = off > 0 ? (size_t)off : 0; i < n; i++) {
		struct fuse_entry_param fe;

		memset(&fe, 0, sizeof(fe));
		fe.attr.st_ino = ents[i].ino;
		fe.attr.st_mode = i < 2 ? S_IFDIR | 0777 : S_IFLNK | 0777;
		if (plus) {
			if (i >= 2 && !usrbio_stat(ents[i].ino, &fe.attr))
				continue;
			fe.ino = i >= 2 ? ents[i].ino : 0;
		}
		if (!fusefs_add_dirent(req, buf, size, &pos, ents[i].name, &fe.attr,
				       plus ? &fe : NULL, (off_t)(i + 1)))
			break;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
	free(ents);
}

/* ------------------------------------------------------------------ serving */

static void ub_queue_push(int prio, struct ub_item *it)
{
	it->next = NULL;
	if (ub.qtail[prio])
		ub.qtail[prio]->next = it;
	else
		ub.qhead[prio] = it;
	ub.qtail[prio] = it;
}

static void ub_ring_broken(struct ub_entry *e, const char *why)
{
	if (!atomic_exchange(&e->ring->broken, true))
		LOG_WARN("usrbio: ring '%s' of uid %u: %s; no longer served", e->name, e->uid, why);
}

/* Take what the ring's io_depth rule allows now.  Returns ms until the ring's batch
 * timeout is due (io_depth < 0 with a partial batch), else -1.
 *
 * Never a partial batch: the entries taken are bounded by the free items first, then
 * rounded down to whole batches (io_depth != 0).  An honest application never has more
 * entries published than free items (a worker frees its item before it posts the
 * completion, and the application has at most `entries` I/Os prepared-and-not-reaped),
 * so nothing is left behind; a dishonest one only stalls its own ring. */
static long ub_ring_take(struct ub_entry *e)
{
	struct ub_ring *r = e->ring;
	struct ub_item *batch = NULL, **tailp = &batch, *it;
	long due = -1;
	int avail, take = 0, n = 0, nfree = 0;

	if (atomic_load(&r->broken))
		return -1;
	if (ub_map_broken(e)) {
		ub_ring_broken(e, "shm object shrunk under the daemon (SIGBUS caught)");
		return -1;
	}
	pthread_mutex_lock(&r->take_lock); /* only this priority's dispatcher takes */
	avail = usrbio_sq_avail(&r->c);
	if (avail < 0) {
		ub_ring_broken(e, "submission tail out of range");
		goto out;
	}
	pthread_mutex_lock(&r->item_lock);
	for (it = r->free_items; it && nfree < avail; it = it->next)
		nfree++;
	pthread_mutex_unlock(&r->item_lock);
	if (r->io_depth == 0) {
		take = nfree;
	} else if (r->io_depth > 0) {
		take = nfree - nfree % r->io_depth; /* whole batches only */
	} else if (avail > 0) {
		uint64_t now = c3_now_ns();

		if (nfree >= -r->io_depth) {
			take = nfree - nfree % -r->io_depth;
		} else {
			if (!r->fill_since_ns)
				r->fill_since_ns = now;
			if (now - r->fill_since_ns >= (uint64_t)r->timeout_ms * 1000000ull)
				take = nfree;
			else
				due = (long)(((uint64_t)r->timeout_ms * 1000000ull -
					      (now - r->fill_since_ns)) / 1000000ull) + 1;
		}
	}
	pthread_mutex_lock(&r->item_lock);
	while (n < take && r->free_items) {
		it = r->free_items;
		r->free_items = it->next;
		*tailp = it;
		tailp = &it->next;
		n++;
	}
	*tailp = NULL;
	pthread_mutex_unlock(&r->item_lock);
	for (it = batch; it; it = it->next) {
		it->err = usrbio_sq_take(&r->c, &it->io);
		it->ring = e;
		ub_entry_get(e);
	}
	if (n) {
		usrbio_sq_publish(&r->c);
		r->fill_since_ns = avail > n ? c3_now_ns() : 0;
		pthread_mutex_lock(&ub.qlock);
		while (batch) {
			it = batch;
			batch = it->next;
			ub_queue_push(r->prio, it);
		}
		pthread_cond_broadcast(&ub.qcond);
		pthread_mutex_unlock(&ub.qlock);
	} else if (avail == 0) {
		r->fill_since_ns = 0;
	}
out:
	pthread_mutex_unlock(&r->take_lock);
	return due;
}

static void *ub_dispatch_main(void *arg)
{
	int prio = (int)(intptr_t)arg;
	long wait_ms = UB_POLL_MS;

	while (!atomic_load(&ub.stop)) {
		struct ub_entry **snap = NULL, *e;
		struct timespec ts;
		size_t n = 0, i;
		long next = UB_POLL_MS;

		ts = c3_deadline_after_ms((uint64_t)wait_ms);
		while (sem_timedwait(ub.sems[prio], &ts) != 0 && errno == EINTR)
			;
		while (sem_trywait(ub.sems[prio]) == 0)
			; /* one scan answers every post so far */
		pthread_mutex_lock(&ub.lock);
		snap = malloc(sizeof(*snap) * (size_t)(ub.nentries ? ub.nentries : 1));
		for (e = ub.list; e && snap; e = e->next)
			if (e->is_ring && e->ring->prio == prio) {
				ub_entry_get(e);
				snap[n++] = e;
			}
		pthread_mutex_unlock(&ub.lock);
		for (i = 0; i < n; i++) {
			long due = ub_ring_take(snap[i]);

			if (due >= 0 && due < next)
				next = due;
			ub_entry_put(snap[i]);
		}
		free(snap);
		wait_ms = next > 0 ? next : 1;
	}
	return NULL;
}

/* The ring's file for inode ino, opened on first use with the ring owner's credentials.
 * The inode must be open through this mount (the application's registered fd). */
static int ub_ring_file(struct ub_ring *r, uint64_t ino, struct c3fs_file **out)
{
	struct c3fs_file *f = NULL;
	struct fusefs_fh *fh;
	bool open_here = false;
	size_t i;
	int rc;

	pthread_mutex_lock(&r->file_lock);
	for (i = 0; i < r->nfiles; i++)
		if (r->files[i].ino == ino) {
			*out = r->files[i].f;
			pthread_mutex_unlock(&r->file_lock);
			return 0;
		}
	pthread_mutex_unlock(&r->file_lock);
	pthread_mutex_lock(&ub.fs->ino_lock);
	for (fh = ub.fs->fhs; fh; fh = fh->next)
		if (fh->ino == ino) {
			open_here = true;
			break;
		}
	pthread_mutex_unlock(&ub.fs->ino_lock);
	if (!open_here)
		return -EBADF;
	rc = c3fs_open(ub.fs->cl, &r->cred, ino, r->for_read ? O_RDONLY : O_WRONLY, &f);
	if (rc)
		return rc;
	pthread_mutex_lock(&r->file_lock);
	for (i = 0; i < r->nfiles; i++)
		if (r->files[i].ino == ino)
			break;
	if (i < r->nfiles) { /* another worker was first */
		*out = r->files[i].f;
		pthread_mutex_unlock(&r->file_lock);
		c3fs_close(f);
		return 0;
	}
	if (r->nfiles == r->capfiles) {
		size_t cap = r->capfiles ? 2 * r->capfiles : 8;
		struct ub_file *nf = realloc(r->files, cap * sizeof(*nf));

		if (!nf) {
			pthread_mutex_unlock(&r->file_lock);
			c3fs_close(f);
			return -ENOMEM;
		}
		r->files = nf;
		r->capfiles = cap;
	}
	r->files[r->nfiles].ino = ino;
	r->files[r->nfiles++].f = f;
	pthread_mutex_unlock(&r->file_lock);
	*out = f;
	return 0;
}

/* Everything an item needs before its I/O: the iov (same uid as the ring, range inside
 * it, mapping whole), the ring's file.  0 with *op filled and it->iov referenced, or the
 * negative code the item completes with. */
static int ub_item_prepare(struct ub_item *it, struct c3fs_aio_op *op)
{
	struct ub_entry *e = it->ring, *iov;
	struct ub_ring *r = e->ring;
	struct c3fs_file *f;
	int rc;

	if (it->err)
		return it->err;
	if (ub_map_broken(e))
		return -EFAULT; /* the ring's object shrank */
	iov = ub_iov_get(it->io.iov_id);
	if (!iov)
		return -EINVAL; /* no such iov registered (any more) */
	if (iov->uid != e->uid) {
		rc = -EACCES;
		goto fail;
	}
	if (!usrbio_range_ok(it->io.iov_off, it->io.len, iov->bytes)) {
		rc = -EINVAL;
		goto fail;
	}
	rc = ub_ring_file(r, it->io.ino, &f);
	if (rc)
		goto fail;
	it->v.iov_base = (uint8_t *)iov->base + it->io.iov_off;
	it->v.iov_len = it->io.len;
	if (!ub_map_check(iov))
		ub_touch(it->v.iov_base, it->v.iov_len);
	if (ub_map_broken(iov)) {
		rc = -EFAULT;
		goto fail;
	}
	it->iov = iov;
	op->f = f;
	op->op = r->for_read ? C3FS_AIO_READ : C3FS_AIO_WRITE;
	op->off = it->io.file_off;
	op->iov = &it->v;
	op->iovcnt = 1;
	op->userdata = it;
	op->flags = r->for_read && (r->flags & C3FS_IOR_FORBID_READ_HOLES)
			    ? C3FS_AIO_F_FORBID_HOLES : 0;
	return 0;
fail:
	ub_entry_put(iov);
	return rc;
}

/* The I/O of a prepared item is over with n (bytes or a negative code): judge the iov's
 * mapping, drop it. */
static int64_t ub_item_io_done(struct ub_item *it, int64_t n)
{
	struct ub_entry *iov = it->iov;

	if (n < 0)
		ub_map_check(iov); /* a transfer that failed with EFAULT: shrunk meanwhile? */
	if (ub_map_broken(iov))
		n = -EFAULT; /* whatever was transferred, part of it was not the buffer */
	it->iov = NULL;
	ub_entry_put(iov);
	return n;
}

/* Post the completion of item it with res (bytes, or a negative code mapped to -errno
 * here) and free the item. */
static void ub_item_complete(struct ub_item *it, int64_t res)
{
	struct ub_entry *e = it->ring;
	struct ub_ring *r = e->ring;
	uint64_t userdata;
	int32_t index;

	if (res < 0)
		res = -(int64_t)c3fs_errno((int)res);
	else if (!r->for_read && ub.fs->se)
		/* the kernel's cached pages and size of the file are stale now (the data
		 * did not go through it): drop them, so reads through the mount see it */
		fuse_lowlevel_notify_inval_inode(ub.fs->se, it->io.ino, (off_t)it->io.file_off,
						 (off_t)it->io.len);
	index = it->io.index;
	userdata = it->io.userdata;
	/* free the item before the application can see the completion: once it reaps,
	 * it may publish a new entry at once, and the dispatcher must find an item for
	 * it (else an io_depth > 0 batch would stay short forever) */
	it->ring = NULL;
	pthread_mutex_lock(&r->item_lock);
	it->next = r->free_items;
	r->free_items = it;
	pthread_mutex_unlock(&r->item_lock);
	pthread_mutex_lock(&r->cq_lock);
	if (usrbio_cq_push(&r->c, index, res, userdata) != 0)
		ub_ring_broken(e, "completion ring full (completions not reaped)");
	pthread_mutex_unlock(&r->cq_lock);
	ub_entry_put(e);
}

/* An item taken by a worker completed (whether its I/O ran or not): one less in flight;
 * wake the workers when that makes room under UB_MAX_INFLIGHT (under qlock: a worker
 * checks the room and waits under it, so the wake-up is not lost). */
static void ub_inflight_done(void)
{
	int was = atomic_fetch_sub(&ub.inflight, 1);

	C3_ASSERT(was > 0);
	if (was >= UB_MAX_INFLIGHT) {
		pthread_mutex_lock(&ub.qlock);
		pthread_cond_broadcast(&ub.qcond);
		pthread_mutex_unlock(&ub.qlock);
	}
}

/* Submit the prepared items' operations at once; an operation libc3fs refuses completes
 * its item with the refusal. */
static void ub_submit(struct c3fs_aio_op *ops, int n)
{
	int k = 0;

	while (k < n) {
		int rc = c3fs_aio_submit(ub.aio, ops + k, n - k);

		if (rc > 0) {
			k += rc;
			continue;
		}
		ub_item_complete(ops[k].userdata, ub_item_io_done(ops[k].userdata, rc));
		ub_inflight_done();
		k++;
	}
}

/* Workers: take up to UB_BATCH items (high, then normal, then low priority), prepare
 * them, submit their I/O in one call and go on; completions come to ub_completer_main. */
static void *ub_worker_main(void *arg)
{
	struct ub_item *batch[UB_BATCH];
	struct c3fs_aio_op ops[UB_BATCH];

	(void)arg;
	for (;;) {
		int n = 0, m = 0, i, p;

		pthread_mutex_lock(&ub.qlock);
		for (;;) {
			int room = UB_MAX_INFLIGHT - atomic_load(&ub.inflight);

			if (room > UB_BATCH)
				room = UB_BATCH;
			for (p = 0; p < UB_NPRIO && n < room; p++)
				while (ub.qhead[p] && n < room) {
					struct ub_item *it = ub.qhead[p];

					ub.qhead[p] = it->next;
					if (!ub.qhead[p])
						ub.qtail[p] = NULL;
					batch[n++] = it;
				}
			if (n)
				break;
			if (atomic_load(&ub.stop) && !ub.qhead[0] && !ub.qhead[1] && !ub.qhead[2])
				break; /* drained */
			pthread_cond_wait(&ub.qcond, &ub.qlock);
		}
		atomic_fetch_add(&ub.inflight, n); /* under qlock: the room check above */
		pthread_mutex_unlock(&ub.qlock);
		if (!n)
			return NULL;
		for (i = 0; i < n; i++) {
			int rc = ub_item_prepare(batch[i], &ops[m]);

			if (rc) {
				ub_item_complete(batch[i], rc);
				ub_inflight_done();
			} else {
				m++;
			}
		}
		if (m)
			ub_submit(ops, m);
	}
}

/* Completions of submitted items, as libc3fs reports them. */
static void *ub_completer_main(void *arg)
{
	struct c3fs_aio_event ev[UB_BATCH];

	(void)arg;
	for (;;) {
		int n = c3fs_aio_reap(ub.aio, ev, 1, UB_BATCH, UB_POLL_MS), i;

		for (i = 0; i < n; i++) {
			struct ub_item *it = ev[i].userdata;

			ub_item_complete(it, ub_item_io_done(it, ev[i].result));
			ub_inflight_done();
		}
		/* stopping: the workers are gone, so nothing more is submitted */
		if (n <= 0 && atomic_load(&ub.workers_gone) && atomic_load(&ub.inflight) == 0)
			return NULL;
	}
}

static void *ub_reaper_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&ub.stop)) {
		struct ub_entry *gone = NULL, *e, **pp;

		usleep(200 * 1000);
		pthread_mutex_lock(&ub.lock);
		for (e = ub.list; e; e = e->next)
			if (!e->is_ring)
				ub_map_check(e); /* ends receives failing with EFAULT (see above) */
		for (pp = &ub.list; *pp;) {
			e = *pp;
			if (!ub_owner_alive(e)) {
				*pp = e->next;
				e->listed = false;
				ub.nentries--;
				e->next = gone;
				gone = e;
			} else {
				pp = &e->next;
			}
		}
		pthread_mutex_unlock(&ub.lock);
		while (gone) {
			const char *n;
			struct stat st;

			e = gone;
			gone = e->next;
			/* nobody can attach to it any more (no registration): drop the name too,
			 * if it still is the object we mapped */
			n = e->target + strlen(USRBIO_SHM_DIR "/");
			if (fstatat(ub.shm_dir, n, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    st.st_dev == e->shm_dev && st.st_ino == e->shm_ino)
				unlinkat(ub.shm_dir, n, 0);
			ub_unregister(e, "owner process gone");
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ start / stop */

/* Remove the submit semaphores of daemons that died without unmounting (SIGKILL). */
static void ub_sweep_stale_sems(void)
{
	struct dirent *d;
	DIR *dir = fdopendir(dup(ub.shm_dir));

	if (!dir)
		return;
	while ((d = readdir(dir))) {
		int pid = 0, n = 0;

		if (sscanf(d->d_name, "sem.c3fs-%d-" USRBIO_SUBMIT_NAME "%n", &pid, &n) == 1 &&
		    n > 0 && pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) {
			unlinkat(ub.shm_dir, d->d_name, 0);
			LOG_INFO("usrbio: removed %s (its daemon is gone)", d->d_name);
		}
	}
	closedir(dir);
}

int usrbio_start(struct fusefs *fs)
{
	struct rlimit rl;
	int p, rc = 0;

	ub.fs = fs;
	ub.next_ino = UB_INO_FIRST;
	atomic_store(&ub.stop, false);
	ub.shm_dir = open(USRBIO_SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ub.shm_dir < 0) {
		rc = -errno;
		LOG_ERROR("usrbio: %s: %s; USRBIO off", USRBIO_SHM_DIR, strerror(errno));
		return rc;
	}
	ub_sweep_stale_sems();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max; /* each registered iov keeps its shm fd */
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	rc = ub_sigbus_install();
	if (rc) {
		LOG_ERROR("usrbio: SIGBUS handler: %s; USRBIO off", strerror(-rc));
		goto fail;
	}
	for (p = 0; p < UB_NPRIO; p++) {
		char path[128];

		snprintf(ub.sem_names[p], sizeof(ub.sem_names[p]), "/c3fs-%d-" USRBIO_SUBMIT_NAME "%s",
			 (int)getpid(), ub_prio_suffix[p]);
		sem_unlink(ub.sem_names[p]);
		ub.sems[p] = sem_open(ub.sem_names[p], O_CREAT | O_EXCL, 0666, 0);
		if (ub.sems[p] == SEM_FAILED) {
			ub.sems[p] = NULL;
			rc = -errno;
			LOG_ERROR("usrbio: semaphore %s: %s; USRBIO off", ub.sem_names[p],
				  strerror(errno));
			goto fail;
		}
		/* any user may post it (a wake-up hint, nothing more) */
		snprintf(path, sizeof(path), USRBIO_SHM_DIR "/sem.%s", ub.sem_names[p] + 1);
		chmod(path, 0666);
	}
	for (p = 0; p < UB_NPRIO; p++) {
		if (pthread_create(&ub.dispatchers[p], NULL, ub_dispatch_main, (void *)(intptr_t)p))
			goto fail_threads;
		ub.ndispatchers++;
	}
	rc = c3fs_aio_ctx_new(fs->cl, &ub.aio);
	if (rc) {
		LOG_ERROR("usrbio: asynchronous I/O context: %s; USRBIO off", c3fs_strerror(rc));
		goto fail;
	}
	atomic_store(&ub.workers_gone, false);
	for (p = 0; p < UB_COMPLETERS; p++) {
		if (pthread_create(&ub.completers[p], NULL, ub_completer_main, NULL))
			goto fail_threads;
		ub.ncompleters++;
	}
	for (p = 0; p < UB_WORKERS; p++) {
		if (pthread_create(&ub.workers[p], NULL, ub_worker_main, NULL))
			goto fail_threads;
		ub.nworkers++;
	}
	if (pthread_create(&ub.reaper, NULL, ub_reaper_main, NULL))
		goto fail_threads;
	ub.reaper_started = true;
	ub.on = true;
	LOG_INFO("usrbio: serving rings (asynchronous I/O, %d submitters), submit semaphores "
		 "%s[.ph|.pl]", UB_WORKERS, ub.sem_names[UB_PRIO_NORMAL]);
	return 0;
fail_threads:
	rc = -EAGAIN;
	LOG_ERROR("usrbio: cannot start threads; USRBIO off");
fail:
	usrbio_stop();
	return rc;
}

void usrbio_stop(void)
{
	struct ub_entry *e;
	int p;

	ub.on = false;
	atomic_store(&ub.stop, true);
	pthread_mutex_lock(&ub.qlock);
	pthread_cond_broadcast(&ub.qcond);
	pthread_mutex_unlock(&ub.qlock);
	for (p = 0; p < ub.ndispatchers; p++) {
		sem_post(ub.sems[p]);
		pthread_join(ub.dispatchers[p], NULL);
	}
	ub.ndispatchers = 0;
	/* workers drain the queues before they stop: every taken entry completes */
	for (p = 0; p < ub.nworkers; p++)
		pthread_join(ub.workers[p], NULL);
	ub.nworkers = 0;
	/* then their I/O: the completers stop once nothing is in flight */
	atomic_store(&ub.workers_gone, true);
	for (p = 0; p < ub.ncompleters; p++)
		pthread_join(ub.completers[p], NULL);
	ub.ncompleters = 0;
	c3fs_aio_ctx_free(ub.aio);
	ub.aio = NULL;
	if (ub.reaper_started)
		pthread_join(ub.reaper, NULL);
	ub.reaper_started = false;
	pthread_mutex_lock(&ub.lock);
	while ((e = ub.list)) {
		ub.list = e->next;
		e->listed = false;
		ub.nentries--;
		pthread_mutex_unlock(&ub.lock);
		ub_entry_put(e);
		pthread_mutex_lock(&ub.lock);
	}
	pthread_mutex_unlock(&ub.lock);
	for (p = 0; p < UB_NPRIO; p++)
		if (ub.sems[p]) {
			sem_close(ub.sems[p]);
			sem_unlink(ub.sem_names[p]);
			ub.sems[p] = NULL;
		}
	if (ub.shm_dir >= 0)
		close(ub.shm_dir);
	ub.shm_dir = -1;
	if (ub_sigbus_on) /* every mapping is gone */
		sigaction(SIGBUS, &ub_old_sigbus, NULL);
	ub_sigbus_on = false;
}
