# meta: the metadata service.  Library = the POSIX core on the KV (store.c, entry.c, the op
# files, gc.c) plus the RPC glue (server.c, storage hooks); c3fs-meta = main.c.
MODULES += meta
meta_SRCS := $(filter-out src/meta/main.c,$(wildcard src/meta/*.c))
meta_DEPS := proto kv net cluster common

ifneq ($(wildcard src/meta/main.c),)
PROGRAMS += c3fs-meta
c3fs-meta_SRCS := src/meta/main.c
c3fs-meta_MODS := meta
endif
