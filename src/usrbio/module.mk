# usrbio: the USRBIO application library (include/c3fs/usrbio.h) and the ring layout that
# c3fs-fuse shares with it.  See src/usrbio/README.md.
#
# Module `usrbio` (build/$(BUILD)/lib/libusrbio.a, non-PIC) is what in-tree programs, the
# FUSE daemon (ring.c) and the fuzz target link.  The installable library is built from PIC
# objects of the same sources:
#   $(LIBDIR)/libc3fs-usrbio.a   static archive
#   $(LIBDIR)/libc3fs-usrbio.so  shared library, soname libc3fs-usrbio.so.1, exports
#                                only the c3fs_* calls (libc3fs-usrbio.map)
# Both are part of `make programs`.  (An explicit rule until mk/rules.mk grows generic
# shared-library support.)
MODULES += usrbio
usrbio_SRCS := src/usrbio/ring.c src/usrbio/usrbio.c
usrbio_DEPS :=

USRBIO_PIC_OBJS := $(patsubst %.c,$(OBJDIR)/pic/%.o,$(usrbio_SRCS))
USRBIO_SO := $(LIBDIR)/libc3fs-usrbio.so
USRBIO_AR := $(LIBDIR)/libc3fs-usrbio.a

$(OBJDIR)/pic/src/usrbio/%.o: src/usrbio/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fPIC -fvisibility=hidden $(CPPFLAGS_ALL) -c $< -o $@

$(USRBIO_AR): $(USRBIO_PIC_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(USRBIO_SO): $(USRBIO_PIC_OBJS) src/usrbio/libc3fs-usrbio.map
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_VARIANT) -shared -fPIC -Wl,-soname,libc3fs-usrbio.so.1 \
		-Wl,--version-script=src/usrbio/libc3fs-usrbio.map -Wl,-z,defs \
		-o $@ $(USRBIO_PIC_OBJS) -lpthread

programs: $(USRBIO_SO) $(USRBIO_AR)
