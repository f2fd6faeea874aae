/* main.c — c3fs-fuse: mounts a c3fs cluster with the libfuse3 low-level API.
 *
 *   c3fs-fuse [--config FILE] [--set section.key=value]... [MOUNTPOINT]
 *
 * Runs in the foreground.  SIGTERM, SIGINT and SIGHUP end the session loop and unmount
 * cleanly; `fusermount3 -u MOUNTPOINT` also ends it.  A daemon killed with SIGKILL
 * leaves a dead mount ("Transport endpoint is not connected") that `umount -l` or
 * `fusermount3 -uz` removes.
 *
 * Steps: config -> log -> metrics (these three through common/daemon.h) -> libc3fs
 * client (waits for mgmtd routing) -> FUSE session (allow_other; meta checks every
 * caller, the kernel also does with default_permissions unless
 * fuse.kernel_permissions=false) -> mount -> multi-threaded loop -> unmount -> client
 * closed.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/users.h"
#include "common/config.h"
#include "common/daemon.h"
#include "common/errors.h"
#include "common/clock.h"
#include "common/log.h"
#include "fuse/fuse_int.h"
#include "fuse/usrbio.h"

/* reloadable (true): root changes it on a mount with ln -s VALUE 3fs-virt/set-conf/sys.KEY,
 * and `c3fs-admin set-config client KEY=VALUE` pushes it to every mount (virt.c) */
#define K(...) C3_DAEMON_KEY(struct fusefs_config, __VA_ARGS__)

static const struct c3_cfg_key fusefs_cfg_keys[] = {
	K("fuse", "mountpoint", C3_CFG_STR, mountpoint, "", 1, 0, "", false,
	    "Directory to mount on (the command-line argument overrides it)."),
	K("fuse", "threads", C3_CFG_INT, threads, "16", 1, 1024, "", false,
	    "Most FUSE worker threads serving requests at once."),
	K("fuse", "attr_timeout", C3_CFG_MS, attr_timeout_ms, "1s", 0, 3600000, "ms", true,
	    "How long the kernel may cache attributes."),
	K("fuse", "entry_timeout", C3_CFG_MS, entry_timeout_ms, "1s", 0, 3600000, "ms", true,
	    "How long the kernel may cache name lookups."),
	K("fuse", "negative_timeout", C3_CFG_MS, negative_timeout_ms, "0", 0, 3600000, "ms", true,
	    "How long the kernel may cache a name's absence (0 = not at all)."),
	K("fuse", "allow_other", C3_CFG_BOOL, allow_other, "true", 1, 0, "", false,
	    "Let every user use the mount (permissions are checked by the meta service)."),
	K("fuse", "kernel_permissions", C3_CFG_BOOL, kernel_permissions, "true", 1, 0, "", false,
	    "Let the kernel check permissions too (default_permissions), from attributes at most "
	    "attr_timeout old; meta checks every operation either way. Without it, a path walk "
	    "through cached directory entries skips the search-permission check."),
	K("fuse", "read_cache", C3_CFG_BOOL, read_cache, "true", 1, 0, "", true,
	    "Use the kernel page cache for file data (false = direct I/O for every file)."),
	K("fuse", "readonly", C3_CFG_BOOL, readonly, "false", 1, 0, "", true,
	    "Refuse every change through this mount with EROFS (a user may also turn it on "
	    "for themselves: ln -s true 3fs-virt/set-conf/usr.readonly)."),
	K("fuse", "max_readahead", C3_CFG_SIZE, max_readahead, "4M", 0, 64 << 20, "bytes", false,
	    "Kernel read-ahead window of the mount (0 = leave the kernel's default)."),
	K("cluster", "mgmtd", C3_CFG_STR, mgmtd, "127.0.0.1:9000", 1, 0, "", false,
	    "mgmtd addresses, ip:port[,ip:port...]."),
	K("cluster", "token", C3_CFG_STR, token, "", 1, 0, "", false,
	    "Cluster token (prefer token_file)."),
	K("cluster", "token_file", C3_CFG_STR, token_file, "", 1, 0, "", false,
	    "File holding the cluster token (first line); overrides token."),
	K("cluster", "user_token_file", C3_CFG_STR, user_token_file, "", 1, 0, "", false,
	    "File holding this mount's user token (c3fs-admin user-add; first line); must "
	    "not be readable by group or others. Empty = none (meta auth.users off)."),
	K("cluster", "rpc_timeout", C3_CFG_MS, rpc_timeout_ms, "10s", 100, 600000, "ms", false,
	    "Deadline of one RPC."),
	K("cluster", "write_wait", C3_CFG_MS, write_wait_ms, "60s", 1000, 3600000, "ms", true,
	    "How long an I/O waits for its chain to be reconfigured before failing."),
	K("cluster", "meta_wait", C3_CFG_MS, meta_wait_ms, "60s", 1000, 3600000, "ms", true,
	    "How long a metadata operation retries while no meta node answers (meta down or "
	    "restarting); then it fails with ETIMEDOUT."),
	K("cluster", "length_sync", C3_CFG_MS, length_sync_ms, "30s", 1000, 3600000, "ms", false,
	    "A file being written reports its length to meta at least this often."),
	K("cluster", "write_behind", C3_CFG_BOOL, write_behind, "true", 1, 0, "", false,
	    "Answer a write once its data is queued (errors then show at the next write, "
	    "fsync or close); false = answer after the storage service has it."),
	K("cluster", "write_behind_threads", C3_CFG_INT, write_behind_threads, "8", 1, 256, "", false,
	    "Threads writing queued data."),
	K("cluster", "write_behind_bytes", C3_CFG_SIZE, write_behind_bytes, "16M", 1 << 20,
	    1 << 30, "bytes", true, "Most data queued per file before writers wait."),
	K("cluster", "io_threads", C3_CFG_INT, io_threads, "2", 1, 64, "", false,
	    "RPC I/O threads."),
	C3_DAEMON_KEYS(K, true),
};

