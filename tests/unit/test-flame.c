/* test-flame: unit tests for render/flame and render/palette: merging,
 * sibling order, pruning, reverse/inverted/flamechart, factor, differential
 * colours, XML escaping, determinism and the empty-input SVG.
 * Invariant: expectations are worked out by hand from flamegraph.pl's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/error.h"
#include "render/flame.h"
#include "render/palette.h"

/* Renders f into a malloc'd string; *rc gets flame_write_svg's result. */
static char *render(struct flame *f, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	int r = flame_write_svg(f, fp);
	assert_int_equal(fclose(fp), 0);
	if (rc)
		*rc = r;
	else
		assert_int_equal(r, 0);
	return buf;
}

static void add(struct flame *f, const char *stack, double n)
{
	assert_int_equal(flame_add(f, stack, strlen(stack), n, 0, 1), 0);
}

static void add2(struct flame *f, const char *stack, double before, double after)
{
	assert_int_equal(flame_add(f, stack, strlen(stack), before, after, 2), 0);
}

struct frame {
	double x, w;  /* data-x, data-w: counts */
	int d;
	double px, py, pw; /* rect pixels */
	int r, g, b;
	char title[256];
};

/* Finds the nth (0-based) frame whose title starts with "NAME (". */
static int find_frame(const char *svg, const char *name, int nth, struct frame *out)
{
	char want[300];
	snprintf(want, sizeof(want), "<title>%s (", name);
	const char *p = svg;
	while ((p = strstr(p, "<g data-x=\"")) != NULL) {
		const char *t = strstr(p, "<title>");
		if (t && !strncmp(t, want, strlen(want)) && nth-- == 0) {
			memset(out, 0, sizeof(*out));
			assert_int_equal(sscanf(p, "<g data-x=\"%lf\" data-w=\"%lf\" data-d=\"%d\">", &out->x,
						&out->w, &out->d), 3);
			const char *e = strstr(t, "</title>");
			size_t n = (size_t)(e - t - 7);
			if (n >= sizeof(out->title))
				n = sizeof(out->title) - 1;
			memcpy(out->title, t + 7, n);
			const char *r = strstr(t, "<rect ");
			assert_int_equal(sscanf(r, "<rect x=\"%lf\" y=\"%lf\" width=\"%lf\"", &out->px, &out->py,
						&out->pw), 3);
			const char *fill = strstr(r, "fill=\"rgb(");
			assert_int_equal(sscanf(fill, "fill=\"rgb(%d,%d,%d)", &out->r, &out->g, &out->b), 3);
			return 1;
		}
		p++;
	}
	return 0;
}

static int count_frames(const char *svg)
{
	int n = 0;
	for (const char *p = svg; (p = strstr(p, "<g data-x=\"")) != NULL; p++)
		n++;
	return n;
}

static void test_merge(void **state)
{
	(void)state;
	struct flame *f = flame_new(NULL);
	add(f, "a;b", 1);
	add(f, "a;c", 2);
	add(f, "a;b", 3);
	add(f, "d", 4);
	struct flame_stats st;
	flame_get_stats(f, &st);
	assert_int_equal(st.nodes, 5); /* all, a, b, c, d */
	assert_int_equal(st.names, 4);
	assert_true(st.total == 10);
	char *svg = render(f, NULL);
	struct frame fr;
	assert_true(find_frame(svg, "b", 0, &fr));
	assert_string_equal(fr.title, "b (4 samples, 40.00%)");
	assert_false(find_frame(svg, "b", 1, &fr));
	assert_true(find_frame(svg, "a", 0, &fr));
	assert_string_equal(fr.title, "a (6 samples, 60.00%)");
	assert_int_equal(fr.d, 1);
	assert_true(find_frame(svg, "all", 0, &fr));
	assert_string_equal(fr.title, "all (10 samples, 100%)");
	assert_int_equal(count_frames(svg), 5);
	free(svg);
	flame_free(f);
}

static void test_sorted_siblings(void **state)
{
	(void)state;
	struct flame *f = flame_new(NULL);
	add(f, "m;zeta", 5);
	add(f, "m;alpha", 3);
	add(f, "m;mid", 2);
	add(f, "b", 1);
	char *svg = render(f, NULL);
	struct frame a, m, z, b, mm;
	assert_true(find_frame(svg, "alpha", 0, &a));
	assert_true(find_frame(svg, "mid", 0, &m));
	assert_true(find_frame(svg, "zeta", 0, &z));
	assert_true(find_frame(svg, "b", 0, &b));
	assert_true(find_frame(svg, "m", 0, &mm));
	/* "b" sorts before "m" at the root; alpha < mid < zeta under m */
	assert_true(b.x == 0);
	assert_true(mm.x == 1);
	assert_true(a.x == 1 && m.x == 4 && z.x == 6);
	assert_true(a.px < m.px && m.px < z.px);
	free(svg);
	flame_free(f);
}

