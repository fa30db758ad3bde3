/* heapmap: open addressing, linear probing, backward-shift deletion.
 * Invariant: every key sits in the run that starts at its home slot, with
 * no empty slot between its home and itself. */
#include "analyze/heapmap.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

static inline size_t home(uint64_t key, size_t cap)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

struct heapmap_slot *heapmap_get(const struct heapmap *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = home(key, m->cap);; i = (i + 1) & mask) {
		struct heapmap_slot *s = &m->slots[i];
		if (s->key == key)
			return s;
		if (s->key == 0)
			return NULL;
	}
}

static void grow(struct heapmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 1024;
	struct heapmap_slot *ns = xcalloc(ncap, sizeof(*ns));
	for (size_t i = 0; i < m->cap; i++) {
		struct heapmap_slot *s = &m->slots[i];
		if (!s->key)
			continue;
		size_t j = home(s->key, ncap);
		while (ns[j].key)
			j = (j + 1) & (ncap - 1);
		ns[j] = *s;
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
}

struct heapmap_slot *heapmap_put(struct heapmap *m, uint64_t key, bool *added)
{
	if ((m->len + 1) * 2 > m->cap)
		grow(m);
	size_t mask = m->cap - 1;
	for (size_t i = home(key, m->cap);; i = (i + 1) & mask) {
		struct heapmap_slot *s = &m->slots[i];
		if (s->key == key) {
			*added = false;
			return s;
		}
		if (s->key == 0) {
			s->key = key;
			s->val = 0;
			s->aux = 0;
			m->len++;
			*added = true;
			return s;
		}
	}
}

bool heapmap_remove(struct heapmap *m, uint64_t key, struct heapmap_slot *out)
{
	struct heapmap_slot *s = heapmap_get(m, key);
	if (!s)
		return false;
	if (out)
		*out = *s;
	size_t mask = m->cap - 1, i = (size_t)(s - m->slots);
	/* shift later members of the run back over the hole */
	for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		size_t h = home(m->slots[j].key, m->cap);
		/* j may move to i only if its home is not in (i, j] cyclically */
		bool between = i <= j ? (h > i && h <= j) : (h > i || h <= j);
		if (!between) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = 0;
	m->len--;
	return true;
}

void heapmap_release(struct heapmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}
