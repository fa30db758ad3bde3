/* metrics: /metrics in the Prometheus text format 0.0.4 (memory, heap
 * totals and histogram, components, allocation rate, growth, leak state,
 * the standard process collector) and the /proc/self reader the JSON
 * endpoints share. Invariant: each family has HELP and TYPE and appears
 * once; a number that could not be read is left out, never a zero. */
#include "agent/agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "collect/procmem.h"

/* Reads a small /proc file into buf (NUL-terminated). */
static int read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t n = 0;
	while (n < size - 1) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	return n ? 0 : -EIO;
}

/* Seconds since the epoch at boot (/proc/stat btime), read once. */
static double boot_time(void)
{
	static double bt;
	if (bt > 0)
		return bt;
	char buf[16384];
	if (read_small("/proc/stat", buf, sizeof buf) == 0) {
		const char *p = strstr(buf, "\nbtime ");
		if (p)
			bt = strtod(p + 7, NULL);
	}
	return bt;
}

static uint64_t count_fds(int *ok)
{
	DIR *d = opendir("/proc/self/fd");
	*ok = d != NULL;
	if (!d)
		return 0;
	uint64_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n ? n - 1 : 0; /* not the directory's own descriptor */
}

int agent_proc_read(struct agent_proc *p)
{
	memset(p, 0, sizeof *p);
	char buf[8192];
	long page = sysconf(_SC_PAGESIZE);
	long hz = sysconf(_SC_CLK_TCK);
	struct procmem_sample s;
	memset(&s, 0, sizeof s);
	if (read_small("/proc/self/status", buf, sizeof buf) == 0 && procmem_parse_status(buf, &s) == 0)
		p->have_status = 1;
	if (read_small("/proc/self/statm", buf, sizeof buf) == 0) {
		unsigned long long f[7] = {0};
		if (sscanf(buf, "%llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3], &f[4], &f[5],
			   &f[6]) >= 3) {
			p->have_statm = 1;
			p->resident = f[1] * (uint64_t)page;
			p->shared = f[2] * (uint64_t)page;
		}
		procmem_parse_statm(buf, page, &s);
	}
	p->rss = s.rss;
	p->vss = s.vss;
	p->rss_anon = s.rss_anon;
	p->rss_file = s.rss_file;
	p->rss_shmem = s.rss_shmem;
	p->text = s.text;
	p->data = s.data;
	p->stack = s.stack;
	p->hwm = s.hwm;
	p->threads = s.threads;
	if (read_small("/proc/self/stat", buf, sizeof buf) == 0) {
		/* after the command name: state is field 3, utime 14, stime 15,
		 * starttime 22 */
		const char *q = strrchr(buf, ')');
		unsigned long long ut = 0, st = 0, start = 0;
		if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu",
				&ut, &st, &start) == 3 && hz > 0) {
			p->have_stat = 1;
			p->cpu_seconds = (double)(ut + st) / (double)hz;
			double bt = boot_time();
			p->start_time = bt > 0 ? bt + (double)start / (double)hz : 0;
		}
	}
	struct mallinfo2 mi = mallinfo2();
	p->heap_inuse = mi.uordblks + mi.hblkhd;
	p->heap_held = mi.arena + mi.hblkhd;
	int ok;
	p->open_fds = count_fds(&ok);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		p->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
	return p->have_status || p->have_statm ? 0 : -EIO;
}

/* ---- the text format ------------------------------------------------------- */

