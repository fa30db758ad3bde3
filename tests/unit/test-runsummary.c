/* test-runsummary: summary.json round trips field for field (every section,
 * arrays of records and of strings, NULL strings, non-finite numbers as
 * null), absent sections stay absent, unknown keys are ignored, and every
 * malformed input (not JSON, wrong types, no or a newer version, duplicate
 * keys) fails with KILN_ERR_FORMAT, a message naming the key, and a zeroed
 * struct. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include <cmocka.h>

#include "format/runsummary.h"
#include "base/xalloc.h"

static char *dump(const struct runsummary *s, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	assert_non_null(f);
	assert_int_equal(runsummary_write(s, f), 0);
	fclose(f);
	return buf;
}

static void fill(struct runsummary *s)
{
	memset(s, 0, sizeof(*s));
	s->version = RUNSUMMARY_VERSION;
	runsummary_set(&s->name, "demo-server");
	s->argc = 3;
	s->argv = xcalloc(3, sizeof(char *));
	s->argv[0] = xstrdup("build/examples/demo-server");
	s->argv[1] = xstrdup("--port");
	s->argv[2] = xstrdup("8089 \"quoted\" \\ and \xc3\xa9");
	runsummary_set(&s->started, "2026-11-22T06:30:00Z");
	s->duration_s = 12.5;
	runsummary_set(&s->target_end, "exited 0");
	runsummary_set(&s->stopped_by, "SIGINT");
	s->load_exit = -1;
	s->load_s = 10.25;
	s->has_cpu = true;
	runsummary_set(&s->cpu.profile, "cpu.pb.gz");
	s->cpu.samples = 1234;
	s->cpu.frequency_hz = 99;
	s->cpu.cpu_s = 12.34;
	s->cpu.ntop = 2;
	s->cpu.top = xcalloc(2, sizeof(*s->cpu.top));
	runsummary_set(&s->cpu.top[0].name, "hash_rounds");
	s->cpu.top[0].self_pct = 61.5;
	s->cpu.top[0].total_pct = 62.25;
	runsummary_set(&s->cpu.top[1].name, "std::vector<int>::push_back(int const&)");
	s->cpu.top[1].self_pct = 0.125;
	s->has_heap = true;
	s->heap.allocations = 1ull << 40;
	s->heap.peak_bytes = UINT64_C(123456789012);
	s->heap.frag_pct = -1;
	s->heap.alloc_rate_bps = 1e9;
	s->heap.leaks.definite_bytes = 4096;
	s->heap.leaks.definite_blocks = 4;
	s->heap.leaks.reachable_blocks = 7;
	s->heap.ntop = 1;
	s->heap.top = xcalloc(1, sizeof(*s->heap.top));
	runsummary_set(&s->heap.top[0].name, "build_report");
	s->heap.top[0].leaked_bytes = 4096;
	s->has_checks = true;
	s->checks.passed = false;
	s->checks.n = 1;
	s->checks.items = xcalloc(1, sizeof(*s->checks.items));
	runsummary_set(&s->checks.items[0].budget, "max-self");
	runsummary_set(&s->checks.items[0].verdict, "fail");
}

static void test_round_trip(void **state)
{
	(void)state;
	struct runsummary a, b;
	fill(&a);
	size_t len;
	char *text = dump(&a, &len);
	struct diag d = {0};
	assert_int_equal(runsummary_parse(text, len, &b, &d), 0);
	assert_int_equal(b.version, RUNSUMMARY_VERSION);
	assert_string_equal(b.name, "demo-server");
	assert_int_equal(b.argc, 3);
	assert_string_equal(b.argv[2], a.argv[2]);
	assert_string_equal(b.stopped_by, "SIGINT");
	assert_null(b.load_command);
	assert_int_equal(b.load_exit, -1);
	assert_true(b.has_cpu);
	assert_false(b.has_offcpu);
	assert_false(b.has_mem);
	assert_int_equal(b.cpu.samples, 1234);
	assert_int_equal(b.cpu.ntop, 2);
	assert_string_equal(b.cpu.top[1].name, a.cpu.top[1].name);
	assert_true(b.cpu.top[0].self_pct == 61.5 && b.cpu.top[0].total_pct == 62.25);
	assert_true(b.cpu.top[1].self_pct == 0.125);
	assert_null(b.cpu.flame);
	assert_true(b.heap.allocations == 1ull << 40);
	assert_true(b.heap.peak_bytes == UINT64_C(123456789012));
	assert_true(b.heap.frag_pct == -1 && b.heap.alloc_rate_bps == 1e9);
	assert_int_equal(b.heap.leaks.definite_bytes, 4096);
	assert_int_equal(b.heap.leaks.definite_blocks, 4);
	assert_int_equal(b.heap.leaks.reachable_blocks, 7);
	assert_string_equal(b.heap.top[0].name, "build_report");
	assert_true(b.has_checks);
	assert_false(b.checks.passed);
	assert_string_equal(b.checks.items[0].verdict, "fail");
	/* and the same text again */
	size_t len2;
	char *text2 = dump(&b, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(text, text2, len);
	free(text);
	free(text2);
	runsummary_release(&a);
	runsummary_release(&b);
	runsummary_release(&b); /* a zeroed struct is fine */
}

