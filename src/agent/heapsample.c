/* heapsample: the agent's sampled heap: per-stack sums of the samples that
 * src/heap (agent mode) hands to kh_agent_sample, turned with its liveset
 * and counters into totals, components, sites and a Go-style heap pprof.
 * Invariant: kh_agent_sample runs inside malloc (no malloc, one spinlock);
 * every other entry point runs with the guard set, so nothing is sampled. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "analyze/heapprof.h"
#include "analyze/heapstats.h"
#include "base/xalloc.h"
#include "format/pprof.h"
#include "heap/heap.h"

/* ---- the sink: sampled allocations by stack (runs inside malloc) ---- */

struct site {
	uint32_t stack, used;
	uint64_t count, bytes; /* raw samples */
	double objects, space;  /* unsampled at the period of each sample */
};

static atomic_int slock;
static struct site *stab;
static uint32_t smask, sused;

static inline uint32_t site_hash(uint32_t stack)
{
	return (uint32_t)((stack * 0x9e3779b97f4a7c15ull) >> 32);
}

static int site_grow(void)
{
	uint32_t cap = stab ? (smask + 1) * 2 : 1024;
	struct site *n = heap_map((size_t)cap * sizeof *n);
	if (!n)
		return -1;
	for (uint32_t i = 0; stab && i <= smask; i++) {
		if (!stab[i].used)
			continue;
		uint32_t j = site_hash(stab[i].stack) & (cap - 1);
		while (n[j].used)
			j = (j + 1) & (cap - 1);
		n[j] = stab[i];
	}
	if (stab)
		heap_unmap(stab, (size_t)(smask + 1) * sizeof *stab);
	stab = n;
	smask = cap - 1;
	return 0;
}

/* The probability that Poisson sampling of mean period catches a block of
 * size bytes is 1 - exp(-size/period); a sample stands for its inverse. */
void kh_agent_sample(uint32_t stack, uint64_t size)
{
	double scale = kh_sample_weight(size, (double)kh_sample_bytes);
	spin_lock(&slock);
	if (!stab || (sused + 1) * 4 > (smask + 1) * 3) {
		if (site_grow() < 0) {
			spin_unlock(&slock);
			return;
		}
	}
	uint32_t i = site_hash(stack) & smask;
	while (stab[i].used && stab[i].stack != stack)
		i = (i + 1) & smask;
	struct site *s = &stab[i];
	if (!s->used) {
		s->used = 1;
		s->stack = stack;
		sused++;
	}
	s->count++;
	s->bytes += size;
	s->objects += scale;
	s->space += scale * (double)size;
	spin_unlock(&slock);
}

/* ---- a snapshot: sites and live samples, by stack ---- */

struct agg {
	uint32_t stack;
	int comp; /* tag index, -1: untagged */
	double alloc_objects, alloc_space, inuse_objects, inuse_space;
};

struct snap {
	struct agg *a;
	size_t n, cap;
	struct heapmap by_stack; /* stack + 1 -> 1 + index into a */
	uint64_t period;         /* 0: sampling off */
};

static struct agg *agg_of(struct snap *s, uint32_t stack)
{
	bool added;
	struct heapmap_slot *sl = heapmap_put(&s->by_stack, (uint64_t)stack + 1, &added);
	if (!added)
		return &s->a[sl->val - 1];
	s->a = xgrow(s->a, sizeof(*s->a), s->n + 1, &s->cap);
	sl->val = ++s->n;
	struct agg *a = &s->a[s->n - 1];
	memset(a, 0, sizeof(*a));
	a->stack = stack;
	a->comp = -1;
	return a;
}

struct live_copy {
	struct live_one {
		uint64_t size;
		uint32_t stack;
	} *v;
	size_t n, cap;
};

static void live_visit(void *ctx, uintptr_t p, uint64_t size, uint32_t stack, uint32_t flags)
{
	(void)p;
	struct live_copy *c = ctx;
	if ((flags & LIVE_SILENT) || c->n >= c->cap)
		return;
	c->v[c->n++] = (struct live_one){size, stack};
}

