/* heapstats: one pass over a heap trace computes every total, the series
 * and the peak; each site also counts its change in live blocks and bytes
 * since the latest peak (the sites changed since then are listed, so a new
 * peak resets only those), and the peak's state is the end state less that
 * change. Events give size and stack (sites by stack id in an array), so
 * the pass is arithmetic; only mmaps are kept by address (an unmap may
 * cover part of one).
 * Invariant: a site's live bytes are the sizes of its allocations minus
 * those of its frees (the tracker writes a free for every block it saw
 * allocated, a missed one included). */
#include "analyze/heapstats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/xalloc.h"

const char *const heapstats_bucket_names[HEAPSTATS_NBUCKETS] = {
	"tiny (< 1 KiB)", "small (1-64 KiB)", "medium (64 KiB-1 MiB)", "large (1-16 MiB)",
	"huge (> 16 MiB)",
};

static int bucket_of(uint64_t size)
{
	if (size < 1024)
		return HEAPSTATS_TINY;
	if (size < 64 * 1024)
		return HEAPSTATS_SMALL;
	if (size < HEAPSTATS_LARGE)
		return HEAPSTATS_MEDIUM;
	if (size <= HEAPSTATS_HUGE)
		return HEAPSTATS_LARGE_B;
	return HEAPSTATS_HUGE_B;
}

static size_t new_site(struct heapstats *h, uint64_t stack_id)
{
	h->sites = xgrow(h->sites, sizeof(*h->sites), h->nsites + 1, &h->sites_cap);
	struct heapsite *site = &h->sites[h->nsites];
	memset(site, 0, sizeof(*site));
	site->stack_id = stack_id;
	return h->nsites++;
}

/* Stack ids count from 1, so small ones index an array (1 + site index,
 * 0: none yet); a stray large one (a damaged trace) goes to the map. */
#define DENSE_STACKS ((uint64_t)1 << 26)

static size_t new_site_index(struct heapstats *h, uint64_t stack_id);

static inline size_t site_index(struct heapstats *h, uint64_t stack_id)
{
	if (__builtin_expect(stack_id < h->nsite_by_stack && h->site_by_stack[stack_id], 1))
		return h->site_by_stack[stack_id] - 1;
	return new_site_index(h, stack_id);
}

static size_t new_site_index(struct heapstats *h, uint64_t stack_id)
{
	if (stack_id < DENSE_STACKS) {
		if (stack_id >= h->nsite_by_stack) {
			size_t old = h->nsite_by_stack;
			h->site_by_stack = xgrow(h->site_by_stack, sizeof(*h->site_by_stack), stack_id + 1,
						 &h->nsite_by_stack);
			memset(h->site_by_stack + old, 0, (h->nsite_by_stack - old) * sizeof(*h->site_by_stack));
		}
		size_t si = new_site(h, stack_id);
		h->site_by_stack[stack_id] = (uint32_t)si + 1;
		return si;
	}
	bool added;
	struct heapmap_slot *s = heapmap_put(&h->site_of, stack_id, &added);
	if (!added)
		return s->aux;
	size_t si = new_site(h, stack_id);
	/* new_site may move h->sites, not the map */
	heapmap_get(&h->site_of, stack_id)->aux = (uint32_t)si;
	return si;
}

/* ---- the time series: fixed number of points, interval doubled as the
 * trace grows longer --------------------------------------------------- */

static void series_note(struct heapstats *h, uint64_t t)
{
	if (!h->series) {
		h->series = xcalloc(HEAPSTATS_SERIES_MAX, sizeof(*h->series));
		h->series_step = 1000; /* 1 ms */
		h->nseries = 1;
		h->series[0].live = h->live_bytes;
	}
	while (t / h->series_step >= HEAPSTATS_SERIES_MAX) {
		size_t n = 0;
		for (size_t i = 0; i < h->nseries; i += 2, n++) {
			struct heappoint p = h->series[i];
			if (i + 1 < h->nseries) {
				if (h->series[i + 1].live > p.live)
					p.live = h->series[i + 1].live;
				p.rss = h->series[i + 1].rss;
			}
			p.time = n * h->series_step * 2;
			h->series[n] = p;
		}
		h->nseries = n;
		h->series_step *= 2;
	}
	size_t idx = (size_t)(t / h->series_step);
	while (h->nseries <= idx) {
		struct heappoint *p = &h->series[h->nseries];
		p->time = h->nseries * h->series_step;
		p->live = h->live_bytes;
		p->rss = h->series[h->nseries - 1].rss;
		h->nseries++;
	}
	h->series_next = h->nseries * h->series_step; /* the next point's start */
}

