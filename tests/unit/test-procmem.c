/* test-procmem: kiln mem's library: parsing canned /proc and cgroup text
 * (status, statm, stat, smaps_rollup, smaps, cgroup, mountinfo, pressure),
 * the breakdown, the exact least-squares slope, the verdict thresholds and
 * a well-formed chart. Every input is a string: no live /proc is needed. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analyze/memtrend.h"
#include "base/error.h"
#include "collect/procmem.h"
#include "render/memchart.h"

#define BIT(m) PROCMEM_BIT(m)
#define MiB (1024ULL * 1024)

static const char status_text[] =
	"Name:\tserver (x)\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\n"
	"VmPeak:\t  20000 kB\nVmSize:\t   16000 kB\nVmHWM:\t    9000 kB\nVmRSS:\t    8000 kB\n"
	"RssAnon:\t    5000 kB\nRssFile:\t    2900 kB\nRssShmem:\t     100 kB\n"
	"VmData:\t    6000 kB\nVmStk:\t     132 kB\nVmExe:\t      20 kB\nVmLib:\t    1528 kB\n"
	"VmSwap:\t      64 kB\nThreads:\t3\n";

static void test_status(void **state)
{
	(void)state;
	struct procmem_sample s = {0};
	assert_int_equal(procmem_parse_status(status_text, &s), 0);
	assert_int_equal(s.rss, 8000 * 1024);
	assert_int_equal(s.rss_anon, 5000 * 1024);
	assert_int_equal(s.rss_file, 2900 * 1024);
	assert_int_equal(s.rss_shmem, 100 * 1024);
	assert_int_equal(s.vss, 16000 * 1024);
	assert_int_equal(s.data, 6000 * 1024);
	assert_int_equal(s.stack, 132 * 1024);
	assert_int_equal(s.text, 20 * 1024);
	assert_int_equal(s.libs, 1528 * 1024);
	assert_int_equal(s.swap, 64 * 1024);
	assert_int_equal(s.hwm, 9000 * 1024);
	assert_int_equal(s.threads, 3);
	assert_int_equal(s.state, 'S');
	assert_true(s.have & BIT(PROCMEM_LIBS));
	assert_false(s.have & BIT(PROCMEM_HEAP));
}

static void test_status_missing_fields(void **state)
{
	(void)state;
	/* a zombie's status: no Vm lines; nothing is reported as zero */
	struct procmem_sample s = {0};
	assert_int_equal(procmem_parse_status("Name:\tx\nState:\tZ (zombie)\n", &s), 0);
	assert_int_equal(s.state, 'Z');
	assert_false(s.have & BIT(PROCMEM_RSS));
	/* statm fills what status lacked, and only that */
	assert_int_equal(procmem_parse_statm("100 50 10 5 0 30 0\n", 4096, &s), 0);
	assert_int_equal(s.rss, 50 * 4096);
	assert_int_equal(s.vss, 100 * 4096);
	assert_int_equal(s.text, 5 * 4096);
	assert_int_equal(s.data, 30 * 4096);
	struct procmem_sample t = {0};
	procmem_parse_status(status_text, &t);
	procmem_parse_statm("100 50 10 5 0 30 0\n", 4096, &t);
	assert_int_equal(t.rss, 8000 * 1024);
	assert_int_equal(procmem_parse_statm("garbage", 4096, &t), KILN_ERR_FORMAT);
	assert_int_equal(procmem_parse_status("", &t), KILN_ERR_FORMAT);
}

