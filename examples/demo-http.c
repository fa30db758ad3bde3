/* demo-http: the HTTP/1.1 side of demo-server (see demo-http.h): workers
 * take events from one epoll set; each connection is armed EPOLLONESHOT, so
 * the worker that wakes for it owns it (and its buffer) until it re-arms or
 * closes it. Invariant: every open connection is in conns[], so http_stop
 * can close and free them all. */
#ifndef _GNU_SOURCE /* fuzz/fuzz-demohttp.c compiles this file with -D_GNU_SOURCE */
#define _GNU_SOURCE
#endif
#include "demo-http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_CONNS 512 /* open connections, under the usual 1024 fds; more are closed at once */
#define SEND_TIMEOUT_SEC 5

struct conn {
	int fd, slot; /* conns[slot] == this */
	size_t len;   /* bytes of buf received and not yet answered */
	char buf[HTTP_MAX_REQUEST];
};

static int epfd = -1, listen_fd = -1, wake_fd = -1;
static atomic_int stopping;
static pthread_t workers[HTTP_MAX_THREADS];
static int nworkers;
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns[MAX_CONNS];
static char listen_tag, wake_tag; /* epoll tags of the descriptors that are not connections */

void http_set_body(struct http_response *r, int status, const char *text)
{
	r->status = status;
	r->len = (size_t)snprintf(r->body, sizeof(r->body), "%s", text);
}

/* Parses one request HEAD (LEN bytes: request line and header lines, each
 * ending in CRLF) and routes it into R. A malformed request gets a 400 and
 * Connection: close. */
static void handle_request(const char *head, size_t len, struct http_response *r)
{
	char line[HTTP_MAX_REQUEST + 1], method[16], target[2048], version[16];
	*r = (struct http_response){0};
	if (memchr(head, 0, len))
		goto bad;
	memcpy(line, head, len);
	line[len] = 0;
	char *eol = strstr(line, "\r\n"), *hdr;
	*eol = 0;
	int used = 0;
	if (sscanf(line, "%15[A-Z] %2047[^ ] %15[^ ]%n", method, target, version, &used) != 3 || line[used] ||
	    target[0] != '/' || (strcmp(version, "HTTP/1.1") && strcmp(version, "HTTP/1.0")))
		goto bad;
	int keep_alive = !strcmp(version, "HTTP/1.1"), close_asked = 0;
	for (hdr = eol + 2; *hdr; hdr = eol + 2) {
		eol = strstr(hdr, "\r\n");
		*eol = 0;
		char *colon = strchr(hdr, ':'), *blank = strpbrk(hdr, " \t");
		if (!colon || colon == hdr || (blank && blank < colon))
			goto bad;
		*colon = 0;
		const char *value = colon + 1 + strspn(colon + 1, " \t");
		if (!strcasecmp(hdr, "Connection")) {
			close_asked |= strcasestr(value, "close") != NULL;
			keep_alive |= strcasestr(value, "keep-alive") != NULL;
		} else if (!strcasecmp(hdr, "Transfer-Encoding") ||
			   (!strcasecmp(hdr, "Content-Length") && strcmp(value, "0"))) {
			goto bad; /* no route takes a body */
		}
	}
	http_route(method, target, r);
	r->close = close_asked || !keep_alive;
	return;
bad:
	http_set_body(r, 400, "bad request\n");
	r->close = 1;
}

/* Sends R whole; 0, or -1 when the client is gone or stopped reading (the
 * socket's send timeout). MSG_NOSIGNAL: a vanished client is no SIGPIPE. */
static int send_response(int fd, const struct http_response *r)
{
	int s = r->status;
	const char *reason = s == 200 ? "OK" : s == 400 ? "Bad Request" : s == 404 ? "Not Found"
			   : s == 405 ? "Method Not Allowed" : s == 431 ? "Request Header Fields Too Large"
			   : "Internal Server Error";
	char out[sizeof(r->body) + 256];
	int n = snprintf(out, sizeof(out),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%sConnection: %s\r\n\r\n",
			 s, reason, r->len, r->extra_header ? r->extra_header : "", r->close ? "close" : "keep-alive");
	memcpy(out + n, r->body, r->len);
	for (size_t done = 0, len = (size_t)n + r->len; done < len;) {
		ssize_t sent = send(fd, out + done, len - done, MSG_NOSIGNAL);
		if (sent < 0 && errno != EINTR)
			return -1;
		done += sent > 0 ? (size_t)sent : 0;
	}
	return 0;
}

