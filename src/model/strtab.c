/* strtab: interned strings in an arena, indexed by an open-addressing hash
 * table of entry indices (see strtab.h). The table is kept at most 3/4
 * full, so every probe sequence ends at an empty slot. */
#include "model/strtab.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/xalloc.h"

/* Hashes s[0..len); s may be NULL when len is 0. */
static uint64_t str_hash(const char *s, size_t len)
{
	return len ? hash_bytes(s, len) : hash_bytes(&len, 0);
}

static void slots_insert(uint32_t *slots, size_t cap, uint64_t h, uint32_t val)
{
	size_t i = (size_t)h & (cap - 1);
	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = val;
}

static void slots_grow(struct strtab *t)
{
	size_t ncap = t->slots_cap ? t->slots_cap * 2 : 256;
	uint32_t *ns = xcalloc(ncap, sizeof(*ns));
	for (size_t i = 0; i < t->count; i++)
		slots_insert(ns, ncap, t->entries[i].hash, (uint32_t)(i + 1));
	free(t->slots);
	t->slots = ns;
	t->slots_cap = ncap;
}

static uint32_t add_entry(struct strtab *t, const char *s, size_t len, uint64_t h)
{
	/* Four billion distinct strings is out of memory in all but name. */
	if (t->count >= UINT32_MAX - 1)
		abort();
	t->entries = xgrow(t->entries, sizeof(*t->entries), t->count + 1, &t->entries_cap);
	struct strtab_entry *e = &t->entries[t->count];
	e->s = arena_memdup(&t->bytes, len ? s : "", len);
	e->len = len;
	e->hash = h;
	uint32_t id = (uint32_t)t->count++;
	if ((t->count) * 4 > t->slots_cap * 3)
		slots_grow(t);
	else
		slots_insert(t->slots, t->slots_cap, h, id + 1);
	return id;
}

void strtab_init(struct strtab *t)
{
	memset(t, 0, sizeof(*t));
	add_entry(t, "", 0, str_hash(NULL, 0));
}

void strtab_release(struct strtab *t)
{
	if (!t)
		return;
	free(t->entries);
	free(t->slots);
	arena_release(&t->bytes);
	memset(t, 0, sizeof(*t));
}

/* Returns the slot holding s, or the empty slot where it would go. */
static size_t probe(const struct strtab *t, const char *s, size_t len, uint64_t h)
{
	size_t mask = t->slots_cap - 1;
	size_t i = (size_t)h & mask;
	for (;;) {
		uint32_t v = t->slots[i];
		if (!v)
			return i;
		const struct strtab_entry *e = &t->entries[v - 1];
		if (e->hash == h && e->len == len && (len == 0 || memcmp(e->s, s, len) == 0))
			return i;
		i = (i + 1) & mask;
	}
}

uint32_t strtab_intern(struct strtab *t, const char *s, size_t len)
{
	uint64_t h = str_hash(s, len);
	size_t i = probe(t, s, len, h);
	if (t->slots[i])
		return t->slots[i] - 1;
	return add_entry(t, s, len, h);
}

uint32_t strtab_interns(struct strtab *t, const char *s)
{
	return strtab_intern(t, s, strlen(s));
}

int strtab_find(const struct strtab *t, const char *s, size_t len, uint32_t *id)
{
	if (!t->slots_cap)
		return 0;
	size_t i = probe(t, s, len, str_hash(s, len));
	if (!t->slots[i])
		return 0;
	*id = t->slots[i] - 1;
	return 1;
}

const char *strtab_get(const struct strtab *t, uint32_t id)
{
	return id < t->count ? t->entries[id].s : NULL;
}

size_t strtab_len(const struct strtab *t, uint32_t id)
{
	return id < t->count ? t->entries[id].len : 0;
}