/* The live samples, copied out of the liveset: its locks are held only
 * while copying into memory allocated beforehand. */
static int live_take(struct live_copy *c)
{
	memset(c, 0, sizeof(*c));
	for (int tries = 0; tries < 4; tries++) {
		if (liveset_trylock_all() < 0)
			return -EBUSY;
		size_t n = liveset_count_locked();
		liveset_fork_unlock();
		free(c->v);
		c->cap = n + n / 4 + 64;
		c->v = xmalloc(c->cap * sizeof(*c->v));
		c->n = 0;
		if (liveset_trylock_all() < 0)
			return -EBUSY;
		int fits = liveset_count_locked() <= c->cap;
		if (fits)
			liveset_each_locked(live_visit, c);
		liveset_fork_unlock();
		if (fits)
			return 0;
	}
	return -EAGAIN;
}

/* The tag index at the root of stack, -1 when none. */
static int component_of(uint32_t stack)
{
	uint32_t parent;
	uint64_t ip = 0;
	for (int n = 0; stack && n < 1024; n++, stack = parent)
		if (stacks_lookup(stack, &parent, &ip) < 0)
			return -1;
	return ip >= KH_TAG_IP_BASE ? (int)(ip - KH_TAG_IP_BASE) : -1;
}

static int snap_take(struct snap *s)
{
	memset(s, 0, sizeof(*s));
	s->period = atomic_load(&kh_agent_nosample) ? 0 : kh_sample_bytes;
	spin_lock(&slock);
	size_t n = sused;
	spin_unlock(&slock);
	struct site *copy = xmalloc((n + 1024) * sizeof(*copy));
	size_t k = 0;
	spin_lock(&slock);
	for (uint32_t i = 0; stab && i <= smask && k < n + 1024; i++)
		if (stab[i].used)
			copy[k++] = stab[i];
	spin_unlock(&slock);
	for (size_t i = 0; i < k; i++) {
		struct agg *a = agg_of(s, copy[i].stack);
		a->alloc_objects += copy[i].objects;
		a->alloc_space += copy[i].space;
	}
	free(copy);
	struct live_copy lc;
	int rc = live_take(&lc);
	double period = (double)kh_sample_bytes;
	for (size_t i = 0; i < lc.n; i++) {
		struct agg *a = agg_of(s, lc.v[i].stack);
		double scale = kh_sample_weight(lc.v[i].size, period);
		a->inuse_objects += scale;
		a->inuse_space += scale * (double)lc.v[i].size;
	}
	free(lc.v);
	for (size_t i = 0; i < s->n; i++)
		s->a[i].comp = component_of(s->a[i].stack);
	return rc;
}

static void snap_release(struct snap *s)
{
	free(s->a);
	heapmap_release(&s->by_stack);
	memset(s, 0, sizeof(*s));
}

static uint64_t est(double v)
{
	return v <= 0 ? 0 : (uint64_t)llround(v);
}

/* ---- the snapshot as a heap analysis, for src/analyze's heapprof ---- */

/* The executable file mappings of this process, from /proc/self/maps. */
static void load_modules(struct heapstats *h)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		unsigned long long start, end, off;
		char perms[8];
		int path_at = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off, &path_at) < 4 ||
		    !path_at || perms[2] != 'x' || line[path_at] != '/')
			continue;
		char *path = line + path_at;
		path[strcspn(path, "\n")] = 0;
		h->modules = xgrow(h->modules, sizeof(*h->modules), h->nmodules + 1, &h->modules_cap);
		h->modules[h->nmodules++] = (struct heapmodule){start, end, off, xstrdup(path), NULL, 0};
	}
	free(line);
	fclose(f);
}

/* Adds the trie path of stack (leaf to root, the tag's node left out) to
 * h's nodes, stopping at a node already there. */
