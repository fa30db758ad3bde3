/* folddiff: differential folded stacks and self-share ranking (folddiff.h).
 * Invariant: the union is merged from both inputs' orders in one pass, so
 * output is sorted whenever the inputs are, and never needs a sort. */
#include "model/folddiff.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

void folddiff_options_init(struct folddiff_options *o)
{
	memset(o, 0, sizeof(*o));
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

void folddiff_strip_hex(const char *s, size_t len, struct strbuf *out)
{
	const char *p = s, *end = s + len;
	for (;;) {
		const char *x = NULL;
		for (const char *q = p; q + 1 < end; q++) {
			if (q[0] == '0' && q[1] == 'x') {
				x = q;
				break;
			}
		}
		if (!x)
			break;
		const char *d = x + 2;
		while (d < end && is_hex(*d))
			d++;
		strbuf_add(out, p, (size_t)(x + 2 - p));
		if (d > x + 2)
			strbuf_add(out, "...", 3);
		p = d;
	}
	strbuf_add(out, p, (size_t)(end - p));
}

void folddiff_add(struct foldtab *t, const char *stack, size_t len, uint64_t count,
		  const struct folddiff_options *o, struct strbuf *scratch)
{
	/* most stacks hold no "0x"; skip the copy for them */
	if (o && o->strip_hex && len >= 2 && memmem(stack, len, "0x", 2)) {
		strbuf_reset(scratch);
		folddiff_strip_hex(stack, len, scratch);
		foldtab_add(t, scratch->buf, scratch->len, count);
		return;
	}
	foldtab_add(t, stack, len, count);
}

uint64_t folddiff_scale(uint64_t count_a, uint64_t total_a, uint64_t total_b, bool normalize)
{
	if (!normalize || total_a == total_b || total_a == 0)
		return count_a;
	/* (a * tb) / ta in floating point, then truncated: what both
	 * difffolded.pl's int() and inferno's `as usize` compute */
	double v = (double)count_a * (double)total_b / (double)total_a;
	if (!(v > 0))
		return 0;
	if (v >= 18446744073709551615.0)
		return UINT64_MAX;
	return (uint64_t)v;
}

/* The union is a merge of A's and B's stacks, each in its input order:
 * sorted inputs (as collapsers write them) give a sorted union in one pass,
 * with no sort; other inputs give a deterministic interleaving. */
int folddiff_each(const struct foldtab *a, const struct foldtab *b,
		  const struct folddiff_options *o, folddiff_visit_fn fn, void *ctx)
{
	bool normalize = o && o->normalize;
	size_t i = 0, j = 0;
	int rc = 0;
	while (!rc) {
		/* B's stacks that A has too are written with A's */
		while (j < b->count && foldtab_find_key(a, &b->order[j]))
			j++;
		if (i == a->count && j == b->count)
			break;
		int c = i == a->count ? 1
			: j == b->count ? -1
					: foldtab_keycmp(a->order[i].key, a->order[i].len, b->order[j].key,
							 b->order[j].len);
		if (c <= 0) {
			const struct fold_key *k = &a->order[i++];
			const struct fold_entry *ea = foldtab_find_key(a, k), *eb = foldtab_find_key(b, k);
			rc = fn(ctx, k->key, k->len, folddiff_scale(ea->count, a->total, b->total, normalize),
				eb ? eb->count : 0);
		} else {
			const struct fold_key *k = &b->order[j++];
			rc = fn(ctx, k->key, k->len, 0, foldtab_find_key(b, k)->count);
		}
	}
	return rc;
}

/* Writes v in decimal at buf, returns the length (buf holds >= 20 bytes). */
static size_t format_u64(uint64_t v, char *buf)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t k = 0; k < n; k++)
		buf[k] = tmp[n - 1 - k];
	return n;
}

struct write_ctx {
	FILE *out;
	struct strbuf sb;
};

enum { WRITE_CHUNK = 1 << 16 };

static int flush_chunk(struct write_ctx *w)
{
	if (w->sb.len && fwrite(w->sb.buf, 1, w->sb.len, w->out) != w->sb.len)
		return -EIO;
	strbuf_reset(&w->sb);
	return 0;
}

