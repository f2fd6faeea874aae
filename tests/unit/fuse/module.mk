# c3fs-ioctl-check: the mount's ioctls and libc3fs-usrbio's hardlink/punchhole calls,
# driven by tests/integration/fuse_ioctl.sh (see the comment at the top of ioctl_check.c).
# test_*.c here are unit tests of the fuse module (mk/targets.mk).
PROGRAMS += c3fs-ioctl-check
c3fs-ioctl-check_SRCS := tests/unit/fuse/ioctl_check.c
c3fs-ioctl-check_MODS := usrbio
