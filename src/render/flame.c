/* flame: the merged call tree and the SVG writer (see flame.h).
 * Invariant: a node's value is the sum of the counts of the stacks through
 * it, so a child is never wider than its parent; node ids grow from the
 * root, so every parent id is smaller than its children's. */
#include "render/flame.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/bigarray.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "render/flame-assets.h"

#define NO_NODE UINT32_MAX
#define XPAD 10.0
#define FRAMEPAD 1.0
#define SEARCH_COLOR "rgb(230,0,230)"
#define FLUSH_AT (1u << 20)

struct flame_name {
	const char *s; /* in the arena, NUL-terminated */
	uint32_t len;
	uint32_t rank; /* position in byte order, set when writing */
};

/* A node's name field also carries WIDE_BIT: set once the node has
 * WIDE_AT children, after which its children are found through the child
 * hash table; narrow nodes (most of a tree) are searched by walking their
 * few children, so the table stays small. */
#define WIDE_BIT 0x80000000u
#define WIDE_AT 8

struct flame_node {
	uint32_t name;         /* index into names (| WIDE_BIT); NO_NODE for the root */
	uint32_t parent;
	uint32_t first_child;  /* most recently added child first */
	uint32_t next_sibling;
	double value;          /* counts through this frame */
};

/* An open-addressing slot: an id (0 = empty) and the low 32 bits of its
 * hash, which place it, so growing never reads the nodes or names. */
struct flame_slot {
	uint32_t id;
	uint32_t hash;
};

struct flame {
	struct flame_options o;
	struct arena strings;

	struct flame_name *names;
	size_t nnames, names_cap;
	struct flame_slot *name_slots; /* id = name index + 1 */
	size_t name_mask;

	struct flame_node *nodes;
	size_t nnodes, nodes_cap;
	double *delta; /* per node, after - before of the stacks ending there;
			  allocated at the first differential stack */
	size_t delta_cap;
	struct flame_slot *child_slots; /* children of wide nodes; id = node index */
	size_t child_mask, nchildren;

	/* the previous stack and its path, so a shared prefix is not looked up
	 * again (folded input is usually sorted) */
	char *prev;
	size_t prev_len, prev_cap;
	uint32_t *path_end, *path_node;
	size_t path_len, path_cap;
	struct strbuf rev; /* --reverse scratch */

	bool differential;
	size_t drawn;
};

/* ---- building the tree ---- */

static const char *copy_opt(struct arena *a, const char *s)
{
	return s ? arena_memdup(a, s, strlen(s)) : NULL;
}

void flame_options_init(struct flame_options *o)
{
	memset(o, 0, sizeof(*o));
	o->width = 1200;
	o->frame_height = 16;
	o->fontsize = 12;
	o->fontwidth = 0.59;
	o->minwidth = 0.1;
	o->factor = 1;
}

int flame_parse_minwidth(struct flame_options *o, const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0 || *s == '-' || *s == '+' ||
	    (*end && strcmp(end, "%")))
		return KILN_ERR_FORMAT;
	o->minwidth = v;
	o->minwidth_percent = *end == '%';
	return 0;
}

static struct flame_slot *slots_new(size_t n)
{
	return xcalloc(n, sizeof(struct flame_slot));
}

struct flame *flame_new(const struct flame_options *opt)
{
	struct flame *f = xcalloc(1, sizeof(*f));
	struct flame_options d;
	flame_options_init(&d);
	if (opt)
		f->o = *opt;
	else
		f->o = d;
	struct flame_options *o = &f->o;
	if (o->width <= 0)
		o->width = d.width;
	if (o->frame_height <= 0)
		o->frame_height = d.frame_height;
	if (!(o->fontsize > 0) || !isfinite(o->fontsize))
		o->fontsize = d.fontsize;
	if (!(o->fontwidth > 0) || !isfinite(o->fontwidth))
		o->fontwidth = d.fontwidth;
	if (o->minwidth == 0 || isnan(o->minwidth))
		o->minwidth = d.minwidth;
	if (o->factor == 0 || !isfinite(o->factor))
		o->factor = 1;
	if (o->colors < 0 || o->colors >= PALETTE_COUNT)
		o->colors = PALETTE_HOT;
	o->title = copy_opt(&f->strings, o->title);
	o->subtitle = copy_opt(&f->strings, o->subtitle);
	o->countname = copy_opt(&f->strings, o->countname);
	o->nametype = copy_opt(&f->strings, o->nametype);
	o->notes = copy_opt(&f->strings, o->notes);
	o->fonttype = copy_opt(&f->strings, o->fonttype);

