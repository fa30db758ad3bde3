/* report: top functions and call tree of a profile, and their text and JSON
 * renderings. Each location is turned into report frames once; samples are
 * then walked group by group with dense per-frame accumulators, a stamp per
 * frame making sure a frame recurring on one stack counts once to its total.
 * Invariant: nothing here prints except to the FILE* a caller passes in. */
#include "render/report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hash.h"
#include "base/strbuf.h"
#include "base/xalloc.h"

#define NO_FRAME UINT32_MAX
#define ID_LIMIT (UINT32_MAX - 1)

/* ---- a small map from a pair of 64-bit keys to a 32-bit value ---- */

struct pairmap_slot {
	uint64_t a, b;
	uint32_t v; /* UINT32_MAX: empty */
};

struct pairmap {
	struct pairmap_slot *slots;
	size_t cap, count; /* cap is 0 or a power of two */
};

static void pairmap_grow(struct pairmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 256;
	struct pairmap_slot *ns = xmalloc(ncap * sizeof(*ns));
	for (size_t i = 0; i < ncap; i++)
		ns[i].v = UINT32_MAX;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i].v == UINT32_MAX)
			continue;
		size_t j = hash_mix(m->slots[i].a ^ 0x9e3779b97f4a7c15ULL, m->slots[i].b ^ 0xc2b2ae3d27d4eb4fULL) & (ncap - 1);
		while (ns[j].v != UINT32_MAX)
			j = (j + 1) & (ncap - 1);
		ns[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
}

/* Returns the value slot of (a, b); a new slot holds UINT32_MAX, which the
 * caller must then replace. */
static uint32_t *pairmap_get(struct pairmap *m, uint64_t a, uint64_t b)
{
	if ((m->count + 1) * 2 > m->cap)
		pairmap_grow(m);
	size_t j = hash_mix(a ^ 0x9e3779b97f4a7c15ULL, b ^ 0xc2b2ae3d27d4eb4fULL) & (m->cap - 1);
	while (m->slots[j].v != UINT32_MAX) {
		if (m->slots[j].a == a && m->slots[j].b == b)
			return &m->slots[j].v;
		j = (j + 1) & (m->cap - 1);
	}
	m->slots[j].a = a;
	m->slots[j].b = b;
	m->count++;
	return &m->slots[j].v;
}

static void pairmap_release(struct pairmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/* ---- helpers ---- */

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t s;
	if (__builtin_add_overflow(a, b, &s))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return s;
}

double report_percent(int64_t v, int64_t total)
{
	return total ? 100.0 * (double)v / (double)total : 0.0;
}

const char *report_str(const struct report *r, uint32_t id)
{
	const char *s = strtab_get(&r->strs, id);
	return s ? s : "";
}

const char *report_thread_name(const struct report *r, const struct report_group *g)
{
	if (!g->thread)
		return r->by_thread ? "(unlabelled)" : "";
	return report_str(r, g->thread);
}

static uint32_t copy_str(struct report *r, const struct profile *p, uint32_t id)
{
	return strtab_intern(&r->strs, profile_str(p, id), strtab_len(&p->strs, id));
}

/* Compares two report strings byte by byte (they may hold NULs). */
static int str_cmp(const struct report *r, uint32_t a, uint32_t b)
{
	if (a == b)
		return 0;
	size_t la = strtab_len(&r->strs, a), lb = strtab_len(&r->strs, b);
	int c = memcmp(report_str(r, a), report_str(r, b), la < lb ? la : lb);
	return c ? c : (la > lb) - (la < lb);
}

static int frame_cmp(const struct report *r, uint32_t fa, uint32_t fb)
{
	if (fa == fb)
		return 0;
	const struct report_frame *a = &r->frames[fa], *b = &r->frames[fb];
	int c = str_cmp(r, a->name, b->name);
	if (!c)
		c = str_cmp(r, a->file, b->file);
	if (!c)
		c = (a->line > b->line) - (a->line < b->line);
	return c;
}

static int cmp_desc(int64_t a, int64_t b)
{
	return (a < b) - (a > b);
}

/* ---- building ---- */

struct builder {
	struct report *r;
	const struct profile *p;
	struct pairmap frame_map, node_map;
	uint32_t *loc_frames; /* frames of every location, innermost first */
	size_t nloc_frames, loc_frames_cap;
	size_t *loc_off;      /* by location index */
	uint32_t *loc_n;
	uint32_t unknown;     /* the frame of a sample without locations */
};

static int frame_intern(struct builder *b, uint32_t name, uint32_t file, int64_t line, uint32_t *out)
{
	struct report *r = b->r;
	uint32_t *slot = pairmap_get(&b->frame_map, ((uint64_t)name << 32) | file, (uint64_t)line);
	if (*slot == UINT32_MAX) {
		if (r->nframes >= ID_LIMIT) {
			b->frame_map.count--; /* keep the map consistent: undo */
			*slot = UINT32_MAX;
			return KILN_ERR_TOO_BIG;
		}
		r->frames = xgrow(r->frames, sizeof(*r->frames), r->nframes + 1, &r->frames_cap);
		r->frames[r->nframes] = (struct report_frame){name, file, line};
		*slot = (uint32_t)r->nframes++;
	}
	*out = *slot;
	return 0;
}