static void test_non_finite_is_null(void **state)
{
	(void)state;
	struct runsummary a = {0}, b;
	a.version = 1;
	a.duration_s = 0.0 / 0.0;
	a.has_mem = true;
	a.mem.growth_mb_per_hour = 1.0 / 0.0;
	size_t len;
	char *text = dump(&a, &len);
	assert_non_null(strstr(text, "\"duration_s\": null"));
	assert_int_equal(runsummary_parse(text, len, &b, NULL), 0);
	assert_true(b.duration_s == 0 && b.mem.growth_mb_per_hour == 0 && b.has_mem);
	free(text);
	runsummary_release(&b);
}

static void bad(const char *text, const char *want_in_msg)
{
	struct runsummary s;
	memset(&s, 0xa5, sizeof(s));
	struct diag d = {0};
	int rc = runsummary_parse(text, strlen(text), &s, &d);
	if (rc != KILN_ERR_FORMAT || !strstr(d.msg, want_in_msg))
		fail_msg("'%s': rc %d, message '%s', want '%s'", text, rc, d.msg, want_in_msg);
	struct runsummary zero;
	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(&s, &zero, sizeof(s));
}

static void test_malformed(void **state)
{
	(void)state;
	bad("", "summary.json");
	bad("not json", "summary.json");
	bad("[1,2]", "not a JSON object");
	bad("{}", "no version");
	bad("{\"version\": 99}", "version 99");
	bad("{\"version\": 0}", "version 0");
	bad("{\"version\": 1, \"name\": 3}", "name should be a string");
	bad("{\"version\": 1, \"cpu\": 3}", "cpu should be an object");
	bad("{\"version\": 1, \"cpu\": {\"samples\": -1}}", "cpu.samples");
	bad("{\"version\": 1, \"cpu\": {\"samples\": 1.5}}", "cpu.samples");
	bad("{\"version\": 1, \"cpu\": {\"top\": [{\"name\": \"a\"}, 7]}}", "cpu.top");
	bad("{\"version\": 1, \"cpu\": {\"top\": [{\"name\": \"a\", \"self_pct\": \"x\"}]}}", "top.self_pct");
	bad("{\"version\": 1, \"command\": [\"a\", 1]}", "command");
	bad("{\"version\": 1, \"checks\": {\"passed\": 1}}", "checks.passed");
	bad("{\"version\": 1, \"load_exit\": 99999999999}", "load_exit");
	bad("{\"version\": 1, \"name\": \"a\", \"name\": \"b\"}", "duplicate");
}

static void test_tolerant(void **state)
{
	(void)state;
	const char *text = "{\"version\": 1, \"future_key\": {\"x\": [1]}, \"name\": null,"
			   " \"mem\": {\"peak_rss\": 5, \"new\": true}, \"heap\": null}";
	struct runsummary s;
	assert_int_equal(runsummary_parse(text, strlen(text), &s, NULL), 0);
	assert_null(s.name);
	assert_true(s.has_mem);
	assert_int_equal(s.mem.peak_rss, 5);
	assert_false(s.has_heap);
	runsummary_release(&s);
}

static void test_dir_files(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-runsummary-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct runsummary a, b;
	fill(&a);
	assert_int_equal(runsummary_write_dir(&a, dir), 0);
	assert_int_equal(runsummary_read(dir, &b, NULL), 0);
	assert_string_equal(b.name, "demo-server");
	runsummary_release(&b);
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, RUNSUMMARY_FILE);
	assert_int_equal(runsummary_read(path, &b, NULL), 0);
	assert_int_equal(b.cpu.ntop, 2);
	runsummary_release(&b);
	unlink(path);
	assert_int_equal(runsummary_read(dir, &b, NULL), -ENOENT);
	assert_int_equal(runsummary_write_dir(&a, "/nonexistent-dir-kiln"), -ENOENT);
	rmdir(dir);
	runsummary_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_non_finite_is_null),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_tolerant),
		cmocka_unit_test(test_dir_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