	f->name_mask = 1023;
	f->name_slots = slots_new(f->name_mask + 1);
	f->child_mask = 4095;
	f->child_slots = slots_new(f->child_mask + 1);
	f->nodes = bigarray_grow(NULL, sizeof(*f->nodes), 1024, &f->nodes_cap);
	f->nodes[0] = (struct flame_node){NO_NODE, NO_NODE, NO_NODE, NO_NODE, 0};
	f->nnodes = 1;
	return f;
}

void flame_free(struct flame *f)
{
	if (!f)
		return;
	arena_release(&f->strings);
	free(f->names);
	free(f->name_slots);
	bigarray_free(f->nodes, sizeof(*f->nodes), f->nodes_cap);
	free(f->delta);
	free(f->child_slots);
	free(f->prev);
	free(f->path_end);
	free(f->path_node);
	strbuf_release(&f->rev);
	free(f);
}

void flame_get_stats(const struct flame *f, struct flame_stats *st)
{
	st->nodes = f->nnodes;
	st->names = f->nnames;
	st->drawn = f->drawn;
	st->total = f->nodes[0].value;
	st->differential = f->differential;
}

/* Doubles a table; each id moves to the first free slot from its hash. */
static void slots_grow(struct flame_slot **slots, size_t *mask)
{
	size_t m = *mask * 2 + 1;
	struct flame_slot *old = *slots, *t = slots_new(m + 1);
	for (size_t i = 0; i <= *mask; i++) {
		if (!old[i].id)
			continue;
		size_t j = old[i].hash & m;
		while (t[j].id)
			j = (j + 1) & m;
		t[j] = old[i];
	}
	free(old);
	*slots = t;
	*mask = m;
}

/* Returns the id of name s[0..len) with hash h, adding it if new. */
static uint32_t name_intern(struct flame *f, const char *s, size_t len, uint64_t h)
{
	uint32_t h32 = (uint32_t)h;
	size_t j = h32 & f->name_mask;
	for (;;) {
		struct flame_slot *sl = &f->name_slots[j];
		if (!sl->id)
			break;
		if (sl->hash == h32) {
			const struct flame_name *n = &f->names[sl->id - 1];
			if (n->len == len && !memcmp(n->s, s, len))
				return sl->id - 1;
		}
		j = (j + 1) & f->name_mask;
	}
	if (f->nnames == f->names_cap)
		f->names = xgrow(f->names, sizeof(*f->names), f->nnames + 1, &f->names_cap);
	uint32_t id = (uint32_t)f->nnames++;
	f->names[id] = (struct flame_name){arena_memdup(&f->strings, s, len), (uint32_t)len, 0};
	f->name_slots[j].id = id + 1;
	f->name_slots[j].hash = h32;
	if (f->nnames * 10 > (f->name_mask + 1) * 7)
		slots_grow(&f->name_slots, &f->name_mask);
	return id;
}

static uint32_t node_name(const struct flame_node *n)
{
	return n->name & ~WIDE_BIT;
}

static uint32_t child_hash(uint32_t name, uint32_t parent)
{
	return (uint32_t)hash_mix(((uint64_t)name << 32) | parent, 0x9E3779B97F4A7C15ULL);
}

static void child_table_add(struct flame *f, uint32_t id)
{
	const struct flame_node *c = &f->nodes[id];
	uint32_t h32 = child_hash(node_name(c), c->parent);
	size_t j = h32 & f->child_mask;
	while (f->child_slots[j].id)
		j = (j + 1) & f->child_mask;
	f->child_slots[j].id = id;
	f->child_slots[j].hash = h32;
	if (++f->nchildren * 4 > (f->child_mask + 1) * 3)
		slots_grow(&f->child_slots, &f->child_mask);
}