static void test_minwidth(void **state)
{
	(void)state;
	struct flame_options o;
	flame_options_init(&o);
	/* 1180 drawable pixels for 1000 counts: "tiny" (1) is 1.18 px wide */
	struct flame *f = flame_new(&o);
	add(f, "big", 999);
	add(f, "tiny;deeper", 1);
	char *svg = render(f, NULL);
	struct frame fr;
	assert_true(find_frame(svg, "tiny", 0, &fr));
	assert_true(find_frame(svg, "deeper", 0, &fr));
	free(svg);
	flame_free(f);

	o.minwidth = 2; /* pixels */
	f = flame_new(&o);
	add(f, "big", 999);
	add(f, "tiny;deeper", 1);
	svg = render(f, NULL);
	assert_false(find_frame(svg, "tiny", 0, &fr));
	assert_false(find_frame(svg, "deeper", 0, &fr));
	assert_true(find_frame(svg, "big", 0, &fr));
	/* the pruned frame still takes its place: big starts after it */
	assert_true(fr.x == 0 || fr.x == 1);
	free(svg);
	flame_free(f);

	assert_int_equal(flame_parse_minwidth(&o, "0.5%"), 0);
	assert_true(o.minwidth_percent && o.minwidth == 0.5);
	assert_int_equal(flame_parse_minwidth(&o, "abc"), KILN_ERR_FORMAT);
	assert_int_equal(flame_parse_minwidth(&o, "1%%"), KILN_ERR_FORMAT);
	assert_int_equal(flame_parse_minwidth(&o, "-1"), KILN_ERR_FORMAT);
	assert_true(o.minwidth_percent && o.minwidth == 0.5); /* unchanged */
	f = flame_new(&o);
	add(f, "big", 991); /* total 1000 */
	add(f, "small", 4); /* 0.4% < 0.5% */
	add(f, "half", 5);  /* 0.5%: kept */
	svg = render(f, NULL);
	assert_false(find_frame(svg, "small", 0, &fr));
	assert_true(find_frame(svg, "half", 0, &fr));
	free(svg);
	flame_free(f);
}

static void test_reverse_inverted(void **state)
{
	(void)state;
	struct flame_options o;
	flame_options_init(&o);
	o.reverse = true;
	struct flame *f = flame_new(&o);
	add(f, "main;work;leaf", 2);
	add(f, "main;other;leaf", 1);
	char *svg = render(f, NULL);
	struct frame fr;
	assert_true(find_frame(svg, "leaf", 0, &fr));
	assert_int_equal(fr.d, 1);
	assert_string_equal(fr.title, "leaf (3 samples, 100.00%)");
	assert_true(find_frame(svg, "main", 0, &fr));
	assert_int_equal(fr.d, 3);
	assert_true(find_frame(svg, "main", 1, &fr));
	free(svg);
	flame_free(f);

	flame_options_init(&o);
	f = flame_new(&o);
	add(f, "a;b", 1);
	svg = render(f, NULL);
	struct frame a, b;
	assert_true(find_frame(svg, "a", 0, &a));
	assert_true(find_frame(svg, "b", 0, &b));
	assert_true(b.py < a.py); /* flame: callees above */
	assert_non_null(strstr(svg, ">Flame Graph</text>"));
	free(svg);
	flame_free(f);

	o.inverted = true;
	f = flame_new(&o);
	add(f, "a;b", 1);
	svg = render(f, NULL);
	assert_true(find_frame(svg, "a", 0, &a));
	assert_true(find_frame(svg, "b", 0, &b));
	assert_true(b.py > a.py); /* icicle: callees below */
	assert_non_null(strstr(svg, ">Icicle Graph</text>"));
	free(svg);
	flame_free(f);
}

