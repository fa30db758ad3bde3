/* budget: parsing budget values and evaluating a run against them.
 * Invariant: every verdict is computed from summary.json's figures (and,
 * for max-regress, the two runs' self shares) with the comparison "measured
 * <= limit passes"; a missing figure never compares. */
#include "analyze/budget.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xalloc.h"
#include "format/budgetfile.h"

enum value_kind { V_PERCENT, V_SIZE, V_FLAG, V_RATE, V_POINTS };

static const struct {
	const char *key;
	enum value_kind value;
} kinds[BUDGET_NKINDS] = {
	[BUDGET_MAX_SELF] = {"max-self", V_PERCENT},
	[BUDGET_MAX_LOCK_WAIT] = {"max-lock-wait", V_PERCENT},
	[BUDGET_MAX_HEAP] = {"max-heap", V_SIZE},
	[BUDGET_MAX_RSS] = {"max-rss", V_SIZE},
	[BUDGET_NO_LEAKS] = {"no-leaks", V_FLAG},
	[BUDGET_HEAP_STABLE] = {"heap-stable", V_FLAG},
	[BUDGET_MAX_ALLOC_RATE] = {"max-alloc-rate", V_RATE},
	[BUDGET_MAX_FRAG] = {"max-frag", V_PERCENT},
	[BUDGET_MAX_REGRESS] = {"max-regress", V_POINTS},
};

/* The settings budget_set() knows besides the budgets. */
enum { KEY_BASELINE = BUDGET_NKINDS, KEY_STRICT, KEY_SEED_DEFAULTS, NKEYS };
static const char *const setting_keys[] = {"baseline", "strict", "seed-defaults"};

const char *budget_key(enum budget_kind k)
{
	return (unsigned)k < BUDGET_NKINDS ? kinds[k].key : "?";
}

static int key_index(const char *key)
{
	for (int i = 0; i < BUDGET_NKINDS; i++)
		if (!strcmp(kinds[i].key, key))
			return i;
	for (int i = KEY_BASELINE; i < NKEYS; i++)
		if (!strcmp(setting_keys[i - KEY_BASELINE], key))
			return i;
	return -1;
}

/* ---- values ---- */

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Reads an unsigned decimal number (digits, an optional fraction; no sign,
 * exponent, hex, inf or nan) at *s, moving *s past it. */
static int scan_number(const char **s, double *out)
{
	const char *p = *s;
	size_t digits = 0;
	while (*p >= '0' && *p <= '9')
		p++, digits++;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits++;
	}
	if (!digits || p - *s > 40)
		return -EINVAL;
	char buf[48];
	memcpy(buf, *s, (size_t)(p - *s));
	buf[p - *s] = '\0';
	*out = strtod(buf, NULL);
	*s = p;
	return isfinite(*out) ? 0 : -EINVAL;
}

static const char *skip_blanks(const char *s)
{
	while (is_blank(*s))
		s++;
	return s;
}

/* Parses a size at s, leaving *end after its unit (and blanks). */
static int scan_size(const char *s, double *bytes, bool *binary, const char **end)
{
	static const struct {
		const char *unit;
		double scale;
		bool binary;
	} units[] = {
		{"b", 1, false},
		{"k", 1e3, false}, {"kb", 1e3, false}, {"kib", 1024.0, true},
		{"m", 1e6, false}, {"mb", 1e6, false}, {"mib", 1048576.0, true},
		{"g", 1e9, false}, {"gb", 1e9, false}, {"gib", 1073741824.0, true},
		{"t", 1e12, false}, {"tb", 1e12, false}, {"tib", 1099511627776.0, true},
	};
	double v;
	s = skip_blanks(s);
	if (scan_number(&s, &v))
		return -EINVAL;
	s = skip_blanks(s);
	size_t n = 0;
	while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z'))
		n++;
	double scale = 1;
	bool bin = false;
	if (n) {
		size_t i;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].unit) == n && !strncasecmp(s, units[i].unit, n))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		scale = units[i].scale;
		bin = units[i].binary;
	}
	*bytes = v * scale;
	*binary = bin;
	*end = skip_blanks(s + n);
	return isfinite(*bytes) ? 0 : -EINVAL;
}

int budget_parse_size(const char *s, double *bytes, bool *binary)
{
	double v;
	bool bin;
	const char *end;
	if (scan_size(s, &v, &bin, &end) || *end)
		return -EINVAL;
	*bytes = v;
	*binary = bin;
	return 0;
}