static void add_path(struct heapstats *h, uint32_t stack)
{
	uint32_t ids[512];
	uint64_t ips[512];
	size_t n = 0, parent_idx = SIZE_MAX;
	for (uint32_t cur = stack; cur && n < 512;) {
		struct heapmap_slot *known = heapmap_get(&h->node_of, cur);
		if (known) {
			parent_idx = (size_t)known->val;
			break;
		}
		uint32_t parent;
		uint64_t ip;
		if (stacks_lookup(cur, &parent, &ip) < 0 || ip >= KH_TAG_IP_BASE)
			break;
		ids[n] = cur;
		ips[n++] = ip;
		cur = parent;
	}
	while (n--) {
		if (h->nnodes == h->nodes_cap) {
			h->nodes_cap = h->nodes_cap ? h->nodes_cap * 2 : 1024;
			h->node_parent = xrealloc(h->node_parent, h->nodes_cap * sizeof(*h->node_parent));
			h->node_ip = xrealloc(h->node_ip, h->nodes_cap * sizeof(*h->node_ip));
		}
		size_t idx = h->nnodes++;
		h->node_parent[idx] = parent_idx;
		/* cppcheck-suppress uninitvar ; ips[0..n) were written above */
		h->node_ip[idx] = ips[n];
		bool added;
		heapmap_put(&h->node_of, ids[n], &added)->val = idx;
		parent_idx = idx;
	}
}

/* h gets one site per aggregate, in s's order, with estimated values. */
static void build_stats(const struct snap *s, struct heapstats *h)
{
	memset(h, 0, sizeof(*h));
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	h->header.pid = (uint32_t)getpid();
	h->header.sample_bytes = (uint32_t)s->period;
	h->header.start_realtime_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	load_modules(h);
	h->sites = xcalloc(s->n ? s->n : 1, sizeof(*h->sites));
	h->nsites = h->sites_cap = s->n;
	for (size_t i = 0; i < s->n; i++) {
		const struct agg *a = &s->a[i];
		add_path(h, a->stack);
		struct heapsite *site = &h->sites[i];
		site->stack_id = a->stack;
		site->allocs = est(a->alloc_objects);
		site->bytes = est(a->alloc_space);
		site->live_count = est(a->inuse_objects);
		site->live_bytes = est(a->inuse_space);
		/* every aggregate has a sample, so a count of at least 1: keep
		 * heapprof_build from skipping it (labels follow site order) */
		if (!site->allocs && !site->live_count)
			site->allocs = 1;
	}
}

static void component_name(int comp, char *out, size_t cap)
{
	if (comp < 0 || agent_tag_name((uint32_t)comp, out, cap) < 0)
		out[0] = 0;
}

/* ---- entry points (guard set: nothing here is counted or sampled) ---- */

uint64_t agent_size_bucket_le(int i)
{
	if (i < 0)
		return 0;
	if (i >= AGENT_SIZE_BUCKETS - 1)
		return UINT64_MAX;
	return (uint64_t)16 << (2 * i);
}

int agent_heap_start(uint64_t period)
{
	if (atomic_load(&kh_state) == KH_UNINIT)
		kh_init();
	if (atomic_load(&kh_state) != KH_ON || !kh_agent)
		return -ENODEV;
	const char *env = getenv("KILN_AGENT_HEAP_RATE");
	if (!env || !*env)
		kh_agent_set_rate(period);
	return 0;
}

void agent_heap_thread_ignore(void)
{
	if (!kh_self.ignored) {
		kh_self.ignored = 1;
		kh_self.guard++;
	}
}

void agent_heap_own_begin(void)
{
	kh_self.guard++;
}

void agent_heap_own_end(void)
{
	kh_self.guard--;
}

void agent_heap_disable(void)
{
	kh_disable();
}

int agent_heap_totals(struct agent_heap_totals *out)
{
	_Static_assert(AGENT_SIZE_BUCKETS == KH_SIZE_BUCKETS, "one histogram");
	struct kh_totals t;
	counters_sum(&t);
	out->alloc_count = t.allocs;
	out->alloc_bytes = t.bytes;
	out->free_count = t.frees;
	memcpy(out->size_buckets, t.buckets, sizeof(out->size_buckets));
	out->sample_period = atomic_load(&kh_agent_nosample) ? 0 : kh_sample_bytes;
	out->estimated = atomic_load(&kh_agent_estimate);
	return 0;
}

