/* heap.h: the internal interface between the files of the heap tracker
 * (libkiln-heap.so). Invariant: nothing declared here calls malloc; all of
 * the tracker's own memory comes from heap_map() (raw mmap), and every
 * function that may run code which allocates is called with the thread's
 * reentrancy guard set. */
#ifndef KILN_HEAP_HEAP_H
#define KILN_HEAP_HEAP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HIDDEN __attribute__((visibility("hidden")))
#define EXPORT __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- guard.c: per-thread state and small locks ---- */
struct tbuf;
struct kh_thread {
	/* gate == KC_ON exactly when guard == 0 and count_state == KC_ON: the
	 * agent's fast paths test both with one compare */
	union {
		struct {
			int count_state; /* enum kh_count_state: counts registered for readers? */
			int guard;       /* >0 while inside the tracker: nested calls pass through */
		};
		uint64_t gate;
	};
	int in_liveset;     /* a liveset shard lock is held: skip the liveset too */
	int exited;         /* the thread's key destructor ran: events go to the meta stream */
	int announced;      /* HT_THREAD written for this thread */
	uint32_t tid;
	struct tbuf *buf;
	int64_t sample_left; /* sampled mode: bytes until the next sample */
	/* agent mode, estimated counts: bytes the inline fast paths of malloc,
	 * calloc and realloc may hand out before this thread's next sampling
	 * point. Only agent_point arms it; <= 0 (as it starts, and stays in
	 * exact mode and in libkiln-heap.so) sends every call to the paths
	 * that count and check the thread's state. */
	int64_t fast_left;
	uint64_t rng;
	char comm[16];
	/* agent mode (libkiln.so) only */
	uint32_t tag_root;  /* stack trie node of the current kiln_tag_push tag; 0: none */
	int ignored;        /* an agent thread: guard held for good (agent_heap_thread_ignore) */
	/* allocation counters (exact, or estimated from the samples): written
	 * by their thread only, with plain one-instruction increments; read by
	 * others with relaxed atomic loads (aligned 64-bit stores do not tear
	 * on x86-64); see counters.c */
	struct kh_counts {
		uint64_t bytes, frees;
		uint64_t buckets[64]; /* KH_RAW_BUCKETS: allocations by size */
	} counts;
	/* the thread's stream in the trace (buffer.c, events.c) */
	uintptr_t host_frame; /* the allocation hook's frame (its rbp; 0: none), where stack walks start */
	uint32_t serial;     /* its HT_CONTEXT serial; 0: none (after the thread's exit) */
	uint32_t nallocs;    /* ALLOC records written in the stream */
	uint64_t time_us;    /* the stream's time */
};
extern TLS struct kh_thread kh_self HIDDEN;
uint32_t kh_tid(void) HIDDEN;
void kh_yield(void) HIDDEN;

static inline void spin_lock(atomic_int *l)
{
	unsigned n = 0;
	while (atomic_exchange_explicit(l, 1, memory_order_acquire)) {
		while (atomic_load_explicit(l, memory_order_relaxed)) {
			if (++n < 256)
				__builtin_ia32_pause();
			else
				kh_yield();
		}
	}
}
static inline int spin_trylock(atomic_int *l)
{
	return !atomic_exchange_explicit(l, 1, memory_order_acquire);
}
static inline void spin_unlock(atomic_int *l)
{
	atomic_store_explicit(l, 0, memory_order_release);
}

/* ---- control.c: state, settings, init, fork, exit ---- */
enum kh_state { KH_UNINIT, KH_RESOLVING, KH_OFF, KH_ON, KH_FINISHED };
extern _Atomic int kh_state HIDDEN;      /* enum kh_state */
extern uint64_t kh_sample_bytes HIDDEN;  /* 0: full tracking */
extern int kh_trace_mmap HIDDEN;
extern uint64_t kh_start_ns HIDDEN;
void kh_init(void) HIDDEN;          /* resolve (if needed) and start tracking; idempotent */
void kh_fail(const char *what, int err) HIDDEN; /* switch off, warn once */
/* Writes the concatenated strings to stderr as one line, without malloc
 * (cut at 255 bytes). */
