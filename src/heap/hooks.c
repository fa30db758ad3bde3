/* hooks: the exported allocation functions that interpose on the C
 * library's. Each calls the real function found with dlsym(RTLD_NEXT) and
 * records what happened; before dlsym works they serve from the bootstrap
 * pool. Invariant: the host sees exactly the real function's result and
 * errno (tracking saves and restores errno around itself). */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heap/heap.h"

struct kh_real kh_real;

int hooks_resolve(void)
{
#define R(name) (*(void **)&kh_real.name = dlsym(RTLD_NEXT, #name))
	R(malloc);
	R(free);
	R(calloc);
	R(realloc);
	R(posix_memalign);
	R(aligned_alloc);
	R(memalign);
	R(valloc);
	R(pvalloc);
	R(mmap);
	R(munmap);
#undef R
	return kh_real.malloc && kh_real.free && kh_real.calloc && kh_real.realloc && kh_real.posix_memalign &&
			       kh_real.memalign
		       ? 0
		       : -1;
}

enum { PASS = 0, TRACK = 1, SILENT = 2, BOOT = -1 };

/* How to treat this call: BOOT before the real functions are known, PASS
 * when tracking is off, SILENT inside the tracker, TRACK otherwise. */
static inline int mode(void)
{
	int s = atomic_load_explicit(&kh_state, memory_order_relaxed);
	if (__builtin_expect(s <= KH_RESOLVING, 0)) {
		kh_init();
		if (!kh_real.malloc)
			return BOOT;
		s = atomic_load(&kh_state);
	}
	if (s != KH_ON)
		return PASS;
	if (__builtin_expect(kh_self.guard, 0))
		return kh_self.in_liveset || kh_sample_bytes ? PASS : SILENT;
	return TRACK;
}

/* Sampled mode: most allocations leave here after one subtraction. */
static inline int sampled_out(size_t size)
{
	if (!kh_sample_bytes)
		return 0;
	kh_self.sample_left -= (int64_t)size;
	if (kh_self.sample_left > 0)
		return 1;
	kh_self.sample_left = kh_sample_interval();
	return 0;
}

/* libkiln-heap.so: what follows a tracked allocation. frame: the calling
 * hook's frame, where the stack walk can start (the tracker's own frames
 * below it need no walking). A signal handler's allocation inside ev_alloc
 * nests, hence the save and restore. */
static __attribute__((noinline)) void after_alloc_tracker(int m, void *p, size_t size, void *frame)
{
	int e = errno;
	if (m == SILENT) {
		ev_silent_alloc(p, size);
	} else if (!sampled_out(size)) {
		uintptr_t outer = kh_self.host_frame;
		kh_self.host_frame = (uintptr_t)frame;
		ev_alloc(p, size);
		kh_self.host_frame = outer;
	}
	errno = e;
}
static inline int estimating(void)
{
	return atomic_load_explicit(&kh_agent_estimate, memory_order_relaxed);
}

/* Agent mode: this thread's sampling point is reached (its countdown,
 * fast_left in estimate mode, sample_left in exact mode, is <= 0), as it
 * is at a thread's first allocation. */
static __attribute__((noinline)) void agent_point(void *p, size_t size, void *frame)
{
	if (counters_point() < 0)
		return; /* the thread has exited */
	int estimate = estimating();
	int64_t *left = estimate ? &kh_self.fast_left : &kh_self.sample_left;
	if (atomic_load_explicit(&kh_agent_nosample, memory_order_relaxed)) {
		*left = 64 << 20; /* look again later: the rate may change */
		return;
	}
	/* a thread's first sampling point is a random distance from its
	 * start, as Go's, not its first allocation */
	if (!kh_self.rng && (*left += kh_sample_interval()) > 0)
		return;
	*left = kh_sample_interval();
	if (estimate)
		counters_sample_alloc(size);
	int e = errno;
	uintptr_t outer = kh_self.host_frame;
	kh_self.host_frame = (uintptr_t)frame;
	ev_alloc(p, size);
	kh_self.host_frame = outer;
	errno = e;
}

/* Estimate mode's countdown: takes size off fast_left; true when it ran
 * out (a sampling point, or the thread's fast paths are not armed). In
 * unsigned arithmetic: a failing request of over 2^63 bytes wraps, which
 * at worst lets a few calls by. */
static inline int fast_take(size_t size)
{
	int64_t left = (int64_t)((uint64_t)kh_self.fast_left - size);
	kh_self.fast_left = left;
	return left <= 0;
}

