/* runctl: readiness probes and graceful stops for kiln run (see runctl.h).
 * Invariant: every socket is non-blocking and waited on with poll() under
 * the caller's timeout; nothing here prints. */
#include "collect/runctl.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int bad(struct diag *d, const char *fmt, const char *what)
{
	if (d)
		snprintf(d->msg, sizeof(d->msg), fmt, what);
	return KILN_ERR_FORMAT;
}

static bool has_prefix(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);
	return len >= n && !memcmp(s, p, n);
}

/* Digits only, 1..65535. */
static int parse_port(const char *s, size_t len)
{
	if (len == 0 || len > 5)
		return -1;
	int v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? v : -1;
}

static int set_host(struct runctl_ready *r, const char *s, size_t len, struct diag *d)
{
	if (len == 0) {
		strcpy(r->host, "127.0.0.1");
		return 0;
	}
	if (len >= sizeof(r->host))
		return bad(d, "%s: the host name is too long", "ready");
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '-' || c == '_'))
			return bad(d, "%s: the host may hold letters, digits, '.', '-' and '_' only", "ready");
	}
	memcpy(r->host, s, len);
	r->host[len] = 0;
	return 0;
}

/* HOST[:PORT][/PATH] */
static int parse_http(const char *s, size_t len, struct runctl_ready *r, struct diag *d)
{
	if (has_prefix(s, len, "https://"))
		return bad(d, "%s: https is not supported (plain http only)", "ready");
	if (has_prefix(s, len, "http://")) {
		s += 7;
		len -= 7;
	} else if (has_prefix(s, len, "//")) {
		s += 2;
		len -= 2;
	}
	const char *slash = memchr(s, '/', len);
	size_t hostport = slash ? (size_t)(slash - s) : len;
	const char *colon = memchr(s, ':', hostport);
	size_t hostlen = colon ? (size_t)(colon - s) : hostport;
	if (set_host(r, s, hostlen, d))
		return KILN_ERR_FORMAT;
	r->port = 80;
	if (colon) {
		r->port = parse_port(colon + 1, hostport - hostlen - 1);
		if (r->port < 0)
			return bad(d, "%s: the URL's port must be 1 to 65535", "ready");
	}
	size_t plen = len - hostport;
	if (plen == 0) {
		strcpy(r->path, "/");
		return 0;
	}
	if (plen >= sizeof(r->path))
		return bad(d, "%s: the URL's path is too long", "ready");
	for (size_t i = 0; i < plen; i++)
		if ((unsigned char)slash[i] <= ' ' || slash[i] == 0x7f)
			return bad(d, "%s: the URL's path may not hold spaces or control characters", "ready");
	memcpy(r->path, slash, plen);
	r->path[plen] = 0;
	return 0;
}

int runctl_ready_parse(const char *spec, size_t len, struct runctl_ready *r, struct diag *d)
{
	memset(r, 0, sizeof(*r));
	if (has_prefix(spec, len, "tcp:")) {
		const char *s = spec + 4;
		size_t n = len - 4;
		const char *colon = memchr(s, ':', n);
		size_t hostlen = colon ? (size_t)(colon - s) : 0;
		if (set_host(r, s, hostlen, d))
			return KILN_ERR_FORMAT;
		r->port = colon ? parse_port(colon + 1, n - hostlen - 1) : parse_port(s, n);
		if (r->port < 0)
			return bad(d, "%s: tcp:PORT takes a port from 1 to 65535", "ready");
		r->kind = RUNCTL_READY_TCP;
		return 0;
	}
	if (has_prefix(spec, len, "http://") || has_prefix(spec, len, "http:")) {
		size_t skip = has_prefix(spec, len, "http://") ? 0 : 5;
		int err = parse_http(spec + skip, len - skip, r, d);
		if (!err)
			r->kind = RUNCTL_READY_HTTP;
		return err;
	}
	if (has_prefix(spec, len, "delay:")) {
		char num[32];
		size_t n = len - 6;
		if (n == 0 || n >= sizeof(num))
			return bad(d, "%s: delay:SECONDS takes a number of seconds", "ready");
		memcpy(num, spec + 6, n);
		num[n] = 0;
		char *end;
		double v = strtod(num, &end);
		if (*end || end == num || !(v >= 0) || v > 86400)
			return bad(d, "%s: delay:SECONDS takes 0 to 86400 seconds", "ready");
		r->delay = v;
		r->kind = RUNCTL_READY_DELAY;
		return 0;
	}
	return bad(d, "%s: give tcp:PORT, http:URL or delay:SECONDS", "ready");
}

