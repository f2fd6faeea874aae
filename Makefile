# c3fs — the only entry point.  Plain GNU Make, non-recursive.
#
#   make              release build, binaries in build/bin/
#   make test         ASan+UBSan build of everything, then tests/run (unit, fuzz replay,
#                     integration); ends with "tests: N passed, N failed[, N skipped]"
#   make bench        release build, then every bench/*.sh and bench binaries
#   make run / stop   local cluster (tools/local-cluster.sh)
#   make fuzz         bounded libFuzzer runs of every target in tests/fuzz/
#   make check        every variant (release, debug, asan, tsan, fuzz) compiles warning-free,
#                     and the generated config docs are current (see mk/targets.mk)
#
# Variables: BUILD=release|debug|asan|tsan|fuzz   O=<output root, default build>
# Each module folder has a module.mk that declares its library, binaries and tests;
# see mk/rules.mk for the variables it may set.

O      ?= build
BUILD  ?= release
include mk/flags.mk
include mk/rules.mk

MODULE_MKS := $(sort $(wildcard src/*/module.mk tools/*.mk bench/*.mk tests/fuzz/*.mk tests/unit/*/module.mk tests/lib/module.mk))
include $(MODULE_MKS)
include mk/targets.mk
