/* usrbio.c — libc3fs-usrbio, the application side of USRBIO (include/c3fs/usrbio.h).
 *
 * Self-contained (libc + pthread only) so that it builds as a small shared library.
 * The ring layout and the daemon's side are in ring.h / ring.c; the registration
 * protocol (symlinks in <mount>/3fs-virt/iovs/) in README.md.
 *
 * State kept here:
 *   - per iov (iovh): the shm name, whether this process created (and registered) it;
 *   - per ior (iorh): the ring mapping, the local sq_tail / cq_head, the slot bitmap
 *     (slot = index returned by c3fs_prep_io, freed when its completion is reaped), the
 *     submit semaphore;
 *   - one process-wide table of registered fds (fd -> inode, access mode, dup).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "c3fs/usrbio.h"
#include "usrbio/ring.h"

#define UB_EXPORT __attribute__((visibility("default")))

static void ub_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ub_log(const char *fmt, ...)
{
	const char *e = getenv("C3FS_USRBIO_LOG");
	va_list ap;

	if (!e || !*e || strcmp(e, "0") == 0)
		return;
	va_start(ap, fmt);
	fputs("c3fs-usrbio: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ------------------------------------------------------------------ names */

static void ub_hex(const uint8_t id[16], char out[33])
{
	static const char d[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 16; i++) {
		out[2 * i] = d[id[i] >> 4];
		out[2 * i + 1] = d[id[i] & 15];
	}
	out[32] = '\0';
}

static int ub_link_path(char *buf, size_t sz, const char *mp, const char *name)
{
	if ((size_t)snprintf(buf, sz, "%s/" USRBIO_VIRT_IOVS "/%s", mp, name) >= sz)
		return -ENAMETOOLONG;
	return 0;
}

/* ------------------------------------------------------------------ mount points */

/* Undo mountinfo's octal escapes (\040 etc.) in place. */
static void ub_unescape(char *s)
{
	char *w = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 4;
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
}

UB_EXPORT int c3fs_extract_mount_point(char *mp, int size, const char *path)
{
	char real[PATH_MAX], best[PATH_MAX], *line = NULL;
	size_t cap = 0, bestlen = 0;
	FILE *f;

	if (!mp || size <= 0 || !path || !realpath(path, real))
		return -1;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -1;
	best[0] = '\0';
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *tok, *mnt = NULL, *sep;
		int i;

		/* id parent maj:min root mountpoint options [optional...] - fstype source ... */
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "fuse.c3fs ", 10) != 0)
			continue;
		for (i = 0, tok = strtok_r(line, " ", &save); tok && i < 5;
		     i++, tok = strtok_r(NULL, " ", &save))
			if (i == 4)
				mnt = tok;
		if (!mnt)
			continue;
		ub_unescape(mnt);
		{
			size_t n = strlen(mnt);
			bool prefix = strncmp(real, mnt, n) == 0 &&
				      (real[n] == '/' || real[n] == '\0' || strcmp(mnt, "/") == 0);

			if (prefix && n >= bestlen && n < sizeof(best)) {
				memcpy(best, mnt, n + 1);
				bestlen = n;
			}
		}
	}
	free(line);
	fclose(f);
	if (!best[0] || bestlen + 1 > (size_t)size)
		return -1;
	memcpy(mp, best, bestlen + 1);
	return (int)bestlen + 1;
}

UB_EXPORT bool c3fs_is_c3fs(int fd)
{
	uint32_t magic = 0;

	return ioctl(fd, C3FS_IOC_GET_MAGIC, &magic) == 0 && magic == C3FS_MAGIC;
}

/* ------------------------------------------------------------------ iovs */

struct ub_iov {
	char shm_name[64];       /* without the leading '/' */
	char link[PATH_MAX];     /* registration symlink ("" when not ours) */
	bool mapped;             /* base was mapped here (create/open), not wrapped */
};