/* Names a location that has no named function the way folded output does:
 * its mapping's basename in brackets, else its address, else [unknown]. */
static uint32_t anonymous_name(struct report *r, const struct profile *p,
			       const struct profile_location *l)
{
	struct strbuf sb = STRBUF_INIT;
	const struct profile_mapping *m = profile_mapping(p, l->mapping_id);
	size_t flen = m ? strtab_len(&p->strs, m->filename) : 0;
	if (flen) {
		const char *fn = profile_str(p, m->filename);
		const char *slash = memrchr(fn, '/', flen);
		const char *base = slash ? slash + 1 : fn;
		size_t blen = flen - (size_t)(base - fn);
		if (blen >= 2 && base[0] == '[' && base[blen - 1] == ']') {
			strbuf_add(&sb, base, blen);
		} else if (blen) {
			strbuf_addch(&sb, '[');
			strbuf_add(&sb, base, blen);
			strbuf_addch(&sb, ']');
		}
	}
	if (!sb.len && l->address)
		strbuf_addf(&sb, "0x%" PRIx64, l->address);
	if (!sb.len)
		strbuf_adds(&sb, "[unknown]");
	uint32_t id = strtab_intern(&r->strs, sb.buf, sb.len);
	strbuf_release(&sb);
	return id;
}

static int add_loc_frame(struct builder *b, uint32_t name, uint32_t file, int64_t line)
{
	uint32_t f;
	int err = frame_intern(b, name, file, line, &f);
	if (err)
		return err;
	b->loc_frames = xgrow(b->loc_frames, sizeof(*b->loc_frames), b->nloc_frames + 1,
			      &b->loc_frames_cap);
	b->loc_frames[b->nloc_frames++] = f;
	return 0;
}

static int index_locations(struct builder *b)
{
	const struct profile *p = b->p;
	struct report *r = b->r;
	b->loc_off = xcalloc(p->nlocations + 1, sizeof(*b->loc_off));
	b->loc_n = xcalloc(p->nlocations + 1, sizeof(*b->loc_n));
	for (size_t i = 0; i < p->nlocations; i++) {
		const struct profile_location *l = &p->locations[i];
		const struct profile_line *lines = profile_location_lines(p, l);
		b->loc_off[i] = b->nloc_frames;
		for (size_t j = 0; j < l->nlines; j++) {
			const struct profile_function *f = profile_function(p, lines[j].function_id);
			uint32_t sid = f ? (f->name ? f->name : f->system_name) : 0;
			if (!sid)
				continue;
			uint32_t file = 0;
			int64_t line = 0;
			if (r->lines) {
				file = copy_str(r, p, f->filename);
				line = lines[j].line;
			}
			int err = add_loc_frame(b, copy_str(r, p, sid), file, line);
			if (err)
				return err;
		}
		if (b->nloc_frames == b->loc_off[i]) {
			int err = add_loc_frame(b, anonymous_name(r, p, l), 0, 0);
			if (err)
				return err;
		}
		b->loc_n[i] = (uint32_t)(b->nloc_frames - b->loc_off[i]);
	}
	return frame_intern(b, strtab_interns(&r->strs, "[unknown]"), 0, 0, &b->unknown);
}

/* The strtab id of sample i's thread name, 0 when it has no thread label. */
static uint32_t sample_thread(struct report *r, const struct profile *p, size_t i,
			      const uint32_t keys[3], const bool have[3])
{
	const struct profile_sample *s = &p->samples[i];
	const struct profile_label *best = NULL;
	int rank = 3;
	for (size_t k = 0; k < s->nlabels; k++) {
		const struct profile_label *lb = &p->labels[s->label_off + k];
		for (int j = 0; j < rank; j++)
			if (have[j] && lb->key == keys[j]) {
				best = lb;
				rank = j;
				break;
			}
	}
	if (!best)
		return 0;
	if (best->str)
		return copy_str(r, p, best->str);
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%" PRId64, best->num);
	return strtab_intern(&r->strs, buf, (size_t)n);
}

static int new_node(struct report *r, uint32_t frame, uint32_t parent, uint32_t *out)
{
	if (r->nnodes >= ID_LIMIT)
		return KILN_ERR_TOO_BIG;
	r->nodes = xgrow(r->nodes, sizeof(*r->nodes), r->nnodes + 1, &r->nodes_cap);
	uint32_t id = (uint32_t)r->nnodes++;
	r->nodes[id] = (struct report_node){.frame = frame, .parent = parent == NO_FRAME ? id : parent};
	*out = id;
	return 0;
}

