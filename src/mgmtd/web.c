/* web.c — the status page's watcher, event ring, history and JSON handlers (web.h).
 *
 * Threads: the watcher thread polls the leader and replaces the model under w->mu; the
 * HTTP server thread (common/http.c) runs the handlers, which read the model under w->mu
 * and render JSON from memory.  Nothing else touches struct mgmtd_web.
 */
#include "mgmtd/web.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/client.h"
#include "cluster/routing.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/http.h"
#include "common/metrics.h"
#include "net/rpc.h"
#include "proto/mgmtd.h"

#define WEB_EVENTS 256                 /* events kept */
#define WEB_HISTORY 3600               /* samples kept (one per poll: an hour at 1 s) */
#define WEB_RATE_WINDOW 10             /* polls between the snapshots a rate compares */

extern const char mgmtd_web_page[];    /* web_page.c */

struct web_event {
	uint64_t wall_ms;
	char kind[16];                     /* "node", "target", "leader" */
	char msg[200];
};

struct web_sample {
	uint64_t wall_ms;
	uint64_t read_bps, write_bps;      /* served by all targets (writes: every replica) */
	uint64_t iops;                     /* reads + chunk updates per second */
	uint32_t serving, targets;
	uint32_t nodes_up, nodes;
};

/* A target's rates over the last WEB_RATE_WINDOW polls, from the I/O counters its storage
 * process reports (a counter that went back — the process restarted — counts as 0). */
struct web_rate {
	uint64_t read_bps, write_bps, read_iops, write_iops;
	int64_t growth_bps;                /* used space growth per second */
};

struct mgmtd_web {
	char self[ROUTING_ADDR_MAX];
	uint64_t node_lease_ms;
	uint32_t poll_ms;
	struct rpc_client *rpc;
	pthread_t thread;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;                         /* (mu) */
	/* the model: last successful poll (mu) */
	struct routing_info *ri;           /* (mu) NULL before the first answer */
	struct mgmtd_list_nodes_resp nodes;/* (mu) */
	char leader[ROUTING_ADDR_MAX];     /* (mu) who answered the last poll */
	bool self_is_leader;               /* (mu) */
	uint64_t updated_wall_ms;          /* (mu) time of the last successful poll */
	int last_err;                      /* (mu) error of the last poll, 0 = it worked */
	/* rates: the snapshot WEB_RATE_WINDOW polls back (mu) */
	struct routing_info *rate_ri;
	uint64_t rate_wall_ms;
	struct web_rate *rates;            /* (mu) per target of ri, same order; may be NULL */
	struct web_event ev[WEB_EVENTS];   /* (mu) ring */
	uint64_t nev;                      /* (mu) events ever */
	struct web_sample hist[WEB_HISTORY]; /* (mu) ring */
	uint64_t nhist;                    /* (mu) samples ever */
	uint64_t polls;                    /* watcher thread only */
};

static uint64_t wall_ms(void)
{
	return c3_wall_ns() / 1000000ull;
}