static void test_rollup_and_stat(void **state)
{
	(void)state;
	struct procmem_sample s = {0};
	const char *rollup = "55894a07a000-7ffdb74f3000 ---p 00000000 00:00 0   [rollup]\n"
			     "Rss:                1764 kB\nPss:                 305 kB\nPss_Anon:  112 kB\n"
			     "Anonymous:           112 kB\nSwap:                  8 kB\nSwapPss: 8 kB\n";
	assert_int_equal(procmem_parse_smaps_rollup(rollup, &s), 0);
	assert_int_equal(s.pss, 305 * 1024);
	assert_int_equal(s.rss, 1764 * 1024);
	assert_int_equal(s.rss_anon, 112 * 1024);
	assert_int_equal(s.swap, 8 * 1024);
	/* a name with spaces and ')' must not shift the fields */
	const char *stat = "42 (a) b (c) S 1 42 42 0 -1 4194560 1234 99 7 3 10 20 0 0 20 0 3 0 100 16384000 2000\n";
	assert_int_equal(procmem_parse_stat(stat, &s), 0);
	assert_int_equal(s.minflt, 1234);
	assert_int_equal(s.majflt, 7);
	assert_int_equal(procmem_parse_stat("42 (x", &s), KILN_ERR_FORMAT);
	struct procmem_sample m = {0};
	assert_int_equal(procmem_parse_meminfo("MemTotal:  1000 kB\nMemFree: 5 kB\nMemAvailable:   400 kB\n", &m), 0);
	assert_int_equal(m.mem_total, 1000 * 1024);
	assert_int_equal(m.mem_available, 400 * 1024);
}

static void test_cgroup_files(void **state)
{
	(void)state;
	char *v1, *v2;
	const char *hybrid = "9:name=systemd:/\n4:memory:/process_api/ddda\n3:cpu,cpuacct:/\n0::/user.slice\n";
	assert_int_equal(procmem_parse_cgroup(hybrid, &v1, &v2), 0);
	assert_string_equal(v1, "/process_api/ddda");
	assert_string_equal(v2, "/user.slice");
	free(v1);
	free(v2);
	assert_int_equal(procmem_parse_cgroup("0::/system.slice/x.service\n", &v1, &v2), 0);
	assert_null(v1);
	assert_string_equal(v2, "/system.slice/x.service");
	free(v2);
	assert_int_equal(procmem_parse_cgroup("5:cpu,memory,pids:/a\n", &v1, &v2), 0);
	assert_string_equal(v1, "/a");
	free(v1);
	assert_int_equal(procmem_parse_cgroup("junk\n", &v1, &v2), KILN_ERR_FORMAT);

	uint64_t v;
	assert_int_equal(procmem_parse_cgroup_value("max\n", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(procmem_parse_cgroup_value("9223372036854771712\n", &v), 0);
	assert_true(v == UINT64_MAX); /* v1's "unlimited" */
	assert_int_equal(procmem_parse_cgroup_value("536870912\n", &v), 0);
	assert_int_equal(v, 536870912);
	assert_int_equal(procmem_parse_cgroup_value("x\n", &v), KILN_ERR_FORMAT);

	struct procmem_mounts mt;
	const char *mi = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
			 "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
			 "35 31 0:32 /docker/abc /sys/fs/cgroup/mem\\040ory rw,relatime shared:5 - cgroup cgroup rw,memory\n"
			 "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
	assert_int_equal(procmem_parse_mountinfo(mi, &mt), 0);
	assert_string_equal(mt.v1_dir, "/sys/fs/cgroup/mem ory");
	assert_string_equal(mt.v1_root, "/docker/abc");
	assert_string_equal(mt.v2_dir, "/sys/fs/cgroup/unified");
	assert_string_equal(mt.v2_root, "/");
	procmem_mounts_release(&mt);

	struct procmem_psi p;
	assert_int_equal(procmem_parse_pressure("some avg10=1.50 avg60=0.25 avg300=0.00 total=123\n"
						"full avg10=0.75 avg60=0.00 avg300=0.00 total=45\n", &p), 0);
	assert_true(p.have_some && p.have_full);
	assert_true(p.some10 == 1.5 && p.some60 == 0.25 && p.full10 == 0.75);
	assert_int_equal(procmem_parse_pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", &p), 0);
	assert_false(p.have_full);
	assert_int_equal(procmem_parse_pressure("", &p), KILN_ERR_FORMAT);
}

static const char smaps_text[] =
	"55e4c0a00000-55e4c0a01000 r--p 00000000 08:01 123   /usr/bin/server\n"
	"Size:                  4 kB\nRss:                   4 kB\nPss:                   4 kB\n"
	"Anonymous:             0 kB\nSwap:                  0 kB\nVmFlags: rd mr mw me dw\n"
	"55e4c1000000-55e4c1100000 rw-p 00000000 00:00 0      [heap]\n"
	"Rss:                 800 kB\nPss:                 800 kB\nAnonymous:           800 kB\nSwap: 16 kB\n"
	"7f0000000000-7f0000001000 ---p 00000000 00:00 0 \n"
	"Rss:                   0 kB\n"
	"7f0000001000-7f0000801000 rw-p 00000000 00:00 0 \n"
	"Rss:                  40 kB\nPss:                  40 kB\nAnonymous:            40 kB\n"
	"7f0001000000-7f0005000000 rw-p 00000000 00:00 0 \n"
	"Rss:                2048 kB\nPss:                2048 kB\nAnonymous:          2048 kB\n"
	"7f0005000000-7f0005100000 rw-p 00000000 00:00 0    [anon:glibc: malloc arena]\n"
	"Rss:                 100 kB\n"
	"7f1000000000-7f1000028000 r--p 00000000 08:01 77    /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"Rss:                 160 kB\nPss:                  20 kB\n"
	"7f1000028000-7f10001bd000 r-xp 00028000 08:01 77    /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"Rss:                 600 kB\nPss:                  60 kB\n"
	"7f2000000000-7f2000100000 rw-s 00000000 00:05 9     /dev/shm/x (deleted)\n"
	"Rss:                  64 kB\n"
	"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0     [stack]\n"
	"Rss:                  12 kB\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0   [vsyscall]\n"
	"Rss:                   0 kB\n";

static void test_smaps_heap(void **state)
{
	(void)state;
	struct procmem_maps m = {0};
	assert_int_equal(procmem_parse_smaps(smaps_text, &m), 0);
	assert_int_equal(m.n, 11);
	assert_string_equal(m.maps[1].name, "[heap]");
	assert_int_equal(m.maps[1].rss, 800 * 1024);
	assert_int_equal(m.maps[1].swap, 16 * 1024);
	assert_string_equal(m.maps[2].name, "");
	assert_string_equal(m.maps[5].name, "[anon:glibc: malloc arena]");
	assert_true(m.maps[10].start == 0xffffffffff600000ULL);
	/* heap = [heap] + anonymous private: 800 + 0 + 40 + 2048 + 100; not the shared file */
	assert_int_equal(procmem_maps_heap(&m), (800 + 40 + 2048 + 100) * 1024);
	/* parsing again replaces */
	assert_int_equal(procmem_parse_smaps("", &m), 0);
	assert_int_equal(m.n, 0);
	assert_int_equal(procmem_parse_smaps("zz-yy rw-p\n", &m), KILN_ERR_FORMAT);
	procmem_maps_release(&m);
}

static const struct procmem_part *find_part(const struct procmem_breakdown *b, const char *name)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->parts[i].name, name))
			return &b->parts[i];
	return NULL;
}

