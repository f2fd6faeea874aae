# testpl: the power-loss interposer of the KV and chunk-engine crash tests
# (tests/lib/powerloss.h).  Only a test that calls a pl_ function links its object, so
# the other tests of these modules keep libc's write and sync calls.
MODULES      += testpl
testpl_SRCS  := tests/lib/powerloss.c
testpl_DEPS  :=
kv_TEST_MODS      += testpl
storage_TEST_MODS += testpl
