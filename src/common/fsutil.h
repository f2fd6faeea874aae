/* fsutil.h — checks on the directories a daemon keeps its state in.
 *
 * A c3fs daemon's state (chunk files, LMDB, logs) holds file data and metadata that the
 * file system's own permission checks protect; a state directory that other local users
 * can read or write would bypass them.  Everything a daemon creates is made private with
 * explicit modes (directories 0700, files 0600); these functions refuse state directories
 * made by someone else with wider modes.
 */
#ifndef C3_COMMON_FSUTIL_H
#define C3_COMMON_FSUTIL_H

#include <stddef.h>

/* Modes a state directory may not have: writable by group or others, or readable,
 * writable or searchable by others.  0700 and 0750 pass; 0755, 0770, 0711 do not. */
#define C3_PATH_PRIVATE_FORBIDDEN 0027

/* Check that path (symlinks followed) is a directory whose mode has none of
 * C3_PATH_PRIVATE_FORBIDDEN.  Returns 0; -ENOENT when it does not exist (the caller
 * creates it, with mode 0700); -ENOTDIR; -EPERM when the mode is too open; another
 * -errno from stat.  Except for -ENOENT, err receives one line for the operator naming
 * the directory, its mode and the command that fixes it ("chmod -R go-rwx DIR").
 * Prints nothing. */
int c3_path_private_check(const char *path, char *err, size_t errlen);

/* c3_path_private_check, creating path with mode 0700 when it does not exist (its parent
 * must exist).  Same returns, except -ENOENT (err then says the parent is missing). */
int c3_path_private_ensure(const char *path, char *err, size_t errlen);

/* For a KV uri "lmdb:DIR[?options]": c3_path_private_check(DIR), with -ENOENT turned into
 * 0 (the LMDB backend creates DIR 0700).  Other backends keep no local state: 0. */
int c3_kv_uri_private_check(const char *uri, char *err, size_t errlen);

#endif
