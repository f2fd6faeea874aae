/* addr.h — the address a node gives mgmtd, and mgmtd's check of it.
 *
 * A node registers one "ip:port" that every other process uses to reach it.  It is
 * server.advertise when set, else server.listen's host with the bound port.  A wildcard
 * host (0.0.0.0, ::) is never a usable destination, so a node listening on one without
 * server.advertise refuses to start (cluster_node_addr).  mgmtd refuses a registration
 * whose address is a wildcard, or a loopback address (127/8, ::1) sent over a connection
 * from another address (cluster_addr_check): other hosts would connect to themselves.
 */
#ifndef C3_CLUSTER_ADDR_H
#define C3_CLUSTER_ADDR_H

#include <stddef.h>

enum cluster_addr_kind {
	CLUSTER_ADDR_OTHER = 0,
	CLUSTER_ADDR_WILDCARD = 1,
	CLUSTER_ADDR_LOOPBACK = 2,
};

/* Kind of an "ip:port" (or "[ipv6]:port") address; -C3FS_ECONFIG when unparsable. */
int cluster_addr_kind(const char *addr);

/* The address to register: advertise if non-empty (must parse and not be a wildcard),
 * else listen's host with bound_port.  0, or -C3FS_ECONFIG with a sentence in err. */
int cluster_node_addr(const char *listen, const char *advertise, int bound_port, char *out,
		      size_t outsz, char *err, size_t errlen);

/* mgmtd's check of a registering node's address against the connection's source address
 * (peer, "ip:port").  0, or -C3FS_EADVERTISE with the reason in err. */
int cluster_addr_check(const char *node_addr, const char *peer, char *err, size_t errlen);

#endif
