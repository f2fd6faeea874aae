/* daemon.h — the start-up and shutdown every c3fs program shares (c3fs-mgmtd, c3fs-meta,
 * c3fs-storage, c3fs-fuse), so that each main.c keeps only its own work.
 *
 *   struct c3_daemon d = { .prog = "c3fs-meta", .role = "meta", .table = &meta_cfg,
 *                          .cfg = &cfg };
 *   if (c3_daemon_init(&d, argc, argv))
 *           return d.status;                 (--help shown, or a bad command line)
 *   ... the daemon's own start-up; c3_daemon_metrics_start(&d, false) when ready ...
 *   sig = c3_daemon_wait(&d);                (SIGTERM or SIGINT; SIGHUP with .hup)
 *   ... the daemon's own shutdown ...
 *   c3_daemon_fini(&d);                      (metrics stopped, config released)
 *
 * c3_daemon_init does, in order: the config command line (c3_cfg_from_args: defaults,
 * --config FILE, --set k=v, --help, --print-config-doc), positional arguments (at most
 * .max_args), the log (identity .role with the table's server.node_id when it has one,
 * log.level, log.file), then the stop signals.  The table must hold the keys of
 * C3_DAEMON_KEYS (log.level, log.file, metrics.listen); they are read by name, so the
 * config struct may place them anywhere.
 *
 * Signals: unless .own_signals, SIGTERM and SIGINT (and SIGHUP with .hup) are blocked in
 * the calling thread before any other thread exists, so every thread inherits the mask and
 * only c3_daemon_wait / c3_daemon_stop_requested take them; SIGPIPE is ignored (a peer
 * closing a socket is an error return, not a death).  Without .hup, SIGHUP keeps its
 * default action.  With .own_signals (c3fs-fuse: libfuse installs its handlers) nothing is
 * changed.
 *
 * Messages on stderr start with .prog; exit statuses: 0 after --help/--print-config-doc,
 * 2 for a bad command line or config (the message names file and line).
 */
#ifndef C3_DAEMON_H
#define C3_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/* The keys every c3fs program has, through the caller's key macro
 * K(section, name, type, field, default, min, max, unit, reloadable, desc); the config
 * struct has the fields log_level, log_file and metrics_listen (char *).  level_reload:
 * whether the program applies a pushed log.level live (true for those with live config). */
#define C3_DAEMON_KEYS(K, level_reload)                                                  \
	K("log", "level", C3_CFG_STR, log_level, "info", 0, -1, "", level_reload,         \
	  "error, warn, info or debug"),                                                  \
	K("log", "file", C3_CFG_STR, log_file, "", 0, -1, "", false,                      \
	  "log file (empty = stderr)"),                                                   \
	K("metrics", "listen", C3_CFG_STR, metrics_listen, "", 0, -1, "", false,          \
	  "Prometheus /metrics address ip:port (empty = off)")

/* One entry of a program's key table, for the field of config struct st: each main.c
 * spells its key macro K as
 *   #define K(...) C3_DAEMON_KEY(struct meta_config, __VA_ARGS__)
 * and its table as
 *   static const struct c3_cfg_table meta_cfg = C3_DAEMON_TABLE("meta", meta_keys); */
#define C3_DAEMON_KEY(st, sec, name, type, field, def, min, max, unit, reload, desc)      \
	{ sec, name, type, offsetof(st, field), def, min, max, unit, reload, desc }
#define C3_DAEMON_TABLE(service, keys) { service, keys, sizeof(keys) / sizeof((keys)[0]) }

struct c3_daemon {
	/* set by the caller before c3_daemon_init */
	const char *prog;                 /* "c3fs-meta": prefix of stderr messages */
	const char *role;                 /* "meta": the log identity */
	const struct c3_cfg_table *table; /* the program's keys, with C3_DAEMON_KEYS */
	void *cfg;                        /* the config struct the table describes */
	int max_args;                     /* positional arguments accepted (default 0) */
	bool hup;                         /* SIGHUP is taken too (c3_daemon_wait returns it) */
	bool own_signals;                 /* leave every signal alone (libfuse's loop) */

	/* set by c3_daemon_init */
	int status;                       /* exit status when c3_daemon_init returned 1 */
	int argi;                         /* first positional argument in argv */
	const char *log_file;             /* log.file ("" = stderr) */
	const char *metrics_listen;       /* metrics.listen ("" = off) */
	sigset_t sigs;                    /* the signals c3_daemon_wait takes */
	bool metrics_on;                  /* c3_daemon_metrics_start served an endpoint */
};

/* Command line, log and signals as described above.  Returns 0 to go on, or 1 when the
 * program should exit with d->status (0: help or docs printed; 2: bad command line, the
 * message is on stderr); the config is then released already. */
int c3_daemon_init(struct c3_daemon *d, int argc, char **argv);

/* Serve Prometheus metrics on metrics.listen when it is set, logging the port ("metrics
 * on ADDR, port N").  A failure is logged (as an error when fatal, else a warning) and
 * returned; 0 when served or off. */
int c3_daemon_metrics_start(struct c3_daemon *d, bool fatal);

/* Block until a stop signal (or SIGHUP with .hup) arrives; returns its number.  A stop
 * signal is logged ("signal N: stopping"). */
int c3_daemon_wait(struct c3_daemon *d);

/* Whether SIGTERM or SIGINT is pending, without waiting (takes it): for loops that wait
 * for something else first.  A pending SIGHUP is left alone. */
bool c3_daemon_stop_requested(struct c3_daemon *d);

/* A start-up failure: logged as an error, and repeated on stderr (as "prog: message")
 * when the log goes to a file, so whoever started the program sees why it stopped. */
void c3_daemon_fail(struct c3_daemon *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Stop the metrics endpoint if c3_daemon_metrics_start served one, release the config.
 * Idempotent. */
void c3_daemon_fini(struct c3_daemon *d);

#endif