static void test_flamechart(void **state)
{
	(void)state;
	struct flame_options o;
	flame_options_init(&o);
	o.flamechart = true;
	struct flame *f = flame_new(&o);
	add(f, "z;x", 1);
	add(f, "z;x", 1); /* adjacent: merges */
	add(f, "a", 1);
	add(f, "z;x", 1); /* not adjacent: a new z */
	add(f, "z", 1);   /* adjacent z merges, x does not continue */
	add(f, "z;x", 1); /* x after a stack that ended at z: new x */
	char *svg = render(f, NULL);
	struct frame fr;
	assert_true(find_frame(svg, "z", 0, &fr));
	assert_true(fr.x == 0 && fr.w == 2);
	assert_true(find_frame(svg, "a", 0, &fr));
	assert_true(fr.x == 2);
	assert_true(find_frame(svg, "z", 1, &fr));
	assert_true(fr.x == 3 && fr.w == 3);
	assert_false(find_frame(svg, "z", 2, &fr));
	assert_true(find_frame(svg, "x", 2, &fr));
	assert_true(fr.x == 4 && fr.w == 1); /* children start at the parent */
	assert_non_null(strstr(svg, ">Flame Chart</text>"));
	free(svg);
	flame_free(f);
}

static void test_factor(void **state)
{
	(void)state;
	struct flame_options o;
	flame_options_init(&o);
	o.factor = 2.5;
	o.countname = "bytes";
	struct flame *f = flame_new(&o);
	add(f, "a", 400);
	add(f, "b", 1200);
	char *svg = render(f, NULL);
	struct frame fr;
	assert_true(find_frame(svg, "a", 0, &fr));
	assert_string_equal(fr.title, "a (1,000 bytes, 25.00%)");
	assert_true(fr.w == 400); /* widths are not scaled */
	assert_true(find_frame(svg, "all", 0, &fr));
	assert_string_equal(fr.title, "all (4,000 bytes, 100%)");
	free(svg);
	flame_free(f);
}

static void test_differential(void **state)
{
	(void)state;
	for (int negate = 0; negate < 2; negate++) {
		struct flame_options o;
		flame_options_init(&o);
		o.negate = negate;
		struct flame *f = flame_new(&o);
		add2(f, "m;grow", 10, 30);
		add2(f, "m;shrink", 40, 20);
		add2(f, "m;same", 5, 5);
		struct flame_stats st;
		flame_get_stats(f, &st);
		assert_true(st.differential);
		assert_true(st.total == 55); /* widths from the second count */
		char *svg = render(f, NULL);
		struct frame g, s, e, m;
		assert_true(find_frame(svg, "grow", 0, &g));
		assert_true(find_frame(svg, "shrink", 0, &s));
		assert_true(find_frame(svg, "same", 0, &e));
		assert_true(find_frame(svg, "m", 0, &m));
		assert_true(g.w == 30 && s.w == 20);
		struct frame *red = negate ? &s : &g, *blue = negate ? &g : &s;
		/* both deltas are 20, the largest: full intensity */
		assert_int_equal(red->r, 255);
		assert_int_equal(red->g, 0);
		assert_int_equal(red->b, 0);
		assert_int_equal(blue->r, 0);
		assert_int_equal(blue->g, 0);
		assert_int_equal(blue->b, 255);
		assert_true(e.r == 255 && e.g == 255 && e.b == 255);
		assert_true(m.r == 255 && m.g == 255 && m.b == 255); /* no self change */
		assert_string_equal(g.title, negate ? "grow (30 samples, 54.55%; -36.36%)"
						    : "grow (30 samples, 54.55%; +36.36%)");
		free(svg);
		flame_free(f);
	}
	/* intensity scales with the delta */
	struct palette_rgb half = palette_diff_color(5, 10, false);
	assert_int_equal(half.r, 255);
	assert_int_equal(half.g, 105);
	struct palette_rgb cool = palette_diff_color(-5, 10, false);
	assert_int_equal(cool.b, 255);
	assert_int_equal(cool.r, 105);
}

static void test_escaping(void **state)
{
	(void)state;
	struct flame *f = flame_new(NULL);
	const char *evil = "x<y>&\"'z;ok\x01;bad\xff\xfe";
	add(f, evil, 1);
	char *svg = render(f, NULL);
	struct frame fr;
	assert_true(find_frame(svg, "x&lt;y&gt;&amp;&quot;&apos;z", 0, &fr));
	assert_null(strstr(svg, "x<y>"));
	assert_null(strstr(svg, "\x01"));
	assert_null(strstr(svg, "\xff"));
	assert_true(find_frame(svg, "ok?", 0, &fr));
	assert_true(find_frame(svg, "bad\xef\xbf\xbd\xef\xbf\xbd", 0, &fr));
	free(svg);
	flame_free(f);

	struct flame_options o;
	flame_options_init(&o);
	o.title = "T <&> \"q\"";
	o.notes = "a--b <c>";
	o.countname = "it\"ems</script>";
	f = flame_new(&o);
	add(f, "a", 1);
	svg = render(f, NULL);
	assert_non_null(strstr(svg, ">T &lt;&amp;&gt; &quot;q&quot;</text>"));
	assert_null(strstr(svg, "a--b"));
	assert_non_null(strstr(svg, "&lt;c&gt;"));
	assert_null(strstr(svg, "</script>\""));
	free(svg);
	flame_free(f);
}

