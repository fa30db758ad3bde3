/* heapmap: an open-addressing hash map from a non-zero uint64_t key to a
 * (uint64_t, uint32_t) pair, for the heap analysis' hot paths (live blocks
 * by address, stacks by id, threads by tid).
 * Invariant: linear probing with backward-shift deletion, so there are no
 * tombstones and a lookup stops at the first empty slot; key 0 means empty
 * (callers map their own 0 elsewhere); the load factor stays below 1/2. */
#ifndef KILN_ANALYZE_HEAPMAP_H
#define KILN_ANALYZE_HEAPMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct heapmap_slot {
	uint64_t key;
	uint64_t val;
	uint32_t aux;
};

struct heapmap {
	struct heapmap_slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t len;
};

/* Returns the slot of key, or NULL. The pointer is valid until the next
 * insertion or removal. */
struct heapmap_slot *heapmap_get(const struct heapmap *m, uint64_t key);
/* Returns the slot of key, inserting it (val 0, aux 0) when absent; *added
 * says which. key must not be 0. */
struct heapmap_slot *heapmap_put(struct heapmap *m, uint64_t key, bool *added);
/* Removes key; returns true and its slot's contents in *out when it was
 * there (out may be NULL). */
bool heapmap_remove(struct heapmap *m, uint64_t key, struct heapmap_slot *out);
void heapmap_release(struct heapmap *m);

#endif
