/* heapleaks: the leak summary of an analysed heap trace: memcheck's four
 * kinds (or "not freed at exit" when the trace has no exit scan) summed
 * over the allocation stacks, less what suppressions match, which is
 * counted apart as "suppressed", with each rule's use.
 * Invariant: every block left at exit is counted exactly once: in its kind,
 * or as suppressed; a (stack, kind) pair is suppressed as a whole, as
 * memcheck suppresses a loss record. */
#ifndef KILN_ANALYZE_HEAPLEAKS_H
#define KILN_ANALYZE_HEAPLEAKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/heapprof.h"
#include "analyze/heapstats.h"
#include "analyze/suppress.h"

struct heapleaks_use {
	uint64_t count, bytes; /* blocks and bytes a rule suppressed */
};

struct heapleaks {
	/* the trace has the tracker's exit scan, or nothing was left to
	 * classify; otherwise every block left is counted in
	 * [HT_LEAK_DEFINITELY] and reports say "not freed at exit" */
	bool classified;
	uint64_t count[4], bytes[4]; /* by HT_LEAK_* kind, not suppressed */
	uint64_t supp_count, supp_bytes;
	uint8_t *site_supp;          /* per site: mask of 1 << kind suppressed */
	struct heapleaks_use *use;   /* per rule of the suppressions */
};

/* The blocks a site left at exit, of kind, as counted by heapleaks. */
uint64_t heapleaks_site_count(const struct heapleaks *l, const struct heapstats *h, const struct heapsite *s,
			      int kind);
uint64_t heapleaks_site_bytes(const struct heapleaks *l, const struct heapstats *h, const struct heapsite *s,
			      int kind);

/* Fills l from h. supp may be NULL (nothing suppressed). Frames come from
 * shown (names as reports show them; NULL: no frames, so only rules that
 * match empty stacks apply); memcheck's rules match the names symbol
 * tables spell (C++ mangled), so for stacks with C++ or Rust frames *raw,
 * a symbolizer that does not demangle, is made the first time it is
 * needed (raw may be NULL: demangled names are used; the caller frees
 * *raw). l is released with heapleaks_release(). */
void heapleaks_compute(struct heapleaks *l, const struct heapstats *h, const struct suppress *supp,
		       struct heapsym *shown, struct heapsym **raw);
void heapleaks_release(struct heapleaks *l); /* accepts a zeroed struct */

/* Writes up to max frames of stack_id for the suppression matcher and
 * returns how many; raw as for heapleaks_compute. The strings live until
 * the symbolizers are freed. */
size_t heapleaks_frames(struct heapsym *shown, struct heapsym **raw, const struct heapstats *h, uint64_t stack_id,
			struct suppress_frame *out, size_t max);

#endif
