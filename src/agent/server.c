/* server: the agent's HTTP server (libmicrohttpd, a thread per connection):
 * listen socket, limits, bearer-token auth, routing, status codes, and the
 * watchdog for a listen socket the host closed. Invariant: it never closes,
 * reads or writes a descriptor it does not hold, and a request costs at
 * most AGENT_MAX_BODY bytes and one thread. */
#include "agent/agent.h"
#include "agent/mhdload.h"

#include "base/utf8.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Limits. CONN_LIMIT connections at once (each one a thread while it
 * lasts; PER_IP_LIMIT of them per client address on a non-loopback
 * address), CONN_TIMEOUT seconds of inactivity before a connection is cut,
 * MEMORY_LIMIT bytes per connection for the request line, headers and
 * buffers (longer headers get 431 from libmicrohttpd), AGENT_MAX_BODY for
 * a POST body (413 beyond). Every response says "Connection: close", so a
 * connection lives for one request only: scrapers reconnect (cheap on
 * loopback), and the descriptors the server holds between requests are
 * just the listen socket.
 *
 * The host's descriptors. A daemon may close every descriptor it did not
 * open (closefrom, close_range) and then open its own, which get the
 * lowest free numbers. So the listen socket is moved to a high number
 * (HIGH_FD, when RLIMIT_NOFILE allows), where the host's new files are
 * unlikely to land, and the tick calls server_check() every second: when
 * the socket is gone, its number is claimed with a placeholder before
 * libmicrohttpd is stopped (it shuts down and closes its listen number:
 * it must close ours, not something the host opened meanwhile); when the
 * number already holds someone else's file, the server is abandoned, not
 * stopped. libmicrohttpd aborts the process when a close() fails with
 * EBADF (a descriptor closed under it): its panic hook is set to warn
 * once and carry on, since killing the host is the one thing the agent
 * must never do. That hook is process-wide: a host that uses
 * libmicrohttpd itself gets it too (see docs/agent.md).
 */
enum {
	CONN_LIMIT = 32,
	PER_IP_LIMIT = 8,
	CONN_TIMEOUT = 15,
	MEMORY_LIMIT = 64 * 1024,
	HIGH_FD = 1000,
	MIN_TOKEN = 16,
};

static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static struct MHD_Daemon *srv_daemon;
static int srv_fd = -1;
static dev_t srv_dev;
static ino_t srv_ino;
static char *srv_token;
static size_t srv_token_len;

/* ---- text buffers -------------------------------------------------------- */

