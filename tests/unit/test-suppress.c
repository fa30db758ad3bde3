/* test-suppress: leak suppressions: memcheck's wildcards, both file
 * formats and their detection, every parse error with its line (and no
 * rule kept from a bad file), memcheck's matching rules (a prefix of the
 * stack from the allocation function, "..." for zero or more frames,
 * match-leak-kinds, obj:, src:, below main), generated blocks that parse
 * back and match, and kiln's default rules on the C runtime's stacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analyze/suppress.h"
#include "base/heaptrace.h"

#define DEF HT_LEAK_DEFINITELY
#define IND HT_LEAK_INDIRECTLY
#define POS HT_LEAK_POSSIBLY
#define REACH HT_LEAK_REACHABLE

static struct suppress *parse_ok(const char *text, enum suppress_format want)
{
	struct suppress *s = suppress_new();
	struct diag d = {0};
	enum suppress_format f;
	int rc = suppress_parse(s, "t.supp", text, strlen(text), &f, &d);
	if (rc)
		fail_msg("parse failed at line %lu: %s", d.line, d.msg);
	assert_int_equal(f, want);
	return s;
}

/* The error's line, and that the set kept none of the file's rules. */
static unsigned long parse_err_n(const char *text, size_t len, const char *want_msg)
{
	struct suppress *s = suppress_new();
	assert_int_equal(suppress_parse(s, "good", "foo\n", 4, NULL, NULL), 0);
	struct diag d = {0};
	assert_int_equal(suppress_parse(s, "bad", text, len, NULL, &d), KILN_ERR_FORMAT);
	assert_int_equal(suppress_count(s), 1);
	if (!strstr(d.msg, want_msg))
		fail_msg("message '%s' lacks '%s'", d.msg, want_msg);
	suppress_free(s);
	return d.line;
}

static unsigned long parse_err(const char *text, const char *want_msg)
{
	return parse_err_n(text, strlen(text), want_msg);
}

#define F(fun) {(fun), NULL, "/usr/bin/prog", NULL, 0}
#define FO(fun, obj) {(fun), NULL, (obj), NULL, 0}

static void test_glob(void **state)
{
	(void)state;
	assert_true(suppress_glob("malloc", "malloc"));
	assert_false(suppress_glob("malloc", "mallocx"));
	assert_false(suppress_glob("malloc", "malloc_"));
	assert_true(suppress_glob("*alloc", "calloc"));
	assert_true(suppress_glob("*alloc", "alloc"));
	assert_false(suppress_glob("*alloc", "allocate"));
	assert_true(suppress_glob("m?lloc", "malloc"));
	assert_false(suppress_glob("m?lloc", "mlloc"));
	assert_true(suppress_glob("*", ""));
	assert_true(suppress_glob("", ""));
	assert_false(suppress_glob("", "x"));
	assert_true(suppress_glob("a*b*c", "axxbyybzzc"));
	assert_false(suppress_glob("a*b*c", "axxbyybzz"));
	assert_true(suppress_glob("\\*star", "*star"));
	assert_false(suppress_glob("\\*star", "xstar"));
	assert_true(suppress_glob("a\\?", "a?"));
	assert_false(suppress_glob("a\\?", "ab"));
	assert_true(suppress_glob("*/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"));
	assert_false(suppress_glob("[ab]", "a")); /* no brackets in memcheck's globs */
	assert_true(suppress_glob("[ab]", "[ab]"));
	/* many stars over a long text stay linear enough */
	char text[4096], pat[200];
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = 0;
	for (int i = 0; i < 99; i++) {
		pat[2 * i] = '*';
		pat[2 * i + 1] = 'a';
	}
	strcpy(pat + 198, "b");
	assert_false(suppress_glob(pat, text));
}

