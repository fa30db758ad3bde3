/* loadgen: a closed-loop HTTP/1.1 load generator for demo-server: C
 * keep-alive connections, one thread each, a seeded mix of routes; prints
 * requests per route, errors, requests/s and latency percentiles.
 * Invariant: with --requests N, how many requests each route gets depends
 * only on N, C, the mix and the seed, never on timing, so counts are exact. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 256
#define RESPONSE_MAX 65536
#define HASH_ROUNDS 2000   /* /hash?n= */
#define ITEM_IDS 100000    /* /item?id= from 0 to ITEM_IDS-1: the cache grows */
#define IO_TIMEOUT_SEC 10  /* a response slower than this is an error */
#define START_WAIT_MS 5000 /* how long to wait for the server to listen */

enum route { HASH, ITEM, REPORT, HEALTHZ, NROUTES };
static const char *const route_names[NROUTES] = {"hash", "item", "report", "healthz"};

static struct options {
	struct addrinfo *addr;
	int connections;
	double duration;   /* seconds, when requests == 0 */
	uint64_t requests; /* in all, split over the connections */
	unsigned weight[NROUTES], total_weight;
	uint64_t seed;
} opt = {.connections = 4, .duration = 10, .weight = {70, 25, 5, 0}, .seed = 1};

struct worker { /* one connection's thread and what it measured */
	pthread_t thread;
	uint64_t rng, planned;
	double deadline;
	unsigned long done[NROUTES], errors;
	uint64_t *latency_ns;
	size_t nlatency, latency_cap;
	char first_error[160];
};

struct conn {
	int fd;
	size_t len;
	char buf[RESPONSE_MAX];
};

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int connect_server(void)
{
	int fd = socket(opt.addr->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {.tv_sec = IO_TIMEOUT_SEC};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, opt.addr->ai_addr, opt.addr->ai_addrlen) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Reads one response on C; returns its status, or -1 with WHY filled. Sets
 * *CLOSE when the server said Connection: close. */
static int read_response(struct conn *c, int *close_after, const char **why)
{
	char *end;
	while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
		if (c->len == sizeof(c->buf))
			return *why = "response headers too large", -1;
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n <= 0)
			return *why = n == 0 ? "connection closed" : strerror(errno), -1;
		c->len += (size_t)n;
	}
	*end = 0; /* the headers as a string; the body follows end + 4 */
	int status;
	if (sscanf(c->buf, "HTTP/1.%*1[01] %3d ", &status) != 1)
		return *why = "not an HTTP/1.x status line", -1;
	size_t body = 0, head = (size_t)(end + 4 - c->buf);
	*close_after = 0;
	for (char *h = strstr(c->buf, "\r\n"); h; h = strstr(h + 2, "\r\n")) {
		if (!strncasecmp(h + 2, "Content-Length:", 15))
			body = strtoul(h + 17, NULL, 10);
		else if (!strncasecmp(h + 2, "Connection:", 11) && strcasestr(h + 13, "close"))
			*close_after = 1;
	}
	if (body > sizeof(c->buf) - head)
		return *why = "response body too large", -1;
	while (c->len < head + body) {
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n <= 0)
			return *why = n == 0 ? "connection closed in the body" : strerror(errno), -1;
		c->len += (size_t)n;
	}
	c->len -= head + body;
	memmove(c->buf, c->buf + head + body, c->len);
	return status;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n, len -= (size_t)n;
	}
	return 0;
}

static enum route pick_route(struct worker *w)
{
	unsigned r = (unsigned)(splitmix64(&w->rng) % opt.total_weight);
	enum route i = HASH;
	while (r >= opt.weight[i])
		r -= opt.weight[i++];
	return i;
}

static void note_error(struct worker *w, const char *what, const char *detail)
{
	if (!w->errors++)
		snprintf(w->first_error, sizeof(w->first_error), "%s: %s", what, detail);
}

