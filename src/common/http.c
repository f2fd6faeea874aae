/* http.c — the HTTP/1.0 server of http.h: one thread, a route table, bounded requests,
 * deadlines and shedding.  See http.h for what clients get.
 *
 * Invariants:
 * - The server thread polls the listen socket, a wake-up pipe and at most
 *   C3_HTTP_MAX_CONNS non-blocking connections.  A connection must send its request
 *   within the read timeout and be done within the total timeout after accept; a request
 *   is at most C3_HTTP_REQ_MAX bytes.
 * - The listen socket is always polled: when every slot is taken, a new connection takes
 *   the slot of the oldest idle reader (no request bytes waiting), else of one draining,
 *   so idle sockets cannot keep a scraper, which sends its request at once, waiting.
 *   A connection is never shed in the poll round it was accepted in.
 * - Routes are guarded by route_lock, which the server thread holds while a handler runs:
 *   c3_http_route_remove() therefore returns only once the handler is not running.
 *
 * Connection states:
 *
 *   accept --> READ --(headers complete / too big / garbage)--> WRITE --(all sent)--> DRAIN
 *               |                                                 |                    |
 *               +--(EOF, error, deadline)--> closed <--(error, deadline)--+  (EOF, error,
 *                                                                          deadline)--+
 *   DRAIN: our side is shut down for writing; unread input is discarded until the peer
 *   closes (at most 1 s), so that close() does not reset the connection before the client
 *   read the response (a 413 is sent while the client may still be sending).
 */
#include "common/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/metrics.h"

enum http_state { HTTP_FREE = 0, HTTP_READ, HTTP_WRITE, HTTP_DRAIN };

/* One client connection; owned and touched only by the server thread. */
struct http_conn {
	enum http_state state;
	int fd;
	uint64_t deadline_ms;          /* c3_now_ms() after which the connection is dropped */
	uint64_t accepted_ms;          /* c3_now_ms() at accept */
	uint64_t round;                /* server round at accept */
	size_t rlen;                   /* bytes of req received */
	char req[C3_HTTP_REQ_MAX];
	struct c3_buf resp;            /* the whole response, built once */
	size_t woff;                   /* bytes of resp sent */
};

struct http_route {
	char path[128];                /* "" = free entry */
	c3_http_handler_fn fn;
	void *arg;
};

struct c3_http_server {
	int lfd;                       /* listening socket (non-blocking) */
	int wake[2];                   /* pipe: a byte on wake[1] stops the thread */
	pthread_t thread;
	uint64_t read_timeout_ms, timeout_ms;          /* immutable after start */
	struct c3_counter *shed, *timeouts;            /* immutable after start */
	uint64_t round;                /* poll rounds so far (server thread only) */
	pthread_mutex_t route_lock;
	struct http_route routes[C3_HTTP_MAX_ROUTES];  /* (route_lock) */
	struct http_conn conns[C3_HTTP_MAX_CONNS];     /* server thread only */
};

static void http_conn_close(struct http_conn *c)
{
	close(c->fd);
	c3_buf_release(&c->resp);
	c->state = HTTP_FREE;
	c->fd = -1;
}

static const char *http_reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 307: return "Temporary Redirect";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 503: return "Service Unavailable";
	default: return code < 400 ? "OK" : code < 500 ? "Bad Request" : "Internal Server Error";
	}
}

static void http_reply(struct c3_http_server *s, struct http_conn *c, int code,
		       const char *ctype, const char *location, const void *body, size_t len,
		       bool head)
{
	c3_buf_reset(&c->resp);
	c3_buf_printf(&c->resp, "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n",
		      code, http_reason(code), ctype, len);
	if (location && location[0])
		c3_buf_printf(&c->resp, "Location: %s\r\n", location);
	c3_buf_printf(&c->resp, "Cache-Control: no-store\r\nConnection: close\r\n\r\n");
	if (!head)
		c3_buf_append(&c->resp, body, len);
	c->woff = 0;
	c->state = HTTP_WRITE;
	c->deadline_ms = c->accepted_ms + s->timeout_ms;
}

static void http_reply_text(struct c3_http_server *s, struct http_conn *c, int code,
			    const char *msg)
{
	http_reply(s, c, code, "text/plain; charset=utf-8", NULL, msg, strlen(msg), false);
}

static bool http_is_token(const char *p, size_t n)
{
	if (n == 0 || n > 16)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isupper((unsigned char)p[i]))
			return false;
	return true;
}

