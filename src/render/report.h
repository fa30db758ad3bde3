/* report: a profile summarised as the top functions by self and total value
 * and as a call tree, optionally one group per thread, plus text and JSON
 * writers for it (kiln report).
 * Invariant: a frame counts once towards its total per sample however often
 * it recurs on the stack, as pprof counts; a report owns copies of every
 * string it shows, so it outlives the profile it was built from. */
#ifndef KILN_RENDER_REPORT_H
#define KILN_RENDER_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model/profile.h"
#include "model/strtab.h"

enum report_sort {
	REPORT_SORT_SELF,  /* self descending, then total, then name */
	REPORT_SORT_TOTAL, /* total descending, then self, then name */
	REPORT_SORT_NAME,  /* name, then file and line, ascending */
};

struct report_options {
	int value_index;       /* sample type to sum; -1: profile_default_value_index() */
	bool lines;            /* one row per function and source line */
	bool threads;          /* one group per thread label */
	bool tree;             /* build the call tree too */
	enum report_sort sort;
};

/* A distinct function, or function and line with lines set. */
struct report_frame {
	uint32_t name; /* report strtab ids */
	uint32_t file; /* 0 when unknown or not grouping by line */
	int64_t line;  /* 0 when unknown or not grouping by line */
};

struct report_row {
	uint32_t frame; /* index into r->frames */
	int64_t self;   /* value of samples whose leaf is this frame */
	int64_t total;  /* value of samples with this frame anywhere on the stack */
};

/* A call tree node: one frame reached by one path from the root. A group's
 * root node has no frame (frame == UINT32_MAX) and holds the group total. */
struct report_node {
	uint32_t frame;
	uint32_t parent;     /* node index; the root is its own parent */
	int64_t self;
	int64_t total;
	size_t child_off;    /* children: r->children[child_off .. + nchildren), */
	uint32_t nchildren;  /* sorted by total descending, then name */
};

/* The samples of one thread, or all samples when not split by thread. */
struct report_group {
	uint32_t thread;     /* strtab id of the thread's name; 0 for all or unlabelled */
	int64_t total;       /* sum of the values */
	uint64_t nstacks;    /* sample records with a non-zero value */
	int64_t nsamples;    /* sum of the samples/count type when present, else nstacks */
	struct report_row *rows; /* every frame seen, sorted as asked */
	size_t nrows;
	uint32_t root;       /* node index of the call tree's root (with tree) */
};

struct report {
	struct strtab strs;
	uint32_t sample_type, unit; /* strtab ids; "" for an empty profile */
	int value_index;            /* -1 for a profile without sample types */
	int64_t total;
	uint64_t nstacks;
	int64_t nsamples;
	bool samples_known;         /* nsamples sums a samples/count type */
	bool value_is_samples;      /* the value summed is that type itself */
	int64_t duration_nanos;
	bool by_thread;   /* groups are threads (options.threads) */
	bool has_threads; /* some sample carries a thread label */
	bool lines;
	enum report_sort sort;

	struct report_frame *frames;
	size_t nframes, frames_cap;
	/* Groups: all samples, or one per thread, largest total first, then
	 * by name; unlabelled samples form the group with thread 0. */
	struct report_group *groups;
	size_t ngroups;
	struct report_node *nodes; /* with tree: every group's nodes */
	size_t nnodes, nodes_cap;
	uint32_t *children;
	size_t nchildren;
};

/* Builds the report of p as o says into *r, which the caller then releases
 * with report_release(); r need not be initialised and is written only on
 * success. Thread labels are, by preference, "thread", "thread_name" and
 * "tid" (string or number). A profile without sample types gives an empty
 * report. Returns 0, or -EINVAL for a value_index that names no sample
 * type, or KILN_ERR_TOO_BIG when there are more than 2^32-2 frames or nodes. */
int report_build(struct report *r, const struct profile *p, const struct report_options *o);
/* Frees everything r owns; accepts NULL and a zeroed report. */
void report_release(struct report *r);

/* Re-sorts every group's rows. */
void report_sort_rows(struct report *r, enum report_sort sort);

/* The strings of r (valid until report_release()). */
const char *report_str(const struct report *r, uint32_t id);
/* Returns "(unlabelled)" for thread 0 of a report split by thread. */
const char *report_thread_name(const struct report *r, const struct report_group *g);

/* Returns 100 * v / total, or 0 when total is 0. */
double report_percent(int64_t v, int64_t total);

/* Formats v of unit for people: nanoseconds (and micro-, milliseconds,
 * seconds) as ns/us/ms/s, bytes as B/KiB/MiB/GiB/TiB, with at most two
 * decimals; any other unit as the plain integer. Writes at most cap bytes
 * (NUL included) into buf and returns buf. */
char *report_format_value(int64_t v, const char *unit, char *buf, size_t cap);

/* How the writers present a report. */
struct report_view {
	const char *input;  /* shown in the header; may be NULL */
	const char *format; /* the input's format name; may be NULL */
	size_t limit;       /* rows per group; 0 for all */
	bool tree;          /* text: the call tree instead of the table; JSON: add it */
	double min_percent; /* tree nodes below this share of their group are pruned */
};

/* Writes r as a text report to out: a header, then per group the table
 * (flat, flat%, sum%, cum, cum%, function) or, with v->tree, the indented
 * call tree. Returns 0, or -EIO (or -errno) when out reports an error. */
int report_write_text(const struct report *r, const struct report_view *v, FILE *out);
/* Writes r as one JSON object (documented in docs/report.md). Returns as
 * report_write_text() does. */
int report_write_json(const struct report *r, const struct report_view *v, FILE *out);

#endif
