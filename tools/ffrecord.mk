# c3fs-ffrecord: pack, verify, ls, cat, unpack FFRecord datasets (tools/ffrecord/).
PROGRAMS += c3fs-ffrecord
c3fs-ffrecord_SRCS := $(wildcard tools/ffrecord/*.c)
c3fs-ffrecord_MODS := ffrecord
