/* test-perfscript: unit tests of the perf script parser's line rules in
 * both dialects, on small hand-written inputs whose folded output is known. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/strbuf.h"
#include "format/perfscript.h"

/* Collapses text and returns the sorted folded output as one string. */
static char *collapse(const char *text, const struct perfscript_options *o, unsigned long *warnings)
{
	struct foldtab t;
	foldtab_init(&t);
	struct perfscript_stats st;
	assert_int_equal(perfscript_collapse_buffer(text, strlen(text), o, NULL, &t, &st), 0);
	if (warnings)
		*warnings = st.warnings;
	const struct fold_entry **v = foldtab_sorted(&t);
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < t.count; i++)
		strbuf_addf(&sb, "%s %llu\n", v[i]->key, (unsigned long long)v[i]->count);
	free(v);
	foldtab_release(&t);
	char *s = strdup(strbuf_str(&sb));
	strbuf_release(&sb);
	return s;
}

static void expect(const char *text, const struct perfscript_options *o, const char *want)
{
	char *got = collapse(text, o, NULL);
	assert_string_equal(got, want);
	free(got);
}

static const char two_events[] =
	"# comment line\n"
	"prog 123 1.000: 10 cpu-clock:\n"
	"\t4004d6 leaf+0x16 (/bin/prog)\n"
	"\t4004f0 main+0x10 (/bin/prog)\n"
	"\n"
	"prog 123 2.000: 5 cpu-clock:\n"
	"\t4004d6 leaf+0x16 (/bin/prog)\n"
	"\t4004f0 main+0x10 (/bin/prog)\n"
	"\n";

static void test_basic_period_weighting(void **state)
{
	(void)state;
	struct perfscript_options o = {0};
	expect(two_events, &o, "prog;main;leaf 15\n");
	o.dialect = PERFSCRIPT_PERL;
	expect(two_events, &o, "prog;main;leaf 15\n");
}

static void test_final_event_without_blank_line(void **state)
{
	(void)state;
	const char *text = "prog 1 1.0: cycles:\n\tabc f (/x)\n";
	struct perfscript_options o = {0};
	expect(text, &o, "prog;f 1\n"); /* inferno keeps it */
	o.dialect = PERFSCRIPT_PERL;
	expect(text, &o, ""); /* the Perl script drops it */
}

static void test_pid_tid_and_spaces_in_comm(void **state)
{
	(void)state;
	const char *text = "V8 Worker 24636/25607 [000] 94564.109216: cycles:\n\tabc f (/x)\n\n";
	struct perfscript_options o = {.include_tid = true};
	expect(text, &o, "V8_Worker-24636/25607;f 1\n");
	o.dialect = PERFSCRIPT_PERL;
	expect(text, &o, "V8_Worker-24636/25607;f 1\n");
	struct perfscript_options p = {.include_pid = true};
	expect("a 77 1.0: cycles:\n\tabc f (/x)\n\n", &p, "a-?;f 1\n");
}

static void test_event_filter_default_and_explicit(void **state)
{
	(void)state;
	const char *text = "p 1 1.0: cycles:\n\t1 a (/x)\n\n"
			   "p 1 2.0: instructions:\n\t1 b (/x)\n\n"
			   "p 1 3.0: cycles:\n\t1 c (/x)\n\n";
	struct perfscript_options o = {0};
	expect(text, &o, "p;a 1\np;c 1\n");
	o.event_filter = "instructions";
	expect(text, &o, "p;b 1\n");
}

static void test_tidy_generic(void **state)
{
	(void)state;
	const char *text = "p 1 1.0: cycles:\n"
			   "\t1 foo(int, char) (/x)\n"
			   "\t2 net/http.(*Client).Do (/x)\n"
			   "\t3 ns::(anonymous namespace)::bar() (/x)\n"
			   "\t4 a;b (/x)\n\n";
	struct perfscript_options o = {0};
	expect(text, &o, "p;a:b;ns::(anonymous namespace)::bar;net/http.(*Client).Do;foo 1\n");
}

static void test_unknown_symbols_and_addrs(void **state)
{
	(void)state;
	const char *text = "pp 1 1.0: cycles:\n\t7f00 [unknown] (/usr/lib/libc.so.6)\n"
			   "\t0 [unknown] ([unknown])\n\n";
	struct perfscript_options o = {0};
	expect(text, &o, "pp;[unknown];[libc.so.6] 1\n");
	o.include_addrs = true;
	expect(text, &o, "pp;[unknown <0>];[libc.so.6 <7f00>] 1\n");
	o.dialect = PERFSCRIPT_PERL;
	o.include_addrs = false;
	expect(text, &o, "pp;[unknown];[libc.so.6] 1\n");
	/* the Perl script's event regex needs a command name of two or more
	 * characters: a one-letter one is an unrecognised line */
	expect("p 1 1.0: cycles:\n\t1 f (/x)\n\n", &o, "");
}

static void test_java_inline_and_annotations(void **state)
{
	(void)state;
	const char *text = "java 1 1.0: cycles:\n"
			   "\t1 Lfoo/Bar;::run->Lfoo/Baz;::go (/tmp/perf-1.map)\n"
			   "\t2 schedule ([kernel.kallsyms])\n\n";
	struct perfscript_options o = {.annotate_kernel = true, .annotate_jit = true};
	expect(text, &o, "java;schedule_[k];foo/Bar:::run_[j];foo/Baz:::go_[i] 1\n");
}

