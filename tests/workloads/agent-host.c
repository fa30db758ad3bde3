/* agent-host: the agent's test host: CPU in agent_host_hot_loop, a bounded
 * cache in agent_host_alloc_site (tag "cache"), a steady leak in
 * agent_host_leak_site (tag "leaky"). Invariant: its stdout depends only
 * on its options and the signals it gets, never on timing or on whether
 * the agent is loaded (see the usage comment below). */

/* agent-host [--seconds N] [--leak-kib-per-s K] [--start ADDR]
 *            [--fork-child SECONDS] [--close-fds-at SECONDS] [--exit-code N]
 * Runs until SIGTERM/SIGINT or --seconds. Prints "agent-host: running" once
 * set up, "agent-host: usr1" for each SIGUSR1 (its own handler), and one
 * summary line at the end. The tags and kiln_agent_start are looked up at
 * run time (dlsym), so the binary runs with or without libkiln.so; built
 * with -DAGENT_HOST_LINKED it calls them directly (-lkiln). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef AGENT_HOST_LINKED
#include "kiln/kiln.h"
#endif

static int (*tag_push)(const char *);
static int (*tag_pop)(void);
static int (*agent_start)(const char *, const char *);

static volatile sig_atomic_t stop_flag, usr1_count;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

volatile double hot_sink;

__attribute__((noinline)) double agent_host_hot_loop(double x, long n)
{
	for (long i = 0; i < n; i++)
		x = x * 1.0000001 + 1e-9 / (x + 1.0);
	return x;
}

#define CACHE_SLOTS 256
static void *cache[CACHE_SLOTS];
static unsigned cache_next;
static void **leaked;
static size_t nleaked, capleaked;

/* a bounded cache: each call replaces one entry (4 KiB .. 64 KiB) */
__attribute__((noinline)) void agent_host_alloc_site(unsigned i)
{
	size_t size = 4096 + (size_t)(i * 2654435761u % 61440u);
	char *p = malloc(size);
	if (!p)
		return;
	memset(p, (int)i, size);
	free(cache[cache_next]);
	cache[cache_next] = p;
	cache_next = (cache_next + 1) % CACHE_SLOTS;
}

/* never freed */
__attribute__((noinline)) void agent_host_leak_site(size_t size)
{
	char *p = malloc(size);
	if (!p)
		return;
	memset(p, 1, size);
	if (nleaked == capleaked) {
		size_t cap = capleaked ? 2 * capleaked : 1024;
		void **n = realloc(leaked, cap * sizeof *n);
		if (!n)
			return;
		leaked = n;
		capleaked = cap;
	}
	leaked[nleaked++] = p;
}

static void push(const char *t)
{
	if (tag_push)
		tag_push(t);
}

static void pop(void)
{
	if (tag_pop)
		tag_pop();
}

/* One 10 ms round: CPU, the cache, the leak, some untagged churn. */
static void round_of_work(unsigned i, double leak_kib_per_s, double *leak_debt)
{
	hot_sink = agent_host_hot_loop(hot_sink + 1.0, 200000);
	push("cache");
	agent_host_alloc_site(i);
	pop();
	*leak_debt += leak_kib_per_s * 1024 / 100;
	push("leaky");
	while (*leak_debt >= 16384) {
		agent_host_leak_site(16384);
		*leak_debt -= 16384;
	}
	pop();
	char *tmp = malloc(100 + i % 900);
	if (tmp) {
		tmp[0] = (char)i;
		hot_sink += tmp[0];
		free(tmp);
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop_flag)
		;
}

static void close_all_fds(void)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
		goto reopen;
#endif
	for (int fd = 3; fd < 65536; fd++)
		close(fd);
#ifdef SYS_close_range
reopen:
#endif
	/* as a daemon does: its own files take the lowest numbers */
	for (int k = 0; k < 4; k++)
		if (open("/dev/null", O_RDONLY) < 0)
			break;
}

int main(int argc, char **argv)
{
	double seconds = -1, leak = 512, fork_at = -1, close_at = -1;
	const char *start_addr = NULL;
	int exit_code = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--seconds") && v)
			seconds = atof(v), i++;
		else if (!strcmp(a, "--leak-kib-per-s") && v)
			leak = atof(v), i++;
		else if (!strcmp(a, "--start") && v)
			start_addr = v, i++;
		else if (!strcmp(a, "--fork-child") && v)
			fork_at = atof(v), i++;
		else if (!strcmp(a, "--close-fds-at") && v)
			close_at = atof(v), i++;
		else if (!strcmp(a, "--exit-code") && v)
			exit_code = atoi(v), i++;
		else {
			fprintf(stderr, "agent-host: unknown option %s\n", a);
			return 2;
		}
	}
#ifdef AGENT_HOST_LINKED
	tag_push = kiln_tag_push;
	tag_pop = kiln_tag_pop;
	agent_start = kiln_agent_start;
#else
	*(void **)&tag_push = dlsym(RTLD_DEFAULT, "kiln_tag_push");
	*(void **)&tag_pop = dlsym(RTLD_DEFAULT, "kiln_tag_pop");
	*(void **)&agent_start = dlsym(RTLD_DEFAULT, "kiln_agent_start");
#endif
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_DFL); /* a write to a closed socket would kill us */

	if (start_addr && agent_start) {
		int r = agent_start(start_addr, NULL);
		if (r < 0)
			fprintf(stderr, "agent-host: kiln_agent_start: %s\n", strerror(-r));
	}
	/* fill the cache first, so that its live heap stays flat from here */
	for (unsigned i = 0; i < CACHE_SLOTS; i++) {
		push("cache");
		agent_host_alloc_site(i);
		pop();
	}
	printf("agent-host: running\n");
	fflush(stdout);

	double t0 = now(), leak_debt = 0;
	int child_status = -1, usr1_seen = 0, closed = 0;
	for (unsigned i = 0; !stop_flag; i++) {
		double t = now() - t0;
		if (seconds >= 0 && t >= seconds)
			break;
		while (usr1_seen < usr1_count) {
			usr1_seen++;
			printf("agent-host: usr1\n");
			fflush(stdout);
		}
		if (fork_at >= 0 && t >= fork_at && child_status < 0) {
			pid_t pid = fork();
			if (pid == 0) {
				/* the child works for two seconds, then leaves */
				double c0 = now();
				for (unsigned k = 0; now() - c0 < 2; k++) {
					round_of_work(k, leak, &leak_debt);
					sleep_ms(10);
				}
				_exit(7);
			}
			int st = 0;
			if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st))
				child_status = WEXITSTATUS(st);
			else
				child_status = 255;
		}
		if (close_at >= 0 && t >= close_at && !closed) {
			close_all_fds();
			closed = 1;
		}
		round_of_work(i, leak, &leak_debt);
		sleep_ms(10);
	}
	while (usr1_seen < usr1_count) {
		usr1_seen++;
		printf("agent-host: usr1\n");
	}
	printf("agent-host: done, leaked %s, child %d, fds %s\n", nleaked ? "some" : "none", child_status,
	       closed ? "closed" : "kept");
	return exit_code;
}
