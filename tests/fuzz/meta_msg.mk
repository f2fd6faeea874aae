# libFuzzer target for the meta message decoders (src/proto/meta.c).
FUZZERS += fuzz_meta_msg
fuzz_meta_msg_MODS := proto net cluster common