void kh_say(const char *const *parts, size_t nparts) HIDDEN;
void kh_finish(int how, int status) HIDDEN;     /* HT_END, final flush, tracking off */
uint64_t kh_now_us(void) HIDDEN;
/* Event times: the ticker thread's clock (control.c, updated every
 * millisecond while the program allocates), else kh_now_us(). */
extern _Atomic uint64_t kh_clock_us HIDDEN; /* UINT64_MAX: not ticking */
static inline uint64_t kh_event_us(void)
{
	uint64_t t = atomic_load_explicit(&kh_clock_us, memory_order_relaxed);
	return __builtin_expect(t != UINT64_MAX, 1) ? t : kh_now_us();
}
void *kh_ticker(void *arg) HIDDEN; /* the ticker thread's body (started with the flusher) */
void kh_ticker_reset(void) HIDDEN;  /* fork child: no ticker yet */
void *heap_map(size_t len) HIDDEN;  /* zeroed pages, NULL on failure */
void heap_unmap(void *p, size_t len) HIDDEN;
int64_t kh_sample_interval(void) HIDDEN; /* exponential, mean kh_sample_bytes */
double kh_random01(void) HIDDEN;          /* uniform in [0, 1), the thread's generator */
/* How many allocations of size bytes one sample stands for when a sample
 * is taken every period bytes on average (Poisson): 1 / P(sampled). */
double kh_sample_weight(uint64_t size, double period) HIDDEN;

/* ---- agent mode: the heap of libkiln.so (src/agent) ----
 * src/agent defines kh_agent_sample(); in libkiln-heap.so it is an undefined
 * weak symbol (NULL), so the mode is fixed at link time and known at the
 * first malloc, before any constructor. In agent mode there is no trace
 * file and no flush thread: tracking is always sampled (KILN_AGENT_HEAP_RATE
 * bytes, default 512 KiB), each sample goes to kh_agent_sample, the live
 * samples stay in the liveset, and every thread keeps counters: estimated
 * from its samples (the default), or exact (KILN_AGENT_HEAP_COUNTS=exact,
 * or when the rate is 0). */
void kh_agent_sample(uint32_t stack, uint64_t size) __attribute__((weak)) HIDDEN;
extern int kh_agent HIDDEN;              /* kh_agent_sample != NULL, set by kh_init */
extern _Atomic int kh_agent_nosample HIDDEN; /* agent mode, rate 0: counters only */
/* agent mode and kh_state == KH_ON, in one word for the hot path: set when
 * tracking starts, cleared by kh_fail and kh_disable */
extern _Atomic int kh_agent_on HIDDEN;
/* The liveset's filter while kh_agent_on (NULL otherwise): free()'s fast
 * path needs no other global. NULL's counter and the bootstrap pool's are
 * pinned in it, so free(NULL) and a free of a pool block leave that path. */
extern _Atomic uint8_t *_Atomic kh_agent_filter HIDDEN;
/* Estimate mode: the counters are estimated from the samples, so a call
 * between two sampling points needs no counting: the inline fast paths of
 * malloc, calloc, realloc and free only count fast_left down and test the
 * filter. Set when the agent starts with a non-zero rate and exact counts
 * were not asked for. */
extern _Atomic int kh_agent_estimate HIDDEN;
/* kh_agent_filter while kh_agent_estimate (NULL otherwise): the filter of
 * free()'s and realloc()'s inline fast paths */
extern _Atomic uint8_t *_Atomic kh_agent_fast_filter HIDDEN;
#define KH_AGENT_DEFAULT_RATE (512 * 1024)
/* Sets the agent's sampling period (0: no samples); takes effect at each
 * thread's next sampling point. */
void kh_agent_set_rate(uint64_t rate) HIDDEN;
/* Switches the tracker off for good in this process (a fork child the
 * agent does not follow): every hook passes straight through. */
void kh_disable(void) HIDDEN;
/* Stack trie nodes of kiln_tag_push tags have these fake return addresses
 * (tag index added), above any user-space address; a tag node is the root
 * of every stack sampled under the tag. */
