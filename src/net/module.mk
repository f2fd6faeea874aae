MODULES += net
net_SRCS := src/net/frame.c src/net/tcp.c src/net/io.c src/net/bufpool.c src/net/server.c src/net/client.c
net_DEPS := common
net_PKGS :=
net_LIBS :=
