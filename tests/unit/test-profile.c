/* test-profile: the profile model: folded stacks in and out, function and
 * location dedup, inlined frames, frame naming fallbacks, value index
 * choice, and that every add rejects ids that name nothing. */
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
#include "base/strbuf.h"
#include "model/profile.h"

/* Collects emitted stacks as "stack value\n" lines, in emission order. */
static int collect(void *ctx, const char *stack, size_t len, int64_t value)
{
	struct strbuf *sb = ctx;
	assert_int_equal(strlen(stack), len);
	strbuf_add(sb, stack, len);
	strbuf_addf(sb, " %lld\n", (long long)value);
	return 0;
}

static void expect_stacks(const struct profile *p, int vi, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(profile_for_each_stack(p, vi, collect, &sb), 0);
	assert_string_equal(strbuf_str(&sb), want);
	strbuf_release(&sb);
}

static void add_folded_s(struct profile *p, const char *s, int64_t n)
{
	assert_int_equal(profile_add_folded(p, s, strlen(s), n), 0);
}

static void test_folded_round_trip(void **state)
{
	(void)state;
	struct profile p;
	profile_init(&p);
	add_folded_s(&p, "main;foo;bar", 3);
	add_folded_s(&p, "main;foo", 2);
	add_folded_s(&p, "main;baz;bar", 1);
	add_folded_s(&p, "solo", 7);
	assert_int_equal(p.nsample_types, 1);
	assert_string_equal(profile_str(&p, p.sample_types[0].type), "samples");
	assert_string_equal(profile_str(&p, p.sample_types[0].unit), "count");
	assert_int_equal(p.nfunctions, 5); /* main foo bar baz solo */
	assert_int_equal(p.nlocations, 5);
	assert_int_equal(p.nsamples, 4);
	/* pprof order: the leaf comes first. */
	const struct profile_sample *s = &p.samples[0];
	assert_int_equal(s->nlocs, 3);
	const struct profile_location *leaf = profile_location(&p, p.sample_locs[s->loc_off]);
	assert_non_null(leaf);
	const struct profile_function *f =
		profile_function(&p, profile_location_lines(&p, leaf)[0].function_id);
	assert_string_equal(profile_str(&p, f->name), "bar");
	assert_string_equal(profile_str(&p, f->system_name), "bar");
	assert_int_equal(profile_default_value_index(&p), 0);
	expect_stacks(&p, 0, "main;foo;bar 3\nmain;foo 2\nmain;baz;bar 1\nsolo 7\n");
	profile_release(&p);
}

static void test_folded_edge_cases(void **state)
{
	(void)state;
	struct profile p;
	profile_init(&p);
	assert_int_equal(profile_add_folded(&p, "", 0, 1), -EINVAL);
	/* A deep stack takes the heap path for its frame list. */
	struct strbuf deep = STRBUF_INIT;
	for (int i = 0; i < 300; i++)
		strbuf_addf(&deep, "%sf%d", i ? ";" : "", i % 7);
	assert_int_equal(profile_add_folded(&p, deep.buf, deep.len, 5), 0);
	assert_int_equal(p.nfunctions, 7);
	strbuf_addch(&deep, ' ');
	strbuf_addf(&deep, "5\n");
	expect_stacks(&p, 0, deep.buf);
	strbuf_release(&deep);
	/* Zero counts are kept in the model but not emitted. */
	add_folded_s(&p, "a;b", 0);
	assert_int_equal(p.nsamples, 2);
	profile_release(&p);

	profile_init(&p);
	add_folded_s(&p, "a;;b", -4); /* an empty frame has no name */
	expect_stacks(&p, 0, "a;[unknown];b -4\n");
	profile_release(&p);
}