#define KH_TAG_IP_BASE 0xfff0000000000000ull

/* ---- counters.c: exact per-thread allocation counters (agent mode) ----
 * The hot path is two plain TLS increments per allocation call (one
 * instruction each, no lock prefix) and one per free; the allocation count
 * is the sum of the size buckets. A thread registers its counters once (at
 * its first sampling point, which every thread reaches at its first
 * allocation, or at its first free), and its key destructor folds them
 * into the retired total. */
#define KH_SIZE_BUCKETS 16
#define KH_RAW_BUCKETS 64
enum kh_count_state { KC_NONE, KC_ON, KC_BUSY, KC_RETIRED };
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "kh_thread.gate packs count_state in its low half");
/* This thread is outside the tracker and its counters are listed. */
static inline int kh_gate_open(void)
{
	return kh_self.gate == KC_ON;
}
/* Raw bucket b counts sizes s with floor(log2((s - 1) | 15)) == b: powers
 * of two, 3 (up to 16 B) to 63, folded by counters_sum into the reported
 * histogram (16 B, 64 B, ... 4 GiB, +Inf: powers of 4). Size 0 lands in 63
 * with requests over 2^63 bytes (which fail): 63 is folded into the first
 * bucket. Three instructions, no branch. */
static inline unsigned kh_raw_bucket(uint64_t size)
{
	return (unsigned)(63 - __builtin_clzll((size - 1) | 15));
}
static inline unsigned kh_bucket_of_raw(unsigned b)
{
	if (b >= 63)
		return 0;
	unsigned r = (b - 2) >> 1;
	return r < KH_SIZE_BUCKETS - 1 ? r : KH_SIZE_BUCKETS - 1;
}
/* Exact mode: an allocation; the caller then takes it off sample_left,
 * whose slow path (sample_left <= 0) calls counters_point. */
static inline void counters_alloc(uint64_t size)
{
	kh_self.counts.bytes += size;
	kh_self.counts.buckets[kh_raw_bucket(size)]++;
}
/* A free: counted in exact mode; in estimate mode it enlists the thread
 * and counts nothing (counters_sample_free counts the sampled ones). */
void counters_free_slow(void) HIDDEN;
static inline void counters_free(void)
{
	if (__builtin_expect(kh_self.count_state != KC_ON, 0)) {
		counters_free_slow();
		return;
	}
	kh_self.counts.frees++;
}
/* At a sampling point: registers the thread's counters if needed. Returns
 * 0, or -1 when the thread has exited (its counts went to the retired
 * total; sample_left stays negative so it comes back): no sample then. */
int counters_point(void) HIDDEN;
/* Estimate mode: a sampled allocation of size bytes, and the free of one,
 * stand for kh_sample_weight(size) of them (rounded at random, so the
 * counts stay unbiased). */
void counters_sample_alloc(uint64_t size) HIDDEN;
void counters_sample_free(uint64_t size) HIDDEN;
struct kh_totals {
	uint64_t allocs, bytes, frees, buckets[KH_SIZE_BUCKETS];
};
void counters_sum(struct kh_totals *out) HIDDEN; /* every thread's, live and exited */
void counters_init(void) HIDDEN;
void counters_fork_lock(void) HIDDEN;
void counters_fork_unlock(void) HIDDEN;
void counters_after_fork_child(void) HIDDEN; /* other threads' counts retire */

/* ---- bootstrap.c: the pool serving allocations before dlsym works ---- */
void *boot_alloc(size_t size, size_t align) HIDDEN;
#define BOOT_POOL (256 * 1024)
extern unsigned char kh_boot_pool[BOOT_POOL] HIDDEN;
static inline int boot_owns(const void *p)
{
	return (uintptr_t)p - (uintptr_t)kh_boot_pool < BOOT_POOL;
}
size_t boot_size(const void *p) HIDDEN;

/* ---- hooks.c: the real functions ---- */
struct kh_real {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
};
extern struct kh_real kh_real HIDDEN;
int hooks_resolve(void) HIDDEN; /* 0 or -1 when a required symbol is missing */

