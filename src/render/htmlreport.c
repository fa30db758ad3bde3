/* htmlreport: index.html of a results folder (see htmlreport.h). The page is
 * built in memory, section by section, from the summary and the files it
 * names, then written in one go.
 * Invariant: each section is drawn only when the summary has it, and a
 * missing or unreadable file becomes a note in its section. */
#include "render/htmlreport.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/strbuf.h"
#include "render/htmlpage.h"
#include "render/humanize.h"

/* leaks.txt is shown up to this size; the link has the rest */
#define LEAKS_SHOWN (256u << 10)

static bool present(const char *s)
{
	return s && *s;
}

/* Appends argv as a shell would read it: words with anything but
 * [A-Za-z0-9_./=:,+@%-] single-quoted. */
static void add_command(struct strbuf *sb, char *const *argv, size_t argc)
{
	for (size_t i = 0; i < argc; i++) {
		const char *a = argv[i] ? argv[i] : "";
		bool plain = *a != '\0';
		for (const char *c = a; *c && plain; c++)
			plain = strchr("_./=:,+@%-", *c) || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
				(*c >= '0' && *c <= '9');
		if (i)
			strbuf_addch(sb, ' ');
		if (plain) {
			strbuf_adds(sb, a);
			continue;
		}
		strbuf_addch(sb, '\'');
		for (const char *c = a; *c; c++) {
			if (*c == '\'')
				strbuf_adds(sb, "'\\''");
			else
				strbuf_addch(sb, *c);
		}
		strbuf_addch(sb, '\'');
	}
}

static void fact(struct strbuf *sb, const char *term, const char *value)
{
	strbuf_adds(sb, "<dt>");
	htmlpage_text(sb, term);
	strbuf_adds(sb, "</dt><dd>");
	htmlpage_text(sb, value);
	strbuf_adds(sb, "</dd>\n");
}

static void header(struct strbuf *sb, const struct runsummary *s)
{
	struct strbuf cmd = STRBUF_INIT, v = STRBUF_INIT;
	char b[HUMANIZE_MAX];
	add_command(&cmd, s->argv, s->argc);
	strbuf_adds(sb, "<header class=\"run\">\n<div class=\"brand\">kiln results");
	if (present(s->name)) {
		strbuf_adds(sb, ": ");
		htmlpage_text(sb, s->name);
	}
	strbuf_adds(sb, "</div>\n<h1><code>");
	htmlpage_text(sb, cmd.len ? cmd.buf : "(command unknown)");
	strbuf_adds(sb, "</code></h1>\n<dl class=\"facts\">\n");
	if (present(s->started))
		fact(sb, "Started", s->started);
	fact(sb, "Duration", humanize_duration(s->duration_s, b, sizeof(b)));
	strbuf_adds(&v, present(s->target_end) ? s->target_end : "unknown");
	if (present(s->stopped_by))
		strbuf_addf(&v, " (stopped by kiln with %s)", s->stopped_by);
	fact(sb, "Ended", v.buf);
	if (present(s->load_command)) {
		strbuf_reset(&v);
		strbuf_addf(&v, "%s (", s->load_command);
		if (s->load_exit >= 0)
			strbuf_addf(&v, "exited %d", s->load_exit);
		else
			strbuf_adds(&v, "no exit status: stopped at the run's end");
		strbuf_addf(&v, ", ran %s)", humanize_duration(s->load_s, b, sizeof(b)));
		fact(sb, "Load", v.buf);
	}
	strbuf_adds(sb, "</dl>\n</header>\n");
	strbuf_release(&cmd);
	strbuf_release(&v);
}

