FUZZERS += fuzz_routing
fuzz_routing_MODS := cluster common $(if $(wildcard src/net/module.mk),net)
