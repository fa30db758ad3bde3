/* flame: folded stacks -> one self-contained interactive flame graph SVG,
 * with flamegraph.pl's options and meaning.
 * Invariant: stacks are merged into a call tree as they arrive, each frame
 * name interned once, so memory grows with distinct frames, never with the
 * input; the same stacks and options always give the same bytes. */
#ifndef KILN_RENDER_FLAME_H
#define KILN_RENDER_FLAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "render/palette.h"

struct flame_options {
	const char *title;     /* NULL: "Flame Graph", "Icicle Graph" (--inverted)
				  or "Flame Chart" (--flamechart) */
	const char *subtitle;  /* NULL or "": none */
	const char *countname; /* NULL: "samples" */
	const char *nametype;  /* NULL: "Function:" */
	const char *notes;     /* NULL: none; written in an XML comment */
	const char *fonttype;  /* NULL: "Verdana" */
	int width;             /* image width in pixels; 0: 1200 */
	int frame_height;      /* --height, pixels per frame; 0: 16 */
	double fontsize;       /* 0: 12 */
	double fontwidth;      /* average glyph width / fontsize; 0: 0.59 */
	double minwidth;       /* omit frames narrower than this many pixels, or
				  percent of the total with minwidth_percent;
				  0: 0.1 pixels; negative: draw every frame */
	bool minwidth_percent;
	int colors;            /* enum palette_kind; 0 (hot) is the default */
	bool hash;             /* --hash: colours from the name's hash vector */
	bool reverse;          /* --reverse: leaf becomes root */
	bool inverted;         /* --inverted: icicle graph, root at the top */
	bool flamechart;       /* keep input order, merge only adjacent frames */
	bool negate;           /* swap differential red and blue */
	double factor;         /* scales the counts shown (not widths); 0: 1 */
};

/* Sets every option to flamegraph.pl's default (the same as zeroing). */
void flame_options_init(struct flame_options *o);

/* Parses a --minwidth value, "N" pixels or "N%", into o. Returns 0 or
 * KILN_ERR_FORMAT, leaving o unchanged. */
int flame_parse_minwidth(struct flame_options *o, const char *s);

struct flame;

/* Returns a new, empty graph (never NULL; aborts when out of memory). The
 * options are copied, strings included, so o need not outlive it. */
struct flame *flame_new(const struct flame_options *o);

/* Adds one folded stack (frames joined by ';', root first, not
 * NUL-terminated). ncounts is 1, or 2 for a differential line (count =
 * before, count2 = after; the width comes from count2). Returns 0, or
 * KILN_ERR_FORMAT (graph unchanged) for an empty stack, a count that is
 * negative or not finite, or a total that would overflow. */
int flame_add(struct flame *f, const char *stack, size_t len, double count, double count2, int ncounts);

/* Writes the SVG. With nothing to draw (no stacks, or all counts zero) it
 * writes flamegraph.pl's "ERROR: No valid input provided" SVG and returns
 * KILN_ERR_EMPTY. Returns 0, KILN_ERR_EMPTY, or -errno on a write error. The
 * graph stays valid and may be written again. */
int flame_write_svg(struct flame *f, FILE *out);

/* Counters for tests and diagnostics. */
struct flame_stats {
	size_t nodes;        /* merged frames in the tree, the root included */
	size_t names;        /* distinct frame names */
	size_t drawn;        /* frames drawn by the last flame_write_svg */
	double total;        /* sum of the counts (count2 for differentials) */
	bool differential;
};
void flame_get_stats(const struct flame *f, struct flame_stats *st);

void flame_free(struct flame *f); /* accepts NULL */

#endif
