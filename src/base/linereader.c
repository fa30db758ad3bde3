/* linereader: buffered line splitting over read(2) (see linereader.h). */
#include "base/linereader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/xalloc.h"

enum { READ_BLOCK = 1 << 20 };

long read_full(int fd, void *buf, size_t cap)
{
	size_t got = 0;
	while (got < cap) {
		ssize_t n = read(fd, (char *)buf + got, cap - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (long)got;
}

void linereader_init(struct linereader *lr, int fd, const void *prefix, size_t prefix_len)
{
	memset(lr, 0, sizeof(*lr));
	lr->fd = fd;
	lr->cap = READ_BLOCK > prefix_len ? READ_BLOCK : prefix_len;
	lr->buf = xmalloc(lr->cap);
	if (prefix_len)
		memcpy(lr->buf, prefix, prefix_len);
	lr->end = prefix_len;
}

static int fill(struct linereader *lr)
{
	if (lr->start > 0) {
		memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
		lr->end -= lr->start;
		lr->start = 0;
	}
	if (lr->cap - lr->end < READ_BLOCK / 2)
		lr->buf = xgrow(lr->buf, 1, lr->end + READ_BLOCK, &lr->cap);
	ssize_t n;
	do
		n = read(lr->fd, lr->buf + lr->end, lr->cap - lr->end);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		lr->eof = 1;
	lr->end += (size_t)n;
	return 0;
}

int linereader_next(struct linereader *lr, const char **line, size_t *len, int *had_newline)
{
	size_t scanned = lr->start;
	for (;;) {
		char *nl = memchr(lr->buf + scanned, '\n', lr->end - scanned);
		if (nl) {
			*line = lr->buf + lr->start;
			*len = (size_t)(nl - *line);
			if (had_newline)
				*had_newline = 1;
			lr->consumed += *len + 1;
			lr->start += *len + 1;
			lr->lineno++;
			return 1;
		}
		if (lr->eof) {
			if (lr->start == lr->end)
				return 0;
			*line = lr->buf + lr->start;
			*len = lr->end - lr->start;
			if (had_newline)
				*had_newline = 0;
			lr->consumed += *len;
			lr->start = lr->end;
			lr->lineno++;
			return 1;
		}
		size_t pending = lr->end - lr->start;
		int err = fill(lr);
		if (err)
			return err;
		scanned = lr->start + pending;
	}
}

void linereader_release(struct linereader *lr)
{
	free(lr->buf);
	lr->buf = NULL;
}
