# Compiler flags per build variant.
CC      ?= cc
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter -Wvla
CSTD    := -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64
CPPFLAGS_ALL := -I. -Iinclude -Isrc -MMD -MP
LDLIBS_ALL   := -lpthread -lm

ifeq ($(BUILD),release)
  OPT := -O2 -g
  BINDIR := $(O)/bin
else ifeq ($(BUILD),debug)
  OPT := -O0 -g3 -DC3_TEST_BUILD
  BINDIR := $(O)/$(BUILD)/bin
else ifeq ($(BUILD),asan)
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
         -fno-sanitize-recover=all -DC3_TEST_BUILD
  LDFLAGS_VARIANT := -fsanitize=address,undefined
  BINDIR := $(O)/$(BUILD)/bin
else ifeq ($(BUILD),tsan)
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=thread -DC3_TEST_BUILD
  LDFLAGS_VARIANT := -fsanitize=thread
  BINDIR := $(O)/$(BUILD)/bin
else ifeq ($(BUILD),fuzz)
  CC  := clang
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
         -fno-sanitize-recover=all -DC3_TEST_BUILD -DC3_FUZZ_BUILD
  LDFLAGS_VARIANT := -fsanitize=fuzzer,address,undefined
  WARN += -Wno-unknown-warning-option
  BINDIR := $(O)/$(BUILD)/bin
else
  $(error unknown BUILD=$(BUILD): use release, debug, asan, tsan or fuzz)
endif

CFLAGS_ALL := $(CSTD) $(WARN) $(OPT) -pthread
OBJDIR := $(O)/$(BUILD)/obj
LIBDIR := $(O)/$(BUILD)/lib
TESTDIR := $(O)/$(BUILD)/tests
