/* folddiff: compare two aggregates of folded stacks (before A, after B), as
 * difffolded.pl and inferno-diff-folded do, and rank functions by how much
 * their self share changed.
 * Invariant: every result is a pure function of the two inputs and the
 * options, so output never varies by run; with sorted inputs it is sorted. */
#ifndef KILN_MODEL_FOLDDIFF_H
#define KILN_MODEL_FOLDDIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/strbuf.h"
#include "model/foldtab.h"

struct folddiff_options {
	bool normalize; /* scale A's counts so its total matches B's */
	bool strip_hex; /* rewrite "0x<hex digits>" as "0x..." before matching */
};

void folddiff_options_init(struct folddiff_options *o);

/* Appends s[0..len) to out with every "0x" followed by one or more hex
 * digits replaced by "0x..." (the rule both difffolded.pl -s and
 * inferno-diff-folded --strip-hex apply, anywhere in the stack). */
void folddiff_strip_hex(const char *s, size_t len, struct strbuf *out);

/* Adds count to stack[0..len) in t, stripping hex first if o says so.
 * scratch is a caller-owned buffer reused between calls. */
void folddiff_add(struct foldtab *t, const char *stack, size_t len, uint64_t count,
		  const struct folddiff_options *o, struct strbuf *scratch);

/* A's count as it is printed: with normalize and totals that differ,
 * truncate(count_a * total_b / total_a), as both reference tools do;
 * otherwise count_a unchanged. */
uint64_t folddiff_scale(uint64_t count_a, uint64_t total_a, uint64_t total_b, bool normalize);

/* Called once per stack in either table, with A's count already scaled:
 * A's and B's stacks merged, each side in its input order (so sorted when
 * both inputs are sorted). A non-zero return stops the walk. */
typedef int (*folddiff_visit_fn)(void *ctx, const char *stack, size_t len, uint64_t count_a,
				 uint64_t count_b);

/* Walks the union of a's and b's stacks. Returns 0 or what fn returned. */
int folddiff_each(const struct foldtab *a, const struct foldtab *b,
		  const struct folddiff_options *o, folddiff_visit_fn fn, void *ctx);

/* Writes "stack COUNT_A COUNT_B\n" for every stack, in folddiff_each() order.
 * Returns 0, or -EIO when out reports a write error. */
int folddiff_write(const struct foldtab *a, const struct foldtab *b,
		   const struct folddiff_options *o, FILE *out);

/* One function's self (leaf) samples in A and B. */
struct folddiff_row {
	const char *name; /* NUL-terminated; owned by the folddiff_top */
	size_t len;
	uint64_t self_a, self_b;
	double pct_a, pct_b; /* self share of its table's total, in percent */
	double delta;        /* pct_b - pct_a, in percentage points */
};

struct folddiff_top {
	struct folddiff_row *rows; /* sorted by |delta| desc, then name bytes */
	size_t n;
	uint64_t total_a, total_b;
	struct foldtab leaves_a, leaves_b; /* own the names */
};

/* Fills out with at most limit rows: the functions whose self share changed
 * most between a and b (limit 0 means all). The ranking is exact: it
 * compares cross-multiplied integer counts, not rounded percentages. A
 * function that is never a leaf has no row. Returns 0. Release out with
 * folddiff_top_release(); row names live until then. */
int folddiff_top(const struct foldtab *a, const struct foldtab *b, size_t limit,
		 struct folddiff_top *out);
void folddiff_top_release(struct folddiff_top *t);

#endif