/* Agent mode counts calls, made or not (as Go's mallocs): the counters and
 * the sampling countdown are settled before the real call, so malloc's
 * common case ends in a tail call to the real function. Estimate mode
 * counts at the sampling points only. */
static inline int exact_count_alloc(size_t size)
{
	counters_alloc(size);
	kh_self.sample_left -= (int64_t)size;
	return kh_self.sample_left <= 0; /* a sampling point */
}
static inline int agent_count_alloc(size_t size)
{
	return estimating() ? fast_take(size) : exact_count_alloc(size);
}

static inline __attribute__((always_inline)) void after_alloc_at(int m, void *p, size_t size, void *frame)
{
	if (m == PASS)
		return;
	if (kh_agent) {
		if (__builtin_expect(agent_count_alloc(size), 0) && p)
			agent_point(p, size, frame);
		return;
	}
	if (p)
		after_alloc_tracker(m, p, size, frame);
}
/* __builtin_frame_address makes the hook keep a frame pointer: its frame
 * holds the caller's rbp and return address */
#define after_alloc(m, p, size) after_alloc_at(m, p, size, __builtin_frame_address(0))

/* Agent mode, tracking on, outside the tracker. */
static inline int agent_fast(void)
{
	return atomic_load_explicit(&kh_agent_on, memory_order_relaxed) && !kh_self.guard;
}

static __attribute__((noinline)) void *malloc_other(size_t size)
{
	int m = mode();
	if (m == BOOT)
		return boot_alloc(size, 16);
	void *p = kh_real.malloc(size);
	after_alloc(m, p, size);
	return p;
}

/* Agent mode: block p of size bytes came at this thread's sampling point.
 * Only here do the fast paths read the agent's switch: a thread whose gate
 * is open counts on after kh_disable (a harmless few increments) but
 * samples no more. */
static inline __attribute__((always_inline)) void *at_point(void *p, size_t size, void *frame)
{
	if (!atomic_load_explicit(&kh_agent_on, memory_order_relaxed))
		kh_self.sample_left = kh_self.fast_left = INT64_MAX / 2;
	else if (p)
		agent_point(p, size, frame);
	return p;
}

static __attribute__((noinline)) void *malloc_point(size_t size)
{
	return at_point(kh_real.malloc(size), size, __builtin_frame_address(0));
}

/* Every call but estimate mode's common case: at its sampling point (the
 * gate open: a listed thread outside the tracker), exact mode's counting
 * (inline, then a tail call to the real function), and everything else,
 * the tracker of libkiln-heap.so included (its threads' counters are never
 * listed), through malloc_other. */
static __attribute__((noinline)) void *malloc_slow(size_t size)
{
	kh_self.fast_left = 0; /* not armed (agent_point arms it): no drift */
	if (__builtin_expect(!kh_gate_open(), 0))
		return malloc_other(size); /* tail calls, all three */
	if (estimating() || __builtin_expect(exact_count_alloc(size), 0))
		return malloc_point(size);
	return kh_real.malloc(size);
}

/* Estimate mode's common case: a subtraction, then the real function. */
EXPORT void *malloc(size_t size)
{
	if (__builtin_expect(fast_take(size), 0))
		return malloc_slow(size);
	return kh_real.malloc(size);
}

/* The free of a pointer that may be tracked; out of line, so the fast
 * paths of free() need no stack frame. */
static __attribute__((noinline)) void free_tracked(void *p, int m)
{
	int e = errno;
	struct live old;
	if (ev_free_begin(p, m, &old)) {
		ev_free_commit(p, &old);
		if (estimating())
			counters_sample_free(old.size);
	}
	errno = e;
	kh_real.free(p);
}

/* Agent mode: a free whose thread's counters are not on the list. */
static __attribute__((noinline)) void free_unlisted(void *p)
{
	counters_free_slow();
	if (liveset_maybe((uintptr_t)p))
		free_tracked(p, TRACK);
	else
		kh_real.free(p);
}

static __attribute__((noinline)) void free_other(void *p)
{
	if (!p || boot_owns(p))
		return;
	if (agent_fast()) {
		free_unlisted(p);
		return;
	}
	int m = mode();
	if (m == BOOT)
		return;
	if (m != PASS) {
		free_tracked(p, m);
		return;
	}
	kh_real.free(p);
}

/* Agent mode: the filter says p may be a live sample, or p is NULL or a
 * pool block (their filter counters are pinned). */
