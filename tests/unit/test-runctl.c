/* test-runctl: kiln run's readiness specs and HTTP status lines, the stop
 * escalation against a real child, and runfigures' lock-frame rule and
 * heap fragmentation. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "analyze/runfigures.h"
#include "collect/runctl.h"

static int parse(const char *s, struct runctl_ready *r)
{
	struct diag d = {0};
	int rc = runctl_ready_parse(s, strlen(s), r, &d);
	if (rc)
		assert_true(d.msg[0] != 0);
	return rc;
}

static void test_ready_specs(void **state)
{
	(void)state;
	struct runctl_ready r;
	assert_int_equal(parse("tcp:8080", &r), 0);
	assert_int_equal(r.kind, RUNCTL_READY_TCP);
	assert_string_equal(r.host, "127.0.0.1");
	assert_int_equal(r.port, 8080);
	assert_int_equal(parse("tcp:localhost:99", &r), 0);
	assert_string_equal(r.host, "localhost");
	assert_int_equal(r.port, 99);
	assert_int_equal(parse("http:http://127.0.0.1:8080/health?x=1", &r), 0);
	assert_int_equal(r.kind, RUNCTL_READY_HTTP);
	assert_int_equal(r.port, 8080);
	assert_string_equal(r.path, "/health?x=1");
	assert_int_equal(parse("http://example.org", &r), 0);
	assert_int_equal(r.port, 80);
	assert_string_equal(r.path, "/");
	assert_string_equal(r.host, "example.org");
	assert_int_equal(parse("http:127.0.0.1:81/", &r), 0);
	assert_int_equal(r.port, 81);
	assert_int_equal(parse("delay:2.5", &r), 0);
	assert_int_equal(r.kind, RUNCTL_READY_DELAY);
	assert_true(r.delay == 2.5);
	static const char *const bad[] = {
		"tcp:", "tcp:0", "tcp:65536", "tcp:80x", "tcp:a b:80", "http:https://x/", "https://x/",
		"http://h:0/", "http://h:/", "http://h/a b", "delay:", "delay:-1", "delay:x", "ftp:1", "", "8080",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(parse(bad[i], &r), KILN_ERR_FORMAT);
}

static void test_http_status(void **state)
{
	(void)state;
	assert_int_equal(runctl_http_status("HTTP/1.1 200 OK\r\n", 17), 200);
	assert_int_equal(runctl_http_status("HTTP/1.0 302 Found\r\n", 20), 302);
	assert_int_equal(runctl_http_status("HTTP/1.1 503\r\n", 14), 503);
	assert_int_equal(runctl_http_status("HTTP/1.1 20", 11), -1);
	assert_int_equal(runctl_http_status("SSH-2.0-OpenSSH", 15), -1);
	assert_int_equal(runctl_http_status("HTTP/1.1 2000 OK", 16), -1);
	assert_int_equal(runctl_http_status("HTTP/1.1 abc OK", 15), -1);
}

static void test_probe_refused(void **state)
{
	(void)state;
	struct runctl_ready r;
	assert_int_equal(parse("tcp:1", &r), 0);
	int st = -1;
	assert_int_equal(runctl_probe(&r, 200, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(parse("delay:0", &r), 0);
	assert_int_equal(runctl_probe(&r, 200, &st), 1);
}

/* A child ignoring SIGINT ends by SIGTERM once its timeout has passed. */
static void test_stop_escalates(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		signal(SIGINT, SIG_IGN);
		pause();
		_exit(0);
	}
	setpgid(pid, pid);
	usleep(50000);
	struct runctl_stop s;
	runctl_stop_begin(&s, pid, true, 0.1, SIGINT, 0);
	assert_int_equal(s.last_signal, SIGINT);
	runctl_stop_step(&s, 0.05); /* not yet due */
	assert_int_equal(s.last_signal, SIGINT);
	usleep(50000);
	int status;
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0); /* SIGINT was ignored */
	runctl_stop_step(&s, 0.2);
	assert_int_equal(s.last_signal, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	runctl_stop_step(&s, 0.4);
	assert_int_equal(s.last_signal, SIGKILL);
	runctl_stop_step(&s, 9);
	assert_int_equal(s.last_signal, SIGKILL);
}

static void test_lock_frames(void **state)
{
	(void)state;
	static const char *const yes[] = {"futex_wait_queue", "__futex_abstimed_wait_common", "__lll_lock_wait",
					  "pthread_mutex_lock@@GLIBC_2.2.5", "___pthread_cond_wait", "sem_wait",
					  "pthread_rwlock_wrlock"};
	static const char *const no[] = {"main", "schedule", "do_nanosleep", "pthread_create", "read", ""};
	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		assert_true(runfigures_is_lock_frame(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		assert_false(runfigures_is_lock_frame(no[i], strlen(no[i])));
}

static void test_seconds_and_locks(void **state)
{
	(void)state;
	struct profile p;
	profile_init(&p);
	/* one sample type (samples/count), its values read as nanoseconds */
	static const char lockstack[] = "main;worker;pthread_mutex_lock;__lll_lock_wait;futex_wait";
	static const char readstack[] = "main;worker;read";
	assert_int_equal(profile_add_folded(&p, lockstack, strlen(lockstack), 3000000000), 0);
	assert_int_equal(profile_add_folded(&p, readstack, strlen(readstack), 1000000000), 0);
	double total = 0, lock = 0;
	assert_int_equal(runfigures_seconds(&p, 0, &total, &lock), 0);
	assert_true(total > 3.999 && total < 4.001);
	assert_true(lock > 2.999 && lock < 3.001);
	assert_true(runfigures_seconds(&p, 5, &total, &lock) < 0);
	profile_release(&p);
}

static void test_heap_frag(void **state)
{
	(void)state;
	struct heappoint pts[3] = {{0, 100, 0}, {1000, 600, 1000}, {2000, 300, 1000}};
	struct heapstats h;
	memset(&h, 0, sizeof(h));
	h.series = pts;
	h.nseries = 3;
	h.peak_bytes = 600;
	h.peak_time = 1500;
	assert_true(runfigures_heap_frag_pct(&h) > 39.99 && runfigures_heap_frag_pct(&h) < 40.01);
	h.peak_time = 500; /* no RSS yet at the peak */
	assert_true(runfigures_heap_frag_pct(&h) == -1);
	assert_true(runfigures_heap_growth_bph(&h) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_specs),     cmocka_unit_test(test_http_status),
		cmocka_unit_test(test_probe_refused),   cmocka_unit_test(test_stop_escalates),
		cmocka_unit_test(test_lock_frames),     cmocka_unit_test(test_seconds_and_locks),
		cmocka_unit_test(test_heap_frag),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
