/* version.h — the c3fs release every program reports (registration with mgmtd, status
 * page, c3fs-admin list-nodes) and installs (mk/install.mk's c3fs.pc). */
#ifndef C3_COMMON_VERSION_H
#define C3_COMMON_VERSION_H

#define C3FS_VERSION "0.1"

#endif