/* The request for ROUTE: a keep-alive GET (an /item id drawn from W's rng). */
static int format_request(struct worker *w, enum route route, char *req, size_t size)
{
	static const char tail[] = " HTTP/1.1\r\nHost: loadgen\r\n\r\n";
	if (route == HASH)
		return snprintf(req, size, "GET /hash?n=%d%s", HASH_ROUNDS, tail);
	if (route == ITEM)
		return snprintf(req, size, "GET /item?id=%" PRIu64 "%s", splitmix64(&w->rng) % ITEM_IDS, tail);
	return snprintf(req, size, "GET /%s%s", route_names[route], tail);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct conn *c = malloc(sizeof(*c));
	if (!c) {
		note_error(w, "start", "out of memory");
		return NULL;
	}
	c->fd = -1;
	for (uint64_t i = 0; w->planned ? i < w->planned : now_sec() < w->deadline; i++) {
		enum route route = pick_route(w);
		char req[160];
		int len = format_request(w, route, req, sizeof(req));
		w->done[route]++;
		double t0 = now_sec();
		if (c->fd < 0 && (c->fd = connect_server()) < 0) {
			note_error(w, "connect", strerror(errno));
			usleep(100 * 1000);
			continue;
		}
		c->len = 0;
		int close_after = 0, status = -1;
		const char *why = NULL;
		if (send_all(c->fd, req, (size_t)len) < 0)
			why = strerror(errno);
		else
			status = read_response(c, &close_after, &why);
		if (status != 200) {
			char detail[64];
			snprintf(detail, sizeof(detail), "status %d", status);
			note_error(w, route_names[route], why ? why : detail);
		}
		if (status < 0 || close_after) {
			close(c->fd);
			c->fd = -1;
		}
		if (status < 0)
			continue;
		if (w->nlatency == w->latency_cap) {
			size_t cap = w->latency_cap ? 2 * w->latency_cap : 4096;
			uint64_t *grown = realloc(w->latency_ns, cap * sizeof(*grown));
			if (!grown)
				continue;
			w->latency_ns = grown, w->latency_cap = cap;
		}
		w->latency_ns[w->nlatency++] = (uint64_t)((now_sec() - t0) * 1e9);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return NULL;
}

/* Waits until the server accepts a connection; 0, or -1 after START_WAIT_MS. */
static int wait_for_server(void)
{
	double give_up = now_sec() + START_WAIT_MS / 1000.0;
	for (;;) {
		int fd = connect_server();
		if (fd >= 0)
			return close(fd), 0;
		if (now_sec() > give_up)
			return -1;
		usleep(50 * 1000);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double percentile_ms(const uint64_t *sorted, size_t n, double p)
{
	if (!n)
		return 0;
	size_t rank = (size_t)(p / 100 * (double)n + 0.999999);
	return (double)sorted[rank ? rank - 1 : 0] / 1e6;
}

/* Prints the summary; returns the number of errors. */
static unsigned long summarize(struct worker *workers, int n, double seconds)
{
	unsigned long done[NROUTES] = {0}, total = 0, errors = 0;
	size_t nlat = 0;
	for (int i = 0; i < n; i++)
		nlat += workers[i].nlatency;
	uint64_t *all = malloc((nlat ? nlat : 1) * sizeof(*all));
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		for (int r = 0; r < NROUTES; r++)
			done[r] += workers[i].done[r], total += workers[i].done[r];
		errors += workers[i].errors;
		if (workers[i].errors)
			fprintf(stderr, "loadgen: connection %d: %lu errors, the first: %s\n", i, workers[i].errors,
				workers[i].first_error);
		if (all)
			memcpy(all + k, workers[i].latency_ns, workers[i].nlatency * sizeof(*all));
		k += workers[i].nlatency;
	}
	printf("loadgen: %lu requests in %.2f s, %.1f requests/s, %lu errors\n", total, seconds,
	       seconds > 0 ? (double)total / seconds : 0.0, errors);
	printf("loadgen: routes:");
	for (int r = 0; r < NROUTES; r++)
		if (opt.weight[r])
			printf(" %s %lu", route_names[r], done[r]);
	printf("\n");
	if (all) {
		qsort(all, nlat, sizeof(*all), cmp_u64);
		printf("loadgen: latency p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n",
		       percentile_ms(all, nlat, 50), percentile_ms(all, nlat, 90), percentile_ms(all, nlat, 99),
		       percentile_ms(all, nlat, 100));
	}
	free(all);
	return errors;
}

__attribute__((format(printf, 1, 2), noreturn)) static void usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: loadgen [--host H] --port N [--connections C] [--duration SECONDS | --requests N]\n"
			"               [--mix hash:70,item:25,report:5,healthz:0] [--seed S]\n");
	exit(2);
}

