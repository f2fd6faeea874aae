# ffrecord: FFRecord datasets (include/c3fs/ffrecord.h) — format, writer, batch reader
# (pread | io_uring | usrbio ops), packed-folder index (bounded pickle subset).  Built as
# libffrecord.a and as libc3fs-ffrecord.so (version script ffrecord.map).  Depends on the
# usrbio module (libc + pthread only), linked in, not dlopen'ed: see README.md.  The
# c3fs-ffrecord CLI is declared in tools/ffrecord.mk.
MODULES += ffrecord
ffrecord_SRCS := $(wildcard src/ffrecord/*.c)
ffrecord_DEPS := usrbio
ffrecord_PKGS := zlib liburing
ffrecord_SHARED := c3fs-ffrecord
ffrecord_VERSION_SCRIPT := src/ffrecord/ffrecord.map
