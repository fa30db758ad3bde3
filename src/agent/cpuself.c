/* cpuself: the agent's CPU profile of its own process (/debug/pprof/profile)
 * with kiln record's sampler, cpuprof, symbolizer and pprof writer.
 * Invariant: one profile at a time (others get -EBUSY); its fds, rings and
 * memory are released before it returns (but for a symbolizer kept warm on
 * request: agent_cpu_trim); it never prints, exits or touches signals. */
#include "agent/agent.h"

#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "collect/cpuprof.h"
#include "collect/sampler.h"
#include "format/pprof.h"
#include "model/profile.h"
#include "symbolize/symbolize.h"

/*
 * How it works. One sampling event per (thread of /proc/self/task, CPU),
 * with inherit, so threads the host creates meanwhile are sampled too; all
 * events of a CPU share one ring. The calling (server) thread sleeps for
 * up to POLL_MS (less at high rates, so a ring never fills past a third),
 * then unwinds (the sample's user registers and stack copy, DWARF CFI,
 * frame pointers where CFI gives up; the live stacks are never read, no
 * ptrace), symbolizes and aggregates what arrived: aggregation happens
 * while recording, so the end is only cpuprof_build + pprof_encode. The
 * calling thread is sampled like any other: the profile shows what the
 * profiler costs.
 *
 * What a profile contains. Go's layout: sample types samples/count and
 * cpu/nanoseconds, period_type cpu/nanoseconds, period 1e9/hz, time_nanos
 * and duration_nanos (the time actually sampled). Kernel frames are left
 * out, as in Go's profiles (time in a system call shows at its libc
 * wrapper), which also spares reading /proc/kallsyms each profile. Labels:
 * thread (tid) and thread_name; the pid label record adds is dropped (it
 * is always this process). Samples of child processes (events inherited
 * through fork) are ignored.
 *
 * The deadline. A scraper asking seconds=N expects the body within N
 * seconds, counted from the call. Sampling stops early enough for the last
 * drain (the average drain time), build and encode (FINISH_BASE_MS
 * plus NS_PER_ITEM per distinct stack and location); samples still
 * unprocessed past that point are dropped, so a slow last drain (a module
 * symbolized for the first time) cannot make the answer late. gzip level
 * 1, as Go's, since gzip is most of the encoding time.
 *
 * The warm symbolizer. Most of a profile's CPU cost is symbolizing each
 * module the first time: opening its DWARF (a distribution's separate
 * debug file, e.g. libc6-dbg, is zlib-compressed: ~90 ms for libc alone)
 * and resolving each new address (~0.5 ms in libc). Profiles taken back to
 * back (Parca, Pyroscope) can reuse one symbolizer: once the agent's tick
 * thread calls agent_cpu_trim(), the symbolizer is kept between profiles
 * (at most WARM_MAX_USES of them, then rebuilt, so new code such as JIT
 * output cannot grow it forever) and freed after WARM_IDLE_S without a
 * profile. Measured on cpu-tree (850 stacks per 10 s): 450 ms of agent
 * CPU per 10 s profile cold, 80 ms warm, for ~30 MB kept while warm.
 * Without agent_cpu_trim() calls nothing is kept.
 *
 * No fallback when perf_event_open is refused (perf_event_paranoid, no
 * CAP_PERFMON, seccomp): the negative errno is returned and the server
 * answers 503. A fallback through setitimer(ITIMER_PROF) or timer_create
 * with SIGPROF would install a signal handler in the host (its handlers
 * and its own profilers, e.g. gperftools, use SIGPROF), interrupt its
 * system calls with EINTR, and unwind inside a signal handler of a thread
 * we do not own: not acceptable for a library that promises not to change
 * the host's signal handling.
 *
 * Fork. A host that forks during a profile hands the child copies of the
 * sampling fds, which would keep the events sampling the parent until the
 * child exits or execs, and a single-flight flag held by a thread that
 * does not exist in the child. A pthread_atfork child handler closes those
 * fds (their numbers are recorded when the profile starts) and clears the
 * flag; the half-used symbolizer of that profile is abandoned in the child
 * (not freed: its state is unknown). A warm symbolizer not in use at the
 * fork stays valid in the child and is reused or freed there.
 *
 * File descriptors. Inherited sampling needs one event per (thread, CPU),
 * and those fds count against the host's RLIMIT_NOFILE while a profile
 * runs. A profile that would take more than half of the fds still free
 * (plus FD_SLACK for the symbolizer's files) is refused with -EMFILE
 * before anything is opened, rather than make the host's own open() and
 * accept() fail meanwhile.
 *
 * Memory. The collect, symbolize and format code allocate with xmalloc(),
 * which aborts the process when malloc fails; that is accepted here
 * (ARCHITECTURE.md: running out of memory is the one exception); nothing
 * else in this file can abort. Memory grows with the distinct stacks and
 * locations, not the duration; after a profile, malloc_trim() hands the
 * freed pages back (glibc keeps them otherwise, ~10 MB after the first).
 */

