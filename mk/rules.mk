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
# A shared library, optionally, on top of a library module's static archive:
#     <mod>_SHARED         := c3fs-ffrecord           -> $(SHLIBDIR)/libc3fs-ffrecord.so
#     <mod>_VERSION_SCRIPT := src/<mod>/<name>.map    (required: the exported symbols and
#                                                      their version node; all else is local)
#   It holds <mod> and every module of its _DEPS closure, compiled a second time with -fPIC
#   (objects under $(OBJDIR)/pic/), and links their pkg-config libraries and _LIBS, so an
#   application needs nothing but -l<name>.  The soname is the file name.  Release builds
#   link with -z defs (no undefined symbol left); sanitizer builds cannot (the runtime comes
#   from the executable).  `make programs` builds it into $(SHLIBDIR): build/lib for
#   release, build/<variant>/lib otherwise.
# Unit tests: every tests/unit/<mod>/test_*.c becomes one test binary linked with <mod>
# and its deps; <mod>_TEST_MODS adds more modules (e.g. a test-only helper module).
# Fuzz targets: tests/fuzz/fuzz_<name>.c with tests/fuzz/<name>.mk setting fuzz_<name>_MODS.
# Programs of tools/ and bench/ are declared in tools/<name>.mk and bench/<name>.mk.
# Libraries are linked inside --start-group/--end-group, so order never matters.

MODULES  :=
PROGRAMS :=
SHLIBDIR  = $(patsubst %/bin,%/lib,$(BINDIR))
FUZZERS  :=

objs_of = $(patsubst %.c,$(OBJDIR)/%.o,$(1))
pic_objs_of = $(patsubst %.c,$(OBJDIR)/pic/%.o,$(1))
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
