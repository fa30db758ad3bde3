/* procmem: /proc and cgroup memory parsers and the sampler (see procmem.h).
 * Invariant: every parser works on text alone (unit-testable from strings);
 * only procmem_open/procmem_sample touch the file system, and neither
 * prints. */
#include "collect/procmem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "base/xalloc.h"

const char *const procmem_kind_names[] = {
	"lib", "file", "heap", "stack", "thread-stack", "anon", "special",
};

/* Returns the start of the next line, or NULL at the end of text. */
static const char *next_line(const char *p)
{
	const char *nl = strchr(p, '\n');
	return nl && nl[1] ? nl + 1 : NULL;
}

/* If line starts with "key:", sets *v to the number after it (times 1024
 * when followed by "kB") and returns true. */
static bool key_value(const char *line, const char *key, uint64_t *v)
{
	size_t kl = strlen(key);
	if (strncmp(line, key, kl) || line[kl] != ':')
		return false;
	const char *p = line + kl + 1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(p, &end, 10);
	if (errno)
		return false;
	while (*end == ' ' || *end == '\t')
		end++;
	if (!strncmp(end, "kB", 2))
		n *= 1024;
	*v = n;
	return true;
}

int procmem_parse_status(const char *text, struct procmem_sample *s)
{
	static const struct { const char *key; enum procmem_metric m; size_t off; } keys[] = {
		{"VmRSS", PROCMEM_RSS, offsetof(struct procmem_sample, rss)},
		{"RssAnon", PROCMEM_ANON, offsetof(struct procmem_sample, rss_anon)},
		{"RssFile", PROCMEM_FILE, offsetof(struct procmem_sample, rss_file)},
		{"RssShmem", PROCMEM_SHMEM, offsetof(struct procmem_sample, rss_shmem)},
		{"VmSize", PROCMEM_VSS, offsetof(struct procmem_sample, vss)},
		{"VmData", PROCMEM_DATA, offsetof(struct procmem_sample, data)},
		{"VmStk", PROCMEM_STACK, offsetof(struct procmem_sample, stack)},
		{"VmExe", PROCMEM_TEXT, offsetof(struct procmem_sample, text)},
		{"VmLib", PROCMEM_LIBS, offsetof(struct procmem_sample, libs)},
		{"VmSwap", PROCMEM_SWAP, offsetof(struct procmem_sample, swap)},
		{"VmHWM", PROCMEM_HWM, offsetof(struct procmem_sample, hwm)},
		{"Threads", PROCMEM_THREADS, offsetof(struct procmem_sample, threads)},
	};
	bool any = false;
	for (const char *l = text; l; l = next_line(l)) {
		if (!strncmp(l, "State:", 6)) {
			const char *p = l + 6;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p >= 'A' && *p <= 'Z')
				s->state = *p;
			any = true;
			continue;
		}
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			uint64_t v;
			if (key_value(l, keys[i].key, &v)) {
				memcpy((char *)s + keys[i].off, &v, sizeof(v));
				s->have |= PROCMEM_BIT(keys[i].m);
				any = true;
				break;
			}
		}
	}
	return any ? 0 : KILN_ERR_FORMAT;
}

int procmem_parse_statm(const char *text, long page_size, struct procmem_sample *s)
{
	unsigned long long size, resident, shared, text_pages, lib, data;
	if (page_size <= 0 ||
	    sscanf(text, "%llu %llu %llu %llu %llu %llu", &size, &resident, &shared, &text_pages, &lib, &data) != 6)
		return KILN_ERR_FORMAT;
	uint64_t ps = (uint64_t)page_size;
	if (!(s->have & PROCMEM_BIT(PROCMEM_VSS))) {
		s->vss = size * ps;
		s->have |= PROCMEM_BIT(PROCMEM_VSS);
	}
	if (!(s->have & PROCMEM_BIT(PROCMEM_RSS))) {
		s->rss = resident * ps;
		s->have |= PROCMEM_BIT(PROCMEM_RSS);
	}
	if (!(s->have & PROCMEM_BIT(PROCMEM_TEXT))) {
		s->text = text_pages * ps;
		s->have |= PROCMEM_BIT(PROCMEM_TEXT);
	}
	if (!(s->have & PROCMEM_BIT(PROCMEM_DATA))) {
		s->data = data * ps; /* statm's "data" is data + stack */
		s->have |= PROCMEM_BIT(PROCMEM_DATA);
	}
	return 0;
}