enum {
	POLL_MS = 100,          /* longest sleep between drains (and cancel checks) */
	RING_PAGES = 128,       /* 512 KiB per CPU: within perf_event_mlock_kb for
				 * unprivileged users */
	STACK_BYTES = 16384,    /* user stack copied per sample, as kiln record */
	SAMPLE_BYTES = STACK_BYTES + 512, /* a sample record with that copy */
	MAX_HZ = 1000,
	MAX_SECONDS = 3600,
	FINISH_BASE_MS = 50,    /* close, build, encode, free (besides NS_PER_ITEM) */
	NS_PER_ITEM = 8000,     /* build + encode per distinct stack or location */
	GZIP_LEVEL = 1,         /* as Go's runtime/pprof (BestSpeed) */
	FD_SLACK = 64,          /* modules the symbolizer opens, /proc files */
	WARM_MAX_USES = 60,     /* profiles one warm symbolizer serves */
	WARM_IDLE_S = 30,       /* a warm symbolizer unused this long is freed */
};

#define KERNEL_START 0xffff800000000000ULL
#define REG_IP 8 /* index of IP in SYMBOLIZER_REGS_MASK order */

/* cpuself_busy is the single-flight flag; whoever holds it owns the warm
 * symbolizer below. */
static atomic_int cpuself_busy;
static atomic_int keep_warm; /* agent_cpu_trim() is being called */
static struct symbolizer *warm_sym;
static unsigned warm_uses;
static int64_t warm_last_ns;
/* The sampling fds of the profile in progress, for the fork child handler:
 * nlive is set after the array is filled and cleared before it is freed. */
