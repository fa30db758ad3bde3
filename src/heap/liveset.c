/* liveset: the set of live allocations (pointer -> size, stack, allocating
 * stream and number, flags), for bad-free detection, realloc, the FREE
 * records' back-references and the exit-time leak scan. 256 shards, each
 * an open-addressing table under its own spinlock: groups of 16 slots
 * whose control bytes (7 bits of the hash, or empty, or a tombstone) are
 * compared 16 at a time, as in Abseil's Swiss tables. A pointer's shard
 * comes from its 1 MiB region of the address space, so a thread working in
 * its own arena keeps to a few shards of its own: their locks and slots
 * stay in its core's cache, and two threads rarely meet on a lock. A removal leaves a tombstone only in
 * a group with no empty slot; each shard remembers its last 16 freed
 * pointers, which tells a double free from a free of an unknown pointer
 * (best effort).
 * Invariant: a probe visits groups in order from its key's home group and
 * stops at the first group with an empty slot; no key lies beyond a group
 * with an empty slot on its probe sequence. */
#include <string.h>
#include <time.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "heap/heap.h"

#define SHARDS 256
#define REGION_SHIFT 20
#define GROUP 16
#define MIN_GROUPS 4
#define RECENT_FREES 16
#define C_EMPTY 0x80
#define C_DELETED 0xfe /* a tombstone: full slots have their hash's low 7 bits */

struct slot {
	uintptr_t key;
	uint64_t size;
	uint32_t stack, flags;
	uint32_t owner, seq;
};

/* A table of groups of 16 slots, each slot with a control byte; a probe
 * goes group by group, comparing 16 control bytes at once. */
struct shard {
	_Alignas(64) atomic_int lock; /* a shard is whole cache lines: no false sharing */
	uint32_t gmask;               /* groups - 1 */
	uint32_t count;               /* live entries */
	uint32_t used;                /* live entries and tombstones */
	uint32_t freed_at;
	uint8_t *ctrl;                /* (gmask + 1) * GROUP control bytes */
	struct slot *slots;
	uintptr_t freed[RECENT_FREES]; /* the last pointers freed */
};

static struct shard shards[SHARDS];
/* sampled mode: counts of live sampled pointers by address (heap.h's
 * liveset_filter_index), so free() of an unsampled pointer costs one load */
_Atomic uint8_t *kh_live_filter;
#define filter kh_live_filter

/* Multiplicative hash: the product's high half mixed down; the low 7 bits
 * go to the control byte, the rest choose the group. */
static inline uint64_t hp(uintptr_t p)
{
	uint64_t h = (uint64_t)p * 0x9e3779b97f4a7c15ull;
	return h ^ h >> 32;
}

static inline struct shard *shard_of(uintptr_t p)
{
	return &shards[((uint64_t)p >> REGION_SHIFT) * 0xd6e8feb86659fd93ull >> 56];
}

/* Bit i set where control byte i of the group is b; where it is free
 * (empty or a tombstone: the high bit). */
static inline unsigned group_match(const uint8_t *g, uint8_t b)
{
#if defined(__SSE2__)
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)g), _mm_set1_epi8((char)b)));
#else
	unsigned m = 0;
	for (int i = 0; i < GROUP; i++)
		m |= (unsigned)(g[i] == b) << i;
	return m;
#endif
}

static inline unsigned group_free(const uint8_t *g)
{
#if defined(__SSE2__)
	return (unsigned)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)g));
#else
	unsigned m = 0;
	for (int i = 0; i < GROUP; i++)
		m |= (unsigned)(g[i] >> 7) << i;
	return m;
#endif
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

static size_t table_bytes(uint32_t groups)
{
	return (size_t)groups * GROUP * (sizeof(struct slot) + 1);
}

/* Tables a rehash let go, by size (log2 of their groups), kept for the
 * next shard that grows to that size: a heap fills its address regions one
 * after another, so each shard's growth passes through the sizes the
 * previous one left, and a kept table's pages are already mapped in (no
 * page fault, no zeroing). Taken under table_pool_lock, after a shard's. */
static atomic_int table_pool_lock;
static void *table_pool[32];

static void *table_get(uint32_t groups)
{
	unsigned c = (unsigned)__builtin_ctz(groups);
	spin_lock(&table_pool_lock);
	void *mem = table_pool[c];
	if (mem)
		memcpy(&table_pool[c], mem, sizeof mem);
	spin_unlock(&table_pool_lock);
	return mem ? mem : heap_map(table_bytes(groups));
}

static void table_put(void *mem, uint32_t groups)
{
	unsigned c = (unsigned)__builtin_ctz(groups);
	spin_lock(&table_pool_lock);
	memcpy(mem, &table_pool[c], sizeof mem); /* the next kept table */
	table_pool[c] = mem;
	spin_unlock(&table_pool_lock);
}

/* A free slot for hash h in a table with no tombstone to reuse (a rehash). */
static uint32_t free_slot(const uint8_t *ctrl, uint32_t gmask, uint64_t h)
{
	for (uint32_t g = (uint32_t)(h >> 7) & gmask;; g = (g + 1) & gmask) {
		unsigned m = group_free(ctrl + (size_t)g * GROUP);
		if (m)
			return g * GROUP + (uint32_t)__builtin_ctz(m);
	}
}

/* A new table: twice the groups when a quarter or more of the slots are
 * live, else as many (tombstones dropped). */
