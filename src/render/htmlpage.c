/* htmlpage: shared pieces of kiln's HTML pages (see htmlpage.h).
 * Invariant: every byte taken from data is escaped or base64/percent-
 * encoded before it reaches the page. */
#include "render/htmlpage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "render/report-assets.h"

void htmlpage_text(struct strbuf *sb, const char *s)
{
	if (s)
		strbuf_add_xml(sb, s, strlen(s));
}

/* Appends fmt's output, escaped. */
static void add_escaped_v(struct strbuf *sb, const char *fmt, va_list ap)
{
	struct strbuf tmp = STRBUF_INIT;
	strbuf_vaddf(&tmp, fmt, ap);
	strbuf_add_xml(sb, strbuf_str(&tmp), tmp.len);
	strbuf_release(&tmp);
}

void htmlpage_base64(struct strbuf *sb, const void *data, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	if (!len)
		return;
	strbuf_grow(sb, (len + 2) / 3 * 4);
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		char q[4] = {abc[v >> 18], abc[(v >> 12) & 63], abc[(v >> 6) & 63], abc[v & 63]};
		strbuf_add(sb, q, 4);
	}
	if (i < len) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0);
		char q[4] = {abc[v >> 18], abc[(v >> 12) & 63], i + 1 < len ? abc[(v >> 6) & 63] : '=', '='};
		strbuf_add(sb, q, 4);
	}
}

void htmlpage_urlpath(struct strbuf *sb, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		    strchr("._~-", *c)) {
			strbuf_addch(sb, (char)*c);
		} else {
			char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};
			strbuf_add(sb, e, 3);
		}
	}
}

void htmlpage_begin(struct strbuf *sb, const char *title)
{
	strbuf_adds(sb, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
			"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
			"<meta name=\"generator\" content=\"kiln\">\n<title>");
	htmlpage_text(sb, title);
	strbuf_adds(sb, "</title>\n<style>\n");
	strbuf_adds(sb, report_css);
	strbuf_adds(sb, "</style>\n</head>\n<body>\n<main>\n");
}

void htmlpage_end(struct strbuf *sb)
{
	strbuf_adds(sb, "<footer>Written by kiln. The page is self-contained: it works offline "
			"and from file://.</footer>\n</main>\n</body>\n</html>\n");
}

void htmlpage_card(struct strbuf *sb, const char *label, const char *value, const char *detail,
		   const char *tone)
{
	strbuf_adds(sb, "<div class=\"card");
	if (tone) {
		strbuf_addch(sb, ' ');
		htmlpage_text(sb, tone);
	}
	strbuf_adds(sb, "\"><div class=\"label\">");
	htmlpage_text(sb, label);
	/* a verdict in words takes a smaller type than a figure */
	strbuf_adds(sb, value && strlen(value) > 12 ? "</div><div class=\"value words\">" : "</div><div class=\"value\">");
	htmlpage_text(sb, value);
	strbuf_adds(sb, "</div>");
	if (detail && *detail) {
		strbuf_adds(sb, "<div class=\"detail\">");
		htmlpage_text(sb, detail);
		strbuf_adds(sb, "</div>");
	}
	strbuf_adds(sb, "</div>\n");
}

void htmlpage_note(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	strbuf_adds(sb, "<p class=\"note\">");
	va_start(ap, fmt);
	add_escaped_v(sb, fmt, ap);
	va_end(ap);
	strbuf_adds(sb, "</p>\n");
}

void htmlpage_table_begin(struct strbuf *sb, const char *id, const char *columns)
{
	strbuf_adds(sb, "<table");
	if (id) {
		strbuf_adds(sb, " id=\"");
		htmlpage_text(sb, id);
		strbuf_addch(sb, '"');
	}
	strbuf_adds(sb, "><thead><tr>");
	for (const char *c = columns; *c;) {
		const char *bar = strchr(c, '|');
		size_t n = bar ? (size_t)(bar - c) : strlen(c);
		bool num = *c == '#';
		strbuf_adds(sb, num ? "<th class=\"num\">" : "<th>");
		strbuf_add_xml(sb, c + num, n - num);
		strbuf_adds(sb, "</th>");
		c += n + (bar != NULL);
	}
	strbuf_adds(sb, "</tr></thead>\n<tbody>\n");
}