static void event_add(struct mgmtd_web *w, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* (mu held) */
static void event_add(struct mgmtd_web *w, const char *kind, const char *fmt, ...)
{
	struct web_event *e = &w->ev[w->nev % WEB_EVENTS];
	va_list ap;

	e->wall_ms = wall_ms();
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	w->nev++;
}

static uint64_t used_of(const struct routing_target *t)
{
	return t->capacity_bytes > t->free_bytes ? t->capacity_bytes - t->free_bytes : 0;
}

/* Events from the difference between the old and the new answer (mu held). */
static void diff_events(struct mgmtd_web *w, const struct routing_info *old,
			const struct routing_info *ri)
{
	for (uint32_t i = 0; i < ri->nnodes; i++) {
		const struct routing_node *n = &ri->nodes[i];
		const struct routing_node *o = routing_node_find(old, n->node_id);

		if (!o)
			event_add(w, "node", "%s node %u registered at %s", node_type_name(n->type),
				  n->node_id, n->addr);
		else if (o->state != n->state && n->state == NODE_DOWN)
			event_add(w, "node", "%s node %u (%s) lost: no heartbeat for a lease",
				  node_type_name(n->type), n->node_id, n->addr);
		else if (o->state != n->state)
			event_add(w, "node", "%s node %u (%s): %s -> %s", node_type_name(n->type),
				  n->node_id, n->addr, node_state_name(o->state),
				  node_state_name(n->state));
	}
	for (uint32_t i = 0; i < ri->ntargets; i++) {
		const struct routing_target *t = &ri->targets[i];
		const struct routing_target *o = routing_target_find(old, t->target_id);

		if (!o || o->state == t->state)
			continue;
		if (o->state == TARGET_SYNCING && t->state == TARGET_SERVING)
			event_add(w, "target", "target %u (chain %u) synced: serving", t->target_id,
				  t->chain_id);
		else
			event_add(w, "target", "target %u (chain %u): %s -> %s", t->target_id,
				  t->chain_id, target_state_name(o->state),
				  target_state_name(t->state));
	}
}

static uint64_t per_s(uint64_t now, uint64_t then, uint64_t dt_ms)
{
	return now > then ? (now - then) * 1000 / dt_ms : 0;
}

/* Rates per target of w->ri against w->rate_ri, a snapshot 1 to WEB_RATE_WINDOW polls
 * older, and their sum (mu held). */
static void compute_rates(struct mgmtd_web *w, uint64_t now, struct web_rate *total)
{
	uint64_t dt = now - w->rate_wall_ms;

	memset(total, 0, sizeof(*total));
	free(w->rates);
	w->rates = calloc(w->ri->ntargets ? w->ri->ntargets : 1, sizeof(*w->rates));
	if (!w->rates || !w->rate_ri || dt == 0)
		return;
	for (uint32_t i = 0; i < w->ri->ntargets; i++) {
		const struct routing_target *t = &w->ri->targets[i];
		const struct routing_target *o = routing_target_find(w->rate_ri, t->target_id);
		struct web_rate *r = &w->rates[i];

		if (!o)
			continue;
		r->growth_bps = ((int64_t)used_of(t) - (int64_t)used_of(o)) * 1000 / (int64_t)dt;
		r->read_bps = per_s(t->read_bytes, o->read_bytes, dt);
		r->write_bps = per_s(t->write_bytes, o->write_bytes, dt);
		r->read_iops = per_s(t->read_ops, o->read_ops, dt);
		r->write_iops = per_s(t->write_ops, o->write_ops, dt);
		total->read_bps += r->read_bps;
		total->write_bps += r->write_bps;
		total->read_iops += r->read_iops;
		total->write_iops += r->write_iops;
	}
}

/* (mu held) */
static void sample_add(struct mgmtd_web *w, uint64_t now, const struct web_rate *tot)
{
	struct web_sample *s = &w->hist[w->nhist % WEB_HISTORY];

	memset(s, 0, sizeof(*s));
	s->wall_ms = now;
	s->read_bps = tot->read_bps;
	s->write_bps = tot->write_bps;
	s->iops = tot->read_iops + tot->write_iops;
	if (w->ri) {
		s->targets = w->ri->ntargets;
		for (uint32_t i = 0; i < w->ri->ntargets; i++)
			s->serving += w->ri->targets[i].state == TARGET_SERVING;
		for (uint32_t i = 0; i < w->ri->nnodes; i++) {
			s->nodes++;
			s->nodes_up += w->ri->nodes[i].state == NODE_UP;
		}
	}
	w->nhist++;
}

/* One poll of the leader, through this mgmtd (a standby redirects). */
static void poll_once(struct mgmtd_web *w)
{
	struct mgmtd_get_routing_req q = { 0 };
	struct mgmtd_get_routing_resp rr = { 0 };
	struct mgmtd_list_nodes_resp ln = { 0 };
	struct mgmtd_leader_resp lr;
	struct c3_buf req = C3_BUF_INIT, resp = C3_BUF_INIT;
	char leader[ROUTING_ADDR_MAX] = "";
	uint32_t tmo = w->poll_ms * 2 < 3000 ? 3000 : w->poll_ms * 2;
	uint64_t now;
	struct web_rate tot;
	int rc;

	memset(&lr, 0, sizeof(lr));
	rc = cluster_mgmtd_call(w->rpc, w->self, NULL, 0, MGMTD_T_GET_LEADER, NULL, 0, &resp, tmo);
	if (rc == 0)
		rc = mgmtd_leader_resp_decode(resp.data, resp.len, &lr);
	c3_buf_reset(&resp);
	mgmtd_get_routing_req_encode(&q, &req);
	if (rc == 0)
		rc = cluster_mgmtd_call(w->rpc, w->self, leader, sizeof(leader), MGMTD_T_GET_ROUTING,
					req.data, req.len, &resp, tmo);
	if (rc == 0)
		rc = mgmtd_get_routing_resp_decode(resp.data, resp.len, &rr);
	if (rc == 0 && !rr.ri)
		rc = -C3FS_ENOROUTING;
	c3_buf_reset(&resp);
	if (rc == 0)
		rc = cluster_mgmtd_call(w->rpc, w->self, leader, sizeof(leader), MGMTD_T_LIST_NODES,
					NULL, 0, &resp, tmo);
	if (rc == 0)
		rc = mgmtd_list_nodes_resp_decode(resp.data, resp.len, &ln);
	c3_buf_release(&req);
	c3_buf_release(&resp);

	now = wall_ms();
	pthread_mutex_lock(&w->mu);
	if (rc != 0) {
		if (w->last_err == 0)
			event_add(w, "leader", "no mgmtd leader answers: %s", c3_strerror(rc));
		w->last_err = rc;
		routing_unref(rr.ri);
		/* no sample: a gap in the graphs, not a fake "nothing serving" */
		pthread_mutex_unlock(&w->mu);
		return;
	}
	if (w->last_err != 0)
		event_add(w, "leader", "mgmtd leader %s answers again", leader);
	if (w->leader[0] && strcmp(w->leader, leader) != 0)
		event_add(w, "leader", "leader changed: %s -> %s", w->leader, leader);
	else if (!w->ri)
		event_add(w, "leader", "status page started; leader is %s", leader);
	if (w->ri)
		diff_events(w, w->ri, rr.ri);
	w->last_err = 0;
	snprintf(w->leader, sizeof(w->leader), "%s", leader);
	w->self_is_leader = lr.self_is_leader;
	routing_unref(w->ri);
	w->ri = rr.ri;
	mgmtd_list_nodes_resp_release(&w->nodes);
	w->nodes = ln;
	w->updated_wall_ms = now;
	compute_rates(w, now, &tot);
	if (!w->rate_ri || w->polls % WEB_RATE_WINDOW == 0) {
		routing_unref(w->rate_ri);
		routing_ref(w->ri);
		w->rate_ri = w->ri;
		w->rate_wall_ms = now;
	}
	sample_add(w, now, &tot);
	pthread_mutex_unlock(&w->mu);
}

static void *watcher(void *arg)
{
	struct mgmtd_web *w = arg;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		struct timespec ts;

		pthread_mutex_unlock(&w->mu);
		poll_once(w);
		w->polls++;
		pthread_mutex_lock(&w->mu);
		ts = c3_deadline_after_ms(w->poll_ms);
		if (!w->stop)
			pthread_cond_timedwait(&w->cond, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ------------------------------------------------------------------ JSON */

static const char *chain_health(const struct routing_info *ri, const struct routing_chain *c)
{
	uint32_t serving = 0;

	for (uint32_t k = 0; k < c->ntargets; k++)
		serving += routing_member_state(ri, c->targets[k]) == TARGET_SERVING;
	return serving == 0 ? "unavailable" : serving == c->ntargets ? "healthy" : "degraded";
}

static void json_begin(struct c3_http_resp *resp)
{
	resp->ctype = "application/json";
}

/* Common head of every answer: where the data comes from and how old it is (mu held). */
static void json_source(const struct mgmtd_web *w, struct c3_buf *b)
{
	uint64_t now = wall_ms();

	c3_buf_printf(b, "\"served_by\":");
	c3_http_json_str(b, w->self);
	c3_buf_printf(b, ",\"leader\":");
	c3_http_json_str(b, w->last_err ? "" : w->leader);
	c3_buf_printf(b, ",\"served_by_leader\":%s,\"age_ms\":%lld,\"error\":",
		      w->self_is_leader && !w->last_err ? "true" : "false",
		      w->updated_wall_ms ? (long long)(now - w->updated_wall_ms) : -1LL);
	c3_http_json_str(b, w->last_err ? c3_strerror(w->last_err) : "");
}

/* Start a JSON answer of the list kind: takes mu, writes '{' and the common head; the
 * handler then writes ",\"KEY\":[" and the items, and json_close() ends it. */
static void json_open(struct mgmtd_web *w, struct c3_http_resp *resp)
{
	json_begin(resp);
	pthread_mutex_lock(&w->mu);
	c3_buf_printf(&resp->body, "{");
	json_source(w, &resp->body);
}

/* End what json_open() began: closes the list and the object, drops mu. */
static void json_close(struct mgmtd_web *w, struct c3_buf *b)
{
	c3_buf_printf(b, "]}\n");
	pthread_mutex_unlock(&w->mu);
}

static void h_health(void *arg, const struct c3_http_req *req, struct c3_http_resp *resp)
{
	struct mgmtd_web *w = arg;
	struct c3_buf *b = &resp->body;
	uint32_t ns[4] = { 0 }, ts[6] = { 0 }, ch[3] = { 0 };
	uint64_t cap = 0, freeb = 0;
	const char *status;

	(void)req;
	json_begin(resp);
	pthread_mutex_lock(&w->mu);
	if (w->ri) {
		for (uint32_t i = 0; i < w->ri->nnodes; i++)
			if (w->ri->nodes[i].state >= 1 && w->ri->nodes[i].state <= 3)
				ns[w->ri->nodes[i].state]++;
		for (uint32_t i = 0; i < w->ri->ntargets; i++) {
			if (w->ri->targets[i].state >= 1 && w->ri->targets[i].state <= 5)
				ts[w->ri->targets[i].state]++;
			cap += w->ri->targets[i].capacity_bytes;
			freeb += w->ri->targets[i].free_bytes;
		}
		for (uint32_t i = 0; i < w->ri->nchains; i++) {
			const char *h = chain_health(w->ri, &w->ri->chains[i]);

			ch[h[0] == 'h' ? 0 : h[0] == 'd' ? 1 : 2]++;
		}
	}
	status = w->last_err || !w->ri ? "no-leader" : ch[2] ? "unavailable" :
		 ch[1] || ns[NODE_DOWN] ? "degraded" : "healthy";
	c3_buf_printf(b, "{\"status\":\"%s\",", status);
	json_source(w, b);
	c3_buf_printf(b, ",\"routing_version\":%llu,\"node_lease_ms\":%llu,"
		      "\"nodes\":{\"up\":%u,\"down\":%u,\"maintenance\":%u},"
		      "\"targets\":{\"total\":%u,\"serving\":%u,\"syncing\":%u,\"waiting\":%u,"
		      "\"lastsrv\":%u,\"offline\":%u},"
		      "\"chains\":{\"total\":%u,\"healthy\":%u,\"degraded\":%u,\"unavailable\":%u},"
		      "\"capacity_bytes\":%llu,\"free_bytes\":%llu}\n",
		      w->ri ? (unsigned long long)w->ri->version : 0ull,
		      (unsigned long long)w->node_lease_ms, ns[NODE_UP], ns[NODE_DOWN],
		      ns[NODE_MAINTENANCE], w->ri ? w->ri->ntargets : 0, ts[TARGET_SERVING],
		      ts[TARGET_SYNCING], ts[TARGET_WAITING], ts[TARGET_LASTSRV],
		      ts[TARGET_OFFLINE], w->ri ? w->ri->nchains : 0, ch[0], ch[1], ch[2],
		      (unsigned long long)cap, (unsigned long long)freeb);
	pthread_mutex_unlock(&w->mu);
}

static void h_nodes(void *arg, const struct c3_http_req *req, struct c3_http_resp *resp)
{
	struct mgmtd_web *w = arg;
	struct c3_buf *b = &resp->body;

	(void)req;
	json_open(w, resp);
	c3_buf_printf(b, ",\"nodes\":[");
	/* list-nodes has every node (clients too); routing has the public state */
	for (uint32_t i = 0; i < w->nodes.n; i++) {
		const struct mgmtd_node_entry *e = &w->nodes.nodes[i];
		const struct routing_node *rn = w->ri ? routing_node_find(w->ri, e->node_id) : NULL;

		c3_buf_printf(b, "%s{\"id\":%u,\"type\":\"%s\",\"state\":\"%s\",\"addr\":",
			      i ? "," : "", e->node_id, node_type_name(e->type),
			      node_state_name(rn ? rn->state : e->state));
		c3_http_json_str(b, e->addr);
		c3_buf_printf(b, ",\"hostname\":");
		c3_http_json_str(b, e->hostname);
		c3_buf_printf(b, ",\"version\":");
		c3_http_json_str(b, e->version);
		c3_buf_printf(b, ",\"pid\":%u,\"incarnation\":\"%016llx\",\"heartbeat_age_ms\":%lld,"
			      "\"last_heartbeat_wall_ms\":%llu}",
			      e->pid, (unsigned long long)e->incarnation,
			      e->heartbeat_age_ms == UINT64_MAX ? -1LL
								  : (long long)e->heartbeat_age_ms,
			      rn ? (unsigned long long)rn->last_heartbeat_ms : 0ull);
	}
	json_close(w, b);
}

static void h_targets(void *arg, const struct c3_http_req *req, struct c3_http_resp *resp)
{
	struct mgmtd_web *w = arg;
	struct c3_buf *b = &resp->body;

	(void)req;
	json_open(w, resp);
	c3_buf_printf(b, ",\"targets\":[");
	for (uint32_t i = 0; w->ri && i < w->ri->ntargets; i++) {
		const struct routing_target *t = &w->ri->targets[i];
		const struct routing_node *n = routing_node_find(w->ri, t->node_id);

		c3_buf_printf(b, "%s{\"id\":%u,\"node\":%u,\"node_addr\":", i ? "," : "",
			      t->target_id, t->node_id);
		c3_http_json_str(b, n ? n->addr : "");
		static const struct web_rate none;
		const struct web_rate *r = w->rates ? &w->rates[i] : &none;

		c3_buf_printf(b, ",\"chain\":%u,\"state\":\"%s\",\"local\":\"%s\","
			      "\"capacity_bytes\":%llu,\"free_bytes\":%llu,\"sync_done_bytes\":%llu,"
			      "\"sync_total_bytes\":%llu,\"read_bps\":%llu,\"write_bps\":%llu,"
			      "\"read_iops\":%llu,\"write_iops\":%llu,\"growth_bps\":%lld,"
			      "\"sync_done_chunks\":%llu,\"sync_total_chunks\":%llu,\"sync_rate_bps\":%llu,"
			      "\"corrupt_found\":%llu,\"corrupt_repaired\":%llu,"
			      "\"scrub_last_ms\":%llu}",
			      t->chain_id, target_state_name(t->state),
			      target_local_state_name(t->local_state),
			      (unsigned long long)t->capacity_bytes, (unsigned long long)t->free_bytes,
			      (unsigned long long)t->sync_done_bytes,
			      (unsigned long long)t->sync_total_bytes,
			      (unsigned long long)r->read_bps, (unsigned long long)r->write_bps,
			      (unsigned long long)r->read_iops, (unsigned long long)r->write_iops,
			      (long long)r->growth_bps,
			      (unsigned long long)t->sync_done_chunks,
			      (unsigned long long)t->sync_total_chunks,
			      (unsigned long long)t->sync_rate_bps,
			      (unsigned long long)t->corrupt_found,
			      (unsigned long long)t->corrupt_repaired,
			      (unsigned long long)t->scrub_last_ms);
	}
	json_close(w, b);
}

static void h_chains(void *arg, const struct c3_http_req *req, struct c3_http_resp *resp)
{
	struct mgmtd_web *w = arg;
	struct c3_buf *b = &resp->body;

	(void)req;
	json_open(w, resp);
	c3_buf_printf(b, ",\"chains\":[");
	for (uint32_t i = 0; w->ri && i < w->ri->nchains; i++) {
		const struct routing_chain *c = &w->ri->chains[i];
		uint32_t table = 0;

		for (uint32_t k = 0; k < w->ri->ntables && !table; k++)
			for (uint32_t j = 0; j < w->ri->tables[k].nchains; j++)
				if (w->ri->tables[k].chains[j] == c->chain_id)
					table = w->ri->tables[k].table_id;
		c3_buf_printf(b, "%s{\"id\":%u,\"version\":%u,\"table\":%u,\"health\":\"%s\","
			      "\"head\":%u,\"tail\":%u,\"replicas\":[",
			      i ? "," : "", c->chain_id, c->version, table, chain_health(w->ri, c),
			      routing_chain_head(w->ri, c), routing_chain_tail(w->ri, c));
		for (uint32_t k = 0; k < c->ntargets; k++) {
			const struct routing_target *t = routing_target_find(w->ri, c->targets[k]);
			const struct routing_node *n = t ? routing_node_find(w->ri, t->node_id) : NULL;

			c3_buf_printf(b, "%s{\"target\":%u,\"node\":%u,\"state\":\"%s\",\"addr\":",
				      k ? "," : "", c->targets[k], t ? t->node_id : 0,
				      target_state_name(t ? t->state : 0));
			c3_http_json_str(b, n ? n->addr : "");
			c3_buf_printf(b, "}");
		}
		c3_buf_printf(b, "]}");
	}
	json_close(w, b);
}

static void h_events(void *arg, const struct c3_http_req *req, struct c3_http_resp *resp)
{
	struct mgmtd_web *w = arg;
	struct c3_buf *b = &resp->body;
	uint64_t first;

	(void)req;
	json_open(w, resp);
	c3_buf_printf(b, ",\"events\":[");
	first = w->nev > WEB_EVENTS ? w->nev - WEB_EVENTS : 0;
	for (uint64_t i = w->nev; i > first; i--) { /* newest first */
		const struct web_event *e = &w->ev[(i - 1) % WEB_EVENTS];

		c3_buf_printf(b, "%s{\"wall_ms\":%llu,\"kind\":", i == w->nev ? "" : ",",
			      (unsigned long long)e->wall_ms);
		c3_http_json_str(b, e->kind);
		c3_buf_printf(b, ",\"msg\":");
		c3_http_json_str(b, e->msg);
		c3_buf_printf(b, "}");
	}
	json_close(w, b);
}

static void h_history(void *arg, const struct c3_http_req *req, struct c3_http_resp *resp)
{
	struct mgmtd_web *w = arg;
	struct c3_buf *b = &resp->body;
	uint64_t first;

	(void)req;
	json_open(w, resp);
	c3_buf_printf(b, ",\"poll_ms\":%u,\"fields\":[\"wall_ms\",\"read_bps\",\"write_bps\","
		      "\"iops\",\"targets_serving\",\"targets\",\"nodes_up\",\"nodes\"],"
		      "\"samples\":[", w->poll_ms);
	first = w->nhist > WEB_HISTORY ? w->nhist - WEB_HISTORY : 0;
	for (uint64_t i = first; i < w->nhist; i++) { /* oldest first */
		const struct web_sample *s = &w->hist[i % WEB_HISTORY];

		c3_buf_printf(b, "%s[%llu,%llu,%llu,%llu,%u,%u,%u,%u]", i == first ? "" : ",",
			      (unsigned long long)s->wall_ms, (unsigned long long)s->read_bps,
			      (unsigned long long)s->write_bps, (unsigned long long)s->iops,
			      s->serving, s->targets, s->nodes_up, s->nodes);
	}
	json_close(w, b);
}

static void h_page(void *arg, const struct c3_http_req *req, struct c3_http_resp *resp)
{
	(void)arg;
	(void)req;
	resp->ctype = "text/html; charset=utf-8";
	c3_buf_append(&resp->body, mgmtd_web_page, strlen(mgmtd_web_page));
}

static const struct {
	const char *path;
	c3_http_handler_fn fn;
} web_routes[] = {
	{ "/", h_page },
	{ "/api/health", h_health },
	{ "/api/nodes", h_nodes },
	{ "/api/targets", h_targets },
	{ "/api/chains", h_chains },
	{ "/api/events", h_events },
	{ "/api/history", h_history },
};
#define WEB_NROUTES (sizeof(web_routes) / sizeof(web_routes[0]))

static void web_free(struct mgmtd_web *w)
{
	rpc_client_free(w->rpc);
	routing_unref(w->ri);
	routing_unref(w->rate_ri);
	mgmtd_list_nodes_resp_release(&w->nodes);
	free(w->rates);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

int mgmtd_web_start(const struct mgmtd_web_opts *o, struct mgmtd_web **out)
{
	struct rpc_client_opts ro = { 0 };
	struct mgmtd_web *w;
	size_t added = 0;
	int rc;

	if (!o || !o->self || !o->self[0])
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	snprintf(w->self, sizeof(w->self), "%s", o->self);
	w->node_lease_ms = o->node_lease_ms;
	w->poll_ms = o->poll_ms ? o->poll_ms : 1000;
	ro.token = o->token;
	ro.conns_per_peer = 1;
	ro.connect_timeout_ms = 1000;
	rc = rpc_client_new(&ro, &w->rpc);
	if (rc) {
		w->rpc = NULL;
		goto fail;
	}
	for (; added < WEB_NROUTES; added++) {
		rc = c3_metrics_route_add(web_routes[added].path, web_routes[added].fn, w);
		if (rc)
			goto fail_routes;
	}
	rc = -pthread_create(&w->thread, NULL, watcher, w);
	if (rc)
		goto fail_routes;
	*out = w;
	return 0;
fail_routes:
	while (added > 0)
		c3_metrics_route_remove(web_routes[--added].path);
fail:
	web_free(w);
	return rc;
}

void mgmtd_web_stop(struct mgmtd_web *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < WEB_NROUTES; i++)
		c3_metrics_route_remove(web_routes[i].path);
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	web_free(w);
}