static int rehash(struct shard *s)
{
	uint32_t groups = s->ctrl ? s->gmask + 1 : MIN_GROUPS;
	if (s->ctrl && (s->count + 1) * 4 > groups * GROUP)
		groups *= 2;
	uint8_t *mem = table_get(groups);
	if (!mem)
		return -1;
	struct slot *slots = (struct slot *)mem;
	uint8_t *ctrl = mem + (size_t)groups * GROUP * sizeof(struct slot);
	memset(ctrl, C_EMPTY, (size_t)groups * GROUP);
	for (uint32_t i = 0; s->ctrl && i <= s->gmask * GROUP + GROUP - 1; i++) {
		if (s->ctrl[i] & 0x80)
			continue;
		uint64_t h = hp(s->slots[i].key);
		uint32_t j = free_slot(ctrl, groups - 1, h);
		ctrl[j] = (uint8_t)(h & 0x7f);
		slots[j] = s->slots[i];
	}
	if (s->ctrl)
		table_put(s->slots, s->gmask + 1);
	s->slots = slots;
	s->ctrl = ctrl;
	s->gmask = groups - 1;
	s->used = s->count;
	return 0;
}

/* The slot of key p (hash h), or -1; *free the first free slot of its
 * probe sequence (when asked for). */
static inline long find(const struct shard *s, uintptr_t p, uint64_t h, long *free)
{
	uint8_t tag = (uint8_t)(h & 0x7f);
	for (uint32_t g = (uint32_t)(h >> 7) & s->gmask;; g = (g + 1) & s->gmask) {
		const uint8_t *cg = s->ctrl + (size_t)g * GROUP;
		for (unsigned m = group_match(cg, tag); m; m &= m - 1) {
			uint32_t i = g * GROUP + (uint32_t)__builtin_ctz(m);
			if (s->slots[i].key == p)
				return i;
		}
		unsigned f = group_free(cg);
		if (free && *free < 0 && f)
			*free = g * GROUP + (uint32_t)__builtin_ctz(f);
		if (group_match(cg, C_EMPTY))
			return -1; /* a group with an empty slot ends every probe through it */
	}
}

static inline void filter_add(uintptr_t p, int d)
{
	if (!filter)
		return;
	_Atomic uint8_t *c = &filter[liveset_filter_index(p)];
	uint8_t v = atomic_load_explicit(c, memory_order_relaxed);
	if (v == 255)
		return; /* saturated: sticky */
	atomic_fetch_add_explicit(c, (uint8_t)d, memory_order_relaxed);
}

int liveset_insert(uintptr_t p, const struct live *v, struct live *old)
{
	uint64_t h = hp(p);
	struct shard *s = shard_of(p);
	int rc = 0;
	kh_self.in_liveset++;
	spin_lock(&s->lock);
	/* live at most 3/4 of the slots, tombstones included at most 7/8 */
	if ((!s->ctrl || (s->used + 1) * 8 > (s->gmask + 1) * GROUP * 7) && rehash(s) < 0) {
		rc = -1;
		goto out;
	}
	long free = -1, i = find(s, p, h, &free);
	if (i >= 0) {
		/* already live (the allocator returned it twice?): replaced */
		to_live(&s->slots[i], old);
		if (!(s->slots[i].flags & LIVE_SILENT))
			filter_add(p, -1);
		rc = 1;
	} else {
		i = free;
		if (s->ctrl[i] == C_EMPTY)
			s->used++;
		s->ctrl[i] = (uint8_t)(h & 0x7f);
		s->count++;
	}
	from_live(&s->slots[i], p, v);
	if (!(v->flags & LIVE_SILENT))
		filter_add(p, 1);
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
	long i = s->ctrl ? find(s, p, h, NULL) : -1;
	if (i >= 0) {
		struct slot *e = &s->slots[i];
		to_live(e, out);
		if (!(e->flags & LIVE_SILENT))
			filter_add(p, -1);
		/* a group that has an empty slot ends every probe through it,
		 * so the slot can be empty too; else a tombstone */
		uint8_t *cg = s->ctrl + (size_t)i / GROUP * GROUP;
		if (group_match(cg, C_EMPTY)) {
			s->ctrl[i] = C_EMPTY;
			s->used--;
		} else {
			s->ctrl[i] = C_DELETED;
		}
		s->count--;
		s->freed[s->freed_at++ % RECENT_FREES] = p;
		rc = 1;
	} else {
		for (int k = 0; k < RECENT_FREES; k++)
			if (s->freed[k] == p)
				rc = -1;
	}
	spin_unlock(&s->lock);
	kh_self.in_liveset--;
	return rc;
}

void liveset_fork_lock(void)
{
	for (int i = 0; i < SHARDS; i++)
		spin_lock(&shards[i].lock);
	spin_lock(&table_pool_lock);
}

void liveset_fork_unlock(void)
{
	spin_unlock(&table_pool_lock);
	for (int i = 0; i < SHARDS; i++)
		spin_unlock(&shards[i].lock);
}

void liveset_mark_all_silent(void)
{
	for (int i = 0; i < SHARDS; i++) {
		struct shard *s = &shards[i];
		for (uint32_t j = 0; s->ctrl && j < (s->gmask + 1) * GROUP; j++)
			if (!(s->ctrl[j] & 0x80))
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
	spin_lock(&table_pool_lock); /* held only for a pop or a push */
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
		for (uint32_t j = 0; s->ctrl && j < (s->gmask + 1) * GROUP; j++)
			if (!(s->ctrl[j] & 0x80))
				fn(ctx, s->slots[j].key, s->slots[j].size, s->slots[j].stack, s->slots[j].flags);
	}
}
