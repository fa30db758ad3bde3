/* budget: kiln check's performance budgets: what each one limits, how its
 * limit is written (sizes, rates, percents), how flags and budget files set
 * them, and the verdict of a results summary against them.
 * Invariant: only budgets that were given (and not turned "off") are
 * evaluated; a budget whose figure the run lacks is a skip with the reason,
 * or a failure under strict, never a pass. */
#ifndef KILN_ANALYZE_BUDGET_H
#define KILN_ANALYZE_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/selfshare.h"
#include "base/error.h"
#include "format/runsummary.h"

enum budget_kind {
	BUDGET_MAX_SELF,       /* percent: the top function's self share */
	BUDGET_MAX_LOCK_WAIT,  /* percent: offcpu.lock_wait_pct */
	BUDGET_MAX_HEAP,       /* bytes: heap.peak_bytes */
	BUDGET_MAX_RSS,        /* bytes: mem.peak_rss, else heap.peak_rss */
	BUDGET_NO_LEAKS,       /* flag: heap.leaks.definite_bytes == 0 */
	BUDGET_HEAP_STABLE,    /* flag: growth under BUDGET_STABLE_MB_PER_HOUR */
	BUDGET_MAX_ALLOC_RATE, /* bytes per second: heap.alloc_rate_bps */
	BUDGET_MAX_FRAG,       /* percent: heap.frag_pct */
	BUDGET_MAX_REGRESS,    /* points (CPU self share) and percent (peak heap) */
	BUDGET_NKINDS
};

/* --heap-stable's threshold: growth above this many MB (10^6 bytes) per
 * hour is a leak-like trend, as kiln mem's default leak verdict says. */
#define BUDGET_STABLE_MB_PER_HOUR 10.0

struct budget_limit {
	bool given;    /* named by a flag or a file, perhaps as "off" */
	bool on;       /* to be checked */
	bool binary;   /* a size or rate written in KiB/MiB/GiB/TiB */
	double value;  /* percent, bytes, bytes per second or points */
	char text[32]; /* the limit as shown: "10%", "500MB", "100MB/s", "0" */
};

struct budget {
	struct budget_limit limits[BUDGET_NKINDS];
	char *baseline;     /* the baseline results folder; NULL: none */
	bool strict;        /* a budget without data fails instead of skipping */
	bool seed_defaults; /* apply budget_seed_defaults() under the rest */
};

/* The key of a kind, which is also its flag without the dashes. */
const char *budget_key(enum budget_kind k);

/* Value parsers; s is the whole value, blanks around it allowed.
 * Sizes: a number (fractions allowed) and an optional unit: B, K/KB, M/MB,
 * G/GB, T/TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), any
 * case, a blank before the unit allowed; no unit means bytes. *binary says
 * which family the unit was (false for none). Rates: a size and "/s".
 * Percents: a number with an optional '%', 0 to 100. Points: a number of 0
 * or more with an optional '%' (the --max-regress value). Each returns 0,
 * or -EINVAL for text that is not one (nothing is written then). */
int budget_parse_size(const char *s, double *bytes, bool *binary);
int budget_parse_rate(const char *s, double *bytes_per_s, bool *binary);
int budget_parse_percent(const char *s, double *pct);
int budget_parse_points(const char *s, double *points);
/* true/yes/on/1 and false/no/off/0. */
int budget_parse_bool(const char *s, bool *v);

void budget_init(struct budget *b);
void budget_release(struct budget *b);

/* Sets one budget or setting from its key (a flag's name without the
 * dashes: "max-self", "no-leaks", "baseline", "max-regress", "strict",
 * "seed-defaults") and its text. value NULL is a flag given without one
 * (true). A budget's value "off" (or false) unsets it, so a later file or
 * flag can drop a budget an earlier one or --seed-defaults set. Returns 0,
 * or KILN_ERR_FORMAT with a message naming the key in d (line untouched). */
int budget_set(struct budget *b, const char *key, const char *value, struct diag *d);

/* Reads a budget file's text (src/format/budgetfile.h) into b, later
 * lines and files overriding earlier ones. Returns 0 or KILN_ERR_FORMAT
 * with d->line: a malformed line, an unknown key, a bad value, a key given
 * twice in the file. */
int budget_read_file(struct budget *b, const char *text, size_t len, struct diag *d);

/* Copies into dst what src gave (limits given, baseline), and ORs strict
 * and seed_defaults: src's settings win. */
void budget_merge(struct budget *dst, const struct budget *src);
/* Sets the seeds' checklist (max-self 10%, max-heap 500MB, max-alloc-rate
 * 100MB/s, max-frag 20%, no-leaks, heap-stable) where b gave nothing. */
void budget_seed_defaults(struct budget *b);

/* Checks that b can be evaluated: some budget is on, and max-regress and
 * baseline come together. Returns 0 or -EINVAL with the reason in d. */
int budget_validate(const struct budget *b, struct diag *d);

enum budget_verdict { BUDGET_PASS, BUDGET_FAIL, BUDGET_SKIP };

/* One row of kiln check's table. */
struct budget_result {
	enum budget_kind kind;
	const char *label;  /* "max-self", ...; "max-regress cpu" or "max-regress heap" */
	enum budget_verdict verdict;
	bool no_data;       /* the figure is missing (skip, or fail under strict) */
	char limit[48];
	char measured[192]; /* the figure and its worst offender, or why there is none */
};

/* max-regress yields two rows, every other budget one. */
#define BUDGET_MAX_RESULTS (BUDGET_NKINDS + 1)

/* What --baseline compares against. Any pointer may be NULL: the figures
 * it would give are missing, and cpu_missing (or a generic reason) says why. */
struct budget_baseline {
	const struct runsummary *summary;
	const struct selfshare *cpu;      /* this run's cpu.pb.gz */
	const struct selfshare *base_cpu; /* the baseline's */
	const char *cpu_missing;          /* e.g. "no cpu.pb.gz in the baseline" */
};

/* Evaluates every budget of b that is on against s, in enum order, into
 * out (room for BUDGET_MAX_RESULTS) and returns the number of rows.
 * base may be NULL when b has no max-regress. */
size_t budget_evaluate(const struct budget *b, const struct runsummary *s, const struct budget_baseline *base,
		       struct budget_result *out);

/* "pass", "fail" or "skip", as summary.json's checks say. */
const char *budget_verdict_name(enum budget_verdict v);

/* Formats bytes for people: exact below 1000 (1024 binary), else three
 * significant digits in KB/MB/GB/TB (KiB/MiB/GiB/TiB). Returns buf. */
char *budget_format_size(double bytes, bool binary, char *buf, size_t cap);

#endif