static void test_folded_next_to_other_types(void **state)
{
	(void)state;
	struct profile p;
	profile_init(&p);
	assert_int_equal(profile_add_sample_type(&p, "cpu", "nanoseconds"), 0);
	add_folded_s(&p, "x;y", 9);
	assert_int_equal(p.nsample_types, 2);
	assert_int_equal(profile_sample_values(&p, 0)[0], 0);
	assert_int_equal(profile_sample_values(&p, 0)[1], 9);
	assert_int_equal(profile_value_index(&p, "samples"), 1);
	expect_stacks(&p, 0, "");
	expect_stacks(&p, 1, "x;y 9\n");
	profile_release(&p);

	/* Once samples exist the type set is fixed. */
	profile_init(&p);
	assert_int_equal(profile_add_sample_type(&p, "cpu", "nanoseconds"), 0);
	int64_t v = 1;
	assert_int_equal(profile_add_sample(&p, &v, 1, NULL, 0, NULL, 0), 0);
	assert_int_equal(profile_add_sample_type(&p, "x", "y"), -EINVAL);
	assert_int_equal(profile_add_folded(&p, "a", 1, 1), -EINVAL);
	expect_stacks(&p, 0, "[unknown] 1\n");
	profile_release(&p);
}

static void test_intern_function(void **state)
{
	(void)state;
	struct profile p;
	profile_init(&p);
	uint64_t a = profile_intern_function(&p, "f", "_Z1fv", "f.c", 10);
	uint64_t b = profile_intern_function(&p, "f", "_Z1fv", "f.c", 10);
	uint64_t c = profile_intern_function(&p, "f", "_Z1fv", "f.c", 11);
	uint64_t d = profile_intern_function(&p, "f", NULL, NULL, 0);
	assert_int_equal(a, 1);
	assert_int_equal(b, a);
	assert_int_equal(c, 2);
	assert_int_equal(d, 3);
	/* Functions added without dedup are found by later interning. */
	uint32_t g = profile_interns(&p, "g");
	uint64_t e = profile_add_function(&p, g, g, 0, 0);
	assert_int_equal(profile_intern_function(&p, "g", "g", "", 0), e);
	assert_int_equal(profile_add_function(&p, 999, 0, 0, 0), 0);
	for (int i = 0; i < 5000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "fn%d", i);
		assert_int_equal(profile_intern_function(&p, name, name, "x.c", i), 5 + (uint64_t)i);
	}
	assert_int_equal(profile_intern_function(&p, "fn1234", "fn1234", "x.c", 1234), 5 + 1234);
	assert_null(profile_function(&p, 0));
	assert_null(profile_function(&p, p.nfunctions + 1));
	assert_non_null(profile_function(&p, p.nfunctions));
	profile_release(&p);
}

static void test_inlined_lines(void **state)
{
	(void)state;
	struct profile p;
	profile_init(&p);
	profile_add_sample_type(&p, "samples", "count");
	profile_add_sample_type(&p, "cpu", "nanoseconds");
	uint64_t fmain = profile_intern_function(&p, "main", "main", "m.c", 1);
	uint64_t outer = profile_intern_function(&p, "outer", "outer", "m.c", 10);
	uint64_t inner = profile_intern_function(&p, "inner", "inner", "m.c", 20);
	struct profile_line l1 = {.function_id = fmain, .line = 3};
	/* Innermost first, as pprof stores inlined frames. */
	struct profile_line l2[2] = {{inner, 21, 0}, {outer, 12, 4}};
	uint64_t lmain = profile_add_location(&p, 0, 0x1000, &l1, 1, 0);
	uint64_t linl = profile_add_location(&p, 0, 0x2000, l2, 2, 0);
	assert_int_equal(lmain, 1);
	assert_int_equal(linl, 2);
	uint64_t stack[2] = {linl, lmain};
	int64_t v[2] = {2, 20000000};
	assert_int_equal(profile_add_sample(&p, v, 2, stack, 2, NULL, 0), 0);
	expect_stacks(&p, 1, "main;outer;inner 20000000\n");
	expect_stacks(&p, 0, "main;outer;inner 2\n");
	profile_release(&p);
}

