/* profile: the pprof-shaped profile model (see profile.h). Every add
 * checks the ids it stores, so code walking a profile never needs to: an id
 * held anywhere in the profile indexes its array as id - 1. */
#include "model/profile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hash.h"
#include "base/strbuf.h"
#include "base/xalloc.h"

void profile_init(struct profile *p)
{
	memset(p, 0, sizeof(*p));
	strtab_init(&p->strs);
}

void profile_release(struct profile *p)
{
	if (!p)
		return;
	strtab_release(&p->strs);
	free(p->sample_types);
	free(p->comments);
	free(p->samples);
	free(p->values);
	free(p->sample_locs);
	free(p->labels);
	free(p->locations);
	free(p->lines);
	free(p->functions);
	free(p->mappings);
	free(p->fn_slots);
	free(p->fn_location);
	memset(p, 0, sizeof(*p));
}

uint32_t profile_intern(struct profile *p, const char *s, size_t len)
{
	return strtab_intern(&p->strs, s, len);
}

uint32_t profile_interns(struct profile *p, const char *s)
{
	return strtab_interns(&p->strs, s ? s : "");
}

const char *profile_str(const struct profile *p, uint32_t id)
{
	const char *s = strtab_get(&p->strs, id);
	return s ? s : "";
}

static int str_ok(const struct profile *p, uint32_t id)
{
	return id < strtab_count(&p->strs);
}

int profile_add_sample_type(struct profile *p, const char *type, const char *unit)
{
	if (p->nsamples)
		return -EINVAL;
	p->sample_types = xgrow(p->sample_types, sizeof(*p->sample_types), p->nsample_types + 1,
				&p->sample_types_cap);
	struct profile_value_type *vt = &p->sample_types[p->nsample_types];
	vt->type = profile_interns(p, type);
	vt->unit = profile_interns(p, unit);
	return (int)p->nsample_types++;
}

uint64_t profile_add_function(struct profile *p, uint32_t name, uint32_t system_name,
			      uint32_t filename, int64_t start_line)
{
	if (!str_ok(p, name) || !str_ok(p, system_name) || !str_ok(p, filename))
		return 0;
	p->functions = xgrow(p->functions, sizeof(*p->functions), p->nfunctions + 1,
			     &p->functions_cap);
	struct profile_function *f = &p->functions[p->nfunctions++];
	f->id = p->nfunctions;
	f->name = name;
	f->system_name = system_name;
	f->filename = filename;
	f->start_line = start_line;
	return f->id;
}

static uint64_t function_hash(uint32_t name, uint32_t system_name, uint32_t filename,
			      int64_t start_line)
{
	uint64_t h = hash_mix((uint64_t)name << 32 | system_name, 0x9e3779b97f4a7c15ULL);
	return hash_mix(h ^ ((uint64_t)filename << 32), (uint64_t)start_line ^ 0xc2b2ae3d27d4eb4fULL);
}

static uint64_t function_hash_of(const struct profile_function *f)
{
	return function_hash(f->name, f->system_name, f->filename, f->start_line);
}

static void fn_slots_put(uint32_t *slots, size_t cap, uint64_t h, uint32_t id)
{
	size_t i = (size_t)h & (cap - 1);
	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = id;
}

/* Brings the function index up to date with functions added since. Only
 * the first of several identical functions is indexed; that one wins. */
static void fn_index_update(struct profile *p)
{
	if (!p->fn_slots_cap) {
		p->fn_slots_cap = 256;
		p->fn_slots = xcalloc(p->fn_slots_cap, sizeof(*p->fn_slots));
	}
	while (p->fn_indexed < p->nfunctions) {
		if ((p->fn_indexed + 1) * 4 > p->fn_slots_cap * 3) {
			size_t ncap = p->fn_slots_cap * 2;
			uint32_t *ns = xcalloc(ncap, sizeof(*ns));
			for (size_t i = 0; i < p->fn_slots_cap; i++)
				if (p->fn_slots[i])
					fn_slots_put(ns, ncap,
						     function_hash_of(&p->functions[p->fn_slots[i] - 1]),
						     p->fn_slots[i]);
			free(p->fn_slots);
			p->fn_slots = ns;
			p->fn_slots_cap = ncap;
		}
		const struct profile_function *f = &p->functions[p->fn_indexed];
		uint64_t h = function_hash_of(f);
		size_t mask = p->fn_slots_cap - 1, i = (size_t)h & mask;
		int dup = 0;
		while (p->fn_slots[i]) {
			const struct profile_function *g = &p->functions[p->fn_slots[i] - 1];
			if (g->name == f->name && g->system_name == f->system_name &&
			    g->filename == f->filename && g->start_line == f->start_line) {
				dup = 1;
				break;
			}
			i = (i + 1) & mask;
		}
		if (!dup)
			p->fn_slots[i] = (uint32_t)f->id;
		p->fn_indexed++;
	}
}

