/* test-report: render/report on profiles built in code whose self and total
 * values are known: recursion counted once per stack, percentages, the
 * three sort orders, the call tree, per-thread groups, --lines grouping,
 * value formatting, and the text and JSON writers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/error.h"
#include "model/profile.h"
#include "render/report.h"

/* Functions main, a, b, rec (rec at two lines) in x.c; four samples with
 * values (samples, cpu ns):
 *   t1  main;a;rec;rec        (4, 40)   rec recurses: total counts it once
 *   t1  main;a                (2, 20)
 *   t2  main;b                (3, 30)   thread_name t2, also tid 7
 *   t2  main;b;rec (line 41)  (1, 10)
 *   --  main                  (5, 0)    no label, no cpu: left out of cpu
 * so for cpu: self rec 50, b 30, a 20, main 0; total main 100, a 60,
 * rec 50 (not 90), b 40. */
static void build_profile(struct profile *p)
{
	profile_init(p);
	assert_int_equal(profile_add_sample_type(p, "samples", "count"), 0);
	assert_int_equal(profile_add_sample_type(p, "cpu", "nanoseconds"), 1);
	uint64_t fmain = profile_intern_function(p, "main", "main", "x.c", 1);
	uint64_t fa = profile_intern_function(p, "a", "a", "x.c", 2);
	uint64_t fb = profile_intern_function(p, "b", "b", "x.c", 3);
	uint64_t frec = profile_intern_function(p, "rec", "rec", "x.c", 4);
	struct profile_line l;
	l = (struct profile_line){fmain, 10, 0};
	uint64_t lmain = profile_add_location(p, 0, 0x100, &l, 1, 0);
	l = (struct profile_line){fa, 20, 0};
	uint64_t la = profile_add_location(p, 0, 0x200, &l, 1, 0);
	l = (struct profile_line){fb, 30, 0};
	uint64_t lb = profile_add_location(p, 0, 0x300, &l, 1, 0);
	l = (struct profile_line){frec, 40, 0};
	uint64_t lrec = profile_add_location(p, 0, 0x400, &l, 1, 0);
	l = (struct profile_line){frec, 41, 0};
	uint64_t lrec2 = profile_add_location(p, 0, 0x410, &l, 1, 0);

	struct profile_label t1 = {profile_interns(p, "thread"), profile_interns(p, "t1"), 0, 0};
	struct profile_label t2[2] = {
		{profile_interns(p, "tid"), 0, 7, 0},
		{profile_interns(p, "thread_name"), profile_interns(p, "t2"), 0, 0},
	};
	uint64_t s1[] = {lrec, lrec, la, lmain}, s2[] = {la, lmain}, s3[] = {lb, lmain},
		 s4[] = {lrec2, lb, lmain}, s5[] = {lmain};
	int64_t v1[] = {4, 40}, v2[] = {2, 20}, v3[] = {3, 30}, v4[] = {1, 10}, v5[] = {5, 0};
	assert_int_equal(profile_add_sample(p, v1, 2, s1, 4, &t1, 1), 0);
	assert_int_equal(profile_add_sample(p, v2, 2, s2, 2, &t1, 1), 0);
	assert_int_equal(profile_add_sample(p, v3, 2, s3, 2, t2, 2), 0);
	assert_int_equal(profile_add_sample(p, v4, 2, s4, 3, &t2[1], 1), 0);
	assert_int_equal(profile_add_sample(p, v5, 2, s5, 1, NULL, 0), 0);
}

static const char *row_name(const struct report *r, const struct report_row *row)
{
	return report_str(r, r->frames[row->frame].name);
}

static void expect_row(const struct report *r, const struct report_row *row, const char *name,
		       int64_t self, int64_t total)
{
	assert_string_equal(row_name(r, row), name);
	assert_int_equal(row->self, self);
	assert_int_equal(row->total, total);
}

