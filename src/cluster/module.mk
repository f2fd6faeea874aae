# cluster: routing snapshots (routing.c), the mgmtd client (client.c), users and tokens.
# It builds on proto (the mgmtd messages and the cluster types they carry); proto needs
# nothing of cluster (a _DEPS cycle would make the build's closure recurse forever).
MODULES += cluster
cluster_SRCS := $(wildcard src/cluster/*.c)
cluster_DEPS := proto net common
# libcrypto: SHA-256 of user tokens (users.c)
cluster_PKGS := libcrypto
