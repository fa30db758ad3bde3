/* selfshare: per-function self totals from a profile's folded stacks.
 * Invariant: a frame's name is what profile_for_each_stack() prints, so the
 * shares agree with kiln report's self column and kiln diff --top. */
#include "analyze/selfshare.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

void selfshare_init(struct selfshare *s)
{
	memset(s, 0, sizeof(*s));
	strtab_init(&s->names);
}

void selfshare_release(struct selfshare *s)
{
	if (!s)
		return;
	strtab_release(&s->names);
	free(s->self);
	memset(s, 0, sizeof(*s));
}

static int add_stack(void *ctx, const char *stack, size_t len, int64_t value)
{
	struct selfshare *s = ctx;
	const char *leaf = stack;
	for (size_t i = len; i > 0; i--)
		if (stack[i - 1] == ';') {
			leaf = stack + i;
			break;
		}
	uint32_t id = strtab_intern(&s->names, leaf, len - (size_t)(leaf - stack));
	if (id >= s->self_cap) {
		size_t old = s->self_cap;
		s->self = xgrow(s->self, sizeof(*s->self), (size_t)id + 1, &s->self_cap);
		memset(s->self + old, 0, (s->self_cap - old) * sizeof(*s->self));
	}
	/* saturating, as kiln report sums */
	s->self[id] = value > INT64_MAX - s->self[id] ? INT64_MAX : s->self[id] + value;
	s->total = value > INT64_MAX - s->total ? INT64_MAX : s->total + value;
	return 0;
}

int selfshare_add_profile(struct selfshare *s, const struct profile *p)
{
	int vi = profile_default_value_index(p);
	if (vi < 0)
		return KILN_ERR_EMPTY;
	return profile_for_each_stack(p, vi, add_stack, s);
}

static double pct_of(const struct selfshare *s, uint32_t id)
{
	if (s->total <= 0 || id >= s->self_cap)
		return 0;
	return 100.0 * (double)s->self[id] / (double)s->total;
}

double selfshare_pct(const struct selfshare *s, const char *name)
{
	uint32_t id;
	if (!strtab_find(&s->names, name, strlen(name), &id))
		return 0;
	return pct_of(s, id);
}

void selfshare_worst_growth(const struct selfshare *s, const struct selfshare *base,
			    struct selfshare_growth *out)
{
	memset(out, 0, sizeof(*out));
	for (uint32_t id = 1; id < strtab_count(&s->names); id++) {
		const char *name = strtab_get(&s->names, id);
		double after = pct_of(s, id), before = selfshare_pct(base, name);
		/* ties go to the name first in byte order, so the report is stable */
		if (!out->name || after - before > out->after - out->before ||
		    (after - before == out->after - out->before && strcmp(name, out->name) < 0)) {
			out->name = name;
			out->before = before;
			out->after = after;
		}
	}
}