static void test_frame_fallbacks(void **state)
{
	(void)state;
	struct profile p;
	profile_init(&p);
	profile_add_sample_type(&p, "samples", "count");
	uint64_t mlib = profile_add_mapping(&p, 0x7f0000, 0x7f9000, 0, profile_interns(&p, "/usr/lib/libc.so.6"),
					    profile_interns(&p, "abcd"), PROFILE_MAPPING_HAS_FUNCTIONS);
	uint64_t mvdso = profile_add_mapping(&p, 1, 2, 0, profile_interns(&p, "[vdso]"), 0, 0);
	uint64_t mnone = profile_add_mapping(&p, 1, 2, 0, 0, 0, 0);
	uint32_t semi = profile_interns(&p, "ns;weird\nname");
	uint64_t fsemi = profile_add_function(&p, semi, semi, 0, 0);
	uint32_t sys = profile_interns(&p, "_Zsys");
	uint64_t fsys = profile_add_function(&p, 0, sys, 0, 0);
	struct profile_line ls = {.function_id = fsemi}, lsys = {.function_id = fsys};
	struct profile_line lnone = {.function_id = 0, .line = 5};
	uint64_t a = profile_add_location(&p, mlib, 0x7f1234, NULL, 0, 0);
	uint64_t b = profile_add_location(&p, mvdso, 0x1, NULL, 0, 0);
	uint64_t c = profile_add_location(&p, 0, 0xbeef, NULL, 0, 0);
	uint64_t d = profile_add_location(&p, 0, 0, NULL, 0, 0);
	uint64_t e = profile_add_location(&p, 0, 0, &ls, 1, 0);
	uint64_t f = profile_add_location(&p, 0, 0, &lsys, 1, 0);
	uint64_t g = profile_add_location(&p, mnone, 0x42, &lnone, 1, 0);
	uint64_t stack[7] = {g, f, e, d, c, b, a};
	int64_t one = 1;
	assert_int_equal(profile_add_sample(&p, &one, 1, stack, 7, NULL, 0), 0);
	expect_stacks(&p, 0,
		      "[libc.so.6];[vdso];0xbeef;[unknown];ns:weird name;_Zsys;0x42 1\n");
	const struct profile_mapping *m = profile_mapping(&p, mlib);
	assert_int_equal(m->start, 0x7f0000);
	assert_string_equal(profile_str(&p, m->build_id), "abcd");
	assert_null(profile_mapping(&p, 4));
	profile_release(&p);
}

static void test_rejects_bad_ids(void **state)
{
	(void)state;
	struct profile p;
	profile_init(&p);
	profile_add_sample_type(&p, "samples", "count");
	uint64_t fn = profile_intern_function(&p, "f", "f", "", 0);
	struct profile_line ok = {.function_id = fn}, bad = {.function_id = fn + 1};
	assert_int_equal(profile_add_location(&p, 1, 0, &ok, 1, 0), 0); /* no mapping 1 */
	assert_int_equal(profile_add_location(&p, 0, 0, &bad, 1, 0), 0);
	assert_int_equal(profile_add_mapping(&p, 0, 0, 0, 77, 0, 0), 0);
	assert_int_equal(profile_add_mapping(&p, 0, 0, 0, 0, 77, 0), 0);
	uint64_t loc = profile_add_location(&p, 0, 0, &ok, 1, 0);
	assert_int_equal(loc, 1);
	int64_t v[2] = {1, 2};
	uint64_t zero = 0, missing = 2;
	assert_int_equal(profile_add_sample(&p, v, 2, &loc, 1, NULL, 0), -EINVAL);
	assert_int_equal(profile_add_sample(&p, v, 0, &loc, 1, NULL, 0), -EINVAL);
	assert_int_equal(profile_add_sample(&p, v, 1, &zero, 1, NULL, 0), -EINVAL);
	assert_int_equal(profile_add_sample(&p, v, 1, &missing, 1, NULL, 0), -EINVAL);
	struct profile_label lb = {.key = 500};
	assert_int_equal(profile_add_sample(&p, v, 1, &loc, 1, &lb, 1), -EINVAL);
	lb.key = profile_interns(&p, "thread");
	lb.str = 501;
	assert_int_equal(profile_add_sample(&p, v, 1, &loc, 1, &lb, 1), -EINVAL);
	lb.str = 0;
	lb.num_unit = 502;
	assert_int_equal(profile_add_sample(&p, v, 1, &loc, 1, &lb, 1), -EINVAL);
	assert_int_equal(p.nsamples, 0);
	assert_int_equal(p.nsample_locs, 0);
	assert_int_equal(p.nlabels, 0);
	profile_release(&p);
}