static int ub_iov_fill(struct c3fs_iov *iov, const char *mp, const uint8_t id[16], size_t size,
		       size_t block_size, int numa)
{
	if (!iov || !mp || strlen(mp) >= sizeof(iov->mount_point) || size == 0)
		return -EINVAL;
	if (block_size && (size % block_size) != 0)
		return -EINVAL;
	memset(iov, 0, sizeof(*iov));
	memcpy(iov->id, id, 16);
	snprintf(iov->mount_point, sizeof(iov->mount_point), "%s", mp);
	iov->size = size;
	iov->block_size = block_size;
	iov->numa = numa;
	return 0;
}

/* Create shm `name` of `size` bytes, map it.  0 or -errno; nothing left on failure. */
static int ub_shm_create(const char *name, size_t size, void **out)
{
	char path[128];
	void *p;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/%s", name);
	fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) != 0) {
		rc = -errno;
		goto out_unlink;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED) {
		rc = -errno;
		goto out_unlink;
	}
	close(fd);
	*out = p;
	return 0;
out_unlink:
	close(fd);
	shm_unlink(path);
	return rc;
}

UB_EXPORT int c3fs_iovcreate(struct c3fs_iov *iov, const char *mount_point, size_t size,
			     size_t block_size, int numa)
{
	char hex[33], name[64], target[128], path[128];
	struct ub_iov *h;
	uint8_t id[16];
	void *p;
	int rc;

	if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
		return -EIO;
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x40); /* uuid v4 */
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
	rc = ub_iov_fill(iov, mount_point, id, size, block_size, numa);
	if (rc)
		return rc;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	ub_hex(id, hex);
	snprintf(h->shm_name, sizeof(h->shm_name), USRBIO_IOV_PREFIX "%s", hex);
	rc = ub_shm_create(h->shm_name, size, &p);
	if (rc) {
		ub_log("iovcreate: shm %s: %s", h->shm_name, strerror(-rc));
		free(h);
		return rc;
	}
	if (block_size)
		snprintf(name, sizeof(name), "%s.b%zu", hex, block_size);
	else
		snprintf(name, sizeof(name), "%s", hex);
	snprintf(target, sizeof(target), USRBIO_SHM_DIR "/%s", h->shm_name);
	rc = ub_link_path(h->link, sizeof(h->link), mount_point, name);
	if (rc == 0 && symlink(target, h->link) != 0)
		rc = -errno;
	if (rc) {
		ub_log("iovcreate: register %s: %s", h->link, strerror(-rc));
		munmap(p, size);
		snprintf(path, sizeof(path), "/%s", h->shm_name);
		shm_unlink(path);
		free(h);
		return rc;
	}
	h->mapped = true;
	iov->base = p;
	iov->iovh = h;
	return 0;
}

