MODULES += common
common_SRCS := $(wildcard src/common/*.c)
common_DEPS :=
common_PKGS := libisal inih
