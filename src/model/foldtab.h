/* foldtab: an aggregate of folded stacks, "root;...;leaf" -> summed count.
 * Invariant: each distinct stack string is stored once (in an arena) and
 * memory grows with distinct stacks, never with the number of samples.
 * Iteration order is by sorted key, so output is deterministic. */
#ifndef KILN_MODEL_FOLDTAB_H
#define KILN_MODEL_FOLDTAB_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"

struct fold_entry {
	uint64_t hash;
	const char *key; /* NUL-terminated, owned by the table's arena */
	size_t len;
	uint64_t count;
};

/* A key in insertion order (stable: keys live in the arena). */
struct fold_key {
	const char *key;
	size_t len;
	uint64_t hash;
};

struct foldtab {
	struct fold_entry *slots; /* open addressing; key == NULL is empty */
	struct fold_key *order;   /* every key, in the order first inserted */
	size_t cap;               /* a power of two */
	size_t count;
	size_t order_cap;
	uint64_t total;           /* sum of all counts */
	struct arena keys;
};

void foldtab_init(struct foldtab *t);
/* Adds count to stack key[0..len), inserting it if new. */
void foldtab_add(struct foldtab *t, const char *key, size_t len, uint64_t count);
/* Returns the entry for key, inserting it with count 0 if new. The pointer
 * is valid until the next insertion. */
struct fold_entry *foldtab_upsert(struct foldtab *t, const char *key, size_t len);
/* Returns the entry for key, or NULL. */
const struct fold_entry *foldtab_find(const struct foldtab *t, const char *key, size_t len);
/* The same, for a key whose hash is known (from a struct fold_key). */
const struct fold_entry *foldtab_find_key(const struct foldtab *t, const struct fold_key *k);
/* Adds every entry of src into dst. */
void foldtab_merge(struct foldtab *dst, const struct foldtab *src);
/* Returns a new array (free() it) of pointers to all entries, sorted by key
 * bytes as memcmp orders them, shorter first on a common prefix. */
const struct fold_entry **foldtab_sorted(const struct foldtab *t);
/* The order of foldtab_sorted(): memcmp, shorter first on a common prefix. */
int foldtab_keycmp(const char *x, size_t xl, const char *y, size_t yl);
void foldtab_release(struct foldtab *t);

#endif