/* Call the route's handler (route_lock held by the caller) and answer. */
static void http_dispatch(struct c3_http_server *s, struct http_conn *c, struct http_route *r,
			  const struct c3_http_req *req, bool head)
{
	struct c3_http_resp resp = { .status = 200, .ctype = "text/plain; charset=utf-8" };

	r->fn(r->arg, req, &resp);
	if (resp.body.err || resp.status < 100 || resp.status > 599)
		http_reply_text(s, c, 500, "internal error\n");
	else
		http_reply(s, c, resp.status, resp.ctype ? resp.ctype : "text/plain", resp.location,
			   resp.body.data, resp.body.len, head);
	c3_buf_release(&resp.body);
}

/* The request line is complete in c->req[0..end): decide and build the response. */
static void http_handle(struct c3_http_server *s, struct http_conn *c, size_t end)
{
	const char *req = c->req, *sp1, *sp2, *target, *q;
	size_t n = end, tlen, mlen;
	char method[17], path[C3_HTTP_REQ_MAX], query[C3_HTTP_REQ_MAX];
	struct http_route *found = NULL;
	bool head;

	if (n && req[n - 1] == '\r')
		n--;
	sp1 = memchr(req, ' ', n);
	if (!sp1 || !http_is_token(req, (size_t)(sp1 - req))) {
		http_reply_text(s, c, 400, "bad request\n");
		return;
	}
	mlen = (size_t)(sp1 - req);
	target = sp1 + 1;
	sp2 = memchr(target, ' ', (size_t)(req + n - target));
	tlen = sp2 ? (size_t)(sp2 - target) : (size_t)(req + n - target);
	if (tlen == 0 || target[0] != '/' || memchr(target, '\0', tlen) ||
	    (sp2 && (size_t)(req + n - sp2 - 1) < 5) || (sp2 && memcmp(sp2 + 1, "HTTP/", 5) != 0)) {
		http_reply_text(s, c, 400, "bad request\n");
		return;
	}
	memcpy(method, req, mlen);
	method[mlen] = '\0';
	q = memchr(target, '?', tlen);
	memcpy(path, target, q ? (size_t)(q - target) : tlen);
	path[q ? (size_t)(q - target) : tlen] = '\0';
	if (q) {
		memcpy(query, q + 1, tlen - (size_t)(q - target) - 1);
		query[tlen - (size_t)(q - target) - 1] = '\0';
	} else {
		query[0] = '\0';
	}
	head = strcmp(method, "HEAD") == 0;
	pthread_mutex_lock(&s->route_lock);
	for (int i = 0; i < C3_HTTP_MAX_ROUTES; i++)
		if (s->routes[i].path[0] && strcmp(s->routes[i].path, path) == 0)
			found = &s->routes[i];
	if (!found) {
		http_reply_text(s, c, 404, "not found\n");
	} else if (!head && strcmp(method, "GET") != 0) {
		http_reply_text(s, c, 405, "method not allowed: only GET and HEAD\n");
	} else {
		struct c3_http_req r = { .method = method, .path = path, .query = query };

		http_dispatch(s, c, found, &r, head);
	}
	pthread_mutex_unlock(&s->route_lock);
}

static void http_on_read(struct c3_http_server *s, struct http_conn *c)
{
	ssize_t n = recv(c->fd, c->req + c->rlen, sizeof(c->req) - c->rlen, 0);
	const char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		http_conn_close(c);
		return;
	}
	c->rlen += (size_t)n;
	/* the request ends with an empty line; only the first line matters */
	if (memmem(c->req, c->rlen, "\r\n\r\n", 4) || memmem(c->req, c->rlen, "\n\n", 2)) {
		nl = memchr(c->req, '\n', c->rlen);
		http_handle(s, c, (size_t)(nl - c->req));
	} else if (c->rlen == sizeof(c->req)) {
		http_reply_text(s, c, 413, "request too large\n");
	}
}

static void http_on_write(struct http_conn *c)
{
	ssize_t n = send(c->fd, c->resp.data + c->woff, c->resp.len - c->woff, MSG_NOSIGNAL);
	uint64_t linger;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0) {
		http_conn_close(c);
		return;
	}
	c->woff += (size_t)n;
	if (c->woff < c->resp.len)
		return;
	shutdown(c->fd, SHUT_WR);
	c3_buf_release(&c->resp);
	c->state = HTTP_DRAIN;
	linger = c3_now_ms() + 1000;
	if (linger < c->deadline_ms)
		c->deadline_ms = linger;
}