static void test_memcheck_format(void **state)
{
	(void)state;
	const char *text = "# a comment\n"
			   "\n"
			   "{\n"
			   "   lost-in-foo\n"
			   "   Memcheck:Leak\n"
			   "   match-leak-kinds: definite,possible\n"
			   "   fun:malloc\n"
			   "   fun:foo\n"
			   "}\n"
			   "{\n"
			   "   cond-is-ignored\n"
			   "   Memcheck:Cond\n"
			   "   fun:strlen\n"
			   "}\n"
			   "{\n"
			   "   param-is-ignored\n"
			   "   Memcheck:Param\n"
			   "   write(buf)\n"
			   "   fun:write\n"
			   "}\n"
			   "{\n"
			   "   other-tool\n"
			   "   Helgrind:Race\n"
			   "   fun:*\n"
			   "}\n"
			   "  {  \n"
			   "\tboth-tools\r\n"
			   "   Memcheck,Addrcheck:Leak\n"
			   "   # comments inside a block\n"
			   "   ...\n"
			   "   obj:*/libz.so*\n"
			   "}\n";
	struct suppress *s = parse_ok(text, SUPPRESS_MEMCHECK);
	assert_int_equal(suppress_count(s), 2);
	struct suppress_info si;
	suppress_get(s, 0, &si);
	assert_string_equal(si.name, "lost-in-foo");
	assert_string_equal(si.source, "t.supp");
	assert_int_equal(si.line, 4);
	assert_int_equal(si.kinds, 1u << DEF | 1u << POS);
	assert_int_equal(si.format, SUPPRESS_MEMCHECK);
	suppress_get(s, 1, &si);
	assert_string_equal(si.name, "both-tools");
	assert_int_equal(si.kinds, SUPPRESS_ALL_KINDS); /* no match-leak-kinds: every kind */
	assert_int_equal(si.line, 27);
	suppress_free(s);

	s = parse_ok("{\n n\n Memcheck:Leak\n match-leak-kinds: all\n fun:x\n}\n"
		     "{\n m\n Memcheck:Leak\n match-leak-kinds: none\n fun:x\n}\n"
		     "{\n r\n Memcheck:Leak\n match-leak-kinds: reachable, indirect\n fun:x\n}\n",
		     SUPPRESS_MEMCHECK);
	suppress_get(s, 0, &si);
	assert_int_equal(si.kinds, SUPPRESS_ALL_KINDS);
	suppress_get(s, 1, &si);
	assert_int_equal(si.kinds, 0);
	suppress_get(s, 2, &si);
	assert_int_equal(si.kinds, 1u << REACH | 1u << IND);
	suppress_free(s);

	/* empty files and files of comments only have no rules */
	s = parse_ok("", SUPPRESS_KILN);
	assert_int_equal(suppress_count(s), 0);
	assert_int_equal(suppress_parse(s, "c", "# only\n\n  # comments\n", 21, NULL, NULL), 0);
	assert_int_equal(suppress_count(s), 0);
	suppress_free(s);
	suppress_free(NULL);
}

static void test_kiln_format(void **state)
{
	(void)state;
	struct suppress *s = parse_ok("# known leaks\nlibfoo_init\n  *::Cache::* \n", SUPPRESS_KILN);
	assert_int_equal(suppress_count(s), 2);
	struct suppress_info si;
	suppress_get(s, 1, &si);
	assert_string_equal(si.name, "*::Cache::*");
	assert_int_equal(si.line, 3);
	assert_int_equal(si.kinds, SUPPRESS_ALL_KINDS);
	/* any frame, by the name reports show (demangled), every kind */
	struct suppress_frame fr[] = {
		{"_ZN2ns5Cache4fillEv", "ns::Cache::fill()", "/p", NULL, 0},
		F("main"),
	};
	assert_int_equal(suppress_match(s, REACH, fr, 2), 1);
	assert_int_equal(suppress_match(s, DEF, fr + 1, 1), -1);
	struct suppress_frame fr2[] = {F("helper"), F("libfoo_init"), F("main")};
	assert_int_equal(suppress_match(s, DEF, fr2, 3), 0);
	suppress_free(s);
}

