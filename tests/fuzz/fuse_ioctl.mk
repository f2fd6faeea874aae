# libFuzzer target for the argument check of c3fs-fuse's ioctls (src/fuse/ioctl_arg.c).
FUZZERS += fuzz_fuse_ioctl
fuzz_fuse_ioctl_MODS := fuse
