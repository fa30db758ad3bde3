/* memjson: the JSON endpoints /metrics/memory, /metrics/leaks and
 * /metrics/allocations (top sites, sizes, efficiency, recommendations).
 * Invariant: every body is one well-formed JSON object (strings escaped,
 * an unknown number is null); sizes are bytes, except *_mb fields, which
 * are MB (10^6 bytes) as in kiln mem. */
#include "agent/agent.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MB 1e6

void memjson_time(double t, char *buf)
{
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	int ms = (int)((t - (double)s) * 1000);
	if (ms < 0 || ms > 999)
		ms = 0;
	size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 32 - n, ".%03dZ", ms);
}

static double wall_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void num(struct agent_buf *b, double v)
{
	if (!isfinite(v))
		agent_buf_puts(b, "null");
	else if (v == floor(v) && fabs(v) < 1e15)
		agent_buf_printf(b, "%.0f", v);
	else
		agent_buf_printf(b, "%.6g", v);
}

static void key(struct agent_buf *b, const char *k, int *first)
{
	if (!*first)
		agent_buf_add(b, ",", 1);
	*first = 0;
	agent_buf_json_str(b, k);
	agent_buf_add(b, ":", 1);
}

static void kv_u64(struct agent_buf *b, const char *k, uint64_t v, int *first)
{
	key(b, k, first);
	agent_buf_printf(b, "%" PRIu64, v);
}

static void kv_num(struct agent_buf *b, const char *k, double v, int *first)
{
	key(b, k, first);
	num(b, v);
}

static void kv_str(struct agent_buf *b, const char *k, const char *v, int *first)
{
	key(b, k, first);
	if (v)
		agent_buf_json_str(b, v);
	else
		agent_buf_puts(b, "null");
}

static void kv_time(struct agent_buf *b, const char *k, double t, int *first)
{
	char ts[32];
	if (t > 0)
		memjson_time(t, ts);
	kv_str(b, k, t > 0 ? ts : NULL, first);
}

static const char *shown(const char *component)
{
	return *component ? component : AGENT_UNTAGGED;
}

/* ---- /metrics/memory -------------------------------------------------------- */

int memjson_memory(const struct agent_request *rq, struct agent_reply *r)
{
	(void)rq;
	struct agent_proc p;
	if (agent_proc_read(&p) < 0)
		return agent_reply_text(r, 503, "cannot read /proc/self\n");
	struct agent_buf b = {0};
	int f = 1;
	agent_buf_add(&b, "{", 1);
	kv_num(&b, "rss_mb", (double)p.rss / MB, &f);
	kv_num(&b, "heap_mb", (double)p.heap_inuse / MB, &f);
	kv_num(&b, "virtual_mb", (double)p.vss / MB, &f);
	kv_time(&b, "timestamp", wall_now(), &f);
	key(&b, "snapshot", &f);
	int g = 1;
	agent_buf_add(&b, "{", 1);
	kv_u64(&b, "rss", p.rss, &g);
	kv_u64(&b, "heap", p.heap_inuse, &g);
	kv_u64(&b, "virtual", p.vss, &g);
	kv_u64(&b, "resident", p.resident, &g);
	kv_u64(&b, "shared", p.shared, &g);
	kv_u64(&b, "text", p.text, &g);
	kv_u64(&b, "data", p.data, &g);
	kv_u64(&b, "stack", p.stack, &g);
	kv_u64(&b, "rss_anon", p.rss_anon, &g);
	kv_u64(&b, "rss_file", p.rss_file, &g);
	kv_u64(&b, "rss_shmem", p.rss_shmem, &g);
	kv_u64(&b, "rss_peak", p.hwm, &g);
	kv_u64(&b, "heap_held", p.heap_held, &g);
	kv_u64(&b, "threads", p.threads, &g);
	agent_buf_puts(&b, "}}\n");
	agent_reply_buf(r, &b, "application/json");
	return 0;
}

/* ---- /metrics/leaks ------------------------------------------------------------ */

