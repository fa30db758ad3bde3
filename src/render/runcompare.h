/* runcompare: two runs' summaries side by side, as kiln diff prints and
 * draws them: the headline figures (heap peak, leaks, peak RSS, allocation
 * rate, CPU and off-CPU time...) before and after, with the change, and the
 * functions' self shares from the summaries' top lists.
 * Invariant: a row exists when either run measured the figure; a side
 * that did not is flagged, never shown as zero. */
#ifndef KILN_RENDER_RUNCOMPARE_H
#define KILN_RENDER_RUNCOMPARE_H

#include <stdbool.h>
#include <stddef.h>

#include "format/runsummary.h"
#include "model/folddiff.h"

enum runcompare_unit {
	RUNCOMPARE_SECONDS,
	RUNCOMPARE_BYTES,
	RUNCOMPARE_BYTES_PER_S,
	RUNCOMPARE_MB_PER_HOUR,
	RUNCOMPARE_PCT, /* a share: its change is in percentage points */
	RUNCOMPARE_COUNT,
};

struct runcompare_row {
	const char *what; /* "heap peak", ... (static) */
	enum runcompare_unit unit;
	bool has_a, has_b;
	double a, b;
};

/* At most this many rows come from runcompare_metrics(). */
#define RUNCOMPARE_MAX 16

/* Fills rows (RUNCOMPARE_MAX of them) with the figures either run has, in
 * a fixed order. Returns the number of rows. */
size_t runcompare_metrics(const struct runsummary *a, const struct runsummary *b, struct runcompare_row *rows);

/* v in the row's unit, as people read it ("1.50 MiB", "12.3%"). */
char *runcompare_value(const struct runcompare_row *r, double v, char *buf, size_t cap);
/* b - a with its sign ("+1.50 MiB", "-2.3 pts", "+0 B"); "" unless both
 * sides have the figure. */
char *runcompare_delta(const struct runcompare_row *r, char *buf, size_t cap);
/* The relative change (b - a) / a in percent ("+12.5%", "-100%"); "" when
 * a side is missing or a is 0 (then "new" when b is not). */
char *runcompare_change(const struct runcompare_row *r, char *buf, size_t cap);

/* The functions of a's and b's summaries' CPU top lists with their self
 * shares (a function missing from one list counts 0 there), sorted by
 * |delta| then name, as folddiff_rows whose names point into a and b.
 * *rows is malloc'd (free() it); returns the count. */
size_t runcompare_shares(const struct runsummary *a, const struct runsummary *b, struct folddiff_row **rows);

#endif
