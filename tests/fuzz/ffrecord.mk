# libFuzzer target for the FFRecord header/index checks and the packed-folder pickle
# decoder (src/ffrecord/format.c, folder.c).
FUZZERS += fuzz_ffrecord
fuzz_ffrecord_MODS := ffrecord