static __attribute__((noinline)) void free_maybe_sampled(void *p)
{
	if (!p || boot_owns(p))
		return;
	if (!estimating())
		kh_self.counts.frees++;
	free_tracked(p, TRACK);
}

/* Exact mode's common case (gate open, filter published) costs one filter
 * load and a count; everything else leaves it. */
static __attribute__((noinline)) void free_slow(void *p)
{
	_Atomic uint8_t *f = atomic_load_explicit(&kh_agent_filter, memory_order_relaxed);
	/* tail calls, all three */
	if (__builtin_expect(!kh_gate_open() || !f, 0)) {
		free_other(p);
		return;
	}
	if (atomic_load_explicit(&f[liveset_filter_index((uintptr_t)p)], memory_order_relaxed)) {
		free_maybe_sampled(p);
		return;
	}
	if (!estimating())
		kh_self.counts.frees++;
	kh_real.free(p); /* not a live sample: nothing to do */
}

/* Estimate mode's common case: a block the filter says is no live sample
 * (a free inside the tracker, or by a thread not yet listed, included: it
 * has nothing to count either) goes straight to the real function. */
EXPORT void free(void *p)
{
	_Atomic uint8_t *f = atomic_load_explicit(&kh_agent_fast_filter, memory_order_relaxed);
	if (__builtin_expect(!f || atomic_load_explicit(&f[liveset_filter_index((uintptr_t)p)], memory_order_relaxed), 0)) {
		free_slow(p);
		return;
	}
	kh_real.free(p);
}

static __attribute__((noinline)) void *calloc_other(size_t n, size_t size)
{
	int m = mode();
	if (m == BOOT) {
		size_t t;
		if (__builtin_mul_overflow(n, size, &t)) {
			errno = ENOMEM;
			return NULL;
		}
		return boot_alloc(t, 16);
	}
	void *p = kh_real.calloc(n, size);
	after_alloc(m, p, n * size);
	return p;
}

static __attribute__((noinline)) void *calloc_point(size_t n, size_t size)
{
	return at_point(kh_real.calloc(n, size), n * size, __builtin_frame_address(0));
}

/* As malloc_slow; a product that overflows leaves for the real calloc's
 * ENOMEM. */
static __attribute__((noinline)) void *calloc_slow(size_t n, size_t size)
{
	size_t total;
	int over = __builtin_mul_overflow(n, size, &total);
	if (kh_gate_open() && estimating())
		return over ? kh_real.calloc(n, size) : calloc_point(n, size);
	kh_self.fast_left = 0;
	if (__builtin_expect(!kh_gate_open() || over, 0))
		return calloc_other(n, size);
	if (__builtin_expect(exact_count_alloc(total), 0))
		return calloc_point(n, size);
	return kh_real.calloc(n, size);
}

EXPORT void *calloc(size_t n, size_t size)
{
	size_t total;
	if (__builtin_expect(__builtin_mul_overflow(n, size, &total) || fast_take(total), 0))
		return calloc_slow(n, size);
	return kh_real.calloc(n, size);
}

static void *from_boot(void *p, size_t size)
{
	void *q = malloc(size);
	if (q) {
		size_t old = boot_size(p);
		memcpy(q, p, old < size ? old : size);
	}
	return q;
}

/* realloc and reallocarray: the old block leaves the live set before the
 * real call and comes back if the call fails. */
static void *re(void *p, size_t n, size_t size)
{
	size_t total;
	int over = __builtin_mul_overflow(n, size, &total);
	if (p && boot_owns(p)) {
		if (over) {
			errno = ENOMEM;
			return NULL;
		}
		return from_boot(p, total);
	}
	int m = mode();
	if (m == BOOT)
		return p ? NULL : boot_alloc(total, 16);
	/* reallocarray is realloc after an overflow check (glibc's calls
	 * realloc through the PLT, which would record the call twice) */
	if (over) {
		errno = ENOMEM;
		return NULL;
	}
	if (m == PASS)
		return kh_real.realloc(p, total);
	int e = errno;
	struct live old;
	int had = p ? ev_free_begin(p, m, &old) : 0;
	errno = e;
	void *q = kh_real.realloc(p, total);
	e = errno;
	if (kh_agent && p && (q || total == 0) && !estimating())
		counters_free(); /* realloc counts as a free and an allocation */
	if (had) {
		if (q || total == 0) {
			ev_free_commit(p, &old);
			if (estimating())
				counters_sample_free(old.size);
		} else
			ev_free_undo(p, &old);
	}
	errno = e;
	if (q || !p || total)
		after_alloc(m, q, total); /* realloc(p, 0) that freed p allocated nothing */
	return q;
}

