/* test_addr.c — the address a node registers (server.advertise / server.listen) and
 * mgmtd's refusal of wildcard addresses and of loopback addresses from other hosts. */
#include <stdio.h>
#include <string.h>

#include "cluster/addr.h"
#include "common/errors.h"
#include "tests/lib/tap.h"

int main(void)
{
	char out[48], err[256];

	is_int(cluster_addr_kind("0.0.0.0:9001"), CLUSTER_ADDR_WILDCARD, "0.0.0.0 is a wildcard");
	is_int(cluster_addr_kind("[::]:9001"), CLUSTER_ADDR_WILDCARD, ":: is a wildcard");
	is_int(cluster_addr_kind("127.0.0.1:9001"), CLUSTER_ADDR_LOOPBACK, "127.0.0.1 loopback");
	is_int(cluster_addr_kind("127.3.2.1:9001"), CLUSTER_ADDR_LOOPBACK, "127/8 loopback");
	is_int(cluster_addr_kind("[::1]:9001"), CLUSTER_ADDR_LOOPBACK, "::1 loopback");
	is_int(cluster_addr_kind("10.1.2.3:9001"), CLUSTER_ADDR_OTHER, "10.1.2.3 is usable");
	is_int(cluster_addr_kind("nonsense"), -C3FS_ECONFIG, "unparsable address");

	is_int(cluster_node_addr("10.0.0.5:0", "", 9123, out, sizeof(out), err, sizeof(err)), 0,
	       "listen address with the bound port");
	is_str(out, "10.0.0.5:9123", "bound port replaces port 0");
	is_int(cluster_node_addr("0.0.0.0:9001", "", 9001, out, sizeof(out), err, sizeof(err)),
	       -C3FS_ECONFIG, "wildcard listen without advertise refused");
	ok(strstr(err, "server.advertise") != NULL, "the error names server.advertise");
	is_int(cluster_node_addr("0.0.0.0:9001", "10.0.0.5:9001", 9001, out, sizeof(out), err,
				 sizeof(err)), 0, "wildcard listen with advertise");
	is_str(out, "10.0.0.5:9001", "advertise is registered");
	is_int(cluster_node_addr("10.0.0.5:9001", "0.0.0.0:9001", 9001, out, sizeof(out), err,
				 sizeof(err)), -C3FS_ECONFIG, "wildcard advertise refused");
	is_int(cluster_node_addr("10.0.0.5:9001", "host", 9001, out, sizeof(out), err,
				 sizeof(err)), -C3FS_ECONFIG, "advertise without a port refused");

	is_int(cluster_addr_check("10.0.0.5:9001", "10.0.0.5:40000", err, sizeof(err)), 0,
	       "routable address accepted");
	is_int(cluster_addr_check("127.0.0.1:9001", "127.0.0.1:40000", err, sizeof(err)), 0,
	       "loopback from the same host accepted");
	is_int(cluster_addr_check("127.0.0.1:9001", "10.0.0.7:40000", err, sizeof(err)),
	       -C3FS_EADVERTISE, "loopback from another host refused");
	ok(strstr(err, "10.0.0.7") != NULL, "the reason names the connection's address");
	is_int(cluster_addr_check("0.0.0.0:9001", "127.0.0.1:40000", err, sizeof(err)),
	       -C3FS_EADVERTISE, "wildcard refused even from the same host");
	return tap_done();
}