static void test_rust_legacy_demangling(void **state)
{
	(void)state;
	const char *text = "p 1 1.0: cycles:\n"
			   "\t1 _$LT$std..fs..File$u20$as$u20$std..io..Read$GT$::read::h5d84059cf335c8e6 (/x)\n\n";
	struct perfscript_options o = {0};
	expect(text, &o, "p;<std::fs::File as std::io::Read>::read 1\n");
}

static void test_skip_after(void **state)
{
	(void)state;
	const char *text = "p 1 1.0: cycles:\n\t1 leaf (/x)\n\t2 mid (/x)\n\t3 main (/x)\n\n";
	const char *skip[] = {"mid"};
	struct perfscript_options o = {.skip_after = skip, .nskip_after = 1};
	expect(text, &o, "mid;leaf 1\n");
}

static void test_weird_lines_warn_and_continue(void **state)
{
	(void)state;
	const char *text = "garbage without numbers\n\n"
			   "p 1 1.0: cycles:\n\tnot-a-stack-line\n\t1 f (/x)\n\n";
	struct perfscript_options o = {0};
	unsigned long w = 0;
	char *got = collapse(text, &o, &w);
	assert_string_equal(got, "p;f 1\n");
	assert_int_equal(w, 2);
	free(got);
}

static void test_invalid_utf8_is_replaced(void **state)
{
	(void)state;
	const char *text = "pp 1 1.0: cycles:\n\t1 f\xff\xfeg (/x)\n\n";
	struct perfscript_options o = {0};
	expect(text, &o, "pp;f\xef\xbf\xbd\xef\xbf\xbdg 1\n");
	o.dialect = PERFSCRIPT_PERL; /* bytes pass through */
	expect(text, &o, "pp;f\xff\xfeg 1\n");
}

static void test_crlf_lines(void **state)
{
	(void)state;
	const char *text = "p 1 1.0: cycles:\r\n\t1 f (/x)\r\n\r\n";
	struct perfscript_options o = {0};
	expect(text, &o, "p;f 1\n");
}

static void test_single_line_stack(void **state)
{
	(void)state;
	const char *text = "false 64414 20110.539270:      34467 cycles:u:  ffffffff9aa3c8de [unknown] ([unknown])\n";
	struct perfscript_options o = {0};
	expect(text, &o, "false;[unknown] 34467\n");
}

static void test_threads_give_same_output(void **state)
{
	(void)state;
	struct strbuf in = STRBUF_INIT;
	for (int i = 0; i < 200000; i++)
		strbuf_addf(&in, "p%d %d 1.0: 3 cpu-clock:\n\t1 f%d (/x)\n\t2 main (/x)\n\n", i % 7, i, i % 13);
	struct perfscript_options one = {.nthreads = 1}, two = {.nthreads = 3};
	struct foldtab a, b;
	foldtab_init(&a);
	foldtab_init(&b);
	assert_int_equal(perfscript_collapse_buffer(in.buf, in.len, &one, NULL, &a, NULL), 0);
	assert_int_equal(perfscript_collapse_buffer(in.buf, in.len, &two, NULL, &b, NULL), 0);
	assert_int_equal(a.count, b.count);
	assert_int_equal(a.total, b.total);
	assert_int_equal(a.total, 600000);
	const struct fold_entry **va = foldtab_sorted(&a), **vb = foldtab_sorted(&b);
	for (size_t i = 0; i < a.count; i++) {
		assert_string_equal(va[i]->key, vb[i]->key);
		assert_int_equal(va[i]->count, vb[i]->count);
	}
	free(va);
	free(vb);
	foldtab_release(&a);
	foldtab_release(&b);
	strbuf_release(&in);
}

/* A stack line that parses to no frame ("(process name)") seen twice: the
 * second time comes from the line cache (a fuzzer found this path). */
static void test_cached_line_without_frames(void **state)
{
	(void)state;
	const char *text = "pp 1 1.0: cycles:\n\t1 (deleted) (/x)\n\t2 f (/x)\n\n"
			   "pp 1 2.0: cycles:\n\t1 (deleted) (/x)\n\t2 f (/x)\n\n";
	struct perfscript_options o = {0};
	expect(text, &o, "pp;f 2\n");
}

static void test_sniff(void **state)
{
	(void)state;
	assert_true(perfscript_sniff(two_events, strlen(two_events)));
	assert_false(perfscript_sniff("a;b;c 10\n", 9));
	assert_false(perfscript_sniff("hello world\n", 12));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_period_weighting),
		cmocka_unit_test(test_final_event_without_blank_line),
		cmocka_unit_test(test_pid_tid_and_spaces_in_comm),
		cmocka_unit_test(test_event_filter_default_and_explicit),
		cmocka_unit_test(test_tidy_generic),
		cmocka_unit_test(test_unknown_symbols_and_addrs),
		cmocka_unit_test(test_java_inline_and_annotations),
		cmocka_unit_test(test_rust_legacy_demangling),
		cmocka_unit_test(test_skip_after),
		cmocka_unit_test(test_weird_lines_warn_and_continue),
		cmocka_unit_test(test_invalid_utf8_is_replaced),
		cmocka_unit_test(test_crlf_lines),
		cmocka_unit_test(test_single_line_stack),
		cmocka_unit_test(test_threads_give_same_output),
		cmocka_unit_test(test_cached_line_without_frames),
		cmocka_unit_test(test_sniff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
