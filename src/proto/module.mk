MODULES += proto
proto_SRCS := $(wildcard src/proto/*.c)
proto_DEPS := net common