static void test_errors(void **state)
{
	(void)state;
	assert_int_equal(parse_err("{\n", "not closed"), 1);
	assert_int_equal(parse_err("{\n}\n", "expected the suppression's name"), 2);
	assert_int_equal(parse_err("{\nname\n", "not closed"), 1);
	assert_int_equal(parse_err("{\nname\nMemcheck\n}\n", "expected TOOL:KIND"), 3);
	assert_int_equal(parse_err("{\nname\n:Leak\n}\n", "expected TOOL:KIND"), 3);
	assert_int_equal(parse_err("{\nname\nMemcheck:Leak\n}\n", "has no fun:"), 4);
	assert_int_equal(parse_err("{\nname\nMemcheck:Leak\nfun:a\n", "not closed"), 1);
	assert_int_equal(parse_err("# c\n{\nn\nMemcheck:Leak\nfun:a\nbogus\n}\n", "expected fun:NAME"), 6);
	assert_int_equal(parse_err("{\nn\nMemcheck:Leak\nfun:\n}\n", "expected fun:NAME"), 4);
	assert_int_equal(parse_err("{\nn\nMemcheck:Leak\nfun:a\nmatch-leak-kinds: all\n}\n", "right after"), 5);
	assert_int_equal(parse_err("{\nn\nMemcheck:Leak\nmatch-leak-kinds: definite,lost\nfun:a\n}\n",
				   "match-leak-kinds: takes"),
			 4);
	assert_int_equal(parse_err("{\nn\nMemcheck:Leak\nmatch-leak-kinds:\nfun:a\n}\n", "match-leak-kinds: takes"), 4);
	assert_int_equal(parse_err("{\nn\nMemcheck:Leak\nfun:a\n{\n", "inside the suppression"), 5);
	assert_int_equal(parse_err("{\nn\nHelgrind:Race\nfun:a\n", "not closed"), 1);
	assert_int_equal(parse_err("{\nn\nMemcheck:Leak\nfun:a\n}\nfun:b\n", "expected '{'"), 6);
	assert_int_equal(parse_err("{\nn\nMemcheck:Leak\nsrc::12\n}\n", "src: needs a file"), 4);
	assert_int_equal(parse_err("foo\nbar\n{\n", "in a file of one rule a line"), 3);
	assert_int_equal(parse_err("foo\n}\n", "in a file of one rule a line"), 2);
	assert_int_equal(parse_err_n("foo\nb\0r\n", 8, "NUL"), 2);
	/* a frame list over the limit */
	struct strbuf sb = STRBUF_INIT;
	strbuf_adds(&sb, "{\nn\nMemcheck:Leak\n");
	for (int i = 0; i <= SUPPRESS_MAX_FRAMES; i++)
		strbuf_adds(&sb, "fun:f\n");
	strbuf_adds(&sb, "}\n");
	assert_int_equal(parse_err(sb.buf, "more than"), 4 + SUPPRESS_MAX_FRAMES);
	strbuf_release(&sb);
	/* a long bad line is quoted cut short */
	char bad[400] = "{\nn\nMemcheck:Leak\n";
	memset(bad + strlen(bad), 'x', 300);
	assert_int_equal(parse_err(bad, "..."), 4);
}

static long match1(const char *rule_body, int kind, const struct suppress_frame *fr, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "{\n  r\n  Memcheck:Leak\n%s}\n", rule_body);
	struct suppress *s = parse_ok(sb.buf, SUPPRESS_MEMCHECK);
	long r = suppress_match(s, kind, fr, n);
	suppress_free(s);
	strbuf_release(&sb);
	return r;
}

