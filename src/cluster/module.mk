# cluster: routing snapshots (routing.c), the mgmtd message codec (mgmtd_msg.c, declared in
# src/proto/mgmtd.h) and the mgmtd client (client.c).  The codec lives here rather than in
# src/proto so that cluster does not depend on proto (proto depends on cluster for the
# routing types; a _DEPS cycle would make the build's closure recurse forever).
MODULES += cluster
cluster_SRCS := $(wildcard src/cluster/*.c)
cluster_DEPS := net common
# libcrypto: SHA-256 of user tokens (users.c)
cluster_PKGS := libcrypto
