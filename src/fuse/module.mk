# fuse: c3fs-fuse, the FUSE daemon (libfuse3 low-level API) and its 3fs-virt directory.
# The library part (ops.c, virt.c) is a module so that its pkg-config flags (fuse3) apply;
# the program is main.c.  See src/fuse/README.md.
MODULES += fuse
fuse_SRCS := $(filter-out src/fuse/main.c,$(wildcard src/fuse/*.c))
fuse_DEPS := client usrbio common
fuse_PKGS := fuse3

PROGRAMS += c3fs-fuse
c3fs-fuse_SRCS := src/fuse/main.c
c3fs-fuse_MODS := fuse
