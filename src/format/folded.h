/* folded: the folded-stacks text format, "root;child;leaf COUNT" a line,
 * as written by stackcollapse-*.pl, inferno and kiln collapse, and its
 * differential form "stack COUNT1 COUNT2" (difffolded.pl).
 * Invariant: parsing never allocates; a parsed stack points into the line. */
#ifndef KILN_FORMAT_FOLDED_H
#define KILN_FORMAT_FOLDED_H

#include <stddef.h>
#include <stdint.h>

#include "base/linereader.h"

struct folded_line {
	const char *stack; /* frames joined by ';', root first; not NUL-terminated */
	size_t len;
	double count;      /* the only count, or the first of two */
	double count2;     /* the second count of a differential line */
	int ncounts;       /* 1 or 2 */
};

/* Parses one line (without its '\n'; a trailing '\r' is ignored). Returns 0,
 * 1 for a line to skip silently (blank), or KILN_ERR_FORMAT when the line
 * does not end in a count or its stack is empty. */
int folded_parse_line(const char *line, size_t len, struct folded_line *out);

/* Called for each parsed line; a non-zero return stops reading and is
 * returned by folded_read(). */
typedef int (*folded_sink_fn)(void *ctx, const struct folded_line *fl);

struct folded_stats {
	unsigned long lines;         /* lines read */
	unsigned long bad_lines;     /* lines that were not folded stacks */
	unsigned long first_bad_line; /* 1-based number of the first, or 0 */
	unsigned long long bytes;
};

/* Reads every line from lr and passes valid ones to sink. Invalid lines are
 * counted in stats and skipped, as flamegraph.pl does. Returns 0, a negative
 * read error, KILN_ERR_BINARY when the input holds NUL bytes, or what the
 * sink returned. */
int folded_read(struct linereader *lr, folded_sink_fn sink, void *ctx, struct folded_stats *stats);

/* Formats a count the way the folded writers do: integers without a
 * fraction, other values with up to 6 significant decimals trimmed.
 * Returns the length written into buf (at least 32 bytes). */
size_t folded_format_count(double v, char *buf);

#endif
