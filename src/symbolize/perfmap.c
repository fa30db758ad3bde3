/* perfmap: JIT symbols from /tmp/perf-PID.map ("START SIZE name" lines,
 * hex), as written by JIT compilers for perf. Invariant: a process's map
 * is read at its first lookup and read again only when a lookup misses
 * and the file has grown, since JITs append while they run. */
#include "symbolize/symbolize-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/xalloc.h"

static int cmp_psym(const void *a, const void *b)
{
	const struct perfmap_sym *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static void perfmap_load(struct symbolizer *s, struct symproc *p, const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	struct stat st;
	if (fstat(fileno(f), &st) == 0)
		p->perfmap_size = st.st_size;
	p->nperfmap = 0;
	size_t cap = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	while ((len = getline(&line, &lcap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		char *end;
		unsigned long long start = strtoull(line, &end, 16);
		if (end == line || *end != ' ')
			continue;
		char *size_at = end + 1;
		unsigned long long size = strtoull(size_at, &end, 16);
		if (end == size_at || *end != ' ' || size == 0 || start + size < start)
			continue;
		const char *name = end + 1;
		p->perfmap = xgrow(p->perfmap, sizeof(*p->perfmap), p->nperfmap + 1, &cap);
		p->perfmap[p->nperfmap].start = start;
		p->perfmap[p->nperfmap].end = start + size;
		p->perfmap[p->nperfmap].name = demangle_name(s, name);
		p->nperfmap++;
	}
	free(line);
	fclose(f);
	qsort(p->perfmap, p->nperfmap, sizeof(*p->perfmap), cmp_psym);
}

static const char *perfmap_find(const struct symproc *p, uint64_t addr)
{
	size_t lo = 0, hi = p->nperfmap;
	while (lo < hi) { /* first entry starting above addr */
		size_t mid = lo + (hi - lo) / 2;
		if (p->perfmap[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Entries may overlap when code was regenerated: the latest start
	 * at or below addr that still covers it wins. */
	for (size_t i = lo; i > 0; i--) {
		if (p->perfmap[i - 1].end > addr)
			return p->perfmap[i - 1].name;
		if (lo - i > 8)
			break;
	}
	return NULL;
}

const char *perfmap_lookup(struct symbolizer *s, struct symproc *p, uint64_t addr)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", p->pid);
	if (!p->perfmap_tried) {
		p->perfmap_tried = true;
		perfmap_load(s, p, path);
	}
	const char *name = perfmap_find(p, addr);
	struct stat st;
	if (!name && stat(path, &st) == 0 && st.st_size != p->perfmap_size) {
		perfmap_load(s, p, path);
		name = perfmap_find(p, addr);
	}
	return name;
}

void perfmap_release(struct symproc *p)
{
	free(p->perfmap);
	p->perfmap = NULL;
	p->nperfmap = 0;
	p->perfmap_tried = false;
	p->perfmap_size = -1;
}
