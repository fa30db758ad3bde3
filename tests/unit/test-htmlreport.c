/* test-htmlreport: the pure parts of kiln's HTML pages: number formatting
 * (humanize), escaping, base64 (RFC 4648's vectors), URL paths, SVG sizes;
 * index.html from a summary in memory (names escaped, sections only for
 * what the run has, a missing file a note, reading files only inside the
 * folder); runcompare's rows, signs and relative changes; diff.html. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/xalloc.h"
#include "format/runsummary.h"
#include "render/diffhtml.h"
#include "render/htmlpage.h"
#include "render/htmlreport.h"
#include "render/humanize.h"
#include "render/runcompare.h"

static void test_humanize(void **state)
{
	(void)state;
	char b[HUMANIZE_MAX];
	assert_string_equal(humanize_bytes(0, b, sizeof(b)), "0 B");
	assert_string_equal(humanize_bytes(512, b, sizeof(b)), "512 B");
	assert_string_equal(humanize_bytes(1023, b, sizeof(b)), "1023 B");
	assert_string_equal(humanize_bytes(1536, b, sizeof(b)), "1.50 KiB");
	assert_string_equal(humanize_bytes(1048575, b, sizeof(b)), "1.00 MiB");
	assert_string_equal(humanize_bytes(12.3 * 1048576, b, sizeof(b)), "12.3 MiB");
	assert_string_equal(humanize_bytes(117.0 * 1073741824, b, sizeof(b)), "117 GiB");
	assert_string_equal(humanize_bytes(-2.0 * 1048576, b, sizeof(b)), "-2.00 MiB");
	assert_string_equal(humanize_count(0, b, sizeof(b)), "0");
	assert_string_equal(humanize_count(999, b, sizeof(b)), "999");
	assert_string_equal(humanize_count(12345, b, sizeof(b)), "12,345");
	assert_string_equal(humanize_count(1234567, b, sizeof(b)), "1,234,567");
	assert_string_equal(humanize_count(UINT64_MAX, b, sizeof(b)), "18,446,744,073,709,551,615");
	assert_string_equal(humanize_duration(0, b, sizeof(b)), "0 s");
	assert_string_equal(humanize_duration(12e-6, b, sizeof(b)), "12 us");
	assert_string_equal(humanize_duration(0.85, b, sizeof(b)), "850 ms");
	assert_string_equal(humanize_duration(1.054, b, sizeof(b)), "1.05 s");
	assert_string_equal(humanize_duration(59.9, b, sizeof(b)), "59.9 s");
	assert_string_equal(humanize_duration(125, b, sizeof(b)), "2 min 05 s");
	assert_string_equal(humanize_duration(3720, b, sizeof(b)), "1 h 02 min");
	assert_string_equal(humanize_duration(-1, b, sizeof(b)), "?");
	/* beyond a long's minutes: no wrapped negative hours */
	assert_string_equal(humanize_duration(1e308, b, sizeof(b)), "2.78e+304 h");
	assert_string_equal(humanize_pct(12.34, b, sizeof(b)), "12.3%");
	assert_string_equal(humanize_pct(100, b, sizeof(b)), "100%");
	assert_string_equal(humanize_pct(0, b, sizeof(b)), "0%");
	assert_string_equal(humanize_pct(0.01, b, sizeof(b)), "< 0.1%");
	/* truncated, never overflowing */
	char small[4];
	assert_string_equal(humanize_count(1234567, small, sizeof(small)), "1,2");
}

static char *text_of(void (*fn)(struct strbuf *, const char *), const char *in)
{
	struct strbuf sb = STRBUF_INIT;
	fn(&sb, in);
	char *s = xstrdup(strbuf_str(&sb));
	strbuf_release(&sb);
	return s;
}

static void test_escape(void **state)
{
	(void)state;
	char *s = text_of(htmlpage_text, "std::map<int, T&>::find \"x\" 'y'");
	assert_string_equal(s, "std::map&lt;int, T&amp;&gt;::find &quot;x&quot; &apos;y&apos;");
	free(s);
	s = text_of(htmlpage_text, NULL);
	assert_string_equal(s, "");
	free(s);
	s = text_of(htmlpage_urlpath, "a b#c?.svg");
	assert_string_equal(s, "a%20b%23c%3F.svg");
	free(s);
	s = text_of(htmlpage_urlpath, "cpu.pb.gz");
	assert_string_equal(s, "cpu.pb.gz");
	free(s);
	struct strbuf sb = STRBUF_INIT;
	htmlpage_note(&sb, "%s & %d", "<b>", 3);
	assert_string_equal(strbuf_str(&sb), "<p class=\"note\">&lt;b&gt; &amp; 3</p>\n");
	strbuf_release(&sb);
}