UB_EXPORT int c3fs_iovopen(struct c3fs_iov *iov, const uint8_t id[16], const char *mount_point,
			   size_t size, size_t block_size, int numa)
{
	char hex[33], name[64], link[PATH_MAX], target[PATH_MAX], path[128];
	struct ub_iov *h;
	struct stat st;
	ssize_t n;
	void *p;
	int fd, rc;

	rc = ub_iov_fill(iov, mount_point, id, size, block_size, numa);
	if (rc)
		return rc;
	ub_hex(id, hex);
	if (block_size)
		snprintf(name, sizeof(name), "%s.b%zu", hex, block_size);
	else
		snprintf(name, sizeof(name), "%s", hex);
	rc = ub_link_path(link, sizeof(link), mount_point, name);
	if (rc)
		return rc;
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	/* the registered target must be our shm name for that id, in /dev/shm */
	snprintf(path, sizeof(path), USRBIO_SHM_DIR "/" USRBIO_IOV_PREFIX "%s", hex);
	if (strcmp(target, path) != 0)
		return -EINVAL;
	fd = shm_open(path + strlen(USRBIO_SHM_DIR), O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != size) {
		close(fd);
		return -EINVAL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	rc = p == MAP_FAILED ? -errno : 0;
	close(fd);
	if (rc)
		return rc;
	h = calloc(1, sizeof(*h));
	if (!h) {
		munmap(p, size);
		return -ENOMEM;
	}
	snprintf(h->shm_name, sizeof(h->shm_name), USRBIO_IOV_PREFIX "%s", hex);
	h->mapped = true;
	iov->base = p;
	iov->iovh = h;
	return 0;
}

UB_EXPORT int c3fs_iovwrap(struct c3fs_iov *iov, void *base, const uint8_t id[16],
			   const char *mount_point, size_t size, size_t block_size, int numa)
{
	int rc;

	if (!base)
		return -EINVAL;
	rc = ub_iov_fill(iov, mount_point, id, size, block_size, numa);
	if (rc)
		return rc;
	iov->base = base;
	iov->iovh = NULL;
	return 0;
}

UB_EXPORT void c3fs_iovunlink(struct c3fs_iov *iov)
{
	struct ub_iov *h = iov ? iov->iovh : NULL;
	char path[128];

	if (!h)
		return;
	snprintf(path, sizeof(path), "/%s", h->shm_name);
	shm_unlink(path);
}

UB_EXPORT void c3fs_iovdestroy(struct c3fs_iov *iov)
{
	struct ub_iov *h = iov ? iov->iovh : NULL;

	if (!h)
		return;
	if (h->link[0]) {
		/* registered by us: unregister, then drop the name */
		if (unlink(h->link) != 0)
			ub_log("iovdestroy: unregister %s: %s", h->link, strerror(errno));
		c3fs_iovunlink(iov);
	}
	if (h->mapped && iov->base)
		munmap(iov->base, iov->size);
	free(h);
	iov->iovh = NULL;
	iov->base = NULL;
}

/* ------------------------------------------------------------------ rings */

struct ub_ior {
	struct usrbio_ring_hdr *hdr;
	size_t bytes;
	int32_t entries;
	char link[PATH_MAX];
	sem_t *submit;                 /* the daemon's submit semaphore of our priority */
	pthread_mutex_t lock;          /* guards sq_tail, nfree, slots (prep vs. wait) */
	uint32_t sq_tail;              /* prepared (published at submit) */
	uint32_t cq_head;              /* reaped (wait thread only) */
	int32_t nfree;
	int32_t *free_slots;           /* stack of free slot indices */
	uint8_t *busy;                 /* per slot: prepared and not reaped */
};

UB_EXPORT size_t c3fs_ior_size(int entries)
{
	return usrbio_ring_bytes(entries);
}

/* Open the daemon's submit semaphore for a priority (readlink of iovs/submit-ios*). */
static int ub_open_submit(const char *mp, int priority, sem_t **out)
{
	const char *suffix = priority < 0 ? ".ph" : priority > 0 ? ".pl" : "";
	char link[PATH_MAX], target[PATH_MAX], name[300];
	size_t plen = strlen(USRBIO_SEM_PATH_PREFIX);
	sem_t *s;
	ssize_t n;

	snprintf(name, sizeof(name), USRBIO_SUBMIT_NAME "%s", suffix);
	if (ub_link_path(link, sizeof(link), mp, name))
		return -ENAMETOOLONG;
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (strncmp(target, USRBIO_SEM_PATH_PREFIX, plen) != 0 || strchr(target + plen, '/') ||
	    (size_t)n - plen + 2 > sizeof(name))
		return -EINVAL;
	name[0] = '/';
	memcpy(name + 1, target + plen, (size_t)n - plen + 1);
	s = sem_open(name, 0);
	if (s == SEM_FAILED)
		return -errno;
	*out = s;
	return 0;
}

static void ub_ior_free(struct ub_ior *h)
{
	if (!h)
		return;
	if (h->submit)
		sem_close(h->submit);
	if (h->hdr)
		munmap(h->hdr, h->bytes);
	pthread_mutex_destroy(&h->lock);
	free(h->free_slots);
	free(h->busy);
	free(h);
}

static int ub_iorcreate(struct c3fs_ior *ior, const char *mp, int entries, bool for_read,
			int io_depth, int priority, int timeout, uint64_t flags)
{
	char hex[33], name[160], target[160], path[64];
	size_t bytes = usrbio_ring_bytes(entries);
	struct ub_ior *h;
	uint8_t id[16];
	void *p;
	int rc, i;

	if (!ior || !mp || strlen(mp) >= sizeof(ior->mount_point) || bytes == 0)
		return -EINVAL;
	if (io_depth > entries || io_depth < -entries || timeout < 0)
		return -EINVAL;
	if (flags & ~(uint64_t)(C3FS_IOR_ALLOW_READ_UNCOMMITTED | C3FS_IOR_FORBID_READ_HOLES))
		return -EINVAL;
	if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
		return -EIO;
	memset(ior, 0, sizeof(*ior));
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	h->entries = entries;
	h->free_slots = malloc(sizeof(int32_t) * (size_t)entries);
	h->busy = calloc((size_t)entries, 1);
	if (!h->free_slots || !h->busy) {
		ub_ior_free(h);
		return -ENOMEM;
	}
	for (i = 0; i < entries; i++)
		h->free_slots[i] = entries - 1 - i;
	h->nfree = entries;
	rc = ub_open_submit(mp, priority, &h->submit);
	if (rc) {
		ub_log("iorcreate: submit semaphore of %s: %s", mp, strerror(-rc));
		ub_ior_free(h);
		return rc;
	}
	ub_hex(id, hex);
	snprintf(path, sizeof(path), USRBIO_IOR_PREFIX "%s", hex);
	rc = ub_shm_create(path, bytes, &p);
	if (rc) {
		ub_ior_free(h);
		return rc;
	}
	h->hdr = p;
	h->bytes = bytes;
	memset(p, 0, USRBIO_HDR_BYTES);
	h->hdr->magic = USRBIO_RING_MAGIC;
	h->hdr->version = USRBIO_RING_VERSION;
	h->hdr->entries = entries;
	if (sem_init(&h->hdr->cq_sem, 1, 0) != 0) {
		rc = -errno;
		goto out_shm;
	}
	/* <id>.r<depth>|.w<depth>[.t<ms>][.f<flags>][.ph|.pl] */
	snprintf(name, sizeof(name), "%s.%c%d%s%.0d%s%.0llu%s", hex, for_read ? 'r' : 'w', io_depth,
		 timeout ? ".t" : "", timeout, flags ? ".f" : "", (unsigned long long)flags,
		 priority < 0 ? ".ph" : priority > 0 ? ".pl" : "");
	snprintf(target, sizeof(target), USRBIO_SHM_DIR "/%s", path);
	rc = ub_link_path(h->link, sizeof(h->link), mp, name);
	if (rc == 0 && symlink(target, h->link) != 0)
		rc = -errno;
	if (rc) {
		ub_log("iorcreate: register %s: %s", h->link, strerror(-rc));
		goto out_shm;
	}
	/* the daemon has mapped it: drop the name, nothing leaks if we die */
	snprintf(target, sizeof(target), "/%s", path);
	shm_unlink(target);
	memcpy(ior->iov.id, id, 16);
	snprintf(ior->iov.mount_point, sizeof(ior->iov.mount_point), "%s", mp);
	ior->iov.base = p;
	ior->iov.size = bytes;
	ior->iov.numa = -1;
	ior->iorh = h;
	snprintf(ior->mount_point, sizeof(ior->mount_point), "%s", mp);
	ior->for_read = for_read;
	ior->io_depth = io_depth;
	ior->priority = priority;
	ior->timeout = timeout;
	ior->flags = flags;
	return 0;
out_shm:
	snprintf(target, sizeof(target), "/%s", path);
	shm_unlink(target);
	ub_ior_free(h);
	return rc;
}

UB_EXPORT int c3fs_iorcreate(struct c3fs_ior *ior, const char *mount_point, int entries,
			     bool for_read, int io_depth, int numa)
{
	(void)numa;
	return ub_iorcreate(ior, mount_point, entries, for_read, io_depth, 0, 0, 0);
}

UB_EXPORT int c3fs_iorcreate2(struct c3fs_ior *ior, const char *mount_point, int entries,
			      bool for_read, int io_depth, int priority, int numa)
{
	(void)numa;
	return ub_iorcreate(ior, mount_point, entries, for_read, io_depth, priority, 0, 0);
}

UB_EXPORT int c3fs_iorcreate3(struct c3fs_ior *ior, const char *mount_point, int entries,
			      bool for_read, int io_depth, int priority, int timeout, int numa)
{
	(void)numa;
	return ub_iorcreate(ior, mount_point, entries, for_read, io_depth, priority, timeout, 0);
}

UB_EXPORT int c3fs_iorcreate4(struct c3fs_ior *ior, const char *mount_point, int entries,
			      bool for_read, int io_depth, int timeout, int numa, uint64_t flags)
{
	(void)numa;
	return ub_iorcreate(ior, mount_point, entries, for_read, io_depth, 0, timeout, flags);
}

UB_EXPORT void c3fs_iordestroy(struct c3fs_ior *ior)
{
	struct ub_ior *h = ior ? ior->iorh : NULL;

	if (!h)
		return;
	if (unlink(h->link) != 0)
		ub_log("iordestroy: unregister %s: %s", h->link, strerror(errno));
	ub_ior_free(h);
	ior->iorh = NULL;
	ior->iov.base = NULL;
}

UB_EXPORT int c3fs_io_entries(const struct c3fs_ior *ior)
{
	const struct ub_ior *h = ior ? ior->iorh : NULL;

	return h ? h->entries : 0;
}

/* ------------------------------------------------------------------ fds */

struct ub_fd {
	bool used;
	bool is_dup;             /* this slot is the dup of `peer` */
	int peer;                /* the other fd of the pair */
	int accmode;             /* O_RDONLY / O_WRONLY / O_RDWR */
	uint64_t ino;
};

static pthread_mutex_t ub_fd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ub_fd *ub_fds;     /* indexed by fd, under ub_fd_lock */
static int ub_nfds;

static int ub_fd_grow(int fd)
{
	struct ub_fd *n;
	int cap;

	if (fd < ub_nfds)
		return 0;
	cap = fd + 64;
	n = realloc(ub_fds, sizeof(*n) * (size_t)cap);
	if (!n)
		return -ENOMEM;
	memset(n + ub_nfds, 0, sizeof(*n) * (size_t)(cap - ub_nfds));
	ub_fds = n;
	ub_nfds = cap;
	return 0;
}

UB_EXPORT int c3fs_reg_fd(int fd, uint64_t flags)
{
	struct stat st;
	int fl, dupfd;

	(void)flags;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !c3fs_is_c3fs(fd))
		return EBADF;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return EBADF;
	pthread_mutex_lock(&ub_fd_lock);
	if (fd < ub_nfds && ub_fds[fd].used) {
		pthread_mutex_unlock(&ub_fd_lock);
		return EINVAL;
	}
	/* the dup keeps the file open through the mount for as long as it is registered */
	dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dupfd < 0 || ub_fd_grow(fd > dupfd ? fd : dupfd) != 0) {
		if (dupfd >= 0)
			close(dupfd);
		pthread_mutex_unlock(&ub_fd_lock);
		return ENOMEM;
	}
	ub_fds[fd] = (struct ub_fd){ true, false, dupfd, fl & O_ACCMODE, (uint64_t)st.st_ino };
	ub_fds[dupfd] = (struct ub_fd){ true, true, fd, fl & O_ACCMODE, (uint64_t)st.st_ino };
	pthread_mutex_unlock(&ub_fd_lock);
	return -dupfd;
}

