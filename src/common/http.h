/* http.h — a small HTTP/1.0 server with a route table, for the metrics endpoint and
 * mgmtd's status page.  One background thread per server, non-blocking sockets, no
 * keep-alive: one request per connection, then the connection is closed.
 *
 * What a client gets:
 *   - GET (or HEAD) of a registered path (the query string after '?' is passed on):
 *     whatever the handler answers.
 *   - a registered path with another method: 405; an unregistered path: 404.
 *   - a malformed request line (method not upper-case letters, target not starting with
 *     '/', a NUL byte, version not "HTTP/..."): 400.
 *   - a request (line and headers) larger than C3_HTTP_REQ_MAX: 413.
 *   - no complete request within read_timeout_ms of accept, or not done within
 *     timeout_ms: closed without an answer (counted in opts.timeouts).
 *   - at most C3_HTTP_MAX_CONNS connections; a new one takes the slot of the oldest idle
 *     one (counted in opts.shed), so idle sockets cannot lock scrapers out.
 * None of these stop the server: it keeps serving other clients.
 *
 * Handlers run on the server thread, one at a time, and must not block for long (they
 * answer from memory); every other client waits meanwhile.
 */
#ifndef C3_HTTP_H
#define C3_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"

/* Largest request accepted (request line and headers), in bytes; larger ones get 413. */
#define C3_HTTP_REQ_MAX 4096
/* Connections served at once. */
#define C3_HTTP_MAX_CONNS 64
/* Registered paths per server. */
#define C3_HTTP_MAX_ROUTES 32

/* A parsed request; the strings are NUL-terminated and valid during the handler call. */
struct c3_http_req {
	const char *method;      /* "GET" or "HEAD" */
	const char *path;        /* "/api/nodes" (no query) */
	const char *query;       /* text after '?', "" when none */
};

/* What a handler fills.  Preset: status 200, ctype "text/plain; charset=utf-8", empty
 * body and location.  A body with err set is answered 500.  A 3xx status sends location
 * as the Location header. */
struct c3_http_resp {
	int status;
	const char *ctype;       /* static string */
	struct c3_buf body;
	char location[256];
};

typedef void (*c3_http_handler_fn)(void *arg, const struct c3_http_req *req,
				   struct c3_http_resp *resp);

struct c3_counter;

struct c3_http_opts {
	uint64_t read_timeout_ms;     /* 0 = 1000 */
	uint64_t timeout_ms;          /* 0 = 5000 */
	struct c3_counter *shed;      /* may be NULL: connections shed for a newer one */
	struct c3_counter *timeouts;  /* may be NULL: connections closed at a deadline */
};

struct c3_http_server;

/* Bind "a.b.c.d:port" or "[v6]:port" (port 0 = pick one, returned through *port_out when
 * not NULL) and start the server thread.  opts may be NULL.  Returns 0 or -EINVAL (bad
 * address), -errno of socket/bind/listen/pthread_create, -ENOMEM; nothing to free then. */
int c3_http_server_start(const char *listen, const struct c3_http_opts *opts,
			 struct c3_http_server **out, int *port_out);
/* Stop the thread, close every connection and the socket, free.  NULL allowed.  Must
 * not be called from a handler. */
void c3_http_server_stop(struct c3_http_server *s);

/* Register fn for the exact path ("/metrics"); any thread, before or while serving.
 * arg must stay valid until the route is removed or the server stopped.  Returns 0,
 * -EEXIST (path taken), -ENOSPC (table full) or -EINVAL (path not starting with '/',
 * longer than 127 bytes). */
int c3_http_route_add(struct c3_http_server *s, const char *path, c3_http_handler_fn fn,
		      void *arg);
/* Remove the route of path (no-op when absent).  When it returns, its handler is not
 * running and will not run again, so arg may be freed. */
void c3_http_route_remove(struct c3_http_server *s, const char *path);

/* Append s as a JSON string literal (quotes included; control characters, quote and
 * backslash escaped; bytes >= 0x80 copied as they are). */
void c3_http_json_str(struct c3_buf *out, const char *s);

#endif