static uint64_t parse_number(const char *what, const char *s, uint64_t lo, uint64_t hi)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
		usage_error("%s: not a number in range", what);
	return v;
}

/* --mix NAME:WEIGHT,...: routes not named get weight 0. */
static void parse_mix(char *spec)
{
	memset(opt.weight, 0, sizeof(opt.weight));
	for (char *save = NULL, *tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		if (!colon)
			usage_error("--mix: '%s' is not NAME:WEIGHT", tok);
		*colon = 0;
		int r = 0;
		while (r < NROUTES && strcmp(tok, route_names[r]))
			r++;
		if (r == NROUTES)
			usage_error("--mix: unknown route '%s' (hash, item, report, healthz)", tok);
		opt.weight[r] = (unsigned)parse_number("--mix weight", colon + 1, 0, 1000000);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"host", required_argument, NULL, 'H'},     {"port", required_argument, NULL, 'p'},
		{"connections", required_argument, NULL, 'c'}, {"duration", required_argument, NULL, 'd'},
		{"requests", required_argument, NULL, 'n'}, {"mix", required_argument, NULL, 'm'},
		{"seed", required_argument, NULL, 's'},     {NULL, 0, NULL, 0}};
	const char *host = "127.0.0.1", *port = NULL;
	int o, have_duration = 0;
	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case 'H': host = optarg; break;
		case 'p': port = optarg; parse_number("--port", optarg, 1, 65535); break;
		case 'c': opt.connections = (int)parse_number("--connections", optarg, 1, MAX_CONNECTIONS); break;
		case 'd': opt.duration = (double)parse_number("--duration", optarg, 1, 86400); have_duration = 1; break;
		case 'n': opt.requests = parse_number("--requests", optarg, 1, UINT64_MAX / 2); break;
		case 'm': parse_mix(optarg); break;
		case 's': opt.seed = parse_number("--seed", optarg, 0, UINT64_MAX); break;
		default: usage_error("%s", "unknown option");
		}
	}
	if (!port || optind < argc)
		usage_error("%s", port ? "unexpected argument" : "--port is required");
	if (have_duration && opt.requests)
		usage_error("%s", "--duration and --requests do not go together");
	for (int r = 0; r < NROUTES; r++)
		opt.total_weight += opt.weight[r];
	if (!opt.total_weight)
		usage_error("%s", "--mix: the weights add up to 0");
	if (opt.requests && opt.requests < (uint64_t)opt.connections)
		opt.connections = (int)opt.requests; /* every connection has work */

	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	int gai = getaddrinfo(host, port, &hints, &opt.addr);
	if (gai) {
		fprintf(stderr, "loadgen: %s: %s\n", host, gai_strerror(gai));
		return 1;
	}
	if (wait_for_server() < 0) {
		fprintf(stderr, "loadgen: cannot connect to %s:%s: %s\n", host, port, strerror(errno));
		freeaddrinfo(opt.addr);
		return 1;
	}

	struct worker *workers = calloc((size_t)opt.connections, sizeof(*workers));
	if (!workers)
		return 1;
	double start = now_sec();
	int started = 0;
	for (; started < opt.connections; started++) {
		struct worker *w = &workers[started];
		uint64_t i = (uint64_t)started, n = (uint64_t)opt.connections;
		w->rng = opt.seed ^ (i + 1) * 0xd1b54a32d192ed03ull;
		w->planned = opt.requests / n + (i < opt.requests % n);
		w->deadline = start + opt.duration;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
			break;
	}
	for (int i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	unsigned long errors = summarize(workers, started, now_sec() - start);
	if (started < opt.connections) {
		fprintf(stderr, "loadgen: could start only %d of %d connections\n", started, opt.connections);
		errors++;
	}
	for (int i = 0; i < opt.connections; i++)
		free(workers[i].latency_ns);
	free(workers);
	freeaddrinfo(opt.addr);
	return errors ? 1 : 0;
}
