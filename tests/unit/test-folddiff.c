/* test-folddiff: unit tests for model/folddiff (difffolded output, hex
 * stripping, normalisation, self-share ranking).
 * Invariant: every expectation is a literal worked out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/strbuf.h"
#include "model/folddiff.h"
#include "model/foldtab.h"

static void add(struct foldtab *t, const char *stack, uint64_t n, const struct folddiff_options *o)
{
	struct strbuf scratch = STRBUF_INIT;
	folddiff_add(t, stack, strlen(stack), n, o, &scratch);
	strbuf_release(&scratch);
}

static char *strip(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	folddiff_strip_hex(s, strlen(s), &sb);
	char *r = strdup(strbuf_str(&sb));
	strbuf_release(&sb);
	return r;
}

static void expect_strip(const char *in, const char *want)
{
	char *got = strip(in);
	assert_string_equal(got, want);
	free(got);
}

static void test_strip_hex(void **state)
{
	(void)state;
	expect_strip("dd;[unknown];0x234f2abc;system_call_[k];0xF1BDE348",
		     "dd;[unknown];0x...;system_call_[k];0x...");
	expect_strip("no addresses here", "no addresses here");
	expect_strip("", "");
	expect_strip("a;0x", "a;0x");          /* no digits: left alone */
	expect_strip("0xg;0x1", "0xg;0x...");  /* 'g' is not hex */
	expect_strip("f+0x1a;libc.so[0x7f00]", "f+0x...;libc.so[0x...]");
	expect_strip("0x0x12", "0x...x12");    /* the first run ends at 'x' */
	expect_strip("X0XAB", "X0XAB");        /* only a lower-case 0x prefix */
}

static char *render(const struct foldtab *a, const struct foldtab *b, const struct folddiff_options *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(folddiff_write(a, b, o, f), 0);
	fclose(f);
	return buf;
}

static void test_write_union_sorted(void **state)
{
	(void)state;
	struct folddiff_options o;
	folddiff_options_init(&o);
	struct foldtab a, b;
	foldtab_init(&a);
	foldtab_init(&b);
	/* sorted inputs, as collapsers write them, give a sorted union */
	add(&a, "main", 4, &o);
	add(&a, "main;a", 2, &o);
	add(&a, "main;a", 1, &o);
	add(&a, "main;b", 5, &o);
	add(&b, "main;a", 1, &o);
	add(&b, "main;a;x", 0, &o);
	add(&b, "main;c", 7, &o);
	char *out = render(&a, &b, &o);
	assert_string_equal(out, "main 4 0\n"
				 "main;a 3 1\n"
				 "main;a;x 0 0\n"
				 "main;b 5 0\n"
				 "main;c 0 7\n");
	free(out);
	foldtab_release(&a);
	foldtab_release(&b);
}

static void test_write_empty(void **state)
{
	(void)state;
	struct foldtab a, b;
	foldtab_init(&a);
	foldtab_init(&b);
	char *out = render(&a, &b, NULL);
	assert_string_equal(out, "");
	free(out);
	add(&b, "x", 18446744073709551615ULL, NULL);
	out = render(&a, &b, NULL);
	assert_string_equal(out, "x 0 18446744073709551615\n");
	free(out);
	foldtab_release(&a);
	foldtab_release(&b);
}

static void test_normalize(void **state)
{
	(void)state;
	/* totals 65 and 80, as in inferno's before.txt and after.txt */
	assert_int_equal(folddiff_scale(14, 65, 80, true), 17); /* 17.23 */
	assert_int_equal(folddiff_scale(6, 65, 80, true), 7);   /* 7.38 */
	assert_int_equal(folddiff_scale(3, 65, 80, true), 3);   /* 3.69 */
	assert_int_equal(folddiff_scale(14, 65, 80, false), 14);
	assert_int_equal(folddiff_scale(14, 80, 80, true), 14);
	assert_int_equal(folddiff_scale(0, 0, 80, true), 0); /* no division by 0 */
	assert_int_equal(folddiff_scale(10, 20, 0, true), 0);

	struct folddiff_options o;
	folddiff_options_init(&o);
	o.normalize = true;
	struct foldtab a, b;
	foldtab_init(&a);
	foldtab_init(&b);
	add(&a, "f", 1, &o);
	add(&a, "g", 3, &o);
	add(&b, "f", 4, &o);
	add(&b, "g", 4, &o);
	char *out = render(&a, &b, &o);
	assert_string_equal(out, "f 2 4\ng 6 4\n");
	free(out);
	foldtab_release(&a);
	foldtab_release(&b);
}

