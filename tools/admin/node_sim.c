/* node_sim.c — c3fs-node-sim: a stand-in node for mgmtd tests, built on cluster_client.
 *
 * It registers as a storage, meta or client node, heartbeats, and for storage reports
 * the targets given with --targets.  Local states can be changed while it runs through a
 * state file read before every heartbeat (lines "target_id uptodate|online|failed"; a
 * target missing from the file reports --default-state).  Every routing snapshot and
 * lease change is printed as one line on stdout, so scripts can wait for them:
 *   routing <version> leader=<addr>
 *   lease valid|lost
 *   ready node=<id>
 * This is a test tool: it stores nothing and serves no data.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cluster/client.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"

#define SIM_MAX_TARGETS 64

struct sim {
	uint32_t targets[SIM_MAX_TARGETS];
	int ntargets;
	const char *state_file;
	uint8_t default_state;
	uint64_t capacity;
	struct cluster_client *cc;
};

static volatile sig_atomic_t sim_stop;

static void on_signal(int sig)
{
	(void)sig;
	sim_stop = 1;
}

static int parse_local(const char *s)
{
	if (strcasecmp(s, "uptodate") == 0)
		return TARGET_LOCAL_UPTODATE;
	if (strcasecmp(s, "online") == 0)
		return TARGET_LOCAL_ONLINE;
	if (strcasecmp(s, "failed") == 0)
		return TARGET_LOCAL_FAILED;
	return -1;
}

static int collect(void *arg, struct cluster_target_report *out, int max)
{
	struct sim *s = arg;
	uint8_t st[SIM_MAX_TARGETS];
	bool skip[SIM_MAX_TARGETS] = { false };
	FILE *f = s->state_file ? fopen(s->state_file, "r") : NULL;
	int n = 0;

	for (int i = 0; i < s->ntargets; i++)
		st[i] = s->default_state;
	if (f) {
		char line[128], word[32];
		unsigned id;

		while (fgets(line, sizeof(line), f)) {
			int l;

			if (sscanf(line, "%u %31s", &id, word) != 2)
				continue;
			for (int i = 0; i < s->ntargets; i++) {
				if (s->targets[i] != id)
					continue;
				if (strcasecmp(word, "absent") == 0) {
					skip[i] = true;
				} else {
					l = parse_local(word);
					if (l > 0)
						st[i] = (uint8_t)l;
				}
			}
		}
		fclose(f);
	}
	for (int i = 0; i < s->ntargets && n < max; i++) {
		if (skip[i])
			continue;
		out[n].target_id = s->targets[i];
		out[n].local_state = st[i];
		out[n].capacity_bytes = s->capacity;
		out[n].free_bytes = s->capacity / 2 + s->targets[i];
		out[n].sync_done_bytes = 0;
		out[n].sync_total_bytes = 0;
		n++;
	}
	return n;
}

static void on_routing(void *arg, struct routing_info *ri)
{
	struct sim *s = arg;
	char leader[ROUTING_ADDR_MAX] = "";

	struct cluster_client *cc = __atomic_load_n(&s->cc, __ATOMIC_ACQUIRE);

	if (cc)
		cluster_client_leader(cc, leader, sizeof(leader));
	printf("routing %llu leader=%s\n", (unsigned long long)ri->version, leader);
	fflush(stdout);
}

static void on_lease(void *arg, bool valid)
{
	(void)arg;
	printf("lease %s\n", valid ? "valid" : "lost");
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: c3fs-node-sim --mgmtd ADDRS --type storage|meta|client [--node-id N]\n"
		"         [--addr IP:PORT] [--targets ID,ID,...] [--state-file F]\n"
		"         [--default-state uptodate|online|failed] [--token T]\n"
		"         [--heartbeat-ms MS] [--capacity BYTES]\n");
}

int main(int argc, char **argv)
{
	struct cluster_client_opts o;
	struct sim s;
	int rc;
	bool announced = false;

	memset(&o, 0, sizeof(o));
	memset(&s, 0, sizeof(s));
	s.default_state = TARGET_LOCAL_UPTODATE;
	s.capacity = 1ull << 30;
	o.node_addr = "";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			usage();
			return 2;
		}
		i++;
		if (strcmp(a, "--mgmtd") == 0) {
			o.mgmtd_addrs = v;
		} else if (strcmp(a, "--type") == 0) {
			int t = node_type_parse(v);

			if (t < 0 || t == NODE_MGMTD) {
				usage();
				return 2;
			}
			o.node_type = (uint8_t)t;
		} else if (strcmp(a, "--node-id") == 0) {
			o.node_id = (uint32_t)strtoul(v, NULL, 10);
		} else if (strcmp(a, "--addr") == 0) {
			o.node_addr = v;
		} else if (strcmp(a, "--token") == 0) {
			o.token = v;
		} else if (strcmp(a, "--heartbeat-ms") == 0) {
			o.heartbeat_ms = (uint32_t)strtoul(v, NULL, 10);
		} else if (strcmp(a, "--capacity") == 0) {
			s.capacity = strtoull(v, NULL, 10);
		} else if (strcmp(a, "--state-file") == 0) {
			s.state_file = v;
		} else if (strcmp(a, "--default-state") == 0) {
			int l = parse_local(v);

			if (l < 0) {
				usage();
				return 2;
			}
			s.default_state = (uint8_t)l;
		} else if (strcmp(a, "--targets") == 0) {
			char *copy = strdup(v), *save = NULL;

			for (char *t = strtok_r(copy, ",", &save); t && s.ntargets < SIM_MAX_TARGETS;
			     t = strtok_r(NULL, ",", &save))
				s.targets[s.ntargets++] = (uint32_t)strtoul(t, NULL, 10);
			free(copy);
		} else {
			usage();
			return 2;
		}
	}
	if (!o.mgmtd_addrs || !o.node_type) {
		usage();
		return 2;
	}
	c3_log_set_identity("node-sim", o.node_id);
	o.collect_targets = s.ntargets ? collect : NULL;
	o.on_routing = on_routing;
	o.on_lease = on_lease;
	o.arg = &s;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	{
		struct cluster_client *cc = NULL;

		rc = cluster_client_new(&o, &cc);
		__atomic_store_n(&s.cc, cc, __ATOMIC_RELEASE);
	}
	if (rc) {
		fprintf(stderr, "c3fs-node-sim: %s\n", c3_strerror(rc));
		return 1;
	}
	while (!sim_stop) {
		if (!announced && cluster_client_wait_ready(s.cc, 100) == 0) {
			printf("ready node=%u\n", cluster_client_node_id(s.cc));
			fflush(stdout);
			announced = true;
		} else {
			c3_sleep_ms(100);
		}
	}
	cluster_client_free(s.cc);
	return 0;
}
