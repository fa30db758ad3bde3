/* budgetfile: the line format of kiln check's budget files: `key = value`
 * lines, blank lines and `#` comments (a whole line, or after blanks).
 * Invariant: the parser knows no key; it hands each pair, trimmed and
 * NUL-terminated, to a callback with its 1-based line, in file order, and
 * stops at the first malformed line with KILN_ERR_FORMAT and that line. */
#ifndef KILN_FORMAT_BUDGETFILE_H
#define KILN_FORMAT_BUDGETFILE_H

#include <stddef.h>

#include "base/error.h"

/* Receives one pair; key is [a-z0-9-]+, value is non-empty. Both strings
 * live only during the call. A non-zero return stops the parse and is
 * returned (the callback fills d, with line, itself). */
typedef int (*budgetfile_fn)(void *ctx, const char *key, const char *value, unsigned long line,
			     struct diag *d);

/* Parses text[0..len) (need not be NUL-terminated). Returns 0, the
 * callback's code, or KILN_ERR_FORMAT with d->line set for a line that is
 * not `key = value` (no '=', a bad key, an empty value) or holds a NUL. */
int budgetfile_parse(const char *text, size_t len, budgetfile_fn fn, void *ctx, struct diag *d);

#endif
