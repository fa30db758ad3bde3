/* pprofpaths: Go's net/http/pprof routes: the index, profile (CPU), heap
 * and allocs (sampled heap), cmdline and symbol. Invariant: the answers of
 * Go's handlers where the agent has the data (types, attachment names,
 * num_symbols, NUL-separated argv), else a 4xx/5xx with X-Go-Pprof; a bad
 * parameter is a 400, never a default silently taken. */
#include "agent/agent.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/pprof.h"
#include "model/profile.h"
#include "symbolize/symbolize.h"

enum {
	DEFAULT_SECONDS = 30,
	MAX_SECONDS = 300,
	CPU_HZ = 100, /* Go's rate */
	MAX_SYMBOLS = 100000,
};

static const char index_html[] =
	"<html>\n<head>\n<title>/debug/pprof/</title>\n"
	"<style>\n.profile-name{ display:inline-block; width:6rem; }\n</style>\n"
	"</head>\n<body>\n/debug/pprof/\n<br>\n<p>Served by the kiln agent (libkiln.so). "
	"Profiles are pprof protobufs: read them with go tool pprof or kiln report.</p>\n"
	"Types of profiles available:\n<table>\n<thead><td>Count</td><td>Profile</td></thead>\n"
	"<tr><td></td><td><a href=\"allocs\">allocs</a></td></tr>\n"
	"<tr><td></td><td><a href=\"cmdline\">cmdline</a></td></tr>\n"
	"<tr><td></td><td><a href=\"heap\">heap</a></td></tr>\n"
	"<tr><td></td><td><a href=\"profile\">profile</a></td></tr>\n"
	"<tr><td></td><td><a href=\"symbol\">symbol</a></td></tr>\n"
	"</table>\n<br>\n<p>\nProfile Descriptions:\n<ul>\n"
	"<li><div class=profile-name>allocs: </div> Sampled heap allocations since the agent started "
	"(alloc_space by default).</li>\n"
	"<li><div class=profile-name>cmdline: </div> This process's command line, arguments "
	"separated by NUL bytes.</li>\n"
	"<li><div class=profile-name>heap: </div> Sampled live heap (inuse_space by default), by "
	"allocation stack and kiln_tag_push component.</li>\n"
	"<li><div class=profile-name>profile: </div> CPU profile of every thread; set seconds "
	"(default 30, at most 300). Download it, then run go tool pprof on the file.</li>\n"
	"<li><div class=profile-name>symbol: </div> Address to function name, as pprof asks for "
	"it: GET or POST 0xADDR+0xADDR.</li>\n"
	"</ul>\n</p>\n</body>\n</html>\n";

static int pprof_fail(struct agent_reply *r, unsigned status, const char *msg)
{
	agent_reply_text(r, status, "%s\n", msg);
	r->pprof_error = 1;
	return 0;
}

static int only_get(const struct agent_request *rq, struct agent_reply *r)
{
	if (!strcmp(rq->method, "POST")) {
		agent_reply_text(r, 405, "method not allowed\n");
		r->allow = "GET, HEAD";
		return 1;
	}
	return 0;
}

/* A non-negative decimal integer of at most 9 digits, or -1. */
static long small_int(const char *s)
{
	if (!*s || strlen(s) > 9 || strspn(s, "0123456789") != strlen(s))
		return -1;
	return strtol(s, NULL, 10);
}

/* ---- profile ---------------------------------------------------------------- */