static int *live_fds;
static atomic_size_t nlive_fds;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void trim_heap(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* The records of this process go to cpuprof; kernel frames and child
 * processes are dropped on the way, and samples once the profile is
 * cancelled or past its hard stop. */
struct selfsink {
	struct sampler_sink inner;
	uint32_t pid;
	const volatile int *cancel;
	int64_t hard_stop; /* CLOCK_MONOTONIC ns */
};

static void self_sample(void *ctx, const struct sampler_sample *s)
{
	struct selfsink *ss = ctx;
	if (s->pid != ss->pid)
		return;
	if ((ss->cancel && *ss->cancel) || mono_ns() >= ss->hard_stop)
		return;
	struct sampler_sample t = *s;
	/* the callchain is [CONTEXT_KERNEL, kernel ips..., CONTEXT_USER, user
	 * ips...]; keep the user part */
	t.callchain = NULL;
	t.ncallchain = 0;
	for (size_t i = 0; i < s->ncallchain; i++)
		if (s->callchain[i] == (uint64_t)PERF_CONTEXT_USER) {
			t.callchain = s->callchain + i;
			t.ncallchain = s->ncallchain - i;
			break;
		}
	if (t.ip >= KERNEL_START)
		t.ip = t.regs ? t.regs[REG_IP] : 0;
	ss->inner.sample(ss->inner.ctx, &t);
}

static void self_mmap(void *ctx, uint32_t pid, uint64_t start, uint64_t len, uint64_t pgoff,
		      const char *path, const unsigned char *build_id, size_t build_id_len, bool exec)
{
	const struct selfsink *ss = ctx;
	if (pid == ss->pid)
		ss->inner.mmap(ss->inner.ctx, pid, start, len, pgoff, path, build_id, build_id_len, exec);
}

static void self_comm(void *ctx, uint32_t pid, uint32_t tid, const char *comm, bool exec)
{
	const struct selfsink *ss = ctx;
	if (pid == ss->pid && ss->inner.comm)
		ss->inner.comm(ss->inner.ctx, pid, tid, comm, exec);
}

static void self_fork(void *ctx, uint32_t pid, uint32_t ppid, uint32_t tid)
{
	const struct selfsink *ss = ctx;
	if (pid == ss->pid && ppid == ss->pid && ss->inner.fork) /* a new thread */
		ss->inner.fork(ss->inner.ctx, pid, ppid, tid);
}

static void selfsink_init(struct selfsink *ss, struct cpuprof *c, uint32_t pid,
			  const volatile int *cancel, struct sampler_sink *out)
{
	memset(ss, 0, sizeof(*ss));
	cpuprof_sink(c, &ss->inner);
	ss->pid = pid;
	ss->cancel = cancel;
	ss->hard_stop = INT64_MAX;
	memset(out, 0, sizeof(*out));
	out->sample = self_sample;
	out->mmap = self_mmap;
	out->comm = self_comm;
	out->fork = self_fork;
	out->ctx = ss;
}

/* Names the threads that exist now (new ones come with fork and comm
 * records). */
static void name_threads(const struct sampler_sink *sink, uint32_t pid)
{
	DIR *dir = opendir("/proc/self/task");
	if (!dir)
		return;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		char path[300], comm[64];
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = '\0';
			sink->comm(sink->ctx, pid, (uint32_t)strtoul(de->d_name, NULL, 10), comm, false);
		}
		fclose(f);
	}
	closedir(dir);
}

static long count_dir(const char *path)
{
	DIR *dir = opendir(path);
	if (!dir)
		return -1;
	long n = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL)
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* -EMFILE when the events for every (thread, CPU) would take more than
 * half of the fds this process has left (see the header). */
static int check_fd_budget(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 0;
	long threads = count_dir("/proc/self/task"), open_fds = count_dir("/proc/self/fd");
	long ncpus = sysconf(_SC_NPROCESSORS_CONF);
	if (threads < 0 || open_fds < 0 || ncpus <= 0)
		return 0;
	long long need = (long long)threads * ncpus + FD_SLACK;
	long long left = (long long)rl.rlim_cur - open_fds;
	return need > left / 2 ? -EMFILE : 0;
}

/* The perf_event fds of this process, into *out (malloc'd, sorted as
 * /proc lists them); returns the count, or 0 with *out NULL when none or
 * on any failure. */
static size_t perf_fds(int **out)
{
	*out = NULL;
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		return 0;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		char link[64];
		ssize_t len = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (strcmp(link, "anon_inode:[perf_event]") != 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			int *grown = realloc(*out, cap * sizeof(int));
			if (!grown) {
				n = 0;
				break;
			}
			*out = grown;
		}
		(*out)[n++] = atoi(de->d_name);
	}
	closedir(dir);
	if (!n) {
		free(*out);
		*out = NULL;
	}
	return n;
}

/* Records the perf fds that are in now but not in before[0..nbefore):
 * the ones sampler_open just opened. */
static void record_live_fds(const int *before, size_t nbefore)
{
	int *now;
	size_t n = perf_fds(&now), k = 0;
	for (size_t i = 0; i < n; i++) {
		bool old = false;
		for (size_t j = 0; j < nbefore && !old; j++)
			old = before[j] == now[i];
		if (!old)
			now[k++] = now[i];
	}
	live_fds = now;
	atomic_store(&nlive_fds, k);
}

static void forget_live_fds(void)
{
	atomic_store(&nlive_fds, 0);
	free(live_fds);
	live_fds = NULL;
}