static void http_on_drain(struct http_conn *c)
{
	char scratch[4096];
	ssize_t n = recv(c->fd, scratch, sizeof(scratch), 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0)
		http_conn_close(c);
}

/* Shedding preference of a taken slot (lower goes first): an idle reader (no request
 * bytes waiting), one draining, a reader whose request is already waiting, one writing. */
static int http_shed_rank(const struct http_conn *c)
{
	int n = 0;

	if (c->state == HTTP_READ)
		return ioctl(c->fd, FIONREAD, &n) == 0 && n > 0 ? 2 : 0;
	return c->state == HTTP_DRAIN ? 1 : 3;
}

/* The slot for a new connection: a free one, else the one to close to make room (lowest
 * rank, oldest first) among those accepted before this round (a connection always gets
 * one poll round to show its request).  NULL when there is none. */
static struct http_conn *http_slot(struct c3_http_server *s)
{
	struct http_conn *victim = NULL;
	int vrank = 4;

	for (int i = 0; i < C3_HTTP_MAX_CONNS; i++) {
		struct http_conn *c = &s->conns[i];
		int rank;

		if (c->state == HTTP_FREE)
			return c;
		if (c->round == s->round)
			continue;
		rank = http_shed_rank(c);
		if (rank < vrank || (rank == vrank && c->accepted_ms < victim->accepted_ms)) {
			victim = c;
			vrank = rank;
		}
	}
	return victim;
}

/* Accept what is pending.  Returns a pause (ms) when out of descriptors. */
static uint64_t http_accept(struct c3_http_server *s)
{
	for (;;) {
		struct http_conn *c = http_slot(s);
		uint64_t now;
		int fd;

		if (!c)
			return 0; /* every slot taken this round: the rest wait in the backlog */
		fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				return 100;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return 0; /* EAGAIN and the rest: nothing more to accept now */
		}
		if (c->state != HTTP_FREE) {
			http_conn_close(c);
			c3_counter_add(s->shed, 1);
		}
		now = c3_now_ms();
		memset(c, 0, sizeof(*c));
		c->round = s->round;
		c->fd = fd;
		c->state = HTTP_READ;
		c->accepted_ms = now;
		c->deadline_ms = now + (s->timeout_ms < s->read_timeout_ms ? s->timeout_ms
									  : s->read_timeout_ms);
	}
	return 0;
}

static void *http_main(void *arg)
{
	struct c3_http_server *s = arg;
	struct pollfd pfd[2 + C3_HTTP_MAX_CONNS];
	int who[2 + C3_HTTP_MAX_CONNS];
	uint64_t pause_until = 0;

	for (;;) {
		uint64_t now = c3_now_ms(), wait = 1000;

		s->round++;
		int n = 0, lidx = -1, rc;

		pfd[n++] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		for (int i = 0; i < C3_HTTP_MAX_CONNS; i++) {
			struct http_conn *c = &s->conns[i];

			if (c->state != HTTP_FREE && now >= c->deadline_ms) {
				if (c->state != HTTP_DRAIN)
					c3_counter_add(s->timeouts, 1);
				http_conn_close(c); /* slow or stuck client */
			}
			if (c->state == HTTP_FREE)
				continue;
			if (c->deadline_ms - now < wait)
				wait = c->deadline_ms - now;
			who[n] = i;
			pfd[n++] = (struct pollfd){ .fd = c->fd,
						    .events = c->state == HTTP_WRITE ? POLLOUT : POLLIN };
		}
		if (now >= pause_until) {
			lidx = n;
			pfd[n++] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
		} else if (pause_until - now < wait) {
			wait = pause_until - now;
		}
		rc = poll(pfd, (nfds_t)n, (int)wait + 1);
		if (rc < 0) {
			if (errno != EINTR)
				c3_sleep_ms(10);
			continue;
		}
		if (pfd[0].revents)
			break; /* c3_http_server_stop() */
		for (int k = 1; k < n; k++) {
			struct http_conn *c;

			if (k == lidx || !pfd[k].revents)
				continue;
			c = &s->conns[who[k]];
			if (c->state == HTTP_READ)
				http_on_read(s, c);
			else if (c->state == HTTP_WRITE)
				http_on_write(c);
			else if (c->state == HTTP_DRAIN)
				http_on_drain(c);
		}
		if (lidx >= 0 && pfd[lidx].revents) {
			uint64_t pause = http_accept(s);

			if (pause)
				pause_until = c3_now_ms() + pause;
		}
	}
	for (int i = 0; i < C3_HTTP_MAX_CONNS; i++)
		if (s->conns[i].state != HTTP_FREE)
			http_conn_close(&s->conns[i]);
	return NULL;
}