int procmem_parse_smaps_rollup(const char *text, struct procmem_sample *s)
{
	bool any = false;
	for (const char *l = text; l; l = next_line(l)) {
		uint64_t v;
		if (key_value(l, "Pss", &v)) {
			s->pss = v;
			s->have |= PROCMEM_BIT(PROCMEM_PSS);
			any = true;
		} else if (key_value(l, "Rss", &v)) {
			if (!(s->have & PROCMEM_BIT(PROCMEM_RSS))) {
				s->rss = v;
				s->have |= PROCMEM_BIT(PROCMEM_RSS);
			}
			any = true;
		} else if (key_value(l, "Anonymous", &v)) {
			if (!(s->have & PROCMEM_BIT(PROCMEM_ANON))) {
				s->rss_anon = v;
				s->have |= PROCMEM_BIT(PROCMEM_ANON);
			}
			any = true;
		} else if (key_value(l, "Swap", &v)) {
			if (!(s->have & PROCMEM_BIT(PROCMEM_SWAP))) {
				s->swap = v;
				s->have |= PROCMEM_BIT(PROCMEM_SWAP);
			}
			any = true;
		}
	}
	return any ? 0 : KILN_ERR_FORMAT;
}

int procmem_parse_stat(const char *text, struct procmem_sample *s)
{
	/* the command name may hold spaces and parentheses: fields start after the last ')' */
	const char *p = strrchr(text, ')');
	if (!p)
		return KILN_ERR_FORMAT;
	p++;
	unsigned long long minflt, majflt;
	char state;
	int ppid, pgrp, session, tty, tpgid;
	unsigned flags;
	unsigned long long cminflt;
	if (sscanf(p, " %c %d %d %d %d %d %u %llu %llu %llu", &state, &ppid, &pgrp, &session, &tty, &tpgid,
		   &flags, &minflt, &cminflt, &majflt) != 10)
		return KILN_ERR_FORMAT;
	s->minflt = minflt;
	s->majflt = majflt;
	s->have |= PROCMEM_BIT(PROCMEM_MINFLT) | PROCMEM_BIT(PROCMEM_MAJFLT);
	if (!s->state)
		s->state = state;
	return 0;
}

int procmem_parse_meminfo(const char *text, struct procmem_sample *s)
{
	bool any = false;
	for (const char *l = text; l; l = next_line(l)) {
		uint64_t v;
		if (key_value(l, "MemTotal", &v)) {
			s->mem_total = v;
			s->have |= PROCMEM_BIT(PROCMEM_MEM_TOTAL);
			any = true;
		} else if (key_value(l, "MemAvailable", &v)) {
			s->mem_available = v;
			s->have |= PROCMEM_BIT(PROCMEM_MEM_AVAILABLE);
			any = true;
		}
	}
	return any ? 0 : KILN_ERR_FORMAT;
}

/* Finds "name=NUMBER" among the words of one line. */
static bool psi_field(const char *line, const char *name, double *v)
{
	size_t nl = strlen(name);
	const char *end = strchr(line, '\n');
	for (const char *p = line; (p = strstr(p, name)) && (!end || p < end); p++) {
		if ((p == line || p[-1] == ' ') && p[nl] == '=') {
			char *e;
			double d = strtod(p + nl + 1, &e);
			if (e == p + nl + 1)
				return false;
			*v = d;
			return true;
		}
	}
	return false;
}

int procmem_parse_pressure(const char *text, struct procmem_psi *p)
{
	memset(p, 0, sizeof(*p));
	for (const char *l = text; l; l = next_line(l)) {
		if (!strncmp(l, "some ", 5)) {
			p->have_some = psi_field(l, "avg10", &p->some10);
			psi_field(l, "avg60", &p->some60);
		} else if (!strncmp(l, "full ", 5)) {
			p->have_full = psi_field(l, "avg10", &p->full10);
			psi_field(l, "avg60", &p->full60);
		}
	}
	return p->have_some || p->have_full ? 0 : KILN_ERR_FORMAT;
}

static char *dup_line_rest(const char *p)
{
	size_t n = strcspn(p, "\n");
	return xmemdup(p, n);
}

