/* agent-idle: a host that allocates nothing of its own, to see what merely
 * loading libkiln.so costs it (tests/e2e/t1250-agent-lazy.sh, bench/agent).
 * Invariant: its first line is measured before it allocates anything, so
 * the figures there are the loaded libraries' alone. */

/* agent-idle [--start ADDR] [--seconds N]
 * First line, measured at the top of main:
 *   "agent-idle: live BYTES held BYTES rss KIB objects N"
 * mallinfo2's uordblks + hblkhd (what is allocated and not freed) and
 * arena + hblkhd (what malloc holds), VmRSS, and the number of files mapped
 * executable. With --start it then calls kiln_agent_start(ADDR, NULL)
 * (found with dlsym: the binary runs with or without libkiln.so) and prints
 * "agent-idle: started" or the error; then "agent-idle: running", and it
 * sleeps until SIGTERM or N seconds. */
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* The whole of a /proc file into buf (static, no malloc), NUL-terminated. */
static char proc_buf[1 << 18];
static const char *read_proc(const char *path)
{
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r;
		while (n < sizeof proc_buf - 1 && (r = read(fd, proc_buf + n, sizeof proc_buf - 1 - n)) > 0)
			n += (size_t)r;
		close(fd);
	}
	proc_buf[n] = 0;
	return proc_buf;
}

static long rss_kib(void)
{
	const char *p = strstr(read_proc("/proc/self/status"), "VmRSS:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

/* Lines of /proc/self/maps mapping a file executable. */
static int exec_objects(void)
{
	int n = 0;
	for (const char *l = read_proc("/proc/self/maps"); *l;) {
		const char *e = strchr(l, '\n');
		const char *perms = strchr(l, ' ');
		if (perms && (!e || perms < e) && perms[3] == 'x' && memchr(l, '/', e ? (size_t)(e - l) : strlen(l)))
			n++;
		if (!e)
			break;
		l = e + 1;
	}
	return n;
}

int main(int argc, char **argv)
{
	struct mallinfo2 mi = mallinfo2();
	long rss = rss_kib();
	int objects = exec_objects();
	printf("agent-idle: live %zu held %zu rss %ld objects %d\n", mi.uordblks + mi.hblkhd, mi.arena + mi.hblkhd,
	       rss, objects);
	fflush(stdout);

	double seconds = -1;
	const char *start_addr = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--start") && v)
			start_addr = v, i++;
		else if (!strcmp(a, "--seconds") && v)
			seconds = atof(v), i++;
		else {
			fprintf(stderr, "agent-idle: unknown option %s\n", a);
			return 2;
		}
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (start_addr) {
		int (*start)(const char *, const char *);
		*(void **)&start = dlsym(RTLD_DEFAULT, "kiln_agent_start");
		int r = start ? start(start_addr, NULL) : -38; /* ENOSYS */
		if (r < 0)
			printf("agent-idle: kiln_agent_start: %s\n", strerror(-r));
		else
			printf("agent-idle: started\n");
	}
	printf("agent-idle: running\n");
	fflush(stdout);
	struct timespec t0, t, nap = {0, 20 * 1000000L};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop_flag) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (seconds >= 0 && (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 >= seconds)
			break;
		nanosleep(&nap, NULL);
	}
	return 0;
}
