/* demo-server: a small HTTP/1.1 service to profile (make demo, kiln run),
 * with three recognisable behaviours: a CPU hot path (/hash: hash_rounds),
 * a leak of REPORT_LEAK_BYTES per request (/report: build_report) and a
 * cache that only grows (/item: cache_insert). Invariant: on SIGINT or
 * SIGTERM it finishes in-flight requests, frees everything but the /report
 * leaks and returns 0 from main, so an exit-time leak scan sees only them. */
#define _GNU_SOURCE
#include "demo-http.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

#define REPORT_LEAK_BYTES 1000 /* leaked by every /report (examples/README.md) */
#define MAX_HASH_ROUNDS 1000000
#define HASH_WORDS 32      /* hash_rounds' buffer: 256 bytes */
#define ITEM_LINES 32      /* an item's body: 32 lines, about 1 KiB */
#define ITEM_LINE_MAX 48
#define CACHE_BUCKETS 4096 /* fixed: chains grow, the table never does */

struct item { /* one cached /item body, kept until the server stops */
	struct item *next;
	uint64_t id;
	size_t len;
	char body[];
};

static struct server {
	pthread_mutex_t cache_lock; /* cache, cached_items, cached_bytes */
	struct item *cache[CACHE_BUCKETS];
	size_t cached_items, cached_bytes;
	atomic_ulong served_hash, served_item, served_report, served_total;
} server = {.cache_lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- the routes' work ---------------------------------------------------- */

/* The CPU hot path: ROUNDS passes of an FNV-style mix over a 256-byte
 * buffer that each pass rewrites, so no pass can be skipped or hoisted. */
static NOINLINE uint64_t hash_rounds(unsigned rounds)
{
	uint64_t buf[HASH_WORDS], h = 0xcbf29ce484222325ull;
	for (int i = 0; i < HASH_WORDS; i++)
		buf[i] = (uint64_t)i * 0x9e3779b97f4a7c15ull;
	for (unsigned r = 0; r < rounds; r++)
		for (int i = 0; i < HASH_WORDS; i++) {
			h = (h ^ buf[i]) * 0x100000001b3ull;
			h ^= h >> 29;
			buf[i] = h;
		}
	return h;
}

/* Returns a malloc'd text of REPORT_LEAK_BYTES bytes that the caller owns. */
static NOINLINE char *build_report(void)
{
	char *text = malloc(REPORT_LEAK_BYTES);
	if (!text)
		return NULL;
	pthread_mutex_lock(&server.cache_lock);
	size_t items = server.cached_items, bytes = server.cached_bytes;
	pthread_mutex_unlock(&server.cache_lock);
	snprintf(text, REPORT_LEAK_BYTES,
		 "requests %lu: hash %lu, item %lu, report %lu\ncache: %zu items, %zu bytes\n",
		 atomic_load(&server.served_total), atomic_load(&server.served_hash),
		 atomic_load(&server.served_item), atomic_load(&server.served_report), items, bytes);
	return text;
}

/* Adds item ID to the cache unless another worker just did; never evicts. */
static NOINLINE struct item *cache_insert(uint64_t id)
{
	struct item *it = malloc(sizeof(*it) + ITEM_LINES * ITEM_LINE_MAX);
	if (!it)
		return NULL;
	*it = (struct item){.id = id};
	uint64_t x = (id + 1) * 0x9e3779b97f4a7c15ull; /* each item its own text */
	for (int line = 0; line < ITEM_LINES; line++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		it->len += (size_t)snprintf(it->body + it->len, ITEM_LINE_MAX, "item %" PRIu64 " line %02d %016" PRIx64 "\n",
					    id, line, x);
	}
	struct item **head = &server.cache[id % CACHE_BUCKETS];
	pthread_mutex_lock(&server.cache_lock);
	for (struct item *old = *head; old; old = old->next)
		if (old->id == id) { /* lost the race: keep the first */
			pthread_mutex_unlock(&server.cache_lock);
			free(it);
			return old;
		}
	it->next = *head, *head = it;
	server.cached_items++;
	server.cached_bytes += sizeof(*it) + ITEM_LINES * ITEM_LINE_MAX;
	pthread_mutex_unlock(&server.cache_lock);
	return it;
}

static struct item *cache_lookup(uint64_t id)
{
	pthread_mutex_lock(&server.cache_lock);
	struct item *it = server.cache[id % CACHE_BUCKETS];
	while (it && it->id != id)
		it = it->next;
	pthread_mutex_unlock(&server.cache_lock);
	return it; /* items are never freed while workers run */
}

static void cache_release(void)
{
	for (int b = 0; b < CACHE_BUCKETS; b++)
		for (struct item *it = server.cache[b], *next; it; it = next)
			next = it->next, free(it);
	memset(server.cache, 0, sizeof(server.cache));
	server.cached_items = server.cached_bytes = 0;
}

/* ---- routes -------------------------------------------------------------- */

/* Finds NAME=VALUE in QUERY (may be NULL) as a decimal number <= MAX.
 * Returns 1 found, 0 absent, -1 not a number or too large. */
static int query_number(const char *query, const char *name, uint64_t max, uint64_t *out)
{
	size_t nlen = strlen(name);
	for (const char *p = query; p; p = strchr(p, '&'), p = p ? p + 1 : NULL)
		if (!strncmp(p, name, nlen) && p[nlen] == '=') {
			const char *digits = p + nlen + 1;
			char *end;
			errno = 0;
			unsigned long long v = strtoull(digits, &end, 10);
			if (*digits < '0' || *digits > '9' || errno || v > max || (*end && *end != '&'))
				return -1;
			return *out = v, 1;
		}
	return 0;
}

static NOINLINE void handle_hash(const char *query, struct http_response *r)
{
	uint64_t rounds = 1000;
	if (query_number(query, "n", MAX_HASH_ROUNDS, &rounds) < 0 || rounds == 0)
		return http_set_body(r, 400, "n: a number of rounds from 1 to 1000000\n");
	uint64_t h = hash_rounds((unsigned)rounds);
	r->len = (size_t)snprintf(r->body, sizeof(r->body), "hash_rounds(%" PRIu64 ") = %016" PRIx64 "\n", rounds, h);
	atomic_fetch_add(&server.served_hash, 1);
}

static NOINLINE void handle_item(const char *query, struct http_response *r)
{
	uint64_t id;
	if (query_number(query, "id", UINT32_MAX, &id) != 1)
		return http_set_body(r, 400, "id: a number from 0 to 4294967295\n");
	struct item *it = cache_lookup(id);
	r->extra_header = it ? "X-Cache: hit\r\n" : "X-Cache: miss\r\n";
	if (!it && !(it = cache_insert(id)))
		return http_set_body(r, 500, "out of memory\n");
	memcpy(r->body, it->body, it->len);
	r->len = it->len;
	atomic_fetch_add(&server.served_item, 1);
}

static NOINLINE void handle_report(struct http_response *r)
{
	char *text = build_report();
	if (!text)
		return http_set_body(r, 500, "out of memory\n");
	http_set_body(r, 200, text);
	/* the leak, on purpose: text is never freed */
	atomic_fetch_add(&server.served_report, 1);
}

void http_route(const char *method, char *target, struct http_response *r)
{
	char *query = strchr(target, '?');
	if (query)
		*query++ = 0;
	r->status = 200;
	atomic_fetch_add(&server.served_total, 1);
	if (strcmp(method, "GET") != 0)
		http_set_body(r, 405, "only GET is served\n");
	else if (!strcmp(target, "/hash"))
		handle_hash(query, r);
	else if (!strcmp(target, "/item"))
		handle_item(query, r);
	else if (!strcmp(target, "/report"))
		handle_report(r);
	else if (!strcmp(target, "/healthz"))
		http_set_body(r, 200, "ok\n");
	else
		http_set_body(r, 404, "not found\n");
}

/* ---- start and stop ------------------------------------------------------ */

static int parse_int(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "demo-server: %s takes a number from %ld to %ld, not '%s'\n", opt, lo, hi, s);
		exit(2);
	}
	return (int)v;
}