static void test_base64(void **state)
{
	(void)state;
	/* RFC 4648, section 10 */
	static const char *const vec[][2] = {
		{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
		{"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
	};
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		struct strbuf sb = STRBUF_INIT;
		htmlpage_base64(&sb, vec[i][0], strlen(vec[i][0]));
		assert_string_equal(strbuf_str(&sb), vec[i][1]);
		strbuf_release(&sb);
	}
	struct strbuf sb = STRBUF_INIT;
	const unsigned char bin[] = {0xff, 0xfe, 0x00};
	htmlpage_base64(&sb, bin, 3);
	assert_string_equal(strbuf_str(&sb), "//4A");
	strbuf_release(&sb);
}

static void test_svg_size(void **state)
{
	(void)state;
	double w = 0, h = 0;
	const char *ok1 = "<?xml version=\"1.0\"?>\n<svg version=\"1.1\" width=\"1200\" height=\"182\" onload=\"init(evt)\">";
	assert_int_equal(htmlpage_svg_size(ok1, strlen(ok1), &w, &h), 0);
	assert_true(w == 1200 && h == 182);
	const char *ok2 = "<svg\n xmlns='http://www.w3.org/2000/svg' height='480px' width='960'>";
	assert_int_equal(htmlpage_svg_size(ok2, strlen(ok2), &w, &h), 0);
	assert_true(w == 960 && h == 480);
	static const char *const bad[] = {
		"", "<svg>", "<svg width=\"10\">", "<svg width=\"10\" height=\"x\">", "<svg width=\"-1\" height=\"5\">",
		"<svgx width=\"1\" height=\"1\">", "<svg width=\"1\" height=\"1\"", "<svg data-width=\"1\" height=\"1\">",
		"<svg width=\"1\" height=\"1e99\">",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(htmlpage_svg_size(bad[i], strlen(bad[i]), &w, &h), KILN_ERR_FORMAT);
	/* the length is respected: the tag's end lies past it */
	assert_int_equal(htmlpage_svg_size(ok1, strlen(ok1) - 1, &w, &h), KILN_ERR_FORMAT);
}

static void test_svg_fluid(void **state)
{
	(void)state;
	const char *svg = "<?xml?>\n<svg version=\"1.1\" width=\"1200\" height=\"182\" viewBox=\"0 0 1200 182\">x</svg>";
	struct strbuf out = STRBUF_INIT;
	assert_int_equal(htmlpage_svg_fluid(svg, strlen(svg), &out), 0);
	assert_string_equal(strbuf_str(&out),
			    "<?xml?>\n<svg version=\"1.1\" width=\"100%\" height=\"100%\" viewBox=\"0 0 1200 182\">x</svg>");
	strbuf_reset(&out);
	const char *swapped = "<svg height='2' viewBox='0 0 1 2' width='1'/>";
	assert_int_equal(htmlpage_svg_fluid(swapped, strlen(swapped), &out), 0);
	assert_string_equal(strbuf_str(&out), "<svg height='100%' viewBox='0 0 1 2' width='100%'/>");
	strbuf_reset(&out);
	const char *fixed = "<svg width=\"1\" height=\"2\">";
	assert_int_equal(htmlpage_svg_fluid(fixed, strlen(fixed), &out), KILN_ERR_FORMAT);
	assert_int_equal(out.len, 0);
	/* the page's frame keeps the graph's shape */
	htmlpage_flame(&out, svg, strlen(svg), "t");
	assert_non_null(strstr(out.buf, "<iframe class=\"flame\" style=\"aspect-ratio:1200/182\" title=\"t\""));
	strbuf_release(&out);
}

static void test_table(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	htmlpage_table_begin(&sb, "t", "Name|#Self");
	htmlpage_td_bar(&sb, "150%", 150);
	htmlpage_table_end(&sb);
	assert_non_null(strstr(sb.buf, "<table id=\"t\"><thead><tr><th>Name</th><th class=\"num\">Self</th></tr>"));
	assert_non_null(strstr(sb.buf, "style=\"--w:100.0%\">150%</td>"));
	strbuf_release(&sb);
}

/* A summary as kiln run writes it, with names HTML must escape. */
static void fill(struct runsummary *s)
{
	memset(s, 0, sizeof(*s));
	s->version = RUNSUMMARY_VERSION;
	runsummary_set(&s->name, "srv");
	s->argc = 2;
	s->argv = xcalloc(2, sizeof(char *));
	s->argv[0] = xstrdup("./srv");
	s->argv[1] = xstrdup("--name=<a b>");
	runsummary_set(&s->started, "2026-11-22T06:30:00Z");
	s->duration_s = 12.5;
	runsummary_set(&s->target_end, "exited 0");
	s->load_exit = -1;
	s->has_cpu = true;
	runsummary_set(&s->cpu.flame, "flame.svg");
	s->cpu.samples = 1234;
	s->cpu.frequency_hz = 99;
	s->cpu.ntop = 2;
	s->cpu.top = xcalloc(2, sizeof(*s->cpu.top));
	s->cpu.top[0] = (struct runsummary_func){xstrdup("std::vector<int>::push_back&"), 60, 70, 7.5};
	s->cpu.top[1] = (struct runsummary_func){xstrdup("main"), 10, 100, 1.25};
	s->has_heap = true;
	runsummary_set(&s->heap.chart, "heap.svg");
	runsummary_set(&s->heap.leaks_file, "../secret");
	s->heap.peak_bytes = 3 << 20;
	s->heap.frag_pct = -1;
	s->heap.leaks.definite_bytes = 1234;
	s->heap.leaks.definite_blocks = 3;
}

static char *page_of(const struct runsummary *s, const char *dir)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	struct diag d = {0};
	assert_int_equal(htmlreport_write(s, dir, f, &d), 0);
	fclose(f);
	return buf;
}

static void test_report(void **state)
{
	(void)state;
	char dir[] = "/tmp/kiln-test-htmlreport.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/flame.svg", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("<svg version=\"1.1\" width=\"1200\" height=\"300\"><g id=\"frames\"/></svg>\n", f);
	fclose(f);

	struct runsummary s;
	fill(&s);
	char *page = page_of(&s, dir);
	assert_true(!strncmp(page, "<!DOCTYPE html>", 15));
	assert_non_null(strstr(page, "std::vector&lt;int&gt;::push_back&amp;"));
	assert_null(strstr(page, "vector<int>"));
	assert_non_null(strstr(page, "./srv &apos;--name=&lt;a b&gt;&apos;"));
	assert_non_null(strstr(page, "<iframe class=\"flame\" style=\"height:304px;min-width:1204px\""));
	assert_non_null(strstr(page, "id=\"cpu\""));
	assert_non_null(strstr(page, "id=\"heap\""));
	assert_null(strstr(page, "id=\"memory\""));
	assert_null(strstr(page, "id=\"checks\""));
	assert_null(strstr(page, "id=\"offcpu\""));
	/* a missing chart is a note; a name outside the folder is refused */
	assert_non_null(strstr(page, "heap.svg is missing from this folder"));
	assert_non_null(strstr(page, "the summary names &apos;../secret&apos;, which is not a file of this folder"));
	assert_non_null(strstr(page, "definitely lost: 1,234 bytes in 3 blocks"));
	assert_non_null(strstr(page, "<a href=\"flame.svg\">flame.svg</a>"));
	free(page);

	/* off-CPU: its section, its table, a note for the missing graph */
	s.has_offcpu = true;
	runsummary_set(&s.offcpu.flame, "offcpu.svg");
	s.offcpu.wait_pct = 25;
	s.offcpu.ntop = 1;
	s.offcpu.top = xcalloc(1, sizeof(*s.offcpu.top));
	s.offcpu.top[0] = (struct runsummary_func){xstrdup("pthread_cond_wait"), 20, 20, 2};
	page = page_of(&s, dir);
	assert_non_null(strstr(page, "id=\"offcpu\""));
	assert_non_null(strstr(page, "id=\"top-offcpu\""));
	assert_non_null(strstr(page, "offcpu.svg is missing from this folder; the off-CPU flamegraph is not shown."));
	assert_non_null(strstr(page, "<div class=\"label\">Off-CPU</div><div class=\"value\">25.0%</div>"));
	free(page);

	/* kiln check's verdicts */
	s.has_checks = true;
	s.checks.n = 1;
	s.checks.items = xcalloc(1, sizeof(*s.checks.items));
	s.checks.items[0] = (struct runsummary_check){xstrdup("max-self"), xstrdup("10%"), xstrdup("60% in <x>"),
						     xstrdup("fail")};
	page = page_of(&s, dir);
	assert_non_null(strstr(page, "<span class=\"verdict fail\">fail</span>"));
	assert_non_null(strstr(page, "60% in &lt;x&gt;"));
	assert_non_null(strstr(page, "<div class=\"value\">failed</div>"));
	free(page);

	/* write_dir: no summary.json is -ENOENT; with one, index.html appears */
	struct diag d = {0};
	assert_int_equal(htmlreport_write_dir(dir, &d), -ENOENT);
	assert_int_equal(runsummary_write_dir(&s, dir), 0);
	assert_int_equal(htmlreport_write_dir(dir, &d), 0);
	snprintf(path, sizeof(path), "%s/index.html", dir);
	assert_int_equal(access(path, R_OK), 0);
	runsummary_release(&s);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_read_file(void **state)
{
	(void)state;
	char *data = NULL;
	size_t len = 0;
	assert_int_equal(htmlpage_read_file("/etc", "../etc/passwd", 1000, &data, &len), KILN_ERR_FORMAT);
	assert_int_equal(htmlpage_read_file("/etc", ".hidden", 1000, &data, &len), KILN_ERR_FORMAT);
	assert_int_equal(htmlpage_read_file("/etc", "", 1000, &data, &len), KILN_ERR_FORMAT);
	assert_int_equal(htmlpage_read_file("/", "etc", 1000, &data, &len), -EISDIR);
	assert_int_equal(htmlpage_read_file("/nonexistent-kiln", "x", 1000, &data, &len), -ENOENT);
	assert_int_equal(htmlpage_read_file("/etc", "passwd", 2, &data, &len), KILN_ERR_TOO_BIG);
	assert_int_equal(htmlpage_read_file("/etc", "passwd", 1 << 20, &data, &len), 0);
	assert_true(len > 0 && data[len] == '\0');
	free(data);
}

static void test_runcompare(void **state)
{
	(void)state;
	struct runsummary a, b;
	fill(&a);
	fill(&b);
	b.heap.peak_bytes = 4 << 20;
	b.heap.leaks.definite_bytes = 0;
	free(b.cpu.top[0].name);
	b.cpu.top[0] = (struct runsummary_func){xstrdup("new_hot"), 30, 30, 1};
	b.cpu.top[1].self_pct = 40;

	struct runcompare_row rows[RUNCOMPARE_MAX];
	size_t n = runcompare_metrics(&a, &b, rows);
	const struct runcompare_row *peak = NULL, *lost = NULL, *rss = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(rows[i].what, "heap peak"))
			peak = &rows[i];
		if (!strcmp(rows[i].what, "definitely lost"))
			lost = &rows[i];
		if (!strcmp(rows[i].what, "peak RSS"))
			rss = &rows[i];
	}
	assert_non_null(peak);
	assert_non_null(lost);
	assert_null(rss); /* neither run measured it */
	char buf[HUMANIZE_MAX];
	assert_string_equal(runcompare_delta(peak, buf, sizeof(buf)), "+1.00 MiB");
	assert_string_equal(runcompare_change(peak, buf, sizeof(buf)), "+33.3%");
	assert_string_equal(runcompare_delta(lost, buf, sizeof(buf)), "-1.21 KiB");
	assert_string_equal(runcompare_change(lost, buf, sizeof(buf)), "-100.0%");
	struct runcompare_row fresh = {"x", RUNCOMPARE_BYTES, true, true, 0, 5};
	assert_string_equal(runcompare_change(&fresh, buf, sizeof(buf)), "new");
	struct runcompare_row half = {"x", RUNCOMPARE_PCT, true, false, 5, 0};
	assert_string_equal(runcompare_delta(&half, buf, sizeof(buf)), "");
	struct runcompare_row pts = {"x", RUNCOMPARE_PCT, true, true, 12.5, 10};
	assert_string_equal(runcompare_delta(&pts, buf, sizeof(buf)), "-2.5 pts");

	struct folddiff_row *shares = NULL;
	size_t ns = runcompare_shares(&a, &b, &shares);
	assert_int_equal(ns, 3);
	/* push_back: 60 -> 0; main: 10 -> 40; new_hot: 0 -> 30 */
	assert_string_equal(shares[0].name, "std::vector<int>::push_back&");
	assert_true(shares[0].delta == -60);
	assert_string_equal(shares[1].name, "main");
	assert_true(shares[1].delta == 30);
	assert_string_equal(shares[2].name, "new_hot");

	struct diffhtml in = {.label_a = "old<", .label_b = "new", .a = &a, .b = &b, .shares = shares, .nshares = ns,
			      .svg_note = "no graph & no profiles"};
	struct strbuf page = STRBUF_INIT;
	diffhtml_build(&in, &page);
	assert_non_null(strstr(page.buf, "old&lt; &rarr; new"));
	assert_non_null(strstr(page.buf, "<td class=\"name\">std::vector&lt;int&gt;::push_back&amp;</td>"));
	assert_non_null(strstr(page.buf, "no graph &amp; no profiles"));
	assert_non_null(strstr(page.buf, "<td class=\"num up\">+1.00 MiB</td>"));
	assert_non_null(strstr(page.buf, "From the summaries' top functions"));
	strbuf_release(&page);
	free(shares);
	runsummary_release(&a);
	runsummary_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_humanize),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_svg_size),
		cmocka_unit_test(test_svg_fluid),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_runcompare),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
