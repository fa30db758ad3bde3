/* selfshare: every function's self share of a CPU profile (the part of the
 * samples' value whose leaf frame it is), keyed by the frame name kiln's
 * folded stacks use, so two runs compare function by function (kiln check
 * --baseline). Invariant: the self values add up to total, and a function
 * the profile never shows as a leaf has no entry (its share is 0). */
#ifndef KILN_ANALYZE_SELFSHARE_H
#define KILN_ANALYZE_SELFSHARE_H

#include <stddef.h>
#include <stdint.h>

#include "model/profile.h"
#include "model/strtab.h"

struct selfshare {
	struct strtab names; /* function names; index 0 ("") unused */
	int64_t *self;       /* by name index */
	size_t self_cap;
	int64_t total;
};

void selfshare_init(struct selfshare *s);
void selfshare_release(struct selfshare *s);

/* Adds the leaf frame of every sample of p at its default sample type (the
 * one kiln report shows). Returns 0, or KILN_ERR_EMPTY for a profile
 * without sample types. */
int selfshare_add_profile(struct selfshare *s, const struct profile *p);

/* Returns name's self share in percent of the total (0 when absent or when
 * the total is 0). */
double selfshare_pct(const struct selfshare *s, const char *name);

/* The function whose share grew most from base to s (functions only in
 * base have shrunk). */
struct selfshare_growth {
	const char *name;     /* valid until s is released; NULL: s is empty */
	double before, after; /* percent */
};
void selfshare_worst_growth(const struct selfshare *s, const struct selfshare *base,
			    struct selfshare_growth *out);

#endif
