/* admin.h — what c3fs-admin's files share (admin.c, trash.c). */
#ifndef C3_TOOLS_ADMIN_ADMIN_H
#define C3_TOOLS_ADMIN_ADMIN_H

/* s as a JSON string on stdout, quoted and escaped. */
void admin_json_str(const char *s);

#endif
