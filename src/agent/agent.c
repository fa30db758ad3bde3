/* agent: the agent's life in the host: the KILN_AGENT constructor,
 * kiln_agent_start/stop/port, the one-second tick (watchdog, leak history),
 * fork and exit. Invariant: at most one server, changed only under `lock`;
 * the host's signal mask, handlers, errno and stdout are never changed, and
 * the agent's threads block every signal. */
#include "agent/agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kiln/kiln.h"

/*
 * Settings (environment, read by kiln_agent_start):
 *   KILN_AGENT             address to serve on, in the constructor (preload)
 *   KILN_AGENT_TOKEN       bearer token (required off loopback)
 *   KILN_AGENT_HEAP_RATE   mean bytes between heap samples (heapsample.c;
 *                          default 512 KiB, Go's MemProfileRate)
 *   KILN_AGENT_CHILDREN=1  a fork child runs its own agent (port 0, same host)
 *   KILN_AGENT_PORT_FILE   write the bound port there ("%p" is the pid)
 *   KILN_AGENT_LEAK_*      see leakwatch.c
 *
 * Fork. pthread_atfork handlers, registered after the heap tracker's (so
 * its child handler, which releases the allocator's locks, runs first):
 * the parent keeps serving; in the child the server's threads do not
 * exist, so its state is forgotten and the listen socket closed. With
 * KILN_AGENT_CHILDREN=1 the child then starts an agent of its own on the
 * same host address and port 0 (the parent holds the port), and writes
 * the port to KILN_AGENT_PORT_FILE when set.
 *
 * Loading. libmicrohttpd (and gnutls behind it) is loaded by the first
 * kiln_agent_start (mhdload.c), not with libkiln.so: a host that never
 * serves never maps it. The load comes before `lock` is taken, so a host
 * thread inside dlopen (holding the loader's lock) whose library
 * constructor calls kiln_agent_start cannot deadlock against it.
 *
 * Exit. A destructor stops the server (a CPU profile in progress ends
 * within ~100 ms), so no agent thread runs while the host's libraries are
 * torn down. It gives up when another thread holds the lock (the host
 * exiting in the middle of kiln_agent_start): exit is never held up.
 */

#define DEFAULT_ADDR "127.0.0.1:6060"
#define DEFAULT_HEAP_PERIOD (512 * 1024)

volatile int agent_stopping;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int running;
static int port;
static int fork_registered;
static struct sockaddr_storage bound;
static unsigned bound_len;
static int bound_remote;
static char *token;

/* The tick thread's state is allocated per start: a fork child must never
 * wait on a lock the (vanished) tick thread held. */
struct tick {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};
static struct tick *tick;

/* Each distinct warning (by its first 40 bytes) is written once. */
#define WARN_KINDS 8
static char warned[WARN_KINDS][40];
static pthread_mutex_t warn_lock = PTHREAD_MUTEX_INITIALIZER;

void agent_warn(const char *what, int err)
{
	int e = errno;
	size_t k = strnlen(what, sizeof warned[0] - 1);
	pthread_mutex_lock(&warn_lock);
	int seen = 0, slot = -1;
	for (int i = 0; i < WARN_KINDS && !seen; i++) {
		if (!warned[i][0]) {
			if (slot < 0)
				slot = i;
		} else if (!strncmp(warned[i], what, k) && !warned[i][k]) {
			seen = 1;
		}
	}
	if (!seen && slot >= 0) {
		memcpy(warned[slot], what, k);
		warned[slot][k] = 0;
	}
	pthread_mutex_unlock(&warn_lock);
	if (seen || slot < 0) {
		errno = e;
		return;
	}
	char msg[256];
	size_t n = 0;
	const char *parts[] = {"kiln agent: ", what, err ? ": " : "", err ? strerror(err) : "", "\n"};
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
		size_t l = strlen(parts[i]);
		if (n + l > sizeof msg - 1)
			l = sizeof msg - 1 - n;
		memcpy(msg + n, parts[i], l);
		n += l;
	}
	if (n && msg[n - 1] != '\n')
		msg[n - 1] = '\n';
	ssize_t w = write(2, msg, n);
	(void)w;
	errno = e;
}

double agent_mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- addresses ----------------------------------------------------------- */

static int is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (IN6_IS_ADDR_LOOPBACK(a))
		return 1;
	return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
}

