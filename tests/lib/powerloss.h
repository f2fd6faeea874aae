/* powerloss.h — simulated power loss for the crash tests of the KV and chunk engines.
 *
 * SIGKILL keeps the page cache, so it cannot show a missing fsync.  Like SQLite's crash
 * VFS, powerloss.c interposes the calls a process makes to change files (open/openat with
 * O_CREAT or O_TRUNC, pwrite, write, writev, ftruncate, copy_file_range, and the *64
 * names; fdatasync, fsync, syncfs): the test executable's definitions take precedence over libc's
 * for every library it loads.  Once pl_start() ran (in a child), each change to a file the
 * test watches is journaled before it is made: path, offset, the bytes it replaces, the
 * bytes it writes, the file size before and after.  It becomes durable when
 *   - the file is fdatasync'd or fsync'd (all earlier changes to that file), or
 *   - the write was made on an O_DSYNC descriptor (that write), or
 *   - for a file creation: its directory is fsync'd, or
 *   - syncfs is called (every earlier change and creation: one file system assumed).
 * The journal is a file; the child may die at any moment (SIGKILL from the parent, or
 * pl_crash_at()), a record cut short by the death announces a change that never started.
 * The parent then calls pl_power_loss() to turn the files into what a disk that reorders
 * and drops unsynced writes could hold after the cut.  Unlinks and renames are not
 * journaled (treated as durable at once).
 *
 * Link: tests/lib/module.mk (module "testpl"); a test gets the interposition by calling
 * any pl_ function, which pulls this object into the executable.
 */
#ifndef C3FS_TESTS_POWERLOSS_H
#define C3FS_TESTS_POWERLOSS_H

#include <stdbool.h>
#include <sys/types.h>

/* Which files to journal: called with the absolute path of a file being changed (as
 * /proc/self/fd names it) or created. */
typedef bool (*pl_watch_fn)(const char *path);

/* Start journaling to `journal` (created or truncated) in this process.  Call in the
 * child, before it opens the store.  Exits the process (status 2) if it cannot. */
void pl_start(const char *journal, pl_watch_fn watch);

/* Die with _exit(0) at the n-th interposed change or sync of a watched file (1-based),
 * before the call or, when `after`, once it returned. */
void pl_crash_at(long n, bool after);

/* write(2) that bypasses the interposition (acknowledgements to the parent). */
ssize_t pl_raw_write(int fd, const void *buf, size_t n);

enum pl_policy {
	/* every unsynced change is undone, newest first, then a random half of them is
	 * applied again, oldest first: each unsynced write independently reached the disk */
	PL_REDO_SOME,
	/* a random half of the unsynced changes is undone, newest first */
	PL_UNDO_SOME,
};

struct pl_stats {
	int records;  /* changes journaled */
	int unsynced; /* of which not durable at the cut */
	int kept;     /* of which on disk after pl_power_loss() */
};

/* In the parent, after the child died: apply the power loss described by `journal` to
 * the files it names.  Random choices come from rand_r(seed).  Returns 0, or -1 if the
 * journal cannot be read or a file cannot be restored. */
int pl_power_loss(const char *journal, enum pl_policy policy, unsigned *seed,
		  struct pl_stats *st);

#endif
