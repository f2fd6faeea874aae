# libFuzzer target for the meta inode and directory-entry record decoders (src/meta/store.c).
FUZZERS += fuzz_meta_rec
fuzz_meta_rec_MODS := meta
