/* agent.h: the internal interface between the files of the agent,
 * libkiln.so (src/agent/). The agent is the heap tracker of src/heap run in
 * sampled mode with an in-process sink, the CPU sampler of src/collect run
 * on its own process, and an HTTP server (libmicrohttpd, loaded only when
 * the agent serves: mhdload.h) that shows both.
 * Invariant: nothing here prints to the host's stdout or changes its exit
 * code, signal handlers or errno; every function returns 0 or a negative
 * errno and never exits. */
#ifndef KILN_AGENT_AGENT_H
#define KILN_AGENT_AGENT_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_HIDDEN __attribute__((visibility("hidden")))

/* A response body built by an endpoint; the server frees data with free(). */
struct agent_body {
	char *data;
	size_t len;
};

/* ---- heapsample.c: the sampled heap (src/heap in agent mode) ---- */

/* Size buckets of the allocation histogram: bucket i counts requests of
 * at most agent_size_bucket_le(i) bytes; the last bucket is +Inf. */
#define AGENT_SIZE_BUCKETS 16
uint64_t agent_size_bucket_le(int i) AGENT_HIDDEN; /* UINT64_MAX for the last */

/* Exact totals since the agent started, counted in every thread (not
 * sampled): allocation calls and bytes requested, frees, and the histogram. */
struct agent_heap_totals {
	uint64_t alloc_count;
	uint64_t alloc_bytes;
	uint64_t free_count;
	uint64_t size_buckets[AGENT_SIZE_BUCKETS]; /* not cumulative */
	uint64_t sample_period;                    /* mean bytes between samples */
	int estimated; /* the counts are estimated from the samples, not counted (KILN_AGENT_HEAP_COUNTS) */
};
int agent_heap_totals(struct agent_heap_totals *out) AGENT_HIDDEN;

/* Heap by component (kiln_tag_push), estimated from the live samples:
 * "" is the untagged rest. Fills at most max entries, largest inuse first,
 * and returns how many, or a negative errno. */
struct agent_component {
	char name[64];
	uint64_t inuse_bytes, inuse_objects; /* estimated, scaled by the sampling */
	uint64_t alloc_bytes, alloc_objects; /* estimated, since start */
};
int agent_heap_components(struct agent_component *out, size_t max) AGENT_HIDDEN;

/* Top allocation sites by estimated bytes allocated since start, with the
 * innermost frame outside the allocator symbolized ("func (file:line)"). */
struct agent_site {
	char where[160];
	char component[64];
	uint64_t inuse_bytes, inuse_objects, alloc_bytes, alloc_objects;
};
int agent_heap_sites(struct agent_site *out, size_t max) AGENT_HIDDEN;

/* The sampled heap as a gzipped pprof with Go's sample types
 * alloc_objects/count, alloc_space/bytes, inuse_objects/count,
 * inuse_space/bytes (period_type space/bytes, period = the sampling
 * period), values unsampled as Go does, locations symbolized in process,
 * and a "component" label from kiln_tag_push. */
int agent_heap_profile(struct agent_body *out) AGENT_HIDDEN;

/* Starts sampled heap tracking (mean period in bytes; 0 leaves heap
 * profiling off: totals still count). Idempotent. Sampling itself starts
 * at the process's first malloc, at KILN_AGENT_HEAP_RATE (default 512 KiB):
 * when that variable is set it wins over period. -ENODEV when the heap
 * tracker is off in this process (no real allocator, or kh_disable). */
int agent_heap_start(uint64_t period) AGENT_HIDDEN;

/* Called by each of the agent's own threads (the HTTP server's, at their
 * start or at the top of every request handler: it is idempotent and
 * cheap): their allocations are neither counted nor sampled, for good. */
void agent_heap_thread_ignore(void) AGENT_HIDDEN;
/* Between these two (which nest), this thread's allocations and frees are
 * the agent's own, neither counted nor sampled: for work the agent does
 * on a host thread, such as loading libmicrohttpd (mhdload.c). */
void agent_heap_own_begin(void) AGENT_HIDDEN;
void agent_heap_own_end(void) AGENT_HIDDEN;

/* For the agent's atfork child handler: switches heap tracking off for
 * good in this process (hooks pass straight through). Without it a child
 * goes on sampling only when KILN_AGENT_CHILDREN=1. */
void agent_heap_disable(void) AGENT_HIDDEN;

/* ---- tags.c: kiln_tag_push/kiln_tag_pop ---- */

#define AGENT_MAX_TAGS 1024 /* distinct tag names in a process */
/* Copies tag index's name into out (NUL-terminated, cut to cap - 1);
 * 0, or -ENOENT for an unknown index. */
int agent_tag_name(uint32_t index, char *out, size_t cap) AGENT_HIDDEN;

