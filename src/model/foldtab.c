/* foldtab: open-addressing hash table of folded stacks (see foldtab.h). */
#include "model/foldtab.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/xalloc.h"

void foldtab_init(struct foldtab *t)
{
	memset(t, 0, sizeof(*t));
	t->cap = 1024;
	t->slots = xcalloc(t->cap, sizeof(*t->slots));
}

static void insert_slot(struct fold_entry *slots, size_t cap, const struct fold_entry *e)
{
	size_t i = e->hash & (cap - 1);
	while (slots[i].key)
		i = (i + 1) & (cap - 1);
	slots[i] = *e;
}

static void grow(struct foldtab *t)
{
	size_t ncap = t->cap * 2;
	struct fold_entry *ns = xcalloc(ncap, sizeof(*ns));
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].key)
			insert_slot(ns, ncap, &t->slots[i]);
	free(t->slots);
	t->slots = ns;
	t->cap = ncap;
}

static void add_hashed(struct foldtab *t, uint64_t h, const char *key, size_t len, uint64_t count)
{
	size_t mask = t->cap - 1;
	size_t i = h & mask;
	for (;;) {
		struct fold_entry *e = &t->slots[i];
		if (!e->key)
			break;
		if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) {
			e->count += count;
			t->total += count;
			return;
		}
		i = (i + 1) & mask;
	}
	struct fold_entry *e = &t->slots[i];
	e->hash = h;
	e->key = arena_memdup(&t->keys, key, len);
	e->len = len;
	e->count = count;
	t->total += count;
	if (++t->count * 4 > t->cap * 3)
		grow(t);
}

void foldtab_add(struct foldtab *t, const char *key, size_t len, uint64_t count)
{
	add_hashed(t, hash_bytes(key, len), key, len, count);
}

void foldtab_merge(struct foldtab *dst, const struct foldtab *src)
{
	for (size_t i = 0; i < src->cap; i++) {
		const struct fold_entry *e = &src->slots[i];
		if (e->key)
			add_hashed(dst, e->hash, e->key, e->len, e->count);
	}
}

static int cmp_entry(const void *a, const void *b)
{
	const struct fold_entry *x = *(const struct fold_entry *const *)a;
	const struct fold_entry *y = *(const struct fold_entry *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

const struct fold_entry **foldtab_sorted(const struct foldtab *t)
{
	const struct fold_entry **v = xmalloc((t->count ? t->count : 1) * sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].key)
			v[n++] = &t->slots[i];
	qsort(v, n, sizeof(*v), cmp_entry);
	return v;
}

void foldtab_release(struct foldtab *t)
{
	free(t->slots);
	arena_release(&t->keys);
	memset(t, 0, sizeof(*t));
}
