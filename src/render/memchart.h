/* memchart: memory over time as a standalone SVG line chart: one line per
 * series (RSS, anon, heap...), time and byte axes with round ticks, the
 * peak marked, a dashed trend line and an optional limit line.
 * Invariant: the same input always gives the same bytes; the SVG has no
 * scripts and no external resources; NaN values are gaps, not zeros. */
#ifndef KILN_RENDER_MEMCHART_H
#define KILN_RENDER_MEMCHART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct memchart_series {
	const char *name;  /* legend text */
	const char *color; /* an SVG colour, e.g. "#d62728" */
	const double *y;   /* bytes, one per time; NaN where unknown */
};

struct memchart {
	const char *title;       /* NULL: "Memory over time" */
	const char *subtitle;    /* may be NULL */
	const double *t;         /* seconds, ascending */
	size_t n;
	const struct memchart_series *series;
	size_t nseries;
	bool have_peak;
	double peak_t, peak_y;   /* marked with a dot and its value */
	bool have_trend;
	double trend_slope, trend_intercept; /* bytes/s and bytes at t = 0 */
	double limit;            /* a horizontal limit line in bytes; 0 for none */
	const char *limit_name;  /* its label */
};

/* Writes the SVG to out. Returns 0, KILN_ERR_EMPTY when there are no
 * points, or -EIO when a write failed. */
int memchart_write_svg(const struct memchart *c, FILE *out);

#endif