static void test_rows_and_sorts(void **state)
{
	(void)state;
	struct profile p;
	build_profile(&p);
	struct report r;
	struct report_options o = {.value_index = -1};
	assert_int_equal(report_build(&r, &p, &o), 0);
	profile_release(&p); /* the report keeps its own strings */
	assert_string_equal(report_str(&r, r.sample_type), "cpu");
	assert_string_equal(report_str(&r, r.unit), "nanoseconds");
	assert_int_equal(r.total, 100);
	assert_int_equal(r.nstacks, 4);
	assert_int_equal(r.nsamples, 10);
	assert_true(r.samples_known);
	assert_false(r.value_is_samples);
	assert_true(r.has_threads);
	assert_int_equal(r.ngroups, 1);
	const struct report_group *g = &r.groups[0];
	assert_int_equal(g->nrows, 4);
	expect_row(&r, &g->rows[0], "rec", 50, 50);
	expect_row(&r, &g->rows[1], "b", 30, 40);
	expect_row(&r, &g->rows[2], "a", 20, 60);
	expect_row(&r, &g->rows[3], "main", 0, 100);
	assert_true(report_percent(g->rows[1].total, g->total) == 40.0);
	assert_true(report_percent(5, 0) == 0.0);

	report_sort_rows(&r, REPORT_SORT_TOTAL);
	expect_row(&r, &g->rows[0], "main", 0, 100);
	expect_row(&r, &g->rows[1], "a", 20, 60);
	expect_row(&r, &g->rows[2], "rec", 50, 50);
	expect_row(&r, &g->rows[3], "b", 30, 40);

	report_sort_rows(&r, REPORT_SORT_NAME);
	expect_row(&r, &g->rows[0], "a", 20, 60);
	expect_row(&r, &g->rows[1], "b", 30, 40);
	expect_row(&r, &g->rows[2], "main", 0, 100);
	expect_row(&r, &g->rows[3], "rec", 50, 50);
	report_release(&r);
	report_release(&r); /* idempotent */
	report_release(NULL);
}

static void test_sample_type_choice(void **state)
{
	(void)state;
	struct profile p;
	build_profile(&p);
	struct report r;
	struct report_options o = {.value_index = 0, .sort = REPORT_SORT_TOTAL};
	assert_int_equal(report_build(&r, &p, &o), 0);
	assert_string_equal(report_str(&r, r.sample_type), "samples");
	assert_true(r.value_is_samples);
	assert_int_equal(r.total, 15); /* the cpu-less sample counts here */
	assert_int_equal(r.nstacks, 5);
	expect_row(&r, &r.groups[0].rows[0], "main", 5, 15);
	report_release(&r);

	o.value_index = 2;
	assert_int_equal(report_build(&r, &p, &o), -EINVAL);
	profile_release(&p);
}

/* Returns the i-th child of node n (children are sorted by total). */
static const struct report_node *child(const struct report *r, const struct report_node *n,
				       size_t i)
{
	assert_true(i < n->nchildren);
	return &r->nodes[r->children[n->child_off + i]];
}

static void expect_node(const struct report *r, const struct report_node *n, const char *name,
			int64_t self, int64_t total, uint32_t nchildren)
{
	assert_string_equal(report_str(r, r->frames[n->frame].name), name);
	assert_int_equal(n->self, self);
	assert_int_equal(n->total, total);
	assert_int_equal(n->nchildren, nchildren);
}

static void test_tree(void **state)
{
	(void)state;
	struct profile p;
	build_profile(&p);
	struct report r;
	struct report_options o = {.value_index = -1, .tree = true};
	assert_int_equal(report_build(&r, &p, &o), 0);
	profile_release(&p);
	const struct report_node *root = &r.nodes[r.groups[0].root];
	assert_int_equal(root->frame, UINT32_MAX);
	assert_int_equal(root->total, 100);
	assert_int_equal(root->nchildren, 1);
	const struct report_node *m = child(&r, root, 0);
	expect_node(&r, m, "main", 0, 100, 2);
	const struct report_node *a = child(&r, m, 0); /* children by total */
	expect_node(&r, a, "a", 20, 60, 1);
	const struct report_node *rec = child(&r, a, 0);
	expect_node(&r, rec, "rec", 0, 40, 1);
	expect_node(&r, child(&r, rec, 0), "rec", 40, 40, 0);
	const struct report_node *b = child(&r, m, 1);
	expect_node(&r, b, "b", 30, 40, 1);
	expect_node(&r, child(&r, b, 0), "rec", 10, 10, 0);
	report_release(&r);
}

