/* profile: kiln's in-memory profile, modelled on pprof's profile.proto:
 * sample types, samples, locations, functions and mappings in flat growable
 * arrays, every string stored once in one strtab.
 * Invariant: entities are addressed by ids, never pointers; the id of
 * functions, locations and mappings is their 1-based position in their
 * array, and every id stored in the profile names an existing entry (the
 * add functions check it). profile_release() frees everything. */
#ifndef KILN_MODEL_PROFILE_H
#define KILN_MODEL_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "model/strtab.h"

/* A (type, unit) pair of strtab ids, e.g. ("cpu", "nanoseconds"). */
struct profile_value_type {
	uint32_t type;
	uint32_t unit;
};

/* A sample label: key with a string value (str != 0) or a number. */
struct profile_label {
	uint32_t key;      /* strtab id */
	uint32_t str;      /* strtab id; 0 for a numeric label */
	int64_t num;
	uint32_t num_unit; /* strtab id; 0 when none */
};

/* One source position of a location. */
struct profile_line {
	uint64_t function_id; /* 0 when the function is unknown */
	int64_t line;
	int64_t column;
};

struct profile_function {
	uint64_t id;
	uint32_t name;        /* strtab ids */
	uint32_t system_name;
	uint32_t filename;
	int64_t start_line;
};

enum profile_mapping_flag {
	PROFILE_MAPPING_HAS_FUNCTIONS = 1 << 0,
	PROFILE_MAPPING_HAS_FILENAMES = 1 << 1,
	PROFILE_MAPPING_HAS_LINE_NUMBERS = 1 << 2,
	PROFILE_MAPPING_HAS_INLINE_FRAMES = 1 << 3,
};

struct profile_mapping {
	uint64_t id;
	uint64_t start;   /* first address */
	uint64_t limit;   /* one past the last address */
	uint64_t offset;  /* file offset of start */
	uint32_t filename; /* strtab ids */
	uint32_t build_id;
	unsigned flags;   /* enum profile_mapping_flag bits */
};

/* A code address. Its lines are p->lines[line_off .. line_off + nlines):
 * several lines are inlined frames, the innermost (leaf-most) first. */
struct profile_location {
	uint64_t id;
	uint64_t mapping_id; /* 0 when unknown */
	uint64_t address;
	size_t line_off;
	uint32_t nlines;
	int is_folded;
};

/* A sample: location ids p->sample_locs[loc_off .. + nlocs), leaf first;
 * labels p->labels[label_off .. + nlabels); values at
 * p->values[index * p->nsample_types], one per sample type. */
struct profile_sample {
	size_t loc_off;
	size_t label_off;
	uint32_t nlocs;
	uint32_t nlabels;
};

struct profile {
	struct strtab strs;

	struct profile_value_type *sample_types;
	size_t nsample_types, sample_types_cap;
	uint32_t default_sample_type; /* strtab id of a type name, 0 if unset */
	struct profile_value_type period_type;
	int64_t period;
	int64_t time_nanos;
	int64_t duration_nanos;
	uint32_t drop_frames, keep_frames, doc_url; /* strtab ids */
	uint32_t *comments; /* strtab ids */
	size_t ncomments, comments_cap;

	struct profile_sample *samples;
	size_t nsamples, samples_cap;
	int64_t *values; /* nsamples * nsample_types */
	size_t values_cap;
	uint64_t *sample_locs;
	size_t nsample_locs, sample_locs_cap;
	struct profile_label *labels;
	size_t nlabels, labels_cap;

	struct profile_location *locations;
	size_t nlocations, locations_cap;
	struct profile_line *lines;
	size_t nlines, lines_cap;

	struct profile_function *functions;
	size_t nfunctions, functions_cap;

	struct profile_mapping *mappings;
	size_t nmappings, mappings_cap;

	/* Lazily built indexes for the intern functions; derived data only. */
	uint32_t *fn_slots;     /* open addressing over function ids */
	size_t fn_slots_cap, fn_indexed;
	uint64_t *fn_location;  /* by function id - 1: its plain location */
	size_t fn_location_cap, loc_indexed;
};

/* Makes p an empty profile. profile_release() must follow. */
void profile_init(struct profile *p);
/* Frees everything p owns; accepts NULL and a released profile. */
void profile_release(struct profile *p);

/* Interns a string into the profile's strtab and returns its id. */
uint32_t profile_intern(struct profile *p, const char *s, size_t len);
uint32_t profile_interns(struct profile *p, const char *s);
/* Returns the string of strtab id, or "" for an id out of range. Valid
 * until profile_release(). */
const char *profile_str(const struct profile *p, uint32_t id);

