/* diffhtml: kiln diff's page for two results folders (see diffhtml.h).
 * Invariant: every figure is one runcompare row or one share row, so the
 * page and kiln diff's text output always agree. */
#include "render/diffhtml.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "render/htmlpage.h"
#include "render/humanize.h"
#include "render/runcompare.h"

static void run_facts(struct strbuf *sb, const char *term, const char *label, const struct runsummary *s)
{
	strbuf_adds(sb, "<dt>");
	htmlpage_text(sb, term);
	strbuf_adds(sb, "</dt><dd><code>");
	htmlpage_text(sb, label);
	strbuf_adds(sb, "</code>");
	if (s->argc) {
		strbuf_adds(sb, ": <code>");
		for (size_t i = 0; i < s->argc; i++) {
			if (i)
				strbuf_addch(sb, ' ');
			htmlpage_text(sb, s->argv[i]);
		}
		strbuf_adds(sb, "</code>");
	}
	if (s->started && *s->started) {
		strbuf_adds(sb, ", started ");
		htmlpage_text(sb, s->started);
	}
	strbuf_adds(sb, "</dd>\n");
}

static const struct runcompare_row *find_row(const struct runcompare_row *rows, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].what, what) && rows[i].has_a && rows[i].has_b)
			return &rows[i];
	return NULL;
}

/* Every figure compared is a cost: more is worse. */
static const char *tone_of(double delta)
{
	return delta > 0 ? "bad" : delta < 0 ? "good" : NULL;
}

static void change_card(struct strbuf *sb, const struct runcompare_row *r, const char *label)
{
	char d[HUMANIZE_MAX], a[HUMANIZE_MAX], b[HUMANIZE_MAX];
	struct strbuf detail = STRBUF_INIT;
	strbuf_addf(&detail, "%s -> %s", runcompare_value(r, r->a, a, sizeof(a)), runcompare_value(r, r->b, b, sizeof(b)));
	htmlpage_card(sb, label, runcompare_delta(r, d, sizeof(d)), detail.buf, tone_of(r->b - r->a));
	strbuf_release(&detail);
}

static void cards(struct strbuf *sb, const struct diffhtml *in, const struct runcompare_row *rows, size_t n)
{
	strbuf_adds(sb, "<section id=\"summary\" class=\"cards\">\n");
	if (in->nshares) {
		const struct folddiff_row *t = &in->shares[0];
		char v[HUMANIZE_MAX];
		struct strbuf detail = STRBUF_INIT;
		snprintf(v, sizeof(v), "%+.1f pts", t->delta);
		strbuf_adds(&detail, t->name);
		strbuf_addf(&detail, ": %.1f%% -> %.1f%% self", t->pct_a, t->pct_b);
		htmlpage_card(sb, "Biggest CPU shift", v, detail.buf, NULL); /* a share moved: neither good nor bad */
		strbuf_release(&detail);
	}
	static const char *const headline[][2] = {
		{"CPU time", "CPU time"}, {"heap peak", "Heap peak"}, {"definitely lost", "Definitely lost"},
		{"peak RSS", "Peak RSS"}, {"allocation rate", "Allocation rate"},
	};
	for (size_t i = 0; i < sizeof(headline) / sizeof(headline[0]); i++) {
		const struct runcompare_row *r = find_row(rows, n, headline[i][0]);
		if (r)
			change_card(sb, r, headline[i][1]);
	}
	strbuf_adds(sb, "</section>\n");
}

static void metrics_table(struct strbuf *sb, const struct runcompare_row *rows, size_t n)
{
	strbuf_adds(sb, "<section id=\"figures\">\n<h2>Figures</h2>\n");
	htmlpage_table_begin(sb, "metrics", "Figure|#Before|#After|#Change|#Relative");
	for (size_t i = 0; i < n; i++) {
		const struct runcompare_row *r = &rows[i];
		char a[HUMANIZE_MAX], b[HUMANIZE_MAX], d[HUMANIZE_MAX], c[HUMANIZE_MAX];
		strbuf_adds(sb, "<tr><td>");
		htmlpage_text(sb, r->what);
		strbuf_adds(sb, "</td>");
		htmlpage_td_num(sb, r->has_a ? runcompare_value(r, r->a, a, sizeof(a)) : "not measured");
		htmlpage_td_num(sb, r->has_b ? runcompare_value(r, r->b, b, sizeof(b)) : "not measured");
		const char *cls = !(r->has_a && r->has_b) || r->b == r->a ? "num" : r->b > r->a ? "num up" : "num down";
		strbuf_addf(sb, "<td class=\"%s\">", cls);
		htmlpage_text(sb, runcompare_delta(r, d, sizeof(d)));
		strbuf_addf(sb, "</td><td class=\"%s\">", cls);
		htmlpage_text(sb, runcompare_change(r, c, sizeof(c)));
		strbuf_adds(sb, "</td></tr>\n");
	}
	htmlpage_table_end(sb);
	strbuf_adds(sb, "</section>\n");
}

