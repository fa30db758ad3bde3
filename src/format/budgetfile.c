/* budgetfile: splits a budget file into (key, value, line) triples.
 * Invariant: lines end at '\n' (a '\r' before it is dropped); a key is the
 * text before the first '=', a value the text after it up to a comment,
 * both without surrounding blanks. */
#include "format/budgetfile.h"

#include <string.h>

#include "base/strbuf.h"

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* The span [*b, *e) without blanks at either end. */
static void trim(const char *s, size_t *b, size_t *e)
{
	while (*b < *e && is_blank(s[*b]))
		(*b)++;
	while (*e > *b && is_blank(s[*e - 1]))
		(*e)--;
}

/* One line, s[0..n) without its '\n'. */
static int parse_line(const char *s, size_t n, unsigned long line, budgetfile_fn fn, void *ctx,
		      struct strbuf *scratch, struct diag *d)
{
	if (memchr(s, '\0', n))
		return diag_set(d, KILN_ERR_FORMAT, line, "a NUL byte (not a text file?)");
	/* a comment starts at '#' that opens the line or follows a blank */
	size_t end = n;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '#' && (i == 0 || is_blank(s[i - 1]))) {
			end = i;
			break;
		}
	size_t b = 0;
	trim(s, &b, &end);
	if (b == end)
		return 0;
	const char *eq = memchr(s + b, '=', end - b);
	if (!eq)
		return diag_set(d, KILN_ERR_FORMAT, line, "expected 'key = value', found '%.*s'",
				(int)(end - b > 60 ? 60 : end - b), s + b);
	size_t kb = b, ke = (size_t)(eq - s), vb = ke + 1, ve = end;
	trim(s, &kb, &ke);
	trim(s, &vb, &ve);
	if (kb == ke)
		return diag_set(d, KILN_ERR_FORMAT, line, "no key before '='");
	for (size_t i = kb; i < ke; i++)
		if (!is_key_char(s[i]))
			return diag_set(d, KILN_ERR_FORMAT, line,
					"'%.*s' is not a key (keys are lower-case words joined by '-')",
					(int)(ke - kb > 60 ? 60 : ke - kb), s + kb);
	if (vb == ve)
		return diag_set(d, KILN_ERR_FORMAT, line, "no value for '%.*s'", (int)(ke - kb), s + kb);
	strbuf_reset(scratch);
	strbuf_add(scratch, s + kb, ke - kb);
	strbuf_addch(scratch, '\0');
	size_t voff = scratch->len;
	strbuf_add(scratch, s + vb, ve - vb);
	return fn(ctx, scratch->buf, scratch->buf + voff, line, d);
}

int budgetfile_parse(const char *text, size_t len, budgetfile_fn fn, void *ctx, struct diag *d)
{
	struct strbuf scratch = STRBUF_INIT;
	unsigned long line = 0;
	int rc = 0;
	size_t pos = 0;
	while (pos < len && !rc) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		rc = parse_line(text + pos, n, ++line, fn, ctx, &scratch, d);
		pos += n + 1;
	}
	strbuf_release(&scratch);
	return rc;
}