static uint32_t node_new(struct flame *f, uint32_t parent, uint32_t name)
{
	if (f->nnodes == f->nodes_cap)
		f->nodes = bigarray_grow(f->nodes, sizeof(*f->nodes), f->nnodes + 1, &f->nodes_cap);
	uint32_t id = (uint32_t)f->nnodes++;
	struct flame_node *p = &f->nodes[parent];
	f->nodes[id] = (struct flame_node){name, parent, NO_NODE, p->first_child, 0};
	p->first_child = id;
	return id;
}

/* Returns the child of parent called s[0..len), adding it if new. A flame
 * chart merges a frame only with the previous stack's frame at the same
 * place (flame_add reuses that shared prefix), so here it is always new. */
static uint32_t child_get(struct flame *f, uint32_t parent, const char *s, size_t len)
{
	uint32_t name = name_intern(f, s, len, hash_bytes(s, len));
	if (f->o.flamechart)
		return node_new(f, parent, name);
	if (!(f->nodes[parent].name & WIDE_BIT)) {
		unsigned n = 0;
		for (uint32_t c = f->nodes[parent].first_child; c != NO_NODE; c = f->nodes[c].next_sibling, n++)
			if (node_name(&f->nodes[c]) == name)
				return c;
		uint32_t id = node_new(f, parent, name);
		if (n + 1 >= WIDE_AT) {
			f->nodes[parent].name |= WIDE_BIT;
			for (uint32_t c = f->nodes[parent].first_child; c != NO_NODE; c = f->nodes[c].next_sibling)
				child_table_add(f, c);
		}
		return id;
	}
	uint32_t h32 = child_hash(name, parent);
	for (size_t j = h32 & f->child_mask; f->child_slots[j].id; j = (j + 1) & f->child_mask) {
		if (f->child_slots[j].hash != h32)
			continue;
		const struct flame_node *c = &f->nodes[f->child_slots[j].id];
		if (c->parent == parent && node_name(c) == name)
			return f->child_slots[j].id;
	}
	uint32_t id = node_new(f, parent, name);
	child_table_add(f, id);
	return id;
}

/* Writes the frames of s[0..len) in reverse order into f->rev. */
static void reverse_frames(struct flame *f, const char *s, size_t len)
{
	strbuf_reset(&f->rev);
	strbuf_grow(&f->rev, len);
	size_t end = len;
	while (end > 0) {
		size_t start = end;
		while (start > 0 && s[start - 1] != ';')
			start--;
		strbuf_add(&f->rev, s + start, end - start);
		if (start == 0)
			break;
		strbuf_addch(&f->rev, ';');
		end = start - 1;
	}
}

int flame_add(struct flame *f, const char *stack, size_t len, double count, double count2, int ncounts)
{
	if (ncounts != 1 && ncounts != 2)
		return KILN_ERR_FORMAT;
	double v = ncounts == 2 ? count2 : count;
	if (!isfinite(count) || count < 0 || (ncounts == 2 && (!isfinite(count2) || count2 < 0)))
		return KILN_ERR_FORMAT;
	if (!isfinite(f->nodes[0].value + v))
		return KILN_ERR_FORMAT;
	while (len > 0 && stack[len - 1] == ';')
		len--;
	if (len == 0 || len > UINT32_MAX - 1)
		return KILN_ERR_FORMAT;
	if (f->o.reverse) {
		reverse_frames(f, stack, len);
		stack = f->rev.buf;
		len = f->rev.len;
	}

	/* frames of the previous stack that this one shares */
	size_t common = 0, lim = len < f->prev_len ? len : f->prev_len;
	while (common + 8 <= lim) {
		uint64_t a, b;
		memcpy(&a, stack + common, 8);
		memcpy(&b, f->prev + common, 8);
		if (a != b)
			break;
		common += 8;
	}
	while (common < lim && stack[common] == f->prev[common])
		common++;
	size_t k = 0;
	while (k < f->path_len && f->path_end[k] <= common &&
	       (f->path_end[k] == len || stack[f->path_end[k]] == ';'))
		k++;
	f->path_len = k;
	uint32_t parent = k ? f->path_node[k - 1] : 0;
	size_t pos = k ? f->path_end[k - 1] + 1 : 0;
	bool done = k && f->path_end[k - 1] == len;
	while (!done) {
		const char *semi = memchr(stack + pos, ';', len - pos);
		size_t end = semi ? (size_t)(semi - stack) : len;
		parent = child_get(f, parent, stack + pos, end - pos);
		if (f->path_len == f->path_cap) {
			size_t cap = f->path_cap;
			f->path_end = xgrow(f->path_end, sizeof(uint32_t), f->path_len + 1, &cap);
			f->path_node = xgrow(f->path_node, sizeof(uint32_t), f->path_len + 1, &f->path_cap);
		}
		f->path_end[f->path_len] = (uint32_t)end;
		f->path_node[f->path_len++] = parent;
		done = end == len;
		pos = end + 1;
	}
	if (len > f->prev_cap)
		f->prev = xgrow(f->prev, 1, len, &f->prev_cap);
	memcpy(f->prev + common, stack + common, len - common);
	f->prev_len = len;

	f->nodes[0].value += v;
	for (size_t i = 0; i < f->path_len; i++)
		f->nodes[f->path_node[i]].value += v;
	if (ncounts == 2) {
		f->differential = true;
		if (f->delta_cap < f->nodes_cap) {
			size_t old = f->delta_cap;
			f->delta = xrealloc(f->delta, f->nodes_cap * sizeof(double));
			memset(f->delta + old, 0, (f->nodes_cap - old) * sizeof(double));
			f->delta_cap = f->nodes_cap;
		}
		f->delta[f->path_node[f->path_len - 1]] += count2 - count;
	}
	return 0;
}

