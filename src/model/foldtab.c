/* foldtab: open-addressing hash table of folded stacks (see foldtab.h). */
#include "model/foldtab.h"

#include <stdbool.h>
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

static struct fold_entry *upsert_hashed(struct foldtab *t, uint64_t h, const char *key, size_t len)
{
	size_t mask = t->cap - 1;
	size_t i = h & mask;
	for (;;) {
		struct fold_entry *e = &t->slots[i];
		if (!e->key)
			break;
		if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
			return e;
		i = (i + 1) & mask;
	}
	if ((t->count + 1) * 4 > t->cap * 3) {
		grow(t);
		return upsert_hashed(t, h, key, len);
	}
	struct fold_entry *e = &t->slots[i];
	e->hash = h;
	e->key = arena_memdup(&t->keys, key, len);
	e->len = len;
	e->count = 0;
	t->order = xgrow(t->order, sizeof(*t->order), t->count + 1, &t->order_cap);
	t->order[t->count] = (struct fold_key){e->key, len, h};
	t->count++;
	return e;
}

static void add_hashed(struct foldtab *t, uint64_t h, const char *key, size_t len, uint64_t count)
{
	upsert_hashed(t, h, key, len)->count += count;
	t->total += count;
}

const struct fold_entry *foldtab_find(const struct foldtab *t, const char *key, size_t len)
{
	struct fold_key k = {key, len, hash_bytes(key, len)};
	return foldtab_find_key(t, &k);
}

const struct fold_entry *foldtab_find_key(const struct foldtab *t, const struct fold_key *k)
{
	const char *key = k->key;
	size_t len = k->len;
	uint64_t h = k->hash;
	size_t mask = t->cap - 1;
	for (size_t i = h & mask; t->slots[i].key; i = (i + 1) & mask) {
		const struct fold_entry *e = &t->slots[i];
		if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
			return e;
	}
	return NULL;
}

struct fold_entry *foldtab_upsert(struct foldtab *t, const char *key, size_t len)
{
	return upsert_hashed(t, hash_bytes(key, len), key, len);
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

int foldtab_keycmp(const char *x, size_t xl, const char *y, size_t yl)
{
	int c = memcmp(x, y, xl < yl ? xl : yl);
	if (c)
		return c;
	return (xl > yl) - (xl < yl);
}

/* Sorting. A plain qsort spends most of its time on cache misses: every
 * comparison chases two key pointers. This is a multikey quicksort
 * (Bentley & Sedgewick) on 8-byte chunks cached next to the pointers: each
 * key is read once per chunk depth, not once per comparison. The order is
 * the byte order of foldtab_keycmp(). */
struct skey {
	uint64_t chunk; /* key bytes [depth, depth+8), big-endian, zero-padded */
	const struct fold_entry *e;
};

static uint64_t load_chunk(const struct fold_entry *e, size_t depth)
{
	unsigned char b[8] = {0};
	if (e->len > depth)
		memcpy(b, e->key + depth, e->len - depth < 8 ? e->len - depth : 8);
	return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 |
	       (uint64_t)b[3] << 32 | (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 |
	       (uint64_t)b[6] << 8 | (uint64_t)b[7];
}

/* Sorts keys that all share their first depth bytes and are longer than
 * depth bytes (except at depth 0). */
static void insertion_sort(struct skey *v, size_t n, size_t depth)
{
	for (size_t i = 1; i < n; i++) {
		struct skey x = v[i];
		size_t j = i;
		while (j > 0 && foldtab_keycmp(v[j - 1].e->key + depth, v[j - 1].e->len - depth,
					x.e->key + depth, x.e->len - depth) > 0) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

static void swap_skey(struct skey *v, size_t i, size_t j)
{
	struct skey t = v[i];
	v[i] = v[j];
	v[j] = t;
}

static void mkqsort(struct skey *v, size_t n, size_t depth, bool loaded)
{
	while (n > 1) {
		if (n < 16) {
			insertion_sort(v, n, depth);
			return;
		}
		if (!loaded)
			for (size_t i = 0; i < n; i++)
				v[i].chunk = load_chunk(v[i].e, depth);
		uint64_t p0 = v[0].chunk, p1 = v[n / 2].chunk, p2 = v[n - 1].chunk;
		uint64_t pivot = p0 < p1 ? (p1 < p2 ? p1 : p0 < p2 ? p2 : p0)
					 : (p0 < p2 ? p0 : p1 < p2 ? p2 : p1);
		/* three-way partition: [0,lt) < pivot, [lt,gt) ==, [gt,n) > */
		size_t lt = 0, i = 0, gt = n;
		while (i < gt) {
			if (v[i].chunk < pivot)
				swap_skey(v, lt++, i++);
			else if (v[i].chunk > pivot)
				swap_skey(v, i, --gt);
			else
				i++;
		}
		mkqsort(v, lt, depth, true);
		mkqsort(v + gt, n - gt, depth, true);
		/* Keys that end inside this chunk are prefixes of the others in
		 * the equal run (zero padding matched their bytes), so they sort
		 * first; among themselves only a full compare can order them. */
		v += lt;
		n = gt - lt;
		size_t done = 0;
		for (size_t k = 0; k < n; k++)
			if (v[k].e->len <= depth + 8)
				swap_skey(v, done++, k);
		insertion_sort(v, done, depth);
		v += done;
		n -= done;
		depth += 8;
		loaded = false;
	}
}

const struct fold_entry **foldtab_sorted(const struct foldtab *t)
{
	struct skey *v = xmalloc((t->count ? t->count : 1) * sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].key)
			v[n++].e = &t->slots[i];
	mkqsort(v, n, 0, false);
	const struct fold_entry **out = xmalloc((n ? n : 1) * sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = v[i].e;
	free(v);
	return out;
}

void foldtab_release(struct foldtab *t)
{
	free(t->slots);
	free(t->order);
	arena_release(&t->keys);
	memset(t, 0, sizeof(*t));
}
