/* keymap: a small open-addressing hash table from two 64-bit keys to a
 * pointer, for modules, processes and the address cache.
 * Invariant: the load factor stays at or below 1/2, so every probe
 * sequence reaches an empty slot; deletion re-inserts the rest of the run. */
#include "symbolize/symbolize-internal.h"

#include <stdlib.h>

#include "base/hash.h"
#include "base/xalloc.h"

static size_t keymap_slot_of(const struct keymap *m, uint64_t k1, uint64_t k2)
{
	return (size_t)hash_mix(k1 ^ 0x9e3779b97f4a7c15ULL, k2 ^ 0xc2b2ae3d27d4eb4fULL) & (m->cap - 1);
}

void *keymap_get(const struct keymap *m, uint64_t k1, uint64_t k2)
{
	if (!m->cap)
		return NULL;
	for (size_t i = keymap_slot_of(m, k1, k2);; i = (i + 1) & (m->cap - 1)) {
		const struct keymap_slot *sl = &m->slots[i];
		if (!sl->val)
			return NULL;
		if (sl->k1 == k1 && sl->k2 == k2)
			return sl->val;
	}
}

static void keymap_insert(struct keymap *m, uint64_t k1, uint64_t k2, void *val)
{
	for (size_t i = keymap_slot_of(m, k1, k2);; i = (i + 1) & (m->cap - 1)) {
		struct keymap_slot *sl = &m->slots[i];
		if (!sl->val) {
			sl->k1 = k1;
			sl->k2 = k2;
			sl->val = val;
			m->n++;
			return;
		}
		if (sl->k1 == k1 && sl->k2 == k2) {
			sl->val = val;
			return;
		}
	}
}

void keymap_put(struct keymap *m, uint64_t k1, uint64_t k2, void *val)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct keymap old = *m;
		m->cap = old.cap ? old.cap * 2 : 64;
		m->slots = xcalloc(m->cap, sizeof(*m->slots));
		m->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.slots[i].val)
				keymap_insert(m, old.slots[i].k1, old.slots[i].k2, old.slots[i].val);
		free(old.slots);
	}
	keymap_insert(m, k1, k2, val);
}

void keymap_del(struct keymap *m, uint64_t k1, uint64_t k2)
{
	if (!m->cap)
		return;
	size_t i = keymap_slot_of(m, k1, k2);
	for (;; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i].val)
			return;
		if (m->slots[i].k1 == k1 && m->slots[i].k2 == k2)
			break;
	}
	m->slots[i].val = NULL;
	m->n--;
	for (size_t j = (i + 1) & (m->cap - 1); m->slots[j].val; j = (j + 1) & (m->cap - 1)) {
		struct keymap_slot sl = m->slots[j];
		m->slots[j].val = NULL;
		m->n--;
		keymap_insert(m, sl.k1, sl.k2, sl.val);
	}
}

void keymap_release(struct keymap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}