/* In the child of a fork: see "Fork" above. Only close() and stores. */
static void cpuself_atfork_child(void)
{
	if (!atomic_load(&cpuself_busy))
		return;
	size_t n = atomic_load(&nlive_fds);
	for (size_t i = 0; i < n; i++)
		close(live_fds[i]);
	atomic_store(&nlive_fds, 0);
	live_fds = NULL; /* the parent's, abandoned with the rest */
	warm_sym = NULL;
	atomic_store(&cpuself_busy, 0);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, cpuself_atfork_child);
}

/* Time cpuprof_build + pprof_encode + the frees take for a profile of
 * this size, generously: measured at 4.3 us per distinct stack (30
 * frames) or location with gzip level 1, most of it in gzip (70,000 of
 * them: 0.3 s); twice that leaves room for a loaded host. */
static int64_t finish_estimate_ns(const struct cpuprof *c)
{
	struct cpuprof_stats st;
	cpuprof_get_stats(c, &st);
	return (int64_t)FINISH_BASE_MS * 1000000 + NS_PER_ITEM * (int64_t)(st.stacks + st.locations);
}

/* The sleep between drains: POLL_MS, or less when hz samples per second
 * would fill more than a third of a ring meanwhile. */
static int64_t interval_ns(unsigned hz)
{
	int64_t ns = (int64_t)RING_PAGES * 4096 / 3 * 1000000000 / ((int64_t)SAMPLE_BYTES * hz);
	if (ns > (int64_t)POLL_MS * 1000000)
		ns = (int64_t)POLL_MS * 1000000;
	return ns < 5000000 ? 5000000 : ns;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
	nanosleep(&ts, NULL); /* EINTR: the loop checks the time anyway */
}

/* Removes label key from every sample (labels are per-sample ranges
 * of p->labels, compacted in place). */
static void drop_label(struct profile *p, const char *key)
{
	uint32_t k = profile_interns(p, key);
	for (size_t i = 0; i < p->nsamples; i++) {
		struct profile_sample *s = &p->samples[i];
		struct profile_label *l = p->labels + s->label_off;
		uint32_t n = 0;
		for (uint32_t j = 0; j < s->nlabels; j++)
			if (l[j].key != k)
				l[n++] = l[j];
		s->nlabels = n;
	}
}

/* Samples until the deadline (minus the time the end needs), cancel, or
 * an error; returns 0 or the error. *elapsed_ns is the time sampled. */
static int sample_loop(struct sampler *smp, struct cpuprof *c, const struct sampler_sink *sink,
		       struct selfsink *ss, unsigned hz, int64_t deadline, int64_t *elapsed_ns)
{
	int64_t start = mono_ns(), recent = 0, step = interval_ns(hz);
	int err = sampler_enable(smp);
	for (int n = 0; !err && !(ss->cancel && *ss->cancel); n++) {
		ss->hard_stop = deadline - finish_estimate_ns(c);
		int64_t left = ss->hard_stop - recent - mono_ns();
		if (left <= 0)
			break;
		sleep_ns(left < step ? left : step);
		int64_t t = mono_ns();
		sampler_drain(smp, sink);
		/* the last drain costs about the average; the first, which
		 * loads the modules, is not typical */
		if (n > 0)
			recent += (mono_ns() - t - recent) / 4;
	}
	sampler_disable(smp);
	*elapsed_ns = mono_ns() - start;
	sampler_drain(smp, sink);
	return err;
}

/* The symbolizer for a profile: the warm one while it may serve, else a
 * new one. Called with cpuself_busy held. */
static struct symbolizer *symbolizer_get(int *err)
{
	if (warm_sym && warm_uses < WARM_MAX_USES) {
		warm_uses++;
		return warm_sym;
	}
	symbolizer_free(warm_sym);
	warm_sym = NULL;
	struct symbolizer_options o = {.no_kernel = true, .no_debuginfod = true};
	struct symbolizer *s = symbolizer_new(&o, err);
	if (s)
		warm_uses = 1;
	return s;
}

