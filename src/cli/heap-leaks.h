/* heap-leaks: kiln heap's leak report: suppression files loaded (and their
 * errors printed), the loss records of --leak-check=full with their
 * --gen-suppressions blocks, the LEAK SUMMARY in memcheck's words, and
 * the leak part of the JSON report.
 * Invariant: this is the only code that decides which leak lines kiln
 * heap prints; counting lives in src/analyze/heapleaks. */
#ifndef KILN_CLI_HEAP_LEAKS_H
#define KILN_CLI_HEAP_LEAKS_H

#include <stdbool.h>
#include <stdio.h>

#include "analyze/heapleaks.h"
#include "base/strbuf.h"

struct heapleak_opts {
	bool full;          /* --leak-check=full: every loss record */
	unsigned kinds;     /* --show-leak-kinds: mask of 1 << HT_LEAK_* */
	bool gen_supp;      /* --gen-suppressions=all|yes */
	bool no_default;    /* --no-default-suppressions */
	const char **files; /* --suppressions FILE, in order */
	size_t nfiles;
};

/* Loads kiln's default rules (unless no_default) and every file into a new
 * *out. On a missing or malformed file prints "kiln: FILE:LINE: what" and
 * returns EXIT_FAIL (*out is then NULL); else EXIT_OK. */
int heapleak_load(const struct heapleak_opts *o, struct suppress **out);

/* Prints the loss records (with full) and the LEAK SUMMARY to f. raw is
 * as for heapleaks_compute (generated suppressions use its names). */
void heapleak_print(FILE *f, const struct heapleak_opts *o, struct heapsym *hs, struct heapsym **raw,
		    const struct heapstats *h, const struct heapleaks *l);

/* Appends "\"leaks\":{...}" (no comma) for the JSON report. */
void heapleak_json(struct strbuf *sb, const struct suppress *s, const struct heapstats *h,
		   const struct heapleaks *l);

#endif
