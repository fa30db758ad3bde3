/* control: the tracker's life: lazy start on the first call (settings from
 * the environment, the trace file, the first module scan), fork (a followed
 * child starts its own trace, else it stops tracking), exec, abort and exit
 * (HT_END and a final flush), and switching off on internal errors.
 * Invariant: kh_state only moves forward (UNINIT -> RESOLVING -> ON -> OFF
 * or FINISHED), except in a followed fork child, which starts over at ON. */
#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/heaptrace.h"
#include "heap/heap.h"

_Atomic int kh_state = KH_UNINIT;
uint64_t kh_sample_bytes;
int kh_agent;
_Atomic int kh_agent_nosample;
_Atomic int kh_agent_on;
_Atomic uint8_t *_Atomic kh_agent_filter;
_Atomic int kh_agent_estimate;
_Atomic uint8_t *_Atomic kh_agent_fast_filter;
static int counts_exact; /* KILN_AGENT_HEAP_COUNTS=exact */
int kh_trace_mmap;
uint64_t kh_start_ns;
static int follow;
static atomic_int warned;
static int exit_status;
static int (*real_main)(int, char **, char **);

void *heap_map(size_t len)
{
	long r = syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r < 0 && r > -4096)
		return NULL;
	/* big tables (the live set of a program with a million blocks) are
	 * probed at random: huge pages spare a TLB miss a probe */
	if (len >= (4u << 20))
		syscall(SYS_madvise, r, len, MADV_HUGEPAGE);
	leakscan_note_map((void *)r, len);
	return (void *)r;
}

void heap_unmap(void *p, size_t len)
{
	leakscan_note_unmap(p, len);
	syscall(SYS_munmap, p, len);
}

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The time when the ticker is not running (and for records outside
 * events): the coarse monotonic clock (a tick, 1-4 ms), which costs less
 * than the precise one on a VM without a usable TSC. */
uint64_t kh_now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	uint64_t ns = (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
	return ns > kh_start_ns ? (ns - kh_start_ns) / 1000 : 0;
}

/* The ticker: while the program writes events, the clock every
 * millisecond, so an event reads a shared word instead of calling
 * clock_gettime; after 300 ms without a chunk written, it stops (events
 * read the clock themselves) and looks again every 100 ms. */
_Atomic uint64_t kh_clock_us = UINT64_MAX;

void kh_ticker_reset(void)
{
	atomic_store(&kh_clock_us, UINT64_MAX);
}

void *kh_ticker(void *arg)
{
	(void)arg;
	kh_self.guard = 1; /* nothing this thread does is tracked */
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	unsigned long seen = writer_chunks();
	int quiet = 0;
	for (unsigned n = 1;; n++) {
		int s = atomic_load(&kh_state);
		if (s == KH_OFF) {
			kh_ticker_reset();
			return NULL;
		}
		uint64_t ns = (uint64_t)next.tv_sec * 1000000000ull + (uint64_t)next.tv_nsec;
		if (s == KH_ON && quiet < 3)
			atomic_store_explicit(&kh_clock_us, ns > kh_start_ns ? (ns - kh_start_ns) / 1000 : 0,
					      memory_order_relaxed);
		else
			kh_ticker_reset();
		if (quiet >= 3 || n % 100 == 0) {
			unsigned long w = writer_chunks();
			quiet = w == seen ? quiet + 1 : 0;
			seen = w;
		}
		long step = quiet >= 3 ? 100000000 : 1000000;
		next.tv_nsec += step;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		/* late (a loaded machine): the clock from now on, not a catch-up */
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
			next = now;
	}
}

void kh_say(const char *const *parts, size_t nparts)
{
	char msg[256];
	size_t n = 0;
	for (size_t i = 0; i < nparts; i++) {
		size_t l = strlen(parts[i]);
		if (n + l >= sizeof msg)
			l = sizeof msg - 1 - n;
		memcpy(msg + n, parts[i], l);
		n += l;
	}
	ssize_t w = write(2, msg, n);
	(void)w;
}

