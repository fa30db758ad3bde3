/* runfigures: the headline figures kiln run puts in summary.json that are
 * not already a number of some other module: seconds in a profile, the
 * part of off-CPU time spent waiting for locks, the live heap's trend and
 * fragmentation at its peak.
 * Invariant: pure functions of their inputs; a figure that cannot be known
 * is returned as the documented "unknown" value, never guessed. */
#ifndef KILN_ANALYZE_RUNFIGURES_H
#define KILN_ANALYZE_RUNFIGURES_H

#include <stdbool.h>

#include "analyze/heapstats.h"
#include "model/profile.h"

/* True when a frame's name is a lock wait: futex waits (any frame with
 * "futex" in its name, which covers the kernel's and glibc's), glibc's
 * __lll_lock_wait, and the blocking pthread mutex, condition variable,
 * rwlock, barrier and semaphore calls. */
bool runfigures_is_lock_frame(const char *name, size_t len);

/* Sums p's values at value_index (nanoseconds) as seconds into *total_s,
 * and the part of samples whose stack has a lock frame into *lock_s (may
 * be NULL). Returns 0 or -EINVAL for a bad value_index. */
int runfigures_seconds(const struct profile *p, int value_index, double *total_s, double *lock_s);

/* The live heap's least-squares trend over the trace's time series, in
 * bytes per hour; 0 when the series has fewer than 2 points. */
double runfigures_heap_growth_bph(const struct heapstats *h);

/* (rss - live heap) / rss x 100 at the series point that holds the heap's
 * peak (the RSS then); -1 when the trace has no RSS samples by then. */
double runfigures_heap_frag_pct(const struct heapstats *h);

#endif
