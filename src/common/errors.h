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

/* Message for a code (positive or negative; 0 is "success").  Static string. */
const char *c3_strerror(int code);

/* The positive errno an application sees for a code (EIO for unknown c3fs codes). */
int c3_errno_of(int code);

/* Name of a code ("ENOENT", "C3FS_ECHECKSUM"), static string, "E?" if unknown. */
const char *c3_errname(int code);

#endif