static void test_strip_hex_merges(void **state)
{
	(void)state;
	struct folddiff_options o;
	folddiff_options_init(&o);
	o.strip_hex = true;
	struct foldtab a, b;
	foldtab_init(&a);
	foldtab_init(&b);
	add(&a, "m;0x7f3a01", 2, &o);
	add(&a, "m;0x7f3a02", 3, &o);
	add(&b, "m;0xdead", 1, &o);
	add(&b, "m;plain", 1, &o);
	char *out = render(&a, &b, &o);
	assert_string_equal(out, "m;0x... 5 1\nm;plain 0 1\n");
	free(out);
	foldtab_release(&a);
	foldtab_release(&b);
}

struct visit_log {
	struct strbuf sb;
	int stop_after;
};

static int visit(void *ctx, const char *stack, size_t len, uint64_t ca, uint64_t cb)
{
	struct visit_log *v = ctx;
	strbuf_add(&v->sb, stack, len);
	strbuf_addf(&v->sb, "=%llu/%llu,", (unsigned long long)ca, (unsigned long long)cb);
	return --v->stop_after == 0 ? 42 : 0;
}

static void test_each_stops(void **state)
{
	(void)state;
	struct foldtab a, b;
	foldtab_init(&a);
	foldtab_init(&b);
	add(&a, "ab", 1, NULL);
	add(&a, "a", 2, NULL);
	add(&b, "b", 3, NULL);
	struct visit_log v = {STRBUF_INIT, 2};
	assert_int_equal(folddiff_each(&a, &b, NULL, visit, &v), 42);
	/* unsorted input keeps its order */
	assert_string_equal(strbuf_str(&v.sb), "ab=1/0,a=2/0,");
	strbuf_release(&v.sb);
	foldtab_release(&a);
	foldtab_release(&b);
}

static int cmp_ref(const void *x, const void *y)
{
	const struct fold_entry *a = *(const struct fold_entry *const *)x;
	const struct fold_entry *b = *(const struct fold_entry *const *)y;
	return foldtab_keycmp(a->key, a->len, b->key, b->len);
}

/* foldtab_sorted()'s chunked sort must give the plain comparison's order on
 * keys with shared prefixes of every length, prefixes of each other, and
 * NUL bytes. */
static void test_sort_matches_foldtab(void **state)
{
	(void)state;
	static const char alphabet[] = {'a', 'b', ';', '\0', '\xff'};
	for (int round = 0; round < 20; round++) {
		struct foldtab b;
		foldtab_init(&b);
		unsigned seed = 12345u + (unsigned)round;
		char key[64];
		for (int k = 0; k < 3000; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t len = (seed >> 16) % (round < 10 ? 12 : 40);
			for (size_t i = 0; i < len; i++) {
				seed = seed * 1103515245u + 12345u;
				/* long runs of one byte make deep equal chunks */
				key[i] = round % 2 && i < 20 ? 'x' : alphabet[(seed >> 16) % 5];
			}
			foldtab_add(&b, key, len, (uint64_t)k + 1);
		}
		const struct fold_entry **got = foldtab_sorted(&b);
		const struct fold_entry **want = foldtab_sorted(&b);
		qsort(want, b.count, sizeof(*want), cmp_ref);
		for (size_t i = 0; i < b.count; i++)
			assert_ptr_equal(got[i], want[i]);
		free(got);
		free(want);
		foldtab_release(&b);
	}
}

