/* proto/msg.c — c3_msg_name() from the message tables (msg.h). */
#include "proto/msg.h"

#include "net/rpc.h"
#include "proto/meta.h"
#include "proto/mgmtd.h"
#include "proto/storage.h"

const char *c3_msg_name(uint16_t type)
{
	switch (type) {
	case RPC_T_AUTH:
		return "auth";
	case RPC_T_PING:
		return "ping";
	case RPC_T_ECHO:
		return "echo";
#define MGMTD_TYPE(NAME, number, name, what)                                            \
	case number:                                                                    \
		return name;
#include "proto/mgmtd.def"
#define META_TYPE(NAME, number, name, what)                                             \
	case number:                                                                    \
		return name;
#include "proto/meta.def"
#define STORAGE_TYPE(NAME, number, name, req, rsp, what)                                \
	case number:                                                                    \
		return name;
#include "proto/storage.def"
	default:
		return "?";
	}
}
