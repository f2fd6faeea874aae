# mgmtd — the cluster manager.  Library: everything but main.c (so unit tests link it);
# program c3fs-mgmtd = main.c + the library.
MODULES += mgmtd
mgmtd_SRCS := $(filter-out src/mgmtd/main.c,$(wildcard src/mgmtd/*.c))
mgmtd_DEPS := cluster net kv common

ifneq ($(wildcard src/mgmtd/main.c),)
PROGRAMS += c3fs-mgmtd
c3fs-mgmtd_SRCS := src/mgmtd/main.c
c3fs-mgmtd_MODS := mgmtd
endif