static int cmp_component(const void *a, const void *b)
{
	const struct agent_component *x = a, *y = b;
	if (x->inuse_bytes != y->inuse_bytes)
		return x->inuse_bytes < y->inuse_bytes ? 1 : -1;
	if (x->alloc_bytes != y->alloc_bytes)
		return x->alloc_bytes < y->alloc_bytes ? 1 : -1;
	return strcmp(x->name, y->name);
}

int agent_heap_components(struct agent_component *out, size_t max)
{
	kh_self.guard++;
	struct snap s;
	snap_take(&s);
	/* [0]: untagged, [1 + i]: tag i */
	struct sums {
		double io, ib, ao, ab;
		int seen;
	} *sum = xcalloc(AGENT_MAX_TAGS + 1, sizeof(*sum));
	for (size_t i = 0; i < s.n; i++) {
		const struct agg *a = &s.a[i];
		struct sums *c = &sum[a->comp >= 0 && a->comp < AGENT_MAX_TAGS ? a->comp + 1 : 0];
		c->io += a->inuse_objects;
		c->ib += a->inuse_space;
		c->ao += a->alloc_objects;
		c->ab += a->alloc_space;
		c->seen = 1;
	}
	size_t n = 0;
	struct agent_component *all = xcalloc(AGENT_MAX_TAGS + 1, sizeof(*all));
	for (int i = 0; i <= AGENT_MAX_TAGS; i++) {
		if (!sum[i].seen)
			continue;
		struct agent_component *c = &all[n++];
		component_name(i - 1, c->name, sizeof(c->name));
		c->inuse_bytes = est(sum[i].ib);
		c->inuse_objects = est(sum[i].io);
		c->alloc_bytes = est(sum[i].ab);
		c->alloc_objects = est(sum[i].ao);
	}
	qsort(all, n, sizeof(*all), cmp_component);
	if (n > max)
		n = max;
	memcpy(out, all, n * sizeof(*out));
	free(all);
	free(sum);
	snap_release(&s);
	kh_self.guard--;
	return (int)n;
}

/* Frames of the allocator's own wrappers: a site is their caller. */
static bool allocator_frame(const char *name)
{
	static const char *const prefix[] = {"operator new", "__libc_", "__GI_", "__strdup", "__strndup",
					     "__asprintf", "__vasprintf"};
	static const char *const exact[] = {"malloc", "calloc", "realloc", "reallocarray", "free",
					    "posix_memalign", "aligned_alloc", "memalign", "valloc",
					    "pvalloc", "strdup", "strndup", "asprintf", "vasprintf"};
	for (size_t i = 0; i < sizeof(prefix) / sizeof(*prefix); i++)
		if (!strncmp(name, prefix[i], strlen(prefix[i])))
			return true;
	for (size_t i = 0; i < sizeof(exact) / sizeof(*exact); i++)
		if (!strcmp(name, exact[i]))
			return true;
	return false;
}

static void where_of(struct heapsym *hs, const struct heapstats *h, uint32_t stack, char *out, size_t cap)
{
	struct heapframe fr[64];
	size_t n = heapsym_stack(hs, h, stack, fr, 64), k = 0;
	while (k + 1 < n && allocator_frame(fr[k].name))
		k++;
	if (!n) {
		snprintf(out, cap, "[unknown]");
	} else if (fr[k].file) {
		const char *base = strrchr(fr[k].file, '/');
		snprintf(out, cap, "%s (%s:%d)", fr[k].name, base ? base + 1 : fr[k].file, fr[k].line);
	} else {
		snprintf(out, cap, "%s", fr[k].name);
	}
}

static int cmp_site_key(const void *a, const void *b)
{
	const struct agent_site *x = a, *y = b;
	int c = strcmp(x->where, y->where);
	return c ? c : strcmp(x->component, y->component);
}

static int cmp_site_bytes(const void *a, const void *b)
{
	const struct agent_site *x = a, *y = b;
	if (x->alloc_bytes != y->alloc_bytes)
		return x->alloc_bytes < y->alloc_bytes ? 1 : -1;
	return cmp_site_key(a, b);
}