static void series_live(struct heapstats *h)
{
	struct heappoint *p = &h->series[h->nseries - 1];
	if (h->live_bytes > p->live)
		p->live = h->live_bytes;
}

/* ---- allocation and free, shared by both passes ---------------------- */

/* Live bytes may dip below zero for a moment: another thread's free can be
 * read before the allocation it frees (threads' records interleave). */
static inline bool above(uint64_t live, uint64_t peak)
{
	return (int64_t)live > (int64_t)peak;
}

/* A site's live state changed by (count, bytes): also its change since
 * the peak, for the peak's attribution at the end (the sites changed since
 * the peak are listed, so a new peak resets only them). */
static inline void change_live(struct heapstats *h, size_t si, int64_t count, int64_t bytes)
{
	struct heapsite *site = &h->sites[si];
	site->live_bytes += (uint64_t)bytes;
	site->live_count += (uint64_t)count;
	h->live_bytes += (uint64_t)bytes;
	h->live_count += (uint64_t)count;
	if (!site->since_peak_listed) {
		site->since_peak_listed = true;
		h->changed = xgrow(h->changed, sizeof(*h->changed), h->nchanged + 1, &h->changed_cap);
		h->changed[h->nchanged++] = (uint32_t)si;
	}
	site->since_peak_count += count;
	site->since_peak_bytes += bytes;
}

static void new_peak(struct heapstats *h, uint64_t t)
{
	h->peak_bytes = h->live_bytes;
	h->peak_count = h->live_count;
	h->peak_time = t;
	h->peak_seq = h->seq;
	for (size_t i = 0; i < h->nchanged; i++) {
		struct heapsite *site = &h->sites[h->changed[i]];
		site->since_peak_listed = false;
		site->since_peak_count = site->since_peak_bytes = 0;
	}
	h->nchanged = 0;
}

/* The series: one point per series_step microseconds; t in the current
 * point is the common case. */
static inline void series_at(struct heapstats *h, uint64_t t)
{
	if (__builtin_expect(t >= h->series_next || !h->series, 0))
		series_note(h, t);
}

/* An allocation of size at site si (the caller made it live). */
static void count_alloc(struct heapstats *h, uint64_t t, uint64_t size, size_t si, bool is_mmap)
{
	h->seq++;
	struct heapsite *site = &h->sites[si];
	site->allocs++;
	site->bytes += size;
	if (size > site->max_size)
		site->max_size = size;
	if (size > HEAPSTATS_LARGE)
		site->large++;
	h->allocs++;
	h->alloc_bytes += size;
	if (is_mmap) {
		h->mmaps++;
		h->mmap_bytes += size;
	}
	int b = bucket_of(size);
	h->bucket_count[b]++;
	h->bucket_bytes[b] += size;
	h->pow2_count[size ? 64 - __builtin_clzll(size) : 0]++;
	if (t > h->last_time)
		h->last_time = t;
	series_at(h, t);
	series_live(h);
	if (above(h->live_bytes, h->peak_bytes))
		new_peak(h, t);
}

static int do_alloc(struct heapstats *h, uint64_t t, uint64_t size, uint64_t stack_id)
{
	size_t si = site_index(h, stack_id);
	change_live(h, si, 1, (int64_t)size);
	count_alloc(h, t, size, si, false);
	return 0;
}

static int do_free(struct heapstats *h, uint64_t t, uint64_t size, uint64_t stack_id, bool temporary)
{
	h->seq++;
	size_t si = site_index(h, stack_id);
	change_live(h, si, -1, -(int64_t)size);
	h->frees++;
	if (temporary) {
		h->temporary++;
		h->sites[si].temporary++;
	}
	if (t > h->last_time)
		h->last_time = t;
	series_at(h, t);
	return 0;
}

/* mmap and munmap: blocks by address, since an unmap may cover part of a
 * mapping. */
