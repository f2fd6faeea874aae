/* test_chain.c — three c3fs-storage processes on 127.0.0.1 with a static chain file:
 * CRAQ replication end to end.
 *
 *  - a write to the head is readable, identical, from every replica; a write to a non-head
 *    is refused with -C3FS_ENOTHEAD
 *  - concurrent writers on overlapping ranges: afterwards all replicas agree byte for byte
 *    and equal the acknowledged writes applied in commit-version order
 *  - a byte flipped on one replica's disk: that replica answers -C3FS_ECHECKSUM, another
 *    replica returns the right bytes, and the damaged replica is repaired from its
 *    predecessor within seconds (right bytes on disk, no corrupt mark in its dump); a
 *    REPAIR update never replaces a copy that is not marked corrupt, a DIVERGED one does;
 *    a tail copy that differs without a checksum error is found by the middle's scrub
 *    pass (STORAGE_T_SCRUB) and replaced
 *  - a retried write (same client/channel/seq) is applied once; an older seq is refused
 *  - truncate, query-last, remove-range replicate
 *  - after the chain version is bumped (SIGHUP), a request with the old version is refused
 *    with -C3FS_ECHAINVER carrying the new version
 *  - with the tail killed, a write fails with -C3FS_ENOSUCCESSOR and the head's committed
 *    data is unchanged
 *  - a replica that lost a chunk (removed behind the chain's back with a direct SYNC
 *    update) is repaired by the head resending the whole chunk on -C3FS_ECHUNKVER
 *  - a version the head dropped after its successors committed it (commit failure
 *    injected at the head, test builds only) is never handed out again: the next write
 *    leaves every replica identical
 *  - batches: a write batch of distinct chunks (applied in parallel) and one with two ios
 *    on the same chunk (applied in order); a read batch mixing a hole, a short read and a
 *    full read keeps every io's bytes in its own slot of the reply bulk
 *  - a target whose directory is unusable is reported FAILED (SPACE_INFO) while the node
 *    serves its other targets; a target on a full (tiny tmpfs) disk answers -ENOSPC to the
 *    client and keeps its old contents (skipped when tmpfs cannot be mounted)
 *  - every daemon exits cleanly on SIGTERM with no sanitizer report in its log
 * Skipped when the c3fs-storage binary has not been built.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/crc32c.h"
#include "common/errors.h"
#include "net/rpc.h"
#include "proto/storage.h"
#include "tests/lib/tap.h"

#define NNODES 3
#define CS (256u * 1024)

static char root[] = "/tmp/c3fs-chain.XXXXXX";
static char bin[4096], chainfile[4200];
static int ports[NNODES + 1];
static char addrs[NNODES + 1][64];
static pid_t pids[NNODES + 1];
static struct rpc_client *cli;
static uint32_t chain1_ver = 1;
static char extra_targets[256];
static bool have_tmpfs;

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

/* chain 1 = 11 -> 21 -> 31, chain 2 = 22 -> 32 -> 12 */
static int write_chain_file(uint32_t v1)
{
	FILE *f = fopen(chainfile, "w");

	if (!f)
		return -1;
	fprintf(f, "version %u\n", v1);
	for (int n = 1; n <= NNODES; n++)
		fprintf(f, "node %d %s\ntarget %d %d\ntarget %d %d\n", n, addrs[n], n * 10 + 1, n,
			n * 10 + 2, n);
	fprintf(f, "target 13 1\nchain 3 1 13\n");
	fprintf(f, "chain 1 %u 11,21,31\nchain 2 1 22,32,12\ntable 1 default 1,2\n", v1);
	return fclose(f);
}

/* Wait (up to 30 s) until a node listens on its address: its targets are open.  The rpc
 * client is created only then, so none of its pooled connections starts in the
 * unreachable back-off of a refused connect (a target's first open syncs several times,
 * which takes long on a loaded disk). */
static void wait_listening(int n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	const char *colon = strrchr(addrs[n], ':');

	sa.sin_port = htons((uint16_t)atoi(colon ? colon + 1 : "0"));
	for (int i = 0; i < 600; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int rc = fd >= 0 ? connect(fd, (struct sockaddr *)&sa, sizeof(sa)) : -1;

		if (fd >= 0)
			close(fd);
		if (rc == 0)
			return;
		c3_sleep_ms(50);
	}
	diag("node %d does not listen on %s", n, addrs[n]);
}

