/* test-strtab: string interning: index 0 is "", equal strings share one
 * index, indices and bytes stay stable while the table grows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/strtab.h"

static void test_empty_is_zero(void **state)
{
	(void)state;
	struct strtab t;
	strtab_init(&t);
	assert_int_equal(strtab_count(&t), 1);
	assert_string_equal(strtab_get(&t, 0), "");
	assert_int_equal(strtab_len(&t, 0), 0);
	assert_int_equal(strtab_intern(&t, "", 0), 0);
	assert_int_equal(strtab_intern(&t, NULL, 0), 0);
	assert_int_equal(strtab_interns(&t, ""), 0);
	assert_int_equal(strtab_count(&t), 1);
	strtab_release(&t);
}

static void test_dedup(void **state)
{
	(void)state;
	struct strtab t;
	strtab_init(&t);
	uint32_t a = strtab_interns(&t, "main");
	uint32_t b = strtab_interns(&t, "foo");
	uint32_t c = strtab_intern(&t, "mainly", 4); /* "main" by length */
	assert_int_equal(a, 1);
	assert_int_equal(b, 2);
	assert_int_equal(c, a);
	assert_int_equal(strtab_count(&t), 3);
	assert_string_equal(strtab_get(&t, a), "main");
	assert_string_equal(strtab_get(&t, b), "foo");
	assert_null(strtab_get(&t, 3));
	assert_null(strtab_get(&t, UINT32_MAX));
	assert_int_equal(strtab_len(&t, 99), 0);
	strtab_release(&t);
}

static void test_embedded_nul(void **state)
{
	(void)state;
	struct strtab t;
	strtab_init(&t);
	uint32_t a = strtab_intern(&t, "a\0b", 3);
	uint32_t b = strtab_intern(&t, "a", 1);
	uint32_t c = strtab_intern(&t, "a\0c", 3);
	assert_int_not_equal(a, b);
	assert_int_not_equal(a, c);
	assert_int_equal(strtab_len(&t, a), 3);
	assert_memory_equal(strtab_get(&t, a), "a\0b", 4);
	assert_int_equal(strtab_intern(&t, "a\0b", 3), a);
	strtab_release(&t);
}

static void test_find(void **state)
{
	(void)state;
	struct strtab t;
	strtab_init(&t);
	uint32_t id = 12345;
	assert_false(strtab_find(&t, "x", 1, &id));
	assert_int_equal(id, 12345); /* untouched on a miss */
	uint32_t x = strtab_interns(&t, "x");
	assert_true(strtab_find(&t, "x", 1, &id));
	assert_int_equal(id, x);
	assert_true(strtab_find(&t, "", 0, &id));
	assert_int_equal(id, 0);
	assert_int_equal(strtab_count(&t), 2);
	strtab_release(&t);
}

static void test_growth_is_stable(void **state)
{
	(void)state;
	struct strtab t;
	strtab_init(&t);
	enum { N = 100000 };
	char buf[32];
	const char *first = strtab_get(&t, strtab_interns(&t, "fn0"));
	for (int i = 0; i < N; i++) {
		int n = snprintf(buf, sizeof(buf), "fn%d", i);
		assert_int_equal(strtab_intern(&t, buf, (size_t)n), (uint32_t)i + 1);
	}
	assert_int_equal(strtab_count(&t), N + 1);
	/* Pointers handed out earlier still hold their bytes. */
	assert_ptr_equal(strtab_get(&t, 1), first);
	for (int i = 0; i < N; i += 997) {
		int n = snprintf(buf, sizeof(buf), "fn%d", i);
		assert_int_equal(strtab_intern(&t, buf, (size_t)n), (uint32_t)i + 1);
		assert_string_equal(strtab_get(&t, (uint32_t)i + 1), buf);
	}
	assert_int_equal(strtab_count(&t), N + 1);
	strtab_release(&t);
}

static void test_release(void **state)
{
	(void)state;
	struct strtab t;
	strtab_release(NULL);
	strtab_init(&t);
	strtab_interns(&t, "x");
	strtab_release(&t);
	strtab_release(&t); /* released twice is harmless */
	strtab_init(&t);    /* and reusable */
	assert_int_equal(strtab_interns(&t, "y"), 1);
	strtab_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_is_zero),
		cmocka_unit_test(test_dedup),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_growth_is_stable),
		cmocka_unit_test(test_release),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
