/* heapprof: symbolizes a heap trace's stacks (its HT_MODULE records become
 * the mappings of one synthetic process) and turns the analysis into a
 * pprof heap profile with Go's sample types.
 * Invariant: each instruction pointer is looked up once; the tracker's own
 * frames (libkiln-heap.so) are dropped from the leaf end of every stack. */
#ifndef KILN_ANALYZE_HEAPPROF_H
#define KILN_ANALYZE_HEAPPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/heapstats.h"
#include "model/profile.h"

struct heapsym;

/* Returns a symbolizer loaded with h's modules, or NULL with *err set. */
struct heapsym *heapsym_new(const struct heapstats *h, int *err);
/* The same, keeping names as the symbol tables spell them (C++ mangled),
 * as memcheck's suppressions match them. */
struct heapsym *heapsym_new_raw(const struct heapstats *h, int *err);
void heapsym_free(struct heapsym *hs); /* accepts NULL */

struct heapframe {
	const char *name; /* function, "[module]" or "0x..."; never NULL */
	const char *file; /* NULL when unknown */
	int line;
	const char *module; /* the mapped file's path; NULL when unknown */
};

/* Fills up to max frames of stack_id, leaf first, inlined frames expanded,
 * the tracker's own frames dropped. Returns how many were written. The
 * strings live until heapsym_free(). */
size_t heapsym_stack(struct heapsym *hs, const struct heapstats *h, uint64_t stack_id,
		     struct heapframe *frames, size_t max);

/* Builds a pprof heap profile: alloc_objects/count, alloc_space/bytes,
 * inuse_objects/count, inuse_space/bytes, one sample per allocation stack;
 * "inuse" is the state at the peak, or at the end with inuse_at_exit.
 * out is initialised here; the caller releases it. Returns 0. */
int heapprof_build(const struct heapstats *h, struct heapsym *hs, bool inuse_at_exit,
		   struct profile *out);

#endif
