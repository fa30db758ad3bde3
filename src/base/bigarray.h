/* bigarray: large arrays of plain elements kept in their own anonymous
 * mapping and grown with mremap(2).
 * Invariant: growing never holds two copies of the data (the kernel moves
 * the pages), and capacity that was never written costs no memory, so
 * peak RSS follows what is used, not the doubling. */
#ifndef KILN_BASE_BIGARRAY_H
#define KILN_BASE_BIGARRAY_H

#include <stddef.h>

/* Returns p (NULL at first) grown to hold at least need elements of elem
 * bytes; *cap is updated. New memory reads as zero. Aborts when the
 * system has no memory left, as xmalloc does. */
void *bigarray_grow(void *p, size_t elem, size_t need, size_t *cap);
/* Unmaps an array of cap elements; accepts NULL. */
void bigarray_free(void *p, size_t elem, size_t cap);

#endif