int runctl_http_status(const char *buf, size_t len)
{
	/* "HTTP/1.x NNN" */
	if (len < 12 || memcmp(buf, "HTTP/", 5) != 0)
		return -1;
	const char *sp = memchr(buf, ' ', len);
	if (!sp || (size_t)(sp - buf) + 4 > len)
		return -1;
	int v = 0;
	for (int i = 1; i <= 3; i++) {
		char c = sp[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	if ((size_t)(sp - buf) + 4 < len && sp[4] != ' ' && sp[4] != '\r' && sp[4] != '\n')
		return -1;
	return v >= 100 ? v : -1;
}

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Waits for events on fd until deadline (ms, monotonic). Returns > 0 when
 * ready, 0 on timeout, -errno on error. */
static int wait_fd(int fd, short events, double deadline)
{
	for (;;) {
		double left = deadline - mono_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {fd, events, 0};
		int n = poll(&p, 1, (int)left + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		return n;
	}
}

/* A connected non-blocking socket, or -1. */
static int connect_to(const struct runctl_ready *r, double deadline)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%d", r->port);
	if (getaddrinfo(r->host, port, &hints, &res) != 0)
		return -1;
	int fd = -1;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		int soerr = errno;
		if (soerr == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) > 0) {
			socklen_t sl = sizeof(soerr);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
				break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int http_get(int fd, const struct runctl_ready *r, double deadline, int *status)
{
	char req[RUNCTL_PATH_MAX + RUNCTL_HOST_MAX + 128];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.0\r\nHost: %s:%d\r\nUser-Agent: kiln-run\r\nConnection: close\r\n\r\n",
			 r->path, r->host, r->port);
	size_t off = 0;
	while (off < (size_t)n) {
		ssize_t w = send(fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN && wait_fd(fd, POLLOUT, deadline) > 0)
			continue;
		return 0;
	}
	char buf[64];
	size_t got = 0;
	while (got < sizeof(buf)) {
		ssize_t k = recv(fd, buf + got, sizeof(buf) - got, 0);
		if (k > 0) {
			got += (size_t)k;
			if (memchr(buf, '\n', got))
				break;
			continue;
		}
		if (k == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && wait_fd(fd, POLLIN, deadline) > 0)
			continue;
		break;
	}
	int st = runctl_http_status(buf, got);
	*status = st > 0 ? st : 0;
	return st >= 200 && st < 400;
}

int runctl_probe(const struct runctl_ready *r, int timeout_ms, int *status)
{
	*status = 0;
	if (r->kind == RUNCTL_READY_NONE || r->kind == RUNCTL_READY_DELAY)
		return 1;
	double deadline = mono_ms() + timeout_ms;
	int fd = connect_to(r, deadline);
	if (fd < 0)
		return 0;
	int ready = r->kind == RUNCTL_READY_TCP ? 1 : http_get(fd, r, deadline, status);
	close(fd);
	return ready;
}

static void send_signal(struct runctl_stop *s, int sig)
{
	if (s->group && kill(-s->pid, sig) == 0) {
		s->last_signal = sig;
		return;
	}
	kill(s->pid, sig); /* not a group leader (any more): the process itself */
	s->last_signal = sig;
}

void runctl_stop_begin(struct runctl_stop *s, pid_t pid, bool group, double timeout, int first_signal,
		       double now)
{
	s->pid = pid;
	s->group = group;
	s->timeout = timeout;
	s->last_signal = 0;
	send_signal(s, first_signal ? first_signal : SIGINT);
	s->next = now + timeout;
}

void runctl_stop_step(struct runctl_stop *s, double now)
{
	if (s->last_signal == SIGKILL || now < s->next)
		return;
	send_signal(s, s->last_signal == SIGINT ? SIGTERM : SIGKILL);
	s->next = now + s->timeout;
}
