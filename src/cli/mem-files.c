/* mem-files: kiln mem's CSV, JSON and SVG files (see mem-files.h).
 * Invariant: the CSV header and the JSON keys are one table, columns[]. */
#include "cli/mem-files.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "render/memchart.h"

#define HAS(s, m) (((s)->have & PROCMEM_BIT(m)) != 0)

/* ---- CSV and JSON ---- */

struct column {
	const char *name;
	enum procmem_metric m;
	size_t off;
	bool is_double;
};
#define COL(n, m, f) {n, m, offsetof(struct procmem_sample, f), false}
static const struct column columns[] = {
	COL("rss", PROCMEM_RSS, rss), COL("rss_anon", PROCMEM_ANON, rss_anon),
	COL("rss_file", PROCMEM_FILE, rss_file), COL("rss_shmem", PROCMEM_SHMEM, rss_shmem),
	COL("pss", PROCMEM_PSS, pss), COL("vss", PROCMEM_VSS, vss), COL("data", PROCMEM_DATA, data),
	COL("stack", PROCMEM_STACK, stack), COL("text", PROCMEM_TEXT, text), COL("libs", PROCMEM_LIBS, libs),
	COL("swap", PROCMEM_SWAP, swap), COL("heap", PROCMEM_HEAP, heap), COL("minflt", PROCMEM_MINFLT, minflt),
	COL("majflt", PROCMEM_MAJFLT, majflt), COL("threads", PROCMEM_THREADS, threads),
	COL("cgroup_usage", PROCMEM_CG_USAGE, cg_usage), COL("cgroup_limit", PROCMEM_CG_LIMIT, cg_limit),
	{"psi_some_avg10", PROCMEM_PSI_SOME, offsetof(struct procmem_sample, psi_some), true},
	{"psi_full_avg10", PROCMEM_PSI_FULL, offsetof(struct procmem_sample, psi_full), true},
	COL("mem_available", PROCMEM_MEM_AVAILABLE, mem_available),
};
#define NCOLUMNS (sizeof(columns) / sizeof(columns[0]))

/* Appends column c of s; "" (CSV) or null (JSON) when missing, "max" or
 * null for no cgroup limit. */
static void add_value(struct strbuf *sb, const struct procmem_sample *s, const struct column *c, bool json)
{
	if (!(s->have & PROCMEM_BIT(c->m))) {
		if (json)
			strbuf_adds(sb, "null");
		return;
	}
	if (c->is_double) {
		double d;
		memcpy(&d, (const char *)s + c->off, sizeof(d));
		strbuf_addf(sb, "%.2f", d);
		return;
	}
	uint64_t v;
	memcpy(&v, (const char *)s + c->off, sizeof(v));
	if (c->m == PROCMEM_CG_LIMIT && v == UINT64_MAX)
		strbuf_adds(sb, json ? "null" : "max");
	else
		strbuf_addf(sb, "%llu", (unsigned long long)v);
}

int mem_write_csv(const char *path, const struct procmem_sample *s, size_t n)
{
	struct outfile out;
	if (outfile_open(&out, path))
		return EXIT_FAIL;
	struct strbuf sb = STRBUF_INIT;
	strbuf_adds(&sb, "time_s");
	for (size_t c = 0; c < NCOLUMNS; c++)
		strbuf_addf(&sb, ",%s", columns[c].name);
	strbuf_addch(&sb, '\n');
	for (size_t i = 0; i < n; i++) {
		strbuf_addf(&sb, "%.3f", s[i].t);
		for (size_t c = 0; c < NCOLUMNS; c++) {
			strbuf_addch(&sb, ',');
			add_value(&sb, &s[i], &columns[c], false);
		}
		strbuf_addch(&sb, '\n');
	}
	fwrite(sb.buf, 1, sb.len, out.fp);
	strbuf_release(&sb);
	return outfile_close(&out, true);
}



static void json_double(struct strbuf *sb, const char *key, bool have, double v)
{
	strbuf_addf(sb, ",\"%s\":", key);
	if (have && isfinite(v))
		strbuf_addf(sb, "%.3f", v);
	else
		strbuf_adds(sb, "null");
}