/* ---- writing the SVG ---- */

struct svgout {
	struct strbuf sb;
	FILE *fp;
	int err;
};

static void out_flush(struct svgout *w)
{
	if (w->sb.len && !w->err && fwrite(w->sb.buf, 1, w->sb.len, w->fp) != w->sb.len)
		w->err = errno ? -errno : -EIO;
	strbuf_reset(&w->sb);
}

static void out_maybe_flush(struct svgout *w)
{
	if (w->sb.len >= FLUSH_AT)
		out_flush(w);
}

static void out_s(struct svgout *w, const char *s)
{
	strbuf_adds(&w->sb, s);
}

static void out_f(struct svgout *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_f(struct svgout *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&w->sb, fmt, ap);
	va_end(ap);
}

/* Length of the valid UTF-8 sequence at s (< n bytes left), or 0 when the
 * bytes there are not one, or encode a character XML forbids. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t need;
	unsigned cp, min;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
		return 0;
	return need;
}

/* Number of characters in s (an invalid byte counts as one). */
static size_t utf8_count(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; n++) {
		size_t l = utf8_seq((const unsigned char *)s + i, len - i);
		i += l ? l : 1;
	}
	return n;
}

/* Byte length of the first chars characters of s. */
static size_t utf8_prefix(const char *s, size_t len, size_t chars)
{
	size_t i = 0;
	while (i < len && chars--) {
		size_t l = utf8_seq((const unsigned char *)s + i, len - i);
		i += l ? l : 1;
	}
	return i;
}

/* Appends s escaped for XML text or attributes; bytes that are not valid
 * UTF-8 become U+FFFD and forbidden control characters '?', so the SVG
 * always parses. */
static void put_xml(struct strbuf *sb, const char *s, size_t len)
{
	size_t start = 0, i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		const char *rep;
		size_t skip = 1;
		if (c >= 0x80) {
			size_t l = utf8_seq((const unsigned char *)s + i, len - i);
			if (l) {
				i += l;
				continue;
			}
			rep = "\xef\xbf\xbd";
		} else if (c == '&') {
			rep = "&amp;";
		} else if (c == '<') {
			rep = "&lt;";
		} else if (c == '>') {
			rep = "&gt;";
		} else if (c == '"') {
			rep = "&quot;";
		} else if (c == '\'') {
			rep = "&apos;";
		} else if (c < 0x20 && c != '\t') {
			rep = "?";
		} else {
			i++;
			continue;
		}
		strbuf_add(sb, s + start, i - start);
		strbuf_adds(sb, rep);
		i += skip;
		start = i;
	}
	strbuf_add(sb, s + start, len - start);
}