static void test_top_ranking(void **state)
{
	(void)state;
	struct foldtab a, b;
	foldtab_init(&a);
	foldtab_init(&b);
	/* A: total 100; self: hot 50, warm 30, cool 20 */
	add(&a, "main;hot", 50, NULL);
	add(&a, "main;x;warm", 20, NULL);
	add(&a, "main;y;warm", 10, NULL);
	add(&a, "main;cool", 20, NULL);
	/* B: total 200; self: hot 60 (30%), warm 60 (30%), cool 20 (10%), new 60 (30%) */
	add(&b, "main;hot", 60, NULL);
	add(&b, "main;warm", 60, NULL);
	add(&b, "main;cool", 20, NULL);
	add(&b, "new", 60, NULL);
	add(&b, "main", 0, NULL); /* never a leaf with samples: no row */
	struct folddiff_top t;
	assert_int_equal(folddiff_top(&a, &b, 0, &t), 0);
	assert_int_equal(t.total_a, 100);
	assert_int_equal(t.total_b, 200);
	assert_int_equal(t.n, 4);
	/* |delta|: new 30, hot 20, cool 10, warm 0; */
	assert_string_equal(t.rows[0].name, "new");
	assert_true(t.rows[0].delta > 29.999 && t.rows[0].delta < 30.001);
	assert_string_equal(t.rows[1].name, "hot");
	assert_true(t.rows[1].pct_a > 49.999 && t.rows[1].pct_a < 50.001);
	assert_true(t.rows[1].pct_b > 29.999 && t.rows[1].pct_b < 30.001);
	assert_true(t.rows[1].delta < -19.999 && t.rows[1].delta > -20.001);
	assert_string_equal(t.rows[2].name, "cool");
	assert_string_equal(t.rows[3].name, "warm");
	assert_int_equal(t.rows[3].self_a, 30);
	assert_int_equal(t.rows[3].self_b, 60);
	folddiff_top_release(&t);

	/* ties in |delta| (grow and shrink alike) go by name; limit cuts */
	struct foldtab c, d;
	foldtab_init(&c);
	foldtab_init(&d);
	add(&c, "zeta", 1, NULL);
	add(&c, "beta", 1, NULL);
	add(&c, "alpha", 2, NULL);
	add(&d, "zeta", 2, NULL);
	add(&d, "alpha", 1, NULL);
	add(&d, "beta", 1, NULL);
	assert_int_equal(folddiff_top(&c, &d, 2, &t), 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.rows[0].name, "alpha"); /* -25 */
	assert_string_equal(t.rows[1].name, "zeta");  /* +25 */
	folddiff_top_release(&t);
	folddiff_top_release(NULL);

	foldtab_release(&a);
	foldtab_release(&b);
	foldtab_release(&c);
	foldtab_release(&d);
}

static void test_top_empty_side(void **state)
{
	(void)state;
	struct foldtab a, b;
	foldtab_init(&a);
	foldtab_init(&b);
	add(&b, "f", 1, NULL);
	add(&b, "g", 3, NULL);
	struct folddiff_top t;
	assert_int_equal(folddiff_top(&a, &b, 10, &t), 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.rows[0].name, "g");
	assert_true(t.rows[0].pct_a == 0.0);
	assert_true(t.rows[0].delta > 74.999 && t.rows[0].delta < 75.001);
	assert_string_equal(t.rows[1].name, "f");
	folddiff_top_release(&t);
	foldtab_release(&a);
	foldtab_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strip_hex),
		cmocka_unit_test(test_write_union_sorted),
		cmocka_unit_test(test_write_empty),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_strip_hex_merges),
		cmocka_unit_test(test_each_stops),
		cmocka_unit_test(test_sort_matches_foldtab),
		cmocka_unit_test(test_top_ranking),
		cmocka_unit_test(test_top_empty_side),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