static int do_mmap(struct heapstats *h, uint64_t t, uint64_t addr, uint64_t len, uint64_t stack_id)
{
	size_t si = site_index(h, stack_id);
	if (addr) { /* (a mapping at 0 is counted, never live) */
		bool added;
		struct heapmap_slot *ls = heapmap_put(&h->maps, addr, &added);
		if (!added) /* a missed unmap: drop the old mapping */
			change_live(h, ls->aux, -1, -(int64_t)ls->val);
		ls->val = len;
		ls->aux = (uint32_t)si;
		change_live(h, si, 1, (int64_t)len);
	}
	count_alloc(h, t, len, si, true);
	return 0;
}

static int do_munmap(struct heapstats *h, uint64_t t, uint64_t addr, uint64_t len)
{
	h->seq++;
	struct heapmap_slot *s = heapmap_get(&h->maps, addr);
	if (s && len && len < s->val) {
		/* unmaps the front of a mapping: the rest stays live */
		uint64_t rest = s->val - len;
		uint32_t si = s->aux;
		heapmap_remove(&h->maps, addr, NULL);
		bool added;
		struct heapmap_slot *n = heapmap_put(&h->maps, addr + len, &added);
		n->val = rest;
		n->aux = si;
		change_live(h, si, 0, -(int64_t)len);
	} else if (s) {
		struct heapmap_slot old;
		heapmap_remove(&h->maps, addr, &old);
		change_live(h, old.aux, -1, -(int64_t)old.val);
	} else if (addr) {
		h->unmatched_frees++;
	}
	if (t > h->last_time)
		h->last_time = t;
	series_at(h, t);
	return 0;
}

/* ---- sink callbacks ------------------------------------------------------ */

static int on_header(void *ctx, const struct heaptrace_header *hd)
{
	struct heapstats *h = ctx;
	h->header = *hd;
	return 0;
}

static int on_module(void *ctx, uint64_t id, uint64_t start, uint64_t end, uint64_t off,
		     const char *path, size_t path_len, const unsigned char *bid, size_t bid_len)
{
	(void)id;
	struct heapstats *h = ctx;
	h->modules = xgrow(h->modules, sizeof(*h->modules), h->nmodules + 1, &h->modules_cap);
	struct heapmodule *m = &h->modules[h->nmodules++];
	m->start = start;
	m->end = end;
	m->offset = off;
	m->path = xmemdup(path ? path : "", path_len);
	m->build_id = bid_len ? (unsigned char *)xmemdup(bid, bid_len) : NULL;
	m->build_id_len = bid_len;
	return 0;
}

static int on_stack(void *ctx, uint64_t id, uint64_t parent, uint64_t ip)
{
	struct heapstats *h = ctx;
	if (id == 0)
		return 0;
	size_t pidx = SIZE_MAX;
	if (parent) {
		struct heapmap_slot *ps = heapmap_get(&h->node_of, parent);
		if (ps)
			pidx = (size_t)ps->val;
	}
	bool added;
	struct heapmap_slot *s = heapmap_put(&h->node_of, id, &added);
	if (!added)
		return 0; /* the first definition wins */
	if (h->nnodes == h->nodes_cap) {
		h->nodes_cap = h->nodes_cap ? h->nodes_cap * 2 : 1024;
		h->node_parent = xrealloc(h->node_parent, h->nodes_cap * sizeof(*h->node_parent));
		h->node_ip = xrealloc(h->node_ip, h->nodes_cap * sizeof(*h->node_ip));
	}
	h->node_parent[h->nnodes] = pidx;
	h->node_ip[h->nnodes] = ip;
	s->val = h->nnodes++;
	return 0;
}

static int on_alloc(void *ctx, uint64_t t, uint64_t size, uint64_t stack, uint64_t tid)
{
	(void)tid;
	return do_alloc(ctx, t, size, stack);
}

static int on_free(void *ctx, uint64_t t, uint64_t size, uint64_t stack, uint64_t tid, bool temporary)
{
	(void)tid;
	return do_free(ctx, t, size, stack, temporary);
}

static int on_mmap(void *ctx, uint64_t t, uint64_t addr, uint64_t len, uint64_t stack, uint64_t tid)
{
	(void)tid;
	return do_mmap(ctx, t, addr, len, stack);
}

static int on_munmap(void *ctx, uint64_t t, uint64_t addr, uint64_t len, uint64_t tid)
{
	(void)tid;
	return do_munmap(ctx, t, addr, len ? len : 1);
}

