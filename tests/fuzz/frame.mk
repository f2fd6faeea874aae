# libFuzzer target for the RPC frame header decoder (src/net/frame.c).
FUZZERS += fuzz_frame
fuzz_frame_MODS := net common
