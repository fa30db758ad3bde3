/* demo-http: demo-server's HTTP/1.1 plumbing: a fixed pool of worker
 * threads on one epoll set, keep-alive connections, request heads of at
 * most HTTP_MAX_REQUEST bytes, GET without a body. Invariant: a connection
 * is served by one worker at a time (EPOLLONESHOT), and http_stop returns
 * only when every worker has finished its request and ended. */
#ifndef DEMO_HTTP_H
#define DEMO_HTTP_H

#include <stddef.h>

#define HTTP_MAX_REQUEST 8192 /* request line and headers, at the most */
#define HTTP_MAX_THREADS 64

struct http_response {
	int status;
	int close; /* send Connection: close, then close */
	const char *extra_header; /* "Name: value\r\n", or NULL */
	size_t len;
	char body[2048];
};

/* The application's: answers one well-formed request, on a worker thread.
 * METHOD is a token of capitals; TARGET starts with '/' and may be changed.
 * R is all zeros on entry. */
void http_route(const char *method, char *target, struct http_response *r);

/* Listens on ADDR:PORT (IPv4; port 0 picks one), writes the port bound to
 * *BOUND_PORT and starts NTHREADS workers. 0, or -1 after saying why on
 * stderr. */
int http_start(const char *addr, int port, int nthreads, int *bound_port);

/* Stops accepting, lets the workers finish their requests, joins them and
 * closes every connection. */
void http_stop(void);

/* R's body: TEXT (cut to fit) with STATUS. */
void http_set_body(struct http_response *r, int status, const char *text);

#endif