/* "host:port", "[v6]:port", ":port", "port"; host an address or
 * localhost (no name lookups inside the host). */
static int parse_addr(const char *s, struct sockaddr_storage *ss, unsigned *len)
{
	char host[64];
	const char *portstr;
	memset(ss, 0, sizeof *ss);
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e || e[1] != ':' || (size_t)(e - s - 1) >= sizeof host)
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(e - s - 1));
		host[e - s - 1] = 0;
		portstr = e + 2;
	} else {
		const char *c = strrchr(s, ':');
		if (!c) {
			strcpy(host, "127.0.0.1");
			portstr = s;
		} else {
			if ((size_t)(c - s) >= sizeof host || memchr(s, ':', (size_t)(c - s)))
				return -EINVAL; /* a bare IPv6 address needs brackets */
			memcpy(host, s, (size_t)(c - s));
			host[c - s] = 0;
			portstr = c + 1;
		}
		if (!host[0] || !strcmp(host, "localhost"))
			strcpy(host, "127.0.0.1");
	}
	if (!*portstr || strlen(portstr) > 5 || strspn(portstr, "0123456789") != strlen(portstr))
		return -EINVAL;
	unsigned long p = strtoul(portstr, NULL, 10);
	if (p > 65535)
		return -EINVAL;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		*len = sizeof *a4;
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		*len = sizeof *a6;
	} else {
		return -EINVAL;
	}
	return 0;
}

/* ---- the tick thread --------------------------------------------------- */

static void *tick_main(void *arg)
{
	struct tick *t = arg;
	agent_heap_thread_ignore();
	int serving = 1;
	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += 1;
		pthread_cond_timedwait(&t->cv, &t->mu, &dl);
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->mu);
		if (serving && server_check() < 0)
			serving = 0;
		if (serving)
			leakwatch_tick();
		agent_cpu_trim(0); /* keeps the CPU profiler's symbolizer warm, frees it when idle */
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

static struct tick *tick_new(void)
{
	struct tick *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&t->thread, NULL, tick_main, t)) {
		pthread_cond_destroy(&t->cv);
		pthread_mutex_destroy(&t->mu);
		free(t);
		return NULL;
	}
	pthread_setname_np(t->thread, "kiln-agent");
	return t;
}

static void tick_free(struct tick *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* ---- start, stop ------------------------------------------------------- */

static void write_port_file(void)
{
	const char *f = getenv("KILN_AGENT_PORT_FILE");
	if (!f || !*f)
		return;
	char path[4096], tmp[4160];
	size_t n = 0;
	for (const char *p = f; *p && n < sizeof path - 24; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			n += (size_t)snprintf(path + n, sizeof path - n, "%ld", (long)getpid());
			p++;
		} else {
			path[n++] = *p;
		}
	}
	path[n] = 0;
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	char line[16];
	int l = snprintf(line, sizeof line, "%d\n", port);
	int ok = write(fd, line, (size_t)l) == l;
	ok &= close(fd) == 0;
	if (!ok || rename(tmp, path) < 0)
		unlink(tmp);
}

static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);

