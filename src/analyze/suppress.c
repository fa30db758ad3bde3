/* suppress: leak suppressions in memcheck's format and kiln's, a matcher
 * with memcheck's semantics, and memcheck blocks for --gen-suppressions.
 * Invariant: rules are flat arrays owned by struct suppress; a failed parse
 * truncates them back to where the file started. Frame sequences are
 * matched like globs over frames ("..." is the star), with the one
 * backtracking point of the classic wildcard match, so a rule costs at
 * most (locations x frames) frame tests, whatever its "..."s. */
#include "analyze/suppress.h"

#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/heaptrace.h"
#include "base/xalloc.h"

enum loc_type { LOC_FUN, LOC_OBJ, LOC_SRC, LOC_ANY_FRAMES };

struct loc {
	enum loc_type type;
	char *pat;    /* for LOC_SRC: the file part */
	int src_line; /* LOC_SRC: the line, 0 for any */
};

struct rule {
	enum suppress_format format;
	char *name;
	const char *source;
	unsigned long line;
	unsigned kinds;
	struct loc *locs; /* kiln's format: one LOC_FUN, matched against every frame */
	size_t nlocs;
};

struct suppress {
	struct rule *rules;
	size_t nrules, cap;
	char **sources; /* names given to suppress_parse, owned */
	size_t nsources, sources_cap;
};

struct suppress *suppress_new(void)
{
	return xcalloc(1, sizeof(struct suppress));
}

static void rule_release(struct rule *r)
{
	for (size_t i = 0; i < r->nlocs; i++)
		free(r->locs[i].pat);
	free(r->locs);
	free(r->name);
	memset(r, 0, sizeof(*r));
}

void suppress_free(struct suppress *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nrules; i++)
		rule_release(&s->rules[i]);
	free(s->rules);
	for (size_t i = 0; i < s->nsources; i++)
		free(s->sources[i]);
	free(s->sources);
	free(s);
}

size_t suppress_count(const struct suppress *s)
{
	return s ? s->nrules : 0;
}

void suppress_get(const struct suppress *s, size_t i, struct suppress_info *out)
{
	const struct rule *r = &s->rules[i];
	*out = (struct suppress_info){r->name, r->source, r->line, r->kinds, r->format};
}

unsigned suppress_kinds(const struct suppress *s)
{
	unsigned m = 0;
	for (size_t i = 0; s && i < s->nrules; i++)
		m |= s->rules[i].kinds;
	return m;
}

/* ---- wildcards ------------------------------------------------------------ */

bool suppress_glob(const char *p, const char *s)
{
	const char *star_p = NULL, *star_s = NULL;
	while (*s) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			star_p = p;
			star_s = s;
			continue;
		}
		if (*p == '?') {
			p++;
			s++;
			continue;
		}
		const char *lit = p[0] == '\\' && p[1] ? p + 1 : p;
		if (*lit && *lit == *s) {
			p = lit + 1;
			s++;
			continue;
		}
		if (!star_p)
			return false;
		p = star_p;
		s = ++star_s;
	}
	while (*p == '*')
		p++;
	return !*p;
}

/* ---- parsing ---------------------------------------------------------------- */

struct lines {
	const char *p, *end;
	unsigned long lineno;
	const char *line; /* the current line, trimmed */
	size_t len;
};

/* The next line that is not blank or a comment, trimmed; false at the end. */
static bool next_line(struct lines *ls)
{
	while (ls->p < ls->end) {
		const char *eol = memchr(ls->p, '\n', (size_t)(ls->end - ls->p));
		const char *b = ls->p, *e = eol ? eol : ls->end;
		ls->p = eol ? eol + 1 : ls->end;
		ls->lineno++;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (b == e || *b == '#')
			continue;
		ls->line = b;
		ls->len = (size_t)(e - b);
		return true;
	}
	return false;
}

static bool line_is(const struct lines *ls, const char *s)
{
	size_t n = strlen(s);
	return ls->len == n && !memcmp(ls->line, s, n);
}

static bool line_starts(const struct lines *ls, const char *s)
{
	size_t n = strlen(s);
	return ls->len >= n && !memcmp(ls->line, s, n);
}