static int cpu_profile(const struct agent_request *rq, struct agent_reply *r)
{
	if (only_get(rq, r))
		return 0;
	long sec = DEFAULT_SECONDS;
	const char *s = agent_arg(rq, "seconds");
	if (s && *s) {
		sec = small_int(s);
		if (sec < 1 || sec > MAX_SECONDS)
			return pprof_fail(r, 400, "seconds must be an integer from 1 to 300");
	}
	if (!strcmp(rq->method, "HEAD")) {
		r->status = 200;
		r->type = "application/octet-stream";
		r->disposition = "attachment; filename=\"profile\"";
		return 0;
	}
	struct agent_body body = {0};
	int e = agent_cpu_profile((unsigned)sec, CPU_HZ, &agent_stopping, &body);
	if (e == -EBUSY)
		return pprof_fail(r, 409, "a CPU profile is already in progress: try again when it is done");
	if (e == -EPERM || e == -EACCES)
		return pprof_fail(r, 503, "CPU profiling is not permitted here: perf_event_open was refused "
					  "(perf_event_paranoid, CAP_PERFMON or seccomp)");
	if (e == -ENOENT || e == -ENODEV || e == -ENOSYS || e == -EOPNOTSUPP)
		return pprof_fail(r, 503, "CPU profiling is not available: this kernel has no usable perf events");
	if (e < 0) {
		free(body.data);
		char msg[160];
		snprintf(msg, sizeof msg, "could not make the CPU profile: %s", strerror(e > -4096 ? -e : EIO));
		return pprof_fail(r, 500, msg);
	}
	r->status = 200;
	r->type = "application/octet-stream";
	r->disposition = "attachment; filename=\"profile\"";
	r->body = body;
	return 0;
}

/* ---- heap, allocs ------------------------------------------------------------- */

/* Go's allocs profile is the heap profile with alloc_space as its default
 * sample type. On any failure the heap profile is served as it is. */
static void default_to_alloc_space(struct agent_body *b)
{
	struct profile p;
	if (pprof_read(b->data, b->len, &p, NULL) != 0)
		return;
	p.default_sample_type = strtab_interns(&p.strs, "alloc_space");
	void *data;
	size_t len;
	if (pprof_encode(&p, PPROF_GZIP_DEFAULT, &data, &len) == 0) {
		free(b->data);
		b->data = data;
		b->len = len;
	}
	profile_release(&p);
}

static int heap_profile(const struct agent_request *rq, struct agent_reply *r, int allocs)
{
	if (only_get(rq, r))
		return 0;
	const char *d = agent_arg(rq, "debug");
	if (d && *d) {
		long v = small_int(d);
		if (v < 0)
			return pprof_fail(r, 400, "debug must be an integer");
		if (v > 0)
			return pprof_fail(r, 400, "the text format (debug=1) is not served: leave debug out or set debug=0");
	}
	const char *gc = agent_arg(rq, "gc");
	if (gc && *gc && small_int(gc) < 0)
		return pprof_fail(r, 400, "gc must be an integer");
	/* gc=1 is accepted: there is no collector to run */
	const char *sec = agent_arg(rq, "seconds");
	if (sec && *sec)
		return pprof_fail(r, 400, "delta heap profiles (seconds=N) are not served: take two and diff them");
	const char *name = allocs ? "attachment; filename=\"allocs\"" : "attachment; filename=\"heap\"";
	if (!strcmp(rq->method, "HEAD")) {
		r->status = 200;
		r->type = "application/octet-stream";
		r->disposition = name;
		return 0;
	}
	struct agent_body body = {0};
	int e = agent_heap_profile(&body);
	if (e == -ENODATA || e == -ENOTSUP || e == -EAGAIN || e == -ENOENT)
		return pprof_fail(r, 503, "heap profiling is off (KILN_AGENT_HEAP_PERIOD=0, or the heap "
					  "tracker could not start: see the host's stderr)");
	if (e < 0) {
		free(body.data);
		char msg[160];
		snprintf(msg, sizeof msg, "could not make the heap profile: %s", strerror(e > -4096 ? -e : EIO));
		return pprof_fail(r, 500, msg);
	}
	if (allocs)
		default_to_alloc_space(&body);
	r->status = 200;
	r->type = "application/octet-stream";
	r->disposition = name;
	r->body = body;
	return 0;
}

/* ---- cmdline ------------------------------------------------------------------- */

static int cmdline(const struct agent_request *rq, struct agent_reply *r)
{
	if (only_get(rq, r))
		return 0;
	struct agent_buf b = {0};
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return agent_reply_text(r, 500, "cannot read /proc/self/cmdline\n");
	char chunk[4096];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof chunk)) > 0 && b.len < AGENT_MAX_BODY)
		agent_buf_add(&b, chunk, (size_t)n);
	close(fd);
	/* the kernel ends every argument with NUL; Go joins them with it */
	if (b.len && b.data[b.len - 1] == 0)
		b.len--;
	agent_reply_buf(r, &b, "text/plain; charset=utf-8");
	return 0;
}

