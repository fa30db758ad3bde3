/* kallsyms: kernel text symbols from /proc/kallsyms, loaded once, sorted
 * by address for binary search. Invariant: when the file is unreadable
 * or kptr_restrict shows every address as zero, no symbol is returned
 * (kernel frames are then named only by module, [kernel.kallsyms]). */
#include "symbolize/symbolize-internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

static int cmp_ksym(const void *a, const void *b)
{
	const struct kallsyms_sym *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void kallsyms_load(struct symbolizer *s)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	if (!f)
		return;
	size_t cap = 0;
	char *line = NULL;
	size_t lcap = 0;
	bool nonzero = false;
	while (getline(&line, &lcap, f) > 0) {
		uint64_t addr;
		char type;
		int name_at = 0;
		if (sscanf(line, "%" SCNx64 " %c %n", &addr, &type, &name_at) < 2 || !name_at)
			continue;
		if (addr)
			nonzero = true;
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		char *name = line + name_at;
		name[strcspn(name, " \t\n")] = '\0';
		s->ksyms = xgrow(s->ksyms, sizeof(*s->ksyms), s->nksyms + 1, &cap);
		s->ksyms[s->nksyms].addr = addr;
		s->ksyms[s->nksyms].name = arena_memdup(&s->strings, name, strlen(name));
		s->nksyms++;
	}
	free(line);
	fclose(f);
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