static void test_match(void **state)
{
	(void)state;
	struct suppress_frame fr[] = {
		F("lose"), F("work"), FO("helper", "/usr/lib/libfoo.so.1"), F("main"), F("__libc_start_call_main"),
		F("__libc_start_main"), F("_start"),
	};
	size_t n = sizeof(fr) / sizeof(*fr);
	/* the allocation function comes first, then a prefix of the stack */
	assert_int_equal(match1("fun:malloc\nfun:lose\n", DEF, fr, n), 0);
	assert_int_equal(match1("fun:calloc\nfun:lose\nfun:work\n", DEF, fr, n), 0);
	assert_int_equal(match1("fun:*alloc\n", DEF, fr, n), 0);
	assert_int_equal(match1("obj:*vgpreload_memcheck*\nfun:lose\n", DEF, fr, n), 0);
	assert_int_equal(match1("fun:lose\n", DEF, fr, n), -1);  /* not the allocation function */
	assert_int_equal(match1("fun:free\nfun:lose\n", DEF, fr, n), -1);
	assert_int_equal(match1("fun:malloc\nfun:work\n", DEF, fr, n), -1);
	/* "..." is zero or more frames, anywhere */
	assert_int_equal(match1("...\nfun:lose\n", DEF, fr, n), 0);
	assert_int_equal(match1("fun:malloc\n...\nfun:lose\n", DEF, fr, n), 0);
	assert_int_equal(match1("fun:malloc\n...\nfun:main\n", DEF, fr, n), 0);
	assert_int_equal(match1("...\nfun:work\n...\nfun:main\n...\n", DEF, fr, n), 0);
	assert_int_equal(match1("...\nfun:main\nfun:work\n", DEF, fr, n), -1);
	assert_int_equal(match1("...\nfun:nowhere\n", DEF, fr, n), -1);
	assert_int_equal(match1("...\n", DEF, fr, n), 0);
	/* obj: is the module's path; a frame without one matches no obj: */
	assert_int_equal(match1("...\nobj:*/libfoo.so*\nfun:main\n", DEF, fr, n), 0);
	assert_int_equal(match1("...\nobj:*/libbar.so*\n", DEF, fr, n), -1);
	/* the stack ends below main, named "(below main)" as memcheck does */
	assert_int_equal(match1("...\nfun:main\nfun:(below main)\n", DEF, fr, n), 0);
	assert_int_equal(match1("...\nfun:__libc_start_call_main\n", DEF, fr, n), 0);
	assert_int_equal(match1("...\nfun:_start\n", DEF, fr, n), -1);
	assert_int_equal(match1("...\nfun:main\nfun:*\nfun:*\n", DEF, fr, n), -1);
	/* leak kinds */
	assert_int_equal(match1("match-leak-kinds: definite\nfun:malloc\nfun:lose\n", DEF, fr, n), 0);
	assert_int_equal(match1("match-leak-kinds: definite\nfun:malloc\nfun:lose\n", IND, fr, n), -1);
	assert_int_equal(match1("match-leak-kinds: possible,reachable\n...\n", REACH, fr, n), 0);
	assert_int_equal(match1("match-leak-kinds: possible,reachable\n...\n", DEF, fr, n), -1);
	assert_int_equal(match1("match-leak-kinds: none\n...\n", REACH, fr, n), -1);
	/* longer than the stack */
	assert_int_equal(match1("fun:malloc\nfun:lose\nfun:work\nfun:helper\nfun:main\nfun:*\nfun:x\n", DEF, fr, n),
			 -1);
	/* an empty stack: only the allocation function */
	assert_int_equal(match1("fun:malloc\n", DEF, fr, 0), 0);
	assert_int_equal(match1("fun:malloc\nfun:main\n", DEF, fr, 0), -1);
}