/* ---- cpuself.c: the CPU profile of this process ---- */

/* Samples every thread of this process at hz for seconds, then returns a
 * gzipped pprof (samples/count, cpu/nanoseconds, symbolized in process).
 * Returns -EBUSY when a profile is already in progress, -EPERM/-EACCES
 * when perf_event_open is refused. *cancel set non-zero ends it early (the
 * profile so far is returned). */
int agent_cpu_profile(unsigned seconds, unsigned hz, const volatile int *cancel, struct agent_body *out) AGENT_HIDDEN;
/* The first call turns warm mode on: the symbolizer is kept between
 * profiles, freed after 30 s unused (call about once a second), rebuilt
 * every 60 profiles. release_now frees it at once (agent stop). */
int agent_cpu_trim(int release_now) AGENT_HIDDEN;

/* ---- agent.c: lifecycle (kiln_agent_start/stop, constructor, fork) ---- */

/* Writes "kiln agent: what[: strerror(err)]\n" to stderr, once per process
 * (later calls are dropped); never allocates. err is a positive errno or 0. */
void agent_warn(const char *what, int err) AGENT_HIDDEN;
/* Set while kiln_agent_stop runs: long requests (CPU profiles) end early. */
extern volatile int agent_stopping AGENT_HIDDEN;
double agent_mono(void) AGENT_HIDDEN; /* CLOCK_MONOTONIC, seconds */

/* ---- mhdload.c: libmicrohttpd, loaded when the agent first serves ---- */

/* Loads libmicrohttpd (RTLD_NOW | RTLD_LOCAL) and fills the table of
 * mhdload.h, once per process; later calls return the first call's result
 * at once. The loader's allocations (the libraries' and their
 * constructors') are the agent's own: neither counted nor sampled. 0, or
 * -ELIBACC when the library cannot be loaded, -ELIBBAD when a function is
 * missing; the reason is written to stderr once (agent_warn). Thread-safe,
 * and holds no lock of the agent's across dlopen. */
int mhd_load(void) AGENT_HIDDEN;
/* For the atfork child handler: the publishing lock may have been held
 * by a thread that does not exist in the child. */
void mhd_after_fork_child(void) AGENT_HIDDEN;

/* ---- server.c: the HTTP server, routing, auth, limits ---- */

struct sockaddr;
/* Serves on a bound-here socket for sa (port 0: any free port; *port gets
 * the one bound). token: required as "Authorization: Bearer" on every
 * request when non-NULL (copied). remote: the address is not loopback
 * (adds a per-IP connection limit). Returns 0 or -errno. */
int server_start(const struct sockaddr *sa, unsigned salen, const char *token, int remote, int *port) AGENT_HIDDEN;
/* Stops serving and waits for the requests in flight. Idempotent. */
void server_stop(void) AGENT_HIDDEN;
/* The tick's watchdog: 0 while the listen socket is still the one the
 * server bound; once the host has closed (or replaced) it, stops the
 * server without touching the host's descriptors and returns -EBADF. */
int server_check(void) AGENT_HIDDEN;
/* 1 while serving (started, not stopped by server_check). */
int server_alive(void) AGENT_HIDDEN;
/* In a fork child: forgets the parent's server (its threads do not exist
 * here) and closes the listen socket. */
void server_forget(void) AGENT_HIDDEN;

/* A growing text buffer for response bodies: an allocation failure is
 * remembered in err and later appends are dropped. */
struct agent_buf {
	char *data;
	size_t len, cap;
	int err;
};
void agent_buf_add(struct agent_buf *b, const char *s, size_t n) AGENT_HIDDEN;
void agent_buf_puts(struct agent_buf *b, const char *s) AGENT_HIDDEN;
void agent_buf_printf(struct agent_buf *b, const char *fmt, ...) AGENT_HIDDEN
	__attribute__((format(printf, 2, 3)));
/* s as a JSON string, quoted and escaped (invalid UTF-8 becomes U+FFFD). */
void agent_buf_json_str(struct agent_buf *b, const char *s) AGENT_HIDDEN;
/* Moves the text into out (0), or frees it and returns -ENOMEM. */
int agent_buf_finish(struct agent_buf *b, struct agent_body *out) AGENT_HIDDEN;
void agent_buf_release(struct agent_buf *b) AGENT_HIDDEN;

/* One request, as the route handlers see it. body: the POST body (at most
 * AGENT_MAX_BODY bytes), NUL-terminated, else NULL. */
#define AGENT_MAX_BODY (1u << 20)
struct agent_request {
	const char *method; /* "GET", "HEAD" or "POST" */
	const char *path;
	const char *body;
	size_t body_len;
	void *conn;         /* the MHD connection */
};
/* The value of query argument key ("" for a bare key), or NULL; a value
 * with an escaped NUL inside comes back as "\x7f", valid for nothing. */
