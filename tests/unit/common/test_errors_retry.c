/* Retry classes: c3_err_retry() and c3_err_is_peer() against the hand lists they replaced.
 *
 * Before the retry column of errors.def, each retry loop had its own list of codes.  Those
 * lists are kept below, verbatim, as the reference: for every code of errors.def, every
 * errno 1..199, success and an unknown code, each caller's decision now must equal its old
 * one, except where the table of changes below says otherwise and why (every such row is
 * also checked to be a real difference, so the table cannot go stale). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "common/errors.h"
#include "tests/lib/tap.h"

/* ------------------------------------------------------------------ the old lists */

/* src/client/io.c client__io_retryable: client reads and writes (and punch's removes) */
static bool old_io_retryable(int rc, bool write)
{
	switch (-rc) {
	case C3FS_ECHAINVER:
	case C3FS_ENOTHEAD:
	case C3FS_ETARGETDOWN:
	case C3FS_ENOSUCCESSOR:
	case C3FS_ECHUNKVER:
	case C3FS_ENOCHAIN:
	case C3FS_ENOTARGET:
	case C3FS_ECONNECT:
	case C3FS_EPEERCLOSED:
	case C3FS_ETIMEDOUT:
	case C3FS_ESHUTDOWN:
	case C3FS_EBUSY:
	case C3FS_ELEASE:
	case C3FS_ENOROUTING:
	case C3FS_ENOTLEADER:
	case EAGAIN:
		return true;
	case C3FS_ECHECKSUM:
	case EIO:
	case C3FS_EBADMSG:
		return !write;
	default:
		return false;
	}
}

/* src/client/io.c client__io_wants_refresh */
static bool old_io_wants_refresh(int rc)
{
	return rc == -C3FS_ECHAINVER || rc == -C3FS_ENOTHEAD || rc == -C3FS_ENOCHAIN ||
	       rc == -C3FS_ENOTARGET || rc == -C3FS_ETARGETDOWN || rc == -C3FS_ECONNECT ||
	       rc == -C3FS_ENOSUCCESSOR;
}

/* src/client/client.c client_meta_retryable */
static bool old_meta_retryable(int rc)
{
	switch (-rc) {
	case C3FS_ECONNECT:
	case C3FS_EPEERCLOSED:
	case C3FS_ETIMEDOUT:
	case C3FS_ESHUTDOWN:
	case C3FS_EBUSY:
	case C3FS_ECONFLICT:
	case C3FS_ENOROUTING:
	case C3FS_EKVMAYBECOMMITTED:
		return true;
	default:
		return false;
	}
}

/* src/client/client.c client__meta_call: the codes after which routing was refreshed */
static bool old_meta_refresh(int rc)
{
	return rc == -C3FS_ENOROUTING || rc == -C3FS_ECONNECT;
}

/* src/client/client.c client_meta_transport_error (and src/cluster/client.c
 * is_transport_error without its -C3FS_EAUTH, which stays there) */
static bool old_transport_error(int rc)
{
	return rc == -C3FS_ECONNECT || rc == -C3FS_ETIMEDOUT || rc == -C3FS_EPEERCLOSED ||
	       rc == -C3FS_ESHUTDOWN;
}

/* src/storage/service.c svc_err_is_transient: the forward to the successor */
static bool old_fwd_transient(int rc)
{
	return rc == -C3FS_ECONNECT || rc == -C3FS_EPEERCLOSED || rc == -C3FS_ETIMEDOUT ||
	       rc == -C3FS_ESHUTDOWN || rc == -C3FS_EBUSY || rc == -C3FS_ENOROUTING ||
	       rc == -C3FS_ECHAINVER || rc == -C3FS_ETARGETDOWN;
}

/* src/meta/cluster.c transient: meta's truncate of a file's chunks */
static bool old_meta_storage_transient(int rc)
{
	switch (-rc) {
	case C3FS_ECHAINVER:
	case C3FS_ENOTHEAD:
	case C3FS_ENOSUCCESSOR:
	case C3FS_ETARGETDOWN:
	case C3FS_ENOCHAIN:
	case C3FS_ENOROUTING:
	case C3FS_EPEERCLOSED:
	case C3FS_ECONNECT:
	case C3FS_ETIMEDOUT:
	case C3FS_EBUSY:
		return true;
	default:
		return false;
	}
}

/* ------------------------------------------------------------------ the decisions */