static void test_match_frames(void **state)
{
	(void)state;
	/* operator new is the allocation function itself (mangled names) */
	struct suppress_frame cxx[] = {
		{"_Znwm", "operator new(unsigned long)", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", NULL, 0},
		{"_Z4leakv", "leak()", "/p", "/src/leak.cc", 4},
		F("main"),
	};
	assert_int_equal(match1("fun:_Znwm\nfun:_Z4leakv\nfun:main\n", DEF, cxx, 3), 0);
	assert_int_equal(match1("fun:malloc\nfun:_Znwm\n", DEF, cxx, 3), -1);
	assert_int_equal(match1("fun:_Znwm\nfun:leak()\n", DEF, cxx, 3), -1); /* demangled: no */
	/* src:FILE[:LINE] on the basename or the path */
	assert_int_equal(match1("fun:_Znwm\nsrc:leak.cc:4\n", DEF, cxx, 3), 0);
	assert_int_equal(match1("fun:_Znwm\nsrc:leak.cc\n", DEF, cxx, 3), 0);
	assert_int_equal(match1("fun:_Znwm\nsrc:/src/*.cc\n", DEF, cxx, 3), 0);
	assert_int_equal(match1("fun:_Znwm\nsrc:leak.cc:5\n", DEF, cxx, 3), -1);
	assert_int_equal(match1("src:vg_replace_malloc.c\n", DEF, cxx + 1, 2), 0);
	/* unknown functions are "???"; versioned names match bare ones */
	struct suppress_frame odd[] = {{NULL, NULL, "/usr/bin/mawk", NULL, 0}, F("pthread_create"), F("main")};
	assert_int_equal(match1("fun:malloc\nfun:???\n", DEF, odd, 3), 0);
	assert_int_equal(match1("fun:malloc\nobj:/usr/bin/mawk\n", DEF, odd, 3), 0);
	assert_int_equal(match1("...\nfun:pthread_create@@GLIBC_2.34\n", DEF, odd, 3), 0);
	assert_int_equal(match1("...\nfun:pthread_create@@GLIBC_2.2.5\nfun:main\n", DEF, odd, 3), 0);
	assert_int_equal(match1("...\nfun:pthread_join@@GLIBC_2.34\n", DEF, odd, 3), -1);
	/* a long stack and a rule with many "..." */
	struct suppress_frame *big = calloc(2000, sizeof(*big));
	for (int i = 0; i < 2000; i++)
		big[i] = (struct suppress_frame)F(i == 1999 ? "last" : "f");
	assert_int_equal(match1("...\nfun:f\n...\nfun:f\n...\nfun:f\n...\nfun:last\n", DEF, big, 2000), 0);
	assert_int_equal(match1("...\nfun:f\n...\nfun:f\n...\nfun:g\n", DEF, big, 2000), -1);
	free(big);
}

static void test_first_rule_wins(void **state)
{
	(void)state;
	struct suppress *s = parse_ok("{\n a\n Memcheck:Leak\n match-leak-kinds: reachable\n ...\n fun:main\n}\n"
				      "{\n b\n Memcheck:Leak\n ...\n fun:main\n}\n",
				      SUPPRESS_MEMCHECK);
	assert_int_equal(suppress_parse(s, "k", "main\n", 5, NULL, NULL), 0);
	struct suppress_frame fr[] = {F("main")};
	assert_int_equal(suppress_match(s, REACH, fr, 1), 0);
	assert_int_equal(suppress_match(s, DEF, fr, 1), 1);
	assert_int_equal(suppress_count(s), 3);
	assert_int_equal(suppress_match(s, 7, fr, 1), -1);
	assert_int_equal(suppress_match(NULL, DEF, fr, 1), -1);
	assert_int_equal(suppress_kinds(s), SUPPRESS_ALL_KINDS);
	assert_int_equal(suppress_kinds(NULL), 0);
	suppress_free(s);
}

static void test_write_memcheck(void **state)
{
	(void)state;
	struct suppress_frame fr[] = {
		F("lose"), {NULL, NULL, "/usr/bin/prog", NULL, 0}, F("main"), F("__libc_start_call_main"),
		F("_start"),
	};
	struct strbuf sb = STRBUF_INIT;
	suppress_write_memcheck(&sb, NULL, DEF, fr, 5, 24);
	assert_string_equal(sb.buf, "{\n"
				    "   <insert_a_suppression_name_here>\n"
				    "   Memcheck:Leak\n"
				    "   match-leak-kinds: definite\n"
				    "   fun:*alloc\n"
				    "   fun:lose\n"
				    "   obj:/usr/bin/prog\n"
				    "   fun:main\n"
				    "   fun:(below main)\n"
				    "}\n");
	/* it parses back and matches the leak it was made from, and only its kind */
	struct suppress *s = parse_ok(sb.buf, SUPPRESS_MEMCHECK);
	assert_int_equal(suppress_match(s, DEF, fr, 5), 0);
	assert_int_equal(suppress_match(s, POS, fr, 5), -1);
	fr[0].fun = "keep";
	assert_int_equal(suppress_match(s, DEF, fr, 5), -1);
	suppress_free(s);
	/* operator new starts the stack; frames are capped */
	struct suppress_frame cxx[] = {
		{"_Znwm", "operator new(unsigned long)", "/l", NULL, 0}, F("a"), F("b"), F("c"),
	};
	strbuf_reset(&sb);
	suppress_write_memcheck(&sb, "mine", REACH, cxx, 4, 2);
	assert_string_equal(sb.buf, "{\n   mine\n   Memcheck:Leak\n   match-leak-kinds: reachable\n"
				    "   fun:_Znwm\n   fun:a\n}\n");
	strbuf_release(&sb);
}

static void test_default_rules(void **state)
{
	(void)state;
	struct suppress *s = suppress_new();
	struct diag d = {0};
	enum suppress_format f;
	if (suppress_parse(s, "default.supp", suppress_default, strlen(suppress_default), &f, &d))
		fail_msg("default.supp line %lu: %s", d.line, d.msg);
	assert_int_equal(f, SUPPRESS_MEMCHECK);
	assert_true(suppress_count(s) >= 10);
	/* they never suppress a lost block: its stack need not even be symbolized */
	assert_int_equal(suppress_kinds(s), 1u << POS | 1u << REACH);
	const char *ld = "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2";
	const char *libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
	/* a running thread's DTV, with and without libc's debug information */
	struct suppress_frame dtv[] = {
		FO("calloc", ld), FO("allocate_dtv", ld), FO("_dl_allocate_tls", ld), FO("allocate_stack", libc),
		FO("pthread_create", libc), F("main"),
	};
	assert_true(suppress_match(s, POS, dtv, 6) >= 0);
	struct suppress_frame dtv_nodebug[] = {FO(NULL, ld), FO("_dl_allocate_tls", ld), FO(NULL, libc), F("main")};
	assert_true(suppress_match(s, POS, dtv_nodebug, 4) >= 0);
	assert_int_equal(suppress_match(s, DEF, dtv, 6), -1); /* lost for good: reported */
	/* stdio's buffer, locale data: reachable only */
	struct suppress_frame io[] = {FO("_IO_file_doallocate", libc), FO(NULL, libc), FO("puts", libc), F("main")};
	assert_true(suppress_match(s, REACH, io, 4) >= 0);
	assert_int_equal(suppress_match(s, DEF, io, 4), -1);
	struct suppress_frame loc[] = {FO(NULL, libc), FO(NULL, libc), FO("setlocale", libc), F("main")};
	assert_true(suppress_match(s, REACH, loc, 4) >= 0);
	assert_int_equal(suppress_match(s, POS, loc, 4), -1);
	/* the program's own blocks, and strdup's for the program, are not */
	struct suppress_frame mine[] = {F("make"), F("main"), F("__libc_start_call_main")};
	struct suppress_frame dup[] = {FO("__strdup", libc), F("make"), F("main")};
	for (int k = 0; k < 4; k++) {
		assert_int_equal(suppress_match(s, k, mine, 3), -1);
		assert_int_equal(suppress_match(s, k, dup, 3), -1);
	}
	suppress_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_memcheck_format),
		cmocka_unit_test(test_kiln_format),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_match_frames),
		cmocka_unit_test(test_first_rule_wins),
		cmocka_unit_test(test_write_memcheck),
		cmocka_unit_test(test_default_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