static void component_json(struct agent_buf *b, const struct leakwatch_component *c)
{
	int f = 1;
	agent_buf_add(b, "{", 1);
	kv_str(b, "component", shown(c->name), &f);
	kv_u64(b, "allocation_count", c->inuse_objects, &f);
	kv_u64(b, "total_size", c->inuse_bytes, &f);
	kv_num(b, "growth_rate_mb_per_hour", c->have_slope ? c->bytes_per_s * 3600 / MB : NAN, &f);
	kv_time(b, "first_seen", c->first_seen, &f);
	kv_time(b, "last_seen", c->last_seen, &f);
	kv_u64(b, "allocated_objects", c->alloc_objects, &f);
	kv_u64(b, "allocated_bytes", c->alloc_bytes, &f);
	kv_u64(b, "points", c->points, &f);
	key(b, "potential_leak", &f);
	agent_buf_puts(b, c->leak ? "true" : "false");
	agent_buf_add(b, "}", 1);
}

int memjson_leaks(const struct agent_request *rq, struct agent_reply *r)
{
	(void)rq;
	struct leakwatch_report *w = malloc(sizeof *w);
	if (!w || leakwatch_report(w) < 0) {
		free(w);
		return agent_reply_text(r, 503, "kiln agent: out of memory\n");
	}
	/* the highest risk: the fastest-growing leak, else the
	 * fastest-growing component, else none */
	const char *risk = NULL;
	double best = 0;
	for (size_t i = 0; i < w->ncomponents; i++) {
		const struct leakwatch_component *c = &w->comp[i];
		if (!c->have_slope || c->bytes_per_s <= 0)
			continue;
		if (w->nleaks && !c->leak)
			continue;
		if (!risk || c->bytes_per_s > best) {
			risk = shown(c->name);
			best = c->bytes_per_s;
		}
	}
	struct agent_buf b = {0};
	int f = 1;
	agent_buf_add(&b, "{", 1);
	kv_u64(&b, "potential_leak_count", w->nleaks, &f);
	kv_num(&b, "growth_rate_mb_per_hour", w->have_heap_slope ? w->heap_bytes_per_s * 3600 / MB : NAN, &f);
	kv_num(&b, "rss_growth_rate_mb_per_hour", w->have_rss_slope ? w->rss_bytes_per_s * 3600 / MB : NAN, &f);
	kv_str(&b, "highest_risk_component", risk, &f);
	kv_time(&b, "timestamp", wall_now(), &f);
	kv_num(&b, "window_seconds", w->span, &f);
	kv_u64(&b, "points", w->points, &f);
	kv_num(&b, "interval_seconds", w->interval, &f);
	key(&b, "rule", &f);
	int g = 1;
	agent_buf_add(&b, "{", 1);
	kv_num(&b, "threshold_mb_per_hour", w->threshold_bytes_per_s * 3600 / MB, &g);
	kv_u64(&b, "min_points", 6, &g);
	kv_str(&b, "description",
	       "live heap of a component grows by least squares at least the threshold over at least "
	       "min_points points, at least 2/3 of the steps do not fall (by more than one sampling "
	       "period), the last point is at least 90% of the highest, and the growth over the window "
	       "is at least 4 sampling periods",
	       &g);
	agent_buf_add(&b, "}", 1);
	key(&b, "potential_leaks", &f);
	agent_buf_add(&b, "[", 1);
	int first = 1;
	for (size_t i = 0; i < w->ncomponents; i++) {
		if (!w->comp[i].leak)
			continue;
		if (!first)
			agent_buf_add(&b, ",", 1);
		first = 0;
		component_json(&b, &w->comp[i]);
	}
	agent_buf_add(&b, "]", 1);
	key(&b, "components", &f);
	agent_buf_add(&b, "[", 1);
	for (size_t i = 0; i < w->ncomponents; i++) {
		if (i)
			agent_buf_add(&b, ",", 1);
		component_json(&b, &w->comp[i]);
	}
	agent_buf_puts(&b, "]}\n");
	free(w);
	agent_reply_buf(r, &b, "application/json");
	return 0;
}

/* ---- /metrics/allocations ------------------------------------------------------- */

enum { C_TINY, C_SMALL, C_MEDIUM, C_LARGE, C_HUGE, NCLASSES };
static const char *const class_names[NCLASSES] = {"tiny", "small", "medium", "large", "huge"};
static const char *const class_ranges[NCLASSES] = {"< 1 KiB", "1 KiB - 64 KiB", "64 KiB - 1 MiB", "1 MiB - 16 MiB",
						   "> 16 MiB"};

