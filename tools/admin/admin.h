/* admin.h — what c3fs-admin's files share (admin.c, trash.c, users.c). */
#ifndef C3_TOOLS_ADMIN_ADMIN_H
#define C3_TOOLS_ADMIN_ADMIN_H

#include <stdint.h>

/* s as a JSON string on stdout, quoted and escaped. */
void admin_json_str(const char *s);
/* A failed mgmtd request's message on stderr; the exit status: 3 when the admin token
 * was refused, else 1. */
int admin_fail(const char *what, int rc);
/* A decimal u32 (no sign, nothing after it): 0, or -EINVAL. */
int admin_parse_u32(const char *s, uint32_t *out);

#endif