int procmem_parse_cgroup(const char *text, char **v1, char **v2)
{
	*v1 = *v2 = NULL;
	for (const char *l = text; l; l = next_line(l)) {
		/* hierarchy-ID:controller-list:path */
		const char *c1 = strchr(l, ':');
		const char *nl = strchr(l, '\n');
		if (!c1 || (nl && c1 > nl))
			continue;
		const char *c2 = strchr(c1 + 1, ':');
		if (!c2 || (nl && c2 > nl))
			continue;
		if (c1 - l == 1 && l[0] == '0' && c2 == c1 + 1) {
			if (!*v2)
				*v2 = dup_line_rest(c2 + 1);
			continue;
		}
		/* is "memory" one of the comma-separated controllers? */
		for (const char *w = c1 + 1; w < c2;) {
			size_t n = strcspn(w, ",:");
			if (n == 6 && !strncmp(w, "memory", 6) && !*v1)
				*v1 = dup_line_rest(c2 + 1);
			w += n + 1;
		}
	}
	return *v1 || *v2 ? 0 : KILN_ERR_FORMAT;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape_field(const char *p, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\' && i + 3 < n && p[i + 1] >= '0' && p[i + 1] <= '3' &&
		    p[i + 2] >= '0' && p[i + 2] <= '7' && p[i + 3] >= '0' && p[i + 3] <= '7') {
			*o++ = (char)((p[i + 1] - '0') * 64 + (p[i + 2] - '0') * 8 + (p[i + 3] - '0'));
			i += 3;
		} else {
			*o++ = p[i];
		}
	}
	*o = 0;
	return out;
}

int procmem_parse_mountinfo(const char *text, struct procmem_mounts *m)
{
	memset(m, 0, sizeof(*m));
	for (const char *l = text; l; l = next_line(l)) {
		/* id parent major:minor root mountpoint options [optional...] - fstype source superopts */
		size_t len = strcspn(l, "\n");
		const char *f[5];
		size_t fl[5];
		const char *p = l, *e = l + len;
		int nf = 0;
		while (nf < 5 && p < e) {
			while (p < e && *p == ' ')
				p++;
			f[nf] = p;
			while (p < e && *p != ' ')
				p++;
			fl[nf] = (size_t)(p - f[nf]);
			nf++;
		}
		if (nf < 5)
			continue;
		const char *sep = strstr(p, " - ");
		if (!sep || sep >= e)
			continue;
		const char *fs = sep + 3;
		size_t fsl = strcspn(fs, " \n");
		const char *src = fs + fsl;
		while (*src == ' ')
			src++;
		const char *opts = src + strcspn(src, " \n");
		while (*opts == ' ')
			opts++;
		size_t ol = strcspn(opts, "\n");
		if (fsl == 7 && !strncmp(fs, "cgroup2", 7) && !m->v2_dir) {
			m->v2_root = unescape_field(f[3], fl[3]);
			m->v2_dir = unescape_field(f[4], fl[4]);
		} else if (fsl == 6 && !strncmp(fs, "cgroup", 6) && !m->v1_dir) {
			for (const char *w = opts; w < opts + ol;) {
				size_t n = strcspn(w, ",\n");
				if (n == 6 && !strncmp(w, "memory", 6)) {
					m->v1_root = unescape_field(f[3], fl[3]);
					m->v1_dir = unescape_field(f[4], fl[4]);
					break;
				}
				w += n + 1;
			}
		}
	}
	return 0;
}

void procmem_mounts_release(struct procmem_mounts *m)
{
	if (!m)
		return;
	free(m->v1_dir);
	free(m->v1_root);
	free(m->v2_dir);
	free(m->v2_root);
	memset(m, 0, sizeof(*m));
}

int procmem_parse_cgroup_value(const char *text, uint64_t *v)
{
	while (*text == ' ')
		text++;
	if (!strncmp(text, "max", 3)) {
		*v = UINT64_MAX;
		return 0;
	}
	if (*text < '0' || *text > '9')
		return KILN_ERR_FORMAT;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	if (errno || (*end && *end != '\n'))
		return KILN_ERR_FORMAT;
	/* v1 spells "no limit" as the largest page-aligned long */
	*v = n >= (1ULL << 62) ? UINT64_MAX : n;
	return 0;
}

