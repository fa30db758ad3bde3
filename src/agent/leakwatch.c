/* leakwatch: the memory history (live heap, RSS, each component's live
 * heap; an hour of points), least-squares growth, the leak rule, and the
 * allocation rate. Invariant: fixed memory (static rings), every access
 * under lw_lock, and a report depends on the points alone, so the same
 * history always gives the same verdicts. */
#include "agent/agent.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze/memtrend.h"

/*
 * The leak rule. A component is a potential leak when, over the history
 * since it first appeared (up to LEAKWATCH_POINTS points):
 *   - there are at least MIN_POINTS points;
 *   - the least-squares growth of its live bytes is at least the
 *     threshold (KILN_AGENT_LEAK_MB_PER_HOUR, default 10 MB/hour);
 *   - it grows steadily: at least two thirds of the steps between
 *     successive points do not fall by more than the estimate's noise
 *     (sqrt(L P) for a level L sampled every P bytes, at least P), and
 *     the last point is at least 90% of the
 *     highest (still near its peak: a cache that filled and was trimmed
 *     is not a leak);
 *   - the fitted growth over the window is at least 4 times that noise
 *     (a bounded cache's estimate wanders by about one noise).
 * KILN_AGENT_LEAK_INTERVAL sets the seconds between points (default 10,
 * so the history covers an hour).
 */
enum {
	MIN_POINTS = 6,
	RATE_POINTS = 64,
	RATE_WINDOW = 10, /* seconds */
};

struct series {
	char name[64];
	uint64_t v[LEAKWATCH_POINTS];
	uint64_t first_seq; /* the point it first appeared at */
	uint64_t inuse_objects, alloc_bytes, alloc_objects;
	double first_seen, last_seen;
	int used;
};

struct ratepoint {
	double t;
	uint64_t count, bytes;
};

static pthread_mutex_t lw_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	double interval, threshold; /* seconds; bytes per second */
	double start, last_point;
	uint64_t seq; /* points taken so far; point s is at s % LEAKWATCH_POINTS */
	double t[LEAKWATCH_POINTS], wall[LEAKWATCH_POINTS];
	uint64_t heap[LEAKWATCH_POINTS], rss[LEAKWATCH_POINTS];
	struct series comp[LEAKWATCH_COMPONENTS];
	struct ratepoint rate[RATE_POINTS];
	size_t nrate;
	uint64_t period;
} lw;

static double env_double(const char *name, double def, double lo, double hi)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return def;
	char *end;
	double v = strtod(s, &end);
	if (*end || !(v >= lo && v <= hi))
		return def;
	return v;
}

static void clear(void)
{
	double interval = lw.interval, threshold = lw.threshold;
	memset(&lw, 0, sizeof lw);
	lw.interval = interval;
	lw.threshold = threshold;
	lw.start = agent_mono();
}

void leakwatch_init(void)
{
	pthread_mutex_lock(&lw_lock);
	lw.interval = env_double("KILN_AGENT_LEAK_INTERVAL", 10, 0.5, 3600);
	lw.threshold = env_double("KILN_AGENT_LEAK_MB_PER_HOUR", 10, 0, 1e9) * 1e6 / 3600;
	clear();
	pthread_mutex_unlock(&lw_lock);
}

void leakwatch_after_fork_child(void)
{
	pthread_mutex_init(&lw_lock, NULL);
	clear();
}

static double wall_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void copy_name(char *dst, const char *src)
{
	size_t n = strnlen(src, 63);
	memcpy(dst, src, n);
	dst[n] = 0;
}

static struct series *series_for(const char *name, uint64_t inuse)
{
	struct series *free_slot = NULL, *smallest = NULL;
	for (size_t i = 0; i < LEAKWATCH_COMPONENTS; i++) {
		struct series *s = &lw.comp[i];
		if (!s->used) {
			if (!free_slot)
				free_slot = s;
			continue;
		}
		if (!strcmp(s->name, name))
			return s;
		uint64_t last = s->v[(lw.seq + LEAKWATCH_POINTS - 1) % LEAKWATCH_POINTS];
		if (!smallest || last < smallest->v[(lw.seq + LEAKWATCH_POINTS - 1) % LEAKWATCH_POINTS])
			smallest = s;
	}
	struct series *s = free_slot;
	if (!s) {
		/* full: the new one replaces the smallest, when it is larger */
		if (!smallest || smallest->v[(lw.seq + LEAKWATCH_POINTS - 1) % LEAKWATCH_POINTS] >= inuse)
			return NULL;
		s = smallest;
	}
	memset(s, 0, sizeof *s);
	s->used = 1;
	s->first_seq = lw.seq;
	copy_name(s->name, name);
	return s;
}

