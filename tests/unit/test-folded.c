/* test-folded: parsing folded-stack lines: counts, fractions, the
 * differential two-count form, spaces in frame names, and bad lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/error.h"
#include "format/folded.h"

static void parse_ok(const char *line, const char *stack, double c1, double c2, int n)
{
	struct folded_line fl;
	assert_int_equal(folded_parse_line(line, strlen(line), &fl), 0);
	assert_int_equal(fl.len, strlen(stack));
	assert_memory_equal(fl.stack, stack, fl.len);
	assert_true(fl.count == c1);
	assert_true(fl.count2 == c2);
	assert_int_equal(fl.ncounts, n);
}

static void test_lines(void **state)
{
	(void)state;
	parse_ok("a;b;c 10", "a;b;c", 10, 0, 1);
	parse_ok("a;b c;d 3\r", "a;b c;d", 3, 0, 1);
	parse_ok("main;f 0.25", "main;f", 0.25, 0, 1);
	parse_ok("main;f 5 7", "main;f", 5, 7, 2);
	parse_ok("x\t12", "x", 12, 0, 1);
}

static void test_bad_lines(void **state)
{
	(void)state;
	struct folded_line fl;
	assert_int_equal(folded_parse_line("", 0, &fl), 1);
	assert_int_equal(folded_parse_line("  \r", 3, &fl), 1);
	assert_int_equal(folded_parse_line("no count here", 13, &fl), KILN_ERR_FORMAT);
	assert_int_equal(folded_parse_line("12", 2, &fl), KILN_ERR_FORMAT);
	assert_int_equal(folded_parse_line("a;b .5", 6, &fl), KILN_ERR_FORMAT);
	parse_ok("a;b 1.", "a;b", 1, 0, 1); /* flamegraph.pl accepts "1." */
	assert_int_equal(folded_parse_line("a;b12", 5, &fl), KILN_ERR_FORMAT);
}

static void test_format_count(void **state)
{
	(void)state;
	char buf[32];
	assert_int_equal(folded_format_count(42, buf), 2);
	assert_string_equal(buf, "42");
	folded_format_count(0.5, buf);
	assert_string_equal(buf, "0.5");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_format_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
