/* web.h — mgmtd's status page and its JSON API, served on the metrics HTTP endpoint.
 *
 * Every mgmtd serves the page; each one shows the *leader's* view: a watcher thread asks
 * this mgmtd over RPC (GET_LEADER, GET_ROUTING, LIST_NODES, with the cluster token), and a
 * standby redirects those calls to the leader (cluster_mgmtd_call follows), so a standby's
 * page proxies the leader's data.  The watcher keeps in memory, for the HTTP handlers:
 * the last answer, a ring of recent events found by comparing successive answers (node
 * lost / back / registered, target state changes such as "synced", leader changed, leader
 * unreachable), and one sample per successful poll over the last hour (net bytes written per second
 * from free-space changes, targets serving).  Handlers answer from memory only and never
 * wait for the network.
 *
 * Routes (GET): /  (the page, no external assets; its script reads the API below),
 * /api/health, /api/nodes, /api/targets, /api/chains, /api/events, /api/history.
 * Their JSON fields: src/mgmtd/README.md, "Status page".
 */
#ifndef C3_MGMTD_WEB_H
#define C3_MGMTD_WEB_H

#include <stdint.h>

struct mgmtd_web_opts {
	const char *self;        /* this mgmtd's RPC address (copied) */
	const char *token;       /* cluster token (copied; "" or NULL = none) */
	uint64_t node_lease_ms;  /* shown on the page */
	uint32_t poll_ms;        /* watcher period; 0 = 1000 */
};

struct mgmtd_web;

/* Start the watcher and add the routes to the metrics endpoint (which must be serving:
 * c3_metrics_serve).  Returns 0, -ENOTCONN (no metrics endpoint), -EEXIST (routes taken),
 * -ENOMEM or another negative code; nothing to free on failure. */
int mgmtd_web_start(const struct mgmtd_web_opts *o, struct mgmtd_web **out);
/* Remove the routes, stop the watcher, free.  NULL allowed. */
void mgmtd_web_stop(struct mgmtd_web *w);

#endif
