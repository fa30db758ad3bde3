/* folded: parse and format folded-stack lines (see folded.h). */
#include "format/folded.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Scans a count token ending at end (exclusive), backwards: digits with an
 * optional '.' and fraction. Returns its start, or NULL if not a count. */
static const char *count_token_start(const char *begin, const char *end)
{
	const char *p = end;
	int digits = 0, dots = 0;
	while (p > begin) {
		char c = p[-1];
		if (c >= '0' && c <= '9')
			digits++;
		else if (c == '.' && dots == 0)
			dots++;
		else
			break;
		p--;
	}
	if (!digits || (p < end && *p == '.'))
		return NULL;
	return p;
}

static double parse_count(const char *s, const char *end)
{
	double v = 0, scale = 0;
	for (; s < end; s++) {
		if (*s == '.') {
			scale = 1;
			continue;
		}
		v = v * 10 + (*s - '0');
		if (scale)
			scale *= 10;
	}
	return scale ? v / scale : v;
}

int folded_parse_line(const char *line, size_t len, struct folded_line *out)
{
	const char *begin = line, *end = line + len;
	while (end > begin && is_space(end[-1]))
		end--;
	if (end == begin)
		return 1;
	const char *c1 = count_token_start(begin, end);
	if (!c1 || c1 == begin || !is_space(c1[-1]))
		return KILN_ERR_FORMAT;
	out->count = parse_count(c1, end);
	out->ncounts = 1;
	out->count2 = 0;
	const char *stack_end = c1 - 1;
	/* a second count before the first makes a differential line */
	const char *p = stack_end;
	while (p > begin && is_space(p[-1]))
		p--;
	const char *c0 = count_token_start(begin, p);
	if (c0 && c0 > begin && is_space(c0[-1])) {
		out->count2 = out->count;
		out->count = parse_count(c0, p);
		out->ncounts = 2;
		stack_end = c0 - 1;
	}
	while (stack_end > begin && is_space(stack_end[-1]))
		stack_end--;
	if (stack_end == begin)
		return KILN_ERR_FORMAT;
	out->stack = begin;
	out->len = (size_t)(stack_end - begin);
	return 0;
}

int folded_read(struct linereader *lr, folded_sink_fn sink, void *ctx, struct folded_stats *stats)
{
	const char *line;
	size_t len;
	int rc;
	struct folded_stats local = {0};
	if (!stats)
		stats = &local;
	while ((rc = linereader_next(lr, &line, &len, NULL)) > 0) {
		stats->lines++;
		stats->bytes += len + 1;
		if (memchr(line, '\0', len))
			return KILN_ERR_BINARY;
		struct folded_line fl;
		int prc = folded_parse_line(line, len, &fl);
		if (prc == 1)
			continue;
		if (prc < 0) {
			if (!stats->first_bad_line)
				stats->first_bad_line = lr->lineno;
			stats->bad_lines++;
			continue;
		}
		int src = sink(ctx, &fl);
		if (src)
			return src;
	}
	return rc;
}

size_t folded_format_count(double v, char *buf)
{
	int n;
	if (v == floor(v) && fabs(v) < 1e18)
		n = snprintf(buf, 32, "%.0f", v);
	else {
		n = snprintf(buf, 32, "%.6f", v);
		while (n > 0 && buf[n - 1] == '0')
			buf[--n] = '\0';
		if (n > 0 && buf[n - 1] == '.')
			buf[--n] = '\0';
	}
	return n > 0 ? (size_t)n : 0;
}
