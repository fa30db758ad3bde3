/* liveset: the set of live allocations (pointer -> size, stack, allocating
 * stream and number, flags), for bad-free detection, realloc, the FREE
 * records' back-references and the exit-time leak scan. 256 shards, each
 * an open-addressing table under its own spinlock, so two threads meet on
 * a lock only when their pointers hash to the same shard. Freed pointers
 * stay as FREED markers until the shard is rehashed, which tells a double
 * free from a free of an unknown pointer (best effort). Tables start small
 * (64 slots) and are purged of markers in place when no larger table is
 * needed, so a program with few live blocks keeps the whole set in cache.
 * Invariant: a live key sits before any FREED marker of the same key on
 * its probe chain. */
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "heap/heap.h"

#define SHARDS 256
#define MIN_CAP 64
#define PURGE_MAX 64 /* live entries rehashed in place, via the stack */
#define F_FREED 0x80000000u

struct slot {
	uintptr_t key; /* 0: empty */
	uint64_t size;
	uint32_t stack, flags;
	uint32_t owner, seq;
};

struct shard {
	atomic_int lock;
	uint32_t mask;
	uint32_t count, used; /* live entries; live + FREED markers */
	struct slot *slots;
	char pad[64 - 3 * sizeof(uint32_t) - sizeof(atomic_int) - sizeof(void *)];
};

static _Alignas(64) struct shard shards[SHARDS];
/* sampled mode: counts of live sampled pointers by hash, so free() of an
 * unsampled pointer costs one load */
#define FILTER_BITS 20
static _Atomic uint8_t *filter;

static inline uint64_t hp(uintptr_t p)
{
	return hash_mix((uint64_t)p ^ 0x9e3779b97f4a7c15ull, 0xd6e8feb86659fd93ull);
}

static inline struct shard *shard_of(uintptr_t p)
{
	return &shards[(hp(p) >> 24) & (SHARDS - 1)];
}

static void to_live(const struct slot *e, struct live *o)
{
	o->size = e->size;
	o->stack = e->stack;
	o->flags = e->flags & ~F_FREED;
	o->owner = e->owner;
	o->seq = e->seq;
}

static void from_live(struct slot *e, uintptr_t p, const struct live *v)
{
	e->key = p;
	e->size = v->size;
	e->stack = v->stack;
	e->flags = v->flags;
	e->owner = v->owner;
	e->seq = v->seq;
}

void liveset_init(void)
{
	if (kh_sample_bytes && !filter)
		filter = heap_map(1u << FILTER_BITS);
}

static void put_slot(struct slot *t, uint32_t mask, const struct slot *o)
{
	uint32_t j = (uint32_t)hp(o->key) & mask;
	while (t[j].key)
		j = (j + 1) & mask;
	t[j] = *o;
}

/* Drop the FREED markers: in place when the table keeps its size and holds
 * few live entries (no system call), else into a new table. */
static int grow(struct shard *s)
{
	uint32_t cap = MIN_CAP;
	while (cap < (s->count + 1) * 3)
		cap *= 2;
	if (s->slots && cap == s->mask + 1 && s->count <= PURGE_MAX) {
		struct slot keep[PURGE_MAX];
		uint32_t n = 0;
		for (uint32_t i = 0; i <= s->mask; i++)
			if (s->slots[i].key && !(s->slots[i].flags & F_FREED))
				keep[n++] = s->slots[i];
		memset(s->slots, 0, (size_t)cap * sizeof *s->slots);
		for (uint32_t i = 0; i < n; i++)
			put_slot(s->slots, s->mask, &keep[i]);
		s->used = s->count;
		return 0;
	}
	struct slot *n = heap_map((size_t)cap * sizeof *n);
	if (!n)
		return -1;
	if (s->slots) {
		for (uint32_t i = 0; i <= s->mask; i++) {
			struct slot *o = &s->slots[i];
			if (o->key && !(o->flags & F_FREED))
				put_slot(n, cap - 1, o);
		}
		heap_unmap(s->slots, (size_t)(s->mask + 1) * sizeof *n);
	}
	s->slots = n;
	s->mask = cap - 1;
	s->used = s->count;
	return 0;
}

static inline void filter_add(uint64_t h, int d)
{
	if (!filter)
		return;
	_Atomic uint8_t *c = &filter[h >> (64 - FILTER_BITS)];
	uint8_t v = atomic_load_explicit(c, memory_order_relaxed);
	if (v == 255)
		return; /* saturated: sticky */
	atomic_fetch_add_explicit(c, (uint8_t)d, memory_order_relaxed);
}

