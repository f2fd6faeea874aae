/* c3fs-bench-meta — metadata ops/s over RPC against a running c3fs-meta.
 *
 *   c3fs-bench-meta -a ip:port [-k token] [-t threads] [-n files per thread] [-l label] [-H]
 *                   [-s]
 *
 * Each thread works in its own directory (mdtest's "unique directory" mode; -s: all
 * threads in one shared directory, where every create/rename/unlink also updates the same
 * parent inode and concurrent transactions conflict and retry) and runs four
 * phases one after the other, all threads together, with a barrier between phases:
 *   create  n files (META_T_CREATE, no session: the namespace op alone)
 *   stat    getattr of each of them
 *   rename  each renamed within its directory
 *   unlink  each removed
 * Prints one Markdown table row: label | threads | create/s | stat/s | rename/s | unlink/s
 * (-H prints the header first).  Every op is one KV transaction committed durably by the
 * server's backend before the reply.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errors.h"
#include "meta/meta.h"
#include "net/rpc.h"
#include "tests/unit/meta/meta_rpc.h"

#define NPHASES 4
static const char *phase_name[NPHASES] = { "create", "stat", "rename", "unlink" };

static char g_addr[64];
static int g_files = 2000;
static pthread_barrier_t g_bar;
static uint64_t g_start[NPHASES], g_end[NPHASES];
static int g_errors;
static bool g_shared;
static uint64_t g_shared_dir;

static void *worker(void *argp)
{
	long id = (long)argp;
	struct meta_hdr h;
	struct meta_mkdir_req mr;
	struct meta_attr_resp ar;
	uint64_t dir, *inos = calloc((size_t)g_files, sizeof(uint64_t));
	char name[64], dname[64], nname[64];
	int rc;

	snprintf(mrpc_addr, sizeof(mrpc_addr), "%s", g_addr);
	memset(&h, 0, sizeof(h));
	h.client_id = 1000 + (uint64_t)id;
	snprintf(dname, sizeof(dname), "bench-%d-%ld", (int)getpid(), g_shared ? 0L : id);
	memset(&mr, 0, sizeof(mr));
	mr.hdr = h;
	mr.parent = META_ROOT_INO;
	mr.name = dname;
	mr.name_len = (uint32_t)strlen(dname);
	mr.mode = 0755;
	rc = g_shared && id > 0 ? 0 : mrpc_mkdir(NULL, &mr, &ar);
	if (g_shared) {
		/* thread 0 made the directory; the others wait for it at the first barrier */
		if (id == 0)
			g_shared_dir = rc == 0 ? ar.attr.ino : 0;
		pthread_barrier_wait(&g_bar);
		ar.attr.ino = g_shared_dir;
		rc = g_shared_dir ? 0 : -ENOENT;
	}
	if (rc < 0 || !inos) {
		fprintf(stderr, "mkdir %s: %s\n", dname, c3_strerror(rc));
		__atomic_add_fetch(&g_errors, 1, __ATOMIC_RELAXED);
		dir = 0;
	} else {
		dir = ar.attr.ino;
	}
	for (int ph = 0; ph < NPHASES; ph++) {
		if (pthread_barrier_wait(&g_bar) == PTHREAD_BARRIER_SERIAL_THREAD)
			g_start[ph] = c3_now_ns();
		pthread_barrier_wait(&g_bar);
		for (int i = 0; dir && i < g_files; i++) {
			snprintf(name, sizeof(name), "f%03ld-%07d", id, i);
			snprintf(nname, sizeof(nname), "g%03ld-%07d", id, i);
			switch (ph) {
			case 0: {
				struct meta_create_req r = { h, dir, name, (uint32_t)strlen(name), 0644,
							     0, META_O_EXCL | META_O_NOSESSION };
				struct meta_open_resp o;

				rc = mrpc_create(NULL, &r, &o);
				inos[i] = o.attr.ino;
				break;
			}
			case 1: {
				struct meta_getattr_req r = { h, inos[i] };

				rc = mrpc_getattr(NULL, &r, &ar);
				break;
			}
			case 2: {
				struct meta_rename_req r = { h, dir, name, (uint32_t)strlen(name), dir,
							     nname, (uint32_t)strlen(nname), 0 };

				rc = mrpc_rename(NULL, &r);
				break;
			}
			default: {
				struct meta_unlink_req r = { h, dir, nname, (uint32_t)strlen(nname) };

				rc = mrpc_unlink(NULL, &r, NULL);
				break;
			}
			}
			if (rc < 0 && __atomic_add_fetch(&g_errors, 1, __ATOMIC_RELAXED) < 5)
				fprintf(stderr, "%s %s: %s\n", phase_name[ph], name, c3_strerror(rc));
		}
		if (pthread_barrier_wait(&g_bar) == PTHREAD_BARRIER_SERIAL_THREAD)
			g_end[ph] = c3_now_ns();
	}
	if (dir && (!g_shared || pthread_barrier_wait(&g_bar) == PTHREAD_BARRIER_SERIAL_THREAD)) {
		struct meta_unlink_req r = { h, META_ROOT_INO, dname, (uint32_t)strlen(dname) };

		mrpc_rmdir(NULL, &r, NULL);
	}
	free(inos);
	return NULL;
}

int main(int argc, char **argv)
{
	struct rpc_client_opts co;
	const char *label = "meta", *token = NULL;
	int threads = 1, opt;
	bool header = false;
	pthread_t *th;

	while ((opt = getopt(argc, argv, "a:k:t:n:l:Hs")) != -1) {
		switch (opt) {
		case 'a': snprintf(g_addr, sizeof(g_addr), "%s", optarg); break;
		case 'k': token = optarg; break;
		case 't': threads = atoi(optarg); break;
		case 'n': g_files = atoi(optarg); break;
		case 'l': label = optarg; break;
		case 'H': header = true; break;
		case 's': g_shared = true; break;
		default:
			fprintf(stderr, "usage: %s -a ip:port [-k token] [-t threads] [-n files] "
				"[-l label] [-H] [-s]\n", argv[0]);
			return 2;
		}
	}
	if (!g_addr[0] || threads < 1 || threads > 256 || g_files < 1) {
		fprintf(stderr, "%s: need -a, 1 <= -t <= 256, -n >= 1\n", argv[0]);
		return 2;
	}
	memset(&co, 0, sizeof(co));
	co.token = token;
	co.conns_per_peer = threads < 8 ? threads : 8;
	if (rpc_client_new(&co, &mrpc_cli) != 0) {
		fprintf(stderr, "rpc client failed\n");
		return 1;
	}
	th = calloc((size_t)threads, sizeof(*th));
	pthread_barrier_init(&g_bar, NULL, (unsigned)threads);
	for (long i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&g_bar);
	free(th);
	rpc_client_free(mrpc_cli);
	if (header) {
		printf("| backend | clients | create/s | stat/s | rename/s | unlink/s |\n");
		printf("|---|---|---|---|---|---|\n");
	}
	printf("| %s | %d |", label, threads);
	for (int ph = 0; ph < NPHASES; ph++) {
		double secs = (double)(g_end[ph] - g_start[ph]) / 1e9;

		printf(" %.0f |", secs > 0 ? (double)threads * g_files / secs : 0.0);
	}
	printf("%s\n", g_errors ? " (errors, see stderr)" : "");
	return g_errors ? 1 : 0;
}
