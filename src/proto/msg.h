/* proto/msg.h — the names of message types, for logs and metrics.
 *
 * One function over the message tables of every service (mgmtd.def, meta.def,
 * storage.def) and the core RPC types of net/rpc.h.  Thread-safe (no state).
 */
#ifndef C3_PROTO_MSG_H
#define C3_PROTO_MSG_H

#include <stdint.h>

/* "write", "heartbeat", "lookup", ...; "?" for a type no table lists.  A static string. */
const char *c3_msg_name(uint16_t type);

#endif
