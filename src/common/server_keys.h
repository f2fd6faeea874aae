/* server_keys.h — the RPC server's admission keys, one description for every daemon.
 *
 * C3_SERVER_ADMISSION_KEYS(K) expands to four config-table entries through the caller's own
 * key macro K(section, name, type, field, default, min, max, unit, reloadable, desc) (the
 * spelling of C3_DAEMON_KEYS in daemon.h; none of these is reloadable); the caller's
 * config struct has the fields max_conns, max_unauth_conns, max_unauth_per_addr (int64_t)
 * and auth_timeout_ms (uint64_t), handed to rpc_server_opts (src/net/rpc.h).
 */
#ifndef C3_SERVER_KEYS_H
#define C3_SERVER_KEYS_H

#define C3_SERVER_ADMISSION_KEYS(K)                                                      \
	K("server", "max_conns", C3_CFG_INT, max_conns, "4096", 1, 1000000, "connections", \
	  false, "authenticated connections served at once; more are refused with EBUSY"), \
	K("server", "max_unauth_conns", C3_CFG_INT, max_unauth_conns, "256", 1, 1000000, \
	  "connections", false,                                                          \
	  "connections not yet authenticated; a newer one sheds the oldest"),            \
	K("server", "max_unauth_per_addr", C3_CFG_INT, max_unauth_per_addr, "64", 1,     \
	  1000000, "connections", false,                                                 \
	  "connections not yet authenticated from one source address; a newer one sheds " \
	  "that address's oldest"),                                                      \
	K("server", "auth_timeout", C3_CFG_MS, auth_timeout_ms, "2s", 100, 600000, "ms", \
	  false, "a connection that has not authenticated within this is closed")

#endif
