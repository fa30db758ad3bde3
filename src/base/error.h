/* error: kiln's error codes and their text.
 * Invariant: library functions return 0 on success or a negative code:
 * either -errno, or one of kiln's own codes below, which sit in a reserved
 * range above every errno. Only src/cli/ turns a code into a message. */
#ifndef KILN_BASE_ERROR_H
#define KILN_BASE_ERROR_H

#include <stddef.h>

enum kiln_error {
	KILN_ERR_BASE = 100000,
	KILN_ERR_FORMAT = -(KILN_ERR_BASE + 1),    /* malformed input */
	KILN_ERR_BINARY = -(KILN_ERR_BASE + 2),    /* binary data where text was expected */
	KILN_ERR_UNKNOWN_FORMAT = -(KILN_ERR_BASE + 3), /* content matches no known format */
	KILN_ERR_TRUNCATED = -(KILN_ERR_BASE + 4), /* input ends early (truncated gzip, short message) */
	KILN_ERR_EMPTY = -(KILN_ERR_BASE + 5),     /* no data where some is required */
	KILN_ERR_TOO_BIG = -(KILN_ERR_BASE + 6),   /* input exceeds a hard limit */
	KILN_ERR_LAST = -(KILN_ERR_BASE + 7),
};

/* Returns a static string describing code (negative errno or kiln code). */
const char *kiln_strerror(int code);

/* An optional diagnostic filled by parsers: where the problem is and what. */
struct diag {
	unsigned long line;    /* 1-based line, 0 when not line-oriented */
	unsigned long long offset; /* byte offset, when known */
	char msg[256];
};

/* Formats into d (if non-NULL) and returns code, for one-line error returns. */
int diag_set(struct diag *d, int code, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