static int buf_reserve(struct agent_buf *b, size_t more)
{
	if (b->err)
		return -1;
	if (b->len + more + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < b->len + more + 1) {
		if (cap > SIZE_MAX / 2) {
			b->err = ENOMEM;
			return -1;
		}
		cap *= 2;
	}
	char *p = realloc(b->data, cap);
	if (!p) {
		b->err = ENOMEM;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void agent_buf_add(struct agent_buf *b, const char *s, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = 0;
}

void agent_buf_puts(struct agent_buf *b, const char *s)
{
	agent_buf_add(b, s, strlen(s));
}

void agent_buf_printf(struct agent_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = EINVAL;
		return;
	}
	if ((size_t)n < sizeof small) {
		agent_buf_add(b, small, (size_t)n);
		return;
	}
	if (buf_reserve(b, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void agent_buf_json_str(struct agent_buf *b, const char *s)
{
	agent_buf_add(b, "\"", 1);
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	while (p < end) {
		uint32_t cp;
		size_t n = utf8_decode(p, (size_t)(end - p), &cp);
		if (!n) {
			agent_buf_puts(b, "\\ufffd");
			p++;
		} else if (*p == '"' || *p == '\\') {
			char e[2] = {'\\', (char)*p};
			agent_buf_add(b, e, 2);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			agent_buf_printf(b, "\\u%04x", *p);
			p++;
		} else {
			agent_buf_add(b, (const char *)p, n);
			p += n;
		}
	}
	agent_buf_add(b, "\"", 1);
}

int agent_buf_finish(struct agent_buf *b, struct agent_body *out)
{
	if (b->err) {
		int e = b->err;
		agent_buf_release(b);
		b->err = 0;
		return -e;
	}
	out->data = b->data; /* NULL for an empty body */
	out->len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return 0;
}

void agent_buf_release(struct agent_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ---- replies ----------------------------------------------------------- */

int agent_reply_text(struct agent_reply *r, unsigned status, const char *fmt, ...)
{
	struct agent_buf b = {0};
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n > 0)
		agent_buf_add(&b, small, (size_t)n < sizeof small ? (size_t)n : sizeof small - 1);
	free(r->body.data);
	r->body.data = NULL;
	r->body.len = 0;
	r->status = status;
	r->type = "text/plain; charset=utf-8";
	r->disposition = NULL;
	if (!b.err && b.data) {
		r->body.data = b.data;
		r->body.len = b.len;
	} else {
		agent_buf_release(&b);
	}
	return 0;
}

void agent_reply_buf(struct agent_reply *r, struct agent_buf *b, const char *type)
{
	struct agent_body body = {0};
	if (b->err || agent_buf_finish(b, &body) < 0) {
		agent_buf_release(b);
		agent_reply_text(r, 500, "kiln agent: out of memory\n");
		return;
	}
	free(r->body.data);
	r->body = body;
	r->status = 200;
	r->type = type;
}

/* ---- requests -------------------------------------------------------------- */

/* Per connection (libmicrohttpd's socket context): the POST body being
 * received. Allocated when the connection starts, freed when it closes,
 * so a client that leaves mid-upload leaks nothing. */
struct conn_state {
	char *body;
	size_t len, cap; /* len: bytes of the body so far, kept or not */
};

/* libmicrohttpd's accept policy, called in its listen thread before it
 * allocates anything for a new connection: every connection is accepted
 * (the limits are options), and the thread is marked as the agent's. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	(void)cls;
	(void)addr;
	(void)addrlen;
	agent_heap_thread_ignore();
	return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)c;
	agent_heap_thread_ignore(); /* libmicrohttpd's listen thread */
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*ctx = calloc(1, sizeof(struct conn_state));
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct conn_state *s = *ctx;
		if (s)
			free(s->body);
		free(s);
		*ctx = NULL;
	}
}

const char *agent_arg(const struct agent_request *rq, const char *key)
{
	const char *v = NULL;
	size_t vlen = 0;
	if (mhd.lookup_connection_value_n(rq->conn, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v, &vlen) != MHD_YES)
		return NULL;
	if (v && strlen(v) != vlen)
		return "\x7f"; /* an escaped NUL inside: valid for no parameter */
	return v ? v : "";
}

static enum MHD_Result query_word(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct agent_buf *b = cls;
	if (b->len)
		agent_buf_add(b, "+", 1);
	agent_buf_puts(b, key);
	if (value && *value) {
		agent_buf_add(b, "+", 1);
		agent_buf_puts(b, value);
	}
	return b->len > AGENT_MAX_BODY ? MHD_NO : MHD_YES;
}

void agent_query_words(const struct agent_request *rq, struct agent_buf *b)
{
	mhd.get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, query_word, b);
}

/* Constant time in the token's length whatever the given string. */
static int token_matches(const char *given, size_t glen)
{
	unsigned diff = glen != srv_token_len;
	for (size_t i = 0; i < srv_token_len; i++)
		diff |= (unsigned char)srv_token[i] ^ (unsigned char)(i < glen ? given[i] : 0);
	return diff == 0;
}

static int authorized(struct MHD_Connection *c)
{
	if (!srv_token)
		return 1;
	const char *h = mhd.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h)
		return 0;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Bearer ", 7))
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	size_t n = strlen(h);
	while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	return token_matches(h, n);
}

/* Without a token the server is on loopback only; a Host header naming
 * anything but an address or localhost would be a web page reaching it
 * through DNS rebinding. */
static int host_ok(struct MHD_Connection *c)
{
	if (srv_token)
		return 1;
	const char *h = mhd.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	if (!h)
		return 1;
	char host[128];
	size_t n = strlen(h);
	if (n >= sizeof host)
		return 0;
	memcpy(host, h, n + 1);
	if (host[0] == '[') {
		char *e = strchr(host, ']');
		if (!e || (e[1] && e[1] != ':'))
			return 0;
		*e = 0;
		struct in6_addr a6;
		return inet_pton(AF_INET6, host + 1, &a6) == 1;
	}
	char *colon = strchr(host, ':');
	if (colon)
		*colon = 0;
	struct in_addr a4;
	return !strcasecmp(host, "localhost") || inet_pton(AF_INET, host, &a4) == 1;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct agent_reply *r)
{
	struct MHD_Response *resp;
	if (r->body.len)
		resp = mhd.create_response_from_buffer(r->body.len, r->body.data, MHD_RESPMEM_MUST_FREE);
	else
		resp = mhd.create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r->body.data);
		return MHD_NO;
	}
	if (!r->body.len)
		free(r->body.data);
	r->body.data = NULL;
	mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type ? r->type : "text/plain; charset=utf-8");
	mhd.add_response_header(resp, "X-Content-Type-Options", "nosniff");
	mhd.add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	mhd.add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	if (r->disposition)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, r->disposition);
	if (r->allow)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->pprof_error)
		mhd.add_response_header(resp, "X-Go-Pprof", "1");
	if (r->status == 401)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"kiln\"");
	if (r->status == 301)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_LOCATION, "/debug/pprof/");
	enum MHD_Result ok = mhd.queue_response(c, r->status, resp);
	mhd.destroy_response(resp);
	return ok;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *msg)
{
	struct agent_reply r = {0};
	agent_reply_text(&r, status, "%s", msg);
	return send_reply(c, &r);
}

