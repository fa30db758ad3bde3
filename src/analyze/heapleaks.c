/* heapleaks: per-site leak counts -> totals by kind, minus suppressions.
 * Invariant: a site's stack is symbolized once, and only when the site
 * left blocks at exit and there are rules to match. */
#include "analyze/heapleaks.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

#define MAX_LEAK_FRAMES 512

uint64_t heapleaks_site_count(const struct heapleaks *l, const struct heapstats *h, const struct heapsite *s,
			      int kind)
{
	if (l->classified && h->have_leaks)
		return s->leak_count[kind];
	return kind == HT_LEAK_DEFINITELY ? s->live_count : 0;
}

uint64_t heapleaks_site_bytes(const struct heapleaks *l, const struct heapstats *h, const struct heapsite *s,
			      int kind)
{
	if (l->classified && h->have_leaks)
		return s->leak_bytes[kind];
	return kind == HT_LEAK_DEFINITELY ? s->live_bytes : 0;
}

/* A heapsym name that only stands in for an unknown function. */
static bool placeholder(const char *name)
{
	return !name || name[0] == '[' || !strncmp(name, "0x", 2);
}

/* A name demangling changed: C++ and Rust names have these, C names not. */
static bool demangled(const char *name)
{
	return name && strpbrk(name, ":(<> ") != NULL;
}

size_t heapleaks_frames(struct heapsym *shown, struct heapsym **raw, const struct heapstats *h, uint64_t stack_id,
			struct suppress_frame *out, size_t max)
{
	if (!shown)
		return 0;
	struct heapframe *a = xmalloc(2 * max * sizeof(*a)), *b = a + max;
	size_t n = heapsym_stack(shown, h, stack_id, a, max), nb = 0;
	bool need_raw = false;
	for (size_t i = 0; i < n && !need_raw; i++)
		need_raw = demangled(a[i].name);
	if (need_raw && raw && !*raw) {
		int err;
		*raw = heapsym_new_raw(h, &err);
	}
	if (need_raw && raw && *raw)
		nb = heapsym_stack(*raw, h, stack_id, b, max);
	/* both expand the same inlined frames; only the names differ */
	for (size_t i = 0; i < n; i++) {
		const struct heapframe *s = &a[i], *r = i < nb ? &b[i] : &a[i];
		out[i] = (struct suppress_frame){
			placeholder(r->name) ? NULL : r->name,
			placeholder(s->name) ? NULL : s->name,
			s->module,
			s->file,
			s->line,
		};
	}
	free(a);
	return n;
}

void heapleaks_compute(struct heapleaks *l, const struct heapstats *h, const struct suppress *supp,
		       struct heapsym *shown, struct heapsym **raw)
{
	memset(l, 0, sizeof(*l));
	l->classified = h->have_leaks || h->live_count == 0;
	l->site_supp = xcalloc(h->nsites + 1, 1);
	size_t nrules = suppress_count(supp);
	unsigned kinds = suppress_kinds(supp); /* stacks of other kinds are not symbolized */
	l->use = xcalloc(nrules + 1, sizeof(*l->use));
	struct suppress_frame *fr = nrules ? xmalloc(MAX_LEAK_FRAMES * sizeof(*fr)) : NULL;
	for (size_t i = 0; i < h->nsites; i++) {
		const struct heapsite *s = &h->sites[i];
		size_t nf = 0;
		bool framed = false;
		for (int k = 0; k < 4; k++) {
			uint64_t c = heapleaks_site_count(l, h, s, k), b = heapleaks_site_bytes(l, h, s, k);
			if (!c)
				continue;
			long r = -1;
			if (kinds & (1u << k)) {
				if (!framed)
					nf = heapleaks_frames(shown, raw, h, s->stack_id, fr, MAX_LEAK_FRAMES);
				framed = true;
				r = suppress_match(supp, k, fr, nf);
			}
			if (r >= 0) {
				l->site_supp[i] |= (uint8_t)(1u << k);
				l->supp_count += c;
				l->supp_bytes += b;
				l->use[r].count += c;
				l->use[r].bytes += b;
			} else {
				l->count[k] += c;
				l->bytes[k] += b;
			}
		}
	}
	free(fr);
}

void heapleaks_release(struct heapleaks *l)
{
	if (!l)
		return;
	free(l->site_supp);
	free(l->use);
	memset(l, 0, sizeof(*l));
}
