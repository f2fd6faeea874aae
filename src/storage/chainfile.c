/* chainfile.c — parser of the static chain file (format in chainfile.h).
 *
 * The file is operator input: every field is checked and a bad line is reported with its
 * number; nothing is asserted.  Arrays grow geometrically while parsing; the result is
 * sorted and validated with the cluster module's own rules before it is returned.
 */
#include "storage/chainfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/vec.h"

#define CF_MAX_BYTES (4u << 20)

static bool cf_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static bool cf_id(const char *s, uint32_t *out)
{
	uint64_t v;

	if (!cf_u64(s, UINT32_MAX, &v) || v == 0)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Parse "a,b,c" ids into out (max entries).  Returns the count or -1. */
static int cf_idlist(char *s, uint32_t *out, int max)
{
	int n = 0;
	char *save = NULL;

	for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == max || !cf_id(tok, &out[n]))
			return -1;
		n++;
	}
	return n;
}

struct routing_info *storage_chainfile_parse(const char *text, int *err, char *msg,
					     size_t msgsz)
{
	struct routing_info *ri = routing_new();
	size_t cap_n = 0, cap_t = 0, cap_c = 0, cap_tb = 0;
	char *copy = NULL, *line, *save = NULL;
	int lineno = 0, rc = 0;

	msg[0] = '\0';
	if (!ri || !(copy = strdup(text))) {
		rc = -ENOMEM;
		goto fail;
	}
	ri->version = 1;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *w[4] = { NULL, NULL, NULL, NULL }, *extra, *ws = NULL, *hash;
		int nw = 0;

		lineno++;
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		for (char *tok = strtok_r(line, " \t\r", &ws); tok && nw < 4;
		     tok = strtok_r(NULL, " \t\r", &ws))
			w[nw++] = tok;
		extra = nw == 4 ? strtok_r(NULL, " \t\r", &ws) : NULL;
		if (nw == 0)
			continue;
		if (extra)
			goto bad;
		if (!strcmp(w[0], "version") && nw == 2) {
			if (!cf_u64(w[1], UINT64_MAX, &ri->version) || ri->version == 0)
				goto bad;
		} else if (!strcmp(w[0], "node") && nw == 3) {
			struct routing_node *n;

			if ((rc = C3_ARRAY_RESERVE(ri->nodes, cap_n, ri->nnodes + 1)))
				goto fail;
			n = memset(&ri->nodes[ri->nnodes], 0, sizeof(*n));
			if (!cf_id(w[1], &n->node_id) || strlen(w[2]) >= ROUTING_ADDR_MAX ||
			    !strchr(w[2], ':'))
				goto bad;
			n->type = NODE_STORAGE;
			n->state = NODE_UP;
			strcpy(n->addr, w[2]);
			ri->nnodes++;
		} else if (!strcmp(w[0], "target") && (nw == 3 || nw == 4)) {
			struct routing_target *t;
			int st = TARGET_SERVING;

			if ((rc = C3_ARRAY_RESERVE(ri->targets, cap_t, ri->ntargets + 1)))
				goto fail;
			t = memset(&ri->targets[ri->ntargets], 0, sizeof(*t));
			if (nw == 4 && (st = target_state_parse(w[3])) < 0)
				goto bad;
			if (!cf_id(w[1], &t->target_id) || !cf_id(w[2], &t->node_id))
				goto bad;
			t->state = (uint8_t)st;
			t->local_state = st == TARGET_SERVING ? TARGET_LOCAL_UPTODATE : TARGET_LOCAL_ONLINE;
			ri->ntargets++;
		} else if (!strcmp(w[0], "chain") && nw == 4) {
			struct routing_chain *c;
			uint64_t ver;
			int n;

			if ((rc = C3_ARRAY_RESERVE(ri->chains, cap_c, ri->nchains + 1)))
				goto fail;
			c = memset(&ri->chains[ri->nchains], 0, sizeof(*c));
			if (!cf_id(w[1], &c->chain_id) || !cf_u64(w[2], UINT32_MAX, &ver) || ver == 0)
				goto bad;
			c->version = (uint32_t)ver;
			n = cf_idlist(w[3], c->targets, ROUTING_MAX_REPLICAS);
			if (n <= 0)
				goto bad;
			c->ntargets = (uint32_t)n;
			ri->nchains++;
		} else if (!strcmp(w[0], "table") && nw == 4) {
			struct routing_chain_table *tb;
			uint32_t ids[1024];
			int n;

			if ((rc = C3_ARRAY_RESERVE(ri->tables, cap_tb, ri->ntables + 1)))
				goto fail;
			tb = memset(&ri->tables[ri->ntables], 0, sizeof(*tb));
			if (!cf_id(w[1], &tb->table_id) || strlen(w[2]) >= sizeof(tb->name))
				goto bad;
			n = cf_idlist(w[3], ids, 1024);
			if (n <= 0)
				goto bad;
			tb->chains = malloc(sizeof(uint32_t) * (size_t)n);
			if (!tb->chains) {
				rc = -ENOMEM;
				goto fail;
			}
			memcpy(tb->chains, ids, sizeof(uint32_t) * (size_t)n);
			tb->nchains = (uint32_t)n;
			tb->version = 1;
			strcpy(tb->name, w[2]);
			ri->ntables++;
		} else {
			goto bad;
		}
	}
	/* each member target points back to its chain */
	for (uint32_t i = 0; i < ri->nchains; i++) {
		for (uint32_t j = 0; j < ri->chains[i].ntargets; j++) {
			for (uint32_t k = 0; k < ri->ntargets; k++) {
				if (ri->targets[k].target_id != ri->chains[i].targets[j])
					continue;
				if (ri->targets[k].chain_id) {
					snprintf(msg, msgsz, "target %u is in two chains",
						 ri->targets[k].target_id);
					rc = -C3FS_ECONFIG;
					goto fail;
				}
				ri->targets[k].chain_id = ri->chains[i].chain_id;
			}
		}
	}
	routing_sort(ri);
	if (routing_validate(ri) != 0) {
		snprintf(msg, msgsz, "inconsistent routing (unknown ids, duplicates, or member order)");
		rc = -C3FS_ECONFIG;
		goto fail;
	}
	free(copy);
	*err = 0;
	return ri;
bad:
	snprintf(msg, msgsz, "line %d: cannot parse", lineno);
	rc = -C3FS_ECONFIG;
fail:
	free(copy);
	routing_unref(ri);
	*err = rc;
	return NULL;
}

struct routing_info *storage_chainfile_load(const char *path, int *err, char *msg,
					    size_t msgsz)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	struct routing_info *ri;

	msg[0] = '\0';
	if (!f) {
		*err = -errno;
		snprintf(msg, msgsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(CF_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		*err = -ENOMEM;
		return NULL;
	}
	n = fread(buf, 1, CF_MAX_BYTES + 1, f);
	fclose(f);
	if (n > CF_MAX_BYTES) {
		free(buf);
		*err = -C3FS_ECONFIG;
		snprintf(msg, msgsz, "%s: larger than %u bytes", path, CF_MAX_BYTES);
		return NULL;
	}
	buf[n] = '\0';
	ri = storage_chainfile_parse(buf, err, msg, msgsz);
	free(buf);
	return ri;
}