/* ---- smaps ---- */

void procmem_maps_release(struct procmem_maps *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->maps[i].name);
	free(m->maps);
	free(m->threads);
	memset(m, 0, sizeof(*m));
}

static void maps_clear(struct procmem_maps *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->maps[i].name);
	m->n = 0;
}

/* A mapping line starts "hex-hex perms": its first word has a '-' and no ':'. */
static bool is_map_line(const char *l)
{
	size_t w = strcspn(l, " \n");
	const char *dash = memchr(l, '-', w);
	return dash && !memchr(l, ':', w) && w > 2;
}

int procmem_parse_smaps(const char *text, struct procmem_maps *m)
{
	maps_clear(m);
	struct procmem_map *cur = NULL;
	for (const char *l = text; l; l = next_line(l)) {
		if (*l == '\n' || !*l)
			continue;
		if (is_map_line(l)) {
			unsigned long long a, b;
			char perms[8];
			int consumed = 0;
			if (sscanf(l, "%llx-%llx %7s %*s %*s %*s%n", &a, &b, perms, &consumed) != 3 || !consumed)
				return KILN_ERR_FORMAT;
			const char *name = l + consumed;
			while (*name == ' ')
				name++;
			m->maps = xgrow(m->maps, sizeof(*m->maps), m->n + 1, &m->cap);
			cur = &m->maps[m->n++];
			memset(cur, 0, sizeof(*cur));
			cur->start = a;
			cur->end = b;
			memcpy(cur->perms, perms, 4);
			cur->perms[4] = 0;
			cur->name = dup_line_rest(name);
			continue;
		}
		if (!cur)
			continue;
		uint64_t v;
		if (key_value(l, "Rss", &v))
			cur->rss = v;
		else if (key_value(l, "Pss", &v))
			cur->pss = v;
		else if (key_value(l, "Swap", &v))
			cur->swap = v;
		else if (key_value(l, "Anonymous", &v))
			cur->anon = v;
	}
	return 0;
}

int procmem_parse_syscall_sp(const char *text, uint64_t *sp)
{
	/* "running" has no stack pointer; otherwise the second-to-last word */
	unsigned long long w[9];
	long long nr;
	char *end;
	const char *p = text;
	errno = 0;
	nr = strtoll(p, &end, 10);
	if (end == p)
		return KILN_ERR_FORMAT;
	int n = 0;
	p = end;
	while (n < 9) {
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		w[n] = strtoull(p, &end, 0);
		if (end == p)
			return KILN_ERR_FORMAT;
		n++;
		p = end;
	}
	if ((nr == -1 && n == 2) || (nr >= 0 && n == 8)) {
		if (!w[n - 2])
			return KILN_ERR_FORMAT;
		*sp = w[n - 2];
		return 0;
	}
	return KILN_ERR_FORMAT;
}

static bool is_anon_name(const char *name)
{
	return !name[0] || !strncmp(name, "[anon:", 6);
}

uint64_t procmem_maps_heap(const struct procmem_maps *m)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct procmem_map *mp = &m->maps[i];
		if (!strcmp(mp->name, "[heap]") || (is_anon_name(mp->name) && mp->perms[3] == 'p'))
			sum += mp->rss;
	}
	return sum;
}

/* ---- breakdown ---- */

static bool is_library(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *so = strstr(base, ".so");
	while (so) {
		char c = so[3];
		if (!c || c == '.' || c == ' ')
			return true;
		so = strstr(so + 3, ".so");
	}
	return false;
}

static enum procmem_kind kind_of(const struct procmem_map *mp)
{
	const char *n = mp->name;
	if (!strcmp(n, "[heap]"))
		return PROCMEM_K_HEAP;
	if (!strcmp(n, "[stack]"))
		return PROCMEM_K_STACK;
	if (!strncmp(n, "[stack:", 7))
		return PROCMEM_K_THREAD_STACK;
	if (is_anon_name(n))
		return PROCMEM_K_ANON;
	if (n[0] == '[')
		return PROCMEM_K_SPECIAL;
	return is_library(n) ? PROCMEM_K_LIB : PROCMEM_K_FILE;
}