static void test_threads(void **state)
{
	(void)state;
	struct profile p;
	build_profile(&p);
	struct report r;
	struct report_options o = {.value_index = -1, .threads = true, .tree = true};
	assert_int_equal(report_build(&r, &p, &o), 0);
	assert_true(r.by_thread);
	assert_int_equal(r.ngroups, 2);
	const struct report_group *g1 = &r.groups[0], *g2 = &r.groups[1];
	assert_string_equal(report_thread_name(&r, g1), "t1");
	assert_int_equal(g1->total, 60);
	assert_int_equal(g1->nsamples, 6);
	assert_int_equal(g1->nrows, 3);
	expect_row(&r, &g1->rows[0], "rec", 40, 40);
	expect_row(&r, &g1->rows[1], "a", 20, 60);
	expect_row(&r, &g1->rows[2], "main", 0, 60);
	/* thread_name wins over tid */
	assert_string_equal(report_thread_name(&r, g2), "t2");
	assert_int_equal(g2->total, 40);
	expect_row(&r, &g2->rows[0], "b", 30, 40);
	expect_row(&r, &g2->rows[1], "rec", 10, 10);
	expect_row(&r, &g2->rows[2], "main", 0, 40);
	assert_int_equal(r.nodes[g2->root].total, 40);
	expect_node(&r, child(&r, &r.nodes[g2->root], 0), "main", 0, 40, 1);
	report_release(&r);

	/* With the samples type the unlabelled sample forms its own group. */
	o.value_index = 0;
	assert_int_equal(report_build(&r, &p, &o), 0);
	assert_int_equal(r.ngroups, 3);
	assert_string_equal(report_thread_name(&r, &r.groups[0]), "t1"); /* 6 */
	assert_int_equal(r.groups[1].thread, 0);                          /* 5 */
	assert_string_equal(report_thread_name(&r, &r.groups[1]), "(unlabelled)");
	assert_int_equal(r.groups[1].total, 5);
	assert_string_equal(report_thread_name(&r, &r.groups[2]), "t2"); /* 4 */
	report_release(&r);
	profile_release(&p);
}

static void test_lines(void **state)
{
	(void)state;
	struct profile p;
	build_profile(&p);
	struct report r;
	struct report_options o = {.value_index = -1, .lines = true};
	assert_int_equal(report_build(&r, &p, &o), 0);
	profile_release(&p);
	const struct report_group *g = &r.groups[0];
	assert_int_equal(g->nrows, 5);
	expect_row(&r, &g->rows[0], "rec", 40, 40);
	assert_int_equal(r.frames[g->rows[0].frame].line, 40);
	assert_string_equal(report_str(&r, r.frames[g->rows[0].frame].file), "x.c");
	expect_row(&r, &g->rows[1], "b", 30, 40);
	expect_row(&r, &g->rows[2], "a", 20, 60);
	expect_row(&r, &g->rows[3], "rec", 10, 10);
	assert_int_equal(r.frames[g->rows[3].frame].line, 41);
	report_release(&r);
}

/* A folded 60/30/10 profile, as kiln report builds it from folded text. */
static void test_folded_profile(void **state)
{
	(void)state;
	struct profile p;
	profile_init(&p);
	assert_int_equal(profile_add_folded(&p, "prog;main;work_a", 16, 600), 0);
	assert_int_equal(profile_add_folded(&p, "prog;main;work_b", 16, 300), 0);
	assert_int_equal(profile_add_folded(&p, "prog;main;work_c", 16, 100), 0);
	struct report r;
	struct report_options o = {.value_index = -1, .threads = true};
	assert_int_equal(report_build(&r, &p, &o), 0);
	profile_release(&p);
	assert_false(r.has_threads);
	assert_int_equal(r.ngroups, 1);
	assert_int_equal(r.total, 1000);
	const struct report_group *g = &r.groups[0];
	expect_row(&r, &g->rows[0], "work_a", 600, 600);
	expect_row(&r, &g->rows[1], "work_b", 300, 300);
	expect_row(&r, &g->rows[2], "work_c", 100, 100);
	expect_row(&r, &g->rows[3], "main", 0, 1000);
	expect_row(&r, &g->rows[4], "prog", 0, 1000);
	report_release(&r);
}

static void test_empty_and_odd_profiles(void **state)
{
	(void)state;
	struct profile p;
	profile_init(&p);
	struct report r;
	struct report_options o = {.value_index = -1, .tree = true};
	assert_int_equal(report_build(&r, &p, &o), 0);
	assert_int_equal(r.value_index, -1);
	assert_int_equal(r.ngroups, 1);
	assert_int_equal(r.groups[0].nrows, 0);
	report_release(&r);
	o.value_index = 0;
	assert_int_equal(report_build(&r, &p, &o), -EINVAL);
	profile_release(&p);

	/* No locations, and a location with neither function nor mapping. */
	profile_init(&p);
	assert_int_equal(profile_add_sample_type(&p, "alloc_space", "bytes"), 0);
	int64_t v = 2048;
	assert_int_equal(profile_add_sample(&p, &v, 1, NULL, 0, NULL, 0), 0);
	uint64_t loc = profile_add_location(&p, 0, 0xabc, NULL, 0, 0);
	assert_int_equal(profile_add_sample(&p, &v, 1, &loc, 1, NULL, 0), 0);
	o.value_index = -1;
	assert_int_equal(report_build(&r, &p, &o), 0);
	profile_release(&p);
	assert_int_equal(r.groups[0].nrows, 2);
	expect_row(&r, &r.groups[0].rows[0], "0xabc", 2048, 2048);
	expect_row(&r, &r.groups[0].rows[1], "[unknown]", 2048, 2048);
	report_release(&r);
}

