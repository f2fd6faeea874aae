# libFuzzer target for the storage message decoders (src/proto/storage.c).
FUZZERS += fuzz_storage_msg
fuzz_storage_msg_MODS := proto net cluster common
