/* test_msg.c — c3_msg_name(): one name per message type of every service, from the tables. */
#include <stdlib.h>
#include <string.h>

#include "net/rpc.h"
#include "proto/meta.h"
#include "proto/mgmtd.h"
#include "proto/msg.h"
#include "proto/storage.h"
#include "tests/lib/tap.h"

int main(void)
{
	static const char *seen[65536];
	int named = 0, dup = 0;

	is_str(c3_msg_name(RPC_T_PING), "ping", "core: ping");
	is_str(c3_msg_name(MGMTD_T_HEARTBEAT), "heartbeat", "mgmtd: heartbeat");
	is_str(c3_msg_name(MGMTD_T_CHAIN_MEMBER), "chain_member", "mgmtd: chain_member (156)");
	is_str(c3_msg_name(MGMTD_T_USER_LIST), "user_list", "mgmtd: user_list");
	is_str(c3_msg_name(META_T_CREATE), "create", "meta: create");
	is_str(c3_msg_name(META_T_RELEASE), "release", "meta: release, the last one");
	is_str(c3_msg_name(STORAGE_T_SCRUB), "scrub", "storage: scrub");
	is_str(c3_msg_name(0), "?", "type 0 has no name");
	is_str(c3_msg_name(226), "?", "a meta number nobody uses has no name");
	is_str(c3_msg_name(65535), "?", "65535 has no name");
	/* every name belongs to one type only (metrics and logs tell types apart by it) */
	for (uint32_t t = 0; t < 65536; t++) {
		const char *n = c3_msg_name((uint16_t)t);

		if (strcmp(n, "?") == 0)
			continue;
		named++;
		for (uint32_t u = 0; u < t; u++)
			if (seen[u] && strcmp(seen[u], n) == 0)
				dup++;
		seen[t] = n;
	}
	is_int(dup, 0, "no two types share a name");
	is_int(named, 3 + 18 + 26 + 11, "every type of the tables is named (core, mgmtd, meta, storage)");
	return tap_done();
}