enum {
	D_READ = 1 << 0,     /* client read retries */
	D_WRITE = 1 << 1,    /* client write / punch retries */
	D_IO_ROUTE = 1 << 2, /* client I/O refreshes routing first */
	D_META = 1 << 3,     /* client retries a meta request */
	D_META_ROUTE = 1 << 4, /* ... after refreshing routing */
	D_FWD = 1 << 5,      /* storage forward to the successor retries */
	D_TRUNC = 1 << 6,    /* meta's truncate of chunks retries */
	D_PEER = 1 << 7,     /* a transport error: mark the meta server, try the next mgmtd */
};

static unsigned old_decisions(int rc)
{
	return (old_io_retryable(rc, false) ? D_READ : 0) |
	       (old_io_retryable(rc, true) ? D_WRITE : 0) |
	       (old_io_wants_refresh(rc) ? D_IO_ROUTE : 0) |
	       (old_meta_retryable(rc) ? D_META : 0) |
	       (old_meta_retryable(rc) && old_meta_refresh(rc) ? D_META_ROUTE : 0) |
	       (old_fwd_transient(rc) ? D_FWD : 0) |
	       (old_meta_storage_transient(rc) ? D_TRUNC : 0) |
	       (old_transport_error(rc) ? D_PEER : 0);
}

static unsigned new_decisions(int rc)
{
	enum c3_retry r = c3_err_retry(rc, C3_RETRY_READ), w = c3_err_retry(rc, C3_RETRY_WRITE);
	enum c3_retry m = c3_err_retry(rc, C3_RETRY_META);

	return (r != C3_RETRY_NO ? D_READ : 0) | (w != C3_RETRY_NO ? D_WRITE : 0) |
	       (r == C3_RETRY_ROUTE || w == C3_RETRY_ROUTE ? D_IO_ROUTE : 0) |
	       (m != C3_RETRY_NO ? D_META : 0) | (m == C3_RETRY_ROUTE ? D_META_ROUTE : 0) |
	       (c3_err_retry(rc, C3_RETRY_CHAIN) != C3_RETRY_NO ? D_FWD : 0) |
	       (w != C3_RETRY_NO ? D_TRUNC : 0) | (c3_err_is_peer(rc) ? D_PEER : 0);
}

/* ------------------------------------------------------------------ the changes */

static const struct change {
	int code;
	unsigned bits; /* decisions that flipped */
	const char *why;
} changes[] = {
	/* bugs fixed: one list disagreed with the others */
	{ C3FS_ESHUTDOWN, D_TRUNC,
	  "a storage node shutting down is transient for meta's truncate as for everyone; "
	  "it used to reach the client, which then marked its healthy meta server down" },
	{ C3FS_ENOTARGET, D_TRUNC,
	  "a head named by stale routing: meta refreshes and retries, as the client does, "
	  "instead of failing the truncate with ENXIO" },
	{ C3FS_ECHUNKVER, D_TRUNC,
	  "meta's truncate is a chunk update from its origin, retried like a client write" },
	{ C3FS_ENOROUTING, D_IO_ROUTE,
	  "routing not ready: client I/O refreshes routing first, as its meta calls did "
	  "(the I/O engine itself fails pieces with it when the client has no routing)" },
	/* codes a caller never receives (its peer does not send them): now one rule */
	{ C3FS_ECONFLICT, D_READ | D_WRITE | D_FWD | D_TRUNC, "only meta sends it" },
	{ C3FS_EKVMAYBECOMMITTED, D_READ | D_WRITE | D_FWD | D_TRUNC, "only meta sends it" },
	{ C3FS_ELEASE, D_META | D_FWD | D_TRUNC, "only mgmtd sends it" },
	{ C3FS_ENOTLEADER, D_META | D_FWD | D_TRUNC, "only mgmtd sends it" },
	{ EAGAIN, D_META | D_FWD | D_TRUNC, "meta and storage do not send a plain EAGAIN" },
	{ C3FS_ECHUNKVER, D_META, "storage codes reach the client from meta only after "
				  "meta's own retries (then as EBUSY)" },
	{ C3FS_ECHAINVER, D_META | D_META_ROUTE, "as above" },
	{ C3FS_ENOTHEAD, D_META | D_META_ROUTE, "as above" },
	{ C3FS_ETARGETDOWN, D_META | D_META_ROUTE, "as above" },
	{ C3FS_ENOSUCCESSOR, D_META | D_META_ROUTE, "as above" },
	{ C3FS_ENOCHAIN, D_META | D_META_ROUTE, "as above" },
	{ C3FS_ENOTARGET, D_META | D_META_ROUTE, "as above" },
};