static int child_node(struct builder *b, uint32_t parent, uint32_t frame, uint32_t *out)
{
	uint32_t *slot = pairmap_get(&b->node_map, parent, frame);
	if (*slot == UINT32_MAX) {
		uint32_t id;
		int err = new_node(b->r, frame, parent, &id);
		if (err) {
			b->node_map.count--;
			return err;
		}
		*slot = id;
	}
	*out = *slot;
	return 0;
}

static int row_cmp(const void *x, const void *y, void *ctx)
{
	const struct report *r = ctx;
	const struct report_row *a = x, *b = y;
	int c = 0;
	switch (r->sort) {
	case REPORT_SORT_SELF:
		c = cmp_desc(a->self, b->self);
		if (!c)
			c = cmp_desc(a->total, b->total);
		break;
	case REPORT_SORT_TOTAL:
		c = cmp_desc(a->total, b->total);
		if (!c)
			c = cmp_desc(a->self, b->self);
		break;
	case REPORT_SORT_NAME:
		break;
	}
	return c ? c : frame_cmp(r, a->frame, b->frame);
}

void report_sort_rows(struct report *r, enum report_sort sort)
{
	r->sort = sort;
	for (size_t g = 0; g < r->ngroups; g++)
		if (r->groups[g].nrows > 1)
			qsort_r(r->groups[g].rows, r->groups[g].nrows, sizeof(struct report_row), row_cmp, r);
}

static int child_cmp(const void *x, const void *y, void *ctx)
{
	const struct report *r = ctx;
	const struct report_node *a = &r->nodes[*(const uint32_t *)x];
	const struct report_node *b = &r->nodes[*(const uint32_t *)y];
	int c = cmp_desc(a->total, b->total);
	return c ? c : frame_cmp(r, a->frame, b->frame);
}

static void link_children(struct report *r)
{
	r->children = xcalloc(r->nnodes + 1, sizeof(*r->children));
	for (size_t i = 0; i < r->nnodes; i++)
		if (r->nodes[i].parent != i)
			r->nodes[r->nodes[i].parent].nchildren++;
	size_t off = 0;
	for (size_t i = 0; i < r->nnodes; i++) {
		r->nodes[i].child_off = off;
		off += r->nodes[i].nchildren;
		r->nodes[i].nchildren = 0;
	}
	for (size_t i = 0; i < r->nnodes; i++) {
		struct report_node *par = &r->nodes[r->nodes[i].parent];
		if (r->nodes[i].parent != i)
			r->children[par->child_off + par->nchildren++] = (uint32_t)i;
	}
	r->nchildren = off;
	for (size_t i = 0; i < r->nnodes; i++)
		if (r->nodes[i].nchildren > 1)
			qsort_r(r->children + r->nodes[i].child_off, r->nodes[i].nchildren,
				sizeof(*r->children), child_cmp, r);
}

static int group_cmp(const void *x, const void *y, void *ctx)
{
	const struct report *r = ctx;
	const struct report_group *a = x, *b = y;
	int c = cmp_desc(a->total, b->total);
	if (!c)
		c = (a->thread == 0) - (b->thread == 0); /* unlabelled last */
	return c ? c : str_cmp(r, a->thread, b->thread);
}

/* Finds the value index of a samples/count type, or -1. */
static int samples_index(const struct profile *p)
{
	for (size_t i = 0; i < p->nsample_types; i++)
		if (!strcmp(profile_str(p, p->sample_types[i].type), "samples") &&
		    !strcmp(profile_str(p, p->sample_types[i].unit), "count"))
			return (int)i;
	return -1;
}

struct accum {
	int64_t *self, *total;
	uint64_t *stamp;  /* sample serial that last counted the frame's total */
	uint32_t *gstamp; /* group serial (index + 1) that last touched the frame */
	uint32_t *touched;
	size_t ntouched;
	uint32_t *stack; /* one sample's frames, leaf first */
	size_t stack_cap;
};

/* Adds sample i (value v) of group g to the accumulators and the tree. */
static int add_sample(struct builder *b, struct accum *ac, size_t i, int64_t v, uint32_t gserial,
		      struct report_group *g, bool tree)
{
	const struct profile *p = b->p;
	const struct profile_sample *s = &p->samples[i];
	size_t n = 0;
	for (size_t k = 0; k < s->nlocs; k++) {
		size_t li = p->sample_locs[s->loc_off + k] - 1; /* ids are checked by the model */
		ac->stack = xgrow(ac->stack, sizeof(*ac->stack), n + b->loc_n[li], &ac->stack_cap);
		memcpy(ac->stack + n, b->loc_frames + b->loc_off[li], b->loc_n[li] * sizeof(*ac->stack));
		n += b->loc_n[li];
	}
	if (!n) {
		ac->stack = xgrow(ac->stack, sizeof(*ac->stack), 1, &ac->stack_cap);
		ac->stack[n++] = b->unknown;
	}
	uint64_t serial = (uint64_t)i + 1;
	ac->self[ac->stack[0]] = sat_add(ac->self[ac->stack[0]], v);
	for (size_t k = 0; k < n; k++) {
		uint32_t f = ac->stack[k];
		if (ac->gstamp[f] != gserial) {
			ac->gstamp[f] = gserial;
			ac->touched[ac->ntouched++] = f;
		}
		if (ac->stamp[f] != serial) {
			ac->stamp[f] = serial;
			ac->total[f] = sat_add(ac->total[f], v);
		}
	}
	if (!tree)
		return 0;
	uint32_t node = g->root;
	b->r->nodes[node].total = sat_add(b->r->nodes[node].total, v);
	for (size_t k = n; k-- > 0;) {
		int err = child_node(b, node, ac->stack[k], &node);
		if (err)
			return err;
		b->r->nodes[node].total = sat_add(b->r->nodes[node].total, v);
	}
	b->r->nodes[node].self = sat_add(b->r->nodes[node].self, v);
	return 0;
}

