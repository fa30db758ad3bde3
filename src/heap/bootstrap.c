/* bootstrap: a static bump pool serving the allocations made before the
 * real allocator is known (dlsym itself calls calloc). Invariant: pool
 * memory is never reused or released; free() of it is ignored and realloc()
 * copies out of it; each block is preceded by its size. */
#include <stdatomic.h>
#include <string.h>

#include "heap/heap.h"

_Alignas(64) unsigned char kh_boot_pool[BOOT_POOL];
#define pool kh_boot_pool
static atomic_size_t used;

void *boot_alloc(size_t size, size_t align)
{
	if (align < 16)
		align = 16;
	for (;;) {
		size_t at = atomic_load(&used);
		size_t start = (at + 16 + align - 1) & ~(align - 1);
		if (start > BOOT_POOL || size > BOOT_POOL - start)
			return NULL;
		if (atomic_compare_exchange_weak(&used, &at, start + size)) {
			size_t sz = size;
			memcpy(pool + start - sizeof sz, &sz, sizeof sz);
			return pool + start; /* static storage: already zero */
		}
	}
}

size_t boot_size(const void *p)
{
	size_t sz;
	memcpy(&sz, (const unsigned char *)p - sizeof sz, sizeof sz);
	return sz;
}
