/* kallsyms: kernel text symbols from /proc/kallsyms, loaded once, sorted
 * by address for binary search. Invariant: when the file is unreadable
 * or kptr_restrict shows every address as zero, no symbol is returned
 * (kernel frames are then named only by module, [kernel.kallsyms]). */
#include "symbolize/symbolize-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

static int cmp_ksym(const void *a, const void *b)
{
	const struct kallsyms_sym *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Parses the whole file at once by hand: sscanf over its ~120,000 lines
 * took a fifth of a second, which every short kiln run paid. */
static void kallsyms_load(struct symbolizer *s)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	if (!f)
		return;
	size_t len = 0, cap = 1 << 22;
	char *buf = xmalloc(cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap)
			buf = xgrow(buf, 1, cap * 2, &cap);
	}
	fclose(f);
	size_t syms_cap = 0;
	bool nonzero = false;
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		uint64_t addr = 0;
		const char *q = p;
		int d;
		while (q < le && (d = hex_digit((unsigned char)*q)) >= 0) {
			addr = addr << 4 | (uint64_t)d;
			q++;
		}
		/* "ADDR TYPE NAME[\t[module]]" */
		if (q + 3 < le && q > p && q[0] == ' ' && q[2] == ' ') {
			char type = q[1];
			const char *name = q + 3, *ne = name;
			while (ne < le && *ne != '\t' && *ne != ' ')
				ne++;
			if (addr)
				nonzero = true;
			if ((type == 't' || type == 'T' || type == 'w' || type == 'W') && ne > name) {
				s->ksyms = xgrow(s->ksyms, sizeof(*s->ksyms), s->nksyms + 1, &syms_cap);
				s->ksyms[s->nksyms].addr = addr;
				s->ksyms[s->nksyms].name = arena_memdup(&s->strings, name, (size_t)(ne - name));
				s->nksyms++;
			}
		}
		p = nl ? nl + 1 : end;
	}
	free(buf);
	if (!nonzero) {
		s->kallsyms_zero = true;
		s->nksyms = 0;
		return;
	}
	qsort(s->ksyms, s->nksyms, sizeof(*s->ksyms), cmp_ksym);
}

const char *kallsyms_lookup(struct symbolizer *s, uint64_t addr, uint64_t *sym_addr)
{
	if (s->opt.no_kernel)
		return NULL;
	if (!s->kallsyms_tried) {
		s->kallsyms_tried = true;
		kallsyms_load(s);
	}
	size_t lo = 0, hi = s->nksyms;
	while (lo < hi) { /* first symbol above addr */
		size_t mid = lo + (hi - lo) / 2;
		if (s->ksyms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	*sym_addr = s->ksyms[lo - 1].addr;
	return s->ksyms[lo - 1].name;
}

void kallsyms_release(struct symbolizer *s)
{
	free(s->ksyms);
	s->ksyms = NULL;
	s->nksyms = 0;
}