/* The line, quoted for a message: cut at 60 bytes. */
static const char *shown(const struct lines *ls, char *buf, size_t cap)
{
	size_t n = ls->len < 60 ? ls->len : 60;
	if (n > cap - 4)
		n = cap - 4;
	memcpy(buf, ls->line, n);
	if (ls->len > n)
		memcpy(buf + n, "...", 4);
	else
		buf[n] = 0;
	return buf;
}

static struct rule *add_rule(struct suppress *s, enum suppress_format f, const char *source, unsigned long line)
{
	s->rules = xgrow(s->rules, sizeof(*s->rules), s->nrules + 1, &s->cap);
	struct rule *r = &s->rules[s->nrules++];
	memset(r, 0, sizeof(*r));
	r->format = f;
	r->source = source;
	r->line = line;
	r->kinds = SUPPRESS_ALL_KINDS;
	return r;
}

static void add_loc(struct rule *r, enum loc_type t, const char *pat, size_t len)
{
	r->locs = xrealloc(r->locs, (r->nlocs + 1) * sizeof(*r->locs));
	struct loc *l = &r->locs[r->nlocs++];
	l->type = t;
	l->pat = pat ? xmemdup(pat, len) : NULL;
	l->src_line = 0;
}

static int parse_kinds(const char *p, size_t len, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned mask;
	} names[] = {
		{"definite", 1u << HT_LEAK_DEFINITELY}, {"indirect", 1u << HT_LEAK_INDIRECTLY},
		{"possible", 1u << HT_LEAK_POSSIBLY},   {"reachable", 1u << HT_LEAK_REACHABLE},
		{"all", SUPPRESS_ALL_KINDS},            {"none", 0},
	};
	unsigned m = 0;
	const char *end = p + len;
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		size_t rest = p < end ? (size_t)(end - p) : 0;
		const char *c = rest ? memchr(p, ',', rest) : NULL, *e = c ? c : end;
		const char *t = e;
		while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		size_t n = (size_t)(t - p), k;
		for (k = 0; k < sizeof(names) / sizeof(*names); k++)
			if (strlen(names[k].name) == n && !memcmp(names[k].name, p, n))
				break;
		if (k == sizeof(names) / sizeof(*names))
			return -1;
		m |= names[k].mask;
		if (!c)
			break;
		p = c + 1;
	}
	*out = m;
	return 0;
}

