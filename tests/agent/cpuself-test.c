/* cpuself-test: drives the agent's CPU profile backend (src/agent/cpuself.c)
 * without the HTTP server: two threads spin in cpuself_hot_spin (built -O2
 * without frame pointers) while another asks for profiles. Prints key=value
 * lines for tests/e2e/t1220-agent-cpu.sh; the backend itself prints nothing.
 * RSS figures are RssAnon (heap, stacks), not the libraries' file pages. */

/* Usage: cpuself-test profile OUT.pb.gz SECONDS [HZ]  (and a concurrent call)
 *        cpuself-test cancel OUT.pb.gz AFTER_SECONDS  (a 10 s profile cut short)
 *        cpuself-test repeat N SECONDS_EACH          (RSS, fds, threads after N)
 *        cpuself-test warm N SECONDS_EACH OUT.pb.gz   (agent_cpu_trim keeping it warm)
 *        cpuself-test fork                            (a fork during a profile)
 *        cpuself-test once                            (one 1 s profile: rc) */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"

void cpuself_hot_spin(void);
int agent_cpu_trim(int release_now); /* hidden in libkiln.so; the harness links the object */

static atomic_int stop_spinning;
static volatile uint64_t spin_sink;

__attribute__((noinline)) void cpuself_hot_spin(void)
{
	uint64_t x = spin_sink;
	for (int i = 0; i < 2000000; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	spin_sink = x;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void *spin_thread(void *arg)
{
	char name[16];
	snprintf(name, sizeof(name), "spin-%d", (int)(intptr_t)arg);
	pthread_setname_np(pthread_self(), name);
	while (!atomic_load(&stop_spinning))
		cpuself_hot_spin();
	return NULL;
}

static pthread_t spinners[2];

static void start_spinners(void)
{
	for (int i = 0; i < 2; i++)
		pthread_create(&spinners[i], NULL, spin_thread, (void *)(intptr_t)(i + 1));
}

static void stop_spinners(void)
{
	atomic_store(&stop_spinning, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(spinners[i], NULL);
}

static int write_body(const char *path, const struct agent_body *b)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = fwrite(b->data, 1, b->len, f);
	return fclose(f) == 0 && n == b->len ? 0 : -1;
}

/* A second caller while a profile is in progress. */
struct second_call {
	double delay, took;
	int rc;
};

static void *second_caller(void *arg)
{
	struct second_call *sc = arg;
	sleep_s(sc->delay);
	struct agent_body b = {0};
	double t = now();
	sc->rc = agent_cpu_profile(1, 99, NULL, &b);
	sc->took = now() - t;
	free(b.data);
	return NULL;
}

/* Sets *flag after a delay. */
struct canceller {
	double delay;
	volatile int flag;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;
	sleep_s(c->delay);
	c->flag = 1;
	return NULL;
}

static int mode_profile(const char *out, unsigned seconds, unsigned hz)
{
	start_spinners();
	sleep_s(0.1);
	struct second_call sc = {.delay = seconds / 2.0, .rc = 1};
	pthread_t t;
	pthread_create(&t, NULL, second_caller, &sc);
	struct agent_body b = {0};
	errno = EDOM;
	double t0 = now(), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	int rc = agent_cpu_profile(seconds, hz, NULL, &b);
	double wall = now() - t0, cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	int errno_kept = errno == EDOM;
	pthread_join(t, NULL);
	stop_spinners();
	printf("rc=%d\nbytes=%zu\nwall=%.3f\nprofiler_cpu_ms=%.1f\nerrno_kept=%d\nbusy_rc=%d\nbusy_ms=%.3f\n",
	       rc, b.len, wall, cpu * 1e3, errno_kept, sc.rc, sc.took * 1e3);
	if (rc == 0 && write_body(out, &b))
		printf("write_failed=1\n");
	free(b.data);
	return rc == 0 ? 0 : 1;
}

static int mode_cancel(const char *out, double after)
{
	start_spinners();
	struct canceller c = {.delay = after};
	pthread_t t;
	pthread_create(&t, NULL, cancel_later, &c);
	struct agent_body b = {0};
	double t0 = now();
	int rc = agent_cpu_profile(10, 99, &c.flag, &b);
	double wall = now() - t0;
	pthread_join(t, NULL);
	stop_spinners();
	printf("rc=%d\nbytes=%zu\nwall=%.3f\n", rc, b.len, wall);
	if (rc == 0 && write_body(out, &b))
		printf("write_failed=1\n");
	free(b.data);
	return rc == 0 ? 0 : 1;
}

static long status_field(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", "..", and the directory's own fd */
}

static int mode_repeat(int n, double each)
{
	start_spinners();
	int fds0 = count_fds();
	long threads0 = status_field("Threads");
	long rss1 = 0, rss_max = 0;
	int failed = 0;
	for (int i = 0; i < n; i++) {
		struct canceller c = {.delay = each};
		pthread_t t;
		pthread_create(&t, NULL, cancel_later, &c);
		struct agent_body b = {0};
		int rc = agent_cpu_profile(2, 99, &c.flag, &b);
		pthread_join(t, NULL);
		if (rc != 0 || b.len == 0)
			failed++;
		free(b.data);
		long rss = status_field("RssAnon");
		printf("%s%ld%s", i ? "," : "rss_trace_kb=", rss, i == n - 1 ? "\n" : "");
		if (i == 0)
			rss1 = rss;
		if (rss > rss_max)
			rss_max = rss;
	}
	long rssn = status_field("RssAnon");
	int fdsn = count_fds();
	long threadsn = status_field("Threads");
	stop_spinners();
	printf("profiles=%d\nfailed=%d\nrss_first_kb=%ld\nrss_last_kb=%ld\nrss_max_kb=%ld\n"
	       "fds_before=%d\nfds_after=%d\nthreads_before=%ld\nthreads_after=%ld\n",
	       n, failed, rss1, rssn, rss_max, fds0, fdsn, threads0, threadsn);
	return failed ? 1 : 0;
}

/* Profiles with the symbolizer kept warm (as the agent's tick thread
 * asks), then released: the profiler's CPU per profile, RSS, fds. */
static int mode_warm(int n, double each, const char *out)
{
	start_spinners();
	int fds0 = count_fds();
	long rss0 = status_field("RssAnon");
	int trim_rc = agent_cpu_trim(0);
	double first_ms = 0, rest_ms = 0;
	int failed = 0;
	for (int i = 0; i < n; i++) {
		struct canceller c = {.delay = each};
		pthread_t t;
		pthread_create(&t, NULL, cancel_later, &c);
		struct agent_body b = {0};
		double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
		int rc = agent_cpu_profile(2, 99, &c.flag, &b);
		double ms = (clock_s(CLOCK_THREAD_CPUTIME_ID) - c0) * 1e3;
		pthread_join(t, NULL);
		if (i == 0)
			first_ms = ms;
		else
			rest_ms += ms;
		if (rc != 0 || b.len == 0)
			failed++;
		if (i == n - 1 && rc == 0 && write_body(out, &b))
			printf("write_failed=1\n");
		free(b.data);
		agent_cpu_trim(0); /* not idle long enough: keeps it */
	}
	long rss_warm = status_field("RssAnon");
	int fds_warm = count_fds();
	int release_rc = agent_cpu_trim(1);
	long rss_released = status_field("RssAnon");
	int fds_released = count_fds();
	stop_spinners();
	printf("profiles=%d\nfailed=%d\ntrim_rc=%d\nrelease_rc=%d\nfirst_cpu_ms=%.1f\nrest_cpu_ms_avg=%.1f\n"
	       "rss_before_kb=%ld\nrss_warm_kb=%ld\nrss_released_kb=%ld\nfds_before=%d\nfds_warm=%d\n"
	       "fds_released=%d\n",
	       n, failed, trim_rc, release_rc, first_ms, n > 1 ? rest_ms / (n - 1) : 0, rss0, rss_warm,
	       rss_released, fds0, fds_warm, fds_released);
	return failed ? 1 : 0;
}

static int count_perf_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char link[64];
		ssize_t len = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (len > 0) {
			link[len] = '\0';
			n += !strcmp(link, "anon_inode:[perf_event]");
		}
	}
	closedir(d);
	return n;
}

