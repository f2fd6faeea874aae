/* daemon.c: the shared start-up of the c3fs programs without starting one: exit statuses
 * and messages of the command line (--help, bad --set, a config error naming file and line,
 * positional arguments), the log settings read from the table, the stop signals (blocked
 * and taken by c3_daemon_stop_requested / c3_daemon_wait; left alone with own_signals),
 * c3_daemon_fail's copy on stderr, and the metrics endpoint. */
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/daemon.h"
#include "common/log.h"
#include "tests/lib/tap.h"

struct dcfg {
	int64_t node_id;
	char *name;
	char *log_level;
	char *log_file;
	char *metrics_listen;
};

#define K(sec, name, type, field, def, min, max, unit, reload, desc) \
	{ sec, name, type, offsetof(struct dcfg, field), def, min, max, unit, reload, desc }
static const struct c3_cfg_key dkeys[] = {
	K("server", "node_id", C3_CFG_INT, node_id, "7", 1, 1000, "", false, "node id"),
	K("x", "name", C3_CFG_STR, name, "n", 0, -1, "", false, "a name"),
	C3_DAEMON_KEYS(K, true),
};
static const struct c3_cfg_table dtab = { "test", dkeys, sizeof(dkeys) / sizeof(dkeys[0]) };
/* a table without the common keys (a bug in a program) */
static const struct c3_cfg_table dbad = { "bad", dkeys, 2 };

static char tmpdir[64];
static char out[16384], errout[4096];

