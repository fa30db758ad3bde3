/* stacks: call stacks as a trie of (parent id, return address) -> id,
 * unwound by unwind.c (DWARF CFI with cached rules, so code without frame
 * pointers unwinds correctly and cheaply), or by libunwind's unw_backtrace
 * for the frames unwind.c leaves to it. The trie is 64 shards under their
 * own spinlocks, fronted by a 4096-entry direct-mapped cache per thread;
 * a walk that repeats the previous one's frames reuses their ids.
 * Invariant: a node's HT_STACK record is appended to the meta stream before
 * the node is visible in the table, so it precedes every use in the file.
 * In agent mode there is no file: nodes are also kept by id (stacks_lookup)
 * for the agent to read, and a thread's stacks start at its tag's node. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <stdlib.h>
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
/* Stack ids last as long as the trie: a thread's cache is emptied only when
 * the trie started over since it was filled (a followed fork child). */
static uint32_t trie_epoch = 1;

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
			*w++ = HEAPTRACE_HEAD(HT_STACK);
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

/* KILN_HEAP_UNWIND_CHECK=1: every stack is unwound both ways and any
 * difference is reported on stderr (a test of unwind.c). */
static int check_unwind;
static _Atomic unsigned long checked, mismatched, fell_back;

static int slow_backtrace(uint64_t *ips, int max)
{
	void *raw[MAX_FRAMES];
	int n = unw_backtrace(raw, max < MAX_FRAMES ? max : MAX_FRAMES);
	if (n < 0)
		n = 0;
	for (int i = 0; i < n; i++)
		ips[i] = (uint64_t)(uintptr_t)raw[i];
	return n;
}

/* The first frame that is not the tracker's own. */
static int host_start(const uint64_t *ips, int n)
{
	int first = 0;
	while (first < n && modules_self(ips[first]))
		first++;
	return first;
}

static void dec(char *out, uint64_t v)
{
	char t[24];
	int k = 0;
	do
		t[k++] = (char)('0' + v % 10);
	while (v /= 10);
	for (int j = 0; j < k; j++)
		out[j] = t[k - 1 - j];
	out[k] = 0;
}

static void hex(char *out, uint64_t v)
{
	for (int i = 15; i >= 0; i--, v >>= 4)
		out[i] = "0123456789abcdef"[v & 15];
	out[16] = 0;
}

static void compare(const uint64_t *fast, int nf, const uint64_t *slow, int ns)
{
	atomic_fetch_add(&checked, 1);
	if (nf < 0) {
		atomic_fetch_add(&fell_back, 1);
		return;
	}
	int a = host_start(fast, nf), b = host_start(slow, ns);
	/* a walk from the hook's frame reaches more of a stack deeper than the
	 * limit than libunwind from here: then the frames both have */
	if (nf == MAX_FRAMES || ns == MAX_FRAMES) {
		int m = nf - a < ns - b ? nf - a : ns - b;
		nf = a + m;
		ns = b + m;
	}
	int same = nf - a == ns - b;
	for (int i = 0; same && i < nf - a; i++)
		same = fast[a + i] == slow[b + i];
	if (same)
		return;
	if (atomic_fetch_add(&mismatched, 1) >= 20)
		return;
	int k = 0;
	while (k < nf - a && k < ns - b && fast[a + k] == slow[b + k])
		k++;
	char d[5][24];
	dec(d[0], (uint64_t)(nf - a));
	dec(d[1], (uint64_t)(ns - b));
	dec(d[2], (uint64_t)k);
	hex(d[3], k < nf - a ? fast[a + k] : 0);
	hex(d[4], k < ns - b ? slow[b + k] : 0);
	const char *parts[] = {"kiln-heap: unwind check: ", d[0], " frames, libunwind ", d[1],
			       "; frame ", d[2], " differs: ", d[3], " vs ", d[4], "\n"};
	kh_say(parts, sizeof parts / sizeof *parts);
}

void stacks_check_report(void)
{
	if (!check_unwind)
		return;
	char a[24], b[24], c[24];
	dec(a, checked);
	dec(b, mismatched);
	dec(c, fell_back);
	const char *parts[] = {"kiln-heap: unwind check: ", a, " stacks, ", b, " differ, ", c,
			       " left to libunwind\n"};
	kh_say(parts, sizeof parts / sizeof *parts);
}

