/* liveset: the set of live allocations (pointer -> size, stack, allocating
 * stream and number, flags), for bad-free detection, realloc, the FREE
 * records' back-references and the exit-time leak scan. 256 shards, each
 * an open-addressing table (linear probing, at most half full) under its
 * own spinlock. A pointer's shard comes from its 1 MiB region of the
 * address space, so a thread working in its own arena keeps to a few
 * shards of its own: their locks and slots stay in its core's cache, and
 * two threads rarely meet on a lock. A removal shifts the rest of its
 * probe run back (no tombstones, so a table never needs purging); each
 * shard remembers its last 16 freed pointers, which tells a double free
 * from a free of an unknown pointer (best effort).
 * Invariant: every key sits in the probe run that starts at its home slot,
 * with no empty slot between its home and itself. */
#include <string.h>
#include <time.h>

#include "heap/heap.h"

#define SHARDS 256
#define REGION_SHIFT 20
#define MIN_CAP 64
#define RECENT_FREES 16

struct slot {
	uintptr_t key; /* 0: empty */
	uint64_t size;
	uint32_t stack, flags;
	uint32_t owner, seq;
};

struct shard {
	_Alignas(64) atomic_int lock; /* a shard is whole cache lines: no false sharing */
	uint32_t mask;
	uint32_t count; /* live entries */
	uint32_t freed_at;
	struct slot *slots;
	uintptr_t freed[RECENT_FREES]; /* the last pointers freed */
};

static struct shard shards[SHARDS];
/* sampled mode: counts of live sampled pointers by hash, so free() of an
 * unsampled pointer costs one load */
#define FILTER_BITS 20
static _Atomic uint8_t *filter;

/* Multiplicative hashes: the product's high half mixed down, so that the
 * low bits (the table index) depend on every bit of the pointer. */
static inline uint64_t hp(uintptr_t p)
{
	uint64_t h = (uint64_t)p * 0x9e3779b97f4a7c15ull;
	return h ^ h >> 32;
}

static inline struct shard *shard_of(uintptr_t p)
{
	return &shards[((uint64_t)p >> REGION_SHIFT) * 0xd6e8feb86659fd93ull >> 56];
}

static void to_live(const struct slot *e, struct live *o)
{
	o->size = e->size;
	o->stack = e->stack;
	o->flags = e->flags;
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

static int grow(struct shard *s)
{
	uint32_t cap = s->slots ? (s->mask + 1) * 2 : MIN_CAP;
	struct slot *n = heap_map((size_t)cap * sizeof *n);
	if (!n)
		return -1;
	for (uint32_t i = 0; s->slots && i <= s->mask; i++) {
		struct slot *o = &s->slots[i];
		if (!o->key)
			continue;
		uint32_t j = (uint32_t)hp(o->key) & (cap - 1);
		while (n[j].key)
			j = (j + 1) & (cap - 1);
		n[j] = *o;
	}
	if (s->slots)
		heap_unmap(s->slots, (size_t)(s->mask + 1) * sizeof *n);
	s->slots = n;
	s->mask = cap - 1;
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
	if ((!s->slots || (s->count + 1) * 2 > s->mask + 1) && grow(s) < 0) {
		rc = -1;
		goto out;
	}
	struct slot *at;
	for (uint32_t i = (uint32_t)h & s->mask;; i = (i + 1) & s->mask) {
		at = &s->slots[i];
		if (!at->key || at->key == p)
			break;
	}
	if (at->key == p) {
		/* already live (the allocator returned it twice?): replaced */
		to_live(at, old);
		if (!(at->flags & LIVE_SILENT))
			filter_add(h, -1);
		rc = 1;
	} else {
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

/* Empty slot i, shifting back the entries after it that may move. */
static void delete_at(struct shard *s, uint32_t i)
{
	uint32_t mask = s->mask;
	for (uint32_t j = (i + 1) & mask; s->slots[j].key; j = (j + 1) & mask) {
		uint32_t home = (uint32_t)hp(s->slots[j].key) & mask;
		/* j may move to i only if its home is not in (i, j] cyclically */
		int between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!between) {
			s->slots[i] = s->slots[j];
			i = j;
		}
	}
	s->slots[i].key = 0;
}

int liveset_remove(uintptr_t p, struct live *out)
{
	uint64_t h = hp(p);
	struct shard *s = shard_of(p);
	int rc = 0;
	kh_self.in_liveset++;
	spin_lock(&s->lock);
	if (s->slots) {
		for (uint32_t i = (uint32_t)h & s->mask;; i = (i + 1) & s->mask) {
			struct slot *e = &s->slots[i];
			if (!e->key)
				break;
			if (e->key != p)
				continue;
			to_live(e, out);
			if (!(e->flags & LIVE_SILENT))
				filter_add(h, -1);
			delete_at(s, i);
			s->count--;
			s->freed[s->freed_at++ % RECENT_FREES] = p;
			rc = 1;
			break;
		}
	}
	if (!rc)
		for (int i = 0; i < RECENT_FREES; i++)
			if (s->freed[i] == p)
				rc = -1;
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
			if (s->slots[j].key)
				fn(ctx, s->slots[j].key, s->slots[j].size, s->slots[j].stack, s->slots[j].flags);
	}
}
