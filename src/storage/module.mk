# storage: the chunk engine (chunk*.c), CRAQ replication and the RPC service (everything but
# main.c), and the c3fs-storage program.
MODULES += storage
storage_SRCS := $(filter-out src/storage/main.c src/storage/cli.c,$(wildcard src/storage/*.c))
storage_DEPS := proto net cluster common
storage_PKGS := lmdb liburing

# c3fs-storage (src/storage/main.c) is declared once main.c is in the tree.