/* Returns the id of the function with exactly these fields, adding one
 * when there is none. */
static uint64_t intern_function_ids(struct profile *p, uint32_t n, uint32_t sn, uint32_t fn,
				    int64_t start_line)
{
	fn_index_update(p);
	uint64_t h = function_hash(n, sn, fn, start_line);
	size_t mask = p->fn_slots_cap - 1;
	for (size_t i = (size_t)h & mask; p->fn_slots[i]; i = (i + 1) & mask) {
		const struct profile_function *g = &p->functions[p->fn_slots[i] - 1];
		if (g->name == n && g->system_name == sn && g->filename == fn &&
		    g->start_line == start_line)
			return g->id;
	}
	/* The function ids live in uint32 slots; more is out of memory anyway. */
	if (p->nfunctions >= UINT32_MAX - 1)
		abort();
	uint64_t id = profile_add_function(p, n, sn, fn, start_line);
	fn_index_update(p);
	return id;
}

uint64_t profile_intern_function(struct profile *p, const char *name, const char *system_name,
				 const char *filename, int64_t start_line)
{
	uint32_t n = profile_interns(p, name), sn = profile_interns(p, system_name);
	return intern_function_ids(p, n, sn, profile_interns(p, filename), start_line);
}

uint64_t profile_add_mapping(struct profile *p, uint64_t start, uint64_t limit, uint64_t offset,
			     uint32_t filename, uint32_t build_id, unsigned flags)
{
	if (!str_ok(p, filename) || !str_ok(p, build_id))
		return 0;
	p->mappings = xgrow(p->mappings, sizeof(*p->mappings), p->nmappings + 1, &p->mappings_cap);
	struct profile_mapping *m = &p->mappings[p->nmappings++];
	m->id = p->nmappings;
	m->start = start;
	m->limit = limit;
	m->offset = offset;
	m->filename = filename;
	m->build_id = build_id;
	m->flags = flags;
	return m->id;
}

uint64_t profile_add_location(struct profile *p, uint64_t mapping_id, uint64_t address,
			      const struct profile_line *lines, size_t nlines, int is_folded)
{
	if (mapping_id > p->nmappings || nlines > UINT32_MAX)
		return 0;
	for (size_t i = 0; i < nlines; i++)
		if (lines[i].function_id > p->nfunctions)
			return 0;
	p->lines = xgrow(p->lines, sizeof(*p->lines), p->nlines + nlines, &p->lines_cap);
	if (nlines)
		memcpy(p->lines + p->nlines, lines, nlines * sizeof(*lines));
	p->locations = xgrow(p->locations, sizeof(*p->locations), p->nlocations + 1,
			     &p->locations_cap);
	struct profile_location *l = &p->locations[p->nlocations++];
	l->id = p->nlocations;
	l->mapping_id = mapping_id;
	l->address = address;
	l->line_off = p->nlines;
	l->nlines = (uint32_t)nlines;
	l->is_folded = !!is_folded;
	p->nlines += nlines;
	return l->id;
}

int profile_add_sample(struct profile *p, const int64_t *values, size_t nvalues,
		       const uint64_t *loc_ids, size_t nlocs,
		       const struct profile_label *labels, size_t nlabels)
{
	if (nvalues != p->nsample_types || nlocs > UINT32_MAX || nlabels > UINT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < nlocs; i++)
		if (loc_ids[i] == 0 || loc_ids[i] > p->nlocations)
			return -EINVAL;
	for (size_t i = 0; i < nlabels; i++)
		if (!str_ok(p, labels[i].key) || !str_ok(p, labels[i].str) ||
		    !str_ok(p, labels[i].num_unit))
			return -EINVAL;

	p->samples = xgrow(p->samples, sizeof(*p->samples), p->nsamples + 1, &p->samples_cap);
	p->values = xgrow(p->values, sizeof(*p->values), (p->nsamples + 1) * nvalues,
			  &p->values_cap);
	p->sample_locs = xgrow(p->sample_locs, sizeof(*p->sample_locs), p->nsample_locs + nlocs,
			       &p->sample_locs_cap);
	p->labels = xgrow(p->labels, sizeof(*p->labels), p->nlabels + nlabels, &p->labels_cap);

	struct profile_sample *s = &p->samples[p->nsamples];
	if (nvalues)
		memcpy(p->values + p->nsamples * nvalues, values, nvalues * sizeof(*values));
	s->loc_off = p->nsample_locs;
	s->nlocs = (uint32_t)nlocs;
	if (nlocs)
		memcpy(p->sample_locs + p->nsample_locs, loc_ids, nlocs * sizeof(*loc_ids));
	p->nsample_locs += nlocs;
	s->label_off = p->nlabels;
	s->nlabels = (uint32_t)nlabels;
	if (nlabels)
		memcpy(p->labels + p->nlabels, labels, nlabels * sizeof(*labels));
	p->nlabels += nlabels;
	p->nsamples++;
	return 0;
}

