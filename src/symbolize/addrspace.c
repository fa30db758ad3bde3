/* addrspace: each profiled process's executable mappings, kept from
 * PERF_RECORD_MMAP2-style events or /proc/PID/maps; fork copies, exec
 * drops. Invariant: a process's maps are sorted by start and never
 * overlap (a new mapping replaces what it covers, as mmap does), and gen
 * changes whenever they change. */
#include "symbolize/symbolize-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

struct symproc *symproc_get(struct symbolizer *s, int pid, bool create)
{
	struct symproc *p = keymap_get(&s->procs, (uint64_t)(uint32_t)pid, 0);
	if (p || !create)
		return p;
	p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->gen = 1;
	p->perfmap_size = -1;
	keymap_put(&s->procs, (uint64_t)(uint32_t)pid, 0, p);
	return p;
}

void symproc_free(struct symproc *p)
{
	if (!p)
		return;
	unwind_proc_release(p);
	perfmap_release(p);
	free(p->maps);
	free(p);
}

/* Index of the first map whose end is above addr. */
static size_t first_above(const struct symproc *p, uint64_t addr)
{
	size_t lo = 0, hi = p->nmaps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->maps[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct addrmap *symproc_find(const struct symproc *p, uint64_t addr)
{
	size_t i = first_above(p, addr);
	if (i < p->nmaps && p->maps[i].start <= addr)
		return &p->maps[i];
	return NULL;
}

static void insert_at(struct symproc *p, size_t i, const struct addrmap *m)
{
	p->maps = xgrow(p->maps, sizeof(*p->maps), p->nmaps + 1, &p->cap);
	memmove(&p->maps[i + 1], &p->maps[i], (p->nmaps - i) * sizeof(*p->maps));
	p->maps[i] = *m;
	p->nmaps++;
}

/* Removes [start, end) from p's maps, trimming or splitting what overlaps. */
static void unmap_range(struct symproc *p, uint64_t start, uint64_t end)
{
	size_t i = first_above(p, start);
	while (i < p->nmaps && p->maps[i].start < end) {
		struct addrmap *m = &p->maps[i];
		if (m->start < start && m->end > end) { /* split in two */
			struct addrmap right = *m;
			right.pgoff += end - m->start;
			right.start = end;
			m->end = start;
			insert_at(p, i + 1, &right);
			return;
		}
		if (m->start < start) { /* keep the left part */
			m->end = start;
			i++;
		} else if (m->end > end) { /* keep the right part */
			m->pgoff += end - m->start;
			m->start = end;
			return;
		} else { /* covered */
			memmove(m, m + 1, (p->nmaps - i - 1) * sizeof(*m));
			p->nmaps--;
		}
	}
}

int symbolizer_mmap(struct symbolizer *s, int pid, uint64_t start, uint64_t len, uint64_t pgoff,
		    const char *path, const unsigned char *build_id, size_t build_id_len,
		    bool executable)
{
	if (!s || !path || len == 0 || start + len < start)
		return -EINVAL;
	struct symproc *p = symproc_get(s, pid, true);
	unmap_range(p, start, start + len);
	p->gen++;
	if (!executable)
		return 0;
	struct addrmap m = {.start = start, .end = start + len, .pgoff = pgoff};
	m.mod = module_get(s, path, build_id, build_id_len);
	m.bias = module_bias(m.mod, start, pgoff);
	insert_at(p, first_above(p, start), &m);
	return 0;
}

int symbolizer_load_proc(struct symbolizer *s, int pid)
{
	if (!s)
		return -EINVAL;
	char name[64];
	snprintf(name, sizeof(name), "/proc/%d/maps", pid);
	FILE *f = fopen(name, "re");
	if (!f)
		return -errno;
	struct symproc *p = symproc_get(s, pid, true);
	p->nmaps = 0;
	p->gen++;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		uint64_t lo, hi, off;
		char perms[8];
		int path_at = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*u %n", &lo, &hi, perms,
			   &off, &path_at) < 4 ||
		    !path_at || hi <= lo)
			continue;
		if (!strchr(perms, 'x'))
			continue;
		const char *path = line + path_at;
		if (!*path)
			path = "//anon";
		int err = symbolizer_mmap(s, pid, lo, hi - lo, off, path, NULL, 0, true);
		if (err < 0) {
			free(line);
			fclose(f);
			return err;
		}
	}
	free(line);
	fclose(f);
	return 0;
}

int symbolizer_fork(struct symbolizer *s, int parent_pid, int child_pid)
{
	if (!s)
		return -EINVAL;
	if (parent_pid == child_pid)
		return 0; /* a new thread shares the address space */
	struct symproc *parent = symproc_get(s, parent_pid, false);
	struct symproc *child = symproc_get(s, child_pid, true);
	child->nmaps = 0;
	child->gen++;
	if (parent && parent->nmaps) {
		child->maps = xgrow(child->maps, sizeof(*child->maps), parent->nmaps, &child->cap);
		memcpy(child->maps, parent->maps, parent->nmaps * sizeof(*parent->maps));
		child->nmaps = parent->nmaps;
	}
	return 0;
}

void symbolizer_exec(struct symbolizer *s, int pid)
{
	if (!s)
		return;
	struct symproc *p = symproc_get(s, pid, false);
	if (!p)
		return;
	p->nmaps = 0;
	p->gen++;
	perfmap_release(p);
}