const struct c3_cfg_table fusefs_cfg_table = C3_DAEMON_TABLE("fuse", fusefs_cfg_keys);

/* Read the first line of path into a malloc'd string.  NULL on error (errno set). */
static char *fusefs_read_token(const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return NULL;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	return strdup(line);
}

/* How long a mount retries a user token meta does not know yet (see main()). */
#define FUSEFS_TOKEN_WAIT_MS 5000

static void fusefs_on_live_config(void *arg, const void *cfg, uint64_t version)
{
	virt_conf_pushed(arg, cfg, version);
}

/* The user token file: like the cluster token's, but refused unless only its owner may
 * read it (mode 0600 or stricter).  NULL on error, with the reason logged. */
static char *fusefs_read_user_token(const char *path)
{
	struct stat st;
	char *tok;

	if (stat(path, &st) != 0) {
		LOG_ERROR("user token file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (st.st_mode & 077) {
		LOG_ERROR("user token file %s: mode %04o lets others read it (chmod 600 it)",
			  path, (unsigned)(st.st_mode & 07777));
		return NULL;
	}
	tok = fusefs_read_token(path);
	if (!tok)
		LOG_ERROR("user token file %s: %s", path, strerror(errno));
	else if (!tok[0])
		LOG_ERROR("user token file %s: empty", path);
	else if (!cluster_token_is_valid(tok))
		LOG_ERROR("user token file %s: not a c3fs user token (64 hex digits, as written "
			  "by c3fs-admin user-add)", path);
	if (tok && !cluster_token_is_valid(tok)) {
		explicit_bzero(tok, strlen(tok));
		free(tok);
		return NULL;
	}
	return tok;
}

/* The libc3fs client of the mount (fs->cl) from fs->cfg, with the cluster token token and
 * the user token user_token (NULL: none).  0 or the error of c3fs_client_new. */
static int fusefs_client_start(struct fusefs *fs, const char *token, const char *user_token)
{
	struct c3fs_client_opts co;

	memset(&co, 0, sizeof(co));
	co.mgmtd_addrs = fs->cfg.mgmtd;
	co.token = token;
	co.user_token = user_token;
	co.timeout_ms = (uint32_t)fs->cfg.rpc_timeout_ms;
	co.write_wait_ms = (uint32_t)fs->cfg.write_wait_ms;
	co.meta_wait_ms = (uint32_t)fs->cfg.meta_wait_ms;
	co.interrupted = fusefs_interrupted;
	co.length_sync_ms = (uint32_t)fs->cfg.length_sync_ms;
	co.io_threads = (int)fs->cfg.io_threads;
	co.ready_timeout_ms = 30000;
	co.write_behind_threads = (int)fs->cfg.write_behind_threads;
	co.write_behind_bytes = (uint32_t)fs->cfg.write_behind_bytes;
	co.dir_attr_ttl_ms = (uint32_t)FUSEFS_DIR_ATTR_TTL_MS(fs->cfg.attr_timeout_ms);
	co.live_cfg_table = &fusefs_cfg_table;
	co.live_cfg_base = &fs->cfg;
	co.live_cfg_size = sizeof(fs->cfg);
	co.on_live_config = fusefs_on_live_config;
	co.live_cfg_arg = fs;
	return c3fs_client_new(&co, &fs->cl);
}

/* With a user token: statfs needs the token only (not a caller's uid), so a refused token
 * fails the mount here with a clear message instead of every request later.  A user added
 * a moment ago reaches meta with its next heartbeat (the users version in mgmtd's reply):
 * a refusal is asked again for a few seconds first.  0, or -1 after logging (refused). */
static int fusefs_user_token_check(struct fusefs *fs)
{
	uint64_t until = c3_now_ms() + FUSEFS_TOKEN_WAIT_MS;
	struct c3fs_statfs sf;
	int rc;

	while ((rc = c3fs_statfs(fs->cl, NULL, &sf)) == -C3FS_EUSERTOKEN && c3_now_ms() < until)
		c3_sleep_ms(200);
	if (rc == -C3FS_EUSERTOKEN) {
		LOG_ERROR("user token of %s refused by meta: %s", fs->cfg.user_token_file,
			  c3_strerror(rc));
		return -1;
	}
	if (rc)
		LOG_WARN("first metadata request failed: %s", c3_strerror(rc));
	return 0;
}

int main(int argc, char **argv)
{
	static struct fusefs fs;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *loop = NULL;
	/* signals are libfuse's (fuse_set_signal_handlers below) */
	struct c3_daemon d = { .prog = "c3fs-fuse", .role = "fuse", .table = &fusefs_cfg_table,
			       .cfg = &fs.cfg, .max_args = 1, .own_signals = true };
	char *token = NULL, *user_token = NULL, opts[256];
	const char *mnt;
	int rc, status = 1;

	if (c3_daemon_init(&d, argc, argv))
		return d.status;
	mnt = d.argi < argc ? argv[d.argi] : fs.cfg.mountpoint;
	if (!mnt || !mnt[0]) {
		fprintf(stderr, "usage: c3fs-fuse [--config FILE] [--set k=v]... MOUNTPOINT\n");
		goto out_cfg;
	}
	if (!realpath(mnt, fs.mnt_real)) {
		fprintf(stderr, "c3fs-fuse: mountpoint %s: %s\n", mnt, strerror(errno));
		goto out_cfg;
	}
	if (fs.cfg.token_file[0]) {
		token = fusefs_read_token(fs.cfg.token_file);
		if (!token) {
			LOG_ERROR("token file %s: %s", fs.cfg.token_file, strerror(errno));
			goto out_cfg;
		}
	}
	if (fs.cfg.user_token_file[0]) {
		user_token = fusefs_read_user_token(fs.cfg.user_token_file);
		if (!user_token)
			goto out_token;
	}
	if (c3_daemon_metrics_start(&d, true) < 0)
		goto out_token;
	pthread_mutex_init(&fs.ino_lock, NULL);

	rc = fusefs_client_start(&fs, token ? token : fs.cfg.token, user_token);
	if (rc) {
		LOG_ERROR("cannot reach the cluster at %s: %s", fs.cfg.mgmtd, c3_strerror(rc));
		goto out_token;
	}
	virt_conf_client(&fs); /* settings mgmtd pushed while the client started */
	if (user_token && fusefs_user_token_check(&fs) < 0)
		goto out_client_only;
	usrbio_start(&fs); /* on failure (logged) USRBIO registrations are refused */

	snprintf(opts, sizeof(opts), "fsname=" FUSEFS_FSNAME ",subtype=c3fs,max_read=1048576%s%s",
		 fs.cfg.allow_other ? ",allow_other" : "",
		 fs.cfg.kernel_permissions ? ",default_permissions" : "");
	if (fuse_opt_add_arg(&args, argv[0]) || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, opts)) {
		LOG_ERROR("out of memory");
		goto out_client;
	}
	fs.se = fuse_session_new(&args, &fusefs_ops, sizeof(fusefs_ops), &fs);
	if (!fs.se) {
		LOG_ERROR("fuse_session_new failed");
		goto out_args;
	}
	if (fuse_set_signal_handlers(fs.se) != 0) {
		LOG_ERROR("cannot install signal handlers");
		goto out_session;
	}
	if (fuse_session_mount(fs.se, fs.mnt_real) != 0) {
		LOG_ERROR("cannot mount on %s", fs.mnt_real);
		goto out_signals;
	}
	LOG_INFO("mounted on %s (mgmtd %s)", fs.mnt_real, fs.cfg.mgmtd);
	loop = fuse_loop_cfg_create();
	if (!loop) {
		LOG_ERROR("out of memory");
		goto out_unmount;
	}
	fuse_loop_cfg_set_max_threads(loop, (unsigned)fs.cfg.threads);
	/* Keep every worker once started: with fewer idle threads than the kernel's
	 * concurrent requests (read-ahead, QD32 direct I/O), libfuse ends a thread after each
	 * burst and starts another for the next, and every new thread faults in a fresh
	 * 1 MiB receive buffer — measured as ~40% of the machine's CPU during a sequential
	 * read (docs/bench/data-profile.md). */
	fuse_loop_cfg_set_idle_threads(loop, (unsigned)fs.cfg.threads);
	fuse_loop_cfg_set_clone_fd(loop, 0);
	/* 0 after an unmount, the signal number after SIGTERM/SIGINT/SIGHUP: both clean */
	rc = fuse_session_loop_mt(fs.se, loop);
	status = rc < 0 ? 1 : 0;
	LOG_INFO("session loop ended (%d), unmounting", rc);
	fuse_loop_cfg_destroy(loop);
out_unmount:
	virt_stop(); /* uses the session */
	fuse_session_unmount(fs.se);
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
out_args:
	fuse_opt_free_args(&args);
out_client:
	usrbio_stop(); /* its rings' files are closed through the client */
	/* handles the kernel never released are closed through the client: before it goes */
	fusefs_free_inodes(&fs);
out_client_only:
	c3fs_client_free(fs.cl);
out_token:
	free(token);
	if (user_token)
		explicit_bzero(user_token, strlen(user_token));
	free(user_token);
out_cfg:
	c3_daemon_fini(&d);
	return status;
}