static void warn(const char *what, int err)
{
	const char *parts[] = {kh_agent ? "kiln agent: heap: " : "kiln-heap: ", what, err ? ": " : "", err ? strerror(err) : "",
			       "; tracking is off\n"};
	kh_say(parts, sizeof parts / sizeof *parts);
}

/* Agent mode: the hot paths' switches (see hooks.c). The filter counters
 * of NULL and of the bootstrap pool are pinned first (saturated, so never
 * cleared): free() of those always leaves its fast path. So does a free of
 * a heap block whose address shares a pinned counter (the pool's 256 KiB
 * window in each 64 MiB, 1/256 of the address space): a live-set lookup
 * that finds nothing, then the real free. */
static void agent_on(void)
{
	_Atomic uint8_t *f = kh_live_filter;
	if (f) {
		atomic_store_explicit(&f[liveset_filter_index(0)], 255, memory_order_relaxed);
		for (uintptr_t p = (uintptr_t)kh_boot_pool; p < (uintptr_t)kh_boot_pool + BOOT_POOL; p += 64)
			atomic_store_explicit(&f[liveset_filter_index(p)], 255, memory_order_relaxed);
		atomic_store(&kh_agent_filter, f);
		if (atomic_load(&kh_agent_estimate))
			atomic_store(&kh_agent_fast_filter, f);
	}
	atomic_store(&kh_agent_on, 1);
}

static void agent_off(void)
{
	atomic_store(&kh_agent_fast_filter, NULL);
	atomic_store(&kh_agent_filter, NULL);
	atomic_store(&kh_agent_on, 0);
}

void kh_fail(const char *what, int err)
{
	int e = errno;
	int on = KH_ON;
	agent_off();
	atomic_compare_exchange_strong(&kh_state, &on, KH_OFF);
	if (!atomic_exchange(&warned, 1))
		warn(what, err);
	errno = e;
}

double kh_random01(void)
{
	uint64_t x = kh_self.rng;
	if (!x)
		x = mono_ns() ^ ((uint64_t)kh_tid() << 32) ^ 0x2545f4914f6cdd1dull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	kh_self.rng = x;
	return (double)((x * 0x2545f4914f6cdd1dull) >> 11) * (1.0 / 9007199254740992.0);
}

int64_t kh_sample_interval(void)
{
	double v = -log(1.0 - kh_random01()) * (double)kh_sample_bytes; /* exponential, mean N */
	return v < 1 ? 1 : (int64_t)v;
}

/* A block of s bytes holds a sampling point with probability 1 - e^(-s/N)
 * (at period 1 every allocation is sampled: kh_sample_interval's floor) */
double kh_sample_weight(uint64_t size, double period)
{
	if (!size || period <= 1)
		return 1;
	return 1.0 / -expm1(-(double)size / period);
}

