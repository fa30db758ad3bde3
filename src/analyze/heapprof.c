/* heapprof: trace stacks -> frames (through src/symbolize) -> pprof.
 * Invariant: a location is made once per instruction pointer and reused by
 * every sample that passes through it. */
#include "analyze/heapprof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/heapmap.h"
#include "base/arena.h"
#include "base/xalloc.h"
#include "symbolize/symbolize.h"

struct heapsym {
	struct symbolizer *sym;
	int pid;
	struct arena names;    /* "0x..." and "[module]" names */
	struct heapmap by_ip;  /* ip -> 1 + index into entries */
	struct hs_entry {
		size_t frame_off;  /* into frames */
		uint32_t nframes;
		bool tracker;      /* a frame of libkiln-heap.so itself */
		uint64_t mapping_start, mapping_limit, mapping_offset;
		const char *module, *build_id;
		uint64_t loc_id;   /* pprof location, per build */
	} *entries;
	size_t nentries, entries_cap;
	struct heapframe *frames;
	size_t nframes, frames_cap;
};

static struct heapsym *sym_new(const struct heapstats *h, bool raw, int *err)
{
	struct symbolizer_options so = {.no_kernel = true, .no_demangle = raw};
	struct symbolizer *s = symbolizer_new(&so, err);
	if (!s)
		return NULL;
	struct heapsym *hs = xcalloc(1, sizeof(*hs));
	hs->sym = s;
	hs->pid = h->header.pid ? (int)h->header.pid : 1;
	for (size_t i = 0; i < h->nmodules; i++) {
		const struct heapmodule *m = &h->modules[i];
		if (m->end <= m->start)
			continue;
		symbolizer_mmap(s, hs->pid, m->start, m->end - m->start, m->offset, m->path,
				m->build_id, m->build_id_len, true);
	}
	return hs;
}

struct heapsym *heapsym_new(const struct heapstats *h, int *err)
{
	return sym_new(h, false, err);
}

struct heapsym *heapsym_new_raw(const struct heapstats *h, int *err)
{
	return sym_new(h, true, err);
}

void heapsym_free(struct heapsym *hs)
{
	if (!hs)
		return;
	symbolizer_free(hs->sym);
	arena_release(&hs->names);
	heapmap_release(&hs->by_ip);
	free(hs->entries);
	free(hs->frames);
	free(hs);
}

static bool is_tracker(const char *module)
{
	if (!module)
		return false;
	const char *base = strrchr(module, '/');
	base = base ? base + 1 : module;
	return !strncmp(base, "libkiln-heap", 12);
}

static struct hs_entry *resolve(struct heapsym *hs, uint64_t ip)
{
	bool added;
	struct heapmap_slot *s = heapmap_put(&hs->by_ip, ip ? ip : 1, &added);
	if (!added)
		return &hs->entries[s->val - 1];
	hs->entries = xgrow(hs->entries, sizeof(*hs->entries), hs->nentries + 1, &hs->entries_cap);
	s->val = ++hs->nentries;
	struct hs_entry *e = &hs->entries[hs->nentries - 1];
	memset(e, 0, sizeof(*e));
	e->frame_off = hs->nframes;
	struct sym_location loc;
	int rc = symbolizer_lookup(hs->sym, hs->pid, ip, true, &loc);
	char buf[64];
	if (rc == 0 && loc.nframes) {
		e->tracker = is_tracker(loc.module);
		e->module = loc.module;
		e->build_id = loc.build_id;
		e->mapping_start = loc.map_start;
		e->mapping_limit = loc.map_limit;
		e->mapping_offset = loc.map_offset;
		for (size_t i = 0; i < loc.nframes; i++) {
			hs->frames = xgrow(hs->frames, sizeof(*hs->frames), hs->nframes + 1, &hs->frames_cap);
			struct heapframe *f = &hs->frames[hs->nframes++];
			f->file = loc.frames[i].file;
			f->line = loc.frames[i].line;
			f->name = loc.frames[i].function;
			if (!f->name) {
				const char *base = loc.module ? strrchr(loc.module, '/') : NULL;
				base = base ? base + 1 : loc.module ? loc.module : "unknown";
				int n = snprintf(buf, sizeof(buf), "[%s]", base);
				f->name = n > 0 && (size_t)n < sizeof(buf) ? arena_memdup(&hs->names, buf, (size_t)n)
									   : arena_memdup(&hs->names, "[?]", 3);
			}
		}
		e->nframes = (uint32_t)loc.nframes;
	} else {
		int n = snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)ip);
		hs->frames = xgrow(hs->frames, sizeof(*hs->frames), hs->nframes + 1, &hs->frames_cap);
		hs->frames[hs->nframes++] = (struct heapframe){arena_memdup(&hs->names, buf, (size_t)n), NULL, 0, NULL};
		e->nframes = 1;
	}
	return e;
}

