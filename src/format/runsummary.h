/* runsummary: summary.json, the headline figures of a `kiln run` results
 * folder, for machines (kiln check, kiln diff, the HTML report, CI scripts).
 * Invariant: the JSON written is the struct, field for field, and reading
 * it back gives the same struct; a section absent from the JSON (the run
 * did not use that profiler) has its has_* flag false and zeroed fields.
 * Unknown keys are ignored, so newer writers stay readable. */
#ifndef KILN_FORMAT_RUNSUMMARY_H
#define KILN_FORMAT_RUNSUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

#define RUNSUMMARY_VERSION 1
#define RUNSUMMARY_FILE "summary.json"

/* A function's share of a CPU (or off-CPU) profile. Percentages are of the
 * profile's total (0-100). */
struct runsummary_func {
	char *name;
	double self_pct, total_pct;
	double self_s; /* self time in seconds (samples x period) */
};

/* An allocation site (the innermost frame outside the allocator). */
struct runsummary_site {
	char *name;
	uint64_t bytes, count; /* allocated over the run */
	uint64_t peak_bytes;   /* held at the heap's peak */
	uint64_t leaked_bytes; /* definitely + indirectly lost at exit */
};

/* memcheck's four kinds, bytes and blocks. */
struct runsummary_leaks {
	uint64_t definite_bytes, definite_blocks;
	uint64_t indirect_bytes, indirect_blocks;
	uint64_t possible_bytes, possible_blocks;
	uint64_t reachable_bytes, reachable_blocks;
};

/* One budget's verdict, as kiln check prints it. */
struct runsummary_check {
	char *budget;   /* "max-self", "no-leaks", ... (the flag's name) */
	char *limit;    /* as given: "10%", "500MB", "0" */
	char *measured; /* readable: "23.4% in parse_request", "0 B" */
	char *verdict;  /* "pass", "fail" or "skip" (no data for it in this run) */
};

struct runsummary {
	int version; /* RUNSUMMARY_VERSION */
	char *name;  /* the results' name: the target's basename */
	char **argv; /* the target command, argc strings */
	size_t argc;
	char *started;      /* RFC 3339, UTC: "2026-11-22T06:30:00Z" */
	double duration_s;  /* the target's start to its end */
	char *target_end;   /* "exited 0", "exited 3", "killed by SIGKILL" */
	char *stopped_by;   /* NULL or "": it ended by itself; else "SIGINT", "SIGTERM" or "SIGKILL" */
	char *load_command; /* NULL: no load command */
	int load_exit;      /* its exit code; -1: none, or killed at --duration */
	double load_s;      /* the load phase's length in seconds */

	bool has_cpu; /* cpu.pb.gz, flame.svg, report.txt */
	struct {
		char *profile, *flame, *report; /* file names in the folder */
		uint64_t samples;
		double frequency_hz;
		double cpu_s; /* on-CPU seconds sampled, all threads */
		size_t ntop;  /* top functions by self, at most RUNSUMMARY_TOP */
		struct runsummary_func *top;
	} cpu;

	bool has_offcpu; /* offcpu.pb.gz, offcpu.svg */
	struct {
		char *profile, *flame;
		double wait_s;       /* off-CPU seconds, all threads */
		double wait_pct;     /* wait_s / (wait_s + cpu_s) x 100 */
		double lock_wait_s;  /* the part blocked in locks (futex, pthread mutex/cond/rwlock) */
		double lock_wait_pct; /* lock_wait_s / (wait_s + cpu_s) x 100 */
		size_t ntop;
		struct runsummary_func *top;
	} offcpu;

	bool has_heap; /* heap.kht (the trace), heap.pb.gz, heap.svg, leaks.txt */
	struct {
		char *trace, *profile, *chart, *leaks_file;
		uint64_t allocations, allocated_bytes;
		double alloc_rate_bps; /* bytes allocated per second of the run */
		uint64_t peak_bytes;   /* exact peak of the live heap */
		double peak_t;         /* seconds from start */
		uint64_t final_bytes;  /* live at exit */
		double growth_bph;     /* live-heap trend, bytes per hour (least squares) */
		uint64_t peak_rss;     /* 0: unknown */
		double frag_pct;       /* (rss - heap) / rss x 100 at the heap's peak; -1: unknown */
		uint64_t temporary;    /* short-lived allocations (as kiln heap report defines them) */
		struct runsummary_leaks leaks;
		size_t ntop; /* top sites by bytes allocated, at most RUNSUMMARY_TOP */
		struct runsummary_site *top;
	} heap;

	bool has_mem; /* mem.csv, mem.svg */
	struct {
		char *csv, *chart;
		size_t samples;
		double interval_s;
		uint64_t peak_rss, final_rss;
		double peak_t;
		double growth_mb_per_hour; /* rss trend, least squares */
		char *verdict;             /* kiln mem's heuristic verdict, e.g. "stable" */
	} mem;

	/* kiln check's verdicts on this run, written back by kiln check so
	 * the HTML report can show them; has_checks false until it has run. */
	bool has_checks;
	struct {
		char *checked_at; /* RFC 3339, UTC */
		bool passed;      /* no budget breached */
		size_t n;
		struct runsummary_check *items;
	} checks;
};

#define RUNSUMMARY_TOP 20

/* Writes s as pretty-printed JSON (2-space indent, keys in the order of the
 * struct). Returns 0, or -errno when writing fails. */
int runsummary_write(const struct runsummary *s, FILE *out);
/* Writes s to DIR/summary.json through a temporary file and rename. */
int runsummary_write_dir(const struct runsummary *s, const char *dir);

/* Parses JSON text into s (zeroed first; on error s is left zeroed).
 * Returns 0, KILN_ERR_FORMAT (not JSON, or a field of the wrong type, with
 * d saying where), or KILN_ERR_FORMAT for a version newer than this reader. */
int runsummary_parse(const char *text, size_t len, struct runsummary *s, struct diag *d);
/* Reads DIR/summary.json (or PATH when it names a file). -errno when it
 * cannot be read. */
int runsummary_read(const char *path, struct runsummary *s, struct diag *d);

/* Frees everything s owns and zeroes it; accepts a zeroed struct. */
void runsummary_release(struct runsummary *s);

/* The string helpers a producer uses: each replaces *dst with a copy. */
void runsummary_set(char **dst, const char *value);

#endif