/* Keeps sym warm when agent_cpu_trim() is being called, else frees it. */
static void symbolizer_put(struct symbolizer *sym)
{
	if (atomic_load(&keep_warm)) {
		warm_sym = sym;
		warm_last_ns = mono_ns();
	} else {
		symbolizer_free(sym);
		warm_sym = NULL;
	}
	trim_heap();
}

static int profile_self(unsigned seconds, unsigned hz, const volatile int *cancel, int64_t t0,
			struct agent_body *out)
{
	int err = check_fd_budget();
	if (err)
		return err;
	struct sampler_options so = {
		.freq = hz,
		.event = SAMPLER_CPU_CLOCK,
		.callgraph = SAMPLER_CG_AUTO,
		.stack_size = STACK_BYTES,
		.ring_pages = RING_PAGES,
		.user_only = true, /* kernel frames are dropped anyway; works unprivileged */
	};
	pid_t pid = getpid();
	struct sampler *smp = NULL;
	struct diag d;
	int *before;
	size_t nbefore = perf_fds(&before);
	err = sampler_open(&smp, &so, &pid, 1, false, false, &d);
	if (!err)
		record_live_fds(before, nbefore);
	free(before);
	if (err)
		return err;
	struct symbolizer *sym = symbolizer_get(&err);
	if (!sym) {
		forget_live_fds();
		sampler_close(smp);
		return err;
	}
	struct cpuprof_options co = {.callgraph = so.callgraph, .freq = hz};
	struct cpuprof *c = cpuprof_new(&co, sym);
	struct selfsink ss;
	struct sampler_sink sink;
	selfsink_init(&ss, c, (uint32_t)pid, cancel, &sink);
	cpuprof_add_process(c, pid);
	name_threads(&sink, (uint32_t)pid);

	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	int64_t elapsed = 0;
	err = sample_loop(smp, c, &sink, &ss, hz, t0 + (int64_t)seconds * 1000000000, &elapsed);
	forget_live_fds();
	sampler_close(smp);

	struct profile p;
	if (!err)
		err = cpuprof_build(c, &p, (int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec, elapsed);
	if (!err) {
		drop_label(&p, "pid");
		void *data = NULL;
		size_t len = 0;
		err = pprof_encode(&p, GZIP_LEVEL, &data, &len);
		profile_release(&p);
		if (!err) {
			out->data = data;
			out->len = len;
		}
	}
	cpuprof_free(c);
	symbolizer_put(sym);
	return err;
}

int agent_cpu_profile(unsigned seconds, unsigned hz, const volatile int *cancel, struct agent_body *out)
{
	int64_t t0 = mono_ns();
	if (!out || seconds == 0 || seconds > MAX_SECONDS || hz > MAX_HZ)
		return -EINVAL;
	if (hz == 0)
		hz = 99;
	pthread_once(&atfork_once, register_atfork);
	int expected = 0;
	if (!atomic_compare_exchange_strong(&cpuself_busy, &expected, 1))
		return -EBUSY;
	int saved_errno = errno;
	int err = profile_self(seconds, hz, cancel, t0, out);
	errno = saved_errno;
	atomic_store(&cpuself_busy, 0);
	return err;
}

/* For the agent's tick thread (about once a second) and kiln_agent_stop
 * (release_now, once no request is in flight): the first call turns on
 * keeping the symbolizer warm between profiles; each call frees it once it
 * has been unused for WARM_IDLE_S; release_now frees it at once and turns
 * keeping off until the next call. Returns 0, or -EBUSY while a profile
 * runs (that profile then frees its symbolizer itself if release_now). */
int agent_cpu_trim(int release_now)
{
	pthread_once(&atfork_once, register_atfork);
	atomic_store(&keep_warm, !release_now);
	int expected = 0;
	if (!atomic_compare_exchange_strong(&cpuself_busy, &expected, 1))
		return -EBUSY;
	int saved_errno = errno;
	if (warm_sym && (release_now || mono_ns() - warm_last_ns >= (int64_t)WARM_IDLE_S * 1000000000)) {
		symbolizer_free(warm_sym);
		warm_sym = NULL;
		trim_heap();
	}
	errno = saved_errno;
	atomic_store(&cpuself_busy, 0);
	return 0;
}