static int on_rss(void *ctx, uint64_t t, uint64_t rss)
{
	struct heapstats *h = ctx;
	h->rss_samples++;
	if (rss > h->rss_max) {
		h->rss_max = rss;
		h->rss_max_time = t;
		h->live_at_rss_max = h->live_bytes;
	}
	h->rss_last = rss;
	h->live_at_rss_last = h->live_bytes;
	if (t > h->last_time)
		h->last_time = t;
	series_note(h, t);
	h->series[h->nseries - 1].rss = rss;
	return 0;
}

static int on_bad_free(void *ctx, uint64_t t, uint64_t ptr, uint64_t stack, uint64_t kind)
{
	(void)t, (void)ptr, (void)stack;
	struct heapstats *h = ctx;
	if (kind == HT_BAD_DOUBLE_FREE)
		h->double_frees++;
	else
		h->unknown_frees++;
	return 0;
}

static int on_leak(void *ctx, uint64_t ptr, uint64_t size, uint64_t stack, uint64_t kind)
{
	(void)ptr;
	struct heapstats *h = ctx;
	if (kind > HT_LEAK_DEFINITELY)
		kind = HT_LEAK_DEFINITELY;
	h->have_leaks = true;
	h->leak_count[kind]++;
	h->leak_bytes[kind] += size;
	size_t si = site_index(h, stack); /* may grow h->sites: index first */
	struct heapsite *s = &h->sites[si];
	s->leak_count[kind]++;
	s->leak_bytes[kind] += size;
	return 0;
}

static int on_end(void *ctx, uint64_t t, uint64_t how, uint64_t status)
{
	struct heapstats *h = ctx;
	h->have_end = true;
	h->end_time = t;
	h->end_how = how;
	h->end_status = status;
	if (t > h->last_time)
		h->last_time = t;
	return 0;
}

static void sink_of(struct heapstats *h, struct heaptrace_sink *k)
{
	*k = (struct heaptrace_sink){
		.ctx = h, .header = on_header, .module = on_module, .stack = on_stack,
		.alloc = on_alloc, .free = on_free, .rss = on_rss, .bad_free = on_bad_free,
		.leak = on_leak, .end = on_end, .mmap = on_mmap, .munmap = on_munmap,
	};
}

/* After the pass: the peak's state is the end state less the changes
 * since the peak. */
static void peak_sites(struct heapstats *h)
{
	for (size_t i = 0; i < h->nsites; i++) {
		struct heapsite *s = &h->sites[i];
		s->peak_count = s->live_count - (uint64_t)s->since_peak_count;
		s->peak_bytes = s->live_bytes - (uint64_t)s->since_peak_bytes;
	}
	free(h->changed);
	h->changed = NULL;
	h->nchanged = h->changed_cap = 0;
	heapmap_release(&h->maps);
}

static int analyze(struct heapstats *h, int fd, const void *data, size_t len, struct diag *d)
{
	memset(h, 0, sizeof(*h));
	struct heaptrace_sink k;
	sink_of(h, &k);
	int rc = fd >= 0 ? heaptrace_read_fd(fd, &k, &h->read, d)
			 : heaptrace_read_mem(data, len, &k, &h->read, d);
	peak_sites(h);
	return rc;
}

int heapstats_analyze_fd(struct heapstats *h, int fd, struct diag *d)
{
	return analyze(h, fd, NULL, 0, d);
}

int heapstats_analyze_file(struct heapstats *h, const char *path, struct diag *d)
{
	memset(h, 0, sizeof(*h));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = heapstats_analyze_fd(h, fd, d);
	close(fd);
	return rc;
}

int heapstats_analyze_mem(struct heapstats *h, const void *data, size_t len, struct diag *d)
{
	return analyze(h, -1, data, len, d);
}

void heapstats_release(struct heapstats *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nmodules; i++) {
		free(h->modules[i].path);
		free(h->modules[i].build_id);
	}
	free(h->modules);
	free(h->sites);
	free(h->series);
	free(h->node_parent);
	free(h->node_ip);
	free(h->site_by_stack);
	free(h->changed);
	heapmap_release(&h->maps);
	heapmap_release(&h->site_of);
	heapmap_release(&h->node_of);
	memset(h, 0, sizeof(*h));
}