static void family(struct agent_buf *b, const char *name, const char *type, const char *help)
{
	agent_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void value_u64(struct agent_buf *b, const char *name, uint64_t v)
{
	agent_buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

static void put_double(struct agent_buf *b, double v)
{
	if (isnan(v))
		agent_buf_puts(b, "NaN");
	else if (isinf(v))
		agent_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	else
		agent_buf_printf(b, "%.10g", v);
}

static void value_double(struct agent_buf *b, const char *name, double v)
{
	agent_buf_printf(b, "%s ", name);
	put_double(b, v);
	agent_buf_add(b, "\n", 1);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(struct agent_buf *b, const char *v)
{
	agent_buf_add(b, "\"", 1);
	for (const char *p = *v ? v : AGENT_UNTAGGED; *p; p++) {
		if (*p == '\\')
			agent_buf_puts(b, "\\\\");
		else if (*p == '"')
			agent_buf_puts(b, "\\\"");
		else if (*p == '\n')
			agent_buf_puts(b, "\\n");
		else
			agent_buf_add(b, p, 1);
	}
	agent_buf_add(b, "\"", 1);
}

static void memory_metrics(struct agent_buf *b, const struct agent_proc *p)
{
	if (p->have_status) {
		family(b, "process_memory_rss_bytes", "gauge", "Resident set size of the process (VmRSS) in bytes.");
		value_u64(b, "process_memory_rss_bytes", p->rss);
		family(b, "process_memory_vss_bytes", "gauge", "Virtual memory size of the process (VmSize) in bytes.");
		value_u64(b, "process_memory_vss_bytes", p->vss);
	}
	family(b, "process_memory_heap_bytes", "gauge",
	       "Live malloc heap in bytes: glibc mallinfo2() uordblks + hblkhd (exact, glibc malloc only).");
	value_u64(b, "process_memory_heap_bytes", p->heap_inuse);
	family(b, "process_memory_heap_held_bytes", "gauge",
	       "Memory glibc malloc holds from the system in bytes: mallinfo2() arena + hblkhd.");
	value_u64(b, "process_memory_heap_held_bytes", p->heap_held);
}

static void heap_metrics(struct agent_buf *b)
{
	struct agent_heap_totals t;
	if (agent_heap_totals(&t) < 0)
		return;
	/* the counters' HELP says how they were got */
	const char *how = t.estimated ? " (estimated from the heap samples; KILN_AGENT_HEAP_COUNTS=exact counts every call)"
				      : ", counted exactly in every thread";
	char help[256];
	snprintf(help, sizeof help, "Allocation calls (malloc family) since the agent started%s.", how);
	family(b, "process_memory_allocations_total", "counter", help);
	value_u64(b, "process_memory_allocations_total", t.alloc_count);
	snprintf(help, sizeof help, "Free calls since the agent started%s.", how);
	family(b, "process_memory_frees_total", "counter", help);
	value_u64(b, "process_memory_frees_total", t.free_count);
	snprintf(help, sizeof help, "Bytes requested by allocation calls since the agent started%s.", how);
	family(b, "process_memory_allocated_bytes_total", "counter", help);
	value_u64(b, "process_memory_allocated_bytes_total", t.alloc_bytes);

	/* cumulative buckets; +Inf and _count agree even when the totals
	 * moved while they were read */
	uint64_t cum = 0;
	for (int i = 0; i < AGENT_SIZE_BUCKETS; i++)
		cum += t.size_buckets[i];
	uint64_t count = cum > t.alloc_count ? cum : t.alloc_count;
	family(b, "process_memory_allocation_size_bytes", "histogram", "Sizes of allocation requests since the agent started.");
	cum = 0;
	for (int i = 0; i < AGENT_SIZE_BUCKETS - 1; i++) {
		cum += t.size_buckets[i];
		uint64_t le = agent_size_bucket_le(i);
		if (le == UINT64_MAX)
			break;
		agent_buf_printf(b, "process_memory_allocation_size_bytes_bucket{le=\"%" PRIu64 "\"} %" PRIu64 "\n", le, cum);
	}
	agent_buf_printf(b, "process_memory_allocation_size_bytes_bucket{le=\"+Inf\"} %" PRIu64 "\n", count);
	value_u64(b, "process_memory_allocation_size_bytes_sum", t.alloc_bytes);
	value_u64(b, "process_memory_allocation_size_bytes_count", count);

	family(b, "kiln_agent_heap_sample_period_bytes", "gauge", "Mean bytes between heap samples (0: heap profiling off).");
	value_u64(b, "kiln_agent_heap_sample_period_bytes", t.sample_period);

	double bps, aps;
	if (leakwatch_rate(&bps, &aps) == 0) {
		family(b, "process_memory_allocation_rate_bytes_per_second", "gauge",
		       "Bytes allocated per second over about the last 10 seconds.");
		value_double(b, "process_memory_allocation_rate_bytes_per_second", bps);
		family(b, "process_memory_allocation_rate_per_second", "gauge",
		       "Allocation calls per second over about the last 10 seconds.");
		value_double(b, "process_memory_allocation_rate_per_second", aps);
	}
}

static void component_metrics(struct agent_buf *b)
{
	struct agent_component *c = calloc(LEAKWATCH_COMPONENTS, sizeof *c);
	if (!c)
		return;
	int n = agent_heap_components(c, LEAKWATCH_COMPONENTS);
	if (n > 0) {
		family(b, "process_memory_heap_component_bytes", "gauge",
		       "Live heap by component (kiln_tag_push) in bytes, estimated from the heap samples.");
		for (int i = 0; i < n; i++) {
			agent_buf_puts(b, "process_memory_heap_component_bytes{component=");
			label_value(b, c[i].name);
			agent_buf_printf(b, "} %" PRIu64 "\n", c[i].inuse_bytes);
		}
		family(b, "process_memory_heap_component_objects", "gauge",
		       "Live heap objects by component (kiln_tag_push), estimated from the heap samples.");
		for (int i = 0; i < n; i++) {
			agent_buf_puts(b, "process_memory_heap_component_objects{component=");
			label_value(b, c[i].name);
			agent_buf_printf(b, "} %" PRIu64 "\n", c[i].inuse_objects);
		}
	}
	free(c);
}

static void growth_metrics(struct agent_buf *b)
{
	struct leakwatch_report *r = malloc(sizeof *r);
	if (!r || leakwatch_report(r) < 0) {
		free(r);
		return;
	}
	if (r->have_heap_slope) {
		family(b, "process_memory_heap_growth_bytes_per_second", "gauge",
		       "Growth of the live heap, least squares over the agent's history (up to an hour).");
		value_double(b, "process_memory_heap_growth_bytes_per_second", r->heap_bytes_per_s);
	}
	if (r->have_rss_slope) {
		family(b, "process_memory_rss_growth_bytes_per_second", "gauge",
		       "Growth of the resident set size, least squares over the agent's history (up to an hour).");
		value_double(b, "process_memory_rss_growth_bytes_per_second", r->rss_bytes_per_s);
	}
	family(b, "process_memory_potential_leaks", "gauge",
	       "Components whose live heap grows steadily (the leak rule of /metrics/leaks).");
	value_u64(b, "process_memory_potential_leaks", r->nleaks);
	int any = 0;
	for (size_t i = 0; i < r->ncomponents; i++) {
		if (!r->comp[i].have_slope)
			continue;
		if (!any)
			family(b, "process_memory_component_growth_bytes_per_second", "gauge",
			       "Growth of a component's live heap, least squares over the agent's history.");
		any = 1;
		agent_buf_puts(b, "process_memory_component_growth_bytes_per_second{component=");
		label_value(b, r->comp[i].name);
		agent_buf_puts(b, "} ");
		put_double(b, r->comp[i].bytes_per_s);
		agent_buf_add(b, "\n", 1);
	}
	any = 0;
	for (size_t i = 0; i < r->ncomponents; i++) {
		if (!r->comp[i].have_slope)
			continue;
		if (!any)
			family(b, "process_memory_component_leak", "gauge",
			       "1 when the component is a potential leak by the rule of /metrics/leaks, else 0.");
		any = 1;
		agent_buf_puts(b, "process_memory_component_leak{component=");
		label_value(b, r->comp[i].name);
		agent_buf_printf(b, "} %d\n", r->comp[i].leak);
	}
	free(r);
}

static void process_metrics(struct agent_buf *b, const struct agent_proc *p)
{
	if (p->have_stat) {
		family(b, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
		value_double(b, "process_cpu_seconds_total", p->cpu_seconds);
	}
	if (p->have_status) {
		family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
		value_u64(b, "process_resident_memory_bytes", p->rss);
		family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
		value_u64(b, "process_virtual_memory_bytes", p->vss);
		family(b, "process_threads", "gauge", "Number of OS threads in the process.");
		value_u64(b, "process_threads", p->threads);
	}
	family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
	value_u64(b, "process_open_fds", p->open_fds);
	if (p->max_fds) {
		family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
		if (p->max_fds == UINT64_MAX)
			value_double(b, "process_max_fds", INFINITY);
		else
			value_u64(b, "process_max_fds", p->max_fds);
	}
	if (p->start_time > 0) {
		family(b, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
		value_double(b, "process_start_time_seconds", p->start_time);
	}
}

int metrics_handle(const struct agent_request *rq, struct agent_reply *r)
{
	(void)rq;
	struct agent_proc p;
	agent_proc_read(&p);
	struct agent_buf b = {0};
	memory_metrics(&b, &p);
	heap_metrics(&b);
	component_metrics(&b);
	growth_metrics(&b);
	process_metrics(&b, &p);
	agent_reply_buf(r, &b, "text/plain; version=0.0.4; charset=utf-8");
	return 0;
}