/* fd as given to prep_io/dereg_fd: >0 the fd itself, <= 0 the negated dup. */
static int ub_fd_slot(int fd)
{
	if (fd > 0)
		return fd;
	if (fd == INT_MIN)
		return -1;
	return -fd;
}

UB_EXPORT void c3fs_dereg_fd(int fd)
{
	int s = ub_fd_slot(fd), orig, dup;

	pthread_mutex_lock(&ub_fd_lock);
	if (s >= 0 && s < ub_nfds && ub_fds[s].used) {
		orig = ub_fds[s].is_dup ? ub_fds[s].peer : s;
		dup = ub_fds[s].is_dup ? s : ub_fds[s].peer;
		memset(&ub_fds[orig], 0, sizeof(ub_fds[orig]));
		memset(&ub_fds[dup], 0, sizeof(ub_fds[dup]));
		close(dup);
	}
	pthread_mutex_unlock(&ub_fd_lock);
}

static int ub_fd_get(int fd, uint64_t *ino, int *accmode)
{
	int s = ub_fd_slot(fd), rc = -EBADF;

	pthread_mutex_lock(&ub_fd_lock);
	if (s >= 0 && s < ub_nfds && ub_fds[s].used) {
		*ino = ub_fds[s].ino;
		*accmode = ub_fds[s].accmode;
		rc = 0;
	}
	pthread_mutex_unlock(&ub_fd_lock);
	return rc;
}

