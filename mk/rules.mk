# How module.mk files describe themselves.
#
# A library module (src/<mod>/module.mk):
#     MODULES       += <mod>
#     <mod>_SRCS    := source files of the library (no main())
#     <mod>_DEPS    := modules it uses directly (e.g. net common)
#     <mod>_PKGS    := pkg-config packages it needs (e.g. lmdb)
#     <mod>_LIBS    := extra linker flags not known to pkg-config
# A program (any module.mk):
#     PROGRAMS          += c3fs-storage
#     c3fs-storage_SRCS := its own sources (the one with main())
#     c3fs-storage_MODS := modules it uses directly (deps are added)
# Unit tests: every tests/unit/<mod>/test_*.c becomes one test binary linked with <mod>
# and its deps; <mod>_TEST_MODS adds more modules (e.g. a test-only helper module).
# Fuzz targets: tests/fuzz/fuzz_<name>.c with tests/fuzz/<name>.mk setting fuzz_<name>_MODS.
# Programs of tools/ and bench/ are declared in tools/<name>.mk and bench/<name>.mk.
# Libraries are linked inside --start-group/--end-group, so order never matters.

MODULES  :=
PROGRAMS :=
FUZZERS  :=

objs_of = $(patsubst %.c,$(OBJDIR)/%.o,$(1))
# transitive closure of modules over _DEPS (sorted, no duplicates)
mods_closure = $(sort $(foreach m,$(1),$(m) $(call mods_closure,$($(m)_DEPS))))
lib_of   = $(LIBDIR)/lib$(1).a
libs_of  = $(foreach m,$(call mods_closure,$(1)),$(call lib_of,$(m)))
pkgs_of  = $(sort $(foreach m,$(call mods_closure,$(1)),$($(m)_PKGS)))
pkgcflags = $(if $(strip $(1)),$(shell pkg-config --cflags $(1)),)
pkglibs  = $(if $(strip $(1)),$(shell pkg-config --libs $(1)),)
xlibs_of = $(foreach m,$(call mods_closure,$(1)),$($(m)_LIBS))
link_of  = -Wl,--start-group $(call libs_of,$(1)) -Wl,--end-group \
           $(call pkglibs,$(call pkgs_of,$(1))) $(call xlibs_of,$(1)) $(LDLIBS_ALL)
