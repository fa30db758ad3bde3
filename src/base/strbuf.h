/* strbuf: a growable byte buffer that is always NUL-terminated.
 * Invariant: buf[len] == '\0' once anything was added; buf may hold NULs.
 * A zeroed struct strbuf (STRBUF_INIT) is a valid empty buffer. */
#ifndef KILN_BASE_STRBUF_H
#define KILN_BASE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
};

#define STRBUF_INIT {0}

void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* Appends s with &, <, >, " and ' escaped for XML text and attributes. */
void strbuf_add_xml(struct strbuf *sb, const char *s, size_t len);
/* Appends s as a JSON string body (no quotes), escaping as RFC 8259 says. */
void strbuf_add_json(struct strbuf *sb, const char *s, size_t len);
void strbuf_reset(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
/* Returns the buffer's bytes as a C string ("" for an empty buffer). */
const char *strbuf_str(const struct strbuf *sb);

#endif