void htmlpage_table_end(struct strbuf *sb)
{
	strbuf_adds(sb, "</tbody></table>\n");
}

void htmlpage_td_name(struct strbuf *sb, const char *name)
{
	strbuf_adds(sb, "<td class=\"name\">");
	htmlpage_text(sb, name);
	strbuf_adds(sb, "</td>");
}

void htmlpage_td_num(struct strbuf *sb, const char *text)
{
	strbuf_adds(sb, "<td class=\"num\">");
	htmlpage_text(sb, text);
	strbuf_adds(sb, "</td>");
}

void htmlpage_td_bar(struct strbuf *sb, const char *text, double pct)
{
	if (!(pct > 0))
		pct = 0;
	if (pct > 100)
		pct = 100;
	strbuf_addf(sb, "<td class=\"num bar\" style=\"--w:%.1f%%\">", pct);
	htmlpage_text(sb, text);
	strbuf_adds(sb, "</td>");
}

/* The value of attribute name inside the tag [tag, end), or NULL. */
static const char *attr_value(const char *tag, const char *end, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	for (const char *p = tag; p + nlen + 2 < end; p++) {
		if ((p[-1] != ' ' && p[-1] != '\n' && p[-1] != '\t' && p[-1] != '\r') ||
		    memcmp(p, name, nlen) || p[nlen] != '=')
			continue;
		char q = p[nlen + 1];
		if (q != '"' && q != '\'')
			continue;
		const char *v = p + nlen + 2, *close = memchr(v, q, (size_t)(end - v));
		if (!close)
			return NULL;
		*vlen = (size_t)(close - v);
		return v;
	}
	return NULL;
}

static int positive_number(const char *v, size_t len, double *out)
{
	char num[32];
	if (!v || len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, v, len);
	num[len] = '\0';
	char *end;
	double x = strtod(num, &end);
	if (end == num || (*end && strcmp(end, "px")) || !(x > 0) || x > 1e7)
		return -1;
	*out = x;
	return 0;
}

/* Finds the root <svg> tag: its attributes are [*tag, *close). */
static int root_tag(const char *svg, size_t len, const char **tag, const char **close)
{
	const char *end = svg + len, *t = NULL;
	for (const char *p = svg; p + 5 <= end; p++) {
		p = memchr(p, '<', (size_t)(end - p));
		if (!p || p + 5 > end)
			break;
		if (!memcmp(p, "<svg", 4) && (p[4] == ' ' || p[4] == '\n' || p[4] == '\t' || p[4] == '\r')) {
			t = p + 4;
			break;
		}
	}
	const char *c = t ? memchr(t, '>', (size_t)(end - t)) : NULL;
	if (!c)
		return KILN_ERR_FORMAT;
	*tag = t;
	*close = c;
	return 0;
}

int htmlpage_svg_size(const char *svg, size_t len, double *width, double *height)
{
	const char *tag, *close;
	if (root_tag(svg, len, &tag, &close))
		return KILN_ERR_FORMAT;
	size_t wl = 0, hl = 0;
	const char *w = attr_value(tag, close, "width", &wl), *h = attr_value(tag, close, "height", &hl);
	double wv, hv;
	if (positive_number(w, wl, &wv) || positive_number(h, hl, &hv))
		return KILN_ERR_FORMAT;
	*width = wv;
	*height = hv;
	return 0;
}

int htmlpage_svg_fluid(const char *svg, size_t len, struct strbuf *out)
{
	const char *tag, *close;
	double w, h;
	size_t wl = 0, hl = 0, vl = 0;
	if (htmlpage_svg_size(svg, len, &w, &h) || root_tag(svg, len, &tag, &close) ||
	    !attr_value(tag, close, "viewBox", &vl))
		return KILN_ERR_FORMAT;
	const char *wv = attr_value(tag, close, "width", &wl), *hv = attr_value(tag, close, "height", &hl);
	const char *first = wv < hv ? wv : hv, *second = wv < hv ? hv : wv;
	size_t first_len = wv < hv ? wl : hl, second_len = wv < hv ? hl : wl;
	strbuf_add(out, svg, (size_t)(first - svg));
	strbuf_adds(out, "100%");
	strbuf_add(out, first + first_len, (size_t)(second - (first + first_len)));
	strbuf_adds(out, "100%");
	strbuf_add(out, second + second_len, len - (size_t)(second + second_len - svg));
	return 0;
}

