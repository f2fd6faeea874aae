# storage: the chunk engine (chunk*.c), CRAQ replication and the RPC service (everything but
# main.c), and the c3fs-storage program.
MODULES += storage
storage_SRCS := $(filter-out src/storage/main.c src/storage/cli.c,$(wildcard src/storage/*.c))
storage_DEPS := proto net cluster kv common
storage_PKGS := lmdb liburing

PROGRAMS += c3fs-storage
c3fs-storage_SRCS := src/storage/main.c
c3fs-storage_MODS := storage