/* The id of the child of parent for ip: the per-thread cache, else the
 * trie (which may add the node). 0 when out of memory. */
static inline uint32_t child(struct kh_caches *caches, uint32_t parent, uint64_t ip, int *unknown)
{
	uint64_t h = hnode(parent, ip);
	struct stack_cache_entry *c = caches ? &caches->stack[h & (STACK_CACHE_ENTRIES - 1)] : NULL;
	if (c && c->id && c->ip == ip && c->parent == parent)
		return c->id;
	int is_new = 0;
	uint32_t id = node(parent, ip, h, &is_new);
	if (is_new && !modules_knows(ip))
		*unknown = 1;
	if (c && id) {
		c->ip = ip;
		c->parent = parent;
		c->id = id;
	}
	return id;
}

/* The stack id of ips (leaf first), the tracker's frames dropped. */
static uint32_t ids_of_list(struct kh_caches *caches, uint32_t root, const uint64_t *ips, int n, int *unknown)
{
	uint32_t id = root;
	for (int i = n - 1; i >= 0; i--) { /* root first */
		if (!ips[i] || modules_self(ips[i]))
			continue; /* the tracker's frames (main's wrapper too) */
		uint32_t c = child(caches, id, ips[i], unknown);
		if (!c)
			break; /* out of memory: the stack so far */
		id = c;
	}
	return id;
}

uint32_t stacks_capture(void)
{
	uint32_t root = kh_self.tag_root; /* the trie's root, or in agent mode the thread's tag node */
	struct kh_caches *caches = buffer_stack_cache();
	if (caches && __builtin_expect(caches->stack_epoch != trie_epoch, 0))
		stacks_clear_cache(caches); /* the trie started over (a followed fork child) */
	int unknown = 0;
	uint32_t id = root, fresh = 0;
	int cut = caches ? unwind_walk(caches, &fresh) : -1;
	if (cut >= 0) {
		/* the walk's frames, root first; the first fresh ones are the
		 * previous walk's, their ids known (if from the same root) */
		struct unwind_frame *m = caches->memo;
		uint32_t n = caches->memo_n;
		if (caches->memo_root != root)
			fresh = 0;
		caches->memo_root = root;
		if (fresh)
			id = m[fresh - 1].id;
		uint32_t reported = n - caches->memo_own;
		for (uint32_t x = fresh; x < n; x++) {
			uint64_t ip = m[x].pc + 1;
			/* the walker's own frame (the last, if walked) is not
			 * reported, nor the tracker's frames */
			if (x < reported && !modules_self(ip)) {
				id = child(caches, id, ip, &unknown);
				if (!id) { /* out of memory: forget this walk */
					cut = 1;
					break;
				}
			}
			m[x].id = id;
		}
	}
	if (__builtin_expect(check_unwind, 0)) {
		/* the walker's addresses (leaf first) against libunwind's */
		uint64_t fast[MAX_FRAMES], slow[MAX_FRAMES];
		int nf = -1, ns = slow_backtrace(slow, MAX_FRAMES);
		if (cut >= 0 && caches->memo_n) {
			nf = 0;
			for (int x = (int)(caches->memo_n - caches->memo_own) - 1; x >= 0 && nf < MAX_FRAMES; x--)
				fast[nf++] = caches->memo[x].pc + 1;
		}
		compare(fast, nf, slow, ns);
	}
	if (cut > 0)
		caches->memo_n = 0; /* cut short (or out of memory): not to be joined */
	if (cut < 0) {
		uint64_t ips[MAX_FRAMES];
		int n = slow_backtrace(ips, MAX_FRAMES);
		id = ids_of_list(caches, root, ips, n, &unknown);
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

void stacks_clear_cache(void *cache)
{
	struct kh_caches *c = cache;
	if (c->stack_epoch != trie_epoch) {
		memset(c->stack, 0, sizeof c->stack);
		c->stack_epoch = trie_epoch;
	}
	c->memo_n = 0;
}

/* libunwind's default cache is global and locked: two threads unwinding
 * at once would serialise on it. */
void stacks_init(void)
{
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	const char *c = getenv("KILN_HEAP_UNWIND_CHECK");
	check_unwind = c && *c == '1';
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
	trie_epoch++;
}
