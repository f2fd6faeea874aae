# client: libc3fs, the client library (include/c3fs/c3fs.h).  See src/client/README.md.
MODULES += client
client_SRCS := $(wildcard src/client/*.c)
client_DEPS := proto cluster net common