static int write_line(void *ctx, const char *stack, size_t len, uint64_t ca, uint64_t cb)
{
	struct write_ctx *w = ctx;
	strbuf_grow(&w->sb, len + 43);
	char *p = w->sb.buf + w->sb.len;
	memcpy(p, stack, len);
	p += len;
	*p++ = ' ';
	p += format_u64(ca, p);
	*p++ = ' ';
	p += format_u64(cb, p);
	*p++ = '\n';
	*p = '\0';
	w->sb.len = (size_t)(p - w->sb.buf);
	return w->sb.len >= WRITE_CHUNK ? flush_chunk(w) : 0;
}

int folddiff_write(const struct foldtab *a, const struct foldtab *b,
		   const struct folddiff_options *o, FILE *out)
{
	struct write_ctx w = {out, STRBUF_INIT};
	int rc = folddiff_each(a, b, o, write_line, &w);
	if (!rc)
		rc = flush_chunk(&w);
	strbuf_release(&w.sb);
	if (!rc && ferror(out))
		rc = -EIO;
	return rc;
}

static void add_leaves(struct foldtab *leaves, const struct foldtab *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		const struct fold_entry *e = &t->slots[i];
		if (!e->key)
			continue;
		size_t start = e->len;
		while (start > 0 && e->key[start - 1] != ';')
			start--;
		foldtab_add(leaves, e->key + start, e->len - start, e->count);
	}
}

/* A row with its exact ranking key: |self_b * total_a - self_a * total_b|
 * is |delta| times the common denominator total_a * total_b. */
struct ranked {
	struct folddiff_row row;
	unsigned __int128 mag;
};

static int cmp_ranked(const void *x, const void *y)
{
	const struct ranked *p = x, *q = y;
	if (p->mag != q->mag)
		return p->mag > q->mag ? -1 : 1;
	return foldtab_keycmp(p->row.name, p->row.len, q->row.name, q->row.len);
}

int folddiff_top(const struct foldtab *a, const struct foldtab *b, size_t limit,
		 struct folddiff_top *out)
{
	memset(out, 0, sizeof(*out));
	foldtab_init(&out->leaves_a);
	foldtab_init(&out->leaves_b);
	add_leaves(&out->leaves_a, a);
	add_leaves(&out->leaves_b, b);
	uint64_t ta = out->leaves_a.total, tb = out->leaves_b.total;
	out->total_a = ta;
	out->total_b = tb;

	const struct fold_entry **la = foldtab_sorted(&out->leaves_a);
	const struct fold_entry **lb = foldtab_sorted(&out->leaves_b);
	size_t na = out->leaves_a.count, nb = out->leaves_b.count;
	struct ranked *r = xmalloc((na + nb + 1) * sizeof(*r));
	size_t n = 0, i = 0, j = 0;
	/* with an empty side every share there is 0; a unit denominator keeps
	 * the cross products ordered like the deltas */
	unsigned __int128 da = ta ? ta : 1, db = tb ? tb : 1;
	while (i < na || j < nb) {
		int c = i == na ? 1 : j == nb ? -1 : foldtab_keycmp(la[i]->key, la[i]->len, lb[j]->key, lb[j]->len);
		const struct fold_entry *e = c <= 0 ? la[i] : lb[j];
		uint64_t sa = c <= 0 ? la[i]->count : 0;
		uint64_t sb = c >= 0 ? lb[j]->count : 0;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
		if (!sa && !sb)
			continue;
		struct ranked *k = &r[n++];
		k->row.name = e->key;
		k->row.len = e->len;
		k->row.self_a = sa;
		k->row.self_b = sb;
		k->row.pct_a = ta ? 100.0 * (double)sa / (double)ta : 0;
		k->row.pct_b = tb ? 100.0 * (double)sb / (double)tb : 0;
		k->row.delta = k->row.pct_b - k->row.pct_a;
		unsigned __int128 x = (unsigned __int128)sb * da, y = (unsigned __int128)sa * db;
		k->mag = x > y ? x - y : y - x;
	}
	free(la);
	free(lb);
	qsort(r, n, sizeof(*r), cmp_ranked);
	if (limit && n > limit)
		n = limit;
	out->rows = xmalloc((n ? n : 1) * sizeof(*out->rows));
	for (size_t k = 0; k < n; k++)
		out->rows[k] = r[k].row;
	out->n = n;
	free(r);
	return 0;
}

void folddiff_top_release(struct folddiff_top *t)
{
	if (!t)
		return;
	free(t->rows);
	foldtab_release(&t->leaves_a);
	foldtab_release(&t->leaves_b);
	memset(t, 0, sizeof(*t));
}
