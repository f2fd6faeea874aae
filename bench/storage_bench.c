/* storage_bench.c — c3fs-bench-storage: throughput/IOPS of one storage chain vs the local FS.
 *
 *   c3fs-bench-storage --mode c3fs --chain-file F [--chain 1] [--token T] TEST OPTIONS
 *   c3fs-bench-storage --mode local --dir D TEST OPTIONS
 *   c3fs-bench-storage --mode engine --dir D TEST OPTIONS   (the chunk engine in-process:
 *       lock/stage/commit per write, verified reads; no RPC, no replication)
 * TEST: --test seqwrite|seqread|randread   OPTIONS: --bs BYTES --total BYTES --qd N
 *       --chunk-size BYTES --seconds S (randread) --inode N
 *       --journal 0|1 (engine mode: storage.journal, default 1)
 *
 * c3fs mode writes to the chain head (every write is replicated to all members and
 * committed with fsync before it is acknowledged), reads round robin over the serving
 * replicas.  local mode does the same bytes with pwrite + fdatasync per request (one copy)
 * and pread.  qd = number of threads each with one request in flight.
 * Output: one line "RESULT <test> <value> <unit>".
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/crc32c.h"
#include "common/errors.h"
#include "net/rpc.h"
#include "proto/storage.h"
#include "storage/chainfile.h"
#include "storage/chunk.h"

struct bench {
	const char *mode, *test, *dir, *chain_file, *token;
	uint32_t chain, bs, chunk_size, qd, seconds;
	uint64_t total, inode;
	int journal;
	/* c3fs */
	struct rpc_client *cli;
	struct routing_info *ri;
	const struct routing_chain *c;
	char addr[ROUTING_MAX_REPLICAS][ROUTING_ADDR_MAX];
	uint32_t members;
	/* local */
	int fd;
	/* engine */
	struct chunk_store *cs;
	/* progress */
	atomic_uint_fast64_t next, ops, errors;
	uint64_t deadline_ns;
};

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	if (*end == 'K' || *end == 'k')
		v <<= 10;
	else if (*end == 'M' || *end == 'm')
		v <<= 20;
	else if (*end == 'G' || *end == 'g')
		v <<= 30;
	return v;
}

static int c3fs_write(struct bench *b, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct storage_write_io io;
	struct storage_write_req m = { 1, &io };
	struct c3_buf req = C3_BUF_INIT;
	struct rpc_call call;
	struct iovec iov = { (void *)data, len };
	struct storage_batch_rsp rsp;
	int rc;

	memset(&io, 0, sizeof(io));
	io.route.chain_id = b->chain;
	io.route.chain_ver = b->c->version;
	io.route.target_id = b->c->targets[0];
	io.chunk.inode = b->inode;
	io.chunk.index = (uint32_t)(off / b->chunk_size);
	io.offset = (uint32_t)(off % b->chunk_size);
	io.length = len;
	io.chunk_size = b->chunk_size;
	io.crc = c3_crc32c(0, data, len);
	storage_write_req_encode(&m, &req);
	rpc_call_init(&call, STORAGE_T_WRITE, req.data, req.len);
	call.bulk = &iov;
	call.nbulk = 1;
	call.timeout_ms = 60000;
	rc = rpc_call_start(b->cli, b->addr[0], &call);
	if (rc == 0)
		rc = rpc_call_wait(&call);
	if (rc == 0 && storage_batch_rsp_decode(call.resp.data, call.resp.len, &rsp) == 0) {
		rc = rsp.nresults == 1 ? rsp.results[0].status : -C3FS_EBADMSG;
		storage_batch_rsp_release(&rsp);
	}
	c3_buf_release(&call.resp);
	c3_buf_release(&req);
	return rc;
}