static void route(const struct agent_request *rq, struct agent_reply *r)
{
	const char *p = rq->path;
	int post = !strcmp(rq->method, "POST");
	if (!strncmp(p, "/debug/pprof", 12) && (p[12] == 0 || p[12] == '/')) {
		if (!p[12]) {
			agent_reply_text(r, 301, "<a href=\"/debug/pprof/\">Moved Permanently</a>.\n");
			r->type = "text/html; charset=utf-8";
			return;
		}
		pprof_handle(rq, r);
		return;
	}
	int (*fn)(const struct agent_request *, struct agent_reply *) = NULL;
	if (!strcmp(p, "/metrics"))
		fn = metrics_handle;
	else if (!strcmp(p, "/metrics/memory"))
		fn = memjson_memory;
	else if (!strcmp(p, "/metrics/leaks"))
		fn = memjson_leaks;
	else if (!strcmp(p, "/metrics/allocations"))
		fn = memjson_allocations;
	if (!fn) {
		agent_reply_text(r, 404, "404 page not found\n");
		return;
	}
	if (post) {
		agent_reply_text(r, 405, "method not allowed\n");
		r->allow = "GET, HEAD";
		return;
	}
	fn(rq, r);
}

static int first_call_marker;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **req)
{
	(void)cls;
	(void)version;
	agent_heap_thread_ignore(); /* the server's allocations are not the host's */
	const union MHD_ConnectionInfo *ci = mhd.get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_state *st = ci ? ci->socket_context : NULL;
	if (!*req) {
		/* headers are in: refuse early what need not be read */
		*req = &first_call_marker;
		if (!st)
			return send_text(c, 503, "kiln agent: out of memory\n");
		st->len = 0;
		if (!authorized(c))
			return send_text(c, 401, "unauthorized: this agent needs \"Authorization: Bearer TOKEN\"\n");
		if (!host_ok(c))
			return send_text(c, 403, "forbidden: the Host header must be an IP address or localhost\n");
		if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "POST")) {
			struct agent_reply r = {0};
			agent_reply_text(&r, 405, "method not allowed\n");
			r.allow = "GET, HEAD, POST";
			return send_reply(c, &r);
		}
		const char *cl = mhd.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > AGENT_MAX_BODY)
			return send_text(c, 413, "request body too large\n");
		return MHD_YES;
	}
	if (*upload_size) {
		/* only POST bodies are kept; any other is counted and dropped */
		size_t n = *upload_size;
		*upload_size = 0;
		if (st->len + n > AGENT_MAX_BODY)
			return send_text(c, 413, "request body too large\n"); /* the rest is never read */
		if (strcmp(method, "POST")) {
			st->len += n;
			return MHD_YES;
		}
		if (st->len + n + 1 > st->cap) {
			size_t cap = st->cap ? st->cap : 4096;
			while (cap < st->len + n + 1)
				cap *= 2;
			char *p = realloc(st->body, cap);
			if (!p)
				return send_text(c, 503, "kiln agent: out of memory\n");
			st->body = p;
			st->cap = cap;
		}
		memcpy(st->body + st->len, upload, n);
		st->len += n;
		return MHD_YES;
	}
	struct agent_request rq = {
		.method = method,
		.path = url,
		.conn = c,
	};
	if (!strcmp(method, "POST") && st->body && st->len) {
		st->body[st->len] = 0;
		rq.body = st->body;
		rq.body_len = st->len;
	}
	struct agent_reply r = {0};
	route(&rq, &r);
	if (!r.status)
		agent_reply_text(&r, 500, "internal error\n");
	enum MHD_Result ok = send_reply(c, &r);
	if (st->cap > 64 * 1024) {
		free(st->body);
		st->body = NULL;
		st->cap = 0;
	}
	st->len = 0;
	return ok;
}