static void cards(struct strbuf *sb, const struct runsummary *s)
{
	struct strbuf detail = STRBUF_INIT;
	char b[HUMANIZE_MAX], c[HUMANIZE_MAX];
	strbuf_adds(sb, "<section id=\"summary\" class=\"cards\">\n");
	if (s->has_checks) {
		strbuf_addf(&detail, "%zu budget%s checked", s->checks.n, s->checks.n == 1 ? "" : "s");
		htmlpage_card(sb, "Budgets", s->checks.passed ? "passed" : "failed", detail.buf,
			      s->checks.passed ? "good" : "bad");
	}
	if (s->has_cpu) {
		strbuf_reset(&detail);
		if (s->cpu.ntop)
			strbuf_addf(&detail, "top: %s, %s self", s->cpu.top[0].name ? s->cpu.top[0].name : "?",
				    humanize_pct(s->cpu.top[0].self_pct, c, sizeof(c)));
		htmlpage_card(sb, "CPU samples", humanize_count(s->cpu.samples, b, sizeof(b)), detail.buf, NULL);
	}
	if (s->has_offcpu) {
		strbuf_reset(&detail);
		strbuf_addf(&detail, "%s blocked; locks %s", humanize_duration(s->offcpu.wait_s, c, sizeof(c)),
			    humanize_pct(s->offcpu.lock_wait_pct, b, sizeof(b)));
		htmlpage_card(sb, "Off-CPU", humanize_pct(s->offcpu.wait_pct, b, sizeof(b)), detail.buf, NULL);
	}
	if (s->has_heap) {
		strbuf_reset(&detail);
		strbuf_addf(&detail, "at %s", humanize_duration(s->heap.peak_t, c, sizeof(c)));
		htmlpage_card(sb, "Heap peak", humanize_bytes((double)s->heap.peak_bytes, b, sizeof(b)),
			      detail.buf, NULL);
		const struct runsummary_leaks *l = &s->heap.leaks;
		strbuf_reset(&detail);
		strbuf_addf(&detail, "in %s block%s", humanize_count(l->definite_blocks, c, sizeof(c)),
			    l->definite_blocks == 1 ? "" : "s");
		htmlpage_card(sb, "Definitely lost", humanize_bytes((double)l->definite_bytes, b, sizeof(b)),
			      detail.buf, l->definite_bytes ? "bad" : "good");
	}
	uint64_t rss = s->has_mem && s->mem.peak_rss ? s->mem.peak_rss : s->has_heap ? s->heap.peak_rss : 0;
	if (rss) {
		strbuf_reset(&detail);
		if (s->has_mem && s->mem.peak_rss)
			strbuf_addf(&detail, "at %s; %s at the end", humanize_duration(s->mem.peak_t, c, sizeof(c)),
				    humanize_bytes((double)s->mem.final_rss, b, sizeof(b)));
		htmlpage_card(sb, "Peak RSS", humanize_bytes((double)rss, b, sizeof(b)), detail.buf, NULL);
	}
	if (s->has_mem) {
		const char *verdict = present(s->mem.verdict) ? s->mem.verdict : "no verdict";
		const char *tone = strstr(verdict, "leak") ? "bad" : strstr(verdict, "stable") ? "good" : "warn";
		strbuf_reset(&detail);
		strbuf_addf(&detail, "RSS %+.1f MB/hour (least squares)", s->mem.growth_mb_per_hour);
		htmlpage_card(sb, "Memory growth", verdict, detail.buf, tone);
	}
	strbuf_adds(sb, "</section>\n");
	strbuf_release(&detail);
}

static void checks_section(struct strbuf *sb, const struct runsummary *s)
{
	strbuf_adds(sb, "<section id=\"checks\">\n<h2>Budgets</h2>\n");
	if (present(s->checks.checked_at)) {
		strbuf_adds(sb, "<p class=\"hint\">Checked by kiln check at ");
		htmlpage_text(sb, s->checks.checked_at);
		strbuf_adds(sb, s->checks.passed ? ": every budget held.</p>\n" : ": a budget was breached.</p>\n");
	}
	htmlpage_table_begin(sb, "verdicts", "Budget|Limit|Measured|Verdict");
	for (size_t i = 0; i < s->checks.n; i++) {
		const struct runsummary_check *k = &s->checks.items[i];
		const char *v = present(k->verdict) ? k->verdict : "skip";
		const char *cls = !strcmp(v, "pass") ? "pass" : !strcmp(v, "fail") ? "fail" : "skip";
		strbuf_adds(sb, "<tr>");
		htmlpage_td_name(sb, k->budget);
		strbuf_adds(sb, "<td>");
		htmlpage_text(sb, k->limit);
		strbuf_adds(sb, "</td><td>");
		htmlpage_text(sb, k->measured);
		strbuf_addf(sb, "</td><td><span class=\"verdict %s\">", cls);
		htmlpage_text(sb, v);
		strbuf_adds(sb, "</span></td></tr>\n");
	}
	htmlpage_table_end(sb);
	strbuf_adds(sb, "</section>\n");
}