void leakwatch_tick(void)
{
	static struct agent_component comps[LEAKWATCH_COMPONENTS]; /* the tick thread's only */
	double now = agent_mono();
	struct agent_heap_totals t;
	int have_totals = agent_heap_totals(&t) == 0;
	pthread_mutex_lock(&lw_lock);
	if (have_totals) {
		if (lw.nrate == RATE_POINTS) {
			memmove(lw.rate, lw.rate + 1, (RATE_POINTS - 1) * sizeof *lw.rate);
			lw.nrate--;
		}
		lw.rate[lw.nrate++] = (struct ratepoint){now, t.alloc_count, t.alloc_bytes};
		lw.period = t.sample_period;
	}
	int due = lw.seq == 0 || now - lw.last_point >= lw.interval - 0.25;
	pthread_mutex_unlock(&lw_lock);
	if (!due)
		return;

	int n = agent_heap_components(comps, LEAKWATCH_COMPONENTS);
	struct agent_proc p;
	agent_proc_read(&p);
	double wall = wall_now();

	pthread_mutex_lock(&lw_lock);
	size_t k = lw.seq % LEAKWATCH_POINTS;
	lw.t[k] = now;
	lw.wall[k] = wall;
	lw.heap[k] = p.heap_inuse;
	lw.rss[k] = p.rss;
	for (size_t i = 0; i < LEAKWATCH_COMPONENTS; i++)
		lw.comp[i].v[k] = 0;
	for (int i = 0; i < n; i++) {
		struct series *s = series_for(comps[i].name, comps[i].inuse_bytes);
		if (!s)
			continue;
		s->v[k] = comps[i].inuse_bytes;
		s->inuse_objects = comps[i].inuse_objects;
		s->alloc_bytes = comps[i].alloc_bytes;
		s->alloc_objects = comps[i].alloc_objects;
		if (comps[i].inuse_bytes) {
			if (!s->first_seen)
				s->first_seen = wall;
			s->last_seen = wall;
		}
	}
	lw.seq++;
	lw.last_point = now;
	pthread_mutex_unlock(&lw_lock);
}

int leakwatch_rate(double *bytes_per_s, double *allocs_per_s)
{
	struct agent_heap_totals t;
	int r = agent_heap_totals(&t);
	if (r < 0)
		return r;
	double now = agent_mono();
	pthread_mutex_lock(&lw_lock);
	struct ratepoint base = {lw.start, 0, 0};
	for (size_t i = 0; i < lw.nrate; i++) {
		if (lw.rate[i].t >= now - RATE_WINDOW - 0.5) {
			base = lw.rate[i];
			break;
		}
	}
	int started = lw.start > 0;
	pthread_mutex_unlock(&lw_lock);
	double dt = now - base.t;
	if (!started || dt < 0.001)
		return -EAGAIN;
	*bytes_per_s = t.alloc_bytes >= base.bytes ? (double)(t.alloc_bytes - base.bytes) / dt : 0;
	*allocs_per_s = t.alloc_count >= base.count ? (double)(t.alloc_count - base.count) / dt : 0;
	return 0;
}

/* Least squares over the points from seq `from` to the last. */
static int fit(const uint64_t *v, uint64_t from, double *slope, size_t *npoints)
{
	double x[LEAKWATCH_POINTS], y[LEAKWATCH_POINTS];
	uint64_t oldest = lw.seq > LEAKWATCH_POINTS ? lw.seq - LEAKWATCH_POINTS : 0;
	if (from < oldest)
		from = oldest;
	size_t n = 0;
	for (uint64_t s = from; s < lw.seq; s++) {
		size_t k = s % LEAKWATCH_POINTS;
		x[n] = lw.t[k] - lw.start;
		y[n] = (double)v[k];
		n++;
	}
	*npoints = n;
	double intercept;
	return memtrend_fit(x, y, n, slope, &intercept);
}

