FUZZERS += fuzz_routing
fuzz_routing_MODS := cluster net common