/* A note for a file that cannot be shown, in the words of its error. */
static void file_note(struct strbuf *sb, const char *name, int rc, const char *what)
{
	if (rc == KILN_ERR_TOO_BIG)
		htmlpage_note(sb, "%s is too big to embed; the %s is in the folder's files below.", name, what);
	else if (rc == KILN_ERR_FORMAT)
		htmlpage_note(sb, "the summary names '%s', which is not a file of this folder; the %s is not shown.",
			      name, what);
	else if (rc == -ENOENT)
		htmlpage_note(sb, "%s is missing from this folder; the %s is not shown.", name, what);
	else
		htmlpage_note(sb, "%s cannot be read (%s); the %s is not shown.", name, kiln_strerror(rc), what);
}

/* Embeds DIR/NAME as a flamegraph (interactive) or chart; a note if not. */
static void embed_svg(struct strbuf *sb, const char *dir, const char *name, const char *what, bool flame,
		      const char *caption)
{
	if (!present(name)) {
		htmlpage_note(sb, "this run wrote no %s.", what);
		return;
	}
	char *svg = NULL;
	size_t len = 0;
	int rc = htmlpage_read_file(dir, name, HTMLPAGE_MAX_EMBED, &svg, &len);
	if (rc) {
		file_note(sb, name, rc, what);
		return;
	}
	if (flame)
		htmlpage_flame(sb, svg, len, what);
	else
		htmlpage_image(sb, svg, len, what, caption);
	free(svg);
}

static void func_table(struct strbuf *sb, const char *id, const struct runsummary_func *top, size_t n,
		       const char *time_title)
{
	if (!n) {
		htmlpage_note(sb, "the summary lists no functions.");
		return;
	}
	struct strbuf cols = STRBUF_INIT;
	strbuf_addf(&cols, "Function|#Self|#Total|#%s", time_title);
	htmlpage_table_begin(sb, id, cols.buf);
	for (size_t i = 0; i < n; i++) {
		char a[HUMANIZE_MAX], b[HUMANIZE_MAX], c[HUMANIZE_MAX];
		strbuf_adds(sb, "<tr>");
		htmlpage_td_name(sb, top[i].name);
		htmlpage_td_bar(sb, humanize_pct(top[i].self_pct, a, sizeof(a)), top[i].self_pct);
		htmlpage_td_num(sb, humanize_pct(top[i].total_pct, b, sizeof(b)));
		htmlpage_td_num(sb, humanize_duration(top[i].self_s, c, sizeof(c)));
		strbuf_adds(sb, "</tr>\n");
	}
	htmlpage_table_end(sb);
	strbuf_release(&cols);
}

/* What differs between the CPU and off-CPU sections. */
struct profile_part {
	const char *id, *title, *flame_what, *table_title, *table_id, *time_title;
};

static const struct profile_part cpu_part = {"cpu", "CPU", "CPU flamegraph", "Top functions", "top-functions",
					     "Self time"};
static const struct profile_part offcpu_part = {"offcpu", "Off-CPU", "off-CPU flamegraph", "Top blocking functions",
						"top-offcpu", "Blocked"};

/* A profile's section: its hint, its flamegraph, its top functions. */
static void profile_section(struct strbuf *sb, const char *dir, const struct profile_part *p, const char *hint,
			    const char *flame, const struct runsummary_func *top, size_t ntop)
{
	strbuf_addf(sb, "<section id=\"%s\">\n<h2>%s</h2>\n<p class=\"hint\">", p->id, p->title);
	htmlpage_text(sb, hint);
	strbuf_adds(sb, "</p>\n");
	embed_svg(sb, dir, flame, p->flame_what, true, NULL);
	strbuf_addf(sb, "<h3>%s</h3>\n", p->table_title);
	func_table(sb, p->table_id, top, ntop, p->time_title);
	strbuf_adds(sb, "</section>\n");
}