/* Walks every sample with a non-zero value, group by group. */
static int build_groups(struct builder *b, const struct report_options *o, int vi)
{
	struct report *r = b->r;
	const struct profile *p = b->p;
	int si = samples_index(p);
	r->samples_known = si >= 0;
	r->value_is_samples = si == vi;

	/* Which group each sample belongs to, in order of first appearance. */
	static const char *const thread_keys[3] = {"thread", "thread_name", "tid"};
	uint32_t keys[3] = {0};
	bool have[3] = {0};
	for (int j = 0; j < 3; j++)
		have[j] = strtab_find(&p->strs, thread_keys[j], strlen(thread_keys[j]), &keys[j]);
	uint32_t *group_of = xmalloc((p->nsamples + 1) * sizeof(*group_of));
	size_t *count = NULL, count_cap = 0;
	struct pairmap gmap = {0};
	r->ngroups = 0;
	for (size_t i = 0; i < p->nsamples; i++) {
		if (!profile_sample_values(p, i)[vi]) {
			group_of[i] = UINT32_MAX;
			continue;
		}
		uint32_t th = sample_thread(r, p, i, keys, have);
		if (th)
			r->has_threads = true;
		if (!o->threads)
			th = 0;
		uint32_t *slot = pairmap_get(&gmap, th, 0);
		if (*slot == UINT32_MAX) {
			count = xgrow(count, sizeof(*count), r->ngroups + 1, &count_cap);
			count[r->ngroups] = 0;
			r->groups = xrealloc(r->groups, (r->ngroups + 1) * sizeof(*r->groups));
			memset(&r->groups[r->ngroups], 0, sizeof(*r->groups));
			r->groups[r->ngroups].thread = th;
			*slot = (uint32_t)r->ngroups++;
		}
		group_of[i] = *slot;
		count[*slot]++;
	}
	pairmap_release(&gmap);
	if (!r->ngroups) { /* one empty group, so every report has one */
		r->groups = xcalloc(1, sizeof(*r->groups));
		r->ngroups = 1;
	}

	/* Samples ordered by group (a counting sort keeps their order). */
	size_t *start = xcalloc(r->ngroups + 1, sizeof(*start));
	for (size_t g = 0; count && g < r->ngroups; g++)
		start[g + 1] = start[g] + count[g];
	size_t nused = start[r->ngroups];
	size_t *order = xmalloc((nused + 1) * sizeof(*order));
	size_t *fill = xmalloc((r->ngroups + 1) * sizeof(*fill));
	memcpy(fill, start, r->ngroups * sizeof(*fill));
	for (size_t i = 0; i < p->nsamples; i++)
		if (group_of[i] != UINT32_MAX)
			order[fill[group_of[i]]++] = i;
	free(fill);
	free(count);
	free(group_of);

	struct accum ac = {0};
	size_t nf = r->nframes + 1;
	ac.self = xcalloc(nf, sizeof(*ac.self));
	ac.total = xcalloc(nf, sizeof(*ac.total));
	ac.stamp = xcalloc(nf, sizeof(*ac.stamp));
	ac.gstamp = xcalloc(nf, sizeof(*ac.gstamp));
	ac.touched = xmalloc(nf * sizeof(*ac.touched));
	int err = 0;
	for (size_t g = 0; g < r->ngroups && !err; g++) {
		struct report_group *grp = &r->groups[g];
		if (o->tree)
			err = new_node(r, NO_FRAME, NO_FRAME, &grp->root);
		ac.ntouched = 0;
		for (size_t k = start[g]; k < start[g + 1] && !err; k++) {
			size_t i = order[k];
			const int64_t *vals = profile_sample_values(p, i);
			int64_t v = vals[vi];
			grp->total = sat_add(grp->total, v);
			grp->nstacks++;
			if (si >= 0)
				grp->nsamples = sat_add(grp->nsamples, vals[si]);
			err = add_sample(b, &ac, i, v, (uint32_t)g + 1, grp, o->tree);
		}
		if (si < 0)
			grp->nsamples = (int64_t)grp->nstacks;
		grp->rows = xmalloc((ac.ntouched + 1) * sizeof(*grp->rows));
		grp->nrows = ac.ntouched;
		for (size_t k = 0; k < ac.ntouched; k++) {
			uint32_t f = ac.touched[k];
			grp->rows[k] = (struct report_row){f, ac.self[f], ac.total[f]};
			ac.self[f] = ac.total[f] = 0;
		}
		r->total = sat_add(r->total, grp->total);
		r->nstacks += grp->nstacks;
		r->nsamples = sat_add(r->nsamples, grp->nsamples);
	}
	free(ac.self);
	free(ac.total);
	free(ac.stamp);
	free(ac.gstamp);
	free(ac.touched);
	free(ac.stack);
	free(order);
	free(start);
	return err;
}

