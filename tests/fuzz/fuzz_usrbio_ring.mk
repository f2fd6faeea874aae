# libFuzzer target for the daemon's side of the USRBIO ring (src/usrbio/ring.c).
FUZZERS += fuzz_usrbio_ring
fuzz_usrbio_ring_MODS := usrbio
