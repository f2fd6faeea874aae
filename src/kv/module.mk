# kv — the transactional key-value store (generic layer + one file per backend).
MODULES  += kv
kv_SRCS  := $(wildcard src/kv/*.c)
kv_DEPS  := common
kv_PKGS  := lmdb libpq
