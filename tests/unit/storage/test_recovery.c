/* test_recovery.c — a replica that missed writes is brought back up to date.
 *
 * mgmtd + three c3fs-storage daemons (routing from mgmtd), one 3-replica chain made with
 * c3fs-admin.  Chunks are written; the middle replica's node is killed with SIGKILL; while
 * it is down chunks are overwritten, removed and created; it is restarted and goes
 * through SYNCING, during which its predecessor sends it what it missed while a writer
 * keeps overwriting chunks (those writes reach the syncing replica as whole chunks).  Once it is
 * SERVING again, every chunk reads identically from every replica and matches the model
 * (removed chunks are holes everywhere).  Skipped when the binaries are not built.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/client.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/errors.h"
#include "net/rpc.h"
#include "proto/storage.h"
#include "tests/lib/tap.h"

#define CS (64u * 1024)
#define NCHUNKS 25
#define INODE 50

static char root[] = "/tmp/c3fs-recov.XXXXXX";
static char bindir[4096], maddr[64], saddr[4][64];
static pid_t mpid, spid[4];
static struct rpc_client *cli;
static struct cluster_client *cc;
static uint8_t model[NCHUNKS][CS];
static uint32_t mlen[NCHUNKS];
static bool uncertain[NCHUNKS];  /* a write to it finally failed: compare replicas only */
static volatile int writer_stop;
static int writer_writes;

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static pid_t spawn(const char *name, char *const argv[])
{
	char log[4300];
	pid_t pid;

	snprintf(log, sizeof(log), "%s/%s.log", root, name);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static pid_t start_storage(int n)
{
	char bin[4200], a[6][4400], name[16];
	char *argv[16];
	int k = 0;

	snprintf(bin, sizeof(bin), "%s/c3fs-storage", bindir);
	snprintf(a[0], sizeof(a[0]), "server.node_id=%d", n);
	snprintf(a[1], sizeof(a[1]), "server.listen=%s", saddr[n]);
	snprintf(a[2], sizeof(a[2]), "storage.targets=%d:%s/s%d", n * 100 + 1, root, n);
	snprintf(a[3], sizeof(a[3]), "mgmtd.addrs=%s", maddr);
	snprintf(a[4], sizeof(a[4]), "storage.io_engine=%s", n == 2 ? "psync" : "uring");
	snprintf(name, sizeof(name), "storage%d", n);
	argv[k++] = bin;
	for (int i = 0; i < 5; i++) {
		argv[k++] = "--set";
		argv[k++] = a[i];
	}
	argv[k++] = "--set";
	argv[k++] = "server.token=tok";
	argv[k++] = "--set";
	argv[k++] = "mgmtd.heartbeat=300ms";
	argv[k] = NULL;
	return spawn(name, argv);
}

/* Current routing (refreshed); caller unrefs. */
static struct routing_info *routing_now(void)
{
	(void)cluster_client_refresh(cc, 2000);
	return cluster_client_routing(cc);
}

/* The single chain: copies its members and version; returns 0 when all n are SERVING. */
static int chain_state(uint32_t *members, uint32_t *ver, int *nserving, char addr[][64])
{
	struct routing_info *ri = routing_now();
	int rc = -1;

	*nserving = 0;
	if (ri && ri->nchains == 1) {
		const struct routing_chain *c = &ri->chains[0];

		*ver = c->version;
		for (uint32_t i = 0; i < c->ntargets && i < 3; i++) {
			const struct routing_target *t = routing_target_find(ri, c->targets[i]);
			const struct routing_node *nd = t ? routing_node_find(ri, t->node_id) : NULL;

			members[i] = c->targets[i];
			if (t && t->state == TARGET_SERVING)
				(*nserving)++;
			if (addr && nd)
				snprintf(addr[i], 64, "%s", nd->addr);
		}
		rc = c->ntargets == 3 ? 0 : -1;
	}
	routing_unref(ri);
	return rc;
}

static uint32_t chain_id_now(void)
{
	struct routing_info *ri = routing_now();
	uint32_t id = ri && ri->nchains ? ri->chains[0].chain_id : 0;

	routing_unref(ri);
	return id;
}

static void fill(uint8_t *p, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* Write through the current head, retrying while the chain reconfigures. */
static int write_retry(uint32_t idx, uint32_t off, const uint8_t *data, uint32_t len)
{
	int rc = -1;

	for (int attempt = 0; attempt < 100; attempt++) {
		uint32_t members[3] = { 0 }, ver = 0;
		int ns;
		char addr[3][64] = { "", "", "" };
		struct storage_write_io io;
		struct storage_write_req m = { 1, &io };
		struct c3_buf b = C3_BUF_INIT;
		struct rpc_call call;
		struct iovec iov = { (void *)data, len };
		struct storage_batch_rsp rsp;

		chain_state(members, &ver, &ns, addr);
		memset(&io, 0, sizeof(io));
		io.route = (struct storage_route){ chain_id_now(), ver, members[0] };
		io.chunk = (struct storage_chunk_id){ INODE, idx };
		io.offset = off;
		io.length = len;
		io.chunk_size = CS;
		io.crc = c3_crc32c(0, data, len);
		storage_write_req_encode(&m, &b);
		rpc_call_init(&call, STORAGE_T_WRITE, b.data, b.len);
		call.bulk = &iov;
		call.nbulk = 1;
		call.timeout_ms = 20000;
		rc = addr[0][0] ? rpc_call_start(cli, addr[0], &call) : -C3FS_ENOROUTING;
		if (rc == 0)
			rc = rpc_call_wait(&call);
		if (rc == 0 && storage_batch_rsp_decode(call.resp.data, call.resp.len, &rsp) == 0) {
			rc = rsp.nresults == 1 ? rsp.results[0].status : -C3FS_EBADMSG;
			storage_batch_rsp_release(&rsp);
		}
		c3_buf_release(&call.resp);
		c3_buf_release(&b);
		if (rc == 0)
			return 0;
		c3_sleep_ms(200);
	}
	diag("write of chunk %u failed: %s", idx, c3_strerror(rc));
	return rc;
}

static int remove_range(uint32_t begin, uint32_t end)
{
	int rc = -1;

	for (int attempt = 0; attempt < 100; attempt++) {
		uint32_t members[3] = { 0 }, ver = 0;
		int ns;
		char addr[3][64] = { "", "", "" };
		struct storage_remove_req m;
		struct storage_remove_rsp rsp;
		struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;

		chain_state(members, &ver, &ns, addr);
		memset(&m, 0, sizeof(m));
		m.route = (struct storage_route){ chain_id_now(), ver, members[0] };
		m.inode = INODE;
		m.begin = begin;
		m.end = end;
		storage_remove_req_encode(&m, &b);
		rc = addr[0][0] ? rpc_call_sync(cli, addr[0], STORAGE_T_REMOVE, b.data, b.len, &r, 20000)
				: -C3FS_ENOROUTING;
		if (rc == 0)
			rc = storage_remove_rsp_decode(r.data, r.len, &rsp);
		c3_buf_release(&b);
		c3_buf_release(&r);
		if (rc == 0 && !rsp.more)
			return 0;
		c3_sleep_ms(200);
	}
	return rc;
}

static int read_at(const char *addr, uint32_t chain, uint32_t ver, uint32_t target, uint32_t idx,
		   uint8_t *buf, uint32_t *len)
{
	struct storage_read_io io = { { chain, ver, target }, { INODE, idx }, 0, CS, 0 };
	struct storage_read_req m = { 1, &io };
	struct c3_buf b = C3_BUF_INIT;
	struct rpc_call call;
	struct iovec iov = { buf, CS };
	struct storage_batch_rsp rsp;
	int rc;

	storage_read_req_encode(&m, &b);
	rpc_call_init(&call, STORAGE_T_READ, b.data, b.len);
	call.resp_bulk = &iov;
	call.nresp_bulk = 1;
	call.timeout_ms = 20000;
	rc = rpc_call_start(cli, addr, &call);
	if (rc == 0)
		rc = rpc_call_wait(&call);
	if (rc == 0 && (rc = storage_batch_rsp_decode(call.resp.data, call.resp.len, &rsp)) == 0) {
		rc = rsp.nresults == 1 ? rsp.results[0].status : -C3FS_EBADMSG;
		*len = rsp.nresults == 1 ? rsp.results[0].length : 0;
		storage_batch_rsp_release(&rsp);
	}
	c3_buf_release(&call.resp);
	c3_buf_release(&b);
	return rc;
}

/* Overwrites chunks 0..9 in turn until told to stop. */
static void *writer_main(void *arg)
{
	static uint8_t d[CS];

	(void)arg;
	for (uint32_t k = 0; !writer_stop; k++) {
		uint32_t i = k % 10;

		fill(d, CS, 70000 + k);
		if (write_retry(i, 0, d, CS) == 0) {
			memcpy(model[i], d, CS);
			mlen[i] = CS;
			writer_writes++;
		} else {
			uncertain[i] = true;
		}
	}
	return NULL;
}

/* Read every chunk from every member; count chunks that differ between replicas or from
 * the model (uncertain chunks: between replicas only). */
static int verify_all(void)
{
	static uint8_t buf[CS];
	uint32_t members[3] = { 0 }, ver = 0;
	char addr[3][64];
	int ns, rc, bad;

	chain_state(members, &ver, &ns, addr);
	bad = 0;
	for (uint32_t i = 0; i < NCHUNKS; i++) {
		static uint8_t first[CS];
		uint32_t first_len = 0;

		for (int m = 0; m < 3; m++) {
			uint32_t len = 0;

			/* a replica may still be installing the newest routing: retry briefly */
			for (int t = 0; t < 50; t++) {
				memset(buf, 0xEE, sizeof(buf));
				rc = read_at(addr[m], chain_id_now(), ver, members[m], i, buf, &len);
				if (rc != -C3FS_ENOROUTING && rc != -C3FS_ECHAINVER)
					break;
				c3_sleep_ms(100);
				chain_state(members, &ver, &ns, addr);
			}
			if (m == 0) {
				memcpy(first, buf, CS);
				first_len = len;
			}
			if (rc || (uncertain[i] ? len != first_len || memcmp(buf, first, len)
						: len != mlen[i] || memcmp(buf, model[i], len))) {
				bad++;
				diag("chunk %u on member %d (target %u): rc %d len %u want %u", i, m,
				     members[m], rc, len, mlen[i]);
			}
		}
	}
	return bad;
}

static int scan_logs(void)
{
	char cmd[4400];

	snprintf(cmd, sizeof(cmd),
		 "grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|assertion failed' %s/*.log",
		 root);
	return system(cmd) == 0 ? -1 : 0;
}

static int stop(pid_t pid)
{
	int st = 0;

	if (pid <= 0)
		return 0;
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(void)
{
	const char *bd = getenv("C3FS_BIN_DIR");
	char bin[4200], a[5][4400], cmd[9000];
	char *argv[16];
	uint32_t members[3] = { 0 }, ver = 0, ver0, victim_target;
	char addr[3][64];
	int ns = 0, rc, victim = 0, bad;
	struct cluster_client_opts co;
	struct rpc_client_opts ro = { .token = "tok" };

	snprintf(bindir, sizeof(bindir), "%s", bd ? bd : "build/asan/bin");
	for (int i = 0; i < 3; i++) {
		static const char *const need[] = { "c3fs-storage", "c3fs-mgmtd", "c3fs-admin" };

		snprintf(bin, sizeof(bin), "%s/%s", bindir, need[i]);
		if (access(bin, X_OK) != 0)
			tap_skip_all("c3fs-storage, c3fs-mgmtd or c3fs-admin not built");
	}
	if (!mkdtemp(root))
		tap_skip_all("no temp dir");
	snprintf(maddr, sizeof(maddr), "127.0.0.1:%d", free_port());
	for (int n = 1; n <= 3; n++)
		snprintf(saddr[n], sizeof(saddr[n]), "127.0.0.1:%d", free_port());

	snprintf(bin, sizeof(bin), "%s/c3fs-mgmtd", bindir);
	snprintf(a[0], sizeof(a[0]), "server.listen=%s", maddr);
	snprintf(a[1], sizeof(a[1]), "kv.data_dir=%s/mgmtd", root);
	argv[0] = bin;
	argv[1] = "--set";
	argv[2] = a[0];
	argv[3] = "--set";
	argv[4] = a[1];
	argv[5] = "--set";
	argv[6] = "server.token=tok";
	argv[7] = "--set";
	argv[8] = "server.admin_token=adm";
	argv[9] = "--set";
	argv[10] = "lease.node_lease=3s";
	argv[11] = NULL;
	mpid = spawn("mgmtd", argv);
	for (int n = 1; n <= 3; n++)
		spid[n] = start_storage(n);

	memset(&co, 0, sizeof(co));
	co.mgmtd_addrs = maddr;
	co.token = "tok";
	co.node_type = NODE_CLIENT;
	co.node_addr = "";
	co.heartbeat_ms = 300;
	if (rpc_client_new(&ro, &cli) || cluster_client_new(&co, &cc))
		tap_skip_all("cannot create clients");
	rc = -1;
	for (int i = 0; i < 300 && rc; i++) {
		struct routing_info *ri = routing_now();
		int serving = 0;

		for (uint32_t k = 0; ri && k < ri->ntargets; k++)
			serving += ri->targets[k].state == TARGET_SERVING;
		rc = ri && ri->ntargets == 3 && serving == 3 ? 0 : -1;
		routing_unref(ri);
		if (rc)
			c3_sleep_ms(100);
	}
	is_int(rc, 0, "three storage targets registered and serving");
	snprintf(cmd, sizeof(cmd),
		 "timeout 20 %s/c3fs-admin --mgmtd %s --token tok --admin-token adm "
		 "create-chain-table --replicas 3 --name default >/dev/null", bindir, maddr);
	is_int(system(cmd), 0, "create a 3-replica chain with c3fs-admin");
	rc = -1;
	for (int i = 0; i < 100 && (rc || ns != 3); i++) {
		rc = chain_state(members, &ver, &ns, addr);
		if (rc || ns != 3)
			c3_sleep_ms(100);
	}
	ok(rc == 0 && ns == 3, "the chain has three serving members");
	ver0 = ver;

	bad = 0;
	for (uint32_t i = 0; i < 20; i++) {
		fill(model[i], CS, 1000 + i);
		mlen[i] = CS;
		bad += write_retry(i, 0, model[i], CS) != 0;
	}
	is_int(bad, 0, "20 chunks written through the chain");

	/* kill the node of the middle replica */
	victim_target = members[1];
	victim = (int)(victim_target / 100);
	kill(spid[victim], SIGKILL);
	waitpid(spid[victim], NULL, 0);
	spid[victim] = 0;
	rc = -1;
	for (int i = 0; i < 200 && rc; i++) {
		uint32_t m2[3];
		int ns2;

		chain_state(m2, &ver, &ns2, NULL);
		rc = ver != ver0 && ns2 == 2 ? 0 : -1;
		if (rc)
			c3_sleep_ms(100);
	}
	is_int(rc, 0, "the killed replica leaves the serving part of the chain");

	/* writes while it is down: overwrite, remove, create */
	bad = 0;
	for (uint32_t i = 0; i < 10; i++) {
		uint8_t d[5000];

		fill(d, sizeof(d), 5000 + i);
		memcpy(model[i] + 1000, d, sizeof(d));
		bad += write_retry(i, 1000, d, sizeof(d)) != 0;
	}
	bad += remove_range(15, 20) != 0;
	for (uint32_t i = 15; i < 20; i++) {
		memset(model[i], 0, CS);
		mlen[i] = 0;
	}
	for (uint32_t i = 20; i < NCHUNKS; i++) {
		fill(model[i], CS / 2, 9000 + i);
		mlen[i] = CS / 2;
		bad += write_retry(i, 0, model[i], CS / 2) != 0;
	}
	is_int(bad, 0, "overwrites, removals and new chunks while the replica is down");

	{
		pthread_t wt;

		pthread_create(&wt, NULL, writer_main, NULL);
		spid[victim] = start_storage(victim);
		rc = -1;
		for (int i = 0; i < 600 && rc; i++) {
			rc = chain_state(members, &ver, &ns, addr) == 0 && ns == 3 ? 0 : -1;
			if (rc)
				c3_sleep_ms(100);
		}
		c3_sleep_ms(300); /* a few writes with the full chain again */
		writer_stop = 1;
		pthread_join(wt, NULL);
		diag("%d overwrites during the restart and sync", writer_writes);
	}
	is_int(rc, 0, "the restarted replica is serving again (after syncing)");
	ok(writer_writes > 0, "writes kept succeeding during the sync");
	snprintf(cmd, sizeof(cmd), "grep -q 'sync of target %u .* done' %s/storage*.log",
		 victim_target, root);
	is_int(system(cmd), 0, "its predecessor ran a sync for it");

	is_int(verify_all(), 0, "every chunk is identical on all replicas and matches the writes");

	/* the head dies while a writer is running, and comes back */
	{
		pthread_t wt;
		uint32_t v1;

		writer_stop = 0;
		writer_writes = 0;
		pthread_create(&wt, NULL, writer_main, NULL);
		c3_sleep_ms(500);
		chain_state(members, &v1, &ns, addr);
		victim_target = members[0];
		victim = (int)(victim_target / 100);
		kill(spid[victim], SIGKILL);
		waitpid(spid[victim], NULL, 0);
		spid[victim] = 0;
		rc = -1;
		for (int i = 0; i < 200 && rc; i++) {
			uint32_t m2[3];
			int ns2;

			chain_state(m2, &ver, &ns2, NULL);
			rc = ver != v1 && ns2 == 2 && m2[0] != victim_target ? 0 : -1;
			if (rc)
				c3_sleep_ms(100);
		}
		is_int(rc, 0, "the killed head leaves the chain; a new head takes over");
		c3_sleep_ms(1000);
		spid[victim] = start_storage(victim);
		rc = -1;
		for (int i = 0; i < 600 && rc; i++) {
			rc = chain_state(members, &ver, &ns, addr) == 0 && ns == 3 ? 0 : -1;
			if (rc)
				c3_sleep_ms(100);
		}
		c3_sleep_ms(300);
		writer_stop = 1;
		pthread_join(wt, NULL);
		diag("%d overwrites while the head died, was replaced and re-synced", writer_writes);
		is_int(rc, 0, "the old head serves again (at the tail) after syncing");
		ok(writer_writes > 0, "writes went on through the new head");
	}
	is_int(verify_all(), 0, "after a head failure: all replicas identical and match the writes");


	cluster_client_free(cc);
	rpc_client_free(cli);
	bad = 0;
	for (int n = 1; n <= 3; n++)
		bad += stop(spid[n]) != 0;
	bad += stop(mpid) != 0;
	is_int(bad, 0, "daemons exit cleanly");
	ok(scan_logs() == 0, "no sanitizer report in any daemon log");
	rc = tap_done();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (rc == 0 && system(cmd) != 0)
		diag("cleanup failed");
	else if (rc)
		diag("kept %s", root);
	return rc;
}
