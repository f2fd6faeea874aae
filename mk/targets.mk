# Rules generated from what the module.mk files declared.

ALL_PKGS := $(sort $(foreach m,$(MODULES),$($(m)_PKGS)))
PKG_CFLAGS := $(call pkgcflags,$(ALL_PKGS))

$(OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CPPFLAGS_ALL) $(PKG_CFLAGS) -c $< -o $@

define MODULE_template
$(call lib_of,$(1)): $(call objs_of,$($(1)_SRCS))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call MODULE_template,$(m))))

# position-independent objects, for shared libraries only
$(OBJDIR)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fPIC $(CPPFLAGS_ALL) $(PKG_CFLAGS) -c $< -o $@

# shared libraries (<mod>_SHARED, see mk/rules.mk)
SHARED_MODS := $(foreach m,$(MODULES),$(if $($(m)_SHARED),$(m)))
SHARED_BINS := $(foreach m,$(SHARED_MODS),$(SHLIBDIR)/lib$($(m)_SHARED).so)
SHLIB_DEFS  := $(if $(LDFLAGS_VARIANT),,-Wl,-z,defs)
define SHARED_template
$(if $($(1)_VERSION_SCRIPT),,$(error $(1)_SHARED needs $(1)_VERSION_SCRIPT))
$(SHLIBDIR)/lib$($(1)_SHARED).so: $(call pic_objs_of,$(foreach m,$(call mods_closure,$(1)),$($(m)_SRCS))) $($(1)_VERSION_SCRIPT)
	@mkdir -p $$(dir $$@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_VARIANT) -shared -fPIC -Wl,-soname,lib$($(1)_SHARED).so \
		-Wl,--version-script=$($(1)_VERSION_SCRIPT) $(SHLIB_DEFS) -o $$@ \
		$(call pic_objs_of,$(foreach m,$(call mods_closure,$(1)),$($(m)_SRCS))) \
		$(call pkglibs,$(call pkgs_of,$(1))) $(call xlibs_of,$(1)) $(LDLIBS_ALL)
endef
$(foreach m,$(SHARED_MODS),$(eval $(call SHARED_template,$(m))))

define PROGRAM_template
$(BINDIR)/$(1): $(call objs_of,$($(1)_SRCS)) $(call libs_of,$($(1)_MODS))
	@mkdir -p $$(dir $$@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_VARIANT) -o $$@ $(call objs_of,$($(1)_SRCS)) $(call link_of,$($(1)_MODS))
endef
$(foreach p,$(PROGRAMS),$(eval $(call PROGRAM_template,$(p))))

# unit tests: tests/unit/<mod>/test_x.c -> $(TESTDIR)/unit/<mod>/test_x
UNIT_SRCS := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(TESTDIR)/unit/%,$(UNIT_SRCS))
test_mod_of = $(word 3,$(subst /, ,$(1)))
define UNIT_template
$(patsubst tests/unit/%.c,$(TESTDIR)/unit/%,$(1)): $(call objs_of,$(1)) $(call libs_of,$(call test_mod_of,$(1)) $($(call test_mod_of,$(1))_TEST_MODS))
	@mkdir -p $$(dir $$@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_VARIANT) -o $$@ $(call objs_of,$(1)) $(call link_of,$(call test_mod_of,$(1)) $($(call test_mod_of,$(1))_TEST_MODS))
endef
$(foreach t,$(UNIT_SRCS),$(eval $(call UNIT_template,$(t))))

# fuzz targets (BUILD=fuzz links them with libFuzzer; other builds link them with a
# replay driver, tests/fuzz/replay_main.c, that runs the saved corpus)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(TESTDIR)/fuzz/%,$(FUZZ_SRCS))
ifeq ($(BUILD),fuzz)
FUZZ_DRIVER :=
else
FUZZ_DRIVER := tests/fuzz/replay_main.c
endif
define FUZZ_template
$(patsubst tests/fuzz/%.c,$(TESTDIR)/fuzz/%,$(1)): $(call objs_of,$(1) $(FUZZ_DRIVER)) $(call libs_of,$($(basename $(notdir $(1)))_MODS))
	@mkdir -p $$(dir $$@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_VARIANT) -o $$@ $(call objs_of,$(1) $(FUZZ_DRIVER)) $(call link_of,$($(basename $(notdir $(1)))_MODS))
endef
$(foreach f,$(FUZZ_SRCS),$(eval $(call FUZZ_template,$(f))))

PROGRAM_BINS := $(addprefix $(BINDIR)/,$(PROGRAMS))

.PHONY: all programs tests fuzzers test unit bench run stop fuzz clean check deps
.DEFAULT_GOAL := all
all: programs
programs: $(PROGRAM_BINS) $(SHARED_BINS)
tests: $(PROGRAM_BINS) $(SHARED_BINS) $(UNIT_BINS) $(FUZZ_BINS)
# the fuzz targets alone (BUILD=fuzz links libFuzzer's main(): programs cannot link there)
fuzzers: $(FUZZ_BINS)

# `make test` = ASan/UBSan build of everything, then the runner.
JOBS ?= $(shell nproc)
test:
	$(MAKE) --no-print-directory -j$(JOBS) BUILD=release programs
	$(MAKE) --no-print-directory -j$(JOBS) BUILD=asan programs tests
	C3FS_BUILD_DIR=$(O) tests/run

bench:
	$(MAKE) --no-print-directory -j$(JOBS) BUILD=release programs
	C3FS_BUILD_DIR=$(O) bench/run

fuzz:
	$(MAKE) --no-print-directory -j$(JOBS) BUILD=fuzz fuzzers
	C3FS_BUILD_DIR=$(O) tests/fuzz/run-bounded $${FUZZ_RUNS:-100000}

# `make check` = every build variant compiles warning-free (warnings are errors):
# release programs; debug, asan and tsan programs and tests; the fuzz targets when clang
# is installed; then the generated configuration docs are current (docs_current.sh).
# Every step runs (each building all it can, -k); the target fails if any step failed.
check:
	@fail=0; \
	$(MAKE) --no-print-directory -k -j$(JOBS) BUILD=release programs || fail=1; \
	$(MAKE) --no-print-directory -k -j$(JOBS) BUILD=debug programs tests || fail=1; \
	$(MAKE) --no-print-directory -k -j$(JOBS) BUILD=asan programs tests || fail=1; \
	$(MAKE) --no-print-directory -k -j$(JOBS) BUILD=tsan programs tests || fail=1; \
	if command -v clang >/dev/null; then \
		$(MAKE) --no-print-directory -k -j$(JOBS) BUILD=fuzz fuzzers || fail=1; \
	else echo "check: clang not installed, fuzz variant not built"; fi; \
	C3FS_BIN_DIR=$(abspath $(O))/asan/bin tests/integration/docs_current.sh || fail=1; \
	if [ $$fail = 0 ]; then echo "check: passed"; else echo "check: FAILED (see above)"; fi; \
	exit $$fail

run:
	$(MAKE) --no-print-directory -j$(JOBS) BUILD=release programs
	tools/local-cluster.sh start

stop:
	tools/local-cluster.sh stop

deps:
	tools/install-deps.sh

clean:
	rm -rf $(O)

-include $(shell find $(O)/$(BUILD)/obj -name '*.d' 2>/dev/null)
include mk/install.mk