struct bg_profile {
	int rc;
	struct agent_body b;
};

static void *bg_profile_run(void *arg)
{
	struct bg_profile *bp = arg;
	bp->rc = agent_cpu_profile(2, 99, NULL, &bp->b);
	return NULL;
}

/* The host forks while a profile runs: the child must hold none of the
 * sampling fds and must be able to profile itself. */
static int mode_fork(void)
{
	start_spinners();
	struct bg_profile bp = {.rc = 1};
	pthread_t t;
	pthread_create(&t, NULL, bg_profile_run, &bp);
	sleep_s(0.7);
	int parent_perf_fds = count_perf_fds();
	pid_t pid = fork();
	if (pid == 0) {
		struct agent_body b = {0};
		int fds = count_perf_fds();
		int rc = agent_cpu_profile(1, 99, NULL, &b);
		printf("child_perf_fds=%d\nchild_rc=%d\nchild_bytes=%zu\n", fds, rc, b.len);
		fflush(stdout);
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	pthread_join(t, NULL);
	stop_spinners();
	printf("parent_perf_fds_during=%d\nparent_rc=%d\nparent_perf_fds_after=%d\nchild_status=%d\n",
	       parent_perf_fds, bp.rc, count_perf_fds(), status);
	free(bp.b.data);
	return 0;
}

static int mode_once(void)
{
	struct agent_body b = {0};
	int rc = agent_cpu_profile(1, 99, NULL, &b);
	printf("rc=%d\nbytes=%zu\n", rc, b.len);
	free(b.data);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && !strcmp(argv[1], "profile"))
		return mode_profile(argv[2], (unsigned)atoi(argv[3]), argc > 4 ? (unsigned)atoi(argv[4]) : 99);
	if (argc >= 4 && !strcmp(argv[1], "cancel"))
		return mode_cancel(argv[2], atof(argv[3]));
	if (argc >= 4 && !strcmp(argv[1], "repeat"))
		return mode_repeat(atoi(argv[2]), atof(argv[3]));
	if (argc >= 5 && !strcmp(argv[1], "warm"))
		return mode_warm(atoi(argv[2]), atof(argv[3]), argv[4]);
	if (argc >= 2 && !strcmp(argv[1], "fork"))
		return mode_fork();
	if (argc >= 2 && !strcmp(argv[1], "once"))
		return mode_once();
	fprintf(stderr, "usage: cpuself-test profile OUT SECONDS [HZ] | cancel OUT AFTER | repeat N EACH |\n"
			"       warm N EACH OUT | fork | once\n");
	return 2;
}