int report_build(struct report *out, const struct profile *p, const struct report_options *o)
{
	int vi = o->value_index;
	if (vi < 0 && p->nsample_types)
		vi = profile_default_value_index(p);
	if (p->nsample_types ? (vi < 0 || (size_t)vi >= p->nsample_types) : o->value_index >= 0)
		return -EINVAL;

	struct report rep = {0};
	struct report *r = &rep;
	strtab_init(&r->strs);
	r->by_thread = o->threads;
	r->lines = o->lines;
	r->sort = o->sort;
	r->duration_nanos = p->duration_nanos;
	r->value_index = p->nsample_types ? vi : -1;
	int err = 0;
	if (!p->nsample_types) {
		r->groups = xcalloc(1, sizeof(*r->groups));
		r->ngroups = 1;
		if (o->tree)
			err = new_node(r, NO_FRAME, NO_FRAME, &r->groups[0].root);
	} else {
		r->sample_type = copy_str(r, p, p->sample_types[vi].type);
		r->unit = copy_str(r, p, p->sample_types[vi].unit);
		struct builder b = {.r = r, .p = p};
		err = index_locations(&b);
		if (!err)
			err = build_groups(&b, o, vi);
		pairmap_release(&b.frame_map);
		pairmap_release(&b.node_map);
		free(b.loc_frames);
		free(b.loc_off);
		free(b.loc_n);
	}
	if (err) {
		report_release(r);
		return err;
	}
	if (o->tree)
		link_children(r);
	report_sort_rows(r, o->sort);
	if (r->ngroups > 1)
		qsort_r(r->groups, r->ngroups, sizeof(*r->groups), group_cmp, r);
	*out = rep;
	return 0;
}

void report_release(struct report *r)
{
	if (!r)
		return;
	for (size_t g = 0; g < r->ngroups; g++)
		free(r->groups[g].rows);
	free(r->groups);
	free(r->frames);
	free(r->nodes);
	free(r->children);
	if (r->strs.entries)
		strtab_release(&r->strs);
	memset(r, 0, sizeof(*r));
}

/* ---- values for people ---- */

/* Prints x with at most two decimals, trailing zeros trimmed, then suffix. */
static char *fmt_scaled(double x, const char *suffix, char *buf, size_t cap)
{
	char num[64];
	snprintf(num, sizeof(num), "%.2f", x);
	char *dot = strchr(num, '.');
	if (dot) {
		char *e = num + strlen(num);
		while (e > dot + 1 && e[-1] == '0')
			*--e = '\0';
		if (e == dot + 1)
			*dot = '\0';
	}
	snprintf(buf, cap, "%s%s", num, suffix);
	return buf;
}

char *report_format_value(int64_t v, const char *unit, char *buf, size_t cap)
{
	static const struct {
		const char *name;
		double ns;
	} times[] = {{"nanoseconds", 1}, {"microseconds", 1e3}, {"milliseconds", 1e6}, {"seconds", 1e9}};
	if (!cap)
		return buf;
	if (!v || !unit) {
		snprintf(buf, cap, "%" PRId64, v);
		return buf;
	}
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		if (strcmp(unit, times[i].name))
			continue;
		double ns = (double)v * times[i].ns, a = ns < 0 ? -ns : ns;
		if (a < 1e3)
			return fmt_scaled(ns, "ns", buf, cap);
		if (a < 1e6)
			return fmt_scaled(ns / 1e3, "us", buf, cap);
		if (a < 1e9)
			return fmt_scaled(ns / 1e6, "ms", buf, cap);
		return fmt_scaled(ns / 1e9, "s", buf, cap);
	}
	if (!strcmp(unit, "bytes")) {
		static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
		double x = (double)v, a = x < 0 ? -x : x;
		size_t u = 0;
		while (a >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
			a /= 1024;
			x /= 1024;
			u++;
		}
		if (!u) {
			snprintf(buf, cap, "%" PRId64 "B", v);
			return buf;
		}
		return fmt_scaled(x, units[u], buf, cap);
	}
	snprintf(buf, cap, "%" PRId64, v);
	return buf;
}

/* ---- text ---- */

static const char *sort_name(enum report_sort s)
{
	return s == REPORT_SORT_TOTAL ? "total" : s == REPORT_SORT_NAME ? "name" : "self";
}

