# libFuzzer target for the config parser (src/common/config.c).
FUZZERS += fuzz_config
fuzz_config_MODS := common