/* "a.b.c.d:port" or "[v6]:port" into *ss. */
static int http_parse_addr(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char host[64];
	const char *colon, *h;
	size_t hlen;
	char *end;
	long port;

	if (!listen)
		return -EINVAL;
	colon = strrchr(listen, ':');
	if (!colon || !colon[1])
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (*end || errno || port < 0 || port > 65535 || !isdigit((unsigned char)colon[1]))
		return -EINVAL;
	h = listen;
	hlen = (size_t)(colon - listen);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*sslen = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -EINVAL;
}

int c3_http_server_start(const char *listen_addr, const struct c3_http_opts *opts,
			 struct c3_http_server **out, int *port_out)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct c3_http_server *s;
	sigset_t all, old;
	int one = 1, rc;

	rc = http_parse_addr(listen_addr, &ss, &sslen);
	if (rc != 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->read_timeout_ms = opts && opts->read_timeout_ms ? opts->read_timeout_ms : 1000;
	s->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : 5000;
	s->shed = opts ? opts->shed : NULL;
	s->timeouts = opts ? opts->timeouts : NULL;
	s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		rc = -errno;
		goto out_free;
	}
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->lfd, (struct sockaddr *)&ss, sslen) != 0 || listen(s->lfd, 128) != 0) {
		rc = -errno;
		goto out_sock;
	}
	if (port_out) {
		sslen = sizeof(ss);
		if (getsockname(s->lfd, (struct sockaddr *)&ss, &sslen) != 0) {
			rc = -errno;
			goto out_sock;
		}
		*port_out = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
							  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		rc = -errno;
		goto out_sock;
	}
	pthread_mutex_init(&s->route_lock, NULL);
	/* the server thread takes no signals: they stay with the service's own threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&s->thread, NULL, http_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		goto out_pipe;
	*out = s;
	return 0;
out_pipe:
	pthread_mutex_destroy(&s->route_lock);
	close(s->wake[0]);
	close(s->wake[1]);
out_sock:
	close(s->lfd);
out_free:
	free(s);
	return rc;
}

void c3_http_server_stop(struct c3_http_server *s)
{
	ssize_t n;

	if (!s)
		return;
	do
		n = write(s->wake[1], "x", 1);
	while (n < 0 && errno == EINTR);
	pthread_join(s->thread, NULL);
	close(s->wake[0]);
	close(s->wake[1]);
	close(s->lfd);
	pthread_mutex_destroy(&s->route_lock);
	free(s);
}

int c3_http_route_add(struct c3_http_server *s, const char *path, c3_http_handler_fn fn,
		      void *arg)
{
	struct http_route *free_slot = NULL;
	int rc = 0;

	if (!s || !fn || !path || path[0] != '/' || strlen(path) >= sizeof(free_slot->path))
		return -EINVAL;
	pthread_mutex_lock(&s->route_lock);
	for (int i = 0; i < C3_HTTP_MAX_ROUTES; i++) {
		if (!s->routes[i].path[0]) {
			if (!free_slot)
				free_slot = &s->routes[i];
		} else if (strcmp(s->routes[i].path, path) == 0) {
			rc = -EEXIST;
			goto out;
		}
	}
	if (!free_slot) {
		rc = -ENOSPC;
		goto out;
	}
	snprintf(free_slot->path, sizeof(free_slot->path), "%s", path);
	free_slot->fn = fn;
	free_slot->arg = arg;
out:
	pthread_mutex_unlock(&s->route_lock);
	return rc;
}

void c3_http_route_remove(struct c3_http_server *s, const char *path)
{
	if (!s || !path)
		return;
	pthread_mutex_lock(&s->route_lock);
	for (int i = 0; i < C3_HTTP_MAX_ROUTES; i++)
		if (s->routes[i].path[0] && strcmp(s->routes[i].path, path) == 0)
			memset(&s->routes[i], 0, sizeof(s->routes[i]));
	pthread_mutex_unlock(&s->route_lock);
}

void c3_http_json_str(struct c3_buf *out, const char *s)
{
	c3_buf_append(out, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (*p == '"' || *p == '\\') {
			char e[2] = { '\\', (char)*p };

			c3_buf_append(out, e, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			c3_buf_printf(out, "\\u%04x", *p);
		} else {
			c3_buf_append(out, p, 1);
		}
	}
	c3_buf_append(out, "\"", 1);
}
