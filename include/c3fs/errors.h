/* c3fs/errors.h — the c3fs error codes, for applications of libc3fs,
 * libc3fs-usrbio and libc3fs-ffrecord.
 *
 * Generated from src/common/errors.def by `c3fs-gen-docs errors-h`; do not edit.
 * Calls return 0 (or a count) on success and -code on failure, where code is a
 * Linux errno (ENOENT, ENOSPC, ...) or one of these.  c3fs_strerror() names any
 * code; c3fs_errno() gives the errno to report to an application
 * (docs/ERRORS.md lists both).  Codes are never reused.
 */
#ifndef C3FS_ERRORS_H
#define C3FS_ERRORS_H

enum c3fs_errcode {
	C3FS_EBADFRAME = 1000, /* malformed frame (bad magic or header checksum) */
	C3FS_EVERSION = 1001, /* unsupported protocol version */
	C3FS_EBADMSG = 1002, /* malformed message payload */
	C3FS_ETOOBIG = 1003, /* message exceeds the size limit */
	C3FS_EUNKNOWNTYPE = 1004, /* unknown message type */
	C3FS_EAUTH = 1005, /* authentication failed: wrong or missing cluster token */
	C3FS_EPEERCLOSED = 1006, /* peer closed the connection */
	C3FS_ETIMEDOUT = 1007, /* request deadline expired */
	C3FS_ESHUTDOWN = 1008, /* service is shutting down */
	C3FS_ECONFIG = 1009, /* invalid configuration */
	C3FS_ECONNECT = 1010, /* cannot connect to peer */
	C3FS_EBUSY = 1011, /* server overloaded, retry later */
	C3FS_EINTERNAL = 1012, /* internal error (a bug): see the server log */
	C3FS_EADMIN = 1013, /* operation needs the admin token */
	C3FS_EUSERTOKEN = 1014, /* authentication failed: unknown, removed or missing user token */
	C3FS_ECONFLICT = 1100, /* transaction conflict, retry */
	C3FS_EKV = 1101, /* metadata store backend error */
	C3FS_EKVTOOLARGE = 1102, /* key or value too large for the metadata store */
	C3FS_EKVMAYBECOMMITTED = 1103, /* commit outcome unknown (connection lost during commit) */
	C3FS_ECHECKSUM = 1200, /* chunk checksum mismatch: replica is corrupt */
	C3FS_ECHAINVER = 1201, /* stale chain version: refresh routing */
	C3FS_ENOTARGET = 1202, /* no such storage target on this node */
	C3FS_ETARGETDOWN = 1203, /* storage target is not serving */
	C3FS_ENOTHEAD = 1204, /* write sent to a target that is not the chain head */
	C3FS_ECHUNKVER = 1205, /* chunk update version mismatch */
	C3FS_ENOCHAIN = 1206, /* no such chain */
	C3FS_ENOSUCCESSOR = 1207, /* successor unavailable, chain being reconfigured */
	C3FS_EDUPLICATE = 1208, /* stale retry: a newer request on this update channel was already applied */
	C3FS_ENOTLEADER = 1300, /* not the mgmtd leader: redirect */
	C3FS_ELEASE = 1301, /* node lease expired or not granted */
	C3FS_ENOROUTING = 1302, /* routing information not ready */
	C3FS_EADVERTISE = 1303, /* node address unreachable from other hosts (wildcard or loopback): set server.advertise */
	C3FS_EBADLAYOUT = 1400, /* invalid file layout */
	C3FS_ESESSION = 1401, /* unknown or expired file session */
	C3FS_ENORETRY = 1500, /* retries exhausted */
};

#endif
