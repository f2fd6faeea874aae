/* http.c: the route table (exact paths, 404 / 405, HEAD without a body, query strings,
 * redirects with Location, 500 for a failed body), bounds (413 for an oversized request,
 * 400 for garbage, both leaving the server serving), route removal while serving, two
 * servers at once, random request lines, and the JSON string escaper. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/http.h"
#include "tests/lib/tap.h"

static int port;

static char *get(int p, const char *req)
{
	struct sockaddr_in a;
	struct timeval tv = { 10, 0 };
	struct c3_buf b = C3_BUF_INIT;
	char tmp[4096];
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)p);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return NULL;
	}
	send(fd, req, strlen(req), MSG_NOSIGNAL);
	while ((n = recv(fd, tmp, sizeof(tmp), 0)) > 0)
		c3_buf_append(&b, tmp, (size_t)n);
	close(fd);
	c3_buf_append(&b, "", 1);
	return (char *)c3_buf_detach(&b, NULL);
}

static int starts(const char *r, const char *want)
{
	int good = r && strncmp(r, want, strlen(want)) == 0;

	if (!good)
		diag("got \"%.60s\", want \"%s\"", r ? r : "(null)", want);
	return good;
}

static int calls;

static void h_echo(void *arg, const struct c3_http_req *req, struct c3_http_resp *resp)
{
	calls++;
	resp->ctype = "application/json";
	c3_buf_printf(&resp->body, "{\"tag\":\"%s\",\"method\":\"%s\",\"path\":\"%s\",\"query\":\"%s\"}",
		      (const char *)arg, req->method, req->path, req->query);
}

static void h_redirect(void *arg, const struct c3_http_req *req, struct c3_http_resp *resp)
{
	(void)arg;
	(void)req;
	resp->status = 307;
	snprintf(resp->location, sizeof(resp->location), "http://127.0.0.1:1/x");
}

static void h_fail(void *arg, const struct c3_http_req *req, struct c3_http_resp *resp)
{
	(void)arg;
	(void)req;
	c3_buf_append(&resp->body, "partial", 7);
	resp->body.err = -ENOMEM;
}

static void test_routes(void)
{
	struct c3_http_server *s = NULL, *s2 = NULL;
	int port2 = 0;
	char *r, big[C3_HTTP_REQ_MAX + 200];

	is_int(c3_http_server_start("127.0.0.1:70000", NULL, &s, NULL), -EINVAL, "bad port");
	is_int(c3_http_server_start("127.0.0.1:0", NULL, &s, &port), 0, "server started");
	is_int(c3_http_route_add(s, "/a", h_echo, "A"), 0, "route /a");
	is_int(c3_http_route_add(s, "/a", h_echo, "A"), -EEXIST, "duplicate path refused");
	is_int(c3_http_route_add(s, "b", h_echo, "B"), -EINVAL, "path without / refused");
	is_int(c3_http_route_add(s, "/r", h_redirect, NULL), 0, "route /r");
	is_int(c3_http_route_add(s, "/f", h_fail, NULL), 0, "route /f");

	r = get(port, "GET /a?x=1&y=2 HTTP/1.1\r\nHost: h\r\n\r\n");
	ok(starts(r, "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"), "GET /a is 200 JSON");
	ok(r && strstr(r, "{\"tag\":\"A\",\"method\":\"GET\",\"path\":\"/a\",\"query\":\"x=1&y=2\"}"),
	   "handler sees method, path and query");
	free(r);
	r = get(port, "HEAD /a HTTP/1.0\r\n\r\n");
	ok(starts(r, "HTTP/1.0 200"), "HEAD is 200");
	ok(r && strstr(r, "Content-Length: ") && !strstr(r, "{\"tag\""), "HEAD has no body");
	free(r);
	r = get(port, "GET /a/ HTTP/1.0\r\n\r\n");
	ok(starts(r, "HTTP/1.0 404"), "paths match exactly");
	free(r);
	r = get(port, "DELETE /a HTTP/1.0\r\n\r\n");
	ok(starts(r, "HTTP/1.0 405"), "DELETE is 405");
	free(r);
	r = get(port, "GET /r HTTP/1.0\r\n\r\n");
	ok(starts(r, "HTTP/1.0 307 Temporary Redirect\r\n") &&
		   strstr(r, "\r\nLocation: http://127.0.0.1:1/x\r\n"), "redirect with Location");
	free(r);
	r = get(port, "GET /f HTTP/1.0\r\n\r\n");
	ok(starts(r, "HTTP/1.0 500") && !strstr(r, "partial"), "failed body is 500, not sent");
	free(r);
	r = get(port, "get /a HTTP/1.0\r\n\r\n");
	ok(starts(r, "HTTP/1.0 400"), "lower-case method is 400");
	free(r);
	memset(big, 'h', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "GET /a HTTP/1.0\r\nX: ", 20);
	r = get(port, big);
	ok(starts(r, "HTTP/1.0 413"), "oversized request is 413");
	free(r);
	r = get(port, "GET /a HTTP/1.0\r\n\r\n");
	ok(starts(r, "HTTP/1.0 200"), "still serving after 400 and 413");
	free(r);

	/* a second server next to the first, routes of its own */
	is_int(c3_http_server_start("127.0.0.1:0", NULL, &s2, &port2), 0, "second server");
	is_int(c3_http_route_add(s2, "/a", h_echo, "B"), 0, "same path on the second server");
	r = get(port2, "GET /a HTTP/1.0\r\n\r\n");
	ok(r && strstr(r, "\"tag\":\"B\""), "each server has its own table");
	free(r);
	c3_http_server_stop(s2);

	calls = 0;
	c3_http_route_remove(s, "/a");
	r = get(port, "GET /a HTTP/1.0\r\n\r\n");
	ok(starts(r, "HTTP/1.0 404") && calls == 0, "removed route is 404, handler not called");
	free(r);
	c3_http_route_remove(s, "/nothing");
	for (int i = 0; i < C3_HTTP_MAX_ROUTES - 2; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/p%d", i);
		if (c3_http_route_add(s, p, h_echo, "P") != 0)
			break;
	}
	is_int(c3_http_route_add(s, "/one-too-many", h_echo, "P"), -ENOSPC, "table full");
	c3_http_server_stop(s);
	c3_http_server_stop(NULL);
	ok(1, "stop NULL is harmless");
}