/* ---- varint encoding ---- */
static inline uint8_t *put_v(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}
#define MAX_RECORD 64 /* the largest fixed-field record: type + 5 varints */

/* ---- buffer.c: per-thread event buffers, the block pool and queue ---- */
#define BLOCK_BYTES (64 * 1024 - 64)
struct block {
	struct block *next;
	uint32_t len;
	uint8_t data[BLOCK_BYTES];
};
/* Append one record of at most MAX_RECORD bytes to the calling thread's
 * buffer: begin returns where to write, end takes the end of the record. */
uint8_t *buffer_begin(void) HIDDEN;
void buffer_end(uint8_t *end) HIDDEN;
/* Hand every thread's partial buffer to the queue. block: wait for busy
 * threads (exit) rather than skipping them (the flusher's tick). */
void buffer_capture_all(int block) HIDDEN;
void buffer_capture_self(void) HIDDEN;
struct block *pool_get(void) HIDDEN;   /* NULL on failure */
void pool_put(struct block *b) HIDDEN;
void queue_push(struct block *b) HIDDEN;
struct block *queue_pop(void) HIDDEN;
struct timespec;
void buffer_wait(const struct timespec *deadline) HIDDEN; /* until a block is queued */
void buffer_after_fork_child(int follow) HIDDEN;
void buffer_fork_lock(void) HIDDEN;
void buffer_fork_unlock(void) HIDDEN;
void buffer_init(void) HIDDEN;
void buffer_thread_exit(void *tbuf) HIDDEN;
struct kh_caches;
struct kh_caches *buffer_stack_cache(void) HIDDEN; /* this thread's caches, NULL if none */
extern pthread_cond_t kh_flush_cv HIDDEN; /* signalled when a full block is queued */
/* meta stream: records not owned by one thread (stacks, modules, rss, end) */
void meta_append(const uint8_t *rec, size_t len) HIDDEN;
struct block *meta_take(void) HIDDEN; /* detach the chain, oldest first */

/* ---- writer.c: the file, chunks, and the flush thread ---- */
int writer_open(int followed) HIDDEN;   /* 0 or -errno */
unsigned long writer_chunks(void) HIDDEN; /* chunks written so far */
void writer_drain(void) HIDDEN;         /* write meta then queued blocks, in order */
void writer_start_flusher(void) HIDDEN; /* lazily, once per process */
void writer_fork_lock(void) HIDDEN;
void writer_fork_unlock(void) HIDDEN;
void writer_after_fork_child(void) HIDDEN;

/* ---- stacks.c: the stack trie ---- */
uint32_t stacks_capture(void) HIDDEN; /* the caller's stack id (0: none) */
void stacks_init(void) HIDDEN;
void stacks_reset(void) HIDDEN;       /* fork child with a new trace */
void stacks_fork_lock(void) HIDDEN;
void stacks_fork_unlock(void) HIDDEN;
void stacks_clear_cache(void *cache) HIDDEN; /* a struct kh_caches, for a new thread or a followed fork child */
void stacks_check_report(void) HIDDEN; /* KILN_HEAP_UNWIND_CHECK's summary, at exit */
#define STACK_CACHE_ENTRIES 4096
/* agent mode: the node (parent, ip) as a root of stacks (a tag), made if
 * needed; 0 when out of memory */
uint32_t stacks_node(uint32_t parent, uint64_t ip) HIDDEN;
/* agent mode: the parent and ip of node id; 0, or -1 for an unknown id.
 * Safe from any thread: a node is readable once its id was handed out. */
int stacks_lookup(uint32_t id, uint32_t *parent, uint64_t *ip) HIDDEN;
struct stack_cache_entry { uint64_t ip; uint32_t parent, id; };

