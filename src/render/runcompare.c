/* runcompare: two summaries side by side (see runcompare.h).
 * Invariant: pure functions of the two summaries; rows keep one order. */
#include "render/runcompare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "render/humanize.h"

static void row(struct runcompare_row *rows, size_t *n, const char *what, enum runcompare_unit unit, bool has_a,
		double a, bool has_b, double b)
{
	if (!has_a && !has_b)
		return;
	rows[(*n)++] = (struct runcompare_row){what, unit, has_a, has_b, has_a ? a : 0, has_b ? b : 0};
}

static double peak_rss(const struct runsummary *s)
{
	if (s->has_mem && s->mem.peak_rss)
		return (double)s->mem.peak_rss;
	return s->has_heap ? (double)s->heap.peak_rss : 0;
}

size_t runcompare_metrics(const struct runsummary *a, const struct runsummary *b, struct runcompare_row *rows)
{
	size_t n = 0;
	row(rows, &n, "duration", RUNCOMPARE_SECONDS, true, a->duration_s, true, b->duration_s);
	row(rows, &n, "CPU time", RUNCOMPARE_SECONDS, a->has_cpu, a->cpu.cpu_s, b->has_cpu, b->cpu.cpu_s);
	row(rows, &n, "off-CPU wait", RUNCOMPARE_PCT, a->has_offcpu, a->offcpu.wait_pct, b->has_offcpu,
	    b->offcpu.wait_pct);
	row(rows, &n, "lock wait", RUNCOMPARE_PCT, a->has_offcpu, a->offcpu.lock_wait_pct, b->has_offcpu,
	    b->offcpu.lock_wait_pct);
	row(rows, &n, "heap peak", RUNCOMPARE_BYTES, a->has_heap, (double)a->heap.peak_bytes, b->has_heap,
	    (double)b->heap.peak_bytes);
	row(rows, &n, "heap at exit", RUNCOMPARE_BYTES, a->has_heap, (double)a->heap.final_bytes, b->has_heap,
	    (double)b->heap.final_bytes);
	row(rows, &n, "allocated", RUNCOMPARE_BYTES, a->has_heap, (double)a->heap.allocated_bytes, b->has_heap,
	    (double)b->heap.allocated_bytes);
	row(rows, &n, "allocations", RUNCOMPARE_COUNT, a->has_heap, (double)a->heap.allocations, b->has_heap,
	    (double)b->heap.allocations);
	row(rows, &n, "allocation rate", RUNCOMPARE_BYTES_PER_S, a->has_heap, a->heap.alloc_rate_bps, b->has_heap,
	    b->heap.alloc_rate_bps);
	row(rows, &n, "definitely lost", RUNCOMPARE_BYTES, a->has_heap, (double)a->heap.leaks.definite_bytes,
	    b->has_heap, (double)b->heap.leaks.definite_bytes);
	row(rows, &n, "indirectly lost", RUNCOMPARE_BYTES, a->has_heap, (double)a->heap.leaks.indirect_bytes,
	    b->has_heap, (double)b->heap.leaks.indirect_bytes);
	row(rows, &n, "possibly lost", RUNCOMPARE_BYTES, a->has_heap, (double)a->heap.leaks.possible_bytes,
	    b->has_heap, (double)b->heap.leaks.possible_bytes);
	row(rows, &n, "peak RSS", RUNCOMPARE_BYTES, peak_rss(a) > 0, peak_rss(a), peak_rss(b) > 0, peak_rss(b));
	row(rows, &n, "RSS growth", RUNCOMPARE_MB_PER_HOUR, a->has_mem, a->mem.growth_mb_per_hour, b->has_mem,
	    b->mem.growth_mb_per_hour);
	return n;
}

char *runcompare_value(const struct runcompare_row *r, double v, char *buf, size_t cap)
{
	char tmp[HUMANIZE_MAX];
	switch (r->unit) {
	case RUNCOMPARE_SECONDS:
		return humanize_duration(v, buf, cap);
	case RUNCOMPARE_BYTES:
		return humanize_bytes(v, buf, cap);
	case RUNCOMPARE_BYTES_PER_S:
		snprintf(buf, cap, "%s/s", humanize_bytes(v, tmp, sizeof(tmp)));
		return buf;
	case RUNCOMPARE_MB_PER_HOUR:
		snprintf(buf, cap, "%.1f MB/h", v);
		return buf;
	case RUNCOMPARE_PCT:
		snprintf(buf, cap, "%.1f%%", v);
		return buf;
	case RUNCOMPARE_COUNT:
		return humanize_count(v > 0 ? (uint64_t)llround(v) : 0, buf, cap);
	}
	snprintf(buf, cap, "%g", v);
	return buf;
}

