# Test tools of tests/tools/ (data integrity and POSIX conformance, run against a mount):
#   c3fs-fsx          fsx-style random read/write/truncate/fallocate/mmap exerciser
#   c3fs-posix-helper small syscalls bash cannot make (renameat2, utimensat, mknod, ...)
PROGRAMS += c3fs-fsx
c3fs-fsx_SRCS := tests/tools/fsx.c
c3fs-fsx_MODS := common

ifneq ($(wildcard tests/tools/posix_helper.c),)
PROGRAMS += c3fs-posix-helper
c3fs-posix-helper_SRCS := tests/tools/posix_helper.c
c3fs-posix-helper_MODS := common
endif
