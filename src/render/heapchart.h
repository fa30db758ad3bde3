/* heapchart: heap over time as a standalone SVG, like massif-visualizer:
 * live heap as a filled area, RSS as a line, axes with units, a peak marker.
 * Invariant: the same points always give the same bytes; no scripts, no
 * external resources. */
#ifndef KILN_RENDER_HEAPCHART_H
#define KILN_RENDER_HEAPCHART_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct heapchart_point {
	uint64_t time; /* microseconds */
	uint64_t live; /* bytes */
	uint64_t rss;  /* bytes, 0 when unknown */
};

struct heapchart {
	const char *title;          /* NULL: "Heap over time" */
	const struct heapchart_point *points;
	size_t npoints;
	uint64_t end_time;          /* microseconds; the x axis' end */
	uint64_t peak_time, peak_bytes;
};

/* Writes the SVG. Returns 0 or -errno on a write error. */
int heapchart_write_svg(const struct heapchart *c, FILE *out);

#endif