static void data_uri(struct strbuf *sb, const char *svg, size_t len)
{
	strbuf_adds(sb, "data:image/svg+xml;base64,");
	htmlpage_base64(sb, svg, len);
}

void htmlpage_flame(struct strbuf *sb, const char *svg, size_t len, const char *title)
{
	double w = 1200, h = 600;
	struct strbuf fluid = STRBUF_INIT;
	if (!htmlpage_svg_fluid(svg, len, &fluid)) {
		/* the graph follows the frame's width; the frame keeps its shape */
		htmlpage_svg_size(svg, len, &w, &h);
		strbuf_addf(sb, "<iframe class=\"flame\" style=\"aspect-ratio:%.0f/%.0f\" title=\"", w, h);
		svg = fluid.buf;
		len = fluid.len;
	} else {
		htmlpage_svg_size(svg, len, &w, &h); /* keeps the defaults when it cannot tell */
		strbuf_addf(sb, "<iframe class=\"flame\" style=\"height:%.0fpx;min-width:%.0fpx\" title=\"", h + 4,
			    w + 4);
	}
	htmlpage_text(sb, title);
	strbuf_adds(sb, "\" src=\"");
	data_uri(sb, svg, len);
	strbuf_adds(sb, "\"></iframe>\n");
	strbuf_release(&fluid);
}

void htmlpage_image(struct strbuf *sb, const char *svg, size_t len, const char *alt, const char *caption)
{
	double w = 0, h = 0;
	strbuf_adds(sb, "<figure><img alt=\"");
	htmlpage_text(sb, alt);
	strbuf_adds(sb, "\"");
	if (!htmlpage_svg_size(svg, len, &w, &h))
		strbuf_addf(sb, " width=\"%.0f\" height=\"%.0f\"", w, h);
	strbuf_adds(sb, " src=\"");
	data_uri(sb, svg, len);
	strbuf_adds(sb, "\">");
	if (caption && *caption) {
		strbuf_adds(sb, "<figcaption>");
		htmlpage_text(sb, caption);
		strbuf_adds(sb, "</figcaption>");
	}
	strbuf_adds(sb, "</figure>\n");
}

int htmlpage_read_file(const char *dir, const char *name, size_t max, char **data, size_t *len)
{
	if (!name || !*name || name[0] == '.' || strchr(name, '/'))
		return KILN_ERR_FORMAT;
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/%s", dir, name);
	/* O_NONBLOCK: a FIFO without a writer must not block the open */
	int fd = open(path.buf, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	strbuf_release(&path);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st)) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	if ((unsigned long long)st.st_size > max) {
		close(fd);
		return KILN_ERR_TOO_BIG;
	}
	struct strbuf sb = STRBUF_INIT;
	strbuf_grow(&sb, (size_t)st.st_size + 1);
	for (;;) {
		char chunk[65536];
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;
			close(fd);
			strbuf_release(&sb);
			return e;
		}
		if (n == 0)
			break;
		if (sb.len + (size_t)n > max) {
			close(fd);
			strbuf_release(&sb);
			return KILN_ERR_TOO_BIG;
		}
		strbuf_add(&sb, chunk, (size_t)n);
	}
	close(fd);
	*len = sb.len;
	*data = sb.buf ? sb.buf : xstrdup("");
	return 0;
}

int htmlpage_flush(const struct strbuf *sb, FILE *out)
{
	if (sb->len && fwrite(sb->buf, 1, sb->len, out) != sb->len)
		return -EIO;
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}

int htmlpage_write_file(const char *dir, const char *name, const struct strbuf *sb)
{
	struct strbuf tmp = STRBUF_INIT, path = STRBUF_INIT;
	strbuf_addf(&tmp, "%s/.%s.%ld.tmp", dir, name, (long)getpid());
	strbuf_addf(&path, "%s/%s", dir, name);
	int rc = 0;
	/* open() rather than mkstemp(), so the page gets the umask's mode */
	int fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	size_t off = 0;
	while (off < sb->len) {
		ssize_t n = write(fd, sb->buf + off, sb->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp.buf, path.buf))
		rc = -errno;
	if (rc)
		unlink(tmp.buf);
out:
	strbuf_release(&tmp);
	strbuf_release(&path);
	return rc;
}