static uint64_t env_u64(const char *name)
{
	const char *s = getenv(name);
	uint64_t v = 0;
	for (; s && *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (uint64_t)(*s - '0');
	return v;
}

static void on_fork_prepare(void);
static void on_fork_parent(void);
static void on_fork_child(void);

/* Start tracking in this process (first start or a followed child). */
static void start(int followed)
{
	kh_start_ns = mono_ns();
	if (kh_agent) {
		/* no trace: the module scan only finds the library's own code */
		atomic_store(&kh_state, KH_ON);
		agent_on();
		modules_scan();
		return;
	}
	int rc = writer_open(followed);
	if (rc < 0) {
		atomic_store(&kh_state, KH_OFF);
		if (!atomic_exchange(&warned, 1))
			warn("cannot create the trace file", -rc);
		return;
	}
	atomic_store(&kh_state, KH_ON);
	modules_scan();
}

void kh_init(void)
{
	int s = KH_UNINIT;
	if (!atomic_compare_exchange_strong(&kh_state, &s, KH_RESOLVING)) {
		if (s == KH_RESOLVING && kh_self.guard)
			return; /* dlsym calling back into us: the pool serves */
		while (atomic_load(&kh_state) == KH_RESOLVING)
			kh_yield();
		return;
	}
	int e = errno;
	kh_self.guard++;
	kh_agent = kh_agent_sample != NULL;
	if (hooks_resolve() < 0) {
		atomic_store(&kh_state, KH_OFF);
		warn("cannot find the real allocator", 0);
		kh_self.guard--;
		errno = e;
		return;
	}
	const char *off = getenv("KILN_HEAP_OFF");
	kh_sample_bytes = env_u64("KILN_HEAP_SAMPLE");
	if (kh_sample_bytes > UINT32_MAX)
		kh_sample_bytes = UINT32_MAX;
	kh_trace_mmap = env_u64("KILN_HEAP_MMAP") != 0;
	follow = env_u64("KILN_HEAP_FOLLOW") != 0;
	kh_leakcheck = env_u64("KILN_HEAP_LEAKCHECK") != 0;
	if (kh_agent) {
		/* always sampled; the heap tracker's settings do not apply */
		const char *counts = getenv("KILN_AGENT_HEAP_COUNTS");
		counts_exact = counts && !strcmp(counts, "exact");
		if (counts && *counts && !counts_exact && strcmp(counts, "estimate")) {
			const char *parts[] = {"kiln agent: heap: KILN_AGENT_HEAP_COUNTS is exact or estimate, not '", counts,
					       "': estimating\n"};
			kh_say(parts, sizeof parts / sizeof *parts);
		}
		const char *rate = getenv("KILN_AGENT_HEAP_RATE");
		kh_agent_set_rate(rate && *rate ? env_u64("KILN_AGENT_HEAP_RATE") : KH_AGENT_DEFAULT_RATE);
		off = NULL;
		kh_trace_mmap = follow = kh_leakcheck = 0;
		counters_init();
	}
	leakscan_init();
	if (off && *off == '1') {
		atomic_store(&kh_state, KH_OFF);
	} else {
		liveset_init();
		buffer_init();
		stacks_init();
		pthread_atfork(on_fork_prepare, on_fork_parent, on_fork_child);
		start(0);
	}
	kh_self.guard--;
	errno = e;
}

__attribute__((constructor)) static void kh_constructor(void)
{
	if (atomic_load(&kh_state) == KH_UNINIT)
		kh_init();
}

void kh_finish(int how, int status)
{
	if (atomic_load(&kh_state) != KH_ON || kh_agent)
		return; /* the agent has no trace to end: it samples to the last */
	int e = errno;
	kh_self.guard++;
	if (how == HT_END_EXIT) {
		leakscan_run();
		stacks_check_report();
	}
	buffer_capture_all(1);
	uint8_t rec[32], *w = rec;
	*w++ = HEAPTRACE_HEAD(HT_END);
	w = put_v(w, kh_now_us());
	w = put_v(w, (uint64_t)how);
	w = put_v(w, (uint64_t)(uint32_t)status);
	meta_append(rec, (size_t)(w - rec));
	writer_drain();
	int on = KH_ON;
	atomic_compare_exchange_strong(&kh_state, &on, KH_FINISHED);
	kh_self.guard--;
	errno = e;
}

/* Exit. The very end, as valgrind's: kh_at_end is the first exit handler
 * registered in the process (registered from the first __cxa_atexit call,
 * a library constructor's as a rule, or else from __libc_start_main before
 * it registers the loader's fini), so it runs last: after every other
 * atexit handler and every library's destructor (libstdc++'s and libc's
 * included), and after glibc has freed the exit handler lists it allocated;
 * only stdio's last flush (__libc_atexit) follows. There the C runtime's
 * own blocks may be freed (leakscan_freeres), then the leak scan and
 * HT_END. Without that handler the tracker's destructor ends the trace. */
static _Atomic int end_handler; /* 0 none, 1 registering, 2 registered */
static int (*real_cxa_atexit)(void (*)(void *), void *, void *);

static void kh_at_end(void *arg)
{
	(void)arg;
	if (atomic_load(&kh_state) != KH_ON || kh_agent)
		return; /* the agent never frees the C runtime's memory nor scans */
	int e = errno;
	leakscan_freeres();
	errno = e;
	kh_finish(HT_END_EXIT, exit_status);
}

/* dlsym's own allocations (its error state) are the tracker's, untracked */
static void resolve_cxa_atexit(void)
{
	if (real_cxa_atexit)
		return;
	kh_self.guard++;
	*(void **)&real_cxa_atexit = dlsym(RTLD_NEXT, "__cxa_atexit");
	kh_self.guard--;
}

static void register_end(void)
{
	int none = 0;
	if (atomic_load(&end_handler) || !atomic_compare_exchange_strong(&end_handler, &none, 1))
		return;
	resolve_cxa_atexit();
	/* no DSO handle: run by exit only, never by a __cxa_finalize */
	int ok = real_cxa_atexit && real_cxa_atexit(kh_at_end, NULL, NULL) == 0;
	atomic_store(&end_handler, ok ? 2 : 0);
}

EXPORT int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);
int __cxa_atexit(void (*fn)(void *), void *arg, void *dso)
{
	register_end();
	resolve_cxa_atexit();
	return real_cxa_atexit ? real_cxa_atexit(fn, arg, dso) : -1;
}

