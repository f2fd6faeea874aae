# libFuzzer target for the message codec (src/net/codec.h).
FUZZERS += fuzz_codec
fuzz_codec_MODS := net common
