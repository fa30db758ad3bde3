/* arena: bump allocator (see arena.h). Small arenas take 256 KiB blocks
 * from malloc; once an arena holds more than BIG_AFTER bytes its blocks are
 * 8 MiB mappings marked for transparent huge pages, which cuts the page
 * faults of filling hundreds of megabytes by two orders of magnitude. */
#include "base/arena.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/xalloc.h"

struct arena_block {
	struct arena_block *next;
	size_t mapped; /* bytes mmap'd, or 0 for a malloc'd block */
	max_align_t align[];
};

enum {
	ARENA_BLOCK = 256 * 1024,
	BIG_BLOCK = 8 << 20,
	BIG_AFTER = 16 << 20,
};

static struct arena_block *block_new(struct arena *a, size_t payload)
{
	struct arena_block *b;
	if (a->total >= BIG_AFTER && payload <= BIG_BLOCK - sizeof(*b)) {
		void *m = mmap(NULL, BIG_BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m != MAP_FAILED) {
#ifdef MADV_HUGEPAGE
			madvise(m, BIG_BLOCK, MADV_HUGEPAGE);
#endif
			b = m;
			b->mapped = BIG_BLOCK;
			a->cur = (char *)b->align;
			a->end = (char *)m + BIG_BLOCK;
			return b;
		}
	}
	b = xmalloc(sizeof(*b) + payload);
	b->mapped = 0;
	a->cur = (char *)b->align;
	a->end = a->cur + payload;
	return b;
}

void *arena_alloc(struct arena *a, size_t size)
{
	size = (size + 7) & ~(size_t)7;
	if (!a->cur || (size_t)(a->end - a->cur) < size) {
		size_t payload = size > ARENA_BLOCK / 4 ? size : ARENA_BLOCK;
		struct arena_block *b = block_new(a, payload);
		b->next = a->head;
		a->head = b;
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
		if (b->mapped)
			munmap(b, b->mapped);
		else
			free(b);
		b = next;
	}
	memset(a, 0, sizeof(*a));
}