static pid_t start_node(int n)
{
	char a[5][4800], log[4200];
	pid_t pid;

	snprintf(a[0], sizeof(a[0]), "server.node_id=%d", n);
	snprintf(a[1], sizeof(a[1]), "server.listen=%s", addrs[n]);
	snprintf(a[2], sizeof(a[2]), "storage.targets=%d:%s/t%d,%d:%s/t%d%s", n * 10 + 1, root,
		 n * 10 + 1, n * 10 + 2, root, n * 10 + 2, n == 1 ? extra_targets : "");
	snprintf(a[3], sizeof(a[3]), "storage.chain_file=%s", chainfile);
	snprintf(a[4], sizeof(a[4]), "storage.io_engine=%s", n == 2 ? "psync" : "uring");
	snprintf(log, sizeof(log), "%s/node%d.log", root, n);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(bin, bin, "--set", a[0], "--set", a[1], "--set", a[2], "--set", a[3], "--set",
		      a[4], "--set", "server.token=tok", "--set", "storage.forward_retry=1500ms",
		      "--set", "server.workers=16", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int do_write(int node, uint32_t chain, uint32_t ver, uint32_t target, uint64_t ino,
		    uint32_t idx, uint32_t off, const void *data, uint32_t len,
		    const struct storage_tag *tag, struct storage_io_result *out)
{
	struct storage_write_io io = { { chain, ver, target }, { ino, idx }, off, len, CS,
				       c3_crc32c(0, data, len), { 0, 0, 0 } };
	struct storage_write_req m = { 1, &io };
	struct c3_buf b = C3_BUF_INIT;
	struct rpc_call call;
	struct iovec iov = { (void *)data, len };
	struct storage_batch_rsp rsp;
	int rc;

	if (tag)
		io.tag = *tag;
	storage_write_req_encode(&m, &b);
	rpc_call_init(&call, STORAGE_T_WRITE, b.data, b.len);
	call.bulk = &iov;
	call.nbulk = 1;
	call.timeout_ms = 20000;
	rc = rpc_call_start(cli, addrs[node], &call);
	if (rc == 0)
		rc = rpc_call_wait(&call);
	if (rc == 0) {
		rc = storage_batch_rsp_decode(call.resp.data, call.resp.len, &rsp);
		if (rc == 0 && rsp.nresults == 1) {
			*out = rsp.results[0];
			rc = rsp.results[0].status;
		} else if (rc == 0) {
			rc = -C3FS_EBADMSG;
		}
		storage_batch_rsp_release(&rsp);
	}
	c3_buf_release(&call.resp);
	c3_buf_release(&b);
	return rc;
}

static int do_read(int node, uint32_t chain, uint32_t ver, uint32_t target, uint64_t ino,
		   uint32_t idx, uint32_t off, uint32_t len, void *buf,
		   struct storage_io_result *out)
{
	struct storage_read_io io = { { chain, ver, target }, { ino, idx }, off, len, 0 };
	struct storage_read_req m = { 1, &io };
	struct c3_buf b = C3_BUF_INIT;
	struct rpc_call call;
	struct iovec iov = { buf, len };
	struct storage_batch_rsp rsp;
	int rc;

	memset(out, 0, sizeof(*out));
	storage_read_req_encode(&m, &b);
	rpc_call_init(&call, STORAGE_T_READ, b.data, b.len);
	call.resp_bulk = &iov;
	call.nresp_bulk = 1;
	call.timeout_ms = 20000;
	rc = rpc_call_start(cli, addrs[node], &call);
	if (rc == 0)
		rc = rpc_call_wait(&call);
	if (rc == 0) {
		rc = storage_batch_rsp_decode(call.resp.data, call.resp.len, &rsp);
		if (rc == 0 && rsp.nresults == 1) {
			*out = rsp.results[0];
			rc = rsp.results[0].status;
			if (rc == 0 && call.resp_bulk_len != len)
				rc = -C3FS_EBADMSG;
		} else if (rc == 0) {
			rc = -C3FS_EBADMSG;
		}
		storage_batch_rsp_release(&rsp);
	}
	c3_buf_release(&call.resp);
	c3_buf_release(&b);
	return rc;
}

/* chain -> (node, target) of member i */
static const int chain_nodes[3][3] = { { 0, 0, 0 }, { 1, 2, 3 }, { 2, 3, 1 } };
static const uint32_t chain_targets[3][3] = { { 0, 0, 0 }, { 11, 21, 31 }, { 22, 32, 12 } };

static uint32_t ver_of(uint32_t chain)
{
	return chain == 1 ? chain1_ver : 1;
}

/* Read the whole chunk from member m of chain into buf; returns status, *len. */
static int read_member(uint32_t chain, int m, uint64_t ino, uint32_t idx, uint8_t *buf,
		       uint32_t *len)
{
	struct storage_io_result r;
	int rc = do_read(chain_nodes[chain][m], chain, ver_of(chain), chain_targets[chain][m], ino,
			 idx, 0, CS, buf, &r);

	*len = r.length;
	return rc;
}

/* ---- concurrent writers ---- */

struct ack {
	uint32_t chain, idx, off, len, seed;
	uint64_t ver;
};

struct writer {
	int id;
	struct ack acks[200];
	int nacks, failures;
};

static void fill(uint8_t *p, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned rs = (unsigned)w->id * 7919u + 1;
	uint8_t *buf = malloc(CS);

	for (int i = 0; i < 40; i++) {
		struct ack a;
		struct storage_io_result r;

		a.chain = 1 + (uint32_t)(rand_r(&rs) % 2);
		a.idx = (uint32_t)(rand_r(&rs) % 2);
		a.off = (uint32_t)(rand_r(&rs) % (CS - 1));
		a.len = 1 + (uint32_t)(rand_r(&rs) % 65536);
		if (a.off + a.len > CS)
			a.len = CS - a.off;
		a.seed = (uint32_t)rand_r(&rs);
		fill(buf, a.len, a.seed);
		if (do_write(chain_nodes[a.chain][0], a.chain, ver_of(a.chain),
			     chain_targets[a.chain][0], 1000, a.idx, a.off, buf, a.len, NULL, &r) == 0) {
			a.ver = r.commit_ver;
			w->acks[w->nacks++] = a;
		} else {
			w->failures++;
		}
	}
	free(buf);
	return NULL;
}

static int ack_cmp(const void *x, const void *y)
{
	const struct ack *a = x, *b = y;

	return a->ver < b->ver ? -1 : a->ver > b->ver;
}

static void concurrent_writers(void)
{
	struct writer ws[4];
	pthread_t th[4];
	static struct ack all[800];
	int n = 0, failures = 0, bad = 0;
	uint8_t *model = malloc(CS), *buf = malloc(CS), *got = malloc(CS);

	for (int i = 0; i < 4; i++) {
		memset(&ws[i], 0, sizeof(ws[i]));
		ws[i].id = i;
		pthread_create(&th[i], NULL, writer_main, &ws[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		memcpy(all + n, ws[i].acks, sizeof(struct ack) * (size_t)ws[i].nacks);
		n += ws[i].nacks;
		failures += ws[i].failures;
	}
	is_int(failures, 0, "160 concurrent overlapping writes acknowledged");
	qsort(all, (size_t)n, sizeof(all[0]), ack_cmp);
	for (uint32_t chain = 1; chain <= 2; chain++) {
		for (uint32_t idx = 0; idx < 2; idx++) {
			uint32_t mlen = 0, len0 = 0, len;
			uint64_t last = 0;

			memset(model, 0, CS);
			for (int i = 0; i < n; i++) {
				if (all[i].chain != chain || all[i].idx != idx)
					continue;
				if (all[i].ver == last)
					bad++; /* two acknowledged writes with one version */
				last = all[i].ver;
				fill(model + all[i].off, all[i].len, all[i].seed);
				if (all[i].off + all[i].len > mlen)
					mlen = all[i].off + all[i].len;
			}
			for (int m = 0; m < 3; m++) {
				memset(got, 0xEE, CS);
				if (read_member(chain, m, 1000, idx, got, &len) != 0) {
					bad++;
					continue;
				}
				if (m == 0) {
					memcpy(buf, got, CS);
					len0 = len;
				} else if (len != len0 || memcmp(buf, got, len)) {
					bad++;
					diag("chain %u chunk %u: replica %d differs from the head", chain, idx, m);
				}
			}
			if (len0 != mlen || memcmp(buf, model, mlen)) {
				bad++;
				diag("chain %u chunk %u: content differs from acknowledged writes (len %u vs %u)",
				     chain, idx, len0, mlen);
			}
		}
	}
	is_int(bad, 0, "all replicas equal each other and the acknowledged writes in version order");
	free(model);
	free(buf);
	free(got);
}

/* ---- helpers for other checks ---- */

static int find_chunk_file(int target, uint64_t ino, uint32_t idx, char *out, size_t outsz)
{
	char pat[4400];
	glob_t g;
	int rc = -1;

	snprintf(pat, sizeof(pat), "%s/t%d/chunks/*/%016llx-%08x.*", root, target,
		 (unsigned long long)ino, idx);
	if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc == 1) {
		snprintf(out, outsz, "%s", g.gl_pathv[0]);
		rc = 0;
	}
	globfree(&g);
	return rc;
}

static int dump_flags(int node, uint32_t target, uint64_t ino, uint32_t idx, uint32_t *flags)
{
	struct storage_dump_req m = { target, false, { 0, 0 }, 1000 };
	struct storage_dump_rsp rsp;
	struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;
	int rc;

	storage_dump_req_encode(&m, &b);
	rc = rpc_call_sync(cli, addrs[node], STORAGE_T_DUMP_META, b.data, b.len, &r, 10000);
	c3_buf_release(&b);
	if (rc == 0)
		rc = storage_dump_rsp_decode(r.data, r.len, &rsp);
	c3_buf_release(&r);
	if (rc)
		return rc;
	rc = -ENOENT;
	for (uint32_t i = 0; i < rsp.nentries; i++)
		if (rsp.entries[i].chunk.inode == ino && rsp.entries[i].chunk.index == idx) {
			*flags = rsp.entries[i].flags;
			rc = 0;
		}
	storage_dump_rsp_release(&rsp);
	return rc;
}

static void checksum_flip(void)
{
	uint8_t *data = malloc(CS), *got = malloc(CS);
	struct storage_io_result r;
	char path[4500];
	uint32_t flags = 0;
	int fd;

	fill(data, CS, 99);
	is_int(do_write(1, 1, chain1_ver, 11, 2000, 0, 0, data, CS, NULL, &r), 0, "write chunk for flip");
	ok(find_chunk_file(21, 2000, 0, path, sizeof(path)) == 0, "found the middle replica's file");
	fd = open(path, O_RDWR);
	{
		uint8_t x = 0;

		ok(fd >= 0 && pread(fd, &x, 1, 100000) == 1, "read a byte of it");
		x ^= 0x01;
		ok(pwrite(fd, &x, 1, 100000) == 1, "flip it");
	}
	if (fd >= 0)
		close(fd);
	is_int(do_read(2, 1, chain1_ver, 21, 2000, 0, 98304, 8192, got, &r), -C3FS_ECHECKSUM,
	       "the corrupt replica answers ECHECKSUM");
	ok(r.length == 0, "and returns no data");
	is_int(do_read(3, 1, chain1_ver, 31, 2000, 0, 98304, 8192, got, &r), 0,
	       "another replica serves the read");
	ok(r.length == 8192 && memcmp(got, data + 98304, 8192) == 0, "with the right bytes");
	/* the corrupt replica asks its predecessor (11) to push the chunk: repaired within
	 * seconds without anyone else doing anything (storage README, "Corrupt replicas") */
	{
		uint64_t deadline = c3_now_ms() + 15000;
		int rc;

		do {
			c3_sleep_ms(50);
			rc = do_read(2, 1, chain1_ver, 21, 2000, 0, 0, CS, got, &r);
		} while ((rc != 0 || memcmp(got, data, CS) != 0) && c3_now_ms() < deadline);
		ok(rc == 0 && r.length == CS && memcmp(got, data, CS) == 0,
		   "the corrupt replica was repaired from the chain and reads right");
	}
	is_int(dump_flags(2, 21, 2000, 0, &flags), 0, "dump the repaired replica's metadata");
	ok(!(flags & STORAGE_META_F_CORRUPT), "no corrupt mark any more");
	ok(find_chunk_file(21, 2000, 0, path, sizeof(path)) == 0, "its chunk file");
	{
		int f2 = open(path, O_RDONLY);
		ssize_t n = f2 >= 0 ? pread(f2, got, CS, 0) : -1;

		ok(n == (ssize_t)CS && memcmp(got, data, CS) == 0, "holds the right bytes on disk");
		if (f2 >= 0)
			close(f2);
	}
	free(data);
	free(got);
}

/* Send a whole-chunk UPDATE with FULL|SYNC|REPAIR (+ extra) straight to a member. */
static int repair_push(int node, uint32_t chain, uint32_t target, uint64_t ino, uint64_t ver,
		       const uint8_t *d, uint32_t len, uint8_t extra)
{
	struct storage_update_req u;
	struct c3_buf b = C3_BUF_INIT;
	struct rpc_call call;
	struct iovec iov = { (void *)d, len };
	int rc;

	memset(&u, 0, sizeof(u));
	u.route = (struct storage_route){ chain, ver_of(chain), target };
	u.chunk = (struct storage_chunk_id){ ino, 0 };
	u.type = STORAGE_UPD_WRITE;
	u.flags = STORAGE_UPD_F_FULL | STORAGE_UPD_F_SYNC | STORAGE_UPD_F_REPAIR | extra;
	u.length = len;
	u.chunk_size = CS;
	u.update_ver = ver;
	u.crc = c3_crc32c(0, d, len);
	storage_update_req_encode(&u, &b);
	rpc_call_init(&call, STORAGE_T_UPDATE, b.data, b.len);
	call.bulk = &iov;
	call.nbulk = 1;
	call.timeout_ms = 10000;
	rc = rpc_call_start(cli, addrs[node], &call);
	if (rc == 0) {
		rc = rpc_call_wait(&call);
		c3_buf_release(&call.resp);
	}
	c3_buf_release(&b);
	return rc;
}

/* A replica that differs without failing any checksum (here: the tail's copy replaced
 * by a direct SYNC update with other bytes at the same version) is found by its
 * predecessor's scrub pass (STORAGE_T_SCRUB, as `c3fs-admin scrub` sends) comparing
 * digests, and gets the predecessor's copy. */
static void divergent_replica(void)
{
	uint8_t *data = malloc(CS), *other = malloc(CS), *got = malloc(CS);
	struct storage_update_req u;
	struct storage_scrub_req q = { 21 };
	struct storage_io_result r;
	struct c3_buf b = C3_BUF_INIT;
	struct rpc_call call;
	struct iovec iov = { other, CS };
	uint64_t deadline;
	uint32_t len;
	int rc;

	fill(data, CS, 7101);
	fill(other, CS, 7102);
	is_int(do_write(1, 1, chain1_ver, 11, 2200, 0, 0, data, CS, NULL, &r), 0,
	       "write a chunk for the divergence");
	memset(&u, 0, sizeof(u));
	u.route = (struct storage_route){ 1, chain1_ver, 31 };
	u.chunk = (struct storage_chunk_id){ 2200, 0 };
	u.type = STORAGE_UPD_WRITE;
	u.flags = STORAGE_UPD_F_FULL | STORAGE_UPD_F_SYNC;
	u.length = CS;
	u.chunk_size = CS;
	u.update_ver = r.commit_ver;
	u.crc = c3_crc32c(0, other, CS);
	storage_update_req_encode(&u, &b);
	rpc_call_init(&call, STORAGE_T_UPDATE, b.data, b.len);
	call.bulk = &iov;
	call.nbulk = 1;
	call.timeout_ms = 10000;
	rc = rpc_call_start(cli, addrs[3], &call);
	if (rc == 0) {
		rc = rpc_call_wait(&call);
		c3_buf_release(&call.resp);
	}
	c3_buf_release(&b);
	is_int(rc, 0, "the tail's copy replaced behind the chain's back (same version)");
	rc = read_member(1, 2, 2200, 0, got, &len);
	ok(rc == 0 && memcmp(got, other, CS) == 0, "the tail now reads other bytes, no checksum error");
	storage_scrub_req_encode(&q, &b);
	is_int(rpc_call_sync(cli, addrs[2], STORAGE_T_SCRUB, b.data, b.len, NULL, 10000), 0,
	       "scrub of the middle (21) requested");
	c3_buf_release(&b);
	q.target_id = 99;
	storage_scrub_req_encode(&q, &b);
	is_int(rpc_call_sync(cli, addrs[2], STORAGE_T_SCRUB, b.data, b.len, NULL, 10000),
	       -C3FS_ENOTARGET, "scrub of a target the node does not have: ENOTARGET");
	c3_buf_release(&b);
	deadline = c3_now_ms() + 30000;
	do {
		c3_sleep_ms(100);
		rc = read_member(1, 2, 2200, 0, got, &len);
	} while ((rc != 0 || memcmp(got, data, CS) != 0) && c3_now_ms() < deadline);
	ok(rc == 0 && len == CS && memcmp(got, data, CS) == 0,
	   "the scrub found the divergent tail copy and sent the middle's");
	free(data);
	free(other);
	free(got);
}

/* The receiver's rules for a REPAIR update: a copy that is not marked corrupt is never
 * replaced (not even by a "newer" version: a repair never races a write into place); a
 * DIVERGED push (the predecessor saw the copy differ, under its chunk lock) is applied. */
static void repair_rules(void)
{
	uint8_t *data = malloc(CS), *other = malloc(CS), *got = malloc(CS);
	struct storage_io_result r;
	uint32_t len;
	uint64_t v;
	int rc, bad = 0;

	fill(data, CS, 7001);
	fill(other, CS, 7002);
	is_int(do_write(1, 1, chain1_ver, 11, 2100, 0, 0, data, CS, NULL, &r), 0,
	       "write a chunk for the repair rules");
	v = r.commit_ver;
	is_int(repair_push(2, 1, 21, 2100, v + 5, other, CS, 0), 0,
	       "a REPAIR update to a whole copy is accepted");
	rc = read_member(1, 1, 2100, 0, got, &len);
	ok(rc == 0 && len == CS && memcmp(got, data, CS) == 0,
	   "but changes nothing (the copy was not corrupt)");
	is_int(repair_push(3, 1, 31, 2100, v, other, CS, STORAGE_UPD_F_DIVERGED), 0,
	       "a DIVERGED repair to the tail");
	rc = read_member(1, 2, 2100, 0, got, &len);
	ok(rc == 0 && len == CS && memcmp(got, other, CS) == 0, "is applied whatever it held");
	/* the next write through the head brings every replica back to the same bytes */
	is_int(do_write(1, 1, chain1_ver, 11, 2100, 0, 0, data, CS, NULL, &r), 0,
	       "rewrite through the head");
	for (int m = 0; m < 3; m++) {
		rc = read_member(1, m, 2100, 0, got, &len);
		bad += rc != 0 || len != CS || memcmp(got, data, CS) != 0;
	}
	is_int(bad, 0, "every replica equal again");
	free(data);
	free(other);
	free(got);
}

static void exactly_once(void)
{
	struct storage_tag tag = { 77, 1, 5 }, old = { 77, 1, 4 };
	struct storage_io_result r1, r2, r3;
	uint8_t a[4096], b[4096], got[4096];

	memset(a, 'A', sizeof(a));
	memset(b, 'B', sizeof(b));
	is_int(do_write(2, 2, 1, 22, 3000, 0, 0, a, sizeof(a), &tag, &r1), 0, "tagged write");
	is_int(do_write(2, 2, 1, 22, 3000, 0, 0, b, sizeof(b), NULL, &r2), 0, "a later write");
	is_int(do_write(2, 2, 1, 22, 3000, 0, 0, a, sizeof(a), &tag, &r3), 0, "retry of the tagged write");
	ok(r3.commit_ver == r1.commit_ver, "retry answered with the first result");
	is_int(do_read(1, 2, 1, 12, 3000, 0, 0, sizeof(got), got, &r3), 0, "read the tail");
	ok(memcmp(got, b, sizeof(b)) == 0, "the retry was not applied again");
	ok(r3.commit_ver == r2.commit_ver, "version unchanged by the retry");
	is_int(do_write(2, 2, 1, 22, 3000, 0, 0, a, sizeof(a), &old, &r3), -C3FS_EDUPLICATE,
	       "an older seq on the channel is refused");
}

static void not_head(void)
{
	struct storage_io_result r;
	uint8_t d[100] = { 1 };

	is_int(do_write(2, 1, chain1_ver, 21, 4000, 0, 0, d, sizeof(d), NULL, &r), -C3FS_ENOTHEAD,
	       "write to a non-head target refused");
	is_int(do_write(1, 1, chain1_ver, 99, 4000, 0, 0, d, sizeof(d), NULL, &r), -C3FS_ENOTARGET,
	       "write to a target not on the node refused");
}

static void truncate_query_remove(void)
{
	struct storage_io_result r;
	uint8_t d[50000], got[CS];
	uint32_t len;
	struct c3_buf b = C3_BUF_INIT, rb = C3_BUF_INIT;
	int rc, bad = 0;

	fill(d, sizeof(d), 5);
	for (uint32_t i = 0; i < 5; i++)
		bad += do_write(1, 1, chain1_ver, 11, 5000, i, 0, d, sizeof(d), NULL, &r) != 0;
	is_int(bad, 0, "five chunks written");
	{
		struct storage_truncate_io io = { { 1, chain1_ver, 11 }, { 5000, 4 }, 1234, CS, 0, { 0, 0, 0 } };
		struct storage_truncate_req m = { 1, &io };
		struct storage_batch_rsp rsp;

		storage_truncate_req_encode(&m, &b);
		rc = rpc_call_sync(cli, addrs[1], STORAGE_T_TRUNCATE, b.data, b.len, &rb, 10000);
		if (rc == 0 && storage_batch_rsp_decode(rb.data, rb.len, &rsp) == 0) {
			rc = rsp.nresults == 1 ? rsp.results[0].status : -1;
			storage_batch_rsp_release(&rsp);
		}
		is_int(rc, 0, "truncate chunk 4 to 1234");
		c3_buf_release(&b);
		c3_buf_release(&rb);
	}
	for (int m = 0; m < 3; m++) {
		rc = read_member(1, m, 5000, 4, got, &len);
		if (rc || len != 1234 || memcmp(got, d, 1234))
			bad++;
	}
	is_int(bad, 0, "truncate replicated to every member");
	{
		struct storage_query_last_req m = { { 1, chain1_ver, 31 }, 5000 };
		struct storage_query_last_rsp rsp;

		storage_query_last_req_encode(&m, &b);
		rc = rpc_call_sync(cli, addrs[3], STORAGE_T_QUERY_LAST, b.data, b.len, &rb, 10000);
		if (rc == 0)
			rc = storage_query_last_rsp_decode(rb.data, rb.len, &rsp);
		is_int(rc, 0, "query last chunk on the tail");
		ok(rsp.found && rsp.last_index == 4 && rsp.last_len == 1234 && rsp.nchunks == 5 &&
		   rsp.total_bytes == 4 * sizeof(d) + 1234, "last chunk 4, length 1234, 5 chunks");
		c3_buf_release(&b);
		c3_buf_release(&rb);
	}
	{
		struct storage_remove_req m = { { 1, chain1_ver, 11 }, 5000, 2, STORAGE_INDEX_END, 0,
						{ 0, 0, 0 } };
		struct storage_remove_rsp rsp;

		storage_remove_req_encode(&m, &b);
		rc = rpc_call_sync(cli, addrs[1], STORAGE_T_REMOVE, b.data, b.len, &rb, 10000);
		if (rc == 0)
			rc = storage_remove_rsp_decode(rb.data, rb.len, &rsp);
		is_int(rc, 0, "remove chunks 2.. of the inode");
		ok(rsp.removed == 3 && !rsp.more, "three removed");
		c3_buf_release(&b);
		c3_buf_release(&rb);
	}
	bad = 0;
	for (int m = 0; m < 3; m++) {
		rc = read_member(1, m, 5000, 3, got, &len);
		bad += rc != 0 || len != 0;
		rc = read_member(1, m, 5000, 1, got, &len);
		bad += rc != 0 || len != sizeof(d);
	}
	is_int(bad, 0, "removal replicated; chunks below the range kept");
}

static void stale_chain_version(void)
{
	struct storage_io_result r;
	uint8_t d[10] = { 0 }, got[10];
	int rc = -1;

	write_chain_file(2);
	for (int n = 1; n <= NNODES; n++)
		kill(pids[n], SIGHUP);
	for (int i = 0; i < 100; i++) {
		rc = do_write(1, 1, 2, 11, 6000, 0, 0, d, sizeof(d), NULL, &r);
		if (rc == 0)
			break;
		c3_sleep_ms(50);
	}
	is_int(rc, 0, "write with the new chain version");
	chain1_ver = 2;
	is_int(do_write(1, 1, 1, 11, 6000, 0, 0, d, sizeof(d), NULL, &r), -C3FS_ECHAINVER,
	       "write with the old chain version refused");
	is_int(r.chain_ver, 2, "refusal carries the current chain version");
	is_int(do_read(3, 1, 1, 31, 6000, 0, 0, sizeof(got), got, &r), -C3FS_ECHAINVER,
	       "read with the old chain version refused");
}

static void dead_successor(void)
{
	struct storage_io_result r;
	uint8_t a[1000], b[1000], got[1000];
	uint64_t t0;
	int st;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	is_int(do_write(1, 1, chain1_ver, 11, 7000, 0, 0, a, sizeof(a), NULL, &r), 0, "write before the tail dies");
	kill(pids[3], SIGKILL);
	waitpid(pids[3], &st, 0);
	pids[3] = 0;
	t0 = c3_now_ms();
	is_int(do_write(1, 1, chain1_ver, 11, 7000, 0, 0, b, sizeof(b), NULL, &r), -C3FS_ENOSUCCESSOR,
	       "write with the tail down fails with ENOSUCCESSOR");
	ok(c3_now_ms() - t0 < 15000, "after a bounded retry");
	is_int(do_read(1, 1, chain1_ver, 11, 7000, 0, 0, sizeof(got), got, &r), 0, "head still reads");
	ok(memcmp(got, a, sizeof(a)) == 0, "head kept the committed data");
	is_int(do_read(2, 1, chain1_ver, 21, 7000, 0, 0, sizeof(got), got, &r), 0, "middle still reads");
	ok(memcmp(got, a, sizeof(a)) == 0, "middle kept the committed data");
}

static void failed_and_full_targets(void)
{
	struct c3_buf r = C3_BUF_INIT;
	struct storage_space_rsp sp;
	struct storage_io_result res;
	uint8_t *d = malloc(CS), *got = malloc(CS);
	int rc, st13 = 0, st14 = 0, st11 = 0;
	uint32_t len;

	rc = rpc_call_sync(cli, addrs[1], STORAGE_T_SPACE_INFO, NULL, 0, &r, 10000);
	if (rc == 0)
		rc = storage_space_rsp_decode(r.data, r.len, &sp);
	c3_buf_release(&r);
	is_int(rc, 0, "space info of node 1");
	if (rc == 0) {
		for (uint32_t i = 0; i < sp.ntargets; i++) {
			if (sp.targets[i].target_id == 14)
				st14 = sp.targets[i].local_state;
			if (sp.targets[i].target_id == 13)
				st13 = sp.targets[i].local_state;
			if (sp.targets[i].target_id == 11)
				st11 = sp.targets[i].local_state;
		}
		storage_space_rsp_release(&sp);
	}
	is_int(st14, 3, "the target with an unusable directory is reported failed");
	is_int(st11, 1, "the node's other targets are up to date");
	if (!have_tmpfs) {
		ok(1, "# SKIP ENOSPC over RPC: cannot mount tmpfs");
		free(d);
		free(got);
		return;
	}
	is_int(st13, 1, "the tmpfs target is up");
	fill(d, CS, 77);
	is_int(do_write(1, 3, 1, 13, 8000, 0, 0, d, CS, NULL, &res), 0, "first chunk fits");
	rc = 0;
	for (uint32_t i = 1; i < 40 && rc == 0; i++)
		rc = do_write(1, 3, 1, 13, 8000, i, 0, d, CS, NULL, &res);
	is_int(rc, -ENOSPC, "a full disk reaches the client as -ENOSPC");
	memset(got, 0, CS);
	rc = do_read(1, 3, 1, 13, 8000, 0, 0, CS, got, &res);
	len = res.length;
	ok(rc == 0 && len == CS && memcmp(got, d, CS) == 0, "old contents intact after ENOSPC");
	free(d);
	free(got);
}

static void missed_update(void)
{
	struct storage_update_req u;
	struct storage_io_result r;
	struct c3_buf b = C3_BUF_INIT, rb = C3_BUF_INIT;
	uint8_t d[8192], p[100], got[CS];
	uint32_t len;
	int rc, bad = 0;

	fill(d, sizeof(d), 4242);
	is_int(do_write(2, 2, 1, 22, 9500, 0, 0, d, sizeof(d), NULL, &r), 0, "write a chunk");
	/* the tail (target 12 on node 1) loses it */
	memset(&u, 0, sizeof(u));
	u.route = (struct storage_route){ 2, 1, 12 };
	u.chunk = (struct storage_chunk_id){ 9500, 0 };
	u.type = STORAGE_UPD_REMOVE;
	u.flags = STORAGE_UPD_F_SYNC;
	u.chunk_size = CS;
	u.update_ver = 1;
	storage_update_req_encode(&u, &b);
	rc = rpc_call_sync(cli, addrs[1], STORAGE_T_UPDATE, b.data, b.len, &rb, 10000);
	c3_buf_release(&b);
	c3_buf_release(&rb);
	is_int(rc, 0, "the tail's copy is removed behind the chain's back");
	memset(p, 0x5A, sizeof(p));
	memcpy(d + 3000, p, sizeof(p));
	is_int(do_write(2, 2, 1, 22, 9500, 0, 3000, p, sizeof(p), NULL, &r), 0,
	       "a partial write still succeeds");
	for (int m = 0; m < 3; m++) {
		rc = read_member(2, m, 9500, 0, got, &len);
		bad += rc != 0 || len != sizeof(d) || memcmp(got, d, sizeof(d)) != 0;
	}
	is_int(bad, 0, "every replica has the whole chunk again");
}

/* The head's commit fails (injected -ENOSPC, as from a full LMDB map) after the middle
 * and the tail committed the update: the head drops that version.  The next write must
 * not reuse its number, else the successors take it for "already applied" and keep the
 * dropped bytes while the head commits others. */
#define ABORT_INO 9900
static void aborted_version_not_reused(void)
{
	struct storage_io_result r;
	uint8_t a[8192], b[8192], c[100], want[8192], got[CS];
	uint64_t vers[3] = { 0, 0, 0 };
	uint32_t len;
	int rc, bad = 0;

	fill(a, sizeof(a), 901);
	fill(b, sizeof(b), 902);
	memset(c, 0xC3, sizeof(c));
	is_int(do_write(1, 1, chain1_ver, 11, ABORT_INO, 0, 0, a, sizeof(a), NULL, &r), 0,
	       "write A to every replica");
	is_int(do_write(1, 1, chain1_ver, 11, ABORT_INO, 0, 0, b, sizeof(b), NULL, &r), -ENOSPC,
	       "write B: the head's commit fails after the successors committed");
	is_int(do_write(1, 1, chain1_ver, 11, ABORT_INO, 0, 100, c, sizeof(c), NULL, &r), 0,
	       "the next write succeeds");
	memcpy(want, a, sizeof(a));
	memcpy(want + 100, c, sizeof(c));
	for (int m = 0; m < 3; m++) {
		struct storage_io_result rr;

		rc = do_read(chain_nodes[1][m], 1, chain1_ver, chain_targets[1][m], ABORT_INO, 0, 0,
			     CS, got, &rr);
		len = rr.length;
		vers[m] = rr.commit_ver;
		if (rc != 0 || len != sizeof(want) || memcmp(got, want, sizeof(want)) != 0) {
			bad++;
			diag("member %d: rc %d len %u v%llu %s", m, rc, len,
			     (unsigned long long)rr.commit_ver,
			     rc == 0 && len == sizeof(b) && memcmp(got, b, 100) == 0
				     ? "(kept the dropped write B)" : "");
		}
	}
	is_int(bad, 0, "every replica holds A with the last write, none kept B");
	ok(vers[0] == vers[1] && vers[1] == vers[2] && vers[0] >= 3,
	   "replicas agree on a commit version past the dropped one");
}

static void batches(void)
{
	enum { N = 6, L = 20000 };
	struct storage_write_io ios[N];
	struct storage_write_req m = { N, ios };
	static uint8_t data[N][L], got[N][L];
	struct iovec iov[N];
	struct c3_buf b = C3_BUF_INIT;
	struct rpc_call call;
	struct storage_batch_rsp rsp;
	int rc, bad = 0;

	for (int i = 0; i < N; i++) {
		fill(data[i], L, 1000 + (uint32_t)i);
		memset(&ios[i], 0, sizeof(ios[i]));
		ios[i].route = (struct storage_route){ 2, 1, 22 };
		ios[i].chunk = (struct storage_chunk_id){ 9000, (uint32_t)i };
		ios[i].offset = 0;
		ios[i].length = L;
		ios[i].chunk_size = CS;
		ios[i].crc = c3_crc32c(0, data[i], L);
		iov[i].iov_base = data[i];
		iov[i].iov_len = L;
	}
	/* the last io rewrites chunk 0 at an offset: same chunk twice -> applied in order */
	ios[N - 1].chunk.index = 0;
	ios[N - 1].offset = 100;
	storage_write_req_encode(&m, &b);
	rpc_call_init(&call, STORAGE_T_WRITE, b.data, b.len);
	call.bulk = iov;
	call.nbulk = N;
	call.timeout_ms = 20000;
	rc = rpc_call_start(cli, addrs[2], &call);
	if (rc == 0)
		rc = rpc_call_wait(&call);
	if (rc == 0 && (rc = storage_batch_rsp_decode(call.resp.data, call.resp.len, &rsp)) == 0) {
		for (uint32_t i = 0; i < rsp.nresults; i++)
			bad += rsp.results[i].status != 0;
		bad += rsp.nresults != N;
		storage_batch_rsp_release(&rsp);
	}
	c3_buf_release(&call.resp);
	c3_buf_release(&b);
	is_int(rc, 0, "write batch of 6 ios");
	is_int(bad, 0, "every io acknowledged");
	{
		/* read batch from the tail: chunk 0 (first L bytes), chunk 1 past its end (short),
		 * a hole, chunk 2 whole */
		struct storage_read_io rios[4] = {
			{ { 2, 1, 12 }, { 9000, 0 }, 0, L, 0 },
			{ { 2, 1, 12 }, { 9000, 1 }, L - 500, L, 0 },
			{ { 2, 1, 12 }, { 9000, 77 }, 0, L, 0 },
			{ { 2, 1, 12 }, { 9000, 2 }, 0, L, 0 },
		};
		struct storage_read_req rm = { 4, rios };
		struct iovec riov[4];
		uint8_t want0[L];

		for (int i = 0; i < 4; i++) {
			memset(got[i], 0xEE, L);
			riov[i].iov_base = got[i];
			riov[i].iov_len = L;
		}
		storage_read_req_encode(&rm, &b);
		rpc_call_init(&call, STORAGE_T_READ, b.data, b.len);
		call.resp_bulk = riov;
		call.nresp_bulk = 4;
		call.timeout_ms = 20000;
		rc = rpc_call_start(cli, addrs[1], &call);
		if (rc == 0)
			rc = rpc_call_wait(&call);
		bad = 0;
		if (rc == 0 && (rc = storage_batch_rsp_decode(call.resp.data, call.resp.len, &rsp)) == 0) {
			bad += rsp.nresults != 4;
			for (uint32_t i = 0; i < rsp.nresults; i++)
				bad += rsp.results[i].status != 0;
			if (rsp.nresults == 4) {
				bad += rsp.results[0].length != L;
				bad += rsp.results[1].length != 500;
				bad += rsp.results[2].length != 0;
				bad += rsp.results[3].length != L;
				bad += rsp.results[3].crc != c3_crc32c(0, data[2], L);
			}
			storage_batch_rsp_release(&rsp);
		}
		is_int(rc, 0, "read batch of 4 ios");
		is_int(bad, 0, "lengths: full, short, hole, full; CRC of the data");
		memcpy(want0, data[0], L);
		memcpy(want0 + 100, data[N - 1], L - 100);
		ok(memcmp(got[0], want0, L) == 0, "same-chunk ios of one batch applied in order");
		ok(memcmp(got[1], data[1] + L - 500, 500) == 0, "short read data in its slot");
		{
			int zero = 1;

			for (int i = 500; i < L; i++)
				zero &= got[1][i] == 0;
			for (int i = 0; i < L; i++)
				zero &= got[2][i] == 0;
			ok(zero, "slot padding and the hole are zeros");
		}
		ok(memcmp(got[3], data[2], L) == 0, "last slot holds its own chunk's data");
		ok(call.resp_bulk_len == 4u * L, "reply bulk is exactly the sum of io lengths");
		c3_buf_release(&call.resp);
		c3_buf_release(&b);
	}
}

static int scan_log(int n)
{
	char cmd[4400];

	snprintf(cmd, sizeof(cmd),
		 "grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|assertion failed' %s/node%d.log",
		 root, n);
	return system(cmd) == 0 ? -1 : 0;
}

int main(void)
{
	const char *bindir = getenv("C3FS_BIN_DIR");
	struct rpc_client_opts co = { .token = "tok" };
	struct storage_io_result r;
	uint8_t d[4096], got[4096];
	int rc = -1, keep;

	snprintf(bin, sizeof(bin), "%s/c3fs-storage", bindir ? bindir : "build/asan/bin");
	if (access(bin, X_OK) != 0)
		tap_skip_all("c3fs-storage not built");
	if (!mkdtemp(root))
		tap_skip_all("no temp dir");
	snprintf(chainfile, sizeof(chainfile), "%s/chains", root);
	for (int n = 1; n <= NNODES; n++) {
		ports[n] = free_port();
		snprintf(addrs[n], sizeof(addrs[n]), "127.0.0.1:%d", ports[n]);
	}
	{
		char t13[4300], t14[4300];
		FILE *f;

		snprintf(t13, sizeof(t13), "%s/t13", root);
		snprintf(t14, sizeof(t14), "%s/t14", root);
		mkdir(t13, 0700);
		have_tmpfs = mount("tmpfs", t13, "tmpfs", 0, "size=2m,mode=0700") == 0;
		f = fopen(t14, "w"); /* a regular file where a directory should be */
		if (f)
			fclose(f);
		snprintf(extra_targets, sizeof(extra_targets), ",13:%s/t13,14:%s/t14/sub", root, root);
	}
	write_chain_file(1);
	{
		char e[32];

		snprintf(e, sizeof(e), "%d", ABORT_INO);
		setenv("C3FS_TEST_HEAD_COMMIT_ENOSPC_INODE", e, 1); /* test builds: see service.c */
	}
	for (int n = 1; n <= NNODES; n++)
		pids[n] = start_node(n);
	for (int n = 1; n <= NNODES; n++)
		wait_listening(n);
	if (rpc_client_new(&co, &cli) != 0)
		tap_skip_all("rpc client");

	fill(d, sizeof(d), 1);
	for (int i = 0; i < 200 && rc != 0; i++) {
		rc = do_write(1, 1, 1, 11, 1, 0, 0, d, sizeof(d), NULL, &r);
		if (rc)
			c3_sleep_ms(100);
	}
	is_int(rc, 0, "first write through the chain");
	for (int m = 0; m < 3; m++) {
		memset(got, 0, sizeof(got));
		rc = do_read(chain_nodes[1][m], 1, 1, chain_targets[1][m], 1, 0, 0, sizeof(got), got, &r);
		ok(rc == 0 && r.length == sizeof(d) && memcmp(got, d, sizeof(d)) == 0 &&
		   r.commit_ver == 1, "replica has the write at version 1");
	}
	is_int(do_read(3, 1, 1, 31, 999, 0, 0, sizeof(got), got, &r), 0, "read of a missing chunk");
	is_int(r.length, 0, "is a hole");

	not_head();
	concurrent_writers();
	checksum_flip();
	repair_rules();
	divergent_replica();
	exactly_once();
	truncate_query_remove();
	batches();
	missed_update();
	aborted_version_not_reused();
	failed_and_full_targets();
	stale_chain_version();
	dead_successor();

	rpc_client_free(cli);
	for (int n = 1; n <= NNODES; n++) {
		int st = 0;

		if (!pids[n])
			continue;
		kill(pids[n], SIGTERM);
		waitpid(pids[n], &st, 0);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "daemon exits cleanly on SIGTERM");
		if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			diag("node %d status 0x%x", n, st);
	}
	for (int n = 1; n <= NNODES; n++)
		ok(scan_log(n) == 0, "no sanitizer report in the daemon log");
	if (have_tmpfs) {
		char t13[4300];

		snprintf(t13, sizeof(t13), "%s/t13", root);
		umount2(t13, MNT_DETACH);
	}
	keep = tap_done();
	if (keep == 0) {
		char cmd[4200];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
		if (system(cmd) != 0)
			diag("cleanup failed");
	} else {
		diag("kept %s", root);
	}
	return keep;
}