static void test_format_value(void **state)
{
	(void)state;
	char b[64];
	assert_string_equal(report_format_value(0, "nanoseconds", b, sizeof(b)), "0");
	assert_string_equal(report_format_value(999, "nanoseconds", b, sizeof(b)), "999ns");
	assert_string_equal(report_format_value(1500, "nanoseconds", b, sizeof(b)), "1.5us");
	assert_string_equal(report_format_value(170000000, "nanoseconds", b, sizeof(b)), "170ms");
	assert_string_equal(report_format_value(2500000000LL, "nanoseconds", b, sizeof(b)), "2.5s");
	assert_string_equal(report_format_value(1234, "microseconds", b, sizeof(b)), "1.23ms");
	assert_string_equal(report_format_value(-20, "milliseconds", b, sizeof(b)), "-20ms");
	assert_string_equal(report_format_value(100, "bytes", b, sizeof(b)), "100B");
	assert_string_equal(report_format_value(1536, "bytes", b, sizeof(b)), "1.5KiB");
	assert_string_equal(report_format_value(3 << 20, "bytes", b, sizeof(b)), "3MiB");
	assert_string_equal(report_format_value(12345, "count", b, sizeof(b)), "12345");
	assert_string_equal(report_format_value(7, NULL, b, sizeof(b)), "7");
	assert_string_equal(report_format_value(123456, "count", b, 4), "123");
}

static char *write_to_string(const struct report *r, const struct report_view *v, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(json ? report_write_json(r, v, f) : report_write_text(r, v, f), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_writers(void **state)
{
	(void)state;
	struct profile p;
	build_profile(&p);
	struct report r;
	struct report_options o = {.value_index = -1, .tree = true};
	assert_int_equal(report_build(&r, &p, &o), 0);
	profile_release(&p);

	struct report_view v = {.input = "x.pb.gz", .format = "pprof profile", .limit = 2};
	char *s = write_to_string(&r, &v, false);
	if (getenv("TEST_REPORT_SHOW"))
		fputs(s, stderr);
	assert_non_null(strstr(s, "File:     x.pb.gz (pprof profile)\n"));
	assert_non_null(strstr(s, "Type:     cpu (nanoseconds)\n"));
	assert_non_null(strstr(s, "Total:    100ns in 10 samples (4 stacks)\n"));
	assert_non_null(strstr(s, "Showing the top 2 of 4 functions, sorted by self\n"));
	assert_non_null(strstr(s, "flat    flat%     sum%   cum     cum%  function\n"));
	assert_non_null(strstr(s, "\n50ns   50.00%   50.00%  50ns   50.00%  rec\n"));
	assert_non_null(strstr(s, "\n30ns   30.00%   80.00%  40ns   40.00%  b\n"));
	assert_null(strstr(s, "  main\n"));
	free(s);

	v.tree = true;
	v.min_percent = 15;
	s = write_to_string(&r, &v, false);
	if (getenv("TEST_REPORT_SHOW"))
		fputs(s, stderr);
	assert_non_null(strstr(s, "\n100.00%    0.00%  100ns     0  main\n"));
	assert_non_null(strstr(s, "\n 40.00%   40.00%   40ns  40ns        rec\n"));
	assert_null(strstr(s, "10ns")); /* rec under b: 10% < 15% */
	free(s);

	s = write_to_string(&r, &v, true);
	assert_non_null(strstr(s, "\"sample_type\":\"cpu\""));
	assert_non_null(strstr(s, "\"total\":100,\"samples\":10,\"stacks\":4"));
	assert_non_null(strstr(s, "{\"name\":\"rec\",\"self\":50,\"self_percent\":50.0000"));
	assert_non_null(strstr(s, "\"tree\":{\"name\":\"(root)\""));
	assert_null(strstr(s, "\"self\":10,")); /* pruned */
	assert_int_equal(s[strlen(s) - 2], '}');
	free(s);
	report_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_and_sorts),
		cmocka_unit_test(test_sample_type_choice),
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_folded_profile),
		cmocka_unit_test(test_empty_and_odd_profiles),
		cmocka_unit_test(test_format_value),
		cmocka_unit_test(test_writers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