static int c3fs_read(struct bench *b, uint32_t member, uint64_t off, uint8_t *buf, uint32_t len)
{
	struct storage_read_io io;
	struct storage_read_req m = { 1, &io };
	struct c3_buf req = C3_BUF_INIT;
	struct rpc_call call;
	struct iovec iov = { buf, len };
	struct storage_batch_rsp rsp;
	int rc;

	memset(&io, 0, sizeof(io));
	io.route.chain_id = b->chain;
	io.route.chain_ver = b->c->version;
	io.route.target_id = b->c->targets[member];
	io.chunk.inode = b->inode;
	io.chunk.index = (uint32_t)(off / b->chunk_size);
	io.offset = (uint32_t)(off % b->chunk_size);
	io.length = len;
	storage_read_req_encode(&m, &req);
	rpc_call_init(&call, STORAGE_T_READ, req.data, req.len);
	call.resp_bulk = &iov;
	call.nresp_bulk = 1;
	call.timeout_ms = 60000;
	rc = rpc_call_start(b->cli, b->addr[member], &call);
	if (rc == 0)
		rc = rpc_call_wait(&call);
	if (rc == 0 && storage_batch_rsp_decode(call.resp.data, call.resp.len, &rsp) == 0) {
		rc = rsp.nresults == 1 ? rsp.results[0].status : -C3FS_EBADMSG;
		if (rc == 0 && rsp.results[0].length != len)
			rc = -EIO;
		storage_batch_rsp_release(&rsp);
	}
	c3_buf_release(&call.resp);
	c3_buf_release(&req);
	return rc;
}

static int engine_write(struct bench *b, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct chunk_id id = { b->inode, (uint32_t)(off / b->chunk_size) };
	struct chunk_update u;
	struct chunk_info info;
	int rc = chunk_store_lock(b->cs, id);

	if (rc)
		return rc;
	memset(&u, 0, sizeof(u));
	u.type = CHUNK_UPD_WRITE;
	u.offset = (uint32_t)(off % b->chunk_size);
	u.length = len;
	u.chunk_size = b->chunk_size;
	u.data = data;
	u.version = chunk_store_stat(b->cs, id, &info) == 0 ? info.commit_ver + 1 : 1;
	rc = chunk_store_stage(b->cs, id, &u);
	if (rc == 0)
		rc = chunk_store_commit(b->cs, id, u.version, 1);
	else
		chunk_store_abort(b->cs, id);
	chunk_store_unlock(b->cs, id);
	return rc;
}

static int engine_read(struct bench *b, uint64_t off, uint8_t *buf, uint32_t len)
{
	struct chunk_id id = { b->inode, (uint32_t)(off / b->chunk_size) };
	struct chunk_read rd;
	int rc = chunk_store_read(b->cs, id, (uint32_t)(off % b->chunk_size), len, false, &rd);

	if (rc == 0 && rd.length != len)
		rc = -EIO;
	if (rc == 0)
		memcpy(buf, rd.data, len); /* as a server would hand them to the socket */
	chunk_read_release(&rd);
	return rc;
}

