# `make install` — the programs, the client library, headers, samples, the mount helper and
# systemd units, under PREFIX (default /usr/local), staged below DESTDIR when set:
#
#   make install PREFIX=/usr DESTDIR=/tmp/stage
#
# Installs what BUILD built (release by default; programs are built first).  Directories
# follow the GNU names and may be overridden one by one (bindir, sbindir, libdir,
# includedir, sysconfdir, unitdir, docdir).  mount(8) looks for helpers in /sbin only, so
# `mount -t c3fs` needs sbindir=/sbin or /usr/sbin (PREFIX=/usr does that).  Units get the
# final paths (without DESTDIR).  See docs/OPERATIONS.md, "Installing".
PREFIX      ?= /usr/local
DESTDIR     ?=
bindir      ?= $(PREFIX)/bin
sbindir     ?= $(PREFIX)/sbin
libdir      ?= $(PREFIX)/lib
includedir  ?= $(PREFIX)/include
sysconfdir  ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
unitdir     ?= $(PREFIX)/lib/systemd/system
docdir      ?= $(PREFIX)/share/doc/c3fs
# the release, from the one place that names it
C3FS_VERSION := $(shell sed -n 's/^#define C3FS_VERSION "\(.*\)"/\1/p' src/common/version.h)
pkgconfigdir ?= $(libdir)/pkgconfig

INSTALL_PROGRAMS := c3fs-mgmtd c3fs-meta c3fs-storage c3fs-fuse c3fs-admin
INSTALL_UNITS    := $(wildcard etc/systemd/*.service)
INSTALL_HEADERS  := $(wildcard include/c3fs/*.h)
INSTALL_SAMPLES  := $(wildcard etc/*.ini.sample)

# libc3fs.a: the client library with everything it uses (one archive for applications)
LIBC3FS_MODS := $(call mods_closure,client)
LIBC3FS      := $(LIBDIR)/libc3fs.a
$(LIBC3FS): $(call objs_of,$(foreach m,$(LIBC3FS_MODS),$($(m)_SRCS)))
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

.PHONY: install
install: $(addprefix $(BINDIR)/,$(INSTALL_PROGRAMS)) $(LIBC3FS)
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(sbindir) $(DESTDIR)$(libdir) \
		$(DESTDIR)$(pkgconfigdir) $(DESTDIR)$(includedir)/c3fs \
		$(DESTDIR)$(sysconfdir)/c3fs $(DESTDIR)$(unitdir) $(DESTDIR)$(docdir)
	install -m 0755 $(addprefix $(BINDIR)/,$(INSTALL_PROGRAMS)) $(DESTDIR)$(bindir)/
	sed 's|^FUSE=$${C3FS_FUSE:-}$$|FUSE=$${C3FS_FUSE:-$(bindir)/c3fs-fuse}|' tools/mount.c3fs \
		>$(DESTDIR)$(sbindir)/mount.c3fs
	chmod 0755 $(DESTDIR)$(sbindir)/mount.c3fs
	install -m 0644 $(LIBC3FS) $(DESTDIR)$(libdir)/
	install -m 0644 $(INSTALL_HEADERS) $(DESTDIR)$(includedir)/c3fs/
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(libdir)' 'includedir=$(includedir)' '' \
		'Name: c3fs' 'Description: c3fs client library (libc3fs)' 'Version: $(C3FS_VERSION)' \
		'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lc3fs' \
		'Requires.private: $(call pkgs_of,client)' \
		'Libs.private: $(strip $(call xlibs_of,client) $(LDLIBS_ALL))' \
		>$(DESTDIR)$(pkgconfigdir)/c3fs.pc
	install -m 0644 $(INSTALL_SAMPLES) $(DESTDIR)$(sysconfdir)/c3fs/
	for u in $(INSTALL_UNITS); do \
		sed -e 's|@BINDIR@|$(bindir)|g' -e 's|@SYSCONFDIR@|$(sysconfdir)|g' \
		    -e 's|@DOCDIR@|$(docdir)|g' $$u >$(DESTDIR)$(unitdir)/$${u##*/} || exit 1; \
		chmod 0644 $(DESTDIR)$(unitdir)/$${u##*/}; \
	done
	install -m 0644 docs/OPERATIONS.md docs/CONFIG.md README.md $(DESTDIR)$(docdir)/