__attribute__((destructor)) static void kh_destructor(void)
{
	if (atomic_load(&end_handler) != 2)
		kh_finish(HT_END_EXIT, exit_status);
}

EXPORT void exit(int status)
{
	static void (*real_exit)(int) __attribute__((noreturn));
	exit_status = status;
	if (!real_exit)
		*(void **)&real_exit = dlsym(RTLD_NEXT, "exit");
	real_exit(status);
}

static int main_wrapper(int argc, char **argv, char **envp)
{
	exit_status = real_main(argc, argv, envp);
	return exit_status;
}

/* Wraps main only to learn its return value (the exit status of HT_END). */
EXPORT int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
			     void (*fini)(void), void (*rtld_fini)(void), void *stack_end);
int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
		      void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
	int (*real)(int (*)(int, char **, char **), int, char **, void (*)(void), void (*)(void), void (*)(void),
		    void *);
	*(void **)&real = dlsym(RTLD_NEXT, "__libc_start_main");
	real_main = main;
	register_end();
	return real(main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}

/* abort and failed assertions: HT_END(signal) and a flush, then the real
 * function, unchanged; no signal handler is installed. */
EXPORT void abort(void)
{
	static void (*real_abort)(void) __attribute__((noreturn));
	kh_finish(HT_END_SIGNAL, SIGABRT);
	if (!real_abort)
		*(void **)&real_abort = dlsym(RTLD_NEXT, "abort");
	real_abort();
}

EXPORT void __assert_fail(const char *expr, const char *file, unsigned int line, const char *fn)
{
	static void (*real_af)(const char *, const char *, unsigned int, const char *) __attribute__((noreturn));
	kh_finish(HT_END_SIGNAL, SIGABRT);
	if (!real_af)
		*(void **)&real_af = dlsym(RTLD_NEXT, "__assert_fail");
	real_af(expr, file, line, fn);
}

/* exec: HT_END(exec) and a flush; if exec fails, tracking goes on and the
 * trace simply continues after that record. */