char *runcompare_delta(const struct runcompare_row *r, char *buf, size_t cap)
{
	char tmp[HUMANIZE_MAX];
	if (!r->has_a || !r->has_b) {
		snprintf(buf, cap, "%s", "");
		return buf;
	}
	double d = r->b - r->a;
	if (r->unit == RUNCOMPARE_PCT) {
		snprintf(buf, cap, "%+.1f pts", d);
		if (!strcmp(buf, "-0.0 pts"))
			buf[0] = '+';
		return buf;
	}
	if (r->unit == RUNCOMPARE_COUNT) {
		snprintf(buf, cap, "%s%s", d < 0 ? "-" : "+", humanize_count((uint64_t)llround(fabs(d)), tmp, sizeof(tmp)));
		return buf;
	}
	if (r->unit == RUNCOMPARE_MB_PER_HOUR) {
		snprintf(buf, cap, "%+.1f MB/h", d);
		return buf;
	}
	runcompare_value(r, fabs(d), tmp, sizeof(tmp));
	snprintf(buf, cap, "%s%s", d < 0 ? "-" : "+", tmp);
	return buf;
}

char *runcompare_change(const struct runcompare_row *r, char *buf, size_t cap)
{
	if (!r->has_a || !r->has_b)
		snprintf(buf, cap, "%s", "");
	else if (r->a == 0)
		snprintf(buf, cap, "%s", r->b == 0 ? "" : "new");
	else
		snprintf(buf, cap, "%+.1f%%", 100 * (r->b - r->a) / fabs(r->a));
	return buf;
}

static int by_delta(const void *x, const void *y)
{
	const struct folddiff_row *p = x, *q = y;
	double dp = fabs(p->delta), dq = fabs(q->delta);
	if (dp != dq)
		return dp > dq ? -1 : 1;
	return strcmp(p->name, q->name);
}

/* An entry of either top list: its place i in a's list then b's. */
struct share_entry {
	const char *name;
	size_t i;
};

static int by_name_then_place(const void *x, const void *y)
{
	const struct share_entry *p = x, *q = y;
	int c = strcmp(p->name, q->name);
	return c ? c : p->i < q->i ? -1 : p->i > q->i;
}

size_t runcompare_shares(const struct runsummary *a, const struct runsummary *b, struct folddiff_row **out)
{
	size_t na = a->has_cpu ? a->cpu.ntop : 0, nb = b->has_cpu ? b->cpu.ntop : 0, n = 0;
	struct folddiff_row *rows = xcalloc(na + nb + 1, sizeof(*rows));
	/* sorted by name, so pairing is n log n however long the lists are;
	 * within a name by place, so a repeated name's last share wins */
	struct share_entry *e = xcalloc(na + nb + 1, sizeof(*e));
	size_t ne = 0;
	for (size_t i = 0; i < na + nb; i++) {
		const struct runsummary_func *f = i < na ? &a->cpu.top[i] : &b->cpu.top[i - na];
		if (f->name)
			e[ne++] = (struct share_entry){f->name, i};
	}
	qsort(e, ne, sizeof(*e), by_name_then_place);
	for (size_t k = 0; k < ne; k++) {
		if (!n || strcmp(rows[n - 1].name, e[k].name)) {
			rows[n].name = e[k].name;
			rows[n].len = strlen(e[k].name);
			n++;
		}
		struct folddiff_row *r = &rows[n - 1];
		if (e[k].i < na)
			r->pct_a = a->cpu.top[e[k].i].self_pct;
		else
			r->pct_b = b->cpu.top[e[k].i - na].self_pct;
	}
	free(e);
	for (size_t i = 0; i < n; i++)
		rows[i].delta = rows[i].pct_b - rows[i].pct_a;
	qsort(rows, n, sizeof(*rows), by_delta);
	*out = rows;
	return n;
}