/* One memcheck block; ls is at its "{". */
static int parse_block(struct suppress *s, struct lines *ls, const char *source, struct diag *d)
{
	char b1[80];
	unsigned long open = ls->lineno;
	if (!next_line(ls))
		return diag_set(d, KILN_ERR_FORMAT, open, "suppression not closed: a name, a kind and '}' are missing");
	if (line_is(ls, "{") || line_is(ls, "}"))
		return diag_set(d, KILN_ERR_FORMAT, ls->lineno, "expected the suppression's name, found '%s'",
				shown(ls, b1, sizeof(b1)));
	const char *name = ls->line;
	size_t name_len = ls->len;
	unsigned long name_line = ls->lineno;
	if (!next_line(ls))
		return diag_set(d, KILN_ERR_FORMAT, open, "suppression not closed: its kind and '}' are missing");
	const char *colon = memchr(ls->line, ':', ls->len);
	if (!colon || colon == ls->line || colon == ls->line + ls->len - 1 || line_is(ls, "}"))
		return diag_set(d, KILN_ERR_FORMAT, ls->lineno,
				"expected TOOL:KIND (such as Memcheck:Leak) after the name, found '%s'",
				shown(ls, b1, sizeof(b1)));
	bool memcheck = false;
	for (const char *t = ls->line; t < colon;) {
		const char *c = memchr(t, ',', (size_t)(colon - t)), *e = c ? c : colon;
		memcheck |= e - t == 8 && !memcmp(t, "Memcheck", 8);
		t = c ? c + 1 : colon;
	}
	size_t klen = (size_t)(ls->line + ls->len - colon - 1);
	bool leak = memcheck && klen == 4 && !memcmp(colon + 1, "Leak", 4);
	if (!leak) {
		/* another tool's or another error kind's: read to its end */
		while (next_line(ls))
			if (line_is(ls, "}"))
				return 0;
			else if (line_is(ls, "{"))
				return diag_set(d, KILN_ERR_FORMAT, ls->lineno,
						"'{' inside the suppression opened at line %lu", open);
		return diag_set(d, KILN_ERR_FORMAT, open, "suppression not closed: '}' is missing");
	}
	struct rule *r = add_rule(s, SUPPRESS_MEMCHECK, source, name_line);
	r->name = xmemdup(name, name_len);
	bool first = true;
	for (;;) {
		if (!next_line(ls))
			return diag_set(d, KILN_ERR_FORMAT, open, "suppression '%s' not closed: '}' is missing", r->name);
		if (line_is(ls, "}"))
			break;
		if (line_starts(ls, "match-leak-kinds:")) {
			if (!first)
				return diag_set(d, KILN_ERR_FORMAT, ls->lineno,
						"match-leak-kinds: must come right after Memcheck:Leak");
			if (parse_kinds(ls->line + 17, ls->len - 17, &r->kinds) < 0)
				return diag_set(d, KILN_ERR_FORMAT, ls->lineno,
						"match-leak-kinds: takes definite, indirect, possible, reachable, all or "
						"none, separated by commas; found '%s'",
						shown(ls, b1, sizeof(b1)));
			first = false;
			continue;
		}
		first = false;
		if (line_is(ls, "{"))
			return diag_set(d, KILN_ERR_FORMAT, ls->lineno, "'{' inside the suppression opened at line %lu",
					open);
		if (r->nlocs == SUPPRESS_MAX_FRAMES)
			return diag_set(d, KILN_ERR_FORMAT, ls->lineno, "more than %d frames in suppression '%s'",
					SUPPRESS_MAX_FRAMES, r->name);
		if (line_is(ls, "...")) {
			add_loc(r, LOC_ANY_FRAMES, NULL, 0);
		} else if ((line_starts(ls, "fun:") || line_starts(ls, "obj:") || line_starts(ls, "src:")) &&
			   ls->len > 4) {
			enum loc_type t = ls->line[0] == 'f' ? LOC_FUN : ls->line[0] == 'o' ? LOC_OBJ : LOC_SRC;
			size_t plen = ls->len - 4;
			int src_line = 0;
			if (t == LOC_SRC) {
				/* src:FILE or src:FILE:LINE */
				const char *c = NULL;
				for (const char *q = ls->line + ls->len; q > ls->line + 4; q--)
					if (q[-1] == ':') {
						c = q - 1;
						break;
					}
				if (c && c + 1 < ls->line + ls->len) {
					long v = 0;
					const char *q = c + 1;
					while (q < ls->line + ls->len && *q >= '0' && *q <= '9' && v < 100000000)
						v = v * 10 + (*q++ - '0');
					if (q == ls->line + ls->len && v > 0) {
						src_line = (int)v;
						plen = (size_t)(c - ls->line - 4);
					}
				}
				if (!plen)
					return diag_set(d, KILN_ERR_FORMAT, ls->lineno, "src: needs a file name");
			}
			add_loc(r, t, ls->line + 4, plen);
			r->locs[r->nlocs - 1].src_line = src_line;
		} else {
			return diag_set(d, KILN_ERR_FORMAT, ls->lineno,
					"expected fun:NAME, obj:PATH, src:FILE[:LINE], '...' or '}', found '%s'",
					shown(ls, b1, sizeof(b1)));
		}
	}
	if (!r->nlocs)
		return diag_set(d, KILN_ERR_FORMAT, ls->lineno, "suppression '%s' has no fun:, obj: or src: line",
				r->name);
	return 0;
}