/* Returns the id of a location that is just function fid (one line, line 0,
 * no mapping or address), adding one if needed. */
static uint64_t plain_location(struct profile *p, uint64_t fid)
{
	size_t old_cap = p->fn_location_cap;
	p->fn_location = xgrow(p->fn_location, sizeof(*p->fn_location), p->nfunctions,
			       &p->fn_location_cap);
	if (p->fn_location_cap > old_cap)
		memset(p->fn_location + old_cap, 0,
		       (p->fn_location_cap - old_cap) * sizeof(*p->fn_location));
	/* Index locations added since last time (say, by a reader). */
	while (p->loc_indexed < p->nlocations) {
		const struct profile_location *l = &p->locations[p->loc_indexed++];
		if (l->nlines != 1 || l->mapping_id || l->address || l->is_folded)
			continue;
		const struct profile_line *ln = p->lines + l->line_off;
		if (ln->line || ln->column || !ln->function_id)
			continue;
		if (ln->function_id <= p->fn_location_cap && !p->fn_location[ln->function_id - 1])
			p->fn_location[ln->function_id - 1] = l->id;
	}
	if (p->fn_location[fid - 1])
		return p->fn_location[fid - 1];
	struct profile_line line = {.function_id = fid};
	uint64_t id = profile_add_location(p, 0, 0, &line, 1, 0);
	p->fn_location[fid - 1] = id;
	p->loc_indexed = p->nlocations;
	return id;
}

int profile_add_folded(struct profile *p, const char *stack, size_t len, int64_t count)
{
	if (len == 0)
		return -EINVAL;
	uint32_t type_id, unit_id;
	size_t vi = p->nsample_types;
	if (strtab_find(&p->strs, "samples", 7, &type_id) &&
	    strtab_find(&p->strs, "count", 5, &unit_id)) {
		for (size_t i = 0; i < p->nsample_types; i++)
			if (p->sample_types[i].type == type_id && p->sample_types[i].unit == unit_id) {
				vi = i;
				break;
			}
	}
	if (vi == p->nsample_types && profile_add_sample_type(p, "samples", "count") < 0)
		return -EINVAL;

	/* Frames arrive root first; pprof stores the leaf first. */
	size_t nframes = 1;
	for (size_t i = 0; i < len; i++)
		nframes += stack[i] == ';';
	uint64_t small[64];
	uint64_t *locs = nframes <= 64 ? small : xmalloc(nframes * sizeof(*locs));
	size_t k = nframes, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && stack[i] != ';')
			continue;
		/* Intern by length (a C string would stop at a NUL byte); the
		 * function's name and system_name are both the frame. */
		uint32_t sid = profile_intern(p, stack + start, i - start);
		uint64_t fid = intern_function_ids(p, sid, sid, 0, 0);
		locs[--k] = plain_location(p, fid);
		start = i + 1;
	}

	int64_t vsmall[8];
	size_t nv = p->nsample_types;
	int64_t *vals = nv <= 8 ? vsmall : xcalloc(nv, sizeof(*vals));
	memset(vals, 0, nv * sizeof(*vals));
	vals[vi] = count;
	int rc = profile_add_sample(p, vals, nv, locs, nframes, NULL, 0);
	if (vals != vsmall)
		free(vals);
	if (locs != small)
		free(locs);
	return rc;
}

const struct profile_function *profile_function(const struct profile *p, uint64_t id)
{
	return id && id <= p->nfunctions ? &p->functions[id - 1] : NULL;
}

const struct profile_location *profile_location(const struct profile *p, uint64_t id)
{
	return id && id <= p->nlocations ? &p->locations[id - 1] : NULL;
}

const struct profile_mapping *profile_mapping(const struct profile *p, uint64_t id)
{
	return id && id <= p->nmappings ? &p->mappings[id - 1] : NULL;
}