static void test_breakdown(void **state)
{
	(void)state;
	struct procmem_maps m = {0};
	assert_int_equal(procmem_parse_smaps(smaps_text, &m), 0);
	/* without stack pointers: the mapping above a small guard page is a thread stack */
	m.threads = calloc(2, sizeof(*m.threads));
	m.nthreads = 2;
	m.threads[0].tid = 42;
	m.threads[1].tid = 43;
	struct procmem_breakdown b;
	procmem_breakdown_build(&m, &b);
	assert_false(b.stacks_by_sp);
	const struct procmem_part *libc = find_part(&b, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	assert_non_null(libc);
	assert_int_equal(libc->kind, PROCMEM_K_LIB);
	assert_int_equal(libc->rss, 760 * 1024);
	assert_int_equal(libc->pss, 80 * 1024);
	assert_int_equal(libc->nmaps, 2);
	const struct procmem_part *ts = find_part(&b, "[thread stack, by its guard page]");
	assert_non_null(ts);
	assert_int_equal(ts->rss, 40 * 1024);
	const struct procmem_part *anon = find_part(&b, "[anonymous]");
	assert_non_null(anon);
	assert_int_equal(anon->rss, (2048 + 0) * 1024); /* the guard page is anonymous too */
	assert_int_equal(anon->nmaps, 2);
	assert_int_equal(find_part(&b, "[heap]")->kind, PROCMEM_K_HEAP);
	assert_int_equal(find_part(&b, "[stack] main thread")->kind, PROCMEM_K_STACK);
	assert_int_equal(find_part(&b, "/usr/bin/server")->kind, PROCMEM_K_FILE);
	assert_int_equal(find_part(&b, "[vsyscall]")->kind, PROCMEM_K_SPECIAL);
	/* sorted by rss, largest first */
	assert_string_equal(b.parts[0].name, "[anonymous]");
	for (size_t i = 1; i < b.n; i++)
		assert_true(b.parts[i - 1].rss >= b.parts[i].rss);
	assert_int_equal(b.rss, (4 + 800 + 40 + 2048 + 100 + 760 + 64 + 12) * 1024);
	procmem_breakdown_release(&b);

	/* with a stack pointer, the stack is named by its thread */
	uint64_t sp;
	assert_int_equal(procmem_parse_syscall_sp("202 0x7f0000000f00 0x80 0x0 0x0 0x0 0x0 0x7f0000800ff0 0x7f1000030000\n",
						  &sp), 0);
	assert_true(sp == 0x7f0000800ff0ULL);
	assert_int_equal(procmem_parse_syscall_sp("-1 0x7ffd00000100 0x7f1000030000\n", &sp), 0);
	assert_true(sp == 0x7ffd00000100ULL);
	assert_int_equal(procmem_parse_syscall_sp("running\n", &sp), KILN_ERR_FORMAT);
	m.threads[1].sp = 0x7f0000800ff0ULL;
	strcpy(m.threads[1].comm, "worker");
	procmem_breakdown_build(&m, &b);
	assert_true(b.stacks_by_sp);
	ts = find_part(&b, "[stack:43] worker");
	assert_non_null(ts);
	assert_int_equal(ts->kind, PROCMEM_K_THREAD_STACK);
	procmem_breakdown_release(&b);
	procmem_maps_release(&m);
}

static void test_fit_exact(void **state)
{
	(void)state;
	double x[] = {0, 1, 2, 3, 4}, y[] = {5, 8, 11, 14, 17};
	double slope, icept;
	assert_int_equal(memtrend_fit(x, y, 5, &slope, &icept), 0);
	assert_true(slope == 3.0);
	assert_true(icept == 5.0);
	/* a noisy symmetric series: the fit of (0,0) (1,2) (2,1) (3,3) is 0.8x + 0.3 */
	double x2[] = {0, 1, 2, 3}, y2[] = {0, 2, 1, 3};
	assert_int_equal(memtrend_fit(x2, y2, 4, &slope, &icept), 0);
	assert_true(fabs(slope - 0.8) < 1e-12);
	assert_true(fabs(icept - 0.3) < 1e-12);
	/* large t and y (a day in, 10 GiB) lose nothing: centred sums */
	double x3[] = {86400, 86401, 86402}, y3[] = {10737418240.0, 10737418240.0 + 4096, 10737418240.0 + 8192};
	assert_int_equal(memtrend_fit(x3, y3, 3, &slope, &icept), 0);
	assert_true(slope == 4096.0);
	assert_int_equal(memtrend_fit(x, y, 1, &slope, &icept), -EINVAL);
	double same[] = {2, 2, 2};
	assert_int_equal(memtrend_fit(same, y, 3, &slope, &icept), -EINVAL);
}

/* n samples, one a second, rss = base + rate*t (bytes per second) */
static struct procmem_sample *series(size_t n, double base, double rate)
{
	struct procmem_sample *s = calloc(n, sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		s[i].t = (double)i;
		s[i].rss = (uint64_t)(base + rate * (double)i);
		s[i].have = BIT(PROCMEM_RSS);
	}
	return s;
}

static void test_verdicts(void **state)
{
	(void)state;
	struct memtrend_options o;
	memtrend_options_init(&o);
	struct memtrend mt;
	/* 10 MB/hour is 2777.8 bytes/s: just above and just below */
	struct procmem_sample *s = series(100, 100e6, 3000);
	assert_int_equal(memtrend_analyze(s, 100, &o, &mt), 0);
	assert_int_equal(mt.verdict, MEMTREND_LEAK);
	assert_true(fabs(mt.mb_per_hour - 10.8) < 1e-6);
	assert_true(mt.peak_time == 99);
	free(s);
	s = series(100, 100e6, 2500);
	memtrend_analyze(s, 100, &o, &mt);
	assert_int_equal(mt.verdict, MEMTREND_STABLE);
	free(s);
	s = series(100, 100e6, -3000);
	memtrend_analyze(s, 100, &o, &mt);
	assert_int_equal(mt.verdict, MEMTREND_SHRINKING);
	assert_true(mt.peak_time == 0);
	free(s);
	/* grows fast, then drops to half: grew, then released */
	s = series(100, 100e6, 1e6);
	for (size_t i = 80; i < 100; i++)
		s[i].rss = 90e6;
	memtrend_analyze(s, 100, &o, &mt);
	assert_int_equal(mt.verdict, MEMTREND_RELEASED);
	assert_int_equal(mt.peak_rss, 179e6);
	assert_true(mt.current_pct_of_peak < 51 && mt.current_pct_of_peak > 50);
	free(s);
	/* too short: two samples, or under a second */
	s = series(2, 1e6, 1e6);
	memtrend_analyze(s, 2, &o, &mt);
	assert_int_equal(mt.verdict, MEMTREND_TOO_SHORT);
	free(s);
	assert_int_equal(memtrend_analyze(NULL, 0, &o, &mt), KILN_ERR_EMPTY);
	/* the cgroup limit: 95% used is "near"; hours to the limit from the slope */
	s = series(10, 95 * MiB, 1000);
	for (size_t i = 0; i < 10; i++) {
		s[i].cg_usage = s[i].rss;
		s[i].cg_limit = 100 * MiB;
		s[i].have |= BIT(PROCMEM_CG_USAGE) | BIT(PROCMEM_CG_LIMIT);
	}
	memtrend_analyze(s, 10, &o, &mt);
	assert_true(mt.have_cgroup && mt.near_limit);
	assert_true(mt.cg_pct > 95 && mt.cg_pct < 96);
	assert_true(fabs(mt.hours_to_limit - (double)(100 * MiB - s[9].rss) / 1000 / 3600) < 1e-9);
	/* no limit: never "near" */
	for (size_t i = 0; i < 10; i++)
		s[i].cg_limit = UINT64_MAX;
	memtrend_analyze(s, 10, &o, &mt);
	assert_false(mt.near_limit);
	assert_true(mt.hours_to_limit < 0);
	free(s);
}

static void test_chart(void **state)
{
	(void)state;
	double t[] = {0, 1, 2, 3}, rss[] = {1 * MiB, 2 * MiB, 4 * MiB, 3 * MiB}, heap[] = {0.5 * MiB, NAN, 2 * MiB, 1 * MiB};
	struct memchart_series se[] = {{"RSS", "#1f77b4", rss}, {"heap <&>", "#2ca02c", heap}};
	struct memchart c = {.title = "t", .t = t, .n = 4, .series = se, .nseries = 2, .have_peak = true,
			     .peak_t = 2, .peak_y = 4 * MiB, .have_trend = true, .trend_slope = 1e6, .trend_intercept = 1e6};
	char *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(memchart_write_svg(&c, f), 0);
	fclose(f);
	f = open_memstream(&buf2, &len2);
	assert_int_equal(memchart_write_svg(&c, f), 0);
	fclose(f);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len); /* reproducible */
	assert_non_null(strstr(buf, "<svg "));
	assert_non_null(strstr(buf, "</svg>\n"));
	assert_non_null(strstr(buf, "heap &lt;&amp;&gt;"));
	assert_non_null(strstr(buf, "class=\"peak\""));
	assert_non_null(strstr(buf, "class=\"trend\""));
	assert_non_null(strstr(buf, "4 MiB"));
	assert_null(strstr(buf, "nan"));
	/* the NaN splits the heap line in two */
	const char *heapline = strstr(buf, "stroke=\"#2ca02c\" d=\"");
	assert_non_null(heapline);
	int moves = 0;
	for (const char *q = heapline + 20; *q && *q != '"'; q++)
		moves += *q == 'M';
	assert_int_equal(moves, 2);
	free(buf);
	free(buf2);
	c.n = 0;
	assert_int_equal(memchart_write_svg(&c, stdout), KILN_ERR_EMPTY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_missing_fields),
		cmocka_unit_test(test_rollup_and_stat),
		cmocka_unit_test(test_cgroup_files),
		cmocka_unit_test(test_smaps_heap),
		cmocka_unit_test(test_breakdown),
		cmocka_unit_test(test_fit_exact),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_chart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