/* Random request lines built from HTTP-ish pieces and bytes: every answer is a status
 * line the contract allows, and the server serves a good request afterwards (ASan checks
 * the parser's bounds on the way). */
static void test_random(void)
{
	static const char *const piece[] = { "GET", "HEAD", "POST", "get", " ", "  ", "/", "/a",
					     "?", "?q=1", "HTTP/1.0", "HTTP/", "FTP/1", "\r\n",
					     "\n", "\r", "\0", "\xff", "%00", "/a?b?c", "\t" };
	struct c3_http_server *s = NULL;
	int p = 0, bad = 0;
	char req[600], *r;

	if (c3_http_server_start("127.0.0.1:0", NULL, &s, &p) != 0 ||
	    c3_http_route_add(s, "/a", h_echo, "A") != 0) {
		ok(0, "random: server");
		return;
	}
	for (int i = 0; i < 300; i++) {
		size_t n = 0;
		int k = 1 + rand() % 8;

		for (int j = 0; j < k && n < sizeof(req) - 40; j++) {
			if (rand() % 5 == 0) {
				req[n++] = (char)(1 + rand() % 255);
			} else {
				const char *pc = piece[rand() % (int)(sizeof(piece) / sizeof(piece[0]))];

				memcpy(req + n, pc, strlen(pc));
				n += strlen(pc);
			}
		}
		memcpy(req + n, "\r\n\r\n", 5);
		r = get(p, req);
		if (!r || !(r[0] == '\0' || starts(r, "HTTP/1.0 200 ") || starts(r, "HTTP/1.0 400 ") ||
			    starts(r, "HTTP/1.0 404 ") || starts(r, "HTTP/1.0 405 ")))
			bad++;
		free(r);
	}
	is_int(bad, 0, "random requests: only 200/400/404/405");
	r = get(p, "GET /a HTTP/1.0\r\n\r\n");
	ok(starts(r, "HTTP/1.0 200"), "served after random requests");
	free(r);
	c3_http_server_stop(s);
}

static void test_json(void)
{
	struct c3_buf b = C3_BUF_INIT;

	c3_http_json_str(&b, "a\"b\\c\nd\x01\xc3\xa9");
	c3_buf_append(&b, "", 1);
	is_str((const char *)b.data, "\"a\\\"b\\\\c\\u000ad\\u0001\xc3\xa9\"", "JSON escaping");
	c3_buf_release(&b);
	c3_http_json_str(&b, NULL);
	c3_buf_append(&b, "", 1);
	is_str((const char *)b.data, "\"\"", "NULL is the empty string");
	c3_buf_release(&b);
}

int main(void)
{
	srand(7);
	test_routes();
	test_random();
	test_json();
	return tap_done();
}