const char *agent_arg(const struct agent_request *rq, const char *key) AGENT_HIDDEN;
/* The query's keys and values joined by '+' (for Go's /symbol GET). */
void agent_query_words(const struct agent_request *rq, struct agent_buf *b) AGENT_HIDDEN;

/* What a handler answers; type and disposition are static strings. */
struct agent_reply {
	unsigned status;
	const char *type;
	const char *disposition; /* Content-Disposition, or NULL */
	const char *allow;       /* Allow, for 405 */
	int pprof_error;         /* an error go tool pprof should show (X-Go-Pprof) */
	struct agent_body body;
};
/* A plain-text reply: status and a formatted message. Returns 0. */
int agent_reply_text(struct agent_reply *r, unsigned status, const char *fmt, ...) AGENT_HIDDEN
	__attribute__((format(printf, 3, 4)));
/* A reply from a finished buffer, or 500 when it ran out of memory. */
void agent_reply_buf(struct agent_reply *r, struct agent_buf *b, const char *type) AGENT_HIDDEN;

/* ---- metrics.c: /metrics (Prometheus text 0.0.4) and /proc/self ---- */

/* This process's memory and process-collector numbers; a field whose file
 * could not be read is 0 and its have_* flag false. */
struct agent_proc {
	uint64_t rss, vss, rss_anon, rss_file, rss_shmem, resident, shared, text, data, stack, hwm;
	uint64_t heap_inuse; /* malloc: mallinfo2 uordblks + hblkhd */
	uint64_t heap_held;  /* malloc: mallinfo2 arena + hblkhd */
	uint64_t threads, open_fds, max_fds;
	double cpu_seconds, start_time; /* start: seconds since the epoch */
	int have_status, have_statm, have_stat;
};
int agent_proc_read(struct agent_proc *p) AGENT_HIDDEN;
int metrics_handle(const struct agent_request *rq, struct agent_reply *r) AGENT_HIDDEN;
/* The component name shown for "" (allocations outside any tag). */
#define AGENT_UNTAGGED "untagged"

/* ---- memjson.c: /metrics/memory, /metrics/leaks, /metrics/allocations ---- */
int memjson_memory(const struct agent_request *rq, struct agent_reply *r) AGENT_HIDDEN;
int memjson_leaks(const struct agent_request *rq, struct agent_reply *r) AGENT_HIDDEN;
int memjson_allocations(const struct agent_request *rq, struct agent_reply *r) AGENT_HIDDEN;
/* RFC 3339 UTC time of t (seconds since the epoch) into buf[32]. */
void memjson_time(double t, char *buf) AGENT_HIDDEN;

/* ---- leakwatch.c: memory history, growth, leak rule, allocation rate ---- */

#define LEAKWATCH_POINTS 360    /* history length: an hour at the 10 s default */
#define LEAKWATCH_COMPONENTS 64 /* components followed (the largest) */
struct leakwatch_component {
	char name[64];
	uint64_t inuse_bytes, inuse_objects, alloc_bytes, alloc_objects; /* latest */
	double first_seen, last_seen; /* epoch seconds: first and last point it had live bytes */
	size_t points;                /* history points with this component */
	double bytes_per_s;           /* least-squares growth of inuse_bytes */
	int have_slope, leak;
};
struct leakwatch_report {
	double interval, span;        /* seconds between points, first to last */
	size_t points;
	double heap_bytes_per_s, rss_bytes_per_s;
	int have_heap_slope, have_rss_slope;
	double threshold_bytes_per_s; /* the leak rule's growth threshold */
	size_t ncomponents, nleaks;
	struct leakwatch_component comp[LEAKWATCH_COMPONENTS]; /* leaks first, by growth */
};
/* Settings from KILN_AGENT_LEAK_INTERVAL (seconds, default 10) and
 * KILN_AGENT_LEAK_MB_PER_HOUR (default 10); clears the history. */
void leakwatch_init(void) AGENT_HIDDEN;
/* Called about once a second by the agent's tick thread: a rate point
 * every call, a history point every interval. */
void leakwatch_tick(void) AGENT_HIDDEN;
int leakwatch_report(struct leakwatch_report *out) AGENT_HIDDEN;
/* Allocation rate over about the last 10 s (since the start when younger).
 * Returns 0, or -EAGAIN before the first tick. */
int leakwatch_rate(double *bytes_per_s, double *allocs_per_s) AGENT_HIDDEN;
void leakwatch_after_fork_child(void) AGENT_HIDDEN;

/* ---- pprofpaths.c: Go's /debug/pprof/ routes ---- */
int pprof_handle(const struct agent_request *rq, struct agent_reply *r) AGENT_HIDDEN;
void pprof_after_fork_child(void) AGENT_HIDDEN;

#endif
