/* strtab: a string table that stores every distinct string once and names
 * it by a dense uint32 index, as pprof's string_table does.
 * Invariant: index 0 is always "", indices never change once handed out,
 * and the bytes behind an index stay valid and NUL-terminated until
 * strtab_release(). Strings may contain NUL bytes (use strtab_len). */
#ifndef KILN_MODEL_STRTAB_H
#define KILN_MODEL_STRTAB_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"

struct strtab_entry {
	const char *s; /* NUL-terminated copy in the arena */
	size_t len;
	uint64_t hash;
};

struct strtab {
	struct strtab_entry *entries; /* by index; entries[0] is "" */
	size_t count;
	size_t entries_cap;
	uint32_t *slots; /* open addressing: index + 1, 0 = empty */
	size_t slots_cap; /* a power of two */
	struct arena bytes;
};

/* Makes t an empty table holding only "" at index 0. */
void strtab_init(struct strtab *t);
/* Frees everything t owns; every pointer from strtab_get() dies. Accepts
 * NULL and a zeroed struct; t may be reused after strtab_init(). */
void strtab_release(struct strtab *t);

/* Returns the index of s[0..len), adding a copy if it is new. s need not be
 * NUL-terminated and may be NULL when len is 0. Never fails (aborts when
 * out of memory, as xalloc does). */
uint32_t strtab_intern(struct strtab *t, const char *s, size_t len);
/* Like strtab_intern() for a C string. */
uint32_t strtab_interns(struct strtab *t, const char *s);
/* Looks s[0..len) up without adding it: returns 1 and writes *id when found,
 * 0 otherwise. */
int strtab_find(const struct strtab *t, const char *s, size_t len, uint32_t *id);
/* Returns the NUL-terminated string at id, or NULL when id >= count. Valid
 * until strtab_release(). */
const char *strtab_get(const struct strtab *t, uint32_t id);
/* Returns the length of the string at id, or 0 when id >= count. */
size_t strtab_len(const struct strtab *t, uint32_t id);
/* Returns the number of strings, including "" at index 0. */
static inline size_t strtab_count(const struct strtab *t)
{
	return t->count;
}

#endif