static void on_panic(void *cls, const char *file, unsigned line, const char *reason)
{
	(void)cls;
	(void)file;
	(void)line;
	agent_warn(reason && *reason ? reason : "libmicrohttpd internal error", 0);
}

/* ---- lifecycle --------------------------------------------------------- */

/* Moves fd to a high number (see the comment at the top). */
static int move_high(int fd)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return fd;
	long lo = rl.rlim_cur > 2 * HIGH_FD ? HIGH_FD : (long)rl.rlim_cur / 2;
	if (lo <= fd)
		return fd;
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, lo);
	if (hi < 0)
		return fd;
	close(fd);
	return hi;
}

int server_start(const struct sockaddr *sa, unsigned salen, const char *token, int remote, int *port)
{
	if (token && strlen(token) < MIN_TOKEN)
		return -EINVAL;
	int loaded = mhd_load(); /* at once when kiln_agent_start has loaded it */
	if (loaded < 0)
		return loaded;
	pthread_mutex_lock(&srv_lock);
	if (srv_daemon) {
		pthread_mutex_unlock(&srv_lock);
		return -EALREADY;
	}
	int err = 0;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, sa, salen) < 0 || listen(fd, 64) < 0) {
		err = -errno;
		close(fd);
		goto out;
	}
	fd = move_high(fd);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct stat st;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 || fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		goto out;
	}
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	free(srv_token);
	srv_token = NULL;
	srv_token_len = 0;
	if (token) {
		srv_token = strdup(token);
		if (!srv_token) {
			err = -ENOMEM;
			close(fd);
			goto out;
		}
		srv_token_len = strlen(token);
	}
	mhd.set_panic_func(on_panic, NULL);
	srv_daemon = mhd.start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0, on_accept, NULL,
		on_request, NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)CONN_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(remote ? PER_IP_LIMIT : 0),
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)MEMORY_LIMIT, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
		MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_END);
	if (!srv_daemon) {
		/* libmicrohttpd closes the socket on some failure paths: close
		 * it only if it is still the one bound here */
		struct stat now;
		if (fstat(fd, &now) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino)
			close(fd);
		err = -EIO;
		goto out;
	}
	srv_fd = fd;
	srv_dev = st.st_dev;
	srv_ino = st.st_ino;
out:
	pthread_mutex_unlock(&srv_lock);
	return err;
}

void server_stop(void)
{
	pthread_mutex_lock(&srv_lock);
	if (srv_daemon)
		mhd.stop_daemon(srv_daemon); /* closes srv_fd */
	srv_daemon = NULL;
	srv_fd = -1;
	pthread_mutex_unlock(&srv_lock);
}

int server_check(void)
{
	pthread_mutex_lock(&srv_lock);
	if (!srv_daemon) {
		pthread_mutex_unlock(&srv_lock);
		return -EBADF;
	}
	struct stat st;
	int r = fstat(srv_fd, &st);
	if (r == 0 && st.st_dev == srv_dev && st.st_ino == srv_ino) {
		pthread_mutex_unlock(&srv_lock);
		return 0;
	}
	int claimed = 0;
	if (r < 0 && errno == EBADF) {
		/* free: take the number, so that the stop closes our placeholder */
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
			int got = fcntl(sv[0], F_DUPFD_CLOEXEC, srv_fd);
			if (got == srv_fd)
				claimed = 1;
			else if (got >= 0)
				close(got);
			close(sv[0]);
			if (claimed) {
				agent_warn("the host closed the agent's listen socket; the agent stopped", 0);
				mhd.stop_daemon(srv_daemon); /* shuts down and closes the placeholder */
			}
			close(sv[1]);
		}
	}
	if (!claimed) {
		agent_warn("the host replaced the agent's listen socket; the agent stopped serving", 0);
		/* abandoned: stopping would close the host's descriptor */
	}
	srv_daemon = NULL;
	srv_fd = -1;
	pthread_mutex_unlock(&srv_lock);
	return -EBADF;
}

int server_alive(void)
{
	pthread_mutex_lock(&srv_lock);
	int r = srv_daemon != NULL;
	pthread_mutex_unlock(&srv_lock);
	return r;
}

void server_forget(void)
{
	/* after fork: the lock may have been held by a thread that does not
	 * exist here, and the daemon's threads are gone with it */
	pthread_mutex_init(&srv_lock, NULL);
	if (srv_daemon && srv_fd >= 0) {
		struct stat st;
		if (fstat(srv_fd, &st) == 0 && st.st_dev == srv_dev && st.st_ino == srv_ino)
			close(srv_fd);
	}
	srv_daemon = NULL;
	srv_fd = -1;
}
