/* arena: bump allocator in 64 KiB-or-larger blocks (see arena.h). */
#include "base/arena.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

struct arena_block {
	struct arena_block *next;
	max_align_t align[];
};

enum { ARENA_BLOCK = 256 * 1024 };

void *arena_alloc(struct arena *a, size_t size)
{
	size = (size + 7) & ~(size_t)7;
	if ((size_t)(a->end - a->cur) < size || !a->cur) {
		size_t payload = size > ARENA_BLOCK / 4 ? size : ARENA_BLOCK;
		struct arena_block *b = xmalloc(sizeof(*b) + payload);
		b->next = a->head;
		a->head = b;
		a->cur = (char *)b->align;
		a->end = a->cur + payload;
	}
	void *p = a->cur;
	a->cur += size;
	a->total += size;
	return p;
}

char *arena_memdup(struct arena *a, const void *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void arena_release(struct arena *a)
{
	struct arena_block *b = a->head;
	while (b) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	memset(a, 0, sizeof(*a));
}