/* Writes a string from a profile, control bytes shown as '?' so one name
 * never breaks a table line. */
static void put_clean(FILE *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
	}
}

static void put_frame(const struct report *r, uint32_t frame, FILE *out)
{
	const struct report_frame *f = &r->frames[frame];
	put_clean(out, report_str(r, f->name), strtab_len(&r->strs, f->name));
	if (r->lines && (f->file || f->line)) {
		fputc(' ', out);
		if (f->file)
			put_clean(out, report_str(r, f->file), strtab_len(&r->strs, f->file));
		else
			fputs("?", out);
		if (f->line)
			fprintf(out, ":%" PRId64, f->line);
	}
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static const char *unit_of(const struct report *r)
{
	return report_str(r, r->unit);
}

static void write_header(const struct report *r, const struct report_view *v, FILE *out)
{
	char a[64], d[64];
	if (v->input)
		fprintf(out, "File:     %s%s%s%s\n", v->input, v->format ? " (" : "",
			v->format ? v->format : "", v->format ? ")" : "");
	if (r->value_index < 0) {
		fputs("Type:     (none)\nTotal:    0: the input holds no samples\n", out);
		return;
	}
	fputs("Type:     ", out);
	put_clean(out, report_str(r, r->sample_type), strtab_len(&r->strs, r->sample_type));
	fputs(" (", out);
	put_clean(out, unit_of(r), strtab_len(&r->strs, r->unit));
	fputs(")\n", out);
	if (r->duration_nanos > 0)
		fprintf(out, "Duration: %s\n", report_format_value(r->duration_nanos, "nanoseconds", d, sizeof(d)));
	report_format_value(r->total, unit_of(r), a, sizeof(a));
	if (r->value_is_samples)
		fprintf(out, "Total:    %s samples in %" PRIu64 " stack%s\n", a, r->nstacks,
			plural(r->nstacks));
	else if (r->samples_known)
		fprintf(out, "Total:    %s in %" PRId64 " sample%s (%" PRIu64 " stack%s)\n", a,
			r->nsamples, plural((uint64_t)r->nsamples), r->nstacks, plural(r->nstacks));
	else
		fprintf(out, "Total:    %s in %" PRIu64 " stack%s\n", a, r->nstacks, plural(r->nstacks));
	if (r->by_thread && !r->has_threads)
		fputs("Threads:  none: the input has no thread labels, so all samples form one group\n", out);
}

static void write_group_title(const struct report *r, const struct report_group *g, FILE *out)
{
	char a[64];
	const char *name = report_thread_name(r, g);
	fputs("\nThread: ", out);
	put_clean(out, name, g->thread ? strtab_len(&r->strs, g->thread) : strlen(name));
	fprintf(out, " (%s, %.2f%% of the total, %" PRIu64 " stack%s)\n",
		report_format_value(g->total, unit_of(r), a, sizeof(a)),
		report_percent(g->total, r->total), g->nstacks, plural(g->nstacks));
}

static int width_of(int64_t x, const char *unit)
{
	char b[64];
	return (int)strlen(report_format_value(x, unit, b, sizeof(b)));
}

static void write_table(const struct report *r, const struct report_group *g,
			const struct report_view *v, FILE *out)
{
	const char *unit = unit_of(r);
	size_t n = v->limit && v->limit < g->nrows ? v->limit : g->nrows;
	const char *what = r->lines ? "lines" : "functions";
	if (!g->nrows) {
		fputs("\nNo samples.\n", out);
		return;
	}
	if (n < g->nrows)
		fprintf(out, "\nShowing the top %zu of %zu %s, sorted by %s\n\n", n, g->nrows, what,
			sort_name(r->sort));
	else
		fprintf(out, "\nShowing all %zu %s, sorted by %s\n\n", g->nrows, what, sort_name(r->sort));
	int wf = 4, wc = 3;
	for (size_t i = 0; i < n; i++) {
		int a = width_of(g->rows[i].self, unit), b = width_of(g->rows[i].total, unit);
		wf = a > wf ? a : wf;
		wc = b > wc ? b : wc;
	}
	fprintf(out, "%*s  %7s  %7s  %*s  %7s  %s\n", wf, "flat", "flat%", "sum%", wc, "cum", "cum%",
		r->lines ? "line" : "function");
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		const struct report_row *row = &g->rows[i];
		char a[64], b[64];
		sum += report_percent(row->self, g->total);
		fprintf(out, "%*s  %6.2f%%  %6.2f%%  %*s  %6.2f%%  ", wf,
			report_format_value(row->self, unit, a, sizeof(a)),
			report_percent(row->self, g->total), sum, wc,
			report_format_value(row->total, unit, b, sizeof(b)),
			report_percent(row->total, g->total));
		put_frame(r, row->frame, out);
		fputc('\n', out);
	}
}

static bool node_visible(const struct report *r, uint32_t node, int64_t gtotal, double minp)
{
	int64_t t = r->nodes[node].total;
	double pc = report_percent(t < 0 ? -t : t, gtotal < 0 ? -gtotal : gtotal);
	return t && pc >= minp;
}