/* With lock held, and the heap guard (see start_locked). */
static int start_guarded(const struct sockaddr_storage *ss, unsigned len, int remote, const char *tok)
{
	int r = agent_heap_start(DEFAULT_HEAP_PERIOD);
	if (r < 0)
		agent_warn("heap sampling is off", -r);
	if (!fork_registered) {
		/* after agent_heap_start: see "Fork" above */
		if (pthread_atfork(fork_prepare, fork_parent, fork_child))
			return -ENOMEM;
		fork_registered = 1;
	}
	leakwatch_init();
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int p = 0;
	r = server_start((const struct sockaddr *)ss, len, tok, remote, &p);
	struct tick *t = NULL;
	if (r == 0) {
		t = tick_new();
		if (!t) {
			server_stop();
			r = -EAGAIN;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		return r;
	char *copy = NULL;
	if (tok && !(copy = strdup(tok))) {
		tick_free(t);
		server_stop();
		return -ENOMEM;
	}
	free(token);
	token = copy;
	tick = t;
	port = p;
	bound = *ss;
	bound_len = len;
	bound_remote = remote;
	running = 1;
	write_port_file();
	return 0;
}

/* With lock held. What starting and stopping allocate and free on the
 * calling thread (a host's) is the agent's: libmicrohttpd's daemon, the
 * threads' stacks and TLS, the leak history. */
static int start_locked(const struct sockaddr_storage *ss, unsigned len, int remote, const char *tok)
{
	agent_heap_own_begin();
	int r = start_guarded(ss, len, remote, tok);
	agent_heap_own_end();
	return r;
}

int kiln_agent_start(const char *addr, const char *tok)
{
	int e = errno;
	if (!addr) {
		addr = getenv("KILN_AGENT");
		if (!addr || !*addr)
			addr = DEFAULT_ADDR;
	}
	if (!tok) {
		tok = getenv("KILN_AGENT_TOKEN");
		if (tok && !*tok)
			tok = NULL;
	}
	struct sockaddr_storage ss;
	unsigned len;
	int r = parse_addr(addr, &ss, &len);
	int remote = r == 0 && !is_loopback(&ss);
	if (r == 0 && ((remote && !tok) || (tok && strlen(tok) < 16)))
		r = -EINVAL;
	if (r == 0)
		r = mhd_load(); /* before the lock: see "Loading" above */
	if (r == 0) {
		pthread_mutex_lock(&lock);
		r = running ? -EALREADY : start_locked(&ss, len, remote, tok);
		pthread_mutex_unlock(&lock);
	}
	errno = e;
	return r;
}

static void stop_locked(void)
{
	if (!running)
		return;
	agent_heap_own_begin(); /* see start_locked */
	agent_stopping = 1;
	tick_free(tick);
	tick = NULL;
	server_stop();
	agent_cpu_trim(1);
	agent_stopping = 0;
	running = 0;
	port = 0;
	agent_heap_own_end();
}

int kiln_agent_stop(void)
{
	int e = errno;
	pthread_mutex_lock(&lock);
	stop_locked();
	pthread_mutex_unlock(&lock);
	errno = e;
	return 0;
}

int kiln_agent_port(void)
{
	pthread_mutex_lock(&lock);
	int r = running && server_alive() ? port : -ENOTCONN;
	pthread_mutex_unlock(&lock);
	return r;
}

/* ---- fork ------------------------------------------------------------------- */

static void fork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&lock);
}

static void fork_child(void)
{
	int e = errno;
	pthread_mutex_init(&lock, NULL);
	pthread_mutex_init(&warn_lock, NULL);
	mhd_after_fork_child();
	if (running) {
		/* the agent's locks may have been held by its vanished threads */
		leakwatch_after_fork_child();
		pprof_after_fork_child();
		server_forget();
		tick = NULL; /* its thread is the parent's */
		running = 0;
		port = 0;
		agent_stopping = 0;
		const char *c = getenv("KILN_AGENT_CHILDREN");
		if (!c || strcmp(c, "1")) {
			agent_heap_disable(); /* the child runs without the agent */
		} else {
			struct sockaddr_storage ss = bound;
			if (ss.ss_family == AF_INET)
				((struct sockaddr_in *)&ss)->sin_port = 0;
			else
				((struct sockaddr_in6 *)&ss)->sin6_port = 0;
			int r = start_locked(&ss, bound_len, bound_remote, token);
			if (r < 0)
				agent_warn("cannot start the agent in a fork child", -r);
		}
	}
	errno = e;
}

/* ---- constructor, destructor --------------------------------------------- */

__attribute__((constructor)) static void agent_ctor(void)
{
	const char *a = getenv("KILN_AGENT");
	if (!a || !*a)
		return;
	int e = errno;
	int r = kiln_agent_start(a, NULL);
	if (r < 0) {
		char msg[200];
		if (r == -EINVAL)
			snprintf(msg, sizeof msg,
				 "KILN_AGENT=%.64s: want [host]:port on loopback, or a written-out address "
				 "with KILN_AGENT_TOKEN (16+ characters); the agent is off", a);
		else
			snprintf(msg, sizeof msg, "cannot serve on %.64s: %s; the agent is off", a, strerror(-r));
		if (r != -ELIBACC && r != -ELIBBAD) /* mhd_load said why */
			agent_warn(msg, 0);
	}
	errno = e;
}

__attribute__((destructor)) static void agent_dtor(void)
{
	int e = errno;
	if (pthread_mutex_trylock(&lock) == 0) {
		stop_locked();
		pthread_mutex_unlock(&lock);
	}
	errno = e;
}
