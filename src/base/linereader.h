/* linereader: streams lines of any length from a file descriptor.
 * Invariant: a returned line stays valid until the next call; it excludes
 * the '\n' and may contain NULs. Memory is bounded by the longest line
 * plus one read block, never by the input size. */
#ifndef KILN_BASE_LINEREADER_H
#define KILN_BASE_LINEREADER_H

#include <stddef.h>

struct linereader {
	int fd;
	char *buf;
	size_t cap;
	size_t start; /* first unread byte */
	size_t end;   /* one past the last byte read */
	int eof;
	unsigned long lineno; /* 1-based number of the line last returned */
	unsigned long long consumed; /* bytes handed out so far, for progress */
};

/* Starts reading fd; prefix (may be NULL) holds bytes already read from it
 * (a content sniff) that come first. The reader does not own fd. */
void linereader_init(struct linereader *lr, int fd, const void *prefix, size_t prefix_len);
/* Returns 1 and the next line, 0 at end of input, or -errno. had_newline
 * (may be NULL) says whether the line ended with '\n'. */
int linereader_next(struct linereader *lr, const char **line, size_t *len, int *had_newline);
void linereader_release(struct linereader *lr);

/* Reads up to cap bytes from fd, retrying short reads and EINTR; returns the
 * count (less than cap only at end of input) or -errno. */
long read_full(int fd, void *buf, size_t cap);

#endif