struct walk {
	uint32_t node;
	uint32_t next; /* next child to visit */
	size_t depth;
};

typedef void (*tree_visit_fn)(const struct report *r, const struct report_group *g, uint32_t node,
			      size_t depth, void *ctx);

/* Visits the visible nodes under g's root depth first, children in order,
 * without recursion (stacks can be thousands of frames deep). */
static void tree_walk(const struct report *r, const struct report_group *g, double minp,
		      tree_visit_fn fn, void *ctx)
{
	struct walk *st = NULL;
	size_t n = 0, cap = 0;
	st = xgrow(st, sizeof(*st), 1, &cap);
	st[n++] = (struct walk){g->root, 0, 0};
	while (n) {
		struct walk *w = &st[n - 1];
		const struct report_node *nd = &r->nodes[w->node];
		if (w->next >= nd->nchildren) {
			n--;
			continue;
		}
		uint32_t c = r->children[nd->child_off + w->next++];
		if (!node_visible(r, c, g->total, minp))
			continue;
		size_t depth = w->depth;
		fn(r, g, c, depth, ctx);
		st = xgrow(st, sizeof(*st), n + 1, &cap);
		st[n++] = (struct walk){c, 0, depth + 1};
	}
	free(st);
}

struct tree_widths {
	int total, self;
	size_t shown;
};

static void measure_node(const struct report *r, const struct report_group *g, uint32_t node,
			 size_t depth, void *ctx)
{
	(void)g;
	(void)depth;
	struct tree_widths *w = ctx;
	int a = width_of(r->nodes[node].total, unit_of(r)), b = width_of(r->nodes[node].self, unit_of(r));
	w->total = a > w->total ? a : w->total;
	w->self = b > w->self ? b : w->self;
	w->shown++;
}

struct tree_print {
	FILE *out;
	struct tree_widths w;
};

static void print_node(const struct report *r, const struct report_group *g, uint32_t node,
		       size_t depth, void *ctx)
{
	struct tree_print *tp = ctx;
	const struct report_node *nd = &r->nodes[node];
	char a[64], b[64];
	fprintf(tp->out, "%6.2f%%  %6.2f%%  %*s  %*s  ", report_percent(nd->total, g->total),
		report_percent(nd->self, g->total), tp->w.total,
		report_format_value(nd->total, unit_of(r), a, sizeof(a)), tp->w.self,
		report_format_value(nd->self, unit_of(r), b, sizeof(b)));
	for (size_t i = 0; i < depth; i++)
		fputs("  ", tp->out);
	put_frame(r, nd->frame, tp->out);
	fputc('\n', tp->out);
}

static void write_tree(const struct report *r, const struct report_group *g,
		       const struct report_view *v, FILE *out)
{
	if (!r->nodes || !g->total) {
		fputs("\nNo samples.\n", out);
		return;
	}
	struct tree_print tp = {out, {5, 4, 0}};
	tree_walk(r, g, v->min_percent, measure_node, &tp.w);
	if (v->min_percent > 0)
		fprintf(out, "\nCall tree (callers above callees; nodes under %g%% hidden)\n\n",
			v->min_percent);
	else
		fputs("\nCall tree (callers above callees)\n\n", out);
	fprintf(out, "%7s  %7s  %*s  %*s  %s\n", "total%", "self%", tp.w.total, "total", tp.w.self, "self",
		r->lines ? "line" : "function");
	tree_walk(r, g, v->min_percent, print_node, &tp);
}

static int stream_status(FILE *out)
{
	if (ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}

int report_write_text(const struct report *r, const struct report_view *v, FILE *out)
{
	write_header(r, v, out);
	for (size_t gi = 0; gi < r->ngroups; gi++) {
		const struct report_group *g = &r->groups[gi];
		if (r->by_thread && r->has_threads && r->value_index >= 0)
			write_group_title(r, g, out);
		if (r->value_index < 0)
			break;
		if (v->tree)
			write_tree(r, g, v, out);
		else
			write_table(r, g, v, out);
	}
	return stream_status(out);
}

/* ---- JSON ---- */

static void json_str(FILE *out, const char *s, size_t len)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addch(&sb, '"');
	strbuf_add_json(&sb, s, len);
	strbuf_addch(&sb, '"');
	fwrite(sb.buf, 1, sb.len, out);
	strbuf_release(&sb);
}

static void json_rstr(const struct report *r, uint32_t id, FILE *out)
{
	json_str(out, report_str(r, id), strtab_len(&r->strs, id));
}

static void json_frame(const struct report *r, uint32_t frame, FILE *out)
{
	const struct report_frame *f = &r->frames[frame];
	fputs("\"name\":", out);
	json_rstr(r, f->name, out);
	if (r->lines) {
		fputs(",\"file\":", out);
		json_rstr(r, f->file, out);
		fprintf(out, ",\"line\":%" PRId64, f->line);
	}
}

