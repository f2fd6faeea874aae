/* errors.h — c3fs error codes.
 *
 * Every function that can fail returns int: >= 0 on success, -code on failure, where code
 * is a Linux errno (ENOENT, ENOSPC, ...) or one of the C3FS_E* codes below (1000..1999),
 * all defined in errors.def.  Negative codes travel on the wire unchanged.
 */
#ifndef C3_ERRORS_H
#define C3_ERRORS_H

/* The codes themselves: the public header generated from errors.def (one definition for
 * the library, its applications and the daemons; test_errors_doc keeps it current). */
#include "c3fs/errors.h"

#include <stdbool.h>

/* Message for a code (positive or negative; 0 is "success").  Static string. */
const char *c3_strerror(int code);

/* The positive errno an application sees for a code (EIO for unknown c3fs codes). */
int c3_errno_of(int code);

/* Name of a code ("ENOENT", "C3FS_ECHECKSUM"), static string, "E?" if unknown. */
const char *c3_errname(int code);

/* ------------------------------------------------------------------ retries
 *
 * Whether a failed request is sent again is decided here, from the retry column of
 * errors.def (and its C3_ERRNO rows), never by a list of codes at the call site. */

/* What the caller does next. */
enum c3_retry {
	C3_RETRY_NO = 0, /* final: report the code */
	C3_RETRY_AGAIN,  /* the same request again after a back-off */
	C3_RETRY_ROUTE,  /* refresh routing, then the same request again */
};

/* Who asks: the same code can mean different things to different callers. */
enum c3_retry_who {
	C3_RETRY_READ,  /* a read of chunk data (client I/O): another replica may have it */
	C3_RETRY_WRITE, /* a chunk update from its origin: client write and punch, meta's
			 * truncate of a file's chunks */
	C3_RETRY_CHAIN, /* a chain member forwarding an update to its successor: codes
			 * flagged ORIGIN go back to the origin instead */
	C3_RETRY_META,  /* a request to a meta server (the client) */
};

/* What `who` does after code (positive or negative; 0 and unknown codes: C3_RETRY_NO). */
enum c3_retry c3_err_retry(int code, enum c3_retry_who who);

/* True when code says the peer or the connection failed rather than the request (the
 * PEER flag: cannot connect, closed, timed out, shutting down): a caller with several
 * peers tries another one and may mark this one unreachable. */
bool c3_err_is_peer(int code);

#endif
