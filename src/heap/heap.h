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
	int guard;          /* >0 while inside the tracker: nested calls pass through */
	int in_liveset;     /* a liveset shard lock is held: skip the liveset too */
	int exited;         /* the thread's key destructor ran: events go to the meta stream */
	int announced;      /* HT_THREAD written for this thread */
	uint32_t tid;
	struct tbuf *buf;
	int64_t sample_left; /* sampled mode: bytes until the next sample */
	uint64_t rng;
	char comm[16];
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

/* ---- bootstrap.c: the pool serving allocations before dlsym works ---- */
void *boot_alloc(size_t size, size_t align) HIDDEN;
int boot_owns(const void *p) HIDDEN;
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

/* A thread's caches, kept with its buffer (buffer.c): the previous walk,
 * root first (the next walk of a thread mostly repeats its root side), a
 * stage for a walk's fresh frames, the hashed rules and stack ids. */
struct kh_caches {
	struct unwind_frame memo[UNWIND_MEMO];
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
int liveset_maybe(uintptr_t p) HIDDEN;  /* sampled mode's filter: 0 means surely absent */
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