/* ---- unwind.c: the walker (x86_64 DWARF CFI, cached rules) ---- */
#define UNWIND_CACHE_BITS 12 /* sets of two rules */
#define UNWIND_MAX 128              /* frames reported, as unw_backtrace's limit here */
#define UNWIND_MEMO (UNWIND_MAX + 1) /* frames kept: those and the walker's own */
enum { UNWIND_FAIL, UNWIND_END, UNWIND_CFA_RSP, UNWIND_CFA_RBP };
struct unwind_rule {
	uint64_t pc;     /* the address the rule is for (0: empty) */
	int32_t cfa_off; /* CFA = rsp or rbp (kind) + cfa_off */
	int16_t rbp_off; /* the caller's rbp at CFA + rbp_off; 0: rbp unchanged */
	int8_t ra_off;   /* the return address at CFA + ra_off */
	uint8_t kind;    /* UNWIND_* */
};
/* One frame of a walk: its state, the step to its caller (what was read
 * there is the caller's pc + 1 and rbp, or 0 for the last frame), its
 * stack id. */
struct unwind_frame {
	uint64_t pc, sp, bp;   /* pc: its return address - 1 (exact for the walker's own frame) */
	uint64_t ra_at, bp_at; /* where its caller's return address and rbp were read (bp_at 0: not) */
	uint32_t id;           /* stacks.c: the id of the stack from the root to this frame */
	uint8_t end;           /* the outermost frame: the walk ended here */
	uint8_t uses_bp;       /* its CFA is rbp-based */
	uint8_t bp_matters;    /* the walk from here to the root reads this frame's rbp */
	uint8_t check_bp;      /* a repeat of the walk compares the rbp it read (its caller's matters) */
};

/* What a repeat of the walk checks at a memo frame: the two words read on
 * the step to its caller (an address whose word needs no check points at
 * a constant 0), as they were. */
struct unwind_check {
	uint64_t ra_at, ra, bp_at, bp;
};

/* A thread's caches, kept with its buffer (buffer.c): the previous walk,
 * root first (the next walk of a thread mostly repeats its root side), its
 * checks, a stage for a walk's fresh frames, the hashed rules and stack
 * ids. */
struct kh_caches {
	struct unwind_frame memo[UNWIND_MEMO];
	struct unwind_check check[UNWIND_MEMO];
	struct unwind_frame stage[UNWIND_MEMO];
	uint32_t memo_n, memo_root;
	uint32_t memo_own;  /* the memo's last frame is the walker's own (not reported) */
	uint64_t memo_hi; /* the stack top the memo's addresses were checked against */
	uint32_t rules_gen, stack_epoch;
	struct stack_cache_entry stack[STACK_CACHE_ENTRIES];
	struct unwind_rule rules[1 << UNWIND_CACHE_BITS][2]; /* the latest used first */
};
/* Walks the calling stack into c->memo, root first, in c->memo_n frames,
 * from the host's frame that called the hook at kh_self.host_frame (when
 * set), else from the walker's own frame, then the memo's last and not
 * reported (c->memo_own); each frame's pc + 1 is its return address, as
 * unw_backtrace reports them, leaf first. Where the walk meets a frame
 * of the previous one (same pc, sp and, when it matters, rbp) it only
 * verifies the values the previous walk read on its way to the root: the
 * first *fresh frames are then the previous walk's, ids included. Returns
 * 0; 1 when cut at UNWIND_MAX frames (the caller empties the memo after
 * use); -1 when a frame needs libunwind (the memo is emptied). */
int unwind_walk(struct kh_caches *c, uint32_t *fresh) HIDDEN;
void unwind_forget(void) HIDDEN; /* objects were unloaded: drop every cached rule */

/* ---- modules.c ---- */
void modules_scan(void) HIDDEN;        /* emit HT_MODULE for new mappings */
int modules_knows(uint64_t ip) HIDDEN; /* ip inside a reported module */
void modules_check(void) HIDDEN;       /* rescan if the loader's counters moved */
void modules_reset(void) HIDDEN;
extern uint64_t kh_self_start HIDDEN; /* libkiln-heap.so's code: [start, end) */
extern uint64_t kh_self_end HIDDEN;
static inline int modules_self(uint64_t ip) /* ip inside libkiln-heap.so */
{
	return ip - kh_self_start < kh_self_end - kh_self_start;
}
void modules_fork_lock(void) HIDDEN;
void modules_fork_unlock(void) HIDDEN;

