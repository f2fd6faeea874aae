/* trash.h — c3fs-admin's trash commands (trash.c): they work through a mounted c3fs with
 * the caller's own rights, never through mgmtd. */
#ifndef C3_TOOLS_ADMIN_TRASH_H
#define C3_TOOLS_ADMIN_TRASH_H

#include <stdbool.h>
#include <stdio.h>

/* "rmtree" or "trash": a trash command. */
bool admin_trash_is_cmd(const char *cmd);
/* Run it: 0 ok, 1 failed, 2 usage (after a message on stderr). */
int admin_trash_run(const char *cmd, bool json, int argc, char **argv);
/* Its lines of c3fs-admin --help. */
void admin_trash_usage(FILE *f);

#endif
