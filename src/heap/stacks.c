/* stacks: call stacks as a trie of (parent id, return address) -> id,
 * unwound with libunwind's unw_backtrace (DWARF CFI, so code without frame
 * pointers unwinds correctly). The trie is 64 shards under their own
 * spinlocks, fronted by a 1024-entry direct-mapped cache per thread.
 * Invariant: a node's HT_STACK record is appended to the meta stream before
 * the node is visible in the table, so it precedes every use in the file.
 * In agent mode there is no file: nodes are also kept by id (stacks_lookup)
 * for the agent to read, and a thread's stacks start at its tag's node. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <string.h>

#include "base/hash.h"
#include "base/heaptrace.h"
#include "heap/heap.h"

#define MAX_FRAMES 128
#define SSHARDS 64

struct snode {
	uint64_t ip;
	uint32_t parent, id; /* id 0: empty slot */
};

struct sshard {
	atomic_int lock;
	uint32_t mask, count;
	struct snode *slots;
	char pad[64 - sizeof(atomic_int) - 2 * sizeof(uint32_t) - sizeof(void *)];
};

static _Alignas(64) struct sshard shards[SSHARDS];
static _Atomic uint32_t next_id = 1;

/* agent mode: nodes by id, in chunks mapped on first use (never freed) */
#define ID_CHUNK 4096
#define ID_CHUNKS 4096 /* 16M nodes */
struct idnode {
	_Atomic uint64_t ip; /* 0: not written yet */
	uint32_t parent;
};
static _Atomic(struct idnode *) by_id[ID_CHUNKS];

static void id_put(uint32_t id, uint32_t parent, uint64_t ip)
{
	if (id / ID_CHUNK >= ID_CHUNKS)
		return;
	_Atomic(struct idnode *) *slot = &by_id[id / ID_CHUNK];
	struct idnode *c = atomic_load_explicit(slot, memory_order_acquire);
	if (!c) {
		struct idnode *n = heap_map(ID_CHUNK * sizeof *n), *none = NULL;
		if (!n)
			return;
		if (atomic_compare_exchange_strong(slot, &none, n))
			c = n;
		else {
			heap_unmap(n, ID_CHUNK * sizeof *n);
			c = none;
		}
	}
	c[id % ID_CHUNK].parent = parent;
	atomic_store_explicit(&c[id % ID_CHUNK].ip, ip, memory_order_release);
}

int stacks_lookup(uint32_t id, uint32_t *parent, uint64_t *ip)
{
	if (!id || id / ID_CHUNK >= ID_CHUNKS)
		return -1;
	struct idnode *c = atomic_load_explicit(&by_id[id / ID_CHUNK], memory_order_acquire);
	if (!c)
		return -1;
	uint64_t v = atomic_load_explicit(&c[id % ID_CHUNK].ip, memory_order_acquire);
	if (!v)
		return -1;
	*parent = c[id % ID_CHUNK].parent;
	*ip = v;
	return 0;
}

static inline uint64_t hnode(uint32_t parent, uint64_t ip)
{
	return hash_mix(ip ^ 0x9e3779b97f4a7c15ull, (uint64_t)parent + 0xc2b2ae3d27d4eb4full);
}

static int grow(struct sshard *s)
{
	uint32_t cap = s->slots ? (s->mask + 1) * 2 : 1024;
	struct snode *n = heap_map((size_t)cap * sizeof *n);
	if (!n)
		return -1;
	for (uint32_t i = 0; s->slots && i <= s->mask; i++) {
		struct snode *o = &s->slots[i];
		if (!o->id)
			continue;
		uint32_t j = (uint32_t)hnode(o->parent, o->ip) & (cap - 1);
		while (n[j].id)
			j = (j + 1) & (cap - 1);
		n[j] = *o;
	}
	if (s->slots)
		heap_unmap(s->slots, (size_t)(s->mask + 1) * sizeof *n);
	s->slots = n;
	s->mask = cap - 1;
	return 0;
}

static uint32_t node(uint32_t parent, uint64_t ip, uint64_t h, int *is_new)
{
	struct sshard *s = &shards[h >> 58];
	uint32_t id = 0;
	spin_lock(&s->lock);
	if ((!s->slots || (s->count + 1) * 4 > (s->mask + 1) * 3) && grow(s) < 0)
		goto out;
	for (uint32_t i = (uint32_t)h & s->mask;; i = (i + 1) & s->mask) {
		struct snode *e = &s->slots[i];
		if (e->id && e->ip == ip && e->parent == parent) {
			id = e->id;
			break;
		}
		if (!e->id) {
			id = atomic_fetch_add(&next_id, 1);
			uint8_t rec[32], *w = rec;
			*w++ = HT_STACK;
			w = put_v(w, id);
			w = put_v(w, parent);
			w = put_v(w, ip);
			meta_append(rec, (size_t)(w - rec));
			if (kh_agent)
				id_put(id, parent, ip);
			e->ip = ip;
			e->parent = parent;
			e->id = id;
			s->count++;
			*is_new = 1;
			break;
		}
	}
out:
	spin_unlock(&s->lock);
	return id;
}

uint32_t stacks_capture(void)
{
	void *ips[MAX_FRAMES];
	int n = unw_backtrace(ips, MAX_FRAMES);
	int first = 0;
	while (first < n && modules_self((uint64_t)(uintptr_t)ips[first]))
		first++; /* the tracker's own frames */
	struct stack_cache_entry *cache = buffer_stack_cache();
	uint32_t id = kh_self.tag_root; /* 0 but in agent mode under a tag */
	int unknown = 0;
	for (int i = n - 1; i >= first; i--) { /* root first */
		uint64_t ip = (uint64_t)(uintptr_t)ips[i];
		if (!ip || modules_self(ip))
			continue; /* the tracker's frames (main's wrapper too) */
		uint64_t h = hnode(id, ip);
		struct stack_cache_entry *c = cache ? &cache[h & (STACK_CACHE_ENTRIES - 1)] : NULL;
		if (c && c->id && c->ip == ip && c->parent == id) {
			id = c->id;
			continue;
		}
		int is_new = 0;
		uint32_t nid = node(id, ip, h, &is_new);
		if (!nid)
			break;
		if (is_new && !modules_knows(ip))
			unknown = 1;
		if (c) {
			c->ip = ip;
			c->parent = id;
			c->id = nid;
		}
		id = nid;
	}
	if (unknown)
		modules_scan(); /* a dlopen'ed library, say; no lock is held here */
	return id;
}

uint32_t stacks_node(uint32_t parent, uint64_t ip)
{
	int is_new = 0;
	return node(parent, ip, hnode(parent, ip), &is_new);
}

/* libunwind's default cache is global and locked: two threads unwinding
 * at once would serialise on it. */
void stacks_init(void)
{
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

void stacks_fork_lock(void)
{
	for (int i = 0; i < SSHARDS; i++)
		spin_lock(&shards[i].lock);
}

void stacks_fork_unlock(void)
{
	for (int i = 0; i < SSHARDS; i++)
		spin_unlock(&shards[i].lock);
}

/* A followed child writes a new file: every node must be written again. */
void stacks_reset(void)
{
	for (int i = 0; i < SSHARDS; i++) {
		struct sshard *s = &shards[i];
		if (s->slots)
			memset(s->slots, 0, (size_t)(s->mask + 1) * sizeof *s->slots);
		s->count = 0;
	}
	next_id = 1;
}
