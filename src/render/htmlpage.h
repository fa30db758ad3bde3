/* htmlpage: the pieces kiln's self-contained HTML pages share (index.html
 * of a results folder, diff.html of kiln diff): the head with the embedded
 * style sheet, escaping, cards, notes, and SVGs embedded as data: URIs.
 * Invariant: text from data reaches the page only through htmlpage_text()
 * (or the helpers that call it), and nothing on a page refers outside it
 * but the relative links its caller adds on purpose. */
#ifndef KILN_RENDER_HTMLPAGE_H
#define KILN_RENDER_HTMLPAGE_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "base/strbuf.h"

/* Largest SVG a page embeds; a bigger one is linked instead. */
#define HTMLPAGE_MAX_EMBED (64u << 20)

/* Appends s (NULL: nothing) with & < > " ' escaped, for text and attributes. */
void htmlpage_text(struct strbuf *sb, const char *s);
/* Appends data as base64 (RFC 4648, padded). */
void htmlpage_base64(struct strbuf *sb, const void *data, size_t len);
/* Appends a file name as a relative URL path: bytes outside
 * [A-Za-z0-9._~-] percent-encoded, so "a b#.svg" links to that file. */
void htmlpage_urlpath(struct strbuf *sb, const char *name);

/* The <!DOCTYPE>, <head> (charset, viewport, title, style sheet) and the
 * opening of <body><main>. */
void htmlpage_begin(struct strbuf *sb, const char *title);
/* The footer and the closing tags. */
void htmlpage_end(struct strbuf *sb);

/* A headline card; tone NULL, "good", "bad" or "warn"; detail may be NULL. */
void htmlpage_card(struct strbuf *sb, const char *label, const char *value, const char *detail,
		   const char *tone);
/* A one-line note (printf format; the result is escaped). */
void htmlpage_note(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Opens a table and writes its head: columns are '|'-separated titles, a
 * title starting with '#' (not shown) is a right-aligned number column.
 * id may be NULL. Close with htmlpage_table_end(). */
void htmlpage_table_begin(struct strbuf *sb, const char *id, const char *columns);
void htmlpage_table_end(struct strbuf *sb);
/* Cells: a name (monospace, escaped), a number (right-aligned text), and
 * a number drawn over a bar pct% wide (0-100, clamped). */
void htmlpage_td_name(struct strbuf *sb, const char *name);
void htmlpage_td_num(struct strbuf *sb, const char *text);
void htmlpage_td_bar(struct strbuf *sb, const char *text, double pct);

/* Reads the root <svg> element's width and height (plain numbers or px).
 * Returns 0, or KILN_ERR_FORMAT when there is no <svg> tag or either
 * attribute is missing or not a positive number. */
int htmlpage_svg_size(const char *svg, size_t len, double *width, double *height);
/* Appends svg to out with the root's width and height set to "100%", so it
 * scales to its container through its viewBox. Returns 0, or
 * KILN_ERR_FORMAT (out unchanged) when the root has no width, height or
 * viewBox. */
int htmlpage_svg_fluid(const char *svg, size_t len, struct strbuf *out);
/* An interactive SVG (a kiln flamegraph, whose script expects to be its
 * own document): an <iframe> whose src is a data: URI; with a viewBox the
 * graph scales to the page's width (the frame keeps the SVG's shape),
 * else the frame takes the SVG's size. */
void htmlpage_flame(struct strbuf *sb, const char *svg, size_t len, const char *title);
/* A static SVG chart as an <img> with a data: URI, in a <figure>. */
void htmlpage_image(struct strbuf *sb, const char *svg, size_t len, const char *alt,
		    const char *caption);

/* Reads DIR/NAME whole into *data (NUL-terminated; free() it) and *len.
 * NAME must be a plain file name in DIR (no '/', not starting with '.'):
 * KILN_ERR_FORMAT otherwise; KILN_ERR_TOO_BIG past max bytes; -errno when
 * it cannot be read. */
int htmlpage_read_file(const char *dir, const char *name, size_t max, char **data, size_t *len);

/* Writes sb to out. Returns 0, or -EIO when out reports an error. */
int htmlpage_flush(const struct strbuf *sb, FILE *out);

/* Writes DIR/NAME through a temporary file in DIR, fsync'd and renamed
 * into place, so a reader never sees half a page. Returns 0 or -errno. */
int htmlpage_write_file(const char *dir, const char *name, const struct strbuf *sb);

#endif