static int part_cmp(const void *a, const void *b)
{
	const struct procmem_part *x = a, *y = b;
	if (x->rss != y->rss)
		return x->rss > y->rss ? -1 : 1;
	return strcmp(x->name, y->name);
}

static struct procmem_part *part_get(struct procmem_breakdown *b, size_t *cap, const char *name,
				     enum procmem_kind kind)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->parts[i].kind == kind && !strcmp(b->parts[i].name, name))
			return &b->parts[i];
	b->parts = xgrow(b->parts, sizeof(*b->parts), b->n + 1, cap);
	struct procmem_part *p = &b->parts[b->n++];
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name);
	p->kind = kind;
	return p;
}

void procmem_breakdown_build(const struct procmem_maps *m, struct procmem_breakdown *b)
{
	memset(b, 0, sizeof(*b));
	size_t cap = 0;
	bool any_sp = false;
	for (size_t t = 0; t < m->nthreads; t++)
		any_sp |= m->threads[t].sp != 0;
	b->stacks_by_sp = any_sp;
	for (size_t i = 0; i < m->n; i++) {
		const struct procmem_map *mp = &m->maps[i];
		enum procmem_kind kind = kind_of(mp);
		char label[64];
		const char *name = mp->name;
		if (kind == PROCMEM_K_ANON && mp->perms[0] == 'r' && mp->perms[1] == 'w') {
			const struct procmem_thread *th = NULL;
			for (size_t t = 0; t < m->nthreads; t++)
				if (m->threads[t].sp >= mp->start && m->threads[t].sp < mp->end)
					th = &m->threads[t];
			if (th) {
				kind = PROCMEM_K_THREAD_STACK;
				snprintf(label, sizeof(label), "[stack:%d] %s", (int)th->tid, th->comm);
				name = label;
			} else if (!any_sp && i > 0 && m->maps[i - 1].end == mp->start &&
				   !strcmp(m->maps[i - 1].perms, "---p") && !m->maps[i - 1].name[0] &&
				   m->maps[i - 1].end - m->maps[i - 1].start <= 64 * 1024 &&
				   mp->end - mp->start <= 64ULL << 20 && m->nthreads > 1) {
				/* glibc: a pthread stack sits right above its PROT_NONE guard
				 * page (malloc arenas have their PROT_NONE part above them) */
				kind = PROCMEM_K_THREAD_STACK;
				name = "[thread stack, by its guard page]";
			}
		}
		if (kind == PROCMEM_K_ANON && !mp->name[0])
			name = "[anonymous]";
		if (kind == PROCMEM_K_STACK)
			name = "[stack] main thread";
		struct procmem_part *p = part_get(b, &cap, name, kind);
		p->rss += mp->rss;
		p->pss += mp->pss;
		p->swap += mp->swap;
		p->size += mp->end - mp->start;
		p->nmaps++;
		b->rss += mp->rss;
	}
	if (b->n)
		qsort(b->parts, b->n, sizeof(*b->parts), part_cmp);
}

void procmem_breakdown_release(struct procmem_breakdown *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->parts[i].name);
	free(b->parts);
	memset(b, 0, sizeof(*b));
}

/* ---- the sampler ---- */

int procmem_read_file(const char *path, char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct strbuf sb = STRBUF_INIT;
	for (;;) {
		strbuf_grow(&sb, 8192);
		ssize_t n = read(fd, sb.buf + sb.len, sb.cap - sb.len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			strbuf_release(&sb);
			return -e;
		}
		if (n == 0)
			break;
		sb.len += (size_t)n;
		sb.buf[sb.len] = 0;
	}
	close(fd);
	if (!sb.buf)
		strbuf_grow(&sb, 1);
	sb.buf[sb.len] = 0;
	*text = sb.buf;
	if (len)
		*len = sb.len;
	return 0;
}

static char *path_join(const char *dir, const char *rest)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_adds(&sb, dir);
	if (rest && *rest && strcmp(rest, "/")) {
		if (sb.len && sb.buf[sb.len - 1] != '/' && rest[0] != '/')
			strbuf_addch(&sb, '/');
		strbuf_adds(&sb, sb.len && sb.buf[sb.len - 1] == '/' && rest[0] == '/' ? rest + 1 : rest);
	}
	return sb.buf;
}

static bool file_exists(const char *dir, const char *name)
{
	char *p = path_join(dir, name);
	bool ok = access(p, R_OK) == 0;
	free(p);
	return ok;
}