static void put_xmls(struct strbuf *sb, const char *s)
{
	put_xml(sb, s, strlen(s));
}

/* Appends s as the body of a JavaScript string inside a CDATA section:
 * '<' and '>' are escaped too, so "]]>" and "</script>" cannot appear. */
static void put_js(struct strbuf *sb, const char *s)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			size_t l = utf8_seq((const unsigned char *)s + i, len - i);
			if (l)
				strbuf_add(sb, s + i, l);
			else
				strbuf_adds(sb, "\\ufffd");
			i += l ? l : 1;
			continue;
		}
		if (c == '\\' || c == '"')
			strbuf_addf(sb, "\\%c", c);
		else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f)
			strbuf_addf(sb, "\\u%04x", c);
		else
			strbuf_addch(sb, (char)c);
		i++;
	}
}

/* A count for data attributes: exact for integers, else 10 digits. */
static void put_count(struct strbuf *sb, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		strbuf_addf(sb, "%.0f", v);
	else
		strbuf_addf(sb, "%.10g", v);
}

/* A count for people: thousands separated by commas, two decimals when
 * the count is fractional. */
static void put_human(struct strbuf *sb, double v)
{
	char buf[64];
	double r = round(v);
	int n;
	if (fabs(v - r) < 1e-9 * (fabs(v) > 1 ? fabs(v) : 1))
		n = snprintf(buf, sizeof(buf), "%.0f", r);
	else
		n = snprintf(buf, sizeof(buf), "%.2f", v);
	if (n <= 0 || (size_t)n >= sizeof(buf) || fabs(v) >= 1e21) {
		strbuf_addf(sb, "%g", v);
		return;
	}
	const char *p = buf;
	if (*p == '-')
		strbuf_addch(sb, *p++);
	size_t digits = strspn(p, "0123456789");
	for (size_t i = 0; i < digits; i++) {
		if (i && (digits - i) % 3 == 0)
			strbuf_addch(sb, ',');
		strbuf_addch(sb, p[i]);
	}
	strbuf_adds(sb, p + digits);
}

/* The name shown for a frame: perf's _[k] style annotation removed. */
static size_t display_len(const char *s, size_t len)
{
	if (len >= 4 && s[len - 4] == '_' && s[len - 3] == '[' && s[len - 1] == ']' &&
	    strchr("kwij", s[len - 2]))
		return len - 4;
	return len;
}

