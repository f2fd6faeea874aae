/* fsutil.c — see fsutil.h. */
#include "common/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int c3_path_private_check(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (errlen)
		err[0] = '\0';
	if (stat(path, &st) != 0) {
		int e = errno;

		if (e != ENOENT)
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", path);
		return -ENOTDIR;
	}
	if (st.st_mode & C3_PATH_PRIVATE_FORBIDDEN) {
		snprintf(err, errlen,
			 "state directory %s has mode %04o: other users can %s it; "
			 "refusing to start (fix with: chmod -R go-rwx %s)",
			 path, (unsigned)(st.st_mode & 07777),
			 (st.st_mode & (S_IWGRP | S_IWOTH)) ? "write to" : "read or enter", path);
		return -EPERM;
	}
	return 0;
}

int c3_kv_uri_private_check(const char *uri, char *err, size_t errlen)
{
	char path[4096];
	size_t n;
	int rc;

	if (errlen)
		err[0] = '\0';
	if (strncmp(uri, "lmdb:", 5) != 0)
		return 0;
	uri += 5;
	n = strcspn(uri, "?");
	if (n == 0 || n >= sizeof(path))
		return 0; /* the backend reports the bad uri */
	memcpy(path, uri, n);
	path[n] = '\0';
	rc = c3_path_private_check(path, err, errlen);
	return rc == -ENOENT ? 0 : rc;
}

int c3_path_private_ensure(const char *path, char *err, size_t errlen)
{
	int rc = c3_path_private_check(path, err, errlen);

	if (rc != -ENOENT)
		return rc;
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		int e = errno;

		snprintf(err, errlen, "cannot create state directory %s: %s", path, strerror(e));
		return -e;
	}
	return c3_path_private_check(path, err, errlen);
}