static void test_determinism(void **state)
{
	(void)state;
	static const char *const stacks[] = {"a;b;c", "a;b;d", "x;y", "a;e", "x", "a;b;c;q"};
	struct flame *f1 = flame_new(NULL), *f2 = flame_new(NULL);
	for (int i = 0; i < 6; i++)
		add(f1, stacks[i], i + 1);
	for (int i = 5; i >= 0; i--)
		add(f2, stacks[i], i + 1);
	char *s1 = render(f1, NULL), *s1b = render(f1, NULL), *s2 = render(f2, NULL);
	assert_string_equal(s1, s1b);
	assert_string_equal(s1, s2); /* input order does not matter */
	free(s1);
	free(s1b);
	free(s2);
	flame_free(f1);
	flame_free(f2);
}

static void test_empty_and_bad(void **state)
{
	(void)state;
	struct flame *f = flame_new(NULL);
	int rc;
	char *svg = render(f, &rc);
	assert_int_equal(rc, KILN_ERR_EMPTY);
	assert_non_null(strstr(svg, "ERROR: No valid input provided"));
	assert_non_null(strstr(svg, "</svg>"));
	free(svg);
	assert_int_equal(flame_add(f, "", 0, 1, 0, 1), KILN_ERR_FORMAT);
	assert_int_equal(flame_add(f, ";;", 2, 1, 0, 1), KILN_ERR_FORMAT);
	assert_int_equal(flame_add(f, "a", 1, -1, 0, 1), KILN_ERR_FORMAT);
	assert_int_equal(flame_add(f, "a", 1, 1.0 / 0.0, 0, 1), KILN_ERR_FORMAT);
	assert_int_equal(flame_add(f, "a", 1, 1, 0, 3), KILN_ERR_FORMAT);
	add(f, "zero", 0);
	svg = render(f, &rc);
	assert_int_equal(rc, KILN_ERR_EMPTY); /* all counts zero */
	free(svg);
	add(f, "a;", 1); /* a trailing ';' adds no empty frame */
	struct flame_stats st;
	flame_get_stats(f, &st);
	assert_int_equal(st.nodes, 3);
	flame_free(f);
	flame_free(NULL);
}

static void test_palette(void **state)
{
	(void)state;
	assert_int_equal(palette_parse("hot"), PALETTE_HOT);
	assert_int_equal(palette_parse("orange"), PALETTE_ORANGE);
	assert_int_equal(palette_parse("nope"), KILN_ERR_FORMAT);
	/* flamegraph.pl's default colour for "main" (srand(421); rand) */
	struct palette_rgb c = palette_color(PALETTE_HOT, false, "main", 4, false);
	assert_int_equal(c.r, 243);
	assert_int_equal(c.g, 179);
	assert_int_equal(c.b, 42);
	/* java: annotations pick the hue family */
	c = palette_color(PALETTE_JAVA, false, "foo_[j]", 7, false);
	assert_true(c.g >= 200 && c.r == c.b); /* green */
	c = palette_color(PALETTE_JAVA, false, "do_sys_open_[k]", 15, false);
	assert_true(c.b == 0 && c.r >= 190); /* orange */
	c = palette_color(PALETTE_CHAIN, false, "x", 1, true);
	assert_true(c.g == c.b && c.g >= 165); /* aqua waker */
	struct palette_rgb h1 = palette_color(PALETTE_HOT, true, "lib`func", 8, false);
	struct palette_rgb h2 = palette_color(PALETTE_HOT, true, "other`func", 10, false);
	assert_int_equal(h1.g, h2.g); /* the forward hash skips the module prefix */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_sorted_siblings),
		cmocka_unit_test(test_minwidth),
		cmocka_unit_test(test_reverse_inverted),
		cmocka_unit_test(test_flamechart),
		cmocka_unit_test(test_factor),
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_empty_and_bad),
		cmocka_unit_test(test_palette),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
