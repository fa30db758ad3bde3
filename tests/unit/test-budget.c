/* test-budget: kiln check's budgets: sizes, rates, percents and booleans
 * parsed (and refused), the budget file parser with every error on its
 * line, merging files, flags and the seeds' defaults, each budget passing,
 * failing and skipping (or failing under strict) on hand-built summaries,
 * the baseline regression maths on real profiles, and JUnit escaping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analyze/budget.h"
#include "analyze/selfshare.h"
#include "base/xalloc.h"
#include "format/budgetfile.h"
#include "render/junit.h"

/* ---- values ---- */

static void size_is(const char *s, double want, bool want_binary)
{
	double v = -1;
	bool bin = !want_binary;
	if (budget_parse_size(s, &v, &bin) != 0)
		fail_msg("'%s' should parse as a size", s);
	if (v != want || bin != want_binary)
		fail_msg("'%s': got %.17g (binary %d), want %.17g (binary %d)", s, v, bin, want, want_binary);
}

static void test_sizes(void **state)
{
	(void)state;
	size_is("500MB", 500e6, false);
	size_is("500MiB", 500.0 * 1048576, true);
	size_is("1.5G", 1.5e9, false);
	size_is("1.5GiB", 1.5 * 1073741824.0, true);
	size_is("4096", 4096, false);
	size_is("4096B", 4096, false);
	size_is(" 10 kb ", 10e3, false);
	size_is("10K", 10e3, false);
	size_is("2KiB", 2048, true);
	size_is("1TB", 1e12, false);
	size_is("1tib", 1099511627776.0, true);
	size_is("0", 0, false);
	size_is(".5M", 5e5, false);
	static const char *const bad[] = {"", " ", "MB", "-1MB", "+1MB", "1e3", "0x10", "5 MBs", "inf",
					  "nan", "1.2.3", "10 MB/s", "10%", "1,5G", "10 M B", "1Mi"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		double v = 42;
		bool bin = false;
		if (budget_parse_size(bad[i], &v, &bin) != -EINVAL || v != 42)
			fail_msg("'%s' should not be a size", bad[i]);
	}
}

static void test_rates(void **state)
{
	(void)state;
	double v;
	bool bin;
	assert_int_equal(budget_parse_rate("100MB/s", &v, &bin), 0);
	assert_true(v == 100e6 && !bin);
	assert_int_equal(budget_parse_rate("64KiB/s", &v, &bin), 0);
	assert_true(v == 65536 && bin);
	assert_int_equal(budget_parse_rate(" 1 GB / s ", &v, &bin), 0);
	assert_true(v == 1e9);
	assert_int_equal(budget_parse_rate("4096/s", &v, &bin), 0);
	assert_true(v == 4096);
	static const char *const bad[] = {"100MB", "100MB/m", "100MB/ss", "/s", "100MB/s/s", "MB/s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (budget_parse_rate(bad[i], &v, &bin) != -EINVAL)
			fail_msg("'%s' should not be a rate", bad[i]);
}

static void test_percents(void **state)
{
	(void)state;
	double v;
	assert_int_equal(budget_parse_percent("10%", &v), 0);
	assert_true(v == 10);
	assert_int_equal(budget_parse_percent("10", &v), 0);
	assert_true(v == 10);
	assert_int_equal(budget_parse_percent(" 12.5 % ", &v), 0);
	assert_true(v == 12.5);
	assert_int_equal(budget_parse_percent("100", &v), 0);
	assert_int_equal(budget_parse_percent("0%", &v), 0);
	assert_true(v == 0);
	static const char *const bad[] = {"101", "100.5%", "-1", "10%%", "abc", "", "%", "1e1", "10 pts"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (budget_parse_percent(bad[i], &v) != -EINVAL)
			fail_msg("'%s' should not be a percent", bad[i]);
	assert_int_equal(budget_parse_points("150", &v), 0);
	assert_true(v == 150);
	assert_int_equal(budget_parse_points("-5", &v), -EINVAL);
	bool b;
	assert_int_equal(budget_parse_bool("yes", &b), 0);
	assert_true(b);
	assert_int_equal(budget_parse_bool("OFF", &b), 0);
	assert_false(b);
	assert_int_equal(budget_parse_bool("maybe", &b), -EINVAL);
}

/* ---- setting budgets, budget files ---- */

static void test_set(void **state)
{
	(void)state;
	struct budget b;
	budget_init(&b);
	struct diag d = {0};
	assert_int_equal(budget_set(&b, "max-self", "10", &d), 0);
	assert_true(b.limits[BUDGET_MAX_SELF].on);
	assert_string_equal(b.limits[BUDGET_MAX_SELF].text, "10%");
	assert_int_equal(budget_set(&b, "max-heap", "1.5GiB", &d), 0);
	assert_string_equal(b.limits[BUDGET_MAX_HEAP].text, "1.5GiB");
	assert_true(b.limits[BUDGET_MAX_HEAP].binary);
	assert_int_equal(budget_set(&b, "no-leaks", NULL, &d), 0);
	assert_true(b.limits[BUDGET_NO_LEAKS].on);
	assert_int_equal(budget_set(&b, "max-heap", "off", &d), 0);
	assert_true(b.limits[BUDGET_MAX_HEAP].given);
	assert_false(b.limits[BUDGET_MAX_HEAP].on);

	assert_int_equal(budget_set(&b, "max-heap", "12 parsecs", &d), KILN_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "max-heap: '12 parsecs' is not a size"));
	assert_int_equal(budget_set(&b, "max-self", NULL, &d), KILN_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "max-self needs a value"));
	assert_int_equal(budget_set(&b, "max-sefl", "10", &d), KILN_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "unknown key 'max-sefl'"));
	assert_int_equal(budget_set(&b, "max-rss", "123456789012345678901234567890123MB", &d), KILN_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "too long"));
	assert_int_equal(budget_set(&b, "strict", "perhaps", &d), KILN_ERR_FORMAT);
	assert_false(b.strict);
	budget_release(&b);
}