int budget_parse_rate(const char *s, double *bytes_per_s, bool *binary)
{
	double v;
	bool bin;
	const char *end;
	if (scan_size(s, &v, &bin, &end) || *end != '/')
		return -EINVAL;
	end = skip_blanks(end + 1);
	if (*end != 's' || *skip_blanks(end + 1))
		return -EINVAL;
	*bytes_per_s = v;
	*binary = bin;
	return 0;
}

static int scan_percent(const char *s, double *out)
{
	double v;
	s = skip_blanks(s);
	if (scan_number(&s, &v))
		return -EINVAL;
	s = skip_blanks(s);
	if (*s == '%')
		s = skip_blanks(s + 1);
	if (*s)
		return -EINVAL;
	*out = v;
	return 0;
}

int budget_parse_percent(const char *s, double *pct)
{
	double v;
	if (scan_percent(s, &v) || v > 100)
		return -EINVAL;
	*pct = v;
	return 0;
}

int budget_parse_points(const char *s, double *points)
{
	return scan_percent(s, points);
}

int budget_parse_bool(const char *s, bool *v)
{
	static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*v = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*v = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- setting budgets ---- */

void budget_init(struct budget *b)
{
	memset(b, 0, sizeof(*b));
}

void budget_release(struct budget *b)
{
	if (!b)
		return;
	free(b->baseline);
	memset(b, 0, sizeof(*b));
}

static const char *const value_help[] = {
	[V_PERCENT] = "a percent from 0 to 100, such as 10% or 10",
	[V_SIZE] = "a size such as 500MB, 500MiB, 1.5G or 4096 (bytes)",
	[V_FLAG] = "true or false",
	[V_RATE] = "a rate such as 100MB/s or 64KiB/s",
	[V_POINTS] = "a number of 0 or more, such as 5",
};

static int set_limit(struct budget_limit *l, enum value_kind vk, const char *key, const char *value,
		     struct diag *d)
{
	struct budget_limit n = {.given = true, .on = true};
	bool flag = true;
	int rc = -EINVAL;
	const char *v = value ? skip_blanks(value) : NULL;
	if (vk == V_FLAG) {
		rc = v ? budget_parse_bool(v, &flag) : 0;
		n.on = flag;
	} else if (!v) {
		return diag_set(d, KILN_ERR_FORMAT, 0, "%s needs a value: %s", key, value_help[vk]);
	} else if (!strcasecmp(v, "off")) {
		n.on = false;
		rc = 0;
	} else {
		size_t len = strlen(v);
		while (len && is_blank(v[len - 1]))
			len--;
		if (len >= sizeof(n.text))
			return diag_set(d, KILN_ERR_FORMAT, 0, "%s: '%.40s...' is too long for %s", key, v,
					value_help[vk]);
		memcpy(n.text, v, len);
		n.text[len] = '\0';
		switch (vk) {
		case V_PERCENT:
			rc = budget_parse_percent(n.text, &n.value);
			if (!rc)
				snprintf(n.text, sizeof(n.text), "%g%%", n.value);
			break;
		case V_SIZE:
			rc = budget_parse_size(n.text, &n.value, &n.binary);
			break;
		case V_RATE:
			rc = budget_parse_rate(n.text, &n.value, &n.binary);
			break;
		case V_POINTS:
			rc = budget_parse_points(n.text, &n.value);
			if (!rc)
				snprintf(n.text, sizeof(n.text), "%g", n.value);
			break;
		case V_FLAG:
			break;
		}
	}
	if (rc)
		return diag_set(d, KILN_ERR_FORMAT, 0, "%s: '%s' is not %s", key, value ? value : "",
				value_help[vk]);
	*l = n;
	return 0;
}

int budget_set(struct budget *b, const char *key, const char *value, struct diag *d)
{
	int k = key_index(key);
	if (k < 0)
		return diag_set(d, KILN_ERR_FORMAT, 0,
				"unknown key '%s' (budgets: max-self, max-lock-wait, max-heap, max-rss, no-leaks, "
				"heap-stable, max-alloc-rate, max-frag, max-regress; settings: baseline, strict, "
				"seed-defaults)",
				key);
	if (k < BUDGET_NKINDS)
		return set_limit(&b->limits[k], kinds[k].value, key, value, d);
	if (k == KEY_BASELINE) {
		if (!value || !*skip_blanks(value))
			return diag_set(d, KILN_ERR_FORMAT, 0, "baseline needs a results folder");
		free(b->baseline);
		b->baseline = xstrdup(value);
		return 0;
	}
	bool v = true;
	if (value && budget_parse_bool(skip_blanks(value), &v))
		return diag_set(d, KILN_ERR_FORMAT, 0, "%s: '%s' is not true or false", key, value);
	if (k == KEY_STRICT)
		b->strict = v;
	else
		b->seed_defaults = v;
	return 0;
}

struct file_ctx {
	struct budget *b;
	unsigned long first_line[NKEYS];
};

static int file_pair(void *vctx, const char *key, const char *value, unsigned long line, struct diag *d)
{
	struct file_ctx *c = vctx;
	int k = key_index(key);
	if (k >= 0 && c->first_line[k])
		return diag_set(d, KILN_ERR_FORMAT, line, "%s is given twice (first on line %lu)", key,
				c->first_line[k]);
	int rc = budget_set(c->b, key, value, d);
	if (rc) {
		if (d)
			d->line = line;
		return rc;
	}
	c->first_line[k] = line;
	return 0;
}

int budget_read_file(struct budget *b, const char *text, size_t len, struct diag *d)
{
	struct file_ctx c = {.b = b};
	return budgetfile_parse(text, len, file_pair, &c, d);
}

void budget_merge(struct budget *dst, const struct budget *src)
{
	for (int k = 0; k < BUDGET_NKINDS; k++)
		if (src->limits[k].given)
			dst->limits[k] = src->limits[k];
	if (src->baseline) {
		free(dst->baseline);
		dst->baseline = xstrdup(src->baseline);
	}
	dst->strict |= src->strict;
	dst->seed_defaults |= src->seed_defaults;
}

void budget_seed_defaults(struct budget *b)
{
	static const struct {
		enum budget_kind kind;
		const char *value;
	} seeds[] = {
		{BUDGET_MAX_SELF, "10%"},     {BUDGET_MAX_HEAP, "500MB"},  {BUDGET_MAX_ALLOC_RATE, "100MB/s"},
		{BUDGET_MAX_FRAG, "20%"},     {BUDGET_NO_LEAKS, "true"},   {BUDGET_HEAP_STABLE, "true"},
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		if (!b->limits[seeds[i].kind].given)
			set_limit(&b->limits[seeds[i].kind], kinds[seeds[i].kind].value, kinds[seeds[i].kind].key,
				  seeds[i].value, NULL);
}

int budget_validate(const struct budget *b, struct diag *d)
{
	bool regress = b->limits[BUDGET_MAX_REGRESS].on;
	if (regress && !b->baseline)
		return diag_set(d, -EINVAL, 0, "max-regress needs a baseline (--baseline DIR)");
	if (!regress && b->baseline)
		return diag_set(d, -EINVAL, 0, "baseline needs max-regress (--max-regress P)");
	for (int k = 0; k < BUDGET_NKINDS; k++)
		if (b->limits[k].on)
			return 0;
	return diag_set(d, -EINVAL, 0, "no budget to check: give budget flags, --budget FILE or --seed-defaults");
}

/* ---- evaluating ---- */

const char *budget_verdict_name(enum budget_verdict v)
{
	return v == BUDGET_PASS ? "pass" : v == BUDGET_FAIL ? "fail" : "skip";
}

char *budget_format_size(double bytes, bool binary, char *buf, size_t cap)
{
	static const char *const dec[] = {"KB", "MB", "GB", "TB", "PB"}, *const bin[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
	double base = binary ? 1024 : 1000;
	if (!(fabs(bytes) >= base)) {
		snprintf(buf, cap, "%.0f B", bytes);
		return buf;
	}
	double v = bytes;
	int u = -1;
	while (fabs(v) >= base && u < 4) {
		v /= base;
		u++;
	}
	snprintf(buf, cap, v >= 100 ? "%.0f %s" : "%.3g %s", v, binary ? bin[u] : dec[u]);
	return buf;
}

/* Starts a row for budget k of b. */
static struct budget_result *row(struct budget_result *out, size_t *n, const struct budget *b, enum budget_kind k,
				 const char *label)
{
	struct budget_result *r = &out[(*n)++];
	memset(r, 0, sizeof(*r));
	r->kind = k;
	r->label = label ? label : kinds[k].key;
	snprintf(r->limit, sizeof(r->limit), "%s", b->limits[k].text);
	return r;
}

/* The figure is missing: a skip, or a failure under strict. */
static void missing(struct budget_result *r, const struct budget *b, const char *why)
{
	r->no_data = true;
	r->verdict = b->strict ? BUDGET_FAIL : BUDGET_SKIP;
	snprintf(r->measured, sizeof(r->measured), "%s%s", why, b->strict ? " (--strict)" : "");
}

static void compare(struct budget_result *r, double measured, double limit)
{
	r->verdict = measured <= limit ? BUDGET_PASS : BUDGET_FAIL;
}

/* Why run s lacks budget k's figure, or NULL when it has it (max-regress
 * has its own reasons). */
static const char *missing_reason(enum budget_kind k, const struct runsummary *s)
{
	switch (k) {
	case BUDGET_MAX_SELF:
		return !s->has_cpu ? "no CPU profile in this run" : !s->cpu.ntop ? "no CPU samples in this run" : NULL;
	case BUDGET_MAX_LOCK_WAIT:
		return s->has_offcpu ? NULL : "no off-CPU profile in this run";
	case BUDGET_MAX_RSS:
		return (s->has_mem && s->mem.peak_rss) || (s->has_heap && s->heap.peak_rss) ? NULL
											     : "no RSS data in this run";
	case BUDGET_HEAP_STABLE:
		return s->has_heap || s->has_mem ? NULL : "no heap or memory trend in this run";
	case BUDGET_MAX_FRAG:
		if (!s->has_heap)
			return "no heap data in this run";
		return s->heap.frag_pct < 0 ? "fragmentation unknown in this run" : NULL;
	case BUDGET_MAX_HEAP:
	case BUDGET_NO_LEAKS:
	case BUDGET_MAX_ALLOC_RATE:
		return s->has_heap ? NULL : "no heap data in this run";
	case BUDGET_MAX_REGRESS:
	case BUDGET_NKINDS:
		break;
	}
	return NULL;
}

static void eval_max_self(struct budget_result *r, const struct budget *b, const struct runsummary *s)
{
	const struct runsummary_func *worst = &s->cpu.top[0];
	for (size_t i = 1; i < s->cpu.ntop; i++)
		if (s->cpu.top[i].self_pct > worst->self_pct)
			worst = &s->cpu.top[i];
	snprintf(r->measured, sizeof(r->measured), "%.1f%% in %s", worst->self_pct, worst->name ? worst->name : "?");
	compare(r, worst->self_pct, b->limits[BUDGET_MAX_SELF].value);
}

static void eval_size(struct budget_result *r, const struct budget *b, enum budget_kind k, double bytes)
{
	budget_format_size(bytes, b->limits[k].binary, r->measured, sizeof(r->measured));
	compare(r, bytes, b->limits[k].value);
}

static void eval_heap_stable(struct budget_result *r, const struct runsummary *s)
{
	if (s->has_heap) {
		double mbph = s->heap.growth_bph / 1e6;
		snprintf(r->measured, sizeof(r->measured), "live heap %+.1f MB/h", mbph);
		return compare(r, mbph, BUDGET_STABLE_MB_PER_HOUR);
	}
	bool leak = s->mem.verdict && !strcmp(s->mem.verdict, "likely leak");
	snprintf(r->measured, sizeof(r->measured), "RSS %+.1f MB/h%s%s%s", s->mem.growth_mb_per_hour,
		 s->mem.verdict ? " (" : "", s->mem.verdict ? s->mem.verdict : "", s->mem.verdict ? ")" : "");
	compare(r, s->mem.growth_mb_per_hour, BUDGET_STABLE_MB_PER_HOUR);
	if (leak)
		r->verdict = BUDGET_FAIL;
}

static void eval_regress(struct budget_result *out, size_t *n, const struct budget *b, const struct runsummary *s,
			 const struct budget_baseline *base)
{
	const struct budget_limit *l = &b->limits[BUDGET_MAX_REGRESS];
	const struct runsummary *bs = base ? base->summary : NULL;

	struct budget_result *r = row(out, n, b, BUDGET_MAX_REGRESS, "max-regress cpu");
	snprintf(r->limit, sizeof(r->limit), "+%g pts", l->value);
	if (!base || !base->cpu || !base->base_cpu) {
		missing(r, b, base && base->cpu_missing ? base->cpu_missing : "no CPU profiles to compare");
	} else {
		struct selfshare_growth g;
		selfshare_worst_growth(base->cpu, base->base_cpu, &g);
		if (!g.name) {
			missing(r, b, "no CPU samples in this run");
		} else {
			snprintf(r->measured, sizeof(r->measured), "%+.1f pts in %s (%.1f%% -> %.1f%%)", g.after - g.before,
				 g.name, g.before, g.after);
			compare(r, g.after - g.before, l->value);
		}
	}

	r = row(out, n, b, BUDGET_MAX_REGRESS, "max-regress heap");
	snprintf(r->limit, sizeof(r->limit), "+%g%%", l->value);
	if (!s->has_heap)
		return missing(r, b, "no heap data in this run");
	if (!bs || !bs->has_heap)
		return missing(r, b, "no heap data in the baseline");
	double before = (double)bs->heap.peak_bytes, after = (double)s->heap.peak_bytes;
	double growth = before > 0 ? 100.0 * (after - before) / before : after > 0 ? INFINITY : 0;
	char a[32], c[32];
	snprintf(r->measured, sizeof(r->measured), "peak heap %+.1f%% (%s -> %s)", growth,
		 budget_format_size(before, false, a, sizeof(a)), budget_format_size(after, false, c, sizeof(c)));
	compare(r, growth, l->value);
}

size_t budget_evaluate(const struct budget *b, const struct runsummary *s, const struct budget_baseline *base,
		       struct budget_result *out)
{
	size_t n = 0;
	for (int i = 0; i < BUDGET_NKINDS; i++) {
		enum budget_kind k = (enum budget_kind)i;
		if (!b->limits[k].on)
			continue;
		if (k == BUDGET_MAX_REGRESS) {
			eval_regress(out, &n, b, s, base);
			continue;
		}
		struct budget_result *r = row(out, &n, b, k, NULL);
		if (k == BUDGET_NO_LEAKS)
			snprintf(r->limit, sizeof(r->limit), "0 B");
		else if (k == BUDGET_HEAP_STABLE)
			snprintf(r->limit, sizeof(r->limit), "%g MB/h", BUDGET_STABLE_MB_PER_HOUR);
		const char *why = missing_reason(k, s);
		if (why) {
			missing(r, b, why);
			continue;
		}
		double limit = b->limits[k].value;
		switch (k) {
		case BUDGET_MAX_SELF:
			eval_max_self(r, b, s);
			break;
		case BUDGET_MAX_LOCK_WAIT:
			snprintf(r->measured, sizeof(r->measured), "%.1f%% in locks (off-CPU %.1f%%)",
				 s->offcpu.lock_wait_pct, s->offcpu.wait_pct);
			compare(r, s->offcpu.lock_wait_pct, limit);
			break;
		case BUDGET_MAX_HEAP:
			eval_size(r, b, k, (double)s->heap.peak_bytes);
			break;
		case BUDGET_MAX_RSS:
			eval_size(r, b, k, (double)(s->has_mem && s->mem.peak_rss ? s->mem.peak_rss : s->heap.peak_rss));
			break;
		case BUDGET_NO_LEAKS:
			snprintf(r->measured, sizeof(r->measured), "%llu B in %llu blocks definitely lost",
				 (unsigned long long)s->heap.leaks.definite_bytes,
				 (unsigned long long)s->heap.leaks.definite_blocks);
			r->verdict = s->heap.leaks.definite_bytes || s->heap.leaks.definite_blocks ? BUDGET_FAIL : BUDGET_PASS;
			break;
		case BUDGET_HEAP_STABLE:
			eval_heap_stable(r, s);
			break;
		case BUDGET_MAX_ALLOC_RATE:
			eval_size(r, b, k, s->heap.alloc_rate_bps);
			strncat(r->measured, "/s", sizeof(r->measured) - strlen(r->measured) - 1);
			break;
		case BUDGET_MAX_FRAG:
			snprintf(r->measured, sizeof(r->measured), "%.1f%%", s->heap.frag_pct);
			compare(r, s->heap.frag_pct, limit);
			break;
		case BUDGET_MAX_REGRESS:
		case BUDGET_NKINDS:
			break;
		}
	}
	return n;
}