/* ---- liveset.c: the live allocations ---- */
#define LIVE_SILENT 1u /* allocated inside the tracker or inherited: no events */
/* A live block and, for back-referencing frees, the stream that allocated
 * it and its allocation number there. */
struct live {
	uint64_t size;
	uint32_t stack, flags;
	uint32_t owner, seq; /* owner 0: no stream */
};
/* Insert p: 0, or 1 when p was already live (the allocator gave it out
 * twice, or a free went by unseen): *old is that block; -1 when out of
 * memory. */
int liveset_insert(uintptr_t p, const struct live *v, struct live *old) HIDDEN;
/* Remove p: 1 (and the block in *out) when it was live, -1 when it was
 * freed before (double free), 0 when unknown. */
int liveset_remove(uintptr_t p, struct live *out) HIDDEN;
/* Sampled mode's filter: 0 means p is surely not live. Its counters are
 * indexed by address bits (64-byte granules in 64 MiB windows), so the
 * frees of a program's busy heap touch few cache lines (a byte per 64 bytes
 * of heap), not one random line each. Addresses 64 MiB apart share a
 * counter (glibc's thread arenas among them): with live samples a few
 * thousand at most, a free takes the slow path for nothing about once in a
 * few hundred calls at worst, and the index costs free() three instructions. */
#define FILTER_BITS 20
extern _Atomic uint8_t *kh_live_filter HIDDEN;
static inline uint32_t liveset_filter_index(uintptr_t p)
{
	return (uint32_t)(p >> 6) & ((1u << FILTER_BITS) - 1);
}
static inline int liveset_maybe(uintptr_t p)
{
	_Atomic uint8_t *f = kh_live_filter;
	return !f || atomic_load_explicit(&f[liveset_filter_index(p)], memory_order_relaxed) != 0;
}
void liveset_init(void) HIDDEN;
void liveset_fork_lock(void) HIDDEN;
void liveset_fork_unlock(void) HIDDEN;
void liveset_mark_all_silent(void) HIDDEN;
/* The exit scan: lock every shard (-1, nothing locked, when one stays busy
 * for ~200 ms), then count or visit the entries; liveset_fork_unlock ends. */
int liveset_trylock_all(void) HIDDEN;
size_t liveset_count_locked(void) HIDDEN;
void liveset_each_locked(void (*fn)(void *ctx, uintptr_t p, uint64_t size, uint32_t stack, uint32_t flags),
			 void *ctx) HIDDEN;

/* ---- leakscan.c: the exit-time leak scan (KILN_HEAP_LEAKCHECK=1) ---- */
extern int kh_leakcheck HIDDEN;
void leakscan_init(void) HIDDEN;
void leakscan_run(void) HIDDEN; /* at exit, guard set, before HT_END: HT_LEAK records */
/* At the very end of exit, guard not set, before leakscan_run: when the leak
 * scan is on and the caller is the last host thread, frees what libstdc++
 * (__gnu_cxx::__freeres) and glibc (__libc_freeres) keep until exit, as
 * valgrind does; KILN_HEAP_FREERES=0 and KILN_HEAP_CXX_FREERES=0 turn them off. */
void leakscan_freeres(void) HIDDEN;
void leakscan_note_map(void *p, size_t len) HIDDEN;   /* heap_map's ranges are never roots */
void leakscan_note_unmap(void *p, size_t len) HIDDEN;
void leakscan_fork_child(void) HIDDEN;

/* ---- events.c: the record writers used by the hooks ---- */
void ev_alloc(void *p, size_t size) HIDDEN;        /* after the real allocation */
void ev_silent_alloc(void *p, size_t size) HIDDEN; /* inside the tracker */
/* Before the real free: 1 and *old when p was live (tracked), else 0; a
 * bad free (mode 1, full tracking) is recorded and written at once. */
int ev_free_begin(void *p, int mode, struct live *old) HIDDEN;
void ev_free_commit(void *p, const struct live *old) HIDDEN; /* the free happened */
void ev_free_undo(void *p, const struct live *old) HIDDEN;   /* it did not (realloc failed) */
void ev_mmap(void *p, size_t len) HIDDEN;
void ev_munmap(void *p, size_t len) HIDDEN;

#endif