int profile_default_value_index(const struct profile *p)
{
	if (!p->nsample_types)
		return KILN_ERR_EMPTY;
	if (p->default_sample_type)
		for (size_t i = 0; i < p->nsample_types; i++)
			if (p->sample_types[i].type == p->default_sample_type)
				return (int)i;
	return (int)p->nsample_types - 1;
}

int profile_value_index(const struct profile *p, const char *name)
{
	size_t nlen = strlen(name);
	for (size_t i = 0; i < p->nsample_types; i++) {
		const struct profile_value_type *vt = &p->sample_types[i];
		const char *type = profile_str(p, vt->type);
		size_t tlen = strtab_len(&p->strs, vt->type);
		if (tlen == nlen && memcmp(type, name, nlen) == 0)
			return (int)i;
		const char *unit = profile_str(p, vt->unit);
		if (nlen == tlen + 1 + strtab_len(&p->strs, vt->unit) &&
		    memcmp(name, type, tlen) == 0 && name[tlen] == '/' &&
		    strcmp(name + tlen + 1, unit) == 0)
			return (int)i;
	}
	if (nlen && nlen < 10 && strspn(name, "0123456789") == nlen) {
		unsigned long v = strtoul(name, NULL, 10);
		if (v < p->nsample_types)
			return (int)v;
	}
	return -EINVAL;
}

/* Appends a frame name, keeping the folded line well-formed. */
static void add_frame_name(struct strbuf *sb, const char *s, size_t len)
{
	size_t at = sb->len;
	strbuf_add(sb, s, len);
	for (size_t i = at; i < sb->len; i++) {
		char c = sb->buf[i];
		if (c == ';')
			sb->buf[i] = ':';
		else if (c == '\n' || c == '\r' || c == '\0')
			sb->buf[i] = ' ';
	}
}

static void add_location_frame(struct strbuf *sb, const struct profile *p,
			       const struct profile_location *l)
{
	const struct profile_mapping *m = profile_mapping(p, l->mapping_id);
	if (m && m->filename) {
		const char *fn = profile_str(p, m->filename);
		size_t flen = strtab_len(&p->strs, m->filename);
		const char *slash = memrchr(fn, '/', flen);
		const char *base = slash ? slash + 1 : fn;
		size_t blen = flen - (size_t)(base - fn);
		if (blen >= 2 && base[0] == '[' && base[blen - 1] == ']') {
			add_frame_name(sb, base, blen);
		} else if (blen) {
			strbuf_addch(sb, '[');
			add_frame_name(sb, base, blen);
			strbuf_addch(sb, ']');
		} else {
			strbuf_adds(sb, "[unknown]");
		}
	} else if (l->address) {
		strbuf_addf(sb, "0x%" PRIx64, l->address);
	} else {
		strbuf_adds(sb, "[unknown]");
	}
}

static void add_location(struct strbuf *sb, const struct profile *p, uint64_t loc_id)
{
	const struct profile_location *l = profile_location(p, loc_id);
	const struct profile_line *lines = profile_location_lines(p, l);
	int any = 0;
	/* Lines are innermost first; a folded stack reads outermost first. */
	for (size_t j = l->nlines; j-- > 0;) {
		const struct profile_function *f = profile_function(p, lines[j].function_id);
		uint32_t sid = 0;
		if (f)
			sid = f->name ? f->name : f->system_name;
		if (!sid)
			continue;
		if (any)
			strbuf_addch(sb, ';');
		add_frame_name(sb, profile_str(p, sid), strtab_len(&p->strs, sid));
		any = 1;
	}
	if (!any)
		add_location_frame(sb, p, l);
}

int profile_for_each_stack(const struct profile *p, int value_index, profile_stack_fn fn,
			   void *ctx)
{
	if (value_index < 0 || (size_t)value_index >= p->nsample_types)
		return -EINVAL;
	struct strbuf sb = STRBUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < p->nsamples && !rc; i++) {
		int64_t v = profile_sample_values(p, i)[value_index];
		if (!v)
			continue;
		const struct profile_sample *s = &p->samples[i];
		strbuf_reset(&sb);
		for (size_t k = s->nlocs; k-- > 0;) {
			if (k + 1 < s->nlocs)
				strbuf_addch(&sb, ';');
			add_location(&sb, p, p->sample_locs[s->loc_off + k]);
		}
		if (!s->nlocs)
			strbuf_adds(&sb, "[unknown]");
		rc = fn(ctx, strbuf_str(&sb), sb.len, v);
	}
	strbuf_release(&sb);
	return rc;
}
