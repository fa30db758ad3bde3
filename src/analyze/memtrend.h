/* memtrend: a process's memory samples -> peak, least-squares growth rate,
 * pressure against its cgroup limit and MemAvailable, and a leak verdict.
 * Invariant: the verdict is a heuristic computed from the samples alone
 * (no timing, no state), so the same samples always give the same words;
 * a metric missing from the samples is reported missing, never as zero. */
#ifndef KILN_ANALYZE_MEMTREND_H
#define KILN_ANALYZE_MEMTREND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect/procmem.h"

/* Least squares y = slope * x + intercept over n points. Returns 0, or
 * -EINVAL when n < 2 or every x is the same (no slope). */
int memtrend_fit(const double *x, const double *y, size_t n, double *slope, double *intercept);

enum memtrend_verdict {
	MEMTREND_TOO_SHORT, /* fewer than 3 samples, or less than a second */
	MEMTREND_STABLE,    /* |growth| at most the threshold */
	MEMTREND_LEAK,      /* sustained growth above the threshold, still near its peak */
	MEMTREND_RELEASED,  /* grew above the threshold but gave much of it back */
	MEMTREND_SHRINKING, /* falling faster than the threshold */
};
extern const char *const memtrend_verdict_names[]; /* "too short", "stable", "likely leak", ... */

struct memtrend_options {
	double leak_mb_per_hour; /* growth called a leak above this (default 10) */
	double near_peak_pct;    /* "still near its peak": current at least this % of peak (default 90) */
	double pressure_pct;     /* warn at this % of the cgroup limit or MemTotal (default 90) */
};
void memtrend_options_init(struct memtrend_options *o);

struct memtrend {
	size_t n;
	double span;                  /* seconds from the first sample to the last */
	uint64_t peak_rss, last_rss, first_rss;
	double peak_time;             /* seconds */
	uint64_t hwm;                 /* the kernel's VmHWM at the last sample, 0 when unknown */
	bool have_slope;
	double slope, intercept;      /* RSS bytes per second and at t = 0 */
	double mb_per_hour;           /* slope in MB (10^6 bytes) per hour */
	double current_pct_of_peak;
	bool have_heap_slope;
	double heap_mb_per_hour;
	bool have_cgroup;             /* usage known; limit may still be UINT64_MAX */
	uint64_t cg_usage, cg_limit, cg_peak_usage;
	double cg_pct;                /* last usage as % of the limit, when limited */
	double hours_to_limit;        /* at this growth, when the cgroup limit is reached; <0 never */
	bool have_mem;
	uint64_t mem_total, mem_available;
	double rss_pct_of_total;
	double hours_to_available;    /* at this growth, when MemAvailable is used up; <0 never */
	bool have_psi;
	double psi_some_max, psi_full_max; /* the highest avg10 seen */
	uint64_t minflt, majflt;      /* faults during sampling (last - first) */
	enum memtrend_verdict verdict;
	bool near_limit;              /* at or above pressure_pct of the cgroup limit */
	bool near_total;              /* RSS at or above pressure_pct of MemTotal, or MemAvailable low */
};

/* Analyses n samples in time order. Returns 0, or KILN_ERR_EMPTY when no
 * sample has an RSS. */
int memtrend_analyze(const struct procmem_sample *s, size_t n, const struct memtrend_options *o,
		     struct memtrend *out);

#endif