static int read_text(struct budget *b, const char *text, struct diag *d)
{
	memset(d, 0, sizeof(*d));
	return budget_read_file(b, text, strlen(text), d);
}

static void test_file(void **state)
{
	(void)state;
	struct budget b;
	budget_init(&b);
	struct diag d;
	const char *text = "# service budgets\n"
			   "\n"
			   "max-self = 10%   # the seeds' default\r\n"
			   "  max-heap=500MiB\n"
			   "no-leaks = true\n"
			   "baseline = results/main#1\n"
			   "max-regress = 5\n"
			   "strict = yes";
	assert_int_equal(read_text(&b, text, &d), 0);
	assert_true(b.limits[BUDGET_MAX_SELF].on && b.limits[BUDGET_MAX_SELF].value == 10);
	assert_true(b.limits[BUDGET_MAX_HEAP].value == 500.0 * 1048576);
	assert_true(b.limits[BUDGET_NO_LEAKS].on);
	assert_string_equal(b.baseline, "results/main#1"); /* '#' inside a word is not a comment */
	assert_true(b.limits[BUDGET_MAX_REGRESS].value == 5);
	assert_true(b.strict);
	assert_int_equal(budget_validate(&b, &d), 0);
	budget_release(&b);

	static const struct {
		const char *text;
		unsigned long line;
		const char *msg;
	} bad[] = {
		{"max-self = 10\nmax-heap 500MB\n", 2, "expected 'key = value'"},
		{"# c\n\nMax-Self = 10\n", 3, "'Max-Self' is not a key"},
		{"max-self =   # nothing\n", 1, "no value for 'max-self'"},
		{"= 10\n", 1, "no key before '='"},
		{"max-self = 10\nmax-frag = 2\0\n", 2, "NUL byte"},
		{"\n\n\nmax-sefl = 10\n", 4, "unknown key 'max-sefl'"},
		{"max-heap = 500 MBB\n", 1, "max-heap: '500 MBB' is not a size"},
		{"max-alloc-rate = 100MB\n", 1, "is not a rate"},
		{"max-frag = 120%\n", 1, "is not a percent"},
		{"no-leaks = sure\n", 1, "no-leaks: 'sure' is not true or false"},
		{"max-self = 10\n#\nmax-self = 20\n", 3, "max-self is given twice (first on line 1)"},
		{"seed-defaults = 2\n", 1, "is not true or false"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		budget_init(&b);
		size_t len = strlen(bad[i].text);
		if (strstr(bad[i].text, "max-frag = 2"))
			len += 2; /* past the NUL */
		memset(&d, 0, sizeof(d));
		int rc = budget_read_file(&b, bad[i].text, len, &d);
		if (rc != KILN_ERR_FORMAT || d.line != bad[i].line || !strstr(d.msg, bad[i].msg))
			fail_msg("case %zu: rc %d, line %lu, '%s'; want line %lu, '%s'", i, rc, d.line, d.msg,
				 bad[i].line, bad[i].msg);
		budget_release(&b);
	}
}

/* Every key handed over, in order, with its line. */
static int collect(void *ctx, const char *key, const char *value, unsigned long line, struct diag *d)
{
	(void)d;
	char buf[128];
	snprintf(buf, sizeof(buf), "%lu:%s=%s;", line, key, value);
	strcat(ctx, buf);
	return 0;
}

static void test_file_lines(void **state)
{
	(void)state;
	char got[512] = "";
	const char *text = "a = 1\n\tb-2\t=\tx y \n#c = 3\nd = e=f\r\n  \ng = h # i\nj = k#l";
	assert_int_equal(budgetfile_parse(text, strlen(text), collect, got, NULL), 0);
	assert_string_equal(got, "1:a=1;2:b-2=x y;4:d=e=f;6:g=h;7:j=k#l;");
	got[0] = '\0';
	assert_int_equal(budgetfile_parse("", 0, collect, got, NULL), 0);
	assert_string_equal(got, "");
}

static void test_merge_and_defaults(void **state)
{
	(void)state;
	struct budget file, flags;
	budget_init(&file);
	budget_init(&flags);
	struct diag d;
	assert_int_equal(read_text(&file, "max-self = 20\nmax-frag = off\nseed-defaults = true\nmax-rss = 1G\n", &d), 0);
	assert_int_equal(budget_set(&flags, "max-self", "30%", &d), 0);
	assert_int_equal(budget_set(&flags, "max-rss", "off", &d), 0);
	budget_merge(&file, &flags);
	assert_true(file.seed_defaults);
	budget_seed_defaults(&file);
	assert_true(file.limits[BUDGET_MAX_SELF].value == 30); /* the flag over the file over the seed */
	assert_false(file.limits[BUDGET_MAX_FRAG].on);          /* the file's "off" over the seed */
	assert_false(file.limits[BUDGET_MAX_RSS].on);           /* the flag's "off" over the file */
	assert_true(file.limits[BUDGET_MAX_HEAP].on && file.limits[BUDGET_MAX_HEAP].value == 500e6);
	assert_true(file.limits[BUDGET_MAX_ALLOC_RATE].on && file.limits[BUDGET_MAX_ALLOC_RATE].value == 100e6);
	assert_true(file.limits[BUDGET_NO_LEAKS].on && file.limits[BUDGET_HEAP_STABLE].on);
	assert_false(file.limits[BUDGET_MAX_LOCK_WAIT].on);
	budget_release(&file);
	budget_release(&flags);

	struct budget b;
	budget_init(&b);
	assert_int_equal(budget_validate(&b, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "no budget to check"));
	assert_int_equal(budget_set(&b, "max-regress", "5", &d), 0);
	assert_int_equal(budget_validate(&b, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "needs a baseline"));
	assert_int_equal(budget_set(&b, "baseline", "results/main", &d), 0);
	assert_int_equal(budget_validate(&b, &d), 0);
	assert_int_equal(budget_set(&b, "max-regress", "off", &d), 0);
	assert_int_equal(budget_validate(&b, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "baseline needs max-regress"));
	budget_release(&b);
}

/* ---- evaluating ---- */

static void summary_full(struct runsummary *s)
{
	memset(s, 0, sizeof(*s));
	s->version = RUNSUMMARY_VERSION;
	s->has_cpu = true;
	s->cpu.ntop = 2;
	s->cpu.top = xcalloc(2, sizeof(*s->cpu.top));
	runsummary_set(&s->cpu.top[0].name, "parse_request");
	s->cpu.top[0].self_pct = 12.0;
	runsummary_set(&s->cpu.top[1].name, "hash_rounds");
	s->cpu.top[1].self_pct = 23.4; /* not first: the worst is found, not assumed */
	s->has_offcpu = true;
	s->offcpu.lock_wait_pct = 4.5;
	s->offcpu.wait_pct = 30;
	s->has_heap = true;
	s->heap.peak_bytes = 7096;
	s->heap.alloc_rate_bps = 50e6;
	s->heap.frag_pct = 15;
	s->heap.growth_bph = 2e6;
	s->heap.peak_rss = 9000000;
	s->heap.leaks.definite_bytes = 48;
	s->heap.leaks.definite_blocks = 3;
	s->has_mem = true;
	s->mem.peak_rss = 12000000;
	s->mem.growth_mb_per_hour = 50; /* the heap figure wins for heap-stable */
	runsummary_set(&s->mem.verdict, "likely leak");
}

static void set(struct budget *b, const char *key, const char *value)
{
	struct diag d = {0};
	if (budget_set(b, key, value, &d))
		fail_msg("%s = %s: %s", key, value ? value : "(flag)", d.msg);
}

/* Evaluates the one budget key = value against s and checks the row. */
static void one(const struct runsummary *s, const char *key, const char *value, bool strict,
		enum budget_verdict want, const char *measured)
{
	struct budget b;
	budget_init(&b);
	set(&b, key, value);
	b.strict = strict;
	struct budget_result r[BUDGET_MAX_RESULTS];
	size_t n = budget_evaluate(&b, s, NULL, r);
	if (n != 1 || r[0].verdict != want || strcmp(r[0].measured, measured) != 0)
		fail_msg("%s = %s: %zu rows, verdict %s, measured '%s'; want %s, '%s'", key, value ? value : "",
			 n, n ? budget_verdict_name(r[0].verdict) : "-", n ? r[0].measured : "",
			 budget_verdict_name(want), measured);
	assert_string_equal(r[0].label, key);
	assert_int_equal(r[0].no_data, strstr(measured, " in this run") != NULL);
	budget_release(&b);
}

static void test_evaluate(void **state)
{
	(void)state;
	struct runsummary s, empty = {.version = RUNSUMMARY_VERSION};
	summary_full(&s);

	one(&s, "max-self", "23.4", false, BUDGET_PASS, "23.4% in hash_rounds");
	one(&s, "max-self", "10%", false, BUDGET_FAIL, "23.4% in hash_rounds");
	one(&empty, "max-self", "10%", false, BUDGET_SKIP, "no CPU profile in this run");
	one(&empty, "max-self", "10%", true, BUDGET_FAIL, "no CPU profile in this run (--strict)");

	one(&s, "max-lock-wait", "5", false, BUDGET_PASS, "4.5% in locks (off-CPU 30.0%)");
	one(&s, "max-lock-wait", "4", false, BUDGET_FAIL, "4.5% in locks (off-CPU 30.0%)");
	one(&empty, "max-lock-wait", "4", false, BUDGET_SKIP, "no off-CPU profile in this run");

	one(&s, "max-heap", "7096", false, BUDGET_PASS, "7.1 KB");
	one(&s, "max-heap", "7095", false, BUDGET_FAIL, "7.1 KB");
	one(&s, "max-heap", "7KiB", false, BUDGET_PASS, "6.93 KiB");
	one(&empty, "max-heap", "1G", false, BUDGET_SKIP, "no heap data in this run");
	one(&empty, "max-heap", "1G", true, BUDGET_FAIL, "no heap data in this run (--strict)");

	one(&s, "max-rss", "12MB", false, BUDGET_PASS, "12 MB");
	one(&s, "max-rss", "11MB", false, BUDGET_FAIL, "12 MB");
	one(&empty, "max-rss", "11MB", false, BUDGET_SKIP, "no RSS data in this run");

	one(&s, "no-leaks", NULL, false, BUDGET_FAIL, "48 B in 3 blocks definitely lost");
	one(&empty, "no-leaks", NULL, false, BUDGET_SKIP, "no heap data in this run");

	one(&s, "heap-stable", NULL, false, BUDGET_PASS, "live heap +2.0 MB/h");
	one(&empty, "heap-stable", NULL, false, BUDGET_SKIP, "no heap or memory trend in this run");

	one(&s, "max-alloc-rate", "50MB/s", false, BUDGET_PASS, "50 MB/s");
	one(&s, "max-alloc-rate", "40MiB/s", false, BUDGET_FAIL, "47.7 MiB/s");
	one(&empty, "max-alloc-rate", "40MB/s", false, BUDGET_SKIP, "no heap data in this run");

	one(&s, "max-frag", "20", false, BUDGET_PASS, "15.0%");
	one(&s, "max-frag", "14.9", false, BUDGET_FAIL, "15.0%");
	one(&empty, "max-frag", "20", false, BUDGET_SKIP, "no heap data in this run");

	/* heap figures change the verdicts: no leaks, growing heap, RSS from
	 * the heap tracker, fragmentation unknown */
	s.heap.leaks.definite_bytes = s.heap.leaks.definite_blocks = 0;
	s.heap.growth_bph = 10.5e6;
	s.heap.frag_pct = -1;
	s.has_mem = false;
	one(&s, "no-leaks", NULL, false, BUDGET_PASS, "0 B in 0 blocks definitely lost");
	one(&s, "heap-stable", NULL, false, BUDGET_FAIL, "live heap +10.5 MB/h");
	one(&s, "max-rss", "9MB", false, BUDGET_PASS, "9 MB");
	one(&s, "max-frag", "20", false, BUDGET_SKIP, "fragmentation unknown in this run");

	/* RSS trend when there is no heap: kiln mem's verdict counts too */
	s.has_heap = false;
	s.has_mem = true;
	s.mem.growth_mb_per_hour = 3;
	one(&s, "heap-stable", NULL, false, BUDGET_FAIL, "RSS +3.0 MB/h (likely leak)");
	runsummary_set(&s.mem.verdict, "stable");
	one(&s, "heap-stable", NULL, false, BUDGET_PASS, "RSS +3.0 MB/h (stable)");
	s.mem.growth_mb_per_hour = 11;
	one(&s, "heap-stable", NULL, false, BUDGET_FAIL, "RSS +11.0 MB/h (stable)");
	runsummary_release(&s);
}

static void test_evaluate_order(void **state)
{
	(void)state;
	struct runsummary s;
	summary_full(&s);
	struct budget b;
	budget_init(&b);
	set(&b, "seed-defaults", NULL);
	budget_seed_defaults(&b);
	struct budget_result r[BUDGET_MAX_RESULTS];
	size_t n = budget_evaluate(&b, &s, NULL, r);
	static const char *const want[] = {"max-self", "max-heap", "no-leaks", "heap-stable", "max-alloc-rate",
					   "max-frag"};
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(r[i].label, want[i]);
	assert_string_equal(r[0].limit, "10%");
	assert_string_equal(r[1].limit, "500MB");
	assert_string_equal(r[4].limit, "100MB/s");
	budget_release(&b);
	runsummary_release(&s);
}

static void add_folded(struct profile *p, const char *stack, int64_t count)
{
	assert_int_equal(profile_add_folded(p, stack, strlen(stack), count), 0);
}

static void test_regress(void **state)
{
	(void)state;
	struct profile now, before;
	profile_init(&now);
	profile_init(&before);
	/* now: a 50%, b 30%, c 20% (c was absent); before: a 45%, b 45%, d 10% */
	add_folded(&now, "main;a", 50);
	add_folded(&now, "main;x;b", 20);
	add_folded(&now, "main;b", 10);
	add_folded(&now, "main;c", 20);
	add_folded(&before, "main;a", 90);
	add_folded(&before, "main;b", 90);
	add_folded(&before, "main;d", 20);
	struct selfshare cur, base;
	selfshare_init(&cur);
	selfshare_init(&base);
	assert_int_equal(selfshare_add_profile(&cur, &now), 0);
	assert_int_equal(selfshare_add_profile(&base, &before), 0);
	assert_true(selfshare_pct(&cur, "b") == 30);
	assert_true(selfshare_pct(&cur, "main") == 0);
	assert_true(selfshare_pct(&base, "c") == 0);
	struct selfshare_growth g;
	selfshare_worst_growth(&cur, &base, &g);
	assert_string_equal(g.name, "c"); /* +20 beats a's +5 */
	assert_true(g.before == 0 && g.after == 20);

	struct runsummary s = {.version = 1, .has_heap = true}, bs = {.version = 1, .has_heap = true};
	s.heap.peak_bytes = 1100;
	bs.heap.peak_bytes = 1000;
	struct budget_baseline bl = {.summary = &bs, .cpu = &cur, .base_cpu = &base};
	struct budget b;
	budget_init(&b);
	set(&b, "baseline", "results/main");
	set(&b, "max-regress", "20");
	struct budget_result r[BUDGET_MAX_RESULTS];
	assert_int_equal(budget_evaluate(&b, &s, &bl, r), 2);
	assert_string_equal(r[0].label, "max-regress cpu");
	assert_string_equal(r[0].limit, "+20 pts");
	assert_string_equal(r[0].measured, "+20.0 pts in c (0.0% -> 20.0%)");
	assert_int_equal(r[0].verdict, BUDGET_PASS); /* exactly at the limit */
	assert_string_equal(r[1].label, "max-regress heap");
	assert_string_equal(r[1].limit, "+20%");
	assert_string_equal(r[1].measured, "peak heap +10.0% (1 KB -> 1.1 KB)");
	assert_int_equal(r[1].verdict, BUDGET_PASS);

	set(&b, "max-regress", "9.9");
	budget_evaluate(&b, &s, &bl, r);
	assert_int_equal(r[0].verdict, BUDGET_FAIL);
	assert_int_equal(r[1].verdict, BUDGET_FAIL);

	/* the run against itself: no growth */
	bl.base_cpu = &cur;
	budget_evaluate(&b, &s, &bl, r);
	assert_int_equal(r[0].verdict, BUDGET_PASS);
	assert_non_null(strstr(r[0].measured, "+0.0 pts in "));

	/* missing figures: the reason given, or the baseline's heap */
	bl.cpu = NULL;
	bl.cpu_missing = "no cpu.pb.gz in the baseline";
	bs.has_heap = false;
	budget_evaluate(&b, &s, &bl, r);
	assert_int_equal(r[0].verdict, BUDGET_SKIP);
	assert_string_equal(r[0].measured, "no cpu.pb.gz in the baseline");
	assert_int_equal(r[1].verdict, BUDGET_SKIP);
	assert_string_equal(r[1].measured, "no heap data in the baseline");
	b.strict = true;
	budget_evaluate(&b, &s, &bl, r);
	assert_int_equal(r[0].verdict, BUDGET_FAIL);

	/* a baseline peak of 0 grown to anything is an infinite regression */
	bs.has_heap = true;
	bs.heap.peak_bytes = 0;
	b.strict = false;
	budget_evaluate(&b, &s, &bl, r);
	assert_int_equal(r[1].verdict, BUDGET_FAIL);

	budget_release(&b);
	selfshare_release(&cur);
	selfshare_release(&base);
	profile_release(&now);
	profile_release(&before);
}

static void test_format_size(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(budget_format_size(999, false, buf, sizeof(buf)), "999 B");
	assert_string_equal(budget_format_size(1000, false, buf, sizeof(buf)), "1 KB");
	assert_string_equal(budget_format_size(1023, true, buf, sizeof(buf)), "1023 B");
	assert_string_equal(budget_format_size(1536, true, buf, sizeof(buf)), "1.5 KiB");
	assert_string_equal(budget_format_size(523e6, false, buf, sizeof(buf)), "523 MB");
	assert_string_equal(budget_format_size(2.5e15, false, buf, sizeof(buf)), "2.5 PB");
	assert_string_equal(budget_format_size(2.5e18, false, buf, sizeof(buf)), "2500 PB");
}

/* ---- JUnit ---- */

static void test_junit(void **state)
{
	(void)state;
	struct junit_case cases[] = {
		{"max-self", "kiln.check", JUNIT_FAIL, "23.4% in a<b>&\"c'\x01\n", NULL},
		{"bad \xff\xc3 utf-8 \xed\xa0\x80 \xc0\xaf", "kiln.check", JUNIT_PASS, NULL, "\xef\xbf\xbe"},
		{"max-heap", "kiln.check", JUNIT_SKIP, "no heap data", NULL},
		{"read", "kiln.check", JUNIT_ERROR, "unreadable", NULL},
		{"ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5", "kiln.check", JUNIT_PASS, NULL, NULL},
	};
	struct junit_suite suite = {.name = "results/<x>", .cases = cases, .ncases = 5};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(junit_write(f, "kiln check", &suite, 1), 0);
	fclose(f);
	assert_non_null(strstr(buf, "<testsuites name=\"kiln check\" tests=\"5\" failures=\"1\" errors=\"1\" skipped=\"1\">"));
	assert_non_null(strstr(buf, "<testsuite name=\"results/&lt;x&gt;\" tests=\"5\""));
	assert_non_null(strstr(buf, "<failure message=\"23.4% in a&lt;b&gt;&amp;&quot;c&apos;\xef\xbf\xbd&#10;\">"));
	assert_non_null(strstr(buf, "name=\"bad \xef\xbf\xbd\xef\xbf\xbd utf-8 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
				    "\xef\xbf\xbd\xef\xbf\xbd\""));
	assert_non_null(strstr(buf, "<system-out>\xef\xbf\xbd</system-out>"));
	assert_non_null(strstr(buf, "<skipped message=\"no heap data\"/>"));
	assert_non_null(strstr(buf, "<error message=\"unreadable\">unreadable</error>"));
	assert_non_null(strstr(buf, "name=\"ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5\""));
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\n')
			fail_msg("a control character at %zu", i);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_percents),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_lines),
		cmocka_unit_test(test_merge_and_defaults),
		cmocka_unit_test(test_evaluate),
		cmocka_unit_test(test_evaluate_order),
		cmocka_unit_test(test_regress),
		cmocka_unit_test(test_format_size),
		cmocka_unit_test(test_junit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
