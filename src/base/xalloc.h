/* xalloc: allocation wrappers for kiln's command-line code paths.
 * Invariant: they never return NULL. Running out of memory is the one
 * failure library code does not report as an error code: it aborts with a
 * message, as git's xmalloc does. Code that runs inside other people's
 * processes (heap/, agent/) must not use these. */
#ifndef KILN_BASE_XALLOC_H
#define KILN_BASE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
/* Grows an array of count elements of elem_size bytes to hold at least
 * need elements; *cap is updated. Returns the (possibly moved) array. */
void *xgrow(void *ptr, size_t elem_size, size_t need, size_t *cap);
char *xstrdup(const char *s);
char *xmemdup(const void *s, size_t len); /* NUL-terminates the copy */

#endif
