/* runfigures: kiln run's derived figures (see runfigures.h).
 * Invariant: a lock frame is recognised by its name alone, the same for
 * kernel and user frames, so the split does not depend on symbolization
 * beyond the names the profile already has. */
#include "analyze/runfigures.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/memtrend.h"
#include "base/xalloc.h"

static bool has_prefix(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);
	return len >= n && !memcmp(s, p, n);
}

static bool contains(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(s + i, needle, n))
			return true;
	return false;
}

bool runfigures_is_lock_frame(const char *name, size_t len)
{
	static const char *const prefixes[] = {
		"__lll_lock_wait", "pthread_mutex_lock", "pthread_mutex_timedlock", "pthread_mutex_clocklock",
		"__pthread_mutex_lock", "___pthread_mutex_lock", "pthread_cond_wait", "pthread_cond_timedwait",
		"pthread_cond_clockwait", "__pthread_cond_wait", "___pthread_cond_wait", "__pthread_cond_timedwait",
		"pthread_rwlock_rdlock", "pthread_rwlock_wrlock", "pthread_rwlock_timed", "pthread_rwlock_clock",
		"__pthread_rwlock_", "pthread_barrier_wait", "sem_wait", "sem_timedwait", "sem_clockwait",
		"__new_sem_wait",
	};
	if (contains(name, len, "futex"))
		return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
		if (has_prefix(name, len, prefixes[i]))
			return true;
	return false;
}

struct seconds_sum {
	double total, lock;
};

static bool stack_has_lock(const char *stack, size_t len)
{
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || stack[i] == ';') {
			if (runfigures_is_lock_frame(stack + start, i - start))
				return true;
			start = i + 1;
		}
	}
	return false;
}

static int add_stack(void *ctx, const char *stack, size_t len, int64_t value)
{
	struct seconds_sum *s = ctx;
	double v = (double)value / 1e9;
	s->total += v;
	if (stack_has_lock(stack, len))
		s->lock += v;
	return 0;
}

int runfigures_seconds(const struct profile *p, int value_index, double *total_s, double *lock_s)
{
	struct seconds_sum s = {0, 0};
	int err = profile_for_each_stack(p, value_index, add_stack, &s);
	if (err)
		return err;
	*total_s = s.total;
	if (lock_s)
		*lock_s = s.lock;
	return 0;
}

double runfigures_heap_growth_bph(const struct heapstats *h)
{
	if (h->nseries < 2)
		return 0;
	double *x = xcalloc(h->nseries, sizeof(*x)), *y = xcalloc(h->nseries, sizeof(*y));
	for (size_t i = 0; i < h->nseries; i++) {
		x[i] = (double)h->series[i].time / 1e6;
		y[i] = (double)h->series[i].live;
	}
	double slope = 0, intercept = 0;
	if (memtrend_fit(x, y, h->nseries, &slope, &intercept) != 0)
		slope = 0;
	free(x);
	free(y);
	return slope * 3600;
}

double runfigures_heap_frag_pct(const struct heapstats *h)
{
	/* the last point starting at or before the peak holds it */
	const struct heappoint *at = NULL;
	for (size_t i = 0; i < h->nseries && h->series[i].time <= h->peak_time; i++)
		at = &h->series[i];
	if (!at || at->rss == 0)
		return -1;
	if (at->rss <= h->peak_bytes)
		return 0; /* RSS sampled before the peak's pages were all touched */
	return 100.0 * (double)(at->rss - h->peak_bytes) / (double)at->rss;
}