int suppress_parse(struct suppress *s, const char *name, const char *text, size_t len,
		   enum suppress_format *format, struct diag *d)
{
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		unsigned long line = 1;
		for (const char *p = text; p < nul; p++)
			line += *p == '\n';
		return diag_set(d, KILN_ERR_FORMAT, line, "a NUL byte: not a suppression file");
	}
	s->sources = xgrow(s->sources, sizeof(*s->sources), s->nsources + 1, &s->sources_cap);
	const char *source = s->sources[s->nsources++] = xstrdup(name ? name : "");
	size_t before = s->nrules;
	struct lines ls = {text, text + len, 0, NULL, 0};
	enum suppress_format f = SUPPRESS_KILN;
	bool first = true;
	int rc = 0;
	char b1[80];
	while (!rc && next_line(&ls)) {
		if (first)
			f = line_is(&ls, "{") ? SUPPRESS_MEMCHECK : SUPPRESS_KILN;
		first = false;
		if (f == SUPPRESS_MEMCHECK) {
			if (line_is(&ls, "{"))
				rc = parse_block(s, &ls, source, d);
			else
				rc = diag_set(d, KILN_ERR_FORMAT, ls.lineno,
					      "expected '{' to open a memcheck suppression, found '%s'",
					      shown(&ls, b1, sizeof(b1)));
		} else if (line_is(&ls, "{") || line_is(&ls, "}")) {
			rc = diag_set(d, KILN_ERR_FORMAT, ls.lineno,
				      "'%c' in a file of one rule a line (a file in memcheck's format starts with '{')",
				      ls.line[0]);
		} else {
			struct rule *r = add_rule(s, SUPPRESS_KILN, source, ls.lineno);
			r->name = xmemdup(ls.line, ls.len);
			add_loc(r, LOC_FUN, ls.line, ls.len);
		}
	}
	if (rc) {
		while (s->nrules > before)
			rule_release(&s->rules[--s->nrules]);
		return rc;
	}
	if (format)
		*format = f;
	return 0;
}

/* ---- matching --------------------------------------------------------------- */

/* The frame memcheck's stacks start with, which the trace does not hold. */
static const char *const alloc_funs[] = {
	"malloc", "calloc", "realloc", "reallocarray", "memalign", "aligned_alloc", "posix_memalign",
	"valloc", "pvalloc", NULL,
};
static const char *const alloc_objs[] = {
	"/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so",
	"/usr/lib/x86_64-linux-gnu/valgrind/vgpreload_memcheck-amd64-linux.so", NULL,
};

struct mframe {
	const struct suppress_frame *f; /* NULL: the allocation function */
	bool below_main;
};

static bool is_below_main(const char *fun)
{
	return fun && (!strcmp(fun, "__libc_start_call_main") || !strcmp(fun, "__libc_start_main") ||
		       !strcmp(fun, "__libc_start_main_impl") || !strcmp(fun, "generic_start_main") ||
		       !strcmp(fun, "(below main)"));
}

/* operator new and new[] in every variant: the allocation function itself */
static bool is_operator_new(const char *fun)
{
	return fun && (!strncmp(fun, "_Znwm", 5) || !strncmp(fun, "_Znam", 5) || !strncmp(fun, "_Znwj", 5) ||
		       !strncmp(fun, "_Znaj", 5));
}

/* A pattern with a symbol version ("pthread_create@@GLIBC_2.34", as
 * valgrind names versioned symbols) also matches the bare name. */
static bool fun_glob(const char *pat, const char *fun)
{
	if (suppress_glob(pat, fun))
		return true;
	const char *at = strchr(pat, '@');
	if (!at || strchr(fun, '@') || at == pat)
		return false;
	char buf[512];
	size_t n = (size_t)(at - pat);
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, pat, n);
	buf[n] = 0;
	return suppress_glob(buf, fun);
}

static bool loc_match(const struct loc *l, const struct mframe *m)
{
	const struct suppress_frame *f = m->f;
	switch (l->type) {
	case LOC_FUN:
		if (!f) {
			for (int i = 0; alloc_funs[i]; i++)
				if (suppress_glob(l->pat, alloc_funs[i]))
					return true;
			return false;
		}
		if (m->below_main && suppress_glob(l->pat, "(below main)"))
			return true;
		return fun_glob(l->pat, f->fun ? f->fun : "???");
	case LOC_OBJ:
		if (!f) {
			for (int i = 0; alloc_objs[i]; i++)
				if (suppress_glob(l->pat, alloc_objs[i]))
					return true;
			return false;
		}
		return suppress_glob(l->pat, f->obj ? f->obj : "???");
	case LOC_SRC: {
		if (!f)
			return l->src_line == 0 && suppress_glob(l->pat, "vg_replace_malloc.c");
		if (!f->file || (l->src_line && l->src_line != f->line))
			return false;
		const char *base = strrchr(f->file, '/');
		return suppress_glob(l->pat, base ? base + 1 : f->file) || suppress_glob(l->pat, f->file);
	}
	case LOC_ANY_FRAMES:
		return true;
	}
	return false;
}

