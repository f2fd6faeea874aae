# libFuzzer target for the chunk engine's LMDB record decoder (src/storage/chunk.c).
FUZZERS += fuzz_chunk_rec
fuzz_chunk_rec_MODS := storage
