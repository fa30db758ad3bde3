/* heapstats: a heap trace -> totals, the peak and the stacks that held it,
 * heap and RSS over time, call sites, temporaries, size histograms, leaks
 * and heuristics.
 * Invariant: the peak is exact, in one pass: each site's live bytes at the
 * peak are its bytes at the end less its change since the peak (no
 * snapshots are stored); memory is the distinct stacks and sites, the live
 * mmaps and a bounded time series.
 * Events are taken in file order (one thread's records are in time order;
 * threads' records may interleave by up to one flush of the writer). */
#ifndef KILN_ANALYZE_HEAPSTATS_H
#define KILN_ANALYZE_HEAPSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/heapmap.h"
#include "base/error.h"
#include "format/heaptrace.h"

#define HEAPSTATS_SERIES_MAX 1000 /* points in the heap-over-time series */
#define HEAPSTATS_LARGE ((uint64_t)1 << 20)   /* "large": over 1 MiB */
#define HEAPSTATS_HUGE ((uint64_t)16 << 20)   /* "huge": over 16 MiB */

/* The seed size buckets: tiny <1 KiB, small 1-64 KiB, medium 64 KiB-1 MiB,
 * large 1-16 MiB, huge >16 MiB (lower bound inclusive). */
enum { HEAPSTATS_TINY, HEAPSTATS_SMALL, HEAPSTATS_MEDIUM, HEAPSTATS_LARGE_B, HEAPSTATS_HUGE_B,
       HEAPSTATS_NBUCKETS };
extern const char *const heapstats_bucket_names[HEAPSTATS_NBUCKETS];

/* One allocation stack (a leaf stack id of the trace). */
struct heapsite {
	uint64_t stack_id;
	uint64_t allocs, bytes;           /* allocated in total */
	uint64_t temporary;               /* temporary allocations (see heapstats_options) */
	uint64_t live_count, live_bytes;  /* not freed at the end of the trace */
	uint64_t peak_count, peak_bytes;  /* live at the peak */
	uint64_t large;                   /* allocations over HEAPSTATS_LARGE */
	uint64_t max_size;
	uint64_t leak_count[4], leak_bytes[4]; /* HT_LEAK records, by HT_LEAK_* kind */
	/* working state of the analysis: the change in live blocks and bytes
	 * since the latest peak, and whether the site is listed as changed */
	int64_t since_peak_count, since_peak_bytes;
	bool since_peak_listed;
};

struct heapmodule {
	uint64_t start, end, offset;
	char *path;
	unsigned char *build_id;
	size_t build_id_len;
};

struct heappoint {
	uint64_t time;  /* microseconds: the start of the point's interval */
	uint64_t live;  /* the most live heap bytes in the interval */
	uint64_t rss;   /* the last RSS sample up to the interval's end (0: none yet) */
};

struct heapstats {
	struct heaptrace_header header;
	struct heaptrace_stats read;      /* of the first pass */

	uint64_t allocs, alloc_bytes, frees;
	uint64_t temporary;
	uint64_t live_count, live_bytes;  /* at the end of the trace */
	uint64_t peak_bytes, peak_count, peak_time;
	uint64_t peak_seq;                /* 1-based alloc/free event number of the peak; 0: none */
	uint64_t last_time;               /* latest record time seen */
	bool have_end;
	uint64_t end_time, end_how, end_status;
	uint64_t mmaps, mmap_bytes;       /* with HEAPTRACE_F_MMAP; included in the totals */

	uint64_t rss_samples, rss_max, rss_max_time, live_at_rss_max, rss_last, live_at_rss_last;

	uint64_t bucket_count[HEAPSTATS_NBUCKETS], bucket_bytes[HEAPSTATS_NBUCKETS];
	uint64_t pow2_count[65]; /* [0]: size 0; [i]: 2^(i-1) <= size < 2^i */

	uint64_t double_frees, unknown_frees; /* HT_BAD_FREE records */
	uint64_t unmatched_frees;             /* munmap of an address the trace never mapped */

	bool have_leaks;                      /* the trace has HT_LEAK records */
	uint64_t leak_count[4], leak_bytes[4];

	struct heappoint *series;
	size_t nseries;
	uint64_t series_step;                 /* microseconds per point */

	struct heapsite *sites;
	size_t nsites, sites_cap;
	struct heapmodule *modules;
	size_t nmodules, modules_cap;

	/* the stack trie: node i has parent node_parent[i] (an index, or
	 * SIZE_MAX for the root) and ip node_ip[i] */
	size_t *node_parent;
	uint64_t *node_ip;
	size_t nnodes, nodes_cap;

	/* working state */
	uint32_t *site_by_stack; /* stack id -> 1 + site index (0: none) */
	size_t nsite_by_stack;
	struct heapmap maps;     /* mmap address -> length, site index */
	struct heapmap site_of;  /* larger stack ids -> site index */
	struct heapmap node_of;  /* stack id -> node index */
	uint64_t seq;
	uint64_t series_next;      /* the time the next series point starts */
	uint32_t *changed;         /* sites changed since the latest peak */
	size_t nchanged, changed_cap;
};

/* Analyses the trace in fd (read once, from its current position).
 * Returns 0 or the reader's codes (heaptrace_read_fd); h is filled and must
 * be released with heapstats_release() in every case. */
int heapstats_analyze_fd(struct heapstats *h, int fd, struct diag *d);
/* The same on the file at path; -errno when it cannot be opened. */
int heapstats_analyze_file(struct heapstats *h, const char *path, struct diag *d);
/* The same over a buffer. */
int heapstats_analyze_mem(struct heapstats *h, const void *data, size_t len, struct diag *d);
void heapstats_release(struct heapstats *h); /* accepts a zeroed struct */

/* Writes up to max instruction pointers of stack_id, leaf first, to ips;
 * returns how many there are (may exceed max). */
size_t heapstats_stack(const struct heapstats *h, uint64_t stack_id, uint64_t *ips, size_t max);

/* Site orderings for the top tables. */
enum heapstats_key {
	HEAPSTATS_BY_BYTES, HEAPSTATS_BY_COUNT, HEAPSTATS_BY_PEAK, HEAPSTATS_BY_TEMPORARY,
	HEAPSTATS_BY_LEAKED, /* leak bytes of every kind but reachable, else live at exit */
};
/* Returns a malloc'd array of the indexes of the sites whose key is not
 * zero, sorted by key descending (ties: by stack id), and its length. */
size_t *heapstats_sorted(const struct heapstats *h, enum heapstats_key key, size_t *n);
uint64_t heapstats_key_value(const struct heapstats *h, const struct heapsite *s,
			     enum heapstats_key key);

/* Heuristic findings: facts that suggest a problem, not proof of one. */
struct heapfinding {
	enum { HEAPFIND_LOOP_LEAK, HEAPFIND_EXP_GROWTH, HEAPFIND_FREQUENT_LARGE, HEAPFIND_POOL,
	       HEAPFIND_STREAM } kind;
	size_t site;        /* site index; SIZE_MAX when not about one site */
	uint64_t count, bytes;
};
/* Returns a malloc'd array of findings and its length in *n. */
struct heapfinding *heapstats_findings(const struct heapstats *h, size_t *n);

#endif