static void test_labels(void **state)
{
	(void)state;
	struct profile p;
	profile_init(&p);
	profile_add_sample_type(&p, "samples", "count");
	uint64_t loc = profile_add_location(
		&p, 0, 0, &(struct profile_line){.function_id = profile_intern_function(&p, "f", "f", "", 0)},
		1, 0);
	struct profile_label lb[3] = {
		{.key = profile_interns(&p, "thread_name"), .str = profile_interns(&p, "worker")},
		{.key = profile_interns(&p, "pid"), .num = 4242},
		{.key = profile_interns(&p, "bytes"), .num = 64, .num_unit = profile_interns(&p, "bytes")},
	};
	int64_t v = 3;
	assert_int_equal(profile_add_sample(&p, &v, 1, &loc, 1, lb, 3), 0);
	assert_int_equal(profile_add_sample(&p, &v, 1, &loc, 1, lb + 1, 1), 0);
	assert_int_equal(p.samples[0].nlabels, 3);
	assert_int_equal(p.samples[1].nlabels, 1);
	const struct profile_label *got = p.labels + p.samples[1].label_off;
	assert_string_equal(profile_str(&p, got->key), "pid");
	assert_int_equal(got->num, 4242);
	got = p.labels + p.samples[0].label_off;
	assert_string_equal(profile_str(&p, got[0].str), "worker");
	assert_string_equal(profile_str(&p, got[2].num_unit), "bytes");
	profile_release(&p);
}

static void test_value_index(void **state)
{
	(void)state;
	struct profile p;
	profile_init(&p);
	assert_int_equal(profile_default_value_index(&p), KILN_ERR_EMPTY);
	assert_int_equal(profile_value_index(&p, "cpu"), -EINVAL);
	profile_add_sample_type(&p, "alloc_objects", "count");
	profile_add_sample_type(&p, "alloc_space", "bytes");
	profile_add_sample_type(&p, "inuse_objects", "count");
	profile_add_sample_type(&p, "inuse_space", "bytes");
	assert_int_equal(profile_default_value_index(&p), 3);
	p.default_sample_type = profile_interns(&p, "alloc_space");
	assert_int_equal(profile_default_value_index(&p), 1);
	p.default_sample_type = profile_interns(&p, "nonesuch");
	assert_int_equal(profile_default_value_index(&p), 3);
	assert_int_equal(profile_value_index(&p, "alloc_space"), 1);
	assert_int_equal(profile_value_index(&p, "inuse_objects/count"), 2);
	assert_int_equal(profile_value_index(&p, "inuse_objects/bytes"), -EINVAL);
	assert_int_equal(profile_value_index(&p, "0"), 0);
	assert_int_equal(profile_value_index(&p, "3"), 3);
	assert_int_equal(profile_value_index(&p, "4"), -EINVAL);
	assert_int_equal(profile_value_index(&p, "alloc"), -EINVAL);
	assert_int_equal(profile_value_index(&p, ""), -EINVAL);
	assert_int_equal(profile_for_each_stack(&p, 4, collect, NULL), -EINVAL);
	assert_int_equal(profile_for_each_stack(&p, -1, collect, NULL), -EINVAL);
	profile_release(&p);
}

static int stop_after_one(void *ctx, const char *stack, size_t len, int64_t value)
{
	(void)stack;
	(void)len;
	(void)value;
	++*(int *)ctx;
	return 42;
}

static void test_callback_stops(void **state)
{
	(void)state;
	struct profile p;
	profile_init(&p);
	add_folded_s(&p, "a", 1);
	add_folded_s(&p, "b", 1);
	int calls = 0;
	assert_int_equal(profile_for_each_stack(&p, 0, stop_after_one, &calls), 42);
	assert_int_equal(calls, 1);
	profile_release(&p);
	profile_release(&p);
	profile_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folded_round_trip),
		cmocka_unit_test(test_folded_edge_cases),
		cmocka_unit_test(test_folded_next_to_other_types),
		cmocka_unit_test(test_intern_function),
		cmocka_unit_test(test_inlined_lines),
		cmocka_unit_test(test_frame_fallbacks),
		cmocka_unit_test(test_rejects_bad_ids),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_value_index),
		cmocka_unit_test(test_callback_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