static int cmp_name(const void *a, const void *b)
{
	const struct flame_name *x = *(const struct flame_name *const *)a;
	const struct flame_name *y = *(const struct flame_name *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* Sets each name's rank in byte order, so siblings sort by one compare. */
static void rank_names(struct flame *f)
{
	struct flame_name **v = xmalloc((f->nnames + 1) * sizeof(*v));
	for (size_t i = 0; i < f->nnames; i++)
		v[i] = &f->names[i];
	qsort(v, f->nnames, sizeof(*v), cmp_name);
	for (size_t i = 0; i < f->nnames; i++)
		v[i]->rank = (uint32_t)i;
	free(v);
}

struct kid {
	uint32_t key;
	uint32_t node;
};

static int cmp_kid(const void *a, const void *b)
{
	const struct kid *x = a, *y = b;
	return x->key < y->key ? -1 : x->key > y->key;
}

struct frame_job {
	uint32_t node;
	uint32_t depth;
	double x;
	bool waker;
};

struct layout {
	double total, wpt, minval, maxdelta, height, base;
	uint32_t depthmax;
};

static void write_header(struct svgout *w, const struct flame_options *o, double height)
{
	out_f(w, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		 "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
		 "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
		 "<svg version=\"1.1\" width=\"%d\" height=\"%.0f\" onload=\"init(evt)\" "
		 "viewBox=\"0 0 %d %.0f\" xmlns=\"http://www.w3.org/2000/svg\" "
		 "xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n"
		 "<!-- Flame graph written by kiln flame: hover for details, click to zoom, "
		 "Search (or Ctrl-F) for a regular expression. -->\n",
	      o->width, height, o->width, height);
	out_s(w, "<!-- NOTES: ");
	if (o->notes) {
		/* "--" may not appear inside an XML comment */
		for (const char *p = o->notes; *p; p++) {
			put_xml(&w->sb, p, 1);
			if (p[0] == '-' && p[1] == '-')
				strbuf_addch(&w->sb, ' ');
		}
	}
	out_s(w, " -->\n");
}

/* The CSS font family, without characters that could end the rule or the
 * CDATA section. */
static void put_font(struct strbuf *sb, const char *s)
{
	for (; *s; s++)
		if (!strchr("<>&;{}\\", *s) && (unsigned char)*s >= 0x20)
			strbuf_addch(sb, *s);
}

static void write_error_svg(struct svgout *w, const struct flame_options *o)
{
	double h = o->fontsize * 5;
	write_header(w, o, h);
	out_f(w, "<text x=\"%d\" y=\"%g\" text-anchor=\"middle\" font-family=\"", o->width / 2,
	      o->fontsize * 2);
	struct strbuf font = STRBUF_INIT;
	put_font(&font, o->fonttype ? o->fonttype : "Verdana");
	put_xml(&w->sb, font.buf ? font.buf : "", font.len);
	strbuf_release(&font);
	out_f(w, "\" font-size=\"%g\">ERROR: No valid input provided.</text>\n</svg>\n", o->fontsize);
}

static void write_prologue(struct svgout *w, const struct flame *f, const struct layout *L)
{
	const struct flame_options *o = &f->o;
	const char *bg1, *bg2;
	palette_background(o->colors, &bg1, &bg2);
	const char *title = o->title ? o->title
		: o->flamechart ? "Flame Chart" : o->inverted ? "Icicle Graph" : "Flame Graph";
	double fs = o->fontsize;
	double ypad2 = fs * 2 + 10;
	int W = o->width;

	write_header(w, o, L->height);
	out_f(w, "<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
		 "<stop stop-color=\"%s\" offset=\"5%%\"/><stop stop-color=\"%s\" offset=\"95%%\"/>"
		 "</linearGradient></defs>\n", bg1, bg2);
	out_s(w, "<style type=\"text/css\"><![CDATA[\ntext { font-family:");
	put_font(&w->sb, o->fonttype ? o->fonttype : "Verdana");
	out_f(w, "; font-size:%gpx; fill:rgb(0,0,0); }\n#title { font-size:%gpx; }\n", fs, fs + 5);
	out_s(w, flame_css);
	out_s(w, "]]></style>\n<script type=\"text/ecmascript\"><![CDATA[\nvar kiln_flame = {total: ");
	put_count(&w->sb, L->total);
	out_f(w, ", factor: %.10g, xpad: %g, width: %d, fontsize: %g, fontwidth: %g, countname: \"",
	      o->factor, XPAD, W, fs, o->fontwidth);
	put_js(&w->sb, o->countname ? o->countname : "samples");
	out_s(w, "\", nametype: \"");
	put_js(&w->sb, o->nametype ? o->nametype : "Function:");
	out_s(w, "\", searchcolor: \"" SEARCH_COLOR "\"};\n");
	out_s(w, flame_js);
	out_s(w, "]]></script>\n");
	out_f(w, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"url(#background)\"/>\n",
	      W, L->height);
	out_f(w, "<text id=\"title\" x=\"%d\" y=\"%g\">", W / 2, fs * 2);
	put_xmls(&w->sb, title);
	out_s(w, "</text>\n");
	if (o->subtitle && *o->subtitle) {
		out_f(w, "<text id=\"subtitle\" x=\"%d\" y=\"%g\">", W / 2, fs * 4);
		put_xmls(&w->sb, o->subtitle);
		out_s(w, "</text>\n");
	}
	out_f(w, "<text id=\"details\" x=\"%g\" y=\"%g\"> </text>\n", XPAD, L->height - ypad2 / 2);
	out_f(w, "<text id=\"unzoom\" class=\"hide\" x=\"%g\" y=\"%g\">Reset Zoom</text>\n", XPAD, fs * 2);
	out_f(w, "<text id=\"search\" x=\"%g\" y=\"%g\">Search</text>\n", W - XPAD - 100, fs * 2);
	out_f(w, "<text id=\"ignorecase\" x=\"%g\" y=\"%g\">ic</text>\n", W - XPAD - 16, fs * 2);
	out_f(w, "<text id=\"matched\" x=\"%g\" y=\"%g\"> </text>\n", W - XPAD - 100,
	      L->height - ypad2 / 2);
}

static void write_frame(struct svgout *w, const struct flame *f, const struct layout *L,
			const struct frame_job *t)
{
	const struct flame_options *o = &f->o;
	const struct flame_node *n = &f->nodes[t->node];
	const char *name = "all";
	size_t nlen = 3;
	if (t->node) {
		name = f->names[node_name(n)].s;
		nlen = f->names[node_name(n)].len;
	}
	size_t dlen = t->node ? display_len(name, nlen) : nlen;
	double x1 = XPAD + t->x * L->wpt, x2 = XPAD + (t->x + n->value) * L->wpt;
	double fh = o->frame_height, y1, y2;
	if (o->inverted) {
		y1 = L->base + t->depth * fh;
		y2 = y1 + fh - FRAMEPAD;
	} else {
		y2 = L->base - t->depth * fh;
		y1 = y2 - fh + FRAMEPAD;
	}
	struct strbuf *sb = &w->sb;
	strbuf_adds(sb, "<g data-x=\"");
	put_count(sb, t->x);
	strbuf_adds(sb, "\" data-w=\"");
	put_count(sb, n->value);
	strbuf_addf(sb, "\" data-d=\"%u\"><title>", t->depth);
	put_xml(sb, name, dlen);
	strbuf_adds(sb, " (");
	put_human(sb, n->value * o->factor);
	strbuf_addch(sb, ' ');
	put_xmls(sb, o->countname ? o->countname : "samples");
	if (!t->node) {
		strbuf_adds(sb, ", 100%");
	} else {
		strbuf_addf(sb, ", %.2f%%", 100 * n->value / L->total);
		if (f->differential) {
			double d = t->node < f->delta_cap ? f->delta[t->node] : 0;
			if (o->negate)
				d = -d;
			if (d == 0)
				d = 0; /* not "-0.00%" */
			strbuf_addf(sb, "; %s%.2f%%", d > 0 ? "+" : "", 100 * d / L->total);
		}
	}
	strbuf_adds(sb, ")</title>");

	struct palette_rgb c;
	if (t->node && dlen == 2 && !memcmp(name, "--", 2))
		c = (struct palette_rgb){160, 160, 160};
	else if (t->node && dlen == 1 && name[0] == '-')
		c = (struct palette_rgb){200, 200, 200};
	else if (f->differential)
		c = palette_diff_color(t->node < f->delta_cap ? f->delta[t->node] : 0, L->maxdelta,
				       o->negate);
	else
		c = palette_color(o->colors, o->hash, t->node ? name : "", t->node ? nlen : 0, t->waker);
	strbuf_addf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			"fill=\"rgb(%u,%u,%u)\" rx=\"2\" ry=\"2\"/>",
		    x1, y1, x2 - x1, y2 - y1, c.r, c.g, c.b);
	strbuf_addf(sb, "<text x=\"%.2f\" y=\"%.2f\">", x1 + 3, 3 + (y1 + y2) / 2);
	double room = (x2 - x1) / (o->fontsize * o->fontwidth);
	if (room >= 3) {
		size_t chars = room > 1e9 ? (size_t)1e9 : (size_t)room;
		if (chars >= utf8_count(name, dlen)) {
			put_xml(sb, name, dlen);
		} else {
			put_xml(sb, name, utf8_prefix(name, dlen, chars - 2));
			strbuf_adds(sb, "..");
		}
	}
	strbuf_adds(sb, "</text></g>\n");
}

int flame_write_svg(struct flame *f, FILE *out)
{
	const struct flame_options *o = &f->o;
	struct svgout w = {STRBUF_INIT, out, 0};
	struct layout L = {0};
	L.total = f->nodes[0].value;
	f->drawn = 0;
	errno = 0;
	if (f->nnodes < 2 || !(L.total > 0)) {
		write_error_svg(&w, o);
		out_flush(&w);
		if (!w.err && (fflush(out) != 0 || ferror(out)))
			w.err = errno ? -errno : -EIO;
		strbuf_release(&w.sb);
		return w.err ? w.err : KILN_ERR_EMPTY;
	}
	L.wpt = (o->width - 2 * XPAD) / L.total;
	if (o->minwidth < 0)
		L.minval = 0;
	else if (o->minwidth_percent)
		L.minval = L.total * o->minwidth / 100;
	else
		L.minval = o->minwidth / L.wpt;

	/* depths and pruning first: the height goes in the header */
	uint32_t *depth = xmalloc(f->nnodes * sizeof(*depth));
	depth[0] = 0;
	L.maxdelta = 1;
	for (size_t i = 1; i < f->nnodes; i++) {
		const struct flame_node *n = &f->nodes[i];
		depth[i] = depth[n->parent] + 1;
		if (i < f->delta_cap && fabs(f->delta[i]) > L.maxdelta)
			L.maxdelta = fabs(f->delta[i]);
		if (n->value >= L.minval && n->value > 0 && depth[i] > L.depthmax)
			L.depthmax = depth[i];
	}
	free(depth);
	double fs = o->fontsize;
	double ypad1 = fs * 3, ypad2 = fs * 2 + 10, ypad3 = o->subtitle && *o->subtitle ? fs * 2 : 0;
	L.height = (L.depthmax + 1.0) * o->frame_height + ypad1 + ypad2 + ypad3;
	L.base = o->inverted ? ypad1 + ypad3 : L.height - ypad2;
	if (!o->flamechart)
		rank_names(f);

	write_prologue(&w, f, &L);
	out_s(&w, "<g id=\"frames\">\n");

	struct frame_job *stack = NULL;
	size_t nstack = 0, stack_cap = 0;
	struct kid *kids = NULL;
	size_t kids_cap = 0;
	stack = xgrow(stack, sizeof(*stack), 1, &stack_cap);
	stack[nstack++] = (struct frame_job){0, 0, 0, false};
	while (nstack && !w.err) {
		struct frame_job t = stack[--nstack];
		write_frame(&w, f, &L, &t);
		f->drawn++;
		out_maybe_flush(&w);

		size_t nk = 0;
		for (uint32_t c = f->nodes[t.node].first_child; c != NO_NODE; c = f->nodes[c].next_sibling) {
			if (nk == kids_cap)
				kids = xgrow(kids, sizeof(*kids), nk + 1, &kids_cap);
			kids[nk].key = o->flamechart ? (uint32_t)nk : f->names[node_name(&f->nodes[c])].rank;
			kids[nk++].node = c;
		}
		if (o->flamechart) {
			for (size_t i = 0; i < nk / 2; i++) {
				struct kid tmp = kids[i];
				kids[i] = kids[nk - 1 - i];
				kids[nk - 1 - i] = tmp;
			}
		} else if (nk > 1) {
			qsort(kids, nk, sizeof(*kids), cmp_kid);
		}
		/* children after their pruned siblings' widths, pushed last to
		 * first so they are written in order */
		bool sep = t.node && f->names[node_name(&f->nodes[t.node])].len == 2 &&
			   !memcmp(f->names[node_name(&f->nodes[t.node])].s, "--", 2);
		double x = t.x;
		size_t first = nstack;
		for (size_t i = 0; i < nk; i++) {
			const struct flame_node *c = &f->nodes[kids[i].node];
			if (c->value >= L.minval && c->value > 0) {
				if (nstack == stack_cap)
					stack = xgrow(stack, sizeof(*stack), nstack + 1, &stack_cap);
				stack[nstack++] = (struct frame_job){kids[i].node, t.depth + 1, x, t.waker || sep};
			}
			x += c->value;
		}
		for (size_t i = first, j = nstack; i + 1 < j; i++, j--) {
			struct frame_job tmp = stack[i];
			stack[i] = stack[j - 1];
			stack[j - 1] = tmp;
		}
	}
	free(stack);
	free(kids);
	out_s(&w, "</g>\n</svg>\n");
	out_flush(&w);
	if (!w.err && (fflush(out) != 0 || ferror(out)))
		w.err = errno ? -errno : -EIO;
	strbuf_release(&w.sb);
	return w.err;
}