size_t heapsym_stack(struct heapsym *hs, const struct heapstats *h, uint64_t stack_id,
		     struct heapframe *frames, size_t max)
{
	uint64_t ips[256];
	size_t n = heapstats_stack(h, stack_id, ips, 256), k = 0;
	if (n > 256)
		n = 256;
	bool leading = true;
	for (size_t i = 0; i < n && k < max; i++) {
		struct hs_entry *e = resolve(hs, ips[i]);
		if (leading && e->tracker)
			continue;
		leading = false;
		for (uint32_t j = 0; j < e->nframes && k < max; j++) {
			frames[k] = hs->frames[e->frame_off + j];
			frames[k++].module = e->module;
		}
	}
	return k;
}

static uint64_t location_of(struct heapsym *hs, struct profile *p, struct heapmap *maps, uint64_t ip)
{
	struct hs_entry *e = resolve(hs, ip);
	if (e->loc_id)
		return e->loc_id;
	uint64_t mid = 0;
	if (e->module) {
		bool added;
		struct heapmap_slot *ms = heapmap_put(maps, e->mapping_start ? e->mapping_start : 1, &added);
		if (added)
			ms->val = profile_add_mapping(p, e->mapping_start, e->mapping_limit, e->mapping_offset,
						      profile_interns(p, e->module),
						      profile_interns(p, e->build_id ? e->build_id : ""),
						      PROFILE_MAPPING_HAS_FUNCTIONS | PROFILE_MAPPING_HAS_FILENAMES |
							      PROFILE_MAPPING_HAS_LINE_NUMBERS |
							      PROFILE_MAPPING_HAS_INLINE_FRAMES);
		mid = ms->val;
	}
	struct profile_line lines[64];
	size_t nl = 0;
	for (uint32_t j = 0; j < e->nframes && nl < 64; j++) {
		const struct heapframe *f = &hs->frames[e->frame_off + j];
		uint64_t fid = profile_intern_function(p, f->name, f->name, f->file ? f->file : "", 0);
		lines[nl++] = (struct profile_line){fid, f->line, 0};
	}
	/* a return address: point pprof at the call instruction */
	e->loc_id = profile_add_location(p, mid, ip ? ip - 1 : 0, lines, nl, 0);
	return e->loc_id;
}

int heapprof_build(const struct heapstats *h, struct heapsym *hs, bool inuse_at_exit,
		   struct profile *out)
{
	profile_init(out);
	profile_add_sample_type(out, "alloc_objects", "count");
	profile_add_sample_type(out, "alloc_space", "bytes");
	profile_add_sample_type(out, "inuse_objects", "count");
	profile_add_sample_type(out, "inuse_space", "bytes");
	out->period_type.type = profile_interns(out, "space");
	out->period_type.unit = profile_interns(out, "bytes");
	out->period = h->header.sample_bytes ? h->header.sample_bytes : 1;
	out->time_nanos = (int64_t)h->header.start_realtime_ns;
	out->duration_nanos = (int64_t)h->last_time * 1000;
	out->comments = xmalloc(sizeof(*out->comments));
	out->comments[0] = profile_interns(out, inuse_at_exit ? "kiln heap: inuse = not freed at exit"
							      : "kiln heap: inuse = live at the peak");
	out->ncomments = out->comments_cap = 1;
	for (size_t i = 0; i < hs->nentries; i++)
		hs->entries[i].loc_id = 0;
	struct heapmap maps = {0};
	uint64_t ips[256], locs[256];
	for (size_t i = 0; i < h->nsites; i++) {
		const struct heapsite *s = &h->sites[i];
		int64_t v[4] = {(int64_t)s->allocs, (int64_t)s->bytes,
				(int64_t)(inuse_at_exit ? s->live_count : s->peak_count),
				(int64_t)(inuse_at_exit ? s->live_bytes : s->peak_bytes)};
		if (!v[0] && !v[2])
			continue;
		size_t n = heapstats_stack(h, s->stack_id, ips, 256), k = 0;
		if (n > 256)
			n = 256;
		bool leading = true;
		for (size_t j = 0; j < n; j++) {
			if (leading && resolve(hs, ips[j])->tracker)
				continue;
			leading = false;
			uint64_t l = location_of(hs, out, &maps, ips[j]);
			if (l)
				locs[k++] = l;
		}
		if (k == 0) {
			uint64_t fid = profile_intern_function(out, "[unknown]", "[unknown]", "", 0);
			struct profile_line ln = {fid, 0, 0};
			locs[k++] = profile_add_location(out, 0, 0, &ln, 1, 0);
		}
		profile_add_sample(out, v, 4, locs, k, NULL, 0);
	}
	heapmap_release(&maps);
	return 0;
}