/* A prefix of the frames matches the locations ("..." any run of frames). */
static bool frames_match(const struct rule *r, const struct mframe *m, size_t n)
{
	size_t i = 0, j = 0, star_i = SIZE_MAX, star_j = 0;
	while (j < n) {
		if (i < r->nlocs && r->locs[i].type == LOC_ANY_FRAMES) {
			star_i = ++i;
			star_j = j;
			continue;
		}
		if (i == r->nlocs)
			return true; /* a prefix */
		if (loc_match(&r->locs[i], &m[j])) {
			i++;
			j++;
			continue;
		}
		if (star_i == SIZE_MAX)
			return false;
		i = star_i;
		j = ++star_j;
	}
	while (i < r->nlocs && r->locs[i].type == LOC_ANY_FRAMES)
		i++;
	return i == r->nlocs;
}

static bool kiln_match(const struct rule *r, const struct suppress_frame *frames, size_t n)
{
	const char *pat = r->locs[0].pat;
	for (size_t i = 0; i < n; i++) {
		const char *a = frames[i].shown ? frames[i].shown : frames[i].fun, *b = frames[i].fun;
		if ((a && fnmatch(pat, a, 0) == 0) || (b && b != a && fnmatch(pat, b, 0) == 0))
			return true;
	}
	return false;
}

long suppress_match(const struct suppress *s, int kind, const struct suppress_frame *frames, size_t n)
{
	if (!s || !s->nrules || kind < 0 || kind > 3)
		return -1;
	/* memcheck's view: the allocation function, then frames up to below main */
	struct mframe small[64], *m = small;
	if (n + 1 > sizeof(small) / sizeof(*small))
		m = xmalloc((n + 1) * sizeof(*m));
	size_t k = 0;
	if (!n || !is_operator_new(frames[0].fun))
		m[k++] = (struct mframe){NULL, false};
	for (size_t i = 0; i < n; i++) {
		bool below = is_below_main(frames[i].fun);
		m[k++] = (struct mframe){&frames[i], below};
		if (below)
			break;
	}
	long hit = -1;
	for (size_t r = 0; r < s->nrules && hit < 0; r++) {
		const struct rule *ru = &s->rules[r];
		if (!(ru->kinds & (1u << kind)))
			continue;
		if (ru->format == SUPPRESS_KILN ? kiln_match(ru, frames, n) : frames_match(ru, m, k))
			hit = (long)r;
	}
	if (m != small)
		free(m);
	return hit;
}

/* ---- writing ---------------------------------------------------------------- */

void suppress_write_memcheck(struct strbuf *sb, const char *name, int kind, const struct suppress_frame *frames,
			     size_t n, size_t max_frames)
{
	static const char *const kinds[4] = {"reachable", "possible", "indirect", "definite"};
	strbuf_addf(sb, "{\n   %s\n   Memcheck:Leak\n   match-leak-kinds: %s\n",
		    name ? name : "<insert_a_suppression_name_here>", kind >= 0 && kind < 4 ? kinds[kind] : "all");
	size_t written = 0;
	if (max_frames && (!n || !is_operator_new(frames[0].fun))) {
		strbuf_adds(sb, "   fun:*alloc\n");
		written++;
	}
	for (size_t i = 0; i < n && written < max_frames; i++, written++) {
		const struct suppress_frame *f = &frames[i];
		if (is_below_main(f->fun)) {
			strbuf_adds(sb, "   fun:(below main)\n");
			break;
		}
		if (f->fun)
			strbuf_addf(sb, "   fun:%s\n", f->fun);
		else
			strbuf_addf(sb, "   obj:%s\n", f->obj ? f->obj : "*");
	}
	strbuf_adds(sb, "}\n");
}