/* The directory of cgroup path cg in a hierarchy mounted at dir with root
 * root; when cg is outside root (another cgroup namespace's view), the
 * mount point itself, which is then the nearest the process can see. */
static char *cgroup_dir(const char *dir, const char *root, const char *cg)
{
	size_t rl = strlen(root);
	if (!strcmp(root, "/"))
		return path_join(dir, cg);
	if (!strncmp(cg, root, rl) && (cg[rl] == '/' || !cg[rl]))
		return path_join(dir, cg + rl);
	return xstrdup(dir);
}

int procmem_open(struct procmem *pm, pid_t pid)
{
	memset(pm, 0, sizeof(*pm));
	pm->pid = pid;
	pm->page_size = sysconf(_SC_PAGESIZE);
	char path[64], *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	int err = procmem_read_file(path, &text, NULL);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	free(text);

	char *v1 = NULL, *v2 = NULL;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (procmem_read_file(path, &text, NULL) == 0) {
		procmem_parse_cgroup(text, &v1, &v2);
		free(text);
	}
	struct procmem_mounts mnt = {0};
	if (procmem_read_file("/proc/self/mountinfo", &text, NULL) == 0) {
		procmem_parse_mountinfo(text, &mnt);
		free(text);
	}
	char *v2dir = v2 && mnt.v2_dir ? cgroup_dir(mnt.v2_dir, mnt.v2_root, v2) : NULL;
	if (v2dir && file_exists(v2dir, "memory.current")) {
		pm->cg_version = 2;
		pm->cg_dir = xstrdup(v2dir);
		pm->cg_top = xstrdup(mnt.v2_dir);
	} else if (v1 && mnt.v1_dir) {
		char *d = cgroup_dir(mnt.v1_dir, mnt.v1_root, v1);
		if (file_exists(d, "memory.usage_in_bytes")) {
			pm->cg_version = 1;
			pm->cg_dir = d;
			pm->cg_top = xstrdup(mnt.v1_dir);
		} else {
			free(d);
		}
	}
	/* PSI: the cgroup's own (v2, also present on hybrid systems), else system-wide */
	if (v2dir && file_exists(v2dir, "memory.pressure"))
		pm->psi_path = path_join(v2dir, "memory.pressure");
	else if (access("/proc/pressure/memory", R_OK) == 0)
		pm->psi_path = xstrdup("/proc/pressure/memory");
	free(v2dir);
	free(v1);
	free(v2);
	procmem_mounts_release(&mnt);
	return 0;
}

void procmem_release(struct procmem *pm)
{
	if (!pm)
		return;
	free(pm->cg_dir);
	free(pm->cg_top);
	free(pm->psi_path);
	memset(pm, 0, sizeof(*pm));
}

/* Reads one cgroup value file in dir. */
static int cg_read(const char *dir, const char *name, uint64_t *v)
{
	char *p = path_join(dir, name), *text;
	int err = procmem_read_file(p, &text, NULL);
	free(p);
	if (err)
		return err;
	err = procmem_parse_cgroup_value(text, v);
	free(text);
	return err;
}

/* The tightest limit from the cgroup up to its hierarchy's mount point:
 * a child without a limit of its own is still bound by its parents'. */
static int cg_limit(const struct procmem *pm, uint64_t *limit)
{
	const char *file = pm->cg_version == 2 ? "memory.max" : "memory.limit_in_bytes";
	char *dir = xstrdup(pm->cg_dir);
	size_t top = strlen(pm->cg_top);
	uint64_t best = UINT64_MAX;
	bool any = false;
	for (;;) {
		uint64_t v;
		if (cg_read(dir, file, &v) == 0) {
			any = true;
			if (v < best)
				best = v;
		}
		char *slash = strrchr(dir, '/');
		if (strlen(dir) <= top || !slash || (size_t)(slash - dir) < top)
			break;
		*slash = 0;
	}
	free(dir);
	if (!any)
		return KILN_ERR_FORMAT;
	*limit = best;
	return 0;
}