static const char usage[] =
	"usage: demo-server [--port N] [--threads N] [--bind ADDR]\n"
	"  --port N      TCP port (default 8080; 0 picks a free one)\n"
	"  --threads N   worker threads (default 4)\n"
	"  --bind ADDR   IPv4 address to listen on (default 127.0.0.1)\n"
	"Routes: GET /hash?n=N, /item?id=N, /report, /healthz. SIGINT or SIGTERM stops it.\n";

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"port", required_argument, NULL, 'p'},
		{"threads", required_argument, NULL, 't'}, {"bind", required_argument, NULL, 'b'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int port = 8080, nthreads = 4, opt;
	const char *bind_addr = "127.0.0.1";
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p': port = parse_int("--port", optarg, 0, 65535); break;
		case 't': nthreads = parse_int("--threads", optarg, 1, HTTP_MAX_THREADS); break;
		case 'b': bind_addr = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind < argc)
		return fputs(usage, stderr), 2;

	/* SIGINT and SIGTERM are taken by sigwait below; the workers, created
	 * with them blocked, never see them. SIGPIPE: see demo-http's send. */
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	signal(SIGINT, SIG_DFL); /* a shell's background job inherits SIGINT ignored */
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	int bound_port, sig;
	if (http_start(bind_addr, port, nthreads, &bound_port) < 0)
		return 1;
	printf("demo-server: listening on %s:%d\n", bind_addr, bound_port);
	fflush(stdout);
	sigwait(&stop_signals, &sig);
	http_stop();
	printf("demo-server: stopped after %lu requests (%lu /report, %zu cached items)\n",
	       atomic_load(&server.served_total), atomic_load(&server.served_report), server.cached_items);
	cache_release();
	return 0;
}