/* A snapshot of the samples as heapstats with its symbolizer, for the
 * sites and the profile; 0, or a negative errno with nothing held. */
static int symbolized_snapshot(struct snap *s, struct heapstats *h, struct heapsym **hs)
{
	snap_take(s);
	build_stats(s, h);
	int err = 0;
	*hs = heapsym_new(h, &err);
	if (!*hs) {
		heapstats_release(h);
		snap_release(s);
		return err < 0 ? err : -EIO;
	}
	return 0;
}

static void symbolized_release(struct snap *s, struct heapstats *h, struct heapsym *hs)
{
	heapsym_free(hs);
	heapstats_release(h);
	snap_release(s);
}

int agent_heap_sites(struct agent_site *out, size_t max)
{
	kh_self.guard++;
	struct snap s;
	struct heapstats h;
	struct heapsym *hs;
	int err = symbolized_snapshot(&s, &h, &hs);
	if (err) {
		kh_self.guard--;
		return err;
	}
	struct agent_site *all = xcalloc(s.n ? s.n : 1, sizeof(*all));
	for (size_t i = 0; i < s.n; i++) {
		const struct agg *a = &s.a[i];
		where_of(hs, &h, a->stack, all[i].where, sizeof(all[i].where));
		component_name(a->comp, all[i].component, sizeof(all[i].component));
		all[i].inuse_bytes = est(a->inuse_space);
		all[i].inuse_objects = est(a->inuse_objects);
		all[i].alloc_bytes = est(a->alloc_space);
		all[i].alloc_objects = est(a->alloc_objects);
	}
	/* one site per (where, component): stacks that differ above it merge */
	qsort(all, s.n, sizeof(*all), cmp_site_key);
	size_t n = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (n && !cmp_site_key(&all[n - 1], &all[i])) {
			all[n - 1].inuse_bytes += all[i].inuse_bytes;
			all[n - 1].inuse_objects += all[i].inuse_objects;
			all[n - 1].alloc_bytes += all[i].alloc_bytes;
			all[n - 1].alloc_objects += all[i].alloc_objects;
		} else {
			all[n++] = all[i];
		}
	}
	qsort(all, n, sizeof(*all), cmp_site_bytes);
	if (n > max)
		n = max;
	memcpy(out, all, n * sizeof(*out));
	free(all);
	symbolized_release(&s, &h, hs);
	kh_self.guard--;
	return (int)n;
}

/* heapprof_build makes sample i of site i (no site is skipped: see
 * build_stats); the component label goes on afterwards. */
static void label_components(struct profile *p, const struct snap *s)
{
	if (p->nsamples != s->n)
		return;
	uint32_t key = profile_interns(p, "component");
	char name[64];
	for (size_t i = 0; i < s->n; i++) {
		component_name(s->a[i].comp, name, sizeof(name));
		if (!name[0])
			continue;
		p->labels = xgrow(p->labels, sizeof(*p->labels), p->nlabels + 1, &p->labels_cap);
		p->labels[p->nlabels] = (struct profile_label){key, profile_interns(p, name), 0, 0};
		p->samples[i].label_off = p->nlabels++;
		p->samples[i].nlabels = 1;
	}
}

int agent_heap_profile(struct agent_body *out)
{
	kh_self.guard++;
	struct snap s;
	struct heapstats h;
	struct heapsym *hs;
	int err = symbolized_snapshot(&s, &h, &hs);
	if (err) {
		kh_self.guard--;
		return err;
	}
	struct profile p;
	heapprof_build(&h, hs, true, &p);
	if (p.ncomments)
		p.comments[0] = profile_interns(&p, "kiln agent: sampled heap; values are estimates (each sample "
						   "of size s counts 1/(1-exp(-s/period))); inuse = live now");
	p.period = (int64_t)s.period;
	p.duration_nanos = 0;
	label_components(&p, &s);
	void *data = NULL;
	size_t len = 0;
	int rc = pprof_encode(&p, PPROF_GZIP_DEFAULT, &data, &len);
	if (rc == 0) {
		out->data = data;
		out->len = len;
	}
	profile_release(&p);
	symbolized_release(&s, &h, hs);
	kh_self.guard--;
	return rc;
}

