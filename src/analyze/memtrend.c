/* memtrend: peak, least-squares growth and the leak heuristics (see
 * memtrend.h).
 * Invariant: the fit centres x and y on their means before summing, so a
 * long run (large t) or a large RSS loses no precision to cancellation. */
#include "analyze/memtrend.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

const char *const memtrend_verdict_names[] = {
	"too short to tell", "stable", "likely leak", "grew, then released", "shrinking",
};

void memtrend_options_init(struct memtrend_options *o)
{
	o->leak_mb_per_hour = 10;
	o->near_peak_pct = 90;
	o->pressure_pct = 90;
}

int memtrend_fit(const double *x, const double *y, size_t n, double *slope, double *intercept)
{
	if (n < 2)
		return -EINVAL;
	double mx = 0, my = 0;
	for (size_t i = 0; i < n; i++) {
		mx += x[i];
		my += y[i];
	}
	mx /= (double)n;
	my /= (double)n;
	double sxx = 0, sxy = 0;
	for (size_t i = 0; i < n; i++) {
		double dx = x[i] - mx;
		sxx += dx * dx;
		sxy += dx * (y[i] - my);
	}
	if (!(sxx > 0))
		return -EINVAL;
	*slope = sxy / sxx;
	*intercept = my - *slope * mx;
	return 0;
}

#define HAS(s, m) (((s)->have & PROCMEM_BIT(m)) != 0)

/* Fits the samples that have metric m (its value read by get). */
static bool fit_metric(const struct procmem_sample *s, size_t n, enum procmem_metric m,
		       double *slope, double *intercept)
{
	double *x = malloc((n ? n : 1) * sizeof(*x)), *y = malloc((n ? n : 1) * sizeof(*y));
	size_t k = 0;
	if (!x || !y) {
		free(x);
		free(y);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!HAS(&s[i], m))
			continue;
		x[k] = s[i].t;
		y[k] = (double)(m == PROCMEM_HEAP ? s[i].heap : s[i].rss);
		k++;
	}
	bool ok = memtrend_fit(x, y, k, slope, intercept) == 0;
	free(x);
	free(y);
	return ok;
}

int memtrend_analyze(const struct procmem_sample *s, size_t n, const struct memtrend_options *o,
		     struct memtrend *out)
{
	struct memtrend_options def;
	if (!o) {
		memtrend_options_init(&def);
		o = &def;
	}
	struct memtrend r;
	memset(&r, 0, sizeof(r));
	r.hours_to_limit = r.hours_to_available = -1;
	const struct procmem_sample *first = NULL, *last = NULL;
	const struct procmem_sample *first_flt = NULL, *last_flt = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct procmem_sample *p = &s[i];
		if (HAS(p, PROCMEM_MINFLT)) {
			if (!first_flt)
				first_flt = p;
			last_flt = p;
		}
		if (HAS(p, PROCMEM_CG_USAGE)) {
			r.have_cgroup = true;
			r.cg_usage = p->cg_usage;
			r.cg_limit = HAS(p, PROCMEM_CG_LIMIT) ? p->cg_limit : UINT64_MAX;
			if (p->cg_usage > r.cg_peak_usage)
				r.cg_peak_usage = p->cg_usage;
		}
		if (HAS(p, PROCMEM_MEM_TOTAL) && HAS(p, PROCMEM_MEM_AVAILABLE)) {
			r.have_mem = true;
			r.mem_total = p->mem_total;
			r.mem_available = p->mem_available;
		}
		if (HAS(p, PROCMEM_PSI_SOME) || HAS(p, PROCMEM_PSI_FULL)) {
			r.have_psi = true;
			if (HAS(p, PROCMEM_PSI_SOME) && p->psi_some > r.psi_some_max)
				r.psi_some_max = p->psi_some;
			if (HAS(p, PROCMEM_PSI_FULL) && p->psi_full > r.psi_full_max)
				r.psi_full_max = p->psi_full;
		}
		if (!HAS(p, PROCMEM_RSS))
			continue;
		r.n++;
		if (!first)
			first = p;
		last = p;
		if (p->rss > r.peak_rss || r.n == 1) {
			r.peak_rss = p->rss;
			r.peak_time = p->t;
		}
		if (HAS(p, PROCMEM_HWM))
			r.hwm = p->hwm;
	}
	if (!first)
		return KILN_ERR_EMPTY;
	r.first_rss = first->rss;
	r.last_rss = last->rss;
	r.span = last->t - first->t;
	r.current_pct_of_peak = r.peak_rss ? 100.0 * (double)r.last_rss / (double)r.peak_rss : 100.0;
	if (first_flt) {
		r.minflt = last_flt->minflt - first_flt->minflt;
		r.majflt = last_flt->majflt - first_flt->majflt;
	}
	r.have_slope = fit_metric(s, n, PROCMEM_RSS, &r.slope, &r.intercept);
	if (r.have_slope)
		r.mb_per_hour = r.slope * 3600.0 / 1e6;
	double hs, hi;
	r.have_heap_slope = fit_metric(s, n, PROCMEM_HEAP, &hs, &hi);
	if (r.have_heap_slope)
		r.heap_mb_per_hour = hs * 3600.0 / 1e6;

	if (r.have_cgroup && r.cg_limit != UINT64_MAX && r.cg_limit > 0) {
		r.cg_pct = 100.0 * (double)r.cg_usage / (double)r.cg_limit;
		r.near_limit = r.cg_pct >= o->pressure_pct;
		if (r.have_slope && r.slope > 0 && r.cg_limit > r.cg_usage)
			r.hours_to_limit = (double)(r.cg_limit - r.cg_usage) / r.slope / 3600.0;
	}
	if (r.have_mem && r.mem_total) {
		r.rss_pct_of_total = 100.0 * (double)r.last_rss / (double)r.mem_total;
		r.near_total = r.rss_pct_of_total >= o->pressure_pct ||
			       100.0 * (double)r.mem_available / (double)r.mem_total <= 100.0 - o->pressure_pct;
		if (r.have_slope && r.slope > 0)
			r.hours_to_available = (double)r.mem_available / r.slope / 3600.0;
	}

	if (r.n < 3 || r.span < 1.0 || !r.have_slope)
		r.verdict = MEMTREND_TOO_SHORT;
	else if (r.mb_per_hour > o->leak_mb_per_hour)
		r.verdict = r.current_pct_of_peak >= o->near_peak_pct ? MEMTREND_LEAK : MEMTREND_RELEASED;
	else if (r.mb_per_hour < -o->leak_mb_per_hour)
		r.verdict = MEMTREND_SHRINKING;
	else
		r.verdict = MEMTREND_STABLE;
	*out = r;
	return 0;
}