/* Agent mode: a realloc whose new block came at this thread's sampling
 * point; tail-called, so its frame holds the host's return address. */
static __attribute__((noinline)) void *realloc_point(void *q, size_t size)
{
	if (kh_self.guard)
		return q; /* estimate mode, inside the tracker: the next call outside samples */
	return at_point(q, size, __builtin_frame_address(0));
}

/* Agent mode's common case, as free()'s: the old block is no live sample
 * (nor NULL nor a pool block, whose filter counters are pinned), so the
 * call is counted as re() counts it (a free when the old block went, an
 * allocation unless the size is 0) around the real one. */
static __attribute__((noinline)) void *realloc_slow(void *p, size_t size)
{
	_Atomic uint8_t *f = atomic_load_explicit(&kh_agent_filter, memory_order_relaxed);
	if (__builtin_expect(!kh_gate_open() || !f ||
				     atomic_load_explicit(&f[liveset_filter_index((uintptr_t)p)], memory_order_relaxed),
			     0))
		return re(p, size, 1);
	void *q = kh_real.realloc(p, size);
	if ((q || !size) && !estimating())
		kh_self.counts.frees++;
	if (size && __builtin_expect(agent_count_alloc(size), 0))
		return realloc_point(q, size);
	return q;
}

/* Estimate mode's common case: an old block that is no live sample needs
 * only the new size counted down. */
EXPORT void *realloc(void *p, size_t size)
{
	_Atomic uint8_t *f = atomic_load_explicit(&kh_agent_fast_filter, memory_order_relaxed);
	if (__builtin_expect(!f || atomic_load_explicit(&f[liveset_filter_index((uintptr_t)p)], memory_order_relaxed), 0))
		return realloc_slow(p, size);
	void *q = kh_real.realloc(p, size);
	if (__builtin_expect(fast_take(size), 0))
		return realloc_point(q, size);
	return q;
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	return re(p, n, size);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	int m = mode();
	if (m == BOOT) {
		void *p = boot_alloc(size, align);
		if (!p)
			return ENOMEM;
		*out = p;
		return 0;
	}
	int rc = kh_real.posix_memalign(out, align, size);
	after_alloc(m, rc == 0 ? *out : NULL, size);
	return rc;
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
	int m = mode();
	if (m == BOOT)
		return boot_alloc(size, align);
	void *p = kh_real.aligned_alloc ? kh_real.aligned_alloc(align, size) : kh_real.memalign(align, size);
	after_alloc(m, p, size);
	return p;
}

EXPORT void *memalign(size_t align, size_t size)
{
	int m = mode();
	if (m == BOOT)
		return boot_alloc(size, align);
	void *p = kh_real.memalign(align, size);
	after_alloc(m, p, size);
	return p;
}

EXPORT void *valloc(size_t size)
{
	int m = mode();
	if (m == BOOT)
		return boot_alloc(size, 4096);
	void *p = kh_real.valloc(size);
	after_alloc(m, p, size);
	return p;
}

EXPORT void *pvalloc(size_t size)
{
	int m = mode();
	if (m == BOOT)
		return boot_alloc(size, 4096);
	void *p = kh_real.pvalloc(size);
	after_alloc(m, p, size);
	return p;
}

/* Anonymous mmap/munmap, with KILN_HEAP_MMAP=1 only. */
EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (!kh_real.mmap) {
		kh_init();
		if (!kh_real.mmap)
			return MAP_FAILED; /* unreachable in practice: dlsym does not mmap through us */
	}
	void *p = kh_real.mmap(addr, len, prot, flags, fd, off);
	if (kh_trace_mmap && p != MAP_FAILED && (flags & MAP_ANONYMOUS) && mode() == TRACK) {
		int e = errno;
		ev_mmap(p, len);
		errno = e;
	}
	return p;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

EXPORT int munmap(void *addr, size_t len)
{
	if (!kh_real.munmap) {
		kh_init();
		if (!kh_real.munmap)
			return -1;
	}
	if (kh_trace_mmap && mode() == TRACK) {
		int e = errno;
		ev_munmap(addr, len);
		errno = e;
	}
	return kh_real.munmap(addr, len);
}
