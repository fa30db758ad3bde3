/* bigarray: mmap/mremap-backed growable arrays (see bigarray.h). */
#include "base/bigarray.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t round_bytes(size_t bytes)
{
	size_t page = 1 << 16; /* 64 KiB granules keep mremap calls rare */
	return (bytes + page - 1) & ~(page - 1);
}

static void no_memory(size_t bytes)
{
	char msg[96];
	int n = snprintf(msg, sizeof(msg), "kiln: out of memory (%zu bytes)\n", bytes);
	if (n > 0 && write(2, msg, (size_t)n) < 0) {
		/* nothing more can be done */
	}
	abort();
}

void *bigarray_grow(void *p, size_t elem, size_t need, size_t *cap)
{
	if (need <= *cap && p)
		return p;
	size_t n = *cap ? *cap : 1;
	while (n < need) {
		if (n > SIZE_MAX / 4 / elem)
			no_memory(SIZE_MAX);
		n *= 2;
	}
	size_t old_bytes = round_bytes(*cap * elem), new_bytes = round_bytes(n * elem);
	void *q;
	if (!p)
		q = mmap(NULL, new_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		q = mremap(p, old_bytes, new_bytes, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		no_memory(new_bytes);
#ifdef MADV_HUGEPAGE
	if (new_bytes >= (4u << 20))
		madvise(q, new_bytes, MADV_HUGEPAGE);
#endif
	*cap = new_bytes / elem;
	return q;
}

void bigarray_free(void *p, size_t elem, size_t cap)
{
	if (p)
		munmap(p, round_bytes(cap * elem));
}