/* Appends a sample type (C strings). Returns its index, or -EINVAL once
 * samples exist (every sample has one value per type). */
int profile_add_sample_type(struct profile *p, const char *type, const char *unit);

/* Appends a function (strtab ids) and returns its id. Returns 0 only when a
 * string id is out of range. No deduplication: see profile_intern_function. */
uint64_t profile_add_function(struct profile *p, uint32_t name, uint32_t system_name,
			      uint32_t filename, int64_t start_line);
/* Returns the id of the function with these exact fields (C strings; NULL
 * means ""), adding it if there is none. Never fails. */
uint64_t profile_intern_function(struct profile *p, const char *name, const char *system_name,
				 const char *filename, int64_t start_line);

/* Appends a mapping and returns its id, or 0 when a string id is out of
 * range. flags are enum profile_mapping_flag bits. */
uint64_t profile_add_mapping(struct profile *p, uint64_t start, uint64_t limit, uint64_t offset,
			     uint32_t filename, uint32_t build_id, unsigned flags);

/* Appends a location with nlines lines (innermost first, copied) and
 * returns its id. Returns 0 when mapping_id is neither 0 nor an existing
 * mapping or a line names a function that does not exist. */
uint64_t profile_add_location(struct profile *p, uint64_t mapping_id, uint64_t address,
			      const struct profile_line *lines, size_t nlines, int is_folded);

/* Appends a sample: nvalues values (must equal nsample_types), nlocs
 * location ids leaf first, nlabels labels; all copied. Returns 0, or
 * -EINVAL when the value count is wrong, a location id is 0 or missing, or
 * a label's strtab ids are out of range (nothing is added then). */
int profile_add_sample(struct profile *p, const int64_t *values, size_t nvalues,
		       const uint64_t *loc_ids, size_t nlocs,
		       const struct profile_label *labels, size_t nlabels);

/* Adds one folded stack, frames joined by ';' with the root first, as a
 * sample of count on sample type samples/count (added when the profile has
 * none yet; other types get 0). Each frame becomes one function (name and
 * system_name = the frame) and one location with a single line, both
 * deduplicated. Returns 0, or -EINVAL for an empty stack or a profile whose
 * existing sample types lack samples/count after samples were added. */
int profile_add_folded(struct profile *p, const char *stack, size_t len, int64_t count);

/* Lookups by id: return NULL for 0 or an id that does not exist. Pointers
 * stay valid until the next add to the same array or profile_release(). */
const struct profile_function *profile_function(const struct profile *p, uint64_t id);
const struct profile_location *profile_location(const struct profile *p, uint64_t id);
const struct profile_mapping *profile_mapping(const struct profile *p, uint64_t id);
/* Returns the lines of a location (innermost first), NULL when it has
 * none. */
static inline const struct profile_line *profile_location_lines(const struct profile *p,
								 const struct profile_location *loc)
{
	return loc->nlines ? p->lines + loc->line_off : NULL;
}
/* Returns sample i's values (nsample_types of them, NULL when there are no
 * sample types); i < nsamples. */
static inline const int64_t *profile_sample_values(const struct profile *p, size_t i)
{
	return p->nsample_types ? p->values + i * p->nsample_types : NULL;
}

/* Returns the value index a viewer shows by default: the sample type named
 * by default_sample_type when there is one (as go tool pprof does), else
 * the last. Returns KILN_ERR_EMPTY when there are no sample types. */
int profile_default_value_index(const struct profile *p);
/* Returns the index of the sample type whose type is name ("cpu",
 * "alloc_space"), or whose "type/unit" is name, or name as a decimal index.
 * Returns -EINVAL when nothing matches. */
int profile_value_index(const struct profile *p, const char *name);

/* Called once per sample by profile_for_each_stack(). stack (len bytes,
 * NUL-terminated) is valid only during the call. A non-zero return stops
 * the walk and is returned. */
typedef int (*profile_stack_fn)(void *ctx, const char *stack, size_t len, int64_t value);

/* Emits every sample with a non-zero value at value_index as a folded
 * stack: root first, frames joined by ';', inlined lines outermost to
 * innermost. A frame is its function's name (else system_name); without
 * one, "[mapping basename]", else "0x<address>", else "[unknown]". ';' in
 * a name becomes ':' and line breaks become spaces, so every stack is one
 * valid folded line. A sample without locations is "[unknown]". Samples are
 * not merged. Returns 0, -EINVAL for a bad value_index, or fn's result. */
int profile_for_each_stack(const struct profile *p, int value_index, profile_stack_fn fn,
			   void *ctx);

#endif