static void cpu_section(struct strbuf *sb, const struct runsummary *s, const char *dir)
{
	char a[HUMANIZE_MAX], b[HUMANIZE_MAX];
	struct strbuf hint = STRBUF_INIT;
	strbuf_addf(&hint, "%s samples at %.0f Hz, %s on CPU (all threads). Hover a frame for details, click to zoom, "
			   "Search (or Ctrl-F) to highlight a regular expression.",
		    humanize_count(s->cpu.samples, a, sizeof(a)), s->cpu.frequency_hz,
		    humanize_duration(s->cpu.cpu_s, b, sizeof(b)));
	profile_section(sb, dir, &cpu_part, hint.buf, s->cpu.flame, s->cpu.top, s->cpu.ntop);
	strbuf_release(&hint);
}

static void offcpu_section(struct strbuf *sb, const struct runsummary *s, const char *dir)
{
	char a[HUMANIZE_MAX], b[HUMANIZE_MAX], c[HUMANIZE_MAX], d[HUMANIZE_MAX];
	struct strbuf hint = STRBUF_INIT;
	strbuf_addf(&hint, "%s blocked (%s of the threads' time), %s of it in locks (%s).",
		    humanize_duration(s->offcpu.wait_s, a, sizeof(a)), humanize_pct(s->offcpu.wait_pct, b, sizeof(b)),
		    humanize_duration(s->offcpu.lock_wait_s, c, sizeof(c)),
		    humanize_pct(s->offcpu.lock_wait_pct, d, sizeof(d)));
	profile_section(sb, dir, &offcpu_part, hint.buf, s->offcpu.flame, s->offcpu.top, s->offcpu.ntop);
	strbuf_release(&hint);
}

static void leak_line(struct strbuf *sb, const char *kind, uint64_t bytes, uint64_t blocks)
{
	char a[HUMANIZE_MAX], b[HUMANIZE_MAX];
	strbuf_addf(sb, "%18s: %s bytes in %s blocks\n", kind, humanize_count(bytes, a, sizeof(a)),
		    humanize_count(blocks, b, sizeof(b)));
}

static void leaks_part(struct strbuf *sb, const struct runsummary *s, const char *dir)
{
	const struct runsummary_leaks *l = &s->heap.leaks;
	strbuf_adds(sb, "<h3 id=\"leaks\">Leaks</h3>\n<pre class=\"leaks\" id=\"leak-summary\">LEAK SUMMARY:\n");
	leak_line(sb, "definitely lost", l->definite_bytes, l->definite_blocks);
	leak_line(sb, "indirectly lost", l->indirect_bytes, l->indirect_blocks);
	leak_line(sb, "possibly lost", l->possible_bytes, l->possible_blocks);
	leak_line(sb, "still reachable", l->reachable_bytes, l->reachable_blocks);
	strbuf_adds(sb, "</pre>\n");
	if (!present(s->heap.leaks_file))
		return;
	char *text = NULL;
	size_t len = 0;
	int rc = htmlpage_read_file(dir, s->heap.leaks_file, SIZE_MAX / 2, &text, &len);
	if (rc) {
		file_note(sb, s->heap.leaks_file, rc, "leak report");
		return;
	}
	strbuf_adds(sb, "<details><summary>The leak report, with every leak's stack (");
	htmlpage_text(sb, s->heap.leaks_file);
	strbuf_adds(sb, ")</summary>\n<pre class=\"leaks\">");
	strbuf_add_xml(sb, text, len > LEAKS_SHOWN ? LEAKS_SHOWN : len);
	if (len > LEAKS_SHOWN)
		strbuf_adds(sb, "\n[... the rest is in the file]");
	strbuf_adds(sb, "</pre></details>\n");
	free(text);
}