/* The class of histogram bucket i, by its upper bound. */
static int bucket_class(int i)
{
	uint64_t le = agent_size_bucket_le(i);
	if (le <= 1024)
		return C_TINY;
	if (le <= 64 * 1024)
		return C_SMALL;
	if (le <= 1024 * 1024)
		return C_MEDIUM;
	if (le <= 16 * 1024 * 1024)
		return C_LARGE;
	return C_HUGE;
}

static void recommend(struct agent_buf *b, int *first, const char *kind, const char *msg)
{
	if (!*first)
		agent_buf_add(b, ",", 1);
	*first = 0;
	int f = 1;
	agent_buf_add(b, "{", 1);
	kv_str(b, "kind", kind, &f);
	kv_str(b, "message", msg, &f);
	agent_buf_add(b, "}", 1);
}

int memjson_allocations(const struct agent_request *rq, struct agent_reply *r)
{
	size_t limit = 10;
	const char *l = agent_arg(rq, "limit");
	if (l) {
		char *end;
		unsigned long v = strtoul(l, &end, 10);
		if (!*l || *end || *l == '-' || v < 1 || v > 100)
			return agent_reply_text(r, 400, "limit must be an integer from 1 to 100\n");
		limit = v;
	}
	struct agent_heap_totals t;
	int have_totals = agent_heap_totals(&t) == 0;
	struct agent_site *sites = calloc(limit, sizeof *sites);
	struct leakwatch_report *w = malloc(sizeof *w);
	if (!sites || !w) {
		free(sites);
		free(w);
		return agent_reply_text(r, 503, "kiln agent: out of memory\n");
	}
	int nsites = agent_heap_sites(sites, limit);
	if (nsites < 0)
		nsites = 0;
	if (leakwatch_report(w) < 0)
		w->nleaks = 0;
	struct agent_proc p;
	agent_proc_read(&p);
	double bps = NAN, aps = NAN;
	leakwatch_rate(&bps, &aps);

	uint64_t cls[NCLASSES] = {0}, total = 0;
	if (have_totals)
		for (int i = 0; i < AGENT_SIZE_BUCKETS; i++) {
			cls[bucket_class(i)] += t.size_buckets[i];
			total += t.size_buckets[i];
		}
	/* efficiency: the share of what malloc holds that is live */
	double score = p.heap_held ? 100.0 * (double)p.heap_inuse / (double)p.heap_held : NAN;
	if (score > 100)
		score = 100;

	struct agent_buf b = {0};
	int f = 1;
	agent_buf_add(&b, "{", 1);
	kv_time(&b, "timestamp", wall_now(), &f);
	if (have_totals) {
		kv_u64(&b, "allocation_count", t.alloc_count, &f);
		kv_u64(&b, "allocated_bytes", t.alloc_bytes, &f);
		kv_u64(&b, "free_count", t.free_count, &f);
		kv_u64(&b, "sample_period_bytes", t.sample_period, &f);
		kv_str(&b, "counts", t.estimated ? "estimated" : "exact", &f);
	}
	kv_num(&b, "allocation_rate_bytes_per_second", bps, &f);
	kv_num(&b, "allocation_rate_per_second", aps, &f);

	key(&b, "top_allocators", &f);
	agent_buf_add(&b, "[", 1);
	uint64_t all_bytes = 0;
	for (int i = 0; i < nsites; i++)
		all_bytes += sites[i].alloc_bytes;
	for (int i = 0; i < nsites; i++) {
		int g = 1;
		agent_buf_puts(&b, i ? ",{" : "{");
		kv_str(&b, "site", sites[i].where, &g);
		kv_str(&b, "component", shown(sites[i].component), &g);
		kv_u64(&b, "alloc_bytes", sites[i].alloc_bytes, &g);
		kv_u64(&b, "alloc_objects", sites[i].alloc_objects, &g);
		kv_u64(&b, "inuse_bytes", sites[i].inuse_bytes, &g);
		kv_u64(&b, "inuse_objects", sites[i].inuse_objects, &g);
		agent_buf_add(&b, "}", 1);
	}
	agent_buf_add(&b, "]", 1);

	kv_num(&b, "efficiency_score", isfinite(score) ? floor(score + 0.5) : NAN, &f);
	key(&b, "efficiency", &f);
	int g = 1;
	agent_buf_add(&b, "{", 1);
	kv_u64(&b, "heap_inuse_bytes", p.heap_inuse, &g);
	kv_u64(&b, "heap_held_bytes", p.heap_held, &g);
	kv_str(&b, "definition",
	       "100 * live malloc bytes / bytes malloc holds from the system (glibc mallinfo2: "
	       "(uordblks + hblkhd) / (arena + hblkhd)); 100 means no free memory is kept inside malloc",
	       &g);
	agent_buf_add(&b, "}", 1);

	key(&b, "size_distribution", &f);
	agent_buf_add(&b, "{", 1);
	g = 1;
	for (int c = 0; c < NCLASSES; c++) {
		key(&b, class_names[c], &g);
		int h = 1;
		agent_buf_add(&b, "{", 1);
		kv_str(&b, "range", class_ranges[c], &h);
		kv_u64(&b, "count", cls[c], &h);
		kv_num(&b, "percent", total ? 100.0 * (double)cls[c] / (double)total : 0, &h);
		agent_buf_add(&b, "}", 1);
	}
	agent_buf_add(&b, "}", 1);

	key(&b, "recommendations", &f);
	agent_buf_add(&b, "[", 1);
	int first = 1;
	char msg[512];
	const char *top = nsites ? sites[0].where : NULL;
	double tiny_pct = total ? 100.0 * (double)cls[C_TINY] / (double)total : 0;
	if (total >= 1000 && tiny_pct >= 50 && (!isfinite(aps) || aps >= 10000)) {
		snprintf(msg, sizeof msg,
			 "%.0f%% of allocations are under 1 KiB%s%.0f%s: pool or arena-allocate small objects%s%s",
			 tiny_pct, isfinite(aps) ? " (" : "", isfinite(aps) ? aps : 0, isfinite(aps) ? "/s)" : "",
			 top ? ", starting with " : "", top ? top : "");
		recommend(&b, &first, "pool-small-allocations", msg);
	}
	if (cls[C_HUGE]) {
		snprintf(msg, sizeof msg,
			 "%" PRIu64 " allocations above 16 MiB: stream or chunk large data instead of holding it whole",
			 cls[C_HUGE]);
		recommend(&b, &first, "stream-huge-allocations", msg);
	}
	if (isfinite(score) && score < 50 && p.heap_held >= 64u << 20) {
		snprintf(msg, sizeof msg,
			 "malloc holds %.0f MB but only %.0f MB is live (efficiency %.0f): fragmentation; try "
			 "malloc_trim(0) after bursts, MALLOC_ARENA_MAX, or keep long-lived objects apart from "
			 "short-lived ones",
			 (double)p.heap_held / MB, (double)p.heap_inuse / MB, score);
		recommend(&b, &first, "fragmentation", msg);
	}
	for (size_t i = 0; i < w->ncomponents; i++) {
		const struct leakwatch_component *c = &w->comp[i];
		if (!c->leak)
			continue;
		snprintf(msg, sizeof msg,
			 "component %s grows steadily (%.1f MB/hour, %.1f MB live): look for a missing free or an "
			 "unbounded cache",
			 shown(c->name), c->bytes_per_s * 3600 / MB, (double)c->inuse_bytes / MB);
		recommend(&b, &first, "possible-leak", msg);
	}
	for (int i = 0; i < nsites; i++) {
		const struct agent_site *s = &sites[i];
		uint64_t keep = s->inuse_objects ? s->inuse_objects : 1;
		if (s->alloc_objects >= 1000 && s->alloc_objects / keep >= 100 && all_bytes &&
		    s->alloc_bytes * 10 >= all_bytes) {
			snprintf(msg, sizeof msg,
				 "%s allocates %" PRIu64 " objects and keeps %" PRIu64 ": mostly temporaries; "
				 "reuse a buffer or allocate on the stack",
				 s->where, s->alloc_objects, s->inuse_objects);
			recommend(&b, &first, "temporary-allocations", msg);
			break;
		}
	}
	agent_buf_puts(&b, "]}\n");
	free(sites);
	free(w);
	agent_reply_buf(r, &b, "application/json");
	return 0;
}