static void judge(struct leakwatch_component *c, const struct series *s)
{
	uint64_t oldest = lw.seq > LEAKWATCH_POINTS ? lw.seq - LEAKWATCH_POINTS : 0;
	uint64_t from = s->first_seq > oldest ? s->first_seq : oldest;
	size_t n;
	c->have_slope = fit(s->v, from, &c->bytes_per_s, &n) == 0;
	c->points = n;
	if (!c->have_slope || n < MIN_POINTS || c->bytes_per_s < lw.threshold || c->bytes_per_s <= 0)
		return;
	uint64_t max = 0, last = 0;
	for (uint64_t q = from; q < lw.seq; q++)
		if (s->v[q % LEAKWATCH_POINTS] > max)
			max = s->v[q % LEAKWATCH_POINTS];
	/* a live-bytes estimate of level L, one sample per P bytes, counts
	 * about L/P samples (Poisson): its noise is sqrt(L/P) P = sqrt(L P) */
	double period = (double)(lw.period ? lw.period : 1);
	double noise = fmax(period, sqrt((double)max * period));
	size_t up = 0;
	for (uint64_t q = from; q < lw.seq; q++) {
		uint64_t v = s->v[q % LEAKWATCH_POINTS];
		if (q > from && (double)v >= (double)s->v[(q - 1) % LEAKWATCH_POINTS] - noise)
			up++;
		last = v;
	}
	double span = lw.t[(lw.seq - 1) % LEAKWATCH_POINTS] - lw.t[from % LEAKWATCH_POINTS];
	c->leak = 3 * up >= 2 * (n - 1) && (double)last >= 0.9 * (double)max &&
		  c->bytes_per_s * span >= 4 * noise;
}

static int comp_cmp(const void *a, const void *b)
{
	const struct leakwatch_component *x = a, *y = b;
	if (x->leak != y->leak)
		return y->leak - x->leak;
	if (x->leak && x->bytes_per_s != y->bytes_per_s)
		return x->bytes_per_s < y->bytes_per_s ? 1 : -1;
	if (x->inuse_bytes != y->inuse_bytes)
		return x->inuse_bytes < y->inuse_bytes ? 1 : -1;
	return strcmp(x->name, y->name);
}

int leakwatch_report(struct leakwatch_report *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&lw_lock);
	out->interval = lw.interval;
	out->threshold_bytes_per_s = lw.threshold;
	uint64_t oldest = lw.seq > LEAKWATCH_POINTS ? lw.seq - LEAKWATCH_POINTS : 0;
	out->points = lw.seq - oldest;
	if (lw.seq)
		out->span = lw.t[(lw.seq - 1) % LEAKWATCH_POINTS] - lw.t[oldest % LEAKWATCH_POINTS];
	size_t n;
	out->have_heap_slope = fit(lw.heap, 0, &out->heap_bytes_per_s, &n) == 0;
	out->have_rss_slope = fit(lw.rss, 0, &out->rss_bytes_per_s, &n) == 0;
	for (size_t i = 0; i < LEAKWATCH_COMPONENTS; i++) {
		const struct series *s = &lw.comp[i];
		if (!s->used)
			continue;
		struct leakwatch_component *c = &out->comp[out->ncomponents++];
		copy_name(c->name, s->name);
		c->inuse_bytes = lw.seq ? s->v[(lw.seq - 1) % LEAKWATCH_POINTS] : 0;
		c->inuse_objects = s->inuse_objects;
		c->alloc_bytes = s->alloc_bytes;
		c->alloc_objects = s->alloc_objects;
		c->first_seen = s->first_seen;
		c->last_seen = s->last_seen;
		judge(c, s);
		out->nleaks += c->leak;
	}
	pthread_mutex_unlock(&lw_lock);
	qsort(out->comp, out->ncomponents, sizeof *out->comp, comp_cmp);
	return 0;
}