/* Answers every complete request in C's buffer (pipelined ones too).
 * Returns 0 to keep the connection, -1 to close it. */
static int serve_buffered(struct conn *c)
{
	struct http_response r;
	char *end;
	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
		size_t used = (size_t)(end + 4 - c->buf);
		handle_request(c->buf, used - 2, &r); /* up to the last header's CRLF */
		if (send_response(c->fd, &r) < 0 || r.close)
			return -1;
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
	if (c->len < sizeof(c->buf))
		return 0;
	r = (struct http_response){.close = 1}; /* no end of headers in HTTP_MAX_REQUEST bytes */
	http_set_body(&r, 431, "request too large\n");
	send_response(c->fd, &r);
	return -1;
}

static void conn_close(struct conn *c)
{
	pthread_mutex_lock(&conns_lock);
	conns[c->slot] = NULL;
	pthread_mutex_unlock(&conns_lock);
	close(c->fd);
	free(c);
}

static void arm(int fd, void *tag, int op)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = tag};
	epoll_ctl(epfd, op, fd, &ev);
}

/* Reads what C's client sent, answers it, and re-arms C or closes it. */
static void serve_conn(struct conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) /* the client closed, or the connection broke */
			return conn_close(c);
		c->len += (size_t)n;
		if (serve_buffered(c) < 0)
			return conn_close(c);
	}
	arm(c->fd, c, EPOLL_CTL_MOD);
}

static void accept_all(void)
{
	static const struct timeval send_timeout = {.tv_sec = SEND_TIMEOUT_SEC};
	int fd, slot = 0;
	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		struct conn *c = NULL;
		pthread_mutex_lock(&conns_lock);
		while (slot < MAX_CONNS && conns[slot])
			slot++;
		if (slot < MAX_CONNS && (c = malloc(sizeof(*c))))
			*c = (struct conn){.fd = fd, .slot = slot}, conns[slot] = c;
		pthread_mutex_unlock(&conns_lock);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
		if (c)
			arm(fd, c, EPOLL_CTL_ADD);
		else
			close(fd); /* MAX_CONNS clients already */
	}
	if (!atomic_load(&stopping))
		arm(listen_fd, &listen_tag, EPOLL_CTL_MOD);
}

static void *worker_main(void *unused)
{
	(void)unused;
	while (!atomic_load(&stopping)) {
		struct epoll_event ev;
		if (epoll_wait(epfd, &ev, 1, -1) != 1)
			continue; /* EINTR */
		if (ev.data.ptr == &wake_tag)
			break;
		if (ev.data.ptr == &listen_tag)
			accept_all();
		else
			serve_conn(ev.data.ptr);
	}
	return NULL;
}

int http_start(const char *addr, int port, int nthreads, int *bound_port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "demo-server: --bind takes an IPv4 address, not '%s'\n", addr);
		return -1;
	}
	int one = 1;
	socklen_t len = sizeof(sa);
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(listen_fd, 128) < 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&sa, &len) < 0 || (epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (wake_fd = eventfd(0, EFD_CLOEXEC)) < 0) {
		fprintf(stderr, "demo-server: cannot listen on %s:%d: %s\n", addr, port, strerror(errno));
		http_stop();
		return -1;
	}
	*bound_port = ntohs(sa.sin_port);
	struct epoll_event wake = {.events = EPOLLIN, .data.ptr = &wake_tag}; /* level-triggered */
	epoll_ctl(epfd, EPOLL_CTL_ADD, wake_fd, &wake);
	arm(listen_fd, &listen_tag, EPOLL_CTL_ADD);
	while (nworkers < nthreads && pthread_create(&workers[nworkers], NULL, worker_main, NULL) == 0)
		nworkers++;
	if (nworkers == nthreads)
		return 0;
	fprintf(stderr, "demo-server: cannot start %d threads\n", nthreads);
	http_stop();
	return -1;
}

void http_stop(void)
{
	atomic_store(&stopping, 1);
	if (wake_fd >= 0)
		eventfd_write(wake_fd, 1); /* readable from now on: every worker wakes and ends */
	for (; nworkers > 0; nworkers--)
		pthread_join(workers[nworkers - 1], NULL);
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i])
			conn_close(conns[i]);
	int *fds[] = {&listen_fd, &wake_fd, &epfd};
	for (int i = 0; i < 3; i++)
		if (*fds[i] >= 0)
			close(*fds[i]), *fds[i] = -1;
}