size_t heapstats_stack(const struct heapstats *h, uint64_t stack_id, uint64_t *ips, size_t max)
{
	struct heapmap_slot *s = stack_id ? heapmap_get(&h->node_of, stack_id) : NULL;
	if (!s)
		return 0;
	size_t n = 0;
	for (size_t i = (size_t)s->val; i != SIZE_MAX && n <= h->nnodes; i = h->node_parent[i]) {
		if (n < max)
			ips[n] = h->node_ip[i];
		n++;
	}
	return n;
}

uint64_t heapstats_key_value(const struct heapstats *h, const struct heapsite *s, enum heapstats_key key)
{
	switch (key) {
	case HEAPSTATS_BY_BYTES: return s->bytes;
	case HEAPSTATS_BY_COUNT: return s->allocs;
	case HEAPSTATS_BY_PEAK: return s->peak_bytes;
	case HEAPSTATS_BY_TEMPORARY: return s->temporary;
	case HEAPSTATS_BY_LEAKED:
		if (h->have_leaks)
			return s->leak_bytes[HT_LEAK_DEFINITELY] + s->leak_bytes[HT_LEAK_INDIRECTLY] +
			       s->leak_bytes[HT_LEAK_POSSIBLY];
		return s->live_bytes;
	}
	return 0;
}

static const struct heapstats *sort_h;
static enum heapstats_key sort_key;

static int cmp_sites(const void *a, const void *b)
{
	const struct heapsite *x = &sort_h->sites[*(const size_t *)a], *y = &sort_h->sites[*(const size_t *)b];
	uint64_t vx = heapstats_key_value(sort_h, x, sort_key), vy = heapstats_key_value(sort_h, y, sort_key);
	if (vx != vy)
		return vx > vy ? -1 : 1;
	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

size_t *heapstats_sorted(const struct heapstats *h, enum heapstats_key key, size_t *n)
{
	size_t *idx = xmalloc((h->nsites + 1) * sizeof(*idx)), k = 0;
	for (size_t i = 0; i < h->nsites; i++)
		if (heapstats_key_value(h, &h->sites[i], key))
			idx[k++] = i;
	sort_h = h;
	sort_key = key;
	qsort(idx, k, sizeof(*idx), cmp_sites);
	*n = k;
	return idx;
}

struct heapfinding *heapstats_findings(const struct heapstats *h, size_t *n)
{
	struct heapfinding *f = NULL;
	size_t cap = 0, k = 0;
#define ADD(KIND, SITE, COUNT, BYTES)                                              \
	do {                                                                       \
		f = xgrow(f, sizeof(*f), k + 1, &cap);                             \
		f[k++] = (struct heapfinding){(KIND), (SITE), (COUNT), (BYTES)};   \
	} while (0)
	for (size_t i = 0; i < h->nsites; i++) {
		const struct heapsite *s = &h->sites[i];
		uint64_t lc = h->have_leaks ? s->leak_count[HT_LEAK_DEFINITELY] + s->leak_count[HT_LEAK_INDIRECTLY] +
						      s->leak_count[HT_LEAK_POSSIBLY]
					    : s->live_count;
		if (lc >= 5)
			ADD(HEAPFIND_LOOP_LEAK, i, lc, heapstats_key_value(h, s, HEAPSTATS_BY_LEAKED));
		if (s->large >= 10)
			ADD(HEAPFIND_FREQUENT_LARGE, i, s->large, s->bytes);
		if (s->allocs >= 10000 && s->bytes / s->allocs < 256)
			ADD(HEAPFIND_POOL, i, s->allocs, s->bytes);
		if (s->max_size > HEAPSTATS_HUGE)
			ADD(HEAPFIND_STREAM, i, 1, s->max_size);
	}
	/* exponential growth: the highest live heap of each quarter of the run
	 * at least 1.8 times the previous quarter's, ending above 1 MiB */
	if (h->nseries >= 8) {
		uint64_t q[4] = {0};
		for (size_t i = 0; i < h->nseries; i++) {
			size_t qi = i * 4 / h->nseries;
			if (h->series[i].live > q[qi])
				q[qi] = h->series[i].live;
		}
		if (q[0] && q[1] * 10 >= q[0] * 18 && q[2] * 10 >= q[1] * 18 && q[3] * 10 >= q[2] * 18 &&
		    q[3] > HEAPSTATS_LARGE)
			ADD(HEAPFIND_EXP_GROWTH, SIZE_MAX, 4, q[3]);
	}
#undef ADD
	*n = k;
	return f;
}