int mem_write_json(const char *path, const struct procmem_sample *s, size_t n, const struct mem_run_info *ri,
		      const struct memtrend *mt, bool have_trend)
{
	struct outfile out;
	if (outfile_open(&out, path))
		return EXIT_FAIL;
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "{\"pid\":%d,\"target\":\"", (int)ri->pid);
	strbuf_add_json(&sb, ri->target, strlen(ri->target));
	strbuf_addf(&sb, "\",\"interval_s\":%.3f,\"ended\":\"", ri->interval);
	strbuf_add_json(&sb, ri->why, strlen(ri->why));
	strbuf_adds(&sb, "\",\"samples\":[");
	for (size_t i = 0; i < n; i++) {
		strbuf_addf(&sb, "%s\n{\"t\":%.3f", i ? "," : "", s[i].t);
		for (size_t c = 0; c < NCOLUMNS; c++) {
			strbuf_addf(&sb, ",\"%s\":", columns[c].name);
			add_value(&sb, &s[i], &columns[c], true);
		}
		strbuf_addch(&sb, '}');
	}
	strbuf_adds(&sb, "],\n\"summary\":{\"samples\":");
	strbuf_addf(&sb, "%zu", n);
	if (have_trend) {
		strbuf_addf(&sb, ",\"peak_rss\":%llu", (unsigned long long)mt->peak_rss);
		json_double(&sb, "peak_time_s", true, mt->peak_time);
		strbuf_addf(&sb, ",\"last_rss\":%llu", (unsigned long long)mt->last_rss);
		if (mt->hwm)
			strbuf_addf(&sb, ",\"vm_hwm\":%llu", (unsigned long long)mt->hwm);
		json_double(&sb, "current_pct_of_peak", true, mt->current_pct_of_peak);
		json_double(&sb, "growth_mb_per_hour", mt->have_slope, mt->mb_per_hour);
		json_double(&sb, "heap_growth_mb_per_hour", mt->have_heap_slope, mt->heap_mb_per_hour);
		json_double(&sb, "cgroup_pct_of_limit", mt->have_cgroup && mt->cg_limit != UINT64_MAX, mt->cg_pct);
		json_double(&sb, "hours_to_cgroup_limit", mt->hours_to_limit >= 0, mt->hours_to_limit);
		json_double(&sb, "psi_some_avg10_max", mt->have_psi, mt->psi_some_max);
		strbuf_addf(&sb, ",\"verdict\":\"%s\",\"heuristic\":true", memtrend_verdict_names[mt->verdict]);
	}
	strbuf_adds(&sb, "}}\n");
	fwrite(sb.buf, 1, sb.len, out.fp);
	strbuf_release(&sb);
	return outfile_close(&out, true);
}

int mem_write_svg(const char *path, const struct procmem_sample *s, size_t n, const struct mem_run_info *ri,
		     const struct memtrend *mt)
{
	double *t = xcalloc(n ? n : 1, sizeof(*t));
	double *y[3];
	static const enum procmem_metric ms[3] = {PROCMEM_RSS, PROCMEM_ANON, PROCMEM_HEAP};
	for (int k = 0; k < 3; k++)
		y[k] = xcalloc(n ? n : 1, sizeof(double));
	for (size_t i = 0; i < n; i++) {
		t[i] = s[i].t;
		uint64_t v[3] = {s[i].rss, s[i].rss_anon, s[i].heap};
		for (int k = 0; k < 3; k++)
			y[k][i] = HAS(&s[i], ms[k]) ? (double)v[k] : NAN;
	}
	struct memchart_series se[3] = {
		{"RSS", "#1f77b4", y[0]}, {"anon", "#ff7f0e", y[1]}, {"heap ([heap] + anonymous)", "#2ca02c", y[2]},
	};
	char title[256], sub[256];
	snprintf(title, sizeof(title), "kiln mem: %s", ri->target);
	snprintf(sub, sizeof(sub), "growth %+.1f MB/hour; verdict (heuristic): %s", mt->mb_per_hour,
		 memtrend_verdict_names[mt->verdict]);
	struct memchart c = {
		.title = title, .subtitle = mt->have_slope ? sub : NULL, .t = t, .n = n, .series = se, .nseries = 3,
		.have_peak = true, .peak_t = mt->peak_time, .peak_y = (double)mt->peak_rss,
		.have_trend = mt->have_slope, .trend_slope = mt->slope, .trend_intercept = mt->intercept,
		.limit = mt->have_cgroup && mt->cg_limit != UINT64_MAX ? (double)mt->cg_limit : 0,
		.limit_name = "cgroup limit",
	};
	struct outfile out;
	int rc = outfile_open(&out, path);
	if (!rc) {
		int err = memchart_write_svg(&c, out.fp);
		if (err && err != -EIO)
			cli_error("cannot draw the chart: %s", kiln_strerror(err));
		rc = outfile_close(&out, err == 0 || err == -EIO);
	}
	for (int k = 0; k < 3; k++)
		free(y[k]);
	free(t);
	return rc;
}