static void heap_section(struct strbuf *sb, const struct runsummary *s, const char *dir)
{
	char a[HUMANIZE_MAX], b[HUMANIZE_MAX];
	struct strbuf v = STRBUF_INIT;
	strbuf_adds(sb, "<section id=\"heap\">\n<h2>Heap</h2>\n<dl class=\"facts\">\n");
	strbuf_addf(&v, "%s (%s)", humanize_count(s->heap.allocations, a, sizeof(a)),
		    humanize_bytes((double)s->heap.allocated_bytes, b, sizeof(b)));
	fact(sb, "Allocations", v.buf);
	strbuf_reset(&v);
	strbuf_addf(&v, "%s/s", humanize_bytes(s->heap.alloc_rate_bps, a, sizeof(a)));
	fact(sb, "Allocation rate", v.buf);
	strbuf_reset(&v);
	strbuf_addf(&v, "%s at %s", humanize_bytes((double)s->heap.peak_bytes, a, sizeof(a)),
		    humanize_duration(s->heap.peak_t, b, sizeof(b)));
	fact(sb, "Peak", v.buf);
	fact(sb, "Live at exit", humanize_bytes((double)s->heap.final_bytes, a, sizeof(a)));
	strbuf_reset(&v);
	strbuf_addf(&v, "%s/hour (least squares)", humanize_bytes(s->heap.growth_bph, a, sizeof(a)));
	fact(sb, "Trend", v.buf);
	if (s->heap.peak_rss)
		fact(sb, "Peak RSS", humanize_bytes((double)s->heap.peak_rss, a, sizeof(a)));
	if (s->heap.frag_pct >= 0) {
		strbuf_reset(&v);
		strbuf_addf(&v, "%s of RSS is not live heap at the peak", humanize_pct(s->heap.frag_pct, a, sizeof(a)));
		fact(sb, "Fragmentation", v.buf);
	}
	fact(sb, "Temporary allocations", humanize_count(s->heap.temporary, a, sizeof(a)));
	strbuf_adds(sb, "</dl>\n");
	embed_svg(sb, dir, s->heap.chart, "heap timeline", false,
		  "Live heap over time; the peak is the highest point.");
	strbuf_adds(sb, "<h3>Top allocation sites</h3>\n");
	if (!s->heap.ntop) {
		htmlpage_note(sb, "the summary lists no allocation sites.");
	} else {
		htmlpage_table_begin(sb, "top-sites", "Site|#Allocated|#Count|#At peak|#Leaked");
		double total = (double)s->heap.allocated_bytes;
		for (size_t i = 0; i < s->heap.ntop; i++) {
			const struct runsummary_site *t = &s->heap.top[i];
			char c[HUMANIZE_MAX], d[HUMANIZE_MAX];
			strbuf_adds(sb, "<tr>");
			htmlpage_td_name(sb, t->name);
			htmlpage_td_bar(sb, humanize_bytes((double)t->bytes, a, sizeof(a)),
					total > 0 ? 100.0 * (double)t->bytes / total : 0);
			htmlpage_td_num(sb, humanize_count(t->count, b, sizeof(b)));
			htmlpage_td_num(sb, humanize_bytes((double)t->peak_bytes, c, sizeof(c)));
			htmlpage_td_num(sb, t->leaked_bytes ? humanize_bytes((double)t->leaked_bytes, d, sizeof(d)) : "");
			strbuf_adds(sb, "</tr>\n");
		}
		htmlpage_table_end(sb);
	}
	leaks_part(sb, s, dir);
	strbuf_adds(sb, "</section>\n");
	strbuf_release(&v);
}

static void mem_section(struct strbuf *sb, const struct runsummary *s, const char *dir)
{
	char a[HUMANIZE_MAX], b[HUMANIZE_MAX];
	struct strbuf v = STRBUF_INIT;
	strbuf_adds(sb, "<section id=\"memory\">\n<h2>Memory over time</h2>\n<dl class=\"facts\">\n");
	strbuf_addf(&v, "%s at %s", humanize_bytes((double)s->mem.peak_rss, a, sizeof(a)),
		    humanize_duration(s->mem.peak_t, b, sizeof(b)));
	fact(sb, "Peak RSS", v.buf);
	fact(sb, "RSS at the end", humanize_bytes((double)s->mem.final_rss, a, sizeof(a)));
	strbuf_reset(&v);
	strbuf_addf(&v, "%+.1f MB/hour (RSS, least squares)", s->mem.growth_mb_per_hour);
	fact(sb, "Growth", v.buf);
	if (present(s->mem.verdict))
		fact(sb, "Verdict (heuristic)", s->mem.verdict);
	strbuf_reset(&v);
	strbuf_addf(&v, "%zu, every %s", s->mem.samples, humanize_duration(s->mem.interval_s, a, sizeof(a)));
	fact(sb, "Samples", v.buf);
	strbuf_adds(sb, "</dl>\n");
	embed_svg(sb, dir, s->mem.chart, "memory chart", false, "RSS, anonymous memory and heap over time.");
	strbuf_adds(sb, "</section>\n");
	strbuf_release(&v);
}