#define EXEC_HOOK(name, params, args)                                      \
	EXPORT int name params                                             \
	{                                                                  \
		static int(*real) params;                                  \
		if (!real)                                                 \
			*(void **)&real = dlsym(RTLD_NEXT, #name);         \
		if (atomic_load(&kh_state) == KH_ON) {                     \
			kh_finish(HT_END_EXEC, 0);                         \
			int fin = KH_FINISHED;                             \
			int e = errno;                                     \
			int rc = real args;                                \
			e = errno;                                         \
			atomic_compare_exchange_strong(&kh_state, &fin, KH_ON); \
			errno = e;                                         \
			return rc;                                         \
		}                                                          \
		return real args;                                          \
	}
EXEC_HOOK(execve, (const char *path, char *const argv[], char *const envp[]), (path, argv, envp))
EXEC_HOOK(execv, (const char *path, char *const argv[]), (path, argv))
EXEC_HOOK(execvp, (const char *file, char *const argv[]), (file, argv))
EXEC_HOOK(execvpe, (const char *file, char *const argv[], char *const envp[]), (file, argv, envp))

/* Agent mode: a rate of 0 keeps kh_sample_bytes non-zero (sampled mode,
 * the liveset's filter) but takes no samples; see sampled_out. With no
 * samples there is nothing to estimate from: the counts are exact then.
 * Threads whose fast paths are armed when the mode changes finish their
 * current interval there (uncounted: at most one interval each). */
void kh_agent_set_rate(uint64_t rate)
{
	if (rate > UINT32_MAX)
		rate = UINT32_MAX;
	if (rate)
		kh_sample_bytes = rate;
	else if (!kh_sample_bytes)
		kh_sample_bytes = KH_AGENT_DEFAULT_RATE;
	atomic_store(&kh_agent_nosample, rate == 0);
	int estimate = rate && !counts_exact;
	atomic_store(&kh_agent_estimate, estimate);
	atomic_store(&kh_agent_fast_filter, estimate ? atomic_load(&kh_agent_filter) : NULL);
}

void kh_disable(void)
{
	agent_off();
	atomic_store(&kh_state, KH_OFF);
}

/* The writer's lock first: the flush thread holds it while it compresses,
 * and the compressor's first use allocates (a silent allocation, which
 * takes a liveset lock); taking the liveset's locks first would wait for
 * the flush thread while it waits for them. */
static void on_fork_prepare(void)
{
	kh_self.guard++;
	if (kh_agent)
		counters_fork_lock();
	writer_fork_lock();
	stacks_fork_lock();
	liveset_fork_lock();
	modules_fork_lock();
	buffer_fork_lock();
}

static void on_fork_parent(void)
{
	buffer_fork_unlock();
	modules_fork_unlock();
	liveset_fork_unlock();
	stacks_fork_unlock();
	writer_fork_unlock();
	if (kh_agent)
		counters_fork_unlock();
	kh_self.guard--;
}

/* Agent mode: the child keeps its parent's samples (they are its memory
 * too) and goes on sampling only with KILN_AGENT_CHILDREN=1; the agent's
 * own fork handler may still switch it off (kh_disable). */
static void agent_fork_child(void)
{
	buffer_after_fork_child(0);
	writer_after_fork_child();
	modules_fork_unlock();
	liveset_fork_unlock();
	stacks_fork_unlock();
	counters_after_fork_child();
	const char *keep = getenv("KILN_AGENT_CHILDREN");
	if (!keep || strcmp(keep, "1") != 0)
		kh_disable();
	kh_self.guard--;
}

static void on_fork_child(void)
{
	if (kh_agent) {
		agent_fork_child();
		return;
	}
	int on = atomic_load(&kh_state) == KH_ON;
	leakscan_fork_child();
	buffer_after_fork_child(on && follow);
	writer_after_fork_child();
	modules_fork_unlock();
	liveset_fork_unlock();
	stacks_fork_unlock();
	if (!on || !follow) {
		atomic_store(&kh_state, KH_OFF);
		/* and stay off in what this child execs (LD_PRELOAD is
		 * inherited): only followed children get traces of their own */
		if (on)
			setenv("KILN_HEAP_OFF", "1", 1);
	} else {
		stacks_reset();
		modules_reset();
		liveset_mark_all_silent();
		kh_ticker_reset();
		start(1);
	}
	kh_self.guard--;
}
