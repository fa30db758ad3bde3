/* perfscript: `perf script` text -> folded stacks, in two dialects:
 * PERFSCRIPT_INFERNO matches inferno-collapse-perf 0.11 byte for byte and
 * PERFSCRIPT_PERL matches FlameGraph's stackcollapse-perf.pl.
 * Invariant: input is consumed in chunks cut at blank lines (event
 * boundaries), so memory is bounded by the distinct stacks plus a few
 * chunks, and the result does not depend on how the input was cut. */
#ifndef KILN_FORMAT_PERFSCRIPT_H
#define KILN_FORMAT_PERFSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/foldtab.h"

enum perfscript_dialect {
	PERFSCRIPT_INFERNO = 0,
	PERFSCRIPT_PERL = 1,
};

struct perfscript_options {
	enum perfscript_dialect dialect;
	bool include_pid;      /* --pid: "comm-PID" as the root frame */
	bool include_tid;      /* --tid: "comm-PID/TID"; implies include_pid */
	bool annotate_kernel;  /* --kernel: "_[k]" on kernel frames */
	bool annotate_jit;     /* --jit: "_[j]" on JIT frames */
	bool include_addrs;    /* --addrs: raw addresses for unknown symbols */
	const char *event_filter; /* --event-filter; NULL: the first event seen */
	const char *const *skip_after; /* --skip-after names (inferno dialect) */
	size_t nskip_after;
	unsigned nthreads;     /* worker threads; 0 or 1 = single-threaded */
};

/* A line the parser did not recognise; the anchors warn and go on. */
struct perfscript_warning {
	unsigned long line;   /* 1-based line number in the whole input */
	const char *kind;     /* "weird event line", "weird stack line", "unrecognized line" */
	const char *text;     /* the line, possibly cut short; NUL-terminated */
};

/* Called in input order, from the thread that called perfscript_collapse. */
typedef void (*perfscript_warn_fn)(void *ctx, const struct perfscript_warning *w);
/* Progress: bytes consumed so far. */
typedef void (*perfscript_progress_fn)(void *ctx, unsigned long long bytes);

struct perfscript_stats {
	unsigned long long bytes;
	unsigned long lines;
	unsigned long events;      /* samples counted into the output */
	unsigned long warnings;    /* unrecognised lines */
	char event[128];           /* the event type filtered for ("" if none) */
};

struct perfscript_io {
	perfscript_warn_fn warn;
	perfscript_progress_fn progress;
	void *ctx;
};

/* Reads perf script text from fd (after the prefix bytes already read from
 * it) and adds every sample's folded stack to out. Returns 0, -errno on a
 * read error, or KILN_ERR_BINARY for data with NUL bytes in place of text. */
int perfscript_collapse(int fd, const void *prefix, size_t prefix_len,
			const struct perfscript_options *o, const struct perfscript_io *io,
			struct foldtab *out, struct perfscript_stats *stats);

/* Same, on a buffer in memory (for tests and fuzzing). */
int perfscript_collapse_buffer(const char *data, size_t len, const struct perfscript_options *o,
			       const struct perfscript_io *io, struct foldtab *out,
			       struct perfscript_stats *stats);

/* Returns true if text looks like perf script output: its first line that
 * is neither empty nor a comment is an event line ("comm pid ... :") and the
 * line after it, if any, is a stack line or blank. */
bool perfscript_sniff(const char *text, size_t len);

#endif
