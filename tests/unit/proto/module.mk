# Unit tests of proto (mk/targets.mk).  The GET_ROUTING reply's body is a routing snapshot,
# whose codec is cluster's (cluster/routing.h): the tests decode it whole, so they link it.
proto_TEST_MODS += cluster