static void read_threads(const struct procmem *pm, struct procmem_maps *maps)
{
	maps->nthreads = 0;
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pm->pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);
		if (*end || tid <= 0)
			continue;
		maps->threads = xgrow(maps->threads, sizeof(*maps->threads), maps->nthreads + 1,
				      &maps->threads_cap);
		struct procmem_thread *th = &maps->threads[maps->nthreads++];
		memset(th, 0, sizeof(*th));
		th->tid = (pid_t)tid;
		char *text;
		snprintf(path, sizeof(path), "/proc/%d/task/%ld/syscall", (int)pm->pid, tid);
		if (procmem_read_file(path, &text, NULL) == 0) {
			procmem_parse_syscall_sp(text, &th->sp);
			free(text);
		}
		snprintf(path, sizeof(path), "/proc/%d/task/%ld/comm", (int)pm->pid, tid);
		if (procmem_read_file(path, &text, NULL) == 0) {
			size_t n = strcspn(text, "\n");
			if (n >= sizeof(th->comm))
				n = sizeof(th->comm) - 1;
			memcpy(th->comm, text, n);
			free(text);
		}
	}
	closedir(d);
}

int procmem_sample(struct procmem *pm, double t, bool want_heap, struct procmem_maps *maps,
		   struct procmem_sample *s)
{
	memset(s, 0, sizeof(*s));
	s->t = t;
	char path[96], *text;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pm->pid);
	int err = procmem_read_file(path, &text, NULL);
	if (err == -ENOENT || err == -ESRCH)
		return -ESRCH;
	if (!err) {
		procmem_parse_status(text, s);
		free(text);
		if (s->state == 'Z' || s->state == 'X')
			return -ESRCH;
	}
	static const char *const files[] = {"statm", "stat", "smaps_rollup"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pm->pid, files[i]);
		if (procmem_read_file(path, &text, NULL) != 0)
			continue;
		if (i == 0)
			procmem_parse_statm(text, pm->page_size, s);
		else if (i == 1)
			procmem_parse_stat(text, s);
		else
			procmem_parse_smaps_rollup(text, s);
		free(text);
	}
	if (want_heap || maps) {
		snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pm->pid);
		if (procmem_read_file(path, &text, NULL) == 0) {
			/* an exiting process's smaps is empty once its memory is
			 * gone: the caller's maps keep the last full reading */
			struct procmem_maps local = {0};
			if (procmem_parse_smaps(text, &local) == 0 && local.n) {
				s->heap = procmem_maps_heap(&local);
				s->have |= PROCMEM_BIT(PROCMEM_HEAP);
				if (maps) {
					struct procmem_map *old = maps->maps;
					size_t old_n = maps->n, old_cap = maps->cap;
					maps->maps = local.maps, maps->n = local.n, maps->cap = local.cap;
					local.maps = old, local.n = old_n, local.cap = old_cap;
					read_threads(pm, maps);
				}
			}
			free(text);
			procmem_maps_release(&local);
		}
	}
	if (pm->cg_dir) {
		uint64_t v;
		if (cg_read(pm->cg_dir, pm->cg_version == 2 ? "memory.current" : "memory.usage_in_bytes", &v) == 0) {
			s->cg_usage = v;
			s->have |= PROCMEM_BIT(PROCMEM_CG_USAGE);
		}
		if (cg_limit(pm, &v) == 0) {
			s->cg_limit = v;
			s->have |= PROCMEM_BIT(PROCMEM_CG_LIMIT);
		}
	}
	if (pm->psi_path && procmem_read_file(pm->psi_path, &text, NULL) == 0) {
		struct procmem_psi psi;
		if (procmem_parse_pressure(text, &psi) == 0) {
			if (psi.have_some) {
				s->psi_some = psi.some10;
				s->have |= PROCMEM_BIT(PROCMEM_PSI_SOME);
			}
			if (psi.have_full) {
				s->psi_full = psi.full10;
				s->have |= PROCMEM_BIT(PROCMEM_PSI_FULL);
			}
		}
		free(text);
	}
	if (procmem_read_file("/proc/meminfo", &text, NULL) == 0) {
		procmem_parse_meminfo(text, s);
		free(text);
	}
	/* the process may have ended while we read: a sample with nothing in it is no sample */
	if (!(s->have & PROCMEM_BIT(PROCMEM_RSS)) && kill(pm->pid, 0) != 0 && errno == ESRCH)
		return -ESRCH;
	return 0;
}