static void json_rows(const struct report *r, const struct report_group *g,
		      const struct report_view *v, FILE *out)
{
	size_t n = v->limit && v->limit < g->nrows ? v->limit : g->nrows;
	fprintf(out, "\"functions\":%zu,\"rows\":[", g->nrows);
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		const struct report_row *row = &g->rows[i];
		sum += report_percent(row->self, g->total);
		fputs(i ? ",\n{" : "\n{", out);
		json_frame(r, row->frame, out);
		fprintf(out,
			",\"self\":%" PRId64 ",\"self_percent\":%.4f,\"sum_percent\":%.4f"
			",\"total\":%" PRId64 ",\"total_percent\":%.4f}",
			row->self, report_percent(row->self, g->total), sum, row->total,
			report_percent(row->total, g->total));
	}
	fputs("]", out);
}

static void json_node_open(const struct report *r, const struct report_group *g, uint32_t node,
			   FILE *out)
{
	const struct report_node *nd = &r->nodes[node];
	fputc('{', out);
	if (nd->frame == NO_FRAME)
		fputs("\"name\":\"(root)\"", out);
	else
		json_frame(r, nd->frame, out);
	fprintf(out,
		",\"self\":%" PRId64 ",\"self_percent\":%.4f,\"total\":%" PRId64
		",\"total_percent\":%.4f,\"children\":[",
		nd->self, report_percent(nd->self, g->total), nd->total,
		report_percent(nd->total, g->total));
}

struct json_walk {
	uint32_t node, next;
	bool any;
};

static void json_tree(const struct report *r, const struct report_group *g, double minp, FILE *out)
{
	fputs(",\"tree\":", out);
	if (!r->nodes) {
		fputs("null", out);
		return;
	}
	struct json_walk *st = NULL;
	size_t n = 0, cap = 0;
	st = xgrow(st, sizeof(*st), 1, &cap);
	st[n++] = (struct json_walk){g->root, 0, false};
	json_node_open(r, g, g->root, out);
	while (n) {
		struct json_walk *w = &st[n - 1];
		const struct report_node *nd = &r->nodes[w->node];
		if (w->next >= nd->nchildren) {
			fputs("]}", out);
			n--;
			continue;
		}
		uint32_t c = r->children[nd->child_off + w->next++];
		if (!node_visible(r, c, g->total, minp))
			continue;
		if (w->any)
			fputc(',', out);
		w->any = true;
		fputc('\n', out);
		json_node_open(r, g, c, out);
		st = xgrow(st, sizeof(*st), n + 1, &cap);
		st[n++] = (struct json_walk){c, 0, false};
	}
	free(st);
}

static void json_group_body(const struct report *r, const struct report_group *g,
			    const struct report_view *v, FILE *out)
{
	json_rows(r, g, v, out);
	if (v->tree)
		json_tree(r, g, v->min_percent, out);
}

int report_write_json(const struct report *r, const struct report_view *v, FILE *out)
{
	fputs("{\"input\":", out);
	if (v->input)
		json_str(out, v->input, strlen(v->input));
	else
		fputs("null", out);
	fputs(",\"format\":", out);
	if (v->format)
		json_str(out, v->format, strlen(v->format));
	else
		fputs("null", out);
	fputs(",\"sample_type\":", out);
	json_rstr(r, r->sample_type, out);
	fputs(",\"unit\":", out);
	json_rstr(r, r->unit, out);
	fprintf(out, ",\"total\":%" PRId64 ",\"samples\":%" PRId64 ",\"stacks\":%" PRIu64, r->total,
		r->nsamples, r->nstacks);
	if (r->duration_nanos > 0)
		fprintf(out, ",\"duration_nanos\":%" PRId64, r->duration_nanos);
	fprintf(out, ",\"sort\":\"%s\",\"by_line\":%s", sort_name(r->sort), r->lines ? "true" : "false");
	if (v->tree)
		fprintf(out, ",\"min_percent\":%g", v->min_percent);
	if (!r->by_thread) {
		fputc(',', out);
		json_group_body(r, &r->groups[0], v, out);
	} else {
		fprintf(out, ",\"has_thread_labels\":%s,\"threads\":[", r->has_threads ? "true" : "false");
		for (size_t gi = 0; gi < r->ngroups; gi++) {
			const struct report_group *g = &r->groups[gi];
			fputs(gi ? ",\n{\"thread\":" : "\n{\"thread\":", out);
			if (g->thread)
				json_rstr(r, g->thread, out);
			else
				fputs("null", out);
			fprintf(out,
				",\"total\":%" PRId64 ",\"percent_of_total\":%.4f,\"samples\":%" PRId64
				",\"stacks\":%" PRIu64 ",",
				g->total, report_percent(g->total, r->total), g->nsamples, g->nstacks);
			json_group_body(r, g, v, out);
			fputc('}', out);
		}
		fputc(']', out);
	}
	fputs("}\n", out);
	return stream_status(out);
}