/* ---- symbol ------------------------------------------------------------------ */

static pthread_mutex_t sym_lock = PTHREAD_MUTEX_INITIALIZER;
static struct symbolizer *sym;
static int sym_pid;

void pprof_after_fork_child(void)
{
	/* the parent's symbolizer describes the parent; it is dropped, not
	 * freed (its lock may have been held by a vanished thread) */
	pthread_mutex_init(&sym_lock, NULL);
	sym = NULL;
}

/* The function at addr in this process, or NULL. With sym_lock held. */
static const char *lookup(uint64_t addr, int *reloaded)
{
	int pid = (int)getpid();
	if (sym && sym_pid != pid) {
		symbolizer_free(sym);
		sym = NULL;
	}
	if (!sym) {
		struct symbolizer_options o = {.no_kernel = true, .no_debuginfod = true};
		int err;
		sym = symbolizer_new(&o, &err);
		if (!sym)
			return NULL;
		sym_pid = pid;
		if (symbolizer_load_proc(sym, pid) < 0)
			return NULL;
		*reloaded = 1;
	}
	struct sym_location loc;
	int r = symbolizer_lookup(sym, pid, addr, false, &loc);
	if (r == -ENOENT && !*reloaded) {
		/* a library loaded since: read the mappings again, once */
		*reloaded = 1;
		symbolizer_load_proc(sym, pid);
		r = symbolizer_lookup(sym, pid, addr, false, &loc);
	}
	if (r == 0 && loc.nframes && loc.frames[0].function)
		return loc.frames[0].function;
	Dl_info di;
	if (dladdr((void *)(uintptr_t)addr, &di) && di.dli_sname)
		return di.dli_sname;
	return NULL;
}

static int symbol(const struct agent_request *rq, struct agent_reply *r)
{
	struct agent_buf in = {0}, out = {0};
	const char *words;
	if (!strcmp(rq->method, "POST")) {
		words = rq->body ? rq->body : "";
	} else {
		agent_query_words(rq, &in);
		words = in.data ? in.data : "";
	}
	agent_buf_puts(&out, "num_symbols: 1\n");
	pthread_mutex_lock(&sym_lock);
	int reloaded = 0, count = 0;
	for (const char *p = words; *p && count < MAX_SYMBOLS;) {
		size_t n = strcspn(p, "+ \t\r\n&=");
		if (n && n < 32) {
			char word[32];
			memcpy(word, p, n);
			word[n] = 0;
			char *end;
			errno = 0;
			unsigned long long pc = strtoull(word, &end, 0);
			if (!errno && !*end && pc && word[0] != '-') {
				const char *name = lookup(pc, &reloaded);
				if (name)
					agent_buf_printf(&out, "%#llx %s\n", pc, name);
				count++;
			}
		}
		p += n;
		if (*p)
			p++;
	}
	pthread_mutex_unlock(&sym_lock);
	agent_buf_release(&in);
	agent_reply_buf(r, &out, "text/plain; charset=utf-8");
	return 0;
}

/* ---- routing ------------------------------------------------------------------ */

int pprof_handle(const struct agent_request *rq, struct agent_reply *r)
{
	const char *name = rq->path + strlen("/debug/pprof/");
	if (!*name) {
		if (only_get(rq, r))
			return 0;
		struct agent_buf b = {0};
		agent_buf_puts(&b, index_html);
		agent_reply_buf(r, &b, "text/html; charset=utf-8");
		return 0;
	}
	if (!strcmp(name, "profile"))
		return cpu_profile(rq, r);
	if (!strcmp(name, "heap"))
		return heap_profile(rq, r, 0);
	if (!strcmp(name, "allocs"))
		return heap_profile(rq, r, 1);
	if (!strcmp(name, "cmdline"))
		return cmdline(rq, r);
	if (!strcmp(name, "symbol"))
		return symbol(rq, r);
	return pprof_fail(r, 404, "Unknown profile");
}
