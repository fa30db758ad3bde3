/* tags: kiln_tag_push/pop: a per-thread stack of interned names (static
 * table, never malloc), each with a trie node (0, KH_TAG_IP_BASE + index)
 * that roots every stack sampled under it, so a stack id names its
 * component. Invariant: kh_self.tag_root is the innermost tag's node (0:
 * none); a name is complete before its slot is published (lock-free reads). */
#include <errno.h>
#include <string.h>

#include "agent/agent.h"
#include "base/hash.h"
#include "heap/heap.h"
#include "kiln/kiln.h"

#define NAME_MAX_LEN 63
#define SLOTS 2048 /* > 2 * AGENT_MAX_TAGS, a power of two */
#define DEPTH 16

struct tag {
	char name[NAME_MAX_LEN + 1];
	uint32_t node;
};

static struct tag tags[AGENT_MAX_TAGS];
static _Atomic uint16_t slots[SLOTS]; /* 1 + index into tags; 0: empty */
static _Atomic uint32_t ntags;
static atomic_int lock;

/* the thread's levels: root[i] is the node in force after push i + 1;
 * depth may exceed DEPTH (levels past it keep the tag of level DEPTH) */
static TLS uint32_t root[DEPTH];
static TLS int depth;

/* The index of name (len bytes), interned if new: >= 0, or a negative errno. */
static int intern(const char *name, size_t len)
{
	uint64_t h = hash_bytes(name, len);
	int inserted = 0;
	for (;;) {
		for (uint32_t i = (uint32_t)h & (SLOTS - 1);; i = (i + 1) & (SLOTS - 1)) {
			uint16_t v = atomic_load_explicit(&slots[i], memory_order_acquire);
			if (!v)
				break;
			const struct tag *t = &tags[v - 1];
			if (strncmp(t->name, name, len) == 0 && t->name[len] == 0)
				return v - 1;
		}
		if (inserted)
			return -EAGAIN; /* unreachable: the entry was published */
		spin_lock(&lock);
		uint32_t i = (uint32_t)h & (SLOTS - 1);
		int found = -1;
		for (uint16_t v; (v = atomic_load_explicit(&slots[i], memory_order_relaxed)); i = (i + 1) & (SLOTS - 1))
			if (strncmp(tags[v - 1].name, name, len) == 0 && tags[v - 1].name[len] == 0) {
				found = v - 1;
				break;
			}
		if (found >= 0) {
			spin_unlock(&lock);
			return found;
		}
		uint32_t n = atomic_load_explicit(&ntags, memory_order_relaxed);
		if (n >= AGENT_MAX_TAGS) {
			spin_unlock(&lock);
			return -ENOSPC;
		}
		uint32_t node = stacks_node(0, KH_TAG_IP_BASE + n);
		if (!node) {
			spin_unlock(&lock);
			return -ENOMEM;
		}
		memcpy(tags[n].name, name, len);
		tags[n].name[len] = 0;
		tags[n].node = node;
		atomic_store_explicit(&ntags, n + 1, memory_order_release);
		atomic_store_explicit(&slots[i], (uint16_t)(n + 1), memory_order_release);
		spin_unlock(&lock);
		inserted = 1;
	}
}

/* Every push opens a level that the matching pop closes, even a push
 * that fails (-EINVAL: NULL or empty name; -EOVERFLOW: past 16 levels;
 * -ENOSPC: AGENT_MAX_TAGS distinct names already; -ENOMEM): such a level
 * keeps the enclosing tag, so pushes and pops stay paired whatever the
 * caller does with the error. Not async-signal-safe. */
EXPORT int kiln_tag_push(const char *name)
{
	int e = errno;
	if (atomic_load_explicit(&kh_state, memory_order_relaxed) == KH_UNINIT)
		kh_init(); /* kh_agent first: tag nodes are kept by id */
	uint32_t cur = kh_self.tag_root;
	int rc = 0;
	if (depth >= DEPTH) {
		rc = -EOVERFLOW;
	} else if (!name || !*name) {
		rc = -EINVAL;
	} else {
		kh_self.guard++;
		int idx = intern(name, strnlen(name, NAME_MAX_LEN));
		kh_self.guard--;
		if (idx < 0)
			rc = idx;
		else
			cur = tags[idx].node;
	}
	if (depth < DEPTH)
		root[depth] = cur;
	depth++;
	kh_self.tag_root = cur;
	errno = e;
	return rc;
}

/* Closes the innermost level; -EINVAL when none is open. */
EXPORT int kiln_tag_pop(void)
{
	if (depth <= 0)
		return -EINVAL;
	depth--;
	kh_self.tag_root = depth == 0 ? 0 : root[(depth < DEPTH ? depth : DEPTH) - 1];
	return 0;
}

int agent_tag_name(uint32_t index, char *out, size_t cap)
{
	if (index >= atomic_load_explicit(&ntags, memory_order_acquire) || !cap)
		return -ENOENT;
	size_t l = strnlen(tags[index].name, NAME_MAX_LEN);
	if (l >= cap)
		l = cap - 1;
	memcpy(out, tags[index].name, l);
	out[l] = 0;
	return 0;
}
