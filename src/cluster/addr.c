/* addr.c — node addresses: which one a node registers, and mgmtd's check (see addr.h). */
#include "cluster/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/errors.h"
#include "net/transport.h"

int cluster_addr_kind(const char *addr)
{
	struct sockaddr_storage ss;
	unsigned len;

	if (!addr || net_addr_parse(addr, &ss, &len) != 0)
		return -C3FS_ECONFIG;
	if (ss.ss_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)&ss)->sin_addr.s_addr);

		if (a == INADDR_ANY)
			return CLUSTER_ADDR_WILDCARD;
		if ((a >> 24) == 127)
			return CLUSTER_ADDR_LOOPBACK;
		return CLUSTER_ADDR_OTHER;
	}
	if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)&ss)->sin6_addr;

		if (IN6_IS_ADDR_UNSPECIFIED(a6))
			return CLUSTER_ADDR_WILDCARD;
		if (IN6_IS_ADDR_LOOPBACK(a6) ||
		    (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127))
			return CLUSTER_ADDR_LOOPBACK;
		return CLUSTER_ADDR_OTHER;
	}
	return -C3FS_ECONFIG;
}

int cluster_node_addr(const char *listen, const char *advertise, int bound_port, char *out,
		      size_t outsz, char *err, size_t errlen)
{
	const char *colon;
	int kind;

	if (advertise && advertise[0]) {
		kind = cluster_addr_kind(advertise);
		if (kind < 0 || kind == CLUSTER_ADDR_WILDCARD ||
		    strlen(advertise) >= outsz) {
			snprintf(err, errlen, "server.advertise \"%s\": expected the ip:port other "
				 "hosts use to reach this node (not a wildcard address)", advertise);
			return -C3FS_ECONFIG;
		}
		snprintf(out, outsz, "%s", advertise);
		return 0;
	}
	kind = cluster_addr_kind(listen);
	if (kind == CLUSTER_ADDR_WILDCARD) {
		snprintf(err, errlen, "server.listen is the wildcard address %s: set "
			 "server.advertise to the ip:port other hosts use to reach this node",
			 listen);
		return -C3FS_ECONFIG;
	}
	colon = listen ? strrchr(listen, ':') : NULL;
	if (kind < 0 || !colon) {
		snprintf(err, errlen, "server.listen \"%s\": expected ip:port",
			 listen ? listen : "");
		return -C3FS_ECONFIG;
	}
	if ((size_t)snprintf(out, outsz, "%.*s:%d", (int)(colon - listen), listen,
			     bound_port) >= outsz) {
		snprintf(err, errlen, "server.listen \"%s\": too long", listen);
		return -C3FS_ECONFIG;
	}
	return 0;
}

int cluster_addr_check(const char *node_addr, const char *peer, char *err, size_t errlen)
{
	int kind = cluster_addr_kind(node_addr);

	if (kind == CLUSTER_ADDR_WILDCARD || kind < 0) {
		snprintf(err, errlen, "address %s is not one other hosts can connect to: set "
			 "server.advertise on that node", node_addr);
		return -C3FS_EADVERTISE;
	}
	if (kind == CLUSTER_ADDR_LOOPBACK && cluster_addr_kind(peer) != CLUSTER_ADDR_LOOPBACK) {
		snprintf(err, errlen, "loopback address %s registered from %s (another host): "
			 "set server.listen or server.advertise on that node to an address the "
			 "others reach", node_addr, peer);
		return -C3FS_EADVERTISE;
	}
	return 0;
}