static void *worker(void *arg)
{
	struct bench *b = arg;
	uint32_t bs = !strcmp(b->test, "randread") ? 4096 : b->bs;
	uint8_t *buf;
	unsigned seed = (unsigned)(uintptr_t)&buf;
	uint64_t nreq = b->total / b->bs;
	int local = !strcmp(b->mode, "local"), engine = !strcmp(b->mode, "engine");

	if (posix_memalign((void **)&buf, 4096, bs))
		return NULL;
	for (uint32_t i = 0; i < bs; i++)
		buf[i] = (uint8_t)rand_r(&seed);
	for (;;) {
		uint64_t i, off;
		int rc;

		if (!strcmp(b->test, "randread")) {
			if (c3_now_ns() >= b->deadline_ns)
				break;
			i = atomic_fetch_add(&b->next, 1);
			off = ((uint64_t)rand_r(&seed) * 7919u % (b->total / 4096)) * 4096;
		} else {
			i = atomic_fetch_add(&b->next, 1);
			if (i >= nreq)
				break;
			off = i * b->bs;
		}
		if (local) {
			if (!strcmp(b->test, "seqwrite"))
				rc = pwrite(b->fd, buf, bs, (off_t)off) == (ssize_t)bs &&
				     fdatasync(b->fd) == 0 ? 0 : -errno;
			else
				rc = pread(b->fd, buf, bs, (off_t)off) == (ssize_t)bs ? 0 : -EIO;
		} else if (engine) {
			rc = !strcmp(b->test, "seqwrite") ? engine_write(b, off, buf, bs)
							  : engine_read(b, off, buf, bs);
		} else if (!strcmp(b->test, "seqwrite")) {
			rc = c3fs_write(b, off, buf, bs);
		} else {
			rc = c3fs_read(b, (uint32_t)(i % b->members), off, buf, bs);
		}
		if (rc) {
			if (atomic_fetch_add(&b->errors, 1) < 5)
				fprintf(stderr, "request at %llu: %s\n", (unsigned long long)off,
					c3_strerror(rc));
		} else {
			atomic_fetch_add(&b->ops, 1);
		}
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench b;
	pthread_t th[256];
	uint64_t t0, ns;
	char msg[256];
	int rc;

	memset(&b, 0, sizeof(b));
	b.mode = "c3fs";
	b.test = "seqwrite";
	b.chain = 1;
	b.bs = 1u << 20;
	b.chunk_size = 4u << 20;
	b.qd = 1;
	b.total = 256ull << 20;
	b.seconds = 5;
	b.inode = 1;
	b.journal = 1;
	b.token = "";
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--mode")) b.mode = v;
		else if (!strcmp(k, "--test")) b.test = v;
		else if (!strcmp(k, "--dir")) b.dir = v;
		else if (!strcmp(k, "--chain-file")) b.chain_file = v;
		else if (!strcmp(k, "--token")) b.token = v;
		else if (!strcmp(k, "--chain")) b.chain = (uint32_t)atoi(v);
		else if (!strcmp(k, "--bs")) b.bs = (uint32_t)parse_size(v);
		else if (!strcmp(k, "--chunk-size")) b.chunk_size = (uint32_t)parse_size(v);
		else if (!strcmp(k, "--total")) b.total = parse_size(v);
		else if (!strcmp(k, "--qd")) b.qd = (uint32_t)atoi(v);
		else if (!strcmp(k, "--seconds")) b.seconds = (uint32_t)atoi(v);
		else if (!strcmp(k, "--inode")) b.inode = strtoull(v, NULL, 10);
		else if (!strcmp(k, "--journal")) b.journal = atoi(v);
		else {
			fprintf(stderr, "unknown option %s\n", k);
			return 2;
		}
	}
	if (b.qd < 1 || b.qd > 256 || !b.bs || b.bs > b.chunk_size || b.chunk_size % b.bs ||
	    b.total < b.bs) {
		fprintf(stderr, "bad sizes\n");
		return 2;
	}
	if (!strcmp(b.mode, "engine")) {
		struct chunk_store_opts eo = { .target_id = 1, .io_engine = CHUNK_IO_URING,
					       .no_journal = !b.journal };

		rc = chunk_store_open(b.dir ? b.dir : "./engine", &eo, &b.cs);
		if (rc) {
			fprintf(stderr, "chunk store: %s\n", c3_strerror(rc));
			return 1;
		}
	} else if (!strcmp(b.mode, "local")) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/bench.dat", b.dir ? b.dir : ".");
		b.fd = open(path, O_RDWR | O_CREAT, 0644);
		if (b.fd < 0) {
			perror(path);
			return 1;
		}
	} else {
		struct rpc_client_opts co = { .token = b.token, .conns_per_peer = (int)b.qd };

		b.ri = b.chain_file ? storage_chainfile_load(b.chain_file, &rc, msg, sizeof(msg)) : NULL;
		if (!b.ri) {
			fprintf(stderr, "chain file: %s\n", b.chain_file ? msg : "missing --chain-file");
			return 1;
		}
		b.c = routing_chain_find(b.ri, b.chain);
		if (!b.c) {
			fprintf(stderr, "no chain %u\n", b.chain);
			return 1;
		}
		for (uint32_t m = 0; m < b.c->ntargets; m++) {
			const struct routing_target *t = routing_target_find(b.ri, b.c->targets[m]);
			const struct routing_node *n = t ? routing_node_find(b.ri, t->node_id) : NULL;

			if (!n)
				return 1;
			snprintf(b.addr[m], sizeof(b.addr[m]), "%s", n->addr);
		}
		b.members = b.c->ntargets;
		if (rpc_client_new(&co, &b.cli)) {
			fprintf(stderr, "rpc client\n");
			return 1;
		}
	}
	b.deadline_ns = c3_now_ns() + (uint64_t)b.seconds * 1000000000ull;
	t0 = c3_now_ns();
	for (uint32_t i = 0; i < b.qd; i++)
		pthread_create(&th[i], NULL, worker, &b);
	for (uint32_t i = 0; i < b.qd; i++)
		pthread_join(th[i], NULL);
	ns = c3_now_ns() - t0;
	if (!strcmp(b.test, "randread"))
		printf("RESULT %s %.0f IOPS\n", b.test, (double)b.ops * 1e9 / (double)ns);
	else
		printf("RESULT %s %.1f MiB/s\n", b.test,
		       (double)b.ops * b.bs / (1024.0 * 1024.0) * 1e9 / (double)ns);
	if (b.cli)
		rpc_client_free(b.cli);
	chunk_store_close(b.cs);
	routing_unref(b.ri);
	if (b.fd > 0)
		close(b.fd);
	return b.errors ? 1 : 0;
}