static void shares_table(struct strbuf *sb, const struct diffhtml *in)
{
	strbuf_adds(sb, "<section id=\"functions\">\n<h2>Functions whose share changed most</h2>\n<p class=\"hint\">");
	strbuf_adds(sb, in->shares_from_profiles
				? "Self share: the part of each profile's samples in which the function is the leaf "
				  "frame; the change is in percentage points."
				: "From the summaries' top functions (a CPU profile was missing): a function outside one "
				  "run's top list counts 0 there.");
	strbuf_adds(sb, "</p>\n");
	if (!in->nshares) {
		htmlpage_note(sb, "neither run has CPU samples to compare.");
		strbuf_adds(sb, "</section>\n");
		return;
	}
	htmlpage_table_begin(sb, "shares", "Function|#Before|#After|#Change");
	for (size_t i = 0; i < in->nshares; i++) {
		const struct folddiff_row *r = &in->shares[i];
		char a[HUMANIZE_MAX], b[HUMANIZE_MAX], d[HUMANIZE_MAX];
		snprintf(a, sizeof(a), "%.2f%%", r->pct_a);
		snprintf(b, sizeof(b), "%.2f%%", r->pct_b);
		snprintf(d, sizeof(d), "%+.2f", r->delta);
		if (!strcmp(d, "-0.00"))
			d[0] = '+';
		strbuf_adds(sb, "<tr>");
		htmlpage_td_name(sb, r->name);
		htmlpage_td_num(sb, a);
		htmlpage_td_num(sb, b);
		strbuf_addf(sb, "<td class=\"num bar %s\" style=\"--w:%.1f%%\">", r->delta > 0 ? "up" : r->delta < 0 ? "down" : "",
			    fmin(100, fabs(r->delta)));
		htmlpage_text(sb, d);
		strbuf_adds(sb, "</td></tr>\n");
	}
	htmlpage_table_end(sb);
	strbuf_adds(sb, "</section>\n");
}

void diffhtml_build(const struct diffhtml *in, struct strbuf *sb)
{
	struct runcompare_row rows[RUNCOMPARE_MAX];
	size_t n = runcompare_metrics(in->a, in->b, rows);
	struct strbuf title = STRBUF_INIT;
	strbuf_addf(&title, "kiln diff: %s vs %s", in->label_a, in->label_b);
	htmlpage_begin(sb, title.buf);
	strbuf_release(&title);
	strbuf_adds(sb, "<header class=\"run\">\n<div class=\"brand\">kiln diff</div>\n<h1>");
	htmlpage_text(sb, in->label_a);
	strbuf_adds(sb, " &rarr; ");
	htmlpage_text(sb, in->label_b);
	strbuf_adds(sb, "</h1>\n<dl class=\"facts\">\n");
	run_facts(sb, "Before", in->label_a, in->a);
	run_facts(sb, "After", in->label_b, in->b);
	strbuf_adds(sb, "</dl>\n</header>\n");
	cards(sb, in, rows, n);
	metrics_table(sb, rows, n);
	strbuf_adds(sb, "<section id=\"flame\">\n<h2>Differential flamegraph</h2>\n<p class=\"hint\">The after profile, "
			"coloured by the change: frames that grew are red, frames that shrank are blue. Hover for the "
			"counts, click to zoom.</p>\n");
	if (in->svg)
		htmlpage_flame(sb, in->svg, in->svg_len, "differential flamegraph");
	else
		htmlpage_note(sb, "%s", in->svg_note ? in->svg_note : "no differential flamegraph.");
	strbuf_adds(sb, "</section>\n");
	shares_table(sb, in);
	htmlpage_end(sb);
}
