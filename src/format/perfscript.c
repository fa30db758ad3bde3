/* perfscript: `perf script` text -> folded stacks (see perfscript.h).
 * Each dialect is a line-at-a-time state machine over one chunk of input;
 * chunks end at blank lines, where both state machines are back at rest, so
 * chunks can be folded independently (and in parallel, perfscript-run.c).
 * Frames point into the chunk, or into a per-event scratch area when a name
 * had to be rewritten, so most frames are never copied before hashing. */
#include "format/perfscript-parse.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/xalloc.h"

/* ---- small byte helpers ---------------------------------------------- */

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_lower_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* Perl's \s */
static bool is_perl_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool is_perl_word(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool starts_with(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(s, prefix, n) == 0;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static const char *find_str(const char *s, size_t len, const char *needle)
{
	return memmem(s, len, needle, strlen(needle));
}

/* The next "->" (Java inlining separator), or NULL. */
static const char *find_arrow(const char *s, const char *end)
{
	while (s < end) {
		const char *d = memchr(s, '-', (size_t)(end - s));
		if (!d || d + 1 >= end)
			return NULL;
		if (d[1] == '>')
			return d;
		s = d + 1;
	}
	return NULL;
}

/* Last occurrence of needle in s, or NULL. */
static const char *rfind_str(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	while (len >= n) {
		const char *p = memrchr(s, needle[0], len - n + 1);
		if (!p)
			return NULL;
		if (memcmp(p, needle, n) == 0)
			return p;
		len = (size_t)(p - s) + n - 1;
	}
	return NULL;
}

/* Length of the Unicode White_Space character (Rust's char::is_whitespace)
 * starting at p in valid UTF-8, or 0. */
static size_t uspace_at(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	if (c == ' ' || (c >= '\t' && c <= '\r'))
		return 1;
	if (c < 0x80)
		return 0;
	size_t n = (size_t)(end - p);
	if (c == 0xC2 && n >= 2 && (p[1] == 0x85 || p[1] == 0xA0))
		return 2;
	if (n < 3)
		return 0;
	if (c == 0xE1 && p[1] == 0x9A && p[2] == 0x80)
		return 3;
	if (c == 0xE2 && p[1] == 0x80 &&
	    ((p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF))
		return 3;
	if (c == 0xE2 && p[1] == 0x81 && p[2] == 0x9F)
		return 3;
	if (c == 0xE3 && p[1] == 0x80 && p[2] == 0x80)
		return 3;
	return 0;
}

static size_t uspace_before(const unsigned char *begin, const unsigned char *p)
{
	if (p == begin)
		return 0;
	unsigned char c = p[-1];
	if (c == ' ' || (c >= '\t' && c <= '\r'))
		return 1;
	if (c < 0x80)
		return 0;
	if (p - begin >= 2 && uspace_at(p - 2, p) == 2)
		return 2;
	if (p - begin >= 3 && uspace_at(p - 3, p) == 3)
		return 3;
	return 0;
}

struct span {
	const char *s;
	size_t len;
};

static struct span trim_end_u(struct span x)
{
	const unsigned char *b = (const unsigned char *)x.s, *e = b + x.len;
	size_t n;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	while ((n = uspace_before(b, e)) > 0)
		e -= n;
	x.len = (size_t)(e - b);
	return x;
}

static struct span trim_start_u(struct span x)
{
	const unsigned char *b = (const unsigned char *)x.s, *e = b + x.len;
	size_t n;
	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (b < e && (n = uspace_at(b, e)) > 0)
		b += n;
	x.len = (size_t)(e - b);
	x.s = (const char *)b;
	return x;
}

static struct span trim_u(struct span x)
{
	return trim_start_u(trim_end_u(x));
}

static bool span_eq(struct span x, const char *s)
{
	size_t n = strlen(s);
	return x.len == n && memcmp(x.s, s, n) == 0;
}

/* Cuts a trailing "+0x<hex>" symbol offset. inferno accepts any hex case
 * and even no digit; the Perl script's s/\+0x[\da-f]+$// wants at least one
 * lowercase digit (perl true). */
static struct span strip_offset(struct span raw, bool perl)
{
	const char *off = rfind_str(raw.s, raw.len, "+0x");
	if (!off || (perl && off + 3 == raw.s + raw.len))
		return raw;
	for (const char *q = off + 3; q < raw.s + raw.len; q++)
		if (!(perl ? is_lower_hex((unsigned char)*q) : is_hex((unsigned char)*q)))
			return raw;
	raw.len = (size_t)(off - raw.s);
	return raw;
}

/* ---- per-event scratch memory ---------------------------------------- */

static char *scratch_alloc(struct ps_scratch *sc, size_t size)
{
	while (sc->cur < sc->nblocks) {
		struct ps_block *b = &sc->blocks[sc->cur];
		if (b->size - sc->used >= size) {
			char *p = b->mem + sc->used;
			sc->used += size;
			return p;
		}
		sc->cur++;
		sc->used = 0;
	}
	sc->blocks = xgrow(sc->blocks, sizeof(*sc->blocks), sc->nblocks + 1, &sc->cap);
	struct ps_block *b = &sc->blocks[sc->nblocks++];
	b->size = size > 65536 ? size : 65536;
	b->mem = xmalloc(b->size);
	sc->cur = sc->nblocks - 1;
	sc->used = size;
	return b->mem;
}

static void scratch_reset(struct ps_scratch *sc)
{
	sc->cur = 0;
	sc->used = 0;
}

static void scratch_release(struct ps_scratch *sc)
{
	for (size_t i = 0; i < sc->nblocks; i++)
		free(sc->blocks[i].mem);
	free(sc->blocks);
	memset(sc, 0, sizeof(*sc));
}

/* A string being built in scratch memory: reserve the most it can need. */
static char *scratch_join(struct ps_scratch *sc, const struct span *parts, size_t n, size_t *len)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += parts[i].len;
	char *p = scratch_alloc(sc, total ? total : 1), *q = p;
	for (size_t i = 0; i < n; i++) {
		memcpy(q, parts[i].s, parts[i].len);
		q += parts[i].len;
	}
	*len = total;
	return p;
}

/* ---- parser lifecycle and shared pieces -------------------------------- */

void ps_parser_init(struct ps_parser *p, const struct perfscript_options *o, struct foldtab *out)
{
	memset(p, 0, sizeof(*p));
	p->o = o;
	p->out = out;
	p->include_pid = o->include_pid || o->include_tid;
	if (o->event_filter) {
		p->filter = xstrdup(o->event_filter);
		p->filter_len = strlen(o->event_filter);
		p->filter_set = true;
	}
}

static void linecache_clear(struct ps_linecache *c)
{
	free(c->slots);
	arena_release(&c->mem);
	memset(c, 0, sizeof(*c));
}

void ps_parser_release(struct ps_parser *p)
{
	linecache_clear(&p->cache);
	free(p->filter);
	free(p->frames);
	strbuf_release(&p->pname);
	strbuf_release(&p->key);
	strbuf_release(&p->warn_text);
	free(p->warns);
	scratch_release(&p->scratch);
	memset(p, 0, sizeof(*p));
}

void ps_parser_set_filter(struct ps_parser *p, const char *event, size_t len)
{
	free(p->filter);
	p->filter = xmemdup(event, len);
	p->filter_len = len;
	p->filter_set = true;
}

static bool filter_matches(const struct ps_parser *p, const char *ev, size_t len)
{
	return p->filter_len == len && memcmp(p->filter, ev, len) == 0;
}

enum { WARN_TEXT_MAX = 200, WARN_KEEP_MAX = 1000 };

static void add_warning(struct ps_parser *p, const char *kind, const char *line, size_t len)
{
	p->nwarnings++;
	if (p->nwarns >= WARN_KEEP_MAX)
		return;
	p->warns = xgrow(p->warns, sizeof(*p->warns), p->nwarns + 1, &p->warns_cap);
	struct ps_warn *w = &p->warns[p->nwarns++];
	w->line = p->lineno;
	w->kind = kind;
	w->text_off = p->warn_text.len;
	strbuf_add(&p->warn_text, line, len > WARN_TEXT_MAX ? WARN_TEXT_MAX : len);
	strbuf_addch(&p->warn_text, '\0');
}

static void push_frame(struct ps_parser *p, const char *s, size_t len)
{
	p->frames = xgrow(p->frames, sizeof(*p->frames), p->nframes + 1, &p->frames_cap);
	p->frames[p->nframes].s = s;
	p->frames[p->nframes].len = len;
	p->nframes++;
}

/* A line's frames ("a->b->c", Java inlining) were pushed in reading order;
 * reversed, the whole frame array reads outermost-first from its end. */
static void reverse_line_frames(struct ps_parser *p, size_t line_start)
{
	for (size_t i = line_start, j = p->nframes - 1; i < j; i++, j--) {
		struct ps_frame tmp = p->frames[i];
		p->frames[i] = p->frames[j];
		p->frames[j] = tmp;
	}
}

/* Emits the current event: root (pname) first, then frames from the last
 * stack line (outermost) back to the first (the leaf). Frames of one line
 * were pushed innermost-last, so the whole array is read backwards. */
static void emit_stack(struct ps_parser *p, bool with_pname, uint64_t count)
{
	struct strbuf *k = &p->key;
	strbuf_reset(k);
	size_t need = p->pname.len + 1;
	for (size_t i = 0; i < p->nframes; i++)
		need += p->frames[i].len + 1;
	strbuf_grow(k, need);
	char *q = k->buf;
	if (with_pname) {
		memcpy(q, p->pname.buf, p->pname.len);
		q += p->pname.len;
		*q++ = ';';
	}
	for (size_t i = p->nframes; i-- > 0;) {
		memcpy(q, p->frames[i].s, p->frames[i].len);
		q += p->frames[i].len;
		*q++ = ';';
	}
	k->len = (size_t)(q - k->buf) - 1;
	foldtab_add(p->out, k->buf, k->len, count);
	p->events++;
}

/* ---- inferno dialect --------------------------------------------------- */

/* Length of the invalid UTF-8 prefix at p (0 if a valid sequence starts
 * there; *seq gets its length). Mirrors the "maximal subpart" rule that
 * Rust's from_utf8_lossy uses for U+FFFD replacement. */
static size_t utf8_invalid_prefix(const unsigned char *s, size_t n, size_t *seq)
{
	unsigned char c = s[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c < 0x80) {
		*seq = 1;
		return 0;
	} else if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 1;
	}
	if (n < 2 || s[1] < lo || s[1] > hi)
		return 1;
	for (size_t i = 2; i < need; i++)
		if (i >= n || s[i] < 0x80 || s[i] > 0xBF)
			return i;
	*seq = need;
	return 0;
}

/* Returns the line as Rust's String::from_utf8_lossy would see it. */
static struct span utf8_lossy(struct ps_parser *p, struct span line)
{
	const unsigned char *s = (const unsigned char *)line.s;
	size_t i = 0;
	/* eight bytes at a time: most lines are plain ASCII */
	for (; i + 8 <= line.len; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if (w & 0x8080808080808080ULL)
			break;
	}
	while (i < line.len && s[i] < 0x80)
		i++;
	if (i == line.len)
		return line;
	/* check fully before copying: most non-ASCII lines are valid */
	size_t j = i, seq;
	bool valid = true;
	while (j < line.len) {
		if (utf8_invalid_prefix(s + j, line.len - j, &seq)) {
			valid = false;
			break;
		}
		j += seq;
	}
	if (valid)
		return line;
	char *out = scratch_alloc(&p->scratch, line.len * 3 + 1), *q = out;
	memcpy(q, s, i);
	q += i;
	while (i < line.len) {
		size_t bad = utf8_invalid_prefix(s + i, line.len - i, &seq);
		if (bad) {
			memcpy(q, "\xEF\xBF\xBD", 3);
			q += 3;
			i += bad;
		} else {
			memcpy(q, s + i, seq);
			q += seq;
			i += seq;
		}
	}
	return (struct span){out, (size_t)(q - out)};
}

static void inferno_after_event(struct ps_parser *p)
{
	if (p->nframes)
		emit_stack(p, p->stack_filter != PS_SKIP_REMAINING, p->has_period ? p->period : 1);
	p->in_event = false;
	p->stack_filter = PS_KEEP;
	p->nframes = 0;
	p->has_period = false;
	scratch_reset(&p->scratch);
}

/* "comm [pid/]tid ..." : finds the first all-digit word that follows a
 * single space. Returns the offset just past it, or 0 when there is none. */
static size_t inferno_event_parts(struct span line, struct span *comm, struct span *pid,
				  struct span *tid)
{
	size_t word_start = 0, slash = 0;
	bool all_digits = false, last_was_space = false, has_slash = false;
	for (size_t i = 0; i < line.len; i++) {
		unsigned char c = (unsigned char)line.s[i];
		if (c == ' ') {
			if (all_digits && !last_was_space) {
				if (has_slash) {
					*pid = (struct span){line.s + word_start, slash - word_start};
					*tid = (struct span){line.s + slash + 1, i - slash - 1};
				} else {
					*pid = (struct span){"?", 1};
					*tid = (struct span){line.s + word_start, i - word_start};
				}
				*comm = trim_u((struct span){line.s, word_start - 1});
				return i + 1;
			}
			word_start = i + 1;
			all_digits = true;
		} else if (c == '/') {
			if (all_digits) {
				slash = i;
				has_slash = true;
			}
		} else if (!is_digit(c)) {
			all_digits = false;
			has_slash = false;
		}
		last_was_space = c == ' ';
	}
	return 0;
}

/* Rust's u64::from_str: optional '+', then one or more digits, no overflow. */
static bool parse_u64_rust(struct span s, uint64_t *out)
{
	size_t i = 0;
	if (s.len && s.s[0] == '+')
		i = 1;
	if (i == s.len)
		return false;
	uint64_t v = 0;
	for (; i < s.len; i++) {
		unsigned char c = (unsigned char)s.s[i];
		if (!is_digit(c))
			return false;
		uint64_t d = (uint64_t)(c - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static void inferno_stack_line(struct ps_parser *p, struct span line);

static void inferno_event_line(struct ps_parser *p, struct span line)
{
	struct span comm, pid, tid;
	p->in_event = true;
	size_t end = inferno_event_parts(line, &comm, &pid, &tid);
	if (!end) {
		add_warning(p, "weird event line", line.s, line.len);
		p->in_event = false;
		return;
	}
	const char *rest = line.s + end, *rend = line.s + line.len;
	const char *c1 = memchr(rest, ':', (size_t)(rend - rest));
	struct span single = {NULL, 0};
	if (c1) {
		const char *p1 = c1 + 1;
		const char *c2 = memchr(p1, ':', (size_t)(rend - p1));
		const char *p1end = c2 ? c2 : rend;
		/* "... PERIOD EVENT": the event is after the last space */
		const char *sp = p1end;
		while (sp > p1 && sp[-1] != ' ')
			sp--;
		struct span event = {sp, (size_t)(p1end - sp)};
		p->has_period = false;
		if (sp > p1) {
			const char *pe = sp - 1, *ps = pe;
			while (ps > p1 && ps[-1] != ' ')
				ps--;
			p->has_period = parse_u64_rust((struct span){ps, (size_t)(pe - ps)}, &p->period);
		}
		if (p->filter_set) {
			if (!filter_matches(p, event.s, event.len)) {
				p->stack_filter = PS_SKIP;
				return;
			}
		} else {
			ps_parser_set_filter(p, event.s, event.len);
		}
		if (c2) {
			const char *post = c2 + 1;
			size_t plen = (size_t)(rend - post), start = 0;
			for (size_t i = 0; i < plen; i++)
				if (post[i] == ':' || post[i] == ' ') {
					start = i + 1;
					break;
				}
			single = trim_u((struct span){post + start, plen - start});
		}
	}
	strbuf_reset(&p->pname);
	strbuf_add(&p->pname, comm.s, comm.len);
	for (size_t i = 0; i < p->pname.len; i++)
		if (p->pname.buf[i] == ' ')
			p->pname.buf[i] = '_';
	if (p->o->include_tid) {
		strbuf_addch(&p->pname, '-');
		strbuf_add(&p->pname, pid.s, pid.len);
		strbuf_addch(&p->pname, '/');
		strbuf_add(&p->pname, tid.s, tid.len);
	} else if (p->include_pid) {
		strbuf_addch(&p->pname, '-');
		strbuf_add(&p->pname, pid.s, pid.len);
	}
	if (single.len) {
		inferno_stack_line(p, single);
		p->in_event = false;
	}
}

static bool is_vmlinux(struct span m)
{
	const char *v = rfind_str(m.s, m.len, "vmlinux");
	if (!v)
		return false;
	for (const char *q = v; q < m.s + m.len; q++) {
		unsigned char c = (unsigned char)*q;
		if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
		      c == '.' || c == '_'))
			return false;
	}
	return true;
}

static bool inferno_is_kernel(struct span m)
{
	return (starts_with(m.s, m.len, "[") || ends_with(m.s, m.len, ".ko") || is_vmlinux(m)) &&
	       !span_eq(m, "[unknown]");
}

static bool inferno_is_jit(struct span m)
{
	return (starts_with(m.s, m.len, "/tmp/perf-") && ends_with(m.s, m.len, ".map")) ||
	       (find_str(m.s, m.len, "/jitted-") && ends_with(m.s, m.len, ".so"));
}

/* Undoes the legacy Rust mangling perf leaves behind: "..h<16 hex>" hash
 * suffix, "..", and "$LT$"-style escapes. Returns f or a rewritten copy. */
static struct span fix_rust_symbol(struct ps_parser *p, struct span f)
{
	enum { HASH_LEN = 17 };
	if (f.len < HASH_LEN)
		return f;
	const char *h = f.s + f.len - HASH_LEN;
	if (h[0] != 'h')
		return f;
	for (size_t i = 1; i < HASH_LEN; i++)
		if (!is_hex((unsigned char)h[i]))
			return f;
	const char *r = f.s, *rend = h;
	if (rend - r >= 2 && rend[-1] == ':' && rend[-2] == ':')
		rend -= 2;
	if (rend - r >= 2 && r[0] == '_' && r[1] == '$')
		r++;
	static const char *const esc[][2] = {
		{"$SP$", "@"}, {"$BP$", "*"}, {"$RF$", "&"}, {"$LT$", "<"}, {"$GT$", ">"},
		{"$LP$", "("}, {"$RP$", ")"}, {"$C$", ","}, {"$u7e$", "~"}, {"$u20$", " "},
		{"$u27$", "'"}, {"$u3d$", "="}, {"$u5b$", "["}, {"$u5d$", "]"}, {"$u7b$", "{"},
		{"$u7d$", "}"}, {"$u3b$", ";"}, {"$u2b$", "+"}, {"$u21$", "!"}, {"$u22$", "\""},
	};
	char *out = scratch_alloc(&p->scratch, (size_t)(rend - r) + 1), *q = out;
	while (r < rend) {
		if (*r == '.') {
			if (rend - r >= 2 && r[1] == '.') {
				*q++ = ':';
				*q++ = ':';
				r += 2;
			} else {
				*q++ = '.';
				r++;
			}
		} else if (*r == '$') {
			size_t k, n = sizeof(esc) / sizeof(esc[0]);
			for (k = 0; k < n; k++)
				if (starts_with(r, (size_t)(rend - r), esc[k][0]))
					break;
			if (k == n) {
				memcpy(q, r, (size_t)(rend - r));
				q += rend - r;
				break;
			}
			*q++ = esc[k][1][0];
			r += strlen(esc[k][0]);
		} else {
			*q++ = *r++;
		}
	}
	return (struct span){out, (size_t)(q - out)};
}

/* inferno's tidy_generic: ';' becomes ':', and a top-level argument list is
 * cut, keeping Go's ".(" receivers and "(anonymous namespace)". */
static struct span inferno_tidy(struct ps_parser *p, struct span f)
{
	long depth = 0;
	size_t last_dot = (size_t)-1, cut = f.len;
	bool has_semicolon = false;
	for (size_t i = 0; i < f.len; i++) {
		char c = f.s[i];
		switch (c) {
		case '<': case '{': case '[':
			depth++;
			break;
		case '>': case '}': case ']': case ')':
			depth--;
			break;
		case '(':
			if (depth == 0) {
				bool go = last_dot == i;
				bool anon = starts_with(f.s + i, f.len - i, "(anonymous namespace)");
				if (!go && !anon) {
					cut = i;
					goto done;
				}
			}
			depth++;
			break;
		case '.':
			last_dot = i + 1;
			break;
		case ';':
			has_semicolon = true;
			break;
		default:
			break;
		}
	}
done:
	f.len = cut;
	if (has_semicolon && memchr(f.s, ';', f.len)) {
		char *c = scratch_alloc(&p->scratch, f.len);
		for (size_t i = 0; i < f.len; i++)
			c[i] = f.s[i] == ';' ? ':' : f.s[i];
		f.s = c;
	}
	return f;
}

static struct span append_suffix(struct ps_parser *p, struct span f, const char *suffix)
{
	struct span parts[2] = {f, {suffix, strlen(suffix)}};
	struct span r;
	r.s = scratch_join(&p->scratch, parts, 2, &r.len);
	return r;
}

static void inferno_stack_line(struct ps_parser *p, struct span line)
{
	if (p->stack_filter != PS_KEEP)
		return;
	/* "PC RAWFUNC (MODULE)" */
	struct span t = trim_start_u(line);
	const char *sp = memchr(t.s, ' ', t.len);
	if (!sp)
		goto weird;
	struct span pc = trim_end_u((struct span){t.s, (size_t)(sp - t.s)});
	struct span rest = {sp + 1, t.len - (size_t)(sp - t.s) - 1};
	const char *lsp = NULL;
	for (size_t i = rest.len; i-- > 0;)
		if (rest.s[i] == ' ') {
			lsp = rest.s + i;
			break;
		}
	struct span module = lsp ? (struct span){lsp + 1, rest.len - (size_t)(lsp + 1 - rest.s)} : rest;
	if (!module.len || module.s[0] != '(' || module.s[module.len - 1] != ')' || module.len < 2)
		goto weird;
	module.s++;
	module.len -= 2;
	if (!lsp)
		goto weird;
	struct span raw = trim_u((struct span){rest.s, (size_t)(lsp - rest.s)});
	if (!raw.len)
		raw = (struct span){" ", 1};

	raw = strip_offset(raw, false);
	if (raw.len && raw.s[0] == '(')
		return;
	raw = fix_rust_symbol(p, raw);

	size_t line_start = p->nframes;
	const char *f = raw.s, *rend = raw.s + raw.len;
	bool java = starts_with(p->pname.buf ? p->pname.buf : "", p->pname.len, "java");
	for (;;) {
		const char *arrow = find_arrow(f, rend);
		const char *fend = arrow ? arrow : rend;
		struct span fn = {f, (size_t)(fend - f)};
		if (span_eq(fn, "[unknown]")) {
			struct span name;
			bool fallback = true;
			if (span_eq(module, "[unknown]")) {
				if (p->o->include_addrs)
					name = (struct span){"unknown", 7};
				else
					fallback = false;
			} else {
				const char *slash = NULL;
				for (size_t i = module.len; i-- > 0;)
					if (module.s[i] == '/') {
						slash = module.s + i;
						break;
					}
				name = slash ? (struct span){slash + 1, module.len - (size_t)(slash + 1 - module.s)}
					     : module;
			}
			if (fallback) {
				struct span parts[5] = {{"[", 1}, name, {" <", 2}, pc, {">]", 2}};
				if (p->o->include_addrs)
					fn.s = scratch_join(&p->scratch, parts, 5, &fn.len);
				else {
					parts[2] = (struct span){"]", 1};
					fn.s = scratch_join(&p->scratch, parts, 3, &fn.len);
				}
			}
		}
		fn = inferno_tidy(p, fn);
		if (java && fn.len && fn.s[0] == 'L' && memchr(fn.s, '/', fn.len)) {
			fn.s++;
			fn.len--;
		}
		if (p->nframes > line_start) {
			if (!find_str(fn.s, fn.len, "_[i]"))
				fn = append_suffix(p, fn, "_[i]");
		} else if (p->o->annotate_kernel && inferno_is_kernel(module)) {
			fn = append_suffix(p, fn, "_[k]");
		} else if (p->o->annotate_jit && inferno_is_jit(module) &&
			   !find_str(fn.s, fn.len, "_[j]")) {
			fn = append_suffix(p, fn, "_[j]");
		}
		push_frame(p, fn.s, fn.len);
		if (!arrow)
			break;
		f = arrow + 2;
	}
	reverse_line_frames(p, line_start);
	for (size_t i = 0; i < p->o->nskip_after; i++)
		if (span_eq(raw, p->o->skip_after[i])) {
			p->stack_filter = PS_SKIP_REMAINING;
			break;
		}
	return;
weird:
	add_warning(p, "weird stack line", line.s, line.len);
}

/* The cache is dropped when it holds more than this, at an event
 * boundary (no frame of an open event points into it then), so memory
 * stays bounded even when no line repeats. */
enum { LINECACHE_MAX_BYTES = 64 << 20 };

static struct ps_cached_line *linecache_find(struct ps_linecache *c, uint64_t h, struct span line,
					     bool java, size_t *slot)
{
	if (!c->cap) {
		c->cap = 4096;
		c->slots = xcalloc(c->cap, sizeof(*c->slots));
	}
	size_t mask = c->cap - 1, i = h & mask;
	for (; c->slots[i].key; i = (i + 1) & mask) {
		struct ps_cached_line *e = &c->slots[i];
		if (e->hash == h && e->key_len == line.len && e->java == java &&
		    memcmp(e->key, line.s, line.len) == 0)
			return e;
	}
	*slot = i;
	return NULL;
}

static void linecache_grow(struct ps_linecache *c)
{
	size_t ncap = c->cap * 2;
	struct ps_cached_line *ns = xcalloc(ncap, sizeof(*ns));
	for (size_t i = 0; i < c->cap; i++) {
		if (!c->slots[i].key)
			continue;
		size_t j = c->slots[i].hash & (ncap - 1);
		while (ns[j].key)
			j = (j + 1) & (ncap - 1);
		ns[j] = c->slots[i];
	}
	free(c->slots);
	c->slots = ns;
	c->cap = ncap;
}

/* Parses a stack line through the cache. */
static void inferno_stack_line_cached(struct ps_parser *p, struct span line)
{
	bool java = p->pname.len >= 4 && memcmp(p->pname.buf, "java", 4) == 0;
	uint64_t h = hash_bytes(line.s, line.len);
	size_t slot;
	struct ps_cached_line *e = linecache_find(&p->cache, h, line, java, &slot);
	if (e) {
		if (e->weird) {
			add_warning(p, "weird stack line", line.s, line.len);
			return;
		}
		if (e->nframes) { /* a line may parse to no frame at all */
			p->frames = xgrow(p->frames, sizeof(*p->frames), p->nframes + e->nframes,
					  &p->frames_cap);
			memcpy(p->frames + p->nframes, e->frames, e->nframes * sizeof(*e->frames));
			p->nframes += e->nframes;
		}
		if (e->skip_remaining)
			p->stack_filter = PS_SKIP_REMAINING;
		return;
	}
	size_t start = p->nframes;
	unsigned long warnings = p->nwarnings;
	inferno_stack_line(p, line);
	struct ps_linecache *c = &p->cache;
	struct ps_cached_line n = {
		.hash = h,
		.key = arena_memdup(&c->mem, line.s, line.len),
		.key_len = (uint32_t)line.len,
		.nframes = (uint32_t)(p->nframes - start),
		.java = java,
		.weird = p->nwarnings != warnings,
		.skip_remaining = p->stack_filter == PS_SKIP_REMAINING,
	};
	if (n.nframes) {
		struct ps_frame *f = arena_alloc(&c->mem, n.nframes * sizeof(*f));
		for (uint32_t i = 0; i < n.nframes; i++) {
			const struct ps_frame *src = &p->frames[start + i];
			f[i].s = arena_memdup(&c->mem, src->s, src->len);
			f[i].len = src->len;
		}
		n.frames = f;
	}
	c->slots[slot] = n;
	if (++c->count * 4 > c->cap * 3)
		linecache_grow(c);
}

static void inferno_line(struct ps_parser *p, struct span line)
{
	if (line.len && line.s[0] == '#')
		return;
	line = trim_end_u(utf8_lossy(p, line));
	if (!line.len) {
		inferno_after_event(p);
		if (p->cache.mem.total > LINECACHE_MAX_BYTES)
			linecache_clear(&p->cache);
	} else if (p->in_event) {
		if (p->stack_filter == PS_KEEP)
			inferno_stack_line_cached(p, line);
	} else {
		inferno_event_line(p, line);
		if (p->nframes)
			inferno_after_event(p);
	}
}

/* ---- perl dialect ------------------------------------------------------ */

/* Perl: ^(\S.+?)\s+(\d+)[/]*(\d+)*\s+ : comm is the shortest prefix of two or
 * more characters followed by "<space>PID[/TID]<space>". */
static bool perl_event_match(struct span l, struct span *comm, struct span *pid, struct span *tid,
			     bool *has_tid)
{
	const unsigned char *s = (const unsigned char *)l.s;
	if (l.len < 2 || is_perl_space(s[0]))
		return false;
	size_t p = 2;
	while (p < l.len) {
		if (!is_perl_space(s[p])) {
			p++;
			continue;
		}
		size_t q = p;
		while (q < l.len && is_perl_space(s[q]))
			q++;
		size_t d = q;
		while (d < l.len && is_digit(s[d]))
			d++;
		if (d > q) {
			size_t sl = d;
			while (sl < l.len && s[sl] == '/')
				sl++;
			size_t t = sl;
			while (t < l.len && is_digit(s[t]))
				t++;
			if (t < l.len && is_perl_space(s[t])) {
				*comm = (struct span){l.s, p};
				*pid = (struct span){l.s + q, d - q};
				*has_tid = t > sl;
				*tid = (struct span){l.s + sl, t - sl};
				return true;
			}
		}
		p = q; /* every start inside this run of spaces fails the same way */
	}
	return false;
}

/* /:\s*(\d+)*\s+(\S+):\s*$/ : the event name and the optional period. */
static bool perl_event_name(struct span l, struct span *event, struct span *period)
{
	const unsigned char *s = (const unsigned char *)l.s;
	size_t e = l.len;
	while (e > 0 && is_perl_space(s[e - 1]))
		e--;
	if (e < 2 || s[e - 1] != ':')
		return false;
	size_t colon = e - 1, st = colon;
	while (st > 0 && !is_perl_space(s[st - 1]))
		st--;
	if (st == colon || st == 0)
		return false;
	/* the last ':' before the name, then "\s* digits* \s+" up to it */
	size_t i = st;
	while (i > 0 && s[i - 1] != ':')
		i--;
	if (i == 0)
		return false;
	size_t a = i;
	while (a < st && is_perl_space(s[a]))
		a++;
	size_t d = a;
	while (d < st && is_digit(s[d]))
		d++;
	if (d == a) {
		if (a != st || st == i)
			return false; /* no digits: all spaces, at least one */
	} else {
		if (d == st)
			return false; /* digits need a space after them */
		for (size_t k = d; k < st; k++)
			if (!is_perl_space(s[k]))
				return false;
	}
	*event = (struct span){l.s + st, colon - st};
	*period = (struct span){l.s + a, d - a};
	return true;
}

static uint64_t perl_number(struct span s)
{
	uint64_t v = 0;
	for (size_t i = 0; i < s.len; i++) {
		uint64_t d = (uint64_t)(s.s[i] - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	return v;
}

static void perl_event_line(struct ps_parser *p, struct span l, struct span comm, struct span pid,
			    struct span tid, bool has_tid)
{
	if (!has_tid || span_eq(tid, "0")) {
		tid = pid;
		pid = (struct span){"?", 1};
	}
	struct span event, period = {NULL, 0};
	if (perl_event_name(l, &event, &period)) {
		if (!p->filter_set) {
			ps_parser_set_filter(p, event.s, event.len);
		} else if (!filter_matches(p, event.s, event.len)) {
			return; /* as the script does: pname and period stay as they were */
		}
	}
	p->period = (period.len == 0 || span_eq(period, "0")) ? 1 : perl_number(period);
	strbuf_reset(&p->pname);
	strbuf_add(&p->pname, comm.s, comm.len);
	if (p->o->include_tid) {
		strbuf_addch(&p->pname, '-');
		strbuf_add(&p->pname, pid.s, pid.len);
		strbuf_addch(&p->pname, '/');
		strbuf_add(&p->pname, tid.s, tid.len);
	} else if (p->include_pid) {
		strbuf_addch(&p->pname, '-');
		strbuf_add(&p->pname, pid.s, pid.len);
	}
	for (size_t i = 0; i < p->pname.len; i++)
		if (p->pname.buf[i] == ' ')
			p->pname.buf[i] = '_';
	p->pname_set = true;
}

/* /^\s*(\w+)\s*(.+) \((.*)\)/ with Perl's backtracking order. */
static bool perl_stack_match(struct span l, struct span *pc, struct span *func, struct span *mod)
{
	const unsigned char *s = (const unsigned char *)l.s;
	size_t ws = 0;
	while (ws < l.len && is_perl_space(s[ws]))
		ws++;
	size_t wend = ws;
	while (wend < l.len && is_perl_word(s[wend]))
		wend++;
	if (wend == ws)
		return false;
	size_t lastparen = l.len;
	while (lastparen > 0 && s[lastparen - 1] != ')')
		lastparen--;
	if (lastparen == 0)
		return false;
	lastparen--; /* index of the last ')' */
	/* P: the last " (" that still has a ')' after it */
	size_t P = (size_t)-1;
	for (size_t i = lastparen >= 2 ? lastparen - 2 + 1 : 0; i-- > 0;)
		if (s[i] == ' ' && s[i + 1] == '(') {
			P = i;
			break;
		}
	if (P == (size_t)-1)
		return false;
	/* greedy \w+ then greedy \s*, backing off until (.+) can end at P */
	size_t wsend = wend;
	while (wsend < l.len && is_perl_space(s[wsend]))
		wsend++;
	size_t w_end, f_start;
	if (P >= wend + 1) {
		w_end = wend;
		f_start = wsend < P ? wsend : P - 1;
	} else if (P >= ws + 2) {
		w_end = P - 1;
		f_start = w_end;
	} else {
		return false;
	}
	*pc = (struct span){l.s + ws, w_end - ws};
	*func = (struct span){l.s + f_start, P - f_start};
	*mod = (struct span){l.s + P + 2, lastparen - (P + 2)};
	return true;
}

/* tidy_generic as the Perl script does it; returns f or a scratch copy. */
static struct span perl_tidy(struct ps_parser *p, struct span f)
{
	/* keep Go's ".(*T)." receivers whole */
	const char *dp = find_str(f.s, f.len, ".(");
	bool go = false;
	if (dp) {
		const char *rp = rfind_str(f.s, f.len, ").");
		go = rp && rp >= dp + 2;
	}
	if (!go) {
		for (size_t i = 0; i < f.len; i++)
			if (f.s[i] == '(' &&
			    !starts_with(f.s + i + 1, f.len - i - 1, "anonymous namespace)")) {
				f.len = i;
				break;
			}
	}
	bool rewrite = false;
	for (size_t i = 0; i < f.len; i++)
		if (f.s[i] == ';' || f.s[i] == '"' || f.s[i] == '\'') {
			rewrite = true;
			break;
		}
	if (!rewrite)
		return f;
	char *c = scratch_alloc(&p->scratch, f.len ? f.len : 1), *q = c;
	for (size_t i = 0; i < f.len; i++) {
		char ch = f.s[i];
		if (ch == '"' || ch == '\'')
			continue;
		*q++ = ch == ';' ? ':' : ch;
	}
	return (struct span){c, (size_t)(q - c)};
}

static bool perl_is_jit(struct span m)
{
	const char *q = m.s, *end = m.s + m.len;
	while ((q = find_str(q, (size_t)(end - q), "/tmp/perf-")) != NULL) {
		const char *d = q + 10;
		const char *e = d;
		while (e < end && is_digit((unsigned char)*e))
			e++;
		if (e > d && starts_with(e, (size_t)(end - e), ".map"))
			return true;
		q++;
	}
	return false;
}

static void perl_stack_line(struct ps_parser *p, struct span pc, struct span raw, struct span mod)
{
	if (!p->pname_set)
		return;
	raw = strip_offset(raw, true);
	if (raw.len && raw.s[0] == '(')
		return;
	/* split /->/ drops trailing empty fields */
	const char *rend = raw.s + raw.len;
	while (rend - raw.s >= 2 && rend[-1] == '>' && rend[-2] == '-')
		rend -= 2;
	if (rend == raw.s)
		return;
	bool java = p->pname.len >= 4 && memcmp(p->pname.buf, "java", 4) == 0;
	bool kernel_mod = (mod.len && mod.s[0] == '[') || ends_with(mod.s, mod.len, "vmlinux");
	kernel_mod = kernel_mod && !find_str(mod.s, mod.len, "unknown");
	size_t line_start = p->nframes;
	const char *f = raw.s;
	for (;;) {
		const char *arrow = find_arrow(f, rend);
		const char *fend = arrow ? arrow : rend;
		struct span fn = {f, (size_t)(fend - f)};
		if (span_eq(fn, "[unknown]")) {
			struct span name;
			if (!span_eq(mod, "[unknown]")) {
				const char *slash = NULL;
				for (size_t i = mod.len; i-- > 0;)
					if (mod.s[i] == '/') {
						slash = mod.s + i;
						break;
					}
				name = slash ? (struct span){slash + 1, mod.len - (size_t)(slash + 1 - mod.s)} : mod;
			} else {
				name = (struct span){"unknown", 7};
			}
			struct span parts[5] = {{"[", 1}, name, {" <", 2}, pc, {">]", 2}};
			if (p->o->include_addrs) {
				fn.s = scratch_join(&p->scratch, parts, 5, &fn.len);
			} else {
				parts[2] = (struct span){"]", 1};
				fn.s = scratch_join(&p->scratch, parts, 3, &fn.len);
			}
		}
		fn = perl_tidy(p, fn);
		if (java && memchr(fn.s, '/', fn.len) && fn.len && fn.s[0] == 'L') {
			fn.s++;
			fn.len--;
		}
		if (p->nframes > line_start) {
			if (!find_str(fn.s, fn.len, "_[i]"))
				fn = append_suffix(p, fn, "_[i]");
		} else if (p->o->annotate_kernel && kernel_mod) {
			fn = append_suffix(p, fn, "_[k]");
		} else if (p->o->annotate_jit && perl_is_jit(mod)) {
			if (!find_str(fn.s, fn.len, "_[j]"))
				fn = append_suffix(p, fn, "_[j]");
		}
		push_frame(p, fn.s, fn.len);
		if (!arrow)
			break;
		f = arrow + 2;
	}
	reverse_line_frames(p, line_start);
}

static void perl_line(struct ps_parser *p, struct span l)
{
	if (l.len && l.s[0] == '#')
		return;
	if (l.len == 0) {
		if (!p->pname_set)
			return;
		emit_stack(p, true, p->period);
		p->nframes = 0;
		p->pname_set = false;
		scratch_reset(&p->scratch);
		return;
	}
	struct span comm, pid, tid, pc, func, mod;
	bool has_tid;
	if (perl_event_match(l, &comm, &pid, &tid, &has_tid))
		perl_event_line(p, l, comm, pid, tid, has_tid);
	else if (perl_stack_match(l, &pc, &func, &mod))
		perl_stack_line(p, pc, func, mod);
	else
		add_warning(p, "unrecognized line", l.s, l.len);
}

/* ---- chunk driver ------------------------------------------------------ */

void ps_parser_chunk(struct ps_parser *p, const char *data, size_t len)
{
	const char *s = data, *end = data + len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl ? nl : end;
		p->lineno++;
		struct span line = {s, (size_t)(le - s)};
		if (p->o->dialect == PERFSCRIPT_PERL)
			perl_line(p, line);
		else
			inferno_line(p, line);
		s = nl ? nl + 1 : end;
	}
}

void ps_parser_finish(struct ps_parser *p)
{
	/* inferno keeps a final sample with no blank line after it; the Perl
	 * script drops it */
	if (p->o->dialect == PERFSCRIPT_INFERNO && p->nframes)
		inferno_after_event(p);
}

bool ps_parser_at_rest(const struct ps_parser *p)
{
	if (p->o->dialect == PERFSCRIPT_PERL)
		return !p->pname_set && p->nframes == 0;
	return !p->in_event && p->nframes == 0;
}

bool perfscript_sniff(const char *text, size_t len)
{
	struct perfscript_options o = {0};
	const char *s = text, *end = text + len;
	bool after_event = false;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl && after_event)
			return true; /* the sniff buffer cut the stack line short */
		const char *le = nl ? nl : end;
		struct span line = trim_u((struct span){s, (size_t)(le - s)});
		s = nl ? nl + 1 : end;
		if (line.len && line.s[0] == '#')
			continue;
		if (!line.len) {
			if (after_event)
				return true;
			continue;
		}
		if (after_event) {
			/* a stack line: "ADDR SYMBOL (MODULE)" */
			const char *sp = memchr(line.s, ' ', line.len);
			return sp && line.s[line.len - 1] == ')' && memchr(sp, '(', (size_t)(le - sp));
		}
		struct span comm, pid, tid;
		size_t endp = inferno_event_parts(line, &comm, &pid, &tid);
		if (!endp || !memchr(line.s + endp, ':', line.len - endp))
			return false;
		after_event = true;
		(void)o;
	}
	return after_event;
}
