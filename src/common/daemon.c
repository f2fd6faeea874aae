/* daemon.c — the start-up and shutdown every c3fs program shares.  See daemon.h.
 *
 * Invariants:
 * - The stop signals are blocked before c3_daemon_init returns, i.e. before the program
 *   starts any thread: every thread inherits the mask, so a signal can only be taken by
 *   c3_daemon_wait / c3_daemon_stop_requested and never kills a worker half-way.
 * - The common keys are found by name in the program's table (keys of type STR), so the
 *   helper needs no common config struct; a table without them is a bug reported at start.
 */
#include "common/daemon.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/metrics.h"

/* The key section.name of the table, or NULL. */
static const struct c3_cfg_key *daemon_key(const struct c3_cfg_table *t, const char *section,
					   const char *name)
{
	for (size_t i = 0; i < t->nkeys; i++)
		if (strcmp(t->keys[i].section, section) == 0 && strcmp(t->keys[i].name, name) == 0)
			return &t->keys[i];
	return NULL;
}

/* The string value of an STR key, or NULL when the table has no such STR key. */
static const char *daemon_str(const struct c3_daemon *d, const char *section, const char *name)
{
	const struct c3_cfg_key *k = daemon_key(d->table, section, name);
	const char *v;

	if (!k || k->type != C3_CFG_STR)
		return NULL;
	v = *(char *const *)((const char *)d->cfg + k->offset);
	return v ? v : "";
}

int c3_daemon_init(struct c3_daemon *d, int argc, char **argv)
{
	const struct c3_cfg_key *node = daemon_key(d->table, "server", "node_id");
	char err[C3_CFG_ERRLEN];
	const char *level_s;
	int rc, level;

	d->argi = argc;
	d->metrics_on = false;
	rc = c3_cfg_from_args(d->table, d->cfg, argc, argv, &d->argi, err, sizeof(err));
	if (rc == 1) { /* --help or --print-config-doc printed */
		d->status = 0;
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", d->prog, err);
		d->status = 2;
		return 1;
	}
	d->status = 2;
	if (argc - d->argi > (d->max_args > 0 ? d->max_args : 0)) {
		fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", d->prog,
			argv[d->argi + (d->max_args > 0 ? d->max_args : 0)]);
		goto fail;
	}
	level_s = daemon_str(d, "log", "level");
	d->log_file = daemon_str(d, "log", "file");
	d->metrics_listen = daemon_str(d, "metrics", "listen");
	if (!level_s || !d->log_file || !d->metrics_listen) {
		fprintf(stderr, "%s: the key table lacks log.level, log.file or metrics.listen\n",
			d->prog);
		goto fail;
	}
	level = c3_log_level_parse(level_s);
	if (level < 0) { /* the config parser checks it already; kept for a custom table */
		fprintf(stderr, "%s: log.level: unknown level '%s'\n", d->prog, level_s);
		goto fail;
	}
	c3_log_set_identity(d->role, node && node->type == C3_CFG_INT
				     ? (uint32_t)*(const int64_t *)((const char *)d->cfg +
								    node->offset)
				     : 0);
	c3_log_set_level(level);
	if (d->log_file[0] && (rc = c3_log_open(d->log_file)) < 0)
		fprintf(stderr, "%s: log.file %s: %s, logging to stderr\n", d->prog, d->log_file,
			c3_strerror(rc));

	sigemptyset(&d->sigs);
	if (!d->own_signals) {
		sigaddset(&d->sigs, SIGTERM);
		sigaddset(&d->sigs, SIGINT);
		if (d->hup)
			sigaddset(&d->sigs, SIGHUP);
		pthread_sigmask(SIG_BLOCK, &d->sigs, NULL);
		signal(SIGPIPE, SIG_IGN);
	}
	d->status = 0;
	return 0;
fail:
	c3_cfg_release(d->table, d->cfg);
	return 1;
}

int c3_daemon_metrics_start(struct c3_daemon *d, bool fatal)
{
	int rc, port = 0;

	if (!d->metrics_listen || !d->metrics_listen[0] || d->metrics_on)
		return 0;
	rc = c3_metrics_serve(d->metrics_listen, &port);
	if (rc < 0) {
		if (fatal)
			LOG_ERROR("metrics on %s: %s", d->metrics_listen, c3_strerror(rc));
		else
			LOG_WARN("metrics on %s: %s", d->metrics_listen, c3_strerror(rc));
		return rc;
	}
	d->metrics_on = true;
	LOG_INFO("metrics on %s, port %d", d->metrics_listen, port);
	return 0;
}

int c3_daemon_wait(struct c3_daemon *d)
{
	int sig = 0;

	while (sigwait(&d->sigs, &sig) != 0)
		;
	if (sig != SIGHUP)
		LOG_INFO("signal %d: stopping", sig);
	return sig;
}

bool c3_daemon_stop_requested(struct c3_daemon *d)
{
	struct timespec zero = { 0, 0 };
	sigset_t stop;

	(void)d;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	return sigtimedwait(&stop, NULL, &zero) > 0;
}

void c3_daemon_fail(struct c3_daemon *d, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	LOG_ERROR("%s", msg);
	if (d->log_file && d->log_file[0]) /* else LOG_ERROR went to stderr already */
		fprintf(stderr, "%s: %s\n", d->prog, msg);
}

void c3_daemon_fini(struct c3_daemon *d)
{
	if (d->metrics_on) {
		c3_metrics_stop();
		d->metrics_on = false;
	}
	c3_cfg_release(d->table, d->cfg);
	d->log_file = NULL;
	d->metrics_listen = NULL;
}