int liveset_maybe(uintptr_t p)
{
	if (!filter)
		return 1;
	return atomic_load_explicit(&filter[hp(p) >> (64 - FILTER_BITS)], memory_order_relaxed) != 0;
}

int liveset_insert(uintptr_t p, const struct live *v, struct live *old)
{
	uint64_t h = hp(p);
	struct shard *s = shard_of(p);
	int rc = 0;
	kh_self.in_liveset++;
	spin_lock(&s->lock);
	if ((!s->slots || (s->used + 1) * 4 > (s->mask + 1) * 3) && grow(s) < 0) {
		rc = -1;
		goto out;
	}
	struct slot *tomb = NULL, *at = NULL;
	for (uint32_t i = (uint32_t)h & s->mask;; i = (i + 1) & s->mask) {
		struct slot *e = &s->slots[i];
		if (!e->key || e->key == p) {
			at = e;
			break;
		}
		if (!tomb && (e->flags & F_FREED))
			tomb = e;
	}
	if (at->key == p && !(at->flags & F_FREED)) {
		/* already live (the allocator returned it twice?): replaced */
		to_live(at, old);
		if (!(at->flags & LIVE_SILENT))
			filter_add(h, -1);
		rc = 1;
	} else if (tomb) {
		at = tomb;
		s->count++;
	} else {
		if (!at->key)
			s->used++;
		s->count++;
	}
	from_live(at, p, v);
	if (!(v->flags & LIVE_SILENT))
		filter_add(h, 1);
out:
	spin_unlock(&s->lock);
	kh_self.in_liveset--;
	return rc;
}

int liveset_remove(uintptr_t p, struct live *out)
{
	uint64_t h = hp(p);
	struct shard *s = shard_of(p);
	int rc = 0;
	kh_self.in_liveset++;
	spin_lock(&s->lock);
	if (s->slots) {
		for (uint32_t i = (uint32_t)h & s->mask, n = 0; n <= s->mask; i = (i + 1) & s->mask, n++) {
			struct slot *e = &s->slots[i];
			if (!e->key)
				break;
			if (e->key != p)
				continue;
			if (e->flags & F_FREED) {
				rc = -1;
				break;
			}
			to_live(e, out);
			e->flags |= F_FREED;
			s->count--;
			if (!(e->flags & LIVE_SILENT))
				filter_add(h, -1);
			rc = 1;
			break;
		}
	}
	spin_unlock(&s->lock);
	kh_self.in_liveset--;
	return rc;
}

void liveset_fork_lock(void)
{
	for (int i = 0; i < SHARDS; i++)
		spin_lock(&shards[i].lock);
}

void liveset_fork_unlock(void)
{
	for (int i = 0; i < SHARDS; i++)
		spin_unlock(&shards[i].lock);
}

void liveset_mark_all_silent(void)
{
	for (int i = 0; i < SHARDS; i++) {
		struct shard *s = &shards[i];
		for (uint32_t j = 0; s->slots && j <= s->mask; j++)
			if (s->slots[j].key)
				s->slots[j].flags |= LIVE_SILENT;
	}
	if (filter)
		memset((void *)filter, 0, 1u << FILTER_BITS);
}

int liveset_trylock_all(void)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < SHARDS; i++) {
		while (!spin_trylock(&shards[i].lock)) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) * 1000000000l + (t.tv_nsec - t0.tv_nsec) > 200000000l) {
				while (i--)
					spin_unlock(&shards[i].lock);
				return -1;
			}
			kh_yield();
		}
	}
	return 0;
}

size_t liveset_count_locked(void)
{
	size_t n = 0;
	for (int i = 0; i < SHARDS; i++)
		n += shards[i].count;
	return n;
}

void liveset_each_locked(void (*fn)(void *ctx, uintptr_t p, uint64_t size, uint32_t stack, uint32_t flags),
			 void *ctx)
{
	for (int i = 0; i < SHARDS; i++) {
		struct shard *s = &shards[i];
		for (uint32_t j = 0; s->slots && j <= s->mask; j++)
			if (s->slots[j].key && !(s->slots[j].flags & F_FREED))
				fn(ctx, s->slots[j].key, s->slots[j].size, s->slots[j].stack, s->slots[j].flags);
	}
}