/* c3_daemon_init with stdout and stderr captured into out and errout. */
static int run_init(struct c3_daemon *d, int argc, char **argv)
{
	char po[128], pe[128];
	int so, se, fo, fe, rc;
	ssize_t n;

	snprintf(po, sizeof(po), "%s/stdout", tmpdir);
	snprintf(pe, sizeof(pe), "%s/stderr", tmpdir);
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	fo = open(po, O_RDWR | O_CREAT | O_TRUNC, 0644);
	fe = open(pe, O_RDWR | O_CREAT | O_TRUNC, 0644);
	dup2(fo, 1);
	dup2(fe, 2);
	rc = c3_daemon_init(d, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	n = pread(fo, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	n = pread(fe, errout, sizeof(errout) - 1, 0);
	errout[n > 0 ? n : 0] = '\0';
	close(fo);
	close(fe);
	return rc;
}

static void daemon_prep(struct c3_daemon *d, struct dcfg *c, const struct c3_cfg_table *t)
{
	memset(d, 0, sizeof(*d));
	memset(c, 0, sizeof(*c));
	d->prog = "c3fs-test";
	d->role = "test";
	d->table = t;
	d->cfg = c;
	d->own_signals = true; /* the signal tests below turn it off */
}

static bool has(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static void test_command_line(void)
{
	struct c3_daemon d;
	struct dcfg c;
	char ini[128];
	FILE *f;

	{
		char *argv[] = { "c3fs-test", "--help", NULL };

		daemon_prep(&d, &c, &dtab);
		is_int(run_init(&d, 2, argv), 1, "--help: exit");
		is_int(d.status, 0, "--help: status 0");
		ok(has(out, "log.level") && has(out, "metrics.listen"), "--help lists the keys");
		ok(c.name == NULL, "--help: config released");
	}
	{
		char *argv[] = { "c3fs-test", "--print-config-doc=markdown", NULL };

		daemon_prep(&d, &c, &dtab);
		is_int(run_init(&d, 2, argv), 1, "--print-config-doc: exit");
		is_int(d.status, 0, "--print-config-doc: status 0");
		ok(has(out, "log.file"), "--print-config-doc: the common keys are documented");
	}
	{
		char *argv[] = { "c3fs-test", "--set", "log.level=loud", NULL };

		daemon_prep(&d, &c, &dtab);
		is_int(run_init(&d, 3, argv), 1, "bad log.level: exit");
		is_int(d.status, 2, "bad log.level: status 2");
		ok(has(errout, "c3fs-test: ") && has(errout, "log.level") &&
		   has(errout, "not a log level"), "bad log.level: message");
	}
	snprintf(ini, sizeof(ini), "%s/bad.ini", tmpdir);
	f = fopen(ini, "w");
	fputs("[x]\nname = a\nnope = 1\n", f);
	fclose(f);
	{
		char *argv[] = { "c3fs-test", "--config", ini, NULL };
		char want[200];

		daemon_prep(&d, &c, &dtab);
		is_int(run_init(&d, 3, argv), 1, "config error: exit");
		is_int(d.status, 2, "config error: status 2");
		snprintf(want, sizeof(want), "c3fs-test: %s:3:", ini);
		ok(has(errout, want), "config error names file and line");
	}
	{
		char *argv[] = { "c3fs-test", "extra", NULL };

		daemon_prep(&d, &c, &dtab);
		is_int(run_init(&d, 2, argv), 1, "positional argument refused: exit");
		is_int(d.status, 2, "positional argument refused: status 2");
		is_str(errout, "c3fs-test: unexpected argument 'extra' (see --help)\n",
		       "positional argument refused: message");
		ok(c.name == NULL, "refused: config released");
	}
	{
		char *argv[] = { "c3fs-test", "--set", "x.name=m", "one", "two", NULL };

		daemon_prep(&d, &c, &dtab);
		d.max_args = 1;
		is_int(run_init(&d, 5, argv), 1, "max_args 1: a second one refused");
		is_str(errout, "c3fs-test: unexpected argument 'two' (see --help)\n",
		       "max_args 1: names the second");
	}
	{
		char *argv[] = { "c3fs-test", "--set", "x.name=m", "--set",
				 "metrics.listen=127.0.0.1:0", "one", NULL };

		daemon_prep(&d, &c, &dtab);
		d.max_args = 1;
		is_int(run_init(&d, 6, argv), 0, "max_args 1: one accepted");
		is_int(d.status, 0, "status 0 to go on");
		is_int(d.argi, 5, "argi points at the positional argument");
		is_str(c.name, "m", "--set applied");
		is_str(d.metrics_listen, "127.0.0.1:0", "metrics.listen read by name");
		is_str(d.log_file, "", "log.file read by name");
		is_int(c3_log_level_cur, C3_LOG_INFO, "log.level applied");
		is_str(errout, "", "nothing on stderr");
		is_int(c3_daemon_metrics_start(&d, false), 0, "metrics served on port 0");
		ok(d.metrics_on, "metrics_on");
		c3_daemon_fini(&d);
		ok(!d.metrics_on && c.name == NULL, "fini: metrics stopped, config released");
		c3_daemon_fini(&d); /* idempotent */
	}
	{
		char *argv[] = { "c3fs-test", "--set", "metrics.listen=not-an-address",
				 "--set", "log.level=error", NULL };

		daemon_prep(&d, &c, &dtab);
		is_int(run_init(&d, 5, argv), 0, "init");
		is_int(c3_log_level_cur, C3_LOG_ERROR, "log.level=error applied");
		ok(c3_daemon_metrics_start(&d, false) < 0, "a bad metrics address fails");
		ok(!d.metrics_on, "not serving");
		c3_daemon_fini(&d);
		c3_log_set_level(C3_LOG_INFO);
	}
	{
		char arg[160], want[200];
		char *argv[] = { "c3fs-test", "--set", arg, NULL };

		snprintf(arg, sizeof(arg), "log.file=%s/no/such/dir/x.log", tmpdir);
		daemon_prep(&d, &c, &dtab);
		is_int(run_init(&d, 3, argv), 0, "an unopenable log file does not stop the start");
		snprintf(want, sizeof(want), "c3fs-test: log.file %s/no/such/dir/x.log: ", tmpdir);
		ok(has(errout, want) && has(errout, ", logging to stderr"),
		   "... and says so on stderr");
		c3_daemon_fini(&d);
	}
	{
		char *argv[] = { "c3fs-test", NULL };

		daemon_prep(&d, &c, &dbad);
		is_int(run_init(&d, 1, argv), 1, "a table without the common keys: exit");
		is_int(d.status, 2, "... status 2");
		ok(has(errout, "lacks log.level"), "... says so");
	}
}

static bool term_blocked(void)
{
	sigset_t cur;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, SIGTERM);
}

static void test_signals(void)
{
	char *argv[] = { "c3fs-test", NULL };
	char logpath[128];
	struct c3_daemon d;
	struct dcfg c;
	char arg[160];

	daemon_prep(&d, &c, &dtab);
	is_int(run_init(&d, 1, argv), 0, "own_signals: init");
	ok(!term_blocked(), "own_signals: SIGTERM left alone");
	c3_daemon_fini(&d);

	daemon_prep(&d, &c, &dtab);
	d.own_signals = false;
	d.hup = true;
	snprintf(logpath, sizeof(logpath), "%s/test.log", tmpdir);
	snprintf(arg, sizeof(arg), "log.file=%s", logpath);
	{
		char *argv2[] = { "c3fs-test", "--set", arg, NULL };

		is_int(run_init(&d, 3, argv2), 0, "signals: init");
	}
	ok(term_blocked(), "SIGTERM blocked");
	ok(signal(SIGPIPE, SIG_IGN) == SIG_IGN, "SIGPIPE ignored");
	ok(!c3_daemon_stop_requested(&d), "no stop pending");
	raise(SIGHUP);
	ok(!c3_daemon_stop_requested(&d), "SIGHUP is no stop");
	is_int(c3_daemon_wait(&d), SIGHUP, "c3_daemon_wait returns SIGHUP with .hup");
	raise(SIGTERM);
	ok(c3_daemon_stop_requested(&d), "SIGTERM pending: stop requested");
	ok(!c3_daemon_stop_requested(&d), "taken once");
	raise(SIGINT);
	is_int(c3_daemon_wait(&d), SIGINT, "c3_daemon_wait returns SIGINT");

	/* with a log file, a start-up failure is repeated on stderr */
	{
		char pe[128];
		int se, fe;
		ssize_t n;

		snprintf(pe, sizeof(pe), "%s/stderr2", tmpdir);
		fflush(stderr);
		se = dup(2);
		fe = open(pe, O_RDWR | O_CREAT | O_TRUNC, 0644);
		dup2(fe, 2);
		c3_daemon_fail(&d, "kv.uri: %s", "too open");
		fflush(stderr);
		dup2(se, 2);
		close(se);
		n = pread(fe, errout, sizeof(errout) - 1, 0);
		errout[n > 0 ? n : 0] = '\0';
		close(fe);
		is_str(errout, "c3fs-test: kv.uri: too open\n", "c3_daemon_fail: on stderr too");
	}
	{
		FILE *f = fopen(logpath, "r");
		size_t n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;

		out[n] = '\0';
		if (f)
			fclose(f);
		ok(has(out, "test#7 ERROR") && has(out, "kv.uri: too open"),
		   "... and in the log, with the identity and node id");
	}
	c3_daemon_fini(&d);
}

int main(void)
{
	char cmd[128];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/c3fs-daemon.XXXXXX");
	if (!mkdtemp(tmpdir))
		tap_skip_all("cannot create a temporary directory");
	test_command_line();
	test_signals();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		diag("cannot remove %s", tmpdir);
	return tap_done();
}