/* ---- KILN_AGENT_HEAP_DUMP=path, for tests: the profile and the tables at
 * exit, in path, path.totals, path.components and path.sites ("%p" in path
 * is the pid) ---- */

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return -EIO;
		}
		p += w;
		len -= (size_t)w;
	}
	return close(fd) < 0 ? -errno : 0;
}

struct text {
	char *s;
	size_t len, cap;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char buf[512];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	t->s = xgrow(t->s, 1, t->len + (size_t)n + 1, &t->cap);
	memcpy(t->s + t->len, buf, (size_t)n);
	t->len += (size_t)n;
}

static void dump_at_exit(void)
{
	const char *tmpl = getenv("KILN_AGENT_HEAP_DUMP");
	if (!tmpl || !*tmpl || !kh_agent || atomic_load(&kh_state) != KH_ON)
		return; /* a fork child the agent left writes nothing */
	kh_self.guard++;
	int e = errno;
	char path[4000], name[4096];
	size_t o = 0;
	for (const char *c = tmpl; *c && o < sizeof(path) - 24; c++) {
		if (c[0] == '%' && c[1] == 'p') {
			o += (size_t)snprintf(path + o, sizeof(path) - o, "%d", (int)getpid());
			c++;
		} else {
			path[o++] = *c;
		}
	}
	path[o] = 0;
	struct agent_body body = {0};
	if (agent_heap_profile(&body) == 0) {
		write_file(path, body.data, body.len);
		free(body.data);
	}
	struct text t = {0};
	struct agent_heap_totals tot;
	agent_heap_totals(&tot);
	text_add(&t, "alloc_count %llu\nalloc_bytes %llu\nfree_count %llu\nsample_period %llu\ncounts %s\n",
		 (unsigned long long)tot.alloc_count, (unsigned long long)tot.alloc_bytes,
		 (unsigned long long)tot.free_count, (unsigned long long)tot.sample_period,
		 tot.estimated ? "estimated" : "exact");
	for (int i = 0; i < AGENT_SIZE_BUCKETS; i++)
		text_add(&t, "bucket %llu %llu\n", (unsigned long long)agent_size_bucket_le(i),
			 (unsigned long long)tot.size_buckets[i]);
	snprintf(name, sizeof(name), "%s.totals", path);
	write_file(name, t.s, t.len);
	t.len = 0;
	struct agent_component comps[64];
	int n = agent_heap_components(comps, 64);
	for (int i = 0; i < n; i++)
		text_add(&t, "%s\t%llu\t%llu\t%llu\t%llu\n", comps[i].name[0] ? comps[i].name : "-",
			 (unsigned long long)comps[i].inuse_bytes, (unsigned long long)comps[i].inuse_objects,
			 (unsigned long long)comps[i].alloc_bytes, (unsigned long long)comps[i].alloc_objects);
	snprintf(name, sizeof(name), "%s.components", path);
	write_file(name, t.s ? t.s : "", t.len);
	t.len = 0;
	struct agent_site *sites = xcalloc(20, sizeof(*sites));
	n = agent_heap_sites(sites, 20);
	for (int i = 0; i < n; i++)
		text_add(&t, "%s\t%s\t%llu\t%llu\t%llu\t%llu\n", sites[i].where,
			 sites[i].component[0] ? sites[i].component : "-", (unsigned long long)sites[i].inuse_bytes,
			 (unsigned long long)sites[i].inuse_objects, (unsigned long long)sites[i].alloc_bytes,
			 (unsigned long long)sites[i].alloc_objects);
	snprintf(name, sizeof(name), "%s.sites", path);
	write_file(name, t.s ? t.s : "", t.len);
	free(sites);
	free(t.s);
	errno = e;
	kh_self.guard--;
}

__attribute__((destructor)) static void heapsample_destructor(void)
{
	dump_at_exit();
}
