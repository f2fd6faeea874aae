# c3fs-usrbio-check: the USRBIO client driven against a mounted cluster by
# tests/integration/usrbio.sh (see the comment at the top of usrbio_check.c).
PROGRAMS += c3fs-usrbio-check
c3fs-usrbio-check_SRCS := tests/unit/usrbio/usrbio_check.c
c3fs-usrbio-check_MODS := usrbio
