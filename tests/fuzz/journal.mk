# libFuzzer target for the chunk engine's journal record decoder (src/storage/journal.c).
FUZZERS += fuzz_journal
fuzz_journal_MODS := storage