/* Adds name to the list unless it is absent, already there, or not a file
 * of dir. */
static void add_file(struct strbuf *sb, const char *dir, const char *name, const char **seen, size_t *nseen)
{
	if (!present(name) || name[0] == '.' || strchr(name, '/'))
		return;
	for (size_t i = 0; i < *nseen; i++)
		if (!strcmp(seen[i], name))
			return;
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/%s", dir, name);
	struct stat st;
	int rc = stat(path.buf, &st);
	strbuf_release(&path);
	if (rc || !S_ISREG(st.st_mode))
		return;
	seen[(*nseen)++] = name;
	char b[HUMANIZE_MAX];
	strbuf_adds(sb, "<li><a href=\"");
	htmlpage_urlpath(sb, name);
	strbuf_adds(sb, "\">");
	htmlpage_text(sb, name);
	strbuf_adds(sb, "</a> <span class=\"hint\">");
	htmlpage_text(sb, humanize_bytes((double)st.st_size, b, sizeof(b)));
	strbuf_adds(sb, "</span></li>\n");
}

static void files_section(struct strbuf *sb, const struct runsummary *s, const char *dir)
{
	const char *names[] = {
		RUNSUMMARY_FILE, s->cpu.profile, s->cpu.flame, s->cpu.report, s->offcpu.profile, s->offcpu.flame,
		s->heap.trace, s->heap.profile, s->heap.chart, s->heap.leaks_file, s->mem.csv, s->mem.chart,
		"target.log", "load.log",
	};
	const char *seen[sizeof(names) / sizeof(names[0])];
	size_t nseen = 0;
	strbuf_adds(sb, "<section id=\"files\">\n<h2>Files</h2>\n<p class=\"hint\">The raw results, next to this page: "
			"pprof profiles open in <code>go tool pprof</code> and <code>kiln report</code>, the heap "
			"trace in <code>kiln heap report</code>.</p>\n<ul class=\"files\">\n");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		add_file(sb, dir, names[i], seen, &nseen);
	strbuf_adds(sb, "</ul>\n</section>\n");
}

/* The whole page for s, appended to sb. */
static void build_page(struct strbuf *sb, const struct runsummary *s, const char *dir)
{
	struct strbuf title = STRBUF_INIT;
	strbuf_addf(&title, "kiln: %s", present(s->name) ? s->name : "results");
	htmlpage_begin(sb, title.buf);
	strbuf_release(&title);
	header(sb, s);
	cards(sb, s);
	if (s->has_checks)
		checks_section(sb, s);
	if (s->has_cpu)
		cpu_section(sb, s, dir);
	if (s->has_offcpu)
		offcpu_section(sb, s, dir);
	if (s->has_heap)
		heap_section(sb, s, dir);
	if (s->has_mem)
		mem_section(sb, s, dir);
	if (!s->has_cpu && !s->has_offcpu && !s->has_heap && !s->has_mem)
		htmlpage_note(sb, "this run recorded no profile: the summary has no CPU, heap or memory section.");
	files_section(sb, s, dir);
	htmlpage_end(sb);
}

int htmlreport_write(const struct runsummary *s, const char *dir, FILE *out, struct diag *d)
{
	struct strbuf sb = STRBUF_INIT;
	build_page(&sb, s, dir);
	int rc = htmlpage_flush(&sb, out);
	if (rc)
		diag_set(d, rc, 0, "cannot write the page: %s", kiln_strerror(rc));
	strbuf_release(&sb);
	return rc;
}

int htmlreport_write_dir(const char *dir, struct diag *d)
{
	struct runsummary s;
	int rc = runsummary_read(dir, &s, d);
	if (rc)
		return rc;
	struct strbuf sb = STRBUF_INIT;
	build_page(&sb, &s, dir);
	rc = htmlpage_write_file(dir, HTMLREPORT_FILE, &sb);
	if (rc)
		diag_set(d, rc, 0, "cannot write %s/%s: %s", dir, HTMLREPORT_FILE, kiln_strerror(rc));
	strbuf_release(&sb);
	runsummary_release(&s);
	return rc;
}