/* ------------------------------------------------------------------ I/O */

UB_EXPORT int c3fs_prep_io(const struct c3fs_ior *ior, const struct c3fs_iov *iov, bool read,
			   void *ptr, int fd, size_t off, uint64_t len, const void *userdata)
{
	struct ub_ior *h = ior ? ior->iorh : NULL;
	struct usrbio_sqe e;
	uint64_t ino;
	uintptr_t p = (uintptr_t)ptr, b;
	int acc, rc, slot;

	if (!h || !iov || !iov->base || read != ior->for_read)
		return -EINVAL;
	b = (uintptr_t)iov->base;
	if (len == 0 || len > USRBIO_MAX_IO_BYTES || p < b ||
	    !usrbio_range_ok(p - b, len, iov->size))
		return -EINVAL;
	if (off > (size_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return -EINVAL;
	rc = ub_fd_get(fd, &ino, &acc);
	if (rc)
		return rc;
	if (read ? acc == O_WRONLY : acc == O_RDONLY)
		return -EACCES;
	memset(&e, 0, sizeof(e));
	memcpy(e.iov_id, iov->id, 16);
	e.iov_off = p - b;
	e.ino = ino;
	e.file_off = off;
	e.len = len;
	e.userdata = (uint64_t)(uintptr_t)userdata;
	pthread_mutex_lock(&h->lock);
	if (h->nfree == 0) {
		pthread_mutex_unlock(&h->lock);
		return -EAGAIN;
	}
	slot = h->free_slots[--h->nfree];
	h->busy[slot] = 1;
	e.index = slot;
	/* a free slot means the daemon has taken (sq_head) every earlier use of this sqe */
	memcpy(&usrbio_sqes(h->hdr)[h->sq_tail % (uint32_t)h->entries], &e, sizeof(e));
	h->sq_tail++;
	pthread_mutex_unlock(&h->lock);
	return slot;
}

UB_EXPORT int c3fs_submit_ios(const struct c3fs_ior *ior)
{
	struct ub_ior *h = ior ? ior->iorh : NULL;
	uint32_t tail;

	if (!h)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	tail = h->sq_tail;
	pthread_mutex_unlock(&h->lock);
	atomic_store_explicit(&h->hdr->sq_tail, tail, memory_order_release);
	if (sem_post(h->submit) != 0)
		return -errno;
	return 0;
}

/* Move completions into cqes[*n..cqec); frees their slots. */
static void ub_reap(struct ub_ior *h, struct c3fs_cqe *cqes, int cqec, int *n)
{
	uint32_t tail = atomic_load_explicit(&h->hdr->cq_tail, memory_order_acquire);
	const struct usrbio_cqe *ring = usrbio_cqes(h->hdr, h->entries);

	while (*n < cqec && h->cq_head != tail) {
		struct usrbio_cqe e;

		memcpy(&e, &ring[h->cq_head % (uint32_t)h->entries], sizeof(e));
		h->cq_head++;
		cqes[*n].index = e.index;
		cqes[*n].reserved = 0;
		cqes[*n].result = e.result;
		cqes[*n].userdata = (const void *)(uintptr_t)e.userdata;
		(*n)++;
		if (e.index >= 0 && e.index < h->entries) {
			pthread_mutex_lock(&h->lock);
			if (h->busy[e.index]) {
				h->busy[e.index] = 0;
				h->free_slots[h->nfree++] = e.index;
			}
			pthread_mutex_unlock(&h->lock);
		}
	}
	atomic_store_explicit(&h->hdr->cq_head, h->cq_head, memory_order_release);
}

UB_EXPORT int c3fs_wait_for_ios(const struct c3fs_ior *ior, struct c3fs_cqe *cqes, int cqec,
				int min_results, const struct timespec *abs_timeout)
{
	struct ub_ior *h = ior ? ior->iorh : NULL;
	int n = 0, rc;

	if (!h || cqec < 0 || (cqec > 0 && !cqes))
		return -EINVAL;
	if (min_results > cqec)
		min_results = cqec;
	for (;;) {
		ub_reap(h, cqes, cqec, &n);
		if (n >= min_results || n == cqec)
			return n;
		rc = abs_timeout ? sem_timedwait(&h->hdr->cq_sem, abs_timeout)
				 : sem_wait(&h->hdr->cq_sem);
		if (rc != 0 && errno == ETIMEDOUT) {
			ub_reap(h, cqes, cqec, &n);
			return n;
		}
		if (rc != 0 && errno != EINTR)
			return n ? n : -errno;
	}
}

/* ------------------------------------------------------------------ hard links, holes
 * 3FS's return convention here: 0 or a positive errno. */

UB_EXPORT int c3fs_hardlink(const char *target, const char *link_name)
{
	struct c3fs_ioctl_hardlink_arg arg;
	char dir[PATH_MAX];
	const char *slash, *name;
	struct stat tst, dst;
	size_t nlen;
	int fd, rc = 0;

	if (!target || !link_name || !*target || !*link_name)
		return !target || !link_name ? EINVAL : ENOENT;
	slash = strrchr(link_name, '/');
	name = slash ? slash + 1 : link_name;
	nlen = strlen(name);
	if (nlen == 0)
		return ENOENT; /* "dir/": no name */
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return EEXIST;
	if (nlen >= sizeof(arg.str))
		return ENAMETOOLONG;
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == link_name)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - link_name) >= sizeof(dir))
		return ENAMETOOLONG;
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - link_name), link_name);
	/* O_NONBLOCK: a FIFO must not block the open */
	fd = open(target, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstat(fd, &tst) != 0 || stat(dir, &dst) != 0) {
		rc = errno;
		goto out;
	}
	if (!S_ISDIR(dst.st_mode)) {
		rc = ENOTDIR;
		goto out;
	}
	if (dst.st_dev != tst.st_dev) {
		rc = EXDEV;
		goto out;
	}
	memset(&arg, 0, sizeof(arg));
	arg.ino = dst.st_ino;
	memcpy(arg.str, name, nlen + 1);
	if (ioctl(fd, C3FS_IOC_HARDLINK, &arg) != 0)
		rc = errno;
out:
	if (rc)
		ub_log("hardlink %s -> %s: %s", link_name, target, strerror(rc));
	close(fd);
	return rc;
}

UB_EXPORT int c3fs_punchhole(int fd, int n, const size_t *start, const size_t *end, size_t flags)
{
	struct c3fs_ioctl_punch_hole_arg *arg;
	int rc = 0;

	if (n < 0 || n > C3FS_IOCTL_PUNCH_HOLE_MAX || (n > 0 && (!start || !end)))
		return EINVAL;
	arg = calloc(1, sizeof(*arg)); /* 16 KiB */
	if (!arg)
		return ENOMEM;
	arg->n = n;
	arg->flags = flags;
	if (n > 0) {
		memcpy(arg->start, start, (size_t)n * sizeof(*start));
		memcpy(arg->end, end, (size_t)n * sizeof(*end));
	}
	if (ioctl(fd, C3FS_IOC_PUNCH_HOLE, arg) != 0) {
		rc = errno;
		ub_log("punchhole on fd %d (%d ranges): %s", fd, n, strerror(rc));
	}
	free(arg);
	return rc;
}
