/* arena: a bump allocator for many small, same-lifetime objects.
 * Invariant: memory handed out stays valid and never moves until
 * arena_release(); nothing is freed one by one. */
#ifndef KILN_BASE_ARENA_H
#define KILN_BASE_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head;
	char *cur;
	char *end;
	size_t total; /* bytes handed out, for memory accounting */
};

#define ARENA_INIT {0}

/* Returns size bytes aligned to 8; never NULL (aborts on exhaustion). */
void *arena_alloc(struct arena *a, size_t size);
/* Copies len bytes and a terminating NUL into the arena. */
char *arena_memdup(struct arena *a, const void *s, size_t len);
void arena_release(struct arena *a);

#endif
