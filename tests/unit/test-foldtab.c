/* test-foldtab: the folded-stack table sums counts per distinct stack,
 * survives growth, merges, and sorts by bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/foldtab.h"

static void test_sums_and_sorts(void **state)
{
	(void)state;
	struct foldtab t;
	foldtab_init(&t);
	foldtab_add(&t, "b;c", 3, 2);
	foldtab_add(&t, "a", 1, 1);
	foldtab_add(&t, "b;c", 3, 5);
	foldtab_add(&t, "a;b", 3, 1);
	assert_int_equal(t.count, 3);
	assert_int_equal(t.total, 9);
	const struct fold_entry **v = foldtab_sorted(&t);
	assert_string_equal(v[0]->key, "a");
	assert_string_equal(v[1]->key, "a;b");
	assert_string_equal(v[2]->key, "b;c");
	assert_int_equal(v[2]->count, 7);
	free(v);
	foldtab_release(&t);
}

static void test_growth_and_merge(void **state)
{
	(void)state;
	struct foldtab a, b;
	foldtab_init(&a);
	foldtab_init(&b);
	char key[32];
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(key, sizeof(key), "main;f%d", i);
		foldtab_add(&a, key, (size_t)n, 1);
		if (i % 2 == 0)
			foldtab_add(&b, key, (size_t)n, 2);
	}
	foldtab_merge(&a, &b);
	assert_int_equal(a.count, 100000);
	assert_int_equal(a.total, 100000 + 50000 * 2);
	const struct fold_entry **v = foldtab_sorted(&a);
	for (size_t i = 1; i < a.count; i++)
		assert_true(strcmp(v[i - 1]->key, v[i]->key) < 0);
	free(v);
	foldtab_release(&a);
	foldtab_release(&b);
}

static void test_keys_with_nul_bytes(void **state)
{
	(void)state;
	struct foldtab t;
	foldtab_init(&t);
	foldtab_add(&t, "a\0b", 3, 1);
	foldtab_add(&t, "a\0c", 3, 1);
	foldtab_add(&t, "a", 1, 1);
	assert_int_equal(t.count, 3);
	foldtab_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sums_and_sorts),
		cmocka_unit_test(test_growth_and_merge),
		cmocka_unit_test(test_keys_with_nul_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