static unsigned changed_bits(int code)
{
	unsigned bits = 0;

	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
		if (changes[i].code == code)
			bits |= changes[i].bits;
	return bits;
}

static void check_code(int code)
{
	unsigned o = old_decisions(-code), n = new_decisions(-code), ch = changed_bits(code);

	if ((o ^ ch) != n) {
		ok(0, "a code's decisions are the old ones but for the listed changes");
		diag("%s (%d): old %#x, listed changes %#x, now %#x", c3_errname(-code), code, o,
		     ch, n);
	}
}

int main(void)
{
	static const int table[] = {
#define C3_ERR(name, code, eno, retry, msg) code,
#define C3_ERRNO(eno, retry)
#include "common/errors.def"
#undef C3_ERRNO
#undef C3_ERR
	};
	size_t nt = sizeof(table) / sizeof(table[0]);

	/* every code keeps its callers' decisions, but for the listed changes */
	for (size_t i = 0; i < nt; i++)
		check_code(table[i]);
	for (int e = 1; e < 200; e++)
		check_code(e);
	check_code(0);
	check_code(1999);
	diag("%zu codes of errors.def checked", nt);
	ok(1, "codes, errnos 1..199, 0 and an unknown code checked against the old lists");

	/* each listed change is a real difference (the table cannot go stale) */
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		const struct change *c = &changes[i];

		if ((old_decisions(-c->code) & c->bits) == (new_decisions(-c->code) & c->bits)) {
			ok(0, "a listed change is real");
			diag("%s: %s", c3_errname(-c->code), c->why);
		}
	}
	ok(1, "every listed change differs from the old lists");

	/* the classes themselves, by hand, on both signs */
	is_int(c3_err_retry(-C3FS_ECHECKSUM, C3_RETRY_READ), C3_RETRY_AGAIN,
	       "a checksum error: a read tries another replica");
	is_int(c3_err_retry(-C3FS_ECHECKSUM, C3_RETRY_WRITE), C3_RETRY_NO,
	       "a checksum error is final for a write");
	is_int(c3_err_retry(C3FS_ECHAINVER, C3_RETRY_WRITE), C3_RETRY_ROUTE,
	       "stale chain version: refresh routing (positive code too)");
	is_int(c3_err_retry(-C3FS_ECHUNKVER, C3_RETRY_WRITE), C3_RETRY_AGAIN,
	       "chunk version mismatch: the client writes again");
	is_int(c3_err_retry(-C3FS_ECHUNKVER, C3_RETRY_CHAIN), C3_RETRY_NO,
	       "chunk version mismatch: a chain member resends the whole chunk instead");
	is_int(c3_err_retry(-C3FS_ENOSUCCESSOR, C3_RETRY_CHAIN), C3_RETRY_NO,
	       "a later chain member gave up: back to the origin");
	is_int(c3_err_retry(-C3FS_ECHAINVER, C3_RETRY_CHAIN), C3_RETRY_ROUTE,
	       "stale chain version: a chain member re-reads routing and forwards again");
	is_int(c3_err_retry(-C3FS_ECONFLICT, C3_RETRY_META), C3_RETRY_AGAIN,
	       "a transaction conflict: the same meta request again");
	is_int(c3_err_retry(-C3FS_ECONNECT, C3_RETRY_META), C3_RETRY_ROUTE,
	       "cannot connect: refresh routing, then again");
	is_int(c3_err_retry(-EIO, C3_RETRY_READ), C3_RETRY_AGAIN, "EIO: a read tries again");
	is_int(c3_err_retry(-EIO, C3_RETRY_WRITE), C3_RETRY_NO, "EIO is final for a write");
	is_int(c3_err_retry(-ENOSPC, C3_RETRY_WRITE), C3_RETRY_NO, "ENOSPC is final");
	is_int(c3_err_retry(0, C3_RETRY_READ), C3_RETRY_NO, "success is not retried");
	is_int(c3_err_retry(-1999, C3_RETRY_READ), C3_RETRY_NO, "an unknown code is final");
	ok(c3_err_is_peer(-C3FS_ETIMEDOUT) && c3_err_is_peer(C3FS_ESHUTDOWN),
	   "timed out, shutting down: the peer failed");
	ok(!c3_err_is_peer(-C3FS_EBUSY) && !c3_err_is_peer(-C3FS_EAUTH) && !c3_err_is_peer(0),
	   "busy, refused token, success: not a peer failure");
	return tap_done();
}
